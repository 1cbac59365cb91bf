"""The one HTTP client every API pull uses: auth header, retries, rate limits and the request budget.

Why httpx + tenacity rather than dlt's rest_api: our source of truth is the raw page snapshot and
our own landing layer (ledger, quarantine, lineage, erasure, retention), so we need each page's
body in hand before anything parses it, and dlt would bring its own state, normalisation and
destination we would have to switch off. httpx gives timeouts and a pluggable transport (tests
use real servers on 127.0.0.1); tenacity gives bounded retries with full-jitter exponential waits
(`wait_random_exponential`), with our own wait where the service says how long (429 +
`Retry-After`, SurveyMonkey's `X-Ratelimit-*-Reset`).

Rules (source-apis.md §7): retry only 429, 5xx and network errors, never 400/401/403/404;
honour `Retry-After` (seconds or an HTTP date); stop cleanly (`QuotaExhausted`) when the daily
budget or the service's remaining quota reaches zero, or a 429 asks for a longer wait than we are
willing to sleep. The token goes only into the `Authorization` header: never into a URL, a log
line, an exception or a snapshot; the client never follows a link to another host.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable
from urllib.parse import urlsplit

from amed_pipeline.pulling.errors import ApiAuthError, PermanentApiError, QuotaExhausted, TransientApiError
from amed_pipeline.pulling.state import RequestBudget

# httpx and tenacity are imported where a pull uses them: every refresh imports this package (the
# API adapter reads snapshots), few pull, and the two cost ~0.1 s to import.
if TYPE_CHECKING:
    import httpx
    import tenacity

# Headers that say how much quota is left (SurveyMonkey documents these; others are read if sent).
DAY_REMAINING_HEADERS = ("X-Ratelimit-App-Global-Day-Remaining",)
MINUTE_RESET_HEADERS = ("X-Ratelimit-App-Global-Minute-Reset", "X-Ratelimit-App-Global-Day-Reset")


@dataclass
class Who:
    """Names for messages: partnership, source, service and the token's variable name."""

    partnership_id: str
    source_name: str
    service: str
    token_env: str

    def __str__(self) -> str:
        return f"{self.partnership_id}/{self.source_name} ({self.service}, token ${self.token_env})"


@dataclass
class Response:
    """What a page request returned: enough to snapshot it and parse it, no request headers."""

    url: str  # redacted: no query values that could be credentials
    status: int
    text: str
    content: bytes
    fetched_at: str
    headers: dict = field(default_factory=dict)


class _Retry(Exception):
    def __init__(self, reason: str, wait: float | None = None):
        super().__init__(reason)
        self.reason, self.wait = reason, wait


class _RateLimited(_Retry):
    pass


SECRET_QUERY_KEYS = {"token", "access_token", "key", "api_key", "sig", "signature", "code", "tempauth"}


def redact_url(url: str) -> str:
    """The URL with secret-looking query values replaced (the token itself is never in a URL)."""
    import httpx

    parts = httpx.URL(url)
    params = [(k, "REDACTED" if k.lower() in SECRET_QUERY_KEYS else v) for k, v in parts.params.multi_items()]
    return str(parts.copy_with(params=params) if params else parts)


