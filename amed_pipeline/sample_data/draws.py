"""Random draws with exact outcomes: splits that sum to a total, means that hit a target.

The sample must reproduce published figures exactly, so the generator cannot simply sample
and hope. These helpers draw at random and then correct deterministically (largest remainder,
nudging ratings by one point) so that totals and means come out as planned. They also hold
the small "as typed" distortions (title case, stray spaces) shared by every booking system.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta
from functools import lru_cache


@lru_cache(maxsize=None)
def _cumulative(weights: tuple) -> tuple:
    keys = tuple(k for k, _ in weights)
    totals, running = [], 0
    for _, w in weights:
        running += w
        totals.append(running)
    return keys, tuple(totals)


def weighted_choice(rng: random.Random, weights: dict):
    """One key of `weights`, drawn with probability proportional to its value."""
    keys, totals = _cumulative(tuple(weights.items()))
    return rng.choices(keys, cum_weights=totals)[0]


def split_total(rng: random.Random, total: int, parts: int, spread: float = 0.3) -> list[int]:
    """`total` split into `parts` positive integers of roughly equal size, summing exactly."""
    weights = [rng.uniform(1 - spread, 1 + spread) for _ in range(parts)]
    scale = total / sum(weights)
    raw = [w * scale for w in weights]
    counts = [max(1, int(r)) for r in raw]
    by_fraction = sorted(range(parts), key=lambda i: raw[i] - int(raw[i]), reverse=True)
    i = 0
    while sum(counts) < total:
        counts[by_fraction[i % parts]] += 1
        i += 1
    while sum(counts) > total:
        j = max(range(parts), key=lambda k: counts[k])
        counts[j] -= 1
    return counts


def largest_remainder(total: int, weights: dict) -> dict:
    """`total` apportioned to the keys of `weights` proportionally, summing exactly."""
    weight_sum = sum(weights.values())
    raw = {k: total * w / weight_sum for k, w in weights.items()}
    counts = {k: int(v) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: raw[k] - counts[k], reverse=True)[: total - sum(counts.values())]:
        counts[k] += 1
    return counts


def rating_weights(target: float) -> list[float]:
    """Weights for ratings 1..10 centred a little above `target` (ratings skew high)."""
    centre, sigma = target + 0.25, 1.4
    return [math.exp(-((v - centre) ** 2) / (2 * sigma**2)) for v in range(1, 11)]


def ratings_with_mean(rng: random.Random, n: int, target: float, blanks: int, zeros: int) -> list:
    """n ratings 0..10 (None = left blank) whose mean over answered ones is as close to
    `target` as integers allow; includes `zeros` real zeros."""
    answered = n - blanks
    goal = round(target * answered)
    values = [0] * zeros + rng.choices(range(1, 11), rating_weights(target), k=answered - zeros)
    diff = goal - sum(values)
    while diff:
        i = rng.randrange(zeros, answered)
        if diff > 0 and values[i] < 10:
            values[i] += 1
            diff -= 1
        elif diff < 0 and values[i] > 1:
            values[i] -= 1
            diff += 1
    out = values + [None] * blanks
    rng.shuffle(out)
    return out


def awake(rng: random.Random, day_start: datetime) -> datetime:
    """A random second between 07:00 and 22:59 on the day of `day_start`."""
    return day_start.replace(hour=7, minute=0, second=0, microsecond=0) + timedelta(seconds=rng.randrange(16 * 3600))


def messy_title(rng: random.Random, title: str) -> str:
    """A job title as someone types it: odd case, stray or doubled spaces."""
    r = rng.random()
    if r < 0.07:
        return title.lower()
    if r < 0.10:
        return title.upper()
    if r < 0.14:
        return f" {title} "
    if r < 0.17 and " " in title:
        return title.replace(" ", "  ", 1)
    return title


def messy_email(rng: random.Random, email: str) -> str:
    """An email as typed: sometimes capitalised or padded with spaces (same mailbox)."""
    r = rng.random()
    if r < 0.08:
        local, domain = email.split("@")
        return ".".join(part.capitalize() for part in local.split(".")) + "@" + domain
    if r < 0.11:
        return email.upper()
    if r < 0.15:
        return f" {email} "
    return email
