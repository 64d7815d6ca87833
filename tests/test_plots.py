"""House style of the charts."""

from __future__ import annotations

import pandas as pd
import plotly.io as pio

from evaluation import plots

PALETTE = set(plots.PALETTE)


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
    assert set(layout.colorway) == PALETTE
    plots.setup("en")
    assert pio.templates[plots.TEMPLATE_NAME].layout.separators == ".,"


def test_setup_default_is_plotly_white_with_the_house_style_merged_once():
    import plotly.graph_objects as go

    for language, separators in (("de", ",."), ("en", ".,")):
        plots.setup(language)
        merged = pio.templates.merge_templates(
            pio.templates["plotly_white"], plots.house_template(language)
        )
        theme = go.Figure(go.Bar(x=["a"], y=[1])).layout.template
        assert theme.to_plotly_json() == merged.to_plotly_json()
        assert theme.layout.separators == separators
        # the white plot area comes from plotly_white, the colours from the house style
        assert set(theme.layout.colorway) == PALETTE
        assert theme.data.bar, "plotly_white's bar defaults are part of the theme"


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
    marks = [n for n in fig.layout.annotations if n.text == "*"]
    assert [(m.x, m.y) for m in marks] == [("2024", 0)], "the gap is marked at its category"
    assert any("Geheimhaltung" in (n.text or "") for n in fig.layout.annotations)
    assert '"y":[0.4,0.5,null]' in fig.to_json().replace(" ", ""), "no number is drawn for it"
    assert list(b.text) == [None, None, None]
    assert a.marker.color != b.marker.color and {a.marker.color, b.marker.color} <= PALETTE
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


def test_every_palette_colour_has_3_to_1_contrast_on_white():
    assert all(plots.contrast_on_white(c) >= 3.0 for c in plots.PALETTE), [
        (c, round(plots.contrast_on_white(c), 2)) for c in plots.PALETTE
    ]
    # the three Okabe-Ito colours that fail on white are gone
    assert not {"#E69F00", "#56B4E9", "#F0E442"} & set(plots.PALETTE)
    assert round(plots.contrast_on_white("#E69F00"), 2) == 2.25  # WCAG formula itself


def test_series_differ_by_marker_or_pattern_not_only_colour():
    fig = plots.line(frame(), x="year", y="share", color="project", title="T")
    symbols = [t.marker.symbol for t in fig.data]
    assert len(set(symbols)) == 2
    bars = plots.bar(frame(), x="year", y="share", color="project", title="T")
    assert len({t.marker.pattern.shape for t in bars.data}) == 2


def test_count_axes_start_at_zero_unless_the_caller_says_otherwise():
    counts = pd.DataFrame({"year": ["2022", "2023"], "n": [150, 160]})
    assert plots.line(counts, x="year", y="n", title="T").layout.yaxis.rangemode == "tozero"
    assert plots.bar(counts, x="year", y="n", title="T").layout.yaxis.rangemode == "tozero"
    scale = plots.line(counts, x="year", y="n", title="T", zero=False)
    assert scale.layout.yaxis.rangemode is None
    index = plots.line(counts, x="year", y="n", title="Einwohner (2019 = 100)", y_title="Index")
    assert index.layout.yaxis.rangemode is None, "an index follows its data"


def test_finish_fixes_figures_built_outside_the_house_functions():
    import plotly.graph_objects as go

    fig = go.Figure(
        [
            go.Scatter(x=[1, 2], y=[1, 2], mode="lines+markers", line={"color": "#F0E442"}),
            go.Scatter(x=[1, 2], y=[2, 3], mode="lines+markers"),
            go.Bar(x=["a"], y=[1], marker={"color": "#56B4E9"}),
            go.Bar(x=["a"], y=[2]),
        ]
    )
    plots.finish(fig)
    lines, bars = fig.data[:2], fig.data[2:]
    assert lines[0].marker.symbol != lines[1].marker.symbol
    assert bars[0].marker.pattern.shape != bars[1].marker.pattern.shape
    for colour in (lines[0].line.color, bars[0].marker.color):
        assert plots.contrast_on_white(colour) >= 3.0


def test_describe_says_what_the_chart_shows_from_its_data():
    fig = plots.bar(
        frame(),
        x="year",
        y="share",
        color="project",
        suppressed="hidden",
        percent=True,
        title="Quote",
        x_title="Jahr",
        y_title="Anteil",
    )
    text = plots.describe(fig)
    assert text.startswith("Balkendiagramm „Quote“")
    assert "2 Reihen: A, B" in text
    assert "Höchster Wert 50,0 % (A, 2023)" in text and "niedrigster Wert 30,0 % (B, 2022)" in text
    assert "1 Wert(e) nicht ausgewiesen" in text
    english = plots.describe(fig, language="en")
    assert english.startswith("Bar chart") and "50.0%" in english


def test_figure_table_is_the_data_behind_the_chart_with_suppression_marked():
    fig = plots.line(
        frame(), x="year", y="share", color="project", percent=True, suppressed="hidden", title="T"
    )
    table = plots.figure_table(fig)
    assert list(table.columns) == ["Kategorie", "A", "B"]
    assert table.values.tolist() == [
        ["2022", "40,0 %", "30,0 %"],
        ["2023", "50,0 %", "35,0 %"],
        ["2024", "*", "45,0 %"],
    ]


def test_figure_data_stored_as_typed_arrays_is_read():
    import json

    import numpy as np
    import plotly.graph_objects as go
    import plotly.io as pio

    fig = go.Figure(go.Bar(x=np.array([2022, 2023]), y=np.array([3.5, 1250.0]), name="n"))
    spec = json.loads(pio.to_json(fig))
    assert "bdata" in json.dumps(spec), "plotly stores numpy data as base64"
    back = pio.from_json(json.dumps(spec))
    assert plots.figure_table(back).values.tolist() == [["2022", "3,5"], ["2023", "1.250"]]


def test_a_chart_with_one_bar_is_said_in_a_sentence_instead():
    one = pd.DataFrame({"g": ["A", "B", "C"], "n": [12, None, None], "h": [False, True, True]})
    fig = plots.bar(one, x="g", y="n", title="Austritte", suppressed="h")
    assert plots.single_bar(fig)
    assert not plots.single_bar(plots.bar(frame(), x="year", y="share", title="T"))
    assert not plots.single_bar(plots.line(one, x="g", y="n", title="T"))
