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


def rendered_dom(page: Path, *, budget_ms: int = 15000) -> str:
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
