"""Templates from the contract, the FSW questionnaire as an XLSForm, and survey-tool exports
(KoboToolbox, LimeSurvey) read through the shipped mappings."""

from __future__ import annotations

import csv
import datetime as dt
import io

import openpyxl
import pandas as pd
import pytest

from evaluation import schemas
from evaluation.ingest import ingest
from evaluation.ingest.templates import (
    EXPLANATION_SHEET,
    LISTS_SHEET,
    TEMPLATE_TABLES,
    TemplateError,
    write_templates,
)
from evaluation.ingest.xlsform import likert_label
from tests.test_ingest_helpers import fresh_workspace


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    folder = tmp_path_factory.mktemp("templates")
    return folder, write_templates(folder)


def test_workbook_has_a_sheet_per_table_with_german_headers_lists_and_dates(templates):
    folder, written = templates
    wb = openpyxl.load_workbook(folder / "Erfassungsvorlage.xlsx")
    assert set(wb.sheetnames) == {EXPLANATION_SHEET, LISTS_SHEET} | {
        schemas.TABLES[t].de for t in TEMPLATE_TABLES
    }
    assert wb[LISTS_SHEET].sheet_state == "hidden"
    ws = wb["Teilnahmen"]
    spec = schemas.TABLES["enrolments"]
    assert [c.value for c in ws[1]] == [c.de for c in spec.columns]
    validations = {str(dv.sqref): dv for dv in ws.data_validations.dataValidation}
    project = validations["C2:C1001"]  # Projekt
    assert project.type == "list" and project.formula1.startswith(f"={LISTS_SHEET}!")
    lists = wb[LISTS_SHEET]
    column = next(c for c in lists[1] if c.value == "enrolments.project").column_letter
    assert [c.value for c in lists[column][1:] if c.value] == [
        de for de, _ in spec.column("project").codes.values()
    ]
    assert validations["D2:D1001"].type == "date" and ws["D2"].number_format == "DD.MM.YYYY"
    surveys = wb["Elternbefragung"]
    types = {
        str(dv.sqref): (dv.type, dv.formula1, dv.formula2)
        for dv in surveys.data_validations.dataValidation
    }
    assert types["E2:E1001"] == ("whole", "1", "6")  # FSW 1
    assert types["N2:N1001"][:2] == ("list", '"ja,nein"')
    explained = {
        (r[0].value, r[1].value) for r in wb[EXPLANATION_SHEET].iter_rows(min_row=2) if r[1].value
    }
    assert ("Teilnahmen (enrolments)", "Austrittsgrund") in explained
    assert len(explained) == sum(len(schemas.TABLES[t].columns) for t in TEMPLATE_TABLES)
    # no identifying column is asked for
    headers = {c.value for t in TEMPLATE_TABLES for c in wb[schemas.TABLES[t].de][1]}
    assert not {"Vorname", "Nachname", "Geburtsdatum", "Telefon", "E-Mail"} & headers


