"""Load and validate `partnerships.yaml`, the one place where partnerships and exports are declared.

Adding a partnership or an export is an edit to that file, never a code change, so this module
is strict: any mistake (unknown format or option, missing key, a glob that leaves the data dir,
a duplicate id) is found at load time with a message that names the partnership, the source and the
key, before any file is read. It must not read the exports themselves.

One partnership's mistake stays its own: `load_programme_config` (what the code location and the
command line use) sets a partnership whose entry is wrong aside as a `DisabledPartnership`, with
the message, and loads the others; the code location then shows it as a failing asset in its group
(`defs/config_errors.py`). Mistakes in the file as a whole (not YAML, a bad `programme:` block,
duplicate ids, no valid partnership at all) still fail the load. `parse_programme_config` is strict
by default: it raises on the first mistake, partnership or not.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from amed_pipeline.config.api_sources import (
    API_OPTION_NAMES,
    check_api_options,
    default_api_path,
    is_api_format,
)
from amed_pipeline.vocabulary import DATASET_FIELDS, DATASETS, FORMATS, SURVEY_DATASETS

# Options every format understands where they apply; each has a documented default in the README.
OPTION_NAMES = (
    "columns",  # {canonical field: source header}
    "values",  # {canonical field: {source value: canonical value}}
    "default_values",  # {canonical field: value used when the column is absent or the cell blank}
    "questions",  # {canonical field: header text or a distinctive fragment} (surveys)
    "dayfirst",  # how this source writes ambiguous dates
    "attended_statuses",  # raw statuses that count as attended (bookings)
    "sheet",  # xlsx sheet name
)
# Optional top-level `disclosure:` overrides of the published outputs' disclosure-control rules.
DISCLOSURE_KEYS = ("suppress_counts_up_to", "round_counts_to", "low_reliability_base", "exact_programme_totals")
# Programme-wide totals that may be published unrounded (`exact_programme_totals`, a list).
EXACT_TOTAL_METRICS = (
    "people_trained",
    "attendances",
    "sessions_delivered",
    "feedback_responses",
    "followup_responses",
)
ID_PATTERN = re.compile(r"^[a-z0-9_]+$")
ALL_PARTNERSHIPS = "all"  # the programme-wide scope of every metric (a partnership_id no partnership may take)
RESERVED_ID = ALL_PARTNERSHIPS
# Optional top-level `limits:`: the largest export file the reader opens (on disk, and an xlsx uncompressed).
DEFAULT_MAX_FILE_MB = 200
DEFAULT_MAX_FILE_BYTES = DEFAULT_MAX_FILE_MB * 1024 * 1024
# Optional top-level `retention:`: how long raw exports are kept (off by default), and what then.
RETENTION_ACTIONS = ("archive", "delete")
# Where retention moves old raw exports (`<data dir>/archive/...`); never read as an export.
ARCHIVE_DIR = "archive"
CONFIG_FILE_NAME = "partnerships.yaml"
# `AMED_CONFIG` may name another config file inside the data dir (e.g. partnerships.api.yaml).
CONFIG_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+\.ya?ml$")


class ConfigError(ValueError):
    """A mistake in partnerships.yaml, with the partnership, source and key it concerns."""


@dataclass(frozen=True)
class Source:
    """One export a partnership sends: which dataset it feeds, in which format, from which files."""

    partnership_id: str
    name: str
    dataset: str
    format: str
    path: str
    options: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def dayfirst(self) -> bool | None:
        return self.options.get("dayfirst")

    def files(self, data_dir: Path) -> list[Path]:
        """The files this source's glob matches today, in a stable order (never under `archive/`)."""
        root = Path(data_dir)
        return sorted(p for p in root.glob(self.path) if p.is_file() and p.relative_to(root).parts[0] != ARCHIVE_DIR)


@dataclass(frozen=True)
class Partnership:
    id: str
    name: str
    area: str
    sources: tuple[Source, ...]


@dataclass(frozen=True)
class DisabledPartnership:
    """A partnership left out because its own entry in partnerships.yaml is wrong."""

    id: str  # its id, or `partnership_<n>` when the id itself is the mistake
    name: str
    error: str  # the ConfigError text: partnership, source, key and what is expected


@dataclass(frozen=True)
class RetentionPolicy:
    """How long raw exports are kept: `raw_exports_days` None = for ever (the default)."""

    raw_exports_days: int | None = None
    action: str = "archive"  # archive (move under <data dir>/archive/) | delete


