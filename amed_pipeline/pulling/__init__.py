"""Nightly pulls from the partnerships' systems: one small module per API over one shared layer.

Shared layer: `http` (auth header, retries with backoff and jitter, 429 + Retry-After, quota
headers, the daily request budget), `snapshots` (immutable raw pages, published atomically),
`state` (one cursor per source, request counts per token), `base` (paging, resume and cursor
rules). Per API: `eventbrite`, `surveymonkey`, `google_forms`, `graph_drive`, each with `pull`
(what to request) and, except graph_drive, `rows` (a snapshot page as the rows the matching
export would hold, read by `reading.formats.api`).

What this package must not do: parse into the warehouse (the landing layer reads the snapshots
like any raw file), or hold a token anywhere but the client's Authorization header.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Callable

from amed_pipeline.config import Source
from amed_pipeline.config.api_sources import DEFAULT_BASE_URLS, DEFAULT_DAILY_REQUEST_BUDGET
from amed_pipeline.pulling import eventbrite, google_forms, graph_drive, surveymonkey
from amed_pipeline.pulling.base import PullContext, PullOutcome
from amed_pipeline.pulling.errors import ApiAuthError, ApiError, PermanentApiError, QuotaExhausted, TransientApiError
from amed_pipeline.pulling.http import ApiClient, Who
from amed_pipeline.pulling.snapshots import SnapshotWriter
from amed_pipeline.pulling.state import RequestBudget, load_cursor, save_cursor

API_MODULES = {
    "eventbrite_api": eventbrite,
    "surveymonkey_api": surveymonkey,
    "google_forms_api": google_forms,
    "graph_drive": graph_drive,
}
# SurveyMonkey documents `bearer` in lower case; HTTP auth schemes are case-insensitive anyway.
AUTH_SCHEMES = {"surveymonkey_api": "bearer"}

__all__ = [
    "API_MODULES",
    "ApiAuthError",
    "ApiError",
    "PermanentApiError",
    "PullOutcome",
    "QuotaExhausted",
    "TransientApiError",
    "pull_source",
]


def pull_source(
    source: Source,
    data_dir: Path,
    token: str | None,
    programme_start: dt.date,
    *,
    now: dt.datetime | None = None,
    sleep: Callable[[float], None] | None = None,
    client_options: dict | None = None,
) -> PullOutcome:
    """Pull one API source into snapshots and move its cursor; returns what happened.

    A pull stopped by the budget or a quota returns normally with `complete=False`: its pages are
    published and the cursor file holds where the next night resumes. Any other failure raises
    an ApiError after publishing the complete pages and saving the resume position.
    """
    module = API_MODULES[source.format]
    token_env = str(source.options["token_env"])
    who = Who(source.partnership_id, source.name, module.SERVICE, token_env)
    if not token:
        raise ApiAuthError(f"{source.partnership_id}/{source.name}: {module.SERVICE} token missing: set ${token_env}")
    data_dir = Path(data_dir)
    budget = RequestBudget(
        data_dir, token_env, int(source.options.get("daily_request_budget", DEFAULT_DAILY_REQUEST_BUDGET))
    )
    options = dict(client_options or {})
    if sleep is not None:
        options["sleep"] = sleep
    client = ApiClient(
        str(source.options.get("base_url") or DEFAULT_BASE_URLS[source.format]),
        token,
        who,
        budget,
        auth_scheme=AUTH_SCHEMES.get(source.format, "Bearer"),
        **options,
    )
    state = load_cursor(data_dir, source.partnership_id, source.name)
    writer = SnapshotWriter(data_dir, source.partnership_id, source.name, source.format, now)
    ctx = PullContext(source, client, writer, state, programme_start, data_dir)
    ctx.outcome.cursor_before = str(state.get("cursor", ""))
    failure: BaseException | None = None
    import httpx  # imported on a pull only (`pulling.http`)

    try:
        module.pull(ctx)
    except QuotaExhausted as exc:
        ctx.outcome.complete, ctx.outcome.stopped = False, str(exc)
    except ApiError as exc:
        ctx.outcome.complete, failure = False, exc
    except httpx.HTTPError as exc:  # should not happen (the client converts them); never echo a request
        ctx.outcome.complete = False
        failure = TransientApiError(f"{who}: {type(exc).__name__}")
    finally:
        client.close()
        published = writer.finish()
        # Only now, with the pages published, does the cursor (or the resume position) move.
        save_cursor(data_dir, source.partnership_id, source.name, ctx.state)
    outcome = ctx.outcome
    outcome.snapshot_dir = published.relative_to(data_dir).as_posix() if published else ""
    outcome.requests = client.requests_used
    outcome.quota_left = client.quota_remaining
    outcome.budget_left = budget.remaining()
    outcome.cursor_after = str(ctx.state.get("cursor", ""))
    if failure is not None:
        raise failure
    return outcome
