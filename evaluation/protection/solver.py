"""The audit of a release, and the choice of further cells to hide until it passes.

For a release (:class:`~evaluation.protection.model.Release`) the reader's knowledge is the
system ``A x = b, x >= 0`` over the atom sizes ``x`` (one equation per shown cell). The audit
solves linear programmes with HiGHS (its Python interface `highspy`) to find, for

* every hidden cell: the smallest and largest value it can have. A hidden cell holding a
  sensitive count (``0 < v < threshold``) must be neither pinned down nor bounded below the
  threshold, or a reader knows it is a small group. A hidden cell that is not sensitive and is
  pinned down is reported as ``pinned``: hiding it was useless, and :func:`protect` shows it;
* every small atom (a group of ``0 < s < threshold`` units that the published cells
  distinguish, e.g. the difference of two shown counts, or a quarter against the year): the
  largest size it can have. If that is below the threshold, the reader has isolated a small
  group by difference.

Bounds of the relaxation are rounded to integers (``ceil`` of the minimum, ``floor`` of the
maximum), which is what an integer reader can conclude at least; the relaxation never
claims a cell safe that an LP-based attack recovers.

:func:`protect` adds further suppression: for a failing finding it hides the cheapest shown
cell of the tables still open for change that contains the failing group (smallest value,
margins last), and audits again, until the release passes.

Most bounds need no programme of their own. Any point of ``A x = b, x >= 0`` is a possible
truth for the reader and proves safe what it shows (a group at least the threshold, a hidden
cell two values apart); only what no such *witness* certifies gets its exact programme, and
every finding comes from one. Witnesses: the true sizes; the solutions of the audit's
programmes; capped programmes (``max sum min(x_k, threshold)``) that certify many small
groups at once; and solutions of earlier audits in this process over the same groups, used
only after checking that they solve this release's equations. Equal equations (the same
count in two tables) are kept once. The findings are those of one programme per bound
(``tests/test_protection_speed_equivalence.py`` compares with the audit before issue #13).
"""

from __future__ import annotations

import math
import os
import sys
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from evaluation.protection.model import Atoms, Cell, Release, _unit_ids, forget_partitions

_EPS = 1e-7


@dataclass(frozen=True)
class Finding:
    """Something a reader can deduce that the rule forbids."""

    kind: Literal["cell", "group", "pinned"]
    #: the hidden cell (``kind="cell"``) or one shown cell that contains the group
    cell: Cell
    low: float
    high: float
    true: float
    atom: int | None = None

    def message(self, language: str = "de") -> str:
        """One line naming table and cell."""
        bounds = f"[{_fmt(self.low)}, {_fmt(self.high)}]"
        if self.kind == "cell":
            if language == "de":
                return (
                    f"Geheimhaltung: {self.cell.name} ist verborgen, aber aus den veröffentlichten "
                    f"Zahlen auf {bounds} eingrenzbar"
                )
            return f"disclosure: hidden cell {self.cell.name} can be narrowed to {bounds}"
        if language == "de":
            return (
                f"Geheimhaltung: eine kleine Gruppe in {self.cell.name} ist durch Differenzbildung "
                f"auf {bounds} eingrenzbar"
            )
        return f"disclosure: a small group within {self.cell.name} can be narrowed to {bounds}"


def _fmt(value: float) -> str:
    return "∞" if math.isinf(value) else str(int(value))


@dataclass
class Audit:
    """Result of an audit: the findings and the LP work done."""

    findings: list[Finding] = field(default_factory=list)
    programmes: int = 0
    #: hidden cells that are not sensitive but pinned by the rest of the release, and were
    #: therefore shown (hiding them protected nothing)
    revealed: list[Cell] = field(default_factory=list)
    #: findings no cell open for change bounds: left by earlier releases, not by these tables
    earlier: list[Finding] = field(default_factory=list)
    #: the hidden cells whose bounds the audit computed (each is pinned or not)
    checked: list[Cell] = field(default_factory=list, repr=False)

    @property
    def passed(self) -> bool:
        """No sensitive cell and no small group can be narrowed below the threshold."""
        return not [f for f in self.findings if f.kind != "pinned"]

    @property
    def pinned(self) -> list[Finding]:
        """Hidden cells (not sensitive) a reader can recompute exactly."""
        return [f for f in self.findings if f.kind == "pinned"]


_BANNER_SHOWN = False


