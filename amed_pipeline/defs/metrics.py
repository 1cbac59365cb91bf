"""Metric tables and published outputs: the evaluation's figures, every night, from raw rows.

`metrics/*` computes the exact figures in the warehouse (restricted), the disclosure-controlled
version, the definitions and a wide headline table; `reports/*` writes the CSV and Excel exports
and the HTML report under the export dir. Each asset shows its headline figures, row counts and
file paths in the UI; none shows personal data.
"""

import datetime as dt
import hashlib
import os
import tempfile
from pathlib import Path

import dagster as dg
import pandas as pd
from sqlalchemy import func, select

from amed_pipeline import settings
from amed_pipeline.config import ProgrammeConfig
from amed_pipeline.defs.staging import staged_key
from amed_pipeline.defs.warehouse import warehouse_key
from amed_pipeline.quality.staged import DATASETS as STAGED_DATASETS
from amed_pipeline.metrics import tables
from amed_pipeline.metrics.compute import metric_rows, run_queries
from amed_pipeline.operations.errors import ExportDirError
from amed_pipeline.metrics.disclosure import DisclosureRules, publish
from amed_pipeline.quality.checks import latest_blocking_failures
from amed_pipeline.quality.warehouse_checks import PER_PARTNERSHIP_CHECKS, blocked_partnerships
from amed_pipeline.quality.metric_checks import shares_not_summing_to_one, values_out_of_range
from amed_pipeline.reports.exports import write_csv, write_workbook
from amed_pipeline.reports.html_report import render_report
from amed_pipeline.warehouse import schema
from amed_pipeline.warehouse.bulk import replace_rows
from amed_pipeline.warehouse.landing import staging_state
from amed_pipeline.warehouse.state import fingerprint_of, record_fingerprint, stored_fingerprint
from amed_pipeline.warehouse.resource import WarehouseResource
from amed_pipeline.operations.retries import retry_only_transient

METRICS_GROUP = "metrics"
REPORTS_GROUP = "reports"
OWNERS = ["team:data-engineering"]
# What the metric queries read (metrics/compute.py): the staged facts and the people's roles.
METRIC_TABLES = (tables.metric_values, tables.metric_values_published, tables.metric_definitions, tables.metrics_headline)
REPORT_NOTES = [
    "Counts of 1 to 7 are suppressed ([c]); other counts are rounded to the nearest 5.",
    "Shares and means resting on fewer than 30 people or responses are flagged [u] (low reliability).",
    "Where one cell of a breakdown is suppressed, the next smallest is suppressed too (secondary suppression).",
    "'all' rows are computed over the merged data: a person trained by two partnerships counts once.",
    "Definitions of every metric are in the metric_definitions sheet.",
]


class ExportDirResource(dg.ConfigurableResource):
    """Where exports and the report are written (`AMED_EXPORT_DIR`, default `<data dir>/exports`)."""

    path: str

    def directory(self) -> Path:
        """The export dir, created if missing; ExportDirError (one line) when it cannot be written."""
        directory = Path(self.path)
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


def build_export_dir_resource(data_dir: Path) -> ExportDirResource:
    if os.environ.get(settings.EXPORT_DIR_VAR):
        return ExportDirResource(path=dg.EnvVar(settings.EXPORT_DIR_VAR))
    return ExportDirResource(path=str(Path(data_dir) / "exports"))


def metric_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["metrics", name])


def headline_markdown(headline: pd.DataFrame) -> str:
    shown = headline.drop(columns=["period_start", "period_end"]).set_index("partnership_id").T
    return shown.map(lambda v: "" if pd.isna(v) else (f"{v:,.0f}" if float(v).is_integer() else f"{v:.3f}")).to_markdown()


def read_table(conn, table) -> pd.DataFrame:
    return pd.DataFrame(conn.execute(select(table)).mappings().all(), columns=[c.name for c in table.columns])


