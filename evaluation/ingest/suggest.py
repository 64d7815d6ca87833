"""Drafting a mapping file from an export: ``ingest --suggest-mapping FILE``.

For each table in the file (each sheet of a workbook) the draft names the table, the
header row (title lines above it are found), and for every source column the contract
column it most likely stands for: exact matches of the contract's headers and aliases
first, then fuzzy matches (:mod:`difflib`) marked ``# prüfen``; identifying columns are
mapped to their kind (dropped at ingest), the rest to ``ignore``. For code columns every
value that the contract does not know is listed with the closest code, or commented out
when nothing is close. Date columns whose values are not ``TT.MM.JJJJ`` get the format
that reads most of them. Free-text columns are listed under ``text_columns`` with a
reminder to check that they never hold names.

The draft is YAML the evaluator edits; nothing in it is applied until it is used as the
mapping (``--mapping FILE`` or ``data/mapping.yml``).
"""

from __future__ import annotations

import difflib
import io
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from evaluation import schemas
from evaluation.ingest.language import say
from evaluation.ingest.mapping import IGNORE, Mapping
from evaluation.ingest.parse import parse_date
from evaluation.ingest.read import (
    HEADER_SEARCH_LINES,
    IngestError,
    _cell_text,
    _line_fields,
    decode,
    locate_header,
)

#: Rows looked at for values.
SAMPLE_ROWS = 5000
#: Distinct values of a code column listed at most.
MAX_VALUES = 60
#: Date formats tried for dates that are not TT.MM.JJJJ or JJJJ-MM-TT.
DATE_FORMATS = (
    "%d.%m.%y",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d-%m-%Y",
    "%Y%m%d",
    "%Y/%m/%d",
    "%d.%m.%Y %H:%M",
)
_CUTOFF = 0.72
_IDENTIFYING_CUTOFF = 0.78
#: Headers and values longer than this are not matched (no header or code is that long).
_LONGEST = 80
_TOTAL_WORDS = frozenset({"summe", "gesamt", "insgesamt", "total", "gesamtsumme"})


