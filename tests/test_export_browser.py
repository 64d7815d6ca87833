"""The process's headless Chromium for chart images and PDF: output, reuse and faults."""

from __future__ import annotations

import io
import json
import os
import struct
import time
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio
import psutil
import pytest

from evaluation import export, report
from evaluation.export import browser, images, pdf
from tests import browser as test_browser
from tests.test_export import MANIFEST, _html, probe_notebook

pytestmark = pytest.mark.browser

PNG = {"png": {"width": 900, "height": 480, "scale": 2}}
SVG = {"svg": {"width": 680, "height": 420}}


@pytest.fixture(autouse=True)
def fresh_browser():
    """Each test starts without a browser and leaves none behind."""
    if images.chromium() is None:
        if os.environ.get("CI"):
            pytest.fail("chromium missing on CI")
        pytest.skip("chromium not installed (CI installs it)")
    browser.shutdown()
    yield
    browser.shutdown()


def spec(title: str = "Austritte", height: int | None = None) -> dict:
    fig = go.Figure(
        [
            go.Bar(x=["2023", "2024"], y=[10, 4], name="Geflüchtete"),
            go.Bar(x=["2023", "2024"], y=[7, 9], name="EU-Bürger"),
        ]
    )
    fig.update_layout(title=title, xaxis_title="Jahr", yaxis_title="Personen", height=height)
    return json.loads(pio.to_json(fig))


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG whose every chunk has a correct CRC and whose image
    data inflates to exactly one filter byte plus RGBA/RGB bytes per row."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "PNG signature"
    pos, chunks, idat = 8, [], b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"CRC of chunk {kind!r}"
        chunks.append(kind)
        if kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert chunks[0] == b"IHDR" and chunks[-1] == b"IEND"
    ihdr = data[16:29]
    width, height, depth, colour = struct.unpack(">IIBB", ihdr[:10])
    channels = {2: 3, 6: 4}[colour]
    assert depth == 8
    assert len(zlib.decompress(idat)) == height * (1 + width * channels)
    return width, height


def svg_root(data: bytes) -> ET.Element:
    return ET.fromstring(data.decode("utf-8"))


def svg_texts(data: bytes) -> list[str]:
    return [t.text or "" for t in svg_root(data).iter("{http://www.w3.org/2000/svg}text")]


def group_alive(pgid: int) -> list[int]:
    """Processes still in a process group (zombies count: they were not reaped)."""
    found = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == pgid:
                found.append(proc.pid)
        except (ProcessLookupError, psutil.Error):
            continue
    return found


def chromium_children() -> list[psutil.Process]:
    me = psutil.Process()
    out = []
    for child in me.children(recursive=True):
        try:
            if "chrom" in child.name() or "chrom" in " ".join(child.cmdline()[:3]):
                out.append(child)
        except psutil.Error:
            continue
    return out


def wait_gone(pgid: int, seconds: float = 10) -> list[int]:
    end = time.monotonic() + seconds
    while (left := group_alive(pgid)) and time.monotonic() < end:
        time.sleep(0.2)
    return left


# ---------------------------------------------------------------------------------------------


def test_png_and_svg_are_valid_images_of_the_expected_size_drawn_by_the_reports_plotly():
    sets = images.chart_image_sets(
        [spec("Austritte"), spec("Eintritte", height=300)], {**PNG, **SVG}
    )
    assert [png_size(p) for p in sets["png"]] == [(1800, 960), (1800, 600)], "scale 2"
    roots = [svg_root(s) for s in sets["svg"]]
    assert [(r.get("width"), r.get("height")) for r in roots] == [("680", "420"), ("680", "300")]
    first, second = (svg_texts(s) for s in sets["svg"])
    assert "Austritte" in first and "Jahr" in first and "Personen" in first
    assert "Eintritte" in second and "Austritte" not in second, "each figure its own image"
    assert "Geflüchtete" in first and "EU-Bürger" in first, "legend text, umlauts intact"
    chrome = browser.current()
    version = chrome._call(browser._evaluate(chrome._chart_tab, "Plotly.version"), 10, "v")
    assert version == report.vendored_plotly_version() == report.bundled_plotly_version(), (
        "the chart page runs the plotly.js the HTML reports embed"
    )


