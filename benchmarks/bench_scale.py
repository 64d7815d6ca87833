"""Scale-out: the 20-agency demo plan on a Dask LocalCluster with 1, 2 and 4 worker processes.

Creates the 20 demo agencies (``python -m evaluation demo --agencies 20``) in a temporary
project (or uses ``--project``), then runs a small yearly plan (default: the 2024 runs of
``sozialraum`` and ``civic_engagement`` in every agency, 40 runs) with ``--force``:

1. with the local executor (``--jobs 2``), as the reference;
2. with ``--executor dask`` on a LocalCluster of 1, 2 and 4 worker processes.

Printed per configuration: wall time, runs per minute and the scaling efficiency against
one worker (rate_k / (k * rate_1)), and whether every agency's history holds the same
figures (value, n, interval, suppression of every run) as after the local run. Then an
estimate for 172 agencies on k machines of 2 workers each, from the measured rate per
worker and efficiency (the yearly cycle: the runs of one year of the whole plan).

This machine has 2 cores shared by everyone: more than 2 workers cannot be faster here,
which the numbers show. Keep it short (``--agencies``, ``--only``).

    .venv/bin/python benchmarks/bench_scale.py [--workers 1 2 4] [--agencies 20]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TODAY = "2026-11-24"
ONLY = ("sozialraum/jahr/2024", "civic_engagement/jahr/2024")
RUNS_PER_AGENCY_YEAR = 7  # a year of the whole plan: 5 field runs, data quality, annual report


def cli(project: Path, *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    env = dict(os.environ, EVALUATION_HOME=str(project))
    env.setdefault("EVALUATION_KEY_DIR", str(project / ".keys"))
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "evaluation", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    return time.perf_counter() - start, result


def figures(project: Path, keys: tuple[str, ...]) -> dict[str, list[tuple]]:
    """Every agency's recorded figures of the selected runs (what a report publishes)."""
    out = {}
    for db in sorted((project / "agencies").glob("*/data/history.sqlite")):
        with sqlite3.connect(db) as con:
            rows = con.execute(
                "SELECT run_key, indicator_id, period, group_var, group_value, value, n, "
                "ci_low, ci_high, suppressed FROM results WHERE "
                + " OR ".join("run_key = ?" for _ in keys)
                + " ORDER BY 1, 2, 3, 4, 5",
                keys,
            ).fetchall()
        out[db.parent.parent.name] = rows
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--agencies", type=int, default=20)
    parser.add_argument("--only", nargs="+", default=list(ONLY))
    parser.add_argument("--project", type=Path, default=None, help="reuse this project")
    args = parser.parse_args()
    base = None
    project = args.project
    if project is None:
        base = Path(tempfile.mkdtemp(prefix="bench-scale-"))
        project = base / "proj"
        shutil.copytree(REPO / "notebooks", project / "notebooks")
        shutil.copytree(REPO / "params", project / "params")
    try:
        elapsed, done = cli(project, "demo", "--agencies", str(args.agencies))
        if done.returncode:
            raise SystemExit(done.stderr[-2000:])
        print(f"demo: {args.agencies} agencies in {elapsed:.0f} s", flush=True)
        select = [x for key in args.only for x in ("--only", key)]
        common = ["run", "--all-agencies", "--force", "--period", "2024", "--today", TODAY]
        common += [*select, "--progress", "lines", "-q"]
        runs = args.agencies * len(args.only)
        elapsed, done = cli(project, *common, "--jobs", "2")
        if done.returncode:
            raise SystemExit(done.stderr[-3000:])
        reference = figures(project, tuple(args.only))
        rate_local = runs / elapsed * 60
        print(f"local executor, 2 workers: {elapsed:.0f} s, {rate_local:.1f} runs/min", flush=True)
        rates = {}
        for k in args.workers:
            elapsed, done = cli(project, *common, "--executor", "dask", "--jobs", str(k))
            if done.returncode:
                print(f"dask {k} workers: FAILED\n{done.stderr[-3000:]}", flush=True)
                continue
            rates[k] = runs / elapsed * 60
            same = figures(project, tuple(args.only)) == reference
            efficiency = rates[k] / (k * rates[min(rates)]) if rates else 1.0
            print(
                f"dask, {k} worker process(es): {elapsed:.0f} s, {rates[k]:.1f} runs/min, "
                f"efficiency {efficiency:.2f}, figures {'the same as' if same else 'DIFFER from'} "
                "the local executor",
                flush=True,
            )
        if rates:
            per_worker = rates[min(rates)] / min(rates)
            # a machine of 2 cores runs 2 workers; its efficiency is the measured one at 2
            efficiency = rates[2] / (2 * per_worker) if 2 in rates else 1.0
            total = 172 * RUNS_PER_AGENCY_YEAR
            print(
                f"estimate, 172 agencies x {RUNS_PER_AGENCY_YEAR} runs a year = {total} runs, "
                f"{per_worker:.1f} runs/min per worker, efficiency {efficiency:.2f} at 2 "
                "workers per 2-core machine (the runs are independent across agencies; the "
                "submitting process publishes, which bounds k):"
            )
            for machines in (1, 2, 4, 8, 16):
                minutes = total / (per_worker * 2 * machines * efficiency)
                print(f"  {machines:>2} machine(s): about {minutes:.0f} min")
    finally:
        if base is not None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
