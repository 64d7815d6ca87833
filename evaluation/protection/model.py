"""What a release is and what a reader knows.

A *release* is everything published to the same readers: every count cell of every report of
every period, including the cells that are hidden (shown as ``*``). Each cell is tied to the
*units* it counts: pseudonymised person or case ids (``"person:…"``), or, for a table whose
units are not known, synthetic elements that stand for its innermost cells with their
counts as weights (then only the table's own sums link its cells).

A reader knows the values of the shown cells. The smallest groups the cells distinguish are
the *atoms*: sets of units that belong to exactly the same cells. Every cell is a sum of
atoms, so the reader's knowledge is a system of linear equations over non-negative atom
sizes, ``A x = b`` with one row per shown cell. :mod:`evaluation.protection.solver` asks of
that system, with a linear programme, what a reader can deduce about every hidden cell and
every small atom.
"""

from __future__ import annotations

import operator
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Literal

import numpy as np
import pandas as pd
from scipy import sparse

UnitKind = Literal["persons", "cases", "activities"]
#: Unit kinds whose counts are about people and therefore protected. Counts of activities
#: (events, trainings, group cycles) are shown as they are.
SENSITIVE_KINDS: frozenset[str] = frozenset({"persons", "cases"})


@dataclass(frozen=True)
class Cell:
    """One count of a release.

    Attributes
    ----------
    table
        Identifier of the published table (run key and table name).
    key
        The cell within the table: its row labels and its column, as text.
    value
        The true count (internal; never published when ``shown`` is false).
    units
        The units (or synthetic elements) it counts.
    shown
        Whether readers see the value.
    total
        Whether it is a margin (a total row or column): hidden last, if at all.
    """

    table: str
    key: tuple[str, ...]
    value: int
    units: frozenset[str]
    shown: bool = True
    total: bool = False

    @property
    def name(self) -> str:
        """``table: row / column``, for messages."""
        return f"{self.table}: {' / '.join(self.key)}"


@dataclass
class Release:
    """The cells published to one group of readers, and the weights of synthetic elements.

    ``weights`` gives the count an element stands for; units not listed weigh 1.
    """

    cells: list[Cell] = field(default_factory=list)
    weights: dict[str, int] = field(default_factory=dict)

    def add(self, cells: Iterable[Cell], weights: Mapping[str, int] | None = None) -> None:
        self.cells.extend(cells)
        if weights:
            self.weights.update(weights)

    def check(self) -> None:
        """Every cell's value equals the weight of its units (a cell counts what it says)."""
        for cell in self.cells:
            size = sum(self.weights.get(u, 1) for u in cell.units)
            if size != cell.value:
                raise ValueError(
                    f"{cell.name}: the cell shows {cell.value} but is tied to units that "
                    f"count {size}"
                )

    def atoms(self, include: np.ndarray | None = None, *, keep: int | None = None) -> Atoms:
        """The partition of the units into atoms: same membership in every cell.

        ``include`` (a boolean per cell) limits the cells that tell units apart, e.g. to the
        shown ones: then the atoms are the groups a reader can distinguish. Atoms are numbered
        in the order their first unit appears (cells in order, each cell's units in order).

        The partition is built incrementally: partitions of earlier calls in this process
        are kept (:data:`_PARTITIONS`), and one whose cells are the first cells of this
        release (the same objects, included alike) is refined by the remaining cells only,
        which costs in proportion to their units. ``keep`` names a prefix of the cells that
        later releases are likely to begin with (the cells already published, before the
        new ones): its partition is kept as well. The result equals :func:`atoms_from_scratch`
        (``tests/test_protection_atoms_incremental.py``).
        """
        n = len(self.cells)
        mask = np.ones(n, dtype=bool) if include is None else np.asarray(include, dtype=bool)
        partition = _matching(self.cells, mask)
        if keep is not None and len(partition.cells) < keep < n:
            partition = _refine(partition, self.cells, mask, keep)
            _remember(partition)
        if len(partition.cells) < n:
            partition = _refine(partition, self.cells, mask, n)
            _remember(partition)
        return partition.atoms(n, self.weights)


