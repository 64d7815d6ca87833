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

What the workers need: the same workspace under the same path (``Job.root``: notebooks, data
snapshot, ``reports/``, ``data/history.sqlite``) – on one machine that is given; on several
machines a shared file system. Each task executes, publishes and records its run itself
(:func:`evaluation.execute.execute`, with its lock file and commit protocol); the outcomes come
back to the caller. A lost worker fails only the run it held (no automatic retry: the next
call retries failed runs).

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


def run_job(job: Job, warm: bool = True) -> Outcome:
    """The Dask task: execute one job on this worker (warm kernel unless ``warm=False``)."""
    from evaluation import engines, execute

    if warm:
        return engines.execute_warm(job)
    engines.use_warm_kernels(False)
    return execute.execute(job)


def connect(address: str | None = None, workers: int | None = None) -> tuple[Any, Any]:
    """A Dask client on ``address`` (or ``DASK_SCHEDULER_ADDRESS``), else on a new
    :class:`~dask.distributed.LocalCluster` of ``workers`` processes with one thread each.

    Returns
    -------
    tuple
        ``(client, cluster)``; ``cluster`` is ``None`` when an existing scheduler is used.
    """
    import dask
    from dask.distributed import Client, LocalCluster

    address = address or os.environ.get(ENV_SCHEDULER) or None
    if address:
        return Client(address), None
    # a run whose worker died is not sent to the next worker: it fails, the others go on
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
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
    from dask.distributed import as_completed

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
    started: dict[str, float] = {}
    try:
        futures = as_completed()
        running: dict[Any, str] = {}

        def submit_ready() -> None:
            for key in list(pending):
                if any(d not in outcomes for d in deps[key]):
                    continue
                pending.remove(key)
                job = by_key[key]
                if finalise is not None and deps[key]:
                    job = finalise(key)
                future = client.submit(
                    run_job, job, warm, key=f"run-{key}-{job.run_id}", pure=False, retries=0
                )
                started[key] = time.monotonic()
                running[future] = key
                futures.add(future)

        submit_ready()
        for future in futures:
            key = running.pop(future)
            try:
                outcome = future.result()
            except Exception as exc:  # task raised, worker lost (KilledWorker), cancelled
                outcome = Outcome(
                    key,
                    "failed",
                    duration_s=round(time.monotonic() - started[key], 2),
                    error={"summary": f"{key}: Dask task failed: {describe_error(exc)}"},
                )
            outcomes[key] = outcome
            if on_outcome is not None:
                on_outcome(outcome)
            submit_ready()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return [outcomes[j.run_key] for j in jobs]


_CLIENTS: dict[str, Any] = {}


@dataclass(frozen=True)
class DaskExecutor:
    """An executor for :func:`evaluation.runner.run_plan` that runs each job on a Dask cluster.

    The runner keeps its scheduling, dependencies, progress display and summary; each of its
    worker processes only hands its job to the cluster at ``address`` and waits for the
    outcome, so ``run_plan(jobs=N)`` keeps N runs on the cluster at a time. Picklable (the
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
        """Execute ``job`` on the cluster; a lost worker or a failing task is ``failed``."""
        from dask.distributed import Client

        start = time.monotonic()
        client = _CLIENTS.get(self.address)
        if client is None:
            client = _CLIENTS[self.address] = Client(self.address)
        future = client.submit(
            run_job, job, self.warm, key=f"run-{job.run_key}-{job.run_id}", pure=False, retries=0
        )
        try:
            return future.result()
        except Exception as exc:  # task raised, worker lost (KilledWorker), cancelled
            return Outcome(
                job.run_key,
                "failed",
                duration_s=round(time.monotonic() - start, 2),
                error={"summary": f"{job.run_key}: Dask task failed: {describe_error(exc)}"},
            )


def cluster_size(client: Any) -> int:
    """Threads (one per warm kernel) the cluster's workers have in total (at least 1)."""
    return max(1, sum(client.nthreads().values()))
