"""The main job: expand the plan, skip what is unchanged, run the rest in parallel.

A run is skipped when its published manifest carries the same fingerprint, the hash of
everything that determines the report: the notebook's cells, its parameters, the data
snapshot id, the source of the ``evaluation`` package and the versions of the key
libraries. A plan with ``after:`` reads other plans' figures from the history; its
fingerprint also covers those figures (values, n, intervals and suppression), computed only
when the runs it reads have ended, so it never stays "up to date" on figures that changed.
``plan`` and ``run`` decide with the same function (:func:`assess`).

With several agencies (:mod:`evaluation.agencies`) one call covers the runs of every selected
agency: each run's job has its agency's workspace as root (its data, reports, history,
release store and runner state), runs are told apart by ``Run.uid`` (``<agency>:<key>``),
and an ``after:`` plan depends only on the runs of the same agency (and the same matrix
cell). Deciding what is up to date is linear in the number of runs: the plan files and
notebooks are read once, dependencies are looked up in an index, and a snapshot's files
are hashed again only when their ``stat`` changed since the last verification.

Every run executes in a worker process of its own pool slot; a worker that dies fails only
its own run (the slot gets a new process), and the summary and the index are written
whatever happened. Deciding what to do needs no kernel and no heavy import, so a call with
nothing to do takes well under two seconds.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from difflib import get_close_matches
from multiprocessing import connection, get_context
from pathlib import Path
from typing import Any, TextIO

from evaluation import __version__, data, history, nbparams, provenance
from evaluation import execute as ex
from evaluation.agencies import Agency
from evaluation.execute import Job, Outcome
from evaluation.paths import Paths, paths
from evaluation.plan import RUNNER_PARAMETERS, PlanError, Run, load_plan

log = logging.getLogger("evaluation.runner")
LOG_FORMAT = "%(asctime)s %(levelname)-7s %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
KEEP_LOGS = 100


class SelectionError(PlanError):
    """``--only``, ``--period`` or ``-p`` names something that does not exist (exit 2)."""


class WorkspaceError(RuntimeError):
    """The workspace cannot be written (e.g. a read-only ``reports/``); one line."""


@dataclass
class Summary:
    """What a call of :func:`run_plan` did."""

    planned: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)

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


@functools.lru_cache(maxsize=4096)
def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)


# ---- logging ----------------------------------------------------------------------------


def configure_logging(
    *, verbosity: int = 0, log_dir: Path | None = None, stream: TextIO | None = None
) -> Path | None:
    """Console logging with timestamps and levels, plus a log file for this invocation.

    Parameters
    ----------
    verbosity
        ``-1`` quiet (warnings and errors), ``0`` normal, ``1`` verbose (debug).
    log_dir
        Folder for ``run-<time>-<pid>.log`` (all levels); none when omitted or not writable.
    stream
        Console stream (default: standard error).

    Returns
    -------
    Path or None
        The log file.
    """
    level = {-1: logging.WARNING, 0: logging.INFO}.get(verbosity, logging.DEBUG)
    logger = logging.getLogger("evaluation")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    console = logging.StreamHandler(stream or sys.stderr)
    console.setLevel(level)
    console.setFormatter(logging.Formatter(LOG_FORMAT, DATE_FORMAT))
    logger.addHandler(console)
    if log_dir is None:
        return None
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        file = log_dir / f"run-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{os.getpid()}.log"
        handler = logging.FileHandler(file, encoding="utf-8")
    except OSError as exc:
        logger.warning("no log file: %s", ex.describe_error(exc))
        return None
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter(LOG_FORMAT, DATE_FORMAT))
    logger.addHandler(handler)
    for old in sorted(log_dir.glob("run-*.log"))[:-KEEP_LOGS]:
        old.unlink(missing_ok=True)
    return file


class _OutHandler:
    """Context manager: copy the runner's log lines to ``out`` (used by tests and callers)."""

    def __init__(self, out: TextIO | None) -> None:
        self.handler = None
        if out is not None:
            self.handler = logging.StreamHandler(out)
            self.handler.setFormatter(logging.Formatter(LOG_FORMAT, DATE_FORMAT))
            self.handler.setLevel(logging.INFO)

    def __enter__(self) -> None:
        if self.handler is not None:
            logger = logging.getLogger("evaluation")
            logger.setLevel(logging.DEBUG)
            logger.addHandler(self.handler)

    def __exit__(self, *exc: object) -> None:
        if self.handler is not None:
            logging.getLogger("evaluation").removeHandler(self.handler)


# ---- preparing jobs ---------------------------------------------------------------------


VERIFIED_FILE = "verified.json"
#: ``data.snapshot_id`` of a project-level run: it reads the agencies' released figures.
PROJECT_DATA = "agencies"


def _stat_key(path: Path) -> list[int]:
    """What changes when a file's bytes change: size, inode, modification and change time.

    The change time (``st_ctime_ns``) cannot be set back from user space, so a file that was
    rewritten, replaced or touched never matches its old key.
    """
    st = path.stat()
    return [st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns]


