"""Scope: operations that never fail silently (issue 15).

- One partnership's config mistake disables only that partnership: the others load, refresh and
  publish; the broken one is a failing asset in its own group with the config message; the run
  fails on it so the failure alert fires (a local webhook); the CLI exits non-zero naming it.
  Mistakes in the file as a whole still fail at load.
- Every error a user meets at the terminal is one line naming the thing and the fix (a real
  PostgreSQL server for the database and role cases, a real DuckDB lock held by another process,
  a damaged DuckDB file, an export dir that cannot be created); `--verbose` adds the traceback.
- A pseudonym key that changed (or went missing) without `rekey` is refused, by the CLI and by the
  raw-exports step itself, and that failure is not retried.
- Retries: only transient errors (connection, lock, HTTP 5xx/429, `TransientSourceError`) are
  retried; anything else fails at once.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.error
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from amed_pipeline.__main__ import main
from amed_pipeline.config import ConfigError, load_programme_config
from amed_pipeline.definitions import build_definitions
from amed_pipeline.defs.automation import NIGHTLY_SCHEDULE_NAME, RUN_FAILURE_SENSOR_NAME
from amed_pipeline.defs.config_errors import config_error_key
from amed_pipeline.defs.jobs import NIGHTLY_JOB_NAME, all_partnerships_tags
from amed_pipeline.operations.failures import build_alerts_resource
from amed_pipeline.operations.retries import TransientSourceError, is_transient, retry_only_transient
from amed_pipeline.privacy.key_guard import PseudonymKeyError
from amed_pipeline.warehouse import schema
from amed_pipeline.warehouse.resource import WarehouseResource
from amed_pipeline_tests.pipeline_runs import PROJECT_ROOT, SAMPLE_DATA_DIR, TEST_KEY, env, read_table
from amed_pipeline_tests.test_automation import Webhook, schedule_context

BROKEN = "get_berkshire_active"
OTHERS = ("active_oxfordshire", "leap")


def broken_copy(tmp_path: Path) -> Path:
    """The sample data dir with one partnership's source format misspelt (`googleforms`)."""
    target = tmp_path / "data"
    shutil.copytree(SAMPLE_DATA_DIR, target, ignore=shutil.ignore_patterns("warehouse", "exports", ".secrets"))
    config = target / "partnerships.yaml"
    text = config.read_text()
    berkshire = text.index(f"id: {BROKEN}")
    at = text.index("format: google_forms", berkshire)
    assert at < text.index("id: leap")
    config.write_text(text[:at] + "format: googleforms" + text[at + len("format: google_forms") :])
    return target


# --- 1. one partnership's config mistake stays its own ----------------------------------------------


def test_a_mistake_in_one_partnership_disables_only_that_partnership(tmp_path):
    data = broken_copy(tmp_path)
    config = load_programme_config(data)
    assert config.partnership_ids == list(OTHERS)
    (disabled,) = config.disabled
    assert disabled.id == BROKEN
    for fragment in (f"partnership '{BROKEN}'", "source #", "key 'format'", "googleforms", "google_forms"):
        assert fragment in disabled.error
    with pytest.raises(ConfigError, match="googleforms"):
        load_programme_config(data, isolate_partnerships=False)


@pytest.mark.parametrize(
    "old, new, expected",
    [
        ("  start: 2020-07-01", "  start: first of July", "programme: start"),
        ("partnerships:\n", "partnerships:\n  - [not, a, mapping\n", "not valid YAML"),
    ],
)
def test_a_mistake_in_the_whole_file_still_fails_at_load(tmp_path, old, new, expected):
    shutil.copytree(SAMPLE_DATA_DIR, tmp_path / "data", ignore=shutil.ignore_patterns("raw", "warehouse", "exports"))
    path = tmp_path / "data" / "partnerships.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(ConfigError, match=expected):
        build_definitions(tmp_path / "data", "duckdb:///:memory:")


