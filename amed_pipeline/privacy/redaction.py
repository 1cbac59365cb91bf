"""Contact details and known names out of every text the pipeline stores or shows.

Two jobs, one set of patterns:

* **Masking text that quotes input** (`mask_text`, `mask_series`): a quarantine value or reason,
  an exception message, a log line, check metadata, a data return. An email typed into a date
  column comes back in `not a recognised date: '…'`, so every such text goes through the same
  masking wherever it goes.
* **Redacting free text before it is stored** (`redact_column`): job titles, "what are you doing
  differently?", "where do you work?", session titles. People type their contact details into
  them ("Practice nurse (contact x@y)").

Removed: email addresses (also with zero-width or other format characters inside), UK phone
numbers (`07700 900123`, `+44 (0)20 7946 0958`, `(01865) 123456`), UK postcodes (`OX1 2AB`) and
the full names of people the pipeline knows from the bookings it reads (`KnownNames`). A name is
known as a keyed digest of its words (`name_digest`), never in clear, so the set can be kept in
the warehouse between runs; text is matched by hashing its runs of 2–6 words. What cannot be
removed: a stranger's name (someone in no booking), a first name or surname alone, a misspelt
name, contact details written in a way no pattern knows (`x at y dot org`). SECURITY.md says so.

Speed: exports repeat the same texts, so each distinct value is scanned once and the counts are
spread back over the rows with the value's codes (`pandas.factorize`), never per cell.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from amed_pipeline.lib.text import normalise_name_column
from amed_pipeline.privacy.hashing import hmac_hex

EMAIL_MARK = "[email removed]"
PHONE_MARK = "[phone removed]"
POSTCODE_MARK = "[postcode removed]"
NAME_MARK = "[name removed]"
KINDS = ("email", "phone", "postcode", "name")

# An address: local part (may hold an apostrophe: o'brien@…), '@', a domain with a dot. Format
# characters (zero-width space) are not `\s`, so `x\u200b@y.org` is one match.
EMAIL = re.compile(
    r"[^\s@<>()\[\]{},;:\"'`|/\\][^\s@<>()\[\]{},;:\"`|/\\]*@[^\s@<>()\[\]{},;:\"'`|/\\]+\.[^\s@<>()\[\]{},;:\"'`|/\\.]+\.?"
)
# UK numbers: +44 / 0044 / 0, then 9–10 more digits, spaces, hyphens or brackets between them.
PHONE = re.compile(r"(?<![\w+])(?:(?:\+|00)\s?44\s?(?:\(0\)\s?)?|\(?0)(?:[\s\-()]{0,2}\d){9,10}(?![\d])")
# UK postcode: outward code (A9, A99, A9A, AA9, AA99, AA9A), optional space, inward code (9AA).
POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s?\d[ABD-HJLNP-UW-Z]{2}\b", re.IGNORECASE)
# A word of a name: letters, with inner apostrophes or hyphens (O'Brien, Smith-Jones).
NAME_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
NAME_LENGTHS = (2, 3, 4, 5, 6)  # a full name is two to six words ("Mary Ann de la Cruz")

_PATTERNS = ((EMAIL, EMAIL_MARK, "email"), (PHONE, PHONE_MARK, "phone"), (POSTCODE, POSTCODE_MARK, "postcode"))


def name_words(*parts: str) -> str:
    """A name as its lower-case words joined by one space (`"O’Brien,  Zoë"` → `"o'brien zoë"`)."""
    text = " ".join(str(p) for p in parts)
    if _ASCII_WORDS.fullmatch(text):  # ASCII letters in single-spaced words: NFKC and findall keep them
        return text.lower()
    text = unicodedata.normalize("NFKC", text).casefold().replace("’", "'")
    return " ".join(NAME_WORD.findall(text))


_ASCII_WORDS = re.compile(r"[A-Za-z]+(?: [A-Za-z]+)*")


def name_digest(key: bytes, words: str) -> str:
    """The keyed digest a known name is kept as (HMAC-SHA256; never the name itself)."""
    return hmac_hex(key, "fullname:" + words)


@dataclass(frozen=True)
class KnownNames:
    """The full names the pipeline knows, as keyed digests; `key` makes digests of candidate text."""

    key: bytes = b""
    digests: frozenset[str] = field(default_factory=frozenset)

    def __bool__(self) -> bool:
        return bool(self.key and self.digests)

    def union(self, digests) -> "KnownNames":
        return KnownNames(self.key, self.digests | frozenset(digests))


def known_name_digests(key: bytes, first: pd.Series, last: pd.Series | None = None) -> set[str]:
    """Digests of the full names in `first` + `last` (or in `first` alone, a full-name column)."""
    texts = first.astype(str) if last is None else first.astype(str) + " " + last.astype(str)
    digests = set()
    for text in pd.unique(texts.to_numpy(dtype=object)):
        words = name_words(text)
        if len(words.split(" ")) in NAME_LENGTHS:
            digests.add(name_digest(key, words))
    return digests


def _redact_names(text: str, names: KnownNames, cache: dict[str, bool]) -> tuple[str, int]:
    """`text` with each run of 2–6 words whose digest is a known name replaced; and how many."""
    folded = unicodedata.normalize("NFKC", text).casefold().replace("’", "'")
    if len(folded) != len(text):  # NFKC changed the length: match on the text as written
        folded = text.casefold().replace("’", "'")
    words = [(m.start(), m.end(), m.group()) for m in NAME_WORD.finditer(folded)]
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(words):
        for size in sorted(NAME_LENGTHS, reverse=True):
            if i + size > len(words):
                continue
            candidate = " ".join(w for _, _, w in words[i : i + size])
            hit = cache.get(candidate)
            if hit is None:
                hit = cache[candidate] = name_digest(names.key, candidate) in names.digests
            if hit:
                spans.append((words[i][0], words[i + size - 1][1]))
                i += size
                break
        else:
            i += 1
    for start, end in reversed(spans):
        text = text[:start] + NAME_MARK + text[end:]
    return text, len(spans)


def mask_text(text: str, names: KnownNames | None = None) -> str:
    """Text quoting input, with emails, phone numbers, postcodes (and known names) masked."""
    if not text:
        return text
    text = str(text)
    for pattern, mark, _ in _PATTERNS:
        text = pattern.sub(mark, text)
    if names:
        text, _ = _redact_names(text, names, {})
    return text


def redact_values(
    values, names: KnownNames | None = None, names_only: bool = False
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Each distinct value redacted, and per kind how many things were removed from each
    (`names_only`: known names alone, for text already cleared of contact details)."""
    out = np.asarray(values, dtype=object).copy()
    counts = {kind: np.zeros(len(values), dtype=np.int64) for kind in KINDS}
    cache: dict[str, bool] = {}
    for position in np.flatnonzero(_candidates(out, bool(names), names_only)):
        value = out[position]
        text = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
        if text and any(c.isalnum() for c in text):
            for pattern, mark, kind in () if names_only else _PATTERNS:
                text, n = pattern.subn(mark, text)
                counts[kind][position] = n
            if names:
                text, counts["name"][position] = _redact_names(text, names, cache)
        out[position] = text if text or value is None else value
    return out, counts


