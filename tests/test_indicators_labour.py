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


# ---- issue 10: censored durations --------------------------------------------------------------


def test_sustained_employment_needs_three_consecutive_months_and_censors_honestly():
    rows = [
        # P1: svb at 1, gap at 2, then 3, 4, 5 -> sustained from month 3
        *[("P1", m, "svb" if m in (1, 3, 4, 5) else "arbeitslos") for m in range(0, 8)],
        # P2: svb at 6 and 7, observed to month 7 -> a run might start at 6: censored at 5
        *[("P2", m, "svb" if m >= 6 else "minijob") for m in range(0, 8)],
        # P3: two months of svb with a hole in the records (month 3 missing = not employed)
        *[("P3", m, "svb") for m in (1, 2, 4, 5)],
    ]
    records = pd.DataFrame(rows, columns=["person_id", "offset", "status"])
    out = labour.sustained_employment_spells(
        records, pd.Series(["P1", "P2", "P3", "P4"]), run=3
    ).set_index("person_id")
    assert out.loc["P1", ["value", "observed"]].tolist() == [3.0, True]
    assert out.loc["P2", ["value", "observed"]].tolist() == [5.0, False]
    assert out.loc["P3", ["value", "observed"]].tolist() == [3.0, False]  # last seen 5, 5-3+1
    assert out.loc["P4", ["value", "observed"]].tolist() == [0.0, False]  # never seen after entry
    one = labour.sustained_employment_spells(records, pd.Series(["P3"]), run=1)
    assert one.loc[0, ["value", "observed"]].tolist() == [1.0, True]  # run=1: first employment


def test_time_to_decision_over_all_applications_censors_pending_and_withdrawn():
    cases = pd.DataFrame(
        {
            "case_id": ["K1", "K2", "K3", "K4", "K5", "K6"],
            "application_date": [
                ts("2024-01-01"),
                ts("2023-07-01"),
                ts("2024-06-01"),
                ts("2023-01-01"),
                ts("2024-03-01"),
                ts("2025-02-01"),
            ],
            "decision_date": [
                ts("2024-03-01"),  # decided in the period: event
                pd.NaT,  # pending at the end: censored at 2024-12-31
                ts("2025-03-01"),  # decided after the period: pending at its end, censored
                ts("2023-10-01"),  # decided before the period: not at risk
                ts("2024-05-01"),  # withdrawn in the period: censored at withdrawal
                pd.NaT,  # filed after the period: not counted
            ],
            "decision": ["voll", "offen", "teilweise", "voll", "zurueckgezogen", "offen"],
            "regulated": [True, False, True, True, False, False],
        }
    )
    out = labour.recognition_at_risk(cases, date(2024, 1, 1), date(2024, 12, 31)).set_index(
        "case_id"
    )
    assert sorted(out.index) == ["K1", "K2", "K3", "K5"]
    assert out["observed"].to_dict() == {"K1": True, "K2": False, "K3": False, "K5": False}
    months = (out["value"] * labour.DAYS_PER_MONTH).round().astype(int).to_dict()
    assert months == {"K1": 60, "K2": 549, "K3": 213, "K5": 61}


def test_km_median_over_all_applications_is_longer_than_decided_only(demo_tables):
    from types import SimpleNamespace

    from evaluation.indicators import catalogue

    period = SimpleNamespace(start=date(2024, 1, 1), end=date(2024, 12, 31), label="2024")
    km = catalogue.compute("rec_months_km", demo_tables, period=period).iloc[-1]
    decided = catalogue.compute("rec_months_median", demo_tables, period=period).iloc[-1]
    assert km["n"] > decided["n"]  # the pending applications are in
    assert km["value"] > decided["value"]  # and the long procedures with them
    assert km["ci_low"] <= km["value"] <= km["ci_high"]


