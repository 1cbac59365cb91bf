"""Command line: `python -m amed_pipeline.sample_data --out DIR [--seed N] [--scale K]`."""

from __future__ import annotations

import argparse
import sys
import time

from .generator import generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m amed_pipeline.sample_data",
        description="Write deterministic Active Medicine sample exports (raw/, partnerships.yaml, reference/) "
        "into a data dir. Existing .csv/.xlsx files in the source folders it writes are replaced.",
    )
    parser.add_argument("--out", required=True, help="data dir to write (e.g. data)")
    parser.add_argument("--seed", type=int, default=2020, help="random seed (default 2020)")
    parser.add_argument("--scale", type=int, default=1, help="K times the real programme (default 1)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        files = generate(args.out, seed=args.seed, scale=args.scale)
    except ValueError as error:
        parser.error(str(error))
    size = sum(f.stat().st_size for f in files)
    print(f"wrote {len(files)} raw files ({size / 1e6:.1f} MB) to {args.out} in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
