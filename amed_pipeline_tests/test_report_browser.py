"""Scope: the HTML report in a real browser (headless Chromium from Debian's packages).

The report produced by a full run on the sample data must render offline, show its charts (bars
drawn in the report's colours on the screenshot), and show exactly the figures of
`metric_values_published`.
"""

from __future__ import annotations

import subprocess
from html.parser import HTMLParser

import pytest

from amed_pipeline.reports.html_report import PALETTE, format_value
from amed_pipeline_tests.pipeline_runs import SAMPLE_DATA_DIR, read_table, run_nightly_in_process
from amed_pipeline_tests.processes import CHROMIUM_FLAGS

@pytest.fixture(scope="module")
def report_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("report")
    url = f"duckdb:///{base}/warehouse.duckdb"
    result = run_nightly_in_process(SAMPLE_DATA_DIR, url, base / "exports")
    assert result.success
    return {"url": url, "report": base / "exports" / "evaluation_report.html", "base": base}


def run_chromium(chromium, base, *arguments) -> subprocess.CompletedProcess:
    profile = base / "chromium-profile"
    return subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *arguments],
        capture_output=True, text=True, timeout=120,
    )


class FigureCollector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.figures, self.current, self.sections, self.svg_rects = [], None, [], 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "span" and "data-metric" in attributes:
            self.current = {**attributes, "text": ""}
        if tag == "section":
            self.sections.append(attributes.get("id"))
        if tag == "rect" and attributes.get("class") == "bar":
            self.svg_rects += 1

    def handle_data(self, data):
        if self.current is not None:
            self.current["text"] += data

    def handle_endtag(self, tag):
        if tag == "span" and self.current is not None:
            self.figures.append(self.current)
            self.current = None


def test_report_renders_in_chromium_with_the_published_figures(chromium, report_run):
    completed = run_chromium(chromium, report_run["base"], "--dump-dom", report_run["report"].as_uri())
    assert completed.returncode == 0, completed.stderr[-2000:]
    dom = FigureCollector()
    dom.feed(completed.stdout)
    assert dom.sections == ["headline", "training-types", "role-groups", "delivery", "ratings", "conversations", "partnerships", "notes"]
    assert dom.svg_rects >= 20
    published = read_table(report_run["url"], "metric_values_published")
    assert len(dom.figures) >= 30
    for figure in dom.figures:
        rows = published[
            (published["metric_id"] == figure["data-metric"])
            & (published["partnership_id"] == figure["data-partnership"])
            & (published["dimension_value"] == figure["data-dimension-value"])
        ]
        rows = rows[rows["dimension"] != "month"] if figure["data-dimension-value"] == "" else rows
        assert len(rows) == 1, figure
        row = rows.iloc[0]
        assert figure["text"].strip() == format_value(row["value"], row["unit"], row["observation_status"]), figure
    people = [f for f in dom.figures if f["data-metric"] == "people_trained" and f["data-partnership"] == "all"]
    assert people and people[0]["text"].strip() == "1,301"  # programme totals are published exactly (policy)
    sessions = [f for f in dom.figures if f["data-metric"] == "sessions_delivered" and f["data-partnership"] == "all"]
    assert sessions[0]["text"].strip() == "68"


def test_report_charts_are_visible_on_a_screenshot(chromium, report_run):
    from PIL import Image

    shot = report_run["base"] / "report.png"
    completed = run_chromium(chromium, report_run["base"], f"--screenshot={shot}", "--window-size=1280,4200", report_run["report"].as_uri())
    assert completed.returncode == 0 and shot.exists(), completed.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    colours = {tuple(int(c[i:i + 2], 16) for i in (1, 3, 5)) for c in PALETTE[:4]}
    counts = {c: 0 for c in colours}
    for pixel in image.getdata():
        if pixel in counts:
            counts[pixel] += 1
    # Bars in at least four colours, each covering a visible area.
    assert sum(1 for n in counts.values() if n > 500) >= 4, counts
