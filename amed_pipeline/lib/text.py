"""Text identity: the typography exports differ in, and the normalised email and name of a person.

On the ground floor because both sides of the privacy boundary need the same answer: the readers
(`reading`), pseudonymisation (`staging.people`), the erasure list and
name redaction (`privacy`). Imports nothing from `amed_pipeline` but `lib.frames`.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd

from amed_pipeline.lib.frames import map_distinct

_QUOTES = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201b": "'", "\u2032": "'", "\u201c": '"', "\u201d": '"', "\u00a0": " "}
)
_HTML_ENTITIES = {"&apos;": "'", "&#39;": "'", "&quot;": '"', "&amp;": "&", "&lt;": "<", "&gt;": ">"}
_WHITESPACE = re.compile(r"\s+")


def clean_text(text: str) -> str:
    """Fold the typography that differs between exports of the same words; keep the case."""
    text = unicodedata.normalize("NFKC", str(text)).replace("\ufeff", "").translate(_QUOTES)
    for entity, char in _HTML_ENTITIES.items():
        text = text.replace(entity, char)
    return _WHITESPACE.sub(" ", text).strip()


def strip_format_characters(text: str) -> str:
    """Without zero-width and other invisible format characters (Unicode category Cf)."""
    if text.isascii():
        return text
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")


# What people and systems write where they have no email or name: nobody's identity.
EMAIL_PLACEHOLDERS = ("", "anonymous", "info requested", "n/a", "none")
NAME_PLACEHOLDERS = ("info requested", "n/a", "-", "unknown")


def normalise_email(text: str) -> str:
    """Email identity: one person's address always gives the same text; '' when blank or a placeholder.

    The variants people and systems produce are folded: Unicode compatibility forms (NFKC:
    full-width letters), zero-width and other format characters, spaces, trailing dots on the
    domain (`x@y.org.`), and case (`X@Y.org`).
    """
    email = strip_format_characters(clean_text(text)).lower()
    if email in EMAIL_PLACEHOLDERS:
        return ""
    if "@" in email:
        local, _, domain = email.replace(" ", "").rpartition("@")
        email = f"{local}@{domain.rstrip('.')}"
    return email


def normalise_name(text: str) -> str:
    """Name identity: trimmed, single-spaced, case-folded; '' for Eventbrite's placeholder."""
    name = clean_text(text).casefold()
    return "" if name in NAME_PLACEHOLDERS else name


# Column versions. A column of emails or names has many distinct values (one per person), and the
# per-value functions above cost a few microseconds each. Nearly all values are plain printable
# ASCII, which `clean_text` leaves unchanged: for them, the identity is their lower case (ASCII
# `casefold` is `lower`), computed for the whole column at once in Arrow. Every other value still
# goes through the per-value function. The tests assert both give the same text for every value.

# Printable ASCII without '&' (HTML entities) or spaces, not ending with '.' (the last class
# leaves out '&' and '.'; its '-' is the literal): there is no space to remove, and no trailing
# dot on a domain (`normalise_email` strips those).
_PLAIN_ADDRESS = r"[!-%'-~]*[!-%'-,/-~-]"
# Printable ASCII without '&', words separated by single spaces, nothing at the ends.
_PLAIN_WORDS = r"[!-%'-~]+(?: [!-%'-~]+)*"


def _lower_where_plain(pattern: str, placeholders: tuple[str, ...]):
    """A fast path for `map_distinct`: values matching `pattern` give their lower case, or '' for
    a placeholder."""

    def fast(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if pd.api.types.infer_dtype(values, skipna=False) == "string":  # one pass in C: all text
            text = np.ones(len(values), dtype=bool)
        else:
            text = np.array([isinstance(v, str) for v in values], dtype=bool)
            values = np.where(text, values, None)
        strings = pd.Series(values, dtype="string[pyarrow]")
        handled = strings.str.fullmatch(pattern).fillna(False).to_numpy(dtype=bool) & text
        lower = strings.str.lower()
        out = np.array(lower.astype(object), dtype=object)
        out[lower.isin(placeholders).fillna(False).to_numpy(dtype=bool)] = ""
        return handled, out

    return fast


def normalise_email_column(values: pd.Series) -> pd.Series:
    """`normalise_email` of every value (with the series' index), each distinct value once."""
    return map_distinct(values, normalise_email, fast=_lower_where_plain(_PLAIN_ADDRESS, EMAIL_PLACEHOLDERS))


def normalise_name_column(values: pd.Series) -> pd.Series:
    """`normalise_name` of every value (with the series' index), each distinct value once."""
    return map_distinct(values, normalise_name, fast=_lower_where_plain(_PLAIN_WORDS, NAME_PLACEHOLDERS))
