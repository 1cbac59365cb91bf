"""Command line: `python -m amed_pipeline refresh` runs the nightly job through Dagster.

It first plans (`operations.planning`): with nothing changed since the last refresh, no run is
launched and the current headline figures and exports are printed; with some partnerships
changed, the run covers their raw exports, their partitions and everything after them; `--all`
runs everything. The run is recorded in `DAGSTER_HOME` (default: the project's
`.dagster_home/`), so it shows in the UI afterwards; the exit code is non-zero when the run
fails. Whatever data dir, warehouse and export dir the `AMED_*` variables name is what it
refreshes.

`forget` (an erasure request for one person) and `rekey` (rotate the pseudonym key) are the
privacy commands of `amed_pipeline.privacy.commands`; SECURITY.md says when to use them.
`release` freezes an evaluation release as at a date (a Dagster run of `evaluation_release`) and
`release diff A B` lists the published figures that changed between two releases, and why.
"""

from __future__ import annotations

import argparse
import os
import sys

import dagster as dg

from amed_pipeline import settings
from amed_pipeline.config import ConfigError, load_programme_config
from amed_pipeline.definitions import build_definitions, nightly_job
from amed_pipeline.defs.automation import run_scope
from amed_pipeline.defs.jobs import all_partnerships_tags, nightly_refresh_job
from amed_pipeline.defs.pulls import PULL_CHECK, api_sources, pull_asset_key
from amed_pipeline.defs.metrics import EXPORT_FILES, REPORT_FILE, headline_markdown, read_table
from amed_pipeline.metrics import tables as metric_tables
from amed_pipeline.operations.planning import plan_refresh


def refresh(everything: bool = False, offline: bool = False) -> int:
    """Plan (what changed since the last refresh), then run what is out of date; `everything`: run it all.

    API sources are pulled first; `offline` skips the pulls and lands the snapshots already taken."""
    if not os.environ.get("DAGSTER_HOME"):
        os.environ["DAGSTER_HOME"] = str(settings.default_dagster_home())
    home = os.environ["DAGSTER_HOME"]
    os.makedirs(home, exist_ok=True)
    try:
        config = load_programme_config(settings.data_dir())
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    definitions = build_definitions()
    selection, tags = None, all_partnerships_tags(config.partnership_ids)
    if not everything:
        plan = plan_refresh_from(definitions, config, pulls=not offline)
        print(plan.describe())
        if plan.nothing_to_do:
            print_current_outputs(definitions)
            return 0
        selection, tags = run_scope(plan, config, definitions.resolve_asset_graph())
    if offline:
        selection = without_pulls(definitions, config, selection)
    with dg.DagsterInstance.get() as instance:
        result = dg.execute_job(
            dg.reconstructable(nightly_job),
            instance=instance,
            asset_selection=selection,
            tags={"trigger": "cli", **tags},
            # Step-by-step DEBUG events stay in the run's event log (the UI); the console gets INFO.
            run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
        )
        status = "succeeded" if result.success else "FAILED"
        print(f"nightly_refresh run {result.run_id} {status} (DAGSTER_HOME={home})")
        failed_pulls = pull_failures(result)
        for line in failed_pulls:
            print(f"  pull failed: {line}", file=sys.stderr)
        if result.success:
            print_run_summary(result)
            return 1 if failed_pulls else 0
        else:
            for event in result.all_events:
                if event.is_step_failure:
                    print(f"  step {event.step_key} failed: {event.step_failure_data.error.message.strip()}", file=sys.stderr)
        return 0 if result.success else 1


def plan_refresh_from(definitions: dg.Definitions, config, pulls: bool = True):
    """The refresh plan, with the code location's own resources (key, erasure list, warehouse, export dir)."""
    names = ("warehouse", "pseudonym_key", "erasure_list", "export_dir")
    with dg.build_resources({name: definitions.resources[name] for name in names}) as resources:
        tokens, _ = resources.erasure_list.load()
        with resources.warehouse.connect() as conn:
            return plan_refresh(config, conn, resources.pseudonym_key.key_bytes(), tokens, resources.export_dir.directory(), pulls=pulls)


def without_pulls(definitions: dg.Definitions, config, selection):
    """The run's assets without the API pulls (selection None = the whole job)."""
    graph = definitions.resolve_asset_graph()
    keys = selection if selection is not None else sorted(nightly_refresh_job.selection.resolve(graph), key=lambda k: k.to_user_string())
    pulls = {pull_asset_key(s) for s in api_sources(config)}
    return [k for k in keys if k not in pulls]


def pull_failures(result) -> list[str]:
    """One line per failed pull (its `pull_ok` check's description: partnership, source, variable)."""
    return [
        evaluation.description or evaluation.asset_key.to_user_string()
        for evaluation in result.get_asset_check_evaluations()
        if evaluation.check_name == PULL_CHECK and not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    ]


def print_current_outputs(definitions: dg.Definitions) -> None:
    """When no run was needed: the headline figures and exports as they stand."""
    with dg.build_resources({name: definitions.resources[name] for name in ("warehouse", "export_dir")}) as resources:
        with resources.warehouse.connect() as conn:
            headline = read_table(conn, metric_tables.metrics_headline)
        if len(headline):
            print("\nHeadline figures (exact, restricted; published versions are disclosure-controlled):")
            print(headline_markdown(headline))
        directory = resources.export_dir.directory()
        for name in (*EXPORT_FILES, REPORT_FILE):
            if (directory / name).exists():
                print(f"exports: {name} -> {directory / name}")


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