@pytest.mark.slow
def test_the_broken_partnership_fails_visibly_while_the_others_refresh_and_the_alert_fires(tmp_path):
    data = broken_copy(tmp_path)
    url = f"duckdb:///{tmp_path}/warehouse.duckdb"
    with (
        Webhook() as webhook,
        dg.instance_for_test() as instance,
        env(AMED_ALERT_WEBHOOK_URL=webhook.url),
    ):
        defs = build_definitions(data, url, export_dir=tmp_path / "exports", pseudonym_key=TEST_KEY)
        graph = defs.resolve_asset_graph()
        node = graph.get(config_error_key(BROKEN))
        assert node.group_name == BROKEN and "googleforms" in node.description and "key 'format'" in node.description
        assert not any(k.path[0] == BROKEN and k != config_error_key(BROKEN) for k in graph.get_all_asset_keys())

        # The 02:00 schedule: a run that includes the broken partnership's failing asset.
        schedule = defs.get_repository_def().get_schedule_def(NIGHTLY_SCHEDULE_NAME)
        (request,) = schedule.evaluate_tick(schedule_context(defs)).run_requests
        assert config_error_key(BROKEN) in request.asset_selection
        job = defs.resolve_job_def(NIGHTLY_JOB_NAME)
        result = job.execute_in_process(
            asset_selection=request.asset_selection, tags=request.tags, instance=instance, raise_on_error=False
        )
        assert not result.success
        failed = [e for e in result.all_events if e.is_step_failure]
        assert [e.step_key for e in failed] == [f"{BROKEN}__partnership_config"]
        assert not [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
        values = read_table(url, "metric_values")
        assert set(OTHERS) <= set(values["partnership_id"]) and BROKEN not in set(values["partnership_id"])

        from amed_pipeline.defs.automation import run_failure_alerts

        context = dg.build_run_status_sensor_context(
            sensor_name=RUN_FAILURE_SENSOR_NAME,
            dagster_event=result.get_run_failure_event(),
            dagster_instance=instance,
            dagster_run=result.dagster_run,
            resources={"warehouse": WarehouseResource(url=url), "alerts": build_alerts_resource()},
        ).for_run_failure()
        run_failure_alerts(context)
        (post,) = webhook.received
        assert BROKEN in post["json"]["text"] and "googleforms" in post["json"]["text"]

        # Nothing else changed: the next night still runs (and fails on) the broken partnership, not a quiet skip.
        (again,) = schedule.evaluate_tick(schedule_context(defs)).run_requests
        assert list(again.asset_selection) == [config_error_key(BROKEN)]


@pytest.mark.slow
def test_the_refresh_command_skips_the_broken_partnership_and_exits_non_zero(tmp_path):
    data = broken_copy(tmp_path)
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AMED_ALERT")},
        "AMED_DATA_DIR": str(data),
        "AMED_WAREHOUSE_URL": f"duckdb:///{tmp_path}/warehouse.duckdb",
        "AMED_EXPORT_DIR": str(tmp_path / "exports"),
        "AMED_PSEUDONYM_KEY": TEST_KEY,
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
    }
    completed = subprocess.run(
        [sys.executable, "-m", "amed_pipeline", "refresh"],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert completed.returncode == 1, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert f"partnership {BROKEN} skipped: configuration error:" in completed.stderr
    assert "key 'format'" in completed.stderr
    assert "Traceback" not in completed.stderr and "Stack Trace" not in completed.stderr  # one line per record
    assert "Headline figures" in completed.stdout
    values = read_table(environment["AMED_WAREHOUSE_URL"], "metric_values")
    assert set(OTHERS) <= set(values["partnership_id"])


# --- 4. one line that names the thing and the fix ----------------------------------------------------


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    """`python -m amed_pipeline refresh` in this process on the sample config; returns (exit code, stderr lines)."""
    monkeypatch.setenv("AMED_DATA_DIR", str(SAMPLE_DATA_DIR))
    monkeypatch.setenv("AMED_EXPORT_DIR", str(tmp_path / "exports"))
    monkeypatch.setenv("AMED_PSEUDONYM_KEY", TEST_KEY)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))

    def run(*arguments, **variables):
        for name, value in variables.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, str(value))
        code = main(["refresh", *arguments])
        captured = capsys.readouterr()
        return code, [line for line in captured.err.splitlines() if line.strip()]

    return run


def one_line(lines: list[str]) -> str:
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: "), lines
    return lines[0]


def test_a_malformed_warehouse_url_is_one_line(cli):
    code, lines = cli(AMED_WAREHOUSE_URL="postgres+psycopg//amed@db/amed")
    assert code == 2
    line = one_line(lines)
    assert "warehouse URL" in line and "malformed" in line and "AMED_WAREHOUSE_URL" in line


def test_an_unreachable_warehouse_is_one_line(cli):
    code, lines = cli(AMED_WAREHOUSE_URL="postgresql+psycopg://amed:secret-pw@127.0.0.1:1/amed")
    line = one_line(lines)
    assert code == 2 and "unreachable" in line and "127.0.0.1:1" in line and "secret-pw" not in line


