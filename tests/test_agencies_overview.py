"""The Träger overview shows released figures only, and nothing a hidden figure follows from.

Four agencies with a fabricated published state for 2024 (figures in their histories, an
annual report manifest):

- ``a``: every figure shown;
- ``b``: ``lm_entries`` hidden in its reports (stored suppressed, without value); its true
  value sits in an executed copy of a failed run, where a careless overview would find it;
- ``c``: ``lm_entries`` recorded with n = 7 under threshold 5, but c's annual report used
  threshold 10, so c's own report hides it;
- ``d``: figures in its history but no published annual report for 2024.

A test makes ``a`` *not current* by committing new figures to its history without
publishing its annual report anew (``_new_figures``): the overview then shows none of a's
figures and the others as before.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
from html import unescape
from pathlib import Path

import pytest

from evaluation import agencies, history
from evaluation import execute as ex
from evaluation.disclosure import SuppressionRule
from evaluation.paths import Paths, paths
from evaluation.views import overview

REPO = Path(__file__).resolve().parents[1]
TRUE_HIDDEN_B = 4
FIGURES = {  # agency -> (lm_participants, lm_entries, entries suppressed?)
    "a": (111, 83, False),
    "b": (151, None, True),
    "c": (97, 7, False),
    "d": (555, 66, False),
}
THRESHOLDS = {"a": 5, "b": 5, "c": 10}


def _figure(indicator: str, value: float | None, suppressed: bool = False) -> dict:
    return {
        "indicator_id": indicator,
        "period": "2024",
        "period_start": "2024-01-01",
        "period_end": "2024-12-31",
        "group_var": "",
        "group_value": "",
        "value": value,
        "n": value,
        "ci_low": None,
        "ci_high": None,
        "suppressed": suppressed,
    }


@pytest.fixture
def project(tmp_path: Path, session_home: Path) -> Paths:
    root = tmp_path / "proj"
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    shutil.copytree(REPO / "params", root / "params")
    for agency_id, (participants, entries, hidden) in FIGURES.items():
        folder = root / "agencies" / agency_id
        agencies.write_agency_file(
            folder,
            {"name": f"Agentur {agency_id.upper()}", "traeger": f"Träger {agency_id.upper()}"},
        )
        shutil.copytree(session_home / "data" / "snapshots", folder / "data" / "snapshots")
        ws = paths(folder)
        history.commit_figures(
            [_figure("lm_participants", participants), _figure("lm_entries", entries, hidden)],
            run_id=f"run-{agency_id}",
            run_key="labour_market/jahr/2024",
            snapshot_id="x",
            db=ws.history,
        )
        if agency_id in THRESHOLDS:
            report = ws.reports / "annual_report" / "jahr" / "2024"
            report.mkdir(parents=True)
            (report / "manifest.json").write_text(
                json.dumps(
                    {
                        "run_id": f"annual-{agency_id}",
                        "status": "ok",
                        "parameters": {"suppression_threshold": THRESHOLDS[agency_id]},
                        "depends_on": {f"{agency_id}:labour_market/jahr/2024": "fp"},
                        # the figures it was published from (as the runner records them)
                        "inputs_digest": history.figures_digest(
                            ["labour_market/jahr/2024"], db=ws.history
                        ),
                    }
                )
            )
    # the true value where a careless overview would find it: an executed copy of a failed
    # run (kept for the evaluator, not published to readers)
    failed = paths(root / "agencies" / "b").reports / "labour_market" / "jahr" / "2024"
    failed.mkdir(parents=True)
    (failed / "failed.ipynb").write_text(json.dumps([_figure("lm_entries", TRUE_HIDDEN_B)]))
    return paths(root)


def _rows(table) -> dict[str, list[str]]:
    frame = table.to_frame()
    return {row[0]: [str(v) for v in row[1:]] for row in frame.itertuples(index=False)}


def test_the_overview_shows_what_each_agencys_report_shows(project):
    rule = SuppressionRule(threshold=5)
    chosen = overview.chosen("", project)
    assert [a.id for a in chosen] == ["a", "b", "c", "d"]
    rows = overview.collect(chosen, 2024, rule=rule, ids=("lm_participants", "lm_entries"))
    table = overview.side_by_side(rows, rule=rule, ids=("lm_participants", "lm_entries"))
    shown = _rows(table)
    assert shown["Agentur A"] == ["Träger A", "111", "83"]
    assert shown["Agentur B"] == ["Träger B", "151", "*"]  # hidden in b's reports
    assert shown["Agentur C"] == ["Träger C", "97", "*"]  # n = 7 under c's threshold 10
    assert shown["Agentur D"] == ["Träger D", "kein Jahresbericht", "kein Jahresbericht"]
    assert [r.threshold for r in rows] == [5, 5, 10, None]
    # a stricter overview threshold hides more, never less
    strict = SuppressionRule(threshold=100)
    rows = overview.collect(chosen, 2024, rule=strict, ids=("lm_participants",))
    assert _rows(overview.side_by_side(rows, rule=strict, ids=("lm_participants",)))[
        "Agentur A"
    ] == ["Träger A", "111"]
    # selection by id, and an unknown id is one line
    assert [a.id for a in overview.chosen("c, a", project)] == ["c", "a"]
    with pytest.raises(ValueError, match="keine Agentur 'x'"):
        overview.chosen("a,x", project)


def test_without_agencies_the_project_root_is_the_one_agency(tmp_path):
    [only] = overview.chosen("", paths(tmp_path))
    assert only.is_root and only.paths.root == tmp_path.resolve()


def _cells(html: str) -> list[list[str]]:
    rows = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", html, flags=re.S):
        cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, flags=re.S)
        rows.append([unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells])
    return rows


@pytest.mark.slow
def test_the_overview_report_shows_no_hidden_figure_nor_anything_it_follows_from(project):
    summary, out = _overview_run(project)
    assert summary.exit_code == 0 and summary.count("ok") == 1, out
    folder = project.reports / "traeger_overview" / "jahr" / "2024"
    html = (folder / "report.html").read_text(encoding="utf-8")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["parameters"]["agencies"] == "a,b,c,d"
    assert set(manifest["depends_on"]) == {f"{x}:annual_report/jahr/2024" for x in "abcd"}
    rows: dict[str, list[str]] = {}
    for r in _cells(html):  # the first table: key figures (the sources table follows)
        if r and r[0].startswith("Agentur "):
            rows.setdefault(r[0], r[1:])
    assert rows["Agentur A"][:3] == ["Träger A", "111", "83"]
    assert rows["Agentur B"][2] == "*" and rows["Agentur C"][2] == "*"
    assert set(rows["Agentur D"][1:]) == {"kein Jahresbericht"}
    cells = {c for r in _cells(html) for c in r}
    assert {"111", "151", "97", "83"} <= cells  # the scan below can find numbers
    # no hidden value, no figure of an agency without a published report ...
    for hidden in (TRUE_HIDDEN_B, 7, 555, 66):
        assert str(hidden) not in cells, hidden
    # ... and no total or mean over agencies from which a hidden one would follow
    participants, entries = [111, 151, 97], [83, TRUE_HIDDEN_B, 7]
    for derived in (
        sum(participants),
        sum(participants) + 555,
        sum(entries),
        sum(entries) + 66,
        83 + 7,  # the total of the shown and c's
    ):
        assert str(derived) not in cells, derived
        assert f"{derived / 3:.1f}".replace(".", ",") not in cells
    for word in ("Gesamt", "Summe", "Insgesamt", "Mittelwert"):
        assert not any(word in c for r in _cells(html) for c in r), word
    # the project's start page links the overview and lists the agencies, with no figure
    start = (project.reports / "index.html").read_text(encoding="utf-8")
    assert 'href="traeger_overview/jahr/2024/report.html"' in start
    # (the agencies ran nothing here, so none has a start page to link yet)
    assert [r[0] for r in _cells(start)[1:]] == [
        f"Agentur {x} (noch keine Startseite)" for x in "ABCD"
    ]
    assert {c for r in _cells(start) for c in r} & {"111", "151", "97", "83", "555"} == set()


# ---- the overview's inputs are checked again when it publishes ---------------------------

ANNUAL = "annual_report/jahr/2024"


def _republish(project: Paths, agency_id: str, participants: int, run_id: str) -> None:
    """Another process publishes a new annual report of ``agency_id`` with a new figure."""
    ws = paths(project.agencies / agency_id)
    _new_figures(ws, participants)
    file = ex.run_dir(ws, ANNUAL) / "manifest.json"
    manifest = json.loads(file.read_text(encoding="utf-8"))
    manifest["run_id"] = run_id
    manifest["inputs_digest"] = history.figures_digest(["labour_market/jahr/2024"], db=ws.history)
    tmp = file.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest), encoding="utf-8")
    os.replace(tmp, file)


def _new_figures(ws: Paths, participants: int, entries: int | None = 83) -> None:
    """New labour-market figures of 2024 in an agency's history (its field run published)."""
    history.commit_figures(
        [
            _figure("lm_participants", participants),
            _figure("lm_entries", entries, entries is None),
        ],
        run_id=f"lm-{participants}",
        run_key="labour_market/jahr/2024",
        snapshot_id="x",
        db=ws.history,
    )


