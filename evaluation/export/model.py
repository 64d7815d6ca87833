"""The report as a sequence of blocks, read from its rendered HTML.

PDF, DOCX and XLSX are all made from the HTML report the reader sees, so their headings,
texts and tables are the same, suppression marks included. Tables are read generically
(any ``<table>`` in ``<main>``), not from the disclosure code's internals. Charts are
``<figure class="chart" data-chart="n">``; their data come from the notebook's n-th figure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from bs4 import BeautifulSoup, NavigableString, Tag

HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
SUPPRESSION_MARK = "*"


@dataclass
class Heading:
    """A section heading (level 1–6)."""

    level: int
    text: str


@dataclass
class Paragraph:
    """A paragraph as runs of ``(text, bold)``.

    ``kind`` is ``p``, ``li`` (bulleted list item), ``oli`` (numbered list item) or ``note``
    (a definition box or a quotation).
    """

    runs: list[tuple[str, bool]]
    kind: str = "p"

    @property
    def text(self) -> str:
        return "".join(t for t, _ in self.runs)


@dataclass
class Table:
    """A table as text cells: header rows, body rows (spans expanded), optional caption."""

    caption: str
    header: list[list[str]]
    body: list[list[str]]
    row_headers: int = 0
    kind: str = "data"  # "parameters" for the report's settings table

    @property
    def rows(self) -> list[list[str]]:
        return [*self.header, *self.body]

    @property
    def has_suppressed(self) -> bool:
        return any(SUPPRESSION_MARK in cell for row in self.body for cell in row)


@dataclass
class Figure:
    """A chart: its position among the notebook's figures and its text alternative."""

    index: int
    alt: str


@dataclass
class Document:
    """A rendered report: frame facts and the blocks of its ``<main>``."""

    title: str
    agency: str
    subtitle: str
    blocks: list[Any] = field(default_factory=list)
    suppression_note: str = ""
    provenance: list[tuple[str, str]] = field(default_factory=list)

    @property
    def tables(self) -> list[Table]:
        """The report's data tables (what the workbook holds), without the settings table."""
        return [b for b in self.blocks if isinstance(b, Table) and b.kind == "data"]

    @property
    def figures(self) -> list[Figure]:
        return [b for b in self.blocks if isinstance(b, Figure)]


def _clean(text: str) -> str:
    return " ".join(text.replace("\u00b6", "").split())


def _runs(tag: Tag) -> list[tuple[str, bool]]:
    runs: list[tuple[str, bool]] = []

    def walk(node: Any, bold: bool) -> None:
        if isinstance(node, NavigableString):
            text = str(node)
            if text:
                runs.append((text, bold))
            return
        if not isinstance(node, Tag) or "anchor-link" in (node.get("class") or []):
            return
        if node.name == "br":
            runs.append(("\n", bold))
            return
        for child in node.children:
            walk(child, bold or node.name in ("strong", "b", "th"))

    walk(tag, False)
    out: list[tuple[str, bool]] = []
    for text, bold in runs:
        if text != "\n":
            text = re.sub(r"\s+", " ", text)
            if out and out[-1][0].endswith((" ", "\n")):
                text = text.lstrip(" ")
        if not text:
            continue
        if out and out[-1][1] == bold and "\n" not in (text, out[-1][0]):
            out[-1] = (out[-1][0] + text, bold)
        else:
            out.append((text, bold))
    if out:
        out[0] = (out[0][0].lstrip(), out[0][1])
        out[-1] = (out[-1][0].rstrip(), out[-1][1])
    return [r for r in out if r[0]]


