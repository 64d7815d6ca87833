"""Runs on workers that share no disk with the workspace: a bundle out, a result back.

A Dask worker on another machine sees neither ``data/`` nor ``reports/``. The submitting
process therefore packs what one run reads into a :class:`Bundle` – the notebook, the data
snapshot the run was fingerprinted on (pseudonymised; the key never leaves), consistent
copies of the results history (figures of earlier runs) and of the release store (what is
already published, for the disclosure audit), the agency's texts and parameter files – and
the worker executes the run in a private temporary workspace built from it
(:func:`run_bundle`). What comes back is a :class:`Result`: the staged files (executed
notebook, report, formats, manifest, figures), the run's staged release cells and, for a
failed run, its error.

Only the submitting process publishes (:func:`publish_result`): under the run's lock it
writes the files into its own staging folder, stages the release cells in the real store
and goes through the same commit point as a local run (:func:`evaluation.execute.publish`):
the figures the run read must still be current, and the final release audit checks the
run's tables against everything published *now*. Two runs executed at the same time on two
workers did not see each other's tables; if together they would disclose something, the
second commit is refused and the run is executed again against the newer store
(optimistic concurrency, :func:`execute_remote`), so the store keeps one writer and the
release stays protected as a whole.

The worker must run the same code as the submitter: a bundle carries the package's source
fingerprint and a worker with other code refuses it in one line.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from evaluation.execute import (
    JOB_FILE,
    Job,
    Outcome,
    Rendered,
    conclude,
    open_staging,
    run_and_render,
    under_lock,
)
from evaluation.paths import Paths, paths

ATTEMPTS = 3
"""How often a run is executed when its commit is refused because the release changed."""

_FOLDERS = ("texte", "params")
"""Workspace folders a notebook may read besides the snapshot (small text files)."""


class WorkerMismatch(RuntimeError):
    """The worker's package differs from the submitter's; ``message`` is one line."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Bundle:
    """Everything one run reads, as bytes keyed by workspace-relative path."""

    job: Job
    files: dict[str, bytes]
    source_fingerprint: str

    @property
    def size(self) -> int:
        """Bytes carried."""
        return sum(len(b) for b in self.files.values())


@dataclass
class Result:
    """What a worker sends back: staged files, the run's release rows, the error if any."""

    job: Job
    manifest: dict[str, Any]
    duration_s: float
    files: dict[str, bytes] = field(default_factory=dict)
    release_rows: dict[str, list[tuple]] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    rendered: dict[str, Any] | None = None


def _sqlite_bytes(path: Path) -> bytes | None:
    """A consistent copy of a SQLite database (readers and writers may be active)."""
    if not path.exists():
        return None
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=120) as source:
        copy = sqlite3.connect(":memory:")
        try:
            source.backup(copy)
            return copy.serialize()
        finally:
            copy.close()


def _folder_files(folder: Path, base: Path) -> dict[str, bytes]:
    if not folder.is_dir():
        return {}
    return {
        f.relative_to(base).as_posix(): f.read_bytes()
        for f in sorted(folder.rglob("*"))
        if f.is_file() and not f.name.startswith(".")
    }


def pack(job: Job) -> Bundle:
    """The bundle of ``job``, read from its workspace ``job.root`` (in this process).

    Raises
    ------
    OSError
        A file of the run cannot be read (the message names it).
    """
    from evaluation import provenance
    from evaluation.protection.release import store_path

    root = paths(job.root)
    snapshot = job.manifest["data"]["snapshot_id"]
    files = {f"notebooks/{job.notebook.name}": job.notebook.read_bytes()}
    files.update(_folder_files(root.snapshots / snapshot, root.root))
    files["data/snapshots/LATEST"] = (snapshot + "\n").encode()
    for folder in _FOLDERS:
        files.update(_folder_files(root.root / folder, root.root))
    for database in (root.history, store_path(root)):
        content = _sqlite_bytes(database)
        if content is not None:
            files[database.relative_to(root.root).as_posix()] = content
    return Bundle(job, files, provenance.source_fingerprint())


