"""The project-level ``reports/index.html`` over agencies: one row per agency, no figure.

A fabricated published state (manifests, report files, figures in the histories – nothing
is executed): agency ``a`` with published, failed and annual reports and its own start page,
``b`` with only an older annual report and no start page, ``c`` without ``agency.yml``,
``d`` with a broken one, and at project level a published and a failed Träger overview.
"""

from __future__ import annotations

import json
import re
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest

from evaluation import agencies, history, report
from evaluation.paths import Paths, paths

#: Figures in a's history, shown on a's own start page (German: 98.765) – never on the
#: project page, which is not audited.
SECRET, SECRET_DE = 98765, "98.765"


def _publish(
    ws_reports: Path,
    run_key: str,
    *,
    status: str = "ok",
    when: str = "2026-03-02T10:15:00+00:00",
    files: tuple[str, ...] = ("report.html",),
    run_id: str | None = None,
) -> dict:
    plan, schedule, label = run_key.split("/")
    year = label[:4]
    folder = ws_reports / run_key
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {
        "run_id": run_id or f"{run_key.replace('/', '-')}-{status}",
        "run_key": run_key,
        "plan": plan,
        "schedule": schedule,
        "title": {"annual_report": "Jahresbericht", "traeger_overview": "Träger-Übersicht"}.get(
            plan, "Arbeitsmarkt"
        ),
        "field": "Arbeitsmarkt",
        "period": {"label": label, "start": f"{year}-01-01", "end": f"{year}-12-31"},
        "status": status,
        "started_at": when,
        "ended_at": when,
    }
    if status == "ok":
        (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
        for name in files:
            (folder / name).write_text("<!DOCTYPE html><title>x</title>", encoding="utf-8")
    else:
        manifest["error"] = {"summary": f"ValueError: {SECRET} is wrong"}  # never shown here
        (folder / "failed.json").write_text(json.dumps(manifest), encoding="utf-8")
    return manifest


@pytest.fixture
def project(tmp_path: Path) -> Paths:
    root = tmp_path / "proj"
    for agency_id in ("a", "b"):
        agencies.write_agency_file(
            root / "agencies" / agency_id,
            {"name": f"Agentur {agency_id.upper()}", "traeger": f"Träger {agency_id.upper()} e.V."},
        )
    (root / "agencies" / "c" / "data").mkdir(parents=True)  # no agency.yml
    (root / "agencies" / "d").mkdir()
    (root / "agencies" / "d" / "agency.yml").write_text("name: D\nfarbe: blau\n")
    (root / "agencies" / ".cache").mkdir()  # hidden: not a row
    (root / "agencies" / "LIESMICH.txt").write_text("x")  # a file: not a row
    a = paths(root / "agencies" / "a")
    lm = _publish(a.reports, "labour_market/jahr/2024", files=("report.html", "report.pdf"))
    history.commit_figures(
        [
            {"indicator_id": "lm_participants", "period": "2024", "value": SECRET, "n": SECRET},
        ],
        run_id=lm["run_id"],
        run_key=lm["run_key"],
        snapshot_id="x",
        db=a.history,
    )
    _publish(a.reports, "annual_report/jahr/2024", when="2026-05-01T08:00:00+00:00")
    _publish(
        a.reports,
        "annual_report/jahr/2025",
        when="2026-11-20T09:30:00+00:00",
        files=("report.html", "report.pdf", "report.docx"),
    )
    # a report whose newest attempt failed: published before, failed since
    _publish(a.reports, "labour_market/quartal/2025-Q1", when="2026-04-01T08:00:00+00:00")
    _publish(
        a.reports, "labour_market/quartal/2025-Q1", status="failed", when="2026-11-21T08:00:00"
    )
    _publish(a.reports, "sozialraum/jahr/2025", status="failed", when="2026-11-21T09:00:00")
    report.write_index(a)
    b = paths(root / "agencies" / "b")
    _publish(b.reports, "annual_report/jahr/2024", when="2026-06-01T08:00:00+00:00")
    p = paths(root)
    _publish(p.reports, "traeger_overview/jahr/2024", when="2026-07-01T08:00:00+00:00")
    _publish(p.reports, "traeger_overview/jahr/2025", status="failed", when="2026-11-22T08:00")
    return p


class _Page(HTMLParser):
    """Landmarks, links and table structure of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.hrefs: list[str] = []
        self.scopes: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.hrefs.append(str(a["href"]))
        if tag == "th":
            self.scopes.append(str(a.get("scope")))


def _rows(page: str) -> dict[str, list[str]]:
    rows = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", page, flags=re.S):
        cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, flags=re.S)
        texts = [" ".join(unescape(re.sub(r"<[^>]+>", " ", c)).split()) for c in cells]
        rows[texts[0]] = texts[1:]
    return rows


def test_one_row_per_agency_with_counts_dates_and_the_latest_annual_report(project):
    assert report.has_project_index(project)
    page = report.project_index_html(project)
    rows = _rows(page)
    assert rows["Agentur"] == [
        "Träger",
        "Veröffentlichte Berichte",
        "Fehlgeschlagene Läufe",
        "Zuletzt veröffentlicht",
        "Jahresbericht 2025",  # the latest year any agency published
    ]
    traeger, published, failed, last, annual = rows["Agentur A"]
    assert traeger == "Träger A e.V."
    assert (published, failed) == ("4", "2")  # Q1 counts in both: published, failing since
    assert last == report._when("2026-11-20T09:30:00+00:00", "de")
    assert annual == "HTML · PDF · Word"
    assert rows["Agentur B (noch keine Startseite)"] == [
        "Träger B e.V.",
        "1",
        "0",
        report._when("2026-06-01T08:00:00+00:00", "de"),
        "nicht veröffentlicht",  # b published 2024 only
    ]
    assert rows["c"] == ["keine Agentur: agencies/c/agency.yml: fehlt"]
    assert rows["d"] == [
        "keine Agentur: agencies/d/agency.yml:2: farbe: unbekannter Schlüssel "
        + ("(erlaubt: " + ", ".join(agencies.AGENCY_KEYS) + ")")
    ]
    assert len(rows) == 5, "no row for the hidden folder or the file"
    # the Träger overviews: the published one linked, the failed one said so
    assert re.search(r"Träger-Übersicht 2024</strong> – <time[^>]*>[^<]+</time> – <a ", page)
    assert re.search(
        r"Träger-Übersicht 2025</strong> – <span[^>]*>letzter Lauf fehlgeschlagen", page
    )


def test_links_are_relative_and_lead_to_the_files(project):
    page = report.project_index_html(project)
    parser = _Page()
    parser.feed(page)
    targets = [h for h in parser.hrefs if not h.startswith("#")]
    assert set(targets) == {
        "../agencies/a/reports/index.html",
        "../agencies/a/reports/annual_report/jahr/2025/report.html",
        "../agencies/a/reports/annual_report/jahr/2025/report.pdf",
        "../agencies/a/reports/annual_report/jahr/2025/report.docx",
        "traeger_overview/jahr/2024/report.html",
    }
    for href in targets:  # from file://, relative to the page
        assert (project.reports / href).resolve().is_file(), href
    assert {h[1:] for h in parser.hrefs if h.startswith("#")} <= set(
        re.findall(r'id="([^"]+)"', page)
    )
    assert str(project.root) not in page, "no absolute path, not even in a reason"


def test_it_shows_no_figure_and_no_error_message(project):
    own = (project.agencies / "a" / "reports" / "index.html").read_text(encoding="utf-8")
    assert SECRET_DE in own, "the agency's own start page shows the figure (the check can fail)"
    page = report.project_index_html(project)
    for text in (SECRET_DE, str(SECRET), "ValueError"):
        assert text not in page, text


def test_landmarks_headers_and_language(project):
    page = report.project_index_html(project)
    parser = _Page()
    parser.feed(page)
    for tag in ("header", "nav", "main", "footer", "caption", "thead", "h1", "h2"):
        assert tag in parser.tags, tag
    assert set(parser.scopes) == {"col", "row"} and '<html lang="de">' in page
    english = report.project_index_html(project, language="en")
    assert '<html lang="en">' in english and "Annual report 2025" in english
    # the reason is the tool's message (German, like every error line of the tool)
    assert _rows(english)["c"] == ["not an agency: agencies/c/agency.yml: fehlt"]
    assert "Provider overview" in english


def test_the_root_with_data_of_its_own_keeps_its_agency_start_page(project):
    from evaluation.runner import _write_index

    _write_index(project)
    assert "Berichte der Agenturen" in (project.reports / "index.html").read_text()
    (project.snapshots).mkdir(parents=True)
    (project.snapshots / "LATEST").write_text("x")
    assert not report.has_project_index(project)
    _write_index(project)
    page = (project.reports / "index.html").read_text(encoding="utf-8")
    assert "Berichte der Agenturen" not in page and "Alle Berichte" in page
    # an agency's workspace never gets the project page; nor a project without agencies
    assert not report.has_project_index(paths(project.agencies / "a"))
    assert not report.has_project_index(paths(project.root / "elsewhere"))


def test_the_index_command_writes_every_start_page_and_names_the_broken_folders(
    project, monkeypatch, capsys
):
    from evaluation.__main__ import main

    monkeypatch.setenv("EVALUATION_HOME", str(project.root))
    assert main(["index", "--all-agencies"]) == 1  # two folders are no agency
    out, err = capsys.readouterr()
    assert out.split() == [
        str(project.agencies / "a" / "reports" / "index.html"),
        str(project.agencies / "b" / "reports" / "index.html"),
        str(project.reports / "index.html"),
    ]
    assert err.splitlines() == [
        f"warning: c: keine Agentur: {project.agencies}/c/agency.yml: fehlt",
        f"warning: d: keine Agentur: {project.agencies}/d/agency.yml:2: farbe: unbekannter "
        "Schlüssel (erlaubt: " + ", ".join(agencies.AGENCY_KEYS) + ")",
    ]
    page = (project.reports / "index.html").read_text(encoding="utf-8")
    assert "../agencies/b/reports/index.html" in page  # b has a start page now
    # without a selection in a project of agencies: the same; in English on request
    assert main(["index", "--language", "en"]) == 1
    capsys.readouterr()
    assert '<html lang="en">' in (project.reports / "index.html").read_text(encoding="utf-8")
    # one agency: its page and the project page; an unknown one is one line, exit 2
    assert main(["index", "--agency", "b"]) == 0
    assert capsys.readouterr().out.split() == [
        str(project.agencies / "b" / "reports" / "index.html"),
        str(project.reports / "index.html"),
    ]
    assert main(["index", "--agency", "zz"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--agency zz: keine solche Agentur" in err[0]
    assert "(Agenturen: a, b)" in err[0]
    # a named broken one is its one line (exit 2); one without agency.yml is none at all
    assert main(["index", "--agency", "d"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"error: {project.agencies}/d/agency.yml:2: farbe: unbekannter "
        "Schlüssel (erlaubt: " + ", ".join(agencies.AGENCY_KEYS) + ")"
    ]
    assert main(["index", "--agency", "c"]) == 2
    assert "--agency c: keine solche Agentur" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.browser
def test_the_project_page_has_no_moderate_or_worse_axe_violation(project):
    from tests import browser

    if browser.chromium() is None or browser.axe_script() is None:
        pytest.skip("chromium or axe-core not installed (see tests/test_accessibility.py)")
    page = report.write_project_index(project)
    violations = browser.axe_violations(page)
    assert violations == [], violations
