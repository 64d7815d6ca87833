"""Reader tables and charts for the civic-engagement notebook (Bürgerschaftliches Engagement).

The figures come from the indicator catalogue (:func:`evaluation.indicators.catalogue.compute`,
in the notebook through ``ctx.record_indicator``); this module turns them into reader tables
with their disclosure options, charts drawn from protected values only, and the texts that
stand beside the figures (definitions with each figure's level on the PHINEO Wirkungstreppe).

Disclosure control
------------------
* Volunteers recruited, trained and active by migration history, and the retention cohort,
  are counts of persons: small counts and the cells that would let them be recomputed from
  the totals are suppressed (``complementary_within`` the breakdown).
* Hours and assignments by assignment type are sums over persons. Each rests on the number of
  volunteers behind it: a hidden count column holds the volunteers per type, the hours and
  assignments are derived from it (``n=`` mapping of
  :func:`evaluation.disclosure.suppress_frame`). Types partition the hours, but not the
  volunteers (a person can work in several types), so the hidden column's total row is the
  sum over the types; it forms the equation that gives the hours secondary suppression, so a
  suppressed type's hours cannot be recomputed from the total.
* Events, trainings and their head counts are activities (``unit_kind: activities`` in the
  catalogue), not about persons: their tables are shown as they are
  (``ctx.published_table``), as the catalogue records them, and take no part in the release
  audit.

Units for the release audit
---------------------------
The tables of volunteers carry their *units*: the ``*_units`` functions return one row per
counted volunteer (``unit`` = ``"volunteer:<volunteer_id>"``, the volunteers' own pseudonym
space), the table's key labels and one boolean per count column, passed as
``ctx.indicator_table(frame, units=..., **options)``. They tie the counts of the people table,
the retention tables, the active volunteers per assignment type and the yearly table to the
same persons, so that the release audit sees differences between them (e.g. this year's row
of the yearly table against the people table). The hours table is left without units: its
hidden number of volunteers per type sums a person once per type in its total row, which no
set of persons can reproduce; its cells are linked by the table's own sums.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from evaluation import labels, plots
from evaluation.disclosure import DisclosedTable
from evaluation.indicators import catalogue
from evaluation.indicators.common import in_period
from evaluation.indicators.volunteers import RETENTION_MONTHS, VOLUNTEER_COLUMNS
from evaluation.plan import Period

Pair = tuple[str, str]
TableSource = Mapping[str, pd.DataFrame] | Callable[[str], pd.DataFrame]

#: Volunteer counts of the period, in the order of the reader table.
PEOPLE: tuple[str, ...] = ("vol_recruited", "vol_trained", "vol_active")
#: Prefix of the unit ids of volunteers in the release audit.
VOLUNTEER = "volunteer:"

#: Catalogue ids of each kind of event: (number of events, participants, partner organisations).
EVENTS: dict[str, tuple[str, str, str]] = {
    "mso_fortbildung": ("evt_mso_trainings", "evt_mso_participants", "evt_mso_partners"),
    "iko_training": ("evt_iko_trainings", "evt_iko_participants", "evt_iko_partners"),
    "kulturzentrum": (
        "evt_kulturzentrum_events",
        "evt_kulturzentrum_visitors",
        "evt_kulturzentrum_partners",
    ),
    "sozialraum": (
        "evt_sozialraum_events",
        "evt_sozialraum_participants",
        "evt_sozialraum_partners",
    ),
}
#: Figures per event kind, in the order of the ids in :data:`EVENTS`.
EVENT_MEASURES: tuple[str, ...] = ("events", "participants", "partners")
#: Event kinds whose figures this report records: all of them. The Sozialraum events belong
#: to the Handlungsfeld Sozialraumorientierte Arbeit, but no other report records them; should
#: the Sozialraum report start to, drop "sozialraum" here so that one plan writes each figure.
RECORDED_EVENT_KINDS: tuple[str, ...] = tuple(EVENTS)

#: Catalogued figures this report shows and records, in report order.
REPORTED: tuple[str, ...] = (
    *PEOPLE,
    "vol_retained",
    "vol_hours",
    *(i for kind in RECORDED_EVENT_KINDS for i in EVENTS[kind]),
)

#: The seven levels of the PHINEO Wirkungstreppe (the names of :data:`labels.WIRKUNGSTREPPE`).
STAIRCASE: dict[int, Pair] = dict(labels.WIRKUNGSTREPPE)

#: Groups of the breakdown by migration history (codes as in the catalogue's results).
MIGRATION: dict[str, Pair] = {
    "yes": ("mit Einwanderungsgeschichte", "with migration history"),
    "no": ("ohne Einwanderungsgeschichte", "without migration history"),
    "unknown": ("ohne Angabe", "not recorded"),
}
#: Groups of the breakdown of the retention cohort by the qualification course.
QUALIFIED: dict[str, Pair] = {
    "yes": ("bis zum Jahrestag abgeschlossen", "completed by the anniversary"),
    "no": ("nicht abgeschlossen", "not completed"),
}
BREAKDOWNS: dict[str, dict[str, Pair]] = {"migration_history": MIGRATION, "qualified": QUALIFIED}

#: Words of this notebook's tables and charts (German, English).
TERMS: dict[str, Pair] = {
    "migration_history": ("Einwanderungsgeschichte", "Migration history"),
    "qualified": ("Qualifizierungskurs", "Qualification course"),
    "vol_recruited": ("Neu gewonnen", "Recruited"),
    "vol_trained": ("Qualifizierungskurs abgeschlossen", "Completed qualification course"),
    "vol_active": ("Aktiv (mindestens ein Einsatz)", "Active (at least one assignment)"),
    "measure": ("Kennzahl", "Figure"),
    "volunteers": ("Ehrenamtliche", "Volunteers"),
    "cohort": ("Ehrenamtliche mit erstem Jahrestag", "Volunteers with first anniversary"),
    "retained": ("davon nach einem Jahr noch aktiv", "of whom still active after a year"),
    "retention": ("Bindungsquote", "Retention rate"),
    "assignment_type": ("Einsatzart", "Assignment type"),
    "active_by_type": ("Aktive Ehrenamtliche", "Active volunteers"),
    "all_types": (
        "Aktive Ehrenamtliche insgesamt (jede Person einmal)",
        "Active volunteers, each person once",
    ),
    "volunteers_by_type": ("Ehrenamtliche je Einsatzart", "Volunteers per type"),
    "assignments": ("Einsätze", "Assignments"),
    "hours": ("Stunden", "Hours"),
    "event_kind": ("Veranstaltungsart", "Kind of event"),
    "events": ("Veranstaltungen", "Events"),
    "participants": ("Teilnahmen bzw. Besuche (Kopfzahlen)", "Attendances (head counts)"),
    "participants_short": ("Teilnahmen/Besuche", "Attendances"),
    "partners": ("Beteiligungen von Partnerorganisationen", "Partner organisation involvements"),
    "up_to": ("{year} (bis {day})", "{year} (to {day})"),
}


def term(key: str, ctx: Any, **fields: Any) -> str:
    """A word of this notebook in the report's language, with ``{placeholders}`` filled."""
    pair = TERMS.get(key)
    text = ctx.t(key) if pair is None else pair[0 if ctx.language == "de" else 1]
    return text.format(**fields) if fields else text


