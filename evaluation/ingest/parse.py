"""From text cells to typed values, and person ids to pseudonyms.

Each column is parsed over its *distinct* values (a million rows of follow-ups hold a few
thousand dates), then the result is spread back to the rows: vectorised where it matters,
exact everywhere. A value that cannot be parsed becomes missing in the typed frame and an
*issue* (row, column, value, check) that sends the row to quarantine; nothing is guessed.

Accepted formats: dates ``TT.MM.JJJJ`` or ``JJJJ-MM-TT`` (a time of day is ignored);
months also ``MM.JJJJ`` or ``JJJJ-MM``; numbers with decimal comma and ``.`` as thousands
separator in German sources (``;``-CSV and workbooks), with decimal point in ``,``-CSV;
yes/no as ``ja/nein``, ``wahr/falsch``, ``x``, ``1/0``, ``yes/no``; codes as code or as
German or English label.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from evaluation import schemas
from evaluation.ingest.pseudonymise import Pseudonymiser, normalise_id_array
from evaluation.ingest.read import WHITESPACE, Locale, RawPart

ISSUE_COLUMNS = ["row", "column", "source_column", "value", "check", "detail", "privacy"]
#: How an issue's value may be shown in the quarantine file: ``mask`` (raw ids, birth
#: dates: never in clear), ``clear`` (pseudonyms: safe), ``check`` (shown unless it looks
#: identifying or contains a word from the ingest's identifying columns).
Privacy = Literal["mask", "clear", "check"]

_TIME = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
_DATE_DE = re.compile(rf"(\d{{1,2}})\.(\d{{1,2}})\.(\d{{4}}){_TIME}")
_DATE_ISO = re.compile(rf"(\d{{4}})-(\d{{1,2}})-(\d{{1,2}}){_TIME}")
_MONTH_DE = re.compile(r"(\d{1,2})[./](\d{4})")
_MONTH_ISO = re.compile(r"(\d{4})-(\d{1,2})")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_DE_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:\.\d{3})+(?:,\d+)?")
_EN_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_FIRST_YEAR, _LAST_YEAR = 1678, 2261  # what datetime64[ns] can hold
_WHOLE_LIMIT = 2**53

#: Per distinct value: parsed value (None = missing) or the check code that failed.
Outcome = tuple[object, str | None]


def issues_frame(
    rows: np.ndarray | Sequence[int],
    column: str,
    values: Sequence[object],
    check: str,
    *,
    detail: str | Sequence[str] = "",
    source_column: str | None = None,
    privacy: Privacy = "check",
) -> pd.DataFrame:
    """Issues in the common layout: one line per row, column and failed check."""
    rows = np.asarray(rows, dtype=np.int64)
    return pd.DataFrame(
        {
            "row": rows,
            "column": column,
            "source_column": source_column,
            "value": [None if v is None or v is pd.NA or v is pd.NaT else str(v) for v in values],
            "check": check,
            "detail": detail if isinstance(detail, str) else list(detail),
            "privacy": privacy,
        },
        columns=ISSUE_COLUMNS,
    )


def no_issues() -> pd.DataFrame:
    return issues_frame([], "", [], "")


def concat_issues(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Stack issue frames (empty ones left out, so dtypes stay as they are)."""
    found = [f for f in frames if len(f)]
    return pd.concat(found, ignore_index=True)[ISSUE_COLUMNS] if found else no_issues()


@dataclass
class ParsedPart:
    """A part's rows with typed values (parsed dtypes) and the issues found while parsing."""

    frame: pd.DataFrame
    issues: pd.DataFrame


# --------------------------------------------------------------------------------------
# Single values
# --------------------------------------------------------------------------------------


def parse_date(text: str, formats: Sequence[str] = ()) -> Outcome:
    """``TT.MM.JJJJ`` or ``JJJJ-MM-TT`` (or one of ``formats``) -> Timestamp.

    ``31.02.2021`` is not a date. ``formats`` are ``strptime`` formats from the mapping
    (e.g. ``%d.%m.%y``), tried first.
    """
    for fmt in formats:
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return _timestamp(parsed.year, parsed.month, parsed.day, "not_a_date")
    if m := _DATE_DE.fullmatch(text):
        day, month, year = (int(g) for g in m.groups())
    elif m := _DATE_ISO.fullmatch(text):
        year, month, day = (int(g) for g in m.groups())
    else:
        return None, "not_a_date"
    return _timestamp(year, month, day, "not_a_date")