def test_one_browser_serves_the_next_reports_of_the_process(tmp_path):
    images.chart_images([spec()], fmt="svg", width=680, height=420)
    first = browser.current()
    pid, starts = first.pid, browser.starts()
    for _ in range(3):
        images.chart_images([spec()], fmt="png")
        pdf.write_pdf("<html><body><h1>Bericht</h1></body></html>", tmp_path / "r.pdf")
    assert browser.current() is first and first.pid == pid and browser.starts() == starts
    assert first.jobs == 7


def test_pdf_of_a_report_is_a4_tagged_with_outline_headings_and_captions(tmp_path):
    import pypdf

    nb = probe_notebook(tmp_path)
    out_dir = tmp_path / "run"
    out_dir.mkdir()
    (out_dir / "report.html").write_text(_html(nb), encoding="utf-8")
    notes = io.StringIO()
    written = export.export_formats(nb, out_dir, manifest=MANIFEST, out=notes)
    assert set(written) == {"pdf", "docx", "xlsx"} and not notes.getvalue(), notes.getvalue()
    reader = pypdf.PdfReader(written["pdf"])
    for page in reader.pages:
        assert abs(float(page.mediabox.width) - 595.3) < 1.5
        assert abs(float(page.mediabox.height) - 841.9) < 1.5
    text = "\n".join(p.extract_text() for p in reader.pages)
    for wanted in ("Probebericht", "Zusammenfassung", "Ausblick", "Austritte nach Gruppe"):
        assert wanted in text, wanted
    assert "Balkendiagramm „Austritte“" in text, "the figure's caption"
    assert "file://" not in text and "Seite 2 von" in text
    assert "/StructTreeRoot" in reader.trailer["/Root"], "tagged PDF for screen readers"
    assert reader.outline, "bookmarks from the headings"
    from docx import Document

    assert len(Document(written["docx"]).inline_shapes) == 1, "the chart as PNG in the DOCX"


def test_the_browser_killed_mid_report_is_started_again_and_the_report_completes(
    monkeypatch, tmp_path
):
    images.chart_images([spec()], fmt="svg")  # a running browser
    before = {p.pid for p in chromium_children()}
    assert before, "the browser's processes are children of this process"
    killed: list[int] = []

    def kill_at_second_figure(chrome: browser.Browser, index: int) -> None:
        if index == 1 and not killed:
            killed.append(chrome.pid)
            os.killpg(chrome.pid, 9)
            time.sleep(0.3)

    monkeypatch.setattr(browser, "BEFORE_FIGURE", kill_at_second_figure)
    starts = browser.starts()
    sets = images.chart_image_sets([spec("A"), spec("B"), spec("C")], {**PNG, **SVG})
    assert killed and browser.starts() == starts + 1
    assert [png_size(p) for p in sets["png"]] == [(1800, 960)] * 3
    assert ["A" in svg_texts(s) for s in sets["svg"]] == [True, False, False]
    assert not wait_gone(killed[0]), "no process of the killed browser is left (or a zombie)"
    monkeypatch.setattr(browser, "BEFORE_FIGURE", None)
    target = pdf.write_pdf("<html><body><h1>Danach</h1></body></html>", tmp_path / "r.pdf")
    assert target.read_bytes().startswith(b"%PDF")
    after = {p.pid for p in chromium_children()}
    assert not (before & after), "the old browser's processes are all gone"
    last = browser.current().pid
    browser.shutdown()
    assert not wait_gone(last), "shutdown leaves no Chromium"
    assert not chromium_children(), "and no zombie either"


def test_a_figure_that_never_finishes_times_out_restarts_once_then_fails_in_one_line(
    monkeypatch,
):
    images.chart_images([spec()], fmt="svg")
    first = browser.current().pid
    monkeypatch.setattr(browser, "RENDER_JS", "function () { return new Promise(() => {}); }")
    starts = browser.starts()
    started = time.monotonic()
    with pytest.raises(images.ExportUnavailable) as caught:
        images.chart_image_sets([spec()], SVG, call_timeout=1.5, timeout=30)
    took = time.monotonic() - started
    message = str(caught.value)
    assert "\n" not in message and "Neustart" in message and "keine Antwort nach 2 s" in message
    assert message.startswith("Diagramme nicht gezeichnet: Chromium ist ausgefallen")
    assert not isinstance(caught.value, browser.ChartError), "a hang is the browser's fault"
    assert browser.starts() == starts + 1, "started again exactly once"
    assert took < 20, took
    assert not wait_gone(first), "the hung browser was killed"
    monkeypatch.undo()
    assert png_size(images.chart_images([spec()])[0]) == (1800, 960), "the next report draws"


