"""Execute one run in a worker process: papermill, HTML export, and the one commit point.

Everything a run writes goes to a private staging folder first, ``data/.state/staging/<run
id>/`` – outside the published tree ``reports/``, because it holds the figures the notebook
recorded before disclosure control removed small values. :func:`publish` is the only place
where a run becomes visible. It works in two phases:

1. **Prepare** (nothing visible yet): render the report, write the final manifest into
   staging, check that the figures the run read are still the ones in the history, let the
   disclosure-control hook verify the release, stage the figures in the history (a table
   nobody reads) and check that the target folder is writable.
2. **Commit**: write a commit record to ``data/.state/commits/``. From this moment the run
   *will* be published: :func:`roll_forward` moves the files into ``reports/<run key>/``
   (manifest last), activates the staged figures together with the run's row in the history
   (one SQLite transaction) and removes the record and the staging folder.

A crash before the commit record leaves staging only; a crash after it leaves the record.
The next invocation calls :func:`recover`, which removes the first (and the staged figures)
and completes the second, so files, manifest and history figures of a run are visible
together or not at all. Every step is idempotent. ``EVALUATION_FAILPOINT=<step>`` kills the
whole process group right after that step (see :data:`STEPS`); the tests use it to crash
between every two steps.

Runs are serialised per run key with a lock file, so two overlapping invocations never
execute the same run at once; the second one reports it as running elsewhere. A failed run
publishes its executed notebook (with papermill's error banner) as ``failed.ipynb`` beside
the last successful report, which stays.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evaluation.paths import Paths

ENV_RUN_ID = "EVALUATION_RUN_ID"
ENV_RUN_DIR = "EVALUATION_RUN_DIR"
ENV_REPORT_MODE = "EVALUATION_REPORT_MODE"
ENV_FAILPOINT = "EVALUATION_FAILPOINT"
FIGURES_FILE = "figures.json"
PUBLISHED = ("notebook.ipynb", "report.html")
JOB_FILE = ".job.json"
ADHOC_MANIFEST = "run.json"
STEPS = ("rendered", "staged", "journal", "files", "manifest", "history")
"""Publishing steps, in order; a failpoint after each one is tested."""


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
    inputs_digest: str | None = None
    adhoc: bool = False


@dataclass
class Outcome:
    """What happened to a run.

    ``status`` is ``ok``, ``failed``, ``skipped`` (up to date), ``locked`` (running in
    another process), ``stale`` (the figures it read changed while it ran; nothing
    published) or ``deferred`` (its inputs are running elsewhere; left for the next call).
    """

    run_key: str
    status: str
    duration_s: float = 0.0
    error: dict[str, Any] | None = None
    output_dir: Path | None = None
    manifest: dict[str, Any] = field(default_factory=dict)


class CommitRefused(Exception):
    """The release check refused a run; ``message`` is one line."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StaleInputs(Exception):
    """The figures a run read changed in the history while it ran.

    For a project-level run (the Träger overview), which reads other workspaces: an
    agency republished a report it reads, or the figures that report shows are no longer
    those in the agency's history (:func:`stale_agencies`).
    """


#: Manifest key of what a project-level run read from the agencies (:func:`agency_inputs`).
AGENCY_INPUTS = "agency_inputs"
#: Manifest key of the reports a project-level run found not current and showed nothing of
#: (``{agency id: {run key: run id}}``): published, but no longer matching the figures
#: they were published from (:func:`report_matches_figures`). The Träger overview writes
#: it into its staging folder (:data:`NOT_CURRENT_FILE`); :func:`render` copies it here.
AGENCIES_NOT_CURRENT = "agencies_not_current"
NOT_CURRENT_FILE = "agencies_not_current.json"


