"""Profile one full refresh with pyinstrument (`make profile`, `PROFILE_SCALE=100` by default). Not a test.

The refresh runs in this process (Dagster's in-process executor) so that one profile covers
every step: the user's command runs steps in child processes, which a profiler attached to the
parent would not see. The raw-export step's worker processes are not profiled either; their
work is `landing.prepare.prepare_source`, which `--prepare-only` profiles on its own. The text
profile goes to `benchmarks/results/profile_K<scale>.txt` and its top lines are printed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from benchmarks.run_benchmark import generate  # noqa: E402


def refresh_in_process(data_dir: Path, work: Path) -> None:
    from amed_pipeline.config import load_programme_config
    from amed_pipeline.definitions import build_definitions
    from amed_pipeline.defs.jobs import NIGHTLY_JOB_NAME, all_partnerships_tags

    os.environ.update(
        {
            "AMED_PSEUDONYM_KEY": "benchmark-key",
            "AMED_PSEUDONYM_KEY_FILE": str(work / "key"),
            "AMED_ERASURE_LIST": str(work / "erasure_list.txt"),
            "AMED_EXPORT_DIR": str(work / "exports"),
        }
    )
    defs = build_definitions(data_dir, f"duckdb:///{work}/warehouse.duckdb")
    tags = all_partnerships_tags(load_programme_config(data_dir).partnership_ids)
    result = defs.resolve_job_def(NIGHTLY_JOB_NAME).execute_in_process(tags=tags)
    if not result.success:
        raise SystemExit("the refresh failed")


def prepare_only(data_dir: Path) -> None:
    from amed_pipeline.changes.reference import load_reference
    from amed_pipeline.config import load_programme_config
    from amed_pipeline.landing.prepare import PrepareTask, prepare_source

    config = load_programme_config(data_dir)
    # Loaded once, as the raw-exports step does (`defs.raw_exports`), not once per source.
    reference = load_reference(config.reference_dir).tables
    for source in config.sources():
        prepare_source(
            PrepareTask(
                source,
                data_dir,
                config.max_file_bytes,
                {},
                b"benchmark-key",
                frozenset(),
                None,
                config.reference_dir,
                reference=reference,
            )
        )


def main(argv=None) -> int:
    from pyinstrument import Profiler

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=100)
    parser.add_argument("--prepare-only", action="store_true", help="profile reading and preparing the files alone")
    parser.add_argument("--data", default=str(PROJECT_ROOT / "benchmarks" / ".data"))
    args = parser.parse_args(argv)
    data_dir = generate(args.scale, Path(args.data))
    profiler = Profiler()
    with tempfile.TemporaryDirectory(prefix="amed_profile_") as tmp:
        started = time.perf_counter()
        profiler.start()
        if args.prepare_only:
            prepare_only(data_dir)
        else:
            refresh_in_process(data_dir, Path(tmp))
        profiler.stop()
        elapsed = time.perf_counter() - started
    suffix = "_prepare" if args.prepare_only else ""
    output = PROJECT_ROOT / "benchmarks" / "results" / f"profile_K{args.scale}{suffix}.txt"
    text = profiler.output_text(unicode=True, color=False, show_all=False)
    output.write_text(text, encoding="utf-8")
    print("\n".join(text.splitlines()[:60]))
    print(f"\n{elapsed:.1f} s in process; profile written to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
