"""Chart images for PDF and DOCX, drawn by plotly's static export (kaleido) in Chromium.

kaleido 1.x drives an installed Chrome/Chromium over the DevTools protocol (choreographer);
on Debian that is the ``chromium`` package. The images are made from the same finished
figures the HTML report draws (:func:`evaluation.report.figure_from_spec`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import warnings
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
        When kaleido or Chromium is missing or cannot draw.
    """
    return chart_image_sets(specs, {fmt: {"width": width, "height": height, "scale": scale}})[fmt]


def chart_image_sets(
    specs: Iterable[Mapping[str, Any]], kinds: Mapping[str, Mapping[str, float]]
) -> dict[str, list[bytes]]:
    """Several image sets of the same figures in one browser session.

    ``kinds`` maps a format (``png``, ``svg``) to its ``width``, ``height`` and ``scale``.
    A figure that fails to draw is tried once more (a loaded machine can time out).
    """
    specs = list(specs)
    result: dict[str, list[bytes]] = {k: [] for k in kinds}
    if not specs:
        return result
    binary = chromium()
    if binary is None:
        raise ExportUnavailable(INSTALL_HINT)
    try:
        import kaleido
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ExportUnavailable("kaleido fehlt: `pip install kaleido`") from exc
    import plotly.io as pio

    from evaluation.report import figure_from_spec

    os.environ.setdefault("BROWSER_PATH", binary)
    _start_server(kaleido)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The kopts argument")
            for spec in specs:
                fig = figure_from_spec(spec)
                for fmt, size in kinds.items():
                    options = {
                        "format": fmt,
                        "width": int(size.get("width", 900)),
                        "height": int(fig.layout.height or size.get("height", 480)),
                        "scale": float(size.get("scale", 1)) if fmt == "png" else 1,
                    }
                    try:
                        image = pio.to_image(fig, **options)
                    except Exception:  # one retry on a new browser; kaleido fails under load
                        _stop_server(kaleido)
                        _start_server(kaleido)
                        image = pio.to_image(fig, **options)
                    result[fmt].append(image)
    except Exception as exc:
        _stop_server(kaleido)
        raise ExportUnavailable(f"Diagramme konnten nicht gezeichnet werden: {exc}") from exc
    return result


_SERVER: dict[str, bool] = {"running": False}


def _start_server(kaleido: Any) -> None:
    """kaleido's browser, started once per process and kept for the next report (a runner
    worker renders many): its start is most of the first image's 2–3 s. Stopped at exit."""
    if _SERVER["running"]:
        return
    # mathjax=False: kaleido's page would otherwise load MathJax from a CDN on every
    # figure (it reloads the page per figure); offline that costs seconds per report and
    # the reports use no LaTeX
    kaleido.start_sync_server(mathjax=False, silence_warnings=True)
    _SERVER["running"] = True
    if not _SERVER.get("atexit"):
        import atexit

        atexit.register(_stop_server, kaleido)
        _SERVER["atexit"] = True


def _stop_server(kaleido: Any) -> None:
    if _SERVER["running"]:
        _SERVER["running"] = False
        with contextlib.suppress(Exception):  # a browser that died is gone either way
            kaleido.stop_sync_server(silence_warnings=True)
