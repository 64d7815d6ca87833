"""Parent-work indicators on small hand-made tables with known answers."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evaluation import demo
from evaluation.indicators import catalogue as cat
from evaluation.indicators import parents
from evaluation.plan import Period

YEAR = Period(date(2024, 1, 1), date(2024, 12, 31), "2024")


def ts(s: str) -> pd.Timestamp:
    return pd.Timestamp(s)


def survey(person, cycle, wave, fsw, school, evening, kita=pd.NA, german=False):
    items = fsw if isinstance(fsw, list) else [fsw] * 9
    row = {"person_id": person, "cycle_id": cycle, "wave": wave, "survey_date": ts("2024-01-01")}
    row |= {f"fsw_{i}": v for i, v in enumerate(items, start=1)}
    return row | {
        "school_contact": school,
        "parent_evening": evening,
        "kita_enrolled": kita,
        "german_course": german,
    }


@pytest.fixture
def tables():
    """Cycles C1 (ends May 2024), C2 (ends Dec 2024) and C0 (ends Dec 2023).

    C1: A and B take part (8 and 5 of 10 sessions), W is on the waiting list.
    C2: A again (6 of 10). C0: D (outside 2024).
    Surveys: A, W and B answer before; A and W after (B drops out). In C2 A answers only
    before. D answers both waves of C0.
    """
    groups = pd.DataFrame(
        {
            "cycle_id": ["C0", "C1", "C2"],
            "group_name": ["Elterncafé", "Elterncafé", "Eltern-Kind-Gruppe"],
            "stadtteil": ["401", "401", "403"],
            "start_date": [ts("2023-09-01"), ts("2024-02-01"), ts("2024-09-01")],
            "end_date": [ts("2023-12-01"), ts("2024-05-01"), ts("2024-12-01")],
            "sessions_planned": [10, 10, 10],
            "waitlist_design": [False, True, False],
        }
    )
    enrolments = pd.DataFrame(
        {
            "enrolment_id": ["T1", "T2", "T3", "T4", "T5", "T6"],
            "person_id": ["A", "B", "W", "A", "D", "A"],
            "project": ["elternarbeit"] * 5 + ["anerkennung"],
            "cycle_id": ["C1", "C1", "C1", "C2", "C0", None],
            "arm": ["teilnahme", "teilnahme", "wartegruppe", "teilnahme", "teilnahme", None],
            "sessions_attended": pd.array([8, 5, 0, 6, 9, pd.NA], dtype="Int64"),
        }
    )
    participants = pd.DataFrame(
        {
            "person_id": ["A", "B", "W", "D"],
            "target_group": ["ukraine", "ukraine", "gefluechtete", "ukraine"],
        }
    )
    rows = [
        survey("A", "C1", "pre", 3, False, False, kita=True, german=False),
        survey("A", "C1", "post", 4, True, True, kita=True, german=True),
        survey("W", "C1", "pre", 4, False, True, kita=pd.NA),
        survey("W", "C1", "post", [4, 4, 4, 4, 4, 4, 4, 5, pd.NA], False, True, kita=False),
        survey("B", "C1", "pre", 2, True, False, kita=False),
        survey("A", "C2", "pre", 5, True, True),
        survey("D", "C0", "pre", 1, False, False),
        survey("D", "C0", "post", 6, True, True),
    ]
    surveys = pd.DataFrame(rows)
    for item in parents.FSW_ITEMS:
        surveys[item] = surveys[item].astype("Int64")
    surveys["kita_enrolled"] = surveys["kita_enrolled"].astype("boolean")
    return {
        "enrolments": enrolments,
        "parent_groups": groups,
        "participants": participants,
        "parent_surveys": surveys,
    }


def compute(tables, ident, group_by=None):
    out = cat.compute(ident, tables, period=YEAR, group_by=group_by)
    return {("total" if r.group_value == "" else r.group_value): r for r in out.itertuples()}


def test_fsw_score_needs_seven_of_nine_items():
    frame = pd.DataFrame(
        [
            [1, 2, 3, 4, 5, 6, 1, 2, 3],
            [6, 6, 6, 6, 6, 6, 6, pd.NA, pd.NA],
            [6, 6, 6, 6, 6, 6, pd.NA, pd.NA, pd.NA],
        ],
        columns=list(parents.FSW_ITEMS),
    ).astype("Int64")
    scores = parents.fsw_score(frame)
    assert scores.iloc[0] == pytest.approx(27 / 9)
    assert scores.iloc[1] == 6.0
    assert np.isnan(scores.iloc[2])


def test_items_are_the_demo_items():
    assert list(parents.FSW_ITEMS) == demo.FSW_ITEMS


def test_a_cycle_belongs_to_the_period_it_ends_in(tables):
    assert parents.cycles_ending(tables["parent_groups"], YEAR)["cycle_id"].tolist() == ["C1", "C2"]
    out = compute(tables, "par_cycles", "group_name")
    assert (out["total"].value, out["Elterncafé"].value) == (2, 1)


def test_reach_counts_each_parent_once_in_the_total(tables):
    by_cycle = compute(tables, "par_reached", "cycle_id")
    assert (by_cycle["C1"].value, by_cycle["C2"].value, by_cycle["total"].value) == (3, 1, 3)
    by_arm = compute(tables, "par_reached", "arm")
    assert (by_arm["teilnahme"].value, by_arm["wartegruppe"].value) == (2, 1)


def test_attendance_is_the_mean_share_of_planned_sessions(tables):
    out = compute(tables, "par_attendance")["total"]
    values = [0.8, 0.5, 0.6]  # A in C1, B, A in C2 (W is on the waiting list)
    half = stats.t.ppf(0.975, 2) * np.std(values, ddof=1) / np.sqrt(3)
    assert out.value == pytest.approx(np.mean(values)) and out.n == 3
    assert (out.ci_low, out.ci_high) == pytest.approx(
        (np.mean(values) - half, np.mean(values) + half)
    )


def test_attrition_between_waves(tables):
    out = compute(tables, "par_attrition", "arm")
    # pre answered: A (C1), W, B, A (C2); no post: B and A in C2
    assert (out["total"].numerator, out["total"].denominator) == (2, 4)
    assert (out["wartegruppe"].numerator, out["wartegruppe"].denominator) == (0, 1)


def test_fsw_before_after_and_change_on_the_panel(tables):
    pre, post = compute(tables, "par_fsw_pre", "arm"), compute(tables, "par_fsw_post", "arm")
    change = compute(tables, "par_fsw_change", "arm")
    # panel: A in C1 (3 -> 4) and W (4 -> 33/8, 8 of 9 items answered)
    assert (pre["total"].value, pre["total"].n) == (3.5, 2)
    assert post["wartegruppe"].value == pytest.approx(33 / 8)
    assert change["teilnahme"].value == 1.0
    assert change["wartegruppe"].value == pytest.approx(33 / 8 - 4)
    assert change["total"].value == pytest.approx(post["total"].value - pre["total"].value)


def test_survey_shares_before_and_after(tables):
    school_pre = compute(tables, "par_school_contact_pre")["total"]
    school_post = compute(tables, "par_school_contact_post")["total"]
    assert (school_pre.numerator, school_pre.denominator) == (0, 2)
    assert (school_post.numerator, school_post.denominator) == (1, 2)
    evening = compute(tables, "par_parent_evening_post", "arm")
    assert evening["wartegruppe"].value == 1.0


def test_kita_share_only_among_parents_answering_both_times(tables):
    # W has no answer before: only A counts
    pre = compute(tables, "par_kita_pre")["total"]
    assert (pre.numerator, pre.denominator) == (1, 1)


def test_unknown_survey_item_is_refused(tables):
    with pytest.raises(ValueError, match="item must be one of"):
        parents.survey_share(tables, YEAR, item="sports_club", wave="pre")


def test_german_course_change_by_target_group(tables):
    out = compute(tables, "par_german_course_post", "target_group")
    assert out["ukraine"].value == 1.0 and out["gefluechtete"].value == 0.0


def test_registration_ids_tie_every_unit_frame_to_the_same_parents(tables):
    """A is in C1 and C2 of 2024: one unit per registration; B and W are plain persons."""
    enrolled = parents.enrolled(tables, YEAR)
    keys = zip(enrolled["person_id"], enrolled["cycle_id"], strict=True)
    ids = dict(zip(keys, enrolled["registration"], strict=True))
    assert ids == {
        ("A", "C1"): "person:A/cycle:C1",
        ("B", "C1"): "person:B",
        ("W", "C1"): "person:W",
        ("A", "C2"): "person:A/cycle:C2",
    }
    catalogue = cat.load_catalogue()
    for ident in ("par_reached", "par_attrition", "par_fsw_change", "par_school_contact_pre"):
        frame = cat.unit_frame(catalogue.get(ident), tables, period=YEAR)
        assert len(frame) > 0, ident
        for row in frame.itertuples(index=False):
            assert row.registration == ids[(row.person_id, row.cycle_id)], ident
    # in 2023 D has one registration: the person id alone
    year_2023 = Period(date(2023, 1, 1), date(2023, 12, 31), "2023")
    assert parents.enrolled(tables, year_2023)["registration"].tolist() == ["person:D"]
    # par_reached still counts persons: A once
    assert cat.compute("par_reached", tables, period=YEAR)["value"].iloc[-1] == 3
