"""Scope: the schedule, the new-export sensor, the retry policy and the run-failure alerts.

The sensor is evaluated with `build_sensor_context` on a copy of the sample data dir: hashes in
the cursor, one run per changed partnership (or one of everything when the instance has never
materialised the other partnerships' raw exports), nothing for a touched but unchanged file. A
slow test executes the run a sensor requests. The failure sensor is fed a real failed run; its
webhook is a local HTTP server on 127.0.0.1 and its e-mail a local SMTP listener.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import dagster as dg
import pytest

from amed_pipeline.definitions import build_definitions
from amed_pipeline.defs.automation import (
    NEW_EXPORT_SENSOR_NAME,
    NIGHTLY_SCHEDULE_NAME,
    PARTNERSHIP_TAG,
    RUN_FAILURE_SENSOR_NAME,
)
from amed_pipeline.defs.jobs import NIGHTLY_JOB_NAME, all_partnerships_tags
from amed_pipeline.operations.failures import AlertsResource, build_alerts_resource
from amed_pipeline.warehouse.resource import WarehouseResource
from amed_pipeline_tests.pipeline_runs import SAMPLE_DATA_DIR, TEST_KEY, env, metric, read_table

PARTNERSHIPS = ("active_oxfordshire", "get_berkshire_active", "leap")
LEAP_FILE = "raw/leap/sessions/Leap_Active_Medicine_courses.csv"


@pytest.fixture
def data_copy(tmp_path) -> Path:
    """The sample data dir (config, reference tables, raw exports) copied so files can change."""
    target = tmp_path / "data"
    shutil.copytree(SAMPLE_DATA_DIR, target, ignore=shutil.ignore_patterns("warehouse", "exports", ".secrets"))
    return target


@pytest.fixture
def defs(data_copy) -> dg.Definitions:
    return build_definitions(data_copy, "duckdb:///:memory:")


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def tick(defs, instance, cursor=None) -> dg.SensorResult:
    sensor = defs.get_repository_def().get_sensor_def(NEW_EXPORT_SENSOR_NAME)
    return sensor(dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs))


def raw_keys(defs, partnership=None) -> set[dg.AssetKey]:
    graph = defs.get_repository_def().asset_graph
    return {k for k in graph.get_all_asset_keys() if k.path[0] in PARTNERSHIPS and partnership in (None, k.path[0])}


def test_schedule_runs_the_nightly_job_at_two_in_the_morning_london_time(defs):
    nightly_refresh_schedule = defs.get_repository_def().get_schedule_def(NIGHTLY_SCHEDULE_NAME)
    assert nightly_refresh_schedule.job_name == NIGHTLY_JOB_NAME
    assert nightly_refresh_schedule.cron_schedule == "0 2 * * *"
    assert nightly_refresh_schedule.execution_timezone == "Europe/London"
    assert nightly_refresh_schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    # An empty warehouse: every partnership changed, so every partition in one run.
    (request,) = nightly_refresh_schedule.evaluate_tick(schedule_context(defs)).run_requests
    run_tags = request.tags
    assert run_tags["dagster/asset_partition_range_start"] == PARTNERSHIPS[0]
    assert run_tags["dagster/asset_partition_range_end"] == PARTNERSHIPS[-1]
    assert raw_keys(defs) <= set(request.asset_selection)


def schedule_context(defs) -> dg.ScheduleEvaluationContext:
    resources = {name: defs.resources[name] for name in ("warehouse", "pseudonym_key", "erasure_list", "export_dir")}
    return dg.build_schedule_context(resources=resources, repository_def=defs.get_repository_def())


def test_the_schedule_refreshes_what_changed_and_skips_a_night_without_changes(data_copy, tmp_path):
    """After a full run: no run when nothing changed; a new leap export: leap's partition and everything after it."""
    url = f"duckdb:///{tmp_path}/warehouse.duckdb"
    defs = build_definitions(data_copy, url, export_dir=tmp_path / "exports", pseudonym_key=TEST_KEY)
    schedule = defs.get_repository_def().get_schedule_def(NIGHTLY_SCHEDULE_NAME)
    full = defs.resolve_job_def(NIGHTLY_JOB_NAME).execute_in_process(tags=all_partnerships_tags(list(PARTNERSHIPS)))
    assert full.success
    quiet = schedule.evaluate_tick(schedule_context(defs))
    assert not quiet.run_requests and "nothing changed" in quiet.skip_message
    path = data_copy / LEAP_FILE
    path.write_bytes(path.read_bytes() + b"\n")
    (request,) = schedule.evaluate_tick(schedule_context(defs)).run_requests
    assert request.tags["dagster/partition"] == "leap"
    selection = set(request.asset_selection)
    assert raw_keys(defs, "leap") <= selection and not (raw_keys(defs) - raw_keys(defs, "leap")) & selection
    assert dg.AssetKey(["metrics", "metric_values"]) in selection


