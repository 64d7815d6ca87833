"""PDF, DOCX and XLSX of a report: what they hold, and that they agree with the HTML."""

from __future__ import annotations

import io
import json
import os
import re

import nbformat
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from evaluation import export, report
from evaluation.export import model, xlsx
from tests import browser

MANIFEST = {
    "run_id": "20261201T000000Z-abcdef",
    "run_key": "probe/jahr/2024",
    "plan": "probe",
    "schedule": "jahr",
    "title": "Probebericht",
    "field": "Arbeitsmarktintegration",
    "period": {"label": "2024", "start": "2024-01-01", "end": "2024-12-31"},
    "parameters": {
        "agency": "Integrationsagentur PHOENIX",
        "suppression_threshold": 5,
        "file_reference": "AZ 36.08-2024",
    },
    "notebook": {"path": "notebooks/probe.ipynb", "sha256": "0" * 64},
    "data": {"snapshot_id": "feedbeef", "source": "demo", "manifest_sha256": "1" * 64},
    "code": {
        "evaluation_version": "0.1.0",
        "source_fingerprint": "abc",
        "git": {"commit": "2" * 40, "dirty": False},
    },
    "environment": {"plotly": "7"},
    "started_at": "2026-12-01T10:00:00+00:00",
    "ended_at": "2026-12-01T10:00:05+00:00",
    "duration_s": 5.0,
    "status": "ok",
}

TABLE = """<div class="disclosed-table"><table class="dataframe"><caption>Austritte nach Gruppe</caption>
<thead><tr><th>Gruppe</th><th>Anzahl</th><th>Quote</th><th>Intervall</th></tr></thead>
<tbody>
<tr><th>Geflüchtete</th><td>1.234</td><td>45,3 %</td><td>40,1–50,2 %</td></tr>
<tr><th>EU-Bürger</th><td>*</td><td>*</td><td>–</td></tr>
<tr><th>Kennziffer 0815</th><td>12</td><td>-0,5 %</td><td>x</td></tr>
</tbody></table></div>"""


def probe_notebook(tmp_path):
    fig = go.Figure(
        [
            go.Bar(x=["2023", "2024"], y=[10, None], name="A"),
            go.Bar(x=["2023", "2024"], y=[7, 9], name="B"),
        ]
    )
    fig.update_layout(title="Austritte", xaxis_title="Jahr", yaxis_title="Personen")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("## Zusammenfassung\n\nDer **Bericht** zeigt Austritte."),
        nbformat.v4.new_code_cell(
            "x",
            outputs=[
                nbformat.v4.new_output("display_data", data={"text/html": TABLE}),
                nbformat.v4.new_output(
                    "display_data", data={report.PLOTLY_MIME: json.loads(pio.to_json(fig))}
                ),
            ],
        ),
        nbformat.v4.new_markdown_cell("### Ausblick\n\n- mehr Nachbefragungen\n- Wartegruppen"),
    ]
    path = tmp_path / "notebook.ipynb"
    nbformat.write(nb, path)
    return path


def test_german_numbers_become_numbers_with_a_format_that_shows_the_same_text():
    cases = {
        "1.234": (1234.0, "#,##0"),
        "12,5": (12.5, "0.0"),
        "45,3 %": (0.453, "0.0\\ %"),
        "-0,5 %": (-0.005, "0.0\\ %"),
        "2024": (2024.0, "0"),
        "1.234.567,89": (1234567.89, "#,##0.00"),
    }
    for text, expected in cases.items():
        value, fmt = xlsx.parse_number(text)
        assert (round(value, 10), fmt) == expected, text
        assert xlsx.cell_text(value, fmt) == text
    for text in ("*", "–", "0815", "40,1–50,2 %", "1.2", "12 Monate", "", "1,234.5"):
        assert xlsx.parse_number(text) is None, text
    assert xlsx.parse_number("1,234.5", "en") == (1234.5, "#,##0.0")


