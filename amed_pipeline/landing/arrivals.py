"""When each raw file (each version of it, by content hash) first landed: what an evaluation
release "as known at" a date may use.

`landing_file` holds only the current version of each file; this table keeps the first time each
(file, content hash) was landed, and is never rewritten, so a correction (a file replaced by a
new version) shows as a new arrival while the first stays on record. Files landed before this
table existed get the time they were first seen here (`backfilled`).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Boolean, Column, Connection, DateTime, String, Table, select

from amed_pipeline.warehouse.schema import metadata

file_arrival = Table(
    "file_arrival",
    metadata,
    Column("source_file", String, primary_key=True),
    Column("content_hash", String, primary_key=True),
    Column("partnership_id", String, nullable=False),
    Column("dataset", String, nullable=False),
    Column("first_landed_at", DateTime, nullable=False),
    Column("backfilled", Boolean, nullable=False),
)


def record_arrivals(
    conn: Connection, ledger: pd.DataFrame, now: dt.datetime | None = None, backfilled: bool = False
) -> int:
    """Add the (file, hash) pairs of `ledger` not seen before; returns how many were new."""
    if ledger is None or ledger.empty:
        return 0
    known = {
        (r.source_file, r.content_hash)
        for r in conn.execute(select(file_arrival.c.source_file, file_arrival.c.content_hash))
    }
    now = (now or dt.datetime.now()).replace(microsecond=0)
    new = [
        {
            "source_file": r["source_file"],
            "content_hash": r["content_hash"],
            "partnership_id": r["partnership_id"],
            "dataset": r["dataset"],
            "first_landed_at": now,
            "backfilled": backfilled,
        }
        for _, r in ledger.drop_duplicates(["source_file", "content_hash"]).iterrows()
        if (r["source_file"], r["content_hash"]) not in known and r["content_hash"]
    ]
    if new:
        conn.execute(file_arrival.insert(), new)
    return len(new)
