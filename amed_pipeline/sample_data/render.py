"""Render a ground-truth model into the raw export files each partnership sends.

One function per source, named after the folder it fills under `raw/<partnership>/`; the
folders match the globs in `data/partnerships.yaml`. Which rows go into which overlapping
file, and with which status, comes from `exports.py`; how dates and files are written comes
from `formats.py`. Rendering uses no randomness: every messy detail was fixed in the model,
so the same model always gives the same bytes.
"""

from __future__ import annotations

import zlib
from datetime import datetime
from pathlib import Path

from . import vocab
from .exports import (
    BOOKWHEN_EXPORTS,
    EVENTBRITE_EXPORTS,
    FEEDBACK_DOWNLOADS,
    FOLLOWUP_DOWNLOADS,
    bookwhen_status_at,
    eventbrite_status_at,
)
from .formats import (
    excel_us_short,
    google_download_timestamp,
    iso_with_offset,
    surveymonkey_datetime,
    uk_date,
    uk_datetime,
    uk_datetime_seconds,
    write_csv,
    write_fully_quoted_csv,
    write_xlsx,
)
from .model import Model, Record, Response

SURVEYMONKEY_META = (
    "Respondent ID",
    "Collector ID",
    "Start Date",
    "End Date",
    "IP Address",
    "Email Address",
    "First Name",
    "Last Name",
    "Custom Data 1",
)
# Row-2 tokens SurveyMonkey writes under each question.
FEEDBACK_KINDS = ("Response", "Response", "Response", "Open-Ended Response", "Response", "Open-Ended Response")
FOLLOWUP_KINDS = ("Response", "Response", "Open-Ended Response", "Response", "Open-Ended Response")
RATING_ENDS = {  # SurveyMonkey labels the ends of each 0-10 scale
    "useful": ("0 - Not at all useful", "10 - Extremely useful"),
    "important": ("0 - Not at all important", "10 - Extremely important"),
    "confident": ("0 - Not at all confident", "10 - Extremely confident"),
}
EVENTBRITE_US = (
    "Event Name",
    "Event ID",
    "Order #",
    "Order Date",
    "First Name",
    "Last Name",
    "Email",
    "Quantity",
    "Price Tier",
    "Ticket Type",
    "Attendee #",
    "Group",
    "Order Type",
    "Currency",
    "Total Paid",
    "Fees Paid",
    "Eventbrite Fees",
    "Eventbrite Payment Processing",
    "Attendee Status",
    "Home Address 1",
    "Home Address 2",
    "Home City",
    "Home State",
    "Home Zip",
    "Home Country",
    "How did you hear about this training?",
    "Job Title",
    "Company",
)
EVENTBRITE_UK = (
    "Event Name",
    "Event ID",
    "Order no.",
    "Order Date",
    "First Name",
    "Surname",
    "Email",
    "Quantity",
    "Price Tier",
    "Ticket Type",
    "Attendee no.",
    "Group",
    "Order Type",
    "Currency",
    "Total Paid",
    "Fees Paid",
    "Eventbrite Fees",
    "Eventbrite Payment Processing",
    "Attendee Status",
    "Home Address 1",
    "Home Address 2",
    "Home City",
    "County of Residence",
    "Home Postcode",
    "Home Country",
    "Mobile Phone",
    "Job Title",
    "Company",
)
EVENTBRITE_2024 = (
    "Order ID",
    "Order Date",
    "Attendee Status",
    "First Name",
    "Last Name",
    "Email",
    "Event Name",
    "Event ID",
    "Ticket Quantity",
    "Ticket Type",
    "Ticket Price",
    "Buyer First Name",
    "Buyer Last Name",
    "Buyer Email",
    "Job Title",
    "Company",
)
BOOKWHEN = (
    "Attendee CustomerID",
    "Event title",
    "Event starts",
    "Event ends",
    "First name",
    "Last name",
    "Email",
    "Job role",
    "Organisation",
    "Attendance status",
    "Attended?",
)


