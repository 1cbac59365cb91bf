"""Command line: `python -m amed_pipeline refresh` runs the nightly job through Dagster.

The run is recorded in `DAGSTER_HOME` (default: the project's `.dagster_home/`), so it shows in
the UI afterwards; the exit code is non-zero when the run fails. Whatever data dir, warehouse
and export dir the `AMED_*` variables name is what it refreshes.

`forget` (an erasure request for one person) and `rekey` (rotate the pseudonym key) are the
privacy commands of `amed_pipeline.privacy.commands`; SECURITY.md says when to use them.
"""

from __future__ import annotations

import argparse
import os
import sys

import dagster as dg

from amed_pipeline import settings
from amed_pipeline.config import ConfigError, load_programme_config
from amed_pipeline.definitions import nightly_job
from amed_pipeline.defs.jobs import all_partnerships_tags


def refresh() -> int:
    if not os.environ.get("DAGSTER_HOME"):
        os.environ["DAGSTER_HOME"] = str(settings.default_dagster_home())
    home = os.environ["DAGSTER_HOME"]
    os.makedirs(home, exist_ok=True)
    try:
        config = load_programme_config(settings.data_dir())
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    with dg.DagsterInstance.get() as instance:
        result = dg.execute_job(
            dg.reconstructable(nightly_job),
            instance=instance,
            tags={"trigger": "cli", **all_partnerships_tags(config.partnership_ids)},
            # Step-by-step DEBUG events stay in the run's event log (the UI); the console gets INFO.
            run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
        )
        status = "succeeded" if result.success else "FAILED"
        print(f"nightly_refresh run {result.run_id} {status} (DAGSTER_HOME={home})")
        if result.success:
            print_run_summary(result)
        else:
            for event in result.all_events:
                if event.is_step_failure:
                    print(f"  step {event.step_key} failed: {event.step_failure_data.error.message.strip()}", file=sys.stderr)
        return 0 if result.success else 1


def print_run_summary(result) -> None:
    """The headline figures and the paths of the exports, from the run's own materializations."""
    for event in result.all_events:
        if not event.is_step_materialization:
            continue
        materialization = event.event_specific_data.materialization
        key = materialization.asset_key.to_user_string()
        metadata = materialization.metadata
        if key == "metrics/metrics_headline" and "headline" in metadata:
            print("\nHeadline figures (exact, restricted; published versions are disclosure-controlled):")
            print(metadata["headline"].value)
        if key.startswith("reports/"):
            for name, value in metadata.items():
                if isinstance(value, dg.PathMetadataValue):
                    print(f"{key}: {name} -> {value.value}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m amed_pipeline", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("refresh", help="run the nightly refresh job through Dagster")
    forget = commands.add_parser("forget", help="forget one person: erasure list, warehouse rows deleted, erasure_log")
    who = forget.add_mutually_exclusive_group(required=True)
    who.add_argument("--email", metavar="ADDRESS", help="their email address; '-' reads it from standard input")
    who.add_argument("--name", nargs=2, metavar=("FIRST", "LAST"), help="for rows without an email (with --partnership)")
    forget.add_argument("--partnership", metavar="ID", help="the partnership whose rows carry --name")
    forget.add_argument("--refresh", action="store_true", help="run the refresh afterwards, rebuilding metrics without them")
    rekey = commands.add_parser("rekey", help="rebuild the warehouse from the raw files under the current pseudonym key")
    rekey.add_argument("--generate-key", action="store_true", help="first replace the generated key file with a new random key")
    args = parser.parse_args(argv)
    if args.command == "refresh":
        return refresh()
    if args.command in ("forget", "rekey"):
        from amed_pipeline.privacy import commands as privacy

        if args.command == "rekey":
            return privacy.rekey(refresh, generate_key=args.generate_key)
        try:
            identity = privacy.identity_from_arguments(args.email, args.name, args.partnership)
        except ValueError as exc:
            print(f"forget: {exc}", file=sys.stderr)
            return 2
        code = privacy.forget(identity)
        return refresh() if code == 0 and args.refresh else code
    return 2


if __name__ == "__main__":
    sys.exit(main())
