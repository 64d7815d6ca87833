"""Reports for readers: executed notebooks exported to self-contained HTML, and the index.

The export uses nbconvert's ``HTMLExporter`` with the ``report`` template in
``evaluation/templates/``: no code cells, no prompts, no diagnostics; the parameters as a
small table; a table of contents; the provenance footer. plotly.js is embedded once per
report (plotly's basic partial bundle – scatter and bar – vendored in ``evaluation/vendor/``
at the version of the installed plotly, or a shared copy for large sites) and every chart is
drawn from the figure JSON the notebook produced, so the page works offline and loads nothing
from a CDN. Every chart carries a generated text alternative and its data table.

:func:`export_formats` writes the same report as A4 PDF, DOCX and XLSX (see
:mod:`evaluation.export`).
"""

from __future__ import annotations

import functools
import html
import json
import re
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from evaluation.paths import PACKAGE_DIR, Paths, cache_dir, paths

TEMPLATE_DIR = PACKAGE_DIR / "templates"
VENDOR_DIR = PACKAGE_DIR / "vendor"
PLOTLY_BASIC = VENDOR_DIR / "plotly.js-basic-dist-min" / "plotly-basic.min.js"
#: Name of the shared plotly.js copy (``reports/assets/``) for ``plotly_src="shared"``.
SHARED_PLOTLY = "assets/plotly-basic.min.js"
PLOTLY_MIME = "application/vnd.plotly.v1+json"
HIDDEN_TAGS = {"parameters", "injected-parameters", "remove", "remove_cell", "hide"}
#: Where the template's inline script gets plotly.js (replaced at the end of the export).
PLOTLY_JS_MARK = "/*evaluation:plotly.js:8d1f3c*/"

TEXT: dict[str, dict[str, str]] = {
    "de": {
        "field": "Handlungsfeld",
        "period": "Berichtszeitraum",
        "contents": "Inhalt",
        "cover": "Deckblatt",
        "parameters": "Einstellungen dieses Berichts",
        "parameters_anchor": "einstellungen",
        "provenance": "Herkunft der Zahlen",
        "provenance_anchor": "herkunft",
        "run": "Lauf",
        "data": "Daten",
        "snapshot": "Datenstand",
        "source": "Quelle",
        "code": "Auswertungscode",
        "source_hash": "Quellcode-Prüfsumme",
        "notebook": "Notebook",
        "time": "Erstellt",
        "software": "Software",
        "unknown": "unbekannt",
        "dirty": "mit nicht eingecheckten Änderungen",
        "index_title": "Berichte",
        "status_ok": "erstellt",
        "status_failed": "fehlgeschlagen",
        "report": "Bericht",
        "last_good": "letzter erfolgreicher Bericht",
        "none": "keiner",
        "runs_at": "Stand",
        "chart_data": "Daten zur Abbildung",
        "formats": "Formate",
        "key_figures": "Kennzahlen",
        "latest": "Aktuelle Berichte",
        "all_reports": "Alle Berichte",
        "title_col": "Titel",
        "cadence": "Turnus",
        "status": "Status",
        "page": "Seite",
        "of": "von",
        "skip": "Zum Inhalt springen",
        "index_note": (
            "„*“ in den Berichten: nicht ausgewiesen (Geheimhaltung, zu kleine Fallzahl). "
            "PDF und DOCX sind zum Einreichen und Bearbeiten, XLSX enthält alle Tabellen."
        ),
        "suppression": (
            "Geheimhaltung: Fallzahlen unter {threshold} sowie Werte, aus denen sie sich "
            "zurückrechnen ließen, sind mit „*“ gekennzeichnet und nicht ausgewiesen. "
            "Anteile und Mittelwerte auf solchen Fallzahlen ebenfalls."
        ),
    },
    "en": {
        "field": "Field of work",
        "period": "Reporting period",
        "contents": "Contents",
        "cover": "Cover page",
        "parameters": "Settings of this report",
        "parameters_anchor": "settings",
        "provenance": "Where these figures come from",
        "provenance_anchor": "provenance",
        "run": "Run",
        "data": "Data",
        "snapshot": "snapshot",
        "source": "source",
        "code": "Evaluation code",
        "source_hash": "source checksum",
        "notebook": "Notebook",
        "time": "Created",
        "software": "Software",
        "unknown": "unknown",
        "dirty": "with uncommitted changes",
        "index_title": "Reports",
        "status_ok": "created",
        "status_failed": "failed",
        "report": "Report",
        "last_good": "last successful report",
        "none": "none",
        "runs_at": "As of",
        "chart_data": "Data of this chart",
        "formats": "Formats",
        "key_figures": "Key figures",
        "latest": "Latest reports",
        "all_reports": "All reports",
        "title_col": "Title",
        "cadence": "Cadence",
        "status": "Status",
        "page": "Page",
        "of": "of",
        "skip": "Skip to content",
        "index_note": (
            "“*” in the reports: not shown (disclosure control, count too small). "
            "PDF and DOCX are for submitting and editing; XLSX holds every table."
        ),
        "suppression": (
            "Disclosure control: counts below {threshold}, and values from which they could be "
            "recomputed, are marked “*” and not shown; so are shares and means based on them."
        ),
    },
}

PARAMETER_LABELS: dict[str, tuple[str, str]] = {
    "period_start": ("Beginn des Berichtszeitraums", "Start of reporting period"),
    "period_end": ("Ende des Berichtszeitraums", "End of reporting period"),
    "agency": ("Träger/Einrichtung", "Agency"),
    "snapshot": ("Datenstand (Snapshot)", "Data snapshot"),
    "language": ("Sprache", "Language"),
    "suppression_threshold": ("Mindestfallzahl für die Anzeige", "Minimum count shown"),
    "project": ("Projekt", "Project"),
    "followup_months": ("Nachbeobachtung (Monate nach Austritt)", "Follow-up (months after exit)"),
    "estimate_effect": ("Wirkungsschätzung", "Effect estimate"),
    "staff_fte": ("Personal (VZÄ)", "Staff (FTE)"),
    "grant_eur": ("Landesförderung (Euro)", "State grant (euro)"),
    "trend_years": ("Jahre in den Zeitreihen", "Years in the trends"),
    "outlook": ("Ausblick (Text)", "Outlook (text)"),
    "texts_dir": ("Ordner der Texte der Agentur", "Folder of the agency's texts"),
    "targets_file": ("Datei der Ziele (Soll)", "File of the targets"),
}


def _format_date(value: str, language: str) -> str:
    try:
        d = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return d.strftime("%d.%m.%Y") if language == "de" else d.strftime("%Y-%m-%d")


def _format_value(name: str, value: Any, language: str) -> str:
    if name.startswith("period_"):
        return _format_date(value, language)
    if isinstance(value, bool):
        return ("ja" if value else "nein") if language == "de" else ("yes" if value else "no")
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, int) and ("year" in name or "jahr" in name):
        return str(value)  # a year, not an amount
    if isinstance(value, int | float):
        from babel.numbers import format_currency, format_decimal

        locale = "de_DE" if language == "de" else "en_GB"
        if name.endswith("_eur"):
            return format_currency(
                value, "EUR", format="#,##0 ¤", locale=locale, currency_digits=False
            )
        return format_decimal(value, format="#,##0.###", locale=locale)
    return str(value)


