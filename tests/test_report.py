"""Reports for the ministry: offline, no code, German, provenance; charts drawn in Chromium."""

from __future__ import annotations

import io
import json
import os
import re
from datetime import date

import pytest

from evaluation import history
from evaluation.paths import paths
from evaluation.report import parameter_rows, period_text
from evaluation.runner import run_plan
from tests import browser
from tests.conftest import REPO, _copy_data

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def labour_report(tmp_path_factory):
    """One real labour-market report (2024) run through the main job."""
    import shutil

    root = tmp_path_factory.mktemp("report-ws")
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    shutil.copytree(REPO / "params", root / "params")
    _copy_data(__import__("pathlib").Path(os.environ["EVALUATION_HOME"]), root)
    ws = paths(root)
    out = io.StringIO()
    summary = run_plan(root=ws, only=["labour_market/jahr/2024"], today=date(2026, 11, 24), out=out)
    assert summary.exit_code == 0, out.getvalue()
    folder = ws.reports / "labour_market" / "jahr" / "2024"
    return ws, folder / "report.html", json.loads((folder / "manifest.json").read_text())


def test_report_has_no_code_and_loads_nothing_from_outside(labour_report):
    _, page, _ = labour_report
    html = page.read_text(encoding="utf-8")
    assert "ctx = start(" not in html and "from evaluation" not in html
    found = browser.resources(html)
    assert found.code_elements == 0, "no code cells, prompts or highlighted source"
    assert found.external == [], "nothing is loaded from a CDN or the web"


def test_plotly_js_is_embedded_exactly_once(labour_report):
    _, page, _ = labour_report
    html = page.read_text(encoding="utf-8")
    big_scripts = [
        s
        for s in re.findall(r"<script[^>]*>(.*?)</script>", html, flags=re.S)
        if len(s) > 1_000_000
    ]
    assert len(big_scripts) == 1
    assert html.count('class="plotly-graph-div"') >= 4
    assert page.stat().st_size < 2_000_000, "the basic bundle, not the full plotly.js"
    assert "plotly.js (basic - minified) v" in html


def test_report_is_german_with_parameters_toc_and_provenance(labour_report):
    ws, page, manifest = labour_report
    html = page.read_text(encoding="utf-8")
    assert '<html lang="de">' in html
    assert "Integrationsagentur PHOENIX" in html and "Arbeitsmarktintegration" in html
    assert "2024 (01.01.2024–31.12.2024)" in html
    assert "Einstellungen dieses Berichts" in html and "Mindestfallzahl für die Anzeige" in html
    assert 'id="toc"' in html and "Herkunft der Zahlen" in html
    for key in (
        manifest["run_id"],
        manifest["data"]["snapshot_id"],
        manifest["code"]["source_fingerprint"],
    ):
        assert key in html
    assert "Eingliederungsquote" in html and "Geheimhaltung" in html
    assert "Traceback" not in html


def test_report_figures_are_in_the_history(labour_report):
    ws, _, manifest = labour_report
    figures = history.read(db=ws.history)
    assert set(figures["run_id"]) == {manifest["run_id"]}
    ids = set(figures["indicator_id"])
    assert {
        "lm_participants",
        "lm_eingliederungsquote_6m",
        "lm_verbleibsquote_12m",
        "rec_full_share",
    } <= ids
    total = figures[
        (figures["indicator_id"] == "lm_eingliederungsquote_6m") & (figures["group_var"] == "")
    ]
    assert len(total) == 1 and 0 < total["value"].iloc[0] < 1
    assert (total["ci_low"] < total["value"]).all() and (total["value"] < total["ci_high"]).all()


@pytest.mark.browser
def test_every_chart_is_drawn_offline_in_chromium(labour_report):
    if browser.chromium() is None and not os.environ.get("CI"):
        pytest.skip("chromium not installed (CI installs it)")
    _, page, _ = labour_report
    found = browser.census(browser.rendered_dom(page))
    assert found.charts >= 4
    assert len(found.drawn) == found.charts, f"{found.charts - len(found.drawn)} charts not drawn"
    assert found.code_cells == 0


@pytest.mark.browser
def test_index_lists_reports(labour_report):
    ws, _, _ = labour_report
    index = (ws.reports / "index.html").read_text(encoding="utf-8")
    assert 'href="labour_market/jahr/2024/report.html"' in index
    assert "Arbeitsmarktintegration" in index and "erstellt" in index


def test_parameter_rows_and_period_text_for_readers():
    rows = parameter_rows(
        {"period_start": "2024-01-01", "suppression_threshold": 5, "flag": True}, "de"
    )
    assert rows == [
        {"label": "Beginn des Berichtszeitraums", "value": "01.01.2024"},
        {"label": "Mindestfallzahl für die Anzeige", "value": "5"},
        {"label": "flag", "value": "ja"},
    ]
    money = parameter_rows({"grant_eur": 180000.0, "staff_fte": 2.5, "trend_years": 5}, "de")
    assert [r["value"] for r in money] == ["180.000 €", "2,5", "5"]
    assert period_text("2024-04-01", "2024-06-30", "2024-Q2") == "2024-Q2 (01.04.2024–30.06.2024)"


def test_a_reused_html_exporter_renders_each_report_as_a_new_one_would(tmp_path):
    """The exporter is kept per process; a report rendered after another (in another
    language too) is byte for byte what a fresh exporter renders."""
    from evaluation import report
    from tests.test_export import MANIFEST, probe_notebook

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = probe_notebook(tmp_path / "a")
    second = tmp_path / "b" / "other.ipynb"
    text = first.read_text(encoding="utf-8").replace("Austritte", "Eintritte")
    second.write_text(text, encoding="utf-8")

    def render(path, language):
        return report.export_html(
            path,
            provenance=MANIFEST,
            title=path.stem,
            field="Feld",
            period_text="2024",
            language=language,
        )

    fresh = {}
    for path, language in ((first, "de"), (second, "en"), (second, "de")):
        report._html_exporter.cache_clear()
        fresh[path, language] = render(path, language)
    report._html_exporter.cache_clear()
    for path, language in ((first, "de"), (second, "en"), (second, "de"), (first, "de")):
        assert render(path, language) == fresh.get((path, language), fresh[first, "de"])
    assert report._html_exporter.cache_info().hits >= 2
    assert "Eintritte" in fresh[second, "de"] and "Eintritte" not in fresh[first, "de"]
