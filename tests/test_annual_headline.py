"""Annual headline (issue 10): the population the field figure names, changes with intervals,
BA-comparable quotas with their bounds, named levels, no internal ids, babel numbers."""

from __future__ import annotations

import pandas as pd
import pytest

from evaluation import annual, history, labels
from evaluation.disclosure import SuppressionRule

RULE = SuppressionRule(threshold=5)


def fig(indicator, year, value, n, *, group=("", ""), ci=(None, None), suppressed=False):
    return {
        "indicator_id": indicator,
        "period": str(year),
        "period_start": f"{year}-01-01",
        "period_end": f"{year}-12-31",
        "group_var": group[0],
        "group_value": group[1],
        "value": value,
        "n": n,
        "ci_low": ci[0],
        "ci_high": ci[1],
        "suppressed": suppressed,
    }


TEIL, WARTE = ("arm", "teilnahme"), ("arm", "wartegruppe")


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "h.sqlite"
    history.commit_figures(
        [
            fig("par_fsw_change", 2023, 0.29, 49, group=TEIL, ci=(0.13, 0.46)),
            fig("par_fsw_change", 2023, 0.22, 63, ci=(0.07, 0.36)),
            fig("lm_participants", 2023, 298, 298),
            fig("lm_eingliederungsquote_6m", 2023, 56 / 70, 70),
        ],
        run_id="a",
        run_key="k/2023",
        snapshot_id="s",
        db=path,
    )
    history.commit_figures(
        [
            # pooled 0.40, participants 0.56, waiting list -0.06: the headline is 0.56
            fig("par_fsw_change", 2024, 0.40, 80, ci=(0.25, 0.55)),
            fig("par_fsw_change", 2024, 0.56, 60, group=TEIL, ci=(0.40, 0.72)),
            fig("par_fsw_change", 2024, -0.06, 20, group=WARTE, ci=(-0.3, 0.2)),
            fig("par_waitlist_effect", 2024, 0.358, 63, ci=(0.069, 0.6475)),
            fig("par_kita_post", 2024, 0.7, 21),
            fig("par_kita_post", 2024, None, None, group=TEIL, suppressed=True),
            fig("lm_participants", 2024, 291, 291),
            fig("lm_eingliederungsquote_6m", 2024, 48 / 80, 80),
            fig("lm_eingliederungsquote_ba_6m", 2024, 63 / 211, 211, ci=(0.24, 0.36)),
            fig("lm_eingliederungsquote_6m", 2025, 63 / 175, 175),
        ],
        run_id="b",
        run_key="k/2024",
        snapshot_id="s",
        db=path,
    )
    return path


IDS = {
    "Elternarbeit": ("par_fsw_change", "par_waitlist_effect", "par_kita_post"),
    "Arbeitsmarktintegration": (
        "lm_participants",
        "lm_eingliederungsquote_6m",
        "lm_completion_share",
    ),
}


def table(db, year=2024):
    figures = annual.Figures.read(until=year, db=db)
    return annual.headline(figures, year, rule=RULE, ids=IDS).set_index("indicator_id")


def test_parents_headline_is_the_participants_figure_not_the_pooled_one(db):
    t = table(db)
    row = t.loc["par_fsw_change"]
    assert (row["value"], row["n"]) == (pytest.approx(0.56), 60)
    assert (row["group_var"], row["group_value"]) == TEIL
    assert row["population"] == "Teilnehmende"
    assert row["previous"] == pytest.approx(0.29)  # last year's participants, not the pool
    # a suppressed participants' row stays hidden: the pooled figure does not stand in for it
    assert t.loc["par_kita_post", "suppressed"] and pd.isna(t.loc["par_kita_post", "value"])


def test_estimates_are_shown_with_their_interval(db):
    html = annual.reader_table(table(db).reset_index(), 2024, rule=RULE).to_html()
    assert "0,36 (0,07 bis 0,65)" in html  # the waiting-list effect with its interval
    assert "Veränderung der Selbstwirksamkeit" in html and "Teilnehmende" in html


