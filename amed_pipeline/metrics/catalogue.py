"""The metric contract: ids, units, dimensions and definitions (an interface: keep the names).

These definitions are written to the `metric_definitions` table and the exports, so the
evaluator can cite them. Changing a definition here changes the published meaning of a figure.
"""

from __future__ import annotations

from dataclasses import dataclass

from amed_pipeline.config import ALL_PARTNERSHIPS  # noqa: F401  (re-exported: the metrics' scope)

# Ranges in labels are written "0 to 10", never with a dash: the report draws "–" for a missing figure.
ONLINE_WORKSHOP_TYPES = ("helping_people_become_more_active", "physical_activity_in_clinical_care")
MORE_CONVERSATIONS = ("much_more", "slightly_more")


@dataclass(frozen=True)
class MetricDefinition:
    metric_id: str
    unit: str  # count | share | mean_0_10 | months
    dimension: str  # '' when none
    label: str
    definition: str
    monthly: bool = False  # also published with dimension='month'


METRICS: tuple[MetricDefinition, ...] = (
    MetricDefinition(
        "people_trained",
        "count",
        "",
        "People trained",
        "Distinct people with at least one attended session. A person is a pseudonym of their e-mail "
        "address (without one, of their name within a partnership); for 'all', a person trained by two "
        "partnerships counts once.",
        monthly=True,
    ),
    MetricDefinition(
        "attendances",
        "count",
        "",
        "Attendances",
        "Distinct (person, session) pairs with status attended. Several records of one person for one "
        "session (a second ticket, two booking systems) are one attendance.",
        monthly=True,
    ),
    MetricDefinition(
        "sessions_delivered",
        "count",
        "",
        "Sessions delivered",
        "Sessions with at least one attendance.",
        monthly=True,
    ),
    MetricDefinition(
        "delivery_months",
        "months",
        "",
        "Months of delivery",
        "Inclusive calendar-month span from the first to the last delivered session.",
    ),
    MetricDefinition(
        "training_type_share",
        "share",
        "training_type",
        "Share of attendances by training type",
        "Attendances at sessions of that training type / all attendances. Training type comes from the "
        "session title through reference/training_type_rules.csv.",
    ),
    MetricDefinition(
        "online_workshop_share",
        "share",
        "",
        "Share of attendances at the one-hour online workshops",
        "Attendances at the two one-hour online workshops (helping_people_become_more_active, "
        "physical_activity_in_clinical_care) / all attendances.",
    ),
    MetricDefinition(
        "role_group_share",
        "share",
        "role_group",
        "Share of people trained by role group",
        "People trained in that role group / people trained. A person's role is the job title on their "
        "most recent attended booking (by session start) with that partnership; for 'all', anywhere in the "
        "programme; on the same start, the booking of the larger session key. Classified by "
        "reference/job_title_rules.csv and reference/professions.csv.",
    ),
    MetricDefinition(
        "profession_share",
        "share",
        "training_type|profession",
        "Share of a training type's attendances by profession",
        "Attendances by people of that profession within that training type / attendances of that type; "
        "the numerator is the count. Profession is the person's role (most recent attended booking with that "
        "partnership; for 'all', in the programme).",
    ),
    MetricDefinition(
        "feedback_responses",
        "count",
        "",
        "Feedback responses",
        "End-of-session feedback responses, one per response (the survey tool's response id; without one, "
        "identical rows in one download are separate responses and the k-th copy in an overlapping download "
        "is the same response). Monthly rows count by month of submission.",
        monthly=True,
    ),
    MetricDefinition(
        "feedback_response_rate",
        "share",
        "",
        "Feedback response rate",
        "Feedback responses / attendances.",
    ),
    MetricDefinition(
        "followup_responses",
        "count",
        "",
        "Follow-up responses",
        "Follow-up survey responses (one to four months after the session), one per response. Monthly rows "
        "count by month of submission.",
        monthly=True,
    ),
    MetricDefinition(
        "followup_response_rate",
        "share",
        "",
        "Follow-up response rate",
        "Follow-up responses / attendances.",
    ),
    MetricDefinition(
        "usefulness_end_mean",
        "mean_0_10",
        "",
        "Usefulness at the end of the session (mean, 0 to 10)",
        "Mean of 'How useful was today's session to your role?' over feedback responses that answered it.",
    ),
    MetricDefinition(
        "knowledge_mean",
        "mean_0_10",
        "",
        "Knowledge (mean, 0 to 10)",
        "Mean of 'How important is it to have conversations about physical activity with the people you "
        "support?' over feedback responses that answered it.",
    ),
    MetricDefinition(
        "confidence_mean",
        "mean_0_10",
        "",
        "Confidence (mean, 0 to 10)",
        "Mean of 'How confident do you feel having conversations about physical activity?' over feedback "
        "responses that answered it.",
    ),
    MetricDefinition(
        "usefulness_followup_mean",
        "mean_0_10",
        "",
        "Usefulness at follow-up (mean, 0 to 10)",
        "Mean of 'How useful has the training been to your role?' over follow-up responses that answered it.",
    ),
    MetricDefinition(
        "more_conversations_share",
        "share",
        "",
        "Share having more conversations",
        "Follow-up responses answering 'much more often' or 'slightly more often' / follow-up responses that "
        "answered the question. Also by setting (dimension 'setting'), the setting the response itself gives.",
    ),
)

METRICS_BY_ID = {m.metric_id: m for m in METRICS}
