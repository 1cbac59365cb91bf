"""Pure value parsers of the reading layer (`amed_pipeline.reading.values`).

Scope: header normalisation (case, whitespace, curly quotes, BOM, NBSP, HTML entities), JISC
question numbering, every accepted timestamp form (ISO with offsets converted to Europe/London,
Google's `GMT+1` download form, day-first vs month-first slashed dates, Excel serials) and their
refusals, 0–10 ratings, and export identifiers. No files, no pandas: text in, value or
ValueError out.
"""

from __future__ import annotations

import datetime as dt

import pytest

from amed_pipeline.lib.text import clean_text, normalise_email, normalise_name
from amed_pipeline.reading.values import (
    normalise_header,
    parse_identifier,
    parse_rating,
    parse_time_of_day,
    parse_timestamp,
    strip_question_number,
)

# --- headers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Order #", "order #"),
        ("\ufeffOrder #", "order #"),  # UTF-8 BOM glued to the first header
        ("\ufeffRespondent ID", "respondent id"),
        ("  Attendee   Status ", "attendee status"),
        ("Job\u00a0Title", "job title"),  # NBSP from a copy-pasted question
        ("How useful was today’s session to your role?", "how useful was today's session to your role?"),
        ("‘Quoted’ and “double”", "'quoted' and \"double\""),
        ("What was yesterday&apos;s date?", "what was yesterday's date?"),  # SurveyMonkey xlsx
        ("Health &amp; wellbeing", "health & wellbeing"),
        ("Do you agree to be contacted by recruiters? ", "do you agree to be contacted by recruiters?"),
        (
            "How confident do you feel having\nconversations about physical activity?",
            "how confident do you feel having conversations about physical activity?",
        ),
        ("ＥＭＡＩＬ", "email"),  # NFKC folds full-width letters
        ("", ""),
    ],
)
def test_normalise_header(raw, expected):
    assert normalise_header(raw) == expected


def test_curly_and_straight_apostrophe_headers_are_the_same_header():
    assert normalise_header("Would you’d like more?") == normalise_header("would you'd like MORE?")


def test_clean_text_keeps_case():
    assert clean_text("  Chloé\u00a0O’Test ") == "Chloé O'Test"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("3. How useful was today's session?", "How useful was today's session?"),
        ("13.1. Red", "Red"),
        ("14.1.a. Write an R Package", "Write an R Package"),
        ("9.a.i. Number of people reached", "Number of people reached"),  # akvo-style JISC numbering
        ("6.a. If you selected Other, please specify:", "If you selected Other, please specify:"),
        ("How useful was today's session?", "How useful was today's session?"),
        # A question that merely starts with a number is not numbering.
        ("1.5 hours a week is enough?", "1.5 hours a week is enough?"),
        ("2020 vision for your service", "2020 vision for your service"),
    ],
)
def test_strip_question_number(header, expected):
    assert strip_question_number(header) == expected


# --- people ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Aisha.Example@Example.ORG ", "aisha.example@example.org"),
        ("anonymous", ""),  # MS Forms anonymous response
        ("Info Requested", ""),  # Eventbrite placeholder
        ("", ""),
    ],
)
def test_normalise_email(raw, expected):
    assert normalise_email(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [(" Chloé  O’Test", "chloé o'test"), ("Info Requested", ""), ("-", "")])
def test_normalise_name(raw, expected):
    assert normalise_name(raw) == expected


# --- timestamps ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "dayfirst", "expected"),
    [
        # ISO, offsets converted to London wall-clock time (BST in summer, GMT in winter).
        ("2020-07-14 10:32:11+01:00", True, dt.datetime(2020, 7, 14, 10, 32, 11)),
        ("2020-07-14T09:32:11Z", True, dt.datetime(2020, 7, 14, 10, 32, 11)),
        ("2020-07-14T09:32:11.250Z", False, dt.datetime(2020, 7, 14, 10, 32, 11)),
        ("2020-07-14 10:32:11-0400", True, dt.datetime(2020, 7, 14, 15, 32, 11)),
        ("2021-01-14 10:32:11+01:00", True, dt.datetime(2021, 1, 14, 9, 32, 11)),
        ("2021-01-14 10:32:11+00:00", True, dt.datetime(2021, 1, 14, 10, 32, 11)),
        ("2020-07-14 10:32:11", True, dt.datetime(2020, 7, 14, 10, 32, 11)),  # no offset: already local
        ("2020-07-14", False, dt.datetime(2020, 7, 14)),
        # Google Forms' own download.
        ("2021/06/14 10:10:09 AM GMT+1", True, dt.datetime(2021, 6, 14, 10, 10, 9)),
        ("2021/06/14 10:10:09 PM GMT+1", False, dt.datetime(2021, 6, 14, 22, 10, 9)),
        ("2021/01/05 3:04:05 PM GMT", True, dt.datetime(2021, 1, 5, 15, 4, 5)),
        ("2021/01/05 3:04:05 PM GMT+1", True, dt.datetime(2021, 1, 5, 14, 4, 5)),
        # SurveyMonkey: month first with AM/PM, even on UK accounts; day 31 > 12.
        ("07/31/2020 04:21:36 PM", False, dt.datetime(2020, 7, 31, 16, 21, 36)),
        ("08/01/2020 12:05:00 AM", False, dt.datetime(2020, 8, 1, 0, 5)),
        ("08/01/2020 12:05:00 PM", False, dt.datetime(2020, 8, 1, 12, 5)),
        # Excel re-save of an Eventbrite report: M/D/YY H:MM.
        ("7/14/20 10:32", False, dt.datetime(2020, 7, 14, 10, 32)),
        ("11/29/24 22:28", False, dt.datetime(2024, 11, 29, 22, 28)),
        # UK sheet locale / JISC: day first.
        ("14/06/2021 10:10:09", True, dt.datetime(2021, 6, 14, 10, 10, 9)),
        ("18/04/2018", True, dt.datetime(2018, 4, 18)),
        ("26/04/2018 00:00", True, dt.datetime(2018, 4, 26)),
        ("18.02.2021", True, dt.datetime(2021, 2, 18)),
        # The same ambiguous text, read as each source declares.
        ("03/02/2021", True, dt.datetime(2021, 2, 3)),
        ("03/02/2021", False, dt.datetime(2021, 3, 2)),
        # Excel serial numbers (xlsx read as text, Sheets API unformatted values).
        ("44027.4375", True, dt.datetime(2020, 7, 15, 10, 30)),
        ("46200.5", False, dt.datetime(2026, 6, 27, 12, 0)),
        ("44027", True, dt.datetime(2020, 7, 15)),
    ],
)
def test_parse_timestamp_accepted_forms(text, dayfirst, expected):
    assert parse_timestamp(text, dayfirst=dayfirst) == expected


