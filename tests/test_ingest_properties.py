"""Property-based tests: garbled exports never crash the ingest, never lose a row silently,
and never let a planted identifier through.

A garbled file ends as accepted rows plus quarantined rows with reasons; the number of rows
read equals the number of non-blank records a reference CSV parser (Python's csv module)
finds after the header.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluation.ingest import IngestError, ingest
from evaluation.ingest.pseudonymise import load_or_create_key
from tests.test_ingest_helpers import (
    PARTICIPANT_HEADER,
    fresh_workspace,
    identifiers_of,
    leaked,
    participant_row,
)

PERSONAL = {"Klient-Nr", "Vorname", "Nachname", "Geburtsdatum", "Telefon", "E-Mail"}
COPYABLE = ["Klient-Nr", "Geburtsdatum", "Telefon", "E-Mail", "Vorname", "Nachname"]
TARGETS = [i for i, h in enumerate(PARTICIPANT_HEADER) if h not in PERSONAL]
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

_plain = st.characters(codec="cp1252", exclude_characters='"\x00')
_separators = st.sampled_from(list(";,.\n\r\t -/:*x0123456789"))


def garbage(quotes: bool) -> st.SearchStrategy[str]:
    chars = (
        st.one_of(_plain, _separators, st.just('"')) if quotes else st.one_of(_plain, _separators)
    )
    return st.text(chars, max_size=25)


@st.composite
def garbled_participants(draw, quotes: bool) -> tuple[str, list[list[object]]]:
    """CSV text of participant rows, some cells garbled or holding another column's identifier."""
    n = draw(st.integers(0, 12))
    clean = [participant_row(i) for i in range(1, n + 1)]
    lines = [";".join(PARTICIPANT_HEADER)]
    for row in clean:
        cells = [str(c) for c in row]
        for _ in range(draw(st.integers(0, 3))):
            target = draw(st.sampled_from(TARGETS))
            if draw(st.booleans()):
                cells[target] = draw(garbage(quotes))
            else:  # staff typed contact data or a name into the wrong field
                cells[target] = cells[PARTICIPANT_HEADER.index(draw(st.sampled_from(COPYABLE)))]
        quoted = draw(st.booleans())
        if quoted:  # a correct export quotes what needs quoting
            buffer = io.StringIO(newline="")
            csv.writer(buffer, delimiter=";", lineterminator="").writerow(cells)
            lines.append(buffer.getvalue())
        else:  # a broken export does not
            lines.append(";".join(cells))
    return "\r\n".join(lines) + draw(st.sampled_from(["\r\n", "", "\r\n\r\n"])), clean


def reference_records(text: str) -> int:
    """Non-blank records after the header, as Python's csv module reads them."""
    records = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))[1:]
    return sum(1 for r in records if any(f.strip() for f in r))


def _check_accounting(result, expected_rows: int) -> None:
    rec = result.reconciliation.set_index("table").loc["participants"]
    assert rec["rows_read"] == expected_rows
    assert rec["rows_read"] == rec["rows_accepted"] + rec["rows_quarantined"]
    q = result.quarantine
    assert q.drop_duplicates(["source_file", "source_row"]).shape[0] == rec["rows_quarantined"]
    assert q["check"].str.len().gt(0).all() and q["reason"].str.len().gt(0).all()
    assert len(result.tables["participants"]) == rec["rows_accepted"]


def _run(tmp_path: Path, name: str, data: bytes):
    shutil.rmtree(tmp_path, ignore_errors=True)
    tmp_path.mkdir(parents=True)
    p, key = fresh_workspace(tmp_path)
    file = tmp_path / name
    file.write_bytes(data)
    return p, key, ingest([file], root=p, key_file=key)


@SETTINGS
@given(
    case=garbled_participants(quotes=False),
    encoding=st.sampled_from(["cp1252", "utf-8-sig", "utf-8"]),
)
def test_garbled_csv_is_accounted_for_and_leaks_nothing(tmp_path_factory, case, encoding):
    text, clean = case
    p, key, result = _run(tmp_path_factory.mktemp("g"), "teilnehmende.csv", text.encode(encoding))
    _check_accounting(result, reference_records(text))
    assert leaked(p, identifiers_of(clean)) == []


