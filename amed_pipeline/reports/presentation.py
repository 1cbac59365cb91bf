"""From published metric rows to what an evaluator reads: labels, shorthand, bases, wide tables.

Everything here presents `metric_values_published` as it is: it never rounds, suppresses or
recomputes a figure (that is `metrics/disclosure.py`'s job), so a change in how shares are rounded
or which cells are suppressed upstream needs no change here. Whatever flag a row carries in
`observation_status` is shown; a row without a value shows its flag in place of the number
(`[c]`, `[z]`, ...), a row with a value shows its flag in the note column beside it.

Presentation adds two things of its own, both explained by the key:
- `[z]` "not applicable" for the follow-up measures of a partnership that runs no follow-up
  survey (a 0 % response rate there would read as a failure, not as an absence);
- `[x]` "not available" for a cell of a wide table for which no figure was published (for
  instance a month in which a partnership delivered nothing).
Pure functions over DataFrames; no database, no files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

from amed_pipeline.metrics import disclosure
from amed_pipeline.metrics.catalogue import ALL_PARTNERSHIPS

ALL = ALL_PARTNERSHIPS
ALL_LABEL = "All partnerships"
NOT_APPLICABLE = "[z]"
NOT_AVAILABLE = "[x]"
DASH = "–"
# What each shorthand means. The disclosure module's own legend (whatever flags it defines) wins.
PRESENTATION_SYMBOLS = {
    disclosure.SUPPRESSED: "Confidential: suppressed to protect confidentiality (a count of 1 to 7, or a cell that would reveal one).",
    disclosure.LOW_RELIABILITY: "Low reliability: the share or mean rests on fewer than 30 people or responses.",
    NOT_APPLICABLE: "Not applicable: the measure does not apply here (for example a follow-up measure for a "
    "partnership that runs no follow-up survey, or a share of nothing).",
    NOT_AVAILABLE: "Not available: no figure was published for this cell (no records in it).",
}
DASH_MEANING = "Not shown: no figure exists for this cell (the report draws a dash where a figure is missing)."
FLAG_PATTERN = re.compile(r"\[[a-z]\]")

# Follow-up measures: not applicable where a partnership runs no follow-up survey.
FOLLOWUP_METRICS = (
    "followup_responses",
    "followup_response_rate",
    "usefulness_followup_mean",
    "more_conversations_share",
)
FEEDBACK_METRICS = (
    "feedback_responses",
    "feedback_response_rate",
    "usefulness_end_mean",
    "knowledge_mean",
    "confidence_mean",
)
SURVEY_METRICS = {"followup": FOLLOWUP_METRICS, "feedback": FEEDBACK_METRICS}

# Each survey measure named as the question asked it (the questionnaire's wording).
QUESTIONS = {
    "usefulness_end_mean": "How useful was today's session to your role? (end of session, mean out of 10)",
    "knowledge_mean": "How important is it to have conversations about physical activity with the people you support? "
    "(end of session, mean out of 10)",
    "confidence_mean": "How confident do you feel having conversations about physical activity? (end of session, mean out of 10)",
    "usefulness_followup_mean": "How useful has the training been to your role? (follow-up, mean out of 10)",
    "more_conversations_share": "Since the training, are you having more conversations about physical activity? "
    "(follow-up, share answering much or slightly more often)",
}
SETTING_LABELS = {
    "gp_practice": "GP practices",
    "hospital": "Hospitals",
    "charity_voluntary": "Charities and voluntary sector",
    "local_authority": "Local authority",
    "community_health": "Community health services",
    "other": "Other",
    "unknown": "Not stated",
    "": "Not stated",
}
DIMENSION_LABELS = {
    "": "None (whole period)",
    "month": "Month",
    "training_type": "Training type",
    "role_group": "Role group",
    "profession": "Profession",
    "setting": "Setting",
    "training_type|profession": "Training type and profession",
}
NUMBER_FORMATS = {"share": "0%", "mean_0_10": "0.0", "count": "#,##0", "months": "#,##0"}
BASE_UNITS = ("share", "mean_0_10")


@dataclass
class Labels:
    """Human labels for ids: partnerships, metrics and each dimension's values."""

    partnerships: dict[str, str]
    metrics: dict[str, str]
    values: dict[str, dict[str, str]] = field(default_factory=dict)

    def partnership(self, partnership_id: str) -> str:
        return ALL_LABEL if partnership_id == ALL else self.partnerships.get(partnership_id, partnership_id)

    def metric(self, metric_id: str) -> str:
        return QUESTIONS.get(metric_id) or self.metrics.get(metric_id, metric_id)

    def value(self, dimension: str, value: str) -> str:
        if dimension == "":
            return "All"
        if dimension == "month":
            try:
                return pd.Timestamp(value + "-01").strftime("%B %Y")
            except ValueError:
                return value
        if "|" in dimension:
            parts = zip(dimension.split("|"), value.split("|"))
            return ": ".join(self.value(d, v) for d, v in parts)
        table = (
            SETTING_LABELS
            if dimension == "setting" and "setting" not in self.values
            else self.values.get(dimension, {})
        )
        return table.get(value, value.replace("_", " ").capitalize() if value else "Not stated")


