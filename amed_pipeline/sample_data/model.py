"""The ground truth of one replica of the programme: sessions, people, bookings, responses.

Files are rendered from this model, never the other way round, so the calibrated figures
can be checked against the model (`summary.ground_truth_summary`) independently of any
parser. A `Booking` is the truth (one person at one session, attended/booked/cancelled); its
`Record`s are how that truth shows up in booking systems (an Eventbrite attendee row, a
Bookwhen attendance, a line in a paper sign-in register), messiness included. Rendered text
(name spelling, email case, title variant) is fixed on the record, so overlapping exports
show the same row the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(slots=True, eq=False)
class Session:
    partnership: str  # partnership id of this copy (e.g. "leap" or "leap_2")
    base_partnership: str  # id of the scale-1 partnership it copies
    training_type: str
    title: str
    start: datetime
    end: datetime
    online: bool
    delivery: str  # what the partnership's sessions file writes in its delivery/venue column
    place: str  # venue name, or the video platform for online sessions
    systems: tuple  # booking systems used: eventbrite, bookwhen, sign_in
    ref: str  # Eventbrite event ID, Bookwhen ref, or "" (register only)
    delivered: bool
    trainer: str
    note: str = ""
    capacity: int = 0  # attendances planned (delivered sessions only)


@dataclass(slots=True, eq=False)
class Person:
    index: int
    partnership: str  # home partnership (cross-partnership people also train elsewhere)
    first: str
    last: str
    email: str | None  # None: known only by name (Leap register, Bookwhen)
    role_group: str
    profession: str
    title: str  # job title as of the latest bookings
    organisation: str
    phone: str = ""
    customer_id: str = ""  # Bookwhen customer reference
    old_title: str | None = None  # job changers: title before `title_from`
    title_from: datetime | None = None
    cross_partnership: bool = False
    attendance_count: int = 0  # planned attendances (0 for people who only book)

    def title_at(self, when: datetime) -> str:
        """The job title this person gave for a session starting at `when`."""
        if self.old_title is not None and when < self.title_from:
            return self.old_title
        return self.title


@dataclass(slots=True, eq=False)
class Record:
    """One row source in one booking system."""

    system: str  # eventbrite | bookwhen | sign_in
    session: Session
    person: Person | None  # None: an unidentifiable row (Info Requested, no email)
    final_status: str  # eventbrite status, or bookwhen attended/no_show/cancelled, or sign_in attended
    ordered_at: datetime
    changed_at: datetime | None  # when a cancellation happened
    first: str
    last: str
    email: str
    job_title: str
    organisation: str
    order_id: int = 0
    attendee_id: int = 0
    buyer: Person | None = None  # who placed the Eventbrite order
    ticket_type: str = ""
    price_tier: str = ""
    heard_about: str = ""
    session_title: str = ""  # the session title as typed in this system (Bookwhen, register)
    same_order_as: "Record | None" = None  # second ticket of another attendee's order


@dataclass(slots=True, eq=False)
class Booking:
    """Ground truth: one person at one session."""

    person: Person
    session: Session
    status: str  # attended | booked | cancelled
    records: list = field(default_factory=list)


@dataclass(slots=True, eq=False)
class Response:
    dataset: str  # feedback | followup
    partnership: str
    booking: Booking
    submitted: datetime
    started: datetime
    usefulness: int | None
    knowledge: int | None = None  # feedback: importance of physical-activity conversations
    confidence: int | None = None
    how_often: str = ""
    doing_differently: str = ""
    job_title: str = ""
    setting: str = ""
    email: str = ""  # answer to "Email address (optional)"
    collected_email: str = ""  # the tool's own email column (MS Forms, Google Forms)
    respondent_name: str = ""
    response_id: str = ""  # the tool's response identity ("" for Google Forms)
    collector_id: str = ""


@dataclass(slots=True, eq=False)
class Model:
    replica: int
    partnerships: list  # (copy id, copy name, base id)
    sessions: list
    people: list
    bookings: list
    records: list  # every record, including unidentifiable ones that belong to no booking
    responses: list
