"""Format adapters, exercised end to end through `read_source` on realistic export files.

Scope: each adapter (eventbrite, surveymonkey, msforms, google_forms, jisc, mapped_csv) on its
fixtures with a `Source` built here as `partnerships.yaml` would declare it: every Eventbrite
header dialect gives the same canonical rows and statuses; SurveyMonkey's two header rows are
merged and question columns found by their text; JISC numbering is ignored; an anonymous MS
Forms response has no email identity; both Google Forms timestamp styles; mapped_csv's
`columns` / `values` / `default_values`. Also the per-file ledger and quarantine: a missing
required column refuses that file only; an unparseable value refuses that row only, with file,
spreadsheet row number, column header and reason. Staging semantics are in test_staging.py.
"""

from __future__ import annotations

import datetime as dt
import shutil

import pandas as pd
import pytest

from amed_pipeline.reading.files import read_raw_table
from amed_pipeline.reading.formats import ADAPTERS
from amed_pipeline.reading.parse import read_source
from amed_pipeline.staging.people import attach_person_keys
from amed_pipeline_tests.conftest import BOOKWHEN_OPTIONS as BOOKWHEN_MAPPED_CSV
from amed_pipeline_tests.conftest import TEST_KEY

EVENT_NAME = "Helping People Become More Active - Online Workshop"
EVENTBRITE_DIALECTS = {
    "us_classic_utf8_bom": "eventbrite/us_classic/Attendees-115243358567.csv",
    "uk_classic_cp1252": "eventbrite/uk_classic/Attendees-115243358567-resaved.csv",
    "sentence_case_2024": "eventbrite/new_2024/Attendee_summary_115243358567_20200714.csv",
}
# What every dialect must give for the same four attendees.
EVENTBRITE_CANONICAL = pd.DataFrame(
    {
        "source_row": [2, 3, 4, 5],
        "session_ref": ["115243358567"] * 4,
        "session_title": [EVENT_NAME] * 4,
        "order_ref": ["1300012345", "1300012399", "1300012400", "1300012401"],
        "first_name": ["Aisha", "Ben", "Chloé", "Dev"],
        "last_name": ["Example", "Sample", "O'Test", "Placeholder"],
        "email": [
            "aisha.example@example.org",
            "ben.sample@example.com",
            "chloe.otest@example.net",
            "dev.placeholder@example.org",
        ],
        "raw_status": ["Checked In", "Attending", "Not Attending", "Refunded"],
        "status": ["attended", "booked", "cancelled", "cancelled"],
        "ticket_type": ["General Admission"] * 4,
        "job_title": ["Band 6 Physio", "Practice Nurse", "Volunteer befriender", "PWP"],
        "organisation": [
            "Example NHS Foundation Trust",
            "Example Surgery",
            "Example Befrienders",
            "Example Talking Therapies",
        ],
        "booked_at": pd.to_datetime(["2020-07-01 09:05", "2020-07-02 14:30", "2020-07-03 08:00", "2020-07-13 21:45"]),
    }
)
# The shared Bookwhen options, plus the organisation column and a default status.
BOOKWHEN_OPTIONS = {
    **BOOKWHEN_MAPPED_CSV,
    "columns": {**BOOKWHEN_MAPPED_CSV["columns"], "organisation": "Organisation"},
    "default_values": {"status": "booked"},
}
REGISTER_OPTIONS = {
    "columns": {
        "session_title": "Course",
        "session_start": "Date",
        "first_name": "First name",
        "last_name": "Surname",
        "email": "Email address",
        "job_title": "Job title",
    },
    "default_values": {"status": "attended"},
}


def canonical(rows: pd.DataFrame, columns) -> pd.DataFrame:
    return rows[list(columns)].reset_index(drop=True)


def by_reason(quarantine: list[dict]) -> dict[int, dict]:
    return {q["source_row"]: q for q in quarantine}


