"""Who answered the end-of-session feedback and the follow-up survey, and what they said.

Responses are drawn from attended bookings, in proportion to each partnership's attendances.
Ratings are generated for the whole replica at once so that their means hit the evaluation's
figures; the follow-up "how often" answers follow a per-setting quota (GP practice 84 %,
hospital 82 %, charity 76 %, 73 % overall), each given by someone whose role fits the setting.
Each tool's identity is then assigned: SurveyMonkey respondent IDs, MS Forms row IDs, JISC
URNs, and for Google Forms (no id) timestamps kept unique within the form.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, time, timedelta

from . import vocab
from .draws import awake, largest_remainder, messy_email, ratings_with_mean, weighted_choice
from .model import Booking, Response, Session
from .plan import PARTNERSHIPS, Plan

AO, GBA, LEAP = (p for p, _ in PARTNERSHIPS)


class SurveyBuilder:
    """Builds every survey response of one replica from its bookings."""

    def __init__(self, rng: random.Random, plan: Plan, bookings: list[Booking]) -> None:
        self.rng = rng
        self.plan = plan
        self.bookings = bookings

    def build(self) -> list[Response]:
        responses = self.feedback_responses() + self.followup_responses()
        self.number_responses(responses)
        return responses

    def attended_by_partnership(self) -> dict:
        by_pid = defaultdict(list)
        for b in self.bookings:
            if b.status == "attended":
                by_pid[b.session.partnership].append(b)
        return by_pid

    def feedback_responses(self) -> list[Response]:
        rng = self.rng
        by_pid = self.attended_by_partnership()
        counts = largest_remainder(self.plan.feedback_responses, {p: len(b) for p, b in by_pid.items()})
        n = self.plan.feedback_responses
        targets = self.plan.rating_targets
        usefulness = ratings_with_mean(rng, n, *targets["feedback_usefulness"])
        knowledge = ratings_with_mean(rng, n, *targets["feedback_knowledge"])
        confidence = ratings_with_mean(rng, n, *targets["feedback_confidence"])
        responses = []
        for pid in sorted(by_pid):
            for booking in rng.sample(by_pid[pid], counts[pid]):
                k = len(responses)
                submitted = self.feedback_time(booking.session)
                responses.append(
                    self.response("feedback", booking, submitted, usefulness[k], knowledge[k], confidence[k])
                )
        return responses

    def feedback_time(self, session: Session) -> datetime:
        r = self.rng.random()
        if r < 0.65:
            delay = self.rng.uniform(120, 3 * 3600)
        elif r < 0.9:
            delay = self.rng.uniform(3 * 3600, 2 * 86400)
        else:
            delay = self.rng.uniform(2 * 86400, 6.5 * 86400)
        submitted = (session.end + timedelta(seconds=delay)).replace(microsecond=0)
        return submitted if 7 <= submitted.hour else awake(self.rng, submitted.replace(hour=0))

    def followup_time(self, session: Session) -> datetime:
        day = session.start.date() + timedelta(days=self.rng.randint(30, 120))
        return datetime.combine(day, time(self.rng.randint(8, 21), self.rng.randrange(60), self.rng.randrange(60)))

    def response(self, dataset, booking, submitted, usefulness, knowledge=None, confidence=None) -> Response:
        rng = self.rng
        person = booking.person
        title = person.title_at(booking.session.start)
        r = rng.random()
        job_title = title if r < 0.85 else title.lower() if r < 0.95 else ""
        setting = weighted_choice(rng, vocab.SETTING_WEIGHTS[person.role_group]) if rng.random() > 0.02 else ""
        email = messy_email(rng, person.email) if person.email and rng.random() < 0.2 else ""
        return Response(
            dataset=dataset,
            partnership=booking.session.partnership,
            booking=booking,
            submitted=submitted,
            started=submitted - timedelta(seconds=rng.randint(90, 600)),
            usefulness=usefulness,
            knowledge=knowledge,
            confidence=confidence,
            job_title=job_title,
            setting=setting,
            email=email,
        )

    def followup_entries(self) -> list[tuple[str, str]]:
        """(setting, how-often answer) for every follow-up response, per the calibrated quota."""
        rng = self.rng
        entries = []
        for setting, (answered, more, blank) in self.plan.followup_quota.items():
            entries += [(setting, rng.choices(vocab.HOW_OFTEN_MORE, (45, 55))[0]) for _ in range(more)]
            entries += [(setting, rng.choices(vocab.HOW_OFTEN_NOT_MORE, (85, 15))[0]) for _ in range(answered - more)]
            entries += [(setting, "") for _ in range(blank)]
        rng.shuffle(entries)
        return entries

    def followup_responses(self) -> list[Response]:
        rng = self.rng
        entries = self.followup_entries()
        by_pid = self.attended_by_partnership()
        counts = largest_remainder(len(entries), {p: len(b) for p, b in by_pid.items()})
        pid_order = [p for p in sorted(counts) for _ in range(counts[p])]
        rng.shuffle(pid_order)
        pools = {p: defaultdict(list) for p in by_pid}
        for pid, bookings in by_pid.items():
            for b in bookings:
                pools[pid][b.person.role_group].append(b)
            for pool in pools[pid].values():
                rng.shuffle(pool)
        usefulness = ratings_with_mean(rng, len(entries), *self.plan.rating_targets["followup_usefulness"])
        responses = []
        for k, ((setting, how_often), pid) in enumerate(zip(entries, pid_order)):
            booking = self.pop_respondent(pools[pid], vocab.SETTING_ROLE_GROUPS[setting])
            response = self.response("followup", booking, self.followup_time(booking.session), usefulness[k])
            response.setting, response.how_often = setting, how_often
            response.doing_differently = self.doing_differently()
            responses.append(response)
        return responses

    def pop_respondent(self, pools: dict, groups: tuple) -> Booking:
        groups = [g for g in groups if pools[g]] or [g for g in pools if pools[g]]
        group = self.rng.choices(groups, [len(pools[g]) for g in groups])[0]
        return pools[group].pop()

    def doing_differently(self) -> str:
        r = self.rng.random()
        if r < 0.1:
            return ""
        if r < 0.22:
            return self.rng.choice(vocab.DOING_DIFFERENTLY_MULTILINE)
        return self.rng.choice(vocab.DOING_DIFFERENTLY)

    def number_responses(self, responses: list[Response]) -> None:
        """Tool identities: SurveyMonkey respondent IDs, MS Forms row IDs, JISC URNs;
        Google Forms has none, so its timestamps are kept unique per form."""
        rng = self.rng
        groups = defaultdict(list)
        for r in responses:
            groups[(r.booking.session.base_partnership, r.dataset)].append(r)
        for (base, dataset), group in sorted(groups.items()):
            group.sort(key=lambda r: r.submitted)
            if base == AO:
                self.surveymonkey_ids(group)
            elif base == GBA and dataset == "feedback":
                for i, r in enumerate(group, 1):
                    r.response_id = str(i)
                    self.msforms_identity(r)
            elif base == LEAP and dataset == "feedback":
                urn = rng.randrange(33_800_000, 33_900_000)
                for r in group:
                    urn += rng.randint(3, 400)
                    r.response_id = f"356806-356797-{urn}"
            else:
                self.google_identity(group)

    def surveymonkey_ids(self, group: list[Response]) -> None:
        rng = self.rng
        respondent = rng.randrange(11_820_000_000, 11_880_000_000)
        collectors = {
            2020: str(rng.randrange(260_000_000, 270_000_000)),
            2021: str(rng.randrange(280_000_000, 290_000_000)),
        }
        for r in group:
            respondent += rng.randint(50_000, 900_000)
            r.response_id = str(respondent)
            r.collector_id = collectors[r.booking.session.start.year]

    def msforms_identity(self, r: Response) -> None:
        person = r.booking.person
        if person.email and self.rng.random() < 0.45:
            r.collected_email, r.respondent_name = person.email, f"{person.first} {person.last}"
        else:
            r.collected_email = "anonymous"

    def google_identity(self, group: list[Response]) -> None:
        seen = set()
        for r in group:
            while r.submitted in seen:
                r.submitted += timedelta(seconds=1)
            seen.add(r.submitted)
            if r.submitted >= datetime(2021, 1, 1) and r.booking.person.email:
                r.collected_email = r.booking.person.email
