"""Metric tables in the warehouse (names are an interface for the evaluator: keep them)."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Column, Date, DateTime, Double, Integer, String, Table, Text

from amed_pipeline.metrics.catalogue import ALL_PARTNERSHIPS, METRICS
from amed_pipeline.warehouse.schema import metadata


def metric_columns(extra=(), stamped: bool = True) -> list[Column]:
    """The columns of a metric row (the contract in docs/metrics.md); `stamped`: with the run that
    computed it (releases keep figures without run stamps, so their files are byte-identical)."""
    stamps = [Column("run_id", String, nullable=False), Column("computed_at", DateTime, nullable=False)]
    return [
        Column("metric_id", String, nullable=False),
        Column("partnership_id", String, nullable=False),
        Column("dimension", String, nullable=False),
        Column("dimension_value", String, nullable=False),
        Column("period_start", Date, nullable=False),
        Column("period_end", Date, nullable=False),
        Column("numerator", Double),
        Column("denominator", Double),
        Column("value", Double),
        Column("unit", String, nullable=False),
        Column("base_n", Integer, autoincrement=False),
        *extra,
        *(stamps if stamped else []),
    ]


metric_values = Table("metric_values", metadata, *metric_columns())
metric_values_published = Table(
    "metric_values_published", metadata, *metric_columns([Column("observation_status", String, nullable=False)])
)
metric_definitions = Table(
    "metric_definitions",
    metadata,
    Column("metric_id", String, primary_key=True),
    Column("unit", String, nullable=False),
    Column("dimension", String, nullable=False),
    Column("label", String, nullable=False),
    Column("definition", Text, nullable=False),
)

HEADLINE_METRICS = (
    "people_trained",
    "attendances",
    "sessions_delivered",
    "delivery_months",
    "online_workshop_share",
    "feedback_responses",
    "feedback_response_rate",
    "followup_responses",
    "followup_response_rate",
    "usefulness_end_mean",
    "knowledge_mean",
    "confidence_mean",
    "usefulness_followup_mean",
    "more_conversations_share",
)
metrics_headline = Table(
    "metrics_headline",
    metadata,
    Column("partnership_id", String, primary_key=True),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
    *(Column(name, Double) for name in HEADLINE_METRICS),
)


def published_dimensions(metric) -> str:
    """The breakdowns a metric is published by besides its overall row, e.g. `month` or `setting`."""
    dimensions = [metric.dimension] if metric.dimension else []
    if metric.monthly:
        dimensions.append("month")
    if metric.metric_id == "more_conversations_share":
        dimensions.append("setting")
    return ", ".join(dimensions)


def definitions_frame() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "metric_id": m.metric_id,
                "unit": m.unit,
                "dimension": published_dimensions(m),
                "label": m.label,
                "definition": m.definition,
            }
            for m in METRICS
        ]
    )


def headline_frame(values: pd.DataFrame) -> pd.DataFrame:
    """One row per partnership (and 'all'): the headline metrics side by side, from metric_values."""
    overall = values[(values["dimension"] == "") & values["metric_id"].isin(HEADLINE_METRICS)]
    wide = overall.pivot_table(index="partnership_id", columns="metric_id", values="value", aggfunc="first")
    periods = overall.groupby("partnership_id")[["period_start", "period_end"]].first()
    wide = periods.join(wide).reset_index()
    for name in HEADLINE_METRICS:
        if name not in wide:
            wide[name] = None
    order = wide["partnership_id"].ne(ALL_PARTNERSHIPS)
    return (
        wide.assign(_o=order)
        .sort_values(["_o", "partnership_id"])
        .drop(columns="_o")[["partnership_id", "period_start", "period_end", *HEADLINE_METRICS]]
    )
