"""Scope: preparing export files for landing (`landing.prepare`), in this process or in workers.

The raw-exports step uses worker processes only when there is a lot to read, so the sample data
alone never takes that path: this test forces it and compares with the in-process result.
"""

from __future__ import annotations

import pandas as pd

from amed_pipeline.config import load_programme_config
from amed_pipeline.landing.prepare import PARALLEL_MIN_BYTES, PrepareTask, parallel_workers, prepare_sources
from amed_pipeline_tests.pipeline_runs import SAMPLE_DATA_DIR, TEST_KEY


def tasks():
    config = load_programme_config(SAMPLE_DATA_DIR)
    return [
        PrepareTask(
            source,
            SAMPLE_DATA_DIR,
            config.max_file_bytes,
            {},
            TEST_KEY.encode(),
            frozenset(),
            None,
            config.reference_dir,
        )
        for source in config.sources()
    ]


def test_worker_processes_prepare_exactly_what_this_process_does():
    here = list(prepare_sources(tasks(), workers=0))
    in_workers = list(prepare_sources(tasks(), workers=2))
    assert [p.source for p in in_workers] == [p.source for p in here]  # task order kept
    for a, b in zip(here, in_workers):
        pd.testing.assert_frame_equal(a.rows, b.rows)
        pd.testing.assert_frame_equal(a.quarantine, b.quarantine)
        assert a.files == b.files and a.current == b.current
    assert sum(len(p.rows) for p in here) > 2000


def test_workers_only_for_a_lot_to_read_on_more_than_one_cpu():
    assert parallel_workers(PARALLEL_MIN_BYTES - 1, cpus=2) == 0
    assert parallel_workers(PARALLEL_MIN_BYTES, cpus=2) == 2
    assert parallel_workers(10 * PARALLEL_MIN_BYTES, cpus=1) == 0
