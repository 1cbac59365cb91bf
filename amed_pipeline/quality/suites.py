"""The expectation suites, written as code: one suite per canonical dataset.

Each rule is one Great Expectations expectation (or a few related ones) with a stable name that
becomes a Dagster asset check, so the UI says which rule failed. Row-level rules send the rows
they reject to quarantine (WARN); the staged rows that reach the warehouse have passed all of
them. Rules are built from the programme config (its window) and the data seen (known sessions),
never from constants typed in here.

The suites (documented in README "Data quality"):
- sessions: required fields; unique session key; training type and delivery mode in their sets;
  start inside the programme window and not in the future.
- bookings: required fields; one booking per person and session; status and role group in their
  sets; linked to a known session.
- feedback / followup: required fields; unique response; ratings integers 0–10; setting (and
  conversation answer) in its set; submitted no earlier than the partnership's first session and
  not in the future.
Emails are checked for form where they are read (`reading.fields`), before pseudonymisation.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable

from amed_pipeline.quality.gx import great_expectations
from amed_pipeline.vocabulary import BOOKING_STATUSES, CONVERSATIONS

SETTINGS = ("gp_practice", "hospital", "charity_voluntary", "local_authority", "community_health", "other", "unknown")
DELIVERY_MODES = ("online", "in_person", "unknown")


@dataclass(frozen=True)
class Derived:
    """A column computed from the rows before GX runs, for a rule to judge in place of `source`.

    Its values are null where `source` is null (GX skips those rows, as it would on `source`);
    failing rows are reported under `source`, the column the rule is about.
    """

    name: str
    source: str
    compute: Callable  # (source column: pd.Series, SuiteContext) -> pd.Series


@dataclass(frozen=True)
class Rule:
    """One named check: the expectations behind it and the column it is about."""

    name: str
    description: str
    expectations: Callable[["SuiteContext"], list]  # builds GX expectation objects
    column: str = ""
    derived: tuple[Derived, ...] = ()  # columns the expectations read that the rows do not carry


@dataclass(frozen=True)
class SuiteContext:
    """What the rules need to know beyond the rows: the programme window and known values."""

    programme_start: dt.date
    programme_end: dt.date
    today: dt.date
    training_types: tuple[str, ...] = ()
    role_groups: tuple[str, ...] = ()
    session_keys: tuple[str, ...] = ()


def _gx():
    return great_expectations().expectations  # imported on first validation: it takes a second or two


def _not_blank(*columns):
    def build(ctx):
        e = _gx()
        return [e.ExpectColumnValuesToNotBeNull(column=c) for c in columns]

    return build


def _in_set(column: str, values: Callable[[SuiteContext], tuple] | tuple):
    def build(ctx):
        allowed = values(ctx) if callable(values) else values
        return [_gx().ExpectColumnValuesToBeInSet(column=column, value_set=list(allowed))]

    return build


def _between_dates(column: str):
    def build(ctx):
        e = _gx()
        start = dt.datetime.combine(ctx.programme_start, dt.time.min)
        end = dt.datetime.combine(min(ctx.programme_end, ctx.today), dt.time.max)
        return [e.ExpectColumnValuesToBeBetween(column=column, min_value=start, max_value=end)]

    return build


def _ratings(*columns):
    def build(ctx):
        e = _gx()
        return [e.ExpectColumnValuesToBeBetween(column=c, min_value=0, max_value=10) for c in columns]

    return build


def _not_in_future(column: str):
    def build(ctx):
        end = dt.datetime.combine(ctx.today, dt.time.max)
        return [_gx().ExpectColumnValuesToBeBetween(column=column, max_value=end)]

    return build


def _after(column_a: str, column_b: str):
    def build(ctx):
        return [
            _gx().ExpectColumnPairValuesAToBeGreaterThanB(
                column_A=column_a, column_B=column_b, or_equal=True, ignore_row_if="either_value_is_missing"
            )
        ]

    return build


def _known_session(session_keys, ctx):
    """True where the booking's session key is one of the known sessions, null where it is null."""
    known = session_keys.isin(frozenset(ctx.session_keys)).astype(object)
    return known.where(session_keys.notna(), None)


