"""Statistical disclosure control for what is published (`metric_values_published`, exports).

Defaults follow NHS practice for sub-national counts:
- counts of 1 to 7 are suppressed (`[c]`); other counts are rounded to the nearest 5 (counts of
  the service rather than of people, sessions delivered and months of delivery, are exact);
- shares and means whose base is under 30 are flagged low reliability (`[u]`); a share whose
  numerator is suppressed, or a mean over 1 to 7 responses, is suppressed too;
- secondary suppression: where a breakdown (months of a total, training types, role groups,
  professions within a type, settings, partnerships of an additive programme total) has exactly
  one suppressed cell, the next smallest cell is suppressed as well, so the hidden one cannot be
  recovered from the total and the other cells.
The exact values stay in `metric_values` (restricted, for the evaluator). Pure functions only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from amed_pipeline.metrics.catalogue import ALL_PARTNERSHIPS

SUPPRESSED = "[c]"
LOW_RELIABILITY = "[u]"
FLAG_LEGEND = {
    SUPPRESSED: "Suppressed to protect confidentiality: a count of 1 to 7, or a cell that would reveal one.",
    LOW_RELIABILITY: "Low reliability: the share or mean rests on fewer than 30 people or responses.",
}
# Counts whose partnership rows add up to the programme row (people do not: a person can be
# trained by two partnerships).
ADDITIVE_COUNTS = ("attendances", "sessions_delivered", "feedback_responses", "followup_responses")


@dataclass(frozen=True)
class DisclosureRules:
    suppress_counts_up_to: int = 7
    round_counts_to: int = 5
    low_reliability_base: int = 30
    share_decimals: int = 3
    mean_decimals: int = 1
    # Counts of the service, not of people: published exactly.
    exempt_metrics: tuple[str, ...] = ("sessions_delivered", "delivery_months")


def round_to_base(value: float, base: int) -> float:
    """Round half up to the nearest multiple of `base` (12.5 → 15 for base 5)."""
    if base <= 1:
        return float(round(value))
    return float(np.floor(value / base + 0.5) * base)


def is_small(count, rules: DisclosureRules) -> bool:
    return count is not None and not pd.isna(count) and 1 <= count <= rules.suppress_counts_up_to


def primary_status(row: pd.Series, rules: DisclosureRules) -> str:
    """The flag of one exact metric row before secondary suppression."""
    unit = row["unit"]
    if row["metric_id"] in rules.exempt_metrics:
        return ""
    if unit == "count":
        return SUPPRESSED if is_small(row["numerator"], rules) else ""
    if unit == "share":
        if is_small(row["numerator"], rules):
            return SUPPRESSED
        return LOW_RELIABILITY if row["base_n"] < rules.low_reliability_base else ""
    if unit == "mean_0_10":
        if is_small(row["base_n"], rules):
            return SUPPRESSED
        return LOW_RELIABILITY if row["base_n"] < rules.low_reliability_base else ""
    return ""


def breakdown_groups(frame: pd.DataFrame) -> pd.Series:
    """A label per row naming the set of sibling cells that add up to a published total."""
    prefix = frame["dimension_value"].str.split("|").str[0].where(frame["dimension"] == "training_type|profession", "")
    by_dimension = (
        frame["metric_id"] + "/" + frame["partnership_id"] + "/" + frame["dimension"] + "/" + prefix
    ).where(frame["dimension"] != "", "")
    by_partnership = ("partnerships/" + frame["metric_id"]).where(
        frame["metric_id"].isin(ADDITIVE_COUNTS) & (frame["dimension"] == "") & (frame["partnership_id"] != ALL_PARTNERSHIPS),
        "",
    )
    return by_dimension.where(by_dimension != "", by_partnership)


def secondary_suppression(frame: pd.DataFrame, status: pd.Series) -> pd.Series:
    """Suppress the next smallest cell of any breakdown that has exactly one suppressed cell."""
    status = status.copy()
    groups = breakdown_groups(frame)
    changed = True
    while changed:  # suppressing a cell can expose another group it belongs to; repeat until stable
        changed = False
        for label, members in frame[groups != ""].groupby(groups[groups != ""]):
            suppressed = members.index[status[members.index] == SUPPRESSED]
            if len(suppressed) != 1 or len(members) < 2:
                continue
            candidates = members.drop(suppressed)
            candidates = candidates[candidates["numerator"].fillna(0) > 0]
            if candidates.empty:
                continue
            smallest = candidates["numerator"].astype(float).idxmin()
            status[smallest] = SUPPRESSED
            changed = True
    return status


def publish(exact: pd.DataFrame, rules: DisclosureRules = DisclosureRules()) -> pd.DataFrame:
    """The published version of `metric_values`: rounded, suppressed, flagged."""
    frame = exact.reset_index(drop=True).copy()
    status = frame.apply(primary_status, axis=1, rules=rules) if len(frame) else pd.Series([], dtype=object)
    status = secondary_suppression(frame, status) if len(frame) else status
    published = frame.copy()
    published["observation_status"] = status.to_numpy() if len(frame) else []
    rounded_numerator = frame["numerator"].map(lambda v: None if pd.isna(v) else round_to_base(v, rules.round_counts_to))
    rounded_denominator = frame["denominator"].map(lambda v: None if pd.isna(v) else round_to_base(v, rules.round_counts_to))
    exempt = frame["metric_id"].isin(rules.exempt_metrics)
    is_count = (frame["unit"] == "count") & ~exempt
    is_share = frame["unit"] == "share"
    is_mean = frame["unit"] == "mean_0_10"
    published["numerator"] = rounded_numerator.where(is_count | is_share, frame["numerator"].where(exempt, None))
    published["denominator"] = rounded_denominator.where(is_share | is_mean, None)
    published["base_n"] = frame["base_n"].map(lambda v: round_to_base(v, rules.round_counts_to)).where(~exempt, frame["base_n"])
    published["value"] = frame["value"].astype(float)
    published.loc[is_count, "value"] = rounded_numerator[is_count]
    published.loc[is_share, "value"] = frame.loc[is_share, "value"].round(rules.share_decimals)
    published.loc[is_mean, "value"] = frame.loc[is_mean, "value"].round(rules.mean_decimals)
    hidden = published["observation_status"] == SUPPRESSED
    for column in ("numerator", "denominator", "value", "base_n"):
        published[column] = published[column].astype(object).where(~hidden, None)
    return published
