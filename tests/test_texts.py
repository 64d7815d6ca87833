"""The agency's own texts: Markdown rendered safely, missing texts named, part of the inputs."""

from __future__ import annotations

import io

import pytest

from evaluation import nbparams, texts
from evaluation.paths import paths
from tests.conftest import REPO

ANNUAL = REPO / "notebooks" / "annual_report.ipynb"


def test_raw_html_and_script_in_a_text_are_shown_as_text_never_run():
    html = texts.render(
        "Vorher <script>alert('x')</script> und <b onclick=\"steal()\">fett</b>\n\n"
        '<img src="x" onerror="alert(1)">\n\n'
        "[Klick](javascript:alert(1)) und ![Logo](https://tracker.example/p.png)\n"
    )
    assert "<script" not in html and "<b " not in html and "<img" not in html
    assert "&lt;script&gt;" in html and "&lt;b onclick" in html
    assert "javascript:" not in html, "unsafe link targets are removed"
    assert "tracker.example" not in html and "[Logo]" in html, "images are named, not loaded"


def test_markdown_keeps_headings_lists_and_bold_below_the_report_section():
    html = texts.render(
        "# Titel\n\n## Unter\n\n- **fett** und\n- zwei\n\n1. eins\n", heading_level=2
    )
    assert "<h3>Titel</h3>" in html and "<h4>Unter</h4>" in html
    assert "<ul>" in html and "<ol>" in html and "<strong>fett</strong>" in html
    assert "<h6>" in texts.render("###### tief", heading_level=3), "never deeper than h6"


def test_a_missing_text_is_named_in_the_report_and_in_the_log(tmp_path):
    ws = paths(tmp_path)
    (ws.texts / "2024").mkdir(parents=True)
    (ws.texts / "2024" / "besonderheiten.md").write_text("Ein **gutes** Jahr.", encoding="utf-8")
    (ws.texts / "2024" / "ziele.md").write_text("  \n", encoding="utf-8")  # empty = missing
    loaded = texts.load(2024, root=ws)
    assert not loaded["besonderheiten"].missing
    assert "<strong>gutes</strong>" in loaded["besonderheiten"].html()
    assert loaded["ausblick"].missing and loaded["ziele"].missing
    assert "Text fehlt: texte/2024/ausblick.md" in loaded["ausblick"].html()
    assert "Text missing: texte/2024/ausblick.md" in loaded["ausblick"].html("en")
    log = io.StringIO()
    lines = texts.log_missing(loaded, out=log)
    assert lines == [
        "WARNING Text fehlt: texte/2024/ziele.md",
        "WARNING Text fehlt: texte/2024/ausblick.md",
    ]
    assert log.getvalue().splitlines() == lines


def test_a_text_that_is_not_utf8_is_one_line_naming_the_file(tmp_path):
    ws = paths(tmp_path)
    (ws.texts / "2024").mkdir(parents=True)
    (ws.texts / "2024" / "ausblick.md").write_bytes("Planung für 2025".encode("latin-1"))
    with pytest.raises(ValueError) as err:
        texts.load(2024, root=ws)
    message = str(err.value)
    assert message.startswith("texte/2024/ausblick.md: not UTF-8") and "\n" not in message


def test_demo_texts_are_marked_and_never_overwrite_the_agencys_words(tmp_path):
    ws = paths(tmp_path)
    own = ws.texts / "2024" / "ausblick.md"
    own.parent.mkdir(parents=True)
    own.write_text("Unsere eigene Planung.", encoding="utf-8")
    written = texts.write_demo([2023, 2024], root=ws)
    assert own not in written and own.read_text(encoding="utf-8") == "Unsere eigene Planung."
    assert len(written) == 5
    loaded = texts.load(2023, root=ws)
    assert all(t.demo and not t.missing for t in loaded.values())
    assert not texts.load(2024, root=ws)["ausblick"].demo
    assert texts.write_demo([2023], root=ws) == [], "a second call writes nothing"