# --- Eventbrite -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", EVENTBRITE_DIALECTS.values(), ids=EVENTBRITE_DIALECTS.keys())
def test_every_eventbrite_dialect_gives_the_same_canonical_rows(exports_dir, make_source, path):
    read = read_source(make_source("bookings", "eventbrite", path), exports_dir)
    assert read.quarantine == []
    assert [(f.source_file, f.rows_read, f.rows_quarantined) for f in read.files] == [(path, 4, 0)]
    assert read.rows["source_file"].tolist() == [path] * 4
    pd.testing.assert_frame_equal(
        canonical(read.rows, EVENTBRITE_CANONICAL.columns), EVENTBRITE_CANONICAL, check_dtype=False
    )
    assert read.rows["partnership_id"].unique().tolist() == ["test_partnership"]
    assert read.rows["source_format"].unique().tolist() == ["eventbrite"]


def test_eventbrite_record_identity_per_dialect(exports_dir, make_source):
    """Classic reports number attendees; the 2024+ report has only the order, so order + person."""
    rows = read_source(make_source("bookings", "eventbrite", "eventbrite/*/*.csv"), exports_dir).rows
    by_file = {f: group for f, group in rows.groupby("source_file")}
    us = by_file[EVENTBRITE_DIALECTS["us_classic_utf8_bom"]]
    uk = by_file[EVENTBRITE_DIALECTS["uk_classic_cp1252"]]
    new = by_file[EVENTBRITE_DIALECTS["sentence_case_2024"]]
    assert us["record_ref"].tolist() == ["1850000001", "1850000002", "1850000003", "1850000004"]
    assert uk["record_ref"].tolist() == us["record_ref"].tolist()
    assert new["attendee_ref"].tolist() == [""] * 4
    assert new["record_ref"].iat[0] == "1300012345|aisha.example@example.org|aisha|example"
    # Checked In > any cancellation > Attending when copies of one record meet.
    assert us["record_rank"].tolist() == [3, 1, 2, 2]


def test_attended_statuses_option_counts_attending_as_attended(exports_dir, make_source):
    source = make_source(
        "bookings", "eventbrite", EVENTBRITE_DIALECTS["uk_classic_cp1252"], attended_statuses=["Attending"]
    )
    rows = read_source(source, exports_dir).rows
    assert rows["status"].tolist() == ["attended", "attended", "cancelled", "cancelled"]
    assert rows["raw_status"].tolist() == ["Checked In", "Attending", "Not Attending", "Refunded"]


EVENTBRITE_MINIMAL_HEADER = "Event ID,Event Name,Order no.,Attendee no.,First Name,Surname,Email,Attendee Status\n"


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("Checked In", "attended"),
        ("checked in", "attended"),
        ("Attending", "booked"),
        ("Not Attending", "cancelled"),
        ("Deleted", "cancelled"),
        ("Refunded", "cancelled"),
        ("Transferred", "cancelled"),
        ("Cancelled", "cancelled"),
    ],
)
def test_eventbrite_status_vocabulary(write_export, data_dir, make_source, raw, status):
    write_export(
        "eb/a.csv", EVENTBRITE_MINIMAL_HEADER + f"1,Walk,11,21,Aisha,Example,aisha.example@example.org,{raw}\n"
    )
    rows = read_source(make_source("bookings", "eventbrite", "eb/*.csv"), data_dir).rows
    assert rows["status"].tolist() == [status]


def test_eventbrite_unknown_status_quarantines_the_row(write_export, data_dir, make_source):
    write_export(
        "eb/a.csv",
        EVENTBRITE_MINIMAL_HEADER
        + "1,Walk,11,21,Aisha,Example,aisha.example@example.org,Checked In\n"
        + "1,Walk,12,22,Ben,Sample,ben.sample@example.com,Unpaid\n",
    )
    read = read_source(make_source("bookings", "eventbrite", "eb/*.csv"), data_dir)
    assert read.rows["first_name"].tolist() == ["Aisha"]
    assert [(q["source_row"], q["column_name"], q["value"], q["reason"]) for q in read.quarantine] == [
        (3, "Attendee Status", "Unpaid", "'Unpaid' is not one of attended, booked, cancelled"),
    ]


