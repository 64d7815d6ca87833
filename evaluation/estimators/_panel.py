"""Difference-in-differences, panel fixed effects and event studies with rolling entry."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from linearmodels.shared.hypotheses import WaldTestStatistic
from scipy import stats

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
from ._simple import fit_ols, ols_row

# ---------------------------------------------------------------------------------------------
# 2x2 difference-in-differences
# ---------------------------------------------------------------------------------------------


def means_table(y: pd.Series, treat: pd.Series, post: pd.Series) -> pd.DataFrame:
    """Group means before/after and their differences, in the layout of ieddtab.

    Rows: control, treatment, difference (treatment - control); columns: N and mean before
    and after, and the change (after - before). The bottom-right cell is the
    difference-in-differences of the means.
    """
    frame = pd.DataFrame({"y": y, "treat": treat, "post": post})
    cells = frame.groupby(["treat", "post"])["y"].agg(["size", "mean"]).unstack("post")
    table = pd.DataFrame(
        {
            "n_before": cells[("size", 0)],
            "mean_before": cells[("mean", 0)],
            "n_after": cells[("size", 1)],
            "mean_after": cells[("mean", 1)],
        }
    ).rename(index={0: "control", 1: "treatment"})
    table["change"] = table["mean_after"] - table["mean_before"]
    diff = table.loc["treatment"] - table.loc["control"]
    diff[["n_before", "n_after"]] = np.nan
    table.loc["difference"] = diff
    table.index.name = "group"
    return table


@dataclass(eq=False, repr=False)
class DidResult(EstimateResult):
    """Result of :func:`did`; ``means_table`` has the group means before and after."""

    means_table: pd.DataFrame | None = None

    def _extra_html(self) -> str:
        return frame_to_html(self.means_table.reset_index(), self.labels)


def did(
    df: pd.DataFrame,
    *,
    outcome: str,
    treatment: str,
    post: str,
    covariates: Sequence[str] | None = None,
    cluster: str | None = None,
    cov_type: Literal["cluster", "HC1", "HC3", "nonrobust"] = "cluster",
    labels: Labels = "en",
) -> DidResult:
    """Two-group, two-period difference-in-differences.

    OLS of ``outcome`` on ``treatment``, ``post`` and their product (plus optional
    ``covariates``); the coefficient of the product is the DiD estimate. Without covariates
    it equals the difference of the changes in the four group means (``means_table``).
    Identifying assumption, in plain words: without the programme, the treated group's mean
    would have changed by as much as the comparison group's (parallel trends), and the
    groups did not change their behaviour in anticipation of the programme.

    Parameters
    ----------
    df
        Long data, one row per person and period (repeated measures of the same persons or
        repeated cross-sections).
    outcome
        Outcome column.
    treatment, post
        0/1 columns: member of the treated group; observation after the start.
    covariates
        Optional covariates.
    cluster
        Cluster column, usually the person id for repeated measurements (or the group/cycle).
    cov_type
        ``"cluster"`` (default, needs ``cluster``), or ``"HC1"``, ``"HC3"``, ``"nonrobust"``
        for independent observations (e.g. repeated cross-sections).
    labels
        Language of the rendering.

    Notes
    -----
    Inference: statsmodels OLS with t-based intervals - t(G - 1) and the factor
    G/(G-1) (N-1)/(N-K) for clustered SEs (Stata ``regress, vce(cluster)``), t(n - k)
    otherwise. With few clusters add :func:`wild_cluster_bootstrap`.

    Returns
    -------
    DidResult
        ``tidy()`` has the row ``treatment x post``; ``.means_table`` the 2x2 group means;
        ``.result`` the statsmodels OLS result.
    """
    covs = as_list(covariates)
    if cov_type == "cluster" and cluster is None:
        raise ValueError(
            "cov_type='cluster' needs cluster=<column>; use cov_type='HC1' for independent rows"
        )
    require_columns(df, [outcome, treatment, post, *covs, cluster])
    data = complete_rows(df, [outcome, treatment, post, *covs, *([cluster] if cluster else [])])
    treat, after = binary_series(data, treatment), binary_series(data, post)
    names = safe_names(covs)
    frame = (
        data[covs]
        .rename(columns=names)
        .assign(y=data[outcome].astype(float), treat=treat, post=after)
    )
    formula = " + ".join(["y ~ treat * post", *names.values()])
    groups = data[cluster] if cov_type == "cluster" else None
    result = fit_ols(formula, frame, cov_type, groups)
    return DidResult(
        estimator="did",
        title=f"Difference-in-differences: {outcome}",
        table=tidy_frame([ols_row(result, "treat:post", f"{treatment} x {post}")]),
        result=result,
        nobs=int(result.nobs),
        notes=(
            f"SE: {'cluster-robust by ' + cluster if cov_type == 'cluster' else cov_type}",
            "assumes parallel trends and no anticipation",
        ),
        labels=labels,
        params={f"{treatment} x {post}": "treat:post"},
        means_table=means_table(frame["y"], treat, after),
    )


# ---------------------------------------------------------------------------------------------
# Panel fixed effects
# ---------------------------------------------------------------------------------------------


#: Small-sample conventions of fixest's defaults (``ssc(adj = TRUE, fixef.K = "nested",
#: cluster.adj = TRUE)``, called ``K.fixef = "nonnested"`` since fixest 0.13), in pyfixest's
#: spelling. K counts the regressors and every fixed effect that is not nested in the
#: clusters (the time effects, less one per extra dimension); nested ones (the person effects
#: when clustering by person) count once. Clustered: G/(G-1) (N-1)/(N-K), t(G - 1);
#: classical: sigma^2 = RSS/(N-K), t(N - K); robust: HC1 with N/(N-K), t(N - K).
FIXEST_SSC = {"k_adj": True, "k_fixef": "nonnested", "G_adj": True, "G_df": "min"}

#: What ``cov_type`` means in pyfixest's ``vcov`` argument.
_VCOV = {"unadjusted": "iid", "robust": "hetero"}

PANEL_INFERENCE = (
    "pyfixest feols with fixest's small-sample defaults: clustered SEs with "
    "G/(G-1)(N-1)/(N-K), K counting the regressors and the fixed effects not nested in the "
    "clusters (time effects count, person effects nested in person clusters do not), "
    "t(G-1) intervals; classical and robust (HC1) SEs with K including all fixed effects "
    "and t(N-K) intervals"
)


def fit_feols(
    frame: pd.DataFrame,
    regressors: Sequence[str],
    fixed_effects: Sequence[str],
    *,
    cov_type: str,
    cluster: str | None,
):
    """Fit ``y ~ regressors | fixed_effects`` with pyfixest ``feols`` (fixest conventions).

    ``frame`` holds ``y``, the regressors, the fixed-effect columns (integer codes) and, for
    ``cov_type="clustered"``, the column ``cluster``. Singletons are kept (fixest's
    default; Stata's ``reghdfe`` drops them, which changes N and K but not the estimates).
    """
    import pyfixest as pf

    rhs = " + ".join(regressors)
    formula = f"y ~ {rhs} | {' + '.join(fixed_effects)}" if fixed_effects else f"y ~ {rhs}"
    if cov_type == "clustered":
        vcov: str | dict = {"CRV1": cluster}
    elif cov_type in _VCOV:
        vcov = _VCOV[cov_type]
    else:
        raise ValueError(
            f"cov_type must be 'clustered', 'robust' or 'unadjusted', got {cov_type!r}"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return pf.feols(
            formula,
            data=frame,
            vcov=vcov,
            ssc=pf.ssc(**FIXEST_SSC),
            fixef_rm="none",
            copy_data=False,
        )


def feols_rows(fit, names: dict[str, str], level: float = 0.95) -> list[dict]:
    """Tidy rows (t-based CI with pyfixest's degrees of freedom) for ``original -> safe``."""
    coef, se, p = fit.coef(), fit.se(), fit.pvalue()
    ci = fit.confint(alpha=1 - level)
    missing = [o for o, safe in names.items() if safe not in coef.index]
    if missing:
        raise ValueError(
            f"regressor(s) {', '.join(map(repr, missing))} are collinear with the fixed "
            "effects or each other and cannot be estimated"
        )
    return [
        {
            "term": original,
            "estimate": float(coef[safe]),
            "std_error": float(se[safe]),
            "ci_low": float(ci.loc[safe].iloc[0]),
            "ci_high": float(ci.loc[safe].iloc[1]),
            "p_value": float(p[safe]),
            "n": int(fit._N),
        }
        for original, safe in names.items()
    ]


def t_row(term: str, estimate: float, std_error: float, n: int, df_t: float, level=0.95) -> dict:
    """Tidy row with a t(df_t) interval and p-value (for linear combinations of a fit)."""
    q = stats.t.ppf(0.5 + level / 2, df_t)
    p = 2 * stats.t.sf(abs(estimate / std_error), df_t) if std_error > 0 else np.nan
    return {
        "term": term,
        "estimate": float(estimate),
        "std_error": float(std_error),
        "ci_low": float(estimate - q * std_error),
        "ci_high": float(estimate + q * std_error),
        "p_value": float(p),
        "n": int(n),
    }


def _codes(values: pd.Series | np.ndarray) -> np.ndarray:
    return pd.factorize(np.asarray(values), sort=False)[0]


def panel_fe(
    df: pd.DataFrame,
    *,
    outcome: str,
    regressors: Sequence[str],
    entity: str,
    time: str,
    entity_effects: bool = True,
    time_effects: bool = True,
    absorb: Sequence[str] | None = None,
    cluster: str | None = None,
    cov_type: Literal["clustered", "robust", "unadjusted"] = "clustered",
    labels: Labels = "en",
) -> EstimateResult:
    """Linear panel regression with entity and time fixed effects (pyfixest ``feols``).

    Parameters
    ----------
    df
        Long data, one row per entity (e.g. person) and period (e.g. month).
    outcome, regressors
        Outcome column and time-varying regressors (time-invariant ones are absorbed).
    entity, time
        Panel identifiers; one row per entity and period.
    entity_effects, time_effects
        Include person and period fixed effects.
    absorb
        Further fixed effects (columns), e.g. entry cohorts instead of persons as in
        ``etwfe``'s default.
    cluster
        Cluster column for ``cov_type="clustered"``; default the entity.
    cov_type
        ``"clustered"`` (default, CRV1), ``"robust"`` (HC1) or ``"unadjusted"``
        (classical).
    labels
        Language of the rendering.

    Returns
    -------
    EstimateResult
        One tidy row per regressor; ``.result`` is the pyfixest ``Feols`` result (its
        ``wildboottest()``, ``wald_test()`` and ``tidy()`` work as documented there).

    Notes
    -----
    Inference follows R's fixest defaults exactly (``ssc(adj = TRUE, fixef.K = "nested",
    cluster.adj = TRUE)``, t.df = "min"): clustered SEs are multiplied by
    G/(G-1) (N-1)/(N-K), where K counts the regressors and the fixed effects *not* nested in
    the clusters - the time effects count (less one, the redundant level), the person
    effects nested in person clusters count only once - and intervals and p-values use
    t(G - 1). This is also Stata's ``reghdfe`` convention (``reghdfe`` drops singleton
    groups first; here they are kept, as in fixest, which changes N and K only when there
    are singletons). Stata's ``xtreg, fe vce(cluster id)`` with ``i.year`` counts the year
    dummies and the constant but no person effect, which is the same K when clustering by
    person; ``areg ..., absorb(id) vce(cluster id)`` counts every person effect and gives
    larger SEs. Classical
    degrees of freedom (Stata ``xtreg, fe``, Wooldridge's tables), robust ones HC1 with
    N/(N-K) (Stata ``areg, robust``); both with t(N - K). For few clusters (group cycles)
    use :func:`wild_cluster_bootstrap` on the result.

    Backend: ``benchmarks/bench_panel.py`` (1,000,000 person-months) measures this function
    against pyfixest and linearmodels' ``PanelOLS``; see the README's benchmark table.
    """
    regs = as_list(regressors)
    if not regs:
        raise ValueError("panel_fe needs at least one regressor")
    extra_fe = as_list(absorb)
    cluster_col = cluster or entity
    require_columns(df, [outcome, entity, time, *regs, *extra_fe, cluster_col])
    needed = list(dict.fromkeys([entity, time, outcome, *regs, *extra_fe, cluster_col]))
    data = df.loc[:, needed].dropna()
    if data.empty:
        raise ValueError(f"no complete rows in columns {needed}")
    entity_codes, time_codes = _codes(data[entity]), _codes(data[time])
    cell = pd.Series(entity_codes.astype(np.int64) * (time_codes.max() + 1) + time_codes)
    if cell.duplicated().any():
        raise ValueError(f"more than one row per {entity!r} and {time!r}")
    names = safe_names(regs)
    # one dict of arrays, so that pandas builds a consolidated frame once (pyfixest copies
    # fragmented frames block by block)
    columns = {safe: data[original].to_numpy(dtype=float) for original, safe in names.items()}
    columns["y"] = data[outcome].to_numpy(dtype=float)
    fes = []
    if entity_effects:
        columns["fe_entity"] = entity_codes
        fes.append("fe_entity")
    if time_effects:
        columns["fe_time"] = time_codes
        fes.append("fe_time")
    for i, col in enumerate(extra_fe):
        columns[f"fe_{i}"] = _codes(data[col])
        fes.append(f"fe_{i}")
    if cluster_col == entity and entity_effects:
        cluster_name = "fe_entity"
    else:
        columns["cl"] = entity_codes if cluster_col == entity else _codes(data[cluster_col])
        cluster_name = "cl"
    frame = pd.DataFrame(columns)
    fit = fit_feols(frame, list(names.values()), fes, cov_type=cov_type, cluster=cluster_name)
    if cov_type == "clustered":
        se_note = f"cluster-robust by {cluster_col} (CRV1), t({fit._df_t:g})"
    else:
        se_note = f"{cov_type} ({_VCOV[cov_type]}), t({fit._df_t:g})"
    effects = f"entity={entity_effects}, time={time_effects}"
    if extra_fe:
        effects += ", absorbed: " + ", ".join(extra_fe)
    return EstimateResult(
        estimator="panel_fe",
        title=f"Panel fixed effects: {outcome}",
        table=tidy_frame(feols_rows(fit, names)),
        result=fit,
        nobs=int(fit._N),
        notes=(
            f"effects: {effects}; SE: {se_note}",
            f"small-sample factor as fixest/reghdfe (K = {fit._df_k})",
        ),
        labels=labels,
        params=dict(names),
    )


# ---------------------------------------------------------------------------------------------
# Event study with rolling entry
# ---------------------------------------------------------------------------------------------


def _cohorts(data: pd.DataFrame, unit: str, cohort: str, periods: np.ndarray) -> pd.Series:
    """Entry period per row; NaN for never treated (missing, 0 or after the last period)."""
    g = pd.to_numeric(data[cohort], errors="coerce").astype(float)
    g = g.where(g > 0)
    g = g.where(g <= periods.max())
    if (data.assign(_g=g).groupby(unit)["_g"].nunique(dropna=False) > 1).any():
        raise ValueError(f"column {cohort!r} must be constant within each {unit!r}")
    return g


def _cell_dummies(g: pd.Series, t: pd.Series, cells: list[tuple[float, float]]) -> pd.DataFrame:
    # every row falls in at most one cell: fill one dense block instead of one column each
    position = pd.MultiIndex.from_tuples(cells).get_indexer(pd.MultiIndex.from_arrays([g, t]))
    block = np.zeros((len(g), len(cells)))
    rows = np.flatnonzero(position >= 0)
    block[rows, position[rows]] = 1.0
    return pd.DataFrame(block, index=g.index, columns=[f"c{i}" for i in range(len(cells))])


def _aggregate(
    params: pd.Series, cov: pd.DataFrame, weights: pd.Series, term: str, n: int, df_t: float
) -> dict:
    """Weighted average of cell effects with its delta-method SE sqrt(w' V w), t(df_t)."""
    w = weights / weights.sum()
    est = float(w @ params[w.index])
    se = float(np.sqrt(w @ cov.loc[w.index, w.index] @ w))
    return t_row(term, est, se, n, df_t)


def _fit_cells(y: pd.Series, exog: pd.DataFrame, units, times, clusters):
    """pyfixest fit of y on ``exog`` with unit and period effects, clustered (fixest ssc).

    Returns the fit, its coefficients and covariance (labelled by the columns of ``exog``).
    """
    ids = pd.DataFrame({"fe_unit": _codes(units), "fe_time": _codes(times), "cl": _codes(clusters)})
    frame = pd.concat(
        [
            pd.DataFrame(exog.to_numpy(dtype=float), columns=exog.columns),
            pd.DataFrame({"y": y.to_numpy(dtype=float)}),
            ids,
        ],
        axis=1,
    )
    fit = fit_feols(
        frame, list(exog.columns), ["fe_unit", "fe_time"], cov_type="clustered", cluster="cl"
    )
    params = fit.coef()
    dropped = [c for c in exog.columns if c not in params.index]
    if dropped:
        raise ValueError(
            f"{len(dropped)} effect cell(s) are collinear with the fixed effects "
            "(too few comparison observations); narrow max_event_time or the period"
        )
    cov = pd.DataFrame(fit._vcov, index=params.index, columns=params.index)
    return fit, params, cov


@dataclass(eq=False, repr=False)
class EventStudyResult(EstimateResult):
    """Result of :func:`event_study`.

    ``tidy()`` has the overall ATT and one row per event time ``e`` (0 = period of entry).
    ``att_gt`` has the effect of every entry cohort g in every period t; ``event_time``
    the event-time aggregation; ``pretrend`` the lead coefficients of the parallel-trends
    check with ``pretrend_wald`` their joint Wald test.
    """

    att_gt: pd.DataFrame | None = None
    event_time: pd.DataFrame | None = None
    pretrend: pd.DataFrame | None = None
    pretrend_wald: object | None = None

    def _extra_html(self) -> str:
        return frame_to_html(self.pretrend, self.labels) if self.pretrend is not None else ""


def _pretrend(y, data, g, t, unit, leads, cluster_series):
    """Lead coefficients estimated on not-yet-treated observations only (BJS 2024, test 1).

    Regress the outcome on unit and period effects and dummies for 1..``leads`` periods
    before entry, using only observations before entry (and never-treated units). Under
    parallel trends and no anticipation the leads are zero; the reference are periods more
    than ``leads`` periods before entry and never-treated units.
    """
    untreated = g.isna() | (t < g)
    rel = (t - g)[untreated]
    lead_cols = {f"lead{k}": (rel == -k).astype(float) for k in range(leads, 0, -1)}
    exog = pd.DataFrame(lead_cols, index=rel.index)
    exog = exog.loc[:, exog.sum() > 0]
    if exog.empty:
        return None, None
    sub = data.loc[untreated]
    fit, _, _ = _fit_cells(y[untreated], exog, sub[unit], t[untreated], cluster_series[untreated])
    names = {f"e={-int(c[4:])}": c for c in exog.columns}
    rows = feols_rows(fit, names)
    k = exog.shape[1]
    test = fit.wald_test(R=np.eye(k), q=np.zeros(k), distribution="F")
    wald = WaldTestStatistic(
        float(test["statistic"]),
        "all lead coefficients are zero",
        df=k,
        df_denom=int(fit._dfd),
        name="pre-trend F test (clustered, fixest conventions)",
    )
    return tidy_frame(rows), wald


def event_study(
    df: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    covariates: Sequence[str] | None = None,
    comparison: Literal["not_yet_treated", "never_treated"] = "not_yet_treated",
    leads: int = 3,
    max_event_time: int | None = None,
    cluster: str | None = None,
    labels: Labels = "en",
) -> EventStudyResult:
    """Event study for staggered (rolling) programme entry with a not-yet-treated comparison.

    Method: the "extended two-way fixed effects" regression of Wooldridge (2021) - numerically
    the imputation estimator of Borusyak, Jaravel & Spiess (2024) - on pyfixest's
    ``feols``: the outcome on unit and period fixed effects plus one dummy for every cell
    (entry cohort g, period t) with t >= g. Because every treated cell has its own dummy, the
    unit and period effects are estimated only from observations of units *before* they
    enter (and of units that never enter): each cohort is compared, period by period, with
    the units not yet treated. The cell coefficients are the cohort-period effects ATT(g,t)
    of Callaway & Sant'Anna (2021); they are averaged, weighted by the number of treated
    observations per cell, into effects by event time e = t - g and an overall ATT, with
    delta-method SEs from the cluster-robust covariance (clustered by unit).

    Inference: the cluster-robust covariance uses fixest's defaults (see :func:`panel_fe`:
    G/(G-1) (N-1)/(N-K), period effects counted in K, unit effects nested in the unit
    clusters not), and every interval and p-value - cells, event-time averages, the ATT
    and the leads - is t-based with G - 1 degrees of freedom, as fixest and Stata's
    ``margins`` after ``reghdfe``. (etwfe's ``emfx`` prints normal intervals for its
    averages; the SEs are the same.) ``pretrend_wald`` is the F test of all leads with
    (leads, G - 1) degrees of freedom.

    ``comparison="never_treated"`` adds dummies for the pre-entry cells except the period
    just before entry (g - 1), so that only never-treated units serve as comparison; without
    covariates its ATT(g,t) equal Callaway & Sant'Anna's with never-treated controls.

    Assumptions, in plain words:

    - parallel trends: had they not entered yet, participants' outcomes would have moved
      over the calendar like those of people who had not entered yet (or never enter);
    - no anticipation: outcomes do not change before entry because entry is coming
      (``pretrend`` checks this: the lead coefficients should be near zero);
    - effects may differ by cohort and grow or fade with time since entry; the estimator
      does not assume them constant.

    Parameters
    ----------
    df
        Long data, one row per unit and period.
    outcome
        Outcome column.
    unit, time
        Unit id and period (integer periods, e.g. a running month index or a year).
    cohort
        Period of entry per unit; missing, 0 or a value after the last period = never treated.
    covariates
        Optional time-invariant (baseline) covariates: they get period-specific slopes
        (conditional parallel trends) and interact with the cells, centred at the cell mean,
        so that ATT(g,t) stays the average effect in the cell (as R's ``etwfe``).
    comparison
        ``"not_yet_treated"`` (default) or ``"never_treated"``.
    leads
        Number of pre-entry periods in the parallel-trends check (0 to skip).
    max_event_time
        Optional window: observations more than this many periods after entry are dropped
        (not used as comparison either). Each cohort-period cell is one regressor, so
        monthly data with many entry cohorts should use a window (e.g. 12 or 24 months).
    cluster
        Cluster column; default ``unit``.
    labels
        Language of the rendering.

    Returns
    -------
    EventStudyResult
    """
    covs = as_list(covariates)
    cluster_col = cluster or unit
    require_columns(df, [outcome, unit, time, cohort, *covs, cluster_col])
    extra = [cluster_col] if cluster_col not in (unit, time) else []
    data = df.dropna(subset=[outcome, unit, time, *covs, *extra]).copy()
    if data.duplicated([unit, time]).any():
        raise ValueError(f"more than one row per {unit!r} and {time!r}")
    if not pd.api.types.is_numeric_dtype(data[time]):
        raise ValueError(f"column {time!r} must hold integer periods (e.g. a month index)")
    periods = np.sort(data[time].unique())
    data["_g"] = _cohorts(data, unit, cohort, periods)
    notes = [
        "comparison: " + comparison.replace("_", "-"),
        f"SE clustered by {cluster_col} (CRV1, fixest small-sample factor), t(G-1) intervals",
    ]
    always = data["_g"] <= periods.min()
    if always.any():
        notes.append(
            f"dropped {data.loc[always, unit].nunique()} units treated from the first period"
        )
        data = data[~always]
    never = data["_g"].isna()
    if comparison == "never_treated" and not never.any():
        raise ValueError("comparison='never_treated' needs units that never enter")
    if not never.any():
        last = data["_g"].max()
        notes.append(f"no never-treated units: periods from {last:g} on (all treated) dropped")
        data = data[data[time] < last]
    if max_event_time is not None:
        beyond = data["_g"].notna() & (data[time] - data["_g"] > max_event_time)
        if beyond.any():
            notes.append(
                f"dropped {int(beyond.sum())} observations more than {max_event_time} periods after entry"
            )
            data = data[~beyond]
    for c in covs:
        if (data.groupby(unit)[c].nunique() > 1).any():
            raise ValueError(f"covariate {c!r} must be time-invariant (a baseline value)")
    data = data.set_index([unit, time], drop=False).sort_index()
    g, t = data["_g"], data[time].astype(float)
    treated = g.notna() & (t >= g)
    post_cells = sorted(set(zip(g[treated], t[treated], strict=True)))
    if not post_cells:
        raise ValueError("no treated observations after entry")
    pre_cells = []
    if comparison == "never_treated":
        pre = g.notna() & (t < g - 1)
        pre_cells = sorted(set(zip(g[pre], t[pre], strict=True)))
    cells = post_cells + pre_cells
    exog = _cell_dummies(g, t, cells)
    cell_names = list(exog.columns)
    slopes: dict[str, pd.Series] = {}
    for i, c in enumerate(covs):
        x = data[c].astype(float)
        for p in periods[1:]:
            slopes[f"x{i}_t{p}"] = x * (t == p)
        for name in cell_names:
            in_cell = exog[name] == 1
            slopes[f"{name}_x{i}"] = (x - x[in_cell].mean()) * exog[name]
    if slopes:
        exog = pd.concat([exog, pd.DataFrame(slopes, index=exog.index)], axis=1)
    clusters = pd.Series(np.asarray(data[cluster_col]), index=data.index)
    y = data[outcome].astype(float)
    result, params, cov = _fit_cells(y, exog, data[unit], data[time], clusters)
    df_t = float(result._df_t)
    counts = exog[cell_names].sum()
    cell_rows = feols_rows(
        result, {f"g={cg:g},t={ct:g}": n for n, (cg, ct) in zip(cell_names, cells, strict=True)}
    )
    att_rows = [
        row | {"n": int(counts[name]), "cohort": cg, "time": ct, "event_time": ct - cg}
        for row, name, (cg, ct) in zip(cell_rows, cell_names, cells, strict=True)
    ]
    att_gt = tidy_frame(att_rows)
    post_names = cell_names[: len(post_cells)]
    event_rows = []
    rel = att_gt["event_time"].to_numpy()
    for e in np.unique(rel[: len(post_cells)]):
        members = [n for n, r in zip(post_names, rel, strict=False) if r == e]
        event_rows.append(
            _aggregate(
                params, cov, counts[members], f"e={int(e)}", int(counts[members].sum()), df_t
            )
        )
    overall = _aggregate(
        params, cov, counts[post_names], "ATT", int(counts[post_names].sum()), df_t
    )
    event_time = tidy_frame(event_rows)
    pretrend, wald = (None, None)
    if leads > 0:
        pretrend, wald = _pretrend(y, data, g, t, unit, leads, clusters)
    return EventStudyResult(
        estimator="event_study",
        title=f"Event study: {outcome}",
        table=tidy_frame([overall, *event_rows]),
        result=result,
        nobs=int(result._N),
        notes=tuple(notes),
        labels=labels,
        att_gt=att_gt,
        event_time=event_time,
        pretrend=pretrend,
        pretrend_wald=wald,
    )
