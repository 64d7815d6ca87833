"""Charts in one house style: plotly figures for evaluators and readers.

* Okabe–Ito palette (safe for the common forms of colour blindness);
* German number format (decimal comma, thousands point) and day.month.year dates;
* suppressed values are not drawn as numbers but marked with the suppression marker;
* titles and axis labels come from the caller (the indicator catalogue or labels).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

#: Okabe & Ito (2008) colour-blind-safe palette, black last.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
TEMPLATE_NAME = "evaluation"
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
    pio.templates.default = "plotly_white+" + TEMPLATE_NAME
    pio.renderers.default = "plotly_mimetype"


def _percent_axis(fig: go.Figure, language: str) -> None:
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")


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
        Boolean column: True bars are drawn empty and labelled with ``marker``.
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
        fig.add_trace(
            go.Bar(
                x=part[x].astype(str).tolist(),
                y=values.tolist(),
                name=str(name) if name is not None else y_title,
                marker_color=PALETTE[i % len(PALETTE)],
                text=[marker if h else None for h in hidden],
                textposition="outside",
                showlegend=color is not None,
                **kwargs,
            )
        )
    fig.update_layout(title=title, barmode=barmode, xaxis_title=x_title, yaxis_title=y_title)
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
    language: Literal["de", "en"] = "de",
) -> go.Figure:
    """Line chart over time with optional confidence band; suppressed points are gaps."""
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
                showlegend=color is not None,
            )
        )
    fig.update_layout(title=title, xaxis_title=x_title, yaxis_title=y_title)
    fig.update_xaxes(type="category")
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
    """Step curves (e.g. Kaplan–Meier), one per group, with optional band."""
    fig = go.Figure()
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
                line={"shape": "hv", "color": colour},
                name=str(name),
            )
        )
    fig.update_layout(title=title, xaxis_title=x_title, yaxis_title=y_title)
    if percent:
        fig.update_yaxes(tickformat=".0%", range=[0, 1])
    return fig
