"""Difference-in-differences, panel fixed effects and event studies with rolling entry."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from linearmodels.panel import PanelOLS

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
        means_table=means_table(frame["y"], treat, after),
    )


# ---------------------------------------------------------------------------------------------
# Panel fixed effects
# ---------------------------------------------------------------------------------------------


def _nested(df: pd.DataFrame, inner: str, outer: str) -> bool:
    """True if every value of ``inner`` lies in a single value of ``outer``."""
    return bool((df.groupby(inner)[outer].nunique() <= 1).all())


def fit_panel(
    y: pd.Series,
    exog: pd.DataFrame,
    *,
    entity_effects: bool,
    time_effects: bool,
    cov_type: str,
    clusters: pd.Series | None,
    effects_nested: bool,
    check_rank: bool = True,
):
    """Fit linearmodels' PanelOLS; ``y``/``exog`` are indexed by (entity, time).

    Clustered SEs use the small-sample factor of Stata's ``xtreg, fe vce(cluster)`` and
    ``reghdfe``: G/(G-1) * (N-1)/(N-K), where fixed effects nested in the clusters (the
    person effects when clustering by person) are not counted in K.
    """
    model = PanelOLS(
        y,
        exog,
        entity_effects=entity_effects,
        time_effects=time_effects,
        drop_absorbed=False,
        check_rank=check_rank,
    )
    if cov_type != "clustered":
        return model.fit(cov_type=cov_type)
    cluster_frame = pd.DataFrame({"cluster": pd.factorize(clusters)[0]}, index=y.index)
    return model.fit(
        cov_type="clustered",
        clusters=cluster_frame,
        debiased=True,
        group_debias=True,
        auto_df=False,
        count_effects=not effects_nested,
    )


def _panel_rows(result, names: dict[str, str]) -> list[dict]:
    ci = result.conf_int()
    return [
        {
            "term": original,
            "estimate": float(result.params[safe]),
            "std_error": float(result.std_errors[safe]),
            "ci_low": float(ci.loc[safe, "lower"]),
            "ci_high": float(ci.loc[safe, "upper"]),
            "p_value": float(result.pvalues[safe]),
            "n": int(result.nobs),
        }
        for original, safe in names.items()
    ]


def _panel_frame(df: pd.DataFrame, entity: str, time: str, columns: list[str]) -> pd.DataFrame:
    data = complete_rows(df, [entity, time, *columns])
    if data.duplicated([entity, time]).any():
        raise ValueError(f"more than one row per {entity!r} and {time!r}")
    return data.set_index([entity, time]).sort_index()


def panel_fe(
    df: pd.DataFrame,
    *,
    outcome: str,
    regressors: Sequence[str],
    entity: str,
    time: str,
    entity_effects: bool = True,
    time_effects: bool = True,
    cluster: str | None = None,
    cov_type: Literal["clustered", "robust", "unadjusted"] = "clustered",
    labels: Labels = "en",
) -> EstimateResult:
    """Linear panel regression with entity and time fixed effects (linearmodels PanelOLS).

    Parameters
    ----------
    df
        Long data, one row per entity (e.g. person) and period (e.g. month).
    outcome, regressors
        Outcome column and time-varying regressors (time-invariant ones are absorbed).
    entity, time
        Panel identifiers; ``time`` should be sortable (integer, date or period).
    entity_effects, time_effects
        Include person and period fixed effects.
    cluster
        Cluster column for ``cov_type="clustered"``; default the entity.
    cov_type
        ``"clustered"`` (default), ``"robust"`` (White) or ``"unadjusted"`` (classical).
    labels
        Language of the rendering.

    Returns
    -------
    EstimateResult
        One tidy row per regressor; ``.result`` is the PanelOLS result.

    Notes
    -----
    The backend was chosen with ``benchmarks/bench_panel_fe.py`` (1,000,000 person-months,
    100,000 persons x 10 months, person + month effects, SEs clustered by person, 2 cores):
    PanelOLS 9.6 s and 840 MB peak RSS, pyfixest 5.0 s and 590 MB; dummy-variable OLS in
    statsmodels needs 16 s for 1,000 persons, 45 s (1.6 GB) for 2,000 and does not finish
    in 300 s for 5,000. PanelOLS is fast enough and already a dependency, so it is used.
    Clustered SEs use Stata's xtreg/reghdfe small-sample factor (see :func:`fit_panel`).
    """
    regs = as_list(regressors)
    if not regs:
        raise ValueError("panel_fe needs at least one regressor")
    cluster_col = cluster or entity
    require_columns(df, [outcome, entity, time, *regs, cluster_col])
    extra = [cluster_col] if cluster_col not in (entity, time) else []
    data = _panel_frame(df, entity, time, [outcome, *regs, *extra])
    names = safe_names(regs)
    exog = data[regs].rename(columns=names).astype(float)
    clusters = data.index.get_level_values(entity) if cluster_col == entity else data[cluster_col]
    nested = cluster_col == entity or _nested(data.reset_index(), entity, cluster_col)
    result = fit_panel(
        data[outcome].astype(float),
        exog,
        entity_effects=entity_effects,
        time_effects=time_effects,
        cov_type=cov_type,
        clusters=pd.Series(np.asarray(clusters), index=data.index),
        effects_nested=nested,
    )
    se_note = f"cluster-robust by {cluster_col}" if cov_type == "clustered" else cov_type
    return EstimateResult(
        estimator="panel_fe",
        title=f"Panel fixed effects: {outcome}",
        table=tidy_frame(_panel_rows(result, names)),
        result=result,
        nobs=int(result.nobs),
        notes=(f"effects: entity={entity_effects}, time={time_effects}; SE: {se_note}",),
        labels=labels,
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
    return pd.DataFrame(
        {f"c{i}": ((g == cg) & (t == ct)).astype(float) for i, (cg, ct) in enumerate(cells)},
        index=g.index,
    )


def _aggregate(params: pd.Series, cov: pd.DataFrame, weights: pd.Series, term: str, n: int) -> dict:
    """Weighted average of cell effects with its delta-method SE sqrt(w' V w)."""
    w = weights / weights.sum()
    est = float(w @ params[w.index])
    se = float(np.sqrt(w @ cov.loc[w.index, w.index] @ w))
    return normal_row(term, est, se, n)


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
    res = fit_panel(
        y[untreated],
        exog,
        entity_effects=True,
        time_effects=True,
        cov_type="clustered",
        clusters=cluster_series[untreated],
        effects_nested=True,
    )
    rows = [
        normal_row(f"e={-int(c[4:])}", res.params[c], res.std_errors[c], int(res.nobs))
        for c in exog.columns
    ]
    k = exog.shape[1]
    wald = res.wald_test(restriction=np.eye(k), value=np.zeros(k))
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
    the imputation estimator of Borusyak, Jaravel & Spiess (2024) - on linearmodels'
    PanelOLS: the outcome on unit and period fixed effects plus one dummy for every cell
    (entry cohort g, period t) with t >= g. Because every treated cell has its own dummy, the
    unit and period effects are estimated only from observations of units *before* they
    enter (and of units that never enter): each cohort is compared, period by period, with
    the units not yet treated. The cell coefficients are the cohort-period effects ATT(g,t)
    of Callaway & Sant'Anna (2021); they are averaged, weighted by the number of treated
    observations per cell, into effects by event time e = t - g and an overall ATT, with
    delta-method SEs from the cluster-robust covariance (clustered by unit).

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
        (not used as comparison either). Each cohort-period cell is one regressor, and
        linearmodels' checks grow quadratically with their number, so monthly data with many
        entry cohorts should use a window (e.g. 12 or 24 months).
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
    notes = ["comparison: " + comparison.replace("_", "-"), "SE clustered by " + cluster_col]
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
    for i, c in enumerate(covs):
        x = data[c].astype(float)
        for p in periods[1:]:
            exog[f"x{i}_t{p}"] = x * (t == p)
        for name in cell_names:
            in_cell = exog[name] == 1
            exog[f"{name}_x{i}"] = (x - x[in_cell].mean()) * exog[name]
    clusters = pd.Series(np.asarray(data[cluster_col]), index=data.index)
    nested = cluster_col == unit or _nested(data.reset_index(drop=True), unit, cluster_col)
    y = data[outcome].astype(float)
    result = fit_panel(
        y,
        exog,
        entity_effects=True,
        time_effects=True,
        cov_type="clustered",
        clusters=clusters,
        effects_nested=nested,
        check_rank=False,
    )
    params, cov = result.params, result.cov
    counts = exog[cell_names].sum()
    att_rows = []
    for name, (cg, ct) in zip(cell_names, cells, strict=True):
        row = normal_row(
            f"g={cg:g},t={ct:g}", params[name], result.std_errors[name], int(counts[name])
        )
        att_rows.append(row | {"cohort": cg, "time": ct, "event_time": ct - cg})
    att_gt = tidy_frame(att_rows)
    post_names = cell_names[: len(post_cells)]
    event_rows = []
    rel = att_gt["event_time"].to_numpy()
    for e in np.unique(rel[: len(post_cells)]):
        members = [n for n, r in zip(post_names, rel, strict=False) if r == e]
        event_rows.append(
            _aggregate(params, cov, counts[members], f"e={int(e)}", int(counts[members].sum()))
        )
    overall = _aggregate(params, cov, counts[post_names], "ATT", int(counts[post_names].sum()))
    event_time = tidy_frame(event_rows)
    pretrend, wald = (None, None)
    if leads > 0:
        pretrend, wald = _pretrend(y, data, g, t, unit, leads, clusters)
    return EventStudyResult(
        estimator="event_study",
        title=f"Event study: {outcome}",
        table=tidy_frame([overall, *event_rows]),
        result=result,
        nobs=int(result.nobs),
        notes=tuple(notes),
        labels=labels,
        att_gt=att_gt,
        event_time=event_time,
        pretrend=pretrend,
        pretrend_wald=wald,
    )
