"""Labour-market tables under the release audit: their unit frames reproduce them exactly, and
with units the audit catches the differences that leaked before (exits minus status known;
decisions by category minus the table of months to decision)."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from evaluation.indicators import labour
from evaluation.protection import suppress_frame, suppress_table
from evaluation.protection.model import Release, unit_cells
from evaluation.protection.release import frame_cells
from evaluation.protection.solver import audit, protect
from evaluation.views import labour as views
from tests.conftest import make_context


def protected(frame: pd.DataFrame, ctx, **options):
    """What ``ctx.indicator_table`` does per table, without displaying or the release."""
    options = {k: v for k, v in options.items() if k != "hide"}
    return suppress_frame(
        frame,
        rule=ctx.rule,
        total_label=ctx.t("total"),
        caption="test",
        language=ctx.language,
        **options,
    )


def cells_of(name: str, frame: pd.DataFrame, ctx, units: pd.DataFrame | None, **options):
    """The release cells of a protected indicator table, as the notebook context builds them."""
    table = protected(frame, ctx, **options)
    counts = [
        c for c, f in zip(table.values.columns, table.formats, strict=True) if f.kind == "count"
    ]
    keys = [
        c for c, f in zip(table.values.columns, table.formats, strict=True) if f.kind == "label"
    ]
    within = options.get("complementary_within") or ()
    cells, weights = frame_cells(
        name,
        frame,
        table.mask,
        counts=counts,
        keys=keys,
        partitions=[within] if isinstance(within, str) else list(within),
        total_label=ctx.t("total"),
        units=units,
    )
    return cells, weights


def decision_cells(name: str, table: pd.DataFrame, units: pd.DataFrame, ctx):
    """Cells of the decisions crosstab as ``ctx.counts_table`` protects it (long: row, column)."""
    total = ctx.t("total")
    shown = suppress_table(table, rule=ctx.rule, total_label=total, language=ctx.language)
    values = shown.values.copy()
    grid = table.copy()
    grid[total] = grid.sum(axis=1)
    grid.loc[total] = grid.sum(axis=0)
    grid = grid.loc[values.index, values.columns]
    long = grid.stack().rename("n").reset_index()
    long.columns = ["row", "column", "n"]
    long[["row", "column"]] = long[["row", "column"]].astype(str)
    hidden = pd.DataFrame({"n": shown.mask.stack().to_numpy()})
    return unit_cells(name, long[["row", "column"]], long[["n"]], hidden, units, total_label=total)


# ---- the demo data: every table is reproduced by its units ------------------------------------


@pytest.fixture(scope="module")
def demo():
    ctx = make_context(year=2024)
    ctx.snapshot = "latest"  # the session's demo snapshot
    return ctx, ctx.table("enrolments"), ctx.table("followups"), ctx.table("recognition_cases")


def test_flow_and_person_tables_are_reproduced_by_their_units(demo) -> None:
    ctx, enrolments, _, _ = demo
    reach = labour.reach(enrolments, ctx.period.start, ctx.period.end)
    units = views.flows_units(enrolments, ctx)
    cells, _ = cells_of(
        "flows",
        views.flows_for_readers(reach, ctx),
        ctx,
        units,
        n=ctx.t("entries"),
        counts=[ctx.t("exits"), ctx.t("dropouts")],
        complementary_within=ctx.t("project"),
    )
    assert len(cells) == 9 and all(c.units for c in cells if c.value)
    assert units["unit"].str.startswith("enrolment:").all()
    persons = views.persons_units(enrolments, ctx)
    cells, _ = cells_of(
        "persons", views.persons_for_readers(reach, ctx), ctx, persons, n=ctx.t("persons")
    )
    overall = [c for c in cells if c.key[0].startswith("Personen insgesamt")]
    assert overall[0].value == reach.loc["total", "participants"]
    assert persons["unit"].str.startswith("person:").all()


def test_a_unit_frame_missing_one_exit_is_refused(demo) -> None:
    ctx, enrolments, _, _ = demo
    reach = labour.reach(enrolments, ctx.period.start, ctx.period.end)
    units = views.flows_units(enrolments, ctx)
    one_exit = units.index[units[ctx.t("exits")]][0]
    with pytest.raises(ValueError, match="the units do not describe this table"):
        cells_of(
            "flows",
            views.flows_for_readers(reach, ctx),
            ctx,
            units.drop(index=one_exit),
            n=ctx.t("entries"),
            counts=[ctx.t("exits"), ctx.t("dropouts")],
            complementary_within=ctx.t("project"),
        )


@pytest.mark.parametrize("months", [6, 12])
def test_followup_tables_are_reproduced_by_their_units(demo, months: int) -> None:
    ctx, enrolments, followups, _ = demo
    status = labour.followup_with_margins(
        enrolments, followups, ctx.period, months=months, data_end=ctx.data_end
    )
    frame, options = views.followup_table(status, ctx)
    units = views.followup_units(enrolments, followups, ctx, months=months)
    cells, _ = cells_of("followup", frame, ctx, units, **options)
    # exits, known, svb, not_unemployed in every row (hidden numerators count too)
    assert len(cells) == 4 * len(frame)
    total = next(c for c in cells if c.key == (ctx.t("total"), ctx.t("total"), ctx.t("exits")))
    assert total.value == status.loc[("total", "total"), "exits"] == len(units)


def test_trend_table_is_reproduced_by_its_units(demo) -> None:
    ctx, enrolments, followups, _ = demo
    trend = labour.yearly_trend(
        enrolments, followups, until=ctx.period.end, months=6, data_end=ctx.data_end
    )
    frame, options = views.trend_table(trend, ctx)
    units = views.trend_units(enrolments, followups, ctx, months=6)
    cells, _ = cells_of("trend", frame, ctx, units, **options)
    assert len(cells) == 2 * len(trend) and len(trend) >= 3


def test_recognition_tables_are_reproduced_by_their_units(demo) -> None:
    ctx, _, _, cases = demo
    decisions = labour.recognition_decisions(cases, ctx.period.start, ctx.period.end)
    units = views.decisions_units(cases, ctx)
    cells = decision_cells("decisions", views.decisions_for_readers(decisions, ctx), units, ctx)
    assert sum(c.value for c in cells if not c.total) == len(units) == decisions.to_numpy().sum()
    duration = labour.time_to_decision(cases, ctx.period.start, ctx.period.end)
    cells, _ = cells_of(
        "months",
        views.duration_for_readers(duration, ctx),
        ctx,
        views.duration_units(cases, ctx),
        n=ctx.t("n"),
        derived=[ctx.t("median"), ctx.t("q1"), ctx.t("q3")],
        complementary_within=ctx.t("group"),
        decimals=1,
    )
    assert [c.value for c in cells] == duration["n"].tolist()


def test_time_to_employment_table_is_reproduced_by_its_units(demo) -> None:
    from evaluation.indicators import catalogue

    ctx, _, _, _ = demo
    units = views.time_to_employment_units(ctx)
    entry = catalogue.load_catalogue().get("lm_months_to_employment")
    medians = catalogue.summarise(units, entry.kind, group_by="target_group")
    frame, options = views.time_to_employment_table(medians, ctx)
    table_units = views.time_to_employment_table_units(units, ctx)
    cells, _ = cells_of("tte", frame, ctx, table_units, **options)
    assert cells[-1].value == len(units) and table_units["unit"].str.startswith("person:").all()


# ---- attacks on hand-made data: with units, the audit catches the differences -----------------


def ts(s: str) -> pd.Timestamp:
    return pd.Timestamp(s)


@pytest.fixture
def exits_and_status():
    """Exits in 2023 (follow-up at 6 months falls in 2024): Anerkennung 12 exits, 9 known;
    Jobeinstieg 10 exits, all known."""
    rows, follow = [], []
    for project, n, known in (("anerkennung", 12, 9), ("jobeinstieg", 10, 10)):
        for i in range(n):
            eid = f"{project[:1]}{i}"
            rows.append(
                {
                    "enrolment_id": eid,
                    "person_id": f"P{eid}",
                    "project": project,
                    "entry_date": ts("2023-01-10"),
                    "exit_date": ts("2023-08-15"),
                    "exit_reason": "regulaer",
                }
            )
            if i < known:
                status = "svb" if i % 2 == 0 else "minijob"
                follow.append({"enrolment_id": eid, "months_after_exit": 6, "status": status})
    return pd.DataFrame(rows), pd.DataFrame(follow)


def test_exits_minus_status_known_is_caught_only_with_units(exits_and_status) -> None:
    enrolments, followups = exits_and_status
    ctx = make_context(year=2024)
    status = labour.followup_with_margins(
        enrolments, followups, ctx.period, months=6, data_end=date(2024, 12, 31)
    )
    frame, options = views.followup_table(status, ctx)
    units = _followup_units(enrolments, followups, ctx)
    row = frame[frame[ctx.t("project")] == "Anerkennungsberatung"].iloc[0]
    assert (row[ctx.t("exits")], row[ctx.t("known")]) == (12, 9)  # 3 of unknown status
    # per table both are shown (12 and 9 pass the rule) ...
    table = protected(frame, ctx, **options)
    assert not table.mask.loc[row.name, [ctx.t("exits"), ctx.t("known")]].any()
    # ... and without units the release audit cannot see that "known" is part of "exits"
    cells, weights = cells_of("followup", frame, ctx, None, **options)
    assert audit(Release(cells, weights), threshold=5).passed
    # with units it finds the group of 3 and protects it
    cells, _ = cells_of("followup", frame, ctx, units, **options)
    found = audit(Release(cells), threshold=5)
    assert not found.passed and any(f.kind == "group" and f.high == 3 for f in found.findings)
    _, added, final = protect(Release(cells), threshold=5, open_for_change=lambda c: True)
    assert final.passed and added


def _followup_units(enrolments, followups, ctx):
    return views.followup_units(enrolments, followups, _WithEnd(ctx, date(2024, 12, 31)), months=6)


class _WithEnd:
    """A context whose data end is given (the hand-made data have no snapshot)."""

    def __init__(self, ctx, data_end: date) -> None:
        self._ctx, self.data_end = ctx, data_end

    def __getattr__(self, name: str):
        return getattr(self._ctx, name)


def test_decisions_against_months_to_decision_is_caught_with_units() -> None:
    """Two withdrawn applications in regulated professions (one in the others): decisions by
    category count them, the months-to-decision table leaves them out; shown side by side the
    regulated margin and the regulated count of decisions isolate 2 cases."""
    ctx = make_context(year=2024)
    rows = []
    for i in range(30):
        regulated = i < 15
        decision = "zurueckgezogen" if i in (0, 1, 20) else ("voll" if i % 3 else "teilweise")
        rows.append(
            {
                "case_id": f"C{i}",
                "person_id": f"P{i}",
                "regulated": regulated,
                "application_date": ts("2023-11-01"),
                "decision_date": ts("2024-05-01"),
                "decision": decision,
            }
        )
    cases = pd.DataFrame(rows)
    assert (
        "zurueckgezogen"
        in labour.recognition_decisions(cases, date(2024, 1, 1), date(2024, 12, 31)).index
    )
    decisions = labour.recognition_decisions(cases, ctx.period.start, ctx.period.end)
    shown_decisions = views.decisions_for_readers(decisions, ctx)
    # the decisions table as the per-table protection publishes it (margins shown)
    decided_cells = decision_cells(
        "decisions", shown_decisions, views.decisions_units(cases, ctx), ctx
    )
    margin = next(c for c in decided_cells if c.key == (ctx.t("total"), ctx.t("regulated"), "n"))
    assert margin.shown and margin.value == 15
    duration = labour.time_to_decision(cases, ctx.period.start, ctx.period.end)
    months_cells, _ = cells_of(
        "months",
        views.duration_for_readers(duration, ctx),
        ctx,
        views.duration_units(cases, ctx),
        n=ctx.t("n"),
        derived=[ctx.t("median"), ctx.t("q1"), ctx.t("q3")],
        complementary_within=ctx.t("group"),
        decimals=1,
    )
    release = Release([*decided_cells, *months_cells])
    found = audit(release, threshold=5)
    # regulated decisions (15, shown margin) minus regulated decided (13): the 2 withdrawn
    assert not found.passed
    assert any(f.high == 2 for f in found.findings)
    after, added, final = protect(
        release, threshold=5, open_for_change=lambda c: c.table == "months"
    )
    assert final.passed and all(c.table == "months" for c in added) and added
    regulated = next(c for c in after.cells if c.key == (ctx.t("regulated"), ctx.t("n")))
    assert regulated.table == "months" and regulated.value == 13 and not regulated.shown
