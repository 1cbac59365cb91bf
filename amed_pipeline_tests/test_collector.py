"""Scope: the cyclic garbage collector paused during imports (`lib/collector.py`).

The pause changes when garbage cycles are collected, never what the pipeline computes (the
end-to-end tests compare the outputs); these tests check that the collector is always back on
afterwards, that importing the command line in a process (a test, the code server) leaves it
alone, and that running it as a command pauses it only for its imports.
"""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap

import pytest

from amed_pipeline.lib import collector


def test_paused_turns_the_collector_off_for_the_block_and_back_on_after_even_on_an_error():
    assert gc.isenabled()
    with collector.paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector.paused():
        raise RuntimeError("inside the block")
    assert gc.isenabled()


def test_paused_leaves_a_collector_that_was_off_off():
    gc.disable()
    try:
        with collector.paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_resume_freezes_what_is_alive_then_turns_the_collector_back_on():
    script = textwrap.dedent(
        """
        import gc
        from amed_pipeline.lib import collector
        collector.pause()
        kept = [[i] for i in range(1000)]
        assert not gc.isenabled()
        collector.resume()
        assert gc.isenabled() and gc.get_freeze_count() >= 1000
        print("ok")
        """
    )
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.strip() == "ok"


def test_importing_the_command_line_or_great_expectations_leaves_the_collector_on():
    script = textwrap.dedent(
        """
        import gc
        import amed_pipeline.__main__
        assert gc.isenabled() and gc.get_freeze_count() == 0, "imported, not run: collector untouched"
        from amed_pipeline.quality.gx import great_expectations
        great_expectations()
        assert gc.isenabled() and gc.get_freeze_count() == 0
        print("ok")
        """
    )
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.strip().endswith("ok")


def test_running_the_command_pauses_the_collector_for_its_imports_only():
    # `python -m amed_pipeline --help`, run as `-m` runs it: the collector is back on, with the
    # modules imported before the command started frozen, by the time the command has run.
    script = textwrap.dedent(
        """
        import gc, runpy, sys
        sys.argv = ["amed_pipeline", "--help"]
        try:
            runpy.run_module("amed_pipeline", run_name="__main__", alter_sys=True)
        except SystemExit:
            pass
        print("state", gc.isenabled(), gc.get_freeze_count() > 10_000)
        """
    )
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.strip().splitlines()[-1] == "state True True"
