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
    return (
        share,
        pd.Series(np.asarray(low), index=count.index).where(valid),
        pd.Series(np.asarray(high), index=count.index).where(valid),
    )