def agency_inputs(
    project: Paths, reads: Mapping[str, Iterable[str]]
) -> dict[str, dict[str, str | None]]:
    """The reports a project-level run reads in the agencies, as published now.

    Parameters
    ----------
    project
        The project's workspace (the agencies are ``project.agencies/<id>``).
    reads
        Per agency id, the run keys of the reports the run reads there (the Träger
        overview: the annual report of its year).

    Returns
    -------
    dict
        Per agency, each run key with the run id published for it (``None`` when none is).
        The runner records this in the run's manifest (:data:`AGENCY_INPUTS`) when it
        finalises the run, and :func:`publish` compares it again (:func:`stale_agencies`).
    """
    out: dict[str, dict[str, str | None]] = {}
    for agency_id, run_keys in sorted(reads.items()):
        ws = project.agency(agency_id)
        out[agency_id] = {}
        for run_key in sorted(set(run_keys)):
            manifest = published_manifest(ws, run_key)
            out[agency_id][run_key] = None if manifest is None else str(manifest["run_id"])
    return out


def published_manifest(ws: Paths, run_key: str) -> dict[str, Any] | None:
    """The manifest of the run published for ``run_key`` in ``ws`` – status ``ok`` with a
    run id – or ``None`` (nothing published, a failed run's record, an unreadable file)."""
    manifest = _read_json_file(run_dir(ws, run_key) / "manifest.json")
    ok = manifest.get("status") == "ok" and manifest.get("run_id") is not None
    return manifest if ok else None


def report_matches_figures(ws: Paths, agency_id: str, manifest: Mapping[str, Any]) -> bool:
    """Whether a published report still shows the figures in its agency's history.

    The report's manifest holds the digest of the figures it read when it was published
    (``inputs_digest`` over its ``depends_on``, :func:`evaluation.history.figures_digest`);
    it matches when that is still the digest of those runs' figures. A report that reads
    no figures of other runs always matches. One history read.

    Parameters
    ----------
    ws
        The agency's workspace.
    agency_id
        Its id (``""`` for the single-agency layout); ``depends_on`` names runs by
        ``<agency id>:<run key>``.
    manifest
        The report's published manifest.
    """
    from evaluation import history

    digest, depends_on = manifest.get("inputs_digest"), manifest.get("depends_on")
    if not isinstance(digest, str) or not isinstance(depends_on, dict):
        return True
    prefix = f"{agency_id}:" if agency_id else ""
    keys = sorted(k.removeprefix(prefix) for k in depends_on)
    return history.figures_digest(keys, db=ws.history) == digest


def stale_agencies(
    project: Paths,
    recorded: Mapping[str, Mapping[str, str | None]],
    not_current: Mapping[str, Mapping[str, str | None]] | None = None,
    *,
    figures: bool = True,
) -> list[str]:
    """The agencies whose reports changed since ``recorded`` (:func:`agency_inputs`), each
    with the reason, so that what a project-level run shows of them is no longer what
    their own reports show.

    Parameters
    ----------
    project
        The project's workspace.
    recorded
        Per agency, the run id of each report the run reads, as published when the runner
        finalised it (:data:`AGENCY_INPUTS`).
    not_current
        The reports the run found not current and showed nothing of
        (:data:`AGENCIES_NOT_CURRENT`); ``None``: it showed every published report.
    figures
        Also compare the reports with the figures in the histories (one history read per
        agency). Without, only republished reports count (before a run executes: the
        run itself finds a report not current and shows nothing of it).

    Returns
    -------
    list of str
        ``"<agency> (<reason>)"``: a report republished, withdrawn or newly published; a
        report shown whose figures are no longer the history's
        (:func:`report_matches_figures`), so a project-level run never publishes a figure
        that the agency's own report does not show; or a report found not current that
        matches its figures again (the run would show it now: it is run again rather than
        published incomplete).
    """
    now = agency_inputs(project, recorded)
    skipped = not_current or {}
    out: list[str] = []
    for agency_id, reports in sorted(recorded.items()):
        excluded = dict(skipped.get(agency_id) or {})
        if now.get(agency_id) != dict(reports) or any(
            reports.get(k) != v for k, v in excluded.items()
        ):
            out.append(f"{agency_id} (report republished)")
            continue
        if not figures:
            continue
        ws = project.agency(agency_id)
        for run_key, run_id in sorted(reports.items()):
            if run_id is None:
                continue
            manifest = _read_json_file(run_dir(ws, run_key) / "manifest.json")
            matches = report_matches_figures(ws, agency_id, manifest)
            if run_key in excluded and matches:
                out.append(f"{agency_id} ({run_key} current again)")
                break
            if run_key not in excluded and not matches:
                out.append(f"{agency_id} (figures of {run_key} changed)")
                break
    return out


