"""The runner under faults: crashes between publishing steps, dead workers, dependencies by
result, concurrent invocations, damaged files, full disks and read-only folders."""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import date

import pytest
from filelock import FileLock

from evaluation import execute as ex
from evaluation import history
from evaluation.execute import STEPS, Outcome
from evaluation.runner import run_plan

pytestmark = pytest.mark.slow
TODAY = date(2026, 11, 24)
KEY = "probe/jahr/2024"


def run(ws, **kwargs):
    out = io.StringIO()
    summary = run_plan(root=ws, today=TODAY, out=out, **kwargs)
    return summary, out.getvalue()


def cli(ws, *args, env=None, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "evaluation", *args],
        env={**os.environ, "EVALUATION_HOME": str(ws.root), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def manifest(ws, key=KEY):
    return json.loads((ws.reports / key / "manifest.json").read_text())


def add_summary_plan(ws, start=2024):
    """A plan that reads the probe's figures (after: probe), like the annual report."""
    text = (ws.notebooks / "probe.ipynb").read_text()
    (ws.notebooks / "summary.ipynb").write_text(
        text.replace('ctx.record(\\"probe_', 'ctx.record(\\"summary_')
    )
    assert "summary_reached" in (ws.notebooks / "summary.ipynb").read_text()
    (ws.params / "summary.yml").write_text(
        "notebook: summary.ipynb\ntitle: Summary\nafter: [probe]\n"
        f"schedules:\n  - name: jahr\n    cadence: yearly\n    start: {start}\n    end: 2024\n"
    )


def assert_consistent(ws, key=KEY):
    """Files, manifest and history agree for ``key``; nothing is left in flight."""
    m = manifest(ws, key)
    assert m["run_id"] in (ws.reports / key / "report.html").read_text()
    assert m["run_id"] in history.published_run_ids(db=ws.history)
    figures = history.read(db=ws.history)
    assert set(figures.loc[figures["run_key"] == key, "run_id"]) == {m["run_id"]}
    assert not ex.pending_commits(ws)
    assert not list(ws.staging.iterdir()) if ws.staging.exists() else True
    assert not history.staged_runs(db=ws.history)


# ---- one commit point --------------------------------------------------------------------


@pytest.mark.parametrize("step", STEPS)
def test_a_crash_between_any_two_publishing_steps_is_repaired(probe_workspace, step):
    ws = probe_workspace
    summary, out = run(ws, only=[KEY])
    assert summary.count("ok") == 1, out
    old = manifest(ws)["run_id"]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "evaluation",
            "run",
            "--only",
            KEY,
            "--force",
            "--today",
            "2026-11-24",
        ],
        env={**os.environ, "EVALUATION_HOME": str(ws.root), ex.ENV_FAILPOINT: step},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    assert proc.wait(timeout=300) == -signal.SIGKILL, "the failpoint killed the whole process"
    with FileLock(str(ex.lock_path(ws, KEY)), timeout=30):
        pass  # the killed worker has gone too
    committed = STEPS.index(step) >= STEPS.index("journal")
    assert bool(ex.pending_commits(ws)) == committed
    # the next invocation detects and repairs (its first step), then completes the plan
    repaired = ex.recover(ws)
    assert len(repaired) == 1 and ("completed" in repaired[0]) == committed, repaired
    assert_consistent(ws)
    new = manifest(ws)["run_id"]
    assert (new != old) == committed, "committed runs are completed, others leave the old one"
    assert ex.recover(ws) == [], "nothing left to repair"
    summary, out = run(ws, only=[KEY])
    assert summary.exit_code == 0, out
    assert_consistent(ws)


def test_a_history_that_does_not_know_the_published_run_is_not_up_to_date(probe_workspace):
    """Before: figures committed before the manifest, a crash, then "Nothing to do"."""
    ws = probe_workspace
    run(ws, only=[KEY])
    with sqlite3.connect(ws.history) as con:
        con.execute("DELETE FROM runs")
    summary, out = run(ws, only=[KEY])
    assert summary.count("ok") == 1, out
    assert_consistent(ws)