class PartnershipView:
    """The slice of a model that belongs to one partnership copy."""

    def __init__(self, model: Model, partnership: str) -> None:
        self.partnership = partnership
        self.sessions = sorted((s for s in model.sessions if s.partnership == partnership), key=lambda s: s.start)
        self.records = [r for r in model.records if r.session.partnership == partnership]
        self.responses = [r for r in model.responses if r.partnership == partnership]

    def records_in(self, system: str) -> list[Record]:
        rows = [r for r in self.records if r.system == system]
        return sorted(rows, key=lambda r: (r.session.start, r.order_id, r.attendee_id, r.ordered_at))

    def responses_to(self, dataset: str, until: datetime) -> list[Response]:
        rows = [r for r in self.responses if r.dataset == dataset and r.submitted <= until]
        return sorted(rows, key=lambda r: r.submitted)


def render(model: Model, out_dir: Path) -> list[Path]:
    """Write every raw file of every partnership copy in `model` under `out_dir/raw`."""
    written = []
    for pid, _, base in model.partnerships:
        view = PartnershipView(model, pid)
        for folder, writer in SOURCES[base]:
            directory = Path(out_dir) / "raw" / pid / folder
            remove_previous_output(directory)
            written += writer(view, directory)
    return written


def remove_previous_output(directory: Path) -> None:
    """Drop files an earlier run wrote here, so globs only see this run's files."""
    if directory.is_dir():
        for path in directory.iterdir():
            if path.is_file() and path.suffix in (".csv", ".xlsx"):
                path.unlink()


def rating_label(value: int | None, scale: str) -> str:
    if value is None:
        return ""
    low, high = RATING_ENDS[scale]
    return low if value == 0 else high if value == 10 else str(value)


def customer_id(record: Record) -> str:
    """A stable Bookwhen customer reference per person."""
    person = record.person
    return f"cus_{zlib.crc32(f'{record.session.partnership}:{person.index}'.encode()):08x}"


# ---------------------------------------------------------------------- sessions files
def delivery_log(view: PartnershipView, directory: Path) -> list[Path]:
    """Active Oxfordshire's hand-kept delivery log, one workbook per financial year."""
    header = [
        "Date",
        "Start time",
        "End time",
        "Session title",
        "Delivery",
        "Venue",
        "Eventbrite event ID",
        "Trainer",
        "Notes",
    ]
    years = {"2020-21": [], "2021-22": []}
    for i, s in enumerate(view.sessions):
        day = s.start.date() if i % 4 else uk_date(s.start.date())  # some dates typed as text
        row = [day, f"{s.start:%H:%M}", f"{s.end:%H:%M}", s.title, s.delivery, s.place, int(s.ref), s.trainer, s.note]
        years["2020-21" if s.start < datetime(2021, 4, 1) else "2021-22"].append(row)
    return [
        write_xlsx(
            directory / f"AMed_delivery_log_{year}.xlsx", "Delivery log", [header] + rows, datetime(2021, 8, 4, 12, 0)
        )
        for year, rows in years.items()
    ]


def gba_sessions(view: PartnershipView, directory: Path) -> list[Path]:
    rows = [["Event ref", "Event", "Event starts", "Event ends", "Venue", "Trainer"]]
    rows += [[s.ref, s.title, uk_datetime(s.start), uk_datetime(s.end), s.delivery, s.trainer] for s in view.sessions]
    return [write_csv(directory / "GBA_Active_Medicine_sessions_2020-21.csv", rows)]


def leap_sessions(view: PartnershipView, directory: Path) -> list[Path]:
    rows = [["Course", "Date", "Time", "Format", "Eventbrite ID", "Venue", "Trainer", "Notes"]]
    rows += [
        [s.title, uk_date(s.start.date()), f"{s.start:%H:%M}", s.delivery, s.ref, s.place, s.trainer, s.note]
        for s in view.sessions
    ]
    return [write_csv(directory / "Leap_Active_Medicine_courses.csv", rows)]


