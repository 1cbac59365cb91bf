"""Where things are: data dir, key file and Dagster home, from `AMED_*` variables with defaults.

These functions read the environment when called (at code-location load or run time), never at
import time.
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


def data_dir() -> Path:
    """`AMED_DATA_DIR`, default the project's `data/` folder."""
    return Path(os.environ.get(DATA_DIR_VAR) or PROJECT_ROOT / "data").resolve()


def config_name() -> str:
    """`AMED_CONFIG`: the config file's name inside the data dir, default `partnerships.yaml`."""
    return os.environ.get(CONFIG_VAR) or "partnerships.yaml"


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
