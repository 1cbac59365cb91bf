"""Benchmark the nightly refresh against the bare-DuckDB floor (`make bench`). Not a test.

For each scale K it generates K times the sample programme (`amed_pipeline.sample_data`), then
measures, each as the median of several runs, on this machine in this invocation:
- the floor: DuckDB alone reading the same raw Eventbrite CSVs (plus the session logs) and
  computing people trained, attendances and training-type shares in plain SQL, no validation;
- the full refresh through the command a user runs (`python -m amed_pipeline refresh`) into a
  fresh warehouse: wall time, peak RSS of the whole process tree, raw rows per second;
- the no-change nightly: the same command again over unchanged files (it plans, finds nothing
  to do and launches no run), and the same with `--all` (a Dagster run of every step over
  unchanged inputs, which every step then skips by its fingerprint);
- the one new export: one partnership receives a new month's Eventbrite download and the same
  command runs again;
- a breakdown by stage (read, validate, load, metrics, reports) from the run's own Dagster step
  events, and the rest of the wall time (interpreter, imports, Dagster start-up and hand-over).
With `--postgres-url` (a server `make bench` starts when it can), K = 100 also runs against
PostgreSQL, in a database the benchmark creates and drops. It prints a table and writes
`benchmarks/results/latest.json` and `latest.md` (the README's table). Targets live in the issue and the README, never in a test.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RESULTS = PROJECT_ROOT / "benchmarks" / "results" / "latest.json"
STAGES = {
    "raw": "read",
    "staging": "validate",
    "warehouse_load": "load",
    "metric_tables": "metrics",
    "reports": "reports",
}


def process_tree_rss(root_pid: int) -> int:
    """Resident memory of a process and all its descendants, in bytes (from /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        pid, ppid = int(entry.name), int(fields.get("PPid", "0").strip() or 0)
        children.setdefault(ppid, []).append(pid)
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0]) * 1024 if "VmRSS" in fields else 0
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def run_measured(command: list[str], env: dict) -> tuple[float, list[tuple[float, int]], subprocess.CompletedProcess]:
    """Wall seconds and the process tree's RSS samples (epoch seconds, bytes) of a command."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    samples: list[tuple[float, int]] = []
    done = threading.Event()

    def sample():
        while not done.is_set():
            samples.append((time.time(), process_tree_rss(process.pid)))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = process.communicate()
    done.set()
    sampler.join()
    elapsed = time.perf_counter() - started
    return elapsed, samples, subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def generate(scale: int, base: Path) -> Path:
    data_dir = base / f"scale_{scale}"
    if not (data_dir / "partnerships.yaml").exists():
        subprocess.run(
            [sys.executable, "-m", "amed_pipeline.sample_data", "--out", str(data_dir), "--scale", str(scale)],
            cwd=PROJECT_ROOT,
            check=True,
        )
    return data_dir


def floor_seconds(data_dir: Path) -> tuple[float, dict]:
    """DuckDB alone: distinct attended Eventbrite records and their event titles, in plain SQL.

    No validation and no semantics (rows DuckDB cannot decode as UTF-8, such as a cp1252 re-save,
    are skipped): a lower bound on reading the same files, not a second implementation.
    """
    import duckdb

    started = time.perf_counter()
    con = duckdb.connect()
    bookings = f"{data_dir}/raw/*/eventbrite/*.csv"
    con.execute(f"""
        CREATE TABLE attended AS
        SELECT DISTINCT lower(trim("Email")) AS email, "Event ID" AS event_id, "Event Name" AS title
        FROM read_csv('{bookings}', union_by_name=true, all_varchar=true, ignore_errors=true)
        WHERE "Attendee Status" = 'Checked In' AND coalesce("Email", '') <> ''
    """)
    figures = con.execute("""
        SELECT COUNT(DISTINCT email) AS people_trained, COUNT(*) AS attendances,
               AVG(CASE WHEN lower(title) LIKE '%clinical care%' THEN 1 ELSE 0 END) AS clinical_share,
               AVG(CASE WHEN lower(title) LIKE '%more active%' THEN 1 ELSE 0 END) AS helping_share
        FROM attended
    """).fetchone()
    con.close()
    keys = ("people_trained", "attendances", "clinical_share", "helping_share")
    return time.perf_counter() - started, dict(zip(keys, figures))


def step_windows(dagster_home: Path, run_id: str) -> dict[str, tuple[float, float]]:
    """(start, end) epoch seconds per step, from the run's step start/success events."""
    code = (
        "import json,sys,dagster as dg\n"
        "from dagster._core.events import DagsterEventType\n"
        "inst=dg.DagsterInstance.get()\n"
        "out={}\n"
        "for t in (DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS):\n"
        "    for r in inst.get_records_for_run(sys.argv[1], of_type=t).records:\n"
        "        e=r.event_log_entry; out.setdefault(e.step_key,{})[t.value]=e.timestamp\n"
        "print(json.dumps(out))\n"
    )
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home)}
    completed = subprocess.run(
        [sys.executable, "-c", code, run_id], env=env, capture_output=True, text=True, cwd=PROJECT_ROOT
    )
    if completed.returncode != 0:
        return {}
    steps = json.loads(completed.stdout.strip().splitlines()[-1])
    return {
        step: (times["STEP_START"], times["STEP_SUCCESS"])
        for step, times in steps.items()
        if "STEP_START" in times and "STEP_SUCCESS" in times
    }


