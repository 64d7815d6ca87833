"""The waiting-list trial of the parents report: population, CONSORT flow, estimates, records.

Known answers: the CONSORT counts recomputed from the demo snapshot's Parquet files with
plain pandas; the complete-case ANCOVA against statsmodels' own formula interface; without
attrition the intention-to-treat estimate equals the complete-case one and the Lee bounds
collapse to the difference in mean follow-up; with many cycles the clustered t interval is
used instead of the bootstrap.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from evaluation.indicators import parents
from evaluation.views import parents as views
from tests.conftest import make_context

FSW = [f"fsw_{i}" for i in range(1, 10)]


def snapshot(root: Path) -> dict[str, pd.DataFrame]:
    snapshots = root / "data" / "snapshots"
    latest = (snapshots / "LATEST").read_text().strip()
    return {p.stem: pd.read_parquet(p) for p in (snapshots / latest).glob("*.parquet")}


def independent_consort(t: dict[str, pd.DataFrame], year: int) -> pd.DataFrame:
    """Assigned / surveyed before / after / both FSW scores valid, per arm, in plain pandas."""
    groups = t["parent_groups"]
    end = pd.to_datetime(groups["end_date"])
    cycles = groups[(end.dt.year == year) & groups["waitlist_design"].astype(bool)]
    e = t["enrolments"]
    e = e[(e["project"] == "elternarbeit") & e["cycle_id"].isin(cycles["cycle_id"])]
    drawn = e.loc[e["arm"] == "wartegruppe", "cycle_id"].unique()
    e = e[e["cycle_id"].isin(drawn)]
    s = t["parent_surveys"]
    valid = s[FSW].notna().sum(axis=1) >= 7
    rows = {}
    for arm, people in e.groupby("arm"):
        keys = set(zip(people["person_id"], people["cycle_id"], strict=True))

        def answered(wave, only_valid=False, keys=keys):
            mask = (s["wave"] == wave) & (valid if only_valid else True)
            return keys & set(zip(s.loc[mask, "person_id"], s.loc[mask, "cycle_id"], strict=True))

        rows[arm] = {
            "assigned": len(keys),
            "before": len(answered("pre")),
            "after": len(answered("post")),
            "analysed": len(answered("pre", True) & answered("post", True)),
        }
    out = pd.DataFrame(rows).T
    out.loc["total"] = out.sum()
    return out


@pytest.mark.parametrize("year", [2023, 2024, 2025])
def test_consort_flow_agrees_with_an_independent_count_of_the_snapshot(session_home, year):
    t = snapshot(session_home)
    ctx = make_context(year=year)
    cycles = parents.cycles_ending(t["parent_groups"], ctx.period)
    enrolled = parents.enrolled(t, ctx.period)
    assigned = parents.assigned(t, ctx.period, views.randomised_cycles(cycles, enrolled))
    table = views.consort_table(assigned, ctx).frame.set_index("Gruppe")
    expected = independent_consort(t, year)
    assert list(table.index) == ["Teilnahme", "Wartegruppe", "Gesamt"]
    got = table.to_numpy()
    want = expected.loc[["teilnahme", "wartegruppe", "total"]].to_numpy()
    np.testing.assert_array_equal(got, want)
    # people lost between the waves exist in both arms (the demo plants attrition)
    assert (table["Nachher befragt"] < table["Zugelost"]).all()


def test_consort_table_passes_the_units_check_and_hides_small_arms(session_home):
    from evaluation.disclosure import suppress_frame

    t = snapshot(session_home)
    ctx = make_context(year=2024, threshold=20)
    cycles = parents.cycles_ending(t["parent_groups"], ctx.period)
    assigned = parents.assigned(
        t, ctx.period, views.randomised_cycles(cycles, parents.enrolled(t, ctx.period))
    )
    table = views.consort_table(assigned, ctx)
    assert table.units["unit"].str.startswith("person:").all()
    assert len(table.units) == len(assigned) == table.frame.iloc[-1, 1]
    options = dict(table.options)
    shown = suppress_frame(
        table.frame, rule=ctx.rule, total_label="Gesamt", caption="t", language="de", **options
    )
    values = shown.values.set_index("Gruppe")
    # 18 parents of the waiting list answered after: below 20, hidden with a complement
    assert pd.isna(values.loc["Wartegruppe", "Nachher befragt"])
    assert values["Nachher befragt"].isna().sum() >= 2


# ---- hand-made trials ------------------------------------------------------------------------


def tables_for(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Snapshot tables for a trial frame (person, cycle, arm, pre, post; NaN = not surveyed)."""
    cycles = sorted(frame["cycle"].unique())
    groups = pd.DataFrame(
        {
            "cycle_id": cycles,
            "group_name": "Elterncafé",
            "stadtteil": "401",
            "start_date": pd.Timestamp("2024-02-01"),
            "end_date": pd.Timestamp("2024-05-01"),
            "sessions_planned": 10,
            "waitlist_design": True,
        }
    )
    enrolments = pd.DataFrame(
        {
            "enrolment_id": [f"E{i}" for i in range(len(frame))],
            "person_id": frame["person"],
            "project": "elternarbeit",
            "cycle_id": frame["cycle"],
            "arm": frame["arm"],
            "sessions_attended": pd.array([8] * len(frame), dtype="Int64"),
        }
    )
    rows = []
    for r in frame.itertuples(index=False):
        for wave, score in (("pre", r.pre), ("post", r.post)):
            if pd.notna(score):
                rows.append(
                    {"person_id": r.person, "cycle_id": r.cycle, "wave": wave}
                    | dict.fromkeys(FSW, score)
                    | {"school_contact": True, "parent_evening": True}
                    | {"kita_enrolled": pd.NA, "german_course": False}
                )
    surveys = pd.DataFrame(rows)
    for item in FSW:
        surveys[item] = surveys[item].astype("Float64")
    people = pd.DataFrame({"person_id": frame["person"], "target_group": "ukraine"})
    return {
        "enrolments": enrolments,
        "parent_groups": groups,
        "participants": people,
        "parent_surveys": surveys,
    }


