"""The `evaluation_release` job: one Dagster run per release, with its own tags and metadata.

`python -m amed_pipeline release --name "Phase 2" --as-at 2021-04-30 [--as-known-at 2021-05-14]`
launches it (tags `amed/release`, `amed/as_at`, `amed/as_known_at`); the UI lists the releases
under *Runs*, filtered by tag, each with its version, fingerprints, input files, changed figures
and the folder it wrote. The work is `releases/build.py`; this module only wires it into Dagster
and writes the files. It is an op job, not an asset: a release is a frozen event, and the nightly
job (every asset) must not re-run it.
"""

import datetime as dt
import json
from pathlib import Path
from typing import Callable, Optional

import dagster as dg
import pandas as pd

from amed_pipeline.changes.versions import METRICS_VERSION, REPORT_FILE
from amed_pipeline.config import ProgrammeConfig
from amed_pipeline.defs.jobs import NIGHTLY_JOB_NAME, WAREHOUSE_WRITE_TAG, all_partnerships_tags
from amed_pipeline.defs.reports import (
    ExportDirResource,
    render_published_report,
    report_labels,
    surveys_not_run,
    write_published_outputs,
)
from amed_pipeline.metrics.disclosure import DisclosureRules
from amed_pipeline.releases.build import ReleaseRequest, freeze
from amed_pipeline.reports.exports import write_csv
from amed_pipeline.warehouse.resource import WarehouseResource

RELEASE_JOB_NAME = "evaluation_release"
RELEASE_TAG = "amed/release"


class ReleaseConfig(dg.Config):
    name: str
    as_at: str  # YYYY-MM-DD
    as_known_at: Optional[str] = None


def release_tags(request: ReleaseRequest) -> dict[str, str]:
    tags = {RELEASE_TAG: request.name, "amed/as_at": str(request.as_at)}
    if request.as_known_at:
        tags["amed/as_known_at"] = str(request.as_known_at)
    return tags


def release_run_config(request: ReleaseRequest) -> dict:
    config = {"name": request.name, "as_at": str(request.as_at)}
    if request.as_known_at:
        config["as_known_at"] = str(request.as_known_at)
    return {"ops": {"freeze_release": {"config": config}}}


def release_writer(config: ProgrammeConfig, labels, request: ReleaseRequest):
    """Writes a release's folder: CSVs, workbook, report, input files and a manifest; no clock, no run id."""
    rules = DisclosureRules(**config.disclosure)
    created = dt.datetime.combine(request.as_at, dt.time())

    def write(
        folder: Path,
        published: pd.DataFrame,
        definitions: pd.DataFrame,
        not_applicable,
        files: pd.DataFrame,
        manifest: dict,
    ):
        folder.mkdir(parents=True, exist_ok=True)
        known = f", as known at {request.as_known_at:%d %B %Y}" if request.as_known_at else ""
        line = (
            f"Evaluation release {request.name} (version {manifest['version']}): figures as at {request.as_at:%d %B %Y}{known}; "
            f"inputs fingerprint {manifest['inputs_fingerprint']}."
        )
        write_published_outputs(
            folder,
            published,
            definitions,
            labels,
            config,
            not_applicable=not_applicable,
            rules=rules,
            created=created,
            about=[line],
            keep_stamps=False,
        )
        page = render_published_report(published, definitions, labels, config, "", rules, not_applicable, footer=line)
        (folder / REPORT_FILE).write_text(page, encoding="utf-8")
        listed = files.assign(
            first_landed_at=files["first_landed_at"].map(lambda v: "" if pd.isna(v) else f"{pd.Timestamp(v):%Y-%m-%d}")
        )
        write_csv(
            listed[["source_file", "partnership_id", "dataset", "content_hash", "first_landed_at"]],
            folder / "input_files.csv",
        )
        (folder / "release.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")

    return write


def nightly_runner(
    build_definitions: Callable[..., dg.Definitions], partnership_ids
) -> Callable[[Path, str, Path], bool]:
    """`run_nightly(data_dir, warehouse_url, export_dir)` for `releases.build`: the nightly job over
    another data dir, warehouse and export dir, in this process; whether it succeeded.

    `build_definitions` is `definitions.build_definitions`, passed in because `defs` sits below it.
    """

    def run_nightly(data_dir: Path, warehouse_url: str, export_dir: Path) -> bool:
        definitions = build_definitions(data_dir, warehouse_url, export_dir=export_dir)
        result = definitions.resolve_job_def(NIGHTLY_JOB_NAME).execute_in_process(
            raise_on_error=False, tags=all_partnerships_tags(partnership_ids)
        )
        return result.success

    return run_nightly


def build_release_job(programme: ProgrammeConfig, build_definitions: Callable[..., dg.Definitions]) -> dg.JobDefinition:
    """`build_definitions`: the code location's factory, to rebuild a warehouse "as known at" a date."""

    @dg.op(name="freeze_release", description="Compute, record and export one evaluation release (releases/build.py).")
    def freeze_release(
        context: dg.OpExecutionContext,
        config: ReleaseConfig,
        warehouse: WarehouseResource,
        export_dir: ExportDirResource,
    ):
        request = ReleaseRequest(
            config.name,
            dt.date.fromisoformat(config.as_at),
            dt.date.fromisoformat(config.as_known_at) if config.as_known_at else None,
        )
        with warehouse.begin() as conn:
            labels = report_labels(conn, programme)
            outcome = freeze(
                conn,
                request,
                programme,
                export_dir.directory(),
                context.run_id,
                METRICS_VERSION,
                labels,
                release_writer(programme, labels, request),
                surveys_not_run,
                nightly_runner(build_definitions, programme.partnership_ids),
            )
        what = (
            "new version" if outcome.new_version else "same inputs and figures as before, files rewritten identically"
        )
        context.log.info(f"release {outcome.release_id}: {what}")
        yield dg.Output(
            None,
            metadata={
                "release": dg.MetadataValue.text(outcome.name),
                "release_id": dg.MetadataValue.text(outcome.release_id),
                "version": dg.MetadataValue.int(outcome.version),
                "new version": dg.MetadataValue.bool(outcome.new_version),
                "as at": dg.MetadataValue.text(str(request.as_at)),
                "as known at": dg.MetadataValue.text(str(request.as_known_at or "all landed files")),
                "input files": dg.MetadataValue.int(outcome.input_files),
                "published figures": dg.MetadataValue.int(outcome.figures),
                "inputs fingerprint": dg.MetadataValue.text(outcome.inputs_fingerprint),
                "figures fingerprint": dg.MetadataValue.text(outcome.figures_fingerprint),
                "folder": dg.MetadataValue.path(str(outcome.folder)),
            },
        )

    @dg.job(
        name=RELEASE_JOB_NAME,
        tags={WAREHOUSE_WRITE_TAG: "write"},
        description="Freeze an evaluation release as at a date (python -m amed_pipeline release).",
    )
    def evaluation_release():
        freeze_release()

    return evaluation_release


__all__ = ["build_release_job", "release_tags", "release_run_config", "RELEASE_JOB_NAME", "ReleaseConfig"]
