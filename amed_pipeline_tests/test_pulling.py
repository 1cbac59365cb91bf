"""Scope: the API pulls (`amed_pipeline.pulling`) against real HTTP servers on 127.0.0.1.

The replay server (`sample_data.api_server`, the sample programme in the APIs' documented
shapes, with a clock and fault injection) and `pytest-httpserver` (hand-made pages) answer; the
client is the production one, with sleeps recorded instead of slept. Covered: every pagination
style (Eventbrite `continuation`, SurveyMonkey `links.next`, Google `nextPageToken` with the filter
repeated, Graph `@odata.nextLink`/`deltaLink`); a second night asks only for changes since the
cursor minus the overlap; an attendee that goes Attending → Checked In → Not Attending is one
booking in its latest state; 429 with `Retry-After` (seconds and HTTP date); the budget and the
service's quota running out mid-pull, then a resume with no gap and no duplicate; 401; 500 then
success, and 500 for ever; a malformed page (snapshotted, quarantined, resumed); the token
appearing nowhere; the respondent's identity (Google's collected address, SurveyMonkey's email
collector contact) read as the exports' identity columns. Also the config rules for API sources.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from amed_pipeline.config import ConfigError, Source
from amed_pipeline.config.api_sources import default_api_path
from amed_pipeline.config.partnerships import parse_programme_config
from amed_pipeline.landing.erasure import drop_erased
from amed_pipeline.privacy.erasure import email_identity, erasure_token
from amed_pipeline.privacy.redaction import name_digest, name_digest_column, name_words
from amed_pipeline.pulling import ApiAuthError, PermanentApiError, TransientApiError, pull_source
from amed_pipeline.pulling.http import redact_url, retry_after_seconds
from amed_pipeline.pulling.state import load_cursor
from amed_pipeline.reading.parse import read_source
from amed_pipeline.sample_data.api_server import DEFAULT_AS_OF, ReplayServer, SampleApis
from amed_pipeline.staging.datasets import file_accounting, stage_bookings, stage_sessions
from amed_pipeline.staging.people import identity_texts
from amed_pipeline_tests.conftest import TEST_PARTNERSHIP

TOKEN = "tok-SECRET-4f9a2c-never-log-me"
START = dt.date(2020, 7, 1)
FAST = {"backoff_base": 0.01, "backoff_max": 0.05}


@pytest.fixture(scope="module")
def apis() -> SampleApis:
    return SampleApis()


@pytest.fixture
def replay(apis):
    server = ReplayServer(token=TOKEN, page_size=40, apis=apis).start()
    yield server
    server.stop()


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def api_source(
    fmt: str,
    dataset: str,
    base_url: str,
    name: str | None = None,
    partnership_id: str = "active_oxfordshire",
    **options,
) -> Source:
    name = name or f"{dataset}_{fmt}"
    options = {"base_url": base_url, "token_env": "AMED_TEST_API_TOKEN", **options}
    return Source(partnership_id, name, dataset, fmt, default_api_path(fmt, partnership_id, name), options)


def pull(source: Source, data_dir: Path, sleeps=None, token: str = TOKEN, **client):
    return pull_source(
        source,
        data_dir,
        token,
        START,
        sleep=sleeps if sleeps is not None else Sleeps(),
        client_options={**FAST, **client},
    )


def snapshot_text(data_dir: Path) -> str:
    return "\n".join(
        p.read_text(encoding="utf-8", errors="ignore")
        for p in sorted(data_dir.rglob("*"))
        if p.is_file() and p.suffix != ".xlsx"
    )


# --- pure helpers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        ("7", 7.0),
        ("0", 0.0),
        ("2.5", 2.5),
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
        ("", None),
        (None, None),
        ("soon", None),
    ],
)
def test_retry_after_is_read_as_seconds_or_an_http_date(value, expected):
    now = dt.datetime(2015, 10, 21, 7, 28, 0, tzinfo=dt.timezone.utc)
    assert retry_after_seconds(value, now) == expected


def test_redacted_urls_keep_paths_and_filters_but_not_credential_like_values():
    url = "https://x.example/v3/items/1/content?tempauth=abc&changed_since=2021-01-01T00:00:00Z&token=t0k"
    shown = redact_url(url)
    assert "abc" not in shown and "t0k" not in shown and "changed_since=2021-01-01T00%3A00%3A00Z" in shown


# --- pagination styles and reading ---------------------------------------------------------------


def test_eventbrite_backfill_pages_by_continuation_and_reads_as_attendee_report_rows(replay, apis, data_dir):
    source = api_source("eventbrite_api", "bookings", f"{replay.url}/eventbrite/v3", organization_id="1001")
    outcome = pull(source, data_dir)
    attendees = apis.attendees("active_oxfordshire", DEFAULT_AS_OF)
    events = apis.events("active_oxfordshire")
    pages = -(-len(attendees) // 40) + -(-len(events) // 40)
    assert (outcome.records, outcome.pages, outcome.requests, outcome.complete) == (len(attendees), pages, pages, True)
    assert replay.count("/eventbrite/v3/organizations/1001/attendees/") == -(-len(attendees) // 40)
    assert outcome.cursor_before == "" and outcome.cursor_after == max(a["changed"] for a in attendees)
    # The first pull backfills from a year before the programme start (its first bookings are older).
    assert (
        "changed_since=2019-07-02T00%3A00%3A00Z"
        in replay.requests[len(replay.requests) - outcome.requests + -(-len(events) // 40)]
    )
    read = read_source(source, data_dir)
    assert read.quarantine == [] and len(read.rows) == len(attendees)
    by_ref = read.rows.set_index("attendee_ref")
    for attendee in attendees[:60]:
        row = by_ref.loc[attendee["id"]]
        expected = {"Checked In": "attended", "Attending": "booked"}.get(attendee["status"], "cancelled")
        assert row["status"] == expected and row["session_ref"] == attendee["event_id"] and row["session_title"]
    assert set(read.rows["record_rank"]) == {1}  # the latest snapshot wins, not a status ranking


def test_surveymonkey_follows_links_next_and_resolves_choice_ids_to_text(replay, apis, data_dir):
    source = api_source(
        "surveymonkey_api", "feedback", f"{replay.url}/surveymonkey/v3", survey_id="405001", page_size=50
    )
    outcome = pull(source, data_dir)
    responses = apis.responses("active_oxfordshire", "feedback", DEFAULT_AS_OF)
    assert outcome.records == len(responses) and outcome.pages == 1 + -(-len(responses) // 50)
    assert any("page=2" in r for r in replay.requests)  # followed links.next
    read = read_source(source, data_dir)
    assert read.quarantine == []
    rows = read.rows.set_index("response_id")
    for response in responses:
        row = rows.loc[response.response_id]
        for name in ("usefulness", "knowledge", "confidence"):
            expected = getattr(response, name)
            assert (pd.isna(row[name]) and expected is None) or row[name] == expected
        assert row["setting"] == response.setting
        assert row["submitted_at"] == pd.Timestamp(response.submitted)  # UTC from the API, London time in the rows


def test_google_forms_repeats_the_filter_on_every_next_page_token_page(replay, apis, data_dir):
    source = api_source(
        "google_forms_api",
        "followup",
        f"{replay.url}/forms/v1",
        partnership_id="leap",
        form_id="leap-followup-form",
        page_size=10,
    )
    outcome = pull(source, data_dir)
    responses = apis.responses("leap", "followup", DEFAULT_AS_OF)
    listing = [r for r in replay.requests if "/responses" in r]
    assert outcome.records == len(responses) and len(listing) == -(-len(responses) // 10) + (len(responses) % 10 == 0)
    assert all("filter=timestamp+%3E%3D+2019-07-02T00%3A00%3A00Z" in r for r in listing)
    assert any("pageToken=" in r for r in listing)
    read = read_source(source, data_dir)
    assert read.quarantine == [] and len(read.rows) == len(responses) and (read.rows["response_id"] != "").all()
    assert sorted(read.rows["submitted_at"]) == sorted(pd.Timestamp(r.submitted) for r in responses)
    # The address Google collects is the respondent's own (`respondent_email`, as in the download);
    # the optional "Email address" question stays `email`.
    rows = read.rows.set_index("response_id")
    by_time = {pd.Timestamp(r.submitted): r for r in responses}
    assert any(r.collected_email for r in responses) and any(not r.collected_email for r in responses)
    for _, row in rows.iterrows():
        response = by_time[row["submitted_at"]]
        assert row["respondent_email"] == response.collected_email and row["email"] == response.email
    identities = identity_texts(read.rows, "leap")
    assert (identities != "").sum() >= sum(1 for r in responses if r.collected_email)


def test_api_responses_carry_the_respondent_identity_and_names_the_exports_would(replay, apis, data_dir):
    """SurveyMonkey's email collectors record the respondent (`email_address`, `first_name`,
    `last_name`, or `metadata.contact`): read from the API they are the same identity, erasure and
    known-name inputs as the export's `Email Address`/`First Name`/`Last Name`."""
    source = api_source(
        "surveymonkey_api", "feedback", f"{replay.url}/surveymonkey/v3", survey_id="405001", page_size=50
    )
    pull(source, data_dir)
    pages = sorted(
        p for p in data_dir.rglob("*.json") if json.loads(p.read_text(encoding="utf-8")).get("kind") == "responses"
    )
    document = json.loads(pages[0].read_text(encoding="utf-8"))
    first, second, third = document["body"]["data"][:3]
    first.update(email_address=" Meg.Ross@Example.org ", first_name="Meg", last_name="Ross")
    second["metadata"] = {
        "contact": {
            "email": {"type": "string", "value": "kay.lee@example.org"},
            "first_name": {"type": "string", "value": "Kay"},
            "last_name": {"type": "string", "value": "Lee"},
        }
    }
    third.update(email_address="", first_name="Ann", last_name="Lee")
    pages[0].write_text(json.dumps(document), encoding="utf-8")
    read = read_source(source, data_dir)
    assert read.quarantine == []
    rows = read.rows.set_index("response_id")
    picked = rows.loc[[first["id"], second["id"], third["id"]]]
    assert picked["respondent_email"].tolist() == ["Meg.Ross@Example.org", "kay.lee@example.org", ""]
    assert picked["first_name"].tolist() == ["Meg", "Kay", "Ann"] and picked["last_name"].tolist() == [
        "Ross",
        "Lee",
        "Lee",
    ]
    assert identity_texts(picked, "p").tolist() == [
        "email:meg.ross@example.org",
        "email:kay.lee@example.org",
        "name:p:ann lee",
    ]
    others = rows.drop(index=[first["id"], second["id"], third["id"]])
    assert (
        len(others) and (others["respondent_email"] == "").all() and (others["first_name"] == "").all()
    )  # a web link: nobody
    # The names are known names (free text elsewhere loses them) and erasure finds the response by its address.
    digests = name_digest_column(b"k", picked)
    assert digests.tolist() == [
        name_digest(b"k", name_words("Meg", "Ross")),
        name_digest(b"k", name_words("Kay", "Lee")),
        name_digest(b"k", name_words("Ann", "Lee")),
    ]
    erasure_key = b"erasure"
    tokens = frozenset({erasure_token(erasure_key, email_identity("KAY.LEE@example.org"))})
    kept, erased = drop_erased(
        read.rows.assign(partnership_id="active_oxfordshire"), tokens, erasure_key, "active_oxfordshire", "feedback"
    )
    assert erased["source_row"].tolist() == [int(rows.loc[second["id"], "source_row"])] and set(erased["rule"]) == {
        "erased"
    }
    assert second["id"] not in set(kept["response_id"]) and len(kept) == len(read.rows) - 1
    assert "kay.lee" not in erased.astype(str).to_csv().casefold()  # the record carries no identity


