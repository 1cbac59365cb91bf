"""The release tables: one row per release version, its input files, its published figures.

Only disclosure-controlled figures are stored (as in `metric_values_published`): no row here is
personal data, so an erasure request deletes nothing here (SECURITY.md, "Releases").
"""

from __future__ import annotations

from sqlalchemy import Column, Date, DateTime, Integer, String, Table, Text

from amed_pipeline.metrics.tables import metric_columns
from amed_pipeline.warehouse.schema import metadata

release = Table(
    "release",
    metadata,
    Column("release_id", String, primary_key=True),  # <slug>-v<version>
    Column("name", String, nullable=False),
    Column("slug", String, nullable=False),
    Column("version", Integer, nullable=False, autoincrement=False),
    Column("as_at", Date, nullable=False),
    Column("as_known_at", Date),
    Column("run_id", String, nullable=False),
    Column("code_version", String, nullable=False),  # package version, metric code version, git commit
    Column("metrics_version", String, nullable=False),
    Column("inputs_fingerprint", String, nullable=False),
    Column("figures_fingerprint", String, nullable=False),
    Column("disclosure_rules", Text, nullable=False),  # JSON
    Column("input_files", Integer, nullable=False, autoincrement=False),
    Column("figures", Integer, nullable=False, autoincrement=False),
    Column("folder", String, nullable=False),
    Column("created_at", DateTime, nullable=False),
)

release_input_file = Table(
    "release_input_file",
    metadata,
    Column("release_id", String, primary_key=True),
    Column("source_file", String, primary_key=True),
    Column("partnership_id", String, nullable=False),
    Column("dataset", String, nullable=False),
    Column("content_hash", String, nullable=False),
    Column("first_landed_at", DateTime),
)

release_metric_values = Table(
    "release_metric_values",
    metadata,
    Column("release_id", String, nullable=False),
    *metric_columns([Column("observation_status", String, nullable=False)], stamped=False),
)
