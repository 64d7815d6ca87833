"""Indicator catalogue: validation, statistics, history records, demo data, legacy meanings."""

from __future__ import annotations

import copy
import math
from datetime import date
from pathlib import Path
from textwrap import dedent

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from evaluation import history
from evaluation.disclosure import SuppressionRule
from evaluation.indicators import catalogue as cat
from evaluation.indicators import labour
from evaluation.indicators.common import wilson
from evaluation.notebook import Context
from evaluation.plan import Period

YEAR = Period(date(2024, 1, 1), date(2024, 12, 31), "2024")
QUARTER = Period(date(2025, 4, 1), date(2025, 6, 30), "2025-Q2")
LEGACY_IDS = [
    "lm_participants",
    "lm_entries",
    "lm_exits",
    "lm_eingliederungsquote_6m",
    "lm_eingliederungsquote_12m",
    "lm_verbleibsquote_6m",
    "lm_verbleibsquote_12m",
    "lm_response_rate_6m",
    "lm_response_rate_12m",
    "rec_decisions",
    "rec_full_share",
    "rec_months_median",
    "rec_pending",
]


@pytest.fixture(scope="module")
def catalogue() -> cat.Catalogue:
    return cat.load_catalogue()


def ts(s: str) -> pd.Timestamp:
    return pd.Timestamp(s)


# --------------------------------------------------------------------------------------------
# The file
# --------------------------------------------------------------------------------------------


def test_catalogue_keeps_the_recorded_ids(catalogue):
    assert set(LEGACY_IDS) <= set(catalogue.ids)


def test_catalogue_covers_the_issue(catalogue):
    wanted = {
        "lm_completion_share",
        "lm_months_to_employment",
        "rec_applications",
        "par_fsw_pre",
        "par_fsw_post",
        "par_fsw_change",
        "par_attrition",
        "par_school_contact_pre",
        "par_school_contact_post",
        "par_parent_evening_pre",
        "par_parent_evening_post",
        "vol_recruited",
        "vol_trained",
        "vol_active",
        "vol_retained",
        "vol_hours",
        "evt_mso_trainings",
        "evt_iko_trainings",
        "evt_kulturzentrum_events",
        "evt_kulturzentrum_visitors",
    }
    assert wanted <= set(catalogue.ids)
    assert "assignment_type" in catalogue.get("vol_hours").groups
    assert "decision" in catalogue.get("rec_decisions").groups
    assert {ind.field for ind in catalogue} == set(cat.FIELDS)


def test_levels_follow_phineo(catalogue):
    for ind in catalogue:
        if ind.level is not None:
            assert ind.iooi == cat.iooi_of_level(ind.level), ind.id
        else:
            assert ind.iooi == "input" or ind.role == "context", ind.id
    assert {ind.level for ind in catalogue if ind.id.startswith("lm_")} >= {2, 3, 6}


def test_labels_and_definitions_in_both_languages(catalogue):
    for language in ("de", "en"):
        labels = [catalogue.label(i, language) for i in catalogue.ids]
        assert len(set(labels)) == len(labels), f"{language} labels repeat"
    for ind in catalogue:
        assert ind.label["de"] != ind.label["en"], ind.id
        assert ind.definition["de"] != ind.definition["en"], ind.id
    assert catalogue.label("lm_eingliederungsquote_6m", "de").startswith("Eingliederungsquote")
    assert catalogue.label("lm_eingliederungsquote_6m", "en").startswith("Integration rate")


def test_table_view(catalogue):
    de, en = catalogue.table("de"), catalogue.table("en")
    columns = ["id", "label", "field", "level", "iooi", "definition", "unit"]
    assert list(de.columns) == columns and list(en.columns) == columns
    assert len(de) == len(catalogue) and de["id"].tolist() == catalogue.ids
    assert str(de["level"].dtype) == "Int64"
    row_de = de.set_index("id").loc["vol_hours"]
    row_en = en.set_index("id").loc["vol_hours"]
    assert pd.isna(row_de["level"]) and row_de["iooi"] == "Input (Ressourcen)"
    assert row_en["field"] == "Civic engagement" and row_en["unit"] == "hours"
    context = de.set_index("id").loc["lm_response_rate_6m"]
    assert context["iooi"] == cat.CONTEXT_ROLE[0]
    assert de.set_index("id").loc["par_fsw_change", "level"] == 4
    with pytest.raises(ValueError, match="language"):
        catalogue.table("fr")


def test_get_unknown_id_names_similar_ones(catalogue):
    with pytest.raises(KeyError, match="lm_participants"):
        catalogue.get("lm_participant")


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------

