"""Data-quality figures for the data-quality notebook.

All functions return tidy DataFrames (one row per table, column or month) and take either
tables (``{name: DataFrame}``, e.g. from :func:`evaluation.data.load_all`) or a snapshot
name (``"latest"`` or an id), so the notebook shows the same figures for demo and real
data:

* :func:`completeness` - filled share per field;
* :func:`reconciliation` - rows read, accepted, quarantined per table (from the manifest);
* :func:`load_quarantine`, :func:`quarantine_summary` - what was quarantined and why;
* :func:`rows_per_month` - rows per month per table (by the table's date column);
* :func:`duplicates_found` - duplicates quarantined, and identical rows kept in tables
  without a key;
* :func:`changes_since_previous` - row counts and new/removed keys against the previous
  snapshot.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import pandas as pd

from evaluation import schemas
from evaluation.data import LATEST, MANIFEST, load_all, snapshot_info
from evaluation.ingest.reconcile import (
    QUARANTINE_COLUMNS,
    QUARANTINE_HEADERS,
    RECONCILIATION_COLUMNS,
)
from evaluation.labels import Language
from evaluation.paths import Paths, paths

_DUPLICATE_CHECKS = ("exact_duplicate", "duplicate_key")


def completeness(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Per table and column: rows, filled values and the filled share (0-1)."""
    rows = []
    for name, df in tables.items():
        spec = schemas.TABLES.get(name)
        for column in df.columns:
            filled = int(df[column].notna().sum())
            required = spec.column(column).required if spec and column in spec.names else None
            rows.append({"table": name, "column": column, "required": required, "rows": len(df), "filled": filled,
                         "share_filled": filled / len(df) if len(df) else float("nan")})  # fmt: skip
    return pd.DataFrame(
        rows, columns=["table", "column", "required", "rows", "filled", "share_filled"]
    )


def reconciliation(snapshot: str = LATEST, *, root: Paths | None = None) -> pd.DataFrame:
    """Rows read = accepted + quarantined, per table, as recorded in the manifest.

    Empty for snapshots not made by ingest (the demo snapshot).
    """
    info = snapshot_info(snapshot, root=root)
    counts = info.manifest.get("source", {}).get("reconciliation", {})
    rows = [
        {"table": t, **c, "balanced": c["rows_read"] == c["rows_accepted"] + c["rows_quarantined"]}
        for t, c in counts.items()
    ]
    return pd.DataFrame(rows, columns=RECONCILIATION_COLUMNS)


