"""Execute one run in a worker process: papermill, HTML export, history, publishing.

Everything a run writes goes to a private staging folder first. Only when the notebook ran
and the report was rendered are the files moved into ``reports/<run key>/`` one by one with
``os.replace`` (atomic on POSIX), the manifest last; a reader, or a process killed half-way,
never sees a half-written file. A failed run publishes its executed notebook (with
papermill's error banner) as ``failed.ipynb`` beside the last successful report, which stays.

Runs are serialised per run key with a lock file, so two overlapping scheduled invocations
never execute the same run at once; the second one reports it as running elsewhere.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evaluation.paths import Paths

ENV_RUN_ID = "EVALUATION_RUN_ID"
ENV_RUN_DIR = "EVALUATION_RUN_DIR"
ENV_REPORT_MODE = "EVALUATION_REPORT_MODE"
FIGURES_FILE = "figures.json"
PUBLISHED = ("notebook.ipynb", "report.html")


@dataclass(frozen=True)
class Job:
    """What a worker needs for one run (picklable)."""

    run_id: str
    run_key: str
    notebook: Path
    parameters: dict[str, Any]
    manifest: dict[str, Any]
    root: Path
    title: str
    period_text: str
    field: str
    language: str = "de"
    cell_timeout: int = 900
    force: bool = False
    depends_on: tuple[str, ...] = ()


@dataclass
class Outcome:
    """What happened to a run."""

    run_key: str
    status: str  # ok | failed | skipped | locked
    duration_s: float = 0.0
    error: dict[str, Any] | None = None
    output_dir: Path | None = None
    manifest: dict[str, Any] = field(default_factory=dict)


def run_dir(root: Paths, run_key: str) -> Path:
    """Published folder of a run."""
    return root.reports / run_key


def lock_path(root: Paths, run_key: str) -> Path:
    return root.state / "locks" / (run_key.replace("/", "__") + ".lock")


def is_current(root: Paths, run_key: str, fingerprint: str) -> bool:
    """Whether the published report of ``run_key`` was made from exactly these inputs."""
    folder = run_dir(root, run_key)
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    if manifest.get("fingerprint") != fingerprint or manifest.get("status") != "ok":
        return False
    if (folder / "failed.json").exists():
        return False
    return all((folder / name).exists() for name in PUBLISHED)


def execute(job: Job) -> Outcome:
    """Run one job under its lock; never raises for a failing notebook."""
    from filelock import FileLock, Timeout

    from evaluation.paths import paths

    root = paths(job.root)
    lock_file = lock_path(root, job.run_key)
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_file))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return Outcome(job.run_key, "locked")
    try:
        if not job.force and is_current(root, job.run_key, job.manifest["fingerprint"]):
            return Outcome(job.run_key, "skipped", output_dir=run_dir(root, job.run_key))
        return _execute_locked(job, root)
    finally:
        lock.release()


def _execute_locked(job: Job, root: Paths) -> Outcome:
    import papermill as pm

    staging = root.state / "staging" / job.run_id
    staging.mkdir(parents=True, exist_ok=True)
    executed = staging / "notebook.ipynb"
    manifest = dict(job.manifest)
    manifest["started_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    start = time.perf_counter()
    env_before = {
        k: os.environ.get(k) for k in (ENV_RUN_ID, ENV_RUN_DIR, ENV_REPORT_MODE, "EVALUATION_HOME")
    }
    os.environ.update(
        {
            ENV_RUN_ID: job.run_id,
            ENV_RUN_DIR: str(staging),
            ENV_REPORT_MODE: "1",
            "EVALUATION_HOME": str(root.root),
        }
    )
    error = None
    log = _redirect_stderr(root.state / "logs" / (job.run_key.replace("/", "__") + ".log"))
    try:
        pm.execute_notebook(
            str(job.notebook),
            str(executed),
            parameters=job.parameters,
            kernel_name="python3",
            cwd=str(job.notebook.parent),
            progress_bar=False,
            log_output=False,
            execution_timeout=job.cell_timeout,
            report_mode=True,
        )
    except pm.PapermillExecutionError as exc:
        error = {
            "cell": exc.exec_count,
            "cell_index": exc.cell_index,
            "ename": exc.ename,
            "evalue": str(exc.evalue)[:2000],
            "summary": f"{job.notebook.name}, cell {exc.exec_count}: {exc.ename}: {str(exc.evalue)[:300]}",
        }
    except Exception as exc:  # kernel died, timeout, unreadable notebook ...
        error = {
            "cell": None,
            "ename": type(exc).__name__,
            "evalue": str(exc)[:2000],
            "summary": f"{job.notebook.name}: {type(exc).__name__}: {str(exc)[:300]}",
            "traceback": traceback.format_exc(limit=5),
        }
    finally:
        _restore_stderr(log)
        for key, value in env_before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    try:
        if error is None:
            try:
                return _publish_success(job, root, staging, manifest, start)
            except Exception as exc:
                error = {
                    "cell": None,
                    "ename": type(exc).__name__,
                    "evalue": str(exc)[:2000],
                    "summary": f"{job.notebook.name}: report export failed: {type(exc).__name__}: {str(exc)[:300]}",
                    "traceback": traceback.format_exc(limit=8),
                }
        return _publish_failure(job, root, staging, manifest, start, error)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _finish(
    manifest: dict[str, Any], start: float, status: str, error: dict[str, Any] | None
) -> dict[str, Any]:
    manifest["ended_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    manifest["duration_s"] = round(time.perf_counter() - start, 2)
    manifest["status"] = status
    manifest["error"] = error
    return manifest


def _publish_success(
    job: Job, root: Paths, staging: Path, manifest: dict[str, Any], start: float
) -> Outcome:
    from evaluation import history, report
    from evaluation.data import atomic_write_text

    figures = _read_figures(staging)
    manifest = _finish(manifest, start, "ok", None)
    manifest["figures_recorded"] = len(figures)
    html = report.export_html(
        staging / "notebook.ipynb",
        provenance=manifest,
        title=job.title,
        field=job.field,
        period_text=job.period_text,
        language=job.language,  # type: ignore[arg-type]
    )
    (staging / "report.html").write_text(html, encoding="utf-8")
    history.commit_figures(
        figures,
        run_id=job.run_id,
        run_key=job.run_key,
        snapshot_id=manifest["data"]["snapshot_id"],
        db=root.history,
    )
    target = run_dir(root, job.run_key)
    target.mkdir(parents=True, exist_ok=True)
    for name in PUBLISHED:
        _fsync(staging / name)
        os.replace(staging / name, target / name)
    for stale in ("failed.ipynb", "failed.json"):
        (target / stale).unlink(missing_ok=True)
    atomic_write_text(
        target / "manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False, default=str)
    )
    history.record_run(manifest, db=root.history)
    return Outcome(job.run_key, "ok", manifest["duration_s"], None, target, manifest)


def _publish_failure(
    job: Job,
    root: Paths,
    staging: Path,
    manifest: dict[str, Any],
    start: float,
    error: dict[str, Any],
) -> Outcome:
    from evaluation import history
    from evaluation.data import atomic_write_text

    manifest = _finish(manifest, start, "failed", error)
    target = run_dir(root, job.run_key)
    target.mkdir(parents=True, exist_ok=True)
    executed = staging / "notebook.ipynb"
    if executed.exists():
        _fsync(executed)
        os.replace(executed, target / "failed.ipynb")
    atomic_write_text(
        target / "failed.json", json.dumps(manifest, indent=2, ensure_ascii=False, default=str)
    )
    history.record_run(manifest, db=root.history)
    return Outcome(job.run_key, "failed", manifest["duration_s"], error, target, manifest)


def _redirect_stderr(log_file: Path) -> tuple[int, Any]:
    """Send this process's (and so the kernel's) stderr to the run's log file."""
    import sys

    log_file.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    handle = open(log_file, "w", encoding="utf-8")  # noqa: SIM115 - closed in _restore_stderr
    os.dup2(handle.fileno(), 2)
    return saved, handle


def _restore_stderr(log: tuple[int, Any]) -> None:
    import sys

    saved, handle = log
    sys.stderr.flush()
    os.dup2(saved, 2)
    os.close(saved)
    handle.close()


def _read_figures(staging: Path) -> list[dict[str, Any]]:
    file = staging / FIGURES_FILE
    if not file.exists():
        return []
    return json.loads(file.read_text(encoding="utf-8"))


def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())
