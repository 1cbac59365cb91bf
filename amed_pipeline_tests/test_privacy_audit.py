"""Scope: the PII audit. After one full nightly run on the bundled sample data, with contact
details and known names planted where real exports put them by accident, no name, email, phone
number or postcode from the raw files appears anywhere the pipeline writes.

Planted (`pii_scan.plant_personal_data`), in the first file of every source, xlsx included: an
email, a UK phone number, a postcode and the full name of someone in the bookings appended to every
free-text and id field of one row, and "Checked in by <email> <phone> <name>" in one cell of
every date, time, rating and choice field (cells that cannot parse and are quarantined).

"Anywhere" is: every table in the warehouse (not only the declared ones), every file under the
export dir (xlsx by its cells), the run's Dagster event log records, and every file under the
Dagster instance's directory (the event-log database, the compute logs of the run and the IO
manager's stored step outputs). The run uses a real, persistent DagsterInstance in a temporary
`DAGSTER_HOME`, so those files exist as they would in production. No table is documented as
restricted for personal data, so there are no exceptions. Also checked: the pseudonym key
appears nowhere, every field leaving the raw-export boundary has a documented purpose, and free
text sits only in tables with no link to a person.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from amed_pipeline.privacy.minimisation import DROPPED_AT_BOUNDARY, undocumented_fields
from amed_pipeline.staging.people import PERSONAL_COLUMNS
from amed_pipeline_tests.pii_scan import EMAIL, file_texts, find_personal, plant_personal_data, raw_personal_values
from amed_pipeline_tests.pipeline_runs import SAMPLE_DATA_DIR, TEST_KEY, env, read_table, run_nightly_in_process

# Tables documented as restricted that may hold names or emails: none.
RESTRICTED_TABLES: frozenset[str] = frozenset()
FREE_TEXT_COLUMNS = {"job_title", "doing_differently", "comment", "setting_answer", "organisation"}


@contextlib.contextmanager
def captured_output(directory: Path):
    """Everything the process writes to its stdout and stderr file descriptors (subprocesses too)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    files = {fd: open(directory / f"fd{fd}.txt", "w+b") for fd in (1, 2)}
    # Python-level writes too: pytest replaces sys.stdout/sys.stderr with its own capture.
    streams = {fd: open(directory / f"sys{fd}.txt", "w", encoding="utf-8") for fd in (1, 2)}
    try:
        for fd, file in files.items():
            os.dup2(file.fileno(), fd)
        with contextlib.redirect_stdout(streams[1]), contextlib.redirect_stderr(streams[2]):
            yield files
    finally:
        for stream in streams.values():
            stream.close()
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, original in saved.items():
            os.dup2(original, fd)
            os.close(original)
        for file in files.values():
            file.close()


