"""Parent-work views: reader tables, charts and estimates on hand-made tables with known
answers and on the demo data, and the notebook in report mode for the branches its defaults
do not reach."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaluation import estimators
from evaluation.demo import PLANTED
from evaluation.disclosure import suppress_frame
from evaluation.execute import ENV_REPORT_MODE, ENV_RUN_DIR, FIGURES_FILE
from evaluation.indicators import catalogue as cat
from evaluation.indicators import parents
from evaluation.notebook import Context
from evaluation.protection.model import Release
from evaluation.protection.release import Publisher, frame_cells
from evaluation.protection.solver import audit
from evaluation.protection.solver import protect as protect_release
from evaluation.views import parents as views
from tests.conftest import make_context  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "parent_work.ipynb"


context = make_context


def protect(table: views.ReaderTable, ctx: Context):
    """What ``ctx.indicator_table`` does, without displaying."""
    options = {k: v for k, v in table.options.items() if k != "hide"}
    return suppress_frame(
        table.frame,
        rule=ctx.rule,
        total_label=ctx.t("total"),
        caption="test",
        language=ctx.language,
        **options,
    )


# ---- hand-made tables --------------------------------------------------------------------------

# person: (cycle, arm, sessions attended, FSW before, FSW after or None, school contact before/after)
PEOPLE = {
    "P1": ("C1", "teilnahme", 10, 3, 4, (False, True)),
    "P2": ("C1", "teilnahme", 8, 2, 4, (False, True)),
    "P3": ("C1", "teilnahme", 6, 4, 4, (True, True)),
    "P4": ("C1", "teilnahme", 4, 3, None, (False, None)),
    "P5": ("C1", "teilnahme", 2, 2, None, (False, None)),
    "P6": ("C1", "teilnahme", 9, 3, 5, (False, False)),
    "W1": ("C1", "wartegruppe", 0, 3, 3, (False, False)),
    "W2": ("C1", "wartegruppe", 0, 4, 5, (True, True)),
    "W3": ("C1", "wartegruppe", 0, 2, 2, (False, False)),
    "W4": ("C1", "wartegruppe", 0, 3, None, (False, None)),
    "Q1": ("C2", "teilnahme", 5, 3, 3, (False, True)),
    "Q2": ("C2", "teilnahme", 7, 4, 5, (True, True)),
    "Q3": ("C2", "teilnahme", 3, 2, None, (False, None)),
    "Z1": ("C0", "teilnahme", 9, 1, 6, (False, True)),
}


def _survey(person, cycle, wave, score, school):
    row = {"person_id": person, "cycle_id": cycle, "wave": wave, "survey_date": pd.NaT}
    row |= {item: score for item in parents.FSW_ITEMS}
    return row | {
        "school_contact": school,
        "parent_evening": school,
        "kita_enrolled": pd.NA if person.startswith("Q") else school,
        "german_course": not school,
    }


@pytest.fixture
def tables():
    """C1 (Feb–May 2024, waiting list drawn), C2 (Sep–Dec 2024, none), C0 (2023)."""
    groups = pd.DataFrame(
        {
            "cycle_id": ["C0", "C1", "C2"],
            "group_name": ["Elterncafé", "Elterncafé", "Eltern-Kind-Gruppe"],
            "stadtteil": ["401", "401", "403"],
            "start_date": pd.to_datetime(["2023-09-01", "2024-02-01", "2024-09-01"]),
            "end_date": pd.to_datetime(["2023-12-01", "2024-05-01", "2024-12-01"]),
            "sessions_planned": [10, 10, 10],
            "waitlist_design": [False, True, False],
        }
    )
    enrolments = pd.DataFrame(
        {
            "enrolment_id": [f"T{i}" for i in range(len(PEOPLE))],
            "person_id": list(PEOPLE),
            "project": "elternarbeit",
            "cycle_id": [p[0] for p in PEOPLE.values()],
            "arm": [p[1] for p in PEOPLE.values()],
            "sessions_attended": pd.array([p[2] for p in PEOPLE.values()], dtype="Int64"),
        }
    )
    participants = pd.DataFrame({"person_id": list(PEOPLE), "target_group": "ukraine"})
    rows = []
    for person, (cycle, _, _, pre, post, school) in PEOPLE.items():
        rows.append(_survey(person, cycle, "pre", pre, school[0]))
        if post is not None:
            rows.append(_survey(person, cycle, "post", post, school[1]))
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


def cycle_table(tables, ctx):
    cycles = parents.cycles_ending(tables["parent_groups"], ctx.period)
    enrolled = parents.enrolled(tables, ctx.period)
    attendance = cat.compute("par_attendance", tables, period=ctx.period, group_by="cycle_id")
    return views.cycle_table(cycles, enrolled, attendance, ctx)


def test_cycle_table_counts_both_arms_and_mean_attendance_per_cycle(tables):
    ctx = context(threshold=1)
    table = cycle_table(tables, ctx)
    frame = table.frame.set_index("Gruppenzyklus")
    assert list(frame.index) == [
        "Elterncafé, 01.02.–01.05.2024",
        "Eltern-Kind-Gruppe, 01.09.–01.12.2024",
        "Gesamt",
    ]
    assert frame["Teilnehmende Eltern"].tolist() == [6, 3, 9]
    assert frame["Wartegruppe (ausgelost)"].tolist() == [4, 0, 4]
    assert frame["Anwesenheit (Anteil der Treffen)"].tolist() == pytest.approx([0.65, 0.5, 0.6])
    shown = protect(table, ctx)
    assert shown.n_suppressed == 0


def test_cycle_table_protects_small_cycles_and_drops_an_empty_waiting_list(tables):
    ctx = context(threshold=5)
    shown = protect(cycle_table(tables, ctx), ctx)
    values = shown.values.set_index("Gruppenzyklus")
    # C2 has 3 participants: suppressed with its attendance, and C1 as complement
    assert values["Teilnehmende Eltern"].isna().tolist() == [True, True, False]
    assert values["Anwesenheit (Anteil der Treffen)"].isna().tolist() == [True, True, False]
    # waiting list: 4 in C1 and 0 in C2, both sensitive or recomputable from the total 4
    assert pd.isna(values.loc["Gesamt", "Wartegruppe (ausgelost)"])
    no_waitlist = tables["enrolments"][tables["enrolments"]["arm"] == "teilnahme"]
    table = cycle_table({**tables, "enrolments": no_waitlist}, ctx)
    assert "Wartegruppe (ausgelost)" not in table.frame.columns
    empty = {**tables, "parent_groups": tables["parent_groups"].iloc[:1]}
    assert cycle_table(empty, ctx) is None


def attrition_units(tables, ctx):
    entry = cat.load_catalogue().get("par_attrition")
    return cat.unit_frame(entry, tables, period=ctx.period)


def test_attrition_by_arm_and_who_dropped_out(tables):
    ctx = context(threshold=1)
    result = views.attrition_by_arm(attrition_units(tables, ctx))
    assert list(result.index) == ["teilnahme", "wartegruppe", "total"]
    assert result["with_pre"].tolist() == [9, 4, 13]
    assert result["no_post"].tolist() == [3, 1, 4]
    assert result["stayed"].tolist() == [6, 3, 9]
    assert result["share"].tolist() == pytest.approx([1 / 3, 1 / 4, 4 / 13])
    # the same shares and intervals as the catalogue's par_attrition
    recorded = cat.compute("par_attrition", tables, period=ctx.period, group_by="arm")
    assert result["ci_low"].to_numpy() == pytest.approx(recorded["ci_low"].to_numpy())
    # participants who stayed attended (10+8+6+9+5+7)/60, those who left (4+2+3)/30
    assert result.loc["teilnahme", "attendance_stayed"] == pytest.approx(0.75)
    assert result.loc["teilnahme", "attendance_left"] == pytest.approx(0.3)
    assert result.loc[["wartegruppe", "total"], "attendance_left"].isna().all()


def test_attrition_table_protects_small_groups_and_explains_complete_cases(tables):
    ctx = context(threshold=3)
    table = views.attrition_table(attrition_units(tables, ctx), ctx)
    assert table.options["hide"] == ["mit Nachher-Befragung"]
    shown = protect(table, ctx)
    values = shown.values.set_index("Gruppe")
    # waiting list: 1 without post survey -> hidden, and its share; participants as complement
    assert pd.isna(values.loc["Wartegruppe", "ohne Nachher-Befragung"])
    assert pd.isna(values.loc["Wartegruppe", "Ausfall"])
    assert pd.isna(values.loc["Teilnahme", "ohne Nachher-Befragung"])
    # the attendance of those who left rests on those who left
    assert pd.isna(values.loc["Teilnahme", "Anwesenheit der Teilnehmenden ohne Nachher-Befragung"])
    note = views.attrition_note(shown, ctx)
    assert "vollständige Fälle" in note and "Wartegruppe" in note
    assert "im Mittel" not in note  # no figure from a hidden cell
    ctx = context(threshold=1)
    note = views.attrition_note(protect(table, ctx), ctx)
    assert "im Mittel 30\u00a0% der Treffen" in note and "75\u00a0%" in note


def test_attrition_table_with_one_arm_has_no_total_row(tables):
    ctx = context(threshold=1)
    units = attrition_units(tables, ctx)
    table = views.attrition_table(units[units["arm"] == "teilnahme"], ctx)
    assert table.frame["Gruppe"].tolist() == ["Teilnahme"]
    assert "complementary_within" not in table.options
    note = views.attrition_note(protect(table, ctx), ctx)
    assert "Wartegruppe" not in note
    assert views.attrition_table(units.iloc[:0], ctx) is None


def fsw_results(tables, ctx):
    return [
        cat.compute(f"par_fsw_{wave}", tables, period=ctx.period, group_by="arm")
        for wave in ("pre", "post", "change")
    ]


def test_fsw_table_and_chart(tables):
    ctx = context(threshold=1)
    table = views.fsw_table(*fsw_results(tables, ctx), ctx)
    frame = table.frame.set_index("Gruppe")
    assert list(frame.index) == ["Teilnahme", "Wartegruppe"]
    assert frame["Eltern mit beiden Befragungen"].tolist() == [6, 3]
    assert frame["vorher"].tolist() == pytest.approx([19 / 6, 3.0])
    assert frame["Veränderung"].tolist() == pytest.approx([1.0, 1 / 3])
    assert set(table.options["hide"]) <= set(table.options["derived"])
    fig = views.fsw_chart(protect(table, ctx), ctx)
    assert [trace.name for trace in fig.data] == ["vorher", "nachher"]
    assert list(fig.data[1].y) == pytest.approx([25 / 6, 10 / 3])
    assert tuple(fig.layout.yaxis.range) == (1, 6)


def test_fsw_chart_draws_no_value_of_a_small_group(tables):
    ctx = context(threshold=5)
    shown = protect(views.fsw_table(*fsw_results(tables, ctx), ctx), ctx)
    fig = views.fsw_chart(shown, ctx)
    for trace in fig.data:  # 6 participants shown, 3 on the waiting list hidden
        assert trace.y[0] > 0 and (trace.y[1] is None or np.isnan(trace.y[1]))
        assert list(trace.text) == [None, "*"]
        assert trace.error_y.array[1] is None or np.isnan(trace.error_y.array[1])
    empty = cat.compute("par_fsw_change", tables, period=context(year=2022).period, group_by="arm")
    assert views.fsw_table(empty, empty, empty, ctx) is None


def item_results(tables, ctx):
    return {
        item: tuple(
            cat.compute(i, tables, period=ctx.period, group_by="arm") for i in views.item_ids(item)
        )
        for item in views.ITEMS
    }


def test_items_table_shows_shares_before_and_after_per_question_and_arm(tables):
    ctx = context(threshold=1)
    table = views.items_table(item_results(tables, ctx), ctx)
    frame = table.frame.set_index(["Frage", "Gruppe"])
    school = frame.loc[("Kontakt zu Lehrkräften", "Teilnahme")]
    assert school["Eltern mit Antwort vorher und nachher"] == 6
    assert school["vorher"] == pytest.approx(2 / 6)
    assert school["nachher"] == pytest.approx(5 / 6)
    # Q parents do not answer the Kita question
    assert (
        frame.loc[("Kind besucht eine Kita", "Teilnahme"), "Eltern mit Antwort vorher und nachher"]
        == 4
    )
    assert frame.loc[("Besuch eines Deutschkurses", "Wartegruppe"), "vorher"] == pytest.approx(
        2 / 3
    )
    assert set(table.options["hide"]) == {
        "vorher: ja",
        "nachher: ja",
        "vorher: 95-%-KI unten",
        "vorher: 95-%-KI oben",
        "nachher: 95-%-KI unten",
        "nachher: 95-%-KI oben",
    }
    fig = views.items_chart(protect(table, ctx), ctx)
    assert [t.name for t in fig.data] == [
        "Teilnahme: vorher",
        "Teilnahme: nachher",
        "Wartegruppe: vorher",
        "Wartegruppe: nachher",
    ]
    assert list(fig.data[0].x) == [views.term(i, ctx) for i in views.ITEMS]


def test_items_table_hides_shares_with_small_numerators(tables):
    ctx = context(threshold=2)
    shown = protect(views.items_table(item_results(tables, ctx), ctx), ctx)
    values = shown.values.set_index(["Frage", "Gruppe"])
    # waiting list, teachers before: 1 of 3 said yes (numerator 1 is sensitive)
    assert pd.isna(values.loc[("Kontakt zu Lehrkräften", "Wartegruppe"), "vorher"])
    # participants, teachers after: 5 of 6, remainder 1 is sensitive
    assert pd.isna(values.loc[("Kontakt zu Lehrkräften", "Teilnahme"), "nachher"])
    assert values.loc[("Kontakt zu Lehrkräften", "Teilnahme"), "vorher"] == pytest.approx(2 / 6)


def test_estimates_match_the_estimators_and_are_withheld_for_small_groups(tables):
    ctx = context(threshold=1)
    panel = views.fsw_panel(tables, ctx.period)
    items = views.pre_items(tables, ctx.period)
    assert len(items) == 13  # every pre survey of the two cycles, not C0
    sizes = views.effect_sizes(panel, ctx).set_index("group_value")
    g = estimators.prepost(panel[panel["arm"] == "teilnahme"], pre="fsw_pre", post="fsw_post")
    expected = g.tidy().set_index("term").loc["hedges_g_rm"]
    assert sizes.loc["teilnahme", "estimate"] == pytest.approx(expected["estimate"])
    assert sizes.loc["teilnahme", "ci_low"] == pytest.approx(expected["ci_low"])
    assert sizes.loc["teilnahme", "n"] == 6 and sizes["shown"].all()
    assert set(sizes["indicator_id"]) == {"par_hedges_g"}

    randomised = views.randomised_cycles(
        parents.cycles_ending(tables["parent_groups"], ctx.period),
        parents.enrolled(tables, ctx.period),
    )
    assert randomised == ["C1"]
    assigned = parents.assigned(tables, ctx.period, randomised)
    outside = views.outside_participants(panel, randomised)
    assert outside == 2  # Q1 and Q2 of C2 answered both surveys
    trial = views.trial_analysis(assigned, ctx, outside=outside, imputations=5)
    rows = trial.estimates.set_index("group_value")
    # complete cases of C1: participants 3->4, 2->4, 4->4, 3->5; waiting list 3->3, 4->5, 2->2
    import statsmodels.formula.api as smf

    cc = pd.DataFrame(
        {"post": [4, 4, 4, 5, 3, 5, 2], "pre": [3, 2, 4, 3, 3, 4, 2], "d": [1, 1, 1, 1, 0, 0, 0]}
    )
    expected = smf.ols("post ~ d + pre", cc).fit(cov_type="HC1", use_t=True)
    assert rows.loc["complete_case", "estimate"] == pytest.approx(expected.params["d"])
    assert rows.loc["complete_case", "ci_low"] == pytest.approx(expected.conf_int().loc["d", 0])
    assert rows.loc["complete_case", "n"] == 7 and rows.loc["", "n"] == 10
    assert trial.clusters == 1 and not trial.bootstrap and trial.missing == 3
    assert set(trial.estimates["indicator_id"]) == {"par_waitlist_effect"}

    ctx3 = context(threshold=3)
    withheld = views.trial_analysis(assigned, ctx3, outside=outside, imputations=5)
    # arms of 4 and 3 complete cases pass, but the 2 participants of C2 would follow from
    # published means
    assert not withheld.estimates["shown"].any() and withheld.estimates["estimate"].isna().all()
    assert "nicht ausgewiesen" in views.withheld_notes(withheld.estimates)
    ctx5 = context(threshold=5)
    sizes = views.effect_sizes(panel, ctx5)
    assert sizes["shown"].tolist() == [True, False]
    alpha = views.reliability(items, ctx5)
    assert alpha["shown"].all()  # 13 parents
    assert not views.reliability(items.iloc[:4], ctx5)["shown"].any()
    notes = views.withheld_notes(sizes)
    assert "Hedges' g der Vorher-nachher-Veränderung: Wartegruppe wird nicht ausgewiesen" in notes
    assert "weniger als 5 Eltern" in notes
    assert views.trial_analysis(parents.assigned(tables, ctx.period, []), ctx) is None


def test_estimate_table_shows_only_what_may_be_shown(tables):
    ctx = context(threshold=5)
    panel = views.fsw_panel(tables, ctx.period)
    estimates = views.combine(
        views.reliability(views.pre_items(tables, ctx.period), ctx),
        views.effect_sizes(panel, ctx),
    )
    table = views.estimate_table(estimates, ctx)
    assert table.frame["Größe"].tolist() == [
        "Cronbachs Alpha der FSW-Skala (Vorher-Befragung)",
        "Hedges' g der Vorher-nachher-Veränderung: Teilnahme",
    ]
    assert table.options["n"] == "Anzahl Eltern"
    shown = protect(table, ctx)
    assert shown.n_suppressed == 0
    assert list(shown.to_frame()["Anzahl Eltern"]) == ["13", "6"]
    assert views.estimate_table(estimates.assign(shown=False), ctx) is None


def test_effect_sentence_reads_the_interval(tables):
    ctx = context(threshold=1)
    assigned = parents.assigned(tables, ctx.period, ["C1"])
    trial = views.trial_analysis(assigned, ctx, imputations=5)
    shown = protect(views.estimate_table(trial.estimates, ctx), ctx)
    sentence = views.effect_sentence(shown, ctx)
    assert sentence.startswith("**Hauptschätzung:** Am Ende des Zyklus lag die Selbstwirksamkeit")
    primary = trial.estimates.iloc[0]
    size = views.labels.format_number(abs(primary["estimate"]), 2, "de")
    assert f"um {size} Skalenpunkte" in sentence
    assert "Lee-Schranken" in sentence and "Manski-Schranken" in sentence
    assert "zwischen" in sentence and " und " in sentence
    if primary["ci_low"] < 0 < primary["ci_high"]:
        assert "schließt null ein" in sentence
    en = context("en", threshold=1)
    trial_en = views.trial_analysis(assigned, en, imputations=5)
    english = views.effect_sentence(protect(views.estimate_table(trial_en.estimates, en), en), en)
    assert english.startswith("**Main estimate:**") and "Lee bounds" in english


def test_definitions_name_the_level_and_cover_the_new_estimates():
    ctx = context()
    text = views.definitions(["par_fsw_change", "par_attrition"], ctx)
    assert "**Veränderung der Selbstwirksamkeit in der Erziehung (FSW)**" in text
    assert (
        "(Wirkungstreppe Stufe 4 „Zielgruppen verändern Bewusstsein bzw. Fähigkeiten“, Outcome)"
        in text
    )
    assert "(Kontext- oder Qualitätsangabe)" in text
    for ident in ("par_hedges_g", "par_fsw_alpha", "par_waitlist_effect"):
        label, definition, _ = views.indicator_text(ident, ctx)
        assert label and definition
        assert views.indicator_text(ident, context("en"))[0] != label
    assert "Stufe 5 „Zielgruppen ändern ihr Handeln“" in views.items_definition(ctx)


# ---- demo data -----------------------------------------------------------------------------------


def build_all(tables, ctx):
    """Every reader table, chart and estimate of the notebook, as the notebook builds them."""
    cycles = parents.cycles_ending(tables["parent_groups"], ctx.period)
    enrolled = parents.enrolled(tables, ctx.period)
    out = {"cycles": cycle_table(tables, ctx)}
    out["attrition"] = views.attrition_table(attrition_units(tables, ctx), ctx)
    panel = views.fsw_panel(tables, ctx.period)
    out["fsw"] = views.fsw_table(*fsw_results(tables, ctx), ctx, panel=panel)
    out["items"] = views.items_table(
        item_results(tables, ctx), ctx, panel=parents.panel(tables, ctx.period)
    )
    out["estimates"] = views.combine(
        views.reliability(views.pre_items(tables, ctx.period), ctx),
        views.effect_sizes(panel, ctx),
    )
    randomised = views.randomised_cycles(cycles, enrolled)
    assigned = parents.assigned(tables, ctx.period, randomised)
    out["consort"] = views.consort_table(assigned, ctx) if randomised else None
    out["trial"] = views.trial_analysis(
        assigned, ctx, outside=views.outside_participants(panel, randomised), imputations=5
    )
    return out


@pytest.mark.parametrize("language", ["de", "en"])
def test_views_build_on_the_demo_data_for_2024(demo_tables, language):
    ctx = context(language)
    built = build_all(demo_tables, ctx)
    period = ctx.period
    reached = cat.compute("par_reached", demo_tables, period=period, group_by="arm")
    cycles = built["cycles"].frame
    assert len(cycles) == 5  # four cycles and the total
    assert cycles.iloc[-1, 1] == reached.loc[reached["group_value"] == "teilnahme", "n"].item()
    assert cycles.iloc[-1, 2] == reached.loc[reached["group_value"] == "wartegruppe", "n"].item()
    attrition = cat.compute("par_attrition", demo_tables, period=period)
    assert built["attrition"].frame.iloc[-1, 1] == attrition["denominator"].item()
    assert built["attrition"].frame.iloc[-1, 2] == attrition["numerator"].item()
    for name in ("cycles", "attrition", "fsw", "items"):
        shown = protect(built[name], ctx)
        assert "<table" in shown.to_html()
    fig = views.fsw_chart(protect(built["fsw"], ctx), ctx)
    assert len(fig.data) == 2 and len(fig.data[0].x) == 2
    fig = views.items_chart(protect(built["items"], ctx), ctx)
    assert len(fig.data) == 4
    assert len(built["items"].frame) == 8  # four questions, two arms

    estimates = built["estimates"].set_index(["indicator_id", "group_value"])
    assert estimates["shown"].all()
    alpha = estimates.loc[("par_fsw_alpha", "")]
    assert alpha["ci_low"] <= PLANTED.fsw_alpha <= alpha["ci_high"]
    g = estimates.loc[("par_hedges_g", "teilnahme"), "estimate"]
    assert g > estimates.loc[("par_hedges_g", "wartegruppe"), "ci_high"]
    effect = built["trial"].estimates.iloc[0]
    planted = PLANTED.fsw_change_participants - PLANTED.fsw_change_waitlist
    assert effect["shown"] and effect["ci_low"] <= planted <= effect["ci_high"]
    # the primary estimate rests on every parent assigned (the CONSORT table's total)
    consort = built["consort"].frame
    assert effect["n"] == consort.iloc[-1, 1]
    table = views.estimate_table(views.combine(built["estimates"], built["trial"].estimates), ctx)
    assert len(table.frame) == 3 + 6 and protect(table, ctx).n_suppressed == 0


def test_views_on_the_demo_data_before_the_waiting_list(demo_tables):
    ctx = context(year=2019)
    built = build_all(demo_tables, ctx)
    assert "Wartegruppe (ausgelost)" not in built["cycles"].frame.columns
    assert built["fsw"].frame["Gruppe"].tolist() == ["Teilnahme"]
    assert built["trial"] is None and built["consort"] is None
    assert built["estimates"]["group_value"].tolist() == ["", "teilnahme"]
    # two cycles of 2019 had a single parent: hidden, with a complement
    shown = protect(built["cycles"], ctx)
    assert shown.values["Teilnehmende Eltern"].isna().sum() >= 2


# ---- the notebook --------------------------------------------------------------------------------


def run_notebook(tmp_path: Path, **parameters) -> list[dict]:
    """Execute the notebook in report mode (raw tables fail the run); return its figures."""
    out = tmp_path / "out.ipynb"
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    env = {**os.environ, ENV_REPORT_MODE: "1", ENV_RUN_DIR: str(run_dir)}
    args = [str(Path(sys.executable).parent / "papermill"), str(NOTEBOOK), str(out)]
    for key, value in parameters.items():
        args += ["-p", key, str(value)]
    result = subprocess.run(
        args, capture_output=True, text=True, timeout=300, env=env, cwd=NOTEBOOK.parent
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = run_dir / FIGURES_FILE
    return json.loads(figures.read_text()) if figures.exists() else []


@pytest.mark.slow
@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        # before the waiting list, in English, with a stricter threshold
        (
            {
                "period_start": "2019-01-01",
                "period_end": "2019-12-31",
                "language": "en",
                "suppression_threshold": 10,
            },
            {"par_hedges_g", "par_fsw_alpha"},
        ),
        # a quarter in which no cycle ends
        ({"period_start": "2024-01-01", "period_end": "2024-03-31"}, {"par_fsw_alpha"}),
        # estimates withheld for the waiting list
        ({"suppression_threshold": 20}, {"par_hedges_g", "par_fsw_alpha", "par_waitlist_effect"}),
    ],
)
def test_notebook_runs_in_report_mode_for_other_periods(tmp_path, parameters, expected):
    figures = run_notebook(tmp_path, **parameters)
    ids = {f["indicator_id"] for f in figures}
    assert {"par_cycles", "par_reached", "par_fsw_change", "par_kita_post"} <= ids
    assert {"par_hedges_g", "par_fsw_alpha", "par_waitlist_effect"} & ids == expected
    if parameters.get("suppression_threshold") == 20:
        withheld = [
            f
            for f in figures
            if f["indicator_id"] in ("par_waitlist_effect", "par_hedges_g") and f["suppressed"]
        ]
        assert {f["indicator_id"] for f in withheld} == {"par_waitlist_effect", "par_hedges_g"}


def test_combine_keeps_the_estimate_columns_with_empty_frames(tables):
    ctx = context()
    alpha = views.reliability(views.pre_items(tables, ctx.period).iloc[:0], ctx)
    out = views.combine(
        alpha, views.effect_sizes(views.fsw_panel(tables, ctx.period).iloc[:0], ctx)
    )
    assert list(out.columns) == views.ESTIMATE_COLUMNS
    assert out["indicator_id"].tolist() == ["par_fsw_alpha"] and out["shown"].dtype == bool


# ---- units for the release audit -------------------------------------------------------------


def cells_of(name: str, table: views.ReaderTable, ctx: Context, *, units=True):
    """The release cells of a table as ``ctx.indicator_table`` builds them (raises if the
    units do not reproduce the table)."""
    shown = protect(table, ctx)
    formats = list(zip(shown.values.columns, shown.formats, strict=True))
    within = table.options.get("complementary_within") or ()
    cells, _ = frame_cells(
        name,
        table.frame,
        shown.mask,
        counts=[c for c, f in formats if f.kind == "count"],
        keys=[c for c, f in formats if f.kind == "label"],
        partitions=[within] if isinstance(within, str) else list(within),
        total_label=ctx.t("total"),
        units=table.units if units else None,
    )
    return cells, _


@pytest.mark.parametrize("year", [2019, 2023, 2024])
def test_units_reproduce_every_table_on_the_demo_data(demo_tables, year):
    ctx = context(year=year)
    built = build_all(demo_tables, ctx)
    built["estimates"] = views.estimate_table(built["estimates"], ctx)
    trial = built.pop("trial")
    built["effect"] = views.estimate_table(trial.estimates, ctx) if trial is not None else None
    checked = 0
    for name, table in built.items():
        if table is None:
            continue
        assert table.units is not None, name
        assert table.units["unit"].str.startswith("person:").all()
        cells, weights = cells_of(name, table, ctx)
        assert not weights  # tied to units, not synthetic
        assert sum(c.value for c in cells) > 0
        checked += 1
    assert checked >= 5
    # the same parent is the same unit in every table (registration ids of the period)
    enrolled = parents.enrolled(demo_tables, ctx.period)
    ids = set(enrolled["registration"])
    for table in built.values():
        if table is not None:
            assert set(table.units["unit"]) <= ids


def test_units_that_miss_a_parent_are_refused(tables):
    ctx = context(threshold=1)
    table = views.fsw_table(
        *fsw_results(tables, ctx), ctx, panel=views.fsw_panel(tables, ctx.period)
    )
    cells_of("fsw", table, ctx)
    short = views.ReaderTable(table.frame, table.options, table.units.iloc[1:])
    with pytest.raises(ValueError, match="do not describe"):
        cells_of("fsw", short, ctx)


def test_a_parent_in_two_cycles_of_the_period_counts_once_per_cycle(tables):
    """The total sums registrations: a parent in C1 and C2 is two units of the cycle table."""
    tables = dict(tables)
    extra = tables["enrolments"].iloc[[0]].assign(enrolment_id="T99", cycle_id="C2")
    tables["enrolments"] = pd.concat([tables["enrolments"], extra], ignore_index=True)
    ctx = context(threshold=1)
    enrolled = parents.enrolled(tables, ctx.period)
    p1 = enrolled.loc[enrolled["person_id"] == "P1", "registration"]
    assert sorted(p1) == ["person:P1/cycle:C1", "person:P1/cycle:C2"]
    assert (enrolled.loc[enrolled["person_id"] == "P2", "registration"] == "person:P2").all()
    table = cycle_table(tables, ctx)
    assert table.frame.iloc[-1, 1] == 10  # 9 participants, P1 twice
    cells, _ = cells_of("cycles", table, ctx)
    total = next(c for c in cells if c.key == (ctx.t("total"), "Teilnehmende Eltern"))
    assert total.value == len(total.units) == 10


def test_reached_minus_fsw_respondents_is_caught_only_with_units(tables):
    """Participants reached (9, cycle table) minus participants with both FSW scores (6, FSW
    table) leaves the 3 who dropped out: a small group that attrition hides on its own."""
    ctx = context(threshold=5)
    reach = cycle_table(tables, ctx)
    fsw = views.fsw_table(*fsw_results(tables, ctx), ctx, panel=views.fsw_panel(tables, ctx.period))
    assert protect(reach, ctx).values.iloc[-1]["Teilnehmende Eltern"] == 9
    assert (
        protect(fsw, ctx)
        .values.set_index("Gruppe")
        .loc["Teilnahme", "Eltern mit beiden Befragungen"]
        == 6
    )
    with_units = Release()
    without = Release()
    for name, table in (("reach", reach), ("fsw", fsw)):
        with_units.add(*cells_of(name, table, ctx))
        without.add(*cells_of(name, table, ctx, units=False))
    found = audit(with_units, threshold=5)
    groups = [f for f in found.findings if f.kind == "group"]
    assert groups and max(f.high for f in groups) < 5
    assert audit(without, threshold=5).passed  # without units the tables look unrelated
    _, added, final = protect_release(
        with_units, threshold=5, open_for_change=lambda c: c.table == "fsw"
    )
    assert final.passed and added and all(c.table == "fsw" for c in added)


def test_the_notebook_context_protects_the_second_table_against_the_first(tables, tmp_path):
    """Through ``ctx.indicator_table`` with a release store: the FSW table gets more cells
    hidden because the reach table was published before it in the same run."""
    ctx = context(threshold=5)
    ctx.publisher = Publisher(
        run_id="r1", run_key="parent_work/test", threshold=5, path=tmp_path / "release.sqlite"
    )
    reach = cycle_table(tables, ctx)
    fsw = views.fsw_table(*fsw_results(tables, ctx), ctx, panel=views.fsw_panel(tables, ctx.period))
    ctx.indicator_table(reach.frame, caption="reach", units=reach.units, **reach.options)
    shown = ctx.indicator_table(fsw.frame, caption="fsw", units=fsw.units, **fsw.options)
    alone = protect(fsw, ctx)
    n = "Eltern mit beiden Befragungen"
    assert shown.mask[n].sum() > alone.mask[n].sum()
