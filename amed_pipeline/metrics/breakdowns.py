"""Survey measures broken down the way the evaluation discusses them (its "which professions rated
the importance of conversations highest").

- End-of-session ratings (usefulness, knowledge, confidence) by profession and by role group. The
  respondent's role is their role as a person trained in that scope (the same rule as
  `compute.py`, sharing its SQL: most recent attended booking with that partnership; for 'all',
  anywhere in the programme) where the response links to such a person, otherwise the job title the survey itself asked
  for (classified by the same rules); neither: "not stated".
- Feedback and follow-up by training type, where the response links to a session: the latest
  session of that partnership the respondent attended that started on or before the response was
  submitted (same start: the larger session key, as for roles); only that partnership's bookings
  are read, so no other partnership's file can move the link. Response rates by type divide linked responses by attendances of that type, so
  unlinked responses (no e-mail, or no earlier attended session) are left out of them.

These are rows of existing metric ids with a new dimension, so the tidy table, disclosure control
(`disclosure.publish`, applied to every row alike) and the definitions cover them with no special
case. Same shape as `compute.py`: aggregation in portable SQL, arithmetic in Python. So a partnership's rows, like
`compute.py`'s, depend on its own data only. It adds rows; it never changes the rows `compute.metric_rows` produces.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Connection, text

from amed_pipeline.metrics.catalogue import METRICS_BY_ID
from amed_pipeline.metrics.compute import (
    ATTENDANCE_TABLE,
    METRIC_COLUMNS,
    QUERIES,
    ROLES_TABLE,
    execute_queries,
    in_metric_order,
    metric_rows,
    scoped_attendance,
)

NOT_STATED = "not_stated"
# metric id → the dimensions it is also published by (with what the definition says about them).
BREAKDOWNS: dict[str, tuple[str, ...]] = {
    "usefulness_end_mean": ("profession", "role_group", "training_type"),
    "knowledge_mean": ("profession", "role_group"),
    "confidence_mean": ("profession", "role_group"),
    "feedback_response_rate": ("training_type",),
    "followup_response_rate": ("training_type",),
    "usefulness_followup_mean": ("training_type",),
}
DEFINITION_NOTES = {
    "profession": "By profession and by role group: the respondent's role where the response links to a person trained "
    "(their most recent attended booking with that partnership; for 'all', in the programme), "
    "otherwise the job title the survey asked for; 'not stated' when neither.",
    "training_type": "By training type: responses linked to the latest session of that partnership the respondent attended "
    "that started on or before they answered; a rate by type divides linked responses by attendances of that type "
    "(responses that link to no session are left out).",
}

# The respondent's role in each scope is the role `compute.scoped_attendance` gives the person in that
# scope (their most recent attended booking with that partnership; for 'all', in the programme),
# so a partnership's breakdown rows depend on its own data only. The roles are read from
# `compute.ROLES_TABLE`: these queries run inside `compute.scoped_attendance`.
_RESPONDENT = (
    """
WITH responses AS (
    SELECT f.partnership_id AS scope, f.* FROM fact_feedback f
    UNION ALL
    SELECT 'all' AS scope, f.* FROM fact_feedback f
), scoped AS (
    SELECT r.scope, {answers},
           CASE WHEN p.person_key IS NOT NULL THEN p.profession WHEN r.profession <> '' THEN r.profession ELSE :not_stated END AS profession,
           CASE WHEN p.person_key IS NOT NULL THEN p.role_group WHEN r.role_group <> '' THEN r.role_group ELSE :not_stated END AS role_group
    FROM responses r
    LEFT JOIN """
    + ROLES_TABLE
    + """ p ON p.scope = r.scope AND p.person_key = r.person_key AND r.person_key <> ''
)
SELECT scope, {group} AS category,
       SUM(usefulness) AS usefulness_sum, COUNT(usefulness) AS usefulness_n,
       SUM(knowledge) AS knowledge_sum, COUNT(knowledge) AS knowledge_n,
       SUM(confidence) AS confidence_sum, COUNT(confidence) AS confidence_n
FROM scoped GROUP BY scope, {group}
"""
)

# A response's session: among the attended bookings `compute.scoped_attendance` keeps (these
# queries run inside it), the latest of that partnership on or before the response.
_LINKED = (
    """
WITH candidates AS (
    SELECT r.response_key, r.partnership_id, r.usefulness, s.training_type,
           ROW_NUMBER() OVER (PARTITION BY r.response_key ORDER BY s.start_at DESC, s.session_key DESC) AS latest
    FROM {table} r
    JOIN """
    + ATTENDANCE_TABLE
    + """ s ON s.person_key = r.person_key AND s.partnership_id = r.partnership_id
    WHERE r.person_key <> '' AND r.submitted_at IS NOT NULL AND s.start_at <= r.submitted_at
), linked AS (
    SELECT * FROM candidates WHERE latest = 1
), scoped AS (
    SELECT partnership_id AS scope, linked.* FROM linked
    UNION ALL
    SELECT 'all' AS scope, linked.* FROM linked
)
SELECT scope, training_type AS category, COUNT(*) AS responses,
       SUM(usefulness) AS usefulness_sum, COUNT(usefulness) AS usefulness_n
