"""The erasure list: people who asked to be forgotten, so that no later run brings them back.

Why a list, and why outside the warehouse: the warehouse is rebuilt from the raw exports every
night, and those exports (the partnerships' own records, often cumulative) still hold a
forgotten person's rows. Deleting warehouse rows alone would last until the next run. So
`python -m amed_pipeline forget` (a) adds the person to this list and (b) deletes their rows
from the warehouse at once; from then on every raw-export asset drops listed people's rows at
load, before pseudonymisation, and accounts for each as a quarantine record with rule `erased`,
an empty column and value, and a fixed reason, so that rows read = loaded + quarantined +
duplicate still holds and nothing says who.

What the list stores: per person, `HMAC-SHA256(erasure key, identity)`, where identity is the
text a pseudonym is made from (`email:<normalised email>`, or `name:<partnership>:<first last>`),
a date and the erasure key's public version. Never the email or the name. The erasure key is
its own secret (`AMED_ERASURE_KEY`, else `erasure.key` generated beside the list, owner-only),
separate from the pseudonym key and never rotated with it: re-keying the pseudonyms
(`python -m amed_pipeline rekey`) leaves the list valid, and a list entry never equals a
warehouse pseudonym, so the list cannot be joined to the warehouse.

It fails closed: a list with entries whose key is missing or is a different key stops the
run with an error instead of loading the people it names. The `erasure_log` table records that
an erasure happened (date and counts), never who.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

import dagster as dg
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import Column, Connection, Date, Integer, Table

from amed_pipeline import settings
from amed_pipeline.reading.values import normalise_email, normalise_name
from amed_pipeline.staging.datasets import empty_quarantine, quarantine_rows
from amed_pipeline.staging.people import every_identity_text, hmac_hex, key_version
from amed_pipeline.warehouse.schema import metadata

ERASED_RULE = "erased"
ERASED_REASON = "left out on request: this person is on the erasure list (who is not recorded)"
PERSON_COLUMN = "person_key"
LIST_HEADER = (
    "# amed_pipeline erasure list: one person per line, `date<TAB>erasure key version<TAB>token`,\n"
    "# token = HMAC-SHA256(erasure key, identity). No emails or names. Keep with its key; see SECURITY.md.\n"
)

# One row per `forget`: when, and how much was removed. Deliberately no identity and no pseudonym.
# Not one of the tables the nightly load replaces: it is the record that erasures happened.
erasure_log = Table(
    "erasure_log",
    metadata,
    Column("erased_on", Date, nullable=False),
    Column("rows_deleted", Integer, nullable=False, autoincrement=False),
    Column("tables_affected", Integer, nullable=False, autoincrement=False),
    Column("list_entries", Integer, nullable=False, autoincrement=False),
)


class ErasureListError(RuntimeError):
    """The erasure list cannot be used safely (missing or different key, malformed line)."""


@dataclass(frozen=True)
class ErasureEntry:
    added: dt.date
    key_version: str
    token: str


# --- identities and tokens (pure) --------------------------------------------------------------


def email_identity(email: str) -> str:
    """The identity text of an email, exactly as `staging.people.identity_texts` makes it."""
    normalised = normalise_email(email)
    if "@" not in normalised:
        raise ValueError("not an email address")  # never echo the input: it may be personal data
    return "email:" + normalised


def name_identity(partnership_id: str, first_name: str, last_name: str) -> str:
    """The identity of someone known only by name within one partnership (e.g. a sign-in sheet)."""
    first, last = normalise_name(first_name), normalise_name(last_name)
    if not first or not last:
        raise ValueError("both a first and a last name are needed")
    return f"name:{partnership_id}:{first} {last}"


def erasure_token(key: bytes, identity: str) -> str:
    # A distinct prefix keeps tokens unlike pseudonyms even if someone reused the pseudonym key here.
    return hmac_hex(key, "amed-erasure:" + identity)


def drop_erased(
    rows: pd.DataFrame, tokens: frozenset[str], key: Optional[bytes], partnership_id: str, dataset: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows of people not on the list, and one identity-free quarantine record per row left out.

    Runs on the rows as read (before pseudonymisation), as it needs the same identity texts.
    """
    if not tokens or key is None or rows.empty:
        return rows, _erased_records(rows.iloc[0:0], dataset)
    erased = pd.Series(False, index=rows.index)
    for identities in every_identity_text(rows, partnership_id):
        listed = {text for text in pd.unique(identities.to_numpy()) if text and erasure_token(key, text) in tokens}
        erased |= identities.isin(listed)
    return rows[~erased].reset_index(drop=True), _erased_records(rows[erased], dataset)