def _read_json_file(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def run_dir(root: Paths, run_key: str) -> Path:
    """Published folder of a run."""
    return root.reports / run_key


def _safe(run_key: str) -> str:
    return run_key.replace("/", "__")


def lock_path(root: Paths, run_key: str) -> Path:
    """The lock file held while ``run_key`` executes or is published."""
    return root.locks / (_safe(run_key) + ".lock")


def journal_path(root: Paths, run_key: str, run_id: str) -> Path:
    """Commit record of one run: present while the run is being published."""
    return root.journal / f"{_safe(run_key)}@{run_id}.json"


def pending_commits(root: Paths, run_key: str | None = None) -> list[Path]:
    """Commit records that were not completed (all, or those of one run key)."""
    if not root.journal.is_dir():
        return []
    pattern = f"{_safe(run_key)}@*.json" if run_key else "*@*.json"
    return sorted(root.journal.glob(pattern))


def is_current(
    root: Paths, run_key: str, fingerprint: str, published: set[str] | None = None
) -> bool:
    """Whether the published report of ``run_key`` was made from exactly these inputs.

    With ``published`` (the run ids recorded as published in the history), a report whose
    run the history does not know is not current either: its figures are not in the history.
    """
    folder = run_dir(root, run_key)
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    if manifest.get("fingerprint") != fingerprint or manifest.get("status") != "ok":
        return False
    if published is not None and manifest.get("run_id") not in published:
        return False
    if (folder / "failed.json").exists() or pending_commits(root, run_key):
        return False
    return all((folder / name).exists() for name in PUBLISHED)


def describe_error(exc: BaseException) -> str:
    """One line for an exception: the file and the cause for OS errors, else type and text."""
    if isinstance(exc, OSError):
        name = exc.filename or ""
        cause = exc.strerror or str(exc)
        if exc.errno == errno.ENOSPC:
            cause = "no space left on device"
        elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            cause = f"not writable ({exc.strerror})"
        return f"{name}: {cause}" if name else cause
    message = getattr(exc, "message", None)
    if isinstance(message, str) and message:
        return message
    return f"{type(exc).__name__}: {str(exc)[:300]}"


def _failpoint(step: str) -> None:
    if os.environ.get(ENV_FAILPOINT) == step:
        os.killpg(os.getpgrp(), signal.SIGKILL)


def _hook(name: str):
    """The disclosure-control release hook ``name``, or ``None`` when it does not exist."""
    try:
        from evaluation.protection import release  # type: ignore[import-not-found]
    except ImportError:
        return None
    return getattr(release, name, None)


def release_key(job: Job) -> str:
    """The run's name in the release store: its run key; an ad-hoc run is a release of its
    own (it replaces nothing the scheduled run published)."""
    return f"adhoc/{job.run_key}/{job.run_id}" if job.adhoc else job.run_key


def _discard_hook(run_key: str, run_id: str, root: Paths | None = None) -> None:
    discard = _hook("discard_run")
    if discard is not None:
        discard(run_key=run_key, run_id=run_id, root=root)


def execute(job: Job) -> Outcome:
    """Run one job under its lock; never raises for a failing notebook."""
    return under_lock(job, _execute_locked)


def under_lock(job: Job, body: Callable[[Job, Paths], Outcome]) -> Outcome:
    """``body(job, root)`` while holding the run key's lock, unless the run is up to date
    (``skipped``) or held by another process (``locked``)."""
    from filelock import FileLock, Timeout

    from evaluation import history
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
        if (
            not job.force
            and not job.adhoc
            and is_current(
                root,
                job.run_key,
                job.manifest["fingerprint"],
                history.published_run_ids(db=root.history),
            )
        ):
            return Outcome(job.run_key, "skipped", output_dir=run_dir(root, job.run_key))
        recorded = job.manifest.get(AGENCY_INPUTS)
        # a project-level run whose inputs were republished since the runner finalised it:
        # publish would refuse it, so it is not executed (the runner tries again, then
        # defers). A report out of date with its figures is no reason: the run shows
        # nothing of it (AGENCIES_NOT_CURRENT), and publish checks that again.
        changed = stale_agencies(root, recorded, figures=False) if recorded else []
        if changed:
            return Outcome(
                job.run_key,
                "stale",
                error={
                    "summary": f"{job.run_key}: what it reads is not current in "
                    f"{', '.join(changed)}; not run"
                },
            )
        return body(job, root)
    finally:
        lock.release()


def _execute_locked(job: Job, root: Paths) -> Outcome:
    staging = open_staging(root, job)
    return conclude(job, root, staging, *run_and_render(job, root, staging))


def run_and_render(
    job: Job, root: Paths, staging: Path
) -> tuple[dict[str, Any], float, dict[str, Any] | None, Rendered | None]:
    """:func:`run_notebook`, then :func:`render` if it succeeded: ``(manifest, start, error,
    rendered)``, the arguments of :func:`conclude` after the job, workspace and staging."""
    manifest, start, error = run_notebook(job, root, staging)
    rendered = None
    if error is None:
        try:
            rendered = render(job, staging, manifest, start)
            manifest = rendered.manifest
        except Exception as exc:
            error = _error(job, exc, "report not published: ")
    return manifest, start, error, rendered


def open_staging(root: Paths, job: Job) -> Path:
    """The run's private staging folder, created and tagged with its run key."""
    staging = root.staging / job.run_id
    staging.mkdir(parents=True, exist_ok=True)
    (staging / JOB_FILE).write_text(
        json.dumps({"run_key": job.run_key, "run_id": job.run_id}), encoding="utf-8"
    )
    return staging


def run_notebook(
    job: Job, root: Paths, staging: Path
) -> tuple[dict[str, Any], float, dict[str, Any] | None]:
    """Execute the job's notebook into ``staging``: ``(manifest, start, error or None)``.

    The kernel gets the run's environment (run id, staging folder, workspace, release key);
    nothing outside ``staging`` and the release store's staged cells is written.
    """
    import papermill as pm

    executed = staging / "notebook.ipynb"
    manifest = dict(job.manifest)
    manifest["started_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    start = time.perf_counter()
    env_before = {
        k: os.environ.get(k)
        for k in (ENV_RUN_ID, ENV_RUN_DIR, ENV_REPORT_MODE, "EVALUATION_HOME", "EVALUATION_RUN_KEY")
    }
    os.environ.update(
        {
            ENV_RUN_ID: job.run_id,
            ENV_RUN_DIR: str(staging),
            ENV_REPORT_MODE: "1",
            "EVALUATION_HOME": str(root.root),
            "EVALUATION_RUN_KEY": release_key(job),  # the release audit names tables by it
        }
    )
    error = None
    log = _redirect_stderr(root.logs / (_safe(job.run_key) + ".log"))
    try:
        pm.execute_notebook(
            str(job.notebook),
            str(executed),
            parameters=job.parameters,
            kernel_name="python3",
            cwd=str(job.notebook.parent),
            progress_bar=False,
            log_output=False,
            report_mode=True,
            # unattended: write the executed notebook once at the end, not after every cell,
            # and kill the kernel at the end instead of asking it to shut down
            request_save_on_cell_execute=False,
            execution_timeout=job.cell_timeout,
            shutdown_kernel="immediate",
        )
    except pm.PapermillExecutionError as exc:
        error = {
            "cell": exc.exec_count,
            "cell_index": exc.cell_index,
            "ename": exc.ename,
            "evalue": str(exc.evalue)[:2000],
            "summary": f"{job.notebook.name}, cell {exc.exec_count}: {exc.ename}: {str(exc.evalue)[:300]}",
        }
    except Exception as exc:  # kernel died, timeout, unreadable notebook, full disk ...
        error = _error(job, exc, "")
    finally:
        _restore_stderr(log)
        for key, value in env_before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return manifest, start, error


def conclude(
    job: Job,
    root: Paths,
    staging: Path,
    manifest: dict[str, Any],
    start: float,
    error: dict[str, Any] | None,
    rendered: Rendered | None,
    *,
    abandon_refused: bool = False,
) -> Outcome:
    """Publish a rendered run (:func:`publish`) or record its failure; never raises for
    a run that cannot be published (the outcome says why in one line).

    With ``abandon_refused``, a run the final release audit refuses is discarded without
    being recorded (its outcome's ``error`` has ``refused``): the caller runs it again.
    """
    if error is None and rendered is not None:
        try:
            return publish(job, root, staging, rendered)
        except StaleInputs as exc:
            _abandon(root, job.run_key, job.run_id, staging)
            return Outcome(job.run_key, "stale", error={"summary": str(exc)})
        except Exception as exc:
            if journal_path(root, job.run_key, job.run_id).exists():
                # committed but not completed (e.g. a file could not be moved): the next
                # invocation completes it; nothing is retracted
                return Outcome(
                    job.run_key,
                    "failed",
                    error=_error(job, exc, "publishing interrupted, completed by the next run: "),
                )
            error = _error(job, exc, "report not published: ")
            if isinstance(exc, CommitRefused):
                error["refused"] = True
                if abandon_refused:
                    _abandon(root, job.run_key, job.run_id, staging)
                    return Outcome(job.run_key, "failed", error=error)
    assert error is not None
    return _fail(job, root, staging, manifest, start, error)


def _error(job: Job, exc: BaseException, prefix: str) -> dict[str, Any]:
    return {
        "cell": None,
        "ename": type(exc).__name__,
        "evalue": str(exc)[:2000],
        "summary": f"{job.notebook.name}: {prefix}{describe_error(exc)}",
        "traceback": traceback.format_exc(limit=8),
    }


def _finish(
    manifest: dict[str, Any], start: float, status: str, error: dict[str, Any] | None
) -> dict[str, Any]:
    manifest["ended_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    manifest["duration_s"] = round(time.perf_counter() - start, 2)
    manifest["status"] = status
    manifest["error"] = error
    return manifest


def target_dir(root: Paths, job: Job) -> Path:
    """Where a run is published: its run-key folder, or apart under ``reports/adhoc/``."""
    if job.adhoc:
        return root.adhoc / job.run_key / job.run_id
    return run_dir(root, job.run_key)


@dataclass
class Rendered:
    """A run rendered in its staging folder, ready to be published."""

    manifest: dict[str, Any]
    figures: list[dict[str, Any]]
    formats: list[str]
    manifest_name: str


def render(job: Job, staging: Path, manifest: dict[str, Any], start: float) -> Rendered:
    """Phase 1a of the commit, nothing visible: the report, its formats and the final
    manifest are written into ``staging``. Needs nothing of the workspace but the executed
    notebook in ``staging`` (so it also runs on a remote worker)."""
    from evaluation import report
    from evaluation.data import atomic_write_text

    figures = _read_figures(staging)
    manifest = _finish(manifest, start, "ok", None)
    if (staging / NOT_CURRENT_FILE).exists():  # written by a project-level run
        manifest[AGENCIES_NOT_CURRENT] = _read_json_file(staging / NOT_CURRENT_FILE)
    manifest["figures_recorded"] = 0 if job.adhoc else len(figures)
    rendering = time.perf_counter()
    html = report.export_html(
        staging / "notebook.ipynb",
        provenance=manifest,
        title=job.title,
        field=job.field,
        period_text=job.period_text,
        language=job.language,  # type: ignore[arg-type]
    )
    atomic_write_text(staging / "report.html", html)
    timings = {"html": time.perf_counter() - rendering}
    # PDF, DOCX and XLSX from the same rendered report (links added to its footer)
    exported = report.export_formats(
        staging / "notebook.ipynb",
        staging,
        manifest=manifest,
        language=job.language,  # type: ignore[arg-type]
        html_text=html,
        timings=timings,
    )
    formats = [path.name for path in exported.values()]
    # where the run's time went after its notebook (``duration_s``): for the reader of the
    # manifest and the benchmarks; the commit (audit, history, files) comes after this
    manifest["render_s"] = {k: round(v, 2) for k, v in timings.items()}
    manifest_name = ADHOC_MANIFEST if job.adhoc else "manifest.json"
    atomic_write_text(
        staging / manifest_name, json.dumps(manifest, indent=2, ensure_ascii=False, default=str)
    )
    _failpoint("rendered")
    return Rendered(manifest, figures, formats, manifest_name)


def publish(job: Job, root: Paths, staging: Path, rendered: Rendered) -> Outcome:
    """The one commit point of a rendered run: everything visible together or not at all.

    Phase 1b (nothing visible yet): the figures the run read are still current, the release
    passes its final audit, the figures are staged in the history, the target is writable.
    Phase 2: the commit record, then :func:`roll_forward`.

    Raises
    ------
    StaleInputs
        The figures the run read changed in the history meanwhile (nothing published).
    CommitRefused, Exception
        Before the commit record: nothing is published and the run fails with one line.
    """
    from evaluation import history
    from evaluation.data import atomic_write_text

    manifest, figures = rendered.manifest, rendered.figures
    formats, manifest_name = rendered.formats, rendered.manifest_name
    if job.depends_on and job.inputs_digest is not None:
        now = history.figures_digest(job.depends_on, db=root.history)
        if now != job.inputs_digest:
            raise StaleInputs(
                f"{job.run_key}: figures of its inputs changed in the history while it ran; "
                "not published"
            )
    recorded = job.manifest.get(AGENCY_INPUTS)
    if recorded:  # a project-level run: the reports it read in the agencies, and those it
        # found not current and showed nothing of
        changed = stale_agencies(root, recorded, manifest.get(AGENCIES_NOT_CURRENT) or {})
        if changed:
            raise StaleInputs(
                f"{job.run_key}: what it reads changed while it ran in "
                f"{', '.join(changed)}; not published"
            )
    commit_hook = _hook("commit_run")
    if commit_hook is not None:
        try:
            commit_hook(run_key=release_key(job), run_id=job.run_id, staging=staging, root=root)
        except Exception as exc:
            if isinstance(getattr(exc, "message", None), str):
                raise CommitRefused(exc.message) from exc
            raise
    if not job.adhoc:
        history.stage_figures(
            figures,
            run_id=job.run_id,
            run_key=job.run_key,
            snapshot_id=manifest["data"]["snapshot_id"],
            db=root.history,
        )
    _failpoint("staged")
    target = target_dir(root, job)
    _check_writable(target)
    for name in (*PUBLISHED, *formats, manifest_name):
        _fsync(staging / name)
    # ---- phase 2: the commit record; from here on the run is published ------------------
    record = {
        "run_key": job.run_key,
        "run_id": job.run_id,
        "staging": str(staging),
        "target": str(target),
        "adhoc": job.adhoc,
        "manifest": manifest_name,
        "formats": formats,
    }
    atomic_write_text(
        journal_path(root, job.run_key, job.run_id), json.dumps(record, ensure_ascii=False)
    )
    _failpoint("journal")
    roll_forward(root, record)
    return Outcome(job.run_key, "ok", manifest["duration_s"], None, target, manifest)


def roll_forward(root: Paths, record: dict[str, Any]) -> None:
    """Complete a committed publication; safe to repeat after a crash at any step."""
    from evaluation import history

    staging, target = Path(record["staging"]), Path(record["target"])
    manifest_name = record.get("manifest", "manifest.json")
    target.mkdir(parents=True, exist_ok=True)
    from evaluation.report import FORMAT_FILES

    formats = list(record.get("formats", []))
    for name in (*PUBLISHED, *formats):
        if (staging / name).exists():
            _move(staging / name, target / name)
    for name in FORMAT_FILES.values():  # a format this run did not write is not left over
        if name not in PUBLISHED and name not in formats:
            (target / name).unlink(missing_ok=True)
    if not record.get("adhoc"):
        for stale in ("failed.ipynb", "failed.json"):
            (target / stale).unlink(missing_ok=True)
    _failpoint("files")
    if (staging / manifest_name).exists():
        _move(staging / manifest_name, target / manifest_name)
    _failpoint("manifest")
    manifest = json.loads((target / manifest_name).read_text(encoding="utf-8"))
    if manifest.get("run_id") != record["run_id"]:
        raise RuntimeError(
            f"{target / manifest_name}: belongs to run {manifest.get('run_id')}, "
            f"not to the committed run {record['run_id']}"
        )
    if record.get("adhoc"):
        history.record_run(manifest, db=root.history)
    else:
        history.activate(manifest, db=root.history)
    _failpoint("history")
    journal_path(root, record["run_key"], record["run_id"]).unlink(missing_ok=True)
    shutil.rmtree(staging, ignore_errors=True)


def _abandon(root: Paths, run_key: str, run_id: str, staging: Path) -> None:
    """Drop an uncommitted run: its staging folder, staged figures and release."""
    from evaluation import history

    try:
        history.discard_staged(run_id, db=root.history)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        _discard_hook(run_key, run_id, root)


def recover(root: Paths, run_key: str | None = None) -> list[str]:
    """Repair what crashed runs left behind; return one line per repair.

    Completed: publications with a commit record. Removed: staging folders without one and
    figures staged in the history by runs that never committed. Runs whose lock is held
    (running in a live process) are left alone.
    """
    from filelock import FileLock, Timeout

    from evaluation import history

    done: list[str] = []

    def locked(key: str):
        lock_file = lock_path(root, key)
        lock_file.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(lock_file))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return None
        return lock

    for record_file in pending_commits(root, run_key):
        try:
            record = json.loads(record_file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            record_file.unlink(missing_ok=True)  # written atomically: cannot be partial
            continue
        lock = locked(record["run_key"])
        if lock is None:
            continue
        try:
            if (root.journal / record_file.name).exists():
                roll_forward(root, record)
                done.append(f"{record['run_key']}: interrupted publication completed")
        finally:
            lock.release()
    committed = {p.name.split("@", 1)[1][: -len(".json")] for p in pending_commits(root)}
    if root.staging.is_dir():
        for folder in sorted(root.staging.iterdir()):
            if not folder.is_dir() or folder.name in committed:
                continue
            try:
                meta = json.loads((folder / JOB_FILE).read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                meta = None
            key = meta["run_key"] if meta else None
            if run_key is not None and key != run_key:
                continue
            lock = locked(key) if key else None
            if key and lock is None:
                continue
            try:
                _abandon(root, key or "", folder.name, folder)
                done.append(f"{key or folder.name}: staging of an interrupted run removed")
            finally:
                if lock is not None:
                    lock.release()
    for run_id, key in history.staged_runs(db=root.history).items():
        if run_id in committed or (run_key is not None and key != run_key):
            continue
        lock = locked(key)
        if lock is None:
            continue
        try:
            history.discard_staged(run_id, db=root.history)
            done.append(f"{key}: figures staged by an interrupted run removed")
        finally:
            lock.release()
    return done


def _fail(
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
    target = target_dir(root, job)
    try:
        target.mkdir(parents=True, exist_ok=True)
        executed = staging / "notebook.ipynb"
        if executed.exists():
            _fsync(executed)
            _move(executed, target / "failed.ipynb")
        atomic_write_text(
            target / "failed.json", json.dumps(manifest, indent=2, ensure_ascii=False, default=str)
        )
    except OSError as exc:  # e.g. reports/ read-only: the failure is still recorded
        error["summary"] += f" (and {describe_error(exc)})"
    try:
        history.record_run(manifest, db=root.history)
    finally:
        _abandon(root, job.run_key, job.run_id, staging)
    return Outcome(job.run_key, "failed", manifest["duration_s"], error, target, manifest)


def _check_writable(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    probe = folder / f".probe-{os.getpid()}"
    with open(probe, "wb") as fh:
        fh.write(b"x")
    probe.unlink()


def _move(source: Path, target: Path) -> None:
    """Atomic rename; across file systems a copy beside the target, renamed into place."""
    try:
        os.replace(source, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        tmp = target.with_name(f".{target.name}.tmp")
        shutil.copyfile(source, tmp)
        _fsync(tmp)
        os.replace(tmp, target)
        source.unlink()


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