def test_ba_comparable_quota_divides_by_all_due_exits(demo_tables):
    from types import SimpleNamespace

    from evaluation.indicators import catalogue

    period = SimpleNamespace(start=date(2024, 1, 1), end=date(2024, 12, 31), label="2024")
    ba = catalogue.compute("lm_eingliederungsquote_ba_6m", demo_tables, period=period).iloc[-1]
    known = catalogue.compute("lm_eingliederungsquote_6m", demo_tables, period=period).iloc[-1]
    rate = catalogue.compute("lm_response_rate_6m", demo_tables, period=period).iloc[-1]
    assert ba["numerator"] == known["numerator"]  # the same established employment
    assert ba["denominator"] == rate["denominator"] > known["denominator"]  # all due exits
    assert ba["value"] < known["value"]


def test_sustained_share_counts_only_entrants_whose_window_is_complete():
    from types import SimpleNamespace

    from evaluation.indicators import catalogue

    def months(person, start, statuses):
        first = pd.Timestamp(start)
        return [(person, first + pd.DateOffset(months=i), s) for i, s in enumerate(statuses)]

    employment = pd.DataFrame(
        [
            *months("A", "2024-01-01", ["arbeitslos", "svb", "svb", "svb"] + ["svb"] * 12),
            *months("B", "2024-01-01", ["arbeitslos"] + ["svb", "arbeitslos"] * 8),
            # C enters late: a job at once, but its 14-month window is not complete
            *months("C", "2024-12-01", ["arbeitslos", "svb", "svb", "svb"]),
        ],
        columns=["person_id", "month", "status"],
    )
    enrolments = pd.DataFrame(
        {
            "enrolment_id": ["E1", "E2", "E3"],
            "person_id": ["A", "B", "C"],
            "project": ["jobeinstieg"] * 3,
            "entry_date": [ts("2024-01-10"), ts("2024-01-20"), ts("2024-12-05")],
            "exit_date": [ts("2024-06-30"), ts("2024-06-30"), pd.NaT],
            "exit_reason": ["regulaer", "regulaer", None],
        }
    )
    tables = {
        "enrolments": enrolments,
        "participants": pd.DataFrame({"person_id": ["A", "B", "C"], "target_group": ["x"] * 3}),
        "employment_months": employment,
    }
    period = SimpleNamespace(start=date(2024, 1, 1), end=date(2024, 12, 31), label="2024")
    units = catalogue.lm_sustained_employment(tables, period, date(2025, 3, 31), within=12)
    # A: three months from month 1 (yes); B: never three in a row (no); C: window incomplete
    assert dict(zip(units["person_id"], units["numerator"], strict=True)) == {"A": 1, "B": 0}


@pytest.mark.parametrize("months", [6, 12])
def test_followup_margins_are_the_status_grouped_by_each_margin(demo_tables, months):
    from types import SimpleNamespace

    period = SimpleNamespace(start=date(2024, 1, 1), end=date(2024, 12, 31))
    args = (demo_tables["enrolments"], demo_tables["followups"], period)
    kwargs = {"months": months, "data_end": date(2025, 12, 31)}
    out = labour.followup_with_margins(*args, **kwargs)
    cells = labour.followup_in_period(*args, by=("project", "cohort"), **kwargs)
    pd.testing.assert_frame_equal(
        out.drop(index="total", level="project").drop(index="total", level="cohort"),
        cells.sort_index(),
        check_names=False,
    )
    by_project = labour.followup_in_period(*args, by=("project",), **kwargs)
    pd.testing.assert_frame_equal(
        out.xs("total", level="cohort").drop(index="total"), by_project, check_names=False
    )
    by_cohort = labour.followup_in_period(*args, by=("cohort",), **kwargs)
    pd.testing.assert_frame_equal(
        out.xs("total", level="project").drop(index="total"), by_cohort, check_names=False
    )
    overall = labour.followup_in_period(*args, by=(), **kwargs).iloc[0]
    assert out.loc[("total", "total")].to_dict() == pytest.approx(overall.to_dict(), nan_ok=True)
    assert (
        out.loc[("total", "total"), "exits"]
        == out["exits"]
        .drop(index="total", level="project")
        .drop(index="total", level="cohort")
        .sum()
    )
