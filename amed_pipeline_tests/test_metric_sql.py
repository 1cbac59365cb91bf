"""The metric SQL gives exactly the rows of the straightforward SQL it replaced.

Each reference below is the earlier query, kept here as the specification: roles ranked over a copy
of every attendance made for 'all', aggregates grouped over that copy, and responses linked to
sessions from the bookings themselves. The queries that replaced
them (roles ranked per partnership, then 'all' over the partnership winners; each aggregate per
partnership and again over the programme) must return the same rows with the same types;
hypothesis draws the awkward cases (ties on the start, a person in several partnerships, bookings
never attended, no attendance at all). Scope: one small in-memory DuckDB warehouse per example, and
a real PostgreSQL server when `AMED_TEST_POSTGRES_URL` names one.
"""

from __future__ import annotations

import datetime as dt
import random

import hypothesis.strategies as st
import pandas as pd
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings

from amed_pipeline.metrics.breakdowns import run_breakdown_queries
from amed_pipeline.metrics.catalogue import MORE_CONVERSATIONS
from amed_pipeline.metrics.compute import QUERIES, ROLES_TABLE, execute_queries, scoped_attendance
from amed_pipeline.warehouse import schema

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LINEAGE = {"source_name": "s", "source_format": "f", "source_file": "x.csv", "source_row": 2}
STARTS = [dt.datetime(2021, 3, 1, 10), dt.datetime(2021, 3, 1, 10, 30), dt.datetime(2021, 4, 1, 9)]
PARTNERSHIPS = ["p1", "p2", "p3"]
PEOPLE = ["a", "b", "c", "d"]
ROLES = [("gp", "medical"), ("nurse", "nursing"), ("physiotherapist", "ahp"), ("unclassified", "unclassified")]

# The roles as `compute.py` computed them before: every attendance ranked once per partnership and
# once more for 'all'.
REFERENCE_ROLES = """
WITH att AS (
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
)
SELECT scope, person_key, profession, role_group FROM roles
"""


# The aggregates as `compute.py` computed them before, over that copy (`scoped`) and over a copy of
# every survey response made for 'all' (`responses`).
REFERENCE_SCOPED = (
    REFERENCE_ROLES.split("SELECT scope, person_key, profession, role_group FROM roles")[0].rstrip()
    + """, scoped AS (
    SELECT booked.scope, booked.partnership_id, booked.person_key, booked.session_key, booked.start_at,
           booked.start_month, booked.training_type, roles.profession, roles.role_group
    FROM booked JOIN roles ON roles.scope = booked.scope AND roles.person_key = booked.person_key
)
"""
)
REFERENCE_RESPONSES = """
WITH scoped AS (
    SELECT r.partnership_id AS scope, r.* FROM {table} r
    UNION ALL
    SELECT 'all' AS scope, r.* FROM {table} r
)
"""
_MONTHLY = """SELECT scope, submitted_month AS month, COUNT(*) AS responses FROM scoped
WHERE submitted_month <> '' GROUP BY scope, submitted_month"""
_CONVERSATIONS = """SUM(CASE WHEN conversations IN :more THEN 1 ELSE 0 END) AS more_n,
       SUM(CASE WHEN conversations <> '' THEN 1 ELSE 0 END) AS answered_n"""
REFERENCE_QUERIES = {
    "totals": REFERENCE_SCOPED
    + """SELECT scope, COUNT(DISTINCT person_key) AS people, COUNT(*) AS attendances,
       COUNT(DISTINCT session_key) AS sessions, MIN(start_at) AS first_start, MAX(start_at) AS last_start
FROM scoped GROUP BY scope""",
    "monthly": REFERENCE_SCOPED
    + """SELECT scope, start_month AS month, COUNT(DISTINCT person_key) AS people, COUNT(*) AS attendances,
       COUNT(DISTINCT session_key) AS sessions
FROM scoped GROUP BY scope, start_month""",
    "by_training_type": REFERENCE_SCOPED
    + "SELECT scope, training_type, COUNT(*) AS attendances FROM scoped GROUP BY scope, training_type",
    "by_role_group": REFERENCE_SCOPED
    + "SELECT scope, role_group, COUNT(DISTINCT person_key) AS people FROM scoped GROUP BY scope, role_group",
    "by_profession": REFERENCE_SCOPED
    + """SELECT scope, training_type, profession, COUNT(*) AS attendances
FROM scoped GROUP BY scope, training_type, profession""",
    "feedback": REFERENCE_RESPONSES.format(table="fact_feedback")
    + """SELECT scope, COUNT(*) AS responses,
       SUM(usefulness) AS usefulness_sum, COUNT(usefulness) AS usefulness_n,
       SUM(knowledge) AS knowledge_sum, COUNT(knowledge) AS knowledge_n,
       SUM(confidence) AS confidence_sum, COUNT(confidence) AS confidence_n
FROM scoped GROUP BY scope""",
    "feedback_monthly": REFERENCE_RESPONSES.format(table="fact_feedback") + _MONTHLY,
    "followup": REFERENCE_RESPONSES.format(table="fact_followup")
    + """SELECT scope, COUNT(*) AS responses,
       SUM(usefulness) AS usefulness_sum, COUNT(usefulness) AS usefulness_n, """
    + _CONVERSATIONS
    + "\nFROM scoped GROUP BY scope",
    "followup_monthly": REFERENCE_RESPONSES.format(table="fact_followup") + _MONTHLY,
    "conversations_by_setting": REFERENCE_RESPONSES.format(table="fact_followup")
    + "SELECT scope, setting, "
    + _CONVERSATIONS
    + "\nFROM scoped GROUP BY scope, setting",
}


