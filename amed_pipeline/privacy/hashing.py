"""Keyed hashes: the HMAC every pseudonym and erasure token is made with, and a key's public version.

Pseudonymisation (`staging.people`), the erasure list (`privacy.erasure`), the key guard and the
`rekey` command must agree on these to the byte, so they are defined once, here, below all of them.
"""

from __future__ import annotations

import hashlib
import hmac


def key_version(key: bytes) -> str:
    """A public fingerprint of the key (not the key): which key made a pseudonym."""
    return hashlib.sha256(b"amed-key-version:" + key).hexdigest()[:12]


def hmac_hex(key: bytes, text: str) -> str:
    """HMAC-SHA256 of the UTF-8 text, in hex.

    `hmac.digest` is the one-shot C implementation: the same bytes as `hmac.new(...).hexdigest()`
    without building an HMAC object per value (pseudonymisation calls this for every distinct
    email, name, record and comment).
    """
    return hmac.digest(key, text.encode("utf-8"), "sha256").hex()
