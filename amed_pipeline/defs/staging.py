"""Staged datasets: every partnership's sources merged into one canonical dataset each, validated.

One step stages `staged/sessions`, `staged/bookings`, `staged/feedback` and `staged/followup`:
it applies the evaluation's semantics (`amed_pipeline.staging.datasets`) and classification from
the data dir's reference tables, then runs each dataset's Great Expectations suite
(`amed_pipeline.quality`). Every rule is an asset check on its dataset, so the UI shows which
rule failed; rows a rule rejects are quarantined (WARN) and good rows go on. One step rather
than four keeps Great Expectations' import and Dagster's per-step cost to one per run. Inputs
are whatever raw-export assets the config declares, so a new export joins in without code.
"""

import dagster as dg
import pandas as pd

from amed_pipeline.config import ProgrammeConfig
from amed_pipeline.defs.raw_exports import raw_export_key
from amed_pipeline.quality.checks import dq_history_rows, dq_results, examples_markdown, rule_check_result
from amed_pipeline.quality.staged import DATASETS, stage_and_validate
from amed_pipeline.quality.suites import SUITES
from amed_pipeline.quality.validation import GreatExpectationsResource
from amed_pipeline.staging.classification import load_reference_tables
from amed_pipeline.staging.datasets import Staged, file_accounting
from amed_pipeline.warehouse.bulk import insert_frame
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


def _input_name(source) -> str:
    return f"{source.partnership_id}__{source.name}"


def staged_metadata(staged: Staged) -> dict:
    ledger = file_accounting(staged)
    summary = pd.DataFrame(
        {
            "rows": [len(staged.rows)],
            "quarantined rows": [len(staged.quarantine.drop_duplicates(["source_file", "source_row"]))],
            "duplicate rows": [int(ledger["rows_duplicate"].sum()) if len(ledger) else 0],
            "files": [len(staged.files)],
        }
    )
    metadata = {
        "dagster/row_count": dg.MetadataValue.int(len(staged.rows)),
        "summary": dg.MetadataValue.md(summary.to_markdown(index=False)),
    }
    if len(staged.rows):
        per_partnership = staged.rows.groupby("partnership_id").size().rename("rows").reset_index()
        metadata["rows by partnership"] = dg.MetadataValue.md(per_partnership.to_markdown(index=False))
    return metadata


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


def build_staging_assets(config: ProgrammeConfig) -> list[dg.AssetsDefinition]:
    reference_dir = config.reference_dir
    sources = config.sources()
    check_specs = [
        dg.AssetCheckSpec(rule.name, asset=staged_key(dataset), description=rule.description)
        for dataset in DATASETS
        for rule in SUITES[dataset]
    ] + [
        dg.AssetCheckSpec(READ_CHECK, asset=staged_key(dataset), description="every row parsed, attributed and linked")
        for dataset in DATASETS
    ]

    @dg.multi_asset(
        outs={
            staged_key(d).to_python_identifier(): dg.AssetOut(
                key=staged_key(d), group_name=STAGING_GROUP, kinds={"pandas"}, owners=["team:data-engineering"],
                description=DESCRIPTIONS[d],
            )
            for d in DATASETS
        },
        ins={_input_name(s): dg.AssetIn(key=raw_export_key(s)) for s in sources},
        check_specs=check_specs,
        can_subset=False,
        name="staging",
    )
    def staging(context: dg.AssetExecutionContext, warehouse: WarehouseResource, great_expectations: GreatExpectationsResource, **raw_exports):
        by_dataset = {d: [raw_exports[_input_name(s)] for s in sources if s.dataset == d] for d in DATASETS}
        reference = load_reference_tables(reference_dir)
        validated = stage_and_validate(by_dataset, config, reference, validate=great_expectations.validate)
        history = []
        for dataset in DATASETS:
            result = validated[dataset]
            key = staged_key(dataset)
            yield dg.Output(result.staged, output_name=key.to_python_identifier(), metadata=staged_metadata(result.staged))
            evaluated = result.evaluated
            evaluated_by = evaluated.groupby("partnership_id").size() if len(evaluated) else pd.Series(dtype=int)
            for outcome in result.outcomes:
                yield rule_check_result(key, outcome, evaluated)
                failing = evaluated.iloc[outcome.failing_positions]
                history.append(dq_history_rows(
                    context.run_id, dataset, outcome.rule, "WARN", False, outcome.success,
                    failing.groupby("partnership_id").size() if len(failing) else pd.Series(dtype=int), evaluated_by,
                    outcome.description,
                ))
            read_result = _read_check(key, result.staged)
            yield read_result
            quarantined = result.staged.quarantine[result.staged.quarantine["source_row"].astype(int) > 0]
            history.append(dq_history_rows(
                context.run_id, dataset, READ_CHECK, "WARN", False, read_result.passed,
                quarantined.drop_duplicates(["source_file", "source_row"]).groupby("partnership_id").size() if len(quarantined) else pd.Series(dtype=int),
                evaluated_by, "rows refused while reading or staging",
            ))
        with warehouse.begin() as conn:
            insert_frame(conn, dq_results, pd.concat(history, ignore_index=True))

    return [staging]
