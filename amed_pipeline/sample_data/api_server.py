"""The sample programme served through the partnerships' APIs, on 127.0.0.1: a replay server.

`python -m amed_pipeline.sample_data serve-api [--port 8765] [--token sample-token]` builds the
same ground-truth model the sample exports are rendered from (same seed, same programme) and
answers the documented shapes of (source-apis.md):

- Eventbrite v3: `/eventbrite/v3/organizations/{org}/events/` and `…/attendees/?changed_since=`,
  paged by `continuation`;
- SurveyMonkey v3: `/surveymonkey/v3/surveys/{id}/details` and `…/responses/bulk` with
  `start_modified_at`, `page`/`per_page` and `links.next`, plus the `X-Ratelimit-*` headers;
- Google Forms v1: `/forms/v1/forms/{id}` and `…/responses?filter=timestamp >= …` with
  `nextPageToken`;
- Microsoft Graph v1.0: `/graph/v1.0/drives/{drive}/root/delta` with
  `@odata.nextLink`/`@odata.deltaLink`, and `/drives/{drive}/items/{id}/content`.

The server has a clock (`as_of`, default after the programme): it shows each record as the
system would have at that moment (not yet booked → absent; a cancellation or check-in only once
it happened), so tests can run "night one", move the clock and run "night two". Tests can also
inject faults (429 with Retry-After, 500, 401, a malformed page) and a daily quota, and read the
requests it served. It is a test and demo tool: it binds to 127.0.0.1 only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import tempfile
import threading
import zoneinfo
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from . import vocab
from .exports import eventbrite_status_at
from .model import Model, Record, Response
from .programme import Registry, build_model
from .render import PartnershipView, msforms_feedback, rating_label

LONDON = zoneinfo.ZoneInfo("Europe/London")
DEFAULT_AS_OF = dt.datetime(2022, 1, 1)  # London time, after the last follow-up download
ORGANIZATIONS = {"1001": "active_oxfordshire", "1002": "get_berkshire_active", "1003": "leap"}
SURVEYS = {"405001": ("active_oxfordshire", "feedback"), "405002": ("active_oxfordshire", "followup")}
FORMS = {"gba-followup-form": ("get_berkshire_active", "followup"), "leap-followup-form": ("leap", "followup")}
DRIVES = {("gba-drive", "Active Medicine/Feedback"): ("get_berkshire_active", "msforms_feedback")}
CANCELLED_EXPORT_STATUSES = ("Refunded", "Transferred", "Not Attending")


def utc(moment: dt.datetime) -> str:
    """A naive London time as the APIs write it: UTC with `Z`."""
    return moment.replace(tzinfo=LONDON).astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_utc(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return (value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)).astimezone(LONDON).replace(tzinfo=None)


@dataclass
class Fault:
    path_contains: str
    status: int
    body: str = ""
    headers: dict = field(default_factory=dict)
    times: int = 1


class SampleApis:
    """The programme's records as API objects, at the server's clock."""

    def __init__(self, seed: int = 2020, model: Model | None = None):
        self.model = model or build_model(seed, 1, 1.0, Registry())
        self.views = {pid: PartnershipView(self.model, pid) for pid, _, _ in self.model.partnerships}
        self._files: dict | None = None

    # --- Eventbrite
    def events(self, pid: str) -> list[dict]:
        sessions = [s for s in self.views[pid].sessions if "eventbrite" in s.systems and s.ref]
        return [
            {
                "id": str(s.ref),
                "name": {"text": s.title, "html": s.title},
                "start": {"timezone": "Europe/London", "local": s.start.isoformat(), "utc": utc(s.start)},
                "end": {"timezone": "Europe/London", "local": s.end.isoformat(), "utc": utc(s.end)},
                "online_event": s.online,
                "status": "completed" if s.delivered else "canceled",
                "created": utc(s.start - dt.timedelta(days=60)),
                "changed": utc(s.start - dt.timedelta(days=60)),
            }
            for s in sessions
        ]

    def attendees(self, pid: str, as_of: dt.datetime) -> list[dict]:
        out = []
        for r in self.views[pid].records_in("eventbrite"):
            if r.ordered_at > as_of:
                continue
            status = eventbrite_status_at(r, as_of)
            changed = r.ordered_at
            if status != "Attending" and status != "Checked In" and r.changed_at:
                changed = max(changed, r.changed_at)
            if status == "Checked In":
                changed = max(changed, r.session.start)
            out.append(attendee_json(r, status, changed))
        return sorted(out, key=lambda a: (a["changed"], a["id"]))

    # --- surveys
    def responses(self, pid: str, dataset: str, as_of: dt.datetime) -> list[Response]:
        return [r for r in self.views[pid].responses_to(dataset, as_of)]

    def files(self) -> dict:
        """{(drive, folder): [(name, bytes, modified)]}: the workbooks a partnership keeps in a shared folder."""
        if self._files is None:
            self._files = {}
            from .exports import FEEDBACK_DOWNLOADS

            for (drive, folder), (pid, _) in DRIVES.items():
                with tempfile.TemporaryDirectory() as tmp:
                    paths = msforms_feedback(self.views[pid], Path(tmp))
                    self._files[(drive, folder)] = [
                        (p.name, p.read_bytes(), until) for p, until in zip(paths, FEEDBACK_DOWNLOADS)
                    ]
        return self._files


def attendee_json(r: Record, status: str, changed: dt.datetime) -> dict:
    cancelled = status not in ("Attending", "Checked In")
    api_status = "Not Attending" if status in CANCELLED_EXPORT_STATUSES else status
    return {
        "id": str(r.attendee_id),
        "event_id": str(r.session.ref),
        "order_id": str(r.order_id),
        "created": utc(r.ordered_at),
        "changed": utc(changed),
        "ticket_class_name": r.ticket_type,
        "status": api_status,
        "checked_in": status == "Checked In",
        "cancelled": cancelled,
        "refunded": status == "Refunded",
        "profile": {
            "name": f"{r.first} {r.last}".strip(),
            "first_name": r.first,
            "last_name": r.last,
            "email": r.email,
            "job_title": r.job_title,
            "company": r.organisation,
        },
        "answers": [],
        "barcodes": [],
    }


# --- SurveyMonkey survey definitions: question ids, families and choices from the questionnaire
SM_KINDS = {
    "feedback": (
        ("usefulness", "useful"),
        ("knowledge", "important"),
        ("confidence", "confident"),
        ("job_title", None),
        ("setting", "choice"),
        ("email", None),
    ),
    "followup": (
        ("usefulness", "useful"),
        ("how_often", "choice"),
        ("doing_differently", None),
        ("setting", "choice"),
        ("email", None),
    ),
}
SM_QUESTIONS = {"feedback": vocab.FEEDBACK_QUESTIONS, "followup": vocab.FOLLOWUP_QUESTIONS}


def _answer_text(r: Response, attribute: str, scale: str | None) -> str:
    value = getattr(r, attribute)
    if scale in ("useful", "important", "confident"):
        return rating_label(value, scale)
    return "" if value is None else str(value)


def survey_details(survey_id: str, dataset: str, responses: list[Response]) -> tuple[dict, dict]:
    """The `/details` body, and {(question id, answer text): choice id}."""
    questions, choice_ids = [], {}
    for i, ((attribute, scale), heading) in enumerate(zip(SM_KINDS[dataset], SM_QUESTIONS[dataset]), start=1):
        qid = f"8{survey_id[-3:]}{i:02d}"
        question = {"id": qid, "headings": [{"heading": heading}], "position": i}
        if scale is None:
            question.update(family="open_ended", subtype="single")
        else:
            texts = [rating_label(v, scale) for v in range(11)] if scale != "choice" else []
            texts += sorted({_answer_text(r, attribute, scale) for r in responses} - set(texts) - {""})
            choices = []
            for position, text in enumerate(texts, start=1):
                cid = f"7{qid}{position:02d}"
                choice_ids[(qid, text)] = cid
                choices.append({"id": cid, "text": text, "position": position, "visible": True})
            question.update(family="single_choice", subtype="vertical", answers={"choices": choices})
        questions.append(question)
    body = {
        "id": survey_id,
        "title": f"Active Medicine {dataset}",
        "pages": [{"id": f"9{survey_id}", "questions": questions}],
    }
    return body, choice_ids


def survey_response(survey_id: str, dataset: str, r: Response, choice_ids: dict) -> dict:
    answers = []
    for i, (attribute, scale) in enumerate(SM_KINDS[dataset], start=1):
        qid = f"8{survey_id[-3:]}{i:02d}"
        text = _answer_text(r, attribute, scale)
        if not text:
            continue
        answer = {"text": text} if scale is None else {"choice_id": choice_ids[(qid, text)]}
        answers.append({"id": qid, "answers": [answer]})
    return {
        "id": r.response_id,
        "survey_id": survey_id,
        "collector_id": r.collector_id,
        "date_created": utc(r.started),
        "date_modified": utc(r.submitted),
        "response_status": "completed",
        # A web link collector knows nothing of the respondent: blank, as the export's columns.
        "email_address": "",
        "first_name": "",
        "last_name": "",
        "custom_variables": {},
        "metadata": {},
        "pages": [{"id": f"9{survey_id}", "questions": answers}],
    }


GF_ATTRIBUTES = ("usefulness", "how_often", "doing_differently", "setting", "email")


def form_json(form_id: str) -> dict:
    items = []
    for i, title in enumerate(vocab.FOLLOWUP_QUESTIONS, start=1):
        items.append(
            {
                "itemId": f"i{i:02d}",
                "title": title,
                "questionItem": {"question": {"questionId": f"q{i:02d}", "textQuestion": {}}},
            }
        )
    return {"formId": form_id, "info": {"title": "Active Medicine follow-up"}, "revisionId": "00000001", "items": items}


def form_response(form_id: str, r: Response) -> dict:
    answers = {}
    for i, attribute in enumerate(GF_ATTRIBUTES, start=1):
        value = getattr(r, attribute)
        if value not in (None, ""):
            answers[f"q{i:02d}"] = {"questionId": f"q{i:02d}", "textAnswers": {"answers": [{"value": str(value)}]}}
    identity = hashlib.sha256(
        f"{form_id}|{r.submitted.isoformat()}|{r.booking.person.index}|{r.email}".encode()
    ).hexdigest()[:20]
    body = {
        "responseId": f"ACYDBN{identity}",
        "createTime": utc(r.submitted).replace("Z", ".000Z"),
        "lastSubmittedTime": utc(r.submitted).replace("Z", ".000000Z"),
        "answers": answers,
    }
    if r.collected_email:
        body["respondentEmail"] = r.collected_email
    return body


class ReplayServer:
    """A threading HTTP server on 127.0.0.1 answering as the four APIs do; `start()`/`stop()`."""

    def __init__(
        self,
        token: str = "sample-token",
        port: int = 0,
        seed: int = 2020,
        as_of: dt.datetime = DEFAULT_AS_OF,
        page_size: int = 50,
        apis: SampleApis | None = None,
    ):
        self.token = token
        self.as_of = as_of
        self.page_size = page_size
        self.apis = apis or SampleApis(seed)
        self.faults: list[Fault] = []
        self.requests: list[str] = []  # "GET /path?query" per request served
        self.day_quota: int | None = None  # SurveyMonkey's X-Ratelimit-App-Global-Day-Limit when set
        self._lock = threading.Lock()
        self._surveys: dict = {}
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "ReplayServer":
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def inject(
        self, path_contains: str, status: int, body: str = "", headers: dict | None = None, times: int = 1
    ) -> None:
        self.faults.append(Fault(path_contains, status, body, headers or {}, times))

    def count(self, prefix: str) -> int:
        return sum(1 for r in self.requests if r.split(" ", 1)[1].startswith(prefix))

    # --- routing
    def respond(self, path: str, query: dict, authorization: str, raw_query: str = "") -> tuple[int, dict, bytes]:
        with self._lock:
            shown = f"{path}?{raw_query}" if raw_query else path
            self.requests.append(f"GET {shown}")
            for fault in self.faults:
                if fault.times > 0 and fault.path_contains in shown:
                    fault.times -= 1
                    return fault.status, {"Content-Type": "application/json", **fault.headers}, fault.body.encode()
        service = path.split("/")[1] if path.count("/") > 1 else ""
        scheme, _, presented = authorization.partition(" ")
        if scheme.lower() != "bearer" or presented != self.token:
            return (
                401,
                {"Content-Type": "application/json"},
                json.dumps(UNAUTHORISED.get(service, {"error": "unauthorised"})).encode(),
            )
        headers = {"Content-Type": "application/json"}
        if service == "surveymonkey" and self.day_quota is not None:
            used = self.count("/surveymonkey/")
            headers.update(
                {
                    "X-Ratelimit-App-Global-Day-Limit": str(self.day_quota),
                    "X-Ratelimit-App-Global-Day-Remaining": str(max(self.day_quota - used, 0)),
                    "X-Ratelimit-App-Global-Day-Reset": "3600",
                }
            )
            if used > self.day_quota:
                return (
                    429,
                    headers,
                    json.dumps(
                        {"error": {"id": "1040", "name": "Rate Limit Reached", "http_status_code": 429}}
                    ).encode(),
                )
        try:
            status, body = self._route(service, path, query)
        except KeyError:
            status, body = 404, {"error": "NOT_FOUND"}
        if isinstance(body, bytes):
            return status, {"Content-Type": "application/octet-stream"}, body
        return status, headers, json.dumps(body).encode()

    def _route(self, service: str, path: str, query: dict):
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if service == "eventbrite" and parts[2] == "organizations":
            pid = ORGANIZATIONS[parts[3]]
            if parts[4] == "events":
                return 200, self._continuation_page("events", self.apis.events(pid), query)
            if parts[4] == "attendees":
                since = _parse_utc(query.get("changed_since", "1970-01-01T00:00:00Z"))
                rows = [a for a in self.apis.attendees(pid, self.as_of) if _parse_utc(a["changed"]) >= since]
                return 200, self._continuation_page("attendees", rows, query)
        if service == "surveymonkey" and parts[2] == "surveys":
            survey_id = parts[3]
            pid, dataset = SURVEYS[survey_id]
            everything = self.apis.responses(pid, dataset, DEFAULT_AS_OF)
            details, choice_ids = survey_details(survey_id, dataset, everything)
            if parts[4] == "details":
                return 200, details
            if parts[4:6] == ["responses", "bulk"]:
                since = _parse_utc(query.get("start_modified_at", "1970-01-01T00:00:00"))
                rows = [
                    survey_response(survey_id, dataset, r, choice_ids)
                    for r in self.apis.responses(pid, dataset, self.as_of)
                ]
                rows = sorted(
                    (r for r in rows if _parse_utc(r["date_modified"]) >= since),
                    key=lambda r: (r["date_modified"], r["id"]),
                )
                per_page, page = min(int(query.get("per_page", 50)), 100), int(query.get("page", 1))
                chunk = rows[(page - 1) * per_page : page * per_page]
                body = {
                    "per_page": per_page,
                    "page": page,
                    "total": len(rows),
                    "data": chunk,
                    "links": {"self": self._link(path, {**query, "page": page})},
                }
                if page * per_page < len(rows):
                    body["links"]["next"] = self._link(path, {**query, "page": page + 1})
                return 200, body
        if service == "forms" and parts[2] == "forms":
            form_id = parts[3]
            pid, dataset = FORMS[form_id]
            if len(parts) == 4:
                return 200, form_json(form_id)
            if parts[4] == "responses":
                text = query.get("filter", "timestamp >= 1970-01-01T00:00:00Z")
                operator, _, value = text.replace("timestamp", "", 1).strip().partition(" ")
                since = _parse_utc(value)
                rows = [form_response(form_id, r) for r in self.apis.responses(pid, dataset, self.as_of)]
                keep = (lambda t: t > since) if operator == ">" else (lambda t: t >= since)
                rows = [r for r in rows if keep(_parse_utc(r["lastSubmittedTime"]))]
                size = int(query.get("pageSize", 5000))
                offset = int(query.get("pageToken", "0") or 0)
                body = {"responses": rows[offset : offset + size]} if rows[offset : offset + size] else {}
                if offset + size < len(rows):
                    body["nextPageToken"] = str(offset + size)
                return 200, body
        if service == "graph" and parts[2] == "drives":
            drive = parts[3]
            if parts[4] == "items" and parts[6:] == ["content"]:
                for (d, _), files in self.apis.files().items():
                    for name, data, _ in files:
                        if d == drive and _item_id(name) == parts[5]:
                            return 200, data
                raise KeyError(parts[5])
            if parts[4:6] == ["root", "delta"]:  # delta runs on the root (business drives allow no other)
                since = _parse_utc(query["token"]) if query.get("token") else None
                visible = [
                    (folder, n, d, m)
                    for (d_id, folder), files in self.apis.files().items()
                    if d_id == drive
                    for n, d, m in files
                    if m <= self.as_of and (since is None or m > since)
                ]
                items = [
                    {
                        "id": _item_id(n),
                        "name": n,
                        "size": len(d),
                        "cTag": hashlib.sha256(d).hexdigest()[:16],
                        "eTag": hashlib.sha256(d).hexdigest()[:16],
                        "createdDateTime": utc(m),
                        "lastModifiedDateTime": utc(m),
                        "parentReference": {"driveId": drive, "path": f"/drives/{drive}/root:/{folder}"},
                        "file": {"mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
                        "@microsoft.graph.downloadUrl": f"{self.url}/graph/v1.0/drives/{drive}/items/{_item_id(n)}/content?tempauth=secret",
                    }
                    for folder, n, d, m in visible
                ]
                items.insert(
                    0,
                    {
                        "id": "01ROOT",
                        "name": "root",
                        "root": {},
                        "folder": {"childCount": 1},
                        "parentReference": {"driveId": drive},
                    },
                )
                offset = int(query.get("skiptoken", 0) or 0)
                body = {"value": items[offset : offset + self.page_size]}
                if offset + self.page_size < len(items):
                    body["@odata.nextLink"] = self._link(path, {**query, "skiptoken": offset + self.page_size})
                else:
                    body["@odata.deltaLink"] = self._link(path, {"token": utc(self.as_of)})
                return 200, body
        raise KeyError(path)

    def _continuation_page(self, key: str, rows: list, query: dict) -> dict:
        offset = int(query.get("continuation", "0").lstrip("c") or 0)
        chunk = rows[offset : offset + self.page_size]
        more = offset + self.page_size < len(rows)
        pages = max((len(rows) + self.page_size - 1) // self.page_size, 1)
        pagination = {
            "object_count": len(rows),
            "page_number": offset // self.page_size + 1,
            "page_size": self.page_size,
            "page_count": pages,
            "has_more_items": more,
        }
        if more:
            pagination["continuation"] = f"c{offset + self.page_size}"
        return {"pagination": pagination, key: chunk}

    def _link(self, path: str, query: dict) -> str:
        return f"{self.url}{quote(path, safe='/:')}?{urlencode(query)}"


def _item_id(name: str) -> str:
    return "01" + hashlib.sha256(name.encode()).hexdigest()[:14].upper()


UNAUTHORISED = {
    "eventbrite": {
        "status_code": 401,
        "error_description": "The OAuth token you provided was invalid.",
        "error": "INVALID_AUTH",
    },
    "surveymonkey": {
        "error": {
            "id": "1011",
            "name": "Authorization Error",
            "message": "The authorization token provided was invalid.",
            "http_status_code": 401,
        }
    },
    "forms": {
        "error": {
            "code": 401,
            "message": "Request had invalid authentication credentials.",
            "status": "UNAUTHENTICATED",
        }
    },
    "graph": {"error": {"code": "InvalidAuthenticationToken", "message": "Access token is empty."}},
}


def _handler(server: ReplayServer):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            split = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
            status, headers, body = server.respond(
                unquote(split.path), query, self.headers.get("Authorization", ""), split.query
            )
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):  # requests are counted, not printed (they carry no secret either way)
            return

    return Handler


def serve(port: int = 8765, token: str = "sample-token", seed: int = 2020) -> None:
    server = ReplayServer(token=token, port=port, seed=seed)
    print(
        f"serving the sample programme's APIs on {server.url} (Eventbrite, SurveyMonkey, Google Forms, Graph); Ctrl-C stops"
    )
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()
