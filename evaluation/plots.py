"""Charts in one house style: plotly figures for evaluators and readers.

* Okabe–Ito palette (safe for the common forms of colour blindness), with its three light
  colours replaced by darker ones so every colour has at least 3:1 contrast on white
  (WCAG 2.1, 1.4.11);
* series are told apart by marker symbol (lines) or fill pattern (bars) as well as colour;
* count axes start at zero;
* German number format (decimal comma, thousands point) and day.month.year dates;
* suppressed values are not drawn as numbers but left as gaps marked with the suppression
  marker, with a note under the chart;
* titles and axis labels come from the caller (the indicator catalogue or labels);
* :func:`describe` and :func:`figure_table` give every chart its text alternative and the
  table behind it, from the same figure data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

#: Okabe & Ito (2008) colour-blind-safe palette, black last; orange (#E69F00), sky blue
#: (#56B4E9) and yellow (#F0E442) darkened to reach 3:1 contrast against white.
PALETTE = ("#0072B2", "#B26B00", "#009E73", "#CC79A7", "#117A8B", "#D55E00", "#7D6E00", "#000000")
#: Marker symbols of successive line series (told apart without colour).
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "x", "triangle-down", "star", "cross")
#: Fill patterns of successive bar series.
PATTERNS = ("", "/", ".", "x", "\\", "-", "+", "|")
#: Minimum contrast of graphics against white (WCAG 2.1, success criterion 1.4.11).
MIN_CONTRAST = 3.0
SUPPRESSED_NOTE = {
    "de": "* = nicht ausgewiesen (Geheimhaltung: zu kleine Fallzahl)",
    "en": "* = not shown (disclosure control: count too small)",
}
TEMPLATE_NAME = "evaluation"
#: plotly_white with the house style on top, the default after :func:`setup`.
THEME_NAME = "evaluation_on_plotly_white"  # no "+": plotly would split and merge it again
SEPARATORS = {"de": ",.", "en": ".,"}


def house_template(language: Literal["de", "en"] = "de") -> go.layout.Template:
    """The plotly template of the house style."""
    template = go.layout.Template()
    template.layout = go.Layout(
        colorway=list(PALETTE),
        font={
            "family": "Source Sans Pro, Segoe UI, Arial, sans-serif",
            "size": 14,
            "color": "#1f2933",
        },
        separators=SEPARATORS[language],
        plot_bgcolor="white",
        paper_bgcolor="white",
        title={"x": 0, "xanchor": "left", "font": {"size": 17}},
        xaxis={"showgrid": False, "linecolor": "#9aa5b1", "ticks": "outside"},
        yaxis={"gridcolor": "#e4e7eb", "zerolinecolor": "#9aa5b1"},
        # legend below the plot: long German group names never collide with the title
        legend={"orientation": "h", "yanchor": "top", "y": -0.22, "xanchor": "left", "x": 0},
        margin={"l": 60, "r": 20, "t": 60, "b": 120},
        hoverlabel={"namelength": -1},
    )
    return template


def setup(language: Literal["de", "en"] = "de") -> None:
    """Make the house style the default and render figures as plotly JSON.

    JupyterLab draws the JSON itself; the report export turns it into offline HTML with
    plotly.js embedded once per report.
    """
    pio.templates[TEMPLATE_NAME] = house_template(language)
    # merged once: plotly merges a "plotly_white+evaluation" default again for every figure
    # (about 10 ms each, a quarter of a labour-market run's chart building)
    pio.templates[THEME_NAME] = pio.templates.merge_templates("plotly_white", TEMPLATE_NAME)
    pio.templates.default = THEME_NAME
    pio.renderers.default = "plotly_mimetype"


def contrast_on_white(colour: str) -> float:
    """WCAG contrast ratio of a ``#RRGGBB`` colour against white."""

    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(int(colour[i : i + 2], 16) / 255) for i in (1, 3, 5))
    return 1.05 / (0.2126 * r + 0.7152 * g + 0.0722 * b + 0.05)


def _percent_axis(fig: go.Figure, language: str) -> None:
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")


