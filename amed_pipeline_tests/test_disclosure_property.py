"""Scope: the published table against a reader doing arithmetic, on thousands of random tiny programmes.

Each example is a small programme built from facts (partnerships, sessions over a few months,
people attending, feedback and follow-up responses), aggregated the way `metrics/compute.py`'s
queries do, turned into metric rows by the real `metric_rows`, published by the real `publish`,
then attacked by `disclosure_attack` (inversion of shares and means, differencing through every
public sum). Nothing may be recovered, and no figure may rest on a base of 0 or of 1 to 7.
"""

from __future__ import annotations

import os
from collections import defaultdict

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from amed_pipeline.metrics.compute import metric_rows
from amed_pipeline.metrics.disclosure import publish
from amed_pipeline_tests.disclosure_attack import attack

PARTNERSHIPS = ("p1", "p2", "p3")
MONTHS = ("2020-07", "2020-08", "2020-09")
TYPES = ("helping_people_become_more_active", "physical_activity_in_clinical_care", "train_the_trainer")
PROFESSIONS = {"physiotherapist": "ahp", "nurse": "nursing", "gp": "medical"}
SETTINGS = ("hospital", "gp_practice", "unknown")
CONVERSATIONS = ("much_more", "slightly_more", "same", "")
MORE = ("much_more", "slightly_more")


@st.composite
def programmes(draw):
    """Facts of a tiny programme: bookings (partnership, session, person, role) and responses."""
    sessions = draw(
        st.lists(
            st.tuples(
                st.sampled_from(PARTNERSHIPS), st.sampled_from(MONTHS), st.sampled_from(TYPES), st.integers(1, 28)
            ),
            min_size=1,
            max_size=6,
        )
    )
    people = draw(st.integers(1, 30))
    bookings = draw(
        st.lists(
            st.tuples(
                st.integers(0, len(sessions) - 1), st.integers(0, people - 1), st.sampled_from(sorted(PROFESSIONS))
            ),
            min_size=1,
            max_size=30,
            unique_by=lambda b: (b[0], b[1]),
        )
    )
    # Sessions can be big: a share of everyone at once keeps the counts above the suppression range.
    if draw(st.booleans()):
        crowd = draw(st.integers(0, len(sessions) - 1))
        bookings += [(crowd, p, "nurse") for p in range(people) if (crowd, p) not in {(b[0], b[1]) for b in bookings}]
    feedback = draw(
        st.lists(
            st.tuples(
                st.sampled_from(PARTNERSHIPS), st.sampled_from(MONTHS + ("",)), st.one_of(st.none(), st.integers(0, 10))
            ),
            max_size=25,
        )
    )
    followup = draw(
        st.lists(
            st.tuples(
                st.sampled_from(PARTNERSHIPS),
                st.sampled_from(MONTHS + ("",)),
                st.sampled_from(CONVERSATIONS),
                st.sampled_from(SETTINGS),
                st.one_of(st.none(), st.integers(0, 10)),
            ),
            max_size=25,
        )
    )
    # Responses come from partnerships that delivered (a partnership without attendances has no rows).
    delivering = {sessions[b[0]][0] for b in bookings}
    feedback = [f for f in feedback if f[0] in delivering]
    followup = [f for f in followup if f[0] in delivering]
    return sessions, bookings, feedback, followup


def _frame(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns)


