"""Published outputs: the exports, the report and the data returns, written under the export dir.

`reports/*` writes the CSV and Excel exports and the HTML report from the metric tables
(`defs/metrics.py` computes them); the data returns list each partnership's quarantined rows. Each
asset shows row counts and file paths in the UI; none shows personal data. The exports and the
report are rewritten only when the metric tables or the files changed (`outputs_fingerprint`).
"""

import datetime as dt
import os
import tempfile
from pathlib import Path
from typing import Optional

import dagster as dg
import pandas as pd

from amed_pipeline import settings
from amed_pipeline.changes.fingerprints import outputs_fingerprint
from amed_pipeline.changes.state import record_fingerprint, stored_fingerprint
from amed_pipeline.changes.versions import EXPORT_FILES, EXPORTS_STEP, METRICS_VERSION, REPORT_FILE, REPORT_STEP
from amed_pipeline.config import DATASETS as STAGED_DATASETS
from amed_pipeline.config import ProgrammeConfig
from amed_pipeline.defs.metrics import OWNERS, blocked_notes, metric_key, read_table
from amed_pipeline.defs.staging import staged_key
from amed_pipeline.defs.warehouse import warehouse_key
from amed_pipeline.errors import ExportDirError
from amed_pipeline.landing.tables import read_redactions
from amed_pipeline.metrics import tables
from amed_pipeline.metrics.catalogue import ALL_PARTNERSHIPS
from amed_pipeline.metrics.disclosure import DisclosureRules
from amed_pipeline.operations.retries import retry_only_transient
from amed_pipeline.privacy.redaction import mask_series
from amed_pipeline.reports import presentation
from amed_pipeline.reports.exports import write_csv
from amed_pipeline.reports.html_report import render_report
from amed_pipeline.reports.workbook import write_evaluation_workbook
from amed_pipeline.warehouse import schema
from amed_pipeline.warehouse.checks import blocked_partnerships
from amed_pipeline.warehouse.resource import WarehouseResource

REDACTION_RETURN_COLUMNS = ("source_file", "dataset", "field_name", "kind", "redactions")

REPORTS_GROUP = "reports"
# The reference tables whose labels the outputs show beside ids: (table, id column).
LABEL_TABLES = (
    (schema.ref_training_type, "training_type"),
    (schema.ref_role_group, "role_group"),
    (schema.ref_profession, "profession"),
)


def report_notes(rules: DisclosureRules) -> list[str]:
    """The notes every export and the report carry, from the disclosure rules in force."""
    exact_totals = ", ".join(m.replace("_", " ") for m in rules.exact_programme_totals) or "none"
    return [
        presentation.rounding_note(rules),
        f"Counts of 1 to {rules.suppress_counts_up_to} are suppressed ([c]); so is a share or mean resting on 1 to "
        f"{rules.suppress_counts_up_to} people or responses. One with nothing to count is not applicable ([z]).",
        f"Programme-wide totals published exactly (unless that would reveal a suppressed cell): {exact_totals}.",
        f"Shares and means resting on fewer than {rules.low_reliability_base} people or responses are flagged [u] "
        "(low reliability).",
        "Where a suppressed cell could be worked out from a total and the other cells (across categories, months, "
        "partnerships or the programme row), further cells are suppressed (secondary suppression).",
        "'All partnerships' figures are computed over the merged data: a person trained by two partnerships counts once.",
        "Follow-up measures of a partnership that runs no follow-up survey are not applicable ([z]), not 0 %.",
        "Definitions of every measure are on the Definitions sheet and in metric_definitions.csv.",
    ]


class ExportDirResource(dg.ConfigurableResource):
    """Where exports and the report are written: `path`, else `AMED_EXPORT_DIR` at run time, else
    `<data dir>/exports`."""

    path: Optional[str] = None
    data_dir: Optional[str] = None

    def directory(self) -> Path:
        """The export dir, created if missing; ExportDirError (one line) when it cannot be written."""
        directory = Path(self.path) if self.path else settings.export_dir(self.data_dir)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=directory, prefix=".write-test-"):
                pass
        except OSError as exc:
            raise ExportDirError(
                f"export dir {directory} cannot be written ({exc.strerror or type(exc).__name__}): set "
                f"{settings.EXPORT_DIR_VAR} to a folder this user can write, or fix its permissions"
            ) from exc
        return directory


