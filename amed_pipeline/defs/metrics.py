"""Metric tables: the evaluation's figures, every night, from raw rows.

`metrics/*` computes the exact figures in the warehouse (restricted), the disclosure-controlled
version, the definitions and a wide headline table. Each asset shows its headline figures and row
counts in the UI; none shows personal data. The exports and the report written from these tables
are `defs/reports.py`'s; the step names, versions and fingerprints both use are `changes/`'s.
"""

import datetime as dt

import dagster as dg
import pandas as pd
from sqlalchemy import func, select

from amed_pipeline.changes.fingerprints import metrics_fingerprint
from amed_pipeline.changes.state import record_fingerprint, stored_fingerprint
from amed_pipeline.changes.versions import METRICS_STEP, METRICS_VERSION
from amed_pipeline.config import DATASETS as STAGED_DATASETS
from amed_pipeline.config import ProgrammeConfig
from amed_pipeline.defs.staging import staged_key
from amed_pipeline.defs.warehouse import warehouse_key
from amed_pipeline.metrics import tables
from amed_pipeline.metrics.breakdowns import all_metric_rows, annotate_definitions
from amed_pipeline.metrics.catalogue import ALL_PARTNERSHIPS
from amed_pipeline.metrics.disclosure import DisclosureRules, publish
from amed_pipeline.operations.retries import retry_only_transient
from amed_pipeline.quality.metric_checks import shares_not_summing_to_one, values_out_of_range
from amed_pipeline.warehouse.bulk import replace_rows
from amed_pipeline.warehouse.check_results import latest_blocking_failures
from amed_pipeline.warehouse.checks import PER_PARTNERSHIP_CHECKS, blocked_partnerships
from amed_pipeline.warehouse.resource import WarehouseResource

METRICS_GROUP = "metrics"
OWNERS = ["team:data-engineering"]
# What the metric queries read (metrics/compute.py): the staged facts and the people's roles.
METRIC_TABLES = (
    tables.metric_values,
    tables.metric_values_published,
    tables.metric_definitions,
    tables.metrics_headline,
)
# The asset checks on metric_values: (name, description, the failing rows of a frame of exact values).
METRIC_CHECKS = (
    (
        "shares_sum_to_one",
        "shares of one breakdown (training types, role groups, professions within a type) sum to 1",
        shares_not_summing_to_one,
    ),
    (
        "values_in_range",
        "shares and rates within [0, 1], means within [0, 10], counts not negative",
        values_out_of_range,
    ),
)


def metric_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["metrics", name])


def headline_markdown(headline: pd.DataFrame) -> str:
    shown = headline.drop(columns=["period_start", "period_end"]).set_index("partnership_id").T
    return shown.map(
        lambda v: "" if pd.isna(v) else (f"{v:,.0f}" if float(v).is_integer() else f"{v:.3f}")
    ).to_markdown()


def read_table(conn, table) -> pd.DataFrame:
    return pd.DataFrame(conn.execute(select(table)).mappings().all(), columns=[c.name for c in table.columns])


def metric_specs() -> list[dg.AssetSpec]:
    """The four metric tables. The figures depend on the staged facts; the dependency on the warehouse
    load (dim_person) stays so its blocking checks (facts reference dimensions, keys unique) guard them."""
    # Roles come from each scope's own bookings (metrics/compute.py), not from dim_person.
    warehouse_deps = [*(staged_key(d) for d in STAGED_DATASETS), warehouse_key("dim_person")]
    descriptions = {
        "metric_values": "Exact metric values (restricted, for the evaluator): one row per metric × partnership "
        "× dimension value × period. Definitions in metrics/metric_definitions.",
        "metric_values_published": "metric_values with disclosure control: counts 1–7 [c], counts rounded to 5 "
        "(programme totals of people, attendances and sessions exact), shares from the rounded counts, "
        "bases of 1–7 [c], 0/0 [z], small bases [u], secondary suppression audited against differencing.",
        "metric_definitions": "The definition of every metric: id, unit, dimension, label, definition.",
        "metrics_headline": "Headline metrics, one row per partnership plus 'all' (from metric_values).",
    }
    return [
        dg.AssetSpec(
            metric_key(name),
            group_name=METRICS_GROUP,
            code_version=METRICS_VERSION,
            kinds={"sql"},
            owners=OWNERS,
            deps=[] if name == "metric_definitions" else warehouse_deps,
            description=description,
        )
        for name, description in descriptions.items()
    ]


def build_metric_assets(config: ProgrammeConfig) -> list[dg.AssetsDefinition]:
    @dg.multi_asset(
        specs=metric_specs(),
        check_specs=[
            dg.AssetCheckSpec(name, asset=metric_key("metric_values"), blocking=True, description=description)
            for name, description, _ in METRIC_CHECKS
        ],
        can_subset=False,
        name="metric_tables",
    )
    @retry_only_transient
    def metric_tables(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        with warehouse.begin() as conn:
            refuse_over_blocking_failures(conn)
            exact, headline, written, fingerprint = compute_or_keep_metric_tables(context, conn, config)
            blocked = blocked_partnerships(conn)
        if blocked:
            context.log.warning(" ".join(blocked_notes(blocked, config)))
        yield from metric_results(exact, headline, written, fingerprint)

    return [metric_tables]


def compute_or_keep_metric_tables(
    context: dg.AssetExecutionContext, conn, config: ProgrammeConfig
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int], str]:
    """The exact values, the headline table, the rows of each metric table and the inputs' fingerprint:
    computed and written in the caller's transaction, or kept as they are when nothing the figures
    depend on changed."""
    fingerprint = metrics_fingerprint(conn, config)
    stored = read_table(conn, tables.metric_values)
    if len(stored) and stored_fingerprint(conn, METRICS_STEP) == fingerprint:
        # Nothing the figures depend on changed: keep them (and their run stamps) as they are.
        context.log.info("metric inputs unchanged since the last computation: metric tables kept")
        written = {t.name: int(conn.execute(select(func.count()).select_from(t)).scalar()) for t in METRIC_TABLES}
        return stored, read_table(conn, tables.metrics_headline), written, fingerprint
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
    return exact, headline, written, fingerprint


def metric_results(exact: pd.DataFrame, headline: pd.DataFrame, written: dict[str, int], fingerprint: str):
    """One materialisation per metric table (row counts, the headline figures; the inputs' fingerprint
    as its data version) and the checks' results."""
    headline_md = headline_markdown(headline) if len(headline) else "_no attended sessions yet_"
    for table in METRIC_TABLES:
        metadata = {"dagster/row_count": dg.MetadataValue.int(written[table.name])}
        if table.name in ("metric_values", "metrics_headline"):
            metadata["headline"] = dg.MetadataValue.md(headline_md)
        yield dg.MaterializeResult(
            asset_key=metric_key(table.name), metadata=metadata, data_version=dg.DataVersion(fingerprint)
        )
    for name, _, failing_rows in METRIC_CHECKS:
        failing = failing_rows(exact)
        yield dg.AssetCheckResult(
            asset_key=metric_key("metric_values"),
            check_name=name,
            passed=failing.empty,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "failing rows": dg.MetadataValue.int(len(failing)),
                "examples": dg.MetadataValue.md(failing.head(5).to_markdown(index=False) if len(failing) else "_none_"),
            },
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


__all__ = ["build_metric_assets"]
