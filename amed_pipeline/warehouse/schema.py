"""The warehouse's tables, declared in code (DuckDB through SQLAlchemy cannot reflect them).

A small dimensional model: partnerships, sessions and people (pseudonyms only) as dimensions;
bookings, feedback and follow-up responses as facts; reference tables for labels; the ingest
ledger (one row per file, with its row accounting) and quarantine (every row that could not
load, with its reason). No table holds a name or an email. Integer keys are avoided on purpose:
duckdb-engine compiles an integer primary key to SERIAL, which DuckDB rejects.

Primary keys are declared for PostgreSQL but not created in DuckDB: DuckDB keeps an index per
key, and replacing a table of a million people with one took 18 s instead of 1 s on this kind
of machine (benchmarks/). Keys stay unique because staging makes them so, and the blocking
warehouse check `keys_unique` (built from these declarations) verifies it after every load.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, DateTime, Integer, MetaData, String, Table, Text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import PrimaryKeyConstraint

metadata = MetaData()


@compiles(PrimaryKeyConstraint, "duckdb")
def _no_primary_key_in_duckdb(constraint, compiler, **kw):
    return None  # left out of CREATE TABLE (see the module docstring)


def lineage_columns() -> list[Column]:
    """Where a row came from: the source, the file (relative to the data dir) and its row."""
    return [
        Column("source_name", String, nullable=False),
        Column("source_format", String, nullable=False),
        Column("source_file", String, nullable=False),
        Column("source_row", Integer, nullable=False, autoincrement=False),
    ]


dim_partnership = Table(
    "dim_partnership",
    metadata,
    Column("partnership_id", String, primary_key=True),
    Column("name", String, nullable=False),
    Column("area", String, nullable=False),
)

dim_session = Table(
    "dim_session",
    metadata,
    Column("session_key", String, primary_key=True),
    Column("partnership_id", String, nullable=False),
    Column("session_ref", String, nullable=False),
    Column("title", String, nullable=False),
    Column("training_type", String, nullable=False),
    Column("start_at", DateTime, nullable=False),
    Column("start_month", String, nullable=False),  # YYYY-MM, so monthly metrics need no date functions
    Column("delivery_mode", String, nullable=False),
    *lineage_columns(),
)

dim_person = Table(
    "dim_person",
    metadata,
    Column("person_key", String, primary_key=True),
    Column("key_version", String, nullable=False),
    Column("profession", String, nullable=False),
    Column("role_group", String, nullable=False),
    Column("first_attended_at", DateTime),
    Column("last_attended_at", DateTime),
)

fact_booking = Table(
    "fact_booking",
    metadata,
    Column("session_key", String, primary_key=True),
    Column("person_key", String, primary_key=True),
    Column("partnership_id", String, nullable=False),
    Column("status", String, nullable=False),
    Column("profession", String, nullable=False),
    Column("role_group", String, nullable=False),
    Column("key_version", String, nullable=False),
    Column("n_records", Integer, nullable=False, autoincrement=False),
    *lineage_columns(),
)


def survey_fact(name: str, *answers: Column) -> Table:
    """A survey-response fact table: identity and timing, the answers, the respondent's context."""
    return Table(
        name,
        metadata,
        Column("response_key", String, primary_key=True),
        Column("partnership_id", String, nullable=False),
        Column("response_id", String, nullable=False),
        Column("submitted_at", DateTime),
        Column("submitted_month", String, nullable=False),
        *answers,
        Column("profession", String, nullable=False),
        Column("role_group", String, nullable=False),
        Column("setting", String, nullable=False),
        Column("person_key", String, nullable=False),
        Column("key_version", String, nullable=False),
        *lineage_columns(),
    )


fact_feedback = survey_fact(
    "fact_feedback",
    Column("usefulness", Integer, autoincrement=False),
    Column("knowledge", Integer, autoincrement=False),
    Column("confidence", Integer, autoincrement=False),
)
fact_followup = survey_fact(
    "fact_followup",
    Column("usefulness", Integer, autoincrement=False),
    Column("conversations", String, nullable=False),
)