# The session keys are matched once, in pandas, and GX judges the result: an in-set rule with
# every known key as its value set costs more with every session (GX rebuilds each rule's
# configuration many times per run, and staging runs in batches).
KNOWN_SESSION = Derived("_session_is_known", "session_key", _known_session)


def _unique(*columns):
    def build(ctx):
        e = _gx()
        if len(columns) == 1:
            return [e.ExpectColumnValuesToBeUnique(column=columns[0])]
        return [e.ExpectCompoundColumnsToBeUnique(column_list=list(columns))]

    return build


SUITES: dict[str, tuple[Rule, ...]] = {
    "sessions": (
        Rule(
            "required_fields",
            "session key, title and start are present",
            _not_blank("session_key", "title", "start"),
            "start",
        ),
        Rule("unique_ids", "one row per session key", _unique("session_key"), "session_key"),
        Rule(
            "values_in_sets",
            "training type and delivery mode are known values",
            lambda ctx: (
                _in_set("training_type", lambda c: c.training_types)(ctx)
                + _in_set("delivery_mode", DELIVERY_MODES)(ctx)
            ),
            "training_type",
        ),
        Rule(
            "dates_in_programme_window",
            "session start inside the programme window and not in the future",
            _between_dates("start"),
            "start",
        ),
    ),
    "bookings": (
        Rule(
            "required_fields",
            "session, person and status are present",
            _not_blank("session_key", "person_key", "status"),
            "person_key",
        ),
        Rule("unique_ids", "one booking per person per session", _unique("session_key", "person_key"), "person_key"),
        Rule(
            "values_in_sets",
            "status and role group are known values",
            lambda ctx: _in_set("status", BOOKING_STATUSES)(ctx) + _in_set("role_group", lambda c: c.role_groups)(ctx),
            "status",
        ),
        Rule(
            "linked_to_known_session",
            "each booking is linked to a known session",
            _in_set(KNOWN_SESSION.name, (True,)),
            "session_key",
            (KNOWN_SESSION,),
        ),
    ),
    "feedback": (
        Rule("required_fields", "response key present", _not_blank("response_key"), "response_key"),
        Rule("unique_ids", "one row per response", _unique("response_key"), "response_key"),
        Rule(
            "ratings_0_10",
            "ratings are integers from 0 to 10 (blank = unanswered)",
            _ratings("usefulness", "knowledge", "confidence"),
            "usefulness",
        ),
        Rule("values_in_sets", "setting is a known value", _in_set("setting", SETTINGS), "setting"),
        Rule(
            "response_dates",
            "submitted no earlier than the partnership's first session, and not in the future",
            lambda ctx: _after("submitted_at", "first_session_at")(ctx) + _not_in_future("submitted_at")(ctx),
            "submitted_at",
        ),
    ),
    "followup": (
        Rule("required_fields", "response key present", _not_blank("response_key"), "response_key"),
        Rule("unique_ids", "one row per response", _unique("response_key"), "response_key"),
        Rule(
            "ratings_0_10",
            "usefulness is an integer from 0 to 10 (blank = unanswered)",
            _ratings("usefulness"),
            "usefulness",
        ),
        Rule(
            "values_in_sets",
            "setting and conversation answer are known values",
            lambda ctx: _in_set("setting", SETTINGS)(ctx) + _in_set("conversations", ("",) + CONVERSATIONS)(ctx),
            "conversations",
        ),
        Rule(
            "response_dates",
            "submitted no earlier than the partnership's first session, and not in the future",
            lambda ctx: _after("submitted_at", "first_session_at")(ctx) + _not_in_future("submitted_at")(ctx),
            "submitted_at",
        ),
    ),
}
