"""Metric-level checks on the exact `metric_values` rows (ERROR, blocking: reports wait for them).

- shares of one breakdown sum to 1 (training types, role groups, professions within a type);
- shares and rates lie within [0, 1], means within [0, 10], counts are not negative.
Pure functions: they return the offending rows.
"""

from __future__ import annotations

import pandas as pd

PARTITIONING_SHARES = ("training_type_share", "role_group_share", "profession_share")
TOLERANCE = 1e-9


def shares_not_summing_to_one(values: pd.DataFrame) -> pd.DataFrame:
    shares = values[values["metric_id"].isin(PARTITIONING_SHARES) & (values["dimension"] != "")]
    if shares.empty:
        return shares.assign(total=pd.Series(dtype=float))
    group = shares["dimension_value"].where(
        shares["metric_id"] != "profession_share", shares["dimension_value"].str.split("|").str[0]
    )
    group = group.where(shares["metric_id"] == "profession_share", "")
    totals = (
        shares.assign(group=group)
        .groupby(["metric_id", "partnership_id", "dimension", "group"])["value"]
        .sum()
        .rename("total")
        .reset_index()
    )
    return totals[(totals["total"] - 1).abs() > TOLERANCE]


def values_out_of_range(values: pd.DataFrame) -> pd.DataFrame:
    unit, value = values["unit"], values["value"].astype(float)
    bad = (
        ((unit == "share") & ((value < 0) | (value > 1)))
        | ((unit == "mean_0_10") & ((value < 0) | (value > 10)))
        | ((unit.isin(["count", "months"])) & (value < 0))
    )
    return values[bad]