def run_bundle(bundle: Bundle, warm: bool = True) -> Result:
    """The worker's task: execute and render the run in a temporary workspace.

    Never raises for a failing run (the result carries the error); raises
    :class:`WorkerMismatch` when the worker's code differs from the submitter's.
    """
    from evaluation import engines, provenance
    from evaluation.protection.release import export_run

    mine = provenance.source_fingerprint()
    if mine != bundle.source_fingerprint:
        raise WorkerMismatch(
            f"worker has evaluation source {mine}, the submitter {bundle.source_fingerprint}: "
            "install the same version of the package on every worker"
        )
    engines.use_warm_kernels(warm)
    base = Path(tempfile.mkdtemp(prefix="evaluation-run-"))
    try:
        for name, content in bundle.files.items():
            target = base / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        root = paths(base)
        job = replace(bundle.job, root=base, notebook=base / "notebooks" / bundle.job.notebook.name)
        staging = open_staging(root, job)
        manifest, start, error, made = run_and_render(job, root, staging)
        rendered = (
            None
            if made is None
            else {
                "figures": made.figures,
                "formats": made.formats,
                "manifest_name": made.manifest_name,
            }
        )
        return Result(
            job=bundle.job,
            manifest=manifest,
            duration_s=round(time.perf_counter() - start, 2),
            files={
                name: content
                for name, content in _folder_files(staging, staging).items()
                if name != JOB_FILE
            },
            release_rows=export_run(job.run_id, root),
            error=error,
            rendered=rendered,
        )
    finally:
        shutil.rmtree(base, ignore_errors=True)


def publish_result(
    result: Result, root: Paths | None = None, *, retry_refused: bool = False
) -> Outcome:
    """Publish (or record the failure of) a run a worker executed, in this workspace.

    The caller holds the run's lock (:func:`execute_remote` does). Goes through the same
    commit point as a local run. With ``retry_refused``, a run the final release audit
    refuses is only discarded (nothing recorded; its outcome's ``error`` has ``refused``),
    so that the caller can execute it again.
    """
    from evaluation.protection.release import import_run

    job = result.job
    root = root or paths(job.root)
    staging = open_staging(root, job)
    for name, content in result.files.items():
        target = staging / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    start = time.perf_counter() - result.duration_s
    rendered = None
    error = result.error
    if error is None and result.rendered is not None:
        rendered = Rendered(
            manifest=result.manifest,
            figures=result.rendered["figures"],
            formats=list(result.rendered["formats"]),
            manifest_name=result.rendered["manifest_name"],
        )
        import_run(job.run_id, result.release_rows, root)
    return conclude(
        job,
        root,
        staging,
        dict(result.manifest),
        start,
        error,
        rendered,
        abandon_refused=retry_refused,
    )


def execute_remote(
    job: Job, submit: Callable[[Bundle], Result], *, attempts: int = ATTEMPTS
) -> Outcome:
    """Execute ``job`` through ``submit`` (a bundle to a worker, its result back) and
    publish it here, under the run's lock; never raises for a failing run.

    A commit refused by the final release audit (another run published meanwhile) is
    retried with a new bundle, at most ``attempts`` times in all.
    """

    def body(job: Job, root: Paths) -> Outcome:
        outcome = Outcome(job.run_key, "failed")
        for attempt in range(1, attempts + 1):
            current = job if attempt == 1 else _again(job)
            last = attempt == attempts
            outcome = publish_result(submit(pack(current)), root, retry_refused=not last)
            if not (outcome.error or {}).get("refused"):
                return outcome
        return outcome

    return under_lock(job, body)


def _again(job: Job) -> Job:
    """The job under a fresh run id, for a repeated attempt (the refused one was discarded)."""
    from evaluation.runner import new_run_id

    run_id = new_run_id()
    return replace(job, run_id=run_id, manifest={**job.manifest, "run_id": run_id})


__all__ = [
    "ATTEMPTS",
    "Bundle",
    "Result",
    "WorkerMismatch",
    "execute_remote",
    "pack",
    "publish_result",
    "run_bundle",
]
