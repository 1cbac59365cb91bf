"""Compute `metric_values` from the warehouse: aggregation in SQL, arithmetic in Python.

Every figure comes from grouping the fact tables inside the database (portable SQL that runs on
DuckDB and PostgreSQL alike); only the small aggregates come back to Python, where they become
tidy rows: one per metric × partnership × dimension value × period. The programme-wide rows
(`partnership_id = 'all'`) are aggregated over the merged facts, never by adding partnership
rows, so a person trained by two partnerships counts once.
"""

from __future__ import annotations

import calendar
import contextlib
import datetime as dt

import pandas as pd
from sqlalchemy import Connection, bindparam, text

from amed_pipeline.metrics.catalogue import ALL_PARTNERSHIPS, METRICS_BY_ID, MORE_CONVERSATIONS, ONLINE_WORKSHOP_TYPES

METRIC_COLUMNS = [
    "metric_id",
    "partnership_id",
    "dimension",
    "dimension_value",
    "period_start",
    "period_end",
    "numerator",
    "denominator",
    "value",
    "unit",
    "base_n",
]

Period = tuple[dt.date, dt.date]
SURVEYS = ("feedback", "followup")
# Each survey's rating means: (the aggregate's column prefix, metric id).
RATING_MEANS = {
    "feedback": (
        ("usefulness", "usefulness_end_mean"),
        ("knowledge", "knowledge_mean"),
        ("confidence", "confidence_mean"),
    ),
    "followup": (("usefulness", "usefulness_followup_mean"),),
}

# Attended bookings with their session, and each person's role *in a scope*: the job title of
# their most recent attended booking with that partnership (for 'all', anywhere in the
# programme); on the same start, the larger session key wins. So a partnership's figures depend on
# its own bookings only (no programme-wide dim_person). `breakdowns.py` reads the same roles (a
# respondent's role follows the same rule) from `ROLES_TABLE` below.
#
# (start_at, session_key) orders a person's attended bookings totally (`start_at` is never null,
# and a person books a session once), so the programme-wide latest booking is the latest of the
# person's per-partnership latest ones: 'all' ranks one row per person and partnership, not every
# attendance again.
_ATTENDED_CTE = """
att AS (
    SELECT b.partnership_id, b.person_key, b.session_key, s.start_at, s.start_month, s.training_type,
           b.profession, b.role_group
    FROM fact_booking b
    JOIN dim_session s ON s.session_key = b.session_key
    WHERE b.status = 'attended'
)"""
# A window ranks each partnership's attendances of a person, then another ranks the person's
# partnership winners. (DuckDB's `arg_max` over a (start_at, session_key) row value gives the same
# rows but measured no faster than the window at K = 1000, so there is one form for both databases.)
_LATEST_CTES = """
partnership_latest AS (
    SELECT partnership_id, person_key, session_key, start_at, profession, role_group FROM (
        SELECT partnership_id, person_key, session_key, start_at, profession, role_group,
               ROW_NUMBER() OVER (PARTITION BY partnership_id, person_key ORDER BY start_at DESC, session_key DESC) AS recency
        FROM att
    ) ranked
    WHERE recency = 1
), programme_latest AS (
    SELECT person_key, profession, role_group FROM (
        SELECT person_key, profession, role_group,
               ROW_NUMBER() OVER (PARTITION BY person_key ORDER BY start_at DESC, session_key DESC) AS recency
        FROM partnership_latest
    ) ranked
    WHERE recency = 1
)"""
_ROLES_SELECT = """
SELECT partnership_id AS scope, person_key, profession, role_group FROM partnership_latest
UNION ALL
SELECT 'all' AS scope, person_key, profession, role_group FROM programme_latest"""


# The queries below read the roles and the attended bookings; `scoped_attendance` computes both
# once into temporary tables that the queries read. The attended bookings are kept once, not once
# per scope: a query aggregates them per partnership, then again over the programme
# (below), and only the figures by role join the role of the scope they count in.
ROLES_TABLE = "metric_scoped_roles"
ATTENDANCE_TABLE = "metric_scoped_attendance"
_CREATE_ATTENDANCE = "CREATE TEMPORARY TABLE " + ATTENDANCE_TABLE + " AS WITH" + _ATTENDED_CTE + "\nSELECT * FROM att"
# The roles from the attended bookings just kept (the join behind `att` is made once).
_CREATE_ROLES = (
    "CREATE TEMPORARY TABLE "
    + ROLES_TABLE
    + " AS WITH att AS (SELECT * FROM "
    + ATTENDANCE_TABLE
    + "),"
    + _LATEST_CTES
    + _ROLES_SELECT
)
_DROP_SCOPED = ("DROP TABLE IF EXISTS " + ATTENDANCE_TABLE, "DROP TABLE IF EXISTS " + ROLES_TABLE)


