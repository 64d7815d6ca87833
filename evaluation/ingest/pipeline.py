"""The ingest: read, pseudonymise, parse, check, quarantine, reconcile, write a snapshot.

Order of work, so that a file that cannot be read writes nothing (not even the key):

1. read every file (:mod:`.read`) through the mapping (:mod:`.mapping`) - any unreadable
   file stops the ingest;
2. find the previous ingest of the workspace; refuse a snapshot that would miss a table
   the plan needs;
3. load the pseudonymisation key, refusing a key other than the previous ingest's unless
   ``new_key`` (:func:`.pseudonymise.resolve_key`); a missing key is created only on the
   very first ingest of a workspace;
4. per table, in reference order: parse text to typed values and ids to pseudonyms
   (:mod:`.parse`), check the contract with pandera and duplicates (:mod:`.validate`),
   free text against all identifying data of the ingest, references to accepted rows
   (also of tables carried over from the previous snapshot) (:mod:`.reconcile`);
5. take the tables not in this ingest unchanged from the previous snapshot; compare each
   new table with its previous version (rows added, removed, changed);
6. write the quarantine file (owner-only, formulas neutralised) and the snapshot
   (:func:`evaluation.data.write_snapshot`).

The same files give the same snapshot id and the same quarantine file; ingesting them again
changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from evaluation import schemas
from evaluation.data import (
    MANIFEST,
    SnapshotInfo,
    arrow_tables,
    content_id,
    snapshot_info,
    write_snapshot,
)
from evaluation.ingest.language import Language, say, speaking
from evaluation.ingest.mapping import Mapping, load_mapping
from evaluation.ingest.parse import concat_issues, parse_part
from evaluation.ingest.pseudonymise import PSEUDONYM_LENGTH, Pseudonymiser, resolve_key
from evaluation.ingest.read import IngestError, RawPart, SourceFile, ignored_reason, read_sources
from evaluation.ingest.reconcile import (
    EXACT_IDENTIFIERS,
    NAME_IDENTIFIERS,
    PHRASE_IDENTIFIERS,
    IngestIdentifiers,
    changes_frame,
    identifier_issues,
    quarantine_frame,
    quarantine_headers,
    reconciliation_frame,
    reference_issues,
    skipped_references,
)
from evaluation.ingest.validate import ContractBug, contract_issues, duplicate_issues
from evaluation.paths import Paths
from evaluation.paths import paths as workspace_paths

INGEST_VERSION = 2
#: Default mapping file of a workspace (used when it exists and no other is given).
MAPPING_FILE = "mapping.yml"


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
    #: Per table: where it comes from (``"ingest"`` or the previous snapshot's id).
    origin: dict[str, str] = field(default_factory=dict)
    #: Per table read: rows added, removed, changed against the previous snapshot.
    changes: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: Source columns per file and sheet: used (header -> column) and ignored (with why).
    columns: list[dict[str, object]] = field(default_factory=list)
    #: The key file, when this ingest created it (it must be backed up).
    key_created: Path | None = None
    previous: str | None = None

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
            f"{self.parts[p].label} " + say(f"Zeile {r}", f"row {r}")
            for p, r in zip(self.part_of_row[rows], self.source_row[rows], strict=True)
        ]


def ingest(
    paths: Iterable[str | os.PathLike[str]],
    *,
    root: Paths | None = None,
    key_file: Path | None = None,
    write: bool = True,
    ignore_sheets: Iterable[str] = (),
    mapping: Mapping | str | os.PathLike[str] | None = None,
    new_key: bool = False,
    language: Language = "de",
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
        ``~/.config/evaluation/pseudonym.key``. Created only on the very first ingest of
        a workspace (or with ``new_key``).
    write
        ``False``: check only, write nothing (a missing key is still created on the first
        ingest).
    ignore_sheets
        Workbook sheets to leave out (e.g. a sheet of notes).
    mapping
        A :class:`~evaluation.ingest.mapping.Mapping` or the path of a mapping file;
        default ``data/mapping.yml`` of the workspace if it exists.
    new_key
        Accept a key other than the one of the previous ingests (or create a missing
        one); tables of earlier snapshots are then not carried over.
    language
        Language of reasons, warnings and errors (``"de"`` or ``"en"``).

    Returns
    -------
    IngestResult

    Raises
    ------
    evaluation.ingest.IngestError
        A file cannot be read at all, or the snapshot would miss a table the plan needs;
        nothing was written.
    evaluation.ingest.KeyFileError
        The key file is unsafe, missing after earlier ingests, or a different key.
    evaluation.ingest.mapping.MappingError
        The mapping file is not valid.
    """
    with speaking(language), arrow_memory_pool():
        return _ingest(
            paths, root or workspace_paths(), key_file, write, ignore_sheets, mapping, new_key
        )