VALID = {
    "id": "vol_example",
    "label": {"de": "Beispiel", "en": "Example"},
    "field": "Bürgerschaftliches Engagement",
    "level": 2,
    "iooi": "output",
    "definition": {"de": "Zählt Beispiele.", "en": "Counts examples."},
    "numerator": "Beispiele",
    "denominator": None,
    "unit": "persons",
    "unit_kind": "persons",
    "kind": "count",
    "compute": "vol_recruited",
    "groups": ["migration_history"],
    "tables": ["volunteers"],
}


def write_catalogue(tmp_path, *entries) -> str:
    path = tmp_path / "catalogue.yml"
    path.write_text(
        yaml.safe_dump({"version": 1, "indicators": list(entries)}, allow_unicode=True),
        encoding="utf-8",
    )
    return path


def variant(**changes):
    entry = copy.deepcopy(VALID)
    for key, value in changes.items():
        if value is KeyError:
            del entry[key]
        else:
            entry[key] = value
    return entry


def test_valid_minimal_catalogue_loads(tmp_path):
    loaded = cat.load_catalogue(write_catalogue(tmp_path, VALID))
    assert loaded.ids == ["vol_example"]
    assert loaded.get("vol_example").personal is True


@pytest.mark.parametrize(
    ("changes", "key", "message"),
    [
        ({"level": 8}, "level", "1–7"),
        ({"level": 0}, "level", "1–7"),
        ({"level": 5}, "iooi", "outcome"),
        ({"level": 7, "iooi": "outcome"}, "iooi", "impact"),
        ({"level": None}, "level", "only inputs"),
        ({"iooi": "result"}, "iooi", "not one of"),
        ({"role": "context"}, "level", "neither level nor iooi"),
        ({"compute": "no_such_function"}, "compute", "no registered"),
        ({"label": {"de": "Beispiel"}}, "label", "de and en"),
        ({"definition": {"de": "x", "en": " "}}, "definition.en", "non-empty"),
        ({"id": "xx_example"}, "id", "prefix"),
        ({"id": "vol_Example"}, "id", "snake_case"),
        ({"field": "Sport"}, "field", "not one of"),
        ({"groups": ["hair_colour"]}, "groups", "not one of"),
        ({"unit": "share"}, "unit", "count or persons"),
        ({"kind": "share", "unit": "share"}, "denominator", "non-empty"),
        ({"kind": "ratio"}, "kind", "not one of"),
        ({"colour": "red"}, "colour", "unknown key"),
        ({"numerator": KeyError}, "numerator", "missing"),
        ({"params": {"months": 6}}, "params", "does not take"),
        ({"tables": []}, "tables", "at least one"),
        ({"personal": "ja"}, "personal", "true or false"),
        ({"unit_kind": KeyError}, "unit_kind", "missing"),
        ({"unit_kind": "people"}, "unit_kind", "not one of"),
        ({"unit_kind": "activities", "personal": True}, "personal", "not about persons"),
    ],
)
def test_validation_names_id_and_key(tmp_path, changes, key, message):
    path = write_catalogue(tmp_path, VALID | {"id": "vol_first"}, variant(**changes))
    with pytest.raises(cat.CatalogueError) as info:
        cat.load_catalogue(path)
    text = str(info.value)
    assert f": {key}: " in text and message in text
    assert f"{path}:" in text
    ident = changes.get("id", "vol_example")
    assert repr(ident) in text


def test_validation_reports_the_line_of_the_entry(tmp_path):
    path = write_catalogue(tmp_path, VALID | {"id": "vol_first"}, variant(level=9))
    line = next(
        i for i, text in enumerate(path.read_text().splitlines(), 1) if "vol_example" in text
    )
    with pytest.raises(cat.CatalogueError) as info:
        cat.load_catalogue(path)
    # the entry starts at its first key; the id is on one of its lines
    reported = int(str(info.value).split(":")[1])
    assert reported <= line < reported + len(VALID) + 5


def test_duplicate_ids_are_rejected(tmp_path):
    with pytest.raises(cat.CatalogueError, match="'vol_example': id: duplicate"):
        cat.load_catalogue(write_catalogue(tmp_path, VALID, VALID))


def test_inputs_may_have_no_level(tmp_path):
    entry = variant(level=None, iooi="input", unit="hours", kind="sum", compute="vol_hours")
    loaded = cat.load_catalogue(write_catalogue(tmp_path, entry | {"tables": ["volunteers"]}))
    assert loaded.get("vol_example").level is None


