"""Scope: staging checks tell the truth in the UI when a partnership is not evaluated again.

A run that skips an unchanged partnership (nothing to stage) must show each check's last real
outcome for it: rows it quarantined are still quarantined, so the check is still a WARN with that
count, never "Passed, failing rows 0". Pure `_check_results` on a stored history, then the whole
nightly job run twice on the bundled sample.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from amed_pipeline.defs.staging import READ_CHECK, _check_results
from amed_pipeline.warehouse.check_results import dq_history_rows
from amed_pipeline_tests.pipeline_runs import SAMPLE_DATA_DIR, read_table, run_nightly_in_process


def stored_history(failing: int) -> pd.DataFrame:
    rows = dq_history_rows(
        "run-1",
        "bookings",
        READ_CHECK,
        "WARN",
        False,
        failing == 0,
        pd.Series({"leap": failing}),
        pd.Series({"leap": 100}),
        "rows refused while reading or staging",
        dt.datetime(2026, 11, 1, 2, 0),
    )
    return rows


def _result(results, dataset, rule):
    return next(r for r in results if r.asset_key.path == ["staged", dataset] and r.check_name == rule)


def test_an_unchanged_partnership_keeps_its_last_warning():
    results = list(_check_results([], ["leap"], stored_history(7)))
    check = _result(results, "bookings", READ_CHECK)
    assert not check.passed
    assert check.metadata["failing rows (quarantined)"].value == 7
    assert "run-1" in check.metadata["by partnership"].value


def test_an_unchanged_partnership_that_passed_still_passes():
    check = _result(list(_check_results([], ["leap"], stored_history(0))), "bookings", READ_CHECK)
    assert check.passed and check.metadata["failing rows (quarantined)"].value == 0


@pytest.mark.slow
def test_a_second_run_with_nothing_to_stage_still_warns_of_quarantined_rows(tmp_path):
    url = f"duckdb:///{tmp_path}/warehouse.duckdb"
    assert run_nightly_in_process(SAMPLE_DATA_DIR, url, tmp_path / "exports").success
    again = run_nightly_in_process(SAMPLE_DATA_DIR, url, tmp_path / "exports")
    assert again.success
    quarantine = read_table(url, "quarantine")
    quarantined = quarantine[(quarantine["dataset"] == "bookings") & (quarantine["source_row"] > 0)]
    expected = len(quarantined.drop_duplicates(["source_file", "source_row"]))
    assert expected > 0  # the sample has bookings that cannot be attributed or linked
    check = next(
        e
        for e in again.get_asset_check_evaluations()
        if e.asset_key.to_user_string() == "staged/bookings" and e.check_name == READ_CHECK
    )
    assert not check.passed
    assert check.metadata["failing rows (quarantined)"].value == expected
