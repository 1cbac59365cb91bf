"""Command line: `python -m amed_pipeline refresh` runs the nightly job through Dagster.

It first plans (`operations.planning`): with nothing changed since the last refresh, no run is
launched and the current headline figures and exports are printed; with some partnerships
changed, the run covers their raw exports, their partitions and everything after them; `--all`
runs everything. The run is recorded in `DAGSTER_HOME` (default: the project's
`.dagster_home/`), so it shows in the UI afterwards; the exit code is non-zero when the run
fails. Whatever data dir, warehouse and export dir the `AMED_*` variables name is what it
refreshes.

Errors are one line naming the thing and the fix (`amed_pipeline.errors`); `--verbose` adds the full
traceback, which the run's log in the UI always has. A partnership with a mistake in its own
config entry is skipped (the others are refreshed) and the command exits non-zero naming it.

`forget` (an erasure request for one person) and `rekey` (rotate the pseudonym key) are the
privacy commands of `amed_pipeline.commands.privacy`; SECURITY.md says when to use them.
`release` freezes an evaluation release as at a date (a Dagster run of `evaluation_release`) and
`release diff A B` lists the published figures that changed between two releases, and why.
"""

from __future__ import annotations

from amed_pipeline.lib import collector

if __name__ == "__main__":
    # Run as a command: no cyclic garbage collection while the modules below are imported (~0.3 s of
    # CPU otherwise), resumed just before `main()` runs (end of file); `lib/collector.py` says why.
    collector.pause()

import argparse
import os
import sys
import traceback

import dagster as dg

from amed_pipeline import settings
from amed_pipeline.changes.versions import EXPORT_FILES, REPORT_FILE
from amed_pipeline.config import ALL_PARTNERSHIPS, ConfigError, load_programme_config
from amed_pipeline.definitions import build_definitions, nightly_job, running_in_process
from amed_pipeline.defs.automation import run_scope
from amed_pipeline.defs.config_errors import CONFIG_ASSET_NAME, skipped_message
from amed_pipeline.defs.jobs import all_partnerships_tags, nightly_refresh_job
from amed_pipeline.defs.metrics import headline_markdown, read_table
from amed_pipeline.defs.pulls import PULL_CHECK, api_sources, pull_asset_key
from amed_pipeline.errors import explain
from amed_pipeline.metrics import tables as metric_tables
from amed_pipeline.operations.failures import CODE_LOCATION, innermost_message
from amed_pipeline.operations.instance_storage import open_instance
from amed_pipeline.operations.planning import plan_refresh
from amed_pipeline.privacy.key_guard import REKEY_TAG, check_pseudonym_key


def refresh(everything: bool = False, offline: bool = False, rekey: bool = False, verbose: bool = False) -> int:
    """Plan (what changed since the last refresh), then run what is out of date; `everything`: run it all.

    API sources are pulled first; `offline` skips the pulls and lands the snapshots already taken.
    `rekey`: the pseudonym key changed on purpose (the `rekey` command): not refused."""
    if not os.environ.get("DAGSTER_HOME"):
        os.environ["DAGSTER_HOME"] = str(settings.default_dagster_home())
    home = os.environ["DAGSTER_HOME"]
    os.makedirs(home, exist_ok=True)
    try:
        config = load_programme_config(settings.data_dir())
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    for disabled in config.disabled:
        print(skipped_message(disabled), file=sys.stderr)
    definitions = build_definitions()
    # The instance and the resources the command itself uses (the lock, the plan, the outputs it
    # prints) are opened once; the run builds its own resources.
    with open_instance() as instance, command_resources(definitions, instance) as resources:
        # One refresh at a time per warehouse: a second one waits for the first, and says so in one line.
        with resources.warehouse.refresh_lock(on_wait=lambda message: print(message, file=sys.stderr, flush=True)):
            return _refresh(definitions, config, home, instance, resources, everything, rekey, verbose, offline)


# The code location's resources the command uses itself, outside the run.
COMMAND_RESOURCES = ("warehouse", "pseudonym_key", "erasure_list", "export_dir")


def command_resources(definitions: dg.Definitions, instance: dg.DagsterInstance):
    """`COMMAND_RESOURCES` of the code location, built with the instance (a context manager)."""
    return dg.build_resources({name: definitions.resources[name] for name in COMMAND_RESOURCES}, instance=instance)


