"""From rule outcomes to Dagster check results.

A row a row-level rule rejects leaves the dataset for `quarantine` (staging does that:
`staging.validated.quarantine_failures`), so the check that reports it is a WARN. Every check
result is also appended to the warehouse's `dq_results` history (`warehouse.check_results`).
Check metadata shows counts and a few example failures by file and row, never personal data
(staged rows carry none).
"""

from __future__ import annotations

import dagster as dg
import pandas as pd

from amed_pipeline.quality.validation import RuleOutcome

EXAMPLES = 5


def examples_markdown(
    frame: pd.DataFrame, columns=("source_file", "source_row", "column_name", "value", "reason")
) -> str:
    shown = frame.loc[:, [c for c in columns if c in frame.columns]].head(EXAMPLES)
    return shown.to_markdown(index=False) if len(shown) else "_none_"


def rule_check_result(asset_key: dg.AssetKey, outcome: RuleOutcome, rows: pd.DataFrame) -> dg.AssetCheckResult:
    """WARN when a row-level rule rejected rows (they were quarantined)."""
    examples = rows.iloc[outcome.failing_positions[:EXAMPLES]] if outcome.failing_positions else rows.head(0)
    example_frame = pd.DataFrame(
        {
            "source_file": examples.get("source_file", pd.Series(dtype=object)).to_numpy(),
            "source_row": examples.get("source_row", pd.Series(dtype=object)).to_numpy(),
            "column_name": [
                outcome.failing_columns.get(p, outcome.column) for p in outcome.failing_positions[:EXAMPLES]
            ],
        }
    )
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=outcome.rule,
        passed=outcome.success,
        severity=dg.AssetCheckSeverity.WARN,
        description=outcome.description,
        metadata={
            "failing rows (quarantined)": dg.MetadataValue.int(outcome.failing_rows),
            "evaluated rows": dg.MetadataValue.int(outcome.evaluated_rows),
            "examples": dg.MetadataValue.md(examples_markdown(example_frame)),
            **({"error": dg.MetadataValue.text(outcome.error)} if outcome.error else {}),
        },
    )
