"""The shape of both code locations, written out, so that a change to the graph shows in review.

The asset keys (with their groups), asset checks, jobs, schedules and sensors of the location built on
the bundled sample config (`data/partnerships.yaml`), of the same location on the API config
(`data/partnerships.api.yaml`), and of the watchdog location (`amed_watchdog` in workspace.yaml).
When one of these tests fails because the graph changed on purpose, update the lists here in the
same change. `dagster definitions validate -w workspace.yaml` (run by `make test`) loads both
locations the way the UI does.
"""

from __future__ import annotations

import dagster as dg
import pytest

from amed_pipeline.definitions import build_definitions
from amed_pipeline.watchdog import defs as watchdog_defs
from amed_pipeline_tests.pipeline_runs import SAMPLE_DATA_DIR

# --- what every config has: staging, warehouse, metrics, reports, retention -----------------------

SHARED_ASSETS = {
    "staged/bookings": "staging",
    "staged/feedback": "staging",
    "staged/followup": "staging",
    "staged/sessions": "staging",
    "warehouse/dim_partnership": "warehouse",
    "warehouse/dim_person": "warehouse",
    "warehouse/ingest_ledger": "warehouse",
    "warehouse/ref_profession": "warehouse",
    "warehouse/ref_role_group": "warehouse",
    "warehouse/ref_training_type": "warehouse",
    "metrics/metric_definitions": "metrics",
    "metrics/metric_values": "metrics",
    "metrics/metric_values_published": "metrics",
    "metrics/metrics_headline": "metrics",
    "reports/data_returns": "reports",
    "reports/evaluation_report": "reports",
    "reports/exports": "reports",
    "raw_export_retention": "operations",
}

SHARED_CHECKS = [
    ("metrics/metric_values", "shares_sum_to_one"),
    ("metrics/metric_values", "values_in_range"),
    ("staged/bookings", "linked_to_known_session"),
    ("staged/bookings", "required_fields"),
    ("staged/bookings", "rows_parsed"),
    ("staged/bookings", "unique_ids"),
    ("staged/bookings", "values_in_sets"),
    ("staged/feedback", "ratings_0_10"),
    ("staged/feedback", "required_fields"),
    ("staged/feedback", "response_dates"),
    ("staged/feedback", "rows_parsed"),
    ("staged/feedback", "unique_ids"),
    ("staged/feedback", "values_in_sets"),
    ("staged/followup", "ratings_0_10"),
    ("staged/followup", "required_fields"),
    ("staged/followup", "response_dates"),
    ("staged/followup", "rows_parsed"),
    ("staged/followup", "unique_ids"),
    ("staged/followup", "values_in_sets"),
    ("staged/sessions", "dates_in_programme_window"),
    ("staged/sessions", "required_fields"),
    ("staged/sessions", "rows_parsed"),
    ("staged/sessions", "unique_ids"),
    ("staged/sessions", "values_in_sets"),
    ("warehouse/dim_person", "facts_reference_dimensions"),
    ("warehouse/dim_person", "keys_unique"),
    ("warehouse/ingest_ledger", "all_files_readable"),
    ("warehouse/ingest_ledger", "row_accounting_balanced"),
]

JOBS = ["__ASSET_JOB", "evaluation_release", "nightly_refresh", "raw_export_retention_job"]
SCHEDULES = ["nightly_refresh_schedule", "raw_export_retention_schedule"]
SENSORS = ["new_export_sensor", "run_failure_alerts"]

# --- per config: one raw-export asset per source, grouped by partnership ---------------------------

SAMPLE_RAW_EXPORTS = [
    "active_oxfordshire/bookings_eventbrite",
    "active_oxfordshire/feedback_surveymonkey",
    "active_oxfordshire/followup_surveymonkey",
    "active_oxfordshire/sessions_mapped_csv",
    "get_berkshire_active/bookings_eventbrite",
    "get_berkshire_active/bookings_mapped_csv",
    "get_berkshire_active/feedback_msforms",
    "get_berkshire_active/followup_google_forms",
    "get_berkshire_active/sessions_mapped_csv",
    "leap/bookings_eventbrite",
    "leap/bookings_mapped_csv",
    "leap/feedback_jisc",
    "leap/followup_google_forms",
    "leap/sessions_mapped_csv",
]

