"""Follow-up inference: wild cluster bootstrap, multiplicity, differences between two years."""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Mapping
from typing import Literal

import numpy as np
import pandas as pd
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    test_proportions_2indep,
)
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from ._base import EstimateResult, Labels, tidy_frame

BootWeights = Literal["rademacher", "webb", "mammen", "norm"]


def _statsmodels_clusters(result) -> np.ndarray | None:
    kwds = getattr(result, "cov_kwds", None) or {}
    return kwds.get("groups") if getattr(result, "cov_type", "") == "cluster" else None


def wild_cluster_bootstrap(
    estimate: EstimateResult,
    *,
    term: str | None = None,
    reps: int = 9999,
    weights: BootWeights = "rademacher",
    seed: int = 20240101,
    labels: Labels | None = None,
) -> EstimateResult:
    """Wild cluster bootstrap test of one coefficient, for few clusters (e.g. group cycles).

    The restricted wild cluster bootstrap (WCR11 of MacKinnon, Nielsen & Webb 2023, the
    default of Stata's ``boottest`` and R's ``fwildclusterboot``): the null "coefficient
    = 0" is imposed, residuals are flipped cluster by cluster with ``weights``, and the
    bootstrap t statistics give the p-value. Computed by the ``wildboottest`` package,
    through pyfixest's ``Feols.wildboottest`` for :func:`panel_fe` results and directly on
    the statsmodels model for regression estimators with ``cluster=`` (for example
    :func:`difference_in_means`, :func:`did`, :func:`ancova`).

    With Rademacher weights and 2^G < ``reps`` all 2^G sign patterns are enumerated (the
    p-value is then free of simulation noise and a multiple of 1/2^G, so it is coarse);
    for fewer than about 12 clusters Webb's six-point weights give a finer distribution
    (Webb 2023, Canadian Journal of Economics 56:839-858).

    Parameters
    ----------
    estimate
        Result of an estimator fitted with cluster-robust SEs.
    term
        Tidy term to test; default the first row of ``estimate.tidy()``.
    reps
        Bootstrap replications (ignored under full enumeration).
    weights
        ``"rademacher"``, ``"webb"``, ``"mammen"`` or ``"norm"``.
    seed
        Random seed (results are reproducible for a given seed).
    labels
        Language of the rendering; default that of ``estimate``.

    Returns
    -------
    EstimateResult
        One row: the estimate and its cluster-robust SE from ``estimate``, ``p_value`` the
        bootstrap p-value (no interval: the bootstrap test is not inverted), and the
        columns ``t_stat``, ``p_value_cluster_t`` (the usual t(G - 1) p-value),
        ``clusters``, ``reps`` and ``weights``.
    """
    table = estimate.tidy().set_index("term")
    term = term if term is not None else table.index[0]
    if term not in table.index:
        raise KeyError(f"term {term!r} not in the estimates ({', '.join(table.index)})")
    param = estimate.params.get(term)
    if param is None:
        raise ValueError(f"{estimate.estimator} result does not support the wild bootstrap")
    fit = estimate.result
    buffer = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(buffer):
        warnings.simplefilter("always")
        if hasattr(fit, "wildboottest"):  # pyfixest Feols
            if not getattr(fit, "_is_clustered", False):
                raise ValueError("the wild cluster bootstrap needs cov_type='clustered'")
            boot = fit.wildboottest(reps=reps, param=param, weights_type=weights, seed=seed)
            t_stat, p_boot = float(boot["t value"]), float(boot["Pr(>|t|)"])
            clusters = int(np.min(fit._G))
        else:
            groups = _statsmodels_clusters(fit)
            if groups is None:
                raise ValueError("the wild cluster bootstrap needs an estimate with cluster=")
            from wildboottest.wildboottest import wildboottest

            boot = wildboottest(
                fit.model,
                param=param,
                cluster=np.asarray(groups),
                B=reps,
                weights_type=weights,
                seed=seed,
            )
            t_stat, p_boot = float(boot["statistic"].iloc[0]), float(boot["p-value"].iloc[0])
            clusters = int(pd.unique(np.asarray(groups)).size)
    full = any("full_enumeration" in str(w.message) for w in caught)
    row = table.loc[term]
    method = (
        f"wild cluster bootstrap (WCR11, null imposed, {weights} weights, "
        + (f"all 2^{clusters} sign patterns" if full else f"{reps} replications, seed {seed}")
        + f"; {clusters} clusters)"
    )
    out = {
        "term": term,
        "estimate": float(row["estimate"]),
        "std_error": float(row["std_error"]),
        "ci_low": np.nan,
        "ci_high": np.nan,
        "p_value": p_boot,
        "n": int(row["n"]),
        "t_stat": t_stat,
        "p_value_cluster_t": float(row["p_value"]),
        "clusters": clusters,
        "reps": 2**clusters if full else reps,
        "weights": weights,
    }
    notes = [method]
    if clusters < 12 and weights == "rademacher" and not full:
        notes.append("fewer than 12 clusters: consider weights='webb'")
    return EstimateResult(
        estimator="wild_cluster_bootstrap",
        title=f"Wild cluster bootstrap: {term}",
        table=tidy_frame([out]),
        result=boot,
        nobs=estimate.nobs,
        notes=tuple(notes),
        labels=labels or estimate.labels,
        params={term: param},
    )


