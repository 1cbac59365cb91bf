"""Scope: the HTML report in a real browser (headless Chromium from Debian's packages).

The report produced by a full run on the sample data (with Leap's follow-up survey taken out of
the config, see `deliverables_run`) must render offline, show its charts (bars drawn in the
report's colours on the screenshot), show exactly the figures of `metric_values_published`, the
base (n) beside every share and mean, "not applicable" ([z]) for Leap's follow-up measures, and a
legend for every symbol on the page.
"""

from __future__ import annotations

import subprocess
from html.parser import HTMLParser

import pytest

from amed_pipeline.reports.html_report import PALETTE, format_base, format_value
from amed_pipeline.reports.presentation import mark_not_applicable
from amed_pipeline_tests.pipeline_runs import read_table
from amed_pipeline_tests.processes import CHROMIUM_FLAGS


@pytest.fixture(scope="module")
def report_run(deliverables_run):
    return {**deliverables_run, "report": deliverables_run["exports"] / "evaluation_report.html"}


def run_chromium(chromium, base, *arguments) -> subprocess.CompletedProcess:
    profile = base / "chromium-profile"
    return subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *arguments],
        capture_output=True,
        text=True,
        timeout=120,
    )


class FigureCollector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.figures, self.current, self.sections, self.svg_rects = [], None, [], 0
        self.bases, self.not_applicable, self.legend, self.in_legend, self.text = [], [], [], False, []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "span" and (
            "data-metric" in attributes or "data-base-of" in attributes or "data-not-applicable" in attributes
        ):
            self.current = {**attributes, "text": ""}
        if tag == "ul" and attributes.get("class") == "legend":
            self.in_legend = True
        if tag == "section":
            self.sections.append(attributes.get("id"))
        if tag == "rect" and attributes.get("class") == "bar":
            self.svg_rects += 1

    def handle_data(self, data):
        self.text.append(data)
        if self.current is not None:
            self.current["text"] += data
        if self.in_legend:
            self.legend.append(data)

    def handle_endtag(self, tag):
        if tag == "span" and self.current is not None:
            if "data-base-of" in self.current:
                self.bases.append(self.current)
            elif "data-not-applicable" in self.current:
                self.not_applicable.append(self.current)
            else:
                self.figures.append(self.current)
            self.current = None
        if tag == "ul":
            self.in_legend = False


def test_report_renders_in_chromium_with_the_published_figures(chromium, report_run):
    completed = run_chromium(chromium, report_run["base"], "--dump-dom", report_run["report"].as_uri())
    assert completed.returncode == 0, completed.stderr[-2000:]
    dom = FigureCollector()
    dom.feed(completed.stdout)
    assert dom.sections == [
        "headline",
        "training-types",
        "role-groups",
        "delivery",
        "ratings",
        "conversations",
        "breakdowns",
        "partnerships",
        "notes",
    ]
    assert dom.svg_rects >= 20
    published = mark_not_applicable(read_table(report_run["url"], "metric_values_published"), {"followup": {"leap"}})
    assert len(dom.figures) >= 30
    for figure in dom.figures:
        rows = published[
            (published["metric_id"] == figure["data-metric"])
            & (published["partnership_id"] == figure["data-partnership"])
            & (published["dimension_value"] == figure["data-dimension-value"])
        ]
        rows = rows[rows["dimension"] == figure["data-dimension"]]
        assert len(rows) == 1, figure
        row = rows.iloc[0]
        assert figure["text"].strip() == format_value(row["value"], row["unit"], row["observation_status"]), figure
    people = [f for f in dom.figures if f["data-metric"] == "people_trained" and f["data-partnership"] == "all"]
    assert people and people[0]["text"].strip() == "1,301"  # programme totals are published exactly (policy)
    sessions = [f for f in dom.figures if f["data-metric"] == "sessions_delivered" and f["data-partnership"] == "all"]
    assert sessions[0]["text"].strip() == "68"


def test_report_shows_the_base_beside_every_share_and_mean_and_z_where_there_is_no_follow_up(chromium, report_run):
    completed = run_chromium(chromium, report_run["base"], "--dump-dom", report_run["report"].as_uri())
    assert completed.returncode == 0, completed.stderr[-2000:]
    dom = FigureCollector()
    dom.feed(completed.stdout)
    published = mark_not_applicable(read_table(report_run["url"], "metric_values_published"), {"followup": {"leap"}})
    bases = {
        (b["data-base-of"], b["data-partnership"], b["data-dimension"], b["data-dimension-value"]): b["text"].strip()
        for b in dom.bases
    }
    shares_and_means = [
        f
        for f in dom.figures
        if f["data-metric"] in set(published.loc[published["unit"].isin(["share", "mean_0_10"]), "metric_id"])
    ]
    assert len(shares_and_means) >= 20
    for figure in shares_and_means:
        key = (
            figure["data-metric"],
            figure["data-partnership"],
            figure["data-dimension"],
            figure["data-dimension-value"],
        )
        assert key in bases, f"no base (n) beside {key}"
        rows = published[
            (published["metric_id"] == key[0])
            & (published["partnership_id"] == key[1])
            & (published["dimension"] == key[2])
            & (published["dimension_value"] == key[3])
        ]
        assert len(rows) == 1, key
        row = rows.iloc[0]
        assert bases[key] == f"({format_base(row['base_n'], row['unit'], row['observation_status'])})"
    assert bases[("feedback_response_rate", "all", "", "")] == "(n = 1,385)"  # attendances, rounded to 5
    # Leap has no follow-up survey in this config: not applicable, never "0%".
    leap_followup = {
        f["data-metric"]: f["text"].strip()
        for f in dom.figures
        if f["data-partnership"] == "leap" and f["data-metric"].startswith("followup")
    }
    assert leap_followup == {"followup_response_rate": "[z]"}
    leap_conversations = [
        f["text"].strip()
        for f in dom.figures + dom.not_applicable
        if f["data-partnership"] == "leap"
        and "more_conversations_share" in (f.get("data-metric"), f.get("data-not-applicable"))
    ]
    assert leap_conversations and set(leap_conversations) == {"[z]"}
    # The legend explains every symbol on the page, the dash included when one is drawn.
    legend = "".join(dom.legend)
    page_text = "".join(dom.text)
    for symbol in ("[c]", "[u]", "[z]", "[x]", "–"):
        if symbol in page_text.replace(legend, ""):
            assert symbol in legend, f"{symbol} appears without a legend entry"
    assert "[z]" in legend and "Not applicable" in legend
    assert "How important is it to have conversations about physical activity" in page_text
    assert "rounded to the nearest 5" in page_text and "Shares are displayed as whole percentages" in page_text


def test_report_charts_are_visible_on_a_screenshot(chromium, report_run):
    from PIL import Image

    shot = report_run["base"] / "report.png"
    completed = run_chromium(
        chromium, report_run["base"], f"--screenshot={shot}", "--window-size=1280,4200", report_run["report"].as_uri()
    )
    assert completed.returncode == 0 and shot.exists(), completed.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    colours = {tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in PALETTE[:4]}
    counts = {c: 0 for c in colours}
    for pixel in image.getdata():
        if pixel in counts:
            counts[pixel] += 1
    # Bars in at least four colours, each covering a visible area.
    assert sum(1 for n in counts.values() if n > 500) >= 4, counts
