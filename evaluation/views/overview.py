"""The Träger overview: key figures of several agencies side by side, released figures only.

Each agency's figures come from that agency's own results history
(``agencies/<id>/data/history.sqlite``), which holds only what its reports released: a
figure its release audit hid is stored as suppressed, *without value and n*
(:func:`evaluation.history.normalise_figures`, :meth:`evaluation.notebook.Context.record`
and ``_release_figure``). An agency is shown for a year only when its annual report of
that year is published, and every figure is hidden again under the stricter of the
overview's threshold and the threshold that agency's annual report used (read from its
manifest), exactly as :func:`evaluation.annual.headline` hides it there – so the overview
never shows a value that the agency's own annual report hid.

An agency whose published annual report no longer matches the figures it was published
from (its field runs were rerun and the annual report is not yet published anew, e.g. it
keeps failing) is **not current**: the history holds figures that report does not show, so
the overview shows none of them – the row says "Jahresbericht nicht aktuell", as an agency
without a published annual report says "kein Jahresbericht" – and the other agencies are
shown. The agencies found not current are written into the run's staging folder
(:data:`evaluation.execute.NOT_CURRENT_FILE`, copied into the manifest); when the overview
publishes, :func:`evaluation.execute.stale_agencies` checks that every agency shown is still
current and every agency not shown still not current (else it is run again).

No figure is aggregated over agencies (no total, no mean): a total beside the agencies'
values would give away every hidden value as "total minus the others". Each cell is one
agency's released figure, nothing computed from several agencies' persons.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from evaluation import annual
from evaluation.agencies import Agency, discover, root_agency
from evaluation.disclosure import ColumnFormat, DisclosedTable, SuppressionRule
from evaluation.indicators.catalogue import load_catalogue
from evaluation.paths import Paths, paths

Language = Literal["de", "en"]

#: The key figures of the overview, one column each, in reading order.
KEY_FIGURES: tuple[str, ...] = (
    "lm_participants",
    "lm_entries",
    "rec_decisions",
    "par_reached",
    "vol_active",
    "evt_kulturzentrum_visitors",
)
ANNUAL_PLAN = "annual_report"
WORDS = {
    "de": {
        "agency": "Agentur",
        "traeger": "Träger",
        "no_report": "kein Jahresbericht",
        "not_current": "Jahresbericht nicht aktuell",
        "missing": "fehlt",
    },
    "en": {
        "agency": "Agency",
        "traeger": "Provider",
        "no_report": "no annual report",
        "not_current": "annual report not current",
        "missing": "missing",
    },
}


@dataclass(frozen=True)
class AgencyYear:
    """One agency's released key figures of one year.

    ``table`` is ``None`` without a published annual report and when that report is not
    current (``current`` false: it no longer matches the figures in the agency's history).
    """

    agency: Agency
    year: int
    table: pd.DataFrame | None
    threshold: int | None
    report_run_id: str | None
    current: bool = True

    @property
    def state(self) -> Literal["shown", "no_report", "not_current"]:
        """Whether the row shows figures, and if not, why."""
        if not self.current:
            return "not_current"
        return "no_report" if self.table is None else "shown"


def chosen(ids: str = "", project: Paths | None = None) -> list[Agency]:
    """The agencies of the overview: ``ids`` (comma-separated), else all of the project.

    Without an ``agencies/`` folder the project root is the one agency.
    """
    p = project or paths()
    found = discover(p)
    if not found:
        return [root_agency(p)]
    wanted = [i.strip() for i in ids.split(",") if i.strip()]
    if not wanted:
        return found
    by_id = {a.id: a for a in found}
    unknown = [i for i in wanted if i not in by_id]
    if unknown:
        raise ValueError(f"agencies: keine Agentur {unknown[0]!r} (Agenturen: {', '.join(by_id)})")
    return [by_id[i] for i in wanted]


def start(
    *,
    period_start: str,
    period_end: str,
    agency: str,
    language: Language = "de",
    suppression_threshold: int = 5,
) -> Any:
    """The notebook context of the overview, which runs at project level.

    With a data snapshot in the project root (the single-agency layout) this is
    :func:`evaluation.notebook.start`. In the multi-agency layout the project has no data
    of its own (the overview reads the agencies' histories), so the context is set up as
    ``start`` does it – guard, charts, release publisher – without a snapshot. (A
    ``snapshot=None`` in ``notebook.start`` would make this branch unnecessary.)
    """
    import os
    from datetime import date

    from evaluation import notebook, plots
    from evaluation.protection import guard_dataframes
    from evaluation.protection.release import ENV_RUN_KEY, Publisher

    kwargs = {
        "period_start": period_start,
        "period_end": period_end,
        "agency": agency,
        "language": language,
        "suppression_threshold": suppression_threshold,
    }
    if (paths().snapshots / "LATEST").exists():
        return notebook.start(**kwargs)
    start_day, end_day = date.fromisoformat(period_start), date.fromisoformat(period_end)
    report_mode = os.environ.get(notebook.ENV_REPORT_MODE) == "1"
    run_dir = os.environ.get(notebook.ENV_RUN_DIR)
    run_id = os.environ.get(notebook.ENV_RUN_ID)
    plots.setup(language)
    if report_mode:
        guard_dataframes(True, language=language, strict=True)
    publisher = Publisher(
        run_id=run_id if report_mode else None,
        run_key=os.environ.get(ENV_RUN_KEY) or run_id,
        threshold=suppression_threshold,
    )
    return notebook.Context(
        publisher=publisher,
        period=notebook.period_of(start_day, end_day),
        agency=agency,
        snapshot="",
        language=language,
        rule=SuppressionRule(threshold=suppression_threshold),
        report_mode=report_mode,
        run_id=run_id,
        run_dir=Path(run_dir) if run_dir else None,
    )


def _annual_key(year: int) -> str:
    return f"{ANNUAL_PLAN}/jahr/{year}"


def _annual_manifest(agency: Agency, year: int) -> dict[str, Any] | None:
    from evaluation import execute

    return execute.published_manifest(agency.paths, _annual_key(year))


def _by_field(ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """``ids`` grouped by the field the annual report files them under."""
    out: dict[str, tuple[str, ...]] = {}
    for indicator in ids:
        field = next((f for f, known in annual.HEADLINE.items() if indicator in known), None)
        if field is None:
            raise ValueError(f"{indicator}: not a headline figure of the annual report")
        out[field] = (*out.get(field, ()), indicator)
    return out


def agency_year(
    agency: Agency,
    year: int,
    *,
    rule: SuppressionRule,
    language: Language = "de",
    ids: Sequence[str] = KEY_FIGURES,
) -> AgencyYear:
    """The agency's key figures of ``year`` as its annual report of that year shows them.

    Without a published annual report, or when that report no longer matches the figures
    in the agency's history (:func:`evaluation.execute.report_matches_figures`), no figure
    is read (``table`` is ``None``).
    """
    from evaluation import execute

    manifest = _annual_manifest(agency, year)
    if manifest is None:
        return AgencyYear(agency, year, None, None, None)
    run_id = str(manifest["run_id"])
    if not execute.report_matches_figures(agency.paths, agency.id, manifest):
        return AgencyYear(agency, year, None, None, run_id, current=False)
    own = int(manifest.get("parameters", {}).get("suppression_threshold", rule.threshold))
    stricter = SuppressionRule(threshold=max(own, rule.threshold), marker=rule.marker)
    figures = annual.Figures.read(until=year, years=2, db=agency.paths.history)
    table = annual.headline(figures, year, rule=stricter, language=language, ids=_by_field(ids))
    return AgencyYear(agency, year, table, stricter.threshold, run_id)


def collect(
    agencies: Sequence[Agency],
    year: int,
    *,
    rule: SuppressionRule,
    language: Language = "de",
    ids: Sequence[str] = KEY_FIGURES,
    run_dir: Path | None = None,
) -> list[AgencyYear]:
    """:func:`agency_year` for every agency.

    With ``run_dir`` (the run's staging folder, ``ctx.run_dir`` in a report run) the
    annual reports found not current are written there (:func:`record_not_current`), for
    the check when the overview publishes.
    """
    rows = [agency_year(a, year, rule=rule, language=language, ids=ids) for a in agencies]
    if run_dir is not None:
        record_not_current(rows, run_dir)
    return rows


def not_current(rows: Sequence[AgencyYear]) -> dict[str, dict[str, str]]:
    """The annual reports found not current, ``{agency id: {run key: run id}}``
    (:data:`evaluation.execute.AGENCIES_NOT_CURRENT`)."""
    return {
        r.agency.id: {_annual_key(r.year): str(r.report_run_id)}
        for r in rows
        if r.state == "not_current"
    }


def record_not_current(rows: Sequence[AgencyYear], run_dir: Path) -> Path:
    """Write :func:`not_current` into the run's folder, where publishing finds it.

    Written also when every report is current (then empty), so the manifest says so.
    """
    from evaluation import execute
    from evaluation.data import atomic_write_text

    file = Path(run_dir) / execute.NOT_CURRENT_FILE
    atomic_write_text(file, json.dumps(not_current(rows), sort_keys=True))
    return file


def _name(agency: Agency) -> str:
    return agency.name or agency.id or "Agentur"


def caption(year: int, language: Language = "de") -> str:
    """Caption of the side-by-side table."""
    if language == "de":
        return f"Kennzahlen {year} je Agentur (wie in ihren Jahresberichten veröffentlicht)"
    return f"Key figures {year} by agency (as published in their annual reports)"


def side_by_side(
    rows: Sequence[AgencyYear],
    *,
    rule: SuppressionRule,
    language: Language = "de",
    ids: Sequence[str] = KEY_FIGURES,
    caption: str | None = None,
) -> DisclosedTable:
    """One row per agency, one column per key figure: released values as text.

    A figure the agency's report hid (or that is hidden under the stricter threshold) is
    shown as the marker ``*`` – its value is never read, the history holds none – and one
    not recorded says so (``fehlt``). An agency without a published annual report, or whose
    annual report is not current, says so in every figure column. No total row or column.
    """
    w = WORDS[language]
    cat = load_catalogue()
    labels = [cat.get(i).label[language] for i in ids]
    records: list[list[Any]] = []
    hidden: list[list[bool]] = []
    for item in rows:
        cells: list[Any] = [_name(item.agency), str(item.agency.facts.get("traeger", ""))]
        masked = [False, False]
        if item.table is None:
            cells += [w[item.state]] * len(ids)
            masked += [False] * len(ids)
        else:
            by_id = {r["indicator_id"]: r for r in item.table.to_dict("records")}
            for indicator in ids:
                # a hidden figure is the marker, as in the agency's annual report
                # (annual.reader_table); the notebook's reading note explains it
                cells.append(annual.value_text(by_id[indicator], language, rule.marker))
                masked.append(False)
        records.append(cells)
        hidden.append(masked)
    columns = [w["agency"], w["traeger"], *labels]
    values = pd.DataFrame(records, columns=columns, dtype=object)
    mask = pd.DataFrame(hidden, columns=columns, dtype=bool)
    return DisclosedTable(
        values=values,
        mask=mask,
        primary_mask=mask.copy(),
        rule=rule,
        formats=tuple(
            ColumnFormat(kind="label" if c in (w["agency"], w["traeger"]) else "figure")
            for c in columns
        ),
        language=language,
        caption=caption,
        na_rep="",
    )


def sources_table(
    rows: Sequence[AgencyYear], *, rule: SuppressionRule, language: Language = "de"
) -> DisclosedTable:
    """Where each column comes from: the agency's annual report run and its threshold."""
    de = language == "de"
    columns = (
        ["Agentur", "Jahresbericht (Lauf)", "Schwelle"]
        if de
        else ["Agency", "Annual report (run)", "Threshold"]
    )
    w = WORDS[language]
    records = [
        [
            _name(r.agency),
            r.report_run_id or w["no_report"],
            "" if r.threshold is None else str(r.threshold),
        ]
        if r.state != "not_current"
        else [_name(r.agency), f"{r.report_run_id} ({w['not_current']})", ""]
        for r in rows
    ]
    values = pd.DataFrame(records, columns=columns, dtype=object)
    mask = pd.DataFrame(False, index=values.index, columns=columns)
    return DisclosedTable(
        values=values,
        mask=mask,
        primary_mask=mask.copy(),
        rule=rule,
        formats=tuple(ColumnFormat(kind="label") for _ in columns),
        language=language,
        caption="Quellen" if de else "Sources",
    )


__all__ = [
    "KEY_FIGURES",
    "AgencyYear",
    "agency_year",
    "caption",
    "chosen",
    "collect",
    "not_current",
    "record_not_current",
    "side_by_side",
    "sources_table",
    "start",
]