@pytest.fixture(scope="module")
def planted_data(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("planted") / "data"
    shutil.copytree(SAMPLE_DATA_DIR, data_dir, ignore=shutil.ignore_patterns("warehouse*", "exports"))
    return data_dir, plant_personal_data(data_dir)


@pytest.fixture(scope="module")
def audited_run(tmp_path_factory, planted_data):
    data_dir, _ = planted_data
    base = tmp_path_factory.mktemp("privacy_audit")
    home = base / "dagster_home"
    home.mkdir()
    url = f"duckdb:///{base}/warehouse.duckdb"
    with env(DAGSTER_HOME=home), dg.instance_for_test(temp_dir=str(home)) as instance:
        with captured_output(base):
            result = run_nightly_in_process(data_dir, url, base / "exports", instance=instance)
        assert result.success, "nightly job failed on the sample data"
        records = instance.all_logs(result.run_id)
        yield {
            "url": url,
            "exports": base / "exports",
            "home": home,
            "result": result,
            "event_log": "\n".join(dg.serialize_value(record) for record in records),
            "stdout": "\n".join(
                (base / f).read_bytes().decode("utf-8", errors="ignore") for f in ("fd1.txt", "sys1.txt")
            ),
            "stderr": "\n".join(
                (base / f).read_bytes().decode("utf-8", errors="ignore") for f in ("fd2.txt", "sys2.txt")
            ),
        }


@pytest.fixture(scope="module")
def personal(planted_data):
    return raw_personal_values(planted_data[0])


@pytest.fixture(scope="module")
def planted(planted_data):
    return planted_data[1]


def warehouse_texts(url: str) -> dict[str, str]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        names = sa.inspect(conn).get_table_names()
    engine.dispose()
    return {name: read_table(url, name).astype(str).to_csv(index=False) for name in names}


def test_the_raw_files_hold_names_and_emails_and_the_scanner_finds_them(personal):
    """Without this, every other test here could pass by finding nothing to look for."""
    assert len(personal.emails) > 100 and len(personal.names) > 100
    email, name = sorted(personal.emails)[0], sorted(personal.names)[0]
    first, last = name.split(" ", 1)
    planted = f"row 7,{email.upper()},{first.title()}|{last.title()}"
    assert find_personal(planted, personal) == sorted({email, name})
    assert find_personal("Band 6 Physiotherapist, GP practice", personal) == []


def test_no_warehouse_table_holds_a_name_or_email(audited_run, personal):
    texts = warehouse_texts(audited_run["url"])
    assert {"fact_booking", "dim_person", "quarantine", "metric_values_published", "followup_comment"} <= set(texts)
    for table, text in texts.items():
        if table in RESTRICTED_TABLES:
            continue
        assert not find_personal(text, personal), f"names or emails in warehouse table {table}"
        assert not EMAIL.search(text.lower()), f"an email address in warehouse table {table}"


def test_no_file_under_the_export_dir_holds_a_name_or_email(audited_run, personal):
    files = dict(file_texts(audited_run["exports"]))
    names = {path.name for path in files}
    assert {"metric_values.csv", "amed_metrics.xlsx", "evaluation_report.html"} <= names, names
    for path, text in files.items():
        assert text.strip(), f"{path.name} read as empty: the scan would prove nothing"
        assert not find_personal(text, personal), f"names or emails in export {path.name}"
        assert not EMAIL.search(text.lower()), f"an email address in export {path.name}"


def test_dagster_event_log_compute_logs_and_stored_outputs_hold_no_name_or_email(audited_run, personal):
    run_id = audited_run["result"].run_id
    assert "ASSET_MATERIALIZATION" in audited_run["event_log"]
    assert not find_personal(audited_run["event_log"], personal), "names or emails in the run's event log"
    files = dict(file_texts(audited_run["home"]))
    compute_logs = [p for p in files if run_id in p.parts and "compute_logs" in p.parts]

    assert compute_logs, "no compute logs were captured: the scan would prove nothing"
    # Raw and staged rows land in the warehouse (scanned above), not in Dagster's storage; whatever
    # Dagster does store is scanned all the same.
    for path, text in files.items():
        hits = find_personal(text, personal)
        assert not hits, f"{len(hits)} names or emails in {path.relative_to(audited_run['home'])}"


def test_the_pseudonym_key_appears_nowhere(audited_run):
    places = {
        **{f"table {t}": text for t, text in warehouse_texts(audited_run["url"]).items()},
        **{str(p): text for p, text in file_texts(audited_run["exports"])},
        **{str(p): text for p, text in file_texts(audited_run["home"])},
        "event log": audited_run["event_log"],
    }
    leaks = [place for place, text in places.items() if TEST_KEY in text]
    assert not leaks, f"the pseudonym key appears in {leaks}"


def test_every_field_leaving_the_raw_boundary_has_a_documented_purpose(audited_run):
    """What crosses the raw-export boundary is what the landing tables hold."""
    for dataset in ("sessions", "bookings", "feedback", "followup"):
        columns = list(read_table(audited_run["url"], f"landing_{dataset}").columns)
        assert not undocumented_fields(columns), (
            f"landing_{dataset}: {undocumented_fields(columns)} leave the raw-export boundary without a purpose: "
            "document it in privacy/minimisation.py or drop it"
        )
        assert not (set(PERSONAL_COLUMNS) | set(DROPPED_AT_BOUNDARY)) & set(columns)


def test_free_text_is_stored_only_where_nothing_links_it_to_a_person(audited_run):
    engine = sa.create_engine(audited_run["url"], poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT table_name, column_name FROM information_schema.columns")).all()
    engine.dispose()
    columns: dict[str, set[str]] = {}
    for table, column in rows:
        columns.setdefault(table, set()).add(column)
    assert columns["followup_comment"] == {"partnership_id", "submitted_month", "comment"}
    assert "person_key" not in columns["job_title_classification"]
    for table, names in columns.items():
        if "person_key" in names or "response_key" in names:
            assert not names & FREE_TEXT_COLUMNS, f"{table} links free text {names & FREE_TEXT_COLUMNS} to a person"
    comments = read_table(audited_run["url"], "followup_comment")
    assert len(comments) > 0, "the sample has follow-up comments: the evaluator's purpose is served"


# --- planted contact details and known names ---------------------------------------------------


def test_planted_values_are_in_the_raw_files_in_every_kind_of_place(planted_data, planted):
    """Without this, the planted scans below could pass by finding nothing to look for."""
    data_dir, _ = planted_data
    raw = "\n".join(text for _, text in file_texts(data_dir / "raw"))
    assert len(planted.emails) >= 40 and set(planted.find(raw)) >= planted.emails | planted.names | planted.phones
    kinds = {kind for _, _, kind in planted.cells}
    assert kinds >= {
        "free text",
        "bad date cell",
        "bad time cell",
        "bad datetime cell",
        "bad rating cell",
        "bad choice cell",
    }
    fields = {field for _, field, kind in planted.cells if kind == "free text"}
    assert fields >= {"job_title", "setting", "doing_differently", "title", "response_id"}
    assert any(name.endswith(".xlsx") for name, _, _ in planted.cells)


def test_the_run_printed_something_so_the_output_scan_means_something(audited_run):
    assert "RUN_SUCCESS" in audited_run["stdout"] + audited_run["stderr"]


def _places(audited_run) -> dict[str, str]:
    return {
        **{f"warehouse table {t}": text for t, text in warehouse_texts(audited_run["url"]).items()},
        **{f"export {p.name}": text for p, text in file_texts(audited_run["exports"])},
        **{f"DAGSTER_HOME {p.relative_to(audited_run['home'])}": text for p, text in file_texts(audited_run["home"])},
        "the run's event log": audited_run["event_log"],
        "stdout": audited_run["stdout"],
        "stderr": audited_run["stderr"],
    }


def test_no_planted_email_phone_postcode_or_known_name_appears_outside_the_raw_files(audited_run, planted):
    places = _places(audited_run)
    assert any("[email removed]" in text for place, text in places.items() if place.startswith("warehouse"))
    leaks = {place: planted.find(text) for place, text in places.items()}
    leaks = {place: hits for place, hits in leaks.items() if hits}
    assert not leaks, f"planted personal data found in {sorted(leaks)}: {sum(map(len, leaks.values()))} hit(s)"


def test_the_data_returns_count_what_was_removed_from_each_field_without_values(audited_run, planted):
    returns = audited_run["exports"] / "data_returns"
    counts = pd.concat([pd.read_csv(p, dtype=str, keep_default_na=False) for p in returns.glob("*_redactions.csv")])
    assert list(counts.columns) == ["source_file", "dataset", "field_name", "kind", "redactions"]
    counts["redactions"] = counts["redactions"].astype(int)
    by_kind = counts.groupby("kind")["redactions"].sum()
    assert set(by_kind.index) == {"email", "phone", "postcode", "name"}
    # One of each per planted free-text cell, less those on rows quarantined for another planted cell.
    assert (by_kind >= 15).all(), by_kind.to_dict()
    assert {"job_title", "setting", "doing_differently", "title"} <= set(counts["field_name"])
    assert not planted.find(counts.to_csv(index=False))


def test_bad_cells_are_quarantined_with_masked_reasons(audited_run, planted):
    quarantine = read_table(audited_run["url"], "quarantine")
    bad = quarantine[quarantine["reason"].str.contains("[email removed]", regex=False)]
    assert len(bad) >= len([c for c in planted.cells if c[2].startswith("bad")]) // 2
    assert bad["reason"].str.contains("[name removed]", regex=False).any()
    assert bad["value"].str.contains("[phone removed]", regex=False).any()
