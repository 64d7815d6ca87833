"""Robust reading, safe outputs, the key, partial ingests and the language of the ingest."""

from __future__ import annotations

import codecs
import json
import stat
import time

import pandas as pd
import pytest

from evaluation.data import snapshot_info
from evaluation.ingest import IngestError, KeyFileError, cli, ingest
from evaluation.ingest.quality import load_quarantine
from evaluation.ingest.read import read_sources
from evaluation.ingest.reconcile import neutralise
from tests.test_ingest_helpers import (
    PARTICIPANT_HEADER,
    csv_bytes,
    fresh_workspace,
    participant_row,
    write_csv,
)

FOLLOWUP_HEADER = ["Teilnahme-Nr", "Klient-Nr", "Monate nach Austritt", "Stichtag", "Erwerbsstatus", "SGB-II-Bezug"]  # fmt: skip


def _read(tmp_path, name, data):
    file = tmp_path / name
    file.write_bytes(data)
    return read_sources([file])


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------


def test_title_lines_and_excel_sep_line_are_recognised(tmp_path):
    body = csv_bytes(PARTICIPANT_HEADER, [participant_row(1), participant_row(2)])
    data = b"sep=;\r\nKlientenliste Stand 01.03.2025\r\n;;;\r\n" + body
    sources, [part], warnings = _read(tmp_path, "t.csv", data)
    assert sources[0].delimiter == ";" and part.table == "participants"
    assert part.title_rows == 3 and list(part.source_row) == [5, 6]  # rows as in the file
    assert "3 Zeile(n) über der Kopfzeile übersprungen" in warnings[0]


def test_sep_line_names_a_delimiter_the_header_would_not_suggest(tmp_path):
    text = "sep=,\r\nVolunteer ID,Assignment date,Assignment type,Hours\r\nE1,2024-03-01,course leading,2.5\r\n"
    sources, [part], _ = _read(tmp_path, "a.csv", text.encode())
    assert sources[0].delimiter == "," and part.frame.loc[0, "hours"] == "2.5"


def test_sep_line_may_name_any_delimiter(tmp_path):
    text = "\ufeffsep=|\r\n" + "|".join(FOLLOWUP_HEADER) + "\r\nT1|K1|6|01.01.2024|svb|ja\r\n"
    sources, [part], _ = _read(tmp_path, "f.csv", text.encode("utf-8"))
    assert sources[0].delimiter == "|" and part.frame.loc[0, "status"] == "svb"