# Free-text answers kept for the evaluator, deliberately without any link to the person.
followup_comment = Table(
    "followup_comment",
    metadata,
    Column("partnership_id", String, nullable=False),
    Column("submitted_month", String, nullable=False),
    Column("comment", Text, nullable=False),
)

# Which job titles became which profession, without any link to a person: the data engineer
# reads it to improve job_title_rules.csv.
job_title_classification = Table(
    "job_title_classification",
    metadata,
    Column("partnership_id", String, primary_key=True),
    Column("job_title", String, primary_key=True),
    Column("profession", String, nullable=False),
    Column("role_group", String, nullable=False),
    Column("bookings", Integer, nullable=False, autoincrement=False),
)

ref_training_type = Table(
    "ref_training_type",
    metadata,
    Column("training_type", String, primary_key=True),
    Column("label", String, nullable=False),
    Column("online_workshop", Boolean, nullable=False),
)

ref_profession = Table(
    "ref_profession",
    metadata,
    Column("profession", String, primary_key=True),
    Column("label", String, nullable=False),
    Column("role_group", String, nullable=False),
)

ref_role_group = Table(
    "ref_role_group",
    metadata,
    Column("role_group", String, primary_key=True),
    Column("label", String, nullable=False),
)


def file_ledger_table(name: str, *extra: Column) -> Table:
    """One row per export file: what it is, its content hash and its row accounting."""
    return Table(
        name,
        metadata,
        Column("source_file", String, primary_key=True),
        Column("partnership_id", String, nullable=False),
        Column("dataset", String, nullable=False),
        Column("source_name", String, nullable=False),
        Column("source_format", String, nullable=False),
        Column("content_hash", String, nullable=False),
        Column("size_bytes", Integer, nullable=False, autoincrement=False),
        Column("rows_read", Integer, nullable=False, autoincrement=False),
        Column("rows_quarantined", Integer, nullable=False, autoincrement=False),
        Column("rows_duplicate", Integer, nullable=False, autoincrement=False),
        Column("duplicate_of", String, nullable=False),
        Column("error", Text, nullable=False),
        *extra,
    )


ingest_ledger = file_ledger_table("ingest_ledger", Column("rows_loaded", Integer, nullable=False, autoincrement=False))

quarantine = Table(
    "quarantine",
    metadata,
    Column("partnership_id", String, nullable=False),
    Column("dataset", String, nullable=False),
    Column("source_name", String, nullable=False),
    Column("source_file", String, nullable=False),
    Column("source_row", Integer, nullable=False, autoincrement=False),
    Column("rule", String, nullable=False),
    Column("column_name", String, nullable=False),
    Column("value", Text, nullable=False),
    Column("reason", Text, nullable=False),
)

# Tables holding one slice per partnership: staging replaces a partnership's rows when its input
# changed (`DELETE ... WHERE partnership_id = :p`, then insert).
PARTNERSHIP_TABLES = (
    dim_session,
    fact_booking,
    fact_feedback,
    fact_followup,
    followup_comment,
    job_title_classification,
    ingest_ledger,
    quarantine,
)
# Tables computed across partnerships after staging, replaced whole.
GLOBAL_TABLES = (dim_partnership, dim_person, ref_training_type, ref_profession, ref_role_group)
# Every table a nightly run loads.
LOADED_TABLES = (*PARTNERSHIP_TABLES, *GLOBAL_TABLES)

# One row per `forget` (`warehouse.erasure`): when, and how much was removed. Deliberately no identity and no pseudonym.
# Not one of the tables the nightly load replaces: it is the record that erasures happened.
erasure_log = Table(
    "erasure_log",
    metadata,
    Column("erased_on", Date, nullable=False),
    Column("rows_deleted", Integer, nullable=False, autoincrement=False),
    Column("tables_affected", Integer, nullable=False, autoincrement=False),
    Column("list_entries", Integer, nullable=False, autoincrement=False),
)
