"""Checks between tables, the quarantine file and the reconciliation of row counts.

References are checked against the *accepted* rows of the parent table, tables in
:func:`evaluation.schemas.load_order`, so that no accepted row refers to a row that is not
in the snapshot (a follow-up of a quarantined enrolment is quarantined too, with its own
reason). A reference to a table that is not part of the ingest cannot be checked; it is
listed in the manifest as skipped.

Reconciliation: for every table, rows read = rows accepted + rows quarantined.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from evaluation import schemas
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
    for ref in spec.references:
        if ref.parent not in accepted:
            continue
        rows = np.flatnonzero(ok & frame[ref.column].notna().to_numpy())
        values = frame[ref.column].iloc[rows]
        known = values.isin(accepted[ref.parent][ref.parent_column]).to_numpy()
        anywhere = values.isin(parsed[ref.parent][ref.parent_column]).to_numpy()
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
        lookup = accepted[rule.parent].set_index(rule.parent_key)[rule.parent_column]
        rows = np.flatnonzero(
            ok & frame[rule.via].notna().to_numpy() & frame[rule.column].notna().to_numpy()
        )
        child = frame[rule.column].iloc[rows].reset_index(drop=True)
        parent = frame[rule.via].iloc[rows].map(lookup).reset_index(drop=True)
        missing = parent.isna().to_numpy()
        passed = _COMPARE[rule.relation](child[~missing], parent[~missing]).to_numpy(dtype=bool)
        failed = np.zeros(len(rows), dtype=bool)
        failed[np.flatnonzero(~missing)[~passed]] = True
        privacy = "clear" if spec.column(rule.column).pseudonym else "check"
        if failed.any():
            found.append(issues_frame(rows[failed], rule.column, child[failed].map(_text).tolist(), rule.code, privacy=privacy,
                                      detail=[f"{rule.parent}.{rule.parent_column} = {_text(p)}" for p in parent[failed]]))  # fmt: skip
        if rule.missing_code and missing.any():
            found.append(issues_frame(rows[missing], rule.column, child[missing].map(_text).tolist(), rule.missing_code,
                                      privacy=privacy, detail=f"{rule.parent}.{rule.parent_column} is empty"))  # fmt: skip
    return concat_issues(found)


#: Identifying columns whose values are compared with all free text of the ingest.
EXACT_IDENTIFIERS = ("birth_date", "phone", "email")
#: Identifying columns compared with the free text of their own row only (against all rows,
#: a surname like "Ehrenfeld" or "Koch" would send district or profession rows to quarantine).
NAME_IDENTIFIERS = ("first_name", "last_name", "full_name")


def identifier_issues(
    table: str,
    frame: pd.DataFrame,
    ok: np.ndarray,
    known: pd.Index,
    row_names: Sequence[frozenset[str]] | None,
) -> pd.DataFrame:
    """Rows whose safe free text holds an identifier.

    Parameters
    ----------
    known
        Lower-case raw ids, birth dates, phone numbers and e-mail addresses of the ingest:
        a free-text value equal to one of them is quarantined.
    row_names
        Per row, the lower-case words of that row's name columns (``None``: the table has
        none): a free-text value sharing such a word is quarantined.
    """
    found = []
    for col in schemas.TABLES[table].columns:
        if not col.safe_text:
            continue
        rows = np.flatnonzero(ok & frame[col.name].notna().to_numpy())
        values = frame[col.name].iloc[rows]
        hit = values.str.strip().str.lower().isin(known).to_numpy()
        if row_names is not None:
            hit |= np.array(
                [bool(tokens(v) & row_names[r]) for v, r in zip(values, rows, strict=True)],
                dtype=bool,
            )
        if hit.any():
            found.append(issues_frame(rows[hit], col.name, values[hit].tolist(), "looks_identifying",
                                      detail="holds an identifier (id, name, birth date or contact data)", privacy="mask"))  # fmt: skip
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
                out.append(f"{name}.{column} -> {parent} (not in this ingest)")
    return sorted(set(out))


def _text(value: object) -> str:
    if isinstance(value, pd.Timestamp):
        return f"{value:%d.%m.%Y}"
    return "" if pd.isna(value) else str(value)


# --------------------------------------------------------------------------------------
# Quarantine
# --------------------------------------------------------------------------------------


def reason(check: str, detail: str) -> str:
    """English reason of a check, with its detail."""
    text = schemas.CHECKS.get(check, (check, check))[1]
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
        value=mask_values(values, privacy, found),
        reason=[
            reason(c, d)
            for c, d in zip(entries["check"], entries["detail"].fillna(""), strict=True)
        ],
        source_column=entries["source_column"].fillna(""),
    )
    out = out[QUARANTINE_COLUMNS].sort_values(
        ["table", "source_file", "source_row", "column", "check"], kind="stable"
    )
    return out.reset_index(drop=True).astype({"source_row": "int64"})


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