def test_code_location_has_the_schedule_and_both_sensors(defs):
    repository = defs.get_repository_def()
    assert NIGHTLY_SCHEDULE_NAME in {s.name for s in repository.schedule_defs}
    assert {s.name for s in repository.sensor_defs} >= {NEW_EXPORT_SENSOR_NAME, RUN_FAILURE_SENSOR_NAME}


def test_nightly_job_retries_steps_with_exponential_backoff(defs):
    policy = defs.resolve_job_def(NIGHTLY_JOB_NAME).op_retry_policy
    assert policy.max_retries == 3 and policy.backoff == dg.Backoff.EXPONENTIAL and policy.delay > 0


def test_first_tick_requests_one_run_per_partnership(defs, instance):
    result = tick(defs, instance)
    assert sorted(r.tags[PARTNERSHIP_TAG] for r in result.run_requests) == list(PARTNERSHIPS)
    assert sorted(r.partition_key for r in result.run_requests) == list(PARTNERSHIPS)
    assert len({r.run_key for r in result.run_requests}) == 3
    cursor = json.loads(result.cursor)
    assert LEAP_FILE in cursor and len(cursor[LEAP_FILE]) == 64  # a sha256 per file


def test_cursor_survives_and_only_changed_bytes_trigger_a_run(defs, instance, data_copy):
    cursor = tick(defs, instance).cursor

    quiet = tick(defs, instance, cursor)
    assert not quiet.run_requests and quiet.skip_reason is not None
    assert quiet.cursor == cursor

    path = data_copy / LEAP_FILE
    later = dt.datetime.now().timestamp() + 3600
    os.utime(path, (later, later))  # touched, same bytes
    touched = tick(defs, instance, cursor)
    assert not touched.run_requests

    path.write_bytes(path.read_bytes() + b"\n")
    changed = tick(defs, instance, cursor)
    assert len(changed.run_requests) == 1
    request = changed.run_requests[0]
    assert request.tags[PARTNERSHIP_TAG] == "leap" and request.run_key.startswith("leap:")
    assert request.partition_key == "leap"
    selection = set(request.asset_selection)
    assert raw_keys(defs, "leap") <= selection
    assert not (raw_keys(defs) - raw_keys(defs, "leap")) & selection, "other partnerships' raw exports re-read"
    assert {
        dg.AssetKey(["staged", "sessions"]),
        dg.AssetKey(["warehouse", "dim_person"]),
        dg.AssetKey(["metrics", "metric_values"]),
        dg.AssetKey(["metrics", "metric_definitions"]),
    } <= selection
    # A retried tick asks for the same run key (Dagster launches a run key once); the new cursor is quiet.
    assert tick(defs, instance, cursor).run_requests[0].run_key == request.run_key
    assert not tick(defs, instance, changed.cursor).run_requests


def test_new_and_removed_files_trigger_their_partnership(defs, instance, data_copy):
    cursor = tick(defs, instance).cursor
    eventbrite = data_copy / "raw/get_berkshire_active/eventbrite"
    shutil.copyfile(next(eventbrite.glob("*.csv")), eventbrite / "GBA_attendee_summary_2021-08.csv")
    added = tick(defs, instance, cursor)
    assert [r.tags[PARTNERSHIP_TAG] for r in added.run_requests] == ["get_berkshire_active"]
    (data_copy / LEAP_FILE).unlink()
    removed = tick(defs, instance, added.cursor)
    assert [r.tags[PARTNERSHIP_TAG] for r in removed.run_requests] == ["leap"]
    assert LEAP_FILE not in json.loads(removed.cursor)


@pytest.mark.slow
def test_a_run_the_sensor_requests_for_one_partnership_succeeds(data_copy, tmp_path):
    """After a full run, the sensor's leap run (its partition) executes and the warehouse still has every partnership."""
    from amed_pipeline.definitions import nightly_job

    url = f"duckdb:///{tmp_path}/warehouse.duckdb"
    home = tmp_path / "dagster_home"
    home.mkdir()
    with env(
        AMED_DATA_DIR=data_copy,
        AMED_WAREHOUSE_URL=url,
        AMED_EXPORT_DIR=tmp_path / "exports",
        AMED_PSEUDONYM_KEY=TEST_KEY,
        DAGSTER_HOME=home,
    ):
        defs = build_definitions()
        with dg.DagsterInstance.get() as instance:
            full = dg.execute_job(
                dg.reconstructable(nightly_job), instance=instance, tags=all_partnerships_tags(list(PARTNERSHIPS))
            )
            assert full.success
            cursor = tick(defs, instance).cursor  # one run per partnership: all are "new" to the sensor
            path = data_copy / LEAP_FILE
            path.write_bytes(path.read_bytes() + b"\n")
            (request,) = tick(defs, instance, cursor).run_requests
            partial = dg.execute_job(
                dg.reconstructable(nightly_job),
                instance=instance,
                asset_selection=request.asset_selection,
                tags={**request.tags, "dagster/partition": request.partition_key},
            )
            assert partial.success
            materialised = {e.asset_key for e in partial.get_asset_materialization_events()}
            assert (
                raw_keys(defs, "leap") <= materialised and not (raw_keys(defs) - raw_keys(defs, "leap")) & materialised
            )
    values = read_table(url, "metric_values")
    assert metric(values, "people_trained")["value"] == 1301
    assert set(values["partnership_id"]) >= {*PARTNERSHIPS, "all"}


