"""The main job: expand the plan, skip what is unchanged, run the rest in parallel.

A run is skipped when its published manifest carries the same fingerprint, the hash of
everything that determines the report: the notebook's cells, its parameters, the data
snapshot id, the source of the ``evaluation`` package and the versions of the key
libraries. Deciding that needs no kernel and no heavy import, so a run with nothing to do
takes well under two seconds.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any, TextIO

from evaluation import __version__, data, nbparams, provenance
from evaluation.execute import Job, Outcome, execute, is_current
from evaluation.paths import Paths, paths
from evaluation.plan import Run, load_plan


@dataclass
class Summary:
    """What a call of :func:`run_plan` did."""

    planned: int = 0
    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


def new_run_id(now: datetime | None = None) -> str:
    """Sortable, unique run id, e.g. ``20261124T2301Z-3fa9c1``."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)


def prepare(run: Run, root: Paths, *, env: dict[str, Any]) -> Job:
    """Resolve the data snapshot, fingerprint the run and build its job and manifest."""
    from evaluation.report import period_text

    declared = nbparams.inspect(run.notebook)
    params = dict(run.parameters)
    requested = str(params.get("snapshot", data.LATEST))
    info = data.snapshot_info(requested, root=root)
    if "snapshot" in declared:
        params["snapshot"] = info.id
    notebook_sha = provenance.notebook_sha256(run.notebook)
    language = str(params.get("language", "de"))
    fp = provenance.fingerprint(
        notebook=notebook_sha,
        parameters=params,
        snapshot=info.id,
        source=env["source_fingerprint"],
        versions=env["versions"],
        title=[run.title, run.title_en, run.field],
    )
    manifest = {
        "run_id": new_run_id(),
        "run_key": run.key,
        "plan": run.plan,
        "schedule": run.schedule,
        "title": run.title if language == "de" else run.title_en,
        "field": run.field,
        "period": {
            "label": run.period.label,
            "start": run.period.start.isoformat(),
            "end": run.period.end.isoformat(),
        },
        "matrix": dict(run.matrix),
        "params_file": _relative(run.source, root.root),
        "parameters": params,
        "notebook": {"path": _relative(run.notebook, root.root), "sha256": notebook_sha},
        "data": {
            "snapshot_id": info.id,
            "requested": requested,
            "source": info.source,
            "manifest_sha256": provenance.file_sha256(info.path / data.MANIFEST),
        },
        "code": {
            "evaluation_version": __version__,
            "source_fingerprint": env["source_fingerprint"],
            "git": env["git"],
        },
        "environment": env["versions"],
        "fingerprint": fp,
    }
    title = manifest["title"]
    if run.matrix:
        title += " – " + ", ".join(str(v) for v in run.matrix.values())
    return Job(
        run_id=manifest["run_id"],
        run_key=run.key,
        notebook=run.notebook,
        parameters=params,
        manifest=manifest,
        root=root.root,
        title=title,
        period_text=period_text(
            params["period_start"], params["period_end"], run.period.label, language
        ),
        field=run.field,
        language=language,
    )


def environment(root: Paths) -> dict[str, Any]:
    """Code and environment facts shared by every run of one invocation."""
    return {
        "source_fingerprint": provenance.source_fingerprint(),
        "git": provenance.git_state(root.root),
        "versions": provenance.package_versions(),
    }


def _select(runs: list[Run], only: Sequence[str] | None, period: Sequence[str] | None) -> list[Run]:
    if only:
        runs = [r for r in runs if r.plan in only or r.key.startswith(tuple(only))]
    if period:
        runs = [r for r in runs if r.period.label in period]
    return runs


def run_plan(
    *,
    root: Paths | None = None,
    files: Sequence[Path] | None = None,
    due: bool = False,
    only: Sequence[str] | None = None,
    period: Sequence[str] | None = None,
    jobs: int | None = None,
    force: bool = False,
    today: date | None = None,
    out: TextIO = sys.stdout,
    executor: Callable[[Job], Outcome] = execute,
) -> Summary:
    """Run the plan and return a summary; see ``python -m evaluation run --help``.

    Raises
    ------
    evaluation.plan.PlanError
        A parameter file is wrong (before anything runs).
    evaluation.data.SnapshotError
        There is no data snapshot.
    """
    p = root or paths()
    all_runs = load_plan(files, root=p, today=today, due_only=due)
    runs = _select(all_runs, only, period)
    summary = Summary(planned=len(runs))
    env = environment(p)
    runs = sorted(runs, key=lambda r: r.order)  # stable: plan file order within the same order
    prepared = _prepare_with_dependencies(runs, all_runs, p, env)
    todo = []
    for job in prepared:
        if not force and is_current(p, job.run_key, job.manifest["fingerprint"]):
            summary.outcomes.append(Outcome(job.run_key, "skipped"))
        else:
            todo.append(job)
    if not todo:
        print(f"Nothing to do: {summary.planned} runs are up to date.", file=out)
        if not (p.reports / "index.html").exists() and prepared:
            _write_index(p)
        return summary
    if force:
        todo = [replace(job, force=True) for job in todo]
    workers = max(1, min(jobs or os.cpu_count() or 1, len(todo)))
    skipped = summary.count("skipped")
    print(
        f"{len(todo)} of {summary.planned} runs to execute ({skipped} up to date), {workers} workers",
        file=out,
    )
    for outcome in _execute_in_order(todo, workers, executor):
        summary.outcomes.append(outcome)
        done = len(summary.outcomes) - skipped
        print(_progress_line(done, len(todo), outcome), file=out, flush=True)
    _write_index(p)
    _print_summary(summary, p, out)
    return summary


