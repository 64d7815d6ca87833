"""Civic engagement (Bürgerschaftliches Engagement): volunteers, their hours, and events.

Tables: ``volunteers`` (``recruited_date``, ``qualification_date``, ``left_date``,
``migration_history``), ``volunteer_assignments`` (``assignment_date``,
``assignment_type``, ``hours``) and ``events`` (``event_date``, ``event_kind``,
``participants``, ``partner_organisations``).

Definitions
-----------
recruited
    ``recruited_date`` in the period.
trained
    Qualification course completed (``qualification_date``) in the period.
active
    At least one assignment dated in the period.
retained
    Among volunteers recruited 12 to 24 months before the period's last day, i.e.
    ``period.end - 24 months < recruited_date <= period.end - 12 months`` (so their
    first anniversary falls in the twelve months up to the period's end), the share still
    active one year after recruitment: not left by the anniversary (``left_date`` missing
    or later) **and** at least one assignment in the three months up to the anniversary
    (``anniversary - 3 months < assignment_date <= anniversary``). The activity condition
    guards against volunteers who drift away without being recorded as leaving. For
    quarterly or monthly periods the twelve-month windows overlap (a rolling figure).
    Anniversaries after the data end are not yet observable and left out.
hours
    Hours of assignments dated in the period; ``n`` is the number of volunteers.
events
    Events of one ``event_kind`` dated in the period; their participants and partner
    organisations are summed over events (the same person or organisation attending two
    events counts twice: the data hold head counts, not identities).
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from evaluation.indicators.catalogue import Tables, indicator
from evaluation.indicators.common import in_period
from evaluation.plan import Period

RETENTION_MONTHS = 12
RETENTION_ACTIVE_MONTHS = 3
VOLUNTEER_COLUMNS = ["volunteer_id", "migration_history"]


def _dated(frame: pd.DataFrame, column: str, period: Period) -> pd.DataFrame:
    return frame[in_period(frame[column], period.start, period.end)]


def _volunteers_dated(tables: Tables, period: Period, column: str) -> pd.DataFrame:
    v = _dated(tables["volunteers"], column, period)
    return v.assign(unit=v["volunteer_id"])


@indicator("vol_recruited")
def recruited(tables: Tables, period: Period) -> pd.DataFrame:
    """Volunteers recruited in the period."""
    return _volunteers_dated(tables, period, "recruited_date")


@indicator("vol_trained")
def trained(tables: Tables, period: Period) -> pd.DataFrame:
    """Volunteers who completed the qualification course in the period."""
    return _volunteers_dated(tables, period, "qualification_date")


def assignments_in(tables: Tables, period: Period) -> pd.DataFrame:
    """Assignments dated in the period with the volunteer's migration history."""
    a = _dated(tables["volunteer_assignments"], "assignment_date", period)
    a = a.merge(tables["volunteers"][VOLUNTEER_COLUMNS], on="volunteer_id", how="left")
    return a.assign(unit=a["volunteer_id"])


@indicator("vol_active")
def active(tables: Tables, period: Period) -> pd.DataFrame:
    """Volunteers with at least one assignment in the period (one row per assignment)."""
    return assignments_in(tables, period)


@indicator("vol_hours")
def hours(tables: Tables, period: Period) -> pd.DataFrame:
    """Hours of the assignments in the period."""
    a = assignments_in(tables, period)
    return a.assign(value=a["hours"])


@indicator("vol_retained")
def retained(tables: Tables, period: Period, data_end: date) -> pd.DataFrame:
    """Volunteers whose first anniversary falls in the year up to the period's end.

    Numerator: still active at the anniversary (see the module docstring).
    """
    v = tables["volunteers"]
    end = pd.Timestamp(period.end)
    window = (v["recruited_date"] > end - pd.DateOffset(months=2 * RETENTION_MONTHS)) & (
        v["recruited_date"] <= end - pd.DateOffset(months=RETENTION_MONTHS)
    )
    cohort = v[window].assign(
        anniversary=lambda f: f["recruited_date"] + pd.DateOffset(months=RETENTION_MONTHS)
    )
    cohort = cohort[cohort["anniversary"] <= pd.Timestamp(data_end)]
    stayed = cohort["left_date"].isna() | (cohort["left_date"] > cohort["anniversary"])
    return cohort.assign(
        qualified=cohort["qualification_date"].notna()
        & (cohort["qualification_date"] <= cohort["anniversary"]),
        numerator=(stayed & cohort["volunteer_id"].isin(_active_before(tables, cohort))).astype(
            int
        ),
        denominator=1,
    )


def _active_before(tables: Tables, cohort: pd.DataFrame) -> pd.Series:
    """Ids of volunteers with an assignment in the three months up to their anniversary."""
    a = tables["volunteer_assignments"].merge(
        cohort[["volunteer_id", "anniversary"]], on="volunteer_id"
    )
    start = a["anniversary"] - pd.DateOffset(months=RETENTION_ACTIVE_MONTHS)
    near = (a["assignment_date"] > start) & (a["assignment_date"] <= a["anniversary"])
    return a.loc[near, "volunteer_id"]


@indicator("evt_events")
def events(
    tables: Tables, period: Period, *, event_kind: str, value: str | None = None
) -> pd.DataFrame:
    """Events of ``event_kind`` in the period; ``value`` names a column to sum, if any."""
    e = _dated(tables["events"], "event_date", period)
    e = e[e["event_kind"] == event_kind]
    e = e.assign(unit=e["event_id"])
    return e if value is None else e.assign(value=e[value])
