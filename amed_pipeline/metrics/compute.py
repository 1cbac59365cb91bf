"""Compute `metric_values` from the warehouse: aggregation in SQL, arithmetic in Python.

Every figure comes from grouping the fact tables inside the database (portable SQL that runs on
DuckDB and PostgreSQL alike); only the small aggregates come back to Python, where they become
tidy rows: one per metric × partnership × dimension value × period. The programme-wide rows
(`partnership_id = 'all'`) are aggregated over the merged facts, never by adding partnership
rows, so a person trained by two partnerships counts once.
"""

from __future__ import annotations

import calendar
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

# Attended bookings with their session, once per partnership and once for 'all', each with the
# person's role *in that scope*: the job title of their most recent attended booking with that
# partnership (for 'all', anywhere in the programme); on the same start, the larger session key
# wins. So a partnership's figures depend on its own bookings only (no programme-wide dim_person).
# `ROLE_CTES` is shared with `breakdowns.py` (a respondent's role follows the same rule): it
# defines `att`, `booked` and `roles(scope, person_key, profession, role_group)`.
ROLE_CTES = """
att AS (
    SELECT b.partnership_id, b.person_key, b.session_key, s.start_at, s.start_month, s.training_type,
           b.profession, b.role_group
    FROM fact_booking b
    JOIN dim_session s ON s.session_key = b.session_key
    WHERE b.status = 'attended'
), booked AS (
    SELECT att.partnership_id AS scope, att.* FROM att
    UNION ALL
    SELECT 'all' AS scope, att.* FROM att
), roles AS (
    SELECT scope, person_key, profession, role_group FROM (
        SELECT scope, person_key, profession, role_group,
               ROW_NUMBER() OVER (PARTITION BY scope, person_key ORDER BY start_at DESC, session_key DESC) AS recency
        FROM booked
    ) ranked
    WHERE recency = 1
)"""

_ATTENDED = (
    "\nWITH"
    + ROLE_CTES
    + """, scoped AS (
    SELECT booked.scope, booked.partnership_id, booked.person_key, booked.session_key, booked.start_at,
           booked.start_month, booked.training_type, roles.profession, roles.role_group
    FROM booked JOIN roles ON roles.scope = booked.scope AND roles.person_key = booked.person_key
)
"""
)

_RESPONSES = """
WITH scoped AS (
    SELECT r.partnership_id AS scope, r.* FROM {table} r
    UNION ALL
    SELECT 'all' AS scope, r.* FROM {table} r
)
"""

QUERIES = {
    "totals": _ATTENDED
    + """
        SELECT scope, COUNT(DISTINCT person_key) AS people, COUNT(*) AS attendances,
               COUNT(DISTINCT session_key) AS sessions, MIN(start_at) AS first_start, MAX(start_at) AS last_start
        FROM scoped GROUP BY scope""",
    "monthly": _ATTENDED
    + """
        SELECT scope, start_month AS month, COUNT(DISTINCT person_key) AS people, COUNT(*) AS attendances,
               COUNT(DISTINCT session_key) AS sessions
        FROM scoped GROUP BY scope, start_month""",
    "by_training_type": _ATTENDED
    + """
        SELECT scope, training_type, COUNT(*) AS attendances FROM scoped GROUP BY scope, training_type""",
    "by_role_group": _ATTENDED
    + """
        SELECT scope, role_group, COUNT(DISTINCT person_key) AS people FROM scoped GROUP BY scope, role_group""",
    "by_profession": _ATTENDED
    + """
        SELECT scope, training_type, profession, COUNT(*) AS attendances
        FROM scoped GROUP BY scope, training_type, profession""",
    "feedback": _RESPONSES.format(table="fact_feedback")
    + """
        SELECT scope, COUNT(*) AS responses,
               SUM(usefulness) AS usefulness_sum, COUNT(usefulness) AS usefulness_n,
               SUM(knowledge) AS knowledge_sum, COUNT(knowledge) AS knowledge_n,
               SUM(confidence) AS confidence_sum, COUNT(confidence) AS confidence_n
        FROM scoped GROUP BY scope""",
    "feedback_monthly": _RESPONSES.format(table="fact_feedback")
    + """
        SELECT scope, submitted_month AS month, COUNT(*) AS responses FROM scoped
        WHERE submitted_month <> '' GROUP BY scope, submitted_month""",
    "followup": _RESPONSES.format(table="fact_followup")
    + """
        SELECT scope, COUNT(*) AS responses,
               SUM(usefulness) AS usefulness_sum, COUNT(usefulness) AS usefulness_n,
               SUM(CASE WHEN conversations IN :more THEN 1 ELSE 0 END) AS more_n,
               SUM(CASE WHEN conversations <> '' THEN 1 ELSE 0 END) AS answered_n
        FROM scoped GROUP BY scope""",
    "followup_monthly": _RESPONSES.format(table="fact_followup")
    + """
        SELECT scope, submitted_month AS month, COUNT(*) AS responses FROM scoped
        WHERE submitted_month <> '' GROUP BY scope, submitted_month""",
    "conversations_by_setting": _RESPONSES.format(table="fact_followup")
    + """
        SELECT scope, setting,
               SUM(CASE WHEN conversations IN :more THEN 1 ELSE 0 END) AS more_n,
               SUM(CASE WHEN conversations <> '' THEN 1 ELSE 0 END) AS answered_n
        FROM scoped GROUP BY scope, setting""",
}