@dataclass(frozen=True)
class ProgrammeConfig:
    name: str
    start: dt.date
    end: dt.date
    partnerships: tuple[Partnership, ...]
    data_dir: Path
    disclosure: dict[str, int | tuple[str, ...]] = field(default_factory=dict, hash=False, compare=False)
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)
    disabled: tuple[DisabledPartnership, ...] = ()
    # Optional `publishing: {programme_row_while_blocked: false}`: whether the programme-wide `all`
    # rows are published while a partnership's metrics are blocked (an unreadable file). Off by default.
    programme_row_while_blocked: bool = False

    @property
    def partnership_ids(self) -> list[str]:
        return [p.id for p in self.partnerships]

    @property
    def reference_dir(self) -> Path:
        return self.data_dir / "reference"

    def sources(self, dataset: str | None = None) -> list[Source]:
        return [s for p in self.partnerships for s in p.sources if dataset is None or s.dataset == dataset]


def load_programme_config(
    data_dir: Path | str, config_name: str | None = None, isolate_partnerships: bool = True
) -> ProgrammeConfig:
    """Read `<data_dir>/partnerships.yaml` (or `config_name`, default `AMED_CONFIG`) and validate it.

    A mistake in one partnership's entry disables that partnership (`ProgrammeConfig.disabled`);
    any other mistake raises ConfigError. `isolate_partnerships=False`: raise on every mistake."""
    from amed_pipeline import settings  # settings reads the environment when called, never at import

    data_dir = Path(data_dir).resolve()
    config_name = config_name or settings.config_name()
    if not CONFIG_NAME_PATTERN.match(config_name):
        raise ConfigError(
            f"{config_name!r}: AMED_CONFIG must be a YAML file name inside the data dir, e.g. partnerships.api.yaml"
        )
    config_path = data_dir / config_name
    if not config_path.is_file():
        raise ConfigError(f"{config_path}: configuration file not found")
    raw = read_config_yaml(config_path)
    return parse_programme_config(raw, data_dir, origin=str(config_path), isolate_partnerships=isolate_partnerships)


# The config is untrusted input too. Nobody writes a config this large (1,000 partnerships is
# about 2 MB); a larger file is refused before it is parsed.
MAX_CONFIG_BYTES = 8 * 1024 * 1024
# YAML aliases may repeat a small block; a "billion laughs" alias bomb nests them so that a few
# lines expand into billions of nodes. Refused when aliases add more than this many nodes.
MAX_ALIAS_EXPANSION = 10_000


class _StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """PyYAML's safe loader that refuses duplicate keys (at any depth) and alias bombs.

    Built on the libyaml parser when PyYAML has it (a K = 1000 programme's config parses in
    0.3 s instead of 1.6 s, and every refresh parses it more than once); the checks are the same.

    Plain `safe_load` keeps the last of two equal keys silently (a second `programme:` block wins)
    and shares aliased nodes, so a bomb loads cheaply and explodes later, when the options are
    walked or serialised. Both are refused here, with the line number.
    """

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: the base class says so
                    break
                line = key_node.start_mark.line + 1
                if first is not None:
                    raise ConfigError(f"line {line}: duplicate key {key!r} (first on line {first})")
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _alias_expansion(root) -> int:
    """How many nodes aliases add to the document when expanded (recursive aliases refused)."""
    sizes: dict[int, int] = {}
    unique: set[int] = set()

    def size(node, path: frozenset[int]) -> int:
        identity = id(node)
        if identity in path:
            raise ConfigError(f"line {node.start_mark.line + 1}: a recursive YAML alias")
        unique.add(identity)
        if identity not in sizes:
            children = []
            if isinstance(node, yaml.SequenceNode):
                children = node.value
            elif isinstance(node, yaml.MappingNode):
                children = [n for pair in node.value for n in pair]
            inner = path | {identity}
            total = 1
            for child in children:
                total += size(child, inner)
                if total > MAX_ALIAS_EXPANSION * 100:  # stop counting: far beyond any bound
                    break
            sizes[identity] = total
        return sizes[identity]

    expanded = size(root, frozenset())
    return expanded - len(unique)