# ---- worker isolation ---------------------------------------------------------------------


def kill_2023(job):
    """Executor: the worker of probe/jahr/2023 dies as if killed by the OOM killer."""
    if job.run_key == "probe/jahr/2023":
        os.kill(os.getpid(), signal.SIGKILL)
    return ex.execute(job)


def test_a_dead_worker_fails_only_its_own_run(probe_workspace):
    ws = probe_workspace
    add_summary_plan(ws)
    summary, out = run(ws, jobs=2, executor=kill_2023)
    statuses = {o.run_key: o.status for o in summary.outcomes}
    assert statuses == {
        "probe/jahr/2022": "ok",
        "probe/jahr/2023": "failed",
        "probe/jahr/2024": "ok",
        "summary/jahr/2024": "ok",
    }, out
    assert "FAILED probe/jahr/2023: probe.ipynb: worker killed by signal SIGKILL" in out
    assert "Traceback" not in out and "Done: 3 ok, 1 failed." in out
    assert (ws.reports / "index.html").exists()
    newest = next(r for r in history.recent_runs(root=ws) if r["run_key"] == "probe/jahr/2023")
    assert newest["status"] == "failed"
    # the next call runs what failed, and the summary again (its inputs changed)
    summary, out = run(ws, jobs=2)
    assert {o.run_key for o in summary.outcomes if o.status == "ok"} == {
        "probe/jahr/2023",
        "summary/jahr/2024",
    }, out


def broken_executor(job):
    raise RuntimeError("executor broke")


def test_an_executor_that_raises_fails_its_runs_with_one_line(probe_workspace):
    summary, out = run(probe_workspace, executor=broken_executor)
    assert summary.count("failed") == 3
    assert "FAILED probe/jahr/2022: probe/jahr/2022: RuntimeError: executor broke" in out


# ---- dependencies by result ----------------------------------------------------------------


def replace_figure(ws, key, value, suppressed=False):
    """Another process publishes new figures for ``key`` (same inputs as far as we know)."""
    history.commit_figures(
        [
            {
                "indicator_id": "probe_reached",
                "period": key.rsplit("/", 1)[1],
                "value": value,
                "n": value,
                "suppressed": suppressed,
            }
        ],
        run_id=manifest(ws, key)["run_id"],
        run_key=key,
        snapshot_id=None,
        db=ws.history,
    )


def test_a_dependent_plan_follows_the_figures_it_reads(probe_workspace):
    ws = probe_workspace
    add_summary_plan(ws)
    summary, out = run(ws, jobs=2)
    assert summary.count("ok") == 4, out
    first = manifest(ws, "summary/jahr/2024")
    assert first["inputs_digest"] == history.figures_digest(
        [f"probe/jahr/{y}" for y in (2022, 2023, 2024)], db=ws.history
    )
    plan_out = io.StringIO()
    from evaluation.runner import dry_run

    dry_run(root=ws, today=TODAY, out=plan_out)
    assert "to run" not in plan_out.getvalue(), "plan agrees with run: all up to date"
    # a figure it reads is suppressed now: the summary is no longer up to date
    replace_figure(ws, KEY, 40, suppressed=True)
    plan_out = io.StringIO()
    dry_run(root=ws, today=TODAY, out=plan_out)
    line = next(x for x in plan_out.getvalue().splitlines() if x.startswith("summary/jahr/2024"))
    assert "to run" in line
    summary, out = run(ws)
    assert [o.run_key for o in summary.outcomes if o.status == "ok"] == ["summary/jahr/2024"]
    assert manifest(ws, "summary/jahr/2024")["inputs_digest"] != first["inputs_digest"]


def test_matrix_dependencies_stay_in_their_cell(probe_workspace):
    from evaluation.plan import load_plan
    from evaluation.runner import dependencies

    ws = probe_workspace
    plan = ws.params / "probe.yml"
    plan.write_text(plan.read_text() + "    matrix:\n      language: [de, en]\n")
    add_summary_plan(ws)
    summary_yml = ws.params / "summary.yml"
    summary_yml.write_text(summary_yml.read_text() + "    matrix:\n      language: [en]\n")
    runs = load_plan(root=ws, today=TODAY)
    dependent = next(r for r in runs if r.plan == "summary")
    deps = dependencies(dependent, runs)
    assert sorted(d.key for d in deps) == [
        f"probe/jahr/{y}/language-en" for y in (2022, 2023, 2024)
    ]


