"""End-to-end ingest: demo exports in, snapshot + quarantine + reconciliation out."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaluation import demo, schemas
from evaluation.data import load_all, snapshot_info
from evaluation.demo_exports import EXPORTS, planted_errors, write_demo_exports
from evaluation.ingest import (
    IngestError,
    KeyFileError,
    Pseudonymiser,
    cli,
    ingest,
    load_or_create_key,
)
from evaluation.ingest.pseudonymise import normalise_id
from tests.test_ingest_helpers import (
    PARTICIPANT_HEADER,
    export_identifiers,
    fresh_workspace,
    identifiers_of,
    leaked,
    manifest,
    participant_row,
    write_csv,
)


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> list[Path]:
    return write_demo_exports(tmp_path_factory.mktemp("exports"))


@pytest.fixture(scope="module")
def planted():
    return planted_errors()


@pytest.fixture(scope="module")
def demo_run(exports, tmp_path_factory):
    p, key = fresh_workspace(tmp_path_factory.mktemp("demo_run"))
    return p, key, ingest(exports, root=p, key_file=key)


# --------------------------------------------------------------------------------------
# Demo exports
# --------------------------------------------------------------------------------------


def test_demo_exports_are_byte_identical_for_the_same_seed(exports, tmp_path):
    again = write_demo_exports(tmp_path / "again")
    assert [p.name for p in again] == [p.name for p in exports]
    for a, b in zip(exports, again, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_demo_exports_use_the_real_source_formats(exports):
    files = {p.name: p.read_bytes() for p in exports}
    participants = files["Teilnehmende.csv"]
    assert participants.decode("cp1252").startswith("Klient-Nr;Vorname;Nachname;Geburtsdatum;")
    with pytest.raises(UnicodeDecodeError):
        participants.decode("utf-8")  # cp1252: umlauts are single bytes
    assert b"\r\n" in participants
    assert files["Kontakte.csv"].startswith(b"\xef\xbb\xbf")  # Excel's "CSV UTF-8"
    assert files["Anerkennung_Elternarbeit.xlsx"].startswith(b"PK")
    assert files["volunteer_assignments.csv"].decode().startswith("Volunteer ID,Assignment date,")
    assert (
        files["sozialraum_ehrenfeld.csv"]
        .decode("utf-8")
        .startswith("id;tab_id;tabelle;jahr;raum_id;raum;zei_id;zeile;zahl\r\n")
    )
    follow = files["Verbleib_Nachbefragung.csv"].decode("cp1252").splitlines()[1]
    assert follow.count(";") == 5 and "." in follow.split(";")[3]  # TT.MM.JJJJ
    assert (
        files["volunteers.csv"]
        .decode("cp1252")
        .startswith("Volunteer ID;First name;Last name;Email;Phone;")
    )


# --------------------------------------------------------------------------------------
# The demo round trip
# --------------------------------------------------------------------------------------


def _expected(pseudonymiser: Pseudonymiser, planted) -> dict[str, pd.DataFrame]:
    """The demo tables minus the rows with planted errors, ids replaced by pseudonyms."""
    tables = demo.generate()
    for error in planted:
        if error.removed is None:
            continue
        df = tables[error.table]
        hit = np.logical_and.reduce([df[k] == v for k, v in error.removed.items()])
        assert hit.sum() == 1, error
        tables[error.table] = df[~hit].reset_index(drop=True)
    for name, df in tables.items():
        for col in schemas.TABLES[name].columns:
            if col.dtype == "object":  # missing text is None after Parquet, as in any snapshot
                df[col.name] = df[col.name].astype(object).where(df[col.name].notna(), None)
            if col.pseudonym:
                df[col.name] = pseudonymiser.pseudonymise(
                    [normalise_id(v) for v in df[col.name]], col.pseudonym
                )
    return tables


def test_ingest_of_demo_exports_reproduces_the_demo_tables(demo_run, planted):
    p, key, result = demo_run
    expected = _expected(Pseudonymiser(load_or_create_key(key)), planted)
    assert sorted(result.tables) == sorted(expected)
    for name, want in expected.items():
        got = load_all(snapshot=result.snapshot.id, root=p)[name]
        pd.testing.assert_frame_equal(got, want, check_dtype=True, obj=name)


def test_every_planted_error_is_quarantined_where_it_was_planted(demo_run, planted):
    _, _, result = demo_run
    q = result.quarantine
    for error in planted:
        hit = q[
            (q["table"] == error.table)
            & (q["source_file"] == error.source)
            & (q["source_row"] == error.source_row)
        ]
        assert list(hit["check"]) == [error.check], (error, q.to_dict("records"))
        assert hit["reason"].str.len().gt(0).all()
    assert q.drop_duplicates(["source_file", "source_row"]).shape[0] == len(planted)


def test_reconciliation_balances_and_matches_the_raw_files(demo_run, exports):
    _, _, result = demo_run
    rec = result.reconciliation.set_index("table")
    assert rec["balanced"].all()
    assert (rec["rows_read"] == rec["rows_accepted"] + rec["rows_quarantined"]).all()
    by_name = {p.name: p for p in exports}
    for export in EXPORTS:
        if export.style == "xlsx":
            continue
        text = by_name[export.file].read_bytes().decode(export.encoding)
        data_lines = len(text.splitlines()) - 1
        assert rec.at[export.table, "rows_read"] == data_lines, export.table
    quarantined = result.quarantine.drop_duplicates(["table", "source_file", "source_row"])[
        "table"
    ].value_counts()
    assert (rec["rows_quarantined"] == quarantined.reindex(rec.index, fill_value=0)).all()


def test_manifest_records_sources_hashes_counts_and_quarantine(demo_run, exports, planted):
    p, _, result = demo_run
    m = manifest(p)
    assert m["id"] == result.snapshot.id
    source = m["source"]
    assert source["kind"] == "ingest"
    hashes = {f["name"]: f["sha256"] for f in source["files"]}
    assert hashes == {e.name: hashlib.sha256(e.read_bytes()).hexdigest() for e in exports}
    assert source["reconciliation"]["followups"]["rows_quarantined"] == 2
    assert source["quarantine"]["rows"] == len(planted)
    assert (p.root / source["quarantine"]["file"]).exists()
    assert len(source["pseudonymisation"]["key_fingerprint"]) == 12
    participants = next(f for f in source["files"] if f["name"] == "Teilnehmende.csv")
    part = participants["parts"][0]
    assert set(part["dropped_identifying_columns"]) >= {
        "Vorname",
        "Nachname",
        "Geburtsdatum",
        "Straße",
        "Telefon",
        "E-Mail",
    }
    assert part["dropped_unrecognised_columns"] == ["Bemerkung"]


def test_no_identifier_of_the_exports_is_written_anywhere(demo_run, exports):
    p, _, _ = demo_run
    folder = exports[0].parent
    identifiers = export_identifiers(folder)
    participants = pd.read_csv(
        folder / "Teilnehmende.csv", sep=";", encoding="cp1252", dtype=str, keep_default_na=False
    )
    assert len(identifiers) > 5000
    assert leaked(p, identifiers) == []
    tables = load_all(root=p)
    assert "Bemerkung" not in tables["participants"].columns
    dates = pd.to_datetime(
        participants["Geburtsdatum"], format="%d.%m.%Y", errors="coerce"
    ).dropna()
    for name, df in tables.items():
        for col in df.select_dtypes("datetime").columns:
            assert not (name == "participants" and df[col].isin(dates).any())


def test_ids_become_the_same_pseudonyms_in_every_table(demo_run):
    p, _, result = demo_run
    tables = result.tables
    ids = tables["participants"]["person_id"]
    assert ids.str.fullmatch(r"[0-9a-f]{16}").all()
    for name in (
        "enrolments",
        "contacts",
        "employment_months",
        "followups",
        "recognition_cases",
        "parent_surveys",
    ):
        assert tables[name]["person_id"].isin(ids).all(), name
    assert tables["followups"]["enrolment_id"].isin(tables["enrolments"]["enrolment_id"]).all()
    assert (
        tables["volunteer_assignments"]["volunteer_id"]
        .isin(tables["volunteers"]["volunteer_id"])
        .all()
    )


def test_second_ingest_of_the_same_files_changes_nothing(demo_run, exports, tmp_path):
    p, key, result = demo_run
    before = {
        f: (f.stat().st_mtime_ns, f.read_bytes())
        for f in p.data.rglob("*")
        if f.is_file() and f.name != "LATEST"
    }
    # same files, other folder, other order
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    for f in reversed(exports):
        shutil.copy(f, moved / f.name)
    again = ingest([moved], root=p, key_file=key)
    assert again.snapshot.id == result.snapshot.id
    after = {
        f: (f.stat().st_mtime_ns, f.read_bytes())
        for f in p.data.rglob("*")
        if f.is_file() and f.name != "LATEST"
    }
    assert after == before
    assert (p.snapshots / "LATEST").read_text().strip() == result.snapshot.id


def test_ingest_with_another_key_gives_other_pseudonyms(exports, tmp_path):
    p, key = fresh_workspace(tmp_path)
    other = tmp_path / "other" / "k.key"
    first = ingest(exports, root=p, key_file=key, write=False)
    second = ingest(exports, root=p, key_file=other, write=False)
    a, b = first.tables["participants"]["person_id"], second.tables["participants"]["person_id"]
    assert len(a) == len(b) and not set(a) & set(b)


def test_dry_run_writes_nothing(exports, tmp_path, planted):
    p, key = fresh_workspace(tmp_path)
    result = ingest(exports, root=p, key_file=key, write=False)
    assert result.snapshot is None and result.quarantine_file is None
    assert not p.data.exists()
    assert len(result.quarantine) == len(planted)


# --------------------------------------------------------------------------------------
# Unreadable input
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("leer.csv", b"", "Datei ist leer"),
        ("alt.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "altes Excel-Format"),
        ("kaputt.xlsx", b"PK\x03\x04 not really a zip", "keine lesbare XLSX-Arbeitsmappe"),
        (
            "fremd.csv",
            "Spalte A;Spalte B\r\n1;2\r\n".encode("cp1252"),
            "keine bekannten Spaltenköpfe",
        ),
        (
            "teilnehmende.csv",
            "Klient-Nr;Zielgruppe\r\nK1;ukraine\r\n".encode("cp1252"),
            "Tabelle nicht erkennbar",
        ),
    ],
)
def test_unreadable_file_stops_the_ingest_and_writes_nothing(
    exports, tmp_path, name, content, message
):
    p, key = fresh_workspace(tmp_path)
    bad = tmp_path / name
    bad.write_bytes(content)
    with pytest.raises(IngestError) as err:
        ingest([*exports, bad], root=p, key_file=key)
    text = str(err.value)
    assert name in text and message in text and "\n" not in text
    assert not p.data.exists()
    assert not key.exists()  # not even the key is created


def test_missing_path_is_an_error(tmp_path):
    p, key = fresh_workspace(tmp_path)
    with pytest.raises(IngestError, match="no such file"):
        ingest([tmp_path / "nicht-da.csv"], root=p, key_file=key)


def test_two_headers_for_one_column_are_an_error(tmp_path):
    p, key = fresh_workspace(tmp_path)
    header = [*PARTICIPANT_HEADER, "Person ID"]
    write_csv(tmp_path / "t.csv", header, [participant_row(1) + ["K0001"]])
    with pytest.raises(IngestError, match="stehen beide für person_id"):
        ingest([tmp_path / "t.csv"], root=p, key_file=key)


def test_unsafe_key_file_is_refused(tmp_path):
    p, key = fresh_workspace(tmp_path)
    write_csv(tmp_path / "t.csv", PARTICIPANT_HEADER, [participant_row(1)])
    key.write_text("00" * 32)
    os.chmod(key, 0o644)
    with pytest.raises(KeyFileError, match="für andere lesbar"):
        ingest([tmp_path / "t.csv"], root=p, key_file=key)
    with pytest.raises(KeyFileError, match="liegt im Arbeitsbereich"):
        ingest([tmp_path / "t.csv"], root=p, key_file=p.root / "key")
    assert not p.data.exists()


# --------------------------------------------------------------------------------------
# Checks within and between tables
# --------------------------------------------------------------------------------------

ENROLMENT_HEADER = [
    "Teilnahme-Nr",
    "Klient-Nr",
    "Projekt",
    "Eintritt",
    "Austritt",
    "Austrittsgrund",
]
FOLLOWUP_HEADER = [
    "Teilnahme-Nr",
    "Klient-Nr",
    "Monate nach Austritt",
    "Stichtag",
    "Erwerbsstatus",
    "SGB-II-Bezug",
]


def test_duplicates_and_references_cascade(tmp_path):
    p, key = fresh_workspace(tmp_path)
    people = write_csv(
        tmp_path / "p.csv",
        PARTICIPANT_HEADER,
        [participant_row(i) for i in range(1, 5)] + [participant_row(1)],
    )
    enrolments = write_csv(tmp_path / "e.csv", ENROLMENT_HEADER, [
        ["T1", "K0001", "Jobeinstiegsbegleitung", "01.04.2023", "01.10.2023", "regulär beendet"],
        ["T2", "K0002", "jobeinstieg", "01.04.2023", "01.10.2023", "regulaer"],
        ["T2", "K0003", "jobeinstieg", "01.05.2023", "01.10.2023", "regulaer"],  # id clash with row 3
        ["T3", "K0099", "jobeinstieg", "01.04.2023", "", ""],  # unknown person
        ["T4", "K0004", "jobeinstieg", "01.04.2023", "01.03.2023", "regulaer"],  # exit before entry
        ["T5", "K0004", "jobeinstieg", "01.04.2023", "", ""],  # ongoing
    ])  # fmt: skip
    followups = write_csv(tmp_path / "f.csv", FOLLOWUP_HEADER, [
        ["T1", "K0001", "6", "01.04.2024", "svb", "nein"],  # fine
        ["T1", "K0002", "12", "01.10.2024", "svb", "nein"],  # person does not match the enrolment
        ["T2", "K0002", "6", "01.04.2024", "svb", "nein"],  # enrolment T2 is quarantined
        ["T5", "K0004", "6", "01.04.2024", "svb", "nein"],  # enrolment has no exit
        ["T9", "K0001", "6", "01.04.2024", "svb", "nein"],  # unknown enrolment
        ["T1", "K0001", "18", "01.09.2023", "svb", "nein"],  # before the exit
    ])  # fmt: skip
    result = ingest([people, enrolments, followups], root=p, key_file=key)
    q = result.quarantine
    checks = {(t, r): c for t, r, c in zip(q["table"], q["source_row"], q["check"], strict=True)}
    assert checks == {
        ("participants", 6): "exact_duplicate",
        ("enrolments", 3): "duplicate_key",
        ("enrolments", 4): "duplicate_key",
        ("enrolments", 5): "unknown_reference",
        ("enrolments", 6): "exit_before_entry",
        ("followups", 3): "person_mismatch",
        ("followups", 4): "quarantined_reference",
        ("followups", 5): "followup_without_exit",
        ("followups", 6): "unknown_reference",
        ("followups", 7): "followup_before_exit",
    }
    assert "p.csv Zeile 2" in q.loc[q["check"] == "exact_duplicate", "reason"].item()
    assert len(result.tables["enrolments"]) == 2 and len(result.tables["followups"]) == 1
    rec = result.reconciliation.set_index("table")
    assert rec.loc["followups", ["rows_read", "rows_accepted", "rows_quarantined"]].tolist() == [
        6,
        1,
        5,
    ]


def test_references_to_a_table_not_in_the_ingest_are_reported_as_skipped(tmp_path):
    p, key = fresh_workspace(tmp_path)
    enrolments = write_csv(
        tmp_path / "e.csv", ENROLMENT_HEADER, [["T1", "K0001", "jobeinstieg", "01.04.2023", "", ""]]
    )
    result = ingest([enrolments], root=p, key_file=key)
    assert len(result.tables["enrolments"]) == 1
    assert any(s.startswith("enrolments.person_id -> participants") for s in result.skipped_checks)
    assert manifest(p)["source"]["checks_skipped"] == result.skipped_checks


def test_rows_of_one_table_from_several_files_are_combined(tmp_path):
    p, key = fresh_workspace(tmp_path)
    a = write_csv(
        tmp_path / "2023.csv", PARTICIPANT_HEADER, [participant_row(i) for i in range(1, 4)]
    )
    b = write_csv(
        tmp_path / "2024.csv",
        PARTICIPANT_HEADER,
        [participant_row(i) for i in range(4, 6)],
        encoding="utf-8-sig",
    )
    result = ingest([a, b], root=p, key_file=key)
    rec = result.reconciliation.set_index("table")
    assert rec.loc["participants", ["sources", "rows_read", "rows_accepted"]].tolist() == [2, 5, 5]


def test_quarantine_masks_identifying_values(tmp_path):
    p, key = fresh_workspace(tmp_path)
    rows = [
        participant_row(1, **{"Zielgruppe": "Nachnamexq2"}),  # a name in a code column
        participant_row(2, **{"Herkunftsland": "person2@example.org"}),  # contact data in free text
        participant_row(3, **{"Klient-Nr": "K 0003 !"}),  # invalid client number
        participant_row(4, **{"Geburtsdatum": "31.02.1970"}),  # impossible birth date
        participant_row(5, **{"Zielgruppe": "Spätaussiedler"}),  # an unknown code: shown
        participant_row(6, **{"Erstkontakt": "31.02.2023"}),  # an impossible date: shown
    ]
    write_csv(tmp_path / "t.csv", PARTICIPANT_HEADER, rows)
    result = ingest([tmp_path / "t.csv"], root=p, key_file=key)
    shown = dict(zip(result.quarantine["source_row"], result.quarantine["value"], strict=True))
    assert (
        shown[2].startswith("[masked")
        and shown[3].startswith("[masked")
        and shown[4].startswith("[masked")
    )
    assert shown[5] == "[masked: 99.99.9999]"
    assert shown[6] == "Spätaussiedler" and shown[7] == "31.02.2023"
    assert leaked(p, identifiers_of(rows)) == []


def test_identifiers_in_free_text_are_quarantined(tmp_path):
    p, key = fresh_workspace(tmp_path)
    rows = [
        participant_row(1, Herkunftsland="Nachnamexq1"),  # own name typed into the country field
        participant_row(2, Herkunftsland="0221 555 0003"),  # someone's phone number
        participant_row(3, Herkunftsland="K0001"),  # a client number
        participant_row(4, Herkunftsland="04.04.1963"),  # the birth date of row 4 (person 3)
        participant_row(5, Herkunftsland="Vornamexq6"),  # another person's name: caught too
        participant_row(6, Herkunftsland="Syrien"),
        participant_row(7, Herkunftsland="Frau Schmidt"),  # shaped like a name
        participant_row(8, Herkunftsland="Hauptstraße 5"),  # shaped like an address
        participant_row(9, Herkunftsland="Atlantis"),  # no country
    ]
    write_csv(tmp_path / "t.csv", PARTICIPANT_HEADER, rows)
    result = ingest([tmp_path / "t.csv"], root=p, key_file=key)
    q = result.quarantine
    assert dict(zip(q["source_row"], q["check"], strict=True)) == {
        2: "contains_name", 3: "looks_identifying", 4: "looks_identifying", 5: "looks_identifying",
        6: "contains_name", 8: "looks_like_name", 9: "looks_like_address", 10: "unknown_country",
    }  # fmt: skip
    assert q["value"].str.startswith("[masked").all()
    assert sorted(result.tables["participants"]["country_of_origin"]) == ["Syrien"]


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------


def _cli_env(monkeypatch, p, key) -> None:
    monkeypatch.setenv("EVALUATION_HOME", str(p.root))
    monkeypatch.setenv("EVALUATION_KEY_FILE", str(key))


def test_cli_prints_reconciliation_and_quarantine(exports, tmp_path, monkeypatch, capsys):
    p, key = fresh_workspace(tmp_path)
    _cli_env(monkeypatch, p, key)
    assert cli.main([str(exports[0].parent)]) == cli.EXIT_OK
    out = capsys.readouterr().out
    snap = snapshot_info(root=p)
    assert snap.id in out and "Abgleich" in out
    assert "ZURÜCKGESTELLT: 7 Zeile(n)" in out and f"{snap.id}.csv" in out
    for table in schemas.TABLES:
        assert table in out


def test_cli_exit_code_for_an_unreadable_file(exports, tmp_path, monkeypatch, capsys):
    p, key = fresh_workspace(tmp_path)
    _cli_env(monkeypatch, p, key)
    bad = tmp_path / "kaputt.csv"
    bad.write_bytes(b"")
    assert cli.main([str(exports[0]), str(bad)]) == cli.EXIT_UNREADABLE
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "kaputt.csv" in err and "leer" in err
    assert not p.data.exists()


def test_cli_dry_run(exports, tmp_path, monkeypatch, capsys):
    p, key = fresh_workspace(tmp_path)
    _cli_env(monkeypatch, p, key)
    assert cli.main(["--dry-run", *map(str, exports)]) == cli.EXIT_OK
    assert "Probelauf" in capsys.readouterr().out
    assert not p.data.exists()


def test_cli_ignores_a_sheet_on_request(tmp_path, monkeypatch, capsys):
    import openpyxl

    p, key = fresh_workspace(tmp_path)
    _cli_env(monkeypatch, p, key)
    wb = openpyxl.Workbook()
    wb.active.title = "Teilnehmende"
    wb.active.append(PARTICIPANT_HEADER)
    wb.active.append(participant_row(1))
    wb.create_sheet("Hinweise").append(["Dieses Blatt erklärt die Tabelle"])
    wb.save(tmp_path / "book.xlsx")
    assert cli.main([str(tmp_path / "book.xlsx")]) == cli.EXIT_UNREADABLE
    assert "Hinweise" in capsys.readouterr().err
    assert cli.main(["--ignore-sheet", "hinweise", str(tmp_path / "book.xlsx")]) == cli.EXIT_OK
    assert json.loads(json.dumps(manifest(p)["source"]["warnings"]))[0].endswith(
        "Blatt wie verlangt ausgelassen"
    )