def read_config_yaml(config_path: Path) -> Any:
    """The parsed YAML of the config file, refusing what no honest config contains."""
    try:
        size = config_path.stat().st_size
    except OSError as exc:
        raise ConfigError(f"{config_path}: cannot read the configuration: {exc.strerror or exc}") from exc
    if size > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"{config_path}: the configuration is {size / 2**20:.1f} MB, over the {MAX_CONFIG_BYTES // 2**20} MB limit: refused, not parsed"
        )
    try:
        text = config_path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{config_path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    try:
        loader = _StrictLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            added = _alias_expansion(node)
            if added > MAX_ALIAS_EXPANSION:
                raise ConfigError(
                    f"YAML aliases expand to {added:,}+ extra values, over the limit of {MAX_ALIAS_EXPANSION:,} "
                    "(an alias bomb?): refused"
                )
            return loader.construct_document(node)
        finally:
            loader.dispose()
    except ConfigError as exc:
        raise ConfigError(f"{config_path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{config_path}: not valid YAML: {exc}") from exc
    except RecursionError:
        raise ConfigError(f"{config_path}: the YAML is nested too deeply: refused") from None


def parse_programme_config(
    raw: Any, data_dir: Path, origin: str = CONFIG_FILE_NAME, isolate_partnerships: bool = False
) -> ProgrammeConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: expected a mapping with 'programme' and 'partnerships'")
    _reject_unknown(raw, {"programme", "partnerships", "disclosure", "limits", "retention", "publishing"}, origin)
    programme_row_while_blocked = _parse_publishing(raw.get("publishing"), origin)
    max_file_bytes = _parse_limits(raw.get("limits"), origin)
    retention = _parse_retention(raw.get("retention"), origin)
    disclosure = raw.get("disclosure") or {}
    _reject_unknown(disclosure, set(DISCLOSURE_KEYS), f"{origin}: disclosure")
    disclosure = dict(disclosure)
    for key, value in disclosure.items():
        if key == "exact_programme_totals":
            if not isinstance(value, list) or any(v not in EXACT_TOTAL_METRICS for v in value):
                raise ConfigError(
                    f"{origin}: disclosure: key '{key}': {value!r}: expected a list of {', '.join(EXACT_TOTAL_METRICS)}"
                )
            disclosure[key] = tuple(value)
        elif not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"{origin}: disclosure: key '{key}': expected a whole number ≥ 0")
    programme = _require(raw, "programme", origin)
    _reject_unknown(programme, {"name", "start", "end"}, f"{origin}: programme")
    start = _as_date(_require(programme, "start", f"{origin}: programme"), f"{origin}: programme: start")
    end = _as_date(_require(programme, "end", f"{origin}: programme"), f"{origin}: programme: end")
    if end < start:
        raise ConfigError(f"{origin}: programme: end {end} is before start {start}")
    entries = _require(raw, "partnerships", origin)
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{origin}: 'partnerships' must be a non-empty list")
    partnerships: list[Partnership] = []
    disabled: list[DisabledPartnership] = []
    seen_ids: set[str] = set()
    for index, entry in enumerate(entries, start=1):
        try:
            partnership = _parse_partnership(entry, index, origin)
        except ConfigError as exc:
            if not isolate_partnerships:
                raise
            broken = _disabled_partnership(entry, index, str(exc))
            if broken.id in seen_ids:
                raise ConfigError(f"{origin}: partnership '{broken.id}': key 'id': duplicate id") from exc
            seen_ids.add(broken.id)
            disabled.append(broken)
            continue
        if partnership.id in seen_ids:
            raise ConfigError(f"{origin}: partnership '{partnership.id}': key 'id': duplicate id")
        seen_ids.add(partnership.id)
        partnerships.append(partnership)
    if not partnerships:
        raise ConfigError("; ".join(d.error for d in disabled) or f"{origin}: no partnership")
    return ProgrammeConfig(
        name=str(programme.get("name", "Active Medicine")),
        start=start,
        end=end,
        partnerships=tuple(partnerships),
        data_dir=Path(data_dir),
        disclosure=dict(disclosure),
        max_file_bytes=max_file_bytes,
        retention=retention,
        disabled=tuple(disabled),
        programme_row_while_blocked=programme_row_while_blocked,
    )


def _parse_publishing(raw: Any, origin: str) -> bool:
    publishing = raw or {}
    where = f"{origin}: publishing"
    if not isinstance(publishing, dict):
        raise ConfigError(f"{where}: expected a mapping, e.g. {{programme_row_while_blocked: false}}")
    _reject_unknown(publishing, {"programme_row_while_blocked"}, where)
    value = publishing.get("programme_row_while_blocked", False)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: key 'programme_row_while_blocked': expected true or false")
    return value


