"""Every table of a report as an Excel workbook (openpyxl): one sheet each, a contents sheet.

Numbers written as German text in the report (``1.234``, ``12,5``, ``45,3 %``) become
numbers with a matching number format, so Excel shows them the same way and can compute
with them; everything else (``*`` for suppressed values, ``–``, intervals, labels) stays
text. Each sheet with a ``*`` carries the suppression footnote.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from evaluation.export.model import Document, Table

#: First worksheet row of a table's cells (row 1 is the caption, row 2 empty).
TABLE_START_ROW = 3
CONTENTS = {"de": "Inhalt", "en": "Contents"}
_NUMBER = {
    "de": re.compile(
        r"^(?P<sign>[-−]?)(?P<int>\d{1,3}(?:\.\d{3})+|\d+)(?:,(?P<dec>\d+))?(?P<pct> ?%)?$"
    ),
    "en": re.compile(
        r"^(?P<sign>[-−]?)(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<dec>\d+))?(?P<pct> ?%)?$"
    ),
}


def parse_number(text: str, language: str = "de") -> tuple[float, str] | None:
    """A number shown as text in the report, as ``(value, Excel number format)``; else None.

    >>> parse_number("1.234,5")
    (1234.5, '#,##0.0')
    >>> parse_number("45,3 %")
    (0.453, '0.0\\\\ %')
    """
    m = _NUMBER["en" if language == "en" else "de"].match(text.strip())
    if not m:
        return None
    thousands = "." if language != "en" else ","
    whole = m["int"]
    if len(whole) > 1 and whole.startswith("0") and thousands not in whole:
        return None  # codes such as 0815 are labels, not numbers
    digits = whole.replace(thousands, "")
    dec = m["dec"] or ""
    value = float(f"{digits}.{dec}" if dec else digits)
    if m["sign"]:
        value = -value
    grouping = "#,##0" if thousands in whole else "0"
    fmt = grouping + ("." + "0" * len(dec) if dec else "")
    if m["pct"]:
        value = round(value / 100, len(dec) + 2)
        fmt = fmt.replace("#,##0", "0") + ("\\ %" if m["pct"].startswith(" ") else "%")
    return value, fmt


def cell_text(value: Any, number_format: str, language: str = "de") -> str:
    """How Excel shows a cell written by :func:`write_xlsx` in a German (or English) locale."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    decimals = len(number_format.split(".")[1].rstrip("\\ %")) if "." in number_format else 0
    percent = number_format.endswith("%")
    shown = value * 100 if percent else value
    grouped = "#,##0" in number_format
    text = f"{abs(shown):,.{decimals}f}" if grouped else f"{abs(shown):.{decimals}f}"
    if language != "en":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    sign = "-" if shown < 0 else ""
    suffix = (" %" if number_format.endswith("\\ %") else "%") if percent else ""
    return sign + text + suffix


def _sheet_name(i: int, caption: str, used: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\']", " ", caption).strip() or "Tabelle"
    name = f"T{i:02d} {base}"[:31].rstrip()
    while name in used:
        name = name[:28] + f"~{len(used)}"
    used.add(name)
    return name


def write_xlsx(doc: Document, target: Path, *, language: str = "de") -> Path:
    """Write every table of ``doc`` to ``target`` and return it.

    Sheet ``Inhalt`` lists the tables (linked), the report's title, agency, period, the
    suppression rule and the provenance; each table sheet has its caption in A1, the cells
    from row :data:`TABLE_START_ROW` and the footnote below where a value is suppressed.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    de = language != "en"
    wb = Workbook()
    contents = wb.active
    contents.title = CONTENTS["de" if de else "en"]
    bold = Font(bold=True)
    contents["A1"] = doc.title
    contents["A1"].font = Font(bold=True, size=14)
    contents["A2"] = doc.agency
    contents["A3"] = doc.subtitle
    contents["A5"] = "Tabelle" if de else "Table"
    contents["B5"] = "Titel" if de else "Title"
    contents["C5"] = "Tabellenblatt" if de else "Sheet"
    for c in ("A5", "B5", "C5"):
        contents[c].font = bold
    used: set[str] = {contents.title}
    head_fill = PatternFill("solid", fgColor="E4E7EB")
    row = 6
    for i, table in enumerate(doc.tables, start=1):
        name = _sheet_name(i, table.caption, used)
        ws = wb.create_sheet(name)
        _write_table(ws, table, language, bold, head_fill, doc.suppression_note)
        contents.cell(row=row, column=1, value=i)
        contents.cell(row=row, column=2, value=table.caption or f"Tabelle {i}")
        link = contents.cell(row=row, column=3, value=name)
        link.hyperlink = f"#'{name}'!A1"
        link.font = Font(color="0B5A8C", underline="single")
        row += 1
    row += 1
    if doc.suppression_note:
        contents.cell(row=row, column=1, value=doc.suppression_note).alignment = Alignment(
            wrap_text=False
        )
        row += 2
    for label, value in doc.provenance:
        contents.cell(row=row, column=1, value=label).font = bold
        contents.cell(row=row, column=2, value=value)
        row += 1
    contents.column_dimensions["A"].width = 14
    contents.column_dimensions["B"].width = 70
    contents.column_dimensions["C"].width = 34
    for ws in wb.worksheets[1:]:
        for col in range(1, ws.max_column + 1):
            width = max(
                (
                    len(str(c.value))
                    for c in ws[get_column_letter(col)][TABLE_START_ROW - 1 :]
                    if c.value is not None
                ),
                default=8,
            )
            ws.column_dimensions[get_column_letter(col)].width = min(60, max(8, width + 2))
    target.parent.mkdir(parents=True, exist_ok=True)
    wb.save(target)
    return target


def _write_table(ws: Any, table: Table, language: str, bold: Any, fill: Any, note: str) -> None:
    from openpyxl.styles import Alignment

    ws["A1"] = table.caption
    ws["A1"].font = bold
    r = TABLE_START_ROW
    for cells in table.header:
        for c, text in enumerate(cells, start=1):
            cell = ws.cell(row=r, column=c, value=text or None)
            cell.font = bold
            cell.fill = fill
        r += 1
    for cells in table.body:
        for c, text in enumerate(cells, start=1):
            parsed = None if c <= max(table.row_headers, 1) else parse_number(text, language)
            if parsed is None:
                cell = ws.cell(row=r, column=c, value=text or None)
                if c > 1:
                    cell.alignment = Alignment(horizontal="right" if text == "*" else "general")
            else:
                cell = ws.cell(row=r, column=c, value=parsed[0])
                cell.number_format = parsed[1]
            if c <= table.row_headers:
                cell.font = bold
        r += 1
    ws.freeze_panes = ws.cell(row=TABLE_START_ROW + len(table.header), column=1)
    if table.has_suppressed and note:
        ws.cell(row=r + 1, column=1, value=note)