def test_graph_drive_lands_files_by_delta_and_a_quiet_night_costs_one_request(apis, data_dir):
    server = ReplayServer(token=TOKEN, page_size=1, apis=apis).start()  # one item a page: nextLink paging
    elsewhere = ("gba-drive", "Finance")  # delta runs on the drive's root: another folder's file is not ours
    apis.files()[elsewhere] = [("budget.xlsx", b"not ours", dt.datetime(2021, 3, 1))]
    try:
        source = api_source(
            "graph_drive",
            "feedback",
            f"{server.url}/graph/v1.0",
            partnership_id="get_berkshire_active",
            drive_id="gba-drive",
            folder_path="Active Medicine/Feedback",
            read_as="msforms",
        )
        first = pull(source, data_dir)
        assert (first.files_landed, first.pages, first.requests, first.records) == (
            2,
            4,
            6,
            2,
        )  # root, 3 files; 2 downloads
        snapshots = snapshot_text(data_dir / "raw")
        assert "downloadUrl" not in snapshots and "tempauth" not in snapshots  # pre-authenticated links never stored
        landed = sorted(p.name for p in source.files(data_dir))
        assert landed == sorted(name for name, _, _ in apis.files()[("gba-drive", "Active Medicine/Feedback")])
        read = read_source(source, data_dir)
        assert read.quarantine == [] and len(read.rows) > 0
        quiet = pull(source, data_dir)
        assert (quiet.requests, quiet.files_landed, quiet.records) == (1, 0, 0)
        assert load_cursor(data_dir, "get_berkshire_active", source.name)["cursor"].startswith(server.url)
    finally:
        del apis.files()[elsewhere]
        server.stop()