def test_tables_are_read_generically_with_spans_expanded():
    html = """<table><caption>C</caption><thead><tr><th colspan="2">Gruppe</th><th>n</th></tr></thead>
    <tbody><tr><th rowspan="2">Projekt A</th><th>2023</th><td>5</td></tr>
    <tr><th>2024</th><td>*</td></tr></tbody></table>"""
    from bs4 import BeautifulSoup

    table = model.read_table(BeautifulSoup(html, "html.parser").table)
    assert table.caption == "C"
    assert table.header == [["Gruppe", "", "n"]]
    assert table.body == [["Projekt A", "2023", "5"], ["", "2024", "*"]]
    assert table.row_headers == 2 and table.has_suppressed


def test_cover_takes_its_facts_from_parameters_manifest_and_overrides():
    facts = export.cover_facts(MANIFEST)
    labels = dict(facts["facts"])
    assert labels["Einrichtung"] == "Integrationsagentur PHOENIX"
    assert labels["Förderkennzeichen / Aktenzeichen"] == "AZ 36.08-2024"
    assert labels["Berichtszeitraum"] == "2024 (1. Januar 2024 – 31. Dezember 2024)"
    assert labels["Erstellt am"] == "1. Dezember 2026"
    assert labels["Träger"] == "" and facts["signatures"][0] == "Ort, Datum"
    given = export.cover_facts(
        MANIFEST, {"traeger": "PHOENIX-Köln e.V.", "signatures": ["Geschäftsführung"]}
    )
    assert dict(given["facts"])["Träger"] == "PHOENIX-Köln e.V."
    assert given["signatures"] == ["Geschäftsführung"]


def _html(path):
    return report.export_html(
        path,
        provenance=MANIFEST,
        title="Probebericht",
        field="Arbeitsmarktintegration",
        period_text="2024 (01.01.2024–31.12.2024)",
    )


def test_without_a_browser_html_xlsx_and_docx_are_made_and_one_line_says_what_to_install(
    tmp_path, monkeypatch
):
    from docx import Document
    from openpyxl import load_workbook

    monkeypatch.setattr("evaluation.export.images.chromium", lambda: None)
    nb = probe_notebook(tmp_path)
    out_dir = tmp_path / "run"
    out_dir.mkdir()
    (out_dir / "report.html").write_text(_html(nb), encoding="utf-8")
    notes = io.StringIO()
    written = report.export_formats(nb, out_dir, manifest=MANIFEST, out=notes)
    assert set(written) == {"xlsx", "docx"} and not (out_dir / "report.pdf").exists()
    lines = notes.getvalue().splitlines()
    assert len(lines) == 1 and "apt-get install chromium" in lines[0], lines
    assert lines[0].startswith("PDF nicht erstellt, DOCX ohne Diagrammbilder")

    # XLSX: contents sheet plus one sheet per report table, numbers as numbers, * kept
    wb = load_workbook(written["xlsx"])
    assert wb.sheetnames[0] == "Inhalt" and len(wb.sheetnames) == 2
    ws = wb[wb.sheetnames[1]]
    assert ws["A1"].value == "Austritte nach Gruppe"
    start = xlsx.TABLE_START_ROW
    assert [c.value for c in ws[start]] == ["Gruppe", "Anzahl", "Quote", "Intervall"]
    assert ws.cell(start + 1, 2).value == 1234 and ws.cell(start + 1, 2).number_format == "#,##0"
    assert ws.cell(start + 1, 3).value == pytest.approx(0.453)
    assert ws.cell(start + 2, 2).value == "*"
    assert ws.cell(start + 3, 1).value == "Kennziffer 0815", "labels stay text"
    footnote = [c.value for row in ws.iter_rows() for c in row if c.value]
    assert any("Geheimhaltung" in str(v) for v in footnote), "the * has its footnote"
    assert wb["Inhalt"]["C6"].hyperlink is not None

    # DOCX: headings, a real table, the chart's text instead of an image (no browser)
    doc = Document(written["docx"])
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]
    assert "Zusammenfassung" in headings and "Ausblick" in headings
    assert any(len(t.rows) == 4 and t.cell(2, 1).text == "*" for t in doc.tables)
    assert any(t.cell(0, 0).text == "Einrichtung" for t in doc.tables), "cover facts"
    assert any("Balkendiagramm „Austritte“" in p.text for p in doc.paragraphs)
    assert not doc.inline_shapes
    html = (out_dir / "report.html").read_text(encoding="utf-8")
    assert 'href="report.xlsx"' in html and 'href="report.docx"' in html
    assert 'href="report.pdf"' not in html


