"""Scope: statistical disclosure control on worked examples (pure functions, no database)."""

import datetime as dt

import pandas as pd
import pytest

from amed_pipeline.metrics.disclosure import (
    LOW_RELIABILITY,
    NOT_APPLICABLE,
    SUPPRESSED,
    DisclosureRules,
    publish,
    round_to_base,
)
from amed_pipeline_tests.disclosure_attack import attack

PERIOD = (dt.date(2020, 7, 1), dt.date(2021, 7, 31))


def row(metric_id, unit, numerator, denominator=None, partnership="all", dimension="", value_label="", base_n=None):
    value = numerator if unit == "count" else (None if not denominator else numerator / denominator)
    return {
        "metric_id": metric_id,
        "partnership_id": partnership,
        "dimension": dimension,
        "dimension_value": value_label,
        "period_start": PERIOD[0],
        "period_end": PERIOD[1],
        "numerator": float(numerator),
        "denominator": None if denominator is None else float(denominator),
        "value": value,
        "unit": unit,
        "base_n": base_n if base_n is not None else (denominator if denominator is not None else numerator),
    }


@pytest.mark.parametrize("value, expected", [(0, 0), (2, 0), (3, 5), (12, 10), (12.5, 15), (1301, 1300), (1303, 1305)])
def test_round_to_nearest_five(value, expected):
    assert round_to_base(value, 5) == expected


def test_small_counts_suppressed_and_others_rounded():
    frame = pd.DataFrame(
        [
            row("people_trained", "count", 6, partnership="leap"),
            row("people_trained", "count", 8, partnership="get_berkshire_active"),
            row("people_trained", "count", 1301),
            row("people_trained", "count", 0, partnership="milton_keynes"),
        ]
    )
    out = publish(frame).set_index("partnership_id")
    assert out.loc["leap", "observation_status"] == SUPPRESSED and out.loc["leap", "value"] is None
    assert (
        out.loc["get_berkshire_active", "value"] == 10 and out.loc["get_berkshire_active", "observation_status"] == ""
    )
    assert out.loc["all", "value"] == 1301  # programme totals of people are exact (policy)
    assert out.loc["milton_keynes", "value"] == 0 and out.loc["milton_keynes", "observation_status"] == ""


def test_share_with_small_numerator_suppressed_small_base_flagged():
    frame = pd.DataFrame(
        [
            row("more_conversations_share", "share", 67, 115),
            row("more_conversations_share", "share", 5, 40, dimension="setting", value_label="other"),
            row("more_conversations_share", "share", 20, 25, dimension="setting", value_label="hospital"),
            row("more_conversations_share", "share", 42, 50, dimension="setting", value_label="gp_practice"),
        ]
    )
    out = publish(frame).set_index("dimension_value")
    assert out.loc["other", "observation_status"] == SUPPRESSED and out.loc["other", "value"] is None
    # Secondary suppression: 'other' alone is hidden, so the next smallest cell goes too.
    assert out.loc["hospital", "observation_status"] == SUPPRESSED
    assert out.loc["gp_practice", "observation_status"] == ""
    assert out.loc["gp_practice", "value"] == pytest.approx(0.8)  # 40 / 50, from the published counts


def test_low_reliability_flag_keeps_value():
    frame = pd.DataFrame([row("usefulness_end_mean", "mean_0_10", 8 * 20, 20, base_n=20)])
    out = publish(frame)
    assert out.loc[0, "observation_status"] == LOW_RELIABILITY
    assert out.loc[0, "value"] == pytest.approx(8.0)


def test_secondary_suppression_of_a_breakdown_total():
    """Months 3, 40 and 57 add up to 100: hiding 3 alone would let it be recovered as 100 - 40 - 57."""
    frame = pd.DataFrame(
        [
            row("attendances", "count", 100),
            row("attendances", "count", 3, dimension="month", value_label="2020-07"),
            row("attendances", "count", 40, dimension="month", value_label="2020-08"),
            row("attendances", "count", 57, dimension="month", value_label="2020-09"),
        ]
    )
    out = publish(frame).set_index("dimension_value")
    assert out.loc["2020-07", "observation_status"] == SUPPRESSED
    assert out.loc["2020-08", "observation_status"] == SUPPRESSED  # next smallest
    assert out.loc["2020-09", "observation_status"] == ""
    assert out.loc["", "value"] == 100


def test_secondary_suppression_across_partnerships_of_an_additive_total():
    frame = pd.DataFrame(
        [
            row("attendances", "count", 90),
            row("attendances", "count", 4, partnership="leap"),
            row("attendances", "count", 30, partnership="get_berkshire_active"),
            row("attendances", "count", 56, partnership="active_oxfordshire"),
        ]
    )
    out = publish(frame).set_index("partnership_id")["observation_status"]
    assert list(out[["leap", "get_berkshire_active", "active_oxfordshire"]]) == [SUPPRESSED, SUPPRESSED, ""]


def test_people_are_not_additive_across_partnerships():
    frame = pd.DataFrame(
        [
            row("people_trained", "count", 90),
            row("people_trained", "count", 4, partnership="leap"),
            row("people_trained", "count", 30, partnership="get_berkshire_active"),
        ]
    )
    out = publish(frame).set_index("partnership_id")["observation_status"]
    assert out["leap"] == SUPPRESSED and out["get_berkshire_active"] == ""


def test_rules_are_configurable():
    frame = pd.DataFrame([row("people_trained", "count", 9)])
    out = publish(frame, DisclosureRules(suppress_counts_up_to=10, round_counts_to=1))
    assert out.loc[0, "observation_status"] == SUPPRESSED