def aggregates_of(sessions, bookings, feedback, followup) -> dict[str, pd.DataFrame]:
    """What `compute.QUERIES` return for these facts (roles: latest attended booking within the scope).

    Plain Python on purpose: it is a second, independent reading of the SQL, and fast enough for
    thousands of examples.
    """
    facts = []
    for session, person, profession in bookings:
        partnership, month, training_type, day = sessions[session]
        for scope in (partnership, "all"):
            facts.append((scope, session, person, profession, month, training_type, (month, day, session)))
    latest: dict = {}
    for scope, _session, person, profession, _month, _training_type, order in facts:
        if (scope, person) not in latest or order > latest[scope, person][0]:
            latest[scope, person] = (order, profession)
    role = {k: v[1] for k, v in latest.items()}

    def group(key_of, value_of=None):
        out: dict = defaultdict(list)
        for f in facts:
            out[key_of(f)].append(f if value_of is None else value_of(f))
        return out

    totals, monthly, by_type, by_role, by_profession = [], [], [], [], []
    for scope, rows in group(lambda f: f[0]).items():
        starts = [pd.Timestamp(f"{f[4]}-{f[6][1]:02d}") for f in rows]
        totals.append(
            {
                "scope": scope,
                "people": len({f[2] for f in rows}),
                "attendances": len(rows),
                "sessions": len({f[1] for f in rows}),
                "first_start": min(starts),
                "last_start": max(starts),
            }
        )
    for (scope, month), rows in group(lambda f: (f[0], f[4])).items():
        monthly.append(
            {
                "scope": scope,
                "month": month,
                "people": len({f[2] for f in rows}),
                "attendances": len(rows),
                "sessions": len({f[1] for f in rows}),
            }
        )
    for (scope, training_type), rows in group(lambda f: (f[0], f[5])).items():
        by_type.append({"scope": scope, "training_type": training_type, "attendances": len(rows)})
    for (scope, group_name), rows in group(lambda f: (f[0], PROFESSIONS[role[f[0], f[2]]])).items():
        by_role.append({"scope": scope, "role_group": group_name, "people": len({f[2] for f in rows})})
    for (scope, training_type, profession), rows in group(lambda f: (f[0], f[5], role[f[0], f[2]])).items():
        by_profession.append(
            {"scope": scope, "training_type": training_type, "profession": profession, "attendances": len(rows)}
        )

    def scoped(responses):
        return [(scope, *r[1:]) for r in responses for scope in (r[0], "all")]

    feedback_rows = []
    fb = scoped(feedback)
    for scope in sorted({r[0] for r in fb}):
        mine = [r for r in fb if r[0] == scope]
        answered = [r[2] for r in mine if r[2] is not None]
        row = {"scope": scope, "responses": len(mine)}
        for name in ("usefulness", "knowledge", "confidence"):
            row[f"{name}_sum"], row[f"{name}_n"] = sum(answered), len(answered)
        feedback_rows.append(row)
    followup_rows, by_setting = [], []
    fu = scoped(followup)
    for scope in sorted({r[0] for r in fu}):
        mine = [r for r in fu if r[0] == scope]
        scores = [r[4] for r in mine if r[4] is not None]
        followup_rows.append(
            {
                "scope": scope,
                "responses": len(mine),
                "usefulness_sum": sum(scores),
                "usefulness_n": len(scores),
                "more_n": sum(r[2] in MORE for r in mine),
                "answered_n": sum(r[2] != "" for r in mine),
            }
        )
        for setting in sorted({r[3] for r in mine}):
            here = [r for r in mine if r[3] == setting]
            by_setting.append(
                {
                    "scope": scope,
                    "setting": setting,
                    "more_n": sum(r[2] in MORE for r in here),
                    "answered_n": sum(r[2] != "" for r in here),
                }
            )

    def by_month(responses):
        counts = defaultdict(int)
        for r in responses:
            if r[1]:
                counts[r[0], r[1]] += 1
        return _frame(
            [{"scope": k[0], "month": k[1], "responses": n} for k, n in counts.items()], ["scope", "month", "responses"]
        )

    return {
        "totals": _frame(totals, ["scope", "people", "attendances", "sessions", "first_start", "last_start"]),
        "monthly": _frame(monthly, ["scope", "month", "people", "attendances", "sessions"]),
        "by_training_type": _frame(by_type, ["scope", "training_type", "attendances"]),
        "by_role_group": _frame(by_role, ["scope", "role_group", "people"]),
        "by_profession": _frame(by_profession, ["scope", "training_type", "profession", "attendances"]),
        "feedback": _frame(
            feedback_rows,
            [
                "scope",
                "responses",
                "usefulness_sum",
                "usefulness_n",
                "knowledge_sum",
                "knowledge_n",
                "confidence_sum",
                "confidence_n",
            ],
        ),
        "feedback_monthly": by_month(fb),
        "followup": _frame(
            followup_rows, ["scope", "responses", "usefulness_sum", "usefulness_n", "more_n", "answered_n"]
        ),
        "followup_monthly": by_month(fu),
        "conversations_by_setting": _frame(by_setting, ["scope", "setting", "more_n", "answered_n"]),
    }


@pytest.mark.slow
@settings(
    max_examples=int(os.environ.get("AMED_HYPOTHESIS_EXAMPLES", "1000")),
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(programmes())
def test_a_reader_recovers_nothing_from_random_programmes(programme):
    exact = metric_rows(aggregates_of(*programme))
    published = publish(exact)
    report = attack(published, exact)
    assert report.total() == 0, report.details[:10]


def test_generated_aggregates_match_the_metric_contract():
    """The generator itself: two partnerships, one person at both, counted once for 'all'."""
    sessions = [("p1", "2020-07", TYPES[0], 1), ("p2", "2020-08", TYPES[2], 2)]
    bookings = [(0, 0, "nurse"), (1, 0, "gp"), (1, 1, "nurse")]
    exact = metric_rows(aggregates_of(sessions, bookings, [], []))
    people = exact[(exact["metric_id"] == "people_trained") & (exact["dimension"] == "")].set_index("partnership_id")[
        "value"
    ]
    assert people.to_dict() == {"all": 2, "p1": 1, "p2": 2}
    roles = exact[(exact["metric_id"] == "role_group_share") & (exact["partnership_id"] == "p1")]
    assert roles["dimension_value"].tolist() == ["nursing"]  # p1's own booking, not p2's later one