class _Snapshots:
    """Snapshot facts resolved and verified once per invocation (per workspace).

    Verifying hashes every table file of a snapshot; a snapshot whose files' ``stat``
    (:func:`_stat_key`) is what it was at its last successful verification is not hashed
    again (``data/.state/verified.json``), so a no-op call over many agencies reads no
    Parquet file, while any write to a snapshot file is noticed.
    """

    def __init__(self, root: Paths) -> None:
        self.root = root
        self.infos: dict[str, data.SnapshotInfo] = {}
        self.verified: set[str] = set()
        self.manifest_sha: dict[str, str] = {}

    def info(self, requested: str) -> data.SnapshotInfo:
        if requested not in self.infos:
            self.infos[requested] = data.snapshot_info(requested, root=self.root)
        return self.infos[requested]

    def manifest_sha256(self, info: data.SnapshotInfo) -> str:
        if info.id not in self.manifest_sha:
            self.manifest_sha[info.id] = provenance.file_sha256(info.path / data.MANIFEST)
        return self.manifest_sha[info.id]

    def _stats(self, info: data.SnapshotInfo) -> dict[str, list[int]] | None:
        try:
            files = [info.path / data.MANIFEST] + [
                info.path / f"{name}.parquet" for name in sorted(info.manifest.get("tables", {}))
            ]
            return {f.name: _stat_key(f) for f in files}
        except OSError:
            return None  # a missing file: verify_snapshot names it

    def verify(self, info: data.SnapshotInfo) -> None:
        if info.id in self.verified:
            return
        import json

        cache_file = self.root.state / VERIFIED_FILE
        stats = self._stats(info)
        try:
            cache = json.loads(cache_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            cache = {}
        if stats is not None and isinstance(cache, dict) and cache.get(info.id) == stats:
            unverified = [
                name
                for name, entry in sorted(info.manifest.get("tables", {}).items())
                if not (isinstance(entry, dict) and entry.get("sha256"))
            ]
        else:
            unverified = data.verify_snapshot(info)
            if stats is not None and not unverified:
                cache = {
                    k: v
                    for k, v in (cache if isinstance(cache, dict) else {}).items()
                    if (self.root.snapshots / k).is_dir()  # deleted snapshots drop out
                }
                cache[info.id] = stats
                with contextlib.suppress(OSError):
                    data.atomic_write_text(cache_file, json.dumps(cache))
        if unverified:
            log.warning(
                "snapshot %s: no file hashes in its manifest for %s; its files cannot be "
                "verified (ingest the data again to add them)",
                info.id,
                ", ".join(unverified),
            )
        self.verified.add(info.id)


def prepare(
    run: Run,
    root: Paths,
    *,
    env: dict[str, Any],
    snapshots: _Snapshots | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Job:
    """Resolve the data snapshot, fingerprint the run and build its job and manifest."""
    from evaluation.report import period_text

    snapshots = snapshots or _Snapshots(root)
    declared = _inspect(run.notebook)
    params = dict(run.parameters)
    requested = str(params.get("snapshot", data.LATEST))
    # a project-level run (the Träger overview) has no data of its own: it reads the
    # agencies' released figures, which its dependencies' fingerprints cover
    info = None if run.scope == "project" else snapshots.info(requested)
    if "snapshot" in declared and info is not None:
        params["snapshot"] = info.id
    notebook_sha = _notebook_sha256(run.notebook)
    language = str(params.get("language", "de"))
    from evaluation import texts

    fp = provenance.fingerprint(
        notebook=notebook_sha,
        parameters=params,
        snapshot=info.id if info is not None else None,
        source=env["source_fingerprint"],
        versions=env["versions"],
        title=[run.title, run.title_en, run.field],
        **texts.run_inputs(root, params, declared),  # the agency's texts and targets it reads
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
        "params_file": _relative(run.source, root.project_root),
        "agency": run.agency,
        "parameters": params,
        "notebook": {"path": _relative(run.notebook, root.project_root), "sha256": notebook_sha},
        "data": (
            {
                "snapshot_id": info.id,
                "requested": requested,
                "source": info.source,
                "manifest_sha256": snapshots.manifest_sha256(info),
            }
            if info is not None
            else {
                "snapshot_id": PROJECT_DATA,
                "requested": None,
                "source": "agencies",
                # the report footer shows a hash here: the agencies the run reads
                "manifest_sha256": provenance.fingerprint(agencies=params.get("agencies", "")),
            }
        ),
        "code": {
            "evaluation_version": __version__,
            "source_fingerprint": env["source_fingerprint"],
            "git": env["git"],
        },
        "environment": env["versions"],
        "fingerprint": fp,
    }
    if overrides:
        manifest["overrides"] = dict(overrides)
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
        adhoc=bool(overrides),
    )


_FILE_CACHE: dict[tuple[str, Path], tuple[list[int], Any]] = {}


def _cached(kind: str, path: Path, compute: Callable[[Path], Any]) -> Any:
    """``compute(path)``, again only when the file's stat changed (notebooks read once)."""
    key = _stat_key(path)
    hit = _FILE_CACHE.get((kind, path))
    if hit is not None and hit[0] == key:
        return hit[1]
    value = compute(path)
    _FILE_CACHE[(kind, path)] = (key, value)
    return value


def _inspect(notebook: Path) -> dict[str, nbparams.Parameter]:
    return _cached("params", notebook, nbparams.inspect)


def _notebook_sha256(notebook: Path) -> str:
    return _cached("sha", notebook, provenance.notebook_sha256)


def environment(root: Paths) -> dict[str, Any]:
    """Code and environment facts shared by every run of one invocation."""
    return {
        "source_fingerprint": provenance.source_fingerprint(),
        "git": provenance.git_state(root.project_root),
        "versions": provenance.package_versions(),
    }


def _depends(run: Run, d: Run) -> bool:
    if run.scope == "project":  # the same period of every agency
        return d.plan in run.after and d.period == run.period
    return (
        d.plan in run.after
        and d.period.end <= run.period.end
        and d.agency == run.agency
        and all(d.matrix[k] == v for k, v in run.matrix.items() if k in d.matrix)
    )


def dependencies(run: Run, all_runs: Sequence[Run]) -> list[Run]:
    """The runs whose figures ``run`` reads: its ``after`` plans, this and earlier periods.

    Only runs of the same agency count (a run at project level, ``scope: project``, reads
    those of the same period of every agency in the plan); when both carry a matrix value of the same name
    (e.g. ``project``), only the runs of the same value count.
    """
    if not run.after:
        return []
    return [d for d in all_runs if _depends(run, d)]


class _DependencyIndex:
    """:func:`dependencies` for many runs in linear time: runs indexed by agency and plan."""

    def __init__(self, all_runs: Sequence[Run]) -> None:
        self.by_plan: dict[tuple[str, str], list[Run]] = {}
        self.by_plan_any: dict[str, list[Run]] = {}
        for r in all_runs:
            self.by_plan.setdefault((r.agency, r.plan), []).append(r)
            self.by_plan_any.setdefault(r.plan, []).append(r)

    def of(self, run: Run) -> list[Run]:
        out: list[Run] = []
        for plan in run.after:
            candidates = (
                self.by_plan_any.get(plan, [])
                if run.scope == "project"
                else self.by_plan.get((run.agency, plan), [])
            )
            out.extend(d for d in candidates if _depends(run, d))
        return out


# ---- selection and overrides ------------------------------------------------------------


def _suggest(word: str, choices: Sequence[str]) -> str:
    close = get_close_matches(word, choices, n=1)
    return f" – did you mean {close[0]!r}?" if close else ""


def select(runs: list[Run], only: Sequence[str] | None, period: Sequence[str] | None) -> list[Run]:
    """The runs chosen by ``--only`` (plan or run-key prefix) and ``--period`` (label).

    Raises
    ------
    SelectionError
        A name matches nothing; the message lists what exists.
    """
    plans = sorted({r.plan for r in runs})
    for name in only or ():
        if any(r.plan == name or r.key.startswith(name) or r.uid.startswith(name) for r in runs):
            continue
        if ":" in name:  # <agency>:<key> of a run of another agency
            raise SelectionError(
                f"--only {name}: kein Lauf der gewählten Agenturen hat diese Kennung "
                "(Form: <agentur>:<plan>/<zeitplan>/<zeitraum>)"
            )
        parts = name.split("/")
        if parts[0] not in plans:
            raise SelectionError(
                f"--only {name}: no plan {parts[0]!r}{_suggest(parts[0], plans)} "
                f"(plans: {', '.join(plans)})"
            )
        schedules = sorted({r.schedule for r in runs if r.plan == parts[0]})
        if len(parts) > 1 and parts[1] not in schedules:
            raise SelectionError(
                f"--only {name}: plan {parts[0]!r} has no schedule {parts[1]!r}"
                f"{_suggest(parts[1], schedules)} (schedules: {', '.join(schedules)})"
            )
        labels = sorted(
            {r.period.label for r in runs if r.plan == parts[0] and r.schedule == parts[1]}
        )
        raise SelectionError(
            f"--only {name}: no such run; {parts[0]}/{parts[1]} has the periods "
            f"{', '.join(labels) or 'none (none is complete yet)'}"
        )
    if only:
        runs = [
            r
            for r in runs
            if r.plan in only or r.key.startswith(tuple(only)) or r.uid.startswith(tuple(only))
        ]
    labels = sorted({r.period.label for r in runs})
    for label in period or ():
        if label not in labels:
            raise SelectionError(
                f"--period {label}: no run of the selected plans has this period"
                f"{_suggest(label, labels)} (periods: {', '.join(labels) or 'none'})"
            )
    if period:
        runs = [r for r in runs if r.period.label in period]
    return runs


def parse_overrides(pairs: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs of ``run -p``; values are read as YAML scalars (10, true, text).

    Raises
    ------
    SelectionError
        A pair without ``=`` or a parameter the runner sets itself.
    """
    import yaml

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise SelectionError(f"-p {pair}: expected KEY=VALUE, e.g. -p suppression_threshold=10")
        if key in RUNNER_PARAMETERS:
            raise SelectionError(
                f"-p {key}: set by the schedule's periods; choose --period instead"
            )
        try:
            out[key] = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError:
            out[key] = text
    return out


def apply_overrides(runs: Sequence[Run], overrides: Mapping[str, Any]) -> list[Run]:
    """The runs with ``overrides`` applied, each checked against its notebook's parameters.

    Raises
    ------
    SelectionError
        An unknown parameter or a value of the wrong type, naming notebook and parameter.
    """
    out = []
    for run in runs:
        declared = _inspect(run.notebook)
        params = dict(run.parameters)
        for key, value in overrides.items():
            if key not in declared:
                raise SelectionError(
                    f"-p {key}: unknown parameter of {run.notebook.name}"
                    f"{_suggest(key, list(declared))} (it has: {', '.join(sorted(declared))})"
                )
            problem = declared[key].check(value)
            if problem:
                raise SelectionError(f"-p {key}={value}: {run.notebook.name}: {problem}")
            params[key] = declared[key].coerce(value)
        out.append(replace(run, parameters=params))
    return out


# ---- assessing the plan -----------------------------------------------------------------


@dataclass
class _Plan:
    """Jobs of one invocation and what they depend on.

    Jobs, dependencies and states are keyed by ``Run.uid`` (``<agency>:<key>``, the plain
    run key in the single-agency layout); each job's ``run_key`` is the key inside its
    agency's workspace ``roots[agency]``.
    """

    root: Paths
    env: dict[str, Any]
    jobs: dict[str, Job]  # by uid: selected runs and the runs they depend on
    selected: list[str]
    deps: dict[str, list[str]]
    own: dict[str, str]  # fingerprint without the inputs' figures
    published: dict[str, set[str]]  # by agency id
    roots: dict[str, Paths] = field(default_factory=dict)  # by agency id
    agency_of: dict[str, str] = field(default_factory=dict)  # by uid
    _digests: dict[str, str] = field(default_factory=dict)  # prefetched, used once
    _manifests: dict[str, _Manifests] = field(default_factory=dict)  # by agency id

    def paths_of(self, uid: str) -> Paths:
        """The workspace of a run."""
        return self.roots.get(self.agency_of.get(uid, ""), self.root)

    def finalise(self, key: str) -> Job:
        """Fingerprint a dependent run on its inputs' fingerprints and recorded figures now."""
        job = self.jobs[key]
        deps = self.deps.get(key)
        if not deps:
            return job
        own_agency = self.agency_of.get(key, "")
        by_agency: dict[str, list[str]] = {}
        for d in deps:
            by_agency.setdefault(self.agency_of.get(d, ""), []).append(self.jobs[d].run_key)
        local = list(by_agency) == [own_agency]
        if local:
            digest = self._digests.pop(key, None) or history.figures_digest(
                by_agency[own_agency], db=self.roots.get(own_agency, self.root).history
            )
        else:  # project level: the annual reports it depends on carry their inputs'
            # figures in their fingerprints (depends_on), and the run ids of the reports it
            # reads say which of them are published: an annual report published anew from
            # the same figures (one that was not current and showed nothing) reruns it
            inputs = self._agency_inputs(by_agency)
            digest = provenance.fingerprint(agencies=sorted(by_agency), reads=inputs)
        manifest = dict(job.manifest)
        manifest["depends_on"] = {d: self.jobs[d].manifest["fingerprint"] for d in deps}
        manifest["inputs_digest"] = digest
        manifest["fingerprint"] = provenance.fingerprint(
            own=self.own[key], depends_on=manifest["depends_on"], figures=digest
        )
        if local:  # inputs in the run's own history: checked again when it publishes
            job = replace(
                job,
                manifest=manifest,
                depends_on=tuple(by_agency[own_agency]),
                inputs_digest=digest,
            )
        else:  # a project-level run reads other workspaces: the run id of each report it
            # reads there as published now (ex.agency_inputs, read through the manifest
            # indexes: no cost for a no-op), checked again when it publishes together with
            # those reports' figures (ex.stale_agencies -> StaleInputs)
            manifest[ex.AGENCY_INPUTS] = inputs
            job = replace(job, manifest=manifest)
        self.jobs[key] = job
        return job

    def _agency_inputs(self, by_agency: dict[str, list[str]]) -> dict[str, dict[str, str | None]]:
        """:func:`evaluation.execute.agency_inputs`, read through the manifest indexes."""
        inputs: dict[str, dict[str, str | None]] = {}
        for agency, run_keys in sorted(by_agency.items()):
            if agency not in self._manifests:
                self._manifests[agency] = _Manifests(self.roots.get(agency, self.root))
            inputs[agency] = {}
            for run_key in sorted(set(run_keys)):
                facts = self._manifests[agency].facts(run_key)
                ok = facts is not None and facts[1] == "ok" and facts[2] is not None
                inputs[agency][run_key] = str(facts[2]) if ok else None
        return inputs

    def current(self, key: str) -> bool:
        """:func:`evaluation.execute.is_current`, with the manifests read through an index."""
        job = self.jobs[key]
        if job.adhoc:
            return False
        agency = self.agency_of.get(key, "")
        if agency not in self._manifests:
            self._manifests[agency] = _Manifests(self.paths_of(key))
        return self._manifests[agency].current(
            job.run_key, job.manifest["fingerprint"], self.published.get(agency, set())
        )

    def prefetch_digests(self) -> None:
        """The figures digests of every dependent run, one history connection per agency."""
        groups: dict[str, dict[str, list[str]]] = {}
        for uid, deps in self.deps.items():
            own = self.agency_of.get(uid, "")
            if deps and all(self.agency_of.get(d, "") == own for d in deps):
                groups.setdefault(own, {})[uid] = [self.jobs[d].run_key for d in deps]
        for agency, group in groups.items():
            root = self.roots.get(agency, self.root)
            self._digests.update(history.figures_digests(group, db=root.history))

    def save_indexes(self) -> None:
        for index in self._manifests.values():
            index.save()


MANIFEST_INDEX = "published.json"


class _Manifests:
    """The published manifests of one workspace, read through an index keyed by ``stat``.

    ``data/.state/published.json`` keeps, per run key, the manifest's :func:`_stat_key`
    with its fingerprint, status and run id. A manifest whose stat is unchanged is not
    read again; one that was rewritten (publishing renames a new file into place: a new
    inode and change time) is. The index is only a cache: losing it costs one read per
    manifest, and a stale entry can never match a changed file.
    """

    def __init__(self, root: Paths) -> None:
        import json

        self.root = root
        self.file = root.state / MANIFEST_INDEX
        try:
            index = json.loads(self.file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            index = {}
        self.index: dict[str, Any] = index if isinstance(index, dict) else {}
        self.changed = False
        self.pending = {p.name.split("@", 1)[0] for p in ex.pending_commits(root)}

    def facts(self, run_key: str) -> list[Any] | None:
        import json

        file = ex.run_dir(self.root, run_key) / "manifest.json"
        try:
            key = _stat_key(file)
        except OSError:
            return None
        hit = self.index.get(run_key)
        if isinstance(hit, list) and len(hit) == 2 and hit[0] == key:
            return hit[1]
        try:
            manifest = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(manifest, dict):
            return None
        facts = [manifest.get("fingerprint"), manifest.get("status"), manifest.get("run_id")]
        self.index[run_key] = [key, facts]
        self.changed = True
        return facts

    def current(self, run_key: str, fingerprint: str, published: set[str]) -> bool:
        """The same decision as :func:`evaluation.execute.is_current`."""
        facts = self.facts(run_key)
        if facts is None or facts[0] != fingerprint or facts[1] != "ok":
            return False
        if facts[2] not in published:
            return False
        folder = ex.run_dir(self.root, run_key)
        if (folder / "failed.json").exists() or run_key.replace("/", "__") in self.pending:
            return False
        return all((folder / name).exists() for name in ex.PUBLISHED)

    def save(self) -> None:
        import json

        if self.changed and self.root.state.is_dir():
            with contextlib.suppress(OSError):
                data.atomic_write_text(self.file, json.dumps(self.index))
            self.changed = False


def _roots(runs: Sequence[Run], p: Paths, agencies: Sequence[Agency] | None) -> dict[str, Paths]:
    """The workspace of every agency the runs belong to ("" is the project root)."""
    roots = {a.id: a.paths for a in agencies or ()}
    roots.setdefault("", paths(p.project_root) if p.is_agency else p)
    for run in runs:
        if run.agency not in roots:
            roots[run.agency] = p.agency(run.agency)
    return roots


def _build(
    runs: list[Run],
    all_runs: list[Run],
    p: Paths,
    overrides: Mapping[str, Any] | None,
    agencies: Sequence[Agency] | None = None,
) -> _Plan:
    env = environment(p)
    roots = _roots(all_runs, p, agencies)
    snapshots = {agency: _Snapshots(root) for agency, root in roots.items()}
    index = _DependencyIndex(all_runs)
    by_uid = {r.uid: r for r in all_runs}
    jobs: dict[str, Job] = {}
    deps: dict[str, list[str]] = {}
    agency_of: dict[str, str] = {}
    selected = [r.uid for r in runs]
    chosen = {r.uid for r in runs}

    def add(run: Run) -> None:
        if run.uid in jobs:
            return
        snaps = snapshots[run.agency]
        job = prepare(
            run,
            roots[run.agency],
            env=env,
            snapshots=snaps,
            overrides=overrides if run.uid in chosen and overrides else None,
        )
        if job.manifest["data"]["snapshot_id"] != PROJECT_DATA:
            snaps.verify(snaps.info(job.manifest["data"]["snapshot_id"]))
        jobs[run.uid] = job
        agency_of[run.uid] = run.agency
        deps[run.uid] = [d.uid for d in index.of(by_uid.get(run.uid, run))]
        for d in deps[run.uid]:
            add(by_uid[d])

    for run in runs:
        add(run)
    used = sorted(set(agency_of.values()))
    return _Plan(
        root=roots.get("", p),
        env=env,
        jobs=jobs,
        selected=selected,
        deps=deps,
        own={k: j.manifest["fingerprint"] for k, j in jobs.items()},
        published={a: history.published_run_ids(db=roots[a].history) for a in used},
        roots=roots,
        agency_of=agency_of,
    )


def _held_elsewhere(p: Paths, run_key: str) -> bool:
    from filelock import FileLock, Timeout

    lock_file = ex.lock_path(p, run_key)
    if not lock_file.exists():
        return False
    lock = FileLock(str(lock_file))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    lock.release()
    return False


def assess(plan: _Plan, *, force: bool = False) -> dict[str, str]:
    """State of every selected run: up to date, to run, waiting, running elsewhere.

    A run that depends on others is up to date only if none of them is to run or running
    elsewhere and its fingerprint over their current figures matches its manifest.
    """
    states: dict[str, str] = {}

    def state(key: str) -> str:
        if key in states:
            return states[key]
        if _held_elsewhere(plan.paths_of(key), plan.jobs[key].run_key):
            states[key] = "running elsewhere"
            return states[key]
        waits = [d for d in plan.deps.get(key, []) if state(d) != "up to date"]
        if waits:
            states[key] = "to run after its inputs"
        else:
            plan.finalise(key)
            states[key] = "to run" if force or not plan.current(key) else "up to date"
        return states[key]

    plan.prefetch_digests()
    try:
        return {key: state(key) for key in plan.selected}
    finally:
        plan._digests.clear()  # figures read later (when a run starts) are read afresh
        plan.save_indexes()


# ---- execution --------------------------------------------------------------------------


def _serve(conn: Any, executor: Callable[[Job], Outcome]) -> None:
    """Worker process: execute the jobs it is sent, one at a time, until told to stop."""
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        try:
            outcome = executor(job)
        except BaseException as exc:  # the executor itself broke: one line, the worker lives on
            outcome = Outcome(
                job.run_key, "failed", error={"summary": f"{job.run_key}: {ex.describe_error(exc)}"}
            )
        conn.send(outcome)


class _Worker:
    """One worker process with a pipe; if it dies, only the job it holds fails."""

    def __init__(self, ctx: Any, executor: Callable[[Job], Outcome]) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child, executor), daemon=True)
        self.process.start()
        child.close()
        self.job: Job | None = None
        self.started = 0.0

    def submit(self, job: Job) -> None:
        self.job, self.started = job, time.monotonic()
        self.conn.send(job)

    def stop(self) -> None:
        self.ask_to_stop()
        self.wait_stopped()

    def ask_to_stop(self) -> None:
        """Tell the worker to end (it shuts its kernel and browser down); do not wait."""
        with contextlib.suppress(OSError):
            self.conn.send(None)

    def wait_stopped(self) -> None:
        """Wait for the worker to end (killed after 5 s) and close the pipe."""
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=5)
        self.conn.close()


