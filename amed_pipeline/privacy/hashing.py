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
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()