def load_quarantine(snapshot: str = LATEST, *, root: Paths | None = None) -> pd.DataFrame:
    """The quarantine of a snapshot (empty when the snapshot was not made by ingest)."""
    p = root or paths()
    info = snapshot_info(snapshot, root=p)
    recorded = info.manifest.get("source", {}).get("quarantine", {}).get("file")
    file = p.root / recorded if recorded else p.quarantine / f"{info.id}.csv"
    if not file.exists():
        return pd.DataFrame(
            {
                c: pd.Series([], dtype="int64" if c == "source_row" else object)
                for c in QUARANTINE_COLUMNS
            }
        )
    out = pd.read_csv(file, sep=";", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    back = {h: c for c, pair in QUARANTINE_HEADERS.items() for h in pair}
    return out.rename(columns=back).astype({"source_row": "int64"})


def quarantine_summary(quarantine: pd.DataFrame, language: Language = "de") -> pd.DataFrame:
    """Quarantined rows per table, check and column, with the reason in ``language``."""
    columns = ["table", "check", "reason", "column", "rows", "entries"]
    if quarantine.empty:
        return pd.DataFrame(columns=columns)
    where = quarantine["source_file"].astype(str) + "#" + quarantine["source_row"].astype(str)
    grouped = quarantine.assign(where=where).groupby(["table", "check", "column"], sort=True)
    out = grouped.agg(rows=("where", "nunique"), entries=("where", "size")).reset_index()
    out["reason"] = [schemas.check_label(c, language) for c in out["check"]]
    return (
        out[columns]
        .sort_values(["table", "rows"], ascending=[True, False], kind="stable")
        .reset_index(drop=True)
    )


def rows_per_month(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Rows per calendar month of each table's date column (tables without one left out)."""
    parts = []
    for name, df in tables.items():
        spec = schemas.TABLES.get(name)
        if spec is None or spec.date_column is None or spec.date_column not in df:
            continue
        months = df[spec.date_column].dropna().dt.to_period("M").dt.to_timestamp()
        counts = months.value_counts().sort_index()
        parts.append(
            pd.DataFrame({"table": name, "month": counts.index, "rows": counts.to_numpy()})
        )
    if not parts:
        return pd.DataFrame(
            {"table": [], "month": pd.Series([], dtype="datetime64[ns]"), "rows": []}
        )
    return pd.concat(parts, ignore_index=True)


def duplicates_found(
    quarantine: pd.DataFrame, tables: Mapping[str, pd.DataFrame] | None = None
) -> pd.DataFrame:
    """Duplicates per table: quarantined exact copies and id clashes, and identical rows
    kept in tables without a key (they may be real, e.g. two equal volunteer assignments).
    """
    names = sorted(set(quarantine["table"]) | set(tables or {}))
    rows = []
    for name in names:
        q = quarantine[quarantine["table"] == name]
        kept = 0
        if tables is not None and name in tables and not schemas.TABLES[name].key:
            kept = int(tables[name].duplicated().sum())
        rows.append({"table": name,
                     "exact_duplicates_quarantined": int((q["check"] == "exact_duplicate").sum()),
                     "duplicate_ids_quarantined": int((q["check"] == "duplicate_key").sum()),
                     "identical_rows_kept": kept})  # fmt: skip
    return pd.DataFrame(
        rows,
        columns=[
            "table",
            "exact_duplicates_quarantined",
            "duplicate_ids_quarantined",
            "identical_rows_kept",
        ],
    )


def list_snapshots(*, root: Paths | None = None) -> pd.DataFrame:
    """All snapshots, oldest first: id, creation time, kind, tables and rows.

    ``created_at`` has whole seconds; snapshots of the same second are ordered by the time
    their manifest was written.
    """
    p = root or paths()
    rows = []
    for manifest in p.snapshots.glob(f"*/{MANIFEST}"):
        m = json.loads(manifest.read_text())
        rows.append({"id": m["id"], "created_at": m.get("created_at"), "kind": m.get("source", {}).get("kind"),
                     "tables": len(m.get("tables", {})), "rows": sum(t["rows"] for t in m.get("tables", {}).values()),
                     "written": manifest.stat().st_mtime_ns})  # fmt: skip
    out = pd.DataFrame(rows, columns=["id", "created_at", "kind", "tables", "rows", "written"])
    out = out.sort_values(["created_at", "written", "id"], kind="stable").reset_index(drop=True)
    return out.drop(columns="written")


def previous_snapshot(snapshot: str = LATEST, *, root: Paths | None = None) -> str | None:
    """Id of the snapshot created before ``snapshot`` (``None`` if it is the first)."""
    current = snapshot_info(snapshot, root=root).id
    ids = list(list_snapshots(root=root)["id"])
    position = ids.index(current)
    return ids[position - 1] if position > 0 else None


def _keys(df: pd.DataFrame, key: tuple[str, ...]) -> pd.Index:
    return pd.MultiIndex.from_frame(df[list(key)]) if len(key) > 1 else pd.Index(df[key[0]])


def _fingerprint(manifest: dict) -> str | None:
    return manifest.get("source", {}).get("pseudonymisation", {}).get("key_fingerprint")


def changes_since_previous(
    snapshot: str = LATEST, *, previous: str | None = None, root: Paths | None = None
) -> pd.DataFrame:
    """Row counts and new and removed keys per table against the previous snapshot.

    Parameters
    ----------
    snapshot
        The snapshot to describe (default: latest).
    previous
        The snapshot to compare with (default: the one created before ``snapshot``).
    """
    columns = [
        "table",
        "rows_before",
        "rows_after",
        "row_change",
        "new_keys",
        "removed_keys",
        "note",
    ]
    after_info = snapshot_info(snapshot, root=root)
    previous = previous or previous_snapshot(after_info.id, root=root)
    after = load_all(snapshot=after_info.id, root=root)
    if previous is None:
        rows = [{"table": t, "rows_before": None, "rows_after": len(df), "row_change": None, "new_keys": None,
                 "removed_keys": None, "note": "first snapshot"} for t, df in after.items()]  # fmt: skip
        return pd.DataFrame(rows, columns=columns)
    before_info = snapshot_info(previous, root=root)
    before = load_all(snapshot=before_info.id, root=root)
    comparable = _fingerprint(after_info.manifest) == _fingerprint(before_info.manifest)
    rows = []
    for name in sorted(set(before) | set(after)):
        b, a = before.get(name), after.get(name)
        row = {"table": name, "rows_before": None if b is None else len(b), "rows_after": None if a is None else len(a),
               "row_change": None, "new_keys": None, "removed_keys": None, "note": ""}  # fmt: skip
        if b is None or a is None:
            row["note"] = "new table" if b is None else "table removed"
        else:
            row["row_change"] = len(a) - len(b)
            key = schemas.TABLES[name].key if name in schemas.TABLES else ()
            if not key:
                row["note"] = "no key: rows only"
            elif not comparable:
                row["note"] = "pseudonymisation key or id scheme differs: keys not comparable"
            else:
                kb, ka = _keys(b, key), _keys(a, key)
                row["new_keys"], row["removed_keys"] = (
                    len(ka.difference(kb)),
                    len(kb.difference(ka)),
                )
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)