# --- incremental nights ---------------------------------------------------------------------------


def test_a_second_night_asks_only_for_changes_since_the_cursor_minus_the_overlap(replay, apis, data_dir):
    source = api_source(
        "eventbrite_api", "bookings", f"{replay.url}/eventbrite/v3", organization_id="1003", overlap_minutes=15
    )
    replay.as_of = dt.datetime(2021, 1, 20)
    first = pull(source, data_dir)
    replay.as_of = DEFAULT_AS_OF
    second = pull(source, data_dir)
    cursor = dt.datetime.fromisoformat(first.cursor_after.replace("Z", "+00:00"))
    since = (cursor - dt.timedelta(minutes=15)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert any(f"changed_since={since.replace(':', '%3A')}" in r for r in replay.requests)
    all_now = apis.attendees("leap", DEFAULT_AS_OF)
    changed = [a for a in all_now if a["changed"] >= since]
    assert second.records == len(changed) < len(all_now)
    assert second.new + second.changed + second.seen_before == second.records and second.new > 0 and second.changed > 0
    # Both nights together hold every attendee in its current state once the copies resolve.
    read = read_source(source, data_dir)
    latest = read.rows.sort_values(["source_file", "source_row"]).drop_duplicates("attendee_ref", keep="last")
    assert len(latest) == len(all_now)
    current = {
        a["id"]: {"Checked In": "attended", "Attending": "booked"}.get(a["status"], "cancelled") for a in all_now
    }
    assert dict(zip(latest["attendee_ref"], latest["status"])) == current


SESSIONS_CSV = "Event ref,Event,Event starts\n700100200,Coach Workshop,15/03/2025 10:00\n"


def _attendee(status: str, changed: str, **flags) -> dict:
    return {
        "id": "3001001",
        "event_id": "700100200",
        "order_id": "5001001",
        "created": "2025-03-01T09:12:44Z",
        "changed": changed,
        "ticket_class_name": "Coach place (free)",
        "status": status,
        "checked_in": status == "Checked In",
        "cancelled": flags.get("cancelled", False),
        "refunded": flags.get("refunded", False),
        "profile": {
            "first_name": "Priya",
            "last_name": "Shah",
            "email": "priya.shah@example.org",
            "job_title": "Community Coach",
        },
    }


def test_an_attendee_that_changes_state_is_one_booking_in_its_latest_state(
    httpserver, data_dir, write_export, make_source, raw_export, reference_tables
):
    events = {
        "pagination": {"has_more_items": False},
        "events": [{"id": "700100200", "name": {"text": "Coach Workshop"}}],
    }
    nights = [
        _attendee("Attending", "2025-03-01T09:12:44Z"),
        _attendee("Checked In", "2025-03-15T10:02:10Z"),
        _attendee("Not Attending", "2025-03-16T08:00:00Z", cancelled=True, refunded=True),
    ]
    source = api_source(
        "eventbrite_api", "bookings", httpserver.url_for("/v3"), partnership_id=TEST_PARTNERSHIP, organization_id="42"
    )
    for attendee in nights:
        httpserver.clear()
        httpserver.expect_request("/v3/organizations/42/events/").respond_with_json(events)
        httpserver.expect_request("/v3/organizations/42/attendees/").respond_with_json(
            {"pagination": {"has_more_items": False}, "attendees": [attendee]}
        )
        pull(source, data_dir)
    write_export("sessions/sessions.csv", SESSIONS_CSV)
    sessions_source = make_source(
        "sessions",
        "mapped_csv",
        "sessions/*.csv",
        dayfirst=True,
        columns={"session_ref": "Event ref", "title": "Event", "start": "Event starts"},
        default_values={"delivery_mode": "in_person"},
    )
    sessions = stage_sessions([raw_export(sessions_source, data_dir)], reference_tables)
    staged = stage_bookings([raw_export(source, data_dir)], sessions, reference_tables)
    assert len(staged.rows) == 1 and staged.rows["status"].tolist() == ["cancelled"]  # not "attended": the latest state
    assert len(staged.duplicates) == 2  # the two earlier versions, counted
    assert file_accounting(staged)["balanced"].all()


# --- limits and failures -----------------------------------------------------------------------------


def test_429_waits_as_long_as_retry_after_says_then_completes(replay, data_dir):
    source = api_source("eventbrite_api", "bookings", f"{replay.url}/eventbrite/v3", organization_id="1002")
    body = json.dumps(
        {"status_code": 429, "error": "HIT_RATE_LIMIT", "error_description": "Hourly rate limit has been reached."}
    )
    replay.inject("/attendees/", 429, body, {"Retry-After": "7"})
    replay.inject(
        "/attendees/", 429, body, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}
    )  # a date in the past: no wait
    sleeps = Sleeps()
    outcome = pull(source, data_dir, sleeps)
    assert outcome.complete and sleeps == [7.0, 0.0]
    assert outcome.requests == outcome.pages + 2  # the refused requests count against the budget too


