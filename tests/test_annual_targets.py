"""Targets (Soll/Ist): read from params/ziele/<Jahr>.yml, shown against released results only."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluation import annual, history
from evaluation.disclosure import SuppressionRule
from evaluation.indicators.catalogue import load_catalogue
from tests.conftest import REPO, yearly_figure

RULE = SuppressionRule(threshold=5)


def fig(indicator, year, value, n, suppressed=False, **extra):
    return yearly_figure(indicator, year, value, n, suppressed, **extra)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "params" / "ziele" / "2024.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def one_line_error(path: Path, text: str) -> str:
    write(path, text)
    with pytest.raises(annual.TargetsError) as err:
        annual.read_targets(path / "params/ziele/2024.yml", 2024, shown="params/ziele/2024.yml")
    message = str(err.value)
    assert "\n" not in message and message.startswith("params/ziele/2024.yml: ")
    return message


def test_an_unknown_indicator_id_is_one_line_naming_file_and_key(tmp_path):
    message = one_line_error(tmp_path, "ziele:\n  par_reachd: 70\n")
    assert "ziele.par_reachd: unknown indicator id" in message
    assert "did you mean 'par_reached'" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ziele:\n  lm_eingliederungsquote_ba_6m: 0.3\n", "a share is written in percent"),
        ("ziele:\n  par_reached: viele\n", "ziele.par_reached: expected a number"),
        ("ziele:\n  par_reached: {soll: 70, ziel: 80}\n", "ziele.par_reached.ziel: unknown key"),
        ("ziele:\n  par_reached: {hinweis: x}\n", "'soll' is missing"),
        ("ziele:\n  rec_months_km: {soll: 3, hoechstens: ja}\n", "hoechstens: expected true"),
        ("ziele: [par_reached]\n", "ziele: expected a mapping"),
        ("zeile:\n  par_reached: 70\n", "zeile: unknown key"),
        ("jahr: 2023\nziele:\n  par_reached: 70\n", "jahr: the file says 2023"),
        ("ziele:\n  par_reached: 70\n    x: 1\n", "line 3: not valid YAML"),
    ],
)
def test_a_bad_targets_file_is_one_line_naming_file_and_key(tmp_path, text, expected):
    assert expected in one_line_error(tmp_path, text)


def test_targets_are_read_on_the_catalogues_scale(tmp_path):
    path = write(
        tmp_path,
        "demo: true\nziele:\n  par_reached: 70\n  lm_eingliederungsquote_ba_6m: '30,5 %'\n"
        "  rec_months_km: {soll: 3, hoechstens: true, hinweis: Personalwechsel}\n",
    )
    targets = annual.read_targets(path, 2024)
    assert targets.demo
    by_id = {t.indicator_id: t for t in targets.targets}
    assert by_id["par_reached"].value == 70 and not by_id["par_reached"].at_most
    assert by_id["lm_eingliederungsquote_ba_6m"].value == pytest.approx(0.305)
    assert by_id["rec_months_km"].at_most and by_id["rec_months_km"].note == "Personalwechsel"
    assert annual.read_targets(tmp_path / "none.yml", 2024) is None


def test_the_demo_targets_name_only_catalogue_figures():
    cat = load_catalogue()
    files = sorted((REPO / "params" / "ziele").glob("*.yml"))
    assert files, "demo targets exist"
    for path in files:
        targets = annual.read_targets(path, int(path.stem), catalogue=cat)
        assert targets.demo and len(targets.targets) >= 5, path
        assert any(t.indicator_id == "par_reached" and t.value >= 60 for t in targets.targets)


@pytest.fixture
def figures(tmp_path):
    db = tmp_path / "h.sqlite"
    history.commit_figures(
        [
            fig("lm_participants", 2024, 291, 291),
            fig("par_reached", 2024, 64, 64),
            fig("vol_active", 2024, None, None, suppressed=True),
            fig("vol_trained", 2024, 3, 3),  # a small count: hidden again under the rule
            fig("rec_months_km", 2024, 2.7, 80, ci_low=2.2, ci_high=3.4),
            fig("lm_completion_share", 2024, 0.62, 150),
        ],
        run_id="b",
        run_key="lm/2024",
        snapshot_id="s",
        db=db,
    )
    return annual.Figures.read(until=2024, db=db)


def targets(*items: annual.Target) -> annual.Targets:
    return annual.Targets(2024, "params/ziele/2024.yml", tuple(items))


def test_results_are_the_recorded_figures_and_hidden_ones_stay_hidden(figures):
    table = annual.targets_table(
        targets(
            annual.Target("lm_participants", 280),
            annual.Target("par_reached", 70, note="Eine Gruppe fiel aus."),
            annual.Target("vol_active", 120),
            annual.Target("vol_trained", 2),
            annual.Target("rec_months_km", 3, at_most=True),
            annual.Target("lm_completion_share", 0.7),
            annual.Target("lm_exits", 200),
        ),
        figures,
        rule=RULE,
    ).set_index("Kennzahl")
    rows = table.to_dict("index")
    cat = load_catalogue()

    def row(indicator_id):
        return rows[cat.get(indicator_id).label["de"]]

    assert row("lm_participants")["Ergebnis (Ist)"] == annual.format_value(291, "persons")
    assert row("lm_participants")["Zielerreichung"] == "104\u00a0%"
    assert row("lm_participants")["Bewertung"] == "erreicht"
    assert row("par_reached")["Bewertung"] == "nicht erreicht – Eine Gruppe fiel aus."
    assert row("par_reached")["Ziel (Soll)"] == "mindestens 70"
    for hidden in ("vol_active", "vol_trained"):  # suppressed in the history / n below 5
        assert row(hidden)["Ergebnis (Ist)"] == "*", hidden
        assert row(hidden)["Zielerreichung"] == "*", "nothing to compute the result back"
        assert row(hidden)["Bewertung"] == "nicht ausweisbar (Geheimhaltung)"
    assert "3" not in row("vol_trained")["Ergebnis (Ist)"]
    months = row("rec_months_km")
    assert months["Ziel (Soll)"] == "höchstens 3,0\u00a0Monate"
    assert months["Ergebnis (Ist)"].startswith(annual.format_value(2.7, "months"))
    assert months["Zielerreichung"] == "111\u00a0%" and months["Bewertung"] == "erreicht"
    share = row("lm_completion_share")
    assert share["Ziel (Soll)"] == "mindestens 70,0\u00a0%"
    assert share["Ergebnis (Ist)"] == "62,0\u00a0%" and share["Zielerreichung"] == "89\u00a0%"
    assert share["Bewertung"] == "nicht erreicht – Begründung: siehe „Anmerkungen zu den Zielen“"
    assert row("lm_exits")["Ergebnis (Ist)"].startswith("Ergebnis fehlt")


def test_a_missed_target_without_a_note_names_the_missing_comments(figures):
    table = annual.targets_table(
        targets(annual.Target("par_reached", 70)),
        figures,
        rule=RULE,
        missing_reasons="texte/2024/ziele.md",
        language="de",
    )
    assert table.iloc[0]["Bewertung"] == "nicht erreicht – Begründung fehlt (texte/2024/ziele.md)"
    english = annual.targets_table(
        targets(annual.Target("par_reached", 70)), figures, rule=RULE, language="en"
    )
    assert list(english.columns) == [
        "Figure",
        "Target",
        "Result",
        "Degree of achievement",
        "Assessment",
    ]
    assert (
        english.iloc[0]["Target"] == "at least 70"
        and english.iloc[0]["Degree of achievement"] == "91%"
    )


def test_a_stricter_report_threshold_hides_a_result_the_field_report_showed(figures):
    table = annual.targets_table(
        targets(annual.Target("par_reached", 70)), figures, rule=SuppressionRule(threshold=100)
    )
    assert table.iloc[0]["Ergebnis (Ist)"] == "*" and "64" not in table.to_string()
