"""Checks within one table: the pandera contract and duplicate rows and ids.

The contract is checked by pandera on the whole parsed frame at once (``lazy=True``);
its failure cases are mapped back to rows, so each becomes an issue with the row's
position, the column, the value and the check code of :data:`evaluation.schemas.CHECKS`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from evaluation import schemas
from evaluation.ingest.language import say
from evaluation.ingest.parse import ISSUE_COLUMNS, concat_issues, issues_frame, no_issues

#: pandera's own check names -> contract check codes.
_PANDERA_CHECKS = {"not_nullable": "missing_required"}
_MAX_LISTED = 5


class ContractBug(RuntimeError):
    """The ingest produced a frame pandera cannot check row by row (a bug, not bad data)."""


def _display(value: object) -> str | None:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return f"{value:%d.%m.%Y}"
    return str(value)


def allowed(col: schemas.Column, check: str) -> str:
    """What the contract allows, for the reason text of a failed check."""
    low, high = col.bounds
    if check == "unknown_code" and col.codes:
        codes = ", ".join(col.codes)
        return say(f"erlaubt: {codes} (oder ihre deutschen oder englischen Bezeichnungen)",
                   f"allowed: {codes} (or their German or English labels)")  # fmt: skip
    if check == "not_allowed" and col.allowed:
        return say("erlaubt: ", "allowed: ") + ", ".join(str(v) for v in col.allowed)
    if check == "out_of_range":
        low_text, high_text = _display(low) or "", _display(high) or ""
        return (
            say(f"erlaubt: {low_text} bis {high_text}", f"allowed: {low_text} to {high_text}")
            .replace("  ", " ")
            .strip()
        )
    if check == "bad_format" and col.pattern:
        return say(f"erwartetes Muster {col.pattern}", f"expected pattern {col.pattern}")
    if check == "too_long":
        return say(
            f"mehr als {schemas.MAX_TEXT_LENGTH} Zeichen",
            f"more than {schemas.MAX_TEXT_LENGTH} characters",
        )
    return ""


def contract_issues(table: str, frame: pd.DataFrame, parse_issues: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``frame`` (parsed dtypes) that break the contract of ``table``.

    Failures on a cell that already failed to parse are left out: the parse issue says
    more than "required value missing".
    """
    import pandera.pandas as pa

    try:
        with warnings.catch_warnings():  # pandera's own concat of failure cases (pandas 2.x)
            warnings.filterwarnings("ignore", category=FutureWarning, module="pandera")
            # inplace: the schema coerces nothing, so pandera need not copy the frame
            schemas.pandera_schema(table, "parsed").validate(frame, lazy=True, inplace=True)
        return no_issues()
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases
    if cases["index"].isna().any():
        detail = (
            cases.loc[cases["index"].isna(), ["column", "check"]]
            .drop_duplicates()
            .to_dict("records")
        )
        raise ContractBug(f"{table}: schema-level failures {detail}")
    rule_columns = {rule.code: rule.column for rule in schemas.TABLES[table].rules}
    is_rule = cases["check"].isin(list(rule_columns)).to_numpy()
    columns = cases[~is_rule]
    rules = cases[is_rule].drop_duplicates(["check", "index"])
    blamed = rules["check"].map(rule_columns)
    rule_rows = rules["index"].astype(np.int64).to_numpy()
    rules = rules.assign(
        column=blamed,
        failure_case=[frame[c].iat[r] for c, r in zip(blamed, rule_rows, strict=True)],
    )
    found = pd.concat([f for f in (columns, rules) if len(f)], ignore_index=True)
    found = found.assign(
        row=found["index"].astype(np.int64), check=found["check"].replace(_PANDERA_CHECKS)
    )
    already = set(zip(parse_issues["row"], parse_issues["column"], strict=True))
    keep = [(r, c) not in already for r, c in zip(found["row"], found["column"], strict=True)]
    found = found[keep]
    spec = schemas.TABLES[table]
    pseudonyms = {c.name for c in spec.columns if c.pseudonym}
    details = {
        (c.name, check): allowed(c, check) for c in spec.columns for check in set(found["check"])
    }
    return pd.DataFrame(
        {
            "row": found["row"].to_numpy(),
            "column": found["column"].to_numpy(),
            "source_column": None,
            "value": [_display(v) for v in found["failure_case"]],
            "check": found["check"].to_numpy(),
            "detail": [
                details.get((c, k), "")
                for c, k in zip(found["column"], found["check"], strict=True)
            ],
            "privacy": ["clear" if c in pseudonyms else "check" for c in found["column"]],
        },
        columns=ISSUE_COLUMNS,
    )


def duplicate_issues(
    table: str, frame: pd.DataFrame, ok: np.ndarray, locate: Callable[[Sequence[int]], list[str]]
) -> pd.DataFrame:
    """Exact duplicate rows and rows sharing a key, among the rows still ``ok``.

    An exact copy of an earlier row is quarantined and the first kept. Rows that share a
    key but differ elsewhere are all quarantined: which one is right cannot be told.
    Tables without a key are not checked here (two identical rows may both be real).

    Parameters
    ----------
    locate
        Row positions -> ``"file row N"`` labels for the detail text.
    """
    key = list(schemas.TABLES[table].key)
    if not key:
        return no_issues()
    rows = np.flatnonzero(ok)
    # Rows that are exact copies share their key too: only rows whose key occurs more than
    # once among the rows still ok are compared on every column.
    keys = frame[key] if len(rows) == len(frame) else frame[key].iloc[rows]
    shared = keys.duplicated(keep=False).to_numpy()
    if not shared.any():
        return no_issues()
    rows = rows[shared]
    sub = frame.iloc[rows]
    exact = sub.duplicated(keep="first").to_numpy()
    found = []
    if exact.any():
        group = sub.groupby(list(sub.columns), dropna=False, sort=False).ngroup().to_numpy()
        first = pd.Series(rows).groupby(group).transform("first").to_numpy()
        found.append(
            issues_frame(
                rows[exact],
                "+".join(key),
                _key_values(sub[exact], key),
                "exact_duplicate",
                detail=[
                    say(f"gleich wie {where}", f"same as {where}") for where in locate(first[exact])
                ],
                privacy="clear",
            )
        )
    rest = rows[~exact]
    sub = frame.iloc[rest]
    clash = sub.duplicated(subset=key, keep=False).to_numpy()
    if clash.any():
        clashing = sub[clash]
        group = clashing.groupby(key, dropna=False, sort=False).ngroup().to_numpy()
        members = pd.Series(rest[clash]).groupby(group).agg(list).to_dict()
        labels = dict(zip(rest[clash], locate(rest[clash]), strict=True))
        details = [
            say("auch in ", "also in ")
            + ", ".join([labels[m] for m in members[g] if m != r][:_MAX_LISTED])
            for r, g in zip(rest[clash], group, strict=True)
        ]
        found.append(
            issues_frame(
                rest[clash],
                "+".join(key),
                _key_values(clashing, key),
                "duplicate_key",
                detail=details,
                privacy="clear",
            )
        )
    return concat_issues(found)


def _key_values(frame: pd.DataFrame, key: list[str]) -> list[str]:
    parts = [frame[k].map(_display).fillna("").astype(str) for k in key]
    joined = parts[0]
    for part in parts[1:]:
        joined = joined + "|" + part
    return joined.tolist()