# ---------------------------------------------------------------------- bookings
def eventbrite_us(view: PartnershipView, directory: Path) -> list[Path]:
    """Active Oxfordshire: classic organiser-level attendee report, US headers."""
    written = []
    for export in EVENTBRITE_EXPORTS["active_oxfordshire"]:
        ordered = excel_us_short if export.excel_resaved else iso_with_offset
        rows = [list(EVENTBRITE_US)]
        for r in view.records_in("eventbrite"):
            if export.covers(r):
                rows.append(
                    [
                        r.session.title,
                        r.session.ref,
                        r.order_id,
                        ordered(r.ordered_at),
                        r.first,
                        r.last,
                        r.email,
                        1,
                        r.price_tier,
                        r.ticket_type,
                        r.attendee_id,
                        "",
                        "Free Order",
                        "GBP",
                        0,
                        0,
                        0,
                        0,
                        eventbrite_status_at(r, export.taken_at),
                        "",
                        "",
                        "",
                        "",
                        "",
                        "",
                        r.heard_about,
                        r.job_title,
                        r.organisation,
                    ]
                )
        written.append(
            write_csv(directory / export.filename, rows, encoding="cp1252" if export.excel_resaved else "utf-8")
        )
    return written


def eventbrite_uk(view: PartnershipView, directory: Path) -> list[Path]:
    """Get Berkshire Active: classic attendee summary, UK headers, windows by event date."""
    written = []
    for export in EVENTBRITE_EXPORTS["get_berkshire_active"]:
        rows = [list(EVENTBRITE_UK)]
        for r in view.records_in("eventbrite"):
            if export.covers(r):
                known = r.person is not None
                rows.append(
                    [
                        r.session.title,
                        r.session.ref,
                        r.order_id,
                        iso_with_offset(r.ordered_at),
                        r.first,
                        r.last,
                        r.email,
                        1,
                        "",
                        r.ticket_type,
                        r.attendee_id,
                        "",
                        "Free Order",
                        "GBP",
                        0,
                        0,
                        0,
                        0,
                        eventbrite_status_at(r, export.taken_at),
                        "",
                        "",
                        "Reading" if known and r.attendee_id % 3 == 0 else "",
                        "Berkshire" if known and r.attendee_id % 3 == 0 else "",
                        "",
                        "",
                        r.person.phone if known else "",
                        r.job_title,
                        r.organisation,
                    ]
                )
        written.append(write_csv(directory / export.filename, rows))
    return written


def eventbrite_2024(view: PartnershipView, directory: Path) -> list[Path]:
    """Leap: the 2024+ reporting UI's attendee report (no attendee number; buyer columns)."""
    written = []
    for export in EVENTBRITE_EXPORTS["leap"]:
        rows = [list(EVENTBRITE_2024)]
        for r in view.records_in("eventbrite"):
            if export.covers(r):
                buyer = r.buyer
                rows.append(
                    [
                        r.order_id,
                        iso_with_offset(r.ordered_at),
                        eventbrite_status_at(r, export.taken_at),
                        r.first,
                        r.last,
                        r.email,
                        r.session.title,
                        r.session.ref,
                        1,
                        r.ticket_type,
                        "£0.00",
                        buyer.first,
                        buyer.last,
                        buyer.email,
                        r.job_title,
                        r.organisation,
                    ]
                )
        written.append(write_csv(directory / export.filename, rows))
    return written


