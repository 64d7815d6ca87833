"""Labour-market indicators on small hand-made tables with known answers."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from evaluation.indicators import labour
from evaluation.indicators.common import wilson


def ts(s):
    return pd.Timestamp(s)


@pytest.fixture
def enrolments():
    return pd.DataFrame(
        {
            "enrolment_id": ["T1", "T2", "T3", "T4", "T5"],
            "person_id": ["A", "A", "B", "C", "D"],
            "project": ["anerkennung", "jobeinstieg", "anerkennung", "jobeinstieg", "elternarbeit"],
            "entry_date": [
                ts("2023-05-01"),
                ts("2024-02-01"),
                ts("2024-03-01"),
                ts("2022-01-01"),
                ts("2024-01-01"),
            ],
            "exit_date": [
                ts("2024-01-15"),
                pd.NaT,
                ts("2024-06-30"),
                ts("2023-12-31"),
                ts("2024-04-01"),
            ],
            "exit_reason": ["regulaer", None, "abbruch", "regulaer", "regulaer"],
        }
    )


def test_reach_counts_persons_entries_exits(enrolments):
    out = labour.reach(enrolments, date(2024, 1, 1), date(2024, 12, 31))
    assert out.loc["anerkennung"].to_dict() == {
        "participants": 2,
        "entries": 1,
        "exits": 2,
        "dropouts": 1,
    }
    assert out.loc["jobeinstieg"].to_dict() == {
        "participants": 1,
        "entries": 1,
        "exits": 0,
        "dropouts": 0,
    }
    # A is in both projects but counts once in the total; C left the day before the period
    assert out.loc["total", "participants"] == 2


def test_followup_status_as_the_ba_defines_it(enrolments):
    followups = pd.DataFrame(
        {
            "enrolment_id": ["T1", "T3", "T4"],
            "months_after_exit": [6, 6, 6],
            "status": ["svb", "arbeitslos", "minijob"],
        }
    )
    out = labour.followup_status(
        enrolments,
        followups,
        exit_from=date(2023, 7, 1),
        exit_to=date(2024, 6, 30),
        months=6,
        data_end=date(2024, 12, 31),
        by=(),
    )
    row = out.iloc[0]
    assert (row["exits"], row["due"], row["known"], row["svb"], row["not_unemployed"]) == (
        3,
        3,
        3,
        1,
        2,
    )
    assert row["eingliederungsquote"] == pytest.approx(1 / 3)
    assert row["verbleibsquote"] == pytest.approx(2 / 3)
    # not yet due: exit 30.06.2024 + 6 months lies after the data end
    late = labour.followup_status(
        enrolments,
        followups,
        exit_from=date(2024, 6, 1),
        exit_to=date(2024, 6, 30),
        months=6,
        data_end=date(2024, 11, 30),
        by=(),
    )
    assert late.iloc[0]["due"] == 0 and pd.isna(late.iloc[0]["eingliederungsquote"])


def test_wilson_interval_matches_the_textbook_value():
    # Wilson score interval for 5 of 10 at 95 %: 0.2366 to 0.7634 (Agresti & Coull 1998, Table 1 style)
    share, low, high = wilson(pd.Series([5, 0]), pd.Series([10, 0]))
    assert share[0] == 0.5
    assert low[0] == pytest.approx(0.2366, abs=1e-4) and high[0] == pytest.approx(0.7634, abs=1e-4)
    assert pd.isna(share[1]) and pd.isna(low[1])


def test_recognition_decisions_and_time_to_decision():
    cases = pd.DataFrame(
        {
            "regulated": [True, True, False, False, False],
            "application_date": [ts("2024-01-01")] * 5,
            "decision_date": [
                ts("2024-04-01"),
                ts("2024-07-01"),
                ts("2024-02-01"),
                ts("2024-03-01"),
                pd.NaT,
            ],
            "decision": ["voll", "ausgleich", "teilweise", "zurueckgezogen", "offen"],
        }
    )
    table = labour.recognition_decisions(cases, date(2024, 1, 1), date(2024, 12, 31))
    assert table.loc["voll", "regulated"] == 1 and table.loc["teilweise", "not_regulated"] == 1
    assert table.to_numpy().sum() == 4  # pending is not a decision
    months = labour.time_to_decision(cases, date(2024, 1, 1), date(2024, 12, 31))
    assert (
        months.loc["regulated", "n"] == 2 and months.loc["not_regulated", "n"] == 1
    )  # withdrawn left out
    assert months.loc["regulated", "median"] == pytest.approx((91 + 182) / 2 / 30.4375)
    assert labour.pending_at(cases, date(2024, 12, 31)) == 1
    share = labour.full_equivalence_share(cases, date(2024, 1, 1), date(2024, 12, 31))
    assert share.loc["total", "n"] == 3 and share.loc["total", "share"] == pytest.approx(1 / 3)