def test_title_rows_above_a_workbook_header_are_skipped(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Teilnehmende"
    ws.append(["Export aus dem Fallmanagement"])
    ws.append([])
    ws.append(PARTICIPANT_HEADER)
    ws.append(participant_row(1))
    wb.save(tmp_path / "b.xlsx")
    _, [part], warnings = read_sources([tmp_path / "b.xlsx"])
    assert part.table == "participants" and list(part.source_row) == [4]
    assert part.title_rows == 2 and "Titel" in warnings[0]


def test_a_quote_before_the_header_is_one_line_not_a_traceback(tmp_path):
    text = '"' + ";".join(FOLLOWUP_HEADER) + "\r\n" + "T1;K1;6;01.01.2024;svb;ja\r\n" * 50_000
    with pytest.raises(IngestError, match="Anführungszeichen in der Kopfzeile") as err:
        _read(tmp_path, "f.csv", text.encode())
    assert "\n" not in str(err.value)


def test_a_huge_cell_is_too_long_before_any_pattern_is_tried(tmp_path):
    p, key = fresh_workspace(tmp_path)
    huge = "0" + "1" * 100_000 + "x"  # would make the phone pattern backtrack
    rows = [participant_row(i, Herkunftsland=huge if i % 2 else "Ukraine") for i in range(1, 21)]
    write_csv(tmp_path / "t.csv", PARTICIPANT_HEADER, rows)
    start = time.perf_counter()
    result = ingest([tmp_path / "t.csv"], root=p, key_file=key)
    assert time.perf_counter() - start < 30  # generous: seconds per cell before
    q = result.quarantine
    assert set(q["check"]) == {"too_long"} and len(q) == 10
    assert q["value"].str.startswith("[masked: 100002 characters]").all()


def test_utf8_cut_inside_a_character_is_an_error_with_offset_and_line(tmp_path):
    good = csv_bytes(PARTICIPANT_HEADER, [participant_row(1, Nachname="Müller")], encoding="utf-8")
    cut = good + "K2;Jürgen;Gr".encode() + "ö".encode()[:1] + b"\r\n"
    with pytest.raises(IngestError) as err:
        _read(tmp_path, "t.csv", cut)
    message = str(err.value)
    assert f"ungültiges UTF-8 bei Byte {len(cut) - 3} (Zeile 3)" in message and "\n" not in message


def test_utf8_with_bom_and_a_bad_byte_is_an_error_too(tmp_path):
    data = codecs.BOM_UTF8 + csv_bytes(PARTICIPANT_HEADER, [participant_row(1)], encoding="utf-8")
    with pytest.raises(IngestError, match="ungültiges UTF-8 bei Byte 3 "):
        _read(tmp_path, "t.csv", data[:3] + b"\xff" + data[3:])


def test_cp1252_with_a_byte_pair_that_looks_like_utf8_is_still_cp1252(tmp_path):
    row = participant_row(
        1, Nachname="MÃ¼ller", Bemerkung="Grüße an Jürgen"
    )  # mojibake in one cell
    sources, [part], _ = _read(tmp_path, "t.csv", csv_bytes(PARTICIPANT_HEADER, [row]))
    assert sources[0].encoding == "cp1252"
    assert part.identifying["Nachname"].tolist() == ["MÃ¼ller"]


def test_a_stray_quote_in_a_large_file_does_not_swallow_the_rows_after_it(tmp_path):
    rows = [f"T{i};K{i};6;01.01.2024;svb;ja" for i in range(1, 2001)]
    rows[10] = 'T11;K11;6;"01.01.2024;svb;ja'
    text = ";".join(FOLLOWUP_HEADER) + "\r\n" + "\r\n".join(rows) + "\r\n"
    _, [part], _ = _read(tmp_path, "f.csv", text.encode())
    assert part.rows_read == 2000 and len(part.malformed) == 1
    assert part.malformed["source_row"].tolist() == [12]


def test_a_workbook_that_unpacks_to_gigabytes_is_refused_before_it_is_opened(tmp_path, monkeypatch):
    import openpyxl

    from evaluation.ingest import read

    wb = openpyxl.Workbook()
    wb.active.append(PARTICIPANT_HEADER)
    wb.active.append(participant_row(1))
    wb.save(tmp_path / "b.xlsx")
    monkeypatch.setattr(read, "MAX_UNPACKED_BYTES", 1000)  # instead of writing a real zip bomb
    with pytest.raises(IngestError, match="entpackt .* MB, mehr als"):
        read_sources([tmp_path / "b.xlsx"])


# --------------------------------------------------------------------------------------
# Safe outputs
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]
)
def test_formula_cells_are_neutralised(value):
    assert neutralise(value) == "'" + value
    assert neutralise("Köln") == "Köln" and neutralise("") == ""


