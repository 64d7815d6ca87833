"""One headless Chromium per process for chart images and the PDF (issue 13).

A runner worker renders many reports; starting Chromium for each of them (and kaleido's
page reload with plotly.js after every figure) was most of a run's time. This module keeps
one browser per process, started lazily on first use and driven over the DevTools protocol
by choreographer (the library kaleido itself uses):

- a *chart tab* loaded once with the same plotly.js the HTML reports embed
  (:func:`evaluation.report.plotly_js_source`); every figure is then drawn by plotly.js's
  own ``Plotly.toImage`` in that page, without a reload;
- a *print tab* that opens the print version of a report from a file in a temporary folder
  (``file://``), waits for its load event and prints it with ``Page.printToPDF`` using the
  options of Chromium's ``--print-to-pdf`` command line (CSS page size, no header/footer,
  document outline, tagged PDF).

Faults: every call has a timeout and every job a deadline; a browser that crashed or hangs
is killed (its whole process group) and started again once, then the job fails with
:class:`~evaluation.export.images.ExportUnavailable` and one German line. A figure that
plotly.js cannot draw fails with :class:`ChartError` (the browser is fine and kept). The
browser is closed at exit, after :data:`MAX_JOBS` jobs or past :data:`MAX_MEMORY` bytes of
resident memory, and a process that was forked from one with a browser starts its own.
No network is used: the pages are local files, and host resolution and the proxy point
nowhere.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import concurrent.futures
import contextlib
import json
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any

from evaluation.export.images import INSTALL_HINT, ExportUnavailable

#: Jobs (one set of chart images or one PDF) before the browser is started afresh:
#: 200 reports with images and PDF each. Bounds what a long-lived browser accumulates.
MAX_JOBS = 400
#: Memory of the browser's processes (bytes, proportional set size: resident memory with
#: shared pages counted once) past which it is started afresh.
MAX_MEMORY = 1 << 30
#: The memory is measured every this many jobs (it takes about 0.1 s).
MEMORY_CHECK_EVERY = 10
#: Seconds one DevTools call (one figure, one page load, one print) may take.
CALL_TIMEOUT = 60.0
#: Seconds one job (all figures of a report, or its PDF) may take, a restart included.
JOB_TIMEOUT = 300.0
#: Seconds the browser may take to start.
START_TIMEOUT = 45.0
#: The print tab's screen layout is as wide as the printed A4 text area (174 mm), so that
#: the table-fitting script of the print page measures what will be printed.
PRINT_VIEWPORT = (658, 940)
#: Chromium's ``--print-to-pdf --no-pdf-header-footer --generate-pdf-document-outline``,
#: as DevTools parameters (tagged PDF is the headless default, stated here).
PDF_OPTIONS: Mapping[str, Any] = {
    "printBackground": True,
    "preferCSSPageSize": True,
    "displayHeaderFooter": False,
    "generateDocumentOutline": True,
    "generateTaggedPDF": True,
    "transferMode": "ReturnAsBase64",
}
#: Flags added to choreographer's own (headless, no sandbox, no GPU, no first run, no
#: component update or sync, a fresh user-data dir): no network at all.
EXTRA_FLAGS = (
    "--disable-background-networking",
    "--disable-quic",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--mute-audio",
)
PROXY = "127.0.0.1:9"
#: The function the chart page calls per figure (plotly.js's own export). Tests replace
#: it to make a figure fail or never finish.
RENDER_JS = (
    "function (figure, options) {"
    " return Plotly.toImage(figure, Object.assign({imageDataOnly: true}, options)); }"
)
#: Called with the browser before each figure is drawn (a test hook, e.g. to kill it).
BEFORE_FIGURE: Callable[[Browser, int], None] | None = None

CHART_PAGE = (
    '<!DOCTYPE html><html lang="de"><head><meta charset="utf-8">'
    '<script src="plotly.js"></script></head><body></body></html>'
)


#: A folder in memory for the browser's profile and pages, used when it has room to spare:
#: deleting Chromium's profile (some 150 files) at the end took 0.02–0.45 s on a disk.
SCRATCH_IN_MEMORY = "/dev/shm"
#: Free bytes the folder in memory must have (Docker gives containers 64 MiB).
SCRATCH_MIN_FREE = 1 << 30


def _scratch_parent() -> str | None:
    """Where the browser's folder is made: :data:`SCRATCH_IN_MEMORY` when it is a writable
    folder with :data:`SCRATCH_MIN_FREE` bytes free, else the usual temporary folder."""
    folder = SCRATCH_IN_MEMORY
    try:
        if not (os.path.isdir(folder) and os.access(folder, os.W_OK | os.X_OK)):
            return None
        stat = os.statvfs(folder)
    except (OSError, AttributeError):
        return None
    return folder if stat.f_bavail * stat.f_frsize >= SCRATCH_MIN_FREE else None


class ChartError(ExportUnavailable):
    """plotly.js could not draw one figure (the browser itself is fine)."""


class BrowserFailure(RuntimeError):
    """The browser crashed, hung or could not start (it is killed and started again)."""


def _chromium_class() -> type:
    from choreographer.browsers.chromium import Chromium

    class HouseChromium(Chromium):  # type: ignore[misc]
        """choreographer's Chromium with the house's no-network flags and its own HOME."""

        def get_cli(self) -> list[str]:
            return [*super().get_cli(), *EXTRA_FLAGS]

        def get_env(self) -> dict[str, str]:
            env = dict(super().get_env())
            env["HOME"] = str(self.tmp_dir.path)
            return env

    return HouseChromium


class Browser:
    """A headless Chromium with a chart tab and a print tab, driven from synchronous code.

    choreographer's browser is asynchronous; it runs on an event loop in a daemon thread
    that belongs to this object, and every public method waits for its result with a
    timeout. Use :func:`current` for the process's browser rather than making one.

    Parameters
    ----------
    binary
        The Chromium/Chrome executable.
    """

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.owner_pid = os.getpid()
        self.jobs = 0
        self.started = time.monotonic()
        self._folder = Path(tempfile.mkdtemp(prefix="report-browser-", dir=_scratch_parent()))
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="report-browser", daemon=True
        )
        self._thread.start()
        self._browser: Any = None
        self._chart_tab: Any = None
        self._print_tab: Any = None
        self._pages = 0
        try:
            self._call(self._open(), START_TIMEOUT, "Start")
        except BaseException:
            self.kill()
            raise

    # -- plumbing ------------------------------------------------------------------------

    def _call(self, coro: Coroutine[Any, Any, Any], timeout: float, what: str) -> Any:
        """Run ``coro`` on the browser's loop; a timeout or a dead browser is a failure."""
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(max(timeout, 0.001))
        except (concurrent.futures.TimeoutError, TimeoutError):
            future.cancel()
            raise BrowserFailure(f"{what}: keine Antwort nach {timeout:.0f} s") from None
        except (ChartError, BrowserFailure):
            raise
        except Exception as exc:  # channel closed, browser gone, protocol error
            text = str(exc).strip().splitlines()
            detail = text[0] if text else type(exc).__name__
            raise BrowserFailure(f"{what}: {detail}") from exc

    async def _open(self) -> None:
        import choreographer

        _quiet_logs()
        self._browser = choreographer.Browser(
            self.binary,
            browser_cls=_chromium_class(),
            headless=True,
            enable_gpu=False,
            enable_sandbox=False,
            enable_extensions=False,
            proxy_server=PROXY,
            tmp_dir=str(self._folder),  # the profile inside the page folder
        )
        from evaluation.report import plotly_js_source

        (self._folder / "plotly.js").write_text(plotly_js_source()[1], encoding="utf-8")
        chart_page = self._folder / "chart.html"
        chart_page.write_text(CHART_PAGE, encoding="utf-8")
        await self._browser.open()
        self._chart_tab = self._browser.get_tab() or await self._browser.create_tab("")
        # the print tab is set up while the chart tab loads plotly.js (0.3-0.4 s)
        await asyncio.gather(self._open_chart_tab(chart_page), self._open_print_tab())

    async def _open_chart_tab(self, chart_page: Path) -> None:
        await _check(self._chart_tab.send_command("Page.enable"))
        await _navigate(self._chart_tab, chart_page.as_uri())
        ready = await _evaluate(self._chart_tab, "typeof Plotly === 'object' && Plotly.version")
        if not ready:
            raise BrowserFailure("plotly.js wurde auf der Diagrammseite nicht geladen")

    async def _open_print_tab(self) -> None:
        self._print_tab = await self._browser.create_tab("")
        await _check(self._print_tab.send_command("Page.enable"))
        width, height = PRINT_VIEWPORT
        await _check(
            self._print_tab.send_command(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            )
        )

    @property
    def pid(self) -> int | None:
        """Process id of the browser's process group leader (choreographer's wrapper)."""
        process = getattr(self._browser, "subprocess", None)
        return process.pid if process is not None else None

    def alive(self) -> bool:
        """Whether the browser's process still runs."""
        process = getattr(self._browser, "subprocess", None)
        return process is not None and process.poll() is None

    def memory(self) -> int:
        """Memory of the browser and all its processes in bytes (proportional set size,
        0 when it is gone)."""
        import psutil

        if self.pid is None:
            return 0
        try:
            root = psutil.Process(self.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return 0
        total = 0
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                total += proc.memory_full_info().pss
        return total

    def worn(self) -> bool:
        """Whether the browser should be started afresh before the next job."""
        if self.jobs >= MAX_JOBS:
            return True
        return (
            bool(self.jobs) and self.jobs % MEMORY_CHECK_EVERY == 0 and self.memory() > MAX_MEMORY
        )

    # -- jobs ----------------------------------------------------------------------------

    def images(
        self,
        figures: Sequence[tuple[str, Sequence[tuple[str, Mapping[str, Any]]]]],
        *,
        deadline: float,
        call_timeout: float = CALL_TIMEOUT,
        titles: Sequence[str] = (),
    ) -> dict[str, list[bytes]]:
        """Draw each figure: ``(plotly JSON, [(format, Plotly.toImage options), ...])``.

        Returns the images per format, in the order of the figures.

        Raises
        ------
        ChartError
            plotly.js rejected a figure (which one is said).
        BrowserFailure
            The browser crashed or did not answer in time.
        """
        self.jobs += 1
        result: dict[str, list[bytes]] = {}
        for index, (figure, kinds) in enumerate(figures):
            for fmt, options in kinds:
                if BEFORE_FIGURE is not None:
                    BEFORE_FIGURE(self, index)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise BrowserFailure("Zeitlimit des Berichts überschritten")
                expression = f"({RENDER_JS})({figure}, {json.dumps(dict(options))})"
                try:
                    data = self._call(
                        _evaluate(self._chart_tab, expression, figure=True),
                        min(call_timeout, remaining),
                        f"Diagramm {index + 1}",
                    )
                except ChartError as exc:
                    title = titles[index] if index < len(titles) and titles[index] else ""
                    named = f"Diagramm {index + 1}" + (f" („{title}“)" if title else "")
                    raise ChartError(f"{named} konnte nicht gezeichnet werden: {exc}") from None
                if not isinstance(data, str) or not data:
                    raise ChartError(f"Diagramm {index + 1}: plotly.js lieferte kein Bild")
                result.setdefault(fmt, []).append(
                    base64.b64decode(data) if fmt != "svg" else data.encode()
                )
        return result

    def pdf(self, page_html: str, *, deadline: float, call_timeout: float = CALL_TIMEOUT) -> bytes:
        """Print ``page_html`` (A4 and margins from its CSS) and return the PDF's bytes.

        Raises
        ------
        BrowserFailure
            The browser crashed or did not answer in time.
        """
        self.jobs += 1
        self._pages += 1
        page = self._folder / f"print-{self._pages}.html"
        page.write_text(page_html, encoding="utf-8")
        try:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrowserFailure("Zeitlimit des Berichts überschritten")
            return self._call(
                self._print(page.as_uri(), min(call_timeout, remaining)),
                remaining,
                "PDF",
            )
        finally:
            with contextlib.suppress(OSError):
                page.unlink()

    async def _print(self, url: str, timeout: float) -> bytes:
        try:
            return await self._print_steps(url, timeout)
        except TimeoutError:
            raise BrowserFailure(f"PDF: keine Antwort nach {timeout:.0f} s") from None

    async def _print_steps(self, url: str, timeout: float) -> bytes:
        tab = self._print_tab
        await asyncio.wait_for(_navigate(tab, url), timeout)
        # fonts loaded and the table-fitting load handler's zoom laid out
        await asyncio.wait_for(
            _evaluate(
                tab,
                "document.fonts.ready.then(() => new Promise(r => "
                "requestAnimationFrame(() => requestAnimationFrame(() => r(true)))))",
            ),
            timeout,
        )
        response = await asyncio.wait_for(
            tab.send_command("Page.printToPDF", dict(PDF_OPTIONS)), timeout
        )
        if "error" in response:
            raise BrowserFailure(f"Drucken: {response['error'].get('message', response)}")
        data = base64.b64decode(response["result"]["data"])
        with contextlib.suppress(Exception):  # free the page; the next print replaces it
            await asyncio.wait_for(_navigate(tab, "about:blank"), 5)
        return data

    # -- ending --------------------------------------------------------------------------

    def close(self, timeout: float = 8.0) -> None:
        """Close the browser and its loop; idempotent.

        Every job has returned when this is called, and the profile is a temporary folder
        that is deleted here, so there is nothing for Chromium to save: it is ended at once
        (:meth:`kill`). A polite ``Browser.close`` first cost 0.3–0.5 s per worker at the
        end of a plan (Chromium tidying a profile that is deleted anyway). ``timeout`` is
        kept for callers; ending takes well under a second.
        """
        self.kill()

    def kill(self) -> None:
        """Kill the browser's whole process group, reap it and stop the loop; idempotent.

        Leaves no process (not even a zombie), no profile and no page folder behind.
        """
        if os.getpid() != self.owner_pid:
            return
        process = getattr(self._browser, "subprocess", None)
        if process is not None and process.poll() is None:  # a reaped id may be reused
            _kill_group(process)
        _wake_reader(self._browser)
        if self._browser is not None and self._loop.is_running():
            # choreographer's own cleanup: broker, channel, its temporary profile
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._browser.close(), self._loop).result(5)
        if self._loop.is_running():
            with contextlib.suppress(Exception):  # no task left pending (asyncio would warn)
                asyncio.run_coroutine_threadsafe(_cancel_tasks(), self._loop).result(5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
        if not self._loop.is_running() and not self._loop.is_closed():
            with contextlib.suppress(Exception):
                self._loop.close()
        import shutil

        shutil.rmtree(self._folder, ignore_errors=True)


#: ``prctl`` option: orphaned descendants are re-parented to this process, not to init.
_PR_SET_CHILD_SUBREAPER = 36


def _subreaper(on: bool) -> bool:
    """Make this process the reaper of its orphaned descendants (Linux); ``False`` where
    that is not possible."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _kill_group(process: Any, seconds: float = 5.0) -> None:
    """SIGKILL a browser's whole process group and reap every one of its processes.

    Killed at once, Chromium's helpers (zygotes, renderers) outlive their parents as
    zombies that init reaps when it gets to it (1.5 s here; never in a container whose
    first process reaps nobody). For the moment of the kill this process is their
    *subreaper*, so they become its children and are reaped here, within milliseconds.
    """
    import psutil

    try:
        members = {c.pid for c in psutil.Process(process.pid).children(recursive=True)}
    except psutil.Error:
        members = set()
    reaper = _subreaper(True)
    try:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            process.wait(seconds)
        end = time.monotonic() + seconds
        while reaper and members and time.monotonic() < end:
            for pid in list(members):
                try:
                    if os.waitpid(pid, os.WNOHANG)[0]:
                        members.discard(pid)
                except ChildProcessError:  # not (yet) ours, or reaped by its own parent
                    if not psutil.pid_exists(pid):
                        members.discard(pid)
            if members:
                time.sleep(0.002)
    finally:
        if reaper:
            _subreaper(False)


def _wake_reader(chrome: Any) -> None:
    """Let choreographer's reading thread see the end of a killed browser at once.

    The thread blocks in ``os.read`` on the pipe from the browser, whose writing end this
    process holds as well, so a killed browser never gives it an end of file: choreographer's
    cleanup then waited about 2 s for it. Writing the farewell that choreographer itself
    sends on Windows (``{bye}``) into that pipe ends the read.
    """
    channel = getattr(chrome, "_channel", None)
    fake_bye = getattr(channel, "_fake_bye", None)
    ready = getattr(channel, "is_ready", None)
    # only into an open pipe: the numbers of closed descriptors are reused by other files
    if callable(fake_bye) and callable(ready) and ready():
        with contextlib.suppress(Exception):
            fake_bye()


async def _cancel_tasks() -> None:
    me = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not me and not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=3)


def _quiet_logs() -> None:
    """choreographer's warnings about a browser that was killed on purpose, and the
    browser's own stderr, are not news to a reader (unless logging is set up for them)."""
    import logging

    for name in ("choreographer", "browser_proc", "chrome_wrapper", "logistro"):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.ERROR)


