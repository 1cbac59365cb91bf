"""Turn one source's new or changed export files into the rows the landing tables hold.

This is the pure half of landing (no warehouse, no Dagster): read the files (`reading.parse`),
leave out people on the erasure list, redact contact details and known names from every free-text
field and from every text that quotes a cell (`privacy.redaction`), replace names and emails with
pseudonyms, drop the fields nothing needs and split free text from people. Being pure and picklable, it can run in worker
processes: the raw-exports step prepares large batches of sources in parallel and writes them
to the warehouse in the step's own process (`landing.tables.replace_files`).
"""

from __future__ import annotations

import collections
import concurrent.futures
import multiprocessing
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Optional

import pandas as pd

from amed_pipeline.config import Source
from amed_pipeline.landing.erasure import drop_erased
from amed_pipeline.landing.tables import free_text_fields, split_free_text
from amed_pipeline.privacy.minimisation import minimise
from amed_pipeline.privacy.redaction import KnownNames, mask_series, mask_text, name_digest_column, redact_free_text
from amed_pipeline.reading.parse import NAME_COLUMNS, FileLedger, read_source
from amed_pipeline.staging.classification import ReferenceTables, load_reference_tables
from amed_pipeline.staging.datasets import empty_quarantine
from amed_pipeline.staging.people import attach_person_keys, hmac_hex


@dataclass(frozen=True)
class PrepareTask:
    """Everything needed to prepare one source, and nothing that holds a connection."""

    source: Source
    data_dir: Path
    max_file_bytes: int
    known: Mapping[str, tuple[str, str]]
    pseudonym_key: bytes
    erasure_tokens: frozenset[str]
    erasure_key: Optional[bytes]
    reference_dir: Path
    # Keyed digests of the full names known from bookings (`landing.tables.landing_name`).
    known_names: frozenset[str] = frozenset()
    # The reference tables when the caller has loaded them (`changes.reference`), else read from reference_dir.
    reference: ReferenceTables | None = None


@dataclass
class PreparedSource:
    """One source's rows ready to land, with its quarantine and one ledger entry per file read."""

    source: Source
    rows: pd.DataFrame
    quarantine: pd.DataFrame
    files: list[FileLedger]
    job_titles: pd.DataFrame
    comments: pd.DataFrame
    current: dict[str, tuple[str, str]]
    unchanged: list[str]
    names: pd.DataFrame | None = None  # (partnership_id, source_file, name_digest) of the names read
    redactions: pd.DataFrame | None = None  # per file, field and kind: how many things were removed


def prepare_source(task: PrepareTask) -> PreparedSource:
    source, key = task.source, task.pseudonym_key
    read = read_source(source, task.data_dir, task.max_file_bytes, known=task.known)
    if not read.files:  # every file unchanged (or none): nothing to prepare
        return PreparedSource(
            source, read.rows, empty_quarantine(), [], pd.DataFrame(), pd.DataFrame(), read.current, read.unchanged
        )
    # Names of everyone read here (erased people too: their names must still leave free text).
    named = pd.concat(
        [read.rows[[c for c in ("source_file", *NAME_COLUMNS) if c in read.rows]], *read.refused_names],
        ignore_index=True,
    )
    digests = name_digest_column(key, named) if len(named) else pd.Series([], dtype=object)
    names = KnownNames(key, task.known_names | frozenset(digests[digests != ""]))
    kept, erased = drop_erased(read.rows, task.erasure_tokens, task.erasure_key, source.partnership_id, source.dataset)
    kept, redactions = redact_free_text(kept, free_text_fields(source.dataset), names)
    redactions.insert(0, "partnership_id", source.partnership_id)
    redactions.insert(1, "dataset", source.dataset)
    rows = minimise(attach_person_keys(kept, key, source.partnership_id))
    classify = None
    if "job_title" in rows:
        reference = task.reference if task.reference is not None else load_reference_tables(task.reference_dir)
        classify = reference.classify_professions
    rows, job_titles, comments = split_free_text(rows, source.dataset, classify, lambda text: hmac_hex(key, text))
    quarantine = pd.concat(
        [pd.DataFrame(read.quarantine) if read.quarantine else empty_quarantine(), erased], ignore_index=True
    )
    # One masking for every text that quotes input: values, reasons, the file-level errors.
    quarantine["value"] = mask_series(quarantine["value"], names).to_numpy()
    quarantine["reason"] = mask_series(quarantine["reason"], names).to_numpy()
    for ledger in read.files:
        ledger.error = mask_text(ledger.error, names)
    name_rows = pd.DataFrame(
        {
            "partnership_id": source.partnership_id,
            "source_file": named["source_file"].to_numpy() if len(named) else [],
            "name_digest": digests.to_numpy(),
        }
    )
    name_rows = name_rows[name_rows["name_digest"] != ""].drop_duplicates(ignore_index=True)
    return PreparedSource(
        source, rows, quarantine, read.files, job_titles, comments, read.current, read.unchanged, name_rows, redactions
    )


# Below this many bytes of files to read, worker processes cost more than they save.
PARALLEL_MIN_BYTES = 16 * 2**20


def parallel_workers(bytes_to_read: int, cpus: int | None = None) -> int:
    """How many worker processes to prepare sources with: one per CPU for large batches, else none."""
    cpus = cpus or os.cpu_count() or 1
    return 0 if bytes_to_read < PARALLEL_MIN_BYTES or cpus < 2 else cpus


def prepare_sources(tasks: Iterable[PrepareTask], workers: int = 0) -> Iterator[PreparedSource]:
    """Prepared sources in task order: in this process, or in `workers` fresh worker processes.

    Workers start with the forkserver method (never a fork of a process that has threads and
    open connections) and each prepares whole sources, so results arrive while others are read.
    """
    tasks = list(tasks)
    if workers < 2 or len(tasks) < 2:
        yield from (prepare_source(task) for task in tasks)
        return
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        # A bounded window of sources in flight: prepared rows wait in memory only until written.
        pending: collections.deque = collections.deque()
        for task in tasks:
            pending.append(pool.submit(prepare_source, task))
            if len(pending) > 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
