"""Scope: export files and configuration as untrusted input.

- xlsx: formula cells are read as their cached values, never as formulas (nothing is computed);
- exports: CSV and Excel cells starting with `=`, `+`, `-` or `@` are neutralised against
  spreadsheet formula injection;
- size: a file over `limits.max_file_mb` (or an xlsx whose uncompressed content is) is refused
  unread, as a file-level quarantine naming the file and the limit, and the other files load;
- misaligned rows: cells beyond the header are quarantined with email addresses masked;
- paths: a glob that leaves the data dir is refused at config load, and a symbolic link inside
  the data dir that points outside it is refused, not followed;
- SQL: partnership and source ids are validated, and no code in `amed_pipeline/` formats a value
  into SQL (a static scan allows only identifiers from the declared schema; it is shown to catch
  planted examples).
"""

from __future__ import annotations

import ast
import copy
import csv
import re
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import yaml

from amed_pipeline.config import ConfigError
from amed_pipeline.config.partnerships import parse_programme_config
from amed_pipeline.reading.files import read_raw_table
from amed_pipeline.reading.parse import FILE_LEVEL_ROW, read_source
from amed_pipeline.reports.exports import write_csv
from amed_pipeline.reports.presentation import Labels
from amed_pipeline.reports.workbook import write_evaluation_workbook
from amed_pipeline_tests.conftest import write_xlsx
from amed_pipeline_tests.pipeline_runs import PROJECT_ROOT, SAMPLE_DATA_DIR, TEST_KEY

EVENTBRITE_HEADER = "Order #,Order Date,First Name,Last Name,Email,Attendee #,Attendee Status,Event Name,Event ID\n"


def eventbrite_csv(rows: int) -> str:
    body = "".join(
        f"{1000 + i},2020-07-01 09:00,Ann{i},Example,ann{i}@example.org,{5000 + i},Checked In,Session,115243358567\n"
        for i in range(rows)
    )
    return EVENTBRITE_HEADER + body


# --- xlsx: values, never formulas ----------------------------------------------------------------


def test_formula_cells_are_read_as_their_cached_values_never_as_formulas(tmp_path):
    path = write_xlsx(
        tmp_path / "responses.xlsx",
        {"Sheet1": [["Name", "Score", "Total", "Uncached"], ["Ann", "=1+1", "=SUM(B2:B2)*10", "=cmd|' /C calc'!A0"]]},
        cached_values={"1+1": 2, "SUM(B2:B2)*10": 20},
    )
    table = read_raw_table(path)
    row = table.rows.iloc[0]
    assert (row[0], row[1], row[2]) == ("Ann", "2", "20")
    assert row[3] == "", "a formula without a cached value reads as blank, never as its text or a result"
    assert not any(str(cell).startswith("=") for cell in row.tolist())


# --- exports: formula injection ------------------------------------------------------------------


DANGEROUS = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1:A9)", "\t=1"]


def test_exported_csv_cells_that_a_spreadsheet_would_run_are_neutralised(tmp_path):
    frame = pd.DataFrame({"text": DANGEROUS + ["plain", "a=b"], "number": [-3, 1, 2, 3, 4, 5, 6]})
    path = write_csv(frame, tmp_path / "out.csv")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf"), "UTF-8 with a byte-order mark, for Excel"
    with open(path, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["text"] for r in rows] == ["'" + v for v in DANGEROUS] + ["plain", "a=b"]
    assert rows[0]["number"] == "-3", "numbers are not formulas and stay numbers"


def test_exported_workbook_cells_are_text_not_formulas(tmp_path):
    """Dangerous text in ids, labels and the programme name stays text in the GSS workbook (gptables)."""
    from openpyxl import load_workbook

    values = DANGEROUS[:4] + ["[click](http://attacker.example)"]
    frame = pd.DataFrame(
        {
            "metric_id": "training_type_share",
            "partnership_id": "all",
            "dimension": "training_type",
            "dimension_value": values,
            "period_start": pd.Timestamp("2020-07-01").date(),
            "period_end": pd.Timestamp("2020-07-31").date(),
            "numerator": 40.0,
            "denominator": 200.0,
            "value": 0.2,
            "unit": "share",
            "base_n": 200,
            "observation_status": "",
        }
    )
    definitions = pd.DataFrame(
        {
            "metric_id": ["training_type_share"],
            "unit": ["share"],
            "dimension": ["training_type"],
            "label": ["=1+1"],
            "definition": ["@SUM(A1)"],
        }
    )
    programme = '=HYPERLINK("http://attacker.example","Active Medicine")'
    labels = Labels({}, {"training_type_share": "+cmd"}, {"training_type": {}})
    path = write_evaluation_workbook(
        tmp_path / "out.xlsx",
        frame,
        definitions,
        labels,
        ["all"],
        programme,
        (pd.Timestamp("2020-07-01").date(),) * 2,
        ["=note"],
    )
    workbook = load_workbook(path)
    texts = [
        c.value for sheet in workbook.worksheets for row in sheet.iter_rows() for c in row if isinstance(c.value, str)
    ]
    for value in DANGEROUS[:4]:
        assert not any(t == value for t in texts), value
    assert any(t.startswith("'=HYPERLINK") for t in texts)
    formulas = [
        c.coordinate for sheet in workbook.worksheets for row in sheet.iter_rows() for c in row if c.data_type == "f"
    ]
    assert not formulas, f"formula cells in the export: {formulas}"
    links = [
        c.coordinate
        for sheet in workbook.worksheets
        if sheet.title != "Contents"
        for row in sheet.iter_rows()
        for c in row
        if c.hyperlink
    ]
    assert not links, f"links made from data: {links}"