def _quiet_highs(highspy: Any) -> Any:
    """A HiGHS instance; its start-up banner (written to file descriptor 1) goes nowhere."""
    global _BANNER_SHOWN
    if _BANNER_SHOWN:
        return highspy.Highs()
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
            highs = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    _BANNER_SHOWN = True
    return highs


class _Programme:
    """``A x = b, x >= 0`` in HiGHS, solved for one objective after another.

    The model is built once; each new objective starts the primal simplex from the last
    optimal basis (the constraints do not change, so the basis stays feasible), which makes
    the many bounds of an audit a few iterations each.
    """

    def __init__(self, a: sparse.csr_matrix, b: np.ndarray) -> None:
        import highspy

        self._highs = _quiet_highs(highspy)
        for option, value in (
            ("output_flag", False),
            ("presolve", "off"),
            ("simplex_strategy", 4),  # primal simplex: warm starts after a change of costs
            ("threads", 1),
        ):
            self._highs.setOptionValue(option, value)
        self.n = a.shape[1]
        self._columns = np.arange(self.n, dtype=np.int32)
        self._highs.addVars(self.n, np.zeros(self.n), np.full(self.n, highspy.kHighsInf))
        a = a.tocsr()
        self._highs.addRows(
            a.shape[0],
            b,
            b,
            a.nnz,
            a.indptr[:-1].astype(np.int32),
            a.indices.astype(np.int32),
            a.data.astype(float),
        )
        self._highspy = highspy

    def minimum(self, objective: np.ndarray) -> float:
        """``min objective @ x`` (``-inf`` when unbounded)."""
        return self.solve(objective)[0]

    def solve(self, objective: np.ndarray) -> tuple[float, np.ndarray | None]:
        """``min objective @ x`` and an optimal ``x`` (``-inf`` and ``None`` when unbounded)."""
        h, highspy = self._highs, self._highspy
        h.changeColsCost(self.n, self._columns, np.asarray(objective, dtype=float))
        h.run()
        status = h.getModelStatus()
        if status == highspy.HighsModelStatus.kOptimal:
            x = np.asarray(h.getSolution().col_value, dtype=float)
            return float(h.getInfo().objective_function_value), x
        if status in (
            highspy.HighsModelStatus.kUnbounded,
            highspy.HighsModelStatus.kUnboundedOrInfeasible,
        ):
            return -math.inf, None
        raise RuntimeError(
            f"release audit: the linear programme failed ({h.modelStatusToString(status)})"
        )


class _Witnesses:
    """Feasible points of ``A x = b, x >= 0`` that give many groups at least ``cap`` at once.

    One programme maximises ``sum_k min(x_k, cap)`` over the target groups (auxiliary
    columns ``y_k <= x_k``, ``0 <= y_k <= cap``); every optimal ``x`` is a possible truth for
    the reader and certifies each target it gives ``cap``. The targets so certified leave the
    objective and the programme is solved again from the last basis, until a round
    certifies none. What is left needs its own programme (:meth:`_Programme.solve`): a
    witness only ever proves safety, never a disclosure, so the findings stay exactly those
    of one programme per group.
    """

    def __init__(self, a: sparse.csr_matrix, b: np.ndarray, targets: np.ndarray, cap: float):
        import highspy

        self._highs = h = _quiet_highs(highspy)
        for option, value in (
            ("output_flag", False),
            ("presolve", "off"),
            ("simplex_strategy", 4),
            ("threads", 1),
        ):
            h.setOptionValue(option, value)
        self._highspy = highspy
        self.n = n = a.shape[1]
        self.targets = targets = np.asarray(targets, dtype=np.int32)
        m = targets.size
        h.addVars(n, np.zeros(n), np.full(n, highspy.kHighsInf))
        h.addVars(m, np.zeros(m), np.full(m, float(cap)))
        a = a.tocsr()
        h.addRows(
            a.shape[0],
            b,
            b,
            a.nnz,
            a.indptr[:-1].astype(np.int32),
            a.indices.astype(np.int32),
            a.data.astype(float),
        )
        # y_i - x_{k_i} <= 0
        index = np.empty(2 * m, dtype=np.int32)
        index[0::2] = targets
        index[1::2] = n + np.arange(m, dtype=np.int32)
        value = np.tile(np.array([-1.0, 1.0]), m)
        h.addRows(
            m,
            np.full(m, -highspy.kHighsInf),
            np.zeros(m),
            2 * m,
            np.arange(0, 2 * m, 2, dtype=np.int32),
            index,
            value,
        )
        self._y = n + np.arange(m, dtype=np.int32)

    def solve(self, active: np.ndarray) -> np.ndarray | None:
        """An optimal ``x`` for ``max sum min(x_k, cap)`` over the active targets."""
        h, highspy = self._highs, self._highspy
        h.changeColsCost(self._y.size, self._y, np.where(active, -1.0, 0.0))
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        return np.asarray(h.getSolution().col_value, dtype=float)[: self.n]


