"""Reading exports: encodings, separators, German formats, broken rows, workbooks."""

from __future__ import annotations

import codecs
import datetime as dt
import io

import openpyxl
import pandas as pd
import pytest

from evaluation.ingest.parse import parse_date, parse_integer, parse_month, parse_number
from evaluation.ingest.read import IngestError, choose_table, read_sources
from tests.test_ingest_helpers import PARTICIPANT_HEADER, csv_bytes, participant_row

FOLLOWUP_HEADER = [
    "Teilnahme-Nr",
    "Klient-Nr",
    "Monate nach Austritt",
    "Stichtag",
    "Erwerbsstatus",
    "SGB-II-Bezug",
]


def _read(tmp_path, name: str, data: bytes):
    file = tmp_path / name
    file.write_bytes(data)
    sources, parts, warnings = read_sources([file])
    return sources[0], parts, warnings


# --------------------------------------------------------------------------------------
# Single values
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("05.01.2023", pd.Timestamp("2023-01-05")),
        ("5.1.2023", pd.Timestamp("2023-01-05")),
        ("2023-01-05", pd.Timestamp("2023-01-05")),
        ("05.01.2023 00:00", pd.Timestamp("2023-01-05")),
        ("2023-01-05 00:00:00", pd.Timestamp("2023-01-05")),
        ("29.02.2024", pd.Timestamp("2024-02-29")),
    ],
)
def test_dates_in_german_and_iso_format(text, expected):
    assert parse_date(text) == (expected, None)


@pytest.mark.parametrize(
    "text",
    ["31.02.2023", "29.02.2023", "05.13.2023", "05.01.23", "01/05/2023", "morgen", "05.01.20233"],
)
def test_impossible_or_ambiguous_dates_are_not_guessed(text):
    assert parse_date(text) == (None, "not_a_date")


def test_dates_beyond_the_timestamp_range_are_out_of_range():
    assert parse_date("01.01.9999") == (None, "out_of_range")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("04.2019", "2019-04-01"), ("2019-04", "2019-04-01"), ("17.04.2019", "2019-04-01")],
)
def test_months(text, expected):
    assert parse_month(text) == (pd.Timestamp(expected), None)


@pytest.mark.parametrize(
    ("text", "locale", "expected"),
    [
        ("2,25", "de", 2.25),
        ("1.234,5", "de", 1234.5),
        ("1.234", "de", 1234.0),
        ("2.5", "de", 2.5),
        ("-3", "de", -3.0),
        ("2.25", "en", 2.25),
        ("1,234.5", "en", 1234.5),
        ("1.234", "en", 1.234),
    ],
)
def test_numbers_by_locale(text, locale, expected):
    assert parse_number(text, locale) == (expected, None)


@pytest.mark.parametrize("text", ["zwei", "1,2,3", "2,5,", "nan", "inf", "1_000", "12 5"])
def test_not_numbers(text):
    assert parse_number(text, "de")[1] in {"not_a_number", "out_of_range"}


def test_integers_must_be_whole():
    assert parse_integer("2,0", "de") == (2, None)
    assert parse_integer("2,5", "de") == (None, "not_whole_number")
    assert parse_integer("1e300", "de") == (None, "out_of_range")


# --------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "reported"),
    [("cp1252", "cp1252"), ("utf-8-sig", "utf-8-sig"), ("utf-8", "utf-8"), ("utf-16", "utf-16")],
)
def test_encodings_are_detected(tmp_path, encoding, reported):
    sep = "\t" if encoding == "utf-16" else ";"
    data = csv_bytes(
        PARTICIPANT_HEADER, [participant_row(1, Nachname="Müßiggang")], sep=sep, encoding=encoding
    )
    source, [part], _ = _read(tmp_path, "t.csv", data)
    assert source.encoding == reported
    assert part.table == "participants"
    assert part.frame.loc[0, "stadtteil"] == "Ehrenfeld"
    assert list(part.identifying["Nachname"]) == ["Müßiggang"]


