"""The nightly refresh: every asset, in dependency order."""

import dagster as dg

NIGHTLY_JOB_NAME = "nightly_refresh"

nightly_refresh_job = dg.define_asset_job(
    NIGHTLY_JOB_NAME,
    selection=dg.AssetSelection.all(),
    description="Refresh everything: read every partnership's exports, stage, load the warehouse.",
)