#: capped programmes are solved for at least this many groups, and again while a round
#: certifies at least ``_BATCH_GAIN`` more (below that, one programme per group is cheaper)
_BATCH_MIN = 8
_BATCH_GAIN = 4
#: a stored solution is a witness for another release only if it satisfies that release's
#: equations to this tolerance (relative to 1 + the count; solutions of the same equations
#: meet it by orders of magnitude, those that break an equation miss it by far) and is
#: non-negative to HiGHS's own primal feasibility tolerance
_FEASIBLE_TOL = 1e-9
_NONNEGATIVE_TOL = 1e-7


class _WitnessCache:
    """Solutions of earlier audits in this process, by the groups of their component.

    Successive audits of one run see almost the same release (a new table adds a few
    equations, often none a reader did not have). A solution of an earlier audit over the
    same groups (found by their representative units) is a possible truth for the reader
    of this release if it satisfies this release's equations: then it certifies what it
    shows without a programme. It is checked (``A x = b``, ``x >= 0``) before each use, so
    a stored solution never proves anything about a release it does not fit.

    Only in memory, never written anywhere; bounded in components and solutions.
    """

    def __init__(
        self, components: int = 256, per_component: int = 400, values: int = 4_000_000
    ) -> None:
        self._store: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self.components = components
        self.per_component = per_component
        #: at most this many numbers in all (32 MB), the least recently used dropped first
        self.values = values

    def clear(self) -> None:
        self._store.clear()

    def feasible(
        self, representatives: np.ndarray, a: sparse.csr_matrix, b: np.ndarray
    ) -> list[np.ndarray]:
        """Stored solutions over these groups (in column order) that solve ``a x = b``."""
        order = np.argsort(representatives, kind="stable")
        key = representatives[order].tobytes()
        stored = self._store.get(key)
        if stored is None or not stored.size:
            return []
        self._store.move_to_end(key)
        x = np.empty_like(stored)
        x[:, order] = stored
        residual = np.abs(a @ x.T - b[:, None])
        ok = (residual <= _FEASIBLE_TOL * (1.0 + np.abs(b))[:, None]).all(axis=0)
        ok &= x.min(axis=1) >= -_NONNEGATIVE_TOL
        return list(x[ok])

    def merged(
        self, atoms: Atoms, cols: np.ndarray, a: sparse.csr_matrix, b: np.ndarray, recent: int = 16
    ) -> list[np.ndarray]:
        """Stored solutions over finer groups, summed into the groups ``cols`` of ``atoms``,
        that solve ``a x = b``.

        When cells are hidden, groups a reader told apart merge; a solution over the finer
        groups, summed over each merged group, solves the coarser equations. Each stored
        group is mapped by its representative unit; whatever the mapping gives is checked
        (``a x = b``, ``x >= 0``) before it is used, like :meth:`feasible`.
        """
        if not self._store or not cols.size:
            return []
        column_of = np.full(atoms.sizes.size, -1, dtype=np.int64)
        column_of[cols] = np.arange(cols.size)
        for key in list(self._store)[-recent:][::-1]:
            stored = self._store[key]
            if stored.shape[1] <= cols.size:
                continue  # not finer
            reps = np.frombuffer(key, dtype=np.int64)
            found, at = atoms.locate(reps)
            if not found.all():
                continue
            column = column_of[atoms.unit_group[at]]
            if (column < 0).any():
                continue  # some of its groups are not in this component
            into = sparse.csr_matrix(
                (np.ones(reps.size), (np.arange(reps.size), column)),
                shape=(reps.size, cols.size),
            )
            x = np.asarray(into.T @ stored.T).T
            residual = np.abs(a @ x.T - b[:, None])
            ok = (residual <= _FEASIBLE_TOL * (1.0 + np.abs(b))[:, None]).all(axis=0)
            ok &= x.min(axis=1) >= -_NONNEGATIVE_TOL
            if ok.any():
                self._store.move_to_end(key)
                return list(x[ok])
        return []

    def keep(self, representatives: np.ndarray, solutions: list[np.ndarray]) -> None:
        """Remember solutions over these groups (in column order); the newest are kept."""
        order = np.argsort(representatives, kind="stable")
        key = representatives[order].tobytes()
        block = np.vstack(solutions)[:, order]
        have = self._store.pop(key, None)
        if have is not None and have.size:
            block = np.vstack([have, block])
        # the first of equal rows, in order (as ``np.unique(block, axis=0)``: -0.0 == 0.0)
        keys = [row.tobytes() for row in np.ascontiguousarray(block + 0.0)]
        first = list({k: i for i, k in reversed(list(enumerate(keys)))}.values())
        block = block[np.sort(first)][-self.per_component :]
        self._store[key] = block
        while len(self._store) > self.components or (
            len(self._store) > 1 and sum(b.size for b in self._store.values()) > self.values
        ):
            self._store.popitem(last=False)


