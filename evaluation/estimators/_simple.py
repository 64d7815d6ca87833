"""Two-group and pre/post comparisons, and the reliability of a scale."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from scipy import stats
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from ._base import (
    EstimateResult,
    Labels,
    as_list,
    binary_series,
    complete_rows,
    frame_to_html,
    normal_row,
    require_columns,
    safe_names,
    tidy_frame,
)

CovType = Literal["HC1", "HC2", "HC3", "nonrobust", "welch"]


def ols_row(result, param: str, term: str) -> dict:
    """Tidy row for one coefficient of a statsmodels regression result (t-based CI)."""
    ci = result.conf_int().loc[param]
    return {
        "term": term,
        "estimate": float(result.params[param]),
        "std_error": float(result.bse[param]),
        "ci_low": float(ci.iloc[0]),
        "ci_high": float(ci.iloc[1]),
        "p_value": float(result.pvalues[param]),
        "n": int(result.nobs),
    }


def fit_ols(formula: str, data: pd.DataFrame, cov_type: str, groups: pd.Series | None = None):
    """Fit ``formula`` by OLS with the chosen covariance (cluster-robust if ``groups``).

    Inference is t-based throughout (statsmodels ``use_t=True``): classical and HC SEs use
    t with the residual degrees of freedom n - k, as Stata's ``regress`` and R's ``lm``
    with ``sandwich``/``lmtest::coeftest``; cluster-robust SEs (statsmodels' CR1 with the
    small-sample factor G/(G-1) * (N-1)/(N-K), ``use_correction=True``) use t with G - 1
    degrees of freedom, as Stata's ``regress, vce(cluster)`` and fixest's defaults.
    """
    model = smf.ols(formula, data)
    if groups is not None:
        return model.fit(
            cov_type="cluster", cov_kwds={"groups": pd.factorize(groups)[0]}, use_t=True
        )
    return model.fit(cov_type=cov_type, use_t=True)


@dataclass(eq=False, repr=False)
class DifferenceInMeansResult(EstimateResult):
    """Result of :func:`difference_in_means`; ``group_means`` holds N and mean by group."""

    group_means: pd.DataFrame | None = None

    def _extra_html(self) -> str:
        return frame_to_html(self.group_means.reset_index(), self.labels)


def _welch_row(y1: pd.Series, y0: pd.Series, term: str, level: float = 0.95) -> tuple[dict, object]:
    """Welch's unequal-variance t-test of mean(y1) - mean(y0) (statsmodels CompareMeans)."""
    compare = CompareMeans(DescrStatsW(y1.to_numpy()), DescrStatsW(y0.to_numpy()))
    t, p, dof = compare.ttest_ind(usevar="unequal")
    low, high = compare.tconfint_diff(alpha=1 - level, usevar="unequal")
    diff = float(y1.mean() - y0.mean())
    row = {
        "term": term,
        "estimate": diff,
        "std_error": float(compare.std_meandiff_separatevar),
        "ci_low": float(low),
        "ci_high": float(high),
        "p_value": float(p),
        "n": len(y1) + len(y0),
        "df": float(dof),
    }
    return row, compare


