"""The warehouse across partnerships, computed after staging, and the checks that guard it.

Staging writes each partnership's slice of the facts; this step then recomputes what spans
partnerships (people and the role of their most recent attended booking, partnerships,
reference labels) in one transaction, and runs the blocking checks (every file readable, rows
add up, facts refer to existing dimensions). Tables are replaced whole with rows in a stable
order, so a second run over the same input changes nothing; when no partnership was staged
again and the config and reference tables are unchanged, they are kept without recomputing
(the checks still run).
"""

import dagster as dg
import pandas as pd
from sqlalchemy import func, select

from amed_pipeline.changes.fingerprints import global_fingerprint
from amed_pipeline.changes.reference import load_reference
from amed_pipeline.changes.state import record_fingerprint, stored_fingerprint
from amed_pipeline.changes.versions import GLOBAL_STEP
from amed_pipeline.config import DATASETS, ProgrammeConfig
from amed_pipeline.defs.staging import staged_key
from amed_pipeline.operations.retries import retry_only_transient
from amed_pipeline.quality.checks import examples_markdown
from amed_pipeline.warehouse import schema
from amed_pipeline.warehouse.bulk import insert_frame
from amed_pipeline.warehouse.check_results import dq_history_rows, dq_results
from amed_pipeline.warehouse.checks import PER_PARTNERSHIP_CHECKS, WAREHOUSE_CHECKS, run_warehouse_check
from amed_pipeline.warehouse.load import global_frames, load_global
from amed_pipeline.warehouse.resource import WarehouseResource

WAREHOUSE_GROUP = "warehouse"
TABLE_DESCRIPTIONS = {
    "dim_partnership": "Partnerships, from partnerships.yaml.",
    "dim_person": "People as pseudonyms (HMAC of email, else of name within a partnership) with the role "
    "of their most recent attended booking. No names or emails.",
    "ref_training_type": "Training types and labels (reference/training_types.csv).",
    "ref_profession": "Professions, labels and role groups (reference/professions.csv).",
    "ref_role_group": "Role groups and labels (reference/role_groups.csv).",
    "ingest_ledger": "One row per export file: content hash, rows read = loaded + quarantined + duplicate "
    "(written per partnership by staging, verified here after every load).",
}


def warehouse_key(table_name: str) -> dg.AssetKey:
    return dg.AssetKey(["warehouse", table_name])


# The assets this step materialises: the tables it computes across partnerships, and the ingest
# ledger, which staging writes per partnership and this step verifies after every load.
WAREHOUSE_ASSETS = (*(t.name for t in schema.GLOBAL_TABLES), "ingest_ledger")
CHECK_ASSET = {
    "all_files_readable": "ingest_ledger",
    "row_accounting_balanced": "ingest_ledger",
    "facts_reference_dimensions": "dim_person",
    "keys_unique": "dim_person",
}


def build_warehouse_assets(config: ProgrammeConfig) -> list[dg.AssetsDefinition]:
    @dg.multi_asset(
        specs=[
            dg.AssetSpec(
                warehouse_key(name),
                group_name=WAREHOUSE_GROUP,
                kinds={"sql"},
                owners=["team:data-engineering"],
                description=TABLE_DESCRIPTIONS[name],
                deps=[staged_key(d) for d in DATASETS],
            )
            for name in WAREHOUSE_ASSETS
        ],
        check_specs=[
            # An unreadable file blocks only its partnership's metrics (defs/metrics.py), not the run.
            dg.AssetCheckSpec(
                c.name,
                asset=warehouse_key(CHECK_ASSET[c.name]),
                description=c.description,
                blocking=c.name not in PER_PARTNERSHIP_CHECKS,
            )
            for c in WAREHOUSE_CHECKS
        ],
        can_subset=False,
        name="warehouse_load",
    )
    @retry_only_transient
    def warehouse_load(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        with warehouse.begin() as conn:
            fingerprint = global_fingerprint(conn, config)
            if stored_fingerprint(conn, GLOBAL_STEP) == fingerprint:
                written = {
                    t.name: int(conn.execute(select(func.count()).select_from(t)).scalar())
                    for t in schema.GLOBAL_TABLES
                }
                context.log.info(
                    f"no partnership staged again and no config change: tables across partnerships kept "
                    f"({sum(written.values())} rows), 0 rows written to {warehouse.display_url}"
                )
            else:
                # The reference tables staging loaded in this run (`changes.reference`).
                written = load_global(conn, global_frames(config, load_reference(config.reference_dir).tables))
                record_fingerprint(conn, GLOBAL_STEP, fingerprint)
                context.log.info(
                    f"wrote {sum(written.values())} rows of the tables across partnerships to {warehouse.display_url}"
                )
            failures = {c.name: run_warehouse_check(conn, c) for c in WAREHOUSE_CHECKS}
            ledger = pd.read_sql_query(select(schema.ingest_ledger), conn)
            insert_frame(conn, dq_results, _history(context.run_id, failures, ledger))
        written["ingest_ledger"] = len(ledger)
        for name in WAREHOUSE_ASSETS:
            metadata = {"dagster/row_count": dg.MetadataValue.int(written[name]), "table": name}
            if name == "ingest_ledger" and len(ledger):
                metadata["row accounting"] = dg.MetadataValue.md(_accounting_markdown(ledger))
            # The data version is the fingerprint of what the tables were computed from (`changes`).
            yield dg.MaterializeResult(
                asset_key=warehouse_key(name), metadata=metadata, data_version=dg.DataVersion(fingerprint)
            )
        for check in WAREHOUSE_CHECKS:
            failing = failures[check.name]
            if len(failing):
                context.log.error(
                    f"blocking check {check.name} failed: {len(failing)} problem(s), "
                    f"e.g. {failing.iloc[0]['source_file']}: {failing.iloc[0]['detail']}"
                )
            yield dg.AssetCheckResult(
                asset_key=warehouse_key(CHECK_ASSET[check.name]),
                check_name=check.name,
                passed=failing.empty,
                severity=dg.AssetCheckSeverity.ERROR,
                description=check.description,
                metadata={
                    "failing": dg.MetadataValue.int(len(failing)),
                    "examples": dg.MetadataValue.md(
                        examples_markdown(failing, ("partnership_id", "source_file", "detail"))
                    ),
                },
            )

    return [warehouse_load]


def _history(run_id: str, failures: dict[str, pd.DataFrame], ledger: pd.DataFrame) -> pd.DataFrame:
    evaluated = ledger.groupby("partnership_id")["rows_read"].sum() if len(ledger) else pd.Series(dtype=int)
    return pd.concat(
        [
            # Passed or failed per partnership: one partnership's unreadable file is not the others' failure.
            dq_history_rows(
                run_id,
                "warehouse",
                check.name,
                "ERROR",
                True,
                True,
                failures[check.name].groupby("partnership_id").size()
                if len(failures[check.name])
                else pd.Series(dtype=int),
                evaluated,
                check.description,
            )
            for check in WAREHOUSE_CHECKS
        ],
        ignore_index=True,
    )


def _accounting_markdown(ledger: pd.DataFrame) -> str:
    totals = (
        ledger.groupby(["partnership_id", "dataset"])[
            ["rows_read", "rows_loaded", "rows_quarantined", "rows_duplicate"]
        ]
        .sum()
        .reset_index()
    )
    return totals.to_markdown(index=False)
