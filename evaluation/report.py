"""Reports for readers: executed notebooks exported to self-contained HTML, and the index.

The export uses nbconvert's ``HTMLExporter`` with the ``report`` template in
``evaluation/templates/``: no code cells, no prompts, no diagnostics; the parameters as a
small table; a table of contents; the provenance footer. plotly.js is embedded once per
report (from the installed plotly package) and every chart is drawn from the figure JSON
the notebook produced, so the page works offline and loads nothing from a CDN.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from evaluation.paths import PACKAGE_DIR, Paths, paths

TEMPLATE_DIR = PACKAGE_DIR / "templates"
PLOTLY_MIME = "application/vnd.plotly.v1+json"
HIDDEN_TAGS = {"parameters", "injected-parameters", "remove", "remove_cell", "hide"}

TEXT: dict[str, dict[str, str]] = {
    "de": {
        "field": "Handlungsfeld",
        "period": "Berichtszeitraum",
        "contents": "Inhalt",
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
    return str(value)


def parameter_rows(parameters: Mapping[str, Any], language: str) -> list[dict[str, str]]:
    """Parameters as reader-facing label/value rows."""
    idx = 0 if language == "de" else 1
    return [
        {
            "label": PARAMETER_LABELS.get(name, (name, name))[idx],
            "value": _format_value(name, value, language),
        }
        for name, value in parameters.items()
    ]


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


def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    # "</script" inside the library would end the inline script element early.
    return get_plotlyjs().replace("</script", "<\\/script")


def _figure_html(spec: Mapping[str, Any]) -> str:
    import plotly.io as pio

    fig = pio.from_json(json.dumps(spec), skip_invalid=True)
    return pio.to_html(
        fig,
        include_plotlyjs=False,
        full_html=False,
        config={"displaylogo": False, "responsive": True, "locale": "de"},
        default_width="100%",
    )


def prepare_notebook(nb: Any) -> Any:
    """Drop hidden cells and turn plotly figure outputs into HTML that draws offline.

    Cells tagged ``parameters``, ``injected-parameters``, ``remove`` or ``hide`` are left
    out (the parameters are shown as a table instead).
    """
    cells = []
    for cell in nb.cells:
        if HIDDEN_TAGS & set(cell.get("metadata", {}).get("tags", [])):
            continue
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if PLOTLY_MIME in data:
                output["data"] = {"text/html": _figure_html(data[PLOTLY_MIME])}
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
    """
    import nbformat
    from nbconvert import HTMLExporter

    nb = prepare_notebook(nbformat.read(notebook, as_version=4))
    params = dict(provenance.get("parameters", {}))
    threshold = params.get("suppression_threshold", 5)
    text = TEXT[language]
    exporter = HTMLExporter(
        template_name="report",
        extra_template_basedirs=[str(TEMPLATE_DIR)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
        language_code=language,
    )
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
            "plotly_js": _plotly_js(),
            "status_note": "",
        },
    }
    nb.metadata["title"] = title
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    return body


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


def index_html(root: Paths | None = None, *, language: Literal["de", "en"] = "de") -> str:
    """Build ``reports/index.html``: every report by field and period, with status and link."""
    p = root or paths()
    text = TEXT[language]
    rows: dict[str, list[str]] = {}
    for entry in _manifests(p.reports):
        latest = entry["latest"]
        field = latest.get("field") or latest.get("plan", "")
        status_ok = latest["status"] == "ok"
        status = text["status_ok"] if status_ok else text["status_failed"]
        link = text["none"]
        if entry["ok"]:
            rel = (entry["dir"] / "report.html").relative_to(p.reports).as_posix()
            label = text["report"] if status_ok else text["last_good"]
            link = f'<a href="{html.escape(rel)}">{label}</a>'
        error = ""
        if not status_ok and latest.get("error"):
            err = latest["error"]
            error = f'<div class="error">{html.escape(str(err.get("summary", "")))}</div>'
        rows.setdefault(field, []).append(
            "<tr>"
            f"<td>{html.escape(latest.get('title', ''))}</td>"
            f"<td>{html.escape(latest.get('period', {}).get('label', ''))}</td>"
            f"<td>{html.escape(latest.get('schedule', ''))}</td>"
            f'<td class="status-{"ok" if status_ok else "failed"}">{status}{error}</td>'
            f"<td>{link}</td>"
            f"<td>{html.escape(latest.get('started_at', '')[:16].replace('T', ' '))}</td>"
            "</tr>"
        )
    sections = []
    for field in sorted(rows):
        sections.append(
            f"<h2>{html.escape(field)}</h2><table><thead><tr><th>Titel</th><th>{text['period']}</th>"
            f"<th>Turnus</th><th>Status</th><th>{text['report']}</th><th>{text['time']}</th></tr></thead>"
            f"<tbody>{''.join(sorted(rows[field], reverse=True))}</tbody></table>"
        )
    stamp = datetime.now().astimezone().strftime("%d.%m.%Y %H:%M")
    return f"""<!DOCTYPE html>
<html lang="{language}"><head><meta charset="utf-8"><title>{text["index_title"]}</title>
<style>
body {{ font-family: "Segoe UI", Arial, sans-serif; max-width: 1100px; margin: 0 auto; padding: 1.5rem 2rem; color: #1f2933; }}
h1 {{ border-bottom: 3px solid #0072B2; padding-bottom: .3rem; }}
table {{ border-collapse: collapse; width: 100%; margin-bottom: 1.5rem; }}
th, td {{ text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #e4e7eb; vertical-align: top; }}
.status-failed {{ color: #b00020; font-weight: 600; }}
.error {{ font-weight: 400; font-size: .85rem; color: #52606d; }}
</style></head>
<body><h1>{text["index_title"]}</h1><p>{text["runs_at"]}: {stamp}</p>
{"".join(sections) or "<p>–</p>"}
</body></html>
"""


def write_index(root: Paths | None = None, *, language: Literal["de", "en"] = "de") -> Path:
    """Write ``reports/index.html`` atomically and return its path."""
    from evaluation.data import atomic_write_text

    p = root or paths()
    target = p.reports / "index.html"
    atomic_write_text(target, index_html(p, language=language))
    return target


def period_text(start: str, end: str, label: str, language: str = "de") -> str:
    """Reader-facing period, e.g. ``2024 (01.01.2024–31.12.2024)``."""
    return f"{label} ({_format_date(start, language)}–{_format_date(end, language)})"


__all__: Sequence[str] = [
    "export_html",
    "index_html",
    "write_index",
    "prepare_notebook",
    "period_text",
]
