"""Reading exports as agencies really have them, cell by cell as text.

Supported sources:

* CSV as German Excel writes it (``;``, decimal comma, ``TT.MM.JJJJ``, cp1252 or UTF-8
  with BOM), CSV with ``,`` and English number format, UTF-16 "Unicode text" (tab);
* XLSX workbooks with one sheet per table;
* the City of Cologne's open-data CSV in long format (UTF-8, ``;``) for ``sozialraum``.

Which table a file or sheet holds is told by its headers (German, English or the column
names of the contract), with the file or sheet name as tie-breaker. Every cell is kept as
text here; :mod:`evaluation.ingest.parse` turns text into typed values, so that nothing is
lost or silently converted while reading.

Records are numbered as a spreadsheet numbers its rows (the header is row 1), so a
quarantined row can be found in the raw file. Rows with the wrong number of fields are
kept as *malformed* (they go to quarantine); rows with no content at all are counted as
blank and skipped.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from evaluation import schemas

Locale = Literal["de", "en"]
CSV_SUFFIXES = {".csv", ".txt", ".tsv"}
XLSX_SUFFIXES = {".xlsx", ".xlsm"}
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"
_DELIMITERS = (";", "\t", ",")
#: Raw cells are kept as Arrow-backed strings: vectorised string operations, little memory.
TEXT = "string[pyarrow]"
#: What Python's ``str.strip()`` removes, so that Arrow and Python agree on blank cells.
WHITESPACE = "".join(ch for ch in map(chr, range(0x3001)) if ch.isspace())


class IngestError(Exception):
    """A source that cannot be read at all; the message is one line naming file and reason."""


@dataclass(frozen=True)
class SourceFile:
    """One input file: where it is, its hash and how it was decoded."""

    path: Path
    name: str
    sha256: str
    size: int
    format: Literal["csv", "xlsx"]
    encoding: str | None = None
    delimiter: str | None = None

    def manifest(self) -> dict[str, object]:
        return {
            "name": self.name,
            "path": str(self.path),
            "sha256": self.sha256,
            "bytes": self.size,
            "format": self.format,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
        }


@dataclass
class RawPart:
    """The rows of one table from one file or sheet, every cell as text.

    Attributes
    ----------
    frame
        Contract columns present in the source (plus ``birth_date`` where a column is
        derived from it), RangeIndex; cells are ``str``.
    identifying
        Identifying columns (names, addresses, ...) by their header; only kept to mask
        quarantine values and dropped after ingest.
    source_row
        Spreadsheet row number of each row of ``frame``.
    headers
        Column name -> header as written in the source.
    malformed
        Rows with the wrong number of fields: ``source_row`` and ``detail``.
    """

    source: SourceFile
    sheet: str | None
    table: str
    frame: pd.DataFrame
    identifying: dict[str, pd.Series]
    source_row: np.ndarray
    headers: dict[str, str]
    locale: Locale
    dropped_identifying: list[str] = field(default_factory=list)
    dropped_unrecognised: list[str] = field(default_factory=list)
    missing_optional: list[str] = field(default_factory=list)
    blank_rows: int = 0
    malformed: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame({"source_row": [], "detail": []})
    )

    @property
    def label(self) -> str:
        """``file`` or ``file[sheet]``, as shown in the quarantine file."""
        return self.source.name if self.sheet is None else f"{self.source.name}[{self.sheet}]"

    @property
    def rows_read(self) -> int:
        return len(self.frame) + len(self.malformed)


# --------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------


def expand_paths(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Files to ingest: files as given, folders searched (recursively) for CSV and XLSX."""
    out: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix.lower() in CSV_SUFFIXES | XLSX_SUFFIXES
                and not p.name.startswith((".", "~$"))
            )
            if not found:
                raise IngestError(f"{path}: folder holds no CSV or XLSX files")
            out.extend(found)
        elif path.is_file():
            out.append(path)
        else:
            raise IngestError(f"{path}: no such file")
    return out


def _display_names(paths: Sequence[Path]) -> dict[Path, str]:
    """Names relative to the inputs' common folder (unique, short, stable)."""
    resolved = [p.resolve() for p in paths]
    base = Path(os.path.commonpath([p.parent for p in resolved])) if resolved else Path()
    return {p: str(r.relative_to(base)) for p, r in zip(paths, resolved, strict=True)}


