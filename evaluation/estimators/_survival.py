"""Time-to-event analysis: Kaplan-Meier curves by group, log-rank test and Cox model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test
from lifelines.utils import median_survival_times

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


def km_table(fitter: KaplanMeierFitter) -> pd.DataFrame:
    """Kaplan-Meier table: time, at risk, events, censored, survival and its 95% CI."""
    events = fitter.event_table
    ci = fitter.confidence_interval_survival_function_
    return pd.DataFrame(
        {
            "time": events.index.to_numpy(),
            "at_risk": events["at_risk"].to_numpy(),
            "events": events["observed"].to_numpy(),
            "censored": events["censored"].to_numpy(),
            "survival": fitter.survival_function_.iloc[:, 0].to_numpy(),
            "ci_low": ci.iloc[:, 0].to_numpy(),
            "ci_high": ci.iloc[:, 1].to_numpy(),
        }
    )


@dataclass(eq=False, repr=False)
class SurvivalResult(EstimateResult):
    """Result of :func:`survival`.

    ``km`` maps each group to its Kaplan-Meier table; ``km_fitters`` holds the lifelines
    fitters (for plots); ``medians`` the median times; ``median_ci`` per group the median
    with its 95% interval (``median, ci_low, ci_high``; NaN where a bound is not reached);
    ``logrank`` the log-rank test;
    ``cox`` the fitted ``CoxPHFitter`` (``None`` without group and covariates) and
    ``hazard_ratios`` its exponentiated coefficients. ``tidy()`` reports the Cox
    coefficients on the log-hazard scale.
    """

    km: dict[str, pd.DataFrame] = field(default_factory=dict)
    km_fitters: dict[str, KaplanMeierFitter] = field(default_factory=dict)
    medians: pd.Series | None = None
    median_ci: pd.DataFrame | None = None
    logrank: object | None = None
    cox: CoxPHFitter | None = None
    hazard_ratios: pd.DataFrame | None = None

    def _extra_html(self) -> str:
        return frame_to_html(self.medians.rename("median").reset_index(), self.labels)


def _group_key(value) -> str:
    return str(value)


def survival(
    df: pd.DataFrame,
    *,
    duration: str,
    event: str,
    group: str | None = None,
    covariates: Sequence[str] | None = None,
    labels: Labels = "en",
) -> SurvivalResult:
    """Kaplan-Meier curves by group, log-rank test and a Cox proportional-hazards model.

    E.g. months from counselling entry to employment, or from application to a recognition
    decision; persons without the event by the end of observation are censored.

    Parameters
    ----------
    df
        One row per person.
    duration
        Time to event or to censoring (positive numbers).
    event
        1 if the event was observed, 0 if censored.
    group
        Optional group column for the KM curves and log-rank test. A 0/1 group enters the
        Cox model as is; other groups as dummies against the first (sorted) level.
    covariates
        Optional numeric covariates of the Cox model.
    labels
        Language of the rendering.

    Notes
    -----
    Kaplan-Meier (lifelines ``KaplanMeierFitter``): pointwise 95% intervals of the
    survival curve from Greenwood's variance on the log(-log) scale (lifelines' default,
    R's ``survfit(conf.type = "log-log")``). The interval of the median is read off those
    bands in the manner of Brookmeyer & Crowley (1982): the times at which the lower and
    the upper band cross 0.5 (lifelines ``median_survival_times`` of the confidence
    interval); a bound is missing (NaN) when its band never falls to 0.5 within follow-up.

    The Cox model is lifelines' ``CoxPHFitter``, which handles tied event times with
    Efron's method (as R's ``coxph`` default). Check proportional hazards, e.g. with
    ``result.cox.check_assumptions(...)``.
    """
    covs = as_list(covariates)
    require_columns(df, [duration, event, group, *covs])
    data = complete_rows(df, [duration, event, *([group] if group else []), *covs])
    if (data[duration] < 0).any():
        raise ValueError(f"column {duration!r} has negative durations")
    observed = binary_series(data, event) if data[event].nunique() > 1 else data[event].astype(int)
    groups = data[group] if group else pd.Series("all", index=data.index)
    fitters, tables = {}, {}
    for value, idx in groups.groupby(groups).groups.items():
        key = _group_key(value)
        fitters[key] = KaplanMeierFitter(label=key).fit(data.loc[idx, duration], observed[idx])
        tables[key] = km_table(fitters[key])
    medians = pd.Series({k: f.median_survival_time_ for k, f in fitters.items()}, name="median")
    medians.index.name = group or "group"
    median_ci = pd.DataFrame(
        [
            {"median": f.median_survival_time_}
            | dict(
                zip(
                    ("ci_low", "ci_high"),
                    median_survival_times(f.confidence_interval_).iloc[0],
                    strict=True,
                )
            )
            for f in fitters.values()
        ],
        index=medians.index,
    ).astype(float)
    median_ci = median_ci.replace([np.inf, -np.inf], np.nan)
    logrank = (
        multivariate_logrank_test(data[duration], groups, observed)
        if group and len(fitters) > 1
        else None
    )
    cox, table, hazard = None, tidy_frame([]), None
    design = data[covs].astype(float)
    if group:
        levels = sorted(groups.unique(), key=str)
        if set(levels) <= {0, 1}:
            design.insert(0, group, groups.astype(float))
        else:
            dummies = pd.get_dummies(groups.astype(str), prefix=group, dtype=float)
            design = pd.concat([dummies.drop(columns=f"{group}_{levels[0]}"), design], axis=1)
    if not design.empty:
        names = safe_names(list(design.columns))
        frame = design.rename(columns=names).assign(_T=data[duration].astype(float), _E=observed)
        cox = CoxPHFitter().fit(frame, duration_col="_T", event_col="_E")
        back = {v: k for k, v in names.items()}
        s = cox.summary.rename(index=back)
        table = tidy_frame(
            {
                "term": term,
                "estimate": r["coef"],
                "std_error": r["se(coef)"],
                "ci_low": r["coef lower 95%"],
                "ci_high": r["coef upper 95%"],
                "p_value": r["p"],
                "n": len(frame),
            }
            for term, r in s.iterrows()
        )
        hazard = s[["exp(coef)", "exp(coef) lower 95%", "exp(coef) upper 95%"]].set_axis(
            ["hazard_ratio", "ci_low", "ci_high"], axis=1
        )
    notes = ["Cox model: Efron ties; tidy() estimates are log hazard ratios"] if cox else []
    notes.append(
        "KM: Greenwood log(-log) 95% bands; median CI where the bands cross 0.5 "
        "(Brookmeyer-Crowley style)"
    )
    if logrank is not None:
        notes.append(f"log-rank chi2 = {logrank.test_statistic:.2f}, p = {logrank.p_value:.4f}")
    return SurvivalResult(
        estimator="survival",
        title=f"Time to event: {duration}",
        table=table,
        result=cox,
        nobs=len(data),
        notes=tuple(notes),
        labels=labels,
        km=tables,
        km_fitters=fitters,
        medians=medians.astype(float).replace(np.inf, np.nan),
        median_ci=median_ci,
        logrank=logrank,
        cox=cox,
        hazard_ratios=hazard,
    )
