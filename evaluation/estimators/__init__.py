"""Estimators for impact evaluation, built on statsmodels, linearmodels and lifelines.

Each estimator is a function with keyword-only options that returns a result object with
``tidy()`` (columns ``term, estimate, std_error, ci_low, ci_high, p_value, n``),
``summary()``, a Jupyter rendering (``labels="de"`` for German), the underlying library
result in ``.result`` and ``.nobs``:

- :func:`difference_in_means` - randomised or waiting-list comparisons (robust SEs);
- :func:`prepost` - paired pre/post change, Hedges' g (d_rm) and Wilcoxon signed-rank;
- :func:`cronbach_alpha` - reliability of a scale;
- :func:`did` - 2x2 difference-in-differences with the table of group means;
- :func:`panel_fe` - entity and time fixed effects with cluster-robust SEs;
- :func:`event_study` - rolling programme entry, not-yet-treated comparison;
- :func:`balance` and :func:`ipw` - covariate balance and propensity-score weighting;
- :func:`survival` - Kaplan-Meier curves by group and a Cox model (Efron ties).
"""

from ._balance import BalanceTable, IpwResult, balance, ipw
from ._base import TIDY_COLUMNS, EstimateResult
from ._panel import DidResult, EventStudyResult, did, event_study, panel_fe
from ._simple import (
    DifferenceInMeansResult,
    PrePostResult,
    cronbach_alpha,
    difference_in_means,
    prepost,
)
from ._survival import SurvivalResult, survival

__all__ = [
    "TIDY_COLUMNS",
    "BalanceTable",
    "DidResult",
    "DifferenceInMeansResult",
    "EstimateResult",
    "EventStudyResult",
    "IpwResult",
    "PrePostResult",
    "SurvivalResult",
    "balance",
    "cronbach_alpha",
    "did",
    "difference_in_means",
    "event_study",
    "ipw",
    "panel_fe",
    "prepost",
    "survival",
]
