"""Building blocks shared by the indicator modules."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd


def in_period(dates: pd.Series, start: date, end: date) -> pd.Series:
    """True where a date lies in ``[start, end]`` (missing dates are outside)."""
    return dates.notna() & (dates >= pd.Timestamp(start)) & (dates <= pd.Timestamp(end))


def wilson(count, nobs, *, alpha: float = 0.05) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Share and Wilson score interval (statsmodels), NaN where ``nobs`` is 0.

    Returns
    -------
    share, ci_low, ci_high
        Series aligned with ``count``.
    """
    from statsmodels.stats.proportion import proportion_confint

    count = pd.Series(count, dtype=float)
    nobs = pd.Series(nobs, dtype=float, index=count.index)
    valid = nobs > 0
    safe_n = nobs.where(valid, 1.0)
    low, high = proportion_confint(
        count.to_numpy(), safe_n.to_numpy(), alpha=alpha, method="wilson"
    )
    share = (count / safe_n).where(valid)
    # statsmodels' bounds carry floating-point noise (a lower bound of 3e-17 for 0 of n):
    # clamp them so the interval always contains the estimate.
    low = np.minimum(np.asarray(low), share.fillna(0).to_numpy())
    high = np.maximum(np.asarray(high), share.fillna(1).to_numpy())
    index = count.index
    return (
        share,
        pd.Series(low, index=index).where(valid),
        pd.Series(high, index=index).where(valid),
    )