def build_metric_assets(config: ProgrammeConfig) -> list[dg.AssetsDefinition]:
    # The tables the metric queries read (metrics/compute.py), so the lineage shows what feeds the figures.
    warehouse_deps = [*(staged_key(d) for d in STAGED_DATASETS), warehouse_key("dim_person")]

    @dg.multi_asset(
        specs=[
            dg.AssetSpec(metric_key("metric_values"), group_name=METRICS_GROUP, kinds={"sql"}, owners=OWNERS, deps=warehouse_deps,
                         description="Exact metric values (restricted, for the evaluator): one row per metric × partnership "
                         "× dimension value × period. Definitions in metrics/metric_definitions."),
            dg.AssetSpec(metric_key("metric_values_published"), group_name=METRICS_GROUP, kinds={"sql"}, owners=OWNERS, deps=warehouse_deps,
                         description="metric_values with disclosure control: counts 1–7 [c], counts rounded to 5, "
                         "small bases [u], secondary suppression."),
            dg.AssetSpec(metric_key("metric_definitions"), group_name=METRICS_GROUP, kinds={"sql"}, owners=OWNERS,
                         description="The definition of every metric: id, unit, dimension, label, definition."),
            dg.AssetSpec(metric_key("metrics_headline"), group_name=METRICS_GROUP, kinds={"sql"}, owners=OWNERS, deps=warehouse_deps,
                         description="Headline metrics, one row per partnership plus 'all' (from metric_values)."),
        ],
        check_specs=[
            dg.AssetCheckSpec("shares_sum_to_one", asset=metric_key("metric_values"), blocking=True,
                              description="shares of one breakdown (training types, role groups, professions within a type) sum to 1"),
            dg.AssetCheckSpec("values_in_range", asset=metric_key("metric_values"), blocking=True,
                              description="shares and rates within [0, 1], means within [0, 10], counts not negative"),
        ],
        can_subset=False,
        name="metric_tables",
    )
    @retry_only_transient
    def metric_tables(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        with warehouse.begin() as conn:
            refuse_over_blocking_failures(conn)
            fingerprint = metrics_fingerprint(conn, config)
            stored = read_table(conn, tables.metric_values)
            if len(stored) and stored_fingerprint(conn, METRICS_STEP) == fingerprint:
                # Nothing the figures depend on changed: keep them (and their run stamps) as they are.
                context.log.info("metric inputs unchanged since the last computation: metric tables kept")
                exact = stored
                headline = read_table(conn, tables.metrics_headline)
                written = {t.name: int(conn.execute(select(func.count()).select_from(t)).scalar()) for t in METRIC_TABLES}
            else:
                exact = withhold_blocked(metric_rows(run_queries(conn)), blocked_partnerships(conn), config)
                stamp = {"run_id": context.run_id, "computed_at": dt.datetime.now().replace(microsecond=0)}
                exact = exact.assign(**stamp)
                published = publish(exact, DisclosureRules(**config.disclosure)).assign(**stamp)
                definitions = tables.definitions_frame()
                headline = tables.headline_frame(exact) if len(exact) else pd.DataFrame(columns=[c.name for c in tables.metrics_headline.columns])
                frames = {
                    "metric_values": exact,
                    "metric_values_published": published,
                    "metric_definitions": definitions,
                    "metrics_headline": headline,
                }
                written = {t.name: replace_rows(conn, t, frames[t.name]) for t in METRIC_TABLES}
                record_fingerprint(conn, METRICS_STEP, fingerprint)
            blocked = blocked_partnerships(conn)
        headline_md = headline_markdown(headline) if len(headline) else "_no attended sessions yet_"
        if blocked:
            context.log.warning(" ".join(blocked_notes(blocked, config)))
        for table in METRIC_TABLES:
            metadata = {"dagster/row_count": dg.MetadataValue.int(written[table.name])}
            if table.name in ("metric_values", "metrics_headline"):
                metadata["headline"] = dg.MetadataValue.md(headline_md)
            yield dg.MaterializeResult(asset_key=metric_key(table.name), metadata=metadata)
        for name, failing in (("shares_sum_to_one", shares_not_summing_to_one(exact)), ("values_in_range", values_out_of_range(exact))):
            yield dg.AssetCheckResult(
                asset_key=metric_key("metric_values"), check_name=name, passed=failing.empty,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={"failing rows": dg.MetadataValue.int(len(failing)),
                          "examples": dg.MetadataValue.md(failing.head(5).to_markdown(index=False) if len(failing) else "_none_")},
            )

    @dg.asset(
        key=dg.AssetKey(["reports", "data_returns"]),
        group_name=REPORTS_GROUP,
        owners=OWNERS,
        kinds={"csv"},
        deps=[staged_key(d) for d in STAGED_DATASETS],
        description="One CSV per partnership under <export dir>/data_returns/ listing its quarantined rows and "
        "why (personal values masked), ready to send back to whoever owns the export. Built from the staged "
        "datasets, so it is written even when a blocking check stops the warehouse load; rebuilt every run, "
        "so once a corrected file replaces a bad one, its entries are gone.",
    )
    @retry_only_transient
    def data_returns(warehouse: WarehouseResource, export_dir: ExportDirResource):
        with warehouse.connect() as conn:
            quarantine = read_table(conn, schema.quarantine).sort_values(["source_file", "source_row", "column_name", "rule"])
        directory = export_dir.directory() / "data_returns"
        counts = {}
        for partnership in config.partnerships:
            rows = quarantine[quarantine["partnership_id"] == partnership.id].drop(columns=["partnership_id"])
            write_csv(rows, directory / f"{partnership.id}_data_return.csv")
            counts[partnership.id] = len(rows)
        summary = pd.DataFrame({"partnership": list(counts), "quarantined entries": list(counts.values())})
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": dg.MetadataValue.int(int(sum(counts.values()))),
                "by partnership": dg.MetadataValue.md(summary.to_markdown(index=False)),
                "folder": dg.MetadataValue.path(str(directory)),
            }
        )

    @dg.asset(
        key=dg.AssetKey(["reports", "exports"]),
        group_name=REPORTS_GROUP,
        owners=OWNERS,
        kinds={"csv", "excel"},
        deps=[metric_key("metric_values_published"), metric_key("metric_definitions"), metric_key("metrics_headline")],
        description="Published exports under the export dir: metric_values.csv (disclosure-controlled), "
        "metric_definitions.csv and an Excel workbook (cover, notes, flags, one sheet per table).",
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
                definitions = read_table(conn, tables.metric_definitions)
                notes = [*blocked_notes(blocked_partnerships(conn), config), *REPORT_NOTES]
        if unchanged:
            context.log.info("metric tables unchanged since these exports were written: files kept")
        else:
            period = _programme_period(published, config)
            write_csv(published, paths["metric_values.csv"])
            write_csv(definitions, paths["metric_definitions.csv"])
            write_workbook(
                paths["amed_metrics.xlsx"], {"metric_values": published, "metric_definitions": definitions},
                config.name, period, context.run_id, notes,
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

    @dg.asset(
        key=dg.AssetKey(["reports", "evaluation_report"]),
        group_name=REPORTS_GROUP,
        owners=OWNERS,
        kinds={"html"},
        deps=[metric_key("metric_values_published"), metric_key("metric_definitions"),
              warehouse_key(schema.ref_training_type.name), warehouse_key(schema.ref_role_group.name)],  # labels
        description="Self-contained HTML report in the evaluation's layout (headline figures, training types, "
        "role groups, delivery by month, ratings, conversations by setting, partnerships compared).",
    )
    @retry_only_transient
    def evaluation_report(context: dg.AssetExecutionContext, warehouse: WarehouseResource, export_dir: ExportDirResource):
        path = export_dir.directory() / REPORT_FILE
        metadata = {"report": dg.MetadataValue.path(str(path)), "open": dg.MetadataValue.url(path.resolve().as_uri())}
        with warehouse.connect() as conn:
            fingerprint = outputs_fingerprint(conn, config, [path])
            if fingerprint is not None and stored_fingerprint(conn, REPORT_STEP) == fingerprint:
                context.log.info("metric tables unchanged since this report was written: report kept")
                return dg.MaterializeResult(metadata={**metadata, "rewritten": dg.MetadataValue.bool(False)})
            published = read_table(conn, tables.metric_values_published)
            definitions = read_table(conn, tables.metric_definitions)
            training_types = read_table(conn, schema.ref_training_type)
            withheld = blocked_notes(blocked_partnerships(conn), config)
            role_groups = read_table(conn, schema.ref_role_group)
        labels = {
            "training_type": dict(zip(training_types["training_type"], training_types["label"])),
            "role_group": dict(zip(role_groups["role_group"], role_groups["label"])),
        }
        page = render_report(published, definitions, labels, {p.id: p.name for p in config.partnerships}, config.name,
                             context.run_id, warnings=withheld)
        temporary = path.with_suffix(".html.tmp")
        temporary.write_text(page, encoding="utf-8")
        os.replace(temporary, path)
        with warehouse.begin() as conn:
            record_fingerprint(conn, REPORT_STEP, outputs_fingerprint(conn, config, [path]))
        return dg.MaterializeResult(metadata={**metadata, "rewritten": dg.MetadataValue.bool(True)})

    return [metric_tables, data_returns, exports, evaluation_report]


METRICS_VERSION = "1"  # bump when metric definitions, disclosure or report code change
METRICS_STEP = "metric_tables"
EXPORTS_STEP = "reports/exports"
REPORT_STEP = "reports/evaluation_report"
EXPORT_FILES = ("metric_values.csv", "metric_definitions.csv", "amed_metrics.xlsx")
REPORT_FILE = "evaluation_report.html"


def metrics_fingerprint(conn, config: ProgrammeConfig) -> str:
    """Every partnership's staged fingerprint, the disclosure rules, the partnerships blocked by an
    unreadable file and the publishing policy, and the metric code version."""
    staged = sorted(tuple(r) for r in conn.execute(select(staging_state)).all())
    return fingerprint_of({"staged": staged, "disclosure": config.disclosure, "partnerships": config.partnership_ids,
                           "blocked": blocked_partnerships(conn), "all_while_blocked": config.programme_row_while_blocked,
                           "version": METRICS_VERSION})


def withhold_blocked(values: pd.DataFrame, blocked: dict[str, list[str]], config: ProgrammeConfig) -> pd.DataFrame:
    """Leave out the metric rows of partnerships with an unreadable file, and the programme-wide `all`
    rows too unless `publishing.programme_row_while_blocked` allows them (they would count the
    blocked partnership's readable files only)."""
    if not blocked:
        return values
    withheld = set(blocked) | (set() if config.programme_row_while_blocked else {"all"})
    return values[~values["partnership_id"].isin(withheld)].reset_index(drop=True)


def blocked_notes(blocked: dict[str, list[str]], config: ProgrammeConfig) -> list[str]:
    """The note exports, the report and the log carry while a partnership is blocked (no personal data)."""
    if not blocked:
        return []
    names = {p.id: p.name for p in config.partnerships}
    notes = []
    for partnership, files in blocked.items():
        shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
        notes.append(f"Not published: {names.get(partnership, partnership)} ({partnership}): an export file could not be "
                     f"read ({shown}); its figures return once the file is replaced (see its data return).")
    if config.programme_row_while_blocked:
        notes.append("The programme-wide 'all' figures are published without the unreadable files "
                     "(publishing.programme_row_while_blocked: true).")
    else:
        notes.append("The programme-wide 'all' figures are withheld while a partnership is blocked "
                     "(publishing.programme_row_while_blocked: false).")
    return notes


def outputs_fingerprint(conn, config: ProgrammeConfig, paths: list[Path]) -> str | None:
    """What a report's files are made from (the metric tables' inputs, the partnerships' names, the
    files' places) and the files' bytes as written, so a file missing, cut short by a crash or
    replaced no longer matches the fingerprint recorded after writing it.

    None when a file is missing (it must be written whatever the fingerprint says).
    """
    if not all(path.exists() for path in paths):
        return None
    return fingerprint_of({"metrics": stored_fingerprint(conn, METRICS_STEP), "version": METRICS_VERSION,
                           "partnerships": [(p.id, p.name) for p in config.partnerships], "name": config.name,
                           "paths": [str(p) for p in paths], "bytes": [_file_digest(p) for p in paths]})


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def refuse_over_blocking_failures(conn) -> None:
    """The explicit guard: no metrics over an upstream blocking check whose latest result failed.

    Dagster's blocking checks stop downstream steps in the same run; this also covers a later run
    that materialises the metrics alone.
    """
    failures = latest_blocking_failures(conn)
    # An unreadable file blocks its own partnership only (withhold_blocked), not every metric.
    failures = failures[(failures["dataset"] != "metrics") & ~failures["rule"].isin(PER_PARTNERSHIP_CHECKS)] if len(failures) else failures
    if len(failures):
        rules = ", ".join(sorted(set(failures["dataset"] + "." + failures["rule"])))
        raise dg.Failure(
            description=f"metric tables not computed: blocking data-quality check(s) failed in their latest run: {rules}",
            metadata={"failing checks": dg.MetadataValue.md(failures[["dataset", "rule", "partnership_id", "failing_rows", "run_id"]].to_markdown(index=False))},
            allow_retries=False,  # not transient: retrying cannot help until the data is fixed
        )


def _programme_period(published: pd.DataFrame, config: ProgrammeConfig) -> tuple[dt.date, dt.date]:
    overall = published[(published["partnership_id"] == "all") & (published["dimension"] == "")]
    if overall.empty:
        return config.start, config.end
    return pd.Timestamp(overall["period_start"].min()).date(), pd.Timestamp(overall["period_end"].max()).date()


__all__ = ["build_metric_assets", "build_export_dir_resource", "ExportDirResource"]
