"""Faults of the Dask executor as an auditor checks them: an unreachable scheduler, and a
worker lost mid-plan through the runner (only its run fails; the next call completes it, the
call after does nothing)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from datetime import date

import pytest

from evaluation import history
from evaluation.distributed import DaskExecutor, SchedulerError, connect
from evaluation.runner import run_plan

TODAY = date(2026, 11, 24)
NOWHERE = "tcp://127.0.0.1:1"


def test_an_unreachable_scheduler_is_a_german_line_not_a_traceback():
    start = time.monotonic()
    with pytest.raises(SchedulerError) as caught:
        connect(NOWHERE, timeout=1)
    message = str(caught.value)
    assert message.startswith(f"Dask-Scheduler {NOWHERE} nicht erreichbar (")
    assert message.endswith("es wurde nichts ausgeführt") and "\n" not in message
    assert time.monotonic() - start < 10


@pytest.mark.slow
def test_the_executor_fails_a_run_in_one_line_when_the_scheduler_is_gone(probe_workspace):
    from evaluation.plan import load_plan
    from evaluation.runner import environment, prepare

    env = environment(probe_workspace)
    job = prepare(load_plan(None, root=probe_workspace, today=TODAY)[0], probe_workspace, env=env)
    outcome = DaskExecutor(NOWHERE)(job)
    assert outcome.status == "failed"
    assert outcome.error["summary"].startswith(f"Dask-Scheduler {NOWHERE} nicht erreichbar")
    assert not (probe_workspace.reports / job.run_key / "manifest.json").exists()


@pytest.mark.slow
def test_run_with_an_unreachable_scheduler_exits_1_with_one_line(probe_workspace):
    env = {
        **os.environ,
        "EVALUATION_HOME": str(probe_workspace.root),
        "DASK_SCHEDULER_ADDRESS": "",
    }
    done = subprocess.run(
        [sys.executable, "-m", "evaluation", "run", "--executor", "dask", "--scheduler", NOWHERE],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and f"Dask-Scheduler {NOWHERE} nicht erreichbar" in errors[0]
    assert not list(probe_workspace.reports.rglob("manifest.json"))


@pytest.mark.slow
def test_a_worker_killed_mid_plan_fails_its_run_only_and_the_next_calls_complete(
    probe_workspace, tmp_path, caplog
):
    import dask
    from dask.distributed import Client, LocalCluster

    marker = tmp_path / "killed-once"
    nb = probe_workspace.root / "notebooks" / "probe.ipynb"
    text = nb.read_text()
    # the kernel kills its parent, the Dask worker, in the first run for 2023 only
    killer = (
        f"if period_start == '2023-01-01' and not os.path.exists({str(marker)!r}):\\n",
        f"    open({str(marker)!r}, 'w').close()\\n",
        "    os.kill(os.getppid(), signal.SIGKILL)\\n",
    )
    marker_line = '"if fail_in == period_start:\\n",'
    assert marker_line in text
    text = text.replace(
        marker_line, '"import os, signal\\n",' + "".join(f'"{x}",' for x in killer) + marker_line
    )
    nb.write_text(text)
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        local = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        )
    client = Client(local)
    try:
        executor = DaskExecutor(local.scheduler_address)

        def call():
            caplog.clear()
            summary = run_plan(
                root=probe_workspace, today=TODAY, out=io.StringIO(), jobs=2, executor=executor
            )
            executed = sorted((o.run_key, o.status) for o in summary.outcomes)
            return summary, [x for x in executed if x[1] != "skipped"], caplog.text

        first, executed, logged = call()
        assert marker.exists()
        assert executed == [
            ("probe/jahr/2022", "ok"),
            ("probe/jahr/2023", "failed"),
            ("probe/jahr/2024", "ok"),
        ]
        assert first.exit_code == 1
        failed = next(o for o in first.outcomes if o.status == "failed")
        summary = failed.error["summary"]
        assert summary == "Dask worker lost while running it (KilledWorker); nothing published"
        assert "FAILED probe/jahr/2023: Dask worker lost" in logged, logged
        assert not (probe_workspace.reports / "probe" / "jahr" / "2023" / "manifest.json").exists()
        staging = probe_workspace.root / "data" / ".state" / "staging"
        assert not staging.exists() or not list(staging.iterdir())
        assert sorted(set(history.read(db=probe_workspace.history)["period"])) == ["2022", "2024"]

        second, executed, _ = call()
        assert executed == [("probe/jahr/2023", "ok")]
        assert second.exit_code == 0
        periods = sorted(set(history.read(db=probe_workspace.history)["period"]))
        assert periods == ["2022", "2023", "2024"]

        third, executed, _ = call()
        assert executed == [] and third.exit_code == 0
    finally:
        client.close()
        local.close()