def _refresh(
    definitions: dg.Definitions,
    config,
    home: str,
    instance: dg.DagsterInstance,
    resources,
    everything: bool,
    rekey: bool,
    verbose: bool = False,
    offline: bool = False,
) -> int:
    selection, tags = None, all_partnerships_tags(config.partnership_ids)
    if not everything:
        plan = plan_refresh_from(resources, config, pulls=not offline, check_key=not rekey)
        print(plan.describe())
        if plan.nothing_to_do:
            print_current_outputs(resources)
            return 0
        selection, tags = run_scope(plan, config, definitions.resolve_asset_graph())
    elif not rekey:
        plan_refresh_from(resources, config, check_key=True, plan=False)
    if offline:
        selection = without_pulls(definitions, config, selection)
    if rekey:
        tags = {**tags, REKEY_TAG: "true"}
    with running_in_process(definitions):
        result = execute_as_code_location_run(
            instance,
            asset_selection=selection,
            tags={"trigger": "cli", **tags},
            # Step-by-step DEBUG events stay in the run's event log (the UI); the console gets INFO.
            # One line per record (operations.console); --verbose prints records whole, stack traces included.
            run_config={"loggers": {"console": {"config": {"log_level": "INFO", "verbose": verbose}}}},
        )
    failures = [e for e in result.all_events if e.is_step_failure]
    # Failing only on partnerships skipped for their config: the rest of the run did its work.
    only_skipped = bool(failures) and all(CONFIG_ASSET_NAME in (e.step_key or "") for e in failures)
    status = "succeeded" if result.success else ("finished with skipped partnerships" if only_skipped else "FAILED")
    print(f"nightly_refresh run {result.run_id} {status} (DAGSTER_HOME={home})")
    failed_pulls = pull_failures(result)
    for line in failed_pulls:
        print(f"  pull failed: {line}", file=sys.stderr)
    if result.success or only_skipped:
        print_current_outputs(resources)
    for event in failures:
        message = innermost_message(event.step_failure_data.error) or event.step_failure_data.error.message
        print(f"  step {event.step_key} failed: {explain_text(message)}", file=sys.stderr)
    if config.disabled:
        print(
            f"skipped {len(config.disabled)} partnership(s) with configuration errors: "
            f"{', '.join(d.id for d in config.disabled)} (see above; the others were refreshed)",
            file=sys.stderr,
        )
    return 0 if result.success and not config.disabled and not failed_pulls else 1


def code_location_origin(job_name: str):
    """The origin of a run the code location `amed_pipeline` (workspace.yaml) launched: with it, a run
    started here is listed under Jobs → nightly_refresh and in the Overview timeline, and the UI (or
    its GraphQL API, with the run id alone) can re-execute it in that location. Only the location and
    repository names are used to find it again."""
    from dagster._core.definitions.repository_definition import SINGLETON_REPOSITORY_NAME
    from dagster._core.remote_origin import RegisteredCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin

    repository = RemoteRepositoryOrigin(RegisteredCodeLocationOrigin(CODE_LOCATION), SINGLETON_REPOSITORY_NAME)
    return RemoteJobOrigin(repository, job_name)


def execute_as_code_location_run(instance: dg.DagsterInstance, asset_selection, tags: dict, run_config: dict):
    """`dagster.execute_job` in this process, but the run carries the code location's origin
    (`execute_job` leaves it empty, so the UI could neither place nor re-execute the run)."""
    from dagster._core.execution.api import execute_run

    job = dg.reconstructable(nightly_job)
    definition = job.get_definition()
    run = instance.create_run_for_job(
        job_def=definition,
        run_config=run_config,
        tags=tags,
        asset_selection=frozenset(asset_selection) if asset_selection else None,
        remote_job_origin=code_location_origin(definition.name),
        job_code_origin=job.get_python_origin(),
    )
    return execute_run(job, run, instance, raise_on_error=False)


def explain_text(message: str) -> str:
    return next((line.strip() for line in message.splitlines() if line.strip()), "(no message)")


