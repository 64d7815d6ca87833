"""Civic-engagement views: reader tables, disclosure options and charts on hand-made tables
with known answers and on the demo data."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from evaluation import demo, labels
from evaluation.disclosure import suppress_frame
from evaluation.indicators import catalogue as cat
from evaluation.notebook import Context
from evaluation.plan import Period
from evaluation.protection import published
from evaluation.protection.model import Release
from evaluation.protection.release import Publisher, frame_cells
from evaluation.protection.solver import audit
from evaluation.views import volunteers as views

YEAR = Period(date(2024, 1, 1), date(2024, 12, 31), "2024")


from tests.conftest import make_context  # noqa: E402

context = make_context


def protect(frame: pd.DataFrame, options: dict, ctx: Context):
    """What ``ctx.indicator_table`` does, without displaying."""
    options = {k: v for k, v in options.items() if k != "hide"}
    return suppress_frame(
        frame,
        rule=ctx.rule,
        total_label=ctx.t("total"),
        caption="test",
        language=ctx.language,
        **options,
    )


def compute(tables, ident, group_by=None, period=YEAR, data_end=None):
    return cat.compute(ident, tables, period=period, group_by=group_by, data_end=data_end)


def rows(table, key):
    """Published values of a protected table, one dict per row label of column ``key``."""
    return table.values.set_index(key).to_dict("index")


# ---- hand-made tables --------------------------------------------------------------------------


def ts(s: str) -> pd.Timestamp:
    return pd.Timestamp(s)


@pytest.fixture
def tables():
    """Eight volunteers; the 2024 retention window covers recruitment in 2023.

    Recruited in 2024: V1 (with migration history), V7, V8 (without). Trained in 2024: V1, V4.
    Active in 2024: V1, V2, V3, V4, V6, V7. Retention cohort (recruited in 2023): V2 and V6
    retained, V3 left, V4 without recent assignment.
    """
    vols = pd.DataFrame(
        {
            "volunteer_id": ["V1", "V2", "V3", "V4", "V5", "V6", "V7", "V8"],
            "migration_history": [True, False, True, True, False, False, False, False],
            "recruited_date": [
                ts("2024-03-01"),
                ts("2023-02-01"),
                ts("2023-06-01"),
                ts("2023-09-01"),
                ts("2022-06-01"),
                ts("2023-12-31"),
                ts("2024-05-01"),
                ts("2024-11-01"),
            ],
            "qualification_date": [
                ts("2024-04-15"),
                ts("2023-03-01"),
                pd.NaT,
                ts("2024-12-01"),
                pd.NaT,
                pd.NaT,
                pd.NaT,
                pd.NaT,
            ],
            "left_date": [pd.NaT, pd.NaT, ts("2024-03-01"), pd.NaT, pd.NaT, pd.NaT, pd.NaT, pd.NaT],
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
            ("V7", "2024-07-01", "dolmetschen", 1.25),
            ("V7", "2024-07-08", "dolmetschen", 1.25),
        ],
        columns=["volunteer_id", "assignment_date", "assignment_type", "hours"],
    ).assign(assignment_date=lambda f: pd.to_datetime(f["assignment_date"]))
    events = pd.DataFrame(
        {
            "event_id": ["E1", "E2", "E3", "E4", "E5", "E6"],
            "event_date": [
                ts("2024-02-01"),
                ts("2024-09-01"),
                ts("2023-12-31"),
                ts("2024-05-05"),
                ts("2024-06-06"),
                ts("2023-03-03"),
            ],
            "event_kind": [
                "mso_fortbildung",
                "mso_fortbildung",
                "mso_fortbildung",
                "kulturzentrum",
                "iko_training",
                "kulturzentrum",
            ],
            "location": ["Ehrenfeld"] * 3 + ["Chorweiler", "Ehrenfeld", "Chorweiler"],
            "participants": [10, 14, 99, 60, 3, 45],
            "partner_organisations": [1, 3, 5, 2, 1, 0],
        }
    )
    return {"volunteers": vols, "volunteer_assignments": assignments, "events": events}


def test_people_table_counts_by_migration_history(tables):
    ctx = context(threshold=1)
    results = {i: compute(tables, i, "migration_history") for i in views.PEOPLE}
    frame, options = views.people_table(results, ctx)
    key = "Einwanderungsgeschichte"
    assert frame[key].tolist() == [
        "mit Einwanderungsgeschichte",
        "ohne Einwanderungsgeschichte",
        "Gesamt",
    ]
    shown = rows(protect(frame, options, ctx), key)
    assert shown["mit Einwanderungsgeschichte"] == {
        "Neu gewonnen": 1,
        "Qualifizierungskurs abgeschlossen": 2,
        "Aktiv (mindestens ein Einsatz)": 3,
    }
    assert shown["ohne Einwanderungsgeschichte"]["Neu gewonnen"] == 2  # V7, V8
    assert shown["ohne Einwanderungsgeschichte"]["Qualifizierungskurs abgeschlossen"] == 0
    assert shown["Gesamt"] == {
        "Neu gewonnen": 3,
        "Qualifizierungskurs abgeschlossen": 2,
        "Aktiv (mindestens ein Einsatz)": 6,
    }


def test_people_table_shows_an_empty_group_as_zero(tables):
    only_migrants = {
        **tables,
        "volunteers": tables["volunteers"].assign(migration_history=True),
    }
    results = {i: compute(only_migrants, i, "migration_history") for i in views.PEOPLE}
    frame, _ = views.people_table(results, context())
    assert frame.iloc[1].tolist() == ["ohne Einwanderungsgeschichte", 0, 0, 0]


def test_people_table_suppresses_small_counts_and_their_complements(tables):
    ctx = context(threshold=5)
    results = {i: compute(tables, i, "migration_history") for i in views.PEOPLE}
    frame, options = views.people_table(results, ctx)
    table = protect(frame, options, ctx)
    # no count from 1 to 4 is shown, and the groups of "Aktiv" (3 and 3) are hidden while
    # their total 6 is shown
    shown = table.values.drop(columns="Einwanderungsgeschichte").stack().dropna()
    assert ((shown == 0) | (shown >= 5)).all()
    assert table.values["Aktiv (mindestens ein Einsatz)"].tolist()[2] == 6
    fig = views.people_chart(table, ctx)
    assert [t.name for t in fig.data] == [
        "mit Einwanderungsgeschichte",
        "ohne Einwanderungsgeschichte",
    ]
    assert "*" in fig.data[0].text


def test_people_table_in_english(tables):
    ctx = context(language="en", threshold=1)
    results = {i: compute(tables, i, "migration_history") for i in views.PEOPLE}
    frame, options = views.people_table(results, ctx)
    assert frame["Migration history"].tolist() == [
        "with migration history",
        "without migration history",
        "Total",
    ]
    protect(frame, options, ctx)


def test_retention_table_by_migration_history(tables):
    ctx = context(threshold=1)
    result = compute(tables, "vol_retained", "migration_history", data_end=date(2025, 12, 31))
    assert views.cohort_size(result) == 4
    frame, options = views.retention_table(result, ctx)
    table = protect(frame, options, ctx)
    shown = rows(table, "Einwanderungsgeschichte")
    # with: V3 (left), V4 (no recent assignment); without: V2, V6 retained
    assert shown["mit Einwanderungsgeschichte"]["Ehrenamtliche mit erstem Jahrestag"] == 2
    assert shown["mit Einwanderungsgeschichte"]["davon nach einem Jahr noch aktiv"] == 0
    assert shown["ohne Einwanderungsgeschichte"]["Bindungsquote"] == 1.0
    assert shown["Gesamt"]["Bindungsquote"] == 0.5
    assert options["hide"] == ["95-%-KI unten", "95-%-KI oben"]
    assert "0,0\u00a0%" in table.to_html() and "50,0\u00a0%" in table.to_html()
    fig = views.retention_chart(table, ctx)
    assert list(fig.data[0].x) == [
        "mit Einwanderungsgeschichte",
        "ohne Einwanderungsgeschichte",
        "Gesamt",
    ]
    assert fig.layout.title.text.endswith("erster Jahrestag 1.1.2024 bis 31.12.2024")


def test_retention_table_hides_small_cohorts(tables):
    ctx = context(threshold=5)
    result = compute(tables, "vol_retained", "qualified", data_end=date(2025, 12, 31))
    frame, options = views.retention_table(result, ctx, by="qualified")
    assert frame["Qualifizierungskurs"].tolist() == [
        "bis zum Jahrestag abgeschlossen",
        "nicht abgeschlossen",
        "Gesamt",
    ]
    table = protect(frame, options, ctx)
    assert table.values["Bindungsquote"].isna().all()
    assert table.values["Ehrenamtliche mit erstem Jahrestag"].isna().all()


def test_retention_without_a_cohort(tables):
    early = Period(date(2023, 1, 1), date(2023, 12, 31), "2023")
    result = compute(tables, "vol_retained", "migration_history", period=early)
    assert views.cohort_size(result) == 1  # only V5, recruited in 2022
    empty = Period(date(2022, 1, 1), date(2022, 12, 31), "2022")
    assert views.cohort_size(compute(tables, "vol_retained", period=empty)) == 0


def test_retention_window_of_a_quarter():
    ctx = context(start=date(2025, 1, 1), end=date(2025, 3, 31))
    assert views.retention_window(ctx) == "1.4.2024 bis 31.3.2025"


def test_active_by_type_counts_persons_once_in_the_last_row(tables):
    ctx = context(threshold=1)
    frame, options = views.active_by_type_table(
        compute(tables, "vol_active", "assignment_type"), ctx
    )
    table = protect(frame, options, ctx)
    shown = table.values.set_index("Einsatzart")["Aktive Ehrenamtliche"].to_dict()
    assert shown["Dolmetschen bei Amts- und Behördengängen"] == 4  # V1, V3, V4, V7
    assert shown["Kursleitung"] == 2  # V1, V6
    assert shown["Begleitung zu Arztterminen"] == 0  # no one: shown as 0
    assert shown["Aktive Ehrenamtliche insgesamt (jede Person einmal)"] == 6
    assert len(shown) == len(labels.ASSIGNMENT_TYPES) + 1


def test_hours_table_sums_hours_and_assignments_by_type(tables):
    ctx = context(threshold=1)
    hours = compute(tables, "vol_hours", "assignment_type")
    assignments = views.assignments_in_period(tables["volunteer_assignments"], YEAR)
    frame, options = views.hours_table(hours, assignments, ctx)
    table = protect(frame, options, ctx)
    shown = table.values.set_index("Einsatzart")
    assert shown.loc["Dolmetschen bei Amts- und Behördengängen", "Stunden"] == 2 + 3 + 2 + 2.5
    assert shown.loc["Dolmetschen bei Amts- und Behördengängen", "Einsätze"] == 5
    assert shown.loc["Kursleitung", "Stunden"] == 6.0  # the 2025 assignment is outside
    assert shown.loc["Gesamt", "Stunden"] == 2 + 3 + 1.5 + 2 + 2 + 4 + 2.5
    assert shown.loc["Gesamt", "Einsätze"] == 8
    # the hidden column: volunteers per type, its total the sum over the types
    guard = "Ehrenamtliche je Einsatzart"
    assert shown.loc["Gesamt", guard] == shown[guard].drop("Gesamt").sum() == 7
    assert options["hide"] == [guard]


def test_hours_of_a_type_with_few_volunteers_cannot_be_recomputed(tables):
    """One type with few volunteers: its hours and one more type's are hidden, not the total."""
    ids = range(30)
    second = ["veranstaltungen" if i < 6 else "arztbegleitung" for i in ids]
    extra = pd.DataFrame(
        {
            "volunteer_id": [f"X{i}" for i in ids for _ in range(2)],
            "assignment_date": ts("2024-03-03"),
            "assignment_type": [t for i in ids for t in ("familienbegleitung", second[i])],
            "hours": 2.0,
        }
    )
    a = pd.concat([tables["volunteer_assignments"], extra], ignore_index=True)
    vols = pd.concat(
        [
            tables["volunteers"],
            pd.DataFrame(
                {
                    "volunteer_id": [f"X{i}" for i in ids],
                    "migration_history": False,
                    "recruited_date": ts("2023-01-01"),
                    "qualification_date": pd.NaT,
                    "left_date": pd.NaT,
                }
            ),
        ],
        ignore_index=True,
    )
    small = {"volunteers": vols, "volunteer_assignments": a}
    # Kursleitung: 2 volunteers, Familienbegleitung: 31, Dolmetschen: 4, Veranstaltungen: 6,
    # Arztbegleitung: 24 -> Kursleitung and Dolmetschen are below 5
    ctx = context(threshold=5)
    hours = compute(small, "vol_hours", "assignment_type")
    frame, options = views.hours_table(hours, views.assignments_in_period(a, YEAR), ctx)
    table = protect(frame, options, ctx)
    hidden = table.mask.set_index(table.values["Einsatzart"])["Stunden"]
    assert hidden["Kursleitung"] and hidden["Dolmetschen bei Amts- und Behördengängen"]
    assert not hidden["Gesamt"]
    # the hidden hours add up to a sum over at least 5 volunteers
    counts = frame.set_index("Einsatzart")["Ehrenamtliche je Einsatzart"]
    assert counts[hidden[hidden].index].sum() >= 5
    assert table.mask.set_index(table.values["Einsatzart"])["Einsätze"].equals(hidden)
    fig = views.hours_chart(table, ctx)
    assert fig.data[0].text.count("*") == hidden.drop("Gesamt").sum()
    assert "<br>" in fig.data[0].x[2]  # long labels are wrapped


