"""Staged datasets, partitioned by partnership: each partnership's landed rows, staged and validated.

One step stages `staged/sessions`, `staged/bookings`, `staged/feedback` and `staged/followup` for
the partnerships (partitions) of the run: it reads their landed rows (`landing.tables`),
applies the evaluation's semantics (`amed_pipeline.staging.datasets`) and classification from
the reference tables, runs each dataset's Great Expectations suite (`amed_pipeline.quality`) and
replaces the partnerships' slices of the warehouse tables (dim_session, the facts, quarantine,
ingest ledger). Changed partnerships are staged in batches of a few hundred thousand rows: each
batch is one suite run per dataset (Great Expectations costs mostly per run) and one
transaction, and memory stays bounded however many partnerships there are. A partnership whose
landed files, config and reference tables are unchanged since it was last staged is skipped:
nothing is parsed, validated or written.

Every rule is an asset check on its dataset, so the UI shows which rule failed, with counts per
partnership; rows a rule rejects are quarantined (WARN) and good rows go on. The nightly run
covers every partition in one step (single-run backfill policy), so Great Expectations is
imported once; one partnership can be re-run or backfilled alone by its partition key.
"""

from dataclasses import dataclass

import dagster as dg
import numpy as np
import pandas as pd

from amed_pipeline.changes.fingerprints import staging_fingerprint
from amed_pipeline.changes.reference import load_reference
from amed_pipeline.changes.state import record_staged, staged_fingerprint
from amed_pipeline.changes.versions import SEMANTICS_VERSION
from amed_pipeline.config import DATASETS, ProgrammeConfig
from amed_pipeline.defs.raw_exports import raw_export_key
from amed_pipeline.landing.tables import (
    landed_rows_by_partnership,
    read_free_text,
    read_landed,
)
from amed_pipeline.lib.frames import one_per_source_row, release_memory
from amed_pipeline.operations.retries import retry_only_transient
from amed_pipeline.quality.checks import examples_markdown, rule_check_result
from amed_pipeline.quality.suites import SUITES
from amed_pipeline.quality.validation import GreatExpectationsResource
from amed_pipeline.staging.datasets import RawExport, Staged
from amed_pipeline.staging.validated import ValidatedDataset, stage_and_validate
from amed_pipeline.warehouse.bulk import insert_frame
from amed_pipeline.warehouse.check_results import dq_history_rows, dq_results, latest_outcomes
from amed_pipeline.warehouse.load import load_partnerships, partnership_frames
from amed_pipeline.warehouse.resource import WarehouseResource

STAGING_GROUP = "staging"
READ_CHECK = "rows_parsed"
DESCRIPTIONS = {
    "sessions": "Delivered and planned sessions of every partnership, one row per session, with training "
    "type classified from the title by `reference/training_type_rules.csv`.",
    "bookings": "One booking per person per session (attended, booked or cancelled): overlapping exports and "
    "cross-system duplicates merged, linked to sessions, job titles classified.",
    "feedback": "End-of-session feedback, one row per response (duplicates in overlapping downloads removed), "
    "ratings 0–10, setting classified.",
    "followup": "Follow-up survey (one to four months later), one row per response: usefulness, change in "
    "conversations, setting.",
}


def staged_key(dataset: str) -> dg.AssetKey:
    return dg.AssetKey(["staged", dataset])


@dataclass(frozen=True)
class StagedRule:
    """A rule as the staging checks declare it (a suite's `Rule` has the same two fields)."""

    name: str
    description: str


# Rows refused while reading or staging (unparseable values, no person, no session) were quarantined
# before any suite ran; this rule reports them, beside each dataset's suite rules.
READ_RULE = StagedRule(READ_CHECK, "every row parsed, attributed and linked")


def staged_rules(dataset: str) -> list:
    """The rules checked on a staged dataset, in order: its suite's, then the read rule."""
    return [*SUITES[dataset], READ_RULE]


@dataclass(frozen=True)
class RuleFinding:
    """What one rule found in a staged batch, whichever kind of rule it is: the check result, the
    rows it rejected per partnership and the detail the history records. The checks, the history
    and the per-partnership tables are built from findings alone."""

    rule: str
    check: dg.AssetCheckResult
    failing: pd.Series  # rejected rows (one per source row) per partnership of the batch
    detail: str

    @property
    def passed(self) -> bool:
        return self.check.passed


