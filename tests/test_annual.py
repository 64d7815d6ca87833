"""The annual report reads the history: formatting, missing figures, re-suppression, end to end."""

from __future__ import annotations

import io
import os
import shutil
from datetime import date
from pathlib import Path

import pytest

from evaluation import annual, history
from evaluation.disclosure import SuppressionRule
from evaluation.paths import paths
from evaluation.runner import run_plan
from tests.conftest import REPO, _copy_data, yearly_figure


def fig(indicator, year, value, n, suppressed=False):
    return yearly_figure(indicator, year, value, n, suppressed)


def test_numbers_are_written_as_german_readers_expect():
    assert annual.format_value(0.3612, "share") == "36,1\u00a0%"
    assert annual.format_value(1234, "persons") == "1.234"
    assert annual.format_value(0.126, "percentage_points", signed=True) == "+12,6\u00a0Pp."
    assert annual.format_value(-0.0004, "share", signed=True) == "0,0\u00a0%"
    assert annual.format_value(3.04, "months") == "3,0\u00a0Monate"
    assert annual.format_value(0.3612, "share", "en") == "36.1%"
    assert annual.format_value(None, "share") == "–"


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "h.sqlite"
    history.commit_figures(
        [fig("lm_participants", 2023, 280, 280), fig("lm_eingliederungsquote_6m", 2023, 0.30, 150)],
        run_id="a",
        run_key="lm/2023",
        snapshot_id="s",
        db=path,
    )
    history.commit_figures(
        [
            fig("lm_participants", 2024, 291, 291),
            fig("lm_eingliederungsquote_6m", 2024, 0.36, 7),
            fig("rec_full_share", 2024, None, None, suppressed=True),
        ],
        run_id="b",
        run_key="lm/2024",
        snapshot_id="s",
        db=path,
    )
    return path


def test_headline_compares_with_last_year_and_names_missing_figures(db):
    figures = annual.Figures.read(until=2024, db=db)
    ids = {
        "Arbeitsmarktintegration": (
            "lm_participants",
            "lm_eingliederungsquote_6m",
            "rec_full_share",
            "lm_exits",
        )
    }
    table = annual.headline(figures, 2024, rule=SuppressionRule(threshold=5), ids=ids).set_index(
        "indicator_id"
    )
    assert table.loc["lm_participants", ["value", "previous", "change"]].tolist() == [291, 280, 11]
    assert table.loc["rec_full_share", "suppressed"] and not table.loc["rec_full_share", "missing"]
    assert table.loc["lm_exits", "missing"]
    assert annual.missing(table.reset_index()) == ["Austritte aus Arbeitsmarktprojekten"]
    assert table.loc["lm_participants", "level"] == 2


def test_a_stricter_report_threshold_hides_figures_the_field_report_showed(db):
    figures = annual.Figures.read(until=2024, db=db)
    ids = {"Arbeitsmarktintegration": ("lm_eingliederungsquote_6m",)}
    lenient = annual.headline(figures, 2024, rule=SuppressionRule(threshold=5), ids=ids).iloc[0]
    strict = annual.headline(figures, 2024, rule=SuppressionRule(threshold=10), ids=ids).iloc[0]
    assert lenient["value"] == pytest.approx(0.36) and not lenient["suppressed"]
    assert strict["value"] is None and strict["suppressed"]
    shown = annual.reader_table(
        annual.headline(figures, 2024, rule=SuppressionRule(threshold=10), ids=ids),
        2024,
        rule=SuppressionRule(threshold=10),
    ).to_html()
    assert "36,0" not in shown and "*" in shown


@pytest.mark.slow
def test_annual_report_shows_exactly_the_recorded_figures(tmp_path):
    root = tmp_path / "ws"
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    shutil.copytree(REPO / "params", root / "params")
    _copy_data(Path(os.environ["EVALUATION_HOME"]), root)
    ws = paths(root)
    out = io.StringIO()
    summary = run_plan(
        root=ws,
        only=[
            "labour_market/jahr/2023",
            "labour_market/jahr/2024",
            "sozialraum/jahr/2024",
            "annual_report/jahr/2024",
        ],
        today=date(2026, 11, 24),
        out=out,
    )
    assert summary.exit_code == 0, out.getvalue()
    html = (ws.reports / "annual_report/jahr/2024/report.html").read_text(encoding="utf-8")
    recorded = history.read(period_from="2024-01-01", period_to="2024-12-31", db=ws.history)
    recorded = recorded[recorded["period"] == "2024"].set_index(
        ["indicator_id", "group_var", "group_value"]
    )
    figures = annual.Figures.read(until=2024, db=ws.history)
    table = annual.headline(figures, 2024, rule=SuppressionRule(threshold=5)).drop_duplicates(
        "indicator_id"
    )
    shown = table[~table["missing"] & ~table["suppressed"]]
    assert len(shown) >= 8
    for row in shown.itertuples():
        field = recorded.loc[(row.indicator_id, row.group_var, row.group_value)]
        assert row.value == pytest.approx(field["value"]), row.indicator_id
        assert row.n == field["n"], row.indicator_id
        assert annual.format_value(row.value, row.unit) in html, row.indicator_id
    assert "fehlen" in html, "missing figures are named"