RATINGS = st.one_of(st.none(), st.integers(1, 5))
ANSWERS = st.sampled_from(["", *MORE_CONVERSATIONS, "about_the_same"])


# The breakdowns by training type as `breakdowns.py` computed them before, from the bookings and
# sessions themselves.
REFERENCE_LINKED = """
WITH candidates AS (
    SELECT r.response_key, r.partnership_id, r.usefulness, s.training_type,
           ROW_NUMBER() OVER (PARTITION BY r.response_key ORDER BY s.start_at DESC, s.session_key DESC) AS latest
    FROM {table} r
    JOIN fact_booking b ON b.person_key = r.person_key AND b.partnership_id = r.partnership_id AND b.status = 'attended'
    JOIN dim_session s ON s.session_key = b.session_key
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
REFERENCE_QUERIES |= {
    "feedback_by_training_type": REFERENCE_LINKED.format(table="fact_feedback"),
    "followup_by_training_type": REFERENCE_LINKED.format(table="fact_followup"),
}


@st.composite
def responses(draw, survey: str) -> list[dict]:
    """Survey responses: some undated, some unanswered, some linked to a person."""
    drawn = draw(
        st.lists(
            st.tuples(
                st.sampled_from(PARTNERSHIPS),
                st.sampled_from(["", "2021-03", "2021-04"]),
                st.sampled_from(["", *PEOPLE]),
                st.sampled_from(["", "gp"]),
                st.sampled_from(["hospital", "community"]),
                RATINGS,
                RATINGS,
                RATINGS,
                ANSWERS,
            ),
            max_size=8,
        )
    )
    rows = []
    for i, (partnership, month, person, profession, setting, first, second, third, answer) in enumerate(drawn):
        row = {
            "response_key": f"{survey}{i:02d}",
            "partnership_id": partnership,
            "response_id": str(i),
            "submitted_at": dt.datetime.strptime(month + "-15", "%Y-%m-%d") if month else None,
            "submitted_month": month,
            "usefulness": first,
            "profession": profession,
            "role_group": "medical" if profession else "",
            "setting": setting,
            "person_key": person,
            "key_version": "v",
            **LINEAGE,
        }
        answers = {"knowledge": second, "confidence": third} if survey == "feedback" else {"conversations": answer}
        rows.append(row | answers)
    return rows


@st.composite
def warehouses(draw):
    """Sessions (several on one start), bookings (who booked which session, attended or not, as
    what) and both surveys' responses."""
    sessions = draw(st.lists(st.tuples(st.sampled_from(PARTNERSHIPS), st.sampled_from(STARTS)), min_size=0, max_size=8))
    sessions = [(f"{p}_s{i:02d}", p, start) for i, (p, start) in enumerate(sessions)]
    bookings = []
    if sessions:
        pairs = draw(
            st.lists(
                st.tuples(st.sampled_from(sessions), st.sampled_from(PEOPLE)),
                unique_by=lambda pair: (pair[0][0], pair[1]),
                max_size=20,
            )
        )
        for (key, partnership, _), person in pairs:
            status = draw(st.sampled_from(["attended", "attended", "booked", "cancelled"]))
            profession, group = draw(st.sampled_from(ROLES))
            bookings.append((key, person, partnership, status, profession, group))
    return sessions, bookings, draw(responses("feedback")), draw(responses("followup"))


