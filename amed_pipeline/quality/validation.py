"""Run a dataset's expectation suite with Great Expectations (GX Core 1.x) on a DataFrame.

GX's old `dagster-ge` integration does not support GX 1.x, so this small wrapper (exposed to
Dagster as `GreatExpectationsResource`) does the job: one ephemeral data context per process,
one suite run per dataset (running each expectation on its own costs several times more), the
pandas data source (GX against DuckDB through SQLAlchemy is broken in 1.24), result format
COMPLETE so the rows a rule rejects are known and can go to quarantine. GX's progress bars are
silenced: they would end up in the run logs people read.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field

import dagster as dg
import pandas as pd

from amed_pipeline.quality.suites import SUITES, SuiteContext

_CONTEXT = None
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


def _context():
    global _CONTEXT
    if _CONTEXT is None:
        os.environ.setdefault("TQDM_DISABLE", "1")
        import great_expectations as gx

        _CONTEXT = gx.get_context(mode="ephemeral")
        try:
            _CONTEXT.variables.progress_bars = {"globally": False, "metric_calculations": False, "profilers": False}
        except Exception:  # older GX: the environment variable above is enough
            pass
        _CONTEXT.data_sources.add_pandas("amed_pandas")
    return _CONTEXT


def validate_dataset(dataset: str, frame: pd.DataFrame, ctx: SuiteContext) -> list[RuleOutcome]:
    """Run the dataset's suite once on `frame`; one outcome per rule."""
    import great_expectations as gx

    rules = SUITES[dataset]
    frame = frame.reset_index(drop=True)
    if frame.empty:
        return [RuleOutcome(dataset, r.name, r.description, r.column, True, 0) for r in rules]
    context = _context()
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
    # Only the columns the suite reads: GX hashes and copies the whole frame it is given.
    batch = batch_definition.get_batch(
        batch_parameters={"dataframe": frame[[c for c in frame.columns if c in columns]]}
    )
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
        for failing in expectation_result.result.get("unexpected_index_list") or []:
            row_position = int(failing if not isinstance(failing, dict) else failing.get("index", 0))
            if row_position not in outcome.failing_columns:
                outcome.failing_positions.append(row_position)
                outcome.failing_columns[row_position] = column
    context.suites.delete(name)
    source.delete_asset(name)
    return list(outcomes.values())


def _columns_of(kwargs: dict) -> list[str]:
    named = [kwargs.get(k) for k in ("column", "column_A", "column_B")]
    return [c for c in named if c] + list(kwargs.get("column_list") or [])


class GreatExpectationsResource(dg.ConfigurableResource):
    """Great Expectations, wrapped: validates a canonical dataset against its suite."""

    def validate(self, dataset: str, frame: pd.DataFrame, ctx: SuiteContext) -> list[RuleOutcome]:
        return validate_dataset(dataset, frame, ctx)
