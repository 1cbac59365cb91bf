"""Shape the staged datasets into warehouse tables, then replace them.

Per-partnership tables (`schema.PARTNERSHIP_TABLES`) are written by staging, one partnership's
slice at a time (`load_partnership`: delete the slice, insert, in the caller's transaction);
tables across partnerships (`schema.GLOBAL_TABLES`: people and their roles, partnerships,
reference labels) are recomputed after staging (`load_global`). The frame builders are pure, so
they are tested without a database. Loads are idempotent: rows come in a stable order and no
column depends on when or by which run they were loaded.
"""

from __future__ import annotations

import pandas as pd

from amed_pipeline.lib.frames import as_text
from sqlalchemy import Connection, select

from amed_pipeline.config import ProgrammeConfig
from amed_pipeline.staging.classification import ReferenceTables
from amed_pipeline.staging.datasets import Staged, file_accounting
from amed_pipeline.warehouse import schema
from amed_pipeline.warehouse.bulk import replace_rows


def person_roles(bookings: pd.DataFrame, sessions: pd.DataFrame) -> pd.DataFrame:
    """One row per person: role from the most recent attended booking (by session start).

    People who never attended take the role of their most recent booking of any status.
    """
    columns = ["person_key", "key_version", "profession", "role_group", "first_attended_at", "last_attended_at"]
    if bookings.empty:
        return pd.DataFrame(columns=columns)
    starts = dict(zip(sessions["session_key"], pd.to_datetime(sessions["start"])))
    frame = bookings.assign(start_at=bookings["session_key"].map(starts), attended=bookings["status"] == "attended")
    frame = frame.sort_values(["person_key", "attended", "start_at", "session_key"], kind="stable")
    latest = frame.groupby("person_key", sort=True).tail(1).set_index("person_key")
    attended = frame[frame["attended"]].groupby("person_key")["start_at"]
    out = pd.DataFrame(
        {
            "person_key": latest.index,
            "key_version": latest["key_version"].to_numpy(),
            "profession": latest["profession"].to_numpy(),
            "role_group": latest["role_group"].to_numpy(),
        }
    )
    out["first_attended_at"] = out["person_key"].map(attended.min())
    out["last_attended_at"] = out["person_key"].map(attended.max())
    return out[columns].sort_values("person_key").reset_index(drop=True)


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
        title_counts = titles.groupby(["partnership_id", "job_title", "profession", "role_group"]).size().rename("bookings").reset_index()
    else:  # rows landed per file (copies in overlapping exports included)
        title_counts = job_titles.groupby(["partnership_id", "job_title", "profession"])["rows"].sum().rename("bookings").reset_index()
        title_counts["role_group"] = title_counts["profession"].map(role_groups or {}).fillna("unclassified")
    title_counts = title_counts.sort_values(["partnership_id", "job_title"]).drop_duplicates(["partnership_id", "job_title"])
    staged_sets = (sessions, bookings, feedback, followup)
    ledgers = [file_accounting(s) for s in staged_sets if s.files]
    ledger = pd.concat(ledgers, ignore_index=True) if ledgers else pd.DataFrame(columns=[c.name for c in schema.ingest_ledger.columns])
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


def global_frames(config: ProgrammeConfig, reference: ReferenceTables, bookings: pd.DataFrame, sessions: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The rows of the tables computed across partnerships (`schema.GLOBAL_TABLES`)."""
    partnerships = pd.DataFrame([{"partnership_id": p.id, "name": p.name, "area": p.area} for p in config.partnerships])
    return {
        "dim_partnership": partnerships,
        "dim_person": person_roles(bookings, sessions),
        "ref_training_type": reference.training_types,
        "ref_profession": reference.professions,
        "ref_role_group": reference.role_groups,
    }


def read_person_inputs(conn: Connection) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The bookings and session starts that people's roles are derived from."""
    bookings = pd.read_sql_query(
        select(schema.fact_booking.c.session_key, schema.fact_booking.c.person_key, schema.fact_booking.c.key_version,
               schema.fact_booking.c.status, schema.fact_booking.c.profession, schema.fact_booking.c.role_group),
        conn,
    )
    sessions = pd.read_sql_query(select(schema.dim_session.c.session_key, schema.dim_session.c.start_at.label("start")), conn)
    return bookings, sessions


def combined_quarantine(staged_sets) -> pd.DataFrame:
    """Every dataset's quarantine records in one frame, in a stable order."""
    quarantine = pd.concat([s.quarantine for s in staged_sets], ignore_index=True)
    return quarantine.sort_values(["source_file", "source_row", "column_name", "rule"]).reset_index(drop=True)


def _month(timestamps: pd.Series) -> pd.Series:
    return pd.to_datetime(timestamps).dt.strftime("%Y-%m").fillna("")


def _with_month(responses: pd.DataFrame) -> pd.DataFrame:
    return responses.assign(submitted_month=_month(responses["submitted_at"]))


def load_partnership(conn: Connection, partnership_id: str, frames: dict[str, pd.DataFrame]) -> dict[str, int]:
    """Replace one partnership's slice of every per-partnership table; returns rows written."""
    return {
        table.name: replace_rows(conn, table, frames[table.name], where=table.c.partnership_id == partnership_id)
        for table in schema.PARTNERSHIP_TABLES
    }


def load_global(conn: Connection, frames: dict[str, pd.DataFrame]) -> dict[str, int]:
    """Replace every table computed across partnerships; returns rows written per table."""
    return {table.name: replace_rows(conn, table, frames[table.name]) for table in schema.GLOBAL_TABLES}
