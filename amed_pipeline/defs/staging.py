"""Staged datasets, partitioned by partnership: each partnership's landed rows, staged and validated.

One step stages `staged/sessions`, `staged/bookings`, `staged/feedback` and `staged/followup` for
the partnerships (partitions) of the run: it reads their landed rows (`warehouse.landing`),
applies the evaluation's semantics (`amed_pipeline.staging.datasets`) and classification from
the reference tables, runs each dataset's Great Expectations suite (`amed_pipeline.quality`) and
replaces the partnership's slice of the warehouse tables (dim_session, the facts, quarantine,
ingest ledger). A partnership whose landed files, config and reference tables are unchanged since
it was last staged is skipped: nothing is parsed, validated or written.

Every rule is an asset check on its dataset, so the UI shows which rule failed, with counts per
partnership; rows a rule rejects are quarantined (WARN) and good rows go on. The nightly run
covers every partition in one step (single-run backfill policy), so Great Expectations is
imported once; one partnership can be re-run or backfilled alone by its partition key.
"""

import hashlib
import json
from pathlib import Path

import dagster as dg
import pandas as pd

from amed_pipeline.config import ProgrammeConfig
from amed_pipeline.defs.raw_exports import raw_export_key
from amed_pipeline.quality.checks import dq_history_rows, dq_results, examples_markdown, rule_check_result
from amed_pipeline.quality.staged import DATASETS, stage_and_validate
from amed_pipeline.quality.suites import SUITES
from amed_pipeline.quality.validation import GreatExpectationsResource
from amed_pipeline.staging.classification import load_reference_tables
from amed_pipeline.staging.datasets import RawExport, Staged
from amed_pipeline.warehouse.bulk import insert_frame
from amed_pipeline.warehouse.landing import (
    partnership_fingerprint_rows,
    read_free_text,
    read_landed,
    record_staged,
    staged_fingerprint,
)
from amed_pipeline.warehouse.load import load_partnership, partnership_frames
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