def test_share_changes_carry_newcombes_interval_and_say_whether_more_than_chance(db):
    # Newcombe (1998) Table II, method 10: 56/70 - 48/80 -> 0.0524 to 0.3339; here the
    # change is 2024 (48/80) minus 2023 (56/70), the same interval mirrored
    row = table(db).loc["lm_eingliederungsquote_6m"]
    assert row["change"] == pytest.approx(48 / 80 - 56 / 70)
    assert (row["change_low"], row["change_high"]) == (
        pytest.approx(-0.3339, abs=1e-4),
        pytest.approx(-0.0524, abs=1e-4),
    )
    assert row["more_than_chance"] and row["change_method"] == "newcombe"
    html = annual.reader_table(table(db).reset_index(), 2024, rule=RULE).to_html()
    assert "-20,0\u00a0Pp. (-33,4\u00a0Pp. bis -5,2\u00a0Pp.)" in html
    assert "Mehr als Zufall?" in html


def test_counts_are_complete_counts_and_estimates_use_their_intervals(db):
    t = table(db)
    assert t.loc["lm_participants", "change"] == -7
    assert t.loc["lm_participants", "change_method"] == "census"
    assert t.loc["lm_participants", "more_than_chance"] is None
    fsw = t.loc["par_fsw_change"]  # 0.56 (0.40-0.72) against 0.29 (0.13-0.46)
    se = ((0.32 / 2 / 1.959964) ** 2 + (0.33 / 2 / 1.959964) ** 2) ** 0.5
    assert fsw["change_method"] == "intervals"
    assert fsw["change_low"] == pytest.approx(0.27 - 1.959964 * se, abs=1e-6)
    assert fsw["more_than_chance"] is True  # 0.27 +- 0.226 excludes 0


def test_a_change_within_chance_says_so():
    now = pd.Series({"value": 1.0, "n": 40, "ci_low": 0.02, "ci_high": 1.98})
    before = pd.Series({"value": 0.0, "n": 40, "ci_low": -0.98, "ci_high": 0.98})
    change = annual.change_of(now, before, "mean", "scale_points")
    assert change.p_value == pytest.approx(0.1573, abs=1e-4)
    assert change.more_than_chance is False
    row = {"change": 1.0, "change_method": "intervals", "more_than_chance": False}
    assert annual.chance_text(row, "de") == "nein, im Rahmen des Zufalls"
    share_now = pd.Series({"value": 0.5, "n": 10, "ci_low": None, "ci_high": None})
    share_before = pd.Series({"value": 0.4, "n": 10, "ci_low": None, "ci_high": None})
    assert annual.change_of(share_now, share_before, "share", "share").more_than_chance is False


def test_missing_figures_are_named_in_a_grammatical_sentence(db):
    t = table(db).reset_index()
    one = annual.missing_sentence(t, 2024)
    assert "fehlt eine Kennzahl" in one and "Anteil regulär beendeter Teilnahmen" in one
    assert "1 Kennzahlen" not in one
    two = annual.missing_sentence(
        pd.concat([t, t.assign(label="Zweite Kennzahl")]).reset_index(drop=True), 2024
    )
    assert "fehlen 2 Kennzahlen" in two
    assert "liegen für 2024 vor" in annual.missing_sentence(t[~t["missing"]], 2024)


def test_quota_forms_show_ba_comparable_known_status_and_the_bounds(tmp_path):
    path = tmp_path / "q.sqlite"
    history.commit_figures(
        [
            fig("lm_eingliederungsquote_ba_6m", 2024, 63 / 211, 211),
            fig("lm_eingliederungsquote_6m", 2024, 63 / 175, 175),
        ],
        run_id="c",
        run_key="k",
        snapshot_id="s",
        db=path,
    )
    forms = annual.quota_forms(annual.Figures.read(until=2024, db=path), 2024, rule=RULE)
    row = forms.iloc[0].tolist()
    # 63 of 211 exits employed, 36 unknown: 29.9 % to (63 + 36) / 211 = 46.9 %
    assert row[1:] == ["29,9\u00a0%", "36,0\u00a0%", "29,9\u00a0% bis 46,9\u00a0%"]
    assert len(forms) == 1  # quotas without both forms recorded are left out