def test_a_429_asking_for_longer_than_we_wait_stops_cleanly(replay, data_dir):
    source = api_source("eventbrite_api", "bookings", f"{replay.url}/eventbrite/v3", organization_id="1002")
    replay.inject("/attendees/", 429, "{}", {"Retry-After": "3600"})
    outcome = pull(source, data_dir, max_wait=60)
    assert not outcome.complete and "3600" in outcome.stopped


def test_the_quota_runs_out_mid_pull_then_the_next_night_resumes_with_no_gap_and_no_duplicate(replay, apis, data_dir):
    source = api_source(
        "surveymonkey_api", "feedback", f"{replay.url}/surveymonkey/v3", survey_id="405001", page_size=20
    )
    responses = apis.responses("active_oxfordshire", "feedback", DEFAULT_AS_OF)
    replay.day_quota = 4  # details + 3 response pages, then the headers say 0 remaining
    night1 = pull(source, data_dir)
    assert not night1.complete and night1.quota_left == 0 and night1.pages == 4 and night1.requests == 4
    state = load_cursor(data_dir, "active_oxfordshire", source.name)
    assert (
        "cursor" not in state and "page=4" in state["resume"]["responses"]["request"]["path"]
    )  # at the last complete page
    replay.day_quota, replay.requests = None, []  # a new day
    night2 = pull(source, data_dir)
    assert night2.complete and "page=4" in replay.requests[1]  # resumed from the next page, not from the start
    read = read_source(source, data_dir)
    assert sorted(read.rows["response_id"]) == sorted(r.response_id for r in responses)  # no gap, no duplicate
    assert load_cursor(data_dir, "active_oxfordshire", source.name)["cursor"] == night2.cursor_after != ""