#: Arrow allocator during an ingest (``None``: keep Arrow's default). The C library's
#: allocator took 0.7-1.0 CPU s less per million rows than Arrow's default (mimalloc) on
#: the 2-core build machine, almost all of it kernel time (mimalloc gives freed memory back
#: and faults it in again); the values are the same whichever allocator holds them.
ARROW_POOL: str | None = "system"


@contextmanager
def arrow_memory_pool() -> Iterator[None]:
    """Allocate Arrow memory from :data:`ARROW_POOL` while the block runs, then restore
    the previous default (buffers made meanwhile stay valid: each keeps its pool)."""
    import pyarrow as pa

    if ARROW_POOL is None:
        yield
        return
    try:
        pool = getattr(pa, f"{ARROW_POOL}_memory_pool")()
    except (AttributeError, NotImplementedError):  # an allocator this build lacks
        yield
        return
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pool)
    try:
        yield
    finally:
        pa.set_memory_pool(previous)


def _mapping_for(p: Paths, mapping: Mapping | str | os.PathLike[str] | None) -> Mapping:
    if isinstance(mapping, Mapping):
        return mapping
    if mapping is not None:
        return load_mapping(mapping)
    default = p.data / MAPPING_FILE
    return load_mapping(default) if default.exists() else Mapping()


def _ingest(
    paths: Iterable[str | os.PathLike[str]],
    p: Paths,
    key_file: Path | None,
    write: bool,
    ignore_sheets: Iterable[str],
    mapping_given: Mapping | str | os.PathLike[str] | None,
    new_key: bool,
) -> IngestResult:
    mapping = _mapping_for(p, mapping_given)
    files, parts, warnings = read_sources(paths, ignore_sheets=ignore_sheets, mapping=mapping)
    if not parts:
        raise IngestError(
            say(
                "keine Tabelle in den Dateien (alle ausgelassen)",
                "no table in the files (all left out)",
            )
        )
    previous = previous_ingest(p)
    previous_fp = _fingerprint(previous)
    present = _tables_in(parts)
    carry = previous is not None and not new_key
    available = set(present) | (set(previous.tables) if carry and previous else set())
    _check_plan_needs(p, available, present, previous if carry else None)
    key, created = resolve_key(key_file, workspace=p.root, previous=previous_fp, new_key=new_key)
    pseudonymiser = Pseudonymiser(key)
    carry = carry and previous_fp == pseudonymiser.fingerprint
    rows = {t: _parse_table(t, [x for x in parts if x.table == t], pseudonymiser) for t in present}
    carried = _carried_tables(previous, present) if carry and previous else {}
    accepted = _check(rows, carried)
    quarantine = _quarantine(rows)
    counts = {t: _counts(r) for t, r in rows.items()}
    reconciliation = reconciliation_frame(counts)
    if not reconciliation["balanced"].all():
        raise ContractBug(
            f"rows do not add up: {reconciliation[~reconciliation['balanced']].to_dict('records')}"
        )
    tables = {t: (accepted[t] if t in accepted else carried[t]) for t in schemas.load_order()
              if t in accepted or t in carried}  # fmt: skip
    origin = {t: ("ingest" if t in accepted else previous.id) for t in tables}  # type: ignore[union-attr]
    changes = _changes(previous if carry else None, accepted)
    if previous is not None and not carry and new_key:
        warnings.append(say(
            f"neuer Schlüssel (--new-key): Tabellen des vorigen Schnappschusses {previous.id} werden nicht übernommen; alle Pseudonyme sind neu",
            f"new key (--new-key): tables of the previous snapshot {previous.id} are not carried over; all pseudonyms are new"))  # fmt: skip
    arrow = arrow_tables(tables)  # once: for the content id and the Parquet files
    snap_id = content_id(tables, arrow=arrow)
    q_file = p.quarantine / f"{snap_id}.csv"
    skipped = skipped_references([t for t in tables])
    columns = _column_accounts(rows)
    source = _manifest_source(
        files, rows, counts, quarantine, q_file, p, skipped, warnings, pseudonymiser
    )
    source["as_of"] = _as_of(tables)
    source["tables"] = origin
    source["previous_snapshot"] = previous.id if previous is not None else None
    source["changes"] = changes.to_dict("records")
    source["mapping"] = _relative(mapping.path, p.root) if mapping.path is not None else None
    source["demo_exports"] = _demo_only(files, p)
    info = None
    if write:
        q_file = _write_quarantine(q_file, quarantine, warnings)
        info = write_snapshot(tables, source=source, root=p, snapshot_id=snap_id, arrow=arrow)
    return IngestResult(
        info,
        reconciliation,
        quarantine,
        q_file if write else None,
        tables,
        files,
        warnings,
        skipped,
        source,
        origin,
        changes,
        columns,
        created,
        previous.id if previous is not None else None,
    )


