"""Parent work (Elternarbeit): reach, attendance and pre/post change per group cycle.

Tables: ``enrolments`` (``project == "elternarbeit"`` with ``cycle_id``, ``arm`` and
``sessions_attended``), ``parent_groups`` (cycles with ``end_date`` and
``sessions_planned``) and ``parent_surveys`` (one row per parent, cycle and wave ``pre`` /
``post``: FSW items ``fsw_1`` … ``fsw_9`` on 1–6 and the involvement questions).

Rules used throughout
---------------------
Period
    A cycle belongs to the reporting period in which it **ends** (``end_date``), so a
    yearly report counts each cycle once and has its post survey.
FSW score
    Mean of the answered items of the FSW (Fragebogen zur Selbstwirksamkeit in der
    Erziehung, 9 items, 1–6), computed only when at least 7 of the 9 items are answered;
    otherwise missing. Two missing items change the mean little at Cronbach's alpha of
    about .78; more would make scores of different item sets incomparable.
Pre/post comparisons
    Only parents who answered **both** waves of the same cycle (the panel), so that before
    and after describe the same people; for the FSW both scores must exist, for a yes/no
    question both answers. Who drops out between the waves is reported as attrition.
Units
    Every frame here has one row per registration (a parent in a cycle) and a column
    ``registration``: the id the release audit ties published counts to
    (:mod:`evaluation.protection`). It is ``"person:<person_id>"``, so that the same parent
    is the same unit in every table of every report; only a parent registered in several
    cycles of the period gets one id per cycle (``"person:<person_id>/cycle:<cycle_id>"``),
    since tables that sum registrations count them once per cycle.
Arms
    ``teilnahme`` (took part) and ``wartegruppe`` (randomised waiting list, from 2023).
    A change among participants alone is not an effect: the comparison with the waiting
    list's change is (see the estimators), and it is valid only for cycles with a
    randomised waiting list.
"""

from __future__ import annotations

from typing import Literal

import pandas as pd

from evaluation.indicators.catalogue import Tables, indicator
from evaluation.indicators.common import in_period
from evaluation.plan import Period

PROJECT = "elternarbeit"
FSW_ITEMS = tuple(f"fsw_{i}" for i in range(1, 10))
MIN_FSW_ITEMS = 7
SURVEY_ITEMS = ("school_contact", "parent_evening", "kita_enrolled", "german_course")
KEYS = ["person_id", "cycle_id"]
#: Prefix of the unit ids of persons in the release audit.
PERSON = "person:"
Wave = Literal["pre", "post"]


def cycles_ending(parent_groups: pd.DataFrame, period: Period) -> pd.DataFrame:
    """Group cycles whose last day lies in the period."""
    return parent_groups[in_period(parent_groups["end_date"], period.start, period.end)]


def fsw_score(surveys: pd.DataFrame, *, min_items: int = MIN_FSW_ITEMS) -> pd.Series:
    """FSW scale score: mean of the answered items, missing below ``min_items`` answers."""
    items = surveys[list(FSW_ITEMS)].astype("Float64")
    answered = items.notna().sum(axis=1)
    return items.mean(axis=1, skipna=True).astype(float).where(answered >= min_items)


def enrolled(tables: Tables, period: Period) -> pd.DataFrame:
    """One row per parent and cycle ending in the period, with group and target group.

    ``registration`` is the unit id of the row (see the module docstring).
    """
    e = tables["enrolments"]
    e = e[e["project"] == PROJECT]
    cycles = cycles_ending(tables["parent_groups"], period)
    out = e.merge(cycles[["cycle_id", "group_name", "sessions_planned"]], on="cycle_id")
    people = tables["participants"][["person_id", "target_group"]]
    out = out.merge(people, on="person_id", how="left")
    return out.assign(registration=registration_ids(out))


def registration_ids(registrations: pd.DataFrame) -> pd.Series:
    """Unit ids of registrations (``person_id``, ``cycle_id``) of one period.

    ``"person:<person_id>"``; ``"person:<person_id>/cycle:<cycle_id>"`` for parents with
    several registrations among the given ones.
    """
    person = registrations["person_id"].astype(str)
    ids = PERSON + person
    several = person.duplicated(keep=False)
    return ids.where(~several, ids + "/cycle:" + registrations["cycle_id"].astype(str))


def _wave(surveys: pd.DataFrame, wave: Wave) -> pd.DataFrame:
    """Answers of one wave, indexed by parent and cycle, columns suffixed ``_pre``/``_post``."""
    s = surveys[surveys["wave"] == wave]
    answers = s[[*KEYS, *SURVEY_ITEMS]].assign(fsw=fsw_score(s))
    return answers.set_index(KEYS).add_suffix(f"_{wave}")


