"""Checks between tables, the quarantine file and the reconciliation of row counts.

References are checked against the *accepted* rows of the parent table, tables in
:func:`evaluation.schemas.load_order`, so that no accepted row refers to a row that is not
in the snapshot (a follow-up of a quarantined enrolment is quarantined too, with its own
reason). A reference to a table that is not part of the ingest cannot be checked; it is
listed in the manifest as skipped.

Reconciliation: for every table, rows read = rows accepted + rows quarantined.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd

from evaluation import schemas
from evaluation.ingest.language import current, say
from evaluation.ingest.parse import concat_issues, issues_frame
from evaluation.ingest.pseudonymise import mask_values, tokens

QUARANTINE_COLUMNS = [
    "table",
    "source_file",
    "source_row",
    "column",
    "source_column",
    "value",
    "check",
    "reason",
]
RECONCILIATION_COLUMNS = [
    "table",
    "sources",
    "rows_read",
    "rows_accepted",
    "rows_quarantined",
    "blank_rows",
    "balanced",
]
_COMPARE = {
    "not_before": lambda child, parent: child >= parent,
    "after": lambda child, parent: child > parent,
    "equal": lambda child, parent: child == parent,
}


def reference_issues(
    table: str,
    frame: pd.DataFrame,
    ok: np.ndarray,
    accepted: Mapping[str, pd.DataFrame],
    parsed: Mapping[str, pd.DataFrame],
) -> pd.DataFrame:
    """Rows (among ``ok``) that refer to unknown or quarantined parent rows.

    Parameters
    ----------
    accepted
        Accepted rows of the tables checked so far.
    parsed
        All parsed rows of every table in the ingest (to tell "unknown" from "quarantined").
    """
    spec = schemas.TABLES[table]
    ok = ok.copy()
    found: list[pd.DataFrame] = []
    positions: dict[tuple[str, str, str], np.ndarray] = {}
    for ref in spec.references:
        if ref.parent not in accepted:
            continue
        rows = np.flatnonzero(ok & frame[ref.column].notna().to_numpy())
        values = frame[ref.column].iloc[rows]
        parent = accepted[ref.parent][ref.parent_column]
        tag = (ref.parent, ref.parent_column, ref.column)
        if tag not in positions and parent.is_unique:  # the parent's key: look up once
            positions[tag] = pd.Index(parent).get_indexer(frame[ref.column])
        # the positions are shared with the rules that look up the same parent rows
        known = positions[tag][rows] >= 0 if tag in positions else values.isin(parent).to_numpy()
        anywhere = known.copy()  # a value of an accepted row is among all parsed rows
        anywhere[~known] = values[~known].isin(parsed[ref.parent][ref.parent_column]).to_numpy()
        privacy = "clear" if spec.column(ref.column).pseudonym else "check"
        for check, bad in (
            ("unknown_reference", ~anywhere),
            ("quarantined_reference", anywhere & ~known),
        ):
            if bad.any():
                found.append(issues_frame(rows[bad], ref.column, values[bad].tolist(), check,
                                          detail=f"{ref.parent}.{ref.parent_column}", privacy=privacy))  # fmt: skip
        ok[rows[~known]] = False
    for rule in spec.parent_rules:
        if rule.parent not in accepted:
            continue
        rows = np.flatnonzero(
            ok & frame[rule.via].notna().to_numpy() & frame[rule.column].notna().to_numpy()
        )
        child = frame[rule.column].iloc[rows].reset_index(drop=True)
        parent = _parent_values(accepted[rule.parent], rule, frame[rule.via], rows, positions)
        missing = parent.isna().to_numpy()
        passed = _compare(rule.relation, child[~missing], parent[~missing])
        failed = np.zeros(len(rows), dtype=bool)
        failed[np.flatnonzero(~missing)[~passed]] = True
        privacy = "clear" if spec.column(rule.column).pseudonym else "check"
        if failed.any():
            found.append(issues_frame(rows[failed], rule.column, child[failed].map(_text).tolist(), rule.code, privacy=privacy,
                                      detail=[f"{rule.parent}.{rule.parent_column} = {_text(p)}" for p in parent[failed]]))  # fmt: skip
        if rule.missing_code and missing.any():
            found.append(issues_frame(rows[missing], rule.column, child[missing].map(_text).tolist(), rule.missing_code,
                                      privacy=privacy, detail=f"{rule.parent}.{rule.parent_column} " + say("ist leer", "is empty")))  # fmt: skip
    return concat_issues(found)


def _parent_values(
    parent: pd.DataFrame,
    rule: schemas.ParentRule,
    via: pd.Series,
    rows: np.ndarray,
    positions: dict[tuple[str, str, str], np.ndarray],
) -> pd.Series:
    """The parent's ``rule.parent_column`` for the child ``rows``, looked up through
    ``via`` (what ``via.map(parent.set_index(parent_key)[parent_column])`` gives).

    The positions of the parent rows are found once per parent key and ``via`` column and
    shared by the rules that use the same lookup (the key is unique in accepted rows).
    """
    tag = (rule.parent, rule.parent_key, rule.via)
    if tag not in positions:
        positions[tag] = pd.Index(parent[rule.parent_key]).get_indexer(via)
    values = parent[rule.parent_column].reset_index(drop=True)
    return values.reindex(positions[tag][rows]).reset_index(drop=True)  # -1: missing


def _compare(relation: str, child: pd.Series, parent: pd.Series) -> np.ndarray:
    """``_COMPARE[relation]`` as a boolean array (numpy directly for text, which pandas
    compares value by value)."""
    if child.dtype == object and parent.dtype == object:
        left, right = child.to_numpy(), parent.to_numpy()
        return np.asarray(_COMPARE[relation](left, right), dtype=bool)
    return _COMPARE[relation](child, parent).to_numpy(dtype=bool)


#: Identifying columns whose values are compared as whole values with all free text.
EXACT_IDENTIFIERS = ("birth_date", "phone", "email")
#: Identifying columns whose words are compared with all free text of the ingest.
NAME_IDENTIFIERS = ("first_name", "last_name", "full_name")
#: Identifying columns looked for as phrases inside free text (streets, e-mail addresses).
PHRASE_IDENTIFIERS = ("street", "email", "birth_place")
#: Free-text columns that hold a country (checked against the names of all countries).
COUNTRY_COLUMNS = frozenset({"country_of_origin", "country_of_training"})
#: Tables from public statistics, holding no personal data: no name or address shapes.
PUBLIC_TABLES = frozenset({"sozialraum"})
#: Country names that are no territory but appear in registers.
_EXTRA_COUNTRIES = (
    "staatenlos",
    "ungeklärt",
    "unbekannt",
    "stateless",
    "unknown",
    "Sowjetunion",
    "Jugoslawien",
)
_ADDRESS = re.compile(
    r"(?i)\b[\w.-]*(?:straße|strasse|str\.|weg|gasse|allee|platz|ring|damm|ufer|chaussee)\s*\d+\s?[a-z]?\b"
    r"|\b\d{5}\s+[A-ZÄÖÜ][a-zäöüß]+"
)
_NAME_SHAPE = re.compile(
    r"\b(?:Frau|Herr|Fr\.|Hr\.|Familie|Fam\.)\s+[A-ZÄÖÜ][\w'-]+"
    r"|\A[A-ZÄÖÜ][a-zäöüß'-]+,\s*[A-ZÄÖÜ][a-zäöüß'-]+\Z"
)


@dataclass(frozen=True)
class IngestIdentifiers:
    """Identifying data of the whole ingest, to be compared with every free-text value.

    Attributes
    ----------
    exact
        Lower-case raw ids, birth dates, phone numbers, e-mail addresses.
    words
        Lower-case words (three letters or more) of every name in the ingest.
    phrases
        Lower-case streets and e-mail addresses, looked for inside free text.
    """

    exact: frozenset[str] = frozenset()
    words: frozenset[str] = frozenset()
    phrases: tuple[str, ...] = ()

    @property
    def phrase_pattern(self) -> re.Pattern[str] | None:
        if not self.phrases:
            return None
        ordered = sorted(set(self.phrases), key=len, reverse=True)
        return re.compile("|".join(re.escape(p) for p in ordered))


@cache
def country_names() -> frozenset[str]:
    """Normalised names of all countries and territories, German and English (CLDR via babel)."""
    from babel import Locale

    names = set(_EXTRA_COUNTRIES)
    for language in ("de", "en"):
        names |= set(Locale(language).territories.values())
    return frozenset(schemas.normalise(n) for n in names)


def free_text_verdict(
    value: str, column: str, table: str, ids: IngestIdentifiers, phrases: re.Pattern[str] | None
) -> tuple[str, str] | None:
    """Why a free-text value may not enter the snapshot: ``(check, detail)``, or ``None``.

    Compared with the identifying data of the whole ingest (not only of its own row) and
    with the shapes of names and addresses; country columns must hold a country.
    """
    folded = value.strip().lower()
    if folded in ids.exact:
        return "looks_identifying", say("gleicht einer Kennung, einem Geburtsdatum oder Kontaktdaten des Imports",
                                        "equals an id, birth date or contact data of the ingest")  # fmt: skip
    if tokens(value) & ids.words:
        return "contains_name", say("steht im Import als Vor- oder Nachname",
                                    "occurs in the ingest as a first or last name")  # fmt: skip
    if phrases is not None and phrases.search(folded):
        return "looks_like_address", say("Straße oder E-Mail-Adresse aus diesem Import",
                                         "a street or e-mail address of this ingest")  # fmt: skip
    if table not in PUBLIC_TABLES:
        if _ADDRESS.search(value):
            return "looks_like_address", say(
                "hat die Form einer Anschrift", "is shaped like an address"
            )
        if _NAME_SHAPE.search(value):
            return "looks_like_name", say(
                "hat die Form eines Personennamens", "is shaped like a person's name"
            )
    if column in COUNTRY_COLUMNS and schemas.normalise(value) not in country_names():
        return "unknown_country", say(
            "kein Staat (deutscher oder englischer Name)", "not a country (German or English name)"
        )
    return None


def identifier_issues(
    table: str,
    frame: pd.DataFrame,
    ok: np.ndarray,
    ids: IngestIdentifiers,
) -> pd.DataFrame:
    """Rows whose free text holds identifying data of the ingest or looks like it.

    Each distinct value is judged once (:func:`free_text_verdict`); the value is masked in
    the quarantine file.
    """
    found = []
    phrases = ids.phrase_pattern
    for col in schemas.TABLES[table].columns:
        if not col.safe_text:
            continue
        rows = np.flatnonzero(ok & frame[col.name].notna().to_numpy())
        if not len(rows):
            continue
        values = frame[col.name].iloc[rows]
        verdicts = {v: free_text_verdict(v, col.name, table, ids, phrases) for v in values.unique()}
        judged = values.map(verdicts)
        for check in sorted({v[0] for v in verdicts.values() if v}):
            hit = judged.map(lambda v, c=check: bool(v) and v[0] == c).to_numpy(dtype=bool)
            found.append(issues_frame(rows[hit], col.name, values[hit].tolist(), check,
                                      detail=[v[1] for v in judged[hit]], privacy="mask"))  # fmt: skip
    return concat_issues(found)


def skipped_references(tables: Sequence[str]) -> list[str]:
    """References that cannot be checked because the parent table is not in the ingest."""
    present = set(tables)
    out = []
    for name in tables:
        spec = schemas.TABLES[name]
        for parent, column in [(r.parent, r.column) for r in spec.references] + [
            (r.parent, r.column) for r in spec.parent_rules
        ]:
            if parent not in present:
                out.append(
                    f"{name}.{column} -> {parent} "
                    + say("(nicht in diesem Import)", "(not in this ingest)")
                )
    return sorted(set(out))


def _text(value: object) -> str:
    if isinstance(value, pd.Timestamp):
        return f"{value:%d.%m.%Y}"
    return "" if pd.isna(value) else str(value)


# --------------------------------------------------------------------------------------
# Quarantine
# --------------------------------------------------------------------------------------


def reason(check: str, detail: str) -> str:
    """Reason of a check with its detail, in the current language (German by default)."""
    de, en = schemas.CHECKS.get(check, (check, check))
    text = en if current() == "en" else de
    return f"{text}: {detail}" if detail else text


def identifier_words(
    candidates: set[str], series: Sequence[pd.Series], whole: Sequence[pd.Series]
) -> set[str]:
    """Those ``candidates`` that occur in identifying data of the ingest.

    Parameters
    ----------
    candidates
        Lower-case words and values that are about to be shown in the quarantine file.
    series
        Identifying columns (names, streets, phone numbers, ...): compared as whole values
        and, for words with a letter (names, streets), word by word.
    whole
        Columns compared as whole values only (raw client numbers).
    """
    if not candidates:
        return set()
    wanted = pd.Index(sorted(candidates))
    found: set[str] = set()
    for values in series:
        words = values.astype(object).str.lower().str.findall(r"\w*[^\W\d_]\w*").explode().dropna()
        words = words[words.str.len() >= 3]
        found |= set(words[words.isin(wanted)])
    for values in [*series, *whole]:
        folded = values.str.strip().str.lower()
        found |= set(folded[folded.isin(wanted)])
    return found


def quarantine_frame(
    entries: pd.DataFrame, identifying: Sequence[pd.Series], whole: Sequence[pd.Series]
) -> pd.DataFrame:
    """The quarantine table: one line per row, column and reason, with masked values.

    Parameters
    ----------
    entries
        Issues with ``table``, ``source_file`` and ``source_row`` added.
    identifying, whole
        See :func:`identifier_words`.
    """
    if entries.empty:
        return pd.DataFrame(
            {
                c: pd.Series([], dtype=object if c != "source_row" else "int64")
                for c in QUARANTINE_COLUMNS
            }
        )
    values = [
        None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
        for v in entries["value"]
    ]
    privacy = entries["privacy"].fillna("mask").tolist()
    candidates = set()
    for value, how in zip(values, privacy, strict=True):
        if value and how == "check":
            candidates |= tokens(value) | {value.strip().lower()}
    found = identifier_words(candidates, identifying, whole)
    out = entries.assign(
        value=[neutralise(v) for v in mask_values(values, privacy, found)],
        reason=[
            neutralise(reason(c, d))
            for c, d in zip(entries["check"], entries["detail"].fillna(""), strict=True)
        ],
        source_column=[neutralise(_plain(v)) for v in entries["source_column"]],
        source_file=[neutralise(_plain(v)) for v in entries["source_file"]],
        column=[_plain(v) for v in entries["column"]],
    )
    out = out[QUARANTINE_COLUMNS].sort_values(
        ["table", "source_file", "source_row", "column", "check"], kind="stable"
    )
    return out.reset_index(drop=True).astype({"source_row": "int64"})


#: Characters that make a spreadsheet treat a cell as a formula (OWASP, CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: Quarantine file headers: column -> (German, English).
QUARANTINE_HEADERS: dict[str, tuple[str, str]] = {
    "table": ("Tabelle", "table"),
    "source_file": ("Datei", "file"),
    "source_row": ("Zeile", "row"),
    "column": ("Spalte", "column"),
    "source_column": ("Spalte in der Quelle", "source column"),
    "value": ("Wert (maskiert)", "value (masked)"),
    "check": ("Prüfung", "check"),
    "reason": ("Grund", "reason"),
}


def quarantine_headers() -> dict[str, str]:
    """Column -> header of the quarantine file, in the current language."""
    return {c: (en if current() == "en" else de) for c, (de, en) in QUARANTINE_HEADERS.items()}


def neutralise(value: str) -> str:
    """A cell made safe for spreadsheets, as OWASP recommends against CSV injection.

    A value starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a
    leading apostrophe, so Excel and LibreOffice show it as text instead of running it
    (``+cmd|' /C calc'!A0`` stays text); the CSV writer quotes what needs quoting.
    """
    if value and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _plain(value: object) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value)


def changes_frame(
    tables: Mapping[str, tuple[pd.DataFrame | None, pd.DataFrame]],
) -> pd.DataFrame:
    """Per table: rows before and after, and rows added, removed and changed.

    Rows are matched by the table's key (same key, other values: changed); tables
    without a key are compared as multisets of whole rows (changes show as added and
    removed). A table without a previous version has ``rows_before`` empty.
    """
    out = []
    for name, (old, new) in tables.items():
        if old is None:
            out.append({"table": name, "rows_before": None, "rows_after": len(new),
                        "added": len(new), "removed": 0, "changed": 0, "unchanged": 0})  # fmt: skip
            continue
        key = list(schemas.TABLES[name].key)
        old = old[[c for c in new.columns if c in old.columns]]
        if key and set(key) <= set(old.columns):
            o = old.set_index(key)
            n = new.set_index(key)
            both = o.index.intersection(n.index)
            added = len(n.index.difference(o.index))
            removed = len(o.index.difference(n.index))
            same = _row_hashes(o.loc[both]) == _row_hashes(n.loc[both])
            changed = int((~same).sum())
            unchanged = int(same.sum())
        else:
            a = _row_hashes(old).value_counts()
            b = _row_hashes(new).value_counts()
            common = a.index.intersection(b.index)
            kept = int(np.minimum(a[common], b[common]).sum())
            added, removed, changed, unchanged = len(new) - kept, len(old) - kept, 0, kept
        out.append({"table": name, "rows_before": len(old), "rows_after": len(new),
                    "added": int(added), "removed": int(removed), "changed": changed, "unchanged": unchanged})  # fmt: skip
    return pd.DataFrame(
        out,
        columns=["table", "rows_before", "rows_after", "added", "removed", "changed", "unchanged"],
    )


def _row_hashes(frame: pd.DataFrame) -> pd.Series:
    if frame.empty:
        return pd.Series([], dtype="uint64")
    return pd.Series(
        pd.util.hash_pandas_object(frame.reset_index(drop=False), index=False).to_numpy()
    )


def reconciliation_frame(counts: Mapping[str, Mapping[str, int]]) -> pd.DataFrame:
    """Per table: sources, rows read, accepted, quarantined, blank, and whether they add up."""
    rows = []
    for table, c in counts.items():
        balanced = c["rows_read"] == c["rows_accepted"] + c["rows_quarantined"]
        rows.append(
            {
                "table": table,
                **{k: int(c[k]) for k in RECONCILIATION_COLUMNS[1:-1]},
                "balanced": balanced,
            }
        )
    return pd.DataFrame(rows, columns=RECONCILIATION_COLUMNS)