def _mark_suppressed(
    fig: go.Figure, xs: Sequence[Any], hidden: Sequence[bool], marker: str, language: str
) -> None:
    """Suppressed points stay visible as gaps: a marker at the axis and a note below."""
    any_hidden = False
    for xv, h in zip(xs, hidden, strict=True):
        if h:
            any_hidden = True
            fig.add_annotation(
                x=xv,
                y=0,
                yref="y",
                text=marker,
                showarrow=False,
                yanchor="bottom",
                font={"size": 16, "color": "#1f2933"},
            )
    if any_hidden and not any(a.name == "suppressed-note" for a in fig.layout.annotations or ()):
        fig.add_annotation(
            name="suppressed-note",
            text=SUPPRESSED_NOTE.get(language, SUPPRESSED_NOTE["de"]),
            xref="paper",
            yref="paper",
            x=1,
            y=1.0,
            xanchor="right",
            yanchor="bottom",
            showarrow=False,
            font={"size": 12, "color": "#3e4c59"},
        )


def bar(
    frame: pd.DataFrame,
    *,
    x: str,
    y: str,
    color: str | None = None,
    title: str,
    x_title: str = "",
    y_title: str = "",
    percent: bool = False,
    error: tuple[str, str] | None = None,
    suppressed: str | None = None,
    marker: str = "*",
    barmode: Literal["group", "stack"] = "group",
    language: Literal["de", "en"] = "de",
) -> go.Figure:
    """Bar chart of ``y`` over ``x`` (grouped by ``color``), with optional intervals.

    Parameters
    ----------
    frame
        Long table, one row per bar.
    error
        Columns with the lower and upper interval bounds (drawn as error bars).
    suppressed
        Boolean column: True bars are left out as marked gaps (``marker`` at the axis and
        a note above the plot); their category stays on the axis.
    """
    fig = go.Figure()
    groups = [(None, frame)] if color is None else list(frame.groupby(color, sort=False))
    for i, (name, part) in enumerate(groups):
        hidden = part[suppressed].astype(bool) if suppressed else pd.Series(False, index=part.index)
        values = part[y].where(~hidden)
        kwargs = {}
        if error:
            low, high = part[error[0]].where(~hidden), part[error[1]].where(~hidden)
            kwargs["error_y"] = {
                "type": "data",
                "array": (high - values).tolist(),
                "arrayminus": (values - low).tolist(),
                "thickness": 1.2,
            }
        xs = part[x].astype(str).tolist()
        fig.add_trace(
            go.Bar(
                x=xs,
                y=values.tolist(),
                name=str(name) if name is not None else y_title,
                marker={
                    "color": PALETTE[i % len(PALETTE)],
                    "pattern": {"shape": PATTERNS[i % len(PATTERNS)], "fgcolor": "white"},
                },
                text=[marker if h else None for h in hidden],
                textposition="none",
                showlegend=color is not None,
                **kwargs,
            )
        )
        _mark_suppressed(fig, xs, hidden.tolist(), marker, language)
    fig.update_layout(title=title, barmode=barmode, xaxis_title=x_title, yaxis_title=y_title)
    fig.update_yaxes(rangemode="tozero")
    if percent:
        _percent_axis(fig, language)
    return fig


def line(
    frame: pd.DataFrame,
    *,
    x: str,
    y: str,
    color: str | None = None,
    title: str,
    x_title: str = "",
    y_title: str = "",
    percent: bool = False,
    band: tuple[str, str] | None = None,
    suppressed: str | None = None,
    marker: str = "*",
    zero: bool | None = None,
    language: Literal["de", "en"] = "de",
) -> go.Figure:
    """Line chart over time with optional confidence band; suppressed points are marked gaps.

    ``zero=True`` starts the value axis at zero, as counts and shares need; ``False`` lets it
    follow the data, for scales whose zero is not meaningful (a 1–5 scale). The default
    (``None``) starts at zero unless title or axis title mark an index (``Index``, ``= 100``).
    """
    if zero is None:
        zero = not any(mark in f"{title} {y_title}" for mark in ("Index", "= 100"))
    fig = go.Figure()
    groups = [(None, frame)] if color is None else list(frame.groupby(color, sort=False))
    for i, (name, part) in enumerate(groups):
        colour = PALETTE[i % len(PALETTE)]
        hidden = part[suppressed].astype(bool) if suppressed else pd.Series(False, index=part.index)
        xs = part[x].astype(str).tolist()
        if band:
            low, high = part[band[0]].where(~hidden), part[band[1]].where(~hidden)
            _band(fig, xs, low.tolist(), high.tolist(), colour, shape="linear")
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=part[y].where(~hidden).tolist(),
                mode="lines+markers",
                name=str(name) if name is not None else y_title,
                line={"color": colour},
                marker={"symbol": SYMBOLS[i % len(SYMBOLS)], "size": 8, "color": colour},
                showlegend=color is not None,
            )
        )
        _mark_suppressed(fig, xs, hidden.tolist(), marker, language)
    fig.update_layout(title=title, xaxis_title=x_title, yaxis_title=y_title)
    fig.update_xaxes(type="category")
    if zero:
        fig.update_yaxes(rangemode="tozero")
    if percent:
        _percent_axis(fig, language)
    return fig


