"""Errors a user meets, as one line that names the thing and the fix.

A data engineer running `python -m amed_pipeline refresh` at the terminal, or reading a failed
run's first line in an alert, should learn what is wrong and what to do, not read 127 lines of
SQLAlchemy. The places that meet these errors raise `OperatorError`s (already one line: the
warehouse resource when it connects, the export dir, the pseudonym-key guard, the config loader's
`ConfigError`); `explain` turns anything else into its innermost first line. Full tracebacks stay in
the run's log (Dagster keeps the cause chain) and on the terminal with `--verbose`.
"""

from __future__ import annotations

import re

from sqlalchemy.engine import make_url

WAREHOUSE_URL_HELP = (
    "set AMED_WAREHOUSE_URL to e.g. postgresql+psycopg://user:password@host:5432/amed or duckdb:///path/amed.duckdb"
)


class OperatorError(RuntimeError):
    """An error whose message is one line that names the thing and the fix."""


class WarehouseError(OperatorError):
    """The warehouse cannot be opened: bad URL, unreachable server, missing database or role, locked or damaged file."""


class ExportDirError(OperatorError):
    """The export dir cannot be created or written."""


class TransientSourceError(Exception):
    """A source (API, file share, database) failed in a way a retry may cure: HTTP 5xx or 429, a timeout,
    a connection dropped. Steps of the nightly job retry it; every other exception fails at once."""

    def __init__(self, message: str, retry_after: float | str | None = None):
        super().__init__(message)
        self.retry_after = retry_after


def _first_line(text: str) -> str:
    for line in str(text).splitlines():
        if line.strip():
            return line.strip()
    return ""


def safe_url(url: str) -> str:
    """The URL without its password; only the scheme when it cannot even be parsed."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return (url.split(":", 1)[0] + ":…") if ":" in url else "(unparseable)"


def warehouse_error(exc: BaseException, url: str) -> WarehouseError:
    """One line for an error met while opening the warehouse at `url`."""
    import sqlalchemy.exc as sa_exc

    shown = safe_url(url)
    message = str(getattr(exc, "orig", None) or exc)
    if isinstance(exc, (sa_exc.ArgumentError, sa_exc.NoSuchModuleError)) or (
        isinstance(exc, ValueError) and "URL" in message
    ):
        return WarehouseError(f"warehouse URL {shown} is malformed ({_first_line(message)}): {WAREHOUSE_URL_HELP}")
    try:
        parsed = make_url(url)
        backend, database, user, host = parsed.get_backend_name(), parsed.database, parsed.username, parsed.host
        port = parsed.port or 5432
    except Exception:
        backend = database = user = host = port = None
    if backend == "duckdb":
        if "Could not set lock" in message or "Conflicting lock" in message:
            pid = re.search(r"\(PID (\d+)\)", message)
            holder = f" (PID {pid.group(1)})" if pid else ""
            return WarehouseError(
                f"the DuckDB warehouse {database} is locked by another process{holder}: wait for the other refresh to "
                "finish, or close the program that has the file open (e.g. a duckdb shell), then run again"
            )
        if (
            "not a valid DuckDB database" in message
            or "Corrupt" in message
            or "corrupt" in message
            or "database header" in message
        ):
            return WarehouseError(
                f"the DuckDB warehouse {database} is damaged (not a valid DuckDB database file): move it aside and run "
                "the refresh again to rebuild it from the raw files (its history tables dq_results, run_failures and "
                "erasure_log start empty)"
            )
        return WarehouseError(f"the DuckDB warehouse {database} cannot be opened: {_first_line(message)}")
    where = f"{host}:{port}" if host else shown
    found = re.search(r'database "([^"]+)" does not exist', message)
    if found:
        return WarehouseError(
            f"PostgreSQL database {found.group(1)} does not exist on {where}: create it as a superuser "
            f"(createdb -O {user or '<role>'} {found.group(1)}) or fix the database name in AMED_WAREHOUSE_URL"
        )
    found = re.search(r'role "([^"]+)" does not exist', message)
    if found:
        return WarehouseError(
            f"PostgreSQL role {found.group(1)} does not exist on {where}: create it as a superuser "
            f"(createuser --login --pwprompt {found.group(1)}) with the privileges the README's PostgreSQL section "
            "lists, or fix the user in AMED_WAREHOUSE_URL"
        )
    if "password authentication failed" in message or "no password supplied" in message:
        return WarehouseError(
            f"PostgreSQL refused the login of role {user} on {where}: fix the password in AMED_WAREHOUSE_URL"
        )
    if "permission denied" in message.lower():
        return WarehouseError(
            f"PostgreSQL role {user} lacks a privilege on {shown} ({_first_line(message)}): grant the privileges the "
            "README's PostgreSQL section lists"
        )
    if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError, OSError)):
        reason = _first_line(message).split("failed:")[-1].strip() or type(exc).__name__
        return WarehouseError(
            f"warehouse {shown} is unreachable ({reason}): check that the server is running and the host and port in "
            "AMED_WAREHOUSE_URL"
        )
    return WarehouseError(f"warehouse {shown} cannot be opened: {_first_line(message)}")


def explain(exc: BaseException) -> str:
    """One line for any error: an OperatorError or ConfigError as it is, else the innermost cause's first line."""
    from amed_pipeline.config import ConfigError

    error = exc
    while True:
        if isinstance(error, (OperatorError, ConfigError)) or type(error).__name__ == "PseudonymKeyError":
            return _first_line(str(error))
        if error.__cause__ is None:
            break
        error = error.__cause__
    text = _first_line(str(getattr(error, "orig", None) or error))
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
