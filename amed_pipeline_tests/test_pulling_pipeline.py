"""Scope: the API pulls inside Dagster and end to end, against the replay server on 127.0.0.1.

- The pull assets sit in their partnership's group, upstream of the raw export that reads their
  snapshots; the code location loads with `partnerships.api.yaml`.
- One source failing (here: its token variable unset) fails that source's `pull_ok` check with one
  line naming partnership, source and variable; every other source still pulls and every raw
  export still lands; an offline refresh lands the snapshots without a single request; the token
  is nowhere in the run's event log.
- Equivalence (slow): the bundled sample pulled through the replay server gives exactly the
  `metric_values` the exported files give; a second, quiet night changes no metric value and costs
  a handful of requests.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from amed_pipeline.config import load_programme_config
from amed_pipeline.definitions import build_definitions
from amed_pipeline.defs.jobs import NIGHTLY_JOB_NAME, all_partnerships_tags
from amed_pipeline.defs.pulls import PULL_CHECK, ApiPullSettings, pull_asset_key
from amed_pipeline.defs.raw_exports import raw_export_key
from amed_pipeline.sample_data.api_server import ReplayServer, SampleApis
from amed_pipeline_tests.pipeline_runs import (
    RUN_STAMPS,
    SAMPLE_DATA_DIR,
    TEST_KEY,
    env,
    read_table,
    run_nightly_in_process,
)

TOKEN = "tok-DAGSTER-7c1e-never-log-me"
API_CONFIG = "partnerships.api.yaml"
API_FOLDERS = ("eventbrite", "surveymonkey_feedback", "surveymonkey_followup", "google_followup", "msforms_feedback")
# What a local demo run leaves in the data dir (git-ignored): never part of a test's starting point.
RUN_LEFTOVERS = ("api", "api_state", "warehouse", "exports")


@pytest.fixture(scope="module")
def apis() -> SampleApis:
    return SampleApis()


@pytest.fixture
def replay(apis):
    server = ReplayServer(token=TOKEN, apis=apis).start()
    yield server
    server.stop()


def api_data_dir(root: Path, server: ReplayServer, edit=lambda text: text) -> Path:
    """A copy of the sample data dir without the exports the APIs replace, its API config pointed at `server`."""
    data = root / "data"
    shutil.copytree(SAMPLE_DATA_DIR, data, ignore=shutil.ignore_patterns(*API_FOLDERS, *RUN_LEFTOVERS))
    text = (SAMPLE_DATA_DIR / API_CONFIG).read_text(encoding="utf-8").replace("http://127.0.0.1:8765", server.url)
    (data / API_CONFIG).write_text(edit(text), encoding="utf-8")
    return data


def test_pull_assets_sit_upstream_of_their_raw_exports_in_the_partnerships_groups():
    defs = build_definitions(SAMPLE_DATA_DIR, "duckdb:///:memory:", config_name=API_CONFIG)
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    config = load_programme_config(SAMPLE_DATA_DIR, API_CONFIG)
    pulled = [s for s in config.sources() if s.format.endswith("_api") or s.format == "graph_drive"]
    assert len(pulled) == 8
    for source in pulled:
        node = graph.get(pull_asset_key(source))
        assert node.group_name == source.partnership_id
        assert pull_asset_key(source) in graph.get(raw_export_key(source)).parent_keys
    # The default config has no API source, hence no pull asset.
    assert not any(
        k.path[-1].endswith("_pull")
        for k in build_definitions(SAMPLE_DATA_DIR, "duckdb:///:memory:").resolve_asset_graph().get_all_asset_keys()
    )


def _pull_and_land(data: Path, url: str, instance, offline: bool = False):
    defs = build_definitions(data, url, config_name=API_CONFIG)
    selection = [
        k
        for k in defs.resolve_asset_graph().get_all_asset_keys()
        if len(k.path) == 2 and k.path[0] in ("get_berkshire_active", "leap")
    ]
    return dg.materialize(
        list(defs.assets),
        selection=selection,
        instance=instance,
        raise_on_error=False,
        resources={**defs.resources, "api_pull_settings": ApiPullSettings(backoff_base_seconds=0.01, offline=offline)},
    )


def test_a_source_without_its_token_fails_alone_and_offline_lands_snapshots_without_requests(replay, tmp_path):
    data = api_data_dir(
        tmp_path,
        replay,
        lambda text: (
            text.replace(
                "          form_id: leap-followup-form",
                "          form_id: leap-followup-form\n          token_env_unused: x",
            )
            .replace(
                "token_env: AMED_SAMPLE_API_TOKEN\n          form_id: leap-followup-form",
                "token_env: AMED_TEST_UNSET_TOKEN\n          form_id: leap-followup-form",
            )
            .replace("\n          token_env_unused: x", "")
        ),
    )
    url = f"duckdb:///{tmp_path}/warehouse.duckdb"
    with env(AMED_SAMPLE_API_TOKEN=TOKEN, AMED_PSEUDONYM_KEY=TEST_KEY), dg.instance_for_test() as instance:
        result = _pull_and_land(data, url, instance)
        assert result.success
        checks = {
            e.asset_key.to_user_string(): e for e in result.get_asset_check_evaluations() if e.check_name == PULL_CHECK
        }
        failed = checks.pop("leap/followup_google_forms_api_pull")
        assert not failed.passed and failed.description == (
            "leap/followup_google_forms_api: Google Forms token missing: set $AMED_TEST_UNSET_TOKEN"
        )
        assert all(e.passed for e in checks.values()) and len(checks) == 4, {
            k: e.description for k, e in checks.items()
        }  # GBA's three and Leap's Eventbrite pulled
        landed = {
            e.asset_key.to_user_string(): e.materialization.metadata for e in result.get_asset_materialization_events()
        }
        assert landed["leap/bookings_eventbrite_api"]["dagster/row_count"].value > 0
        assert "leap/followup_google_forms_api" in landed  # still landed (nothing to land yet): the rest refreshed
        pulled = landed["get_berkshire_active/bookings_eventbrite_api_pull"]
        assert pulled["requests used"].value == pulled["pages"].value > 1 and pulled["cursor after"].value.startswith(
            "2021-"
        )
        log = "\n".join(dg.serialize_value(r) for r in instance.all_logs(result.run_id))
        assert TOKEN not in log and "AMED_TEST_UNSET_TOKEN" in log
        # The instance's own files too: event log database, compute logs, stored outputs.
        stored = [p for p in Path(instance.root_directory).rglob("*") if p.is_file()]
        assert stored and not any(TOKEN.encode() in p.read_bytes() for p in stored)
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            tables = sa.inspect(conn).get_table_names()
        engine.dispose()
        assert tables and not any(TOKEN in read_table(url, t).astype(str).to_csv() for t in tables)
        before = len(replay.requests)
        offline = _pull_and_land(data, url, instance, offline=True)
        assert offline.success and len(replay.requests) == before  # no API called
        # Leap drops its Eventbrite API source (say, back to exports): its landed rows go with it.
        landed_sources = lambda: set(read_table(url, "landing_file")["source_name"])  # noqa: E731
        assert "bookings_eventbrite_api" in landed_sources()
        config = (data / API_CONFIG).read_text(encoding="utf-8")
        start = config.index(
            "      - dataset: bookings\n        format: eventbrite_api\n        options:\n          base_url",
            config.index("id: leap"),
        )
        end = config.index("      - dataset: bookings\n        format: mapped_csv", start)
        (data / API_CONFIG).write_text(config[:start] + config[end:], encoding="utf-8")
        assert _pull_and_land(data, url, instance, offline=True).success
        assert "bookings_eventbrite_api" in landed_sources()  # Get Berkshire Active's is still configured
        assert (
            not read_table(url, "landing_file")
            .query("partnership_id == 'leap' and source_name == 'bookings_eventbrite_api'")
            .shape[0]
        )
        assert (
            not read_table(url, "landing_bookings")
            .query("partnership_id == 'leap' and source_name == 'bookings_eventbrite_api'")
            .shape[0]
        )
    assert TOKEN not in "".join(p.read_text(errors="ignore") for p in data.rglob("*.json"))


@pytest.mark.slow
def test_the_sample_through_the_apis_gives_the_same_metric_values_as_the_exports(replay, tmp_path):
    files_url = f"duckdb:///{tmp_path}/files.duckdb"
    assert run_nightly_in_process(SAMPLE_DATA_DIR, files_url, tmp_path / "files_exports").success
    data = api_data_dir(tmp_path / "api", replay)
    api_url = f"duckdb:///{tmp_path}/api.duckdb"

    def night():
        with env(AMED_SAMPLE_API_TOKEN=TOKEN):
            defs = build_definitions(
                data, api_url, config_name=API_CONFIG, export_dir=tmp_path / "api_exports", pseudonym_key=TEST_KEY
            )
            tags = all_partnerships_tags(load_programme_config(data, API_CONFIG).partnership_ids)
            return defs.resolve_job_def(NIGHTLY_JOB_NAME).execute_in_process(raise_on_error=False, tags=tags)

    first = night()
    assert first.success
    backfill = len(replay.requests)

    def values(url):
        frame = read_table(url, "metric_values").drop(columns=list(RUN_STAMPS))
        return frame.sort_values(list(frame.columns)).reset_index(drop=True)

    expected = values(files_url)
    assert len(expected) > 100
    assert values(api_url).equals(expected)
    second = night()  # a quiet night: nothing changed in the systems
    assert second.success
    quiet = len(replay.requests) - backfill
    assert quiet <= 20 and backfill >= 40
    assert values(api_url).equals(expected)