# --- file size -----------------------------------------------------------------------------------


def test_a_file_over_the_size_limit_is_refused_unread_with_a_clear_file_level_quarantine(
    data_dir, write_export, make_source
):
    write_export("eb/big.csv", eventbrite_csv(200))
    write_export("eb/small.csv", eventbrite_csv(2))
    limit = 2_000
    read = read_source(make_source("bookings", "eventbrite", "eb/*.csv"), data_dir, max_file_bytes=limit)
    big, small = read.files
    assert big.source_file == "eb/big.csv" and big.rows_read == 0 and big.size_bytes > limit
    assert "over the" in big.error and "MB limit" in big.error and "limits.max_file_mb" in big.error
    record = [q for q in read.quarantine if q["source_file"] == "eb/big.csv"]
    assert len(record) == 1 and record[0]["source_row"] == FILE_LEVEL_ROW and record[0]["rule"] == "file_unreadable"
    assert small.error == "" and small.rows_read == 2
    assert set(read.rows["source_file"]) == {"eb/small.csv"}


def test_an_xlsx_that_expands_beyond_the_limit_is_refused(data_dir, make_source):
    rows = [["ID", "Completion time", "How useful was today's session to your role?"]]
    rows += [[i, "2020-11-03 14:05", "x" * 200] for i in range(2000)]  # compresses ~100:1
    path = write_xlsx(data_dir / "ms" / "bomb.xlsx", {"Sheet1": rows})
    limit = 200_000
    assert path.stat().st_size < limit
    read = read_source(make_source("feedback", "msforms", "ms/*.xlsx"), data_dir, max_file_bytes=limit)
    assert "uncompressed content" in read.files[0].error and read.files[0].rows_read == 0


def materialise_raw_export(data_dir: Path, csv_text: str, **top_level):
    """One partnership with one Eventbrite source over `csv_text`, read by the real raw-export asset.

    Returns what landed in the warehouse: the file ledger, the rows and the quarantine records.
    """
    import shutil
    from types import SimpleNamespace

    from amed_pipeline.landing.tables import read_landed
    from amed_pipeline.warehouse.resource import WarehouseResource

    shutil.copytree(SAMPLE_DATA_DIR / "reference", data_dir / "reference")
    (data_dir / "raw/eb").mkdir(parents=True)
    (data_dir / "raw/eb/export.csv").write_text(csv_text, encoding="utf-8")
    raw = yaml.safe_load((SAMPLE_DATA_DIR / "partnerships.yaml").read_text(encoding="utf-8"))
    raw.update(top_level)
    raw["partnerships"] = [
        {
            "id": "tiny",
            "name": "Tiny",
            "sources": [{"dataset": "bookings", "format": "eventbrite", "path": "raw/eb/*.csv"}],
        }
    ]
    (data_dir / "partnerships.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    from amed_pipeline.definitions import build_definitions

    url = f"duckdb:///{data_dir}/warehouse.duckdb"
    definitions = build_definitions(data_dir, url, pseudonym_key=TEST_KEY)
    key = dg.AssetKey(["tiny", "bookings_eventbrite"])
    assert dg.materialize([definitions.resolve_assets_def(key)]).success
    with WarehouseResource(url=url).connect() as conn:
        rows, quarantine, files = read_landed(conn, "bookings", "tiny")
    return SimpleNamespace(rows=rows, quarantine=quarantine, files=files)


def test_the_configured_limit_reaches_the_raw_export_asset(tmp_path):
    export = materialise_raw_export(tmp_path, eventbrite_csv(100), limits={"max_file_mb": 0.001})
    assert "limits.max_file_mb" in export.files[0].error and export.rows.empty


def test_a_misaligned_row_cannot_put_an_email_into_the_quarantine(tmp_path):
    shifted = (
        eventbrite_csv(2) + "1099,2020-07-01 09:00,Zed,Example,,5099,Checked In,Session,115243358567,zed@example.org\n"
    )
    export = materialise_raw_export(tmp_path, shifted)
    overflow = export.quarantine[export.quarantine["column_name"] == "(beyond last column)"]
    assert len(overflow) == 1 and overflow["value"].iat[0] == "[email removed]"
    assert "@" not in export.quarantine.to_csv() + export.rows.to_csv()


# --- paths ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "../outside/*.csv",
        "raw/../../etc/*.csv",
        "/etc/passwd",
        "~/exports/*.csv",
        "C:/exports/*.csv",
        "raw\\..\\..\\x.csv",
    ],
)
def test_a_glob_that_leaves_the_data_dir_is_refused_at_load(tmp_path, path):
    raw = yaml.safe_load((SAMPLE_DATA_DIR / "partnerships.yaml").read_text(encoding="utf-8"))
    raw["partnerships"][0]["sources"][1]["path"] = path
    with pytest.raises(ConfigError, match="leaves the data dir"):
        parse_programme_config(raw, tmp_path)


