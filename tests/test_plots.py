"""House style of the charts."""

from __future__ import annotations

import pandas as pd
import plotly.io as pio

from evaluation import plots

OKABE_ITO = {"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"}


def frame():
    return pd.DataFrame(
        {
            "year": ["2022", "2023", "2024", "2022", "2023", "2024"],
            "project": ["A", "A", "A", "B", "B", "B"],
            "share": [0.4, 0.5, None, 0.3, 0.35, 0.45],
            "low": [0.3, 0.4, None, 0.2, 0.25, 0.35],
            "high": [0.5, 0.6, None, 0.4, 0.45, 0.55],
            "hidden": [False, False, True, False, False, False],
        }
    )


def test_setup_makes_the_house_style_default_and_german():
    plots.setup("de")
    assert pio.renderers.default == "plotly_mimetype"
    layout = pio.templates[plots.TEMPLATE_NAME].layout
    assert layout.separators == ",."
    assert set(layout.colorway) == OKABE_ITO
    plots.setup("en")
    assert pio.templates[plots.TEMPLATE_NAME].layout.separators == ".,"


def test_bar_marks_suppressed_values_and_draws_no_number_for_them():
    fig = plots.bar(
        frame(),
        x="year",
        y="share",
        color="project",
        error=("low", "high"),
        suppressed="hidden",
        percent=True,
        title="Quote",
        marker="*",
    )
    a, b = fig.data
    assert pd.isna(list(a.y)[2]) and a.text[2] == "*"
    assert '"y":[0.4,0.5,null]' in fig.to_json().replace(" ", ""), "no number is drawn for it"
    assert list(b.text) == [None, None, None]
    assert a.marker.color != b.marker.color and {a.marker.color, b.marker.color} <= OKABE_ITO
    assert fig.layout.yaxis.tickformat == ".0%"
    assert abs(a.error_y.array[0] - 0.1) < 1e-12 and abs(a.error_y.arrayminus[0] - 0.1) < 1e-12


def test_line_leaves_gaps_for_suppressed_points_and_draws_bands():
    fig = plots.line(
        frame(),
        x="year",
        y="share",
        color="project",
        band=("low", "high"),
        suppressed="hidden",
        title="Trend",
    )
    lines = [t for t in fig.data if t.mode == "lines+markers"]
    bands = [t for t in fig.data if t.fill == "tonexty"]
    assert len(lines) == 2 and len(bands) == 2
    assert all(t.mode == "lines" for t in fig.data if t.mode != "lines+markers"), (
        "bands draw no markers"
    )
    assert pd.isna(list(lines[0].y)[2])
    assert fig.layout.xaxis.type == "category"
