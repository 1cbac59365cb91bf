"""What every API pull shares: follow a listing page by page, snapshot each page, move the cursor.

An API module describes its listings (first request, how to find the next page, where the
records are, which fields say when a record was created and last changed) and calls
`follow_listing`; this module does the rest the same way for every service:

- each page is snapshotted before the next is requested;
- after each complete page the position is remembered (`resume`), so a pull stopped by the
  budget or a quota resumes next night from the next page, with the same filter: no gap, and
  the records read twice are the same records (the landing layer keeps their latest version);
- only when a listing is complete does the cursor move, to the latest change seen; the next pull
  asks for changes since the cursor minus an overlap window (services are eventually consistent);
- the first pull (no cursor) starts from the programme start: the backfill.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from amed_pipeline.config import Source
from amed_pipeline.config.api_sources import DEFAULT_BACKFILL_DAYS_BEFORE_START, DEFAULT_OVERLAP_MINUTES
from amed_pipeline.pulling.errors import PermanentApiError
from amed_pipeline.pulling.http import ApiClient
from amed_pipeline.pulling.snapshots import SnapshotWriter


@dataclass
class PullOutcome:
    """One pull's story, for the asset's metadata (no personal data, no token)."""

    records: int = 0
    new: int = 0
    changed: int = 0
    seen_before: int = 0
    pages: int = 0
    files_landed: int = 0
    requests: int = 0
    quota_left: Optional[int] = None
    budget_left: Optional[int] = None
    cursor_before: str = ""
    cursor_after: str = ""
    complete: bool = True
    stopped: str = ""  # why the pull stopped early (budget, quota), "" when complete
    snapshot_dir: str = ""


@dataclass
class PullContext:
    """Everything one source's pull needs; `state` is the cursor file's content, updated in place."""

    source: Source
    client: ApiClient
    writer: SnapshotWriter
    state: dict
    programme_start: dt.date
    data_dir: Path
    outcome: PullOutcome = field(default_factory=PullOutcome)

    @property
    def options(self) -> dict:
        return self.source.options

    def since(self) -> dt.datetime:
        """Changes since the cursor minus the overlap window; on the first pull, `backfill_from`
        (default a year before the programme start: its first bookings were made before it began)."""
        cursor = self.state.get("cursor")
        if not cursor:
            backfill = self.options.get("backfill_from")
            day = (
                dt.date.fromisoformat(str(backfill))
                if backfill
                else self.programme_start - dt.timedelta(days=DEFAULT_BACKFILL_DAYS_BEFORE_START)
            )
            return dt.datetime.combine(day, dt.time(0), tzinfo=dt.timezone.utc)
        overlap = dt.timedelta(minutes=int(self.options.get("overlap_minutes", DEFAULT_OVERLAP_MINUTES)))
        return parse_time(cursor) - overlap


@dataclass
class Request:
    path: str  # relative to the base URL, or an absolute next-page link on the same host
    params: dict = field(default_factory=dict)

    def as_state(self) -> dict:
        return {"path": self.path, "params": self.params}


@dataclass
class Listing:
    """How one listing endpoint pages and where its records are."""

    kind: str  # the snapshot pages' kind, e.g. "attendees"
    first: Request
    next_request: Callable[[dict, Request], Optional[Request]]
    items: Callable[[dict], list]
    changed_field: str = ""  # record field with its last-change time ("" = not incremental)
    created_field: str = ""
    on_page: Optional[Callable[[dict], None]] = None  # e.g. download the files a delta page lists
    page_body: Optional[Callable[[dict], dict]] = None  # what to snapshot (e.g. without download links)
    final_cursor: Optional[Callable[[dict], str]] = None  # a cursor the service hands out (Graph's deltaLink)


def parse_time(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def iso_z(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def follow_listing(ctx: PullContext, listing: Listing, incremental: bool = True) -> list[dict]:
    """Fetch every page of a listing (resuming an interrupted one), snapshotting each; returns the records.

    Raises QuotaExhausted / ApiError with the resume position saved in `ctx.state`.
    """
    resume = ctx.state.get("resume", {}).get(listing.kind) if incremental else None
    request = Request(**resume["request"]) if resume else listing.first
    latest = resume.get("latest", "") if resume else ""
    before = ctx.state.get("cursor", "")
    records: list[dict] = []
    while request is not None:
        response = ctx.client.get(request.path, request.params)
        try:
            body = json.loads(response.text)
            if not isinstance(body, dict):
                raise ValueError("not a JSON object")
        except ValueError:
            ctx.writer.write(listing.kind, response, body_is_json=False)
            ctx.outcome.pages += 1
            raise PermanentApiError(
                f"{ctx.client.who}: the {listing.kind} page at {response.url} is not valid JSON; "
                "it is kept as a snapshot and quarantined, and the next pull starts again from the last complete page"
            ) from None
        ctx.writer.write(listing.kind, response, listing.page_body(body) if listing.page_body else body)
        ctx.outcome.pages += 1
        items = [i for i in listing.items(body) if isinstance(i, dict)]
        if listing.on_page:
            listing.on_page(body)
        for item in items:
            changed = str(item.get(listing.changed_field) or "") if listing.changed_field else ""
            if changed and (not latest or parse_time(changed) > parse_time(latest)):
                latest = iso_z(parse_time(changed))
            _count(ctx.outcome, item, listing, before)
        records += items
        following = listing.next_request(body, request)
        if following is not None and following.as_state() == request.as_state():
            raise PermanentApiError(
                f"{ctx.client.who}: the {listing.kind} listing links to the same page again; stopped"
            )
        request = following
        if incremental:
            if request is not None:  # the next page is where a stopped pull resumes
                ctx.state.setdefault("resume", {})[listing.kind] = {"request": request.as_state(), "latest": latest}
            else:
                ctx.state.get("resume", {}).pop(listing.kind, None)
                if listing.final_cursor:
                    ctx.state["cursor"] = listing.final_cursor(body)
                elif latest and (not before or parse_time(latest) > parse_time(before)):
                    ctx.state["cursor"] = latest
    if not ctx.state.get("resume"):
        ctx.state.pop("resume", None)
    return records


def _count(outcome: PullOutcome, item: dict, listing: Listing, before: str) -> None:
    if not listing.changed_field:
        return  # reference pages (events, survey details, the form): not records
    outcome.records += 1
    if not before or _graph_like(before):
        outcome.new += 1
        return
    cutoff = parse_time(before)
    created = item.get(listing.created_field) if listing.created_field else None
    changed = item.get(listing.changed_field)
    if created and parse_time(created) > cutoff:
        outcome.new += 1
    elif changed and parse_time(changed) > cutoff:
        outcome.changed += 1
    else:
        outcome.seen_before += 1  # read again inside the overlap window


def _graph_like(cursor: str) -> bool:
    return cursor.startswith("http")
