"""Published exports for the evaluator: CSV files (the workbook is `workbook.py`), refreshed every run.

Only disclosure-controlled figures (`metric_values_published`) and the definitions leave the
warehouse. CSVs are UTF-8 with a byte-order mark (Excel then reads "0–10" correctly). Text cells
that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, tab or carriage
return, also after leading whitespace) are neutralised with a leading apostrophe. Writes go to a
temporary file first and are then
renamed, so a reader never opens a half-written export.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(value):
    """`=HYPERLINK(...)` → `'=HYPERLINK(...)`; numbers and other text unchanged.

    Leading whitespace does not make a formula safe (`" =1+1"`: spreadsheets trim it on entry,
    and some on CSV import), so it is skipped before the first character is looked at.
    """
    if isinstance(value, str) and (value.startswith(FORMULA_PREFIXES) or value.lstrip().startswith(FORMULA_PREFIXES)):
        return "'" + value
    return value


def safe_for_spreadsheets(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = _neutralised(out[column])
    return out


def _neutralised(series: pd.Series) -> pd.Series:
    """`neutralise_formula` of every cell, as an object column.

    A column of text only, none missing (ids, labels: a few values repeated over thousands of rows), is checked
    once per distinct text. Anything else goes element by element into an object column: `map`
    would infer a float column from whole-number counts mixed with shares, and write 1385 as 1385.0
    (and `factorize` would merge 1 with 1.0, or None with NaN).
    """
    # (`infer_dtype` calls a text column with missing values "string" too: those take the slow path.)
    if len(series) and series.notna().all() and pd.api.types.infer_dtype(series, skipna=False) == "string":
        codes, texts = pd.factorize(series)
        neutral = np.array([neutralise_formula(text) for text in texts], dtype=object)
        return pd.Series(neutral.take(codes), index=series.index, dtype=object)
    return pd.Series([neutralise_formula(v) for v in series], index=series.index, dtype=object)


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
                index=series.index,
                dtype=object,
            )
    return out


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """UTF-8 with a byte-order mark, so that Excel opens "0–10" and "Café" as written; LF line ends.

    Whole numbers are written as integers (1385, not 1385.0)."""
    return _atomic_write(
        Path(path),
        lambda p: whole_numbers_as_integers(safe_for_spreadsheets(frame)).to_csv(
            p, index=False, encoding="utf-8-sig", lineterminator="\n"
        ),
    )