async def _check(pending: Any) -> dict[str, Any]:
    response = await pending
    if "error" in response:
        raise BrowserFailure(str(response["error"].get("message", response["error"])))
    return response


async def _navigate(tab: Any, url: str) -> None:
    loaded = tab.subscribe_once("Page.loadEventFired")
    while loaded.done():  # an event from before
        loaded = tab.subscribe_once("Page.loadEventFired")
    response = await _check(tab.send_command("Page.navigate", {"url": url}))
    problem = response.get("result", {}).get("errorText")
    if problem:
        loaded.cancel()
        raise BrowserFailure(f"Seite {url} nicht geöffnet: {problem}")
    await loaded


async def _evaluate(tab: Any, expression: str, *, figure: bool = False) -> Any:
    response = await _check(
        tab.send_command(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
        )
    )
    result = response.get("result", {})
    if "exceptionDetails" in result:
        details = result["exceptionDetails"]
        text = details.get("exception", {}).get("description") or details.get("text", "")
        line = (str(text).strip().splitlines() or ["JavaScript-Fehler"])[0]
        if figure:
            raise ChartError(line)
        raise BrowserFailure(line)
    return result.get("result", {}).get("value")


# -- the process's browser -----------------------------------------------------------------

_LOCK = threading.RLock()
_STATE: dict[str, Any] = {"browser": None, "atexit": False, "starts": 0}


