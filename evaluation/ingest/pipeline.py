"""The ingest: read, pseudonymise, parse, check, quarantine, reconcile, write a snapshot.

Order of work, so that a file that cannot be read writes nothing (not even the key):

1. read every file (:mod:`.read`) - any unreadable file stops the ingest;
2. load or create the pseudonymisation key (:mod:`.pseudonymise`);
3. per table, in reference order: parse text to typed values and ids to pseudonyms
   (:mod:`.parse`), check the contract with pandera and duplicates (:mod:`.validate`),
   check references to already accepted rows (:mod:`.reconcile`);
4. write the quarantine file and the snapshot (:func:`evaluation.data.write_snapshot`).

The same files give the same snapshot id and the same quarantine file; ingesting them again
changes nothing.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from evaluation import schemas
from evaluation.data import SnapshotInfo, atomic_write_bytes, content_id, write_snapshot
from evaluation.ingest.parse import concat_issues, parse_part
from evaluation.ingest.pseudonymise import (
    PSEUDONYM_LENGTH,
    Pseudonymiser,
    load_or_create_key,
    tokens,
)
from evaluation.ingest.read import RawPart, SourceFile, read_sources
from evaluation.ingest.reconcile import (
    EXACT_IDENTIFIERS,
    NAME_IDENTIFIERS,
    identifier_issues,
    quarantine_frame,
    reconciliation_frame,
    reference_issues,
    skipped_references,
)
from evaluation.ingest.validate import ContractBug, contract_issues, duplicate_issues
from evaluation.paths import Paths
from evaluation.paths import paths as workspace_paths

INGEST_VERSION = 1


@dataclass(frozen=True)
class IngestResult:
    """What an ingest produced.

    Attributes
    ----------
    snapshot
        The snapshot written (``None`` for a dry run).
    reconciliation
        Per table: sources, rows read, accepted, quarantined, blank, balanced.
    quarantine
        Quarantined rows with reasons (values masked), as written to ``quarantine_file``.
    tables
        The accepted tables, as in the snapshot.
    """

    snapshot: SnapshotInfo | None
    reconciliation: pd.DataFrame
    quarantine: pd.DataFrame
    quarantine_file: Path | None
    tables: dict[str, pd.DataFrame]
    sources: list[SourceFile]
    warnings: list[str] = field(default_factory=list)
    skipped_checks: list[str] = field(default_factory=list)
    source: dict[str, object] = field(default_factory=dict)

    @property
    def rows_quarantined(self) -> int:
        return int(self.reconciliation["rows_quarantined"].sum())


@dataclass
class _TableRows:
    """All rows of one table across its parts, parsed, with what was found about them."""

    table: str
    parts: list[RawPart]
    frame: pd.DataFrame
    part_of_row: np.ndarray
    source_row: np.ndarray
    issues: pd.DataFrame
    ok: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def locate(self, rows: Sequence[int]) -> list[str]:
        rows = np.asarray(rows, dtype=np.int64)
        return [
            f"{self.parts[p].label} row {r}"
            for p, r in zip(self.part_of_row[rows], self.source_row[rows], strict=True)
        ]


def ingest(
    paths: Iterable[str | os.PathLike[str]],
    *,
    root: Paths | None = None,
    key_file: Path | None = None,
    write: bool = True,
    ignore_sheets: Iterable[str] = (),
) -> IngestResult:
    """Ingest agency exports into a validated, pseudonymised snapshot.

    Parameters
    ----------
    paths
        Files or folders (searched for CSV and XLSX).
    root
        Workspace paths; the default workspace when omitted.
    key_file
        Pseudonymisation key; default ``$EVALUATION_KEY_FILE`` or
        ``~/.config/evaluation/pseudonym.key`` (created on first use).
    write
        ``False``: check only, write nothing (the key is still created if missing).
    ignore_sheets
        Workbook sheets to leave out (e.g. a sheet of notes).

    Returns
    -------
    IngestResult

    Raises
    ------
    evaluation.ingest.IngestError
        A file cannot be read at all; nothing was written.
    evaluation.ingest.KeyFileError
        The key file is unsafe (readable by others, inside the workspace).
    """
    p = root or workspace_paths()
    files, parts, warnings = read_sources(paths, ignore_sheets=ignore_sheets)
    pseudonymiser = Pseudonymiser(load_or_create_key(key_file, workspace=p.root))
    rows = {
        t: _parse_table(t, [x for x in parts if x.table == t], pseudonymiser)
        for t in _tables_in(parts)
    }
    accepted = _check(rows)
    quarantine = _quarantine(rows)
    counts = {t: _counts(r) for t, r in rows.items()}
    reconciliation = reconciliation_frame(counts)
    if not reconciliation["balanced"].all():
        raise ContractBug(
            f"rows do not add up: {reconciliation[~reconciliation['balanced']].to_dict('records')}"
        )
    snap_id = content_id(accepted)
    q_file = p.quarantine / f"{snap_id}.csv"
    skipped = skipped_references(list(rows))
    source = _manifest_source(
        files, rows, counts, quarantine, q_file, p, skipped, warnings, pseudonymiser
    )
    source["as_of"] = _as_of(accepted)
    info = None
    if write:
        q_file = _write_quarantine(q_file, quarantine, warnings)
        info = write_snapshot(accepted, source=source, root=p)
    return IngestResult(
        info,
        reconciliation,
        quarantine,
        q_file if write else None,
        accepted,
        files,
        warnings,
        skipped,
        source,
    )


def _as_of(accepted: dict[str, pd.DataFrame]) -> str | None:
    """Last day the data covers: the latest date in any date column (capped at today).

    Notebooks use it as the end of observation (e.g. which follow-ups are due yet).
    """
    today = pd.Timestamp.today().normalize()
    latest = [
        frame[column].max()
        for frame in accepted.values()
        for column in frame.columns
        if pd.api.types.is_datetime64_any_dtype(frame[column]) and frame[column].notna().any()
    ]
    latest = [d for d in latest if d <= today]
    return max(latest).date().isoformat() if latest else None


def _tables_in(parts: Sequence[RawPart]) -> list[str]:
    present = {x.table for x in parts}
    return [t for t in schemas.load_order() if t in present]


def _parse_table(table: str, parts: list[RawPart], pseudonymiser: Pseudonymiser) -> _TableRows:
    parsed = [parse_part(x, pseudonymiser) for x in parts]
    offsets = np.cumsum([0] + [len(x.frame) for x in parsed])
    frame = (
        pd.concat([x.frame for x in parsed], ignore_index=True)
        if len(parsed) > 1
        else parsed[0].frame
    )
    issues = concat_issues(
        [
            x.issues.assign(row=x.issues["row"] + off)
            for x, off in zip(parsed, offsets, strict=False)
        ]
    )
    part_of_row = np.repeat(np.arange(len(parts)), [len(x.frame) for x in parsed])
    source_row = (
        np.concatenate([x.source_row for x in parts]) if parts else np.zeros(0, dtype=np.int64)
    )
    return _TableRows(table, parts, frame, part_of_row, source_row, issues)


def _ok(n: int, issues: pd.DataFrame) -> np.ndarray:
    ok = np.ones(n, dtype=bool)
    ok[issues["row"].to_numpy(dtype=np.int64)] = False
    return ok


def _check(rows: dict[str, _TableRows]) -> dict[str, pd.DataFrame]:
    """Run all checks, table by table in reference order; return the accepted tables."""
    parsed = {t: r.frame for t, r in rows.items()}
    known = _known_identifiers(rows)
    accepted: dict[str, pd.DataFrame] = {}
    for table, r in rows.items():
        found = [r.issues, contract_issues(table, r.frame, r.issues)]
        ok = _ok(len(r.frame), concat_issues(found))
        found.append(identifier_issues(table, r.frame, ok, known, _row_names(r)))
        ok = _ok(len(r.frame), concat_issues(found))
        found.append(duplicate_issues(table, r.frame, ok, r.locate))
        ok = _ok(len(r.frame), concat_issues(found))
        found.append(reference_issues(table, r.frame, ok, accepted, parsed))
        r.issues = concat_issues(found)
        r.ok = _ok(len(r.frame), r.issues)
        accepted[table] = _finalise(table, r.frame[r.ok])
    return accepted


def _known_identifiers(rows: dict[str, _TableRows]) -> pd.Index:
    """Raw ids, birth dates, phone numbers and e-mail addresses of the ingest (lower case),
    to be compared with free text; empty when no table has free text."""
    if not any(c.safe_text for t in rows for c in schemas.TABLES[t].columns):
        return pd.Index([])
    values = []
    for table, r in rows.items():
        for part in r.parts:
            values += [
                part.frame[c.name]
                for c in schemas.TABLES[table].columns
                if c.pseudonym and c.name in part.frame
            ]
            values += [
                s
                for h, s in part.identifying.items()
                if schemas.identifying_for_header(h) in EXACT_IDENTIFIERS
            ]
    if not values:
        return pd.Index([])
    folded = pd.concat(values, ignore_index=True).str.strip().str.lower()
    return pd.Index(folded[folded != ""].unique())


def _row_names(r: _TableRows) -> list[frozenset[str]] | None:
    """Per row, the words of its name columns (``None`` when no part has name columns)."""
    if not any(
        schemas.identifying_for_header(h) in NAME_IDENTIFIERS
        for part in r.parts
        for h in part.identifying
    ):
        return None
    out: list[frozenset[str]] = []
    for part in r.parts:
        columns = [
            s.astype(str)
            for h, s in part.identifying.items()
            if schemas.identifying_for_header(h) in NAME_IDENTIFIERS
        ]
        out += (
            [frozenset().union(*(tokens(v) for v in row)) for row in zip(*columns, strict=True)]
            if columns
            else [frozenset()] * len(part.frame)
        )
    return out


def _finalise(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Cast accepted rows to the snapshot dtypes and check their shape (dtypes, columns,
    unique key); their values passed the contract while parsed."""
    spec = schemas.TABLES[table]
    out = frame.reset_index(drop=True).astype({c.name: c.dtype for c in spec.columns})
    try:
        return schemas.validate(table, out, "shape")
    except Exception as exc:
        raise ContractBug(f"{table}: accepted rows fail the final contract ({exc})") from exc


