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


def _manifest(run_id, run_key="lm/jahr/2024"):
    return {"run_id": run_id, "run_key": run_key, "status": "ok", "period": {"label": "2024"}}


def test_staged_figures_are_invisible_until_activated_with_their_run(tmp_path):
    db = tmp_path / "h.sqlite"
    history.commit_figures(
        [fig(value=1)], run_id="r1", run_key="lm/jahr/2024", snapshot_id="s", db=db
    )
    history.stage_figures(
        [fig(value=2), fig(indicator="small", n=3, value=3, suppressed=True)],
        run_id="r2",
        run_key="lm/jahr/2024",
        snapshot_id="s",
        db=db,
    )
    assert history.read(db=db)["value"].tolist() == [1.0], "staged figures are not read"
    assert history.staged_runs(db=db) == {"r2": "lm/jahr/2024"}
    assert "r2" not in history.published_run_ids(db=db)
    assert history.activate(_manifest("r2"), db=db) is True
    out = history.read(db=db).set_index("indicator_id")
    assert out.loc["lm_exits", "value"] == 2.0 and set(out["run_id"]) == {"r2"}
    assert pd.isna(out.loc["small", "value"]) and pd.isna(out.loc["small", "n"])
    assert "r2" in history.published_run_ids(db=db) and not history.staged_runs(db=db)
    # repeating the activation (a crash after it, before the journal was removed) is harmless
    assert history.activate(_manifest("r2"), db=db) is False
    assert len(history.read(db=db)) == 2


def test_discarded_figures_never_appear(tmp_path):
    db = tmp_path / "h.sqlite"
    history.stage_figures([fig()], run_id="r9", run_key="k", snapshot_id=None, db=db)
    history.discard_staged("r9", db=db)
    assert not history.staged_runs(db=db) and history.read(db=db).empty


def test_figures_digest_follows_values_and_suppression(tmp_path):
    db = tmp_path / "h.sqlite"
    history.commit_figures([fig(value=10)], run_id="a", run_key="k1", snapshot_id=None, db=db)
    base = history.figures_digest(["k1"], db=db)
    assert history.figures_digest(["k1"], db=db) == base
    history.commit_figures([fig(value=10)], run_id="b", run_key="k1", snapshot_id=None, db=db)
    assert history.figures_digest(["k1"], db=db) == base, "a re-run with equal figures is no change"
    history.commit_figures(
        [fig(value=10, suppressed=True)], run_id="c", run_key="k1", snapshot_id=None, db=db
    )
    assert history.figures_digest(["k1"], db=db) != base
    assert history.figures_digest(["other"], db=db) != base


def test_a_damaged_history_is_one_line_naming_the_file(tmp_path):
    from evaluation.paths import paths

    db = paths(tmp_path).history
    db.parent.mkdir()
    db.write_bytes(b"garbage" * 1000)
    problem = history.check(db)
    assert problem and str(db) in problem and "\n" not in problem
    with pytest.raises(history.HistoryError, match="damaged or not an SQLite database"):
        history.recent_runs(root=paths(tmp_path))
    with pytest.raises(history.HistoryError, match=str(db)):
        history.read(db=db)
    assert history.check(tmp_path / "missing.sqlite") is None
