"""Benchmark of warm kernels (issue 13): figures for the README.

In a temporary workspace with the demo data, interleaved, ``--repeats`` times:

1. **yearly plan 2024** (every notebook for 2024, two at a time):
   * *by hand*: ``papermill`` and ``jupyter nbconvert --to html`` on the command line, two
     notebooks at a time, in the plan's order;
   * *fresh kernels*: the runner (``run_plan(period=["2024"], jobs=2, force=True)``) with
     :func:`evaluation.execute.execute`, a new kernel per run;
   * *warm kernels*: the same with :func:`evaluation.engines.execute_warm`; each of the two
     workers starts one kernel (included in the time) and reuses it.
2. **per-run overhead**: a one-cell notebook through papermill in this process, fresh kernel
   against warm kernel (median of ``--repeats`` × 5 runs).
3. **memory per warm worker**: the labour-market notebook for 2024 ``--runs`` times on one
   warm kernel; the kernel's resident memory after the 1st, 10th, ... run.

Usage: ``python benchmarks/bench_kernels.py [--repeats N] [--runs N] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def by_hand(home: Path, runs: list, out: Path) -> float:
    """The plan's notebooks with the papermill and nbconvert command lines, two at a time."""
    env = {**os.environ, "EVALUATION_HOME": str(home)}
    for key in ("EVALUATION_RUN_ID", "EVALUATION_RUN_DIR", "EVALUATION_REPORT_MODE"):
        env.pop(key, None)
    out.mkdir(parents=True, exist_ok=True)

    def one(run) -> None:
        target = out / (run.key.replace("/", "__") + ".ipynb")
        params = {k: v for k, v in run.parameters.items()}
        params.update(
            period_start=run.period.start.isoformat(), period_end=run.period.end.isoformat()
        )
        subprocess.run(
            [str(BIN / "papermill"), str(run.notebook), str(target), "-y", json.dumps(params)],
            cwd=run.notebook.parent,
            env=env,
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        subprocess.run(
            [str(BIN / "jupyter"), "nbconvert", "--to", "html", str(target)],
            env=env,
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    cpu = cpu_seconds()
    start = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(one, runs))
    wall = time.perf_counter() - start
    LAST_CPU["by hand"] = cpu_seconds() - cpu
    return wall


def with_runner(
    home: Path, executor, period: list[str] | None = None
) -> tuple[float, list[float], int]:
    """The runner on the plan (``period``: e.g. ``["2024"]``; ``None`` the whole plan) with
    ``executor``: wall time, per-run times, ok."""
    from evaluation.paths import paths
    from evaluation.runner import run_plan

    cpu = cpu_seconds()
    start = time.perf_counter()
    summary = run_plan(
        root=paths(home),
        period=period,
        jobs=2,
        force=True,
        executor=executor,
        out=io.StringIO(),
    )
    wall = time.perf_counter() - start
    LAST_CPU["runner"] = cpu_seconds() - cpu
    return wall, [o.duration_s for o in summary.outcomes], summary.count("ok")


def code_state() -> str:
    """Which code was measured: the commit, whether the package imported had uncommitted
    changes, and the hash of its source (a benchmark of a tree someone is editing says so)."""
    import evaluation
    from evaluation.provenance import git_state, source_fingerprint

    package = Path(evaluation.__file__).resolve().parent
    state = git_state(package.parent)
    dirty = " with uncommitted changes" if state["dirty"] else ""
    return (
        f"code: {package} at {(state['commit'] or 'no git')[:12]}{dirty}, "
        f"package source {source_fingerprint(package)}"
    )


VARIANTS = ("by hand", "fresh kernels", "warm kernels")
"""The plan variants the benchmark times (``--variants``)."""

LAST_CPU: dict[str, float] = {}
"""CPU seconds of the last measured variant (this process and its ended children)."""


def cpu_seconds() -> float:
    """User and system CPU seconds of this process and of all its children that ended (the
    runner's workers, their kernels and browsers; the command lines of the by-hand variant)."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


PROFILE_ENV = "BENCH_KERNELS_PROFILE"


def _event(what: str, start: float, end: float, **extra) -> None:
    """Append one phase (wall-clock start and end) to the profile file of this benchmark."""
    target = os.environ.get(PROFILE_ENV)
    if not target:
        return
    line = json.dumps({"what": what, "start": start, "end": end, "pid": os.getpid(), **extra})
    with open(target, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")


def _timed(owner, name: str, what: str) -> None:
    """Wrap ``owner.name`` so that each call is a phase of the profile."""
    original = getattr(owner, name)
    if getattr(original, "_profiled", False):
        return

    def wrapper(*args, **kwargs):
        start = time.time()
        try:
            return original(*args, **kwargs)
        finally:
            _event(what, start, time.time())

    wrapper._profiled = True
    setattr(owner, name, wrapper)


def profiled_warm(job):
    """Executor for the phase profile: :func:`evaluation.runner.execute_warm` with the
    worker's phases (engine import, kernel start, preload, notebook, formats, browser start)
    written to the profile file."""
    start = time.time()
    from evaluation import engines

    _event("import engines", start, time.time())
    from jupyter_client.blocking.client import BlockingKernelClient

    from evaluation.export import browser

    _timed(engines.KernelPool, "_start_once", "kernel start + preload")
    _timed(BlockingKernelClient, "wait_for_ready", "kernel ready")
    _timed(BlockingKernelClient, "execute_interactive", "preload")
    _timed(browser, "Browser", "browser start")
    begin = time.time()
    outcome = engines.execute_warm(job)
    end = time.time()
    extra = {}
    manifest = Path(outcome.output_dir or "") / "manifest.json"
    if outcome.output_dir and manifest.exists():
        data = json.loads(manifest.read_text(encoding="utf-8"))
        extra = {"notebook_s": data.get("duration_s"), "render_s": data.get("render_s")}
    _event("run", begin, end, key=job.run_key, status=outcome.status, **extra)
    return outcome


def profile(home: Path, period: list[str] | None) -> dict:
    """One warm runner pass with the phase profile: every phase of every worker, in seconds
    from the call of ``run_plan``."""
    from evaluation import execute, runner

    target = home / "profile.jsonl"
    target.unlink(missing_ok=True)
    os.environ[PROFILE_ENV] = str(target)
    parent = [
        (runner, name)
        for name in (
            "load_plan",
            "_build",
            "assess",
            "_execute",
            "_write_index",
            "_write_project_index",
            "_print_summary",
        )
    ] + [(execute, "recover"), (runner._Worker, "wait_stopped")]
    originals = [(owner, name, getattr(owner, name)) for owner, name in parent]
    for owner, name in parent:
        _timed(owner, name, f"runner: {name}")
    try:
        zero = time.time()
        wall, _, n_ok = with_runner(home, profiled_warm, period)
    finally:
        del os.environ[PROFILE_ENV]
        for owner, name, original in originals:
            setattr(owner, name, original)
    events = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    workers = {os.getpid(): 0}
    for e in events:
        workers.setdefault(e["pid"], len(workers))
    rows = []
    for e in sorted(events, key=lambda e: e["start"]):
        rows.append(
            {
                "worker": workers[e["pid"]],
                "what": e["what"] + (f" {e['key']}" if "key" in e else ""),
                "from_s": round(e["start"] - zero, 2),
                "to_s": round(e["end"] - zero, 2),
                **{k: e[k] for k in ("notebook_s", "render_s") if e.get(k) is not None},
            }
        )
    return {"wall_s": wall, "cpu_s": LAST_CPU["runner"], "ok": n_ok, "phases": rows}


def overhead(home: Path, repeats: int) -> dict[str, float]:
    """Median time of a one-cell notebook: fresh kernel against warm kernel."""
    import nbformat

    from evaluation import engines

    tiny = home / "tiny.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1")]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, tiny)
    options = {
        "kernel_name": "python3",
        "progress_bar": False,
        "request_save_on_cell_execute": False,
        "shutdown_kernel": "immediate",
    }
    engines.new_pool(max_runs=10_000)
    engines.execute_notebook(tiny, home / "t.ipynb", engine_name="warm", **options)  # start
    times: dict[str, list[float]] = {"fresh kernel": [], "warm kernel": []}
    for _ in range(repeats * 5):
        for label, engine in (("fresh kernel", None), ("warm kernel", "warm")):
            start = time.perf_counter()
            engines.execute_notebook(tiny, home / "t.ipynb", engine_name=engine, **options)
            times[label].append(time.perf_counter() - start)
    engines.new_pool()
    return {k: statistics.median(v) for k, v in times.items()}


TINY_PLAN = """
notebook: tiny.ipynb
title: Kleinster Bericht
field: Testfeld
schedules:
  - name: jahr
    cadence: yearly
    start: {start}
    end: 2024
"""

TINY_CELLS = (
    '# Parameters\nperiod_start = "2024-01-01"\nperiod_end = "2024-12-31"\n'
    'agency = "Demo"\nsnapshot = "latest"\nlanguage = "de"\nsuppression_threshold = 5',
    "from evaluation.notebook import start\n\n"
    "ctx = start(period_start=period_start, period_end=period_end, agency=agency,\n"
    "            snapshot=snapshot, language=language,\n"
    "            suppression_threshold=suppression_threshold)\n"
    'ctx.record("tiny_persons", len(ctx.table("participants")), n=None)',
)


def runner_overhead(home: Path, runs: int = 10) -> dict[str, float]:
    """Per-run cost of the runner for a notebook that does almost nothing (reads the
    snapshot's participants, records one figure, shows no table and no chart): one warm
    worker, ``runs + 1`` runs against 1 run (the kernel start), so the difference per run is
    papermill, the HTML report, the PDF/DOCX/XLSX formats, the manifest and publishing."""
    import nbformat

    from evaluation import engines
    from evaluation.paths import paths
    from evaluation.runner import run_plan

    tiny_home = home / "tiny-plan"
    (tiny_home / "notebooks").mkdir(parents=True, exist_ok=True)
    (tiny_home / "params").mkdir(exist_ok=True)
    if not (tiny_home / "data").exists():
        shutil.copytree(home / "data" / "snapshots", tiny_home / "data" / "snapshots")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(TINY_CELLS[0], metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(TINY_CELLS[1]),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, tiny_home / "notebooks" / "tiny.ipynb")
    walls = {}
    for n in (1, runs + 1):
        (tiny_home / "params" / "tiny.yml").write_text(TINY_PLAN.format(start=2025 - n))
        start = time.perf_counter()
        summary = run_plan(
            root=paths(tiny_home),
            jobs=1,
            force=True,
            executor=engines.execute_warm,
            out=io.StringIO(),
        )
        walls[n] = time.perf_counter() - start
        assert summary.count("ok") == n, summary
    return {
        "one run (kernel start included)": walls[1],
        "per further run": (walls[runs + 1] - walls[1]) / runs,
    }


def memory(home: Path, runs: int, name: str = "labour_market") -> list[tuple[int, float, float]]:
    """Kernel RSS (MiB) and run time after each checkpoint of ``runs`` runs of a notebook."""
    from evaluation import engines

    notebook = REPO / "notebooks" / f"{name}.ipynb"
    pool = engines.new_pool(max_runs=runs + 1, max_rss_mb=0)
    marks = sorted({1, 2, 5, *range(10, runs + 1, 10), runs})
    out = []
    # interactive mode: outside the runner a report-mode run would leave its staged cells in
    # the release store, which then grows (and slows every audit) from run to run
    for i in range(1, runs + 1):
        start = time.perf_counter()
        engines.execute_notebook(
            notebook,
            home / "mem.ipynb",
            engine_name="warm",
            parameters={"period_start": "2024-01-01", "period_end": "2024-12-31"},
            kernel_name="python3",
            cwd=str(notebook.parent),
            progress_bar=False,
            request_save_on_cell_execute=False,
        )
        elapsed = time.perf_counter() - start
        if i in marks and pool.kernel is not None:
            out.append((i, pool.kernel.rss_mb(), elapsed))
            print(f"memory: run {i}: {out[-1][1]:.0f} MiB, {elapsed:.2f} s", file=sys.stderr)
    engines.new_pool()
    return out


def _table(what: str, column: str, values: dict[str, float]) -> None:
    """Print a two-column markdown table of seconds (nothing when ``values`` is empty)."""
    if not values:
        return
    print()
    print(f"| {what} | {column} |")
    print("| --- | ---: |")
    for label, value in values.items():
        print(f"| {label} | {value:.2f} s |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2, help="interleaved rounds")
    parser.add_argument("--runs", type=int, default=30, help="runs for the memory figure")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--memory-only", action="store_true", help="only the memory figure (no plan rounds)"
    )
    parser.add_argument(
        "--plan",
        choices=("2024", "all"),
        default="2024",
        help="the yearly plan 2024 (default) or the whole demo plan (40 runs)",
    )
    parser.add_argument(
        "--overhead-only", action="store_true", help="only the per-run overhead figures"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="only the phase profile of one warm runner pass (who does what when)",
    )
    parser.add_argument(
        "--memory-notebook", default="labour_market", help="notebook of the memory figure"
    )
    parser.add_argument(
        "--plan-only",
        action="store_true",
        help="only the plan rounds (no per-run overhead, no memory figure)",
    )
    parser.add_argument(
        "--variants",
        nargs="+",
        choices=VARIANTS,
        default=list(VARIANTS),
        help="which plan variants to time (default all three; 'by hand' is always the base)",
    )
    args = parser.parse_args()

    from evaluation import engines
    from evaluation.execute import execute
    from evaluation.paths import paths
    from evaluation.plan import load_plan
    from evaluation.runner import select

    with tempfile.TemporaryDirectory(prefix="bench-kernels-") as tmp:
        home = Path(tmp)
        shutil.copytree(
            REPO / "notebooks", home / "notebooks", ignore=shutil.ignore_patterns(".ipynb_*")
        )
        shutil.copytree(REPO / "params", home / "params")
        os.environ["EVALUATION_HOME"] = str(home)
        subprocess.run(
            [sys.executable, "-m", "evaluation", "demo"],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        period = None if args.plan == "all" else ["2024"]
        runs = sorted(
            select(load_plan(None, root=paths(home)), None, period), key=lambda r: r.order
        )
        if args.overhead_only:
            figures = {"runner": runner_overhead(home), "papermill": overhead(home, args.repeats)}
            print(json.dumps(figures, indent=2))
            if args.json:
                args.json.write_text(json.dumps(figures, indent=2))
            return 0
        if args.profile:
            with_runner(home, execute, period)  # the history the annual report reads
            figures = profile(home, period)
            for row in figures["phases"]:
                extra = {k: row[k] for k in ("notebook_s", "render_s") if k in row}
                print(
                    f"worker {row['worker']}  {row['from_s']:7.2f} – {row['to_s']:7.2f} s  "
                    f"{row['what']}  {json.dumps(extra) if extra else ''}"
                )
            print(
                f"wall {figures['wall_s']:.2f} s, CPU {figures['cpu_s']:.1f} s, "
                f"{figures['ok']} ok, load average {os.getloadavg()[0]:.1f}"
            )
            if args.json:
                args.json.write_text(json.dumps(figures, indent=2))
            return 0
        if args.memory_only:
            mem = memory(home, args.runs, args.memory_notebook)
            figures = {"memory": mem, "notebook": args.memory_notebook}
            print(json.dumps(figures))
            if args.json:
                args.json.write_text(json.dumps(figures, indent=2))
            return 0
        # a first runner pass fills the history the annual report reads (not measured)
        with_runner(home, execute, period)
        chosen = ["by hand", *(v for v in args.variants if v != "by hand")]
        walls: dict[str, list[float]] = {label: [] for label in chosen}
        cpus: dict[str, list[float]] = {label: [] for label in walls}
        loads: list[float] = []
        per_run: dict[str, list[float]] = {"fresh kernels": [], "warm kernels": []}
        ok: dict[str, int] = {}
        for i in range(args.repeats):
            loads.append(os.getloadavg()[0])
            walls["by hand"].append(by_hand(home, runs, home / f"hand-{i}"))
            cpus["by hand"].append(LAST_CPU["by hand"])
            for label, executor in (
                ("fresh kernels", execute),
                ("warm kernels", engines.execute_warm),
            ):
                if label not in walls:
                    continue
                loads.append(os.getloadavg()[0])
                wall, durations, n_ok = with_runner(home, executor, period)
                walls[label].append(wall)
                cpus[label].append(LAST_CPU["runner"])
                per_run[label].extend(durations)
                ok[label] = n_ok
            loads.append(os.getloadavg()[0])
        plan_only = args.plan_only
        tiny = {} if plan_only else overhead(home, args.repeats)
        tiny_runner = {} if plan_only else runner_overhead(home)
        mem = memory(home, args.runs) if args.runs and not plan_only else []

    hand = statistics.median(walls["by hand"])
    what = "whole demo plan" if args.plan == "all" else "yearly plan 2024"
    print(code_state())
    print(
        f"{what}: {len(runs)} runs, 2 at a time, median of {args.repeats} rounds, "
        f"load average (1 min) {min(loads):.1f}–{max(loads):.1f}"
    )
    print("| variant | wall time | × by hand | CPU | mean per run (runner) | runs ok |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for label, values in walls.items():
        wall = statistics.median(values)
        cpu = statistics.median(cpus[label])
        mean = (
            f"{statistics.mean(per_run[label]):.2f} s" if per_run.get(label) else "–"
        )  # runner manifests only
        print(
            f"| {label} | {wall:.1f} s | {wall / hand:.2f} | {cpu:.1f} s | {mean} "
            f"| {ok.get(label, '–')} |"
        )
    print()
    print(
        "| round | load at start | " + " | ".join(f"{label} (× by hand)" for label in walls) + " |"
    )
    print("| ---: | ---: |" + " ---: |" * len(walls))
    per_round = 1 + len(walls)  # loads: one before each variant of a round, one after
    for i in range(args.repeats):
        cells = [
            f"{walls[label][i]:.1f} s ({walls[label][i] / walls['by hand'][i]:.2f})"
            for label in walls
        ]
        print(f"| {i + 1} | {loads[i * per_round]:.1f} | " + " | ".join(cells) + " |")
    _table("one-cell notebook through papermill", "median per run", tiny)
    _table("almost empty notebook through the runner (1 warm worker)", "time", tiny_runner)
    if mem:
        print()
        print("| labour-market 2024 on one warm kernel: run | kernel RSS | run time |")
        print("| ---: | ---: | ---: |")
        for i, rss, elapsed in mem:
            print(f"| {i} | {rss:.0f} MiB | {elapsed:.2f} s |")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "code": code_state(),
                    "plan": args.plan,
                    "walls": walls,
                    "cpu": cpus,
                    "load": loads,
                    "per_run": per_run,
                    "overhead": tiny,
                    "runner_overhead": tiny_runner,
                    "memory": mem,
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
