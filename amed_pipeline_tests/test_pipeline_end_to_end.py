"""Scope: the whole pipeline on the bundled sample data (`data/`), end to end.

Runs the nightly job in-process into a temporary DuckDB warehouse, then checks the row
accounting, idempotence, the absence of personal data, the code location, the CLI through
Dagster's in-process executor, the planning that launches no run when nothing changed, and the
same run on a real PostgreSQL server.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import dagster as dg
import pandas as pd
import pytest

from amed_pipeline.config import load_programme_config
from amed_pipeline.reading.parse import read_source
from amed_pipeline_tests.pipeline_runs import (
    PROJECT_ROOT,
    SAMPLE_DATA_DIR,
    TEST_KEY,
    metric,
    postgres_database,
    read_table,
    run_nightly_in_process,
    snapshot,
)

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("sample_run")
    url = f"duckdb:///{base}/warehouse.duckdb"
    result = run_nightly_in_process(SAMPLE_DATA_DIR, url, base / "exports")
    assert result.success, "nightly job failed on the sample data"
    return {"url": url, "base": base, "result": result}


def test_definitions_load_cleanly():
    from amed_pipeline.definitions import build_definitions

    dg.Definitions.validate_loadable(build_definitions(SAMPLE_DATA_DIR, "duckdb:///:memory:"))


def test_every_raw_row_is_loaded_quarantined_or_duplicate(sample_run):
    ledger = read_table(sample_run["url"], "ingest_ledger")
    config = load_programme_config(SAMPLE_DATA_DIR)
    configured_files = {
        p.relative_to(SAMPLE_DATA_DIR).as_posix() for s in config.sources() for p in s.files(SAMPLE_DATA_DIR)
    }
    assert set(ledger["source_file"]) == configured_files
    balance = ledger["rows_loaded"] + ledger["rows_quarantined"] + ledger["rows_duplicate"]
    assert (ledger["rows_read"] == balance).all(), ledger[ledger["rows_read"] != balance]
    assert ledger["rows_loaded"].sum() > 0
    assert ledger["rows_duplicate"].sum() > 0, "the sample has overlapping exports"
    quarantine = read_table(sample_run["url"], "quarantine")
    assert (quarantine["reason"].str.len() > 0).all()
    assert "person_unattributable" in set(quarantine["rule"])


def test_facts_link_to_dimensions(sample_run):
    url = sample_run["url"]
    bookings, sessions, people = (read_table(url, t) for t in ("fact_booking", "dim_session", "dim_person"))
    assert set(bookings["session_key"]) <= set(sessions["session_key"])
    assert set(bookings["person_key"]) == set(people["person_key"])
    assert set(bookings["status"]) == {"attended", "booked", "cancelled"}


def _raw_personal_values() -> tuple[set[str], set[str]]:
    """Every email and full name that appears in the raw sample files (read without pseudonymising)."""
    emails, names = set(), set()
    config = load_programme_config(SAMPLE_DATA_DIR)
    for source in config.sources():
        rows = read_source(source, SAMPLE_DATA_DIR).rows
        if "email" in rows:
            emails |= {e.strip().lower() for e in rows["email"].astype(str) if "@" in e}
        if "first_name" in rows and "last_name" in rows:
            for first, last in zip(rows["first_name"].astype(str), rows["last_name"].astype(str)):
                if first.strip() and last.strip() and first != "Info Requested":
                    names.add(f"{first.strip()} {last.strip()}".lower())
                    names.add(last.strip().lower())
    return emails, {n for n in names if len(n) > 3}


def test_no_names_or_emails_reach_the_warehouse_or_exports(sample_run):
    emails, names = _raw_personal_values()
    assert emails and names
    url = sample_run["url"]
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        table_names = sa.inspect(conn).get_table_names()
    engine.dispose()
    for table in table_names:
        frame = read_table(url, table)
        text = frame.astype(str).to_csv(index=False).lower()
        assert not EMAIL.search(text), f"an email address in table {table}"
        surnames_found = [n for n in names if " " not in n and re.search(rf"\b{re.escape(n)}\b", text)]
        # Surnames can collide with ordinary words (e.g. a job title "Baker"); full names cannot.
        full_names_found = [n for n in names if " " in n and n in text]
        assert not full_names_found, f"names in table {table}: {full_names_found[:3]}"
        assert len(surnames_found) < 5, f"surnames in table {table}: {surnames_found[:5]}"
    for path in (sample_run["base"] / "exports").glob("*"):
        if path.suffix in (".csv", ".html"):
            text = path.read_text(encoding="utf-8").lower()
            assert not EMAIL.search(text), f"an email address in {path.name}"
            assert not [n for n in names if " " in n and n in text], f"a name in {path.name}"


def test_second_run_changes_no_table(sample_run, tmp_path):
    before = snapshot(sample_run["url"])
    result = run_nightly_in_process(SAMPLE_DATA_DIR, sample_run["url"], sample_run["base"] / "exports")
    assert result.success
    after = snapshot(sample_run["url"])
    for name in before:
        pd.testing.assert_frame_equal(before[name], after[name], obj=name)


@pytest.mark.postgres
@pytest.mark.slow
def test_postgres_warehouse_gives_the_same_tables(sample_run, postgres_url, tmp_path):
    with postgres_database(postgres_url) as url:
        result = run_nightly_in_process(SAMPLE_DATA_DIR, url, tmp_path / "exports")
        assert result.success
        on_postgres = snapshot(url)
    on_duckdb = snapshot(sample_run["url"])
    for name, expected in on_duckdb.items():
        actual = on_postgres[name]
        assert len(actual) == len(expected), name
        pd.testing.assert_frame_equal(
            actual.astype(str).reset_index(drop=True), expected.astype(str).reset_index(drop=True), obj=name
        )


@pytest.mark.slow
def test_refresh_command_runs_then_launches_nothing_when_nothing_changed(tmp_path):
    """`python -m amed_pipeline refresh`, the command behind `make run`: a run, then no run (nothing
    changed: the figures as they stand are printed), then `--all`: a run whatever changed."""
    environment = {
        **os.environ,
        "AMED_DATA_DIR": str(SAMPLE_DATA_DIR),
        "AMED_WAREHOUSE_URL": f"duckdb:///{tmp_path}/warehouse.duckdb",
        "AMED_EXPORT_DIR": str(tmp_path / "exports"),
        "AMED_PSEUDONYM_KEY": TEST_KEY,
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
    }

    def refresh(*arguments):
        completed = subprocess.run(
            [sys.executable, "-m", "amed_pipeline", "refresh", *arguments],
            cwd=PROJECT_ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
        assert not EMAIL.search(completed.stdout + completed.stderr)
        return completed.stdout

    initial = refresh()
    assert "nightly_refresh run" in initial and "succeeded" in initial
    again = refresh()
    assert "nothing changed" in again and "nightly_refresh run" not in again
    assert "| people_trained" in again and "exports: evaluation_report.html" in again
    assert "data returns: 3 partnership file(s)" in again  # where the data returns are, even with no run
    assert "nightly_refresh run" in refresh("--all")
    people = read_table(environment["AMED_WAREHOUSE_URL"], "metric_values")
    assert len(people) > 0


def test_refresh_command_fails_loudly_on_a_broken_config(tmp_path):
    (tmp_path / "partnerships.yaml").write_text(
        "programme: {name: x, start: 2020-07-01, end: 2021-07-31}\npartnerships: []\n"
    )
    completed = subprocess.run(
        [sys.executable, "-m", "amed_pipeline", "refresh"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "AMED_DATA_DIR": str(tmp_path), "DAGSTER_HOME": str(tmp_path / "home")},
    )
    assert completed.returncode != 0
    assert "partnerships" in completed.stderr


def test_a_night_without_new_exports_reads_nothing_again_and_changes_no_table(sample_run):
    """Incremental loads: unchanged files are not parsed, no partnership is staged, no table changes."""
    before = {name: frame for name, frame in snapshot(sample_run["url"], keep_stamps=True).items()}
    result = run_nightly_in_process(SAMPLE_DATA_DIR, sample_run["url"], sample_run["base"] / "exports")
    assert result.success
    for event in result.get_asset_materialization_events():
        metadata = event.materialization.metadata
        if "files read" in metadata:
            assert metadata["files read"].value == 0, event.asset_key
        if "partnerships staged" in metadata:
            assert metadata["partnerships staged"].value == 0, event.asset_key
    after = snapshot(sample_run["url"], keep_stamps=True)
    for name in before:
        pd.testing.assert_frame_equal(before[name], after[name], obj=name)


def test_a_changed_export_replaces_exactly_its_own_rows(sample_run, tmp_path):
    """One partnership's changed file is read again; the other partnerships are not staged again."""
    data_dir = tmp_path / "data"
    shutil.copytree(SAMPLE_DATA_DIR, data_dir, ignore=shutil.ignore_patterns("warehouse", "exports"))
    url = f"duckdb:///{tmp_path}/warehouse.duckdb"
    assert run_nightly_in_process(data_dir, url, tmp_path / "exports").success
    register = next((data_dir / "raw/leap/sign_in").glob("*.xlsx"))
    register.unlink()  # the partnership withdraws one month's register
    result = run_nightly_in_process(data_dir, url, tmp_path / "exports")
    assert result.success
    staged = [
        e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(["staged", "bookings"])
    ]
    assert staged and "leap" not in staged[0].materialization.metadata["partnerships unchanged"].value
    assert "active_oxfordshire" in staged[0].materialization.metadata["partnerships unchanged"].value
    ledger = read_table(url, "ingest_ledger")
    assert register.relative_to(data_dir).as_posix() not in set(ledger["source_file"])
    assert (ledger["rows_read"] == ledger["rows_loaded"] + ledger["rows_quarantined"] + ledger["rows_duplicate"]).all()
    people = read_table(url, "metric_values")
    assert metric(people, "people_trained")["value"] < 1301  # the withdrawn attendances are gone
