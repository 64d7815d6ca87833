"""Benchmark of Geheimhaltung: the release audit on 50 linked tables, and the demo plan's release.

Usage::

    .venv/bin/python benchmarks/bench_protection.py            # synthetic release of 50 tables
    .venv/bin/python benchmarks/bench_protection.py --store    # also the workspace's release

Part 1 builds a release like a year of reports: ``persons`` units with a project, a target
group, a quarter and an outcome; 50 tables that cut them differently (one- and two-way, with
margins), each protected on its own first (:func:`evaluation.protection.suppress_table`). It
then audits the whole release with :func:`evaluation.protection.solver.protect` and prints the
time, the cells hidden by the tables alone, and the further cells the audit hides.

Part 2 reads ``data/release.sqlite`` after ``make report``: cells shown and hidden (primary:
a sensitive count; secondary: any other hidden count; of those, hidden because of other
tables) and the audit time per table.

Part 3 (``--replay RUN_KEY``, e.g. ``labour_market/quartal/2025-Q1``) replays one run's
release audits on the workspace's store: its tables one after another, each audited with
everything else published (what ``Publisher.release`` does during the run), once with the
audit of before issue #13 (the reference kept in ``tests/test_protection_speed_equivalence``)
and once with the current one in a fresh process state; it prints programmes and CPU seconds
of both and whether every audit gave the same cells to hide and the same findings. Part 4
(``--sequence``) does the same for the synthetic tables of part 1 published one by one.
Results go to ``benchmarks/results/protection.json`` as well.

With ``--current-only`` the replay runs only the package on the path (no reference), and
prints its CPU seconds, programmes and a digest of its decisions: run it alternately with
``PYTHONPATH=<worktree of an older commit>`` and without, to compare two versions of the
audit on the same store (each in its own process, so that nothing kept in memory by one
helps the other). The replay audits each table once, with the cells it was published
with; a run audits more often (a table protected once more is released again), so the
replay underestimates what kept state saves within a table.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from evaluation.paths import paths
from evaluation.protection import solver, suppress_table
from evaluation.protection.model import Cell, Release
from evaluation.protection.release import _connect, _load, long_grid, store_path
from evaluation.protection.solver import audit, protect

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the reference audit lives in the tests

THRESHOLD = 5


def synthetic_release(n_tables: int = 50, persons: int = 1500, seed: int = 1) -> Release:
    rng = np.random.default_rng(seed)
    people = pd.DataFrame(
        {
            "unit": [f"person:{i}" for i in range(persons)],
            "project": rng.choice(["A", "B", "C", "D"], persons, p=[0.5, 0.3, 0.15, 0.05]),
            "group": rng.choice(["g1", "g2", "g3", "g4", "g5"], persons),
            "quarter": rng.choice(["Q1", "Q2", "Q3", "Q4"], persons),
            "outcome": rng.choice(["job", "none", "unknown"], persons, p=[0.4, 0.45, 0.15]),
            "year": rng.choice(["2022", "2023", "2024"], persons),
        }
    )
    dims = ["project", "group", "quarter", "outcome", "year"]
    pairs = list(itertools.combinations(dims, 2)) + [(d, None) for d in dims]
    release = Release()
    for t in range(n_tables):
        row, col = pairs[t % len(pairs)]
        subset = (
            people if t < len(pairs) else people[people["year"] == ["2022", "2023", "2024"][t % 3]]
        )
        if col is None:
            counts = subset[row].value_counts().sort_index().to_frame("n")
        else:
            counts = pd.crosstab(subset[row], subset[col])
        table = suppress_table(counts, threshold=THRESHOLD)
        true = _with_totals(counts)
        true = true.loc[table.values.index, table.values.columns]
        long = long_grid(true, "Gesamt")
        hidden = long_grid(table.mask.astype(int), "Gesamt")["n"].astype(bool).to_numpy()
        for i, r in long.iterrows():
            match = np.ones(len(subset), dtype=bool)
            if r["row"] != "Gesamt":
                match &= subset[row].astype(str).to_numpy() == r["row"]
            if col is not None and r["column"] != "Gesamt":
                match &= subset[col].astype(str).to_numpy() == r["column"]
            release.cells.append(
                Cell(
                    f"t{t}",
                    (r["row"], r["column"]),
                    int(r["n"]),
                    frozenset(subset["unit"].to_numpy()[match]),
                    shown=not hidden[i],
                    total="Gesamt" in (r["row"], r["column"]),
                )
            )
    return release


def _with_totals(counts: pd.DataFrame) -> pd.DataFrame:
    out = counts.copy()
    if out.shape[1] > 1:
        out["Gesamt"] = out.sum(axis=1)
    if out.shape[0] > 1:
        out.loc["Gesamt"] = out.sum(axis=0)
    return out


def part_synthetic() -> None:
    release = synthetic_release()
    release.check()
    shown = sum(c.shown for c in release.cells)
    hidden = len(release.cells) - shown
    began = time.perf_counter()
    before = audit(release, threshold=THRESHOLD)
    t_audit = time.perf_counter() - began
    began = time.perf_counter()
    _, added, final = protect(release, threshold=THRESHOLD, open_for_change=lambda c: True)
    t_protect = time.perf_counter() - began
    print("Synthetic release: 50 tables, 1,500 persons")
    print(f"  cells: {len(release.cells)}, shown {shown}, hidden by per-table protection {hidden}")
    print(
        f"  audit of per-table protection: {len(before.findings)} findings "
        f"({before.programmes} LPs) in {t_audit:.2f} s"
    )
    print(
        f"  release protection: {len(added)} further cells hidden, passes: {final.passed}, "
        f"{t_protect:.2f} s"
    )


def part_store() -> None:
    path = store_path(paths())
    if not path.exists():
        print("No release store yet (run `make report` first).")
        return
    with sqlite3.connect(path) as con:
        cells = pd.read_sql("SELECT * FROM cells WHERE status = 'committed'", con)
        tables = pd.read_sql("SELECT * FROM tables", con)
    hidden = cells[cells["shown"] == 0]
    primary = hidden[(hidden["value"] > 0) & (hidden["value"] < THRESHOLD)]
    print("Release of the workspace (data/release.sqlite)")
    print(f"  tables {cells['tab'].nunique()}, runs {cells['run_id'].nunique()}")
    print(
        f"  cells: shown {int((cells['shown'] == 1).sum())}, hidden {len(hidden)} "
        f"(primary {len(primary)}, secondary {len(hidden) - len(primary)}, of those because of "
        f"other tables {int(tables['release_hidden'].sum())})"
    )
    if len(tables):
        per_run = tables.groupby("run_id")["audit_seconds"].sum()
        print(
            f"  audit time per table: median {tables['audit_seconds'].median():.3f} s, "
            f"max {tables['audit_seconds'].max():.2f} s; per run (release): median "
            f"{per_run.median():.2f} s, max {per_run.max():.2f} s; LPs {int(tables['programmes'].sum())}"
        )


def _replay(
    run: Callable[..., tuple], steps: list[tuple[Release, set[str]]], threshold: int, decision
) -> tuple[int, float, list]:
    """Protect each (release, open tables) with ``run`` from a cold start, one round each,
    as a run does (one process, state kept between the audits): programmes, CPU seconds and
    ``decision(added, final)`` of every step."""
    solver.forget_witnesses()
    programmes = 0
    decisions = []
    began = time.process_time()
    for release, tables in steps:
        _, added, final = run(
            release,
            threshold=threshold,
            open_for_change=lambda c, t=tables: c.table in t,
            max_rounds=1,
        )
        programmes += final.programmes
        decisions.append(decision(added, final))
    return programmes, time.process_time() - began, decisions


def _compare(steps: list[tuple[Release, set[str]]], threshold: int) -> dict[str, object]:
    """Audit each (release, open tables) with the reference and the current audit."""
    from tests.test_protection_speed_equivalence import finding_key, reference_protect

    out: dict[str, object] = {}
    results = {}
    for name, run in (("reference", reference_protect), ("current", protect)):
        programmes, cpu, results[name] = _replay(
            run,
            steps,
            threshold,
            lambda added, final: (
                [(c.table, c.key) for c in added],
                [(c.table, c.key) for c in final.revealed],
                [finding_key(f) for f in final.findings],
            ),
        )
        out[name] = {"programmes": programmes, "cpu_seconds": round(cpu, 2)}
    out["audits"] = len(steps)
    out["same_decisions"] = results["reference"] == results["current"]
    return out


def _print_comparison(title: str, out: dict[str, object]) -> None:
    ref, cur = out["reference"], out["current"]
    print(title)
    print(
        f"  {out['audits']} audits: before {ref['programmes']} LPs, {ref['cpu_seconds']:.2f} s CPU;"
        f" now {cur['programmes']} LPs, {cur['cpu_seconds']:.2f} s CPU "
        f"({ref['cpu_seconds'] / max(cur['cpu_seconds'], 1e-9):.1f}x); "
        f"same decisions: {out['same_decisions']}"
    )


def _current_only(steps: list[tuple[Release, set[str]]], threshold: int) -> dict[str, object]:
    """Audit each (release, open tables) with the package on the path only, from a cold
    start, as a run does (one process, state kept between the audits)."""
    programmes, cpu, decisions = _replay(
        protect,
        steps,
        threshold,
        lambda added, final: (
            [(c.table, c.key) for c in added],
            [(c.table, c.key) for c in final.revealed],
            [(f.kind, f.cell.table, f.cell.key, f.low, f.high) for f in final.findings],
            [f.message() for f in final.findings + final.earlier],
        ),
    )
    digest = hashlib.sha256(repr(decisions).encode()).hexdigest()[:16]
    return {
        "package": str(Path(solver.__file__).parents[1]),
        "audits": len(steps),
        "programmes": programmes,
        "cpu_seconds": round(cpu, 3),
        "decisions": digest,
    }


def part_replay(run_key: str, current_only: bool = False) -> dict[str, object]:
    """The release audits of one run, replayed on the workspace's store."""
    path = store_path(paths())
    with sqlite3.connect(path) as con:
        threshold = 5
        row = con.execute(
            "SELECT r.threshold FROM runs r JOIN cells c ON c.run_id = r.run_id "
            "WHERE c.run_key = ? LIMIT 1",
            (run_key,),
        ).fetchone()
        if row:
            threshold = int(row[0])
        order = [
            r[0]
            for r in con.execute(
                "SELECT tab FROM cells WHERE run_key = ? GROUP BY tab ORDER BY MIN(rowid)",
                (run_key,),
            )
        ]
        runs = {r[0] for r in con.execute("SELECT run_id FROM cells WHERE run_key = ?", (run_key,))}
    if not order:
        raise SystemExit(f"no tables of run key {run_key!r} in {path}")
    with _connect(path) as con:
        everything = _load(con)
        others = _load(con, runs)
    mine = [c for c in everything.cells if c.table in set(order)]
    steps = []
    for i, table in enumerate(order):
        shown_tables = set(order[: i + 1])
        cells = [*others.cells, *[c for c in mine if c.table in shown_tables]]
        steps.append((Release(cells, dict(everything.weights)), {table}))
    if current_only:
        out = _current_only(steps, threshold)
        out["run_key"] = run_key
        print(
            f"Replay of {run_key} ({out['package']}): {out['audits']} audits, "
            f"{out['programmes']} LPs, {out['cpu_seconds']:.2f} s CPU, "
            f"decisions {out['decisions']}"
        )
        return out
    out = _compare(steps, threshold)
    out["run_key"] = run_key
    _print_comparison(
        f"Replay of {run_key}: {len(order)} tables against the workspace's store", out
    )
    return out