@contextlib.contextmanager
def scoped_attendance(conn: Connection):
    """The roles (scope, person_key, profession, role_group) and the attended bookings with their
    session (`ATTENDANCE_TABLE`, one row per attendance), as temporary tables on `conn` for the
    duration of the block."""
    _drop_scoped(conn)
    conn.execute(text(_CREATE_ATTENDANCE))
    conn.execute(text(_CREATE_ROLES))
    try:
        yield
    finally:
        _drop_scoped(conn)


def _drop_scoped(conn: Connection) -> None:
    for statement in _DROP_SCOPED:
        conn.execute(text(statement))


# Each aggregate is a query per partnership (scope = its id) `UNION ALL` the same over the whole
# programme (scope = 'all'): it reads its rows once per scope, rather than a copy of every row made
# for 'all'. The programme row, like a partnership's, exists only where there are rows (hence
# `HAVING COUNT(*) > 0` where the programme half has no GROUP BY). The SQL is spelled out, joined
# from constants only (`test_untrusted_inputs` guards that no value is formatted into SQL).
_UNION = "\nUNION ALL\n"
_PER_PARTNERSHIP = "SELECT partnership_id AS scope, "
_PROGRAMME = "SELECT 'all' AS scope, "
_FROM_ATTENDANCE = " FROM " + ATTENDANCE_TABLE

_REACH = "COUNT(DISTINCT person_key) AS people, COUNT(*) AS attendances, COUNT(DISTINCT session_key) AS sessions"
_SERVICE = (
    "COUNT(*) AS attendances, COUNT(DISTINCT session_key) AS sessions, "
    "MIN(start_at) AS first_start, MAX(start_at) AS last_start"
)
_RATINGS = """SUM(usefulness) AS usefulness_sum, COUNT(usefulness) AS usefulness_n,
       SUM(knowledge) AS knowledge_sum, COUNT(knowledge) AS knowledge_n,
       SUM(confidence) AS confidence_sum, COUNT(confidence) AS confidence_n"""
_FOLLOWUP = """COUNT(*) AS responses, SUM(usefulness) AS usefulness_sum, COUNT(usefulness) AS usefulness_n,
       SUM(CASE WHEN conversations IN :more THEN 1 ELSE 0 END) AS more_n,
       SUM(CASE WHEN conversations <> '' THEN 1 ELSE 0 END) AS answered_n"""
_CONVERSATIONS = """SUM(CASE WHEN conversations IN :more THEN 1 ELSE 0 END) AS more_n,
       SUM(CASE WHEN conversations <> '' THEN 1 ELSE 0 END) AS answered_n"""
# Per scope: people trained (a person has one role per scope, so counting the roles counts the
# people, without a distinct count over every attendance), attendances, sessions, first and last start.
_TOTALS = (
    "SELECT a.scope, p.people, a.attendances, a.sessions, a.first_start, a.last_start FROM (\n"
    + (_PER_PARTNERSHIP + _SERVICE + _FROM_ATTENDANCE + " GROUP BY partnership_id")
    + _UNION
    + (_PROGRAMME + _SERVICE + _FROM_ATTENDANCE + " HAVING COUNT(*) > 0")
    + "\n) a JOIN (SELECT scope, COUNT(*) AS people FROM "
    + ROLES_TABLE
    + " GROUP BY scope) p ON p.scope = a.scope"
)
# Attendances by training type and the profession of the person's role in each scope: each
# attendance meets two roles of its person, in its partnership and in 'all' (one join, not two).
_BY_PROFESSION = (
    "SELECT r.scope, a.training_type, r.profession, COUNT(*) AS attendances\nFROM "
    + ATTENDANCE_TABLE
    + " a\nJOIN "
    + ROLES_TABLE
    + " r ON r.person_key = a.person_key AND (r.scope = a.partnership_id OR r.scope = 'all')"
    + "\nGROUP BY r.scope, a.training_type, r.profession"
)
# A survey's responses per calendar month of submission (undated responses have no month).
_MONTHLY_RESPONSES = """
SELECT partnership_id AS scope, submitted_month AS month, COUNT(*) AS responses FROM {table}
WHERE submitted_month <> '' GROUP BY partnership_id, submitted_month
UNION ALL
SELECT 'all' AS scope, submitted_month AS month, COUNT(*) AS responses FROM {table}
WHERE submitted_month <> '' GROUP BY submitted_month"""

