"""Scope: one unreadable file stays its own partnership's problem (issue 12 §5, last finding).

On a copy of the sample data with one of leap's export files replaced by unreadable bytes, the
nightly job runs to the end: leap's metrics are withheld, the other partnerships' figures are
computed and published, `dq_results` fails `all_files_readable` for leap only, and the exports
and the report say which partnership is not published and why. The programme-wide `all` rows
are withheld by default and published when `publishing.programme_row_while_blocked: true`.
"""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
import yaml

from amed_pipeline_tests.pipeline_runs import SAMPLE_DATA_DIR, read_table, run_nightly_in_process

pytestmark = pytest.mark.slow

BLOCKED = "leap"
OTHERS = {"active_oxfordshire", "get_berkshire_active"}
UNREADABLE = "raw/leap/sessions/Leap_Active_Medicine_courses.csv"


def test_an_unreadable_file_blocks_only_its_partnership(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(SAMPLE_DATA_DIR, data, ignore=shutil.ignore_patterns("warehouse", "exports", ".secrets"))
    (data / UNREADABLE).write_bytes(b"\x00\x01\x02PK\x03\x04 not a csv \xff\xfe" * 200)
    url, exports = f"duckdb:///{tmp_path}/warehouse.duckdb", tmp_path / "exports"

    result = run_nightly_in_process(data, url, exports)
    assert result.success, [e.message for e in result.all_events if e.is_step_failure]
    published = read_table(url, "metric_values_published")
    assert set(published["partnership_id"]) == OTHERS  # leap withheld, and 'all' by default
    assert set(read_table(url, "metric_values")["partnership_id"]) == OTHERS

    history = read_table(url, "dq_results")
    readable = history[history["rule"] == "all_files_readable"].set_index("partnership_id")["passed"]
    assert not readable[BLOCKED] and all(readable[p] for p in OTHERS), readable

    workbook = pd.read_excel(exports / "amed_metrics.xlsx", sheet_name=None, header=None)
    cover = " ".join(str(v) for frame in workbook.values() for v in frame.to_numpy().ravel())
    assert "Not published: Leap (leap)" in cover and UNREADABLE in cover
    report = (exports / "evaluation_report.html").read_text()
    assert 'id="withheld"' in report and "Leap (leap)" in report and "withheld while a partnership is blocked" in report

    # The policy, made explicit: publish the programme-wide rows anyway.
    config = yaml.safe_load((data / "partnerships.yaml").read_text())
    config["publishing"] = {"programme_row_while_blocked": True}
    (data / "partnerships.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    assert run_nightly_in_process(data, url, exports).success
    published = read_table(url, "metric_values_published")
    assert set(published["partnership_id"]) == OTHERS | {"all"}
    assert "published without the unreadable files" in (exports / "evaluation_report.html").read_text()
