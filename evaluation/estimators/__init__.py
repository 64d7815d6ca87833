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
- :func:`survival` - Kaplan-Meier curves by group and a Cox model (Efron ties);
- :func:`ancova`, :func:`itt_multiple_imputation`, :func:`attrition_bounds` and
  :func:`consort_flow` - the randomised waiting list analysed as a trial;
- :func:`wild_cluster_bootstrap` - p-values for few clusters (group cycles);
- :func:`wild_cluster_interval` - the interval by inverting the wild cluster bootstrap test;
- :func:`adjust_for_multiplicity` - Holm-adjusted p-values for subgroup tests;
- :func:`difference_of_proportions` and :func:`difference_of_means` - is a change
  between two years more than chance?

Inference conventions (details in each docstring): intervals are t-based with the degrees
of freedom of the reference packages - t(n - k) for classical and HC SEs (Stata
``regress``), t(G - 1) for cluster-robust ones, whose small-sample factor is
G/(G-1) (N-1)/(N-K) with K as fixest and Stata's ``reghdfe`` count it; the exceptions are
stated: :func:`ipw` (GMM, z), Hedges' g (normal approximation), Cronbach's alpha (Feldt),
:func:`itt_multiple_imputation` (Rubin's rules, z), Kaplan-Meier (Greenwood log-log bands).
"""

from ._balance import BalanceTable, IpwResult, balance, ipw
from ._base import TIDY_COLUMNS, EstimateResult
from ._inference import (
    adjust_for_multiplicity,
    difference_of_means,
    difference_of_proportions,
    wild_cluster_bootstrap,
)
from ._panel import DidResult, EventStudyResult, did, event_study, panel_fe
from ._simple import (
    DifferenceInMeansResult,
    PrePostResult,
    cronbach_alpha,
    difference_in_means,
    prepost,
)
from ._survival import SurvivalResult, survival
from ._trial import (
    CONSORT_LABELS,
    AncovaResult,
    ancova,
    attrition_bounds,
    consort_flow,
    itt_multiple_imputation,
    wild_cluster_interval,
)

__all__ = [
    "CONSORT_LABELS",
    "TIDY_COLUMNS",
    "AncovaResult",
    "BalanceTable",
    "DidResult",
    "DifferenceInMeansResult",
    "EstimateResult",
    "EventStudyResult",
    "IpwResult",
    "PrePostResult",
    "SurvivalResult",
    "adjust_for_multiplicity",
    "ancova",
    "attrition_bounds",
    "balance",
    "consort_flow",
    "cronbach_alpha",
    "did",
    "difference_in_means",
    "difference_of_means",
    "difference_of_proportions",
    "event_study",
    "ipw",
    "itt_multiple_imputation",
    "panel_fe",
    "prepost",
    "survival",
    "wild_cluster_bootstrap",
    "wild_cluster_interval",
]
