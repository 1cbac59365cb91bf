"""Retention of raw exports: files older than the configured period are archived or deleted.

The raw exports are the most sensitive data the pipeline holds (names, emails, job details), and
UK GDPR's storage limitation says not to keep them longer than needed. How long is the
programme's decision, so the period is configuration (`retention:` in `partnerships.yaml`) and
off by default. A file's age is its modification time: when the export was saved into the data
dir (copying without preserving times makes a file young again).

What it acts on: only files a configured source's glob matches (never the config, the reference
tables or anything else in the data dir), and only those that resolve inside the data dir.
`archive` moves a file to `<data dir>/archive/<same relative path>`, which no source reads;
`delete` removes it. Either way the next refresh no longer loads its rows: the warehouse is
rebuilt from the raw files that remain, so older sessions drop out of the metrics. A dry run
(the default when materialised by hand) only lists what would happen.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from amed_pipeline.config import ProgrammeConfig
from amed_pipeline.config.partnerships import ARCHIVE_DIR

SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class RetentionAction:
    file: str  # relative to the data dir
    age_days: int
    action: str  # archive | delete
    destination: str  # relative to the data dir; "" when deleted
    done: bool  # False in a dry run


def expired(files: Iterable[Path], now: float, days: int, mtime: Callable[[Path], float] | None = None) -> list[Path]:
    """The files last modified more than `days` days before `now` (seconds since the epoch)."""
    mtime = mtime or (lambda p: p.stat().st_mtime)
    cutoff = now - days * SECONDS_PER_DAY
    return sorted(p for p in files if mtime(p) < cutoff)


def raw_export_files(config: ProgrammeConfig) -> list[Path]:
    """Every file a configured source reads today that lies inside the data dir."""
    root = config.data_dir.resolve()
    files = {p for source in config.sources() for p in source.files(config.data_dir)}
    return sorted(p for p in files if p.resolve().is_relative_to(root))


def archive_destination(data_dir: Path, path: Path) -> Path:
    """`<data dir>/archive/<relative path>`, with a numeric suffix if that name is taken."""
    relative = path.relative_to(data_dir)
    destination = data_dir / ARCHIVE_DIR / relative
    counter = 1
    while destination.exists():
        destination = data_dir / ARCHIVE_DIR / relative.with_name(f"{relative.stem}.{counter}{relative.suffix}")
        counter += 1
    return destination


def enforce_retention(config: ProgrammeConfig, dry_run: bool, now: float | None = None) -> list[RetentionAction]:
    """Apply (or, in a dry run, list) the retention policy; [] when retention is off."""
    policy = config.retention
    if policy.raw_exports_days is None:
        return []
    now = time.time() if now is None else now
    data_dir = config.data_dir
    actions = []
    for path in expired(raw_export_files(config), now, policy.raw_exports_days):
        age_days = int((now - path.stat().st_mtime) // SECONDS_PER_DAY)
        destination = archive_destination(data_dir, path) if policy.action == "archive" else None
        if not dry_run:
            if destination is not None:
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(path, destination)
            else:
                path.unlink()
        actions.append(
            RetentionAction(
                file=path.relative_to(data_dir).as_posix(),
                age_days=age_days,
                action=policy.action,
                destination=destination.relative_to(data_dir).as_posix() if destination is not None else "",
                done=not dry_run,
            )
        )
    return actions