def test_a_print_page_that_hangs_the_renderer_is_one_line_and_the_next_pdf_prints(tmp_path):
    pdf.write_pdf("<h1>vorher</h1>", tmp_path / "before.pdf")
    first = browser.current().pid
    starts = browser.starts()
    endless = "<html><body><h1>Endlos</h1><script>while (true) {}</script></body></html>"
    started = time.monotonic()
    with pytest.raises(images.ExportUnavailable) as caught:
        pdf.write_pdf(endless, tmp_path / "endless.pdf", call_timeout=2, timeout=30)
    message = str(caught.value)
    assert message.startswith("PDF nicht gedruckt: Chromium ist ausgefallen, auch nach einem")
    assert "\n" not in message and "(PDF: keine Antwort nach 2 s)" in message
    assert time.monotonic() - started < 25 and browser.starts() == starts + 1
    assert not (tmp_path / "endless.pdf").exists(), "no half-written PDF"
    assert not wait_gone(first)
    import pypdf

    after = pdf.write_pdf("<h1>Danach</h1>", tmp_path / "after.pdf")
    assert "Danach" in pypdf.PdfReader(after).pages[0].extract_text()


def test_the_whole_job_has_a_deadline_even_if_each_call_is_within_its_own(monkeypatch):
    monkeypatch.setattr(
        browser,
        "RENDER_JS",
        "function (f, o) { return new Promise(r => setTimeout(() =>"
        " Plotly.toImage(f, Object.assign({imageDataOnly: true}, o)).then(r), 700)); }",
    )
    with pytest.raises(images.ExportUnavailable, match="Zeitlimit|keine Antwort"):
        images.chart_image_sets([spec()] * 6, SVG, call_timeout=5, timeout=2.5)


def test_a_figure_plotly_cannot_draw_fails_that_report_in_one_line_and_keeps_the_browser(
    monkeypatch, tmp_path
):
    monkeypatch.setattr(
        browser,
        "RENDER_JS",
        "function (f, o) { if (f.layout.title.text === 'kaputt') {"
        " throw new Error('Achse ohne Werte'); }"
        " return Plotly.toImage(f, Object.assign({imageDataOnly: true}, o)); }",
    )
    images.chart_images([spec()], fmt="svg")
    chrome = browser.current()
    with pytest.raises(browser.ChartError) as caught:
        images.chart_image_sets([spec("gut"), spec("kaputt")], SVG)
    message = str(caught.value)
    assert message.startswith("Diagramm 2 („kaputt“) konnte nicht gezeichnet werden")
    assert "Achse ohne Werte" in message and "\n" not in message
    assert browser.current() is chrome and chrome.alive(), "the browser is fine and kept"

    # through the export: HTML/XLSX/DOCX are written, the PDF is not, one line says why
    nb_dir = tmp_path / "nb"
    nb_dir.mkdir()
    nb = probe_notebook(nb_dir)
    import nbformat

    book = nbformat.read(nb, as_version=4)
    book.cells[1].outputs[1]["data"][report.PLOTLY_MIME]["layout"]["title"]["text"] = "kaputt"
    nbformat.write(book, nb)
    out_dir = tmp_path / "run"
    out_dir.mkdir()
    (out_dir / "report.html").write_text(_html(nb), encoding="utf-8")
    notes = io.StringIO()
    written = export.export_formats(nb, out_dir, manifest=MANIFEST, out=notes)
    assert set(written) == {"docx", "xlsx"}
    lines = notes.getvalue().splitlines()
    assert len(lines) == 1 and "„kaputt“" in lines[0], lines
    assert lines[0].startswith("PDF nicht erstellt, DOCX ohne Diagrammbilder – Diagramm 1")


