"""Google Forms (API v1): one form's questions and its responses.

Pull: `GET /forms/{id}` (question titles and ids), then
`GET /forms/{id}/responses?filter=timestamp >= <cursor - overlap>&pageToken=…` until there is no
`nextPageToken`; every follow-up page repeats the filter exactly, as the API requires. The
cursor is the latest `lastSubmittedTime` seen (an edited response is submitted again). Only
per-minute quotas apply (no daily cap); 429 → backoff.

Read: each response becomes the row of the form's CSV download: `Timestamp` (=
`lastSubmittedTime`, in UTC, which the reading layer turns into London time), `Email address`
(`respondentEmail`, when the form collects it), the `Response ID` the download lacks (so
overlapping pulls de-duplicate by id, not by the whole row), then one column per question titled
as on the form (a grid row: `title [row]`), choice answers as their text, several joined by ", "
as in the download.
"""

from __future__ import annotations

from pathlib import Path

from amed_pipeline.pulling.base import Listing, PullContext, Request, follow_listing, iso_z, parse_time
from amed_pipeline.pulling.snapshots import sibling_bodies

SERVICE = "Google Forms"
META = ("Timestamp", "Email address", "Response ID")
RECORD_KIND = "responses"


def pull(ctx: PullContext) -> None:
    form = str(ctx.options["form_id"])
    follow_listing(
        ctx,
        Listing(kind="form", first=Request(f"forms/{form}"), next_request=lambda b, r: None, items=lambda b: []),
        incremental=False,
    )
    params = {"filter": f"timestamp >= {iso_z(ctx.since())}"}
    if ctx.options.get("page_size"):
        params["pageSize"] = int(ctx.options["page_size"])

    def _next(body: dict, request: Request) -> Request | None:
        token = body.get("nextPageToken")
        return (
            Request(request.path, {**{k: v for k, v in request.params.items() if k != "pageToken"}, "pageToken": token})
            if token
            else None
        )

    follow_listing(
        ctx,
        Listing(
            kind=RECORD_KIND,
            first=Request(f"forms/{form}/responses", params),
            next_request=_next,
            items=lambda body: body.get("responses") or [],
            changed_field="lastSubmittedTime",
            created_field="createTime",
        ),
    )


def question_columns(form: dict) -> list[tuple[str, str]]:
    """[(question id, header)] in form order."""
    columns = []
    for item in form.get("items") or []:
        title = str(item.get("title") or "")
        question = (item.get("questionItem") or {}).get("question")
        if question:
            columns.append((str(question.get("questionId")), title))
        for row in (item.get("questionGroupItem") or {}).get("questions") or []:
            columns.append(
                (str(row.get("questionId")), f"{title} [{(row.get('rowQuestion') or {}).get('title') or ''}]")
            )
    return columns


def rows(path: Path, document: dict) -> tuple[list[str], list[list[str]]]:
    form = next(iter(sibling_bodies(path, "form")), None)
    if form is None:
        raise ValueError("no form page in this pull or an earlier one: questions cannot be named")
    columns = question_columns(form)
    headers = list(META) + [header for _, header in columns]
    if document["kind"] != RECORD_KIND:
        return headers, []
    body = document["body"]
    if not isinstance(body, dict) or not isinstance(body.get("responses", []), list):
        raise ValueError("a responses page whose 'responses' is not a list")
    out = []
    for response in body.get("responses") or []:
        answers = response.get("answers") or {}
        cells = []
        for qid, _ in columns:
            answer = answers.get(qid) or {}
            values = [str(a.get("value", "")) for a in (answer.get("textAnswers") or {}).get("answers") or []]
            values += [str(f.get("fileName", "")) for f in (answer.get("fileUploadAnswers") or {}).get("answers") or []]
            cells.append(", ".join(values))
        submitted = response.get("lastSubmittedTime") or response.get("createTime") or ""
        out.append(
            [
                iso_z(parse_time(submitted)) if submitted else "",
                str(response.get("respondentEmail") or ""),
                str(response.get("responseId") or ""),
                *cells,
            ]
        )
    return headers, out
