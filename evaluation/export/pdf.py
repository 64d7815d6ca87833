"""The report as an A4 PDF, printed by headless Chromium from a print version of the HTML.

The print version is the HTML report itself with: a cover page; the charts as static SVG
images drawn by plotly.js from the same figures (no plotly toolbar, no script, fitted to
the page width) carrying their text alternative; the data tables behind the charts hidden;
and CSS paged media (``@page`` margin boxes) for A4 margins, the running header (agency and
report) and page numbers "Seite n von m". The process's headless Chromium
(:mod:`evaluation.export.browser`) prints it with ``Page.printToPDF`` and the options of
``--print-to-pdf --no-pdf-header-footer --generate-pdf-document-outline`` (so no
``file://`` path or browser date appears, a document outline from the headings, tagged PDF).
"""

from __future__ import annotations

import base64
import html
import os
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evaluation.export import images
from evaluation.export.images import INSTALL_HINT, ExportUnavailable

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=127.0.0.1:9",
)


def _css_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def print_css(running_header: str, *, language: str = "de") -> str:
    """Paged-media CSS of the PDF: A4, margins, running header, page numbers."""
    page, of = ("Seite ", " von ") if language != "en" else ("Page ", " of ")
    return f"""
@page {{
  size: A4;
  margin: 22mm 16mm 20mm 20mm;
  @top-left {{ content: {_css_string(running_header)}; font: 8pt Arial, sans-serif; color: #52606d; }}
  @bottom-right {{ content: "{page}" counter(page) "{of}" counter(pages); font: 8pt Arial, sans-serif; color: #52606d; }}
}}
@page :first {{ @top-left {{ content: none; }} @bottom-right {{ content: none; }} }}
html, body.report {{ background: #fff; }}
body.report {{ max-width: none; margin: 0; padding: 0; font-size: 10pt; }}
.report-toc {{ display: block !important; break-after: page; background: none; padding: 0; }}
section.cover {{ break-after: page; min-height: 240mm; display: flex; flex-direction: column; }}
section.cover .cover-agency {{ font-size: 13pt; color: #3e4c59; margin: 0 0 30mm; text-transform: uppercase; letter-spacing: .04em; }}
section.cover .cover-title {{ font-size: 24pt; margin: 0 0 4mm; border: none; }}
section.cover .cover-subtitle {{ font-size: 12pt; margin: 0 0 18mm; }}
section.cover table {{ border-collapse: collapse; font-size: 10.5pt; }}
section.cover th, section.cover td {{ text-align: left; padding: 1.5mm 6mm 1.5mm 0; vertical-align: top; border-bottom: 0.3pt solid #cbd2d9; }}
section.cover .signatures {{ margin-top: auto; display: flex; gap: 14mm; }}
section.cover .signature {{ flex: 1; border-top: 0.6pt solid #1f2933; padding-top: 1.5mm; font-size: 9pt; margin-top: 22mm; }}
figure.chart {{ break-inside: avoid; margin: 4mm 0; }}
figure.chart img {{ width: 100%; height: auto; display: block; }}
details.chart-data, .anchor-link, .modebar {{ display: none !important; }}
table {{ break-inside: auto; }}
main table {{ width: auto !important; max-width: 100%; table-layout: auto !important; font-size: 8.5pt; }}
main th, main td {{ white-space: normal !important; overflow-wrap: break-word; hyphens: auto; padding: 0.8mm 1.6mm !important; }}
.jp-OutputArea-output, .disclosed-table {{ max-width: 100% !important; min-width: 0 !important; }}
tr, th, td {{ break-inside: avoid; }}
thead {{ display: table-header-group; }}
h1, h2, h3, h4, caption {{ break-after: avoid; }}
.jp-OutputArea-output {{ overflow: visible !important; }}
.report-header {{ display: none; }}
"""


#: Tables wider than the page are scaled down to its width (never cut at the edge).
FIT_TABLES = """
window.addEventListener("load", function () {
  var width = document.querySelector("main").clientWidth;
  document.querySelectorAll("main table").forEach(function (t) {
    if (t.scrollWidth > width) { t.style.zoom = (width / t.scrollWidth).toFixed(3); }
  });
});
"""


def cover_html(cover: Mapping[str, Any], *, title: str, agency: str, subtitle: str) -> str:
    """The cover page: agency, title, period, the facts table and signature lines."""
    rows = "".join(
        f'<tr><th scope="row">{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>'
        for k, v in cover.get("facts", [])
        if v
    )
    signatures = "".join(
        f'<div class="signature">{html.escape(str(s))}</div>' for s in cover.get("signatures", [])
    )
    return (
        '<section class="cover">'
        f'<p class="cover-agency">{html.escape(agency)}</p>'
        f'<h1 class="cover-title">{html.escape(title)}</h1>'
        f'<p class="cover-subtitle">{html.escape(subtitle)}</p>'
        f"<table><tbody>{rows}</tbody></table>"
        f'<div class="signatures">{signatures}</div>'
        "</section>"
    )


