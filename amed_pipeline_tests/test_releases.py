"""Scope: evaluation releases frozen on the bundled sample, through the `evaluation_release` job.

The three phases of the evaluation (interim December 2020, April 2021, final August 2021) are
frozen from a full run; each is recorded in `release`, `release_input_file` and
`release_metric_values` and exported to its own folder. A release frozen again from the same raw
data (in the same warehouse, or in another one built from the same files) is byte-identical; a
late file makes the next freeze a new version in a new folder, never an overwrite, and `release
diff` names the file; `--as-known-at` rebuilds from the files landed by then (the ledger) and
gives the figures the earlier version had.
"""

from __future__ import annotations

import datetime as dt
import shutil

import pandas as pd
import pytest
import sqlalchemy as sa

from amed_pipeline.definitions import build_definitions
from amed_pipeline.defs.releases import RELEASE_JOB_NAME, RELEASE_TAG, release_run_config, release_tags
from amed_pipeline.releases.build import RELEASE_FILES, ReleaseRequest
from amed_pipeline.releases.diff import release_diff
from amed_pipeline_tests.pipeline_runs import TEST_KEY, metric, read_table, run_nightly_in_process

PHASES = (("Phase 1", dt.date(2020, 12, 31)), ("Phase 2", dt.date(2021, 4, 30)), ("Final", dt.date(2021, 8, 31)))
LATE_FILE = "raw/leap/sign_in/Leap_sign_in_register_2021-01.xlsx"


def freeze(data_dir, url, exports, name, as_at, as_known_at=None):
    request = ReleaseRequest(name, as_at, as_known_at)
    definitions = build_definitions(data_dir, url, export_dir=exports, pseudonym_key=TEST_KEY)
    result = definitions.resolve_job_def(RELEASE_JOB_NAME).execute_in_process(
        run_config=release_run_config(request), tags=release_tags(request), raise_on_error=False
    )
    assert result.success
    output = next(e for e in result.all_events if e.event_type_value == "STEP_OUTPUT")
    return result, {k: v.value for k, v in output.event_specific_data.metadata.items()}


def folder_bytes(folder):
    return {name: (folder / name).read_bytes() for name in RELEASE_FILES}


def connection(url):
    return sa.create_engine(url, poolclass=sa.pool.NullPool).connect()


@pytest.fixture(scope="module")
def phases(deliverables_run):
    run = deliverables_run
    frozen = {}
    for name, as_at in PHASES:
        result, metadata = freeze(run["data_dir"], run["url"], run["exports"], name, as_at)
        assert result.dagster_run.tags[RELEASE_TAG] == name and result.dagster_run.tags["amed/as_at"] == str(as_at)
        frozen[name] = metadata
    return {**run, "frozen": frozen}


def test_three_phases_are_recorded_and_exported_each_to_its_own_folder(phases):
    releases = read_table(phases["url"], "release").sort_values("as_at")
    assert list(releases["release_id"]) == ["phase-1-v1", "phase-2-v1", "final-v1"]
    assert releases["run_id"].str.len().gt(0).all() and releases["code_version"].str.contains("metrics").all()
    assert releases["disclosure_rules"].str.contains("round_counts_to").all()
    inputs = read_table(phases["url"], "release_input_file")
    ledger = read_table(phases["url"], "ingest_ledger")
    assert set(inputs.loc[inputs["release_id"] == "final-v1", "content_hash"]) == set(ledger["content_hash"])
    values = read_table(phases["url"], "release_metric_values")
    people = {r: metric(values[values["release_id"] == r], "people_trained")["value"] for r in releases["release_id"]}
    assert people["phase-1-v1"] < people["phase-2-v1"] < people["final-v1"]
    published = read_table(phases["url"], "metric_values_published")
    # The programme ended in July 2021: the final release is the evaluation's 1,301 people trained, an exact
    # programme total (`exact_programme_totals`), so the same as the exact figure in `metric_values`.
    exact = metric(read_table(phases["url"], "metric_values"), "people_trained")["value"]
    assert people["final-v1"] == metric(published, "people_trained")["value"] == exact == 1301
    phase_1 = values[values["release_id"] == "phase-1-v1"]
    assert (phase_1["period_end"].astype(str) <= "2020-12-31").all()
    months = set(phase_1.loc[phase_1["dimension"] == "month", "dimension_value"])
    assert months and max(months) <= "2020-12"
    for metadata in phases["frozen"].values():
        folder = phases["exports"] / "releases" / metadata["release_id"]
        assert str(folder) == metadata["folder"]
        assert all((folder / f).stat().st_size > 0 for f in RELEASE_FILES)


def test_freezing_again_from_the_same_raw_data_is_byte_identical(phases, tmp_path):
    folder = phases["exports"] / "releases" / "phase-2-v1"
    before = folder_bytes(folder)
    _, metadata = freeze(phases["data_dir"], phases["url"], phases["exports"], "Phase 2", dt.date(2021, 4, 30))
    assert metadata["release_id"] == "phase-2-v1" and metadata["new version"] is False
    assert folder_bytes(folder) == before
    assert len(read_table(phases["url"], "release")) == 3
    # Another warehouse built later from the same raw files gives the same bytes.
    url = f"duckdb:///{tmp_path}/again.duckdb"
    assert run_nightly_in_process(phases["data_dir"], url, tmp_path / "exports").success
    _, again = freeze(phases["data_dir"], url, tmp_path / "exports", "Phase 2", dt.date(2021, 4, 30))
    assert again["release_id"] == "phase-2-v1"
    assert folder_bytes(tmp_path / "exports" / "releases" / "phase-2-v1") == before