def test_eventbrite_2013_header_order_last_name_first(write_export, data_dir, make_source):
    """An old per-event report: no event columns (supplied as a default), `Last Name` before `First Name`."""
    write_export(
        "eb/Attendees-1371019757.csv",
        '"Attendee #","Date","Last Name","First Name","Email","QTY","Ticket Type","Order #","Order Type","Attendee Status","Job Title","Company"\n'
        '"312","6/12/13 9:15","Example","Aisha","aisha.example@example.org","1","Free","411","Free Order","Attending","Physio","Example Trust"\n',
    )
    source = make_source("bookings", "eventbrite", "eb/*.csv", default_values={"session_ref": "5712345678"})
    rows = read_source(source, data_dir).rows
    assert rows[["session_ref", "attendee_ref", "order_ref", "first_name", "last_name", "status"]].iloc[0].tolist() == [
        "5712345678",
        "312",
        "411",
        "Aisha",
        "Example",
        "booked",
    ]
    assert rows["booked_at"].iat[0] == pd.Timestamp("2013-06-12 09:15")


# --- SurveyMonkey ------------------------------------------------------------------------------------

SM_FEEDBACK = "surveymonkey/feedback/Active_Medicine_feedback_2020-08-01.csv"
SM_BAD_ROWS = "surveymonkey/feedback_bad_rows/Active_Medicine_feedback_resaved.csv"


def test_surveymonkey_two_header_rows_merge_into_one_header_per_column(exports_dir):
    adapter = ADAPTERS["surveymonkey"]
    headers = adapter.headers(read_raw_table(exports_dir / SM_FEEDBACK, header_rows=adapter.header_rows))
    assert headers[:4] == ["Respondent ID", "Collector ID", "Start Date", "End Date"]
    assert headers[12] == "How confident do you feel having conversations about physical activity?"
    assert headers[14:17] == [
        "Where do you work?",
        "Where do you work? [Other (please specify)]",
        "What, if anything, will you do differently?",
    ]
    assert headers[-1] == ""  # the trailing empty column stays empty, not a continuation


def test_surveymonkey_feedback_questions_found_by_text(exports_dir, make_source):
    read = read_source(make_source("feedback", "surveymonkey", SM_FEEDBACK), exports_dir)
    assert read.quarantine == []
    expected = pd.DataFrame(
        {
            "source_row": [3, 4, 5],
            "response_id": ["11803962543", "11803970001", "11803970077"],
            "submitted_at": pd.to_datetime(["2020-07-31 16:21:36", "2020-08-01 09:03:11", "2020-08-01 12:45:59"]),
            "usefulness": pd.array([10, 7, 0], dtype="Int64"),
            "knowledge": pd.array([9, 10, None], dtype="Int64"),
            "confidence": pd.array([8, 6, 5], dtype="Int64"),
            "job_title": ["Band 6 Physio", "Practice Nurse", "Library assistant"],
            # The "Response" column, not the "Other (please specify)" comment beside it.
            "setting": ["Hospital", "Other", "Charity or voluntary sector"],
        }
    )
    pd.testing.assert_frame_equal(canonical(read.rows, expected.columns), expected, check_dtype=False)


def test_surveymonkey_questions_option_picks_columns_by_fragment(exports_dir, make_source):
    source = make_source(
        "feedback",
        "surveymonkey",
        SM_FEEDBACK,
        questions={"usefulness": "today's session", "setting": "[Other (please specify)]"},
    )
    rows = read_source(source, exports_dir).rows
    assert rows["usefulness"].tolist() == [10, 7, 0]
    assert rows["setting"].tolist() == ["", "Leisure centre", ""]


def test_surveymonkey_xlsx_followup(surveymonkey_xlsx, data_dir, make_source):
    source = make_source(
        "followup",
        "surveymonkey",
        "surveymonkey_followup/*.xlsx",
        questions={"doing_differently": "What's one thing you are doing differently?"},  # header has &apos;
    )
    read = read_source(source, data_dir)
    assert read.quarantine == []
    rows = read.rows
    assert rows["response_id"].tolist() == ["11900000001", "11900000002"]
    assert rows["submitted_at"].tolist() == [pd.Timestamp("2021-01-12 09:04:45"), pd.Timestamp("2021-01-13 17:31:02")]
    assert rows["usefulness"].tolist() == [8, 10]
    assert rows["conversations"].tolist() == ["slightly_more", "much_more"]
    assert rows["doing_differently"].tolist() == ["Asking at every appointment", ""]
    assert rows["setting"].tolist() == ["Hospital", "Other"]
    assert rows["job_title"].tolist() == ["Band 6 Physio", "Volunteer befriender"]
    assert read.files[0].rows_read == 2


