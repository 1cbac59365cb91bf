"""The evaluator's workbook, laid out as the GSS guidance "Releasing statistics in spreadsheets" asks.

Written with ONS's `gptables` (over XlsxWriter): a cover sheet, a contents sheet and a notes
sheet, then one table per sheet with its title in A1, no merged cells, no blank rows inside a
table, each marked as a named Excel table (what a screen reader announces), header rows frozen,
shares formatted as percentages and counts as whole numbers, a base (n) column beside every
share and mean, and shorthand (`[c]`, `[u]`, `[z]`, `[x]`) in the cells with its key on the
cover and under each table.

What it must not do: compute or round a figure (it formats what `metric_values_published`
holds, see `presentation.py`), or let a text cell become a formula or a link. Every text cell is
neutralised as in the CSVs, gptables' own markup (`[text](url)` links, `$$note$$` references) is
broken up in data, and XlsxWriter never converts strings.

The long tidy table is the CSV's shape; in the workbook it is bounded (`LONG_TABLE_MAX_ROWS`):
gptables formats cell by cell, which is fine for thousands of rows and slow for the million a
large programme has. Above the bound the sheet is left out and the cover points to the CSV.
Wide tables show each partnership as columns up to `MAX_PARTNERSHIP_COLUMNS`; beyond that they
show the programme only, and per-partnership figures are in the long table and the CSV.
"""

from __future__ import annotations

import datetime as dt
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from amed_pipeline.metrics.tables import HEADLINE_METRICS
from amed_pipeline.reports import presentation as pres
from amed_pipeline.reports.exports import neutralise_formula

LONG_TABLE_MAX_ROWS = 10_000
MAX_PARTNERSHIP_COLUMNS = 20
XLSX_OPTIONS = {"strings_to_formulas": False, "strings_to_numbers": False, "strings_to_urls": False}


@dataclass(frozen=True)
class SheetSpec:
    sheet: str  # the tab name: short, no spaces, meaningful when read aloud
    table_name: str  # the Excel table's name
    title: str
    metrics: tuple[str, ...]
    dimension: str
    category_heading: str = "Category"


# The headline table, then one table per breakdown the evaluation discusses.
RATINGS = ("usefulness_end_mean", "knowledge_mean", "confidence_mean")
SURVEYS_BY_TYPE = (
    "feedback_response_rate",
    "usefulness_end_mean",
    "followup_response_rate",
    "usefulness_followup_mean",
)
SHEETS = (
    SheetSpec("Headline", "headline_figures", "Headline figures by partnership", HEADLINE_METRICS, "", "Measure"),
    SheetSpec(
        "Training_type",
        "training_type_shares",
        "Share of attendances by training type",
        ("training_type_share",),
        "training_type",
        "Training type",
    ),
    SheetSpec(
        "Role_group",
        "role_group_shares",
        "Share of people trained by role group",
        ("role_group_share",),
        "role_group",
        "Role group",
    ),
    SheetSpec(
        "Profession",
        "profession_shares",
        "Share of a training type's attendances by profession",
        ("profession_share",),
        "training_type|profession",
        "Training type and profession",
    ),
    SheetSpec(
        "Setting",
        "conversations_by_setting",
        "Follow-up respondents having more conversations, by setting",
        ("more_conversations_share",),
        "setting",
        "Setting",
    ),
    SheetSpec(
        "Month",
        "delivery_by_month",
        "Delivery and survey responses by month",
        ("people_trained", "attendances", "sessions_delivered", "feedback_responses", "followup_responses"),
        "month",
        "Month",
    ),
    SheetSpec(
        "Ratings_profession",
        "ratings_by_profession",
        "End-of-session ratings by profession",
        RATINGS,
        "profession",
        "Profession",
    ),
    SheetSpec(
        "Ratings_role_group",
        "ratings_by_role_group",
        "End-of-session ratings by role group",
        RATINGS,
        "role_group",
        "Role group",
    ),
    SheetSpec(
        "Surveys_training_type",
        "surveys_by_training_type",
        "Feedback and follow-up by training type",
        SURVEYS_BY_TYPE,
        "training_type",
        "Training type",
    ),
)


def safe_text(value):
    """A text cell as text: no formula, no gptables link (`[a](b)`) or note reference (`$$a$$`)."""
    if not isinstance(value, str):
        return value
    return neutralise_formula(value).replace("](", "] (").replace("$$", "$ $")


