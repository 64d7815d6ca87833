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
import difflib
import hashlib
import io
import os
import re
import time as clock
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from evaluation import schemas
from evaluation.ingest.language import say
from evaluation.ingest.mapping import IGNORE, Mapping, SourceRule

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
#: The csv module's field limit, raised before anything is read (a stray quote before the
#: header would otherwise make the whole file one field too large for the default limit).
FIELD_LIMIT = 2**31 - 1
#: Lines searched for the header (title lines above it are skipped).
HEADER_SEARCH_LINES = 20
#: Bytes per block of the Arrow reader (blocks are parsed in parallel).
ARROW_BLOCK_BYTES = 1 << 22
#: Whether the first (block-wise) Arrow read uses Arrow's threads.
READ_THREADS = False
#: Longest time the exact (Python) reader may take for one file.
TIME_LIMIT_SECONDS = 300.0
#: Excel's first line naming the separator, e.g. ``sep=;``.
_SEP_LINE = re.compile(r'\A\ufeff?"?sep=(.)"?[ \t]*(?:\r\n|\n|\r|\Z)', re.IGNORECASE)
#: Sheets of the templates (:mod:`evaluation.ingest.templates`) that hold no data.
INFO_SHEETS = frozenset({"erlaeuterungen", "explanations", "auswahllisten", "lists"})

csv.field_size_limit(FIELD_LIMIT)


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
    #: Source columns not taken, with the reason code (see :data:`IGNORED_REASONS`).
    ignored: list[tuple[str, str]] = field(default_factory=list)
    #: Rows left out as the mapping says (``skip_where``); not counted as read.
    skipped_rows: int = 0
    #: Lines above the header (title lines, ``sep=``) that were skipped.
    title_rows: int = 0
    rule: SourceRule | None = None
    #: Free-text columns declared for the snapshot (see :meth:`Mapping.declared_text`).
    declared_text: frozenset[str] = frozenset()
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


#: Why a source column was not taken: code -> (German, English).
IGNORED_REASONS: dict[str, tuple[str, str]] = {
    "identifying": ("identifizierend (Name, Anschrift, Kontakt, Geburtsdatum): nicht übernommen",
                    "identifying (name, address, contact, birth date): not taken"),
    "not_in_contract": ("nicht im Datenvertrag", "not in the data contract"),
    "ignored_by_mapping": ("laut Zuordnungsdatei ignoriert", "ignored as the mapping says"),
    "free_text_not_declared": ("Freitext, in der Zuordnung nicht unter text_columns freigegeben",
                               "free text, not declared under text_columns in the mapping"),
    "derived_only": ("nur für das Geburtsjahr gelesen, nicht übernommen",
                     "read for the year of birth only, not taken"),
}  # fmt: skip


def ignored_reason(code: str) -> str:
    """The reason a source column was not taken, in the current language."""
    de, en = IGNORED_REASONS[code]
    return say(de, en)


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
    paths: Iterable[str | os.PathLike[str]],
    *,
    ignore_sheets: Iterable[str] = (),
    mapping: Mapping | None = None,
) -> tuple[list[SourceFile], list[RawPart], list[str]]:
    """Read every file; return the files, their table parts and warnings.

    Files are taken in the order of their content hash, so the same files give the same
    result whatever order or folder they are given in; a file given twice is read once.

    Parameters
    ----------
    mapping
        How the agency's exports are read (:mod:`evaluation.ingest.mapping`).

    Raises
    ------
    IngestError
        A file cannot be read at all (nothing is written in that case).
    """
    mapping = mapping or Mapping()
    files = expand_paths(paths)
    names = _display_names(files)
    ignore = {schemas.normalise(s) for s in ignore_sheets}
    loaded: dict[str, tuple[Path, bytes]] = {}
    warnings: list[str] = []
    for path in files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise IngestError(
                f"{path}: " + say(f"kann nicht geöffnet werden ({exc.strerror or exc})",
                                  f"cannot open ({exc.strerror or exc})")
            ) from exc  # fmt: skip
        digest = hashlib.sha256(data).hexdigest()
        if digest in loaded:
            warnings.append(say(f"{names[path]}: gleicher Inhalt wie {names[loaded[digest][0]]}; einmal gelesen",
                                f"{names[path]}: same content as {names[loaded[digest][0]]}; read once"))  # fmt: skip
            continue
        loaded[digest] = (path, data)
    sources: list[SourceFile] = []
    parts: list[RawPart] = []
    for digest in sorted(loaded):
        path, data = loaded.pop(digest)
        source, file_parts, file_warnings = _read_file(
            path, names[path], digest, data, ignore, mapping
        )
        sources.append(source)
        parts.extend(file_parts)
        warnings.extend(file_warnings)
    return sources, parts, warnings