QUERIES = {
    "totals": _TOTALS,
    "monthly": (
        _PER_PARTNERSHIP
        + "start_month AS month, "
        + _REACH
        + _FROM_ATTENDANCE
        + " GROUP BY partnership_id, start_month"
    )
    + _UNION
    + (_PROGRAMME + "start_month AS month, " + _REACH + _FROM_ATTENDANCE + " GROUP BY start_month"),
    "by_training_type": (
        _PER_PARTNERSHIP
        + "training_type, COUNT(*) AS attendances"
        + _FROM_ATTENDANCE
        + " GROUP BY partnership_id, training_type"
    )
    + _UNION
    + (_PROGRAMME + "training_type, COUNT(*) AS attendances" + _FROM_ATTENDANCE + " GROUP BY training_type"),
    # A person has one role per scope, so counting the roles counts the people of each role group.
    "by_role_group": "SELECT scope, role_group, COUNT(*) AS people FROM " + ROLES_TABLE + " GROUP BY scope, role_group",
    "by_profession": _BY_PROFESSION,
    "feedback": (
        _PER_PARTNERSHIP + "COUNT(*) AS responses, " + _RATINGS + " FROM fact_feedback GROUP BY partnership_id"
    )
    + _UNION
    + (_PROGRAMME + "COUNT(*) AS responses, " + _RATINGS + " FROM fact_feedback HAVING COUNT(*) > 0"),
    "feedback_monthly": _MONTHLY_RESPONSES.format(table="fact_feedback"),
    "followup": (_PER_PARTNERSHIP + _FOLLOWUP + " FROM fact_followup GROUP BY partnership_id")
    + _UNION
    + (_PROGRAMME + _FOLLOWUP + " FROM fact_followup HAVING COUNT(*) > 0"),
    "followup_monthly": _MONTHLY_RESPONSES.format(table="fact_followup"),
    "conversations_by_setting": (
        _PER_PARTNERSHIP + "setting, " + _CONVERSATIONS + " FROM fact_followup GROUP BY partnership_id, setting"
    )
    + _UNION
    + (_PROGRAMME + "setting, " + _CONVERSATIONS + " FROM fact_followup GROUP BY setting"),
}


def run_queries(conn: Connection) -> dict[str, pd.DataFrame]:
    """The aggregates, each a small DataFrame."""
    with scoped_attendance(conn):
        return execute_queries(conn, QUERIES)


def execute_queries(conn: Connection, queries: dict[str, str]) -> dict[str, pd.DataFrame]:
    """Run aggregate queries (inside `scoped_attendance` where they read its tables)."""
    results = {}
    for name, sql in queries.items():
        statement = text(sql)
        params = {}
        if ":more" in sql:
            statement = statement.bindparams(bindparam("more", expanding=True))
            params["more"] = list(MORE_CONVERSATIONS)
        results[name] = pd.DataFrame(conn.execute(statement, params).mappings().all())
    return results


def month_span(first: dt.date, last: dt.date) -> int:
    """Calendar months from first to last, inclusive: July 2020 – July 2021 is 13."""
    return (last.year - first.year) * 12 + last.month - first.month + 1


def month_bounds(month: str) -> tuple[dt.date, dt.date]:
    year, number = (int(part) for part in month.split("-"))
    return dt.date(year, number, 1), dt.date(year, number, calendar.monthrange(year, number)[1])


def _ratio(numerator, denominator):
    return None if not denominator else float(numerator) / float(denominator)


