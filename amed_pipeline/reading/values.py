"""Pure parsers for the cell values that every export format shares: headers, dates, ratings.

Each function takes text and either returns a typed value or raises `ValueError` with a short
reason that ends up in quarantine next to the file, row and column. Dates are never guessed per
cell: each source declares whether it writes days or months first, and a value that does not fit
that declaration is an error, not a silent swap.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from amed_pipeline.lib.text import clean_text

LONDON = ZoneInfo("Europe/London")
EXCEL_EPOCH = dt.datetime(1899, 12, 30)
# Excel serial days for 1954-10-01 .. 2119-01-01: anything else is not a plausible export date.
EXCEL_SERIAL_RANGE = (20_000, 80_000)

# JISC numbering: `3. `, `13.1. `, `14.1.a. `, `9.a.i. `; always ends with a dot, so a header that
# merely starts with a number (`1.5 hours a week…`, `2020 vision…`) keeps its text.
_QUESTION_NUMBER = re.compile(r"^\s*\d+(?:\.(?:\d+|[a-z]{1,4}))*\.\s+(?=\S)", re.IGNORECASE)


def normalise_header(text: str) -> str:
    """Header text for matching: case, whitespace, curly quotes, BOM and entities folded."""
    return clean_text(text).casefold()


def strip_question_number(header: str) -> str:
    """'3. How useful…' or '14.1.a. Write…' (JISC numbering) → the question text alone."""
    return _QUESTION_NUMBER.sub("", header, count=1)


# --- dates -----------------------------------------------------------------------------------

_ISO = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$"
)
_YMD_SLASH = re.compile(
    r"^(\d{4})/(\d{1,2})/(\d{1,2})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?)?\s*(?:(?:GMT|UTC)\s*([+-]\d{1,2}(?::?\d{2})?)?)?$"
)
_DMY_OR_MDY = re.compile(
    r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{2}|\d{4})"  # day/month/year or month/day/year
    r"(?:[ T,]+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?)?"  # optional time, optional am/pm
    r"\s*(?:(?:GMT|UTC)\s*([+-]\d{1,2}(?::?\d{2})?)?)?$"  # optional GMT/UTC offset
)
_SERIAL = re.compile(r"^\d{5}(?:\.\d+)?$")


def parse_timestamp(text: str, dayfirst: bool) -> dt.datetime | None:
    """Parse a date or date-time as written by an export into naive Europe/London local time.

    Accepted: ISO (`2020-07-14 10:32:11+01:00`, offsets converted to London time), Google's
    download form (`2021/06/14 10:10:09 AM GMT+1`), slashed dates with optional time and AM/PM
    (`07/31/2023 04:21:36 PM`, `14/06/2021 10:10`, `7/14/20 10:32`), read day-first or
    month-first as the source declares, and Excel serial numbers (`44027.4375`).
    Blank → None. Anything else raises ValueError with the reason.
    """
    value = clean_text(text)
    if not value:
        return None
    if m := _ISO.match(value):
        year, month, day, hour, minute, second, offset = m.groups()
        local = _build(value, int(year), int(month), int(day), hour, minute, second, None)
        return _to_london(local, _offset_minutes(offset)) if offset else local
    if m := _YMD_SLASH.match(value):
        year, month, day, hour, minute, second, ampm, offset = m.groups()
        local = _build(value, int(year), int(month), int(day), hour, minute, second, ampm)
        return (
            _to_london(local, _offset_minutes(offset or "+0"))
            if "GMT" in value.upper() or "UTC" in value.upper()
            else local
        )
    if m := _DMY_OR_MDY.match(value):
        first, second_part, year, hour, minute, second, ampm, offset = m.groups()
        day, month = (first, second_part) if dayfirst else (second_part, first)
        year_number = int(year) + (2000 if len(year) == 2 else 0)
        try:
            local = _build(value, year_number, int(month), int(day), hour, minute, second, ampm)
        except ValueError as exc:
            order = "day-first (dd/mm/yyyy)" if dayfirst else "month-first (mm/dd/yyyy)"
            raise ValueError(f"{exc}; this source is declared {order}") from None
        return _to_london(local, _offset_minutes(offset)) if offset else local
    if _SERIAL.match(value):
        serial = float(value)
        if EXCEL_SERIAL_RANGE[0] <= serial <= EXCEL_SERIAL_RANGE[1]:
            return (EXCEL_EPOCH + dt.timedelta(days=serial)).replace(microsecond=0)
    raise ValueError(f"not a recognised date: {value!r}")


def _build(original, year, month, day, hour, minute, second, ampm) -> dt.datetime:
    hour_number = int(hour) if hour else 0
    if ampm:
        if not 1 <= hour_number <= 12:
            raise ValueError(f"hour {hour_number} with {ampm.upper()} in {original!r}")
        hour_number = hour_number % 12 + (12 if ampm.lower() == "pm" else 0)
    try:
        return dt.datetime(year, month, day, hour_number, int(minute or 0), int(second or 0))
    except ValueError as exc:
        raise ValueError(f"impossible date {original!r} ({exc})") from None


def _offset_minutes(offset: str) -> int:
    if offset in ("Z", ""):
        return 0
    sign = -1 if offset.startswith("-") else 1
    digits = offset[1:].replace(":", "")
    hours, minutes = (digits, "0") if len(digits) <= 2 else (digits[:-2], digits[-2:])
    return sign * (int(hours) * 60 + int(minutes))


def _to_london(local: dt.datetime, offset_minutes: int) -> dt.datetime:
    aware = local.replace(tzinfo=dt.timezone(dt.timedelta(minutes=offset_minutes)))
    return aware.astimezone(LONDON).replace(tzinfo=None)


def parse_time_of_day(text: str) -> dt.time | None:
    """`10:30`, `10.30`, `10:30:00`, `2pm`, `2:30 PM` → a time; blank → None."""
    value = clean_text(text).lower().replace(".", ":")
    if not value:
        return None
    m = re.match(r"^(\d{1,2})(?::(\d{2}))?(?::(\d{2}))?\s*(am|pm)?$", value)
    if not m:
        raise ValueError(f"not a time of day: {text!r}")
    hour, minute, second, ampm = m.groups()
    hour_number = int(hour)
    if ampm:
        hour_number = hour_number % 12 + (12 if ampm == "pm" else 0)
    try:
        return dt.time(hour_number, int(minute or 0), int(second or 0))
    except ValueError:
        raise ValueError(f"not a time of day: {text!r}") from None


# --- ratings and numbers ----------------------------------------------------------------------

_RATING = re.compile(r"^\s*(-?\d+(?:\.0+)?)\s*(?:$|[-–—:/(]|\s)")


def parse_rating(text: str, low: int = 0, high: int = 10) -> int | None:
    """A 0–10 rating as an integer: `8`, `8.0`, `10 - Extremely useful`, `0 (not at all)`.

    Blank → None (unanswered; never 0). Out of range or not a number → ValueError.
    """
    value = clean_text(text)
    if not value:
        return None
    m = _RATING.match(value)
    if not m:
        raise ValueError(f"not a rating from {low} to {high}: {value!r}")
    number = int(float(m.group(1)))
    if not low <= number <= high:
        raise ValueError(f"rating {number} is outside {low}–{high}")
    return number


_SCIENTIFIC = re.compile(r"^\d(?:\.\d+)?E\+\d+$", re.IGNORECASE)


def parse_identifier(text: str) -> str:
    """An export's id as text. Excel's `5.96E+08` has lost digits, so it is refused, not guessed."""
    value = clean_text(text)
    if _SCIENTIFIC.match(value):
        raise ValueError(f"id {value!r} was mangled by Excel into scientific notation; digits are lost")
    if re.fullmatch(r"\d+\.0", value):
        value = value[:-2]
    return value
