"""The small state the pulls keep between nights: one cursor per source and a request count per token.

Both live under `<data dir>/api_state/` as JSON written atomically (temporary file, then rename),
outside `raw/` so nothing here is ever read as data and retention never archives it. A cursor
moves only after the pages it covers are saved as snapshots, so a crash or a stop re-reads
rather than skips. Neither file holds a token: the budget is keyed by the token's environment
variable *name*.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from pathlib import Path

STATE_DIR = "api_state"


def write_json_atomically(path: Path, value) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(value, handle, ensure_ascii=False, sort_keys=True, indent=1)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


def cursor_path(data_dir: Path, partnership_id: str, source_name: str) -> Path:
    return Path(data_dir) / STATE_DIR / partnership_id / f"{source_name}.json"


def load_cursor(data_dir: Path, partnership_id: str, source_name: str) -> dict:
    """`{"cursor": ISO time or delta link, "resume": {...}}` or {} before the first pull."""
    return _read(cursor_path(data_dir, partnership_id, source_name))


def save_cursor(data_dir: Path, partnership_id: str, source_name: str, state: dict) -> None:
    write_json_atomically(cursor_path(data_dir, partnership_id, source_name), state)


class RequestBudget:
    """Requests per token per UTC day, shared by every source that uses the token, kept on disk."""

    def __init__(self, data_dir: Path, token_env: str, limit: int, today: dt.date | None = None):
        self.path = Path(data_dir) / STATE_DIR / "budget" / f"{token_env}.json"
        self.limit = limit
        self.day = (today or dt.datetime.now(dt.timezone.utc).date()).isoformat()

    def used(self) -> int:
        return int(_read(self.path).get(self.day, 0))

    def remaining(self) -> int:
        return max(self.limit - self.used(), 0)

    def spend(self, n: int = 1) -> None:
        counts = _read(self.path)
        counts = {self.day: int(counts.get(self.day, 0)) + n}  # older days are dropped
        write_json_atomically(self.path, counts)
