"""The results history: headline figures of every run, over periods.

An embedded SQLite database (``data/history.sqlite``) with two tables:

``runs``
    one row per execution: run id, run key, status, times, data snapshot, fingerprint,
    error, and the full manifest as JSON.
``results``
    one row per figure: indicator id, period, group, value, n, confidence interval,
    suppressed flag, and the run that recorded it. Suppressed figures keep no value and no
    n, so the history never holds a small count.

SQLite is chosen over DuckDB because parallel workers and overlapping scheduled runs write
to it at the same time; SQLite serialises writers safely (WAL mode with a busy timeout).
Re-running a period replaces its figures: a run's figures replace everything the same run
key recorded before, and a figure is unique per (indicator, period, group).

Publishing a run is two-phase (see :mod:`evaluation.execute`): its figures are first
*staged* (table ``staged_results``, read by nobody) and later *activated* by one
transaction that replaces the run key's figures and writes its ``runs`` row together, so
the figures of a run become visible exactly when the run is recorded as published.

A damaged database raises :class:`HistoryError` with one line naming the file.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evaluation.paths import Paths, paths

FIGURE_FIELDS = (
    "indicator_id",
    "period",
    "period_start",
    "period_end",
    "group_var",
    "group_value",
    "value",
    "n",
    "ci_low",
    "ci_high",
    "suppressed",
)
REQUIRED_FIELDS = ("indicator_id", "period", "value")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    run_key TEXT NOT NULL,
    plan TEXT, schedule TEXT, period TEXT, notebook TEXT,
    status TEXT NOT NULL,
    started_at TEXT, ended_at TEXT, duration_s REAL,
    snapshot_id TEXT, fingerprint TEXT, git_commit TEXT,
    error TEXT,
    manifest TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_key ON runs (run_key, started_at);
CREATE TABLE IF NOT EXISTS results (
    indicator_id TEXT NOT NULL,
    period TEXT NOT NULL,
    period_start TEXT, period_end TEXT,
    group_var TEXT NOT NULL DEFAULT '',
    group_value TEXT NOT NULL DEFAULT '',
    value REAL, n INTEGER, ci_low REAL, ci_high REAL,
    suppressed INTEGER NOT NULL DEFAULT 0,
    run_id TEXT NOT NULL,
    run_key TEXT NOT NULL,
    snapshot_id TEXT,
    recorded_at TEXT NOT NULL,
    UNIQUE (indicator_id, period, group_var, group_value)
);
CREATE INDEX IF NOT EXISTS results_by_run_key ON results (run_key);
CREATE TABLE IF NOT EXISTS staged_results (
    indicator_id TEXT NOT NULL,
    period TEXT NOT NULL,
    period_start TEXT, period_end TEXT,
    group_var TEXT NOT NULL DEFAULT '',
    group_value TEXT NOT NULL DEFAULT '',
    value REAL, n INTEGER, ci_low REAL, ci_high REAL,
    suppressed INTEGER NOT NULL DEFAULT 0,
    run_id TEXT NOT NULL,
    run_key TEXT NOT NULL,
    snapshot_id TEXT,
    recorded_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS staged_by_run_id ON staged_results (run_id);
"""
_COLUMNS = (*FIGURE_FIELDS, "run_id", "run_key", "snapshot_id", "recorded_at")


class HistoryError(RuntimeError):
    """The history database cannot be read or written; the message is one line."""


def _damaged(path: Path, exc: BaseException) -> HistoryError:
    return HistoryError(
        f"{path}: the results history is damaged or not an SQLite database ({exc}); "
        "move it aside and restore it from the backup"
    )


def connect(db: Path | None = None) -> sqlite3.Connection:
    """Open (and create) the history database."""
    path = Path(db) if db is not None else paths().history
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(path, timeout=60, isolation_level=None)
    except (OSError, sqlite3.Error) as exc:
        raise HistoryError(f"{path}: cannot open the results history ({exc})") from None
    try:
        con.execute("PRAGMA busy_timeout=60000")
        con.execute("PRAGMA journal_mode=WAL")
        con.executescript(_SCHEMA)
    except sqlite3.OperationalError as exc:
        con.close()
        if "locked" in str(exc) or "busy" in str(exc):
            raise HistoryError(f"{path}: the results history is locked ({exc})") from None
        if "readonly" in str(exc) or "read-only" in str(exc):
            raise HistoryError(f"{path}: the results history is read-only ({exc})") from None
        raise _damaged(path, exc) from None
    except sqlite3.DatabaseError as exc:
        con.close()
        raise _damaged(path, exc) from None
    return con


