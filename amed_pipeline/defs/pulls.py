"""The nightly API pulls: one asset per API source, in its partnership's group, upstream of its raw export.

Each configured API source (`eventbrite_api`, `surveymonkey_api`, `google_forms_api`,
`graph_drive`) gets an asset `<partnership>/<source name>_pull`. Materialising it calls the API
(`amed_pipeline.pulling`) and writes raw page snapshots (or, for graph_drive, landed files) under
the data dir; the source's raw-export asset then reads them like any export. The pulls share one
step so that one source failing cannot stop the rest: in Dagster a failed step skips every step
after it, which would leave every other partnership un-refreshed. So a pull that fails (401/403,
5xx after retries, a malformed page) yields its asset's materialisation with `status: failed`
and fails its `pull_ok` check (ERROR) with one line naming partnership, source and the token's
variable; a pull stopped by the request budget or a quota passes with a WARN, and resumes next
night. The raw exports then land whatever snapshots exist, so a failed or offline pull still
re-processes the snapshots it has.

Tokens come from `ApiTokenResource`s, one per `token_env` named in the config, each reading its
variable when the pull runs (never config, so never shown in the UI); nothing here logs, stores or
returns one.
"""

from typing import Optional

import dagster as dg

from amed_pipeline.config import ProgrammeConfig, Source
from amed_pipeline.config.api_sources import is_api_format
from amed_pipeline.pulling import ApiError, PullOutcome, pull_source
from amed_pipeline.pulling.http import redact_url
from amed_pipeline.settings import secret

PULLS_STEP = "api_pulls"
PULL_CHECK = "pull_ok"
PULL_SUFFIX = "_pull"


class ApiTokenResource(dg.ConfigurableResource):
    """One API token: `token` when given (an override, e.g. an `EnvVar`), else the environment
    variable the config names (`token_env`), read when the pull runs; None when neither is set."""

    env_var: str
    token: Optional[str] = None

    def value(self) -> Optional[str]:
        return self.token or secret(self.env_var)


class ApiPullSettings(dg.ConfigurableResource):
    """How patient the HTTP client is (tests shorten the waits); `offline` skips every call."""

    backoff_base_seconds: float = 1.0
    max_wait_seconds: float = 120.0
    max_attempts: int = 5
    offline: bool = False


def pull_asset_key(source: Source) -> dg.AssetKey:
    return dg.AssetKey([source.partnership_id, source.name + PULL_SUFFIX])


def token_resource_key(token_env: str) -> str:
    return f"api_token_{token_env.lower()}"


def api_sources(config: ProgrammeConfig) -> list[Source]:
    return [s for s in config.sources() if is_api_format(s.format)]


def build_api_resources(config: "ProgrammeConfig") -> dict:
    """A token resource per distinct `token_env`, read at run time; a variable that is not set leaves
    that source's pull failing with one line saying which variable to set (the rest run)."""
    resources: dict = {"api_pull_settings": ApiPullSettings()}
    for env_var in sorted({str(s.options["token_env"]) for s in api_sources(config)}):
        resources[token_resource_key(env_var)] = ApiTokenResource(env_var=env_var)
    return resources


def _spec(source: Source) -> dg.AssetSpec:
    return dg.AssetSpec(
        pull_asset_key(source),
        group_name=source.partnership_id,
        kinds={"python"},
        owners=["team:data-engineering"],
        tags={"dataset": source.dataset, "format": source.format},
        description=(
            f"Pulls {source.dataset} from the {source.format} API (partnership `{source.partnership_id}`): pages since "
            f"the cursor, snapshotted under `raw/{source.partnership_id}/api/{source.name}/` before anything parses "
            f"them. Token from `${source.options['token_env']}`. A failed pull fails the `{PULL_CHECK}` check and "
            "leaves the snapshots already taken to be landed."
        ),
    )


