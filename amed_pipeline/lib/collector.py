"""Python's cyclic garbage collector kept out of the imports a command makes.

A refresh of the bundled sample spent ~1 s of its ~8.5 s of CPU in the cyclic garbage collector,
most of it in seven full collections, nearly all triggered while modules were being imported:
importing Dagster, pandas and SQLAlchemy when the command starts, and Great Expectations on the
first validation, creates hundreds of thousands of objects (classes, functions, pydantic fields),
and every full collection walks all of them again, though none is garbage. Module objects live as
long as the process, so walking them is wasted work.

`pause()` turns the collector off before a block of imports (reference counting still frees
everything not in a cycle) and `resume()` turns it back on, first moving every object alive into
the collector's permanent generation (`gc.freeze`), which later collections never walk; `paused()`
is a `with` block without the freeze. Garbage cycles created by the imports themselves are few and
small and stay allocated: the trade-off Python's documentation of `gc.freeze` describes.

The command line calls `pause` and `resume` around its own imports only when it runs as a command
(`python -m amed_pipeline`), never when a test or the Dagster code server imports it.
`quality.gx` pauses the collector while Great Expectations is imported, in any process, and
freezes nothing: by then a run may hold garbage cycles with data frames in them, which a freeze
would keep for the rest of the process.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


def pause() -> None:
    """The cyclic garbage collector off, until `resume()`."""
    gc.disable()


def resume() -> None:
    """Every object alive now left out of all later collections (they live as long as the process),
    then the collector back on."""
    gc.freeze()
    gc.enable()


@contextmanager
def paused() -> Iterator[None]:
    """The cyclic garbage collector off for the block (back as it was after, even on an error)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
