"""From rule outcomes to quarantine, Dagster check results and the `dq_results` history.

A row a row-level rule rejects leaves the dataset for `quarantine` (with file, row, rule,
column, value and reason), so good rows of the same file still load and the row accounting
still adds up. Every check result is also appended to `dq_results` (one row per partnership),
so quality can be trended across nights; the latest results of blocking checks are what the
metric guard reads. Check metadata shows counts and a few example failures by file and row,
never personal data (staged rows carry none).
"""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pandas as pd
from sqlalchemy import Boolean, Column, DateTime, Integer, String, Table, Text, select

from amed_pipeline.config import ALL_PARTNERSHIPS
from amed_pipeline.lib.frames import as_text
from amed_pipeline.quality.validation import RuleOutcome
from amed_pipeline.staging.datasets import Staged, quarantine_rows
from amed_pipeline.warehouse.schema import metadata

EXAMPLES = 5

dq_results = Table(
    "dq_results",
    metadata,
    Column("run_id", String, nullable=False),
    Column("partnership_id", String, nullable=False),
    Column("dataset", String, nullable=False),
    Column("rule", String, nullable=False),
    Column("severity", String, nullable=False),
    Column("blocking", Boolean, nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("failing_rows", Integer, nullable=False, autoincrement=False),
    Column("evaluated_rows", Integer, nullable=False, autoincrement=False),
    Column("detail", Text, nullable=False),
    Column("evaluated_at", DateTime, nullable=False),
)


def quarantine_failures(staged: Staged, outcomes: list[RuleOutcome]) -> Staged:
    """Move the rows that row-level rules rejected from the dataset to quarantine."""
    rows = staged.rows.reset_index(drop=True)
    failing: dict[int, RuleOutcome] = {}
    columns: dict[int, str] = {}
    for outcome in outcomes:
        for position in outcome.failing_positions:
            if position not in failing:
                failing[position] = outcome
                columns[position] = outcome.failing_columns.get(position, outcome.column)
    if not failing:
        return staged
    groups: dict[tuple[str, str, str], list[int]] = {}
    for position in sorted(failing):
        column = columns[position].split(",")[0].strip()
        groups.setdefault((failing[position].rule, failing[position].description, column), []).append(position)
    records = []
    for (rule, description, column), positions in groups.items():
        subset = rows.iloc[positions]
        values = as_text(subset[column]) if column in subset.columns else pd.Series([""] * len(subset))
        records.append(quarantine_rows(subset, staged.dataset, rule, column, description, values))
    quarantine = pd.concat([staged.quarantine, *records], ignore_index=True)
    kept = rows.drop(index=sorted(failing)).reset_index(drop=True)
    return Staged(staged.dataset, kept, quarantine, staged.duplicates, staged.files)


def examples_markdown(
    frame: pd.DataFrame, columns=("source_file", "source_row", "column_name", "value", "reason")
) -> str:
    shown = frame.loc[:, [c for c in columns if c in frame.columns]].head(EXAMPLES)
    return shown.to_markdown(index=False) if len(shown) else "_none_"


def rule_check_result(asset_key: dg.AssetKey, outcome: RuleOutcome, rows: pd.DataFrame) -> dg.AssetCheckResult:
    """WARN when a row-level rule rejected rows (they were quarantined)."""
    examples = rows.iloc[outcome.failing_positions[:EXAMPLES]] if outcome.failing_positions else rows.head(0)
    example_frame = pd.DataFrame(
        {
            "source_file": examples.get("source_file", pd.Series(dtype=object)).to_numpy(),
            "source_row": examples.get("source_row", pd.Series(dtype=object)).to_numpy(),
            "column_name": [
                outcome.failing_columns.get(p, outcome.column) for p in outcome.failing_positions[:EXAMPLES]
            ],
        }
    )
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=outcome.rule,
        passed=outcome.success,
        severity=dg.AssetCheckSeverity.WARN,
        description=outcome.description,
        metadata={
            "failing rows (quarantined)": dg.MetadataValue.int(outcome.failing_rows),
            "evaluated rows": dg.MetadataValue.int(outcome.evaluated_rows),
            "examples": dg.MetadataValue.md(examples_markdown(example_frame)),
            **({"error": dg.MetadataValue.text(outcome.error)} if outcome.error else {}),
        },
    )


def dq_history_rows(
    run_id: str,
    dataset: str,
    rule: str,
    severity: str,
    blocking: bool,
    passed: bool,
    failing_by_partnership: pd.Series,
    evaluated_by_partnership: pd.Series,
    detail: str = "",
    evaluated_at: dt.datetime | None = None,
) -> pd.DataFrame:
    """One history row per partnership that had rows evaluated or failing (else one 'all' row)."""
    partnerships = sorted(set(failing_by_partnership.index) | set(evaluated_by_partnership.index)) or [ALL_PARTNERSHIPS]
    evaluated_at = evaluated_at or dt.datetime.now().replace(microsecond=0)
    return pd.DataFrame(
        {
            "run_id": run_id,
            "partnership_id": partnerships,
            "dataset": dataset,
            "rule": rule,
            "severity": severity,
            "blocking": blocking,
            "passed": [passed and int(failing_by_partnership.get(p, 0)) == 0 for p in partnerships],
            "failing_rows": [int(failing_by_partnership.get(p, 0)) for p in partnerships],
            "evaluated_rows": [int(evaluated_by_partnership.get(p, 0)) for p in partnerships],
            "detail": detail,
            "evaluated_at": evaluated_at,
        }
    )


def latest_outcomes(conn, partnership_ids: list[str]) -> pd.DataFrame:
    """Each (partnership, dataset, rule)'s most recent result in `dq_results`, for these partnerships.

    What a check shows for partnerships a run did not evaluate again (their input did not change):
    their last real outcome, not a pass.
    """
    columns = [c.name for c in dq_results.columns]
    if not partnership_ids:
        return pd.DataFrame(columns=columns)
    history = pd.DataFrame(
        conn.execute(select(dq_results).where(dq_results.c.partnership_id.in_(partnership_ids))).mappings().all(),
        columns=columns,
    )
    return history.sort_values("evaluated_at", kind="stable").groupby(["partnership_id", "dataset", "rule"]).tail(1)


def latest_blocking_failures(conn) -> pd.DataFrame:
    """The blocking rules whose most recent evaluation failed (what the metric guard refuses)."""
    history = pd.DataFrame(
        conn.execute(select(dq_results).where(dq_results.c.blocking.is_(True))).mappings().all(),
        columns=[c.name for c in dq_results.columns],
    )
    if history.empty:
        return history
    latest_run = history.sort_values("evaluated_at").groupby(["dataset", "rule"]).tail(1)[["dataset", "rule", "run_id"]]
    latest = history.merge(latest_run, on=["dataset", "rule", "run_id"])
    return latest[~latest["passed"]]
