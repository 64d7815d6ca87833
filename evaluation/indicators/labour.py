"""Labour-market integration: reach, exits, follow-up status, recognition decisions.

Follow-up status follows the Bundesagentur für Arbeit's definitions, measured on the
agency's own follow-up contacts:

* **Eingliederungsquote**: share of programme exits in employment subject to social
  insurance (``svb``) ``k`` months after exit;
* **Verbleibsquote**: share of exits not registered unemployed ``k`` months after exit.

The BA counts every exit through administrative data. The agency only knows the status of
people it reached, so the shares here are among exits *with known status*, and the response
rate (known / due) is reported beside them. Like the BA's, the figures are descriptive, not
causal.
"""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from evaluation.indicators.common import in_period, wilson
from evaluation.labels import RECOGNITION_DECISIONS

LABOUR_PROJECTS = ("anerkennung", "jobeinstieg")
DECIDED = ("voll", "teilweise", "ausgleich", "keine")
DAYS_PER_MONTH = 30.4375


def running(enrolments: pd.DataFrame, start: date, end: date) -> pd.DataFrame:
    """Enrolments running at some point of ``[start, end]`` (entered by the end, not left before the start)."""
    e = enrolments
    return e[
        (e["entry_date"] <= pd.Timestamp(end))
        & (e["exit_date"].isna() | (e["exit_date"] >= pd.Timestamp(start)))
    ]


def decided(cases: pd.DataFrame, start: date, end: date) -> pd.DataFrame:
    """Recognition cases decided in ``[start, end]``; withdrawn applications are not decisions."""
    return cases[in_period(cases["decision_date"], start, end) & cases["decision"].isin(DECIDED)]


def pending(cases: pd.DataFrame, day: date) -> pd.DataFrame:
    """Applications filed by ``day`` without a decision by ``day``."""
    t = pd.Timestamp(day)
    return cases[
        (cases["application_date"] <= t)
        & (cases["decision_date"].isna() | (cases["decision_date"] > t))
    ]


def reach_units(
    enrolments: pd.DataFrame, start: date, end: date, *, projects: tuple[str, ...] = LABOUR_PROJECTS
) -> pd.DataFrame:
    """The enrolments :func:`reach` counts, one row each, with what they count for.

    Columns ``enrolment_id``, ``person_id``, ``project`` and the flags ``active`` (running
    in the period), ``entry`` (running and entered in the period), ``exit`` (left in the
    period) and ``dropout`` (left in the period before the planned end).
    """
    e = enrolments[enrolments["project"].isin(projects)]
    active = (e["entry_date"] <= pd.Timestamp(end)) & (
        e["exit_date"].isna() | (e["exit_date"] >= pd.Timestamp(start))
    )
    exit_ = in_period(e["exit_date"], start, end)
    out = e[["enrolment_id", "person_id", "project"]].assign(
        active=active,
        entry=active & in_period(e["entry_date"], start, end),
        exit=exit_,
        dropout=exit_ & (e["exit_reason"] == "abbruch"),
    )
    return out[active | exit_].reset_index(drop=True)


def reach(
    enrolments: pd.DataFrame, start: date, end: date, *, projects: tuple[str, ...] = LABOUR_PROJECTS
) -> pd.DataFrame:
    """Participants reached, entries and exits per project in a period.

    Returns one row per project plus ``"total"`` with columns ``participants`` (distinct
    persons with an enrolment active in the period), ``entries``, ``exits`` and
    ``dropouts`` (exits before the planned end). Built from :func:`reach_units`.
    """
    units = reach_units(enrolments, start, end, projects=projects)

    def counts(u: pd.DataFrame) -> dict[str, int]:
        return {
            "participants": u.loc[u["active"], "person_id"].nunique(),
            "entries": int(u["entry"].sum()),
            "exits": int(u["exit"].sum()),
            "dropouts": int(u["dropout"].sum()),
        }

    rows = {p: counts(units[units["project"] == p]) for p in projects}
    rows["total"] = counts(units)
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "project"
    return out