def _disabled_partnership(entry: Any, index: int, error: str) -> DisabledPartnership:
    pid = entry.get("id") if isinstance(entry, dict) else None
    if not isinstance(pid, str) or not ID_PATTERN.match(pid):
        pid = f"partnership_{index}"
    name = entry.get("name") if isinstance(entry, dict) else None
    return DisabledPartnership(id=pid, name=name if isinstance(name, str) and name else pid, error=error)


def _parse_limits(raw: Any, origin: str) -> int:
    limits = raw or {}
    if not isinstance(limits, dict):
        raise ConfigError(f"{origin}: limits: expected a mapping, e.g. {{max_file_mb: {DEFAULT_MAX_FILE_MB}}}")
    _reject_unknown(limits, {"max_file_mb"}, f"{origin}: limits")
    megabytes = limits.get("max_file_mb", DEFAULT_MAX_FILE_MB)
    if not isinstance(megabytes, (int, float)) or isinstance(megabytes, bool) or megabytes <= 0:
        raise ConfigError(f"{origin}: limits: key 'max_file_mb': expected a number of megabytes > 0")
    return int(megabytes * 1024 * 1024)


def _parse_retention(raw: Any, origin: str) -> RetentionPolicy:
    retention = raw or {}
    where = f"{origin}: retention"
    if not isinstance(retention, dict):
        raise ConfigError(f"{where}: expected a mapping, e.g. {{raw_exports_days: 730, action: archive}}")
    _reject_unknown(retention, {"raw_exports_days", "action"}, where)
    days = retention.get("raw_exports_days")
    if days is not None and (not isinstance(days, int) or isinstance(days, bool) or days < 1):
        raise ConfigError(
            f"{where}: key 'raw_exports_days': expected a whole number of days ≥ 1, or null (keep for ever)"
        )
    action = retention.get("action", "archive")
    if action not in RETENTION_ACTIONS:
        raise ConfigError(f"{where}: key 'action': {action!r}; expected one of {', '.join(RETENTION_ACTIONS)}")
    return RetentionPolicy(raw_exports_days=days, action=action)


def _parse_partnership(entry: Any, index: int, origin: str) -> Partnership:
    where = f"{origin}: partnership #{index}"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a mapping")
    pid = _require(entry, "id", where)
    if not isinstance(pid, str) or not ID_PATTERN.match(pid):
        raise ConfigError(f"{where}: key 'id': {pid!r} must match [a-z0-9_]+")
    if pid == RESERVED_ID:
        raise ConfigError(f"{where}: key 'id': {pid!r} is reserved for the programme-wide rows of the metric tables")
    where = f"{origin}: partnership '{pid}'"
    _reject_unknown(entry, {"id", "name", "area", "sources"}, where)
    sources_raw = _require(entry, "sources", where)
    if not isinstance(sources_raw, list) or not sources_raw:
        raise ConfigError(f"{where}: key 'sources': must be a non-empty list")
    sources = [_parse_source(pid, s, i, where) for i, s in enumerate(sources_raw, start=1)]
    names = [s.name for s in sources]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"{where}: key 'name': two sources are named '{name}'; give one a 'name'")
    return Partnership(
        id=pid,
        name=str(_require(entry, "name", where)),
        area=str(entry.get("area", "")),
        sources=tuple(sources),
    )