def adjust_for_multiplicity(
    p_values: Mapping[str, float] | pd.Series,
    *,
    method: str = "holm",
    alpha: float = 0.05,
    primary: str | None = None,
) -> pd.DataFrame:
    """Holm-adjusted p-values for a family of (subgroup) tests.

    Parameters
    ----------
    p_values
        Test name -> unadjusted p-value (e.g. one per subgroup); missing values are kept
        as missing and left out of the family.
    method
        Any method of statsmodels ``multipletests``; default ``"holm"`` (Holm 1979,
        controls the family-wise error rate at ``alpha``).
    alpha
        Family-wise error rate.
    primary
        The one pre-specified (confirmatory) test, if any; every other test is marked
        exploratory.

    Returns
    -------
    pandas.DataFrame
        Index the test names; columns ``p_value``, ``p_adjusted``, ``significant``
        (adjusted p below ``alpha``), ``family_size`` and ``exploratory`` (True for every
        test except ``primary``: findings in subgroups are hypotheses, not evidence).
    """
    series = pd.Series(p_values, dtype=float)
    if series.empty:
        raise ValueError("adjust_for_multiplicity needs at least one p-value")
    bad = series[(series < 0) | (series > 1)]
    if not bad.empty:
        raise ValueError(f"p-value of {bad.index[0]!r} is {bad.iloc[0]}, not between 0 and 1")
    if primary is not None and primary not in series.index:
        raise KeyError(f"primary test {primary!r} is not among the p-values")
    valid = series.dropna()
    adjusted = pd.Series(np.nan, index=series.index)
    reject = pd.Series(False, index=series.index)
    if not valid.empty:
        rej, p_adj, _, _ = multipletests(valid.to_numpy(), alpha=alpha, method=method)
        adjusted[valid.index] = p_adj
        reject[valid.index] = rej
    return pd.DataFrame(
        {
            "p_value": series,
            "p_adjusted": adjusted,
            "significant": reject.astype(bool),
            "family_size": len(valid),
            "exploratory": [name != primary for name in series.index],
        }
    )


def _change_result(row: dict, estimator: str, title: str, notes: list[str], result, labels):
    beyond = bool(row["ci_low"] > 0 or row["ci_high"] < 0)
    row = row | {"more_than_chance": beyond}
    return EstimateResult(
        estimator=estimator,
        title=title,
        table=tidy_frame([row]),
        result=result,
        nobs=int(row["n"]),
        notes=tuple(notes),
        labels=labels,
    )