def difference_in_means(
    df: pd.DataFrame,
    *,
    outcome: str,
    treatment: str,
    covariates: Sequence[str] | None = None,
    cov_type: CovType = "HC1",
    cluster: str | None = None,
    labels: Labels = "en",
) -> DifferenceInMeansResult:
    """Difference in mean outcomes between a treated and a comparison group.

    For randomised or waiting-list designs: the OLS regression of ``outcome`` on the 0/1
    ``treatment`` (plus optional baseline ``covariates`` for precision). Without covariates
    the coefficient is exactly the difference of the two group means.

    Parameters
    ----------
    df
        One row per person.
    outcome, treatment
        Column names; ``treatment`` must be coded 0/1 (or bool).
    covariates
        Optional baseline covariates (regression adjustment).
    cov_type
        Covariance of the estimates: heteroskedasticity-robust ``"HC1"`` (default, as Stata's
        ``robust``), ``"HC2"``, ``"HC3"``, the classical pooled-variance ``"nonrobust"``
        (Student's t-test), or ``"welch"``: Welch's unequal-variance t-test with
        Welch-Satterthwaite degrees of freedom (statsmodels ``CompareMeans``, as R's default
        ``t.test``; no covariates, no clusters). Without covariates the HC2 standard error
        equals Welch's, but its interval and p-value use t(n - 2), not Welch's degrees of
        freedom; use ``"welch"`` for Welch's test itself.
    cluster
        Column of clusters (e.g. group cycle); overrides ``cov_type`` with cluster-robust SEs.
    labels
        Language of the rendering.

    Returns
    -------
    DifferenceInMeansResult
        ``tidy()`` has one row, the effect of ``treatment``; ``.result`` is the statsmodels
        OLS result (``CompareMeans`` for ``"welch"``, whose row also has the column ``df``),
        ``.group_means`` the N and mean per group.

    Notes
    -----
    Inference: t-based intervals and p-values. Classical and HC SEs use t(n - k), as
    Stata's ``regress [, robust]``; cluster-robust SEs use statsmodels' CR1 factor
    G/(G-1) (N-1)/(N-K) and t(G - 1), as Stata's ``regress, vce(cluster)``. With few
    clusters (group cycles) prefer :func:`wild_cluster_bootstrap`.
    """
    covs = as_list(covariates)
    if cov_type == "welch" and (covs or cluster):
        raise ValueError("cov_type='welch' compares two means: no covariates, no cluster")
    require_columns(df, [outcome, treatment, *covs, cluster])
    data = complete_rows(df, [outcome, treatment, *covs, *([cluster] if cluster else [])])
    d = binary_series(data, treatment)
    names = safe_names(covs)
    frame = data[covs].rename(columns=names).assign(y=data[outcome].astype(float), d=d)
    means = (
        frame.groupby("d")["y"]
        .agg(n="size", mean="mean")
        .rename(index={0: "control", 1: "treated"})
    )
    means.index.name = "group"
    if cov_type == "welch":
        row, result = _welch_row(frame.loc[d == 1, "y"], frame.loc[d == 0, "y"], treatment)
        se_note = f"Welch t-test, Welch-Satterthwaite df = {row['df']:.2f}"
        nobs = len(frame)
    else:
        formula = " + ".join(["y ~ d", *names.values()])
        result = fit_ols(formula, frame, cov_type, data[cluster] if cluster else None)
        row = ols_row(result, "d", treatment)
        df_t = result.df_resid_inference if cluster else result.df_resid
        kind = f"cluster-robust by {cluster} (CR1)" if cluster else cov_type
        se_note = f"SE: {kind}; t-based CI with {df_t:g} df"
        nobs = int(result.nobs)
    return DifferenceInMeansResult(
        estimator="difference_in_means",
        title=f"Difference in means: {outcome} by {treatment}",
        table=tidy_frame([row]),
        result=result,
        nobs=nobs,
        notes=(se_note,),
        labels=labels,
        params={} if cov_type == "welch" else {treatment: "d"},
        group_means=means,
    )


# ---------------------------------------------------------------------------------------------
# Pre/post
# ---------------------------------------------------------------------------------------------


def hedges_g_rm(mean_diff: float, sd_diff: float, r: float, n: int, level: float = 0.95) -> dict:
    """Hedges' g for paired data, standardised by the within-person SD (d_rm).

    d_rm = mean_diff / S_within with S_within = sd_diff / sqrt(2(1 - r)) (Borenstein, Hedges,
    Higgins & Rothstein 2009, *Introduction to Meta-Analysis*, eqs. 4.27-4.28; Lakens 2013,
    eq. 9). Its variance is V_d = (1/n + d^2 / (2n)) * 2(1 - r) (Borenstein et al. 2009,
    eq. 4.28; Cooper, Hedges & Valentine 2009, eq. 12.21). The small-sample correction is
    J = 1 - 3 / (4 df - 1) with df = n - 1 (Borenstein et al. 2009, eq. 4.22); g = J d,
    V_g = J^2 V_d, and the CI is g +/- z * sqrt(V_g) (normal approximation).
    """
    factor = 2 * (1 - r)
    d = mean_diff / (sd_diff / np.sqrt(factor))
    var_d = (1 / n + d**2 / (2 * n)) * factor
    j = 1 - 3 / (4 * (n - 1) - 1)
    row = normal_row("hedges_g_rm", j * d, j * np.sqrt(var_d), n, level)
    return row | {"d_rm": d, "d_z": mean_diff / sd_diff, "J": j, "r": r}


