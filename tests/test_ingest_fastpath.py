"""The fast paths of the ingest give the same output as the careful ones (issue 13).

Each fast path is compared, on messy inputs drawn by hypothesis, with a careful reference:

* reading: Arrow's CSV reader (in parallel, small blocks so that several are used) against
  Python's csv module (the exact reader the ingest falls back to);
* parsing: :func:`~evaluation.ingest.parse.parse_column` (Arrow dictionary codes, every step
  over distinct values) against a row-by-row parse with the single-value functions;
* duplicates: :func:`~evaluation.ingest.validate.duplicate_issues` (full rows compared only
  where a key is shared) against the comparison of every row;
* the whole ingest: the fast paths against all careful ones at once - the same tables,
  quarantine, reconciliation and snapshot id.
"""

from __future__ import annotations

import io
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluation import schemas
from evaluation.ingest import ingest, parse, read, validate
from evaluation.ingest.parse import concat_issues, issues_frame, no_issues, parse_column
from evaluation.ingest.pseudonymise import Pseudonymiser, normalise_id
from tests.test_ingest_helpers import fresh_workspace
from tests.test_ingest_properties import garbled_participants

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
KEY = bytes(range(32))
SPACES = [" ", "\t", "\u00a0", "\u3000", "\x1f", ""]


# --------------------------------------------------------------------------------------
# Careful references
# --------------------------------------------------------------------------------------


def careful_parse_column(values, col, table, locale, pseudonymiser=None, *, value_map=None,
                         formats=()):  # fmt: skip
    """Row by row, with the single-value functions: what ``parse_column`` must equal."""
    out: list[object] = []
    found: dict[str, list[tuple[int, str]]] = {}
    for row, value in enumerate(values):
        missing = (
            value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))
        )
        text = "" if missing else str(value).strip()
        if value_map and text:
            text = value_map.get(schemas.normalise(text) or text, text)
        parsed, error = None, None
        if not text:
            pass
        elif len(text) > schemas.MAX_TEXT_LENGTH:
            error = "too_long"
        elif text in col.suppressed:
            error = "suppressed_in_source"
        elif col.pseudonym:
            normal = normalise_id(text)
            if normal is None:
                error = "invalid_id"
            else:
                parsed = pseudonymiser.pseudonym(normal, col.pseudonym)
        else:
            [(parsed, error)] = parse._outcomes([text], col, table, locale, formats)
        out.append(parsed)
        if error:
            found.setdefault(error, []).append((row, text))
    typed = pd.Series(parse._typed(out, col.parsed_dtype), name=col.name)
    frames = [
        issues_frame([r for r, _ in found[check]], col.name, [t for _, t in found[check]], check,
                     detail=parse._detail(check),
                     privacy="mask" if col.pseudonym or check == "too_long" else "check")
        for check in sorted(found)
    ]  # fmt: skip
    return typed, concat_issues(frames) if frames else no_issues()


def careful_duplicate_issues(table, frame, ok, locate):
    """Every row still ok compared with every other (the definition)."""
    key = list(schemas.TABLES[table].key)
    rows = np.flatnonzero(ok)
    sub = frame.iloc[rows]
    exact = sub.duplicated(keep="first").to_numpy()
    found = []
    if exact.any():
        group = sub.groupby(list(sub.columns), dropna=False, sort=False).ngroup().to_numpy()
        first = pd.Series(rows).groupby(group).transform("first").to_numpy()
        found.append(issues_frame(rows[exact], "+".join(key), validate._key_values(sub[exact], key),
                                  "exact_duplicate", privacy="clear",
                                  detail=[f"gleich wie {w}" for w in locate(first[exact])]))  # fmt: skip
    rest = rows[~exact]
    sub = frame.iloc[rest]
    clash = sub.duplicated(subset=key, keep=False).to_numpy()
    if clash.any():
        group = sub[clash].groupby(key, dropna=False, sort=False).ngroup().to_numpy()
        members = pd.Series(rest[clash]).groupby(group).agg(list).to_dict()
        labels = dict(zip(rest[clash], locate(rest[clash]), strict=True))
        details = ["auch in " + ", ".join([labels[m] for m in members[g] if m != r][:5])
                   for r, g in zip(rest[clash], group, strict=True)]  # fmt: skip
        found.append(issues_frame(rest[clash], "+".join(key), validate._key_values(sub[clash], key),
                                  "duplicate_key", detail=details, privacy="clear"))  # fmt: skip
    return concat_issues(found)


