"""Bulk reads and writes: DuckDB's native insert from (and fetch into) a DataFrame, PostgreSQL's COPY.

`DataFrame.to_sql` through duckdb-engine manages about 8,000 rows a second; registering the
frame with DuckDB and inserting from it is two orders of magnitude faster, and COPY is
PostgreSQL's equivalent. Both run on the caller's SQLAlchemy connection, so they join its
transaction: a table's old rows are deleted and the new ones inserted atomically.
"""

from __future__ import annotations

import io
import uuid

import pandas as pd
from sqlalchemy import Boolean, Connection, Date, DateTime, Float, Integer, Table, delete

NULL_MARKER = "\\N"


def read_frame(conn: Connection, statement) -> pd.DataFrame:
    """The rows of a SELECT as a DataFrame: DuckDB hands over its columns natively (no row objects)."""
    if conn.dialect.name == "duckdb":
        sql = str(statement.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
        return conn.connection.driver_connection.execute(sql).df()
    return pd.read_sql_query(statement, conn)


def replace_rows(conn: Connection, table: Table, frame: pd.DataFrame, where=None) -> int:
    """Delete the rows this load owns (all, or `where`), then insert `frame`; same transaction."""
    conn.execute(delete(table) if where is None else delete(table).where(where))
    return insert_frame(conn, table, frame)


def insert_frame(conn: Connection, table: Table, frame: pd.DataFrame) -> int:
    """Insert the frame's columns named like the table's columns, by the fastest bulk path."""
    if frame.empty:
        return 0
    columns = [c.name for c in table.columns if c.name in frame.columns]
    missing = [c.name for c in table.columns if c.name not in frame.columns and not c.nullable]
    if missing:
        raise ValueError(f"cannot load {table.name}: frame lacks column(s) {', '.join(missing)}")
    frame = conform_to_table(frame[columns], table)
    dialect = conn.dialect.name
    if dialect == "duckdb":
        _insert_duckdb(conn, table, frame, columns)
    elif dialect == "postgresql":
        _copy_postgres(conn, table, frame, columns)
    else:
        conn.execute(table.insert(), frame.astype(object).where(frame.notna(), None).to_dict("records"))
    return len(frame)


def conform_to_table(frame: pd.DataFrame, table: Table) -> pd.DataFrame:
    """Give each column the pandas type of its table column, so every bulk path agrees."""
    out = frame.copy()
    for column in table.columns:
        if column.name not in out:
            continue
        values = out[column.name]
        if isinstance(column.type, Integer):
            out[column.name] = pd.to_numeric(values).round().astype("Int64")
        elif isinstance(column.type, Float):
            out[column.name] = pd.to_numeric(values).astype("float64")
        elif isinstance(column.type, Boolean):
            out[column.name] = values.astype("boolean")
        elif isinstance(column.type, DateTime):
            out[column.name] = pd.to_datetime(values)
        elif isinstance(column.type, Date):
            out[column.name] = pd.to_datetime(values).dt.date.astype(object).where(values.notna(), None)
    return out


def _insert_duckdb(conn: Connection, table: Table, frame: pd.DataFrame, columns: list[str]) -> None:
    duck = conn.connection.driver_connection
    view = f"amed_load_{uuid.uuid4().hex[:12]}"
    duck.register(view, frame)
    try:
        quoted = ", ".join(f'"{c}"' for c in columns)
        duck.execute(f'INSERT INTO "{table.name}" ({quoted}) SELECT {quoted} FROM {view}')
    finally:
        duck.unregister(view)


def _copy_postgres(conn: Connection, table: Table, frame: pd.DataFrame, columns: list[str]) -> None:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False, na_rep=NULL_MARKER, date_format="%Y-%m-%d %H:%M:%S")
    quoted = ", ".join(f'"{c}"' for c in columns)
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy(f"COPY \"{table.name}\" ({quoted}) FROM STDIN WITH (FORMAT csv, NULL '{NULL_MARKER}')") as copy:
        copy.write(buffer.getvalue())
