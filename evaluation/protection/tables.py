"""Protection of one table: primary and secondary suppression (the per-table solver).

Reports go to the NRW ministry and to the public; the underlying client data is personal data
under the GDPR. No reader may see a small count, or compute one from what is shown. Every
table therefore passes through this module before it is displayed:

* :func:`suppress_table` protects a one- or two-way table of counts with its totals
  ("Gesamt" row and column).
* :func:`suppress_frame` protects a long indicator table: count columns plus values derived
  from them (shares, means, confidence bounds).
* Both return a :class:`DisclosedTable`, which holds no suppressed number at all and renders
  itself for readers (German number format, marker in suppressed cells, footnote).
* :func:`guard_dataframes` stops notebooks from displaying raw ``pandas`` objects, so that a
  table can only reach a report through this module.

Rules
-----
Primary suppression
    A count ``c`` is sensitive when ``0 < c < threshold`` (Cologne: 5, Bundesagentur für
    Arbeit: 3). A true zero is shown by default (``zero_is_safe=True``): in the agency's
    figures "nobody in this cell" discloses nothing about a person, and hiding zeros would
    force much more secondary suppression. Set ``zero_is_safe=False`` for tables where an
    empty cell is itself revealing (e.g. "no client from country X had outcome Y" when the
    row is known to be non-empty).
Secondary suppression
    Totals are published (or known from elsewhere in the report), so every row and column is
    an equation ``sum(cells) = total``. An equation must never have exactly one unknown, or
    the unknown is recomputed by subtraction. Greedy heuristic, repeated until stable: for an
    exposed equation, suppress one further cell of it (the total included), preferring

    1. non-zero cells (hiding a zero as complement protects almost nothing),
    2. cells that also close another exposed equation (fewer suppressed cells overall),
    3. the smallest value (the usual "minimum value" heuristic: least information lost),
    4. the first cell in reading order (deterministic).

    A sensitive cell whose other row cells are all zero equals its row total; the total is
    then sensitive itself (primary) or is chosen as the complement by rule 1.
    Two further checks close gaps the single-equation rule leaves:

    * aggregate rule: if an equation's total is published, the sum of its suppressed cells
      can be recomputed; that sum must not itself be a sensitive count (hiding a 2 and a 1
      in a row whose total is shown would reveal "3 persons in these two categories", and
      for derived means the mean of those 3 persons);
    * exact check: after the greedy pass, any suppressed cell that a reader can still pin
      down from the published values (by a combination of equations, a "bridge" between
      otherwise protected blocks, or by non-negativity, e.g. cells of a line whose total
      is 0) gets a further complement: the smallest cell that makes it undetermined. A
      pinned zero is accepted when zeros are safe.
Derived values
    A share, mean or confidence bound is suppressed whenever a count it is computed on is
    suppressed. For shares the numerator is a count too: it is suppressed when it is
    sensitive, and also when the remainder ``denominator - numerator`` is sensitive, because
    numerator and denominator together reveal it (BA: "Daten, aus denen rechnerisch auf
    einen solchen Zahlenwert geschlossen werden kann").

Limits
------
The protection covers the equations of one table. It does not know about other tables: two
published tables that break the same population down differently can still be differenced
against each other. Keep breakdowns consistent across a report, and prefer one protected
table over several overlapping ones. Totals hidden with ``margins=False`` are treated as
known to readers (they usually appear elsewhere), so they are never chosen as complements;
a hidden total that is itself sensitive is treated as unknown (wherever it is published, the
same rule suppresses it).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evaluation.protection.render import ColumnFormat, DisclosedTable
from evaluation.protection.rule import (
    TOTAL_LABEL,
    TOTAL_LIKE_LABELS,
    DisclosureError,
    Language,
    SuppressionRule,
    _resolve_rule,
)

# --------------------------------------------------------------------------------------------
# Secondary suppression on a set of additive equations
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Equation:
    """One published additive relation ``sum(values[interior]) == values[total]``."""

    interior: tuple[int, ...]
    total: int

    @property
    def cells(self) -> tuple[int, ...]:
        return (*self.interior, self.total)


class _Suppressor:
    """Secondary suppression for cells linked by additive equations.

    Cells are addressed by position in the flat ``values`` array. ``hidden`` cells are not
    displayed (totals of a table shown without margins); the ``locked`` ones among them are
    known to readers from elsewhere and are never suppressed, the others count as unknown.
    Only displayed cells need protection.
    """

    _TOL = 1e-8

    def __init__(
        self,
        values: np.ndarray,
        equations: Sequence[_Equation],
        rule: SuppressionRule,
        hidden: np.ndarray | None = None,
        locked: np.ndarray | None = None,
    ) -> None:
        self.values = np.asarray(values, dtype=float)
        self.equations = list(equations)
        nothing = np.zeros(self.values.shape, dtype=bool)
        self.hidden = nothing if hidden is None else np.asarray(hidden, dtype=bool)
        self.locked = nothing if locked is None else np.asarray(locked, dtype=bool)
        self.rule = rule
        self.member: dict[int, list[int]] = {}
        for k, eq in enumerate(self.equations):
            for cell in eq.cells:
                self.member.setdefault(cell, []).append(k)

    def protect(self, primary: np.ndarray) -> np.ndarray:
        """Return the full suppression mask starting from the primary mask."""
        mask = np.asarray(primary, dtype=bool) & ~self.locked
        accepted = np.zeros(mask.shape, dtype=bool)
        while True:
            self._close_equations(mask)
            exposed = self._determined(mask) & self._needs_protection(mask) & ~accepted
            if not exposed.any():
                return mask
            cell = int(np.flatnonzero(exposed)[0])
            if not self._break(mask, cell):
                if self.rule.is_sensitive(self.values[cell]):
                    raise DisclosureError(
                        "A suppressed cell stays recomputable from the table's totals. This "
                        "happens when hidden totals (margins=False) that count as known imply "
                        "a small one: show the margins or merge small categories."
                    )
                accepted[cell] = True  # a complement that reveals nothing sensitive

    def _needs_protection(self, mask: np.ndarray) -> np.ndarray:
        """Suppressed cells whose recomputation would matter (a safe zero reveals nothing)."""
        safe_zero = (self.values == 0) & self.rule.zero_is_safe
        return mask & ~safe_zero & ~self.hidden

    # -- greedy pass -------------------------------------------------------------------------

    def _close_equations(self, mask: np.ndarray) -> None:
        changed = True
        while changed:
            changed = False
            for eq in self.equations:
                if not self._exposed(eq, mask):
                    continue
                cell = self._complement(eq, mask)
                if cell is None:
                    if self._unknowns(eq, mask) == 1:
                        raise DisclosureError(
                            "A suppressed cell cannot be protected: every other cell of its "
                            "row or column is already known to readers."
                        )
                    continue  # aggregate rule cannot be met: nothing left to hide
                mask[cell] = True
                changed = True

    def _unknowns(self, eq: _Equation, mask: np.ndarray) -> int:
        return int(mask[list(eq.cells)].sum())

    def _exposed(self, eq: _Equation, mask: np.ndarray) -> bool:
        """Does this equation reveal a suppressed cell or a sensitive aggregate?"""
        unknowns = self._unknowns(eq, mask)
        if unknowns == 0:
            return False
        if unknowns == 1:
            return True
        if mask[eq.total]:
            return False
        interior = np.asarray(eq.interior)
        hidden_sum = self.values[interior[mask[interior]]].sum()
        return bool(self.rule.is_sensitive(hidden_sum))

    def _complement(self, eq: _Equation, mask: np.ndarray) -> int | None:
        candidates = [c for c in eq.cells if not mask[c] and not self.locked[c]]
        if not candidates:
            return None

        def preference(cell: int) -> tuple[bool, int, float, int]:
            value = self.values[cell]
            also_closes = sum(self._exposed(self.equations[k], mask) for k in self.member[cell])
            return (value == 0, -also_closes, value, cell)

        return min(candidates, key=preference)

    # -- exact check -------------------------------------------------------------------------

    def _system(self, unknown: np.ndarray) -> np.ndarray:
        """Coefficients of the equations in the unknown cells (one row per equation)."""
        column = {cell: j for j, cell in enumerate(unknown)}
        rows = []
        for eq in self.equations:
            row = np.zeros(unknown.size)
            for cell in eq.interior:
                if cell in column:
                    row[column[cell]] += 1.0
            if eq.total in column:
                row[column[eq.total]] -= 1.0
            if row.any():
                rows.append(row)
        return np.vstack(rows) if rows else np.zeros((0, unknown.size))

    def _forced_zeros(self, matrix: np.ndarray, unknown: np.ndarray) -> np.ndarray:
        """Unknowns that non-negativity pins to 0 (e.g. cells of a line whose total is 0).

        Only cells whose value is 0 can be pinned this way; the linear programme is solved
        for those alone, so tables without suppressed zeros never reach scipy.
        """
        values = self.values[unknown]
        forced = np.zeros(unknown.size, dtype=bool)
        zeros = np.flatnonzero(values == 0)
        if zeros.size == 0 or matrix.shape[0] == 0:
            return forced
        from scipy.optimize import linprog

        rhs = matrix @ values
        for j in zeros:
            objective = np.zeros(unknown.size)
            objective[j] = -1.0  # maximise the cell
            result = linprog(objective, A_eq=matrix, b_eq=rhs, bounds=(0, None), method="highs")
            forced[j] = result.status == 0 and -result.fun <= self._TOL
        return forced

    def _determined(self, mask: np.ndarray) -> np.ndarray:
        """Suppressed cells whose value follows from the published values.

        The published values and non-negativity define the set of tables a reader considers
        possible. Cells pinned to 0 are found by linear programming; with those fixed, a cell
        is constant on that set iff it is constant on the solutions of the linear equations,
        i.e. iff it vanishes on the null space of the equation system.
        """
        out = np.zeros(mask.shape, dtype=bool)
        unknown = np.flatnonzero(mask)
        if unknown.size == 0:
            return out
        matrix = self._system(unknown)
        forced = self._forced_zeros(matrix, unknown)
        out[unknown[forced]] = True
        free = unknown[~forced]
        matrix = matrix[:, ~forced]
        matrix = matrix[np.abs(matrix).sum(axis=1) > 0]
        if free.size == 0 or matrix.shape[0] == 0:
            return out
        _, singular, vh = np.linalg.svd(matrix)
        rank = int((singular > self._TOL * max(matrix.shape) * singular.max()).sum())
        null_space = vh[rank:]
        out[free[np.all(np.abs(null_space) < self._TOL, axis=0)]] = True
        return out

    def _break(self, mask: np.ndarray, cell: int) -> bool:
        """Suppress the cheapest further cell that leaves ``cell`` undetermined, if any."""
        candidates = [c for c in self.member if not mask[c] and not self.locked[c]]
        candidates.sort(key=lambda c: (self.values[c] == 0, self.values[c], c))
        for candidate in candidates:
            trial = mask.copy()
            trial[candidate] = True
            if not self._determined(trial)[cell]:
                mask[candidate] = True
                return True
        return False


def _check_equations(
    values: np.ndarray, equations: Sequence[_Equation], descriptions: Sequence[str]
) -> None:
    """Raise ``ValueError`` when given totals do not equal the sum of their parts."""
    for eq, description in zip(equations, descriptions, strict=True):
        parts = values[list(eq.interior)].sum()
        if parts != values[eq.total]:
            raise ValueError(
                f"Totals do not add up: {description} is {values[eq.total]:g}, its parts sum "
                f"to {parts:g}. Show every category (e.g. 'keine Angabe') so the totals are "
                "the sums of the cells shown."
            )


def _as_counts(frame: pd.DataFrame, what: str) -> np.ndarray:
    """Validated 2-D float array of non-negative integer counts."""
    try:
        values = frame.to_numpy(dtype="float64", na_value=np.nan)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{what} must be numeric counts") from err
    if frame.dtypes.map(pd.api.types.is_bool_dtype).any():
        raise ValueError(f"{what} must be counts, not booleans")
    if not np.isfinite(values).all():
        raise ValueError(f"{what} contain missing or infinite values")
    if (values < 0).any() or (values != np.round(values)).any():
        raise ValueError(f"{what} must be non-negative integers")
    return values


def _label_head(label: Hashable) -> Hashable:
    return label[0] if isinstance(label, tuple) and label else label


def _is_total_like(label: Hashable, total_label: str) -> bool:
    head = _label_head(label)
    return head == total_label or (isinstance(head, str) and head.casefold() in TOTAL_LIKE_LABELS)


# --------------------------------------------------------------------------------------------
# Two-way and one-way tables
# --------------------------------------------------------------------------------------------


def _total_position(labels: pd.Index, total_label: str, axis: str) -> int | None:
    """Position of the total along one axis; reject look-alike totals under another name."""
    hits = [i for i, label in enumerate(labels) if _label_head(label) == total_label]
    if len(hits) > 1:
        raise ValueError(f"More than one {axis} labelled {total_label!r}")
    foreign = [label for label in labels if _is_total_like(label, total_label)]
    foreign = [label for label in foreign if _label_head(label) != total_label]
    if foreign:
        raise ValueError(
            f"The {axis} {foreign[0]!r} looks like a total but total_label is {total_label!r}; "
            "pass total_label= (or margins_name= to pd.crosstab) so it is treated as a total."
        )
    return hits[0] if hits else None


def _append_total_row(frame: pd.DataFrame, total_label: str) -> pd.DataFrame:
    index = frame.index
    if isinstance(index, pd.MultiIndex):
        key = (total_label, *[""] * (index.nlevels - 1))
        new_index = pd.MultiIndex.from_tuples([key], names=index.names)
    else:
        new_index = pd.Index([total_label], name=index.name)
    total = pd.DataFrame([frame.sum(axis=0).to_numpy()], index=new_index, columns=frame.columns)
    return pd.concat([frame, total])


@dataclass(frozen=True)
class _Grid:
    """A table of counts with its totals, and which totals readers see."""

    frame: pd.DataFrame
    row_total: int | None
    col_total: int | None
    row_total_hidden: bool
    col_total_hidden: bool

    @classmethod
    def build(cls, counts: pd.DataFrame, total_label: str, margins: bool) -> _Grid:
        frame = counts.astype("float64")
        col_total = _total_position(frame.columns, total_label, "column")
        row_total = _total_position(frame.index, total_label, "row")
        add_col = col_total is None and frame.shape[1] > 1
        add_row = row_total is None and frame.shape[0] > 1
        if add_col:
            frame = _append_total_row(frame.T, total_label).T
            col_total = frame.shape[1] - 1
        if add_row:
            frame = _append_total_row(frame, total_label)
            row_total = frame.shape[0] - 1
        return cls(frame, row_total, col_total, add_row and not margins, add_col and not margins)

    def position(self, row: int, col: int) -> int:
        return row * self.frame.shape[1] + col

    def equations(self) -> list[_Equation]:
        n_rows, n_cols = self.frame.shape
        equations = []
        if self.col_total is not None:
            inner = [c for c in range(n_cols) if c != self.col_total]
            for r in range(n_rows):
                cells = tuple(self.position(r, c) for c in inner)
                equations.append(_Equation(cells, self.position(r, self.col_total)))
        if self.row_total is not None:
            inner = [r for r in range(n_rows) if r != self.row_total]
            for c in range(n_cols):
                cells = tuple(self.position(r, c) for r in inner)
                equations.append(_Equation(cells, self.position(self.row_total, c)))
        return equations

    def shown(self) -> tuple[np.ndarray, np.ndarray]:
        """Boolean selectors of the rows and columns readers see."""
        rows = np.ones(self.frame.shape[0], dtype=bool)
        cols = np.ones(self.frame.shape[1], dtype=bool)
        if self.row_total_hidden:
            rows[self.row_total] = False
        if self.col_total_hidden:
            cols[self.col_total] = False
        return rows, cols

    def hidden(self) -> np.ndarray:
        """Flat mask of the cells readers do not see in this table (hidden totals)."""
        rows, cols = self.shown()
        return ~np.outer(rows, cols).ravel()

    def describe(self, eq: _Equation) -> str:
        r, c = divmod(eq.total, self.frame.shape[1])
        return f"total cell ({self.frame.index[r]!r}, {self.frame.columns[c]!r})"


def suppress_table(
    counts: pd.DataFrame | pd.Series,
    *,
    threshold: int | None = None,
    margins: bool = True,
    marker: str | None = None,
    zero_is_safe: bool | None = None,
    rule: SuppressionRule | None = None,
    total_label: str = TOTAL_LABEL,
    caption: str | None = None,
    language: Language = "de",
    force: pd.DataFrame | None = None,
) -> DisclosedTable:
    """Protect a one- or two-way table of counts.

    Parameters
    ----------
    counts
        Rows x columns of non-negative integer counts, e.g. from
        ``pd.crosstab(a, b, margins=True, margins_name="Gesamt")``. A row or column labelled
        ``total_label`` is taken as the total and must equal the sum of the other cells. A
        Series is a one-way table.
    threshold, marker, zero_is_safe
        Override the corresponding fields of ``rule`` (default :class:`SuppressionRule`:
        5, ``"*"``, ``True``).
    margins
        Whether readers see the totals. Missing totals are added (for axes with more than one
        category). With ``margins=False`` added totals are not displayed, but they are still
        treated as known to readers (they normally appear elsewhere in the report), so they
        are never used as complements; a hidden total that is sensitive itself counts as
        unknown.
    rule
        The report's :class:`SuppressionRule`.
    total_label
        Label of total rows and columns.
    caption, language
        Passed to the :class:`DisclosedTable` for display.
    force
        Boolean frame (labels as the displayed table): cells to hide in addition, e.g. as
        decided by the release audit (:mod:`evaluation.protection.release`); their
        complements follow.

    Returns
    -------
    DisclosedTable
        Counts as ``Int64`` with suppressed cells missing.

    Raises
    ------
    ValueError
        If counts are not non-negative integers or given totals do not add up.
    DisclosureError
        If a suppressed cell cannot be protected (only possible with hidden totals).
    """
    rule = _resolve_rule(rule, threshold, marker, zero_is_safe)
    if isinstance(counts, pd.Series):
        counts = counts.to_frame(name=counts.name if counts.name is not None else "Anzahl")
    if counts.empty:
        raise ValueError("counts is empty")
    _as_counts(counts, "counts")
    grid = _Grid.build(counts, total_label, margins)
    values = grid.frame.to_numpy().ravel()
    equations = grid.equations()
    _check_equations(values, equations, [grid.describe(eq) for eq in equations])
    # Hidden totals count as known to readers, unless they are sensitive themselves (then
    # they would be suppressed wherever they are published). Relations among hidden totals
    # only (the hidden total row or column) belong to the table that publishes them.
    hidden = grid.hidden()
    sensitive = rule.is_sensitive(values)
    locked = hidden & ~sensitive
    equations = [eq for eq in equations if not hidden[list(eq.cells)].all()]
    primary = sensitive & ~locked
    extra = np.zeros(primary.shape, dtype=bool)
    if force is not None:
        full = force.reindex(index=grid.frame.index, columns=grid.frame.columns)
        extra = full.fillna(False).to_numpy(dtype=bool).ravel() & ~locked
    mask = _Suppressor(values, equations, rule, hidden, locked).protect(primary | extra)

    rows, cols = grid.shown()
    shape = grid.frame.shape
    shown = grid.frame.iloc[rows, cols].round().astype("Int64")

    def as_frame(flat: np.ndarray) -> pd.DataFrame:
        block = flat.reshape(shape)[np.ix_(rows, cols)]
        return pd.DataFrame(block, index=shown.index, columns=shown.columns)

    mask_frame = as_frame(mask)
    return DisclosedTable(
        values=shown.mask(mask_frame),
        mask=mask_frame,
        primary_mask=as_frame(primary),
        rule=rule,
        formats=(ColumnFormat("count"),) * shown.shape[1],
        caption=caption,
        language=language,
    )


# --------------------------------------------------------------------------------------------
# Long indicator tables
# --------------------------------------------------------------------------------------------


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


@dataclass(frozen=True)
class _Layout:
    """Roles of the columns of a long indicator table."""

    counts: tuple[str, ...]
    derived: tuple[str, ...]
    keys: tuple[str, ...]
    denominator: Mapping[str, str]
    numerator: Mapping[str, str]
    partitions: tuple[str, ...]

    @classmethod
    def build(
        cls,
        df: pd.DataFrame,
        n: str | Mapping[str, str],
        derived: Sequence[str],
        numerators: Mapping[str, str],
        counts: Sequence[str],
        partitions: Sequence[str],
        group_cols: Sequence[str] | None,
    ) -> _Layout:
        if not df.columns.is_unique:
            raise ValueError("column labels must be unique")
        if isinstance(n, str):
            all_derived = _unique([*derived, *numerators])
            denominator = dict.fromkeys(all_derived, n)
            count_cols = _unique([n, *numerators.values(), *counts])
        else:
            all_derived = _unique([*derived, *n, *numerators])
            missing = [d for d in all_derived if d not in n]
            if missing:
                raise ValueError(f"no count column given in n for derived column(s) {missing}")
            denominator = dict(n)
            count_cols = _unique([*n.values(), *numerators.values(), *counts])
        overlap = set(count_cols) & set(all_derived)
        if overlap:
            raise ValueError(f"column(s) {sorted(overlap)} declared both as count and derived")
        declared = set(count_cols) | set(all_derived)
        absent = [c for c in (*declared, *partitions, *(group_cols or ())) if c not in df.columns]
        if absent:
            raise ValueError(f"column(s) {absent} not in the frame")
        if group_cols is None:
            keys = tuple(c for c in df.columns if c not in declared)
            numeric = [c for c in keys if _is_numeric(df[c])]
            if numeric:
                raise ValueError(
                    f"numeric column(s) {numeric} are neither counts nor derived values; "
                    "declare them (n=, counts=, derived=) or list the key columns in group_cols"
                )
        else:
            keys = _unique([*group_cols, *partitions])
            unknown = [c for c in df.columns if c not in declared and c not in keys]
            if unknown:
                raise ValueError(
                    f"column(s) {unknown} are neither counts, derived values nor group_cols"
                )
        not_keys = [p for p in partitions if p not in keys]
        if not_keys:
            raise ValueError(f"complementary_within column(s) {not_keys} are not key columns")
        return cls(count_cols, all_derived, keys, denominator, dict(numerators), tuple(partitions))

    def basis(self, column: str) -> tuple[str, ...]:
        """The count columns a derived column is computed on."""
        numerator = self.numerator.get(column)
        return (self.denominator[column],) + ((numerator,) if numerator else ())


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _frame_equations(
    df: pd.DataFrame, layout: _Layout, total_label: str
) -> tuple[list[_Equation], list[str]]:
    """Equations ``sum(categories) == total`` per partition column, group and count column."""
    for key in layout.keys:
        labels = [v for v in df[key].unique() if _is_total_like(v, total_label)]
        if labels and (key not in layout.partitions or labels != [total_label]):
            raise ValueError(
                f"column {key!r} holds total-like value(s) {labels}; name it in "
                f"complementary_within and label its totals {total_label!r} so its "
                "categories are protected against recomputation from the total"
            )
    n_counts = len(layout.counts)
    equations: list[_Equation] = []
    descriptions: list[str] = []
    for partition in layout.partitions:
        others = [k for k in layout.keys if k != partition]
        if others:
            grouped = df.groupby(others, dropna=False, sort=False, observed=True)
            groups = grouped.indices
        else:
            groups = {(): np.arange(len(df))}
        is_total = (df[partition] == total_label).to_numpy()
        for group, positions in groups.items():
            totals = positions[is_total[positions]]
            if totals.size != 1:
                raise ValueError(
                    f"group {group!r}: expected exactly one row with {partition} == "
                    f"{total_label!r}, found {totals.size}"
                )
            parts = positions[~is_total[positions]]
            if parts.size == 0:
                continue
            for j, column in enumerate(layout.counts):
                cells = tuple(int(p) * n_counts + j for p in parts)
                equations.append(_Equation(cells, int(totals[0]) * n_counts + j))
                descriptions.append(f"{column!r} in the total row of group {group!r}")
    return equations, descriptions


def _primary_counts(counts: np.ndarray, layout: _Layout, rule: SuppressionRule) -> np.ndarray:
    """Primary mask of the count cells, including numerators whose remainder is sensitive."""
    primary = rule.is_sensitive(counts)
    for share, numerator in layout.numerator.items():
        j_num = layout.counts.index(numerator)
        j_den = layout.counts.index(layout.denominator[share])
        remainder = counts[:, j_den] - counts[:, j_num]
        if (remainder < 0).any():
            raise ValueError(f"numerator {numerator!r} exceeds its denominator for {share!r}")
        primary[:, j_num] |= rule.is_sensitive(remainder)
    return primary


def suppress_frame(
    df: pd.DataFrame,
    *,
    n: str | Mapping[str, str],
    derived: Sequence[str] = (),
    numerators: Mapping[str, str] | None = None,
    counts: Sequence[str] = (),
    complementary_within: str | Sequence[str] | None = None,
    group_cols: Sequence[str] | None = None,
    threshold: int | None = None,
    marker: str | None = None,
    zero_is_safe: bool | None = None,
    rule: SuppressionRule | None = None,
    total_label: str = TOTAL_LABEL,
    percent: Sequence[str] | None = None,
    decimals: int | Mapping[str, int] | None = None,
    caption: str | None = None,
    language: Language = "de",
    force: pd.DataFrame | None = None,
) -> DisclosedTable:
    """Protect a long indicator table: one row per group, count and derived columns.

    Parameters
    ----------
    df
        One row per group (e.g. per category and year, plus "Gesamt" rows). The index is
        displayed unless it is a ``RangeIndex``; it plays no role in the protection.
    n
        The count column every derived value is computed on, or a mapping
        ``derived column -> count column`` when derived values rest on different counts
        (e.g. a mean of questionnaire scores on the number of respondents).
    derived
        Columns computed on the counts: shares, means, confidence bounds. A derived value is
        suppressed whenever one of its counts is.
    numerators
        ``share column -> numerator count column`` for shares (and their confidence bounds,
        which reveal the numerator too). The numerator is protected like any count, and also
        when ``denominator - numerator`` is sensitive.
    counts
        Further count columns shown in the table (primary and secondary suppression apply).
    complementary_within
        Column(s) whose categories add up to a row labelled ``total_label`` (e.g.
        ``"geschlecht"`` with rows "weiblich", "männlich", "Gesamt"). Within each group of the
        other key columns, every count column then forms an equation and gets secondary
        suppression. Two columns describe a two-way table in long form.
    group_cols
        Key (label) columns. Default: all columns that are not counts or derived values;
        those must then be non-numeric, so that no statistic slips through undeclared.
    threshold, marker, zero_is_safe, rule, total_label
        As in :func:`suppress_table`.
    percent
        Derived columns holding proportions (0-1), displayed as percentages. Default: the
        columns in ``numerators``.
    decimals
        Decimals of derived columns: one number for all or a mapping per column (default 1).
    caption, language
        Passed to the :class:`DisclosedTable`.
    force
        Boolean frame like ``df``: count cells to hide in addition (release audit).

    Returns
    -------
    DisclosedTable
        Counts as ``Int64``, derived values as ``float64``, suppressed cells missing; key
        columns unchanged.

    Raises
    ------
    ValueError
        If columns are undeclared, counts are not non-negative integers, a total-like row is
        present without ``complementary_within``, a group lacks its total row, or totals do
        not add up.
    """
    rule = _resolve_rule(rule, threshold, marker, zero_is_safe)
    numerators = dict(numerators or {})
    if isinstance(complementary_within, str):
        partitions: tuple[str, ...] = (complementary_within,)
    else:
        partitions = tuple(complementary_within or ())
    layout = _Layout.build(df, n, derived, numerators, counts, partitions, group_cols)
    count_values = _as_counts(df[list(layout.counts)], "count columns")
    equations, descriptions = _frame_equations(df, layout, total_label)
    flat = count_values.ravel()
    _check_equations(flat, equations, descriptions)
    primary = _primary_counts(count_values, layout, rule).ravel()
    extra = np.zeros(primary.shape, dtype=bool)
    if force is not None:
        extra = force.reindex(columns=list(layout.counts)).fillna(False).to_numpy(bool).ravel()
    mask = _Suppressor(flat, equations, rule).protect(primary | extra)

    shape = count_values.shape
    masks = {
        c: (mask.reshape(shape)[:, j], primary.reshape(shape)[:, j])
        for j, c in enumerate(layout.counts)
    }
    for column in layout.derived:
        basis = layout.basis(column)
        masks[column] = (
            np.logical_or.reduce([masks[b][0] for b in basis]),
            np.logical_or.reduce([masks[b][1] for b in basis]),
        )
    return _disclosed_frame(df, layout, masks, rule, percent, decimals, caption, language)


def _disclosed_frame(
    df: pd.DataFrame,
    layout: _Layout,
    masks: Mapping[str, tuple[np.ndarray, np.ndarray]],
    rule: SuppressionRule,
    percent: Sequence[str] | None,
    decimals: int | Mapping[str, int] | None,
    caption: str | None,
    language: Language,
) -> DisclosedTable:
    """Assemble the :class:`DisclosedTable` of :func:`suppress_frame`."""
    percent = tuple(layout.numerator) if percent is None else tuple(percent)
    stray = [c for c in percent if c not in layout.derived]
    if stray:
        raise ValueError(f"percent column(s) {stray} are not derived columns")
    values = df.copy()
    for column in layout.counts:
        values[column] = df[column].round().astype("Int64").mask(masks[column][0])
    for column in layout.derived:
        values[column] = pd.to_numeric(df[column]).astype("float64").mask(masks[column][0])
    no_mask = np.zeros(len(df), dtype=bool)

    def as_frame(which: int) -> pd.DataFrame:
        data = {c: masks[c][which] if c in masks else no_mask for c in df.columns}
        return pd.DataFrame(data, index=df.index, columns=df.columns)

    formats = tuple(_column_format(c, layout, percent, decimals) for c in df.columns)
    return DisclosedTable(
        values=values,
        mask=as_frame(0),
        primary_mask=as_frame(1),
        rule=rule,
        formats=formats,
        caption=caption,
        language=language,
        derived=bool(layout.derived),
    )


def _column_format(
    column: str,
    layout: _Layout,
    percent: Sequence[str],
    decimals: int | Mapping[str, int] | None,
) -> ColumnFormat:
    if column in layout.counts:
        return ColumnFormat("count")
    if column not in layout.derived:
        return ColumnFormat("label")
    if decimals is None:
        places = 1
    elif isinstance(decimals, Mapping):
        places = decimals.get(column, 1)
    else:
        places = decimals
    return ColumnFormat("share" if column in percent else "value", places)
