"""Property tests on mutated demo exports: the ingest ends with a snapshot or with one line
naming the file, never with a traceback; every row is accounted for; nothing is written
when a file is refused; canary names planted in any column never reach anything written.

The exports are the demo's own (:func:`evaluation.demo_exports.write_demo_exports`), cut to
their first rows so that each example is quick, then mutated: bytes, encodings,
delimiters, quotes, headers, columns, huge cells, formulas, title lines.
"""

from __future__ import annotations

import codecs
import io
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluation.demo_exports import write_demo_exports
from evaluation.ingest import IngestError, KeyFileError, cli, ingest
from evaluation.ingest.mapping import MappingError
from evaluation.ingest.read import decode
from tests.test_ingest_helpers import (
    PARTICIPANT_HEADER,
    fresh_workspace,
    participant_row,
    write_csv,
    written_text,
)

ROWS = 40
CSV_EXPORTS = ("Teilnehmende.csv", "Teilnahmen.csv", "Kontakte.csv", "Verbleib_Nachbefragung.csv",
               "Veranstaltungen.csv", "volunteers.csv", "volunteer_assignments.csv", "sozialraum_ehrenfeld.csv")  # fmt: skip
SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def demo_heads(tmp_path_factory) -> dict[str, tuple[str, str]]:
    """The first rows of each CSV demo export: name -> (text, encoding)."""
    folder = tmp_path_factory.mktemp("demo")
    out = {}
    for path in write_demo_exports(folder):
        if path.name in CSV_EXPORTS:
            text, encoding = decode(path.read_bytes(), path.name)
            lines = io.StringIO(text, newline="").readlines()[: ROWS + 1]
            out[path.name] = ("".join(lines), encoding)
    return out


def _mutate(draw, text: str) -> tuple[str, str | None]:
    """One mutation of the export text; returns the text and a forced encoding (or None)."""
    kind = draw(st.sampled_from(["encoding", "delimiter", "quote", "header", "column", "huge", "formula",
                                 "title", "truncate", "lines"]))  # fmt: skip
    lines = io.StringIO(text, newline="").readlines()
    sep = ";" if lines[0].count(";") >= lines[0].count(",") else ","
    if kind == "encoding":
        return text, draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]))
    if kind == "delimiter":
        return text.replace(sep, draw(st.sampled_from(["\t", ",", ";", "|"]))), None
    if kind == "quote":
        at = draw(st.integers(0, len(text)))
        return text[:at] + '"' + text[at:], None
    if kind == "header":
        fields = lines[0].rstrip("\r\n").split(sep)
        i, j = draw(st.integers(0, len(fields) - 1)), draw(st.integers(0, len(fields) - 1))
        if draw(st.booleans()):
            fields[i], fields[j] = fields[j], fields[i]  # swapped headers
        else:
            fields[i] = draw(st.text(max_size=12))
        lines[0] = sep.join(fields) + "\r\n"
        return "".join(lines), None
    if kind == "column":
        drop = draw(st.integers(0, lines[0].count(sep)))
        out = []
        for line in lines:
            cells = line.rstrip("\r\n").split(sep)
            if drop < len(cells):
                del cells[drop]
            out.append(sep.join(cells) + "\r\n")
        return "".join(out), None
    row = draw(st.integers(1, max(1, len(lines) - 1)))
    if kind in ("huge", "formula") and row < len(lines):
        cells = lines[row].rstrip("\r\n").split(sep)
        col = draw(st.integers(0, len(cells) - 1))
        cells[col] = (
            "x" * 100_000
            if kind == "huge"
            else draw(st.sampled_from(["=1+1", "+cmd|' /C calc'!A0", "@SUM(A1)", "-2+3", "\t=0"]))
        )
        lines[row] = sep.join(cells) + "\r\n"
        return "".join(lines), None
    if kind == "title":
        return draw(
            st.sampled_from(["sep=;\r\n", "Export Stand 01.01.2025\r\n", "Liste;;;\r\n\r\n"])
        ) + text, None
    if kind == "truncate":
        return text[: draw(st.integers(1, len(text)))], None
    lines.insert(row, draw(st.sampled_from(["\r\n", ";;;;\r\n", "garbage\r\n", "\ufeff\r\n"])))
    return "".join(lines), None


@st.composite
def mutated(draw, heads: dict[str, tuple[str, str]]):
    name = draw(st.sampled_from(sorted(heads)))
    text, encoding = heads[name]
    for _ in range(draw(st.integers(1, 3))):
        text, forced = _mutate(draw, text)
        encoding = forced or encoding
    data = text.encode(encoding, errors="replace")
    if draw(st.integers(0, 9)) == 0:  # a flipped byte
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1 :]
    return name, data


def _fresh(tmp: Path):
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    return fresh_workspace(tmp)


