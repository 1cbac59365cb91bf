"""The code location: assets built from the data dir's `partnerships.yaml`, resources, jobs.

`build_definitions` is the factory tests call with their own data dir, warehouse, export dir and
key; the `defs` loader below is what `dagster dev -w workspace.yaml` and `python -m amed_pipeline
refresh` use. It runs when the code location loads, not when this module is imported. Loading
reads only the data dir and config name from the environment (they decide which assets exist);
the resources read the rest (`AMED_WAREHOUSE_URL`, `AMED_EXPORT_DIR`, the keys) when a run uses
them, unless an override was passed here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

import dagster as dg

from amed_pipeline import settings
from amed_pipeline.config import load_programme_config
from amed_pipeline.defs.automation import build_automation
from amed_pipeline.defs.config_errors import build_config_error_assets
from amed_pipeline.defs.jobs import NIGHTLY_JOB_NAME, nightly_refresh_job
from amed_pipeline.defs.metrics import build_metric_assets
from amed_pipeline.defs.pulls import build_api_resources, build_pull_assets
from amed_pipeline.defs.raw_exports import build_raw_export_assets
from amed_pipeline.defs.releases import build_release_job
from amed_pipeline.defs.reports import build_export_dir_resource, build_report_assets
from amed_pipeline.defs.resources import build_resources
from amed_pipeline.defs.retention import build_retention_definitions
from amed_pipeline.defs.staging import build_staging_assets
from amed_pipeline.defs.warehouse import build_warehouse_assets
from amed_pipeline.operations.console import one_line_console


def build_definitions(
    data_dir: Path | str | None = None,
    warehouse_url: str | None = None,
    config_name: str | None = None,
    export_dir: Path | str | None = None,
    pseudonym_key: str | None = None,
) -> dg.Definitions:
    """The code location over `data_dir` (default `AMED_DATA_DIR`, else the project's `data/`).

    `config_name`: the config file in the data dir (default `AMED_CONFIG`, else partnerships.yaml).
    `warehouse_url`, `export_dir`, `pseudonym_key`: overrides; each one left None is read from its
    `AMED_*` variable, else its default, when a run uses it. An override is resource config, shown
    in the UI: pass a real key or a URL with a password as a `dg.EnvVar`, or leave it to the
    environment."""
    data_dir = Path(data_dir).resolve() if data_dir else settings.data_dir()
    config = load_programme_config(data_dir, config_name)
    assets = [
        *build_pull_assets(config),
        *build_raw_export_assets(config),
        *build_staging_assets(config),
        *build_warehouse_assets(config),
        *build_metric_assets(config),
        *build_report_assets(config),
        *build_config_error_assets(config),
    ]
    core = dg.Definitions(
        assets=assets,
        jobs=[nightly_refresh_job, build_release_job(config, build_definitions)],
        loggers={"console": one_line_console},  # one line per record on the terminal, no stack traces
        resources={
            **build_resources(data_dir, warehouse_url, pseudonym_key),
            "export_dir": build_export_dir_resource(data_dir, export_dir),
            **build_api_resources(config),
        },
    )
    return dg.Definitions.merge(core, build_automation(config), build_retention_definitions(config))


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()


# The definitions a command already built in this process, for `nightly_job` while it runs the job
# (`running_in_process`): Dagster reconstructs the job several times per run (the origin, the
# subset, the execution), each a rebuild of the code location otherwise.
_built: ContextVar[dg.Definitions | None] = ContextVar("amed_built_definitions", default=None)


def nightly_job() -> dg.JobDefinition:
    """The nightly job with its resources, rebuilt in each step's process by `reconstructable` (in the
    process that built the definitions and runs the job, within `running_in_process`: those)."""
    return (_built.get() or build_definitions()).resolve_job_def(NIGHTLY_JOB_NAME)


@contextmanager
def running_in_process(definitions: dg.Definitions) -> Iterator[None]:
    """While the caller runs the nightly job in this process, `nightly_job` returns the job of
    `definitions` (built by `build_definitions()`, from the same environment) instead of a rebuild."""
    token = _built.set(definitions)
    try:
        yield
    finally:
        _built.reset(token)
