"""Geheimhaltung: statistical disclosure control for everything a report publishes.

The package has one file per concern, so that a newcomer can name where a thing lives:

``rule``
    What is sensitive: :class:`SuppressionRule` (threshold, marker, zeros), the footnote.
``tables``
    The per-table solver: primary and secondary suppression of one table of counts
    (:func:`suppress_table`) or one long indicator table (:func:`suppress_frame`).
``model``
    What a release is and what a reader knows: published and hidden cells, each tied to the
    units it counts, the smallest groups (atoms) the published cells distinguish, and the
    linear equations a reader can write over them.
``solver``
    The audit of a release with a linear programme (HiGHS through SciPy): for every hidden
    cell and every small group, the interval a reader can deduce; the choice of further
    cells to hide until the release passes.
``release``
    The release store: everything published to the same readers (all reports, all periods,
    earlier runs), the suppression decisions that are remembered, and the commit/discard
    hooks of the runner.
``curves``
    Kaplan–Meier curves and other charts that encode counts, coarsened so that they show
    no more than a protected table would.
``render``
    :class:`DisclosedTable`: rendering of protected tables for readers.
``guard``
    :func:`guard_dataframes` (no raw pandas object reaches a scheduled report) and
    :func:`published` (tables about no person).

Notebooks call it through :mod:`evaluation.notebook` (``ctx.counts_table``,
``ctx.indicator_table``) exactly as before; :mod:`evaluation.disclosure` re-exports the
public names for older code.
"""

from evaluation.protection.guard import guard_dataframes, published
from evaluation.protection.render import ColumnFormat, DisclosedTable
from evaluation.protection.rule import (
    TOTAL_LABEL,
    TOTAL_LIKE_LABELS,
    DisclosureError,
    SuppressionRule,
)
from evaluation.protection.tables import suppress_frame, suppress_table

__all__ = [
    "TOTAL_LABEL",
    "TOTAL_LIKE_LABELS",
    "ColumnFormat",
    "DisclosedTable",
    "DisclosureError",
    "SuppressionRule",
    "guard_dataframes",
    "published",
    "suppress_frame",
    "suppress_table",
]
