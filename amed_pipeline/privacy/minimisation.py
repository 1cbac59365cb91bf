"""Data minimisation at the raw-to-staged boundary: which fields go on, and the purpose of each.

UK GDPR asks for data "limited to what is necessary" (Art. 5(1)(c)). The raw-export assets are
the boundary: what they output is stored by Dagster (`DAGSTER_HOME/storage`) and flows on to
staging and the warehouse. Contact fields (email, first and last name) are already turned into
pseudonyms and dropped by `staging.people.attach_person_keys`; this module drops the remaining
fields that no metric, classification or check needs, and states the purpose of every field
that stays. A field in neither table fails `test_privacy_audit`, so a new field is a decision,
not an accident.

Quarantine records keep the raw text of a cell that could not be parsed, so the data engineer
can fix the file; a misaligned row can put someone's address there, so contact details and known
names in values and reasons are masked (`privacy.redaction`).

Free text that stays, and why: `job_title` is classified into a profession (the warehouse keeps
each distinct title only in `job_title_classification`, with no link to a person);
`doing_differently` is read by the evaluator (kept only in `followup_comment`, with no link to a
person); `setting` is classified into a setting (the warehouse keeps the class). All of it is
redacted before it is stored: emails, UK phone numbers, postcodes and known full names
(`privacy.redaction`).
"""

from __future__ import annotations

import pandas as pd

# Fields dropped at the boundary, with the reason they are not needed.
DROPPED_AT_BOUNDARY = {
    "organisation": "the employer's name: no metric uses it, and with a job title it narrows down who someone is",
    "attendee_ref": "Eventbrite's attendee number links back to the person in Eventbrite; only needed to "
    "match copies of a record, which the keyed record_ref does",
    "order_ref": "Eventbrite's order number, as attendee_ref",
    "ticket_type": "not used by any metric",
    "booked_at": "when the booking was made: not used by any metric",
    "raw_status": "the booking system's own status text: already turned into status and record_rank",
}

# Every field that leaves the boundary, and its purpose.
KEPT_FIELDS = {
    # lineage: every row traces back to its file and row (row accounting, quarantine, audits)
    "partnership_id": "lineage and per-partnership metrics",
    "source_name": "lineage",
    "source_format": "lineage",
    "source_file": "lineage and row accounting",
    "source_row": "lineage and row accounting",
    # people, as pseudonyms only
    "person_key": "counts people once across sessions and partnerships (HMAC pseudonym)",
    "key_version": "which pseudonym key made person_key (key rotation)",
    # sessions
    "session_ref": "links bookings to sessions",
    "title": "session title: training type classification and linking bookings by title",
    "training_type": "metrics by training type",
    "start": "session date: delivery metrics by month",
    "start_date": "session date (when date and time are separate columns)",
    "start_time": "session time (when date and time are separate columns)",
    "delivery_mode": "online or in person",
    # bookings
    "session_title": "links a booking to its session when there is no reference",
    "session_start": "links a booking to its session when there is no reference",
    "status": "attended, booked or cancelled",
    "booking_status": "cancellations",
    "job_title": "free text, classified into a profession and role group",
    "record_rank": "resolves copies of one booking in overlapping exports",
    "record_ref": "keyed (HMAC) identity of a booking record, to merge its copies",
    # survey responses
    "response_id": "the survey tool's response id: removes duplicate downloads",
    "submitted_at": "response month",
    "usefulness": "rating 0-10",
    "knowledge": "rating 0-10",
    "confidence": "rating 0-10",
    "conversations": "change in conversations about physical activity",
    "doing_differently": "free text for the evaluator; stored only in followup_comment, with no link to a person",
    "setting": "free text or choice, classified into a setting",
    # added as rows land (landing.tables): free text itself never lands next to a pseudonym
    "profession": (
        "the job title's classification; the title is kept only in landing_job_title and job_title_classification, "
        "unlinked"
    ),
    "comment_digest": (
        "keyed digest of the comment, so identical rows in overlapping downloads stay one response; "
        "the comment is kept only in landing_comment and followup_comment, unlinked"
    ),
}


def minimise(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows without the fields in `DROPPED_AT_BOUNDARY`."""
    return rows.drop(columns=[c for c in DROPPED_AT_BOUNDARY if c in rows.columns])


def undocumented_fields(columns) -> list[str]:
    """Columns that leave the boundary without a documented purpose."""
    return [c for c in columns if c not in KEPT_FIELDS]