def print_html(
    report_html: str,
    svgs: Sequence[bytes],
    *,
    cover: Mapping[str, Any],
    title: str,
    agency: str,
    subtitle: str,
    language: str = "de",
) -> str:
    """The print version of a report (see the module docstring)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(report_html, "html.parser")
    for script in soup.find_all("script"):
        if script.find_parent("head") is not None or script.find_parent(class_="chart-drawing"):
            script.decompose()
    for figure in soup.find_all("figure", class_="chart"):
        index = int(figure.get("data-chart", 0))
        drawing = figure.find(class_="chart-drawing")
        alt = figure.find(class_="chart-alt")
        if drawing is None or index >= len(svgs):
            continue
        drawing.clear()
        del drawing["role"]
        del drawing["aria-labelledby"]
        img = soup.new_tag(
            "img",
            src="data:image/svg+xml;base64," + base64.b64encode(svgs[index]).decode("ascii"),
            alt=alt.get_text(" ").strip() if alt else "",
        )
        drawing.append(img)
    style = soup.new_tag("style")
    style.string = print_css(" · ".join(x for x in (agency, title) if x), language=language)
    (soup.head or soup).append(style)
    body = soup.body or soup
    fit = soup.new_tag("script")
    fit.string = FIT_TABLES
    body.append(fit)
    cover_tag = BeautifulSoup(
        cover_html(cover, title=title, agency=agency, subtitle=subtitle), "html.parser"
    )
    body.insert(0, cover_tag)
    return str(soup)


def write_pdf(
    page_html: str, target: Path, *, timeout: float = 180, call_timeout: float | None = None
) -> Path:
    """Print ``page_html`` to ``target`` (A4 from the page's CSS) in the process's browser.

    ``timeout`` bounds the whole print, a restart of a crashed or hung browser included;
    ``call_timeout`` one step (page load, print).

    Raises
    ------
    ExportUnavailable
        Chromium is missing, or it failed twice or ran out of time (one German line).
    """
    from evaluation.export import browser

    if images.chromium() is None:
        raise ExportUnavailable(INSTALL_HINT)

    def job(chrome: browser.Browser, deadline: float) -> bytes:
        return chrome.pdf(
            page_html, deadline=deadline, call_timeout=call_timeout or browser.CALL_TIMEOUT
        )

    data = browser.run_job(job, what="PDF nicht gedruckt", timeout=timeout)
    if not data.startswith(b"%PDF"):
        raise ExportUnavailable("PDF nicht gedruckt: Chromium lieferte keine PDF-Datei")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, target)
    return target


def write_pdf_cli(page_html: str, target: Path, *, timeout: int = 180) -> Path:
    """The former way: a new Chromium per PDF with ``--print-to-pdf`` (1–2 s for its start).

    Kept as the reference that tests and ``benchmarks/bench_export.py`` compare
    :func:`write_pdf` with; the export itself does not use it.
    """
    binary = images.chromium()
    if binary is None:
        raise ExportUnavailable(INSTALL_HINT)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="report-pdf-") as tmp:
        page = Path(tmp) / "print.html"
        page.write_text(page_html, encoding="utf-8")
        out = Path(tmp) / "report.pdf"
        profile = Path(tmp) / "profile"
        command = [
            binary,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--no-pdf-header-footer",
            "--generate-pdf-document-outline",
            "--virtual-time-budget=5000",
            # the screen layout as wide as the printed A4 text area (174 mm), so that the
            # table-fitting script measures what will be printed
            "--window-size=658,940",
            f"--print-to-pdf={out}",
            page.as_uri(),
        ]
        env = {**os.environ, "HOME": tmp}
        problem = ""
        for _attempt in range(2):  # one retry: a loaded machine can make Chromium time out
            try:
                result = subprocess.run(
                    command, capture_output=True, text=True, timeout=timeout, env=env
                )
            except subprocess.TimeoutExpired:
                problem = f"keine Antwort nach {timeout} s"
                continue
            if result.returncode == 0 and out.exists() and out.stat().st_size > 0:
                problem = ""
                break
            problem = (
                f"Status {result.returncode}: "
                + (result.stderr.strip().splitlines() or ["keine Meldung"])[-1]
            )
        if problem:
            raise ExportUnavailable(f"Chromium konnte das PDF nicht drucken ({problem})")
        target.write_bytes(out.read_bytes())
    return target