@pytest.mark.parametrize("blank", ["", "   ", "\u00a0"])
def test_parse_timestamp_blank_is_none(blank):
    assert parse_timestamp(blank, dayfirst=True) is None


def test_month_first_value_in_a_day_first_source_is_refused_with_the_declared_order():
    with pytest.raises(ValueError) as excinfo:
        parse_timestamp("07/31/2020 04:21:36 PM", dayfirst=True)
    message = str(excinfo.value)
    assert "07/31/2020 04:21:36 PM" in message
    assert "day-first (dd/mm/yyyy)" in message


def test_impossible_day_first_date_is_refused_not_swapped():
    with pytest.raises(ValueError, match=r"impossible date '31/02/2021'.*day-first \(dd/mm/yyyy\)"):
        parse_timestamp("31/02/2021", dayfirst=True)


def test_day_first_value_in_a_month_first_source_is_refused():
    with pytest.raises(ValueError, match=r"31/08/2020.*month-first \(mm/dd/yyyy\)"):
        parse_timestamp("31/08/2020 10:05:00 AM", dayfirst=False)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Tuesday", "not a recognised date"),
        ("1234", "not a recognised date"),
        ("99999", "not a recognised date"),  # a serial outside any plausible export date
        ("07/31/2023 13:21:36 PM", "hour 13 with PM"),
        ("2021-13-01", "impossible date"),
    ],
)
def test_parse_timestamp_refusals(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_timestamp(text, dayfirst=False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10:30", dt.time(10, 30)),
        ("10.30", dt.time(10, 30)),
        ("10:30:00", dt.time(10, 30)),
        ("2pm", dt.time(14, 0)),
        ("2:30 PM", dt.time(14, 30)),
        ("12:15 am", dt.time(0, 15)),
        ("", None),
    ],
)
def test_parse_time_of_day(text, expected):
    assert parse_time_of_day(text) == expected


@pytest.mark.parametrize("text", ["25:00", "half ten"])
def test_parse_time_of_day_refusals(text):
    with pytest.raises(ValueError, match="not a time of day"):
        parse_time_of_day(text)


# --- ratings -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8", 8),
        ("8.0", 8),
        (" 7 ", 7),
        ("10 - Extremely useful", 10),
        ("10 – Extremely important", 10),  # en dash
        ("0 - Not at all useful", 0),
        ("0 (not at all)", 0),
        ("0", 0),  # zero is an answer, not a blank
        ("5: Neutral", 5),
        ("", None),  # unanswered, never 0
        ("   ", None),
    ],
)
def test_parse_rating(text, expected):
    assert parse_rating(text) == expected


def test_parse_rating_zero_is_not_none():
    assert parse_rating("0") is not None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("11", "rating 11 is outside 0–10"),
        ("11 - Extremely useful", "rating 11 is outside 0–10"),
        ("-1", "rating -1 is outside 0–10"),
        ("8.5", "not a rating"),
        ("Very useful", "not a rating"),
    ],
)
def test_parse_rating_refusals(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_rating(text)


def test_parse_rating_honours_a_narrower_scale():
    assert parse_rating("5", low=1, high=5) == 5
    with pytest.raises(ValueError, match="outside 1–5"):
        parse_rating("0", low=1, high=5)


# --- identifiers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("19085864118", "19085864118"),
        ("19085864118.0", "19085864118"),  # a float column written back out
        ("05", "05"),  # leading zeros survive
        (" 356806-356797-33882794 ", "356806-356797-33882794"),  # JISC URN
        ("KWJYJ", "KWJYJ"),  # Bookwhen booking reference
        ("", ""),
    ],
)
def test_parse_identifier(text, expected):
    assert parse_identifier(text) == expected


@pytest.mark.parametrize("mangled", ["5.96E+08", "5.96e+08", "1E+11", "1.90858641E+10"])
def test_parse_identifier_refuses_excel_scientific_notation(mangled):
    with pytest.raises(ValueError, match="scientific notation; digits are lost"):
        parse_identifier(mangled)