def build_export_dir_resource(data_dir: Path, export_dir: Path | str | None = None) -> ExportDirResource:
    return ExportDirResource(path=str(export_dir) if export_dir else None, data_dir=str(data_dir))


def build_report_assets(config: ProgrammeConfig) -> list[dg.AssetsDefinition]:
    """The data returns, the exports and the HTML report, in the `reports` group."""
    return [_data_returns_asset(config), _exports_asset(config), _evaluation_report_asset(config)]


def _report_asset(
    name: str, kinds: set[str], deps: list[dg.AssetKey], description: str, code_version: str | None = None
):
    """The decorator of one asset of the `reports` group."""
    return dg.asset(
        key=dg.AssetKey(["reports", name]),
        group_name=REPORTS_GROUP,
        code_version=code_version,
        owners=OWNERS,
        kinds=kinds,
        deps=deps,
        description=description,
    )


def _data_returns_asset(config: ProgrammeConfig) -> dg.AssetsDefinition:
    @_report_asset(
        "data_returns",
        {"csv"},
        deps=[staged_key(d) for d in STAGED_DATASETS],
        description="One CSV per partnership under <export dir>/data_returns/ listing its quarantined rows and "
        "why (personal values masked), and beside it <partnership>_data_return_redactions.csv: how many emails, "
        "phone numbers, postcodes and known names were removed from each free-text field of each file (counts, "
        "no values). Ready to send back to whoever owns the export. Built from the staged "
        "datasets, so it is written even when a blocking check stops the warehouse load; rebuilt every run, "
        "so once a corrected file replaces a bad one, its entries are gone.",
    )
    @retry_only_transient
    def data_returns(warehouse: WarehouseResource, export_dir: ExportDirResource):
        with warehouse.connect() as conn:
            quarantine = read_table(conn, schema.quarantine).sort_values(
                ["source_file", "source_row", "column_name", "rule"]
            )
            redactions = read_redactions(conn)
        # Masked when quarantined already; masked again here because this file leaves the building.
        for column in ("value", "reason"):
            quarantine[column] = mask_series(quarantine[column]).to_numpy()
        directory = export_dir.directory() / "data_returns"
        summary = write_data_returns(directory, config, quarantine, redactions)
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": dg.MetadataValue.int(int(summary["quarantined entries"].sum())),
                "by partnership": dg.MetadataValue.md(summary.to_markdown(index=False)),
                "folder": dg.MetadataValue.path(str(directory)),
            }
        )

    return data_returns


def write_data_returns(
    directory: Path, config: ProgrammeConfig, quarantine: pd.DataFrame, redactions: pd.DataFrame
) -> pd.DataFrame:
    """Each partnership's data return and redaction counts under `directory`; what each holds, per partnership."""
    counts, removed = {}, {}
    for partnership in config.partnerships:
        rows = quarantine[quarantine["partnership_id"] == partnership.id].drop(columns=["partnership_id"])
        write_csv(rows, directory / f"{partnership.id}_data_return.csv")
        counts[partnership.id] = len(rows)
        # What was removed from free text, per file, field and kind: counts only, never values.
        own = redactions[redactions["partnership_id"] == partnership.id]
        write_csv(own[list(REDACTION_RETURN_COLUMNS)], directory / f"{partnership.id}_data_return_redactions.csv")
        removed[partnership.id] = int(own["redactions"].sum()) if len(own) else 0
    return pd.DataFrame(
        {
            "partnership": list(counts),
            "quarantined entries": list(counts.values()),
            "removed from free text": list(removed.values()),
        }
    )


def _label_deps() -> list[dg.AssetKey]:
    """The reference tables' assets, for the labels the exports and the report show."""
    return [warehouse_key(table.name) for table, _ in LABEL_TABLES]