def make_trial(clusters: int, per_cluster: int, *, effect=0.5, missing=0.0, seed=1):
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(clusters):
        arms = rng.permutation(np.arange(per_cluster) % 3 != 0)  # two thirds take part
        for i, takes_part in enumerate(arms):
            pre = float(rng.integers(2, 5))
            post = min(6.0, pre + 0.3 + effect * takes_part + rng.choice([-0.5, 0, 0.5]))
            if rng.random() < missing:
                post = np.nan
            rows.append(
                {
                    "person": f"P{c}-{i}",
                    "cycle": f"C{c:02d}",
                    "arm": "teilnahme" if takes_part else "wartegruppe",
                    "pre": pre,
                    "post": post,
                }
            )
    return pd.DataFrame(rows)


def analyse(frame, *, threshold=5, imputations=5):
    t = tables_for(frame)
    ctx = make_context(year=2024, threshold=threshold)
    cycles = parents.cycles_ending(t["parent_groups"], ctx.period)
    randomised = views.randomised_cycles(cycles, parents.enrolled(t, ctx.period))
    assigned = parents.assigned(t, ctx.period, randomised)
    return assigned, views.trial_analysis(assigned, ctx, imputations=imputations), ctx


def test_assigned_keeps_everyone_randomised_whatever_they_answered():
    frame = make_trial(3, 12, missing=0.3)
    frame.loc[0, "pre"] = np.nan  # not surveyed before either
    assigned, _, _ = analyse(frame, imputations=2)
    assert len(assigned) == len(frame)
    assert assigned["surveyed_post"].sum() == frame["post"].notna().sum()
    assert not assigned.loc[assigned["person_id"] == "P0-0", "surveyed_pre"].item()
    assert assigned["treated"].sum() == (frame["arm"] == "teilnahme").sum()
    assert assigned["registration"].str.startswith("person:").all()


def test_without_attrition_itt_equals_complete_cases_and_lee_bounds_collapse():
    frame = make_trial(3, 12)
    assigned, trial, _ = analyse(frame)
    rows = trial.estimates.set_index("group_value")
    assert trial.missing == 0 and trial.clusters == 3 and trial.bootstrap
    assert rows.loc["", "estimate"] == pytest.approx(rows.loc["complete_case", "estimate"])
    # ANCOVA with cycle fixed effects, by statsmodels' formula interface
    fit = smf.ols("post ~ C(arm) + pre + C(cycle)", frame).fit()
    assert rows.loc["complete_case", "estimate"] == pytest.approx(
        -fit.params["C(arm)[T.wartegruppe]"]
    )
    difference = (
        frame.loc[frame["arm"] == "teilnahme", "post"].mean()
        - frame.loc[frame["arm"] == "wartegruppe", "post"].mean()
    )
    for bound in ("lee_lower", "lee_upper", "manski_lower", "manski_upper"):
        assert rows.loc[bound, "estimate"] == pytest.approx(difference)
    assert rows["shown"].all() and (rows["n"] == [36, 36, 36, 36, 36, 36]).all()


