"""Scope: concurrency and interruption (issue 15 §5), with real processes and a real kill -9.

- Two `python -m amed_pipeline refresh` on one warehouse at once: the second says in one line that
  it waits, waits for the first, finds nothing left to do, and the warehouse holds exactly what one
  refresh leaves.
- A refresh killed with SIGKILL at several points of its run (while raw exports land, while
  staging, between the metric tables and the exports): the next
  refresh recovers, and every table of the warehouse (all of them but the history tables, run
  stamps aside) equals a clean run's; the exports are there.

Kill points are found in the run's own event log (the DAGSTER_HOME the refresh writes), so each
kill lands where it says. Scale-1 sample data; slow.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from amed_pipeline.changes.versions import EXPORT_FILES, EXPORTS_STEP, REPORT_FILE, REPORT_STEP
from amed_pipeline_tests.pipeline_runs import (
    PROJECT_ROOT,
    RUN_STAMPS,
    SAMPLE_DATA_DIR,
    TEST_KEY,
    run_nightly_in_process,
)

pytestmark = pytest.mark.slow

HISTORY_TABLES = {"dq_results", "run_failures", "erasure_log"}  # they record runs, so they differ by design
# Columns that record when something happened (the same rows, at another time): compared without them.
WHEN_COLUMNS = {"file_arrival": ["first_landed_at"]}


def every_table(url: str) -> dict[str, pd.DataFrame]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            names = [
                r[0]
                for r in conn.execute(
                    sa.text(
                        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
                        "AND table_type = 'BASE TABLE'"
                    )
                )
            ]
            tables = {}
            for name in sorted(set(names) - HISTORY_TABLES):
                frame = pd.read_sql_query(sa.text(f'SELECT * FROM "{name}"'), conn).drop(
                    columns=list(RUN_STAMPS), errors="ignore"
                )
                frame = frame.drop(columns=WHEN_COLUMNS.get(name, []))
                if (
                    name == "step_state"
                ):  # the exports' and report's fingerprints hash their files, which carry the run id
                    frame.loc[frame["step"].isin([EXPORTS_STEP, REPORT_STEP]), "fingerprint"] = "(files of this run)"
                tables[name] = (
                    frame.sort_values(list(frame.columns)).reset_index(drop=True) if len(frame.columns) else frame
                )
            return tables
    finally:
        engine.dispose()


def assert_same_tables(actual: dict, expected: dict) -> None:
    assert set(actual) == set(expected)
    for name, frame in expected.items():
        pd.testing.assert_frame_equal(actual[name], frame, check_dtype=False, obj=name)


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> dict[str, pd.DataFrame]:
    base = tmp_path_factory.mktemp("clean")
    url = f"duckdb:///{base}/warehouse.duckdb"
    assert run_nightly_in_process(SAMPLE_DATA_DIR, url, base / "exports").success
    return every_table(url)


def environment(tmp_path: Path) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AMED_ALERT", "DAGSTER_"))},
        "AMED_DATA_DIR": str(SAMPLE_DATA_DIR),
        "AMED_WAREHOUSE_URL": f"duckdb:///{tmp_path}/warehouse.duckdb",
        "AMED_EXPORT_DIR": str(tmp_path / "exports"),
        "AMED_PSEUDONYM_KEY": TEST_KEY,
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
    }


def start_refresh(env: dict, *arguments: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "amed_pipeline", "refresh", *arguments],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_event(
    env: dict, process: subprocess.Popen, step_key: str, event_type: dg.DagsterEventType, timeout: float = 300
) -> None:
    """Until the refresh's run logged `event_type` for `step_key`: read from the run's own event-log
    file in its DAGSTER_HOME (SQLite, read-only, so the refresh is not disturbed)."""
    runs = Path(env["DAGSTER_HOME"]) / "history" / "runs"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the refresh ended before {step_key} {event_type}: {process.communicate()}"
        for path in runs.glob("*.db") if runs.is_dir() else ():
            if path.name == "index.db":
                continue
            try:
                with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
                    found = db.execute(
                        "SELECT 1 FROM event_logs WHERE step_key = ? AND dagster_event_type = ? LIMIT 1",
                        (step_key, event_type.value),
                    ).fetchone()
            except sqlite3.Error:
                found = None
            if found:
                return
        time.sleep(0.05)
    pytest.fail(f"no {event_type} for {step_key} within {timeout}s")


def test_a_second_refresh_waits_for_the_first_and_the_warehouse_is_as_after_one(tmp_path, clean):
    env = environment(tmp_path)
    first = start_refresh(env)
    try:
        wait_for_event(env, first, "raw_exports", dg.DagsterEventType.STEP_START)
        second = start_refresh(env)
        out1, err1 = first.communicate(timeout=600)
        out2, err2 = second.communicate(timeout=600)
    finally:
        for process in (first, locals().get("second")):
            if process is not None and process.poll() is None:
                process.kill()
    assert first.returncode == 0, out1[-2000:] + err1[-2000:]
    assert second.returncode == 0, out2[-2000:] + err2[-2000:]
    waiting = [line for line in err2.splitlines() if "another refresh is running on the warehouse" in line]
    assert len(waiting) == 1, err2[-3000:]
    assert "nothing changed since the last refresh" in out2 and "nightly_refresh run" not in out2
    assert_same_tables(every_table(env["AMED_WAREHOUSE_URL"]), clean)


KILL_POINTS = [
    pytest.param("raw_exports", dg.DagsterEventType.ASSET_MATERIALIZATION, id="while-raw-exports-land"),
    pytest.param("staging", dg.DagsterEventType.STEP_START, id="while-staging"),
    pytest.param("reports__exports", dg.DagsterEventType.STEP_START, id="between-metric-tables-and-exports"),
]


@pytest.mark.parametrize("step_key, event_type", KILL_POINTS)
def test_after_kill_9_the_next_refresh_recovers_to_a_clean_runs_tables(tmp_path, clean, step_key, event_type):
    env = environment(tmp_path)
    refresh = start_refresh(env)
    try:
        wait_for_event(env, refresh, step_key, event_type)
        os.kill(refresh.pid, signal.SIGKILL)
        refresh.communicate(timeout=60)
    finally:
        if refresh.poll() is None:
            refresh.kill()
    assert refresh.returncode == -signal.SIGKILL

    again = subprocess.run(
        [sys.executable, "-m", "amed_pipeline", "refresh"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert_same_tables(every_table(env["AMED_WAREHOUSE_URL"]), clean)
    exports = Path(env["AMED_EXPORT_DIR"])
    assert all((exports / name).is_file() for name in (*EXPORT_FILES, REPORT_FILE))
    if step_key != "reports__exports":
        return
    # The crash between the metric tables and the exports (issue 12 §6): after recovery, a quiet night.
    quiet = subprocess.run(
        [sys.executable, "-m", "amed_pipeline", "refresh"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert quiet.returncode == 0 and "nothing changed since the last refresh" in quiet.stdout, (
        quiet.stdout + quiet.stderr
    )