def _death(process: Any) -> str:
    import signal

    code = process.exitcode
    if code is not None and code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with status {code}"


class _Progress:
    """Whole-plan progress: a tqdm bar on a terminal, plain log lines otherwise."""

    def __init__(self, total: int, enabled: bool | None) -> None:
        self.total, self.done, self.failed, self.running = total, 0, 0, 0
        self.start = time.monotonic()
        tty = sys.stderr.isatty() if enabled is None else enabled
        self.bar = None
        if tty:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="run", dynamic_ncols=True, leave=False)

    def update(self, outcome: Outcome | None, running: int) -> None:
        self.running = running
        if outcome is not None:
            self.done += 1
            self.failed += outcome.status == "failed"
        eta = self._eta()
        if self.bar is not None:
            self.bar.set_postfix_str(f"{self.failed} failed, {self.running} running", refresh=False)
            if outcome is not None:
                self.bar.update(1)
            else:
                self.bar.refresh()
        if outcome is not None:
            log.log(
                logging.WARNING if outcome.status == "failed" else logging.INFO,
                "%s",
                _progress_line(self.done, self.total, outcome, self.failed, running, eta),
            )

    def grow(self, extra: int) -> None:
        self.total += extra
        if self.bar is not None:
            self.bar.total = self.total
            self.bar.refresh()

    def _eta(self) -> str:
        if not self.done or self.done >= self.total:
            return ""
        left = (time.monotonic() - self.start) / self.done * (self.total - self.done)
        return f"about {left / 60:.0f} min left" if left >= 90 else f"about {left:.0f} s left"

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _progress_line(
    done: int, total: int, outcome: Outcome, failed: int = 0, running: int = 0, eta: str = ""
) -> str:
    width = len(str(total))
    mark = {
        "ok": "ok    ",
        "failed": "FAILED",
        "skipped": "same  ",
        "locked": "busy  ",
        "deferred": "later ",
        "stale": "stale ",
    }[outcome.status]
    line = f"[{done:>{width}}/{total}] {mark} {outcome.run_key}"
    if outcome.duration_s:
        line += f"  ({outcome.duration_s:.1f} s)"
    if outcome.status == "locked":
        line += "  (running in another process; left to it)"
    if outcome.status == "deferred" and outcome.error:
        line += f"  ({outcome.error['summary']})"
    extra = [
        x
        for x in (
            f"{failed} failed" if failed else "",
            f"{running} running" if running else "",
            eta,
        )
        if x
    ]
    if extra:
        line += "  – " + ", ".join(extra)
    return line


