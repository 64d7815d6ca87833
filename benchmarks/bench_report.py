"""Benchmark of the main job (figures for the README).

Measures, in a temporary workspace with the demo data:

1. the whole plan from cold (no reports yet): wall time of the whole process, the sum of
   per-run times from the manifests, and that sum divided by the workers (the ideal);
2. the same command again with nothing changed (whole process, Python start included);
3. the size of the labour-market report;
4. the yearly plan (every notebook for one year) in a fresh workspace, cold and warm;
5. the annual report over a five-year history: its run time and size.

``--engine`` measures instead what the unattended engine options save per run: papermill
with its defaults (notebook saved after every cell, kernel shut down gracefully) against the
runner's options (saved once at the end, kernel killed at once), alternating, on the
labour-market notebook for 2024 and on a one-cell notebook (the fixed cost of a run).

Usage: ``python benchmarks/bench_report.py [--jobs N] [--engine [--repeats N]]`` (``make bench``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def engine_options(repeats: int) -> int:
    """Per-run time of papermill's defaults against the runner's unattended options."""
    import statistics

    import nbformat
    import papermill as pm

    from evaluation.data import ensure_demo
    from evaluation.paths import paths

    settings = {
        "papermill defaults (save every cell, graceful shutdown)": {},
        "runner (save at the end, immediate shutdown)": {
            "request_save_on_cell_execute": False,
            "shutdown_kernel": "immediate",
        },
    }
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp:
        home = Path(tmp)
        ensure_demo(root=paths(home))
        os.environ["EVALUATION_HOME"] = str(home)
        tiny = home / "tiny.ipynb"
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell("x = 1")]
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        nbformat.write(nb, tiny)
        cases = {
            "one-cell notebook": (tiny, {}),
            "labour_market 2024": (
                REPO / "notebooks" / "labour_market.ipynb",
                {"period_start": "2024-01-01", "period_end": "2024-12-31"},
            ),
        }
        print("| notebook | engine options | median per run | runs |")
        print("| --- | --- | --- | --- |")
        for case, (notebook, params) in cases.items():
            times: dict[str, list[float]] = {name: [] for name in settings}
            for _ in range(repeats):
                for name, options in settings.items():
                    start = time.perf_counter()
                    pm.execute_notebook(
                        str(notebook),
                        str(home / "out.ipynb"),
                        parameters=params,
                        kernel_name="python3",
                        cwd=str(notebook.parent),
                        progress_bar=False,
                        **options,
                    )
                    times[name].append(time.perf_counter() - start)
            for name, values in times.items():
                print(f"| {case} | {name} | {statistics.median(values):.2f} s | {len(values)} |")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--engine", action="store_true", help="measure the engine options only")
    parser.add_argument("--repeats", type=int, default=5, help="runs per setting with --engine")
    args = parser.parse_args()
    if args.engine:
        return engine_options(args.repeats)
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        home = Path(tmp)
        shutil.copytree(
            REPO / "notebooks",
            home / "notebooks",
            ignore=shutil.ignore_patterns(".ipynb_checkpoints"),
        )
        shutil.copytree(REPO / "params", home / "params")
        env = {**os.environ, "EVALUATION_HOME": str(home)}
        run = [sys.executable, "-m", "evaluation", "run", "--jobs", str(args.jobs)]
        demo = timed([sys.executable, "-m", "evaluation", "demo"], env)  # direct, no key needed
        cold = timed(run, env)
        manifests = [json.loads(p.read_text()) for p in (home / "reports").rglob("manifest.json")]
        per_run = [m["duration_s"] for m in manifests]
        warm = [timed(run, env) for _ in range(3)]
        sizes = sorted(p.stat().st_size for p in (home / "reports").rglob("report.html"))
        labour = home / "reports" / "labour_market" / "jahr" / "2024" / "report.html"
        labour_size = labour.stat().st_size if labour.exists() else None
        annual = json.loads(
            (home / "reports" / "annual_report" / "jahr" / "2024" / "manifest.json").read_text()
        )
        annual_size = (
            (home / "reports" / "annual_report" / "jahr" / "2024" / "report.html").stat().st_size
        )
        shutil.rmtree(home / "reports")
        (home / "data" / "history.sqlite").unlink(missing_ok=True)
        year = [*run, "--period", "2024"]
        year_cold = timed(year, env)
        year_runs = len(list((home / "reports").rglob("manifest.json")))
        year_warm = min(timed(year, env) for _ in range(3))
    print("| figure | value |")
    print("| --- | --- |")
    print(f"| demo data snapshot created | {demo:.1f} s |")
    print(f"| runs in the plan | {len(per_run)} |")
    print(f"| whole plan, cold, whole process ({args.jobs} workers) | {cold:.1f} s |")
    print(
        f"| sum of per-run times | {sum(per_run):.1f} s (mean {sum(per_run) / max(len(per_run), 1):.1f} s per run) |"
    )
    print(f"| ideal: sum / workers | {sum(per_run) / args.jobs:.1f} s |")
    print(f"| second run, nothing changed (best of 3, whole process) | {min(warm):.2f} s |")
    print(
        f"| labour-market report 2024 | {labour_size / 1e6:.2f} MB |"
        if labour_size
        else "| report | missing |"
    )
    print(f"| largest report | {sizes[-1] / 1e6:.2f} MB |" if sizes else "")
    print(f"| yearly plan 2024 ({year_runs} runs), cold, whole process | {year_cold:.1f} s |")
    print(f"| yearly plan 2024, warm (nothing changed, best of 3) | {year_warm:.2f} s |")
    print(
        f"| annual report 2024 over the 2020–2024 history: run time | {annual['duration_s']:.1f} s |"
    )
    print(f"| annual report 2024: size | {annual_size / 1e6:.2f} MB |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