def test_editing_a_text_or_the_targets_changes_the_annual_reports_inputs(tmp_path):
    ws = paths(tmp_path)
    declared = nbparams.inspect(ANNUAL)
    params = {"period_start": "2024-01-01", "period_end": "2024-12-31"}
    first = texts.run_inputs(ws, params, declared)
    assert set(first) == {"texts"}
    assert texts.run_inputs(ws, params, declared) == first, "the same inputs, the same digest"
    text = ws.texts / "2024" / "ausblick.md"
    text.parent.mkdir(parents=True)
    text.write_text("Planung A", encoding="utf-8")
    with_text = texts.run_inputs(ws, params, declared)
    text.write_text("Planung B", encoding="utf-8")
    edited = texts.run_inputs(ws, params, declared)
    assert len({first["texts"], with_text["texts"], edited["texts"]}) == 3
    # another year's text is not an input of this year's report
    other = ws.texts / "2023" / "ausblick.md"
    other.parent.mkdir(parents=True)
    other.write_text("alt", encoding="utf-8")
    assert texts.run_inputs(ws, params, declared) == edited
    targets = ws.root / "params" / "ziele" / "2024.yml"
    targets.parent.mkdir(parents=True)
    targets.write_text("ziele:\n  par_reached: 70\n", encoding="utf-8")
    assert texts.run_inputs(ws, params, declared) != edited
    # a field notebook reads no texts: its fingerprint inputs stay as they were
    field = nbparams.inspect(REPO / "notebooks" / "labour_market.ipynb")
    assert texts.run_inputs(ws, params, field) == {}


def test_texts_folder_and_targets_file_follow_the_notebook_parameters(tmp_path):
    ws = paths(tmp_path)
    declared = nbparams.inspect(ANNUAL)
    elsewhere = tmp_path / "andere"
    (elsewhere / "2024").mkdir(parents=True)
    params = {"period_start": "2024-01-01", "texts_dir": str(elsewhere)}
    before = texts.run_inputs(ws, params, declared)
    (elsewhere / "2024" / "ziele.md").write_text("neu", encoding="utf-8")
    assert texts.run_inputs(ws, params, declared) != before
    assert texts.load(2024, root=ws, texts_dir=str(elsewhere))["ziele"].markdown == "neu"
    assert texts.targets_path(ws, 2025) == ws.root / "params" / "ziele" / "2025.yml"


def test_check_lists_missing_texts_missing_targets_and_bad_targets_one_line_each(
    tmp_path, capsys, monkeypatch
):
    ws = paths(tmp_path)
    texts.write_demo([2024], root=ws)
    (ws.texts / "2024" / "ziele.md").unlink()
    targets = tmp_path / "params" / "ziele"
    targets.mkdir(parents=True)
    (targets / "2024.yml").write_text("ziele:\n  lm_participant: 280\n", encoding="utf-8")
    problems = texts.check([2023, 2024], root=ws)
    assert "Text fehlt: texte/2023/ausblick.md" in problems
    assert "Text fehlt: texte/2024/ziele.md" in problems
    assert "Text fehlt: texte/2024/ausblick.md" not in problems
    assert "Ziele fehlen: params/ziele/2023.yml" in problems
    assert any(
        p.startswith("params/ziele/2024.yml: ziele.lm_participant: unknown indicator id")
        for p in problems
    )
    monkeypatch.setenv("EVALUATION_HOME", str(tmp_path))
    assert texts.main(["check", "--years", "2023-2024"]) == 1
    assert capsys.readouterr().out.splitlines() == problems
    with pytest.raises(SystemExit, match="--years 20x: expected a year"):
        texts.main(["check", "--years", "20x"])
    assert texts.main(["demo", "--years", "2023"]) == 0
    assert (tmp_path / "texte" / "2023" / "ausblick.md").exists()


def test_editing_a_text_makes_the_annual_report_out_of_date(workspace):
    from datetime import date

    from evaluation import plan, runner

    (run,) = [
        r
        for r in plan.load_plan(
            [workspace.params / "annual_report.yml"], root=workspace, today=date(2026, 11, 24)
        )
        if r.key == "annual_report/jahr/2024"
    ]
    env = runner.environment(workspace)

    def fingerprint() -> str:
        return runner.prepare(run, workspace, env=env).manifest["fingerprint"]

    before = fingerprint()
    assert fingerprint() == before
    text = workspace.texts / "2024" / "ausblick.md"
    text.parent.mkdir(parents=True)
    text.write_text("Neue Planung.", encoding="utf-8")
    assert fingerprint() != before