def careful_records(text: str, delimiter: str, header: list[str]):
    """The exact reader instead of Arrow."""
    return read._records_python(text, delimiter, len(header))


def _assert_issues_equal(fast: pd.DataFrame, careful: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        fast.reset_index(drop=True).astype(object),
        careful.reset_index(drop=True).astype(object),
        check_dtype=False,
    )


# --------------------------------------------------------------------------------------
# Parsing: distinct values and dictionary codes
# --------------------------------------------------------------------------------------

COLUMNS = [(t, c) for t, spec in schemas.TABLES.items() for c in spec.columns]


def _cell_texts(col: schemas.Column) -> st.SearchStrategy[object]:
    near = {
        "date": [
            "31.12.2023",
            "1.2.2020",
            "2020-02-29",
            "29.02.2021",
            "31.02.2023",
            "01.01.1500",
            "12.05.2022 10:30",
            "2022-13-01",
            "15.06.2024",
        ],
        "month": ["05.2023", "2023-05", "13.2023", "01.05.2023", "2023-5"],
        "integer": ["3", "007", "1.000", "2,5", "1e3", "-4", "12345678901234567890", "x"],
        "number": ["1,5", "1.234,5", "1.5", "-0,25", "inf", "nan", "1 000", "3"],
        "boolean": ["ja", "Nein", "x", "1", "0", "wahr", "yes", "vielleicht"],
    }.get(col.kind, [])
    codes = [label for code, labels in (col.codes or {}).items() for label in (code, *labels)]
    ids = ["P0001", "0001", "1", "p0001", " K1 ", "x y", "AB-12/3", "Ü", "0", "000"]
    known = near + codes + (ids if col.pseudonym else []) + list(col.suppressed)
    plain = st.sampled_from(known) if known else st.text(max_size=8)
    padded = st.tuples(st.sampled_from(SPACES), plain, st.sampled_from(SPACES)).map("".join)
    long = st.integers(schemas.MAX_TEXT_LENGTH - 1, schemas.MAX_TEXT_LENGTH + 2).map(
        lambda n: "1" * n
    )
    return st.one_of(plain, padded, st.text(max_size=6), long, st.just(""), st.none())


@st.composite
def column_case(draw):
    table, col = draw(st.sampled_from(COLUMNS))
    values = draw(st.lists(_cell_texts(col), max_size=40))
    if values and draw(st.booleans()):  # repeated values, as in a real export
        values = values * draw(st.integers(2, 4))
    storage = draw(st.sampled_from(["string[pyarrow]", "object"]))
    locale = draw(st.sampled_from(["de", "en"]))
    value_map = None
    if col.codes and draw(st.booleans()):
        value_map = {schemas.normalise("vielleicht"): next(iter(col.codes)),
                     schemas.normalise("x"): "unbekannt"}  # fmt: skip
    return table, col, pd.Series(values, dtype=storage), locale, value_map


@SETTINGS
@given(case=column_case())
def test_parse_column_equals_the_row_by_row_parse(case):
    table, col, values, locale, value_map = case
    pseudonymiser = Pseudonymiser(KEY) if col.pseudonym else None
    fast, fast_issues = parse_column(values, col, table, locale, pseudonymiser, value_map=value_map)
    careful, careful_issues = careful_parse_column(values, col, table, locale, pseudonymiser,
                                                   value_map=value_map)  # fmt: skip
    pd.testing.assert_series_equal(fast, careful)
    _assert_issues_equal(fast_issues, careful_issues)


def test_parse_column_handles_non_text_cells_like_the_row_by_row_parse():
    col = schemas.TABLES["followups"].column("months_after_exit")
    values = pd.Series([6, " 12 ", None, float("nan"), 6.0, "x"], dtype=object)
    fast, fast_issues = parse_column(values, col, "followups", "de")
    careful, careful_issues = careful_parse_column(values, col, "followups", "de")
    pd.testing.assert_series_equal(fast, careful)
    _assert_issues_equal(fast_issues, careful_issues)
    assert fast.tolist()[:2] == [6, 12] and fast.isna().tolist()[2:4] == [True, True]
    assert fast_issues["check"].tolist() == ["not_a_number"]


