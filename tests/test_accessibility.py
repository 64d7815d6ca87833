"""axe-core on the start page and on every kind of report: no violation of impact moderate+.

axe-core comes from the npm registry (``.ci/run`` installs it into ``tests/.npm``) and runs
in headless Chromium with networking off, after the charts are drawn.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import browser

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def _require_tools() -> None:
    missing = []
    if browser.chromium() is None:
        missing.append("chromium (apt-get install chromium)")
    if browser.axe_script() is None:
        missing.append("axe-core (npm install --prefix tests/.npm axe-core)")
    if missing:
        if os.environ.get("CI"):
            pytest.fail("missing on CI: " + ", ".join(missing))
        pytest.skip("not installed: " + ", ".join(missing))


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    _require_tools()
    return browser.published_reports(tmp_path_factory.mktemp("a11y-ws"))


def _report(violations: list[dict]) -> str:
    return "\n".join(
        f"{v['impact']}: {v['id']} – {v['help']} ({v['count']}×, e.g. {v['nodes'][:2]})"
        for v in violations
    )


def test_axe_finds_known_violations_on_a_bad_page(tmp_path):
    """The check itself works: a page with known faults fails it."""
    _require_tools()
    page = tmp_path / "bad.html"
    page.write_text(
        '<!DOCTYPE html><html><head><title>x</title></head><body><img src="a.png">'
        '<div style="color:#bbb">schwacher Kontrast</div><div tabindex="0">x</div></body></html>',
        encoding="utf-8",
    )
    found = {v["id"] for v in browser.axe_violations(page)}
    assert {"image-alt", "html-has-lang", "color-contrast"} <= found


def test_start_page_has_no_moderate_or_worse_violation(published):
    ws, _, _ = published
    violations = browser.axe_violations(ws.reports / "index.html")
    assert violations == [], _report(violations)


@pytest.mark.parametrize("kind", browser.REPORT_KINDS)
def test_report_has_no_moderate_or_worse_violation(published, kind):
    _, folders, log = published
    if kind not in folders:
        pytest.fail(f"{kind} was not published:\n{log}")
    page: Path = folders[kind] / "report.html"
    violations = browser.axe_violations(page)
    assert violations == [], _report(violations)
