"""Scope: the command line's Dagster instance, its SQLite storage pooled (`operations/instance_storage.py`).

On the instance `make run` uses (deploy/local.dagster.yaml), `open_instance` pools the storage; what
it records is what Dagster's own SQLite storage (the UI's) reads, and the other way round: the same
files and tables (runs, events, materialisations, check evaluations). Only the most recent run
files keep a connection open; wiping the storage closes its connections first. An instance stored
otherwise is opened as configured.
"""

from __future__ import annotations

import shutil
import uuid

import dagster as dg
import pytest
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from amed_pipeline.operations.instance_storage import (
    MAX_OPEN_RUN_FILES,
    PooledSqliteEventLogStorage,
    PooledSqliteRunStorage,
    open_instance,
)
from amed_pipeline_tests.pipeline_runs import PROJECT_ROOT


@dg.asset
def numbers() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"dagster/row_count": 3})


@dg.asset_check(asset=numbers)
def numbers_counted() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


@pytest.fixture
def local_home(tmp_path, monkeypatch):
    """A DAGSTER_HOME with the instance `make run` uses (deploy/local.dagster.yaml)."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(PROJECT_ROOT / "deploy" / "local.dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def test_a_run_recorded_through_the_pooled_storage_reads_the_same_through_dagsters_own(local_home):
    with open_instance() as instance:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        assert isinstance(instance.run_storage, PooledSqliteRunStorage)
        result = dg.materialize([numbers, numbers_counted], instance=instance)
        assert result.success
        pooled_events = [e.dagster_event_type for e in instance.all_logs(result.run_id)]
        pooled_runs = [r.run_id for r in instance.get_runs()]
    with dg.DagsterInstance.get() as instance:  # what the UI opens
        assert type(instance.event_log_storage) is SqliteEventLogStorage
        assert [e.dagster_event_type for e in instance.all_logs(result.run_id)] == pooled_events
        assert [r.run_id for r in instance.get_runs()] == pooled_runs
        assert instance.get_run_by_id(result.run_id).status == dg.DagsterRunStatus.SUCCESS
        materialization = instance.get_latest_materialization_event(numbers.key)
        assert materialization.run_id == result.run_id
        assert materialization.asset_materialization.metadata["dagster/row_count"].value == 3
        check_key = dg.AssetCheckKey(numbers.key, "numbers_counted")
        record = instance.event_log_storage.get_latest_asset_check_execution_by_key([check_key])[check_key]
        assert record.run_id == result.run_id
        # and the other way round: a run Dagster's own storage recorded, read through the pooled one
        second = dg.materialize([numbers], instance=instance)
    with open_instance() as instance:
        assert instance.get_latest_materialization_event(numbers.key).run_id == second.run_id


def test_only_the_most_recent_run_files_keep_a_connection(tmp_path):
    storage = PooledSqliteEventLogStorage(str(tmp_path))
    runs = [str(uuid.uuid4()) for _ in range(MAX_OPEN_RUN_FILES + 3)]
    for run_id in runs:
        with storage.run_connection(run_id) as conn:
            conn.exec_driver_sql("select 1")
    with storage.index_connection() as conn:
        conn.exec_driver_sql("select 1")
    assert list(storage._engines) == [*runs[-MAX_OPEN_RUN_FILES:], "index"]
    with storage.run_connection(runs[0]) as conn:  # an older run file opens again when read
        assert conn.exec_driver_sql("select count(*) from event_logs").scalar() == 0
    assert list(storage._engines) == [*runs[-MAX_OPEN_RUN_FILES + 1 :], "index", runs[0]]
    storage.dispose()
    assert not storage._engines


def test_wiping_closes_the_connections_and_the_storage_works_after(local_home):
    with open_instance() as instance:
        first = dg.materialize([numbers], instance=instance)
        instance.wipe()
        assert instance.get_runs() == [] and instance.all_logs(first.run_id) == []
        second = dg.materialize([numbers], instance=instance)
        assert instance.get_latest_materialization_event(numbers.key).run_id == second.run_id


def test_a_sqlite_storage_named_in_dagster_yaml_is_pooled_where_it_says(local_home, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    (local_home / "dagster.yaml").write_text(f"storage:\n  sqlite:\n    base_dir: {elsewhere}\n")
    with open_instance() as instance:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        run_id = dg.materialize([numbers], instance=instance).run_id
    assert (elsewhere / "history" / "runs" / f"{run_id}.db").exists()


def test_an_instance_stored_otherwise_is_opened_as_configured(local_home):
    lines = []
    for key, module, cls, directory in (
        ("run_storage", "runs", "SqliteRunStorage", "history"),
        ("event_log_storage", "event_log", "SqliteEventLogStorage", "history/runs"),
        ("schedule_storage", "schedules", "SqliteScheduleStorage", "schedules"),
    ):
        lines += [f"{key}:", f"  module: dagster._core.storage.{module}", f"  class: {cls}"]
        lines += ["  config:", f"    base_dir: {local_home / directory}"]
    (local_home / "dagster.yaml").write_text("\n".join(lines) + "\n")
    with open_instance() as instance:
        assert type(instance.event_log_storage) is SqliteEventLogStorage
        assert dg.materialize([numbers], instance=instance).success