def previous_ingest(p: Paths) -> SnapshotInfo | None:
    """The snapshot of the workspace's latest ingest (``None``: there was none yet).

    ``LATEST`` when it was made by ingest, else the newest snapshot made by ingest. The demo
    snapshot and ingests of the demo exports (``data/raw/demo/``) do not count.
    """
    try:
        latest = snapshot_info(root=p)
    except LookupError:
        latest = None
    if latest is not None and latest.source == "ingest" and not _is_demo(latest.manifest, p):
        return latest
    found: list[tuple[str, str]] = []
    for manifest in p.snapshots.glob(f"*/{MANIFEST}") if p.snapshots.exists() else []:
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if data.get("source", {}).get("kind") == "ingest" and not _is_demo(data, p):
            found.append((str(data.get("created_at", "")), manifest.parent.name))
    return snapshot_info(max(found)[1], root=p) if found else None


def _is_demo(manifest: dict, p: Paths) -> bool:
    """The snapshot is an ingest of the demo exports (also for manifests written before
    ``demo_exports`` was recorded: all its files were in ``data/raw/demo/``)."""
    source = manifest.get("source", {})
    if "demo_exports" in source:
        return bool(source["demo_exports"])
    demo = (p.raw / "demo").resolve()
    files = [Path(str(f.get("path", ""))) for f in source.get("files", [])]
    return bool(files) and all(f.resolve().is_relative_to(demo) for f in files)


def _demo_only(files: Sequence[SourceFile], p: Paths) -> bool:
    """All files are the demo exports (``data/raw/demo/``): such a snapshot is never the
    previous ingest of real data (no tables carried over, its key binds nothing)."""
    demo = (p.raw / "demo").resolve()
    return bool(files) and all(f.path.resolve().is_relative_to(demo) for f in files)


def _fingerprint(info: SnapshotInfo | None) -> str | None:
    if info is None:
        return None
    return info.manifest.get("source", {}).get("pseudonymisation", {}).get("key_fingerprint")


def plan_needs(p: Paths) -> set[str]:
    """Tables the workspace's plan needs: every table of the contract when there is a plan
    (``params/*.yml``), none in a workspace without one."""
    return set(schemas.TABLES) if p.params.is_dir() and any(p.params.glob("*.yml")) else set()