def parse_month(text: str, formats: Sequence[str] = ()) -> Outcome:
    """``MM.JJJJ``, ``JJJJ-MM`` or a full date -> first day of that month."""
    for fmt in formats:
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return _timestamp(parsed.year, parsed.month, 1, "not_a_month")
    if m := _MONTH_DE.fullmatch(text):
        month, year = (int(g) for g in m.groups())
    elif m := _MONTH_ISO.fullmatch(text):
        year, month = (int(g) for g in m.groups())
    else:
        value, error = parse_date(text, formats)
        if error:
            return None, "not_a_month"
        year, month = value.year, value.month
    return _timestamp(year, month, 1, "not_a_month")


def _timestamp(year: int, month: int, day: int, error: str) -> Outcome:
    if not _FIRST_YEAR <= year <= _LAST_YEAR:
        return None, "out_of_range"
    try:
        date(year, month, day)
    except ValueError:
        return None, error
    return pd.Timestamp(year, month, day), None


def parse_number(text: str, locale: Locale) -> Outcome:
    """A finite number; German sources: decimal comma and ``.`` between thousands."""
    text = text.replace("\u00a0", "").replace("\u202f", "")
    if locale == "de":
        if _DE_THOUSANDS.fullmatch(text):
            text = text.replace(".", "").replace(",", ".")
        elif text.count(",") == 1 and "." not in text:
            text = text.replace(",", ".")
    elif _EN_THOUSANDS.fullmatch(text):
        text = text.replace(",", "")
    if not _NUMBER.fullmatch(text):
        return None, "not_a_number"
    value = float(text)
    return (value, None) if math.isfinite(value) else (None, "out_of_range")


def parse_integer(text: str, locale: Locale) -> Outcome:
    value, error = parse_number(text, locale)
    if error:
        return None, error
    if not float(value).is_integer():
        return None, "not_whole_number"
    if abs(value) >= _WHOLE_LIMIT:
        return None, "out_of_range"
    return int(value), None


# --------------------------------------------------------------------------------------
# Columns
# --------------------------------------------------------------------------------------


def _outcomes(
    texts: list[str], col: schemas.Column, table: str, locale: Locale, formats: Sequence[str] = ()
) -> list[Outcome]:
    """Parse the distinct non-empty texts of a column (ids are handled separately)."""
    if col.kind == "date":
        return [parse_date(t, formats) for t in texts]
    if col.kind == "month":
        return [parse_month(t, formats) for t in texts]
    if col.kind == "integer":
        return [parse_integer(t, locale) for t in texts]
    if col.kind == "number":
        return [parse_number(t, locale) for t in texts]
    if col.kind == "boolean":
        lookup = schemas.boolean_lookup()
        return [
            (lookup[k], None) if (k := schemas.normalise(t)) in lookup else (None, "not_yes_no")
            for t in texts
        ]
    if col.codes:
        lookup = schemas.value_lookup(table, col.name)
        return [(lookup.get(schemas.normalise(t), t), None) for t in texts]
    if col.safe_text:
        return [(" ".join(t.split()), None) for t in texts]
    return [(t, None) for t in texts]


