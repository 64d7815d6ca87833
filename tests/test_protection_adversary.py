"""An adversary holding every published report of a demo plan recovers nothing.

The plan covers what the issue's attacks need: a year of labour-market reports with its four
quarters (quarters against the year), the yearly field reports and the annual report of the
same year (field against annual). The adversary (``tests/adversary.py``) reads only the
published HTML and uses its own parsing and its own linear programmes.
"""

from __future__ import annotations

import io
import shutil
import sqlite3
from datetime import date

import pytest

from evaluation.paths import paths
from evaluation.protection.release import store_path
from evaluation.runner import run_plan
from tests.adversary import attack, read_tables
from tests.conftest import REPO, _copy_data

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def published(tmp_path_factory, session_home):
    root = tmp_path_factory.mktemp("adversary")
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    shutil.copytree(REPO / "params", root / "params")
    _copy_data(session_home, root)
    ws = paths(root)
    out = io.StringIO()
    selected = [
        "labour_market/jahr/2025",
        *(f"labour_market/quartal/2025-Q{q}" for q in range(1, 5)),
        *(f"{plan}/jahr/2024" for plan in ("labour_market", "parent_work", "civic_engagement")),
        "annual_report/jahr/2024",
    ]
    summary = run_plan(root=ws, only=selected, today=date(2026, 11, 24), out=out)
    assert summary.exit_code == 0, out.getvalue()
    return ws


def test_the_plan_published_protected_tables(published):
    tables = read_tables(published.reports)
    assert len({t.report for t in tables}) >= 8
    assert sum(cell == "*" for t in tables for row in t.rows for cell in row) > 0


def test_no_hidden_cell_is_recovered_and_no_small_group_isolated(published):
    found = attack(published.reports)
    assert found == {"pinned": [], "small_bounds": [], "small_differences": []}


def test_the_release_store_is_internal_and_committed(published):
    path = store_path(published)
    assert path.stat().st_mode & 0o077 == 0
    assert not any(published.reports.rglob("release.sqlite"))
    with sqlite3.connect(path) as con:
        statuses = {r[0] for r in con.execute("SELECT DISTINCT status FROM cells")}
    assert statuses == {"committed"}


def test_a_repeated_run_hides_the_same_cells(published):
    before = {
        t.caption: t.rows
        for t in read_tables(published.reports / "labour_market" / "jahr" / "2025")
    }
    out = io.StringIO()
    summary = run_plan(
        root=published,
        only=["labour_market/jahr/2025"],
        force=True,
        today=date(2026, 11, 24),
        out=out,
    )
    assert summary.exit_code == 0, out.getvalue()
    after = {
        t.caption: t.rows
        for t in read_tables(published.reports / "labour_market" / "jahr" / "2025")
    }
    assert after == before
