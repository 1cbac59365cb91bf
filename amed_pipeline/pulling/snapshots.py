"""Immutable raw page snapshots: what an API returned, page by page, before anything parses it.

A pull writes its pages into a staging folder (`raw/<partnership>/api/.partial/<source>-<ts>/`)
and, when it ends (complete, or stopped at a page boundary), renames it in one step to
`raw/<partnership>/api/<source>/<UTC timestamp>/`: a reader never sees half a pull, and a pull
that crashed leaves only a staging folder, which the next pull deletes (its pages were never
counted, so the cursor re-reads them). Each page is a JSON document: the redacted URL, status,
fetch time, what kind of page it is, and the body as received (`body`, or `body_text` when the
service sent something that is not JSON: that page is then quarantined like an unreadable file).
No request header is stored, so no Authorization header can be.

Snapshot folders sort by name in time order; the landing layer relies on that for "a record seen
again replaces its earlier version" (later files win).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import shutil
from pathlib import Path

from amed_pipeline.config.api_sources import api_source_dir
from amed_pipeline.pulling.http import Response

PARTIAL_DIR = ".partial"
TIMESTAMP_FORMAT = "%Y-%m-%dT%H%M%S.%fZ"


def pull_timestamp(now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.timezone.utc)
    return now.astimezone(dt.timezone.utc).strftime(TIMESTAMP_FORMAT)


class SnapshotWriter:
    """Writes one pull's pages; `finish()` publishes them."""

    def __init__(
        self, data_dir: Path, partnership_id: str, source_name: str, source_format: str, now: dt.datetime | None = None
    ):
        self.source_format = source_format
        root = Path(data_dir) / api_source_dir(partnership_id, source_name)
        stamp = pull_timestamp(now)
        self.final_dir = root / stamp
        partial_root = root.parent / PARTIAL_DIR
        self.partial_dir = partial_root / f"{source_name}-{stamp}"
        # A pull that crashed earlier left its staging folder: its pages were never counted.
        if partial_root.is_dir():
            for stale in partial_root.glob(f"{source_name}-*"):
                shutil.rmtree(stale, ignore_errors=True)
        self.pages: list[Path] = []

    def write(self, kind: str, response: Response, body=None, *, body_is_json: bool = True) -> Path:
        """Save one page (atomically); `body` overrides the parsed body (e.g. with download links removed)."""
        self.partial_dir.mkdir(parents=True, exist_ok=True)
        path = self.partial_dir / f"page-{len(self.pages) + 1:04d}.json"
        document = {
            "format": self.source_format,
            "kind": kind,
            "url": response.url,
            "status": response.status,
            "fetched_at": response.fetched_at,
        }
        if body_is_json:
            document["body"] = body
        else:
            document["body_text"] = response.text
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(document, ensure_ascii=False, sort_keys=True), encoding="utf-8")
        os.replace(temporary, path)
        self.pages.append(path)
        return path

    def finish(self) -> Path | None:
        """Publish the pages written (rename the folder); None when there were none."""
        if not self.pages:
            shutil.rmtree(self.partial_dir, ignore_errors=True)
            try:
                self.partial_dir.parent.rmdir()
            except OSError:
                pass
            return None
        self.final_dir.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.partial_dir, self.final_dir)
        try:
            self.partial_dir.parent.rmdir()  # only when no other pull is staging there
        except OSError:
            pass
        return self.final_dir


class MalformedPage(ValueError):
    """A snapshot page that cannot be read as the service's documented shape."""


def read_page(path: Path) -> dict:
    """A snapshot document; MalformedPage when the file or the service's body is not JSON."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise MalformedPage(f"not a readable snapshot page ({type(exc).__name__})") from None
    if not isinstance(document, dict) or "kind" not in document:
        raise MalformedPage("not a snapshot page (no 'kind')")
    if "body" not in document:
        raise MalformedPage(
            f"the service's {document.get('kind')} page was not valid JSON (HTTP {document.get('status')})"
        )
    return document


def sibling_bodies(path: Path, kind: str) -> list[dict]:
    """The bodies of the pages of `kind` in the same pull (e.g. the events beside an attendee page),
    else in the newest earlier pull that has them."""
    pull_dir = Path(path).parent
    candidates = [pull_dir] + sorted(
        (d for d in pull_dir.parent.iterdir() if d.is_dir() and d.name < pull_dir.name), reverse=True
    )
    for directory in candidates:
        bodies = _bodies_in(str(directory), kind)
        if bodies:
            return list(bodies)
    return []


@functools.lru_cache(maxsize=64)
def _bodies_in(directory: str, kind: str) -> tuple[dict, ...]:
    # Published pull folders never change, so reading each once per process is safe.
    bodies = []
    for page in sorted(Path(directory).glob("page-*.json")):
        try:
            document = read_page(page)
        except MalformedPage:
            continue
        if document["kind"] == kind and isinstance(document["body"], dict):
            bodies.append(document["body"])
    return tuple(bodies)