def _erased_records(rows: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Identity-free quarantine records: file and row for the accounting, no column, no value."""
    if rows.empty:
        return empty_quarantine()
    return quarantine_rows(rows, dataset, ERASED_RULE, "", ERASED_REASON)


# --- the list file -----------------------------------------------------------------------------


def read_entries(path: Path) -> list[ErasureEntry]:
    """The list's entries ([] when the file does not exist). Errors name the line, never its text."""
    path = Path(path)
    if not path.is_file():
        return []
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split("\t")
        try:
            added, version, token = parts
            entries.append(ErasureEntry(dt.date.fromisoformat(added), version, token))
        except ValueError:
            raise ErasureListError(f"{path}: line {number} is not `date<TAB>key version<TAB>token`") from None
        if len(token) != 64 or any(c not in "0123456789abcdef" for c in token):
            raise ErasureListError(f"{path}: line {number}: the token is not a hex HMAC-SHA256")
    return entries


def write_entries(path: Path, entries: Iterable[ErasureEntry]) -> None:
    """Write the whole list atomically with owner-only permissions."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(LIST_HEADER)
        for entry in entries:
            handle.write(f"{entry.added.isoformat()}\t{entry.key_version}\t{entry.token}\n")
    os.replace(temporary, path)


def add_identity(path: Path, key: bytes, identity: str, today: dt.date) -> bool:
    """Add one person; False when they were already on the list."""
    entries = read_entries(path)
    check_key(path, entries, key)
    token = erasure_token(key, identity)
    if any(e.token == token for e in entries):
        return False
    write_entries(path, [*entries, ErasureEntry(today, key_version(key), token)])
    return True


def check_key(path: Path, entries: list[ErasureEntry], key: Optional[bytes]) -> None:
    """Refuse a list whose entries the key cannot match: loading would bring those people back."""
    if not entries:
        return
    if key is None:
        raise ErasureListError(
            f"{path} lists {len(entries)} erased people but its key is missing "
            f"({settings.ERASURE_KEY_VAR} unset and no {settings.erasure_key_file(Path(path))}): "
            "refusing to load rather than bring them back; restore the key (see SECURITY.md)"
        )
    version = key_version(key)
    foreign = {e.key_version for e in entries if e.key_version != version}
    if foreign:
        raise ErasureListError(
            f"{path}: entries were made with erasure key version(s) {', '.join(sorted(foreign))}, "
            f"but the key in use is version {version}: refusing to load rather than bring those people back"
        )


def erased_tokens(path: Path, key: Optional[bytes]) -> frozenset[str]:
    entries = read_entries(path)
    check_key(path, entries, key)
    return frozenset(e.token for e in entries)


def read_or_create_key(explicit: Optional[str], key_file: Path, create: bool) -> Optional[bytes]:
    """The erasure key: `explicit` (from the environment), else the key file, else a new one when asked."""
    if explicit:
        return explicit.encode("utf-8")
    key_file = Path(key_file)
    if key_file.is_file():
        return key_file.read_text(encoding="utf-8").strip().encode("utf-8")
    if not create:
        return None
    key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    generated = secrets.token_hex(32)
    descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(generated + "\n")
    return generated.encode("utf-8")


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


# --- the Dagster resource ----------------------------------------------------------------------


class ErasureListResource(dg.ConfigurableResource):
    """People left out at load (`python -m amed_pipeline forget`): the list file and its key.

    `path`, else `AMED_ERASURE_LIST` (default beside the pseudonym key file); the key: `key`, else
    `AMED_ERASURE_KEY`, else `erasure.key` beside the list; unset fields are read when a run uses
    them. No list: nobody is left out. A list whose key is missing or different fails the step
    (see module docstring).
    """

    path: Optional[str] = None
    key: Optional[str] = None

    def load(self) -> tuple[frozenset[str], Optional[bytes]]:
        """The listed tokens and the key; a `dg.Failure` without retries when the list is unusable
        (retrying cannot bring a key back)."""
        path = Path(self.path) if self.path else settings.erasure_list_file()
        key = read_or_create_key(self.key or settings.erasure_key(), settings.erasure_key_file(path), create=False)
        try:
            return erased_tokens(path, key), key
        except ErasureListError as exc:
            raise dg.Failure(description=str(exc), allow_retries=False) from exc


def build_erasure_list_resource() -> ErasureListResource:
    """The `resources.py` pattern: unset fields, read from the environment when a run uses them."""
    return ErasureListResource()