def plan_refresh_from(resources, config, pulls: bool = True, check_key: bool = True, plan: bool = True):
    """The refresh plan, with the code location's own resources (`command_resources`: key, erasure
    list, warehouse, export dir).

    `pulls=False`: offline (API snapshots only). `check_key`: refuse a pseudonym key that is missing
    or changed without `rekey` first; `plan=False`: only that check."""
    tokens, _ = resources.erasure_list.load()
    export_dir = resources.export_dir.directory()
    with resources.warehouse.connect() as conn:
        if check_key:
            check_pseudonym_key(conn, resources.pseudonym_key.existing_key_bytes(), resources.pseudonym_key.key_file)
        if not plan:
            return None
        return plan_refresh(config, conn, resources.pseudonym_key.key_bytes(), tokens, export_dir, pulls=pulls)


def without_pulls(definitions: dg.Definitions, config, selection):
    """The run's assets without the API pulls (selection None = the whole job)."""
    graph = definitions.resolve_asset_graph()
    keys = (
        selection
        if selection is not None
        else sorted(nightly_refresh_job.selection.resolve(graph), key=lambda k: k.to_user_string())
    )
    pulls = {pull_asset_key(s) for s in api_sources(config)}
    return [k for k in keys if k not in pulls]


def pull_failures(result) -> list[str]:
    """One line per failed pull (its `pull_ok` check's description: partnership, source, variable)."""
    return [
        evaluation.description or evaluation.asset_key.to_user_string()
        for evaluation in result.get_asset_check_evaluations()
        if evaluation.check_name == PULL_CHECK
        and not evaluation.passed
        and evaluation.severity == dg.AssetCheckSeverity.ERROR
    ]


def print_current_outputs(resources) -> None:
    """The headline figures and where the exports and data returns are, as the warehouse holds them now
    (after a run, or when no run was needed); `resources`: `command_resources`."""
    with resources.warehouse.connect() as conn:
        headline = read_table(conn, metric_tables.metrics_headline)
    directory = resources.export_dir.directory()
    if len(headline):
        print("\nHeadline figures (exact, restricted; published versions are disclosure-controlled):")
        print(headline_for_terminal(headline, directory))
    for name in (*EXPORT_FILES, REPORT_FILE):
        if (directory / name).exists():
            print(f"exports: {name} -> {directory / name}")
    returns = directory / "data_returns"
    if returns.is_dir():
        count = len(list(returns.glob("*_data_return.csv")))
        print(f"data returns: {count} partnership file(s) of quarantined rows to send back -> {returns}")


# Beyond this many partnerships the terminal gets the programme row and a bounded table, not one
# column per partnership (300 partnerships would print a 300-column table).
TERMINAL_PARTNERSHIP_COLUMNS = 6
TERMINAL_PARTNERSHIP_ROWS = 10
TERMINAL_METRICS = (
    "people_trained",
    "attendances",
    "sessions_delivered",
    "feedback_response_rate",
    "usefulness_end_mean",
)


def headline_for_terminal(headline, export_dir) -> str:
    """The headline table as the terminal shows it: as it is for a few partnerships; for many, the
    programme-wide column, the largest partnerships as rows, and where the full table is."""
    partnerships = headline[headline["partnership_id"] != ALL_PARTNERSHIPS]
    if len(partnerships) <= TERMINAL_PARTNERSHIP_COLUMNS:
        return headline_markdown(headline)
    programme = (
        headline_markdown(headline[headline["partnership_id"] == ALL_PARTNERSHIPS])
        if (headline["partnership_id"] == ALL_PARTNERSHIPS).any()
        else ""
    )
    largest = partnerships.sort_values(
        ["people_trained", "partnership_id"], ascending=[False, True], na_position="last"
    )
    shown = largest.head(TERMINAL_PARTNERSHIP_ROWS)[["partnership_id", *TERMINAL_METRICS]]
    table = (
        shown.set_index("partnership_id")
        .map(lambda v: "" if v is None or v != v else (f"{v:,.0f}" if float(v).is_integer() else f"{v:.3f}"))
        .to_markdown()
    )
    more = len(partnerships) - len(shown)
    pointer = (
        f"\n... and {more} more partnerships (the {len(shown)} largest by people trained are shown); every "
        f"partnership and metric is in\n  {export_dir / 'metric_values.csv'}\n  {export_dir / 'amed_metrics.xlsx'}"
    )
    return "\n".join(part for part in (programme, f"\n{len(partnerships)} partnerships:", table + pointer) if part)


