"""An independent recomputation of the 2024 annual report's headline figures from the snapshot.

The expected numbers are computed here with pandas alone, from the definitions in words
(the catalogue), without any function of the ``evaluation`` package; the annual report's
figures (read from the history the field notebooks wrote) and its HTML must agree.
"""

from __future__ import annotations

import io
import os
import re
import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import REPO, _copy_data

YEAR = 2024
START, END = pd.Timestamp(f"{YEAR}-01-01"), pd.Timestamp(f"{YEAR}-12-31")
LABOUR = ["anerkennung", "jobeinstieg"]


def snapshot_tables(root: Path) -> dict[str, pd.DataFrame]:
    snapshots = root / "data" / "snapshots"
    latest = (snapshots / "LATEST").read_text().strip()
    return {p.stem: pd.read_parquet(p) for p in (snapshots / latest).glob("*.parquet")}


def expected(t: dict[str, pd.DataFrame]) -> dict[str, tuple[float, int]]:
    """(value, n) per headline figure, from the words of the definitions."""
    e = t["enrolments"]
    lab = e[e["project"].isin(LABOUR)]
    running = lab[
        (lab["entry_date"] <= END) & (lab["exit_date"].isna() | (lab["exit_date"] >= START))
    ]
    participants = running["person_id"].nunique()
    entries = int(lab["entry_date"].between(START, END).sum())
    exits = int(lab["exit_date"].between(START, END).sum())
    # exits whose follow-up date (exit + 6 months) lies in the year; all are due by now
    window = lab[
        lab["exit_date"].between(START - pd.DateOffset(months=6), END - pd.DateOffset(months=6))
    ]
    f = t["followups"]
    status = window.merge(
        f[f["months_after_exit"] == 6][["enrolment_id", "status"]], on="enrolment_id", how="left"
    )
    known = status["status"].notna()
    svb = status["status"].eq("svb")
    # parents of the participating arm in cycles ending in the year, both FSW scores valid
    groups = t["parent_groups"]
    cycles = groups.loc[groups["end_date"].between(START, END), "cycle_id"]
    parents = e[(e["project"] == "elternarbeit") & e["cycle_id"].isin(cycles)]
    parents = parents[parents["arm"] == "teilnahme"]
    s = t["parent_surveys"]
    items = s[[f"fsw_{i}" for i in range(1, 10)]].astype("Float64")
    s = s.assign(score=items.mean(axis=1).astype(float).where(items.notna().sum(axis=1) >= 7))
    wide = s.pivot_table(index=["person_id", "cycle_id"], columns="wave", values="score")
    wide = wide.dropna(subset=["pre", "post"]).reset_index()
    fsw = parents.merge(wide, on=["person_id", "cycle_id"])
    change = fsw["post"] - fsw["pre"]
    return {
        "lm_participants": (participants, participants),
        "lm_entries": (entries, entries),
        "lm_exits": (exits, exits),
        "lm_eingliederungsquote_ba_6m": (svb.sum() / len(status), len(status)),
        "lm_eingliederungsquote_6m": (svb.sum() / known.sum(), int(known.sum())),
        "par_fsw_change": (change.mean(), len(change)),
    }


@pytest.mark.slow
def test_annual_headline_figures_agree_with_an_independent_recomputation(tmp_path):
    from evaluation import annual
    from evaluation.disclosure import SuppressionRule
    from evaluation.indicators.catalogue import load_catalogue
    from evaluation.paths import paths
    from evaluation.runner import run_plan

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
            "parent_work/jahr/2023",
            "parent_work/jahr/2024",
            "annual_report/jahr/2024",
        ],
        today=date(2026, 11, 24),
        out=out,
    )
    assert summary.exit_code == 0, out.getvalue()
    want = expected(snapshot_tables(root))
    figures = annual.Figures.read(until=YEAR, db=ws.history)
    table = annual.headline(figures, YEAR, rule=SuppressionRule(threshold=5))
    table = table.drop_duplicates("indicator_id").set_index("indicator_id")
    html = (ws.reports / "annual_report/jahr/2024/report.html").read_text(encoding="utf-8")
    for indicator_id, (value, n) in want.items():
        row = table.loc[indicator_id]
        assert not row["suppressed"] and not row["missing"], indicator_id
        assert row["value"] == pytest.approx(value), indicator_id
        assert int(row["n"]) == n, indicator_id
        assert annual.format_value(value, row["unit"]) in html, indicator_id
    # the parents' headline is the participants' change, not the pooled one
    assert table.loc["par_fsw_change", "group_value"] == "teilnahme"
    assert "Für 2024 fehlen 1 Kennzahlen" not in html
    visible = re.sub(r"<script.*?</script>|<[^>]+>", " ", html, flags=re.S)
    ids = set(re.findall(r"\b(?:lm|rec|par|vol|evt|sr)_[a-z0-9_]+\b", visible))
    assert not ids & set(load_catalogue().ids), "no internal id in the report"