def atoms_from_scratch(release: Release, include: np.ndarray | None = None) -> Atoms:
    """:meth:`Release.atoms` computed from all cells at once, without kept partitions.

    The construction of every audit before the incremental one; tests compare the two.
    """
    self = release
    chosen = np.arange(len(self.cells)) if include is None else np.flatnonzero(include)
    lists = [_unit_ids(self.cells[j]) for j in chosen]
    lengths = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    if not lengths.sum():
        empty = sparse.csr_matrix((len(self.cells), 0))
        return Atoms(np.zeros(0), empty)
    units = np.concatenate(lists)
    cell_of = np.repeat(chosen.astype(np.int64), lengths)
    # each unit's cells (sorted by unit, then cell) and its signature: two independent
    # random 64-bit sums over its cells and their number (a collision would need
    # 2^-128 luck; tests compare with the plain construction)
    order = np.lexsort((cell_of, units))
    units_sorted, cells_sorted = units[order], cell_of[order]
    new_unit = np.empty(units_sorted.size, dtype=bool)
    new_unit[0] = True
    np.not_equal(units_sorted[1:], units_sorted[:-1], out=new_unit[1:])
    start = np.flatnonzero(new_unit)
    unique = units_sorted[start]
    count = np.diff(np.append(start, units_sorted.size))
    r1, r2 = _signature_keys(len(self.cells))
    signature = np.stack(
        [
            np.add.reduceat(r1[cells_sorted], start).view(np.int64),
            np.add.reduceat(r2[cells_sorted], start).view(np.int64),
            count,
        ],
        axis=1,
    )
    by_signature = np.lexsort(signature.T[::-1])
    ordered = signature[by_signature]
    step = np.empty(ordered.shape[0], dtype=np.int64)
    step[0] = 0
    step[1:] = (ordered[1:] != ordered[:-1]).any(axis=1)
    kind = np.empty_like(step)
    kind[by_signature] = np.cumsum(step)
    # number atoms by first appearance, as a reader scanning the cells would
    first_seen = np.minimum.reduceat(order, start)  # aligned with ``unique``
    first_of_kind = np.full(kind.max() + 1, np.iinfo(np.int64).max)
    np.minimum.at(first_of_kind, kind, first_seen)
    rank = np.empty_like(first_of_kind)
    rank[np.argsort(first_of_kind, kind="stable")] = np.arange(first_of_kind.size)
    group = rank[kind]
    weight = _unit_weights(unique, self.weights)
    sizes = np.bincount(group, weights=weight, minlength=first_of_kind.size)
    representative = np.full(first_of_kind.size, unique.size, dtype=np.int64)
    np.minimum.at(representative, group, np.arange(unique.size))
    # each atom's cells: those of its first unit
    per_atom = count[representative]
    ends = np.cumsum(per_atom)
    at_entry = np.repeat(start[representative] - (ends - per_atom), per_atom)
    rows = cells_sorted[at_entry + np.arange(int(ends[-1]))]
    cols = np.repeat(np.arange(per_atom.size), per_atom)
    matrix = sparse.csr_matrix(
        (np.ones(rows.size), (rows, cols)), shape=(len(self.cells), per_atom.size)
    )
    return Atoms(sizes.astype(float), matrix, unique[representative], unique, group, weight)


def _unit_weights(unit_ids: np.ndarray, weights: Mapping[str, int]) -> np.ndarray:
    """The weight of every unit (sorted process-wide ids): 1 unless ``weights`` names it."""
    weight = np.ones(unit_ids.size)
    if weights and unit_ids.size:
        ids = np.fromiter(
            (_INTERNED.get(name, -1) for name in weights), dtype=np.int64, count=len(weights)
        )
        given = np.fromiter(weights.values(), dtype=float, count=len(weights))
        at = np.minimum(np.searchsorted(unit_ids, ids), unit_ids.size - 1)
        hit = (ids >= 0) & (unit_ids[at] == ids)
        weight[at[hit]] = given[hit]
    return weight


