"""`release diff A B`: every published figure that changed between two releases, and why.

A figure is one (metric, partnership, dimension, category); it changed when its value, its flag
or its base differs, or when it exists in one release only. The reasons are read from what the
two releases record, for the figure's own partnership (every partnership for 'all'):
- the as-at date moved (records dated in between come in);
- late files: a file in B but not A that holds records dated on or before A's as-at date;
- new files holding only later records; files removed;
- corrections: a file in both whose content hash changed;
- rules: the disclosure rules changed; code: the metric code version changed;
- disclosure control: a partnership's figures depend on its own data only (`compute.py`), but its
  *published* cells do not: secondary suppression runs across partnerships and the 'all' row, so a
  late file of another partnership can suppress (or release) a cell whose exact value did not
  move. Such a change, with no file, date, rule or code reason of its own, is named as disclosure
  control and with the partnerships whose files caused it (docs/metrics.md);
- with none of these, the same files gave different figures: an erasure or a re-processing of
  the same files (see `erasure_log`).
"""

from __future__ import annotations

import json

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import Connection

from amed_pipeline.metrics.catalogue import ALL_PARTNERSHIPS
from amed_pipeline.metrics.disclosure import SUPPRESSED
from amed_pipeline.releases.build import resolve, stored_figures, stored_inputs

KEY = ["metric_id", "partnership_id", "dimension", "dimension_value"]
COMPARED = ["value", "observation_status", "base_n"]

_EARLIEST = """
SELECT source_file, MIN(dated) AS earliest FROM (
    SELECT b.source_file, s.start_at AS dated FROM fact_booking b JOIN dim_session s ON s.session_key = b.session_key
    UNION ALL SELECT source_file, start_at FROM dim_session
    UNION ALL SELECT source_file, submitted_at FROM fact_feedback
    UNION ALL SELECT source_file, submitted_at FROM fact_followup
) dated GROUP BY source_file
"""


def _same(a, b) -> bool:
    if (a is None or pd.isna(a)) and (b is None or pd.isna(b)):
        return True
    if a is None or b is None or pd.isna(a) or pd.isna(b):
        return False
    try:
        return abs(float(a) - float(b)) < 1e-12
    except (TypeError, ValueError):
        return str(a) == str(b)


def _suppressed(status) -> bool:
    return isinstance(status, str) and SUPPRESSED in status


def disclosure_reason(row: pd.Series, files: pd.DataFrame) -> str | None:
    """Why a figure with no reason of its own changed, when disclosure control explains it (pure).

    Only a change of suppression can come from another partnership's data: the cell is suppressed
    on one side and not on the other (the exact value behind it did not move). A shown value that
    changed is not explained this way, and None is returned.
    """
    if files.empty or _suppressed(row["observation_status_a"]) == _suppressed(row["observation_status_b"]):
        return None
    causes = sorted(set(files["partnership_id"].dropna()) - {row["partnership_id"]})
    if not causes:
        return None
    became = "suppressed" if _suppressed(row["observation_status_b"]) else "no longer suppressed"
    return (
        f"disclosure control: {became} (suppression pattern changed because of "
        f"{', '.join(causes)}'s files: secondary suppression across partnerships and the programme total)"
    )


def file_reasons(conn: Connection, a: pd.Series, b: pd.Series) -> pd.DataFrame:
    """One row per file that differs between the releases: partnership, file, kind, reason."""
    inputs_a, inputs_b = stored_inputs(conn, a["release_id"]), stored_inputs(conn, b["release_id"])
    earliest = dict(conn.execute(sa.text(_EARLIEST)).all())
    merged = inputs_a.merge(inputs_b, on="source_file", how="outer", suffixes=("_a", "_b"))
    rows = []
    for _, f in merged.iterrows():
        partnership = f["partnership_id_b"] if isinstance(f["partnership_id_b"], str) else f["partnership_id_a"]
        if not isinstance(f["content_hash_a"], str):
            dated = earliest.get(f["source_file"])
            landed = f["first_landed_at_b"]
            landed_text = (
                f", landed {pd.Timestamp(landed):%Y-%m-%d}" if landed is not None and not pd.isna(landed) else ""
            )
            if dated is not None and pd.Timestamp(dated).date() <= a["as_at"]:
                rows.append(
                    (
                        partnership,
                        f["source_file"],
                        "late file",
                        f"late file {f['source_file']}{landed_text}: holds records from {pd.Timestamp(dated):%Y-%m-%d}, "
                        f"before {a['release_id']}'s as-at date",
                    )
                )
            else:
                rows.append((partnership, f["source_file"], "new file", f"new file {f['source_file']}{landed_text}"))
        elif not isinstance(f["content_hash_b"], str):
            rows.append((partnership, f["source_file"], "removed file", f"file {f['source_file']} no longer loaded"))
        elif f["content_hash_a"] != f["content_hash_b"]:
            rows.append(
                (
                    partnership,
                    f["source_file"],
                    "correction",
                    f"correction: {f['source_file']} replaced ({f['content_hash_a'][:8]} → {f['content_hash_b'][:8]})",
                )
            )
    return pd.DataFrame(rows, columns=["partnership_id", "source_file", "kind", "reason"])


