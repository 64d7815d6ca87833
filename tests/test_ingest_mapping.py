"""Mapping files: the agency's own headers, codes, date formats, title lines and total rows,
drafted by ``--suggest-mapping`` and applied by the ingest; every column accounted for."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from evaluation.ingest import IngestError, cli, ingest
from evaluation.ingest.mapping import MappingError, load_mapping
from evaluation.ingest.suggest import suggest_mapping
from tests.test_ingest_helpers import fresh_workspace, leaked

REPO = Path(__file__).resolve().parents[1]

#: A client list as a case-management tool exports it: title line, its own headers and
#: codes, two-digit years, a total row, names and a note column.
MESSY_HEADER = ["Kd.-Nr.", "Name", "Vorname", "Geb.-Datum", "Herkunft (Land)", "Zielgr.", "Geschl.", "Einreise",
                "Stadtteil", "Zugang über", "Uni-Abschluss", "Datum Erstgespräch", "Status", "Notiz"]  # fmt: skip
MESSY_ROWS = [
    ["1001", "Iwanowa", "Olga", "03.04.81", "Russland", "Russischspr.", "w", "2015", "Ehrenfeld", "JC", "ja", "01.03.23", "aktiv", "ruft zurück"],
    ["1002", "Haidari", "Ahmad", "12.11.90", "Afghanistan", "Geflücht.", "m", "2016", "Bickendorf", "Selbst", "nein", "15.03.23", "aktiv", ""],
    ["1003", "Kowalenko", "Oksana", "01.01.85", "Ukraine", "UA", "w", "2022", "Ossendorf", "Bekannte", "ja", "20.04.23", "beendet", "Frau Kowalenko Dolmetsch"],
    ["1004", "Petrow", "Sergej", "30.02.79", "Kasachstan", "Russischspr.", "m", "2012", "Vogelsang", "JC", "nein", "02.05.23", "aktiv", ""],
    ["1005", "Nowak", "Maria", "07.07.88", "Olga", "EU-Südost", "w", "2019", "Ehrenfeld", "JC", "ja", "03.05.23", "aktiv", ""],
]  # fmt: skip


def messy_export(path: Path) -> Path:
    lines = ["Klientenliste Stand 01.06.2023;;;", ""]
    lines += [";".join(MESSY_HEADER), *(";".join(r) for r in MESSY_ROWS), "Summe;;;;;;;;;;;;;"]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
    return path


def edited(draft: str) -> str:
    """What the evaluator changes in the draft: the lines the tool could not know."""
    replace = {
        '"Kd.-Nr.": ignore': '"Kd.-Nr.": person_id',
        '"Uni-Abschluss": ignore': '"Uni-Abschluss": academic_degree',
        '"Datum Erstgespräch": ignore': '"Datum Erstgespräch": first_contact',
        '# "UA": ???': '"UA": ukraine',
        '# "JC": ???': '"JC": jobcenter',
        '# "Bekannte": ???': '"Bekannte": umfeld',
    }
    for old, new in replace.items():
        assert old in draft, old
        draft = draft.replace(old, new)
    return draft


def test_messy_export_goes_in_with_a_drafted_and_edited_mapping(tmp_path):
    export = messy_export(tmp_path / "Klientenliste_2025.csv")
    draft = suggest_mapping(export)
    assert yaml.safe_load(draft)["sources"][0]["header_row"] == 3  # title line found
    rule = yaml.safe_load(draft)["sources"][0]
    assert rule["table"] == "participants"
    assert rule["columns"]["Name"] == "last_name" and rule["columns"]["Geb.-Datum"] == "birth_date"
    assert rule["columns"]["Status"] == "ignore"  # not mistaken for the city ("Stadt")
    assert rule["values"]["target_group"]["Russischspr."] == "russischsprachig"
    assert rule["date_formats"] == ["%d.%m.%y"]
    assert rule["skip_where"] == {"Kd.-Nr.": ["Summe"]}
    mapping = tmp_path / "mapping.yml"
    mapping.write_text(edited(draft), encoding="utf-8")

    p, key = fresh_workspace(tmp_path)
    result = ingest([export], root=p, key_file=key, mapping=mapping)
    people = result.tables["participants"]
    rec = result.reconciliation.set_index("table").loc["participants"]
    assert (rec["rows_read"], rec["rows_accepted"], rec["rows_quarantined"]) == (5, 3, 2)
    assert sorted(people["birth_year"]) == [1981, 1985, 1990]
    assert sorted(people["target_group"]) == ["gefluechtete", "russischsprachig", "ukraine"]
    assert sorted(people["referral_route"]) == ["jobcenter", "selbst", "umfeld"]
    assert people["first_contact"].min().isoformat()[:10] == "2023-03-01"
    why = dict(zip(result.quarantine["source_row"], result.quarantine["check"], strict=True))
    assert why == {7: "not_a_date", 8: "contains_name"}  # 30.02.79; another person's first name
    account = result.columns[0]
    assert account["used"]["Kd.-Nr."] == "person_id" and account["title_rows"] == 2
    assert account["skipped_rows"] == 1  # the total row
    ignored = account["ignored"]
    assert set(ignored) == {"Name", "Vorname", "Geb.-Datum", "Status", "Notiz"}
    assert "identifizierend" in ignored["Name"] and "ignoriert" in ignored["Status"]
    assert leaked(p, ["Iwanowa", "Olga", "Haidari", "Kowalenko", "03.04.81", "ruft zurück"]) == []


def test_suggest_mapping_cli_prints_or_writes_a_draft_and_never_overwrites(tmp_path, capsys):
    export = messy_export(tmp_path / "k.csv")
    assert cli.main(["--suggest-mapping", str(export)]) == 0
    printed = capsys.readouterr().out
    assert (
        printed.startswith("# Entwurf einer Zuordnungsdatei") and "table: participants" in printed
    )
    out = tmp_path / "draft.yml"
    assert cli.main(["--suggest-mapping", str(export), "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == printed
    assert cli.main(["--suggest-mapping", str(export), "-o", str(out)]) == 2
    assert "nicht überschrieben" in capsys.readouterr().err


def test_without_a_mapping_the_aliases_still_work_and_free_text_is_taken(tmp_path):
    p, key = fresh_workspace(tmp_path)
    file = tmp_path / "Teilnehmende.csv"
    file.write_bytes(
        "Klient-Nr;Geburtsjahr;Geschlecht;Zielgruppe;Herkunftsland;Zuzugsjahr;Stadtteil;Zugangsweg;Hochschulabschluss;Erstkontakt\r\n"
        "K1;1980;w;ukraine;Ukraine;2022;401;selbst;ja;01.03.2023\r\n".encode("cp1252")
    )
    result = ingest([file], root=p, key_file=key)
    assert result.tables["participants"]["country_of_origin"].tolist() == ["Ukraine"]


def test_with_a_mapping_free_text_must_be_declared(tmp_path):
    p, key = fresh_workspace(tmp_path)
    file = tmp_path / "Elterngruppen.csv"
    file.write_bytes(
        "Gruppenzyklus;Gruppe;Stadtteil;Beginn;Ende;Geplante Termine;Wartelisten-Design\r\n"
        "EG2024-11;Elterncafé Ehrenfeld;401;01.02.2024;30.06.2024;10;nein\r\n".encode("cp1252")
    )
    undeclared = tmp_path / "m1.yml"
    undeclared.write_text(
        'version: 1\nsources:\n  - file: "Elterngruppen.csv"\n    table: parent_groups\n'
    )
    with pytest.raises(IngestError, match="text_columns"):
        ingest([file], root=p, key_file=key, mapping=undeclared)
    assert not p.data.exists()
    declared = tmp_path / "m2.yml"
    declared.write_text(undeclared.read_text() + "    text_columns: [group_name]\n")
    result = ingest([file], root=p, key_file=key, mapping=declared)
    assert result.tables["parent_groups"]["group_name"].tolist() == ["Elterncafé Ehrenfeld"]


def test_workspace_mapping_file_is_used_by_default(tmp_path):
    p, key = fresh_workspace(tmp_path)
    (p.data).mkdir()
    (p.data / "mapping.yml").write_text(
        'version: 1\nsources:\n  - file: "*.csv"\n    table: events\n    columns:\n      Nr: event_id\n'
        "      Termin: event_date\n      Art: event_kind\n      Ort: location\n      TN: participants\n"
        "      Partner: partner_organisations\n    text_columns: [location]\n"
        "    values:\n      event_kind:\n        Schulung MSO: mso_fortbildung\n",
        encoding="utf-8",
    )
    file = tmp_path / "liste.csv"
    file.write_bytes(
        "Nr;Termin;Art;Ort;TN;Partner\r\nV1;01.02.2024;Schulung MSO;Chorweiler;12;2\r\n".encode(
            "cp1252"
        )
    )
    result = ingest([file], root=p, key_file=key)
    assert result.tables["events"]["event_kind"].tolist() == ["mso_fortbildung"]
    assert result.source["mapping"] == "data/mapping.yml"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sources:\n  - table: nope\n", "sources[0].table: unbekannte Tabelle 'nope'"),
        ("sources:\n  - table: participants\n    columns:\n      X: not_a_column\n", "columns.X: unbekanntes Ziel"),
        ("sources:\n  - table: participants\n    values:\n      sex:\n        Frau: female\n", "values.sex.Frau: unbekannter Code 'female'"),
        ("sources:\n  - tabel: participants\n", "sources[0].tabel: unbekannter Schlüssel"),
        ("sources:\n  - table: participants\n    text_columns: [sex]\n", "keine Freitextspalte"),
        ("sources:\n  - table: participants\n    header_row: 0\n", "header_row"),
        ("sources: [\n", "kein gültiges YAML"),
    ],
)  # fmt: skip
def test_invalid_mapping_is_one_line_naming_the_entry(tmp_path, text, message):
    path = tmp_path / "mapping.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(MappingError) as err:
        load_mapping(path)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert str(path) in str(err.value)


def test_invalid_mapping_exits_2_from_the_cli(tmp_path, monkeypatch, capsys):
    p, key = fresh_workspace(tmp_path)
    monkeypatch.setenv("EVALUATION_HOME", str(p.root))
    monkeypatch.setenv("EVALUATION_KEY_FILE", str(key))
    bad = tmp_path / "m.yml"
    bad.write_text("sources:\n  - table: nope\n")
    export = messy_export(tmp_path / "k.csv")
    assert cli.main([str(export), "--mapping", str(bad)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "unbekannte Tabelle" in err
    assert not p.data.exists()


def test_the_example_mapping_in_the_repository_is_valid_and_documents_every_key():
    example = REPO / "data" / "mapping.example.yml"
    mapping = load_mapping(example)
    assert mapping.sources
    text = example.read_text(encoding="utf-8")
    for key in ("table:", "header_row:", "columns:", "text_columns:", "values:", "date_formats:",
                "skip_where:", "sheet:", "ignore"):  # fmt: skip
        assert key in text, key


def test_sheet_entries_choose_the_table_and_leave_sheets_out(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Gruppen 2024"
    ws.append(
        [
            "Zyklus",
            "Name der Gruppe",
            "Quartier",
            "erster Termin",
            "letzter Termin",
            "Termine",
            "Los",
        ]
    )
    ws.append(["EG2024-11", "Elterncafé Ehrenfeld", "401", "01.02.2024", "30.06.2024", 10, "nein"])
    notes = wb.create_sheet("Notizen")
    notes.append(["Frau Iwanowa anrufen"])
    wb.save(tmp_path / "Elternarbeit_2024.xlsx")
    mapping = tmp_path / "m.yml"
    mapping.write_text(
        'sources:\n  - file: "Elternarbeit_*.xlsx"\n    sheet: "Gruppen*"\n    table: parent_groups\n'
        '    columns: {Zyklus: cycle_id, "Name der Gruppe": group_name, Quartier: stadtteil,\n'
        '              "erster Termin": start_date, "letzter Termin": end_date, Termine: sessions_planned, Los: waitlist_design}\n'
        "    text_columns: [group_name]\n"
        '  - file: "Elternarbeit_*.xlsx"\n    sheet: Notizen\n    ignore: true\n',
        encoding="utf-8",
    )
    p, key = fresh_workspace(tmp_path)
    result = ingest([tmp_path / "Elternarbeit_2024.xlsx"], root=p, key_file=key, mapping=mapping)
    assert result.tables["parent_groups"]["cycle_id"].tolist() == ["EG2024-11"]
    assert any("Notizen" in w and "ausgelassen" in w for w in result.warnings)
    assert leaked(p, ["Iwanowa"]) == []
    draft = yaml.safe_load(suggest_mapping(tmp_path / "Elternarbeit_2024.xlsx"))
    assert [s.get("sheet") for s in draft["sources"]] == ["Gruppen 2024", "Notizen"]
    assert draft["sources"][0]["table"] == "parent_groups"


def test_errors_in_english_with_language_en(tmp_path, monkeypatch, capsys):
    p, key = fresh_workspace(tmp_path)
    monkeypatch.setenv("EVALUATION_HOME", str(p.root))
    monkeypatch.setenv("EVALUATION_KEY_FILE", str(key))
    empty = tmp_path / "leer.csv"
    empty.write_bytes(b"")
    assert cli.main([str(empty), "--language", "en"]) == 2
    assert "leer.csv: file is empty" in capsys.readouterr().err
    assert cli.main([str(empty)]) == 2
    assert "leer.csv: Datei ist leer" in capsys.readouterr().err