def part_sequence() -> dict[str, object]:
    """The synthetic release of part 1, published table by table."""
    release = synthetic_release()
    tables = list(dict.fromkeys(c.table for c in release.cells))
    steps = []
    for i, table in enumerate(tables):
        keep = set(tables[: i + 1])
        steps.append((Release([c for c in release.cells if c.table in keep]), {table}))
    out = _compare(steps, THRESHOLD)
    _print_comparison("Synthetic release published table by table (50 tables)", out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", action="store_true", help="also report the workspace's release")
    parser.add_argument("--replay", metavar="RUN_KEY", help="replay one run's release audits")
    parser.add_argument("--sequence", action="store_true", help="synthetic tables one by one")
    parser.add_argument(
        "--current-only",
        action="store_true",
        help="replay with the package on the path only (compare versions via PYTHONPATH)",
    )
    args = parser.parse_args()
    results: dict[str, object] = {}
    if not args.replay:
        part_synthetic()
    if args.store:
        part_store()
    if args.sequence:
        results["sequence"] = part_sequence()
    if args.replay:
        results["replay"] = part_replay(args.replay, args.current_only)
    if results:
        out = Path(__file__).parent / "results" / "protection.json"
        out.parent.mkdir(parents=True, exist_ok=True)  # not in a fresh clone
        out.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