def test_a_late_file_makes_a_new_version_the_diff_names_it_and_as_known_at_reproduces_the_first(
    deliverables_run, tmp_path
):
    data_dir = tmp_path / "data"
    shutil.copytree(deliverables_run["data_dir"], data_dir)
    late = data_dir / LATE_FILE
    held = tmp_path / "held.xlsx"
    shutil.move(late, held)
    url, exports = f"duckdb:///{tmp_path}/warehouse.duckdb", tmp_path / "exports"
    assert run_nightly_in_process(data_dir, url, exports).success
    exact_before = read_table(url, "metric_values")
    _, first = freeze(data_dir, url, exports, "Phase 2", dt.date(2021, 4, 30))
    first_bytes = folder_bytes(exports / "releases" / "phase-2-v1")
    # The register arrives late; every other file is recorded as landed on 1 May 2021.
    with connection(url) as conn:
        conn.execute(sa.text("UPDATE file_arrival SET first_landed_at = :t"), {"t": dt.datetime(2021, 5, 1, 9)})
        conn.commit()
    shutil.move(held, late)
    assert run_nightly_in_process(data_dir, url, exports).success
    exact_after = read_table(url, "metric_values")
    _, second = freeze(data_dir, url, exports, "Phase 2", dt.date(2021, 4, 30))
    assert second["release_id"] == "phase-2-v2" and second["new version"] is True
    assert folder_bytes(exports / "releases" / "phase-2-v1") == first_bytes, "the first version was overwritten"
    with connection(url) as conn:
        changed, summary = release_diff(conn, "phase-2-v1", "Phase 2")
    assert summary["a"] == "phase-2-v1" and summary["b"] == "phase-2-v2" and summary["changed"] > 0
    leap_attendances = changed[
        (changed["metric_id"] == "attendances") & (changed["partnership_id"] == "leap") & (changed["dimension"] == "")
    ]
    assert len(leap_attendances) == 1 and leap_attendances.iloc[0]["value_b"] > leap_attendances.iloc[0]["value_a"]
    assert "late file raw/leap/sign_in/Leap_sign_in_register_2021-01.xlsx" in leap_attendances.iloc[0]["reasons"]
    # Other partnerships' exact figures depend on their own data only: a file of Leap moves none of them.
    others = ["active_oxfordshire", "get_berkshire_active"]
    key = ["metric_id", "partnership_id", "dimension", "dimension_value"]

    def exact_of(frame):
        rows = frame[frame["partnership_id"].isin(others)].sort_values(key).reset_index(drop=True)
        return rows[[*key, "numerator", "denominator", "value", "base_n"]]

    assert len(exact_of(exact_before)) > 0
    pd.testing.assert_frame_equal(exact_of(exact_before), exact_of(exact_after))
    # Their published cells may change only through disclosure control (secondary suppression across
    # partnerships), suppressed on one side, and the diff says so, naming Leap.
    untouched = changed[changed["partnership_id"].isin(others)]
    for _, row in untouched.iterrows():
        assert ("[c]" in row["observation_status_a"]) != ("[c]" in row["observation_status_b"]), row.to_dict()
        assert row["reasons"].startswith("disclosure control:") and "leap" in row["reasons"], row["reasons"]
    # As known on 14 May 2021, the register had not landed: the figures of the first version.
    _, known = freeze(data_dir, url, exports, "Phase 2 as known", dt.date(2021, 4, 30), dt.date(2021, 5, 14))
    with connection(url) as conn:
        changed, _ = release_diff(conn, "phase-2-v1", known["release_id"])
    assert changed.empty, changed.head().to_string()
    assert known["input files"] == first["input files"]


def test_the_diff_puts_a_suppression_change_down_to_another_partnerships_files_and_nothing_else():
    from amed_pipeline.releases.diff import disclosure_reason

    files = pd.DataFrame(
        [("leap", "raw/leap/sign_in/x.xlsx", "late file", "late file raw/leap/sign_in/x.xlsx")],
        columns=["partnership_id", "source_file", "kind", "reason"],
    )

    def row(status_a, status_b, partnership="active_oxfordshire"):
        return pd.Series(
            {"partnership_id": partnership, "observation_status_a": status_a, "observation_status_b": status_b}
        )

    became = disclosure_reason(row("", "[c]"), files)
    assert became.startswith("disclosure control: suppressed") and "leap's files" in became
    assert disclosure_reason(row("[c]", "[u]"), files).startswith("disclosure control: no longer suppressed")
    # A shown value that moved, a partnership's own file, or no file at all: not disclosure control.
    assert disclosure_reason(row("", ""), files) is None
    assert disclosure_reason(row("[u]", "[u]"), files) is None
    assert disclosure_reason(row("", "[c]", "leap"), files) is None
    assert disclosure_reason(row("", "[c]"), files.iloc[0:0]) is None
