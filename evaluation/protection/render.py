"""Rendering of protected tables for readers: German number format, marker, footnote."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace
from html import escape
from typing import Any

import pandas as pd

from evaluation.protection.rule import ColumnKind, DisclosureError, Language, SuppressionRule

# --------------------------------------------------------------------------------------------
# Display
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnFormat:
    """How one column is shown: counts, shares (as %), other numbers, or labels."""

    kind: ColumnKind = "count"
    decimals: int = 0


def _format_number(value: float, decimals: int, language: Language) -> str:
    text = f"{value:,.{decimals}f}"
    if text.startswith("-") and not text.strip("-0.,"):  # -0.0 after rounding is 0
        text = text[1:]
    if language == "de":
        text = text.translate(str.maketrans({",": ".", ".": ","}))
    return text


def _format_cell(value: Any, fmt: ColumnFormat, language: Language, na_rep: str) -> str:
    if fmt.kind in ("label", "figure"):
        return "" if pd.isna(value) else str(value)
    if pd.isna(value):
        return na_rep
    if fmt.kind == "share":
        suffix = "\u00a0%" if language == "de" else "%"
        return _format_number(float(value) * 100, fmt.decimals, language) + suffix
    return _format_number(float(value), fmt.decimals, language)


_LEFT = ' style="text-align: left"'


def _left_align(table: str, columns: Sequence[int], *, offset: int) -> str:
    """Left-align the header and cells of text columns (numbers stay right-aligned)."""
    import re

    def mark(row: str, tag: str, positions: set[int]) -> str:
        count = -1

        def cell(match: re.Match) -> str:
            nonlocal count
            count += 1
            return f"<{tag}{_LEFT}>" if count in positions else match.group(0)

        return re.sub(f"<{tag}>", cell, row)

    head, sep, body = table.partition("<tbody>")
    first_row = re.search(r"<tr[^>]*>.*?</tr>", head, flags=re.S)
    if first_row:
        row = mark(first_row.group(0), "th", {c + offset for c in columns})
        head = head[: first_row.start()] + row + head[first_row.end() :]
    body = re.sub(
        r"<tr[^>]*>.*?</tr>", lambda m: mark(m.group(0), "td", set(columns)), body, flags=re.S
    )
    return head + sep + body


@dataclass(frozen=True, eq=False, repr=False)
class DisclosedTable:
    """A table that passed disclosure control, ready to be shown to readers.

    It holds no suppressed number: suppressed cells are missing in :attr:`values`, so
    nothing downstream (export, plots, rendering) can reveal them.

    Attributes
    ----------
    values
        Numbers as published; suppressed cells are missing (``<NA>`` in ``Int64`` count
        columns, ``NaN`` in float columns).
    mask
        True where a value is suppressed.
    primary_mask
        True where a value is suppressed because it is (or rests on) a sensitive count.
    rule
        The :class:`SuppressionRule` applied.
    formats
        One :class:`ColumnFormat` per column.
    language
        ``"de"`` (``1.234,5``) or ``"en"`` (``1,234.5``) for numbers and footnote.
    caption
        Optional table caption.
    derived
        Whether the table holds derived values (changes the footnote wording).
    na_rep
        Shown for missing values that are not suppressed (e.g. a mean over zero persons).
    """

    values: pd.DataFrame
    mask: pd.DataFrame
    primary_mask: pd.DataFrame
    rule: SuppressionRule
    formats: tuple[ColumnFormat, ...]
    language: Language = "de"
    caption: str | None = None
    derived: bool = False
    na_rep: str = "–"
    #: True where a cell is hidden only because of what other tables and reports publish
    #: (the release audit); ``None`` when the table was protected on its own
    release_mask: pd.DataFrame | None = None

    def __post_init__(self) -> None:
        shape = self.values.shape
        if self.mask.shape != shape or self.primary_mask.shape != shape:
            raise ValueError("values, mask and primary_mask must have the same shape")
        if len(self.formats) != shape[1]:
            raise ValueError("one ColumnFormat per column is required")
        mask = self.mask.to_numpy(dtype=bool)
        if (self.primary_mask.to_numpy(dtype=bool) & ~mask).any():
            raise ValueError("primary_mask must be a subset of mask")
        if not self.values.isna().to_numpy()[mask].all():
            raise DisclosureError("a DisclosedTable must not hold suppressed values")
        if self.language not in ("de", "en"):
            raise ValueError(f"language must be 'de' or 'en', got {self.language!r}")

    @property
    def secondary_mask(self) -> pd.DataFrame:
        """True where a value is suppressed only to prevent recomputation."""
        return self.mask & ~self.primary_mask

    @property
    def n_suppressed(self) -> int:
        """Number of suppressed cells."""
        return int(self.mask.to_numpy(dtype=bool).sum())

    def footnote(self, language: Language | None = None) -> str:
        """The footnote for readers, or ``""`` when nothing is suppressed."""
        if self.n_suppressed == 0:
            return ""
        language = language or self.language
        return f"{self.rule.footnote(language, derived=self.derived)} {self.reasons(language)}"

    @property
    def release_hidden(self) -> int:
        """Count cells hidden only because of other published tables."""
        if self.release_mask is None:
            return 0
        count = [f.kind == "count" for f in self.formats]
        return int(self.release_mask.to_numpy(dtype=bool)[:, count].sum())

    def reasons(self, language: Language | None = None) -> str:
        """How many cells are hidden and why, in one sentence."""
        language = language or self.language
        count = [f.kind == "count" for f in self.formats]
        mask = self.mask.to_numpy(dtype=bool)[:, count]
        primary = int(self.primary_mask.to_numpy(dtype=bool)[:, count].sum())
        hidden = int(mask.sum())
        secondary = hidden - primary
        if language == "de":
            text = (
                f"Verborgen: {hidden} {'Fallzahl' if hidden == 1 else 'Fallzahlen'}, "
                f"davon {primary} wegen kleiner Fallzahl und {secondary} zum Schutz vor Rückrechnung"
            )
            if self.release_hidden:
                text += f" ({self.release_hidden} davon wegen anderer veröffentlichter Tabellen)"
            return text + "."
        text = f"Hidden: {hidden} counts, {primary} small, {secondary} to prevent recalculation"
        if self.release_hidden:
            text += f" ({self.release_hidden} because of other published tables)"
        return text + "."

    def to_frame(self, language: Language | None = None) -> pd.DataFrame:
        """The table as readers see it: formatted strings, marker in suppressed cells."""
        language = language or self.language
        columns = {}
        for j, fmt in enumerate(self.formats):
            cells = self.values.iloc[:, j].tolist()
            hidden = self.mask.iloc[:, j].to_numpy(dtype=bool)
            columns[j] = [
                self.rule.marker if h else _format_cell(v, fmt, language, self.na_rep)
                for v, h in zip(cells, hidden, strict=True)
            ]
        frame = pd.DataFrame(columns, index=self.values.index, dtype=object)
        frame.columns = self.values.columns
        return frame

    def to_html(self, language: Language | None = None) -> str:
        """HTML table with caption and footnote, for notebooks and exported reports."""
        language = language or self.language
        frame = self.to_frame(language)
        show_index = not isinstance(frame.index, pd.RangeIndex)
        table = frame.to_html(index=show_index, border=0, classes="disclosed-table", escape=True)
        text_columns = [j for j, fmt in enumerate(self.formats) if fmt.kind == "label"]
        if text_columns:
            table = _left_align(table, text_columns, offset=int(show_index))
        if self.caption:
            table = table.replace(">", f">\n  <caption>{escape(self.caption)}</caption>", 1)
        parts = ['<div class="disclosed-table">', table]
        note = self.footnote(language)
        if note:
            parts.append(f'<p class="disclosure-footnote"><small>{escape(note)}</small></p>')
        parts.append("</div>")
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        return self.to_html()

    def __repr__(self) -> str:
        text = self.to_frame().to_string()
        lines = [self.caption, text, self.footnote()]
        return "\n".join(line for line in lines if line)

    def drop(self, columns: Sequence[Hashable]) -> DisclosedTable:
        """The same table without some columns (always safe: it only hides more)."""
        keep = ~self.values.columns.isin(list(columns))
        return replace(
            self,
            values=self.values.loc[:, keep],
            mask=self.mask.loc[:, keep],
            primary_mask=self.primary_mask.loc[:, keep],
            release_mask=None if self.release_mask is None else self.release_mask.loc[:, keep],
            formats=tuple(f for f, k in zip(self.formats, keep, strict=True) if k),
        )
