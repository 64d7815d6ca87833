"""Dask as the executor: a LocalCluster of separate worker processes runs the probe plan."""

from __future__ import annotations

import io
import os
import shutil
from dataclasses import replace
from datetime import date

import pytest

from evaluation import history
from evaluation.distributed import _order, run_jobs_on_dask
from evaluation.plan import load_plan
from evaluation.runner import environment, prepare
from tests.conftest import set_probe_failure

pytestmark = pytest.mark.slow
TODAY = date(2026, 11, 24)


def jobs_of(ws):
    env = environment(ws)
    return [prepare(run, ws, env=env) for run in load_plan(None, root=ws, today=TODAY)]


@pytest.fixture
def cluster():
    import dask
    from dask.distributed import Client, LocalCluster

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        local = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        )
    client = Client(local)
    yield local, client
    client.close()
    local.close()


def test_a_local_cluster_of_two_processes_runs_and_publishes_the_plan(
    probe_workspace, tmp_path, cluster
):
    local, client = cluster
    pids = set(client.run(os.getpid).values())
    assert len(pids) == 2 and os.getpid() not in pids
    set_probe_failure(probe_workspace, "2023-01-01")
    jobs = jobs_of(probe_workspace)
    out = io.StringIO()
    seen = []
    outcomes = run_jobs_on_dask(
        jobs, address=local.scheduler_address, out=out, on_outcome=seen.append
    )
    assert "Dask-Dashboard: http" in out.getvalue()
    assert [o.run_key for o in outcomes] == [j.run_key for j in jobs]
    status = {o.run_key: o.status for o in outcomes}
    assert status == {
        "probe/jahr/2022": "ok",
        "probe/jahr/2023": "failed",
        "probe/jahr/2024": "ok",
    }
    assert sorted(o.run_key for o in seen) == sorted(status)
    failed = next(o for o in outcomes if o.status == "failed")
    assert "planted failure for 2023-01-01" in failed.error["summary"]
    for year in ("2022", "2024"):
        folder = probe_workspace.reports / "probe" / "jahr" / year
        assert (folder / "report.html").exists() and (folder / "manifest.json").exists()
    assert (probe_workspace.reports / "probe" / "jahr" / "2023" / "failed.ipynb").exists()
    figures = history.read(db=probe_workspace.history)
    assert sorted(set(figures["period"])) == ["2022", "2024"]

    # the same figures as the local executor with fresh kernels
    from evaluation.paths import paths
    from evaluation.runner import run_plan

    local_ws = paths(tmp_path / "local")
    shutil.copytree(probe_workspace.root / "notebooks", local_ws.root / "notebooks")
    shutil.copytree(probe_workspace.root / "params", local_ws.root / "params")
    shutil.copytree(
        probe_workspace.root / "data" / "snapshots", local_ws.root / "data" / "snapshots"
    )
    run_plan(root=local_ws, today=TODAY, out=io.StringIO(), jobs=1)
    mine = figures[["indicator_id", "period", "value", "n", "suppressed"]].astype(object)
    theirs = history.read(db=local_ws.history)[
        ["indicator_id", "period", "value", "n", "suppressed"]
    ].astype(object)

    def rows(frame):
        return sorted(map(str, frame.where(frame.notna(), None).to_dict("records")))

    assert rows(mine) == rows(theirs)


def test_a_dependent_run_is_submitted_after_its_input_and_finalised_here(probe_workspace, cluster):
    local, _ = cluster
    first, second, _third = jobs_of(probe_workspace)
    dependent = replace(second, depends_on=(first.run_key,))
    when_ready = []

    def finalise(key):
        published = probe_workspace.reports / first.run_key / "manifest.json"
        when_ready.append((key, published.exists()))
        return dependent

    outcomes = run_jobs_on_dask(
        [dependent, first], address=local.scheduler_address, finalise=finalise, out=io.StringIO()
    )
    assert [o.status for o in outcomes] == ["ok", "ok"]
    assert when_ready == [(second.run_key, True)]


def test_a_lost_worker_fails_only_its_run(probe_workspace, cluster):
    local, _ = cluster
    nb = probe_workspace.root / "notebooks" / "probe.ipynb"
    text = nb.read_text()
    # the kernel kills its parent, the Dask worker, in the run for 2023
    killer = (
        "if period_start == '2023-01-01':\\n",
        "    import os, signal\\n",
        "    os.kill(os.getppid(), signal.SIGKILL)\\n",
    )
    marker = '"if fail_in == period_start:\\n",'
    assert marker in text
    nb.write_text(text.replace(marker, "".join(f'"{line}",' for line in killer) + marker))
    jobs = jobs_of(probe_workspace)
    outcomes = run_jobs_on_dask(jobs, address=local.scheduler_address, out=io.StringIO())
    status = {o.run_key: o.status for o in outcomes}
    assert status["probe/jahr/2023"] == "failed", outcomes
    assert next(o for o in outcomes if o.status == "failed").error["summary"] == (
        "Dask worker lost while running it (KilledWorker); nothing published"
    )
    assert status["probe/jahr/2022"] == status["probe/jahr/2024"] == "ok"


def test_bad_job_lists_are_refused_before_anything_runs(probe_workspace):
    first, second, _ = jobs_of(probe_workspace)
    with pytest.raises(ValueError, match="occurs twice"):
        run_jobs_on_dask([first, first], workers=1)
    a = replace(first, depends_on=(second.run_key,))
    b = replace(second, depends_on=(first.run_key,))
    with pytest.raises(ValueError, match="cycle"):
        _order([a, b])
    assert run_jobs_on_dask([], workers=1) == []


def test_the_runner_with_the_dask_executor_runs_on_the_cluster(probe_workspace, cluster):
    from evaluation.distributed import DaskExecutor, cluster_size
    from evaluation.runner import run_plan

    local, client = cluster
    assert cluster_size(client) == 2
    set_probe_failure(probe_workspace, "2024-01-01")
    summary = run_plan(
        root=probe_workspace,
        today=TODAY,
        out=io.StringIO(),
        jobs=2,
        executor=DaskExecutor(local.scheduler_address),
    )
    assert sorted((o.run_key, o.status) for o in summary.outcomes) == [
        ("probe/jahr/2022", "ok"),
        ("probe/jahr/2023", "ok"),
        ("probe/jahr/2024", "failed"),
    ]
    assert sorted(set(history.read(db=probe_workspace.history)["period"])) == ["2022", "2023"]
    # the tasks ran in the cluster's workers: they hold the warm kernels
    kernels = client.run(_kernels_started)
    assert sum(kernels.values()) >= 1


def _kernels_started() -> int:
    from evaluation import engines

    return sum(pool.started for pool in engines._POOLS)