def _read_file(
    path: Path, name: str, digest: str, data: bytes, ignore: set[str], mapping: Mapping
) -> tuple[SourceFile, list[RawPart], list[str]]:
    if not data or data.isspace():  # as ``not data.strip()``, without copying the file
        raise IngestError(f"{name}: " + say("Datei ist leer", "file is empty"))
    if data.startswith(_OLE_MAGIC):
        raise IngestError(f"{name}: " + say(
            "altes Excel-Format (.xls) oder passwortgeschützte Mappe; bitte als .xlsx oder CSV speichern",
            "old Excel format (.xls) or password-protected workbook; save it as .xlsx or CSV"))  # fmt: skip
    if data.startswith(_ZIP_MAGIC):
        source = SourceFile(path, name, digest, len(data), "xlsx")
        return source, *_read_xlsx(source, data, ignore, mapping)
    text, encoding = decode(data, name)
    rule = mapping.rule_for(name)
    if rule is not None and rule.ignore:
        source = SourceFile(path, name, digest, len(data), "csv", encoding, None)
        return (
            source,
            [],
            [
                say(
                    f"{name}: laut Zuordnungsdatei ausgelassen",
                    f"{name}: left out as the mapping says",
                )
            ],
        )
    delimiter, skip, offset = locate_header(text, rule, mapping, name)
    source = SourceFile(path, name, digest, len(data), "csv", encoding, delimiter)
    part = _read_csv(source, text[offset:], delimiter, rule, mapping, skip)
    warnings = []
    if skip:
        warnings.append(say(f"{name}: {skip} Zeile(n) über der Kopfzeile übersprungen (Titel, sep=)",
                            f"{name}: {skip} line(s) above the header skipped (title, sep=)"))  # fmt: skip
    return source, [part], warnings


# --------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------


def _position(data: bytes, offset: int) -> str:
    line = data.count(b"\n", 0, offset) + 1
    return say(f"Byte {offset} (Zeile {line})", f"byte {offset} (line {line})")


def decode(data: bytes, name: str = "") -> tuple[str, str]:
    """Decode CSV bytes exactly: BOMs first, then UTF-8, then cp1252 (German Excel).

    A file that is UTF-8 but has an invalid byte (e.g. cut inside a character) is an
    error naming the byte offset and line, never re-read as cp1252 (that would turn its
    umlauts into garbage silently). A file that is neither UTF-8 nor cp1252 is an error.

    Raises
    ------
    IngestError
    """
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8) :].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise _bad_bytes(name, data, exc.start + len(codecs.BOM_UTF8), "UTF-8") from exc
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise _bad_bytes(name, data, exc.start, "UTF-16") from exc
    start = _early_utf8_error(data)
    if start is None:
        try:
            return data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError as exc:
            start = exc.start
    if _mostly_utf8(data):
        raise _bad_bytes(name, data, start, "UTF-8")
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as exc:
        raise _bad_bytes(name, data, exc.start, "UTF-8 / Windows-1252") from exc


_ASCII = bytes(range(0x80))
#: Bytes tried as UTF-8 before the whole file (:func:`_early_utf8_error`).
_UTF8_PROBE = 1 << 16


def _early_utf8_error(data: bytes) -> int | None:
    """Offset of the first byte that is not UTF-8, if it lies in the first bytes.

    Decoding stops at the first bad byte but costs as much as the file is long (cp1252
    exports fail on their first umlaut): the first :data:`_UTF8_PROBE` bytes are tried
    alone. An error there that is not the cut at the probe's end is where decoding the
    whole file fails too (a UTF-8 sequence is told bad by its own bytes); ``None`` when
    the probe decodes or ends in a cut sequence.
    """
    head = data[:_UTF8_PROBE]
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.end < len(head):
            return exc.start
    return None


