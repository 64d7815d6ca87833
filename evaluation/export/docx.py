"""The report as an editable Word document (python-docx).

Cover page (agency, Träger, file reference, period, contact, date, signature lines), the
headings as Word headings (so Word's navigation and table of contents work), the narrative
paragraphs, every table as a real Word table (header row repeated on each page, rows not
split), every chart as a PNG with its alternative text, and the provenance at the end.
A4, page numbers and a running header with agency and report.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evaluation.export.model import Document, Figure, Heading, Paragraph, Table
from evaluation.export.xlsx import parse_number


def _field(paragraph: Any, instruction: str) -> None:
    """Append a Word field (PAGE, NUMPAGES) to a paragraph."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    run = paragraph.add_run()
    for kind, text in (("begin", None), (None, instruction), ("end", None)):
        if kind:
            el = OxmlElement("w:fldChar")
            el.set(qn("w:fldCharType"), kind)
        else:
            el = OxmlElement("w:instrText")
            el.set(qn("xml:space"), "preserve")
            el.text = text
        run._r.append(el)


def _update_fields_on_open(word: Any) -> None:
    """Ask Word to update fields (table of contents, page count) when it opens the file."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    update = OxmlElement("w:updateFields")
    update.set(qn("w:val"), "true")
    word.settings.element.append(update)


def _row_flags(row: Any, *, header: bool) -> None:
    from docx.oxml import OxmlElement

    tr_pr = row._tr.get_or_add_trPr()
    cant = OxmlElement("w:cantSplit")
    tr_pr.append(cant)
    if header:
        tr_pr.append(OxmlElement("w:tblHeader"))


def _set_alt_text(inline_shape: Any, alt: str, title: str) -> None:
    doc_pr = inline_shape._inline.docPr
    doc_pr.set("descr", alt)
    doc_pr.set("title", title)


def write_docx(
    doc: Document,
    target: Path,
    *,
    cover: Mapping[str, Any],
    images: Sequence[bytes] | None,
    language: str = "de",
    missing_images_note: str = "",
) -> Path:
    """Write ``doc`` as a Word document and return ``target``.

    ``images`` holds one PNG per chart (in :func:`evaluation.report.figure_specs` order); when
    it is ``None`` each chart is given as its text alternative with ``missing_images_note``.
    """
    from docx import Document as new_document
    from docx.enum.section import WD_ORIENT
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
    from docx.shared import Cm, Pt

    de = language != "en"
    word = new_document()
    word.core_properties.title = doc.title
    word.core_properties.author = str(cover.get("agency", "") or doc.agency)
    word.core_properties.language = "de-DE" if de else "en-GB"
    styles = word.styles
    styles["Normal"].font.name = "Arial"
    styles["Normal"].font.size = Pt(10.5)
    section = word.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Cm(21.0), Cm(29.7)
    section.left_margin, section.right_margin = Cm(2.2), Cm(1.8)
    section.top_margin, section.bottom_margin = Cm(2.2), Cm(2.0)
    section.different_first_page_header_footer = True
    header = section.header.paragraphs[0]
    header.text = " · ".join(x for x in (doc.agency, doc.title) if x)
    header.runs[0].font.size = Pt(8)
    footer = section.footer.paragraphs[0]
    footer.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    footer.add_run("Seite " if de else "Page ")
    _field(footer, "PAGE")
    footer.add_run(" von " if de else " of ")
    _field(footer, "NUMPAGES")

    # cover page
    if doc.agency:
        word.add_paragraph(doc.agency).runs[0].font.size = Pt(12)
    word.add_heading(doc.title, level=0)
    if doc.subtitle:
        word.add_paragraph(doc.subtitle)
    facts = [(label, str(value)) for label, value in cover.get("facts", []) if value]
    if facts:
        t = word.add_table(rows=0, cols=2)
        t.style = "Table Grid"
        for label, value in facts:
            cells = t.add_row().cells
            cells[0].text, cells[1].text = label, value
            cells[0].paragraphs[0].runs[0].bold = True
    for line in cover.get("signatures", []):
        word.add_paragraph()
        word.add_paragraph()
        word.add_paragraph("_" * 45)
        word.add_paragraph(str(line)).runs[0].font.size = Pt(9)
    word.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    # table of contents as a Word field; Word fills it when the file is opened
    contents = word.add_paragraph()
    contents.add_run("Inhalt" if de else "Contents").bold = True
    _field(word.add_paragraph(), 'TOC \\o "1-3" \\h \\z \\u')
    _update_fields_on_open(word)
    word.add_paragraph().add_run().add_break(WD_BREAK.PAGE)

    for block in doc.blocks:
        if isinstance(block, Heading):
            word.add_heading(block.text, level=max(1, min(block.level - 1, 4)))
        elif isinstance(block, Paragraph):
            style = {"li": "List Bullet", "oli": "List Number", "note": "Quote"}.get(block.kind)
            p = word.add_paragraph(style=style)
            for text, bold in block.runs:
                run = p.add_run(text)
                run.bold = bold
        elif isinstance(block, Table):
            _add_table(word, block, language, WD_TABLE_ALIGNMENT, WD_ALIGN_PARAGRAPH, Pt)
        elif isinstance(block, Figure):
            if images is not None and block.index < len(images):
                word.add_picture(io.BytesIO(images[block.index]), width=Cm(16.5))
                shape = word.inline_shapes[-1]
                _set_alt_text(shape, block.alt, f"Abbildung {block.index + 1}")
                cap = word.add_paragraph(block.alt, style="Caption")
            else:
                cap = word.add_paragraph(block.alt, style="Caption")
                if missing_images_note:
                    cap.add_run(f" ({missing_images_note})").italic = True
    if doc.suppression_note:
        word.add_paragraph(doc.suppression_note, style="Quote")
    if doc.provenance:
        word.add_heading("Herkunft der Zahlen" if de else "Where these figures come from", 1)
        for label, value in doc.provenance:
            p = word.add_paragraph()
            p.add_run(f"{label}: ").bold = True
            p.add_run(value).font.size = Pt(9)
    target.parent.mkdir(parents=True, exist_ok=True)
    word.save(str(target))
    return target


def _add_table(word: Any, table: Table, language: str, align: Any, palign: Any, pt: Any) -> None:
    if table.caption:
        word.add_paragraph(table.caption, style="Caption")
    rows = table.rows
    if not rows:
        return
    t = word.add_table(rows=len(rows), cols=len(rows[0]))
    t.style = "Table Grid"
    t.alignment = align.CENTER
    n_head = len(table.header)
    size = pt(9)
    for r, (row, cells) in enumerate(zip(t.rows, rows, strict=True)):
        _row_flags(row, header=r < n_head)
        # python-docx rebuilds ``row.cells`` on every access: once per row
        for c, (cell, text) in enumerate(zip(row.cells, cells, strict=True)):
            para = cell.paragraphs[0]
            run = para.add_run(text)
            run.font.size = size
            if r < n_head or c < table.row_headers:
                run.bold = True
            if c > 0 and (text == "*" or parse_number(text, language) is not None):
                para.alignment = palign.RIGHT
