"""The rule of Geheimhaltung: which counts are sensitive, the marker and its footnote."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

Language = Literal["de", "en"]
#: ``figure``: a number already formatted as text (e.g. "54,8 %"), shown as given, aligned
#: like numbers; ``label``: text, left-aligned.
ColumnKind = Literal["count", "share", "value", "label", "figure"]

TOTAL_LABEL = "Gesamt"
"""Label of total rows and columns, as written by ``pd.crosstab(..., margins_name="Gesamt")``."""

#: Labels that look like totals. A table that carries one of them under a name other than the
#: ``total_label`` in use is rejected: treating a total as an ordinary category would leave
#: its cells recomputable.
TOTAL_LIKE_LABELS = frozenset({"gesamt", "insgesamt", "total", "all", "alle", "summe", "zusammen"})

_NOTICE = {
    "de": (
        "Tabelle ohne Geheimhaltungsprüfung – nicht angezeigt. "
        "Bitte über evaluation.disclosure ausgeben."
    ),
    "en": (
        "Table without disclosure control – not shown. "
        "Please output it through evaluation.disclosure."
    ),
}


class DisclosureError(RuntimeError):
    """A table could not be protected, or was about to be shown without protection."""


# --------------------------------------------------------------------------------------------
# The rule
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SuppressionRule:
    """How small counts are protected in one report.

    Parameters
    ----------
    threshold
        Counts ``0 < c < threshold`` are suppressed (primary suppression). Cologne's own
        tables use 5, the Bundesagentur für Arbeit 3.
    marker
        Shown instead of a suppressed value. ``"*"`` as in Cologne's statistics; Destatis
        uses ``"."`` ("Zahlenwert unbekannt oder geheimzuhalten").
    zero_is_safe
        Whether a true zero may be shown. See the module docstring for the reasoning.
    """

    threshold: int = 5
    marker: str = "*"
    zero_is_safe: bool = True

    def __post_init__(self) -> None:
        if (
            isinstance(self.threshold, bool)
            or not isinstance(self.threshold, int | np.integer)
            or self.threshold < 1
        ):
            raise ValueError(f"threshold must be an integer >= 1, got {self.threshold!r}")
        if not isinstance(self.marker, str) or not self.marker.strip():
            raise ValueError("marker must be a non-empty string")
        if any(ch.isdigit() for ch in self.marker):
            raise ValueError(f"marker must not contain digits, got {self.marker!r}")

    def is_sensitive(self, counts: Any) -> np.ndarray:
        """Element-wise: must this count be suppressed on its own (primary suppression)?"""
        values = np.asarray(counts, dtype=float)
        small = values < self.threshold
        return small & (values > 0) if self.zero_is_safe else small

    def footnote(self, language: Language = "de", *, derived: bool = False) -> str:
        """The footnote explaining the marker, in German or English."""
        zero_de = "" if self.zero_is_safe else " (einschließlich 0)"
        zero_en = "" if self.zero_is_safe else " (including 0)"
        if language == "de":
            if derived:
                return (
                    f"{self.marker} Fallzahl unter {self.threshold}{zero_de} oder zur Vermeidung "
                    "von Rückrechnung nicht ausgewiesen; darauf beruhende Anteile und Mittelwerte "
                    "ebenfalls (Geheimhaltung)."
                )
            return (
                f"{self.marker} Wert unter {self.threshold}{zero_de} oder zur Vermeidung von "
                "Rückrechnung nicht ausgewiesen (Geheimhaltung)."
            )
        if language == "en":
            if derived:
                return (
                    f"{self.marker} Count below {self.threshold}{zero_en} or withheld to prevent "
                    "recalculation; shares and means based on it are withheld too "
                    "(statistical confidentiality)."
                )
            return (
                f"{self.marker} Value below {self.threshold}{zero_en} or withheld to prevent "
                "recalculation (statistical confidentiality)."
            )
        raise ValueError(f"language must be 'de' or 'en', got {language!r}")


def _resolve_rule(
    rule: SuppressionRule | None,
    threshold: int | None,
    marker: str | None,
    zero_is_safe: bool | None,
) -> SuppressionRule:
    """``rule`` (default :class:`SuppressionRule`) with the explicitly given fields replaced."""
    changes = {
        name: value
        for name, value in (
            ("threshold", threshold),
            ("marker", marker),
            ("zero_is_safe", zero_is_safe),
        )
        if value is not None
    }
    return replace(rule or SuppressionRule(), **changes)