def _exports_asset(config: ProgrammeConfig) -> dg.AssetsDefinition:
    @_report_asset(
        "exports",
        {"csv", "excel"},
        deps=[
            metric_key("metric_values_published"),
            metric_key("metric_definitions"),
            metric_key("metrics_headline"),
            *_label_deps(),
        ],
        description="Published exports under the export dir: metric_values.csv (disclosure-controlled, ids with labels "
        "beside them, UTF-8 with a BOM), metric_definitions.csv and the GSS-style workbook amed_metrics.xlsx (cover, "
        "contents, notes, headline table, one sheet per breakdown, definitions, the long table).",
        code_version=METRICS_VERSION,  # in its fingerprint (`changes.fingerprints.outputs_fingerprint`)
    )
    @retry_only_transient
    def exports(context: dg.AssetExecutionContext, warehouse: WarehouseResource, export_dir: ExportDirResource):
        directory = export_dir.directory()
        paths = {name: directory / name for name in EXPORT_FILES}
        with warehouse.connect() as conn:
            fingerprint = outputs_fingerprint(conn, config, list(paths.values()))
            unchanged = fingerprint is not None and stored_fingerprint(conn, EXPORTS_STEP) == fingerprint
            published = read_table(conn, tables.metric_values_published)
            if not unchanged:
                definitions, labels, withheld = _report_inputs(conn, config)
        if unchanged:
            context.log.info("metric tables unchanged since these exports were written: files kept")
        else:
            write_published_outputs(
                directory,
                published,
                definitions,
                labels,
                config,
                run_line=f"Dagster run: {context.run_id}",
                extra_notes=withheld,
            )
            with warehouse.begin() as conn:
                record_fingerprint(conn, EXPORTS_STEP, outputs_fingerprint(conn, config, list(paths.values())))
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": dg.MetadataValue.int(len(published)),
                "rewritten": dg.MetadataValue.bool(not unchanged),
                **{name: dg.MetadataValue.path(str(path)) for name, path in paths.items()},
            }
        )

    return exports


def _evaluation_report_asset(config: ProgrammeConfig) -> dg.AssetsDefinition:
    @_report_asset(
        "evaluation_report",
        {"html"},
        deps=[metric_key("metric_values_published"), metric_key("metric_definitions"), *_label_deps()],
        description="Self-contained HTML report in the evaluation's layout (headline figures, training types, "
        "role groups, delivery by month, ratings, conversations by setting, partnerships compared).",
        code_version=METRICS_VERSION,  # in its fingerprint (`changes.fingerprints.outputs_fingerprint`)
    )
    @retry_only_transient
    def evaluation_report(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, export_dir: ExportDirResource
    ):
        path = export_dir.directory() / REPORT_FILE
        metadata = {"report": dg.MetadataValue.path(str(path)), "open": dg.MetadataValue.url(path.resolve().as_uri())}
        with warehouse.connect() as conn:
            fingerprint = outputs_fingerprint(conn, config, [path])
            if fingerprint is not None and stored_fingerprint(conn, REPORT_STEP) == fingerprint:
                context.log.info("metric tables unchanged since this report was written: report kept")
                return dg.MaterializeResult(metadata={**metadata, "rewritten": dg.MetadataValue.bool(False)})
            published = read_table(conn, tables.metric_values_published)
            definitions, labels, withheld = _report_inputs(conn, config)
        rules = DisclosureRules(**config.disclosure)
        page = render_published_report(
            published, definitions, labels, config, context.run_id, rules, surveys_not_run(config), warnings=withheld
        )
        temporary = path.with_suffix(".html.tmp")
        temporary.write_text(page, encoding="utf-8")
        os.replace(temporary, path)
        with warehouse.begin() as conn:
            record_fingerprint(conn, REPORT_STEP, outputs_fingerprint(conn, config, [path]))
        return dg.MaterializeResult(metadata={**metadata, "rewritten": dg.MetadataValue.bool(True)})

    return evaluation_report


def _report_inputs(conn, config: ProgrammeConfig) -> tuple[pd.DataFrame, presentation.Labels, list[str]]:
    """What the exports and the report read besides the published values: definitions, labels, and
    the notes on partnerships withheld for an unreadable file."""
    definitions = read_table(conn, tables.metric_definitions)
    labels = report_labels(conn, config)
    withheld = blocked_notes(blocked_partnerships(conn), config)
    return definitions, labels, withheld


