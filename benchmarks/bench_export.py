"""Benchmark of the report formats (figures for the README, issue 11).

On one published run folder (default: the newest yearly annual report under ``reports/``;
the folder is only read, everything is written to a temporary folder):

1. the HTML report with the full plotly.js (as before) and with the vendored basic bundle:
   size and time to render;
2. the time to make XLSX, the chart images (kaleido in Chromium), DOCX and PDF
   (``report.export_formats``), median of ``--repeat`` runs, and the size of each file;
3. the time headless Chromium needs to load and draw each HTML variant.

Usage::

    .venv/bin/python benchmarks/bench_export.py [RUN_FOLDER] [--repeat 3]

Prints a markdown table and writes ``benchmarks/results/export.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def newest_annual(reports: Path) -> Path:
    folders = sorted(
        (m.parent for m in reports.glob("annual_report/jahr/*/manifest.json")),
        key=lambda p: p.name,
    )
    if not folders:
        raise SystemExit(f"no annual report under {reports}; run `make report` first")
    return folders[-1]


def render(folder: Path, manifest: dict, *, full: bool) -> tuple[str, float]:
    from evaluation import report

    original = report.plotly_js_source
    if full:
        from plotly.offline import get_plotlyjs

        report.plotly_js_source = lambda: ("full", get_plotlyjs())  # type: ignore[assignment]
    try:
        start = time.perf_counter()
        period = manifest["period"]
        html = report.export_html(
            folder / "notebook.ipynb",
            provenance=manifest,
            title=manifest["title"],
            field=manifest["field"],
            period_text=report.period_text(period["start"], period["end"], period["label"]),
        )
        return html, time.perf_counter() - start
    finally:
        report.plotly_js_source = original  # type: ignore[assignment]


def draw_time(page: Path) -> float:
    from tests import browser

    start = time.perf_counter()
    browser.rendered_dom(page, budget_ms=15000)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from evaluation import export

    folder = args.folder or newest_annual(REPO / "reports")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    results: dict[str, object] = {
        "folder": str(folder.relative_to(REPO) if folder.is_relative_to(REPO) else folder)
    }
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        out = Path(tmp)
        sizes, render_times, draw_times = {}, {}, {}
        for variant, full in (("full", True), ("basic", False)):
            html, seconds = render(folder, manifest, full=full)
            page = out / f"{variant}.html"
            page.write_text(html, encoding="utf-8")
            sizes[variant] = page.stat().st_size
            render_times[variant] = seconds
            draw_times[variant] = statistics.median(draw_time(page) for _ in range(args.repeat))
        results["html_bytes"] = sizes
        results["html_render_s"] = render_times
        results["chromium_load_and_draw_s"] = draw_times
        timings: dict[str, list[float]] = {}
        for i in range(args.repeat):
            run = out / f"run{i}"
            run.mkdir()
            (run / "report.html").write_text(
                (out / "basic.html").read_text(encoding="utf-8"), encoding="utf-8"
            )
            t: dict[str, float] = {}
            written = export.export_formats(
                folder / "notebook.ipynb", run, manifest=manifest, timings=t
            )
            for key, value in t.items():
                timings.setdefault(key, []).append(value)
        results["export_s"] = {k: statistics.median(v) for k, v in timings.items()}
        # the chart browser is kept by the process: the first report pays its start
        results["export_s_each"] = timings
        results["format_bytes"] = {k: p.stat().st_size for k, p in written.items()}
    print(f"Run folder: {results['folder']}\n")
    print("| what | value |\n| --- | --- |")
    print(
        f"| HTML, full plotly.js | {sizes['full'] / 1e6:.2f} MB, drawn in {draw_times['full']:.2f} s |"
    )
    print(
        f"| HTML, basic bundle | {sizes['basic'] / 1e6:.2f} MB, drawn in {draw_times['basic']:.2f} s |"
    )
    for key, value in results["export_s"].items():  # type: ignore[union-attr]
        label = {"images": "chart images (PNG+SVG, kaleido)"}.get(key, key.upper())
        size = results["format_bytes"].get(key)  # type: ignore[union-attr]
        each = ", ".join(f"{v:.2f}" for v in results["export_s_each"][key])  # type: ignore[index]
        print(
            f"| {label} | {value:.2f} s (each: {each})"
            + (f", {size / 1e3:.0f} kB |" if size else " |")
        )
    target = REPO / "benchmarks" / "results" / "export.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