def _mostly_utf8(data: bytes) -> bool:
    """More of the non-ASCII characters are valid UTF-8 than not: a UTF-8 file with a bad
    byte (in cp1252 text, umlauts are single bytes that UTF-8 rejects)."""
    if not _adjacent_non_ascii(data):
        # Every non-ASCII byte stands between ASCII bytes (German cp1252 text: an umlaut
        # between letters). A valid non-ASCII UTF-8 character takes 2 to 4 such bytes, so
        # none is valid and each byte decodes as one replacement: as many bad characters
        # as non-ASCII ones, never more good than bad (what the decoding below counts).
        return False
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    # ASCII bytes decode to themselves, never into a replacement (no UTF-8 sequence
    # continues with one), so the text holds as many ASCII characters as the bytes
    ascii_bytes = len(data) - len(data.translate(None, _ASCII))
    non_ascii = len(text) - ascii_bytes
    return non_ascii - bad > bad


#: Bytes per step of :func:`_adjacent_non_ascii` (small steps stay in the CPU cache).
_SCAN_BYTES = 1 << 18


def _adjacent_non_ascii(data: bytes) -> bool:
    """Two non-ASCII bytes (>= 0x80) follow each other somewhere in ``data``."""
    codes = np.frombuffer(data, dtype=np.uint8)
    previous = False
    for start in range(0, len(codes), _SCAN_BYTES):
        high = codes[start : start + _SCAN_BYTES] >= 0x80
        if (previous and high[0]) or (high[1:] & high[:-1]).any():
            return True
        previous = bool(high[-1])
    return False


def _bad_bytes(name: str, data: bytes, offset: int, encoding: str) -> IngestError:
    byte = data[offset : offset + 1].hex()
    return IngestError(f"{name}: " + say(
        f"ungültiges {encoding} bei {_position(data, offset)}: Byte 0x{byte}; Datei erneut exportieren (nicht abgeschnitten, als CSV UTF-8)",
        f"invalid {encoding} at {_position(data, offset)}: byte 0x{byte}; export the file again (not cut off, as CSV UTF-8)"))  # fmt: skip


def _known_headers(mapping: Mapping) -> set[str]:
    known = {
        schemas.normalise(h)
        for t in schemas.TABLES.values()
        for c in t.columns
        for h in c.headers()
    }
    known |= {schemas.normalise(h) for i in schemas.IDENTIFYING for h in i.headers()}
    return (known | mapping.known_headers()) - {""}


def _line_fields(line: str, delimiter: str) -> list[str]:
    return next(csv.reader([line.rstrip("\r\n")], delimiter=delimiter, strict=False), [])


def locate_header(
    text: str, rule: SourceRule | None, mapping: Mapping, name: str
) -> tuple[str, int, int]:
    """Find the header line: return the delimiter, the lines skipped above it and its offset.

    An Excel ``sep=;`` first line names the delimiter. Title lines above the header
    ("Klientenliste Stand …") are recognised: the header is the first line with at least
    two known column headers (or the mapping's ``header_row``).
    """
    known = _known_headers(mapping)
    lines: list[tuple[int, str]] = []
    offset = 0
    forced = None
    if m := _SEP_LINE.match(text):
        forced = m.group(1)
        offset = m.end()
    for _ in range(max(HEADER_SEARCH_LINES, rule.header_row or 0 if rule else 0)):
        line = first_line(text, offset)
        if not line:
            break
        lines.append((offset, line))
        offset += len(line)
    first = 1 if forced else 0
    if not lines:
        raise IngestError(f"{name}: " + say("keine Kopfzeile", "no header row"))

    def score(line: str, delimiter: str) -> int:
        return sum(schemas.normalise(f) in known for f in _line_fields(line, delimiter))

    delimiters = (forced,) if forced else _DELIMITERS
    if rule is not None and rule.header_row is not None:
        index = rule.header_row - 1 - first
        if not 0 <= index < len(lines):
            raise IngestError(f"{name}: " + say(f"Kopfzeile {rule.header_row} (header_row) nicht in der Datei",
                                                f"header row {rule.header_row} (header_row) not in the file"))  # fmt: skip
        start, line = lines[index]
        delimiter = max(delimiters, key=lambda d: (score(line, d), line.count(d), -_rank(d)))
        return delimiter, index + first, start
    for index, (start, line) in enumerate(lines):
        best = max(delimiters, key=lambda d: (score(line, d), line.count(d), -_rank(d)))
        if score(line, best) >= 2:
            return best, index + first, start
    index = next((i for i, (_, line) in enumerate(lines) if line.strip()), 0)
    start, line = lines[index]
    delimiter = forced or _sniff_delimiter(line)
    return delimiter, index + first, start


_LINE_END = re.compile(r"\r\n|\r|\n")


