"""The annual report as the agency submits it: cover, its own texts and targets in every format.

The end-to-end tests execute the real annual-report notebook on a workspace whose results
history holds hand-made figures (so the expected values are known), then render HTML, DOCX,
XLSX and – where Chromium is installed – PDF exactly as the runner's publishing step does.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat
import pytest
import yaml

from evaluation import annual, export, history, report
from evaluation.export import model
from evaluation.paths import paths
from tests import browser
from tests.conftest import REPO, _copy_data, yearly_figure

YEAR = 2024
COVER = {
    "traeger": "Trägerverein Probe e.V.",
    "file_reference": "AZ 99.01-PROBE-7",
    "grant_authority": "Bezirksregierung Probestadt",
    "contact_name": "Erika Probe",
    "contact_phone": "0221 12345",
    "contact_email": "probe@agentur.example",
    "place": "Probestadt",
}


def manifest(params: dict) -> dict:
    return {
        "run_id": "20261201T000000Z-annual",
        "run_key": f"annual_report/jahr/{YEAR}",
        "plan": "annual_report",
        "schedule": "jahr",
        "title": "Jahresbericht (Sachbericht)",
        "field": "Gesamtbericht",
        "period": {"label": str(YEAR), "start": f"{YEAR}-01-01", "end": f"{YEAR}-12-31"},
        "parameters": params,
        "notebook": {"path": "notebooks/annual_report.ipynb", "sha256": "0" * 64},
        "data": {"snapshot_id": "feedbeef", "source": "demo", "manifest_sha256": "1" * 64},
        "code": {
            "evaluation_version": "0.1.0",
            "source_fingerprint": "abc",
            "git": {"commit": "2" * 40, "dirty": False},
        },
        "environment": {"plotly": "6"},
        "started_at": "2026-12-01T10:00:00+00:00",
        "ended_at": "2026-12-01T10:00:05+00:00",
        "duration_s": 5.0,
        "status": "ok",
    }


def test_cover_facts_include_authority_contact_and_place_and_leave_the_settings_table():
    facts = export.cover_facts(manifest({"agency": "Agentur", **COVER}))
    shown = dict(facts["facts"])
    assert shown["Bewilligungsbehörde"] == "Bezirksregierung Probestadt"
    assert shown["Ansprechperson"] == "Erika Probe · 0221 12345 · probe@agentur.example"
    assert shown["Ort"] == "Probestadt" and shown["Erstellt am"] == "1. Dezember 2026"
    rows = report.parameter_rows({"agency": "Agentur", "trend_years": 5, **COVER}, "de")
    assert [r["label"] for r in rows] == ["Träger/Einrichtung", "Jahre in den Zeitreihen"]
    assert report.cover_of(manifest({"agency": "Agentur"})) is None, "field reports: no cover"
    assert report.cover_of(manifest({"agency": "Agentur", **COVER}))["signatures"]


def fig(indicator, value, n, suppressed=False, year=YEAR, **extra):
    return yearly_figure(indicator, year, value, n, suppressed, **extra)


FIGURES = [
    fig("lm_participants", 291, 291),
    fig("lm_participants", 280, 280, year=YEAR - 1),
    fig("par_reached", 64, 64),
    fig("vol_active", None, None, suppressed=True),
    fig("vol_trained", 3, 3),  # small: hidden again under the report's threshold
    fig("rec_decisions", 84, 84),
    fig("lm_completion_share", 0.62, 150),
    fig("lm_completion_share", 0.55, 140, year=YEAR - 1),
    fig("lm_eingliederungsquote_ba_6m", 0.301, 120, ci_low=0.22, ci_high=0.39),
    fig("lm_eingliederungsquote_ba_6m", 0.254, 110, year=YEAR - 1),
]
TARGETS = """demo: true
jahr: 2024
ziele:
  lm_participants: 280
  par_reached: {soll: 70, hinweis: "Eine Gruppe fiel wegen Krankheit aus."}
  vol_active: 120
  vol_trained: 30
  rec_decisions: 90
  lm_completion_share: "70 %"
"""
SPECIAL = """Ein **besonderes** Jahr: <script>alert('x')</script>

