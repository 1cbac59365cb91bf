"""pandas helpers that several stages need.

pandas 3 keeps missing values missing through `astype(str)` (NaN, not 'nan'), and a missing
value then poisons string concatenation. Key-building code therefore uses `as_text`, which
turns every missing value into ''.
"""

from __future__ import annotations

import pandas as pd


def as_text(series: pd.Series) -> pd.Series:
    """The series as plain text, with '' for every missing value."""
    return series.astype(object).where(series.notna(), "").astype(str)