def rank_biserial_paired(diff: np.ndarray) -> tuple[float, float, float]:
    """Sum of positive ranks T+, negative ranks T- and the matched-pairs rank-biserial r.

    Zero differences are dropped (Wilcoxon's convention); ties get average ranks.
    r = (T+ - T-) / (T+ + T-) (Kerby 2014, "The simple difference formula").
    """
    nonzero = diff[diff != 0]
    ranks = stats.rankdata(np.abs(nonzero))
    t_plus = float(ranks[nonzero > 0].sum())
    t_minus = float(ranks[nonzero < 0].sum())
    return t_plus, t_minus, (t_plus - t_minus) / (t_plus + t_minus)


@dataclass(eq=False, repr=False)
class PrePostResult(EstimateResult):
    """Result of :func:`prepost`: mean change, Hedges' g_rm and the Wilcoxon signed-rank test.

    ``effect_size`` has d_z, d_rm, J and g with its CI; ``rank_test`` the signed-rank
    statistics (T+ = sum of ranks of positive changes, as R's ``V``), p-value and the
    matched-pairs rank-biserial correlation.
    """

    effect_size: pd.DataFrame | None = None
    rank_test: pd.DataFrame | None = None

    def _extra_html(self) -> str:
        return frame_to_html(self.rank_test, self.labels)


def prepost(
    df: pd.DataFrame,
    *,
    pre: str,
    post: str,
    level: float = 0.95,
    labels: Labels = "en",
) -> PrePostResult:
    """Paired pre/post comparison of one measure (wide data: one row per person).

    Reports (1) the mean change ``post - pre`` with its paired-t CI, estimated as the
    intercept of an OLS regression of the change on a constant (identical to the paired
    t-test); (2) Hedges' g in the d_rm metric (see below); (3) the Wilcoxon signed-rank test
    (scipy, zeros dropped, normal approximation with continuity correction as R's
    ``wilcox.test``) with the matched-pairs rank-biserial correlation as its effect size.

    Which d: d_rm standardises the mean change by the within-person SD
    S_diff / sqrt(2(1 - r)). Unlike d_z (change / SD of changes) it does not grow with the
    pre-post correlation, so it is on the scale of a between-group d and comparable with
    the waiting-list comparison and with published norms of a questionnaire; unlike d_av it
    uses the correlation, which its variance formula needs anyway. The small-sample
    correction J = 1 - 3/(4 df - 1), df = n - 1, turns d_rm into g, and the CI is the
    normal approximation g +/- z sqrt(J^2 V_d) with V_d = (1/n + d^2/(2n)) 2(1 - r)
    (Borenstein et al. 2009, ch. 4; Lakens 2013, Frontiers in Psychology 4:863).

    Parameters
    ----------
    df
        One row per person with both measurements; rows missing either are dropped.
    pre, post
        Column names of the two measurements.
    level
        Confidence level.
    labels
        Language of the rendering.
    """
    require_columns(df, [pre, post])
    data = complete_rows(df, [pre, post]).astype(float)
    n = len(data)
    if n < 3:
        raise ValueError(f"prepost needs at least 3 complete pairs, got {n}")
    change = data[post] - data[pre]
    if change.std() == 0:
        raise ValueError("all pre/post differences are equal; effect sizes are undefined")
    result = smf.ols("change ~ 1", pd.DataFrame({"change": change})).fit()
    ci = result.conf_int(alpha=1 - level).loc["Intercept"]
    mean_row = ols_row(result, "Intercept", "mean_change") | {
        "ci_low": ci.iloc[0],
        "ci_high": ci.iloc[1],
    }
    r = float(np.corrcoef(data[pre], data[post])[0, 1])
    g = hedges_g_rm(float(change.mean()), float(change.std(ddof=1)), r, n, level)
    wil = stats.wilcoxon(change, zero_method="wilcox", correction=True, method="approx")
    t_plus, t_minus, rbc = rank_biserial_paired(change.to_numpy())
    rank_row = {
        "term": "rank_biserial",
        "estimate": rbc,
        "std_error": np.nan,
        "ci_low": np.nan,
        "ci_high": np.nan,
        "p_value": float(wil.pvalue),
        "n": int((change != 0).sum()),
    }
    effect = pd.DataFrame(
        [{k: g[k] for k in ("d_z", "d_rm", "J", "r", "estimate", "std_error", "ci_low", "ci_high")}]
    )
    effect = effect.rename(columns={"estimate": "g_rm"})
    rank = pd.DataFrame(
        [
            {
                "T_plus": t_plus,
                "T_minus": t_minus,
                "p_value": float(wil.pvalue),
                "rank_biserial": rbc,
                "n_nonzero": int((change != 0).sum()),
            }
        ]
    )
    return PrePostResult(
        estimator="prepost",
        title=f"Pre/post: {pre} -> {post}",
        table=tidy_frame([mean_row, {k: g[k] for k in mean_row}, rank_row]),
        result=result,
        nobs=n,
        notes=(
            "hedges_g_rm: d_rm with J = 1 - 3/(4(n-1)-1), normal-approximation CI "
            "(Borenstein et al. 2009, ch. 4)",
            "rank_biserial: Wilcoxon signed-rank p-value (zeros dropped, continuity correction)",
        ),
        labels=labels,
        effect_size=effect,
        rank_test=rank,
    )