def read_sources(
    paths: Iterable[str | os.PathLike[str]], *, ignore_sheets: Iterable[str] = ()
) -> tuple[list[SourceFile], list[RawPart], list[str]]:
    """Read every file; return the files, their table parts and warnings.

    Files are taken in the order of their content hash, so the same files give the same
    result whatever order or folder they are given in; a file given twice is read once.

    Raises
    ------
    IngestError
        A file cannot be read at all (nothing is written in that case).
    """
    files = expand_paths(paths)
    names = _display_names(files)
    ignore = {schemas.normalise(s) for s in ignore_sheets}
    loaded: dict[str, tuple[Path, bytes]] = {}
    warnings: list[str] = []
    for path in files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise IngestError(f"{path}: cannot open ({exc.strerror or exc})") from exc
        digest = hashlib.sha256(data).hexdigest()
        if digest in loaded:
            warnings.append(f"{names[path]}: same content as {names[loaded[digest][0]]}; read once")
            continue
        loaded[digest] = (path, data)
    sources: list[SourceFile] = []
    parts: list[RawPart] = []
    for digest in sorted(loaded):
        path, data = loaded.pop(digest)
        source, file_parts, file_warnings = _read_file(path, names[path], digest, data, ignore)
        sources.append(source)
        parts.extend(file_parts)
        warnings.extend(file_warnings)
    return sources, parts, warnings


def _read_file(
    path: Path, name: str, digest: str, data: bytes, ignore: set[str]
) -> tuple[SourceFile, list[RawPart], list[str]]:
    if not data.strip():
        raise IngestError(f"{name}: file is empty")
    if data.startswith(_OLE_MAGIC):
        raise IngestError(
            f"{name}: old Excel format (.xls) or password-protected workbook; save it as .xlsx or CSV"
        )
    if data.startswith(_ZIP_MAGIC):
        source = SourceFile(path, name, digest, len(data), "xlsx")
        return source, *_read_xlsx(source, data, ignore)
    text, encoding = _decode(data)
    delimiter = _sniff_delimiter(text)
    source = SourceFile(path, name, digest, len(data), "csv", encoding, delimiter)
    warnings = (
        [f"{name}: undecodable bytes replaced (encoding {encoding})"]
        if "replace" in encoding
        else []
    )
    return source, [_read_csv(source, text, delimiter)], warnings


# --------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------


def _decode(data: bytes) -> tuple[str, str]:
    """Decode CSV bytes: BOMs first, then UTF-8, then cp1252 (German Excel), then Latin-1."""
    if data.startswith(codecs.BOM_UTF8):
        body = data[len(codecs.BOM_UTF8) :]
        try:
            return body.decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError:
            return body.decode("utf-8", errors="replace"), "utf-8-sig (replace)"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            return data.decode("utf-16", errors="replace"), "utf-16 (replace)"
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), "latin-1"


def _sniff_delimiter(text: str) -> str:
    """The separator that occurs most often in the header line (``;`` wins ties)."""
    first = text.lstrip("\r\n").split("\n", 1)[0]
    counts = {d: first.count(d) for d in _DELIMITERS}
    return max(_DELIMITERS, key=lambda d: (counts[d], -_DELIMITERS.index(d)))


def _is_blank(fields: Sequence[str]) -> bool:
    return all(not f.strip() for f in fields)


def _read_csv(source: SourceFile, text: str, delimiter: str) -> RawPart:
    header = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), [])
    if _is_blank(header):
        raise IngestError(f"{source.name}: no header row")
    try:
        records, numbers, malformed, blank = _records_arrow(text, delimiter, header)
    except _FallBack:
        try:
            records, numbers, malformed, blank = _records_python(text, delimiter, len(header))
        except csv.Error as exc:
            raise IngestError(f"{source.name}: cannot parse as CSV ({_one_line(exc)})") from exc
    locale: Locale = "en" if delimiter == "," else "de"
    hints = [Path(source.name).stem]
    part = _build_part(source, None, header, records, numbers, malformed, locale, hints)
    part.blank_rows += blank
    return part


class _FallBack(Exception):
    """pyarrow could not read the file exactly; read it with the csv module."""


_Records = tuple[pd.DataFrame, np.ndarray, list[tuple[int, str]], int]