def _prepare_with_dependencies(
    runs: list[Run], all_runs: list[Run], p: Paths, env: dict[str, Any]
) -> list[Job]:
    """Prepare jobs; a run that waits for other plans also fingerprints their runs.

    A run with ``after`` depends on the runs of those plans for its period and every earlier
    one (a yearly report reads the history of the years before, for trends). Its fingerprint
    covers theirs, so it is re-run whenever one of them would be.
    """
    by_plan: dict[str, list[Run]] = {}
    for run in all_runs:
        by_plan.setdefault(run.plan, []).append(run)
    cache: dict[str, Job] = {}

    def job_for(run: Run) -> Job:
        if run.key not in cache:
            job = prepare(run, p, env=env)
            deps = [
                job_for(d)
                for name in run.after
                for d in by_plan.get(name, [])
                if d.period.end <= run.period.end
            ]
            if deps:
                manifest = dict(job.manifest)
                manifest["depends_on"] = {d.run_key: d.manifest["fingerprint"] for d in deps}
                manifest["fingerprint"] = provenance.fingerprint(
                    own=job.manifest["fingerprint"], depends_on=manifest["depends_on"]
                )
                job = replace(job, manifest=manifest, depends_on=tuple(d.run_key for d in deps))
            cache[run.key] = job
        return cache[run.key]

    return [job_for(run) for run in runs]


def _execute_in_order(todo: list[Job], workers: int, executor: Callable[[Job], Outcome]):
    """Execute jobs in parallel; a job starts only after the jobs it depends on (if queued) ended."""
    pending = {job.run_key: job for job in todo}
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        running: dict[Any, Job] = {}
        while pending or running:
            busy = set(pending) | {job.run_key for job in running.values()}
            ready = [k for k, job in pending.items() if not set(job.depends_on) & (busy - {k})]
            for key in ready or (list(pending) if not running else []):  # never wait on nothing
                job = pending.pop(key)
                running[pool.submit(executor, job)] = job
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                job = running.pop(future)
                try:
                    yield future.result()
                except Exception as exc:  # the worker itself died
                    yield Outcome(
                        job.run_key, "failed", error={"summary": f"worker crashed: {exc!r}"}
                    )


def _write_index(p: Paths) -> None:
    from evaluation.report import write_index

    write_index(p)


def _progress_line(done: int, total: int, outcome: Outcome) -> str:
    width = len(str(total))
    mark = {"ok": "ok    ", "failed": "FAILED", "skipped": "same  ", "locked": "busy  "}[
        outcome.status
    ]
    line = f"[{done:>{width}}/{total}] {mark} {outcome.run_key}"
    if outcome.duration_s:
        line += f"  ({outcome.duration_s:.1f} s)"
    if outcome.status == "locked":
        line += "  (running in another process; left to it)"
    return line


def _print_summary(summary: Summary, p: Paths, out: TextIO) -> None:
    counts = ", ".join(
        f"{summary.count(s)} {word}"
        for s, word in (
            ("ok", "ok"),
            ("failed", "failed"),
            ("skipped", "up to date"),
            ("locked", "running elsewhere"),
        )
        if summary.count(s)
    )
    print(f"Done: {counts}.", file=out)
    for outcome in summary.failed:
        summary_line = (outcome.error or {}).get("summary", "unknown error")
        where = (
            f" — executed copy: {outcome.output_dir / 'failed.ipynb'}" if outcome.output_dir else ""
        )
        print(f"FAILED {outcome.run_key}: {summary_line}{where}", file=out)
    print(f"Report index: {p.reports / 'index.html'}", file=out)


def dry_run(
    *,
    root: Paths | None = None,
    due: bool = False,
    today: date | None = None,
    out: TextIO = sys.stdout,
) -> int:
    """Print the plan with each run's state, without running anything."""
    p = root or paths()
    env = environment(p)
    for run in load_plan(root=p, today=today, due_only=due):
        job = prepare(run, p, env=env)
        state = (
            "up to date" if is_current(p, job.run_key, job.manifest["fingerprint"]) else "to run"
        )
        print(
            f"{run.key:<45} {state:<10} {json.dumps(dict(run.matrix)) if run.matrix else ''}",
            file=out,
        )
    return 0
