"""The release audit: hand-made releases with known attacks, and the store over runs."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from evaluation.paths import Paths
from evaluation.protection import release as store
from evaluation.protection.model import Cell, Release, synthetic_cells, unit_cells
from evaluation.protection.solver import audit, protect


def people(prefix: str, n: int) -> frozenset[str]:
    return frozenset(f"person:{prefix}{i}" for i in range(n))


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------


def test_atoms_partition_units_by_membership() -> None:
    a, b, c = people("a", 3), people("b", 4), people("c", 6)
    release = Release([Cell("t", ("x",), 7, a | b), Cell("t", ("y",), 10, b | c)])
    atoms = release.atoms()
    assert sorted(atoms.sizes.tolist()) == [3.0, 4.0, 6.0]
    assert atoms.matrix.shape == (2, 3)
    release.check()


def test_check_rejects_cells_whose_units_do_not_count_their_value() -> None:
    release = Release([Cell("t", ("x",), 5, people("a", 4))])
    with pytest.raises(ValueError, match="count 4"):
        release.check()


def test_unit_cells_match_total_rows_and_check_counts() -> None:
    keys = pd.DataFrame({"project": ["A", "B", "Gesamt"]})
    counts = pd.DataFrame({"n": [2, 3, 5]})
    shown = pd.DataFrame({"n": [False, False, False]})
    units = pd.DataFrame(
        {"unit": ["p1", "p2", "p3", "p4", "p5"], "project": list("AABBB"), "n": [True] * 5}
    )
    cells = unit_cells("t", keys, counts, shown, units, total_label="Gesamt")
    assert [c.value for c in cells] == [2, 3, 5]
    assert cells[2].units == frozenset(units["unit"]) and cells[2].total
    with pytest.raises(ValueError, match="do not describe"):
        unit_cells("t", keys, pd.DataFrame({"n": [2, 3, 6]}), shown, units, total_label="Gesamt")


def test_synthetic_cells_link_a_two_way_table_by_its_sums() -> None:
    keys = pd.DataFrame(
        {
            "r": ["a", "a", "b", "b", "Gesamt", "Gesamt"],
            "c": ["x", "Gesamt", "x", "Gesamt", "x", "Gesamt"],
        }
    )
    counts = pd.DataFrame({"n": [3, 3, 7, 7, 10, 10]})
    hidden = pd.DataFrame({"n": [True, False, False, False, False, False]})
    cells, weights = synthetic_cells(
        "t", keys, counts, hidden, partitions=["r", "c"], total_label="Gesamt"
    )
    release = Release(cells, weights)
    release.check()
    result = audit(release, threshold=5)
    # the hidden 3 equals its row total: recovered
    assert any(f.kind == "cell" and f.cell.key == ("a", "x", "n") for f in result.findings)


# --------------------------------------------------------------------------------------------
# Known attacks
# --------------------------------------------------------------------------------------------


def test_differencing_two_cuts_of_the_same_population_is_caught_and_protected() -> None:
    withdrawn, decided = people("w", 2), people("d", 30)
    release = Release(
        [
            Cell("decisions", ("all",), 32, withdrawn | decided),
            Cell("months", ("decided",), 30, decided),
        ]
    )
    result = audit(release, threshold=5)
    assert [f.kind for f in result.findings] == ["group"]
    assert result.findings[0].high == 2
    protected, added, final = protect(
        release, threshold=5, open_for_change=lambda c: c.table == "months"
    )
    assert final.passed and [c.table for c in added] == ["months"]


def test_quarters_against_the_year_recover_a_hidden_quarter() -> None:
    quarters = [people(f"q{k}", n) for k, n in enumerate([10, 12, 3, 9])]
    cells = [Cell("year", ("2024",), 34, frozenset().union(*quarters))]
    cells += [
        Cell("quarters", (f"Q{k + 1}",), len(q), q, shown=k != 2) for k, q in enumerate(quarters)
    ]
    release = Release(cells)
    result = audit(release, threshold=5)
    assert any(
        f.kind == "cell" and f.cell.key == ("Q3",) and f.low == f.high == 3 for f in result.findings
    )
    protected, added, final = protect(
        release, threshold=5, open_for_change=lambda c: c.table == "quarters"
    )
    assert final.passed
    # the complement is the cheapest other quarter, not the year (published before)
    assert [c.key for c in added] == [("Q4",)]
    assert all(c.shown for c in protected.cells if c.table == "year")


def test_row_difference_of_two_shown_counts_isolates_a_small_group() -> None:
    exits, unknown = people("e", 20), people("u", 3)
    release = Release(
        [
            Cell("followup", ("A", "exits"), 23, exits | unknown),
            Cell("followup", ("A", "known"), 20, exits),
        ]
    )
    result = audit(release, threshold=5)
    assert len(result.findings) == 1 and result.findings[0].kind == "group"


def test_hidden_pair_whose_sum_is_small_is_not_safe() -> None:
    a, b, rest = people("a", 1), people("b", 2), people("c", 40)
    cells = [
        Cell("t", ("a",), 1, a, shown=False),
        Cell("t", ("b",), 2, b, shown=False),
        Cell("t", ("c",), 40, rest),
        Cell("t", ("total",), 43, a | b | rest, total=True),
    ]
    result = audit(Release(cells), threshold=5)
    assert {f.cell.key for f in result.findings if f.kind == "cell"} == {("a",), ("b",)}
    _, added, final = protect(Release(cells), threshold=5, open_for_change=lambda c: True)
    assert final.passed and [c.key for c in added] == [("c",)]


def test_a_safe_release_passes_without_changes() -> None:
    a, b = people("a", 2), people("b", 8)
    cells = [
        Cell("t", ("a",), 2, a, shown=False),
        Cell("t", ("b",), 8, b, shown=False),
        Cell("t", ("total",), 10, a | b, total=True),
    ]
    assert audit(Release(cells), threshold=5).passed


def test_solver_bounds_agree_with_a_direct_linear_programme() -> None:
    """Known answer: the audit's interval of every hidden cell equals scipy's LP over cells."""
    rng = np.random.default_rng(7)
    table = rng.integers(0, 9, size=(3, 3))
    units = {}
    cells = []
    counter = itertools.count()
    for i, j in itertools.product(range(3), range(3)):
        units[i, j] = frozenset(f"u{next(counter)}" for _ in range(table[i, j]))
    hidden = {(0, 0), (0, 1), (1, 0), (1, 1)}
    for i, j in itertools.product(range(3), range(3)):
        cells.append(
            Cell("t", (str(i), str(j)), int(table[i, j]), units[i, j], shown=(i, j) not in hidden)
        )
    for i in range(3):
        row = frozenset().union(*(units[i, j] for j in range(3)))
        cells.append(Cell("t", (str(i), "total"), len(row), row, total=True))
    for j in range(3):
        col = frozenset().union(*(units[i, j] for i in range(3)))
        cells.append(Cell("t", ("total", str(j)), len(col), col, total=True))
    result = audit(Release(cells), threshold=1)  # threshold 1: report only pinned cells
    # direct LP over the four unknown cells
    unknown = sorted(hidden)
    a_eq, b_eq = [], []
    for i in range(2):
        a_eq.append([1.0 if u[0] == i else 0.0 for u in unknown])
        b_eq.append(float(sum(table[i, j] for j in range(2))))
    for j in range(2):
        a_eq.append([1.0 if u[1] == j else 0.0 for u in unknown])
        b_eq.append(float(sum(table[i, j] for i in range(2))))
    pinned = set()
    for k, u in enumerate(unknown):
        c = np.zeros(4)
        c[k] = 1
        low = linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=(0, None)).fun
        high = -linprog(-c, A_eq=a_eq, b_eq=b_eq, bounds=(0, None)).fun
        if np.ceil(low - 1e-7) == np.floor(high + 1e-7) and table[u] > 0:
            pinned.add((str(u[0]), str(u[1])))
    assert {f.cell.key for f in result.findings if f.kind in ("cell", "pinned")} == pinned


# --------------------------------------------------------------------------------------------
# The store over runs
# --------------------------------------------------------------------------------------------


@pytest.fixture
def root(tmp_path) -> Paths:
    return Paths(tmp_path)


def publisher(root: Paths, run_id: str, run_key: str) -> store.Publisher:
    return store.Publisher(run_id=run_id, run_key=run_key, threshold=5, path=store.store_path(root))


def test_a_later_run_cannot_reveal_what_an_earlier_release_hid(root: Paths) -> None:
    quarters = [people(f"q{k}", n) for k, n in enumerate([10, 12, 3, 9])]
    first = publisher(root, "r1", "plan/quartal/Q")
    cells = [
        Cell("quarters", (f"Q{k + 1}",), len(q), q, shown=k not in (2, 3))
        for k, q in enumerate(quarters)
    ]
    added, result = first.release(cells, {})
    assert not added and result.passed
    store.commit_run(run_key="plan/quartal/Q", run_id="r1", root=root)
    year = publisher(root, "r2", "plan/jahr/2024")
    added, _ = year.release([Cell("year", ("2024",), 34, frozenset().union(*quarters))], {})
    # the year would reveal Q3 + Q4 = 12 ... which is not small, but Q3 alone stays unknown
    assert added == []
    # a half-year table that shows Q4 alone would pin Q3 through the year: it is hidden
    later = publisher(root, "r3", "plan/halbjahr/H2")
    added, _ = later.release([Cell("h2", ("Q4",), 9, quarters[3])], {})
    assert [c.key for c in added] == [("Q4",)]


def test_commit_replaces_the_same_run_key_and_remembers_decisions(root: Paths) -> None:
    a, b = people("a", 2), people("b", 30)
    cells = [
        Cell("t", ("a",), 2, a, shown=False),
        Cell("t", ("b",), 30, b, shown=False),
        Cell("t", ("total",), 32, a | b, total=True),
    ]
    for run_id in ("r1", "r2"):
        added, _ = publisher(root, run_id, "k").release(cells, {})
        assert not added
        store.commit_run(run_key="k", run_id=run_id, root=root)
    assert store.summary(root) == {"shown": 1, "hidden": 2}
    assert publisher(root, "r3", "k").remembered("t") == {("a",), ("b",)}


def test_discard_forgets_a_failed_run(root: Paths) -> None:
    cells = [Cell("t", ("x",), 30, people("x", 30))]
    publisher(root, "r1", "k").release(cells, {})
    store.discard_run(run_key="k", run_id="r1", root=root)
    assert store.summary(root) == {"shown": 0, "hidden": 0}
    with store._connect(store.store_path(root)) as con:
        assert con.execute("SELECT COUNT(*) FROM cells").fetchone()[0] == 0


def test_commit_refuses_a_release_that_does_not_pass(root: Paths) -> None:
    withdrawn, decided = people("w", 2), people("d", 30)
    p = publisher(root, "r1", "k1")
    p.release([Cell("all", ("x",), 32, withdrawn | decided)], {})
    store.commit_run(run_key="k1", run_id="r1", root=root)
    # stage a leaking table behind the audit's back (as a crashed or foreign writer might)
    with store._connect(store.store_path(root)) as con:
        store._stage(con, "r2", "k2", [Cell("months", ("decided",), 30, decided)], {})
    with pytest.raises(store.ReleaseError, match="kleine Gruppe"):
        store.commit_run(run_key="k2", run_id="r2", root=root)


def test_store_is_owner_only(root: Paths) -> None:
    publisher(root, "r1", "k").release([Cell("t", ("x",), 30, people("x", 30))], {})
    assert store.store_path(root).stat().st_mode & 0o077 == 0


def decisions_and_hidden_months() -> tuple[list[Cell], list[Cell]]:
    """Decisions published before; a new months table whose two hidden cells they pin down."""
    regulated, other = people("r", 9), people("o", 20)
    earlier = [
        Cell("decisions", ("regulated",), 9, regulated),
        Cell("decisions", ("total",), 29, regulated | other, total=True),
    ]
    new = [
        Cell("months", ("regulated",), 9, regulated, shown=False),
        Cell("months", ("other",), 20, other, shown=False),
        Cell("months", ("total",), 29, regulated | other, total=True),
    ]
    return earlier, new


def test_a_pinned_complement_that_is_not_sensitive_is_shown_instead() -> None:
    """Hiding a 9 that other tables pin down protects nothing: it is shown again."""
    earlier, new = decisions_and_hidden_months()
    release = Release(earlier + new)
    result = audit(release, threshold=5)
    assert result.passed and {f.cell.key for f in result.pinned} == {("regulated",), ("other",)}
    protected, added, final = protect(
        release, threshold=5, open_for_change=lambda c: c.table == "months"
    )
    assert final.passed and not final.pinned and not added
    assert {c.key for c in final.revealed} == {("regulated",), ("other",)}
    assert all(c.shown for c in protected.cells)


def test_cells_to_keep_hidden_are_not_shown_again_though_pinned(root: Paths) -> None:
    """``keep_hidden``: the caller's cells that must stay hidden are not revealed, neither by
    the solver nor through the store's publisher; the others still are."""
    earlier, new = decisions_and_hidden_months()
    protected, added, final = protect(
        Release(earlier + new),
        threshold=5,
        open_for_change=lambda c: c.table == "months",
        keep_hidden=lambda c: c.key == ("regulated",),
    )
    assert final.passed and not added
    assert {c.key for c in final.revealed} == {("other",)}
    assert {c.key for c in protected.cells if not c.shown} == {("regulated",)}

    added, passed = publisher(root, "r1", "decisions/2024").release(earlier, {})
    assert not added and passed.passed
    second = publisher(root, "r2", "months/2024")
    _, shown_again = second.release(new, {})
    assert {c.key for c in shown_again.revealed} == {("regulated",), ("other",)}
    _, kept = second.release(new, {}, keep_hidden={("regulated",), ("other",)})
    assert kept.passed and not kept.revealed  # nothing to show: staged as it is
    with store._connect(store.store_path(root)) as con:
        staged = con.execute("SELECT cell_key, shown FROM cells WHERE run_id = 'r2'").fetchall()
    assert sorted(staged) == [('["other"]', 0), ('["regulated"]', 0), ('["total"]', 1)]


