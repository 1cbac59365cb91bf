"""Freeze an evaluation release: the published figures as they stood "as at" a date.

- `as_at`: sessions that started and survey responses submitted up to and including that date
  (responses without a submission time are left out: nothing says they were in by then).
  People's roles are as at that date too: a person whose later bookings are left out takes the
  role of their most recent attended booking up to it.
- `as_known_at` (optional): only the raw file versions first landed by that date
  (`file_arrival`). The figures are then rebuilt from those files alone, through the same
  nightly job, into a scratch warehouse, so duplicates across overlapping downloads, statuses and
  roles resolve exactly as they would have then. Without it, the scratch copy is taken from the
  live warehouse (every file landed so far).

The figures go through the same metric code (`breakdowns.all_metric_rows`) and disclosure
control (`disclosure.publish`) as the nightly tables, in a scratch in-memory DuckDB: the live
warehouse is only read, except to record the release.

A release is never overwritten. Its version is identified by its input files and hashes, its
dates, the disclosure rules, the metric code version and the published figures themselves: the
same identity again reuses the version (and writes byte-identical files); anything different
(a late file, a corrected file, an erasure, new rules) records the next version, in its own
folder `<export dir>/releases/<name>-v<version>/`. The files hold no run id and no clock time,
so two runs of one release from the same raw data give the same bytes.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Callable

import pandas as pd
import sqlalchemy as sa
from sqlalchemy import Connection, func, select

from amed_pipeline.changes.hashing import digest_file, fingerprint_of
from amed_pipeline.landing.arrivals import file_arrival, record_arrivals
from amed_pipeline.metrics import tables as metric_tables
from amed_pipeline.metrics.breakdowns import all_metric_rows, annotate_definitions
from amed_pipeline.metrics.compute import METRIC_COLUMNS
from amed_pipeline.metrics.disclosure import DisclosureRules, publish
from amed_pipeline.releases.tables import release, release_input_file, release_metric_values
from amed_pipeline.warehouse import schema

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PUBLISHED_COLUMNS = [*METRIC_COLUMNS, "observation_status"]
RELEASE_FILES = (
    "metric_values.csv",
    "metric_definitions.csv",
    "amed_metrics.xlsx",
    "evaluation_report.html",
    "input_files.csv",
    "release.json",
)
SCRATCH_TABLES = ("dim_session", "fact_booking", "dim_person", "fact_feedback", "fact_followup")


@dataclass(frozen=True)
class ReleaseRequest:
    name: str
    as_at: dt.date
    as_known_at: dt.date | None = None

    @property
    def slug(self) -> str:
        return slugify(self.name)


@dataclass(frozen=True)
class ReleaseOutcome:
    release_id: str
    name: str
    version: int
    new_version: bool
    folder: Path
    figures: int
    input_files: int
    inputs_fingerprint: str
    figures_fingerprint: str
    previous_version: int | None


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    if not slug:
        raise ValueError(f"release name {name!r} has no letters or digits")
    return slug


def code_version(metrics_version: str) -> str:
    """The package version, the metric code version and the git commit (when there is one)."""
    try:
        package = package_metadata.version("amed_pipeline")
    except package_metadata.PackageNotFoundError:
        package = "unknown"
    try:
        commit = (
            subprocess.run(
                ["git", "rev-parse", "--short=12", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10
            ).stdout.strip()
            or "unknown"
        )
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    return f"amed_pipeline {package}; metrics {metrics_version}; commit {commit}"


# --- inputs --------------------------------------------------------------------------------------


def input_files(conn: Connection, as_known_at: dt.date | None) -> pd.DataFrame:
    """The loaded files (ingest ledger) with their first landing, limited to those known by `as_known_at`."""
    ledger = pd.DataFrame(
        conn.execute(
            select(
                schema.ingest_ledger.c.source_file,
                schema.ingest_ledger.c.partnership_id,
                schema.ingest_ledger.c.dataset,
                schema.ingest_ledger.c.content_hash,
            )
        )
        .mappings()
        .all(),
        columns=["source_file", "partnership_id", "dataset", "content_hash"],
    )
    record_arrivals(conn, ledger, backfilled=True)  # files landed before arrivals were recorded
    arrivals = pd.DataFrame(
        conn.execute(select(file_arrival.c.source_file, file_arrival.c.content_hash, file_arrival.c.first_landed_at))
        .mappings()
        .all(),
        columns=["source_file", "content_hash", "first_landed_at"],
    )
    files = ledger.merge(arrivals, on=["source_file", "content_hash"], how="left")
    if as_known_at is not None:
        cutoff = pd.Timestamp(as_known_at) + pd.Timedelta(days=1)
        files = files[pd.to_datetime(files["first_landed_at"]) < cutoff]
    return files.sort_values("source_file").reset_index(drop=True)


def _read(conn: Connection, name: str) -> pd.DataFrame:
    table = getattr(schema, name)
    return pd.DataFrame(conn.execute(select(table)).mappings().all(), columns=[c.name for c in table.columns])


def rebuild_from_files(
    files: pd.DataFrame, config, workdir: Path, run_nightly: Callable[[Path, str, Path], bool]
) -> str:
    """A scratch warehouse built by the nightly job from the given raw files alone; its URL.

    The files are copied (only where their bytes still have the ledger's hash) into a scratch data
    dir with the config and reference tables; exports of that run stay in the scratch dir.
    `run_nightly(data_dir, warehouse_url, export_dir)` runs the nightly job on them and says whether it succeeded
    (the Dagster layer passes it in: releases sit below `defs` and `definitions`).
    """
    data_dir = workdir / "data"
    shutil.copytree(config.data_dir / "reference", data_dir / "reference")
    shutil.copy2(config.data_dir / "partnerships.yaml", data_dir / "partnerships.yaml")
    for _, f in files.iterrows():
        source = config.data_dir / f["source_file"]
        if not source.exists() or digest_file(source) != f["content_hash"]:
            raise RuntimeError(
                f"release input {f['source_file']} is no longer the version that was landed: cannot rebuild"
            )
        target = data_dir / f["source_file"]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    url = f"duckdb:///{workdir / 'scratch.duckdb'}"
    if not run_nightly(data_dir, url, workdir / "exports"):  # never the real export dir
        raise RuntimeError("rebuilding the release's inputs failed: see the scratch run's events")
    return url


def scratch_as_at(source: Connection, as_at: dt.date) -> tuple[sa.Engine, Connection]:
    """An in-memory DuckDB holding the facts as at `as_at` (sessions started and responses submitted by then)."""
    engine = sa.create_engine("duckdb:///:memory:", poolclass=sa.pool.StaticPool)
    conn = engine.connect()
    raw = conn.connection.dbapi_connection
    for name in SCRATCH_TABLES:
        raw.register(f"src_{name}", _read(source, name))
    cutoff = (pd.Timestamp(as_at) + pd.Timedelta(days=1)).to_pydatetime()
    statements = [
        "CREATE TABLE dim_session AS SELECT * FROM src_dim_session WHERE start_at < :cutoff",
        "CREATE TABLE fact_booking AS SELECT b.* FROM src_fact_booking b WHERE b.session_key IN (SELECT session_key FROM dim_session)",
        "CREATE TABLE fact_feedback AS SELECT * FROM src_fact_feedback WHERE submitted_at < :cutoff",
        "CREATE TABLE fact_followup AS SELECT * FROM src_fact_followup WHERE submitted_at < :cutoff",
        # A person whose later bookings are left out takes the role of their latest booking up to
        # the date (attended first); everyone else keeps the role the warehouse gives them.
        """CREATE TABLE dim_person AS
           WITH changed AS (
               SELECT DISTINCT person_key FROM src_fact_booking WHERE session_key NOT IN (SELECT session_key FROM dim_session)
           ), latest AS (
               SELECT b.person_key, b.profession, b.role_group,
                      ROW_NUMBER() OVER (PARTITION BY b.person_key ORDER BY CASE WHEN b.status = 'attended' THEN 0 ELSE 1 END,
                                         s.start_at DESC, b.session_key DESC) AS rank
               FROM fact_booking b JOIN dim_session s ON s.session_key = b.session_key
               WHERE b.person_key IN (SELECT person_key FROM changed)
           )
           SELECT p.person_key, p.key_version, COALESCE(l.profession, p.profession) AS profession,
                  COALESCE(l.role_group, p.role_group) AS role_group
           FROM src_dim_person p LEFT JOIN latest l ON l.person_key = p.person_key AND l.rank = 1""",
    ]
    for statement in statements:
        conn.execute(sa.text(statement), {"cutoff": cutoff} if ":cutoff" in statement else {})
    for name in SCRATCH_TABLES:
        raw.unregister(f"src_{name}")
    return engine, conn


def release_figures(
    source: Connection, request: ReleaseRequest, rules: DisclosureRules
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(exact, published) figures as at the request's date, from `source` (live or rebuilt warehouse)."""
    engine, conn = scratch_as_at(source, request.as_at)
    try:
        exact = all_metric_rows(conn)
    finally:
        conn.close()
        engine.dispose()
    published = publish(exact, rules)[PUBLISHED_COLUMNS] if len(exact) else pd.DataFrame(columns=PUBLISHED_COLUMNS)
    return exact, published


def figures_digest(published: pd.DataFrame) -> str:
    rows = published[PUBLISHED_COLUMNS].astype(object).where(published[PUBLISHED_COLUMNS].notna(), None)
    return fingerprint_of(sorted(map(lambda r: [str(v) for v in r], rows.itertuples(index=False, name=None))))


# --- freezing ------------------------------------------------------------------------------------


def _published_for(
    conn: Connection,
    request: ReleaseRequest,
    config,
    rules: DisclosureRules,
    files: pd.DataFrame,
    run_nightly: Callable[[Path, str, Path], bool],
) -> pd.DataFrame:
    """The release's published figures, sorted: rebuilt from the files known then, or from the live warehouse.

    A rebuild is needed only when `as_known_at` leaves out some of the files landed so far.
    """
    everything = input_files(conn, None)
    if request.as_known_at is not None and len(files) < len(everything):
        with tempfile.TemporaryDirectory(prefix="amed_release_") as workdir:
            url = rebuild_from_files(files, config, Path(workdir), run_nightly)
            engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
            try:
                with engine.connect() as rebuilt:
                    _, published = release_figures(rebuilt, request, rules)
            finally:
                engine.dispose()
    else:
        _, published = release_figures(conn, request, rules)
    return published.sort_values(
        ["metric_id", "partnership_id", "dimension", "dimension_value"], kind="stable"
    ).reset_index(drop=True)


def _inputs_fingerprint(files: pd.DataFrame, request: ReleaseRequest) -> str:
    """The identity of the release's inputs: its files with their hashes, and its two dates."""
    return fingerprint_of(
        {
            "files": sorted(zip(files["source_file"], files["content_hash"])),
            "as_at": str(request.as_at),
            "as_known_at": str(request.as_known_at),
        }
    )


def _choose_version(
    conn: Connection, request: ReleaseRequest, inputs_fp: str, figures_fp: str, rules_json: str, metrics_version: str
) -> tuple[int, bool, int | None]:
    """(version, new version?, previous version): the recorded version with the same identity, else the next one."""
    existing = pd.DataFrame(
        conn.execute(select(release).where(release.c.slug == request.slug)).mappings().all(),
        columns=[c.name for c in release.columns],
    )
    same = existing[
        (existing["inputs_fingerprint"] == inputs_fp)
        & (existing["figures_fingerprint"] == figures_fp)
        & (existing["disclosure_rules"] == rules_json)
        & (existing["metrics_version"] == metrics_version)
    ]
    previous = int(existing["version"].max()) if len(existing) else None
    if len(same):
        return int(same["version"].iloc[0]), False, previous
    return (previous or 0) + 1, True, previous


def _record_release(
    conn: Connection,
    request: ReleaseRequest,
    manifest: dict,
    rules_json: str,
    folder: Path,
    run_id: str,
    files: pd.DataFrame,
    published: pd.DataFrame,
) -> None:
    """Records a new release version: its row, its input files and its published figures."""
    release_id, metrics_version = manifest["release_id"], manifest["metrics_version"]
    conn.execute(
        release.insert().values(
            release_id=release_id,
            name=request.name,
            slug=request.slug,
            version=manifest["version"],
            as_at=request.as_at,
            as_known_at=request.as_known_at,
            run_id=run_id,
            code_version=code_version(metrics_version),
            metrics_version=metrics_version,
            inputs_fingerprint=manifest["inputs_fingerprint"],
            figures_fingerprint=manifest["figures_fingerprint"],
            disclosure_rules=rules_json,
            input_files=len(files),
            figures=len(published),
            folder=str(folder),
            created_at=dt.datetime.now().replace(microsecond=0),
        )
    )
    if len(files):
        conn.execute(
            release_input_file.insert(),
            [
                {
                    "release_id": release_id,
                    "source_file": f["source_file"],
                    "partnership_id": f["partnership_id"],
                    "dataset": f["dataset"],
                    "content_hash": f["content_hash"],
                    "first_landed_at": None
                    if pd.isna(f["first_landed_at"])
                    else pd.Timestamp(f["first_landed_at"]).to_pydatetime(),
                }
                for _, f in files.iterrows()
            ],
        )
    if len(published):
        stored = published.assign(release_id=release_id)
        stored = stored.astype(object).where(stored.notna(), None)
        conn.execute(release_metric_values.insert(), stored.to_dict("records"))


def freeze(
    conn: Connection,
    request: ReleaseRequest,
    config,
    export_dir: Path,
    run_id: str,
    metrics_version: str,
    labels,
    write_outputs,
    surveys_not_run,
    run_nightly: Callable[[Path, str, Path], bool],
) -> ReleaseOutcome:
    """Compute, record (a new version unless the identity matches one) and export one release.

    `conn`: the live warehouse in a transaction; `labels`: `presentation.Labels`;
    `write_outputs(folder, published, definitions, not_applicable, files, manifest)`: writes the files;
    `surveys_not_run(config, landed)`: the surveys each partnership does not run (as the nightly
    tables say); `run_nightly`: see `rebuild_from_files`.
    """
    rules = DisclosureRules(**config.disclosure)
    files = input_files(conn, request.as_known_at)
    published = _published_for(conn, request, config, rules, files, run_nightly)
    rules_json = json.dumps(asdict(rules), sort_keys=True)
    inputs_fp = _inputs_fingerprint(files, request)
    figures_fp = figures_digest(published)
    version, new_version, previous = _choose_version(conn, request, inputs_fp, figures_fp, rules_json, metrics_version)
    release_id = f"{request.slug}-v{version}"
    folder = Path(export_dir) / "releases" / release_id
    landed = {(p, d) for p, d in zip(files["partnership_id"], files["dataset"])}
    not_applicable = surveys_not_run(config, landed)
    manifest = {
        "release": request.name,
        "release_id": release_id,
        "version": version,
        "as_at": str(request.as_at),
        "as_known_at": str(request.as_known_at) if request.as_known_at else None,
        "inputs_fingerprint": inputs_fp,
        "figures_fingerprint": figures_fp,
        "metrics_version": metrics_version,
        "disclosure_rules": json.loads(rules_json),
        "input_files": len(files),
        "figures": len(published),
    }
    definitions = annotate_definitions(metric_tables.definitions_frame())
    if new_version:
        _record_release(conn, request, manifest, rules_json, folder, run_id, files, published)
    write_outputs(folder, published, definitions, not_applicable, files, manifest)
    return ReleaseOutcome(
        release_id,
        request.name,
        version,
        new_version,
        folder,
        len(published),
        len(files),
        inputs_fp,
        figures_fp,
        previous,
    )


def releases_frame(conn: Connection) -> pd.DataFrame:
    return pd.DataFrame(
        conn.execute(select(release).order_by(release.c.slug, release.c.version)).mappings().all(),
        columns=[c.name for c in release.columns],
    )


def resolve(conn: Connection, reference: str) -> pd.Series:
    """A release by id (`phase-2-v1`), or by name or slug (its latest version)."""
    frame = releases_frame(conn)
    by_id = frame[frame["release_id"] == reference]
    if len(by_id):
        return by_id.iloc[0]
    by_name = frame[(frame["slug"] == slugify(reference))]
    if by_name.empty:
        known = ", ".join(sorted(set(frame["release_id"]))) or "none yet"
        raise LookupError(f"no release {reference!r} (known: {known})")
    return by_name.sort_values("version").iloc[-1]


def stored_figures(conn: Connection, release_id: str) -> pd.DataFrame:
    rows = (
        conn.execute(select(release_metric_values).where(release_metric_values.c.release_id == release_id))
        .mappings()
        .all()
    )
    return pd.DataFrame(rows, columns=[c.name for c in release_metric_values.columns])


def stored_inputs(conn: Connection, release_id: str) -> pd.DataFrame:
    rows = (
        conn.execute(select(release_input_file).where(release_input_file.c.release_id == release_id)).mappings().all()
    )
    return pd.DataFrame(rows, columns=[c.name for c in release_input_file.columns])


def release_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(release)).scalar())