def _check_plan_needs(
    p: Paths, available: set[str], present: list[str], previous: SnapshotInfo | None
) -> None:
    missing = [t for t in schemas.load_order() if t in plan_needs(p) - available]
    if not missing:
        return
    names = ", ".join(f"{t} ({schemas.TABLES[t].de})" for t in missing)
    where = (
        say(f"weder in diesem Import noch im vorigen Schnappschuss {previous.id}", f"neither in this ingest nor in the previous snapshot {previous.id}")
        if previous is not None
        else say("nicht in diesem Import, und es gibt keinen früheren Import", "not in this ingest, and there is no earlier ingest")
    )  # fmt: skip
    raise IngestError(say(
        f"der Schnappschuss wäre unvollständig: der Plan (params/) braucht {names}, {where}; alle Exporte zusammen einlesen (nichts geschrieben)",
        f"the snapshot would be incomplete: the plan (params/) needs {names}, {where}; ingest all exports together (nothing written)"))  # fmt: skip


def _carried_tables(previous: SnapshotInfo, present: Sequence[str]) -> dict[str, pd.DataFrame]:
    return {
        t: pd.read_parquet(previous.path / f"{t}.parquet")
        for t in previous.tables
        if t not in present and t in schemas.TABLES
    }


def _changes(previous: SnapshotInfo | None, accepted: dict[str, pd.DataFrame]) -> pd.DataFrame:
    frames = {}
    for t, new in accepted.items():
        old = None
        if previous is not None and t in previous.tables:
            old = pd.read_parquet(previous.path / f"{t}.parquet")
        frames[t] = (old, new)
    return changes_frame(frames)


def _column_accounts(rows: dict[str, _TableRows]) -> list[dict[str, object]]:
    """Per file and sheet: its rows (read = accepted + quarantined; blank, skipped and
    title rows apart) and its source columns, used or not taken with the reason."""
    out = []
    for r in rows.values():
        for i, part in enumerate(r.parts):
            counts = _part_counts(r, i)
            out.append({
                "source": part.label,
                "table": r.table,
                "rows_read": counts["rows_read"],
                "rows_accepted": counts["rows_accepted"],
                "rows_quarantined": counts["rows_quarantined"],
                "blank_rows": counts["blank_rows"],
                "used": {h: c for c, h in part.headers.items() if c in schemas.TABLES[r.table].names},
                "ignored": {h: ignored_reason(why) for h, why in part.ignored},
                "missing_optional": list(part.missing_optional),
                "title_rows": part.title_rows,
                "skipped_rows": part.skipped_rows,
            })  # fmt: skip
    return out


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


def _check(
    rows: dict[str, _TableRows], carried: dict[str, pd.DataFrame] | None = None
) -> dict[str, pd.DataFrame]:
    """Run all checks, table by table in reference order; return the accepted tables.

    References to a table not in this ingest are checked against ``carried`` (the tables
    taken over from the previous snapshot).
    """
    carried = carried or {}
    parsed = {**carried, **{t: r.frame for t, r in rows.items()}}
    known = _known_identifiers(rows)
    accepted: dict[str, pd.DataFrame] = dict(carried)
    for table, r in rows.items():
        found = [r.issues, contract_issues(table, r.frame, r.issues)]
        ok = _ok(len(r.frame), concat_issues(found))
        found.append(identifier_issues(table, r.frame, ok, known))
        ok = _ok(len(r.frame), concat_issues(found))
        found.append(duplicate_issues(table, r.frame, ok, r.locate))
        ok = _ok(len(r.frame), concat_issues(found))
        found.append(reference_issues(table, r.frame, ok, accepted, parsed))
        r.issues = concat_issues(found)
        r.ok = _ok(len(r.frame), r.issues)
        accepted[table] = _finalise(table, r.frame if r.ok.all() else r.frame[r.ok])
    return {t: accepted[t] for t in rows}


def _known_identifiers(rows: dict[str, _TableRows]) -> IngestIdentifiers:
    """Identifying data of the whole ingest, to be compared with every free-text value:
    raw ids, birth dates, phone numbers and e-mail addresses (whole values), the words of
    every name, and streets and e-mail addresses (looked for inside free text)."""
    if not any(c.name in part.frame for r in rows.values() for part in r.parts
               for c in schemas.TABLES[r.table].columns if c.safe_text):  # fmt: skip
        return IngestIdentifiers()  # no free text to compare
    exact: list[pd.Series] = []
    names: list[pd.Series] = []
    phrases: list[pd.Series] = []
    for table, r in rows.items():
        for part in r.parts:
            exact += [
                part.frame[c.name]
                for c in schemas.TABLES[table].columns
                if c.pseudonym and c.name in part.frame
            ]
            for header, values in part.identifying.items():
                kind = part.rule.target(header) if part.rule is not None else None
                kind = kind or schemas.identifying_for_header(header)
                if kind in EXACT_IDENTIFIERS:
                    exact.append(values)
                if kind in NAME_IDENTIFIERS:
                    names.append(values)
                if kind in PHRASE_IDENTIFIERS:
                    phrases.append(values)
    return IngestIdentifiers(
        exact=frozenset(_folded(exact)),
        words=frozenset(_words(names)),
        phrases=tuple(p for p in _folded(phrases, strip_numbers=True) if len(p) >= 5),
    )


