"""Retention of raw exports as a scheduled asset: `raw_export_retention` in the `operations` group.

The policy is configuration (`retention:` in `partnerships.yaml`, off by default) and the
deciding logic is pure (`amed_pipeline.privacy.retention`); this module only runs it. Run by
hand from the UI it is a dry run unless `dry_run: false` is given; the weekly schedule (Sunday
03:00 London time, on by default) enforces it. With retention off, both do nothing and say so.
The asset's metadata lists file paths relative to the data dir and their age, never content.
"""

import dagster as dg
import pandas as pd
from pydantic import Field

from amed_pipeline.config import ProgrammeConfig
from amed_pipeline.privacy.retention import enforce_retention

OPERATIONS_GROUP = "operations"
RETENTION_ASSET = dg.AssetKey("raw_export_retention")
RETENTION_JOB_NAME = "raw_export_retention_job"
RETENTION_SCHEDULE_NAME = "raw_export_retention_schedule"


class RetentionRunConfig(dg.Config):
    dry_run: bool = Field(
        default=True,
        description="List the raw exports older than the retention period without moving or deleting them.",
    )


def build_retention_definitions(programme: ProgrammeConfig) -> dg.Definitions:
    @dg.asset(
        key=RETENTION_ASSET,
        group_name=OPERATIONS_GROUP,
        kinds={"python"},
        owners=["team:data-engineering"],
        description="Raw exports older than `retention.raw_exports_days` (partnerships.yaml; off by default) "
        "are archived under `<data dir>/archive/` or deleted, per `retention.action`. Dry run by default "
        "when materialised by hand; the weekly schedule enforces it. The next refresh no longer loads them.",
    )
    def raw_export_retention(context: dg.AssetExecutionContext, config: RetentionRunConfig) -> dg.MaterializeResult:
        policy = programme.retention
        if policy.raw_exports_days is None:
            context.log.info("retention is off (retention.raw_exports_days is not set): nothing to do")
            return dg.MaterializeResult(metadata={"retention": "off", "files": dg.MetadataValue.int(0)})
        actions = enforce_retention(programme, dry_run=config.dry_run)
        verb = {"archive": "archived", "delete": "deleted"}[policy.action]
        mode = "dry run: would be " + verb if config.dry_run else verb
        context.log.info(f"{len(actions)} raw export file(s) older than {policy.raw_exports_days} days ({mode})")
        table = pd.DataFrame(
            [{"file": a.file, "age (days)": a.age_days, "to": a.destination or "(deleted)"} for a in actions]
        )
        return dg.MaterializeResult(
            metadata={
                "retention": f"{policy.raw_exports_days} days, {policy.action}",
                "dry run": dg.MetadataValue.bool(config.dry_run),
                "files": dg.MetadataValue.int(len(actions)),
                "actions": dg.MetadataValue.md(table.to_markdown(index=False) if len(table) else "_no file is older_"),
            }
        )

    retention_job = dg.define_asset_job(
        RETENTION_JOB_NAME,
        selection=dg.AssetSelection.assets(RETENTION_ASSET),
        description="Enforce the retention period of raw exports (partnerships.yaml `retention:`).",
    )
    schedule = dg.ScheduleDefinition(
        name=RETENTION_SCHEDULE_NAME,
        job=retention_job,
        cron_schedule="0 3 * * 0",
        execution_timezone="Europe/London",
        run_config=dg.RunConfig(ops={"raw_export_retention": RetentionRunConfig(dry_run=False)}),
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Every Sunday at 03:00 London time: archive or delete raw exports older than the "
        "retention period (does nothing while retention is off, the default).",
    )
    return dg.Definitions(assets=[raw_export_retention], jobs=[retention_job], schedules=[schedule])
