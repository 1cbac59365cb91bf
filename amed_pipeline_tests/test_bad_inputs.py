"""Scope: the corpus of bad and awkward inputs (fixtures/bad_inputs), through the whole pipeline.

Each file imitates a real export with one defect; for each, the test states what must happen:
parsed correctly, or quarantined with this rule and message. Nothing is lost: for every file,
rows read = loaded + quarantined + duplicate. The run loads every good row; the corpus partnership's
unreadable files withhold its metrics (and the programme-wide rows, by default) in this run and in
later runs until the files are fixed, while the metric step itself runs (one partnership's
unreadable file blocks only that partnership: test_blocked_partnership.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from amed_pipeline.definitions import build_definitions
from amed_pipeline.defs.jobs import NIGHTLY_JOB_NAME, all_partnerships_tags
from amed_pipeline_tests.pipeline_runs import SAMPLE_DATA_DIR, TEST_KEY, read_table

CORPUS = Path(__file__).resolve().parent / "fixtures" / "bad_inputs"
UNREADABLE = (
    "07_missing_status_column.csv",
    "09_empty.csv",
    "11_pdf_renamed.csv",
    "12_binary_junk.csv",
    "24_no_data_sheet.xlsx",
)

# file → (rows read, loaded, quarantined, duplicate, [(rule, fragment of the reason)])
EXPECTED = {
    "eventbrite/00_clean_export.csv": (8, 8, 0, 0, []),
    "eventbrite/01_utf8_bom.csv": (3, 0, 0, 3, []),  # each person booked again in a later file: merged
    "eventbrite/02_cp1252.csv": (1, 1, 0, 0, []),
    "eventbrite/03_sep_line.csv": (1, 1, 0, 0, []),
    "eventbrite/04_semicolon.csv": (1, 1, 0, 0, []),
    "eventbrite/05_duplicated_and_blank_headers.csv": (1, 1, 0, 0, []),
    "eventbrite/06_extra_unknown_columns.csv": (1, 0, 0, 1, []),
    "eventbrite/07_missing_status_column.csv": (1, 0, 1, 0, [("required_column_missing", "no column for status")]),
    "eventbrite/08_header_only.csv": (0, 0, 0, 0, []),
    "eventbrite/09_empty.csv": (0, 0, 0, 0, [("file_unreadable", "the file is empty")]),
    "eventbrite/10_truncated_last_line.csv": (2, 1, 1, 0, [("required_value_missing", "booking has no status")]),
    "eventbrite/11_pdf_renamed.csv": (0, 0, 0, 0, [("file_unreadable", "PDF document")]),
    "eventbrite/12_binary_junk.csv": (0, 0, 0, 0, [("file_unreadable", "binary content")]),
    "eventbrite/13_info_requested.csv": (2, 1, 1, 0, [("person_unattributable", "Info Requested")]),
    "eventbrite/14_same_file_under_another_name.csv": (3, 0, 0, 3, []),
    "eventbrite/15a_cumulative_2020-07-20.csv": (2, 0, 0, 2, []),
    "eventbrite/15b_cumulative_2020-08-05.csv": (2, 2, 0, 0, []),
    "eventbrite/16_malformed_email.csv": (1, 0, 1, 0, [("email_malformed", "not a well-formed email")]),
    "eventbrite/17_unknown_session.csv": (1, 0, 1, 0, [("session_unknown", "no known session")]),
    "surveymonkey/18_embedded_newlines.csv": (1, 1, 0, 0, []),
    "surveymonkey/19_excel_scientific_ids.csv": (2, 1, 1, 0, [("unparseable_value", "scientific notation")]),
    "surveymonkey/20_rating_labels_and_out_of_range.csv": (
        2,
        1,
        1,
        0,
        [("unparseable_value", "rating 11 is outside 0–10")],
    ),
    "surveymonkey/21_month_first_day_above_12.csv": (1, 1, 0, 0, []),
    "jisc/22_day_first_violation.csv": (2, 1, 1, 0, [("unparseable_value", "declared day-first")]),
    "msforms/23_several_sheets.xlsx": (2, 2, 0, 0, []),
    "msforms/24_no_data_sheet.xlsx": (0, 0, 0, 0, [("file_unreadable", "no sheet named 'Form1'")]),
    # Issue 12: readable files are read; damage stays in its row; error text never quotes an email.
    "eventbrite/25_utf16_le_unicode_text.csv": (1, 1, 0, 0, []),
    "eventbrite/26_utf16_be.csv": (1, 1, 0, 0, []),
    "eventbrite/27_nul_in_a_field.csv": (2, 1, 1, 0, [("nul_in_field", "NUL byte")]),
    "eventbrite/28_title_rows_above_header.csv": (1, 1, 0, 0, []),
    "eventbrite/29_field_over_131072_chars.csv": (2, 1, 1, 0, [("field_too_long", "over the limit of 131,072")]),
    "msforms/30_formula_without_value.xlsx": (
        2,
        1,
        1,
        0,
        [("formula_without_value", "formula without a value: re-save the file in Excel")],
    ),
    "eventbrite/31_email_in_bad_cells.csv": (
        2,
        0,
        2,
        0,
        [
            ("unparseable_value", "not a recognised date: '[email removed]'"),
            ("unparseable_value", "'Checked In by [email removed]' is not one of"),
        ],
    ),
    "eventbrite/32_contact_details_in_free_text.csv": (1, 1, 0, 0, []),
    "msforms/33_respondent_email.xlsx": (2, 2, 0, 0, []),
    "surveymonkey/34_leading_space_formula.csv": (1, 0, 1, 0, [("unparseable_value", "not a rating from 0 to 10")]),
    "sessions/sessions.csv": (3, 2, 1, 0, [("dates_in_programme_window", "not in the future")]),
    "sessions_serial/serial_dates.csv": (1, 1, 0, 0, []),
}


def copy_corpus(target: Path) -> Path:
    shutil.copytree(CORPUS, target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    shutil.copytree(SAMPLE_DATA_DIR / "reference", target / "reference")
    return target


def run(data_dir: Path, url: str, selection=None):
    defs = build_definitions(data_dir, url, export_dir=data_dir / "exports", pseudonym_key=TEST_KEY)
    if selection is not None:  # a later run that materialises only part of the graph
        defs = dg.Definitions.merge(defs, dg.Definitions(jobs=[dg.define_asset_job("partial", selection=selection)]))
    job = defs.resolve_job_def(NIGHTLY_JOB_NAME if selection is None else "partial")
    tags = all_partnerships_tags(["corpus"]) if selection is None else {}
    return job.execute_in_process(raise_on_error=False, tags=tags)


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory):
    data_dir = copy_corpus(tmp_path_factory.mktemp("corpus") / "data")
    url = f"duckdb:///{data_dir}/warehouse.duckdb"
    result = run(data_dir, url)
    return {"data_dir": data_dir, "url": url, "result": result}


def test_the_corpus_has_at_least_twenty_files():
    files = [p for p in (CORPUS / "raw").rglob("*") if p.is_file()]
    assert len(files) >= 20
    assert set(EXPECTED) == {p.relative_to(CORPUS / "raw").as_posix() for p in files}


@pytest.mark.parametrize("file", sorted(EXPECTED))
def test_each_bad_input_has_its_stated_outcome(corpus_run, file):
    read, loaded, quarantined, duplicate, reasons = EXPECTED[file]
    ledger = read_table(corpus_run["url"], "ingest_ledger").set_index("source_file")
    row = ledger.loc[f"raw/{file}"]
    assert (row["rows_read"], row["rows_loaded"], row["rows_quarantined"], row["rows_duplicate"]) == (
        read,
        loaded,
        quarantined,
        duplicate,
    )
    quarantine = read_table(corpus_run["url"], "quarantine")
    entries = quarantine[quarantine["source_file"] == f"raw/{file}"]
    assert len(entries) == len(reasons)
    for rule, fragment in reasons:
        match = entries[(entries["rule"] == rule) & entries["reason"].str.contains(fragment, regex=False)]
        assert len(match) == 1, (rule, fragment, entries[["rule", "reason"]].to_dict("records"))
        assert match.iloc[0]["source_file"] and match.iloc[0]["source_row"] >= 0


def test_nothing_is_lost(corpus_run):
    ledger = read_table(corpus_run["url"], "ingest_ledger")
    assert (ledger["rows_read"] == ledger["rows_loaded"] + ledger["rows_quarantined"] + ledger["rows_duplicate"]).all()


def test_good_rows_are_parsed_correctly(corpus_run):
    url = corpus_run["url"]
    titles = read_table(url, "job_title_classification").set_index("job_title")
    assert titles.loc["Renée's café volunteer", "profession"] == "volunteer"  # cp1252 decoded; curly quote folded
    feedback = read_table(url, "fact_feedback")
    newline = feedback[feedback["source_file"].str.contains("18_embedded")].iloc[0]
    assert (newline["usefulness"], newline["setting"], newline["profession"]) == (10, "gp_practice", "nurse")
    month_first = feedback[feedback["source_file"].str.contains("21_month_first")].iloc[0]
    assert pd.Timestamp(month_first["submitted_at"]).date().isoformat() == "2020-07-31"
    labels = feedback[feedback["source_file"].str.contains("20_rating")].iloc[0]
    assert (labels["usefulness"], labels["knowledge"]) == (10, 0)
    forms = feedback[feedback["source_file"].str.contains("23_several")]
    assert sorted(forms["setting"]) == ["hospital", "other"]
    sessions = read_table(url, "dim_session").set_index("session_ref")
    assert pd.Timestamp(sessions.loc["444444444444", "start_at"]) == pd.Timestamp("2020-10-01 12:00")
    bookings = read_table(url, "fact_booking")
    overlap = bookings[bookings["source_file"].str.contains("15b_cumulative")].sort_values("status")
    assert list(overlap["status"]) == ["attended", "cancelled"]  # Attending → Checked In; Attending → Not Attending


def test_quarantine_masks_personal_values(corpus_run):
    quarantine = read_table(corpus_run["url"], "quarantine")
    assert not quarantine["value"].str.contains("@|example|Sam|Hill", regex=True).any()
    assert not quarantine["reason"].str.contains("@|example", regex=True).any()


def test_no_email_reaches_any_text_the_run_writes(corpus_run):
    """Reasons, values, data returns and check metadata: the emails typed into bad cells and free text."""
    texts = [
        read_table(corpus_run["url"], t).astype(str).to_csv()
        for t in ("quarantine", "landing_quarantine", "job_title_classification")
    ]
    texts += [p.read_text() for p in (corpus_run["data_dir"] / "exports" / "data_returns").glob("*.csv")]
    texts += [str(e.metadata) for e in corpus_run["result"].get_asset_check_evaluations()]
    texts += [
        str(m.metadata)
        for m in corpus_run["result"].get_asset_materialization_events()
        for m in [m.event_specific_data.materialization]
    ]
    for planted in ("someone.else@example.org", "amira.k@example.org", "dee.hart@example.org", "07700 900123"):
        assert not any(planted in text for text in texts), planted


def test_title_rows_are_skipped_and_the_header_row_is_named(corpus_run):
    summaries = [
        str(event.event_specific_data.materialization.metadata.get("file summary"))
        for event in corpus_run["result"].get_asset_materialization_events()
    ]
    assert any("28_title_rows_above_header.csv" in s and "header found on row 3" in s for s in summaries)


def test_free_text_is_stored_redacted_and_counted_in_the_data_return(corpus_run):
    titles = read_table(corpus_run["url"], "job_title_classification").set_index("job_title")
    assert titles.loc["Practice nurse (contact [email removed], [phone removed])", "profession"] == "nurse"
    path = corpus_run["data_dir"] / "exports" / "data_returns" / "corpus_data_return_redactions.csv"
    counts = pd.read_csv(path, dtype=str, keep_default_na=False)
    mine = counts[counts["source_file"] == "raw/eventbrite/32_contact_details_in_free_text.csv"]
    assert sorted(zip(mine["field_name"], mine["kind"], mine["redactions"])) == [
        ("job_title", "email", "1"),
        ("job_title", "phone", "1"),
    ]


def test_a_respondent_email_links_the_response_to_its_person(corpus_run):
    feedback = read_table(corpus_run["url"], "fact_feedback")
    responses = feedback[feedback["source_file"].str.contains("33_respondent_email")]
    assert len(responses) == 2 and (responses["person_key"].fillna("") != "").all()
    anonymous = feedback[feedback["source_file"].str.contains("30_formula")]
    assert (anonymous["person_key"].fillna("") == "").all()


def test_a_value_led_by_whitespace_and_a_formula_character_is_neutralised_in_the_data_return(corpus_run):
    path = corpus_run["data_dir"] / "exports" / "data_returns" / "corpus_data_return.csv"
    data_return = pd.read_csv(path, dtype=str, keep_default_na=False)
    entry = data_return[data_return["source_file"].str.contains("34_leading_space")]
    assert entry["value"].tolist() == ["' =1+1"]


def test_data_return_lists_the_partnerships_quarantined_rows(corpus_run):
    path = corpus_run["data_dir"] / "exports" / "data_returns" / "corpus_data_return.csv"
    data_return = pd.read_csv(path, dtype=str, keep_default_na=False)
    quarantine = read_table(corpus_run["url"], "quarantine")
    assert len(data_return) == len(quarantine)
    assert "partnership_id" not in data_return.columns
    assert set(data_return["rule"]) >= {"file_unreadable", "email_malformed", "session_unknown"}


def test_unreadable_files_withhold_their_partnerships_metrics_in_this_run(corpus_run):
    result = corpus_run["result"]
    failed = {
        (e.asset_key.to_user_string(), e.check_name) for e in result.get_asset_check_evaluations() if not e.passed
    }
    assert ("warehouse/ingest_ledger", "all_files_readable") in failed
    assert ("warehouse/ingest_ledger", "row_accounting_balanced") not in failed
    succeeded = {e.step_key for e in result.all_events if e.event_type_value == "STEP_SUCCESS"}
    assert {"staging", "reports__data_returns", "metric_tables"} <= succeeded
    # The only partnership has unreadable files: nothing of it, and no programme-wide row, is published.
    assert len(read_table(corpus_run["url"], "metric_values_published")) == 0
    warnings = {
        (e.asset_key.to_user_string(), e.check_name)
        for e in result.get_asset_check_evaluations()
        if not e.passed and e.severity == dg.AssetCheckSeverity.WARN
    }
    assert ("staged/sessions", "dates_in_programme_window") in warnings


def test_unreadable_files_withhold_the_metrics_in_later_runs_until_the_files_are_fixed(tmp_path):
    data_dir = copy_corpus(tmp_path / "data")
    url = f"duckdb:///{data_dir}/warehouse.duckdb"
    assert run(data_dir, url).success
    metrics_only = dg.AssetSelection.groups("metrics")
    assert run(data_dir, url, metrics_only).success
    assert len(read_table(url, "metric_values")) == 0
    for name in UNREADABLE:  # the partnership sends corrected files: the bad ones are replaced
        next((data_dir / "raw").rglob(name)).unlink()
    assert run(data_dir, url).success
    assert run(data_dir, url, metrics_only).success
    assert set(read_table(url, "metric_values")["partnership_id"]) == {"corpus", "all"}
    history = read_table(url, "dq_results")
    readable = history[history["rule"] == "all_files_readable"].sort_values("evaluated_at")
    assert not bool(readable["passed"].iloc[0]) and bool(readable["passed"].iloc[-1])