def test_unknown_format_is_one_clear_error(tmp_path):
    with pytest.raises(ValueError, match="unknown report format.*'rtf'"):
        report.export_formats(
            probe_notebook(tmp_path), tmp_path, manifest=MANIFEST, formats=["rtf"]
        )


def test_html_chart_has_text_alternative_data_table_and_no_modebar(tmp_path):
    html = _html(probe_notebook(tmp_path))
    figure = re.search(r'<figure class="chart".*?</figure>', html, re.S).group(0)
    assert 'role="img"' in figure and 'aria-labelledby="abbildung-1-alt"' in figure
    assert "<details" in figure and "Daten zur Abbildung" in figure
    assert '"displayModeBar": false' in figure
    doc = model.read_document(html)
    assert [f.alt for f in doc.figures][0].startswith("Balkendiagramm „Austritte“")
    assert 'tabindex="0"' not in html
    assert "<main" in html and "<footer" in html and "<nav" in html


def test_the_vendored_basic_bundle_matches_the_installed_plotly():
    assert report.vendored_plotly_version() == report.bundled_plotly_version()
    kind, source = report.plotly_js_source()
    assert kind == "basic" and f"v{report.vendored_plotly_version()}" in source[:200]
    assert (report.PLOTLY_BASIC.parent / "LICENSE").exists()


def test_shared_plotly_copy_for_large_sites(tmp_path):
    nb = probe_notebook(tmp_path)
    html = report.export_html(
        nb,
        provenance=MANIFEST,
        title="T",
        field="F",
        period_text="2024",
        plotly_src="../../../" + report.SHARED_PLOTLY,
    )
    assert re.search(r'<script[^>]*src="\.\./\.\./\.\./assets/plotly-basic\.min\.js"', html)
    assert len(html) < 400_000 and "plotly.js (basic" not in html
    copy = report.write_shared_plotly(tmp_path / "reports")
    assert copy.read_text(encoding="utf-8") == report.plotly_js_source()[1]


# --------------------------------------------------------------------------------------------
# Real reports of every kind through the main job (slow; PDF and chart images need Chromium).


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    if browser.chromium() is None and not os.environ.get("CI"):
        pytest.skip("chromium not installed (CI installs it)")
    return browser.published_reports(tmp_path_factory.mktemp("export-ws"))


@pytest.mark.slow
@pytest.mark.browser
def test_every_kind_of_report_is_published_in_every_format(published):
    _, folders, log = published
    assert set(folders) == set(browser.REPORT_KINDS), log
    for key, folder in folders.items():
        assert set(report.formats_in(folder)) == {"html", "pdf", "docx", "xlsx"}, key
        html = (folder / "report.html").read_text(encoding="utf-8")
        for name in ("report.pdf", "report.docx", "report.xlsx"):
            assert f'href="{name}"' in html, (key, name)
    ws = next(iter(folders.values())).parents[2]
    index = (ws / "index.html").read_text(encoding="utf-8")
    for key in folders:
        for name in ("report.html", "report.pdf", "report.docx", "report.xlsx"):
            assert f'href="{key}/{name}"' in index, (key, name)
    assert "jährlich" in index and "jahr<" not in index
    assert not re.search(r"\d{4}-\d{2}-\d{2}", index.split("<main>")[1]), "German dates only"


@pytest.mark.slow
@pytest.mark.browser
def test_pdf_is_a4_with_cover_running_header_page_numbers_and_no_file_url(published):
    import pypdf

    _, folders, log = published
    for key, folder in folders.items():
        assert (folder / "report.pdf").exists(), f"{key}: no PDF\n{log}"
        reader = pypdf.PdfReader(folder / "report.pdf")
        pages = [p.extract_text() for p in reader.pages]
        assert len(pages) >= 3, key
        for page in reader.pages:
            width, height = float(page.mediabox.width), float(page.mediabox.height)
            assert abs(width - 595.3) < 1.5 and abs(height - 841.9) < 1.5, (key, width, height)
        text = "\n".join(pages)
        assert "file://" not in text and "localhost" not in text
        assert "Integrationsagentur PHOENIX" in pages[0] and "Ort, Datum" in pages[0]
        assert "Seite" not in pages[0], "no running header on the cover"
        n = len(pages)
        for i, page_text in enumerate(pages[1:], start=2):
            assert f"Seite {i} von {n}" in page_text, (key, i)
        assert reader.outline, "the PDF has bookmarks from the headings"


