"""Benchmark the nightly refresh against the bare-DuckDB floor (`make bench`). Not a test.

For each scale K it generates K times the sample programme (`amed_pipeline.sample_data`), then
measures, each as the median of several runs, on this machine in this invocation:
- the floor: DuckDB alone reading the same raw Eventbrite CSVs (plus the session logs) and
  computing people trained, attendances and training-type shares in plain SQL, no validation;
- the full refresh through the command a user runs (`python -m amed_pipeline refresh`) into a
  fresh warehouse: wall time, peak RSS of the whole process tree, raw rows per second;
- the no-change nightly: the same command again over unchanged files;
- a breakdown by stage from the run's own Dagster step events.
It prints a table and writes `benchmarks/results/latest.json`. Targets live in the issue and the
README, never in a test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RESULTS = PROJECT_ROOT / "benchmarks" / "results" / "latest.json"
STAGES = {"raw": "read", "staging": "validate", "warehouse_load": "load", "metric_tables": "metrics", "reports": "reports"}


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


def run_measured(command: list[str], env: dict) -> tuple[float, int, subprocess.CompletedProcess]:
    """Wall seconds and peak process-tree RSS of a command."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    done = threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, process_tree_rss(process.pid))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = process.communicate()
    done.set()
    sampler.join()
    elapsed = time.perf_counter() - started
    return elapsed, peak, subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def generate(scale: int, base: Path) -> Path:
    data_dir = base / f"scale_{scale}"
    if not (data_dir / "partnerships.yaml").exists():
        subprocess.run([sys.executable, "-m", "amed_pipeline.sample_data", "--out", str(data_dir), "--scale", str(scale)],
                       cwd=PROJECT_ROOT, check=True)
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


def stage_breakdown(dagster_home: Path, run_id: str) -> dict[str, float]:
    """Seconds per stage from the run's step start/success events (summed over parallel steps)."""
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
    completed = subprocess.run([sys.executable, "-c", code, run_id], env=env, capture_output=True, text=True, cwd=PROJECT_ROOT)
    if completed.returncode != 0:
        return {}
    steps = json.loads(completed.stdout.strip().splitlines()[-1])
    totals: dict[str, float] = {}
    for step, times in steps.items():
        if "STEP_START" not in times or "STEP_SUCCESS" not in times:
            continue
        stage = next((name for prefix, name in STAGES.items() if step.startswith(prefix)), "read")
        totals[stage] = totals.get(stage, 0.0) + times["STEP_SUCCESS"] - times["STEP_START"]
    return {k: round(v, 2) for k, v in sorted(totals.items())}


def refresh(data_dir: Path, work: Path, warehouse_url: str, dagster_home: Path) -> tuple[float, int, str]:
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
    seconds, peak, completed = run_measured([sys.executable, "-m", "amed_pipeline", "refresh"], env)
    if completed.returncode != 0:
        raise RuntimeError(f"refresh failed:\n{completed.stdout[-2000:]}\n{completed.stderr[-2000:]}")
    run_id = next(line.split()[2] for line in completed.stdout.splitlines() if line.startswith("nightly_refresh run "))
    return seconds, peak, run_id


def raw_rows(data_dir: Path) -> int:
    total = 0
    for path in (data_dir / "raw").rglob("*.csv"):
        with open(path, "rb") as handle:
            total += sum(1 for _ in handle) - 1
    return total


def measure_scale(scale: int, repeats: int, base: Path, postgres_url: str | None) -> dict:
    data_dir = generate(scale, base)
    floors = [floor_seconds(data_dir) for _ in range(repeats)]
    fulls, peaks, nochange, breakdowns = [], [], [], []
    for attempt in range(repeats):
        with tempfile.TemporaryDirectory(prefix=f"amed_bench_{scale}_") as tmp:
            work = Path(tmp)
            url = postgres_url or f"duckdb:///{work}/warehouse.duckdb"
            seconds, peak, run_id = refresh(data_dir, work, url, work / "dagster_home")
            fulls.append(seconds)
            peaks.append(peak)
            breakdowns.append(stage_breakdown(work / "dagster_home", run_id))
            again, _, _ = refresh(data_dir, work, url, work / "dagster_home")
            nochange.append(again)
    rows = raw_rows(data_dir)
    full = statistics.median(fulls)
    return {
        "scale": scale,
        "warehouse": "postgresql" if postgres_url else "duckdb",
        "raw_csv_rows": rows,
        "floor_s": round(statistics.median(f[0] for f in floors), 2),
        "floor_figures": floors[0][1],
        "full_refresh_s": round(full, 2),
        "peak_rss_mib": round(max(peaks) / 2**20, 1),
        "rows_per_s": round(rows / full),
        "no_change_s": round(statistics.median(nochange), 2),
        "no_change_ratio": round(statistics.median(nochange) / full, 3),
        "x_floor": round(full / max(statistics.median(f[0] for f in floors), 1e-9), 1),
        "stages_s": breakdowns[len(breakdowns) // 2],
    }


def print_table(results: list[dict]) -> None:
    header = ("K", "db", "raw rows", "floor s", "full s", "× floor", "no-change s", "ratio", "peak RSS MiB", "rows/s", "stages (s)")
    print(" | ".join(header))
    for r in results:
        print(" | ".join(str(v) for v in (
            r["scale"], r["warehouse"], r["raw_csv_rows"], r["floor_s"], r["full_refresh_s"], r["x_floor"],
            r["no_change_s"], r["no_change_ratio"], r["peak_rss_mib"], r["rows_per_s"], r["stages_s"],
        )))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,100", help="comma-separated K values (default 1,100; add 1000 for the full set)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", default=str(PROJECT_ROOT / "benchmarks" / ".data"), help="where generated data dirs are cached")
    parser.add_argument("--postgres-url", default=None, help="also run against this PostgreSQL warehouse")
    args = parser.parse_args(argv)
    base = Path(args.data)
    base.mkdir(parents=True, exist_ok=True)
    results = []
    for scale in (int(s) for s in args.scales.split(",")):
        results.append(measure_scale(scale, args.repeats, base, None))
        print_table(results[-1:])
    if args.postgres_url:
        results.append(measure_scale(100, 1, base, args.postgres_url))
    machine = {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"machine": machine, "results": results}, indent=2, default=str))
    print()
    print_table(results)
    print(f"\nwritten to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
