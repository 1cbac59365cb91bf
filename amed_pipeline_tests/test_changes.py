"""The change-tracking module (`amed_pipeline.changes`): its pure functions, without a pipeline run.

The behaviour they serve (a no-change rerun does nothing, a changed input redoes exactly what
depends on it) is tested end to end in test_planning.py and test_pipeline_end_to_end.py.
"""

from __future__ import annotations

import hashlib
import shutil

import pytest

from amed_pipeline.changes import reference as reference_module
from amed_pipeline.changes.fingerprints import (
    change_key,
    changed_files,
    known_names_fingerprint,
    source_fingerprint,
)
from amed_pipeline.changes.hashing import digest_file, digest_lines, fingerprint_of
from amed_pipeline.changes.reference import digest_reference_files, load_reference, reference_digest
from amed_pipeline_tests.conftest import REFERENCE_DIR

# --- hashing ----------------------------------------------------------------------------------------


def test_a_fingerprint_does_not_depend_on_key_order():
    assert fingerprint_of({"a": 1, "b": [1, 2]}) == fingerprint_of({"b": [1, 2], "a": 1})


@pytest.mark.parametrize("other", [{"a": 2, "b": [1, 2]}, {"a": 1, "b": [2, 1]}, {"a": 1}])
def test_a_fingerprint_changes_with_any_value(other):
    assert fingerprint_of({"a": 1, "b": [1, 2]}) != fingerprint_of(other)


def test_a_fingerprint_is_short_and_takes_any_value_by_its_text():
    import datetime as dt

    value = fingerprint_of({"start": dt.date(2020, 7, 1)})
    assert len(value) == 16 and value == fingerprint_of({"start": "2020-07-01"})


def test_a_file_digest_is_the_sha256_of_its_bytes(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(b"a,b\n1,2\n" * 200_000)  # more than one block
    assert digest_file(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_digest_of_lines_ignores_their_order():
    assert digest_lines(["b", "a"]) == digest_lines(["a", "b"]) != digest_lines(["a"])


# --- fingerprints -------------------------------------------------------------------------------------


def test_a_source_fingerprint_changes_with_how_files_are_read(make_source):
    source = make_source("bookings", "eventbrite", "eb/*.csv")
    base = source_fingerprint(source, 100, "k1", frozenset({"t1"}), "r1")
    assert base == source_fingerprint(source, 100, "k1", frozenset({"t1"}), "r1")
    assert base != source_fingerprint(source, 200, "k1", frozenset({"t1"}), "r1")  # size limit
    assert base != source_fingerprint(source, 100, "k2", frozenset({"t1"}), "r1")  # pseudonym key
    assert base != source_fingerprint(source, 100, "k1", frozenset({"t1", "t2"}), "r1")  # erasure list
    assert base != source_fingerprint(source, 100, "k1", frozenset({"t1"}), "r2")  # reference tables
    assert base != source_fingerprint(
        make_source("bookings", "eventbrite", "eb/*.csv", skip_rows=1), 100, "k1", frozenset({"t1"}), "r1"
    )


def test_the_known_names_fingerprint_is_the_set_not_its_order():
    assert known_names_fingerprint({"a", "b"}) == known_names_fingerprint(["b", "a"]) != known_names_fingerprint({"a"})


def test_the_same_file_changes_give_the_same_run_key_in_any_order():
    changes = [("raw/a.csv", "", "h1"), ("raw/b.csv", "h2", "h3")]
    assert change_key(changes) == change_key(list(reversed(changes)))
    assert change_key(changes) != change_key(changes[:1])
    assert len(change_key(changes)) == 16


def test_new_changed_and_removed_files_are_attributed_to_their_partnership(make_source):
    class Config:  # what `changed_files` reads of a ProgrammeConfig
        def sources(self):
            return [make_source("bookings", "eventbrite", "raw/p/*.csv", partnership_id="p")]

    previous = {"raw/p/old.csv": "h0", "raw/p/same.csv": "h1", "raw/p/edited.csv": "h2"}
    current = {"p": {"raw/p/same.csv": "h1", "raw/p/edited.csv": "h9", "raw/p/new.csv": "h5"}}
    assert changed_files(Config(), previous, current) == {
        "p": [("raw/p/edited.csv", "h2", "h9"), ("raw/p/new.csv", "", "h5"), ("raw/p/old.csv", "h0", "")]
    }
    assert changed_files(Config(), {"raw/p/same.csv": "h1"}, {"p": {"raw/p/same.csv": "h1"}}) == {}


# --- reference tables: loaded and hashed once -----------------------------------------------------------


def test_the_reference_digest_covers_every_file_name_and_byte(tmp_path):
    shutil.copytree(REFERENCE_DIR, tmp_path / "reference")
    before = reference_digest(tmp_path / "reference")
    paths = sorted((tmp_path / "reference").glob("*.csv"))
    assert before == digest_reference_files(paths) == digest_reference_files(list(reversed(paths)))
    settings = tmp_path / "reference" / "settings.csv"
    settings.write_text(settings.read_text() + "Library,other\n")
    assert reference_digest(tmp_path / "reference") != before  # an edited file is hashed again


def test_reference_tables_are_loaded_once_while_their_files_are_unchanged(tmp_path, monkeypatch):
    shutil.copytree(REFERENCE_DIR, tmp_path / "reference")
    loads = []
    real = reference_module.load_reference_tables
    monkeypatch.setattr(reference_module, "load_reference_tables", lambda d: loads.append(d) or real(d))
    first = load_reference(tmp_path / "reference")
    assert loads == []  # a plan needs the digest only: nothing parsed yet
    assert first.tables is load_reference(tmp_path / "reference").tables
    assert len(loads) == 1
    (tmp_path / "reference" / "role_groups.csv").write_text((REFERENCE_DIR / "role_groups.csv").read_text() + "\n")
    again = load_reference(tmp_path / "reference")
    assert again is not first and again.digest != first.digest
    assert again.tables is not first.tables and len(loads) == 2


# --- where it sits ------------------------------------------------------------------------------------


def _imports(path) -> set[str]:
    import ast

    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
        elif isinstance(node, ast.Import):
            modules.update(a.name for a in node.names)
    return modules


def test_the_planner_and_the_change_module_import_nothing_from_dagster_definitions():
    """`defs` imports the change module and the planner, never the other way round (no cycle)."""
    from pathlib import Path

    import amed_pipeline

    package = Path(amed_pipeline.__file__).parent
    for path in [package / "operations" / "planning.py", *sorted((package / "changes").glob("*.py"))]:
        imported = _imports(path)
        assert not {m for m in imported if m.startswith(("amed_pipeline.defs", "amed_pipeline.definitions"))}, path
        if path.parent.name == "changes":
            assert not {m for m in imported if m.split(".")[0] == "dagster"}, path