@pytest.mark.slow
@pytest.mark.browser
def test_docx_holds_headings_tables_and_charts_with_alt_text(published):
    from docx import Document

    _, folders, _ = published
    for key, folder in folders.items():
        html = (folder / "report.html").read_text(encoding="utf-8")
        doc_model = model.read_document(html)
        word = Document(folder / "report.docx")
        headings = [p.text for p in word.paragraphs if p.style.name.startswith("Heading")]
        wanted = [b.text for b in doc_model.blocks if isinstance(b, model.Heading)]
        assert [h for h in headings if h in wanted] == wanted, key
        # cover facts table + one Word table per table of the report (settings included)
        all_tables = [b for b in doc_model.blocks if isinstance(b, model.Table)]
        assert len(word.tables) == len(all_tables) + 1, key
        alts = [s._inline.docPr.get("descr") for s in word.inline_shapes]
        assert alts == [f.alt for f in doc_model.figures], key
        assert all(a for a in alts)
        section = word.sections[0]
        assert round(section.page_width.cm, 1) == 21.0 and round(section.page_height.cm, 1) == 29.7


@pytest.mark.slow
@pytest.mark.browser
def test_xlsx_sheets_equal_the_html_tables_cell_by_cell(published):
    from openpyxl import load_workbook

    _, folders, _ = published
    suppressed_somewhere = False
    for key, folder in folders.items():
        html = (folder / "report.html").read_text(encoding="utf-8")
        tables = model.read_document(html).tables
        main = html[html.index("<main") : html.index("</main>")]
        without_charts = re.sub(r'<figure class="chart".*?</figure>', "", main, flags=re.S)
        report_tables = without_charts.count("<table") - without_charts.count('class="parameters"')
        assert len(tables) == report_tables, key
        wb = load_workbook(folder / "report.xlsx")
        assert len(wb.sheetnames) == len(tables) + 1, key
        for table, name in zip(tables, wb.sheetnames[1:], strict=True):
            ws = wb[name]
            for r, row in enumerate(table.rows):
                shown = [
                    xlsx.cell_text(
                        ws.cell(xlsx.TABLE_START_ROW + r, c + 1).value,
                        ws.cell(xlsx.TABLE_START_ROW + r, c + 1).number_format,
                    )
                    for c in range(len(row))
                ]
                assert shown == row, (key, name, r)
            if table.has_suppressed:
                suppressed_somewhere = True
                notes = [c.value for line in ws.iter_rows() for c in line if c.value]
                assert any("Geheimhaltung" in str(v) for v in notes), (key, name)
    assert suppressed_somewhere, "the demo reports have suppressed cells"


def test_a_single_bar_becomes_a_sentence_with_its_table_in_the_report(tmp_path):
    fig = go.Figure(go.Bar(x=["A", "B"], y=[12, None], name="n"))
    fig.update_layout(title="Austritte")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "x",
            outputs=[
                nbformat.v4.new_output(
                    "display_data", data={report.PLOTLY_MIME: json.loads(pio.to_json(fig))}
                )
            ],
        )
    ]
    path = tmp_path / "one.ipynb"
    nbformat.write(nb, path)
    html = _html(path)
    assert 'class="plotly-graph-div"' not in html
    assert 'class="chart-as-text"' in html and "Balkendiagramm „Austritte“" in html