def _folded(values: list[pd.Series], *, strip_numbers: bool = False) -> set[str]:
    if not values:
        return set()
    distinct = pd.Series(pd.concat(values, ignore_index=True).dropna().unique())
    folded = distinct.astype(object).astype(str).str.strip().str.lower()
    if strip_numbers:
        folded = folded.str.replace(r"\s*\d+\s*[a-z]?\s*$", "", regex=True).str.strip()
    return set(folded[folded != ""].unique())


def _words(values: list[pd.Series]) -> set[str]:
    if not values:
        return set()
    joined = pd.Series(pd.concat(values, ignore_index=True).dropna().unique())
    joined = joined.astype(object).astype(str).str.lower()
    words = joined.str.findall(r"\w*[^\W\d_]\w*").explode().dropna()
    return set(words[words.str.len() >= 3].unique())


def _finalise(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Cast accepted rows to the snapshot dtypes and check their shape with pandera
    (dtypes, columns, their order, nothing else).

    Their values were checked on these very rows before: the contract of the parsed stage
    (required values present, codes, ranges, row rules) and :func:`.validate.duplicate_issues`
    (the key unique among the rows still accepted; later checks only take rows away), so
    pandera's data checks are not run a second time over every row.
    """
    from pandera.config import ValidationDepth, config_context

    spec = schemas.TABLES[table]
    out = frame.set_axis(pd.RangeIndex(len(frame)), axis=0, copy=False)  # rows 0..n-1
    cast = {c.name: c.dtype for c in spec.columns if out[c.name].dtype != c.dtype}
    out = out.astype(cast) if cast else out
    try:
        with config_context(validation_depth=ValidationDepth.SCHEMA_ONLY):
            # inplace: the schema coerces nothing, so pandera need not copy the frame
            return schemas.pandera_schema(table, "shape").validate(out, lazy=True, inplace=True)
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
        "columns": _column_accounts(rows),
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
    """The quarantine as CSV that German Excel opens directly (UTF-8 with BOM, ``;``).

    Headers are in the current language; cells that Excel would run as a formula are
    neutralised (:func:`evaluation.ingest.reconcile.neutralise`); empty values stay empty.
    """
    out = quarantine.rename(columns=quarantine_headers())
    text = out.to_csv(sep=";", index=False, lineterminator="\n", na_rep="")
    return text.encode("utf-8-sig")


def _write_quarantine(target: Path, quarantine: pd.DataFrame, warnings: list[str]) -> Path:
    """Write the quarantine file owner-only (0600, folder 0700); never replace a different
    one of the same snapshot."""
    data = quarantine_bytes(quarantine)
    if target.exists():
        if target.read_bytes() == data:
            return target
        target = target.with_name(f"{target.stem}-{hashlib.sha256(data).hexdigest()[:8]}.csv")
        warnings.append(say(
            f"die angenommenen Daten gleichen einem früheren Schnappschuss, dessen Manifest bleibt; die Rückstellungen dieses Imports stehen in {target.name}",
            f"the accepted data equal an earlier snapshot, whose manifest is kept; this ingest's quarantine is {target.name}"))  # fmt: skip
        if target.exists() and target.read_bytes() == data:
            return target
    _private_write(target, data)
    return target


def _private_write(path: Path, data: bytes) -> None:
    """Write ``data`` atomically, readable by the owner only, in an owner-only folder."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True)
    os.chmod(path.parent, 0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
