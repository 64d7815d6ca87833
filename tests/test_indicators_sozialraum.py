"""Sozialraum indicators on small hand-made long tables with known answers, and the views on
the demo data."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from evaluation import demo
from evaluation.indicators import sozialraum as sr
from evaluation.views import sozialraum as views

AREAS = ["401", "402", "403", "404", "405", "406", "0"]


def long_table(values: dict[tuple[int, str, str], object]) -> pd.DataFrame:
    """Cologne's long format from ``{(jahr, raum_id, zei_id): zahl}``."""
    rows = [
        ("T", "Tabelle", jahr, raum, f"Raum {raum}", zei, f"Zeile {zei}", zahl)
        for (jahr, raum, zei), zahl in values.items()
    ]
    out = pd.DataFrame(
        rows, columns=["tab_id", "tabelle", "jahr", "raum_id", "raum", "zei_id", "zeile", "zahl"]
    )
    out.insert(0, "id", range(1, len(out) + 1))
    return out


@pytest.fixture
def small():
    """Two years; every Stadtteil 1,000 inhabitants except 401 with 3,000; Köln 100,000.

    SGB II: 401 has 600 (20 %), the others 100 (10 %) in 2023; in 2024 each has 10 more.
    Köln: 12,000 (12 %) both years. In 2024 Vogelsang's single parents are "*" and
    Ossendorf's households with children are missing as a row.
    """
    values: dict[tuple[int, str, str], object] = {}
    for year in (2023, 2024):
        extra = 10 if year == 2024 else 0
        for raum in AREAS:
            pop = {"401": 3000, "0": 100_000}.get(raum, 1000)
            sgb2 = {"401": 600, "0": 12_000}.get(raum, 100) + (extra if raum != "0" else 0)
            values[(year, raum, "EW")] = pop
            values[(year, raum, "U18")] = pop // 5
            values[(year, raum, "65PLUS")] = pop // 10
            values[(year, raum, "MIG")] = pop * 2 // 5
            values[(year, raum, "MIG_U18")] = pop // 10
            values[(year, raum, "SGB2")] = sgb2
            values[(year, raum, "ALO")] = pop // 20
            values[(year, raum, "HH_KIND")] = pop // 10
            values[(year, raum, "ALLEINERZ")] = pop // 40
    values[(2024, "404", "ALLEINERZ")] = "*"
    del values[(2024, "406", "HH_KIND")]
    table = long_table(values)
    table["zahl"] = table["zahl"].astype(object)
    return table


def test_to_number_treats_markers_and_missing_as_unknown():
    out = sr.to_number(pd.Series(["12", "*", ".", None, " 7 ", ""], dtype=object))
    assert out.iloc[0] == 12 and out.iloc[4] == 7
    assert out.iloc[[1, 2, 3, 5]].isna().all()
    with pytest.raises(ValueError, match="neither numbers"):
        sr.to_number(pd.Series(["12", "zwölf"]))


def test_wide_pivots_and_keeps_unknown_values_unknown(small):
    # a district from another Stadtbezirk and an unused row are ignored
    extra = long_table({(2024, "101", "EW"): 5, (2024, "401", "XYZ"): 9})
    wide = sr.wide(pd.concat([small, extra], ignore_index=True))
    assert list(wide.index.get_level_values("raum_id").unique()) == [*sr.STADTTEIL_IDS, "0"]
    assert wide.loc[(2024, "401"), "population"] == 3000
    assert wide.loc[(2023, "404"), "single_parents"] == 25
    assert np.isnan(wide.loc[(2024, "404"), "single_parents"])  # "*"
    assert np.isnan(wide.loc[(2024, "406"), "households_children"])  # row missing
    assert wide.loc[(2024, "406"), "single_parents"] == 25  # not zero, not shifted


def test_wide_rejects_a_value_given_twice(small):
    twice = pd.concat([small, small.iloc[[0]]], ignore_index=True)
    with pytest.raises(ValueError, match="twice"):
        sr.wide(twice)


def test_wide_accepts_missing_zahl_and_numeric_raum_ids(small):
    table = small.copy()
    table.loc[table["zahl"] == "*", "zahl"] = None
    table["zahl"] = pd.to_numeric(table["zahl"])  # float with NaN, as an ingest may deliver
    table["raum_id"] = table["raum_id"].astype(int)
    wide = sr.wide(table)
    assert np.isnan(wide.loc[(2024, "404"), "single_parents"])
    assert wide.loc[(2024, "0"), "population"] == 100_000