def test_hours_hidden_one_type_forces_a_second(tables):
    """One type below the threshold: the smallest other type's hours are hidden with it."""
    ctx = context(threshold=2)
    hours = compute(tables, "vol_hours", "assignment_type")
    # volunteers per type: Familienbegleitung 1 (V2), Kursleitung 2, Dolmetschen 4, others 0
    frame, options = views.hours_table(
        hours, views.assignments_in_period(tables["volunteer_assignments"], YEAR), ctx
    )
    table = protect(frame, options, ctx)
    hidden = table.mask.set_index(table.values["Einsatzart"])["Stunden"]
    assert hidden[hidden].index.tolist() == ["Begleitung von Flüchtlingsfamilien", "Kursleitung"]
    assert table.values["Stunden"].iloc[-1] == 17.0  # the total stays


def test_yearly_counts_per_calendar_year(tables):
    counts = views.yearly_counts(tables, date(2024, 12, 31))
    assert counts.index.tolist() == [2022, 2023, 2024]
    assert counts.loc[2023].tolist() == [4, 1, 2]  # recruited V2, V3, V4, V6; trained V2
    assert counts.loc[2024].tolist() == [3, 2, 6]
    ctx = context(threshold=1)
    frame, options = views.yearly_table(counts, ctx)
    assert frame["Jahr"].tolist() == ["2022", "2023", "2024"]
    table = protect(frame, options, ctx)
    fig = views.yearly_chart(table, ctx)
    assert len(fig.data) == 3 and fig.layout.title.text == "Ehrenamtliche 2022–2024"
    assert fig.layout.yaxis.rangemode == "tozero"