def _read_check(asset_key: dg.AssetKey, staged: Staged) -> dg.AssetCheckResult:
    """WARN for rows refused while reading or staging (unparseable values, no person, no session)."""
    quarantine = staged.quarantine[staged.quarantine["source_row"].astype(int) > 0]
    rejected = quarantine.drop_duplicates(["source_file", "source_row"])
    by_rule = quarantine.groupby("rule").size().rename("rows").reset_index() if len(quarantine) else pd.DataFrame()
    return dg.AssetCheckResult(
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


# Bump when staging semantics change: every partnership is then staged again on the next run.
SEMANTICS_VERSION = "1"


def partnership_partitions(config: ProgrammeConfig) -> dg.StaticPartitionsDefinition:
    """One partition per partnership, keys from the config."""
    return dg.StaticPartitionsDefinition(config.partnership_ids)


def staging_fingerprint(conn, config: ProgrammeConfig, partnership_id: str, reference_dir: Path) -> str:
    """Everything a partnership's staged slice depends on: its landed files, its config, the rules."""
    partnership = next(p for p in config.partnerships if p.id == partnership_id)
    reference = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(reference_dir.glob("*.csv"))}
    text = json.dumps(
        {
            "files": partnership_fingerprint_rows(conn, partnership_id),
            "sources": [(s.name, s.dataset, s.format, s.path, s.options) for s in partnership.sources],
            "programme": [config.start, config.end],
            "reference": reference,
            "semantics": SEMANTICS_VERSION,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def build_staging_assets(config: ProgrammeConfig) -> list[dg.AssetsDefinition]:
    reference_dir = config.reference_dir
    sources = config.sources()
    partitions = partnership_partitions(config)
    check_specs = [
        dg.AssetCheckSpec(rule.name, asset=staged_key(dataset), description=rule.description)
        for dataset in DATASETS
        for rule in SUITES[dataset]
    ] + [
        dg.AssetCheckSpec(READ_CHECK, asset=staged_key(dataset), description="every row parsed, attributed and linked")
        for dataset in DATASETS
    ]

    @dg.multi_asset(
        specs=[
            dg.AssetSpec(
                staged_key(d), group_name=STAGING_GROUP, kinds={"pandas", "sql"}, owners=["team:data-engineering"],
                description=DESCRIPTIONS[d], deps=[raw_export_key(s) for s in sources if s.dataset == d],
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
    def staging(context: dg.AssetExecutionContext, warehouse: WarehouseResource, great_expectations: GreatExpectationsResource):
        reference = load_reference_tables(reference_dir)
        staged: dict[str, dict] = {}
        unchanged: list[str] = []
        for partnership_id in context.partition_keys:
            with warehouse.connect() as conn:
                fingerprint = staging_fingerprint(conn, config, partnership_id, reference_dir)
                if staged_fingerprint(conn, partnership_id) == fingerprint:
                    unchanged.append(partnership_id)
                    continue
                exports = {
                    d: [RawExport(partnership_id, "landing", d, *read_landed(conn, d, partnership_id))] for d in DATASETS
                }
                job_titles, comments = read_free_text(conn, partnership_id)
            validated = stage_and_validate(exports, config, reference, validate=great_expectations.validate)
            frames = partnership_frames(
                *(validated[d].staged for d in DATASETS), job_titles, comments, reference.role_group_of
            )
            history = _history(context.run_id, validated)
            with warehouse.begin() as conn:
                load_partnership(conn, partnership_id, frames)
                insert_frame(conn, dq_results, history)
                record_staged(conn, partnership_id, fingerprint)
            staged[partnership_id] = validated
        if unchanged:
            context.log.info(f"unchanged since last staged, not staged again: {', '.join(unchanged)}")
        for dataset in DATASETS:
            results = [staged[p][dataset] for p in staged]
            yield dg.MaterializeResult(asset_key=staged_key(dataset), metadata=_staged_metadata(results, unchanged))
        yield from _check_results(staged, unchanged, warehouse)

    return [staging]


def _history(run_id: str, validated: dict) -> pd.DataFrame:
    rows = []
    for dataset in DATASETS:
        result = validated[dataset]
        evaluated = result.evaluated
        evaluated_by = evaluated.groupby("partnership_id").size() if len(evaluated) else pd.Series(dtype=int)
        for outcome in result.outcomes:
            failing = evaluated.iloc[outcome.failing_positions]
            rows.append(dq_history_rows(
                run_id, dataset, outcome.rule, "WARN", False, outcome.success,
                failing.groupby("partnership_id").size() if len(failing) else pd.Series(dtype=int), evaluated_by,
                outcome.description,
            ))
        quarantined = result.staged.quarantine[result.staged.quarantine["source_row"].astype(int) > 0]
        rows.append(dq_history_rows(
            run_id, dataset, READ_CHECK, "WARN", False, quarantined.empty,
            quarantined.drop_duplicates(["source_file", "source_row"]).groupby("partnership_id").size() if len(quarantined) else pd.Series(dtype=int),
            evaluated_by, "rows refused while reading or staging",
        ))
    return pd.concat(rows, ignore_index=True)


def _staged_metadata(results: list, unchanged: list[str]) -> dict:
    frames = [r.staged for r in results]
    rows = pd.concat([f.rows for f in frames], ignore_index=True) if frames else pd.DataFrame()
    metadata = {
        "partnerships staged": dg.MetadataValue.int(len(frames)),
        "partnerships unchanged": dg.MetadataValue.text(", ".join(unchanged) or "none"),
    }
    if frames:
        metadata["dagster/row_count"] = dg.MetadataValue.int(len(rows))
        summary = pd.DataFrame(
            [
                {
                    "partnership": f.rows["partnership_id"].iloc[0] if len(f.rows) else (f.files[0].partnership_id if f.files else ""),
                    "rows": len(f.rows),
                    "quarantined rows": len(f.quarantine.drop_duplicates(["source_file", "source_row"])),
                    "files": len(f.files),
                }
                for f in frames
            ]
        )
        metadata["by partnership"] = dg.MetadataValue.md(summary.to_markdown(index=False))
    return metadata


def _check_results(staged: dict, unchanged: list[str], warehouse: WarehouseResource):
    """One result per rule, over the partnerships staged in this run; per-partnership counts in metadata.

    Partnerships left unchanged are not validated again: their latest results stand in `dq_results`.
    """
    for dataset in DATASETS:
        key = staged_key(dataset)
        per_partnership = {p: staged[p][dataset] for p in staged}
        for rule in [r.name for r in SUITES[dataset]] + [READ_CHECK]:
            if rule == READ_CHECK:
                results = [_read_check(key, v.staged) for v in per_partnership.values()]
            else:
                results = [
                    rule_check_result(key, next(o for o in v.outcomes if o.rule == rule), v.evaluated)
                    for v in per_partnership.values()
                ]
            if not results:
                yield dg.AssetCheckResult(
                    asset_key=key, check_name=rule, passed=True, severity=dg.AssetCheckSeverity.WARN,
                    metadata={"not evaluated again: input unchanged for": dg.MetadataValue.text(", ".join(unchanged))},
                )
                continue
            table = pd.DataFrame(
                [
                    {"partnership": p, "passed": r.passed, **{k: v.value for k, v in r.metadata.items() if isinstance(v, dg.IntMetadataValue)}}
                    for p, r in zip(per_partnership, results)
                ]
            )
            first_failure = next((r for r in results if not r.passed), results[0])
            yield dg.AssetCheckResult(
                asset_key=key,
                check_name=rule,
                passed=all(r.passed for r in results),
                severity=dg.AssetCheckSeverity.WARN,
                description=first_failure.description,
                metadata={
                    **first_failure.metadata,
                    "by partnership": dg.MetadataValue.md(table.to_markdown(index=False)),
                    "unchanged (not evaluated again)": dg.MetadataValue.text(", ".join(unchanged) or "none"),
                },
            )