def load(conn, sessions, bookings, feedback=(), followup=()) -> None:
    schema.metadata.create_all(
        conn, tables=[schema.dim_session, schema.fact_booking, schema.fact_feedback, schema.fact_followup]
    )
    if sessions:
        conn.execute(
            sa.insert(schema.dim_session),
            [
                {
                    "session_key": key,
                    "partnership_id": partnership,
                    "session_ref": key,
                    "title": "t",
                    "training_type": "train_the_trainer" if start.day == 1 else "helping_people_become_more_active",
                    "start_at": start,
                    "start_month": start.strftime("%Y-%m"),
                    "delivery_mode": "online",
                    **LINEAGE,
                }
                for key, partnership, start in sessions
            ],
        )
    if bookings:
        conn.execute(
            sa.insert(schema.fact_booking),
            [
                {
                    "session_key": key,
                    "person_key": person,
                    "partnership_id": partnership,
                    "status": status,
                    "profession": profession,
                    "role_group": group,
                    "key_version": "v",
                    "n_records": 1,
                    **LINEAGE,
                }
                for key, person, partnership, status, profession, group in bookings
            ],
        )
    for table, rows in ((schema.fact_feedback, feedback), (schema.fact_followup, followup)):
        if rows:
            conn.execute(sa.insert(table), list(rows))


def rows(conn, sql: str) -> list[tuple]:
    return sorted(tuple(r) for r in conn.execute(sa.text(sql)).all())


def in_order(frame: pd.DataFrame) -> pd.DataFrame:
    """A query's rows in a fixed order (SQL gives none), keeping their types."""
    return frame.sort_values(list(frame.columns)).reset_index(drop=True) if len(frame) else frame


def assert_same_as_reference(conn) -> None:
    """Roles and every aggregate of the metric queries equal the reference queries' on `conn`."""
    expected_roles = rows(conn, REFERENCE_ROLES)
    expected = execute_queries(conn, REFERENCE_QUERIES)
    with scoped_attendance(conn):
        assert rows(conn, "SELECT scope, person_key, profession, role_group FROM " + ROLES_TABLE) == expected_roles
        aggregates = execute_queries(conn, QUERIES)
        linked = run_breakdown_queries(conn, aggregates)
        aggregates |= {name: linked[name] for name in ("feedback_by_training_type", "followup_by_training_type")}
    assert aggregates.keys() == expected.keys()
    for name, frame in aggregates.items():
        pd.testing.assert_frame_equal(in_order(frame), in_order(expected[name]), check_exact=True, obj=name)


@SETTINGS
@given(warehouses())
def test_roles_and_aggregates_match_the_queries_over_a_copy_of_every_row_for_all(warehouse):
    engine = sa.create_engine("duckdb:///:memory:")
    with engine.begin() as conn:
        load(conn, *warehouse)
        assert_same_as_reference(conn)
    engine.dispose()


def random_warehouse(seed: int = 17):
    """A few hundred bookings and responses: many people in several partnerships, many ties on the start."""
    rng = random.Random(seed)
    sessions = [(f"{p}_s{i:03d}", p, rng.choice(STARTS)) for i in range(60) for p in [rng.choice(PARTNERSHIPS)]]
    people = [f"person{i:02d}" for i in range(40)]
    pairs = {(rng.choice(sessions), rng.choice(people)) for _ in range(400)}
    bookings = [
        (s[0], person, s[1], rng.choice(["attended", "attended", "booked"]), *rng.choice(ROLES))
        for s, person in sorted(pairs)
    ]
    return sessions, bookings, random_responses(rng, "feedback", people), random_responses(rng, "followup", people)


def random_responses(rng: random.Random, survey: str, people: list[str]) -> list[dict]:
    rows = []
    for i in range(80):
        month = rng.choice(["", "2021-03", "2021-04"])
        profession = rng.choice(["", "gp"])
        row = {
            "response_key": f"{survey}{i:03d}",
            "partnership_id": rng.choice(PARTNERSHIPS),
            "response_id": str(i),
            "submitted_at": dt.datetime.strptime(month + "-15", "%Y-%m-%d") if month else None,
            "submitted_month": month,
            "usefulness": rng.choice([None, 1, 3, 5]),
            "profession": profession,
            "role_group": "medical" if profession else "",
            "setting": rng.choice(["hospital", "community"]),
            "person_key": rng.choice(["", *people]),
            "key_version": "v",
            **LINEAGE,
        }
        if survey == "feedback":
            row |= {"knowledge": rng.choice([None, 2, 4]), "confidence": rng.choice([None, 1, 5])}
        else:
            row |= {"conversations": rng.choice(["", *MORE_CONVERSATIONS, "about_the_same"])}
        rows.append(row)
    return rows


def test_the_metric_queries_on_postgresql_match_the_reference(postgres_url):
    from amed_pipeline_tests.pipeline_runs import postgres_database

    warehouse = random_warehouse()
    with postgres_database(postgres_url) as url:
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            load(conn, *warehouse)
            assert_same_as_reference(conn)
        engine.dispose()