def rule_findings(asset_key: dg.AssetKey, result: ValidatedDataset, partnership_ids: list[str]) -> list[RuleFinding]:
    """The findings of every rule of `staged_rules` on a validated batch: the suite's, then the read rule's."""
    findings = [
        RuleFinding(
            outcome.rule,
            rule_check_result(asset_key, outcome, result.evaluated),
            _counts(result.evaluated.iloc[outcome.failing_positions], partnership_ids),
            outcome.description,
        )
        for outcome in result.outcomes
    ]
    return [*findings, _read_finding(asset_key, result.staged, partnership_ids)]


def _read_finding(asset_key: dg.AssetKey, staged: Staged, partnership_ids: list[str]) -> RuleFinding:
    """WARN for rows refused while reading or staging (not whole files: the warehouse checks report those)."""
    quarantine = staged.quarantine[staged.quarantine["source_row"].astype(int) > 0]
    rejected = one_per_source_row(quarantine)
    by_rule = quarantine.groupby("rule").size().rename("rows").reset_index() if len(quarantine) else pd.DataFrame()
    check = dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=READ_CHECK,
        passed=rejected.empty,
        severity=dg.AssetCheckSeverity.WARN,
        description="every row parsed and could be attributed and linked (else quarantined)",
        metadata={
            "failing rows (quarantined)": dg.MetadataValue.int(len(rejected)),
            "by rule": dg.MetadataValue.md(by_rule.to_markdown(index=False) if len(by_rule) else "_none_"),
            "examples": dg.MetadataValue.md(examples_markdown(rejected)),
        },
    )
    return RuleFinding(READ_CHECK, check, _counts(rejected, partnership_ids), "rows refused while reading or staging")


def partnership_partitions(config: ProgrammeConfig) -> dg.StaticPartitionsDefinition:
    """One partition per partnership, keys from the config."""
    return dg.StaticPartitionsDefinition(config.partnership_ids)


# Partnerships are staged in batches of about this many landed rows: few Great Expectations runs
# (its cost is mostly per run), and memory bounded whatever the number of partnerships.
STAGING_BATCH_ROWS = 150_000


@dataclass
class BatchSummary:
    """What the UI shows about a batch of partnerships staged together, without their rows (the
    rows are written and dropped batch by batch, so memory does not grow with the programme)."""

    partnership_ids: list[str]
    staged: dict[str, pd.DataFrame]  # dataset → rows, quarantined rows and files per partnership
    checks: dict[tuple[str, str], tuple[dg.AssetCheckResult, pd.DataFrame]]  # (dataset, rule) → result, per partnership


def summarise_batch(
    ids: list[str], validated: dict[str, ValidatedDataset], findings: dict[str, list[RuleFinding]]
) -> BatchSummary:
    staged, checks = {}, {}
    for dataset in DATASETS:
        result = validated[dataset]
        staged[dataset] = pd.DataFrame(
            {
                "partnership": ids,
                "rows": _counts(result.staged.rows, ids).to_numpy(),
                "quarantined rows": _counts(one_per_source_row(result.staged.quarantine), ids).to_numpy(),
                "files": [sum(1 for f in result.staged.files if f.partnership_id == p) for p in ids],
            }
        )
        evaluated = _counts(result.evaluated, ids)
        for finding in findings[dataset]:
            failing = finding.failing
            checks[dataset, finding.rule] = (
                finding.check,
                pd.DataFrame(
                    {
                        "partnership": ids,
                        "passed": (failing == 0).to_numpy() & (finding.passed or bool(failing.sum())),
                        "failing rows": failing.to_numpy(),
                        "evaluated rows": evaluated.to_numpy(),
                    }
                ),
            )
    return BatchSummary(ids, staged, checks)


def staging_batches(rows_by_partnership: dict[str, int], budget: int) -> list[list[str]]:
    """Consecutive partnerships grouped so that each group holds at most `budget` rows (or one partnership)."""
    batches: list[list[str]] = []
    total = 0
    for partnership_id, rows in rows_by_partnership.items():
        if batches and total + rows <= budget:
            batches[-1].append(partnership_id)
            total += rows
        else:
            batches.append([partnership_id])
            total = rows
    return batches


def _batch_export(
    dataset: str, partnership_ids: list[str], rows: pd.DataFrame, quarantine: pd.DataFrame, files
) -> list[RawExport]:
    """The landed rows of a batch as one RawExport, partnerships in the batch's order.

    Staging combines its exports in order, so one export holding the partnerships one after the
    other (each in its landed order) stages exactly as one export per partnership would, without
    splitting the batch's frames by partnership and joining them again.
    """
    position = {p: i for i, p in enumerate(partnership_ids)}
    return [
        RawExport(
            ",".join(partnership_ids),  # a label only: staging reads rows, quarantine and files
            "landing",
            dataset,
            _in_batch_order(rows, position),
            _in_batch_order(quarantine, position),
            sorted(files, key=lambda f: position[f.partnership_id]),  # stable: landed order within each
        )
    ]


