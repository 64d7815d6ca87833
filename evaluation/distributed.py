"""Dask distributed as an executor: each run is a task on a Dask worker.

:func:`run_jobs_on_dask` sends :class:`evaluation.execute.Job` objects to a Dask cluster – a
scheduler given by address (``tcp://host:8786``), the ``DASK_SCHEDULER_ADDRESS`` environment
variable (Dask's own configuration), or without either a :class:`~dask.distributed.LocalCluster`
of worker *processes* on this machine – and returns their :class:`~evaluation.execute.Outcome`
to the calling process. Each worker runs one task at a time (one thread) on its warm kernel
(:mod:`evaluation.engines`), so a worker starts its kernel once and reuses it.

A run that reads other runs' figures (``Job.depends_on``) is submitted only after those runs
ended in this call; ``finalise(run_key)`` (the runner's fingerprinting of a dependent run on
its inputs' figures) is called in the submitting process right before it is submitted. A run
whose inputs failed is still run, as in the local executor (it reads the last published
figures).

What the workers need: the same version of the package (and Chromium for PDF), nothing
of the workspace. Each task receives a bundle of what its run reads (notebook, data snapshot,
copies of the history and the release store; :mod:`evaluation.remote`), executes and renders
it in a temporary folder and sends the files and the run's release cells back; only the
submitting process publishes and writes the history and the release store (one writer, no
shared disk). A commit refused because runs published meanwhile changed the release is
executed again on the newer store. A lost worker fails only the run it held (no automatic
retry: the next call retries failed runs). Across machines, use Dask's TLS security: bundles
hold pseudonymised data and exact counts.

Start a cluster on several machines (plain shell)::

    # on the scheduler machine
    dask scheduler --port 8786 --dashboard-address :8787
    # on every worker machine, in the workspace's virtualenv, same workspace path
    EVALUATION_HOME=/srv/evaluation dask worker tcp://scheduler:8786 --nthreads 1 --nworkers 2
    # on the submitting machine
    python -c "from evaluation.distributed import ..."   # or: run --executor dask --scheduler ...
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TextIO

from evaluation.execute import Job, Outcome, describe_error

ENV_SCHEDULER = "DASK_SCHEDULER_ADDRESS"
CONNECT_TIMEOUT_S = 10.0  # how long connecting to a scheduler given by address may take


def _on_cluster(client: Any, job: Job, warm: bool) -> Outcome:
    """Execute ``job`` on the cluster of ``client`` and publish it here; a lost worker or a
    failing task is ``failed`` with one line."""
    from evaluation.remote import execute_remote, run_bundle

    start = time.monotonic()

    def submit(bundle: Any) -> Any:
        future = client.submit(
            run_bundle,
            bundle,
            warm,
            key=f"run-{bundle.job.run_key}-{bundle.job.run_id}",
            pure=False,
            retries=0,
        )
        return future.result()

    try:
        return execute_remote(job, submit)
    except Exception as exc:  # task raised, worker lost (KilledWorker), cancelled
        return _failed(job, exc, start)


def _failed(job: Job, exc: BaseException, start: float) -> Outcome:
    """``job`` failed on the cluster with ``exc``: one line, as the runner's summary prints it
    after the run key (``FAILED <run key>: <summary>``)."""
    from distributed import KilledWorker

    if isinstance(exc, KilledWorker):
        summary = "Dask worker lost while running it (KilledWorker); nothing published"
    elif isinstance(exc, SchedulerError):
        summary = str(exc)
    else:
        summary = f"Dask task failed: {describe_error(exc)}"
    return Outcome(
        job.run_key,
        "failed",
        duration_s=round(time.monotonic() - start, 2),
        error={"summary": summary},
    )


class SchedulerError(RuntimeError):
    """The Dask scheduler cannot be reached; the message is one German line."""


def connect(
    address: str | None = None, workers: int | None = None, timeout: float = CONNECT_TIMEOUT_S
) -> tuple[Any, Any]:
    """A Dask client on ``address`` (or ``DASK_SCHEDULER_ADDRESS``), else on a new
    :class:`~dask.distributed.LocalCluster` of ``workers`` processes with one thread each.

    Returns
    -------
    tuple
        ``(client, cluster)``; ``cluster`` is ``None`` when an existing scheduler is used.

    Raises
    ------
    SchedulerError
        ``address`` cannot be reached within ``timeout`` seconds (or is not a valid address).
    """
    import dask
    from dask.distributed import Client, LocalCluster

    address = address or os.environ.get(ENV_SCHEDULER) or None
    if address:
        return _client(address, timeout), None
    # a run whose worker died is not sent to the next worker: it fails, the others go on
    # and a worker is given one task at a time (no task queued behind a running one)
    with dask.config.set(
        {
            "distributed.scheduler.allowed-failures": 0,
            "distributed.scheduler.worker-saturation": 1.0,
        }
    ):
        cluster = LocalCluster(
            n_workers=max(1, workers or os.cpu_count() or 1),
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
        )
    return Client(cluster), cluster


def _order(jobs: list[Job]) -> dict[str, list[str]]:
    """Dependencies within ``jobs`` by run key; raises ``ValueError`` on a cycle."""
    keys = {j.run_key for j in jobs}
    deps = {j.run_key: [d for d in j.depends_on if d in keys and d != j.run_key] for j in jobs}
    state: dict[str, int] = {}

    def visit(key: str, path: tuple[str, ...]) -> None:
        if state.get(key) == 2:
            return
        if state.get(key) == 1:
            raise ValueError("runs depend on each other in a cycle: " + " -> ".join(path))
        state[key] = 1
        for d in deps[key]:
            visit(d, (*path, d))
        state[key] = 2

    for key in deps:
        visit(key, (key,))
    return deps


def run_jobs_on_dask(
    jobs: Iterable[Job],
    *,
    address: str | None = None,
    workers: int | None = None,
    warm: bool = True,
    finalise: Callable[[str], Job] | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
    out: TextIO | None = None,
) -> list[Outcome]:
    """Execute ``jobs`` as Dask tasks and return their outcomes in the order of ``jobs``.

    Parameters
    ----------
    jobs
        The runs; run keys must be unique. ``depends_on`` entries that are among them are
        waited for (a run starts only after the runs it reads ended).
    address
        Scheduler address; default ``DASK_SCHEDULER_ADDRESS``, else a local cluster.
    workers
        Worker processes of the local cluster (default: one per core); ignored with an address.
    warm
        Workers use warm kernels (default) or a fresh kernel per run.
    finalise
        Called with a run key in this process right before a run with dependencies is
        submitted; returns the job to submit (e.g. fingerprinted on its inputs' figures).
    on_outcome
        Called in this process with each outcome as it arrives (progress display).
    out
        Where the dashboard address is printed (default: standard error).

    Returns
    -------
    list[Outcome]
        One per job. A task that raised or whose worker was lost is ``failed`` with a
        one-line ``error["summary"]``.

    Raises
    ------
    ValueError
        Two jobs with the same run key, or dependencies in a cycle (before anything runs).
    """
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    jobs = list(jobs)
    by_key = {j.run_key: j for j in jobs}
    if len(by_key) != len(jobs):
        seen: set[str] = set()
        twice = next(j.run_key for j in jobs if j.run_key in seen or seen.add(j.run_key))
        raise ValueError(f"run key {twice} occurs twice")
    deps = _order(jobs)
    outcomes: dict[str, Outcome] = {}
    if not jobs:
        return []
    client, cluster = connect(address, workers)
    stream = out if out is not None else sys.stderr
    print(f"Dask-Dashboard: {client.dashboard_link}", file=stream, flush=True)
    pending = [j.run_key for j in jobs]
    # one thread per run on the cluster: it packs, waits for the worker and publishes here.
    # Never more runs than worker threads, so no run waits on a worker behind another one
    # (a worker lost while running one run fails that run only)
    threads = ThreadPoolExecutor(max_workers=cluster_size(client))
    try:
        running: dict[Any, str] = {}

        def submit_ready() -> None:
            for key in list(pending):
                if any(d not in outcomes for d in deps[key]):
                    continue
                pending.remove(key)
                job = by_key[key]
                if finalise is not None and deps[key]:
                    job = finalise(key)
                running[threads.submit(_on_cluster, client, job, warm)] = key

        submit_ready()
        while running:
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in done:
                key = running.pop(future)
                outcome = future.result()  # _on_cluster never raises for a run
                outcomes[key] = outcome
                if on_outcome is not None:
                    on_outcome(outcome)
            submit_ready()
    finally:
        threads.shutdown(wait=True)
        client.close()
        if cluster is not None:
            cluster.close()
    return [outcomes[j.run_key] for j in jobs]


_CLIENTS: dict[str, Any] = {}


def _client(address: str, timeout: float = CONNECT_TIMEOUT_S) -> Any:
    """A client on the scheduler at ``address``; :class:`SchedulerError` if it is not there."""
    from dask.distributed import Client

    try:
        return Client(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        cause = " ".join(str(exc).split()) or type(exc).__name__
        raise SchedulerError(
            f"Dask-Scheduler {address} nicht erreichbar ({cause}); es wurde nichts ausgeführt"
        ) from None


@dataclass(frozen=True)
class DaskExecutor:
    """An executor for :func:`evaluation.runner.run_plan` that runs each job on a Dask cluster.

    The runner keeps its scheduling, dependencies, progress display and summary; each of its
    worker processes packs its job, hands it to the cluster at ``address``, waits for the
    result and publishes it (:func:`evaluation.remote.execute_remote`), so
    ``run_plan(jobs=N)`` keeps N runs on the cluster at a time. Picklable (the
    runner's workers are spawned); each process connects once.

    Parameters
    ----------
    address
        Scheduler address (``tcp://host:8786``), e.g. ``cluster.scheduler_address`` of
        :func:`connect`.
    warm
        Workers use warm kernels (default) or a fresh kernel per run.
    """

    address: str
    warm: bool = True

    def __call__(self, job: Job) -> Outcome:
        """Execute ``job`` on the cluster and publish it here; a lost worker or a failing
        task is ``failed`` with one line."""
        client = _CLIENTS.get(self.address)
        if client is None:
            start = time.monotonic()
            try:
                client = _CLIENTS[self.address] = _client(self.address)
            except SchedulerError as exc:  # the scheduler went away during the plan
                return _failed(job, exc, start)
        return _on_cluster(client, job, self.warm)


def cluster_size(client: Any) -> int:
    """Threads (one per warm kernel) the cluster's workers have in total (at least 1)."""
    return max(1, sum(client.nthreads().values()))