def check(db: Path | None = None) -> str | None:
    """Return one line saying what is wrong with the history, or ``None`` when it is sound.

    Runs SQLite's ``quick_check``; a missing database is sound (it is created on first use).
    """
    path = Path(db) if db is not None else paths().history
    if not path.exists():
        return None
    try:
        with closing(connect(path)) as con:
            rows = [r[0] for r in con.execute("PRAGMA quick_check").fetchall()]
    except HistoryError as exc:
        return str(exc)
    except sqlite3.DatabaseError as exc:
        return str(_damaged(path, exc))
    if rows != ["ok"]:
        return str(_damaged(path, "; ".join(rows[:3])))
    return None


def _clean(value: Any) -> Any:
    if value is None:
        return None
    if hasattr(value, "item"):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def normalise_figures(figures: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Check and complete figure records; suppressed figures lose value, n and interval."""
    out = []
    for i, fig in enumerate(figures):
        missing = [f for f in REQUIRED_FIELDS if f not in fig]
        unknown = sorted(set(fig) - set(FIGURE_FIELDS))
        if missing or unknown:
            raise ValueError(f"figure {i}: missing {missing} / unknown {unknown} fields")
        rec = {f: _clean(fig.get(f)) for f in FIGURE_FIELDS}
        rec["group_var"] = str(rec["group_var"] or "")
        rec["group_value"] = str(rec["group_value"] if rec["group_value"] is not None else "")
        rec["suppressed"] = int(bool(rec["suppressed"]))
        if rec["suppressed"]:
            rec.update(value=None, n=None, ci_low=None, ci_high=None)
        out.append(rec)
    return out


def commit_figures(
    figures: Sequence[Mapping[str, Any]],
    *,
    run_id: str,
    run_key: str,
    snapshot_id: str | None,
    db: Path | None = None,
) -> int:
    """Replace the figures of ``run_key`` with ``figures`` in one transaction; return the count."""
    records = normalise_figures(figures)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    with closing(connect(db)) as con:
        con.execute("BEGIN IMMEDIATE")
        try:
            con.execute("DELETE FROM results WHERE run_key = ?", (run_key,))
            con.executemany(
                f"INSERT OR REPLACE INTO results ({', '.join(FIGURE_FIELDS)}, run_id, run_key, snapshot_id, recorded_at) "
                f"VALUES ({', '.join('?' * (len(FIGURE_FIELDS) + 4))})",
                [
                    (*(r[f] for f in FIGURE_FIELDS), run_id, run_key, snapshot_id, now)
                    for r in records
                ],
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return len(records)


def record_run(manifest: Mapping[str, Any], *, db: Path | None = None) -> None:
    """Store (or update) a run's manifest in the ``runs`` table."""
    path = Path(db) if db is not None else paths().history
    with closing(connect(path)) as con:
        try:
            _record_run(con, manifest)
        except sqlite3.DatabaseError as exc:
            raise _history_error(path, exc) from None


def _record_run(con: sqlite3.Connection, manifest: Mapping[str, Any]) -> None:
    error = manifest.get("error")
    row = (
        manifest["run_id"],
        manifest["run_key"],
        manifest.get("plan"),
        manifest.get("schedule"),
        manifest.get("period", {}).get("label"),
        manifest.get("notebook", {}).get("path"),
        manifest["status"],
        manifest.get("started_at"),
        manifest.get("ended_at"),
        manifest.get("duration_s"),
        manifest.get("data", {}).get("snapshot_id"),
        manifest.get("fingerprint"),
        (manifest.get("code", {}).get("git") or {}).get("commit"),
        json.dumps(error, ensure_ascii=False) if error else None,
        json.dumps(manifest, ensure_ascii=False, default=str),
    )
    con.execute(
        "INSERT OR REPLACE INTO runs (run_id, run_key, plan, schedule, period, notebook, status, "
        "started_at, ended_at, duration_s, snapshot_id, fingerprint, git_commit, error, manifest) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        row,
    )


def _insert(con: sqlite3.Connection, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
    con.executemany(
        f"INSERT OR REPLACE INTO {table} ({', '.join(_COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(_COLUMNS))})",
        rows,
    )


def stage_figures(
    figures: Sequence[Mapping[str, Any]],
    *,
    run_id: str,
    run_key: str,
    snapshot_id: str | None,
    db: Path | None = None,
) -> int:
    """Stage a run's figures (normalised, suppressed ones without values); nobody reads them.

    They become the run key's figures only with :func:`activate`; :func:`discard_staged`
    drops them. Staging again under the same run id replaces them.
    """
    records = normalise_figures(figures)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    path = Path(db) if db is not None else paths().history
    with closing(connect(path)) as con:
        try:
            con.execute("BEGIN IMMEDIATE")
            try:
                con.execute("DELETE FROM staged_results WHERE run_id = ?", (run_id,))
                _insert(
                    con,
                    "staged_results",
                    [
                        (*(r[f] for f in FIGURE_FIELDS), run_id, run_key, snapshot_id, now)
                        for r in records
                    ],
                )
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        except sqlite3.DatabaseError as exc:
            raise _history_error(path, exc) from None
    return len(records)


def _history_error(path: Path, exc: Exception) -> HistoryError:
    text = str(exc).lower()
    if "full" in text:
        return HistoryError(f"{path}: no space left on device ({exc})")
    if isinstance(exc, sqlite3.OperationalError) and "malformed" not in text:
        return HistoryError(f"{path}: {exc}")
    return _damaged(path, exc)


def activate(manifest: Mapping[str, Any], *, db: Path | None = None) -> bool:
    """Make a staged run's figures the figures of its run key and record the run, atomically.

    In one transaction: the run key's earlier figures are replaced by the run's staged
    figures and the run's row is written to ``runs``. Calling it again for a run that is
    already active changes nothing (so an interrupted publication can simply be repeated).
    Return whether anything changed.
    """
    path = Path(db) if db is not None else paths().history
    run_id, run_key = manifest["run_id"], manifest["run_key"]
    with closing(connect(path)) as con:
        try:
            con.execute("BEGIN IMMEDIATE")
            try:
                done = con.execute(
                    "SELECT 1 FROM runs WHERE run_id = ? AND status = 'ok'", (run_id,)
                ).fetchone()
                if done:
                    con.execute("DELETE FROM staged_results WHERE run_id = ?", (run_id,))
                    con.execute("COMMIT")
                    return False
                con.execute("DELETE FROM results WHERE run_key = ?", (run_key,))
                con.execute(
                    f"INSERT OR REPLACE INTO results ({', '.join(_COLUMNS)}) "
                    f"SELECT {', '.join(_COLUMNS)} FROM staged_results WHERE run_id = ?",
                    (run_id,),
                )
                con.execute("DELETE FROM staged_results WHERE run_id = ?", (run_id,))
                _record_run(con, manifest)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        except sqlite3.DatabaseError as exc:
            raise _history_error(path, exc) from None
    return True


def discard_staged(run_id: str, *, db: Path | None = None) -> None:
    """Drop a run's staged figures (the run failed or was interrupted before publishing)."""
    path = Path(db) if db is not None else paths().history
    if not path.exists():
        return
    with closing(connect(path)) as con:
        try:
            con.execute("DELETE FROM staged_results WHERE run_id = ?", (run_id,))
        except sqlite3.DatabaseError as exc:
            raise _history_error(path, exc) from None


def staged_runs(*, db: Path | None = None) -> dict[str, str]:
    """Run id to run key of staged figures that were neither activated nor discarded."""
    path = Path(db) if db is not None else paths().history
    if not path.exists():
        return {}
    with closing(connect(path)) as con:
        try:
            return dict(con.execute("SELECT DISTINCT run_id, run_key FROM staged_results"))
        except sqlite3.DatabaseError as exc:
            raise _history_error(path, exc) from None


def published_run_ids(*, db: Path | None = None) -> set[str]:
    """Ids of the runs recorded as published (status ok)."""
    path = Path(db) if db is not None else paths().history
    if not path.exists():
        return set()
    with closing(connect(path)) as con:
        try:
            return {r[0] for r in con.execute("SELECT run_id FROM runs WHERE status = 'ok'")}
        except sqlite3.DatabaseError as exc:
            raise _history_error(path, exc) from None


def figures_digest(run_keys: Iterable[str], *, db: Path | None = None) -> str:
    """Hash of the recorded figures of ``run_keys``: values, n, intervals and suppression.

    A plan that reads other plans' figures is fingerprinted on this, so it is re-run when
    a figure it reads, or its suppression, changes (and not when only their runs changed).
    """
    return figures_digests({"": run_keys}, db=db)[""]


def figures_digests(
    groups: Mapping[str, Iterable[str]], *, db: Path | None = None
) -> dict[str, str]:
    """:func:`figures_digest` of several groups of run keys, read in one connection.

    ``{name: run keys}`` -> ``{name: digest}``, each digest equal to
    ``figures_digest(run keys)``; for deciding what is up to date over many runs at once.
    """
    import hashlib

    path = Path(db) if db is not None else paths().history
    wanted = sorted({k for keys in groups.values() for k in keys})
    rows_of: dict[str, list[tuple[Any, ...]]] = {}
    if wanted and path.exists():
        with closing(connect(path)) as con:
            try:
                con.execute("CREATE TEMP TABLE wanted (run_key TEXT PRIMARY KEY)")
                con.executemany("INSERT INTO wanted VALUES (?)", [(k,) for k in wanted])
                rows = con.execute(
                    "SELECT r.run_key, indicator_id, period, group_var, group_value, value, n, "
                    "ci_low, ci_high, suppressed FROM results r JOIN wanted w USING (run_key) "
                    "ORDER BY r.run_key, indicator_id, period, group_var, group_value"
                ).fetchall()
            except sqlite3.DatabaseError as exc:
                raise _history_error(path, exc) from None
        for row in rows:
            rows_of.setdefault(row[0], []).append(row)
    out = {}
    for name, keys in groups.items():
        chosen = sorted(set(keys))
        digest = hashlib.sha256(json.dumps(chosen).encode())
        if chosen and path.exists():
            for key in chosen:
                for row in rows_of.get(key, ()):
                    digest.update(json.dumps(list(row), default=str).encode())
        out[name] = digest.hexdigest()[:24]
    return out


def read(
    indicator: str | Sequence[str] | None = None,
    *,
    group_var: str | None = None,
    group_value: str | None = None,
    period_from: str | None = None,
    period_to: str | None = None,
    db: Path | None = None,
):
    """Read recorded figures over periods as a DataFrame, one row per figure.

    Parameters
    ----------
    indicator
        One indicator id or several; all when omitted.
    group_var, group_value
        Restrict to one grouping (``""`` is the whole population).
    period_from, period_to
        Inclusive bounds on the period's start date (ISO text).
    """
    import pandas as pd

    where, args = [], []
    if indicator is not None:
        ids = [indicator] if isinstance(indicator, str) else list(indicator)
        where.append(f"indicator_id IN ({', '.join('?' * len(ids))})")
        args.extend(ids)
    for column, value in (("group_var", group_var), ("group_value", group_value)):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    if period_from is not None:
        where.append("period_start >= ?")
        args.append(period_from)
    if period_to is not None:
        where.append("period_start <= ?")
        args.append(period_to)
    sql = "SELECT * FROM results" + (f" WHERE {' AND '.join(where)}" if where else "")
    sql += " ORDER BY indicator_id, group_var, group_value, period_start"
    db_path = Path(db) if db is not None else paths().history
    if not db_path.exists():
        return pd.DataFrame(columns=list(_COLUMNS))
    with closing(connect(db_path)) as con:
        try:
            frame = pd.read_sql_query(sql, con, params=args)
        except (sqlite3.DatabaseError, pd.errors.DatabaseError) as exc:
            raise _history_error(db_path, exc) from None
    frame["suppressed"] = frame["suppressed"].astype(bool)
    return frame


def recent_runs(limit: int = 20, *, root: Paths | None = None) -> list[dict[str, Any]]:
    """The most recent runs, newest first, as dictionaries."""
    db = (root or paths()).history
    if not db.exists():
        return []
    with closing(connect(db)) as con:
        con.row_factory = sqlite3.Row
        try:
            rows = con.execute(
                "SELECT run_id, run_key, status, started_at, duration_s, snapshot_id, error "
                "FROM runs ORDER BY started_at DESC LIMIT ?",
                (limit,),
            ).fetchall()
        except sqlite3.DatabaseError as exc:
            raise _history_error(db, exc) from None
    return [dict(r) for r in rows]
