"""The one converter from located text columns to typed values of the canonical fields.

The fields themselves (names, kinds, choices) are the ground-floor `amed_pipeline.vocabulary`.

Adapters only decide *which column* holds which canonical field (header knowledge). Everything
after that is shared: value mappings from the config, date/rating/choice conversion, and the
row-level errors that send a row to quarantine with its file, row, column and reason. Personal
fields (names, emails) are never echoed in an error: their offending value is masked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from amed_pipeline.lib.text import clean_text, normalise_email
from amed_pipeline.reading import values as V
from amed_pipeline.reading import vectorised
from amed_pipeline.vocabulary import DATASET_FIELDS, Field

MASK = "***"
PERSONAL_KINDS = ("personal", "email")  # never echoed in an error message
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
OTHERWISE = "*"  # in `options.values`, the canonical value for any other non-blank source value


# The standard questionnaire's wording; `options.questions` overrides any of these.
DEFAULT_QUESTIONS = {
    "feedback": {
        "usefulness": "How useful was today's session to your role?",
        "knowledge": "How important is it to have conversations about physical activity with the people you support?",
        "confidence": "How confident do you feel having conversations about physical activity?",
        "job_title": "What is your job title?",
        "setting": "Where do you work?",
        "email": "Email address (optional)",
    },
    "followup": {
        "usefulness": "How useful has the training been to your role?",
        "conversations": "Since the training, how often do you have conversations about physical activity?",
        "doing_differently": "What are you doing differently?",
        "setting": "Where do you work?",
        "job_title": "What is your job title?",
        "email": "Email address (optional)",
    },
}

DEFAULT_VALUES = {
    "conversations": {
        "Much more often": "much_more",
        "Slightly more often": "slightly_more",
        "About the same": "same",
        "Less often": "less",
    },
    "delivery_mode": {"Online": "online", "Virtual": "online", "In person": "in_person", "Face to face": "in_person"},
}


@dataclass
class RowError:
    """Why one row of one file cannot load."""

    source_row: int
    column: str
    value: str
    reason: str
    rule: str = "unparseable_value"


def convert_columns(
    rows: pd.DataFrame,
    located: dict[str, int],
    headers: list[str],
    dataset: str,
    value_maps: dict[str, dict[str, str]],
    default_values: dict[str, str],
    dayfirst: bool,
) -> tuple[pd.DataFrame, list[RowError]]:
    """Typed canonical columns from located text columns; the rows that fail are reported.

    `located` maps canonical field → column position in `rows`; `headers` names positions for
    error messages. Returns a frame with one column per canonical field of the dataset (absent
    fields are blank/NA) plus `source_row`, and the row errors (a row may have several).
    """
    columns = {"source_row": rows["source_row"].to_numpy()}
    errors: list[RowError] = []
    for field in DATASET_FIELDS[dataset]:
        if field.name in located:
            text = rows[located[field.name]]  # already text (`files.read_raw_table`)
            column = headers[located[field.name]]
        else:
            text = pd.Series([""] * len(rows), dtype=object)
            column = field.name
        if field.name in default_values:
            default = str(default_values[field.name])
            text = text.where(text.str.strip() != "", default)
        mapping = _normalised_mapping({**DEFAULT_VALUES.get(field.name, {}), **value_maps.get(field.name, {})})
        converted, field_errors = _convert_series(text, field, mapping, dayfirst)
        columns[field.name] = converted.to_numpy() if field.kind not in ("rating", "datetime", "date") else converted
        rule = "email_malformed" if field.kind == "email" else "unparseable_value"
        for position, (value, reason) in field_errors.items():
            shown = MASK if field.kind in PERSONAL_KINDS else value
            errors.append(RowError(int(columns["source_row"][position]), column, shown, reason, rule))
    return pd.DataFrame(columns), errors


def _normalised_mapping(mapping: dict) -> dict[str, str]:
    return {V.normalise_header(str(k)): ("" if v is None else str(v)) for k, v in mapping.items()}


# Below this many distinct values the per-value parsers are as fast as the column-wide paths.
FAST_PATH_MIN_DISTINCT = 64


def _convert_series(text: pd.Series, field: Field, mapping: dict[str, str], dayfirst: bool):
    """Convert each distinct value once (exports repeat the same dates and labels a lot).

    Distinct values with a plain shape are converted for the whole column at once
    (`vectorised`); the rest, errors included, by the per-value parser.
    """
    codes, distinct = pd.factorize(text.to_numpy(dtype=object))
    distinct = np.asarray(distinct, dtype=object)
    converter = _converter(field, mapping, dayfirst)
    handled, converted = _fast_path(distinct, field, mapping, dayfirst)
    failures: dict[int, tuple[str, str]] = {}
    for position in np.flatnonzero(~handled):
        value = distinct[position]
        try:
            converted[position] = converter(value)
        except ValueError as exc:
            failures[position] = (value, str(exc))
            converted[position] = None
    failing = np.flatnonzero(np.isin(codes, list(failures))) if failures else []
    errors = {int(i): failures[codes[i]] for i in failing}
    if field.kind == "rating":
        series = pd.array(list(converted), dtype="Int64").take(codes)
    elif field.kind in ("datetime", "date"):
        series = pd.Series(_as_datetime64(converted)[codes])
    else:
        if field.kind != "time":
            converted[pd.isna(converted)] = ""
        series = pd.Series(converted[codes], dtype=object)
    return series, errors


def _fast_path(
    distinct: np.ndarray, field: Field, mapping: dict[str, str], dayfirst: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(handled mask, converted values as an object array) for the distinct values of one column."""
    nothing = np.zeros(len(distinct), dtype=bool)
    if len(distinct) < FAST_PATH_MIN_DISTINCT:
        return nothing, np.empty(len(distinct), dtype=object)
    otherwise = mapping.get(OTHERWISE)
    plain_mapping = {k: v for k, v in mapping.items() if k != OTHERWISE}
    if field.kind in ("datetime", "date"):
        handled, stamps = vectorised.timestamps(distinct, dayfirst)
        if field.kind == "date":
            stamps = stamps.astype("datetime64[D]")
        # Kept as datetime64 (NaT where not handled): the per-value parser's datetimes and Nones
        # are written into the same array, with no round trip through Python datetimes.
        return handled, stamps.astype("datetime64[us]")
    if field.kind == "identifier":
        handled, values = vectorised.identifiers(distinct, plain_mapping, otherwise)
    elif field.kind == "email":
        handled, values = vectorised.emails(distinct)
    elif field.kind == "personal":
        handled, values = vectorised.plain_text(distinct, {}, None)
    elif field.kind == "text":
        handled, values = vectorised.plain_text(distinct, plain_mapping, otherwise)
    else:
        return nothing, np.empty(len(distinct), dtype=object)
    converted = np.empty(len(distinct), dtype=object)
    converted[handled] = values[handled]
    return handled, converted