#: Browsers of a parent process, seen by a forked child: kept referenced and disarmed,
#: since collecting them would delete the parent's browser profile.
_FOREIGN: list[Browser] = []


def _after_fork_in_child() -> None:
    global _LOCK
    _LOCK = threading.RLock()  # the parent's thread may have held it at the fork
    browser = _STATE["browser"]
    _STATE["browser"] = None
    if browser is None:
        return
    _FOREIGN.append(browser)
    impl = getattr(browser._browser, "_browser_impl", None)
    if impl is not None:
        impl.clean = lambda: None  # choreographer's __del__ would remove the profile
        temp = getattr(getattr(impl, "tmp_dir", None), "temp_dir", None)
        finalizer = getattr(temp, "_finalizer", None)
        if finalizer is not None:
            finalizer.detach()  # and so would tempfile's at exit


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def current(binary: str | None = None) -> Browser:
    """The process's browser: started on first use, started afresh when it died, is worn
    out (:data:`MAX_JOBS`, :data:`MAX_MEMORY`) or belongs to the parent of a forked process.

    Raises
    ------
    ExportUnavailable
        No Chromium is installed.
    BrowserFailure
        It could not be started.
    """
    from evaluation.export import images

    with _LOCK:
        browser: Browser | None = _STATE["browser"]
        if browser is not None and browser.owner_pid != os.getpid():
            browser = _STATE["browser"] = None  # forked: leave the parent's browser alone
        if browser is not None and (not browser.alive() or browser.worn()):
            browser.close()
            browser = _STATE["browser"] = None
        if browser is None:
            path = binary or images.chromium()
            if path is None:
                raise ExportUnavailable(INSTALL_HINT)
            browser = Browser(path)
            _STATE["browser"] = browser
            _STATE["starts"] += 1
            if not _STATE["atexit"]:
                atexit.register(shutdown)
                _STATE["atexit"] = True
        return browser