def _execute(
    plan: _Plan,
    todo: list[str],
    workers: int,
    executor: Callable[[Job], Outcome],
    progress: _Progress,
    summary: Summary,
    *,
    force: bool,
    wait_s: float,
) -> None:
    """Run ``todo`` (run keys, in order); a run waits for the runs it reads, here or elsewhere."""
    pending = list(todo)
    in_plan = set(todo)
    attempts: dict[str, int] = {}
    waiting_since: dict[str, float] = {}
    elsewhere: set[str] = set()
    ctx = get_context("spawn")
    pool: list[_Worker] = []
    running: dict[str, _Worker] = {}
    ending: list[_Worker] = []  # asked to stop, not yet waited for

    def finish(outcome: Outcome) -> None:
        summary.outcomes.append(outcome)
        progress.update(outcome, len(running))

    try:
        while pending or running:
            for key in list(pending):
                if len(running) >= workers:
                    break
                deps = plan.deps.get(key, [])
                if any(d in running or (d in pending and d in in_plan) for d in deps):
                    continue
                held = [d for d in deps if _held_elsewhere(plan.paths_of(d), plan.jobs[d].run_key)]
                if held:
                    since = waiting_since.setdefault(key, time.monotonic())
                    if time.monotonic() - since < wait_s:
                        continue
                    pending.remove(key)
                    finish(
                        Outcome(
                            key,
                            "deferred",
                            error={"summary": f"waits for {', '.join(held)} running elsewhere"},
                        )
                    )
                    continue
                pending.remove(key)
                job = plan.finalise(key)
                if plan.deps.get(key) and not force and plan.current(key):
                    finish(Outcome(key, "skipped"))
                    continue
                if force:
                    job = replace(job, force=True)
                worker = next((w for w in pool if w.job is None), None)
                if worker is None:
                    worker = _Worker(ctx, executor)
                    pool.append(worker)
                worker.submit(job)
                running[key] = worker
                progress.update(None, len(running))
            if not pending:
                # nothing left to hand out: an idle worker ends now (its kernel and browser
                # shut down while the others still run), not after the last run
                for worker in [w for w in pool if w.job is None]:
                    pool.remove(worker)
                    worker.ask_to_stop()
                    ending.append(worker)
            if not running:
                if pending:
                    time.sleep(0.5)  # only runs waiting for inputs running elsewhere
                continue
            ready = connection.wait(
                [w.conn for w in running.values()] + [w.process.sentinel for w in running.values()],
                timeout=0.5 if waiting_since or elsewhere else None,
            )
            for key, worker in list(running.items()):
                if worker.conn not in ready and worker.process.sentinel not in ready:
                    continue
                outcome = None
                try:
                    if worker.conn.poll():
                        outcome = worker.conn.recv()
                except (EOFError, OSError):
                    outcome = None
                if outcome is None and worker.process.is_alive():
                    continue
                del running[key]
                job = worker.job
                worker.job = None
                if outcome is None:  # the worker died: only its run fails
                    worker.conn.close()
                    pool.remove(worker)
                    worker.process.join(timeout=5)
                    outcome = _dead_worker(plan.paths_of(key), job, worker)
                outcome.run_key = key  # the uid (executors report the key in the workspace)
                if outcome.status == "locked":
                    elsewhere.add(key)
                if outcome.status == "stale":
                    attempts[key] = attempts.get(key, 0) + 1
                    if attempts[key] < 3:
                        why = (outcome.error or {}).get("summary") or "inputs changed"
                        why = why.removeprefix(f"{job.run_key}: ")
                        log.info("%s: %s; running it again", key, why)
                        pending.insert(0, key)
                        continue
                    outcome = Outcome(key, "deferred", error=outcome.error)
                finish(outcome)
    finally:
        for worker in pool:  # all at once: the workers shut down side by side
            if worker.job is not None:
                worker.process.kill()
            worker.ask_to_stop()
        for worker in ending + pool:
            worker.wait_stopped()


