"""What tonight's refresh has to do: which partnerships changed, and whether anything after them did.

The nightly refresh (the schedule and `python -m amed_pipeline refresh`) plans before it
launches. A partnership has changed when one of its export files is new, changed (sha256 of the
bytes) or removed since it landed, when the way its files are read changed (config, pseudonym
key, erasure list, reference tables or parser version: the raw exports' fingerprint), or when
its staged slice is out of date (its staging fingerprint). The tables across partnerships, the
metric tables, the exports and the report are out of date when their own fingerprints
(`amed_pipeline.changes`) differ, or an export file is missing or not the bytes last written.

- Nothing changed: no run is needed; every table and file already reflects the inputs.
- Some partnerships changed: one run of their raw exports, their partitions of the staged
  datasets and everything after them (the new-export sensor does the same per partnership).
- Only what comes after staging is out of date: a run over every partition; staging then skips
  each partnership by its fingerprint.

The comparison computes the fingerprints with the same functions the assets use
(`amed_pipeline.changes`), so a plan and a run never disagree about what is up to date. Nothing
here imports `defs`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from amed_pipeline.changes.fingerprints import (
    global_fingerprint,
    metrics_fingerprint,
    outputs_fingerprint,
    source_fingerprint,
    staging_fingerprint,
)
from amed_pipeline.changes.reference import reference_digest
from amed_pipeline.changes.state import staged_fingerprint, stored_fingerprint
from amed_pipeline.changes.versions import (
    EXPORT_FILES,
    EXPORTS_STEP,
    GLOBAL_STEP,
    METRICS_STEP,
    REPORT_FILE,
    REPORT_STEP,
)
from amed_pipeline.config import ProgrammeConfig
from amed_pipeline.config.api_sources import is_api_format
from amed_pipeline.landing.tables import landed_file_states
from amed_pipeline.privacy.hashing import key_version
from amed_pipeline.reading.parse import source_files


@dataclass
class RefreshPlan:
    changed: list[str] = field(default_factory=list)  # partnerships, in config order
    reasons: dict[str, str] = field(default_factory=dict)
    downstream_stale: list[str] = field(default_factory=list)  # steps after staging that are out of date
    # Partnerships left out for a mistake in their own config entry: {id: message}. Not "nothing
    # to do": the run includes their failing config asset, so the failure is reported every time.
    disabled: dict[str, str] = field(default_factory=dict)

    @property
    def nothing_to_do(self) -> bool:
        return not self.changed and not self.downstream_stale and not self.disabled

    def describe(self) -> str:
        if self.nothing_to_do:
            return "nothing changed since the last refresh: every table and export is up to date"
        lines = [f"{p}: {self.reasons[p]}" for p in self.changed]
        lines += [f"partnership {p} skipped: configuration error: {error}" for p, error in self.disabled.items()]
        if not self.changed and not self.downstream_stale:
            lines.append(
                "nothing else changed since the last refresh: the other partnerships' tables and exports are up to date"
            )
        if self.downstream_stale:
            lines.append(f"out of date after staging: {', '.join(self.downstream_stale)}")
        return "\n".join(lines)


def plan_refresh(
    config: ProgrammeConfig, conn, key: bytes, erasure_tokens: frozenset[str], export_dir, pulls: bool = True
) -> RefreshPlan:
    """Compare the data dir and config with what the warehouse says it last processed.

    With `pulls`, a partnership with an API source always has something to do: only its pull can
    tell whether the system has changes (`pulls=False`: offline, snapshots only)."""
    plan = RefreshPlan(disabled={d.id: d.error for d in config.disabled})
    states = landed_file_states(conn)
    reference = reference_digest(config.reference_dir)
    version = key_version(key)
    for partnership in config.partnerships:
        pulled = [s.name for s in partnership.sources if is_api_format(s.format)] if pulls else []
        if pulled:
            plan.changed.append(partnership.id)
            plan.reasons[partnership.id] = f"pulls from its APIs ({', '.join(pulled)})"
            continue
        source_reasons = []
        for source in partnership.sources:  # every changed source is named, not only the first
            fingerprint = source_fingerprint(source, config.max_file_bytes, version, erasure_tokens, reference)
            landed = states.get((partnership.id, source.name), {})
            current = {
                relative: (content_hash, duplicate_of)
                for _, relative, _, _, content_hash, duplicate_of in source_files(
                    source, config.data_dir, config.max_file_bytes
                )
            }
            source_reasons.append(_source_change(source.name, current, landed, fingerprint))
        reason = "; ".join(r for r in source_reasons if r)
        if not reason and staged_fingerprint(conn, partnership.id) != staging_fingerprint(
            conn, config, partnership.id, config.reference_dir
        ):
            reason = "its staged datasets are out of date (config, reference tables or staging code changed)"
        if reason:
            plan.changed.append(partnership.id)
            plan.reasons[partnership.id] = reason
    if plan.changed:
        return plan
    if stored_fingerprint(conn, GLOBAL_STEP) != global_fingerprint(conn, config):
        plan.downstream_stale.append("tables across partnerships")
    if stored_fingerprint(conn, METRICS_STEP) != metrics_fingerprint(conn, config):
        plan.downstream_stale.append("metric tables")
    # Exports and the report must exist and be the bytes written from the current metric tables: a
    # crash between the metric tables and the exports (even on a first run, with nothing recorded),
    # or a file cut short or replaced since, makes them out of date.
    exports = outputs_fingerprint(conn, config, [export_dir / name for name in EXPORT_FILES])
    if exports is None or stored_fingerprint(conn, EXPORTS_STEP) != exports:
        plan.downstream_stale.append("exports")
    report = outputs_fingerprint(conn, config, [export_dir / REPORT_FILE])
    if report is None or stored_fingerprint(conn, REPORT_STEP) != report:
        plan.downstream_stale.append("report")
    return plan


def _source_change(name: str, current: dict, landed: dict, fingerprint: str) -> str:
    added = sorted(set(current) - set(landed))
    if added:
        return f"{name}: new file {added[0]}" + (f" and {len(added) - 1} more" if len(added) > 1 else "")
    removed = sorted(set(landed) - set(current))
    if removed:
        return f"{name}: file removed: {removed[0]}" + (f" and {len(removed) - 1} more" if len(removed) > 1 else "")
    for relative, (content_hash, duplicate_of) in current.items():
        landed_hash, landed_duplicate_of, landed_fingerprint = landed[relative]
        if (landed_hash, landed_duplicate_of) != (content_hash, duplicate_of):
            return f"{name}: changed file {relative}"
        if landed_fingerprint != fingerprint:
            return f"{name}: files to be read again (config, key, erasure list, reference tables or parser changed)"
    return ""
