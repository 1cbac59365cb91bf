"""Turn one export file (CSV or xlsx) into a grid of text cells, the same way for every format.

Every adapter starts here, so the awkward parts of real files are handled once: UTF-8, UTF-8
with BOM and cp1252 decoding; Excel's `sep=,` first line; comma, semicolon or tab delimiters;
quoted cells with embedded newlines (a real CSV parser, never line splitting); xlsx sheets read
as values (formula cells give their cached value, never run); every cell as text, so long ids
keep their digits and leading zeros survive.

It knows nothing about what the columns mean: that is the adapters' job. A file that cannot be
read raises `UnreadableFileError` naming the file and the reason, never a bare stack trace.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

XLSX_SUFFIXES = (".xlsx", ".xlsm")
CSV_ENCODINGS = ("utf-8-sig", "cp1252")
DELIMITERS = (",", ";", "\t")


class UnreadableFileError(ValueError):
    """The file as a whole cannot be read: the message says which file and why."""

    def __init__(self, path: Path | str, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


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

    @property
    def width(self) -> int:
        return len(self.header_rows[0]) if self.header_rows else 0


def read_raw_table(path: Path, header_rows: int = 1, sheet: str | None = None) -> RawTable:
    """Read a CSV or xlsx file into a RawTable with `header_rows` header rows."""
    path = Path(path)
    if path.suffix.lower() in XLSX_SUFFIXES:
        grid, encoding = _read_xlsx_grid(path, sheet), "xlsx"
    else:
        grid, encoding = _read_csv_grid(path)
    grid = _drop_blank_leading_rows(grid)
    if len(grid) < header_rows:
        raise UnreadableFileError(path, "the file is empty: no header row")
    width = max(len(r) for r in grid[:header_rows])
    headers = [_pad(r, width) for r in grid[:header_rows]]
    if not any(cell.strip() for cell in headers[0]):
        raise UnreadableFileError(path, "the header row is blank")
    body = grid[header_rows:]
    first_data_row = grid.leading_blank_rows + header_rows + 1
    # Trailing fully blank rows (Excel's habit) are not data rows.
    while body and not any(c.strip() for c in body[-1]):
        body.pop()
    frame = pd.DataFrame([_pad(r, width) for r in body], columns=range(width), dtype=object)
    if frame.empty:
        frame = pd.DataFrame({i: pd.Series([], dtype=object) for i in range(width)})
    frame["source_row"] = range(first_data_row, first_data_row + len(frame))
    # Cells beyond the header's width (a stray delimiter, a shifted row) must not vanish silently.
    frame["overflow"] = ["|".join(c for c in r[width:] if str(c).strip()) for r in body]
    return RawTable(path=path, header_rows=headers, rows=frame, encoding=encoding)


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
    if b"\x00" in data[:4096]:
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
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"')
    try:
        grid = [row for row in reader]
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
            with_data = (rows for rows in (_sheet_rows(workbook, n) for n in workbook.sheet_names) if _has_data(rows[:5]))
            rows = next(with_data, None)
            if rows is None:
                raise UnreadableFileError(path, "the workbook has no sheet with data")
    except UnreadableFileError:
        raise
    except Exception as exc:
        raise UnreadableFileError(path, f"not a readable xlsx workbook ({type(exc).__name__}: {exc})") from exc
    finally:
        workbook.close()
    return [[cell_text(_as_stored_value(v)) for v in row] for row in rows]


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