def test_a_new_table_two_steps_away_is_the_one_changed() -> None:
    """X = A+B and Y = B+C were published; a new Z = C pins the small A = X - Y + Z."""
    a, b, c = people("a", 2), people("b", 30), people("c", 20)
    release = Release(
        [
            Cell("x", ("all",), 32, a | b),
            Cell("y", ("all",), 50, b | c),
            Cell("z", ("c",), 20, c),
        ]
    )
    result = audit(release, threshold=5)
    assert [f.kind for f in result.findings] == ["group"] and result.findings[0].high == 2
    _, added, final = protect(release, threshold=5, open_for_change=lambda cell: cell.table == "z")
    assert final.passed and [cell.table for cell in added] == ["z"]


def test_a_new_table_may_not_make_an_earlier_hidden_cell_recomputable() -> None:
    """Q2's hidden 9 (not small) must not become recomputable through the year published later."""
    quarters = [people(f"q{k}", n) for k, n in enumerate([10, 9, 12, 11])]
    earlier = [
        Cell("q", (f"Q{k + 1}",), len(q), q, shown=k not in (1, 2)) for k, q in enumerate(quarters)
    ]
    year = [Cell("year", ("2025",), 42, frozenset().union(*quarters))]
    # a half-year table that shows Q3 would pin Q2 through the year
    half = [Cell("h2", ("Q3",), 12, quarters[2])]
    release = Release(earlier + year + half)
    _, added, final = protect(release, threshold=5, open_for_change=lambda c: c.table == "h2")
    assert [c.table for c in added] == ["h2"] and final.passed


