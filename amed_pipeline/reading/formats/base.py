"""What every format adapter shares: locating canonical fields in a file's headers.

An adapter is a small declaration: how many header rows its files have, which header texts
(aliases) name which canonical field, how it writes dates by default, and, where a format needs
it, how to merge header rows or rank duplicate records. Explicit `options.columns` from the
config always win over aliases; survey questions are found by their text or a distinctive
fragment (`options.questions`, else the standard questionnaire). Matching is by normalised header
text, never by position.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import pandas as pd

from amed_pipeline.config import Source
from amed_pipeline.lib.frames import as_text
from amed_pipeline.reading.fields import DEFAULT_QUESTIONS
from amed_pipeline.reading.files import RawTable, read_raw_table
from amed_pipeline.reading.values import normalise_header, strip_question_number
from amed_pipeline.vocabulary import DATASET_FIELDS, STATUS_PRECEDENCE


class MissingColumnError(ValueError):
    """A column the source needs is not in the file (the whole file cannot load)."""


@dataclass(frozen=True)
class FormatAdapter:
    name: str
    header_rows: int = 1
    default_dayfirst: bool = True
    aliases: Mapping[str, Sequence[str]] = field(default_factory=dict)
    default_values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    reads_questions: bool = False

    def read_file(self, path, source: Source, is_header=None) -> RawTable:
        """The file as a grid of text cells (API snapshot adapters read JSON pages instead).

        `is_header(rows)` tells whether candidate rows are this source's header, so title rows
        above it can be skipped."""
        return read_raw_table(
            path, header_rows=self.header_rows, sheet=source.options.get("sheet"), is_header=is_header
        )

    def headers(self, table: RawTable) -> list[str]:
        """One header text per column (formats with several header rows merge them)."""
        return list(table.header_rows[0])

    def value_maps(self, source: Source) -> dict[str, dict[str, str]]:
        configured = source.options.get("values", {})
        maps = {f: dict(m) for f, m in self.default_values.items()}
        for field_name, mapping in configured.items():
            maps.setdefault(field_name, {}).update({str(k): str(v) for k, v in mapping.items()})
        return maps

    def dayfirst(self, source: Source) -> bool:
        return self.default_dayfirst if source.dayfirst is None else source.dayfirst

    def locate(self, headers: list[str], source: Source) -> dict[str, int]:
        """Canonical field → column position for this file, or MissingColumnError."""
        wanted = {f.name for f in DATASET_FIELDS[source.dataset]}
        normalised = [normalise_header(h) for h in headers]
        located: dict[str, int] = {}
        for field_name, header in source.options.get("columns", {}).items():
            position = _first_index(normalised, normalise_header(str(header)))
            if position is None:
                raise MissingColumnError(
                    f"column {header!r} (mapped to {field_name} in options.columns) is not in the file"
                )
            located[field_name] = position
        if self.reads_questions:
            questions = {**DEFAULT_QUESTIONS.get(source.dataset, {}), **source.options.get("questions", {})}
            taken = set(located.values())
            for field_name, question in questions.items():
                if field_name in located:
                    continue
                position = find_question(normalised, question, taken)
                if position is not None:
                    located[field_name] = position
                    taken.add(position)
                elif field_name in source.options.get("questions", {}):
                    raise MissingColumnError(
                        f"question {question!r} (options.questions.{field_name}) matches no column"
                    )
        for field_name, names in self.aliases.items():
            if field_name in located or field_name not in wanted:
                continue
            for name in names:
                position = _first_index(normalised, normalise_header(name))
                if position is not None:
                    located[field_name] = position
                    break
        return {k: v for k, v in located.items() if k in wanted}

    def record_rank(self, frame: pd.DataFrame) -> pd.Series:
        """Which of several copies of one booking record wins (higher wins)."""
        return frame["status"].map(STATUS_PRECEDENCE).fillna(0).astype(int)

    def record_identity(self, frame: pd.DataFrame) -> pd.Series:
        """The export's own id of a booking record within its session ('' = none).

        Overlapping exports repeat the same record; staging prefixes this with the session.
        """
        return as_text(frame["attendee_ref"])


def find_question(normalised_headers: list[str], question: str, taken: set[int] = frozenset()) -> int | None:
    """The column whose header is the question, else the first whose header contains it.

    Survey tools number questions (`3. How useful…`), so numbering is ignored when comparing.
    """
    wanted = normalise_header(question)
    stripped = [strip_question_number(h) for h in normalised_headers]
    for i, header in enumerate(stripped):
        if i not in taken and header == wanted:
            return i
    for i, header in enumerate(stripped):
        if i not in taken and wanted and wanted in header:
            return i
    return None


def _first_index(items: list[str], wanted: str) -> int | None:
    try:
        return items.index(wanted)
    except ValueError:
        return None
