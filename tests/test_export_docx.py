"""Word tables: what a reader of the DOCX sees in each cell (text, bold headers, 9 pt,
numbers and suppression marks right-aligned, header rows repeated on every page)."""

from __future__ import annotations

from docx import Document as open_docx
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Pt

from evaluation.export.docx import write_docx
from evaluation.export.model import Document, Table


def _write(tmp_path, table: Table):
    doc = Document(title="Bericht", agency="Agentur", subtitle="", blocks=[table])
    target = write_docx(doc, tmp_path / "t.docx", cover={}, images=None, language="de")
    word = open_docx(str(target))
    return word.tables[-1]


def test_cells_keep_their_text_and_only_headers_are_bold(tmp_path):
    table = Table(
        caption="Austritte nach Jahr",
        header=[["Gruppe", "2023", "2024"]],
        body=[["Frauen", "1.234", "*"], ["Männer\nab 25", "12,5 %", "–"], ["Alle", "0", "17"]],
        row_headers=1,
    )
    docx_table = _write(tmp_path, table)
    assert [[c.text for c in r.cells] for r in docx_table.rows] == table.rows
    for r, row in enumerate(docx_table.rows):
        for c, cell in enumerate(row.cells):
            runs = [run for p in cell.paragraphs for run in p.runs]
            assert runs, (r, c)
            assert all(run.font.size == Pt(9) for run in runs), (r, c)
            bold = r == 0 or c == 0
            assert all(bool(run.bold) is bold for run in runs), (r, c, [run.bold for run in runs])
    body = docx_table.rows[1].cells
    assert body[1].paragraphs[0].alignment == WD_ALIGN_PARAGRAPH.RIGHT, "number"
    assert body[2].paragraphs[0].alignment == WD_ALIGN_PARAGRAPH.RIGHT, "suppression mark"
    assert body[0].paragraphs[0].alignment != WD_ALIGN_PARAGRAPH.RIGHT, "row header"
    header_row = docx_table.rows[0]._tr
    assert header_row.trPr is not None and header_row.trPr.xpath("./w:tblHeader"), (
        "the header row repeats on every page"
    )
    assert not docx_table.rows[1]._tr.xpath("./w:trPr/w:tblHeader")
