"""One asset per partnership and configured source: its export files, read and pseudonymised.

This is the factory that makes `partnerships.yaml` the only place to add a partnership or an
export: each source becomes an asset `<partnership>/<source name>` in the partnership's group.
The asset reads every file its glob matches, quarantines rows it cannot parse, leaves out
people on the erasure list (`privacy.erasure`), replaces names and emails with pseudonyms, drops
the fields nothing needs (`privacy.minimisation`) and hands the rows to staging. No name or
email leaves it: not in its output, its metadata or its log lines.
"""


from pathlib import Path

import dagster as dg
import pandas as pd

from amed_pipeline.config import ProgrammeConfig, Source
from amed_pipeline.defs.resources import PseudonymKeyResource
from amed_pipeline.privacy.erasure import ERASED_RULE, ErasureListResource, drop_erased
from amed_pipeline.privacy.minimisation import mask_emails, minimise
from amed_pipeline.reading.parse import read_source
from amed_pipeline.staging.datasets import RawExport, empty_quarantine
from amed_pipeline.staging.people import attach_person_keys

FILE_KINDS = {"eventbrite": "csv", "surveymonkey": "csv", "msforms": "excel", "google_forms": "csv", "jisc": "csv", "mapped_csv": "csv"}


def raw_export_key(source: Source) -> dg.AssetKey:
    return dg.AssetKey([source.partnership_id, source.name])


def build_raw_export_assets(config: ProgrammeConfig) -> list[dg.AssetsDefinition]:
    return [_raw_export_asset(source, config.data_dir, config.max_file_bytes) for source in config.sources()]


def _raw_export_asset(source: Source, data_dir: Path, max_file_bytes: int) -> dg.AssetsDefinition:
    @dg.asset(
        key=raw_export_key(source),
        group_name=source.partnership_id,
        kinds={"pandas", FILE_KINDS[source.format]},
        owners=["team:data-engineering"],
        tags={"dataset": source.dataset, "format": source.format},
        description=(
            f"{source.dataset.capitalize()} from {source.format} exports matching `{source.path}` "
            f"(partnership `{source.partnership_id}`). Every file is read, unreadable rows are "
            "quarantined with file, row and column, and people are replaced by pseudonyms."
        ),
    )
    def raw_export(
        context: dg.AssetExecutionContext, pseudonym_key: PseudonymKeyResource, erasure_list: ErasureListResource
    ) -> dg.Output[RawExport]:
        read = read_source(source, data_dir, max_file_bytes)
        kept, erased = drop_erased(read.rows, *erasure_list.load(), source.partnership_id, source.dataset)
        rows = minimise(attach_person_keys(kept, pseudonym_key.key_bytes(), source.partnership_id))
        quarantine = pd.concat(
            [pd.DataFrame(read.quarantine) if read.quarantine else empty_quarantine(), erased], ignore_index=True
        )
        quarantine["value"] = mask_emails(quarantine["value"])
        for ledger in read.files:
            if ledger.error:
                context.log.warning(f"{ledger.source_file}: whole file quarantined: {ledger.error}")
        export = RawExport(source.partnership_id, source.name, source.dataset, rows, quarantine, read.files)
        return dg.Output(export, metadata=raw_export_metadata(export))

    return raw_export


def raw_export_metadata(export: RawExport) -> dict:
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
        "files": dg.MetadataValue.int(len(export.files)),
        "rows quarantined": dg.MetadataValue.int(len(export.quarantine.drop_duplicates(["source_file", "source_row"]))),
        "rows left out (erasure list)": dg.MetadataValue.int(int((export.quarantine["rule"] == ERASED_RULE).sum())),
        "files unreadable": dg.MetadataValue.int(sum(1 for f in export.files if f.error)),
        "file summary": dg.MetadataValue.md(files.to_markdown(index=False) if len(files) else "_no files matched_"),
    }
