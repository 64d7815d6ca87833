"""Chart images for PDF and DOCX, drawn by plotly.js in the process's headless Chromium.

The images are made from the same finished figures the HTML report draws
(:func:`evaluation.report.figure_from_spec`), by the same plotly.js the reports embed
(:func:`evaluation.report.plotly_js_source`), with plotly.js's own ``Plotly.toImage`` – in
one page of one browser per process (:mod:`evaluation.export.browser`), loaded once and
kept for the next report. On Debian the browser is the ``chromium`` package.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterable, Mapping
from typing import Any

#: What a machine without the browser engine needs, said in one line.
INSTALL_HINT = (
    "PDF und Diagramme im DOCX brauchen Chromium: `apt-get install chromium` "
    "(HTML, XLSX und DOCX ohne Diagrammbilder entstehen auch ohne)"
)


class ExportUnavailable(RuntimeError):
    """A format cannot be produced on this machine (its engine is missing)."""


def chromium() -> str | None:
    """Path of the Chromium/Chrome binary, or ``None``."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    env = os.environ.get("BROWSER_PATH")
    return env if env and os.path.exists(env) else None


def chart_images(
    specs: Iterable[Mapping[str, Any]],
    *,
    fmt: str = "png",
    width: int = 900,
    height: int = 480,
    scale: float = 2.0,
) -> list[bytes]:
    """Static images of report figures (``png`` or ``svg``), in the order given.

    Raises
    ------
    ExportUnavailable
        When Chromium is missing or cannot draw (:class:`~evaluation.export.browser.ChartError`
        when one figure cannot be drawn).
    """
    return chart_image_sets(specs, {fmt: {"width": width, "height": height, "scale": scale}})[fmt]


def chart_image_sets(
    specs: Iterable[Mapping[str, Any]],
    kinds: Mapping[str, Mapping[str, float]],
    *,
    timeout: float | None = None,
    call_timeout: float | None = None,
    timings: dict[str, float] | None = None,
) -> dict[str, list[bytes]]:
    """Several image sets of the same figures, drawn in the process's browser.

    ``kinds`` maps a format (``png``, ``svg``) to its ``width``, ``height`` and ``scale``
    (SVG is always drawn at scale 1); a figure's own ``layout.height`` wins over the
    height given. ``timeout`` bounds the whole set (default
    :data:`~evaluation.export.browser.JOB_TIMEOUT`), ``call_timeout`` one image (default
    :data:`~evaluation.export.browser.CALL_TIMEOUT`). A browser that crashes or hangs is
    started again once. ``timings`` (if given) receives the seconds spent preparing the
    figures in Python (``prepare``) and drawing them in the browser (``draw``).

    Raises
    ------
    ExportUnavailable
        Chromium is missing, failed twice, or the time ran out; its subclass
        :class:`~evaluation.export.browser.ChartError` when plotly.js cannot draw a figure.
    """
    specs = list(specs)
    result: dict[str, list[bytes]] = {k: [] for k in kinds}
    if not specs:
        return result
    if chromium() is None:
        raise ExportUnavailable(INSTALL_HINT)
    from evaluation.export import browser
    from evaluation.report import figure_json

    started = time.perf_counter()
    figures = []
    titles = []
    for spec in specs:
        # built for the HTML report of the same run already (kept there), else built now
        text, height, title = figure_json(spec)
        options = [
            (
                fmt,
                {
                    "format": fmt,
                    "width": int(size.get("width", 900)),
                    "height": int(height or size.get("height", 480)),
                    "scale": float(size.get("scale", 1)) if fmt == "png" else 1,
                },
            )
            for fmt, size in kinds.items()
        ]
        figures.append((text, options))
        titles.append(title)

    def job(chrome: browser.Browser, deadline: float) -> dict[str, list[bytes]]:
        return chrome.images(
            figures,
            deadline=deadline,
            call_timeout=call_timeout or browser.CALL_TIMEOUT,
            titles=titles,
        )

    prepared = time.perf_counter()
    drawn = browser.run_job(
        job, what="Diagramme nicht gezeichnet", timeout=timeout or browser.JOB_TIMEOUT
    )
    result.update(drawn)
    if timings is not None:
        timings["prepare"] = prepared - started
        timings["draw"] = time.perf_counter() - prepared
    return result