def _records_arrow(text: str, delimiter: str, header: list[str]) -> _Records:
    """Fast path: pyarrow's CSV reader, every cell as text, bad rows kept aside.

    Returns the records after the header (one text column per header field), their row
    numbers, the malformed rows (row number, detail) and the number of blank rows among
    the rows with a wrong number of fields.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    width = len(header)
    names = [f"c{i}" for i in range(width)]
    bad: list[tuple[int | None, int, str]] = []

    def on_invalid(row) -> str:
        bad.append((row.number, row.actual_columns, row.text))
        return "skip"

    try:
        table = pacsv.read_csv(
            io.BytesIO(text.encode("utf-8")),
            read_options=pacsv.ReadOptions(
                column_names=names, use_threads=False, block_size=1 << 24
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter,
                newlines_in_values=True,
                ignore_empty_lines=False,
                invalid_row_handler=on_invalid,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowException) as exc:
        raise _FallBack from exc
    if any(number is None for number, _, _ in bad):
        raise _FallBack
    frame = table.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get)
    frame.columns = range(width)
    if len(frame) == 0 or any(n == 1 for n, _, _ in bad) or list(frame.iloc[0]) != header:
        raise _FallBack
    total = len(frame) + len(bad)
    keep = np.ones(total, dtype=bool)
    keep[np.array([n - 1 for n, _, _ in bad], dtype=np.int64)] = False
    numbers = np.arange(1, total + 1, dtype=np.int64)[keep]
    malformed = [
        (int(n), f"expected {width} fields, found {fields}")
        for n, fields, row_text in bad
        if not _blank_text(row_text, delimiter)
    ]
    return frame.iloc[1:].reset_index(drop=True), numbers[1:], malformed, len(bad) - len(malformed)


def _blank_text(row_text: str, delimiter: str) -> bool:
    return not row_text.replace(delimiter, "").replace('"', "").strip()


def _records_python(text: str, delimiter: str, width: int) -> _Records:
    """Exact path: Python's csv module, for files pyarrow rejects (e.g. an unclosed quote)."""
    csv.field_size_limit(2**31 - 1)
    rows: list[list[str]] = []
    numbers: list[int] = []
    malformed: list[tuple[int, str]] = []
    blank = 0
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    for number, fields in enumerate(reader, start=1):
        if number == 1:
            continue
        if len(fields) == width:
            rows.append(fields)
            numbers.append(number)
        elif _is_blank(fields):
            blank += 1
        else:
            malformed.append((number, f"expected {width} fields, found {len(fields)}"))
    return _frame(rows, width), np.asarray(numbers, dtype=np.int64), malformed, blank


def _frame(rows: list[list[str]], width: int) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame({i: pd.Series([], dtype=TEXT) for i in range(width)})
    return pd.DataFrame(rows, columns=range(width), dtype=object).astype(TEXT)


# --------------------------------------------------------------------------------------
# XLSX
# --------------------------------------------------------------------------------------


