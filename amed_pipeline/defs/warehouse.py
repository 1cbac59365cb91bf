"""The warehouse load: every staged dataset into the SQL warehouse in one transaction.

One multi-asset writes all tables together, so the warehouse never shows a half-loaded night
and Dagster's parallel steps never compete for the database. Each table is replaced whole
(idempotent: a second run over the same input changes nothing).
"""


import dagster as dg
import pandas as pd

from amed_pipeline.config import ProgrammeConfig
from amed_pipeline.defs.staging import staged_key
from amed_pipeline.quality.checks import dq_history_rows, dq_results, examples_markdown
from amed_pipeline.quality.warehouse_checks import WAREHOUSE_CHECKS, run_warehouse_check
from amed_pipeline.staging.classification import load_reference_tables
from amed_pipeline.staging.datasets import Staged
from amed_pipeline.warehouse import schema
from amed_pipeline.warehouse.bulk import insert_frame
from amed_pipeline.warehouse.load import load_warehouse, warehouse_frames
from amed_pipeline.warehouse.resource import WarehouseResource

WAREHOUSE_GROUP = "warehouse"
TABLE_DESCRIPTIONS = {
    "dim_partnership": "Partnerships, from partnerships.yaml.",
    "dim_session": "Sessions: key, partnership, reference, title, training type, start (London time), delivery mode.",
    "dim_person": "People as pseudonyms (HMAC of email, else of name within a partnership) with the role "
    "of their most recent attended booking. No names or emails.",
    "fact_booking": "One row per person per session: attended, booked or cancelled.",
    "fact_feedback": "End-of-session feedback responses: ratings 0–10 (blank = unanswered), setting.",
    "fact_followup": "Follow-up responses: usefulness, change in conversations, setting.",
    "followup_comment": "Free-text 'what are you doing differently?' answers, with no link to any person.",
    "job_title_classification": "Each distinct job title and the profession and role group it was classified as.",
    "ref_training_type": "Training types and labels (reference/training_types.csv).",
    "ref_profession": "Professions, labels and role groups (reference/professions.csv).",
    "ref_role_group": "Role groups and labels (reference/role_groups.csv).",
    "ingest_ledger": "One row per export file: content hash, rows read = loaded + quarantined + duplicate.",
    "quarantine": "Every row (or whole file) that could not load: file, row, column, rule and reason.",
}


def warehouse_key(table_name: str) -> dg.AssetKey:
    return dg.AssetKey(["warehouse", table_name])


def build_warehouse_assets(config: ProgrammeConfig) -> list[dg.AssetsDefinition]:
    @dg.multi_asset(
        specs=[
            dg.AssetSpec(
                warehouse_key(table.name),
                group_name=WAREHOUSE_GROUP,
                kinds={"sql"},
                owners=["team:data-engineering"],
                description=TABLE_DESCRIPTIONS[table.name],
                deps=[staged_key(d) for d in ("sessions", "bookings", "feedback", "followup")],
            )
            for table in schema.LOADED_TABLES
        ],
        ins={f"staged_{d}": dg.AssetIn(key=staged_key(d)) for d in ("sessions", "bookings", "feedback", "followup")},
        check_specs=[
            dg.AssetCheckSpec(c.name, asset=warehouse_key(c.table), description=c.description, blocking=True)
            for c in WAREHOUSE_CHECKS
        ],
        can_subset=False,
        name="warehouse_load",
    )
    def warehouse_load(
        context: dg.AssetExecutionContext,
        warehouse: WarehouseResource,
        staged_sessions: Staged,
        staged_bookings: Staged,
        staged_feedback: Staged,
        staged_followup: Staged,
    ):
        reference = load_reference_tables(config.reference_dir)
        frames = warehouse_frames(config, reference, staged_sessions, staged_bookings, staged_feedback, staged_followup)
        with warehouse.begin() as conn:
            written = load_warehouse(conn, frames)
            failures = {c.name: run_warehouse_check(conn, c) for c in WAREHOUSE_CHECKS}
            insert_frame(conn, dq_results, _history(context.run_id, failures, frames))
        context.log.info(f"loaded {sum(written.values())} rows into {warehouse.display_url}")
        ledger = frames["ingest_ledger"]
        for table in schema.LOADED_TABLES:
            metadata = {"dagster/row_count": dg.MetadataValue.int(written[table.name]), "table": table.name}
            if table.name == "ingest_ledger" and len(ledger):
                metadata["row accounting"] = dg.MetadataValue.md(_accounting_markdown(ledger))
            yield dg.MaterializeResult(asset_key=warehouse_key(table.name), metadata=metadata)
        for check in WAREHOUSE_CHECKS:
            failing = failures[check.name]
            if len(failing):
                context.log.error(f"blocking check {check.name} failed: {len(failing)} problem(s), e.g. {failing.iloc[0]['source_file']}: {failing.iloc[0]['detail']}")
            yield dg.AssetCheckResult(
                asset_key=warehouse_key(check.table),
                check_name=check.name,
                passed=failing.empty,
                severity=dg.AssetCheckSeverity.ERROR,
                description=check.description,
                metadata={
                    "failing": dg.MetadataValue.int(len(failing)),
                    "examples": dg.MetadataValue.md(examples_markdown(failing, ("partnership_id", "source_file", "detail"))),
                },
            )

    return [warehouse_load]


def _history(run_id: str, failures: dict[str, pd.DataFrame], frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    ledger = frames["ingest_ledger"]
    evaluated = ledger.groupby("partnership_id")["rows_read"].sum() if len(ledger) else pd.Series(dtype=int)
    return pd.concat(
        [
            dq_history_rows(run_id, "warehouse", check.name, "ERROR", True, failures[check.name].empty,
                            failures[check.name].groupby("partnership_id").size() if len(failures[check.name]) else pd.Series(dtype=int),
                            evaluated, check.description)
            for check in WAREHOUSE_CHECKS
        ],
        ignore_index=True,
    )


def _accounting_markdown(ledger: pd.DataFrame) -> str:
    totals = ledger.groupby(["partnership_id", "dataset"])[
        ["rows_read", "rows_loaded", "rows_quarantined", "rows_duplicate"]
    ].sum().reset_index()
    return totals.to_markdown(index=False)