def first_line(text: str, start: int = 0) -> str:
    """The line of ``text`` that begins at ``start``, with its line end, as
    ``io.StringIO(text[start:], newline="").readline()`` reads it (without copying the text)."""
    end = _LINE_END.search(text, start)
    return text[start : end.end()] if end else text[start:]


def _rank(delimiter: str) -> int:
    """Preference among delimiters (``;`` first); one named by ``sep=`` may be any other."""
    return _DELIMITERS.index(delimiter) if delimiter in _DELIMITERS else len(_DELIMITERS)


def _sniff_delimiter(text: str) -> str:
    """The separator that occurs most often in the header line (``;`` wins ties)."""
    first = text.lstrip("\r\n").split("\n", 1)[0]
    counts = {d: first.count(d) for d in _DELIMITERS}
    return max(_DELIMITERS, key=lambda d: (counts[d], -_rank(d)))


def _is_blank(fields: Sequence[str]) -> bool:
    return all(not f.strip() for f in fields)


def _read_csv(
    source: SourceFile,
    text: str,
    delimiter: str,
    rule: SourceRule | None = None,
    mapping: Mapping | None = None,
    skip: int = 0,
) -> RawPart:
    header_line = first_line(text)
    header = _line_fields(header_line, delimiter)
    if _is_blank(header):
        raise IngestError(f"{source.name}: " + say("keine Kopfzeile", "no header row"))
    if header_line.count('"') % 2:
        raise IngestError(f"{source.name}: " + say(
            f"Zeile {skip + 1}: Anführungszeichen in der Kopfzeile nicht geschlossen",
            f"line {skip + 1}: unclosed quote in the header"))  # fmt: skip
    try:
        records, numbers, malformed, blank = _records_arrow(text, delimiter, header)
    except _FallBack:
        records, numbers, malformed, blank = _records_python(
            text, delimiter, len(header), source.name, skip
        )
    locale: Locale = "en" if delimiter == "," else "de"
    hints = [Path(source.name).stem]
    part = _build_part(
        source, None, header, records, numbers + skip, _shift(malformed, skip), locale, hints,
        rule, mapping or Mapping(),
    )  # fmt: skip
    part.blank_rows += blank
    part.title_rows = skip
    return part


def _shift(malformed: list[tuple[int, str]], by: int) -> list[tuple[int, str]]:
    return [(n + by, d) for n, d in malformed]


class _FallBack(Exception):
    """pyarrow could not read the file exactly; read it with the csv module."""


_Records = tuple[pd.DataFrame, np.ndarray, list[tuple[int, str]], int]


def _wrong_fields(width: int, found: int) -> str:
    return say(
        f"{width} Felder erwartet, {found} gefunden", f"expected {width} fields, found {found}"
    )