# --- run-failure alerts ---------------------------------------------------------------------------


class Webhook:
    """A local HTTP endpoint that keeps every JSON body POSTed to it."""

    def __init__(self):
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append({"path": self.path, "type": self.headers["Content-Type"], "json": json.loads(body)})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/amed"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class SmtpListener(socketserver.ThreadingTCPServer):
    """Just enough SMTP to accept one message on 127.0.0.1 and keep its text."""

    allow_reuse_address = True
    daemon_threads = True

    def __init__(self):
        self.messages = []
        listener = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                self.wfile.write(b"220 localhost test SMTP\r\n")
                while line := self.rfile.readline():
                    command = line.decode().strip().upper()
                    if command.startswith("DATA"):
                        self.wfile.write(b"354 end with .\r\n")
                        lines = []
                        while (data := self.rfile.readline()) not in (b".\r\n", b""):
                            lines.append(data.decode())
                        listener.messages.append("".join(lines))
                        self.wfile.write(b"250 queued\r\n")
                    elif command.startswith("QUIT"):
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:
                        self.wfile.write(b"250 ok\r\n")

        super().__init__(("127.0.0.1", 0), Handler)
        self.port = self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True).start()


@dg.op
def load_the_warehouse():
    raise ConnectionError("could not reach the warehouse (seen in a row from jo.bloggs@example.org)\nsecond line")


@dg.job
def failing_job():
    load_the_warehouse()


def test_failed_run_is_recorded_logged_and_posted_to_the_webhook(tmp_path):
    url = f"duckdb:///{tmp_path}/warehouse.duckdb"
    smtp = SmtpListener()
    try:
        with (
            Webhook() as webhook,
            dg.instance_for_test() as instance,
            env(
                AMED_ALERT_WEBHOOK_URL=webhook.url,
                AMED_ALERT_SMTP_HOST="127.0.0.1",
                AMED_ALERT_SMTP_PORT=smtp.port,
                AMED_ALERT_EMAIL_TO="evaluation-team@example.org",
            ),
        ):
            result = failing_job.execute_in_process(instance=instance, raise_on_error=False)
            assert not result.success
            from amed_pipeline.defs.automation import run_failure_alerts

            context = dg.build_run_status_sensor_context(
                sensor_name=RUN_FAILURE_SENSOR_NAME,
                dagster_event=result.get_run_failure_event(),
                dagster_instance=instance,
                dagster_run=result.dagster_run,
                resources={"warehouse": WarehouseResource(url=url), "alerts": build_alerts_resource()},
            ).for_run_failure()
            run_failure_alerts(context)
    finally:
        smtp.shutdown()
        smtp.server_close()

    rows = read_table(url, "run_failures")
    assert len(rows) == 1
    row = rows.iloc[0]
    assert row["run_id"] == result.run_id and row["job_name"] == "failing_job"
    assert row["failed_steps"] == "load_the_warehouse"
    assert row["error"].startswith("ConnectionError: could not reach the warehouse")
    assert "[email]" in row["error"] and "@" not in row["error"] and "second line" not in row["error"]
    assert (
        abs((dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - row["failed_at"].to_pydatetime()).total_seconds())
        < 300
    )

    (post,) = webhook.received
    assert post["path"] == "/hooks/amed" and post["type"] == "application/json"
    assert post["json"]["run_id"] == result.run_id and post["json"]["job"] == "failing_job"
    assert post["json"]["error"] == row["error"] and result.run_id in post["json"]["text"]

    (message,) = smtp.messages
    assert "evaluation-team@example.org" in message and result.run_id in message and "jo.bloggs" not in message


def test_a_broken_webhook_is_logged_not_raised():
    from amed_pipeline.operations.failures import RunFailure

    alerts = AlertsResource(webhook_url="http://127.0.0.1:9/unreachable", timeout_seconds=2)
    failure = RunFailure("r1", NIGHTLY_JOB_NAME, dt.datetime(2026, 1, 1, 2, 5), "OSError: disk full")
    assert alerts.notify(failure) == []
