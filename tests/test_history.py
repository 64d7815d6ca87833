"""The results history: recording, replacing, reading, concurrent writers."""

from __future__ import annotations

import multiprocessing as mp

import pandas as pd
import pytest

from evaluation import history


def fig(indicator="lm_exits", period="2024", value=10.0, n=10, group=("", ""), suppressed=False):
    return {
        "indicator_id": indicator,
        "period": period,
        "period_start": f"{period}-01-01",
        "period_end": f"{period}-12-31",
        "group_var": group[0],
        "group_value": group[1],
        "value": value,
        "n": n,
        "ci_low": None,
        "ci_high": None,
        "suppressed": suppressed,
    }


def test_rerunning_a_period_replaces_its_figures(tmp_path):
    db = tmp_path / "h.sqlite"
    history.commit_figures(
        [fig(value=1), fig(indicator="old")],
        run_id="r1",
        run_key="lm/jahr/2024",
        snapshot_id="s",
        db=db,
    )
    history.commit_figures(
        [fig(value=2)], run_id="r2", run_key="lm/jahr/2024", snapshot_id="s", db=db
    )
    out = history.read(db=db)
    assert out[["indicator_id", "value", "run_id"]].values.tolist() == [["lm_exits", 2.0, "r2"]]


def test_history_over_periods_is_one_call(tmp_path):
    db = tmp_path / "h.sqlite"
    for year, value in ((2022, 5.0), (2023, 6.0), (2024, 7.0)):
        history.commit_figures(
            [
                fig(period=str(year), value=value),
                fig(period=str(year), value=1.0, group=("project", "anerkennung")),
            ],
            run_id=f"r{year}",
            run_key=f"lm/jahr/{year}",
            snapshot_id="s",
            db=db,
        )
    series = history.read("lm_exits", group_var="", db=db)
    assert series["period"].tolist() == ["2022", "2023", "2024"]
    assert series["value"].tolist() == [5.0, 6.0, 7.0]
    assert len(history.read("lm_exits", period_from="2023-01-01", db=db)) == 4


def test_suppressed_figures_keep_no_number(tmp_path):
    db = tmp_path / "h.sqlite"
    history.commit_figures(
        [fig(value=3, n=3, suppressed=True)], run_id="r", run_key="k", snapshot_id="s", db=db
    )
    row = history.read(db=db).iloc[0]
    assert row["suppressed"] and pd.isna(row["value"]) and pd.isna(row["n"])


def test_bad_figures_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="missing \\['value'\\]"):
        history.commit_figures(
            [{"indicator_id": "x", "period": "2024"}],
            run_id="r",
            run_key="k",
            snapshot_id=None,
            db=tmp_path / "h",
        )
    with pytest.raises(ValueError, match="unknown \\['colour'\\]"):
        history.commit_figures(
            [{**fig(), "colour": 1}], run_id="r", run_key="k", snapshot_id=None, db=tmp_path / "h"
        )


def _writer(args):
    db, worker = args
    for i in range(20):
        history.commit_figures(
            [fig(indicator=f"w{worker}", period=str(2000 + i))],
            run_id=f"r{worker}-{i}",
            run_key=f"w{worker}/{i}",
            snapshot_id="s",
            db=db,
        )
    return worker


def test_parallel_writers_lose_nothing(tmp_path):
    db = tmp_path / "h.sqlite"
    history.connect(db).close()
    with mp.get_context("spawn").Pool(3) as pool:
        assert sorted(pool.map(_writer, [(db, w) for w in range(3)])) == [0, 1, 2]
    assert len(history.read(db=db)) == 60