def _in_batch_order(frame: pd.DataFrame, position: dict[str, int]) -> pd.DataFrame:
    """The frame's rows grouped by partnership in the batch's order, in their own order within each."""
    position = frame["partnership_id"].map(position).to_numpy()
    if len(position) and (position[1:] >= position[:-1]).all():  # already in order: nothing to move
        return frame.reset_index(drop=True)
    return frame.iloc[np.argsort(position, kind="stable")].reset_index(drop=True)


def build_staging_assets(config: ProgrammeConfig) -> list[dg.AssetsDefinition]:
    reference_dir = config.reference_dir
    sources = config.sources()
    partitions = partnership_partitions(config)
    check_specs = [
        dg.AssetCheckSpec(rule.name, asset=staged_key(dataset), description=rule.description)
        for dataset in DATASETS
        for rule in staged_rules(dataset)
    ]

    @dg.multi_asset(
        specs=[
            dg.AssetSpec(
                staged_key(d),
                group_name=STAGING_GROUP,
                kinds={"pandas", "sql"},
                owners=["team:data-engineering"],
                description=DESCRIPTIONS[d],
                code_version=SEMANTICS_VERSION,  # in every partnership's staging fingerprint
                deps=[raw_export_key(s) for s in sources if s.dataset == d],
                partitions_def=partitions,
            )
            for d in DATASETS
        ],
        check_specs=check_specs,
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        can_subset=False,
        name="staging",
    )
    @retry_only_transient
    def staging(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, great_expectations: GreatExpectationsResource
    ):
        reference = load_reference(reference_dir).tables  # loaded once in the run (`changes.reference`)
        batches: list[BatchSummary] = []
        unchanged: list[str] = []
        fingerprints: dict[str, str] = {}
        # One connection for the step (opening a DuckDB file costs); each batch is one transaction.
        with warehouse.connect() as conn:
            for partnership_id in context.partition_keys:
                fingerprint = staging_fingerprint(conn, config, partnership_id, reference_dir)
                if staged_fingerprint(conn, partnership_id) == fingerprint:
                    unchanged.append(partnership_id)
                else:
                    fingerprints[partnership_id] = fingerprint
            stored = latest_outcomes(conn, unchanged)  # what the checks last found for them
            sizes = landed_rows_by_partnership(conn, list(fingerprints))
            for batch in staging_batches(sizes, STAGING_BATCH_ROWS):
                exports = {d: _batch_export(d, batch, *read_landed(conn, d, batch)) for d in DATASETS}
                job_titles, comments = read_free_text(conn, batch)
                conn.commit()
                # One suite run per dataset for the whole batch: GX's cost is mostly per run.
                validated = stage_and_validate(exports, config, reference, validate=great_expectations.validate)
                findings = {d: rule_findings(staged_key(d), validated[d], batch) for d in DATASETS}
                frames = partnership_frames(
                    *(validated[d].staged for d in DATASETS), job_titles, comments, reference.role_group_of
                )
                with conn.begin():
                    load_partnerships(conn, batch, frames)
                    insert_frame(conn, dq_results, _history(context.run_id, validated, findings, batch))
                    for partnership_id in batch:
                        record_staged(conn, partnership_id, fingerprints[partnership_id])
                batches.append(summarise_batch(batch, validated, findings))
                del exports, validated, findings, frames
                release_memory()
                context.log.info(f"staged {len(batch)} partnership(s): {', '.join(batch)}")
        if unchanged:
            context.log.info(f"unchanged since last staged, not staged again: {', '.join(unchanged)}")
        for dataset in DATASETS:
            yield dg.MaterializeResult(
                asset_key=staged_key(dataset), metadata=_staged_metadata(batches, dataset, unchanged)
            )
        yield from _check_results(batches, unchanged, stored)

    return [staging]


def _history(
    run_id: str, validated: dict, findings: dict[str, list[RuleFinding]], partnership_ids: list[str]
) -> pd.DataFrame:
    """`dq_results` rows for every rule of a staged batch: one per partnership."""
    rows = []
    for dataset in DATASETS:
        evaluated_by = _counts(validated[dataset].evaluated, partnership_ids)
        rows += [
            dq_history_rows(run_id, dataset, f.rule, "WARN", False, f.passed, f.failing, evaluated_by, f.detail)
            for f in findings[dataset]
        ]
    return pd.concat(rows, ignore_index=True)