def _quarantine(rows: dict[str, _TableRows]) -> pd.DataFrame:
    entries = []
    identifying: list[pd.Series] = []
    whole: list[pd.Series] = []
    for table, r in rows.items():
        if len(r.issues):
            where = r.issues["row"].to_numpy(dtype=np.int64)
            entries.append(
                r.issues.assign(
                    table=table,
                    source_file=[r.parts[p].label for p in r.part_of_row[where]],
                    source_row=r.source_row[where],
                    source_column=_source_columns(r, where),
                )
            )
        for part in r.parts:
            if len(part.malformed):
                entries.append(
                    pd.DataFrame(
                        {
                            "table": table,
                            "source_file": part.label,
                            "source_row": part.malformed["source_row"],
                            "column": "",
                            "source_column": "",
                            "value": None,
                            "check": "malformed_row",
                            "detail": part.malformed["detail"],
                            "privacy": "mask",
                        }  # fmt: skip
                    )
                )
            identifying.extend(part.identifying.values())
            ids = [
                c.name
                for c in schemas.TABLES[table].columns
                if c.pseudonym and c.name in part.frame
            ]
            whole.extend(part.frame[c] for c in ids)
    if not entries:
        return quarantine_frame(pd.DataFrame(), [], [])
    return quarantine_frame(pd.concat(entries, ignore_index=True), identifying, whole)