def test_itt_recovers_a_planted_effect_with_missing_follow_ups():
    frame = make_trial(30, 9, effect=0.5, missing=0.2, seed=4)
    _, trial, _ = analyse(frame, imputations=5)
    primary = trial.estimates.iloc[0]
    assert not trial.bootstrap and trial.clusters == 30  # enough cycles: cluster-robust t
    assert primary["ci_low"] < 0.5 < primary["ci_high"]
    assert primary["estimate"] == pytest.approx(0.5, abs=0.15)
    assert trial.missing == frame["post"].isna().sum()


def test_few_cycles_take_the_bootstrap_interval():
    from evaluation import estimators
    from evaluation.estimators._trial import wild_cluster_interval

    frame = make_trial(4, 12, missing=0.1, seed=2)
    assigned, trial, _ = analyse(frame)
    cc = estimators.ancova(
        assigned,
        outcome="fsw_post",
        baseline="fsw_pre",
        treatment="treated",
        strata="cycle_id",
        cluster="cycle_id",
    )
    boot = wild_cluster_interval(cc, seed=views.SEED).tidy().iloc[0]
    row = trial.estimates.set_index("group_value").loc["complete_case"]
    assert row["ci_low"] == pytest.approx(boot["ci_low"])
    assert row["ci_high"] == pytest.approx(boot["ci_high"])
    assert row["ci_low"] != pytest.approx(cc.tidy().iloc[0]["ci_low"])
    text = views.trial_method(trial, make_context())
    assert "Wild-Cluster-Bootstrap" in text and "nur 4 ausgelosten Zyklen" in text


def test_withheld_when_an_arm_is_small_and_none_without_a_waiting_list():
    frame = make_trial(2, 6)  # 4 per cycle take part, 2 wait: 4 waiting in all
    _, trial, ctx = analyse(frame, threshold=5)
    assert not trial.shown and trial.estimates["estimate"].isna().all()
    assert trial.estimates.iloc[0]["note"].startswith("Die Wirkungsschätzung wird nicht")
    records = views.trial_records(trial, ctx)
    assert all(r["suppressed"] and r["value"] is None for r in records)
    assert {r["group"] for r in records} >= {("", ""), ("arm", "teilnahme")}
    # all follow-ups of the waiting list missing: withheld, not an error
    frame = make_trial(3, 12)
    frame.loc[frame["arm"] == "wartegruppe", "post"] = np.nan
    _, trial, _ = analyse(frame, threshold=3)
    assert not trial.shown
    only = make_trial(3, 12).assign(arm="teilnahme")
    assert analyse(only)[1] is None


def test_records_name_the_method_and_the_arms():
    frame = make_trial(3, 12)
    _, trial, ctx = analyse(frame)
    records = views.trial_records(trial, ctx)
    by_group = {r["group"]: r for r in records}
    primary = by_group[("", "")]
    assert "indicator_id" not in primary and not primary["suppressed"]
    assert set(trial.estimates["indicator_id"]) == {"par_waitlist_effect"}
    assert primary["value"] == trial.estimates.iloc[0]["estimate"]
    assert primary["ci"] == (trial.estimates.iloc[0]["ci_low"], trial.estimates.iloc[0]["ci_high"])
    assert by_group[("analysis", "itt_mi")]["value"] == primary["value"]
    assert ("analysis", "complete_case") in by_group and ("analysis", "lee_lower") in by_group
    assert by_group[("arm", "teilnahme")]["n"] == 24
    assert by_group[("arm", "wartegruppe")]["n"] == 12
    assert by_group[("arm", "teilnahme")]["value"] is None


def test_two_cycles_leave_the_interval_unbounded_and_say_so():
    from tests.test_views_parents import protect

    frame = make_trial(2, 15, missing=0.1, seed=3)
    _, trial, ctx = analyse(frame)
    primary = trial.estimates.iloc[0]
    assert trial.clusters == 2 and trial.bootstrap
    assert np.isinf(primary["ci_low"]) and np.isinf(primary["ci_high"])
    shown = protect(views.estimate_table(trial.estimates, ctx), ctx)
    assert shown.to_frame().iloc[0]["95-%-KI unten"] == "–"
    assert shown.n_suppressed == 0
    sentence = views.effect_sentence(shown, ctx)
    assert "unbegrenzt nach unten bis unbegrenzt nach oben" in sentence
    assert "schließt null ein" in sentence
    record = views.trial_records(trial, ctx)[0]
    assert record["group"] == ("", "") and record["ci"] == (None, None)
    assert record["value"] == pytest.approx(primary["estimate"])