RELEASE_LIST_COLUMNS = [
    "release_id",
    "name",
    "as_at",
    "as_known_at",
    "input_files",
    "figures",
    "created_at",
    "run_id",
    "folder",
]


def _print_release_list(conn) -> int:
    """`release list`: every recorded release version as a Markdown table."""
    from amed_pipeline.releases.build import releases_frame

    frame = releases_frame(conn)
    print(frame[RELEASE_LIST_COLUMNS].to_markdown(index=False) if len(frame) else "no releases yet")
    return 0


def _print_release_diff(changed, summary: dict, csv_path: str | None) -> None:
    """The diff's one-line summary and reasons, then every changed figure (as a table, or into `csv_path`)."""
    print(
        f"{summary['a']} → {summary['b']}: {summary['changed']} figures changed, {summary['only_in_a']} only in "
        f"{summary['a']}, {summary['only_in_b']} only in {summary['b']} (of {summary['figures_a']} and {summary['figures_b']})"
    )
    for reason in summary["general_reasons"] + summary["file_reasons"]:
        print(f"  why: {reason}")
    if csv_path:
        from amed_pipeline.reports.exports import write_csv

        write_csv(changed, csv_path)
        print(f"every changed figure with its reasons -> {csv_path}")
    else:
        shown = changed.drop(
            columns=["reasons", "metric_id", "partnership_id", "dimension", "dimension_value"], errors="ignore"
        )
        print(shown.to_markdown(index=False) if len(shown) else "no published figure changed")


def _release_list_or_diff(definitions: dg.Definitions, action: list[str], csv_path: str | None) -> int:
    """`release list` and `release diff A B`: read the recorded releases from the warehouse."""
    from amed_pipeline.defs.reports import report_labels
    from amed_pipeline.releases.diff import release_diff

    with dg.build_resources({"warehouse": definitions.resources["warehouse"]}) as resources:
        with resources.warehouse.connect() as conn:
            if action[0] == "list":
                return _print_release_list(conn)
            if len(action) != 3:
                print('release diff: give two releases, e.g. release diff "Phase 2" Final', file=sys.stderr)
                return 2
            config = load_programme_config(settings.data_dir())
            try:
                changed, summary = release_diff(conn, action[1], action[2], report_labels(conn, config))
            except LookupError as exc:
                print(f"release diff: {exc}", file=sys.stderr)
                return 2
    _print_release_diff(changed, summary, csv_path)
    return 0


def _release_request(args):
    """The `ReleaseRequest` the options ask for, or None (the reason printed) when they are incomplete or invalid."""
    import datetime as dt

    from amed_pipeline.releases.build import ReleaseRequest

    if not args.name or not args.as_at:
        print("release: --name and --as-at are required to freeze a release", file=sys.stderr)
        return None
    try:
        request = ReleaseRequest(
            args.name,
            dt.date.fromisoformat(args.as_at),
            dt.date.fromisoformat(args.as_known_at) if args.as_known_at else None,
        )
        _ = request.slug  # checks the name has letters or digits (ValueError otherwise)
    except ValueError as exc:
        print(f"release: {exc}", file=sys.stderr)
        return None
    return request


def _freeze_release(definitions: dg.Definitions, request) -> int:
    """Runs the release job for `request` in the Dagster instance and prints its outcome (or why it failed)."""
    from amed_pipeline.defs.releases import RELEASE_JOB_NAME, release_run_config, release_tags

    with open_instance() as instance:
        result = definitions.resolve_job_def(RELEASE_JOB_NAME).execute_in_process(
            run_config=release_run_config(request),
            instance=instance,
            raise_on_error=False,
            tags={"trigger": "cli", **release_tags(request)},
        )
    if not result.success:
        for event in result.all_events:
            if event.is_step_failure:
                print(
                    f"release {request.name} failed: {event.step_failure_data.error.message.strip()}", file=sys.stderr
                )
        return 1
    for event in result.all_events:
        if event.event_type_value == "STEP_OUTPUT":
            metadata = event.event_specific_data.metadata
            print(
                f"release {metadata['release_id'].value} ({'new version' if metadata['new version'].value else 'unchanged: same version'}), "
                f"run {result.run_id}: {metadata['published figures'].value} figures from {metadata['input files'].value} files "
                f"-> {metadata['folder'].value}"
            )
    return 0