def parameter_rows(parameters: Mapping[str, Any], language: str) -> list[dict[str, str]]:
    """Parameters as reader-facing label/value rows (the cover's facts are on the cover)."""
    from evaluation.export import COVER_PARAMETERS

    idx = 0 if language == "de" else 1
    return [
        {
            "label": PARAMETER_LABELS.get(name, (name, name))[idx],
            "value": _format_value(name, value, language),
        }
        for name, value in parameters.items()
        if name not in COVER_PARAMETERS
    ]


def cover_of(provenance: Mapping[str, Any], language: str = "de") -> dict[str, Any] | None:
    """The cover page's facts for the HTML report, or ``None`` for reports without a cover.

    A report has a cover when its parameters name any cover fact (Träger, file reference,
    Bewilligungsbehörde, contact, place: :data:`evaluation.export.COVER_PARAMETERS`) – the
    annual report; the facts are those of the PDF and DOCX cover
    (:func:`evaluation.export.cover_facts`).
    """
    from evaluation.export import COVER_PARAMETERS, cover_facts

    params = provenance.get("parameters", {}) or {}
    if not COVER_PARAMETERS & set(params):
        return None
    facts = cover_facts(provenance, language="en" if language == "en" else "de")
    return {
        "facts": [(k, str(v)) for k, v in facts["facts"] if v],
        "signatures": [str(x) for x in facts["signatures"]],
    }


def _time_text(prov: Mapping[str, Any], language: str) -> str:
    start = prov.get("started_at", "")
    duration = prov.get("duration_s")
    when = start.replace("T", " ")[:19] + " UTC" if start else ""
    if duration is None:
        return when
    return (
        f"{when}, {duration:.1f} s"
        if language == "en"
        else f"{when}, Laufzeit {duration:.1f} s".replace(".", ",", 1)
    )


