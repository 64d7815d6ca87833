"""Wild cluster bootstrap intervals of the trial estimators (few group cycles).

Known answers: the interval ends are where the ``wildboottest`` package's own WCR test
(its public ``wildboottest`` function, not the code under test) switches between
rejecting and not rejecting; with many clusters the interval agrees with the
cluster-robust t interval (and, after multiple imputation, with Rubin's).
"""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from evaluation import estimators
from evaluation.estimators import _trial
from evaluation.estimators._trial import wild_cluster_interval

SEED = 7


def trial(clusters: int, per_cluster: int, *, effect=0.4, spread=0.3, missing=0.0, seed=1):
    """Randomised within clusters, arm effects varying by cluster (group delivery)."""
    rng = np.random.default_rng(seed)
    n = clusters * per_cluster
    cluster = np.repeat(np.arange(clusters), per_cluster)
    treated = np.concatenate([rng.permutation(np.arange(per_cluster) % 2) for _ in range(clusters)])
    base = rng.normal(3.5, 0.8, n)
    shock = rng.normal(0, spread, clusters)[cluster]
    post = 1 + 0.7 * base + (effect + shock) * treated + rng.normal(0, 0.5, n)
    frame = pd.DataFrame({"post": post, "pre": base, "d": treated, "cycle": cluster})
    if missing:
        frame.loc[rng.random(n) < missing, "post"] = np.nan
    return frame


def fit(frame: pd.DataFrame):
    return estimators.ancova(
        frame, outcome="post", baseline="pre", treatment="d", strata="cycle", cluster="cycle"
    )


def library_pvalue(result, null: float, reps: int, seed: int) -> float:
    """p-value of "arm effect = null" by the package's public function (shifted outcome)."""
    from wildboottest.wildboottest import wildboottest

    model = result.result.model
    x = pd.DataFrame(model.exog, columns=model.exog_names)
    param = result.params["d"]
    y = np.asarray(model.endog) - null * x[param].to_numpy()
    groups = result.result.cov_kwds["groups"]
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        boot = wildboottest(
            sm.OLS(y, x), param=param, cluster=groups, B=reps, weights_type="webb", seed=seed
        )
    return float(boot["p-value"].iloc[0])


@pytest.mark.slow
def test_interval_ends_are_where_the_wild_bootstrap_test_switches():
    result = fit(trial(5, 16))
    interval = wild_cluster_interval(result, reps=1999, seed=SEED).tidy().iloc[0]
    se = interval["std_error"]
    assert interval["estimate"] == pytest.approx(result.tidy().iloc[0]["estimate"])
    assert interval["clusters"] == 5
    for end, outward in ((interval["ci_low"], -1), (interval["ci_high"], +1)):
        assert np.isfinite(end)
        assert library_pvalue(result, end - outward * 0.02 * se, 1999, SEED) >= 0.05
        assert library_pvalue(result, end + outward * 0.02 * se, 1999, SEED) < 0.05
    assert interval["ci_low"] < interval["estimate"] < interval["ci_high"]
    # the same test up to ties of single draws
    assert interval["p_value"] == pytest.approx(
        library_pvalue(result, 0.0, 1999, SEED), abs=2 / 1999
    )


def test_with_many_clusters_the_interval_is_the_cluster_t_interval():
    result = fit(trial(40, 10))
    row = result.tidy().iloc[0]
    interval = wild_cluster_interval(result, reps=1999, seed=SEED).tidy().iloc[0]
    width = row["ci_high"] - row["ci_low"]
    assert interval["ci_low"] == pytest.approx(row["ci_low"], abs=0.1 * width)
    assert interval["ci_high"] == pytest.approx(row["ci_high"], abs=0.1 * width)
    assert interval["ci_low_cluster_t"] == row["ci_low"]


@pytest.mark.slow
def test_after_multiple_imputation_rubins_spread_counts():
    frame = trial(40, 10, missing=0.25, seed=3)
    mi = estimators.itt_multiple_imputation(
        frame,
        outcome="post",
        baseline="pre",
        treatment="d",
        strata="cycle",
        cluster="cycle",
        imputations=5,
    )
    row = mi.tidy().iloc[0]
    interval = wild_cluster_interval(mi, reps=999, seed=SEED).tidy().iloc[0]
    width = row["ci_high"] - row["ci_low"]
    # many clusters: Rubin's normal interval and the bootstrap one agree
    assert interval["estimate"] == pytest.approx(row["estimate"])
    assert interval["std_error"] == pytest.approx(row["std_error"])
    assert interval["ci_low"] == pytest.approx(row["ci_low"], abs=0.12 * width)
    assert interval["ci_high"] == pytest.approx(row["ci_high"], abs=0.12 * width)
    # and it is no narrower than the narrowest single imputed data set's interval would be
    within = min(np.asarray(r.bse)[1] for r in mi.result.model.results_list)
    assert interval["ci_high"] - interval["ci_low"] > 2 * 1.9 * within


def test_few_clusters_give_wider_intervals_than_many():
    few = wild_cluster_interval(fit(trial(4, 30, seed=5)), reps=1999, seed=SEED).tidy().iloc[0]
    many = wild_cluster_interval(fit(trial(30, 4, seed=5)), reps=999, seed=SEED).tidy().iloc[0]
    assert few["clusters"] == 4 and many["clusters"] == 30
    # the same number of parents: with 4 cycles the interval is much wider in SE units
    few_width = (few["ci_high"] - few["ci_low"]) / few["std_error"]
    many_width = (many["ci_high"] - many["ci_low"]) / many["std_error"]
    assert few_width > 1.3 * many_width


def test_reproducible_for_a_seed_and_the_compiled_kernel_is_the_library_one():
    result = fit(trial(4, 12, seed=2))
    first = wild_cluster_interval(result, reps=999, seed=SEED).tidy()
    again = wild_cluster_interval(result, reps=999, seed=SEED).tidy()
    pd.testing.assert_frame_equal(first, again)
    import wildboottest.wildboottest as module

    original = module.njit
    # the same t statistics with the compile-once shim as with the package's own njit
    model = result.result.model
    x, y = np.asarray(model.exog), np.asarray(model.endog)
    groups = np.asarray(result.result.cov_kwds["groups"])
    column = list(model.exog_names).index(result.params["d"])
    plain = _trial._wcr_tstats(y, x, column, groups, 0.1, reps=499, weights="webb", seed=1)
    with _trial._compile_once():
        assert module.njit is not original
        shimmed = _trial._wcr_tstats(y, x, column, groups, 0.1, reps=499, weights="webb", seed=1)
    assert module.njit is original
    np.testing.assert_allclose(plain, shimmed)


def test_bad_input():
    frame = trial(4, 10)
    unclustered = estimators.ancova(frame, outcome="post", baseline="pre", treatment="d")
    with pytest.raises(ValueError, match="without cluster="):
        wild_cluster_interval(unclustered)
    result = fit(frame)
    with pytest.raises(ValueError, match="level"):
        wild_cluster_interval(result, level=95)
    with pytest.raises(KeyError, match="not in the estimates"):
        wild_cluster_interval(result, term="arm B")
    one = frame[frame["cycle"] == 0]
    for estimator in (estimators.ancova, estimators.itt_multiple_imputation):
        with pytest.raises(ValueError, match="single cluster"):
            estimator(one, outcome="post", baseline="pre", treatment="d", cluster="cycle")