# Cheap whole-column tests (Arrow regexes) for text that may hold something to remove: most
# values (plain ids, ratings, single words, labels) hold nothing, and skip the per-value scan.
_MAY_HOLD_CONTACT = r"@|[0+(]\s?\d|[A-Za-z]\d"
_MAY_HOLD_NAME = r"\pL\PL+\pL"  # two runs of letters (Unicode): a full name has at least two words
# The same test for ASCII text, whose letters are exactly A-Z and a-z. Arrow compiles a pattern on
# every call, and `\pL`'s Unicode tables take about a millisecond to compile: with a call per
# column of every source, that was most of the cost. Only non-ASCII values (few) still need them.
_MAY_HOLD_NAME_ASCII = r"[A-Za-z][^A-Za-z]+[A-Za-z]"


def _candidates(values: np.ndarray, names: bool, names_only: bool) -> np.ndarray:
    if pd.api.types.infer_dtype(values, skipna=False) == "string":  # all text (nearly always): as it is
        text = pd.Series(values, dtype="string[pyarrow]")
    else:
        text = pd.Series(values, dtype=object).where(pd.notna(values), "").astype(str).astype("string[pyarrow]")
    found = np.zeros(len(values), dtype=bool)
    if not names_only:
        found |= _contains(text, _MAY_HOLD_CONTACT)
    if names:
        found |= _may_hold_name(text)
    return found