def read_table(tag: Tag) -> Table:
    """One HTML table as text cells, ``colspan``/``rowspan`` expanded (spanned cells empty)."""
    caption_tag = tag.find("caption")
    caption = _clean(caption_tag.get_text(" ")) if caption_tag else ""
    header: list[list[str]] = []
    body: list[list[str]] = []
    pending: dict[int, int] = {}  # column -> remaining rows covered by a rowspan
    row_headers = 0
    for tr in tag.find_all("tr"):
        if tr.find_parent("table") is not tag:
            continue
        in_head = tr.find_parent("thead") is not None
        row: list[str] = []
        col = 0
        for cell in tr.find_all(["th", "td"], recursive=False):
            while pending.get(col, 0) > 0:
                pending[col] -= 1
                row.append("")
                col += 1
            text = _clean(cell.get_text(" "))
            span = int(cell.get("colspan", 1) or 1)
            rows = int(cell.get("rowspan", 1) or 1)
            for k in range(span):
                row.append(text if k == 0 else "")
                if rows > 1:
                    pending[col] = rows - 1
                col += 1
        while pending.get(col, 0) > 0:
            pending[col] -= 1
            row.append("")
            col += 1
        if not in_head:
            leading = 0
            for cell in tr.find_all(["th", "td"], recursive=False):
                if cell.name != "th":
                    break
                leading += 1
            row_headers = max(row_headers, leading)
        (header if in_head else body).append(row)
    if not header and body and all(c.name == "th" for c in tag.find("tr").find_all(["th", "td"])):
        header, body = body[:1], body[1:]
    width = max((len(r) for r in [*header, *body]), default=0)
    header = [r + [""] * (width - len(r)) for r in header]
    body = [r + [""] * (width - len(r)) for r in body]
    return Table(caption=caption, header=header, body=body, row_headers=row_headers)


def read_document(html_text: str) -> Document:
    """Read a rendered report into a :class:`Document`."""
    soup = BeautifulSoup(html_text, "html.parser")
    header = soup.find("header", class_="report-header")

    def text_of(cls: str) -> str:
        node = header.find(class_=cls) if header else None
        return _clean(node.get_text(" ")) if node else ""

    doc = Document(
        title=text_of("report-title") or _clean(soup.title.get_text() if soup.title else ""),
        agency=text_of("report-agency"),
        subtitle=text_of("report-subtitle"),
    )
    footer = soup.find("footer", class_="report-footer")
    if footer:
        rule = footer.find(class_="report-rule")
        doc.suppression_note = _clean(rule.get_text(" ")) if rule else ""
        for dt in footer.find_all("dt"):
            dd = dt.find_next_sibling("dd")
            doc.provenance.append(
                (_clean(dt.get_text(" ")), _clean(dd.get_text(" ")) if dd else "")
            )
    main = soup.find("main") or soup.body or soup
    _walk(main, doc.blocks)
    return doc


def _walk(node: Tag, blocks: list[Any]) -> None:
    for child in node.children:
        if not isinstance(child, Tag):
            continue
        name = child.name
        classes = child.get("class") or []
        if name in ("script", "style", "template", "nav"):
            continue
        if name == "figure" and "chart" in classes:
            alt = child.find(class_="chart-alt")
            blocks.append(
                Figure(int(child.get("data-chart", 0)), _clean(alt.get_text(" ")) if alt else "")
            )
        elif name in HEADINGS:
            text = _clean(child.get_text(" "))
            if text:
                blocks.append(Heading(HEADINGS[name], text))
        elif name == "table":
            table = read_table(child)
            if not table.caption:  # an untitled table is named by its section
                heading = next((b for b in reversed(blocks) if isinstance(b, Heading)), None)
                table.caption = heading.text if heading else ""
            if "parameters" in classes:
                table.kind = "parameters"
            blocks.append(table)
        elif name in ("p", "pre", "blockquote"):
            runs = _runs(child)
            if runs:
                quoted = name == "blockquote" or child.find_parent(class_="definition")
                blocks.append(Paragraph(runs, "note" if quoted else "p"))
        elif name in ("ul", "ol"):
            for li in child.find_all("li", recursive=False):
                runs = _runs(li)
                if runs:
                    blocks.append(Paragraph(runs, "li" if name == "ul" else "oli"))
        elif name == "div" and "definition" in classes and not child.find(["p", "table", "ul"]):
            runs = _runs(child)
            if runs:
                blocks.append(Paragraph(runs, "note"))
        else:
            _walk(child, blocks)