def test_bytes_neither_utf8_nor_cp1252_are_an_error_naming_offset_and_line(tmp_path):
    good = csv_bytes(PARTICIPANT_HEADER, [participant_row(1)])
    data = good + b"K9\x81;" + b";" * (len(PARTICIPANT_HEADER) - 2) + b"\r\n"
    with pytest.raises(IngestError, match=rf"Byte {len(good) + 2} \(Zeile 3\): Byte 0x81"):
        _read(tmp_path, "t.csv", data)


def test_comma_separated_english_export(tmp_path):
    header = ["Volunteer ID", "Assignment date", "Assignment type", "Hours"]
    data = csv_bytes(
        header, [["E1", "2024-03-01", "course leading", "2.5"]], sep=",", encoding="utf-8"
    )
    source, [part], _ = _read(tmp_path, "a.csv", data)
    assert (source.delimiter, part.locale, part.table) == (",", "en", "volunteer_assignments")


def test_row_numbers_count_like_a_spreadsheet(tmp_path):
    rows = [["T1", "K1", "6", "01.01.2024", "svb", "ja"], ["T2", "K2", "6", "01.01.2024", 'a "quoted"\nline break', "ja"],
            ["", "", "", "", "", ""], ["T3", "K3", "6", "01.01.2024", "svb", "ja"]]  # fmt: skip
    data = csv_bytes(FOLLOWUP_HEADER, rows)
    _, [part], _ = _read(tmp_path, "f.csv", data + b"\r\n")
    assert list(part.source_row) == [2, 3, 5]  # row 4 is blank
    assert part.blank_rows == 2  # the blank row and the empty line at the end
    assert part.frame.loc[1, "status"] == 'a "quoted"\nline break'


def test_rows_with_wrong_field_count_are_kept_as_malformed(tmp_path):
    good = "T1;K1;6;01.01.2024;svb;ja"
    text = (
        ";".join(FOLLOWUP_HEADER)
        + f"\r\n{good}\r\nT2;K2;6;01.01.2024;svb;ja;extra\r\nT3;K3;6\r\n   \r\n{good}\r\n"
    )
    _, [part], _ = _read(tmp_path, "f.csv", text.encode("cp1252"))
    assert list(part.source_row) == [2, 6]
    assert part.malformed.to_dict("records") == [
        {"source_row": 3, "detail": "6 Felder erwartet, 7 gefunden"},
        {"source_row": 4, "detail": "6 Felder erwartet, 3 gefunden"},
    ]
    assert part.rows_read == 4 and part.blank_rows == 1


def test_a_stray_quote_is_named_and_the_rows_after_it_are_read_again(tmp_path):
    text = (
        ";".join(FOLLOWUP_HEADER)
        + '\r\nT1;K1;6;01.01.2024;svb;ja\r\nT2;K2;6;"01.01.2024;svb;ja\r\nT3;K3;6;01.01.2024;svb;ja\r\n'
        + "T4;K4;6;01.01.2024;svb;ja\r\n"
    )
    _, [part], _ = _read(tmp_path, "f.csv", text.encode("cp1252"))
    assert list(part.source_row) == [2, 4, 5]  # the rows after the quote are not swallowed
    assert list(part.malformed["source_row"]) == [3]
    assert "Anführungszeichen in Textzeile 3" in part.malformed["detail"][0]
    assert list(part.frame["enrolment_id"]) == ["T1", "T3", "T4"]
    assert part.rows_read == 4


def test_identifying_and_unknown_columns_are_set_apart(tmp_path):
    _, [part], _ = _read(tmp_path, "t.csv", csv_bytes(PARTICIPANT_HEADER, [participant_row(1)]))
    assert "birth_date" in part.frame  # needed for the birth year, dropped after parsing
    assert set(part.dropped_identifying) == {
        "Vorname",
        "Nachname",
        "Geburtsdatum",
        "Telefon",
        "E-Mail",
    }
    assert part.dropped_unrecognised == ["Bemerkung"]
    assert part.missing_optional == []  # birth_year comes from the birth date
    assert not {"Vorname", "Telefon", "Bemerkung"} & set(part.frame.columns)


def test_same_file_given_twice_is_read_once(tmp_path):
    file = tmp_path / "t.csv"
    file.write_bytes(csv_bytes(PARTICIPANT_HEADER, [participant_row(1)]))
    copy = tmp_path / "sub" / "t.csv"
    copy.parent.mkdir()
    copy.write_bytes(file.read_bytes())
    sources, parts, warnings = read_sources([file, tmp_path / "sub"])
    assert len(sources) == len(parts) == 1 and "einmal gelesen" in warnings[0]


