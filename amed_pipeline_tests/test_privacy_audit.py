"""Scope: the PII audit. After one full nightly run on the bundled sample data, no name or email
from the raw files appears anywhere the pipeline writes.

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

import dagster as dg
import pytest
import sqlalchemy as sa

from amed_pipeline.privacy.minimisation import DROPPED_AT_BOUNDARY, undocumented_fields
from amed_pipeline.staging.people import PERSONAL_COLUMNS
from amed_pipeline_tests.pii_scan import EMAIL, file_texts, find_personal, raw_personal_values
from amed_pipeline_tests.pipeline_runs import SAMPLE_DATA_DIR, TEST_KEY, env, read_table, run_nightly_in_process

# Tables documented as restricted that may hold names or emails: none.
RESTRICTED_TABLES: frozenset[str] = frozenset()
FREE_TEXT_COLUMNS = {"job_title", "doing_differently", "comment", "setting_answer", "organisation"}


@pytest.fixture(scope="module")
def audited_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("privacy_audit")
    home = base / "dagster_home"
    home.mkdir()
    url = f"duckdb:///{base}/warehouse.duckdb"
    with env(DAGSTER_HOME=home), dg.instance_for_test(temp_dir=str(home)) as instance:
        result = run_nightly_in_process(SAMPLE_DATA_DIR, url, base / "exports", instance=instance)
        assert result.success, "nightly job failed on the sample data"
        records = instance.all_logs(result.run_id)
        yield {
            "url": url,
            "exports": base / "exports",
            "home": home,
            "result": result,
            "event_log": "\n".join(dg.serialize_value(record) for record in records),
        }


@pytest.fixture(scope="module")
def personal():
    return raw_personal_values(SAMPLE_DATA_DIR)


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
