"""One asset per partnership and configured source: its export files, read and pseudonymised.

This is the factory that makes `partnerships.yaml` the only place to add a partnership or an
export: each source becomes an asset `<partnership>/<source name>` in the partnership's group.
The asset hashes every file its glob matches and reads only the new or changed ones (the
landing layer, `warehouse.landing`, remembers what each file was read as): it quarantines rows
it cannot parse, leaves out people on the erasure list (`privacy.erasure`), replaces names and
emails with pseudonyms, drops the fields nothing needs (`privacy.minimisation`) and lands the
rows in the warehouse, replacing exactly that file's rows. No name or email leaves it: not in
the warehouse, its metadata or its log lines.
"""

import hashlib
import json
from pathlib import Path

import dagster as dg
import pandas as pd

from amed_pipeline.config import ProgrammeConfig, Source
from amed_pipeline.defs.resources import PseudonymKeyResource
from amed_pipeline.privacy.erasure import ERASED_RULE, ErasureListResource, drop_erased
from amed_pipeline.privacy.minimisation import mask_emails, minimise
from amed_pipeline.reading.parse import read_source
from amed_pipeline.staging.datasets import RawExport, empty_quarantine
from amed_pipeline.staging.classification import load_reference_tables
from amed_pipeline.staging.people import attach_person_keys, hmac_hex, key_version
from amed_pipeline.warehouse.landing import known_files, landed_files, replace_files, split_free_text
from amed_pipeline.warehouse.resource import WarehouseResource

FILE_KINDS = {"eventbrite": "csv", "surveymonkey": "csv", "msforms": "excel", "google_forms": "csv", "jisc": "csv", "mapped_csv": "csv"}


def raw_export_key(source: Source) -> dg.AssetKey:
    return dg.AssetKey([source.partnership_id, source.name])


def build_raw_export_assets(config: ProgrammeConfig) -> list[dg.AssetsDefinition]:
    return [_raw_export_asset(source, config.data_dir, config.max_file_bytes) for source in config.sources()]


# Bump when parsing or landing changes meaning: every file is then read again on the next run.
PARSER_VERSION = "1"


def reference_digest(reference_dir: Path) -> str:
    """The reference tables' bytes: job titles are classified as they land, so new rules re-land files."""
    digest = hashlib.sha256()
    for path in sorted(Path(reference_dir).glob("*.csv")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def source_fingerprint(
    source: Source, max_file_bytes: int, key_version: str, erasure_tokens: frozenset[str], reference: str = ""
) -> str:
    """How a source's files are read: a file landed under another fingerprint is read again."""
    text = json.dumps(
        {
            "format": source.format,
            "dataset": source.dataset,
            "options": source.options,
            "max_file_bytes": max_file_bytes,
            "key_version": key_version,
            "erasure": hashlib.sha256("\n".join(sorted(erasure_tokens)).encode()).hexdigest(),
            "parser": PARSER_VERSION,
            "reference": reference,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _raw_export_asset(source: Source, data_dir: Path, max_file_bytes: int) -> dg.AssetsDefinition:
    @dg.asset(
        key=raw_export_key(source),
        group_name=source.partnership_id,
        kinds={"pandas", FILE_KINDS[source.format]},
        owners=["team:data-engineering"],
        tags={"dataset": source.dataset, "format": source.format},
        description=(
            f"{source.dataset.capitalize()} from {source.format} exports matching `{source.path}` "
            f"(partnership `{source.partnership_id}`), landed in the warehouse (`landing_{source.dataset}`). "
            "Only new or changed files are read; each replaces exactly its own rows. Unreadable rows are "
            "quarantined with file, row and column, and people are replaced by pseudonyms."
        ),
    )
    def raw_export(
        context: dg.AssetExecutionContext,
        pseudonym_key: PseudonymKeyResource,
        erasure_list: ErasureListResource,
        warehouse: WarehouseResource,
    ) -> dg.MaterializeResult:
        key = pseudonym_key.key_bytes()
        tokens, erasure_key = erasure_list.load()
        reference_dir = data_dir / "reference"
        fingerprint = source_fingerprint(source, max_file_bytes, key_version(key), tokens, reference_digest(reference_dir))
        with warehouse.connect() as conn:
            known = known_files(conn, source.partnership_id, source.name, fingerprint)
            landed = landed_files(conn, source.partnership_id, source.name)
        read = read_source(source, data_dir, max_file_bytes, known=known)
        removed = landed - set(read.current)
        kept, erased = drop_erased(read.rows, tokens, erasure_key, source.partnership_id, source.dataset)
        rows = minimise(attach_person_keys(kept, key, source.partnership_id))
        classify = load_reference_tables(reference_dir).classify_professions if "job_title" in rows else None
        rows, job_titles, comments = split_free_text(rows, source.dataset, classify, lambda text: hmac_hex(key, text))
        quarantine = pd.concat(
            [pd.DataFrame(read.quarantine) if read.quarantine else empty_quarantine(), erased], ignore_index=True
        )
        quarantine["value"] = mask_emails(quarantine["value"])
        for ledger in read.files:
            if ledger.error:
                context.log.warning(f"{ledger.source_file}: whole file quarantined: {ledger.error}")
        if read.files or removed:
            with warehouse.begin() as conn:
                replace_files(conn, source.dataset, read.files, rows, quarantine, fingerprint, removed, job_titles, comments)
        export = RawExport(source.partnership_id, source.name, source.dataset, rows, quarantine, read.files)
        return dg.MaterializeResult(metadata=raw_export_metadata(export, read.unchanged, removed))

    return raw_export


def raw_export_metadata(export: RawExport, unchanged: list[str] = (), removed: set[str] = frozenset()) -> dict:
    files = pd.DataFrame(
        [
            {
                "file": f.source_file,
                "rows read": f.rows_read,
                "unparseable rows": f.rows_quarantined,
                "duplicate of": f.duplicate_of or "",
                "error": f.error or "",
            }
            for f in export.files
        ]
    )
    return {
        "dagster/row_count": dg.MetadataValue.int(len(export.rows)),
        "files read": dg.MetadataValue.int(len(export.files)),
        "files unchanged (not read again)": dg.MetadataValue.int(len(unchanged)),
        "files removed": dg.MetadataValue.int(len(removed)),
        "rows quarantined": dg.MetadataValue.int(len(export.quarantine.drop_duplicates(["source_file", "source_row"]))),
        "rows left out (erasure list)": dg.MetadataValue.int(int((export.quarantine["rule"] == ERASED_RULE).sum())),
        "files unreadable": dg.MetadataValue.int(sum(1 for f in export.files if f.error)),
        "file summary": dg.MetadataValue.md(files.to_markdown(index=False) if len(files) else "_no file read: none new or changed_"),
    }
