"""The run plan: periods, cadences, matrix, and parameter checks before any kernel starts."""

from __future__ import annotations

import subprocess
import sys
from datetime import date

import pytest

from evaluation import nbparams
from evaluation.plan import Period, PlanError, load_plan, parse_period, periods
from tests.conftest import write

TODAY = date(2026, 11, 24)


def test_periods_of_each_cadence():
    assert parse_period(2024, "yearly") == Period(date(2024, 1, 1), date(2024, 12, 31), "2024")
    assert parse_period("2024-Q2", "quarterly") == Period(
        date(2024, 4, 1), date(2024, 6, 30), "2024-Q2"
    )
    assert parse_period("2024-02", "monthly") == Period(
        date(2024, 2, 1), date(2024, 2, 29), "2024-02"
    )
    assert parse_period(date(2024, 11, 5), "quarterly").label == "2024-Q4"
    with pytest.raises(ValueError, match="not a period"):
        parse_period("2024-13", "monthly")


def test_only_complete_periods_and_lag():
    start = parse_period("2026-08", "monthly")
    labels = [p.label for p in periods("monthly", start, today=TODAY)]
    assert labels == ["2026-08", "2026-09", "2026-10"]  # November is not over
    # 31 days lag: October (ended 31.10.) is due from 01.12. on
    assert [p.label for p in periods("monthly", start, today=TODAY, lag_days=31)] == [
        "2026-08",
        "2026-09",
    ]
    assert [p.label for p in periods("monthly", start, today=date(2026, 12, 2), lag_days=31)][
        -1
    ] == "2026-10"


def test_periods_stop_at_end():
    out = periods(
        "yearly", parse_period(2019, "yearly"), end=parse_period(2021, "yearly"), today=TODAY
    )
    assert [p.label for p in out] == ["2019", "2020", "2021"]


@pytest.fixture
def plan_dir(probe_workspace):
    return probe_workspace


def test_plan_expands_schedules_and_matrix(plan_dir):
    write(
        plan_dir.params / "probe.yml",
        """
        notebook: probe.ipynb
        title: Probe
        parameters:
          agency: A
        schedules:
          - name: quartal
            cadence: quarterly
            start: 2025-Q3
            end: 2026-Q1
            matrix:
              language: [de, en]
        """,
    )
    runs = load_plan(root=plan_dir, today=TODAY)
    assert [r.key for r in runs] == [
        "probe/quartal/2025-Q3/language-de",
        "probe/quartal/2025-Q3/language-en",
        "probe/quartal/2025-Q4/language-de",
        "probe/quartal/2025-Q4/language-en",
        "probe/quartal/2026-Q1/language-de",
        "probe/quartal/2026-Q1/language-en",
    ]
    first = runs[0]
    assert first.parameters == {
        "agency": "A",
        "language": "de",
        "period_start": "2025-07-01",
        "period_end": "2025-09-30",
    }


def _plan_error(plan_dir, text: str) -> str:
    write(plan_dir.params / "probe.yml", text)
    with pytest.raises(PlanError) as info:
        load_plan(root=plan_dir, today=TODAY)
    message = str(info.value)
    assert "\n" not in message
    return message


BASE = """
notebook: probe.ipynb
parameters:
  agency: A
{extra}
schedules:
  - name: jahr
    cadence: yearly
    start: 2022
"""


def test_unknown_parameter_names_file_line_and_key(plan_dir):
    message = _plan_error(plan_dir, BASE.format(extra="  agnecy: typo"))
    assert message.startswith(
        f"{plan_dir.params / 'probe.yml'}:4: parameters.agnecy: unknown parameter"
    )
    assert "agency" in message  # lists the known ones


def test_mistyped_parameter(plan_dir):
    message = _plan_error(plan_dir, BASE.format(extra="  suppression_threshold: fünf"))
    assert ":4: parameters.suppression_threshold: expected int, got str 'fünf'" in message
    message = _plan_error(plan_dir, BASE.format(extra="  suppression_threshold: true"))
    assert "expected int, got a yes/no value True" in message


def test_missing_required_parameter(plan_dir):
    nb = plan_dir.notebooks / "probe.ipynb"
    nb.write_text(nb.read_text().replace('agency: str = \\"Testagentur\\"', "agency: str = None"))
    assert nbparams.inspect(nb)["agency"].required
    message = _plan_error(plan_dir, BASE.format(extra="").replace("  agency: A\n", ""))
    assert "missing parameter 'agency'" in message


