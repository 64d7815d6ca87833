"""The report in the formats the agency submits: A4 PDF, DOCX and XLSX.

All formats are made from the rendered HTML report (:mod:`evaluation.export.model`) and
the notebook's figure data (:func:`evaluation.report.figure_specs`), so tables, marks and
charts agree with the HTML. Engines: one headless Chromium per process
(:mod:`evaluation.export.browser`, kept for the next report) draws the chart images with
the reports' own plotly.js and prints the PDF (CSS paged media); python-docx writes the
Word file, openpyxl the workbook.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from evaluation.export import images
from evaluation.export.images import (
    INSTALL_HINT,
    ExportUnavailable,
    chart_image_sets,
    chart_images,
)
from evaluation.export.model import Document, Figure, Heading, Paragraph, Table, read_document

FORMATS = ("pdf", "docx", "xlsx")
#: Seconds one report's chart images and PDF may take together (a browser restart included).
REPORT_TIMEOUT = 360.0

COVER_LABELS = {
    "de": {
        "agency": "Einrichtung",
        "traeger": "Träger",
        "file_reference": "Förderkennzeichen / Aktenzeichen",
        "grant_authority": "Bewilligungsbehörde",
        "period": "Berichtszeitraum",
        "contact": "Ansprechperson",
        "created": "Erstellt am",
        "place": "Ort",
        "signatures": ["Ort, Datum", "Unterschrift (rechtsverbindlich)"],
    },
    "en": {
        "agency": "Agency",
        "traeger": "Provider",
        "file_reference": "Grant / file reference",
        "grant_authority": "Granting authority",
        "period": "Reporting period",
        "contact": "Contact",
        "created": "Created on",
        "place": "Place",
        "signatures": ["Place, date", "Signature (legally binding)"],
    },
}


#: The cover's facts in reading order (:func:`cover_facts`).
COVER_FACTS = (
    "agency",
    "traeger",
    "file_reference",
    "grant_authority",
    "period",
    "contact",
    "created",
    "place",
)
#: Run parameters that are shown on the cover (and so not again in the settings table).
COVER_PARAMETERS = frozenset(
    {
        "traeger",
        "file_reference",
        "foerderkennzeichen",
        "grant_authority",
        "contact",
        "contact_name",
        "contact_phone",
        "contact_email",
        "place",
        "signatures",
    }
)


def german_date(value: str | datetime | None, language: str = "de") -> str:
    """A date as readers write it: ``1. Dezember 2026`` (babel), English ``1 December 2026``."""
    from babel.dates import format_date

    if value is None:
        value = datetime.now()
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    return format_date(value, format="long", locale="de_DE" if language != "en" else "en_GB")


def cover_facts(
    manifest: Mapping[str, Any],
    cover: Mapping[str, Any] | None = None,
    *,
    language: str = "de",
    period_text: str = "",
) -> dict[str, Any]:
    """The cover page's facts: ``{"facts": [(label, value), ...], "signatures": [...]}``.

    Each of ``agency``, ``traeger``, ``file_reference``, ``grant_authority``
    (Bewilligungsbehörde), ``period``, ``contact``, ``created``, ``place`` and
    ``signatures`` is taken from ``cover`` when given there, else from the run's parameters
    (same names, ``foerderkennzeichen`` also for the file reference, ``contact`` also put
    together from ``contact_name``, ``contact_phone`` and ``contact_email``), else from the
    manifest (period, creation date as a German date); a value that is nowhere stays empty
    and its line is left out.
    """
    labels = COVER_LABELS["en" if language == "en" else "de"]
    given = dict(cover or {})
    params = dict(manifest.get("parameters", {}))
    period = manifest.get("period", {})
    defaults = {
        "agency": params.get("agency", ""),
        "traeger": params.get("traeger", ""),
        "file_reference": params.get("file_reference", params.get("foerderkennzeichen", "")),
        "period": period_text
        or (
            f"{period.get('label', '')} ({german_date(period['start'], language)} – "
            f"{german_date(period['end'], language)})"
            if period.get("start") and period.get("end")
            else period.get("label", "")
        ),
        "grant_authority": params.get("grant_authority", ""),
        "contact": params.get("contact")
        or " · ".join(
            str(params[k])
            for k in ("contact_name", "contact_phone", "contact_email")
            if params.get(k)
        ),
        "created": german_date(
            manifest.get("ended_at") or manifest.get("started_at") or None, language
        ),
        "place": params.get("place", ""),
    }
    facts = [(labels[key], given.get(key, defaults[key])) for key in COVER_FACTS]
    signatures = given.get("signatures", params.get("signatures", labels["signatures"]))
    return {"facts": facts, "signatures": list(signatures)}


_SAID: set[str] = set()


def _note(out: Any, text: str) -> None:
    """Print a note; on standard error only once per process (a plan of 40 runs says it once)."""
    if out is None:
        if text in _SAID:
            return
        _SAID.add(text)
    print(text, file=out if out is not None else sys.stderr)


def export_formats(
    notebook: Path | Any,
    out_dir: Path,
    *,
    manifest: Mapping[str, Any],
    language: str = "de",
    formats: Sequence[str] = FORMATS,
    cover: Mapping[str, Any] | None = None,
    html_text: str | None = None,
    out: Any = None,
    timings: dict[str, float] | None = None,
) -> dict[str, Path]:
    """See :func:`evaluation.report.export_formats` (the public entry point)."""
    import nbformat

    from evaluation import report
    from evaluation.export.docx import write_docx
    from evaluation.export.pdf import print_html, write_pdf
    from evaluation.export.xlsx import write_xlsx

    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ValueError(f"unknown report format(s) {unknown}; known: {', '.join(FORMATS)}")
    lang = "en" if language == "en" else "de"
    nb = nbformat.read(notebook, as_version=4) if isinstance(notebook, str | Path) else notebook
    specs = report.figure_specs(nb)
    html_path = out_dir / "report.html"
    if html_text is None and html_path.exists():
        html_text = html_path.read_text(encoding="utf-8")
    if html_text is None:
        period = manifest.get("period", {})
        html_text = report.export_html(
            notebook if isinstance(notebook, str | Path) else _as_file(nb, out_dir),
            provenance=manifest,
            title=manifest.get("title", ""),
            field=manifest.get("field", ""),
            period_text=report.period_text(
                period.get("start", ""), period.get("end", ""), period.get("label", ""), lang
            ),
            language=lang,  # type: ignore[arg-type]
        )
    doc = read_document(html_text)
    facts = cover_facts(manifest, cover, language=lang)
    written: dict[str, Path] = {}
    times = timings if timings is not None else {}
    out_dir.mkdir(parents=True, exist_ok=True)

    if "xlsx" in formats:
        t = time.perf_counter()
        written["xlsx"] = write_xlsx(doc, out_dir / "report.xlsx", language=lang)
        times["xlsx"] = time.perf_counter() - t
    # one deadline for the report's browser work (images and PDF together)
    deadline = time.monotonic() + REPORT_TIMEOUT
    need_images = bool(specs) and ("docx" in formats or "pdf" in formats)
    pngs: list[bytes] | None = None
    svgs: list[bytes] | None = None
    unavailable = ""
    if need_images:
        t = time.perf_counter()
        kinds: dict[str, dict[str, float]] = {}
        if "docx" in formats:
            kinds["png"] = {"width": 900, "height": 480, "scale": 2}
        if "pdf" in formats:
            kinds["svg"] = {"width": 680, "height": 420}
        try:
            sets = chart_image_sets(specs, kinds, timeout=_left(deadline))
            pngs, svgs = sets.get("png"), sets.get("svg")
        except ExportUnavailable as exc:
            unavailable = str(exc)
        times["images"] = time.perf_counter() - t
    if "docx" in formats:
        t = time.perf_counter()
        written["docx"] = write_docx(
            doc,
            out_dir / "report.docx",
            cover=facts,
            images=pngs if pngs is not None or not specs else None,
            language=lang,
            missing_images_note=(
                "Diagramm nicht eingebettet: Chromium fehlt"
                if lang == "de"
                else "chart not embedded: Chromium missing"
            ),
        )
        times["docx"] = time.perf_counter() - t
    if "pdf" in formats:
        t = time.perf_counter()
        if unavailable or images.chromium() is None:
            what = "PDF nicht erstellt" + (
                ", DOCX ohne Diagrammbilder" if "docx" in formats and unavailable else ""
            )
            _note(out, f"{what} – {unavailable or INSTALL_HINT}")
        else:
            page = print_html(
                html_text,
                svgs or [],
                cover=facts,
                title=doc.title,
                agency=doc.agency,
                subtitle=doc.subtitle,
                language=lang,
            )
            try:
                written["pdf"] = write_pdf(page, out_dir / "report.pdf", timeout=_left(deadline))
            except ExportUnavailable as exc:
                _note(out, f"PDF nicht erstellt – {exc}")
        times["pdf"] = time.perf_counter() - t
    elif unavailable:
        _note(out, f"DOCX ohne Diagrammbilder – {unavailable}")
    if html_path.exists():
        linked = report.link_formats(
            html_path.read_text(encoding="utf-8"), {"html": html_path, **written}, lang
        )
        html_path.write_text(linked, encoding="utf-8")
    return written


def warm_up(*, language: str = "de", start_browser: bool = True) -> dict[str, float]:
    """Pay ahead what a process's first report pays once: meant for a worker's idle time
    while its kernel starts, e.g. in a thread (``threading.Thread(target=warm_up)``).

    Renders a small report with one chart to HTML in a temporary folder (nbconvert and its
    templates, pandas and plotly's figure classes via :mod:`evaluation.plots`, the house
    theme validated, the parsed stylesheet, BeautifulSoup), reads it as the formats do,
    imports openpyxl and python-docx and starts the process's browser (chart page loaded).
    A first report after it costs what a later one does. Safe next to a report being
    rendered (the HTML exporter is used under a lock, the browser under its own). Never
    raises: a step that fails is left to the first report, which then says what is wrong.

    Returns
    -------
    dict
        Seconds per step (``html``, ``formats``, ``browser``); a step that failed or was
        not done is missing.
    """
    import tempfile

    took: dict[str, float] = {}
    lang = "en" if language == "en" else "de"
    start = time.perf_counter()
    html_text = ""
    try:
        with tempfile.TemporaryDirectory(prefix="report-warm-up-") as folder:
            html_text = _warm_up_html(Path(folder), lang)
        took["html"] = time.perf_counter() - start
    except Exception:  # noqa: BLE001 - the first report will say what is wrong
        pass
    start = time.perf_counter()
    try:
        import docx  # noqa: F401 - imported ahead of the first DOCX
        import openpyxl  # noqa: F401 - and of the first XLSX

        if html_text:
            read_document(html_text)
        took["formats"] = time.perf_counter() - start
    except Exception:  # noqa: BLE001
        pass
    if start_browser and images.chromium() is not None:
        start = time.perf_counter()
        try:
            from evaluation.export import browser

            browser.run_job(lambda chrome, deadline: None, what="Browser nicht gestartet")
            took["browser"] = time.perf_counter() - start
        except Exception:  # noqa: BLE001
            pass
    return took


def _warm_up_html(folder: Path, language: str) -> str:
    """A small report (heading, table, one bar chart in the house theme) as HTML."""
    import json

    import nbformat
    import plotly.graph_objects as go
    import plotly.io as pio

    from evaluation import plots, report

    theme = pio.templates.merge_templates(
        pio.templates["plotly_white"],
        plots.house_template("en" if language == "en" else "de"),
    )
    fig = go.Figure(
        [go.Bar(x=["2023", "2024"], y=[10, 12], name="A"), go.Bar(x=["2023", "2024"], y=[7, 9])],
        layout={"template": theme, "title": "Probe", "xaxis_title": "Jahr"},
    )
    table = "<table><thead><tr><th>Jahr</th><th>n</th></tr></thead><tbody>" + (
        "<tr><th>2024</th><td>12</td></tr></tbody></table>"
    )
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("## Probe\n\nText mit **Hervorhebung**."),
        nbformat.v4.new_code_cell(
            "x",
            outputs=[
                nbformat.v4.new_output("display_data", data={"text/html": table}),
                nbformat.v4.new_output(
                    "display_data", data={report.PLOTLY_MIME: json.loads(pio.to_json(fig))}
                ),
            ],
        ),
    ]
    path = folder / "notebook.ipynb"
    nbformat.write(nb, path)
    return report.export_html(
        path,
        provenance={
            "run_id": "probe",
            "run_key": "probe",
            "parameters": {"agency": "Probe"},
            "data": {"snapshot_id": "", "source": "", "manifest_sha256": ""},
            "code": {"evaluation_version": "", "source_fingerprint": "", "git": {}},
            "notebook": {"path": "", "sha256": ""},
            "environment": {},
        },
        title="Probe",
        field="Probe",
        period_text="2024",
        language=language,  # type: ignore[arg-type]
    )


def _left(deadline: float) -> float:
    """Seconds left until ``deadline`` (at least one, so the job can say it ran out)."""
    return max(deadline - time.monotonic(), 1.0)


def _as_file(nb: Any, out_dir: Path) -> Path:
    import tempfile

    import nbformat

    folder = Path(tempfile.mkdtemp(prefix="export-nb-"))
    path = folder / "notebook.ipynb"
    nbformat.write(nb, path)
    return path


__all__ = [
    "COVER_FACTS",
    "COVER_PARAMETERS",
    "Document",
    "ExportUnavailable",
    "FORMATS",
    "Figure",
    "Heading",
    "Paragraph",
    "Table",
    "chart_images",
    "cover_facts",
    "export_formats",
    "german_date",
    "read_document",
    "warm_up",
]