def test_csv_templates_match_the_contract(templates):
    folder, _ = templates
    for table in TEMPLATE_TABLES:
        spec = schemas.TABLES[table]
        data = (folder / f"{spec.de}.csv").read_bytes()
        assert data.startswith(b"\xef\xbb\xbf")
        header = next(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
        assert header == [c.de for c in spec.columns]


def test_templates_are_not_overwritten_without_force(templates):
    folder, _ = templates
    with pytest.raises(TemplateError, match="gibt es schon"):
        write_templates(folder)


def test_filled_in_workbook_is_ingested_as_it_is(templates, tmp_path):
    folder, _ = templates
    wb = openpyxl.load_workbook(folder / "Erfassungsvorlage.xlsx")

    def put(sheet: str, rows: list[list[object]]) -> None:
        for i, row in enumerate(rows, start=2):
            for j, value in enumerate(row, start=1):
                wb[sheet].cell(i, j, value)

    put("Teilnehmende", [
        ["K1", 1985, "weiblich", "Geflüchtete aus der Ukraine", "Ukraine", 2022, "Ehrenfeld", "selbst", "ja", dt.datetime(2023, 3, 1)],
        ["K2", 1990, "männlich", "Geflüchtete aus der Ukraine", "Syrien", 2016, "Bickendorf", "selbst", "nein", dt.datetime(2023, 4, 1)],
    ])  # fmt: skip
    put("Elterngruppen", [["EG2024-11", "Elterncafé Ehrenfeld", "Ehrenfeld", dt.datetime(2024, 2, 1), dt.datetime(2024, 6, 30), 10, "nein"]])  # fmt: skip
    put("Elternbefragung", [["K1", "EG2024-11", "vorher (Beginn des Zyklus)", dt.datetime(2024, 2, 1), *range(1, 7), 3, 4, 5, "ja", "nein", None, "ja"]])  # fmt: skip
    wb.save(tmp_path / "ausgefuellt.xlsx")
    p, key = fresh_workspace(tmp_path)
    result = ingest([tmp_path / "ausgefuellt.xlsx"], root=p, key_file=key)
    assert result.rows_quarantined == 0
    assert len(result.tables["participants"]) == 2 and len(result.tables["parent_surveys"]) == 1
    survey = result.tables["parent_surveys"].iloc[0]
    assert [survey[f"fsw_{i}"] for i in range(1, 10)] == [1, 2, 3, 4, 5, 6, 3, 4, 5]
    assert survey["wave"] == "pre" and pd.isna(survey["kita_enrolled"])
    rec = result.reconciliation.set_index("table")
    assert rec.loc["participants", "blank_rows"] == 0  # the prepared empty rows are no rows
    assert not any("Erläuterungen" in w for w in result.warnings)


# --------------------------------------------------------------------------------------
# XLSForm and survey tools
# --------------------------------------------------------------------------------------


def test_xlsform_has_a_question_per_survey_column_and_the_contract_choices(templates):
    folder, _ = templates
    wb = openpyxl.load_workbook(folder / "FSW_Fragebogen.xlsx")
    assert wb.sheetnames == ["survey", "choices", "settings"]
    survey = list(wb["survey"].iter_rows(values_only=True))
    header, rows = survey[0], survey[1:]
    names = [r[header.index("name")] for r in rows]
    assert names == schemas.TABLES["parent_surveys"].names
    types = dict(zip(names, (r[header.index("type")] for r in rows), strict=True))
    assert types["wave"] == "select_one wave" and types["survey_date"] == "date"
    assert (
        types["fsw_1"] == "select_one fsw_skala"
        and types["kita_enrolled"] == "select_one ja_nein_entfaellt"
    )
    choices = {(r[0], r[1]) for r in wb["choices"].iter_rows(min_row=2, values_only=True)}
    assert {("wave", "pre"), ("wave", "post"), ("fsw_skala", "1"), ("fsw_skala", "6")} <= choices
    settings = dict(zip(*wb["settings"].iter_rows(values_only=True), strict=True))
    assert settings["form_id"] == "fsw_elternbefragung"


KOBO_META = ["start", "end", "_id", "_uuid", "_submission_time", "_validation_status", "_index"]


def _kobo_rows(labels: bool) -> tuple[list[str], list[list[str]]]:
    names = schemas.TABLES["parent_surveys"].names
    header = (
        KOBO_META[:2]
        + ([schemas.TABLES["parent_surveys"].column(n).de for n in names] if labels else names)
        + KOBO_META[2:]
    )
    fsw = [likert_label(v) if labels else str(v) for v in (4, 5, 6, 2, 3, 4, 5, 6, 1)]
    wave = "vorher (Beginn des Zyklus)" if labels else "pre"
    kita = "entfällt (kein kleines Kind)" if labels else "entfaellt"
    row = ["2024-02-01T10:00:00.000+01:00", "2024-02-01T10:20:00.000+01:00", "K0001", "EG2024-11", wave, "2024-02-01",
           *fsw, "ja", "nein", kita, "ja", "123", "uuid-1", "2024-02-01T10:21:00", "", "1"]  # fmt: skip
    return header, [row]


@pytest.mark.parametrize("labels", [False, True], ids=["xml-values", "labels"])
def test_kobotoolbox_export_is_read_through_the_shipped_mapping(tmp_path, labels):
    header, rows = _kobo_rows(labels)
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=";", lineterminator="\r\n").writerows([header, *rows])
    export = tmp_path / "FSW_Elternbefragung_-_all_versions.csv"
    export.write_bytes(buffer.getvalue().encode("utf-8"))
    p, key = fresh_workspace(tmp_path)
    result = ingest([export], root=p, key_file=key, mapping="kobo-fsw")
    assert result.rows_quarantined == 0, result.quarantine
    row = result.tables["parent_surveys"].iloc[0]
    assert [row[f"fsw_{i}"] for i in range(1, 10)] == [4, 5, 6, 2, 3, 4, 5, 6, 1]
    assert row["wave"] == "pre" and row["survey_date"] == dt.datetime(2024, 2, 1)
    assert pd.isna(row["kita_enrolled"])  # "entfällt": no young child
    assert set(result.columns[0]["ignored"]) == set(KOBO_META)


