"""Shared file reading (`amed_pipeline.reading.files`): bytes on disk → header rows + text cells.

Scope: decoding (UTF-8, UTF-8 with BOM, cp1252 re-saves), Excel's `sep=` first line, comma /
semicolon / tab delimiters, quoted cells with embedded newlines in data and header cells, row
numbers as a spreadsheet shows them, xlsx sheet choice and formula cells read as cached values,
and the files that cannot be read (empty, header-only, PDF or xlsx renamed .csv), which must
raise `UnreadableFileError` naming the file. What the columns mean is the adapters' business and
is tested in test_formats.py.
"""

from __future__ import annotations

import pytest

from amed_pipeline.reading.files import (
    UnreadableFileError,
    cell_text,
    decode_bytes,
    read_raw_table,
    sniff_delimiter,
)
from amed_pipeline_tests.conftest import DELIVERY_LOG_COLUMNS

US_CLASSIC = "eventbrite/us_classic/Attendees-115243358567.csv"
UK_CLASSIC = "eventbrite/uk_classic/Attendees-115243358567-resaved.csv"
SURVEYMONKEY = "surveymonkey/feedback/Active_Medicine_feedback_2020-08-01.csv"


def cells(table, row: int) -> list[str]:
    """The header-width cells of one data row (without source_row/overflow)."""
    return [table.rows[i].iat[row] for i in range(table.width)]


# --- decoding ------------------------------------------------------------------------------------


def test_utf8_bom_is_not_glued_to_the_first_header(exports_dir):
    assert (exports_dir / US_CLASSIC).read_bytes().startswith(b"\xef\xbb\xbfEvent Name,")
    table = read_raw_table(exports_dir / US_CLASSIC)
    assert table.encoding == "utf-8-sig"
    assert table.header_rows[0][0] == "Event Name"
    assert table.header_rows[0][2] == "Order #"
    assert cells(table, 2)[4:6] == ["Chloé", "O’Test"]


def test_cp1252_resave_decodes_pound_curly_apostrophe_and_accents(exports_dir):
    raw = (exports_dir / UK_CLASSIC).read_bytes()
    assert b"\xa3" in raw and b"\x92" in raw and b"\xe9" in raw  # £ ’ é as single cp1252 bytes
    table = read_raw_table(exports_dir / UK_CLASSIC)
    assert table.encoding == "cp1252"
    headers = table.header_rows[0]
    row = dict(zip(headers, cells(table, 2)))
    assert row["First Name"] == "Chloé"
    assert row["Surname"] == "O’Test"
    assert row["Price Tier"] == "£5 – Voluntary sector"
    # CRLF record ends leave no stray carriage returns in the last column.
    assert headers[-1] == "Company"
    assert row["Company"] == "Example Befrienders"
    # Phone numbers keep their leading zero: every cell is text.
    assert dict(zip(headers, cells(table, 0)))["Mobile Phone"] == "07700 900123"


@pytest.mark.parametrize(
    ("data", "text", "encoding"),
    [
        ("£5 – café".encode("utf-8"), "£5 – café", "utf-8-sig"),
        (b"\xef\xbb\xbf" + "£5".encode("utf-8"), "£5", "utf-8-sig"),
        ("£5 – O’Test café".encode("cp1252"), "£5 – O’Test café", "cp1252"),
    ],
)
def test_decode_bytes_tries_utf8_then_cp1252(data, text, encoding):
    assert decode_bytes(data, "x.csv") == (text, encoding)


# --- delimiters and Excel's sep= line ---------------------------------------------------------------


def test_sep_line_is_dropped_and_names_the_delimiter(exports_dir):
    table = read_raw_table(exports_dir / "registers/sep_line/sign-in-2020-07-21.csv")
    assert table.header_rows == [["Course", "Date", "First name", "Surname", "Email address", "Job title"]]
    assert cells(table, 1) == [
        "Physical activity in clinical care, part 2",
        "22/07/2020",
        "Lea",
        "Test",
        "lea.test@example.com",
        "Nurse, practice",
    ]
    # Excel hides the sep= line, so the header is row 1 and data starts at row 2.
    assert table.rows["source_row"].tolist() == [2, 3]


