"""Scope: a partnership's figures depend only on that partnership's data (whole pipeline, DuckDB).

The bundled sample is run as it is, then with one partnership's booking exports changed (every job
title rewritten), then with that partnership withdrawn (its config entry and exports gone: the
reverse of adding it). Every `metric_values` row of every other partnership, for every metric,
must stay the same. People trained by two partnerships make this bite: with a programme-wide role
(`dim_person`) a person's role elsewhere moved with Leap's files.

`metric_values` is the contract here: the published table may differ for other partnerships,
because secondary suppression across partnerships and the `all` row has to look at them together.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from amed_pipeline_tests.pipeline_runs import SAMPLE_DATA_DIR, read_table, run_nightly_in_process

CHANGED = "leap"
STAMPS = ["run_id", "computed_at"]
KEY = ["metric_id", "partnership_id", "dimension", "dimension_value"]


def _metric_values(data_dir: Path, base: Path) -> pd.DataFrame:
    url = f"duckdb:///{base}/warehouse.duckdb"
    assert run_nightly_in_process(data_dir, url, base / "exports").success
    return read_table(url, "metric_values").drop(columns=STAMPS).sort_values(KEY).reset_index(drop=True)


def _copy_sample(target: Path) -> Path:
    shutil.copytree(SAMPLE_DATA_DIR, target, ignore=shutil.ignore_patterns("exports", "*.duckdb*", ".dagster*"))
    return target


def _rewrite_job_titles(data_dir: Path, partnership: str, title: str) -> int:
    """Every Eventbrite attendee of `partnership` now gives `title` as their job title."""
    changed = 0
    for path in sorted((data_dir / "raw" / partnership / "eventbrite").glob("*.csv")):
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
        for row in rows:
            changed += row["Job Title"] != title
            row["Job Title"] = title
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return changed


def _withdraw(data_dir: Path, partnership: str) -> None:
    config_path = data_dir / "partnerships.yaml"
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    config["partnerships"] = [p for p in config["partnerships"] if p["id"] != partnership]
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    shutil.rmtree(data_dir / "raw" / partnership)


def _others(values: pd.DataFrame) -> pd.DataFrame:
    return values[~values["partnership_id"].isin([CHANGED, "all"])].reset_index(drop=True)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("independence")
    baseline = _metric_values(SAMPLE_DATA_DIR, base / "baseline")
    changed_dir = _copy_sample(base / "changed_data")
    assert _rewrite_job_titles(changed_dir, CHANGED, "General practitioner") > 0
    changed = _metric_values(changed_dir, base / "changed")
    withdrawn_dir = _copy_sample(base / "withdrawn_data")
    _withdraw(withdrawn_dir, CHANGED)
    withdrawn = _metric_values(withdrawn_dir, base / "withdrawn")
    return baseline, changed, withdrawn


@pytest.mark.slow
def test_changing_one_partnerships_exports_changes_no_other_partnerships_rows(runs):
    baseline, changed, _ = runs
    mine = lambda v: v[v["partnership_id"] == CHANGED].reset_index(drop=True)  # noqa: E731
    assert not mine(baseline).equals(mine(changed))  # the change is real: Leap's own role mix moved
    pd.testing.assert_frame_equal(_others(baseline), _others(changed))


@pytest.mark.slow
def test_withdrawing_or_adding_a_partnership_changes_no_other_partnerships_rows(runs):
    baseline, _, withdrawn = runs
    assert CHANGED not in set(withdrawn["partnership_id"])
    assert set(_others(baseline)["metric_id"]) == set(_others(withdrawn)["metric_id"])  # every metric compared
    pd.testing.assert_frame_equal(_others(baseline), _others(withdrawn))


def test_role_is_the_latest_attended_booking_within_each_scope():
    """The metric queries on a tiny warehouse: one person, trained by two partnerships.

    Leap's booking (March) says nurse, Berkshire's (April) says GP: Leap counts a nurse, Berkshire a
    GP, and 'all' the most recent (GP). Two Leap sessions on the same start break the tie by the
    larger session key.
    """
    import datetime as dt

    import sqlalchemy as sa

    from amed_pipeline.metrics.compute import run_queries
    from amed_pipeline.warehouse import schema

    engine = sa.create_engine("duckdb:///:memory:")
    lineage = {"source_name": "s", "source_format": "f", "source_file": "x.csv", "source_row": 2}
    sessions = [
        ("leap_a", "leap", dt.datetime(2021, 3, 1, 10)),
        ("leap_b", "leap", dt.datetime(2021, 3, 1, 10)),
        ("gba_a", "get_berkshire_active", dt.datetime(2021, 4, 1, 10)),
    ]
    bookings = [
        ("leap_a", "leap", "physiotherapist", "ahp"),
        ("leap_b", "leap", "nurse", "nursing"),
        ("gba_a", "get_berkshire_active", "gp", "medical"),
    ]
    with engine.begin() as conn:
        schema.metadata.create_all(
            conn, tables=[schema.dim_session, schema.fact_booking, schema.fact_feedback, schema.fact_followup]
        )
        conn.execute(
            sa.insert(schema.dim_session),
            [
                {
                    "session_key": k,
                    "partnership_id": p,
                    "session_ref": k,
                    "title": "t",
                    "training_type": "train_the_trainer",
                    "start_at": start,
                    "start_month": start.strftime("%Y-%m"),
                    "delivery_mode": "online",
                    **lineage,
                }
                for k, p, start in sessions
            ],
        )
        conn.execute(
            sa.insert(schema.fact_booking),
            [
                {
                    "session_key": k,
                    "person_key": "person",
                    "partnership_id": p,
                    "status": "attended",
                    "profession": profession,
                    "role_group": group,
                    "key_version": "v",
                    "n_records": 1,
                    **lineage,
                }
                for k, p, profession, group in bookings
            ],
        )
        roles = run_queries(conn)["by_role_group"]
    engine.dispose()
    assert dict(zip(roles["scope"], roles["role_group"])) == {
        "leap": "nursing",
        "get_berkshire_active": "medical",
        "all": "medical",
    }