def stage_of(step: str) -> str:
    return next((name for prefix, name in STAGES.items() if step.startswith(prefix)), "read")


def stage_breakdown(windows: dict[str, tuple[float, float]], wall: float) -> dict[str, float]:
    """Seconds per stage (steps summed), and `other`: the wall time no step accounts for."""
    totals: dict[str, float] = {}
    for step, (start, end) in windows.items():
        totals[stage_of(step)] = totals.get(stage_of(step), 0.0) + end - start
    totals["other"] = max(wall - sum(totals.values()), 0.0)
    return {k: round(v, 2) for k, v in sorted(totals.items())}


def stage_peaks(windows: dict[str, tuple[float, float]], samples: list[tuple[float, int]]) -> dict[str, float]:
    """Peak process-tree RSS (MiB) while each stage ran; `other`: outside every step."""
    peaks: dict[str, float] = {}
    for at, rss in samples:
        stage = next((stage_of(step) for step, (start, end) in windows.items() if start <= at <= end), "other")
        peaks[stage] = max(peaks.get(stage, 0.0), round(rss / 2**20, 1))
    return dict(sorted(peaks.items()))


def refresh(
    data_dir: Path, work: Path, warehouse_url: str, dagster_home: Path, *arguments: str
) -> tuple[float, int, dict, dict]:
    """Run the user's refresh command; wall seconds, peak RSS, the stage breakdown (all `other`
    when the plan found nothing to do and no run was launched) and the peak RSS per stage."""
    env = {
        **os.environ,
        "AMED_DATA_DIR": str(data_dir),
        "AMED_WAREHOUSE_URL": warehouse_url,
        "AMED_EXPORT_DIR": str(work / "exports"),
        "AMED_PSEUDONYM_KEY": "benchmark-key",
        "AMED_PSEUDONYM_KEY_FILE": str(work / "key"),
        "AMED_ERASURE_LIST": str(work / "erasure_list.txt"),
        "DAGSTER_HOME": str(dagster_home),
    }
    dagster_home.mkdir(parents=True, exist_ok=True)
    instance_config = dagster_home / "dagster.yaml"
    if not instance_config.exists():  # the instance `make run` uses (the Makefile copies it the same way)
        shutil.copyfile(PROJECT_ROOT / "deploy" / "local.dagster.yaml", instance_config)
    seconds, samples, completed = run_measured([sys.executable, "-m", "amed_pipeline", "refresh", *arguments], env)
    if completed.returncode != 0:
        raise RuntimeError(f"refresh failed:\n{completed.stdout[-2000:]}\n{completed.stderr[-2000:]}")
    run_ids = [line.split()[2] for line in completed.stdout.splitlines() if line.startswith("nightly_refresh run ")]
    windows = step_windows(dagster_home, run_ids[0]) if run_ids else {}
    peak = max((rss for _, rss in samples), default=0)
    return seconds, peak, stage_breakdown(windows, seconds), stage_peaks(windows, samples)


