"""Shared fixtures for the amed_pipeline tests: paths, sources, export files and reference tables.

Committed CSV fixtures live in `fixtures/exports/` as real files with their exact bytes (BOM,
cp1252, CRLF, embedded newlines), so a test reads what a partner would send. xlsx fixtures are
built at test time with openpyxl into `tmp_path` (no committed binaries). Keep this module
generic: fixtures here are building blocks any test module may use; anything specific to one
module belongs in that module.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import zipfile
from pathlib import Path
from typing import Callable

import pandas as pd
import pytest

from amed_pipeline.config import Source
from amed_pipeline.reading.parse import read_source
from amed_pipeline.staging.classification import ReferenceTables, load_reference_tables
from amed_pipeline.staging.datasets import RawExport, empty_quarantine
from amed_pipeline.staging.people import attach_person_keys

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
FIXTURES_DIR = TESTS_DIR / "fixtures"
EXPORTS_DIR = FIXTURES_DIR / "exports"
REFERENCE_DIR = REPO_ROOT / "data" / "reference"
TEST_PARTNERSHIP = "test_partnership"
# A throwaway pseudonymisation key: tests only ever compare pseudonyms with each other.
TEST_KEY = b"amed-tests-not-a-real-key"
# A Bookwhen bookings export read as `mapped_csv` (test_staging.py; test_formats.py adds to it).
BOOKWHEN_OPTIONS = {
    "dayfirst": True,
    "columns": {
        "attendee_ref": "Attendee CustomerID",
        "session_title": "Event title",
        "session_start": "Event starts",
        "first_name": "First name",
        "last_name": "Last name",
        "email": "Email",
        "job_title": "Job role",
        "status": "Attended?",
    },
    "values": {"status": {"Yes": "attended", "No": "booked", "Cancelled": "cancelled"}},
}


# --- isolation from the developer's own secrets -------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _private_key_dir(tmp_path_factory):
    """Point the generated pseudonym key and the erasure list at a temporary dir for the whole
    session, so no test reads or writes the developer's `~/.config/amed_pipeline/`."""
    import os

    keys = tmp_path_factory.mktemp("amed_keys")
    values = {
        "AMED_PSEUDONYM_KEY_FILE": str(keys / "pseudonym.key"),
        "AMED_ERASURE_LIST": str(keys / "erasure_list.txt"),
    }
    old = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    yield keys
    for name, value in old.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


# --- paths and sources -------------------------------------------------------------------------


@pytest.fixture
def exports_dir() -> Path:
    """The committed export fixtures (use as `data_dir` with a relative `Source.path`)."""
    return EXPORTS_DIR


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """An empty data directory for exports written by the test itself."""
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def make_source() -> Callable[..., Source]:
    """Build a `Source` the way `partnerships.yaml` would: `make_source("bookings", "eventbrite", "eb/*.csv")`."""

    def _make(
        dataset: str, fmt: str, path: str, *, name: str | None = None, partnership_id: str = TEST_PARTNERSHIP, **options
    ) -> Source:
        return Source(
            partnership_id=partnership_id,
            name=name or f"{dataset}_{fmt}",
            dataset=dataset,
            format=fmt,
            path=path,
            options=options,
        )

    return _make


# --- writing export files ------------------------------------------------------------------------


@pytest.fixture
def write_export(data_dir: Path) -> Callable[..., Path]:
    """Write an export into `data_dir` with exact bytes.

    `write_export("eb/a.csv", text, encoding="cp1252", bom=False, newline="\\r\\n")`; `text`
    uses "\\n" for record ends (replaced by `newline`). Returns the file's path.
    """

    def _write(relative: str, text: str, *, encoding: str = "utf-8", bom: bool = False, newline: str = "\n") -> Path:
        path = data_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        data = text.replace("\n", newline).encode(encoding)
        path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
        return path

    return _write


@pytest.fixture
def copy_export(data_dir: Path) -> Callable[[str, str], Path]:
    """Copy a committed fixture (relative to `fixtures/exports`) into `data_dir` under `relative`."""

    def _copy(fixture: str, relative: str) -> Path:
        target = data_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(EXPORTS_DIR / fixture, target)
        return target

    return _copy


