"""A partnership whose entry in partnerships.yaml is wrong: visible, failing, and nobody else's problem.

`load_programme_config` sets such a partnership aside (`ProgrammeConfig.disabled`) and the code
location loads the others. So that the mistake is not silent, each disabled partnership gets one
asset in its own group, `<partnership>/partnership_config`, whose description is the config
message and which fails with it whenever it runs. It is part of the nightly job, and the plan
(`operations.planning`) always includes it while the mistake is there: every scheduled or
command-line refresh then fails with the message (so the run-failure alert fires) after the other
partnerships have been refreshed. Its failure is never retried: only an edit can fix it.

The partnership's rows already in the warehouse stay as they were loaded (not refreshed) until its
entry is fixed; it keeps its row in `dim_partnership` so that they still add up.
"""

from __future__ import annotations

import dagster as dg

from amed_pipeline.config import DisabledPartnership, ProgrammeConfig

CONFIG_ASSET_NAME = "partnership_config"


def config_error_key(partnership_id: str) -> dg.AssetKey:
    return dg.AssetKey([partnership_id, CONFIG_ASSET_NAME])


def config_error_keys(config: ProgrammeConfig) -> list[dg.AssetKey]:
    return [config_error_key(d.id) for d in config.disabled]


def skipped_message(disabled: DisabledPartnership) -> str:
    return f"partnership {disabled.id} skipped: configuration error: {disabled.error}"


def _config_error_asset(disabled: DisabledPartnership) -> dg.AssetsDefinition:
    @dg.asset(
        key=config_error_key(disabled.id),
        group_name=disabled.id,
        owners=["team:data-engineering"],
        kinds={"yaml"},
        tags={"amed/config_error": "true"},
        description=f"**Partnership `{disabled.id}` is not refreshed: its entry in partnerships.yaml is wrong.**\n\n"
        f"{disabled.error}\n\nFix the entry; the next refresh loads the partnership again. Until then its rows "
        "already in the warehouse stay as last loaded, and every refresh fails on this asset (after the other "
        "partnerships are refreshed) so that the failure alert keeps reminding.",
    )
    def partnership_config() -> None:
        raise dg.Failure(
            description=skipped_message(disabled),
            metadata={"partnership": disabled.id, "fix": "edit partnerships.yaml as the message says"},
            allow_retries=False,  # only an edit can fix it
        )

    return partnership_config


def build_config_error_assets(config: ProgrammeConfig) -> list[dg.AssetsDefinition]:
    return [_config_error_asset(d) for d in config.disabled]
