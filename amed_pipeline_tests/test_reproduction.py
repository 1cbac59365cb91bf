"""Scope: the evaluation's figures, reproduced by the pipeline from the raw sample rows.

The bundled sample data is generated to contain the programme the evaluation describes; this
test reads the figures from the materialised `metric_values` table (exact, restricted) and
compares them with the published evaluation: percentages to the nearest whole number, means to
one decimal. No figure is typed into the pipeline: if aggregation or semantics drift, this fails.
"""

from __future__ import annotations

import pytest

from amed_pipeline_tests.pipeline_runs import SAMPLE_DATA_DIR, metric, read_table, run_nightly_in_process


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    base = tmp_path_factory.mktemp("reproduction")
    result = run_nightly_in_process(SAMPLE_DATA_DIR, f"duckdb:///{base}/warehouse.duckdb", base / "exports")
    assert result.success
    return base


@pytest.fixture(scope="module")
def values(run_dir):
    return read_table(f"duckdb:///{run_dir}/warehouse.duckdb", "metric_values")


def pct(row) -> int:
    return round(100 * row["value"])


def test_people_sessions_and_months(values):
    assert metric(values, "people_trained")["value"] == 1301
    assert metric(values, "sessions_delivered")["value"] == 68
    months = metric(values, "delivery_months")
    assert months["value"] == 13
    assert (months["period_start"].year, months["period_start"].month) == (2020, 7)
    assert (months["period_end"].year, months["period_end"].month) == (2021, 7)


def test_training_type_mix(values):
    shares = {
        t: pct(metric(values, "training_type_share", dimension="training_type", value=t))
        for t in (
            "helping_people_become_more_active",
            "physical_activity_in_clinical_care",
            "motivational_interviewing",
            "bespoke_iapt",
        )
    }
    assert shares == {
        "helping_people_become_more_active": 43,
        "physical_activity_in_clinical_care": 39,
        "motivational_interviewing": 11,
        "bespoke_iapt": 7,
    }
    assert metric(values, "online_workshop_share")["value"] > 0.80


def test_role_group_mix(values):
    shares = {
        g: pct(metric(values, "role_group_share", dimension="role_group", value=g))
        for g in ("health_and_social_care", "third_sector_volunteers_council", "link_workers", "talking_therapies")
    }
    assert shares == {
        "health_and_social_care": 43,
        "third_sector_volunteers_council": 34,
        "link_workers": 12,
        "talking_therapies": 11,
    }


def test_response_rates(values):
    feedback = metric(values, "feedback_response_rate")["value"]
    followup = metric(values, "followup_response_rate")["value"]
    assert round(1 / feedback) == 3, feedback
    assert round(1 / followup) == 10, followup


def test_ratings(values):
    assert metric(values, "usefulness_end_mean")["value"] > 8
    assert metric(values, "usefulness_followup_mean")["value"] > 7
    assert round(metric(values, "knowledge_mean")["value"], 1) == 8.4
    assert round(metric(values, "confidence_mean")["value"], 1) == 8.0


def test_more_conversations(values):
    assert pct(metric(values, "more_conversations_share")) == 73
    by_setting = {
        s: pct(metric(values, "more_conversations_share", dimension="setting", value=s))
        for s in ("gp_practice", "hospital", "charity_voluntary")
    }
    assert by_setting == {"gp_practice": 84, "hospital": 82, "charity_voluntary": 76}


def test_physiotherapists_in_clinical_care(values):
    physios = metric(
        values,
        "profession_share",
        dimension="training_type|profession",
        value="physical_activity_in_clinical_care|physiotherapist",
    )
    assert physios["numerator"] == 54
    assert pct(physios) == 10


def test_all_is_not_the_sum_of_partnerships(values):
    """People trained by two partnerships count once in the programme total."""
    partnerships = values[
        (values["metric_id"] == "people_trained") & (values["dimension"] == "") & (values["partnership_id"] != "all")
    ]
    assert partnerships["value"].sum() > metric(values, "people_trained")["value"]
    attendances = values[
        (values["metric_id"] == "attendances") & (values["dimension"] == "") & (values["partnership_id"] != "all")
    ]
    assert attendances["value"].sum() == metric(values, "attendances")["value"]


def test_monthly_rows_add_up(values):
    monthly = values[
        (values["metric_id"] == "attendances") & (values["dimension"] == "month") & (values["partnership_id"] == "all")
    ]
    assert len(monthly) == 13
    assert monthly["value"].sum() == metric(values, "attendances")["value"]


def test_shares_of_a_breakdown_sum_to_one(values):
    for metric_id, dimension in (("training_type_share", "training_type"), ("role_group_share", "role_group")):
        rows = values[
            (values["metric_id"] == metric_id)
            & (values["partnership_id"] == "all")
            & (values["dimension"] == dimension)
        ]
        assert rows["value"].sum() == pytest.approx(1.0)


def test_the_report_shows_the_exact_programme_total(run_dir):
    """The evaluation says 1,301 people trained: programme totals are published exactly (policy)."""
    published = read_table(f"duckdb:///{run_dir}/warehouse.duckdb", "metric_values_published")
    exact = read_table(f"duckdb:///{run_dir}/warehouse.duckdb", "metric_values")
    people = metric(exact, "people_trained")["value"]
    assert metric(published, "people_trained")["value"] == people
    page = (run_dir / "exports" / "evaluation_report.html").read_text(encoding="utf-8")
    assert f"{people:,.0f}" in page


def test_exports_write_counts_as_integers_and_clean_labels(run_dir):
    """`1385`, not `1385.0`; no label with stray spaces (the old `" (and month)"`)."""
    import csv

    for name in ("metric_values.csv", "metric_definitions.csv"):
        with (run_dir / "exports" / name).open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert rows, name
        for row in rows:
            for column, cell in row.items():
                assert cell == cell.strip() and "  " not in cell, (name, column, cell)
                if name == "metric_values.csv" and column in ("numerator", "denominator", "base_n"):
                    assert not cell.endswith(".0"), (column, cell)
                if name == "metric_values.csv" and column == "value" and row["unit"] == "count":
                    assert cell == "" or cell.isdigit(), cell