def test_css_is_trimmed_to_the_rules_and_variables_the_page_uses():
    css = """
    :root { --used: 1px; --via: var(--used); --unused: 2px; --chain: var(--via); }
    .jp-Used, .jp-Missing { margin: var(--chain); }
    .jp-Missing .jp-Used { color: red; }
    table:not(.jp-Missing) { border: 0; }
    body { padding: var(--unused-elsewhere, 0); }
    @media print { .jp-Used { display: block; } .jp-Missing { display: none; } }
    @keyframes spin { from { opacity: 0; } }
    """
    out = report.trim_css(css, {"jp-Used"})
    assert ".jp-Used{margin:var(--chain)}" in out, "the unused selector of a list is dropped"
    assert "jp-Missing .jp-Used" not in out and "keyframes" not in out
    assert "table:not(.jp-Missing){border:0}" in out, ":not() needs no class"
    assert "@media print{.jp-Used{display:block}}" in out
    for variable in ("--chain:", "--via:", "--used:"):
        assert variable in out, "variables used directly or through others are kept"
    assert "--unused:" not in out


def test_the_parsed_stylesheet_is_reused_but_every_page_gets_its_own_trim():
    """The parse is cached per stylesheet; the trim depends on the page's classes only."""
    css = ".jp-A { color: red; } .jp-B { color: blue; } .jp-A.jp-B { margin: var(--m); } :root { --m: 0; }"
    report._css_rules.cache_clear()
    only_a = report.trim_css(css, {"jp-A"})
    both = report.trim_css(css, {"jp-A", "jp-B"})
    assert report._css_rules.cache_info().hits == 1
    assert ".jp-B" not in only_a and "--m" not in only_a
    assert ".jp-A.jp-B{margin:var(--m)}" in both and "--m:0" in both
    assert report.trim_css(css, {"jp-A"}) == only_a, "a later page is not changed by an earlier one"
    report._css_rules.cache_clear()
    assert report.trim_css(css, {"jp-A", "jp-B"}) == both


def test_the_parsed_stylesheet_is_kept_on_disk_for_the_next_process(tmp_path, monkeypatch):
    """A worker's first report read nbconvert's stylesheet parsed by an earlier process
    instead of parsing it again; the page is the same either way."""
    import tinycss2

    cache = tmp_path / "cache"
    monkeypatch.setenv("EVALUATION_CACHE_DIR", str(cache))
    css = (
        ".jp-A { color: red; } .jp-B { color: blue; } @media print { .jp-A { margin: var(--m); } }"
        " :root { --m: 0; --n: 1px; }"
    )
    parsed = report._parse_css_rules(css)
    report._css_rules.cache_clear()
    first = report.trim_css(css, {"jp-A"})
    (written,) = cache.glob("css-rules-*.json")

    def no_parse(*args, **kwargs):
        raise AssertionError("parsed again although the parse is on disk")

    with monkeypatch.context() as m:  # the next process: read, not parsed
        m.setattr(tinycss2, "parse_stylesheet", no_parse)
        report._css_rules.cache_clear()
        assert report._css_rules(css) == parsed
        assert report.trim_css(css, {"jp-A"}) == first
        assert ".jp-A{color:red}" in first and "@media print{.jp-A{margin:var(--m)}}" in first
        assert "--m:0" in first and "--n" not in first
    report._css_rules.cache_clear()
    other = report.trim_css(css.replace("red", "green"), {"jp-A"})
    assert "green" in other and len(list(cache.glob("css-rules-*.json"))) == 2, "own file"

    for damage in ("[[1, 2", '[["@media x", 5]]', "{}", '[[[["a"]], []]]'):
        written.write_text(damage, encoding="utf-8")
        report._css_rules.cache_clear()
        assert report._css_rules(css) == parsed, damage
        assert json.loads(written.read_text(encoding="utf-8")), "the damaged file is replaced"

    blocked = tmp_path / "a-file"
    blocked.write_text("", encoding="utf-8")
    for unusable in (str(blocked / "cache"), ""):  # cannot be made / switched off
        monkeypatch.setenv("EVALUATION_CACHE_DIR", unusable)
        report._css_rules.cache_clear()
        assert report.trim_css(css, {"jp-A"}) == first

    # a whole report: no cache, a cold cache (written) and a warm one (read) agree byte for byte
    nb = probe_notebook(tmp_path)
    pages = []
    for setting in ("", str(tmp_path / "pages"), str(tmp_path / "pages")):
        monkeypatch.setenv("EVALUATION_CACHE_DIR", setting)
        report._css_rules.cache_clear()
        pages.append(_html(nb))
    assert pages[0] == pages[1] == pages[2]
    assert list((tmp_path / "pages").glob("css-rules-*.json"))
    report._css_rules.cache_clear()