def test_quarantine_file_is_owner_only_german_and_holds_no_live_formula(tmp_path):
    p, key = fresh_workspace(tmp_path)
    rows = [participant_row(1, Zuzugsjahr="=1+1"), participant_row(2, Geschlecht="+cmd|' /C calc'!A0"),
            participant_row(3, Stadtteil="@SUM(A1)"), participant_row(4, Erstkontakt="")]  # fmt: skip
    header = [*PARTICIPANT_HEADER]
    write_csv(tmp_path / "-Liste.csv", header, rows)  # a file name that starts like a formula
    result = ingest([tmp_path / "-Liste.csv"], root=p, key_file=key)
    file = result.quarantine_file
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert stat.S_IMODE(file.parent.stat().st_mode) == 0o700
    text = file.read_bytes().decode("utf-8-sig")
    header_line = text.splitlines()[0]
    assert (
        header_line
        == "Tabelle;Datei;Zeile;Spalte;Spalte in der Quelle;Wert (maskiert);Prüfung;Grund"
    )
    cells = [c.strip('"') for line in text.splitlines()[1:] for c in line.split(";")]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")]
    assert "'=1+1" in text and "'+cmd|' /C calc'!A0" in text and "'-Liste.csv" in text
    assert "<NA>" not in text and "nan" not in text.lower().split(";")
    assert "Pflichtwert fehlt" in text and "keine ganze Zahl" not in text
    back = load_quarantine(root=p)
    pd.testing.assert_frame_equal(
        back, result.quarantine.astype({"source_row": "int64"}), check_dtype=False
    )


def test_english_quarantine_and_summary_with_language_en(tmp_path, monkeypatch, capsys):
    p, key = fresh_workspace(tmp_path)
    write_csv(tmp_path / "t.csv", PARTICIPANT_HEADER, [participant_row(1, Zuzugsjahr="zwei")])
    monkeypatch.setenv("EVALUATION_HOME", str(p.root))
    monkeypatch.setenv("EVALUATION_KEY_FILE", str(key))
    assert cli.main([str(tmp_path / "t.csv"), "--language", "en"]) == 0
    out = capsys.readouterr().out
    assert "Reconciliation" in out and "QUARANTINED: 1 row(s)" in out and "not a number" in out
    text = next(p.quarantine.glob("*.csv")).read_text(encoding="utf-8-sig")
    assert text.startswith("table;file;row;column;source column;value (masked);check;reason")


# --------------------------------------------------------------------------------------
# The key
# --------------------------------------------------------------------------------------


def test_key_is_created_only_on_the_first_ingest_and_its_fingerprint_is_kept(tmp_path):
    p, key = fresh_workspace(tmp_path)
    write_csv(tmp_path / "t.csv", PARTICIPANT_HEADER, [participant_row(1)])
    first = ingest([tmp_path / "t.csv"], root=p, key_file=key)
    assert first.key_created == key and key.exists()
    fingerprint = first.source["pseudonymisation"]["key_fingerprint"]
    assert (
        snapshot_info(root=p).manifest["source"]["pseudonymisation"]["key_fingerprint"]
        == fingerprint
    )
    again = ingest([tmp_path / "t.csv"], root=p, key_file=key)
    assert again.key_created is None
    typo = key.with_name("pseudonym.kye")
    with pytest.raises(KeyFileError, match="fehlt, aber frühere Importe") as err:
        ingest([tmp_path / "t.csv"], root=p, key_file=typo)
    assert fingerprint in str(err.value) and "--new-key" in str(err.value)
    assert not typo.exists()  # a typo never creates a key


def test_a_different_key_is_refused_unless_new_key(tmp_path, monkeypatch, capsys):
    p, key = fresh_workspace(tmp_path)
    write_csv(tmp_path / "t.csv", PARTICIPANT_HEADER, [participant_row(1)])
    first = ingest([tmp_path / "t.csv"], root=p, key_file=key)
    other = key.with_name("other.key")
    other.write_text("ab" * 32 + "\n")
    other.chmod(0o600)
    with pytest.raises(KeyFileError, match="nicht der Schlüssel der früheren Importe"):
        ingest([tmp_path / "t.csv"], root=p, key_file=other)
    assert snapshot_info(root=p).id == first.snapshot.id
    monkeypatch.setenv("EVALUATION_HOME", str(p.root))
    assert cli.main([str(tmp_path / "t.csv"), "--key-file", str(other)]) == 2
    assert "verknüpfen" in capsys.readouterr().err
    new = ingest([tmp_path / "t.csv"], root=p, key_file=other, new_key=True)
    assert (
        new.tables["participants"]["person_id"].item()
        != first.tables["participants"]["person_id"].item()
    )
    # from now on the new key is the workspace's key
    with pytest.raises(KeyFileError):
        ingest([tmp_path / "t.csv"], root=p, key_file=key)


