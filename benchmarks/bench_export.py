"""Benchmark of the report formats (figures for the README, issue 11).

On one published run folder (default: the newest yearly annual report under ``reports/``;
the folder is only read, everything is written to a temporary folder):

1. the HTML report with the full plotly.js (as before) and with the vendored basic bundle:
   size and time to render;
2. the time to make XLSX, the chart images (kaleido in Chromium), DOCX and PDF
   (``report.export_formats``), median of ``--repeat`` runs, and the size of each file;
3. the time headless Chromium needs to load and draw each HTML variant;
4. (``--first-report``) a worker's first report in fresh processes, interleaved: without
   the on-disk stylesheet cache, cold, and after :func:`evaluation.export.warm_up` ran in a
   thread while the worker waited as for its kernel; with the browser's shutdown;
5. chart images and PDF per report, the former way (kaleido, which reloads its page with
   plotly.js per figure, and a new ``chromium --print-to-pdf`` per PDF) against the
   process's one browser (:mod:`evaluation.export.browser`): each in a fresh process, the
   first report (which pays the browser's start) and the next ``--reports - 1``.

Usage::

    .venv/bin/python benchmarks/bench_export.py [RUN_FOLDER] [--repeat 3] [--reports 5]
    .venv/bin/python benchmarks/bench_export.py reports/sozialraum/jahr/2024 --only-browser
    .venv/bin/python benchmarks/bench_export.py RUN_FOLDER --first-report --rounds 3

Prints a markdown table and writes ``benchmarks/results/export.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def html_report(notebook: Path, manifest: dict) -> str:
    """The HTML report of an executed notebook, as the runner renders it from its manifest."""
    from evaluation import report

    period = manifest["period"]
    return report.export_html(
        notebook,
        provenance=manifest,
        title=manifest["title"],
        field=manifest["field"],
        period_text=report.period_text(period["start"], period["end"], period["label"]),
    )


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
        html = html_report(folder / "notebook.ipynb", manifest)
        return html, time.perf_counter() - start
    finally:
        report.plotly_js_source = original  # type: ignore[assignment]


def draw_time(page: Path) -> float:
    from tests import browser

    start = time.perf_counter()
    browser.rendered_dom(page, budget_ms=15000)
    return time.perf_counter() - start


KINDS = {"png": {"width": 900, "height": 480, "scale": 2}, "svg": {"width": 680, "height": 420}}


def _kaleido_images(specs: list, kinds: dict) -> dict[str, list[bytes]]:
    """The former chart images: kaleido's sync server, ``pio.to_image`` per image."""
    import kaleido
    import plotly.io as pio

    from evaluation.export import images
    from evaluation.report import figure_from_spec

    os.environ.setdefault("BROWSER_PATH", images.chromium() or "")
    if not getattr(_kaleido_images, "started", False):
        kaleido.start_sync_server(mathjax=False, silence_warnings=True)
        _kaleido_images.started = True  # type: ignore[attr-defined]
    out: dict[str, list[bytes]] = {k: [] for k in kinds}
    for spec in specs:
        fig = figure_from_spec(spec)
        for fmt, size in kinds.items():
            out[fmt].append(
                pio.to_image(
                    fig,
                    format=fmt,
                    width=int(size["width"]),
                    height=int(fig.layout.height or size["height"]),
                    scale=float(size.get("scale", 1)) if fmt == "png" else 1,
                )
            )
    return out


def cpu_seconds() -> float:
    """CPU time of this process and all its descendants (live, and reaped ones) so far:
    a figure that a loaded machine does not inflate the way it inflates wall time."""
    import psutil

    t = os.times()
    total = t.user + t.system + t.children_user + t.children_system
    for proc in psutil.Process().children(recursive=True):
        try:
            c = proc.cpu_times()
        except psutil.Error:
            continue
        total += c.user + c.system + c.children_user + c.children_system
    return total


