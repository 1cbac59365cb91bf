"""Scope: the fast paths of preparing raw exports give exactly what the slow paths give.

Each fast path skips work the slow path would do for nothing (a per-cell check for damage no cell
has, a per-value normalisation of plain ASCII text, an HMAC object per value). Pseudonyms and name
digests must stay byte-identical, so each is compared with the slow path on the texts real exports
carry and on generated ones (hypothesis).
"""

from __future__ import annotations

import hashlib
import hmac

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from amed_pipeline.lib.frames import map_distinct
from amed_pipeline.lib.text import normalise_email, normalise_email_column, normalise_name, normalise_name_column
from amed_pipeline.privacy import redaction
from amed_pipeline.privacy.hashing import hmac_hex
from amed_pipeline.privacy.redaction import name_digest, name_digest_column, name_words
from amed_pipeline.reading.files import MAX_FIELD_CHARS, RawTable, may_hold_damaged_cells, read_raw_table
from amed_pipeline.reading.parse import damaged_cells
from amed_pipeline.staging.people import pseudonymise_series

KEY = b"test-key"

# Pieces of the texts people type where an email or a name goes: plain ASCII, case, placeholders,
# the typography `clean_text` folds (NFKC, curly quotes, entities, zero-width characters, spaces).
_PIECES = st.sampled_from(
    [
        "a",
        "Z",
        "o'neil",
        "O’Brien",
        "Zoë",
        "ＡＢ",
        "@",
        ".",
        "-",
        " ",
        "  ",
        "\t",
        "\u00a0",
        "\u200b",
        "\ufeff",
        "&amp;",
        "&",
        "n/a",
        "N/A",
        "none",
        "NONE",
        "Anonymous",
        "Info Requested",
        "unknown",
        "nhs.example",
        "x@y.org.",
        "İ",
        "ß",
        "1",
        "+",
        "_",
    ]
)
_TEXTS = st.lists(st.lists(_PIECES, max_size=6).map("".join), min_size=1, max_size=60)


@settings(max_examples=300, deadline=None)
@given(_TEXTS)
def test_email_column_equals_the_per_value_normalisation(texts):
    values = pd.Series(texts, dtype=object)
    assert normalise_email_column(values).tolist() == [normalise_email(t) for t in texts]


@settings(max_examples=300, deadline=None)
@given(_TEXTS)
def test_name_column_equals_the_per_value_normalisation(texts):
    values = pd.Series(texts, dtype=object)
    assert normalise_name_column(values).tolist() == [normalise_name(t) for t in texts]


def test_the_column_versions_keep_the_index_and_handle_no_rows():
    values = pd.Series(["A@B.org", "n/a"], index=[7, 3], dtype=object)
    assert normalise_email_column(values).to_dict() == {7: "a@b.org", 3: ""}
    assert normalise_name_column(pd.Series([], dtype=object)).tolist() == []
    mixed = pd.Series([3, "A B", 2.5, "X@Y.ORG"], dtype=object)  # not text: the per-value function
    assert normalise_name_column(mixed).tolist() == [normalise_name(v) for v in mixed]
    assert normalise_email_column(mixed).tolist() == [normalise_email(v) for v in mixed]


def test_map_distinct_runs_the_function_only_on_what_the_fast_path_left():
    seen = []

    def slow(value):
        seen.append(value)
        return value.upper()

    def fast(values):
        return np.array([v.startswith("a") for v in values]), np.array([v + "!" for v in values], dtype=object)

    mapped = map_distinct(pd.Series(["ab", "b", "ab", "c"]), slow, fast=fast)
    assert mapped.tolist() == ["ab!", "B", "ab!", "C"] and seen == ["b", "c"]


@settings(max_examples=100, deadline=None)
@given(_TEXTS)
def test_hmac_hex_is_the_hmac_object_digest(texts):
    for text in texts:
        assert hmac_hex(KEY, text) == hmac.new(KEY, text.encode("utf-8"), hashlib.sha256).hexdigest()


def test_pseudonyms_are_one_hmac_per_non_blank_text():
    texts = pd.Series(["email:a@b.org", "", "email:a@b.org", "name:p:x y"], index=[4, 5, 6, 7])
    expected = [hmac_hex(KEY, "email:a@b.org"), "", hmac_hex(KEY, "email:a@b.org"), hmac_hex(KEY, "name:p:x y")]
    result = pseudonymise_series(texts, KEY)
    assert result.tolist() == expected and list(result.index) == [4, 5, 6, 7]


@settings(max_examples=200, deadline=None)
@given(_TEXTS, _TEXTS)
def test_name_digests_equal_the_per_row_digests(firsts, lasts):
    size = min(len(firsts), len(lasts))
    frame = pd.DataFrame({"first_name": firsts[:size], "last_name": lasts[:size]})
    expected = []
    for first, last in zip(frame["first_name"], frame["last_name"]):
        if normalise_name(first) == "" or normalise_name(last) == "":
            expected.append("")
            continue
        words = name_words(first + " " + last)
        expected.append(name_digest(KEY, words) if 2 <= len(words.split(" ")) <= 6 else "")
    assert name_digest_column(KEY, frame).tolist() == expected


