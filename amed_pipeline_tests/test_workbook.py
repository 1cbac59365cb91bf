"""Scope: the evaluator's deliverables written by a full run, opened as the evaluator opens them.

The workbook (read with openpyxl) follows the GSS guidance "Releasing statistics in spreadsheets":
sheet order, titles in A1, one named table per sheet, no merged cells, no blank rows inside a
table, frozen header rows, percentages and whole-number formats, labels rather than ids, a base
(n) beside every share and mean, shorthand in the cells with a key. The CSVs keep their ids with
labels beside them, write counts as integers and are UTF-8 with a byte-order mark. Figures are
compared with `metric_values_published`: nothing is typed in.
"""

from __future__ import annotations

import csv

import pytest
from openpyxl import load_workbook
from openpyxl.utils import range_boundaries

from amed_pipeline.reports.presentation import mark_not_applicable
from amed_pipeline_tests.pipeline_runs import metric, read_table

SHEET_ORDER = [
    "Cover",
    "Contents",
    "Notes",
    "Headline",
    "Training_type",
    "Role_group",
    "Profession",
    "Setting",
    "Month",
    "Ratings_profession",
    "Ratings_role_group",
    "Surveys_training_type",
    "Definitions",
    "Metric_values",
]
SYMBOLS = ("[c]", "[u]", "[z]", "[x]")


@pytest.fixture(scope="module")
def workbook(deliverables_run):
    return load_workbook(deliverables_run["exports"] / "amed_metrics.xlsx")


@pytest.fixture(scope="module")
def published(deliverables_run):
    return mark_not_applicable(read_table(deliverables_run["url"], "metric_values_published"), {"followup": {"leap"}})


@pytest.fixture(scope="module")
def exact_values(deliverables_run):
    """The exact figures (`metric_values`), for the totals the disclosure rules publish unrounded."""
    return read_table(deliverables_run["url"], "metric_values")


def table_rows(sheet):
    """The sheet's one table: (header, rows) as values."""
    assert len(sheet.tables) == 1, sheet.title
    table = next(iter(sheet.tables.values()))
    min_col, min_row, max_col, max_row = range_boundaries(table.ref)
    rows = [
        [c.value for c in row]
        for row in sheet.iter_rows(min_row=min_row, max_row=max_row, min_col=min_col, max_col=max_col)
    ]
    return table, min_row, rows[0], rows[1:]


def test_sheets_in_order_with_a_title_in_a1_one_named_table_each_and_frozen_headers(workbook):
    assert workbook.sheetnames == SHEET_ORDER
    for sheet in workbook.worksheets:
        assert isinstance(sheet["A1"].value, str) and sheet["A1"].value.strip(), sheet.title
        assert not sheet.merged_cells.ranges, f"merged cells on {sheet.title}"
        assert " " not in sheet.title
        if sheet.title == "Cover":
            continue
        table, header_row, header, rows = table_rows(sheet)
        assert table.name and " " not in table.name
        assert sheet.freeze_panes and int("".join(ch for ch in sheet.freeze_panes if ch.isdigit())) == header_row + 1, (
            sheet.title
        )
        assert all(h for h in header), f"unnamed column on {sheet.title}"
        assert rows, sheet.title
        for row in rows:
            assert any(v not in (None, "") for v in row), f"blank row inside the table on {sheet.title}"
    assert workbook["Headline"]["A1"].value == "Headline figures by partnership"


def test_headline_uses_labels_formats_and_a_base_beside_every_share_and_mean(workbook, published, exact_values):
    sheet = workbook["Headline"]
    _, header_row, header, rows = table_rows(sheet)
    assert header[:4] == [
        "Measure",
        "All partnerships: figure",
        "All partnerships: base (n)",
        "All partnerships: note",
    ] or header[:3] == ["Measure", "All partnerships: figure", "All partnerships: base (n)"]
    assert {"Active Oxfordshire: figure", "Get Berkshire Active: figure", "Leap: figure"} <= set(header)
    by_measure = {row[0]: dict(zip(header, row)) for row in rows}
    people = by_measure["People trained"]
    exact = metric(exact_values, "people_trained")
    # A programme total in `exact_programme_totals` is published as counted: the published figure is the exact one.
    assert people["All partnerships: figure"] == metric(published, "people_trained")["value"] == exact["value"]
    assert people["All partnerships: base (n)"] == "[z]"  # a count has no base
    rate = by_measure["Feedback response rate"]
    assert rate["All partnerships: figure"] == pytest.approx(metric(published, "feedback_response_rate")["value"])
    assert rate["All partnerships: base (n)"] == metric(published, "feedback_response_rate")["base_n"]
    # Survey measures are named as the question asked them.
    assert any(m.startswith("How important is it to have conversations about physical activity") for m in by_measure)
    # Leap runs no follow-up survey here: not applicable, not 0 %.
    assert by_measure["Follow-up response rate"]["Leap: figure"] == "[z]"
    # Number formats by unit, on the figure cells; whole numbers on every base.
    figure_column = header.index("All partnerships: figure") + 1
    base_column = header.index("All partnerships: base (n)") + 1
    formats = {}
    for offset, row in enumerate(rows):
        formats[row[0]] = sheet.cell(row=header_row + 1 + offset, column=figure_column).number_format
        if isinstance(row[base_column - 1], (int, float)):
            assert sheet.cell(row=header_row + 1 + offset, column=base_column).number_format == "#,##0"
    assert formats["People trained"] == "#,##0"
    assert formats["Feedback response rate"] == "0%"
    assert formats[next(m for m in by_measure if m.startswith("How useful was today"))] == "0.0"


