"""Automation: the 02:00 schedule, the new-export sensor and the run-failure sensor.

- `nightly_refresh_schedule` refreshes at 02:00 London time what changed since the last refresh
  (`operations.planning`): one run of the `nightly_refresh` job over the changed partnerships and
  everything after them, or no run (a skipped tick that says why) when nothing changed. It is on
  by default, so the daemon that `make ui` starts executes it.
- `new_export_sensor` watches the data dir: it hashes (sha256) every file each configured
  source's glob matches (`changes.fingerprints.export_file_hashes`) and keeps `{file: hash}` in
  its cursor. A partnership with a new, changed or removed file gets a run of its raw-export
  assets and everything downstream; a file whose modification time changed but whose bytes did
  not triggers nothing. The run key is the partnership plus a hash of its file changes
  (`changes.fingerprints.change_key`), so a retried tick never launches the same run twice. Off
  by default: turn it on in the UI (Automation) when partners drop files in the data dir during
  the day.
- `run_failure_alerts` records every failed run of this code location in the warehouse table
  `run_failures`, logs it and notifies the channels `AMED_ALERT_*` configure
  (`amed_pipeline.operations.failures`).

A partnership's run is its partition: its raw exports (which read only new or changed files),
its partition of the staged datasets, then the tables across partnerships and the metrics.
Several partnerships changed in one tick give several runs; the run queue lets one warehouse
writer run at a time (`amed/warehouse` tag, deploy/*.dagster.yaml).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict

import dagster as dg

from amed_pipeline.changes.fingerprints import change_key, changed_files, export_file_hashes
from amed_pipeline.config import ProgrammeConfig
from amed_pipeline.config.api_sources import is_api_format
from amed_pipeline.defs.config_errors import config_error_keys
from amed_pipeline.defs.erasure_list import ErasureListResource
from amed_pipeline.defs.jobs import all_partnerships_tags, nightly_refresh_job, partition_tags
from amed_pipeline.defs.pulls import pull_asset_key
from amed_pipeline.defs.raw_exports import raw_export_key
from amed_pipeline.defs.reports import ExportDirResource
from amed_pipeline.defs.resources import PseudonymKeyResource
from amed_pipeline.operations.failures import (
    AlertsResource,
    RunFailure,
    build_alerts_resource,
    first_line,
    innermost_message,
    record_failure,
)
from amed_pipeline.operations.planning import RefreshPlan, plan_refresh
from amed_pipeline.warehouse.resource import WarehouseResource
from amed_pipeline.watchdog import record_nothing_to_do

NIGHTLY_SCHEDULE_NAME = "nightly_refresh_schedule"
NEW_EXPORT_SENSOR_NAME = "new_export_sensor"
RUN_FAILURE_SENSOR_NAME = "run_failure_alerts"
PARTNERSHIP_TAG = "amed/partnership"
TRIGGER_TAG = "amed/trigger"


def build_nightly_schedule(config: ProgrammeConfig) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=NIGHTLY_SCHEDULE_NAME,
        job=nightly_refresh_job,
        cron_schedule="0 2 * * *",
        execution_timezone="Europe/London",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        tags={TRIGGER_TAG: "schedule"},
        description="Refresh at 02:00 London time (GMT or BST) what changed since the last refresh: "
        "the partnerships with new, changed or removed exports and everything after them; no run "
        "when nothing changed (the tick says so).",
    )
    def nightly_refresh_schedule(
        context: dg.ScheduleEvaluationContext,
        warehouse: WarehouseResource,
        pseudonym_key: PseudonymKeyResource,
        erasure_list: ErasureListResource,
        export_dir: ExportDirResource,
    ):
        tokens, _ = erasure_list.load()
        with warehouse.connect() as conn:
            plan = plan_refresh(config, conn, pseudonym_key.key_bytes(), tokens, export_dir.directory())
        if plan.nothing_to_do:
            try:  # a quiet night is a good night for the watchdog (amed_pipeline.watchdog)
                record_nothing_to_do(context.instance)
            except dg.DagsterInvariantViolationError:  # evaluated without an instance (tests, a dry run)
                pass
            return dg.SkipReason(plan.describe())
        if context.repository_def is None:
            raise dg.DagsterInvariantViolationError(f"{NIGHTLY_SCHEDULE_NAME} needs its code location's asset graph")
        selection, tags = run_scope(plan, config, context.repository_def.asset_graph)
        context.log.info(plan.describe())
        return dg.RunRequest(asset_selection=selection, tags={TRIGGER_TAG: "schedule", **tags})

    return nightly_refresh_schedule


def run_scope(
    plan: RefreshPlan, config: ProgrammeConfig, asset_graph
) -> tuple[list[dg.AssetKey] | None, dict[str, str]]:
    """The assets and partition tags of a planned refresh: the changed partnerships' raw exports,
    their partitions and everything after them; every asset and partition when only what comes
    after staging is out of date (None: the whole job)."""
    broken = config_error_keys(config)  # a partnership with a config mistake: its failing asset, every time
    if not plan.changed:
        if broken and not plan.downstream_stale:
            return broken, {}
        return None, all_partnerships_tags(config.partnership_ids)
    raw_keys = [raw_export_key(s) for p in config.partnerships if p.id in plan.changed for s in p.sources]
    # API sources: their pulls run first (offline plans mark no partnership for its pulls alone).
    raw_keys += [
        pull_asset_key(s)
        for p in config.partnerships
        if p.id in plan.changed
        for s in p.sources
        if is_api_format(s.format)
    ]
    selected = with_downstream(asset_graph, raw_keys) + broken
    return selected, partition_tags(config.partnership_ids, plan.changed)


def with_downstream(asset_graph, keys) -> list[dg.AssetKey]:
    """The keys, everything downstream in the nightly job, and the rest of any multi-asset that cannot run in part."""
    in_job = nightly_refresh_job.selection.resolve(asset_graph)
    selected = set(dg.AssetSelection.assets(*keys).downstream().resolve(asset_graph)) & in_job
    while True:
        whole = {k for key in selected for k in asset_graph.get(key).execution_set_asset_keys}
        if whole <= selected:
            return sorted(selected, key=lambda k: k.to_user_string())
        selected = set(dg.AssetSelection.assets(*(selected | whole)).downstream().resolve(asset_graph)) & in_job


def build_new_export_sensor(config: ProgrammeConfig) -> dg.SensorDefinition:
    raw_keys: dict[str, list[dg.AssetKey]] = defaultdict(list)
    for source in config.sources():
        raw_keys[source.partnership_id].append(raw_export_key(source))

    @dg.sensor(
        name=NEW_EXPORT_SENSOR_NAME,
        job=nightly_refresh_job,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Refreshes a partnership when one of its export files is new, changed (sha256 of "
        "the bytes, not the modification time) or removed in the data dir.",
    )
    def new_export_sensor(context: dg.SensorEvaluationContext):
        previous = json.loads(context.cursor) if context.cursor else {}
        current = export_file_hashes(config)
        cursor = json.dumps(
            {name: digest for files in current.values() for name, digest in files.items()}, sort_keys=True
        )
        changes = changed_files(config, previous, current)
        if not changes:
            return dg.SensorResult(
                skip_reason=dg.SkipReason(f"no new or changed export files ({len(json.loads(cursor))} watched)"),
                cursor=cursor,
            )
        if context.repository_def is None:
            raise dg.DagsterInvariantViolationError(f"{NEW_EXPORT_SENSOR_NAME} needs its code location's asset graph")
        graph = context.repository_def.asset_graph
        # One run per partnership with a change: its raw exports (only changed files are read
        # again), its partition of the staged datasets, and everything after them.
        requests = [
            dg.RunRequest(
                run_key=f"{partnership}:{change_key(changes[partnership])}",
                partition_key=partnership,
                asset_selection=with_downstream(graph, raw_keys[partnership]),
                tags={TRIGGER_TAG: "new_export", PARTNERSHIP_TAG: partnership},
            )
            for partnership in sorted(changes)
        ]
        for partnership, files in sorted(changes.items()):
            names = [f[0] for f in files]
            shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
            context.log.info(f"{partnership}: {len(names)} new, changed or removed export files: {shown}")
        return dg.SensorResult(run_requests=requests, cursor=cursor)

    return new_export_sensor


@dg.run_failure_sensor(
    name=RUN_FAILURE_SENSOR_NAME,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Records every failed run in the warehouse table run_failures, logs it and sends an "
    "alert to AMED_ALERT_WEBHOOK_URL and/or AMED_ALERT_EMAIL_TO when they are set.",
)
def run_failure_alerts(context: dg.RunFailureSensorContext, warehouse: WarehouseResource, alerts: AlertsResource):
    failure = failure_from_context(context)
    context.log.error(failure.summary())
    try:
        with warehouse.begin() as conn:
            record_failure(conn, failure)
    except Exception as exc:  # e.g. the warehouse is what is down: still alert
        context.log.error(
            f"could not record run {failure.run_id} in run_failures ({warehouse.display_url}): {first_line(str(exc))}"
        )
    delivered = alerts.notify(failure, log=context.log)
    if delivered:
        context.log.info(f"alert for run {failure.run_id} sent by {', '.join(delivered)}")


def failure_from_context(context: dg.RunFailureSensorContext) -> RunFailure:
    run = context.dagster_run
    step_failures = context.get_step_failure_events()
    if step_failures:
        error = first_line(innermost_message(step_failures[0].step_failure_data.error))
    else:  # the run failed outside a step (e.g. the code did not load): the run's own error says why
        run_error = getattr(context.failure_event.event_specific_data, "error", None)
        error = first_line(innermost_message(run_error) or context.failure_event.message)
    record = context.instance.get_run_record_by_id(run.run_id)
    ended = record.end_time if record is not None and record.end_time else None
    failed_at = dt.datetime.fromtimestamp(ended, dt.timezone.utc) if ended else dt.datetime.now(dt.timezone.utc)
    return RunFailure(
        run_id=run.run_id,
        job_name=run.job_name,
        failed_at=failed_at.replace(tzinfo=None, microsecond=0),
        error=error,
        failed_steps=tuple(dict.fromkeys(e.step_key for e in step_failures if e.step_key)),
    )


def build_automation(config: ProgrammeConfig) -> dg.Definitions:
    return dg.Definitions(
        schedules=[build_nightly_schedule(config)],
        sensors=[build_new_export_sensor(config), run_failure_alerts],
        resources={"alerts": build_alerts_resource()},
    )