_WITNESSES = _WitnessCache()


def forget_witnesses() -> None:
    """Drop what earlier audits in this process left (a cold start, e.g. for a benchmark):
    kept solutions, kept partitions of the atoms and what is known to be pinned."""
    _WITNESSES.clear()
    _PINNED.clear()
    forget_partitions()


def _distinct_rows(matrix: sparse.csr_matrix) -> np.ndarray:
    """The first of every set of equal, non-empty rows (a 0/1 matrix, sorted indices).

    Cells of different tables often hold the same groups (the same count published twice);
    their equations are the same, and one of them says all a reader learns.
    """
    matrix.sort_indices()
    seen: set[bytes] = set()
    keep = []
    indptr, indices = matrix.indptr, matrix.indices
    for i in range(matrix.shape[0]):
        if indptr[i] == indptr[i + 1]:
            continue
        key = indices[indptr[i] : indptr[i + 1]].tobytes()
        if key not in seen:
            seen.add(key)
            keep.append(i)
    return np.asarray(keep, dtype=np.int64)


def _components(matrix: sparse.csr_matrix) -> np.ndarray:
    """Connected component of every group through the shown cells (cells x groups)."""
    n_cells, n_groups = matrix.shape
    if n_groups == 0:
        return np.zeros(0, dtype=int)
    graph = sparse.bmat([[None, matrix], [matrix.T, None]]).tocsr()
    _, labels = connected_components(graph, directed=False)
    return labels[n_cells:]