def difference_of_proportions(
    count1: int,
    n1: int,
    count0: int,
    n0: int,
    *,
    level: float = 0.95,
    term: str = "difference",
    labels: Labels = "en",
) -> EstimateResult:
    """Difference of two independent proportions, count1/n1 - count0/n0, with its interval.

    For year-on-year changes of a quota (this year vs last year, different people).
    The interval is Newcombe's hybrid score interval (Newcombe 1998, Statistics in
    Medicine 17:873-890, method 10; statsmodels ``confint_proportions_2indep(method=
    "newcomb")``), which keeps good coverage for small counts and shares near 0 or 1.
    ``more_than_chance`` is True when that interval excludes 0; ``p_value`` is the score
    test of equal proportions (statsmodels ``test_proportions_2indep(method="score")``,
    Miettinen-Nurminen), reported alongside.

    Returns
    -------
    EstimateResult
        One row with the difference (a share, multiply by 100 for percentage points),
        ``ci_low``, ``ci_high``, ``p_value``, ``n`` = n1 + n0 and ``more_than_chance``.
    """
    for name, count, n in (("count1", count1, n1), ("count0", count0, n0)):
        if n <= 0 or count < 0 or count > n:
            raise ValueError(f"{name} = {count} of n = {n}: need 0 <= count <= n and n > 0")
    low, high = confint_proportions_2indep(
        count1, n1, count0, n0, method="newcomb", compare="diff", alpha=1 - level
    )
    with np.errstate(divide="ignore", invalid="ignore"):  # its odds ratio at a zero count
        test = test_proportions_2indep(count1, n1, count0, n0, method="score", compare="diff")
    row = {
        "term": term,
        "estimate": count1 / n1 - count0 / n0,
        "std_error": np.nan,
        "ci_low": float(low),
        "ci_high": float(high),
        "p_value": float(test.pvalue),
        "n": int(n1 + n0),
    }
    notes = [
        f"Newcombe hybrid score {level:.0%} interval; score test p-value",
        "more than chance if the interval excludes 0",
    ]
    return _change_result(
        row, "difference_of_proportions", "Difference of proportions", notes, test, labels
    )


def difference_of_means(
    values1: pd.Series | np.ndarray,
    values0: pd.Series | np.ndarray,
    *,
    level: float = 0.95,
    term: str = "difference",
    labels: Labels = "en",
) -> EstimateResult:
    """Difference of two independent means, mean(values1) - mean(values0), Welch's test.

    Welch's unequal-variance t interval and test with Welch-Satterthwaite degrees of
    freedom (statsmodels ``CompareMeans``, ``usevar="unequal"``; as R's default
    ``t.test``). Missing values are dropped. ``more_than_chance`` is True when the
    interval excludes 0.
    """
    y1 = pd.Series(values1, dtype=float).dropna()
    y0 = pd.Series(values0, dtype=float).dropna()
    if len(y1) < 2 or len(y0) < 2:
        raise ValueError(f"need at least 2 values per group, got {len(y1)} and {len(y0)}")
    compare = CompareMeans(DescrStatsW(y1.to_numpy()), DescrStatsW(y0.to_numpy()))
    t, p, dof = compare.ttest_ind(usevar="unequal")
    low, high = compare.tconfint_diff(alpha=1 - level, usevar="unequal")
    row = {
        "term": term,
        "estimate": float(y1.mean() - y0.mean()),
        "std_error": float(compare.std_meandiff_separatevar),
        "ci_low": float(low),
        "ci_high": float(high),
        "p_value": float(p),
        "n": len(y1) + len(y0),
        "df": float(dof),
    }
    notes = [f"Welch t-test, {dof:.2f} df", "more than chance if the interval excludes 0"]
    return _change_result(row, "difference_of_means", "Difference of means", notes, compare, labels)
