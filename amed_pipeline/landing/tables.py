"""The landing layer: every export file's parsed, pseudonymised rows, kept per file in the warehouse.

This is what makes loads incremental. `landing_file` remembers, per file, the content hash it was
read with and a fingerprint of how it was read (format, options, pseudonym key version, erasure
list, parser version). A nightly run hashes the files and parses only those whose hash or
fingerprint changed; a changed file replaces exactly its own rows (delete by file, then insert,
in one transaction); a file that disappeared takes its rows with it. Staging then reads a
partnership's landed rows from here instead of parsing anything.

No name or email is stored here: rows land after pseudonymisation and minimisation.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
from sqlalchemy import Column, Connection, DateTime, Integer, String, Table, Text, delete, func, select, update

from amed_pipeline.landing.arrivals import record_arrivals
from amed_pipeline.lib.frames import as_text, map_distinct
from amed_pipeline.privacy.minimisation import DROPPED_AT_BOUNDARY, KEPT_FIELDS
from amed_pipeline.privacy.redaction import KnownNames, redact_values
from amed_pipeline.reading.parse import QUARANTINE_COLUMNS, FileLedger
from amed_pipeline.vocabulary import DATASET_FIELDS
from amed_pipeline.warehouse.bulk import insert_frame, read_frame
from amed_pipeline.warehouse.schema import file_ledger_table, metadata

LINEAGE = ("partnership_id", "source_name", "source_format", "source_file", "source_row")
# Free text never lands next to a pseudonym: job titles land as their classification (titles are
# counted in `landing_job_title`, unlinked) and comments in `landing_comment` (unlinked), with a
# keyed digest in the response row so identical downloads still de-duplicate.
FREE_TEXT = ("job_title", "doing_differently")
EXTRA = {
    "bookings": ("record_rank", "record_ref", "profession"),
    "feedback": ("profession",),
    "followup": ("profession", "comment_digest"),
}


# Field kind → landing column type; every other kind is Text (text, identifiers, choices; a time
# of day as HH:MM:SS). `read_landed` turns each type back into the kind's values.
COLUMN_TYPE_OF_KIND = {"rating": Integer, "datetime": DateTime, "date": DateTime}
INTEGER_COLUMNS = ("source_row", "record_rank", "rows")
FIELD_KINDS = {dataset: {f.name: f.kind for f in fields} for dataset, fields in DATASET_FIELDS.items()}


def _column(name: str, kind: str) -> Column:
    column_type = Integer if name in INTEGER_COLUMNS else COLUMN_TYPE_OF_KIND.get(kind, Text)
    if column_type is Integer:
        return Column(name, Integer, autoincrement=False)
    return Column(name, column_type)


def landed_fields(dataset: str) -> list[str]:
    """The canonical fields that land for a dataset (personal fields never do)."""
    return [
        f.name
        for f in DATASET_FIELDS[dataset]
        if f.name in KEPT_FIELDS and f.name not in LINEAGE and f.name not in FREE_TEXT
    ]


def _rows_table(dataset: str) -> Table:
    kinds = FIELD_KINDS[dataset]
    columns = [_column(c, "text") for c in LINEAGE]
    columns += [_column(name, kinds[name]) for name in landed_fields(dataset)]
    columns += [_column(name, "text") for name in EXTRA.get(dataset, ())]
    columns += [Column("person_key", Text), Column("key_version", Text)]
    return Table(f"landing_{dataset}", metadata, *columns)


LANDING_ROWS = {dataset: _rows_table(dataset) for dataset in DATASET_FIELDS}

# How each file was landed: its ledger entry plus the fingerprint of how it was read.
landing_file = file_ledger_table("landing_file", Column("fingerprint", String, nullable=False))

landing_job_title = Table(
    "landing_job_title",
    metadata,
    Column("partnership_id", String, nullable=False),
    Column("source_file", String, nullable=False),
    Column("job_title", Text, nullable=False),
    Column("profession", String, nullable=False),
    Column("rows", Integer, nullable=False, autoincrement=False),
)

landing_comment = Table(
    "landing_comment",
    metadata,
    Column("partnership_id", String, nullable=False),
    Column("source_file", String, nullable=False),
    Column("submitted_month", String, nullable=False),
    Column("comment", Text, nullable=False),
)

# Keyed digests (HMAC, pseudonym key) of the full names in the bookings read, per file: how
# free text read later knows which names to remove (`privacy.redaction`). Never a name, and no
# link to a person or a row.
landing_name = Table(
    "landing_name",
    metadata,
    Column("partnership_id", String, nullable=False),
    Column("source_file", String, nullable=False),
    Column("name_digest", String, nullable=False),
)

# How many emails, phone numbers, postcodes and known names were removed from each free-text
# field of each file: counts for the data return, never values.
landing_redaction = Table(
    "landing_redaction",
    metadata,
    Column("partnership_id", String, nullable=False),
    Column("dataset", String, nullable=False),
    Column("source_file", String, nullable=False),
    Column("field_name", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("redactions", Integer, nullable=False, autoincrement=False),
)

landing_quarantine = Table(
    "landing_quarantine",
    metadata,
    *(Column(c, Integer, autoincrement=False) if c == "source_row" else Column(c, Text) for c in QUARANTINE_COLUMNS),
)


def landed_file_states(
    conn: Connection, partnership_ids: Sequence[str] | None = None
) -> dict[tuple[str, str], dict[str, tuple[str, str, str]]]:
    """`{(partnership, source name): {file: (content hash, duplicate of, fingerprint)}}` in one query."""
    statement = select(
        landing_file.c.partnership_id,
        landing_file.c.source_name,
        landing_file.c.source_file,
        landing_file.c.content_hash,
        landing_file.c.duplicate_of,
        landing_file.c.fingerprint,
    )
    if partnership_ids is not None:
        statement = statement.where(landing_file.c.partnership_id.in_(list(partnership_ids)))
    states: dict[tuple[str, str], dict[str, tuple[str, str, str]]] = {}
    for r in conn.execute(statement).all():
        states.setdefault((r.partnership_id, r.source_name), {})[r.source_file] = (
            r.content_hash,
            r.duplicate_of,
            r.fingerprint,
        )
    return states


def known_files(states: dict[str, tuple[str, str, str]], fingerprint: str) -> dict[str, tuple[str, str]]:
    """Of one source's landed files, those landed with this fingerprint: {file: (content hash, duplicate of)}."""
    return {
        name: (content_hash, duplicate_of)
        for name, (content_hash, duplicate_of, landed_with) in states.items()
        if landed_with == fingerprint
    }


