"""Warehouse-level checks, run in SQL right after each load; all ERROR and blocking.

A file that could not be read, rows that do not add up, or a fact pointing at a dimension row
that does not exist would make every downstream number wrong, so a failure here stops the
metric tables from being computed (in this run by Dagster's blocking checks, in later runs by
the guard that reads `dq_results`). One exception: an unreadable file blocks only its own
partnership (`PER_PARTNERSHIP_CHECKS`): the other partnerships' metrics are still computed and
published, with a note naming the blocked one (`defs.metrics`). Each query returns the failing rows with the partnership,
the file and a detail, never personal data.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Connection, Select, String, cast, func, literal, select, text, union_all

from amed_pipeline.warehouse import schema


@dataclass(frozen=True)
class WarehouseCheck:
    name: str
    table: str  # the warehouse asset the check is attached to
    description: str
    sql: str | Select  # a SELECT of partnership_id, source_file and detail


WAREHOUSE_CHECKS = (
    WarehouseCheck(
        "all_files_readable",
        "ingest_ledger",
        "every configured export file could be read and has its required columns",
        "SELECT partnership_id, source_file, error AS detail FROM ingest_ledger WHERE error <> ''",
    ),
    WarehouseCheck(
        "row_accounting_balanced",
        "ingest_ledger",
        "for every file, rows read = rows loaded + rows quarantined + rows recognised as duplicates",
        "SELECT partnership_id, source_file, "
        "CAST(rows_read AS VARCHAR) || ' read <> ' || CAST(rows_loaded AS VARCHAR) || ' loaded + ' || "
        "CAST(rows_quarantined AS VARCHAR) || ' quarantined + ' || CAST(rows_duplicate AS VARCHAR) || ' duplicate' AS detail "
        "FROM ingest_ledger WHERE rows_read <> rows_loaded + rows_quarantined + rows_duplicate",
    ),
    WarehouseCheck(
        "facts_reference_dimensions",
        "fact_booking",
        "every fact refers to an existing session, person and partnership",
        """
        SELECT b.partnership_id, b.source_file, 'booking for an unknown session' AS detail
        FROM fact_booking b LEFT JOIN dim_session s ON s.session_key = b.session_key WHERE s.session_key IS NULL
        UNION ALL
        SELECT b.partnership_id, b.source_file, 'booking for an unknown person' AS detail
        FROM fact_booking b LEFT JOIN dim_person p ON p.person_key = b.person_key WHERE p.person_key IS NULL
        UNION ALL
        SELECT s.partnership_id, s.source_file, 'session of an unknown partnership' AS detail
        FROM dim_session s LEFT JOIN dim_partnership d ON d.partnership_id = s.partnership_id WHERE d.partnership_id IS NULL
        UNION ALL
        SELECT f.partnership_id, f.source_file, 'feedback of an unknown partnership' AS detail
        FROM fact_feedback f LEFT JOIN dim_partnership d ON d.partnership_id = f.partnership_id WHERE d.partnership_id IS NULL
        UNION ALL
        SELECT f.partnership_id, f.source_file, 'follow-up of an unknown partnership' AS detail
        FROM fact_followup f LEFT JOIN dim_partnership d ON d.partnership_id = f.partnership_id WHERE d.partnership_id IS NULL
        """,
    ),
)


def _text(value: str):
    return cast(literal(value), String)


def _shown_in_key_group(table, key_names: set[str], name: str):
    """The column itself when it is part of the key, else its smallest value in the group."""
    if name in key_names:
        return table.c[name]
    return func.min(table.c[name]) if name in table.c else _text("")


def _keys_unique_query():
    """Every declared primary key of a loaded table occurs once (DuckDB does not enforce them)."""
    queries = []
    for table in schema.LOADED_TABLES:
        keys = list(table.primary_key.columns)
        if not keys:
            continue
        key_names = {c.name for c in keys}
        detail = _text(f"{table.name}: ") + cast(func.count(), String) + _text(" rows share one key")
        queries.append(
            select(
                _shown_in_key_group(table, key_names, "partnership_id").label("partnership_id"),
                _shown_in_key_group(table, key_names, "source_file").label("source_file"),
                detail.label("detail"),
            )
            .select_from(table)
            .group_by(*keys)
            .having(func.count() > 1)
        )
    return union_all(*queries)


WAREHOUSE_CHECKS = (
    *WAREHOUSE_CHECKS,
    WarehouseCheck(
        "keys_unique",
        "dim_person",
        "every key of a dimension or fact (session, person, booking, response, file) occurs once",
        _keys_unique_query(),
    ),
)


# Checks whose failure blocks only the partnerships that fail them, not the whole programme.
PER_PARTNERSHIP_CHECKS = frozenset({"all_files_readable"})


def blocked_partnerships(conn: Connection) -> dict[str, list[str]]:
    """`{partnership: [unreadable file, ...]}`: the partnerships whose metrics are not published."""
    rows = conn.execute(
        text(
            "SELECT DISTINCT partnership_id, source_file FROM ingest_ledger WHERE error <> '' "
            "ORDER BY partnership_id, source_file"
        )
    ).all()
    blocked: dict[str, list[str]] = {}
    for partnership_id, source_file in rows:
        blocked.setdefault(partnership_id, []).append(source_file)
    return blocked


def run_warehouse_check(conn: Connection, check: WarehouseCheck) -> pd.DataFrame:
    """The failing rows (empty when the check passes)."""
    statement = text(check.sql) if isinstance(check.sql, str) else check.sql
    return pd.DataFrame(conn.execute(statement).mappings().all(), columns=["partnership_id", "source_file", "detail"])