def bookwhen(view: PartnershipView, directory: Path) -> list[Path]:
    """Get Berkshire Active: Bookwhen attendance exports, overlapping date ranges."""
    written = []
    for export in BOOKWHEN_EXPORTS:
        rows = [list(BOOKWHEN)]
        for r in view.records_in("bookwhen"):
            if export.covers(r):
                status, attended = bookwhen_status_at(r, export.taken_at)
                rows.append(
                    [
                        customer_id(r),
                        r.session_title,
                        uk_datetime(r.session.start),
                        uk_datetime(r.session.end),
                        r.first,
                        r.last,
                        r.email,
                        r.job_title,
                        r.organisation,
                        status,
                        attended,
                    ]
                )
        written.append(write_csv(directory / export.filename, rows))
    return written


def sign_in(view: PartnershipView, directory: Path) -> list[Path]:
    """Leap: typed-up paper sign-in registers, one workbook per month (everyone attended)."""
    header = ["Course", "Date", "First name", "Surname", "Email address", "Job title", "Organisation"]
    months: dict = {}
    for i, r in enumerate(view.records_in("sign_in")):
        day = r.session.start.date()
        months.setdefault(day.strftime("%Y-%m"), []).append(
            [r.session_title, day if i % 6 else uk_date(day), r.first, r.last, r.email, r.job_title, r.organisation]
        )
    return [
        write_xlsx(
            directory / f"Leap_sign_in_register_{month}.xlsx",
            "Register",
            [header] + rows,
            datetime.strptime(month, "%Y-%m").replace(day=28, hour=17),
        )
        for month, rows in sorted(months.items())
    ]


# ---------------------------------------------------------------------- surveys
def surveymonkey_header(questions: tuple, kinds: tuple) -> list[list]:
    return [list(SURVEYMONKEY_META) + list(questions) + [""], [""] * len(SURVEYMONKEY_META) + list(kinds) + [""]]


def surveymonkey_meta(r: Response) -> list:
    return [
        r.response_id,
        r.collector_id,
        surveymonkey_datetime(r.started),
        surveymonkey_datetime(r.submitted),
        "",
        "",
        "",
        "",
        "",
    ]


def surveymonkey_feedback(view: PartnershipView, directory: Path) -> list[Path]:
    """Active Oxfordshire feedback: SurveyMonkey CSV with a BOM, newest first, cumulative."""
    written = []
    for until in FEEDBACK_DOWNLOADS:
        rows = surveymonkey_header(vocab.FEEDBACK_QUESTIONS, FEEDBACK_KINDS)
        for r in reversed(view.responses_to("feedback", until)):
            rows.append(
                surveymonkey_meta(r)
                + [
                    rating_label(r.usefulness, "useful"),
                    rating_label(r.knowledge, "important"),
                    rating_label(r.confidence, "confident"),
                    r.job_title,
                    r.setting,
                    r.email,
                    "",
                ]
            )
        name = f"Active_Medicine_session_feedback_{until:%Y-%m-%d}.csv"
        written.append(write_csv(directory / name, rows, encoding="utf-8-sig"))
    return written


def surveymonkey_followup(view: PartnershipView, directory: Path) -> list[Path]:
    """Active Oxfordshire follow-up: SurveyMonkey xlsx, same two header rows."""
    written = []
    for until in FOLLOWUP_DOWNLOADS:
        rows = surveymonkey_header(vocab.FOLLOWUP_QUESTIONS, FOLLOWUP_KINDS)
        for r in reversed(view.responses_to("followup", until)):
            meta = surveymonkey_meta(r)
            meta[0], meta[1] = int(meta[0]), int(meta[1])
            rows.append(
                meta
                + [
                    rating_label(r.usefulness, "useful"),
                    r.how_often,
                    r.doing_differently,
                    r.setting,
                    r.email,
                    "",
                ]
            )
        name = f"Active_Medicine_follow_up_{until:%Y-%m-%d}.xlsx"
        written.append(write_xlsx(directory / name, "Sheet", rows, until))
    return written