def test_limesurvey_export_is_read_through_the_shipped_mapping(tmp_path):
    header = ["id", "submitdate", "lastpage", "startlanguage", "seed", "KLIENTNR", "ZYKLUS", "WELLE", "DATUM",
              *(f"FSW[SQ00{i}]" for i in range(1, 10)), "SCHULE", "ELTERNABEND", "KITA", "DEUTSCHKURS"]  # fmt: skip
    rows = [
        ["1", "2024-06-30 12:00:00", "3", "de", "123", "K0001", "EG2024-11", "A2", "2024-06-30 00:00:00",
         *(f"A{v}" for v in (5, 5, 6, 4, 4, 5, 6, 6, 3)), "Y", "Y", "", "N"],
        ["2", "2024-06-30 12:05:00", "3", "de", "456", "K0002", "EG2024-11", "A3", "2024-06-30 00:00:00",
         *(f"A{v}" for v in (5, 5, 6, 4, 4, 5, 6, 6, 3)), "Y", "Y", "", "N"],
    ]  # fmt: skip
    buffer = io.StringIO(newline="")
    csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows([header, *rows])
    export = tmp_path / "results-survey123456.csv"
    export.write_bytes(buffer.getvalue().encode("utf-8"))
    p, key = fresh_workspace(tmp_path)
    result = ingest([export], root=p, key_file=key, mapping="limesurvey-fsw")
    row = result.tables["parent_surveys"].iloc[0]
    assert (
        row["wave"] == "post"
        and row["fsw_9"] == 3
        and bool(row["school_contact"])
        and not row["german_course"]
    )
    assert result.quarantine["check"].tolist() == ["unknown_code"]  # A3 is no wave
    assert result.columns[0]["ignored"]["submitdate"] == "laut Zuordnungsdatei ignoriert"


def test_an_unused_template_sheet_does_not_replace_the_previous_table(templates, tmp_path):
    folder, _ = templates
    p, key = fresh_workspace(tmp_path)
    wb = openpyxl.load_workbook(folder / "Erfassungsvorlage.xlsx")
    row = ["K1", 1985, "weiblich", "Geflüchtete aus der Ukraine", "Ukraine", 2022, "Ehrenfeld", "selbst", "ja", dt.datetime(2023, 3, 1)]  # fmt: skip
    for j, value in enumerate(row, start=1):
        wb["Teilnehmende"].cell(2, j, value)
    wb.save(tmp_path / "a.xlsx")
    first = ingest([tmp_path / "a.xlsx"], root=p, key_file=key)
    wb = openpyxl.load_workbook(folder / "Erfassungsvorlage.xlsx")
    group = ["EG2024-11", "Elterncafé Ehrenfeld", "Ehrenfeld", dt.datetime(2024, 2, 1), dt.datetime(2024, 6, 30), 10, "nein"]  # fmt: skip
    for j, value in enumerate(group, start=1):
        wb["Elterngruppen"].cell(2, j, value)
    wb.save(tmp_path / "b.xlsx")
    second = ingest([tmp_path / "b.xlsx"], root=p, key_file=key)
    assert second.origin == {"participants": first.snapshot.id, "parent_groups": "ingest"}
    assert len(second.tables["participants"]) == 1
    assert any("leeres Blatt übersprungen" in w for w in second.warnings)
