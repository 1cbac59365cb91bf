"""Classify free text with the reference tables a data engineer can edit (`<data dir>/reference/`).

- `training_type_rules.csv`: ordered regular expressions on an event title (or ticket type) →
  training type; first match wins; no match → `other`.
- `job_title_rules.csv`: ordered regular expressions on a job title → profession; first match
  wins; no match → `unclassified` (kept, never dropped). `professions.csv` gives each profession's
  role group, so the evaluation's grouping of edge cases lives in data, not code.
- `settings.csv`: survey "Where do you work?" answers → setting; blank → `unknown`, anything
  unlisted → `other`.
Patterns are case-insensitive and searched in the text with whitespace folded.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from amed_pipeline.lib.frames import as_text
from amed_pipeline.lib.text import clean_text
from amed_pipeline.reading.values import normalise_header

UNCLASSIFIED = "unclassified"
OTHER_TRAINING = "other"


class ReferenceError(ValueError):
    """A reference table is missing, malformed or inconsistent (named in the message)."""


@dataclass(frozen=True)
class ReferenceTables:
    training_types: pd.DataFrame  # training_type, label, online_workshop
    training_type_rules: tuple[tuple[re.Pattern, str], ...]
    professions: pd.DataFrame  # profession, label, role_group
    job_title_rules: tuple[tuple[re.Pattern, str], ...]
    role_groups: pd.DataFrame  # role_group, label
    settings: dict[str, str]

    @property
    def role_group_of(self) -> dict[str, str]:
        return dict(zip(self.professions["profession"], self.professions["role_group"]))

    def training_type(self, title: str) -> str:
        return _first_match(self.training_type_rules, title, OTHER_TRAINING)

    def profession(self, job_title: str) -> str:
        return _first_match(self.job_title_rules, job_title, UNCLASSIFIED)

    def setting(self, answer: str) -> str:
        key = normalise_header(answer)
        if not key:
            return "unknown"
        return self.settings.get(key, "other")

    def classify_training_types(self, titles: pd.Series) -> pd.Series:
        return _map_unique(titles, self.training_type)

    def classify_professions(self, job_titles: pd.Series) -> pd.Series:
        return _map_unique(job_titles, self.profession)

    def classify_settings(self, answers: pd.Series) -> pd.Series:
        return _map_unique(answers, self.setting)


def load_reference_tables(reference_dir: Path) -> ReferenceTables:
    reference_dir = Path(reference_dir)
    training_types = _read(reference_dir / "training_types.csv", ("training_type", "label", "online_workshop"))
    professions = _read(reference_dir / "professions.csv", ("profession", "label", "role_group"))
    role_groups = _read(reference_dir / "role_groups.csv", ("role_group", "label"))
    settings = _read(reference_dir / "settings.csv", ("answer", "setting"))
    training_rules = _rules(
        reference_dir / "training_type_rules.csv", "training_type", set(training_types["training_type"])
    )
    title_rules = _rules(reference_dir / "job_title_rules.csv", "profession", set(professions["profession"]))
    unknown_groups = set(professions["role_group"]) - set(role_groups["role_group"])
    if unknown_groups:
        raise ReferenceError(
            f"{reference_dir / 'professions.csv'}: role groups {sorted(unknown_groups)} are not in role_groups.csv"
        )
    if UNCLASSIFIED not in set(professions["profession"]):
        raise ReferenceError(f"{reference_dir / 'professions.csv'}: needs a row for '{UNCLASSIFIED}'")
    training_types = training_types.assign(
        online_workshop=training_types["online_workshop"].str.lower().isin(["true", "yes", "1"])
    )
    return ReferenceTables(
        training_types=training_types,
        training_type_rules=training_rules,
        professions=professions,
        job_title_rules=title_rules,
        role_groups=role_groups,
        settings={normalise_header(a): s for a, s in zip(settings["answer"], settings["setting"])},
    )


def _read(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    if not path.is_file():
        raise ReferenceError(f"{path}: reference table not found")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ReferenceError(f"{path}: missing column(s) {', '.join(missing)}")
    return frame


def _rules(path: Path, target: str, allowed: set[str]) -> tuple[tuple[re.Pattern, str], ...]:
    frame = _read(path, ("pattern", target))
    rules = []
    for row_number, (pattern, value) in enumerate(zip(frame["pattern"], frame[target]), start=2):
        if value not in allowed:
            raise ReferenceError(f"{path}: row {row_number}: {target} {value!r} is not a known {target}")
        try:
            rules.append((re.compile(pattern, re.IGNORECASE), value))
        except re.error as exc:
            raise ReferenceError(f"{path}: row {row_number}: bad pattern {pattern!r}: {exc}") from exc
    return tuple(rules)


# Job titles and event titles repeat across files and partnerships, and a worker process prepares
# many sources: each (rules, text) is classified once per process. The rules are compiled
# patterns, equal when their text and flags are, so tables unpickled in a worker still hit.
@functools.lru_cache(maxsize=1 << 16)
def _first_match(rules, text: str, default: str) -> str:
    value = clean_text(text)
    if not value:
        return default
    for pattern, result in rules:
        if pattern.search(value):
            return result
    return default


def _map_unique(values: pd.Series, classify) -> pd.Series:
    texts = as_text(values)
    lookup = {v: classify(v) for v in pd.unique(texts.to_numpy())}
    return texts.map(lookup)