@SETTINGS
@given(data=st.data())
def test_mutated_demo_exports_end_cleanly_and_every_row_is_accounted_for(
    tmp_path_factory, demo_heads, data
):
    name, content = data.draw(mutated(demo_heads))
    tmp = tmp_path_factory.mktemp("m")
    p, key = _fresh(tmp)
    file = tmp / name
    file.write_bytes(content)
    try:
        result = ingest([file], root=p, key_file=key)
    except (IngestError, KeyFileError, MappingError) as err:
        message = str(err)
        assert message and "\n" not in message and "Traceback" not in message
        assert not p.data.exists(), "nothing may be written when a file is refused"
        return
    for entry in result.source["files"]:
        for part in entry["parts"]:
            assert part["rows_read"] == part["rows_accepted"] + part["rows_quarantined"]
    for account in result.columns:  # per file, as the summary prints it
        assert account["rows_read"] == account["rows_accepted"] + account["rows_quarantined"]
    rec = result.reconciliation
    assert (rec["rows_read"] == rec["rows_accepted"] + rec["rows_quarantined"]).all()
    assert rec["rows_read"].sum() + rec["blank_rows"].sum() == sum(
        a["rows_read"] + a["blank_rows"] for a in result.columns
    )
    for table, frame in result.tables.items():
        assert len(frame) == rec.set_index("table").loc[table, "rows_accepted"]
    quarantine = result.quarantine_file.read_bytes().decode("utf-8-sig")
    for line in quarantine.splitlines()[1:]:
        assert not [c for c in line.split(";") if c[:1] in ("=", "+", "@")], line
    assert "<NA>" not in quarantine


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_mutated_exports_through_the_cli_exit_0_or_2_with_one_line(
    tmp_path_factory, demo_heads, data, monkeypatch
):
    name, content = data.draw(mutated(demo_heads))
    tmp = tmp_path_factory.mktemp("c")
    p, key = _fresh(tmp)
    monkeypatch.setenv("EVALUATION_HOME", str(p.root))
    monkeypatch.setenv("EVALUATION_KEY_FILE", str(key))
    file = tmp / name
    file.write_bytes(content)
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    monkeypatch.setattr("sys.stderr", err)
    code = cli.main([str(file)])
    assert code in (0, 2)
    if code == 2:
        assert len(err.getvalue().strip().splitlines()) == 1 and not p.data.exists()


# --------------------------------------------------------------------------------------
# Canaries
# --------------------------------------------------------------------------------------

CANARY_FIRST, CANARY_LAST = "Quirinella", "Zwetschkow"
VALUE_COLUMNS = [h for h in PARTICIPANT_HEADER if h not in {"Vorname", "Nachname"}]


@SETTINGS
@given(
    column=st.sampled_from(VALUE_COLUMNS),
    form=st.sampled_from(
        ["{f}", "{l}", "{f} {l}", "{l}, {f}", "bei {l}", "{F}", "{f}@example.org"]
    ),
    row=st.integers(1, 8),
    other=st.booleans(),
)
def test_canary_names_in_any_column_never_reach_anything_written(
    tmp_path_factory, column, form, row, other
):
    """A canary person's names planted in another column (of their own or another row)
    never reach the snapshot, the manifest, the quarantine file or the printed summary."""
    tmp = tmp_path_factory.mktemp("k")
    p, key = _fresh(tmp)
    rows = [participant_row(i) for i in range(1, 10)]
    names = {"Vorname": CANARY_FIRST, "Nachname": CANARY_LAST}
    owner = 0 if other else row
    for header, value in names.items():
        rows[owner][PARTICIPANT_HEADER.index(header)] = value
    planted = form.format(f=CANARY_FIRST, l=CANARY_LAST, F=CANARY_FIRST.upper())
    rows[row][PARTICIPANT_HEADER.index(column)] = planted
    file = write_csv(tmp / "Teilnehmende.csv", PARTICIPANT_HEADER, rows)
    result = ingest([file], root=p, key_file=key)
    summary = cli.report(result)
    text = (written_text(p) + summary).casefold()
    assert CANARY_FIRST.casefold() not in text and CANARY_LAST.casefold() not in text
    checked = {"Geschlecht", "Zielgruppe", "Herkunftsland", "Zuzugsjahr", "Stadtteil", "Zugangsweg",
               "Hochschulabschluss", "Erstkontakt", "Geburtsdatum"}  # fmt: skip
    if column in checked:  # a value that must pass a check: the row is quarantined
        assert row + 2 in set(result.quarantine["source_row"])


def test_a_canary_swapped_into_the_country_column_is_caught_for_every_row(tmp_path):
    """A swapped header puts first names into country_of_origin: none may pass."""
    p, key = fresh_workspace(tmp_path)
    header = [*PARTICIPANT_HEADER]
    i, j = header.index("Vorname"), header.index("Herkunftsland")
    header[i], header[j] = header[j], header[i]
    rows = [
        participant_row(k, Vorname=name)
        for k, name in enumerate(["Olga", "Ahmad", "Maria", "Taras", "Fatima"], 1)
    ]
    result = ingest([write_csv(tmp_path / "t.csv", header, rows)], root=p, key_file=key)
    assert len(result.tables["participants"]) == 0
    assert set(result.quarantine["check"]) <= {"unknown_country", "contains_name"}
    assert "Olga" not in written_text(p)


def test_utf16_export_round_trips(tmp_path):
    p, key = fresh_workspace(tmp_path)
    data = codecs.BOM_UTF16_LE + "\r\n".join(
        ["\t".join(PARTICIPANT_HEADER), "\t".join(map(str, participant_row(1)))]
    ).encode("utf-16-le")
    (tmp_path / "t.txt").write_bytes(data)
    result = ingest([tmp_path / "t.txt"], root=p, key_file=key)
    assert len(result.tables["participants"]) == 1


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_a_drafted_mapping_is_always_a_valid_mapping_or_one_line(
    tmp_path_factory, demo_heads, data
):
    import yaml

    from evaluation.ingest.mapping import parse_mapping
    from evaluation.ingest.suggest import suggest_mapping

    name, content = data.draw(mutated(demo_heads))
    file = tmp_path_factory.mktemp("s") / name
    file.write_bytes(content)
    try:
        draft = suggest_mapping(file)
    except IngestError as err:
        assert "\n" not in str(err)
        return
    mapping = parse_mapping(yaml.safe_load(draft), "draft")
    assert mapping.sources and all(rule.table for rule in mapping.sources)
