"""How `plan` and a no-op `run` grow with the number of agencies (issue 13).

Builds a temporary project with the repository's notebooks and plan (``params/*.yml``) and
N synthetic agencies (``agencies/demo-NNN/`` with an ``agency.yml``). Every agency gets a
real data snapshot (one small demo snapshot, hard-linked into each agency: a real snapshot
with file hashes, verified like any other) and a published state that is *up to date*:
for every run of the plan a manifest with the fingerprint the runner computes, the
published files (stubs) and the run recorded in the agency's history, as a real run would
leave them (fake manifests: executing 40 notebooks for each of 172 agencies is hours).

Then it times, as separate processes (what cron would call, interpreter start and imports
included):

- ``python -m evaluation plan --all-agencies`` (every run is reported "up to date"),
- ``python -m evaluation run --all-agencies`` (nothing to do; checked: "Nothing to do"),

for 1, 20 and 172 agencies (``--agencies 1 20 172``), each call twice: the first call
after the state was built hashes every snapshot (its stat is not yet cached), the second
is the everyday no-op. Printed: seconds, runs, milliseconds per run and the growth exponent
between the sizes (1.0 is linear). Goal: linear, a no-op call at 172 agencies under 5 s.

Everything runs on a frozen copy of the package (the fingerprint covers the package's
source, and in a shared work tree someone may save a file between two calls), and before
the timed ``run`` calls the ``plan`` output is checked to say "up to date" for every run,
so the timed call is a true no-op and never starts a kernel.

    .venv/bin/python benchmarks/bench_fingerprint.py [--agencies 1 20 172]
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TODAY = "2026-11-24"


def build(project: Path, count: int, snapshot_src: Path) -> int:
    """Create ``count`` agencies with an up-to-date published state; return the runs."""
    import json

    from evaluation import agencies, history
    from evaluation.data import atomic_write_text
    from evaluation.execute import PUBLISHED, run_dir
    from evaluation.paths import paths
    from evaluation.plan import load_plan
    from evaluation.runner import _build

    p = paths(project)
    for i in range(1, count + 1):
        folder = project / "agencies" / f"demo-{i:03d}"
        agencies.write_agency_file(
            folder,
            {"name": f"Integrationsagentur Demo {i:03d}", "parameters": {"grant_eur": 1000.0 * i}},
        )
        shutil.copytree(snapshot_src, folder / "data" / "snapshots", copy_function=os.link)
    chosen = agencies.discover(p)
    runs = load_plan(root=p, today=date.fromisoformat(TODAY), agencies=chosen)
    plan = _build(runs, runs, p, None, chosen)
    done: set[str] = set()

    def publish(uid: str) -> None:
        if uid in done:
            return
        for dep in plan.deps.get(uid, []):
            publish(dep)
        job = plan.finalise(uid)
        root = plan.paths_of(uid)
        manifest = dict(job.manifest, status="ok", started_at="2026-11-24T05:15:00+00:00")
        folder = run_dir(root, job.run_key)
        folder.mkdir(parents=True, exist_ok=True)
        for name in PUBLISHED:
            (folder / name).write_text("stub", encoding="utf-8")
        atomic_write_text(folder / "manifest.json", json.dumps(manifest, default=str))
        history.record_run(manifest, db=root.history)
        done.add(uid)

    for uid in plan.selected:
        publish(uid)
    return len(runs)


def _env(project: Path, package: Path) -> dict[str, str]:
    return dict(os.environ, EVALUATION_HOME=str(project), PYTHONPATH=str(package))


def timed(args: list[str], project: Path, package: Path) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "evaluation", *args, "--today", TODAY],
        env=_env(project, package),
        capture_output=True,
        text=True,
        cwd=package,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return elapsed, result.stdout + result.stderr


SEED_SNAPSHOT = (
    "import sys; from evaluation import data, demo; from evaluation.paths import paths; "
    "data.write_snapshot(demo.generate(participants=300), source={'kind': 'demo'}, "
    "root=paths(sys.argv[1]))"
)


def measure(count: int, base: Path, package: Path, seed: Path) -> dict[str, float]:
    project = base / f"p{count}"
    shutil.copytree(REPO / "notebooks", project / "notebooks")
    shutil.copytree(REPO / "params", project / "params")
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--build", str(project), str(count), str(seed)],
        env=_env(project, package),
        cwd=package,
        capture_output=True,
        text=True,
        check=True,
    )
    result = {"agencies": count, "runs": int(done.stdout.split()[-1])}
    result["build_s"] = time.perf_counter() - t0
    for attempt in ("first", "again"):
        elapsed, out = timed(["plan", "--all-agencies", "-q"], project, package)
        assert "to run" not in out and f"{result['runs']} up to date" in out, out[-1500:]
        result[f"plan_{attempt}"] = elapsed
    for attempt in ("first", "again"):
        result[f"run_{attempt}"] = timed(["run", "--all-agencies", "-q"], project, package)[0]
    shutil.rmtree(project, ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agencies", type=int, nargs="+", default=[1, 20, 172])
    parser.add_argument("--build", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build:  # in a subprocess, on the frozen package
        project, count, snapshots = args.build
        print(build(Path(project), int(count), Path(snapshots)))
        return
    base = Path(tempfile.mkdtemp(prefix="bench-fingerprint-"))
    try:
        package = base / "pkg"
        shutil.copytree(
            REPO / "evaluation",
            package / "evaluation",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        seed = base / "seed"
        subprocess.run(
            [sys.executable, "-c", SEED_SNAPSHOT, str(seed)],
            env=_env(seed, package),
            cwd=package,
            check=True,
        )
        rows = []
        for count in args.agencies:
            r = measure(count, base, package, seed / "data" / "snapshots")
            rows.append(r)
            print(
                f"{count:>4} agencies, {r['runs']:>5} runs: plan {r['plan_first']:.2f} s "
                f"(again {r['plan_again']:.2f} s), no-op run {r['run_first']:.2f} s "
                f"(again {r['run_again']:.2f} s), "
                f"{1000 * r['run_again'] / r['runs']:.2f} ms per run; state built in "
                f"{r['build_s']:.0f} s",
                flush=True,
            )
        for a, b in zip(rows, rows[1:], strict=False):
            for key in ("plan_again", "run_again"):
                exponent = math.log(b[key] / a[key]) / math.log(b["runs"] / a["runs"])
                marginal = 1000 * (b[key] - a[key]) / (b["runs"] - a["runs"])
                print(
                    f"{a['agencies']} -> {b['agencies']} agencies, {key}: growth exponent "
                    f"{exponent:.2f}, {marginal:.2f} ms per added run"
                )
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