def _cell_text(value: object) -> str:
    """A cell as German Excel would write it to CSV (decimal comma, TT.MM.JJJJ)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "ja" if value else "nein"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value).replace(".", ",")
    if isinstance(value, datetime):
        if value.time() == time(0, 0):
            return f"{value.day:02d}.{value.month:02d}.{value.year:04d}"
        return f"{value.day:02d}.{value.month:02d}.{value.year:04d} {value:%H:%M:%S}"
    if isinstance(value, date):
        return f"{value.day:02d}.{value.month:02d}.{value.year:04d}"
    return str(value)


def _read_xlsx(
    source: SourceFile, data: bytes, ignore: set[str]
) -> tuple[list[RawPart], list[str]]:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for damaged files
        raise IngestError(
            f"{source.name}: not a readable XLSX workbook ({type(exc).__name__}: {_one_line(exc)})"
        ) from exc
    parts: list[RawPart] = []
    warnings: list[str] = []
    try:
        sheets = workbook.worksheets
        for sheet in sheets:
            if schemas.normalise(sheet.title) in ignore:
                warnings.append(f"{source.name}[{sheet.title}]: sheet ignored as asked")
                continue
            try:
                sheet.reset_dimensions()  # a wrong size in the file must not cut rows off
                rows = [[_cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
            except Exception as exc:
                raise IngestError(
                    f"{source.name}[{sheet.title}]: cannot read sheet ({type(exc).__name__}: {_one_line(exc)})"
                ) from exc
            part = _sheet_part(source, sheet.title, rows, single=len(sheets) == 1)
            if part is None:
                warnings.append(f"{source.name}[{sheet.title}]: empty sheet skipped")
            else:
                parts.append(part)
    finally:
        workbook.close()
    if not parts:
        raise IngestError(f"{source.name}: workbook has no sheet with data")
    return parts, warnings


def _sheet_part(
    source: SourceFile, title: str, rows: list[list[str]], *, single: bool
) -> RawPart | None:
    start = next((i for i, row in enumerate(rows) if not _is_blank(row)), None)
    if start is None:
        return None
    width = max(len(r) for r in rows[start:])
    padded = [(r + [""] * width)[:width] for r in rows[start:]]
    header, body = padded[0], padded[1:]
    records = _frame(body, width)
    numbers = np.arange(start + 2, start + 2 + len(body), dtype=np.int64)
    hints = [title] + ([Path(source.name).stem] if single else [])
    return _build_part(source, title, header, records, numbers, [], "de", hints)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]


# --------------------------------------------------------------------------------------
# Headers -> table and columns
# --------------------------------------------------------------------------------------


def choose_table(headers: Sequence[str], hints: Sequence[str], where: str) -> str:
    """Tell which table a file or sheet holds from its headers (names break ties).

    Raises
    ------
    IngestError
        No table has all its required columns among the headers, or two tables fit equally.
    """
    matched = {
        t: {schemas.column_for_header(t, h) for h in headers} - {None} for t in schemas.TABLES
    }
    candidates = [t for t, spec in schemas.TABLES.items() if set(spec.required) <= matched[t]]
    named = [t for t in (schemas.table_for_name(h) for h in hints) if t]
    for table in named:
        if table in candidates:
            return table
    if candidates:
        best = max(len(matched[t]) for t in candidates)
        top = [t for t in candidates if len(matched[t]) == best]
        if len(top) == 1:
            return top[0]
        raise IngestError(
            f"{where}: headers fit tables {', '.join(top)} equally; name the file or sheet after its table"
        )
    if not named and not any(matched.values()):
        shown = ", ".join(repr(h) for h in list(headers)[:8])
        raise IngestError(
            f"{where}: no known column headers (found {shown}); is this an export of the agency's data?"
        )
    closest = (
        named[0]
        if named
        else max(schemas.TABLES, key=lambda t: len(matched[t]) / len(schemas.TABLES[t].columns))
    )
    missing = [
        f"{c} ({schemas.TABLES[closest].column(c).de})"
        for c in schemas.TABLES[closest].required
        if c not in matched[closest]
    ]
    raise IngestError(
        f"{where}: cannot tell which table this is; closest is {closest}, which needs {', '.join(missing)}"
    )


def _build_part(
    source: SourceFile,
    sheet: str | None,
    header: list[str],
    records: pd.DataFrame,
    numbers: np.ndarray,
    malformed: list[tuple[int, str]],
    locale: Locale,
    hints: list[str],
) -> RawPart:
    where = source.name if sheet is None else f"{source.name}[{sheet}]"
    header = [h.strip() for h in header]
    records, numbers, blank = _drop_blank(records, numbers)
    table = choose_table([h for h in header if h], hints, where)
    spec = schemas.TABLES[table]
    derived_from = {c.derive_from: c.name for c in spec.columns if c.derive_from}
    columns: dict[str, int] = {}
    identifying: dict[str, pd.Series] = {}
    part = RawPart(source, sheet, table, pd.DataFrame(), {}, numbers, {}, locale, blank_rows=blank)
    for pos, raw in enumerate(header):
        name = schemas.column_for_header(table, raw) if raw else None
        ident = schemas.identifying_for_header(raw) if raw and name is None else None
        if name is None and ident in derived_from:
            name = ident  # e.g. birth_date, needed for birth_year, then dropped
        if name is not None:
            if name in columns:
                raise IngestError(
                    f"{where}: headers {header[columns[name]]!r} and {raw!r} both stand for {name}"
                )
            columns[name] = pos
            part.headers[name] = raw
        if ident is not None:
            identifying[raw or f"column {pos + 1}"] = records[pos]
            part.dropped_identifying.append(raw)
        elif name is None and (raw or (records[pos].str.strip(WHITESPACE) != "").any()):
            part.dropped_unrecognised.append(raw or f"(column {pos + 1} without header)")
    part.frame = (
        records[list(columns.values())].set_axis(list(columns), axis=1).reset_index(drop=True)
    )
    part.identifying = identifying
    part.missing_optional = [
        c.name for c in spec.columns if c.name not in columns and not c.required
    ]
    part.malformed = pd.DataFrame(
        {
            "source_row": np.array([n for n, _ in malformed], dtype=np.int64),
            "detail": [d for _, d in malformed],
        }
    )
    return part


def _drop_blank(records: pd.DataFrame, numbers: np.ndarray) -> tuple[pd.DataFrame, np.ndarray, int]:
    if records.empty:
        return records.reset_index(drop=True), numbers, 0
    blank = np.ones(len(records), dtype=bool)
    for col in records.columns:
        blank &= (records[col].str.strip(WHITESPACE) == "").to_numpy(dtype=bool)
    keep = ~blank
    return records[keep].reset_index(drop=True), numbers[keep], int(blank.sum())