def test_yearly_counts_cut_at_a_period_end_inside_the_year(tables):
    counts = views.yearly_counts(tables, date(2024, 6, 30), first_year=2024)
    assert counts.loc[2024].tolist() == [2, 1, 4]  # V8, V4's course, V6's and V7's work later
    frame, _ = views.yearly_table(counts, context())
    assert frame["Jahr"].tolist() == ["2024 (bis 30.6.2024)"]


def test_events_per_kind_are_not_suppressed(tables):
    figures = views.event_figures(tables, YEAR)
    assert figures.loc["mso_fortbildung"].tolist() == [2, 24, 4]
    assert figures.loc["kulturzentrum"].tolist() == [1, 60, 2]
    assert figures.loc["iko_training"].tolist() == [1, 3, 1]
    assert figures.loc["sozialraum"].tolist() == [0, 0, 0]
    ctx = context(threshold=5)
    frame, options = views.events_table(figures, ctx)
    # activities: published as they are, outside the person counts of the release audit
    assert "n" not in options and "counts" not in options
    table = published(frame, rule=ctx.rule, caption="t", language="de", **options)
    assert table.n_suppressed == 0  # small event counts are shown: not about persons
    assert table.values["Veranstaltungsart"].tolist()[0] == (
        "Fortbildung für Migrantenselbstorganisationen"
    )
    html = table.to_html()
    assert ">1<" in html and ">3<" in html  # one IKO training with three attendances


