"""pandas helpers that several stages need.

pandas 3 keeps missing values missing through `astype(str)` (NaN, not 'nan'), and a missing
value then poisons string concatenation. Key-building code therefore uses `as_text`, which
turns every missing value into ''.
"""

from __future__ import annotations

import ctypes

import numpy as np
import pandas as pd


def as_text(series: pd.Series) -> pd.Series:
    """The series as plain text, with '' for every missing value."""
    if isinstance(series.dtype, pd.StringDtype):  # already text: only the missing values to fill
        return series.fillna("").astype(str)
    return series.astype(object).where(series.notna(), "").astype(str)


def text_values(series: pd.Series) -> np.ndarray:
    """`as_text(series)`'s values as a NumPy object array, without converting every row.

    Key building concatenates several columns row by row; doing it on object arrays skips the
    string dtype's conversions, and `str()` runs once per distinct value instead of once per row.
    A column that holds only strings is already its own text. Only integers and timestamps are
    converted per distinct value; any other column goes through `as_text` (distinct values could
    be equal but print differently: 1 and 1.0, 0.0 and -0.0).
    """
    if pd.api.types.is_integer_dtype(series.dtype) or pd.api.types.is_datetime64_any_dtype(series.dtype):
        codes, distinct = pd.factorize(series)  # missing values get code -1, hence the trailing ''
        texts = np.array([str(value) for value in distinct.astype(object)] + [""], dtype=object)
        return texts[codes]
    values = series.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(values, skipna=False) == "string":
        return values
    return as_text(series).to_numpy(dtype=object)


def map_distinct(series: pd.Series, function, fast=None) -> pd.Series:
    """`series.map(function)` calling the function once per distinct value (names, titles and
    emails repeat across rows), with the series' index.

    `fast(distinct values)`, when given, returns (a mask of the values it handled, their results)
    computed for the whole array at once; `function` then runs on the other values only. It must
    give exactly what `function` gives on the values it handles (its tests say so).
    """
    codes, distinct = pd.factorize(series.to_numpy(dtype=object))
    distinct = np.asarray(distinct, dtype=object)
    if fast is not None and len(distinct):
        handled, mapped = fast(distinct)
        mapped = np.asarray(mapped, dtype=object).copy()
        for position in np.flatnonzero(~handled):
            mapped[position] = function(distinct[position])
    else:
        mapped = np.array([function(value) for value in distinct], dtype=object)
    return pd.Series(mapped[codes] if len(codes) else np.array([], dtype=object), index=series.index, dtype=object)


def release_memory() -> None:
    """Hand memory freed by large frames back to the operating system.

    glibc keeps freed blocks in its arenas, so a long step's resident size stays at its largest
    batch; after each batch the step calls this (a no-op where glibc is not the allocator). No
    `gc.collect()`: frames are freed by reference counting, and a full collection over the heap
    of a long run cost seconds a batch.
    """
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def one_per_source_row(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with one row per source row (`source_file`, `source_row`): the first of each."""
    return frame.drop_duplicates(["source_file", "source_row"])
