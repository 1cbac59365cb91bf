"""Text identity: the typography exports differ in, and the normalised email and name of a person.

On the ground floor because both sides of the privacy boundary need the same answer: the readers
(`reading`), pseudonymisation (`staging.people`), the erasure list and
name redaction (`privacy`). Imports nothing from `amed_pipeline`.
"""

from __future__ import annotations

import re
import unicodedata

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


def normalise_email(text: str) -> str:
    """Email identity: one person's address always gives the same text; '' when blank or a placeholder.

    The variants people and systems produce are folded: Unicode compatibility forms (NFKC:
    full-width letters), zero-width and other format characters, spaces, trailing dots on the
    domain (`x@y.org.`), and case (`X@Y.org`).
    """
    email = strip_format_characters(clean_text(text)).lower()
    if email in ("", "anonymous", "info requested", "n/a", "none"):
        return ""
    if "@" in email:
        local, _, domain = email.replace(" ", "").rpartition("@")
        email = f"{local}@{domain.rstrip('.')}"
    return email


def normalise_name(text: str) -> str:
    """Name identity: trimmed, single-spaced, case-folded; '' for Eventbrite's placeholder."""
    name = clean_text(text).casefold()
    return "" if name in ("info requested", "n/a", "-", "unknown") else name
