"""The nightly refresh: every asset, in dependency order.

Every step reads files or talks to the warehouse, so every step gets the same retry policy: a
transient failure (a file share that blinks, a database that restarts, a lock held for a while,
an API answering 5xx or 429) is retried three times after about 10 s, 30 s and 70 s before the run
fails. Only transient failures: each step's body is wrapped by
`operations.retries.retry_only_transient`, so a config, data or key error fails at once. Runs carry `amed/warehouse: write` so the
instance's run queue can let one writer at a time touch the warehouse (deploy/*.dagster.yaml).
"""

import dagster as dg

NIGHTLY_JOB_NAME = "nightly_refresh"
WAREHOUSE_WRITE_TAG = "amed/warehouse"
NIGHTLY_RETRY_POLICY = dg.RetryPolicy(
    max_retries=3, delay=10, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)

# The in-process executor: the job has a handful of steps, each of which works over every
# partnership (the raw-exports step prepares files in worker processes of its own), so a process
# per step would only add a fresh interpreter, the definitions and the imports to each of them
# (a second or more a step, measured in benchmarks/) and a DuckDB open and checkpoint per step.
NIGHTLY_EXECUTOR = dg.in_process_executor

nightly_refresh_job = dg.define_asset_job(
    NIGHTLY_JOB_NAME,
    # Not raw-export retention (defs/retention.py): it moves raw files and has its own weekly schedule.
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets("raw_export_retention"),
    description="Refresh everything: read every partnership's exports, stage, load the warehouse.",
    op_retry_policy=NIGHTLY_RETRY_POLICY,
    executor_def=NIGHTLY_EXECUTOR,
    tags={WAREHOUSE_WRITE_TAG: "write"},
)


def all_partnerships_tags(partnership_ids: list[str]) -> dict[str, str]:
    """Run tags that cover every partnership partition in one run (the nightly refresh)."""
    if not partnership_ids:
        return {}
    return {
        "dagster/asset_partition_range_start": partnership_ids[0],
        "dagster/asset_partition_range_end": partnership_ids[-1],
    }


def partition_tags(partnership_ids: list[str], changed: list[str]) -> dict[str, str]:
    """Run tags for the partitions from the first to the last changed partnership (config order).

    Partnerships in between that did not change are skipped by staging (by fingerprint)."""
    positions = sorted(partnership_ids.index(p) for p in changed)
    if positions[0] == positions[-1]:
        return {"dagster/partition": partnership_ids[positions[0]]}
    return {
        "dagster/asset_partition_range_start": partnership_ids[positions[0]],
        "dagster/asset_partition_range_end": partnership_ids[positions[-1]],
    }