def test_quoted_sep_line_after_a_bom(write_export):
    path = write_export("x/sep.csv", '"sep=;"\nName;Email\nAisha;aisha.example@example.org\n', bom=True)
    table = read_raw_table(path)
    assert table.header_rows == [["Name", "Email"]]
    assert cells(table, 0) == ["Aisha", "aisha.example@example.org"]


def test_semicolon_delimited_file(exports_dir):
    table = read_raw_table(exports_dir / "registers/semicolon/sign-in-2020-07-28.csv")
    assert table.width == 6
    assert table.header_rows[0][-1] == "Job title"
    assert cells(table, 0)[-1] == "Youth worker, Example Trust"  # a comma is just text here
    assert cells(table, 1)[-1] == "Librarian; children's services"  # a quoted semicolon


def test_tab_delimited_file(write_export):
    path = write_export("x/tabs.csv", "Name\tJob title\nAisha\tPhysio, band 6\n")
    table = read_raw_table(path)
    assert table.header_rows == [["Name", "Job title"]]
    assert cells(table, 0) == ["Aisha", "Physio, band 6"]


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        ('"Since the training, how often?";b;c\n1;2;3\n', ";"),  # commas inside quotes don't count
        ("a,b,c\n", ","),
        ("a\tb;c\tb\n", "\t"),
        ('"Question\nwith, a newline, and commas";x\n', ";"),
        ("single\n", ","),
    ],
)
def test_sniff_delimiter_reads_only_the_header_record(text, delimiter):
    assert sniff_delimiter(text) == delimiter


# --- embedded newlines and spreadsheet row numbers --------------------------------------------------


def test_embedded_newlines_in_header_and_data_cells(exports_dir):
    table = read_raw_table(exports_dir / SURVEYMONKEY, header_rows=2)
    questions, subheaders = table.header_rows
    assert questions[12] == "How confident do you feel having\nconversations about physical activity?"
    assert subheaders[15] == "Other (please specify)"
    assert questions[-1] == "" and subheaders[-1] == ""  # SurveyMonkey's trailing empty column
    assert table.width == 18
    assert len(table.rows) == 3
    assert cells(table, 0)[16] == 'Use the "Moving Medicine" resources.\nAsk every patient about activity.'
    # Rows as a spreadsheet shows them: a multi-line cell is still one row.
    assert table.rows["source_row"].tolist() == [3, 4, 5]
    assert cells(table, 1)[0] == "11803970001"


def test_blank_leading_and_trailing_rows(write_export):
    path = write_export("x/blank_rows.csv", ",,\n\nID,Name,Score\n1,Aisha,8\n2,Ben,\n,,\n\n", newline="\r\n")
    table = read_raw_table(path)
    assert table.header_rows == [["ID", "Name", "Score"]]
    assert table.rows["source_row"].tolist() == [4, 5]
    assert cells(table, 1) == ["2", "Ben", ""]


def test_cells_beyond_the_header_are_kept_as_overflow(write_export):
    path = write_export("x/overflow.csv", "ID,Name\n1,Aisha\n2,Ben,stray, ,value\n3\n")
    table = read_raw_table(path)
    assert table.rows["overflow"].tolist() == ["", "stray|value", ""]
    assert cells(table, 2) == ["3", ""]  # short rows are padded


def test_ids_stay_text(write_export):
    path = write_export("x/ids.csv", "Respondent ID,Code\n19085864118,05\n")
    assert cells(read_raw_table(path), 0) == ["19085864118", "05"]


# --- unreadable files -------------------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"\r\n\r\n  \n"])
def test_empty_file(write_export, data_dir, content):
    path = data_dir / "x" / "empty.csv"
    path.parent.mkdir()
    path.write_bytes(content)
    with pytest.raises(UnreadableFileError, match="empty") as excinfo:
        read_raw_table(path)
    assert excinfo.value.path == str(path)
    assert str(path) in str(excinfo.value)


