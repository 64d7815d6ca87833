"""Shared results class, input checks and small helpers of the estimators.

Every estimator returns an :class:`EstimateResult` (or a subclass): a tidy table of the
estimates it reports, the underlying library result in ``.result`` and the number of
observations in ``.nobs``. Labels shown to readers are English in code; ``labels="de"``
switches the rendering to German.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

Labels = Literal["en", "de"]

TIDY_COLUMNS = ["term", "estimate", "std_error", "ci_low", "ci_high", "p_value", "n"]

#: Column and word labels for readers; code keeps the English keys.
LABELS: dict[str, tuple[str, str]] = {
    "term": ("Term", "Größe"),
    "estimate": ("Estimate", "Schätzwert"),
    "std_error": ("Std. error", "Standardfehler"),
    "ci_low": ("95% CI low", "95%-KI unten"),
    "ci_high": ("95% CI high", "95%-KI oben"),
    "p_value": ("p-value", "p-Wert"),
    "n": ("N", "N"),
    "notes": ("Notes", "Hinweise"),
    "df": ("Degrees of freedom", "Freiheitsgrade"),
    "more_than_chance": ("More than chance", "Mehr als Zufall"),
    "t_stat": ("t statistic", "t-Wert"),
    "p_value_cluster_t": ("p-value (cluster t)", "p-Wert (Cluster-t)"),
    "clusters": ("Clusters", "Cluster"),
    "reps": ("Replications", "Wiederholungen"),
    "weights": ("Weights", "Gewichte"),
    "response_treated": ("Response, intervention", "Rücklauf, Teilnahme"),
    "response_control": ("Response, comparison", "Rücklauf, Vergleichsgruppe"),
    "trimmed": ("Trimmed share", "Gekürzter Anteil"),
}


def label(key: str, language: Labels) -> str:
    """Reader-facing label of ``key`` in ``language`` (the key itself if unknown)."""
    en, de = LABELS.get(key, (key, key))
    return de if language == "de" else en


def empty_tidy() -> pd.DataFrame:
    """A tidy table with the standard columns and no rows."""
    return pd.DataFrame(
        {c: pd.Series(dtype="object" if c == "term" else "float") for c in TIDY_COLUMNS}
    )


def tidy_frame(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Build a tidy table from row dicts with (at least) the standard columns."""
    frame = pd.DataFrame(list(rows))
    if frame.empty:
        return empty_tidy()
    extra = [c for c in frame.columns if c not in TIDY_COLUMNS]
    return frame[TIDY_COLUMNS + extra].reset_index(drop=True)


def normal_row(term: str, estimate: float, std_error: float, n: int, level: float = 0.95) -> dict:
    """Tidy row with a normal-approximation CI and two-sided p-value."""
    z = stats.norm.ppf(0.5 + level / 2)
    p = 2 * stats.norm.sf(abs(estimate / std_error)) if std_error > 0 else np.nan
    return {
        "term": term,
        "estimate": float(estimate),
        "std_error": float(std_error),
        "ci_low": float(estimate - z * std_error),
        "ci_high": float(estimate + z * std_error),
        "p_value": float(p),
        "n": int(n),
    }


def frame_to_html(frame: pd.DataFrame, language: Labels, digits: int = 4) -> str:
    """Render a table with reader labels and rounded numbers (no index)."""
    shown = frame.rename(columns={c: label(c, language) for c in frame.columns})
    return shown.to_html(
        index=False, float_format=lambda v: f"{v:.{digits}f}", na_rep="–", border=0
    )


@dataclass(eq=False)
class EstimateResult:
    """Result of one estimator.

    Attributes
    ----------
    estimator
        Name of the estimator that produced the result (e.g. ``"did"``).
    table
        Tidy estimates: ``term, estimate, std_error, ci_low, ci_high, p_value, n``.
    result
        The underlying statsmodels / linearmodels / lifelines result (or ``None``).
    nobs
        Number of observations used.
    notes
        Plain-language notes on the method (shown in ``summary()`` and the HTML view).
    labels
        Language of the reader-facing rendering, ``"en"`` or ``"de"``.
    title
        Heading of the rendering.
    params
        Tidy term -> name of the coefficient in ``result`` (for follow-up inference such
        as :func:`wild_cluster_bootstrap`).
    """

    estimator: str
    table: pd.DataFrame
    result: Any
    nobs: int
    notes: tuple[str, ...] = ()
    labels: Labels = "en"
    title: str = field(default="")
    params: dict[str, str] = field(default_factory=dict)

    def tidy(self) -> pd.DataFrame:
        """The estimates as a DataFrame with the standard tidy columns."""
        return self.table.copy()

    def summary(self) -> str:
        """Plain-text summary: title, estimates and notes."""
        head = self.title or self.estimator
        body = self.table.to_string(index=False, float_format=lambda v: f"{v:.4f}")
        lines = [head, "=" * len(head), body, f"N = {self.nobs}"]
        lines += [f"- {note}" for note in self.notes]
        return "\n".join(lines)

    def with_labels(self, labels: Labels) -> EstimateResult:
        """Copy of the result that renders in ``labels`` ("en" or "de")."""
        return replace(self, labels=labels)

    def _extra_html(self) -> str:
        return ""

    def _repr_html_(self) -> str:
        title = html.escape(self.title or self.estimator)
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        notes_html = f"<p>{label('notes', self.labels)}:</p><ul>{notes}</ul>" if notes else ""
        return (
            f"<div><h4>{title}</h4>{frame_to_html(self.table, self.labels)}"
            f"<p>N = {self.nobs}</p>{self._extra_html()}{notes_html}</div>"
        )

    def __repr__(self) -> str:
        return self.summary()


# ---------------------------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------------------------


def require_columns(df: pd.DataFrame, columns: Iterable[str | None]) -> None:
    """Raise ``KeyError`` naming every requested column that ``df`` does not have."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(df).__name__}")
    wanted = [c for c in columns if c is not None]
    missing = [c for c in wanted if c not in df.columns]
    if missing:
        raise KeyError(f"column(s) not found in data: {', '.join(map(repr, missing))}")


def as_list(columns: str | Sequence[str] | None) -> list[str]:
    """``None`` -> ``[]``, a string -> ``[string]``, a sequence -> list."""
    if columns is None:
        return []
    if isinstance(columns, str):
        return [columns]
    return list(columns)


def binary_series(df: pd.DataFrame, column: str) -> pd.Series:
    """The column as 0/1 integers; ``ValueError`` unless it has exactly the values 0 and 1."""
    s = df[column]
    if s.isna().any():
        raise ValueError(f"column {column!r} has missing values; drop or impute them first")
    if pd.api.types.is_bool_dtype(s):
        s = s.astype(int)
    values = set(pd.unique(s))
    if not values <= {0, 1} or len(values) < 2:
        shown = sorted(map(str, values))[:5]
        raise ValueError(
            f"column {column!r} must be binary with both values 0 and 1, found: {', '.join(shown)}"
        )
    return s.astype(int)


def complete_rows(df: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """Rows without missing values in ``columns``; ``ValueError`` if none are left."""
    cols = list(dict.fromkeys(columns))
    out = df.loc[:, cols].dropna()
    if out.empty:
        raise ValueError(f"no complete rows in columns {cols}")
    return out


def safe_names(columns: Sequence[str], prefix: str = "x") -> dict[str, str]:
    """Map column names to formula-safe names ``x0, x1, ...`` (original -> safe)."""
    return {c: f"{prefix}{i}" for i, c in enumerate(columns)}