def test_every_share_and_mean_has_its_base_beside_it_on_every_table(workbook, published):
    for name in SHEET_ORDER[3:12]:
        _, _, header, rows = table_rows(workbook[name])
        for column, heading in enumerate(header):
            if not heading.endswith(": figure"):
                continue
            scope = heading.removesuffix(": figure")
            for row in rows:
                if (
                    isinstance(row[column], float)
                    and not float(row[column]).is_integer()
                    or name in ("Training_type", "Role_group", "Profession", "Setting")
                ):
                    assert header[column + 1] == f"{scope}: base (n)", (name, heading)
                    base = row[column + 1]
                    assert isinstance(base, int) or base in SYMBOLS, (name, heading, row)


def test_breakdowns_show_labels_not_ids(workbook):
    _, _, header, rows = table_rows(workbook["Role_group"])
    categories = {row[1] for row in rows}
    assert "Third sector, volunteers and council" in categories
    assert not any("_" in c for c in categories)
    _, _, _, rows = table_rows(workbook["Ratings_profession"])
    assert {"Physiotherapist", "Nurse"} <= {row[1] for row in rows}
    _, _, _, rows = table_rows(workbook["Month"])
    assert "July 2020" in {row[1] for row in rows}
    _, _, _, rows = table_rows(workbook["Surveys_training_type"])
    assert "Physical activity in clinical care" in {row[1] for row in rows}


def test_shorthand_in_cells_has_a_key_on_the_cover_and_under_each_table(workbook):
    cover = " ".join(str(c.value) for row in workbook["Cover"].iter_rows() for c in row if c.value)
    for symbol in SYMBOLS:
        assert symbol in cover, f"{symbol} missing from the key on the cover"
    for name in SHEET_ORDER[3:12]:
        sheet = workbook[name]
        _, header_row, _, rows = table_rows(sheet)
        above = " ".join(str(sheet.cell(row=r, column=1).value or "") for r in range(1, header_row))
        used = {s for row in rows for v in row if isinstance(v, str) for s in SYMBOLS if s in v}
        for symbol in used:
            assert symbol in above, f"{symbol} used on {name} without a key above the table"
    used_anywhere = {
        s
        for n in SHEET_ORDER[3:]
        for row in table_rows(workbook[n])[3]
        for v in row
        if isinstance(v, str)
        for s in SYMBOLS
        if s in v
    }
    assert {"[c]", "[u]", "[z]"} <= used_anywhere


def test_csv_keeps_ids_adds_labels_writes_integer_counts_with_a_bom(deliverables_run, published, exact_values):
    path = deliverables_run["exports"] / "metric_values.csv"
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    with open(path, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    header = list(rows[0])
    for id_column, label_column in (
        ("metric_id", "metric_label"),
        ("partnership_id", "partnership_name"),
        ("dimension", "dimension_label"),
        ("dimension_value", "dimension_value_label"),
    ):
        assert header.index(label_column) == header.index(id_column) + 1
    people = next(
        r for r in rows if r["metric_id"] == "people_trained" and r["partnership_id"] == "all" and r["dimension"] == ""
    )
    exact = f"{metric(exact_values, 'people_trained')['value']:.0f}"
    assert f"{metric(published, 'people_trained')['value']:.0f}" == exact  # an exact programme total
    assert people["value"] == exact and people["base_n"] == exact and people["partnership_name"] == "All partnerships"
    for row in rows:
        for column in ("numerator", "denominator", "base_n"):
            assert row[column] == "" or row[column].isdigit(), (column, row[column])
        if row["unit"] == "count":
            assert row["value"] == "" or row["value"].isdigit(), row
    role = next(r for r in rows if r["dimension_value"] == "third_sector_volunteers_council")
    assert role["dimension_value_label"] == "Third sector, volunteers and council"
    leap_rate = next(
        r
        for r in rows
        if r["metric_id"] == "followup_response_rate" and r["partnership_id"] == "leap" and r["dimension"] == ""
    )
    assert leap_rate["observation_status"] == "[z]" and leap_rate["value"] == ""
    assert len(rows) == len(published)
