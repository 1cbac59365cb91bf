"""Scope: retention of raw exports. Off by default; a dry run changes nothing; `archive` moves
only files older than the period (by modification time) to `<data dir>/archive/`, where no
source reads them; `delete` removes them; nothing but configured raw exports is ever touched.
Also: the `retention:` and `limits:` config keys are validated, and the Dagster asset, its job
and weekly schedule are wired as documented (dry run by hand, enforced by the schedule, never
part of the nightly refresh).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg
import pytest
import yaml

from amed_pipeline.config import ConfigError, Source, load_programme_config
from amed_pipeline.config.partnerships import parse_programme_config
from amed_pipeline.defs.retention import RETENTION_ASSET, RETENTION_SCHEDULE_NAME, build_retention_definitions
from amed_pipeline.privacy.retention import enforce_retention, expired
from amed_pipeline_tests.pipeline_runs import SAMPLE_DATA_DIR

DAY = 86_400
NOW = time.time()
CONFIG = {
    "programme": {"name": "Test", "start": "2020-07-01", "end": "2021-07-31"},
    "partnerships": [
        {
            "id": "test_partnership",
            "name": "Test",
            "sources": [
                {"dataset": "bookings", "format": "eventbrite", "path": "raw/eventbrite/*.csv"},
                {"dataset": "followup", "format": "google_forms", "path": "raw/followup/*.csv"},
            ],
        }
    ],
}
FILES = {  # relative path: age in days
    "raw/eventbrite/2020-07.csv": 400,
    "raw/eventbrite/2021-06.csv": 10,
    "raw/followup/old.csv": 91,
    "raw/followup/new.csv": 89,
    "raw/unconfigured/ancient.csv": 1000,  # no source reads it: never touched
    "reference/settings.csv": 1000,
}


def make_data_dir(root: Path, retention: dict | None = None) -> Path:
    config = dict(CONFIG)
    if retention is not None:
        config["retention"] = retention
    (root / "partnerships.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    for relative, age in FILES.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("Order #,Email\n1,someone@example.org\n", encoding="utf-8")
        os.utime(path, (NOW - age * DAY, NOW - age * DAY))
    return root


def present(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and p.name != "partnerships.yaml"}


def test_expired_compares_modification_time_with_the_period():
    ages = {Path("a"): 30.0, Path("b"): 29.9, Path("c"): 400.0}
    found = expired(ages, NOW, 30, mtime=lambda p: NOW - ages[p] * DAY - 1)
    assert found == [Path("a"), Path("c")]


def test_retention_is_off_by_default(tmp_path):
    root = make_data_dir(tmp_path)
    config = load_programme_config(root)
    assert config.retention.raw_exports_days is None
    assert load_programme_config(SAMPLE_DATA_DIR).retention.raw_exports_days is None
    assert enforce_retention(config, dry_run=False, now=NOW) == []
    assert present(root) == set(FILES)


def test_a_dry_run_lists_old_files_and_changes_nothing(tmp_path):
    root = make_data_dir(tmp_path, {"raw_exports_days": 90, "action": "delete"})
    actions = enforce_retention(load_programme_config(root), dry_run=True, now=NOW)
    assert [a.file for a in actions] == ["raw/eventbrite/2020-07.csv", "raw/followup/old.csv"]
    assert not any(a.done for a in actions)
    assert present(root) == set(FILES)


def test_archive_moves_only_old_raw_exports_where_no_source_reads_them(tmp_path):
    root = make_data_dir(tmp_path, {"raw_exports_days": 90})
    config = load_programme_config(root)
    assert config.retention.action == "archive"
    actions = enforce_retention(config, dry_run=False, now=NOW)
    assert [(a.file, a.destination) for a in actions] == [
        ("raw/eventbrite/2020-07.csv", "archive/raw/eventbrite/2020-07.csv"),
        ("raw/followup/old.csv", "archive/raw/followup/old.csv"),
    ]
    assert present(root) == set(FILES) - {a.file for a in actions} | {a.destination for a in actions}
    # A glob that would also match the archive still never reads it.
    greedy = Source(
        partnership_id="test_partnership", name="all_csv", dataset="bookings", format="eventbrite", path="**/*.csv"
    )
    assert not [p for p in greedy.files(root) if p.relative_to(root).parts[0] == "archive"]
    # A second archiving of a file with the same name does not overwrite the first.
    (root / "raw/followup/old.csv").write_text("again", encoding="utf-8")
    os.utime(root / "raw/followup/old.csv", (NOW - 200 * DAY, NOW - 200 * DAY))
    again = enforce_retention(config, dry_run=False, now=NOW)
    assert [a.destination for a in again] == ["archive/raw/followup/old.1.csv"]


def test_delete_removes_only_old_raw_exports(tmp_path):
    root = make_data_dir(tmp_path, {"raw_exports_days": 90, "action": "delete"})
    actions = enforce_retention(load_programme_config(root), dry_run=False, now=NOW)
    assert all(a.done and a.destination == "" for a in actions)
    assert present(root) == set(FILES) - {"raw/eventbrite/2020-07.csv", "raw/followup/old.csv"}


@pytest.mark.parametrize(
    "extra, fragment",
    [
        ({"retention": {"raw_exports_days": 0}}, "raw_exports_days"),
        ({"retention": {"raw_exports_days": "two years"}}, "raw_exports_days"),
        ({"retention": {"raw_exports_days": 30, "action": "shred"}}, "key 'action'"),
        ({"retention": {"keep": 30}}, "unknown key"),
        ({"limits": {"max_file_mb": 0}}, "max_file_mb"),
        ({"limits": {"max_file_gb": 1}}, "unknown key"),
    ],
)
def test_retention_and_limit_mistakes_fail_at_load(tmp_path, extra, fragment):
    with pytest.raises(ConfigError, match=fragment):
        parse_programme_config({**CONFIG, **extra}, tmp_path)


def test_the_asset_is_a_dry_run_by_hand_and_enforces_when_told(tmp_path):
    root = make_data_dir(tmp_path, {"raw_exports_days": 90})
    definitions = build_retention_definitions(load_programme_config(root))
    dry = dg.materialize(definitions.assets)
    materialization = dry.asset_materializations_for_node("raw_export_retention")[0]
    assert materialization.metadata["files"].value == 2
    assert materialization.metadata["dry run"].value is True
    assert present(root) == set(FILES)
    enforced = dg.materialize(
        definitions.assets, run_config={"ops": {"raw_export_retention": {"config": {"dry_run": False}}}}
    )
    assert enforced.success
    assert "archive/raw/followup/old.csv" in present(root)


def test_the_schedule_enforces_weekly_and_the_nightly_job_never_runs_retention():
    from amed_pipeline.definitions import build_definitions

    definitions = build_definitions(SAMPLE_DATA_DIR, "duckdb:///:memory:")
    schedule = definitions.resolve_schedule_def(RETENTION_SCHEDULE_NAME)
    assert schedule.execution_timezone == "Europe/London"
    assert schedule.cron_schedule == "0 3 * * 0"
    run_config = schedule.evaluate_tick(dg.build_schedule_context()).run_requests[0].run_config
    assert run_config["ops"]["raw_export_retention"]["config"]["dry_run"] is False
    nightly = definitions.resolve_job_def("nightly_refresh")
    assert RETENTION_ASSET not in nightly.asset_layer.executable_asset_keys


def test_a_source_glob_cannot_point_into_the_archive(tmp_path):
    raw = {
        **CONFIG,
        "partnerships": [
            {
                **CONFIG["partnerships"][0],
                "sources": [{"dataset": "bookings", "format": "eventbrite", "path": "archive/raw/eventbrite/*.csv"}],
            }
        ],
    }
    with pytest.raises(ConfigError, match="never read"):
        parse_programme_config(raw, tmp_path)