def _text(pair: Pair, ctx: Any) -> str:
    return pair[0 if ctx.language == "de" else 1]


def _group_label(code: str, codes: Mapping[str, Pair], ctx: Any) -> str:
    if code == "total":
        return ctx.t("total")
    pair = codes.get(code)
    return str(code) if pair is None else _text(pair, ctx)


# ---- words beside the figures ------------------------------------------------------------------


def level_text(indicator_id: str, ctx: Any) -> str:
    """Where a catalogued figure stands: its Wirkungstreppe level and IOOI level, or input."""
    ind = catalogue.load_catalogue().get(indicator_id)
    de = ctx.language == "de"
    if ind.role == "context":
        return "Kontextangabe" if de else "context figure"
    if ind.level is None:
        return (
            "Input (Ressource), keine Stufe der Wirkungstreppe"
            if de
            else "input (resource), no level of the impact staircase"
        )
    iooi = ind.iooi.capitalize() if ind.iooi else ""
    name = _text(STAIRCASE[ind.level], ctx)
    if de:
        return f"Wirkungstreppe Stufe {ind.level} „{name}“, {iooi}"
    return f"impact staircase level {ind.level} ‘{name}’, {iooi.lower()}"


def definitions(ids: Iterable[str], ctx: Any, *, note: str = "") -> str:
    """Definition box text: label, Handlungsfeld, Wirkungstreppe level and definition per id."""
    cat = catalogue.load_catalogue()
    parts = []
    for indicator_id in ids:
        ind = cat.get(indicator_id)
        field = _text(catalogue.FIELDS[ind.field], ctx)
        where = f"{field}; {level_text(indicator_id, ctx)}"
        parts.append(f"**{ind.label[ctx.language]}** ({where}): {ind.definition[ctx.language]}")
    if note:
        parts.append(note)
    return "\n\n".join(parts)


