"""The release store: everything published to the same readers, audited as a whole.

Every protected table a report shows registers its count cells here, tied to the units they
count (:mod:`evaluation.protection.model`). Before a table is displayed, it is audited
together with everything already published to the same readers (all reports of all periods
and plans, and the tables of runs still in progress, which count as published) by
:func:`evaluation.protection.solver.protect`; cells it must hide in addition are hidden
before anything is shown. The store is internal (``data/release.sqlite``, owner-only): it
holds exact values and pseudonymised unit ids, and never leaves the workspace.

A run's cells are *staged* until the runner publishes the run: then :func:`commit_run` makes
them *committed* and replaces the cells of the same run key published before, after a final
audit of the whole release; :func:`discard_run` removes the cells of a run that failed. A
cell hidden once for a run key is remembered (*decisions*) and hidden again when the run is
repeated, so re-running a period gives the same pattern.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Collection, Iterable, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from evaluation.paths import Paths, paths
from evaluation.protection.model import Cell, Release, synthetic_cells, unit_cells
from evaluation.protection.rule import DisclosureError
from evaluation.protection.solver import Audit, protect

ENV_RUN_KEY = "EVALUATION_RUN_KEY"

OPTIMISTIC_ATTEMPTS = 3
"""How often :meth:`Publisher.release` audits on a snapshot of the store before it audits
with the store locked (when other runs staged tables during each of those audits)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cells (
    run_id TEXT NOT NULL,
    run_key TEXT NOT NULL,
    status TEXT NOT NULL,
    tab TEXT NOT NULL,
    cell_key TEXT NOT NULL,
    value INTEGER NOT NULL,
    shown INTEGER NOT NULL,
    total INTEGER NOT NULL,
    units TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cells_run ON cells(run_id);
CREATE INDEX IF NOT EXISTS cells_key ON cells(run_key);
CREATE TABLE IF NOT EXISTS weights (
    run_id TEXT NOT NULL,
    element TEXT NOT NULL,
    weight INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS weights_run ON weights(run_id);
CREATE TABLE IF NOT EXISTS tables (
    run_id TEXT NOT NULL,
    tab TEXT NOT NULL,
    release_hidden INTEGER NOT NULL,
    audit_seconds REAL NOT NULL,
    programmes INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    threshold INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS decisions (
    run_key TEXT NOT NULL,
    tab TEXT NOT NULL,
    cell_key TEXT NOT NULL,
    PRIMARY KEY (run_key, tab, cell_key)
);
"""


class ReleaseError(DisclosureError):
    """A release does not pass the audit; ``message`` names table and cell in one line."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def store_path(root: Paths | None = None) -> Path:
    """Where the release store lives (internal, beside the results history)."""
    return (root or paths()).data / "release.sqlite"


@contextmanager
def _connect(path: Path | None = None):
    path = path or store_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = not path.exists()
    con = sqlite3.connect(path, timeout=120, isolation_level=None)
    if fresh:
        os.chmod(path, 0o600)
    with closing(con):
        con.execute("PRAGMA journal_mode=WAL")
        con.executescript(_SCHEMA)
        yield con


@contextmanager
def _writing(path: Path | None = None):
    """A connection holding the store's write lock: committed when the block ends (unless
    it rolled back itself), rolled back when it raises."""
    with _connect(path) as con:
        con.execute("BEGIN IMMEDIATE")
        try:
            yield con
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        if con.in_transaction:
            con.execute("COMMIT")


def _key_text(key: tuple[str, ...]) -> str:
    return json.dumps(list(key), ensure_ascii=False)


@dataclass
class _Cached:
    """Rows of the store already decoded in this process (the store only grows between
    commits; a row count that does not add up means rows were removed: read it all again)."""

    cells: list[tuple[int, str, Cell]]
    weights: list[tuple[int, str, str, int]]
    generation: int = 0


_CACHE: dict[str, _Cached] = {}
_CACHE_SIZE = 4


def _rows(con: sqlite3.Connection) -> _Cached:
    key = con.execute("PRAGMA database_list").fetchone()[2]
    generation = _generation(con)
    cached = _CACHE.get(key)
    if cached is None or cached.generation != generation:
        cached = _Cached([], [], generation)
    (count,) = con.execute("SELECT COUNT(*) FROM cells").fetchone()
    last = cached.cells[-1][0] if cached.cells else 0
    new = con.execute(
        "SELECT rowid, run_id, tab, cell_key, value, shown, total, units FROM cells "
        "WHERE rowid > ? ORDER BY rowid",
        (last,),
    ).fetchall()
    if len(cached.cells) + len(new) != count:
        cached = _Cached([], [], generation)
        new = con.execute(
            "SELECT rowid, run_id, tab, cell_key, value, shown, total, units FROM cells "
            "ORDER BY rowid"
        ).fetchall()
    for rowid, run_id, tab, cell_key, value, shown, total, units in new:
        cell = Cell(
            table=tab,
            key=tuple(json.loads(cell_key)),
            value=int(value),
            units=frozenset(json.loads(units)),
            shown=bool(shown),
            total=bool(total),
        )
        cached.cells.append((rowid, run_id, cell))
    (wcount,) = con.execute("SELECT COUNT(*) FROM weights").fetchone()
    wlast = cached.weights[-1][0] if cached.weights else 0
    wnew = con.execute(
        "SELECT rowid, run_id, element, weight FROM weights WHERE rowid > ? ORDER BY rowid",
        (wlast,),
    ).fetchall()
    if len(cached.weights) + len(wnew) != wcount:
        cached.weights = []
        wnew = con.execute(
            "SELECT rowid, run_id, element, weight FROM weights ORDER BY rowid"
        ).fetchall()
    cached.weights.extend(wnew)
    _CACHE.pop(key, None)
    _CACHE[key] = cached
    while len(_CACHE) > _CACHE_SIZE:  # least recently used first (a worker's store copies)
        _CACHE.pop(next(iter(_CACHE)))
    return cached


def _generation(con: sqlite3.Connection) -> int:
    row = con.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
    return int(row[0]) if row else 0


def _removed(con: sqlite3.Connection) -> None:
    """Note that rows were deleted (row ids may be reused): readers decode the store anew."""
    con.execute(
        "INSERT INTO meta (key, value) VALUES ('generation', 1) "
        "ON CONFLICT(key) DO UPDATE SET value = value + 1"
    )


def _load(con: sqlite3.Connection, stale: set[str] | None = None) -> Release:
    """Everything published or staged, except the cells of the runs in ``stale``."""
    rows = _rows(con)
    stale = stale or set()
    release = Release()
    release.cells = [cell for _, run_id, cell in rows.cells if run_id not in stale]
    release.weights = {e: int(w) for _, run_id, e, w in rows.weights if run_id not in stale}
    return release


@dataclass
class Publisher:
    """The release of one run: audits and stages its tables as they are shown."""

    run_id: str | None
    run_key: str | None
    threshold: int
    zero_is_safe: bool = True
    path: Path | None = None

    @property
    def staging(self) -> bool:
        """Whether cells are written to the store (only in runs of the runner)."""
        return self.run_id is not None

    def note_table(
        self, table: str, *, release_hidden: int, seconds: float, programmes: int
    ) -> None:
        """Record what protecting one table cost (for the benchmark and the report)."""
        if not self.staging:
            return
        with _connect(self.path) as con:
            con.execute(
                "INSERT INTO tables (run_id, tab, release_hidden, audit_seconds, programmes)"
                " VALUES (?, ?, ?, ?, ?)",
                (self.run_id, table, release_hidden, seconds, programmes),
            )

    def remembered(self, table: str) -> set[tuple[str, ...]]:
        """Cells of ``table`` hidden by an earlier run of the same run key."""
        if not self.run_key:
            return set()
        with _connect(self.path) as con:
            rows = con.execute(
                "SELECT cell_key FROM decisions WHERE run_key = ? AND tab = ?",
                (self.run_key, table),
            ).fetchall()
        return {tuple(json.loads(r[0])) for r in rows}

    def release(
        self,
        cells: list[Cell],
        weights: dict[str, int],
        *,
        keep_hidden: Collection[tuple[str, ...]] = (),
    ) -> tuple[list[Cell], Audit]:
        """Audit new cells with everything published; stage them when they pass.

        Returns the cells that must be hidden in addition, and the audit, whose ``revealed``
        lists hidden cells that the rest of the release pins down and that are not
        sensitive: they are to be shown, except those whose key is in ``keep_hidden``.
        When either is non-empty nothing is staged: the caller protects its table again and
        calls this once more. Parallel runs see each other's tables: the audit reads a
        snapshot of the store without locking it (so two runs audit at the same time), and
        the cells are staged only if, under the store's write lock, the store is still what
        the audit read; otherwise the audit is repeated on the newer store. After
        :data:`OPTIMISTIC_ATTEMPTS` such repeats, and before refusing, the audit runs with
        the store locked, as one transaction with the staging.

        Raises
        ------
        ReleaseError
            When no further suppression within the new tables can protect the release.
        """
        new_tables = {c.table for c in cells}
        keep = frozenset(keep_hidden)
        for _ in range(OPTIMISTIC_ATTEMPTS):
            # audit on a read snapshot (WAL: other runs keep staging meanwhile), then stage
            # only if the store is still what was audited; else audit the newer store
            with _connect(self.path) as con:
                con.execute("BEGIN")
                try:
                    seen = self._state(con)
                    published = self._published(con, seen, cells, weights)
                finally:
                    con.execute("ROLLBACK")
            added, result = self._protect(published, new_tables, keep)
            if added or result.revealed:
                return added, result  # nothing staged: the caller protects and asks again
            if not result.passed:
                break  # refused only on the store as it is now (below, under the lock)
            with _writing(self.path) as con:
                if self._state(con) == seen:
                    self._stage(con, cells, weights)
                    return added, result
                con.execute("ROLLBACK")  # another run staged or committed meanwhile
        # contended, or refused: audit and stage in one transaction
        with _writing(self.path) as con:
            published = self._published(con, self._state(con), cells, weights)
            added, result = self._protect(published, new_tables, keep)
            if added or result.revealed:
                con.execute("ROLLBACK")
                return added, result
            if not result.passed:
                raise ReleaseError(result.findings[0].message())
            self._stage(con, cells, weights)
        return added, result

    def _state(self, con: sqlite3.Connection) -> tuple:
        """What :meth:`_published` reads, as a value that changes whenever it would read
        something else: the store's generation (rows removed), the number and last row id of
        cells and weights (rows added), and the earlier runs of this run key (replaced)."""
        cells = con.execute("SELECT COUNT(*), MAX(rowid) FROM cells").fetchone()
        weights = con.execute("SELECT COUNT(*), MAX(rowid) FROM weights").fetchone()
        stale: tuple[str, ...] = ()
        if self.run_key:
            stale = tuple(
                sorted(
                    r[0]
                    for r in con.execute(
                        "SELECT DISTINCT run_id FROM cells WHERE run_key = ? AND run_id != ?",
                        (self.run_key, self.run_id or ""),
                    )
                )
            )
        return (_generation(con), tuple(cells), tuple(weights), stale)

    def _published(
        self, con: sqlite3.Connection, state: tuple, cells: list[Cell], weights: dict[str, int]
    ) -> Release:
        """Everything published and staged, the run's own earlier release and the tables
        of ``cells`` replaced by ``cells``."""
        published = _load(con, set(state[-1]))
        new_tables = {c.table for c in cells}
        published.cells = [c for c in published.cells if c.table not in new_tables]
        published.add(cells, weights)
        return published

    def _protect(
        self, published: Release, new_tables: set[str], keep: frozenset
    ) -> tuple[list[Cell], Audit]:
        _, added, result = protect(
            published,
            threshold=self.threshold,
            zero_is_safe=self.zero_is_safe,
            open_for_change=lambda c: c.table in new_tables,
            keep_hidden=lambda c: c.key in keep,
            max_rounds=1,  # the caller's per-table solver adds the complements
        )
        return added, result

    def _stage(self, con: sqlite3.Connection, cells: list[Cell], weights: dict[str, int]) -> None:
        if self.staging:
            _stage(con, self.run_id, self.run_key or "", cells, weights)
            con.execute(
                "INSERT OR REPLACE INTO runs (run_id, threshold) VALUES (?, ?)",
                (self.run_id, self.threshold),
            )


def _stage(
    con: sqlite3.Connection,
    run_id: str,
    run_key: str,
    cells: Iterable[Cell],
    weights: dict[str, int],
) -> None:
    con.executemany(
        "INSERT INTO cells (run_id, run_key, status, tab, cell_key, value, shown, total, units)"
        " VALUES (?, ?, 'staged', ?, ?, ?, ?, ?, ?)",
        [
            (
                run_id,
                run_key,
                c.table,
                _key_text(c.key),
                c.value,
                int(c.shown),
                int(c.total),
                json.dumps(sorted(c.units)),
            )
            for c in cells
        ],
    )
    con.executemany(
        "INSERT INTO weights (run_id, element, weight) VALUES (?, ?, ?)",
        [(run_id, e, w) for e, w in weights.items()],
    )


def commit_run(
    *, run_key: str, run_id: str, staging: Path | None = None, root: Paths | None = None
) -> Audit:
    """Make a run's staged cells published, after a final audit of the whole release.

    Called by the runner at its commit point, before anything of the run becomes visible.
    Replaces the cells that earlier runs of the same run key published and remembers the
    hidden cells for later runs of it.

    Raises
    ------
    ReleaseError
        If the release with this run's cells does not pass the audit (names table and cell).
    """
    path = store_path(root)
    if not path.exists():
        return Audit()
    with _connect(path) as con:
        con.execute("BEGIN IMMEDIATE")
        try:
            con.execute("UPDATE cells SET run_key = ? WHERE run_id = ?", (run_key, run_id))
            stale = {
                r[0]
                for r in con.execute(
                    "SELECT DISTINCT run_id FROM cells WHERE run_key = ? AND run_id != ?",
                    (run_key, run_id),
                )
            }
            release = _load(con, stale)
            mine = {
                (r[0], tuple(json.loads(r[1])))
                for r in con.execute("SELECT tab, cell_key FROM cells WHERE run_id = ?", (run_id,))
            }
            threshold = _threshold(con, run_id)
            _, _, result = protect(
                release,
                threshold=threshold,
                open_for_change=lambda c: (c.table, c.key) in mine,
                max_rounds=1,
            )
            if not result.passed:
                raise ReleaseError(result.findings[0].message())
            if stale:
                _removed(con)
            for r in stale:
                con.execute("DELETE FROM cells WHERE run_id = ?", (r,))
                con.execute("DELETE FROM tables WHERE run_id = ?", (r,))
                con.execute("DELETE FROM weights WHERE run_id = ?", (r,))
            con.execute("UPDATE cells SET status = 'committed' WHERE run_id = ?", (run_id,))
            con.executemany(
                "INSERT OR IGNORE INTO decisions (run_key, tab, cell_key) VALUES (?, ?, ?)",
                con.execute(
                    "SELECT run_key, tab, cell_key FROM cells WHERE run_id = ? AND shown = 0",
                    (run_id,),
                ).fetchall(),
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return result


def _threshold(con: sqlite3.Connection, run_id: str) -> int:
    row = con.execute("SELECT threshold FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    return int(row[0]) if row else 5


def discard_run(*, run_key: str | None = None, run_id: str, root: Paths | None = None) -> None:
    """Forget the staged cells of a run that failed or was never published."""
    path = store_path(root)
    if not path.exists():
        return
    with _connect(path) as con:
        con.execute("BEGIN IMMEDIATE")
        _removed(con)
        con.execute("DELETE FROM cells WHERE run_id = ? AND status = 'staged'", (run_id,))
        con.execute(
            "DELETE FROM tables WHERE run_id = ? AND NOT EXISTS "
            "(SELECT 1 FROM cells WHERE cells.run_id = tables.run_id)",
            (run_id,),
        )
        con.execute(
            "DELETE FROM weights WHERE run_id = ? AND NOT EXISTS "
            "(SELECT 1 FROM cells WHERE cells.run_id = weights.run_id)",
            (run_id,),
        )
        con.execute("COMMIT")


_RUN_TABLES = {
    "cells": ("run_id", "run_key", "status", "tab", "cell_key", "value", "shown", "total", "units"),
    "weights": ("run_id", "element", "weight"),
    "tables": ("run_id", "tab", "release_hidden", "audit_seconds", "programmes"),
    "runs": ("run_id", "threshold"),
}


def export_run(run_id: str, root: Paths | None = None) -> dict[str, list[tuple]]:
    """The staged rows of one run (cells, weights, cost notes, threshold), to be imported
    into another store by :func:`import_run` (a run executed on a remote worker against a
    copy of the store is published by the submitting process into the real one)."""
    path = store_path(root)
    if not path.exists():
        return {}
    with _connect(path) as con:
        return {
            table: con.execute(
                f"SELECT {', '.join(columns)} FROM {table} WHERE run_id = ?"  # noqa: S608
                + (" AND status = 'staged'" if table == "cells" else ""),
                (run_id,),
            ).fetchall()
            for table, columns in _RUN_TABLES.items()
        }


def import_run(run_id: str, rows: dict[str, list[tuple]], root: Paths | None = None) -> None:
    """Stage the rows :func:`export_run` gave in this store (replacing any of ``run_id``).

    Nothing is published by it: :func:`commit_run` then audits the whole release with these
    cells, exactly as for a run executed here, and refuses it if the store changed meanwhile
    in a way that makes the run's tables disclosive.
    """
    if any(r[0] != run_id for table in rows.values() for r in table):
        raise ValueError(f"rows of another run than {run_id} cannot be imported as {run_id}")
    if not rows.get("cells"):
        return
    with _connect(store_path(root)) as con:
        con.execute("BEGIN IMMEDIATE")
        try:
            if con.execute("SELECT 1 FROM cells WHERE run_id = ? LIMIT 1", (run_id,)).fetchone():
                _removed(con)
            for table, columns in _RUN_TABLES.items():
                con.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))  # noqa: S608
                con.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES "  # noqa: S608
                    f"({', '.join('?' * len(columns))})",
                    [tuple(r) for r in rows.get(table, [])],
                )
            con.execute("UPDATE cells SET status = 'staged' WHERE run_id = ?", (run_id,))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise


def summary(root: Paths | None = None) -> dict[str, int]:
    """Cells published in the whole release: shown and hidden."""
    path = store_path(root)
    if not path.exists():
        return {"shown": 0, "hidden": 0}
    with _connect(path) as con:
        shown, hidden = con.execute(
            "SELECT COALESCE(SUM(shown), 0), COALESCE(SUM(1 - shown), 0) FROM cells "
            "WHERE status = 'committed'"
        ).fetchone()
    return {"shown": int(shown), "hidden": int(hidden)}


# --------------------------------------------------------------------------------------------
# From protected tables to cells, and the loop of per-table and release protection
# --------------------------------------------------------------------------------------------


def long_grid(counts: pd.DataFrame, total_label: str) -> pd.DataFrame:
    """A two-way table of counts (with its totals) in long form: row, column, ``n``."""
    frame = counts.copy()
    frame.index = frame.index.map(str)
    frame.columns = frame.columns.map(str)
    long = frame.stack(future_stack=True).rename("n").reset_index()
    long.columns = ["row", "column", "n"]
    return long


def frame_cells(
    table: str,
    frame: pd.DataFrame,
    hidden: pd.DataFrame,
    *,
    counts: Sequence[str],
    keys: Sequence[str],
    partitions: Sequence[str],
    total_label: str,
    units: pd.DataFrame | None = None,
) -> tuple[list[Cell], dict[str, int]]:
    """The count cells of a long table, tied to their units (or synthetic when not given)."""
    key_frame = frame[list(keys)].reset_index(drop=True)
    count_frame = frame[list(counts)].reset_index(drop=True).round().astype(int)
    hidden = hidden[list(counts)].reset_index(drop=True)
    if units is not None:
        cells = unit_cells(table, key_frame, count_frame, hidden, units, total_label=total_label)
        return cells, {}
    return synthetic_cells(
        table, key_frame, count_frame, hidden, partitions=partitions, total_label=total_label
    )


def force_frame(
    template: pd.DataFrame,
    keys: Sequence[str],
    cells: Iterable[tuple[str, ...]],
) -> pd.DataFrame:
    """A boolean frame like ``template``: true at the given cell keys (row labels, column)."""
    force = pd.DataFrame(False, index=template.index, columns=template.columns)
    wanted = set(cells)
    if not wanted:
        return force
    labels = template[list(keys)].map(_key_label)
    for i in range(len(template)):
        row = tuple(labels.iloc[i])
        for column in template.columns:
            if (*row, str(column)) in wanted:
                force.iloc[i, template.columns.get_loc(column)] = True
    return force


def _key_label(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and value != value) else str(value)