def pull_metadata(outcome: PullOutcome, status: str) -> dict:
    cursor = lambda c: redact_url(c) if c.startswith("http") else (c or "(none: backfill from programme start)")  # noqa: E731
    return {
        "status": dg.MetadataValue.text(status),
        "records fetched": dg.MetadataValue.int(outcome.records),
        "new records": dg.MetadataValue.int(outcome.new),
        "changed records": dg.MetadataValue.int(outcome.changed),
        "records seen before (overlap)": dg.MetadataValue.int(outcome.seen_before),
        "pages": dg.MetadataValue.int(outcome.pages),
        "files landed": dg.MetadataValue.int(outcome.files_landed),
        "requests used": dg.MetadataValue.int(outcome.requests),
        "quota left (service)": dg.MetadataValue.text("" if outcome.quota_left is None else str(outcome.quota_left)),
        "budget left today": dg.MetadataValue.text("" if outcome.budget_left is None else str(outcome.budget_left)),
        "cursor before": dg.MetadataValue.text(cursor(outcome.cursor_before)),
        "cursor after": dg.MetadataValue.text(cursor(outcome.cursor_after)),
        "snapshot": dg.MetadataValue.text(outcome.snapshot_dir or "(no page)"),
    }


def build_pull_assets(config: ProgrammeConfig) -> list[dg.AssetsDefinition]:
    sources = api_sources(config)
    if not sources:
        return []
    by_key = {pull_asset_key(s): s for s in sources}
    data_dir, start = config.data_dir, config.start

    @dg.multi_asset(
        specs=[_spec(s) for s in sources],
        check_specs=[
            dg.AssetCheckSpec(PULL_CHECK, asset=pull_asset_key(s), description="the pull completed or stopped cleanly")
            for s in sources
        ],
        can_subset=True,
        name=PULLS_STEP,
        required_resource_keys={
            "api_pull_settings",
            *{token_resource_key(str(s.options["token_env"])) for s in sources},
        },
    )
    def api_pulls(context: dg.AssetExecutionContext):
        settings: ApiPullSettings = context.resources.api_pull_settings
        client_options = {
            "backoff_base": settings.backoff_base_seconds,
            "max_wait": settings.max_wait_seconds,
            "max_attempts": settings.max_attempts,
        }
        for key, source in by_key.items():
            if key not in context.selected_asset_keys:
                continue
            if settings.offline:
                yield dg.MaterializeResult(
                    asset_key=key, metadata={"status": dg.MetadataValue.text("offline: not pulled")}
                )
                yield dg.AssetCheckResult(
                    asset_key=key, check_name=PULL_CHECK, passed=True, description="offline: not pulled"
                )
                continue
            token = getattr(context.resources, token_resource_key(str(source.options["token_env"]))).value()
            try:
                outcome = pull_source(source, data_dir, token, start, client_options=client_options)
            except ApiError as exc:
                message = str(exc)
                context.log.error(message)
                yield dg.MaterializeResult(
                    asset_key=key,
                    metadata={"status": dg.MetadataValue.text("failed"), "error": dg.MetadataValue.text(message)},
                )
                yield dg.AssetCheckResult(
                    asset_key=key,
                    check_name=PULL_CHECK,
                    passed=False,
                    severity=dg.AssetCheckSeverity.ERROR,
                    description=message,
                )
                continue
            status = "complete" if outcome.complete else "stopped early; resumes next night"
            context.log.info(
                f"{source.partnership_id}/{source.name}: {outcome.records} records in {outcome.pages} pages, {outcome.requests} requests ({status})"
            )
            yield dg.MaterializeResult(asset_key=key, metadata=pull_metadata(outcome, status))
            if outcome.complete:
                yield dg.AssetCheckResult(asset_key=key, check_name=PULL_CHECK, passed=True)
            else:
                yield dg.AssetCheckResult(
                    asset_key=key,
                    check_name=PULL_CHECK,
                    passed=False,
                    severity=dg.AssetCheckSeverity.WARN,
                    description=outcome.stopped,
                )

    return [api_pulls]