def _as_datetime64(values: np.ndarray) -> np.ndarray:
    """Python datetimes and None (or datetime64 values already) as a datetime64[us] array (None → NaT)."""
    if values.dtype.kind == "M":
        return values.astype("datetime64[us]", copy=False)
    return pd.to_datetime(pd.Series(values, dtype=object)).astype("datetime64[us]").to_numpy()


def _converter(field: Field, mapping: dict[str, str], dayfirst: bool):
    otherwise = mapping.get(OTHERWISE)

    def mapped(value: str) -> str:
        key = V.normalise_header(value)
        if key in mapping:
            return mapping[key]
        if otherwise is not None and key:
            return otherwise
        return clean_text(value)

    if field.kind == "identifier":
        return lambda value: V.parse_identifier(mapped(value))
    if field.kind == "datetime":
        return lambda value: V.parse_timestamp(value, dayfirst)
    if field.kind == "date":
        return lambda value: _date_only(V.parse_timestamp(value, dayfirst))
    if field.kind == "time":
        return V.parse_time_of_day
    if field.kind == "rating":
        return lambda value: V.parse_rating(mapped(value))
    if field.kind == "choice":

        def choice(value: str) -> str:
            result = mapped(value)
            if result and result not in field.choices:
                raise ValueError(f"{result!r} is not one of {', '.join(c for c in field.choices if c)}")
            return result

        return choice
    if field.kind == "personal":
        return clean_text
    if field.kind == "email":
        return _email
    return mapped


def _email(value: str) -> str:
    """The email as written; a non-blank one that is not an address is an error (placeholders pass)."""
    text = clean_text(value)
    normalised = normalise_email(text)
    if normalised and not EMAIL_PATTERN.match(normalised):
        raise ValueError("not a well-formed email address")
    return text


def _date_only(value):
    return None if value is None else value.replace(hour=0, minute=0, second=0)