def test_the_browser_is_started_afresh_after_max_jobs_or_past_the_memory_limit(monkeypatch):
    monkeypatch.setattr(browser, "MAX_JOBS", 2)
    images.chart_images([spec()], fmt="svg")
    first = browser.current()
    images.chart_images([spec()], fmt="svg")
    assert browser.current() is not first, "after 2 jobs a new browser"
    assert not wait_gone(first.pid), "the worn one is closed"
    monkeypatch.setattr(browser, "MAX_JOBS", 1000)
    monkeypatch.setattr(browser, "MEMORY_CHECK_EVERY", 1)
    second = browser.current()
    assert second.memory() > 50 << 20, "the browser's memory is measured"
    images.chart_images([spec()], fmt="svg")
    assert browser.current() is second, "below the limit it is kept"
    monkeypatch.setattr(browser, "MAX_MEMORY", 1 << 20)
    images.chart_images([spec()], fmt="svg")
    assert browser.current() is not second and not wait_gone(second.pid)


@pytest.mark.parametrize("how", ["close", "kill"])
def test_ending_the_browser_is_quick_and_leaves_no_process_profile_or_page_folder(how):
    images.chart_images([spec()], fmt="svg")
    pdf_page = "<html><body><h1>Bericht</h1></body></html>"
    chrome = browser.current()
    chrome.pdf(pdf_page, deadline=time.monotonic() + 60)
    pgid, thread = chrome.pid, chrome._thread
    profile, pages = chrome._browser._browser_impl.tmp_dir.path, chrome._folder
    assert group_alive(pgid) and profile.is_dir() and pages.is_dir()
    started = time.monotonic()
    getattr(chrome, how)()
    took = time.monotonic() - started
    assert not group_alive(pgid), "no process of the browser is left, not even a zombie"
    assert not profile.exists() and not pages.exists(), "profile and page folder deleted"
    assert not thread.is_alive() and chrome._loop.is_closed(), "its event loop is stopped"
    # a polite close took 0.3-0.8 s and a kill 2.0-2.4 s (choreographer's reader of the
    # killed browser's pipe waited); both are now well under a second
    assert took < 1.0, took
    getattr(chrome, how)()  # idempotent
    browser.shutdown()
    assert images.chart_images([spec()], fmt="svg")[0].startswith(b"<svg"), "a new one starts"


def test_warm_up_pays_the_first_reports_costs_ahead_and_changes_no_report(tmp_path, monkeypatch):
    """A worker's idle time (its kernel starting) can do what the first report paid once:
    the browser is started, the exporter built, the stylesheet parsed; the reports that
    follow, one of them rendered while the warm-up runs in a thread, are byte for byte
    what they are without it."""
    import threading

    monkeypatch.setenv("EVALUATION_CACHE_DIR", str(tmp_path / "cache"))
    nb = probe_notebook(tmp_path)
    expected = _html(nb)
    browser.shutdown()
    report._html_exporter.cache_clear()
    report._css_rules.cache_clear()
    starts = browser.starts()
    took = export.warm_up()
    assert set(took) == {"html", "formats", "browser"}, took
    assert browser.starts() == starts + 1 and browser.current().alive()
    assert report._html_exporter.cache_info().currsize == 1
    assert report._css_rules.cache_info().currsize == 1
    chrome = browser.current()
    hits = report._css_rules.cache_info().hits
    assert _html(nb) == expected
    assert report._css_rules.cache_info().hits == hits + 1, "the stylesheet was parsed ahead"
    sets = images.chart_image_sets(report.figure_specs(nbformat_read(nb)), SVG)
    assert browser.current() is chrome and sets["svg"][0].startswith(b"<svg"), "no new start"

    pages = []
    for _ in range(3):  # next to a report being rendered
        report._html_exporter.cache_clear()
        thread = threading.Thread(target=export.warm_up, kwargs={"start_browser": False})
        thread.start()
        pages.append(_html(nb))
        thread.join(60)
    assert pages == [expected] * 3

    monkeypatch.setattr(images, "chromium", lambda: None)
    monkeypatch.setattr(report, "export_html", _broken)
    assert export.warm_up() == {"formats": pytest.approx(0, abs=5)}, "never raises"


def nbformat_read(path: Path):
    import nbformat

    return nbformat.read(path, as_version=4)


def _broken(*args, **kwargs):
    raise RuntimeError("kaputt")


def test_each_worker_process_has_its_own_browser_and_leaves_none(tmp_path):
    import subprocess
    import sys

    code = (
        "import json, sys\n"
        "from evaluation.export import browser, images\n"
        f"images.chart_images([json.loads({json.dumps(json.dumps(spec()))})], fmt='svg')\n"
        "print(browser.current().pid, flush=True)\n"
    )
    images.chart_images([spec()], fmt="svg")
    mine = browser.current().pid
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parents[1],
        )
        for _ in range(2)
    ]
    pids = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        pids.append(int(out.split()[-1]))
    assert len(set(pids)) == 2 and mine not in pids
    for pid in pids:
        assert not wait_gone(pid), "a worker closes its browser when it exits"
    assert browser.current().alive() and browser.current().pid == mine