def test_whitespace_variants_of_one_value_share_their_outcome():
    col = schemas.TABLES["participants"].column("person_id")
    values = pd.Series(["K1", " K1", "K1\u3000", "k1", "\tK1 "], dtype="string[pyarrow]")
    typed, issues = parse_column(values, col, "participants", "de", Pseudonymiser(KEY))
    assert typed.nunique() == 1 and issues.empty


# --------------------------------------------------------------------------------------
# Reading: Arrow (parallel) against Python's csv module
# --------------------------------------------------------------------------------------


@st.composite
def csv_texts(draw) -> str:
    width = draw(st.integers(1, 4))
    cell = st.one_of(
        st.text(st.sampled_from(list("ab ü1;\t")), max_size=6),
        st.sampled_from(['"quoted; cell"', '"two\r\nlines"', '"a ""b"""', "", "   "]),
    )
    lines = ["|".join(f"h{i}" for i in range(width)).replace("|", ";")]
    for _ in range(draw(st.integers(0, 30))):
        n = draw(st.sampled_from([width, width, width, 0, width + 1, max(width - 1, 0)]))
        lines.append(";".join(draw(cell) for _ in range(n)))
    end = draw(st.sampled_from(["\r\n", "\n"]))
    return end.join(lines) + draw(st.sampled_from([end, ""]))


@SETTINGS
@given(text=csv_texts(), block=st.sampled_from([16, 64, 1 << 22]))
def test_arrow_reads_what_the_csv_module_reads(text, block, monkeypatch):
    monkeypatch.setattr(read, "ARROW_BLOCK_BYTES", block)  # several blocks, read in parallel
    header = read._line_fields(read.first_line(text), ";")
    try:
        fast = read._records_arrow(text, ";", header)
    except read._FallBack:
        return  # the ingest reads such a file with the exact reader itself
    assert_reads_alike(fast, read._records_python(text, ";", len(header)))


def assert_reads_alike(fast, careful) -> None:
    """Two reads of one text give the same records, row numbers and counts.

    Blank records are left out first (Arrow reads an empty line of a one-column file as one
    empty field, the csv module as no field): what remains is compared.
    """
    fast_rows, fast_numbers, fast_blank = read._drop_blank(fast[0], fast[1])
    careful_rows, careful_numbers, careful_blank = read._drop_blank(careful[0], careful[1])
    pd.testing.assert_frame_equal(fast_rows.astype(object), careful_rows.astype(object))
    assert fast_numbers.tolist() == careful_numbers.tolist()
    assert fast[2] == careful[2]
    assert fast[3] + fast_blank == careful[3] + careful_blank


@given(st.text(st.sampled_from(list("ab\r\n;")), max_size=30), st.integers(0, 30))
def test_first_line_is_what_readline_reads(text, start):
    start = min(start, len(text))
    assert read.first_line(text, start) == io.StringIO(text[start:], newline="").readline()


@given(st.lists(st.lists(st.sampled_from(["", " ", "\u3000", "\x1c", "a", " b "]), min_size=3,
                         max_size=3), max_size=12),
       st.sampled_from(["string[pyarrow]", "object"]))  # fmt: skip
def test_blank_rows_are_those_python_strip_finds_blank(rows, storage):
    frame = pd.DataFrame(rows, columns=range(3), dtype=storage) if rows else pd.DataFrame(
        {i: pd.Series([], dtype=storage) for i in range(3)})  # fmt: skip
    numbers = np.arange(2, 2 + len(rows))
    kept, kept_numbers, blank = read._drop_blank(frame, numbers)
    expected = [i for i, r in enumerate(rows) if any(c.strip() for c in r)]
    assert kept_numbers.tolist() == [int(numbers[i]) for i in expected]
    assert blank == len(rows) - len(expected)
    assert kept.astype(object).values.tolist() == [rows[i] for i in expected]


# --------------------------------------------------------------------------------------
# Duplicates
# --------------------------------------------------------------------------------------


