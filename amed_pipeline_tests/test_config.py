"""Scope: partnerships.yaml validation; a config mistake fails at load naming partnership, source and key."""

import copy
import shutil
from pathlib import Path

import pytest
import yaml

from amed_pipeline.config import ConfigError, load_programme_config
from amed_pipeline.config.partnerships import parse_programme_config

DATA_DIR = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture()
def raw_config():
    return yaml.safe_load((DATA_DIR / "partnerships.yaml").read_text())


def test_bundled_config_loads():
    config = load_programme_config(DATA_DIR)
    assert config.partnership_ids == ["active_oxfordshire", "get_berkshire_active", "leap"]
    assert {s.format for s in config.sources()} == {
        "eventbrite",
        "surveymonkey",
        "msforms",
        "google_forms",
        "jisc",
        "mapped_csv",
    }
    assert config.start.isoformat() == "2020-07-01"


def _error(raw, tmp_path) -> str:
    with pytest.raises(ConfigError) as info:
        parse_programme_config(raw, tmp_path)
    return str(info.value)


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (
            lambda c: c["partnerships"][1]["sources"][0].update(format="smartsurvey"),
            ["partnership 'get_berkshire_active'", "source #1", "key 'format'", "smartsurvey"],
        ),
        (
            lambda c: c["partnerships"][0]["sources"][1].update(options={"colums": {}}),
            ["partnership 'active_oxfordshire'", "source #2", "options.colums", "unknown option"],
        ),
        (
            lambda c: c["partnerships"][2]["sources"][0].pop("path"),
            ["partnership 'leap'", "source #1", "key 'path': missing"],
        ),
        (
            lambda c: c["partnerships"][2]["sources"][0].update(path="../../etc/*.csv"),
            ["partnership 'leap'", "key 'path'", "leaves the data dir"],
        ),
        (
            lambda c: c["partnerships"][2]["sources"][0].update(path="/etc/passwd"),
            ["key 'path'", "leaves the data dir"],
        ),
        (
            lambda c: c["partnerships"][2].update(id="active_oxfordshire"),
            ["partnership 'active_oxfordshire'", "duplicate id"],
        ),
        (lambda c: c["partnerships"][0].update(id="Active Oxfordshire"), ["partnership #1", "key 'id'", "[a-z0-9_]+"]),
        (
            lambda c: c["partnerships"][0]["sources"][0]["options"]["columns"].update(titel="X"),
            ["source #1", "options.columns.titel", "not a sessions field"],
        ),
        (
            lambda c: c["partnerships"][0]["sources"][1].update(options={"questions": {"usefulness": "x"}}),
            ["options.questions", "only applies to feedback and followup"],
        ),
        (
            lambda c: c["partnerships"][0]["sources"][2].update(options={"attended_statuses": ["Attending"]}),
            ["options.attended_statuses", "only applies to bookings"],
        ),
        (lambda c: c["partnerships"][0]["sources"][0].update(dataset="attendance"), ["key 'dataset'", "attendance"]),
        (lambda c: c.pop("programme"), ["key 'programme': missing"]),
        (lambda c: c["partnerships"][2].update(id="all"), ["partnership #3", "key 'id'", "'all'", "reserved"]),
        (
            lambda c: c.update(disclosure={"exact_programme_totals": ["people_trained", "role_group_share"]}),
            ["disclosure", "exact_programme_totals", "role_group_share"],
        ),
    ],
)
def test_config_errors_name_partnership_source_and_key(raw_config, tmp_path, mutate, expected):
    raw = copy.deepcopy(raw_config)
    mutate(raw)
    message = _error(raw, tmp_path)
    for fragment in expected:
        assert fragment in message


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_programme_config(tmp_path)


def test_adding_a_partnership_is_a_config_edit(tmp_path, raw_config):
    """A new partnership in the YAML becomes new assets in its own group, with no code change."""
    from amed_pipeline.definitions import build_definitions

    raw = copy.deepcopy(raw_config)
    raw["partnerships"].append(
        {
            "id": "milton_keynes",
            "name": "Milton Keynes",
            "area": "Milton Keynes",
            "sources": [{"dataset": "bookings", "format": "eventbrite", "path": "raw/milton_keynes/eventbrite/*.csv"}],
        }
    )
    shutil.copytree(DATA_DIR / "reference", tmp_path / "reference")
    (tmp_path / "partnerships.yaml").write_text(yaml.safe_dump(raw))
    defs = build_definitions(tmp_path, f"duckdb:///{tmp_path}/wh.duckdb")
    graph = defs.resolve_asset_graph()
    key = next(k for k in graph.get_all_asset_keys() if k.path == ["milton_keynes", "bookings_eventbrite"])
    assert graph.get(key).group_name == "milton_keynes"


# --- the config file as untrusted input ----------------------------------------------------------


def _load_text(tmp_path, text: str) -> str:
    (tmp_path / "partnerships.yaml").write_text(text)
    with pytest.raises(ConfigError) as info:
        load_programme_config(tmp_path)
    return str(info.value)


# "Billion laughs" as one flow sequence: nine levels of nine aliases, 387 million values.
BOMB = (
    "[&l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol], "
    + ", ".join(f"&l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 9))
    + "]"
)


@pytest.mark.parametrize("where", ["options.values", "programme.name"])
def test_an_alias_bomb_inside_accepted_keys_is_refused_before_it_expands(tmp_path, where):
    """Refused while parsing, in well under a second, naming the file."""
    import time

    config = (DATA_DIR / "partnerships.yaml").read_text()
    if where == "programme.name":
        config = config.replace("  name: Active Medicine\n", f"  name: {BOMB}\n", 1)
    else:
        config = config.replace(
            "          values:\n", f"          values:\n            training_type: {{bomb: {BOMB}}}\n", 1
        )
    assert BOMB in config
    started = time.monotonic()
    message = _load_text(tmp_path, config)
    assert "alias" in message and "over the limit" in message and str(tmp_path / "partnerships.yaml") in message
    assert time.monotonic() - started < 5


def test_a_few_small_aliases_are_still_accepted(tmp_path):
    config = (
        (DATA_DIR / "partnerships.yaml")
        .read_text()
        .replace("programme:\n  name: Active Medicine", "programme:\n  name: &name Active Medicine", 1)
    )
    (tmp_path / "partnerships.yaml").write_text(config + "\n# reuse\n")
    assert load_programme_config(tmp_path).name == "Active Medicine"


def test_a_recursive_alias_is_refused(tmp_path):
    assert "recursive" in _load_text(tmp_path, "programme: &p\n  name: *p\n")


@pytest.mark.parametrize(
    "text, line, key",
    [
        (
            "programme:\n  name: A\n  start: 2020-07-01\n  end: 2021-07-31\nprogramme:\n  name: Duplicate programme\n",
            5,
            "programme",
        ),
        ("programme:\n  name: A\n  name: B\n", 3, "name"),
        (
            "partnerships:\n  - id: a\n    sources:\n      - dataset: bookings\n        path: x\n        path: y\n",
            6,
            "path",
        ),
    ],
)
def test_duplicate_keys_are_refused_at_any_level_with_the_line(tmp_path, text, line, key):
    message = _load_text(tmp_path, text)
    assert f"line {line}: duplicate key '{key}'" in message


def test_a_config_over_the_size_cap_is_refused_unparsed(tmp_path, monkeypatch):
    from amed_pipeline.config import partnerships

    monkeypatch.setattr(partnerships, "MAX_CONFIG_BYTES", 1000)
    message = _load_text(tmp_path, "# padding\n" * 200)
    assert "over the" in message and "limit" in message