def _id_outcomes(
    texts: pa.Array, col: schemas.Column, pseudonymiser: Pseudonymiser, *, unique: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Pseudonyms of distinct raw ids: the HMAC is computed once per distinct normalised id
    (``"007"`` and ``"7"`` are one id), not per row.

    Returns the pseudonym (``None`` for an invalid id) and the failed check (``None`` or
    ``"invalid_id"``) of each text, as object arrays.

    ``unique``: the texts are known to differ from each other. When normalising changes
    none of them (ids as the software writes them: upper case, no leading zeros), they are
    the distinct normalised ids already and are not dictionary-encoded a second time.
    """
    normal = normalise_id_array(texts)
    if unique and normal.null_count == 0 and pc.all(pc.equal(normal, texts)).as_py() is not False:
        pseudonyms = pseudonymiser.pseudonymise_distinct(normal, col.pseudonym)
        return pseudonyms, np.full(len(pseudonyms), None, dtype=object)
    encoded = pc.dictionary_encode(normal)
    distinct = encoded.dictionary
    pseudonyms = np.append(pseudonymiser.pseudonymise_distinct(distinct, col.pseudonym), None)
    which = pc.fill_null(encoded.indices, len(distinct)).to_numpy(zero_copy_only=False)
    values = pseudonyms[which]  # an invalid id (null) takes the trailing None
    errors = np.where(
        pc.is_null(encoded.indices).to_numpy(zero_copy_only=False), "invalid_id", None
    )
    return values, errors.astype(object)


def _arrow_text(values: pd.Series) -> pa.Array | pa.ChunkedArray:
    """The column as Arrow strings (missing values as null); Arrow-backed text is taken
    as it is, in its chunks."""
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        chunked = values.array.__arrow_array__()
        if pa.types.is_large_string(chunked.type) or pa.types.is_string(chunked.type):
            return chunked.cast(pa.large_string())
    try:
        arr = pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        arr = None
    if arr is None or not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)
                           or pa.types.is_null(arr.type)):  # fmt: skip
        texts = [v if isinstance(v, str) else None if _is_missing(v) else str(v) for v in values]
        arr = pa.array(texts, type=pa.large_string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr.cast(pa.large_string())


def _is_missing(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def distinct_texts(values: pd.Series) -> tuple[np.ndarray, pa.Array]:
    """Codes per row and the distinct texts they stand for, with surrounding whitespace
    (as :meth:`str.strip` sees it) removed and missing values as ``""``.

    Dictionary-encoded by Arrow over the raw cells; only the distinct values are stripped,
    so two spellings that differ in spaces only may share a text (they parse alike).

    Returns
    -------
    codes : numpy.ndarray
        Per row, the position of its text.
    texts : pyarrow.Array
        The distinct texts (``large_string``, no nulls).
    """
    codes, texts, _ = _distinct_texts(values)
    return codes, texts


def _distinct_texts(values: pd.Series) -> tuple[np.ndarray, pa.Array, bool]:
    """:func:`distinct_texts`, and whether the texts are unique (no two raw values became
    one text by stripping)."""
    encoded = pc.dictionary_encode(pc.fill_null(_arrow_text(values), ""))
    if isinstance(encoded, pa.ChunkedArray):  # one dictionary for all chunks
        encoded = encoded.combine_chunks() if encoded.num_chunks else pc.dictionary_encode(
            pa.array([], type=pa.large_string()))  # fmt: skip
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.intp, copy=False)
    raw = encoded.dictionary
    texts = pc.utf8_trim(raw, characters=WHITESPACE)
    # the raw values are distinct; stripped, they stay so when stripping took nothing away
    unique = len(texts) == 0 or pc.all(pc.equal(texts, raw)).as_py() is not False
    return codes, texts, unique


def parse_column(
    values: pd.Series,
    col: schemas.Column,
    table: str,
    locale: Locale,
    pseudonymiser: Pseudonymiser | None = None,
    *,
    value_map: Mapping[str, str] | None = None,
    formats: Sequence[str] = (),
) -> tuple[pd.Series, pd.DataFrame]:
    """Parse one text column; return typed values (``col.parsed_dtype``) and issues.

    Issues carry the row position within ``values``; the value of an id column is to be
    masked (it is a raw client number). A value longer than
    :data:`evaluation.schemas.MAX_TEXT_LENGTH` is ``too_long`` before any pattern is tried.
    Every step works on the column's distinct values; the outcome is spread back to the
    rows with their dictionary codes.

    Parameters
    ----------
    value_map
        The mapping's own spellings: normalised source value -> value to parse instead.
    formats
        Extra date formats (``strptime``) from the mapping.
    """
    codes, texts, unique = _distinct_texts(values)
    if value_map:
        unique = False
        mapped = [
            value_map.get(schemas.normalise(t) or t, t) if t else t for t in texts.to_pylist()
        ]
        texts = pa.array(mapped, type=pa.large_string())
    lengths = pc.utf8_length(texts).to_numpy(zero_copy_only=False)
    errors = np.full(len(texts), None, dtype=object)
    errors[lengths > schemas.MAX_TEXT_LENGTH] = "too_long"
    if col.suppressed:
        markers = pa.array(list(col.suppressed), type=pa.large_string())
        hidden = pc.is_in(texts, value_set=markers).to_numpy(zero_copy_only=False)
        errors[hidden & (lengths <= schemas.MAX_TEXT_LENGTH)] = "suppressed_in_source"
    todo = np.flatnonzero((lengths > 0) & (errors == None))  # noqa: E711 - elementwise
    if col.pseudonym:
        if pseudonymiser is None:
            raise ValueError(f"column {col.name} needs a pseudonymiser")
        parsed, failed = _id_outcomes(texts.take(todo), col, pseudonymiser, unique=unique)
        distinct = np.full(len(texts), None, dtype=object)
        distinct[todo] = parsed
        typed = (
            distinct if col.parsed_dtype == "object" else _typed(list(distinct), col.parsed_dtype)
        )
    else:
        outcomes = _outcomes(texts.take(todo).to_pylist(), col, table, locale, formats)
        distinct_values: list[object] = [None] * len(texts)
        failed = np.full(len(todo), None, dtype=object)
        for j, (i, (value, error)) in enumerate(zip(todo, outcomes, strict=True)):
            distinct_values[i] = value
            failed[j] = error
        typed = _typed(distinct_values, col.parsed_dtype)
    errors[todo] = failed
    result = pd.Series(typed.take(codes), name=col.name)
    failing = errors != None  # noqa: E711 - elementwise comparison
    if not len(codes) or not failing.any():
        return result, no_issues()
    checks = sorted(set(errors[failing]))
    number = np.full(len(texts), -1, dtype=np.int8)
    for k, check in enumerate(checks):
        number[errors == check] = k
    row_number = number[codes]
    frames = []
    for k, check in enumerate(checks):
        rows = np.flatnonzero(row_number == k)
        frames.append(issues_frame(
            rows,
            col.name,
            texts.take(codes[rows]).to_pylist(),
            check,
            detail=_detail(check),
            privacy="mask" if col.pseudonym or check == "too_long" else "check",
        ))  # fmt: skip
    return result, concat_issues(frames)


def _detail(check: str) -> str:
    if check == "too_long":
        return f"> {schemas.MAX_TEXT_LENGTH}"
    return ""


def _typed(values: list[object], dtype: str):
    """Build the array of parsed distinct values (None -> missing) in ``dtype``."""
    if dtype == "datetime64[ns]":
        return pd.array([pd.NaT if v is None else v for v in values], dtype="datetime64[ns]")
    if dtype == "float64":
        return np.array([np.nan if v is None else v for v in values], dtype="float64")
    if dtype == "object":
        return np.array(values, dtype=object)
    return pd.array(values, dtype=dtype)


def _missing(col: schemas.Column, n: int) -> pd.Series:
    return pd.Series(
        _typed([None], col.parsed_dtype).take(np.zeros(n, dtype=np.int64)), name=col.name
    )


def parse_part(part: RawPart, pseudonymiser: Pseudonymiser) -> ParsedPart:
    """Parse all contract columns of one part; absent optional columns are all missing."""
    spec = schemas.TABLES[part.table]
    n = len(part.frame)
    columns: dict[str, pd.Series] = {}
    issues: list[pd.DataFrame] = []
    rule = part.rule
    for col in spec.columns:
        if col.name in part.frame:
            values, found = parse_column(
                part.frame[col.name], col, part.table, part.locale, pseudonymiser,
                value_map=rule.values.get(col.name) if rule else None,
                formats=rule.date_formats if rule else (),
            )  # fmt: skip
            issues.append(found.assign(source_column=part.headers[col.name]))
        else:
            values = _missing(col, n)
        if col.derive_from and col.derive_from in part.frame:
            values, found = _derive(values, part, col)
            issues.append(found)
        columns[col.name] = values.reset_index(drop=True)
    frame = pd.DataFrame(columns, index=pd.RangeIndex(n), copy=False)  # no consolidation copy
    return ParsedPart(frame, concat_issues(issues))


_DERIVATIONS: dict[str, Callable[[pd.Series], pd.Series]] = {
    "birth_date": lambda dates: pd.Series(dates.dt.year, dtype="Int64"),
}


def _derive(
    values: pd.Series, part: RawPart, col: schemas.Column
) -> tuple[pd.Series, pd.DataFrame]:
    """Fill ``col`` from the identifying column it derives from (birth date -> year).

    The identifying value itself is never kept; issues about it are masked.
    """
    source = part.frame[col.derive_from]
    date_col = schemas.Column(
        col.derive_from,
        "date",
        "",
        "",
        "",
        "",
        required=False,
        minimum=pd.Timestamp(_FIRST_YEAR, 1, 1),
    )
    formats = part.rule.date_formats if part.rule else ()
    dates, issues = parse_column(source, date_col, part.table, part.locale, formats=formats)
    derived = _DERIVATIONS[col.derive_from](dates)
    filled = values.where(values.notna(), derived).astype(col.parsed_dtype)
    header = part.headers[col.derive_from]
    return filled, issues.assign(column=col.name, source_column=header, privacy="mask")