def test_a_forked_child_starts_its_own_browser_and_leaves_the_parents_alone():
    import multiprocessing

    images.chart_images([spec()], fmt="svg")
    parent = browser.current()
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()

    def child() -> None:
        images.chart_images([spec()], fmt="svg")
        queue.put(browser.current().pid)
        browser.shutdown()

    proc = ctx.Process(target=child)
    proc.start()
    child_pid = queue.get(timeout=120)
    proc.join(60)
    assert proc.exitcode == 0 and child_pid != parent.pid
    assert not wait_gone(child_pid)
    assert parent.alive() and browser.current() is parent
    profile = parent._browser._browser_impl.tmp_dir.path
    assert profile.is_dir()

    # a child that exits normally (its exit handlers run) leaves the parent's profile alone
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        import atexit
        import gc

        try:
            images.chart_images([spec()], fmt="svg")
            browser.shutdown()
            gc.collect()
            atexit._run_exitfuncs()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert profile.is_dir(), "the parent's browser profile is still there"
    assert parent.alive() and browser.current() is parent
    assert images.chart_images([spec()], fmt="svg")[0].startswith(b"<svg")


def test_no_chromium_is_one_line_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(images, "chromium", lambda: None)
    with pytest.raises(images.ExportUnavailable, match="apt-get install chromium"):
        images.chart_images([spec()])
    with pytest.raises(images.ExportUnavailable, match="apt-get install chromium"):
        pdf.write_pdf("<p>x</p>", tmp_path / "x.pdf")
    assert images.chart_image_sets([], PNG) == {"png": []}, "no figures need no browser"


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:The kopts argument")
def test_same_pdf_and_chart_text_as_the_former_path_on_a_real_demo_report(tmp_path, monkeypatch):
    """The former path: kaleido for the images, a new ``chromium --print-to-pdf`` per PDF."""
    import nbformat
    import pypdf

    _, folders, log = test_browser.published_reports(tmp_path / "ws")
    key = next((k for k in folders if k.startswith("sozialraum")), None) or next(iter(folders))
    folder = folders[key]
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    out_dir = tmp_path / "run"
    out_dir.mkdir()
    (out_dir / "report.html").write_text(
        (folder / "report.html").read_text(encoding="utf-8"), encoding="utf-8"
    )
    pages: dict[str, str] = {}
    original = pdf.write_pdf

    def capture(page_html: str, target: Path, **kw: object) -> Path:
        pages["html"] = page_html
        return original(page_html, target, **kw)

    monkeypatch.setattr(pdf, "write_pdf", capture)
    written = export.export_formats(folder / "notebook.ipynb", out_dir, manifest=manifest)
    old = pdf.write_pdf_cli(pages["html"], tmp_path / "old.pdf")
    new_reader, old_reader = pypdf.PdfReader(written["pdf"]), pypdf.PdfReader(old)
    assert abs(len(new_reader.pages) - len(old_reader.pages)) <= 1
    lines = [ln for p in new_reader.pages for ln in p.extract_text().splitlines()]
    old_lines = [ln for p in old_reader.pages for ln in p.extract_text().splitlines()]
    assert lines == old_lines
    assert len(new_reader.outline) == len(old_reader.outline) > 0

    specs = report.figure_specs(nbformat.read(folder / "notebook.ipynb", as_version=4))
    assert specs, f"{key} has charts"
    new_svgs = images.chart_images(specs[:3], fmt="svg", width=680, height=420, scale=1)
    import kaleido

    kaleido.start_sync_server(mathjax=False, silence_warnings=True)
    try:
        for spec_, svg in zip(specs[:3], new_svgs, strict=True):
            fig = report.figure_from_spec(spec_)
            before = pio.to_image(fig, format="svg", width=680, height=fig.layout.height or 420)
            assert svg_texts(svg) == svg_texts(before), "the same chart text, in order"
            assert svg_root(svg).get("height") == svg_root(before).get("height")
    finally:
        kaleido.stop_sync_server(silence_warnings=True)