def _changed_figures(figures_a: pd.DataFrame, figures_b: pd.DataFrame) -> pd.DataFrame:
    """The figures in only one release, or in both with a different value, status or base (with `_merge`)."""
    merged = figures_a.merge(figures_b, on=KEY, how="outer", suffixes=("_a", "_b"), indicator=True)
    return merged[
        (merged["_merge"] != "both")
        | ~pd.Series(
            [all(_same(r[f"{c}_a"], r[f"{c}_b"]) for c in COMPARED) for _, r in merged.iterrows()],
            index=merged.index,
            dtype=bool,
        )
    ].copy()


def _general_reasons(a: pd.Series, b: pd.Series) -> list[str]:
    """Why every figure may differ between releases A and B: their dates, disclosure rules or metric code."""
    general = []
    if a["as_at"] != b["as_at"]:
        general.append(
            f"as-at moved from {a['as_at']} to {b['as_at']}: sessions and responses dated in between "
            f"{'come in' if b['as_at'] > a['as_at'] else 'drop out'}"
        )
    if (a["as_known_at"] or None) != (b["as_known_at"] or None):
        general.append(
            f"as-known-at moved from {a['as_known_at'] or 'none (all files)'} to {b['as_known_at'] or 'none (all files)'}"
        )
    if json.loads(a["disclosure_rules"]) != json.loads(b["disclosure_rules"]):
        general.append(f"rules: disclosure rules changed ({a['disclosure_rules']} → {b['disclosure_rules']})")
    if a["metrics_version"] != b["metrics_version"]:
        general.append(f"code: metric code version {a['metrics_version']} → {b['metrics_version']}")
    return general


def _figure_reasons(changed: pd.DataFrame, general: list[str], files: pd.DataFrame) -> list[str]:
    """One reason text per changed figure: the general and its partnership's file reasons, else disclosure, else erasure."""
    reasons = []
    for _, r in changed.iterrows():
        own = (
            files if r["partnership_id"] == ALL_PARTNERSHIPS else files[files["partnership_id"] == r["partnership_id"]]
        )
        parts = list(general) + list(own["reason"])
        if not parts:
            parts = [reason] if (reason := disclosure_reason(r, files)) else []
        if not parts:
            parts = [
                "same files, dates and rules gave a different figure: an erasure or a re-processing (see erasure_log)"
            ]
        reasons.append("; ".join(parts))
    return reasons


DIFF_COLUMNS = [
    *KEY,
    "unit_a",
    "value_a",
    "observation_status_a",
    "base_n_a",
    "value_b",
    "observation_status_b",
    "base_n_b",
    "change",
    "reasons",
]


def _diff_table(changed: pd.DataFrame, labels) -> pd.DataFrame:
    """The changed figures as the diff shows them: one unit, counts and bases as whole numbers, labels when given."""
    out = changed[DIFF_COLUMNS].rename(columns={"unit_a": "unit"}).reset_index(drop=True)
    out["unit"] = out["unit"].where(out["unit"].notna(), changed["unit_b"].to_numpy())
    for column in ("observation_status_a", "observation_status_b"):
        out[column] = out[column].fillna("")
    whole = out["unit"].isin(["count", "months"])
    for column in ("value_a", "value_b", "base_n_a", "base_n_b"):  # counts and bases as whole numbers
        as_int = column.startswith("base_n") | whole
        out[column] = pd.Series(
            [
                None if v is None or pd.isna(v) else (int(round(float(v))) if i else float(v))
                for v, i in zip(out[column], as_int)
            ],
            index=out.index,
            dtype=object,
        )
    if labels is not None:
        out.insert(1, "measure", out["metric_id"].map(labels.metric))
        out.insert(3, "partnership", out["partnership_id"].map(labels.partnership))
        out.insert(6, "category", [labels.value(d, v) for d, v in zip(out["dimension"], out["dimension_value"])])
    return out


def release_diff(conn: Connection, reference_a: str, reference_b: str, labels=None) -> tuple[pd.DataFrame, dict]:
    """(changed figures with their reasons, summary) between releases A and B."""
    a, b = resolve(conn, reference_a), resolve(conn, reference_b)
    figures_a, figures_b = stored_figures(conn, a["release_id"]), stored_figures(conn, b["release_id"])
    changed = _changed_figures(figures_a, figures_b)
    files = file_reasons(conn, a, b)
    general = _general_reasons(a, b)
    changed["reasons"] = _figure_reasons(changed, general, files)
    changed["change"] = (
        changed["_merge"].map({"left_only": "only in A", "right_only": "only in B", "both": "changed"}).astype(str)
    )
    out = _diff_table(changed, labels)
    summary = {
        "a": a["release_id"],
        "b": b["release_id"],
        "figures_a": len(figures_a),
        "figures_b": len(figures_b),
        "changed": int((out["change"] == "changed").sum()),
        "only_in_a": int((out["change"] == "only in A").sum()),
        "only_in_b": int((out["change"] == "only in B").sum()),
        "general_reasons": general,
        "file_reasons": files["reason"].tolist(),
    }
    return out, summary
