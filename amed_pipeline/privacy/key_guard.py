"""Refuse a pseudonym key that changed (or went missing) without `rekey`.

Every pseudonym in the warehouse carries the `key_version` of the key that made it. A refresh
under another key would silently give everyone new pseudonyms beside the old ones (people counted
twice, erasures that no longer match), and a lost key file would be silently replaced by a newly
generated one. So before anything is pseudonymised, the key about to be used is compared with the
versions the warehouse holds: a different key, or no key at all while the warehouse holds
pseudonyms, is refused with one line that says what to do. `rekey` (which means it) bypasses the
guard with the run tag `REKEY_TAG`.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import Connection

from amed_pipeline import settings
from amed_pipeline.errors import OperatorError
from amed_pipeline.privacy.hashing import key_version

REKEY_TAG = "amed/rekey"
FIX = (
    "restore the key the warehouse was built with (AMED_PSEUDONYM_KEY, or the key file), or run "
    "`python -m amed_pipeline rekey` to re-pseudonymise everyone under the new key on purpose"
)


class PseudonymKeyError(OperatorError):
    """The pseudonym key is missing or differs from the one the warehouse's pseudonyms were made with."""


def _tables_with_key_version(conn: Connection) -> list[str]:
    query = sa.text(
        "SELECT DISTINCT c.table_name FROM information_schema.columns c "
        "JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
        "WHERE c.column_name = 'key_version' AND c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'"
    )
    return sorted(row[0] for row in conn.execute(query))


def other_key_version(conn: Connection, version: str | None) -> str | None:
    """A key version the warehouse holds other than `version` (any, when None); None if there is none.

    Stops at the first such row of each table, so a warehouse under one key costs one scan of the column."""
    for name in _tables_with_key_version(conn):
        column = sa.column("key_version")
        query = sa.select(column).select_from(sa.table(name, column)).where(column.is_not(None), column != "")
        if version is not None:
            query = query.where(column != version)
        found = conn.execute(query.limit(1)).scalar()
        if found:
            return str(found)
    return None


def check_pseudonym_key(conn: Connection, key: bytes | None, key_file: str = "") -> None:
    """Raise PseudonymKeyError when the warehouse's pseudonyms were made with another key (or `key` is None
    while the warehouse holds pseudonyms)."""
    if key is None:
        held = other_key_version(conn, None)
        if held:
            where = key_file or str(settings.default_key_file())
            raise PseudonymKeyError(
                f"pseudonym key missing: the warehouse holds pseudonyms of key version {held}, but "
                f"{settings.PSEUDONYM_KEY_VAR} is not set and {where} does not exist; {FIX}"
            )
        return
    version = key_version(key)
    held = other_key_version(conn, version)
    if held:
        raise PseudonymKeyError(
            f"pseudonym key changed: the warehouse holds pseudonyms of key version {held}, the key now is "
            f"version {version}; {FIX}"
        )