def test_unparseable_values_quarantine_their_row_with_file_row_column_and_reason(exports_dir, make_source):
    read = read_source(make_source("feedback", "surveymonkey", SM_BAD_ROWS), exports_dir)
    assert read.rows["response_id"].tolist() == ["11803990001"]
    assert read.rows["source_row"].tolist() == [3]
    records = by_reason(read.quarantine)
    assert sorted(records) == [4, 5, 6]
    assert {q["source_file"] for q in read.quarantine} == {SM_BAD_ROWS}
    assert {q["rule"] for q in read.quarantine} == {"unparseable_value"}
    assert records[4]["column_name"] == "End Date"
    assert records[4]["value"] == "31/08/2020 10:05:00 AM"
    assert "month-first (mm/dd/yyyy)" in records[4]["reason"]
    assert records[5]["column_name"] == "How useful was today's session to your role?"
    assert records[5]["value"] == "11 - Extremely useful"
    assert records[5]["reason"] == "rating 11 is outside 0–10"
    assert records[6]["column_name"] == "Respondent ID"
    assert "scientific notation" in records[6]["reason"]
    ledger = read.files[0]
    assert (ledger.rows_read, ledger.rows_quarantined, ledger.error) == (4, 3, "")


def test_row_numbers_count_spreadsheet_rows_not_text_lines(write_export, data_dir, make_source):
    write_export(
        "gf/responses.csv",
        "Timestamp,Email address,How useful has the training been to your role?,What are you doing differently?\n"
        '14/06/2021 10:10:09,a@example.org,8,"Line one\nline two\nline three"\n'
        "31/06/2021 11:00:00,b@example.org,7,\n"
        "15/06/2021 09:00:00,c@example.org,ten,\n",
    )
    read = read_source(make_source("followup", "google_forms", "gf/*.csv"), data_dir)
    records = by_reason(read.quarantine)
    assert sorted(records) == [3, 4]
    assert (records[3]["column_name"], records[3]["value"]) == ("Timestamp", "31/06/2021 11:00:00")
    assert "day-first" in records[3]["reason"]
    assert records[4]["column_name"] == "How useful has the training been to your role?"
    assert records[4]["reason"] == "not a rating from 0 to 10: 'ten'"
    assert read.rows["source_row"].tolist() == [2]
    assert (read.files[0].rows_read, read.files[0].rows_quarantined) == (3, 2)


def test_a_row_with_two_bad_values_counts_once(write_export, data_dir, make_source):
    write_export(
        "gf/responses.csv",
        "Timestamp,How useful has the training been to your role?\n14/06/2021 10:10,8\nyesterday,12\n",
    )
    read = read_source(make_source("followup", "google_forms", "gf/*.csv"), data_dir)
    assert sorted((q["source_row"], q["column_name"]) for q in read.quarantine) == [
        (3, "How useful has the training been to your role?"),
        (3, "Timestamp"),
    ]
    assert (read.files[0].rows_read, read.files[0].rows_quarantined, len(read.rows)) == (2, 1, 1)


def test_cells_beyond_the_header_quarantine_the_row(write_export, data_dir, make_source):
    write_export("gf/r.csv", "Timestamp,How useful has the training been to your role?\n14/06/2021 10:10,8,oops\n")
    read = read_source(make_source("followup", "google_forms", "gf/*.csv"), data_dir)
    assert [(q["source_row"], q["column_name"], q["value"]) for q in read.quarantine] == [
        (2, "(beyond last column)", "oops"),
    ]
    assert read.rows.empty


# --- JISC, MS Forms, Google Forms --------------------------------------------------------------------


def test_jisc_numbered_headers_urn_and_day_first_dates(exports_dir, make_source):
    read = read_source(make_source("feedback", "jisc", "jisc/*.csv"), exports_dir)
    assert read.quarantine == []
    rows = read.rows
    assert rows["response_id"].tolist() == ["356806-356797-33882794", "356806-356797-33882795"]
    assert rows["submitted_at"].tolist() == [pd.Timestamp("2021-02-18"), pd.Timestamp("2021-02-03")]
    assert rows["usefulness"].tolist() == [8, 10]
    assert rows["knowledge"].tolist() == [9, 10]
    assert rows["confidence"].tolist() == [7, 9]
    assert rows["job_title"].tolist() == ["High Intensity CBT Therapist", "PWP"]
    assert rows["setting"].tolist() == ["Community health services", "Other"]  # "6.", not "6.a."