def retry_after_seconds(value: str | None, now: dt.datetime | None = None) -> float | None:
    """`Retry-After` as seconds: a number, or an HTTP date (RFC 9110); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    now = now or dt.datetime.now(dt.timezone.utc)
    return max((when - now).total_seconds(), 0.0)


class ApiClient:
    """GET pages from one service with one token, within a budget; counts every request sent."""

    def __init__(
        self,
        base_url: str,
        token: str,
        who: Who,
        budget: RequestBudget,
        *,
        auth_scheme: str = "Bearer",
        timeout: float = 30.0,
        max_attempts: int = 5,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        max_wait: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ):
        import httpx
        import tenacity

        self.base_url = base_url.rstrip("/") + "/"
        self.who = who
        self.budget = budget
        self.max_attempts = max_attempts
        self.backoff = tenacity.wait_random_exponential(multiplier=backoff_base, max=backoff_max)
        self.max_wait = max_wait
        self.sleep = sleep
        self.requests_used = 0
        self.quota_remaining: int | None = None
        self._origin = urlsplit(self.base_url)[:2]
        # The token lives only in this client's default headers; httpx drops them on a redirect to another host.
        self._http = httpx.Client(
            headers={
                "Authorization": f"{auth_scheme} {token}",
                "Accept": "application/json",
                "User-Agent": "amed-pipeline",
            },
            timeout=timeout,
            transport=transport,
            follow_redirects=True,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def url_for(self, path_or_url: str) -> str:
        """A path relative to the base URL, or a next-page link, which must stay on the same host."""
        if path_or_url.startswith(("http://", "https://")):
            if urlsplit(path_or_url)[:2] != self._origin:
                raise PermanentApiError(
                    f"{self.who}: a next-page link points to another host ({urlsplit(path_or_url).netloc}); not followed"
                )
            return path_or_url
        return self.base_url + path_or_url.lstrip("/")

    def get(self, path_or_url: str, params: dict | None = None) -> Response:
        """One page: retried on 429/5xx/network errors; raises ApiAuthError, PermanentApiError,
        TransientApiError or QuotaExhausted."""
        import tenacity

        url = self.url_for(path_or_url)
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Retry),
            stop=tenacity.stop_after_attempt(self.max_attempts),
            wait=self._wait,
            sleep=self.sleep,
            reraise=True,
        )
        try:
            return retrying(self._attempt, url, params)
        except _RateLimited as exc:
            raise QuotaExhausted(
                f"{self.who}: still rate limited after {self.max_attempts} attempts ({exc.reason})"
            ) from None
        except _Retry as exc:
            raise TransientApiError(
                f"{self.who}: {exc.reason}, still failing after {self.max_attempts} attempts with backoff"
            ) from None

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retry) and exc.wait is not None:
            return exc.wait
        return self.backoff(state)

    def _attempt(self, url: str, params: dict | None) -> Response:
        import httpx

        if self.budget.remaining() <= 0:
            raise QuotaExhausted(f"{self.who}: daily request budget of {self.budget.limit} used up")
        if self.quota_remaining is not None and self.quota_remaining <= 0:
            raise QuotaExhausted(f"{self.who}: the service's daily quota is used up (remaining 0)")
        self.budget.spend()
        self.requests_used += 1
        try:
            reply = self._http.get(url, params=params or None)  # {} would drop a next link's own query
        except httpx.TimeoutException:
            raise _Retry(f"timed out on {redact_url(url)}") from None
        except httpx.TransportError as exc:
            raise _Retry(f"connection failed ({type(exc).__name__}) on {redact_url(url)}") from None
        self._read_quota(reply.headers)
        status = reply.status_code
        shown = redact_url(str(reply.request.url))
        if 200 <= status < 300:
            return Response(
                url=shown,
                status=status,
                text=reply.text,
                content=reply.content,
                fetched_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
                headers={
                    k: v for k, v in reply.headers.items() if k.lower().startswith(("x-ratelimit", "content-type"))
                },
            )
        code = _error_code(reply)
        if status == 429:
            wait = retry_after_seconds(reply.headers.get("Retry-After"))
            if wait is None:
                wait = next(
                    (float(reply.headers[h]) for h in MINUTE_RESET_HEADERS if _is_number(reply.headers.get(h))), None
                )
            if self.quota_remaining == 0:
                raise QuotaExhausted(f"{self.who}: HTTP 429{code} and the daily quota is used up")
            if wait is not None and wait > self.max_wait:
                raise QuotaExhausted(
                    f"{self.who}: HTTP 429{code}, asked to wait {wait:.0f} s (more than {self.max_wait:.0f} s)"
                )
            raise _RateLimited(f"HTTP 429{code}", wait)
        if status in (401, 403):
            raise ApiAuthError(
                f"{self.who.partnership_id}/{self.who.source_name}: {self.who.service} refused the token in "
                f"${self.who.token_env} (HTTP {status}{code}); renew it or grant access"
            )
        if status >= 500:
            raise _Retry(f"HTTP {status}{code} from {shown}")
        raise PermanentApiError(f"{self.who}: HTTP {status}{code} from {shown}")

    def _read_quota(self, headers: httpx.Headers) -> None:
        for name in DAY_REMAINING_HEADERS:
            if _is_number(headers.get(name)):
                self.quota_remaining = int(float(headers[name]))


def _is_number(value: str | None) -> bool:
    try:
        float(value)  # type: ignore[arg-type]
        return True
    except (TypeError, ValueError):
        return False


def _error_code(reply: httpx.Response) -> str:
    """The service's constant error code (`HIT_RATE_LIMIT`, `1040`, `UNAUTHENTICATED`), never its text."""
    try:
        body = reply.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    error = body.get("error")
    if isinstance(error, str):
        return f" {error}"[:60]  # Eventbrite
    if isinstance(error, dict):
        code = error.get("status") or error.get("id") or error.get("code")  # Google, SurveyMonkey, Graph
        return f" {code}"[:60] if code else ""
    return ""