def test_event_years_of_the_cultural_centre(tables):
    years = views.event_years(tables, "kulturzentrum", date(2024, 12, 31))
    assert years.index.tolist() == [2023, 2024]
    assert years.loc[2023].tolist() == [1, 45, 0] and years.loc[2024].tolist() == [1, 60, 2]
    ctx = context()
    frame, options = views.event_years_table(years, ctx)
    table = published(frame, rule=ctx.rule, caption="t", language="de", **options)
    assert table.n_suppressed == 0
    assert table.values["Veranstaltungen"].tolist() == [1, 1]  # one event a year: shown
    fig = views.event_years_chart(frame, ctx, kind="kulturzentrum")
    assert list(fig.data[0].y) == [45, 60]


# ---- words beside the figures ------------------------------------------------------------------


def test_definitions_name_field_and_wirkungstreppe_level():
    ctx = context()
    text = views.definitions(["vol_recruited", "vol_hours"], ctx)
    assert (
        "**Neu gewonnene Ehrenamtliche** (Bürgerschaftliches Engagement; Wirkungstreppe Stufe 2"
        in text
    )
    assert "Input (Ressource), keine Stufe der Wirkungstreppe" in text
    assert cat.load_catalogue().get("vol_hours").definition["de"] in text


def test_staircase_overview_orders_levels_and_marks_other_fields():
    text = views.staircase_overview(views.REPORTED, context())
    lines = text.splitlines()
    assert lines[0].startswith("- **Stufe 1 – Aktivitäten finden wie geplant statt** (Output)")
    assert lines[-1] == "- **Input (Ressourcen)**: Geleistete ehrenamtliche Stunden"
    assert "Interkulturelle Trainings für Organisationen (Interkulturelle Öffnung)" in text
    assert "Qualifizierte Ehrenamtliche" in next(line for line in lines if "Stufe 4" in line)
    english = views.staircase_overview(views.REPORTED, context(language="en"))
    assert "Level 5 – Target groups change their behaviour" in english