def staircase_overview(ids: Iterable[str], ctx: Any) -> str:
    """Markdown list of the report's figures by Wirkungstreppe level (inputs last)."""
    cat = catalogue.load_catalogue()
    by_level: dict[int | None, list[str]] = {}
    for indicator_id in ids:
        ind = cat.get(indicator_id)
        label = ind.label[ctx.language]
        if ind.field != "Bürgerschaftliches Engagement":
            label += f" ({_text(catalogue.FIELDS[ind.field], ctx)})"
        by_level.setdefault(ind.level, []).append(label)
    de = ctx.language == "de"
    lines = []
    for level in sorted(k for k in by_level if k is not None):
        iooi = catalogue.iooi_of_level(level).capitalize()
        head = f"{'Stufe' if de else 'Level'} {level} – {_text(STAIRCASE[level], ctx)}"
        lines.append(f"- **{head}** ({iooi}): {'; '.join(by_level[level])}")
    if None in by_level:
        head = "Input (Ressourcen)" if de else "Input (resources)"
        lines.append(f"- **{head}**: {'; '.join(by_level[None])}")
    return "\n".join(lines)


# ---- volunteers: recruited, trained, active by migration history --------------------------------


def _by_group(result: pd.DataFrame, column: str = "value") -> pd.Series:
    """A catalogue result as a Series indexed by group code, ``"total"`` for the total row."""
    codes = result["group_value"].replace({catalogue.TOTAL: "total"})
    return pd.Series(result[column].to_numpy(), index=codes.to_numpy())


def _group_order(results: Iterable[pd.DataFrame], codes: Mapping[str, Pair]) -> list[str]:
    """Both main groups always, other codes (``unknown``) when present, then the total."""
    present = {g for r in results for g in _by_group(r).index if g != "total"}
    main = [c for c in codes if c != "unknown"]
    return labels.ordered(codes, {*main, *present}) + ["total"]