def test_not_yaml_or_no_list(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("indicators: [unclosed", encoding="utf-8")
    with pytest.raises(cat.CatalogueError, match="not valid YAML"):
        cat.load_catalogue(bad)
    bad.write_text("- id: x\n", encoding="utf-8")
    with pytest.raises(cat.CatalogueError, match="'indicators'"):
        cat.load_catalogue(bad)


def test_registry_refuses_a_second_function_under_a_name():
    with pytest.raises(ValueError, match="already registered"):
        cat.indicator("vol_recruited")(lambda tables, period: pd.DataFrame())


# --------------------------------------------------------------------------------------------
# Statistics on hand-made unit frames
# --------------------------------------------------------------------------------------------


def test_count_is_distinct_units_and_total_counts_each_unit_once():
    units = pd.DataFrame({"unit": ["A", "A", "B", "C"], "project": ["x", "y", "x", "x"]})
    out = cat.summarise(units, "count", "project")
    assert out[["group_value", "value", "n"]].values.tolist() == [
        ["x", 3.0, 3],
        ["y", 1.0, 1],
        ["", 3.0, 3],
    ]
    assert out.loc[2, "group_var"] == "" and out[["ci_low", "ci_high"]].isna().all().all()


def test_share_uses_wilson():
    units = pd.DataFrame(
        {
            "numerator": [1, 1, 0, 1, 0, 0],
            "denominator": 1,
            "g": [True, True, True, False, False, False],
        }
    )
    out = cat.summarise(units, "share", "g").set_index("group_value")
    share, low, high = wilson(pd.Series([1.0]), pd.Series([3.0]))
    assert out.loc["no", "value"] == pytest.approx(1 / 3)
    assert (out.loc["no", "ci_low"], out.loc["no", "ci_high"]) == pytest.approx(
        (low.iloc[0], high.iloc[0])
    )
    assert out.loc["yes", ["numerator", "denominator", "n"]].tolist() == [2, 3, 3]
    assert out.loc["", "value"] == pytest.approx(0.5)


def test_mean_uses_t_interval():
    values = [1.0, 2.0, 4.0, 7.0]
    out = cat.summarise(pd.DataFrame({"value": [*values, np.nan]}), "mean").iloc[0]
    half = scipy_stats.t.ppf(0.975, 3) * np.std(values, ddof=1) / 2
    assert out["value"] == pytest.approx(3.5) and out["n"] == 4
    assert (out["ci_low"], out["ci_high"]) == pytest.approx((3.5 - half, 3.5 + half))
    single = cat.summarise(pd.DataFrame({"value": [2.0]}), "mean_change").iloc[0]
    assert single["value"] == 2.0 and math.isnan(single["ci_low"])


def test_median_interval_from_order_statistics():
    # n = 10: P(Bin(10, 1/2) <= 1) = 0.011 <= 0.025 < P(<= 2), so the 95 % interval is
    # [x(2), x(9)] (Conover 1999, table A3).
    out = cat.summarise(pd.DataFrame({"value": np.arange(1.0, 11.0)}), "median").iloc[0]
    assert out["value"] == 5.5 and out["n"] == 10
    assert (out["ci_low"], out["ci_high"]) == (2.0, 9.0)
    few = cat.summarise(pd.DataFrame({"value": [1.0, 2.0, 3.0]}), "median").iloc[0]
    assert few["value"] == 2.0 and math.isnan(few["ci_low"])


def test_median_with_censoring_is_kaplan_meier():
    units = pd.DataFrame(
        {"value": [1.0, 2.0, 2.0, 3.0, 4.0], "observed": [True, False, True, True, False]}
    )
    # S(1) = 4/5, S(2) = 4/5 * 3/4 = 0.6, S(3) = 0.6 * 1/2 = 0.3: median 3
    out = cat.summarise(units, "median").iloc[0]
    assert out["value"] == 3.0 and out["n"] == 5
    never = pd.DataFrame({"value": [1.0, 2.0, 3.0, 4.0], "observed": [False, True, False, False]})
    assert math.isnan(cat.summarise(never, "median").iloc[0]["value"])  # not reached


def test_sum_counts_units_as_n():
    units = pd.DataFrame({"unit": ["A", "A", "B"], "value": [1.5, 2.0, 3.0]})
    out = cat.summarise(units, "sum").iloc[0]
    assert (out["value"], out["n"]) == (6.5, 2)


def test_empty_units_give_a_total_row():
    assert cat.summarise(pd.DataFrame({"unit": []}), "count").iloc[0]["value"] == 0
    share = cat.summarise(pd.DataFrame({"numerator": [], "denominator": []}), "share").iloc[0]
    assert share["n"] == 0 and math.isnan(share["value"])
    assert math.isnan(cat.summarise(pd.DataFrame({"value": []}), "mean").iloc[0]["value"])


def test_group_codes_and_order():
    codes = cat.group_codes(pd.Series([True, False, None], dtype="boolean"))
    assert codes.tolist() == ["yes", "no", "unknown"]
    units = pd.DataFrame({"unit": [1, 2, 3], "project": ["jobeinstieg", "anerkennung", None]})
    out = cat.summarise(units, "count", "project")
    assert out["group_value"].tolist() == ["anerkennung", "jobeinstieg", "unknown", ""]


# --------------------------------------------------------------------------------------------
# compute() and the history
# --------------------------------------------------------------------------------------------


def test_compute_refuses_other_groupings(demo_tables):
    with pytest.raises(ValueError, match="cannot be grouped by 'arm'"):
        cat.compute("lm_participants", demo_tables, period=YEAR, group_by="arm")
    with pytest.raises(ValueError, match="allowed: none"):
        cat.compute("evt_mso_trainings", demo_tables, period=YEAR, group_by="project")


def test_compute_reads_only_listed_tables_and_accepts_a_loader(demo_tables):
    asked: list[str] = []

    def loader(name: str) -> pd.DataFrame:
        asked.append(name)
        return demo_tables[name]

    by_loader = cat.compute("vol_active", loader, period=YEAR, group_by="assignment_type")
    by_mapping = cat.compute("vol_active", demo_tables, period=YEAR, group_by="assignment_type")
    pd.testing.assert_frame_equal(by_loader, by_mapping)
    assert sorted(asked) == ["volunteer_assignments", "volunteers"]
    with pytest.raises(KeyError, match="needs table 'volunteer_assignments'"):
        cat.compute("vol_active", {"volunteers": demo_tables["volunteers"]}, period=YEAR)


def result_frame(n, value=None, numerator=None):
    frame = pd.DataFrame(
        {
            "group_var": ["project", ""],
            "group_value": ["anerkennung", ""],
            "value": value if value is not None else [float(x) for x in n],
            "n": pd.array(n, dtype="Int64"),
            "ci_low": [np.nan, np.nan],
            "ci_high": [np.nan, np.nan],
        }
    )
    if numerator is not None:
        frame["numerator"] = pd.array(numerator, dtype="Int64")
        frame["denominator"] = pd.array(n, dtype="Int64")
    return frame


def test_figures_are_history_records_with_suppression():
    records = cat.figures("lm_participants", result_frame([3, 40]), YEAR, threshold=5)
    assert [set(r) for r in records] == [set(history.FIGURE_FIELDS)] * 2
    assert [r["suppressed"] for r in records] == [True, False]
    assert records[1] | {"suppressed": False} == {
        "indicator_id": "lm_participants",
        "period": "2024",
        "period_start": "2024-01-01",
        "period_end": "2024-12-31",
        "group_var": "",
        "group_value": "",
        "value": 40.0,
        "n": 40,
        "ci_low": None,
        "ci_high": None,
        "suppressed": False,
    }
    normalised = history.normalise_figures(records)
    assert normalised[0]["value"] is None and normalised[1]["value"] == 40.0


def test_share_figures_hide_small_numerators_and_remainders():
    frame = result_frame([20, 20], value=[0.1, 0.9], numerator=[2, 18])
    assert [r["suppressed"] for r in cat.figures("rec_full_share", frame, YEAR, threshold=5)] == [
        True,
        True,
    ]
    frame = result_frame([20, 20], value=[0.5, 0.0], numerator=[10, 0])
    assert [r["suppressed"] for r in cat.figures("rec_full_share", frame, YEAR, threshold=5)] == [
        False,
        False,
    ]


def test_figures_about_events_are_never_suppressed():
    records = cat.figures("evt_mso_trainings", result_frame([2, 2]), YEAR, threshold=5)
    assert not any(r["suppressed"] for r in records)


# --------------------------------------------------------------------------------------------
# Unit kinds: persons and cases are protected, activities are shown
# --------------------------------------------------------------------------------------------

ACTIVITY_IDS = {
    "par_cycles",
    *(
        f"evt_{kind}_{measure}"
        for kind, measures in {
            "mso": ("trainings", "participants", "partners"),
            "iko": ("trainings", "participants", "partners"),
            "kulturzentrum": ("events", "visitors", "partners"),
            "sozialraum": ("events", "participants", "partners"),
        }.items()
        for measure in measures
    ),
}


def small_grouped_result(n: list[int]) -> pd.DataFrame:
    """A grouped result with small counts: two groups and the total."""
    return pd.DataFrame(
        {
            "group_var": ["g", "g", ""],
            "group_value": ["a", "b", ""],
            "value": [float(x) for x in n],
            "n": pd.array(n, dtype="Int64"),
            "ci_low": [np.nan] * 3,
            "ci_high": [np.nan] * 3,
        }
    )


def test_every_entry_declares_what_it_counts(catalogue):
    kinds = {ind.id: ind.unit_kind for ind in catalogue}
    assert set(kinds.values()) <= set(cat.UNIT_KINDS)
    assert {i for i, k in kinds.items() if k == "activities"} == ACTIVITY_IDS
    # enrolments, recognition cases and follow-ups are cases; people are persons
    assert kinds["lm_exits"] == kinds["rec_decisions"] == kinds["lm_eingliederungsquote_6m"]
    assert kinds["lm_exits"] == "cases"
    assert kinds["par_reached"] == kinds["vol_active"] == kinds["lm_participants"] == "persons"
    for ind in catalogue:
        assert ind.sensitive == (ind.unit_kind != "activities" and ind.personal), ind.id


def test_the_file_names_unit_kind_in_every_entry():
    """Not only a default: the key is written in each entry of the file."""
    raw = yaml.safe_load(cat.CATALOGUE_FILE.read_text(encoding="utf-8"))["indicators"]
    assert all("unit_kind" in entry for entry in raw)


def test_activities_default_to_not_personal(tmp_path):
    entry = variant(unit_kind="activities", unit="count", compute="evt_events")
    entry |= {"id": "evt_example", "params": {"event_kind": "mso_fortbildung"}}
    entry |= {"groups": [], "tables": ["events"]}
    loaded = cat.load_catalogue(write_catalogue(tmp_path, entry)).get("evt_example")
    assert loaded.personal is False and loaded.sensitive is False


@pytest.mark.parametrize("indicator_id", sorted(ACTIVITY_IDS))
def test_activity_figures_are_recorded_unsuppressed(indicator_id):
    """Small numbers of cycles, trainings and events, grouped or not: never suppressed."""
    records = cat.figures(indicator_id, small_grouped_result([1, 2, 3]), YEAR, threshold=5)
    assert [r["suppressed"] for r in records] == [False, False, False]
    assert [r["value"] for r in records] == [1.0, 2.0, 3.0]


def test_the_same_small_counts_of_persons_are_suppressed_with_a_complement():
    records = cat.figures("par_reached", small_grouped_result([1, 7, 8]), YEAR, threshold=5)
    # the small group, and the other group so that it is not the total minus the other
    assert [r["suppressed"] for r in records] == [True, True, False]


def test_record_indicator_stores_par_cycles_unsuppressed(demo_tables):
    ctx = demo_context(demo_tables)
    result = ctx.record_indicator("par_cycles", group_by="group_name")
    recorded = ctx.recorded()
    assert (result["value"] < 5).any()  # the demo has groups with few cycles
    assert not recorded["suppressed"].any()
    assert recorded["value"].tolist() == result["value"].tolist()


def test_the_annual_report_shows_small_activity_figures(tmp_path):
    """The field report prints 2 cycles; the annual report must not blank them by n."""

    def fig(indicator_id, year, value, n):
        return {
            "indicator_id": indicator_id,
            "period": str(year),
            "period_start": f"{year}-01-01",
            "period_end": f"{year}-12-31",
            "value": value,
            "n": n,
            "suppressed": False,
        }

    from evaluation import annual

    db = tmp_path / "h.sqlite"
    history.commit_figures(
        [fig("par_cycles", 2023, 3, 3), fig("evt_mso_trainings", 2023, 2, 2)],
        run_id="a",
        run_key="x/2023",
        snapshot_id="s",
        db=db,
    )
    history.commit_figures(
        [
            fig("par_cycles", 2024, 2, 2),
            fig("evt_mso_trainings", 2024, 4, 4),
            fig("par_reached", 2024, 3, 3),
        ],
        run_id="b",
        run_key="x/2024",
        snapshot_id="s",
        db=db,
    )
    figures = annual.Figures.read(until=2024, db=db)
    rule = SuppressionRule(threshold=5)
    ids = {"Elternarbeit": ("par_cycles", "par_reached", "evt_mso_trainings")}
    table = annual.headline(figures, 2024, rule=rule, ids=ids).set_index("indicator_id")
    assert table.loc["par_cycles", ["value", "previous", "change"]].tolist() == [2, 3, -1]
    assert (
        table.loc["evt_mso_trainings", "value"] == 4
        and not table.loc["evt_mso_trainings", "suppressed"]
    )
    # persons are still suppressed again by their n
    assert table.loc["par_reached", "suppressed"] and pd.isna(table.loc["par_reached", "value"])
    series = annual.trend(figures, "par_cycles", rule=rule)
    assert series["value"].tolist() == [3, 2] and not series["hidden"].any()
    assert annual.trend(figures, "par_reached", rule=rule)["hidden"].tolist() == [True]


class DemoContext(Context):
    """A notebook context on the demo tables, without a snapshot on disk."""

    @property
    def data_end(self) -> date:
        return date(2025, 12, 31)


def demo_context(tables) -> DemoContext:
    return DemoContext(
        period=YEAR,
        agency="Test",
        snapshot="test",
        language="de",
        rule=SuppressionRule(threshold=5),
        report_mode=False,
        run_id=None,
        run_dir=None,
        _tables=dict(tables),
    )


def test_record_goes_through_the_notebook_context(demo_tables):
    ctx = demo_context(demo_tables)
    result = cat.compute("par_fsw_change", demo_tables, period=YEAR, group_by="arm")
    records = cat.record(ctx, "par_fsw_change", result)
    recorded = ctx.recorded()
    assert len(recorded) == len(result) == len(records)
    assert recorded["group_value"].tolist() == ["teilnahme", "wartegruppe", ""]
    assert recorded["value"].iloc[-1] == pytest.approx(result["value"].iloc[-1])
    assert recorded.to_dict("records") == records


def test_record_indicator_uses_the_runs_period_data_and_threshold(demo_tables):
    ctx = demo_context(demo_tables)
    result = cat.record_indicator(ctx, "lm_months_to_employment", group_by="target_group")
    expected = cat.compute(
        "lm_months_to_employment",
        demo_tables,
        period=YEAR,
        group_by="target_group",
        data_end=date(2025, 12, 31),
    )
    pd.testing.assert_frame_equal(result, expected)
    recorded = ctx.recorded()
    assert (recorded["suppressed"] == (recorded["n"].isna() | (recorded["n"] < 5))).all()
    assert recorded["period"].unique().tolist() == ["2024"]


# --------------------------------------------------------------------------------------------
# Every indicator on the demo data
# --------------------------------------------------------------------------------------------


def _cases(catalogue: cat.Catalogue):
    computed = [ind for ind in catalogue if ind.compute is not None]
    return [(ind.id, g) for ind in computed for g in (None, *ind.groups)]


@pytest.mark.parametrize("period", [YEAR, QUARTER], ids=["2024", "2025-Q2"])
@pytest.mark.parametrize(("indicator_id", "group_by"), _cases(cat.load_catalogue()))
def test_every_indicator_computes_on_demo_data(
    demo_tables, catalogue, indicator_id, group_by, period
):
    ind = catalogue.get(indicator_id)
    out = cat.compute(
        indicator_id, demo_tables, period=period, group_by=group_by, data_end=date(2025, 12, 31)
    )
    assert list(out.columns[:6]) == list(cat.RESULT_COLUMNS)
    total = out.iloc[-1]
    assert (total["group_var"], total["group_value"]) == ("", "")
    groups = out.iloc[:-1]
    assert (groups["group_var"] == (group_by or "")).all() and groups["group_value"].is_unique
    if group_by is None:
        assert len(out) == 1
    assert (out["n"].fillna(0) >= 0).all()
    values = out["value"].dropna()
    if ind.kind == "count":
        assert (out["value"] == out["n"]).all()
    if ind.unit == "share":
        assert values.between(0, 1).all()
    if ind.unit == "scale_points" and ind.kind == "mean":
        assert values.between(1, 6).all()
    if ind.kind == "mean_change":
        assert values.between(-5, 5).all()
    if ind.unit in ("months", "hours", "count", "persons"):
        assert (values >= 0).all()
    both = out.dropna(subset=["value", "ci_low", "ci_high"])
    assert (both["ci_low"] <= both["value"] + 1e-12).all()
    assert (both["value"] <= both["ci_high"] + 1e-12).all()
    if ind.kind == "share":
        assert set(cat.SHARE_COLUMNS) <= set(out.columns)
        if group_by is not None:  # shares are taken over partitions: groups add up
            assert groups["numerator"].sum() == total["numerator"]
            assert groups["denominator"].sum() == total["denominator"]
    elif ind.kind in ("count", "sum") and group_by is not None and len(groups):
        assert groups["n"].max() <= total["n"] <= groups["n"].sum()


def test_demo_totals_are_substantial(demo_tables, catalogue):
    """In 2024 the demo data has figures for every indicator (none empty, none constant)."""
    for ind in (i for i in catalogue if i.compute is not None):
        total = cat.compute(ind.id, demo_tables, period=YEAR, data_end=date(2025, 12, 31)).iloc[-1]
        assert total["n"] > 0 and not math.isnan(total["value"]), ind.id


def test_demo_parent_work_recovers_planted_effects(demo_tables):
    change = cat.compute(
        "par_fsw_change",
        demo_tables,
        period=Period(date(2023, 1, 1), date(2025, 12, 31), "x"),
        group_by="arm",
    )
    by_arm = change.set_index("group_value")["value"]
    assert by_arm["teilnahme"] == pytest.approx(0.45, abs=0.15)
    assert by_arm["wartegruppe"] == pytest.approx(0.05, abs=0.15)


# --------------------------------------------------------------------------------------------
# The recorded ids keep the meaning they have in the labour-market notebook
# --------------------------------------------------------------------------------------------


def by_group(frame: pd.DataFrame, column: str = "value") -> dict[str, float]:
    return {
        ("total" if row.group_value == "" else row.group_value): getattr(row, column)
        for row in frame.itertuples()
    }


@pytest.mark.parametrize("year", [2022, 2024, 2025])
def test_reach_ids_match_labour_reach(demo_tables, year):
    period = Period(date(year, 1, 1), date(year, 12, 31), str(year))
    reach = labour.reach(demo_tables["enrolments"], period.start, period.end)
    for ident, column in (
        ("lm_participants", "participants"),
        ("lm_entries", "entries"),
        ("lm_exits", "exits"),
    ):
        out = cat.compute(ident, demo_tables, period=period, group_by="project")
        assert by_group(out) == pytest.approx(reach[column].astype(float).to_dict()), ident


@pytest.mark.parametrize("months", [6, 12])
def test_followup_ids_match_the_labour_notebook(demo_tables, months):
    data_end = date(2025, 12, 31)
    status = labour.followup_with_margins(
        demo_tables["enrolments"], demo_tables["followups"], YEAR, months=months, data_end=data_end
    ).xs("total", level="cohort")
    for rate, n in (
        ("eingliederungsquote", "known"),
        ("verbleibsquote", "known"),
        ("response_rate", "due"),
    ):
        out = cat.compute(
            f"lm_{rate}_{months}m", demo_tables, period=YEAR, group_by="project", data_end=data_end
        )
        assert by_group(out) == pytest.approx(status[rate].to_dict())
        assert by_group(out, "n") == status[n].to_dict()
        if rate != "response_rate":
            assert by_group(out, "ci_low") == pytest.approx(status[f"{rate}_ci_low"].to_dict())


def test_recognition_ids_match_the_labour_notebook(demo_tables):
    cases = demo_tables["recognition_cases"]
    full = labour.full_equivalence_share(cases, YEAR.start, YEAR.end)
    decisions = cat.compute("rec_decisions", demo_tables, period=YEAR, group_by="regulated")
    assert by_group(decisions) == pytest.approx(full["n"].astype(float).to_dict())
    share = cat.compute("rec_full_share", demo_tables, period=YEAR, group_by="regulated")
    assert by_group(share) == pytest.approx(full["share"].to_dict())
    duration = labour.time_to_decision(cases, YEAR.start, YEAR.end)
    months = cat.compute("rec_months_median", demo_tables, period=YEAR, group_by="regulated")
    assert by_group(months) == pytest.approx(duration["median"].to_dict())
    pending = cat.compute("rec_pending", demo_tables, period=YEAR).iloc[-1]
    assert pending["value"] == labour.pending_at(cases, YEAR.end)


# --------------------------------------------------------------------------------------------
# Labour-market compute functions on hand-made tables
# --------------------------------------------------------------------------------------------


@pytest.fixture
def labour_tables():
    enrolments = pd.DataFrame(
        {
            "enrolment_id": ["T1", "T2", "T3", "T4", "T5", "T6"],
            "person_id": ["P1", "P1", "P2", "P3", "P4", "P5"],
            "project": [
                "anerkennung",
                "jobeinstieg",
                "jobeinstieg",
                "anerkennung",
                "anerkennung",
                "jobeinstieg",
            ],
            "entry_date": [
                ts("2024-02-10"),
                ts("2024-08-01"),
                ts("2024-03-05"),
                ts("2023-05-01"),
                ts("2024-04-01"),
                ts("2024-06-01"),
            ],
            "exit_date": [
                ts("2024-06-30"),
                pd.NaT,
                ts("2024-05-31"),
                ts("2024-01-31"),
                ts("2024-09-30"),
                ts("2024-07-15"),
            ],
            "exit_reason": ["regulaer", None, "abbruch", "regulaer", "regulaer", "regulaer"],
        }
    )
    participants = pd.DataFrame(
        {
            "person_id": ["P1", "P2", "P3", "P4", "P5"],
            "target_group": ["ukraine", "gefluechtete", "ukraine", "eu_suedost", "ukraine"],
        }
    )
    months = {
        "P1": [
            "2024-01 svb",
            "2024-02 arbeitslos",
            "2024-03 arbeitslos",
            "2024-04 svb",
            "2024-05 svb",
        ],
        "P2": ["2024-03 arbeitslos", "2024-04 arbeitslos", "2024-05 minijob", "2024-07 arbeitslos"],
        "P4": ["2024-04 svb", "2024-05 svb"],
        "P5": ["2024-06 arbeitslos"],
    }
    employment = pd.DataFrame(
        [
            {"person_id": p, "month": ts(f"{m.split()[0]}-01"), "status": m.split()[1]}
            for p, items in months.items()
            for m in items
        ]
    )
    return {"enrolments": enrolments, "participants": participants, "employment_months": employment}


def test_time_to_first_employment(labour_tables):
    units = cat.lm_time_to_employment(labour_tables, YEAR, date(2025, 12, 31)).set_index(
        "person_id"
    )
    # P3 entered before 2024, P4 was employed in the month of entry; P1's first entry counts
    assert sorted(units.index) == ["P1", "P2", "P5"]
    assert units.loc["P1", ["value", "observed", "project"]].tolist() == [2.0, True, "anerkennung"]
    assert units.loc["P2", ["value", "observed"]].tolist() == [4.0, False]  # last record 2024-07
    assert units.loc["P5", ["value", "observed"]].tolist() == [0.0, False]  # nothing after entry
    out = cat.compute(
        "lm_months_to_employment", labour_tables, period=YEAR, data_end=date(2025, 12, 31)
    )
    # Kaplan-Meier: P5 censored at 0, at 2 months one of two at risk is employed: S = 0.5
    assert out.iloc[-1][["value", "n"]].tolist() == [2.0, 3]


def test_time_to_first_employment_stops_at_the_data_end(labour_tables):
    units = cat.lm_time_to_employment(labour_tables, YEAR, date(2024, 3, 31)).set_index("person_id")
    assert units.loc["P1", ["value", "observed"]].tolist() == [1.0, False]


def test_completion_share_and_flows(labour_tables):
    out = cat.compute("lm_completion_share", labour_tables, period=YEAR, group_by="project")
    assert by_group(out, "numerator") == {"anerkennung": 3, "jobeinstieg": 1, "total": 4}
    assert by_group(out, "denominator") == {"anerkennung": 3, "jobeinstieg": 2, "total": 5}
    entries = cat.compute("lm_entries", labour_tables, period=YEAR, group_by="target_group")
    assert by_group(entries) == {"eu_suedost": 1, "gefluechtete": 1, "ukraine": 3, "total": 5}


@given(
    st.lists(
        st.tuples(st.integers(0, 1), st.sampled_from(["a", "b", "c"]), st.integers(0, 5)),
        max_size=40,
    )
)
def test_statistics_are_consistent_over_groups(rows):
    units = pd.DataFrame(rows, columns=["numerator", "g", "unit"]).assign(denominator=1)
    shares = cat.summarise(units, "share", "g")
    groups, total = shares.iloc[:-1], shares.iloc[-1]
    assert groups["numerator"].sum() == total["numerator"] == units["numerator"].sum()
    assert total["n"] == len(units)
    known = shares.dropna(subset=["value"])
    assert (known["ci_low"] <= known["value"]).all() and (known["value"] <= known["ci_high"]).all()
    counts = cat.summarise(units, "count", "g")
    assert counts.iloc[-1]["value"] == units["unit"].nunique()
    assert counts.iloc[:-1]["value"].sum() >= counts.iloc[-1]["value"]


def test_notebook_recorded_entries_name_their_notebook(catalogue):
    """Estimates and official statistics are recorded by a notebook, never computed here."""
    recorded = [ind for ind in catalogue if ind.compute is None]
    assert {"lm_effect_employment", "sr_sgb2_share"} <= {ind.id for ind in recorded}
    notebooks = Path(__file__).resolve().parents[1] / "notebooks"
    for ind in recorded:
        assert (notebooks / ind.recorded_by).exists(), ind.id
        assert f'"{ind.id}' in (notebooks / ind.recorded_by).read_text() or ind.id.startswith(
            "sr_"
        ), ind.id
        with pytest.raises(ValueError, match="read it from the history"):
            cat.compute(ind.id, {}, period=YEAR)


def test_an_estimate_without_a_notebook_is_rejected(tmp_path):
    entry = dedent(
        """
        version: 1
        indicators:
          - id: lm_x
            label: {de: X, en: X}
            field: Arbeitsmarktintegration
            level: 6
            iooi: outcome
            definition: {de: X, en: X}
            numerator: X
            denominator: null
            unit: coefficient
            unit_kind: persons
            kind: estimate
            compute: null
            groups: []
            tables: [enrolments]
        """
    )
    (tmp_path / "c.yml").write_text(entry)
    with pytest.raises(cat.CatalogueError, match="recorded_by: name the notebook"):
        cat.load_catalogue(tmp_path / "c.yml")


def test_recorded_groups_cannot_be_recovered_from_the_total():
    """One suppressed group plus a recorded total would give it away: a second one is hidden."""
    result = pd.DataFrame(
        {
            "group_var": ["migration_history", "migration_history", "migration_history", ""],
            "group_value": ["yes", "no", "unknown", ""],
            "value": [3.0, 40.0, 12.0, 55.0],
            "n": [3, 40, 12, 55],
            "ci_low": [None] * 4,
            "ci_high": [None] * 4,
        }
    )
    flags = cat.suppressed(result, cat.SuppressionRule(threshold=5))
    assert flags[0], "primary"
    assert flags.sum() >= 2 and not flags[3], "a complement is hidden, the total stays"
    overlapping = result.assign(n=[3, 40, 30, 55], value=[3.0, 40.0, 30.0, 55.0])
    assert cat.suppressed(overlapping, cat.SuppressionRule(threshold=5)).tolist() == [
        True,
        False,
        False,
        False,
    ]