# The API config: each API source has a pull asset (`*_pull`, with a `pull_ok` check) upstream of
# its raw-export asset; file sources are as in the sample config.
API_RAW_EXPORTS = [
    "active_oxfordshire/bookings_eventbrite_api",
    "active_oxfordshire/feedback_surveymonkey_api",
    "active_oxfordshire/followup_surveymonkey_api",
    "active_oxfordshire/sessions_mapped_csv",
    "get_berkshire_active/bookings_eventbrite_api",
    "get_berkshire_active/bookings_mapped_csv",
    "get_berkshire_active/feedback_graph_drive",
    "get_berkshire_active/followup_google_forms_api",
    "get_berkshire_active/sessions_mapped_csv",
    "leap/bookings_eventbrite_api",
    "leap/bookings_mapped_csv",
    "leap/feedback_jisc",
    "leap/followup_google_forms_api",
    "leap/sessions_mapped_csv",
]
API_PULLS = [
    "active_oxfordshire/bookings_eventbrite_api_pull",
    "active_oxfordshire/feedback_surveymonkey_api_pull",
    "active_oxfordshire/followup_surveymonkey_api_pull",
    "get_berkshire_active/bookings_eventbrite_api_pull",
    "get_berkshire_active/feedback_graph_drive_pull",
    "get_berkshire_active/followup_google_forms_api_pull",
    "leap/bookings_eventbrite_api_pull",
    "leap/followup_google_forms_api_pull",
]


def _partnership_group(key: str) -> str:
    return key.split("/")[0]


def _assets(defs: dg.Definitions) -> dict[str, str | None]:
    graph = defs.resolve_asset_graph()
    return {key.to_user_string(): graph.get(key).group_name for key in graph.get_all_asset_keys()}


def _checks(defs: dg.Definitions) -> list[tuple[str, str]]:
    return sorted(
        (check.asset_key.to_user_string(), check.name) for check in defs.resolve_asset_graph().asset_check_keys
    )


def _jobs(defs: dg.Definitions) -> list[str]:
    return sorted(job.name for job in defs.resolve_all_job_defs())


def _schedules(defs: dg.Definitions) -> list[str]:
    return sorted(schedule.name for schedule in defs.schedules or [])


def _sensors(defs: dg.Definitions) -> list[str]:
    return sorted(sensor.name for sensor in defs.sensors or [])


@pytest.fixture(scope="module")
def sample_defs(tmp_path_factory) -> dg.Definitions:
    url = f"duckdb:///{tmp_path_factory.mktemp('definitions') / 'warehouse.duckdb'}"
    return build_definitions(SAMPLE_DATA_DIR, url, "partnerships.yaml")


@pytest.fixture(scope="module")
def api_defs(tmp_path_factory) -> dg.Definitions:
    url = f"duckdb:///{tmp_path_factory.mktemp('definitions_api') / 'warehouse.duckdb'}"
    return build_definitions(SAMPLE_DATA_DIR, url, "partnerships.api.yaml")


def test_the_sample_config_assets_and_their_groups(sample_defs):
    expected = {**{key: _partnership_group(key) for key in SAMPLE_RAW_EXPORTS}, **SHARED_ASSETS}
    assert _assets(sample_defs) == expected


def test_the_sample_config_asset_checks(sample_defs):
    assert _checks(sample_defs) == sorted(SHARED_CHECKS)


def test_the_sample_config_jobs_schedules_and_sensors(sample_defs):
    assert _jobs(sample_defs) == JOBS
    assert _schedules(sample_defs) == SCHEDULES
    assert _sensors(sample_defs) == SENSORS


def test_the_api_config_assets_and_their_groups(api_defs):
    expected = {**{key: _partnership_group(key) for key in API_RAW_EXPORTS + API_PULLS}, **SHARED_ASSETS}
    assert _assets(api_defs) == expected


def test_the_api_config_asset_checks(api_defs):
    assert _checks(api_defs) == sorted(SHARED_CHECKS + [(pull, "pull_ok") for pull in API_PULLS])


def test_the_api_config_jobs_schedules_and_sensors(api_defs):
    assert _jobs(api_defs) == JOBS
    assert _schedules(api_defs) == SCHEDULES
    assert _sensors(api_defs) == SENSORS


def test_the_watchdog_location_holds_one_sensor_and_nothing_else():
    defs = watchdog_defs()
    assert _assets(defs) == {}
    assert _checks(defs) == []
    assert _jobs(defs) == []
    assert _schedules(defs) == []
    assert _sensors(defs) == ["missed_refresh_watchdog"]


def test_the_command_line_runs_the_job_of_the_definitions_it_built(monkeypatch):
    """`refresh` builds the code location once: while it runs the job in its own process,
    `nightly_job` (what Dagster reconstructs the job from) returns that job; outside, a rebuild."""
    from amed_pipeline import definitions

    monkeypatch.setenv("AMED_DATA_DIR", str(SAMPLE_DATA_DIR))
    built = build_definitions()
    with definitions.running_in_process(built):
        assert definitions.nightly_job() is built.resolve_job_def("nightly_refresh")
        assert dg.reconstructable(definitions.nightly_job).get_definition() is built.resolve_job_def("nightly_refresh")
    rebuilt = definitions.nightly_job()
    assert rebuilt is not built.resolve_job_def("nightly_refresh")
    assert sorted(rebuilt.asset_layer.executable_asset_keys) == sorted(
        built.resolve_job_def("nightly_refresh").asset_layer.executable_asset_keys
    )