def people_table(
    results: Mapping[str, pd.DataFrame], ctx: Any
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Volunteers recruited, trained and active by migration history, and disclosure options.

    ``results`` maps each id of :data:`PEOPLE` to its catalogue result grouped by
    ``migration_history``. A group without anyone is shown as 0.
    """
    order = _group_order((results[i] for i in PEOPLE), MIGRATION)
    key = term("migration_history", ctx)
    columns = {term(i, ctx): _by_group(results[i]).reindex(order).fillna(0) for i in PEOPLE}
    out = pd.DataFrame(columns).astype("int64")
    out.insert(0, key, [_group_label(c, MIGRATION, ctx) for c in order])
    names = [term(i, ctx) for i in PEOPLE]
    options = {"n": names[0], "counts": names[1:], "complementary_within": key}
    return out.reset_index(drop=True), options


def _unit_frame(indicator_id: str, tables: TableSource, period: Period, **kw: Any) -> pd.DataFrame:
    entry = catalogue.load_catalogue().get(indicator_id)
    return catalogue.unit_frame(entry, tables, period=period, **kw)


def _volunteer_flags(tables: TableSource, period: Period, ctx: Any) -> pd.DataFrame:
    """Volunteers counted in any of :data:`PEOPLE` in ``period``: one row each, a flag per id."""
    frames = {i: _unit_frame(i, tables, period) for i in PEOPLE}
    people = pd.concat(
        [f[VOLUNTEER_COLUMNS] for f in frames.values()], ignore_index=True
    ).drop_duplicates("volunteer_id")
    for i, frame in frames.items():
        people[term(i, ctx)] = people["volunteer_id"].isin(frame["volunteer_id"])
    return people.reset_index(drop=True)


def people_units(tables: TableSource, period: Period, ctx: Any) -> pd.DataFrame:
    """Units of :func:`people_table`: one row per volunteer counted in it.

    ``unit`` (``"volunteer:<id>"``), the migration-history label as in the table, and per
    column (recruited, trained, active) whether the volunteer counts there.
    """
    people = _volunteer_flags(tables, period, ctx)
    codes = catalogue.group_codes(people["migration_history"])
    key = term("migration_history", ctx)
    out = pd.DataFrame(
        {
            "unit": VOLUNTEER + people["volunteer_id"].astype(str),
            key: [_group_label(c, MIGRATION, ctx) for c in codes],
        }
    )
    for i in PEOPLE:
        out[term(i, ctx)] = people[term(i, ctx)].to_numpy()
    return out


def people_chart(shown: DisclosedTable, ctx: Any) -> go.Figure:
    """Grouped bars of the volunteer counts by migration history (protected values only)."""
    key = term("migration_history", ctx)
    values = shown.values
    keep = values[key] != ctx.t("total")
    measures = [term(i, ctx) for i in PEOPLE]
    long = values[keep].melt(id_vars=[key], value_vars=measures, var_name="measure", value_name="n")
    hidden = shown.mask[keep].melt(value_vars=measures, value_name="hidden")["hidden"]
    long["hidden"] = hidden.to_numpy()
    return plots.bar(
        long,
        x="measure",
        y="n",
        color=key,
        suppressed="hidden",
        marker=shown.rule.marker,
        title=f"{term('volunteers', ctx)} {ctx.period.label} nach {key}"
        if ctx.language == "de"
        else f"{term('volunteers', ctx)} {ctx.period.label} by {key.lower()}",
        y_title=term("volunteers", ctx),
        language=ctx.language,
    )


# ---- retention after one year -------------------------------------------------------------------


def cohort_size(result: pd.DataFrame) -> int:
    """Volunteers in the retention cohort (the denominator of the total row)."""
    total = result.loc[result["group_var"] == catalogue.TOTAL, "denominator"]
    return int(total.fillna(0).iloc[0]) if len(total) else 0


def retention_table(
    result: pd.DataFrame, ctx: Any, *, by: str = "migration_history"
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Retention after one year by ``by`` (migration history or qualification course).

    ``result`` is the catalogue result of ``vol_retained`` grouped by ``by``. Returns the
    reader table (cohort, still active, share and 95 % Wilson interval) and its disclosure
    options: the cohort is the count, the still active the numerator of the share and its
    bounds; the bounds are hidden (they are drawn in the chart).
    """
    codes = BREAKDOWNS[by]
    order = _group_order([result], codes)
    key = term(by, ctx)
    cohort, retained, share = term("cohort", ctx), term("retained", ctx), term("retention", ctx)
    low, high = ctx.t("ci_low"), ctx.t("ci_high")
    out = pd.DataFrame(
        {
            cohort: _by_group(result, "denominator").reindex(order).fillna(0).astype("int64"),
            retained: _by_group(result, "numerator").reindex(order).fillna(0).astype("int64"),
            share: _by_group(result, "value").reindex(order).astype(float),
            low: _by_group(result, "ci_low").reindex(order).astype(float),
            high: _by_group(result, "ci_high").reindex(order).astype(float),
        }
    )
    out.insert(0, key, [_group_label(c, codes, ctx) for c in order])
    shares = [share, low, high]
    options = {
        "n": cohort,
        "numerators": dict.fromkeys(shares, retained),
        "percent": shares,
        "complementary_within": key,
        "hide": [low, high],
    }
    return out.reset_index(drop=True), options


def retention_units(
    tables: TableSource,
    period: Period,
    data_end: date,
    ctx: Any,
    *,
    by: str = "migration_history",
) -> pd.DataFrame:
    """Units of :func:`retention_table`: the volunteers of the retention cohort.

    ``unit``, the label of ``by`` as in the table, ``cohort`` (always true) and ``retained``
    (still active after a year), under the table's column names.
    """
    cohort = _unit_frame("vol_retained", tables, period, data_end=data_end)
    codes = catalogue.group_codes(cohort[by])
    return pd.DataFrame(
        {
            "unit": (VOLUNTEER + cohort["volunteer_id"].astype(str)).to_numpy(),
            term(by, ctx): [_group_label(c, BREAKDOWNS[by], ctx) for c in codes],
            term("cohort", ctx): cohort["denominator"].astype(bool).to_numpy(),
            term("retained", ctx): cohort["numerator"].astype(bool).to_numpy(),
        }
    )


def retention_chart(shown: DisclosedTable, ctx: Any, *, by: str = "migration_history") -> go.Figure:
    """Retention rate per group and in total with 95 % intervals (protected values only)."""
    key, share = term(by, ctx), term("retention", ctx)
    frame = shown.values.assign(hidden=shown.mask[share].to_numpy())
    return plots.bar(
        frame,
        x=key,
        y=share,
        error=(ctx.t("ci_low"), ctx.t("ci_high")),
        suppressed="hidden",
        marker=shown.rule.marker,
        percent=True,
        title=(
            f"Nach einem Jahr noch aktiv, erster Jahrestag {retention_window(ctx)}"
            if ctx.language == "de"
            else f"Still active after one year, first anniversary {retention_window(ctx)}"
        ),
        y_title=share,
        language=ctx.language,
    )


def retention_window(ctx: Any) -> str:
    """The days on which the first anniversaries of the retention cohort fall, as text.

    The twelve months up to the period's end (``vol_retained``), e.g. "1.1.2024 bis
    31.12.2024".
    """
    end = pd.Timestamp(ctx.period.end)
    first = (end - pd.DateOffset(months=RETENTION_MONTHS) + pd.Timedelta(days=1)).date()
    joint = " bis " if ctx.language == "de" else " to "
    return _day(first, ctx) + joint + _day(ctx.period.end, ctx)


def _wrap(label: str, width: int = 20) -> str:
    """A long category label broken into lines for a chart axis (words are not split)."""
    lines = textwrap.wrap(str(label), width, break_long_words=False)
    return "<br>".join(lines) or str(label)


def _table(tables: TableSource, name: str) -> pd.DataFrame:
    return tables[name] if isinstance(tables, Mapping) else tables(name)


def _day(day: date, ctx: Any) -> str:
    """A day as readers write it, by babel: ``1.10.2024`` / ``1 Oct 2024``."""
    from babel.dates import format_date

    if ctx.language == "de":
        return format_date(day, "d.M.yyyy", locale="de_DE")
    return format_date(day, "d MMM yyyy", locale="en_GB")


# ---- assignments and hours by type -------------------------------------------------------------


def active_by_type_table(result: pd.DataFrame, ctx: Any) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Active volunteers per assignment type and overall, and disclosure options.

    ``result`` is ``vol_active`` grouped by ``assignment_type``. A person counts under every
    type they worked in, so the types do not add up to the overall row: that row is labelled
    as such (not as a total) and the counts are protected one by one.
    """
    codes = labels.ASSIGNMENT_TYPES
    counts = _by_group(result)
    order = labels.ordered(codes, [*codes, *(c for c in counts.index if c != "total")])
    key, persons = term("assignment_type", ctx), term("active_by_type", ctx)
    values = counts.reindex([*order, "total"]).fillna(0).astype("int64")
    out = pd.DataFrame(
        {
            key: [*(_group_label(c, codes, ctx) for c in order), term("all_types", ctx)],
            persons: values.to_numpy(),
        }
    )
    return out, {"n": persons}


def active_by_type_units(tables: TableSource, period: Period, ctx: Any) -> pd.DataFrame:
    """Units of :func:`active_by_type_table`: a volunteer once per type worked in, and once
    under the overall row (which is labelled, not a total)."""
    active = _unit_frame("vol_active", tables, period)
    key, persons = term("assignment_type", ctx), term("active_by_type", ctx)
    codes = labels.ASSIGNMENT_TYPES
    per_type = active[["volunteer_id", "assignment_type"]].drop_duplicates()
    type_codes = catalogue.group_codes(per_type["assignment_type"])
    overall = active["volunteer_id"].drop_duplicates()
    return pd.DataFrame(
        {
            "unit": [
                *(VOLUNTEER + per_type["volunteer_id"].astype(str)),
                *(VOLUNTEER + overall.astype(str)),
            ],
            key: [
                *(_group_label(c, codes, ctx) for c in type_codes),
                *[term("all_types", ctx)] * len(overall),
            ],
            persons: True,
        }
    )


def assignments_in_period(assignments: pd.DataFrame, period: Period) -> pd.Series:
    """Number of assignments dated in the period, per assignment type code."""
    dated = assignments[in_period(assignments["assignment_date"], period.start, period.end)]
    return dated.groupby("assignment_type").size()


def hours_table(
    hours: pd.DataFrame, assignments: pd.Series, ctx: Any
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Assignments and hours per assignment type with the total, and disclosure options.

    ``hours`` is ``vol_hours`` grouped by ``assignment_type`` (value: hours, n: volunteers);
    ``assignments`` the number of assignments per type (:func:`assignments_in_period`).
    Hours and assignments are derived from the hidden number of volunteers per type, whose
    total row is the sum over the types, so that suppressing one type's hours suppresses
    another one too (see the module docstring).
    """
    codes = labels.ASSIGNMENT_TYPES
    n = _by_group(hours, "n").drop("total", errors="ignore")
    order = labels.ordered(codes, [*codes, *n.index])
    key = term("assignment_type", ctx)
    guard, count, sums = (
        term("volunteers_by_type", ctx),
        term("assignments", ctx),
        term("hours", ctx),
    )
    out = pd.DataFrame(
        {
            guard: n.reindex(order).fillna(0).astype("int64"),
            count: assignments.reindex(order).fillna(0).astype(float),
            sums: _by_group(hours).drop("total", errors="ignore").reindex(order).fillna(0.0),
        }
    )
    out.loc["total"] = out.sum()
    out[guard] = out[guard].astype("int64")
    out.insert(0, key, [_group_label(c, codes, ctx) for c in out.index])
    options = {
        "n": {count: guard, sums: guard},
        "complementary_within": key,
        "decimals": 0,
        "hide": [guard],
    }
    return out.reset_index(drop=True), options


def hours_chart(shown: DisclosedTable, ctx: Any) -> go.Figure:
    """Bars of the hours per assignment type (protected values only, total left out)."""
    key, sums = term("assignment_type", ctx), term("hours", ctx)
    values = shown.values
    keep = values[key] != ctx.t("total")
    frame = values[keep].assign(hidden=shown.mask.loc[keep, sums].to_numpy())
    frame[key] = frame[key].map(_wrap)
    fig = plots.bar(
        frame,
        x=key,
        y=sums,
        suppressed="hidden",
        marker=shown.rule.marker,
        title=(
            f"Ehrenamtliche Stunden {ctx.period.label} nach Einsatzart"
            if ctx.language == "de"
            else f"Volunteer hours {ctx.period.label} by assignment type"
        ),
        y_title=sums,
        language=ctx.language,
    )
    return fig.update_yaxes(separatethousands=True)


# ---- volunteers over the years -----------------------------------------------------------------


def yearly_counts(
    tables: TableSource, until: date, *, first_year: int | None = None
) -> pd.DataFrame:
    """Volunteers recruited, trained and active per calendar year up to ``until``.

    Computed from the data with the catalogue's definitions (not read from the results
    history), from ``first_year`` (default: the year of the first recruitment) to the year of
    ``until``; that last year ends at ``until``. Index: the years; columns: the ids of
    :data:`PEOPLE`; attribute ``partial``: whether the last year is cut short.
    """
    if first_year is None:
        first = _table(tables, "volunteers")["recruited_date"].min()
        first_year = until.year if pd.isna(first) else int(first.year)
    rows = {
        year: {
            i: int(catalogue.compute(i, tables, period=_year(year, until))["value"].iloc[-1])
            for i in PEOPLE
        }
        for year in _years(first_year, until)
    }
    out = pd.DataFrame.from_dict(rows, orient="index", columns=list(PEOPLE))
    out.index.name = "year"
    out.attrs.update(partial=until != date(until.year, 12, 31), until=until)
    return out


def _years(first_year: int, until: date) -> range:
    return range(first_year, until.year + 1)


def _year(year: int, until: date) -> Period:
    """Calendar year ``year``, cut at ``until``."""
    return Period(date(year, 1, 1), min(date(year, 12, 31), until), str(year))


def _year_labels(frame: pd.DataFrame, ctx: Any) -> list[str]:
    """Years as text; a last year cut short reads e.g. "2025 (bis 30.6.2025)"."""
    years = [str(y) for y in frame.index]
    if frame.attrs.get("partial") and years:
        years[-1] = term("up_to", ctx, year=years[-1], day=_day(frame.attrs["until"], ctx))
    return years


def yearly_table(counts: pd.DataFrame, ctx: Any) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Reader table of :func:`yearly_counts` (years as text), and disclosure options."""
    out = counts.rename(columns={i: term(i, ctx) for i in PEOPLE}).reset_index(drop=True)
    out.insert(0, ctx.t("year"), _year_labels(counts, ctx))
    names = [term(i, ctx) for i in PEOPLE]
    return out, {"n": names[0], "counts": names[1:]}


def yearly_units(counts: pd.DataFrame, tables: TableSource, ctx: Any) -> pd.DataFrame:
    """Units of :func:`yearly_table`: per year of ``counts`` (:func:`yearly_counts`) the
    volunteers counted in it, with the year's label as in the table."""
    until = counts.attrs.get("until")
    year_col = ctx.t("year")
    parts = []
    for year, label in zip(counts.index, _year_labels(counts, ctx), strict=True):
        end = until if until is not None else date(int(year), 12, 31)
        people = _volunteer_flags(tables, _year(int(year), end), ctx)
        frame = pd.DataFrame(
            {"unit": (VOLUNTEER + people["volunteer_id"].astype(str)).to_numpy(), year_col: label}
        )
        for i in PEOPLE:
            frame[term(i, ctx)] = people[term(i, ctx)].to_numpy()
        parts.append(frame)
    columns = ["unit", year_col, *(term(i, ctx) for i in PEOPLE)]
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def yearly_chart(shown: DisclosedTable, ctx: Any) -> go.Figure:
    """Lines of volunteers recruited, trained and active per year (protected values only)."""
    year, measure = ctx.t("year"), term("measure", ctx)
    names = [term(i, ctx) for i in PEOPLE]
    long = shown.values.melt(id_vars=[year], value_vars=names, var_name=measure, value_name="n")
    long["hidden"] = shown.mask.melt(value_vars=names, value_name="h")["h"].to_numpy()
    years = shown.values[year]
    span = f"{years.iloc[0]}–{years.iloc[-1]}" if len(years) > 1 else str(years.iloc[0])
    fig = plots.line(
        long,
        x=year,
        y="n",
        color=measure,
        suppressed="hidden",
        title=f"{term('volunteers', ctx)} {span}",
        x_title=year,
        y_title=term("volunteers", ctx),
        language=ctx.language,
    )
    return fig.update_yaxes(rangemode="tozero", separatethousands=True)


# ---- events --------------------------------------------------------------------------------------


def _event_figures(tables: TableSource, kind: str, period: Period) -> dict[str, int]:
    ids = EVENTS[kind]
    values = [int(catalogue.compute(i, tables, period=period)["value"].iloc[-1]) for i in ids]
    return dict(zip(EVENT_MEASURES, values, strict=True))


def event_figures(tables: TableSource, period: Period) -> pd.DataFrame:
    """Events, attendances and partner organisations per kind (catalogue definitions).

    Index: the event kinds of :data:`EVENTS`; columns :data:`EVENT_MEASURES`.
    """
    rows = {kind: _event_figures(tables, kind, period) for kind in EVENTS}
    out = pd.DataFrame.from_dict(rows, orient="index", columns=list(EVENT_MEASURES))
    out.index.name = "event_kind"
    return out


def event_years(
    tables: TableSource, kind: str, until: date, *, first_year: int | None = None
) -> pd.DataFrame:
    """Events, attendances and partner organisations of one kind per calendar year.

    From ``first_year`` (default: the year of the first event of any kind) to the year of
    ``until``, the last year ending at ``until``; computed from the data like
    :func:`yearly_counts`.
    """
    if first_year is None:
        first = _table(tables, "events")["event_date"].min()
        first_year = until.year if pd.isna(first) else int(first.year)
    rows = {
        year: _event_figures(tables, kind, _year(year, until)) for year in _years(first_year, until)
    }
    out = pd.DataFrame.from_dict(rows, orient="index", columns=list(EVENT_MEASURES))
    out.index.name = "year"
    out.attrs.update(partial=until != date(until.year, 12, 31), until=until)
    return out


def events_table(figures: pd.DataFrame, ctx: Any) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Events per kind (:func:`event_figures`) for readers, and display options.

    Events, trainings and head counts are activities (catalogue ``unit_kind: activities``),
    not about persons: shown as they are with ``ctx.published_table(frame, **options)``, as
    the results history records them.
    """
    names = [term(k, ctx) for k in EVENT_MEASURES]
    out = figures[list(EVENT_MEASURES)].set_axis(names, axis=1)
    out.insert(
        0,
        term("event_kind", ctx),
        [labels.label(k, labels.EVENT_KINDS, ctx.language) for k in figures.index],
    )
    return out.reset_index(drop=True), {"decimals": 0}


def event_years_table(years: pd.DataFrame, ctx: Any) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Events of one kind per year (:func:`event_years`) for readers, and display options.

    Activities: shown as they are with ``ctx.published_table(frame, **options)``.
    """
    names = [term(k, ctx) for k in EVENT_MEASURES]
    out = years[list(EVENT_MEASURES)].set_axis(names, axis=1).reset_index(drop=True)
    out.insert(0, ctx.t("year"), _year_labels(years, ctx))
    return out, {"decimals": 0}


def event_years_chart(frame: pd.DataFrame | DisclosedTable, ctx: Any, *, kind: str) -> go.Figure:
    """Bars of the attendances per year for one kind of event (head counts).

    ``frame``: the reader table of :func:`event_years_table` (activities, shown as they are).
    """
    year, participants = ctx.t("year"), term("participants", ctx)
    name = labels.label(kind, labels.EVENT_KINDS, ctx.language)
    values = frame.values if isinstance(frame, DisclosedTable) else frame
    fig = plots.bar(
        values,
        x=year,
        y=participants,
        title=(
            f"Teilnahmen bzw. Besuche je Jahr (Kopfzahlen): {name}"
            if ctx.language == "de"
            else f"Attendances per year (head counts): {name}"
        ),
        x_title=year,
        y_title=term("participants_short", ctx),
        language=ctx.language,
    )
    return fig.update_yaxes(separatethousands=True)


def events_definition(ctx: Any) -> str:
    """Definition box for the events table: levels per kind and what the head counts mean."""
    cat = catalogue.load_catalogue()
    de = ctx.language == "de"
    parts = []
    for kind, (events, participants, _) in EVENTS.items():
        name = labels.label(kind, labels.EVENT_KINDS, ctx.language)
        field = _text(catalogue.FIELDS[cat.get(events).field], ctx)
        count, reach = level_text(events, ctx), level_text(participants, ctx)
        if de:
            parts.append(
                f"- **{name}** (Handlungsfeld {field}): Zahl der Veranstaltungen – {count}; "
                f"Teilnahmen und beteiligte Organisationen – {reach}."
            )
        else:
            parts.append(
                f"- **{name}** ({field}): number of events – {count}; attendances and "
                f"organisations involved – {reach}."
            )
    if de:
        head = (
            "Gezählt werden Veranstaltungen mit Datum im Berichtszeitraum. **Teilnahmen und "
            "Besuche sind Kopfzahlen je Veranstaltung**, keine verschiedenen Personen: Wer zu "
            "zwei Veranstaltungen kommt, zählt zweimal. Ebenso zählt eine Partnerorganisation "
            "bei jeder Veranstaltung, an der sie beteiligt ist, erneut. Die Zahlen betreffen "
            "keine einzelnen Personen und werden daher auch bei kleinen Werten ausgewiesen."
        )
    else:
        head = (
            "Events dated in the period. **Attendances are head counts per event**, not "
            "distinct persons: someone coming to two events counts twice; likewise a partner "
            "organisation counts again at every event it is involved in. The figures are not "
            "about individual persons and are shown even when small."
        )
    return head + "\n\n" + "\n".join(parts)