_NONE = np.iinfo(np.int64).max


@dataclass(eq=False)
class _Partition:
    """The atoms of the included cells among a release's first cells, kept for refinement.

    Units are process-wide ids (sorted), each with the position of its first appearance in
    the included cells' units and its atom; atoms are numbered by first appearance and
    listed with their cells (``indptr``/``indices``, ascending cell positions).
    """

    cells: list[Cell]
    include: np.ndarray
    #: number of units (with repetition) of the included cells: where the next cell's
    #: units appear
    entries: int
    unit_ids: np.ndarray
    unit_first: np.ndarray
    unit_group: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    #: the last :class:`Atoms` made of it, with the weights and number of cells it was for
    made: tuple[dict[str, int], int, Atoms] | None = None

    def atoms(self, n_cells: int, weights: Mapping[str, int]) -> Atoms:
        """These atoms, with their sizes under ``weights``, over a release of ``n_cells``."""
        if self.made is not None and self.made[1] == n_cells and self.made[0] == weights:
            return self.made[2]
        n_atoms = self.indptr.size - 1
        if not self.unit_ids.size:
            result = Atoms(np.zeros(0), sparse.csr_matrix((n_cells, 0)))
        else:
            weight = _unit_weights(self.unit_ids, weights)
            sizes = np.bincount(self.unit_group, weights=weight, minlength=n_atoms)
            representative = np.full(n_atoms, self.unit_ids.size, dtype=np.int64)
            np.minimum.at(representative, self.unit_group, np.arange(self.unit_ids.size))
            matrix = sparse.csc_matrix(
                (np.ones(self.indices.size), self.indices, self.indptr),
                shape=(n_cells, n_atoms),
            ).tocsr()
            result = Atoms(
                sizes.astype(float),
                matrix,
                self.unit_ids[representative],
                self.unit_ids,
                self.unit_group,
                weight,
            )
        self.made = (dict(weights), n_cells, result)
        return result


def _empty_partition() -> _Partition:
    none = np.zeros(0, dtype=np.int64)
    return _Partition([], np.zeros(0, dtype=bool), 0, none, none, none, np.zeros(1, np.int64), none)


#: partitions of earlier calls of :meth:`Release.atoms` in this process, least recently used
#: first; a partition is used only for a release that begins with its very cell objects
_PARTITIONS: list[_Partition] = []
_PARTITIONS_KEPT = 8


def forget_partitions() -> None:
    """Drop the kept partitions (a cold start, e.g. for a benchmark)."""
    _PARTITIONS.clear()


def _matching(cells: list[Cell], include: np.ndarray) -> _Partition:
    """The kept partition of the most first cells of ``cells`` (same objects, included
    alike), or an empty one."""
    best: _Partition | None = None
    for partition in _PARTITIONS:
        n = len(partition.cells)
        if n > len(cells) or (best is not None and n <= len(best.cells)):
            continue
        if np.array_equal(partition.include, include[:n]) and all(
            map(operator.is_, partition.cells, cells)
        ):
            best = partition
    if best is None:
        return _empty_partition()
    _PARTITIONS.remove(best)
    _PARTITIONS.append(best)
    return best