def msforms_feedback(view: PartnershipView, directory: Path) -> list[Path]:
    """Get Berkshire Active feedback: Microsoft Forms workbook, cumulative downloads."""
    written = []
    for until in FEEDBACK_DOWNLOADS:
        responses = view.responses_to("feedback", until)
        rows = [["ID", "Start time", "Completion time", "Email", "Name", *vocab.FEEDBACK_QUESTIONS]]
        rows += [
            [
                int(r.response_id),
                r.started,
                r.submitted,
                r.collected_email,
                r.respondent_name,
                r.usefulness,
                r.knowledge,
                r.confidence,
                r.job_title,
                r.setting,
                r.email,
            ]
            for r in responses
        ]
        name = f"Active Medicine session feedback(1-{len(responses)}).xlsx"
        written.append(write_xlsx(directory / name, "Form1", rows, until, creator="Microsoft Forms"))
    return written


def google_followup_sheet(view: PartnershipView, directory: Path) -> list[Path]:
    """Get Berkshire Active follow-up: the responses Sheet exported as CSV (UK locale)."""
    written = []
    for until in FOLLOWUP_DOWNLOADS:
        rows = [["Timestamp", "Email address", *vocab.FOLLOWUP_QUESTIONS]]
        rows += [google_followup_row(r, uk_datetime_seconds) for r in view.responses_to("followup", until)]
        name = f"Active Medicine follow-up (Responses) - Form responses 1 ({until:%Y-%m-%d}).csv"
        written.append(write_csv(directory / name, rows))
    return written


def google_followup_download(view: PartnershipView, directory: Path) -> list[Path]:
    """Leap follow-up: Google Forms 'Download responses (.csv)'."""
    written = []
    for until in FOLLOWUP_DOWNLOADS:
        rows = [["Timestamp", "Email Address", *vocab.FOLLOWUP_QUESTIONS]]
        rows += [google_followup_row(r, google_download_timestamp) for r in view.responses_to("followup", until)]
        name = f"Active Medicine follow-up survey {until:%Y-%m-%d}.csv"
        written.append(write_csv(directory / name, rows))
    return written


def google_followup_row(r: Response, timestamp) -> list:
    useful = "" if r.usefulness is None else r.usefulness
    return [timestamp(r.submitted), r.collected_email, useful, r.how_often, r.doing_differently, r.setting, r.email]


def jisc_feedback(view: PartnershipView, directory: Path) -> list[Path]:
    """Leap feedback: JISC Online Surveys CSV, numbered questions, every value quoted."""
    written = []
    for until in FEEDBACK_DOWNLOADS:
        header = ["Unique Response Number", "Date and time of response submission"]
        header += [f"{i}. {q}" for i, q in enumerate(vocab.FEEDBACK_QUESTIONS, 1)]
        rows = [header]
        rows += [
            [
                r.response_id,
                uk_datetime(r.submitted),
                r.usefulness,
                r.knowledge,
                r.confidence,
                r.job_title,
                r.setting,
                r.email,
            ]
            for r in view.responses_to("feedback", until)
        ]
        name = f"results-for-active-medicine-session-feedback-{until:%Y-%m-%d-%H%M}.csv"
        written.append(write_fully_quoted_csv(directory / name, rows))
    return written


SOURCES = {
    "active_oxfordshire": (
        ("delivery_log", delivery_log),
        ("eventbrite", eventbrite_us),
        ("surveymonkey_feedback", surveymonkey_feedback),
        ("surveymonkey_followup", surveymonkey_followup),
    ),
    "get_berkshire_active": (
        ("sessions", gba_sessions),
        ("eventbrite", eventbrite_uk),
        ("bookwhen", bookwhen),
        ("msforms_feedback", msforms_feedback),
        ("google_followup", google_followup_sheet),
    ),
    "leap": (
        ("sessions", leap_sessions),
        ("eventbrite", eventbrite_2024),
        ("sign_in", sign_in),
        ("jisc_feedback", jisc_feedback),
        ("google_followup", google_followup_download),
    ),
}