@dataclass
class Landing:
    """One source's new or changed files, ready to replace their rows in the landing tables."""

    dataset: str
    files: list[FileLedger]
    rows: pd.DataFrame
    quarantine: pd.DataFrame
    fingerprint: str
    removed: set[str] = field(default_factory=set)
    job_titles: pd.DataFrame | None = None
    comments: pd.DataFrame | None = None
    names: pd.DataFrame | None = None
    redactions: pd.DataFrame | None = None

    @property
    def file_names(self) -> set[str]:
        return {f.source_file for f in self.files} | set(self.removed)


def replace_files(conn: Connection, landings: list[Landing]) -> None:
    """Delete the rows of the given (and removed) files, then insert their new rows; caller's transaction.

    Several sources are written together (one insert per table), which is what makes landing
    many small files cheap; each file still replaces exactly its own rows.
    """
    names = sorted(set().union(*(landing.file_names for landing in landings))) if landings else []
    if not names:
        return
    for dataset in sorted({landing.dataset for landing in landings}):
        dataset_names = sorted(set().union(*(landing.file_names for landing in landings if landing.dataset == dataset)))
        _delete_files(conn, LANDING_ROWS[dataset], dataset_names)
    for table in (
        landing_quarantine,
        landing_file,
        landing_job_title,
        landing_comment,
        landing_name,
        landing_redaction,
    ):
        _delete_files(conn, table, names)
    ledger = pd.DataFrame(
        [{**f.__dict__, "fingerprint": landing.fingerprint} for landing in landings for f in landing.files]
    )
    insert_frame(conn, landing_file, ledger)
    record_arrivals(conn, ledger)  # first landing of each file version, for releases "as known at"
    insert_frame(conn, landing_quarantine, _concat([landing.quarantine for landing in landings]))
    for dataset in sorted({landing.dataset for landing in landings}):
        rows = _concat([landing.rows for landing in landings if landing.dataset == dataset])
        insert_frame(conn, LANDING_ROWS[dataset], _storable(rows, dataset))
    insert_frame(conn, landing_job_title, _concat([landing.job_titles for landing in landings]))
    insert_frame(conn, landing_comment, _concat([landing.comments for landing in landings]))
    insert_frame(conn, landing_name, _concat([landing.names for landing in landings]))
    insert_frame(conn, landing_redaction, _concat([landing.redactions for landing in landings]))