def test_two_header_rows_needed_but_one_present(write_export):
    path = write_export("x/one_row.csv", "Respondent ID,Collector ID\n")
    with pytest.raises(UnreadableFileError, match="no header row"):
        read_raw_table(path, header_rows=2)


def test_header_only_file_has_no_rows(write_export):
    path = write_export("x/header_only.csv", "Timestamp,Email address,How useful?\r\n")
    table = read_raw_table(path)
    assert table.header_rows == [["Timestamp", "Email address", "How useful?"]]
    assert len(table.rows) == 0
    assert list(table.rows.columns) == [0, 1, 2, "source_row", "overflow"]


def test_pdf_renamed_csv_names_the_file(data_dir):
    path = data_dir / "feedback" / "Feedback summary.csv"
    path.parent.mkdir()
    path.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n")
    with pytest.raises(UnreadableFileError) as excinfo:
        read_raw_table(path)
    assert excinfo.value.path == str(path)
    assert "Feedback summary.csv" in str(excinfo.value)
    assert "PDF" in excinfo.value.reason


def test_xlsx_renamed_csv(delivery_log_xlsx, data_dir):
    renamed = data_dir / "delivery_log.csv"
    renamed.write_bytes(delivery_log_xlsx.read_bytes())
    with pytest.raises(UnreadableFileError, match="save it as .xlsx"):
        read_raw_table(renamed)


def test_binary_content(data_dir):
    path = data_dir / "export.csv"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(UnreadableFileError, match="binary content"):
        read_raw_table(path)
    # UTF-16 without its byte-order mark is half NUL bytes: still not a text export.
    path.write_bytes("Name,Email\nAisha,a@example.org\n".encode("utf-16-le"))
    with pytest.raises(UnreadableFileError, match="binary content"):
        read_raw_table(path)


@pytest.mark.parametrize("encoding, bom", [("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff")])
def test_utf16_with_a_bom_is_read(data_dir, encoding, bom):
    """Excel's "Unicode text": tab-separated UTF-16 with a byte-order mark."""
    path = data_dir / "export.csv"
    path.write_bytes(bom + "Name\tJob title\r\nZoë\tRenée’s café volunteer\r\n".encode(encoding))
    table = read_raw_table(path)
    assert table.header_rows == [["Name", "Job title"]]
    assert cells(table, 0) == ["Zoë", "Renée’s café volunteer"]
    assert table.encoding == encoding.replace("-", "")


def test_a_nul_byte_stays_in_its_cell_wherever_it_is(data_dir):
    """One rule: a NUL byte early in the file no longer makes the file binary (parse quarantines the row)."""
    path = data_dir / "export.csv"
    path.write_bytes(b"Name,Job title\nAisha,Nur\x00se\nBen,GP\n")
    table = read_raw_table(path)
    assert cells(table, 0) == ["Aisha", "Nur\x00se"] and cells(table, 1) == ["Ben", "GP"]


def test_a_field_over_the_csv_modules_limit_is_read(data_dir):
    path = data_dir / "export.csv"
    path.write_text("Name,Comment\nAisha," + "x" * 200_000 + "\nBen,ok\n")
    table = read_raw_table(path)
    assert len(table.rows[1].iat[0]) == 200_000 and cells(table, 1) == ["Ben", "ok"]


def test_title_rows_above_the_header_are_skipped_when_the_caller_recognises_the_header(data_dir):
    path = data_dir / "export.csv"
    path.write_text("Attendee report,,\nprinted 3 May 2021,,\nCourse,Date,Name\nMI,01/02/2021,Aisha\n")
    table = read_raw_table(path, is_header=lambda rows: "Course" in rows[0])
    assert table.header_rows == [["Course", "Date", "Name"]] and table.header_row == 3
    assert cells(table, 0) == ["MI", "01/02/2021", "Aisha"] and table.rows["source_row"].tolist() == [4]
    plain = read_raw_table(path)
    assert plain.header_row == 1 and plain.header_rows[0][0] == "Attendee report"


