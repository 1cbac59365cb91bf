"""What each step last computed its tables or files from, so a night without changes does no work.

Each step that spans partnerships (the global tables, the metric tables, the exports and the
report) fingerprints its inputs; when the fingerprint equals the one recorded here after its
last successful run, its outputs are kept as they are, run stamps included. Staging keeps its
own per-partnership fingerprints (`landing.staging_state`).
"""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import Column, Connection, String, Table, delete, select

from amed_pipeline.warehouse.schema import metadata

step_state = Table(
    "step_state",
    metadata,
    Column("step", String, primary_key=True),
    Column("fingerprint", String, nullable=False),
)


def fingerprint_of(value) -> str:
    """A short stable hash of any JSON-able value."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def stored_fingerprint(conn: Connection, step: str) -> str | None:
    return conn.execute(select(step_state.c.fingerprint).where(step_state.c.step == step)).scalar()


def record_fingerprint(conn: Connection, step: str, fingerprint: str) -> None:
    conn.execute(delete(step_state).where(step_state.c.step == step))
    conn.execute(step_state.insert().values(step=step, fingerprint=fingerprint))
