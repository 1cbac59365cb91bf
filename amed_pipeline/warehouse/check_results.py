"""The `dq_results` history: every check result, one row per partnership, kept across nights.

Quality can be trended across nights from it, and the latest results of blocking checks are what
the metric guard reads (`latest_blocking_failures`). It is a warehouse table written by the
staging and warehouse checks, so it lives with the warehouse schema, not in `quality` (which sits
below staging and imports no warehouse).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Boolean, Column, DateTime, Integer, String, Table, Text, select

from amed_pipeline.config import ALL_PARTNERSHIPS
from amed_pipeline.warehouse.schema import metadata

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