def test_a_link_inside_the_data_dir_that_points_outside_is_refused_not_followed(tmp_path, make_source):
    data_dir, outside = tmp_path / "data", tmp_path / "elsewhere"
    (data_dir / "eb").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.csv").write_text(eventbrite_csv(3).replace("ann0@", "outsider@"), encoding="utf-8")
    (data_dir / "eb" / "link.csv").symlink_to(outside / "secret.csv")
    (data_dir / "linked_dir").symlink_to(outside, target_is_directory=True)
    (data_dir / "eb" / "real.csv").write_text(eventbrite_csv(1), encoding="utf-8")
    (data_dir / "eb" / "inside_link.csv").symlink_to(data_dir / "eb" / "real.csv")
    read = read_source(make_source("bookings", "eventbrite", "eb/*.csv"), data_dir)
    errors = {f.source_file: f.error for f in read.files}
    assert "outside the data dir" in errors["eb/link.csv"]
    assert errors["eb/real.csv"] == "" and errors["eb/inside_link.csv"] == "", "links that stay inside are fine"
    assert "outsider@example.org" not in read.rows.to_csv()
    via_dir = read_source(make_source("bookings", "eventbrite", "linked_dir/*.csv"), data_dir)
    assert [f.error != "" for f in via_dir.files] == [True] and via_dir.rows.empty


# --- SQL -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad_id", ["x'; DROP TABLE dim_person; --", 'leap" OR 1=1', "Leap", "leap-2", "../leap"])
def test_ids_that_reach_sql_are_validated(tmp_path, bad_id):
    raw = yaml.safe_load((SAMPLE_DATA_DIR / "partnerships.yaml").read_text(encoding="utf-8"))
    as_partnership = copy.deepcopy(raw)
    as_partnership["partnerships"][0]["id"] = bad_id
    with pytest.raises(ConfigError, match=r"\[a-z0-9_\]\+"):
        parse_programme_config(as_partnership, tmp_path)
    as_source = copy.deepcopy(raw)
    as_source["partnerships"][0]["sources"][0]["name"] = bad_id
    with pytest.raises(ConfigError, match=r"\[a-z0-9_\]\+"):
        parse_programme_config(as_source, tmp_path)


SQL_WORDS = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|COPY|TRUNCATE|GRANT|WHERE)\b")
# Interpolations allowed in SQL text: identifiers from the declared schema (a `Table`'s name and
# its column names, quoted) and the generated name of a temporary DuckDB view. Never a value.
ALLOWED_INTERPOLATIONS = {"table.name", "quoted", "view", "NULL_MARKER"}


