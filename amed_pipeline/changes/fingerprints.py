"""What each step computes from: the fingerprints the assets record and the planner compares.

A step is up to date when the fingerprint of its inputs equals the one it recorded (`state`)
after its last successful run. The assets (`defs/`) and the refresh plan
(`operations.planning`) both call these functions, so a plan and a run never disagree.

- raw exports, per source and file: how the files are read (`source_fingerprint`), beside each
  file's content hash in the landing ledger;
- staging, per partnership: its landed files, its config, the reference tables, the semantics
  version (`staging_fingerprint`);
- the tables across partnerships: every staged fingerprint, the partnerships, the reference
  tables (`global_fingerprint`);
- the metric tables: every staged fingerprint, the disclosure and publishing rules, the
  partnerships blocked by an unreadable file, the metrics version (`metrics_fingerprint`);
- the exports and the report: the metric tables' fingerprint and the files' bytes as written
  (`outputs_fingerprint`);
- free text landed earlier: the set of known names it was last swept with
  (`known_names_fingerprint`);
- the new-export sensor: every configured export file's hash (`export_file_hashes`), the files
  that changed (`changed_files`) and a run key per change (`change_key`).
"""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from pathlib import Path

from amed_pipeline.changes.hashing import FINGERPRINT_LENGTH, digest_file, digest_lines, fingerprint_of
from amed_pipeline.changes.reference import reference_digest
from amed_pipeline.changes.state import staged_fingerprints, stored_fingerprint
from amed_pipeline.changes.versions import METRICS_STEP, METRICS_VERSION, PARSER_VERSION, SEMANTICS_VERSION
from amed_pipeline.config import ProgrammeConfig, Source
from amed_pipeline.landing.tables import partnership_fingerprint_rows
from amed_pipeline.warehouse.checks import blocked_partnerships


def source_fingerprint(
    source: Source, max_file_bytes: int, key_version: str, erasure_tokens: frozenset[str], reference: str = ""
) -> str:
    """How a source's files are read: a file landed under another fingerprint is read again.

    `reference` is the reference tables' digest: job titles are classified as they land, so new
    rules re-land files."""
    return fingerprint_of(
        {
            "format": source.format,
            "dataset": source.dataset,
            "options": source.options,
            "max_file_bytes": max_file_bytes,
            "key_version": key_version,
            "erasure": digest_lines(erasure_tokens),
            "parser": PARSER_VERSION,
            "reference": reference,
        }
    )


def staging_fingerprint(conn, config: ProgrammeConfig, partnership_id: str, reference_dir: Path) -> str:
    """Everything a partnership's staged slice depends on: its landed files, its config, the rules."""
    partnership = next(p for p in config.partnerships if p.id == partnership_id)
    return fingerprint_of(
        {
            "files": partnership_fingerprint_rows(conn, partnership_id),
            "sources": [(s.name, s.dataset, s.format, s.path, s.options) for s in partnership.sources],
            "programme": [config.start, config.end],
            "reference": reference_digest(reference_dir),
            "semantics": SEMANTICS_VERSION,
        }
    )


def global_fingerprint(conn, config: ProgrammeConfig) -> str:
    """What the tables across partnerships are computed from: every partnership's staged slice,
    the partnerships and the reference tables."""
    partnerships = [(p.id, p.name, p.area) for p in config.partnerships] + [(d.id, d.name, "") for d in config.disabled]
    return fingerprint_of(
        {
            "staged": staged_fingerprints(conn),
            "reference": reference_digest(config.reference_dir),
            "partnerships": partnerships,
        }
    )


def metrics_fingerprint(conn, config: ProgrammeConfig) -> str:
    """Every partnership's staged fingerprint, the disclosure rules, the partnerships blocked by an
    unreadable file and the publishing policy, and the metric code version."""
    return fingerprint_of(
        {
            "staged": staged_fingerprints(conn),
            "disclosure": config.disclosure,
            "partnerships": config.partnership_ids,
            "blocked": blocked_partnerships(conn),
            "all_while_blocked": config.programme_row_while_blocked,
            "version": METRICS_VERSION,
        }
    )


def outputs_fingerprint(conn, config: ProgrammeConfig, paths: list[Path]) -> str | None:
    """What a report's files are made from (the metric tables' inputs, the partnerships' names, the
    files' places) and the files' bytes as written, so a file missing, cut short by a crash or
    replaced no longer matches the fingerprint recorded after writing it.

    None when a file is missing (it must be written whatever the fingerprint says).
    """
    if not all(path.exists() for path in paths):
        return None
    return fingerprint_of(
        {
            "metrics": stored_fingerprint(conn, METRICS_STEP),
            "version": METRICS_VERSION,
            "partnerships": [(p.id, p.name) for p in config.partnerships],
            "name": config.name,
            "paths": [str(p) for p in paths],
            "bytes": [digest_file(p) for p in paths],
        }
    )


def known_names_fingerprint(digests) -> str:
    """The set of known names' digests: changes whenever the set changes (landed free text is then
    swept again with the new names)."""
    return digest_lines(digests)[:FINGERPRINT_LENGTH]


def export_file_hashes(config: ProgrammeConfig) -> dict[str, dict[str, str]]:
    """`{partnership: {file relative to the data dir: sha256}}` for every configured glob."""
    hashes: dict[str, dict[str, str]] = defaultdict(dict)
    for source in config.sources():
        for path in source.files(config.data_dir):
            relative = path.relative_to(config.data_dir).as_posix()
            hashes[source.partnership_id][relative] = digest_file(path)
    return dict(hashes)


def changed_files(
    config: ProgrammeConfig, previous: dict[str, str], current: dict[str, dict[str, str]]
) -> dict[str, list[tuple[str, str, str]]]:
    """`{partnership: [(file, old hash, new hash)]}` for new, changed and removed files ("" = none)."""
    changes: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    seen = set()
    for partnership, files in current.items():
        for name, digest in files.items():
            seen.add(name)
            if previous.get(name) != digest:
                changes[partnership].append((name, previous.get(name, ""), digest))
    for name, digest in previous.items():
        if name in seen:
            continue
        # A removed file: the partnership whose glob matched it (fnmatch is looser than a glob, enough here).
        owners = {s.partnership_id for s in config.sources() if fnmatch.fnmatch(name, s.path)}
        for partnership in owners:
            changes[partnership].append((name, digest, ""))
    return {p: sorted(c) for p, c in changes.items()}


def change_key(changes: list[tuple[str, str, str]]) -> str:
    """A short, stable hash of (file, old hash, new hash) triples: the same change, the same key
    (a retried sensor tick never launches the same run twice)."""
    return digest_lines("\t".join(change) for change in changes)[:FINGERPRINT_LENGTH]