def test_a_dependent_waits_for_inputs_running_elsewhere(probe_workspace):
    ws = probe_workspace
    add_summary_plan(ws)
    run(ws, jobs=2)
    before = manifest(ws, "summary/jahr/2024")
    held = threading.Event()
    released = {}

    def other_process():
        with FileLock(str(ex.lock_path(ws, KEY))):
            held.set()
            time.sleep(3)
            replace_figure(ws, KEY, 41)  # it publishes new figures, then lets go
            released["at"] = time.time()

    thread = threading.Thread(target=other_process)
    thread.start()
    held.wait(10)
    try:
        summary, out = run(ws, only=["summary"], wait_s=60)
    finally:
        thread.join()
    assert [o.status for o in summary.outcomes] == ["ok"], out
    after = manifest(ws, "summary/jahr/2024")
    assert after["run_id"] != before["run_id"]
    assert after["inputs_digest"] == history.figures_digest(
        [f"probe/jahr/{y}" for y in (2022, 2023, 2024)], db=ws.history
    ), "published from the newest figures"
    from datetime import datetime

    assert datetime.fromisoformat(after["started_at"]).timestamp() >= int(released["at"])


def test_a_dependent_is_deferred_when_its_inputs_stay_busy(probe_workspace):
    ws = probe_workspace
    add_summary_plan(ws)
    run(ws, jobs=2)
    replace_figure(ws, KEY, 42)
    before = manifest(ws, "summary/jahr/2024")
    with FileLock(str(ex.lock_path(ws, KEY))):
        summary, out = run(ws, only=["summary"], wait_s=1)
    assert [o.status for o in summary.outcomes] == ["deferred"], out
    assert "DEFERRED summary/jahr/2024: waits for probe/jahr/2024 running elsewhere" in out
    assert manifest(ws, "summary/jahr/2024") == before, "nothing published from old figures"
    assert summary.exit_code == 0


def stale_executor(job):
    """Executor: while the summary runs, another process publishes new probe figures."""
    from evaluation.paths import paths

    if job.run_key.startswith("summary/"):
        replace_figure(paths(job.root), KEY, time.time_ns() % 100_000)
    return ex.execute(job)


def test_a_run_whose_inputs_change_while_it_runs_is_not_published(probe_workspace):
    ws = probe_workspace
    add_summary_plan(ws)
    run(ws, jobs=2)
    replace_figure(ws, KEY, 44)
    summary, out = run(ws, only=["summary"], executor=stale_executor)
    assert "while it ran" in out and "not published; running it again" in out
    assert [o.status for o in summary.outcomes] == ["deferred"], out  # it changes every time
    # a normal call then publishes it from the newest figures
    summary, out = run(ws, only=["summary"])
    assert [o.status for o in summary.outcomes] == ["ok"], out
    assert manifest(ws, "summary/jahr/2024")["inputs_digest"] == history.figures_digest(
        [f"probe/jahr/{y}" for y in (2022, 2023, 2024)], db=ws.history
    )