def test_what_the_overview_reads_is_recorded_per_agency_and_any_change_is_seen(project):
    reads = {x: [ANNUAL] for x in "abcd"}
    recorded = ex.agency_inputs(project, reads)
    assert recorded == {
        "a": {ANNUAL: "annual-a"},
        "b": {ANNUAL: "annual-b"},
        "c": {ANNUAL: "annual-c"},
        "d": {ANNUAL: None},  # no published annual report
    }
    assert ex.stale_agencies(project, recorded) == []  # nothing changed
    # a figure an annual report was published from changes (the report is not republished)
    a, b = paths(project.agencies / "a"), paths(project.agencies / "b")
    _new_figures(a, 112)
    assert ex.stale_agencies(project, recorded) == [f"a (figures of {ANNUAL} changed)"]
    _new_figures(a, 111)  # back as it was: the same figures again, nothing stale
    assert ex.stale_agencies(project, recorded) == []
    # only the suppression of a figure changes (b's hidden entries become a value)
    _new_figures(b, 151, 6)
    assert ex.stale_agencies(project, recorded) == [f"b (figures of {ANNUAL} changed)"]
    _new_figures(b, 151, None)
    assert ex.stale_agencies(project, recorded) == []
    # an annual report is republished, withdrawn, or appears where there was none
    _republish(project, "c", 97, "annual-c2")
    assert ex.stale_agencies(project, recorded) == ["c (report republished)"]
    (ex.run_dir(paths(project.agencies / "c"), ANNUAL) / "manifest.json").unlink()
    assert ex.stale_agencies(project, recorded) == ["c (report republished)"]
    folder = ex.run_dir(paths(project.agencies / "d"), ANNUAL)
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"run_id": "annual-d", "status": "ok"}))
    assert ex.stale_agencies(project, recorded) == [
        "c (report republished)",
        "d (report republished)",
    ]
    assert ex.agency_inputs(project, reads)["d"] == {ANNUAL: "annual-d"}