def _parse_source(pid: str, raw: Any, index: int, partnership_where: str) -> Source:
    where = f"{partnership_where}: source #{index}"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping")
    _reject_unknown(raw, {"dataset", "format", "path", "options", "name"}, where)
    dataset = _require(raw, "dataset", where)
    fmt = _require(raw, "format", where)
    where = f"{partnership_where}: source #{index} ({dataset}, {fmt})"
    if dataset not in DATASETS:
        raise ConfigError(f"{where}: key 'dataset': unknown dataset {dataset!r}; expected one of {', '.join(DATASETS)}")
    if fmt not in FORMATS:
        raise ConfigError(f"{where}: key 'format': unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    options = raw.get("options") or {}
    if not isinstance(options, dict):
        raise ConfigError(f"{where}: key 'options': expected a mapping")
    name = raw.get("name") or f"{dataset}_{fmt}"
    if not isinstance(name, str) or not ID_PATTERN.match(name):
        raise ConfigError(f"{where}: key 'name': {name!r} must match [a-z0-9_]+")
    if is_api_format(fmt):
        # An API source reads what its pulls wrote: the path is derived, never configured.
        if "path" in raw:
            raise ConfigError(f"{where}: key 'path': {fmt} reads its own snapshots; leave 'path' out")
        path = default_api_path(fmt, pid, name)
        check_api_options(options, dataset, fmt, where, ConfigError)
        read_as = options.get("read_as", fmt)
        _check_options({k: v for k, v in options.items() if k not in API_OPTION_NAMES}, dataset, read_as, where)
    else:
        path = _require(raw, "path", where)
        _check_options(options, dataset, fmt, where)
    _check_glob_inside_data_dir(path, where)
    return Source(partnership_id=pid, name=name, dataset=dataset, format=fmt, path=path, options=options)


def _check_options(options: dict, dataset: str, fmt: str, where: str) -> None:
    for key, value in options.items():
        if key not in OPTION_NAMES:
            raise ConfigError(
                f"{where}: key 'options.{key}': unknown option; expected one of {', '.join(OPTION_NAMES)}"
            )
        if key in ("columns", "questions", "default_values") and not _is_str_mapping(value):
            raise ConfigError(f"{where}: key 'options.{key}': expected a mapping of field to text")
        if key == "values":
            if not (isinstance(value, dict) and all(isinstance(v, dict) for v in value.values())):
                raise ConfigError(
                    f"{where}: key 'options.values': expected {{field: {{source value: canonical value}}}}"
                )
            for field_name, mapping in value.items():
                for source_value in mapping:
                    if not isinstance(source_value, (str, int, float)) or isinstance(source_value, bool):
                        raise ConfigError(
                            f"{where}: key 'options.values.{field_name}': source value {source_value!r} is not text; "
                            "quote it (YAML reads unquoted Yes/No/On/Off as true/false)"
                        )
        if key == "dayfirst" and not isinstance(value, bool):
            raise ConfigError(f"{where}: key 'options.dayfirst': expected true or false")
        if key == "attended_statuses":
            if dataset != "bookings":
                raise ConfigError(f"{where}: key 'options.attended_statuses': only applies to bookings")
            if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                raise ConfigError(f"{where}: key 'options.attended_statuses': expected a list of statuses")
        if key == "questions" and dataset not in SURVEY_DATASETS:
            raise ConfigError(f"{where}: key 'options.questions': only applies to feedback and followup")
        if key == "sheet" and not isinstance(value, str):
            raise ConfigError(f"{where}: key 'options.sheet': expected a sheet name")
    fields = _dataset_field_names(dataset)
    for key in ("columns", "values", "default_values", "questions"):
        for field_name in options.get(key) or {}:
            if field_name not in fields:
                raise ConfigError(
                    f"{where}: key 'options.{key}.{field_name}': not a {dataset} field; expected one of {', '.join(fields)}"
                )
    if fmt == "mapped_csv" and not options.get("columns"):
        raise ConfigError(f"{where}: key 'options.columns': mapped_csv needs a column mapping")


def _dataset_field_names(dataset: str) -> list[str]:
    return [f.name for f in DATASET_FIELDS[dataset]]


def _check_glob_inside_data_dir(path: Any, where: str) -> None:
    if not isinstance(path, str) or not path.strip():
        raise ConfigError(f"{where}: key 'path': expected a glob relative to the data dir")
    pure = PurePosixPath(path.replace("\\", "/"))
    if pure.is_absolute() or re.match(r"^[A-Za-z]:", path) or ".." in pure.parts or path.startswith("~"):
        raise ConfigError(f"{where}: key 'path': {path!r} leaves the data dir; use a glob relative to it")
    if pure.parts and pure.parts[0] == ARCHIVE_DIR:
        raise ConfigError(
            f"{where}: key 'path': {path!r}: {ARCHIVE_DIR}/ holds raw exports retention archived; it is never read"
        )


def _is_str_mapping(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, (str, int, float, bool)) for k, v in value.items()
    )


def _require(mapping: dict, key: str, where: str) -> Any:
    if not isinstance(mapping, dict) or key not in mapping or mapping[key] in (None, ""):
        raise ConfigError(f"{where}: key '{key}': missing")
    return mapping[key]


def _reject_unknown(mapping: dict, allowed: set[str], where: str) -> None:
    for key in mapping:
        if key not in allowed:
            raise ConfigError(f"{where}: key '{key}': unknown key; expected one of {', '.join(sorted(allowed))}")


def _as_date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise ConfigError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from exc