def test_msforms_workbook_with_anonymous_response(msforms_xlsx, data_dir, make_source):
    source = make_source("feedback", "msforms", "msforms/*.xlsx")
    read = read_source(source, data_dir)
    assert read.quarantine == []
    rows = read.rows
    assert rows["response_id"].tolist() == ["1", "2", "3"]
    assert rows["submitted_at"].tolist() == [
        pd.Timestamp("2020-11-03 14:05:40"),
        pd.Timestamp("2020-11-03 14:09:15"),
        pd.Timestamp("2020-11-04 09:02:30"),
    ]
    assert rows["usefulness"].tolist()[:2] == [9, 6] and pd.isna(rows["usefulness"].iat[2])
    assert rows["job_title"].tolist() == [
        "Social Prescribing Link Worker",
        "High Intensity CBT Therapist",
        "Library assistant",
    ]
    assert rows["setting"].tolist() == ["GP practice", "Community health services", "Charity"]
    # `anonymous` is not an email: no identity, while a real email (any case) gets one.
    keyed = attach_person_keys(rows, TEST_KEY, source.partnership_id)
    assert keyed["person_key"].iat[0] == ""
    assert keyed["person_key"].iat[1] != "" and keyed["person_key"].iat[2] != ""
    assert "email" not in keyed.columns


def test_msforms_start_time_when_completion_time_is_missing(xlsx_writer, data_dir, make_source):
    xlsx_writer(
        data_dir / "msforms" / "old.xlsx",
        {
            "Form1": [
                ["ID", "Start time", "Email", "How useful was today's session to your role?"],
                [7, dt.datetime(2021, 3, 1, 10, 0), "anonymous", "10"],
            ]
        },
    )
    rows = read_source(make_source("feedback", "msforms", "msforms/*.xlsx"), data_dir).rows
    assert rows[["response_id", "submitted_at", "usefulness"]].iloc[0].tolist() == [
        "7",
        pd.Timestamp("2021-03-01 10:00"),
        10,
    ]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("google_forms/uk_sheet/*.csv", ["2021-06-14 10:10:09", "2021-07-02 16:45:00"]),
        ("google_forms/download/*.csv", ["2021-06-14 10:10:09", "2021-01-05 15:04:05"]),
    ],
    ids=["uk_sheet_locale", "form_download_gmt_offset"],
)
def test_google_forms_both_timestamp_styles(exports_dir, make_source, path, expected):
    read = read_source(make_source("followup", "google_forms", path), exports_dir)
    assert read.quarantine == []
    assert read.rows["submitted_at"].tolist() == [pd.Timestamp(t) for t in expected]
    assert read.rows["response_id"].tolist() == ["", ""]  # Google gives no response id
    assert read.rows["usefulness"].iat[0] == 8
    assert read.rows["conversations"].iat[0] == "much_more"
    assert read.rows["respondent_email"].iat[0] == "erin.test@example.org"  # the address Google collected


def test_google_forms_followup_fields(exports_dir, make_source):
    rows = read_source(make_source("followup", "google_forms", "google_forms/uk_sheet/*.csv"), exports_dir).rows
    assert rows["conversations"].tolist() == ["much_more", "same"]
    assert (
        rows["doing_differently"].iat[0]
        == "Asking about activity at every review, and signposting to the leisure centre"
    )
    assert rows["setting"].tolist() == ["GP practice", "Local authority (council)"]
    assert rows["job_title"].tolist() == ["Practice Nurse", "Housing support officer"]


def test_dayfirst_is_declared_per_source(exports_dir, make_source):
    source = make_source("followup", "google_forms", "google_forms/uk_sheet/*.csv", dayfirst=False)
    read = read_source(source, exports_dir)
    [record] = read.quarantine
    assert (record["source_row"], record["value"]) == (2, "14/06/2021 10:10:09")
    assert "month-first" in record["reason"]
    # An ambiguous date is read the declared way, never guessed per cell: 2 July becomes 7 February.
    assert read.rows["submitted_at"].tolist() == [pd.Timestamp("2021-02-07 16:45")]


# --- mapped_csv ----------------------------------------------------------------------------------------


