"""Attack the published metric table as a reader would, and count what leaks.

The reader sees only `metric_values_published` and the documented rules (counts of 1 to 7 are
`[c]`, others rounded to the nearest 5, service counts and some programme totals exact, which
rows add up to which). They:
- invert: take a share's value with the rounded counts beside it and keep the (numerator,
  denominator) pairs that fit it — by the exact ratio or by the published counts' ratio, as they
  cannot tell which the publisher used; for a mean, keep the bases for which some whole sum gives it;
- difference: tighten every quantity's range through the sums the metric definitions make
  public (categories, months, partnerships, `all`) until nothing changes.
A quantity whose range ends as one value, which the table did not print exactly, is recovered.
This module knows the truth (`metric_values`) only to score the attack: a recovered value must be
right (the model is sound), and published cells on a base of 0 or of 1 to 7 are counted too.

Run on a warehouse: `python -m amed_pipeline_tests.disclosure_attack --url duckdb:///path.duckdb`.
It is written apart from `amed_pipeline.metrics.disclosure` (which audits with its own reader):
only the public structure of the metrics (which quantity a row shows, what adds up) is shared.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass, field
from types import SimpleNamespace

import pandas as pd

from amed_pipeline.metrics.disclosure import (
    NOT_APPLICABLE,
    SUPPRESSED,
    DisclosureRules,
    constraints,
    holds,
    row_quantities,
)

INF = math.inf


@dataclass
class AttackReport:
    recoverable: int = 0  # published cells whose hidden or rounded count a reader pins down
    zero_base: int = 0  # a share or mean published over a base of 0
    small_base: int = 0  # a figure published over 1 to `suppress_counts_up_to` people or responses
    unsound: int = 0  # the reader's reasoning excluded the truth (the attack model is wrong): must be 0
    details: list[str] = field(default_factory=list)

    def total(self) -> int:
        return self.recoverable + self.zero_base + self.small_base + self.unsound


def _count_range(
    shown: float, metric_id: str, scope: str, dimension: str, rules: DisclosureRules
) -> tuple[float, float]:
    """The exact counts that print as `shown` under the rules (exact where the rules say so)."""
    if metric_id in rules.exempt_metrics or shown % rules.round_counts_to != 0:
        return shown, shown
    if shown == 0:
        return 0, 0
    half = rules.round_counts_to // 2
    return max(shown - half, rules.suppress_counts_up_to + 1), shown + half


def _fits(n: int, d: int, value: float, decimals: int) -> bool:
    return d > 0 and abs(n / d - value) <= 0.5 * 10**-decimals + 1e-12


def invert_share(num: tuple, den: tuple, shown: tuple, value: float, rules: DisclosureRules) -> tuple[tuple, tuple]:
    """Narrow a share's numerator and denominator ranges by its printed value."""
    if _fits(shown[0], shown[1], value, rules.share_decimals) or num[1] == INF or den[1] == INF:
        return num, den  # the value may be the printed counts' ratio: it says nothing more
    pairs = [
        (n, d)
        for n in range(int(num[0]), int(num[1]) + 1)
        for d in range(int(den[0]), int(den[1]) + 1)
        if n <= d and _fits(n, d, value, rules.share_decimals)
    ]
    if not pairs:
        return num, den
    ns, ds = [p[0] for p in pairs], [p[1] for p in pairs]
    return (min(ns), max(ns)), (min(ds), max(ds))


def invert_mean(den: tuple, value: float, rules: DisclosureRules) -> tuple:
    """Narrow a mean's base: keep the bases d for which some whole sum s (0–10 a response) gives `value`."""
    if den[1] == INF:
        return den
    step = 0.5 * 10**-rules.mean_decimals
    bases = [
        d
        for d in range(max(int(den[0]), 1), int(den[1]) + 1)
        if math.floor((value + step) * d + 1e-9) >= math.ceil((value - step) * d - 1e-9)
    ]
    return (min(bases), max(bases)) if bases else den


def _intersect(a: tuple, b: tuple) -> tuple:
    return max(a[0], b[0]), min(a[1], b[1])


def tighten(ranges: dict[str, tuple], relations) -> dict[str, tuple]:
    """Differencing: bound each member of `lower ≤ Σ parts − total ≤ upper` by the others, repeatedly."""
    ranges = dict(ranges)
    for _ in range(100):
        changed = False
        for c in relations:
            members = [(c.total, -1)] + [(p, 1) for p in c.parts]
            for key, sign in members:
                others_lo = others_hi = 0.0
                for other, s in members:
                    if other == key:
                        continue
                    lo, hi = ranges[other]
                    others_lo += lo if s > 0 else -hi
                    others_hi += hi if s > 0 else -lo
                lo, hi = c.lower - others_hi, c.upper - others_lo
                if sign < 0:
                    lo, hi = -hi, -lo
                lo = math.ceil(lo) if not math.isnan(lo) and lo > -INF else -INF
                hi = math.floor(hi) if not math.isnan(hi) and hi < INF else INF
                new = _intersect(ranges[key], (lo, hi))
                if new != ranges[key]:
                    ranges[key] = new
                    changed = True
        if not changed:
            break
    return ranges


