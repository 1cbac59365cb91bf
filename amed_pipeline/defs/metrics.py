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
from typing import Optional

import dagster as dg
import pandas as pd
from sqlalchemy import func, select

from amed_pipeline import settings
from amed_pipeline.config import DATASETS as STAGED_DATASETS
from amed_pipeline.config import ProgrammeConfig
from amed_pipeline.defs.staging import staged_key
from amed_pipeline.defs.warehouse import warehouse_key
from amed_pipeline.metrics import tables
from amed_pipeline.metrics.breakdowns import all_metric_rows, annotate_definitions
from amed_pipeline.metrics.catalogue import ALL_PARTNERSHIPS
from amed_pipeline.metrics.disclosure import DisclosureRules, publish
from amed_pipeline.operations.errors import ExportDirError
from amed_pipeline.operations.retries import retry_only_transient
from amed_pipeline.privacy.redaction import mask_series
from amed_pipeline.quality.checks import latest_blocking_failures
from amed_pipeline.quality.metric_checks import shares_not_summing_to_one, values_out_of_range
from amed_pipeline.quality.warehouse_checks import PER_PARTNERSHIP_CHECKS, blocked_partnerships
from amed_pipeline.reports import presentation
from amed_pipeline.reports.exports import write_csv
from amed_pipeline.reports.html_report import render_report
from amed_pipeline.reports.workbook import write_evaluation_workbook
from amed_pipeline.warehouse import schema
from amed_pipeline.warehouse.bulk import replace_rows
from amed_pipeline.warehouse.landing import read_redactions, staging_state
from amed_pipeline.warehouse.resource import WarehouseResource
from amed_pipeline.warehouse.state import fingerprint_of, record_fingerprint, stored_fingerprint

REDACTION_RETURN_COLUMNS = ("source_file", "dataset", "field_name", "kind", "redactions")

METRICS_GROUP = "metrics"
REPORTS_GROUP = "reports"
OWNERS = ["team:data-engineering"]
# What the metric queries read (metrics/compute.py): the staged facts and the people's roles.
METRIC_TABLES = (
    tables.metric_values,
    tables.metric_values_published,
    tables.metric_definitions,
    tables.metrics_headline,
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


def metric_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["metrics", name])


def headline_markdown(headline: pd.DataFrame) -> str:
    shown = headline.drop(columns=["period_start", "period_end"]).set_index("partnership_id").T
    return shown.map(
        lambda v: "" if pd.isna(v) else (f"{v:,.0f}" if float(v).is_integer() else f"{v:.3f}")
    ).to_markdown()


def read_table(conn, table) -> pd.DataFrame:
    return pd.DataFrame(conn.execute(select(table)).mappings().all(), columns=[c.name for c in table.columns])


