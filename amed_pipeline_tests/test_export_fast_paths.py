"""The CSV exports' fast path gives exactly what the element-by-element code it replaced gives.

The reference below is the earlier `safe_for_spreadsheets`, kept here as the specification: every
cell of the fast path's frame must be the same object type and value, and the CSV text the same.
Hypothesis draws the awkward columns: formulas behind whitespace, missing values in text
columns, whole numbers mixed with fractions, empty frames. Scope: pure functions.
"""

from __future__ import annotations

import io

import hypothesis.strategies as st
import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings

from amed_pipeline.reports.exports import neutralise_formula, safe_for_spreadsheets, whole_numbers_as_integers

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TEXTS = st.sampled_from(["", "a", "=SUM(A1)", " =1+1", "+44", "-", "@x", "\tx", "\r", "Café", "0–10", "a=b"])


def reference_safe_for_spreadsheets(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = pd.Series([neutralise_formula(v) for v in out[column]], index=out.index, dtype=object)
    return out


def columns(size: int):
    texts = st.lists(TEXTS, min_size=size, max_size=size)
    missing = st.lists(st.one_of(st.none(), st.just(np.nan), TEXTS), min_size=size, max_size=size)
    numbers = st.lists(
        st.one_of(st.none(), st.integers(0, 3), st.sampled_from([0.0, 1.0, 0.5, 1385.0])), min_size=size, max_size=size
    )
    return st.one_of(
        texts.map(lambda v: pd.Series(v, dtype="str")),
        texts.map(lambda v: pd.Series(v, dtype=object)),
        missing.map(lambda v: pd.Series(v, dtype="str")),
        missing.map(lambda v: pd.Series(v, dtype=object)),
        texts.map(lambda v: pd.Series(v, dtype="string")),
        numbers.map(lambda v: pd.Series(v, dtype=object)),
        st.lists(st.floats(0, 5), min_size=size, max_size=size).map(lambda v: pd.Series(v, dtype=float)),
    )


@st.composite
def frames(draw):
    size = draw(st.integers(0, 6))
    drawn = draw(st.lists(columns(size), min_size=1, max_size=4))
    return pd.DataFrame({f"c{i}": series for i, series in enumerate(drawn)})


def csv_text(frame: pd.DataFrame) -> str:
    buffer = io.StringIO()
    whole_numbers_as_integers(frame).to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue()


@SETTINGS
@given(frames())
def test_safe_for_spreadsheets_matches_the_element_by_element_reference(frame):
    fast, expected = safe_for_spreadsheets(frame), reference_safe_for_spreadsheets(frame)
    pd.testing.assert_frame_equal(fast, expected, check_exact=True)
    for column in fast.columns:
        assert [type(v) for v in fast[column]] == [type(v) for v in expected[column]]
    assert csv_text(fast) == csv_text(expected)
