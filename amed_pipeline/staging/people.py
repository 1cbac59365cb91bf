"""Pseudonymise people at the raw-to-staged boundary, so names and emails go no further.

A person is `HMAC-SHA256(key, normalised email)`; without an email, `HMAC(key, partnership +
normalised first and last name)`. The key never enters the warehouse: only its version (a short
fingerprint) is stored beside each pseudonym, so rotating the key is detectable. A booking with
neither an email nor a usable name (Eventbrite's `Info Requested`) cannot be attributed to a
person and is quarantined with that reason. Each distinct email is hashed once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from amed_pipeline.lib.frames import as_text
from amed_pipeline.lib.text import normalise_email_column, normalise_name_column
from amed_pipeline.privacy.hashing import hmac_hex, key_version

PERSONAL_COLUMNS = ("email", "first_name", "last_name", "respondent_email", "respondent_name")
UNATTRIBUTABLE = (
    "booking has neither an email nor a usable name (e.g. 'Info Requested'): cannot be attributed to a person"
)


def _column(frame: pd.DataFrame, name: str, normalise) -> pd.Series:
    if name not in frame:
        return pd.Series("", index=frame.index, dtype=object)
    return normalise(as_text(frame[name]))


def identity_texts(frame: pd.DataFrame, partnership_id: str) -> pd.Series:
    """The text a person's pseudonym is made from ('' when nothing identifies them).

    A survey response may carry two addresses: the survey tool's record of the respondent
    (`respondent_email`; "anonymous", hence blank, on an anonymous form) and the optional
    "Email address" question (`email`). The tool's record wins where there is one. Without an
    email, the full name (`first_name` + `last_name`, or the tool's `respondent_name`).
    """
    emails = _column(frame, "respondent_email", normalise_email_column)
    emails = emails.where(emails != "", _column(frame, "email", normalise_email_column))
    first, last = (
        _column(frame, "first_name", normalise_name_column),
        _column(frame, "last_name", normalise_name_column),
    )
    full = (first + " " + last).where((first != "") & (last != ""), "")
    whole = _column(frame, "respondent_name", normalise_name_column)
    full = full.where(full != "", whole.where(whole.str.contains(" ", regex=False), ""))
    names = ("name:" + partnership_id + ":" + full).where(full != "", "")
    return ("email:" + emails).where(emails != "", names)


def every_identity_text(frame: pd.DataFrame, partnership_id: str) -> list[pd.Series]:
    """Each identity a row carries, not only the one its pseudonym is made from: erasure must
    find a response by either of its addresses, or by its name."""
    identities = [identity_texts(frame, partnership_id)]
    for column in ("respondent_email", "email"):
        emails = _column(frame, column, normalise_email_column)
        identities.append(("email:" + emails).where(emails != "", ""))
    return identities


def pseudonymise_series(texts: pd.Series, key: bytes) -> pd.Series:
    """HMAC each distinct non-blank text once; blank stays blank."""
    codes, distinct = pd.factorize(texts.to_numpy(dtype=object), use_na_sentinel=False)
    digests = np.array([hmac_hex(key, t) if t else "" for t in distinct], dtype=object)
    return pd.Series(digests[codes], index=texts.index, dtype=object)


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
