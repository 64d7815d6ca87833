"""Fixtures: demo tables, fresh workspaces, and small notebooks for runner tests."""

from __future__ import annotations

import os
import shutil
import textwrap
from pathlib import Path

import nbformat
import pytest

from evaluation import demo
from evaluation.paths import Paths, paths

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def session_home() -> Path:
    """The session's workspace with the demo snapshot (set up in the root conftest)."""
    return Path(os.environ["EVALUATION_HOME"])


@pytest.fixture(scope="session")
def demo_tables():
    return demo.generate()


def _copy_data(source: Path, target: Path) -> None:
    shutil.copytree(source / "data" / "snapshots", target / "data" / "snapshots")


@pytest.fixture
def workspace(tmp_path: Path, session_home: Path) -> Paths:
    """A fresh workspace: the repository's notebooks and params, the demo snapshot."""
    shutil.copytree(
        REPO / "notebooks",
        tmp_path / "notebooks",
        ignore=shutil.ignore_patterns(".ipynb_checkpoints"),
    )
    shutil.copytree(REPO / "params", tmp_path / "params")
    _copy_data(session_home, tmp_path)
    return paths(tmp_path)


PROBE_PARAMETERS = """
period_start: str = "2024-01-01"  # first day
period_end: str = "2024-12-31"  # last day
agency: str = "Testagentur"  # agency
snapshot: str = "latest"  # data snapshot
language: str = "de"  # language
suppression_threshold: int = 5  # threshold
fail_in: str = ""  # period_start of the run that raises
"""

PROBE_BODY = """
from evaluation.notebook import start
import plotly.graph_objects as go

ctx = start(period_start=period_start, period_end=period_end, agency=agency, snapshot=snapshot,
            language=language, suppression_threshold=suppression_threshold)
people = ctx.table("participants")
year = int(period_start[:4])
reached = int((people["first_contact"].dt.year == year).sum())
ctx.record("probe_reached", reached, n=reached)
ctx.record("probe_small", 3, n=3)
"""

PROBE_FAIL = """
if fail_in == period_start:
    raise ValueError("planted failure for " + period_start)
"""

PROBE_CHART = """
ctx.heading("Ein Diagramm")
ctx.chart(go.Figure(go.Bar(x=["a", "b"], y=[reached, reached / 2])))
"""


def make_probe_notebook(path: Path) -> Path:
    """A small, fast notebook with the standard parameters, a chart and recorded figures."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("## Probe\n\nEin kleiner Bericht für Tests."),
        nbformat.v4.new_code_cell(PROBE_PARAMETERS.strip(), metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(PROBE_BODY.strip()),
        nbformat.v4.new_code_cell(PROBE_FAIL.strip()),
        nbformat.v4.new_code_cell(PROBE_CHART.strip()),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)
    return path


PROBE_PLAN = """
notebook: probe.ipynb
title: Probe
field: Testfeld
parameters:
  agency: Testagentur
  fail_in: "{fail_in}"
schedules:
  - name: jahr
    cadence: yearly
    start: 2022
    end: 2024
"""


@pytest.fixture
def probe_workspace(tmp_path: Path, session_home: Path) -> Paths:
    """A workspace whose plan is three yearly runs of the probe notebook."""
    root = tmp_path / "ws"
    (root / "notebooks").mkdir(parents=True)
    (root / "params").mkdir()
    make_probe_notebook(root / "notebooks" / "probe.ipynb")
    (root / "params" / "probe.yml").write_text(PROBE_PLAN.format(fail_in=""))
    _copy_data(session_home, root)
    return paths(root)


def yearly_figure(indicator, year, value, n, suppressed=False, **extra) -> dict:
    """A recorded figure of a calendar year, as the history holds it (for annual-report tests)."""
    return {
        "indicator_id": indicator,
        "period": str(year),
        "period_start": f"{year}-01-01",
        "period_end": f"{year}-12-31",
        "value": value,
        "n": n,
        "suppressed": suppressed,
        **extra,
    }


def set_probe_failure(ws: Paths, period_start: str) -> None:
    (ws.params / "probe.yml").write_text(PROBE_PLAN.format(fail_in=period_start))


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def make_context(language="de", threshold=5, year=None, start=None, end=None):
    """A notebook Context for view tests: a calendar year (2024 unless given), no run."""
    from datetime import date

    from evaluation.disclosure import SuppressionRule
    from evaluation.notebook import Context, period_of

    if year is not None or start is None:
        start, end = date(year or 2024, 1, 1), date(year or 2024, 12, 31)
    return Context(
        period=period_of(start, end),
        agency="Testagentur",
        snapshot="demo",
        language=language,
        rule=SuppressionRule(threshold=threshold),
        report_mode=False,
        run_id=None,
        run_dir=None,
    )