def run_queries(conn: Connection) -> dict[str, pd.DataFrame]:
    """The aggregates, each a small DataFrame."""
    results = {}
    for name, sql in QUERIES.items():
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


def metric_rows(aggregates: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Tidy metric rows from the aggregates (pure: testable without a database)."""
    rows: list[dict] = []
    totals = aggregates["totals"]
    if totals.empty:
        return pd.DataFrame(columns=METRIC_COLUMNS)
    totals = totals.set_index("scope")
    periods = {
        scope: (pd.Timestamp(r["first_start"]).date(), pd.Timestamp(r["last_start"]).date())
        for scope, r in _records(totals)
    }

    def add(metric_id, scope, numerator, denominator=None, dimension="", dimension_value="", period=None, base_n=None):
        metric = METRICS_BY_ID[metric_id]
        start, end = period or periods[scope]
        if metric.unit in ("count", "months"):
            value = float(numerator)
        else:
            value = _ratio(numerator, denominator)
        rows.append(
            {
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
                "base_n": int(
                    base_n if base_n is not None else (denominator if denominator is not None else numerator)
                ),
            }
        )

    for scope, r in _records(totals):
        add("people_trained", scope, r["people"])
        add("attendances", scope, r["attendances"])
        add("sessions_delivered", scope, r["sessions"])
        first, last = periods[scope]
        add("delivery_months", scope, month_span(first, last), base_n=r["sessions"])
    for _, r in _records(aggregates["monthly"]):
        bounds = month_bounds(r["month"])
        add("people_trained", r["scope"], r["people"], dimension="month", dimension_value=r["month"], period=bounds)
        add("attendances", r["scope"], r["attendances"], dimension="month", dimension_value=r["month"], period=bounds)
        add(
            "sessions_delivered",
            r["scope"],
            r["sessions"],
            dimension="month",
            dimension_value=r["month"],
            period=bounds,
        )

    attendances = totals["attendances"]
    people = totals["people"]
    by_type = aggregates["by_training_type"]
    for _, r in _records(by_type):
        add(
            "training_type_share",
            r["scope"],
            r["attendances"],
            attendances[r["scope"]],
            "training_type",
            r["training_type"],
        )
    for scope in totals.index:
        online = by_type[(by_type["scope"] == scope) & by_type["training_type"].isin(ONLINE_WORKSHOP_TYPES)][
            "attendances"
        ].sum()
        add("online_workshop_share", scope, online, attendances[scope])
    for _, r in _records(aggregates["by_role_group"]):
        add("role_group_share", r["scope"], r["people"], people[r["scope"]], "role_group", r["role_group"])
    type_totals = by_type.set_index(["scope", "training_type"])["attendances"]
    for _, r in _records(aggregates["by_profession"]):
        add(
            "profession_share",
            r["scope"],
            r["attendances"],
            type_totals[(r["scope"], r["training_type"])],
            "training_type|profession",
            f"{r['training_type']}|{r['profession']}",
        )

    for survey, prefix in (("feedback", "feedback"), ("followup", "followup")):
        responses = aggregates[survey].set_index("scope") if len(aggregates[survey]) else pd.DataFrame()
        for scope in totals.index:
            count = int(responses.loc[scope, "responses"]) if scope in responses.index else 0
            add(f"{prefix}_responses", scope, count)
            add(f"{prefix}_response_rate", scope, count, attendances[scope])
        for _, r in _records(aggregates[f"{survey}_monthly"]):
            if r["scope"] in periods:
                add(
                    f"{prefix}_responses",
                    r["scope"],
                    r["responses"],
                    dimension="month",
                    dimension_value=r["month"],
                    period=month_bounds(r["month"]),
                )
        for scope, r in _records(responses):
            if scope not in periods:
                continue
            if survey == "feedback":
                for name, metric_id in (
                    ("usefulness", "usefulness_end_mean"),
                    ("knowledge", "knowledge_mean"),
                    ("confidence", "confidence_mean"),
                ):
                    if r[f"{name}_n"]:
                        add(metric_id, scope, r[f"{name}_sum"], r[f"{name}_n"])
            else:
                if r["usefulness_n"]:
                    add("usefulness_followup_mean", scope, r["usefulness_sum"], r["usefulness_n"])
                if r["answered_n"]:
                    add("more_conversations_share", scope, r["more_n"], r["answered_n"])
    for _, r in _records(aggregates["conversations_by_setting"]):
        if r["answered_n"] and r["scope"] in periods:
            add("more_conversations_share", r["scope"], r["more_n"], r["answered_n"], "setting", r["setting"])

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
