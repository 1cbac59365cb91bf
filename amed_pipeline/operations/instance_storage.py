"""The Dagster instance of the command line, its SQLite storage with connections kept open.

Dagster's own SQLite storage creates a SQLAlchemy engine and opens a new connection for every read
and write, and closes it after. A refresh of the bundled sample writes ~220 events (each asset's
planned and done materialisation, each check, each step), most of them to two databases (the run's
own file and the cross-run index), so that a `make run` spent ~1.3 s of CPU (of ~12 s) on opening
connections, and more wall time on the WAL checkpoint SQLite makes when the last connection to a
file closes.

`PooledSqliteStorage` is the same storage (the same files, tables and migrations: the UI, the
daemon and Dagster's stock SQLite storage read what it writes, and it reads theirs) with one engine
per database file, whose pool keeps one connection open for the life of the instance. Only the
engines of the most recently used run files stay open (`MAX_OPEN_RUN_FILES`).

`open_instance()` is `DagsterInstance.get()` with this storage in place of Dagster's SQLite
default, for the runs the command line executes in its own process (`refresh`, `release`). An
instance configured otherwise (PostgreSQL in production, deploy/dagster.yaml) is opened as it is,
and `dagster.yaml` is not changed: the webserver and the daemon keep Dagster's own storage.

Nothing else changes: Dagster's lock still serialises the event log's connections within a
process, and writes still commit per event. The module imports only Dagster and SQLAlchemy.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import sqlalchemy as sa
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME, SqliteEventLogStorage
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
from dagster._core.storage.schedules.sqlite.sqlite_schedule_storage import SqliteScheduleStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._core.storage.sqlite_storage import (
    DagsterSqliteStorage,
    _event_logs_directory,
    _runs_directory,
    _schedule_directory,
)
from dagster._serdes import ConfigurableClassData
from dagster._utils import mkdir_p

# The run files whose engine (and one open connection) is kept, the most recently used ones; older
# ones are closed. The index file is always kept.
MAX_OPEN_RUN_FILES = 4


def pooled_engine(conn_string: str) -> sa.Engine:
    """An engine over one SQLite file that keeps one connection open between uses (and opens more,
    closed after use, when several are needed at once). Dagster's storage opens its connections with
    the same busy timeout; `check_same_thread=False` because the connection kept may be used next by
    another thread (Dagster's lock, not SQLite's, keeps the uses apart)."""
    return sa.create_engine(
        conn_string,
        poolclass=sa.pool.QueuePool,
        pool_size=1,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
    )


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """The event log, one file per run plus the index, with an engine kept per file."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        self._engines: OrderedDict[str, sa.Engine] = OrderedDict()
        super().__init__(base_dir, inst_data)
        # `has_table` runs inside `_connect` blocks (with `_db_lock` held), ~100 times a run: its own engine.
        self._schema_engine = pooled_engine(self.conn_string_for_shard(INDEX_SHARD_NAME))

    def has_table(self, table_name: str) -> bool:
        # Dagster's `has_table`, on a kept engine instead of a new one per call.
        with self._schema_engine.connect() as conn:
            return bool(self._schema_engine.dialect.has_table(conn, table_name))

    @contextmanager
    def _connect(self, shard: str) -> Iterator[sa.Connection]:
        # Dagster's `_connect`, with the engine kept instead of created and disposed on every call.
        with self._db_lock:
            engine = self._engine(shard)
            with engine.connect() as conn:
                with conn.begin():
                    yield conn

    def _engine(self, shard: str) -> sa.Engine:
        """The file's engine (the caller holds `_db_lock`), created and its schema checked on first use."""
        engine = self._engines.pop(shard, None)
        if engine is None:
            engine = pooled_engine(self.conn_string_for_shard(shard))
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
        self._engines[shard] = engine  # the most recently used last
        run_files = [name for name in self._engines if name != INDEX_SHARD_NAME]
        for name in run_files[:-MAX_OPEN_RUN_FILES]:
            self._engines.pop(name).dispose()
        return engine

    def _dispose_engines(self) -> None:
        with self._db_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()
        self._schema_engine.dispose()  # its connection reopens on next use

    def wipe(self) -> None:
        self._dispose_engines()  # the files are deleted: no connection may outlive them
        super().wipe()

    def upgrade(self) -> None:
        self._dispose_engines()
        super().upgrade()

    def dispose(self) -> None:
        super().dispose()
        self._dispose_engines()


class PooledSqliteRunStorage(SqliteRunStorage):
    """The run storage (`runs.db`) with its engine kept (Dagster's creates one per connection)."""

    def __init__(self, conn_string: str, inst_data: ConfigurableClassData | None = None):
        super().__init__(conn_string, inst_data)
        self._engine = pooled_engine(conn_string)

    @contextmanager
    def connect(self) -> Iterator[sa.Connection]:
        with self._engine.connect() as conn:
            with conn.begin():
                yield conn

    def dispose(self) -> None:
        super().dispose()
        self._engine.dispose()


class PooledSqliteStorage(DagsterSqliteStorage):
    """Dagster's SQLite storage (`storage: sqlite`, the default) under `base_dir`, with the pooled run
    and event storages; schedules are Dagster's own (a handful of queries per run)."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        # DagsterSqliteStorage.__init__ with the pooled classes (it names its classes itself).
        self.base_dir = base_dir
        self._run_storage = PooledSqliteRunStorage.from_local(_runs_directory(base_dir))
        self._event_log_storage = PooledSqliteEventLogStorage(_event_logs_directory(base_dir))
        self._schedule_storage = SqliteScheduleStorage.from_local(_schedule_directory(base_dir))
        self._inst_data = inst_data
        super(DagsterSqliteStorage, self).__init__()

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value) -> PooledSqliteStorage:
        mkdir_p(config_value["base_dir"])
        return cls(config_value["base_dir"], inst_data=inst_data)


def open_instance() -> dg.DagsterInstance:
    """The instance in `DAGSTER_HOME` (as `DagsterInstance.get()`), its SQLite storage pooled."""
    home = os.path.expanduser(os.environ.get("DAGSTER_HOME") or "")
    if not (os.path.isabs(home) and os.path.isdir(home)):
        return dg.DagsterInstance.get()  # raises Dagster's own error for a home that is unset or not a dir
    ref = InstanceRef.from_dir(home)
    storage = ref.storage_data
    if storage is not None and (storage.module_name, storage.class_name) == (
        DagsterSqliteStorage.__module__,
        DagsterSqliteStorage.__name__,
    ):
        pooled = ConfigurableClassData(__name__, PooledSqliteStorage.__name__, storage.config_yaml)
        ref = ref._replace(storage_data=pooled)
    return dg.DagsterInstance.from_ref(ref)
