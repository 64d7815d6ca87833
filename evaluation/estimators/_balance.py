"""Covariate balance tables and propensity-score weighting."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import statsmodels.api as sm
import statsmodels.formula.api as smf
from statsmodels.treatment.treatment_effects import TreatmentEffect

from ._base import (
    EstimateResult,
    Labels,
    as_list,
    binary_series,
    complete_rows,
    frame_to_html,
    require_columns,
    safe_names,
    tidy_frame,
)
from ._simple import ols_row


def _weighted_mean_var(x: pd.Series, w: pd.Series) -> tuple[float, float]:
    mean = float(np.average(x, weights=w))
    return mean, float(np.average((x - mean) ** 2, weights=w))


def _balance_row(x: pd.Series, d: pd.Series, w: pd.Series, cov_type: str, name: str):
    """Means, SDs, normalised difference and the regression test for one covariate."""
    xt, xc = x[d == 1], x[d == 0]
    mt, _ = _weighted_mean_var(xt, w[d == 1])
    mc, _ = _weighted_mean_var(xc, w[d == 0])
    # denominator from the unweighted groups, so that before/after weighting share a scale
    pooled_sd = np.sqrt((xt.var(ddof=1) + xc.var(ddof=1)) / 2)
    frame = pd.DataFrame({"x": x.astype(float), "d": d, "w": w})
    result = smf.wls("x ~ d", frame, weights=frame["w"]).fit(cov_type=cov_type, use_t=True)
    stats_row = {
        "covariate": name,
        "n_treated": int(len(xt)),
        "mean_treated": mt,
        "sd_treated": float(xt.std(ddof=1)),
        "n_control": int(len(xc)),
        "mean_control": mc,
        "sd_control": float(xc.std(ddof=1)),
        "difference": mt - mc,
        "normalized_difference": (mt - mc) / pooled_sd if pooled_sd > 0 else np.nan,
        "variance_ratio": float(xt.var(ddof=1) / xc.var(ddof=1)) if xc.var(ddof=1) > 0 else np.nan,
        "p_value": float(result.pvalues["d"]),
    }
    return stats_row, ols_row(result, "d", name), result


@dataclass(eq=False, repr=False)
class BalanceTable(EstimateResult):
    """Covariate balance between treated and comparison group.

    ``balance`` has, per covariate, N, mean and SD by group, the difference, the
    normalised difference (mean_t - mean_c) / sqrt((var_t + var_c) / 2) (Imbens & Rubin
    2015, eq. 14.2; as iebaltab), the variance ratio and the p-value of the difference.
    ``tidy()`` gives the differences with their regression SEs; ``result`` maps each
    covariate to its statsmodels regression.
    """

    balance: pd.DataFrame | None = None

    def _repr_html_(self) -> str:
        return f"<div><h4>{self.title}</h4>{frame_to_html(self.balance, self.labels, 3)}</div>"

    def summary(self) -> str:
        return f"{self.title}\n{self.balance.to_string(index=False, float_format=lambda v: f'{v:.3f}')}"


def balance(
    df: pd.DataFrame,
    *,
    treatment: str,
    covariates: Sequence[str],
    weights: str | pd.Series | None = None,
    cov_type: Literal["HC1", "nonrobust"] = "HC1",
    labels: Labels = "en",
) -> BalanceTable:
    """Balance table of ``covariates`` between the groups of a 0/1 ``treatment``.

    Parameters
    ----------
    df
        One row per person.
    treatment
        0/1 column.
    covariates
        Numeric covariates (code categories as 0/1 dummies).
    weights
        Optional weights (column name or Series aligned with ``df``), e.g. propensity-score
        weights from :func:`ipw`: means and differences are then weighted, the normalised
        difference keeps the unweighted pooled SD as denominator (Austin & Stuart 2015).
    cov_type
        Covariance of the regression test of each difference (``"HC1"`` robust default).
    labels
        Language of the rendering.

    Notes
    -----
    Inference: each difference is the (weighted) least-squares regression of the covariate
    on the treatment dummy; intervals and p-values are t-based with n - 2 degrees of freedom
    (statsmodels ``use_t=True``, as Stata's ``regress, robust``).
    """
    covs = as_list(covariates)
    if not covs:
        raise ValueError("balance needs at least one covariate")
    weight_col = weights if isinstance(weights, str) else None
    require_columns(df, [treatment, *covs, weight_col])
    data = df.copy()
    if isinstance(weights, pd.Series):
        data["_w"] = weights
    else:
        data["_w"] = data[weight_col] if weight_col else 1.0
    data = complete_rows(data, [treatment, *covs, "_w"])
    d = binary_series(data, treatment)
    rows, tidy_rows, results = [], [], {}
    for c in covs:
        row, tidy_row, res = _balance_row(data[c].astype(float), d, data["_w"], cov_type, c)
        rows.append(row)
        tidy_rows.append(tidy_row)
        results[c] = res
    kind = "weighted" if weights is not None else "unweighted"
    return BalanceTable(
        estimator="balance",
        title=f"Covariate balance by {treatment} ({kind})",
        table=tidy_frame(tidy_rows),
        result=results,
        nobs=len(data),
        labels=labels,
        balance=pd.DataFrame(rows),
    )


@dataclass(eq=False, repr=False)
class IpwResult(EstimateResult):
    """Result of :func:`ipw` with the balance before and after weighting."""

    balance_before: BalanceTable | None = None
    balance_after: BalanceTable | None = None
    propensity: pd.Series | None = None
    weights: pd.Series | None = None

    def _extra_html(self) -> str:
        return self.balance_after._repr_html_()


def ipw(
    df: pd.DataFrame,
    *,
    outcome: str,
    treatment: str,
    covariates: Sequence[str],
    estimand: Literal["ATE", "ATT"] = "ATE",
    link: Literal["logit", "probit"] = "logit",
    labels: Labels = "en",
) -> IpwResult:
    """Inverse-probability-weighted treatment effect (statsmodels ``TreatmentEffect.ipw``).

    The propensity score is a logit (or probit) of ``treatment`` on ``covariates``; the
    effect is the difference of normalised (Hajek) weighted means, with standard errors
    from the joint GMM system of propensity and outcome moments (as Stata's
    ``teffects ipw``), so the uncertainty of the estimated score is accounted for.
    Assumes that, given the covariates, treatment is as good as random (no unmeasured
    confounding) and that everyone had a chance of either arm (overlap; check the
    propensity scores and ``balance_after``).

    Inference: large-sample GMM, so intervals and p-values are normal (z) based, as
    Stata's ``teffects ipw`` prints them; this is the one estimator here without t
    intervals, because the GMM covariance has no finite-sample degrees of freedom.

    Parameters
    ----------
    df
        One row per person.
    outcome, treatment
        Outcome and 0/1 treatment column.
    covariates
        Covariates of the propensity model (include squares/interactions as columns).
    estimand
        ``"ATE"`` (everyone) or ``"ATT"`` (the treated).
    link
        Propensity model.
    labels
        Language of the rendering.

    Returns
    -------
    IpwResult
        ``tidy()`` has the effect and the two weighted potential-outcome means; ``.result``
        is the statsmodels ``TreatmentEffectResults``; ``.balance_before`` and
        ``.balance_after`` are :class:`BalanceTable`; ``.propensity`` and ``.weights``.
    """
    covs = as_list(covariates)
    if not covs:
        raise ValueError("ipw needs at least one covariate")
    require_columns(df, [outcome, treatment, *covs])
    data = complete_rows(df, [outcome, treatment, *covs])
    d = binary_series(data, treatment)
    names = safe_names(covs)
    frame = data[covs].rename(columns=names).astype(float).assign(d=d)
    fit_select = smf.probit if link == "probit" else smf.logit
    select = fit_select(" + ".join(["d ~ 1", *names.values()]), frame).fit(disp=0)
    y = data[outcome].astype(float).to_numpy()
    teff = TreatmentEffect(sm.OLS(y, np.ones((len(y), 1))), d.to_numpy(), results_select=select)
    res = teff.ipw(effect_group="all" if estimand == "ATE" else 1)
    ci = res.conf_int()
    terms = [estimand, "mean_untreated_potential", "mean_treated_potential"]
    rows = [
        {
            "term": term,
            "estimate": float(res.effect[i]),
            "std_error": float(res.sd[i]),
            "ci_low": float(ci[i, 0]),
            "ci_high": float(ci[i, 1]),
            "p_value": float(res.pvalue[i]),
            "n": len(y),
        }
        for i, term in enumerate(terms)
    ]
    p = pd.Series(select.predict(), index=data.index, name="propensity")
    w = d / p + (1 - d) / (1 - p) if estimand == "ATE" else d + (1 - d) * p / (1 - p)
    return IpwResult(
        estimator="ipw",
        title=f"IPW ({estimand}, {link} propensity): {outcome}",
        table=tidy_frame(rows),
        result=res,
        nobs=len(y),
        notes=("normalised weights; GMM standard errors including the propensity model",),
        labels=labels,
        balance_before=balance(data, treatment=treatment, covariates=covs, labels=labels),
        balance_after=balance(
            data, treatment=treatment, covariates=covs, weights=w.rename("w"), labels=labels
        ),
        propensity=p,
        weights=w.rename("weight"),
    )
