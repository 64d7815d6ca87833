"""Labour views of issue 10: BA-comparable quota table, Kaplan-Meier tables, pre-trend
sentence and the Prozentpunkte scale; unit frames reproduce the tables exactly."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from evaluation.indicators import catalogue, labour
from evaluation.views import labour as views
from tests.conftest import make_context
from tests.test_views_labour_release import cells_of


@pytest.fixture(scope="module")
def demo():
    ctx = make_context(year=2024)
    ctx.snapshot = "latest"
    return ctx, ctx.table("enrolments"), ctx.table("followups")


def test_quota_forms_table_has_the_ba_quota_and_the_bounds(demo):
    ctx, enrolments, followups = demo
    units = labour.followup_units_in_period(
        enrolments, followups, ctx.period, months=6, data_end=ctx.data_end
    )
    frame, options, unit_rows = views.quota_forms_table(units, ctx)
    total = frame.set_index(ctx.t("project")).loc[ctx.t("total")]
    due = units[units["due"]]
    # independent: every due exit in the denominator, unknown status never a success
    assert total["Austritte mit fälligem Stichtag"] == len(due)
    assert total["Eingliederungsquote BA-vergleichbar"] == pytest.approx(due["svb"].mean())
    best = (due["svb"] | ~due["known"]).mean()
    assert total["Eingliederungsquote, höchstens (alle unbekannten beschäftigt)"] == pytest.approx(
        best
    )
    known_only = due.loc[due["known"], "svb"].mean()
    assert total["Eingliederungsquote BA-vergleichbar"] <= known_only <= best
    cells, _ = cells_of("forms", frame, ctx, unit_rows, **options)
    assert cells and all(c.units for c in cells if c.value)


def test_a_quota_forms_unit_frame_missing_one_exit_is_refused(demo):
    ctx, enrolments, followups = demo
    units = labour.followup_units_in_period(
        enrolments, followups, ctx.period, months=6, data_end=ctx.data_end
    )
    frame, options, unit_rows = views.quota_forms_table(units, ctx)
    with pytest.raises(ValueError, match="the units do not describe this table"):
        cells_of("forms", frame, ctx, unit_rows.iloc[1:], **options)


@pytest.mark.parametrize(
    ("indicator_id", "group", "kind"), [("rec_months_km", "regulated", "case")]
)
def test_km_tables_are_reproduced_by_their_units(demo, indicator_id, group, kind):
    ctx = demo[0]
    result = catalogue.compute(
        indicator_id, ctx.table, period=ctx.period, group_by=group, data_end=ctx.data_end
    )
    frame, options = views.km_table(result, ctx, group=group)
    entry = catalogue.load_catalogue().get(indicator_id)
    units = catalogue.unit_frame(entry, ctx.table, period=ctx.period, data_end=ctx.data_end)
    cells, _ = cells_of(
        "km", frame, ctx, views.km_units(units, ctx, group=group, kind=kind), **options
    )
    assert sum(c.value for c in cells if c.key[0] == ctx.t("total")) == len(units)
    assert frame[ctx.t("n")].iloc[-1] == len(units)


def test_pretrend_sentence_gives_the_f_test_in_words_and_numbers():
    ctx = make_context()
    passed = SimpleNamespace(
        pretrend_wald=SimpleNamespace(stat=0.5012, pval=0.6043, df=2, df_denom=862)
    )
    text = views.pretrend_sentence(passed, ctx)
    assert "F(2, 862) = 0,50; p = 0,604" in text and "spricht nicht gegen" in text
    failed = SimpleNamespace(
        pretrend_wald=SimpleNamespace(stat=7.1, pval=0.001, df=2, df_denom=862)
    )
    assert "fraglich" in views.pretrend_sentence(failed, ctx)
    assert "nicht prüfen" in views.pretrend_sentence(SimpleNamespace(pretrend_wald=None), ctx)


def test_event_study_table_is_in_percentage_points():
    ctx = make_context()
    rows = pd.DataFrame(
        {
            "term": ["ATT", "e=0"],
            "estimate": [0.1256, 0.029],
            "ci_low": [0.0906, 0.004],
            "ci_high": [0.1606, 0.054],
            "n": [3648, 821],
        }
    )
    frame, options = views.event_study_table(SimpleNamespace(tidy=lambda: rows), ctx)
    assert frame.iloc[0, 1:4].tolist() == pytest.approx([12.56, 9.06, 16.06])
    assert frame.columns[1].endswith("(Pp.)") and options["decimals"] == 1


def test_sustained_employment_table_is_reproduced_by_its_units(demo):
    ctx = demo[0]
    result = catalogue.compute(
        "lm_sustained_employment_12m",
        ctx.table,
        period=ctx.period,
        group_by="target_group",
        data_end=ctx.data_end,
    )
    frame, options = views.sustained_table(result, ctx)
    entry = catalogue.load_catalogue().get("lm_sustained_employment_12m")
    units = catalogue.unit_frame(entry, ctx.table, period=ctx.period, data_end=ctx.data_end)
    cells, _ = cells_of("sustained", frame, ctx, views.sustained_units(units, ctx), **options)
    assert cells and all(c.units for c in cells if c.value)
    total = frame.iloc[-1]
    assert total[ctx.t("share")] == pytest.approx(units["numerator"].mean())
    spells = views.sustained_km_units(ctx)
    # the share's persons are the KM curve's entrants whose 14-month window is complete
    assert set(units["person_id"]) <= set(spells["person_id"])