def _source_columns(r: _TableRows, where: np.ndarray) -> list[str]:
    given = r.issues["source_column"].tolist()
    out = []
    for g, column, p in zip(given, r.issues["column"], r.part_of_row[where], strict=True):
        if isinstance(g, str) and g:
            out.append(g)
        else:
            headers = r.parts[p].headers
            out.append("+".join(headers.get(c, c) for c in str(column).split("+")))
    return out


def _counts(r: _TableRows) -> dict[str, int]:
    malformed = sum(len(x.malformed) for x in r.parts)
    return {
        "sources": len(r.parts),
        "rows_read": sum(x.rows_read for x in r.parts),
        "rows_accepted": int(r.ok.sum()),
        "rows_quarantined": int((~r.ok).sum()) + malformed,
        "blank_rows": sum(x.blank_rows for x in r.parts),
    }


def _part_counts(r: _TableRows, index: int) -> dict[str, object]:
    part = r.parts[index]
    mine = r.part_of_row == index
    return {
        "sheet": part.sheet,
        "table": r.table,
        "rows_read": part.rows_read,
        "rows_accepted": int((r.ok & mine).sum()),
        "rows_quarantined": int((~r.ok & mine).sum()) + len(part.malformed),
        "blank_rows": part.blank_rows,
        "dropped_identifying_columns": part.dropped_identifying,
        "dropped_unrecognised_columns": part.dropped_unrecognised,
        "missing_optional_columns": part.missing_optional,
    }


