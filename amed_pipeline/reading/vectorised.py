"""Whole-column fast paths for the common shapes of cell values.

`fields.convert_columns` converts each distinct value of a column once, with the per-value
parsers in `values`. Ids, emails, names and timestamps are nearly all distinct, so at scale that
is millions of Python calls. Most such values have a plain shape (ASCII, single spaces, an ISO
or slashed timestamp) for which the answer can be computed for the whole column at once. Each
function here returns a mask of the values it handled and their converted values; everything
else (odd typography, errors, unusual formats) still goes through the per-value parser, so the
error messages stay the same. The tests assert that on the values it handles, each fast path
gives exactly what the per-value parser gives.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from amed_pipeline.reading.values import LONDON

# Printable ASCII without '&' (HTML entities), words separated by single spaces, nothing at the
# ends: `values.clean_text` leaves such text unchanged.
_PLAIN = r"[!-%'-~]+(?: [!-%'-~]+)*"
_EMAIL = r"[!-%'-?A-~]+@[!-%'-?A-~]+\.[!-%'-?A-~]+"  # plain, no space, one '@' (EMAIL_PATTERN)
# Ids of letters, digits, '-' and '_' (`1145090210`, `cus_97b5b057`, `356806-356797-33838856`):
# `clean_text` leaves them unchanged, and without '.' or '+' they are neither Excel's scientific
# notation nor a float's `.0`, so `values.parse_identifier` keeps them as written.
_IDENTIFIER = r"[0-9A-Za-z_-]+"
# Timestamp shapes: ISO local time, ISO with a UTC offset, and slashed dates (day order per source).
_ISO_LOCAL = r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?: [0-9]{2}:[0-9]{2}(?::[0-9]{2})?)?"
_ISO_OFFSET = r"[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}[+-][0-9]{2}:[0-9]{2}"
# Slashed dates may have a 12-hour time with seconds (SurveyMonkey's `01/04/2021 08:19:16 AM`).
_SLASHED = r"[0-9]{2}/[0-9]{2}/[0-9]{4}(?: [0-9]{2}:[0-9]{2}(?::[0-9]{2}(?: [AP]M)?)?)?"


def _strings(values: np.ndarray) -> pd.Series:
    return pd.Series(values, dtype="string[pyarrow]")


def _matches(strings: pd.Series, pattern: str) -> np.ndarray:
    return strings.str.fullmatch(pattern).fillna(False).to_numpy(dtype=bool)


def plain_text(values: np.ndarray, mapping: dict[str, str], otherwise: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Text with the config's value mapping (keys are case-folded), like `fields._converter.mapped`."""
    strings = _strings(values)
    handled = _matches(strings, _PLAIN)
    out = values.copy()
    if mapping or otherwise is not None:
        keys = strings.str.lower()
        hits = (keys.isin(list(mapping)).fillna(False).to_numpy(dtype=bool)) & handled
        out[hits] = keys[hits].map(mapping).to_numpy(dtype=object)
        if otherwise is not None:
            out[handled & ~hits] = otherwise
    return handled, out


def identifiers(values: np.ndarray, mapping: dict[str, str], otherwise: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Plain ids (letters, digits, '-', '_') that are not remapped: kept as written
    (`values.parse_identifier`)."""
    strings = _strings(values)
    handled = _matches(strings, _IDENTIFIER)
    if otherwise is not None:
        handled[:] = False
    elif mapping:  # mapping keys are case-folded headers (`fields._normalised_mapping`)
        handled &= ~strings.str.lower().isin(list(mapping)).fillna(False).to_numpy(dtype=bool)
    return handled, values


def emails(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Well-formed plain addresses: kept as written (`fields._email`)."""
    return _matches(_strings(values), _EMAIL), values


def timestamps(values: np.ndarray, dayfirst: bool) -> tuple[np.ndarray, np.ndarray]:
    """ISO (with or without an offset) and dd/mm/yyyy or mm/dd/yyyy timestamps, as naive London time.

    Returns datetime64[us] values; impossible dates (31/02) are left to the per-value parser,
    which names them.
    """
    strings = _strings(values)
    out = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[us]")
    handled = np.zeros(len(values), dtype=bool)
    shapes = (
        (_ISO_LOCAL, lambda s: pd.to_datetime(s, format="ISO8601", errors="coerce")),
        (
            _ISO_OFFSET,
            lambda s: (
                pd.to_datetime(s, format="ISO8601", utc=True, errors="coerce")
                .dt.tz_convert(LONDON)
                .dt.tz_localize(None)
            ),
        ),
        (_SLASHED, lambda s: _parse_slashed(s, "%d/%m/%Y" if dayfirst else "%m/%d/%Y")),
    )
    for pattern, parse in shapes:
        mask = _matches(strings, pattern) & ~handled
        if not mask.any():
            continue
        parsed = parse(strings[mask]).astype("datetime64[us]").to_numpy()
        ok = ~np.isnat(parsed)
        positions = np.flatnonzero(mask)[ok]
        out[positions] = parsed[ok]
        handled[positions] = True
    return handled, out


def _parse_slashed(strings: pd.Series, date_format: str) -> pd.Series:
    """dd/mm/yyyy (or mm/dd/yyyy) with an optional hh:mm, hh:mm:ss or hh:mm:ss AM, each length
    its own format (`%I` takes 01–12 only, as `values.parse_timestamp` with AM/PM)."""
    result = pd.Series(pd.NaT, index=strings.index, dtype="datetime64[us]")
    lengths = strings.str.len()
    for length, time_format in ((10, ""), (16, " %H:%M"), (19, " %H:%M:%S"), (22, " %I:%M:%S %p")):
        subset = strings[lengths == length]
        if len(subset):
            result[subset.index] = pd.to_datetime(subset, format=date_format + time_format, errors="coerce")
    return result