def raw_rows(data_dir: Path) -> int:
    total = 0
    for path in (data_dir / "raw").rglob("*.csv"):
        with open(path, "rb") as handle:
            total += sum(1 for _ in handle) - 1
    return total


def add_new_month(data_dir: Path) -> list[Path]:
    """One partnership's next monthly Eventbrite download: the latest one, plus a month of new bookings.

    The new bookings copy the latest download's attended rows with new order and attendee
    numbers and new email addresses (new people at the same events), so the file is new, reads
    like the others and adds real rows.
    """
    latest = max((data_dir / "raw").glob("*/eventbrite/*.csv"), key=lambda p: (p.parent.parent.name, p.name))
    with open(latest, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    numbered = [
        i
        for i, name in enumerate(header)
        if name.strip().lower() in ("order id", "order #", "order no.", "attendee #", "ticket id", "barcode")
    ]
    email = [i for i, name in enumerate(header) if name.strip().lower() in ("email", "buyer email", "attendee email")]
    new_rows = []
    for row in body[: max(len(body) // 10, 1)]:
        row = list(row)
        for i in numbered:
            row[i] = (row[i] + "9") if row[i].strip().isdigit() else row[i]
        for i in email:
            row[i] = row[i].replace("@", ".next@", 1) if "@" in row[i] else row[i]
        new_rows.append(row)
    target = latest.with_name(latest.stem + "_next_month.csv")
    with open(target, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([header, *body, *new_rows])
    return [target]


def working_copy(data_dir: Path, work: Path) -> Path:
    """A hard-linked copy of the data dir (instant, no extra space) that new files can be added to."""
    copy = work / "data"
    subprocess.run(["cp", "-al", str(data_dir), str(copy)], check=True)
    return copy


def postgres_database(server_url: str, name: str):
    """Create (or re-create) database `name` on the server; returns its URL and a dropper."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(server_url).set(database=name).render_as_string(hide_password=False), drop


def measure_scale(scale: int, repeats: int, base: Path, postgres_url: str | None) -> dict:
    data_dir = generate(scale, base)
    floors = [floor_seconds(data_dir) for _ in range(repeats)]
    runs: dict[str, list] = {"full": [], "no_change": [], "no_change_run": [], "new_export": []}
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix=f"amed_bench_{scale}_") as tmp:
            work = Path(tmp)
            data = working_copy(data_dir, work)
            drop = None
            if postgres_url:
                url, drop = postgres_database(postgres_url, f"amed_bench_{scale}")
            else:
                url = f"duckdb:///{work}/warehouse.duckdb"
            try:
                runs["full"].append(refresh(data, work, url, work / "dagster_home"))
                runs["no_change"].append(refresh(data, work, url, work / "dagster_home"))
                runs["no_change_run"].append(refresh(data, work, url, work / "dagster_home", "--all"))
                add_new_month(data)
                runs["new_export"].append(refresh(data, work, url, work / "dagster_home"))
            finally:
                if drop:
                    drop()
    rows = raw_rows(data_dir)
    floor = statistics.median(f[0] for f in floors)
    median = {name: statistics.median(r[0] for r in measured) for name, measured in runs.items()}
    middle = {name: sorted(measured, key=lambda r: r[0])[len(measured) // 2] for name, measured in runs.items()}
    full = median["full"]
    return {
        "scale": scale,
        "warehouse": "postgresql" if postgres_url else "duckdb",
        "repeats": repeats,
        "raw_csv_rows": rows,
        "floor_s": round(floor, 2),
        "floor_figures": floors[0][1],
        "full_refresh_s": round(full, 2),
        "x_floor": round(full / max(floor, 1e-9), 1),
        "peak_rss_mib": round(max(r[1] for measured in runs.values() for r in measured) / 2**20, 1),
        "rows_per_s": round(rows / full),
        "no_change_s": round(median["no_change"], 2),
        "no_change_ratio": round(median["no_change"] / full, 3),
        "no_change_run_s": round(median["no_change_run"], 2),
        "no_change_run_ratio": round(median["no_change_run"] / full, 3),
        "new_export_s": round(median["new_export"], 2),
        "new_export_ratio": round(median["new_export"] / full, 3),
        "stages_s": middle["full"][2],
        "stages_new_export_s": middle["new_export"][2],
        "stage_peak_rss_mib": middle["full"][3],
    }


def print_table(results: list[dict]) -> None:
    header = (
        "K",
        "db",
        "raw rows",
        "floor s",
        "full s",
        "× floor",
        "no-change s",
        "ratio",
        "no-change --all s",
        "ratio",
        "new export s",
        "ratio",
        "peak RSS MiB",
        "rows/s",
        "stages of the full refresh (s)",
    )
    print(" | ".join(header))
    for r in results:
        print(
            " | ".join(
                str(v)
                for v in (
                    r["scale"],
                    r["warehouse"],
                    r["raw_csv_rows"],
                    r["floor_s"],
                    r["full_refresh_s"],
                    r["x_floor"],
                    r["no_change_s"],
                    r["no_change_ratio"],
                    r["no_change_run_s"],
                    r["no_change_run_ratio"],
                    r["new_export_s"],
                    r["new_export_ratio"],
                    r["peak_rss_mib"],
                    r["rows_per_s"],
                    r["stages_s"],
                )
            )
        )


def markdown_table(results: list[dict], machine: dict, exponent) -> str:
    """The results as the README shows them."""
    lines = [
        "| K | warehouse | raw CSV rows | floor | full refresh | × floor | peak RSS | no-change (planned) | no-change `--all` | one new export |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['scale']} | {r['warehouse']} | {r['raw_csv_rows']:,} | {r['floor_s']} s | {r['full_refresh_s']} s | "
            f"{r['x_floor']} | {r['peak_rss_mib'] / 1024:.2f} GiB | {r['no_change_s']} s ({r['no_change_ratio']:.1%}) | "
            f"{r['no_change_run_s']} s ({r['no_change_run_ratio']:.1%}) | {r['new_export_s']} s ({r['new_export_ratio']:.1%}) |"
        )
    lines.append("")
    lines.append("Stages of the full refresh (seconds; `other`: interpreter, imports, Dagster start-up and events):")
    lines.append("")
    for r in results:
        stages = ", ".join(f"{k} {v}" for k, v in r["stages_s"].items())
        lines.append(f"- K = {r['scale']} ({r['warehouse']}): {stages}")
    lines.append("")
    lines.append("Peak RSS of the process tree while each stage of the full refresh ran (MiB):")
    lines.append("")
    for r in results:
        peaks = ", ".join(f"{k} {v:.0f}" for k, v in r.get("stage_peak_rss_mib", {}).items())
        lines.append(f"- K = {r['scale']} ({r['warehouse']}): {peaks}")
    lines.append("")
    lines.append("Targets of the scale issue (K = 1000 and K = 1, DuckDB; the stages above are the profile of a miss):")
    lines.append("")
    lines += targets_markdown(results)
    lines.append("")
    if exponent is not None:
        lines.append(f"Full-refresh time grows as rows^{exponent} from K = 100 to K = 1000 (1 = linear).")
    lines.append(
        f"Machine: {machine['cpus']} CPUs, {machine['memory_gib']} GiB, Python {machine['python']}, "
        f"{machine['platform']}; median of {results[0]['repeats']} runs each."
    )
    return "\n".join(lines) + "\n"


# The scale issue's targets: (scale, what, the result's key, the limit, how to show the measure).
TARGETS = (
    (1000, "full refresh ≤ 60 s", "full_refresh_s", 60, "{:.1f} s"),
    (1000, "full refresh ≤ 8 × the floor of the same run", "x_floor", 8, "{:.1f} ×"),
    (1000, "one new export ≤ 10 % of the full refresh", "new_export_ratio", 0.10, "{:.1%}"),
    (1000, "no-change nightly ≤ 3 % of the full refresh", "no_change_ratio", 0.03, "{:.1%}"),
    (1000, "peak RSS ≤ 1.5 GiB", "peak_rss_mib", 1536, "{:.0f} MiB"),
    (1, "`make run` (K = 1, fresh warehouse) ≤ 8 s", "full_refresh_s", 8, "{:.1f} s"),
)


def target_rows(results: list[dict]) -> list[tuple[str, str, str]]:
    """(target, measured, met / missed / not measured) for each target, from the DuckDB results."""
    by_scale = {r["scale"]: r for r in results if r["warehouse"] == "duckdb"}
    rows = []
    for scale, what, key, limit, shown in TARGETS:
        result = by_scale.get(scale)
        if result is None:
            rows.append((what, f"K = {scale} not run", "not measured"))
            continue
        rows.append((what, shown.format(result[key]), "met" if result[key] <= limit else "missed"))
    return rows


def targets_markdown(results: list[dict]) -> list[str]:
    lines = ["| target | measured | |", "|---|---|---|"]
    lines += [f"| {what} | {measured} | {verdict} |" for what, measured, verdict in target_rows(results)]
    return lines


def growth_exponent(results: list[dict], low: int, high: int) -> float | None:
    """b in time ∝ rows^b between two scales (1 = linear)."""
    import math

    by_scale = {r["scale"]: r for r in results if r["warehouse"] == "duckdb"}
    if low not in by_scale or high not in by_scale:
        return None
    a, b = by_scale[low], by_scale[high]
    return round(
        math.log(b["full_refresh_s"] / a["full_refresh_s"]) / math.log(b["raw_csv_rows"] / a["raw_csv_rows"]), 2
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,100,1000", help="comma-separated K values (default 1,100,1000)")
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs per measurement; the median is reported (default 3)"
    )
    parser.add_argument(
        "--data", default=str(PROJECT_ROOT / "benchmarks" / ".data"), help="where generated data dirs are cached"
    )
    parser.add_argument(
        "--postgres-url", default=None, help="a PostgreSQL server (any database on it) to also run K=100 against"
    )
    parser.add_argument("--output", default=str(RESULTS), help="where to write the JSON results")
    args = parser.parse_args(argv)
    base = Path(args.data)
    base.mkdir(parents=True, exist_ok=True)
    scales = [int(s) for s in args.scales.split(",")]
    results = []
    for scale in scales:
        results.append(measure_scale(scale, args.repeats, base, None))
        print_table(results[-1:])
    if args.postgres_url:
        results.append(measure_scale(100, args.repeats, base, args.postgres_url))
        print_table(results[-1:])
    machine = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
    }
    exponent = growth_exponent(results, 100, 1000)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(
        json.dumps(
            {"machine": machine, "growth_exponent_100_to_1000": exponent, "results": results}, indent=2, default=str
        )
    )
    output.with_suffix(".md").write_text(markdown_table(results, machine, exponent), encoding="utf-8")
    print()
    print_table(results)
    if exponent is not None:
        print(f"\nfull refresh time grows as rows^{exponent} from K=100 to K=1000 (1 = linear)")
    print()
    for what, measured, verdict in target_rows(results):
        print(f"{verdict:>12}  {what}: {measured}")
    print(f"machine: {machine}")
    print(f"written to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