@SETTINGS
@given(case=garbled_participants(quotes=True))
def test_garbled_csv_with_stray_quotes_is_accounted_for(tmp_path_factory, case):
    text, clean = case
    p, key, result = _run(tmp_path_factory.mktemp("q"), "teilnehmende.csv", text.encode("cp1252"))
    rec = result.reconciliation.set_index("table").loc["participants"]
    # a stray quote no longer swallows the rows below it: at least the records a plain
    # CSV parser finds, at most one row per non-blank line
    lines = [line for line in io.StringIO(text, newline="").readlines()[1:] if line.strip()]
    assert reference_records(text) <= rec["rows_read"] <= len(lines)
    _check_accounting(result, rec["rows_read"])
    snapshot_text = "\n".join(df.astype(str).to_csv(index=False) for df in result.tables.values())
    for ident in identifiers_of(clean):
        if "@" in ident or " " in ident or ident.startswith("K0"):
            assert ident not in snapshot_text


_cell = st.one_of(
    st.none(),
    st.text(
        st.characters(codec="cp1252", exclude_categories=("Cc", "Cs")), max_size=15
    ),  # what a cell can hold
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 1, 1)),
    st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 1, 1)),
)


@SETTINGS
@given(cells=st.lists(st.lists(_cell, min_size=len(PARTICIPANT_HEADER), max_size=len(PARTICIPANT_HEADER) + 2), max_size=10),
       blank_rows=st.lists(st.integers(0, 12), max_size=3))  # fmt: skip
def test_garbled_workbook_is_accounted_for(tmp_path_factory, cells, blank_rows):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Teilnehmende"
    ws.append(PARTICIPANT_HEADER)
    rows = [
        row
        for row in cells
        if any(v not in (None, "") and not (isinstance(v, str) and not v.strip()) for v in row)
    ]
    for i, row in enumerate(cells):
        if i in blank_rows:
            ws.append([None])
        ws.append([v.replace(tzinfo=None) if isinstance(v, dt.datetime) else v for v in row])
    buffer = io.BytesIO()
    wb.save(buffer)
    if not rows:  # a sheet with a header only is skipped: nothing to ingest
        with pytest.raises(IngestError, match="keine Tabelle"):
            _run(tmp_path_factory.mktemp("x"), "book.xlsx", buffer.getvalue())
        return
    p, key, result = _run(tmp_path_factory.mktemp("x"), "book.xlsx", buffer.getvalue())
    _check_accounting(result, len(rows))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=400))
def test_random_bytes_are_either_read_or_refused_cleanly(tmp_path_factory, data):
    tmp = tmp_path_factory.mktemp("b")
    p, key = fresh_workspace(tmp)
    file = tmp / "x.csv"
    file.write_bytes(";".join(PARTICIPANT_HEADER).encode() + b"\r\n" + data)
    try:
        result = ingest([file], root=p, key_file=key)
    except IngestError as err:
        assert "\n" not in str(err)
        assert not p.data.exists()
    else:
        rec = result.reconciliation.set_index("table").loc["participants"]
        assert rec["rows_read"] == rec["rows_accepted"] + rec["rows_quarantined"]


def test_same_person_keeps_the_pseudonym_across_ingests(tmp_path):
    p, key = fresh_workspace(tmp_path)
    first = tmp_path / "a.csv"
    first.write_bytes(
        ";".join(PARTICIPANT_HEADER).encode()
        + b"\r\n"
        + ";".join(map(str, participant_row(1))).encode("cp1252")
    )
    a = ingest([first], root=p, key_file=key)
    second = tmp_path / "b.csv"
    rows = [participant_row(2), participant_row(1, **{"Klient-Nr": " k0001 "})]
    second.write_bytes(
        "\r\n".join(";".join(map(str, r)) for r in [PARTICIPANT_HEADER, *rows]).encode("cp1252")
    )
    b = ingest([second], root=p, key_file=key)
    assert (
        a.tables["participants"]["person_id"].item()
        == b.tables["participants"]["person_id"].iloc[1]
    )
    assert load_or_create_key(key) == load_or_create_key(key)