def _records(frame: pd.DataFrame) -> list[tuple]:
    """(index, row as a dict) pairs: what `iterrows` gives, without building a Series per row."""
    columns = list(frame.columns)
    rows = zip(*(frame[c].tolist() for c in columns)) if columns else iter(())
    return [(index, dict(zip(columns, row))) for index, row in zip(frame.index.tolist(), rows)]


def metric_row(
    metric_id: str,
    scope: str,
    numerator,
    period: Period,
    denominator=None,
    dimension: str = "",
    dimension_value: str = "",
    base_n=None,
) -> dict:
    """One tidy row: counts and months are their numerator, shares and means numerator / denominator.
    The base is `base_n`, else the denominator, else the numerator."""
    metric = METRICS_BY_ID[metric_id]
    start, end = period
    value = float(numerator) if metric.unit in ("count", "months") else _ratio(numerator, denominator)
    return {
        "metric_id": metric_id,
        "partnership_id": scope,
        "dimension": dimension,
        "dimension_value": dimension_value,
        "period_start": start,
        "period_end": end,
        "numerator": float(numerator) if numerator is not None else None,
        "denominator": float(denominator) if denominator is not None else None,
        "value": value,
        "unit": metric.unit,
        "base_n": int(base_n if base_n is not None else (denominator if denominator is not None else numerator)),
    }


def scope_periods(totals: pd.DataFrame) -> dict[str, Period]:
    """Each scope's delivery period, first to last attended session (`totals` indexed by scope)."""
    return {
        scope: (pd.Timestamp(r["first_start"]).date(), pd.Timestamp(r["last_start"]).date())
        for scope, r in _records(totals)
    }


def share_rows(
    metric_id: str, parts: pd.DataFrame, count: str, bases: pd.Series, dimension: str, periods: dict[str, Period]
) -> list[dict]:
    """One share per row of `parts` (a scope and a value of `dimension`): its `count` over its scope's base."""
    return [
        metric_row(metric_id, r["scope"], r[count], periods[r["scope"]], bases[r["scope"]], dimension, r[dimension])
        for _, r in _records(parts)
    ]


def reach_rows(totals: pd.DataFrame, periods: dict[str, Period]) -> list[dict]:
    """People trained, attendances, sessions delivered and delivery months, per scope."""
    rows = []
    for scope, r in _records(totals):
        period = periods[scope]
        rows += [
            metric_row("people_trained", scope, r["people"], period),
            metric_row("attendances", scope, r["attendances"], period),
            metric_row("sessions_delivered", scope, r["sessions"], period),
            metric_row("delivery_months", scope, month_span(*period), period, base_n=r["sessions"]),
        ]
    return rows


def monthly_reach_rows(monthly: pd.DataFrame) -> list[dict]:
    """People trained, attendances and sessions delivered per scope and calendar month."""
    rows = []
    for _, r in _records(monthly):
        bounds = month_bounds(r["month"])
        for metric_id, column in (
            ("people_trained", "people"),
            ("attendances", "attendances"),
            ("sessions_delivered", "sessions"),
        ):
            rows.append(
                metric_row(metric_id, r["scope"], r[column], bounds, dimension="month", dimension_value=r["month"])
            )
    return rows


def training_type_rows(by_type: pd.DataFrame, totals: pd.DataFrame, periods: dict[str, Period]) -> list[dict]:
    """Each training type's share of attendances, and the online workshops' share, per scope."""
    attendances = totals["attendances"]
    rows = share_rows("training_type_share", by_type, "attendances", attendances, "training_type", periods)
    for scope in totals.index:
        online = by_type[(by_type["scope"] == scope) & by_type["training_type"].isin(ONLINE_WORKSHOP_TYPES)][
            "attendances"
        ].sum()
        rows.append(metric_row("online_workshop_share", scope, online, periods[scope], attendances[scope]))
    return rows


def role_group_rows(by_role_group: pd.DataFrame, totals: pd.DataFrame, periods: dict[str, Period]) -> list[dict]:
    """Each role group's share of the people trained, per scope."""
    return share_rows("role_group_share", by_role_group, "people", totals["people"], "role_group", periods)


