"""Eventbrite (API v3): one organisation's events and its attendees across all events.

Pull: `GET /organizations/{id}/events/?status=all&time_filter=all&order_by=start_asc` every night
(the events list has no change filter, and it is small), then
`GET /organizations/{id}/attendees/?changed_since=<cursor - overlap>`, both paged by
`pagination.continuation` until `has_more_items` is false. No `status` filter: `attending` alone
would never deliver cancellations and refunds. Paths end in a slash (a live probe found they must).

Read: each attendee becomes the row an organiser-level attendee report would hold (`Event Name`,
`Event ID`, `Order #`, `Attendee #`, `Attendee Status`, …), so the `eventbrite` adapter's status
map and `attended_statuses` apply unchanged: `Checked In` → attended, `Attending` → booked,
`Not Attending`/`Deleted` (and `cancelled`/`refunded` set) → cancelled. Times are UTC (`Z`) and
the reading layer turns them into London time, as it does the exports' offsets. An attendee read
again in a later pull replaces its earlier version (later snapshot files win; no status ranking),
so Attending → Checked In → Not Attending is one booking, Not Attending.
"""

from __future__ import annotations

from pathlib import Path

from amed_pipeline.pulling.base import Listing, PullContext, Request, follow_listing, iso_z
from amed_pipeline.pulling.snapshots import sibling_bodies

SERVICE = "Eventbrite"
HEADERS = (
    "Event Name",
    "Event ID",
    "Order #",
    "Order Date",
    "Attendee #",
    "First Name",
    "Last Name",
    "Email",
    "Ticket Type",
    "Attendee Status",
    "Job Title",
    "Company",
)
# Record kinds a snapshot can hold (reference pages carry no bookings).
RECORD_KIND = "attendees"


def _next(body: dict, request: Request) -> Request | None:
    pagination = body.get("pagination") or {}
    if not pagination.get("has_more_items") or not pagination.get("continuation"):
        return None
    return Request(
        request.path,
        {
            **{k: v for k, v in request.params.items() if k != "continuation"},
            "continuation": pagination["continuation"],
        },
    )


def pull(ctx: PullContext) -> None:
    org = str(ctx.options["organization_id"])
    events = Listing(
        kind="events",
        first=Request(f"organizations/{org}/events/", {"status": "all", "time_filter": "all", "order_by": "start_asc"}),
        next_request=_next,
        items=lambda body: body.get("events") or [],
    )
    follow_listing(ctx, events, incremental=False)
    attendees = Listing(
        kind=RECORD_KIND,
        first=Request(f"organizations/{org}/attendees/", {"changed_since": iso_z(ctx.since())}),
        next_request=_next,
        items=lambda body: body.get("attendees") or [],
        changed_field="changed",
        created_field="created",
    )
    follow_listing(ctx, attendees)


def attendee_status(attendee: dict) -> str:
    """The attendee's status as the export shows it; a cancelled or refunded ticket is never 'Attending'."""
    status = str(attendee.get("status") or "").strip()
    if (attendee.get("cancelled") or attendee.get("refunded")) and status.casefold() in ("attending", ""):
        return "Not Attending"
    if not status and attendee.get("checked_in"):
        return "Checked In"
    return status


def rows(path: Path, document: dict) -> tuple[list[str], list[list[str]]]:
    """An attendee page as attendee-report rows (an events page has none)."""
    if document["kind"] != RECORD_KIND:
        return list(HEADERS), []
    body = document["body"]
    if not isinstance(body, dict) or not isinstance(body.get("attendees"), list):
        raise ValueError("an attendees page without an 'attendees' list")
    names = {
        str(e.get("id")): ((e.get("name") or {}).get("text") or "")
        for b in sibling_bodies(path, "events")
        for e in b.get("events") or []
    }
    out = []
    for attendee in body["attendees"]:
        if not isinstance(attendee, dict):
            raise ValueError("an attendee that is not a JSON object")
        profile = attendee.get("profile") or {}
        event_id = str(attendee.get("event_id") or "")
        out.append(
            [
                names.get(event_id, ""),
                event_id,
                str(attendee.get("order_id") or ""),
                str(attendee.get("created") or ""),
                str(attendee.get("id") or ""),
                profile.get("first_name") or "",
                profile.get("last_name") or "",
                profile.get("email") or "",
                attendee.get("ticket_class_name") or "",
                attendee_status(attendee),
                profile.get("job_title") or "",
                profile.get("company") or "",
            ]
        )
    return list(HEADERS), out