def sql_formatting_problems(source: str, filename: str) -> list[str]:
    """Places where text is formatted into SQL: f-strings with non-identifier interpolations,
    `%`, `.format()` or `+` mixing SQL text with anything that is not a constant."""
    tree = ast.parse(source)
    assignments = [
        (target.id, node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    ]
    constants = _module_constants(tree, _imported_constants(tree))
    sql_constants = {name for name, value in assignments if name in constants and SQL_WORDS.search(ast.unparse(value))}

    def sql_text(node) -> bool:
        if isinstance(node, ast.Constant):
            return isinstance(node.value, str) and bool(SQL_WORDS.search(node.value))
        if isinstance(node, ast.Name):
            return node.id in sql_constants
        if isinstance(node, ast.BinOp):
            return sql_text(node.left) or sql_text(node.right)
        return False

    problems: dict[int, str] = {}
    for node in ast.walk(tree):
        where = f"{filename}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.JoinedStr):
            literal = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
            if SQL_WORDS.search(literal):
                for value in node.values:
                    if isinstance(value, ast.FormattedValue) and ast.unparse(value.value) not in ALLOWED_INTERPOLATIONS:
                        problems.setdefault(
                            node.lineno, f"{where}: f-string SQL interpolates {ast.unparse(value.value)}"
                        )
        elif isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mod, ast.Add)):
            if sql_text(node) and not _is_constant_text(node, constants):
                problems.setdefault(
                    node.lineno, f"{where}: SQL text built with {type(node.op).__name__}: {ast.unparse(node)[:80]}"
                )
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
            if sql_text(node.func.value) and not _is_constant_text(node, constants):
                problems.setdefault(node.lineno, f"{where}: SQL text built with .format(): {ast.unparse(node)[:80]}")
    return [problems[line] for line in sorted(problems)]


def _module_constants(tree, known: set[str] = frozenset()) -> set[str]:
    """Module-level names bound only to constant text, including text joined from other such names
    (a shared SQL fragment plus a literal is still a constant)."""
    assignments = [
        (target.id, node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    ]
    constants = set(known)
    while True:
        more = {name for name, value in assignments if name not in constants and _is_constant_text(value, constants)}
        if not more:
            break
        constants |= more
    # A name that is also bound to anything else is not a constant.
    return constants - {name for name, value in assignments if not _is_constant_text(value, constants)}


def _imported_constants(tree, seen: frozenset[str] = frozenset()) -> set[str]:
    """Names imported from the project's own modules that are constant text there."""
    names = set()
    for node in tree.body:
        if not (isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("amed_pipeline")):
            continue
        there = _constants_of_module(node.module, seen)
        names |= {alias.asname or alias.name for alias in node.names if alias.name in there}
    return names


# Each project module's constant names, worked out once: without this, every file re-walked the
# whole import graph below it (minutes for the package).
_MODULE_CONSTANTS: dict[str, set[str]] = {}


def _constants_of_module(module_name: str, seen: frozenset[str]) -> set[str]:
    if module_name in _MODULE_CONSTANTS:
        return _MODULE_CONSTANTS[module_name]
    path = PROJECT_ROOT.joinpath(*module_name.split(".")).with_suffix(".py")
    if module_name in seen or not path.is_file():
        return set()  # an import cycle: fewer constants only makes the scan stricter
    module = ast.parse(path.read_text(encoding="utf-8"))
    constants = _module_constants(module, _imported_constants(module, seen | {module_name}))
    _MODULE_CONSTANTS[module_name] = constants
    return constants


def _is_constant_text(node, constants: set[str]) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.Name):
        return node.id in constants
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _is_constant_text(node.left, constants) and _is_constant_text(node.right, constants)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        arguments = [*node.args, *(k.value for k in node.keywords)]
        return _is_constant_text(node.func.value, constants) and all(isinstance(a, ast.Constant) for a in arguments)
    return False


def test_no_code_formats_a_value_into_sql():
    problems = []
    for path in sorted((PROJECT_ROOT / "amed_pipeline").rglob("*.py")):
        problems += sql_formatting_problems(path.read_text(encoding="utf-8"), str(path.relative_to(PROJECT_ROOT)))
    assert not problems, "\n".join(problems)


def test_the_sql_scan_catches_planted_examples():
    planted = """
SQL = "SELECT * FROM fact_booking"
def bad(conn, partnership, table):
    conn.execute(text(f"SELECT * FROM fact_booking WHERE partnership_id = '{partnership}'"))
    conn.execute(text("DELETE FROM quarantine WHERE source_file = '%s'" % partnership))
    conn.execute(text("SELECT * FROM {} WHERE x = 1".format(table)))
    conn.execute(text(SQL + " WHERE partnership_id = '" + partnership + "'"))
def good(conn, table, partnership):
    conn.execute(text(SQL + " WHERE partnership_id = :p"), {"p": partnership})
    conn.execute(text("SELECT 1 FROM {t}".format(t="fact_feedback")))
    duck.execute(f'INSERT INTO "{table.name}" SELECT * FROM {view}')
"""
    problems = sql_formatting_problems(planted, "planted.py")
    assert [p.split(":")[1] for p in problems] == ["4", "5", "6", "7"], problems
