"""Shape the staged datasets into warehouse tables, then replace them in one transaction.

`warehouse_frames` is pure (DataFrames in, DataFrames out) so it is tested without a database;
`load_warehouse` writes them. Loads are idempotent: every run replaces each table whole, with
rows in a stable order, and no column depends on when or by which run it was loaded, so running
twice on the same input gives identical tables.
"""

from __future__ import annotations

import pandas as pd

from amed_pipeline.lib.frames import as_text
from sqlalchemy import Connection

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


def warehouse_frames(
    config: ProgrammeConfig,
    reference: ReferenceTables,
    sessions: Staged,
    bookings: Staged,
    feedback: Staged,
    followup: Staged,
) -> dict[str, pd.DataFrame]:
    """Every loaded table's rows, keyed by table name, in a stable order."""
    partnerships = pd.DataFrame(
        [{"partnership_id": p.id, "name": p.name, "area": p.area} for p in config.partnerships]
    )
    session_rows = sessions.rows.rename(columns={"start": "start_at"}).sort_values("session_key")
    session_rows["start_month"] = _month(session_rows["start_at"])
    booking_rows = bookings.rows.sort_values(["session_key", "person_key"])
    comments = followup.rows[as_text(followup.rows["doing_differently"]).str.strip() != ""]
    comments = pd.DataFrame(
        {
            "partnership_id": comments["partnership_id"].to_numpy(),
            "submitted_month": _month(comments["submitted_at"]).to_numpy(),
            "comment": as_text(comments["doing_differently"]).to_numpy(),
        }
    ).sort_values(["partnership_id", "submitted_month", "comment"])
    titles = bookings.rows[as_text(bookings.rows["job_title"]).str.strip() != ""]
    title_counts = (
        titles.groupby(["job_title", "profession", "role_group"]).size().rename("bookings").reset_index()
        .sort_values("job_title").drop_duplicates("job_title")
    )
    staged_sets = (sessions, bookings, feedback, followup)
    ledgers = [file_accounting(s) for s in staged_sets if s.files]
    ledger = pd.concat(ledgers, ignore_index=True) if ledgers else pd.DataFrame(columns=[c.name for c in schema.ingest_ledger.columns])
    ledger = ledger.sort_values("source_file").drop_duplicates("source_file")
    quarantine = combined_quarantine(staged_sets)
    return {
        "dim_partnership": partnerships,
        "dim_session": session_rows,
        "dim_person": person_roles(bookings.rows, sessions.rows),
        "fact_booking": booking_rows,
        "fact_feedback": _with_month(feedback.rows).sort_values("response_key"),
        "fact_followup": _with_month(followup.rows).sort_values("response_key"),
        "followup_comment": comments,
        "job_title_classification": title_counts,
        "ref_training_type": reference.training_types,
        "ref_profession": reference.professions,
        "ref_role_group": reference.role_groups,
        "ingest_ledger": ledger,
        "quarantine": quarantine,
    }


def combined_quarantine(staged_sets) -> pd.DataFrame:
    """Every dataset's quarantine records in one frame, in a stable order."""
    quarantine = pd.concat([s.quarantine for s in staged_sets], ignore_index=True)
    return quarantine.sort_values(["source_file", "source_row", "column_name", "rule"]).reset_index(drop=True)


def _month(timestamps: pd.Series) -> pd.Series:
    return pd.to_datetime(timestamps).dt.strftime("%Y-%m").fillna("")


def _with_month(responses: pd.DataFrame) -> pd.DataFrame:
    return responses.assign(submitted_month=_month(responses["submitted_at"]))


def load_warehouse(conn: Connection, frames: dict[str, pd.DataFrame]) -> dict[str, int]:
    """Replace every loaded table with its frame; returns rows written per table."""
    return {table.name: replace_rows(conn, table, frames[table.name]) for table in schema.LOADED_TABLES}
