"""Data-entry templates generated from the contract: ``python -m evaluation templates DIR``.

For an agency without case-management software, :func:`write_templates` writes

* ``Erfassungsvorlage.xlsx``: one sheet per table (named as the ingest recognises it,
  German headers), drop-down lists of the allowed values (German labels, from a hidden
  sheet ``Auswahllisten``), yes/no lists, whole-number and date validation with the
  contract's ranges, date cells formatted ``TT.MM.JJJJ``, a frozen header row, and a sheet
  ``Erläuterungen`` explaining every column;
* one CSV file per table (``;``, UTF-8 with BOM, German headers), for those who prefer
  CSV;
* ``FSW_Fragebogen.xlsx``: the parent questionnaire as an XLSForm
  (:mod:`evaluation.ingest.xlsform`) for KoboToolbox or ODK.

Filled in, the workbook and the CSV files are ingested as they are, without a mapping:
the explanation and list sheets are skipped by the ingest. Identifying columns are not in
the templates at all (the birth year is asked instead of the birth date). The City of
Cologne's statistics (``sozialraum``) are not kept by hand and have no template.
"""

from __future__ import annotations

from pathlib import Path

from evaluation import schemas
from evaluation.ingest.language import Language, say, speaking

WORKBOOK = "Erfassungsvorlage.xlsx"
XLSFORM = "FSW_Fragebogen.xlsx"
#: Rows prepared with validation and formats in each sheet.
TEMPLATE_ROWS = 1000
#: Tables kept by the agency (not the city's statistics).
TEMPLATE_TABLES = tuple(t for t in schemas.TABLES if t != "sozialraum")
LISTS_SHEET = "Auswahllisten"
EXPLANATION_SHEET = "Erläuterungen"


class TemplateError(RuntimeError):
    """The templates cannot be written (e.g. they exist and ``overwrite`` is not set)."""


def _kind_text(col: schemas.Column) -> str:
    if col.pseudonym:
        return say(
            "Kennung (wird beim Import pseudonymisiert)", "identifier (pseudonymised at ingest)"
        )
    if col.codes:
        return say("Auswahl", "choice")
    return {
        "string": say("Text", "text"),
        "integer": say("ganze Zahl", "whole number"),
        "number": say("Zahl", "number"),
        "boolean": say("ja/nein", "yes/no"),
        "date": say("Datum (TT.MM.JJJJ)", "date (DD.MM.YYYY)"),
        "month": say("Monat (erster Tag, TT.MM.JJJJ)", "month (first day, DD.MM.YYYY)"),
    }[col.kind]


def _allowed(col: schemas.Column) -> str:
    if col.codes:
        return ", ".join(de for de, _ in col.codes.values())
    if col.allowed:
        return ", ".join(str(v) for v in col.allowed)
    low, high = col.bounds
    if col.kind in ("date", "month"):
        return f"{low:%d.%m.%Y} – {high:%d.%m.%Y}"
    if low is not None or high is not None:
        return (
            f"{'' if low is None else f'{low:g}'} – {'' if high is None else f'{high:g}'}".strip()
        )
    if col.safe_text:
        return say(f"höchstens {schemas.MAX_TEXT_LENGTH} Zeichen; nie Namen, Anschriften oder Kontaktdaten",
                   f"at most {schemas.MAX_TEXT_LENGTH} characters; never names, addresses or contact data")  # fmt: skip
    return ""


def _sheet_name(table: str) -> str:
    return schemas.TABLES[table].de[:31]


