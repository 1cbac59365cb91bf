"""Scope: the production Dagster instance, `deploy/dagster.yaml`, on a real PostgreSQL server.

Two fresh databases on the test server: one for Dagster's storage, one for the warehouse. The
file is copied unchanged into a temporary `DAGSTER_HOME` and pointed at the server through its
`DAGSTER_PG_*` variables. The nightly job is submitted with `dagster job launch`, which only
queues it (QueuedRunCoordinator); a real `dagster-daemon run` dequeues and launches it. Then the
run, its tags, its events and the daemons' heartbeats must be in Dagster's PostgreSQL tables, and the
warehouse tables in PostgreSQL must hold the evaluation's figures.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from amed_pipeline.defs.jobs import NIGHTLY_JOB_NAME, WAREHOUSE_WRITE_TAG, all_partnerships_tags
from amed_pipeline_tests.pipeline_runs import (
    PROJECT_ROOT,
    SAMPLE_DATA_DIR,
    TEST_KEY,
    metric,
    postgres_database,
    read_table,
)
from amed_pipeline_tests.processes import stop_process_group

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

RUN_TIMEOUT_SECONDS = 300
BIN = Path(sys.executable).parent


def dagster_environment(home: Path, dagster_db_url: str, warehouse_url: str, exports: Path) -> dict[str, str]:
    server = sa.engine.make_url(dagster_db_url)
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AMED_", "DAGSTER_"))},
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_HOST": server.host,
        "DAGSTER_PG_PORT": str(server.port or 5432),
        "DAGSTER_PG_DB": server.database,
        "DAGSTER_PG_USERNAME": server.username,
        "DAGSTER_PG_PASSWORD": server.password or "",
        "AMED_DATA_DIR": str(SAMPLE_DATA_DIR),
        "AMED_WAREHOUSE_URL": warehouse_url,
        "AMED_EXPORT_DIR": str(exports),
        "AMED_PSEUDONYM_KEY": TEST_KEY,
    }


def test_nightly_job_runs_through_the_queue_on_a_postgres_instance(postgres_url, tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(PROJECT_ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    with postgres_database(postgres_url) as dagster_db, postgres_database(postgres_url) as warehouse_url:
        environment = dagster_environment(home, dagster_db, warehouse_url, tmp_path / "exports")
        log_path = tmp_path / "dagster-daemon.log"
        with open(log_path, "w") as log:
            daemon = subprocess.Popen(
                [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"],
                cwd=PROJECT_ROOT,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                launched = subprocess.run(
                    [
                        str(BIN / "dagster"),
                        "job",
                        "launch",
                        "-w",
                        "workspace.yaml",
                        "--location",
                        "amed_pipeline",
                        "-j",
                        NIGHTLY_JOB_NAME,
                        "--tags",
                        json.dumps(
                            {
                                "amed/trigger": "test_postgres_instance",
                                **all_partnerships_tags(["active_oxfordshire", "get_berkshire_active", "leap"]),
                            }
                        ),
                    ],
                    cwd=PROJECT_ROOT,
                    env=environment,
                    capture_output=True,
                    text=True,
                    timeout=300,
                )
                assert launched.returncode == 0, launched.stdout[-3000:] + launched.stderr[-3000:]
                run_id, status = wait_for_run(dagster_db, daemon, log_path)
            finally:
                stop_process_group(daemon)
        assert status == "SUCCESS", f"run {run_id} ended {status}:\n{log_path.read_text(errors='replace')[-4000:]}"

        engine = sa.create_engine(dagster_db, poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                run = conn.execute(
                    sa.text("SELECT pipeline_name, status FROM runs WHERE run_id = :r"), {"r": run_id}
                ).one()
                tags = dict(
                    conn.execute(sa.text("SELECT key, value FROM run_tags WHERE run_id = :r"), {"r": run_id}).all()
                )
                events = dict(
                    conn.execute(
                        sa.text(
                            "SELECT dagster_event_type, COUNT(*) FROM event_logs WHERE run_id = :r "
                            "AND dagster_event_type IS NOT NULL GROUP BY dagster_event_type"
                        ),
                        {"r": run_id},
                    ).all()
                )
                daemons = set(conn.execute(sa.text("SELECT daemon_type FROM daemon_heartbeats")).scalars())
        finally:
            engine.dispose()
        assert tuple(run) == (NIGHTLY_JOB_NAME, "SUCCESS")
        assert tags[WAREHOUSE_WRITE_TAG] == "write" and tags["amed/trigger"] == "test_postgres_instance"
        # Queued by the coordinator, launched by the daemon's queue loop (its heartbeat is in PostgreSQL too).
        for event in ("PIPELINE_ENQUEUED", "PIPELINE_STARTING", "PIPELINE_START", "PIPELINE_SUCCESS"):
            assert events.get(event) == 1, (event, events)
        assert {"QUEUED_RUN_COORDINATOR", "SCHEDULER", "SENSOR"} <= daemons, daemons
        assert events["ASSET_MATERIALIZATION"] >= 30 and "STEP_FAILURE" not in events

        values = read_table(warehouse_url, "metric_values")
        assert metric(values, "people_trained")["value"] == 1301
        assert set(values["run_id"]) == {run_id}
        assert len(read_table(warehouse_url, "fact_booking")) > 1000


def wait_for_run(dagster_db: str, daemon: subprocess.Popen, log_path: Path) -> tuple[str, str]:
    """The one run in Dagster's run storage, once it has finished (read straight from PostgreSQL)."""
    engine = sa.create_engine(dagster_db, poolclass=sa.pool.NullPool)
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    try:
        while time.monotonic() < deadline:
            assert daemon.poll() is None, f"dagster-daemon exited:\n{log_path.read_text(errors='replace')[-4000:]}"
            with engine.connect() as conn:
                rows = conn.execute(sa.text("SELECT run_id, status FROM runs")).all()
            assert len(rows) <= 1, rows
            if rows and rows[0].status in ("SUCCESS", "FAILURE", "CANCELED"):
                return rows[0].run_id, rows[0].status
            time.sleep(2)
    finally:
        engine.dispose()
    pytest.fail(f"no finished run after {RUN_TIMEOUT_SECONDS}s:\n{log_path.read_text(errors='replace')[-4000:]}")