def panel(tables: Tables, period: Period) -> pd.DataFrame:
    """Parents of cycles ending in the period who answered both waves, one row each."""
    surveys = tables["parent_surveys"]
    both = _wave(surveys, "pre").join(_wave(surveys, "post"), how="inner")
    return enrolled(tables, period).join(both, on=KEYS, how="inner")


@indicator("par_cycles")
def cycles(tables: Tables, period: Period) -> pd.DataFrame:
    """Group cycles ending in the period."""
    return cycles_ending(tables["parent_groups"], period).assign(unit=lambda c: c["cycle_id"])


@indicator("par_reached")
def reached(tables: Tables, period: Period) -> pd.DataFrame:
    """Parents enrolled in a cycle ending in the period (both arms)."""
    return enrolled(tables, period).assign(unit=lambda e: e["person_id"])


@indicator("par_attendance")
def attendance(tables: Tables, period: Period) -> pd.DataFrame:
    """Participating parents (not the waiting list): share of planned sessions attended."""
    e = enrolled(tables, period)
    e = e[e["arm"] == "teilnahme"]
    share = e["sessions_attended"].astype("Float64") / e["sessions_planned"]
    return e.assign(value=share.astype(float))


@indicator("par_attrition")
def attrition(tables: Tables, period: Period) -> pd.DataFrame:
    """Parents with a pre survey; numerator: no post survey for the same cycle."""
    surveys = tables["parent_surveys"]
    answered = {wave: surveys.loc[surveys["wave"] == wave, KEYS] for wave in ("pre", "post")}
    e = enrolled(tables, period).merge(answered["pre"], on=KEYS)
    has_post = pd.MultiIndex.from_frame(e[KEYS]).isin(pd.MultiIndex.from_frame(answered["post"]))
    return e.assign(numerator=(~has_post).astype(int), denominator=1)


@indicator("par_fsw")
def fsw(tables: Tables, period: Period, *, wave: Literal["pre", "post", "change"]) -> pd.DataFrame:
    """Panel parents with both FSW scores; ``value`` the score before, after or the change."""
    p = panel(tables, period).dropna(subset=["fsw_pre", "fsw_post"])
    values = {"pre": p["fsw_pre"], "post": p["fsw_post"], "change": p["fsw_post"] - p["fsw_pre"]}
    return p.assign(value=values[wave])


@indicator("par_survey_share")
def survey_share(tables: Tables, period: Period, *, item: str, wave: Wave) -> pd.DataFrame:
    """Panel parents who answered ``item`` in both waves; numerator: "yes" in ``wave``."""
    if item not in SURVEY_ITEMS:
        raise ValueError(f"item must be one of {', '.join(SURVEY_ITEMS)}, not {item!r}")
    p = panel(tables, period)
    p = p[p[f"{item}_pre"].notna() & p[f"{item}_post"].notna()]
    return p.assign(numerator=p[f"{item}_{wave}"].astype(bool).astype(int), denominator=1)


def assigned(tables: Tables, period: Period, cycles: list[str] | tuple[str, ...]) -> pd.DataFrame:
    """Everyone assigned in the randomised ``cycles``, both arms, with both survey waves.

    The intention-to-treat population of the waiting-list trial: every registration of a
    cycle in ``cycles`` (:func:`enrolled`, whatever was answered), left-joined with the pre
    and the post survey of the same cycle. Columns of :func:`enrolled` and
    ``surveyed_pre`` / ``surveyed_post`` (a questionnaire of that wave exists),
    ``fsw_pre`` / ``fsw_post`` (the FSW score, missing when not surveyed or fewer than
    :data:`MIN_FSW_ITEMS` items answered) and ``treated`` (1 = ``teilnahme``).
    """
    surveys = tables["parent_surveys"]
    frame = enrolled(tables, period)
    frame = frame[frame["cycle_id"].isin(list(cycles))]
    for wave in ("pre", "post"):
        answers = _wave(surveys, wave)[[f"fsw_{wave}"]]
        answers = answers[~answers.index.duplicated(keep="first")]
        frame = frame.join(answers, on=KEYS, how="left")
        surveyed = pd.MultiIndex.from_frame(frame[KEYS]).isin(answers.index)
        frame[f"surveyed_{wave}"] = surveyed
    return frame.assign(treated=(frame["arm"] == "teilnahme").astype(int)).reset_index(drop=True)
