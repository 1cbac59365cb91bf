"""What each step last computed its tables or files from, so a night without changes does no work.

Two tables, kept as they were before this module owned them so an existing warehouse needs no
migration:
- `step_state`: one fingerprint per step that spans partnerships (the tables across
  partnerships, the metric tables, the exports, the report, the known-names sweep);
- `staging_state`: one fingerprint per partnership's staged slice. The tables across
  partnerships and the metric tables fingerprint these rows; a partnership without a row is
  staged again (the known-names sweep removes the rows of partnerships whose landed text it
  changed).
When a step's fingerprint equals the one recorded after its last successful run, its outputs are
kept as they are, run stamps included.
"""

from __future__ import annotations

from sqlalchemy import Column, Connection, String, Table, delete, select

from amed_pipeline.warehouse.schema import metadata

step_state = Table(
    "step_state",
    metadata,
    Column("step", String, primary_key=True),
    Column("fingerprint", String, nullable=False),
)

staging_state = Table(
    "staging_state",
    metadata,
    Column("partnership_id", String, primary_key=True),
    Column("fingerprint", String, nullable=False),
)


def stored_fingerprint(conn: Connection, step: str) -> str | None:
    return conn.execute(select(step_state.c.fingerprint).where(step_state.c.step == step)).scalar()


def record_fingerprint(conn: Connection, step: str, fingerprint: str) -> None:
    conn.execute(delete(step_state).where(step_state.c.step == step))
    conn.execute(step_state.insert().values(step=step, fingerprint=fingerprint))


def staged_fingerprint(conn: Connection, partnership_id: str) -> str | None:
    return conn.execute(
        select(staging_state.c.fingerprint).where(staging_state.c.partnership_id == partnership_id)
    ).scalar()


def staged_fingerprints(conn: Connection) -> list[tuple[str, str]]:
    """Every partnership's staged fingerprint, sorted: what the steps after staging compute from."""
    return sorted(tuple(r) for r in conn.execute(select(staging_state)).all())


def record_staged(conn: Connection, partnership_id: str, fingerprint: str) -> None:
    conn.execute(delete(staging_state).where(staging_state.c.partnership_id == partnership_id))
    conn.execute(staging_state.insert().values(partnership_id=partnership_id, fingerprint=fingerprint))


def forget_staged(conn: Connection, partnership_ids) -> None:
    """Make partnerships' staged slices out of date (e.g. their landed text changed in place)."""
    if partnership_ids:
        conn.execute(delete(staging_state).where(staging_state.c.partnership_id.in_(sorted(partnership_ids))))