def test_counts_of_the_service_are_exact():
    """Sessions and months count the service, not people: no rounding, no suppression."""
    frame = pd.DataFrame(
        [
            row("sessions_delivered", "count", 68),
            row("sessions_delivered", "count", 3, partnership="leap"),
            row("sessions_delivered", "count", 65, partnership="active_oxfordshire"),
        ]
    )
    out = publish(frame).set_index("partnership_id")
    assert out.loc["all", "value"] == 68 and out.loc["all", "numerator"] == 68
    assert out.loc["leap", "value"] == 3 and out.loc["leap", "observation_status"] == ""


# --- against a reader doing arithmetic (issue 11) ----------------------------------------------


def settings_frame(cells: dict[str, tuple[int, int]]) -> pd.DataFrame:
    """more_conversations_share overall and by setting, from (more, answered) per setting."""
    more = sum(m for m, _ in cells.values())
    answered = sum(a for _, a in cells.values())
    rows = [row("more_conversations_share", "share", more, answered)]
    rows += [
        row("more_conversations_share", "share", m, a, dimension="setting", value_label=s)
        for s, (m, a) in cells.items()
    ]
    return pd.DataFrame(rows)


def test_share_value_comes_from_the_published_counts():
    """18 of 22 used to print as 20 of 20 with value 0.818, and only 18/22 fits 0.818."""
    exact = settings_frame({"hospital": (18, 22), "gp_practice": (81, 114)})
    out = publish(exact).set_index("dimension_value")
    assert (out.loc["hospital", "numerator"], out.loc["hospital", "denominator"], out.loc["hospital", "value"]) == (
        20,
        20,
        1.0,
    )
    assert attack(publish(exact), exact).total() == 0


def test_the_attack_recovers_counts_from_an_exact_share():
    """The attack is real: an exact value beside rounded counts gives 18 and 22 away."""
    exact = settings_frame({"hospital": (18, 22), "gp_practice": (81, 114)})
    leaky = publish(exact)
    leaky["value"] = exact["value"].round(3)
    report = attack(leaky, exact)
    assert report.recoverable > 0 and any("hospital" in d for d in report.details)


def test_a_base_of_one_is_suppressed_and_zero_over_zero_is_never_a_figure():
    exact = settings_frame({"unknown": (0, 1), "hospital": (30, 40), "gp_practice": (50, 60)})
    exact = pd.concat(
        [exact, pd.DataFrame([row("followup_response_rate", "share", 0, 0, partnership="leap")])], ignore_index=True
    )
    out = publish(exact).set_index(["partnership_id", "dimension_value"])
    assert out.loc[("all", "unknown"), "observation_status"] == SUPPRESSED
    assert out.loc[("all", "unknown"), "value"] is None and out.loc[("all", "unknown"), "denominator"] is None
    assert out.loc[("leap", ""), "observation_status"] == NOT_APPLICABLE and out.loc[("leap", ""), "value"] is None


def test_a_mean_on_a_small_base_is_suppressed():
    out = publish(pd.DataFrame([row("usefulness_end_mean", "mean_0_10", 9 * 5, 5, base_n=5)]))
    assert out.loc[0, "observation_status"] == SUPPRESSED and out.loc[0, "value"] is None


def test_rounding_alone_would_leak_at_the_extremes():
    """Four months of 12 print as 10 each and a total of 50: only 12 + 12 + 12 + 12 reaches 48."""
    months = [
        row("attendances", "count", 12, partnership="leap", dimension="month", value_label=f"2020-{m:02d}")
        for m in range(7, 11)
    ]
    exact = pd.DataFrame([row("attendances", "count", 48, partnership="leap"), *months])
    published = publish(exact)
    assert (published["observation_status"] == SUPPRESSED).any()
    assert attack(published, exact).total() == 0


def test_exact_programme_total_opens_no_partnership_cell():
    exact = pd.DataFrame(
        [
            row("attendances", "count", 1301),
            row("attendances", "count", 4, partnership="leap"),
            row("attendances", "count", 640, partnership="get_berkshire_active"),
            row("attendances", "count", 657, partnership="active_oxfordshire"),
        ]
    )
    published = publish(exact)
    out = published.set_index("partnership_id")
    assert out.loc["all", "value"] == 1301
    assert out.loc["leap", "observation_status"] == SUPPRESSED
    assert out.loc["get_berkshire_active", "observation_status"] == SUPPRESSED  # else leap = 1301 − 640 − 655
    assert attack(published, exact).total() == 0


def test_an_exact_total_that_would_pin_a_cell_is_rounded():
    """One partnership: its (rounded) row would equal the exact programme total."""
    exact = pd.DataFrame([row("attendances", "count", 1301), row("attendances", "count", 1301, partnership="leap")])
    published = publish(exact)
    assert published["value"].tolist() == [1300, 1300]
    assert attack(published, exact).total() == 0


def test_exact_programme_totals_are_a_policy():
    exact = pd.DataFrame([row("people_trained", "count", 1301)])
    assert publish(exact, DisclosureRules(exact_programme_totals=())).loc[0, "value"] == 1300
    assert publish(exact).loc[0, "value"] == 1301


def test_a_suppressed_partnership_is_not_derivable_from_the_programme_row():
    exact = pd.DataFrame(
        [
            row("feedback_responses", "count", 90),
            row("feedback_responses", "count", 4, partnership="leap"),
            row("feedback_responses", "count", 30, partnership="get_berkshire_active"),
            row("feedback_responses", "count", 56, partnership="active_oxfordshire"),
        ]
    )
    published = publish(exact)
    assert attack(published, exact).total() == 0
    hidden = published.set_index("partnership_id")["observation_status"] == SUPPRESSED
    assert hidden.sum() >= 2
