"""Forgetting a person in the warehouse: delete their rows from every table with a `person_key`.

The SQL half of `python -m amed_pipeline forget` (`commands.privacy`): the erasure list itself, which
keeps a forgotten person out of later runs, is `privacy.erasure`. `erasure_log` (in `schema`)
records that an erasure happened (date and counts), never who.
"""

from __future__ import annotations

import datetime as dt
from typing import Iterable

import sqlalchemy as sa
from sqlalchemy import Connection

from amed_pipeline.warehouse.schema import erasure_log

PERSON_COLUMN = "person_key"


# --- the warehouse -----------------------------------------------------------------------------


def tables_with_column(conn: Connection, column: str) -> list[str]:
    """Every table in the warehouse (not just the declared schema) that has `column`.

    From `information_schema`, which DuckDB and PostgreSQL both have (duckdb-engine cannot
    reflect columns through SQLAlchemy's PostgreSQL catalogue queries).
    """
    query = sa.text(
        "SELECT DISTINCT c.table_name FROM information_schema.columns c "
        "JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
        "WHERE c.column_name = :column AND c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'"
    )
    return sorted(row[0] for row in conn.execute(query, {"column": column}))


def delete_person_rows(conn: Connection, person_keys: Iterable[str]) -> dict[str, int]:
    """Delete every row whose `person_key` is one of `person_keys`, in every table that has one.

    Table names come from the database's own catalogue and are quoted by SQLAlchemy; the keys
    are bound parameters.
    """
    keys = sorted(set(person_keys))
    deleted: dict[str, int] = {}
    if not keys:
        return deleted
    for name in tables_with_column(conn, PERSON_COLUMN):
        table = sa.table(name, sa.column(PERSON_COLUMN))
        matching = table.c[PERSON_COLUMN].in_(keys)
        count = conn.execute(sa.select(sa.func.count()).select_from(table).where(matching)).scalar_one()
        if count:
            conn.execute(sa.delete(table).where(matching))
            deleted[name] = int(count)
    return deleted


def record_erasure(conn: Connection, today: dt.date, deleted: dict[str, int], list_entries: int) -> None:
    conn.execute(
        erasure_log.insert().values(
            erased_on=today,
            rows_deleted=sum(deleted.values()),
            tables_affected=len(deleted),
            list_entries=list_entries,
        )
    )