def _key_figure_rows(folder: Path) -> dict[str, list[str]]:
    """The rows of the first table (key figures; the sources table follows) by agency."""
    rows: dict[str, list[str]] = {}
    for r in _cells((folder / "report.html").read_text(encoding="utf-8")):
        if r and r[0].startswith("Agentur "):
            rows.setdefault(r[0], r[1:])
    return rows


REPUBLISH_LIMIT = "republish-limit"


def republishing_executor(job):
    """Executor: after the overview's notebook ran and before it publishes, agency ``a``
    publishes a new annual report with a new figure (at most ``republish-limit`` times)."""
    if not job.run_key.startswith("traeger_overview/"):
        return ex.execute(job)
    project = paths(job.root)
    counter = project.root / "republished"
    original = ex.run_notebook

    def run_then_republish(*args, **kwargs):
        result = original(*args, **kwargs)
        count = int(counter.read_text()) if counter.exists() else 0
        if count < int((project.root / REPUBLISH_LIMIT).read_text()):
            counter.write_text(str(count + 1))
            _republish(project, "a", 222 + count, f"annual-a{count + 2}")
        return result

    ex.run_notebook = run_then_republish
    try:
        return ex.execute(job)
    finally:
        ex.run_notebook = original


def _overview_run(project: Paths, executor=None, *, force: bool = False):
    from evaluation.runner import run_plan

    out = io.StringIO()
    summary = run_plan(
        root=project,
        only=["traeger_overview/jahr/2024"],
        agencies=agencies.discover(project),
        out=out,
        force=force,
        **({"executor": executor} if executor else {}),
    )
    return summary, out.getvalue()