def test_mapped_csv_bookwhen_columns_values_and_default_values(exports_dir, make_source):
    read = read_source(make_source("bookings", "mapped_csv", "bookwhen/*.csv", **BOOKWHEN_OPTIONS), exports_dir)
    assert read.quarantine == []
    rows = read.rows
    assert rows["attendee_ref"].tolist() == ["C1001", "C1002", "C1003", "C1004"]
    assert rows["status"].tolist() == ["attended", "booked", "cancelled", "booked"]  # blank → default
    assert rows["session_title"].tolist()[-1] == "Physical activity in clinical care"
    assert rows["session_start"].tolist() == [pd.Timestamp("2020-07-14 10:00")] * 3 + [pd.Timestamp("2020-07-21 13:30")]
    assert rows["job_title"].iat[1] == "Social Prescribing Link Worker"
    assert rows["record_ref"].tolist() == ["C1001", "C1002", "C1003", "C1004"]


@pytest.mark.parametrize(
    ("path", "titles", "starts"),
    [
        (
            "registers/sep_line/*.csv",
            ["Physical activity in clinical care", "Physical activity in clinical care, part 2"],
            ["2020-07-21", "2020-07-22"],
        ),
        ("registers/semicolon/*.csv", ["Children and young people"] * 2, ["2020-07-28"] * 2),
    ],
    ids=["sep_line", "semicolon"],
)
def test_mapped_csv_sign_in_registers(exports_dir, make_source, path, titles, starts):
    read = read_source(make_source("bookings", "mapped_csv", path, **REGISTER_OPTIONS), exports_dir)
    assert read.quarantine == []
    assert read.rows["session_title"].tolist() == titles
    assert read.rows["session_start"].tolist() == [pd.Timestamp(s) for s in starts]
    assert read.rows["status"].tolist() == ["attended", "attended"]  # a register: everyone came


def test_mapped_csv_sessions_from_a_named_xlsx_sheet(delivery_log_xlsx, data_dir, make_source):
    source = make_source(
        "sessions",
        "mapped_csv",
        "delivery_log/*.xlsx",
        sheet="Delivery log",
        columns={
            "session_ref": "Eventbrite event ID",
            "title": "Session title",
            "start_date": "Date",
            "start_time": "Start time",
            "delivery_mode": "Delivery",
        },
        values={"delivery_mode": {"Online (Teams)": "online", "Face to face": "in_person"}},
    )
    read = read_source(source, data_dir)
    assert read.quarantine == []
    rows = read.rows
    assert rows["session_ref"].tolist() == ["115243358567", ""]
    assert rows["start_date"].tolist() == [pd.Timestamp("2020-07-14"), pd.Timestamp("2020-07-21")]
    assert rows["start_time"].tolist() == [dt.time(10, 0), dt.time(13, 30)]
    assert rows["delivery_mode"].tolist() == ["online", "in_person"]


def test_mapped_csv_unknown_choice_value_is_a_row_error(write_export, data_dir, make_source):
    write_export("s/sessions.csv", "Title,Date,Delivery\nWalk,14/07/2020,Online\nTalk,15/07/2020,Hybrid\n")
    source = make_source(
        "sessions",
        "mapped_csv",
        "s/*.csv",
        columns={"title": "Title", "start_date": "Date", "delivery_mode": "Delivery"},
    )
    read = read_source(source, data_dir)
    assert read.rows["delivery_mode"].tolist() == ["online"]
    assert [(q["source_row"], q["column_name"], q["value"]) for q in read.quarantine] == [(3, "Delivery", "Hybrid")]
    assert "is not one of online, in_person" in read.quarantine[0]["reason"]


# --- whole files refused, other files still load ---------------------------------------------------------


def test_missing_required_column_refuses_that_file_only(copy_export, write_export, data_dir, make_source):
    copy_export(EVENTBRITE_DIALECTS["uk_classic_cp1252"], "eb/2020-07-14.csv")
    write_export(
        "eb/2020-07-21.csv",
        "Event Name,Event ID,Order no.,First Name,Surname,Email\nWalk,2,31,Ben,Sample,ben.sample@example.com\n",
    )
    read = read_source(make_source("bookings", "eventbrite", "eb/*.csv"), data_dir)
    assert len(read.rows) == 4
    assert set(read.rows["source_file"]) == {"eb/2020-07-14.csv"}
    [record] = read.quarantine
    assert record["source_file"] == "eb/2020-07-21.csv"
    assert record["source_row"] == 0  # file level
    assert record["rule"] == "required_column_missing"
    assert "no column for status" in record["reason"]
    ledgers = {f.source_file: f for f in read.files}
    assert (ledgers["eb/2020-07-21.csv"].rows_read, ledgers["eb/2020-07-21.csv"].rows_quarantined) == (1, 1)
    assert "status" in ledgers["eb/2020-07-21.csv"].error
    assert ledgers["eb/2020-07-14.csv"].error == ""