def test_our_daily_budget_stops_the_pull_before_the_service_would(replay, apis, data_dir):
    source = api_source(
        "eventbrite_api", "bookings", f"{replay.url}/eventbrite/v3", organization_id="1001", daily_request_budget=5
    )
    night1 = pull(source, data_dir)
    assert (night1.complete, night1.requests, night1.budget_left) == (False, 5, 0) and "budget" in night1.stopped
    nights = [night1]
    while not nights[-1].complete and len(nights) < 10:
        shutil.rmtree(data_dir / "api_state" / "budget")  # the next UTC day
        nights.append(pull(source, data_dir))
    # 19 pages of backfill at 5 requests a night (each night lists the events again): 5 nights.
    assert [n.complete for n in nights] == [False] * 4 + [True]
    read = read_source(source, data_dir)
    assert sorted(read.rows["attendee_ref"]) == sorted(
        a["id"] for a in apis.attendees("active_oxfordshire", DEFAULT_AS_OF)
    )


def test_401_fails_the_source_in_one_line_naming_partnership_source_and_variable(replay, data_dir):
    source = api_source("eventbrite_api", "bookings", f"{replay.url}/eventbrite/v3", organization_id="1001")
    with pytest.raises(ApiAuthError) as caught:
        pull(source, data_dir, token="wrong-" + TOKEN)
    message = str(caught.value)
    assert "\n" not in message and "active_oxfordshire/bookings_eventbrite_api" in message
    assert "$AMED_TEST_API_TOKEN" in message and "401" in message and TOKEN not in message
    assert caught.value.__cause__ is None and len(replay.requests) == 1  # never retried
    with pytest.raises(ApiAuthError, match=r"token missing: set \$AMED_TEST_API_TOKEN"):
        pull(source, data_dir, token="")


