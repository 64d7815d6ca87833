"""Volunteer and event indicators on small hand-made tables with known answers."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from evaluation.indicators import catalogue as cat
from evaluation.indicators import volunteers
from evaluation.plan import Period

YEAR = Period(date(2024, 1, 1), date(2024, 12, 31), "2024")


def ts(s: str) -> pd.Timestamp:
    return pd.Timestamp(s)


@pytest.fixture
def tables():
    """Volunteers and their assignments; the retention window for 2024 is 2023.

    V1 recruited and trained in 2024. V2 (recruited Feb 2023) still active near its
    anniversary: retained. V3 left before its anniversary. V4 stayed but had no assignment
    in the three months before its anniversary. V5 was recruited before the window. V6 was
    recruited on the window's last day and works on its anniversary: retained.
    """
    vols = pd.DataFrame(
        {
            "volunteer_id": ["V1", "V2", "V3", "V4", "V5", "V6"],
            "migration_history": [True, False, True, True, False, False],
            "recruited_date": [
                ts("2024-03-01"),
                ts("2023-02-01"),
                ts("2023-06-01"),
                ts("2023-09-01"),
                ts("2022-06-01"),
                ts("2023-12-31"),
            ],
            "qualification_date": [
                ts("2024-04-15"),
                ts("2023-03-01"),
                pd.NaT,
                ts("2024-12-01"),
                pd.NaT,
                pd.NaT,
            ],
            "left_date": [pd.NaT, pd.NaT, ts("2024-03-01"), pd.NaT, pd.NaT, pd.NaT],
        }
    )
    assignments = pd.DataFrame(
        [
            ("V1", "2024-05-02", "kursleitung", 2.0),
            ("V1", "2024-06-10", "dolmetschen", 3.0),
            ("V2", "2023-12-15", "familienbegleitung", 4.0),
            ("V2", "2024-01-10", "familienbegleitung", 1.5),
            ("V3", "2024-02-01", "dolmetschen", 2.0),
            ("V4", "2024-01-01", "dolmetschen", 2.0),
            ("V5", "2023-05-01", "veranstaltungen", 5.0),
            ("V6", "2024-12-31", "kursleitung", 4.0),
            ("V6", "2025-01-02", "kursleitung", 9.0),
        ],
        columns=["volunteer_id", "assignment_date", "assignment_type", "hours"],
    ).assign(assignment_date=lambda f: pd.to_datetime(f["assignment_date"]))
    events = pd.DataFrame(
        {
            "event_id": ["E1", "E2", "E3", "E4", "E5"],
            "event_date": [
                ts("2024-02-01"),
                ts("2024-09-01"),
                ts("2023-12-31"),
                ts("2024-05-05"),
                ts("2024-06-06"),
            ],
            "event_kind": [
                "mso_fortbildung",
                "mso_fortbildung",
                "mso_fortbildung",
                "kulturzentrum",
                "iko_training",
            ],
            "location": ["Ehrenfeld", "Ehrenfeld", "Ehrenfeld", "Chorweiler", "Ehrenfeld"],
            "participants": [10, 14, 99, 60, 12],
            "partner_organisations": [1, 3, 5, 2, 4],
        }
    )
    return {"volunteers": vols, "volunteer_assignments": assignments, "events": events}


def compute(tables, ident, group_by=None, data_end=None):
    out = cat.compute(ident, tables, period=YEAR, group_by=group_by, data_end=data_end)
    return {("total" if r.group_value == "" else r.group_value): r for r in out.itertuples()}


def test_recruited_and_trained(tables):
    assert compute(tables, "vol_recruited")["total"].value == 1
    trained = compute(tables, "vol_trained", "migration_history")
    assert (trained["total"].value, trained["yes"].value) == (2, 2)  # V1 and V4


def test_active_counts_volunteers_once_in_the_total(tables):
    out = compute(tables, "vol_active", "assignment_type")
    assert out["total"].value == 5  # V1, V2, V3, V4, V6
    assert out["dolmetschen"].value == 3 and out["kursleitung"].value == 2
    assert compute(tables, "vol_active", "migration_history")["no"].value == 2


def test_hours_by_assignment_type(tables):
    out = compute(tables, "vol_hours", "assignment_type")
    assert out["total"].value == 2 + 3 + 1.5 + 2 + 2 + 4 and out["total"].n == 5
    assert (out["dolmetschen"].value, out["dolmetschen"].n) == (7.0, 3)
    assert out["kursleitung"].value == 6.0


def test_retention_after_one_year(tables):
    units = volunteers.retained(tables, YEAR, date(2025, 12, 31)).set_index("volunteer_id")
    assert sorted(units.index) == ["V2", "V3", "V4", "V6"]
    assert units["numerator"].to_dict() == {"V2": 1, "V3": 0, "V4": 0, "V6": 1}
    assert units["qualified"].to_dict() == {"V2": True, "V3": False, "V4": False, "V6": False}
    out = compute(tables, "vol_retained", "migration_history")
    assert (out["total"].value, out["total"].n) == (0.5, 4)
    assert (out["no"].numerator, out["no"].denominator) == (2, 2)


def test_retention_leaves_out_anniversaries_after_the_data_end(tables):
    out = compute(tables, "vol_retained", data_end=date(2024, 8, 1))["total"]
    assert (out.numerator, out.denominator) == (1, 2)  # V2 retained, V3 not


def test_events_counts_and_sums(tables):
    assert compute(tables, "evt_mso_trainings")["total"].value == 2
    participants = compute(tables, "evt_mso_participants")["total"]
    assert (participants.value, participants.n) == (24, 2)
    assert compute(tables, "evt_mso_partners")["total"].value == 4
    assert compute(tables, "evt_kulturzentrum_visitors")["total"].value == 60
    assert compute(tables, "evt_iko_partners")["total"].value == 4
    assert compute(tables, "evt_sozialraum_events")["total"].value == 0
