"""Build one replica of the programme (three partnerships) as a ground-truth `Model`.

The plan (`plan.py`) fixes the counts; this module decides who attended what, when, under
which job title, and how each booking shows up in the booking systems, including the messy
cases the pipeline must resolve; `surveys.py` then decides who answered which survey. Exact
targets are met by construction rather than by luck: capacities are split exactly, people
fill slots until none are left, physiotherapists are chosen until their clinical-care
attendances sum to the target. Everything random comes from one `random.Random` seeded with
(seed, replica), so the same seed gives the same model.
"""

from __future__ import annotations

import random
import re
import string
import unicodedata
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from functools import lru_cache

from . import vocab
from .draws import awake, largest_remainder, messy_email, messy_title, split_total, weighted_choice
from .exports import EVENTBRITE_EXPORTS
from .model import Booking, Model, Person, Record, Session
from .plan import HP, HSC, IAPT, MI, PACC, PARTNERSHIPS, PROGRAMME_MONTHS, PROGRAMME_START, Plan, plan_for
from .surveys import SurveyBuilder

AO, GBA, LEAP = (p for p, _ in PARTNERSHIPS)
LOCKDOWN_MONTHS = {4, 6, 7, 8}  # Nov 2020, Jan-Mar 2021: in-person courses moved online
TIMINGS = {
    HP: ((time(9, 30), 60), (time(12, 30), 60), (time(13, 0), 60), (time(14, 0), 60), (time(18, 30), 60)),
    PACC: ((time(9, 0), 60), (time(12, 30), 60), (time(13, 0), 75), (time(17, 0), 60)),
    MI: ((time(9, 30), 180), (time(13, 0), 180)),
    IAPT: ((time(9, 30), 150), (time(13, 30), 150)),
}
# How strongly each role group gravitates to each training type (relative weights).
TYPE_PREFERENCE = {
    "health_and_social_care": {HP: 2.0, PACC: 5.0, MI: 1.5, IAPT: 0.1},
    "third_sector_volunteers_council": {HP: 5.0, PACC: 0.8, MI: 1.2, IAPT: 0.05},
    "link_workers": {HP: 3.0, PACC: 1.2, MI: 2.0, IAPT: 0.1},
    "talking_therapies": {HP: 1.0, PACC: 0.5, MI: 1.0, IAPT: 12.0},
}
EVENTBRITE_CANCELLATIONS = {"Not Attending": 60, "Deleted": 15, "Refunded": 15, "Transferred": 10}
AO_TICKET_TYPES = ("Free place", "NHS / health and care staff", "Voluntary and community sector")


class Registry:
    """Identifiers that must stay unique across every replica of one run."""

    def __init__(self) -> None:
        self.emails: set[str] = set()
        self.event_ids: set[int] = set()
        self.bookwhen_refs: set[str] = set()

    def email(self, rng: random.Random, first: str, last: str, domain: str) -> str:
        base = email_local_part(rng, first, last)
        candidate = f"{base}@{domain}"
        while candidate in self.emails:
            candidate = f"{base}{rng.randint(2, 999)}@{domain}"
        self.emails.add(candidate)
        return candidate

    def event_id(self, rng: random.Random) -> int:
        while (value := rng.randrange(110_000_000_000, 170_000_000_000)) in self.event_ids:
            pass
        self.event_ids.add(value)
        return value

    def bookwhen_ref(self, rng: random.Random) -> str:
        while (value := "".join(rng.choices(string.ascii_uppercase, k=5))) in self.bookwhen_refs:
            pass
        self.bookwhen_refs.add(value)
        return value


def copy_id(base_id: str, replica: int) -> str:
    """Partnership id of the `replica`-th copy (copy 1 keeps the original id)."""
    return base_id if replica == 1 else f"{base_id}_{replica}"


def copy_name(name: str, replica: int) -> str:
    return name if replica == 1 else f"{name} {replica}"