- erster Punkt mit **Fettdruck**
- zweiter Punkt
"""


def execute(ws, target: Path, params: dict) -> Path:
    import papermill as pm

    previous = os.environ.get("EVALUATION_HOME")
    os.environ["EVALUATION_HOME"] = str(ws.root)
    try:
        pm.execute_notebook(
            str(ws.notebooks / "annual_report.ipynb"),
            str(target),
            parameters=params,
            cwd=str(ws.notebooks),
            progress_bar=False,
            kernel_name="python3",
        )
    finally:
        if previous is None:
            os.environ.pop("EVALUATION_HOME", None)
        else:
            os.environ["EVALUATION_HOME"] = previous
    return target


@pytest.fixture(scope="module")
def annual_ws(tmp_path_factory):
    root = tmp_path_factory.mktemp("annual-ws")
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    shutil.copytree(REPO / "params", root / "params")
    _copy_data(Path(os.environ["EVALUATION_HOME"]), root)
    ws = paths(root)
    history.commit_figures(
        FIGURES, run_id="probe", run_key="probe/jahr", snapshot_id="s", db=ws.history
    )
    (root / "params" / "ziele" / f"{YEAR}.yml").write_text(TARGETS, encoding="utf-8")
    folder = ws.texts / str(YEAR)
    folder.mkdir(parents=True)
    (folder / "besonderheiten.md").write_text(SPECIAL, encoding="utf-8")
    (folder / "ziele.md").write_text("Die Ziele kommen aus der **Planung**.", encoding="utf-8")
    # ausblick.md is missing on purpose
    plan = yaml.safe_load((root / "params" / "annual_report.yml").read_text(encoding="utf-8"))
    params = {
        **plan["parameters"],
        **COVER,
        "period_start": f"{YEAR}-01-01",
        "period_end": f"{YEAR}-12-31",
    }
    out = root / "out"
    out.mkdir()
    nb = execute(ws, out / "notebook.ipynb", params)
    meta = manifest(params)
    html = report.export_html(
        nb,
        provenance=meta,
        title=meta["title"],
        field=meta["field"],
        period_text=report.period_text(f"{YEAR}-01-01", f"{YEAR}-12-31", str(YEAR)),
    )
    (out / "report.html").write_text(html, encoding="utf-8")
    formats = ("docx", "xlsx") + (("pdf",) if browser.chromium() else ())
    written = report.export_formats(nb, out, manifest=meta, formats=formats)
    return ws, out, params, written


def _targets_table(html: str) -> model.Table:
    doc = model.read_document(html)
    return next(t for t in doc.tables if t.caption.startswith(f"Ziele {YEAR}"))


def _row(rows, label):
    return next(r for r in rows if r and r[0] == label)


def _label(indicator_id):
    from evaluation.indicators.catalogue import load_catalogue

    return load_catalogue().get(indicator_id).label["de"]


@pytest.mark.slow
def test_the_agencys_texts_appear_in_html_docx_and_pdf_and_a_missing_one_is_named(annual_ws):
    from docx import Document

    ws, out, _, written = annual_ws
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<strong>besonderes</strong>" in html and "Die Ziele kommen aus der" in html
    assert "&lt;script&gt;alert" in html and "<script>alert" not in html
    assert "Text fehlt: texte/2024/ausblick.md" in html
    assert "WARNING" not in html, "the run log's lines stay out of the report"
    word = Document(written["docx"])
    paragraphs = [(p.style.name, p.text) for p in word.paragraphs]
    assert ("Heading 1", "Besonderheiten des Jahres") in paragraphs
    bullets = [t for s, t in paragraphs if s == "List Bullet"]
    assert "erster Punkt mit Fettdruck" in bullets and "zweiter Punkt" in bullets
    bold = [r.text for p in word.paragraphs for r in p.runs if r.bold]
    assert "besonderes" in bold and "Fettdruck" in bold, "bold stays bold in Word"
    assert any("Text fehlt: texte/2024/ausblick.md" in t for _, t in paragraphs)
    assert any("<script>alert('x')</script>" in t for _, t in paragraphs), "shown as text"
    # the missing text is in the run log (the kernel's standard error) too
    nb = nbformat.read(out / "notebook.ipynb", as_version=4)
    errors = "".join(
        o.get("text", "")
        for c in nb.cells
        for o in c.get("outputs", [])
        if o.get("name") == "stderr"
    )
    assert "WARNING Text fehlt: texte/2024/ausblick.md" in errors
    if "pdf" in written:
        import pypdf

        text = "\n".join(p.extract_text() for p in pypdf.PdfReader(written["pdf"]).pages)
        assert "besonderes" in text and "erster Punkt mit Fettdruck" in text
        assert "Text fehlt: texte/2024/ausblick.md" in text


@pytest.mark.slow
def test_targets_show_the_recorded_results_and_hidden_ones_stay_hidden_everywhere(annual_ws):
    from docx import Document
    from openpyxl import load_workbook

    _, out, _, written = annual_ws
    html = (out / "report.html").read_text(encoding="utf-8")
    table = _targets_table(html)
    assert table.header[0] == [
        "Kennzahl",
        "Ziel (Soll)",
        "Ergebnis (Ist)",
        "Zielerreichung",
        "Bewertung",
    ]
    recorded = {f["indicator_id"]: f for f in FIGURES if f["period"] == str(YEAR)}
    for indicator_id in ("lm_participants", "par_reached", "rec_decisions", "lm_completion_share"):
        unit = "share" if indicator_id == "lm_completion_share" else "persons"
        row = _row(table.body, _label(indicator_id))
        expected = annual.format_value(recorded[indicator_id]["value"], unit)
        assert row[2] == " ".join(expected.split()), (
            indicator_id
        )  # the model reads no-break spaces as spaces
    assert _row(table.body, _label("par_reached"))[4] == (
        "nicht erreicht – Eine Gruppe fiel wegen Krankheit aus."
    )
    assert _row(table.body, _label("lm_participants"))[3] == "104 %"
    hidden = [_label("vol_active"), _label("vol_trained")]
    for label in hidden:
        row = _row(table.body, label)
        assert row[2] == "*" and row[3] == "*", row
        assert row[4] == "nicht ausweisbar (Geheimhaltung)"
    word = Document(written["docx"])
    header = table.header[0]
    docx_table = next(t for t in word.tables if [c.text for c in t.rows[0].cells] == header)
    docx_rows = [[c.text for c in r.cells] for r in docx_table.rows]
    for label in hidden:
        assert _row(docx_rows, label)[2:4] == ["*", "*"]
    assert _row(docx_rows, _label("lm_participants"))[2] == "291"
    book = load_workbook(written["xlsx"])
    sheet = next(s for s in book.worksheets if str(s["A1"].value).startswith(f"Ziele {YEAR}"))
    xlsx_rows = [
        [("" if v is None else str(v)) for v in r] for r in sheet.iter_rows(values_only=True)
    ]
    for label in hidden:
        assert _row(xlsx_rows, label)[2:4] == ["*", "*"]
    assert _row(xlsx_rows, _label("lm_participants"))[2] in ("291", "291.0")


@pytest.mark.slow
def test_the_cover_carries_the_parameters_in_html_pdf_and_docx(annual_ws):
    from docx import Document

    _, out, _, written = annual_ws
    html = (out / "report.html").read_text(encoding="utf-8")
    cover_html = html.split('class="report-cover"')[1].split("</section>")[0]
    word = Document(written["docx"])
    cover_docx = " ".join(c.text for r in word.tables[0].rows for c in r.cells)
    expected = [*COVER.values(), "1. Dezember 2026", "2024 (1. Januar 2024 – 31. Dezember 2024)"]
    for value in expected:
        assert value in cover_html, value
        assert value in cover_docx, value
    assert "Unterschrift" in cover_html
    assert any("Unterschrift" in p.text for p in word.paragraphs)
    if "pdf" in written:
        import pypdf

        first = pypdf.PdfReader(written["pdf"]).pages[0].extract_text()
        for value in ("Trägerverein Probe e.V.", "AZ 99.01-PROBE-7", "probe@agentur.example"):
            assert value in first, value
        assert "Bezirksregierung Probestadt" in first and "Ort, Datum" in first


@pytest.mark.slow
def test_an_edited_text_changes_the_report(annual_ws, tmp_path):
    ws, out, params, _ = annual_ws
    before = (out / "report.html").read_text(encoding="utf-8")
    text = ws.texts / str(YEAR) / "besonderheiten.md"
    original = text.read_text(encoding="utf-8")
    try:
        text.write_text("Ganz **neu** geschrieben.", encoding="utf-8")
        nb = execute(ws, tmp_path / "notebook.ipynb", params)
        meta = manifest(params)
        after = report.export_html(
            nb, provenance=meta, title=meta["title"], field=meta["field"], period_text="2024"
        )
    finally:
        text.write_text(original, encoding="utf-8")
    assert "Ganz <strong>neu</strong> geschrieben." in after
    assert "Ganz" not in before and "<strong>besonderes</strong>" not in after


@pytest.mark.slow
def test_shares_are_percent_and_their_changes_points_in_tables_and_charts(annual_ws):
    from bs4 import BeautifulSoup

    _, out, _, _ = annual_ws
    html = (out / "report.html").read_text(encoding="utf-8")
    doc = model.read_document(html)
    share = _label("lm_completion_share")
    figures = [
        t for t in doc.tables if t.caption != "Kennzahlen dieses Berichts"
    ]  # not definitions
    rows = [r for t in figures for r in t.body if r and r[0] == share]
    assert len(rows) >= 2, "the share is in the field table and the targets table"
    for row in rows:
        cells = " | ".join(row[1:])
        assert "62,0 %" in cells and "0,62" not in cells, row
    overview = next(t for t in doc.tables if t.caption.startswith("Arbeitsmarktintegration"))
    head = overview.header[0]
    row = _row(overview.body, share)
    assert row[head.index(str(YEAR - 1))] == "55,0 %"
    assert row[head.index("Veränderung (95-%-KI)")].startswith("+7,0 Pp.")
    soup = BeautifulSoup(html, "html.parser")
    quota = _label("lm_eingliederungsquote_ba_6m")
    chart = next(f for f in soup.find_all("figure", class_="chart") if quota in f.get_text(" "))
    values = [td.get_text() for td in chart.find("table").find_all("td")]
    assert "30,1 %" in values and "25,4 %" in values, values
    assert "30,1 %" in chart.find(class_="chart-alt").get_text()