def _dead_worker(p: Paths, job: Job, worker: _Worker) -> Outcome:
    how = _death(worker.process)
    elapsed = round(time.monotonic() - worker.started, 2)
    try:
        repaired = ex.recover(p, job.run_key)
    except Exception as exc:  # noqa: BLE001 - reported, the next call repairs
        repaired = []
        log.error(
            "%s: could not clean up after the worker died: %s", job.run_key, ex.describe_error(exc)
        )
    if any("completed" in line for line in repaired):
        log.warning("%s: worker %s after committing; publication completed", job.run_key, how)
        return Outcome(job.run_key, "ok", elapsed, output_dir=ex.target_dir(p, job))
    error = {"summary": f"{job.notebook.name}: worker {how}; nothing published"}
    try:
        from evaluation.execute import _finish

        manifest = _finish(dict(job.manifest), time.perf_counter(), "failed", error)
        manifest["duration_s"] = elapsed
        history.record_run(manifest, db=p.history)
    except Exception as exc:  # noqa: BLE001
        log.error("%s: %s", job.run_key, ex.describe_error(exc))
    return Outcome(job.run_key, "failed", elapsed, error)


# ---- the entry points -------------------------------------------------------------------


def execute_warm(job: Job) -> Outcome:
    """:func:`evaluation.engines.execute_warm`, imported in the worker on its first run.

    The engine pulls in papermill, nbclient and jupyter_client (over a second); a call
    with nothing to do never imports them.
    """
    from evaluation import engines

    return engines.execute_warm(job)


