"""Low-level writers: date styles, CSV dialects and byte-stable xlsx.

Each export tool writes dates its own way (SurveyMonkey US 12-hour, Google's download
`GMT+1` suffix, Excel's re-saved `7/14/20 10:32`, UK day-first everywhere else); the
helpers here render one `datetime` (naive UK local time) in each style. Files are written
row by row so large samples stream to disk. xlsx files are re-packed with fixed zip
timestamps and document dates, because openpyxl stamps the current time into every file
and the sample must be byte-identical for the same seed.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel


def _last_sunday(year: int, month: int) -> date:
    day = date(year, month + 1, 1) - timedelta(days=1)
    return day - timedelta(days=(day.weekday() + 1) % 7)


@lru_cache(maxsize=None)
def _summer_time(year: int) -> tuple[datetime, datetime]:
    return datetime.combine(_last_sunday(year, 3), time(1)), datetime.combine(_last_sunday(year, 10), time(1))


def is_british_summer_time(moment: datetime) -> bool:
    """UK clocks: BST from 01:00 on the last Sunday of March to the last Sunday of October."""
    start, end = _summer_time(moment.year)
    return start <= moment < end


def _am_pm(moment: datetime) -> str:
    return "AM" if moment.hour < 12 else "PM"  # not %p: that follows the process locale


def iso_with_offset(moment: datetime) -> str:
    """Eventbrite's raw order date: `2020-07-14 10:32:11+01:00`."""
    return f"{moment:%Y-%m-%d %H:%M:%S}+0{int(is_british_summer_time(moment))}:00"


def excel_us_short(moment: datetime) -> str:
    """An Eventbrite date after a US-locale Excel re-save: `7/14/20 10:32`."""
    return f"{moment.month}/{moment.day}/{moment:%y} {moment.hour}:{moment:%M}"


def surveymonkey_datetime(moment: datetime) -> str:
    """SurveyMonkey's export date, US order even for UK accounts: `07/31/2020 04:21:36 PM`."""
    return f"{moment:%m/%d/%Y %I:%M:%S} {_am_pm(moment)}"


def uk_date(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def uk_datetime(moment: datetime) -> str:
    return moment.strftime("%d/%m/%Y %H:%M")


def uk_datetime_seconds(moment: datetime) -> str:
    """A Google Sheet exported in the UK locale: `14/06/2021 10:10:09`."""
    return moment.strftime("%d/%m/%Y %H:%M:%S")


def google_download_timestamp(moment: datetime) -> str:
    """Google Forms 'Download responses': `2021/06/14 10:10:09 AM GMT+1` (`GMT` in winter)."""
    hour = moment.hour % 12 or 12
    zone = "GMT+1" if is_british_summer_time(moment) else "GMT"
    return f"{moment:%Y/%m/%d} {hour}:{moment:%M:%S} {_am_pm(moment)} {zone}"


def write_csv(path: Path, rows: Iterable[list], *, encoding: str = "utf-8") -> Path:
    """Rows (header rows included) to a CSV; `utf-8-sig` adds a BOM, `cp1252` is Excel's."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding=encoding, newline="") as f:
        writer = csv.writer(f, lineterminator="\r\n")
        for row in rows:
            writer.writerow(row)
    return path


def _quoted(value) -> str:
    text = "" if value is None else str(value)
    return '"' + text.replace('"', '""') + '"' if text else ""


def write_fully_quoted_csv(path: Path, rows: Iterable[list]) -> Path:
    """JISC Online Surveys style: every value double-quoted, empty answers left bare."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        for row in rows:
            f.write(",".join(_quoted(v) for v in row) + "\r\n")
    return path


DATETIME_FORMAT, DATE_FORMAT = "dd/mm/yyyy hh:mm:ss", "dd/mm/yyyy"
SHEET_PATH = "xl/worksheets/sheet1.xml"


def write_xlsx(path: Path, sheet_name: str, rows: Iterable[list], saved_at: datetime, creator: str = "") -> Path:
    """Rows to a one-sheet workbook whose bytes depend only on the rows and `saved_at`.

    openpyxl writes the package (styles with a date and a datetime format, workbook, rels);
    the sheet's cells are then written directly, which is many times faster than openpyxl
    cell by cell and produces the same XML."""
    package, styles = _template(sheet_name, creator, saved_at)
    sheet = _sheet_xml(package[SHEET_PATH], rows, styles)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_stable_zip({**package, SHEET_PATH: sheet}, saved_at))
    return path


def _template(sheet_name: str, creator: str, saved_at: datetime) -> tuple[dict, dict]:
    """openpyxl's parts of a workbook with one datetime and one date cell, and their style ids."""
    workbook = Workbook(write_only=True)
    workbook.properties.creator = creator
    workbook.properties.created = saved_at
    sheet = workbook.create_sheet(sheet_name)
    cells = []
    for value, number_format in ((datetime(2020, 1, 1), DATETIME_FORMAT), (date(2020, 1, 1), DATE_FORMAT)):
        cell = WriteOnlyCell(sheet, value)
        cell.number_format = number_format
        cells.append(cell)
    sheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    archive = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    package = {name: archive.read(name) for name in archive.namelist()}
    style_ids = re.findall(rb'<c r="[AB]1" s="(\d+)"', package[SHEET_PATH])
    return package, {"datetime": style_ids[0].decode(), "date": style_ids[1].decode()}


def _cell_xml(ref: str, value, styles: dict) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, datetime):
        return f'<c r="{ref}" s="{styles["datetime"]}" t="n"><v>{to_excel(value)}</v></c>'
    if isinstance(value, date):
        return f'<c r="{ref}" s="{styles["date"]}" t="n"><v>{to_excel(value)}</v></c>'
    if isinstance(value, (int, float)):
        return f'<c r="{ref}" t="n"><v>{value}</v></c>'
    text = str(value)
    space = ' xml:space="preserve"' if text != text.strip() or "\n" in text else ""
    return f'<c r="{ref}" t="inlineStr"><is><t{space}>{escape(text)}</t></is></c>'


def _sheet_xml(template: bytes, rows: Iterable[list], styles: dict) -> bytes:
    """The template sheet with its cells replaced by `rows`."""
    head, rest = template.split(b"<sheetData>", 1)
    tail = rest.split(b"</sheetData>", 1)[1]
    columns: list[str] = []
    parts = []
    for r, row in enumerate(rows, 1):
        while len(columns) < len(row):
            columns.append(get_column_letter(len(columns) + 1))
        cells = "".join(_cell_xml(f"{columns[c]}{r}", v, styles) for c, v in enumerate(row))
        parts.append(f'<row r="{r}">{cells}</row>')
    return head + b"<sheetData>" + "".join(parts).encode("utf-8") + b"</sheetData>" + tail


def _stable_zip(package: dict, saved_at: datetime) -> bytes:
    """Zip the parts with fixed member timestamps and a fixed 'modified' property."""
    stamp = saved_at.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name, content in package.items():
            if name == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + stamp, content)
            member = zipfile.ZipInfo(name, date_time=saved_at.timetuple()[:6])
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = 0o600 << 16
            target.writestr(member, content)
    return out.getvalue()