def test_schedule_errors(plan_dir):
    assert "schedules[0].cadence: 'weekly' is not one of" in _plan_error(
        plan_dir, BASE.format(extra="").replace("yearly", "weekly")
    )
    assert "schedules[0].start:" in _plan_error(
        plan_dir, BASE.format(extra="").replace("start: 2022", "start: 20x2")
    )
    assert "period_start: is set by the schedule" in _plan_error(
        plan_dir, BASE.format(extra="  period_start: 2020-01-01")
    )
    assert "no such notebook" in _plan_error(
        plan_dir, BASE.format(extra="").replace("probe.ipynb", "nope.ipynb")
    )
    assert ": colour: unknown key" in _plan_error(plan_dir, "colour: red\n" + BASE.format(extra=""))
    assert "not valid YAML" in _plan_error(plan_dir, "notebook: [unclosed\n")


def test_yaml_dates_are_accepted_for_text_parameters(plan_dir):
    write(plan_dir.params / "probe.yml", BASE.format(extra="  fail_in: 2023-01-01"))
    runs = load_plan(root=plan_dir, today=TODAY)
    assert runs[0].parameters["fail_in"] == "2023-01-01"


def test_cli_rejects_bad_parameters_before_running_anything(plan_dir):
    write(plan_dir.params / "probe.yml", BASE.format(extra="  agnecy: typo"))
    result = subprocess.run(
        [sys.executable, "-m", "evaluation", "run"],
        env={**__import__("os").environ, "EVALUATION_HOME": str(plan_dir.root)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "probe.yml:4: parameters.agnecy" in lines[0]
    assert not plan_dir.reports.exists()


def test_notebook_parameters_are_read_without_running(plan_dir):
    declared = nbparams.inspect(plan_dir.notebooks / "probe.ipynb")
    assert list(declared)[:2] == ["period_start", "period_end"]
    assert declared["suppression_threshold"].type == "int"
    assert declared["suppression_threshold"].default == 5
    assert declared["period_start"].help == "first day"


def test_parameters_cell_errors():
    with pytest.raises(nbparams.NotebookParameterError, match="no code cell tagged 'parameters'"):
        nbparams.parameters_cell(
            {"cells": [{"cell_type": "code", "source": "x = 1", "metadata": {}}]}
        )
    with pytest.raises(nbparams.NotebookParameterError, match="not a literal"):
        nbparams.parse("x: int = compute()")
    assert nbparams.parse("x = 1.5\ny: list = [1]")["x"].type == "float"


def test_repository_plan_is_valid():
    """The committed params/ files expand without error against the committed notebooks."""
    from pathlib import Path

    from evaluation.paths import paths

    runs = load_plan(root=paths(Path(__file__).resolve().parents[1]), today=TODAY)
    assert runs and all(r.parameters["period_start"] <= r.parameters["period_end"] for r in runs)


def test_after_names_existing_plans_without_circles(plan_dir):
    write(plan_dir.params / "other.yml", BASE.format(extra="") + "after: [probe]\n")
    write(plan_dir.params / "probe.yml", BASE.format(extra="") + "after: [other]\n")
    with pytest.raises(PlanError, match="after: plans wait for each other in a circle"):
        load_plan(root=plan_dir, today=TODAY)
    write(plan_dir.params / "probe.yml", BASE.format(extra="") + "after: [nothing]\n")
    with pytest.raises(PlanError, match="after: no plan 'nothing'"):
        load_plan(root=plan_dir, today=TODAY)
    write(plan_dir.params / "probe.yml", BASE.format(extra=""))
    runs = load_plan(root=plan_dir, today=TODAY)
    assert {r.plan: r.after for r in runs} == {"probe": (), "other": ("probe",)}


def test_order_puts_a_plan_first(plan_dir):
    write(plan_dir.params / "zz_first.yml", BASE.format(extra="") + "order: 0\n")
    write(plan_dir.params / "probe.yml", BASE.format(extra=""))
    runs = load_plan(root=plan_dir, today=TODAY)
    assert {r.plan: r.order for r in runs} == {"probe": 50, "zz_first": 0}
    write(plan_dir.params / "zz_first.yml", BASE.format(extra="") + "order: first\n")
    with pytest.raises(PlanError, match="order: expected a whole number"):
        load_plan(root=plan_dir, today=TODAY)