def check_workspace(p: Paths) -> None:
    """Check before anything runs that results can be written; one line when not.

    Raises
    ------
    WorkspaceError
        ``reports/`` or ``data/.state`` cannot be written.
    evaluation.history.HistoryError
        The history is damaged.
    """
    for folder in (p.reports, p.state):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = folder / f".probe-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            exc.filename = exc.filename or str(folder)
            raise WorkspaceError(f"{ex.describe_error(exc)}; nothing was run") from None
    problem = history.check(p.history)
    if problem:
        raise history.HistoryError(problem)


def run_plan(
    *,
    root: Paths | None = None,
    files: Sequence[Path] | None = None,
    due: bool = False,
    only: Sequence[str] | None = None,
    period: Sequence[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    jobs: int | None = None,
    force: bool = False,
    today: date | None = None,
    out: TextIO | None = None,
    executor: Callable[[Job], Outcome] = ex.execute,
    progress: bool | None = False,
    wait_s: float = 3600.0,
    agencies: Sequence[Agency] | None = None,
) -> Summary:
    """Run the plan and return a summary; see ``python -m evaluation run --help``.

    Parameters
    ----------
    agencies
        The agencies to run the plan for (:func:`evaluation.agencies.select`); default the
        workspace ``root`` alone. Their runs share the worker pool; each publishes into its
        own agency's workspace.
    overrides
        Parameter values for the selected runs only (``run -p KEY=VALUE``); such runs are
        always executed, published under ``reports/adhoc/`` and record no figures.
    out
        Also write the log lines here (the console is configured by
        :func:`configure_logging`).
    progress
        A progress bar (``None``: when standard error is a terminal).
    wait_s
        How long a run waits for the runs it reads when they run in another process.

    Raises
    ------
    evaluation.plan.PlanError
        A parameter file or a name on the command line is wrong (before anything runs).
    evaluation.data.SnapshotError
        There is no data snapshot or a snapshot file is damaged.
    WorkspaceError, evaluation.history.HistoryError
        Results cannot be written or the history is damaged (before anything runs).
    """
    with _OutHandler(out):
        return _run_plan(
            root or paths(),
            files=files,
            due=due,
            only=only,
            period=period,
            overrides=overrides,
            jobs=jobs,
            force=force,
            today=today,
            executor=executor,
            progress=progress,
            wait_s=wait_s,
            agencies=agencies,
        )


def _used_roots(plan: _Plan) -> list[tuple[str, Paths]]:
    """The workspaces the plan's runs publish into, project root first."""
    used = sorted(set(plan.agency_of.values()))
    return [(a, plan.roots[a]) for a in used]


def _run_plan(
    p: Paths,
    *,
    files: Sequence[Path] | None,
    due: bool,
    only: Sequence[str] | None,
    period: Sequence[str] | None,
    overrides: Mapping[str, Any] | None,
    jobs: int | None,
    force: bool,
    today: date | None,
    executor: Callable[[Job], Outcome],
    progress: bool | None,
    wait_s: float,
    agencies: Sequence[Agency] | None = None,
) -> Summary:
    all_runs = load_plan(files, root=p, today=today, due_only=due, agencies=agencies)
    runs = select(all_runs, only, period)
    if overrides:
        runs = apply_overrides(runs, overrides)
    runs = sorted(runs, key=lambda r: r.order)  # stable: plan file order within the same order
    roots = _roots(all_runs, p, agencies)
    used = {r.agency for r in runs}
    if any(r.scope == "project" for r in runs):
        used |= {r.agency for r in all_runs}
    for agency in sorted(used) or [""]:
        check_workspace(roots.get(agency, p))
    summary = Summary(planned=len(runs))
    for agency in sorted(used) or [""]:
        for line in ex.recover(roots.get(agency, p)):
            summary.repaired.append(f"{agency}: {line}" if agency else line)
    for line in summary.repaired:
        log.warning("repaired: %s", line)
    plan = _build(runs, all_runs, p, overrides, agencies)
    states = assess(plan, force=force)
    todo = []
    for key in plan.selected:
        if states[key] == "up to date":
            summary.outcomes.append(Outcome(key, "skipped"))
        else:
            todo.append(key)
    if not todo:
        log.info("Nothing to do: %d runs are up to date.", summary.planned)
        for _, root in _used_roots(plan) if plan.selected else ():
            if not (root.reports / "index.html").exists():
                _write_index(root)
        if plan.selected:
            _write_project_index(plan, missing_only=True)
        return summary
    workers = max(1, min(jobs or os.cpu_count() or 1, len(todo)))
    skipped = summary.count("skipped")
    log.info(
        "%d of %d runs to execute (%d up to date), %d workers",
        len(todo),
        summary.planned,
        skipped,
        workers,
    )
    bar = _Progress(len(todo), progress)
    try:
        _execute(plan, todo, workers, executor, bar, summary, force=force, wait_s=wait_s)
    except KeyboardInterrupt:
        log.error("interrupted: runs that did not end are published by no one; rerun to finish")
        raise
    finally:
        bar.close()
        done = {o.run_key for o in summary.outcomes}
        for key in todo:
            if key not in done:
                summary.outcomes.append(
                    Outcome(key, "failed", error={"summary": "not run: interrupted"})
                )
        for agency, root in _used_roots(plan):
            try:
                for line in ex.recover(root):  # what was still held at the start
                    log.warning("repaired: %s", f"{agency}: {line}" if agency else line)
            except Exception as exc:  # noqa: BLE001 - the next call repairs
                log.error("%s", ex.describe_error(exc))
            try:
                _write_index(root)
            except Exception as exc:  # noqa: BLE001 - the summary is still printed
                log.error("%s not written: %s", root.reports / "index.html", ex.describe_error(exc))
        _write_project_index(plan)
        _print_summary(summary, p, [root for _, root in _used_roots(plan)])
    return summary


def _write_index(p: Paths) -> None:
    """Write a workspace's ``reports/index.html``; the project root's over its agencies is
    the project-level page (:func:`evaluation.report.write_project_index`)."""
    from evaluation.report import has_project_index, write_index, write_project_index

    if has_project_index(p):
        write_project_index(p)
    else:
        write_index(p)


def _write_project_index(plan: _Plan, *, missing_only: bool = False) -> None:
    """After a plan over agencies: the project-level ``reports/index.html`` (one line on error).

    It is written when the plan's runs belong to agencies and the project root is no
    agency itself (:func:`evaluation.report.has_project_index`); its own runs (the Träger
    overview) already wrote it through :func:`_write_index`.
    """
    from evaluation.report import has_project_index, write_project_index

    project = plan.roots.get("", plan.root)
    if "" in plan.agency_of.values() or not any(plan.agency_of.values()):
        return  # runs at project level wrote it with their workspace; no agency in the plan
    target = project.reports / "index.html"
    if missing_only and target.exists():
        return
    try:
        if has_project_index(project):
            write_project_index(project)
    except Exception as exc:  # noqa: BLE001 - the summary is still printed
        log.error("%s not written: %s", target, ex.describe_error(exc))


def _print_summary(summary: Summary, p: Paths, roots: Sequence[Paths] = ()) -> None:
    counts = ", ".join(
        f"{summary.count(s)} {word}"
        for s, word in (
            ("ok", "ok"),
            ("failed", "failed"),
            ("skipped", "up to date"),
            ("locked", "running elsewhere"),
            ("deferred", "deferred to the next call"),
        )
        if summary.count(s)
    )
    log.info("Done: %s.", counts)
    for outcome in summary.failed:
        summary_line = (outcome.error or {}).get("summary", "unknown error")
        where = (
            f" — executed copy: {outcome.output_dir / 'failed.ipynb'}"
            if outcome.output_dir and (outcome.output_dir / "failed.ipynb").exists()
            else ""
        )
        log.error("FAILED %s: %s%s", outcome.run_key, summary_line, where)
    for outcome in summary.outcomes:
        if outcome.status == "deferred":
            log.warning("DEFERRED %s: %s", outcome.run_key, (outcome.error or {}).get("summary"))
        if outcome.status == "ok" and outcome.manifest.get("overrides"):
            log.info("ad hoc %s: %s", outcome.run_key, outcome.output_dir / "report.html")
    indexes = [r.reports / "index.html" for r in roots] or [p.reports / "index.html"]
    if len(indexes) == 1:
        log.info("Report index: %s", indexes[0])
    else:
        log.info("Report indexes: %d workspaces, e.g. %s", len(indexes), indexes[0])


def dry_run(
    *,
    root: Paths | None = None,
    due: bool = False,
    only: Sequence[str] | None = None,
    period: Sequence[str] | None = None,
    today: date | None = None,
    out: TextIO | None = None,
    agencies: Sequence[Agency] | None = None,
) -> int:
    """Print the plan with each run's state (the same decision as ``run``), running nothing."""
    p = root or paths()
    out = out or sys.stdout
    all_runs = load_plan(root=p, today=today, due_only=due, agencies=agencies)
    runs = sorted(select(all_runs, only, period), key=lambda r: r.order)
    plan = _build(runs, all_runs, p, None, agencies)
    states = assess(plan)
    by_key = {r.uid: r for r in runs}
    for key in plan.selected:
        state = states[key]
        if ex.pending_commits(plan.paths_of(key), plan.jobs[key].run_key):
            state = "to run (publication interrupted; repaired by the next run)"
        matrix = by_key[key].matrix
        print(f"{key:<45} {state:<24} {dict(matrix) if matrix else ''}".rstrip(), file=out)
    counts = {s: sum(v == s for v in states.values()) for s in set(states.values())}
    print(
        "; ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no runs in the plan",
        file=out,
    )
    return 0