def test_events_definition_says_head_counts():
    text = views.events_definition(context())
    assert "Kopfzahlen je Veranstaltung" in text and "keine verschiedenen Personen" in text
    assert "Handlungsfeld Interkulturelle Öffnung" in text


def test_reported_ids_are_catalogued():
    catalogue = cat.load_catalogue()
    assert all(i in catalogue for i in views.REPORTED)
    assert {i for ids in views.EVENTS.values() for i in ids} <= set(catalogue.ids)


# ---- demo data ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_tables():
    return demo.generate()


def test_demo_2024_tables_agree_with_the_catalogue_and_the_data(demo_tables):
    t = demo_tables
    ctx = context()
    results = {i: compute(t, i, "migration_history") for i in views.PEOPLE}
    frame, options = views.people_table(results, ctx)
    people = protect(frame, options, ctx).values.set_index("Einwanderungsgeschichte")
    recruited = t["volunteers"]["recruited_date"].dt.year == 2024
    assert people.loc["Gesamt", "Neu gewonnen"] == recruited.sum()
    assert (
        people.loc["mit Einwanderungsgeschichte", "Neu gewonnen"]
        == (recruited & t["volunteers"]["migration_history"]).sum()
    )
    a = t["volunteer_assignments"]
    a24 = a[a["assignment_date"].dt.year == 2024]
    assert people.loc["Gesamt", "Aktiv (mindestens ein Einsatz)"] == a24["volunteer_id"].nunique()

    hours = compute(t, "vol_hours", "assignment_type")
    frame, options = views.hours_table(hours, views.assignments_in_period(a, YEAR), ctx)
    table = protect(frame, options, ctx)
    shown = table.values.set_index("Einsatzart")
    assert table.n_suppressed == 0
    assert shown.loc["Gesamt", "Stunden"] == pytest.approx(a24["hours"].sum())
    assert shown.loc["Gesamt", "Einsätze"] == len(a24)
    by_type = a24.groupby("assignment_type")["hours"].sum()
    assert shown.loc["Begleitung von Flüchtlingsfamilien", "Stunden"] == pytest.approx(
        by_type["familienbegleitung"]
    )

    yearly = views.yearly_counts(t, YEAR.end)
    assert yearly.index[0] == 2019 and yearly.index[-1] == 2024
    assert yearly.loc[2024, "vol_recruited"] == people.loc["Gesamt", "Neu gewonnen"]
    assert yearly.loc[2024, "vol_active"] == people.loc["Gesamt", "Aktiv (mindestens ein Einsatz)"]

    events = views.event_figures(t, YEAR)
    e24 = t["events"][t["events"]["event_date"].dt.year == 2024]
    centre = e24[e24["event_kind"] == "kulturzentrum"]
    assert events.loc["kulturzentrum"].tolist() == [
        len(centre),
        centre["participants"].sum(),
        centre["partner_organisations"].sum(),
    ]
    assert events["events"].sum() == len(e24)