def release_command(args) -> int:
    """`release --name N --as-at D [--as-known-at D]`, `release diff A B [--csv PATH]`, `release list`."""
    import datetime as dt

    import pandas as pd

    from amed_pipeline.defs.releases import RELEASE_JOB_NAME, release_run_config, release_tags
    from amed_pipeline.releases.build import ReleaseRequest, releases_frame
    from amed_pipeline.releases.diff import release_diff

    if not os.environ.get("DAGSTER_HOME"):
        os.environ["DAGSTER_HOME"] = str(settings.default_dagster_home())
    os.makedirs(os.environ["DAGSTER_HOME"], exist_ok=True)
    action = args.action or []
    definitions = build_definitions()
    if action and action[0] in ("diff", "list"):
        from amed_pipeline.defs.metrics import report_labels

        with dg.build_resources({"warehouse": definitions.resources["warehouse"]}) as resources:
            with resources.warehouse.connect() as conn:
                if action[0] == "list":
                    frame = releases_frame(conn)
                    print(frame[["release_id", "name", "as_at", "as_known_at", "input_files", "figures", "created_at", "run_id", "folder"]]
                          .to_markdown(index=False) if len(frame) else "no releases yet")
                    return 0
                if len(action) != 3:
                    print("release diff: give two releases, e.g. release diff \"Phase 2\" Final", file=sys.stderr)
                    return 2
                config = load_programme_config(settings.data_dir())
                try:
                    changed, summary = release_diff(conn, action[1], action[2], report_labels(conn, config))
                except LookupError as exc:
                    print(f"release diff: {exc}", file=sys.stderr)
                    return 2
        print(f"{summary['a']} → {summary['b']}: {summary['changed']} figures changed, {summary['only_in_a']} only in "
              f"{summary['a']}, {summary['only_in_b']} only in {summary['b']} (of {summary['figures_a']} and {summary['figures_b']})")
        for reason in summary["general_reasons"] + summary["file_reasons"]:
            print(f"  why: {reason}")
        if args.csv:
            from amed_pipeline.reports.exports import write_csv

            write_csv(changed, args.csv)
            print(f"every changed figure with its reasons -> {args.csv}")
        else:
            shown = changed.drop(columns=["reasons", "metric_id", "partnership_id", "dimension", "dimension_value"], errors="ignore")
            print(shown.to_markdown(index=False) if len(shown) else "no published figure changed")
        return 0
    if action:
        print(f"release: unknown action {action[0]!r} (diff, list, or --name/--as-at to freeze one)", file=sys.stderr)
        return 2
    if not args.name or not args.as_at:
        print("release: --name and --as-at are required to freeze a release", file=sys.stderr)
        return 2
    try:
        request = ReleaseRequest(args.name, dt.date.fromisoformat(args.as_at),
                                 dt.date.fromisoformat(args.as_known_at) if args.as_known_at else None)
        request.slug
    except ValueError as exc:
        print(f"release: {exc}", file=sys.stderr)
        return 2
    with dg.DagsterInstance.get() as instance:
        result = definitions.resolve_job_def(RELEASE_JOB_NAME).execute_in_process(
            run_config=release_run_config(request), instance=instance, raise_on_error=False,
            tags={"trigger": "cli", **release_tags(request)},
        )
    if not result.success:
        for event in result.all_events:
            if event.is_step_failure:
                print(f"release {request.name} failed: {event.step_failure_data.error.message.strip()}", file=sys.stderr)
        return 1
    for event in result.all_events:
        if event.event_type_value == "STEP_OUTPUT":
            metadata = event.event_specific_data.metadata
            print(f"release {metadata['release_id'].value} ({'new version' if metadata['new version'].value else 'unchanged: same version'}), "
                  f"run {result.run_id}: {metadata['published figures'].value} figures from {metadata['input files'].value} files "
                  f"-> {metadata['folder'].value}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m amed_pipeline", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    refresh_command = commands.add_parser("refresh", help="run the nightly refresh job through Dagster (what changed since the last refresh)")
    refresh_command.add_argument("--all", action="store_true", help="run every step for every partnership, even when nothing changed")
    refresh_command.add_argument("--offline", action="store_true", help="call no API: land the API snapshots already taken")
    forget = commands.add_parser("forget", help="forget one person: erasure list, warehouse rows deleted, erasure_log")
    who = forget.add_mutually_exclusive_group(required=True)
    who.add_argument("--email", metavar="ADDRESS", help="their email address; '-' reads it from standard input")
    who.add_argument("--name", nargs=2, metavar=("FIRST", "LAST"), help="for rows without an email (with --partnership)")
    forget.add_argument("--partnership", metavar="ID", help="the partnership whose rows carry --name")
    forget.add_argument("--refresh", action="store_true", help="run the refresh afterwards, rebuilding metrics without them")
    rekey = commands.add_parser("rekey", help="rebuild the warehouse from the raw files under the current pseudonym key")
    rekey.add_argument("--generate-key", action="store_true", help="first replace the generated key file with a new random key")
    release = commands.add_parser("release", help="freeze an evaluation release as at a date; 'release diff A B'; 'release list'")
    release.add_argument("action", nargs="*", help="nothing to freeze one; 'diff A B' (names or ids); 'list'")
    release.add_argument("--name", help='the release name, e.g. "Phase 2" (its folder and id are made from it)')
    release.add_argument("--as-at", metavar="YYYY-MM-DD", help="sessions started and responses submitted up to this date")
    release.add_argument("--as-known-at", metavar="YYYY-MM-DD", help="only raw files first landed by this date (the ledger)")
    release.add_argument("--csv", metavar="PATH", help="diff: write every changed figure with its reasons to this CSV")
    args = parser.parse_args(argv)
    if args.command == "release":
        return release_command(args)
    if args.command == "refresh":
        return refresh(everything=args.all, offline=args.offline)
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