def _keyed(frame: pd.DataFrame) -> list[SimpleNamespace]:
    """The rows as plain records, each with the quantities it shows (`num_key`, `den_key`)."""
    rows = []
    columns = list(frame.columns)
    for values in zip(*(frame[c].tolist() for c in columns)):
        record = dict(zip(columns, values))
        r = SimpleNamespace(**record)
        r.num_key, r.den_key = row_quantities(r.metric_id, r.partnership_id, r.dimension, r.dimension_value)
        r.observation_status = record.get("observation_status") or ""
        rows.append(r)
    return rows


def _truth(exact: pd.DataFrame) -> dict[str, float]:
    truth: dict[str, float] = {}
    for r in exact:
        if r.num_key and not pd.isna(r.numerator):
            truth[r.num_key] = float(r.numerator)
        if r.den_key and not pd.isna(r.denominator):
            truth[r.den_key] = float(r.denominator)
    return truth


def attack(published: pd.DataFrame, exact: pd.DataFrame, rules: DisclosureRules = DisclosureRules()) -> AttackReport:
    report = AttackReport()
    published, exact = _keyed(published), _keyed(exact)
    truth = _truth(exact)
    ranges: dict[str, tuple] = {k: (0, INF) for k in truth}
    printed_exactly: set[str] = set()

    def learn(key, interval):
        ranges[key] = _intersect(ranges[key], interval)
        if interval[0] == interval[1]:
            printed_exactly.add(key)

    for r in published:
        status = r.observation_status or ""
        if status == SUPPRESSED:
            continue
        if status == NOT_APPLICABLE:
            if r.den_key:
                learn(r.den_key, (0, 0))
            continue
        if r.unit == "count" and r.num_key:
            learn(r.num_key, _count_range(float(r.value), r.metric_id, r.partnership_id, r.dimension, rules))
        elif r.unit == "share" and r.num_key and r.den_key:
            shown = (float(r.numerator), float(r.denominator))
            num = _count_range(shown[0], r.metric_id, r.partnership_id, r.dimension, rules)
            den = _count_range(shown[1], "", r.partnership_id, "", rules)
            num, den = invert_share(
                _intersect(num, ranges[r.num_key]), _intersect(den, ranges[r.den_key]), shown, float(r.value), rules
            )
            ranges[r.num_key] = _intersect(ranges[r.num_key], num)
            ranges[r.den_key] = _intersect(ranges[r.den_key], den)
        elif r.unit == "mean_0_10" and r.den_key:
            den = _count_range(float(r.denominator), r.metric_id, r.partnership_id, "", rules)
            ranges[r.den_key] = _intersect(
                ranges[r.den_key], invert_mean(_intersect(den, ranges[r.den_key]), float(r.value), rules)
            )
    # Only relations true of these figures: a wrong assumption would make the reader's deductions wrong.
    ranges = tighten(ranges, [c for c in constraints(set(ranges)) if holds(c, truth)])

    recovered = set()
    for key, (lo, hi) in ranges.items():
        if not lo <= truth[key] <= hi:
            report.unsound += 1
            report.details.append(f"unsound: {key} in [{lo}, {hi}] but is {truth[key]:g}")
        elif lo == hi and key not in printed_exactly and truth[key] != 0:
            recovered.add(key)
    exact_by_row = {(r.metric_id, r.partnership_id, r.dimension, r.dimension_value): r for r in exact}
    for r in published:
        if r.num_key in recovered or r.den_key in recovered:
            report.recoverable += 1
            report.details.append(f"recoverable: {r.metric_id} {r.partnership_id} {r.dimension}={r.dimension_value}")
        status = r.observation_status or ""
        if status in (SUPPRESSED, NOT_APPLICABLE) or r.unit == "months":
            continue
        source = exact_by_row[r.metric_id, r.partnership_id, r.dimension, r.dimension_value]
        base = source.numerator if r.unit == "count" else source.denominator
        if r.metric_id in rules.exempt_metrics:
            continue
        if r.unit != "count" and (pd.isna(base) or base == 0 or pd.isna(r.denominator) or float(r.denominator) == 0):
            report.zero_base += 1
            report.details.append(f"zero base: {r.metric_id} {r.partnership_id} {r.dimension}={r.dimension_value}")
        if 1 <= base <= rules.suppress_counts_up_to or (
            r.unit == "share" and 1 <= source.numerator <= rules.suppress_counts_up_to
        ):
            report.small_base += 1
            report.details.append(f"small base: {r.metric_id} {r.partnership_id} {r.dimension}={r.dimension_value}")
    return report


def attack_warehouse(url: str, rules: DisclosureRules = DisclosureRules()) -> AttackReport:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        published = pd.read_sql(text("SELECT * FROM metric_values_published"), conn)
        exact = pd.read_sql(text("SELECT * FROM metric_values"), conn)
    engine.dispose()
    return attack(published, exact, rules)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url", required=True, help="SQLAlchemy URL of the warehouse (e.g. duckdb:///data/warehouse.duckdb)"
    )
    parser.add_argument("--details", action="store_true", help="list every cell found")
    args = parser.parse_args(argv)
    report = attack_warehouse(args.url)
    print(f"recoverable cells: {report.recoverable}")
    print(f"zero-base cells: {report.zero_base}")
    print(f"small-base cells: {report.small_base}")
    print(f"unsound deductions: {report.unsound}")
    if args.details:
        print("\n".join(report.details))
    return 1 if report.total() else 0


if __name__ == "__main__":
    sys.exit(main())