def browser_child(folder: Path, way: str, reports: int) -> None:
    """In a fresh process: images and PDF of ``reports`` reports, one way; prints JSON."""
    import nbformat

    from evaluation import report
    from evaluation.export import browser, chart_image_sets, cover_facts, pdf, read_document

    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    specs = report.figure_specs(nbformat.read(folder / "notebook.ipynb", as_version=4))
    html_text = (folder / "report.html").read_text(encoding="utf-8")
    doc = read_document(html_text)
    facts = cover_facts(manifest)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-browser-") as tmp:
        for i in range(reports):
            cpu = cpu_seconds()
            t = time.perf_counter()
            parts: dict[str, float] = {}
            if way == "before":
                sets = _kaleido_images(specs, KINDS)
            else:
                sets = chart_image_sets(specs, KINDS, timings=parts)
            images_s = time.perf_counter() - t
            page = pdf.print_html(
                html_text,
                sets["svg"],
                cover=facts,
                title=doc.title,
                agency=doc.agency,
                subtitle=doc.subtitle,
            )
            t = time.perf_counter()
            target = Path(tmp) / f"r{i}.pdf"
            (pdf.write_pdf_cli if way == "before" else pdf.write_pdf)(page, target)
            pdf_s = time.perf_counter() - t
            cpu = cpu_seconds() - cpu
            rows.append(
                {
                    "images_s": images_s,
                    "images_prepare_s": parts.get("prepare"),
                    "images_draw_s": parts.get("draw"),
                    "pdf_s": pdf_s,
                    "pdf_bytes": target.stat().st_size,
                    "cpu_s": cpu,
                }
            )
    memory = browser.current().memory() if way == "after" else 0
    print(json.dumps({"figures": len(specs), "rows": rows, "browser_memory": memory}))


def browser_comparison(folder: Path, reports: int) -> dict[str, object]:
    import subprocess

    out: dict[str, object] = {"load_before": os.getloadavg()[0]}
    for way in ("before", "after"):
        done = subprocess.run(
            [sys.executable, __file__, str(folder), "--child", way, "--reports", str(reports)],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
        )
        out[way] = json.loads(done.stdout.strip().splitlines()[-1])
    out["load_after"] = os.getloadavg()[0]
    return out


def print_browser_table(comparison: dict) -> None:
    print(
        f"\nChart images ({comparison['after']['figures']} figures, PNG + SVG) and PDF per report:\n"
    )
    print(
        "| way | images, 1st report | images, next (median) | PDF, 1st | PDF, next (median) "
        "| CPU s per next report (median) |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for way, label in (
        ("before", "kaleido + chromium --print-to-pdf"),
        ("after", "one browser per process"),
    ):
        rows = comparison[way]["rows"]
        nxt = rows[1:] or rows
        print(
            f"| {label} | {rows[0]['images_s']:.2f} s | "
            f"{statistics.median(r['images_s'] for r in nxt):.2f} s | {rows[0]['pdf_s']:.2f} s | "
            f"{statistics.median(r['pdf_s'] for r in nxt):.2f} s | "
            f"{statistics.median(r['cpu_s'] for r in nxt):.2f} s |"
        )
    nxt = comparison["after"]["rows"][1:] or comparison["after"]["rows"]
    print(
        "\nOf the images, next reports (median): figures prepared in Python "
        f"{statistics.median(r['images_prepare_s'] for r in nxt):.2f} s, drawn in the browser "
        f"{statistics.median(r['images_draw_s'] for r in nxt):.2f} s"
    )
    print(
        f"Load average (1 min) {comparison['load_before']:.1f} before, "
        f"{comparison['load_after']:.1f} after, on {os.cpu_count()} cores"
    )
    memory = comparison["after"].get("browser_memory", 0)
    if memory:
        print(f"\nBrowser memory after the run (PSS): {memory / 2**20:.0f} MiB")


FIRST_VARIANTS = ("cold", "no-css-cache", "warm-up")  # the first also fills the cache


def first_report_child(folder: Path, variant: str, wait: float) -> None:
    """In a fresh process like a worker (papermill imported): wait ``wait`` seconds as for
    a kernel's start (``warm-up``: :func:`evaluation.export.warm_up` in a thread meanwhile),
    then render the run's HTML and formats once and end the browser; prints JSON."""
    import shutil
    import threading

    import papermill  # noqa: F401 - a worker has it imported before its first report

    import evaluation.engines  # noqa: F401
    from evaluation import export, report  # noqa: F401 - imported before the clock starts
    from evaluation.export import browser

    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    if variant == "warm-up":
        threading.Thread(target=export.warm_up, daemon=True).start()
    time.sleep(wait)
    with tempfile.TemporaryDirectory(prefix="bench-first-") as tmp:
        run = Path(tmp)
        shutil.copy(folder / "notebook.ipynb", run / "notebook.ipynb")
        cpu = cpu_seconds()
        start = time.perf_counter()
        html = html_report(run / "notebook.ipynb", manifest)
        (run / "report.html").write_text(html, encoding="utf-8")
        parts = {"html": time.perf_counter() - start}
        export.export_formats(run / "notebook.ipynb", run, manifest=manifest, timings=parts)
        render_s = time.perf_counter() - start
        render_cpu = cpu_seconds() - cpu
    start = time.perf_counter()
    browser.shutdown()
    print(
        json.dumps(
            {
                "render_s": render_s,
                "render_cpu_s": render_cpu,
                "parts": parts,
                "shutdown_s": time.perf_counter() - start,
                "process_cpu_s": cpu_seconds(),
            }
        )
    )