def shutdown() -> None:
    """Close the process's browser, if it runs (registered with :mod:`atexit`)."""
    with _LOCK:
        browser = _STATE["browser"]
        _STATE["browser"] = None
        if browser is not None:
            browser.close()


def starts() -> int:
    """How many browsers this process has started (for benchmarks and tests)."""
    return int(_STATE["starts"])


def run_job(
    job: Callable[[Browser, float], Any], *, what: str, timeout: float = JOB_TIMEOUT
) -> Any:
    """Run ``job(browser, deadline)`` on the process's browser; on a crash or hang kill it,
    start it again and run the job once more; then give up with one German line.

    Raises
    ------
    ExportUnavailable
        No Chromium, it failed twice, or the job's time ran out (``what`` names the job);
        :class:`ChartError` when a figure cannot be drawn.
    """
    deadline = time.monotonic() + timeout
    problem = ""
    with _LOCK:
        for _attempt in range(2):
            if time.monotonic() >= deadline:
                problem = problem or f"Zeitlimit von {timeout:.0f} s überschritten"
                break
            try:
                browser = current()
            except BrowserFailure as exc:
                problem = f"Start fehlgeschlagen ({exc})"
                continue
            try:
                return job(browser, deadline)
            except BrowserFailure as exc:
                problem = str(exc)
                browser.kill()
                if _STATE["browser"] is browser:
                    _STATE["browser"] = None
    raise ExportUnavailable(
        f"{what}: Chromium ist ausgefallen, auch nach einem Neustart ({problem})"
    )