def test_cli_says_where_a_new_key_is_and_that_it_must_be_backed_up(tmp_path, monkeypatch, capsys):
    p, key = fresh_workspace(tmp_path)
    write_csv(tmp_path / "t.csv", PARTICIPANT_HEADER, [participant_row(1)])
    monkeypatch.setenv("EVALUATION_HOME", str(p.root))
    monkeypatch.setenv("EVALUATION_KEY_FILE", str(key))
    assert cli.main([str(tmp_path / "t.csv")]) == 0
    out = capsys.readouterr().out
    assert f"NEUER SCHLÜSSEL angelegt: {key}" in out and "sichern" in out
    assert "Zeilen: 1 gelesen = 1 angenommen + 0 zurückgestellt; 0 leer" in out
    assert cli.main([str(tmp_path / "t.csv")]) == 0
    assert "NEUER SCHLÜSSEL" not in capsys.readouterr().out


# --------------------------------------------------------------------------------------
# Partial and later exports
# --------------------------------------------------------------------------------------

ENROLMENT_HEADER = [
    "Teilnahme-Nr",
    "Klient-Nr",
    "Projekt",
    "Eintritt",
    "Austritt",
    "Austrittsgrund",
]


def _enrolment(i: int, person: int, **over) -> list[str]:
    row = {"Teilnahme-Nr": f"T{i}", "Klient-Nr": f"K{person:04d}", "Projekt": "Jobeinstiegsbegleitung",
           "Eintritt": "01.02.2024", "Austritt": "", "Austrittsgrund": ""}  # fmt: skip
    row.update(over)
    return [row[h] for h in ENROLMENT_HEADER]


def test_a_partial_ingest_keeps_the_other_tables_and_checks_references_against_them(tmp_path):
    p, key = fresh_workspace(tmp_path)
    people = write_csv(
        tmp_path / "Teilnehmende.csv", PARTICIPANT_HEADER, [participant_row(i) for i in (1, 2, 3)]
    )
    enrol = write_csv(
        tmp_path / "Teilnahmen.csv", ENROLMENT_HEADER, [_enrolment(1, 1), _enrolment(2, 2)]
    )
    first = ingest([people, enrol], root=p, key_file=key)
    later = write_csv(tmp_path / "Teilnahmen_neu.csv", ENROLMENT_HEADER,
                      [_enrolment(1, 1, Austritt="30.06.2024", Austrittsgrund="regulär beendet"),
                       _enrolment(3, 3), _enrolment(4, 9)])  # fmt: skip
    second = ingest([later], root=p, key_file=key)
    assert second.origin == {"participants": first.snapshot.id, "enrolments": "ingest"}
    assert set(snapshot_info(root=p).tables) == {"participants", "enrolments"}
    pd.testing.assert_frame_equal(second.tables["participants"], first.tables["participants"])
    q = second.quarantine
    assert q["check"].tolist() == ["unknown_reference"]  # K0009 is not a known person
    changes = second.changes.set_index("table").loc["enrolments"]
    assert (changes["rows_before"], changes["rows_after"]) == (2, 2)
    assert (changes["added"], changes["removed"], changes["changed"]) == (1, 1, 1)
    manifest = snapshot_info(root=p).manifest["source"]
    assert manifest["tables"]["participants"] == first.snapshot.id
    assert manifest["previous_snapshot"] == first.snapshot.id