def free_text_fields(dataset: str) -> list[str]:
    """The dataset's stored fields that hold text as typed (dropped ones need no redaction).

    Ids too: a misplaced cell ("Checked in by x@y" in an id column) parses as an id and is kept.
    """
    return [
        f.name
        for f in DATASET_FIELDS[dataset]
        if f.kind in ("text", "identifier") and f.name not in DROPPED_AT_BOUNDARY
    ]


def _text_targets() -> list[tuple[Table, str, str, str]]:
    """(table, column, dataset, field) of every landed text that may quote what people typed."""
    targets = [
        (landing_job_title, "job_title", "bookings", "job_title"),
        (landing_comment, "comment", "followup", "doing_differently"),
    ]
    for dataset, table in LANDING_ROWS.items():
        targets += [(table, name, dataset, name) for name in free_text_fields(dataset) if name in table.c]
    targets += [(landing_quarantine, "value", "", ""), (landing_quarantine, "reason", "", "")]
    return targets


def sweep_known_names(conn: Connection, names: KnownNames) -> tuple[int, set[str]]:
    """Remove known names from every landed text; caller's transaction.

    Text is redacted as it is read, with the names known then. A name first read later (tonight's
    bookings, another partnership's) is removed here from everything landed before, one distinct
    value at a time (few values change: an update per changed value). Redaction counts grow by
    what was removed. Returns how many names were removed and the partnerships whose landed text
    changed (their staged slices are out of date).
    """
    removed, touched = 0, set()
    for table, column_name, dataset, field_name in _text_targets():
        column = table.c[column_name]
        distinct = [v for v in conn.execute(select(column).distinct()).scalars() if v]
        if not distinct:
            continue
        redacted, counts = redact_values(distinct, names, names_only=True)
        for old, new, found in zip(distinct, redacted, counts["name"]):
            if not found or new == old:
                continue
            weight = func.sum(table.c.rows) if table is landing_job_title else func.count()
            per_file = conn.execute(
                select(table.c.partnership_id, table.c.source_file, weight)
                .where(column == old)
                .group_by(table.c.partnership_id, table.c.source_file)
            ).all()
            conn.execute(update(table).where(column == old).values({column_name: new}))
            for partnership_id, source_file, rows in per_file:
                touched.add(partnership_id)
                removed += int(found) * int(rows or 0)
                if field_name:
                    conn.execute(
                        landing_redaction.insert().values(
                            partnership_id=partnership_id,
                            dataset=dataset,
                            source_file=source_file,
                            field_name=field_name,
                            kind="name",
                            redactions=int(found) * int(rows or 0),
                        )
                    )
    return removed, touched


def known_name_digests(conn: Connection) -> frozenset[str]:
    """Every known full name's digest, across partnerships (anyone may be named in any comment)."""
    return frozenset(conn.execute(select(landing_name.c.name_digest).distinct()).scalars())


def read_redactions(conn: Connection) -> pd.DataFrame:
    """Redaction counts per partnership, file, field and kind (for the data returns)."""
    return read_frame(
        conn,
        select(landing_redaction).order_by(
            landing_redaction.c.partnership_id,
            landing_redaction.c.source_file,
            landing_redaction.c.field_name,
            landing_redaction.c.kind,
        ),
    )