def symbol_key() -> dict[str, str]:
    """Every shorthand the outputs can show, with its meaning (disclosure's own wording first)."""
    return {**PRESENTATION_SYMBOLS, **disclosure.FLAG_LEGEND}


def flags_of(status) -> list[str]:
    return FLAG_PATTERN.findall(status) if isinstance(status, str) else []


def mark_not_applicable(published: pd.DataFrame, without_survey: dict[str, set[str]]) -> pd.DataFrame:
    """Survey measures of partnerships that run no such survey become `[z]` with no value.

    `without_survey`: {"followup": {partnership ids}, "feedback": {...}}.
    """
    out = published.copy()
    for survey, partnerships in without_survey.items():
        if not partnerships:
            continue
        rows = out["metric_id"].isin(SURVEY_METRICS[survey]) & out["partnership_id"].isin(sorted(partnerships))
        for column in ("numerator", "denominator", "value", "base_n"):
            out[column] = out[column].astype(object).where(~rows, None)
        out.loc[rows, "observation_status"] = NOT_APPLICABLE
    return out


def is_shown(value, status) -> bool:
    return (
        not (value is None or pd.isna(value))
        and NOT_APPLICABLE not in flags_of(status)
        and disclosure.SUPPRESSED not in flags_of(status)
    )


