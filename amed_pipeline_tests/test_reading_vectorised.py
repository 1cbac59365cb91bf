"""The column-wide fast paths give exactly what the per-value parsers give, on every value they take.

Each column below mixes plain values (handled at once) with the awkward ones real exports carry
(curly quotes, double spaces, entities, impossible dates, Excel-mangled ids), and is long
enough for `convert_columns` to take its fast path.
"""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from amed_pipeline.reading import fields, vectorised
from amed_pipeline.reading.fields import FAST_PATH_MIN_DISTINCT, _convert_series, _converter
from amed_pipeline.vocabulary import Field

PADDING = FAST_PATH_MIN_DISTINCT  # distinct filler values so the fast path is taken

TIMESTAMPS = [
    "2020-06-08 08:46:57+01:00",
    "2020-12-08 08:46:57+00:00",
    "2021-03-28T01:30:00+00:00",
    "2020-07-14",
    "2020-07-14 10:32",
    "2020-07-14 10:32:11",
    "07/07/2020 12:06",
    "31/12/2020",
    "12/31/2020 23:59:59",
    "31/02/2021 10:00",
    "2021/06/14 10:10:09 AM GMT+1",
    " 07/07/2020 ",
    "7/7/20 9:05",
    "44027.4375",
    "not a date",
    "",
    "2020-13-01 10:00:00",
    "29/02/2020 00:00",
    "2020-10-25 01:30:00+01:00",
    "01/04/2021 08:19:16 AM",
    "01/04/2021 12:19:16 AM",
    "01/04/2021 12:19:16 PM",
    "13/04/2021 05:50:46 PM",
    "01/04/2021 00:19:16 AM",
    "01/04/2021 13:19:16 PM",
    "01/04/2021 08:19:16 am",
    "01/04/2021 08:19 PM",
]
EMAILS = [
    "Laura.Hughes@nhs.example",
    " thomas.edwards@nhs.example ",
    "a&b@x.org",
    "no-at-sign.example",
    "two@@x.org",
    "café@x.org",
    "Info Requested",
    "",
    "x@y",
    "first.last+tag@sub.domain.example",
    "o'neil@x.org",
]
TEXTS = [
    "Practice pharmacist",
    "Physio  therapist",
    "Nurse & Midwife",
    "Nurse &amp; Midwife",
    "Occupational\u2019s",
    " leading space",
    "GP",
    "gp",
    "In person",
    "Online",
    "Other thing",
    "\u00a0Nurse",
    "ONLINE",
]
IDS = [
    "1145090210",
    "5.96E+08",
    "5E+08",
    "127355854809.0",
    "00123",
    "abc-123",
    " 42 ",
    "7",
    "cus_97b5b057",
    "356806-356797-33838856",
    "Seven",
    "ＡＢ12",
    "a b",
    "a&amp;b",
]


def _padded(values, prefix):
    return pd.Series(list(values) + [f"{prefix}{i}" for i in range(PADDING)], dtype=object)


def _slow(text, field, mapping, dayfirst):
    """The per-value parser alone, as `convert_columns` behaved before the fast paths."""
    converter = _converter(field, mapping, dayfirst)
    out, errors = [], {}
    for i, value in enumerate(text):
        try:
            out.append(converter(value))
        except ValueError as exc:
            errors[i] = (value, str(exc))
            out.append(None)
    return out, errors


@pytest.mark.parametrize("dayfirst", [True, False])
@pytest.mark.parametrize("kind", ["datetime", "date"])
def test_timestamps_match_the_per_value_parser(kind, dayfirst):
    text = _padded(TIMESTAMPS, "2021-01-01 00:00:")  # fillers like 2021-01-01 00:00:5 are not ISO: slow path
    text = pd.concat(
        [text, pd.Series([f"2021-01-{d:02d} 10:{m:02d}:00" for d in range(1, 29) for m in range(3)])], ignore_index=True
    )
    fast, fast_errors = _convert_series(text, Field("x", kind), {}, dayfirst)
    slow, slow_errors = _slow(text, Field("x", kind), {}, dayfirst)
    expected = pd.Series(pd.to_datetime(pd.Series(slow, dtype=object)).astype("datetime64[us]"))
    pd.testing.assert_series_equal(fast, expected, check_names=False)
    assert fast_errors == slow_errors


@pytest.mark.parametrize(
    "field, values, mapping",
    [
        (Field("email", "email"), EMAILS, {}),
        (Field("first_name", "personal"), TEXTS, {}),
        (Field("job_title", "text"), TEXTS, {}),
        (Field("delivery_mode", "text"), TEXTS, {"online": "online", "in person": "in_person"}),
        (Field("delivery_mode", "text"), TEXTS, {"online": "online", fields.OTHERWISE: "other"}),
        (Field("attendee_ref", "identifier"), IDS, {}),
        (Field("attendee_ref", "identifier"), IDS, {"7": "seven"}),
        (Field("attendee_ref", "identifier"), IDS, {"SEVEN": "7", "Cus_97B5b057": "x"}),
        (Field("attendee_ref", "identifier"), IDS, {fields.OTHERWISE: "any"}),
    ],
)
def test_text_kinds_match_the_per_value_parser(field, values, mapping):
    normalised = fields._normalised_mapping(mapping)
    text = _padded(values * 3, "filler value ")
    fast, fast_errors = _convert_series(text, field, normalised, True)
    slow, slow_errors = _slow(text, field, normalised, True)
    assert list(fast) == ["" if v is None else v for v in slow]
    assert fast_errors == slow_errors


def test_the_fast_paths_take_plain_values_and_leave_the_rest():
    handled, _ = vectorised.emails(np.array(EMAILS, dtype=object))
    assert [e for e, h in zip(EMAILS, handled) if h] == [
        "Laura.Hughes@nhs.example",
        "first.last+tag@sub.domain.example",
        "o'neil@x.org",
    ]
    handled, out = vectorised.timestamps(
        np.array(["31/02/2021 10:00", "07/07/2020 12:06"], dtype=object), dayfirst=True
    )
    assert handled.tolist() == [False, True]
    assert out[1] == np.datetime64(dt.datetime(2020, 7, 7, 12, 6), "us")


def test_twelve_hour_times_and_lettered_ids_take_the_fast_path():
    handled, out = vectorised.timestamps(
        np.array(["01/04/2021 12:19:16 AM", "01/04/2021 12:19:16 PM", "01/04/2021 00:19:16 AM"], dtype=object),
        dayfirst=True,
    )
    assert handled.tolist() == [True, True, False]
    assert out[0] == np.datetime64(dt.datetime(2021, 4, 1, 0, 19, 16), "us")
    handled, _ = vectorised.identifiers(
        np.array(["cus_97b5b057", "5E+08", "SEVEN"], dtype=object), {"seven": "7"}, None
    )
    assert handled.tolist() == [True, False, False]
