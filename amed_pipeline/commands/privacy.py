"""The privacy commands: `python -m amed_pipeline forget` and `python -m amed_pipeline rekey`.

`forget` handles an erasure request for one person: it adds them to the erasure list (so no
later run loads them, while their raw rows still exist), deletes their rows from every warehouse
table that has a `person_key`, and appends a row to `erasure_log` (date and counts, never who).
Its output never repeats the email or name it was given; `--email -` reads the address from
standard input so it stays out of shell history and the process list.

`rekey` rotates the pseudonyms: with a new key in `AMED_PSEUDONYM_KEY` (or `--generate-key` to
replace the generated key file), it runs the refresh, which rebuilds every warehouse table from
the raw files under the new key, then checks that no table still holds an old key version. The
erasure list has its own key (`privacy.erasure`), so it stays valid across a re-key.

Both read the `AMED_*` variables when called, like `refresh`.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import sys
from pathlib import Path
from typing import Callable, Optional

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from amed_pipeline import settings
from amed_pipeline.config.partnerships import ID_PATTERN
from amed_pipeline.privacy.erasure import (
    ErasureListError,
    add_identity,
    email_identity,
    name_identity,
    read_entries,
    read_or_create_key,
)
from amed_pipeline.privacy.hashing import hmac_hex, key_version
from amed_pipeline.warehouse.erasure import delete_person_rows, record_erasure, tables_with_column
from amed_pipeline.warehouse.resource import WarehouseResource, redact_url

Echo = Callable[[str], None]


def _echo(text: str) -> None:
    print(text)


def warehouse_url() -> str:
    return settings.warehouse_url()


def warehouse_exists(url: str) -> bool:
    parsed = make_url(url)
    if parsed.get_backend_name() == "duckdb":
        return bool(parsed.database) and parsed.database != ":memory:" and Path(parsed.database).is_file()
    return True


def current_pseudonym_key() -> Optional[bytes]:
    """The pseudonym key the next run will use (as `PseudonymKeyResource` reads it); None if none yet."""
    explicit = settings.pseudonym_key()
    if explicit:
        return explicit.encode("utf-8")
    path = settings.default_key_file()
    return path.read_text(encoding="utf-8").strip().encode("utf-8") if path.is_file() else None


def identity_from_arguments(email: Optional[str], name: Optional[list[str]], partnership: Optional[str]) -> str:
    """The identity text to forget; ValueError (without echoing the input) when unusable."""
    if email is not None:
        if email == "-":
            email = sys.stdin.readline()
        return email_identity(email)
    if not name or len(name) != 2:
        raise ValueError("give --email ADDRESS, or --name FIRST LAST with --partnership ID")
    if not partnership or not ID_PATTERN.match(partnership):
        raise ValueError("--name needs --partnership with the partnership id ([a-z0-9_]+)")
    return name_identity(partnership, name[0], name[1])


def forget(identity: str, today: Optional[dt.date] = None, echo: Echo = _echo) -> int:
    today = today or dt.date.today()
    list_path = settings.erasure_list_file()
    # A key is generated only for a new list: a list whose key went missing must get it back,
    # not a new one (which would match none of its entries).
    erasure_key = read_or_create_key(
        settings.erasure_key(),
        settings.erasure_key_file(list_path),
        create=not read_entries(list_path),
    )
    try:
        added = add_identity(list_path, erasure_key, identity, today)
    except ErasureListError as exc:
        echo(f"forget: {exc}")
        return 2
    entries = len(read_entries(list_path))
    echo(
        f"forget: {'added the person to' if added else 'the person was already on'} the erasure list "
        f"{list_path} ({entries} {'entry' if entries == 1 else 'entries'}); no run will load their rows again"
    )
    url = warehouse_url()
    pseudonym_key = current_pseudonym_key()
    if pseudonym_key is None or not warehouse_exists(url):
        echo(f"forget: no warehouse or pseudonym key yet ({redact_url(url)}): nothing to delete")
        return 0
    with WarehouseResource(url=url).begin() as conn:
        deleted = delete_person_rows(conn, [hmac_hex(pseudonym_key, identity)])
        record_erasure(conn, today, deleted, entries)
    shown = ", ".join(f"{table}: {count}" for table, count in deleted.items()) or "no rows held"
    echo(
        f"forget: deleted {sum(deleted.values())} rows from the warehouse ({shown}); "
        "recorded in erasure_log (date and counts, not who)"
    )
    echo(
        "forget: metric tables, free-text comments (which have no link to anyone) and Dagster's stored "
        "intermediate results still reflect them until the next refresh: run `python -m amed_pipeline refresh`"
    )
    return 0


def warehouse_key_versions(url: str) -> set[str]:
    """Every pseudonym key version found in the warehouse (empty when there is none)."""
    if not warehouse_exists(url):
        return set()
    versions: set[str] = set()
    with WarehouseResource(url=url).connect() as conn:
        for name in tables_with_column(conn, "key_version"):
            column = sa.column("key_version")
            rows = conn.execute(sa.select(column).distinct().select_from(sa.table(name, column)))
            versions |= {row[0] for row in rows if row[0]}
    return versions


def replace_key_file(path: Path) -> bytes:
    """A new random pseudonym key in `path` (owner-only), replacing the old one atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    generated = secrets.token_hex(32)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.new")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(generated + "\n")
    os.replace(temporary, path)
    return generated.encode("utf-8")


def rekey(run_refresh: Callable[[], int], generate_key: bool = False, echo: Echo = _echo) -> int:
    url = warehouse_url()
    before = warehouse_key_versions(url)
    if generate_key:
        if settings.pseudonym_key():
            echo(f"rekey: {settings.PSEUDONYM_KEY_VAR} is set: put the new key there instead of --generate-key")
            return 2
        key = replace_key_file(settings.default_key_file())
        echo(
            f"rekey: new pseudonym key (version {key_version(key)}) in {settings.default_key_file()}; the old key is gone"
        )
    echo(
        f"rekey: warehouse pseudonym key version(s) before: {', '.join(sorted(before)) or 'none'}; rebuilding from the raw files"
    )
    code = run_refresh()
    if code != 0:
        echo(
            "rekey: the refresh failed: the warehouse may still hold old pseudonyms; fix the failure and run rekey again"
        )
        return code
    key = current_pseudonym_key()
    after = warehouse_key_versions(url)
    stale = after - {key_version(key)} if key else after
    if stale:
        echo(f"rekey: FAILED: the warehouse still holds key version(s) {', '.join(sorted(stale))}")
        return 1
    entries = len(read_entries(settings.erasure_list_file()))
    echo(f"rekey: done: the warehouse uses key version {', '.join(sorted(after)) or 'none'} only")
    echo(f"rekey: erasure list unaffected ({entries} entries; it has its own key)")
    return 0
