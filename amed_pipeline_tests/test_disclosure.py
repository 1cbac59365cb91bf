"""Scope: statistical disclosure control on worked examples (pure functions, no database)."""

import datetime as dt

import pandas as pd
import pytest

from amed_pipeline.metrics.disclosure import (
    LOW_RELIABILITY,
    SUPPRESSED,
    DisclosureRules,
    publish,
    round_to_base,
)

PERIOD = (dt.date(2020, 7, 1), dt.date(2021, 7, 31))


def row(metric_id, unit, numerator, denominator=None, partnership="all", dimension="", value_label="", base_n=None):
    value = numerator if unit == "count" else (None if not denominator else numerator / denominator)
    return {
        "metric_id": metric_id, "partnership_id": partnership, "dimension": dimension, "dimension_value": value_label,
        "period_start": PERIOD[0], "period_end": PERIOD[1], "numerator": float(numerator),
        "denominator": None if denominator is None else float(denominator), "value": value, "unit": unit,
        "base_n": base_n if base_n is not None else (denominator if denominator is not None else numerator),
    }


@pytest.mark.parametrize("value, expected", [(0, 0), (2, 0), (3, 5), (12, 10), (12.5, 15), (1301, 1300), (1303, 1305)])
def test_round_to_nearest_five(value, expected):
    assert round_to_base(value, 5) == expected


def test_small_counts_suppressed_and_others_rounded():
    frame = pd.DataFrame([
        row("people_trained", "count", 6, partnership="leap"),
        row("people_trained", "count", 8, partnership="get_berkshire_active"),
        row("people_trained", "count", 1301),
        row("people_trained", "count", 0, partnership="milton_keynes"),
    ])
    out = publish(frame).set_index("partnership_id")
    assert out.loc["leap", "observation_status"] == SUPPRESSED and out.loc["leap", "value"] is None
    assert out.loc["get_berkshire_active", "value"] == 10 and out.loc["get_berkshire_active", "observation_status"] == ""
    assert out.loc["all", "value"] == 1300
    assert out.loc["milton_keynes", "value"] == 0 and out.loc["milton_keynes", "observation_status"] == ""


def test_share_with_small_numerator_suppressed_small_base_flagged():
    frame = pd.DataFrame([
        row("more_conversations_share", "share", 5, 40, dimension="setting", value_label="other"),
        row("more_conversations_share", "share", 20, 25, dimension="setting", value_label="hospital"),
        row("more_conversations_share", "share", 42, 50, dimension="setting", value_label="gp_practice"),
    ])
    out = publish(frame).set_index("dimension_value")
    assert out.loc["other", "observation_status"] == SUPPRESSED and out.loc["other", "value"] is None
    # Secondary suppression: 'other' alone is hidden, so the next smallest cell goes too.
    assert out.loc["hospital", "observation_status"] == SUPPRESSED
    assert out.loc["gp_practice", "observation_status"] == ""
    assert out.loc["gp_practice", "value"] == pytest.approx(0.84)


def test_low_reliability_flag_keeps_value():
    frame = pd.DataFrame([row("usefulness_end_mean", "mean_0_10", 8 * 20, 20, base_n=20)])
    out = publish(frame)
    assert out.loc[0, "observation_status"] == LOW_RELIABILITY
    assert out.loc[0, "value"] == pytest.approx(8.0)


def test_secondary_suppression_of_a_breakdown_total():
    """Months 3, 40 and 57 add up to 100: hiding 3 alone would let it be recovered as 100 - 40 - 57."""
    frame = pd.DataFrame([
        row("attendances", "count", 100),
        row("attendances", "count", 3, dimension="month", value_label="2020-07"),
        row("attendances", "count", 40, dimension="month", value_label="2020-08"),
        row("attendances", "count", 57, dimension="month", value_label="2020-09"),
    ])
    out = publish(frame).set_index("dimension_value")
    assert out.loc["2020-07", "observation_status"] == SUPPRESSED
    assert out.loc["2020-08", "observation_status"] == SUPPRESSED  # next smallest
    assert out.loc["2020-09", "observation_status"] == ""
    assert out.loc["", "value"] == 100


def test_secondary_suppression_across_partnerships_of_an_additive_total():
    frame = pd.DataFrame([
        row("attendances", "count", 90),
        row("attendances", "count", 4, partnership="leap"),
        row("attendances", "count", 30, partnership="get_berkshire_active"),
        row("attendances", "count", 56, partnership="active_oxfordshire"),
    ])
    out = publish(frame).set_index("partnership_id")["observation_status"]
    assert list(out[["leap", "get_berkshire_active", "active_oxfordshire"]]) == [SUPPRESSED, SUPPRESSED, ""]


def test_people_are_not_additive_across_partnerships():
    frame = pd.DataFrame([
        row("people_trained", "count", 90),
        row("people_trained", "count", 4, partnership="leap"),
        row("people_trained", "count", 30, partnership="get_berkshire_active"),
    ])
    out = publish(frame).set_index("partnership_id")["observation_status"]
    assert out["leap"] == SUPPRESSED and out["get_berkshire_active"] == ""


def test_rules_are_configurable():
    frame = pd.DataFrame([row("people_trained", "count", 9)])
    out = publish(frame, DisclosureRules(suppress_counts_up_to=10, round_counts_to=1))
    assert out.loc[0, "observation_status"] == SUPPRESSED


def test_counts_of_the_service_are_exact():
    """Sessions and months count the service, not people: no rounding, no suppression."""
    frame = pd.DataFrame([row("sessions_delivered", "count", 68), row("sessions_delivered", "count", 3, partnership="leap")])
    out = publish(frame).set_index("partnership_id")
    assert out.loc["all", "value"] == 68 and out.loc["all", "numerator"] == 68
    assert out.loc["leap", "value"] == 3 and out.loc["leap", "observation_status"] == ""
