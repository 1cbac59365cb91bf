"""Where things are: data dir, warehouse, export dir, keys and Dagster home, from `AMED_*` variables
with their defaults.

These functions read the environment when called, never at import time. Only the data dir and the
config name are read when the code location loads (they decide which assets exist); the resources
(`defs/resources.py`) call the others when a run uses them, so that a secret never becomes config
shown in the UI and a test steers a run by passing overrides to `build_definitions`, not by editing
the environment.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR_VAR = "AMED_DATA_DIR"
WAREHOUSE_URL_VAR = "AMED_WAREHOUSE_URL"
DUCKDB_MEMORY_LIMIT_VAR = "AMED_DUCKDB_MEMORY_LIMIT"
EXPORT_DIR_VAR = "AMED_EXPORT_DIR"
PSEUDONYM_KEY_VAR = "AMED_PSEUDONYM_KEY"
PSEUDONYM_KEY_FILE_VAR = "AMED_PSEUDONYM_KEY_FILE"
ERASURE_LIST_VAR = "AMED_ERASURE_LIST"
ERASURE_KEY_VAR = "AMED_ERASURE_KEY"
CONFIG_VAR = "AMED_CONFIG"
DEFAULT_WAREHOUSE_FILE = "warehouse/amed.duckdb"
# DuckDB would otherwise let its buffer pool grow to 80 % of the machine's memory; beyond the
# limit it spills to disk. `AMED_DUCKDB_MEMORY_LIMIT` changes it.
DEFAULT_DUCKDB_MEMORY_LIMIT = "512MB"


def data_dir() -> Path:
    """`AMED_DATA_DIR`, default the project's `data/` folder."""
    return Path(os.environ.get(DATA_DIR_VAR) or PROJECT_ROOT / "data").resolve()


def config_name() -> str:
    """`AMED_CONFIG`: the config file's name inside the data dir, default `partnerships.yaml`."""
    return os.environ.get(CONFIG_VAR) or "partnerships.yaml"


def default_warehouse_url(directory: Path | str) -> str:
    """The embedded DuckDB warehouse of a data dir."""
    return f"duckdb:///{(Path(directory).resolve() / DEFAULT_WAREHOUSE_FILE).as_posix()}"


def warehouse_url(directory: Path | str | None = None) -> str:
    """`AMED_WAREHOUSE_URL`, default the DuckDB file in `directory` (default the data dir)."""
    return os.environ.get(WAREHOUSE_URL_VAR) or default_warehouse_url(directory or data_dir())


def duckdb_memory_limit() -> str:
    """`AMED_DUCKDB_MEMORY_LIMIT`, default 512MB."""
    return os.environ.get(DUCKDB_MEMORY_LIMIT_VAR) or DEFAULT_DUCKDB_MEMORY_LIMIT


def export_dir(directory: Path | str | None = None) -> Path:
    """`AMED_EXPORT_DIR`, default `exports/` in `directory` (default the data dir)."""
    configured = os.environ.get(EXPORT_DIR_VAR)
    return Path(configured) if configured else Path(directory or data_dir()) / "exports"


def pseudonym_key() -> str | None:
    """`AMED_PSEUDONYM_KEY` (a secret), None when unset."""
    return os.environ.get(PSEUDONYM_KEY_VAR) or None


def erasure_key() -> str | None:
    """`AMED_ERASURE_KEY` (a secret), None when unset."""
    return os.environ.get(ERASURE_KEY_VAR) or None


def secret(name: str) -> str | None:
    """The environment variable `name` (an API token the config names), None when unset."""
    return os.environ.get(name) or None


def default_key_file() -> Path:
    """Where a generated pseudonym key is kept: outside the warehouse and the repository."""
    configured = os.environ.get(PSEUDONYM_KEY_FILE_VAR)
    if configured:
        return Path(configured).expanduser()
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "amed_pipeline" / "pseudonym.key"


def erasure_list_file() -> Path:
    """`AMED_ERASURE_LIST`, default `erasure_list.txt` beside the pseudonym key file (never in the repo)."""
    configured = os.environ.get(ERASURE_LIST_VAR)
    if configured:
        return Path(configured).expanduser()
    return default_key_file().parent / "erasure_list.txt"


def erasure_key_file(list_file: Path) -> Path:
    """Where the erasure list's own key is generated when `AMED_ERASURE_KEY` is unset: beside the list."""
    return Path(list_file).with_name("erasure.key")


def default_dagster_home() -> Path:
    return PROJECT_ROOT / ".dagster_home"
