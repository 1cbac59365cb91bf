"""The evaluation's vocabulary: datasets, file and API formats, canonical fields and their choices.

The ground floor under `config`, `reading` and `staging`: the config loader validates a source's
`dataset`, `format` and field names against these lists, the readers convert located columns into
these fields, and staging ranks booking statuses by `STATUS_PRECEDENCE`. Each fact is kept here
once. This module imports nothing from `amed_pipeline`, and holds no behaviour (the converter from
text to these fields is `reading.fields`).
"""

from __future__ import annotations

from dataclasses import dataclass

# The datasets a source can feed, in pipeline order.
DATASETS = ("sessions", "bookings", "feedback", "followup")
SURVEY_DATASETS = ("feedback", "followup")
# The file formats a source can declare, and the API formats (their options: `config/api_sources.py`).
FILE_FORMATS = ("eventbrite", "surveymonkey", "msforms", "google_forms", "jisc", "mapped_csv")
# format → what it pulls (the README's table); the order is the order in error messages.
API_FORMATS = ("eventbrite_api", "surveymonkey_api", "google_forms_api", "graph_drive")
FORMATS = FILE_FORMATS + API_FORMATS

BOOKING_STATUSES = ("attended", "booked", "cancelled")
# Which of several copies of one booking wins (higher wins): the adapters and staging rank by it.
STATUS_PRECEDENCE = {"attended": 3, "cancelled": 2, "booked": 1}
DELIVERY_MODES = ("online", "in_person")
CONVERSATIONS = ("much_more", "slightly_more", "same", "less")


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # text | identifier | datetime | date | time | rating | choice | personal | email
    choices: tuple[str, ...] = ()


SESSION_FIELDS = (
    Field("session_ref", "identifier"),
    Field("title", "text"),
    Field("training_type", "text"),
    Field("start", "datetime"),
    Field("start_date", "date"),
    Field("start_time", "time"),
    Field("delivery_mode", "choice", DELIVERY_MODES),
)
BOOKING_FIELDS = (
    Field("session_ref", "identifier"),
    Field("session_title", "text"),
    Field("session_start", "datetime"),
    Field("attendee_ref", "identifier"),
    Field("order_ref", "identifier"),
    Field("raw_status", "text"),
    Field("status", "choice", BOOKING_STATUSES),
    Field("booking_status", "choice", ("cancelled", "")),
    Field("ticket_type", "text"),
    Field("email", "email"),
    Field("first_name", "personal"),
    Field("last_name", "personal"),
    Field("job_title", "text"),
    Field("organisation", "text"),
    Field("booked_at", "datetime"),
)
# Who answered a survey. `email` is the questionnaire's optional "Email address" question; the
# others are the survey tool's own record of the respondent (MS Forms `Email`/`Name`,
# SurveyMonkey's `Email Address`/`First Name`/`Last Name`, Google's collected address).
# Identity prefers the tool's record when the form is not anonymous (`staging.people`).
RESPONDENT_FIELDS = (
    Field("email", "email"),
    Field("respondent_email", "email"),
    Field("respondent_name", "personal"),
    Field("first_name", "personal"),
    Field("last_name", "personal"),
)
FEEDBACK_FIELDS = (
    Field("response_id", "identifier"),
    Field("submitted_at", "datetime"),
    Field("usefulness", "rating"),
    Field("knowledge", "rating"),
    Field("confidence", "rating"),
    Field("job_title", "text"),
    Field("setting", "text"),
    *RESPONDENT_FIELDS,
)
FOLLOWUP_FIELDS = (
    Field("response_id", "identifier"),
    Field("submitted_at", "datetime"),
    Field("usefulness", "rating"),
    Field("conversations", "choice", CONVERSATIONS),
    Field("doing_differently", "text"),
    Field("setting", "text"),
    Field("job_title", "text"),
    *RESPONDENT_FIELDS,
)
DATASET_FIELDS = {
    "sessions": SESSION_FIELDS,
    "bookings": BOOKING_FIELDS,
    "feedback": FEEDBACK_FIELDS,
    "followup": FOLLOWUP_FIELDS,
}

# A file lacking any of these cannot give correct rows: the whole file is refused.
# Each entry is a tuple of alternatives: one of them must be located.
REQUIRED_FIELDS = {
    "sessions": (("title",), ("start", "start_date")),
    "bookings": (("status",), ("session_ref", "session_title"), ("email", "first_name", "last_name")),
    "feedback": (("usefulness", "knowledge", "confidence"),),
    "followup": (("usefulness", "conversations"),),
}