def write_workbook(path: Path) -> Path:
    """Write the data-entry workbook (see the module docstring) to ``path``."""
    import openpyxl
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = openpyxl.Workbook()
    explain = wb.active
    explain.title = EXPLANATION_SHEET
    lists = wb.create_sheet(LISTS_SHEET)
    lists.sheet_state = "hidden"
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    explain.append([say("Tabelle (Blatt)", "table (sheet)"), say("Spalte", "column"), say("Pflicht", "required"),
                    say("Art", "kind"), say("Erlaubte Werte", "allowed values"), say("Beschreibung", "description"),
                    say("Name im Datenvertrag", "name in the contract")])  # fmt: skip
    for cell in explain[1]:
        cell.font = bold
    list_column = 0
    ranges: dict[tuple[str, str], str] = {}
    for table in TEMPLATE_TABLES:
        for col in schemas.TABLES[table].columns:
            if col.codes and (table, col.name) not in ranges:
                list_column += 1
                letter = get_column_letter(list_column)
                lists.cell(1, list_column, f"{table}.{col.name}")
                for i, (de, _) in enumerate(col.codes.values(), start=2):
                    lists.cell(i, list_column, de)
                ranges[(table, col.name)] = (
                    f"{LISTS_SHEET}!${letter}$2:${letter}${len(col.codes) + 1}"
                )
    last = TEMPLATE_ROWS + 1
    for table in TEMPLATE_TABLES:
        spec = schemas.TABLES[table]
        ws = wb.create_sheet(_sheet_name(table))
        columns = list(spec.columns)
        ws.append([c.de for c in columns])
        for cell in ws[1]:
            cell.font = bold
            cell.fill = fill
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        ws.freeze_panes = "A2"
        for index, col in enumerate(columns, start=1):
            letter = get_column_letter(index)
            ws.column_dimensions[letter].width = max(14, min(40, len(col.de) + 4))
            area = f"{letter}2:{letter}{last}"
            required = (
                say("Pflichtfeld", "required") if col.required else say("optional", "optional")
            )
            dv = None
            if col.codes:
                dv = DataValidation(
                    type="list", formula1=f"={ranges[(table, col.name)]}", allow_blank=True
                )
            elif col.kind == "boolean":
                dv = DataValidation(type="list", formula1='"ja,nein"', allow_blank=True)
            elif col.kind == "integer" and col.allowed:
                dv = DataValidation(
                    type="list",
                    formula1='"' + ",".join(str(v) for v in col.allowed) + '"',
                    allow_blank=True,
                )
            elif col.kind in ("integer", "number"):
                low, high = col.bounds
                dv = DataValidation(type="whole" if col.kind == "integer" else "decimal", operator="between",
                                    formula1=str(-(10**9) if low is None else low), formula2=str(10**9 if high is None else high),
                                    allow_blank=True)  # fmt: skip
            elif col.kind in ("date", "month"):
                low, high = col.bounds
                dv = DataValidation(type="date", operator="between", formula1=f"DATE({low.year},{low.month},{low.day})",
                                    formula2=f"DATE({high.year},{high.month},{high.day})", allow_blank=True)  # fmt: skip
                for row in range(2, last + 1):
                    ws.cell(row, index).number_format = "DD.MM.YYYY"
            elif col.pseudonym or col.pattern or col.safe_text:
                limit = 40 if (col.pseudonym or col.pattern) else schemas.MAX_TEXT_LENGTH
                dv = DataValidation(
                    type="textLength",
                    operator="lessThanOrEqual",
                    formula1=str(limit),
                    allow_blank=True,
                )
                for row in range(2, last + 1):
                    ws.cell(row, index).number_format = "@"  # ids stay text: no lost leading zeros
            if dv is not None:
                dv.error = say(f"Nicht zulässig. Erlaubt: {_allowed(col) or _kind_text(col)}",
                               f"Not allowed. Allowed: {_allowed(col) or _kind_text(col)}")[:255]  # fmt: skip
                dv.errorTitle = col.de[:32]
                dv.prompt = (
                    f"{col.about_de if say('de', 'en') == 'de' else col.about_en} ({required})"[
                        :255
                    ]
                )
                dv.promptTitle = col.de[:32]
                dv.showErrorMessage = True
                dv.showInputMessage = True
                dv.add(area)
                ws.add_data_validation(dv)
            explain.append([f"{spec.de} ({table})", col.de, say("ja", "yes") if col.required else say("nein", "no"),
                            _kind_text(col), _allowed(col), col.about_de if say("de", "en") == "de" else col.about_en,
                            col.name])  # fmt: skip
    for letter, width in zip("ABCDEFG", (28, 26, 8, 26, 50, 70, 22), strict=True):
        explain.column_dimensions[letter].width = width
    explain.append([])
    explain.append([say(
        "Blätter nicht umbenennen, Spaltenköpfe nicht ändern. Namen, Anschriften, Telefonnummern, E-Mail-Adressen und Geburtsdaten gehören nicht in diese Mappe. Die Sozialraumstatistik kommt als offene Daten von der Stadt Köln und wird unverändert eingelesen.",
        "Do not rename sheets or change headers. Names, addresses, phone numbers, e-mail addresses and birth dates do not belong in this workbook. The neighbourhood statistics come as open data from the City of Cologne and are ingested as they are.")])  # fmt: skip
    wb.active = wb.sheetnames.index(_sheet_name(TEMPLATE_TABLES[0]))
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def write_csv_templates(directory: Path) -> list[Path]:
    """One CSV per table: German headers, ``;``, UTF-8 with BOM (Excel's "CSV UTF-8")."""
    out = []
    for table in TEMPLATE_TABLES:
        spec = schemas.TABLES[table]
        path = directory / f"{spec.de}.csv"
        path.write_bytes((";".join(c.de for c in spec.columns) + "\r\n").encode("utf-8-sig"))
        out.append(path)
    return out


def template_files(directory: Path) -> list[Path]:
    """The files :func:`write_templates` writes into ``directory``."""
    return [
        directory / WORKBOOK,
        *(directory / f"{schemas.TABLES[t].de}.csv" for t in TEMPLATE_TABLES),
        directory / XLSFORM,
    ]


def write_templates(
    directory: str | Path, *, language: Language = "de", overwrite: bool = False
) -> list[Path]:
    """Write the workbook, the CSV templates and the FSW XLSForm into ``directory``.

    Raises
    ------
    TemplateError
        A template exists already and ``overwrite`` is not set (nothing written then).
    """
    from evaluation.ingest.xlsform import write_xlsform

    directory = Path(directory)
    with speaking(language):
        existing = [p for p in template_files(directory) if p.exists()]
        if existing and not overwrite:
            raise TemplateError(say(f"{existing[0]} gibt es schon; mit --force überschreiben",
                                    f"{existing[0]} exists already; overwrite with --force"))  # fmt: skip
        directory.mkdir(parents=True, exist_ok=True)
        written = [write_workbook(directory / WORKBOOK)]
        written += write_csv_templates(directory)
        written.append(write_xlsform(directory / XLSFORM))
    return written