def followup_units(
    enrolments: pd.DataFrame,
    followups: pd.DataFrame,
    *,
    exit_from: date,
    exit_to: date,
    months: int,
    data_end: date,
) -> pd.DataFrame:
    """The exits :func:`followup_status` counts, one row per enrolment, with their status flags.

    Columns of the enrolments plus ``cohort`` (year of entry as text), ``status`` and the
    flags ``due``, ``known``, ``svb`` and ``not_unemployed`` (see :func:`followup_status`).
    """
    e = enrolments[
        enrolments["project"].isin(LABOUR_PROJECTS)
        & in_period(enrolments["exit_date"], exit_from, exit_to)
    ].copy()
    e["cohort"] = e["entry_date"].dt.year.astype("Int64").astype(str)
    due_date = e["exit_date"] + pd.to_timedelta(np.round(months * DAYS_PER_MONTH), unit="D")
    e["due"] = due_date <= pd.Timestamp(data_end)
    f = followups[followups["months_after_exit"] == months][["enrolment_id", "status"]]
    e = e.merge(f, on="enrolment_id", how="left")
    e["known"] = e["due"] & e["status"].notna()
    e["svb"] = e["known"] & (e["status"] == "svb")
    e["not_unemployed"] = e["known"] & (e["status"] != "arbeitslos")
    return e


def followup_status(
    enrolments: pd.DataFrame,
    followups: pd.DataFrame,
    *,
    exit_from: date,
    exit_to: date,
    months: int,
    data_end: date,
    by: tuple[str, ...] = ("project", "cohort"),
) -> pd.DataFrame:
    """Status ``months`` after exit for exits in ``[exit_from, exit_to]``, by project and entry cohort.

    Parameters
    ----------
    enrolments, followups
        Tables as in the data snapshot.
    exit_from, exit_to
        Exits counted (inclusive).
    months
        Follow-up point (6 or 12 as the BA uses; 1, 3, 9, 18 also recorded by some).
    data_end
        Last day the data covers: exits whose follow-up date lies after it are not yet due.
    by
        Grouping columns; ``cohort`` is the calendar year of entry.

    Returns
    -------
    DataFrame
        Per group: ``exits``, ``due``, ``known`` (status known), ``svb``, ``not_unemployed``,
        ``response_rate``, ``eingliederungsquote`` and ``verbleibsquote`` with Wilson 95 %
        intervals (``*_ci_low``, ``*_ci_high``).
    """
    e = followup_units(
        enrolments,
        followups,
        exit_from=exit_from,
        exit_to=exit_to,
        months=months,
        data_end=data_end,
    )
    return status_of_units(e, by)


def status_of_units(e: pd.DataFrame, by: tuple[str, ...] = ("project", "cohort")) -> pd.DataFrame:
    """The counts, shares and intervals of :func:`followup_status` from its units
    (:func:`followup_units`), grouped by ``by`` (``()``: one row in total)."""
    grouped = e.groupby(list(by), observed=True) if by else e.assign(_all="total").groupby("_all")
    out = grouped.agg(
        exits=("enrolment_id", "size"),
        due=("due", "sum"),
        known=("known", "sum"),
        svb=("svb", "sum"),
        not_unemployed=("not_unemployed", "sum"),
    )
    out["response_rate"] = out["known"] / out["due"].where(out["due"] > 0)
    for name, count in (("eingliederungsquote", "svb"), ("verbleibsquote", "not_unemployed")):
        share, low, high = wilson(out[count], out["known"])
        out[name], out[f"{name}_ci_low"], out[f"{name}_ci_high"] = share, low, high
    return out


def decisions_in_period(cases: pd.DataFrame, start: date, end: date) -> pd.DataFrame:
    """Cases :func:`recognition_decisions` counts: a decision (withdrawn included) dated in the period."""
    return cases[in_period(cases["decision_date"], start, end) & (cases["decision"] != "offen")]


def recognition_decisions(cases: pd.DataFrame, start: date, end: date) -> pd.DataFrame:
    """Recognition decisions taken in the period, by decision category and regulation.

    Rows are the decision categories (including withdrawn), columns ``regulated`` /
    ``not_regulated`` and ``total``: counts of decisions dated in the period.
    """
    c = decisions_in_period(cases, start, end)
    table = pd.crosstab(c["decision"], np.where(c["regulated"], "regulated", "not_regulated"))
    order = [d for d in RECOGNITION_DECISIONS if d != "offen"]
    table = table.reindex(index=order, columns=["regulated", "not_regulated"], fill_value=0)
    table.index.name = "decision"
    table.columns.name = None
    return table


def time_to_decision(cases: pd.DataFrame, start: date, end: date) -> pd.DataFrame:
    """Months from application to decision for decisions in the period, by regulation.

    Withdrawn applications are left out (they end without a decision). Returns ``n``,
    ``median``, ``q1`` and ``q3`` (months) per group and in total.
    """
    c = decided(cases, start, end).copy()
    c["months"] = (c["decision_date"] - c["application_date"]).dt.days / DAYS_PER_MONTH
    c["group"] = np.where(c["regulated"], "regulated", "not_regulated")

    def describe(s: pd.Series) -> pd.Series:
        return pd.Series(
            {"n": len(s), "median": s.median(), "q1": s.quantile(0.25), "q3": s.quantile(0.75)}
        )

    rows = {g: describe(c.loc[c["group"] == g, "months"]) for g in ("regulated", "not_regulated")}
    rows["total"] = describe(c["months"])
    out = pd.DataFrame(rows).T
    out["n"] = out["n"].astype(int)
    out.index.name = "group"
    return out