@SETTINGS
@given(
    rows=st.lists(st.tuples(st.sampled_from(["E1", "E2", "E3", "e1", "", None, math.nan]),
                            st.sampled_from([6, 12, None]), st.sampled_from(["a", "b"])), max_size=25),
    ok_share=st.floats(0.3, 1.0),
    not_text=st.booleans(),
)  # fmt: skip
def test_duplicate_issues_equal_the_comparison_of_every_row(rows, ok_share, not_text):
    # missing ids as None and as NaN, an empty id, ids that differ in case only, and a
    # number among the ids (a column that is not all text)
    if not_text and rows:
        rows = [(7, *rows[0][1:]), *rows]
    frame = pd.DataFrame(rows, columns=["enrolment_id", "months_after_exit", "status"])
    frame = frame.astype({"enrolment_id": object, "months_after_exit": "Int64", "status": object})
    for c in schemas.TABLES["followups"].names:
        if c not in frame:
            frame[c] = None
    ok = (np.arange(len(frame)) * ok_share) % 1 < ok_share

    def locate(rs):
        return [f"Zeile {int(r) + 2}" for r in rs]

    fast = validate.duplicate_issues("followups", frame, ok, locate)
    careful = careful_duplicate_issues("followups", frame, ok, locate)
    _assert_issues_equal(fast, careful)


# --------------------------------------------------------------------------------------
# The whole ingest: fast paths against all careful ones
# --------------------------------------------------------------------------------------


def _ingest(folder: Path, data: bytes):
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    p, key = fresh_workspace(folder)
    file = folder / "teilnehmende.csv"
    file.write_bytes(data)
    key.write_text(KEY.hex() + "\n")
    key.chmod(0o600)
    return ingest([file], root=p, key_file=key)