FROM scoped GROUP BY scope, training_type
"""
)

BREAKDOWN_QUERIES = {
    "ratings_by_profession": _RESPONDENT.format(answers="r.usefulness, r.knowledge, r.confidence", group="profession"),
    "ratings_by_role_group": _RESPONDENT.format(answers="r.usefulness, r.knowledge, r.confidence", group="role_group"),
    "feedback_by_training_type": _LINKED.format(table="fact_feedback"),
    "followup_by_training_type": _LINKED.format(table="fact_followup"),
}


def run_breakdown_queries(
    conn: Connection, aggregates: dict[str, pd.DataFrame] | None = None
) -> dict[str, pd.DataFrame]:
    """The breakdowns' aggregates (inside `compute.scoped_attendance`), with the totals and
    attendances by training type they divide by (taken from `aggregates` when given)."""
    results = {}
    for name, sql in BREAKDOWN_QUERIES.items():
        params = {"not_stated": NOT_STATED} if ":not_stated" in sql else {}
        results[name] = pd.DataFrame(conn.execute(text(sql), params).mappings().all())
    shared = ("totals", "by_training_type")
    if aggregates is None:
        aggregates = execute_queries(conn, {name: QUERIES[name] for name in shared})
    return results | {name: aggregates[name] for name in shared}


def breakdown_rows(aggregates: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Tidy rows of the breakdowns from their aggregates (pure)."""
    totals = aggregates["totals"]
    if totals.empty:
        return pd.DataFrame(columns=METRIC_COLUMNS)
    periods = {
        r["scope"]: (pd.Timestamp(r["first_start"]).date(), pd.Timestamp(r["last_start"]).date())
        for _, r in totals.iterrows()
    }
    rows = []

    def add(metric_id, scope, dimension, category, numerator, denominator):
        if scope not in periods or not denominator:
            return
        start, end = periods[scope]
        rows.append(
            {
                "metric_id": metric_id,
                "partnership_id": scope,
                "dimension": dimension,
                "dimension_value": str(category),
                "period_start": start,
                "period_end": end,
                "numerator": float(numerator),
                "denominator": float(denominator),
                "value": float(numerator) / float(denominator),
                "unit": METRICS_BY_ID[metric_id].unit,
                "base_n": int(denominator),
            }
        )

    for name, dimension in (("ratings_by_profession", "profession"), ("ratings_by_role_group", "role_group")):
        for _, r in aggregates[name].iterrows():
            for answer, metric_id in (
                ("usefulness", "usefulness_end_mean"),
                ("knowledge", "knowledge_mean"),
                ("confidence", "confidence_mean"),
            ):
                if r[f"{answer}_n"]:
                    add(metric_id, r["scope"], dimension, r["category"], r[f"{answer}_sum"], r[f"{answer}_n"])
    attendances = {
        (r["scope"], r["training_type"]): r["attendances"] for _, r in aggregates["by_training_type"].iterrows()
    }
    for survey, rate, mean in (
        ("feedback", "feedback_response_rate", "usefulness_end_mean"),
        ("followup", "followup_response_rate", "usefulness_followup_mean"),
    ):
        for _, r in aggregates[f"{survey}_by_training_type"].iterrows():
            add(
                rate,
                r["scope"],
                "training_type",
                r["category"],
                r["responses"],
                attendances.get((r["scope"], r["category"])),
            )
            if r["usefulness_n"]:
                add(mean, r["scope"], "training_type", r["category"], r["usefulness_sum"], r["usefulness_n"])
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)


def all_metric_rows(conn: Connection) -> pd.DataFrame:
    """Every exact metric row: `compute.metric_rows` and the breakdowns, in one stable order."""
    with scoped_attendance(conn):  # roles and attendances in scope, computed once for every query
        aggregates = execute_queries(conn, QUERIES)
        breakdowns = run_breakdown_queries(conn, aggregates)
    parts = [f for f in (metric_rows(aggregates), breakdown_rows(breakdowns)) if len(f)]
    if not parts:
        return pd.DataFrame(columns=METRIC_COLUMNS)
    frame = pd.concat(parts, ignore_index=True)
    if frame.empty:
        return pd.DataFrame(columns=METRIC_COLUMNS)
    return in_metric_order(frame)


def annotate_definitions(definitions: pd.DataFrame) -> pd.DataFrame:
    """The definitions with each metric's extra breakdowns named and explained."""
    out = definitions.copy()
    for metric_id, dimensions in BREAKDOWNS.items():
        rows = out["metric_id"] == metric_id
        if not rows.any():
            continue
        dimension = out.loc[rows, "dimension"].iloc[0]
        out.loc[rows, "dimension"] = ", ".join([d for d in [dimension] if d] + list(dimensions))
        notes = [DEFINITION_NOTES["profession"]] if "profession" in dimensions else []
        notes += [DEFINITION_NOTES["training_type"]] if "training_type" in dimensions else []
        out.loc[rows, "definition"] = out.loc[rows, "definition"] + " " + " ".join(notes)
    return out
