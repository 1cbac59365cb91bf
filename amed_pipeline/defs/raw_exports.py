"""The raw exports: one asset per partnership and configured source, all landed by one step.

This is the factory that makes `partnerships.yaml` the only place to add a partnership or an
export: each source becomes an asset `<partnership>/<source name>` in the partnership's group,
with its own materialisation and file summary in the UI. The assets share one step (a
multi-asset that can run in part): a step per source would pay Dagster's per-step start-up
hundreds of times at scale, while one step hashes every file, prepares the new or changed ones
(`landing.prepare`: parse, quarantine, leave out erased people, redact free text, pseudonymise,
minimise), in worker processes when there is a lot to read, and lands them a few hundred thousand rows per
transaction, each file replacing exactly its own rows (`landing.tables`). No name or email leaves it: not
in the warehouse, its metadata or its log lines.
"""

from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pandas as pd

from amed_pipeline.changes.fingerprints import known_names_fingerprint, source_fingerprint
from amed_pipeline.changes.reference import load_reference
from amed_pipeline.changes.state import forget_staged, record_fingerprint, stored_fingerprint
from amed_pipeline.changes.versions import NAME_SWEEP_STEP, PARSER_VERSION
from amed_pipeline.config import DATASETS, ProgrammeConfig, Source
from amed_pipeline.config.api_sources import is_api_format
from amed_pipeline.defs.erasure_list import ErasureListResource
from amed_pipeline.defs.pulls import pull_asset_key
from amed_pipeline.defs.resources import PseudonymKeyResource
from amed_pipeline.landing.prepare import PrepareTask, parallel_workers, prepare_sources
from amed_pipeline.landing.tables import (
    Landing,
    known_files,
    known_name_digests,
    landed_file_states,
    replace_files,
    sweep_known_names,
)
from amed_pipeline.lib.frames import one_per_source_row, release_memory
from amed_pipeline.operations.retries import retry_only_transient
from amed_pipeline.privacy.erasure import ERASED_RULE
from amed_pipeline.privacy.key_guard import REKEY_TAG, check_pseudonym_key
from amed_pipeline.privacy.redaction import KnownNames
from amed_pipeline.staging.datasets import RawExport
from amed_pipeline.staging.people import key_version
from amed_pipeline.vocabulary import DATASET_FIELDS
from amed_pipeline.warehouse.resource import WarehouseResource

FILE_KINDS = {
    "eventbrite": "csv",
    "surveymonkey": "csv",
    "msforms": "excel",
    "google_forms": "csv",
    "jisc": "csv",
    "mapped_csv": "csv",
    "eventbrite_api": "json",
    "surveymonkey_api": "json",
    "google_forms_api": "json",
}
RAW_EXPORTS_STEP = "raw_exports"


def raw_export_key(source: Source) -> dg.AssetKey:
    return dg.AssetKey([source.partnership_id, source.name])


def _raw_export_spec(source: Source) -> dg.AssetSpec:
    return dg.AssetSpec(
        raw_export_key(source),
        group_name=source.partnership_id,
        code_version=PARSER_VERSION,  # in every file's fingerprint (`changes.fingerprints.source_fingerprint`)
        kinds={"pandas", FILE_KINDS[source.options.get("read_as", source.format)]},
        # An API source's raw export reads the snapshots its pull asset wrote.
        deps=[pull_asset_key(source)] if is_api_format(source.format) else [],
        owners=["team:data-engineering"],
        tags={"dataset": source.dataset, "format": source.format},
        description=(
            f"{source.dataset.capitalize()} from {source.format} exports matching `{source.path}` "
            f"(partnership `{source.partnership_id}`), landed in the warehouse (`landing_{source.dataset}`). "
            "Only new or changed files are read; each replaces exactly its own rows. Unreadable rows are "
            "quarantined with file, row and column, and people are replaced by pseudonyms."
        ),
    )


def _bytes_to_read(source: Source, data_dir: Path, known) -> int:
    """Bytes of the files not landed before under this fingerprint (a cheap estimate: no hashing)."""
    total = 0
    for path in source.files(data_dir):
        if path.relative_to(data_dir).as_posix() not in known:
            try:
                total += path.stat().st_size
            except OSError:
                pass
    return total


def _has_job_titles(dataset: str) -> bool:
    return any(f.name == "job_title" for f in DATASET_FIELDS[dataset])