def _band(fig: go.Figure, x: list, low: list, high: list, colour: str, *, shape: str) -> None:
    """A shaded interval: the upper bound, then the lower bound filled up to it."""
    common = {
        "x": x,
        "mode": "lines",
        "line": {"width": 0, "shape": shape},
        "hoverinfo": "skip",
        "showlegend": False,
        "meta": "band",
    }
    fig.add_trace(go.Scatter(y=high, **common))
    fig.add_trace(go.Scatter(y=low, fill="tonexty", fillcolor=_rgba(colour, 0.15), **common))


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def step(
    curves: pd.DataFrame,
    *,
    x: str,
    y: str,
    color: str,
    title: str,
    x_title: str = "",
    y_title: str = "",
    percent: bool = True,
    band: Sequence[str] | None = None,
) -> go.Figure:
    """Step curves (e.g. Kaplan–Meier), one per group, with optional band.

    Curves differ by dash style as well as colour.
    """
    fig = go.Figure()
    dashes = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
    for i, (name, part) in enumerate(curves.groupby(color, sort=False)):
        colour = PALETTE[i % len(PALETTE)]
        if band:
            _band(
                fig,
                part[x].tolist(),
                part[band[0]].tolist(),
                part[band[1]].tolist(),
                colour,
                shape="hv",
            )
        fig.add_trace(
            go.Scatter(
                x=part[x],
                y=part[y],
                mode="lines",
                line={"shape": "hv", "color": colour, "dash": dashes[i % len(dashes)]},
                name=str(name),
            )
        )
    fig.update_layout(title=title, xaxis_title=x_title, yaxis_title=y_title)
    if percent:
        fig.update_yaxes(tickformat=".0%", range=[0, 1])
    return fig


# --------------------------------------------------------------------------------------------
# Accessibility: applied to every figure a report shows, however it was built.


def _is_band(trace: Any) -> bool:
    return getattr(trace, "meta", None) == "band" or (
        getattr(trace, "hoverinfo", None) == "skip" and getattr(trace, "showlegend", None) is False
    )


def finish(fig: go.Figure) -> go.Figure:
    """Make a figure fit for a report: no modebar, series distinguishable without colour.

    Scatter series with markers get distinct marker symbols and bar series distinct fill
    patterns where the figure does not set them already; colours below 3:1 contrast on
    white are replaced by the house palette. Returns the same figure.
    """
    bars = [t for t in fig.data if t.type == "bar"]
    lines = [
        t
        for t in fig.data
        if t.type == "scatter" and not _is_band(t) and "markers" in (t.mode or "")
    ]
    for i, t in enumerate(lines):
        if t.marker.symbol is None:
            t.marker.symbol = SYMBOLS[i % len(SYMBOLS)]
    if len(bars) > 1:
        for i, t in enumerate(bars):
            if t.marker.pattern.shape is None:
                t.marker.pattern.shape = PATTERNS[i % len(PATTERNS)]
                t.marker.pattern.fgcolor = "white"
    for i, t in enumerate([*bars, *lines]):
        for holder in (t.marker, getattr(t, "line", None)):
            colour = getattr(holder, "color", None) if holder is not None else None
            if isinstance(colour, str) and _low_contrast(colour):
                holder.color = PALETTE[i % len(PALETTE)]
    return fig


def _low_contrast(colour: str) -> bool:
    return colour.startswith("#") and len(colour) == 7 and contrast_on_white(colour) < MIN_CONTRAST


def _number(value: float, *, percent: bool, language: str) -> str:
    from babel.numbers import format_decimal, format_percent

    locale = "de_DE" if language == "de" else "en_GB"
    if percent:
        pattern = "#,##0.0 %" if language == "de" else "#,##0.0%"
        return format_percent(value, format=pattern, locale=locale)
    if float(value).is_integer():
        return format_decimal(value, format="#,##0", locale=locale)
    return format_decimal(value, format="#,##0.0#", locale=locale)


def _is_percent(fig: go.Figure) -> bool:
    fmt = fig.layout.yaxis.tickformat or ""
    return fmt.endswith("%")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Mapping):
        value = value.get("text", "")
    text = getattr(value, "text", value)
    return "" if text is None else str(text)