def _remember(partition: _Partition) -> None:
    _PARTITIONS.append(partition)
    while len(_PARTITIONS) > _PARTITIONS_KEPT:
        _PARTITIONS.pop(0)


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``concatenate([arange(s, s + n) for s, n in zip(starts, lengths)])``."""
    total = int(lengths.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    offsets = np.cumsum(lengths) - lengths
    return np.repeat(starts - offsets, lengths) + np.arange(total)


def _refine(partition: _Partition, cells: list[Cell], include: np.ndarray, stop: int) -> _Partition:
    """``partition`` (of the first cells) refined by the included cells up to ``stop``.

    The units of the new cells are split from their atoms by their membership in the new
    cells (an atom's units that no new cell holds stay together); the atoms are numbered
    again by first appearance. Costs in proportion to the new cells' units, plus a few
    vectorised passes over the units.
    """
    n = len(partition.cells)
    js = n + np.flatnonzero(include[n:stop])
    lists = [_unit_ids(cells[j]) for j in js.tolist()]
    lengths = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    total = int(lengths.sum())
    if not total:
        return replace(partition, cells=cells[:stop], include=include[:stop].copy(), made=None)
    ids = np.concatenate(lists)
    cell_of = np.repeat(js.astype(np.int64), lengths)
    order = np.lexsort((cell_of, ids))
    ids_sorted, cells_sorted = ids[order], cell_of[order]
    new_unit = np.empty(ids_sorted.size, dtype=bool)
    new_unit[0] = True
    np.not_equal(ids_sorted[1:], ids_sorted[:-1], out=new_unit[1:])
    start = np.flatnonzero(new_unit)
    touched = ids_sorted[start]
    count = np.diff(np.append(start, ids_sorted.size))
    first = partition.entries + np.minimum.reduceat(order, start)
    # a touched unit's new atom: its old atom and its membership in the new cells (a
    # signature as in atoms_from_scratch)
    n_units, n_atoms = partition.unit_ids.size, partition.indptr.size - 1
    if n_units:
        at = np.minimum(np.searchsorted(partition.unit_ids, touched), n_units - 1)
        known = partition.unit_ids[at] == touched
        parent = np.where(known, partition.unit_group[at], -1)
    else:
        known = np.zeros(touched.size, dtype=bool)
        parent = np.full(touched.size, -1, dtype=np.int64)
    r1, r2 = _signature_keys(stop)
    key = np.stack(
        [
            parent,
            np.add.reduceat(r1[cells_sorted], start).view(np.int64),
            np.add.reduceat(r2[cells_sorted], start).view(np.int64),
            count,
        ],
        axis=1,
    )
    by_key = np.lexsort(key.T[::-1])
    ordered = key[by_key]
    step = np.empty(ordered.shape[0], dtype=np.int64)
    step[0] = 0
    step[1:] = (ordered[1:] != ordered[:-1]).any(axis=1)
    sub = np.empty_like(step)
    sub[by_key] = np.cumsum(step)
    n_sub = int(sub.max()) + 1
    # all units: old atoms keep their number as a kind, touched units get n_atoms + sub
    fresh = ~known
    if fresh.any():
        ins = np.searchsorted(partition.unit_ids, touched[fresh])
        unit_ids = np.insert(partition.unit_ids, ins, touched[fresh])
        unit_first = np.insert(partition.unit_first, ins, first[fresh])
        kind = np.insert(partition.unit_group, ins, 0)
    else:
        unit_ids, unit_first = partition.unit_ids, partition.unit_first
        kind = partition.unit_group.copy()
    kind[np.searchsorted(unit_ids, touched)] = n_atoms + sub
    first_of_kind = np.full(n_atoms + n_sub, _NONE)
    np.minimum.at(first_of_kind, kind, unit_first)
    alive = np.flatnonzero(first_of_kind < _NONE)
    ranked = alive[np.argsort(first_of_kind[alive], kind="stable")]
    rank = np.empty(n_atoms + n_sub, dtype=np.int64)
    rank[ranked] = np.arange(ranked.size)
    group = rank[kind]
    # each new atom's cells: those of its old atom, then the new cells of its touched units
    one_of_sub = np.empty(n_sub, dtype=np.int64)
    one_of_sub[sub] = np.arange(sub.size)
    is_sub = ranked >= n_atoms
    touched_one = np.where(is_sub, one_of_sub[np.where(is_sub, ranked - n_atoms, 0)], -1)
    old = np.where(is_sub, parent[np.maximum(touched_one, 0)], ranked)
    old_at = np.where(old >= 0, old, n_atoms)  # n_atoms: none (an empty range at the end)
    old_length = np.append(np.diff(partition.indptr), 0)[old_at]
    new_length = np.where(is_sub, count[np.maximum(touched_one, 0)], 0)
    indptr = np.zeros(ranked.size + 1, dtype=np.int64)
    np.cumsum(old_length + new_length, out=indptr[1:])
    indices = np.empty(int(indptr[-1]), dtype=np.int64)
    indices[_ranges(indptr[:-1], old_length)] = partition.indices[
        _ranges(partition.indptr[old_at], old_length)
    ]
    indices[_ranges(indptr[:-1] + old_length, new_length)] = cells_sorted[
        _ranges(start[np.maximum(touched_one, 0)], new_length)
    ]
    return _Partition(
        cells[:stop],
        include[:stop].copy(),
        partition.entries + total,
        unit_ids,
        unit_first,
        group,
        indptr,
        indices,
    )


_INTERNED: dict[str, int] = {}
_NAMES: list[str] = []
_PROCESS = uuid.uuid4().hex  # a cached id array is valid only in the process that made it
_KEYS: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _unit_ids(cell: Cell) -> np.ndarray:
    """The cell's units as process-wide integer ids (interned once, cached on the cell)."""
    cached = cell.__dict__.get("_unit_ids")
    if cached is not None and cached[0] == _PROCESS:
        return cached[1]
    ids = np.empty(len(cell.units), dtype=np.int64)
    for i, unit in enumerate(cell.units):
        k = _INTERNED.get(unit)
        if k is None:
            k = _INTERNED[unit] = len(_NAMES)
            _NAMES.append(unit)
        ids[i] = k
    object.__setattr__(cell, "_unit_ids", (_PROCESS, ids))
    return ids


def _signature_keys(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Two fixed random 64-bit keys per cell position (grown as releases grow)."""
    size = 1 << max(10, (n - 1).bit_length())
    keys = _KEYS.get(size)
    if keys is None:
        rng = np.random.default_rng(20261202)
        draw = rng.integers(0, np.iinfo(np.uint64).max, size=(2, size), dtype=np.uint64)
        keys = _KEYS[size] = (draw[0], draw[1])
    return keys


@dataclass(frozen=True)
class Atoms:
    """Atoms of a release: their true sizes and which cells each belongs to."""

    sizes: np.ndarray
    #: cells x atoms, 1 where the atom is part of the cell
    matrix: sparse.csr_matrix
    #: per atom, the process-wide id of its first unit (the same atom in another release of
    #: this process has the same id; a witness of an earlier audit is found by it)
    representatives: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    #: the process-wide ids of the units (sorted), and each one's atom and weight
    unit_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    unit_group: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    unit_weight: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @cached_property
    def members(self) -> list[tuple[int, ...]]:
        """Per atom, the cells it belongs to (ascending)."""
        by_atom = self.matrix.tocsc()
        by_atom.sort_indices()
        bounds = by_atom.indptr.tolist()
        cells = by_atom.indices.tolist()
        return [tuple(cells[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

    @cached_property
    def group_of(self) -> dict[str, int]:
        """Each unit's atom, by name."""
        return dict(
            zip([_NAMES[i] for i in self.unit_ids.tolist()], self.unit_group.tolist(), strict=True)
        )

    def atoms_of(self, units: Iterable[str]) -> np.ndarray:
        """The atoms (sorted, distinct) of those ``units`` that are in one."""
        ids = np.fromiter((k for k in map(_INTERNED.get, units) if k is not None), dtype=np.int64)
        found, at = self.locate(ids)
        return np.unique(self.unit_group[at[found]])

    def locate(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For process-wide unit ids: whether each is in an atom, and its position in
        ``unit_ids`` (meaningful where it is)."""
        if not self.unit_ids.size:
            return np.zeros(ids.size, dtype=bool), np.zeros(ids.size, dtype=np.int64)
        pos = np.searchsorted(self.unit_ids, ids)
        pos = np.minimum(pos, self.unit_ids.size - 1)
        return self.unit_ids[pos] == ids, pos


# --------------------------------------------------------------------------------------------
# Building cells from tables
# --------------------------------------------------------------------------------------------


def _text(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def synthetic_cells(
    table: str,
    keys: pd.DataFrame,
    counts: pd.DataFrame,
    shown: pd.DataFrame,
    *,
    partitions: Sequence[str],
    total_label: str,
) -> tuple[list[Cell], dict[str, int]]:
    """Cells of a table whose units are unknown, linked only by the table's own sums.

    Rows whose partition keys hold no ``total_label`` are innermost: each of their count cells
    becomes one synthetic element weighing its count. A row with ``total_label`` in some
    partition keys is the union of the innermost rows that agree with it on its other keys.
    Without partitions every row stands alone.
    """
    partitions = [p for p in partitions if p in keys.columns]
    is_total = (
        keys[partitions].eq(total_label).to_numpy()
        if partitions
        else np.zeros((len(keys), 0), dtype=bool)
    )
    inner = ~is_total.any(axis=1)
    others = [c for c in keys.columns]
    cells: list[Cell] = []
    weights: dict[str, int] = {}
    key_text = keys.map(_text) if hasattr(keys, "map") else keys.applymap(_text)
    inner_rows = np.flatnonzero(inner)
    for column in counts.columns:
        element = {i: f"{table}|{column}|{i}" for i in inner_rows}
        for i in inner_rows:
            weights[element[i]] = int(counts[column].iloc[i])
        for i in range(len(keys)):
            if inner[i]:
                units = frozenset({element[i]})
            else:
                fixed = [c for k, c in enumerate(partitions) if not is_total[i, k]]
                fixed += [c for c in others if c not in partitions]
                match = np.ones(len(keys), dtype=bool)
                for c in fixed:
                    match &= (key_text[c] == key_text[c].iloc[i]).to_numpy()
                units = frozenset(element[j] for j in inner_rows if match[j])
            cells.append(
                Cell(
                    table=table,
                    key=(*[key_text[c].iloc[i] for c in keys.columns], str(column)),
                    value=int(counts[column].iloc[i]),
                    units=units,
                    shown=not bool(shown[column].iloc[i]),
                    total=not inner[i],
                )
            )
    return cells, weights


def unit_cells(
    table: str,
    keys: pd.DataFrame,
    counts: pd.DataFrame,
    shown: pd.DataFrame,
    units: pd.DataFrame,
    *,
    total_label: str,
    unit_column: str = "unit",
) -> list[Cell]:
    """Cells of a table tied to the units they count.

    ``units`` has one row per unit and count column membership: the column ``unit`` (id), the
    table's key columns (with the same labels as the table) and, per count column of the
    table, a boolean column of the same name (whether the unit counts there). A key holding
    ``total_label`` in the table matches every unit.
    """
    missing = [c for c in (*keys.columns, *counts.columns, unit_column) if c not in units]
    if missing:
        raise ValueError(f"units of table {table!r} lack column(s) {missing}")
    key_text = keys.map(_text)
    unit_keys = units[list(keys.columns)].map(_text)
    ids = units[unit_column].astype(str).to_numpy()
    cells = []
    for i in range(len(keys)):
        match = np.ones(len(units), dtype=bool)
        total = False
        for c in keys.columns:
            label = key_text[c].iloc[i]
            if label == total_label:
                total = True
                continue
            match &= (unit_keys[c] == label).to_numpy()
        for column in counts.columns:
            member = match & units[column].fillna(False).astype(bool).to_numpy()
            cell = Cell(
                table=table,
                key=(*[key_text[c].iloc[i] for c in keys.columns], str(column)),
                value=int(counts[column].iloc[i]),
                units=frozenset(ids[member]),
                shown=not bool(shown[column].iloc[i]),
                total=total,
            )
            if len(cell.units) != cell.value:
                raise ValueError(
                    f"{cell.name}: the table shows {cell.value}, its units count "
                    f"{len(cell.units)}; the units do not describe this table"
                )
            cells.append(cell)
    return cells
