"""Retry what a retry can fix, and nothing else.

The nightly job's retry policy (`defs.jobs.NIGHTLY_RETRY_POLICY`: three retries after about 10 s,
30 s and 70 s) is worth its two minutes only for errors that can go away by themselves: a database
restarting or refusing connections, a lock held for a while, a network blip, an API answering 5xx
or 429. A config mistake, a malformed file, a changed pseudonym key or a bug fails the same way
every time, so retrying it only delays the alert.

Every step of the nightly job is wrapped by `retry_only_transient`: an exception that
`is_transient` recognises is re-raised as it is (Dagster retries it); any other becomes a
`dagster.Failure` with `allow_retries=False` whose description is the one-line explanation of
`amed_pipeline.errors` (the full traceback stays in the run's log as its cause).

For API sources: raise `TransientSourceError` (or let `urllib.error.HTTPError` / an HTTP client
error with a 5xx or 429 status through) when the server may answer on a retry, e.g.

    if transient_http_status(response.status):
        raise TransientSourceError(f"{url}: HTTP {response.status}", retry_after=response.headers.get("Retry-After"))
"""

from __future__ import annotations

import functools
import inspect
import re
import socket
from typing import Any, Callable, Iterator

import dagster as dg

# On the ground floor so that a stage (`pulling`) can raise it without importing `operations`.
from amed_pipeline.errors import TransientSourceError

# HTTP statuses a retry can cure: rate limited, or the server (or a gateway before it) failing.
TRANSIENT_HTTP_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})

# Database errors that are about the connection or a lock, not the statement or the data.
_TRANSIENT_DB_MESSAGE = re.compile(
    r"could not connect|connection refused|connection reset|connection timed out|server closed the connection|"
    r"terminating connection|connection (is|was) closed|could not receive data|could not send data|"
    r"the database system is (starting up|shutting down|in recovery mode)|too many connections|"
    r"lock timeout|lock_timeout|deadlock detected|could not obtain lock|could not serialize access|"
    r"could not set lock on file|database is locked|timeout expired|network is unreachable",
    re.IGNORECASE,
)


def transient_http_status(status: int | None) -> bool:
    return status is not None and int(status) in TRANSIENT_HTTP_STATUSES


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)


def _http_status(exc: BaseException) -> int | None:
    status = getattr(exc, "code", None) if exc.__class__.__name__ == "HTTPError" else None
    response = getattr(exc, "response", None)
    if status is None and response is not None:
        status = getattr(response, "status_code", None) or getattr(response, "status", None)
    return status if isinstance(status, int) else None


def is_transient(exc: BaseException) -> bool:
    """Whether a retry may succeed: TransientSourceError, HTTP 5xx/429, timeouts, refused or dropped
    connections, and database errors about the connection or a lock (checked along the cause chain)."""
    import sqlalchemy.exc as sa_exc

    for error in _causes(exc):
        if isinstance(error, TransientSourceError):
            return True
        status = _http_status(error)
        if status is not None:
            return transient_http_status(status)
        if isinstance(error, (TimeoutError, socket.timeout, ConnectionError)):
            return True
        if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
            return True
        if isinstance(error, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)) or (
            error.__class__.__module__.split(".")[0] in ("duckdb", "psycopg", "psycopg2")
        ):
            if _TRANSIENT_DB_MESSAGE.search(str(error)):
                return True
    return False


def _not_retried(exc: Exception) -> dg.Failure:
    from amed_pipeline.errors import explain

    return dg.Failure(description=explain(exc), allow_retries=False)


def retry_only_transient(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap an asset's body: transient errors go on to the retry policy, others fail at once in one line."""
    passthrough = (dg.Failure, dg.RetryRequested)

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generator(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except passthrough:
                raise
            except Exception as exc:
                if is_transient(exc):
                    raise
                raise _not_retried(exc) from exc

        return generator

    @functools.wraps(fn)
    def function(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except passthrough:
            raise
        except Exception as exc:
            if is_transient(exc):
                raise
            raise _not_retried(exc) from exc

    return function