@dataclass
class _Source:
    file: str
    sheet: str | None
    header_row: int
    header: list[str]
    rows: list[list[str]]


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML); characters YAML does not
    accept raw (controls, line separators) are escaped."""
    quoted = json.dumps(text, ensure_ascii=False)
    return "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in quoted)


def _sources(path: Path) -> list[_Source]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"{path}: " + say(f"kann nicht geöffnet werden ({exc.strerror or exc})", f"cannot open ({exc.strerror or exc})")) from exc  # fmt: skip
    if not data.strip():
        raise IngestError(f"{path.name}: " + say("Datei ist leer", "file is empty"))
    if data.startswith(b"PK\x03\x04"):
        return _xlsx_sources(path, data)
    text, _ = decode(data, path.name)
    delimiter, skip, offset = locate_header(text, None, Mapping(), path.name)
    import csv

    body = io.StringIO(text[offset:], newline="")
    header = _line_fields(body.readline(), delimiter)  # one line, as the ingest reads it
    reader = csv.reader(body, delimiter=delimiter, strict=False)
    rows = []
    for i, row in enumerate(reader):
        if i >= SAMPLE_ROWS:
            break
        rows.append(row)
    return [_Source(path.name, None, skip + 1, [h.strip() for h in header], rows)]


def _xlsx_sources(path: Path, data: bytes) -> list[_Source]:
    import openpyxl

    from evaluation.ingest.read import INFO_SHEETS, _known_headers

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # damaged workbook
        raise IngestError(f"{path.name}: " + say("keine lesbare XLSX-Arbeitsmappe", "not a readable XLSX workbook")) from exc  # fmt: skip
    known = _known_headers(Mapping())
    out = []
    try:
        for sheet in workbook.worksheets:
            if schemas.normalise(sheet.title) in INFO_SHEETS:
                continue
            sheet.reset_dimensions()
            rows = []
            for i, row in enumerate(sheet.iter_rows(values_only=True)):
                if i > SAMPLE_ROWS:
                    break
                rows.append([_cell_text(v) for v in row])
            nonblank = [i for i, r in enumerate(rows) if any(c.strip() for c in r)]
            if not nonblank:
                continue
            start = next((i for i in nonblank[:HEADER_SEARCH_LINES]
                          if sum(schemas.normalise(v) in known for v in rows[i]) >= 2), nonblank[0])  # fmt: skip
            header = [h.strip() for h in rows[start]]
            out.append(_Source(path.name, sheet.title, start + 1, header, rows[start + 1 :]))
    finally:
        workbook.close()
    return out


def _candidates(table: str) -> dict[str, str]:
    """Normalised header -> target (contract column or identifying kind)."""
    out = {}
    for col in schemas.TABLES[table].columns:
        for h in col.headers():
            out.setdefault(schemas.normalise(h), col.name)
    for ident in schemas.IDENTIFYING:
        for h in ident.headers():
            out.setdefault(schemas.normalise(h), ident.name)
    return out


def _match(header: str, table: str) -> tuple[str | None, float]:
    key = schemas.normalise(header)
    if not key or len(header) > _LONGEST:
        return None, 0.0  # no header is that long: fuzzy matching would only take time
    exact = schemas.column_for_header(table, header) or schemas.identifying_for_header(header)
    if exact:
        return exact, 1.0
    candidates = _candidates(table)
    best = difflib.get_close_matches(key, list(candidates), n=1, cutoff=_CUTOFF)
    if not best:
        # a header containing a known header ("Geb.-Datum" / "Datum der Geburt"), or inside it
        inside = [c for c in candidates if len(c) >= 4 and (c in key or key in c)]
        if inside:
            chosen = max(inside, key=len)
            return candidates[chosen], 0.7
        return None, 0.0
    return candidates[best[0]], difflib.SequenceMatcher(None, key, best[0]).ratio()


def _choose_table(source: _Source) -> str:
    hinted = schemas.table_for_name(source.sheet or "") or schemas.table_for_name(
        Path(source.file).stem
    )
    scores = {}
    for table, spec in schemas.TABLES.items():
        targets = [_match(h, table) for h in source.header]
        found = {t for t, _ in targets if t in spec.names}
        required = set(spec.required)
        scores[table] = (
            len(found & required) / len(required),
            sum(r for t, r in targets if t in spec.names),
            table == hinted,
        )
    return max(
        scores, key=lambda t: (scores[t][2] and scores[t][0] > 0.5, scores[t][0], scores[t][1])
    )


def _closest_code(value: str, col: schemas.Column) -> str | None:
    spellings = {}
    for code, (de, en) in (col.codes or {}).items():
        for s in (code, de, en):
            spellings[schemas.normalise(s)] = code
    for s, code in col.synonyms.items():
        spellings[schemas.normalise(s)] = code
    if len(value) > _LONGEST:
        return None
    key = schemas.normalise(value)
    best = difflib.get_close_matches(key, list(spellings), n=1, cutoff=0.6)
    if best:
        return spellings[best[0]]
    inside = [s for s in spellings if len(s) >= 3 and (s in key or key in s)]
    return spellings[max(inside, key=len)] if inside else None


def _date_format(values: list[str]) -> str | None:
    if not values or sum(parse_date(v)[1] is None for v in values) >= 0.9 * len(values):
        return None
    counts = {f: sum(parse_date(v, (f,))[1] is None for v in values) for f in DATE_FORMATS}
    best = max(DATE_FORMATS, key=lambda f: counts[f])
    return best if counts[best] >= 0.5 * len(values) else None


def _entry(source: _Source) -> list[str]:
    table = _choose_table(source)
    spec = schemas.TABLES[table]
    lines = [f"  - file: {_q(source.file)}"]
    if source.sheet is not None:
        lines.append(f"    sheet: {_q(source.sheet)}")
    lines += [f"    table: {table}   # {spec.de}", f"    header_row: {source.header_row}"]
    if source.header_row > 1:
        lines[-1] += say(
            "   # die Zeilen darüber (Titel) werden übersprungen",
            "   # the rows above (title) are skipped",
        )
    lines.append("    columns:")
    used: dict[str, str] = {}
    positions: dict[str, int] = {}
    for pos, header in enumerate(source.header):
        if not header:
            continue
        if len(header) > _LONGEST:
            lines.append("      # " + say(f"Spalte {pos + 1}: Kopf mit {len(header)} Zeichen, kein Spaltenkopf; wird nicht übernommen",
                                            f"column {pos + 1}: a header of {len(header)} characters is no header; not taken"))  # fmt: skip
            continue
        target, ratio = _match(header, table)
        identifying = {i.name for i in schemas.IDENTIFYING}
        if target is not None and target not in spec.names and target not in identifying:
            target = None
        if target in identifying and ratio < _IDENTIFYING_CUTOFF:
            target = None  # a loose match to "Stadt" or "Name" is no reason to map it
        if target in used.values() and target in spec.names:
            target, ratio = None, 0.0  # two headers for one column: the first wins
        if target is None:
            lines.append(f"      {_q(header)}: {IGNORE}   # " + say("nicht erkannt: Spalte des Datenvertrags eintragen oder ignore lassen",
                                                                  "not recognised: give a contract column or leave ignore"))  # fmt: skip
            continue
        comment = ""
        if target in {i.name for i in schemas.IDENTIFYING}:
            comment = say("identifizierend: wird nicht übernommen", "identifying: not taken")
            if target == "birth_date":
                comment = say(
                    "identifizierend: nur das Geburtsjahr wird übernommen",
                    "identifying: only the year of birth is taken",
                )
        elif ratio < 1.0:
            comment = say(
                f"prüfen: unscharf erkannt ({ratio:.0%})", f"check: fuzzy match ({ratio:.0%})"
            )
        lines.append(f"      {_q(header)}: {target}" + (f"   # {comment}" if comment else ""))
        used[header] = target
        positions[target] = pos
    missing = [c for c in spec.required if c not in positions]
    if missing:
        lines.append(
            "    # "
            + say("FEHLT (Pflicht): ", "MISSING (required): ")
            + ", ".join(f"{c} ({spec.column(c).de})" for c in missing)
        )
    free = [c.name for c in spec.columns if c.safe_text and c.name in positions]
    if free:
        lines.append("    # " + say("Freitext: nur übernehmen, wenn diese Spalten nie Namen, Anschriften oder Kontaktdaten enthalten",
                                    "free text: only take these columns if they never hold names, addresses or contact data"))  # fmt: skip
        lines.append("    text_columns: [" + ", ".join(free) + "]")
    value_lines, formats = [], []
    for name, pos in positions.items():
        if name not in spec.names:
            continue
        col = spec.column(name)
        values = [r[pos].strip() for r in source.rows if pos < len(r) and r[pos].strip()]
        if col.codes:
            lookup = schemas.value_lookup(table, name)
            unknown = [
                v for v, _ in Counter(values).most_common() if schemas.normalise(v) not in lookup
            ][:MAX_VALUES]
            if unknown:
                value_lines.append(
                    f"      {name}:   # " + say("erlaubt: ", "allowed: ") + ", ".join(col.codes)
                )
                for v in unknown:
                    code = _closest_code(v, col)
                    if code:
                        value_lines.append(f"        {_q(v)}: {code}   # " + say("prüfen", "check"))
                    else:
                        value_lines.append(
                            f"        # {_q(v)}: ???   # "
                            + say("unbekannt: Code eintragen", "unknown: give the code")
                        )
        elif col.kind in ("date", "month") or name == "birth_date":
            fmt = _date_format(values)
            if fmt:
                formats.append(fmt)
    for ident, pos in positions.items():
        if ident == "birth_date":
            values = [r[pos].strip() for r in source.rows if pos < len(r) and r[pos].strip()]
            fmt = _date_format(values)
            if fmt:
                formats.append(fmt)
    totals = sorted(
        {r[0].strip() for r in source.rows if r and schemas.normalise(r[0]) in _TOTAL_WORDS}
    )
    if totals and source.header and source.header[0]:
        lines.append("    skip_where:   # " + say("Summenzeilen überspringen", "skip total rows"))
        lines.append(f"      {_q(source.header[0])}: [" + ", ".join(_q(t) for t in totals) + "]")
    if value_lines:
        lines += ["    values:", *value_lines]
    if formats:
        lines.append("    date_formats: [" + ", ".join(_q(f) for f in dict.fromkeys(formats)) + "]")
    return lines


def suggest_mapping(path: str | Path) -> str:
    """Return a draft mapping file (YAML with comments) for the export at ``path``.

    Raises
    ------
    IngestError
        The file cannot be read.
    """
    path = Path(path)
    sources = _sources(path)
    if not sources:
        raise IngestError(f"{path.name}: " + say("keine Daten gefunden", "no data found"))
    out = [
        "# " + say(f"Entwurf einer Zuordnungsdatei für {path.name} (python -m evaluation ingest --suggest-mapping)",
                   f"Draft mapping for {path.name} (python -m evaluation ingest --suggest-mapping)"),
        "# " + say("Prüfen und anpassen, dann als data/mapping.yml speichern oder mit --mapping angeben.",
                   "Check and edit it, then save it as data/mapping.yml or give it with --mapping."),
        "# " + say("Aufbau und alle Schlüssel: data/mapping.example.yml", "Layout and every key: data/mapping.example.yml"),
        "version: 1",
        "sources:",
    ]  # fmt: skip
    for source in sources:
        out += _entry(source)
    return "\n".join(out) + "\n"
