"""Kaplan-Meier curves under the suppression rule: known answers and the rule on random data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter

from evaluation.protection.curves import km_event_table, protect_durations, protect_km


def fit(durations, observed) -> KaplanMeierFitter:
    return KaplanMeierFitter().fit(np.asarray(durations, float), np.asarray(observed, bool))


def test_steps_are_merged_until_threshold_events_and_the_tail_is_cut() -> None:
    # 13 persons: 2 jobs in month 1, 2 in month 2, 3 in month 3, 1 in month 4, 5 censored at 10
    durations = [1] * 2 + [2] * 2 + [3] * 3 + [4] + [10] * 5
    observed = [True] * 8 + [False] * 5
    points = protect_km(fit(durations, observed), threshold=3)
    # month 1 alone holds 2 events: merged into month 2 (4 events, S = 9/13); month 3 holds 3
    # (S = 6/13); month 4 holds 1 and then only censoring follows: nothing more is published
    assert points["time"].tolist() == [0.0, 2.0, 3.0]
    assert points["survival"].tolist() == pytest.approx([1.0, 9 / 13, 6 / 13])
    assert list(points.columns) == ["time", "survival", "ci_low", "ci_high"]


def test_interval_bounds_are_the_full_fit_at_the_published_times() -> None:
    durations = [1] * 2 + [2] * 2 + [3] * 3 + [4] + [10] * 5
    observed = [True] * 8 + [False] * 5
    fitter = fit(durations, observed)
    points = protect_km(fitter, threshold=3).set_index("time")
    ci = fitter.confidence_interval_survival_function_
    for t in (2.0, 3.0):
        assert points.loc[t, "ci_low"] == pytest.approx(ci.loc[t].iloc[0])
        assert points.loc[t, "ci_high"] == pytest.approx(ci.loc[t].iloc[1])


def test_curve_stops_where_fewer_than_threshold_remain_at_risk() -> None:
    # 8 persons, an event each month: after month 3 only 5 remain, after month 4 only 4
    durations = list(range(1, 9))
    points = protect_km(fit(durations, [True] * 8), threshold=5)
    # months 1-4 hold only 4 events and leave fewer than 5 at risk: no step at all
    assert points["time"].tolist() == [0.0]
    points = protect_km(fit(durations, [True] * 8), threshold=2)
    assert points["time"].tolist() == [0.0, 2.0, 4.0, 6.0]


def test_a_small_number_censored_between_two_points_is_merged_away() -> None:
    # month 1: 3 jobs and 1 censored; month 2: 1 job and 2 censored; then 10 persons remain
    durations = [1, 1, 1, 1, 2, 2, 2] + [20] * 10
    observed = [True, True, True, False, True, False, False] + [True] * 10
    points = protect_km(fit(durations, observed), threshold=3)
    # at month 1 the number at risk would fall by 3 events + 1 censored: 1 is small
    assert points["time"].tolist()[:2] == [0.0, 2.0]
    relaxed = protect_km(fit(durations, observed), threshold=3, protect_censored=False)
    assert relaxed["time"].tolist()[:2] == [0.0, 1.0]


def test_a_group_smaller_than_the_threshold_publishes_nothing() -> None:
    assert protect_durations([1, 2, 3], [True, True, True], threshold=5).empty


def test_bad_input_is_refused_with_one_clear_line() -> None:
    with pytest.raises(ValueError, match="threshold must be at least 1"):
        protect_durations([1, 2], [True, True], threshold=0)
    with pytest.raises(ValueError, match="lacks column"):
        protect_km(pd.DataFrame({"time": [1.0]}), threshold=3)


@pytest.mark.parametrize("seed", range(20))
def test_every_published_step_stands_for_at_least_threshold_persons(seed: int) -> None:
    """On random data, recount from the raw durations what a reader could read off the steps."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 120))
    durations = rng.integers(1, 15, size=n).astype(float)
    observed = rng.random(n) < rng.uniform(0.3, 0.9)
    threshold = int(rng.integers(2, 8))
    points = protect_km(fit(durations, observed), threshold=threshold)
    full = km_event_table(fit(durations, observed)).set_index("time")
    times = points["time"].tolist()
    for before, after in zip(times, times[1:], strict=False):
        inside = (durations > before) & (durations <= after)
        events = int((inside & observed).sum())
        censored = int((inside & ~observed).sum())
        assert events >= threshold
        assert censored == 0 or censored >= threshold
        assert int((durations > after).sum()) >= threshold
        assert points.set_index("time").loc[after, "survival"] == pytest.approx(
            full.loc[after, "survival"]
        )
    # the same from the estimators' table (evaluation.estimators.km_table) as input
    from evaluation.estimators._survival import km_table

    again = protect_km(km_table(fit(durations, observed)), threshold=threshold)
    pd.testing.assert_frame_equal(again, points)