def test_the_chart_images_use_the_figures_the_html_built_and_the_same_json(tmp_path, monkeypatch):
    """The PDF's and DOCX's images are drawn from the figures the run's HTML report built
    (kept, not built a second time); the JSON is the one a fresh build gives."""
    nb = probe_notebook(tmp_path)
    (spec,) = report.figure_specs(nbformat.read(nb, as_version=4))
    fresh = report.figure_from_spec(spec)
    expected = (pio.to_json(fresh, validate=False), None, "Austritte")
    report._FIGURES.clear()
    _html(nb)
    built = []
    original = report.figure_from_spec

    def counting(spec_):
        built.append(spec_)
        return original(spec_)

    monkeypatch.setattr(report, "figure_from_spec", counting)
    assert report.figure_json(json.loads(json.dumps(spec))) == expected, "an equal output"
    assert not built, "not built again"
    other = json.loads(json.dumps(spec))
    other["layout"]["title"]["text"] = "Eintritte"
    assert report.figure_json(other)[2] == "Eintritte" and len(built) == 1, "a new one is built"
    monkeypatch.setattr(report, "FIGURES_KEPT", 3)
    for n in range(5):
        other["layout"]["height"] = 300 + n
        assert report.figure_json(other)[1] == 300 + n
    assert len(report._FIGURES) == 3, "only the last few are kept"


def test_plotly_js_goes_into_the_head_script_once_after_the_page_is_built(tmp_path):
    """plotly.js is put in after nbconvert's and the CSS trim's passes over the page: in
    the head's script, exactly once, and a notebook that shows the mark keeps its text."""
    nb_path = probe_notebook(tmp_path)
    book = nbformat.read(nb_path, as_version=4)
    book.cells.append(nbformat.v4.new_markdown_cell(f"Marke: `{report.PLOTLY_JS_MARK}`"))
    nbformat.write(book, nb_path)
    page = _html(nb_path)
    library = report._plotly_js()
    assert page.count(library) == 1
    head, body = page.split("</head>", 1)
    assert f'<script type="text/javascript">{library}</script>' in head
    assert report.PLOTLY_JS_MARK not in head and report.PLOTLY_JS_MARK in body
    shared = report.export_html(
        nb_path,
        provenance=MANIFEST,
        title="t",
        field="f",
        period_text="2024",
        plotly_src="../assets/plotly.js",
    )
    assert library not in shared and 'src="../assets/plotly.js"' in shared


def test_a_figure_built_with_the_cached_theme_equals_one_built_from_its_json():
    """Charts are drawn from figures whose theme is validated once per process; the figure is
    the one plotly builds from the notebook output, and changing it leaves the cache alone."""
    import plotly.graph_objects as go

    fig = go.Figure(go.Bar(x=["a", "b"], y=[3, 4]), layout={"template": "plotly_white"})
    spec = json.loads(pio.to_json(fig))
    from evaluation import plots

    reference = plots.finish(pio.from_json(json.dumps(spec), skip_invalid=True))
    first = report.figure_from_spec(spec)
    assert first.to_plotly_json() == reference.to_plotly_json()
    first.layout.template.layout.font.size = 99
    again = report.figure_from_spec(spec)
    assert again.layout.template.layout.font.size != 99
    assert again.to_plotly_json() == reference.to_plotly_json()
    assert "template" in spec["layout"] and isinstance(spec["layout"]["template"], dict)


def test_a_report_embeds_only_the_jupyterlab_css_it_uses(tmp_path):
    html = _html(probe_notebook(tmp_path))
    styles = re.findall(r"<style[^>]*>(.*?)</style>", html, re.S)
    size = sum(len(s.encode()) for s in styles)
    assert size < 40_000, f"{size} bytes of CSS (nbconvert embeds about 260 kB untrimmed)"
    css = "\n".join(styles)
    assert ".jp-RenderedHTMLCommon" in css and "--jp-content-font-color1" in css
    assert ".jp-CodeMirrorEditor" not in css and ".jp-Dialog" not in css
    assert "notebook-css" not in html, "the template's marks are gone"
