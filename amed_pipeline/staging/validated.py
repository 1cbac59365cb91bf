"""Stage every dataset and validate it against its suite, in dependency order.

Staging drives validation: it calls `quality`'s suites on each staged dataset and moves the rows
a rule rejects to quarantine (`quarantine_failures`); `quality` knows nothing of staging.

Sessions first (bookings are checked against the sessions that passed), then bookings, then the
two surveys (a response is checked against its partnership's first session). Rows a rule rejects
go to quarantine before the next dataset is validated. Pure apart from GX: no Dagster, no
database, so it is tested directly.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from amed_pipeline.config import ProgrammeConfig
from amed_pipeline.lib.frames import as_text
from amed_pipeline.quality.suites import SuiteContext
from amed_pipeline.quality.validation import RuleOutcome, validate_dataset
from amed_pipeline.staging.classification import ReferenceTables
from amed_pipeline.staging.datasets import (
    RawExport,
    Staged,
    quarantine_rows,
    stage_bookings,
    stage_sessions,
    stage_survey,
)


@dataclass
class ValidatedDataset:
    staged: Staged
    outcomes: list[RuleOutcome]
    evaluated: pd.DataFrame  # the rows as validated (before rejected rows were removed)


def suite_context(
    config: ProgrammeConfig, reference: ReferenceTables, today: dt.date | None = None, sessions: Staged | None = None
) -> SuiteContext:
    return SuiteContext(
        programme_start=config.start,
        programme_end=config.end,
        today=today or dt.date.today(),
        training_types=tuple(reference.training_types["training_type"]),
        role_groups=tuple(reference.role_groups["role_group"]),
        session_keys=tuple(sessions.rows["session_key"]) if sessions is not None else (),
    )


def first_session_by_partnership(sessions: Staged) -> dict[str, pd.Timestamp]:
    rows = sessions.rows
    if rows.empty:
        return {}
    return pd.to_datetime(rows["start"]).groupby(rows["partnership_id"]).min().to_dict()


def stage_and_validate(
    exports: dict[str, list[RawExport]],
    config: ProgrammeConfig,
    reference: ReferenceTables,
    validate=validate_dataset,
    today: dt.date | None = None,
) -> dict[str, ValidatedDataset]:
    """Stage and validate all four datasets; `exports` maps dataset → its raw exports."""
    results: dict[str, ValidatedDataset] = {}
    sessions = stage_sessions(exports.get("sessions", []), reference)
    results["sessions"] = _validated("sessions", sessions, suite_context(config, reference, today), validate)
    sessions = results["sessions"].staged
    bookings = stage_bookings(exports.get("bookings", []), sessions, reference)
    results["bookings"] = _validated("bookings", bookings, suite_context(config, reference, today, sessions), validate)
    first_sessions = first_session_by_partnership(sessions)
    for dataset in ("feedback", "followup"):
        staged = stage_survey(dataset, exports.get(dataset, []), reference)
        with_first = staged.rows.assign(
            first_session_at=pd.to_datetime(staged.rows["partnership_id"].map(first_sessions))
            if len(staged.rows)
            else pd.Series(dtype="datetime64[ns]"),
            submitted_at=pd.to_datetime(staged.rows["submitted_at"]),
        )
        results[dataset] = _validated(
            dataset,
            Staged(dataset, with_first, staged.quarantine, staged.duplicates, staged.files),
            suite_context(config, reference, today),
            validate,
        )
        cleaned = results[dataset].staged
        cleaned.rows = cleaned.rows.drop(columns=["first_session_at"])
    return results


def _validated(dataset: str, staged: Staged, ctx: SuiteContext, validate) -> ValidatedDataset:
    evaluated = staged.rows.reset_index(drop=True)
    outcomes = validate(dataset, evaluated, ctx)
    return ValidatedDataset(
        quarantine_failures(Staged(dataset, evaluated, staged.quarantine, staged.duplicates, staged.files), outcomes),
        outcomes,
        evaluated,
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