def test_demo_2024_retention_is_protected_and_drawn(demo_tables):
    ctx = context()
    result = compute(demo_tables, "vol_retained", "migration_history", data_end=demo.as_of())
    assert views.cohort_size(result) > 0
    frame, options = views.retention_table(result, ctx)
    table = protect(frame, options, ctx)
    total = table.values.set_index("Einwanderungsgeschichte").loc["Gesamt"]
    expected = result[result["group_var"] == ""].iloc[0]
    assert total["Bindungsquote"] == pytest.approx(expected["value"])
    fig = views.retention_chart(table, ctx)
    assert fig.data[0].error_y.array is not None


# ---- units for the release audit -------------------------------------------------------------


def cells_of(name, frame, options, units, ctx):
    """The release cells of a table as ``ctx.indicator_table`` builds them (raises when the
    units do not reproduce the table)."""
    shown = protect(frame, options, ctx)
    formats = list(zip(shown.values.columns, shown.formats, strict=True))
    within = options.get("complementary_within") or ()
    cells, weights = frame_cells(
        name,
        frame,
        shown.mask,
        counts=[c for c, f in formats if f.kind == "count"],
        keys=[c for c, f in formats if f.kind == "label"],
        partitions=[within] if isinstance(within, str) else list(within),
        total_label=ctx.t("total"),
        units=units,
    )
    assert not weights
    return cells


def all_tables(t, ctx, period=YEAR, data_end=None):
    """Every table of volunteers with its units, as the notebook builds them."""
    data_end = data_end or period.end
    people = {i: compute(t, i, "migration_history", period=period) for i in views.PEOPLE}
    out = {"people": (*views.people_table(people, ctx), views.people_units(t, period, ctx))}
    for by in ("migration_history", "qualified"):
        result = compute(t, "vol_retained", by, period=period, data_end=data_end)
        if views.cohort_size(result):
            units = views.retention_units(t, period, data_end, ctx, by=by)
            out[f"retention_{by}"] = (*views.retention_table(result, ctx, by=by), units)
    active = compute(t, "vol_active", "assignment_type", period=period)
    out["active"] = (
        *views.active_by_type_table(active, ctx),
        views.active_by_type_units(t, period, ctx),
    )
    yearly = views.yearly_counts(t, period.end)
    out["yearly"] = (*views.yearly_table(yearly, ctx), views.yearly_units(yearly, t, ctx))
    return out