def test_district_is_the_sum_of_the_six_stadtteile_and_unknown_if_a_part_is(small):
    table = sr.with_district(sr.wide(small))
    assert list(table.xs(2024, level="jahr").index) == list(sr.AREAS)
    assert table.loc[(2024, "4"), "population"] == 8000
    assert table.loc[(2024, "4"), "sgb2"] == 600 + 5 * 100 + 6 * 10
    assert np.isnan(table.loc[(2024, "4"), "single_parents"])  # Vogelsang is "*"
    assert np.isnan(table.loc[(2024, "4"), "households_children"])  # Ossendorf missing
    assert table.loc[(2023, "4"), "single_parents"] == 75 + 5 * 25


def test_shares_of_the_district_come_from_summed_counts_not_mean_shares(small):
    table = sr.profile(small)
    # 2023: (600 + 5 * 100) / 8,000 = 13.75 %; the mean of the six shares would be 11.67 %
    assert table.loc[(2023, "4"), "sgb2_share"] == pytest.approx(1100 / 8000)
    assert table.loc[(2023, "401"), "sgb2_share"] == pytest.approx(0.2)
    assert table.loc[(2023, "0"), "sgb2_share"] == pytest.approx(0.12)
    assert table.loc[(2023, "402"), "migration_share_u18"] == pytest.approx(100 / 200)
    assert table.loc[(2023, "402"), "unemployment_share"] == pytest.approx(0.05)
    assert table.loc[(2023, "402"), "single_parent_share"] == pytest.approx(0.25)
    # unknown numerator or denominator: unknown share, also for the district
    assert np.isnan(table.loc[(2024, "404"), "single_parent_share"])
    assert np.isnan(table.loc[(2024, "406"), "single_parent_share"])
    assert np.isnan(table.loc[(2024, "4"), "single_parent_share"])
    assert table.loc[(2024, "405"), "single_parent_share"] == pytest.approx(0.25)


def test_share_of_a_zero_denominator_is_unknown():
    out = sr.share(pd.Series([1.0, 0.0, np.nan]), pd.Series([0.0, 0.0, 5.0]))
    assert out.isna().all()


def test_year_table_changes_in_percentage_points_and_distance_to_cologne(small):
    table = sr.profile(small)
    out = sr.year_table(table, "sgb2_share", 2024)
    # 402: 10 % -> 11 %; Köln 12 %
    assert out.loc["402", "numerator"] == 110 and out.loc["402", "denominator"] == 1000
    assert out.loc["402", "share"] == pytest.approx(0.11)
    assert out.loc["402", "change_previous_pp"] == pytest.approx(1.0)
    assert out.loc["402", "change_first_pp"] == pytest.approx(1.0)
    assert out.loc["402", "difference_city_pp"] == pytest.approx(-1.0)
    # district 13.75 % -> 14.5 %
    assert out.loc["4", "change_previous_pp"] == pytest.approx(0.75)
    assert out.loc["4", "difference_city_pp"] == pytest.approx(2.5)
    assert np.isnan(out.loc["0", "difference_city_pp"])
    assert out.loc["0", "change_previous_pp"] == pytest.approx(0.0)
    # the first year has nothing to compare with
    first = sr.year_table(table, "sgb2_share", 2023)
    assert first["change_previous_pp"].isna().all() and first["change_first_pp"].isna().all()
    # a change on an unknown value is unknown
    single = sr.year_table(table, "single_parent_share", 2024)
    assert np.isnan(single.loc["404", "change_previous_pp"])
    assert single.loc["405", "change_previous_pp"] == pytest.approx(0.0)


