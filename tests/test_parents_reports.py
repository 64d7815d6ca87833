"""The parents and civic-engagement reports on the demo, read as a reader reads them.

Both notebooks run through the main job for 2024; the published HTML is scanned for what
a reader must never see: internal ids (catalogue ids such as ``rec_pending``, column names
such as ``fsw_pre``), a Wirkungstreppe level as a bare digit ("Stufe 4" without its
PHINEO name, "Stufen 1–3"), numbers in English notation ("2.5", "180000.0"). The recorded
waiting-list figure is the primary intention-to-treat estimate with its arms.
"""

from __future__ import annotations

import io
import os
import re
import shutil
from datetime import date
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from evaluation import history, labels
from evaluation.indicators import catalogue
from evaluation.paths import paths
from evaluation.runner import run_plan
from tests.conftest import REPO, _copy_data

pytestmark = pytest.mark.slow

RUNS = {
    "parent_work": "parent_work/jahr/2024",
    "civic_engagement": "civic_engagement/jahr/2024",
    "parent_work_2019": "parent_work/jahr/2019",  # before the waiting list
}
#: Notation, not an id: Hedges' g as d_rm (the catalogue's definition of par_hedges_g).
NOTATION = {"d_rm"}


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    root = tmp_path_factory.mktemp("parents-civic-ws")
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    shutil.copytree(REPO / "params", root / "params")
    _copy_data(Path(os.environ["EVALUATION_HOME"]), root)
    ws = paths(root)
    out = io.StringIO()
    summary = run_plan(root=ws, only=list(RUNS.values()), today=date(2026, 11, 24), out=out)
    assert summary.exit_code == 0, out.getvalue()
    html = {
        name: (ws.reports / key / "report.html").read_text(encoding="utf-8")
        for name, key in RUNS.items()
    }
    return ws, html


def reader_text(html: str) -> str:
    """What a reader sees: no scripts, styles or the provenance footer (run keys, hashes)."""
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "footer"]):
        tag.decompose()
    return re.sub(r"\s+", " ", soup.get_text(" "))


def problems(text: str) -> list[str]:
    """Every internal id, bare level digit and English-notation number in ``text``."""
    found = []
    ids = {ind.id for ind in catalogue.load_catalogue()}
    for token in set(re.findall(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b", text)) - NOTATION:
        found.append(f"internal id {token!r}" + (" (catalogue)" if token in ids else ""))
    for match in re.finditer(r"Stufen\s+\d", text):
        found.append(f"level range by digits: {text[match.start() : match.end() + 20]!r}")
    for match in re.finditer(r"Stufe\s+(\d)", text):
        level = int(match.group(1))
        name = labels.level_name(level, "de", number=False)
        after = text[match.end() : match.end() + len(name) + 4]
        if not (after.startswith(f" – {name}") or after.startswith(f" „{name}“")):
            found.append(f"level without its name: {text[match.start() : match.end() + 40]!r}")
    # a decimal point (German thousands have exactly three digits after the point)
    for match in re.finditer(r"(?<![\d.,])\d+\.(?:\d{1,2}|\d{4,})(?![\d.])", text):
        found.append(f"English decimal point: {text[max(0, match.start() - 30) : match.end()]!r}")
    return found


def test_the_scan_finds_what_it_looks_for():
    bad = (
        "Anteil rec_pending: 2.5 und 180000.0 (Stufe 4), Stufen 1–3; Stufe 5 – Zielgruppen "
        "ändern ihr Handeln; fsw_pre"
    )
    found = problems(bad)
    assert any("rec_pending" in f and "catalogue" in f for f in found)
    assert any("fsw_pre" in f for f in found)
    assert sum("decimal point" in f for f in found) == 2
    assert sum("without its name" in f for f in found) == 1
    assert any("level range" in f for f in found)
    good = (
        "Stufe 4 „Zielgruppen verändern Bewusstsein bzw. Fähigkeiten“, Zyklus 01.05.2024, "
        "0,44 Skalenpunkte, 180.000 €, Stufe 1 – Aktivitäten finden wie geplant statt"
    )
    assert problems(good) == []


@pytest.mark.parametrize("plan", list(RUNS))
def test_reports_show_no_internal_id_no_bare_level_and_german_numbers(reports, plan):
    _, html = reports
    text = reader_text(html[plan])
    assert len(text) > 5000  # the whole report, not an error page
    assert problems(text) == []
    assert "Stufe 2 „Zielgruppen werden erreicht“" in text
    assert "explorativ" in text


def test_before_the_waiting_list_the_report_says_there_is_no_effect_estimate(reports):
    _, html = reports
    text = reader_text(html["parent_work_2019"])
    assert "Keine Vergleichsgruppe." in text and "keine Wirkungsschätzung" in text
    assert "Ablauf der Auslosung" not in text and "Hauptschätzung:" not in text


def test_parents_report_shows_the_trial(reports):
    _, html = reports
    text = reader_text(html["parent_work"])
    for words in (
        "Ablauf der Auslosung",
        "Zugelost",
        "Vorher befragt",
        "Nachher befragt",
        "Hauptschätzung",
        "Wild-Cluster-Bootstrap",
        "Lee-Schranke",
        "Manski-Schranke",
        "Intention to treat",
        "explorativ",
    ):
        assert words in text, words


def test_recorded_waiting_list_effect_is_the_primary_itt_estimate(reports):
    ws, _ = reports
    figures = history.read(db=ws.history)
    effect = figures[figures["indicator_id"] == "par_waitlist_effect"].set_index(
        ["group_var", "group_value"]
    )
    primary = effect.loc[("", "")]
    method = effect.loc[("analysis", "itt_mi")]
    assert not primary["suppressed"] and primary["value"] == method["value"]
    assert primary["ci_low"] < primary["value"] < primary["ci_high"]
    arms = effect.loc["arm"]
    assert set(arms.index) == {"teilnahme", "wartegruppe"}
    assert arms["n"].sum() == primary["n"]  # every parent assigned, both arms
    complete = effect.loc[("analysis", "complete_case")]
    assert complete["n"] < primary["n"]  # the complete cases leave out the attrition
    for bound in ("lee_lower", "lee_upper", "manski_lower", "manski_upper"):
        assert ("analysis", bound) in effect.index
