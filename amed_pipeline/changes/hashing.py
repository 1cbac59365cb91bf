"""The one hashing helper behind every fingerprint: what changed is decided by these digests.

Pure functions, no I/O but reading the file `digest_file` is given.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

FINGERPRINT_LENGTH = 16


def fingerprint_of(value) -> str:
    """A short stable hash of any JSON-able value (dict keys sorted; other objects by `str`)."""
    return digest_text(json.dumps(value, sort_keys=True, default=str))[:FINGERPRINT_LENGTH]


def digest_bytes(data: bytes) -> str:
    """The sha256 of some bytes, hex."""
    return hashlib.sha256(data).hexdigest()


def digest_text(text: str) -> str:
    """The sha256 of a text's UTF-8 bytes, hex."""
    return digest_bytes(text.encode("utf-8"))


def digest_lines(lines) -> str:
    """The sha256 of a set of lines, whatever their order (sorted, joined by newlines)."""
    return digest_text("\n".join(sorted(lines)))


def digest_file(path: Path) -> str:
    """The sha256 of a file's bytes, hex, read a block at a time (exports can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
