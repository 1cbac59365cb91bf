"""Scope: the Dagster UI for real: `dagster dev` (webserver, daemon, code server) as `make ui` runs it.

It starts on a free 127.0.0.1 port against a temporary `DAGSTER_HOME` and warehouse, with the
bundled sample data. Through the GraphQL API the code location must list the partnership
groups, staging, warehouse, metrics and reports, the asset checks, the schedule and both
sensors; a `launchRun` of the nightly job goes through the run queue and the daemon to SUCCESS
and leaves the metrics in the warehouse. Headless Chromium then renders the asset lineage and
catalog pages (the single-page app's DOM, after its GraphQL calls) and finds the assets there.
A refresh started with `python -m amed_pipeline refresh` is then listed under the job and the
code location (what the job page and the timeline show) and re-executed with its run id alone.
Last, the watchdog location is loaded with its sensor on, and with the schedule switched off
through the API the watchdog's check sees it. The whole process group is killed afterwards,
whatever happened.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from amed_pipeline.defs.automation import NEW_EXPORT_SENSOR_NAME, NIGHTLY_SCHEDULE_NAME, RUN_FAILURE_SENSOR_NAME
from amed_pipeline.defs.jobs import NIGHTLY_JOB_NAME, all_partnerships_tags
from amed_pipeline_tests.pipeline_runs import PROJECT_ROOT, SAMPLE_DATA_DIR, TEST_KEY, metric, read_table
from amed_pipeline_tests.processes import CHROMIUM_FLAGS, free_port, stop_process_group

pytestmark = pytest.mark.slow

LOCATION = "amed_pipeline"
REPOSITORY = {"repositoryLocationName": LOCATION, "repositoryName": "__repository__"}
PARTNERSHIPS = ("active_oxfordshire", "get_berkshire_active", "leap")
GROUPS = {*PARTNERSHIPS, "staging", "warehouse", "metrics", "reports"}
RUN_TIMEOUT_SECONDS = 300


class DagsterUI:
    def __init__(self, base_url: str, log_path: Path, warehouse_url: str, environment: dict | None = None):
        self.base_url, self.log_path, self.warehouse_url = base_url, log_path, warehouse_url
        self.environment = environment or {}  # what `dagster dev` runs with (DAGSTER_HOME, AMED_*)

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        request = urllib.request.Request(
            f"{self.base_url}/graphql",
            data=json.dumps({"query": query, "variables": variables or {}}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            body = json.load(response)
        assert "errors" not in body, body["errors"]
        return body["data"]

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]


@pytest.fixture(scope="module")
def dagster_ui(tmp_path_factory):
    base = tmp_path_factory.mktemp("webserver")
    home = base / "dagster_home"
    home.mkdir()
    shutil.copyfile(PROJECT_ROOT / "deploy" / "local.dagster.yaml", home / "dagster.yaml")  # what `make ui` uses
    warehouse_url = f"duckdb:///{base}/warehouse.duckdb"
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AMED_", "DAGSTER_"))},
        "DAGSTER_HOME": str(home),
        "AMED_DATA_DIR": str(SAMPLE_DATA_DIR),
        "AMED_WAREHOUSE_URL": warehouse_url,
        "AMED_EXPORT_DIR": str(base / "exports"),
        "AMED_PSEUDONYM_KEY": TEST_KEY,
    }
    port = free_port()
    log_path = base / "dagster_dev.log"
    dagster = Path(sys.executable).with_name("dagster")
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [str(dagster), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            cwd=PROJECT_ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        ui = DagsterUI(f"http://127.0.0.1:{port}", log_path, warehouse_url, environment)
        try:
            wait_until_loaded(ui, process)
            yield ui
        finally:
            stop_process_group(process)


def wait_until_loaded(ui: DagsterUI, process: subprocess.Popen, timeout: float = 180) -> None:
    """Until `/server_info` answers and the code location has loaded (or failed to: then say why)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"dagster dev exited with {process.returncode}:\n{ui.log_tail()}"
        try:
            with urllib.request.urlopen(f"{ui.base_url}/server_info", timeout=5) as response:
                assert json.load(response)["dagster_webserver_version"]
            entries = ui.graphql(
                "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus "
                "locationOrLoadError { __typename ... on PythonError { message } } } } } }"
            )["workspaceOrError"]["locationEntries"]
            entry = next(e for e in entries if e["name"] == LOCATION)
            if entry["loadStatus"] == "LOADED":
                assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation", entry
                return
        except (urllib.error.URLError, ConnectionError, StopIteration, socket.timeout):
            pass
        time.sleep(1)
    pytest.fail(f"the Dagster UI did not come up in {timeout}s:\n{ui.log_tail()}")


ASSETS_QUERY = """{ assetNodes { assetKey { path } groupName description
  owners { ... on TeamAssetOwner { team } ... on UserAssetOwner { email } }
  assetChecksOrError { __typename ... on AssetChecks { checks { name } } } } }"""

