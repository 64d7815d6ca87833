"""Each estimator recovers the effects planted in :mod:`evaluation.demo` within its CI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation import demo
from evaluation import estimators as est

PLANTED = demo.PLANTED


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return demo.generate()


@pytest.fixture(scope="module")
def surveys(tables) -> pd.DataFrame:
    """Parent surveys (long) with the FSW scale score, arm and design of the cycle."""
    s = tables["parent_surveys"].copy()
    s["fsw"] = s[demo.FSW_ITEMS].astype(float).mean(axis=1)
    arms = tables["enrolments"].dropna(subset=["cycle_id"])[["person_id", "cycle_id", "arm"]]
    s = s.merge(arms, on=["person_id", "cycle_id"])
    s = s.merge(tables["parent_groups"][["cycle_id", "waitlist_design"]], on="cycle_id")
    s["treated"] = (s["arm"] == "teilnahme").astype(int)
    s["post"] = (s["wave"] == "post").astype(int)
    s["pair"] = s["person_id"] + "/" + s["cycle_id"]
    return s


@pytest.fixture(scope="module")
def fsw_wide(surveys) -> pd.DataFrame:
    """One row per parent and cycle with the FSW score before and after."""
    wide = surveys.pivot_table(
        index=["pair", "treated", "waitlist_design"], columns="wave", values="fsw"
    )
    wide = wide.reset_index().dropna(subset=["pre", "post"])
    return wide.assign(change=wide["post"] - wide["pre"])


def covers(row: pd.Series, value: float) -> bool:
    return row["ci_low"] <= value <= row["ci_high"]


def test_difference_in_means_waitlist_recovers_planted(fsw_wide):
    rct = fsw_wide[fsw_wide["waitlist_design"]]
    planted = PLANTED.fsw_change_participants - PLANTED.fsw_change_waitlist
    row = est.difference_in_means(rct, outcome="change", treatment="treated").tidy().iloc[0]
    assert covers(row, planted)


def test_prepost_participants_recovers_planted(fsw_wide):
    res = est.prepost(fsw_wide[fsw_wide["treated"] == 1], pre="pre", post="post")
    assert covers(res.tidy().set_index("term").loc["mean_change"], PLANTED.fsw_change_participants)


def test_did_waitlist_recovers_planted(surveys):
    rct = surveys[surveys["waitlist_design"]]
    planted = PLANTED.fsw_change_participants - PLANTED.fsw_change_waitlist
    res = est.did(rct, outcome="fsw", treatment="treated", post="post", cluster="pair")
    assert covers(res.tidy().iloc[0], planted)
    school = est.did(
        rct.assign(school=rct["school_contact"].astype(int)),
        outcome="school",
        treatment="treated",
        post="post",
        cluster="pair",
    )
    assert covers(school.tidy().iloc[0], PLANTED.school_contact_post - PLANTED.school_contact_pre)


def test_ipw_and_balance_waitlist(fsw_wide):
    rct = fsw_wide[fsw_wide["waitlist_design"]]
    planted = PLANTED.fsw_change_participants - PLANTED.fsw_change_waitlist
    res = est.ipw(rct, outcome="change", treatment="treated", covariates=["pre"])
    assert covers(res.tidy().set_index("term").loc["ATE"], planted)
    # randomised arms: baseline score balanced (|normalised difference| < 0.25)
    assert res.balance_before.balance["normalized_difference"].abs().max() < 0.25


@pytest.fixture(scope="module")
def assigned(tables, surveys) -> pd.DataFrame:
    """Every parent assigned in a randomised cycle, FSW before/after where answered."""
    enr = tables["enrolments"].dropna(subset=["cycle_id"])
    groups = tables["parent_groups"]
    rct = enr.merge(groups.loc[groups["waitlist_design"], ["cycle_id"]], on="cycle_id")
    scores = surveys.pivot_table(index=["person_id", "cycle_id"], columns="wave", values="fsw")
    out = rct.join(scores, on=["person_id", "cycle_id"])
    return out.assign(treated=(out["arm"] == "teilnahme").astype(int))


def test_ancova_waitlist_recovers_planted_effect(assigned):
    planted = PLANTED.fsw_change_participants - PLANTED.fsw_change_waitlist
    res = est.ancova(
        assigned,
        outcome="post",
        baseline="pre",
        treatment="arm",
        control="wartegruppe",
        strata="cycle_id",
        cluster="cycle_id",
    )
    assert covers(res.tidy().iloc[0], planted)
    assert res.tidy().iloc[0]["term"] == "arm: teilnahme"


def test_itt_and_bounds_waitlist_cover_planted_effect(assigned):
    planted = PLANTED.fsw_change_participants - PLANTED.fsw_change_waitlist
    itt = est.itt_multiple_imputation(
        assigned,
        outcome="post",
        baseline="pre",
        treatment="treated",
        strata="cycle_id",
        cluster="cycle_id",
        imputations=10,
    )
    assert covers(itt.tidy().iloc[0], planted)
    assert itt.nobs == len(assigned)
    # post-scores are missing for about a fifth of the waiting list and more participants
    bounds = (
        est.attrition_bounds(
            assigned.assign(change=assigned["post"] - assigned["pre"]),
            outcome="change",
            treatment="treated",
            reps=199,
        )
        .tidy()
        .set_index("term")
    )
    assert bounds.loc["lee_lower", "ci_low"] <= planted <= bounds.loc["lee_upper", "ci_high"]


def test_consort_flow_waitlist_matches_the_tables(assigned, tables):
    flow = est.consort_flow(assigned, arm="arm", before="pre", after="post")
    assert flow.loc["total", "assigned"] == len(assigned)
    assert set(flow.index) == {"teilnahme", "wartegruppe", "total"}
    post = tables["parent_surveys"].query("wave == 'post'")[["person_id", "cycle_id"]]
    answered = assigned.merge(post.drop_duplicates(), on=["person_id", "cycle_id"])
    # a post survey with too few FSW items answered counts as not surveyed on the FSW
    assert flow.loc["total", "surveyed_after"] <= len(answered)


def test_cronbach_alpha_fsw_recovers_planted(surveys):
    # The item loading is calibrated so that alpha of the rounded items is PLANTED.fsw_alpha.
    row = est.cronbach_alpha(surveys[surveys["wave"] == "pre"], items=demo.FSW_ITEMS).tidy().iloc[0]
    assert row["ci_low"] <= PLANTED.fsw_alpha <= row["ci_high"]


@pytest.fixture(scope="module")
def employment(tables) -> pd.DataFrame:
    """Person-months with svB employment, running month index and month of first entry."""
    enr = tables["enrolments"]
    labour = enr[enr["project"].isin(["anerkennung", "jobeinstieg"])]
    entry = labour.groupby("person_id")["entry_date"].min()
    em = tables["employment_months"].copy()
    em["svb"] = (em["status"] == "svb").astype(int)
    em["m"] = (em["month"].dt.year - 2018) * 12 + em["month"].dt.month
    g = ((entry.dt.year - 2018) * 12 + entry.dt.month).rename("g")
    return em.merge(g, left_on="person_id", right_index=True)


def test_panel_fe_recovers_planted_plateau(employment):
    ramp = PLANTED.employment_effect(employment["m"] - employment["g"]) / PLANTED.employment_plateau
    res = est.panel_fe(
        employment.assign(ramp=ramp),
        outcome="svb",
        regressors=["ramp"],
        entity="person_id",
        time="m",
    )
    assert covers(res.tidy().iloc[0], PLANTED.employment_plateau)


def test_event_study_recovers_planted_ramp(employment):
    # entries 2022-2023 (24 monthly cohorts), 12-month window: keeps the test fast
    sub = employment[(employment["g"] >= 49) & (employment["g"] <= 72)]
    res = est.event_study(
        sub, outcome="svb", unit="person_id", time="m", cohort="g", max_event_time=12
    )
    events = res.event_time.assign(e=lambda d: d["term"].str[2:].astype(int))
    planted = PLANTED.employment_effect(events["e"].to_numpy())
    z = (events["estimate"] - planted) / events["std_error"]
    assert (z.abs() < 3).all()
    overall = res.tidy().set_index("term").loc["ATT"]
    assert covers(overall, float(np.average(planted, weights=events["n"])))
    # no anticipation planted: the leads are jointly insignificant
    assert res.pretrend_wald.pval > 0.01


def test_survival_recovers_planted_hazard_ratio(tables):
    rc = tables["recognition_cases"].copy()
    end = rc["decision_date"].fillna(pd.Timestamp(demo.LAST_DAY))
    rc["months"] = (end - rc["application_date"]).dt.days / demo.DAYS_PER_MONTH
    rc["decided"] = rc["decision_date"].notna().astype(int)
    rc["regulated"] = rc["regulated"].astype(int)
    res = est.survival(rc, duration="months", event="decided", group="regulated")
    assert covers(res.tidy().iloc[0], np.log(PLANTED.recognition_hr_regulated))
    assert res.medians["0"] < res.medians["1"]