def render_published_report(
    published: pd.DataFrame,
    definitions: pd.DataFrame,
    labels: presentation.Labels,
    config: ProgrammeConfig,
    run_id: str,
    rules: DisclosureRules,
    not_applicable: dict[str, set[str]],
    **options,
) -> str:
    """The HTML report of the published values, with the config's names and the disclosure notes;
    `options` go to `render_report` (warnings, footer)."""
    return render_report(
        published,
        definitions,
        labels.values,
        {p.id: p.name for p in config.partnerships},
        config.name,
        run_id,
        notes=report_notes(rules),
        not_applicable=not_applicable,
        **options,
    )


def report_labels(conn, config: ProgrammeConfig) -> presentation.Labels:
    """Labels for every id an output shows: partnerships from the config, the rest from the reference tables."""
    definitions = read_table(conn, tables.metric_definitions)
    values = {}
    for table, key in LABEL_TABLES:
        frame = read_table(conn, table)
        values[key] = dict(zip(frame[key], frame["label"]))
    return presentation.Labels(
        {p.id: p.name for p in config.partnerships}, dict(zip(definitions["metric_id"], definitions["label"])), values
    )


def surveys_not_run(config: ProgrammeConfig, landed: set[tuple[str, str]] | None = None) -> dict[str, set[str]]:
    """{"feedback" | "followup": partnerships that run no such survey (no source; or, given `landed`
    (partnership, dataset) pairs, no file of it landed)}."""
    out = {}
    for survey in ("feedback", "followup"):
        out[survey] = {
            p.id
            for p in config.partnerships
            if not any(s.dataset == survey for s in p.sources) or (landed is not None and (p.id, survey) not in landed)
        }
    return out


def write_published_outputs(
    directory: Path,
    published: pd.DataFrame,
    definitions: pd.DataFrame,
    labels: presentation.Labels,
    config: ProgrammeConfig,
    run_line: str | None = None,
    not_applicable: dict[str, set[str]] | None = None,
    rules: DisclosureRules | None = None,
    created: dt.datetime | None = None,
    about: list[str] = (),
    keep_stamps: bool = True,
    extra_notes: list[str] = (),
) -> dict[str, Path]:
    """metric_values.csv (ids with labels beside them), metric_definitions.csv and the workbook.

    `extra_notes` come before the disclosure notes (e.g. a partnership withheld for an unreadable file).

    `keep_stamps=False` drops run ids and computation times from the CSV, for releases whose files
    must be byte-identical when their inputs are.
    """
    not_applicable = surveys_not_run(config) if not_applicable is None else not_applicable
    rules = rules or DisclosureRules(**config.disclosure)
    shown = presentation.mark_not_applicable(published, not_applicable)
    long = presentation.labelled(shown, labels)
    if not keep_stamps:
        long = long.drop(columns=["run_id", "computed_at"], errors="ignore")
    paths = {name: directory / name for name in EXPORT_FILES}
    write_csv(long, paths["metric_values.csv"])
    write_csv(definitions, paths["metric_definitions.csv"])
    scopes = [ALL_PARTNERSHIPS, *config.partnership_ids]
    write_evaluation_workbook(
        paths["amed_metrics.xlsx"],
        shown,
        definitions,
        labels,
        scopes,
        config.name,
        _programme_period(published, config),
        [*extra_notes, *report_notes(rules)],
        not_applicable,
        about=[*([run_line] if run_line else []), *about],
        created=created,
    )
    return paths


def _programme_period(published: pd.DataFrame, config: ProgrammeConfig) -> tuple[dt.date, dt.date]:
    overall = published[(published["partnership_id"] == ALL_PARTNERSHIPS) & (published["dimension"] == "")]
    if overall.empty:
        return config.start, config.end
    return pd.Timestamp(overall["period_start"].min()).date(), pd.Timestamp(overall["period_end"].max()).date()


__all__ = ["build_report_assets", "build_export_dir_resource", "ExportDirResource"]
