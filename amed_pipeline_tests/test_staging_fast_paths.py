"""Staging's fast paths give exactly what the straightforward code they replaced gives.

Each reference below is the earlier, row-by-row version, kept here as the specification: the
fast path must match it value for value and dtype for dtype (hypothesis draws the awkward cases:
missing values, ties, empty frames). Scope: pure functions and one small DuckDB warehouse.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import hypothesis.strategies as st
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings

from amed_pipeline.defs.staging import _batch_export
from amed_pipeline.landing import tables
from amed_pipeline.lib.frames import as_text, map_distinct, text_values
from amed_pipeline.reading.parse import QUARANTINE_COLUMNS, FileLedger
from amed_pipeline.reading.values import normalise_header
from amed_pipeline.staging.datasets import (
    ANSWER_FIELDS,
    DUPLICATE_COLUMNS,
    LANDED_SUBSTITUTES,
    RawExport,
    _combine,
    _formatted,
    _split_duplicates,
    link_bookings_to_sessions,
    occurrences,
    response_keys,
    session_keys,
)

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WORDS = st.sampled_from(["", "a", "b", "Ab", "a b", "é", "1", "0"])
TIMESTAMPS = st.sampled_from(
    [pd.NaT, pd.Timestamp("2024-03-05 10:00"), pd.Timestamp("2024-03-05 10:00:01.5"), pd.Timestamp("2023-12-31")]
)


# --- text_values ------------------------------------------------------------------------------


@SETTINGS
@given(
    st.one_of(
        st.lists(st.one_of(st.none(), st.integers(-3, 3))).map(lambda v: pd.Series(v, dtype="Int64")),
        st.lists(st.integers(-3, 3)).map(lambda v: pd.Series(v, dtype="int64")),
        st.lists(TIMESTAMPS).map(lambda v: pd.Series(v, dtype="datetime64[us]")),
        st.lists(st.one_of(st.none(), WORDS)).map(lambda v: pd.Series(v, dtype=object)),
        st.lists(st.one_of(st.none(), WORDS)).map(lambda v: pd.Series(v, dtype="str")),
        st.lists(st.one_of(WORDS, st.integers(0, 2), st.floats(-1, 1), st.none())).map(
            lambda v: pd.Series(v, dtype=object)
        ),
    )
)
def test_text_values_are_as_text(series):
    expected = as_text(series).to_numpy(dtype=object)
    got = text_values(series)
    assert got.dtype == object and got.tolist() == expected.tolist()


# --- duplicates -------------------------------------------------------------------------------


def split_duplicates_reference(rows, group_by, order_by):
    ordered = rows.sort_values(order_by, kind="stable")
    keep_mask = ~ordered.duplicated(subset=group_by, keep="last")
    kept = ordered[keep_mask]
    dropped_mask = (~keep_mask).to_numpy()
    dropped = ordered[dropped_mask]
    groups = ordered.groupby(group_by, sort=False, dropna=False)
    kept_file = groups["source_file"].transform("last").to_numpy()[dropped_mask]
    kept_row = groups["source_row"].transform("last").to_numpy()[dropped_mask]
    duplicates = pd.DataFrame(
        {
            "source_file": dropped["source_file"].to_numpy(),
            "source_row": dropped["source_row"].astype(int).to_numpy(),
            "kept_file": kept_file,
            "kept_row": kept_row.astype(int),
        },
        columns=list(DUPLICATE_COLUMNS),
    )
    return kept.sort_index(), duplicates


booking_rows = st.lists(
    st.tuples(
        st.sampled_from(["f1.csv", "f2.csv", "f3.csv"]),
        st.sampled_from(["k1", "k2", "k3", ""]),
        st.sampled_from(["p1", "p2"]),
        st.integers(0, 2),
    ),
    max_size=40,
)


@SETTINGS
@given(booking_rows, st.booleans())
def test_split_duplicates_is_the_reference(records, shuffled_index):
    rows = pd.DataFrame(records, columns=["source_file", "session_key", "person_key", "precedence"])
    rows["source_row"] = np.arange(len(rows)) % 7 + 2
    rows["file_order"] = rows["source_file"].rank(method="dense").astype(int)
    if shuffled_index:  # a subset of a larger frame, as after quarantining (increasing labels)
        rows.index = np.arange(len(rows)) * 3 + 5
    for group_by, order_by in (
        (["session_key", "person_key"], ["precedence", "file_order", "source_row"]),
        (["session_key"], ["file_order", "source_row"]),
    ):
        kept, duplicates = _split_duplicates(rows, group_by, order_by)
        kept_ref, duplicates_ref = split_duplicates_reference(rows, group_by, order_by)
        pd.testing.assert_frame_equal(kept, kept_ref)
        pd.testing.assert_frame_equal(duplicates, duplicates_ref)


# --- response identity ------------------------------------------------------------------------


def response_keys_reference(rows, dataset):
    answers = as_text(rows["submitted_at"])
    for name in ANSWER_FIELDS[dataset]:
        name = name if name in rows else LANDED_SUBSTITUTES[name]
        answers = answers + "\x1f" + as_text(rows[name])
    answers = answers + "\x1f" + as_text(rows["person_key"])
    has_id = as_text(rows["response_id"]) != ""
    by_content = "row:" + answers + "\x1f#" + occurrences(rows, answers).astype(str)
    identity = ("id:" + as_text(rows["response_id"])).where(has_id, by_content)
    text = rows["partnership_id"] + "|" + rows["source_name"] + "|" + identity
    return text.map(lambda t: hashlib.sha256(t.encode("utf-8")).hexdigest()[:24])


responses = st.lists(
    st.tuples(
        st.sampled_from(["f1.csv", "f2.csv"]),
        st.sampled_from(["", "", "R1", "R2"]),
        TIMESTAMPS,
        st.one_of(st.none(), st.integers(0, 10)),
        st.sampled_from(["", "nurse", "gp"]),
        st.sampled_from(["", "Hospital"]),
        st.sampled_from(["", "pk1"]),
    ),
    max_size=30,
)


@SETTINGS
@given(responses, st.sampled_from(["feedback", "followup"]))
def test_response_keys_are_the_reference(records, dataset):
    frame = pd.DataFrame(
        records,
        columns=["source_file", "response_id", "submitted_at", "usefulness", "profession", "setting", "person_key"],
    )
    rows = pd.DataFrame(
        {
            "partnership_id": pd.Series("p", index=frame.index, dtype=object),
            "source_name": pd.Series("s", index=frame.index, dtype=object),
            "source_file": frame["source_file"].astype(object),
            "source_row": np.arange(len(frame)) + 2,
            "response_id": frame["response_id"].astype(object),
            "submitted_at": frame["submitted_at"].astype("datetime64[us]"),
            "usefulness": pd.array(frame["usefulness"], dtype="Int64"),
            "knowledge": pd.array(frame["usefulness"], dtype="Int64"),
            "confidence": pd.array([None] * len(frame), dtype="Int64"),
            "conversations": frame["setting"].astype(object),
            "comment_digest": frame["profession"].astype(object),
            "profession": frame["profession"].astype(object),
            "setting": frame["setting"].astype(object),
            "person_key": frame["person_key"].astype(object),
        }
    )
    pd.testing.assert_series_equal(response_keys(rows, dataset), response_keys_reference(rows, dataset))


# --- dates as text ----------------------------------------------------------------------------


@SETTINGS
@given(st.lists(TIMESTAMPS), st.sampled_from(["%Y-%m-%d", "%d/%m/%Y"]))
def test_formatted_is_strftime(values, fmt):
    timestamps = pd.Series(values, dtype="datetime64[us]")
    expected = timestamps.dt.strftime(fmt).fillna("")
    assert _formatted(timestamps, fmt).tolist() == expected.tolist()


# --- sessions and the bookings' links to them ---------------------------------------------------


def session_keys_reference(partnership_ids, refs, titles, starts):
    by_ref = partnership_ids + ":" + as_text(refs)
    by_title = (
        partnership_ids
        + ":"
        + starts.dt.strftime("%Y-%m-%d").fillna("")
        + ":"
        + map_distinct(as_text(titles), normalise_header)
    )
    return by_ref.where(as_text(refs) != "", by_title)


def link_reference(bookings, sessions):
    by_ref = dict(zip(sessions["partnership_id"] + "|" + as_text(sessions["session_ref"]), sessions["session_key"]))
    by_title = dict(
        zip(
            sessions["partnership_id"]
            + "|"
            + map_distinct(as_text(sessions["title"]), normalise_header)
            + "|"
            + pd.to_datetime(sessions["start"]).dt.strftime("%Y-%m-%d"),
            sessions["session_key"],
        )
    )
    ref_keys = (bookings["partnership_id"] + "|" + as_text(bookings["session_ref"])).map(by_ref)
    ref_keys = ref_keys.where(as_text(bookings["session_ref"]) != "")
    title_keys = (
        bookings["partnership_id"]
        + "|"
        + map_distinct(as_text(bookings["session_title"]), normalise_header)
        + "|"
        + bookings["session_start"].dt.strftime("%Y-%m-%d").fillna("")
    ).map(by_title)
    return ref_keys.fillna(title_keys).fillna("")


PARTNERS = st.sampled_from(["p", "q"])
REFS = st.sampled_from(["", "", "E1", "E2"])
TITLES = st.sampled_from(["", "Intro", "intro ", "Advanced"])
DAYS = st.sampled_from([pd.NaT, pd.Timestamp("2024-03-05 10:00"), pd.Timestamp("2024-03-06 09:00")])


@SETTINGS
@given(
    st.lists(st.tuples(PARTNERS, REFS, TITLES, DAYS), max_size=12),
    st.lists(st.tuples(PARTNERS, st.one_of(st.none(), REFS), TITLES, DAYS), max_size=30),
)
def test_session_keys_and_links_are_the_reference(session_records, booking_records):
    sessions = pd.DataFrame(session_records, columns=["partnership_id", "session_ref", "title", "start"])
    sessions["start"] = sessions["start"].astype("datetime64[us]")
    keys = session_keys(sessions["partnership_id"], sessions["session_ref"], sessions["title"], sessions["start"])
    expected = session_keys_reference(
        sessions["partnership_id"], sessions["session_ref"], sessions["title"], sessions["start"]
    )
    assert keys.tolist() == expected.tolist()
    sessions = sessions[sessions["start"].notna()].assign(session_key=keys)  # staged sessions have a start
    bookings = pd.DataFrame(
        booking_records, columns=["partnership_id", "session_ref", "session_title", "session_start"]
    )
    bookings["session_start"] = bookings["session_start"].astype("datetime64[us]")
    bookings["session_ref"] = bookings["session_ref"].astype(object)
    links = link_bookings_to_sessions(bookings, sessions)
    assert links.tolist() == link_reference(bookings, sessions).tolist()
    assert links.index.equals(bookings.index)


# --- one export per batch ---------------------------------------------------------------------


def exports_by_partnership_reference(dataset, partnership_ids, rows, quarantine, files):
    return [
        RawExport(
            p,
            "landing",
            dataset,
            rows[rows["partnership_id"] == p].reset_index(drop=True),
            quarantine[quarantine["partnership_id"] == p].reset_index(drop=True),
            [f for f in files if f.partnership_id == p],
        )
        for p in partnership_ids
    ]


def _ledger(partnership_id: str, source_file: str) -> FileLedger:
    return FileLedger(
        partnership_id=partnership_id,
        dataset="bookings",
        source_name="s",
        source_format="eventbrite",
        source_file=source_file,
        content_hash="h",
        size_bytes=1,
        rows_read=1,
    )


@pytest.mark.parametrize("batch", [["a", "b", "c"], ["c", "a", "b"], ["b"], ["c", "b", "a"]])
@pytest.mark.parametrize("empty", [False, True])
def test_a_batch_export_combines_like_one_export_per_partnership(batch, empty):
    landed = [p for p in sorted(batch) for _ in range(3)]  # as read_landed orders them
    rows = pd.DataFrame(
        {"partnership_id": landed, "source_file": [f"{p}{i}" for i, p in enumerate(landed)], "source_row": 2}
    ).iloc[: 0 if empty else None]
    quarantine = pd.DataFrame({c: [f"{p}-{c}" for p in reversed(landed)] for c in QUARANTINE_COLUMNS})
    quarantine["partnership_id"] = list(reversed(landed))
    files = [_ledger(p, f"{p}.csv") for p in sorted(batch)]
    got = _combine(_batch_export("bookings", batch, rows, quarantine, files))
    expected = _combine(exports_by_partnership_reference("bookings", batch, rows, quarantine, files))
    pd.testing.assert_frame_equal(got[0], expected[0])
    pd.testing.assert_frame_equal(got[1], expected[1])
    assert got[2] == expected[2]


# --- reading the landing tables ---------------------------------------------------------------


def test_read_landed_from_duckdb_is_what_the_generic_reader_gives(tmp_path, monkeypatch):
    """The DuckDB path (NumPy arrays) types every column as the generic path (`read_frame`) does,
    NULLs included: text, ratings, timestamps and times of day."""
    engine = sa.create_engine(f"duckdb:///{tmp_path}/w.duckdb")
    tables.metadata.create_all(engine)
    lineage = {"partnership_id": "p", "source_name": "s", "source_format": "f", "source_file": "x.csv"}
    sessions = tables.LANDING_ROWS["sessions"]
    feedback = tables.LANDING_ROWS["feedback"]
    time_columns = [c.name for c in sessions.columns if tables.FIELD_KINDS["sessions"].get(c.name) == "time"]
    assert time_columns, "the sessions table has a time of day to read"
    with engine.begin() as conn:
        conn.execute(
            sessions.insert(),
            [
                {**lineage, "source_row": 2, "title": "A", "start": dt.datetime(2024, 1, 2, 10), time_columns[0]: ""},
                {**lineage, "source_row": 3, "title": None, "start": None, time_columns[0]: "09:30:00"},
                {**lineage, "source_row": 4, "title": "", "start": None, time_columns[0]: None},
            ],
        )
        conn.execute(
            feedback.insert(),
            [
                {**lineage, "source_row": 2, "usefulness": 7, "submitted_at": dt.datetime(2024, 1, 2, 10, 1)},
                {**lineage, "source_row": 3, "usefulness": None, "submitted_at": None},
            ],
        )
    for dataset in ("sessions", "feedback", "bookings"):
        with engine.connect() as conn:
            fast = tables.read_landed(conn, dataset, "p")
        with monkeypatch.context() as patched, engine.connect() as conn:
            patched.setattr(tables, "_read_rows", lambda conn, statement: (tables.read_frame(conn, statement), False))
            generic = tables.read_landed(conn, dataset, "p")
        pd.testing.assert_frame_equal(fast[0], generic[0])
        pd.testing.assert_frame_equal(fast[1], generic[1])
        assert fast[2] == generic[2]
