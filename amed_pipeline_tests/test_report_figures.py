"""Scope: the HTML report's figure lookup (`reports.html_report._Figures.row`).

The report finds each cell's published row through an index built once; it must give exactly the
row the scan of the frame gave (the first row matching metric, partnership, dimension and value),
and None where there is none, whatever the frame holds (duplicates, blanks, missing values).
"""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from amed_pipeline.reports.html_report import _Figures

METRICS = ("people_trained", "role_group_share")
PARTNERSHIPS = ("all", "leap")
DIMENSIONS = ("", "role_group")
VALUES = ("", "clinical", "other", None)


def scanned_row(frame: pd.DataFrame, metric_id, partnership, dimension, value):
    """The lookup as the report did it before the index: filter the frame, take the first row."""
    f = frame
    rows = f[(f["metric_id"] == metric_id) & (f["partnership_id"] == partnership) & (f["dimension"] == dimension)]
    rows = rows[rows["dimension_value"] == value]
    return None if rows.empty else rows.iloc[0]


rows = st.tuples(
    st.sampled_from(METRICS), st.sampled_from(PARTNERSHIPS), st.sampled_from(DIMENSIONS), st.sampled_from(VALUES)
)


@settings(max_examples=200, deadline=None)
@given(st.lists(rows, max_size=25))
def test_the_indexed_lookup_gives_the_row_the_scan_gave(keys):
    frame = pd.DataFrame(keys, columns=["metric_id", "partnership_id", "dimension", "dimension_value"])
    frame["value"] = range(len(frame))
    frame.index = frame.index * 3 + 7  # an index that is not the positions
    figures = _Figures(frame)
    for metric in METRICS:
        for partnership in PARTNERSHIPS:
            for dimension in DIMENSIONS:
                for value in ("", "clinical", "other", "absent"):
                    expected = scanned_row(frame, metric, partnership, dimension, value)
                    got = figures.row(metric, partnership, dimension, value)
                    if expected is None:
                        assert got is None
                    else:
                        pd.testing.assert_series_equal(got, expected)
