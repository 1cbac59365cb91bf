"""Shape the staged datasets into warehouse tables, then replace them.

Per-partnership tables (`schema.PARTNERSHIP_TABLES`) are written by staging,
a batch of partnerships at a time (`load_partnerships`: delete their slices, insert, in the caller's transaction);
tables across partnerships (`schema.GLOBAL_TABLES`: people and their roles, partnerships,
reference labels) are recomputed after staging (`load_global`; people in SQL). The frame builders are pure, so
they are tested without a database. Loads are idempotent: rows come in a stable order and no
column depends on when or by which run they were loaded.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Connection, delete, func, select, text

from amed_pipeline.config import ProgrammeConfig
from amed_pipeline.lib.frames import as_text
from amed_pipeline.staging.classification import ReferenceTables
from amed_pipeline.staging.datasets import Staged, file_accounting
from amed_pipeline.warehouse import schema
from amed_pipeline.warehouse.bulk import replace_rows

# One row per person: the role of their most recent attended booking (by session start; a
# session without a start counts as the latest, then the larger session key), or of their most
# recent booking of any status when they never attended. Computed inside the warehouse: the
# bookings of every partnership never travel into Python.
PERSON_ROLES_SQL = """
INSERT INTO dim_person (person_key, key_version, profession, role_group, first_attended_at, last_attended_at)
SELECT person_key, key_version, profession, role_group, first_attended_at, last_attended_at
FROM (
    SELECT b.person_key, b.key_version, b.profession, b.role_group,
           MIN(CASE WHEN b.status = 'attended' THEN s.start_at END) OVER (PARTITION BY b.person_key) AS first_attended_at,
           MAX(CASE WHEN b.status = 'attended' THEN s.start_at END) OVER (PARTITION BY b.person_key) AS last_attended_at,
           ROW_NUMBER() OVER (
               PARTITION BY b.person_key
               ORDER BY CASE WHEN b.status = 'attended' THEN 1 ELSE 0 END DESC, s.start_at DESC NULLS FIRST, b.session_key DESC
           ) AS recency
    FROM fact_booking b LEFT JOIN dim_session s ON s.session_key = b.session_key
) ranked
WHERE recency = 1
ORDER BY person_key
"""


def load_person_roles(conn: Connection) -> int:
    """Replace `dim_person` from the loaded bookings and sessions; returns the number of people."""
    conn.execute(delete(schema.dim_person))
    conn.execute(text(PERSON_ROLES_SQL))
    return int(conn.execute(select(func.count()).select_from(schema.dim_person)).scalar())


def partnership_frames(
    sessions: Staged,
    bookings: Staged,
    feedback: Staged,
    followup: Staged,
    job_titles: pd.DataFrame | None = None,
    comments: pd.DataFrame | None = None,
    role_groups: dict[str, str] | None = None,
) -> dict[str, pd.DataFrame]:
    """The rows of the per-partnership tables (`schema.PARTNERSHIP_TABLES`), in a stable order.

    `job_titles` and `comments` are the landing layer's unlinked free text; without them the
    staged rows' own `job_title` and `doing_differently` are used.
    """
    session_rows = sessions.rows.rename(columns={"start": "start_at"}).sort_values("session_key")
    session_rows["start_month"] = _month(session_rows["start_at"])
    booking_rows = bookings.rows.sort_values(["session_key", "person_key"])
    if comments is None:
        said = followup.rows[as_text(followup.rows["doing_differently"]).str.strip() != ""]
        comments = pd.DataFrame(
            {
                "partnership_id": said["partnership_id"].to_numpy(),
                "submitted_month": _month(said["submitted_at"]).to_numpy(),
                "comment": as_text(said["doing_differently"]).to_numpy(),
            }
        )
    else:  # the same comment in overlapping downloads lands once per file: keep it once
        comments = comments[["partnership_id", "submitted_month", "comment"]].drop_duplicates()
    comments = comments.sort_values(["partnership_id", "submitted_month", "comment"])
    if job_titles is None:
        titles = bookings.rows[as_text(bookings.rows["job_title"]).str.strip() != ""]
        title_counts = (
            titles.groupby(["partnership_id", "job_title", "profession", "role_group"])
            .size()
            .rename("bookings")
            .reset_index()
        )
    else:  # rows landed per file (copies in overlapping exports included)
        title_counts = (
            job_titles.groupby(["partnership_id", "job_title", "profession"])["rows"]
            .sum()
            .rename("bookings")
            .reset_index()
        )
        title_counts["role_group"] = title_counts["profession"].map(role_groups or {}).fillna("unclassified")
    title_counts = title_counts.sort_values(["partnership_id", "job_title"]).drop_duplicates(
        ["partnership_id", "job_title"]
    )
    staged_sets = (sessions, bookings, feedback, followup)
    ledgers = [file_accounting(s) for s in staged_sets if s.files]
    ledger = (
        pd.concat(ledgers, ignore_index=True)
        if ledgers
        else pd.DataFrame(columns=[c.name for c in schema.ingest_ledger.columns])
    )
    ledger = ledger.sort_values("source_file").drop_duplicates("source_file")
    return {
        "dim_session": session_rows,
        "fact_booking": booking_rows,
        "fact_feedback": _with_month(feedback.rows).sort_values("response_key"),
        "fact_followup": _with_month(followup.rows).sort_values("response_key"),
        "followup_comment": comments,
        "job_title_classification": title_counts,
        "ingest_ledger": ledger,
        "quarantine": combined_quarantine(staged_sets),
    }


def global_frames(config: ProgrammeConfig, reference: ReferenceTables) -> dict[str, pd.DataFrame]:
    """The rows of the small tables computed across partnerships (`schema.GLOBAL_TABLES` but `dim_person`)."""
    partnerships = pd.DataFrame(
        [{"partnership_id": p.id, "name": p.name, "area": p.area} for p in config.partnerships]
        # A partnership disabled by a config mistake keeps its row: its rows already loaded still refer to it.
        + [{"partnership_id": d.id, "name": d.name, "area": ""} for d in config.disabled]
    )
    return {
        "dim_partnership": partnerships,
        "ref_training_type": reference.training_types,
        "ref_profession": reference.professions,
        "ref_role_group": reference.role_groups,
    }


def combined_quarantine(staged_sets) -> pd.DataFrame:
    """Every dataset's quarantine records in one frame, in a stable order."""
    quarantine = pd.concat([s.quarantine for s in staged_sets], ignore_index=True)
    return quarantine.sort_values(["source_file", "source_row", "column_name", "rule"]).reset_index(drop=True)


def _month(timestamps: pd.Series) -> pd.Series:
    return pd.to_datetime(timestamps).dt.strftime("%Y-%m").fillna("")


def _with_month(responses: pd.DataFrame) -> pd.DataFrame:
    return responses.assign(submitted_month=_month(responses["submitted_at"]))


def load_partnerships(conn: Connection, partnership_ids: list[str], frames: dict[str, pd.DataFrame]) -> dict[str, int]:
    """Replace these partnerships' slices of every per-partnership table; returns rows written."""
    return {
        table.name: replace_rows(
            conn, table, frames[table.name], where=table.c.partnership_id.in_(list(partnership_ids))
        )
        for table in schema.PARTNERSHIP_TABLES
    }


def load_global(conn: Connection, frames: dict[str, pd.DataFrame]) -> dict[str, int]:
    """Replace every table computed across partnerships; returns rows written per table."""
    written = {name: replace_rows(conn, getattr(schema, name), frame) for name, frame in frames.items()}
    written["dim_person"] = load_person_roles(conn)
    return written
