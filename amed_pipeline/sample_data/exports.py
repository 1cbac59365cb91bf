"""When each export was taken and what it shows: the timeline behind overlapping files.

Real partnerships download their booking and survey data several times, so the same
attendee or response appears in more than one file, sometimes with a status that changed
in between (booked in an early export, checked in or cancelled in a later one). Both the
renderer (which rows go in which file, with which status) and the ground-truth check use
these functions, so the files and the check agree by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from .model import Record

EVENTBRITE_CANCELLED = ("Not Attending", "Deleted", "Refunded", "Transferred")


@dataclass(frozen=True)
class Export:
    """One downloaded file: which sessions it covers and when it was taken."""

    filename: str
    taken_at: datetime
    sessions_from: date | None = None  # inclusive; None = from the beginning
    sessions_to: date | None = None  # exclusive; None = no end
    excel_resaved: bool = False  # opened and re-saved in Excel: cp1252 and M/D/YY dates

    def covers(self, record: Record) -> bool:
        """Whether the record's row is in this file (booked by then, session in range)."""
        day = record.session.start.date()
        if self.sessions_from is not None and day < self.sessions_from:
            return False
        if self.sessions_to is not None and day >= self.sessions_to:
            return False
        return record.ordered_at <= self.taken_at


EVENTBRITE_EXPORTS = {
    # Organiser-level cumulative attendee reports; the first one was re-saved from Excel.
    "active_oxfordshire": (
        Export("Attendees_Active_Medicine_2020-11-16.csv", datetime(2020, 11, 16, 9, 14, 2), excel_resaved=True),
        Export("Attendees_Active_Medicine_2021-08-03.csv", datetime(2021, 8, 3, 11, 2, 40)),
    ),
    # Attendee summaries filtered by event date, windows overlapping by a month.
    "get_berkshire_active": (
        Export(
            "GBA_attendee_summary_2020-07_to_2020-12.csv",
            datetime(2020, 12, 7, 16, 40, 12),
            date(2020, 7, 1),
            date(2021, 1, 1),
        ),
        Export(
            "GBA_attendee_summary_2020-12_to_2021-04.csv",
            datetime(2021, 4, 19, 10, 5, 51),
            date(2020, 12, 1),
            date(2021, 5, 1),
        ),
        Export(
            "GBA_attendee_summary_2021-04_to_2021-07.csv",
            datetime(2021, 8, 2, 14, 31, 9),
            date(2021, 4, 1),
            date(2021, 8, 1),
        ),
    ),
    # 2024+ reporting UI attendee reports, cumulative.
    "leap": (
        Export("Leap_Attendee_report_2021-01-11.csv", datetime(2021, 1, 11, 12, 0, 33)),
        Export("Leap_Attendee_report_2021-08-09.csv", datetime(2021, 8, 9, 9, 47, 5)),
    ),
}

BOOKWHEN_EXPORTS = (
    Export(
        "bookwhen_attendances_2020-07-01_2021-01-31.csv",
        datetime(2021, 1, 18, 11, 20, 0),
        date(2020, 7, 1),
        date(2021, 2, 1),
    ),
    Export(
        "bookwhen_attendances_2021-01-01_2021-07-31.csv",
        datetime(2021, 8, 2, 9, 5, 0),
        date(2021, 1, 1),
        date(2021, 8, 1),
    ),
)

# Survey tools: cumulative downloads (everything submitted up to the download time).
FEEDBACK_DOWNLOADS = (datetime(2021, 1, 4, 9, 30, 0), datetime(2021, 8, 9, 10, 0, 0))
FOLLOWUP_DOWNLOADS = (datetime(2021, 1, 4, 9, 45, 0), datetime(2021, 12, 6, 14, 0, 0))


def eventbrite_status_at(record: Record, when: datetime) -> str:
    """The Attendee Status an export taken at `when` shows for this record."""
    final = record.final_status
    if final in EVENTBRITE_CANCELLED:
        return final if record.changed_at <= when else "Attending"
    if final == "Checked In":
        return final if record.session.start <= when else "Attending"
    return final


def bookwhen_status_at(record: Record, when: datetime) -> tuple[str, str]:
    """(Attendance status, Attended?) an attendance export taken at `when` shows."""
    final = record.final_status
    if final == "cancelled" and record.changed_at <= when:
        return "Cancelled", "No"
    if final == "attended" and record.session.start <= when:
        return "Complete", "Yes"
    return "Complete", "No"


def record_appearances(record: Record) -> list[str]:
    """Every status under which the record appears across its system's exports."""
    partnership = record.session.base_partnership
    if record.system == "eventbrite":
        return [eventbrite_status_at(record, e.taken_at) for e in EVENTBRITE_EXPORTS[partnership] if e.covers(record)]
    if record.system == "bookwhen":
        return ["/".join(bookwhen_status_at(record, e.taken_at)) for e in BOOKWHEN_EXPORTS if e.covers(record)]
    return ["attended"]