def test_formula_cells_without_a_cached_value_are_listed(data_dir):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Form1"
    for row in (["ID", "Job title", "Hours"], [1, '=UPPER("nurse")', 2], [2, "GP", "=C2*2"], [3, "OT", 1]):
        sheet.append(row)
    path = data_dir / "responses.xlsx"
    book.save(path)
    table = read_raw_table(path, sheet="Form1")
    assert table.blank_formulas == [(2, 1), (3, 2)]
    assert cells(table, 0)[1] == ""  # what a values-only reader sees: hence the list


def test_text_named_xlsx(write_export):
    path = write_export("x/not_really.xlsx", "Name,Email\nAisha,aisha.example@example.org\n")
    with pytest.raises(UnreadableFileError, match="not a readable xlsx workbook") as excinfo:
        read_raw_table(path)
    assert "not_really.xlsx" in str(excinfo.value)


# --- xlsx ---------------------------------------------------------------------------------------------


def test_xlsx_named_sheet_with_typed_cells_and_cached_formula_values(delivery_log_xlsx):
    table = read_raw_table(delivery_log_xlsx, sheet="Delivery log")
    assert table.encoding == "xlsx"
    assert table.header_rows == [DELIVERY_LOG_COLUMNS]
    assert cells(table, 0) == [
        "115243358567",
        "Helping people become more active",
        "2020-07-14 00:00:00",
        "10:00:00",
        "Online (Teams)",
        "24",
        "18",
        "0.75",
    ]
    assert cells(table, 1)[0] == ""  # an empty cell, not "None"
    assert table.rows["source_row"].tolist() == [2, 3]


def test_xlsx_without_a_sheet_name_reads_the_first_sheet_with_data(delivery_log_xlsx, xlsx_writer, data_dir):
    assert read_raw_table(delivery_log_xlsx).header_rows[0][0].startswith("Delivery log for Active Medicine")
    path = xlsx_writer(data_dir / "cover.xlsx", {"Cover": [], "Responses": [["ID", "Name"], [1, "Aisha"]]})
    table = read_raw_table(path)
    assert table.header_rows == [["ID", "Name"]]
    assert cells(table, 0) == ["1", "Aisha"]


def test_xlsx_missing_sheet_lists_the_sheets_it_has(delivery_log_xlsx):
    with pytest.raises(UnreadableFileError) as excinfo:
        read_raw_table(delivery_log_xlsx, sheet="Sessions")
    assert "no sheet named 'Sessions'" in excinfo.value.reason
    assert "Notes, Delivery log" in excinfo.value.reason
    assert "Delivery log 2020-21.xlsx" in str(excinfo.value)


def test_xlsx_formula_without_cached_value_reads_blank(xlsx_writer, data_dir):
    # A workbook written by a program that never calculated it: the formula is not run.
    path = xlsx_writer(data_dir / "uncalculated.xlsx", {"Log": [["Booked", "Attended", "Rate"], [24, 18, "=B2/A2"]]})
    assert cells(read_raw_table(path), 0) == ["24", "18", ""]


def test_xlsx_with_a_wrong_dimension_tag_is_read_in_full(xlsx_writer, data_dir):
    path = xlsx_writer(
        data_dir / "report.xlsx",
        {"Report": [["ID", "Name", "Score"], [1, "Aisha", 8], [2, "Ben", 9]]},
        declared_dimension="A1",
    )
    table = read_raw_table(path)
    assert table.header_rows == [["ID", "Name", "Score"]]
    assert [cells(table, 0), cells(table, 1)] == [["1", "Aisha", "8"], ["2", "Ben", "9"]]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (19085864118, "19085864118"),
        (8.0, "8"),
        (0.75, "0.75"),
        (True, "TRUE"),
        ("anonymous", "anonymous"),
    ],
)
def test_cell_text(value, text):
    assert cell_text(value) == text


def test_an_unreadable_file_error_never_quotes_an_email(data_dir):
    error = UnreadableFileError(data_dir / "export.csv", "malformed near 'Checked in by x.y@example.org'")
    assert "@" not in str(error) and "[email removed]" in error.reason
