"""The audit of a release, and the choice of further cells to hide until it passes.

For a release (:class:`~evaluation.protection.model.Release`) the reader's knowledge is the
system ``A x = b, x >= 0`` over the atom sizes ``x`` (one equation per shown cell). The audit
solves linear programmes with HiGHS (:func:`scipy.optimize.linprog`) to find, for

* every hidden cell: the smallest and largest value it can have. A hidden cell whose value is
  pinned down (interval narrower than one) is recovered; a hidden cell holding a sensitive
  count (``0 < v < threshold``) must moreover admit a value of at least the threshold, or a
  reader knows it is a small group;
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
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from evaluation.protection.model import Atoms, Cell, Release

_EPS = 1e-7


@dataclass(frozen=True)
class Finding:
    """Something a reader can deduce that the rule forbids."""

    kind: Literal["cell", "group"]
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

    @property
    def passed(self) -> bool:
        return not self.findings


def _bound(a: sparse.csr_matrix, b: np.ndarray, objective: np.ndarray) -> float:
    """``min objective @ x`` subject to ``a x = b, x >= 0`` (``-inf`` when unbounded)."""
    if a.shape[0] == 0:
        return -math.inf if (objective < 0).any() else 0.0
    result = linprog(objective, A_eq=a, b_eq=b, bounds=(0, None), method="highs")
    if result.status == 3:
        return -math.inf
    if result.status != 0:
        raise RuntimeError(f"release audit: the linear programme failed ({result.message})")
    return float(result.fun)


def _component(atoms: Atoms, shown: np.ndarray, seeds: Iterable[int]) -> np.ndarray:
    """Atoms connected to ``seeds`` through shown cells (the rest cannot constrain them)."""
    by_cell = atoms.matrix.tocsc().T.tocsr()  # atoms x cells
    cell_atoms = atoms.matrix
    keep = np.zeros(atoms.sizes.size, dtype=bool)
    frontier = list(seeds)
    keep[frontier] = True
    while frontier:
        cells = np.unique(by_cell[frontier].indices)
        cells = cells[shown[cells]]
        nxt = np.unique(cell_atoms[cells].indices) if cells.size else np.array([], dtype=int)
        nxt = nxt[~keep[nxt]]
        keep[nxt] = True
        frontier = list(nxt)
    return keep


def audit(
    release: Release,
    *,
    threshold: int,
    zero_is_safe: bool = True,
    focus: Callable[[Cell], bool] | None = None,
) -> Audit:
    """Audit a release: every hidden cell and every small atom against the reader's equations.

    Parameters
    ----------
    release
        The cells published to the same readers, shown and hidden.
    threshold
        Counts ``0 < c < threshold`` are sensitive.
    zero_is_safe
        A hidden zero that is pinned down reveals nothing (zeros are shown anyway).
    focus
        Only findings that involve a cell for which this returns true (e.g. the table about
        to be published; earlier releases already passed). Default: everything.
    """
    result = Audit()
    cells = release.cells
    if not cells:
        return result
    atoms = release.atoms()
    shown = np.array([c.shown for c in cells], dtype=bool)
    focused = np.array([focus(c) if focus else True for c in cells], dtype=bool)
    if focus is not None:
        # a new cell also changes the groups of every cell it overlaps (it splits them)
        touched = np.unique(atoms.matrix[np.flatnonzero(focused)].indices)
        near = np.unique(atoms.matrix.tocsc()[:, touched].indices) if touched.size else []
        focused[near] = True
    seen_groups: set[int] = set()
    # small atoms that lie in a focused cell
    for k, size in enumerate(atoms.sizes):
        if not 0 < size < threshold:
            continue
        members = atoms.members[k]
        if not any(focused[j] for j in members):
            continue
        if not any(shown[j] for j in members):
            continue  # in no shown cell: nothing bounds it
        keep = _component(atoms, shown, [k])
        a, b = atoms.reader_system(shown)
        sub = a[:, np.flatnonzero(keep)]
        rows = np.flatnonzero(sub.getnnz(axis=1))
        sub, rhs = sub[rows], b[rows]
        objective = np.zeros(sub.shape[1])
        objective[int(np.searchsorted(np.flatnonzero(keep), k))] = -1.0
        high = -_bound(sub, rhs, objective)
        result.programmes += 1
        if math.isfinite(high) and math.floor(high + _EPS) < threshold:
            seen_groups.add(k)
            cell = next(cells[j] for j in members if shown[j])
            result.findings.append(Finding("group", cell, 0.0, math.floor(high + _EPS), size, k))
    # hidden cells
    a_all, b_all = atoms.reader_system(shown)
    for j in np.flatnonzero(~shown & focused):
        cell = cells[j]
        if cell.value == 0 and zero_is_safe:
            continue
        inside = atoms.matrix[j].indices
        if inside.size == 0:
            continue
        keep = _component(atoms, shown, inside)
        index = np.flatnonzero(keep)
        sub = a_all[:, index]
        rows = np.flatnonzero(sub.getnnz(axis=1))
        sub, rhs = sub[rows], b_all[rows]
        objective = np.isin(index, inside).astype(float)
        low = _bound(sub, rhs, objective)
        high = -_bound(sub, rhs, -objective)
        result.programmes += 2
        low = math.ceil(low - _EPS) if math.isfinite(low) else low
        high = math.floor(high + _EPS) if math.isfinite(high) else high
        sensitive = 0 < cell.value < threshold
        if high - low < 1 or (sensitive and high < threshold):
            result.findings.append(Finding("cell", cell, low, high, cell.value))
    return result


def _cost(cell: Cell) -> tuple[bool, int]:
    return (cell.total, cell.value)


def protect(
    release: Release,
    *,
    threshold: int,
    zero_is_safe: bool = True,
    open_for_change: Callable[[Cell], bool],
    max_rounds: int = 200,
) -> tuple[Release, list[Cell], Audit]:
    """Hide further cells until the release passes the audit.

    Only cells for which ``open_for_change`` is true (the tables about to be published) may be
    hidden; what was published before stays as it is.

    Returns
    -------
    tuple
        The protected release, the cells hidden in addition, and the final audit (whose
        findings are empty unless nothing open for change could protect a finding).
    """
    release = Release(list(release.cells), dict(release.weights))
    added: list[Cell] = []
    audit_result = Audit()
    for _ in range(max_rounds):
        audit_result = audit(
            release, threshold=threshold, zero_is_safe=zero_is_safe, focus=open_for_change
        )
        if audit_result.passed:
            return release, added, audit_result
        finding = audit_result.findings[0]
        target = _complement(release, finding, open_for_change)
        if target is None:
            return release, added, audit_result
        cell = release.cells[target]
        release.cells[target] = replace(cell, shown=False)
        added.append(cell)
    return release, added, audit_result


def _complement(
    release: Release, finding: Finding, open_for_change: Callable[[Cell], bool]
) -> int | None:
    """The cheapest shown, changeable cell in the equations that bound the finding.

    Candidates are the shown cells that contain the failing group (or the hidden cell's
    units) and the shown cells that share a group with those (their siblings in a sum).
    Cheapest means: not a margin, then the smallest value.
    """
    atoms = release.atoms()
    cells = release.cells
    if finding.kind == "group" and finding.atom is not None:
        target = np.array([finding.atom])
    else:
        j = cells.index(finding.cell)
        target = atoms.matrix[j].indices
    by_atom = atoms.matrix.tocsc()
    holders = np.unique(by_atom[:, target].indices)
    holders = [h for h in holders if cells[h].shown]
    touched = np.unique(atoms.matrix[holders].indices) if holders else np.array([], dtype=int)
    near = set(np.unique(by_atom[:, touched].indices).tolist()) if touched.size else set()
    candidates = [
        j
        for j in sorted(near | set(holders))
        if cells[j].shown and cells[j].value > 0 and open_for_change(cells[j])
    ]
    if not candidates:
        return None
    return min(candidates, key=lambda j: (_cost(cells[j]), j))