def release_command(args) -> int:
    """`release --name N --as-at D [--as-known-at D]`, `release diff A B [--csv PATH]`, `release list`."""
    if not os.environ.get("DAGSTER_HOME"):
        os.environ["DAGSTER_HOME"] = str(settings.default_dagster_home())
    os.makedirs(os.environ["DAGSTER_HOME"], exist_ok=True)
    action = args.action or []
    definitions = build_definitions()
    if action and action[0] in ("diff", "list"):
        return _release_list_or_diff(definitions, action, args.csv)
    if action:
        print(f"release: unknown action {action[0]!r} (diff, list, or --name/--as-at to freeze one)", file=sys.stderr)
        return 2
    request = _release_request(args)
    if request is None:
        return 2
    return _freeze_release(definitions, request)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m amed_pipeline", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    refresh_command = commands.add_parser(
        "refresh", help="run the nightly refresh job through Dagster (what changed since the last refresh)"
    )
    refresh_command.add_argument(
        "--all", action="store_true", help="run every step for every partnership, even when nothing changed"
    )
    refresh_command.add_argument(
        "--offline", action="store_true", help="call no API: land the API snapshots already taken"
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="on an error, print the full traceback too")
    refresh_command.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        default=argparse.SUPPRESS,
        help="on an error, print the full traceback too",
    )
    forget = commands.add_parser("forget", help="forget one person: erasure list, warehouse rows deleted, erasure_log")
    who = forget.add_mutually_exclusive_group(required=True)
    who.add_argument("--email", metavar="ADDRESS", help="their email address; '-' reads it from standard input")
    who.add_argument(
        "--name", nargs=2, metavar=("FIRST", "LAST"), help="for rows without an email (with --partnership)"
    )
    forget.add_argument("--partnership", metavar="ID", help="the partnership whose rows carry --name")
    forget.add_argument(
        "--refresh", action="store_true", help="run the refresh afterwards, rebuilding metrics without them"
    )
    rekey = commands.add_parser(
        "rekey", help="rebuild the warehouse from the raw files under the current pseudonym key"
    )
    rekey.add_argument(
        "--generate-key", action="store_true", help="first replace the generated key file with a new random key"
    )
    release = commands.add_parser(
        "release", help="freeze an evaluation release as at a date; 'release diff A B'; 'release list'"
    )
    release.add_argument("action", nargs="*", help="nothing to freeze one; 'diff A B' (names or ids); 'list'")
    release.add_argument("--name", help='the release name, e.g. "Phase 2" (its folder and id are made from it)')
    release.add_argument(
        "--as-at", metavar="YYYY-MM-DD", help="sessions started and responses submitted up to this date"
    )
    release.add_argument(
        "--as-known-at", metavar="YYYY-MM-DD", help="only raw files first landed by this date (the ledger)"
    )
    release.add_argument("--csv", metavar="PATH", help="diff: write every changed figure with its reasons to this CSV")
    args = parser.parse_args(argv)
    try:
        return _run_command(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.verbose:
            traceback.print_exc()
        print(f"error: {explain(exc)}" + ("" if args.verbose else " (--verbose shows the traceback)"), file=sys.stderr)
        return 2


def _run_command(args) -> int:
    if args.command == "release":
        return release_command(args)
    if args.command == "refresh":
        return refresh(everything=args.all, offline=args.offline, verbose=args.verbose)
    if args.command in ("forget", "rekey"):
        from amed_pipeline.commands import privacy

        if args.command == "rekey":
            return privacy.rekey(lambda: refresh(rekey=True), generate_key=args.generate_key)
        try:
            identity = privacy.identity_from_arguments(args.email, args.name, args.partnership)
        except ValueError as exc:
            print(f"forget: {exc}", file=sys.stderr)
            return 2
        code = privacy.forget(identity)
        return refresh() if code == 0 and args.refresh else code
    return 2


if __name__ == "__main__":
    collector.resume()
    sys.exit(main())