def build_metric_assets(config: ProgrammeConfig) -> list[dg.AssetsDefinition]:
    # The tables the metric queries read (metrics/compute.py), so the lineage shows what feeds the figures.
    # Roles come from each scope's own bookings, not from dim_person; the dependency on the warehouse
    # load stays so its blocking checks (facts reference dimensions, keys unique) guard the figures.
    warehouse_deps = [*(staged_key(d) for d in STAGED_DATASETS), warehouse_key("dim_person")]

    @dg.multi_asset(
        specs=[
            dg.AssetSpec(
                metric_key("metric_values"),
                group_name=METRICS_GROUP,
                kinds={"sql"},
                owners=OWNERS,
                deps=warehouse_deps,
                description="Exact metric values (restricted, for the evaluator): one row per metric × partnership "
                "× dimension value × period. Definitions in metrics/metric_definitions.",
            ),
            dg.AssetSpec(
                metric_key("metric_values_published"),
                group_name=METRICS_GROUP,
                kinds={"sql"},
                owners=OWNERS,
                deps=warehouse_deps,
                description="metric_values with disclosure control: counts 1–7 [c], counts rounded to 5 "
                "(programme totals of people, attendances and sessions exact), shares from the rounded counts, "
                "bases of 1–7 [c], 0/0 [z], small bases [u], secondary suppression audited against differencing.",
            ),
            dg.AssetSpec(
                metric_key("metric_definitions"),
                group_name=METRICS_GROUP,
                kinds={"sql"},
                owners=OWNERS,
                description="The definition of every metric: id, unit, dimension, label, definition.",
            ),
            dg.AssetSpec(
                metric_key("metrics_headline"),
                group_name=METRICS_GROUP,
                kinds={"sql"},
                owners=OWNERS,
                deps=warehouse_deps,
                description="Headline metrics, one row per partnership plus 'all' (from metric_values).",
            ),
        ],
        check_specs=[
            dg.AssetCheckSpec(
                "shares_sum_to_one",
                asset=metric_key("metric_values"),
                blocking=True,
                description="shares of one breakdown (training types, role groups, professions within a type) sum to 1",
            ),
            dg.AssetCheckSpec(
                "values_in_range",
                asset=metric_key("metric_values"),
                blocking=True,
                description="shares and rates within [0, 1], means within [0, 10], counts not negative",
            ),
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
                written = {
                    t.name: int(conn.execute(select(func.count()).select_from(t)).scalar()) for t in METRIC_TABLES
                }
            else:
                exact = withhold_blocked(all_metric_rows(conn), blocked_partnerships(conn), config)
                stamp = {"run_id": context.run_id, "computed_at": dt.datetime.now().replace(microsecond=0)}
                exact = exact.assign(**stamp)
                published = publish(exact, DisclosureRules(**config.disclosure)).assign(**stamp)
                definitions = annotate_definitions(tables.definitions_frame())
                headline = (
                    tables.headline_frame(exact)
                    if len(exact)
                    else pd.DataFrame(columns=[c.name for c in tables.metrics_headline.columns])
                )
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
        for name, failing in (
            ("shares_sum_to_one", shares_not_summing_to_one(exact)),
            ("values_in_range", values_out_of_range(exact)),
        ):
            yield dg.AssetCheckResult(
                asset_key=metric_key("metric_values"),
                check_name=name,
                passed=failing.empty,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={
                    "failing rows": dg.MetadataValue.int(len(failing)),
                    "examples": dg.MetadataValue.md(
                        failing.head(5).to_markdown(index=False) if len(failing) else "_none_"
                    ),
                },
            )

    @dg.asset(
        key=dg.AssetKey(["reports", "data_returns"]),
        group_name=REPORTS_GROUP,
        owners=OWNERS,
        kinds={"csv"},
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
        counts, removed = {}, {}
        for partnership in config.partnerships:
            rows = quarantine[quarantine["partnership_id"] == partnership.id].drop(columns=["partnership_id"])
            write_csv(rows, directory / f"{partnership.id}_data_return.csv")
            counts[partnership.id] = len(rows)
            # What was removed from free text, per file, field and kind: counts only, never values.
            own = redactions[redactions["partnership_id"] == partnership.id]
            write_csv(own[list(REDACTION_RETURN_COLUMNS)], directory / f"{partnership.id}_data_return_redactions.csv")
            removed[partnership.id] = int(own["redactions"].sum()) if len(own) else 0
        summary = pd.DataFrame(
            {
                "partnership": list(counts),
                "quarantined entries": list(counts.values()),
                "removed from free text": list(removed.values()),
            }
        )
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
        deps=[
            metric_key("metric_values_published"),
            metric_key("metric_definitions"),
            metric_key("metrics_headline"),
            warehouse_key(schema.ref_training_type.name),
            warehouse_key(schema.ref_role_group.name),
            warehouse_key(schema.ref_profession.name),
        ],  # labels
        description="Published exports under the export dir: metric_values.csv (disclosure-controlled, ids with labels "
        "beside them, UTF-8 with a BOM), metric_definitions.csv and the GSS-style workbook amed_metrics.xlsx (cover, "
        "contents, notes, headline table, one sheet per breakdown, definitions, the long table).",
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
                labels = report_labels(conn, config)
                withheld = blocked_notes(blocked_partnerships(conn), config)
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

    @dg.asset(
        key=dg.AssetKey(["reports", "evaluation_report"]),
        group_name=REPORTS_GROUP,
        owners=OWNERS,
        kinds={"html"},
        deps=[
            metric_key("metric_values_published"),
            metric_key("metric_definitions"),
            warehouse_key(schema.ref_training_type.name),
            warehouse_key(schema.ref_role_group.name),
            warehouse_key(schema.ref_profession.name),
        ],  # labels
        description="Self-contained HTML report in the evaluation's layout (headline figures, training types, "
        "role groups, delivery by month, ratings, conversations by setting, partnerships compared).",
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
            definitions = read_table(conn, tables.metric_definitions)
            labels = report_labels(conn, config)
            withheld = blocked_notes(blocked_partnerships(conn), config)
        page = render_report(
            published,
            definitions,
            labels.values,
            {p.id: p.name for p in config.partnerships},
            config.name,
            context.run_id,
            notes=report_notes(DisclosureRules(**config.disclosure)),
            not_applicable=surveys_not_run(config),
            warnings=withheld,
        )
        temporary = path.with_suffix(".html.tmp")
        temporary.write_text(page, encoding="utf-8")
        os.replace(temporary, path)
        with warehouse.begin() as conn:
            record_fingerprint(conn, REPORT_STEP, outputs_fingerprint(conn, config, [path]))
        return dg.MaterializeResult(metadata={**metadata, "rewritten": dg.MetadataValue.bool(True)})

    return [metric_tables, data_returns, exports, evaluation_report]


METRICS_VERSION = "3"  # bump when metric definitions, disclosure or report code change
METRICS_STEP = "metric_tables"
EXPORTS_STEP = "reports/exports"
REPORT_STEP = "reports/evaluation_report"
EXPORT_FILES = ("metric_values.csv", "metric_definitions.csv", "amed_metrics.xlsx")
REPORT_FILE = "evaluation_report.html"


def metrics_fingerprint(conn, config: ProgrammeConfig) -> str:
    """Every partnership's staged fingerprint, the disclosure rules, the partnerships blocked by an
    unreadable file and the publishing policy, and the metric code version."""
    staged = sorted(tuple(r) for r in conn.execute(select(staging_state)).all())
    return fingerprint_of(
        {
            "staged": staged,
            "disclosure": config.disclosure,
            "partnerships": config.partnership_ids,
            "blocked": blocked_partnerships(conn),
            "all_while_blocked": config.programme_row_while_blocked,
            "version": METRICS_VERSION,
        }
    )


def withhold_blocked(values: pd.DataFrame, blocked: dict[str, list[str]], config: ProgrammeConfig) -> pd.DataFrame:
    """Leave out the metric rows of partnerships with an unreadable file, and the programme-wide `all`
    rows too unless `publishing.programme_row_while_blocked` allows them (they would count the
    blocked partnership's readable files only)."""
    if not blocked:
        return values
    withheld = set(blocked) | (set() if config.programme_row_while_blocked else {ALL_PARTNERSHIPS})
    return values[~values["partnership_id"].isin(withheld)].reset_index(drop=True)


def blocked_notes(blocked: dict[str, list[str]], config: ProgrammeConfig) -> list[str]:
    """The note exports, the report and the log carry while a partnership is blocked (no personal data)."""
    if not blocked:
        return []
    names = {p.id: p.name for p in config.partnerships}
    notes = []
    for partnership, files in blocked.items():
        shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
        notes.append(
            f"Not published: {names.get(partnership, partnership)} ({partnership}): an export file could not be "
            f"read ({shown}); its figures return once the file is replaced (see its data return)."
        )
    if config.programme_row_while_blocked:
        notes.append(
            "The programme-wide 'all' figures are published without the unreadable files "
            "(publishing.programme_row_while_blocked: true)."
        )
    else:
        notes.append(
            "The programme-wide 'all' figures are withheld while a partnership is blocked "
            "(publishing.programme_row_while_blocked: false)."
        )
    return notes


def outputs_fingerprint(conn, config: ProgrammeConfig, paths: list[Path]) -> str | None:
    """What a report's files are made from (the metric tables' inputs, the partnerships' names, the
    files' places) and the files' bytes as written, so a file missing, cut short by a crash or
    replaced no longer matches the fingerprint recorded after writing it.

    None when a file is missing (it must be written whatever the fingerprint says).
    """
    if not all(path.exists() for path in paths):
        return None
    return fingerprint_of(
        {
            "metrics": stored_fingerprint(conn, METRICS_STEP),
            "version": METRICS_VERSION,
            "partnerships": [(p.id, p.name) for p in config.partnerships],
            "name": config.name,
            "paths": [str(p) for p in paths],
            "bytes": [_file_digest(p) for p in paths],
        }
    )


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
    failures = (
        failures[(failures["dataset"] != "metrics") & ~failures["rule"].isin(PER_PARTNERSHIP_CHECKS)]
        if len(failures)
        else failures
    )
    if len(failures):
        rules = ", ".join(sorted(set(failures["dataset"] + "." + failures["rule"])))
        raise dg.Failure(
            description=f"metric tables not computed: blocking data-quality check(s) failed in their latest run: {rules}",
            metadata={
                "failing checks": dg.MetadataValue.md(
                    failures[["dataset", "rule", "partnership_id", "failing_rows", "run_id"]].to_markdown(index=False)
                )
            },
            allow_retries=False,  # not transient: retrying cannot help until the data is fixed
        )


def report_labels(conn, config: ProgrammeConfig) -> presentation.Labels:
    """Labels for every id an output shows: partnerships from the config, the rest from the reference tables."""
    definitions = read_table(conn, tables.metric_definitions)
    values = {}
    for table, key in (
        (schema.ref_training_type, "training_type"),
        (schema.ref_role_group, "role_group"),
        (schema.ref_profession, "profession"),
    ):
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


__all__ = ["build_metric_assets", "build_export_dir_resource", "ExportDirResource"]