def test_500_is_retried_with_backoff_and_jitter_then_succeeds(replay, data_dir):
    source = api_source(
        "google_forms_api",
        "followup",
        f"{replay.url}/forms/v1",
        partnership_id="get_berkshire_active",
        form_id="gba-followup-form",
    )
    replay.inject("/responses", 500, '{"error": {"code": 500, "status": "INTERNAL"}}', times=2)
    sleeps = Sleeps()
    outcome = pull(source, data_dir, sleeps, backoff_base=1.0, backoff_max=30.0)
    assert outcome.complete and len(sleeps) == 2
    assert 0 <= sleeps[0] <= 2 and 0 <= sleeps[1] <= 4  # full jitter: random up to base × 2^attempt


def test_5xx_for_ever_fails_that_source_after_the_retries(replay, data_dir):
    source = api_source(
        "google_forms_api",
        "followup",
        f"{replay.url}/forms/v1",
        partnership_id="get_berkshire_active",
        form_id="gba-followup-form",
    )
    replay.inject("/forms/", 503, "", times=99)
    with pytest.raises(TransientApiError, match="503.*still failing after 3 attempts"):
        pull(source, data_dir, max_attempts=3)
    assert len(replay.requests) == 3


def test_a_malformed_page_is_snapshotted_and_quarantined_and_the_next_pull_resumes_there(replay, apis, data_dir):
    source = api_source("eventbrite_api", "bookings", f"{replay.url}/eventbrite/v3", organization_id="1002")
    attendees = apis.attendees("get_berkshire_active", DEFAULT_AS_OF)
    replay.inject("continuation=c40", 200, "<html>Bad gateway</html>")
    with pytest.raises(PermanentApiError, match="not valid JSON"):
        pull(source, data_dir)
    read = read_source(source, data_dir)
    bad = [q for q in read.quarantine if q["rule"] == "file_unreadable"]
    assert len(bad) == 1 and "not valid JSON" in bad[0]["reason"] and len(read.rows) == 40
    again = pull(source, data_dir)
    assert again.complete
    read = read_source(source, data_dir)
    assert sorted(set(read.rows["attendee_ref"])) == sorted(a["id"] for a in attendees)