def test_a_missing_postgres_database_or_role_is_one_line(cli, postgres_url):
    server = sa.engine.make_url(postgres_url)
    code, lines = cli(AMED_WAREHOUSE_URL=server.set(database="amed_no_such_db").render_as_string(hide_password=False))
    line = one_line(lines)
    assert (
        code == 2
        and "PostgreSQL database amed_no_such_db does not exist" in line
        and "createdb -O postgres amed_no_such_db" in line
    )
    code, lines = cli(AMED_WAREHOUSE_URL=server.set(username="amed_no_such_role").render_as_string(hide_password=False))
    line = one_line(lines)
    assert code == 2 and "PostgreSQL role amed_no_such_role does not exist" in line and "createuser --login" in line


def test_a_damaged_duckdb_file_is_one_line(cli, tmp_path):
    path = tmp_path / "warehouse.duckdb"
    path.write_bytes(b"this is not a database\n" * 500)
    code, lines = cli(AMED_WAREHOUSE_URL=f"duckdb:///{path}")
    line = one_line(lines)
    assert code == 2 and "is damaged" in line and "move it aside" in line


def test_a_duckdb_file_held_by_another_process_is_one_line(cli, tmp_path):
    path = tmp_path / "warehouse.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(path)!r}); print('open', flush=True); time.sleep(120)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        code, lines = cli(AMED_WAREHOUSE_URL=f"duckdb:///{path}")
    finally:
        holder.kill()
        holder.wait()
    line = one_line(lines)
    assert code == 2 and "is locked by another process" in line and f"PID {holder.pid}" in line