def first_report(folder: Path, rounds: int, wait: float) -> dict[str, object]:
    """A worker's first report, three ways, each in a fresh process, interleaved."""
    import subprocess

    out: dict[str, object] = {"load_before": os.getloadavg()[0], "wait_s": wait}
    rows: dict[str, list[dict]] = {v: [] for v in FIRST_VARIANTS}
    with tempfile.TemporaryDirectory(prefix="bench-css-cache-") as cache:
        for index in range(rounds + 1):  # the first (not counted) fills the cache
            for variant in FIRST_VARIANTS:
                env = {
                    **os.environ,
                    "EVALUATION_CACHE_DIR": "" if variant == "no-css-cache" else cache,
                }
                done = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        str(folder),
                        "--first-child",
                        variant,
                        "--wait",
                        str(wait),
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                    cwd=REPO,
                    env=env,
                )
                if index:
                    rows[variant].append(json.loads(done.stdout.strip().splitlines()[-1]))
                else:
                    break
    out["rows"] = rows
    out["load_after"] = os.getloadavg()[0]
    print(
        f"\nA worker's first report (after {wait:.0f} s of waiting as for its kernel), {rounds} rounds:\n"
    )
    print("| variant | render (median) | render CPU s | process CPU s | browser shutdown |")
    print("| --- | --- | --- | --- | --- |")
    for variant in FIRST_VARIANTS:
        got = rows[variant]
        med = {
            k: statistics.median(r[k] for r in got)
            for k in ("render_s", "render_cpu_s", "process_cpu_s", "shutdown_s")
        }
        each = ", ".join(f"{r['render_s']:.2f}" for r in got)
        print(
            f"| {variant} | {med['render_s']:.2f} s ({each}) | {med['render_cpu_s']:.2f} | "
            f"{med['process_cpu_s']:.2f} | {med['shutdown_s']:.2f} s |"
        )
    print(f"Load average (1 min) {out['load_before']:.1f} before, {out['load_after']:.1f} after")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reports", type=int, default=5)
    parser.add_argument("--only-browser", action="store_true")
    parser.add_argument(
        "--first-report",
        action="store_true",
        help="only a worker's first report: cold, without the CSS cache, after export.warm_up",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--wait", type=float, default=3.0, help="seconds of a kernel's start")
    parser.add_argument("--child", choices=("before", "after"), help=argparse.SUPPRESS)
    parser.add_argument("--first-child", choices=FIRST_VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    from evaluation import export

    folder = args.folder or newest_annual(REPO / "reports")
    if args.child:
        browser_child(folder, args.child, args.reports)
        return
    if args.first_child:
        first_report_child(folder, args.first_child, args.wait)
        return
    if args.first_report:
        figures = first_report(folder, args.rounds, args.wait)
        target = REPO / "benchmarks" / "results" / "export_first_report.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(figures, indent=2), encoding="utf-8")
        return
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    results: dict[str, object] = {
        "folder": str(folder.relative_to(REPO) if folder.is_relative_to(REPO) else folder)
    }
    if args.only_browser:
        results["browser"] = comparison = browser_comparison(folder, args.reports)
        print(f"Run folder: {results['folder']}")
        print_browser_table(comparison)
        target = REPO / "benchmarks" / "results" / "export_browser.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(results, indent=2), encoding="utf-8")
        return
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
        label = {"images": "chart images (PNG+SVG)"}.get(key, key.upper())
        size = results["format_bytes"].get(key)  # type: ignore[union-attr]
        each = ", ".join(f"{v:.2f}" for v in results["export_s_each"][key])  # type: ignore[index]
        print(
            f"| {label} | {value:.2f} s (each: {each})"
            + (f", {size / 1e3:.0f} kB |" if size else " |")
        )
    results["browser"] = comparison = browser_comparison(folder, args.reports)
    print_browser_table(comparison)
    target = REPO / "benchmarks" / "results" / "export.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