def _careful(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(
        read, "_records_arrow", lambda text, d, header: (_ for _ in ()).throw(read._FallBack())
    )
    monkeypatch.setattr(parse, "parse_column", careful_parse_column)
    import evaluation.ingest.pipeline as pipeline

    monkeypatch.setattr(pipeline, "duplicate_issues", careful_duplicate_issues)


@SETTINGS
@given(case=garbled_participants(quotes=False), encoding=st.sampled_from(["cp1252", "utf-8-sig"]),
       copies=st.integers(1, 2))  # fmt: skip
def test_fast_ingest_equals_the_careful_ingest(tmp_path_factory, case, encoding, copies):
    text, _ = case
    head, _, body = text.partition("\r\n")
    text = head + "\r\n" + body * copies  # repeated rows: duplicates and clashing ids
    data = text.encode(encoding)
    fast = _ingest(tmp_path_factory.mktemp("fast"), data)
    with pytest.MonkeyPatch.context() as mp:
        _careful(mp)
        careful = _ingest(tmp_path_factory.mktemp("careful"), data)
    pd.testing.assert_frame_equal(fast.reconciliation, careful.reconciliation)
    pd.testing.assert_frame_equal(fast.quarantine, careful.quarantine)
    assert fast.tables.keys() == careful.tables.keys()
    for table in fast.tables:
        pd.testing.assert_frame_equal(fast.tables[table], careful.tables[table])
    assert fast.snapshot.id == careful.snapshot.id
    assert fast.columns == careful.columns


@pytest.mark.parametrize("threads_block", [1 << 16, 1 << 22])
def test_a_quoted_line_break_on_a_block_boundary_is_kept(monkeypatch, threads_block):
    # pyarrow drops the LF of a quoted CR LF whose CR ends a block; the ingest reads such a
    # file again in one block
    monkeypatch.setattr(read, "ARROW_BLOCK_BYTES", threads_block)
    text = (
        "h0;h1\r\n" + "x;" + "y" * (threads_block - 16) + '\r\n"two\r\nlines";z\r\n' + "a;b\r\n" * 3
    )
    assert text.index("two\r") + 3 == threads_block - 1  # the CR is the last byte of a block
    records, numbers, malformed, blank = read._records_arrow(text, ";", ["h0", "h1"])
    assert records[0].tolist()[1] == "two\r\nlines"
    assert numbers.tolist() == [2, 3, 4, 5, 6] and malformed == [] and blank == 0


@given(st.binary(max_size=40) | st.text(max_size=20).map(lambda t: t.encode("utf-8") + b"\xfc"))
def test_utf8_share_is_counted_as_by_decoding(data):
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    non_ascii = len(text) - len(text.encode("ascii", errors="ignore"))
    assert read._mostly_utf8(data) == (non_ascii - bad > bad)


# --------------------------------------------------------------------------------------
# References between tables
# --------------------------------------------------------------------------------------


def careful_reference_issues(table, frame, ok, accepted, parsed):
    """Two look-ups per reference and one ``map`` per rule (the definition)."""
    from evaluation.ingest import reconcile

    spec = schemas.TABLES[table]
    ok = ok.copy()
    found = []
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
        passed = reconcile._COMPARE[rule.relation](child[~missing], parent[~missing]).to_numpy(
            dtype=bool
        )
        failed = np.zeros(len(rows), dtype=bool)
        failed[np.flatnonzero(~missing)[~passed]] = True
        privacy = "clear" if spec.column(rule.column).pseudonym else "check"
        if failed.any():
            found.append(issues_frame(rows[failed], rule.column, child[failed].map(reconcile._text).tolist(), rule.code,
                                      privacy=privacy, detail=[f"{rule.parent}.{rule.parent_column} = {reconcile._text(p)}"
                                                               for p in parent[failed]]))  # fmt: skip
        if rule.missing_code and missing.any():
            found.append(issues_frame(rows[missing], rule.column, child[missing].map(reconcile._text).tolist(),
                                      rule.missing_code, privacy=privacy,
                                      detail=f"{rule.parent}.{rule.parent_column} ist leer"))  # fmt: skip
    return concat_issues(found)


_ids = st.sampled_from(["E1", "E2", "E3", "E4", None])
_persons = st.sampled_from(["P1", "P2", None])
_days = st.one_of(
    st.none(), st.integers(0, 6).map(lambda d: pd.Timestamp(2024, 1, 1) + pd.Timedelta(days=d))
)


@SETTINGS
@given(
    enrolments=st.lists(st.tuples(_persons, _days), min_size=0, max_size=4),
    accepted_share=st.integers(0, 4),
    followups=st.lists(st.tuples(_ids, _persons, _days), max_size=20),
    ok_share=st.floats(0.3, 1.0),
)  # fmt: skip
def test_reference_issues_equal_two_lookups_per_reference(
    enrolments, accepted_share, followups, ok_share
):
    from evaluation.ingest.reconcile import reference_issues

    parsed_enrol = pd.DataFrame({
        "enrolment_id": [f"E{i + 1}" for i in range(len(enrolments))],
        "person_id": pd.Series([p for p, _ in enrolments], dtype=object),
        "exit_date": pd.Series([d for _, d in enrolments], dtype="datetime64[ns]"),
    })  # fmt: skip
    accepted = {
        "enrolments": parsed_enrol.iloc[: min(accepted_share, len(parsed_enrol))].reset_index(
            drop=True
        )
    }
    frame = pd.DataFrame({
        "enrolment_id": pd.Series([e for e, _, _ in followups], dtype=object),
        "person_id": pd.Series([p for _, p, _ in followups], dtype=object),
        "reference_date": pd.Series([d for _, _, d in followups], dtype="datetime64[ns]"),
    })  # fmt: skip
    ok = (np.arange(len(frame)) * ok_share) % 1 < ok_share
    parsed = {"enrolments": parsed_enrol, "followups": frame}
    fast = reference_issues("followups", frame, ok, accepted, parsed)
    careful = careful_reference_issues("followups", frame, ok, accepted, parsed)
    _assert_issues_equal(fast, careful)


def test_the_final_shape_check_still_refuses_a_wrong_frame():
    from evaluation.ingest.pipeline import _finalise
    from evaluation.ingest.validate import ContractBug

    spec = schemas.TABLES["followups"]
    good = pd.DataFrame({
        "enrolment_id": ["a1b2"], "person_id": ["c3d4"], "months_after_exit": pd.array([6], dtype="Int64"),
        "reference_date": pd.to_datetime(["2024-01-31"]), "status": ["arbeitslos"],
        "sgb2_receipt": pd.array([True], dtype="boolean"),
    })  # fmt: skip
    out = _finalise("followups", good)
    assert [str(t) for t in out.dtypes] == [c.dtype for c in spec.columns]
    with pytest.raises(ContractBug):
        _finalise("followups", good.assign(extra=1))  # strict: no other column
    with pytest.raises(ContractBug):
        _finalise("followups", good[list(reversed(good.columns))])  # ordered


def test_a_record_longer_than_a_block_is_still_read_by_arrow(monkeypatch):
    monkeypatch.setattr(read, "ARROW_BLOCK_BYTES", 64)
    text = "h0;h1\r\n" + '"' + "x;\r\n" * 100 + '";y\r\n' + "a;b\r\n"
    fast = read._records_arrow(text, ";", ["h0", "h1"])  # no fall-back to the csv module
    careful = read._records_python(text, ";", 2)
    pd.testing.assert_frame_equal(fast[0].astype(object), careful[0].astype(object))
    assert fast[1].tolist() == careful[1].tolist() == [2, 3]
