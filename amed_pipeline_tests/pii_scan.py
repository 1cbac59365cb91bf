"""Helpers for the privacy tests: the names and emails in the raw files, and a scanner for them.

`raw_personal_values` reads every configured source exactly as the pipeline does, before
pseudonymisation, and collects each email and each full name (first + last). `find_personal`
finds them in any text by tokens, not substring search, so it is fast on megabytes (Dagster's
storage) and also finds a name whose parts are joined by something other than a space (e.g.
`first|last` inside a record reference). Surnames or first names alone are not searched: they
collide with ordinary words and job titles ("Baker", "Nurse"), which would make the audit cry wolf.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Iterator

from amed_pipeline.config import load_programme_config
from amed_pipeline.reading.parse import read_source
from amed_pipeline.reading.values import normalise_email, normalise_name

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
        if "email" in rows:
            emails |= {e for e in rows["email"].astype(str).map(normalise_email) if "@" in e}
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
            candidate = " ".join(words[position:position + size])
            if candidate in values.names:
                hits.add(candidate)
    return sorted(hits)


def xlsx_text(path: Path) -> str:
    """Every cell of every sheet (values as stored, formulas as written), one per line."""
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True)
    try:
        return "\n".join(
            str(cell) for sheet in workbook.worksheets for row in sheet.iter_rows(values_only=True) for cell in row
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
