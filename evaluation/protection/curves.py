"""Kaplan-Meier curves under the suppression rule: coarsened steps, cut tail.

A Kaplan-Meier curve published at every event time gives away counts: the step height
``1 - S(t) / S(t-)`` times the number at risk is the number of persons with an event at
``t``, down to single persons, and the times where the curve stops say how many remained.
:func:`protect_km` publishes only points between which

* at least ``threshold`` events happened (the drop between two published points stands for
  at least ``threshold`` persons),
* the number of censored persons (left observation without an event) is 0 or at least
  ``threshold`` (so the change in the number at risk between two points is no small group
  either), and
* at least ``threshold`` persons remain at risk after the point (the curve is cut where
  fewer remain).

The survival and its interval at a published point are the Kaplan-Meier estimate of the
full data at that time (lifelines' exponential Greenwood interval); only the points change.
The first point is ``(0, 1)``: everyone starts at risk (the group size itself is protected by
the table that shows it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter

CURVE_COLUMNS = ("time", "survival", "ci_low", "ci_high")
_TABLE_COLUMNS = ("time", "at_risk", "events", "censored", "survival", "ci_low", "ci_high")


def km_event_table(fitter: KaplanMeierFitter) -> pd.DataFrame:
    """A fitted lifelines Kaplan-Meier as one row per time: at risk, events, censored, survival, CI."""
    events = fitter.event_table
    ci = fitter.confidence_interval_survival_function_
    return pd.DataFrame(
        {
            "time": events.index.to_numpy(dtype=float),
            "at_risk": events["at_risk"].to_numpy(dtype=int),
            "events": events["observed"].to_numpy(dtype=int),
            "censored": events["censored"].to_numpy(dtype=int),
            "survival": fitter.survival_function_.iloc[:, 0].to_numpy(),
            "ci_low": ci.iloc[:, 0].to_numpy(),
            "ci_high": ci.iloc[:, 1].to_numpy(),
        }
    )


def protect_km(
    curve: KaplanMeierFitter | pd.DataFrame, *, threshold: int, protect_censored: bool = True
) -> pd.DataFrame:
    """The points of a Kaplan-Meier curve that may be published under the rule.

    Parameters
    ----------
    curve
        A fitted ``lifelines.KaplanMeierFitter`` or its table with the columns ``time``,
        ``at_risk``, ``events``, ``censored``, ``survival``, ``ci_low``, ``ci_high`` (one
        row per distinct time, as :func:`km_event_table` or
        :func:`evaluation.estimators.km_table` return).
    threshold
        Smallest number of persons a published figure may stand for.
    protect_censored
        Also require 0 or at least ``threshold`` censored persons between two points.

    Returns
    -------
    DataFrame
        Columns ``time``, ``survival``, ``ci_low``, ``ci_high``: ``(0, 1, 1, 1)`` followed
        by the published points in time order. Nothing else of the data (no numbers at
        risk, no event counts) is returned.
    """
    if threshold < 1:
        raise ValueError(f"threshold must be at least 1, not {threshold}")
    table = km_event_table(curve) if isinstance(curve, KaplanMeierFitter) else curve
    missing = [c for c in _TABLE_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"Kaplan-Meier table lacks column(s) {missing}")
    table = table.sort_values("time")
    points = [{"time": 0.0, "survival": 1.0, "ci_low": 1.0, "ci_high": 1.0}]
    total = int(table["at_risk"].iloc[0]) if len(table) else 0
    if total < threshold:
        return pd.DataFrame(points[:0], columns=list(CURVE_COLUMNS))
    events = censored = 0
    for row in table.itertuples(index=False):
        events += int(row.events)
        censored += int(row.censored)
        remaining = int(row.at_risk) - int(row.events) - int(row.censored)
        if remaining < threshold:
            break
        censored_ok = not protect_censored or censored == 0 or censored >= threshold
        if row.events > 0 and events >= threshold and censored_ok:
            points.append(
                {
                    "time": float(row.time),
                    "survival": float(row.survival),
                    "ci_low": float(row.ci_low),
                    "ci_high": float(row.ci_high),
                }
            )
            events = censored = 0
    return pd.DataFrame(points, columns=list(CURVE_COLUMNS))


def protect_durations(
    durations: pd.Series | np.ndarray,
    observed: pd.Series | np.ndarray,
    *,
    threshold: int,
    protect_censored: bool = True,
) -> pd.DataFrame:
    """:func:`protect_km` on duration and event data (fits lifelines' Kaplan-Meier first)."""
    fitter = KaplanMeierFitter().fit(np.asarray(durations, dtype=float), np.asarray(observed))
    return protect_km(fitter, threshold=threshold, protect_censored=protect_censored)
