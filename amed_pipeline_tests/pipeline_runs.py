"""Helpers for tests that run the whole pipeline: in-process runs and warehouse snapshots."""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from amed_pipeline.config import load_programme_config
from amed_pipeline.definitions import build_definitions
from amed_pipeline.defs.jobs import NIGHTLY_JOB_NAME, all_partnerships_tags
from amed_pipeline.metrics import tables as metric_tables
from amed_pipeline.warehouse import schema

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DATA_DIR = PROJECT_ROOT / "data"
TEST_KEY = "test-pseudonym-key-not-secret"
# Columns that legitimately differ between two runs over the same input.
RUN_STAMPS = ("run_id", "computed_at")


@contextmanager
def env(**values):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update({k: str(v) for k, v in values.items()})
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_nightly_in_process(
    data_dir: Path,
    warehouse_url: str,
    export_dir: Path,
    instance=None,
    key: str = TEST_KEY,
    tags: dict[str, str] | None = None,
):
    """Run the nightly job in this process against the given data dir, warehouse and export dir.

    `instance`: a persistent DagsterInstance (event log, compute logs, IO storage on disk), else
    an ephemeral one; `key`: the pseudonym key; `tags`: extra run tags (e.g. the rekey tag). The
    key travels as in production, through `AMED_PSEUDONYM_KEY` (the privacy audit checks it never
    leaks); the export dir is an override.
    """
    with env(AMED_PSEUDONYM_KEY=key):
        defs = build_definitions(data_dir, warehouse_url, export_dir=export_dir)
        run_tags = {**all_partnerships_tags(load_programme_config(data_dir).partnership_ids), **(tags or {})}
        result = defs.resolve_job_def(NIGHTLY_JOB_NAME).execute_in_process(
            raise_on_error=False, instance=instance, tags=run_tags
        )
    return result


def read_table(url: str, name: str) -> pd.DataFrame:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return pd.read_sql_query(sa.text(f'SELECT * FROM "{name}"'), conn)
    finally:
        engine.dispose()


def snapshot(url: str, keep_stamps: bool = False) -> dict[str, pd.DataFrame]:
    """Every pipeline table, sorted (and without run stamps unless kept), for comparing two runs."""
    out = {}
    names = (
        [t.name for t in schema.LOADED_TABLES]
        + ["landing_file", "landing_bookings", "staging_state"]
        + [
            t.name
            for t in (
                metric_tables.metric_values,
                metric_tables.metric_values_published,
                metric_tables.metric_definitions,
                metric_tables.metrics_headline,
            )
        ]
    )
    for name in names:
        frame = read_table(url, name)
        if not keep_stamps:
            frame = frame.drop(columns=list(RUN_STAMPS), errors="ignore")
        frame = frame.sort_values(list(frame.columns)).reset_index(drop=True)
        out[name] = frame
    return out


def metric(
    values: pd.DataFrame, metric_id: str, partnership: str = "all", dimension: str = "", value: str = ""
) -> pd.Series:
    rows = values[
        (values["metric_id"] == metric_id)
        & (values["partnership_id"] == partnership)
        & (values["dimension"] == dimension)
        & (values["dimension_value"] == value)
    ]
    assert len(rows) == 1, f"expected one row for {metric_id}/{partnership}/{dimension}/{value}, got {len(rows)}"
    return rows.iloc[0]


@contextmanager
def postgres_database(server_url: str):
    """A fresh database on the test server, dropped afterwards; yields its SQLAlchemy URL."""
    name = f"amed_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
