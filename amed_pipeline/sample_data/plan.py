"""The calibrated shape of the Active Medicine programme, and how it scales.

The published evaluation (July 2020 - July 2021) reports 1,301 people trained in 68 sessions
with 1,385 attendances. The numbers below are the scale-1 ground truth that makes those
figures come out exactly; `plan_for(factor)` multiplies every count by `factor` (one replica
of the three partnerships at scale K holds K / copies of the programme), so large samples keep
the same proportions. Only counts live here: how they are turned into people, sessions and
files is in `programme.py` and `render.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from .vocab import TRAINING_TYPES

HP, PACC, MI, IAPT = TRAINING_TYPES
HSC, TSVC, LW, TT = (
    "health_and_social_care",
    "third_sector_volunteers_council",
    "link_workers",
    "talking_therapies",
)

PARTNERSHIPS = (
    ("active_oxfordshire", "Active Oxfordshire"),
    ("get_berkshire_active", "Get Berkshire Active"),
    ("leap", "Leap"),
)
PROGRAMME_START = date(2020, 7, 1)
PROGRAMME_MONTHS = 13  # July 2020 .. July 2021

# Delivered sessions per partnership and training type (68 in all).
SESSIONS = {
    "active_oxfordshire": {HP: 11, PACC: 10, MI: 4, IAPT: 3},
    "get_berkshire_active": {HP: 8, PACC: 8, MI: 3, IAPT: 3},
    "leap": {HP: 7, PACC: 6, MI: 3, IAPT: 2},
}
ATTENDANCES = {HP: 596, PACC: 540, MI: 152, IAPT: 97}  # 1,385
PEOPLE = {HSC: 559, TSVC: 442, LW: 156, TT: 144}  # 1,301 trained people
THREE_TIME_ATTENDERS = 3  # the rest of the 84 repeat attendances are two-timers
PHYSIO_CLINICAL_CARE_ATTENDANCES = 54

FEEDBACK_RESPONSES = 462
# Follow-up "how often" quota per work setting: (answered, answered much/slightly more, left blank).
FOLLOWUP_QUOTA = {
    "GP practice": (25, 21, 1),
    "Hospital": (22, 18, 0),
    "Charity or voluntary sector": (25, 19, 0),
    "Local authority (council)": (22, 14, 1),
    "Community health services": (22, 15, 0),
    "Other": (17, 11, 1),
    "": (3, 1, 0),  # setting question left blank
}  # 139 responses, 99 of 136 answered "more" = 73 %

# Rating targets: mean over answered responses, with a few blanks and a few real zeros.
RATING_TARGETS = {
    "feedback_usefulness": (8.5, 3, 2),
    "feedback_knowledge": (8.4, 4, 1),
    "feedback_confidence": (8.0, 5, 1),
    "followup_usefulness": (7.5, 2, 1),
}


@dataclass(frozen=True)
class Plan:
    """Every count one replica of the programme must contain."""

    factor: float
    sessions: dict  # partnership -> training type -> delivered sessions
    undelivered: dict  # partnership -> sessions in a delivery log that never ran
    attendances: dict  # training type -> attendances
    people: dict  # role group -> trained people
    three_time_attenders: int
    two_time_attenders: int
    physio_clinical_care_attendances: int
    cross_partnership_people: int
    job_changers: int
    second_tickets: int
    quarantined_rows: int
    info_requested_with_email: int
    dual_listed_sessions: int  # GBA sessions on both Eventbrite and Bookwhen
    register_and_eventbrite_sessions: int  # Leap sessions booked on Eventbrite with a paper register
    physios_without_clinical_care: int
    feedback_responses: int
    followup_quota: dict
    rating_targets: dict


def scaled(count: int, factor: float, minimum: int = 0) -> int:
    """`count` scaled by `factor`, rounded half up, never below `minimum`."""
    return max(minimum, int(count * factor + 0.5))


def plan_for(factor: float = 1.0) -> Plan:
    """The programme's counts for one replica holding `factor` times the real programme."""
    sessions = {p: {t: scaled(n, factor, 1) for t, n in by_type.items()} for p, by_type in SESSIONS.items()}
    attendances = {t: scaled(n, factor, 1) for t, n in ATTENDANCES.items()}
    people = {g: scaled(n, factor, 1) for g, n in PEOPLE.items()}
    total_attendances = sum(attendances.values())
    total_people = sum(people.values())
    three = scaled(THREE_TIME_ATTENDERS, factor)
    two = total_attendances - total_people - 2 * three
    if two < 0:
        raise ValueError(f"factor {factor} leaves fewer attendances than people")
    quota = {
        setting: (scaled(answered, factor), scaled(more, factor), scaled(blank, factor))
        for setting, (answered, more, blank) in FOLLOWUP_QUOTA.items()
    }
    ratings = {
        key: (target, scaled(blanks, factor), scaled(zeros, factor))
        for key, (target, blanks, zeros) in RATING_TARGETS.items()
    }
    return Plan(
        factor=factor,
        sessions=sessions,
        undelivered={
            "active_oxfordshire": scaled(1, factor, 1),
            "get_berkshire_active": 0,
            "leap": scaled(1, factor, 1),
        },
        attendances=attendances,
        people=people,
        three_time_attenders=three,
        two_time_attenders=two,
        physio_clinical_care_attendances=scaled(PHYSIO_CLINICAL_CARE_ATTENDANCES, factor),
        cross_partnership_people=scaled(14, factor, 1),
        job_changers=scaled(7, factor, 1),
        second_tickets=scaled(4, factor, 1),
        quarantined_rows=scaled(5, factor, 1),
        info_requested_with_email=scaled(3, factor, 1),
        dual_listed_sessions=scaled(2, factor, 1),
        register_and_eventbrite_sessions=scaled(2, factor, 1),
        physios_without_clinical_care=scaled(5, factor),
        feedback_responses=scaled(FEEDBACK_RESPONSES, factor, 1),
        followup_quota=quota,
        rating_targets=ratings,
    )