def _manifest_source(
    files: list[SourceFile],
    rows: dict[str, _TableRows],
    counts: dict[str, dict[str, int]],
    quarantine: pd.DataFrame,
    q_file: Path,
    p: Paths,
    skipped: list[str],
    warnings: list[str],
    pseudonymiser: Pseudonymiser,
) -> dict[str, object]:
    """The ``source`` block of the snapshot manifest."""
    by_file: dict[str, list[dict[str, object]]] = {f.sha256: [] for f in files}
    for r in rows.values():
        for i, part in enumerate(r.parts):
            by_file[part.source.sha256].append(_part_counts(r, i))
    distinct = quarantine.drop_duplicates(["table", "source_file", "source_row"])
    return {
        "kind": "ingest",
        "ingest_version": INGEST_VERSION,
        "contract_version": schemas.CONTRACT_VERSION,
        "files": [{**f.manifest(), "parts": by_file[f.sha256]} for f in files],
        "reconciliation": counts,
        "quarantine": {
            "file": _relative(q_file, p.root),
            "rows": len(distinct),
            "entries": len(quarantine),
            "by_table": {
                t: int(n) for t, n in distinct["table"].value_counts().sort_index().items()
            },
        },
        "checks_skipped": skipped,
        "warnings": list(warnings),
        "pseudonymisation": {
            "method": f"HMAC-SHA256, first {PSEUDONYM_LENGTH} hex characters",
            "key_fingerprint": pseudonymiser.fingerprint,
        },
    }


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def quarantine_bytes(quarantine: pd.DataFrame) -> bytes:
    """The quarantine as CSV that German Excel opens directly (UTF-8 with BOM, ``;``)."""
    return quarantine.to_csv(sep=";", index=False, lineterminator="\n").encode("utf-8-sig")


def _write_quarantine(target: Path, quarantine: pd.DataFrame, warnings: list[str]) -> Path:
    """Write the quarantine file; never replace a different one of the same snapshot."""
    data = quarantine_bytes(quarantine)
    if target.exists():
        if target.read_bytes() == data:
            return target
        target = target.with_name(f"{target.stem}-{hashlib.sha256(data).hexdigest()[:8]}.csv")
        warnings.append(
            f"the accepted data equal an earlier snapshot, whose manifest is kept; this ingest's quarantine is {target.name}"
        )
        if target.exists() and target.read_bytes() == data:
            return target
    atomic_write_bytes(target, data)
    return target