# --------------------------------------------------------------------------------------------
# The vectorised atoms equal the plain construction
# --------------------------------------------------------------------------------------------


def plain_atoms(release: Release, include=None):
    """The partition as first written: a dictionary of membership signatures."""
    signature: dict[str, list[int]] = {}
    chosen = range(len(release.cells)) if include is None else np.flatnonzero(include)
    for j in chosen:
        for unit in release.cells[j].units:
            signature.setdefault(unit, []).append(int(j))
    groups: dict[tuple[int, ...], int] = {}
    group_of: dict[str, int] = {}
    sizes: list[float] = []
    members: list[tuple[int, ...]] = []
    for unit, cells in signature.items():
        k = groups.get(tuple(cells))
        if k is None:
            k = groups[tuple(cells)] = len(sizes)
            sizes.append(0.0)
            members.append(tuple(cells))
        sizes[k] += release.weights.get(unit, 1)
        group_of[unit] = k
    return sizes, members, group_of


@pytest.mark.parametrize("seed", range(25))
def test_atoms_equal_the_plain_construction_on_random_releases(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_units = int(rng.integers(1, 300))
    names = [f"person:{rng.integers(10**6)}-{i}" for i in range(n_units)]
    cells = []
    for t in range(int(rng.integers(1, 40))):
        size = int(rng.integers(0, n_units + 1))
        units = frozenset(rng.choice(names, size=size, replace=False).tolist())
        cells.append(
            Cell(f"t{t % 5}", (str(t),), len(units), units, shown=bool(rng.random() < 0.7))
        )
    weights = {u: int(rng.integers(1, 9)) for u in names if rng.random() < 0.1}
    release = Release(cells, weights)
    for include in (None, np.array([c.shown for c in cells], dtype=bool)):
        atoms = release.atoms(include)
        sizes, members, group_of = plain_atoms(release, include)
        assert atoms.sizes.tolist() == sizes
        assert atoms.members == members
        assert atoms.group_of == group_of
        dense = atoms.matrix.toarray()
        for k, sig in enumerate(members):
            assert np.flatnonzero(dense[:, k]).tolist() == sorted(sig)
