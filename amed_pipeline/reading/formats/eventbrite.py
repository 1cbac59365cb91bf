"""Eventbrite attendee reports: classic US, classic UK and the 2024+ sentence-case report.

All three dialects are one alias table: `Order #`/`Order no.`/`Order ID`, `Last Name`/`Surname`,
`Attendee #`/`Attendee no.`. Organiser-level exports carry `Event Name` and `Event ID`, which link
a booking to its session. `Attendee Status` gives the booking status: `Checked In` → attended;
`Attending` → booked (registered, not recorded as attending) unless `options.attended_statuses`
says otherwise; cancellations → cancelled. Order dates are ISO with an offset, or an Excel
re-save `7/14/20 10:32` (month first, so `dayfirst` defaults to false).
"""

from __future__ import annotations

import pandas as pd

from amed_pipeline.config import Source
from amed_pipeline.lib.frames import as_text
from amed_pipeline.reading.formats.base import FormatAdapter

CHECKED_IN = "checked in"
CANCELLATION_STATUSES = ("not attending", "deleted", "refunded", "transferred", "cancelled", "canceled")
STATUS_MAP = {
    "Checked In": "attended",
    "Attending": "booked",
    **{s.title(): "cancelled" for s in CANCELLATION_STATUSES},
}


class EventbriteAdapter(FormatAdapter):
    def value_maps(self, source: Source) -> dict[str, dict[str, str]]:
        maps = super().value_maps(source)
        for status in source.options.get("attended_statuses", []):
            maps["status"][status] = "attended"
        return maps

    def record_rank(self, frame: pd.DataFrame) -> pd.Series:
        # Overlapping cumulative exports: Checked In > any cancellation > Attending, by raw status.
        raw = as_text(frame["raw_status"]).str.strip().str.casefold()
        return pd.Series(1, index=frame.index).mask(raw.isin(CANCELLATION_STATUSES), 2).mask(raw == CHECKED_IN, 3)

    def record_identity(self, frame: pd.DataFrame) -> pd.Series:
        # Classic reports number each attendee; the 2024+ report has only the order id.
        # The order-based identity is built only for the rows that need it (none, in a classic report).
        attendee = as_text(frame["attendee_ref"])
        order = as_text(frame["order_ref"])
        by_order = (attendee == "") & (order != "")
        if not by_order.any():
            return attendee
        rows = frame[by_order]
        identity = attendee.copy()
        identity[by_order] = (
            order[by_order]
            + "|"
            + as_text(rows["email"]).str.strip().str.lower()
            + "|"
            + as_text(rows["first_name"]).str.strip().str.casefold()
            + "|"
            + as_text(rows["last_name"]).str.strip().str.casefold()
        )
        return identity


EVENTBRITE = EventbriteAdapter(
    name="eventbrite",
    default_dayfirst=False,
    aliases={
        "session_ref": ["Event ID"],
        "session_title": ["Event Name"],
        "attendee_ref": ["Attendee #", "Attendee no.", "Attendee ID", "Attendee"],
        "order_ref": ["Order #", "Order no.", "Order ID", "Order"],
        "booked_at": ["Order Date", "Date"],
        "first_name": ["First Name"],
        "last_name": ["Last Name", "Surname"],
        "email": ["Email", "Email Address"],
        "raw_status": ["Attendee Status"],
        "status": ["Attendee Status"],
        "ticket_type": ["Ticket Type"],
        "job_title": ["Job Title"],
        "organisation": ["Company"],
    },
    default_values={"status": STATUS_MAP},
)