def _contains(text: pd.Series, pattern: str) -> np.ndarray:
    return text.str.contains(pattern, regex=True).fillna(False).to_numpy(dtype=bool)


def _may_hold_name(text: pd.Series) -> np.ndarray:
    """`_MAY_HOLD_NAME` for each text: the ASCII pattern on ASCII text, the Unicode one on the rest."""
    found = _contains(text, _MAY_HOLD_NAME_ASCII)
    other = ~text.str.isascii().fillna(True).to_numpy(dtype=bool)
    if other.any():
        found[other] = _contains(text[other], _MAY_HOLD_NAME)
    return found


def redact_column(values: pd.Series, names: KnownNames | None = None) -> tuple[pd.Series, dict[str, np.ndarray]]:
    """A text column with contact details and known names removed, and per-row counts per kind."""
    codes, distinct = pd.factorize(values.to_numpy(dtype=object), use_na_sentinel=False)
    redacted, counts = redact_values(np.asarray(distinct, dtype=object), names)
    return (
        pd.Series(redacted[codes], index=values.index, dtype=object),
        {kind: n[codes] for kind, n in counts.items()},
    )


def mask_series(values: pd.Series, names: KnownNames | None = None) -> pd.Series:
    """`mask_text` over a column (quarantine values and reasons), each distinct value once."""
    text = values.astype(object).where(values.notna(), "").astype(str)
    redacted, _ = redact_column(text, names)
    return redacted


def name_digest_column(key: bytes, frame: pd.DataFrame) -> pd.Series:
    """Per row, the digest of the full name it carries ('' when none): `first_name` + `last_name`,
    else a survey tool's `respondent_name`."""

    def text(name: str) -> pd.Series:
        # Placeholders ("Info Requested", "n/a") are nobody's name.
        values = frame[name].astype(object).fillna("").astype(str)
        return values.where(normalise_name_column(values) != "", "")

    texts = pd.Series("", index=frame.index, dtype=object)
    if "first_name" in frame and "last_name" in frame:
        first, last = text("first_name"), text("last_name")
        texts = (first + " " + last).where((first != "") & (last != ""), "")
    if "respondent_name" in frame:
        texts = texts.where(texts != "", text("respondent_name"))
    codes, distinct = pd.factorize(texts.to_numpy(dtype=object))
    digests = np.array(
        [name_digest(key, words) if len((words := name_words(t)).split(" ")) in NAME_LENGTHS else "" for t in distinct],
        dtype=object,
    )
    return pd.Series(digests[codes] if len(codes) else np.array([], dtype=object), index=frame.index, dtype=object)


def redact_free_text(
    rows: pd.DataFrame, fields: list[str], names: KnownNames | None, group_by: str = "source_file"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`rows` with `fields` redacted, and the number of things removed per `group_by`, field and kind.

    The counts (never the values) go into the data return, so a partnership can see that its
    exports carry contact details in free text.
    """
    out = rows.copy()
    counts = []
    for name in fields:
        if name not in out:
            continue
        redacted, per_kind = redact_column(out[name], names)
        out[name] = redacted.to_numpy()
        for kind, numbers in per_kind.items():
            if numbers.any():
                grouped = pd.Series(numbers, index=out.index).groupby(out[group_by].to_numpy()).sum()
                counts += [(g, name, kind, int(n)) for g, n in grouped.items() if n]
    return out, pd.DataFrame(counts, columns=[group_by, "field_name", "kind", "redactions"])