def _values(v: Any) -> list[Any]:
    """Trace data as a list, also when plotly stored it as a base64 typed array."""
    if isinstance(v, Mapping) and "bdata" in v and "dtype" in v:
        import base64

        import numpy as np

        array = np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
        if "shape" in v:
            array = array.reshape([int(d) for d in str(v["shape"]).split(",")])
        return array.tolist()
    return list(v)


def _series(fig: go.Figure) -> list[tuple[str, list[Any], list[Any]]]:
    out = []
    for n, t in enumerate(fig.data):
        if t.type not in ("bar", "scatter") or _is_band(t) or t.y is None:
            continue
        ys = _values(t.y)
        xs = _values(t.x) if t.x is not None else list(range(len(ys)))
        if t.type == "bar" and getattr(t, "orientation", None) == "h":
            xs, ys = ys, xs
        name = t.name if t.name else _text(fig.layout.yaxis.title) or f"Reihe {n + 1}"
        out.append((str(name), xs, ys))
    return out


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def single_bar(fig: go.Figure) -> bool:
    """True for a bar chart that would draw one single bar (a sentence says it better)."""
    series = _series(fig)
    if not series or any(t.type != "bar" for t in fig.data if not _is_band(t)):
        return False
    drawn = [y for _, _, ys in series for y in ys if not _missing(y)]
    return len(drawn) == 1


def figure_table(fig: go.Figure, *, language: Literal["de", "en"] = "de") -> pd.DataFrame:
    """The table behind a chart: one row per x value, one column per series, as text.

    Values are formatted as the reader sees them (German number format, percentages);
    points that are not drawn (suppressed) are shown as ``*``.
    """
    percent = _is_percent(fig)
    series = _series(fig)
    x_name = _text(fig.layout.xaxis.title) or ("Kategorie" if language == "de" else "Category")
    rows: dict[str, dict[str, str]] = {}
    for name, xs, ys in series:
        for xv, yv in zip(xs, ys, strict=False):
            cell = "*" if _missing(yv) else _number(float(yv), percent=percent, language=language)
            rows.setdefault(str(xv), {})[name] = cell
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame = frame.reindex(columns=[s[0] for s in series]).fillna("–")
    frame.index.name = x_name
    return frame.reset_index()


def describe(fig: go.Figure, *, language: Literal["de", "en"] = "de") -> str:
    """A sentence saying what a chart shows, generated from its data (its text alternative).

    Names the kind of chart, its title, the axes, the series, the highest and lowest value
    and how many values are not shown.
    """
    de = language == "de"
    series = _series(fig)
    kinds = {t.type for t in fig.data}
    kind = (
        ("Balkendiagramm" if de else "Bar chart")
        if "bar" in kinds
        else ("Liniendiagramm" if de else "Line chart")
    )
    title = _text(fig.layout.title)
    x_title, y_title = _text(fig.layout.xaxis.title), _text(fig.layout.yaxis.title)
    percent = _is_percent(fig)
    parts = [f"{kind} „{title}“" if de else f"{kind} “{title}”"] if title else [kind]
    if x_title or y_title:
        parts.append(
            (f"waagerecht {x_title or 'Kategorien'}, senkrecht {y_title or 'Werte'}")
            if de
            else f"horizontal {x_title or 'categories'}, vertical {y_title or 'values'}"
        )
    names = [s[0] for s in series]
    if len(names) > 1:
        parts.append(
            (f"{len(names)} Reihen: " if de else f"{len(names)} series: ") + ", ".join(names)
        )
    points = [
        (float(yv), name, xv)
        for name, xs, ys in series
        for xv, yv in zip(xs, ys, strict=False)
        if not _missing(yv)
    ]
    hidden = sum(1 for _, xs, ys in series for yv in ys if _missing(yv))
    sentence = "; ".join(parts) + "."
    if points:
        hi, lo = max(points), min(points)

        def where(p: tuple[float, str, Any]) -> str:
            label = f"{p[1]}, {p[2]}" if len(names) > 1 else f"{p[2]}"
            return f"{_number(p[0], percent=percent, language=language)} ({label})"

        if hi == lo:
            sentence += (" Wert: " if de else " Value: ") + where(hi) + "."
        else:
            sentence += (
                f" Höchster Wert {where(hi)}, niedrigster Wert {where(lo)}."
                if de
                else f" Highest value {where(hi)}, lowest value {where(lo)}."
            )
    else:
        sentence += " Keine Werte." if de else " No values."
    if hidden:
        sentence += (
            f" {hidden} Wert(e) nicht ausgewiesen (*, Geheimhaltung)."
            if de
            else f" {hidden} value(s) not shown (*, disclosure control)."
        )
    return sentence
