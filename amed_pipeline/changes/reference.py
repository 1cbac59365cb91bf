"""The reference tables, loaded and hashed once while their files do not change.

Job titles are classified as files land, sessions and settings as partnerships are staged, and
the labels are loaded across partnerships: the raw exports, staging, the warehouse load and the
planner all depend on the reference tables. One run (in process) or one plan hashes them once
and parses them at most once here; a file edited since (another size or modification time) is
read again.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from amed_pipeline.changes.hashing import digest_bytes
from amed_pipeline.staging.classification import ReferenceTables, load_reference_tables


class Reference:
    """A reference dir's digest (what the fingerprints include) and its tables, parsed on first
    use: a plan only needs the digest, and a malformed table fails the step that uses it."""

    def __init__(self, directory: Path, digest: str):
        self.directory = directory
        self.digest = digest

    @cached_property
    def tables(self) -> ReferenceTables:
        return load_reference_tables(self.directory)


def digest_reference_files(paths: list[Path]) -> str:
    """One digest of every reference file's name and bytes (in name order)."""
    return digest_bytes(b"".join(path.name.encode() + b"\0" + path.read_bytes() for path in sorted(paths)))


_loaded: dict[Path, tuple[tuple, Reference]] = {}


def load_reference(reference_dir: Path) -> Reference:
    """The reference tables of a dir, hashed and parsed once per process while their files are
    unchanged (same names, inodes, sizes and modification times)."""
    directory = Path(reference_dir).resolve()
    paths = sorted(directory.glob("*.csv"))
    stamp = tuple((p.name, s.st_ino, s.st_size, s.st_mtime_ns) for p in paths for s in [p.stat()])
    cached = _loaded.get(directory)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    reference = Reference(directory, digest_reference_files(paths))
    _loaded[directory] = (stamp, reference)
    return reference


def reference_digest(reference_dir: Path) -> str:
    """The digest of a dir's reference tables (hashed once, see `load_reference`)."""
    return load_reference(reference_dir).digest