def _counts(frame: pd.DataFrame, partnership_ids: list[str]) -> pd.Series:
    """Rows per partnership, 0 for partnerships without any."""
    if frame.empty:
        return pd.Series(0, index=partnership_ids, dtype=int)
    return frame.groupby("partnership_id").size().reindex(partnership_ids, fill_value=0)


def _staged_metadata(batches: list[BatchSummary], dataset: str, unchanged: list[str]) -> dict:
    metadata = {
        "partnerships staged": dg.MetadataValue.int(sum(len(b.partnership_ids) for b in batches)),
        "partnerships unchanged": dg.MetadataValue.text(", ".join(unchanged) or "none"),
    }
    if batches:
        summary = pd.concat([b.staged[dataset] for b in batches], ignore_index=True)
        metadata["dagster/row_count"] = dg.MetadataValue.int(int(summary["rows"].sum()))
        metadata["by partnership"] = dg.MetadataValue.md(summary.to_markdown(index=False))
    return metadata


def _stored_table(stored: pd.DataFrame, dataset: str, rule: str) -> pd.DataFrame:
    """The last outcome of one rule for the partnerships not evaluated again, as a 'by partnership' table."""
    mine = stored[(stored["dataset"] == dataset) & (stored["rule"] == rule)] if len(stored) else stored
    return pd.DataFrame(
        {
            "partnership": mine.get("partnership_id", pd.Series(dtype=object)).to_numpy(),
            "passed": mine.get("passed", pd.Series(dtype=bool)).astype(bool).to_numpy(),
            "failing rows": mine.get("failing_rows", pd.Series(dtype=int)).astype(int).to_numpy(),
            "evaluated rows": mine.get("evaluated_rows", pd.Series(dtype=int)).astype(int).to_numpy(),
            "evaluated in run": mine.get("run_id", pd.Series(dtype=object)).to_numpy(),
        }
    )


def _last_failure_detail(stored: pd.DataFrame, dataset: str, rule: str) -> str | None:
    """What a rule said when it last failed for a partnership not evaluated again (None if it passed)."""
    if stored.empty:
        return None
    failed = stored[(stored["dataset"] == dataset) & (stored["rule"] == rule) & ~stored["passed"].astype(bool)]
    return str(failed["detail"].iloc[0]) if len(failed) and str(failed["detail"].iloc[0]) else None


def _check_results(batches: list[BatchSummary], unchanged: list[str], stored: pd.DataFrame | None = None):
    """One result per rule, over every partnership; per-partnership counts in metadata.

    Partnerships left unchanged are not validated again: their latest results in `dq_results` stand,
    and count here. A rule that last quarantined rows of an unchanged partnership is still a WARN
    with those rows, so the UI never turns a standing finding into a pass.
    """
    stored = stored if stored is not None else pd.DataFrame(columns=["partnership_id", "dataset", "rule"])
    for dataset in DATASETS:
        key = staged_key(dataset)
        for rule in (r.name for r in staged_rules(dataset)):
            kept = _stored_table(stored, dataset, rule)
            results = [b.checks[dataset, rule][0] for b in batches]
            tables = [b.checks[dataset, rule][1] for b in batches]
            by_partnership = pd.concat([*tables, kept], ignore_index=True) if tables or len(kept) else kept
            if "evaluated in run" in by_partnership:
                by_partnership["evaluated in run"] = by_partnership["evaluated in run"].fillna("this run")
            first_failure = next((r for r in results if not r.passed), results[0] if results else None)
            metadata = dict(first_failure.metadata) if first_failure else {}
            names = [n for n, v in metadata.items() if isinstance(v, dg.IntMetadataValue)] or [
                "failing rows (quarantined)",
                "evaluated rows",
            ]
            stored_counts = {
                "failing rows (quarantined)": int(kept["failing rows"].sum()),
                "evaluated rows": int(kept["evaluated rows"].sum()),
            }
            for name in names:
                metadata[name] = dg.MetadataValue.int(
                    sum(r.metadata[name].value for r in results) + stored_counts.get(name, 0)
                )
            description = first_failure.description if first_failure else None
            if first_failure is None or first_failure.passed:
                description = _last_failure_detail(stored, dataset, rule) or description
            yield dg.AssetCheckResult(
                asset_key=key,
                check_name=rule,
                passed=all(r.passed for r in results) and bool(kept["passed"].all()),
                severity=dg.AssetCheckSeverity.WARN,
                description=description,
                metadata={
                    **metadata,
                    "by partnership": dg.MetadataValue.md(
                        by_partnership.to_markdown(index=False) if len(by_partnership) else "_none_"
                    ),
                    "unchanged (not evaluated again)": dg.MetadataValue.text(", ".join(unchanged) or "none"),
                },
            )