def test_cli_reports_tables_taken_over_and_changes(tmp_path, monkeypatch, capsys):
    p, key = fresh_workspace(tmp_path)
    monkeypatch.setenv("EVALUATION_HOME", str(p.root))
    monkeypatch.setenv("EVALUATION_KEY_FILE", str(key))
    people = write_csv(
        tmp_path / "Teilnehmende.csv", PARTICIPANT_HEADER, [participant_row(i) for i in (1, 2)]
    )
    enrol = write_csv(tmp_path / "Teilnahmen.csv", ENROLMENT_HEADER, [_enrolment(1, 1)])
    assert cli.main([str(people), str(enrol)]) == 0
    first = snapshot_info(root=p).id
    capsys.readouterr()
    enrol.write_bytes(csv_bytes(ENROLMENT_HEADER, [_enrolment(1, 1), _enrolment(2, 2)]))
    assert cli.main([str(enrol)]) == 0
    out = capsys.readouterr().out
    assert f"unverändert übernommen aus Schnappschuss {first}" in out
    assert f"Änderungen gegenüber dem vorigen Schnappschuss {first}" in out
    assert "neu eingelesen aus Teilnahmen.csv" in out


def test_a_snapshot_missing_a_table_the_plan_needs_is_refused(tmp_path):
    p, key = fresh_workspace(tmp_path)
    (p.root / "params").mkdir()
    (p.root / "params" / "x.yml").write_text("notebook: x.ipynb\n")
    people = write_csv(tmp_path / "Teilnehmende.csv", PARTICIPANT_HEADER, [participant_row(1)])
    with pytest.raises(IngestError, match="Schnappschuss wäre unvollständig") as err:
        ingest([people], root=p, key_file=key)
    assert "enrolments (Teilnahmen)" in str(err.value) and "\n" not in str(err.value)
    assert not p.data.exists() and not key.exists()  # nothing written, not even a key


# --------------------------------------------------------------------------------------
# Help and language
# --------------------------------------------------------------------------------------


def test_ingest_help_is_german_and_complete(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for option in (
        "--mapping",
        "--suggest-mapping",
        "--key-file",
        "--new-key",
        "--dry-run",
        "--language",
    ):
        assert option in out
    assert "Exporte der Agentur" in out and "diese Hilfe zeigen" in out
    assert cli.main(["--help", "--language", "en"]) == 0
    assert "Read agency exports" in capsys.readouterr().out


def test_templates_help_and_wrong_usage(capsys, tmp_path):
    assert cli.templates_main(["--help"]) == 0
    assert "XLSForm" in capsys.readouterr().out
    assert cli.templates_main([]) == 2
    assert cli.main(["--no-such-option"]) == 2
    assert cli.main([]) == 2


def test_manifest_of_an_ingest_is_plain_json(tmp_path):
    p, key = fresh_workspace(tmp_path)
    write_csv(tmp_path / "t.csv", PARTICIPANT_HEADER, [participant_row(1)])
    ingest([tmp_path / "t.csv"], root=p, key_file=key)
    manifest = json.loads((snapshot_info(root=p).path / "manifest.json").read_text())
    columns = manifest["source"]["columns"][0]
    assert columns["used"]["Klient-Nr"] == "person_id"
    assert "Bemerkung" in columns["ignored"] and "Vorname" in columns["ignored"]


def test_an_ingest_of_the_demo_exports_is_no_previous_ingest_of_real_data(tmp_path):
    p, key = fresh_workspace(tmp_path)
    demo = p.raw / "demo"
    demo.mkdir(parents=True)
    enrol = write_csv(demo / "Teilnahmen.csv", ENROLMENT_HEADER, [_enrolment(1, 1)])
    people = write_csv(demo / "Teilnehmende.csv", PARTICIPANT_HEADER, [participant_row(1)])
    ingest([demo], root=p, key_file=key)
    real = write_csv(tmp_path / "Teilnehmende.csv", PARTICIPANT_HEADER, [participant_row(5)])
    other = key.with_name("real.key")
    result = ingest([real], root=p, key_file=other)  # a new key for real data is fine
    assert result.previous is None and result.key_created == other
    assert set(result.tables) == {"participants"}  # no demo enrolments carried over
    assert people.exists() and enrol.exists()
