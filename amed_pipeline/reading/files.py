"""Turn one export file (CSV or xlsx) into a grid of text cells, the same way for every format.

Every adapter starts here, so the awkward parts of real files are handled once: UTF-8, UTF-8
with BOM, UTF-16 LE/BE with BOM (Excel's "Unicode text") and cp1252 decoding; Excel's `sep=,`
first line; comma, semicolon or tab delimiters; quoted cells with embedded newlines (a real CSV
parser, never line splitting); xlsx sheets read as values (formula cells give their cached value,
never run; a formula Excel never computed is listed in `blank_formulas`, so its row can be
quarantined instead of read as blank); every cell as text, so long ids keep their digits and
leading zeros survive.

One rule for damaged content: what spoils one field spoils its row, not the file. A NUL byte or a
field longer than `MAX_FIELD_CHARS` stays in the grid for the caller to quarantine that row
(`parse`); only content that is not text at all (mostly control bytes) refuses the file.

It knows nothing about what the columns mean: that is the adapters' job. A file that cannot be
read raises `UnreadableFileError` naming the file and the reason, never a bare stack trace.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable
from xml.etree import ElementTree

import pandas as pd

from amed_pipeline.privacy.redaction import mask_text

XLSX_SUFFIXES = (".xlsx", ".xlsm")
CSV_ENCODINGS = ("utf-8-sig", "cp1252")
DELIMITERS = (",", ";", "\t")
UTF16_BOMS = {b"\xff\xfe": "utf-16-le", b"\xfe\xff": "utf-16-be"}
# The csv module's default field limit. A longer field quarantines its row (no honest export
# holds one); the parser itself is allowed far longer fields so the rest of the file still reads.
MAX_FIELD_CHARS = 131_072
# Text has few control bytes; a file whose first 4 KB are more than this share control bytes
# (other than tab, CR, LF) is binary, not a CSV with a stray NUL.
BINARY_CONTROL_SHARE = 0.05
_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 13))


class UnreadableFileError(ValueError):
    """The file as a whole cannot be read: the message says which file and why."""

    def __init__(self, path: Path | str, reason: str):
        self.path = str(path)
        # A library's message may quote the file's content: masked like every text that quotes input.
        self.reason = mask_text(reason)
        super().__init__(f"{path}: {self.reason}")


@dataclass
class RawTable:
    """A file's header rows and data rows, all cells as text ('' for blank).

    `rows` has one column per header position (`0..n-1`) plus `source_row`: the row number a
    person sees when opening the file in a spreadsheet (the first header row is row 1), and
    `overflow`: any non-blank cells beyond the header's width ('' normally).
    """

    path: Path
    header_rows: list[list[str]]
    rows: pd.DataFrame
    encoding: str
    # (source_row, column position) of formula cells with no cached value (xlsx only).
    blank_formulas: list[tuple[int, int]] = field(default_factory=list)
    # False when the reader has seen every cell and none holds a NUL byte or more than
    # `MAX_FIELD_CHARS` characters (`may_hold_damaged_cells`): `parse` then skips its per-cell check.
    damage_possible: bool = True

    @property
    def width(self) -> int:
        return len(self.header_rows[0]) if self.header_rows else 0

    # The spreadsheet row of the (first) header row: 1 unless blank or title rows were above it.
    header_row: int = 1


# How far down a header is looked for when the first row is not one (a title, a date line).
MAX_TITLE_ROWS = 10


def read_raw_table(
    path: Path,
    header_rows: int = 1,
    sheet: str | None = None,
    is_header: Callable[[list[list[str]]], bool] | None = None,
) -> RawTable:
    """Read a CSV or xlsx file into a RawTable with `header_rows` header rows.

    With `is_header`, the header is the first rows (of the first `MAX_TITLE_ROWS` + 1) that it
    accepts: title rows above the header ("Attendee report, printed 3 May") are skipped, and
    `header_row` says where the header was found. When no row is accepted, the first is used.
    """
    path = Path(path)
    blank_formulas: list[tuple[int, int]] = []
    if path.suffix.lower() in XLSX_SUFFIXES:
        grid, encoding = _read_xlsx_grid(path, sheet), "xlsx"
        blank_formulas = formulas_without_value(path, sheet)
    else:
        grid, encoding = _read_csv_grid(path)
    grid = _drop_blank_leading_rows(grid)
    if len(grid) < header_rows:
        raise UnreadableFileError(path, "the file is empty: no header row")
    skipped = 0
    if is_header is not None and not is_header(grid[:header_rows]):
        for offset in range(1, min(MAX_TITLE_ROWS, len(grid) - header_rows) + 1):
            if any(str(c).strip() for c in grid[offset]) and is_header(grid[offset : offset + header_rows]):
                skipped = offset
                break
    header_row = grid.leading_blank_rows + skipped + 1
    width = max(len(r) for r in grid[skipped : skipped + header_rows])
    headers = [_pad(r, width) for r in grid[skipped : skipped + header_rows]]
    if not any(cell.strip() for cell in headers[0]):
        raise UnreadableFileError(path, "the header row is blank")
    body = grid[skipped + header_rows :]
    first_data_row = header_row + header_rows
    # Trailing fully blank rows (Excel's habit) are not data rows.
    while body and not any(c.strip() for c in body[-1]):
        body.pop()
    frame = pd.DataFrame([_pad(r, width) for r in body], columns=range(width), dtype=object)
    if frame.empty:
        frame = pd.DataFrame({i: pd.Series([], dtype=object) for i in range(width)})
    frame["source_row"] = range(first_data_row, first_data_row + len(frame))
    # Cells beyond the header's width (a stray delimiter, a shifted row) must not vanish silently.
    frame["overflow"] = ["|".join(c for c in r[width:] if str(c).strip()) if len(r) > width else "" for r in body]
    last_row = first_data_row + len(frame)
    blank_formulas = [
        (row, column) for row, column in blank_formulas if first_data_row <= row < last_row and column < width
    ]
    return RawTable(
        path=path,
        header_rows=headers,
        rows=frame,
        encoding=encoding,
        blank_formulas=blank_formulas,
        header_row=header_row,
        damage_possible=may_hold_damaged_cells(grid),
    )


def may_hold_damaged_cells(grid: Iterable[list[str]]) -> bool:
    """Whether a cell of these rows of text cells may hold a NUL byte or more than
    `MAX_FIELD_CHARS` characters.

    A few passes in C over the whole grid (each row's cells joined, then the rows) instead of a
    check per cell: almost no file has either, and `parse.damaged_cells` looks cell by cell only
    when this says True. A row longer than the limit says True: one of its cells may be.
    """
    rows = list(map("".join, grid))
    return "\x00" in "".join(rows) or max(map(len, rows), default=0) > MAX_FIELD_CHARS


class _Grid(list):
    """A list of rows that remembers how many blank rows were dropped from its top."""

    leading_blank_rows = 0


def _drop_blank_leading_rows(grid: list[list[str]]) -> _Grid:
    out = _Grid(grid)
    while out and not any(str(c).strip() for c in out[0]):
        out.pop(0)
        out.leading_blank_rows += 1
    return out


def decode_bytes(data: bytes, path: Path | str) -> tuple[str, str]:
    """Decode a text export: UTF-8 (with or without BOM) first, then cp1252 (Excel on Windows)."""
    # Recognisable formats first: a zip (xlsx) always has NUL bytes in its first header.
    if data.startswith(b"%PDF"):
        raise UnreadableFileError(path, "this is a PDF document, not a CSV export")
    if data[:2] == b"PK":
        raise UnreadableFileError(path, "this is a zip/xlsx file with a .csv name; save it as .xlsx")
    for bom, encoding in UTF16_BOMS.items():
        # Excel's "Unicode text" (tab-separated UTF-16 with a BOM).
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(encoding), encoding.replace("-", "")
            except UnicodeDecodeError:
                raise UnreadableFileError(
                    path, f"starts with a {encoding.upper()} byte-order mark but is not {encoding.upper()} text"
                ) from None
    sample = data[:4096]
    if sum(sample.count(b) for b in _CONTROL_BYTES) > max(8, BINARY_CONTROL_SHARE * len(sample)):
        # Mostly control bytes: not text. (A stray NUL in a text file only spoils its row.)
        raise UnreadableFileError(path, "not a text file (binary content); expected CSV")
    for encoding in CSV_ENCODINGS:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise UnreadableFileError(path, "cannot decode the text as UTF-8 or cp1252")


def _read_csv_grid(path: Path) -> tuple[list[list[str]], str]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableFileError(path, f"cannot open the file: {exc.strerror or exc}") from exc
    if not data.strip():
        raise UnreadableFileError(path, "the file is empty")
    text, encoding = decode_bytes(data, path)
    text = text.lstrip("\ufeff")
    delimiter = None
    first_line, _, rest = text.partition("\n")
    if first_line.strip().strip('"').lower().startswith("sep=") and len(first_line.strip()) <= 8:
        # Excel's "sep=," hint line names the delimiter and is not part of the data.
        delimiter = first_line.strip().strip('"')[4:5] or ","
        text = rest
    delimiter = delimiter or sniff_delimiter(text)
    # Longer fields than the csv module's default are read, so their rows can be quarantined alone.
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"')
    try:
        grid = list(reader)
    except csv.Error as exc:
        raise UnreadableFileError(path, f"CSV is malformed near record {reader.line_num}: {exc}") from exc
    return grid, encoding


def sniff_delimiter(text: str) -> str:
    """The delimiter of the header record: the candidate that occurs most outside quotes."""
    header = _first_record(text)
    counts = {d: 0 for d in DELIMITERS}
    in_quotes = False
    for ch in header:
        if ch == '"':
            in_quotes = not in_quotes
        elif not in_quotes and ch in counts:
            counts[ch] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _first_record(text: str) -> str:
    """The first CSV record, which may span lines when a quoted header holds a newline."""
    in_quotes = False
    for i, ch in enumerate(text[:200_000]):
        if ch == '"':
            in_quotes = not in_quotes
        elif ch == "\n" and not in_quotes:
            return text[:i]
    return text[:200_000]


def _read_xlsx_grid(path: Path, sheet: str | None) -> list[list[str]]:
    """The sheet's cells as text, read with calamine (Rust; several times faster than openpyxl).

    Cells are read as values: a formula gives its cached value and never runs. The whole used
    range is read whatever the sheet's `<dimension>` tag says (some generators write `A1`).
    """
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises several types for a corrupt or non-xlsx file
        raise UnreadableFileError(path, f"not a readable xlsx workbook ({type(exc).__name__}: {exc})") from exc
    try:
        if sheet is not None:
            if sheet not in workbook.sheet_names:
                raise UnreadableFileError(
                    path, f"no sheet named {sheet!r}; the workbook has {', '.join(workbook.sheet_names)}"
                )
            rows = _sheet_rows(workbook, sheet)
        else:
            with_data = (
                rows for rows in (_sheet_rows(workbook, n) for n in workbook.sheet_names) if _has_data(rows[:5])
            )
            rows = next(with_data, None)
            if rows is None:
                raise UnreadableFileError(path, "the workbook has no sheet with data")
    except UnreadableFileError:
        raise
    except Exception as exc:
        raise UnreadableFileError(path, f"not a readable xlsx workbook ({type(exc).__name__}: {exc})") from exc
    finally:
        workbook.close()
    # Most cells are text already (`cell_text` of a str is the str): only the others converted.
    return [[v if type(v) is str else cell_text(_as_stored_value(v)) for v in row] for row in rows]


_CELL_REF = re.compile(r"([A-Z]+)(\d+)")
_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"


def formulas_without_value(path: Path, sheet: str | None = None) -> list[tuple[int, int]]:
    """(row number, column position) of formula cells that hold no cached value.

    Excel stores the value a formula last computed beside it; a workbook written by a script
    (openpyxl, some exporters) stores only the formula, and a values-only reader sees a blank.
    Read from the sheet's XML, only when the sheet has formulas at all. The sheet is the one the
    grid came from: `sheet`, else the first with data (as `_read_xlsx_grid`).
    """
    try:
        with zipfile.ZipFile(path) as archive:
            parts = _sheet_parts(archive)
            names = [sheet] if sheet is not None else list(parts)
            for name in names:
                part = parts.get(name)
                if part is None or part not in archive.namelist():
                    continue
                found, has_data = _blank_formula_cells(archive, part)
                if sheet is not None or has_data:
                    return found
    except (zipfile.BadZipFile, OSError, KeyError, ElementTree.ParseError):
        return []  # the grid reader reports what is wrong with the file
    return []


def _sheet_parts(archive: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name → the zip member holding its XML, in workbook order."""
    rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target", "") for r in rels}
    book = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    parts = {}
    for node in book.iter(f"{_MAIN}sheet"):
        target = targets.get(node.get(f"{_REL}id"), "")
        parts[node.get("name")] = target.lstrip("/") if target.startswith("/") else "xl/" + target
    return parts


def _blank_formula_cells(archive: zipfile.ZipFile, part: str) -> tuple[list[tuple[int, int]], bool]:
    found, has_data = [], False
    if not _has_formula(archive, part):
        return [], True  # no formula in the sheet: nothing to find, no XML parsed
    with archive.open(part) as stream:
        for _, element in ElementTree.iterparse(stream):
            if element.tag != f"{_MAIN}c":
                continue
            has_data = True
            formula, value = element.find(f"{_MAIN}f"), element.find(f"{_MAIN}v")
            if formula is not None and (value is None or not (value.text or "")) and element.get("t") != "str":
                m = _CELL_REF.match(element.get("r", ""))
                if m:
                    found.append((int(m.group(2)), _column_index(m.group(1))))
            element.clear()
    return found, has_data


_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[\s>/]")


def _has_formula(archive: zipfile.ZipFile, part: str, chunk: int = 4 << 20) -> bool:
    """Whether the sheet's XML has a formula element: a byte search, far cheaper than parsing."""
    tail = b""
    with archive.open(part) as stream:
        while block := stream.read(chunk):
            if _FORMULA_TAG.search(tail + block):
                return True
            tail = block[-16:]
    return False


def _column_index(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - 64
    return number - 1


def _sheet_rows(workbook, name: str) -> list[list]:
    # Not skipping the empty area: leading blank rows count, so row numbers match the spreadsheet.
    return workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)


def _has_data(rows: list[list]) -> bool:
    return any(v not in (None, "") for row in rows for v in row)


def _as_stored_value(value):
    """A date-formatted cell is a datetime at midnight, as Excel stores it (calamine gives a date)."""
    if type(value) is dt.date:
        return dt.datetime(value.year, value.month, value.day)
    return value


def cell_text(value) -> str:
    """A spreadsheet cell as text: dates in ISO form, whole floats without '.0', None as ''."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S")
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def _pad(row: list[str], width: int) -> list[str]:
    """The row cut or padded to `width` cells (cells are already text: csv, or `cell_text`)."""
    if len(row) == width:
        return row
    return row[:width] + [""] * (width - len(row))