AUTOMATION_QUERY = """query($repository: RepositorySelector!) {
  schedulesOrError(repositorySelector: $repository) { __typename
    ... on Schedules { results { name cronSchedule executionTimezone pipelineName scheduleState { status } } } }
  sensorsOrError(repositorySelector: $repository) { __typename
    ... on Sensors { results { name sensorState { status } } } } }"""

LAUNCH_MUTATION = """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) { __typename
  ... on LaunchRunSuccess { run { runId status } }
  ... on PythonError { message }
  ... on RunConfigValidationInvalid { errors { message } }
  ... on InvalidSubsetError { message } } }"""

RUN_QUERY = """query($runId: ID!) { runOrError(runId: $runId) { __typename
  ... on Run { status tags { key value } } } }"""


def test_graphql_lists_the_code_location_and_runs_the_nightly_job(dagster_ui):
    assets = dagster_ui.graphql(ASSETS_QUERY)["assetNodes"]
    keys = {"/".join(a["assetKey"]["path"]): a for a in assets}
    assert {a["groupName"] for a in assets} >= GROUPS
    for partnership in PARTNERSHIPS:
        assert keys[f"{partnership}/bookings_eventbrite"]["groupName"] == partnership
    assert {
        "metrics/metric_values",
        "metrics/metric_values_published",
        "warehouse/dim_person",
        "staged/bookings",
        "reports/evaluation_report",
    } <= set(keys)
    assert all(a["description"] for a in assets), [k for k, a in keys.items() if not a["description"]]
    assert all(a["owners"] for a in assets), [k for k, a in keys.items() if not a["owners"]]
    # Asset checks: whatever the code location declares is served (the list may be empty).
    assert {a["assetChecksOrError"]["__typename"] for a in assets} == {"AssetChecks"}

    automation = dagster_ui.graphql(AUTOMATION_QUERY, {"repository": REPOSITORY})
    schedules = {s["name"]: s for s in automation["schedulesOrError"]["results"]}
    schedule = schedules[NIGHTLY_SCHEDULE_NAME]
    assert (schedule["cronSchedule"], schedule["executionTimezone"], schedule["pipelineName"]) == (
        "0 2 * * *",
        "Europe/London",
        NIGHTLY_JOB_NAME,
    )
    assert schedule["scheduleState"]["status"] == "RUNNING"
    sensors = {s["name"]: s["sensorState"]["status"] for s in automation["sensorsOrError"]["results"]}
    assert sensors[RUN_FAILURE_SENSOR_NAME] == "RUNNING" and NEW_EXPORT_SENSOR_NAME in sensors

    params = {
        "selector": {**REPOSITORY, "jobName": NIGHTLY_JOB_NAME},
        "runConfigData": {},
        "executionMetadata": {
            "tags": [{"key": "amed/trigger", "value": "test_webserver"}]
            + [
                # every partnership's partition in one run, as the schedule does
                {"key": k, "value": v}
                for k, v in all_partnerships_tags(list(PARTNERSHIPS)).items()
            ]
        },
    }
    launched = dagster_ui.graphql(LAUNCH_MUTATION, {"params": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    run = wait_for_run(dagster_ui, run_id)
    tags = {t["key"]: t["value"] for t in run["tags"]}
    assert tags["amed/trigger"] == "test_webserver" and tags["amed/warehouse"] == "write"

    values = read_table(dagster_ui.warehouse_url, "metric_values")
    assert metric(values, "people_trained")["value"] == 1301
    assert set(values["run_id"]) == {run_id}


def wait_for_run(dagster_ui, run_id: str) -> dict:
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    status, run = None, {}
    while time.monotonic() < deadline:
        run = dagster_ui.graphql(RUN_QUERY, {"runId": run_id})["runOrError"]
        status = run["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(2)
    assert status == "SUCCESS", f"run {run_id} ended {status}:\n{dagster_ui.log_tail()}"
    return run


JOB_RUNS_QUERY = """query($selector: PipelineSelector!) { pipelineOrError(params: $selector) { __typename
  ... on Pipeline { runs { runId } } } }"""
REPOSITORY_RUNS_QUERY = """query($filter: RunsFilter!) { runsOrError(filter: $filter) { __typename
  ... on Runs { results { runId } } } }"""
REEXECUTE_MUTATION = """mutation($params: ReexecutionParams!) { launchRunReexecution(reexecutionParams: $params) { __typename
  ... on LaunchRunSuccess { run { runId } }
  ... on PythonError { message } } }"""


def test_a_refresh_started_from_the_command_line_belongs_to_the_job_and_can_be_re_executed(dagster_ui):
    """Issue 15 §3: `python -m amed_pipeline refresh` runs carry the code location's origin."""
    completed = subprocess.run(
        [sys.executable, "-m", "amed_pipeline", "refresh", "--all"],
        cwd=PROJECT_ROOT,
        env=dagster_ui.environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    run_id = re.search(r"nightly_refresh run (\S+) succeeded", completed.stdout).group(1)

    # Jobs → nightly_refresh → Runs
    job = dagster_ui.graphql(JOB_RUNS_QUERY, {"selector": {**REPOSITORY, "pipelineName": NIGHTLY_JOB_NAME}})[
        "pipelineOrError"
    ]
    assert run_id in {r["runId"] for r in job["runs"]}
    # The Overview timeline places runs by their code location's label.
    label = f"{REPOSITORY['repositoryName']}@{LOCATION}"
    runs = dagster_ui.graphql(
        REPOSITORY_RUNS_QUERY, {"filter": {"tags": [{"key": ".dagster/repository", "value": label}]}}
    )
    assert run_id in {r["runId"] for r in runs["runsOrError"]["results"]}
    # Re-executed with the run id alone, as the UI's Re-execute button does.
    launched = dagster_ui.graphql(REEXECUTE_MUTATION, {"params": {"parentRunId": run_id, "strategy": "ALL_STEPS"}})[
        "launchRunReexecution"
    ]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    wait_for_run(dagster_ui, launched["run"]["runId"])


# --- the UI in a browser ---------------------------------------------------------------------------


def rendered_text(
    chromium: str, profile: Path, url: str, expected: str, attempts: int = 2, window: str = "1600,1200"
) -> str:
    """The visible text of the page once the app has rendered (virtual time lets its requests finish)."""
    text = ""
    for attempt in range(attempts):
        completed = subprocess.run(
            [
                chromium,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={window}",
                f"--virtual-time-budget={30000 * (attempt + 1)}",
                "--run-all-compositor-stages-before-draw",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert completed.returncode == 0, completed.stderr[-2000:]
        body = completed.stdout[completed.stdout.find("<body") :]
        body = re.sub(r"<(script|style)\b[^>]*>.*?</\1>", " ", body, flags=re.S)
        text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))
        if expected in text:
            break
    return text


def test_asset_lineage_and_catalog_render_in_chromium(dagster_ui, chromium, tmp_path):
    lineage = rendered_text(chromium, tmp_path / "profile", f"{dagster_ui.base_url}/asset-groups", "warehouse")
    assert "Global asset lineage" in lineage
    for group in GROUPS:
        assert group in lineage, f"group {group} missing from the global lineage"

    leap = rendered_text(
        chromium,
        tmp_path / "profile",
        f"{dagster_ui.base_url}/locations/{LOCATION}/asset-groups/leap/lineage",
        "bookings_eventbrite",
    )
    for name in ("bookings_eventbrite", "bookings_mapped_csv", "feedback_jisc", "sessions_mapped_csv"):
        assert name in leap, f"{name} missing from the leap group's graph"

    # The catalog is a virtual list: a tall window renders every row.
    catalog = rendered_text(
        chromium, tmp_path / "profile", f"{dagster_ui.base_url}/assets", "metric_values", window="1600,8000"
    )
    for name in ("bookings_eventbrite", "metric_values", "evaluation_report", "dim_person"):
        assert name in catalog, f"{name} missing from the asset catalog"


# --- the watchdog (issue 15 §2), last: it switches the schedule off ---------------------------------

SCHEDULE_QUERY = """query($repository: RepositorySelector!) { schedulesOrError(repositorySelector: $repository) {
  ... on Schedules { results { id name scheduleState { status } } } } }"""
STOP_SCHEDULE = """mutation($id: String!) { stopRunningSchedule(id: $id) { __typename
  ... on ScheduleStateResult { scheduleState { status } } ... on PythonError { message } } }"""


def test_the_watchdog_location_loads_and_sees_the_schedule_switched_off(dagster_ui):
    import dagster as dg

    from amed_pipeline.watchdog import WATCHDOG_LOCATION, WATCHDOG_SENSOR_NAME, WatchdogResource, check

    watchdog_repository = {"repositoryLocationName": WATCHDOG_LOCATION, "repositoryName": "__repository__"}
    sensors = dagster_ui.graphql(AUTOMATION_QUERY, {"repository": watchdog_repository})["sensorsOrError"]["results"]
    assert {s["name"]: s["sensorState"]["status"] for s in sensors} == {WATCHDOG_SENSOR_NAME: "RUNNING"}

    schedules = dagster_ui.graphql(SCHEDULE_QUERY, {"repository": REPOSITORY})["schedulesOrError"]["results"]
    schedule = next(s for s in schedules if s["name"] == NIGHTLY_SCHEDULE_NAME)
    stopped = dagster_ui.graphql(STOP_SCHEDULE, {"id": schedule["id"]})["stopRunningSchedule"]
    assert stopped["scheduleState"]["status"] == "STOPPED", stopped

    # Thirty hours on, with the schedule still off: the watchdog alerts, and says why.
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=30)
    with dg.DagsterInstance.from_config(dagster_ui.environment["DAGSTER_HOME"]) as instance:
        overdue, message, _ = check(instance, WatchdogResource(max_hours=26), {}, now=later)
    assert overdue is not None, message
    assert f"the schedule {NIGHTLY_SCHEDULE_NAME} is switched off" in message and "ended SUCCESS" in message
