"""Scope: `metrics/compute.py`'s metric families, one at a time, on tiny hand-built aggregates.

Each family turns the aggregates its queries return into tidy rows; the figures below are worked
out by hand from the frames. Two scopes throughout: partnership `p1` and the programme row `all`
(here `all` also counts a second partnership's people, so the two differ). Whole runs exercise the
SQL; these pin the arithmetic, the periods and the bases.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from amed_pipeline.metrics.compute import (
    METRIC_COLUMNS,
    metric_row,
    metric_rows,
    monthly_reach_rows,
    more_conversations_rows,
    profession_rows,
    rating_rows,
    reach_rows,
    response_rows,
    role_group_rows,
    scope_periods,
    training_type_rows,
)

ONLINE = "helping_people_become_more_active"  # an online workshop type
P1_PERIOD = (dt.date(2020, 7, 6), dt.date(2020, 9, 14))
ALL_PERIOD = (dt.date(2020, 7, 1), dt.date(2021, 1, 20))


def totals() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "scope": ["p1", "all"],
            "people": [4, 10],
            "attendances": [5, 12],
            "sessions": [2, 5],
            "first_start": [pd.Timestamp("2020-07-06 10:00"), pd.Timestamp("2020-07-01 09:30")],
            "last_start": [pd.Timestamp("2020-09-14 14:00"), pd.Timestamp("2021-01-20 13:00")],
        }
    ).set_index("scope")


def periods() -> dict:
    return scope_periods(totals())


def by_type() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "scope": ["p1", "p1", "all", "all"],
            "training_type": [ONLINE, "train_the_trainer", ONLINE, "train_the_trainer"],
            "attendances": [4, 1, 9, 3],
        }
    )


def frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)


def figures(rows: list[dict]) -> dict[tuple, tuple]:
    """(metric, scope, dimension value) → (numerator, denominator, value, base_n)."""
    return {
        (r["metric_id"], r["partnership_id"], r["dimension_value"]): (
            r["numerator"],
            r["denominator"],
            r["value"],
            r["base_n"],
        )
        for r in rows
    }


def test_a_scope_period_runs_from_its_first_to_its_last_attended_session():
    assert periods() == {"p1": P1_PERIOD, "all": ALL_PERIOD}


def test_a_count_is_its_numerator_and_a_share_its_ratio_with_the_denominator_as_base():
    count = metric_row("attendances", "p1", 5, P1_PERIOD)
    share = metric_row("training_type_share", "p1", 1, P1_PERIOD, 4, "training_type", "train_the_trainer")
    assert (count["value"], count["denominator"], count["base_n"], count["unit"]) == (5.0, None, 5, "count")
    assert (share["value"], share["base_n"], share["dimension"]) == (0.25, 4, "training_type")
    assert (share["period_start"], share["period_end"]) == P1_PERIOD
    assert metric_row("knowledge_mean", "p1", 0, P1_PERIOD, 0)["value"] is None  # nothing to divide by


def test_reach_counts_people_attendances_sessions_and_delivery_months_per_scope():
    rows = reach_rows(totals(), periods())
    assert figures(rows) == {
        ("people_trained", "p1", ""): (4.0, None, 4.0, 4),
        ("attendances", "p1", ""): (5.0, None, 5.0, 5),
        ("sessions_delivered", "p1", ""): (2.0, None, 2.0, 2),
        ("delivery_months", "p1", ""): (3.0, None, 3.0, 2),  # July to September 2020; base: sessions
        ("people_trained", "all", ""): (10.0, None, 10.0, 10),
        ("attendances", "all", ""): (12.0, None, 12.0, 12),
        ("sessions_delivered", "all", ""): (5.0, None, 5.0, 5),
        ("delivery_months", "all", ""): (7.0, None, 7.0, 5),  # July 2020 to January 2021
    }
    assert {(r["period_start"], r["period_end"]) for r in rows if r["partnership_id"] == "all"} == {ALL_PERIOD}


def test_monthly_reach_is_dated_to_its_calendar_month():
    monthly = pd.DataFrame({"scope": ["p1"], "month": ["2020-02"], "people": [3], "attendances": [4], "sessions": [1]})
    rows = monthly_reach_rows(monthly)
    assert [(r["metric_id"], r["value"], r["dimension"], r["dimension_value"]) for r in rows] == [
        ("people_trained", 3.0, "month", "2020-02"),
        ("attendances", 4.0, "month", "2020-02"),
        ("sessions_delivered", 1.0, "month", "2020-02"),
    ]
    assert {(r["period_start"], r["period_end"]) for r in rows} == {(dt.date(2020, 2, 1), dt.date(2020, 2, 29))}


def test_training_type_shares_are_of_attendances_and_online_workshops_add_up_the_online_types():
    assert figures(training_type_rows(by_type(), totals(), periods())) == {
        ("training_type_share", "p1", ONLINE): (4.0, 5.0, 0.8, 5),
        ("training_type_share", "p1", "train_the_trainer"): (1.0, 5.0, 0.2, 5),
        ("training_type_share", "all", ONLINE): (9.0, 12.0, 0.75, 12),
        ("training_type_share", "all", "train_the_trainer"): (3.0, 12.0, 0.25, 12),
        ("online_workshop_share", "p1", ""): (4.0, 5.0, 0.8, 5),
        ("online_workshop_share", "all", ""): (9.0, 12.0, 0.75, 12),
    }


def test_role_group_shares_are_of_people_not_attendances():
    by_role = pd.DataFrame({"scope": ["p1", "p1", "all"], "role_group": ["ahp", "nursing", "ahp"], "people": [3, 1, 6]})
    assert figures(role_group_rows(by_role, totals(), periods())) == {
        ("role_group_share", "p1", "ahp"): (3.0, 4.0, 0.75, 4),
        ("role_group_share", "p1", "nursing"): (1.0, 4.0, 0.25, 4),
        ("role_group_share", "all", "ahp"): (6.0, 10.0, 0.6, 10),
    }


def test_profession_shares_are_within_their_training_type():
    by_profession = pd.DataFrame(
        {
            "scope": ["p1", "p1", "all"],
            "training_type": [ONLINE, ONLINE, "train_the_trainer"],
            "profession": ["nurse", "gp", "nurse"],
            "attendances": [3, 1, 3],
        }
    )
    rows = profession_rows(by_profession, by_type(), periods())
    assert figures(rows) == {
        ("profession_share", "p1", f"{ONLINE}|nurse"): (3.0, 4.0, 0.75, 4),
        ("profession_share", "p1", f"{ONLINE}|gp"): (1.0, 4.0, 0.25, 4),
        ("profession_share", "all", "train_the_trainer|nurse"): (3.0, 3.0, 1.0, 3),
    }
    assert {r["dimension"] for r in rows} == {"training_type|profession"}


def test_responses_and_rates_are_zero_for_a_scope_without_responses_and_months_outside_scopes_are_dropped():
    responses = pd.DataFrame({"scope": ["all"], "responses": [3]}).set_index("scope")
    monthly = pd.DataFrame({"scope": ["all", "p9"], "month": ["2020-08", "2020-08"], "responses": [3, 2]})
    rows = response_rows("feedback", responses, monthly, totals(), periods())
    assert figures(rows) == {
        ("feedback_responses", "p1", ""): (0.0, None, 0.0, 0),
        ("feedback_response_rate", "p1", ""): (0.0, 5.0, 0.0, 5),
        ("feedback_responses", "all", ""): (3.0, None, 3.0, 3),
        ("feedback_response_rate", "all", ""): (3.0, 12.0, 0.25, 12),
        ("feedback_responses", "all", "2020-08"): (3.0, None, 3.0, 3),  # p9 has no attended session: dropped
    }


def test_rating_means_skip_unanswered_questions_and_scopes_without_attendance():
    feedback = pd.DataFrame(
        {
            "scope": ["p1", "p9"],
            "responses": [4, 2],
            "usefulness_sum": [30, 20],
            "usefulness_n": [4, 2],
            "knowledge_sum": [0, 10],
            "knowledge_n": [0, 2],
            "confidence_sum": [21, 10],
            "confidence_n": [3, 2],
        }
    ).set_index("scope")
    assert figures(rating_rows("feedback", feedback, periods())) == {
        ("usefulness_end_mean", "p1", ""): (30.0, 4.0, 7.5, 4),
        ("confidence_mean", "p1", ""): (21.0, 3.0, 7.0, 3),
    }
    followup = pd.DataFrame({"scope": ["all"], "usefulness_sum": [16], "usefulness_n": [2]}).set_index("scope")
    assert figures(rating_rows("followup", followup, periods())) == {
        ("usefulness_followup_mean", "all", ""): (16.0, 2.0, 8.0, 2)
    }


def test_more_conversations_is_a_share_of_those_who_answered_overall_and_by_setting():
    followup = pd.DataFrame({"scope": ["p1", "all"], "more_n": [0, 3], "answered_n": [0, 4]}).set_index("scope")
    by_setting = pd.DataFrame(
        {
            "scope": ["all", "all", "all", "p9"],
            "setting": ["hospital", "gp_practice", "unknown", "hospital"],
            "more_n": [1, 2, 0, 1],
            "answered_n": [2, 2, 0, 1],
        }
    )
    rows = more_conversations_rows(followup, by_setting, periods())
    assert figures(rows) == {
        ("more_conversations_share", "all", ""): (3.0, 4.0, 0.75, 4),  # p1: nobody answered, no row
        ("more_conversations_share", "all", "hospital"): (1.0, 2.0, 0.5, 2),
        ("more_conversations_share", "all", "gp_practice"): (2.0, 2.0, 1.0, 2),
    }  # no row for a setting nobody answered from, nor for p9 (no attended session)
    assert [r["dimension"] for r in rows] == ["", "setting", "setting"]


def empty_aggregates() -> dict[str, pd.DataFrame]:
    names = ("monthly", "by_role_group", "by_profession", "feedback_monthly", "followup_monthly")
    return {
        "totals": totals().reset_index(),
        "by_training_type": by_type(),
        "feedback": pd.DataFrame(),
        "followup": pd.DataFrame(),
        "conversations_by_setting": pd.DataFrame(),
        **{name: pd.DataFrame() for name in names},
    }


def test_metric_rows_composes_the_families_in_published_order():
    exact = metric_rows(empty_aggregates())
    assert list(exact.columns) == METRIC_COLUMNS
    # The reach, training-type and response families; no roles, professions, ratings or conversations.
    assert sorted(set(exact["metric_id"])) == [
        "attendances",
        "delivery_months",
        "feedback_response_rate",
        "feedback_responses",
        "followup_response_rate",
        "followup_responses",
        "online_workshop_share",
        "people_trained",
        "sessions_delivered",
        "training_type_share",
    ]
    assert exact["metric_id"].is_monotonic_increasing
    first = exact[exact["metric_id"] == "attendances"]
    assert first["partnership_id"].tolist() == ["all", "p1"]  # the programme row first


def test_no_attended_session_means_no_metric_rows():
    exact = metric_rows({"totals": pd.DataFrame()})
    assert exact.empty and list(exact.columns) == METRIC_COLUMNS
