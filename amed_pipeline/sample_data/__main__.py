"""Command line: `python -m amed_pipeline.sample_data --out DIR [--seed N] [--scale K]`, or
`python -m amed_pipeline.sample_data serve-api [--port 8765] [--token sample-token]`."""

from __future__ import annotations

import argparse
import sys
import time

from .generator import generate


def serve_api(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m amed_pipeline.sample_data serve-api",
        description="Serve the sample programme on 127.0.0.1 through the Eventbrite, SurveyMonkey, "
        "Google Forms and Microsoft Graph APIs' documented shapes (for data/partnerships.api.yaml).",
    )
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (default 8765)")
    parser.add_argument("--token", default="sample-token", help="the bearer token it accepts (default sample-token)")
    parser.add_argument("--seed", type=int, default=2020, help="random seed (default 2020, the bundled sample)")
    args = parser.parse_args(argv)
    from .api_server import serve

    serve(port=args.port, token=args.token, seed=args.seed)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve-api"]:
        return serve_api(argv[1:])
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
