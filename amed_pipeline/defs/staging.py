"""Staged datasets: every partnership's sources merged into one canonical dataset each.

`staged/sessions`, `staged/bookings`, `staged/feedback` and `staged/followup` apply the
evaluation's semantics (`amed_pipeline.staging.datasets`) and classification from the data dir's
reference tables. Their inputs are whatever raw-export assets the config declares for that
dataset, so a new export joins in without a code change.
"""


import dagster as dg
import pandas as pd

from amed_pipeline.config import ProgrammeConfig
from amed_pipeline.defs.raw_exports import raw_export_key
from amed_pipeline.staging.classification import load_reference_tables
from amed_pipeline.staging.datasets import Staged, file_accounting, stage_bookings, stage_sessions, stage_survey

STAGING_GROUP = "staging"


def staged_key(dataset: str) -> dg.AssetKey:
    return dg.AssetKey(["staged", dataset])


def _raw_inputs(config: ProgrammeConfig, dataset: str) -> dict[str, dg.AssetIn]:
    return {
        f"{s.partnership_id}__{s.name}": dg.AssetIn(key=raw_export_key(s))
        for s in config.sources(dataset)
    }


def staged_metadata(staged: Staged) -> dict:
    ledger = file_accounting(staged)
    summary = pd.DataFrame(
        {
            "rows": [len(staged.rows)],
            "quarantined rows": [len(staged.quarantine.drop_duplicates(["source_file", "source_row"]))],
            "duplicate rows": [int(ledger["rows_duplicate"].sum()) if len(ledger) else 0],
            "files": [len(staged.files)],
        }
    )
    metadata = {
        "dagster/row_count": dg.MetadataValue.int(len(staged.rows)),
        "summary": dg.MetadataValue.md(summary.to_markdown(index=False)),
    }
    if len(staged.rows) and "partnership_id" in staged.rows:
        per_partnership = staged.rows.groupby("partnership_id").size().rename("rows").reset_index()
        metadata["rows by partnership"] = dg.MetadataValue.md(per_partnership.to_markdown(index=False))
    return metadata


def build_staging_assets(config: ProgrammeConfig) -> list[dg.AssetsDefinition]:
    reference_dir = config.reference_dir

    @dg.asset(
        key=staged_key("sessions"),
        ins=_raw_inputs(config, "sessions"),
        group_name=STAGING_GROUP,
        kinds={"pandas"},
        owners=["team:data-engineering"],
        description="Delivered and planned sessions of every partnership, one row per session, "
        "with training type classified from the title by `reference/training_type_rules.csv`.",
    )
    def staged_sessions(**raw_exports) -> dg.Output[Staged]:
        staged = stage_sessions(list(raw_exports.values()), load_reference_tables(reference_dir))
        return dg.Output(staged, metadata=staged_metadata(staged))

    @dg.asset(
        key=staged_key("bookings"),
        ins={**_raw_inputs(config, "bookings"), "staged_sessions": dg.AssetIn(key=staged_key("sessions"))},
        group_name=STAGING_GROUP,
        kinds={"pandas"},
        owners=["team:data-engineering"],
        description="One booking per person per session (attended, booked or cancelled): overlapping "
        "exports and cross-system duplicates merged, linked to sessions, job titles classified.",
    )
    def staged_bookings(staged_sessions: Staged, **raw_exports) -> dg.Output[Staged]:
        staged = stage_bookings(list(raw_exports.values()), staged_sessions, load_reference_tables(reference_dir))
        return dg.Output(staged, metadata=staged_metadata(staged))

    def survey_asset(dataset: str, description: str) -> dg.AssetsDefinition:
        @dg.asset(
            key=staged_key(dataset),
            ins=_raw_inputs(config, dataset),
            group_name=STAGING_GROUP,
            kinds={"pandas"},
            owners=["team:data-engineering"],
            description=description,
        )
        def staged_survey(**raw_exports) -> dg.Output[Staged]:
            staged = stage_survey(dataset, list(raw_exports.values()), load_reference_tables(reference_dir))
            return dg.Output(staged, metadata=staged_metadata(staged))

        return staged_survey

    return [
        staged_sessions,
        staged_bookings,
        survey_asset("feedback", "End-of-session feedback, one row per response (duplicates in overlapping "
                     "downloads removed), ratings 0–10, setting classified."),
        survey_asset("followup", "Follow-up survey (one to four months later), one row per response: "
                     "usefulness, change in conversations, setting."),
    ]
