"""Recompute the evaluation's headline figures from a ground-truth model (test use only).

This applies the pipeline's documented semantics to the model's raw records - statuses as
they appear across overlapping exports, identity by trimmed lower-cased email or by name
within a partnership, one booking per person and session, role from the job title on the
most recent attended booking classified by the reference rules - so that a test can prove
the sample data is calibrated. It deliberately does not read the rendered files (that is the
pipeline's job) and nothing it computes is ever written to disk.
"""

from __future__ import annotations

import csv
import re
from collections import Counter, defaultdict
from pathlib import Path

from .exports import record_appearances
from .model import Model, Record

REFERENCE_DIR = Path(__file__).resolve().parents[2] / "data" / "reference"
STATUS_RANK = {"booked": 0, "cancelled": 1, "attended": 2}
MORE_OFTEN = {"much more often", "slightly more often"}


def load_rules(path: Path, column: str) -> list[tuple[re.Pattern, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return [(re.compile(row["pattern"], re.IGNORECASE), row[column]) for row in csv.DictReader(f)]


def load_mapping(path: Path, key: str, value: str) -> dict:
    with open(path, encoding="utf-8", newline="") as f:
        return {row[key]: row[value] for row in csv.DictReader(f)}


def classify(rules: list, text: str, default: str) -> str:
    """First rule whose regex is found in the whitespace-collapsed text."""
    text = " ".join(text.split())
    for pattern, value in rules:
        if pattern.search(text):
            return value
    return default


def canonical_status(system: str, raw: str) -> str:
    if system == "eventbrite":
        return "attended" if raw == "Checked In" else "booked" if raw == "Attending" else "cancelled"
    if system == "bookwhen":
        return "attended" if raw.endswith("/Yes") else "cancelled" if raw.startswith("Cancelled") else "booked"
    return "attended"


def resolved_status(record: Record) -> str:
    """The record's status over all exports it appears in: attended > cancelled > booked."""
    seen = record_appearances(record)
    if not seen:
        raise AssertionError(f"record for {record.session.title} appears in no export")
    return max((canonical_status(record.system, s) for s in seen), key=STATUS_RANK.__getitem__)


def identity(record: Record) -> tuple | None:
    """Who a booking row is: email, else name within the partnership, else nobody."""
    email = record.email.strip().lower()
    if email:
        return ("email", email)
    first, last = record.first.strip().lower(), record.last.strip().lower()
    if not (first or last) or "info requested" in (first, last):
        return None
    return ("name", record.session.partnership, first, last)


def response_key(response) -> tuple:
    """A response's identity: the tool's id, or for Google Forms the whole rendered row."""
    if response.response_id:
        return (response.partnership, response.dataset, response.response_id)
    return (
        response.partnership,
        response.dataset,
        response.submitted,
        response.collected_email,
        response.usefulness,
        response.how_often,
        response.doing_differently,
        response.setting,
        response.email,
    )


def mean(values: list) -> float | None:
    answered = [v for v in values if v is not None]
    return sum(answered) / len(answered) if answered else None


def ground_truth_summary(model: Model, reference_dir: Path = REFERENCE_DIR) -> dict:
    """The evaluation's figures as the pipeline's semantics would compute them from `model`."""
    job_rules = load_rules(reference_dir / "job_title_rules.csv", "profession")
    type_rules = load_rules(reference_dir / "training_type_rules.csv", "training_type")
    role_of = load_mapping(reference_dir / "professions.csv", "profession", "role_group")
    setting_of = {
        k.strip().lower(): v for k, v in load_mapping(reference_dir / "settings.csv", "answer", "setting").items()
    }

    bookings: dict = {}  # (identity, session) -> (status, record)
    quarantined = 0
    for record in model.records:
        who = identity(record)
        if who is None:
            quarantined += 1
            continue
        status = resolved_status(record)
        key = (who, record.session)
        if key not in bookings or STATUS_RANK[status] > STATUS_RANK[bookings[key][0]]:
            bookings[key] = (status, record)
    attended = [(who, session, record) for (who, session), (status, record) in bookings.items() if status == "attended"]

    type_of = {s: classify(type_rules, s.title, "other") for s in model.sessions}
    mismatched_types = sum(1 for s in model.sessions if type_of[s] != s.training_type)
    by_person = defaultdict(list)
    for who, session, record in attended:
        by_person[who].append((session.start, session, record))
    profession = {}
    for who, rows in by_person.items():
        latest = max(rows, key=lambda row: row[0])[2]
        profession[who] = classify(job_rules, latest.job_title, "unclassified")
    titles_changed = sum(
        1 for rows in by_person.values() if len({classify(job_rules, r.job_title, "?") for _, _, r in rows}) > 1
    )
    partnerships_of = defaultdict(set)
    for who, session, _ in attended:
        partnerships_of[who].add(session.partnership)

    delivered = sorted({session for _, session, _ in attended}, key=lambda s: s.start)
    responses = {}
    for r in model.responses:
        responses.setdefault(response_key(r), r)
    feedback = [r for r in responses.values() if r.dataset == "feedback"]
    followup = [r for r in responses.values() if r.dataset == "followup"]

    def more_share(rows) -> float | None:
        answered = [r for r in rows if r.how_often]
        return sum(r.how_often.lower() in MORE_OFTEN for r in answered) / len(answered) if answered else None

    followup_by_setting = defaultdict(list)
    for r in followup:
        if r.setting.strip():
            followup_by_setting[setting_of[r.setting.strip().lower()]].append(r)

    return {
        "people_trained": len(by_person),
        "attendances": len(attended),
        "sessions_delivered": len(delivered),
        "first_session_month": delivered[0].start.strftime("%Y-%m"),
        "last_session_month": delivered[-1].start.strftime("%Y-%m"),
        "months_with_sessions": len({s.start.strftime("%Y-%m") for s in delivered}),
        "sessions_not_delivered": sum(1 for s in model.sessions if s not in set(delivered)),
        "session_titles_misclassified": mismatched_types,
        "attendances_by_training_type": dict(Counter(type_of[s] for _, s, _ in attended)),
        "people_by_role_group": dict(Counter(role_of.get(p, "unclassified") for p in profession.values())),
        "physio_clinical_care_attendances": sum(
            1
            for who, s, _ in attended
            if type_of[s] == "physical_activity_in_clinical_care" and profession[who] == "physiotherapist"
        ),
        "people_with_changed_role": titles_changed,
        "people_trained_by_two_partnerships": sum(1 for p in partnerships_of.values() if len(p) > 1),
        "quarantined_records": quarantined,
        "feedback_responses": len(feedback),
        "followup_responses": len(followup),
        "feedback_usefulness_mean": mean([r.usefulness for r in feedback]),
        "feedback_knowledge_mean": mean([r.knowledge for r in feedback]),
        "feedback_confidence_mean": mean([r.confidence for r in feedback]),
        "followup_usefulness_mean": mean([r.usefulness for r in followup]),
        "followup_more_often_share": more_share(followup),
        "followup_more_often_share_by_setting": {k: more_share(v) for k, v in sorted(followup_by_setting.items())},
    }
