"""One scale per quantity in the annual report: percent, percentage points, rates per 100."""

from __future__ import annotations

from evaluation import annual, history


def test_city_statistics_keep_the_scale_of_their_field_report(tmp_path):
    db = tmp_path / "h.sqlite"

    def fig(indicator, value, group_value=""):
        return {
            "indicator_id": indicator,
            "period": "2024",
            "period_start": "2024-01-01",
            "period_end": "2024-12-31",
            "value": value,
            "n": None,
            "suppressed": False,
            "group_var": "stadt" if group_value else "",
            "group_value": group_value,
        }

    history.commit_figures(
        [
            fig("sr_migration_share", 0.435),
            fig("sr_migration_share", 0.445, "0"),
            fig("sr_unemployment_share", 0.049),
            fig("sr_unemployment_share", 0.051, "0"),
        ],
        run_id="s",
        run_key="sozialraum/jahr/2024",
        snapshot_id="x",
        db=db,
    )
    table = annual.sozialraum_comparison(2024, db=db).set_index("Kennzahl")
    assert table.loc["Anteil mit Migrationshintergrund"].tolist() == ["43,5\u00a0%", "44,5\u00a0%"]
    # a rate per 100 inhabitants, as the Sozialraum report shows it – not a percent of a whole
    assert table.loc["Arbeitslose je 100 Einwohner"].tolist() == ["4,9", "5,1"]


def test_changes_of_shares_are_percentage_points_and_estimates_keep_their_unit():
    assert annual.format_value(0.07, "percentage_points", signed=True) == "+7,0\u00a0Pp."
    row = {
        "suppressed": False,
        "suppressed_before": False,
        "missing": False,
        "unit": "share",
        "change": 0.07,
        "change_low": -0.043,
        "change_high": 0.183,
    }
    assert annual.change_text(row, "de", "*") == "+7,0\u00a0Pp. (-4,3\u00a0Pp. bis 18,3\u00a0Pp.)"
    assert annual.change_text(row, "en", "*") == "+7.0 pp (-4.3 pp to 18.3 pp)"


def test_the_methods_text_claims_no_more_than_the_recorded_trial_figure():
    from dataclasses import replace

    from evaluation.indicators.catalogue import load_catalogue

    cat = load_catalogue()
    entry = cat.get("par_waitlist_effect")

    def with_definition(de: str):
        changed = replace(entry, definition={"de": de, "en": de})
        return replace(cat, indicators={**cat.indicators, entry.id: changed})

    complete = annual.methods_text(
        "de", with_definition("Veränderung … nur Eltern mit gültigem Wert in beiden Befragungen")
    )
    assert "Unterschied der Veränderungen" in complete and "ANCOVA" not in complete
    assert "nur Eltern mit Werten in beiden Befragungen" in complete
    assert "Intention to treat" not in complete
    trial = annual.methods_text(
        "de", with_definition("ANCOVA auf den Vorher-Wert, Intention to treat, multiple Imputation")
    )
    assert "ANCOVA auf den Vorher-Wert" in trial and "Intention to treat" in trial
    assert "{trial}" not in trial and "{trial}" not in annual.methods_text("en")
    for words in ("keine Wirkungen", "Kaplan-Meier", "Manski", "Vortrends", "„*“"):
        assert words in trial, words
