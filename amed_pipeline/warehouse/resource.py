"""The warehouse as a Dagster resource: the one place that builds SQLAlchemy engines.

The URL comes from `AMED_WAREHOUSE_URL` (an `EnvVar`, resolved at run time), else an embedded
DuckDB file under the data dir's `warehouse/` folder. DuckDB allows one writing process per
file, and Dagster's default executor runs steps in parallel processes, so every connection to a
DuckDB file holds an exclusive lock file for its duration: parallel steps queue instead of
failing with a database-lock error. PostgreSQL needs no such lock.

Opening the warehouse is where a wrong URL, a server that is down, a missing database or role, a
DuckDB file held by another program or a damaged file show up: they are raised as one-line
`WarehouseError`s naming the thing and the fix (`amed_pipeline.errors`), with the driver's error as
the cause.
"""

from __future__ import annotations

import fcntl
import time
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterator

import dagster as dg
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool, StaticPool

from amed_pipeline.errors import warehouse_error
from amed_pipeline.warehouse.schema import metadata

DEFAULT_WAREHOUSE_FILE = "warehouse/amed.duckdb"
# The PostgreSQL advisory lock one refresh holds (any bigint; this one spells "amedrefr").
REFRESH_LOCK_KEY = 0x616D656472656672


def default_warehouse_url(data_dir: Path | str) -> str:
    return f"duckdb:///{(Path(data_dir).resolve() / DEFAULT_WAREHOUSE_FILE).as_posix()}"


def redact_url(url: str) -> str:
    """The URL with any password hidden, safe for logs and the UI."""
    return make_url(url).render_as_string(hide_password=True)


# DuckDB would otherwise let its buffer pool grow to 80 % of the machine's memory; beyond the
# limit it spills to disk. `AMED_DUCKDB_MEMORY_LIMIT` changes it.
DEFAULT_DUCKDB_MEMORY_LIMIT = "512MB"


@lru_cache(maxsize=8)
def _engine_for(url: str, duckdb_memory_limit: str = DEFAULT_DUCKDB_MEMORY_LIMIT) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "duckdb" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    # No pooling for DuckDB: a pooled connection would keep the file open (and locked) after use.
    if parsed.get_backend_name() == "duckdb":
        connect_args = {"config": {"memory_limit": duckdb_memory_limit}}
        if parsed.database in (None, "", ":memory:"):
            return create_engine(url, poolclass=StaticPool, connect_args=connect_args)  # one shared in-memory database
        return create_engine(url, poolclass=NullPool, connect_args=connect_args)
    return create_engine(url, pool_pre_ping=True)


class WarehouseResource(dg.ConfigurableResource):
    """The SQL warehouse (DuckDB file by default, PostgreSQL in production)."""

    url: str
    duckdb_memory_limit: str = DEFAULT_DUCKDB_MEMORY_LIMIT

    @property
    def engine(self) -> Engine:
        return _engine_for(self.url, self.duckdb_memory_limit)

    @property
    def dialect(self) -> str:
        return make_url(self.url).get_backend_name()

    @property
    def display_url(self) -> str:
        return redact_url(self.url)

    def _open(self) -> Connection:
        """A new connection; errors met while opening it become one-line WarehouseErrors."""
        try:
            return self.engine.connect()
        except Exception as exc:
            raise warehouse_error(exc, self.url) from exc

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection in a transaction, committed on success; tables created if missing."""
        with self._exclusive():
            with self._open() as conn, conn.begin():
                metadata.create_all(conn, checkfirst=True)
                yield conn

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection for reading (tables created first if missing, so a first run can read)."""
        with self._exclusive():
            with self._open() as conn:
                with conn.begin():
                    metadata.create_all(conn, checkfirst=True)
                yield conn

    @contextmanager
    def refresh_lock(self, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
        """Held for a whole refresh (plan and run) by `python -m amed_pipeline refresh`: a second refresh of
        the same warehouse waits until the first has finished, after saying so once through `on_wait`.

        DuckDB: an exclusive lock on `<file>.refresh.lock`; PostgreSQL: a session advisory lock on a
        connection of its own. Both are released by the operating system or the server when the
        process dies (kill -9 included), so a crashed refresh never leaves the warehouse locked."""
        try:
            parsed = make_url(self.url)
        except Exception as exc:
            raise warehouse_error(exc, self.url) from exc
        message = f"another refresh is running on the warehouse {self.display_url}: waiting for it to finish (Ctrl-C stops waiting)"
        if parsed.get_backend_name() == "duckdb" and parsed.database not in (None, "", ":memory:"):
            lock_path = Path(parsed.database + ".refresh.lock")
            lock_path.parent.mkdir(parents=True, exist_ok=True)
            with open(lock_path, "w") as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    if on_wait:
                        on_wait(message)
                    fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
            return
        if parsed.get_backend_name() == "postgresql":
            with self._open() as conn:
                if not conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": REFRESH_LOCK_KEY}).scalar():
                    if on_wait:
                        on_wait(message)
                    conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": REFRESH_LOCK_KEY})
                conn.commit()
                try:
                    yield
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": REFRESH_LOCK_KEY})
                    conn.commit()
            return
        yield

    @contextmanager
    def _exclusive(self):
        try:
            parsed = make_url(self.url)
        except Exception as exc:
            raise warehouse_error(exc, self.url) from exc
        if parsed.get_backend_name() != "duckdb" or parsed.database in (None, "", ":memory:"):
            yield
            return
        lock_path = Path(parsed.database + ".lock")
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(lock_path, "w") as handle:
            started = time.monotonic()
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                # Another refresh (or step) is writing: wait for it rather than fail, and say so once.
                dg.get_dagster_logger().info(
                    f"another refresh is using the DuckDB warehouse {parsed.database}: waiting for it to finish"
                )
                fcntl.flock(handle, fcntl.LOCK_EX)
            waited = time.monotonic() - started
            if waited > 1:
                dg.get_dagster_logger().info(f"waited {waited:.1f}s for the DuckDB warehouse lock")
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