def _delete_files(conn: Connection, table: Table, names: list[str], chunk: int = 500) -> None:
    for start in range(0, len(names), chunk):
        conn.execute(delete(table).where(table.c.source_file.in_(names[start : start + chunk])))


def _concat(frames: list[pd.DataFrame | None]) -> pd.DataFrame:
    frames = [f for f in frames if f is not None and len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def split_free_text(
    rows: pd.DataFrame, dataset: str, classify_professions, key_digest
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Rows without free text, the job titles counted per file, the comments (both unlinked)."""
    out = rows.copy()
    titles = pd.DataFrame(columns=[c.name for c in landing_job_title.columns])
    comments = pd.DataFrame(columns=[c.name for c in landing_comment.columns])
    if "job_title" in out:
        text = as_text(out["job_title"]).str.strip()
        professions = classify_professions(text)
        out["profession"] = professions.where(text != "", "unclassified" if dataset == "bookings" else "").to_numpy()
        if dataset == "bookings" and len(out):
            titled = out.assign(job_title=text)[text != ""]
            titles = (
                titled.groupby(["partnership_id", "source_file", "job_title", "profession"])
                .size()
                .rename("rows")
                .reset_index()
            )
    if "doing_differently" in out:
        text = as_text(out["doing_differently"]).str.strip()
        out["comment_digest"] = map_distinct(text, lambda t: key_digest("comment:" + t) if t else "").to_numpy()
        said = out[text != ""]
        comments = pd.DataFrame(
            {
                "partnership_id": said["partnership_id"].to_numpy(),
                "source_file": said["source_file"].to_numpy(),
                "submitted_month": pd.to_datetime(said["submitted_at"]).dt.strftime("%Y-%m").fillna("").to_numpy(),
                "comment": text[text != ""].to_numpy(),
            }
        )
    return out.drop(columns=[c for c in FREE_TEXT if c in out.columns]), titles, comments


def _ids(partnership_ids: str | Sequence[str]) -> list[str]:
    return [partnership_ids] if isinstance(partnership_ids, str) else list(partnership_ids)


def read_free_text(conn: Connection, partnership_ids: str | Sequence[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The landed job-title counts and comments of one or more partnerships."""
    ids = _ids(partnership_ids)
    titles = read_frame(conn, select(landing_job_title).where(landing_job_title.c.partnership_id.in_(ids)))
    comments = read_frame(conn, select(landing_comment).where(landing_comment.c.partnership_id.in_(ids)))
    return titles, comments


def _storable(rows: pd.DataFrame, dataset: str) -> pd.DataFrame:
    out = rows.copy()
    if "start_time" in out:
        out["start_time"] = out["start_time"].map(lambda t: t.strftime("%H:%M:%S") if isinstance(t, dt.time) else "")
    return out


def _read_rows(conn: Connection, statement) -> tuple[pd.DataFrame, bool]:
    """A SELECT's rows, and whether their text columns are objects with '' for NULL already."""
    if conn.dialect.name == "duckdb":
        return _read_untyped(conn, statement), True
    return read_frame(conn, statement), False


def _read_untyped(conn: Connection, statement) -> pd.DataFrame:
    """A SELECT's rows from DuckDB as `read_frame` gives them, but text as plain objects.

    `read_frame`'s `.df()` turns every text column into pandas' string dtype, which `read_landed`
    then turns back into objects with '' for NULL: two conversions of every landed string.
    DuckDB's NumPy arrays hand the strings over as objects once; their NULLs (masked) become ''
    for text (the only object columns of the landing tables), <NA> for integers and NaT for
    timestamps, and `read_landed` types the other columns as it does for any database.
    """
    sql = str(statement.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    arrays = conn.connection.driver_connection.execute(sql).fetchnumpy()
    return pd.DataFrame({name: _unmasked(values) for name, values in arrays.items()})


def _unmasked(values: np.ndarray) -> pd.Series | np.ndarray:
    """One column of `fetchnumpy` with its NULLs as pandas' missing values, strings as objects."""
    if not np.ma.isMaskedArray(values):
        return pd.Series(values, dtype=object) if values.dtype == object else values
    data, missing = np.ma.getdata(values).copy(), np.ma.getmaskarray(values)
    if values.dtype == object:  # only text columns: a NULL is '', as `read_landed` makes it
        data[missing] = ""
        return pd.Series(data, dtype=object)
    if values.dtype.kind == "M":
        data[missing] = np.datetime64("NaT")
        return data
    if values.dtype.kind in "iu":
        return pd.arrays.IntegerArray(data, missing.copy())
    return pd.Series(np.where(missing, None, data.astype(object)), dtype=object)  # no such column today


def _time_of_day(text) -> dt.time | None:
    return dt.time.fromisoformat(text) if isinstance(text, str) and text else None


def _times_of_day(texts: pd.Series) -> pd.Series:
    """Landed HH:MM:SS texts as times (None if blank), parsed once per distinct text."""
    codes, distinct = pd.factorize(texts.to_numpy(dtype=object))  # missing values get -1: None
    times = np.array([_time_of_day(t) for t in distinct] + [None], dtype=object)
    return pd.Series(times[codes], index=texts.index, dtype=object)


def read_landed(
    conn: Connection, dataset: str, partnership_ids: str | Sequence[str]
) -> tuple[pd.DataFrame, pd.DataFrame, list[FileLedger]]:
    """The landed rows, quarantine records and file ledger of one dataset, for one or more partnerships."""
    ids = _ids(partnership_ids)
    table = LANDING_ROWS[dataset]
    statement = (
        select(table)
        .where(table.c.partnership_id.in_(ids))
        .order_by(table.c.partnership_id, table.c.source_file, table.c.source_row)
    )
    rows, text_ready = _read_rows(conn, statement)
    kinds = FIELD_KINDS[dataset]
    for name in rows.columns:
        kind = kinds.get(name)
        column_type = COLUMN_TYPE_OF_KIND.get(kind)
        if column_type is DateTime:
            rows[name] = pd.to_datetime(rows[name]).astype("datetime64[us]")
        elif column_type is Integer:  # a rating
            rows[name] = pd.array(rows[name], dtype="Int64")
        elif kind == "time":
            rows[name] = _times_of_day(rows[name])
        elif name in ("source_row", "record_rank"):
            rows[name] = rows[name].astype(int)
        elif not (text_ready and rows[name].dtype == object):
            rows[name] = rows[name].astype(object).where(rows[name].notna(), "")
    quarantine = read_frame(
        conn,
        select(landing_quarantine).where(
            landing_quarantine.c.partnership_id.in_(ids), landing_quarantine.c.dataset == dataset
        ),
    )[list(QUARANTINE_COLUMNS)]
    ledger_rows = (
        conn.execute(
            select(landing_file)
            .where(landing_file.c.partnership_id.in_(ids), landing_file.c.dataset == dataset)
            .order_by(landing_file.c.partnership_id, landing_file.c.source_file)
        )
        .mappings()
        .all()
    )
    files = [FileLedger(**{k: v for k, v in r.items() if k != "fingerprint"}) for r in ledger_rows]
    return rows, quarantine, files


def landed_rows_by_partnership(conn: Connection, partnership_ids: Sequence[str]) -> dict[str, int]:
    """Rows read per partnership, from the landing ledger: how much staging each one means."""
    rows = conn.execute(
        select(landing_file.c.partnership_id, func.sum(landing_file.c.rows_read))
        .where(landing_file.c.partnership_id.in_(list(partnership_ids)))
        .group_by(landing_file.c.partnership_id)
    ).all()
    counts = {p: int(n or 0) for p, n in rows}
    return {p: counts.get(p, 0) for p in partnership_ids}


def partnership_fingerprint_rows(conn: Connection, partnership_id: str) -> list[tuple]:
    """What a partnership's staging depends on in the landing layer: each file, hash and fingerprint."""
    return [
        tuple(r)
        for r in conn.execute(
            select(
                landing_file.c.source_file,
                landing_file.c.content_hash,
                landing_file.c.duplicate_of,
                landing_file.c.fingerprint,
            )
            .where(landing_file.c.partnership_id == partnership_id)
            .order_by(landing_file.c.source_file)
        ).all()
    ]
