"""Randomised trials (the waiting list): ANCOVA, intention to treat, attrition, CONSORT flow.

The waiting-list design of the parent groups is a randomised trial: parents of a group
cycle are assigned to take part now or to wait, both arms answer the FSW questionnaire
before and after the cycle. The functions here analyse it as one:

- :func:`ancova` - the primary analysis: follow-up on baseline and arm, with cycle strata
  and SEs clustered by group cycle (the arms are delivered in groups);
- :func:`itt_multiple_imputation` - intention to treat: every assigned parent, missing
  follow-ups multiply imputed (statsmodels MICE), the same ANCOVA on each imputed data set;
- :func:`attrition_bounds` - what the missing follow-ups could do at worst: Lee (2009)
  trimming bounds and, with a bounded scale, Manski's worst-case bounds;
- :func:`consort_flow` - the CONSORT flow per arm: assigned, surveyed before, after, both;
- :func:`wild_cluster_interval` - with few clusters (group cycles), the 95 % interval of an
  ANCOVA or intention-to-treat effect from the wild cluster bootstrap (WCR test inverted).
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from statsmodels.imputation.mice import MICE, MICEData

from ._base import (
    EstimateResult,
    Labels,
    as_list,
    binary_series,
    frame_to_html,
    require_columns,
    safe_names,
    tidy_frame,
)
from ._simple import fit_ols, ols_row

# ---------------------------------------------------------------------------------------------
# Arms
# ---------------------------------------------------------------------------------------------


def _is_binary(values: pd.Series) -> bool:
    """True for a 0/1 (or boolean) arm column."""
    return all(v in (0, 1) for v in pd.unique(values.dropna()))


def _arms(values: pd.Series, treatment: str, control) -> tuple[object, list]:
    """Control level and the other (active) arms, sorted."""
    levels = sorted(pd.unique(values.dropna()), key=str)
    if control is None:
        if _is_binary(values):
            control = 0
        else:
            raise ValueError(
                f"column {treatment!r} has the arms {', '.join(map(str, levels))}: "
                "name the comparison arm with control=..."
            )
    if control not in levels:
        raise ValueError(f"control arm {control!r} does not occur in column {treatment!r}")
    active = [level for level in levels if level != control]
    if not active:
        raise ValueError(f"column {treatment!r} has only the arm {control!r}")
    return control, active


def _arm_terms(treatment: str, active: list, binary: bool) -> dict[str, object]:
    return {treatment if binary else f"{treatment}: {level}": level for level in active}


@dataclass(eq=False, repr=False)
class AncovaResult(EstimateResult):
    """Result of :func:`ancova` / :func:`itt_multiple_imputation`.

    ``arm_means`` has N, mean baseline and mean follow-up per arm (observed values).
    """

    arm_means: pd.DataFrame | None = None

    def _extra_html(self) -> str:
        return frame_to_html(self.arm_means.reset_index(), self.labels)


def _design(
    data: pd.DataFrame,
    *,
    outcome: str,
    baseline: str,
    treatment: str,
    control,
    strata: str | None,
    covariates: list[str],
) -> tuple[pd.DataFrame, str, dict[str, str], dict[str, object]]:
    """Numeric design frame, the formula, tidy term -> column and term -> arm."""
    control, active = _arms(data[treatment], treatment, control)
    binary = _is_binary(data[treatment])
    terms = _arm_terms(treatment, active, binary)
    arm_cols = {term: f"d{i}" for i, term in enumerate(terms)}
    frame = pd.DataFrame(index=data.index)
    frame["y"] = data[outcome].astype(float)
    frame["base"] = data[baseline].astype(float)
    for term, col in arm_cols.items():
        frame[col] = (data[treatment] == terms[term]).astype(float)
    names = safe_names(covariates)
    for original, safe in names.items():
        frame[safe] = data[original].astype(float)
    rhs = [*arm_cols.values(), "base", *names.values()]
    if strata is not None:
        dummies = pd.get_dummies(data[strata].astype(str), prefix="s", dtype=float)
        dummies.columns = [f"s{i}" for i in range(dummies.shape[1])]
        dummies = dummies.iloc[:, 1:]  # first stratum is the reference
        frame = frame.join(dummies)
        rhs += list(dummies.columns)
    return frame, "y ~ " + " + ".join(rhs), arm_cols, terms


def _check_clusters(data: pd.DataFrame, cluster: str | None) -> None:
    """Cluster-robust SEs need at least two clusters (one clear line otherwise)."""
    if cluster is not None and data[cluster].nunique() < 2:
        raise ValueError(
            f"column {cluster!r} has a single cluster: cluster-robust standard errors need at "
            "least 2 (leave cluster= out)"
        )


def _arm_means(data, outcome, baseline, treatment) -> pd.DataFrame:
    means = data.groupby(treatment).agg(
        n_assigned=(treatment, "size"),
        n_baseline=(baseline, "count"),
        mean_baseline=(baseline, "mean"),
        n_followup=(outcome, "count"),
        mean_followup=(outcome, "mean"),
    )
    means.index.name = "arm"
    return means


def ancova(
    df: pd.DataFrame,
    *,
    outcome: str,
    baseline: str,
    treatment: str,
    control: object | None = None,
    strata: str | None = None,
    covariates: Sequence[str] | None = None,
    cluster: str | None = None,
    cov_type: Literal["HC1", "HC2", "HC3", "nonrobust"] = "HC1",
    labels: Labels = "en",
) -> AncovaResult:
    """ANCOVA of a randomised comparison: follow-up on baseline and arm (complete cases).

    OLS of ``outcome`` (follow-up) on dummies of the active arms, the ``baseline`` value of
    the same measure, optional ``strata`` fixed effects (the strata of randomisation, e.g.
    group cycles) and ``covariates``. Adjusting for baseline is more precise than comparing
    change scores and unbiased under randomisation whatever the baseline imbalance
    (Vickers & Altman 2001, BMJ 323:1123; EMA guideline on baseline covariates 2015).
    Only parents with both measurements enter; :func:`itt_multiple_imputation` is the
    intention-to-treat analysis of all assigned parents.

    Parameters
    ----------
    df
        One row per assigned person.
    outcome, baseline
        Follow-up and baseline measurement of the same scale.
    treatment
        Arm column: 0/1 (1 = intervention) or arm labels with ``control`` naming the
        comparison arm (e.g. ``"wartegruppe"``).
    control
        Comparison arm; default 0 for a 0/1 column.
    strata
        Stratum of randomisation (fixed effects), e.g. ``"cycle_id"``.
    covariates
        Further baseline covariates.
    cluster
        Cluster column, e.g. the group cycle when the arms are delivered in groups; gives
        cluster-robust SEs (CR1, t(G - 1)). With few clusters also report
        :func:`wild_cluster_bootstrap` on the result.
    cov_type
        Covariance without ``cluster``: ``"HC1"`` (default), ``"HC2"``, ``"HC3"`` or the
        classical ``"nonrobust"``.
    labels
        Language of the rendering.

    Returns
    -------
    AncovaResult
        One tidy row per active arm (the adjusted difference to ``control``), ``.result``
        the statsmodels OLS result, ``.arm_means`` the observed means per arm.

    Notes
    -----
    Inference: t-based (statsmodels ``use_t=True``): t(n - k) for HC and classical SEs,
    t(G - 1) with the factor G/(G-1) (N-1)/(N-K) for clustered ones (Stata ``regress,
    vce(cluster)``).
    """
    covs = as_list(covariates)
    require_columns(df, [outcome, baseline, treatment, strata, cluster, *covs])
    keep = [outcome, baseline, treatment, *covs, *[c for c in (strata, cluster) if c]]
    data = df.dropna(subset=list(dict.fromkeys(keep)))
    if data.empty:
        raise ValueError(f"no rows with {outcome!r}, {baseline!r} and {treatment!r} all present")
    frame, formula, arm_cols, terms = _design(
        data,
        outcome=outcome,
        baseline=baseline,
        treatment=treatment,
        control=control,
        strata=strata,
        covariates=covs,
    )
    for term, col in arm_cols.items():
        if frame[col].sum() == 0 or frame[col].sum() == len(frame):
            raise ValueError(f"arm {terms[term]!r} has no complete cases or is the only arm")
    _check_clusters(data, cluster)
    result = fit_ols(formula, frame, cov_type, data[cluster] if cluster else None)
    rows = [ols_row(result, col, term) for term, col in arm_cols.items()]
    se = (
        f"cluster-robust by {cluster} (CR1), t({result.df_resid_inference:g})"
        if cluster
        else (f"{cov_type}, t({result.df_resid:g})")
    )
    notes = [
        f"ANCOVA: {outcome} on arm and {baseline}"
        + (f", strata {strata} as fixed effects" if strata else ""),
        f"complete cases: {len(data)} of {len(df)} rows; SE {se}",
    ]
    return AncovaResult(
        estimator="ancova",
        title=f"ANCOVA: {outcome}",
        table=tidy_frame(rows),
        result=result,
        nobs=int(result.nobs),
        notes=tuple(notes),
        labels=labels,
        params=dict(arm_cols),
        arm_means=_arm_means(df.dropna(subset=[treatment]), outcome, baseline, treatment),
    )


def itt_multiple_imputation(
    df: pd.DataFrame,
    *,
    outcome: str,
    baseline: str,
    treatment: str,
    control: object | None = None,
    strata: str | None = None,
    covariates: Sequence[str] | None = None,
    cluster: str | None = None,
    imputations: int = 20,
    burn_in: int = 10,
    seed: int = 20240101,
    labels: Labels = "en",
) -> AncovaResult:
    """Intention-to-treat ANCOVA with missing follow-ups (and baselines) multiply imputed.

    Every assigned person is analysed in the arm they were assigned to. Missing follow-up
    and baseline values are imputed by chained equations (statsmodels ``MICEData``:
    predictive mean matching from a regression on all other columns - arm, baseline or
    follow-up, strata dummies, covariates); the ANCOVA of :func:`ancova` is fitted on each of
    ``imputations`` completed data sets and the results are pooled by Rubin's rules
    (statsmodels ``MICE``). Assumption: the follow-up is missing at random given arm,
    baseline, stratum and covariates. When drop-out depends on how parents fared (e.g. on
    attendance), that fails; :func:`attrition_bounds` shows how far the effect could move.

    Parameters
    ----------
    df
        One row per assigned person; ``treatment`` and ``strata``/``cluster`` must be known.
    outcome, baseline, treatment, control, strata, covariates, cluster
        As in :func:`ancova`.
    imputations
        Number of imputed data sets (20 or more for stable intervals).
    burn_in
        Chained-equation cycles before the first imputation.
    seed
        Seed of the imputations (results are reproducible for a given seed).
    labels
        Language of the rendering.

    Returns
    -------
    AncovaResult
        One tidy row per active arm; ``.result`` the statsmodels ``MICEResults`` (with
        ``frac_miss_info``, the fraction of missing information per coefficient).

    Notes
    -----
    Inference: Rubin's rules with a normal reference distribution, as statsmodels'
    ``MICEResults`` reports them (no Barnard-Rubin degrees of freedom); within each
    imputation the SEs are cluster-robust (CR1) with ``cluster``, else HC1.
    """
    covs = as_list(covariates)
    require_columns(df, [outcome, baseline, treatment, strata, cluster, *covs])
    fixed = [treatment, *[c for c in (strata, cluster) if c]]
    unknown = df[fixed].isna().any(axis=1)
    if unknown.any():
        first = df.index[unknown][0]
        raise ValueError(
            f"row {first}: arm, stratum and cluster must be known for every assigned person "
            f"({', '.join(fixed)})"
        )
    _check_clusters(df, cluster)
    frame, formula, arm_cols, terms = _design(
        df,
        outcome=outcome,
        baseline=baseline,
        treatment=treatment,
        control=control,
        strata=strata,
        covariates=covs,
    )
    observed = frame["y"].notna()
    for term, col in {"control": None, **arm_cols}.items():
        in_arm = frame[col] == 1 if col else frame[list(arm_cols.values())].sum(axis=1) == 0
        if (observed & in_arm).sum() < 2:
            raise ValueError(
                f"arm {term!r} has fewer than 2 observed values of {outcome!r}: "
                "nothing to impute from"
            )
    frame = frame.reset_index(drop=True)
    fit_kwds: dict = {"cov_type": "HC1"}
    if cluster:
        groups = pd.factorize(df[cluster].to_numpy())[0]
        fit_kwds = {"cov_type": "cluster", "cov_kwds": {"groups": groups}}
    mdata = MICEData(frame, rng=np.random.default_rng(seed))
    mice = MICE(formula, sm.OLS, mdata, fit_kwds=fit_kwds)
    result = mice.fit(n_burnin=burn_in, n_imputations=imputations)
    names = list(result.model.exog_names)
    params = pd.Series(result.params, index=names)
    bse = pd.Series(result.bse, index=names)
    pvalues = pd.Series(result.pvalues, index=names)
    ci = pd.DataFrame(np.asarray(result.conf_int()), index=names)
    rows = [
        {
            "term": term,
            "estimate": float(params[col]),
            "std_error": float(bse[col]),
            "ci_low": float(ci.loc[col, 0]),
            "ci_high": float(ci.loc[col, 1]),
            "p_value": float(pvalues[col]),
            "n": len(frame),
        }
        for term, col in arm_cols.items()
    ]
    n_missing = int(frame["y"].isna().sum())
    notes = [
        f"intention to treat: all {len(frame)} assigned; {n_missing} missing follow-ups "
        f"imputed ({imputations} imputations, MICE with predictive mean matching, seed {seed})",
        "assumes follow-ups missing at random given arm, baseline, strata and covariates",
        "Rubin's rules, normal-based intervals (statsmodels MICEResults)",
    ]
    return AncovaResult(
        estimator="itt_multiple_imputation",
        title=f"Intention to treat (multiple imputation): {outcome}",
        table=tidy_frame(rows),
        result=result,
        nobs=len(frame),
        notes=tuple(notes),
        labels=labels,
        params=dict(arm_cols),
        arm_means=_arm_means(df, outcome, baseline, treatment),
    )


# ---------------------------------------------------------------------------------------------
# Attrition bounds
# ---------------------------------------------------------------------------------------------


def _lee(y1: np.ndarray, y0: np.ndarray) -> tuple[float, float, float]:
    """Lee bounds from outcomes with NaN = missing; returns (lower, upper, trimmed share)."""
    q1, q0 = np.mean(~np.isnan(y1)), np.mean(~np.isnan(y0))
    o1, o0 = y1[~np.isnan(y1)], y0[~np.isnan(y0)]
    if len(o1) == 0 or len(o0) == 0:
        return np.nan, np.nan, np.nan  # a bootstrap resample without responses in an arm

    def trimmed_mean(values: np.ndarray, share: float, tail: str) -> float:
        return float(np.asarray(stats.trim1(values, share, tail=tail)).mean())

    if q1 >= q0:
        p = (q1 - q0) / q1
        low = trimmed_mean(o1, p, "right") - o0.mean()
        high = trimmed_mean(o1, p, "left") - o0.mean()
    else:
        p = (q0 - q1) / q0
        low = o1.mean() - trimmed_mean(o0, p, "left")
        high = o1.mean() - trimmed_mean(o0, p, "right")
    return float(low), float(high), float(p)


def attrition_bounds(
    df: pd.DataFrame,
    *,
    outcome: str,
    treatment: str,
    support: tuple[float, float] | None = None,
    level: float = 0.95,
    reps: int = 1999,
    seed: int = 20240101,
    labels: Labels = "en",
) -> EstimateResult:
    """Bounds on the difference in mean follow-up when follow-ups are missing.

    Lee (2009, Review of Economic Studies 76:1071-1102) trimming bounds: the arm with the
    higher response rate q_hi has its observed outcomes trimmed by the share
    (q_hi - q_lo) / q_hi from the top (lower bound) or the bottom (upper bound), with
    ``scipy.stats.trim1``; assumes monotone response (assignment moves response in one
    direction only) and random assignment. With ``support=(min, max)`` of a bounded scale
    (FSW: 1 to 6) also Manski's worst-case bounds, which assume nothing about who responds:
    missing follow-ups set to the scale's minimum in one arm and maximum in the other.

    The intervals are percentile bootstrap intervals (``scipy.stats.bootstrap``, arms
    resampled separately, ``reps`` resamples, ``seed``) of each bound; the interval for
    the identified set runs from the lower end of the lower bound's interval to the upper
    end of the upper bound's (conservative, covering the whole set with at least ``level``).

    Parameters
    ----------
    df
        One row per assigned person; ``outcome`` missing for those not followed up.
    outcome
        Follow-up measure.
    treatment
        0/1 arm (1 = intervention).
    support
        Smallest and largest possible value of ``outcome`` for Manski's bounds.
    level, reps, seed
        Bootstrap interval.
    labels
        Language of the rendering.

    Returns
    -------
    EstimateResult
        Rows ``lee_lower``, ``lee_upper`` (and ``manski_lower``, ``manski_upper``) with the
        bound in ``estimate`` and its bootstrap interval; ``response_treated`` and
        ``response_control`` and the trimmed share ``trimmed`` as extra columns.
    """
    require_columns(df, [outcome, treatment])
    d = binary_series(df, treatment)
    y = df[outcome].astype(float).to_numpy()
    y1, y0 = y[d.to_numpy() == 1], y[d.to_numpy() == 0]
    for name, arm in (("treated", y1), ("control", y0)):
        if np.sum(~np.isnan(arm)) < 2:
            raise ValueError(f"the {name} arm has fewer than 2 observed values of {outcome!r}")
    if support is not None:
        lo, hi = support
        observed = y[~np.isnan(y)]
        if lo >= hi or observed.min() < lo or observed.max() > hi:
            raise ValueError(
                f"support {support} must contain every observed value of {outcome!r} "
                f"({observed.min()} to {observed.max()})"
            )

    def manski(a, b):
        if np.isnan(a).all() or np.isnan(b).all():
            return np.nan, np.nan
        return (
            np.nan_to_num(a, nan=lo).mean() - np.nan_to_num(b, nan=hi).mean(),
            np.nan_to_num(a, nan=hi).mean() - np.nan_to_num(b, nan=lo).mean(),
        )

    def statistic(a, b):
        low, high, _ = _lee(a, b)
        out = [low, high]
        if support is not None:
            out += list(manski(a, b))
        return np.array(out)

    estimates = statistic(y1, y0)
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore")  # NaN intervals of degenerate resamples, replaced below
        boot = stats.bootstrap(
            (y1, y0),
            statistic,
            n_resamples=reps,
            vectorized=False,
            method="percentile",
            confidence_level=level,
            rng=np.random.default_rng(seed),
        )
    # percentile interval over the resamples in which both arms have responses
    draws = np.atleast_2d(boot.bootstrap_distribution)
    degenerate = int(np.isnan(draws).any(axis=0).sum())
    tails = [50 * (1 - level), 50 * (1 + level)]
    ci_low, ci_high = np.nanpercentile(draws, tails, axis=-1)
    std_errors = np.nanstd(draws, ddof=1, axis=-1)
    names = ["lee_lower", "lee_upper"] + (["manski_lower", "manski_upper"] if support else [])
    _, _, trimmed = _lee(y1, y0)
    extra = {
        "response_treated": float(np.mean(~np.isnan(y1))),
        "response_control": float(np.mean(~np.isnan(y0))),
        "trimmed": trimmed,
    }
    rows = [
        {
            "term": name,
            "estimate": float(est),
            "std_error": float(se),
            "ci_low": float(low),
            "ci_high": float(high),
            "p_value": np.nan,
            "n": len(y),
        }
        | extra
        for name, est, se, low, high in zip(
            names, estimates, std_errors, ci_low, ci_high, strict=True
        )
    ]
    table = tidy_frame(rows)
    notes = [
        f"Lee bounds: {trimmed:.1%} of the observed outcomes of the arm with more responses "
        "trimmed (monotone response assumed)",
        f"percentile bootstrap {level:.0%} intervals, {reps} resamples per arm, seed {seed}"
        + (f" ({degenerate} without responses in an arm left out)" if degenerate else ""),
    ]
    if support:
        notes.append(f"Manski bounds: missing follow-ups set to {lo:g} or {hi:g}")
    return EstimateResult(
        estimator="attrition_bounds",
        title=f"Attrition bounds: {outcome}",
        table=table,
        result=boot,
        nobs=len(y),
        notes=tuple(notes),
        labels=labels,
    )


# ---------------------------------------------------------------------------------------------
# CONSORT flow
# ---------------------------------------------------------------------------------------------

#: Reader labels of :func:`consort_flow` columns (English, German).
CONSORT_LABELS: dict[str, tuple[str, str]] = {
    "assigned": ("Assigned", "Zugewiesen"),
    "surveyed_before": ("Surveyed before", "Vorher befragt"),
    "surveyed_after": ("Surveyed after", "Nachher befragt"),
    "surveyed_both": ("Surveyed before and after", "Vorher und nachher befragt"),
    "lost_to_follow_up": ("Surveyed before, not after", "Vorher, nicht nachher befragt"),
    "share_followed_up": ("Share surveyed after", "Anteil nachher befragt"),
}


def consort_flow(
    df: pd.DataFrame,
    *,
    arm: str,
    before: str,
    after: str,
    total: bool = True,
) -> pd.DataFrame:
    """CONSORT-style flow per arm: assigned, surveyed before, surveyed after, both.

    Parameters
    ----------
    df
        One row per assigned person (e.g. enrolments of randomised cycles).
    arm
        Arm column; every row must have one.
    before, after
        Baseline and follow-up measure (a value = surveyed, missing = not surveyed) or
        boolean columns (True = surveyed).
    total
        Add a row ``total`` over the arms.

    Returns
    -------
    pandas.DataFrame
        Index the arms (and ``total``); columns ``assigned``, ``surveyed_before``,
        ``surveyed_after``, ``surveyed_both``, ``lost_to_follow_up`` (before but not after)
        and ``share_followed_up`` (surveyed after / assigned). Reader labels in
        :data:`CONSORT_LABELS`. Counts are not suppressed: pass the table through the
        report's disclosure control.
    """
    require_columns(df, [arm, before, after])
    if df[arm].isna().any():
        first = df.index[df[arm].isna()][0]
        raise ValueError(f"row {first}: column {arm!r} is missing; every assigned row needs an arm")

    def surveyed(column: str) -> pd.Series:
        s = df[column]
        return s.fillna(False).astype(bool) if pd.api.types.is_bool_dtype(s) else s.notna()

    flags = pd.DataFrame(
        {"arm": df[arm], "before": surveyed(before), "after": surveyed(after)}, index=df.index
    )
    flags["both"] = flags["before"] & flags["after"]
    flags["lost"] = flags["before"] & ~flags["after"]
    table = flags.groupby("arm").agg(
        assigned=("arm", "size"),
        surveyed_before=("before", "sum"),
        surveyed_after=("after", "sum"),
        surveyed_both=("both", "sum"),
        lost_to_follow_up=("lost", "sum"),
    )
    if total:
        table.loc["total"] = table.sum()
    table = table.astype(int)
    table["share_followed_up"] = table["surveyed_after"] / table["assigned"]
    table.index.name = arm
    return table


# ---------------------------------------------------------------------------------------------
# Wild cluster bootstrap intervals (few clusters)
# ---------------------------------------------------------------------------------------------

_COMPILED: dict = {}


def _njit_once(*args, **kwargs):
    """``numba.njit`` that compiles a function body once per process.

    ``wildboottest`` defines its jitted kernel inside a method, so numba compiles it anew
    on every call (about 0.2 s). The kernel uses only its arguments, so the compiled
    function of the same code and options can be reused; results are identical.
    """
    import numba

    def decorate(function):
        key = (function.__code__, tuple(sorted(kwargs.items())))
        if key not in _COMPILED:
            _COMPILED[key] = numba.njit(**kwargs)(function)
        return _COMPILED[key]

    return decorate(args[0]) if args and callable(args[0]) else decorate


@contextlib.contextmanager
def _compile_once() -> Iterator[None]:
    import wildboottest.wildboottest as module

    original = module.njit
    module.njit = _njit_once
    try:
        yield
    finally:
        module.njit = original


def _wcr_tstats(
    y: np.ndarray,
    x: np.ndarray,
    column: int,
    groups: np.ndarray,
    null: float,
    *,
    reps: int,
    weights: str,
    seed: int,
) -> np.ndarray:
    """Bootstrap t statistics of WCR11 under "coefficient ``column`` = ``null``".

    The steps of the ``wildboottest`` package's ``wildboottest`` function
    (``WildboottestCL``, null imposed), on the outcome shifted by ``null`` times the
    regressor, so that the package's null "coefficient = 0" is "coefficient = null".
    """
    from wildboottest.wildboottest import WildboottestCL

    r = np.zeros(x.shape[1])
    r[column] = 1.0
    shifted = y - null * x[:, column]
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        boot = WildboottestCL(
            X=x, Y=shifted, cluster=groups, R=r, B=reps, seed=seed, parallel=False
        )
        boot.get_scores(bootstrap_type="11", impose_null=True, adj=True, cluster_adj=True)
        boot.get_weights(weights_type=weights)
        boot.get_numer()
        boot.get_denom()
        boot.get_tboot()
    draws = np.asarray(boot.t_boot, dtype=float)
    return draws[np.isfinite(draws)]


def _invert(pvalue, centre: float, scale: float, alpha: float, side: int) -> float:
    """The end of ``{b: pvalue(b) >= alpha}`` on one side of ``centre`` (bisection)."""
    inner, outer = centre, None
    for steps in (1, 2, 4, 8, 16, 32, 64):
        point = centre + side * steps * scale
        if pvalue(point) < alpha:
            outer = point
            break
        inner = point
    if outer is None:
        return side * np.inf  # the data cannot rule out any value on this side
    for _ in range(16):
        middle = (inner + outer) / 2
        if pvalue(middle) >= alpha:
            inner = middle
        else:
            outer = middle
    return float((inner + outer) / 2)


def wild_cluster_interval(
    estimate: AncovaResult,
    *,
    term: str | None = None,
    level: float = 0.95,
    reps: int = 9999,
    weights: Literal["rademacher", "webb", "mammen", "norm"] = "webb",
    seed: int = 20240101,
) -> EstimateResult:
    """Wild cluster bootstrap interval of an arm effect, for few clusters (group cycles).

    With few clusters (fewer than about 30) cluster-robust t intervals cover too rarely
    (Cameron, Gelbach & Miller 2008, Review of Economics and Statistics 90:414-427;
    MacKinnon, Nielsen & Webb 2023, Journal of Econometrics 232:272-299). This interval
    inverts the restricted wild cluster bootstrap test WCR11 (the default of Stata's
    ``boottest``; computed by the ``wildboottest`` package): it holds every value ``b``
    whose null "effect = b" the bootstrap does not reject at ``1 - level``, found by
    bisection. Webb's six-point weights by default, which give enough distinct draws
    with 3 to 12 clusters (Webb 2023). Every test uses the same seed, so the p-value
    function is smooth in ``b``. An end the data cannot bound is infinite.

    For :func:`ancova` fitted with ``cluster=`` the tests run on its data. For
    :func:`itt_multiple_imputation` with ``cluster=`` the interval is inverted on every
    imputed data set and expressed in that data set's SEs (how many SEs below and above
    its estimate it reaches: the bootstrap's critical values); the interval is Rubin's
    estimate minus/plus the mean critical values times Rubin's SE (statsmodels
    ``MICEResults``, so the spread between the imputations counts) - Rubin's rules with
    the bootstrap's critical values in place of the normal ones. Its p-value of "no
    effect" is the median over the imputed data sets (the median-P rule; Eekhout, van de
    Wiel & Heymans 2017, BMC Medical Research Methodology 17:129).

    Parameters
    ----------
    estimate
        Result of :func:`ancova` or :func:`itt_multiple_imputation` with ``cluster=``.
    term
        Arm term; default the first row of ``estimate.tidy()``.
    level
        Confidence level.
    reps, weights, seed
        Bootstrap replications per test, weights and seed.

    Returns
    -------
    EstimateResult
        One row: the estimate and SE of ``estimate``, ``ci_low``/``ci_high`` the bootstrap
        interval, ``p_value`` the bootstrap p-value of "no effect", and the columns
        ``clusters``, ``reps``, ``weights`` and ``ci_low_cluster_t`` / ``ci_high_cluster_t``
        (the cluster-robust t interval, for comparison).

    Raises
    ------
    ValueError
        When ``estimate`` was fitted without clusters, or with fewer than 2.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must lie between 0 and 1, not {level!r}")
    table = estimate.tidy().set_index("term")
    term = term if term is not None else table.index[0]
    if term not in table.index:
        raise KeyError(f"term {term!r} not in the estimates ({', '.join(table.index)})")
    param = estimate.params.get(term)
    fit = estimate.result
    imputed = estimate.estimator == "itt_multiple_imputation"
    if imputed:
        groups = fit.model.fit_kwds.get("cov_kwds", {}).get("groups")
        models = [r.model for r in fit.model.results_list]
    else:
        groups = (getattr(fit, "cov_kwds", None) or {}).get("groups")
        models = [fit.model]
    if groups is None:
        raise ValueError(f"{estimate.estimator} was fitted without cluster=: nothing to bootstrap")
    groups = np.asarray(groups)
    clusters = int(pd.unique(groups).size)
    if clusters < 2:
        raise ValueError(f"the wild cluster bootstrap needs at least 2 clusters, not {clusters}")
    column = list(models[0].exog_names).index(param)
    row = table.loc[term]
    value, se = float(row["estimate"]), float(row["std_error"])
    alpha = 1 - level
    fits = fit.model.results_list if imputed else [fit]
    lows, highs, p_zero = [], [], []
    with _compile_once():
        for model, one in zip(models, fits, strict=True):
            y, x = np.asarray(model.endog, dtype=float), np.asarray(model.exog, dtype=float)
            b = float(np.asarray(one.params)[column])
            s_b = float(np.asarray(one.bse)[column])

            def pvalue(null: float, y=y, x=x, b=b, s_b=s_b) -> float:
                draws = _wcr_tstats(
                    y, x, column, groups, null, reps=reps, weights=weights, seed=seed
                )
                return float(np.mean(np.abs(draws) > abs((b - null) / s_b)))

            # the bootstrap's critical values below and above, in SEs of this data set
            lows.append((b - _invert(pvalue, b, s_b, alpha, -1)) / s_b)
            highs.append((_invert(pvalue, b, s_b, alpha, +1) - b) / s_b)
            p_zero.append(pvalue(0.0))
    low = value - se * float(np.mean(lows))
    high = value + se * float(np.mean(highs))
    out = {
        "term": term,
        "estimate": value,
        "std_error": se,
        "ci_low": low,
        "ci_high": high,
        "p_value": float(np.median(p_zero)),
        "n": int(row["n"]),
        "clusters": clusters,
        "reps": reps,
        "weights": weights,
        "ci_low_cluster_t": float(row["ci_low"]),
        "ci_high_cluster_t": float(row["ci_high"]),
    }
    notes = [
        f"wild cluster bootstrap interval: WCR11 test inverted ({weights} weights, {reps} "
        f"replications per test, seed {seed}; {clusters} clusters)",
    ]
    if imputed:
        notes.append(
            f"Rubin's estimate and SE over {len(models)} imputations with the mean bootstrap "
            "critical values of the imputed data sets; median p-value"
        )
    return EstimateResult(
        estimator="wild_cluster_interval",
        title=f"Wild cluster bootstrap interval: {term}",
        table=tidy_frame([out]),
        result=None,
        nobs=estimate.nobs,
        notes=tuple(notes),
        labels=estimate.labels,
        params={term: param},
    )