@pytest.mark.slow
def test_an_annual_report_republished_while_the_overview_runs_stops_its_publication(project):
    folder = project.reports / "traeger_overview" / "jahr" / "2024"
    # every attempt: a changes its annual report while the overview runs -> never published
    (project.root / REPUBLISH_LIMIT).write_text("3")
    summary, out = _overview_run(project, republishing_executor)
    assert (project.root / "republished").read_text() == "3", out  # three attempts
    assert "while it ran" in out and "not published; running it again" in out
    assert [o.status for o in summary.outcomes] == ["deferred"], out
    assert (
        "changed while it ran in a (report republished); not published"
        in (summary.outcomes[0].error["summary"])
    )
    assert not (folder / "manifest.json").exists() and not (folder / "report.html").exists()
    assert not list(project.state.glob("staging/*")), "the stale attempts left nothing"
    # the next call publishes it, with a's newest figure and its newest annual report
    summary, out = _overview_run(project)
    assert [o.status for o in summary.outcomes] == ["ok"], out
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["agency_inputs"]["a"] == {ANNUAL: "annual-a4"}
    assert manifest["agency_inputs"]["d"] == {ANNUAL: None}
    rows = _key_figure_rows(folder)
    assert rows["Agentur A"][:2] == ["Träger A", "224"]
    # once: a's report changes during the first attempt only -> the retry publishes
    (project.root / "republished").unlink()
    (project.root / REPUBLISH_LIMIT).write_text("1")
    _republish(project, "b", 150, "annual-b2")
    summary, out = _overview_run(project, republishing_executor, force=True)
    assert [o.status for o in summary.outcomes] == ["ok"], out
    assert "while it ran" in out and "not published; running it again" in out
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["agency_inputs"]["a"] == {ANNUAL: "annual-a2"}
    rows = _key_figure_rows(folder)
    assert rows["Agentur A"][:2] == ["Träger A", "222"]
    assert rows["Agentur B"][:2] == ["Träger B", "150"]


def figures_changing_executor(job):
    """Executor: after the overview's notebook ran, a's labour-market figures of 2024 are
    published anew (a's annual report is not rerun), at every attempt."""
    if not job.run_key.startswith("traeger_overview/"):
        return ex.execute(job)
    project = paths(job.root)
    original = ex.run_notebook

    def run_then_change(*args, **kwargs):
        result = original(*args, **kwargs)
        counter = project.root / "changed"
        count = int(counter.read_text()) if counter.exists() else 0
        counter.write_text(str(count + 1))
        _new_figures(paths(project.agencies / "a"), 300 + count)
        return result

    ex.run_notebook = run_then_change
    try:
        return ex.execute(job)
    finally:
        ex.run_notebook = original


@pytest.mark.slow
def test_figures_that_change_while_the_overview_runs_stop_it_only_for_an_agency_it_shows(project):
    folder = project.reports / "traeger_overview" / "jahr" / "2024"
    summary, out = _overview_run(project, figures_changing_executor)
    # first attempt: a was current and shown, its figures changed before the overview
    # published -> refused; the second attempt finds a not current and shows nothing of it
    assert "changed while it ran in a (figures of" in out, "the first attempt is refused"
    assert "not published; running it again" in out
    assert [o.status for o in summary.outcomes] == ["ok"], out
    assert (project.root / "changed").read_text() == "2", "executed twice"
    rows = _key_figure_rows(folder)
    assert set(rows["Agentur A"][1:]) == {NOT_CURRENT}
    assert rows["Agentur B"][:2] == ["Träger B", "151"]
    cells = {c for r in _cells((folder / "report.html").read_text(encoding="utf-8")) for c in r}
    assert {"300", "301", "111"} & cells == set()
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest[ex.AGENCIES_NOT_CURRENT] == {"a": {ANNUAL: "annual-a"}}
    assert not list(project.state.glob("staging/*"))
    # a's annual report published from the new figures: the next call shows them
    _republish(project, "a", 302, "annual-a-new")
    summary, out = _overview_run(project)
    assert [o.status for o in summary.outcomes] == ["ok"], out
    assert _key_figure_rows(folder)["Agentur A"][:2] == ["Träger A", "302"]


# ---- an agency whose annual report is out of date with its figures -----------------------

NOT_CURRENT = "Jahresbericht nicht aktuell"
STALE_A = 917  # a's new participants (under 1000: one way to write it), not in its annual report


