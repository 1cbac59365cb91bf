"""Pseudonymise people at the raw-to-staged boundary, so names and emails go no further.

A person is `HMAC-SHA256(key, normalised email)`; without an email, `HMAC(key, partnership +
normalised first and last name)`. The key never enters the warehouse: only its version (a short
fingerprint) is stored beside each pseudonym, so rotating the key is detectable. A booking with
neither an email nor a usable name (Eventbrite's `Info Requested`) cannot be attributed to a
person and is quarantined with that reason. Each distinct email is hashed once.
"""

from __future__ import annotations

import hashlib
import hmac

import pandas as pd

from amed_pipeline.lib.frames import as_text, map_distinct

from amed_pipeline.reading.values import normalise_email, normalise_name

PERSONAL_COLUMNS = ("email", "first_name", "last_name")
UNATTRIBUTABLE = "booking has neither an email nor a usable name (e.g. 'Info Requested'): cannot be attributed to a person"


def key_version(key: bytes) -> str:
    """A public fingerprint of the key (not the key): which key made a pseudonym."""
    return hashlib.sha256(b"amed-key-version:" + key).hexdigest()[:12]


def hmac_hex(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def identity_texts(frame: pd.DataFrame, partnership_id: str) -> pd.Series:
    """The text a person's pseudonym is made from ('' when nothing identifies them)."""
    emails = map_distinct(as_text(frame["email"]), normalise_email) if "email" in frame else pd.Series("", index=frame.index)
    if "first_name" in frame and "last_name" in frame:
        first = map_distinct(as_text(frame["first_name"]), normalise_name)
        last = map_distinct(as_text(frame["last_name"]), normalise_name)
        names = ("name:" + partnership_id + ":" + first + " " + last).where((first != "") & (last != ""), "")
    else:
        names = pd.Series("", index=frame.index)
    return ("email:" + emails).where(emails != "", names)


def pseudonymise_series(texts: pd.Series, key: bytes) -> pd.Series:
    """HMAC each distinct non-blank text once; blank stays blank."""
    lookup = {t: hmac_hex(key, t) for t in pd.unique(texts.to_numpy()) if t}
    return texts.map(lambda t: lookup.get(t, ""))


def attach_person_keys(frame: pd.DataFrame, key: bytes, partnership_id: str) -> pd.DataFrame:
    """Add `person_key` and `key_version`, key `record_ref`, and drop every personal column."""
    out = frame.copy()
    out["person_key"] = pseudonymise_series(identity_texts(frame, partnership_id), key).to_numpy()
    out["key_version"] = key_version(key)
    if "record_ref" in out:
        # A booking record's identity can be built from the order, email and name (Eventbrite's
        # 2024+ report): keyed like a pseudonym, equal records still match and nothing is readable.
        refs = as_text(out["record_ref"])
        out["record_ref"] = pseudonymise_series(("record:" + refs).where(refs != "", ""), key).to_numpy()
    return out.drop(columns=[c for c in PERSONAL_COLUMNS if c in out.columns])