def _safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.map(safe_text) if len(frame) else frame


def _legend(symbols: set[str]) -> list[str]:
    key = pres.symbol_key()
    return [f"{s} {key[s]}" for s in sorted(symbols) if s in key]


def _table(
    gptables,
    frame: pd.DataFrame,
    formats: dict,
    spec_title: str,
    table_name: str,
    symbols: set[str],
    instructions: str,
    index_columns: dict,
):
    cell_formats = [
        {"cell": {"cells": (i + 1, j), "format": {"num_format": f}}} for (i, j), f in sorted(formats.items())
    ]
    legend = _legend(symbols)
    return gptables.GPTable(
        table=_safe_frame(frame),
        table_name=table_name,
        title=safe_text(spec_title),
        instructions=instructions,
        legend=legend or [],
        index_columns=index_columns,
        additional_formatting=cell_formats,
    )


def long_table(published: pd.DataFrame, labels: pres.Labels) -> tuple[pd.DataFrame, dict, set[str]]:
    """The tidy table for the workbook: labels and ids, figure with its base and note, shorthand for gaps."""
    frame = pres.labelled(published, labels)
    records, formats, symbols = [], {}, set()
    for i, r in enumerate(frame.itertuples(index=False)):
        status = r.observation_status or ""
        shown = pres.is_shown(r.value, status)
        has_base = r.unit in pres.BASE_UNITS
        gap = " ".join(pres.flags_of(status)) or pres.NOT_AVAILABLE
        records.append(
            {
                "Measure": r.metric_label,
                "Measure id": r.metric_id,
                "Partnership": r.partnership_name,
                "Partnership id": r.partnership_id,
                "Breakdown": r.dimension_label,
                "Category": r.dimension_value_label,
                "Category id": r.dimension_value or "none",
                "Period start": str(r.period_start)[:10],
                "Period end": str(r.period_end)[:10],
                "Figure": r.value if shown else gap,
                "Base (n)": (int(r.base_n) if shown and not pd.isna(r.base_n) else gap)
                if has_base
                else pres.NOT_APPLICABLE,
                "Note": " ".join(pres.flags_of(status)) if shown else "",
                "Unit": r.unit,
            }
        )
        symbols.update(pres.flags_of(status))
        if not shown:
            symbols.update(pres.flags_of(gap))
        formats[(i, 9)] = pres.NUMBER_FORMATS.get(r.unit, "General")
        formats[(i, 10)] = pres.NUMBER_FORMATS["count"]
    columns = [
        "Measure",
        "Measure id",
        "Partnership",
        "Partnership id",
        "Breakdown",
        "Category",
        "Category id",
        "Period start",
        "Period end",
        "Figure",
        "Base (n)",
        "Note",
        "Unit",
    ]
    return pd.DataFrame(records, columns=columns), formats, symbols


def write_evaluation_workbook(
    path: Path,
    published: pd.DataFrame,
    definitions: pd.DataFrame,
    labels: pres.Labels,
    scopes: list[str],
    programme_name: str,
    period: tuple[dt.date, dt.date],
    notes: list[str],
    not_applicable: dict[str, set[str]] | None = None,
    about: list[str] = (),
    created: dt.datetime | None = None,
) -> Path:
    """Cover, Contents, Notes, the headline table, one sheet per breakdown, definitions, the long table.

    `published`: rows of `metric_values_published` (after `presentation.mark_not_applicable`);
    `scopes`: 'all' then the partnership ids, in column order; `created`: the workbook's creation
    stamp (fixed for releases, so the file is byte-identical when its inputs are).
    """
    import gptables

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    scopes = scopes if len(scopes) <= MAX_PARTNERSHIP_COLUMNS + 1 else [pres.ALL]
    sheets = _breakdown_sheets(gptables, published, labels, scopes, not_applicable)
    sheets["Definitions"] = _definitions_sheet(gptables, definitions, labels)
    long_included = len(published) <= LONG_TABLE_MAX_ROWS
    if long_included and len(published):
        sheets["Metric_values"] = _long_sheet(gptables, published, labels)
    cover = _cover(gptables, programme_name, period, about, None if long_included else len(published))
    title = safe_text(f"{programme_name}: evaluation metrics")
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    _produce(gptables, temporary, sheets, cover, _notes_table(notes), title, created)
    os.replace(temporary, path)
    return path


