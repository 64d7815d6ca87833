"""The start page: latest report of each field first, key figures, formats, German labels."""

from __future__ import annotations

import json
import re

from evaluation import history, report
from evaluation.paths import paths


def _manifest(plan, schedule, label, start, end, *, status="ok", run_id=None):
    return {
        "run_id": run_id or f"{plan}-{label}",
        "run_key": f"{plan}/{schedule}/{label}",
        "plan": plan,
        "schedule": schedule,
        "title": "Arbeitsmarktintegration" if plan == "labour_market" else "Elternarbeit",
        "field": "Arbeitsmarktintegration" if plan == "labour_market" else "Elternarbeit",
        "params_file": f"params/{plan}.yml",
        "period": {"label": label, "start": start, "end": end},
        "started_at": f"{end}T05:15:00+00:00",
        "ended_at": f"{end}T05:16:00+00:00",
        "status": status,
        "error": {"summary": "Zelle 3: KeyError"} if status != "ok" else None,
    }


def _publish(ws, manifest, formats=("report.html",)):
    folder = ws.reports / manifest["run_key"]
    folder.mkdir(parents=True, exist_ok=True)
    name = "manifest.json" if manifest["status"] == "ok" else "failed.json"
    (folder / name).write_text(json.dumps(manifest), encoding="utf-8")
    for f in formats:
        (folder / f).write_text("x", encoding="utf-8")
    return folder


def _figures(ws, manifest, participants, share, suppressed=False):
    period = manifest["period"]
    history.commit_figures(
        [
            {
                "indicator_id": "lm_participants",
                "period": period["label"],
                "period_start": period["start"],
                "period_end": period["end"],
                "value": participants,
            },
            {
                "indicator_id": "lm_completion_share",
                "period": period["label"],
                "period_start": period["start"],
                "period_end": period["end"],
                "value": None if suppressed else share,
                "suppressed": suppressed,
            },
        ],
        run_id=manifest["run_id"],
        run_key=manifest["run_key"],
        snapshot_id="s",
        db=ws.history,
    )


def test_start_page_leads_with_the_latest_yearly_report_and_its_key_figures(tmp_path):
    ws = paths(tmp_path)
    ws.params.mkdir(parents=True)
    (ws.params / "labour_market.yml").write_text(
        "schedules:\n  - name: jahr\n    cadence: yearly\n  - name: quartal\n    cadence: quarterly\n",
        encoding="utf-8",
    )
    m2023 = _manifest("labour_market", "jahr", "2023", "2023-01-01", "2023-12-31")
    m2024 = _manifest("labour_market", "jahr", "2024", "2024-01-01", "2024-12-31")
    q3 = _manifest("labour_market", "quartal", "2025-Q3", "2025-07-01", "2025-09-30")
    _publish(ws, m2023)
    _publish(ws, m2024, ("report.html", "report.pdf", "report.docx", "report.xlsx"))
    _publish(ws, q3)
    failed = _manifest("parent_work", "jahr", "2024", "2024-01-01", "2024-12-31", status="failed")
    _publish(ws, failed, ())
    _figures(ws, m2023, 1298, 0.5)
    _figures(ws, m2024, 1291, None, suppressed=True)

    page = report.index_html(ws)
    main = page.split("<main>")[1].split("</main>")[0]
    latest = main.split('id="alle"')[0]
    # the yearly 2024 report leads (not the newer quarter), with all its formats
    assert "Berichtszeitraum: 2024 (01.01.2024–31.12.2024)" in latest
    for name in ("report.html", "report.pdf", "report.docx", "report.xlsx"):
        assert f'href="labour_market/jahr/2024/{name}"' in latest
    # key figures from the history, German numbers, the period before, * for suppressed
    assert "Erreichte Personen in Arbeitsmarktprojekten" in latest
    assert "1.291" in latest and "2023: 1.298" in latest
    share = re.search(r"<dt>Anteil regulär beendeter Teilnahmen</dt><dd>(.*?)</dd>", latest)
    assert share and share.group(1).split("<span>")[0].endswith(" *"), "suppressed shows *"
    assert "2023: 50,0 %" in share.group(1)
    assert 'role="img" aria-label="Verlauf: 2023 1.298, 2024 1.291"' in latest
    # German cadence labels and dates throughout
    assert "jährlich" in main and "vierteljährlich" in main
    assert ">jahr<" not in main and ">quartal<" not in main
    assert not re.search(r"\d{4}-\d{2}-\d{2}", main), "no ISO dates for readers"
    # a failed run is named with its error; the page has its landmarks
    assert "fehlgeschlagen" in main and "Zelle 3: KeyError" in main
    assert page.count("<main>") == 1 and "<header>" in page and "<footer>" in page
    assert '<html lang="de">' in page


def test_start_page_without_reports_or_history(tmp_path):
    page = report.index_html(paths(tmp_path))
    assert "<main>" in page and "Aktuelle Berichte" not in page and "<p>–</p>" in page


def test_english_start_page(tmp_path):
    ws = paths(tmp_path)
    _publish(ws, _manifest("labour_market", "jahr", "2024", "2024-01-01", "2024-12-31"))
    page = report.index_html(ws, language="en")
    assert '<html lang="en">' in page and "yearly" in page and "Latest reports" in page