def write_xlsx(
    path: Path,
    sheets: dict[str, list[list]],
    cached_values: dict[str, object] | None = None,
    declared_dimension: str | None = None,
) -> Path:
    """Write a workbook: `{sheet name: rows}`, sheets in the given order.

    Cells starting with `=` are formulas. openpyxl stores no cached result for them (Excel would),
    so `cached_values` maps formula text (without `=`) to the value Excel would have cached; it is
    written into the sheet XML so readers with `data_only=True` see it, as with a real file.
    `declared_dimension` overwrites each sheet's `<dimension ref>` (some generators write a wrong
    one, e.g. `A1`).
    """
    from openpyxl import Workbook

    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        worksheet = workbook.create_sheet(title)
        for row in rows:
            worksheet.append(row)
    workbook.save(path)
    if cached_values or declared_dimension:
        _rewrite_sheet_xml(path, cached_values or {}, declared_dimension)
    return path


def _rewrite_sheet_xml(path: Path, cached_values: dict[str, object], declared_dimension: str | None) -> None:
    with zipfile.ZipFile(path) as source:
        members = {info.filename: source.read(info.filename) for info in source.infolist()}
    for name, data in members.items():
        if not name.startswith("xl/worksheets/sheet"):
            continue
        text = data.decode("utf-8")
        for formula, value in cached_values.items():
            text = re.sub(
                rf"<f>{re.escape(formula)}</f><v\s*/>",
                lambda _m, f=formula, v=value: f"<f>{f}</f><v>{v}</v>",
                text,
            )
        if declared_dimension:
            text = re.sub(r'<dimension ref="[^"]*"\s*/>', f'<dimension ref="{declared_dimension}" />', text)
        members[name] = text.encode("utf-8")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in members.items():
            target.writestr(name, data)


@pytest.fixture
def xlsx_writer() -> Callable[..., Path]:
    """`write_xlsx` as a fixture, for tests that build their own workbooks."""
    return write_xlsx


# --- realistic xlsx exports (generated, not committed) -------------------------------------------

MSFORMS_QUESTIONS = [
    "How useful was today’s session to your role?",
    "How important is it to have conversations about physical activity with the people you support?",
    "How confident do you feel having conversations about physical activity?",
    "What is your job title?",
    "Where do you work?",
]


@pytest.fixture
def msforms_xlsx(data_dir: Path) -> Path:
    """A Microsoft Forms response workbook: `ID, Start time, Completion time, Email, Name` + questions.

    Times are real datetime cells; response 1 is anonymous (`Email` = `anonymous`, `Name` blank).
    """
    rows = [
        ["ID", "Start time", "Completion time", "Email", "Name", *MSFORMS_QUESTIONS],
        [
            1,
            dt.datetime(2020, 11, 3, 14, 2, 11),
            dt.datetime(2020, 11, 3, 14, 5, 40),
            "anonymous",
            None,
            9,
            10,
            7,
            "Social Prescribing Link Worker",
            "GP practice",
        ],
        [
            2,
            dt.datetime(2020, 11, 3, 14, 3, 0),
            dt.datetime(2020, 11, 3, 14, 9, 15),
            "Olu.Test@example.org",
            "Olu Test",
            6,
            8,
            5,
            "High Intensity CBT Therapist",
            "Community health services",
        ],
        [
            3,
            dt.datetime(2020, 11, 4, 9, 0, 0),
            dt.datetime(2020, 11, 4, 9, 2, 30),
            "pat.test@example.com",
            "Pat Test",
            None,
            7,
            8,
            "Library assistant",
            "Charity",
        ],
    ]
    return write_xlsx(data_dir / "msforms" / "Active Medicine feedback(1-3).xlsx", {"Sheet1": rows})


@pytest.fixture
def surveymonkey_xlsx(data_dir: Path) -> Path:
    """A SurveyMonkey "all responses" xlsx: two header rows, HTML entity in a question, datetime cells."""
    rows = [
        [
            "Respondent ID",
            "Collector ID",
            "Start Date",
            "End Date",
            "IP Address",
            "Email Address",
            "First Name",
            "Last Name",
            "Custom Data 1",
            "How useful has the training been to your role?",
            "Since the training, how often do you have conversations about physical activity?",
            None,
            "What&apos;s one thing you are doing differently?",
            "Where do you work?",
            None,
            "What is your job title?",
        ],
        [
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            "Response",
            "Response",
            "Other (please specify)",
            "Open-Ended Response",
            "Response",
            "Other (please specify)",
            "Open-Ended Response",
        ],
        [
            11900000001,
            254968299,
            dt.datetime(2021, 1, 12, 9, 0, 5),
            dt.datetime(2021, 1, 12, 9, 4, 45),
            None,
            None,
            None,
            None,
            None,
            "8 - Very useful",
            "Slightly more often",
            None,
            "Asking at every appointment",
            "Hospital",
            None,
            "Band 6 Physio",
        ],
        [
            11900000002,
            254968299,
            dt.datetime(2021, 1, 13, 17, 30, 0),
            dt.datetime(2021, 1, 13, 17, 31, 2),
            None,
            None,
            None,
            None,
            None,
            "10",
            "Much more often",
            None,
            "",
            "Other",
            "Leisure trust",
            "Volunteer befriender",
        ],
    ]
    return write_xlsx(data_dir / "surveymonkey_followup" / "Follow-up survey.xlsx", {"Sheet": rows})


