"""The shape of `amed_pipeline/` at a checkout: lines per folder, the longest functions, import cycles.

For reviews of structural changes (issue 13's before-and-after table): run it on two checkouts and
compare. A function's length runs from its `def` to its last line, nested functions included, so a
factory that defines its assets inline counts them. Cycles are between subpackages (and top-level
modules), counting imports inside functions, as `amed_pipeline_tests/test_import_graph.py` does.

    python scripts/code_shape.py [checkout]    # default: this checkout
"""

from __future__ import annotations

import ast
import collections
import sys
from pathlib import Path


def unit_of(module: str) -> str:
    """`amed_pipeline.landing.tables` -> `landing`; `amed_pipeline.settings` -> `settings`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def imported_units(tree: ast.AST) -> set[str]:
    units = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("amed_pipeline"):
            if node.module == "amed_pipeline":
                units.update(alias.name for alias in node.names)
            else:
                units.add(unit_of(node.module))
        elif isinstance(node, ast.Import):
            units.update(unit_of(a.name) for a in node.names if a.name.startswith("amed_pipeline."))
    return units


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the groups of units that import one another (size > 1)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in list(graph):
        if node not in index:
            visit(node)
    return groups


def main(checkout: Path) -> None:
    package = checkout / "amed_pipeline"
    lines: collections.Counter = collections.Counter()
    files: collections.Counter = collections.Counter()
    functions: list[tuple[int, str]] = []
    graph: dict[str, set[str]] = collections.defaultdict(set)
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        folder = relative.parts[0] if len(relative.parts) > 1 else "(top-level modules)"
        text = path.read_text(encoding="utf-8")
        lines[folder] += len(text.splitlines())
        files[folder] += 1
        tree = ast.parse(text)
        unit = unit_of("amed_pipeline." + ".".join(relative.with_suffix("").parts))
        graph[unit] |= imported_units(tree) - {unit, "amed_pipeline"}
        functions += [
            (node.end_lineno - node.lineno + 1, f"{relative}:{node.name}")
            for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        ]
    print("| folder | files | lines |\n|---|---|---|")
    for folder in sorted(lines):
        print(f"| {folder} | {files[folder]} | {lines[folder]} |")
    print(f"| total | {sum(files.values())} | {sum(lines.values())} |")
    functions.sort(reverse=True)
    print("longest functions:", ", ".join(f"{name} ({length})" for length, name in functions[:6]))
    print("functions over 60 lines:", sum(1 for length, _ in functions if length > 60))
    print("import cycles between subpackages:", strongly_connected(graph) or "none")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]))
