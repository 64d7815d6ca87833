"""The atoms refined from kept partitions equal the atoms built from scratch.

:meth:`Release.atoms` keeps the partitions of earlier calls in this process and refines one
whose cells are the first cells of the release by the remaining cells. Random stores with
random new cells, published as runs do (the store grows by the new tables, the new cells
change between calls, the cells shown change), must give the same atoms as
:func:`evaluation.protection.model.atoms_from_scratch` and as the plain dictionary
construction, and the audit on them the same findings as an audit without kept state.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluation.protection import model, solver
from evaluation.protection.model import Atoms, Cell, Release, atoms_from_scratch
from evaluation.protection.solver import audit, protect
from tests.test_protection_release import plain_atoms
from tests.test_protection_speed_equivalence import apply_round, assert_same_audit, finding_key


@pytest.fixture(autouse=True)
def cold_state():
    """Each test starts without partitions, witnesses or pinned cells of other tests."""
    solver.forget_witnesses()
    yield
    solver.forget_witnesses()


def assert_same_atoms(got: Atoms, want: Atoms) -> None:
    assert got.sizes.tolist() == want.sizes.tolist()
    assert got.matrix.shape == want.matrix.shape
    assert got.matrix.indptr.tolist() == want.matrix.indptr.tolist()
    assert got.matrix.indices.tolist() == want.matrix.indices.tolist()
    assert got.matrix.data.tolist() == want.matrix.data.tolist()
    assert got.members == want.members
    assert got.group_of == want.group_of
    assert got.representatives.tolist() == want.representatives.tolist()
    assert got.unit_ids.tolist() == want.unit_ids.tolist()
    assert got.unit_group.tolist() == want.unit_group.tolist()
    assert got.unit_weight.tolist() == want.unit_weight.tolist()


def random_cells(rng: np.random.Generator, names: list[str], count: int, table: str) -> list:
    cells = []
    for t in range(count):
        size = int(rng.integers(0, min(len(names), 60) + 1))
        units = frozenset(rng.choice(names, size=size, replace=False).tolist())
        cells.append(
            Cell(
                f"{table}{t % 3}",
                (str(t),),
                len(units),
                units,
                shown=bool(rng.random() < 0.7),
                total=bool(rng.random() < 0.2),
            )
        )
    return cells


def check(release: Release, include: np.ndarray | None, keep: int | None = None) -> None:
    got = release.atoms(include, keep=keep)
    want = atoms_from_scratch(release, include)
    assert_same_atoms(got, want)
    sizes, members, group_of = plain_atoms(release, include)
    assert got.sizes.tolist() == sizes
    assert got.members == members
    assert got.group_of == group_of


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    units=st.integers(1, 120),
    store=st.integers(0, 30),
    new=st.lists(st.integers(0, 8), min_size=1, max_size=6),
)
def test_store_refined_by_new_cells_equals_atoms_from_scratch(
    seed: int, units: int, store: int, new: list[int]
) -> None:
    """A run: the store's partition kept, each table's cells released (and changed) on top
    of it, the table then staged so that the store grows."""
    model.forget_partitions()
    rng = np.random.default_rng(seed)
    names = [f"person:{seed}-{i}" for i in range(units)] + [f"t|e|{i}" for i in range(5)]
    weights = {f"t|e|{i}": int(rng.integers(1, 9)) for i in range(5)}
    published = random_cells(rng, names, store, "s")
    for k, count in enumerate(new):
        cells = random_cells(rng, names, count, f"n{k}_")
        for _ in range(2):  # released, protected once more, released again
            release = Release([*published, *cells], dict(weights))
            shown = np.array([c.shown for c in release.cells], dtype=bool)
            check(release, shown, keep=len(published))
            check(release, None)
            check(Release(list(published), dict(weights)), shown[: len(published)])
            cells = [replace(c, shown=False) if rng.random() < 0.3 else c for c in cells]
        if rng.random() < 0.3:
            weights[f"t|e|{int(rng.integers(5))}"] = int(rng.integers(1, 9))  # weights change
        published = [*published, *cells]


@pytest.mark.parametrize("seed", range(20))
def test_a_kept_partition_is_used_only_for_the_same_first_cells(seed: int) -> None:
    """Equal but different cell objects, a cell changed in place of the list, or another
    cell included: the kept partition does not fit, and the atoms are still right."""
    rng = np.random.default_rng(seed)
    names = [f"person:x{seed}-{i}" for i in range(80)]
    cells = random_cells(rng, names, 20, "a")
    shown = np.array([c.shown for c in cells], dtype=bool)
    check(Release(list(cells)), shown, keep=10)
    copies = [replace(c) for c in cells]  # equal, not the same objects
    check(Release(copies), shown)
    changed = list(cells)
    j = int(rng.integers(10))
    changed[j] = replace(changed[j], units=frozenset(names[:5]), value=5)
    check(Release(changed), shown)
    flipped = shown.copy()
    flipped[int(rng.integers(10))] ^= True
    check(Release(list(cells)), flipped)
    check(Release(list(cells[:15])), shown[:15])  # shorter than a kept partition


def test_the_store_is_partitioned_once_and_refined_by_the_new_cells(monkeypatch) -> None:
    """The refinement touches only the new cells' units once the store's partition is kept."""
    rng = np.random.default_rng(7)
    names = [f"person:y{i}" for i in range(300)]
    store = random_cells(rng, names, 40, "s")
    refined: list[int] = []
    real = model._refine

    def counting(partition, cells, include, stop):
        refined.append(stop - len(partition.cells))
        return real(partition, cells, include, stop)

    monkeypatch.setattr(model, "_refine", counting)
    for k in range(5):
        new = random_cells(rng, names, 4, f"n{k}")
        release = Release([*store, *new])
        check(release, np.array([c.shown for c in release.cells]), keep=len(store))
    # the first call partitions the store (40 cells) and refines it by 4; later calls only
    # refine by the 4 new cells
    assert refined == [40, 4, 4, 4, 4, 4]


@pytest.mark.parametrize("seed", range(8))
def test_audits_with_kept_state_find_what_cold_audits_find(seed: int) -> None:
    """Tables released one by one on a store: every protect with the partitions, witnesses
    and pinned cells kept from the earlier ones gives what it gives from a cold start."""
    from tests.test_protection_speed_equivalence import population, random_table

    rng = np.random.default_rng(300 + seed)
    threshold = int(rng.choice([3, 5]))
    people = population(rng, 220)
    published = Release()
    for t in range(8):
        cells, weights = random_table(rng, people, f"t{t}", threshold)
        for _ in range(6):
            candidate = Release([*published.cells, *cells], {**published.weights, **weights})
            kwargs = dict(
                threshold=threshold,
                open_for_change=lambda c, n=f"t{t}": c.table == n,
                max_rounds=1,
            )
            focus = kwargs["open_for_change"]
            warm = protect(candidate, **kwargs)
            warm_audit = audit(candidate, threshold=threshold, focus=focus)
            saved = (
                list(model._PARTITIONS),
                solver._WITNESSES._store.copy(),
                list(solver._PINNED),
            )
            solver.forget_witnesses()
            cold = protect(candidate, **kwargs)
            solver.forget_witnesses()
            assert_same_audit(warm_audit, audit(candidate, threshold=threshold, focus=focus))
            model._PARTITIONS[:] = saved[0]
            solver._WITNESSES._store = saved[1]
            solver._PINNED[:] = saved[2]
            assert [(c.table, c.key) for c in warm[1]] == [(c.table, c.key) for c in cold[1]]
            assert [(c.table, c.key) for c in warm[2].revealed] == [
                (c.table, c.key) for c in cold[2].revealed
            ]
            assert [finding_key(f) for f in warm[2].findings] == [
                finding_key(f) for f in cold[2].findings
            ]
            added, final = warm[1], warm[2]
            if not added and not final.revealed:
                break
            cells = apply_round(cells, added, final.revealed)
        published = candidate
