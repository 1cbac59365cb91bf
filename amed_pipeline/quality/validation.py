"""Run a dataset's expectation suite with Great Expectations (GX Core 1.x) on a DataFrame.

GX's old `dagster-ge` integration does not support GX 1.x, so this small wrapper (exposed to
Dagster as `GreatExpectationsResource`) does the job: a fresh ephemeral data context for every
suite run (6 ms; a context keeps something of every batch it validated, about 40 MiB a batch at
K = 1000, so one context per run made the staging step's memory grow with every batch), one suite run per dataset
(running each expectation on its own costs several times more), the pandas data source (GX
against DuckDB through SQLAlchemy is broken in 1.24), result format COMPLETE so the rows a rule
rejects are known and can go to quarantine. GX's progress bars are silenced in the context's own
settings (no environment variable): they would end up in the run logs people read.

GX compares values in bulk only for the column types it recognises (numpy ints and floats,
nanosecond datetimes); for any other type (our microsecond timestamps, nullable `Int64`
ratings) its range rule calls a Python function per row, which was most of its cost at scale.
`comparable_columns` hands GX those columns in the types it vectorises, with the same values and
the same nulls, so its rules judge exactly what they judged before (`test_validation_rules.py`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd

from amed_pipeline.quality.gx import great_expectations
from amed_pipeline.quality.suites import SUITES, SuiteContext

_COUNTER = itertools.count()


@dataclass
class RuleOutcome:
    """The result of one rule on one dataset: which rows (positions) it rejected."""

    dataset: str
    rule: str
    description: str
    column: str
    success: bool
    evaluated_rows: int
    failing_positions: list[int] = field(default_factory=list)
    failing_columns: dict[int, str] = field(default_factory=dict)
    error: str = ""

    @property
    def failing_rows(self) -> int:
        return len(self.failing_positions)


def new_data_context():
    """An ephemeral GX data context with the pandas data source and no progress bars (a few ms, once
    GX is imported: `quality.gx`)."""
    gx = great_expectations()
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False, "metric_calculations": False, "profilers": False}
    context.data_sources.add_pandas("amed_pandas")
    return context


def validate_dataset(dataset: str, frame: pd.DataFrame, ctx: SuiteContext, context: Any = None) -> list[RuleOutcome]:
    """Run the dataset's suite once on `frame`; one outcome per rule. `context`: the data context to
    use (`GreatExpectationsResource` passes its own), else a new one."""
    gx = great_expectations()
    rules = SUITES[dataset]
    frame = frame.reset_index(drop=True)
    if frame.empty:
        return [RuleOutcome(dataset, r.name, r.description, r.column, True, 0) for r in rules]
    context = context if context is not None else new_data_context()
    source = context.data_sources.get("amed_pandas")
    name = f"{dataset}_{next(_COUNTER)}"
    batch_definition = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe("all")
    suite = gx.ExpectationSuite(name=name)
    columns: set[str] = set()
    for rule in rules:
        for expectation in rule.expectations(ctx):
            expectation.meta = {"rule": rule.name}  # ties each result back to its rule
            suite.add_expectation(expectation)
            columns.update(_columns_of(expectation.configuration.kwargs))
    suite = context.suites.add(suite)
    derived = {d.name: d for rule in rules for d in rule.derived}
    # Only the columns the suite reads: GX hashes and copies the whole frame it is given.
    subset = frame[[c for c in frame.columns if c in columns]]
    if derived:
        subset = subset.assign(**{name: d.compute(frame[d.source], ctx) for name, d in derived.items()})
    batch = batch_definition.get_batch(batch_parameters={"dataframe": comparable_columns(subset)})
    result = batch.validate(suite, result_format={"result_format": "COMPLETE"})
    outcomes = {r.name: RuleOutcome(dataset, r.name, r.description, r.column, True, len(frame)) for r in rules}
    for expectation_result in result.results:
        config = expectation_result.expectation_config
        outcome = outcomes[config.meta["rule"]]
        if expectation_result.success:
            continue
        outcome.success = False
        info = expectation_result.exception_info or {}
        if isinstance(info, dict) and info.get("raised_exception"):
            outcome.error = str(info.get("exception_message", "the expectation raised an error"))
        column = (
            config.kwargs.get("column")
            or config.kwargs.get("column_A")
            or ", ".join(config.kwargs.get("column_list", []))
        )
        column = derived[column].source if column in derived else column
        for failing in expectation_result.result.get("unexpected_index_list") or []:
            row_position = int(failing if not isinstance(failing, dict) else failing.get("index", 0))
            if row_position not in outcome.failing_columns:
                outcome.failing_positions.append(row_position)
                outcome.failing_columns[row_position] = column
    context.suites.delete(name)
    source.delete_asset(name)
    return list(outcomes.values())


# The nanosecond range pandas can hold (years 1677 to 2262): a parsed date outside it is held at
# the nearest end, where every window and pair comparison of the suites judges it the same way.
_NS_MIN = pd.Timestamp.min.as_unit("us").ceil("s").as_unit("us")
_NS_MAX = pd.Timestamp.max.as_unit("us").floor("s").as_unit("us")


def comparable_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with nullable integers as float64 (NaN for missing) and datetimes in nanoseconds:
    the types GX's range and pair rules compare in bulk (see the module docstring)."""
    converted = {}
    for name, column in frame.items():
        if isinstance(column.dtype, pd.Int64Dtype) or (
            pd.api.types.is_integer_dtype(column.dtype) and column.dtype != np.int64
        ):
            converted[name] = column.astype("float64")
        elif pd.api.types.is_datetime64_dtype(column.dtype) and column.dtype != np.dtype("datetime64[ns]"):
            converted[name] = column.clip(_NS_MIN, _NS_MAX).astype("datetime64[ns]")
    return frame.assign(**converted) if converted else frame


def _columns_of(kwargs: dict) -> list[str]:
    named = [kwargs.get(k) for k in ("column", "column_A", "column_B")]
    return [c for c in named if c] + list(kwargs.get("column_list") or [])


class GreatExpectationsResource(dg.ConfigurableResource):
    """Great Expectations, wrapped: validates a canonical dataset against its suite, each time in a
    fresh data context (see the module docstring: a kept context grows with every batch)."""

    def validate(self, dataset: str, frame: pd.DataFrame, ctx: SuiteContext) -> list[RuleOutcome]:
        return validate_dataset(dataset, frame, ctx, new_data_context())