# ---------------------------------------------------------------------------------------------
# Cronbach's alpha
# ---------------------------------------------------------------------------------------------


def _alpha(items: pd.DataFrame) -> float:
    k = items.shape[1]
    return k / (k - 1) * (1 - items.var(ddof=1).sum() / items.sum(axis=1).var(ddof=1))


def cronbach_alpha(
    df: pd.DataFrame,
    *,
    items: Sequence[str],
    level: float = 0.95,
    labels: Labels = "en",
) -> EstimateResult:
    """Cronbach's alpha of a scale, with Feldt's confidence interval.

    alpha = k/(k-1) * (1 - sum of item variances / variance of the sum score), computed on
    the persons who answered all ``items`` (listwise deletion). The CI is Feldt's exact
    interval under the parallel-items model: with n persons, F quantiles on (n-1) and
    (n-1)(k-1) degrees of freedom, bounds 1 - (1 - alpha) F (Feldt, Woodruff & Salih 1987,
    Applied Psychological Measurement 11:93-103).

    Returns
    -------
    EstimateResult
        ``tidy()`` has the row ``cronbach_alpha``; ``.result`` is a per-item table with the
        corrected item-total correlation and alpha if the item is dropped.
    """
    cols = as_list(items)
    if len(cols) < 2:
        raise ValueError("cronbach_alpha needs at least two items")
    require_columns(df, cols)
    data = complete_rows(df, cols).astype(float)
    n, k = data.shape
    alpha = _alpha(data)
    f_hi, f_lo = stats.f.ppf([0.5 + level / 2, 0.5 - level / 2], n - 1, (n - 1) * (k - 1))
    row = {
        "term": "cronbach_alpha",
        "estimate": alpha,
        "std_error": np.nan,
        "ci_low": 1 - (1 - alpha) * f_hi,
        "ci_high": 1 - (1 - alpha) * f_lo,
        "p_value": np.nan,
        "n": n,
    }
    total = data.sum(axis=1)
    item_table = pd.DataFrame(
        {
            "item_total_r": [data[c].corr(total - data[c]) for c in cols],
            "alpha_if_dropped": [_alpha(data.drop(columns=c)) if k > 2 else np.nan for c in cols],
        },
        index=pd.Index(cols, name="item"),
    )
    return EstimateResult(
        estimator="cronbach_alpha",
        title=f"Cronbach's alpha ({k} items)",
        table=tidy_frame([row]),
        result=item_table,
        nobs=n,
        notes=("listwise deletion; Feldt CI",),
        labels=labels,
    )
