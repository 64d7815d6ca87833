"""Versioned data snapshots: how every notebook gets its data.

A snapshot is an immutable folder ``data/snapshots/<id>/`` with one Parquet file per table
and a ``manifest.json`` (sources and their hashes, row counts, the SHA-256 of every Parquet
file, creation time). The id is a
hash of the tables' content, so the same data always has the same id and writing it again
changes nothing. ``data/snapshots/LATEST`` names the newest snapshot; notebooks load
``"latest"`` or a named id, and the run manifest records which id was used. Before a run
uses a snapshot, the runner checks its files against the hashes in its manifest
(:func:`verify_snapshot`), so a damaged file is noticed even when nothing else changed.

The demo generator and the ingest of real exports both write through :func:`write_snapshot`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evaluation.paths import Paths, paths

LATEST = "latest"
ID_LENGTH = 16
MANIFEST = "manifest.json"
#: How tables are written to Parquet (:func:`pyarrow.parquet.write_table`).
PARQUET_OPTIONS: dict[str, Any] = {"compression": "none"}


class SnapshotError(LookupError):
    """A snapshot or table that was asked for does not exist."""


@dataclass(frozen=True)
class SnapshotInfo:
    """What a snapshot is: its id, folder and manifest."""

    id: str
    path: Path
    manifest: dict[str, Any]

    @property
    def tables(self) -> list[str]:
        return sorted(self.manifest.get("tables", {}))

    @property
    def source(self) -> str:
        return str(self.manifest.get("source", {}).get("kind", "unknown"))


#: Version of :func:`content_id`'s definition, hashed into every id and recorded in the
#: manifest. Version 2 hashes the Arrow buffers of the tables (the same conversion that
#: writes the Parquet files); version 1 hashed :func:`pandas.util.hash_pandas_object`.
#: Ids are only ever compared with ids of the same definition (the same data ingested
#: again after the change gets a new id once; nothing recomputes an old snapshot's id).
CONTENT_ID_VERSION = 2


def arrow_tables(tables: Mapping[str, Any]) -> dict[str, Any]:
    """The tables as :class:`pyarrow.Table`, as they are written to Parquet (no index).

    Computed once per snapshot and shared by :func:`content_id` and :func:`write_snapshot`
    (the conversion of a million rows of text costs more than hashing or writing them).
    """
    import pyarrow as pa

    return {name: pa.Table.from_pandas(df, preserve_index=False) for name, df in tables.items()}


def content_id(tables: Mapping[str, Any], *, arrow: Mapping[str, Any] | None = None) -> str:
    """Hash of the tables' names, columns, dtypes and values (not of file bytes).

    The values are hashed from their Arrow form (:func:`arrow_tables`): per column its
    Arrow type, length, which rows are missing, and the buffers of the values present
    (offsets normalised, slices and chunks taken apart), so the id does not depend on
    the Parquet writer, on chunking or on what a missing slot happens to hold.

    Parameters
    ----------
    tables
        Table name to DataFrame.
    arrow
        ``arrow_tables(tables)`` when the caller has it already.
    """
    import pyarrow as pa

    arrow = arrow if arrow is not None else arrow_tables(tables)
    digest = hashlib.sha256(f"content id v{CONTENT_ID_VERSION}".encode())
    for name in sorted(tables):
        df = tables[name]
        digest.update(name.encode())
        digest.update(json.dumps([[str(c), str(t)] for c, t in df.dtypes.items()]).encode())
        table = arrow[name]
        if not isinstance(table, pa.Table) or table.num_rows != len(df):
            raise ValueError(f"{name}: the Arrow table is not the one of the frame")
        digest.update(table.num_rows.to_bytes(8, "little"))
        for column in table.columns:
            _hash_array(digest, column)
    return digest.hexdigest()[:ID_LENGTH]


def _hash_array(digest: Any, values: Any) -> None:
    """Feed one Arrow column into ``digest``: type, length, missing rows, values present."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    kind = arr.type
    digest.update(f"{kind}|{len(arr)}|{arr.null_count}|".encode())
    if pa.types.is_dictionary(kind):
        _hash_array(digest, arr.dictionary)
        _hash_array(digest, arr.indices)
        return
    if arr.null_count:
        if arr.null_count < len(arr):
            valid = pc.is_valid(arr).to_numpy(zero_copy_only=False)
            digest.update(np.packbits(valid).tobytes())
        arr = arr.drop_null()
    if len(arr) == 0 or pa.types.is_null(kind):
        return
    if pa.types.is_boolean(kind):
        digest.update(arr.to_numpy(zero_copy_only=False).tobytes())
        return
    if pa.types.is_string(kind) or pa.types.is_binary(kind):
        arr = arr.cast(pa.large_binary())
        kind = arr.type
    if pa.types.is_large_string(kind) or pa.types.is_large_binary(kind):
        _, offsets_buf, data_buf = arr.buffers()
        offsets = np.frombuffer(offsets_buf, dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
        digest.update((offsets - offsets[0]).tobytes())
        if data_buf is not None:
            digest.update(memoryview(data_buf)[int(offsets[0]) : int(offsets[-1])])
        return
    try:
        width = kind.bit_width // 8
    except ValueError:  # nested or other types: their Python values (not in snapshots now)
        digest.update(repr(arr.to_pylist()).encode())
        return
    data_buf = arr.buffers()[1]
    digest.update(memoryview(data_buf)[arr.offset * width : (arr.offset + len(arr)) * width])


def write_snapshot(
    tables: Mapping[str, Any],
    *,
    source: Mapping[str, Any],
    root: Paths | None = None,
    make_latest: bool = True,
    snapshot_id: str | None = None,
    arrow: Mapping[str, Any] | None = None,
) -> SnapshotInfo:
    """Write ``tables`` as an immutable snapshot and return its info.

    Parameters
    ----------
    tables
        Table name to DataFrame, in the post-ingest form.
    source
        What the data came from, e.g. ``{"kind": "demo", "seed": 1}`` or the ingested files
        with their hashes; stored in the manifest.
    root
        Workspace paths; the default workspace when omitted.
    make_latest
        Point ``LATEST`` at this snapshot.
    snapshot_id
        ``content_id(tables)`` when the caller has computed it already; never anything
        else.
    arrow
        ``arrow_tables(tables)`` when the caller has it already (converting 1M rows to
        Arrow is the larger part of hashing and writing them).

    Notes
    -----
    The folder is written under a temporary name and renamed into place, so a snapshot is
    either complete or absent. A snapshot with the same content id is not written again.
    """
    p = root or paths()
    snap_id = snapshot_id
    if snap_id is None:
        arrow = arrow if arrow is not None else arrow_tables(tables)
        snap_id = content_id(tables, arrow=arrow)
    target = p.snapshots / snap_id
    if not (target / MANIFEST).exists():
        import pyarrow.parquet as pq

        arrow = arrow if arrow is not None else arrow_tables(tables)

        p.snapshots.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{snap_id}-", dir=p.snapshots))
        try:
            for name in tables:
                pq.write_table(arrow[name], staging / f"{name}.parquet", **PARQUET_OPTIONS)
            manifest = {
                "id": snap_id,
                "content_id_version": CONTENT_ID_VERSION,
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "source": dict(source),
                "tables": {
                    name: {
                        "rows": int(len(df)),
                        "columns": [str(c) for c in df.columns],
                        "sha256": _sha256(staging / f"{name}.parquet"),
                    }
                    for name, df in tables.items()
                },
            }
            (staging / MANIFEST).write_text(
                json.dumps(manifest, indent=2, ensure_ascii=False, default=str)
            )
            os.chmod(staging, 0o755)
            try:
                os.rename(staging, target)
            except OSError:  # written meanwhile by another process: theirs is identical
                shutil.rmtree(staging, ignore_errors=True)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    if make_latest:
        atomic_write_text(p.snapshots / "LATEST", snap_id + "\n")
    return snapshot_info(snap_id, root=p)


def resolve(snapshot: str = LATEST, *, root: Paths | None = None) -> str:
    """Return the id a snapshot name stands for (``"latest"`` or an id or its prefix)."""
    p = root or paths()
    if snapshot == LATEST:
        pointer = p.snapshots / "LATEST"
        if not pointer.exists():
            raise SnapshotError(
                f"no data snapshot in {p.snapshots}: run `make demo-data` or "
                "`python -m evaluation ingest FILES` first"
            )
        try:
            named = pointer.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise SnapshotError(f"{pointer}: cannot be read ({exc})") from None
        if not named or not (p.snapshots / named / MANIFEST).exists():
            raise SnapshotError(
                f"{pointer} names snapshot {named!r}, which does not exist in {p.snapshots} "
                f"(there are: {', '.join(_existing(p)) or 'none'}); write the id of an existing "
                "snapshot into it or ingest the data again"
            )
        return named
    if (p.snapshots / snapshot / MANIFEST).exists():
        return snapshot
    matches = [d.name for d in p.snapshots.glob(f"{snapshot}*") if (d / MANIFEST).exists()]
    if len(matches) == 1:
        return matches[0]
    raise SnapshotError(
        f"snapshot {snapshot!r} not found in {p.snapshots} "
        f"(there are: {', '.join(_existing(p)) or 'none'})"
    )


def _existing(p: Paths) -> list[str]:
    if not p.snapshots.is_dir():
        return []
    return sorted(d.name for d in p.snapshots.iterdir() if (d / MANIFEST).exists())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def snapshot_info(snapshot: str = LATEST, *, root: Paths | None = None) -> SnapshotInfo:
    """Return id, folder and manifest of a snapshot."""
    p = root or paths()
    snap_id = resolve(snapshot, root=p)
    folder = p.snapshots / snap_id
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SnapshotError(f"{folder / MANIFEST}: cannot be read ({exc})") from None
    if not isinstance(manifest, dict):
        raise SnapshotError(f"{folder / MANIFEST}: expected a JSON object")
    return SnapshotInfo(snap_id, folder, manifest)


def verify_snapshot(info: SnapshotInfo) -> list[str]:
    """Check every table file of a snapshot against the SHA-256 in its manifest.

    Returns
    -------
    list of str
        Tables whose manifest carries no hash (snapshots written before hashes were
        recorded); they cannot be verified.

    Raises
    ------
    SnapshotError
        A table file is missing or its bytes differ from the manifest's hash; the message
        names the file.
    """
    unverified = []
    for name, entry in sorted(info.manifest.get("tables", {}).items()):
        file = info.path / f"{name}.parquet"
        expected = entry.get("sha256") if isinstance(entry, dict) else None
        if not file.exists():
            raise SnapshotError(f"{file}: missing from snapshot {info.id} (its manifest lists it)")
        if expected is None:
            unverified.append(name)
            continue
        try:
            actual = _sha256(file)
        except OSError as exc:
            raise SnapshotError(f"{file}: cannot be read ({exc.strerror or exc})") from None
        if actual != expected:
            raise SnapshotError(
                f"{file}: damaged – its SHA-256 {actual[:12]}… differs from the manifest's "
                f"{expected[:12]}…; restore the snapshot from the backup or ingest the data again"
            )
    return unverified


def load(table: str, *, snapshot: str = LATEST, root: Paths | None = None):
    """Load one table of a snapshot as a DataFrame.

    Parameters
    ----------
    table
        Table name, e.g. ``"enrolments"``.
    snapshot
        ``"latest"`` (default) or a snapshot id (a unique prefix is enough).
    """
    import pandas as pd

    info = snapshot_info(snapshot, root=root)
    file = info.path / f"{table}.parquet"
    if not file.exists():
        raise SnapshotError(
            f"table {table!r} is not in snapshot {info.id} (it has: {', '.join(info.tables)})"
        )
    return pd.read_parquet(file)


def load_all(*, snapshot: str = LATEST, root: Paths | None = None) -> dict[str, Any]:
    """Load every table of a snapshot."""
    info = snapshot_info(snapshot, root=root)
    return {name: load(name, snapshot=info.id, root=root) for name in info.tables}


def ensure_demo(*, root: Paths | None = None, force: bool = False) -> SnapshotInfo:
    """Create the demo snapshot when no data is there (or always, with ``force``)."""
    p = root or paths()
    if not force and (p.snapshots / "LATEST").exists():
        return snapshot_info(root=p)
    from evaluation import demo

    return write_snapshot(
        demo.generate(),
        source={
            "kind": "demo",
            "seed": demo.SEED,
            "generator": "evaluation.demo",
            "as_of": str(demo.as_of()),
        },
        root=p,
    )


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old or the new file, never a part."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, fsync it, and rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
