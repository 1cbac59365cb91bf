"""Scope: the package's layering (docs/architecture.md). The subpackages of `amed_pipeline` and its
top-level modules (`settings`, `vocabulary`, `errors`, `definitions`, `__main__`) import one another
without a cycle, counting every import: at module level, inside functions, relative ones. Read from
the source with `ast`, so nothing is imported and a lazy import cannot hide a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

from amed_pipeline_tests.pipeline_runs import PROJECT_ROOT

PACKAGE = "amed_pipeline"
# Modules that import nothing else from the package: the ground floor every stage may use.
GROUND_FLOOR = ("settings", "vocabulary", "lib")
# operations/planning.py imports step names and fingerprint helpers from four `defs` modules, which
# import it back (through defs/automation.py): issue 13 §2 moves them out of `defs`.
PLANNING = "amed_pipeline.operations.planning"

Graph = dict[str, dict[str, list[str]]]  # unit → unit it imports → where ("module:line")


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(node: ast.AST, module: str, is_package: bool) -> list[str]:
    """The modules (or, for `from package import name`, the possible submodules) an import names."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - node.level + 1]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    # `from amed_pipeline import settings` names a module; `from amed_pipeline.x import y` names x.
    if target == PACKAGE:
        return [f"{PACKAGE}.{alias.name}" for alias in node.names]
    return [target]


def _unit(module: str) -> str | None:
    """The subpackage or top-level module a module belongs to (`amed_pipeline.reading.fields` → `reading`)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == PACKAGE else None


def import_graph(root: Path = PROJECT_ROOT / PACKAGE, leave_out: frozenset[str] = frozenset()) -> Graph:
    """Every import between units of the package; modules in `leave_out` are not read."""
    graph: Graph = {}
    for path in sorted(root.rglob("*.py")):
        module = _module_name(path, root)
        source = _unit(module)
        if source is None or module in leave_out:
            continue
        graph.setdefault(source, {})
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            for target in _imported(node, module, path.name == "__init__.py"):
                unit = _unit(target)
                if unit is not None and unit != source:
                    graph[source].setdefault(unit, []).append(f"{module}:{node.lineno}")
    return graph


def find_cycle(graph: Graph) -> list[str] | None:
    """One cycle as a path of units (first unit repeated at the end), or None."""
    state: dict[str, str] = {}  # unit → "open" (on the current path) | "done"
    path: list[str] = []

    def visit(unit: str) -> list[str] | None:
        state[unit] = "open"
        path.append(unit)
        for target in sorted(graph.get(unit, {})):
            if state.get(target) == "open":
                return path[path.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[unit] = "done"
        return None

    for unit in sorted(graph):
        if unit not in state and (cycle := visit(unit)):
            return cycle
    return None


def describe(cycle: list[str], graph: Graph) -> str:
    """Each step of the cycle with the imports that make it (at most three each)."""
    steps = []
    for source, target in zip(cycle, cycle[1:]):
        where = graph[source][target]
        more = f" and {len(where) - 3} more" if len(where) > 3 else ""
        steps.append(f"  {source} -> {target}: {', '.join(where[:3])}{more}")
    return "import cycle " + " -> ".join(cycle) + "\n" + "\n".join(steps)


def test_the_subpackages_import_one_another_without_a_cycle():
    graph = import_graph()
    cycle = find_cycle(graph)
    assert cycle is None, describe(cycle, graph)


def test_no_import_cycle_but_the_planning_one():
    """Everything but operations/planning.py (issue 13 §2) is already free of cycles."""
    graph = import_graph(leave_out=frozenset({PLANNING}))
    cycle = find_cycle(graph)
    assert cycle is None, describe(cycle, graph)


def test_the_ground_floor_imports_nothing_else_from_the_package():
    graph = import_graph()
    assert {unit: sorted(graph.get(unit, {})) for unit in GROUND_FLOOR} == {unit: [] for unit in GROUND_FLOOR}


def test_the_graph_sees_function_level_and_relative_imports_and_finds_a_planted_cycle(tmp_path):
    package = tmp_path / PACKAGE
    for folder, text in {
        "config": "from ..reading import fields\n",
        "reading": "def late():\n    from amed_pipeline.staging import datasets\n",
        "staging": "from amed_pipeline import config\n",
        "lib": "import os\n",
    }.items():
        (package / folder).mkdir(parents=True)
        (package / folder / "__init__.py").write_text(text)
    graph = import_graph(package)
    cycle = find_cycle(graph)
    assert cycle == ["config", "reading", "staging", "config"]
    assert "amed_pipeline.reading:2" in describe(cycle, graph)
    del graph["staging"]["config"]
    assert find_cycle(graph) is None