def _records_arrow(text: str, delimiter: str, header: list[str]) -> _Records:
    """Fast path: pyarrow's CSV reader, every cell as text, bad rows kept aside.

    Returns the records after the header (one text column per header field), their row
    numbers, the malformed rows (row number, detail) and the number of blank rows among
    the rows with a wrong number of fields. A bad row that spans lines (a stray quote)
    sends the file to the exact reader, which reads the lines after the quote again.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    width = len(header)
    names = [f"c{i}" for i in range(width)]
    data = text.encode("utf-8")
    bad: list[tuple[int | None, int, str]] = []

    def on_invalid(row) -> str:
        bad.append((row.number, row.actual_columns, row.text))
        return "skip"

    def read(threads: bool, block: int = ARROW_BLOCK_BYTES) -> pa.Table:
        bad.clear()
        try:
            return pacsv.read_csv(
                io.BytesIO(data),
                read_options=pacsv.ReadOptions(
                    column_names=names, use_threads=threads, block_size=block
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter=delimiter,
                    newlines_in_values=True,
                    ignore_empty_lines=False,
                    invalid_row_handler=on_invalid,
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(names, pa.large_string()),
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
        except (pa.ArrowInvalid, pa.ArrowException) as exc:
            raise _FallBack from exc

    # In blocks first, in one thread: Arrow's threads took more CPU time than they saved
    # wall time on the shared 2-core machine (``benchmarks/bench_ingest.py``). Arrow names
    # the rows of bad records only when reading in one thread and one block, and it drops
    # the LF of a quoted CR LF that falls on a block boundary (pyarrow 26): a file with a
    # bad record or a line break inside a quoted cell is read again in one block.
    whole = min(len(data) + 1, 2**31 - 1)
    try:
        table = read(threads=READ_THREADS)
    except _FallBack:  # e.g. a record longer than a block: one block may still read it
        table = read(threads=False, block=whole)
    else:
        if bad or ('"' in text and _line_break_in_cells(table)):
            table = read(threads=False, block=whole)
    if any(number is None or "\n" in t or "\r" in t for number, _, t in bad):
        raise _FallBack
    frame = pd.DataFrame(
        {i: pd.arrays.ArrowStringArray(table.column(i)) for i in range(width)},
        index=pd.RangeIndex(table.num_rows),
    )
    if len(frame) == 0 or any(n == 1 for n, _, _ in bad) or list(frame.iloc[0]) != header:
        raise _FallBack
    total = len(frame) + len(bad)
    keep = np.ones(total, dtype=bool)
    keep[np.array([n - 1 for n, _, _ in bad], dtype=np.int64)] = False
    numbers = np.arange(1, total + 1, dtype=np.int64)[keep]
    malformed = [
        (int(n), _wrong_fields(width, fields))
        for n, fields, row_text in bad
        if not _blank_text(row_text, delimiter)
    ]
    return frame.iloc[1:].reset_index(drop=True), numbers[1:], malformed, len(bad) - len(malformed)


def _line_break_in_cells(table) -> bool:
    """Any cell of the Arrow table holds CR or LF (only quoted cells can)."""
    import pyarrow.compute as pc

    return any(
        pc.any(pc.match_substring_regex(column, "[\r\n]")).as_py() for column in table.columns
    )


def _blank_text(row_text: str, delimiter: str) -> bool:
    return not row_text.replace(delimiter, "").replace('"', "").strip()


def _records_python(
    text: str, delimiter: str, width: int, name: str = "", skip: int = 0
) -> _Records:
    """Exact path: Python's csv module, for files pyarrow cannot read exactly.

    A record that spans several lines and has the wrong number of fields holds a stray
    quote: its first line is kept as malformed (naming the line) and the lines after it
    are read again as rows of their own, so a quote never swallows the rows below it.
    Records are numbered as a spreadsheet numbers its rows.
    """
    lines = io.StringIO(text, newline="").readlines()
    rows: list[list[str]] = []
    numbers: list[int] = []
    malformed: list[tuple[int, str]] = []
    blank = 0
    record = 1  # the header
    start = 1
    deadline = clock.monotonic() + TIME_LIMIT_SECONDS
    while start < len(lines):
        reader = csv.reader(
            (lines[j] for j in range(start, len(lines))), delimiter=delimiter, strict=False
        )
        restart = None
        consumed = 0
        for fields in reader:
            line = start + consumed
            used = reader.line_num - consumed
            consumed = reader.line_num
            record += 1
            if record % 10_000 == 0 and clock.monotonic() > deadline:
                raise IngestError(f"{name}: " + say(
                    f"Lesen dauert länger als {TIME_LIMIT_SECONDS:.0f} s (bei Zeile {record + skip}); Datei prüfen",
                    f"reading takes longer than {TIME_LIMIT_SECONDS:.0f} s (at row {record + skip}); check the file"))  # fmt: skip
            if len(fields) == width:
                rows.append(fields)
                numbers.append(record)
            elif _is_blank(fields):
                blank += 1
            elif used > 1:
                malformed.append((record, say(
                    f"Anführungszeichen in Textzeile {line + 1 + skip} nicht geschlossen ({len(fields)} statt {width} Feldern); die folgenden Zeilen wurden einzeln gelesen",
                    f"unclosed quote in text line {line + 1 + skip} ({len(fields)} instead of {width} fields); the lines after it were read on their own")))  # fmt: skip
                restart = line + 1
                break
            else:
                malformed.append((record, _wrong_fields(width, len(fields))))
        if restart is None:
            break
        start = restart
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
    source: SourceFile, data: bytes, ignore: set[str], mapping: Mapping
) -> tuple[list[RawPart], list[str]]:
    import openpyxl

    _check_unpacked_size(source, data)
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for damaged files
        raise IngestError(f"{source.name}: " + say(
            f"keine lesbare XLSX-Arbeitsmappe ({type(exc).__name__}: {_one_line(exc)})",
            f"not a readable XLSX workbook ({type(exc).__name__}: {_one_line(exc)})")) from exc  # fmt: skip
    parts: list[RawPart] = []
    warnings: list[str] = []
    try:
        sheets = workbook.worksheets
        for sheet in sheets:
            where = f"{source.name}[{sheet.title}]"
            rule = mapping.rule_for(source.name, sheet.title)
            if schemas.normalise(sheet.title) in ignore or (rule is not None and rule.ignore):
                warnings.append(
                    say(
                        f"{where}: Blatt wie verlangt ausgelassen",
                        f"{where}: sheet ignored as asked",
                    )
                )
                continue
            if schemas.normalise(sheet.title) in INFO_SHEETS:
                continue  # explanations and lists of the templates
            try:
                sheet.reset_dimensions()  # a wrong size in the file must not cut rows off
                rows = [[_cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
            except Exception as exc:
                raise IngestError(f"{where}: " + say(
                    f"Blatt nicht lesbar ({type(exc).__name__}: {_one_line(exc)})",
                    f"cannot read sheet ({type(exc).__name__}: {_one_line(exc)})")) from exc  # fmt: skip
            part = _sheet_part(
                source, sheet.title, rows, single=len(sheets) == 1, rule=rule, mapping=mapping
            )
            if part is None:
                warnings.append(
                    say(f"{where}: leeres Blatt übersprungen", f"{where}: empty sheet skipped")
                )
            else:
                if part.title_rows:
                    warnings.append(say(f"{where}: {part.title_rows} Zeile(n) über der Kopfzeile übersprungen (Titel)",
                                        f"{where}: {part.title_rows} row(s) above the header skipped (title)"))  # fmt: skip
                parts.append(part)
    finally:
        workbook.close()
    if not parts and not warnings:
        raise IngestError(
            f"{source.name}: "
            + say("Arbeitsmappe hat kein Blatt mit Daten", "workbook has no sheet with data")
        )
    return parts, warnings


#: Largest unpacked size of a workbook (a zip bomb must not fill memory or take hours).
MAX_UNPACKED_BYTES = 1 << 30


def _check_unpacked_size(source: SourceFile, data: bytes) -> None:
    import zipfile

    try:
        unpacked = sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(data)).infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return  # openpyxl names the damage
    if unpacked > MAX_UNPACKED_BYTES:
        raise IngestError(f"{source.name}: " + say(
            f"Arbeitsmappe entpackt {unpacked / 2**20:,.0f} MB, mehr als {MAX_UNPACKED_BYTES / 2**20:,.0f} MB; als CSV exportieren",
            f"workbook unpacks to {unpacked / 2**20:,.0f} MB, more than {MAX_UNPACKED_BYTES / 2**20:,.0f} MB; export it as CSV"))  # fmt: skip


def _sheet_part(
    source: SourceFile,
    title: str,
    rows: list[list[str]],
    *,
    single: bool,
    rule: SourceRule | None = None,
    mapping: Mapping | None = None,
) -> RawPart | None:
    mapping = mapping or Mapping()
    nonblank = [i for i, row in enumerate(rows) if not _is_blank(row)]
    if not nonblank:
        return None
    if rule is not None and rule.header_row is not None:
        start = rule.header_row - 1
        if start >= len(rows):
            raise IngestError(f"{source.name}[{title}]: " + say(
                f"Kopfzeile {rule.header_row} (header_row) nicht im Blatt", f"header row {rule.header_row} (header_row) not in the sheet"))  # fmt: skip
    else:
        known = _known_headers(mapping)
        start = next(
            (i for i in nonblank[:HEADER_SEARCH_LINES] if sum(schemas.normalise(v) in known for v in rows[i]) >= 2),
            nonblank[0],
        )  # fmt: skip
    rows = rows[: nonblank[-1] + 1]  # formatted but empty rows at the end are no rows
    width = max(len(r) for r in rows[start:])
    padded = [(r + [""] * width)[:width] for r in rows[start:]]
    header, body = padded[0], padded[1:]
    records = _frame(body, width)
    numbers = np.arange(start + 2, start + 2 + len(body), dtype=np.int64)
    hints = [title] + ([Path(source.name).stem] if single else [])
    part = _build_part(source, title, header, records, numbers, [], "de", hints, rule, mapping)
    if not len(body):
        return None  # a known table's header without rows (an unused template sheet)
    part.title_rows = start
    return part


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]


# --------------------------------------------------------------------------------------
# Headers -> table and columns
# --------------------------------------------------------------------------------------


def closest_header(column: schemas.Column, headers: Sequence[str]) -> str | None:
    """The source header most like one of ``column``'s headers (``None``: nothing close)."""
    folded = {schemas.normalise(h): h for h in headers if h}
    best: tuple[float, str] | None = None
    for wanted in column.headers():
        for match in difflib.get_close_matches(
            schemas.normalise(wanted), list(folded), n=1, cutoff=0.6
        ):
            ratio = difflib.SequenceMatcher(None, schemas.normalise(wanted), match).ratio()
            if best is None or ratio > best[0]:
                best = (ratio, folded[match])
    return None if best is None else best[1]


