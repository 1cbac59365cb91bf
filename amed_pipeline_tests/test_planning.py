"""Scope: the refresh plan (`operations.planning`): what changed since the last refresh.

One full run on a copy of the sample data; each test changes one thing, plans, and puts it back.
Also what a run then covers: its partitions, and the batches staging works in.
"""

from __future__ import annotations

import os
import shutil

import pytest

from amed_pipeline.config import load_programme_config
from amed_pipeline.defs.jobs import partition_tags
from amed_pipeline.defs.staging import staging_batches
from amed_pipeline.operations.planning import plan_refresh
from amed_pipeline.warehouse.resource import WarehouseResource
from amed_pipeline_tests.pipeline_runs import SAMPLE_DATA_DIR, TEST_KEY, run_nightly_in_process

LEAP_FILE = "raw/leap/sessions/Leap_Active_Medicine_courses.csv"


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory):
    root = tmp_path_factory.mktemp("planning")
    data = root / "data"
    shutil.copytree(SAMPLE_DATA_DIR, data, ignore=shutil.ignore_patterns("warehouse", "exports", ".secrets"))
    url = f"duckdb:///{root}/warehouse.duckdb"
    assert run_nightly_in_process(data, url, root / "exports").success
    return data, url, root / "exports"


def plan(refreshed, key: str = TEST_KEY):
    data, url, exports = refreshed
    with WarehouseResource(url=url).connect() as conn:
        return plan_refresh(load_programme_config(data), conn, key.encode(), frozenset(), exports)


def test_nothing_changed_after_a_refresh(refreshed):
    assert plan(refreshed).nothing_to_do


def test_a_touched_file_with_the_same_bytes_is_no_change(refreshed):
    os.utime(refreshed[0] / LEAP_FILE)
    assert plan(refreshed).nothing_to_do


def test_a_changed_file_changes_only_its_partnership(refreshed):
    path = refreshed[0] / LEAP_FILE
    original = path.read_bytes()
    path.write_bytes(original + b"\n")
    try:
        result = plan(refreshed)
    finally:
        path.write_bytes(original)
    assert result.changed == ["leap"] and "changed file" in result.reasons["leap"]


def test_new_and_removed_files_are_changes(refreshed):
    path = refreshed[0] / LEAP_FILE
    copy = path.with_name("Leap_Active_Medicine_courses_copy.csv")
    shutil.copy(path, copy)
    try:
        assert "new file" in plan(refreshed).reasons["leap"]
    finally:
        copy.unlink()
    moved = path.with_suffix(".moved")
    path.rename(moved)
    try:
        assert "file removed" in plan(refreshed).reasons["leap"]
    finally:
        moved.rename(path)
    assert plan(refreshed).nothing_to_do


def test_another_key_means_every_file_is_read_again(refreshed):
    result = plan(refreshed, key="another-key")
    assert result.changed == ["active_oxfordshire", "get_berkshire_active", "leap"]
    assert all("read again" in reason for reason in result.reasons.values())


def test_a_missing_export_file_is_out_of_date_after_staging(refreshed):
    workbook = refreshed[2] / "amed_metrics.xlsx"
    kept = workbook.read_bytes()
    workbook.unlink()
    try:
        result = plan(refreshed)
    finally:
        workbook.write_bytes(kept)
    assert not result.changed and result.downstream_stale == ["exports"]


def test_a_run_covers_the_partitions_from_the_first_to_the_last_changed_partnership():
    ids = ["a", "b", "c", "d"]
    assert partition_tags(ids, ["c"]) == {"dagster/partition": "c"}
    assert partition_tags(ids, ["d", "b"]) == {
        "dagster/asset_partition_range_start": "b",
        "dagster/asset_partition_range_end": "d",
    }


def test_partnerships_are_staged_in_batches_within_a_row_budget():
    sizes = {"a": 60, "b": 50, "c": 10, "d": 200, "e": 0}
    assert staging_batches(sizes, 100) == [["a"], ["b", "c"], ["d"], ["e"]]
    assert staging_batches(sizes, 1000) == [["a", "b", "c", "d", "e"]]
    assert staging_batches({}, 100) == []


def test_keys_unique_finds_a_key_twice_where_duckdb_declares_no_primary_key(refreshed):
    """DuckDB tables carry no primary key (bulk loads); the blocking check catches a repeated key."""
    from sqlalchemy import text

    from amed_pipeline.warehouse.checks import WAREHOUSE_CHECKS, run_warehouse_check

    check = next(c for c in WAREHOUSE_CHECKS if c.name == "keys_unique")
    warehouse = WarehouseResource(url=refreshed[1])
    with warehouse.connect() as conn:
        assert run_warehouse_check(conn, check).empty
    with warehouse.begin() as conn:
        conn.execute(text("INSERT INTO dim_session SELECT * FROM dim_session LIMIT 1"))
        failing = run_warehouse_check(conn, check)
        conn.rollback()
    assert len(failing) == 1 and failing["detail"].iloc[0].startswith("dim_session: 2 rows share one key")


# --- stale exports after a crash (issue 12 §6) --------------------------------------------------------


def test_a_crash_between_the_metric_tables_and_the_first_exports_is_seen(tmp_path):
    """Killed after the metric tables on a first refresh: no export was ever written or recorded."""

    from amed_pipeline.definitions import build_definitions
    from amed_pipeline.defs.jobs import NIGHTLY_JOB_NAME, all_partnerships_tags

    url, exports = f"duckdb:///{tmp_path}/warehouse.duckdb", tmp_path / "exports"
    defs = build_definitions(SAMPLE_DATA_DIR, url, export_dir=exports, pseudonym_key=TEST_KEY)
    graph = defs.resolve_asset_graph()
    before_reports = [
        k for k in graph.get_all_asset_keys() if k.path[0] != "reports" and k.path[-1] != "raw_export_retention"
    ]
    result = defs.resolve_job_def(NIGHTLY_JOB_NAME).execute_in_process(
        asset_selection=before_reports,
        tags=all_partnerships_tags(load_programme_config(SAMPLE_DATA_DIR).partnership_ids),
    )
    assert result.success
    result = plan((SAMPLE_DATA_DIR, url, exports))
    assert not result.nothing_to_do and {"exports", "report"} <= set(result.downstream_stale)


def test_an_export_cut_short_or_replaced_is_out_of_date(refreshed):
    path = refreshed[2] / "metric_values.csv"
    original = path.read_bytes()
    path.write_bytes(original[: len(original) // 2])  # what a kill -9 half-way through writing leaves
    try:
        result = plan(refreshed)
    finally:
        path.write_bytes(original)
    assert result.downstream_stale == ["exports"]
    assert plan(refreshed).nothing_to_do


def test_the_plan_names_every_changed_source_of_a_partnership(refreshed):
    paths = [refreshed[0] / LEAP_FILE, next((refreshed[0] / "raw/leap/eventbrite").glob("*.csv"))]
    originals = [p.read_bytes() for p in paths]
    for path, original in zip(paths, originals):
        path.write_bytes(original + b"\n")
    try:
        result = plan(refreshed)
    finally:
        for path, original in zip(paths, originals):
            path.write_bytes(original)
    assert result.changed == ["leap"]
    assert "sessions_mapped_csv: changed file" in result.reasons["leap"]
    assert "bookings_eventbrite: changed file" in result.reasons["leap"]
