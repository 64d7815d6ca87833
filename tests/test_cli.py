"""The command line: help everywhere, names checked, overrides, pipes, logging, schedules, make."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from evaluation import history
from evaluation.runner import dry_run, run_plan

REPO = Path(__file__).resolve().parents[1]
TODAY = date(2026, 11, 24)
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} (DEBUG|INFO|WARNING|ERROR) ")


def cli(root, *args, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "evaluation", *args],
        env={**os.environ, "EVALUATION_HOME": str(root)},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize(
    "command", ["run", "plan", "status", "demo", "index", "ingest", "templates", None]
)
def test_every_subcommand_answers_help(command, tmp_path):
    args = [command, "--help"] if command else ["--help"]
    result = cli(tmp_path, *args)
    if command == "templates":
        from evaluation.ingest import cli as ingest_cli

        if not hasattr(ingest_cli, "templates_main"):
            assert result.returncode == 2
            assert result.stderr.count("\n") == 1 and "not available" in result.stderr
            return
    assert result.returncode == 0, result.stderr
    assert "usage: python -m evaluation" in result.stdout
    assert "Traceback" not in result.stderr


def test_unknown_plan_schedule_and_period_are_usage_errors(probe_workspace):
    ws = probe_workspace
    result = cli(ws.root, "run", "--only", "prboe", "--today", "2026-11-24")
    assert result.returncode == 2
    assert "--only prboe: no plan 'prboe' – did you mean 'probe'? (plans: probe)" in result.stderr
    result = cli(ws.root, "run", "--only", "probe/jahre", "--today", "2026-11-24")
    assert result.returncode == 2 and "has no schedule 'jahre'" in result.stderr
    assert "(schedules: jahr)" in result.stderr
    result = cli(ws.root, "run", "--only", "probe/jahr/2031", "--today", "2026-11-24")
    assert result.returncode == 2 and "periods 2022, 2023, 2024" in result.stderr
    result = cli(ws.root, "plan", "--period", "2024-q1", "--today", "2026-11-24")
    assert result.returncode == 2
    assert "--period 2024-q1: no run of the selected plans has this period" in result.stderr
    assert "(periods: 2022, 2023, 2024)" in result.stderr
    assert not ws.reports.exists(), "nothing ran"


def test_overrides_are_checked_against_the_notebook(probe_workspace):
    ws = probe_workspace
    result = cli(ws.root, "run", "-p", "suppresion_threshold=10", "--today", "2026-11-24")
    assert result.returncode == 2
    assert (
        "-p suppresion_threshold: unknown parameter of probe.ipynb – did you mean " in result.stderr
    )
    result = cli(ws.root, "run", "-p", "suppression_threshold=ten", "--today", "2026-11-24")
    assert result.returncode == 2 and "expected int, got str 'ten'" in result.stderr
    result = cli(ws.root, "run", "-p", "period_start=2020-01-01", "--today", "2026-11-24")
    assert result.returncode == 2 and "set by the schedule's periods" in result.stderr
    result = cli(ws.root, "run", "-p", "novalue", "--today", "2026-11-24")
    assert result.returncode == 2 and "expected KEY=VALUE" in result.stderr


@pytest.mark.slow
def test_an_override_runs_apart_from_the_scheduled_reports(probe_workspace):
    ws = probe_workspace
    out = io.StringIO()
    run_plan(root=ws, today=TODAY, out=out, only=["probe/jahr/2024"])
    scheduled = json.loads((ws.reports / "probe/jahr/2024/manifest.json").read_text())
    figures = history.read(db=ws.history)
    summary = run_plan(
        root=ws,
        today=TODAY,
        out=out,
        only=["probe/jahr/2024"],
        overrides={"suppression_threshold": 2},
    )
    assert summary.count("ok") == 1, out.getvalue()
    adhoc = list((ws.reports / "adhoc" / "probe/jahr/2024").glob("*/run.json"))
    assert len(adhoc) == 1
    manifest = json.loads(adhoc[0].read_text())
    assert manifest["overrides"] == {"suppression_threshold": 2}
    assert manifest["parameters"]["suppression_threshold"] == 2
    assert (adhoc[0].parent / "report.html").exists()
    assert json.loads((ws.reports / "probe/jahr/2024/manifest.json").read_text()) == scheduled
    assert history.read(db=ws.history).equals(figures), "an ad-hoc run records no figures"
    assert "ad hoc probe/jahr/2024:" in out.getvalue()
    assert "adhoc" not in (ws.reports / "index.html").read_text()
    # only the selected run got the override, and the plan is still up to date
    plan = io.StringIO()
    dry_run(root=ws, today=TODAY, out=plan, only=["probe/jahr/2024"])
    assert "up to date" in plan.getvalue()


def test_output_to_a_closed_pipe_ends_cleanly(probe_workspace):
    result = subprocess.run(
        [
            "bash",
            "-c",
            f"{sys.executable} -m evaluation plan --today 2026-11-24 | true; "
            "echo status=${PIPESTATUS[0]} >&2",
        ],
        env={**os.environ, "EVALUATION_HOME": str(probe_workspace.root)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr, result.stderr
    assert re.search(r"status=(0|141)\b", result.stderr), result.stderr


def test_log_lines_have_timestamps_and_levels_and_a_file_per_call(probe_workspace):
    ws = probe_workspace
    result = cli(ws.root, "run", "--only", "nothing", "--today", "2026-11-24")
    lines = result.stderr.strip().splitlines()
    assert lines and all(STAMP.match(x) for x in lines), lines
    assert lines[-1].split(" ", 3)[2] == "ERROR"
    logs = sorted(ws.logs.glob("run-*.log"))
    assert len(logs) == 1 and "--only nothing" in logs[0].read_text()
    cli(ws.root, "run", "--only", "nothing", "--today", "2026-11-24")
    assert len(sorted(ws.logs.glob("run-*.log"))) == 2, "one log file per invocation"


def test_quiet_and_verbose(probe_workspace):
    ws = probe_workspace
    quiet = cli(ws.root, "run", "--quiet", "--only", "x")
    assert " INFO " not in quiet.stderr and " ERROR " in quiet.stderr
    normal = cli(ws.root, "run", "--only", "x")
    assert " DEBUG " not in normal.stderr
    verbose = cli(ws.root, "run", "--verbose", "--only", "x")
    assert " DEBUG " in verbose.stderr and "log file:" in verbose.stderr
    both = cli(ws.root, "run", "--verbose", "--quiet")
    assert both.returncode == 2 and "not allowed with" in both.stderr


def test_open_ended_schedules_run_up_to_today_and_ended_ones_warn(probe_workspace, caplog):
    from evaluation.plan import load_plan

    ws = probe_workspace
    plan = ws.params / "probe.yml"
    runs = load_plan(root=ws, today=date(2027, 3, 1))
    assert [r.period.label for r in runs] == ["2022", "2023", "2024"]
    assert "probe.yml:12: schedule 'jahr' ended with 2024" in caplog.text
    caplog.clear()
    plan.write_text(plan.read_text().replace("    end: 2024\n", ""))
    runs = load_plan(root=ws, today=date(2027, 3, 1))
    assert [r.period.label for r in runs][-1] == "2026"
    assert "ended" not in caplog.text
    # a schedule that still has periods to come does not warn
    caplog.clear()
    load_plan(root=ws, today=date(2024, 6, 1))
    assert "ended" not in caplog.text


def test_repository_schedules_are_open_ended_for_the_yearly_reports():
    from evaluation.paths import paths
    from evaluation.plan import load_plan

    runs = load_plan(root=paths(REPO), today=date(2028, 3, 1))
    latest: dict[str, str] = {}
    for r in runs:
        if r.schedule == "jahr":
            latest[r.plan] = max(latest.get(r.plan, ""), r.period.label)
    for name in ("labour_market", "parent_work", "civic_engagement", "sozialraum", "data_quality"):
        assert latest[name] >= "2026", (name, latest[name])


def test_make_lab_passes_options_and_works_as_root():
    result = subprocess.run(
        ["make", "-n", "lab", "ARGS=--port=9999 --no-browser"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    line = next(x for x in result.stdout.splitlines() if "jupyter lab" in x)
    assert "--port=9999 --no-browser" in line
    assert ("--allow-root" in line) == (os.geteuid() == 0)


def test_status_without_history(tmp_path):
    shutil.copytree(REPO / "params", tmp_path / "params")
    result = cli(tmp_path, "status")
    assert result.returncode == 0 and "No runs recorded yet." in result.stdout