def _missing_text(table: str, missing: Sequence[str], headers: Sequence[str]) -> str:
    out = []
    for name in missing:
        col = schemas.TABLES[table].column(name)
        near = closest_header(col, headers)
        hint = (
            say(f", ähnlichste Kopfzeile: {near!r}", f", closest header: {near!r}") if near else ""
        )
        out.append(f"{col.de!r} ({name}{hint})")
    return "; ".join(out)


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
        raise IngestError(f"{where}: " + say(
            f"Kopfzeilen passen gleich gut zu den Tabellen {', '.join(top)}; Datei oder Blatt nach der Tabelle benennen oder table: in der Zuordnungsdatei angeben",
            f"headers fit tables {', '.join(top)} equally; name the file or sheet after its table or give table: in the mapping"))  # fmt: skip
    if not named and not any(matched.values()):
        shown = ", ".join(repr(h[:40]) for h in list(headers)[:8])
        raise IngestError(f"{where}: " + say(
            f"keine bekannten Spaltenköpfe (gefunden: {shown}); Zuordnung mit --suggest-mapping entwerfen",
            f"no known column headers (found {shown}); draft a mapping with --suggest-mapping"))  # fmt: skip
    closest = (
        named[0]
        if named
        else max(schemas.TABLES, key=lambda t: len(matched[t]) / len(schemas.TABLES[t].columns))
    )
    missing = [c for c in schemas.TABLES[closest].required if c not in matched[closest]]
    raise IngestError(f"{where}: " + say(
        f"Tabelle nicht erkennbar; am ähnlichsten ist {closest}, dafür fehlen {_missing_text(closest, missing, headers)}",
        f"cannot tell which table this is; closest is {closest}, which needs {_missing_text(closest, missing, headers)}"))  # fmt: skip