def _versions_text(versions: Mapping[str, str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in versions.items() if k != "evaluation")


def bundled_plotly_version() -> str:
    """Version of the plotly.js that the installed plotly package bundles."""
    from plotly.offline import get_plotlyjs_version

    return get_plotlyjs_version()


def vendored_plotly_version() -> str:
    """Version of the vendored basic partial bundle (from its ``package.json``)."""
    meta = json.loads((PLOTLY_BASIC.parent / "package.json").read_text(encoding="utf-8"))
    return str(meta["version"])


def plotly_js_source() -> tuple[str, str]:
    """The plotly.js the reports embed: ``(kind, source text)``.

    The vendored basic bundle (scatter and bar, about a quarter of the full library) when
    its version equals the one plotly bundles – figures are written for exactly that
    version; otherwise the full bundle of the installed plotly, so nothing ever breaks.
    """
    if PLOTLY_BASIC.exists() and vendored_plotly_version() == bundled_plotly_version():
        return "basic", PLOTLY_BASIC.read_text(encoding="utf-8")
    from plotly.offline import get_plotlyjs

    return "full", get_plotlyjs()


def _plotly_js() -> str:
    # "</script" inside the library would end the inline script element early.
    return plotly_js_source()[1].replace("</script", "<\\/script")


def write_shared_plotly(reports_dir: Path) -> Path:
    """Write the shared plotly.js copy to ``reports_dir/assets/`` (for ``plotly_src``)."""
    from evaluation.data import atomic_write_text

    target = Path(reports_dir) / SHARED_PLOTLY
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(target, plotly_js_source()[1])
    return target


def figure_from_spec(spec: Mapping[str, Any]) -> Any:
    """The plotly figure of a notebook output, finished for readers (:func:`plots.finish`).

    HTML, PDF and DOCX all draw their charts from this one figure.
    """
    import plotly.graph_objects as go

    from evaluation import plots

    spec = dict(spec)
    layout = dict(spec.get("layout") or {})
    if isinstance(layout.get("template"), Mapping):
        # every figure of a report carries the same theme; validating it once per process
        # instead of once per figure is two thirds of building the figure
        layout["template"] = _template(json.dumps(layout["template"], sort_keys=True))
        spec["layout"] = layout
    fig = go.Figure(spec, skip_invalid=True)
    return plots.finish(fig)


#: Figures drawn as images after their HTML, kept by :func:`figure_json` (a few reports).
FIGURES_KEPT = 64
_FIGURES: dict[str, tuple[str, int | None, str]] = {}
_FIGURES_LOCK = threading.Lock()


def _spec_key(spec: Mapping[str, Any]) -> str:
    import hashlib

    text = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _keep_figure(key: str, fig: Any) -> tuple[str, int | None, str]:
    import plotly.io as pio

    height = fig.layout.height
    kept = (
        pio.to_json(fig, validate=False),
        int(height) if height else None,
        str(fig.layout.title.text or ""),
    )
    with _FIGURES_LOCK:
        _FIGURES.pop(key, None)
        _FIGURES[key] = kept
        while len(_FIGURES) > FIGURES_KEPT:
            del _FIGURES[next(iter(_FIGURES))]
    return kept


def figure_json(spec: Mapping[str, Any]) -> tuple[str, int | None, str]:
    """The finished figure of a notebook output (:func:`figure_from_spec`) as plotly JSON,
    with its ``layout.height`` and title: what the chart images are drawn from.

    The HTML report keeps these for the figures it draws, so the PDF's and the DOCX's
    images of the same run do not build every figure a second time; an output seen for the
    first time is built here.
    """
    key = _spec_key(spec)
    with _FIGURES_LOCK:
        kept = _FIGURES.get(key)
    if kept is not None:
        return kept
    return _keep_figure(key, figure_from_spec(spec))


@functools.lru_cache(maxsize=8)
def _template(template_json: str) -> Any:
    """The validated plotly template of a figure's theme, built once per process.

    A figure copies the template it is given, so the cached object is never changed.
    """
    import plotly.graph_objects as go

    return go.layout.Template(json.loads(template_json), skip_invalid=True)


def _table_html(frame: Any, caption: str) -> str:
    head = "".join(f'<th scope="col">{html.escape(str(c))}</th>' for c in frame.columns)
    body = "".join(
        "<tr>"
        + "".join(
            (
                f'<th scope="row">{html.escape(str(v))}</th>'
                if j == 0
                else f"<td>{html.escape(str(v))}</td>"
            )
            for j, v in enumerate(row)
        )
        + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return (
        f'<table class="chart-table"><caption>{html.escape(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def _figure_html(spec: Mapping[str, Any], index: int = 0, language: str = "de") -> str:
    """A chart as a ``<figure>``: the drawing, its text alternative and its data table."""
    import plotly.io as pio

    from evaluation import plots

    lang = "en" if language == "en" else "de"
    fig = figure_from_spec(spec)
    _keep_figure(_spec_key(spec), fig)  # before anything reads it: for the chart images
    alt = plots.describe(fig, language=lang)
    if plots.single_bar(fig):
        # one bar says less than a sentence: the sentence and the table instead of a chart
        table = _table_html(plots.figure_table(fig, language=lang), TEXT[lang]["chart_data"])
        return (
            f'<div class="chart-as-text" data-chart="{index}"><p>{html.escape(alt)}</p>'
            f"{table}</div>"
        )
    chart_id = f"abbildung-{index + 1}"
    drawing = pio.to_html(
        fig,
        include_plotlyjs=False,
        full_html=False,
        # a fixed id instead of plotly's random uuid: the same report rendered twice is the
        # same file
        div_id=f"{chart_id}-zeichnung",
        config={
            "displaylogo": False,
            "displayModeBar": False,
            "responsive": True,
            "locale": "de" if lang == "de" else "en",
        },
        default_width="100%",
    )
    table = _table_html(plots.figure_table(fig, language=lang), TEXT[lang]["chart_data"])
    return (
        f'<figure class="chart" data-chart="{index}" id="{chart_id}">'
        f'<div class="chart-drawing" role="img" aria-labelledby="{chart_id}-alt">{drawing}</div>'
        f'<figcaption class="chart-alt" id="{chart_id}-alt">{html.escape(alt)}</figcaption>'
        f'<details class="chart-data"><summary>{TEXT[lang]["chart_data"]}</summary>{table}</details>'
        "</figure>"
    )


def figure_specs(nb: Any) -> list[dict[str, Any]]:
    """The plotly figure outputs of a notebook's shown cells, in document order."""
    specs = []
    for cell in nb.cells:
        if HIDDEN_TAGS & set(cell.get("metadata", {}).get("tags", [])):
            continue
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if PLOTLY_MIME in data:
                specs.append(data[PLOTLY_MIME])
    return specs


def prepare_notebook(nb: Any, language: str = "de") -> Any:
    """Drop hidden cells and turn plotly figure outputs into HTML that draws offline.

    Cells tagged ``parameters``, ``injected-parameters``, ``remove`` or ``hide`` are left
    out (the parameters are shown as a table instead). The n-th chart becomes
    ``<figure data-chart="n">`` (n as in :func:`figure_specs`).
    """
    cells = []
    n = 0
    for cell in nb.cells:
        if HIDDEN_TAGS & set(cell.get("metadata", {}).get("tags", [])):
            continue
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if PLOTLY_MIME in data:
                output["data"] = {"text/html": _figure_html(data[PLOTLY_MIME], n, language)}
                n += 1
        cells.append(cell)
    nb.cells = cells
    return nb


def export_html(
    notebook: Path,
    *,
    provenance: Mapping[str, Any],
    title: str,
    field: str,
    period_text: str,
    language: Literal["de", "en"] = "de",
    plotly_src: str | None = None,
) -> str:
    """Render an executed notebook as a self-contained HTML report and return the HTML.

    Parameters
    ----------
    notebook
        The executed notebook (papermill output).
    provenance
        The run manifest (see :mod:`evaluation.runner`); shown in the footer.
    title, field, period_text
        Reader-facing title, field of work and period.
    language
        Language of the report's frame (headings, footer, parameter labels).
    plotly_src
        ``None`` (default) embeds plotly.js in the page. A URL or relative path (e.g.
        ``"../../../" + SHARED_PLOTLY``, written by :func:`write_shared_plotly`) loads one
        shared copy instead – for sites with many reports.
    """
    import nbformat

    nb = prepare_notebook(nbformat.read(notebook, as_version=4), language)
    params = dict(provenance.get("parameters", {}))
    threshold = params.get("suppression_threshold", 5)
    text = TEXT[language]
    exporter = _html_exporter(language)
    resources = {
        "metadata": {"name": title},
        "language_code": language,
        "report": {
            "text": text,
            "title": title,
            "agency": params.get("agency", ""),
            "field": field,
            "period_text": period_text,
            "parameters": parameter_rows(params, language),
            "provenance": provenance,
            "time_text": _time_text(provenance, language),
            "versions_text": _versions_text(provenance.get("environment", {})),
            "suppression_text": text["suppression"].format(threshold=threshold),
            "css": (TEMPLATE_DIR / "report" / "report.css").read_text(encoding="utf-8"),
            # put in after nbconvert's pass over the page (BeautifulSoup parses and writes
            # the whole page again) and the CSS trim: 1 MB less for both to go through
            "plotly_js": "" if plotly_src else PLOTLY_JS_MARK,
            "plotly_src": plotly_src or "",
            "status_note": "",
            "cover": cover_of(provenance, language),
        },
    }
    nb.metadata["title"] = title
    with _EXPORTER_LOCK:  # one per process; export.warm_up may use it in a thread
        body, _ = exporter.from_notebook_node(nb, resources=resources)
    page = _trim_notebook_css(_unfocus(body))
    if plotly_src:
        return page
    # the first mark is the template's, in <head> before any notebook content
    return page.replace(PLOTLY_JS_MARK, _plotly_js(), 1)


_EXPORTER_LOCK = threading.Lock()


@functools.lru_cache(maxsize=2)
def _html_exporter(language: str) -> Any:
    """nbconvert's exporter with the report template, made once per process and language:
    loading and compiling the Jinja templates is a third of a small report's HTML export.
    Everything that differs between reports is passed to ``from_notebook_node``."""
    from nbconvert import HTMLExporter

    return HTMLExporter(
        template_name="report",
        extra_template_basedirs=[str(TEMPLATE_DIR)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
        language_code=language,
    )


CSS_START = "<!-- notebook-css -->"
CSS_END = "<!-- /notebook-css -->"
_STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.S)
_CLASS_ATTR = re.compile(r'\bclass="([^"]*)"')
_VAR = re.compile(r"var\(\s*(--[\w-]+)")


def _top_level_selectors(prelude: list[Any]) -> list[list[Any]]:
    """A rule's selector list split at its top-level commas."""
    parts: list[list[Any]] = [[]]
    for token in prelude:
        if token.type == "literal" and token.value == ",":
            parts.append([])
        else:
            parts[-1].append(token)
    return [p for p in parts if any(t.type not in ("whitespace", "comment") for t in p)]


def _required_classes(selector: list[Any]) -> set[str]:
    """The classes a selector needs at its top level (``:not(.x)`` needs none)."""
    out = set()
    for before, token in zip(selector, selector[1:], strict=False):
        if before.type == "literal" and before.value == "." and token.type == "ident":
            out.add(token.value)
    return out


def trim_css(css: str, classes: set[str]) -> str:
    """Keep the CSS a page uses: rules whose selectors need only ``classes``, and the variables.

    Parses with tinycss2 (once per process for the same stylesheet: every report carries
    nbconvert's same 266 kB). A selector is kept when every class it names at its top level
    is in ``classes`` (so element selectors and ``:not(...)`` stay); ``@media`` and
    ``@supports`` blocks are trimmed the same way; ``@font-face`` and ``@keyframes`` are
    dropped; custom properties (``--jp-...``) are kept where a kept declaration uses them,
    directly or through other custom properties.
    """

    def keep(items: tuple[_CssItem, ...]) -> list[tuple[str, Any]]:
        kept: list[tuple[str, Any]] = []
        for head, body in items:
            if isinstance(head, str):  # @media / @supports
                inner = keep(body)
                if inner:
                    kept.append((head, inner))
                continue
            selectors = [text for text, needs in head if needs <= classes]
            if selectors:
                kept.append((",".join(selectors), body))
        return kept

    tree = keep(_css_rules(css))

    def walk(items: list[tuple[str, Any]]) -> Any:
        for prelude, body in items:
            if prelude.startswith("@"):
                yield from walk(body)
            else:
                yield from body

    definitions: dict[str, set[str]] = {}
    used: set[str] = set()
    for name, _, refs in walk(tree):
        if name.startswith("--"):
            definitions.setdefault(name, set()).update(refs)
        else:
            used |= refs
    pending = list(used)
    while pending:
        for ref in definitions.get(pending.pop(), ()):
            if ref not in used:
                used.add(ref)
                pending.append(ref)

    def write(items: list[tuple[str, Any]]) -> str:
        out = []
        for prelude, body in items:
            if prelude.startswith("@"):
                inner = write(body)
                if inner:
                    out.append(f"{prelude}{{{inner}}}")
                continue
            text = ";".join(
                declaration
                for name, declaration, _ in body
                if not name.startswith("--") or name in used
            )
            if text:
                out.append(f"{prelude}{{{text}}}")
        return "\n".join(out)

    return write(tree)


#: a parsed rule: its selectors (text, classes each needs) and its declarations (name,
#: serialised ``name:value``, custom properties it uses), or an ``@media``/``@supports``
#: head and the rules inside
_CssItem = tuple[Any, tuple[Any, ...]]


#: Version of the parsed form of a stylesheet as kept on disk; raise it when
#: :func:`_parse_css_rules` changes what it returns.
CSS_CACHE_FORMAT = 1


@functools.lru_cache(maxsize=4)
def _css_rules(css: str) -> tuple[_CssItem, ...]:
    """The stylesheet parsed into what :func:`trim_css` filters: once per process, and
    across processes from :func:`cache_dir` (parsing nbconvert's 260 kB with tinycss2 took
    0.3–0.5 s in every worker's first report; reading the parsed form back takes 20 ms).

    The file is named by a hash of the stylesheet, tinycss2's version and
    :data:`CSS_CACHE_FORMAT`; one that cannot be read or does not fit is parsed again and
    replaced. A folder that cannot be written only means no cache.
    """
    import hashlib

    import tinycss2

    folder = cache_dir()
    if folder is None:
        return _parse_css_rules(css)
    versions = f"{CSS_CACHE_FORMAT}\0{tinycss2.__version__}\0"
    digest = hashlib.sha256((versions + css).encode()).hexdigest()
    path = folder / f"css-rules-{digest[:40]}.json"
    try:
        return _decode_css_rules(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError, KeyError, IndexError):
        pass  # no file yet, or a damaged one: parse and write it (again)
    rules = _parse_css_rules(css)
    import contextlib

    from evaluation.data import atomic_write_text

    with contextlib.suppress(OSError):  # a folder that cannot be written: no cache
        atomic_write_text(path, json.dumps(_encode_css_rules(rules), separators=(",", ":")))
    return rules


def _encode_css_rules(items: Sequence[_CssItem]) -> list[Any]:
    """The parsed stylesheet as JSON: ``["@media ...", [...]]`` or ``[[selectors],
    [declarations]]`` with the sets as sorted lists."""
    out: list[Any] = []
    for head, body in items:
        if isinstance(head, str):
            out.append([head, _encode_css_rules(body)])
        else:
            out.append(
                [
                    [[text, sorted(needs)] for text, needs in head],
                    [[name, text, sorted(refs)] for name, text, refs in body],
                ]
            )
    return out


def _decode_css_rules(items: list[Any]) -> tuple[_CssItem, ...]:
    """:func:`_encode_css_rules` read back (``TypeError``/``ValueError`` when it is not)."""
    if not isinstance(items, list):
        raise ValueError("not a list of rules")
    out: list[_CssItem] = []
    for item in items:
        if not (isinstance(item, list) and len(item) == 2):
            raise ValueError("not a rule")
        head, body = item
        if isinstance(head, str):
            out.append((head, _decode_css_rules(body)))
            continue
        selectors = tuple((str(text), frozenset(map(str, needs))) for text, needs in head)
        declarations = tuple(
            (str(name), str(text), frozenset(map(str, refs))) for name, text, refs in body
        )
        out.append((selectors, declarations))
    return tuple(out)


def _parse_css_rules(css: str) -> tuple[_CssItem, ...]:
    """The stylesheet parsed by tinycss2 into what :func:`trim_css` filters."""
    import tinycss2

    def rules(nodes: list[Any]) -> tuple[_CssItem, ...]:
        out: list[_CssItem] = []
        for node in nodes:
            if node.type == "qualified-rule":
                selectors = tuple(
                    (tinycss2.serialize(sel).strip(), frozenset(_required_classes(sel)))
                    for sel in _top_level_selectors(node.prelude)
                )
                declarations = []
                for d in tinycss2.parse_declaration_list(
                    node.content, skip_comments=True, skip_whitespace=True
                ):
                    if d.type != "declaration":
                        continue
                    value = tinycss2.serialize(d.value)
                    text = f"{d.name}:{value.strip()}" + ("!important" if d.important else "")
                    declarations.append((d.name, text, frozenset(_VAR.findall(value))))
                out.append((selectors, tuple(declarations)))
            elif node.type == "at-rule" and node.lower_at_keyword in ("media", "supports"):
                inner = rules(
                    tinycss2.parse_rule_list(
                        node.content or [], skip_comments=True, skip_whitespace=True
                    )
                )
                head = tinycss2.serialize(node.prelude).strip()
                out.append((f"@{node.at_keyword} {head}", inner))
        return tuple(out)

    return rules(tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True))


def _trim_notebook_css(body: str) -> str:
    """Replace nbconvert's JupyterLab CSS (between the template's marks) by what the page uses."""
    start, end = body.find(CSS_START), body.find(CSS_END)
    if start < 0 or end < start:
        return body
    block = body[start + len(CSS_START) : end]
    rest = body[:start] + body[end:]
    classes = {c for attr in _CLASS_ATTR.findall(rest) for c in attr.split()}
    css = trim_css("\n".join(_STYLE.findall(block)), classes)
    return body[:start] + f'<style type="text/css">\n{css}\n</style>' + body[end + len(CSS_END) :]


#: nbconvert's lab template makes every output area focusable (``tabindex="0"``); for a
#: reader with a keyboard that is 30 stops that do nothing (WCAG 2.4.3).
_FOCUSABLE_DIV = re.compile(r'(<div\b[^>]*?)\s+tabindex="0"')


def _unfocus(body: str) -> str:
    return _FOCUSABLE_DIV.sub(r"\1", body)


FORMATS_MARK = "<!-- report-formats -->"
FORMAT_FILES = {
    "html": "report.html",
    "pdf": "report.pdf",
    "docx": "report.docx",
    "xlsx": "report.xlsx",
}
FORMAT_LABELS = {
    "html": "HTML",
    "pdf": "PDF (A4)",
    "docx": "Word (DOCX)",
    "xlsx": "Excel (XLSX)",
}


def formats_in(folder: Path) -> dict[str, Path]:
    """The report formats present in a run folder, in the order HTML, PDF, DOCX, XLSX."""
    return {k: folder / name for k, name in FORMAT_FILES.items() if (folder / name).exists()}


def link_formats(html_text: str, formats: Mapping[str, Path], language: str = "de") -> str:
    """Put links to the other formats into a report's footer (where the template marks it)."""
    links = " · ".join(
        f'<a href="{html.escape(path.name)}">{FORMAT_LABELS[kind]}</a>'
        for kind, path in formats.items()
        if kind != "html"
    )
    if not links:
        return html_text
    label = TEXT["en" if language == "en" else "de"]["formats"]
    block = f'<p class="report-formats">{label}: {links}</p>'
    return html_text.replace(FORMATS_MARK, FORMATS_MARK + block, 1)


def export_formats(
    notebook: Path | Any,
    out_dir: Path,
    *,
    manifest: Mapping[str, Any],
    language: Literal["de", "en"] = "de",
    formats: Sequence[str] = ("pdf", "docx", "xlsx"),
    cover: Mapping[str, Any] | None = None,
    html_text: str | None = None,
    out: Any = None,
    timings: dict[str, float] | None = None,
) -> dict[str, Path]:
    """Write the report as ``report.pdf``, ``report.docx`` and ``report.xlsx`` into ``out_dir``.

    All three are made from the rendered HTML report (``out_dir/report.html`` when present,
    else rendered here) and the notebook's figure data, so they show the same tables, the
    same suppression marks and the same charts. If ``out_dir/report.html`` exists, links to
    the written formats are added to its footer.

    Parameters
    ----------
    notebook
        The executed notebook (path or ``nbformat`` node).
    out_dir
        Folder to write into (the runner's staging folder).
    manifest
        The run manifest (title, field, period, parameters, provenance).
    language
        Language of the frame texts.
    formats
        Which of ``"pdf"``, ``"docx"``, ``"xlsx"`` to write.
    cover
        Cover-page facts (agency, Träger, file reference, period, contact, date, signature
        lines); defaults from the manifest, see :func:`evaluation.export.cover_facts`.
    html_text
        The rendered report, if the caller has it already.
    out
        Stream for the one-line notes (e.g. what to install for PDF); default ``sys.stderr``.
    timings
        If given, filled with the seconds each part took (``xlsx``, ``images``, ``docx``,
        ``pdf``).

    Returns
    -------
    dict
        Format name to the path written. A format that cannot be made on this machine (PDF
        without Chromium) is missing from it, and one line on ``out`` says what to install.
    """
    from evaluation import export

    return export.export_formats(
        notebook,
        Path(out_dir),
        manifest=manifest,
        language=language,
        formats=formats,
        cover=cover,
        html_text=html_text,
        out=out,
        timings=timings,
    )


def _manifests(reports: Path) -> list[dict[str, Any]]:
    entries = []
    for run_dir in sorted(
        {m.parent for m in reports.rglob("*.json") if m.name in ("manifest.json", "failed.json")}
    ):
        if ".state" in run_dir.parts:
            continue
        ok = _read_json(run_dir / "manifest.json")
        failed = _read_json(run_dir / "failed.json")
        latest = max((m for m in (ok, failed) if m), key=lambda m: m.get("started_at", ""))
        entries.append({"dir": run_dir, "ok": ok, "failed": failed, "latest": latest})
    return entries


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


CADENCE_LABELS = {
    "de": {"yearly": "jährlich", "quarterly": "vierteljährlich", "monthly": "monatlich"},
    "en": {"yearly": "yearly", "quarterly": "quarterly", "monthly": "monthly"},
}
_SCHEDULE_CADENCE = {"jahr": "yearly", "quartal": "quarterly", "monat": "monthly"}
KEY_FIGURES = 4


def _cadence(root: Paths, manifest: Mapping[str, Any], language: str) -> str:
    """The schedule's cadence as readers say it (``jährlich``), from the plan file."""
    import yaml

    name = manifest.get("schedule", "")
    cadence = _SCHEDULE_CADENCE.get(name, name)
    params_file = manifest.get("params_file")
    if params_file:
        try:
            plan = (
                yaml.safe_load((root.project_root / params_file).read_text(encoding="utf-8")) or {}
            )
            for schedule in plan.get("schedules", []) or []:
                if schedule.get("name") == name and schedule.get("cadence"):
                    cadence = schedule["cadence"]
        except (OSError, yaml.YAMLError, AttributeError):
            pass
    return CADENCE_LABELS["en" if language == "en" else "de"].get(cadence, cadence)


def _when(stamp: str, language: str) -> str:
    """A run's time as ``01.12.2026, 20:54`` (local time; babel)."""
    from babel.dates import format_datetime

    try:
        moment = datetime.fromisoformat(stamp)
    except (TypeError, ValueError):
        return str(stamp or "")
    locale = "de_DE" if language == "de" else "en_GB"
    return format_datetime(moment.astimezone(), "dd.MM.yyyy, HH:mm", locale=locale)


def _figure_text(value: float | None, unit: str, suppressed: bool, language: str) -> str:
    from babel.numbers import format_decimal, format_percent

    if suppressed or value is None or value != value:
        return "*"
    locale = "de_DE" if language == "de" else "en_GB"
    if unit == "share":
        return format_percent(value, format="#,##0.0 %", locale=locale)
    if unit in ("count", "persons") or float(value).is_integer():
        return format_decimal(round(value), format="#,##0", locale=locale)
    return format_decimal(value, format="#,##0.0#", locale=locale)


def _key_figures(root: Paths, manifest: Mapping[str, Any], language: str) -> list[dict[str, str]]:
    """The first recorded totals of a run, in catalogue order, with the period before."""
    from evaluation import history
    from evaluation.indicators.catalogue import load_catalogue

    figures = history.read(db=root.history, group_var="")
    if figures.empty or "run_id" not in figures:
        return []
    mine = figures[figures["run_id"] == manifest.get("run_id")]
    if mine.empty:
        return []
    catalogue = load_catalogue()
    order = {iid: i for i, iid in enumerate(catalogue.ids)}
    ids = sorted(set(mine["indicator_id"]), key=lambda i: (order.get(i, 10**6), i))
    lang = "en" if language == "en" else "de"
    out = []
    for iid in ids[:KEY_FIGURES]:
        row = mine[mine["indicator_id"] == iid].iloc[0]
        entry = catalogue.indicators.get(iid)
        unit = entry.unit if entry else ""
        label = entry.label.get(lang, iid) if entry else iid
        earlier = figures[
            (figures["indicator_id"] == iid)
            & (figures["period_start"] < row["period_start"])
            & (
                figures["run_key"].str.rsplit("/", n=1).str[0]
                == str(row["run_key"]).rsplit("/", 1)[0]
            )
        ]
        before = ""
        trend = _sparkline(
            [
                (str(r["period"]), None if bool(r["suppressed"]) else r["value"])
                for _, r in earlier.sort_values("period_start").tail(4).iterrows()
            ]
            + [(str(row["period"]), None if bool(row["suppressed"]) else row["value"])],
            unit,
            language,
        )
        if not earlier.empty:
            prev = earlier.sort_values("period_start").iloc[-1]
            before = (
                f"{prev['period']}: "
                f"{_figure_text(prev['value'], unit, bool(prev['suppressed']), language)}"
            )
        out.append(
            {
                "label": label,
                "value": _figure_text(row["value"], unit, bool(row["suppressed"]), language),
                "before": before,
                "trend": trend,
            }
        )
    return out


def _sparkline(points: list[tuple[str, float | None]], unit: str, language: str) -> str:
    """A small inline SVG trend of the last periods, with the values as its text alternative."""
    values = [v for _, v in points if v is not None and v == v]
    if len(points) < 2 or len(values) < 2:
        return ""
    width, height, pad = 72, 20, 2
    top = max(values) or 1.0
    step = (width - 2 * pad) / (len(points) - 1)
    coords = [
        (pad + i * step, height - pad - (v / top) * (height - 2 * pad) if top else height - pad)
        for i, (_, v) in enumerate(points)
        if v is not None and v == v
    ]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    alt = ("Verlauf: " if language == "de" else "Trend: ") + ", ".join(
        f"{p} {_figure_text(v, unit, v is None, language)}" for p, v in points
    )
    return (
        f'<svg class="trend" role="img" aria-label="{html.escape(alt)}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}"><title>{html.escape(alt)}</title>'
        f'<polyline fill="none" stroke="#0072B2" stroke-width="1.6" points="{path}"/>'
        f'<circle cx="{coords[-1][0]:.1f}" cy="{coords[-1][1]:.1f}" r="2.2" fill="#0072B2"/></svg>'
    )


def _format_links(entry: Mapping[str, Any], reports: Path) -> str:
    links = []
    for kind, path in formats_in(entry["dir"]).items():
        rel = path.relative_to(reports).as_posix()
        links.append(f'<a href="{html.escape(rel)}">{FORMAT_LABELS[kind].split(" ")[0]}</a>')
    return " · ".join(links)


INDEX_CSS = """
body { font-family: "Source Sans Pro", "Segoe UI", Arial, sans-serif; max-width: 1100px; margin: 0 auto; padding: 1.5rem 2rem; color: #1f2933; }
header { border-bottom: 3px solid #0072B2; margin-bottom: 1rem; }
h1 { margin: .2rem 0 .4rem; }
a { color: #0b5a8c; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: 1rem; list-style: none; padding: 0; }
.card { border: 1px solid #cbd2d9; border-radius: 6px; padding: .8rem 1rem; }
.card h3 { margin: 0 0 .2rem; font-size: 1.1rem; }
.card .meta { color: #3e4c59; margin: 0 0 .5rem; font-size: .92rem; }
.card dl { display: grid; grid-template-columns: 1fr max-content; gap: .15rem .8rem; margin: .3rem 0 .6rem; }
.card dt { font-size: .92rem; }
.card dd { margin: 0; text-align: right; font-variant-numeric: tabular-nums; font-weight: 600; }
.card dd svg.trend { vertical-align: middle; margin-right: .3rem; }
.card dd span { display: block; font-weight: 400; font-size: .8rem; color: #52606d; }
table { border-collapse: collapse; width: 100%; margin-bottom: 1.5rem; }
caption { text-align: left; font-weight: 600; font-size: 1.1rem; padding: .4rem 0; }
th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #e4e7eb; vertical-align: top; }
.status-failed { color: #b00020; font-weight: 600; }
.error { font-weight: 400; font-size: .85rem; color: #52606d; }
footer { border-top: 1px solid #cbd2d9; margin-top: 2rem; color: #52606d; font-size: .9rem; }
"""


def index_html(root: Paths | None = None, *, language: Literal["de", "en"] = "de") -> str:
    """Build ``reports/index.html``, the start page.

    First the latest successful report of each field with its key figures (from the results
    history, with the period before) and links to every format in its folder (HTML, PDF,
    DOCX, XLSX); then every report by field and period with cadence, status and time.
    German labels and dates (babel) by default.
    """
    p = root or paths()
    text = TEXT[language]
    entries = _manifests(p.reports)
    rows: dict[str, list[tuple[str, str]]] = {}
    latest_ok: dict[str, tuple[str, dict[str, Any]]] = {}
    for entry in entries:
        latest = entry["latest"]
        field = latest.get("field") or latest.get("plan", "")
        status_ok = latest["status"] == "ok"
        status = text["status_ok"] if status_ok else text["status_failed"]
        link = text["none"]
        if entry["ok"]:
            links = _format_links(entry, p.reports)
            label = "" if status_ok else f"{text['last_good']}: "
            link = label + (links or text["none"])
            ok = entry["ok"]
            plan = ok.get("plan", field)
            # the yearly report first (what the agency submits), then the newest period
            yearly = _cadence(p, ok, "en") == "yearly"
            sort_key = f"{int(yearly)}|{ok.get('period', {}).get('start', '')}"
            if plan not in latest_ok or sort_key > latest_ok[plan][0]:
                latest_ok[plan] = (sort_key, entry)
        error = ""
        if not status_ok and latest.get("error"):
            err = latest["error"]
            error = f'<div class="error">{html.escape(str(err.get("summary", "")))}</div>'
        order = latest.get("period", {}).get("start", "") + latest.get("schedule", "")
        rows.setdefault(field, []).append(
            (
                order,
                "<tr>"
                f"<td>{html.escape(latest.get('title', ''))}</td>"
                f"<td>{html.escape(latest.get('period', {}).get('label', ''))}</td>"
                f"<td>{html.escape(_cadence(p, latest, language))}</td>"
                f'<td class="status-{"ok" if status_ok else "failed"}">{status}{error}</td>'
                f"<td>{link}</td>"
                f"<td>{html.escape(_when(latest.get('started_at', ''), language))}</td>"
                "</tr>",
            )
        )
    cards = []
    for plan in sorted(latest_ok, key=lambda k: latest_ok[k][1]["ok"].get("title", k)):
        entry = latest_ok[plan][1]
        ok = entry["ok"]
        figures = "".join(
            f"<dt>{html.escape(f['label'])}</dt><dd>{f['trend']} {html.escape(f['value'])}"
            + (f"<span>{html.escape(f['before'])}</span>" if f["before"] else "")
            + "</dd>"
            for f in _key_figures(p, ok, language)
        )
        period = ok.get("period", {})
        cards.append(
            '<li class="card">'
            f"<h3>{html.escape(ok.get('title', plan))}</h3>"
            f'<p class="meta">{text["period"]}: {html.escape(period.get("label", ""))} '
            f"({_format_date(period.get('start', ''), language)}–"
            f"{_format_date(period.get('end', ''), language)}) · "
            f"{html.escape(_cadence(p, ok, language))} · {text['time']}: "
            f"{html.escape(_when(ok.get('ended_at') or ok.get('started_at', ''), language))}</p>"
            + (f"<dl>{figures}</dl>" if figures else "")
            + f"<p>{text['formats']}: {_format_links(entry, p.reports) or text['none']}</p>"
            "</li>"
        )
    sections = []
    for field in sorted(rows):
        body = "".join(r for _, r in sorted(rows[field], reverse=True))
        sections.append(
            f"<table><caption>{html.escape(field)}</caption><thead><tr>"
            f'<th scope="col">{text["title_col"]}</th><th scope="col">{text["period"]}</th>'
            f'<th scope="col">{text["cadence"]}</th><th scope="col">{text["status"]}</th>'
            f'<th scope="col">{text["formats"]}</th><th scope="col">{text["time"]}</th>'
            f"</tr></thead><tbody>{body}</tbody></table>"
        )
    from babel.dates import format_datetime

    stamp = format_datetime(
        datetime.now().astimezone(),
        "dd.MM.yyyy, HH:mm",
        locale="de_DE" if language == "de" else "en_GB",
    )
    latest_block = (
        f'<h2 id="aktuell">{text["latest"]}</h2><ul class="cards">{"".join(cards)}</ul>'
        if cards
        else ""
    )
    main = f'{latest_block}\n<h2 id="alle">{text["all_reports"]}</h2>\n' + (
        "".join(sections) or "<p>–</p>"
    )
    return _start_page(
        language,
        text["index_title"],
        INDEX_CSS,
        f"{text['runs_at']}: {stamp}",
        "",
        main,
        text["index_note"],
    )


def write_index(root: Paths | None = None, *, language: Literal["de", "en"] = "de") -> Path:
    """Write ``reports/index.html`` atomically and return its path."""
    from evaluation.data import atomic_write_text

    p = root or paths()
    target = p.reports / "index.html"
    atomic_write_text(target, index_html(p, language=language))
    return target


# ---- the project-level start page over agencies ---------------------------------------

PROJECT_TEXT: dict[str, dict[str, str]] = {
    "de": {
        "title": "Berichte der Agenturen",
        "nav": "Seitenbereiche",
        "agencies": "Agenturen",
        "caption": "Agenturen des Projekts ({count}) – Berichte und Läufe",
        "agency": "Agentur",
        "traeger": "Träger",
        "published": "Veröffentlichte Berichte",
        "failed": "Fehlgeschlagene Läufe",
        "last": "Zuletzt veröffentlicht",
        "annual": "Jahresbericht {year}",
        "annual_none": "Jahresbericht",
        "not_published": "nicht veröffentlicht",
        "no_start_page": "noch keine Startseite",
        "not_an_agency": "keine Agentur",
        "overview": "Träger-Übersicht",
        "overview_none": "Noch keine Träger-Übersicht veröffentlicht.",
        "overview_failed": "letzter Lauf fehlgeschlagen",
        "none_found": "Unter agencies/ ist keine Agentur.",
        "note": (
            "Diese Seite zeigt keine Kennzahlen, nur Anzahl und Zeitpunkt der Berichte; die "
            "Zahlen stehen in den Berichten der Agenturen und in der Träger-Übersicht."
        ),
    },
    "en": {
        "title": "Reports of the agencies",
        "nav": "Sections of this page",
        "agencies": "Agencies",
        "caption": "Agencies of the project ({count}) – reports and runs",
        "agency": "Agency",
        "traeger": "Provider",
        "published": "Published reports",
        "failed": "Failed runs",
        "last": "Last published",
        "annual": "Annual report {year}",
        "annual_none": "Annual report",
        "not_published": "not published",
        "no_start_page": "no start page yet",
        "not_an_agency": "not an agency",
        "overview": "Provider overview",
        "overview_none": "No provider overview published yet.",
        "overview_failed": "last run failed",
        "none_found": "There is no agency below agencies/.",
        "note": (
            "This page shows no figures, only the number and time of the reports; the figures "
            "are in the agencies' reports and in the provider overview."
        ),
    },
}
#: The plan of the agencies' annual report, whose latest year the project page links.
ANNUAL_PLAN = "annual_report"

PROJECT_INDEX_CSS = (
    INDEX_CSS
    + """
nav ul { list-style: none; padding: 0; display: flex; gap: 1.2rem; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
th[scope="row"] { font-weight: 600; }
.reason { color: #52606d; font-weight: 400; }
"""
)


def has_project_index(project: Paths) -> bool:
    """Whether ``project/reports/index.html`` is the project-level page over agencies.

    It is when the project root is not itself the agency: there are folders below
    ``agencies/`` and the root has no data of its own (``data/snapshots/LATEST``; with data
    the root is "the" agency of the single-agency layout and keeps its agency start page).
    """
    from evaluation.agencies import survey

    return (
        not project.is_agency
        and not (project.snapshots / "LATEST").exists()
        and bool(survey(project))
    )


def _href(target: Path, page_dir: Path) -> str:
    """A relative link from a page in ``page_dir`` to ``target`` (works from file://)."""
    import os
    from urllib.parse import quote

    return quote(Path(os.path.relpath(target, page_dir)).as_posix())


def _links_from(folder: Path, page_dir: Path) -> str:
    return " · ".join(
        f'<a href="{html.escape(_href(path, page_dir))}">{FORMAT_LABELS[kind].split(" ")[0]}</a>'
        for kind, path in formats_in(folder).items()
    )


def _year(manifest: Mapping[str, Any]) -> int | None:
    start = str(manifest.get("period", {}).get("start", ""))
    return int(start[:4]) if start[:4].isdigit() else None


def _stamp(manifest: Mapping[str, Any]) -> str:
    return str(manifest.get("ended_at") or manifest.get("started_at") or "")


def _time_html(stamp: str, language: str) -> str:
    if not stamp:
        return "–"
    return f'<time datetime="{html.escape(stamp)}">{html.escape(_when(stamp, language))}</time>'


def agency_reports(reports: Path) -> dict[str, Any]:
    """What the project page shows of one agency's ``reports/``: counts, dates, annual reports.

    Returns
    -------
    dict
        ``published`` (runs with a published report), ``failed`` (runs whose latest attempt
        failed), ``last`` (time of the newest published run, ISO, ``""`` without one) and
        ``annual`` (year -> folder of the published annual report of that year).
    """
    entries = _manifests(reports) if reports.is_dir() else []
    ok = [e for e in entries if e["ok"] and e["ok"].get("status") == "ok"]
    annual: dict[int, Path] = {}
    for entry in ok:
        year = _year(entry["ok"])
        if entry["ok"].get("plan") == ANNUAL_PLAN and year is not None:
            annual[year] = entry["dir"]
    return {
        "published": len(ok),
        "failed": sum(e["latest"].get("status") != "ok" for e in entries),
        "last": max((_stamp(e["ok"]) for e in ok), default=""),
        "annual": annual,
    }


def project_index_html(
    project: Paths | None = None, *, language: Literal["de", "en"] = "de"
) -> str:
    """Build the project-level ``reports/index.html``: one row per agency, the overviews.

    Per agency (every folder below ``agencies/``): name (linking to its own start page),
    Träger, the number of published reports and of failed runs, the time of the last
    published run and the annual report of the latest year any agency published; a folder
    that is no agency (no or a broken ``agency.yml``) is listed with the one-line reason.
    Then the Träger overviews published at project level. It shows **no figure** – only
    counts of reports and runs and dates – so it needs no release audit. Only relative
    links (it works from ``file://``); German by default.
    """
    from babel.dates import format_datetime
    from babel.numbers import format_decimal

    from evaluation.agencies import survey

    p = project or paths()
    w = PROJECT_TEXT["en" if language == "en" else "de"]
    locale = "de_DE" if language == "de" else "en_GB"
    page_dir = p.reports
    listed = survey(p)
    facts = {
        item.folder.name: agency_reports(item.agency.paths.reports)
        for item in listed
        if item.agency is not None
    }
    years = [y for f in facts.values() for y in f["annual"]]
    latest_year = max(years) if years else None
    annual_head = w["annual"].format(year=latest_year) if latest_year else w["annual_none"]
    rows = []
    for item in listed:
        agency = item.agency
        if agency is None:
            rows.append(
                f'<tr><th scope="row">{html.escape(item.folder.name)}</th>'
                f'<td colspan="5" class="reason"><span class="status-failed">'
                f"{w['not_an_agency']}:</span> {html.escape(item.reason(p))}</td></tr>"
            )
            continue
        f = facts[item.folder.name]
        start_page = agency.paths.reports / "index.html"
        name = html.escape(agency.name)
        name_cell = (
            f'<a href="{html.escape(_href(start_page, page_dir))}">{name}</a>'
            if start_page.is_file()
            else f'{name} <span class="reason">({w["no_start_page"]})</span>'
        )
        annual = f["annual"].get(latest_year) if latest_year else None
        annual_cell = (
            _links_from(annual, page_dir) or w["not_published"] if annual else w["not_published"]
        )
        failed = f["failed"]
        rows.append(
            f'<tr><th scope="row">{name_cell}</th>'
            f"<td>{html.escape(str(agency.facts.get('traeger', '') or '–'))}</td>"
            f'<td class="num">{format_decimal(f["published"], locale=locale)}</td>'
            f'<td class="num{" status-failed" if failed else ""}">'
            f"{format_decimal(failed, locale=locale)}</td>"
            f"<td>{_time_html(f['last'], language)}</td>"
            f"<td>{annual_cell}</td></tr>"
        )
    table = (
        f"<table><caption>{html.escape(w['caption'].format(count=len(listed)))}</caption>"
        f'<thead><tr><th scope="col">{w["agency"]}</th><th scope="col">{w["traeger"]}</th>'
        f'<th scope="col" class="num">{w["published"]}</th>'
        f'<th scope="col" class="num">{w["failed"]}</th>'
        f'<th scope="col">{w["last"]}</th><th scope="col">{html.escape(annual_head)}</th>'
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        if rows
        else f"<p>{w['none_found']}</p>"
    )
    overviews = []
    for entry in sorted(
        _manifests(p.reports) if p.reports.is_dir() else [],
        key=lambda e: (e["latest"].get("period", {}).get("start", ""), str(e["dir"])),
        reverse=True,
    ):
        ok, latest = entry["ok"], entry["latest"]
        shown = ok or latest
        label = f"{shown.get('title') or w['overview']} {shown.get('period', {}).get('label', '')}"
        parts = [f"<strong>{html.escape(label.strip())}</strong>"]
        if ok and ok.get("status") == "ok":
            parts.append(_time_html(_stamp(ok), language))
            parts.append(_links_from(entry["dir"], page_dir))
        if latest.get("status") != "ok":
            parts.append(
                f'<span class="status-failed">{w["overview_failed"]}</span> '
                + _time_html(str(latest.get("started_at", "")), language)
            )
        overviews.append(f"<li>{' – '.join(x for x in parts if x)}</li>")
    overview_block = (
        f"<ul>{''.join(overviews)}</ul>" if overviews else f"<p>{w['overview_none']}</p>"
    )
    stamp = format_datetime(datetime.now().astimezone(), "dd.MM.yyyy, HH:mm", locale=locale)
    nav = (
        f'<nav aria-label="{w["nav"]}"><ul><li><a href="#agenturen">{w["agencies"]}</a></li>\n'
        f'<li><a href="#uebersicht">{w["overview"]}</a></li></ul></nav>'
    )
    main = (
        f'<h2 id="agenturen">{w["agencies"]}</h2>\n{table}\n'
        f'<h2 id="uebersicht">{w["overview"]}</h2>\n{overview_block}'
    )
    return _start_page(
        language,
        w["title"],
        PROJECT_INDEX_CSS,
        f"{TEXT[language]['runs_at']}: {stamp}",
        nav,
        main,
        w["note"],
    )


def _start_page(
    language: str, title: str, css: str, stamp_line: str, nav: str, main: str, note: str
) -> str:
    """The frame of a start page: head, header (title, time, navigation), main, footer."""
    header = f"<header><h1>{title}</h1><p>{stamp_line}</p>" + (f"\n{nav}" if nav else "")
    return f"""<!DOCTYPE html>
<html lang="{language}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{css}</style></head>
<body>
{header}</header>
<main>
{main}
</main>
<footer><p>{html.escape(note)}</p></footer>
</body></html>
"""


def write_project_index(
    project: Paths | None = None, *, language: Literal["de", "en"] = "de"
) -> Path:
    """Write the project-level ``reports/index.html`` atomically and return its path."""
    from evaluation.data import atomic_write_text

    p = project or paths()
    target = p.reports / "index.html"
    atomic_write_text(target, project_index_html(p, language=language))
    return target


def period_text(start: str, end: str, label: str, language: str = "de") -> str:
    """Reader-facing period, e.g. ``2024 (01.01.2024–31.12.2024)``."""
    return f"{label} ({_format_date(start, language)}–{_format_date(end, language)})"


__all__: Sequence[str] = [
    "export_formats",
    "export_html",
    "figure_specs",
    "formats_in",
    "write_shared_plotly",
    "index_html",
    "write_index",
    "has_project_index",
    "project_index_html",
    "write_project_index",
    "prepare_notebook",
    "period_text",
]