# --- damaged cells -------------------------------------------------------------------------------

_CELLS = st.lists(
    st.sampled_from(["", "a", "Nur\x00se", "x" * (MAX_FIELD_CHARS // 2), "x" * (MAX_FIELD_CHARS + 1), "ok"]),
    min_size=1,
    max_size=6,
)


@settings(max_examples=100, deadline=None)
@given(st.lists(_CELLS, min_size=1, max_size=5).map(lambda rows: [r + [""] * (6 - len(r)) for r in rows]))
def test_a_table_said_to_hold_no_damage_has_no_damaged_cell(grid):
    """When the reader says no cell can be damaged, the per-cell check would have found none."""
    frame = pd.DataFrame(grid, columns=range(6), dtype=object)
    frame["source_row"] = range(2, 2 + len(grid))
    table = RawTable(path=None, header_rows=[[f"h{i}" for i in range(6)]], rows=frame, encoding="")
    found = damaged_cells(table, table.header_rows[0])
    possible = may_hold_damaged_cells(grid)
    assert possible or not found[1]
    table.damage_possible = possible
    assert damaged_cells(table, table.header_rows[0]) == found


def test_the_reader_says_whether_damage_is_possible(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(b"Name,Job title\nAisha,Nurse\nBen,GP\n")
    assert not read_raw_table(path).damage_possible
    assert may_hold_damaged_cells([["x" * MAX_FIELD_CHARS, "y"]])  # the row is longer: may be
    assert not may_hold_damaged_cells([])
    path.write_bytes(b"Name,Job title\nAisha,Nur\x00se\nBen,GP\n")
    assert read_raw_table(path).damage_possible
    path.write_text("Name,Comment\nAisha," + "x" * (MAX_FIELD_CHARS + 1) + "\nBen,ok\n")
    assert read_raw_table(path).damage_possible
    path.write_text("Comment\n" + "x" * MAX_FIELD_CHARS + "\n" + "y" * MAX_FIELD_CHARS + "\n")
    assert not read_raw_table(path).damage_possible


@settings(max_examples=300, deadline=None)
@given(_TEXTS)
def test_the_name_candidate_test_equals_the_unicode_pattern(texts):
    """ASCII text is tested with an ASCII class: the same answer as the Unicode pattern, on every text."""
    text = pd.Series(texts + ["a\nb", "é b", "a²b", "Zoë Khan", "1 2", ""], dtype="string[pyarrow]")
    expected = text.str.contains(redaction._MAY_HOLD_NAME, regex=True).fillna(False).to_numpy(dtype=bool)
    assert redaction._may_hold_name(text).tolist() == expected.tolist()


@settings(max_examples=300, deadline=None)
@given(_TEXTS)
def test_name_words_of_plain_ascii_equal_the_unicode_path(texts):
    """`name_words` skips NFKC and the word pattern for ASCII letters in single-spaced words."""
    import unicodedata

    for text in texts + ["Mary Ann de la Cruz", "O'Brien  Zoe", "Amira Khan", "a", "A\\nB"]:
        folded = unicodedata.normalize("NFKC", text).casefold().replace("’", "'")
        assert name_words(text) == " ".join(redaction.NAME_WORD.findall(folded))


def test_classification_is_the_same_for_a_copy_of_the_rules(reference_tables):
    """The per-process cache of classifications is keyed by rules equal in value (unpickled copies)."""
    import pickle

    copy = pickle.loads(pickle.dumps(reference_tables))
    for title in ("Practice Nurse", "physio", "Health & Wellbeing Coach", "", "zzz"):
        assert copy.profession(title) == reference_tables.profession(title)
        assert copy.training_type(title) == reference_tables.training_type(title)


_REFS = st.lists(st.sampled_from(["", " ", "1", "22", "o-9"]), min_size=1, max_size=12)


@settings(max_examples=100, deadline=None)
@given(_REFS, _REFS, _TEXTS)
def test_eventbrite_record_identity_equals_the_whole_column_formula(attendees, orders, texts):
    """The order-based identity, built only where there is no attendee number, as it was built for every row."""
    from amed_pipeline.lib.frames import as_text
    from amed_pipeline.reading.formats.eventbrite import EVENTBRITE

    size = min(len(attendees), len(orders), len(texts))
    frame = pd.DataFrame(
        {
            "attendee_ref": attendees[:size],
            "order_ref": orders[:size],
            "email": texts[:size],
            "first_name": texts[::-1][:size],
            "last_name": texts[:size],
        },
        index=range(10, 10 + size),
    )
    attendee = as_text(frame["attendee_ref"])
    whole = (
        as_text(frame["order_ref"])
        + "|"
        + as_text(frame["email"]).str.strip().str.lower()
        + "|"
        + as_text(frame["first_name"]).str.strip().str.casefold()
        + "|"
        + as_text(frame["last_name"]).str.strip().str.casefold()
    )
    expected = attendee.where(attendee != "", whole.where(as_text(frame["order_ref"]) != "", ""))
    pd.testing.assert_series_equal(EVENTBRITE.record_identity(frame), expected)