def test_the_token_appears_in_no_snapshot_state_file_message_or_landed_row(replay, data_dir):
    sources = [
        api_source(
            "eventbrite_api", "bookings", f"{replay.url}/eventbrite/v3", organization_id="1003", partnership_id="leap"
        ),
        api_source("surveymonkey_api", "followup", f"{replay.url}/surveymonkey/v3", survey_id="405002"),
    ]
    replay.inject("/surveys/", 500, "", times=1)
    messages = []
    for source in sources:
        outcome = pull(source, data_dir)
        messages.append(repr(outcome))
        messages.append(read_source(source, data_dir).rows.to_csv())
    with pytest.raises(ApiAuthError) as caught:
        pull(sources[0], data_dir, token=TOKEN + "-revoked")
    messages.append(str(caught.value))
    assert TOKEN not in snapshot_text(data_dir) and TOKEN not in "\n".join(messages)
    assert "Authorization" not in snapshot_text(data_dir / "raw")


# --- configuration ------------------------------------------------------------------------------------


def _config(options: dict, fmt: str = "eventbrite_api", dataset: str = "bookings", **extra) -> dict:
    source = {"dataset": dataset, "format": fmt, "options": options, **extra}
    return {
        "programme": {"start": "2020-07-01", "end": "2021-07-31"},
        "partnerships": [{"id": "p", "name": "P", "sources": [source]}],
    }


def test_an_api_source_reads_its_own_snapshots_and_names_its_token_by_variable(tmp_path):
    config = parse_programme_config(_config({"token_env": "EB_TOKEN", "organization_id": "1"}), tmp_path)
    source = config.sources()[0]
    assert source.path == "raw/p/api/bookings_eventbrite_api/*/page-*.json"


@pytest.mark.parametrize(
    "options, extra, complaint",
    [
        ({"token_env": "eyJhbGciOi.secret-token-value", "organization_id": "1"}, {}, "NAME of an environment variable"),
        ({"token_env": "EB_TOKEN", "token": "abc", "organization_id": "1"}, {}, "tokens never go in the YAML"),
        ({"organization_id": "1"}, {}, "options.token_env': missing"),
        ({"token_env": "EB_TOKEN"}, {}, "options.organization_id': missing"),
        ({"token_env": "EB_TOKEN", "organization_id": "1"}, {"path": "raw/x/*.json"}, "leave 'path' out"),
        (
            {"token_env": "EB_TOKEN", "organization_id": "1", "base_url": "https://user:pw@host/v3"},
            {},
            "credentials in the URL",
        ),
        ({"token_env": "EB_TOKEN", "organization_id": "1", "daily_request_budget": 0}, {}, "daily_request_budget"),
    ],
)
def test_api_source_mistakes_are_config_errors_that_never_echo_a_token(tmp_path, options, extra, complaint):
    with pytest.raises(ConfigError, match=complaint) as caught:
        parse_programme_config(_config(options, **extra), tmp_path)
    for secret in ("secret-token-value", "'abc'"):
        assert secret not in str(caught.value)


def test_graph_drive_needs_a_readable_format(tmp_path):
    options = {"token_env": "G", "drive_id": "d", "folder_path": "f", "read_as": "pdf"}
    with pytest.raises(ConfigError, match="read_as"):
        parse_programme_config(_config(options, fmt="graph_drive", dataset="feedback"), tmp_path)


def test_only_transient_api_failures_are_retried_by_the_nightly_retry_policy():
    """5xx/timeouts that outlived the client's own backoff may succeed on a later attempt; a 401 or a
    malformed page never will, so the run must not spend its retries on them."""
    from amed_pipeline.operations.retries import is_transient
    from amed_pipeline.pulling.errors import ApiAuthError, PermanentApiError, TransientApiError

    assert is_transient(TransientApiError("leap/feedback: HTTP 503 after 4 attempts"))
    assert not is_transient(ApiAuthError("leap/feedback: HTTP 401: check $TOKEN"))
    assert not is_transient(PermanentApiError("leap/feedback: page 3 is not JSON"))