# Prepared sources are written together, one transaction per this many rows: a transaction and
# an insert per small file would cost more than the rows themselves.
LANDING_BATCH_ROWS = 100_000


def _land(conn, pending: list[tuple[Landing | None, dg.MaterializeResult]]):
    """Write the pending sources in one transaction, then report them."""
    landings = [landing for landing, _ in pending if landing is not None]
    if landings:
        with conn.begin():
            replace_files(conn, landings)
        # The rows are in the warehouse now: drop them before the next batch is prepared.
        pending[:] = [(None, result) for _, result in pending]
        del landings
        release_memory()
    for _, result in pending:
        yield result


def _forget_unconfigured_sources(conn, states: dict, configured: set, log) -> None:
    """Drop the landed rows of sources no longer in the config (e.g. an export replaced by its API
    source, or a demo config switched back): they would otherwise be counted beside their successor."""
    stale = {key: set(files) for key, files in states.items() if key not in configured}
    if not stale:
        return
    conn.commit()  # end the read's implicit transaction
    with conn.begin():
        removed = set().union(*stale.values())
        replace_files(conn, [Landing(dataset, [], pd.DataFrame(), pd.DataFrame(), "", removed) for dataset in DATASETS])
    for (partnership, name), files in sorted(stale.items()):
        log.info(f"{partnership}/{name}: no longer configured; its {len(files)} landed files' rows removed")
        del states[partnership, name]


def build_raw_export_assets(config: ProgrammeConfig) -> list[dg.AssetsDefinition]:
    sources = config.sources()
    if not sources:
        return []
    by_key = {raw_export_key(s): s for s in sources}

    @dg.multi_asset(specs=[_raw_export_spec(s) for s in sources], can_subset=True, name=RAW_EXPORTS_STEP)
    @retry_only_transient
    def raw_exports(
        context: dg.AssetExecutionContext,
        pseudonym_key: PseudonymKeyResource,
        erasure_list: ErasureListResource,
        warehouse: WarehouseResource,
    ):
        if context.run.tags.get(REKEY_TAG) != "true":  # `rekey` changes the key on purpose
            with warehouse.connect() as conn:
                check_pseudonym_key(conn, pseudonym_key.existing_key_bytes(), pseudonym_key.key_file)
        key = pseudonym_key.key_bytes()
        tokens, erasure_key = erasure_list.load()
        reference = load_reference(config.reference_dir)  # loaded and hashed once in the run (`changes.reference`)
        selected = [s for k, s in by_key.items() if k in context.selected_asset_keys]
        # One connection for the whole step (opening and closing a DuckDB file costs a checkpoint);
        # sources land together in transactions of about LANDING_BATCH_ROWS rows.
        with warehouse.connect() as conn:
            plan = _plan_sources(conn, context, selected, sources, config, key, tokens, erasure_key, reference)
            conn.commit()
            workers = parallel_workers(plan.bytes_to_read)
            if workers:
                context.log.info(
                    f"{plan.bytes_to_read / 2**20:.0f} MiB of new files: preparing {len(plan.tasks)} sources in "
                    f"{workers} worker processes"
                )
            # A source's materialisation is reported once its rows are committed.
            pending: list[tuple[Landing | None, dg.MaterializeResult]] = []
            for prepared in prepare_sources(plan.tasks, workers):
                pending.append(_landing_and_result(context, prepared, plan))
                if sum(len(landing.rows) for landing, _ in pending if landing is not None) >= LANDING_BATCH_ROWS:
                    yield from _land(conn, pending)
                    pending = []
            yield from _land(conn, pending)
            _sweep_names(context, conn, key)

    return [raw_exports]


@dataclass
class SourcePlan:
    """What the step will read: one task per selected source, how each was fingerprinted and which
    files had landed before, and the bytes of new files (which decides the worker processes)."""

    tasks: list[PrepareTask] = field(default_factory=list)
    fingerprints: dict[tuple[str, str], str] = field(default_factory=dict)
    landed: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    bytes_to_read: int = 0