def test_an_annual_report_out_of_date_with_its_figures_is_shown_as_not_current(project, tmp_path):
    rule = SuppressionRule(threshold=5)
    ids = ("lm_participants", "lm_entries")
    a, b = paths(project.agencies / "a"), paths(project.agencies / "b")
    _new_figures(a, STALE_A)  # a's field run rerun, its annual report not published anew
    chosen = overview.chosen("", project)
    rows = overview.collect(chosen, 2024, rule=rule, ids=ids, run_dir=tmp_path)
    assert [r.state for r in rows] == ["not_current", "shown", "shown", "no_report"]
    assert rows[0].table is None and rows[0].report_run_id == "annual-a"
    shown = _rows(overview.side_by_side(rows, rule=rule, ids=ids))
    assert shown["Agentur A"] == ["Träger A", NOT_CURRENT, NOT_CURRENT]
    assert shown["Agentur B"] == ["Träger B", "151", "*"]
    assert shown["Agentur D"] == ["Träger D", "kein Jahresbericht", "kein Jahresbericht"]
    assert _rows(overview.sources_table(rows, rule=rule))["Agentur A"] == [
        f"annual-a ({NOT_CURRENT})",
        "",
    ]
    english = overview.collect(chosen, 2024, rule=rule, ids=ids, language="en")
    assert (
        _rows(overview.side_by_side(english, rule=rule, ids=ids, language="en"))["Agentur A"][1:]
        == ["annual report not current"] * 2
    )
    # what the overview records for the check when it publishes
    excluded = json.loads((tmp_path / ex.NOT_CURRENT_FILE).read_text(encoding="utf-8"))
    assert excluded == overview.not_current(rows) == {"a": {ANNUAL: "annual-a"}}
    recorded = ex.agency_inputs(project, {x: [ANNUAL] for x in "abcd"})
    assert ex.stale_agencies(project, recorded, excluded) == []  # a not shown, still stale
    assert ex.stale_agencies(project, recorded) == [f"a (figures of {ANNUAL} changed)"]
    assert ex.stale_agencies(project, recorded, figures=False) == []  # no reason not to run
    # an agency shown becomes not current before the overview publishes: refused
    _new_figures(b, 152, None)
    assert ex.stale_agencies(project, recorded, excluded) == [f"b (figures of {ANNUAL} changed)"]
    _new_figures(b, 151, None)
    # the agency not shown becomes current again: refused, run again to show it
    _new_figures(a, 111)
    assert ex.stale_agencies(project, recorded, excluded) == [f"a ({ANNUAL} current again)"]
    _republish(project, "a", STALE_A, "annual-a2")
    assert ex.stale_agencies(project, recorded, excluded) == ["a (report republished)"]
    assert ex.stale_agencies(project, recorded, figures=False) == ["a (report republished)"]
    # a report found not current that is not the one published now: refused too
    now = ex.agency_inputs(project, {x: [ANNUAL] for x in "abcd"})
    assert ex.stale_agencies(project, now, excluded) == ["a (report republished)"]
    assert ex.stale_agencies(project, now, {}) == []


@pytest.mark.slow
def test_an_agency_not_current_is_marked_and_the_overview_published_for_the_others(project):
    folder = project.reports / "traeger_overview" / "jahr" / "2024"
    _new_figures(paths(project.agencies / "a"), STALE_A)  # a's report still shows 111
    summary, out = _overview_run(project)
    assert [o.status for o in summary.outcomes] == ["ok"], out
    rows = _key_figure_rows(folder)
    assert set(rows["Agentur A"][1:]) == {NOT_CURRENT}
    assert rows["Agentur B"][:3] == ["Träger B", "151", "*"]
    assert rows["Agentur C"][:3] == ["Träger C", "97", "*"]
    assert set(rows["Agentur D"][1:]) == {"kein Jahresbericht"}
    cells = {c for r in _cells((folder / "report.html").read_text(encoding="utf-8")) for c in r}
    assert {"151", "97", f"annual-a ({NOT_CURRENT})"} <= cells
    for value in (STALE_A, 111, 83):  # a's new figures, and those its report shows
        assert str(value) not in cells, value
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest[ex.AGENCIES_NOT_CURRENT] == {"a": {ANNUAL: "annual-a"}}
    assert manifest["agency_inputs"]["a"] == {ANNUAL: "annual-a"}
    # nothing changed: a no-op
    summary, out = _overview_run(project)
    assert [o.status for o in summary.outcomes] == ["skipped"], out
    # a's annual report published anew from the same figures (its fingerprint is the same,
    # only its run id is new): the next run shows a's figures
    _republish(project, "a", STALE_A, "annual-a-917")
    summary, out = _overview_run(project)
    assert [o.status for o in summary.outcomes] == ["ok"], out
    assert _key_figure_rows(folder)["Agentur A"][:3] == ["Träger A", str(STALE_A), "83"]
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest[ex.AGENCIES_NOT_CURRENT] == {}
    assert manifest["agency_inputs"]["a"] == {ANNUAL: "annual-a-917"}
    # a not current again, and its annual report published anew while the overview runs
    # (after it found a not current): refused and run again, so a is shown. (Forced: here
    # a's annual report is not fingerprinted on a's figures, as its field runs never ran.)
    _new_figures(paths(project.agencies / "a"), STALE_A + 1)
    (project.root / REPUBLISH_LIMIT).write_text("1")
    summary, out = _overview_run(project, republishing_executor, force=True)
    assert [o.status for o in summary.outcomes] == ["ok"], out
    assert "changed while it ran in a (report republished); not published" in out
    assert _key_figure_rows(folder)["Agentur A"][:2] == ["Träger A", "222"]
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest[ex.AGENCIES_NOT_CURRENT] == {}