def profession_rows(by_profession: pd.DataFrame, by_type: pd.DataFrame, periods: dict[str, Period]) -> list[dict]:
    """Each profession's share of a training type's attendances, per scope."""
    type_totals = by_type.set_index(["scope", "training_type"])["attendances"]
    return [
        metric_row(
            "profession_share",
            r["scope"],
            r["attendances"],
            periods[r["scope"]],
            type_totals[(r["scope"], r["training_type"])],
            "training_type|profession",
            f"{r['training_type']}|{r['profession']}",
        )
        for _, r in _records(by_profession)
    ]


def response_rows(
    survey: str, responses: pd.DataFrame, monthly: pd.DataFrame, totals: pd.DataFrame, periods: dict[str, Period]
) -> list[dict]:
    """A survey's responses and response rate (per attendance) per scope, 0 where none came back,
    and its responses per month. `responses` is indexed by scope."""
    rows = []
    for scope in totals.index:
        count = int(responses.loc[scope, "responses"]) if scope in responses.index else 0
        rows.append(metric_row(f"{survey}_responses", scope, count, periods[scope]))
        rows.append(
            metric_row(f"{survey}_response_rate", scope, count, periods[scope], totals.loc[scope, "attendances"])
        )
    for _, r in _records(monthly):
        if r["scope"] in periods:
            rows.append(
                metric_row(
                    f"{survey}_responses",
                    r["scope"],
                    r["responses"],
                    month_bounds(r["month"]),
                    dimension="month",
                    dimension_value=r["month"],
                )
            )
    return rows


def rating_rows(survey: str, responses: pd.DataFrame, periods: dict[str, Period]) -> list[dict]:
    """A survey's mean ratings per scope, where anyone answered the question."""
    rows = []
    for scope, r in _records(responses):
        if scope not in periods:
            continue
        for name, metric_id in RATING_MEANS[survey]:
            if r[f"{name}_n"]:
                rows.append(metric_row(metric_id, scope, r[f"{name}_sum"], periods[scope], r[f"{name}_n"]))
    return rows


def more_conversations_rows(followup: pd.DataFrame, by_setting: pd.DataFrame, periods: dict[str, Period]) -> list[dict]:
    """The share of follow-up answers reporting more conversations, per scope and per setting."""
    rows = [
        metric_row("more_conversations_share", scope, r["more_n"], periods[scope], r["answered_n"])
        for scope, r in _records(followup)
        if scope in periods and r["answered_n"]
    ]
    for _, r in _records(by_setting):
        if r["answered_n"] and r["scope"] in periods:
            rows.append(
                metric_row(
                    "more_conversations_share",
                    r["scope"],
                    r["more_n"],
                    periods[r["scope"]],
                    r["answered_n"],
                    "setting",
                    r["setting"],
                )
            )
    return rows


def metric_rows(aggregates: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Tidy metric rows from the aggregates (pure: testable without a database), one family at a time."""
    totals = aggregates["totals"]
    if totals.empty:
        return pd.DataFrame(columns=METRIC_COLUMNS)
    totals = totals.set_index("scope")
    periods = scope_periods(totals)
    rows = [
        *reach_rows(totals, periods),
        *monthly_reach_rows(aggregates["monthly"]),
        *training_type_rows(aggregates["by_training_type"], totals, periods),
        *role_group_rows(aggregates["by_role_group"], totals, periods),
        *profession_rows(aggregates["by_profession"], aggregates["by_training_type"], periods),
    ]
    surveys = {s: aggregates[s].set_index("scope") if len(aggregates[s]) else pd.DataFrame() for s in SURVEYS}
    for survey in SURVEYS:
        rows += response_rows(survey, surveys[survey], aggregates[f"{survey}_monthly"], totals, periods)
        rows += rating_rows(survey, surveys[survey], periods)
    rows += more_conversations_rows(surveys["followup"], aggregates["conversations_by_setting"], periods)
    return in_metric_order(pd.DataFrame(rows, columns=METRIC_COLUMNS))


def in_metric_order(frame: pd.DataFrame) -> pd.DataFrame:
    """Metric rows in their published order: by metric, the programme row first, then partnerships."""
    scope_order = frame["partnership_id"].ne(ALL_PARTNERSHIPS)
    return (
        frame.assign(_scope=scope_order)
        .sort_values(["metric_id", "_scope", "partnership_id", "dimension", "dimension_value"], kind="stable")
        .drop(columns="_scope")
        .reset_index(drop=True)
    )
