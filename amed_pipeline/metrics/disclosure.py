"""Statistical disclosure control for what is published (`metric_values_published`, exports).

The exact values stay in `metric_values` (restricted, for the evaluator). What is published must
hold against a reader who knows these rules and does arithmetic: multiplies a share by the counts
beside it (inversion), or subtracts cells from a total they add up to (differencing, across
categories, months, partnerships and the `all` scope). Pure functions only.

The method works on *quantities*, not rows: one count (attendances of a partnership, people of a
role group, follow-up responses answering a question in a setting…) may appear in several rows, as a
count, as a share's numerator or as another share's denominator, and is published the same way
everywhere:
- a count of 1 to `suppress_counts_up_to` is suppressed (`[c]`); 0 is published as 0; other counts
  are rounded to the nearest `round_counts_to`. Counts of the service (sessions, months of
  delivery) are exact, and so are the programme-wide (`all`) totals named in
  `exact_programme_totals` (people trained, attendances, sessions by default: national totals are
  published unrounded, as NHS HES does) — unless an exact total would let a reader pin a cell
  down, in which case that total is rounded like any other count;
- a share is computed from its *published* (rounded) numerator and denominator, so its value tells
  nothing the counts beside it do not; a share or mean whose numerator or base is suppressed is
  `[c]` (so a base of 1 to 7 always is); a share or mean on a base of 0 is `[z]` (not applicable,
  no value); a mean is published to one decimal beside its rounded base;
- `[u]` flags a share or mean whose published base is under `low_reliability_base`;
- secondary suppression: where a breakdown that adds up to a published total (`constraints`) has
  exactly one suppressed cell, the next smallest non-zero cell is suppressed too. Then an audit
  plays the reader (`reader_bounds`: interval reasoning over every additive relation the metric
  definitions make public) and suppresses more until no rounded or suppressed quantity is pinned to
  a single value. Rounding to 5 alone is not enough: four months of 12 attendances publish as four
  10s and a total of 50, and only 12 + 12 + 12 + 12 fits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from amed_pipeline.metrics.catalogue import ALL_PARTNERSHIPS, ONLINE_WORKSHOP_TYPES

SUPPRESSED = "[c]"
LOW_RELIABILITY = "[u]"
NOT_APPLICABLE = "[z]"
FLAG_LEGEND = {
    SUPPRESSED: "Suppressed to protect confidentiality: a count of 1 to 7, a share or mean on 1 to 7 people or "
    "responses, or a cell that would reveal one.",
    LOW_RELIABILITY: "Low reliability: the share or mean rests on fewer than 30 people or responses.",
    NOT_APPLICABLE: "Not applicable: no people or responses to compute a share or mean over.",
}
# Quantities whose partnership values add up to the programme value (people do not: a person can
# be trained by two partnerships, so the partnerships' people add up to at least the programme's).
ADDITIVE_KINDS = (
    "attendances",
    "sessions_delivered",
    "feedback_responses",
    "followup_responses",
    "more_conversations",
    "conversations_answered",
    "usefulness_end_mean_answered",
    "knowledge_mean_answered",
    "confidence_mean_answered",
    "usefulness_followup_mean_answered",
)
INF = math.inf

# Publication states of a quantity.
EXACT, ROUNDED, HIDDEN = "exact", "rounded", "suppressed"


@dataclass(frozen=True)
class DisclosureRules:
    suppress_counts_up_to: int = 7
    round_counts_to: int = 5
    low_reliability_base: int = 30
    share_decimals: int = 3
    mean_decimals: int = 1
    # Counts of the service, not of people: published exactly.
    exempt_metrics: tuple[str, ...] = ("sessions_delivered", "delivery_months")
    # Programme-wide (`all`) totals published exactly when that pins no cell (config policy).
    exact_programme_totals: tuple[str, ...] = ("people_trained", "attendances", "sessions_delivered")


def round_to_base(value: float, base: int) -> float:
    """Round half up to the nearest multiple of `base` (12.5 → 15 for base 5)."""
    if base <= 1:
        return float(round(value))
    return float(np.floor(value / base + 0.5) * base)


def is_small(count, rules: DisclosureRules) -> bool:
    return count is not None and not pd.isna(count) and 1 <= count <= rules.suppress_counts_up_to


# --- quantities and what adds up ---------------------------------------------------------------


def quantity_key(kind: str, scope: str, dimension: str = "", value: str = "") -> str:
    return f"{kind}/{scope}/{dimension}/{value}"


def split_key(key: str) -> tuple[str, str, str, str]:
    kind, scope, dimension, value = key.split("/", 3)
    return kind, scope, dimension, value


def row_quantities(metric_id: str, scope: str, dimension: str, value: str) -> tuple[str | None, str | None]:
    """The (numerator, denominator) quantities a metric row shows; None where it shows none."""
    key = quantity_key
    if metric_id in ("people_trained", "attendances", "sessions_delivered", "feedback_responses", "followup_responses"):
        return key(metric_id, scope, dimension, value), None
    if metric_id == "training_type_share":
        return key("attendances", scope, "training_type", value), key("attendances", scope)
    if metric_id == "online_workshop_share":
        return key("attendances", scope, "online_workshop"), key("attendances", scope)
    if metric_id == "profession_share":
        return key("attendances", scope, dimension, value), key(
            "attendances", scope, "training_type", value.split("|")[0]
        )
    if metric_id == "role_group_share":
        return key("people_trained", scope, dimension, value), key("people_trained", scope)
    if metric_id in ("feedback_response_rate", "followup_response_rate"):
        return key(metric_id.replace("_rate", "s"), scope), key("attendances", scope)
    if metric_id == "more_conversations_share":
        return key("more_conversations", scope, dimension, value), key(
            "conversations_answered", scope, dimension, value
        )
    if metric_id.endswith("_mean"):
        return None, key(f"{metric_id}_answered", scope)
    return None, None  # delivery_months: a span, published exactly


@dataclass(frozen=True)
class Constraint:
    """`lower ≤ sum(parts) − total ≤ upper`: a relation every reader knows from the definitions."""

    total: str
    parts: tuple[str, ...]
    lower: float = 0
    upper: float = 0


def constraints(keys: set[str]) -> list[Constraint]:
    """Every additive relation between the quantities present (absent quantities are 0)."""
    by_parent: dict[tuple, list[str]] = {}
    out: list[Constraint] = []
    present = set(keys)

    def add(total, parts, lower=0, upper=0):
        if total in present and parts:
            out.append(Constraint(total, tuple(sorted(parts)), lower, upper))

    for k in sorted(present):
        kind, scope, dimension, value = split_key(k)
        if scope != ALL_PARTNERSHIPS and dimension != "training_type|profession":
            # (professions come from each scope's own role rule, so they do not add up across partnerships)
            by_parent.setdefault(("partnerships", kind, dimension, value), []).append(k)
        if dimension == "month":
            by_parent.setdefault(("months", kind, scope), []).append(k)
        elif dimension in ("training_type", "role_group", "setting"):
            by_parent.setdefault(("categories", kind, scope), []).append(k)
        elif dimension == "training_type|profession":
            by_parent.setdefault(("professions", kind, scope, value.split("|")[0]), []).append(k)
    for group, parts in by_parent.items():
        if group[0] == "partnerships":
            _, kind, dimension, value = group
            total = quantity_key(kind, ALL_PARTNERSHIPS, dimension, value)
            add(total, parts, 0, 0 if kind in ADDITIVE_KINDS else INF)
        elif group[0] == "months":
            _, kind, scope = group
            # A person trained in two months counts in both; a response without a date in none.
            lower, upper = {
                "people_trained": (0, INF),
                "feedback_responses": (-INF, 0),
                "followup_responses": (-INF, 0),
            }.get(kind, (0, 0))
            add(quantity_key(kind, scope), parts, lower, upper)
        elif group[0] == "categories":
            _, kind, scope = group
            add(quantity_key(kind, scope), parts)
        else:
            _, kind, scope, training_type = group
            add(quantity_key(kind, scope, "training_type", training_type), parts)
    for k in sorted(present):
        kind, scope, dimension, _ = split_key(k)
        if kind == "attendances" and dimension == "online_workshop":
            online = [quantity_key("attendances", scope, "training_type", t) for t in ONLINE_WORKSHOP_TYPES]
            out.append(Constraint(k, tuple(q for q in online if q in present)))
    return out


def holds(c: Constraint, exact: dict[str, float]) -> bool:
    """Whether a relation is true of these figures (it is not when, say, a partnership's responses
    have no row of their own because it has no attendances yet): only true relations are knowledge."""
    gap = sum(exact[p] for p in c.parts) - exact[c.total]
    return c.lower <= gap <= c.upper


def quantities_of(frame: pd.DataFrame) -> tuple[list[tuple], dict[str, float]]:
    """Each row's (numerator, denominator) quantity keys, and every quantity's exact value."""
    keys = [
        row_quantities(m, s, d, v)
        for m, s, d, v in zip(frame["metric_id"], frame["partnership_id"], frame["dimension"], frame["dimension_value"])
    ]
    values: dict[str, float] = {}
    for (num_key, den_key), numerator, denominator in zip(keys, frame["numerator"], frame["denominator"]):
        if num_key and not pd.isna(numerator):
            values.setdefault(num_key, float(numerator))
        if den_key and not pd.isna(denominator):
            values.setdefault(den_key, float(denominator))
    return keys, values


# --- the reader --------------------------------------------------------------------------------


def published_interval(
    state: str, exact: float, published: float | None, rules: DisclosureRules
) -> tuple[float, float]:
    """What a reader knows of one quantity from how it is published (not from `exact`, unless shown)."""
    if state == EXACT:
        return exact, exact
    if state == HIDDEN:
        return 1, INF  # a suppressed cell is never 0 (zeros are shown)
    half = rules.round_counts_to // 2 if rules.round_counts_to > 1 else 0
    if published == 0:  # 0, or a count above the suppression range that still rounds to 0
        return 0, (half if rules.suppress_counts_up_to < half else 0)
    return max(published - half, rules.suppress_counts_up_to + 1), published + half


def _interval_sum(intervals: list[tuple[float, float]]) -> tuple[float, int, float, int]:
    """Σ of finite lower ends, how many are -inf; Σ of finite upper ends, how many are +inf."""
    lo = sum(a for a, _ in intervals if a > -INF)
    hi = sum(b for _, b in intervals if b < INF)
    return lo, sum(1 for a, _ in intervals if a == -INF), hi, sum(1 for _, b in intervals if b == INF)


def propagate(
    bounds: dict[str, tuple[float, float]], relations: list[Constraint], rounds: int = 50
) -> dict[str, tuple[float, float]]:
    """Tighten integer intervals through `lower ≤ Σ parts − total ≤ upper` until nothing changes.

    Each relation is read as Σ sign·x = S with S in [lower, upper] (sign −1 for the total), and each
    member is bounded by S minus what all the others can add up to.
    """
    bounds = dict(bounds)
    for _ in range(rounds):
        changed = False
        for c in relations:
            members = [(c.total, -1)] + [(p, 1) for p in c.parts]
            signed = [(bounds[k][0], bounds[k][1]) if s > 0 else (-bounds[k][1], -bounds[k][0]) for k, s in members]
            lo_sum, lo_inf, hi_sum, hi_inf = _interval_sum(signed)
            for (key, sign), (a, b) in zip(members, signed):
                # the others' range: the whole sum minus this member's own contribution
                others_lo = -INF if lo_inf - (a == -INF) > 0 else lo_sum - (a if a > -INF else 0)
                others_hi = INF if hi_inf - (b == INF) > 0 else hi_sum - (b if b < INF else 0)
                lo, hi = c.lower - others_hi, c.upper - others_lo  # range of sign·x
                if sign < 0:
                    lo, hi = -hi, -lo
                old_lo, old_hi = bounds[key]
                new_lo = max(old_lo, math.ceil(lo)) if lo > -INF else old_lo
                new_hi = min(old_hi, math.floor(hi)) if hi < INF else old_hi
                if new_lo > new_hi:
                    raise ValueError(f"inconsistent relations around {key}: {c}")
                if (new_lo, new_hi) != (old_lo, old_hi):
                    bounds[key] = (new_lo, new_hi)
                    changed = True
        if not changed:
            break
    return bounds


def reader_bounds(
    states: dict[str, str], exact: dict[str, float], rules: DisclosureRules, relations: list[Constraint]
) -> dict[str, tuple[float, float]]:
    published = {k: publish_count(exact[k], states[k], rules) for k in states}
    start = {k: published_interval(states[k], exact[k], published[k], rules) for k in states}
    return propagate(start, relations)


def pinned(
    states: dict[str, str], exact: dict[str, float], rules: DisclosureRules, relations: list[Constraint]
) -> list[str]:
    """Quantities meant to be hidden (suppressed, or rounded and not 0) that a reader pins to one value."""
    bounds = reader_bounds(states, exact, rules, relations)
    return sorted(
        k
        for k, (lo, hi) in bounds.items()
        if lo == hi and (states[k] == HIDDEN or (states[k] == ROUNDED and exact[k] != 0))
    )


# --- publishing ----------------------------------------------------------------------------------


def publish_count(exact: float, state: str, rules: DisclosureRules) -> float | None:
    if state == HIDDEN:
        return None
    if state == EXACT:
        return float(exact)
    return round_to_base(exact, rules.round_counts_to)


def primary_states(exact: dict[str, float], rules: DisclosureRules) -> dict[str, str]:
    states = {}
    for key, value in exact.items():
        kind, scope, dimension, _ = split_key(key)
        if kind in rules.exempt_metrics:
            states[key] = EXACT
        elif is_small(value, rules):
            states[key] = HIDDEN
        elif kind in rules.exact_programme_totals and scope == ALL_PARTNERSHIPS and dimension == "":
            states[key] = EXACT
        else:
            states[key] = ROUNDED
    return states


def _policy_exact(key: str, states: dict[str, str], rules: DisclosureRules) -> bool:
    return states[key] == EXACT and split_key(key)[0] not in rules.exempt_metrics


def secondary_suppression(
    states: dict[str, str], exact: dict[str, float], relations: list[Constraint], rules: DisclosureRules
) -> dict[str, str]:
    """The classic rule, then the reader audit, until no hidden or rounded quantity can be pinned."""
    states = dict(states)
    equalities = [c for c in relations if c.lower == 0 and c.upper == 0]
    relations_of: dict[str, list[Constraint]] = {}
    for c in relations:
        for member in (c.total, *c.parts):
            relations_of.setdefault(member, []).append(c)

    def hideable(keys, but=()):
        return [k for k in keys if k not in but and states[k] == ROUNDED and exact[k] > 0]

    for _ in range(10 * len(states) + 10):
        changed = False
        for c in equalities:
            members = (c.total, *c.parts)
            hidden = [k for k in members if states[k] == HIDDEN]
            if len(hidden) == 1:
                candidates = hideable(c.parts, hidden) or hideable(members, hidden)
                if candidates:
                    states[min(candidates, key=lambda k: (exact[k], k))] = HIDDEN
                    changed = True
        if changed:
            continue
        exposed = pinned(states, exact, rules, relations)
        if not exposed:
            return states
        # Exact totals first (rounding one frees every cell it pinned), then every exposed cell.
        around = {k: relations_of.get(k, []) for k in exposed}
        exact_totals = sorted(
            {m for k in exposed for c in around[k] for m in (c.total, *c.parts) if _policy_exact(m, states, rules)}
        )
        if exact_totals:  # an exact programme total would open a cell: round it instead
            for m in exact_totals:
                states[m] = ROUNDED
            changed = True
            continue
        for key in exposed:
            if states[key] == ROUNDED:
                states[key] = HIDDEN
                changed = True
            else:
                for c in around[key]:
                    candidates = hideable((c.total, *c.parts), (key,))
                    if candidates:
                        states[min(candidates, key=lambda k: (exact[k], k))] = HIDDEN
                        changed = True
        if not changed:
            break
    raise ValueError(f"disclosure control did not converge: still pinned {pinned(states, exact, rules, relations)[:5]}")


def publish(exact: pd.DataFrame, rules: DisclosureRules = DisclosureRules()) -> pd.DataFrame:
    """The published version of `metric_values`: rounded, suppressed, flagged; same columns + status."""
    frame = exact.reset_index(drop=True).copy()
    published = frame.copy()
    if frame.empty:
        published["observation_status"] = pd.Series([], dtype=object)
        return published
    keys, quantities = quantities_of(frame)
    relations = [c for c in constraints(set(quantities)) if holds(c, quantities)]
    states = secondary_suppression(primary_states(quantities, rules), quantities, relations, rules)
    shown = {k: publish_count(quantities[k], states[k], rules) for k in states}

    status, numerators, denominators, values, bases = [], [], [], [], []
    for row, (num_key, den_key) in zip(frame.itertuples(index=False), keys):
        num = shown.get(num_key) if num_key else None
        den = shown.get(den_key) if den_key else None
        if row.unit in ("count", "months") and num_key is None:  # a span of months: exact
            status.append("")
            numerators.append(row.numerator)
            denominators.append(None)
            values.append(row.value)
            bases.append(row.base_n)
        elif row.unit == "count":
            hidden = states[num_key] == HIDDEN
            status.append(SUPPRESSED if hidden else "")
            numerators.append(num)
            denominators.append(None)
            values.append(num)
            bases.append(None if hidden else num)
        elif den_key is not None and (pd.isna(row.denominator) or row.denominator == 0):
            status.append(NOT_APPLICABLE)
            numerators.append(None)
            denominators.append(None)
            values.append(None)
            bases.append(None)
        elif states[den_key] == HIDDEN or (num_key is not None and states[num_key] == HIDDEN):
            status.append(SUPPRESSED)
            numerators.append(None)
            denominators.append(None)
            values.append(None)
            bases.append(None)
        else:
            if row.unit == "share":
                value = round(num / den, rules.share_decimals)
            else:  # a mean: the sum is never published
                value = round(float(row.value), rules.mean_decimals)
            status.append(LOW_RELIABILITY if den < rules.low_reliability_base else "")
            numerators.append(num)
            denominators.append(den)
            values.append(value)
            bases.append(den)
    published["numerator"] = pd.Series(numerators, dtype=object)
    published["denominator"] = pd.Series(denominators, dtype=object)
    published["value"] = pd.Series(values, dtype=object)
    published["base_n"] = pd.Series(bases, dtype=object)
    published["observation_status"] = status
    return published
