"""Read every file of one configured source into canonical rows, quarantine records and a ledger.

This is the raw layer's single entry point: for each file the source's glob matches, it hashes
the bytes, reads the grid (`files`), lets the format adapter locate the fields (`formats`),
converts them (`fields`) and accounts for every row: a row either comes out as a canonical row
or as a quarantine record naming file, row, column and reason. A file that cannot be read at all
becomes one file-level quarantine record and the other files still load. The same bytes under a
second file name are read once: the copy's rows are counted as duplicates.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping

import numpy as np
import pandas as pd

from amed_pipeline.config import Source
from amed_pipeline.config.partnerships import DEFAULT_MAX_FILE_BYTES
from amed_pipeline.privacy.redaction import mask_text
from amed_pipeline.reading.fields import convert_columns
from amed_pipeline.reading.files import MAX_FIELD_CHARS, RawTable, UnreadableFileError
from amed_pipeline.reading.formats import MissingColumnError, adapter_for
from amed_pipeline.reading.guards import file_size, refusal
from amed_pipeline.vocabulary import DATASET_FIELDS, REQUIRED_FIELDS

LINEAGE_COLUMNS = ("partnership_id", "source_name", "source_format", "source_file", "source_row")
QUARANTINE_COLUMNS = (
    "partnership_id",
    "dataset",
    "source_name",
    "source_file",
    "source_row",
    "rule",
    "column_name",
    "value",
    "reason",
)
FILE_LEVEL_ROW = 0  # source_row of a quarantine record about a whole file
NAME_COLUMNS = ("first_name", "last_name", "respondent_name")


@dataclass
class FileLedger:
    """What happened to one file: the basis of the ingest ledger and its row accounting."""

    partnership_id: str
    dataset: str
    source_name: str
    source_format: str
    source_file: str
    content_hash: str
    size_bytes: int
    rows_read: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0
    duplicate_of: str = ""
    error: str = ""
    note: str = ""  # e.g. where the header was found below title rows (shown, not stored)


@dataclass
class SourceRead:
    """The canonical rows of one source, its quarantine records and one ledger entry per file."""

    source: Source
    rows: pd.DataFrame
    quarantine: list[dict] = field(default_factory=list)
    files: list[FileLedger] = field(default_factory=list)
    current: dict[str, tuple[str, str]] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)
    refused_names: list[pd.DataFrame] = field(default_factory=list)  # names on quarantined rows


def read_source(
    source: Source,
    data_dir: Path,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    known: Mapping[str, tuple[str, str]] | None = None,
) -> SourceRead:
    """Read the files of `source` (relative to `data_dir`); a file over `max_file_bytes` or
    linking outside `data_dir` is refused unread (`guards`).

    `known` maps a file to the (content hash, duplicate of) it had when it was last read: such a
    file is hashed but not parsed again (it is listed in `unchanged`). Every file's current
    (hash, duplicate of) is in `current`.
    """
    data_dir = Path(data_dir)
    adapter = adapter_for(source)
    frames: list[pd.DataFrame] = []
    result = SourceRead(source=source, rows=pd.DataFrame())
    for path, relative, data, read_error, content_hash, duplicate_of in source_files(source, data_dir, max_file_bytes):
        result.current[relative] = (content_hash, duplicate_of)
        if known is not None and known.get(relative) == (content_hash, duplicate_of):
            result.unchanged.append(relative)
            continue
        ledger = FileLedger(
            partnership_id=source.partnership_id,
            dataset=source.dataset,
            source_name=source.name,
            source_format=source.format,
            source_file=relative,
            content_hash=content_hash,
            size_bytes=len(data) or file_size(path),
            duplicate_of=duplicate_of,
        )
        result.files.append(ledger)
        try:
            if read_error:
                raise UnreadableFileError(path, read_error)
            table = adapter.read_file(path, source, is_header=lambda rows: header_fits(rows, source, adapter))
            ledger.rows_read = len(table.rows)
            if table.header_row > 1:
                ledger.note = (
                    f"header found on row {table.header_row}; the {table.header_row - 1} row(s) above it are not data"
                )
            if duplicate_of:  # the same bytes under a second name: counted, not loaded twice
                ledger.rows_duplicate = ledger.rows_read
                continue
            rows, problems, names = read_table(table, source, adapter)
        except (UnreadableFileError, MissingColumnError) as exc:
            # A reason may quote the file (a library's message): masked like every text that quotes input.
            reason = mask_text(exc.reason if isinstance(exc, UnreadableFileError) else str(exc))
            ledger.error = reason
            ledger.rows_quarantined = ledger.rows_read
            rule = "file_unreadable" if isinstance(exc, UnreadableFileError) else "required_column_missing"
            result.quarantine.append(_quarantine_record(source, relative, FILE_LEVEL_ROW, rule, "", "", reason))
            continue
        for source_row, column, value, reason, rule in problems:
            result.quarantine.append(_quarantine_record(source, relative, source_row, rule, column, value, reason))
        ledger.rows_quarantined = len({p[0] for p in problems})
        rows.insert(0, "source_file", relative)
        frames.append(rows)
        if len(names):
            names.insert(0, "source_file", relative)
            result.refused_names.append(names)
    result.rows = pd.concat(frames, ignore_index=True) if frames else empty_rows(source)
    return result


def source_files(source: Source, data_dir: Path, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> Iterator[tuple]:
    """Each file of a source as (path, name relative to the data dir, bytes, refusal or read error,
    sha256 of the bytes, the earlier file with the same bytes or ''): what a file is, for reading
    it and for knowing whether it changed."""
    seen_hashes: dict[str, str] = {}
    for path in source.files(data_dir):
        relative = path.relative_to(data_dir).as_posix()
        data = b""
        read_error = refusal(path, data_dir, max_file_bytes)
        if not read_error:
            try:
                data = path.read_bytes()
            except OSError as exc:
                read_error = f"cannot open the file: {exc.strerror or exc}"
        content_hash = hashlib.sha256(data).hexdigest()
        duplicate_of = seen_hashes.get(content_hash, "") if not read_error else ""
        if not read_error and not duplicate_of:
            seen_hashes[content_hash] = relative
        yield path, relative, data, read_error, content_hash, duplicate_of


def read_table(table: RawTable, source: Source, adapter=None) -> tuple[pd.DataFrame, list[tuple], pd.DataFrame]:
    """Canonical rows of one file, (source_row, column, value, reason, rule) for the rows refused,
    and the name columns of the refused rows."""
    adapter = adapter or adapter_for(source)
    headers = adapter.headers(table)
    located = adapter.locate(headers, source)
    missing = [
        alternatives
        for alternatives in REQUIRED_FIELDS[source.dataset]
        if not any(f in located or f in source.options.get("default_values", {}) for f in alternatives)
    ]
    if missing:
        names = "; ".join(" or ".join(alternatives) for alternatives in missing)
        raise MissingColumnError(
            f"no column for {names} (a required {source.dataset} field); map it in options.columns"
            + (" or options.questions" if adapter.reads_questions else "")
        )
    damaged, cells = damaged_cells(table, headers)
    rows = table.rows
    if cells:  # not parsed as well: one reason per damaged cell is enough
        rows = rows.copy()
        for index, position in cells:
            rows.iat[index, position] = ""
    typed, errors = convert_columns(
        rows,
        located,
        headers,
        source.dataset,
        adapter.value_maps(source),
        source.options.get("default_values", {}),
        adapter.dayfirst(source),
    )
    problems = [(e.source_row, e.column, e.value, e.reason, e.rule) for e in errors]
    overflow = table.rows["overflow"].astype(str)
    for position in overflow[overflow != ""].index:
        problems.append(
            (
                int(table.rows["source_row"].iat[position]),
                "(beyond last column)",
                overflow.iat[position],
                "row has more cells than the header",
                "row_overflow",
            )
        )
    problems += damaged
    located_positions = set(located.values())
    for source_row, position in table.blank_formulas:
        if position in located_positions:
            problems.append((source_row, headers[position], "", FORMULA_WITHOUT_VALUE, "formula_without_value"))
    bad_rows = {p[0] for p in problems}
    name_columns = [c for c in NAME_COLUMNS if c in typed.columns]
    if bad_rows:
        refused = typed["source_row"].isin(bad_rows)
        # The names on refused rows are still names the pipeline has read (`privacy.redaction`).
        names = typed.loc[refused, name_columns].reset_index(drop=True)
        typed = typed[~refused].reset_index(drop=True)
    else:  # most files: every row kept, no copy of them
        names = typed[name_columns].iloc[:0]
    if source.dataset == "bookings":
        typed["record_rank"] = adapter.record_rank(typed).to_numpy()
        typed["record_ref"] = adapter.record_identity(typed).to_numpy()
    typed.insert(0, "partnership_id", source.partnership_id)
    typed.insert(1, "source_name", source.name)
    typed.insert(2, "source_format", source.format)
    return typed, problems, names


FORMULA_WITHOUT_VALUE = "formula without a value: re-save the file in Excel (it stores the computed value)"


def damaged_cells(table: RawTable, headers: list[str]) -> tuple[list[tuple], list[tuple[int, int]]]:
    """A problem per cell holding a NUL byte or more than `MAX_FIELD_CHARS` characters, and
    (row index, column position) of each such cell.

    Either spoils its row, never the file: the row is quarantined with a reason naming the column,
    and the value is not repeated (it is unreadable or huge). Nothing to look for when the reader
    saw that no cell of the file holds either (`RawTable.damage_possible`, nearly every file).
    """
    problems, cells = [], []
    if not table.damage_possible:
        return problems, cells
    for position in range(table.width):
        text = table.rows[position].astype(str)
        # Vectorised: most columns have neither, and the checks are one pass each.
        nul = text.str.contains("\x00", regex=False).to_numpy(dtype=bool)
        long = (text.str.len() > MAX_FIELD_CHARS).to_numpy(dtype=bool)
        for index in np.flatnonzero(nul | long):
            cells.append((int(index), position))
            row = int(table.rows["source_row"].iat[index])
            if long[index]:
                reason = f"field of {len(text.iat[index]):,} characters, over the limit of {MAX_FIELD_CHARS:,}"
                problems.append((row, headers[position], "", reason, "field_too_long"))
            else:
                problems.append(
                    (
                        row,
                        headers[position],
                        "",
                        "field holds a NUL byte (\\0): damaged or binary content",
                        "nul_in_field",
                    )
                )
    return problems, cells


def header_fits(rows: list[list[str]], source: Source, adapter) -> bool:
    """Whether these rows are the source's header: the adapter finds every required field in them."""
    width = max((len(r) for r in rows), default=0)
    probe = RawTable(
        path=Path(""), header_rows=[list(r) + [""] * (width - len(r)) for r in rows], rows=pd.DataFrame(), encoding=""
    )
    try:
        located = adapter.locate(adapter.headers(probe), source)
    except MissingColumnError:
        return False
    defaults = source.options.get("default_values", {})
    return all(
        any(f in located or f in defaults for f in alternatives) for alternatives in REQUIRED_FIELDS[source.dataset]
    )


def empty_rows(source: Source) -> pd.DataFrame:
    columns = list(LINEAGE_COLUMNS) + [f.name for f in DATASET_FIELDS[source.dataset]]
    if source.dataset == "bookings":
        columns += ["record_rank", "record_ref"]
    return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})


def _quarantine_record(source: Source, file: str, row: int, rule: str, column: str, value: str, reason: str) -> dict:
    # Value and reason may quote the cell: contact details masked here, known names when the
    # source is prepared (`landing.prepare`), which knows them.
    value, reason = mask_text(value), mask_text(reason)
    return {
        "partnership_id": source.partnership_id,
        "dataset": source.dataset,
        "source_name": source.name,
        "source_file": file,
        "source_row": row,
        "rule": rule,
        "column_name": column,
        "value": value,
        "reason": reason,
    }
