"""Importing Great Expectations without the two libraries only its statistical expectations use.

`import great_expectations` loads every expectation class GX ships. One of them
(`ExpectColumnKlDivergenceToBeLessThan`, and two distribution metrics) imports `scipy.stats` and
`altair` at module level, though it uses them only inside its methods. Those two imports were ~0.9 s
of the ~2.3 s of CPU GX took to import, a fixed cost of every refresh, and no suite here uses them.

Two more are imported the same way for the same reason: `jsonschema` (one metric's method) and
`mistune` (one Markdown renderer's method), ~40 ms together.

`great_expectations()` imports GX with a stand-in for each (`_ImportedOnUse`): the stand-in imports
the real module the first time any of its attributes is read, so a statistical expectation, were
one ever used, would work unchanged. The stand-ins leave `sys.modules` as soon as GX is imported, so
any later `import scipy.stats` anywhere gets the real module; only GX's own module globals keep
them. A module that is already imported (a test that imported scipy first) is used as it is.

The cyclic garbage collector is kept off while GX is imported (`lib.collector.paused`): the import
creates some 300 pydantic model classes, and the full collections it triggered walked every object
of the process several times over (~0.4 s of CPU of a sample refresh).
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager

from amed_pipeline.lib import collector

# Imported by GX at module level, used only inside the methods of its statistical expectations
# (scipy.stats, altair), of its JSON-schema metric (jsonschema, ~25 ms) and of its Markdown
# rendering (mistune, ~15 ms), none of which our suites use.
IMPORTED_ON_USE = ("scipy.stats", "altair", "jsonschema", "mistune")


class _ImportedOnUse(types.ModuleType):
    """Stands in for a module until one of its attributes is read; then imports it and reads that."""

    def __getattr__(self, name: str):
        # Only called for what a bare module object lacks, i.e. everything the real module defines.
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), name)


def great_expectations() -> types.ModuleType:
    """The `great_expectations` package, imported on first call (it takes a second or two)."""
    if "great_expectations" not in sys.modules:
        with collector.paused(), _stand_ins(IMPORTED_ON_USE):
            import great_expectations  # noqa: F401
    return sys.modules["great_expectations"]


@contextmanager
def _stand_ins(names: tuple[str, ...]) -> Iterator[None]:
    """A stand-in in `sys.modules` for each of `names` not yet imported, for the duration."""
    placed = {name: _ImportedOnUse(name) for name in names if name not in sys.modules}
    sys.modules.update(placed)
    try:
        yield
    finally:
        for name, stand_in in placed.items():
            if sys.modules.get(name) is stand_in:
                del sys.modules[name]