def full_equivalence_share(cases: pd.DataFrame, start: date, end: date) -> pd.DataFrame:
    """Share of decisions (excluding withdrawn) granting full equivalence, by regulation."""
    c = cases[in_period(cases["decision_date"], start, end) & cases["decision"].isin(DECIDED)]
    c = c.assign(
        group=np.where(c["regulated"], "regulated", "not_regulated"), full=c["decision"] == "voll"
    )
    out = (
        c.groupby("group")
        .agg(n=("full", "size"), full=("full", "sum"))
        .reindex(["regulated", "not_regulated"], fill_value=0)
    )
    out.loc["total"] = out.sum()
    out["share"], out["ci_low"], out["ci_high"] = wilson(out["full"], out["n"])
    return out


def pending_at(cases: pd.DataFrame, day: date) -> int:
    """Applications filed by ``day`` without a decision by ``day``."""
    t = pd.Timestamp(day)
    return int(
        (
            (cases["application_date"] <= t)
            & (cases["decision_date"].isna() | (cases["decision_date"] > t))
        ).sum()
    )


def _shift_months(day: date, months: int) -> date:
    return (pd.Timestamp(day) - pd.DateOffset(months=months)).date()


def followup_in_period(
    enrolments: pd.DataFrame,
    followups: pd.DataFrame,
    period,
    *,
    months: int,
    data_end: date,
    by: tuple[str, ...] = ("project", "cohort"),
) -> pd.DataFrame:
    """Follow-up status for exits whose follow-up date (exit + ``months``) lies in ``period``.

    A yearly report thus always has complete follow-ups: the status measured in the year.
    """
    return followup_status(
        enrolments,
        followups,
        exit_from=_shift_months(period.start, months),
        exit_to=_shift_months(period.end, months),
        months=months,
        data_end=data_end,
        by=by,
    )


def followup_with_margins(
    enrolments: pd.DataFrame, followups: pd.DataFrame, period, *, months: int, data_end: date
) -> pd.DataFrame:
    """:func:`followup_in_period` by project and cohort plus ``"total"`` rows for each margin."""
    units = followup_units_in_period(
        enrolments, followups, period, months=months, data_end=data_end
    )
    cells = status_of_units(units, ("project", "cohort"))
    if cells.empty:
        return cells
    by_project = status_of_units(units, ("project",)).assign(cohort="total")
    by_cohort = status_of_units(units, ("cohort",)).assign(project="total")
    overall = status_of_units(units, ()).assign(project="total", cohort="total")
    parts = [
        cells.reset_index(),
        by_project.reset_index(),
        by_cohort.reset_index(),
        overall.reset_index(drop=True),
    ]
    return pd.concat(parts, ignore_index=True).set_index(["project", "cohort"]).sort_index()


def _trend_years(enrolments: pd.DataFrame, until: date) -> list[tuple[str, Any]]:
    first = int(enrolments["exit_date"].dropna().dt.year.min())
    return [
        (str(year), SimpleNamespace(start=date(year, 1, 1), end=min(date(year, 12, 31), until)))
        for year in range(first, until.year + 1)
    ]


def followup_units_in_period(
    enrolments: pd.DataFrame, followups: pd.DataFrame, period: Any, *, months: int, data_end: date
) -> pd.DataFrame:
    """:func:`followup_units` for the exits :func:`followup_in_period` counts."""
    return followup_units(
        enrolments,
        followups,
        exit_from=_shift_months(period.start, months),
        exit_to=_shift_months(period.end, months),
        months=months,
        data_end=data_end,
    )


def yearly_trend_units(
    enrolments: pd.DataFrame, followups: pd.DataFrame, *, until: date, months: int, data_end: date
) -> pd.DataFrame:
    """The exits :func:`yearly_trend` counts: :func:`followup_units` per year, column ``year``."""
    parts = []
    for year, window in _trend_years(enrolments, until):
        units = followup_units_in_period(
            enrolments, followups, window, months=months, data_end=data_end
        )
        if units["due"].any():
            parts.append(units.assign(year=year))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["year"])


