"""Published exports for the evaluator: CSV files and one Excel workbook, refreshed every run.

Only disclosure-controlled figures (`metric_values_published`) and the definitions leave the
warehouse. Text cells that a spreadsheet would run as a formula (starting with `=`, `+`, `-` or
`@`) are neutralised with a leading apostrophe. Writes go to a temporary file first and are then
renamed, so a reader never opens a half-written export.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pandas as pd

from amed_pipeline.metrics.disclosure import FLAG_LEGEND

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(value):
    """`=HYPERLINK(...)` → `'=HYPERLINK(...)`; numbers and other text unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def safe_for_spreadsheets(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(neutralise_formula)
    return out


def _atomic_write(path: Path, write) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write(temporary)
    os.replace(temporary, path)
    return path


def whole_numbers_as_integers(frame: pd.DataFrame) -> pd.DataFrame:
    """Write 1385, not 1385.0: whole numbers in numeric columns become integers, fractions stay.

    Counts sit in float columns beside shares (`value`), and the warehouse returns every number
    as a float; a count printed with `.0` reads as a measured quantity, not a count.
    """
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if pd.api.types.is_float_dtype(series) or series.dtype == object:
            out[column] = pd.Series(
                [int(v) if isinstance(v, float) and not pd.isna(v) and v.is_integer() else v for v in series.tolist()],
                index=series.index, dtype=object,
            )
    return out


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    return _atomic_write(
        Path(path), lambda p: whole_numbers_as_integers(safe_for_spreadsheets(frame)).to_csv(p, index=False, encoding="utf-8")
    )


def write_workbook(
    path: Path,
    sheets: dict[str, pd.DataFrame],
    programme_name: str,
    period: tuple[dt.date, dt.date],
    run_id: str,
    notes: list[str],
) -> Path:
    """Cover sheet (period, run), notes, flag legend, then one sheet per table."""
    cover = pd.DataFrame(
        {
            "": [
                f"{programme_name}: evaluation metrics",
                f"Period: {period[0]:%d %B %Y} to {period[1]:%d %B %Y}",
                f"Dagster run: {run_id}",
                f"Produced: {dt.datetime.now():%d %B %Y %H:%M}",
                "Figures are disclosure-controlled: see the Notes and Flags sheets.",
            ]
        }
    )
    legend = pd.DataFrame({"flag": list(FLAG_LEGEND), "meaning": list(FLAG_LEGEND.values())})
    notes_frame = pd.DataFrame({"note": notes})

    # The programme name comes from the config: neutralised like every other text cell.
    all_sheets = {"Cover": (safe_for_spreadsheets(cover), False), "Notes": (notes_frame, True), "Flags": (legend, True)}
    all_sheets.update({name[:31]: (safe_for_spreadsheets(frame), True) for name, frame in sheets.items()})

    def write(temporary: Path) -> None:
        # XlsxWriter (several times faster than openpyxl here); text is always written as text:
        # never turned into a formula, a number or a link.
        options = {"strings_to_formulas": False, "strings_to_numbers": False, "strings_to_urls": False}
        with pd.ExcelWriter(temporary, engine="xlsxwriter", engine_kwargs={"options": options}) as writer:
            for name, (frame, header) in all_sheets.items():
                frame.to_excel(writer, sheet_name=name, index=False, header=header)
                for position, column in enumerate(frame.columns):
                    shown = [str(column) if header else ""] + [("" if pd.isna(v) else str(v)) for v in frame[column].head(200)]
                    writer.sheets[name].set_column(position, position, min(max(max(map(len, shown)) + 2, 10), 80))

    return _atomic_write(Path(path), write)