def test_missing_survey_questions_name_the_option_to_set(write_export, data_dir, make_source):
    write_export("j/results.csv", '"Unique Response Number","1. What is your job title?"\n"1-2-3","PWP"\n')
    read = read_source(make_source("feedback", "jisc", "j/*.csv"), data_dir)
    [record] = read.quarantine
    assert record["rule"] == "required_column_missing"
    assert "usefulness or knowledge or confidence" in record["reason"]
    assert "options.questions" in record["reason"]


def test_mapped_column_absent_from_the_file_names_the_header(exports_dir, make_source):
    options = {**BOOKWHEN_OPTIONS, "columns": {**BOOKWHEN_OPTIONS["columns"], "status": "Attendance"}}
    read = read_source(make_source("bookings", "mapped_csv", "bookwhen/*.csv", **options), exports_dir)
    [record] = read.quarantine
    assert record["source_file"] == "bookwhen/attendances-2020-07.csv"
    assert "column 'Attendance' (mapped to status in options.columns) is not in the file" in record["reason"]
    assert read.rows.empty


def test_unreadable_file_is_quarantined_and_the_others_load(copy_export, data_dir, make_source):
    copy_export("jisc/results-for-amed-session-feedback-2021-03-01-0930.csv", "j/results-2021-03.csv")
    (data_dir / "j" / "results-2021-04.csv").write_bytes(b"%PDF-1.4\n1 0 obj\n")
    read = read_source(make_source("feedback", "jisc", "j/*.csv"), data_dir)
    assert len(read.rows) == 2
    [record] = read.quarantine
    assert (record["source_file"], record["source_row"], record["rule"]) == (
        "j/results-2021-04.csv",
        0,
        "file_unreadable",
    )
    assert "PDF" in record["reason"]


def test_header_only_and_empty_files(write_export, data_dir, make_source):
    write_export("gf/a_header_only.csv", "Timestamp,How useful has the training been to your role?\n")
    write_export("gf/b_empty.csv", "")
    read = read_source(make_source("followup", "google_forms", "gf/*.csv"), data_dir)
    assert read.rows.empty
    assert "usefulness" in read.rows.columns
    ledgers = {f.source_file: f for f in read.files}
    assert (ledgers["gf/a_header_only.csv"].rows_read, ledgers["gf/a_header_only.csv"].error) == (0, "")
    assert ledgers["gf/b_empty.csv"].error == "the file is empty"
    assert [q["source_file"] for q in read.quarantine] == ["gf/b_empty.csv"]


def test_no_matching_files_gives_empty_canonical_rows(data_dir, make_source):
    read = read_source(make_source("bookings", "eventbrite", "nothing/*.csv"), data_dir)
    assert read.files == [] and read.quarantine == []
    assert read.rows.empty
    assert {"source_file", "source_row", "status", "record_ref"} <= set(read.rows.columns)


def test_same_bytes_under_a_second_name_are_read_once(exports_dir, data_dir, make_source):
    target = data_dir / "j"
    target.mkdir()
    original = exports_dir / "jisc/results-for-amed-session-feedback-2021-03-01-0930.csv"
    shutil.copyfile(original, target / "results-a.csv")
    shutil.copyfile(original, target / "results-a (1).csv")
    read = read_source(make_source("feedback", "jisc", "j/*.csv"), data_dir)
    assert len(read.rows) == 2
    ledgers = {f.source_file: f for f in read.files}
    copy = ledgers["j/results-a.csv"]  # sorted: "results-a (1).csv" comes first and is kept
    assert (copy.rows_read, copy.rows_duplicate, copy.duplicate_of) == (2, 2, "j/results-a (1).csv")
    assert set(read.rows["source_file"]) == {"j/results-a (1).csv"}