DELIVERY_LOG_COLUMNS = [
    "Eventbrite event ID",
    "Session title",
    "Date",
    "Start time",
    "Delivery",
    "Booked",
    "Attended",
    "Attendance rate",
]


@pytest.fixture
def delivery_log_xlsx(data_dir: Path) -> Path:
    """A partner's delivery log with two sheets: `Notes` first, then `Delivery log` with the sessions.

    Dates and times are real cells; `Attendance rate` is a formula whose cached value Excel stored.
    """
    log = [
        DELIVERY_LOG_COLUMNS,
        [
            115243358567,
            "Helping people become more active",
            dt.datetime(2020, 7, 14),
            dt.time(10, 0),
            "Online (Teams)",
            24,
            18,
            "=G2/F2",
        ],
        [
            None,
            "Physical activity in clinical care",
            dt.datetime(2020, 7, 21),
            dt.time(13, 30),
            "Face to face",
            12,
            9,
            "=G3/F3",
        ],
    ]
    notes = [["Delivery log for Active Medicine, kept by the partnership lead."], ["Last updated", dt.date(2020, 8, 1)]]
    return write_xlsx(
        data_dir / "delivery_log" / "Delivery log 2020-21.xlsx",
        {"Notes": notes, "Delivery log": log},
        cached_values={"G2/F2": 0.75, "G3/F3": 0.75},
    )


# --- from export to staging input ---------------------------------------------------------------


@pytest.fixture(scope="session")
def reference_tables() -> ReferenceTables:
    """The real, editable reference tables in `data/reference`."""
    return load_reference_tables(REFERENCE_DIR)


@pytest.fixture
def raw_export() -> Callable[[Source, Path], RawExport]:
    """Read one source and pseudonymise it exactly as the raw-export asset does, for staging tests."""

    def _raw(source: Source, data_dir: Path) -> RawExport:
        read = read_source(source, data_dir)
        rows = attach_person_keys(read.rows, TEST_KEY, source.partnership_id)
        quarantine = pd.DataFrame(read.quarantine) if read.quarantine else empty_quarantine()
        return RawExport(source.partnership_id, source.name, source.dataset, rows, quarantine, read.files)

    return _raw


# --- servers the end-to-end tests use -----------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The test PostgreSQL server (`AMED_TEST_POSTGRES_URL`, started by .ci/run); required in CI."""
    url = os.environ.get("AMED_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("AMED_TEST_POSTGRES_URL is not set: .ci/run must start PostgreSQL")
        pytest.skip("no PostgreSQL server (set AMED_TEST_POSTGRES_URL; scripts/start_test_postgres.sh starts one)")
    return url


# --- a real browser ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium():
    """Debian's headless Chromium: skipped where it is not installed, required in CI."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: .ci/run must install Debian's chromium package")
        pytest.skip("headless Chromium not installed (apt-get install chromium)")
    return path


# --- a full run for the evaluator's deliverables -----------------------------------------------


@pytest.fixture(scope="session")
def deliverables_run(tmp_path_factory):
    """One in-process nightly run on the sample data, with Leap's follow-up survey taken out of the
    config, so the outputs show "not applicable" ([z]) for a partnership without a follow-up survey.

    Returns {"url", "exports", "base", "data_dir", "config"}; shared by the workbook, CSV and browser tests.
    """
    import yaml

    from amed_pipeline.config import load_programme_config
    from amed_pipeline_tests.pipeline_runs import SAMPLE_DATA_DIR, run_nightly_in_process

    base = tmp_path_factory.mktemp("deliverables")
    data_dir = base / "data"
    shutil.copytree(SAMPLE_DATA_DIR, data_dir, ignore=shutil.ignore_patterns("warehouse", "exports", ".secrets"))
    config_path = data_dir / "partnerships.yaml"
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    for partnership in config["partnerships"]:
        if partnership["id"] == "leap":
            partnership["sources"] = [s for s in partnership["sources"] if s["dataset"] != "followup"]
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    url = f"duckdb:///{base}/warehouse.duckdb"
    result = run_nightly_in_process(data_dir, url, base / "exports")
    assert result.success
    return {
        "url": url,
        "exports": base / "exports",
        "base": base,
        "data_dir": data_dir,
        "config": load_programme_config(data_dir),
    }