BREAKDOWN_INSTRUCTIONS = (
    "This worksheet contains one table. Each partnership has a figure column, a base (n) column beside "
    "every share and mean, and a note column where a figure carries a flag."
)


def _breakdown_sheets(gptables, published, labels, scopes, not_applicable) -> dict:
    """The headline table and one table per breakdown (`SHEETS`), leaving out empty ones."""
    sheets = {}
    for spec in SHEETS:
        wide = pres.wide_table(
            published,
            labels,
            list(spec.metrics),
            spec.dimension,
            scopes,
            not_applicable,
            category_heading=spec.category_heading,
        )
        if wide.frame.empty:
            continue
        index = {1: 0, 2: 1} if spec.dimension else {1: 0}
        sheets[spec.sheet] = _table(
            gptables, wide.frame, wide.formats, spec.title, spec.table_name, wide.symbols, BREAKDOWN_INSTRUCTIONS, index
        )
    return sheets


def _definitions_sheet(gptables, definitions: pd.DataFrame, labels: pres.Labels):
    """The definition of every measure, one row each."""
    definition_frame = pd.DataFrame(
        {
            "Measure": [labels.metric(m) for m in definitions["metric_id"]],
            "Measure id": definitions["metric_id"],
            "Unit": definitions["unit"],
            "Breakdowns": definitions["dimension"].map(lambda d: d or "none").fillna("none"),
            "Definition": definitions["definition"],
        }
    )
    return _table(
        gptables,
        definition_frame,
        {},
        "Definitions of every measure",
        "definitions",
        set(),
        "This worksheet contains one table.",
        {},
    )


def _long_sheet(gptables, published: pd.DataFrame, labels: pres.Labels):
    """Every published figure, one row each."""
    frame, formats, symbols = long_table(published, labels)
    return _table(
        gptables,
        frame,
        formats,
        "All published figures (long table)",
        "metric_values",
        symbols,
        "This worksheet contains one table, one row per figure.",
        {},
    )


def _cover(gptables, programme_name: str, period, about, long_rows_left_out: int | None):
    """The cover: title, period, the shorthand key and where the long table is when it is left out."""
    key = pres.symbol_key()
    cover_about = [
        *about,
        "Figures are disclosure-controlled. Shorthand used in the tables:",
        *[f"{s} {key[s]}" for s in sorted(key)],
        "A blank note cell means no flag applies to the figure beside it.",
    ]
    if long_rows_left_out is not None:
        cover_about.append(
            f"The long table ({long_rows_left_out:,} rows) is in metric_values.csv beside this workbook, not in it."
        )
    return gptables.Cover(
        title=safe_text(f"{programme_name}: evaluation metrics"),
        intro=[
            safe_text(f"Period: {period[0]:%d %B %Y} to {period[1]:%d %B %Y}"),
            "Each table is on its own sheet; the Contents sheet links to them.",
        ],
        about=[safe_text(line) for line in cover_about],
    )


def _notes_table(notes: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {"Note reference": [f"note{i + 1}" for i in range(len(notes))], "Note text": [safe_text(n) for n in notes]}
    )


def _produce(gptables, temporary: Path, sheets: dict, cover, notes_table, title: str, created) -> None:
    """Write the workbook to `temporary`: gptables' sheets, frozen header rows, the document properties."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gptables warns about blank note cells and unreferenced notes
        workbook = gptables.produce_workbook(
            filename=str(temporary),
            sheets=sheets,
            cover=cover,
            notes_table=notes_table,
            contentsheet_label="Contents",
            workbook_options=XLSX_OPTIONS,
        )
        for label, table in {"Contents": None, "Notes": None, **sheets}.items():
            worksheet = workbook.get_worksheet_by_name(label)
            header_row = table.data_range[0] if table is not None else _header_row(worksheet)
            worksheet.freeze_panes(header_row + 1, 1 if table is not None and table.index_columns else 0)
        workbook.set_properties({"title": title, "created": created or dt.datetime.now().replace(microsecond=0)})
        workbook.close()


def _header_row(worksheet) -> int:
    """The header row of the single table gptables wrote on a generated sheet (contents, notes)."""
    from xlsxwriter.utility import xl_cell_to_rowcol

    tables = getattr(worksheet, "tables", [])
    return xl_cell_to_rowcol(tables[0]["range"].split(":")[0])[0] if tables else 0