def test_an_export_dir_that_cannot_be_written_is_one_line(cli, tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the export dir should be")
    code, lines = cli(AMED_WAREHOUSE_URL=f"duckdb:///{tmp_path}/w.duckdb", AMED_EXPORT_DIR=blocker / "exports")
    line = one_line(lines)
    assert code == 2 and "export dir" in line and "cannot be written" in line and "AMED_EXPORT_DIR" in line


def test_verbose_adds_the_traceback(cli):
    code, lines = cli("--verbose", AMED_WAREHOUSE_URL="postgres+psycopg//amed@db/amed")
    assert code == 2 and lines[0].startswith("Traceback") and lines[-1].startswith("error: warehouse URL")


# --- key rotation (issue 12 §6): a changed or missing key is refused ---------------------------------


def warehouse_with_pseudonyms(tmp_path: Path, key: bytes) -> str:
    """A warehouse holding one person pseudonymised under `key`, as a refresh leaves it."""
    from amed_pipeline.staging.people import key_version

    url = f"duckdb:///{tmp_path}/warehouse.duckdb"
    with WarehouseResource(url=url).begin() as conn:
        conn.execute(
            sa.insert(schema.dim_person).values(
                person_key="p" * 64, key_version=key_version(key), profession="nurse", role_group="clinical"
            )
        )
    return url


def test_a_changed_pseudonym_key_is_refused_with_the_fix(cli, tmp_path):
    url = warehouse_with_pseudonyms(tmp_path, b"the-old-key")
    code, lines = cli(AMED_WAREHOUSE_URL=url, AMED_PSEUDONYM_KEY="a-new-key")
    line = one_line(lines)
    assert code == 2 and "pseudonym key changed" in line and "python -m amed_pipeline rekey" in line
    assert "a-new-key" not in line and "the-old-key" not in line


def test_a_missing_pseudonym_key_is_refused_not_generated(cli, tmp_path):
    url = warehouse_with_pseudonyms(tmp_path, b"the-old-key")
    key_file = tmp_path / "keys" / "pseudonym.key"
    code, lines = cli(AMED_WAREHOUSE_URL=url, AMED_PSEUDONYM_KEY=None, AMED_PSEUDONYM_KEY_FILE=key_file)
    line = one_line(lines)
    assert code == 2 and "pseudonym key missing" in line and str(key_file) in line and "rekey" in line
    assert not key_file.exists()


@pytest.mark.slow
def test_the_raw_exports_step_refuses_a_changed_key_at_once_without_retrying(tmp_path):
    """The UI, schedule and sensor path: the step itself refuses, in one line, and is not retried."""
    url = warehouse_with_pseudonyms(tmp_path, b"the-old-key")
    with dg.instance_for_test() as instance:
        defs = build_definitions(SAMPLE_DATA_DIR, url, export_dir=tmp_path / "exports", pseudonym_key="a-new-key")
        result = defs.resolve_job_def(NIGHTLY_JOB_NAME).execute_in_process(
            instance=instance,
            raise_on_error=False,
            tags=all_partnerships_tags(load_programme_config(SAMPLE_DATA_DIR).partnership_ids),
        )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert failure.step_key == "raw_exports"
    assert failure.step_failure_data.user_failure_data.description.startswith("pseudonym key changed")
    assert not [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert len(read_table(url, "landing_file")) == 0  # nothing was pseudonymised under the new key


# --- 7. retries only for what a retry can fix ---------------------------------------------------------


def _http_error(status: int) -> urllib.error.HTTPError:
    return urllib.error.HTTPError("https://api.example.org/v1/bookings", status, "status", {}, None)


def _db_error(message: str) -> sa.exc.OperationalError:
    return sa.exc.OperationalError("SELECT 1", {}, Exception(message))


@pytest.mark.parametrize(
    "error, transient",
    [
        (TransientSourceError("eventbrite: HTTP 503"), True),
        (_http_error(503), True),
        (_http_error(429), True),
        (_http_error(404), False),
        (_http_error(401), False),
        (ConnectionRefusedError(111, "Connection refused"), True),
        (TimeoutError("timed out"), True),
        (_db_error('connection to server at "db", port 5432 failed: Connection refused'), True),
        (_db_error("canceling statement due to lock timeout"), True),
        (_db_error("deadlock detected"), True),
        (_db_error('IO Error: Could not set lock on file "w.duckdb": Conflicting lock is held'), True),
        (_db_error('FATAL:  database "amed" does not exist'), False),
        (ValueError("not a recognised date"), False),
        (ConfigError("partnerships.yaml: partnership 'leap': key 'format': unknown format"), False),
        (PseudonymKeyError("pseudonym key changed"), False),
        (KeyError("bookings"), False),
    ],
)
def test_only_transient_errors_are_classified_as_retryable(error, transient):
    assert is_transient(error) is transient
    wrapped = RuntimeError("while landing")
    wrapped.__cause__ = error
    assert is_transient(wrapped) is transient


def _attempts_of(exception: Exception) -> tuple[int, dg.ExecuteInProcessResult]:
    attempts = []

    @dg.asset
    @retry_only_transient
    def flaky() -> None:
        attempts.append(1)
        if len(attempts) < 3:
            raise exception

    job = dg.define_asset_job("flaky_job", op_retry_policy=dg.RetryPolicy(max_retries=3, delay=0))
    defs = dg.Definitions(assets=[flaky], jobs=[job])
    result = defs.resolve_job_def("flaky_job").execute_in_process(raise_on_error=False)
    return len(attempts), result


def test_a_transient_error_is_retried_and_a_data_error_fails_at_once():
    attempts, result = _attempts_of(TransientSourceError("api.example.org: HTTP 503"))
    assert attempts == 3 and result.success
    attempts, result = _attempts_of(ValueError("column 'Course' is not in the file"))
    assert attempts == 1 and not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert failure.step_failure_data.user_failure_data.description == "ValueError: column 'Course' is not in the file"


# --- 6. readable at any size ------------------------------------------------------------------------


def test_the_terminal_summary_stays_readable_with_300_partnerships(tmp_path):
    import pandas as pd

    from amed_pipeline.__main__ import headline_for_terminal
    from amed_pipeline.metrics.tables import HEADLINE_METRICS

    ids = [f"partnership_{n:03d}" for n in range(300)] + ["all"]
    headline = pd.DataFrame(
        {
            "partnership_id": ids,
            "period_start": pd.Timestamp("2020-07-01"),
            "period_end": pd.Timestamp("2021-07-31"),
            **{m: [float(n % 97 + 1) for n in range(301)] for m in HEADLINE_METRICS},
        }
    )
    headline.loc[headline["partnership_id"] == "all", "people_trained"] = 14_000.0
    text = headline_for_terminal(headline, tmp_path)
    lines = text.splitlines()
    assert len(lines) <= 40 and max(len(line) for line in lines) <= 160, text
    assert "14,000" in text and "300 partnerships" in text and "290 more partnerships" in text
    assert str(tmp_path / "metric_values.csv") in text


@pytest.mark.slow
def test_warehouse_load_logs_the_rows_it_actually_wrote(tmp_path):
    url, exports = f"duckdb:///{tmp_path}/warehouse.duckdb", tmp_path / "exports"
    from amed_pipeline_tests.pipeline_runs import run_nightly_in_process

    with dg.instance_for_test() as instance:
        runs = [run_nightly_in_process(SAMPLE_DATA_DIR, url, exports, instance=instance) for _ in range(2)]
        logs = [
            [r.user_message for r in instance.all_logs(run.run_id) if r.step_key == "warehouse_load"] for run in runs
        ]
    first = next(m for m in logs[0] if "tables across partnerships" in m)
    second = next(m for m in logs[1] if "tables across partnerships" in m)
    assert first.startswith("wrote ") and not first.startswith("wrote 0 ")
    assert "kept" in second and "0 rows written" in second