def test_units_reproduce_the_hand_made_tables(tables):
    ctx = context(threshold=1)
    built = all_tables(tables, ctx, data_end=date(2025, 1, 31))
    assert set(built) == {
        "people",
        "retention_migration_history",
        "retention_qualified",
        "active",
        "yearly",
    }
    for name, (frame, options, units) in built.items():
        assert units["unit"].str.startswith("volunteer:").all(), name
        cells = cells_of(name, frame, options, units, ctx)
        assert all(c.value == len(c.units) for c in cells)
    # V1 worked in two types: two rows there, and once in the overall row
    active = built["active"][2]
    assert (active["unit"] == "volunteer:V1").sum() == 3
    # the yearly table's 2024 row and the people table's total count the same volunteers
    cells = {name: cells_of(name, *built[name], ctx) for name in ("people", "yearly")}
    total = {c.key[-1]: c.units for c in cells["people"] if c.key[0] == "Gesamt"}
    year = {c.key[-1]: c.units for c in cells["yearly"] if c.key[0] == "2024"}
    assert total == year


def test_units_that_do_not_match_the_table_are_refused(tables):
    ctx = context(threshold=1)
    frame, options, units = all_tables(tables, ctx)["people"]
    with pytest.raises(ValueError, match="do not describe"):
        cells_of("people", frame, options, units.iloc[1:], ctx)
    wrong = units.assign(**{"Einwanderungsgeschichte": "ohne Angabe"})
    with pytest.raises(ValueError, match="do not describe"):
        cells_of("people", frame, options, wrong, ctx)


@pytest.mark.parametrize("year", [2019, 2022, 2024])
def test_units_reproduce_the_demo_tables(demo_tables, year):
    ctx = context(year=year)
    period = ctx.period
    built = all_tables(demo_tables, ctx, period=period, data_end=demo.as_of())
    assert {"people", "active", "yearly"} <= set(built)
    release = Release()
    for name, (frame, options, units) in built.items():
        release.add(cells_of(name, frame, options, units, ctx))
    assert len(release.cells) > 15 and sum(c.value for c in release.cells) > 100


def test_this_years_row_against_a_cut_period_isolates_a_small_group(tables):
    """The yearly table up to 30 June 2024 and the people table of the full year: the
    volunteers recruited in the second half (V8 alone) are a difference of two shown counts."""
    ctx = context(threshold=2)
    half = Period(date(2024, 1, 1), date(2024, 6, 30), "2024-H1")
    people = {i: compute(tables, i, "migration_history") for i in views.PEOPLE}
    frame, options = views.people_table(people, ctx)
    yearly = views.yearly_counts(tables, half.end, first_year=2024)
    y_frame, y_options = views.yearly_table(yearly, ctx)
    release = Release()
    release.add(cells_of("year", frame, options, views.people_units(tables, YEAR, ctx), ctx))
    release.add(cells_of("half", y_frame, y_options, views.yearly_units(yearly, tables, ctx), ctx))
    groups = [f for f in audit(release, threshold=2).findings if f.kind == "group"]
    assert groups and all(f.true < 2 for f in groups)


def test_the_notebook_context_audits_the_people_table_with_the_yearly_table(demo_tables, tmp_path):
    """Through ``ctx.indicator_table`` with a release store: the yearly table's 2024 row counts
    the same volunteers as the people table's total, so what one hides the other hides too."""
    ctx = context(threshold=5)
    ctx.publisher = Publisher(
        run_id="r1", run_key="civic/test", threshold=5, path=tmp_path / "release.sqlite"
    )
    built = all_tables(demo_tables, ctx, data_end=demo.as_of())
    shown = {}
    for name in ("people", "yearly"):
        frame, options, units = built[name]
        shown[name] = ctx.indicator_table(frame, caption=name, units=units, **options)
    total = shown["people"].mask[shown["people"].values["Einwanderungsgeschichte"] == "Gesamt"]
    year = shown["yearly"].mask[shown["yearly"].values["Jahr"] == "2024"]
    columns = [views.term(i, ctx) for i in views.PEOPLE]
    assert total[columns].to_numpy().tolist() == year[columns].to_numpy().tolist()
    values = shown["people"].values.set_index("Einwanderungsgeschichte").loc["Gesamt", columns]
    assert values.notna().all()  # the year's totals are not small: shown in both
