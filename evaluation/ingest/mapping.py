"""The mapping file: how the agency's own exports are read, without editing code.

A mapping (``data/mapping.yml`` in the workspace, or ``--mapping FILE``) tells the ingest,
per source file (and sheet):

* which table the file holds (``table``) and on which row its header is (``header_row``;
  the rows above, e.g. a title "Klientenliste Stand …", are skipped);
* which source column is which contract column (``columns``); a source column may also be
  mapped to an identifying kind (``last_name``, ``birth_date`` …: dropped after use) or to
  ``ignore`` (dropped, listed as ignored);
* which free-text columns may enter the snapshot (``text_columns``): without a mapping the
  contract's free-text columns are taken as today, with a mapping only those declared;
* the agency's own spelling of codes (``values``: column -> {source value: code});
* date formats beyond ``TT.MM.JJJJ`` and ``JJJJ-MM-TT`` (``date_formats``, strftime codes);
* rows to skip (``skip_where``: source column -> values, e.g. a "Summe" line).

``data/mapping.example.yml`` in the repository is a commented example;
``python -m evaluation ingest --suggest-mapping FILE`` drafts one from a file (see
:mod:`evaluation.ingest.suggest`). Without a mapping file the headers, labels and aliases of
the contract are used as before.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from evaluation import schemas
from evaluation.ingest.language import say

#: Target of a source column that is read and dropped (listed as ignored).
IGNORE = "ignore"
MAPPING_VERSION = 1
_RULE_KEYS = {
    "file", "sheet", "table", "header_row", "columns", "text_columns", "values",
    "date_formats", "skip_where", "ignore", "note",
}  # fmt: skip
_TOP_KEYS = {"version", "sources", "note"}
#: Shipped mappings (survey tools), usable as ``--mapping kobo-fsw``.
SHIPPED = Path(__file__).resolve().parent / "mappings"


class MappingError(ValueError):
    """The mapping file is not valid; the message is one line naming file, entry and field."""


@dataclass(frozen=True)
class SourceRule:
    """How one source file (or sheet) is read.

    Attributes
    ----------
    file, sheet
        Glob patterns (case-insensitive) on the file name and the sheet name.
    table
        Contract table the source holds (``None``: told by the headers, as without mapping).
    header_row
        Row number (1 = first line) of the header; ``None``: found automatically.
    columns
        Normalised source header -> contract column, identifying kind or :data:`IGNORE`.
    text_columns
        Free-text columns declared for the snapshot (``None``: not said in this entry).
    values
        Contract column -> {normalised source value: code or value}.
    date_formats
        Extra ``strptime`` formats for date and month columns.
    skip_where
        Normalised source header -> values (stripped) whose rows are skipped.
    ignore
        Leave the file or sheet out entirely.
    """

    file: str = "*"
    sheet: str | None = None
    table: str | None = None
    header_row: int | None = None
    columns: dict[str, str] = field(default_factory=dict)
    text_columns: tuple[str, ...] | None = None
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    date_formats: tuple[str, ...] = ()
    skip_where: dict[str, frozenset[str]] = field(default_factory=dict)
    ignore: bool = False
    where: str = ""

    def matches(self, file_name: str, sheet: str | None) -> bool:
        name = Path(file_name).name.casefold()
        if not fnmatch.fnmatchcase(name, self.file.casefold()) and not fnmatch.fnmatchcase(
            file_name.casefold(), self.file.casefold()
        ):
            return False
        if self.sheet is None:
            return True
        return sheet is not None and fnmatch.fnmatchcase(sheet.casefold(), self.sheet.casefold())

    def target(self, header: str) -> str | None:
        """What a source header is mapped to (``None``: not in the mapping)."""
        return self.columns.get(schemas.normalise(header))


@dataclass(frozen=True)
class Mapping:
    """A parsed mapping file; an empty mapping (no file) changes nothing."""

    path: Path | None = None
    sources: tuple[SourceRule, ...] = ()

    def rule_for(self, file_name: str, sheet: str | None = None) -> SourceRule | None:
        """The first entry matching the file (and sheet), or ``None``."""
        for rule in self.sources:
            if rule.matches(file_name, sheet):
                return rule
        return None

    def known_headers(self) -> set[str]:
        """Normalised source headers named anywhere in the mapping."""
        return {h for rule in self.sources for h in rule.columns}

    def declared_text(self, rule: SourceRule | None, table: str) -> set[str]:
        """Free-text columns of ``table`` that may enter the snapshot from this source."""
        free = {c.name for c in schemas.TABLES[table].columns if c.safe_text}
        if rule is not None and rule.text_columns is not None:
            return free & set(rule.text_columns)
        if self.path is None:
            return free  # no mapping: the contract's free-text columns, as before
        return set()


def _fail(where: str, de: str, en: str) -> MappingError:
    return MappingError(f"{where}: {say(de, en)}")


def _as_str(value: object, where: str) -> str:
    if isinstance(value, bool) or value is None or isinstance(value, list | dict):
        raise _fail(where, "Text erwartet", "text expected")
    return str(value)


def _columns_of(table: str | None) -> list[str]:
    if table is None:
        return sorted({c.name for t in schemas.TABLES.values() for c in t.columns})
    return schemas.TABLES[table].names


def _parse_rule(raw: object, where: str) -> SourceRule:
    if not isinstance(raw, MappingABC):
        raise _fail(
            where, "Eintrag muss eine Zuordnung (Schlüssel: Wert) sein", "entry must be a mapping"
        )
    unknown = sorted(set(raw) - _RULE_KEYS)
    if unknown:
        raise _fail(f"{where}.{unknown[0]}", f"unbekannter Schlüssel (erlaubt: {', '.join(sorted(_RULE_KEYS))})",
                    f"unknown key (allowed: {', '.join(sorted(_RULE_KEYS))})")  # fmt: skip
    table = raw.get("table")
    if table is not None:
        table = schemas.table_for_name(_as_str(table, f"{where}.table")) or str(table)
        if table not in schemas.TABLES:
            raise _fail(f"{where}.table", f"unbekannte Tabelle {raw['table']!r} (bekannt: {', '.join(schemas.TABLES)})",
                        f"unknown table {raw['table']!r} (known: {', '.join(schemas.TABLES)})")  # fmt: skip
    identifying = {i.name for i in schemas.IDENTIFYING}
    allowed = set(_columns_of(table)) | identifying | {IGNORE}
    columns: dict[str, str] = {}
    for header, target in (raw.get("columns") or {}).items():
        target = _as_str(target, f"{where}.columns.{header}")
        if target not in allowed:
            raise _fail(f"{where}.columns.{header}",
                        f"unbekanntes Ziel {target!r} (erlaubt: Spalten von {table or 'allen Tabellen'}, {', '.join(sorted(identifying))}, ignore)",
                        f"unknown target {target!r} (allowed: columns of {table or 'any table'}, {', '.join(sorted(identifying))}, ignore)")  # fmt: skip
        columns[schemas.normalise(header)] = target
    text = raw.get("text_columns")
    if text is not None:
        if not isinstance(text, list):
            raise _fail(
                f"{where}.text_columns", "Liste von Spalten erwartet", "list of columns expected"
            )
        free = {c.name for t in schemas.TABLES.values() for c in t.columns if c.safe_text}
        for name in text:
            if name not in free:
                raise _fail(f"{where}.text_columns", f"{name!r} ist keine Freitextspalte des Datenvertrags (solche sind: {', '.join(sorted(free))})",
                            f"{name!r} is not a free-text column of the contract (those are: {', '.join(sorted(free))})")  # fmt: skip
        text = tuple(str(t) for t in text)
    values: dict[str, dict[str, str]] = {}
    for column, spellings in (raw.get("values") or {}).items():
        w = f"{where}.values.{column}"
        if column not in _columns_of(table):
            raise _fail(w, "unbekannte Spalte", "unknown column")
        if spellings is None:  # all its lines commented out (as a draft leaves them)
            spellings = {}
        if not isinstance(spellings, MappingABC):
            raise _fail(
                w, "Zuordnung Quellwert: Code erwartet", "mapping source value: code expected"
            )
        codes = _codes_of(table, column)
        out = {}
        for source, code in spellings.items():
            code = "" if code is None else _as_str(code, f"{w}.{source}")
            if codes is not None and code and code not in codes:
                raise _fail(f"{w}.{source}", f"unbekannter Code {code!r} (erlaubt: {', '.join(sorted(codes))})",
                            f"unknown code {code!r} (allowed: {', '.join(sorted(codes))})")  # fmt: skip
            out[schemas.normalise(source) or str(source).strip()] = code
        values[column] = out
    formats = raw.get("date_formats") or []
    if isinstance(formats, str):
        formats = [formats]
    for fmt in formats:
        try:
            datetime.strptime(datetime(2001, 2, 3, tzinfo=UTC).strftime(str(fmt)), str(fmt))
        except ValueError as exc:
            raise _fail(
                f"{where}.date_formats",
                f"ungültiges Datumsformat {fmt!r}",
                f"invalid date format {fmt!r}",
            ) from exc
    skip = {
        schemas.normalise(h): frozenset(
            str(v).strip() for v in (vs if isinstance(vs, list) else [vs])
        )
        for h, vs in (raw.get("skip_where") or {}).items()
    }
    header_row = raw.get("header_row")
    if header_row is not None and (
        not isinstance(header_row, int) or isinstance(header_row, bool) or header_row < 1
    ):
        raise _fail(
            f"{where}.header_row", "ganze Zahl ab 1 erwartet", "whole number from 1 expected"
        )
    sheet = raw.get("sheet")
    return SourceRule(
        file=_as_str(raw.get("file", "*"), f"{where}.file"),
        sheet=None if sheet is None else _as_str(sheet, f"{where}.sheet"),
        table=table,
        header_row=header_row,
        columns=columns,
        text_columns=text,
        values=values,
        date_formats=tuple(str(f) for f in formats),
        skip_where=skip,
        ignore=bool(raw.get("ignore", False)),
        where=where,
    )


def _codes_of(table: str | None, column: str) -> set[str] | None:
    tables = [schemas.TABLES[table]] if table else list(schemas.TABLES.values())
    for t in tables:
        if column in t.names and t.column(column).codes:
            return set(t.column(column).codes)
    return None


def parse_mapping(data: object, where: str) -> Mapping:
    """Build a :class:`Mapping` from loaded YAML; ``where`` names the file in errors."""
    if data is None:
        return Mapping(Path(where), ())
    if not isinstance(data, MappingABC):
        raise _fail(
            where,
            "Zuordnungsdatei muss mit 'sources:' beginnen",
            "mapping file must start with 'sources:'",
        )
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise _fail(f"{where}: {unknown[0]}", "unbekannter Schlüssel (erlaubt: version, sources)",
                    "unknown key (allowed: version, sources)")  # fmt: skip
    if data.get("version", MAPPING_VERSION) != MAPPING_VERSION:
        raise _fail(where, f"version {data.get('version')!r} unbekannt (erwartet {MAPPING_VERSION})",
                    f"unknown version {data.get('version')!r} (expected {MAPPING_VERSION})")  # fmt: skip
    sources = data.get("sources") or []
    if not isinstance(sources, list):
        raise _fail(f"{where}: sources", "Liste von Einträgen erwartet", "list of entries expected")
    rules = tuple(_parse_rule(raw, f"{where}: sources[{i}]") for i, raw in enumerate(sources))
    return Mapping(Path(where), rules)


def resolve_mapping_path(given: str | Path) -> Path:
    """A mapping file: as given, or a shipped one by name (``kobo-fsw``, ``limesurvey-fsw``)."""
    path = Path(given)
    if not path.exists() and (SHIPPED / f"{given}.yml").exists():
        return SHIPPED / f"{given}.yml"
    return path


def load_mapping(path: str | Path | None) -> Mapping:
    """Read a mapping file (``None`` or a missing default file: the empty mapping).

    Raises
    ------
    MappingError
        The file is not valid YAML or not a valid mapping.
    """
    import yaml

    if path is None:
        return Mapping()
    path = resolve_mapping_path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise _fail(str(path), f"kann nicht gelesen werden ({exc.strerror or exc})",
                    f"cannot be read ({exc.strerror or exc})") from exc  # fmt: skip
    except UnicodeDecodeError as exc:
        raise _fail(str(path), "ist nicht UTF-8", "is not UTF-8") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "YAML"
        raise _fail(
            f"{path}{line}", f"kein gültiges YAML ({problem})", f"not valid YAML ({problem})"
        ) from exc
    return parse_mapping(data, str(path))
