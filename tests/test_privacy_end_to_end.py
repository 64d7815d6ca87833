"""From raw exports with names in them to published reports: no one is identifiable.

The demo exports carry names, addresses, phone numbers, e-mail addresses, birth dates and
client numbers, as real case-management exports do. After ingest and a run of every plan,
none of them may appear in any snapshot, executed notebook, report, manifest or the history.
"""

from __future__ import annotations

import io
import shutil
import sqlite3
from datetime import date

import pytest

from evaluation.demo_exports import write_demo_exports
from evaluation.ingest import ingest
from evaluation.paths import paths
from evaluation.runner import run_plan
from tests.conftest import REPO
from tests.test_ingest_helpers import export_identifiers, found_in, written_text

pytestmark = pytest.mark.slow
YEAR = "2024"


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    root = tmp_path_factory.mktemp("privacy")
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    shutil.copytree(REPO / "params", root / "params")
    exports = write_demo_exports(tmp_path_factory.mktemp("exports"))  # input, kept outside
    ws = paths(root)
    ingest(exports, root=ws, key_file=tmp_path_factory.mktemp("key") / "pseudonym.key")
    out = io.StringIO()
    selected = [
        f"{plan}/jahr/{YEAR}"
        for plan in (
            "labour_market",
            "parent_work",
            "civic_engagement",
            "sozialraum",
            "annual_report",
        )
    ]
    summary = run_plan(root=ws, only=[*selected, "data_quality"], today=date(2026, 11, 24), out=out)
    assert summary.exit_code == 0, out.getvalue()
    return ws, export_identifiers(exports[0].parent)


def everything_published(ws) -> str:
    chunks = [written_text(ws)]  # snapshots, manifests, quarantine
    for file in sorted(ws.reports.rglob("*")):
        if file.is_file() and file.suffix in {".html", ".ipynb", ".json", ".log"}:
            chunks.append(file.read_text(encoding="utf-8", errors="replace"))
    with sqlite3.connect(ws.history) as con:
        for table in ("results", "runs"):
            chunks.extend(" ".join(map(str, row)) for row in con.execute(f"SELECT * FROM {table}"))
    return "\n".join(chunks)


def test_every_plan_ran_on_ingested_data(published):
    ws, _ = published
    reports = sorted(p.relative_to(ws.reports).as_posix() for p in ws.reports.rglob("report.html"))
    assert len(reports) == 6, reports


def test_no_identifier_from_the_exports_reaches_any_output(published):
    ws, identifiers = published
    assert len(identifiers) > 5000
    assert found_in(everything_published(ws), identifiers) == []


def test_reports_publish_no_pseudonym_and_no_raw_table(published):
    """Reports hold aggregates only: no person's pseudonym, no raw table (the guard's notice)."""
    from evaluation.data import load

    ws, _ = published
    pseudonyms = set(load("participants", root=ws)["person_id"]) | set(
        load("volunteers", root=ws)["volunteer_id"]
    )
    for page in ws.reports.rglob("report.html"):
        html = page.read_text(encoding="utf-8")
        assert "Tabelle ohne Geheimhaltungsprüfung" not in html, page
        assert found_in(html, pseudonyms) == [], page


@pytest.mark.browser
def test_every_report_draws_all_charts_offline_and_shows_no_code(published):
    import os

    from tests import browser

    if browser.chromium() is None and not os.environ.get("CI"):
        pytest.skip("chromium not installed (CI installs it)")
    ws, _ = published
    for page in sorted(ws.reports.rglob("report.html")):
        html = page.read_text(encoding="utf-8")
        static = browser.resources(html)
        assert static.external == [] and static.code_elements == 0, page
        found = browser.census(browser.rendered_dom(page))
        assert len(found.drawn) == found.charts, (
            f"{page}: {found.charts - len(found.drawn)} charts not drawn"
        )