def audit(
    release: Release,
    *,
    threshold: int,
    zero_is_safe: bool = True,
    focus: Callable[[Cell], bool] | None = None,
) -> Audit:
    """Audit a release: every hidden cell and every small group against the reader's equations.

    Parameters
    ----------
    release
        The cells published to the same readers, shown and hidden.
    threshold
        Counts ``0 < c < threshold`` are sensitive.
    zero_is_safe
        A hidden zero that is pinned down reveals nothing (zeros are shown anyway).
    focus
        Only findings that involve a cell for which this returns true, or a cell that shares
        units with one (e.g. the table about to be published; earlier releases already
        passed). Default: everything.
    """
    result = Audit()
    cells = release.cells
    if not cells:
        return result
    shown = np.array([c.shown for c in cells], dtype=bool)
    focused = np.array([focus(c) if focus else True for c in cells], dtype=bool)
    # the cells before the first focused one were published before: later audits of this
    # process begin with them too, so their partition is kept (see Release.atoms)
    atoms = release.atoms(shown, keep=int(np.argmax(focused)) if focused.any() else None)
    sizes, matrix = atoms.sizes, atoms.matrix
    representatives = atoms.representatives
    by_group = matrix.tocsc()
    labels = _components(matrix)
    b_all = matrix @ sizes

    def groups_of(chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """For cells ``chosen``: the row (index into ``chosen``), group and weight of each of
        their units in a group, and per cell whether all its units are in one."""
        id_lists = [_unit_ids(cells[j]) for j in chosen]
        lengths = np.fromiter(map(len, id_lists), dtype=np.int64, count=len(id_lists))
        ids = np.concatenate(id_lists) if id_lists else np.zeros(0, dtype=np.int64)
        row_of = np.repeat(np.arange(len(id_lists)), lengths)
        found, at_unit = atoms.locate(ids)
        complete = np.bincount(row_of[~found], minlength=len(id_lists)) == 0
        at_unit = at_unit[found]
        return row_of[found], atoms.unit_group[at_unit], atoms.unit_weight[at_unit], complete

    if focus is not None:
        # a new cell changes what a reader can deduce about everything connected to it
        # through the shown cells (its component), hidden cells of that component included
        touched = np.unique(groups_of(np.flatnonzero(focused))[1])
        if touched.size:
            components = np.unique(labels[touched])
            inside_component = np.zeros(labels.max() + 1, dtype=bool)
            inside_component[components] = True
            linked = np.flatnonzero(inside_component[labels])
            near = np.unique(by_group[:, linked].indices)
            focused[near] = True
            others = np.flatnonzero(~shown & ~focused)
            row, group, _, _ = groups_of(others)
            focused[others[np.unique(row[inside_component[labels[group]]])]] = True

    systems: dict[int, tuple[sparse.csr_matrix, np.ndarray, np.ndarray]] = {}
    programmes: dict[int, _Programme] = {}

    def system(component: int) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
        if component not in systems:
            cols = np.flatnonzero(labels == component)
            sub = matrix[:, cols].tocsr()
            rows = _distinct_rows(sub)
            systems[component] = (sub[rows], b_all[rows], cols)
        return systems[component]

    # Every solution of a programme is a possible truth for the reader: it certifies every
    # group it gives at least the threshold, and every hidden cell it gives two values
    # apart. Solutions are pooled per component, so most checks need no programme at all.
    # A pool starts with the true sizes and the solutions of earlier audits in this process
    # over the same groups that satisfy this release's equations (see _WitnessCache).
    pools: dict[int, list[np.ndarray]] = {}
    reused: dict[int, int] = {}

    def seed(component: int) -> list[np.ndarray]:
        if component not in pools:
            a, b, cols = system(component)
            found = _WITNESSES.feasible(representatives[cols], a, b)
            if not found:
                found = _WITNESSES.merged(atoms, cols, a, b)
            reused[component] = len(found)
            pools[component] = [sizes[cols], *found]
        return pools[component]

    def programme(component: int) -> _Programme:
        if component not in programmes:
            a, b, _ = system(component)
            programmes[component] = _Programme(a, b)
        return programmes[component]

    def extreme(component: int, weights: np.ndarray, sense: int) -> float:
        """max (sense=+1) or min (sense=-1) of ``weights @ x`` over the reader's system."""
        value, x = programme(component).solve(-sense * weights)
        result.programmes += 1
        if x is not None:
            seed(component).append(x)
        return -sense * value

    stacked: dict[int, np.ndarray] = {}

    def pool(component: int) -> np.ndarray:
        rows = seed(component)
        have = stacked.get(component)
        if have is None or have.shape[0] != len(rows):
            start = 0 if have is None else have.shape[0]
            block = np.vstack(rows[start:])
            stacked[component] = block if have is None else np.vstack([have, block])
        return stacked[component]

    def pooled(component: int, weights: np.ndarray) -> tuple[float, float]:
        values = pool(component) @ weights
        return float(values.max()), float(values.min())

    def cells_of(k: int) -> np.ndarray:
        """The cells group ``k`` belongs to (a column of the CSC matrix, without slicing)."""
        return by_group.indices[by_group.indptr[k] : by_group.indptr[k + 1]]

    values = np.array([c.value for c in cells], dtype=float)
    starts = by_group.indptr[:-1]
    if by_group.nnz:
        cap_of = np.minimum.reduceat(values[by_group.indices], starts)
        focused_group = np.logical_or.reduceat(focused[by_group.indices], starts)
    else:
        cap_of = np.zeros(sizes.size)
        focused_group = np.zeros(sizes.size, dtype=bool)
    small = np.flatnonzero((sizes > 0) & (sizes < threshold) & focused_group).tolist()
    # groups that only a programme can certify (every cell holding them is large) and that
    # no pooled solution certifies, by component: a few capped programmes certify most of
    # them at once (see _Witnesses)
    open_groups: dict[int, list[int]] = {}
    for k in small:
        if cap_of[k] >= threshold:
            open_groups.setdefault(int(labels[k]), []).append(int(k))
    for comp, ks in open_groups.items():
        cols = system(comp)[2]
        targets = np.searchsorted(cols, ks)
        best = pool(comp)[:, targets].max(axis=0)
        targets = targets[best < threshold - _EPS]
        if targets.size < _BATCH_MIN:
            continue
        a, b, _ = system(comp)
        witnesses = _Witnesses(a, b, targets, float(threshold))
        active = np.ones(targets.size, dtype=bool)
        while active.sum() >= _BATCH_MIN:
            x = witnesses.solve(active)
            result.programmes += 1
            if x is None:
                break
            seed(comp).append(x)
            newly = active & (x[targets] >= threshold - _EPS)
            active &= ~newly
            if newly.sum() < _BATCH_GAIN:
                break
    for k in small:
        members = cells_of(k)
        cap = int(cap_of[k])
        high = float(cap)
        if cap >= threshold:
            cols = system(labels[k])[2]
            i = int(np.searchsorted(cols, k))
            high = float(pool(labels[k])[:, i].max())
            if high < threshold - _EPS:
                weights = np.zeros(cols.size)
                weights[i] = 1.0
                high = extreme(labels[k], weights, +1)
        if math.isfinite(high) and math.floor(high + _EPS) < threshold:
            result.findings.append(
                Finding("group", cells[members[0]], 0.0, math.floor(high + _EPS), sizes[k], int(k))
            )
    # hidden cells: the reader does not know how a group splits between a hidden cell and the
    # rest, so the cell is at least the groups wholly inside it and at most every group it
    # touches
    hidden = [
        int(j)
        for j in np.flatnonzero(~shown & focused)
        if not (cells[j].value == 0 and zero_is_safe)
    ]
    result.checked = [cells[j] for j in hidden]
    # every hidden cell's groups and the weight of its units in each, for all at once
    row_of, group_of_unit, weight_of_unit, complete = groups_of(np.asarray(hidden, dtype=int))
    lengths = np.fromiter((len(cells[j].units) for j in hidden), dtype=np.int64, count=len(hidden))
    # a cell with a unit in no shown cell is unbounded above; one without units is empty
    bounded = complete & (lengths > 0)
    entries = sparse.coo_matrix(
        (weight_of_unit, (row_of, group_of_unit)),
        shape=(len(hidden), sizes.size),
    ).tocsr()
    entries.sum_duplicates()
    entries = entries.tocoo()
    entry_full = entries.data >= sizes[entries.col]
    entry_comp = labels[entries.col]
    # pooled bounds of every hidden cell: the sum over its components of the largest total
    # of the groups it touches and the smallest total of the groups wholly inside it
    pre_high = np.zeros(len(hidden))
    pre_low = np.zeros(len(hidden))
    for comp in np.unique(entry_comp).tolist():
        cols = system(comp)[2]
        solutions = pool(comp)
        for mask, into, reduce in (
            (entry_comp == comp, pre_high, np.max),
            ((entry_comp == comp) & entry_full, pre_low, np.min),
        ):
            rows, where = np.unique(entries.row[mask], return_inverse=True)
            if not rows.size:
                continue
            pick = sparse.csr_matrix(
                (
                    np.ones(int(mask.sum())),
                    (where.ravel(), np.searchsorted(cols, entries.col[mask])),
                ),
                shape=(rows.size, cols.size),
            )
            into[rows] += reduce(np.asarray(pick @ solutions.T), axis=1)
    by_row = np.argsort(entries.row, kind="stable")
    row_start = np.searchsorted(entries.row[by_row], np.arange(len(hidden) + 1))
    for i, j in enumerate(hidden):
        if not bounded[i]:
            continue
        cell = cells[j]
        sensitive = 0 < cell.value < threshold
        high, low = float(pre_high[i]), float(pre_low[i])
        need_high = threshold if sensitive else -math.inf
        if high - low < 1 - _EPS or high < need_high - _EPS:
            mine = by_row[row_start[i] : row_start[i + 1]]
            touched = entries.col[mine]
            full = entry_full[mine]
            parts = []
            for comp in np.unique(labels[touched]).tolist():
                cols = system(comp)[2]
                here = labels[touched] == comp
                upper = np.zeros(cols.size)
                upper[np.searchsorted(cols, touched[here])] = 1.0
                lower = np.zeros(cols.size)
                lower[np.searchsorted(cols, touched[here & full])] = 1.0
                parts.append((comp, upper, lower))
            # solutions found since (for cells before this one) may certify it already
            high = sum(pooled(c, u)[0] for c, u, _ in parts)
            low = sum(pooled(c, lo)[1] for c, _, lo in parts)
            if high - low < 1 - _EPS or high < need_high - _EPS:
                high = sum(extreme(c, u, +1) for c, u, _ in parts)
                if math.isfinite(high):  # an unbounded cell is never pinned
                    low = sum(extreme(c, lo, -1) for c, _, lo in parts)
        low = math.ceil(low - _EPS) if math.isfinite(low) else low
        high = math.floor(high + _EPS) if math.isfinite(high) else high
        if sensitive and (high - low < 1 or high < threshold):
            result.findings.append(Finding("cell", cell, low, high, cell.value))
        elif high - low < 1:
            result.findings.append(Finding("pinned", cell, low, high, cell.value))
    for comp, rows in pools.items():
        if len(rows) > 1 + reused[comp]:  # this audit found new solutions: keep them
            _WITNESSES.keep(representatives[system(comp)[2]], rows[1 + reused[comp] :])
    return result


def _cost(cell: Cell) -> tuple[bool, int]:
    return (cell.total, cell.value)


def protect(
    release: Release,
    *,
    threshold: int,
    zero_is_safe: bool = True,
    open_for_change: Callable[[Cell], bool],
    keep_hidden: Callable[[Cell], bool] | None = None,
    max_rounds: int = 200,
) -> tuple[Release, list[Cell], Audit]:
    """Hide further cells until the release passes the audit.

    Each round audits the release and hides, for every finding, the cheapest shown cell of
    the tables still open for change that bounds it (``open_for_change``); what was
    published before stays as it is. Once the release passes, hidden cells of the open
    tables that are not sensitive and that the rest of the release pins down are shown
    again (hiding them protected nothing, and showing them adds nothing to what a reader
    knows); they are listed in the audit's ``revealed``.

    With ``max_rounds=1`` the caller takes the cells to hide, protects its tables again (the
    per-table solver then adds the complements a single table needs) and calls again.
    Cells for which ``keep_hidden`` returns true are never shown again, pinned or not: a
    caller that showed a cell and then had to hide it once more passes it here, so that its
    rounds cannot go back and forth between the two.

    Returns
    -------
    tuple
        The protected release, the cells hidden in addition, and the last audit (whose
        findings are empty unless nothing open for change could protect a finding, or the
        rounds ran out).
    """
    release = Release(list(release.cells), dict(release.weights))
    added: list[Cell] = []
    audit_result = Audit()

    def revealable(cell: Cell) -> bool:
        return open_for_change(cell) and not (keep_hidden is not None and keep_hidden(cell))

    for _ in range(max_rounds):
        audit_result = audit(
            release, threshold=threshold, zero_is_safe=zero_is_safe, focus=open_for_change
        )
        _note_pinned(release, threshold, zero_is_safe, audit_result)
        _blame_newly_pinned(release, audit_result, threshold, zero_is_safe, open_for_change)
        if audit_result.passed:
            for finding in audit_result.pinned:
                if revealable(finding.cell) and finding.cell not in added:
                    j = release.cells.index(finding.cell)
                    release.cells[j] = replace(finding.cell, shown=True)
                    audit_result.revealed.append(finding.cell)
            audit_result.findings = [f for f in audit_result.findings if f.kind != "pinned"]
            return release, added, audit_result
        targets = []
        unattributable = []
        shown = np.array([c.shown for c in release.cells], dtype=bool)
        reader = release.atoms(shown)  # the groups a reader can tell apart
        reader_by_group = reader.matrix.tocsc()
        for finding in audit_result.findings:
            if finding.kind == "pinned":
                continue
            target = _complement(release, finding, open_for_change, (reader, reader_by_group))
            if target is None:
                unattributable.append(finding)
            elif target not in targets:
                targets.append(target)
        if not targets:
            # what no open cell bounds was there before these tables (an earlier release):
            # the open tables cannot change it, and it is reported, not blamed on them
            audit_result.earlier = unattributable
            audit_result.findings = [f for f in audit_result.findings if f not in unattributable]
            if audit_result.passed:
                continue_reveal = [f for f in audit_result.pinned if revealable(f.cell)]
                for finding in continue_reveal:
                    j = release.cells.index(finding.cell)
                    release.cells[j] = replace(finding.cell, shown=True)
                    audit_result.revealed.append(finding.cell)
                audit_result.findings = [f for f in audit_result.findings if f.kind != "pinned"]
            return release, added, audit_result
        for target in targets:
            cell = release.cells[target]
            release.cells[target] = replace(cell, shown=False)
            added.append(cell)
    return release, added, audit_result


def _blame_newly_pinned(
    release: Release,
    result: Audit,
    threshold: int,
    zero_is_safe: bool,
    open_for_change: Callable[[Cell], bool],
) -> None:
    """A hidden cell of an earlier release that the open tables make recomputable fails.

    Hidden cells of closed tables cannot be shown again; if they were not recomputable
    without the open tables, the open tables must change.
    """
    closed = [f for f in result.pinned if not open_for_change(f.cell)]
    if not closed:
        return
    keys = {(f.cell.table, f.cell.key) for f in closed}
    base = Release([c for c in release.cells if not open_for_change(c)], release.weights)
    known = _pinned_before(base, threshold, zero_is_safe)
    missing = keys - known.keys()
    if missing:
        before = audit(
            base,
            threshold=threshold,
            zero_is_safe=zero_is_safe,
            focus=lambda c: (c.table, c.key) in missing,
        )
        result.programmes += before.programmes
        _note_pinned(base, threshold, zero_is_safe, before, known)
        known.update((k, False) for k in missing - known.keys())
    already = {k for k in keys if known[k]}
    result.findings = [
        replace(f, kind="cell")
        if f.kind == "pinned" and (f.cell.table, f.cell.key) in keys - already
        else f
        for f in result.findings
    ]


#: per release audited before (its cells, weights, threshold and ``zero_is_safe``): whether
#: each of its hidden cells that an audit checked is pinned by it. Whether a cell is pinned
#: does not depend on what else an audit looks at, so the release of the tables published
#: before (the last release of the previous table, once it is staged; or the same store
#: when a table protected once more is released again) is answered without an audit.
_PINNED: list[tuple[list[Cell], dict[str, int], int, bool, dict[tuple, bool]]] = []
_PINNED_KEPT = 8


def _note_pinned(
    release: Release,
    threshold: int,
    zero_is_safe: bool,
    result: Audit,
    known: dict[tuple, bool] | None = None,
) -> None:
    """Remember which of the cells ``result`` checked are pinned (before other changes)."""
    if not result.checked:
        return
    if known is None:
        known = _pinned_before(release, threshold, zero_is_safe)
    pinned = {(f.cell.table, f.cell.key) for f in result.findings if f.kind == "pinned"}
    for cell in result.checked:
        key = (cell.table, cell.key)
        known[key] = key in pinned


def _pinned_before(base: Release, threshold: int, zero_is_safe: bool) -> dict[tuple, bool]:
    """What is known of the hidden cells of ``base`` (by table and key): pinned or not."""
    for entry in _PINNED:
        cells, weights, t, z, known = entry
        if (
            t == threshold
            and z == zero_is_safe
            and len(cells) == len(base.cells)
            and cells == base.cells  # the same objects mostly, or equal cells (staged since)
            and weights == base.weights
        ):
            _PINNED.remove(entry)
            _PINNED.append(entry)
            return known
    known: dict[tuple, bool] = {}
    _PINNED.append((list(base.cells), dict(base.weights), threshold, zero_is_safe, known))
    del _PINNED[:-_PINNED_KEPT]
    return known


def _complement(
    release: Release,
    finding: Finding,
    open_for_change: Callable[[Cell], bool],
    reader: tuple[Atoms, sparse.csc_matrix] | None = None,
) -> int | None:
    """The cheapest shown, changeable cell nearest to the finding in the reader's equations.

    From the failing group (or the groups of the hidden cell) the search walks the shown
    cells and the groups they share, breadth first: the cells containing the group together
    with their siblings in a sum, then the cells those share groups with, and so on. Among the changeable cells found at the smallest
    distance, the cheapest is hidden: not a margin, then the smallest value.
    """
    cells = release.cells
    if reader is None:
        shown = np.array([c.shown for c in cells], dtype=bool)
        atoms = release.atoms(shown)  # the groups a reader can tell apart
        by_group = atoms.matrix.tocsc()
    else:
        atoms, by_group = reader
    matrix = atoms.matrix
    if finding.kind == "group" and finding.atom is not None:
        frontier = np.array([finding.atom])
    else:
        frontier = atoms.atoms_of(finding.cell.units)
    if frontier.size == 0:
        return None
    seen_groups = np.zeros(matrix.shape[1], dtype=bool)
    seen_cells = np.zeros(matrix.shape[0], dtype=bool)
    seen_groups[frontier] = True
    first = True
    while frontier.size:
        found = np.unique(by_group[:, frontier].indices)
        if first:  # the cells holding the group and their siblings in a sum, together
            groups = np.unique(matrix[found].indices) if found.size else np.array([], int)
            seen_groups[groups] = True
            found = np.unique(np.concatenate([found, by_group[:, groups].indices]))
            first = False
        found = found[~seen_cells[found]]
        seen_cells[found] = True
        candidates = [
            j for j in found if cells[j].shown and cells[j].value > 0 and open_for_change(cells[j])
        ]
        if candidates:
            return min(candidates, key=lambda j: (_cost(cells[j]), j))
        groups = np.unique(matrix[found].indices) if found.size else np.array([], dtype=int)
        frontier = groups[~seen_groups[groups]]
        seen_groups[frontier] = True
    return None
