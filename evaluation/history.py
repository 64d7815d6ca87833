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
"""


def connect(db: Path | None = None) -> sqlite3.Connection:
    """Open (and create) the history database."""
    path = Path(db) if db is not None else paths().history
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=60, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA busy_timeout=60000")
    con.executescript(_SCHEMA)
    return con


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
    with closing(connect(db)) as con:
        con.execute(
            "INSERT OR REPLACE INTO runs (run_id, run_key, plan, schedule, period, notebook, status, "
            "started_at, ended_at, duration_s, snapshot_id, fingerprint, git_commit, error, manifest) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            row,
        )


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
        return pd.DataFrame(
            columns=[*FIGURE_FIELDS, "run_id", "run_key", "snapshot_id", "recorded_at"]
        )
    with closing(connect(db_path)) as con:
        frame = pd.read_sql_query(sql, con, params=args)
    frame["suppressed"] = frame["suppressed"].astype(bool)
    return frame


def recent_runs(limit: int = 20, *, root: Paths | None = None) -> list[dict[str, Any]]:
    """The most recent runs, newest first, as dictionaries."""
    db = (root or paths()).history
    if not db.exists():
        return []
    with closing(connect(db)) as con:
        con.row_factory = sqlite3.Row
        rows = con.execute(
            "SELECT run_id, run_key, status, started_at, duration_s, snapshot_id, error FROM runs "
            "ORDER BY started_at DESC LIMIT ?",
            (limit,),
        ).fetchall()
    return [dict(r) for r in rows]