# --------------------------------------------------------------------------------------
# Which table
# --------------------------------------------------------------------------------------


def test_table_is_told_by_headers_whatever_the_file_is_called():
    assert choose_table(FOLLOWUP_HEADER, ["export_2024"], "x") == "followups"
    assert (
        choose_table(["Klient-Nr", "Monat", "Erwerbsstatus"], ["Verbleib"], "x")
        == "employment_months"
    )


def test_missing_required_column_is_named():
    with pytest.raises(
        IngestError,
        match=r"am ähnlichsten ist followups, dafür fehlen 'Stichtag' \(reference_date\)",
    ):
        choose_table([h for h in FOLLOWUP_HEADER if h != "Stichtag"], ["Verbleib"], "x")


# --------------------------------------------------------------------------------------
# XLSX
# --------------------------------------------------------------------------------------


def _workbook(sheets: dict[str, list[list[object]]]) -> bytes:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def test_workbook_sheets_become_tables_with_native_values(tmp_path):
    data = _workbook({
        "Verbleib": [FOLLOWUP_HEADER, ["T1", 1001, 6, dt.datetime(2024, 1, 5), "svb", True], [None] * 6,
                     ["T2", "K2", 12.0, dt.date(2024, 2, 1), "minijob", False]],
        "Einsätze": [["Volunteer ID", "Assignment date", "Assignment type", "Hours"], ["E1", dt.datetime(2024, 3, 1), "kursleitung", 2.25]],
    })  # fmt: skip
    source, parts, _ = _read(tmp_path, "book.xlsx", data)
    assert source.format == "xlsx"
    followups, assignments = parts
    assert (followups.table, followups.sheet, assignments.table) == (
        "followups",
        "Verbleib",
        "volunteer_assignments",
    )
    assert list(followups.source_row) == [2, 4] and followups.blank_rows == 1
    assert followups.frame.to_dict("list") == {
        "enrolment_id": ["T1", "T2"], "person_id": ["1001", "K2"], "months_after_exit": ["6", "12"],
        "reference_date": ["05.01.2024", "01.02.2024"], "status": ["svb", "minijob"], "sgb2_receipt": ["ja", "nein"],
    }  # fmt: skip
    assert assignments.frame.loc[0, "hours"] == "2,25"
    assert followups.label == "book.xlsx[Verbleib]"


def test_workbook_with_a_sheet_of_unknown_content_is_refused(tmp_path):
    data = _workbook({"Verbleib": [FOLLOWUP_HEADER], "Notizen": [["Bitte bis Freitag prüfen"]]})
    with pytest.raises(IngestError, match=r"book.xlsx\[Notizen\]"):
        _read(tmp_path, "book.xlsx", data)


def test_workbook_cells_beyond_the_header_are_reported(tmp_path):
    data = _workbook(
        {
            "Verbleib": [
                FOLLOWUP_HEADER,
                ["T1", "K1", 6, "01.01.2024", "svb", "ja", "Anruf bei Frau X"],
            ]
        }
    )
    _, [part], _ = _read(tmp_path, "book.xlsx", data)
    assert part.dropped_unrecognised == ["(column 7 without header)"]


def test_header_row_may_start_below_empty_rows(tmp_path):
    data = _workbook(
        {"Verbleib": [[None], [None], FOLLOWUP_HEADER, ["T1", "K1", 6, "01.01.2024", "svb", "ja"]]}
    )
    _, [part], _ = _read(tmp_path, "book.xlsx", data)
    assert list(part.source_row) == [4]


def test_bom_is_not_part_of_the_first_header(tmp_path):
    data = codecs.BOM_UTF8 + csv_bytes(
        FOLLOWUP_HEADER, [["T1", "K1", "6", "01.01.2024", "svb", "ja"]], encoding="utf-8"
    )
    _, [part], _ = _read(tmp_path, "f.csv", data)
    assert part.headers["enrolment_id"] == "Teilnahme-Nr"