def test_population_table_and_index(small):
    values = {(y, r, "EW"): 1000 + 100 * (y - 2022) for y in (2022, 2023, 2024) for r in AREAS}
    table = sr.profile(long_table(values))
    out = sr.population_table(table, 2024)
    assert out.loc["401", "population"] == 1200
    assert out.loc["401", "change_previous_pct"] == pytest.approx(100 * (1200 / 1100 - 1))
    assert out.loc["401", "change_first_pct"] == pytest.approx(20.0)
    assert out.loc["4", "population"] == 7200
    assert np.isnan(out.loc["401", "under18_share"])  # no U18 row at all
    index = sr.population_index(table, 2023)
    assert set(index["jahr"]) == {2022, 2023}
    row = index[(index["jahr"] == 2023) & (index["raum_id"] == "4")]
    assert row["value"].iloc[0] == pytest.approx(110.0)


def test_data_year_falls_back_to_the_latest_year_available(small):
    table = sr.profile(small)
    assert sr.data_year(table, 2024) == 2024
    assert sr.data_year(table, 2026) == 2024
    assert sr.data_year(table, 2020) == 2023  # before the series: its first year
    assert sr.years(table) == [2023, 2024]


def test_missing_values_lists_the_unknown_counts(small):
    missing = sr.missing_values(sr.profile(small), 2024)
    pairs = set(map(tuple, missing.to_numpy()))
    assert ("404", "single_parents") in pairs and ("406", "households_children") in pairs
    assert ("4", "single_parents") in pairs
    assert not any(column == "foreign" for _, column in pairs)  # not used by the report
    assert sr.missing_values(sr.profile(small), 2023).empty


@pytest.fixture
def participants():
    ts = pd.Timestamp
    return pd.DataFrame(
        {
            "person_id": ["A", "B", "C", "D", "E", "F", "G"],
            "stadtteil": ["401", "401", "403", "ausserhalb", "101", None, "401"],
            "first_contact": [
                ts("2024-01-01"),
                ts("2024-12-31"),
                ts("2024-06-01"),
                ts("2024-03-01"),
                ts("2024-04-01"),
                ts("2024-05-01"),
                ts("2023-12-31"),  # before the period
            ],
        }
    )


def test_participants_by_stadtteil(participants):
    out = sr.participants_by_stadtteil(participants, date(2024, 1, 1), date(2024, 12, 31))
    assert out.to_dict() == {
        "401": 2,
        "402": 0,
        "403": 1,
        "404": 0,
        "405": 0,
        "406": 0,
        "ausserhalb": 2,  # "101" lies outside Ehrenfeld
        "unknown": 1,
        "total": 6,
    }
    known = participants[participants["stadtteil"].notna()]
    assert "unknown" not in sr.participants_by_stadtteil(
        known, date(2024, 1, 1), date(2024, 12, 31)
    )


def test_reach_per_1000_inhabitants_of_the_year(participants, small):
    out = sr.reach(participants, sr.profile(small), date(2024, 1, 1), date(2024, 12, 31), 2024)
    assert out.loc["401", "per_1000"] == pytest.approx(2 / 3000 * 1000)
    assert out.loc["402", "per_1000"] == 0
    assert out.loc["401", "sgb2_share"] == pytest.approx(610 / 3000)
    assert out.loc[["ausserhalb", "unknown", "total"], "per_1000"].isna().all()


def test_headline_records_stadtteile_cologne_and_the_district_as_total(small):
    out = sr.headline(sr.profile(small), 2023)
    assert set(out) == {"sr_population"} | {f"sr_{name}" for name in sr.SHARES}
    sgb2 = out["sr_sgb2_share"]
    assert list(sgb2.index) == [*sr.STADTTEIL_IDS, "total", "0"]
    assert sgb2.loc["total", "value"] == pytest.approx(1100 / 8000)
    assert sgb2.loc["total", "n"] == 8000
    assert out["sr_population"].loc["0", "value"] == 100_000


# ---- views on the demo data ---------------------------------------------------------------


from tests.conftest import make_context  # noqa: E402

context = make_context


@pytest.fixture(scope="module")
def demo_tables():
    return demo.generate()


