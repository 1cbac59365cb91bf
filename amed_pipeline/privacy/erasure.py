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

This module is the list and its tokens only (pure: files and HMACs). Leaving listed people out as
files land is `landing.erasure`; deleting their warehouse rows is `warehouse.erasure`; the list as a
Dagster resource is `defs.erasure_list`; the command is `commands.privacy`.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

from amed_pipeline import settings
from amed_pipeline.lib.text import normalise_email, normalise_name
from amed_pipeline.privacy.hashing import hmac_hex, key_version

ERASED_RULE = "erased"
ERASED_REASON = "left out on request: this person is on the erasure list (who is not recorded)"
PERSON_COLUMN = "person_key"
LIST_HEADER = (
    "# amed_pipeline erasure list: one person per line, `date<TAB>erasure key version<TAB>token`,\n"
    "# token = HMAC-SHA256(erasure key, identity). No emails or names. Keep with its key; see SECURITY.md.\n"
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