def _plan_sources(conn, context, selected, sources, config, key, tokens, erasure_key, reference) -> SourcePlan:
    """Compare each selected source with what has landed: the files to read again and their tasks."""
    plan = SourcePlan()
    states = landed_file_states(conn, sorted({s.partnership_id for s in selected}))
    _forget_unconfigured_sources(conn, states, {(s.partnership_id, s.name) for s in sources}, context.log)
    known_names = known_name_digests(conn)  # free text is redacted with these (`privacy.redaction`)
    for source in selected:
        fingerprint = source_fingerprint(source, config.max_file_bytes, key_version(key), tokens, reference.digest)
        source_states = states.get((source.partnership_id, source.name), {})
        known = known_files(source_states, fingerprint)
        plan.fingerprints[source.name, source.partnership_id] = fingerprint
        plan.landed[source.name, source.partnership_id] = set(source_states)
        source_bytes = _bytes_to_read(source, config.data_dir, known)
        plan.bytes_to_read += source_bytes
        # Job titles are classified as they land: the tables this run loads once, parsed only when
        # such files are read (a malformed table fails only where it is used).
        tables = reference.tables if source_bytes and _has_job_titles(source.dataset) else None
        plan.tasks.append(
            PrepareTask(
                source,
                config.data_dir,
                config.max_file_bytes,
                known,
                key,
                tokens,
                erasure_key,
                config.reference_dir,
                known_names,
                tables,
            )
        )
    return plan


def _landing_and_result(context, prepared, plan: SourcePlan) -> tuple[Landing | None, dg.MaterializeResult]:
    """One prepared source: what to land (None when nothing changed) and its materialisation."""
    source = prepared.source
    removed = plan.landed[source.name, source.partnership_id] - set(prepared.current)
    for ledger in prepared.files:
        if ledger.error:
            context.log.warning(f"{ledger.source_file}: whole file quarantined: {ledger.error}")
        if ledger.note:
            context.log.info(f"{ledger.source_file}: {ledger.note}")
    landing = (
        Landing(
            source.dataset,
            prepared.files,
            prepared.rows,
            prepared.quarantine,
            plan.fingerprints[source.name, source.partnership_id],
            removed,
            prepared.job_titles,
            prepared.comments,
            prepared.names,
            prepared.redactions,
        )
        if prepared.files or removed
        else None
    )
    export = RawExport(
        source.partnership_id, source.name, source.dataset, prepared.rows, prepared.quarantine, prepared.files
    )
    metadata = raw_export_metadata(export, prepared.unchanged, removed, prepared.redactions)
    return landing, dg.MaterializeResult(asset_key=raw_export_key(source), metadata=metadata)


def _sweep_names(context, conn, key: bytes) -> None:
    """Free text is redacted with the names known when it is read. Names first seen in this run
    (or in a file read after the text) are removed from everything landed before."""
    with conn.begin():
        names = KnownNames(key, known_name_digests(conn))
        fingerprint = known_names_fingerprint(names.digests)
        if stored_fingerprint(conn, NAME_SWEEP_STEP) == fingerprint:
            return
        removed, touched = sweep_known_names(conn, names)
        forget_staged(conn, touched)  # their landed text changed: staged again from the cleaned text
        record_fingerprint(conn, NAME_SWEEP_STEP, fingerprint)
    if removed:
        context.log.info(
            f"{removed} known name(s) removed from free text landed earlier ({', '.join(sorted(touched))}: staged again)"
        )


def raw_export_metadata(
    export: RawExport,
    unchanged: list[str] = (),
    removed: set[str] = frozenset(),
    redactions: pd.DataFrame | None = None,
) -> dict:
    files = pd.DataFrame(
        [
            {
                "file": f.source_file,
                "rows read": f.rows_read,
                "unparseable rows": f.rows_quarantined,
                "duplicate of": f.duplicate_of or "",
                "error": f.error or "",
                "note": f.note or "",
            }
            for f in export.files
        ]
    )
    removed_text = int(redactions["redactions"].sum()) if redactions is not None and len(redactions) else 0
    return {
        "dagster/row_count": dg.MetadataValue.int(len(export.rows)),
        "files read": dg.MetadataValue.int(len(export.files)),
        "files unchanged (not read again)": dg.MetadataValue.int(len(unchanged)),
        "files removed": dg.MetadataValue.int(len(removed)),
        "rows quarantined": dg.MetadataValue.int(len(one_per_source_row(export.quarantine))),
        "rows left out (erasure list)": dg.MetadataValue.int(int((export.quarantine["rule"] == ERASED_RULE).sum())),
        "files unreadable": dg.MetadataValue.int(sum(1 for f in export.files if f.error)),
        "contact details and names removed from free text": dg.MetadataValue.int(removed_text),
        "file summary": dg.MetadataValue.md(
            files.to_markdown(index=False) if len(files) else "_no file read: none new or changed_"
        ),
    }
