"""Scope: a night without a successful refresh is noticed (issue 15, item 2).

The watchdog code location never imports the partnership config; its check alerts a local
webhook when no nightly refresh succeeded for `AMED_WATCHDOG_MAX_HOURS`, once a day, not when a
quiet night's schedule tick said "nothing changed", not while silenced. For real: `dagster dev`
with workspace.yaml and a broken partnerships.yaml: the main location fails to load, the watchdog
location loads and its sensor, run by the real daemon, posts the alert. (The schedule switched off
through the UI's GraphQL API is in test_webserver.py.)
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import dagster as dg
import pytest

from amed_pipeline.defs.automation import NIGHTLY_SCHEDULE_NAME
from amed_pipeline.defs.jobs import NIGHTLY_JOB_NAME
from amed_pipeline.operations.failures import AlertsResource
from amed_pipeline.watchdog import (
    WATCHDOG_LOCATION,
    WATCHDOG_SENSOR_NAME,
    WATCHED_JOB,
    WATCHED_SCHEDULE,
    WatchdogResource,
    alert,
    check,
    record_nothing_to_do,
)
from amed_pipeline_tests.pipeline_runs import PROJECT_ROOT, SAMPLE_DATA_DIR
from amed_pipeline_tests.processes import free_port, stop_process_group
from amed_pipeline_tests.test_automation import Webhook

NOW = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.timezone.utc)


def test_the_watchdog_names_the_main_locations_job_and_schedule():
    assert (WATCHED_JOB, WATCHED_SCHEDULE) == (NIGHTLY_JOB_NAME, NIGHTLY_SCHEDULE_NAME)


def test_the_watchdog_location_does_not_depend_on_the_partnership_config():
    code = (
        "import sys, amed_pipeline.watchdog as w; w.defs(); "
        "print([m for m in sys.modules if m.startswith(('amed_pipeline.config', 'amed_pipeline.defs', 'amed_pipeline.definitions'))])"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "AMED_DATA_DIR": "/nonexistent"},
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"


def test_a_missed_night_alerts_once_a_day_and_a_quiet_night_does_not(tmp_path):
    watchdog = WatchdogResource(max_hours=26)
    watching = {"watching_since": (NOW - dt.timedelta(hours=30)).isoformat()}
    with dg.instance_for_test() as instance, Webhook() as webhook:
        overdue, message, cursor = check(instance, watchdog, watching, now=NOW)
        assert overdue is not None and "no successful nightly refresh" in message
        assert f"no {WATCHED_JOB} run is recorded" in message
        assert alert(AlertsResource(webhook_url=webhook.url), overdue) == ["webhook"]
        (post,) = webhook.received
        assert (
            post["json"]["event"] == "missed_refresh" and "switch missed_refresh_watchdog off" in post["json"]["text"]
        )

        # Still overdue an hour later: no second alert until a day has passed.
        again, message, cursor = check(instance, watchdog, cursor, now=NOW + dt.timedelta(hours=1))
        assert again is None and "next reminder" in message
        reminder, _, _ = check(instance, watchdog, cursor, now=NOW + dt.timedelta(hours=25))
        assert reminder is not None

        # A known outage, silenced.
        silenced, message, _ = check(
            instance, WatchdogResource(max_hours=26, silence_until="2026-12-01"), watching, now=NOW
        )
        assert silenced is None and "silenced" in message

        # The schedule found nothing to do last night: on time.
        record_nothing_to_do(instance, NOW - dt.timedelta(hours=7))
        on_time, message, _ = check(instance, watchdog, watching, now=NOW)
        assert on_time is None and "on time" in message


@pytest.mark.slow
def test_the_watchdog_alerts_when_the_main_code_location_cannot_load(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(SAMPLE_DATA_DIR, data, ignore=shutil.ignore_patterns("raw", "warehouse", "exports"))
    config = data / "partnerships.yaml"
    config.write_text(config.read_text().replace("programme:\n", "programme:\n  - not: a mapping\n", 1))
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(PROJECT_ROOT / "deploy" / "local.dagster.yaml", home / "dagster.yaml")
    port = free_port()
    with Webhook() as webhook:
        environment = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AMED_", "DAGSTER_"))},
            "DAGSTER_HOME": str(home),
            "AMED_DATA_DIR": str(data),
            "AMED_ALERT_WEBHOOK_URL": webhook.url,
            "AMED_WATCHDOG_MAX_HOURS": "0",
        }
        log_path = tmp_path / "dagster_dev.log"
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                [
                    str(Path(sys.executable).with_name("dagster")),
                    "dev",
                    "-w",
                    "workspace.yaml",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port),
                ],
                cwd=PROJECT_ROOT,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                statuses = {}
                deadline = time.monotonic() + 240
                while time.monotonic() < deadline and not (webhook.received and len(statuses) == 2):
                    assert process.poll() is None, log_path.read_text()[-3000:]
                    statuses = location_statuses(port) or statuses
                    time.sleep(2)
            finally:
                stop_process_group(process)
    assert webhook.received, f"no alert within 240 s:\n{log_path.read_text()[-3000:]}"
    assert statuses.get("amed_pipeline") == "PythonError", statuses  # the main location did not load
    assert statuses.get(WATCHDOG_LOCATION) == "RepositoryLocation", statuses
    post = webhook.received[0]["json"]
    assert post["event"] == "missed_refresh" and "no successful nightly refresh" in post["text"]
    assert WATCHDOG_SENSOR_NAME in post["text"]


def location_statuses(port: int) -> dict[str, str]:
    query = (
        "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus "
        "locationOrLoadError { __typename } } } } }"
    )
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            entries = json.load(response)["data"]["workspaceOrError"]["locationEntries"]
    except (urllib.error.URLError, ConnectionError, OSError, KeyError, TypeError):
        return {}
    return {
        e["name"]: (e["locationOrLoadError"] or {}).get("__typename", "")
        for e in entries
        if e["loadStatus"] == "LOADED"
    }


def test_the_cron_check_alerts_and_exits_1_when_the_refresh_is_overdue(tmp_path):
    """`python -m amed_pipeline.watchdog`, for machines where no daemon runs."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(PROJECT_ROOT / "deploy" / "local.dagster.yaml", home / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        record_nothing_to_do(instance, dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=30))
    with Webhook() as webhook:
        environment = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AMED_", "DAGSTER_"))},
            "DAGSTER_HOME": str(home),
            "AMED_ALERT_WEBHOOK_URL": webhook.url,
        }
        completed = subprocess.run(
            [sys.executable, "-m", "amed_pipeline.watchdog"],
            cwd=PROJECT_ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert completed.returncode == 1, completed.stdout + completed.stderr
        assert "no successful nightly refresh" in completed.stdout
        (post,) = webhook.received
        assert post["json"]["event"] == "missed_refresh"
        environment["AMED_WATCHDOG_SILENCE_UNTIL"] = (dt.date.today() + dt.timedelta(days=2)).isoformat()
        silenced = subprocess.run(
            [sys.executable, "-m", "amed_pipeline.watchdog"],
            cwd=PROJECT_ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert silenced.returncode == 0 and "silenced" in silenced.stdout and len(webhook.received) == 1