@lru_cache(maxsize=None)
def ascii_letters(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z]", "", folded.lower())


def email_local_part(rng: random.Random, first: str, last: str) -> str:
    first_letters, last_letters = ascii_letters(first), ascii_letters(last)
    style = rng.random()
    if style < 0.6:
        return f"{first_letters}.{last_letters}"
    if style < 0.8:
        return f"{first_letters[0]}{last_letters}"
    if style < 0.9:
        return f"{first_letters}{last_letters}"
    return f"{first_letters}_{last_letters}"


def normalised_title(title: str) -> str:
    return " ".join(title.split()).lower()


def month_start(index: int) -> date:
    """First day of the programme's `index`-th month (0 = July 2020)."""
    months = PROGRAMME_START.month - 1 + index
    return date(PROGRAMME_START.year + months // 12, months % 12 + 1, 1)


def build_model(seed: int = 2020, replica: int = 1, factor: float = 1.0, registry: Registry | None = None) -> Model:
    """The ground truth of replica `replica` (copy ids `<id>_<replica>` for replica > 1)."""
    rng = random.Random(f"amed-sample-data:{seed}:{replica}")
    return ProgrammeBuilder(rng, plan_for(factor), registry or Registry(), replica).build()


class ProgrammeBuilder:
    """Builds one replica step by step; each step is one method reading like the brief."""

    def __init__(self, rng: random.Random, plan: Plan, registry: Registry, replica: int) -> None:
        self.rng = rng
        self.plan = plan
        self.registry = registry
        self.replica = replica
        self.pids = {base: copy_id(base, replica) for base, _ in PARTNERSHIPS}
        self.people: list[Person] = []
        self.bookings: list[Booking] = []
        self.records: list[Record] = []
        self.booking_of: dict = {}  # (person, session) -> Booking
        self.bookings_by_person: dict = defaultdict(list)
        self.sessions_with_records: set = set()
        self._last_attended: dict = {}
        self.name_counts: Counter = Counter()
        self.name_only_names: set = set()
        self.seq = 0

    # ------------------------------------------------------------------ orchestration
    def build(self) -> Model:
        sessions = self.sessions()
        self.allocate_capacities(sessions)
        trained = self.trained_people()
        self.assign_attendances(trained, sessions)
        self.job_changers(trained)
        self.professions(trained)
        for booking in list(self.bookings):
            self.attended_records(booking)
        self.name_only_people(trained)
        self.signature_names()
        for session in sessions:
            if session.delivered:
                self.non_attended_bookings(session, trained)
            elif "eventbrite" in session.systems:
                self.undelivered_bookings(session, trained)
        self.second_tickets()
        self.info_requested_with_email()
        self.group_orders()
        self.quarantined_rows()
        self.number_eventbrite_orders()
        responses = SurveyBuilder(self.rng, self.plan, self.bookings).build()
        partnerships = [(self.pids[base], copy_name(name, self.replica), base) for base, name in PARTNERSHIPS]
        return Model(self.replica, partnerships, sessions, self.people, self.bookings, self.records, responses)

    # ------------------------------------------------------------------ sessions
    def sessions(self) -> list[Session]:
        sessions = []
        for base, _ in PARTNERSHIPS:
            taken: set = set()
            types = [t for t, n in self.plan.sessions[base].items() for _ in range(n)]
            self.rng.shuffle(types)
            for i, training_type in enumerate(types):
                sessions.append(self.session(base, training_type, i * PROGRAMME_MONTHS // len(types), taken, True))
            for _ in range(self.plan.undelivered[base]):
                sessions.append(self.undelivered_session(base, taken))
        self.choose_systems(sessions)
        for s in sessions:
            if "eventbrite" in s.systems:
                s.ref = str(self.registry.event_id(self.rng))
            elif "bookwhen" in s.systems:
                s.ref = self.registry.bookwhen_ref(self.rng)
        return sessions

    def session(self, base: str, training_type: str, month: int, taken: set, delivered: bool) -> Session:
        rng = self.rng
        first = month_start(month)
        days = (month_start(month + 1) - first).days
        attempt = 0
        while True:
            attempt += 1
            day = first + timedelta(days=rng.randrange(days))
            if day.weekday() >= 5:
                continue
            title = rng.choice(vocab.SESSION_TITLES[training_type])
            if attempt > 60:
                title = f"{title} (cohort {attempt})"
            if (normalised_title(title), day) not in taken:
                break
        taken.add((normalised_title(title), day))
        start_at, minutes = rng.choice(TIMINGS[training_type])
        start = datetime.combine(day, start_at)
        online = training_type in vocab.ONLINE_WORKSHOPS or month in LOCKDOWN_MONTHS or rng.random() < 0.1
        delivery, place = self.delivery(base, online)
        return Session(
            partnership=self.pids[base],
            base_partnership=base,
            training_type=training_type,
            title=title,
            start=start,
            end=start + timedelta(minutes=minutes),
            online=online,
            delivery=delivery,
            place=place,
            systems=(),
            ref="",
            delivered=delivered,
            trainer=rng.choice(vocab.TRAINERS),
        )

    def undelivered_session(self, base: str, taken: set) -> Session:
        if base == AO:
            s = self.session(base, HP, self.rng.randrange(2, 11), taken, False)
            s.note = "Cancelled - trainer unwell; bookings transferred to the next date"
        else:
            s = self.session(base, MI, self.rng.choice((4, 6, 7)), taken, False)
            s.online = False
            s.delivery, s.place = self.delivery(base, False)
            s.note = "Postponed (national lockdown)"
        return s

    def delivery(self, base: str, online: bool) -> tuple[str, str]:
        """(text in the sessions file's delivery column, venue or platform)."""
        rng = self.rng
        if online:
            platform = rng.choice(("Zoom", "Microsoft Teams"))
            if base == AO:
                return ("Online (Zoom)" if platform == "Zoom" else "Online (Teams)"), platform
            if base == GBA:
                return rng.choice(("Online", platform, platform)), platform
            return "Virtual", platform
        venue = rng.choice(vocab.VENUES[base])
        if base == AO:
            return "Face to face", venue
        if base == GBA:
            return venue, venue
        return "In person", venue

    def choose_systems(self, sessions: list[Session]) -> None:
        """Which booking systems each session used."""
        for s in sessions:
            if s.base_partnership == AO or s.training_type in vocab.ONLINE_WORKSHOPS:
                s.systems = ("eventbrite",)
            elif s.base_partnership == GBA:
                s.systems = ("bookwhen",)
            else:
                s.systems = ("sign_in",)
        gba_eventbrite = [
            s for s in sessions if s.delivered and s.base_partnership == GBA and s.systems == ("eventbrite",)
        ]
        for s in self.rng.sample(gba_eventbrite, self.plan.dual_listed_sessions):
            s.systems = ("eventbrite", "bookwhen")
        leap_register = [
            s for s in sessions if s.delivered and s.base_partnership == LEAP and s.systems == ("sign_in",)
        ]
        for s in self.rng.sample(leap_register, self.plan.register_and_eventbrite_sessions):
            s.systems = ("eventbrite", "sign_in")

    def allocate_capacities(self, sessions: list[Session]) -> None:
        for training_type, total in self.plan.attendances.items():
            group = [s for s in sessions if s.delivered and s.training_type == training_type]
            for s, capacity in zip(group, split_total(self.rng, total, len(group))):
                s.capacity = capacity

    # ------------------------------------------------------------------ people and attendances
    def new_person(self, role_group: str, partnership: str = "", *, unclassified: bool = False) -> Person:
        rng = self.rng
        while True:
            first, last = rng.choice(vocab.FIRST_NAMES), rng.choice(vocab.SURNAMES)
            if (first.lower(), last.lower()) not in self.name_only_names:
                break
        self.name_counts[(first.lower(), last.lower())] += 1
        domain_group = "unclassified" if unclassified else role_group
        email = self.registry.email(rng, first, last, rng.choice(vocab.EMAIL_DOMAINS[domain_group]))
        person = Person(
            index=len(self.people),
            partnership=partnership,
            first=first,
            last=last,
            email=email,
            role_group=role_group,
            profession="",
            title="",
            organisation=rng.choice(vocab.ORGANISATIONS[role_group]),
            phone=f"07700 900{rng.randrange(1000):03d}" if rng.random() < 0.7 else "",
        )
        if unclassified:
            person.profession, person.title = "unclassified", rng.choice(vocab.UNCLASSIFIED_TITLES)
        self.people.append(person)
        return person

    def trained_people(self) -> list[Person]:
        roles = [g for g, n in self.plan.people.items() for _ in range(n)]
        self.rng.shuffle(roles)
        people = [self.new_person(g) for g in roles]
        three, two = self.plan.three_time_attenders, self.plan.two_time_attenders
        for i, person in enumerate(people):
            person.attendance_count = 3 if i < three else 2 if i < three + two else 1
        for person in self.rng.sample(people[three : three + two], self.plan.cross_partnership_people):
            person.cross_partnership = True
        return people

    def assign_attendances(self, people: list[Person], sessions: list[Session]) -> None:
        """Fill every session's capacity with people, repeat attenders first."""
        pools: dict = defaultdict(list)
        for s in sessions:
            if s.delivered:
                pools[(s.partnership, s.training_type)].extend([s] * s.capacity)
        for pool in pools.values():
            self.rng.shuffle(pool)
        remaining = Counter()
        for (pid, _), pool in pools.items():
            remaining[pid] += len(pool)
        order = sorted(people, key=lambda p: (not p.cross_partnership, -p.attendance_count))
        for person in order:
            homes = self.homes(person, remaining)
            person.partnership = homes[0]
            chosen: list[Session] = []
            for home in homes:
                chosen.append(self.take_slot(pools, remaining, home, person, chosen))
            for s in chosen:
                self.add_booking(person, s, "attended")

    def homes(self, person: Person, remaining: Counter) -> list[str]:
        """The partnership of each of the person's attendances."""
        pids = list(remaining)
        if person.cross_partnership:
            first = self.rng.choices(pids, [remaining[p] for p in pids])[0]
            others = [p for p in pids if p != first]
            second = self.rng.choices(others, [remaining[p] for p in others])[0]
            return [first, second]
        k = person.attendance_count
        weights = [remaining[p] if remaining[p] >= k else 0 for p in pids]
        return [self.rng.choices(pids, weights)[0]] * k

    def take_slot(self, pools: dict, remaining: Counter, pid: str, person: Person, chosen: list) -> Session:
        types = vocab.TRAINING_TYPES
        prefs = TYPE_PREFERENCE[person.role_group]
        days = {s.start.date() for s in chosen}
        for _ in range(200):
            weights = [prefs[t] * len(pools[(pid, t)]) for t in types]
            pool = pools[(pid, self.rng.choices(types, weights)[0])]
            i = self.rng.randrange(len(pool))
            s = pool[i]
            if s.start.date() in days:
                continue
            pool[i] = pool[-1]
            pool.pop()
            remaining[pid] -= 1
            return s
        raise RuntimeError("could not place a repeat attender; the plan is too tight")

    def add_booking(self, person: Person, session: Session, status: str) -> Booking:
        booking = Booking(person, session, status)
        self.bookings.append(booking)
        self.booking_of[(person, session)] = booking
        self.bookings_by_person[person].append(booking)
        return booking

    def attended_sessions(self, person: Person) -> list[Session]:
        return [b.session for b in self.bookings_by_person[person] if b.status == "attended"]

    def last_attended_start(self, partnership: str, trained: list[Person]) -> list[tuple]:
        """(person, start of their last attended session) for a partnership's trained people."""
        if partnership not in self._last_attended:
            self._last_attended[partnership] = [
                (p, max(s.start for s in self.attended_sessions(p))) for p in trained if p.partnership == partnership
            ]
        return self._last_attended[partnership]

    def job_changers(self, people: list[Person]) -> None:
        """A few repeat attenders changed job between trainings, into another role group."""
        candidates = [p for p in people if p.attendance_count > 1 and not p.cross_partnership]
        by_person = defaultdict(list)
        for b in self.bookings:
            by_person[b.person].append(b.session)
        for person in self.rng.sample(candidates, self.plan.job_changers):
            person.old_title = self.rng.choice(vocab.PREVIOUS_JOB_TITLES[person.role_group])
            person.title_from = max(s.start for s in by_person[person])

    def weighted_profession(self, role_group: str) -> str:
        return weighted_choice(self.rng, vocab.PROFESSION_WEIGHTS[role_group])

    def professions(self, people: list[Person]) -> None:
        """Professions and job titles; physiotherapists chosen to hit the clinical-care target."""
        clinical = Counter(b.person for b in self.bookings if b.session.training_type == PACC)
        eligible = [p for p in people if p.role_group == HSC and p.old_title is None]
        candidates = [p for p in eligible if clinical[p]]
        self.rng.shuffle(candidates)
        need = self.plan.physio_clinical_care_attendances
        for person in candidates:
            if 0 < clinical[person] <= need:
                person.profession = "physiotherapist"
                need -= clinical[person]
        if need:
            raise RuntimeError("not enough clinical-care attenders to choose physiotherapists from")
        others = [p for p in eligible if not clinical[p]]
        for person in self.rng.sample(others, min(len(others), self.plan.physios_without_clinical_care)):
            person.profession = "physiotherapist"
        for person in people:
            if not person.profession:
                person.profession = self.weighted_profession(person.role_group)
            person.title = self.rng.choice(vocab.JOB_TITLES[person.profession])

    # ------------------------------------------------------------------ records
    def order_time(self, session: Session) -> datetime:
        """When a place was booked: 0-40 days ahead (not before bookings opened), in waking hours."""
        opened = date(2020, 6, 8)
        days_ahead = self.rng.randint(1, min(40, max(1, (session.start.date() - opened).days)))
        when = awake(self.rng, datetime.combine(session.start.date() - timedelta(days=days_ahead), time(0)))
        return min(when, session.start - timedelta(hours=2))

    def cancel_time(self, ordered_at: datetime, session: Session) -> datetime:
        latest = session.start - timedelta(hours=1)
        if latest <= ordered_at:
            return ordered_at + timedelta(minutes=5)
        span = (latest - ordered_at).total_seconds()
        return (ordered_at + timedelta(seconds=self.rng.uniform(0, span))).replace(microsecond=0)

    def rendered_name(self, person: Person, system: str) -> tuple[str, str]:
        """Name as typed into a system; only case varies outside Eventbrite."""
        first, last = person.first, person.last
        r = self.rng.random()
        if r < 0.04:
            return first.lower(), last.lower()
        if r < 0.06:
            return first, last.upper()
        if system == "eventbrite" and r < 0.09:
            return first + " ", last
        return first, last

    def session_title_as_typed(self, session: Session, system: str) -> str:
        if system != "sign_in":
            return session.title
        r = self.rng.random()
        if r < 0.15:
            return session.title.lower()
        if r < 0.20:
            return session.title + " "
        return session.title

    def record(self, system: str, booking: Booking, final_status: str, ordered_at: datetime | None = None) -> Record:
        person, session = booking.person, booking.session
        rng = self.rng
        ordered_at = ordered_at or self.order_time(session)
        cancelled = final_status in EVENTBRITE_CANCELLATIONS or final_status == "cancelled"
        first, last = self.rendered_name(person, system)
        base = session.base_partnership
        record = Record(
            system=system,
            session=session,
            person=person,
            final_status=final_status,
            ordered_at=ordered_at,
            changed_at=self.cancel_time(ordered_at, session) if cancelled else None,
            first=first,
            last=last,
            email=messy_email(rng, person.email) if person.email else "",
            job_title=messy_title(rng, person.title_at(session.start)),
            organisation=person.organisation if rng.random() < 0.9 else "",
            buyer=person,
            session_title=self.session_title_as_typed(session, system),
        )
        if system == "eventbrite":
            if base == AO:
                record.ticket_type = rng.choice(AO_TICKET_TYPES)
                record.price_tier = "Free (£0.00)" if rng.random() < 0.3 else ""
                record.heard_about = rng.choice(vocab.HEARD_ABOUT)
            elif base == GBA:
                record.ticket_type = "General Admission"
            else:
                record.ticket_type = "Free ticket"
        booking.records.append(record)
        self.records.append(record)
        return record

    def attended_records(self, booking: Booking) -> None:
        """How an attendance shows up, depending on the systems the session used."""
        systems = booking.session.systems
        if systems in (("eventbrite",), ("bookwhen",), ("sign_in",)):
            self.record(
                systems[0],
                booking,
                {"eventbrite": "Checked In", "bookwhen": "attended", "sign_in": "attended"}[systems[0]],
            )
            return
        first_of_session = booking.session not in self.sessions_with_records
        self.sessions_with_records.add(booking.session)
        r = 0.99 if first_of_session else self.rng.random()
        if systems == ("eventbrite", "bookwhen"):
            if r < 0.7:
                self.record("eventbrite", booking, "Checked In")
            elif r < 0.85:
                self.record("bookwhen", booking, "attended")
            else:  # booked in both systems; the attendance shows in at least one
                eventbrite, bookwhen = self.rng.choice(
                    (("Attending", "attended"), ("Checked In", "cancelled"), ("Checked In", "no_show"))
                )
                self.record("eventbrite", booking, eventbrite)
                self.record("bookwhen", booking, bookwhen)
        else:  # ("eventbrite", "sign_in"): register on paper, Eventbrite mostly left as booked
            if r < 0.7:
                self.record("eventbrite", booking, "Attending")
                self.record("sign_in", booking, "attended")
            elif r < 0.85:
                self.record("eventbrite", booking, "Checked In")
                self.record("sign_in", booking, "attended")
            else:  # walk-in: only on the register
                self.record("sign_in", booking, "attended")

    def name_only_people(self, people: list[Person]) -> None:
        """Some register / Bookwhen-only attendees give no email: known by name alone."""
        systems_of = defaultdict(set)
        for b in self.bookings:
            for r in b.records:
                systems_of[b.person].add(r.system)
        for person in people:
            systems = systems_of[person]
            share = 0.4 if systems == {"sign_in"} else 0.08 if systems == {"bookwhen"} else 0
            if person.cross_partnership or self.rng.random() >= share:
                continue
            person.email = None
            key = (person.first.lower(), person.last.lower())
            if self.name_counts[key] > 1 or key in self.name_only_names:
                self.rename_unique(person)
            self.name_only_names.add((person.first.lower(), person.last.lower()))
            for b in self.bookings_of(person):
                for r in b.records:
                    r.email = ""
                    r.first, r.last = self.rendered_name(person, r.system)

    def bookings_of(self, person: Person) -> list[Booking]:
        return self.bookings_by_person[person]

    def rename_unique(self, person: Person) -> None:
        self.name_counts[(person.first.lower(), person.last.lower())] -= 1
        while True:
            first, last = self.rng.choice(vocab.FIRST_NAMES), self.rng.choice(vocab.SURNAMES)
            key = (first.lower(), last.lower())
            if not self.name_counts[key] and key not in self.name_only_names:
                break
        person.first, person.last = first, last
        self.name_counts[key] += 1

    def signature_names(self) -> None:
        """Give two early Active Oxfordshire attendees accented names (cp1252 export)."""
        cutoff = EVENTBRITE_EXPORTS[AO][0].taken_at
        candidates = [
            b
            for b in self.bookings
            if b.session.base_partnership == AO
            and b.session.start < cutoff
            and b.person.attendance_count == 1
            and not b.person.cross_partnership
            and len(b.records) == 1
        ]
        for booking, (first, last) in zip(
            self.rng.sample(candidates, len(vocab.SIGNATURE_NAMES)), vocab.SIGNATURE_NAMES
        ):
            person = booking.person
            person.first, person.last = first, last
            person.email = self.registry.email(self.rng, first, last, person.email.split("@")[1])
            record = booking.records[0]
            record.first, record.last, record.email = first, last, person.email
            record.ordered_at = min(record.ordered_at, cutoff - timedelta(days=3))

    # ------------------------------------------------------------------ bookings that did not end in attendance
    def non_attended_bookings(self, session: Session, trained: list[Person]) -> None:
        if session.systems == ("sign_in",):
            return  # a register lists only those who came
        rng = self.rng
        no_shows = round(session.capacity * rng.uniform(0.06, 0.14))
        cancellations = round(session.capacity * rng.uniform(0.04, 0.12))
        for outcome in ["booked"] * no_shows + ["cancelled"] * cancellations:
            booking = self.add_booking(self.booker_for(session, trained), session, outcome)
            system = "eventbrite" if "eventbrite" in session.systems else "bookwhen"
            if session.systems == ("eventbrite", "bookwhen") and rng.random() < 0.2:
                system = "bookwhen"
            if system == "eventbrite":
                status = "Attending" if outcome == "booked" else self.eventbrite_cancellation()
            else:
                status = "no_show" if outcome == "booked" else "cancelled"
            self.record(system, booking, status)

    def eventbrite_cancellation(self) -> str:
        return weighted_choice(self.rng, EVENTBRITE_CANCELLATIONS)

    def booker_for(self, session: Session, trained: list[Person]) -> Person:
        """Someone who booked `session` and did not come: a trained person or a newcomer."""
        rng = self.rng
        bookwhen_only = session.systems == ("bookwhen",)
        if rng.random() < 0.45:
            for _ in range(10):
                person = rng.choice(trained)
                if (
                    person.partnership == session.partnership
                    and (person.email is not None or bookwhen_only)
                    and (person, session) not in self.booking_of
                ):
                    return person
        return self.booked_only_person(session.partnership, allow_name_only=bookwhen_only)

    def booked_only_person(self, partnership: str, allow_name_only: bool) -> Person:
        group = weighted_choice(self.rng, self.plan.people)
        person = self.new_person(group, partnership, unclassified=self.rng.random() < 0.06)
        if not person.profession:
            person.profession = self.weighted_profession(group)
            person.title = self.rng.choice(vocab.JOB_TITLES[person.profession])
        if allow_name_only and self.rng.random() < 0.08:
            person.email = None
            if self.name_counts[(person.first.lower(), person.last.lower())] > 1:
                self.rename_unique(person)
            self.name_only_names.add((person.first.lower(), person.last.lower()))
        return person

    def undelivered_bookings(self, session: Session, trained: list[Person]) -> None:
        """A session that never ran: bookings cancelled or transferred, a few left as booked."""
        later = [
            p for p, last in self.last_attended_start(session.partnership, trained) if last > session.start and p.email
        ]
        for _ in range(self.rng.randint(12, 20)):
            r = self.rng.random()
            if r < 0.5 and later:
                person = later.pop(self.rng.randrange(len(later)))
                status = "Transferred"
            else:
                person = self.booked_only_person(session.partnership, allow_name_only=False)
                status = "Not Attending" if r < 0.85 else "Attending"
            booking = self.add_booking(person, session, "booked" if status == "Attending" else "cancelled")
            self.record("eventbrite", booking, status)

    # ------------------------------------------------------------------ Eventbrite details
    def eventbrite_records(self, status: str | None = None) -> list[Record]:
        return [
            r
            for r in self.records
            if r.system == "eventbrite" and r.person is not None and (status is None or r.final_status == status)
        ]

    def second_tickets(self) -> None:
        """A few people registered twice for the same session; the spare ticket is unused."""
        for first in self.rng.sample(self.eventbrite_records("Checked In"), self.plan.second_tickets):
            booking = self.booking_of[(first.person, first.session)]
            ordered_at = min(
                first.ordered_at + timedelta(hours=self.rng.uniform(1, 120)),
                first.session.start - timedelta(minutes=30),
            )
            self.record(
                "eventbrite",
                booking,
                self.rng.choice(("Attending", "Not Attending")),
                ordered_at.replace(microsecond=0),
            )

    def info_requested_with_email(self) -> None:
        """Attendee names not collected, but the email was: still identifiable."""
        candidates = [
            r
            for r in self.eventbrite_records("Checked In")
            if r.session.base_partnership in (AO, GBA) and r.person.first not in dict(vocab.SIGNATURE_NAMES)
        ]
        for record in self.rng.sample(candidates, self.plan.info_requested_with_email):
            record.first = record.last = "Info Requested"

    def group_orders(self) -> None:
        """Colleagues booked together: a second attendee on someone else's order."""
        by_session = defaultdict(list)
        signature = dict(vocab.SIGNATURE_NAMES)
        for r in self.eventbrite_records():
            if (
                r.final_status in ("Checked In", "Attending")
                and r.first != "Info Requested"
                and r.person.first not in signature
            ):
                by_session[r.session].append(r)
        for records in by_session.values():
            if len(records) < 4:
                continue
            lead, follower = self.rng.sample(records, 2)
            if lead.same_order_as or follower.same_order_as or lead.person is follower.person:
                continue
            follower.same_order_as, follower.ordered_at, follower.buyer = lead, lead.ordered_at, lead.person

    def quarantined_rows(self) -> None:
        """Extra tickets whose attendee details were never collected: no name, no email."""
        by_base = defaultdict(list)
        for r in self.eventbrite_records("Checked In"):
            if r.same_order_as is None:
                by_base[r.session.base_partnership].append(r)
        quota = largest_remainder(self.plan.quarantined_rows, {AO: 2, GBA: 2, LEAP: 1})
        picked = [buyer for base in (AO, GBA, LEAP) for buyer in self.rng.sample(by_base[base], quota[base])]
        for buyer in picked:
            record = Record(
                system="eventbrite",
                session=buyer.session,
                person=None,
                final_status=self.rng.choice(("Checked In", "Checked In", "Attending")),
                ordered_at=buyer.ordered_at,
                changed_at=None,
                first="Info Requested",
                last="Info Requested",
                email="",
                job_title="Info Requested",
                organisation="Info Requested",
                buyer=buyer.person,
                ticket_type=buyer.ticket_type,
                price_tier=buyer.price_tier,
                same_order_as=buyer,
            )
            self.records.append(record)

    def number_eventbrite_orders(self) -> None:
        """Order and attendee numbers grow with time, like Eventbrite's."""
        rng = self.rng
        records = [r for r in self.records if r.system == "eventbrite"]
        order_id = rng.randrange(1_100_000_000, 1_200_000_000)
        attendee_id = rng.randrange(1_400_000_000, 1_500_000_000)
        for r in sorted(records, key=lambda r: (r.ordered_at, r.same_order_as is not None)):
            attendee_id += rng.randint(1, 400)
            r.attendee_id = attendee_id
            if r.same_order_as is None:
                order_id += rng.randint(1, 300)
                r.order_id = order_id
        for r in records:
            if r.same_order_as is not None:
                r.order_id = r.same_order_as.order_id
