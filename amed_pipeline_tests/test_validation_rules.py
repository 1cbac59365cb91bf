"""Scope: a rule reworded for speed judges exactly as it did before.

`linked_to_known_session` used to be an in-set rule on `session_key` with every known session key
as its value set; it now judges a column computed once in pandas (`suites.KNOWN_SESSION`). Both
forms run through Great Expectations on the same bookings (known, unknown, blank and null session
keys) and must give the same outcome and the same quarantine rows.

GX is also handed ratings as floats and timestamps in nanoseconds (`validation.comparable_columns`),
the types its range rules compare in bulk. Survey rows with ratings in and out of range, missing
ratings and timestamps before, inside, after and far outside the window (beyond what nanoseconds
hold) must be judged exactly as in their own types.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from amed_pipeline.quality import validation
from amed_pipeline.quality.suites import SUITES, SuiteContext, _in_set
from amed_pipeline.quality.validation import validate_dataset
from amed_pipeline.staging.datasets import Staged, empty_quarantine
from amed_pipeline.staging.validated import quarantine_failures

RULE = "linked_to_known_session"
KNOWN = tuple(f"s{i:04d}" for i in range(300))


def _old_rule():
    new = next(r for r in SUITES["bookings"] if r.name == RULE)
    return dataclasses.replace(new, expectations=_in_set("session_key", lambda c: c.session_keys), derived=())


def _bookings(dtype) -> pd.DataFrame:
    keys = ["s0000", "zzz", None, "s0299", "", "s0300", None, "s0001"]
    return pd.DataFrame(
        {
            "session_key": pd.Series(keys, dtype=dtype),
            "person_key": [f"p{i}" for i in range(len(keys))],
            "status": ["attended"] * len(keys),
            "role_group": ["Doctor"] * len(keys),
            "partnership_id": ["leap"] * len(keys),
            "source_name": ["eventbrite"] * len(keys),
            "source_file": ["f.csv"] * len(keys),
            "source_row": list(range(2, len(keys) + 2)),
        }
    )


def _context(session_keys) -> SuiteContext:
    return SuiteContext(
        programme_start=dt.date(2025, 1, 1),
        programme_end=dt.date(2026, 12, 31),
        today=dt.date(2026, 6, 1),
        role_groups=("Doctor",),
        session_keys=session_keys,
    )


@pytest.mark.parametrize("dtype", [object, "string"])
@pytest.mark.parametrize("session_keys", [KNOWN, (), ("zzz",)])
def test_known_session_rule_gives_the_same_outcome_and_quarantine_as_the_in_set_form(monkeypatch, dtype, session_keys):
    frame = _bookings(dtype)
    ctx = _context(session_keys)
    new = validate_dataset("bookings", frame, ctx)
    old_rules = tuple(_old_rule() if r.name == RULE else r for r in SUITES["bookings"])
    monkeypatch.setitem(SUITES, "bookings", old_rules)
    old = validate_dataset("bookings", frame, ctx)
    assert [dataclasses.asdict(o) for o in new] == [dataclasses.asdict(o) for o in old]
    outcome = next(o for o in new if o.rule == RULE)
    expected = [p for p, k in enumerate(frame["session_key"]) if pd.notna(k) and k not in session_keys]
    assert outcome.failing_positions == expected and outcome.success == (not expected)
    assert set(outcome.failing_columns.values()) <= {"session_key"}

    def quarantined(outcomes):
        staged = Staged("bookings", frame, empty_quarantine(), frame.head(0), [])
        result = quarantine_failures(staged, outcomes)
        return result.rows, result.quarantine

    (new_rows, new_quarantine), (old_rows, old_quarantine) = quarantined(new), quarantined(old)
    pd.testing.assert_frame_equal(new_rows, old_rows)
    pd.testing.assert_frame_equal(new_quarantine, old_quarantine)
    if expected:
        assert set(new_quarantine["column_name"]) == {"session_key"}


_RATINGS = st.one_of(st.none(), st.integers(-3, 14))
# Microseconds since the epoch, from year 0100 to 9990: far outside what nanoseconds hold, at both ends.
_MOMENTS = st.one_of(
    st.none(),
    st.integers(-58_000_000_000_000_000, 253_000_000_000_000_000),
    st.integers(1_577_836_800_000_000, 1_830_000_000_000_000),  # 2020 to 2027: near the window
)


def _survey(ratings: list[tuple], moments: list, first_moments: list) -> pd.DataFrame:
    def stamps(values):
        return pd.Series(np.array([v if v is not None else "NaT" for v in values], dtype="datetime64[us]"))

    n = len(ratings)
    return pd.DataFrame(
        {
            "response_key": [f"r{i}" for i in range(n)],
            "usefulness": pd.array([r[0] for r in ratings], dtype="Int64"),
            "knowledge": pd.array([r[1] for r in ratings], dtype="Int64"),
            "confidence": pd.array([r[2] for r in ratings], dtype="Int64"),
            "setting": ["gp_practice"] * n,
            "conversations": [""] * n,
            "submitted_at": stamps(moments),
            "first_session_at": stamps(first_moments),
        }
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(st.tuples(st.tuples(_RATINGS, _RATINGS, _RATINGS), _MOMENTS, _MOMENTS), min_size=1, max_size=12),
    dataset=st.sampled_from(["feedback", "followup"]),
)
def test_ratings_and_dates_judged_in_bulk_types_as_in_their_own(monkeypatch, rows, dataset):
    frame = _survey([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
    ctx = _context(())
    bulk = validate_dataset(dataset, frame, ctx)
    with monkeypatch.context() as patched:
        patched.setattr(validation, "comparable_columns", lambda f: f)
        own = validate_dataset(dataset, frame, ctx)
    assert [dataclasses.asdict(o) for o in bulk] == [dataclasses.asdict(o) for o in own]


def test_comparable_columns_are_the_types_gx_compares_in_bulk():
    frame = _survey([(1, None, 11)], [-58_000_000_000_000_000], [None])
    comparable = validation.comparable_columns(frame)
    assert comparable["usefulness"].dtype == np.float64 and comparable["knowledge"].isna().all()
    assert comparable["submitted_at"].dtype == np.dtype("datetime64[ns]")
    assert (
        comparable["submitted_at"].iat[0] < pd.Timestamp("1700-01-01") and comparable["first_session_at"].isna().all()
    )
