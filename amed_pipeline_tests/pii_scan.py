"""Helpers for the privacy tests: the names and emails in the raw files, and a scanner for them.

`raw_personal_values` reads every configured source exactly as the pipeline does, before
pseudonymisation, and collects each email and each full name (first + last). `find_personal`
finds them in any text by tokens, not substring search, so it is fast on megabytes (Dagster's
storage) and also finds a name whose parts are joined by something other than a space (e.g.
`first|last` inside a record reference). Surnames or first names alone are not searched: they
collide with ordinary words and job titles ("Baker", "Nurse"), which would make the audit cry wolf.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Iterator

from amed_pipeline.config import load_programme_config
from amed_pipeline.lib.text import normalise_email, normalise_name
from amed_pipeline.reading.parse import read_source

# The lookbehind makes a match start only where a run of address characters starts: without it,
# long hex runs (hashes in stored outputs) make the search quadratic.
EMAIL = re.compile(r"(?<![a-z0-9._%+-])[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}")
WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")


@dataclass(frozen=True)
class PersonalValues:
    emails: frozenset[str]
    names: frozenset[str]  # full names as lower-case words joined by one space

    @cached_property
    def name_lengths_by_first_word(self) -> dict[str, set[int]]:
        lengths: dict[str, set[int]] = {}
        for name in self.names:
            words = name.split(" ")
            lengths.setdefault(words[0], set()).add(len(words))
        return lengths


def name_words(first: str, last: str) -> str:
    return " ".join(WORD.findall(f"{first} {last}".lower()))


@lru_cache(maxsize=4)
def raw_personal_values(data_dir: Path) -> PersonalValues:
    emails, names = set(), set()
    config = load_programme_config(data_dir)
    for source in config.sources():
        rows = read_source(source, data_dir).rows
        for column in ("email", "respondent_email"):
            if column in rows:
                emails |= {e for e in rows[column].astype(str).map(normalise_email) if "@" in e}
        if "respondent_name" in rows:
            names |= {
                w
                for w in rows["respondent_name"].astype(str).map(lambda n: name_words(n, ""))
                if len(w.split(" ")) >= 2
            }
        if "first_name" in rows and "last_name" in rows:
            for first, last in zip(rows["first_name"].astype(str), rows["last_name"].astype(str)):
                if normalise_name(first) and normalise_name(last):
                    words = name_words(first, last)
                    if len(words.split(" ")) >= 2:
                        names.add(words)
    return PersonalValues(frozenset(emails), frozenset(names))


def find_personal(text: str, values: PersonalValues) -> list[str]:
    """Every raw email or full name that occurs in `text` (case-insensitive)."""
    lowered = text.lower()
    hits = {e for e in EMAIL.findall(lowered) if e in values.emails}
    words = WORD.findall(lowered)
    starts = values.name_lengths_by_first_word
    for position, word in enumerate(words):
        for size in starts.get(word, ()):
            candidate = " ".join(words[position : position + size])
            if candidate in values.names:
                hits.add(candidate)
    return sorted(hits)


def xlsx_text(path: Path) -> str:
    """Every cell of every sheet (values as stored, formulas as written), one per line."""
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True)
    try:
        return "\n".join(
            str(cell)
            for sheet in workbook.worksheets
            for row in sheet.iter_rows(values_only=True)
            for cell in row
            if cell is not None
        )
    finally:
        workbook.close()


def file_texts(root: Path) -> Iterator[tuple[Path, str]]:
    """Every file under `root` as text: xlsx by its cells, anything else by its bytes."""
    for path in sorted(Path(root).rglob("*")):
        if not path.is_file():
            continue
        if path.suffix.lower() == ".xlsx":
            yield path, xlsx_text(path)
        else:
            yield path, path.read_bytes().decode("utf-8", errors="ignore")


# --- planting personal data where real exports put it by accident ----------------------------

PHONE_DIGITS = re.compile(r"\d")
BAD_CELL_KINDS = ("datetime", "date", "time", "rating", "choice", "identifier")


@dataclass
class Planted:
    """What `plant_personal_data` wrote into the raw files, to be searched for everywhere else."""

    emails: set[str]
    phones: set[str]  # digits only
    postcodes: set[str]  # upper case, no space
    names: set[str]  # lower-case words, as `PersonalValues.names`
    cells: list[tuple[str, str, str]]  # (file, field, what kind of cell)

    def find(self, text: str) -> list[str]:
        """Every planted value in `text` (emails and names by token, phones and postcodes by their characters)."""
        lowered = text.lower()
        hits = {e for e in EMAIL.findall(lowered) if e in self.emails}
        digits = re.sub(r"[\s()+-]", "", text)
        hits |= {p for p in self.phones if p in digits or p[1:] in digits}
        squeezed = re.sub(r"\s", "", text.upper())
        hits |= {p for p in self.postcodes if p in squeezed}
        words = " " + " ".join(WORD.findall(lowered)) + " "
        hits |= {n for n in self.names if f" {n} " in words}
        return sorted(hits)


def bookings_names(data_dir: Path) -> list[tuple[str, str]]:
    """(first, last) of people in the bookings, as written: the names the pipeline knows."""
    found = []
    for source in load_programme_config(data_dir).sources("bookings"):
        rows = read_source(source, data_dir).rows
        if "first_name" in rows and "last_name" in rows:
            found += [
                (first, last)
                for first, last in zip(rows["first_name"], rows["last_name"])
                if len(name_words(first, last).split(" ")) == 2
            ]
    return sorted(set(found))


def plant_personal_data(data_dir: Path) -> Planted:
    """Write contact details and known names into the first file of every source in `data_dir`.

    In one data row, every free-text and id field gets `"<text> (contact <email>, tel <phone>,
    <postcode>) <Known Name>"`; in further rows, one cell per field of every other parsed kind
    (date, time, rating, choice) becomes `"Checked in by <email> <phone> <Known Name>"`, which
    cannot parse and is quarantined. CSV files keep their encoding and delimiter; xlsx files are
    edited cell by cell. Fields are found with the pipeline's own adapters, so every format's
    layout is covered.
    """
    from amed_pipeline.reading.files import XLSX_SUFFIXES, decode_bytes, read_raw_table, sniff_delimiter
    from amed_pipeline.reading.formats import ADAPTERS
    from amed_pipeline.vocabulary import DATASET_FIELDS

    config = load_programme_config(data_dir)
    known = bookings_names(data_dir)
    planted = Planted(set(), set(), set(), set(), [])
    counter = iter(range(1, 10_000))

    def contact() -> tuple[str, str, str, str]:
        n = next(counter)
        first, last = known[(n * 37) % len(known)]
        email, phone, postcode = f"planted.person{n}@example.net", f"07700 900{n:03d}", f"OX{n % 9 + 1} {n % 9 + 1}AB"
        planted.emails.add(email)
        planted.phones.add("".join(PHONE_DIGITS.findall(phone)))
        planted.postcodes.add(postcode.replace(" ", ""))
        planted.names.add(name_words(first, last))
        return email, phone, postcode, f"{first.strip().title()} {last.strip().title()}"

    for source in config.sources():
        path = next(iter(source.files(data_dir)), None)
        if path is None:
            continue
        adapter = ADAPTERS[source.format]
        table = read_raw_table(path, adapter.header_rows, source.options.get("sheet"))
        located = adapter.locate(adapter.headers(table), source)
        kinds = {f.name: f.kind for f in DATASET_FIELDS[source.dataset]}
        edits: dict[tuple[int, int], str] = {}  # (source_row, column position) → new text
        rows = table.rows["source_row"].tolist()
        free = [f for f in located if kinds[f] in ("text", "identifier") and f not in ("session_ref", "session_title")]
        if free and rows:
            email, phone, postcode, name = contact()
            for field_name in free:
                original = table.rows[located[field_name]].iat[0]
                edits[rows[0], located[field_name]] = f"{original} (contact {email}, tel {phone}, {postcode}) {name}"
                planted.cells.append((path.name, field_name, "free text"))
        bad = [f for f in located if kinds[f] in BAD_CELL_KINDS and kinds[f] != "identifier"]
        for offset, field_name in enumerate(bad, start=1):
            if offset >= len(rows):
                break
            email, phone, postcode, name = contact()
            edits[rows[offset], located[field_name]] = f"Checked in by {email} {phone} {name}"
            planted.cells.append((path.name, field_name, f"bad {kinds[field_name]} cell"))
        if not edits:
            continue
        if path.suffix.lower() in XLSX_SUFFIXES:
            from openpyxl import load_workbook

            book = load_workbook(path)
            sheet = (
                book[source.options["sheet"]]
                if source.options.get("sheet")
                else next(s for s in book.worksheets if s.max_row > 1)
            )
            for (row, column), text in edits.items():
                sheet.cell(row=row, column=column + 1, value=text)
            book.save(path)
        else:
            data = path.read_bytes()
            text, encoding = decode_bytes(data, path)
            bom = text.startswith("\ufeff")
            text = text.lstrip("\ufeff")
            delimiter = sniff_delimiter(text)
            grid = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
            for (row, column), value in edits.items():
                line = row - 1  # source rows count from 1, as in a spreadsheet (no blank leading rows here)
                grid[line] += [""] * (column + 1 - len(grid[line]))
                grid[line][column] = value
            out = io.StringIO(newline="")
            csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(grid)
            body = out.getvalue()
            if encoding == "cp1252":
                path.write_bytes(body.encode("cp1252", errors="replace"))
            else:
                path.write_bytes((("\ufeff" if bom else "") + body).encode("utf-8"))
    return planted
