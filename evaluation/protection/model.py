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

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
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

    def atoms(self, include: np.ndarray | None = None) -> Atoms:
        """The partition of the units into atoms: same membership in every cell.

        ``include`` (a boolean per cell) limits the cells that tell units apart, e.g. to the
        shown ones: then the atoms are the groups a reader can distinguish. Atoms are numbered
        in the order their first unit appears (cells in order, each cell's units in order).
        """
        chosen = np.arange(len(self.cells)) if include is None else np.flatnonzero(include)
        lists = [_unit_ids(self.cells[j]) for j in chosen]
        lengths = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
        if not lengths.sum():
            empty = sparse.csr_matrix((len(self.cells), 0))
            return Atoms(np.zeros(0), empty, [], {})
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
        weight = np.ones(unique.size)
        if self.weights:
            ids = np.fromiter(
                (_INTERNED.get(name, -1) for name in self.weights),
                dtype=np.int64,
                count=len(self.weights),
            )
            given = np.fromiter(self.weights.values(), dtype=float, count=len(self.weights))
            at = np.minimum(np.searchsorted(unique, ids), unique.size - 1)
            hit = (ids >= 0) & (unique[at] == ids)
            weight[at[hit]] = given[hit]
        sizes = np.bincount(group, weights=weight, minlength=first_of_kind.size)
        representative = np.full(first_of_kind.size, unique.size, dtype=np.int64)
        np.minimum.at(representative, group, np.arange(unique.size))
        # each atom's cells: those of its first unit
        per_atom = count[representative]
        ends = np.cumsum(per_atom)
        at_entry = np.repeat(start[representative] - (ends - per_atom), per_atom)
        rows = cells_sorted[at_entry + np.arange(int(ends[-1]))]
        cols = np.repeat(np.arange(per_atom.size), per_atom)
        row_list = rows.tolist()
        members = [
            tuple(row_list[a:b])
            for a, b in zip((ends - per_atom).tolist(), ends.tolist(), strict=True)
        ]
        matrix = sparse.csr_matrix(
            (np.ones(rows.size), (rows, cols)), shape=(len(self.cells), len(members))
        )
        group_of = dict(zip([_NAMES[i] for i in unique.tolist()], group.tolist(), strict=True))
        return Atoms(
            sizes.astype(float),
            matrix,
            members,
            group_of,
            unique[representative],
            unique,
            group,
            weight,
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
    #: per atom, the cells it belongs to
    members: list[tuple[int, ...]]
    #: each unit's atom
    group_of: dict[str, int] = field(default_factory=dict)
    #: per atom, the process-wide id of its first unit (the same atom in another release of
    #: this process has the same id; a witness of an earlier audit is found by it)
    representatives: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    #: the process-wide ids of the units (sorted), and each one's atom and weight
    unit_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    unit_group: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    unit_weight: np.ndarray = field(default_factory=lambda: np.zeros(0))

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
