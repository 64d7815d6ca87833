"""Open a report in headless Chromium with networking off and read the rendered page."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    # networking off: every host name fails to resolve, and any proxy use goes nowhere
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=127.0.0.1:9",
]


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def rendered_dom(page: Path, *, budget_ms: int = 15000, window: str | None = None) -> str:
    """The DOM after scripts ran (``--dump-dom``), with no network."""
    binary = chromium()
    if binary is None:
        raise RuntimeError(
            "chromium is not installed (Debian package 'chromium'; .ci/run installs it)"
        )
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        result = subprocess.run(
            [
                binary,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                f"--virtual-time-budget={budget_ms}",
                *([f"--window-size={window}"] if window else []),
                "--dump-dom",
                page.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "HOME": profile},
        )
    if result.returncode != 0 or "<html" not in result.stdout:
        raise RuntimeError(f"chromium failed ({result.returncode}): {result.stderr[-2000:]}")
    return result.stdout


class ChartCensus(HTMLParser):
    """Counts plotly chart containers and how many of them hold a drawn SVG."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[bool] = []  # per open element: is it a chart container
        self.depth_in_chart: list[int] = []
        self.charts = 0
        self.drawn: set[int] = set()
        self.code_cells = 0

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        if "plotly-graph-div" in classes:
            self.charts += 1
            self.depth_in_chart.append(self.charts)
        if tag == "svg" and "main-svg" in classes and self.depth_in_chart:
            self.drawn.add(self.depth_in_chart[-1])
        if (
            "jp-CodeMirrorEditor" in classes
            or "jp-InputPrompt" in classes
            or "highlight" in classes
        ):
            self.code_cells += 1
        self.stack.append("plotly-graph-div" in classes)

    def handle_endtag(self, tag):
        if self.stack and self.stack.pop() and self.depth_in_chart:
            self.depth_in_chart.pop()


def census(dom: str) -> ChartCensus:
    parser = ChartCensus()
    parser.feed(dom)
    return parser


class ResourceCensus(HTMLParser):
    """Static look at a page: external resources it would load, and code elements it shows."""

    LOADING = {
        "script": "src",
        "link": "href",
        "img": "src",
        "iframe": "src",
        "source": "src",
        "embed": "src",
    }
    CODE_CLASSES = {"jp-CodeMirrorEditor", "jp-InputPrompt", "highlight", "cm-editor"}

    def __init__(self) -> None:
        super().__init__()
        self.external: list[str] = []
        self.code_elements = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        url = attributes.get(self.LOADING.get(tag, ""), "") or ""
        if url.startswith(("http:", "https:", "//")):
            self.external.append(f"<{tag}> {url}")
        if self.CODE_CLASSES & set((attributes.get("class") or "").split()):
            self.code_elements += 1


def resources(html: str) -> ResourceCensus:
    parser = ResourceCensus()
    parser.feed(html)
    return parser


# --------------------------------------------------------------------------------------------
# Accessibility: axe-core (from the npm registry; .ci/run installs it) in headless Chromium.

AXE_VERSION = "4.14.1"
AXE_DIR = Path(__file__).resolve().parent / ".npm" / "node_modules" / "axe-core"
IMPACT_ORDER = ("minor", "moderate", "serious", "critical")
_AXE_RUNNER = """
<script>
window.addEventListener("load", function () {
  setTimeout(function () {
    axe.run(document, {resultTypes: ["violations"]}).then(function (r) {
      var out = document.createElement("script");
      out.type = "application/json"; out.id = "axe-results";
      out.textContent = JSON.stringify(r.violations.map(function (v) {
        return {id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(function (n) { return n.target.join(" "); }),
                count: v.nodes.length};
      }));
      document.body.appendChild(out);
    }, function (e) {
      var out = document.createElement("script");
      out.type = "application/json"; out.id = "axe-results";
      out.textContent = JSON.stringify([{id: "axe-error", impact: "critical", help: String(e), nodes: [], count: 1}]);
      document.body.appendChild(out);
    });
  }, 500);
});
</script>
"""


def axe_script() -> Path | None:
    """The installed ``axe.min.js`` (``npm install --prefix tests/.npm axe-core``), or None."""
    path = AXE_DIR / "axe.min.js"
    return path if path.exists() else None


def axe_violations(page: Path, *, min_impact: str = "moderate") -> list[dict]:
    """Run axe-core on a page in headless Chromium; violations of at least ``min_impact``."""
    import json
    import re

    script = axe_script()
    if script is None:
        raise RuntimeError("axe-core is not installed (npm install --prefix tests/.npm axe-core)")
    html = page.read_text(encoding="utf-8")
    inject = (
        "<script>"
        + script.read_text(encoding="utf-8").replace("</script", "<\\/script")
        + "</script>"
        + _AXE_RUNNER
    )
    html = html.replace("</body>", inject + "</body>", 1) if "</body>" in html else html + inject
    with tempfile.TemporaryDirectory(prefix="axe-") as tmp:
        copy = Path(tmp) / page.name
        copy.write_text(html, encoding="utf-8")
        dom = rendered_dom(copy, budget_ms=30000, window="1280,900")
    found = re.search(r'<script type="application/json" id="axe-results">(.*?)</script>', dom, re.S)
    if not found:
        raise RuntimeError("axe-core did not report (page did not finish loading)")
    from html import unescape

    violations = json.loads(unescape(found.group(1)))
    floor = IMPACT_ORDER.index(min_impact)
    return [v for v in violations if IMPACT_ORDER.index(v.get("impact") or "minor") >= floor]


# --------------------------------------------------------------------------------------------
# One set of real reports for the export and accessibility tests (built once per session).

REPORT_KINDS = (
    "data_quality/jahr/2025",
    "labour_market/jahr/2024",
    "parent_work/jahr/2024",
    "civic_engagement/jahr/2024",
    "sozialraum/jahr/2024",
    "annual_report/jahr/2024",
)
_PUBLISHED: dict[str, object] = {}


def published_reports(tmp_root: Path) -> tuple[object, dict[str, Path], str]:
    """Run one report of every kind through the main job, then export PDF/DOCX/XLSX.

    Returns the workspace, run key -> run folder for the runs that succeeded, and the
    runner's output (which names any that failed). Exports are made by
    ``report.export_formats`` on the published folder, as the runner's publishing step does.
    """
    if "result" in _PUBLISHED:
        return _PUBLISHED["result"]  # type: ignore[return-value]
    import io
    import json
    import os
    import shutil
    from datetime import date

    from evaluation import report
    from evaluation.paths import paths
    from evaluation.runner import run_plan
    from tests.conftest import REPO, _copy_data

    root = tmp_root
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    shutil.copytree(REPO / "params", root / "params")
    _copy_data(Path(os.environ["EVALUATION_HOME"]), root)
    ws = paths(root)
    out = io.StringIO()
    run_plan(root=ws, only=list(REPORT_KINDS), today=date(2026, 11, 24), out=out)
    folders = {}
    notes = io.StringIO()
    for key in REPORT_KINDS:
        folder = ws.reports / key
        if not (folder / "manifest.json").exists():
            continue
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        if not (folder / "report.pdf").exists():
            report.export_formats(
                folder / "notebook.ipynb", folder, manifest=manifest, language="de", out=notes
            )
        folders[key] = folder
    report.write_index(ws)
    log = out.getvalue() + notes.getvalue()
    _PUBLISHED["result"] = (ws, folders, log)
    return ws, folders, log