def test_levels_are_named_numbers_formatted_by_babel_and_ids_replaced():
    assert labels.level_name(5) == "5 – Zielgruppen ändern ihr Handeln"
    assert labels.level_name(None) == ""
    with pytest.raises(ValueError, match="level 9"):
        labels.level_name(9)
    assert labels.format_parameter("grant_eur", 180000.0) == "180.000\u00a0€"
    assert labels.format_parameter("staff_fte", 2.5) == "2,5"
    assert labels.format_parameter("estimate_effect", True) is None
    assert annual.format_value(12345.678, "hours") == "12.346\u00a0Std."
    text = annual.readable("Nur abgeschlossene Verfahren (siehe rec_pending).")
    assert "rec_pending" not in text and "Offene Anerkennungsverfahren" in text
    defs = annual.definitions(pd.DataFrame({"indicator_id": ["rec_months_median", "par_reached"]}))
    assert not defs.apply(lambda c: c.astype(str).str.contains(r"\brec_pending\b")).any().any()
    assert defs["Stufe der Wirkungstreppe"].tolist() == ["", "2 – Zielgruppen werden erreicht"]


def test_inputs_are_formatted_by_babel():
    t = annual.inputs_table(staff_fte=2.5, grant_eur=180000.0, volunteer_hours=1234.0)
    assert t.iloc[:, 1].tolist() == ["2,5", "180.000\u00a0€", "1.234\u00a0Std."]


def test_a_mean_of_shares_is_not_treated_as_a_proportion():
    # attendance is a mean of per-parent shares (kind mean): its change uses the intervals
    now = pd.Series({"value": 0.755, "n": 50, "ci_low": 0.70, "ci_high": 0.81})
    before = pd.Series({"value": 0.736, "n": 55, "ci_low": 0.68, "ci_high": 0.79})
    change = annual.change_of(now, before, "mean", "share")
    assert change.method == "intervals"
    half = 1.959964 * ((0.11 / 2 / 1.959964) ** 2 + (0.11 / 2 / 1.959964) ** 2) ** 0.5
    assert change.ci_high - change.value == pytest.approx(half, abs=1e-9)


def test_the_source_summary_writes_numbers_and_dates_as_readers_do():
    info = type(
        "Info",
        (),
        {
            "id": "abc",
            "manifest": {
                "created_at": "2026-12-01T10:00:00",
                "source": {"kind": "demo"},
                "tables": {"a": {"rows": 57000}, "b": {"rows": 694}},
            },
        },
    )()
    facts = annual.source_summary(info)
    assert (facts["created"], facts["rows"]) == ("01.12.2026", "57.694")


def test_many_year_on_year_tests_are_marked_exploratory_and_holm_adjusted():
    rows = pd.DataFrame(
        {
            "indicator_id": ["a", "b", "c", "d"],
            "label": ["A", "B", "C", "D"],
            "population": ["", "", "", ""],
            # Holm on 0.001, 0.02, 0.04, None: 0.003 (yes), 0.04 (yes), 0.04 (yes) ...
            "change_p": [0.001, 0.02, 0.04, None],
        }
    )
    text = annual.multiplicity_sentence(rows)
    assert "prüft 3 Veränderungen" in text and "explorativ" in text
    assert "mehr als Zufall: A; B; C." in text
    rows.loc[1, "change_p"] = 0.03  # Holm: 0.003, 0.06, 0.06 -> only A
    assert "mehr als Zufall: A." in annual.multiplicity_sentence(rows)
    rows["change_p"] = [0.2, 0.5, None, None]
    assert "keine Veränderung mehr als Zufall" in annual.multiplicity_sentence(rows)
    assert annual.multiplicity_sentence(rows.assign(change_p=None)) == ""


def test_known_status_quotas_say_they_are_not_ba_comparable(db):
    t = table(db)
    assert "nicht BA-vergleichbar" in t.loc["lm_eingliederungsquote_6m", "population"]
    assert t.loc["lm_eingliederungsquote_6m", ["group_var", "group_value"]].tolist() == ["", ""]