def test_two_identical_invocations_two_seconds_apart(probe_workspace):
    ws = probe_workspace
    add_summary_plan(ws)
    env = {**os.environ, "EVALUATION_HOME": str(ws.root)}
    cmd = [sys.executable, "-m", "evaluation", "run", "--today", "2026-11-24", "-j", "2"]
    first = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    time.sleep(2)
    second = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    outs = [p.communicate(timeout=600) for p in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, outs
    assert all("Traceback" not in o[1] for o in outs)
    digest = history.figures_digest([f"probe/jahr/{y}" for y in (2022, 2023, 2024)], db=ws.history)
    assert manifest(ws, "summary/jahr/2024")["inputs_digest"] == digest
    for key in ("probe/jahr/2022", "probe/jahr/2023", KEY, "summary/jahr/2024"):
        assert_consistent(ws, key)
    result = cli(ws, "plan", "--today", "2026-11-24")
    assert "to run" not in result.stdout and "4 up to date" in result.stdout, result.stdout


# ---- faults as one line ------------------------------------------------------------------


def one_error_line(result):
    errors = [x for x in result.stderr.splitlines() if " ERROR " in x or x.startswith("error")]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return errors[0]


def test_latest_naming_a_deleted_snapshot(probe_workspace):
    ws = probe_workspace
    (ws.snapshots / "LATEST").write_text("0123456789abcdef\n")
    result = cli(ws, "run", "--today", "2026-11-24")
    assert result.returncode == 2
    line = one_error_line(result)
    assert "LATEST names snapshot '0123456789abcdef', which does not exist" in line
    assert "there are: " in line
    assert not (ws.reports / "probe").exists()


def test_a_damaged_snapshot_file_is_noticed_although_nothing_changed(probe_workspace):
    ws = probe_workspace
    run(ws, only=[KEY])
    snap = ws.snapshots / (ws.snapshots / "LATEST").read_text().strip()
    table = snap / "participants.parquet"
    data = bytearray(table.read_bytes())
    data[len(data) // 2] ^= 0xFF
    table.write_bytes(bytes(data))
    result = cli(ws, "run", "--today", "2026-11-24")
    assert result.returncode == 2
    line = one_error_line(result)
    assert f"{table}: damaged" in line and "differs from the manifest" in line


def test_a_corrupted_history(probe_workspace):
    ws = probe_workspace
    run(ws, only=[KEY])
    ws.history.write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        ws.history.with_name(ws.history.name + suffix).unlink(missing_ok=True)
    result = cli(ws, "run", "--today", "2026-11-24")
    assert result.returncode == 1
    line = one_error_line(result)
    assert str(ws.history) in line and "damaged or not an SQLite database" in line
    status = cli(ws, "status")
    assert status.returncode == 1
    assert "damaged or not an SQLite database" in one_error_line(status)
    assert KEY in status.stdout, "status lists the runs from the manifests instead"


def full_disk(job):
    """Executor: the disk is full when the report is written."""
    from evaluation import data

    real = data.atomic_write_text

    def write(path, text):
        if path.name == "report.html":
            raise OSError(28, "No space left on device", str(path))
        return real(path, text)

    data.atomic_write_text = write
    return ex.execute(job)


def test_a_full_disk_names_the_file_and_publishes_nothing(probe_workspace):
    ws = probe_workspace
    summary, out = run(ws, only=[KEY], executor=full_disk)
    assert summary.count("failed") == 1
    line = next(x for x in out.splitlines() if "FAILED probe/jahr/2024:" in x)
    assert "report.html: no space left on device" in line and "report not published" in line
    assert not (ws.reports / KEY / "manifest.json").exists()
    assert history.read(db=ws.history).empty
    assert not list(ws.staging.iterdir())
    summary, out = run(ws, only=[KEY])
    assert summary.count("ok") == 1, out
    assert_consistent(ws)


def test_a_read_only_reports_folder(probe_workspace, monkeypatch):
    ws = probe_workspace
    ws.reports.mkdir()
    from pathlib import Path

    real = Path.write_bytes

    def write_bytes(self, data):
        if self.parent == ws.reports:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    from evaluation.runner import WorkspaceError

    with pytest.raises(
        WorkspaceError,
        match=r"reports/\.probe-\d+: not writable \(Permission denied\); nothing was run",
    ):
        run(ws)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_reports_folder_for_real(probe_workspace):
    ws = probe_workspace
    ws.reports.mkdir()
    ws.reports.chmod(0o555)
    try:
        result = cli(ws, "run", "--today", "2026-11-24")
    finally:
        ws.reports.chmod(0o755)
    assert result.returncode == 1
    assert "not writable" in one_error_line(result)


def record_only(job):
    return Outcome(job.run_key, "ok", 0.01)