def _build_part(
    source: SourceFile,
    sheet: str | None,
    header: list[str],
    records: pd.DataFrame,
    numbers: np.ndarray,
    malformed: list[tuple[int, str]],
    locale: Locale,
    hints: list[str],
    rule: SourceRule | None = None,
    mapping: Mapping | None = None,
) -> RawPart:
    mapping = mapping or Mapping()
    where = source.name if sheet is None else f"{source.name}[{sheet}]"
    header = [h.strip() for h in header]
    records, numbers, blank = _drop_blank(records, numbers)
    records, numbers, skipped = _skip_where(records, numbers, header, rule)
    targets = [rule.target(h) if rule is not None and h else None for h in header]
    table = rule.table if rule is not None and rule.table else None
    if table is None:
        mapped = [t for t in targets if t and t != IGNORE]
        table = choose_table([h for h in header if h] + mapped, hints, where)
    spec = schemas.TABLES[table]
    declared = mapping.declared_text(rule, table)
    identifying_names = {i.name for i in schemas.IDENTIFYING}
    derived_from = {c.derive_from: c.name for c in spec.columns if c.derive_from}
    columns: dict[str, int] = {}
    identifying: dict[str, pd.Series] = {}
    part = RawPart(source, sheet, table, pd.DataFrame(), {}, numbers, {}, locale, blank_rows=blank,
                   skipped_rows=skipped, rule=rule, declared_text=frozenset(declared))  # fmt: skip
    for pos, raw in enumerate(header):
        label = raw or f"(Spalte {pos + 1} ohne Kopf)"
        target = targets[pos]
        if target == IGNORE:
            part.ignored.append((label, "ignored_by_mapping"))
            continue
        if target in identifying_names:
            name, ident = (target if target in derived_from else None), target
        elif target is not None and target in spec.names:
            name, ident = target, None
        elif target is not None:
            part.ignored.append((label, "not_in_contract"))
            continue
        else:
            name = schemas.column_for_header(table, raw) if raw else None
            ident = schemas.identifying_for_header(raw) if raw and name is None else None
            if name is None and ident in derived_from:
                name = ident  # e.g. birth_date, needed for birth_year, then dropped
        if (
            name is not None
            and name in spec.names
            and spec.column(name).safe_text
            and name not in declared
        ):
            part.ignored.append((label, "free_text_not_declared"))
            continue
        if name is not None:
            if name in columns:
                raise IngestError(f"{where}: " + say(
                    f"Spalten {header[columns[name]]!r} und {raw!r} stehen beide für {name}",
                    f"headers {header[columns[name]]!r} and {raw!r} both stand for {name}"))  # fmt: skip
            columns[name] = pos
            part.headers[name] = raw
        if ident is not None:
            identifying[raw or f"column {pos + 1}"] = records[pos]
            part.dropped_identifying.append(raw)
            part.ignored.append((label, "derived_only" if name is not None else "identifying"))
        elif name is None and (raw or (records[pos].str.strip(WHITESPACE) != "").any()):
            part.dropped_unrecognised.append(raw or f"(column {pos + 1} without header)")
            part.ignored.append((label, "not_in_contract"))
    missing = [c for c in spec.required if c not in columns]
    undeclared = [h for h, why in part.ignored if why == "free_text_not_declared"]
    if missing and undeclared:
        raise IngestError(f"{where}: " + say(
            f"Tabelle {table}: Pflichtspalte fehlt: {_missing_text(table, missing, header)}; Freitextspalten ({', '.join(map(repr, undeclared))}) werden nur übernommen, wenn die Zuordnungsdatei sie unter text_columns freigibt",
            f"table {table}: required column missing: {_missing_text(table, missing, header)}; free-text columns ({', '.join(map(repr, undeclared))}) are only taken when the mapping declares them under text_columns"))  # fmt: skip
    if missing:
        raise IngestError(f"{where}: " + say(
            f"Tabelle {table}: Pflichtspalte fehlt: {_missing_text(table, missing, header)}",
            f"table {table}: required column missing: {_missing_text(table, missing, header)}"))  # fmt: skip
    part.frame = (
        records[list(columns.values())].set_axis(list(columns), axis=1).reset_index(drop=True)
    )
    part.identifying = identifying
    part.missing_optional = [
        c.name
        for c in spec.columns
        if c.name not in columns and not c.required and c.derive_from not in columns
    ]
    part.malformed = pd.DataFrame(
        {
            "source_row": np.array([n for n, _ in malformed], dtype=np.int64),
            "detail": [d for _, d in malformed],
        }
    )
    return part


