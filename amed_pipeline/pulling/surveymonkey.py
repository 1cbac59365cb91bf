"""SurveyMonkey (API v3): one survey's question texts and its responses.

Pull: `GET /surveys/{id}/details` once per pull (the headings and choice ids the answers refer
to; SurveyMonkey recommends joining to a cached copy rather than `simple=true`), then
`GET /surveys/{id}/responses/bulk?per_page=100&start_modified_at=…&sort_by=date_modified&sort_order=ASC`,
following `links.next` until it is missing. `start_modified_at` takes no UTC offset (UTC assumed).
Private apps get 500 requests a day and 120 a minute; the quota headers are read after every call.

Read: each response becomes the row a "all responses" export would hold: `Respondent ID`,
`Collector ID`, `Start Date`, `End Date` (= `date_modified`), `Email Address`, `First Name`,
`Last Name` (what an email-invitation collector knows of the respondent: the response's
`email_address`/`first_name`/`last_name`, else its `metadata.contact.{email,first_name,last_name}.value`;
blank for a web link, as in the export), then one column per question headed
by its heading (a matrix row: `heading [row text]`), with choice ids resolved to the choice texts
from the details page of the same pull. The `surveymonkey` adapter's question matching
(`options.questions`) then works unchanged.
"""

from __future__ import annotations

from pathlib import Path

from amed_pipeline.pulling.base import Listing, PullContext, Request, follow_listing
from amed_pipeline.pulling.snapshots import sibling_bodies

SERVICE = "SurveyMonkey"
META = ("Respondent ID", "Collector ID", "Start Date", "End Date", "Email Address", "First Name", "Last Name")
CONTACT = (("email_address", "email"), ("first_name", "first_name"), ("last_name", "last_name"))
RECORD_KIND = "responses"
MAX_PER_PAGE = 100


def pull(ctx: PullContext) -> None:
    survey = str(ctx.options["survey_id"])
    details = Listing(
        kind="details", first=Request(f"surveys/{survey}/details"), next_request=lambda b, r: None, items=lambda b: []
    )
    follow_listing(ctx, details, incremental=False)
    per_page = min(int(ctx.options.get("page_size", MAX_PER_PAGE)), MAX_PER_PAGE)
    responses = Listing(
        kind=RECORD_KIND,
        first=Request(
            f"surveys/{survey}/responses/bulk",
            {
                "per_page": per_page,
                "start_modified_at": ctx.since().strftime("%Y-%m-%dT%H:%M:%S"),
                "sort_by": "date_modified",
                "sort_order": "ASC",
            },
        ),
        next_request=lambda body, request: (
            Request(body["links"]["next"]) if (body.get("links") or {}).get("next") else None
        ),
        items=lambda body: body.get("data") or [],
        changed_field="date_modified",
        created_field="date_created",
    )
    follow_listing(ctx, responses)


def question_columns(details: dict) -> tuple[list[tuple[str, str, str]], dict[str, str]]:
    """[(question id, row id or '', header)] in survey order, and {choice/row id: text}."""
    columns, texts = [], {}
    for page in details.get("pages") or []:
        for question in page.get("questions") or []:
            qid = str(question.get("id"))
            heading = ((question.get("headings") or [{}])[0] or {}).get("heading") or ""
            answers = question.get("answers") or {}
            for choice in (
                (answers.get("choices") or [])
                + (answers.get("cols") or [])
                + ([answers["other"]] if isinstance(answers.get("other"), dict) else [])
            ):
                texts[str(choice.get("id"))] = str(choice.get("text") or "")
            rows = answers.get("rows") or []
            if rows:
                for row in rows:
                    texts[str(row.get("id"))] = str(row.get("text") or "")
                    columns.append((qid, str(row.get("id")), f"{heading} [{row.get('text') or ''}]"))
            else:
                columns.append((qid, "", heading))
    return columns, texts


def rows(path: Path, document: dict) -> tuple[list[str], list[list[str]]]:
    """A responses page as export rows; the details page itself has none."""
    details = next(iter(sibling_bodies(path, "details")), None)
    if details is None:
        raise ValueError("no survey details page in this pull or an earlier one: answers cannot be resolved")
    columns, texts = question_columns(details)
    headers = list(META) + [header for _, _, header in columns]
    if document["kind"] != RECORD_KIND:
        return headers, []
    body = document["body"]
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise ValueError("a responses page without a 'data' list")
    position = {(qid, row): i for i, (qid, row, _) in enumerate(columns)}
    out = []
    for response in body["data"]:
        cells = [""] * len(columns)
        for page in response.get("pages") or []:
            for question in page.get("questions") or []:
                qid = str(question.get("id"))
                for answer in question.get("answers") or []:
                    row = str(answer.get("row_id") or "")
                    where = position.get((qid, row), position.get((qid, "")))
                    if where is None:
                        continue
                    value = (
                        answer.get("text")
                        if answer.get("text") is not None
                        else texts.get(str(answer.get("choice_id") or answer.get("other_id") or ""), "")
                    )
                    cells[where] = (
                        f"{cells[where]}; {value}" if cells[where] and value else (cells[where] or str(value or ""))
                    )
        out.append(
            [
                str(response.get("id") or ""),
                str(response.get("collector_id") or ""),
                str(response.get("date_created") or ""),
                str(response.get("date_modified") or ""),
                *contact(response),
                *cells,
            ]
        )
    return headers, out


def contact(response: dict) -> list[str]:
    """The respondent's email, first and last name as an email collector records them ('' otherwise)."""
    known = (
        ((response.get("metadata") or {}).get("contact") or {}) if isinstance(response.get("metadata"), dict) else {}
    )
    out = []
    for field, in_metadata in CONTACT:
        value = response.get(field)
        if not value:
            entry = known.get(in_metadata) if isinstance(known, dict) else None
            value = entry.get("value") if isinstance(entry, dict) else entry
        out.append(str(value or "").strip())
    return out