def yearly_trend(
    enrolments: pd.DataFrame, followups: pd.DataFrame, *, until: date, months: int, data_end: date
) -> pd.DataFrame:
    """Overall follow-up status by year of the follow-up date, from the first year with exits."""
    rows = {}
    for year, window in _trend_years(enrolments, until):
        row = followup_in_period(
            enrolments, followups, window, months=months, data_end=data_end, by=()
        )
        if not row.empty and row["due"].iloc[0] > 0:
            rows[year] = row.iloc[0]
    out = pd.DataFrame(rows).T
    out.index.name = "year"
    return out


def quarterly_employment_panel(
    enrolments: pd.DataFrame, employment: pd.DataFrame, *, until: date
) -> pd.DataFrame:
    """Person-quarter panel for the event study of programme entry, up to ``until``.

    One row per labour-market participant and calendar quarter with a record:
    ``svb`` = share of the quarter's recorded months in employment subject to social
    insurance, ``quarter`` = running quarter number, ``entry_quarter`` = quarter of the first
    entry into a labour-market project. Participants entering after ``until`` are left out,
    and so are records after it. Quarters instead of months keep the number of
    cohort-by-period cells (and the estimation time) small.
    """
    labour = enrolments[enrolments["project"].isin(LABOUR_PROJECTS)]
    entry = labour.groupby("person_id")["entry_date"].min()
    entry = entry[entry <= pd.Timestamp(until)]
    records = employment[
        (employment["month"] <= pd.Timestamp(until)) & employment["person_id"].isin(entry.index)
    ]

    def quarter(ts: pd.Series) -> pd.Series:
        return ts.dt.year * 4 + (ts.dt.month - 1) // 3

    panel = (
        records.assign(
            quarter=quarter(records["month"]), svb=records["status"].eq("svb").astype(float)
        )
        .groupby(["person_id", "quarter"], as_index=False)["svb"]
        .mean()
    )
    return panel.merge(
        quarter(entry).rename("entry_quarter"), left_on="person_id", right_index=True
    )


def recognition_at_risk(cases: pd.DataFrame, start: date, end: date) -> pd.DataFrame:
    """Applications decided or withdrawn in ``[start, end]`` or pending at ``end``, with durations.

    The set a Kaplan–Meier estimate of the time to decision needs, so that long-pending
    procedures are not left out: ``value`` = months from application to decision
    (``observed`` True), to withdrawal (censored) or to ``end`` (pending, censored).
    Applications filed after ``end`` and those closed before ``start`` are not counted.
    """
    t1 = pd.Timestamp(end)
    closed_in = in_period(cases["decision_date"], start, end) & (cases["decision"] != "offen")
    pending_end = (cases["application_date"] <= t1) & (
        cases["decision_date"].isna()
        | (cases["decision_date"] > t1)
        | (cases["decision"] == "offen")
    )
    c = cases[closed_in | (pending_end & ~closed_in)].copy()
    observed = closed_in.loc[c.index] & c["decision"].isin(DECIDED)
    stop = c["decision_date"].where(closed_in.loc[c.index], t1)
    c["observed"] = observed.astype(bool)
    c["value"] = ((stop - c["application_date"]).dt.days / DAYS_PER_MONTH).clip(lower=0)
    return c


def sustained_employment_spells(
    records: pd.DataFrame, persons: pd.Series, *, run: int = 3
) -> pd.DataFrame:
    """Start of the first ``run`` consecutive months in svB employment after entry, censored.

    ``records`` has one row per person and month with ``person_id``, ``offset`` (months
    since the entry month) and ``status``. For each of ``persons``: ``value`` = the offset
    (>= 1) at which the first run of ``run`` consecutive svB months begins (``observed``
    True); otherwise the last offset from which such a run could still be seen in full
    (last observed offset - run + 1, at least 0; ``observed`` False). Months without a
    record count as not employed.
    """
    after = records[records["offset"] >= 1]
    svb = after[after["status"] == "svb"][["person_id", "offset"]].drop_duplicates()
    svb = svb.sort_values(["person_id", "offset"])
    # a run of consecutive offsets: offset - rank is constant within it
    svb["block"] = svb["offset"] - svb.groupby("person_id").cumcount()
    runs = svb.groupby(["person_id", "block"])["offset"].agg(["min", "size"]).reset_index()
    first = runs[runs["size"] >= run].groupby("person_id")["min"].min()
    last_seen = after.groupby("person_id")["offset"].max()
    out = pd.DataFrame({"person_id": pd.Series(persons).drop_duplicates().to_numpy()})
    out["observed"] = out["person_id"].isin(first.index)
    censored = (out["person_id"].map(last_seen) - run + 1).clip(lower=0).fillna(0)
    out["value"] = out["person_id"].map(first).fillna(censored).astype(float)
    return out