def _skip_where(
    records: pd.DataFrame, numbers: np.ndarray, header: list[str], rule: SourceRule | None
) -> tuple[pd.DataFrame, np.ndarray, int]:
    """Leave out the rows the mapping says to skip (e.g. a "Summe" line)."""
    if rule is None or not rule.skip_where or records.empty:
        return records, numbers, 0
    skip = np.zeros(len(records), dtype=bool)
    for pos, raw in enumerate(header):
        values = rule.skip_where.get(schemas.normalise(raw))
        if values:
            skip |= records[pos].str.strip(WHITESPACE).isin(list(values)).to_numpy(dtype=bool)
    keep = ~skip
    return records[keep].reset_index(drop=True), numbers[keep], int(skip.sum())


def _drop_blank(records: pd.DataFrame, numbers: np.ndarray) -> tuple[pd.DataFrame, np.ndarray, int]:
    """Leave out rows with nothing but whitespace in every cell (counted as blank)."""
    if records.empty:
        return records.reset_index(drop=True), numbers, 0
    blank = np.ones(len(records), dtype=bool)
    for col in records.columns:
        blank &= _blank_cells(records[col])
        if not blank.any():  # most files: the first column alone shows no row is blank
            return records.reset_index(drop=True), numbers, 0
    keep = ~blank
    return records[keep].reset_index(drop=True), numbers[keep], int(blank.sum())


def _blank_cells(values: pd.Series) -> np.ndarray:
    """Per cell: empty or whitespace only (as :meth:`str.strip` sees it)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        arr = pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return (values.astype(str).str.strip(WHITESPACE) == "").to_numpy(dtype=bool)
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return (values.astype(str).str.strip(WHITESPACE) == "").to_numpy(dtype=bool)
    empty = pc.equal(pc.utf8_length(pc.utf8_trim(arr, characters=WHITESPACE)), 0)
    return pc.fill_null(empty, False).to_numpy(zero_copy_only=False)
