"""The main job: execution, skipping, failure isolation, locking, atomic publishing."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import nbformat
import pytest
from filelock import FileLock

from evaluation import history, provenance
from evaluation.execute import lock_path
from evaluation.plan import load_plan
from evaluation.runner import environment, prepare, run_plan
from tests.conftest import set_probe_failure

pytestmark = pytest.mark.slow
TODAY = date(2026, 11, 24)


def run(ws, **kwargs):
    out = io.StringIO()
    summary = run_plan(root=ws, today=TODAY, out=out, **kwargs)
    return summary, out.getvalue()


def published(ws):
    return sorted(
        p.relative_to(ws.reports).as_posix()
        for p in ws.reports.rglob("*")
        if p.is_file() and ".state" not in p.parts
    )


def never(job):
    raise AssertionError(f"{job.run_key} should not have been executed")


def test_runs_publish_reports_manifests_and_history(probe_workspace):
    ws = probe_workspace
    summary, out = run(ws)
    assert summary.exit_code == 0 and summary.count("ok") == 3, out
    assert "[3/3]" in out and "Report index:" in out
    for year in (2022, 2023, 2024):
        folder = ws.reports / "probe" / "jahr" / str(year)
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["status"] == "ok"
        assert manifest["parameters"]["period_start"] == f"{year}-01-01"
        assert manifest["data"]["snapshot_id"] == manifest["parameters"]["snapshot"] != "latest"
        assert manifest["code"]["source_fingerprint"] == provenance.source_fingerprint()
        assert {"pandas", "statsmodels", "plotly", "papermill"} <= set(manifest["environment"])
        assert manifest["duration_s"] > 0 and manifest["ended_at"] >= manifest["started_at"]
        # where the time after the notebook went, one entry per format made
        assert {"html", "xlsx", "docx"} <= set(manifest["render_s"])
        assert all(seconds >= 0 for seconds in manifest["render_s"].values())
        html = (folder / "report.html").read_text()
        assert manifest["run_id"] in html, "the footer names the run"
    figures = history.read("probe_reached", db=ws.history)
    assert figures["period"].tolist() == ["2022", "2023", "2024"]
    small = history.read("probe_small", db=ws.history)
    assert small["suppressed"].all() and small["value"].isna().all()
    index = (ws.reports / "index.html").read_text()
    assert set(re.findall(r"probe/jahr/\d{4}", index)) == {
        f"probe/jahr/{y}" for y in (2022, 2023, 2024)
    }
    assert "Testfeld" in index
    runs = history.recent_runs(root=ws)
    assert {r["status"] for r in runs} == {"ok"} and len(runs) == 3


def test_nothing_changed_means_nothing_runs_and_nothing_is_written(probe_workspace):
    ws = probe_workspace
    run(ws)
    before = {
        p: p.stat().st_mtime_ns
        for p in ws.reports.rglob("*")
        if p.is_file() and ".state" not in p.parts
    }
    summary, out = run(ws, executor=never)
    assert summary.count("skipped") == 3 and summary.exit_code == 0
    assert "INFO    Nothing to do: 3 runs are up to date." in out
    after = {
        p: p.stat().st_mtime_ns
        for p in ws.reports.rglob("*")
        if p.is_file() and ".state" not in p.parts
    }
    assert after == before


def _fingerprints(ws):
    env = environment(ws)
    return {
        r.key: prepare(r, ws, env=env).manifest["fingerprint"]
        for r in load_plan(root=ws, today=TODAY)
    }


def test_fingerprint_follows_notebook_parameters_and_data(probe_workspace, demo_tables):
    ws = probe_workspace
    base = _fingerprints(ws)
    assert _fingerprints(ws) == base
    # saving outputs in JupyterLab is not a change; editing a cell is
    nb_path = ws.notebooks / "probe.ipynb"
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells[2].execution_count = 7
    nbformat.write(nb, nb_path)
    assert _fingerprints(ws) == base
    nb.cells[2].source += "\n# changed"
    nbformat.write(nb, nb_path)
    changed_nb = _fingerprints(ws)
    assert all(changed_nb[k] != base[k] for k in base)
    # one parameter for everyone
    params = ws.params / "probe.yml"
    params.write_text(params.read_text().replace("agency: Testagentur", "agency: Andere"))
    changed_params = _fingerprints(ws)
    assert all(changed_params[k] != changed_nb[k] for k in base)
    # new data snapshot
    from evaluation import data

    tables = dict(demo_tables)
    tables["participants"] = tables["participants"].iloc[:-1]
    data.write_snapshot(tables, source={"kind": "test"}, root=ws)
    assert all(_fingerprints(ws)[k] != changed_params[k] for k in base)


def test_package_source_change_changes_the_fingerprint(tmp_path):
    package = Path(provenance.__file__).parent
    import shutil

    copy = tmp_path / "evaluation"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = provenance.source_fingerprint(copy)
    (copy / "labels.py").write_text((copy / "labels.py").read_text() + "\n# edit\n")
    provenance.source_fingerprint.cache_clear()
    assert provenance.source_fingerprint(copy) != before


def test_a_failing_notebook_does_not_stop_the_others(probe_workspace):
    ws = probe_workspace
    run(ws)
    good = (ws.reports / "probe/jahr/2023/report.html").read_text()
    set_probe_failure(ws, "2023-01-01")
    summary, out = run(ws)
    assert summary.exit_code == 1
    assert summary.count("ok") == 2 and summary.count("failed") == 1
    line = next(x for x in out.splitlines() if " FAILED probe/jahr/2023:" in x)
    assert "probe.ipynb, cell" in line and "ValueError: planted failure for 2023-01-01" in line
    folder = ws.reports / "probe/jahr/2023"
    executed = nbformat.read(folder / "failed.ipynb", as_version=4)
    banner = "".join(c.source for c in executed.cells if c.cell_type == "markdown")
    assert "An Exception was encountered" in banner, "papermill's error banner is kept"
    assert (folder / "report.html").read_text() == good, "the last good report stays"
    failed = json.loads((folder / "failed.json").read_text())
    assert failed["status"] == "failed" and failed["error"]["ename"] == "ValueError"
    assert "fehlgeschlagen" in (ws.reports / "index.html").read_text()
    newest = next(r for r in history.recent_runs(root=ws) if r["run_key"] == "probe/jahr/2023")
    assert newest["status"] == "failed" and "planted failure" in newest["error"]
    # a failed run is retried next time even though nothing changed
    summary, _ = run(ws)
    assert summary.count("failed") == 1 and summary.count("skipped") == 2


def test_a_run_held_by_another_process_is_left_to_it(probe_workspace):
    ws = probe_workspace
    lock_file = lock_path(ws, "probe/jahr/2022")
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(lock_file)):
        summary, out = run(ws, only=["probe/jahr/2022", "probe/jahr/2023"])
    statuses = {o.run_key: o.status for o in summary.outcomes}
    assert statuses == {"probe/jahr/2022": "locked", "probe/jahr/2023": "ok"}
    assert "running in another process" in out
    assert not (ws.reports / "probe/jahr/2022").exists()


def test_killed_run_leaves_no_half_written_file(probe_workspace):
    ws = probe_workspace
    run(ws, only=["probe/jahr/2022"])
    proc = subprocess.Popen(
        [sys.executable, "-m", "evaluation", "run", "--force", "--today", TODAY.isoformat()],
        env={**os.environ, "EVALUATION_HOME": str(ws.root)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    staging = ws.staging
    assert ws.reports not in staging.parents, "staging lives outside the published tree"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(staging.glob("*/figures.json")):
        time.sleep(0.05)
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    for year in (2022, 2023, 2024):
        with FileLock(str(lock_path(ws, f"probe/jahr/{year}")), timeout=30):
            pass  # the killed workers have gone too
    for path in ws.reports.rglob("*"):
        if not path.is_file() or ".state" in path.parts:
            continue
        assert not path.name.startswith("."), f"temporary file visible: {path}"
        if path.suffix == ".html":
            assert path.read_text().rstrip().endswith("</html>"), path
        if path.suffix in (".json", ".ipynb"):
            json.loads(path.read_text())
    left = [f for f in staging.glob("*/figures.json")]
    assert left, "the kill came while a run was staged"
    assert json.loads(left[0].read_text()), "staging holds the unprotected figures"
    assert not any(p.name == "figures.json" for p in ws.reports.rglob("*"))
    # and the next run removes the staging of the killed runs and completes the plan
    summary, out = run(ws)
    assert summary.exit_code == 0, out
    assert "staging of an interrupted run removed" in out
    assert not any(staging.iterdir())
    assert not history.staged_runs(db=ws.history)
    assert len([p for p in published(ws) if p.endswith("report.html")]) == 3


def test_a_raw_table_cannot_reach_a_report(probe_workspace):
    """In report mode the DataFrame guard turns a raw table into a failed run."""
    ws = probe_workspace
    nb_path = ws.notebooks / "probe.ipynb"
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("people.head()"))
    nbformat.write(nb, nb_path)
    summary, out = run(ws, only=["probe/jahr/2024"])
    assert summary.count("failed") == 1, out
    assert "DisclosureError" in out
    assert not (ws.reports / "probe/jahr/2024/report.html").exists()


def record_only(job):
    """Executor stand-in for plan-selection tests: executes nothing, reports success."""
    from evaluation.execute import Outcome

    return Outcome(job.run_key, "ok", 0.01)


def test_due_runs_what_is_due_and_catches_up_missed_periods(probe_workspace):
    ws = probe_workspace
    plan = ws.params / "probe.yml"
    plan.write_text(plan.read_text().replace("    end: 2024\n", "    lag_days: 31\n"))
    out = io.StringIO()
    summary = run_plan(root=ws, due=True, today=date(2025, 1, 15), out=out, executor=record_only)
    assert sorted(o.run_key for o in summary.outcomes) == ["probe/jahr/2022", "probe/jahr/2023"]
    # the machine was off for a year: the next call catches up 2024 and 2025
    summary = run_plan(root=ws, due=True, today=date(2026, 3, 1), out=out, executor=record_only)
    assert sorted(o.run_key for o in summary.outcomes)[-2:] == [
        "probe/jahr/2024",
        "probe/jahr/2025",
    ]


def test_notebooks_run_unchanged_with_the_plain_papermill_cli(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(
        "period_start: '2023-01-01'\nperiod_end: '2023-12-31'\nsuppression_threshold: 10\n"
    )
    out = tmp_path / "out.ipynb"
    papermill = Path(sys.executable).parent / "papermill"
    result = subprocess.run(
        [
            str(papermill),
            str(Path(__file__).parents[1] / "notebooks" / "labour_market.ipynb"),
            str(out),
            "-f",
            str(params),
            "--cwd",
            str(Path(__file__).parents[1] / "notebooks"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    executed = nbformat.read(out, as_version=4)
    injected = next(
        c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])
    )
    assert "suppression_threshold = 10" in injected.source


def test_a_plan_runs_after_the_plans_it_reads(probe_workspace):
    """A report that reads other runs' figures waits for them and re-runs when they change."""
    ws = probe_workspace
    shutil_copy = __import__("shutil").copy
    shutil_copy(ws.notebooks / "probe.ipynb", ws.notebooks / "summary.ipynb")
    (ws.params / "summary.yml").write_text(
        "notebook: summary.ipynb\ntitle: Summary\nafter: [probe]\n"
        "schedules:\n  - name: jahr\n    cadence: yearly\n    start: 2024\n    end: 2024\n"
    )
    summary, out = run(ws, jobs=2)
    assert summary.count("ok") == 4, out
    first = json.loads((ws.reports / "probe/jahr/2024/manifest.json").read_text())
    second = json.loads((ws.reports / "summary/jahr/2024/manifest.json").read_text())
    assert second["started_at"] >= first["ended_at"]
    assert second["depends_on"]["probe/jahr/2024"] == first["fingerprint"]
    assert set(second["depends_on"]) == {"probe/jahr/2022", "probe/jahr/2023", "probe/jahr/2024"}
    # a change that re-runs the probe re-runs the summary too
    params = ws.params / "probe.yml"
    params.write_text(params.read_text().replace("agency: Testagentur", "agency: Andere"))
    summary, _ = run(ws, only=["summary"], executor=record_only)
    assert [o.run_key for o in summary.outcomes] == ["summary/jahr/2024"]