def labelled(published: pd.DataFrame, labels: Labels) -> pd.DataFrame:
    """The long published table with a label column beside every id; counts as whole numbers."""
    frame = published.copy()
    frame.insert(frame.columns.get_loc("metric_id") + 1, "metric_label", frame["metric_id"].map(labels.metric))
    frame.insert(
        frame.columns.get_loc("partnership_id") + 1, "partnership_name", frame["partnership_id"].map(labels.partnership)
    )
    frame.insert(
        frame.columns.get_loc("dimension") + 1,
        "dimension_label",
        frame["dimension"].map(lambda d: DIMENSION_LABELS.get(d, d)),
    )
    # Labelled once per distinct (dimension, value): a large programme has a million rows and a few hundred pairs.
    pairs = frame[["dimension", "dimension_value"]].drop_duplicates()
    pairs = pairs.assign(
        dimension_value_label=[labels.value(d, v) for d, v in zip(pairs["dimension"], pairs["dimension_value"])]
    )
    value_labels = frame[["dimension", "dimension_value"]].merge(pairs, on=["dimension", "dimension_value"], how="left")
    frame.insert(
        frame.columns.get_loc("dimension_value") + 1,
        "dimension_value_label",
        value_labels["dimension_value_label"].to_numpy(),
    )
    for column in ("numerator", "denominator", "base_n"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").round().astype("Int64")
    counts = frame["unit"].isin(["count", "months"])
    numeric = pd.to_numeric(frame["value"], errors="coerce")
    # Counts are written as integers, shares and means as published (no rounding here).
    frame["value"] = pd.Series(
        [
            (None if pd.isna(v) else int(round(v))) if is_count else (None if pd.isna(v) else float(v))
            for v, is_count in zip(numeric, counts)
        ],
        index=frame.index,
        dtype=object,
    )
    return frame


# --- wide tables ---------------------------------------------------------------------------------


@dataclass
class WideTable:
    """A table ready for a sheet: the frame, and each data cell's number format (row, column) → format."""

    frame: pd.DataFrame
    formats: dict[tuple[int, int], str]
    symbols: set[str]


def scope_columns(name: str) -> tuple[str, str, str]:
    return f"{name}: figure", f"{name}: base (n)", f"{name}: note"


def wide_table(
    published: pd.DataFrame,
    labels: Labels,
    metrics: list[str],
    dimension: str,
    scopes: list[str],
    not_applicable: dict[str, set[str]] | None = None,
    value_order: list[str] | None = None,
    category_heading: str = "Category",
) -> WideTable:
    """Measures (and categories) as rows; for each scope a figure, its base (n) and a note column.

    A share or mean always has its base beside it; a count's base is `[z]`. A cell without a
    published row is `[z]` where the measure does not apply to that scope, else `[x]`.
    """
    not_applicable = not_applicable or {}
    na_pairs = {(m, p) for survey, ps in not_applicable.items() for m in SURVEY_METRICS[survey] for p in ps}
    rows = published[published["metric_id"].isin(metrics) & (published["dimension"] == dimension)]
    index = {(r.metric_id, r.partnership_id, r.dimension_value): r for r in rows.itertuples(index=False)}
    values_of = {}
    for metric_id in metrics:
        present = sorted(set(rows.loc[rows["metric_id"] == metric_id, "dimension_value"]))
        if value_order:
            present = [v for v in value_order if v in present] + [v for v in present if v not in value_order]
        values_of[metric_id] = present
    units = dict(zip(rows["metric_id"], rows["unit"]))
    records, formats, symbols = [], {}, set()
    shown_scopes = [s for s in scopes]
    has_base = {s: False for s in shown_scopes}
    has_note = {s: False for s in shown_scopes}
    for metric_id in metrics:
        unit = units.get(metric_id)
        if unit is None:
            continue
        for value in values_of[metric_id] or ([""] if dimension == "" else []):
            record = {"Measure": labels.metric(metric_id)}
            if dimension:
                record[category_heading] = labels.value(dimension, value)
            for scope in shown_scopes:
                figure_column, base_column, note_column = scope_columns(labels.partnership(scope))
                row = index.get((metric_id, scope, value))
                status = "" if row is None else (row.observation_status or "")
                if row is None:
                    figure = NOT_APPLICABLE if (metric_id, scope) in na_pairs else NOT_AVAILABLE
                    base, note = (NOT_APPLICABLE if unit not in BASE_UNITS else figure), ""
                elif is_shown(row.value, status):
                    figure = int(round(float(row.value))) if unit in ("count", "months") else float(row.value)
                    if unit in BASE_UNITS:
                        base = (
                            NOT_AVAILABLE
                            if row.base_n is None or pd.isna(row.base_n)
                            else int(round(float(row.base_n)))
                        )
                    else:
                        base = NOT_APPLICABLE
                    note = " ".join(flags_of(status))
                else:
                    figure = " ".join(flags_of(status)) or NOT_AVAILABLE
                    base = figure if unit in BASE_UNITS else NOT_APPLICABLE
                    note = ""
                record[figure_column], record[base_column], record[note_column] = figure, base, note
                if unit in BASE_UNITS:
                    has_base[scope] = True
                if note:
                    has_note[scope] = True
                for cell in (figure, base, note):
                    if isinstance(cell, str):
                        symbols.update(flags_of(cell))
            records.append((unit, record))
    frame = pd.DataFrame([r for _, r in records])
    keep = ["Measure"] + ([category_heading] if dimension else [])
    for scope in shown_scopes:
        figure_column, base_column, note_column = scope_columns(labels.partnership(scope))
        keep.append(figure_column)
        if has_base[scope]:
            keep.append(base_column)
        if has_note[scope]:
            keep.append(note_column)
    if frame.empty:
        return WideTable(pd.DataFrame(columns=keep), {}, symbols)
    frame = frame[keep]
    for i, (unit, _) in enumerate(records):
        for j, column in enumerate(frame.columns):
            if column.endswith(": figure"):
                formats[(i, j)] = NUMBER_FORMATS.get(unit, "General")
            elif column.endswith(": base (n)"):
                formats[(i, j)] = NUMBER_FORMATS["count"]
    return WideTable(frame, formats, symbols)


def rounding_note(rules) -> str:
    """Exactly what is rounded in the published figures and in their display, from the rules in force."""
    parts = []
    up_to = getattr(rules, "suppress_counts_up_to", None)
    base = getattr(rules, "round_counts_to", None)
    exempt = ", ".join(m.replace("_", " ") for m in (getattr(rules, "exempt_metrics", ()) or ())) or "none"
    if base:
        parts.append(
            f"Counts of people, attendances and responses, and every base (n), numerator and denominator, are rounded "
            f"to the nearest {base}" + (f" (counts of 1 to {up_to} are suppressed, [c])" if up_to else "") + "."
        )
    parts.append(f"Counts of the service itself are exact, not rounded: {exempt}.")
    parts.append(
        "Shares are computed from the rounded counts published beside them, so a share never reveals more than "
        "its numerator and base; means are the exact mean over the records, beside a rounded base. "
        "Shares are displayed as whole percentages and means to one decimal place; "
        "the workbook's cells hold the published value, only the display is rounded."
    )
    return " ".join(parts)