@pytest.mark.parametrize("language", ["de", "en"])
def test_views_build_on_the_demo_data_for_2024(demo_tables, language):
    ctx = context(language)
    table = sr.profile(demo_tables["sozialraum"])
    year = sr.data_year(table, 2024)
    assert year == 2024
    assert "2024" in views.data_note(table, year, 2024, ctx)
    overview = views.overview_table(table, year, ctx)
    assert overview.values.shape[0] == 8 and overview.n_suppressed == 0
    assert "<table" in views.population_table(table, year, ctx).to_html()
    views.population_chart(table, year, ctx).to_dict()
    for name in views.INDICATORS:
        shown = views.year_table(table, name, year, ctx)
        assert not shown.to_frame().isin(["-0,0", "-0.0"]).any().any()
        fig = views.series_chart(table, name, year, ctx)
        assert len(fig.data) == 8  # six Stadtteile, district, Köln
    reached = sr.reach(demo_tables["participants"], table, ctx.period.start, ctx.period.end, year)
    shown = views.reach_table(reached, ctx, year)
    assert shown.values.shape == (8, 6)  # six Stadtteile, outside, total
    for need in ("sgb2_share", "migration_share"):
        fig = views.reach_chart(shown, reached, table, year, ctx, need=need)
        assert len(fig.data[0].x) == 6
    records = views.reach_records(shown, reached, ctx)
    rates = records[records["indicator_id"] == "sr_participants_per_1000"]
    assert len(rates) == 7 and rates["value"].notna().all()


def test_participant_counts_are_protected_in_table_chart_and_records(demo_tables):
    ctx = context(threshold=40)  # 2024: Vogelsang 37 and Ossendorf 32 are "small"
    table = sr.profile(demo_tables["sozialraum"])
    reached = sr.reach(demo_tables["participants"], table, ctx.period.start, ctx.period.end, 2024)
    small = reached.index[(reached["participants"] > 0) & (reached["participants"] < 40)]
    assert {"404", "406"} <= set(small)
    shown = views.reach_table(reached, ctx, 2024)
    count = views.term("participants", ctx, period="2024")
    rate = views.term("per_1000", ctx)
    rows = [list(reached.index).index(code) for code in small]
    assert shown.mask[count].iloc[rows].all() and shown.mask[rate].iloc[rows].all()
    assert shown.values[count].iloc[rows].isna().all()
    # the official need figures stay visible
    assert not shown.mask.iloc[:, 3:].any().any()
    fig = views.reach_chart(shown, reached, table, 2024, ctx)
    drawn = set(fig.data[0].text)
    assert not drawn & {views.area_label(code, ctx) for code in small}
    assert "Nicht dargestellt" in fig.layout.title.text and "Vogelsang" in fig.layout.title.text
    hidden_rates = {round(v, 6) for v in reached.loc[small, "per_1000"]}
    assert not hidden_rates & {round(v, 6) for v in fig.data[0].y}
    records = views.reach_records(shown, reached, ctx).set_index(["indicator_id", "group_value"])
    for code in small:
        ids = ("sr_participants", "sr_participants_per_1000")
        for indicator_id in ids if code in sr.STADTTEIL_IDS else ids[:1]:
            assert records.loc[(indicator_id, code), "suppressed"]
            assert pd.isna(records.loc[(indicator_id, code), "value"])


def test_views_show_unknown_official_values_as_missing(demo_tables):
    ctx = context()
    sozialraum = demo_tables["sozialraum"].copy()
    sozialraum["zahl"] = sozialraum["zahl"].astype(object)
    star = (
        (sozialraum["jahr"] == 2024)
        & (sozialraum["raum_id"] == "404")
        & (sozialraum["zei_id"] == "ALLEINERZ")
    )
    sozialraum.loc[star, "zahl"] = "*"
    table = sr.profile(sozialraum)
    note = views.data_note(table, 2024, 2024, ctx)
    assert "Vogelsang: Haushalte von Alleinerziehenden" in note and "unbekannt" in note
    shown = views.year_table(table, "single_parent_share", 2024, ctx).to_frame()
    vogelsang = shown[shown["Gebiet"] == "Vogelsang"].iloc[0]
    district = shown[shown["Gebiet"] == "Stadtbezirk Ehrenfeld"].iloc[0]
    assert vogelsang["Haushalte von Alleinerziehenden"] == "–"
    assert vogelsang["Anteil 2024"] == "–" and district["Anteil 2024"] == "–"


def test_data_note_says_when_the_report_year_is_missing(demo_tables):
    ctx = context()
    table = sr.profile(demo_tables["sozialraum"])
    year = sr.data_year(table, 2026)
    assert year == 2025
    note = views.data_note(table, year, 2026, ctx)
    assert "keine Zahlen der Stadt Köln" in note and "2025" in note
