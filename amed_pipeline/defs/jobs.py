"""The nightly refresh: every asset, in dependency order.

Every step reads files or talks to the warehouse, so every step gets the same retry policy: a
transient failure (a file share that blinks, a database that restarts) is retried three times
after about 10 s, 30 s and 70 s before the run fails. Runs carry `amed/warehouse: write` so the
instance's run queue can let one writer at a time touch the warehouse (deploy/*.dagster.yaml).
"""

import dagster as dg

NIGHTLY_JOB_NAME = "nightly_refresh"
WAREHOUSE_WRITE_TAG = "amed/warehouse"
NIGHTLY_RETRY_POLICY = dg.RetryPolicy(max_retries=3, delay=10, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)

# Dagster's default multiprocess executor, with each step forked from a server that has already
# imported the pipeline: a step then starts in a fraction of a second instead of paying a fresh
# interpreter and imports (about 1.7 s a step on this kind of machine).
NIGHTLY_EXECUTOR = dg.multiprocess_executor.configured(
    {"start_method": {"forkserver": {"preload_modules": ["amed_pipeline.definitions"]}}}
)

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
