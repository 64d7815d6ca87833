"""The annual report (Sachbericht): headline figures read from the results history.

The annual report recomputes nothing that a field notebook records: it reads the figures the
field notebooks recorded for the year and the years before, with labels, Handlungsfeld,
Wirkungstreppe level and IOOI level from the indicator catalogue, and says plainly which
figure it needs is missing. The history holds no suppressed number (suppressed figures are
stored without value and n), and every figure about persons or cases whose n is below the
report's threshold is suppressed again here, so a report with a stricter threshold than the
field notebooks' stays safe. Activity figures (group cycles, trainings, events: catalogue
``unit_kind: activities``) are shown as the field reports show them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from evaluation import history
from evaluation.disclosure import ColumnFormat, DisclosedTable, SuppressionRule, published
from evaluation.indicators.catalogue import FIELDS, IOOI, Catalogue, load_catalogue

Language = Literal["de", "en"]

#: The figures the annual report presents for each field, in reading order.
HEADLINE: dict[str, tuple[str, ...]] = {
    "Arbeitsmarktintegration": (
        "lm_participants",
        "lm_entries",
        "lm_exits",
        "lm_completion_share",
        "rec_decisions",
        "rec_full_share",
        "rec_months_median",
        "lm_eingliederungsquote_6m",
        "lm_verbleibsquote_6m",
        "lm_eingliederungsquote_12m",
        "lm_months_to_employment",
        "lm_effect_employment",
    ),
    "Elternarbeit": (
        "par_cycles",
        "par_reached",
        "par_attendance",
        "par_fsw_change",
        "par_school_contact_post",
        "par_parent_evening_post",
        "par_kita_post",
        "par_attrition",
    ),
    "Bürgerschaftliches Engagement": (
        "vol_recruited",
        "vol_trained",
        "vol_active",
        "vol_retained",
        "vol_hours",
        "evt_mso_trainings",
        "evt_mso_participants",
        "evt_kulturzentrum_events",
        "evt_kulturzentrum_visitors",
    ),
    "Interkulturelle Öffnung": ("evt_iko_trainings", "evt_iko_participants", "evt_iko_partners"),
    "Sozialraumorientierte Arbeit": (
        "sr_participants_per_1000",
        "evt_sozialraum_events",
        "evt_sozialraum_participants",
    ),
}
#: Key figures for the summary at the top.
SUMMARY: tuple[str, ...] = (
    "lm_participants",
    "lm_eingliederungsquote_6m",
    "lm_effect_employment",
    "rec_full_share",
    "par_reached",
    "par_fsw_change",
    "vol_active",
    "vol_hours",
)
#: Figures drawn as multi-year trends.
TRENDS: tuple[str, ...] = (
    "lm_participants",
    "lm_eingliederungsquote_6m",
    "par_reached",
    "vol_active",
)

UNIT_FORMAT: dict[str, tuple[int, str, str]] = {
    # unit: (decimals, German suffix, English suffix); shares and points are scaled by 100
    "count": (0, "", ""),
    "persons": (0, "", ""),
    "hours": (0, "\u00a0Std.", " h"),
    "months": (1, "\u00a0Monate", " months"),
    "share": (1, "\u00a0%", "%"),
    "percentage_points": (1, "\u00a0Pp.", " pp"),
    "scale_points": (2, "", ""),
    "per_1000": (1, "", ""),
    "coefficient": (2, "", ""),
}
HUNDRED = {"share", "percentage_points"}


@dataclass(frozen=True)
class Figures:
    """Recorded whole-population figures (no grouping) of yearly periods, by indicator and year."""

    frame: pd.DataFrame

    @classmethod
    def read(cls, *, until: int, years: int = 5, db: Path | None = None) -> Figures:
        """Read the yearly figures of the ``years`` years up to ``until`` from the history."""
        raw = history.read(
            period_from=f"{until - years + 1}-01-01", period_to=f"{until}-12-31", db=db
        )
        yearly = raw[raw["period"].str.fullmatch(r"\d{4}") & (raw["group_var"] == "")]
        return cls(yearly.assign(year=yearly["period"].astype(int)).reset_index(drop=True))

    def get(self, indicator_id: str, year: int) -> pd.Series | None:
        rows = self.frame[
            (self.frame["indicator_id"] == indicator_id) & (self.frame["year"] == year)
        ]
        return None if rows.empty else rows.iloc[-1]


def format_value(
    value: float | None, unit: str, language: Language = "de", *, signed: bool = False
) -> str:
    """Reader-facing number with its unit, in German or English notation."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    decimals, de, en = UNIT_FORMAT.get(unit, (1, "", ""))
    number = float(value) * (100 if unit in HUNDRED else 1)
    text = f"{number:+,.{decimals}f}" if signed else f"{number:,.{decimals}f}"
    if text.lstrip("+-").strip("0.,") == "":
        text = text.lstrip("+-")
    if language == "de":
        text = text.translate(str.maketrans({",": ".", ".": ","}))
    return text + (de if language == "de" else en)


def _shown(
    row: pd.Series | None, rule: SuppressionRule, *, sensitive: bool = True
) -> tuple[float | None, bool]:
    """Value of a recorded figure and whether it must be hidden under the report's rule.

    Figures that are not ``sensitive`` (activities such as group cycles and events, public
    statistics: :attr:`Indicator.sensitive`) are not suppressed again by their n.
    """
    if row is None:
        return None, False
    n = row["n"]
    small = sensitive and n is not None and not pd.isna(n) and 0 < n < rule.threshold
    if bool(row["suppressed"]) or small:
        return None, True
    return float(row["value"]), False


def headline(
    figures: Figures,
    year: int,
    *,
    rule: SuppressionRule,
    catalogue: Catalogue | None = None,
    language: Language = "de",
    ids: Mapping[str, Sequence[str]] = HEADLINE,
) -> pd.DataFrame:
    """One row per headline figure: labels, level, IOOI, this year's and last year's value.

    Columns ``indicator_id, field, label, level, iooi, unit, value, previous, change,
    suppressed, missing, n``. ``missing`` is True when no notebook recorded the figure for
    ``year``; ``suppressed`` when it was recorded but may not be shown.
    """
    cat = catalogue or load_catalogue()
    i = 0 if language == "de" else 1
    rows = []
    for field, indicator_ids in ids.items():
        for indicator_id in indicator_ids:
            entry = cat.get(indicator_id)
            now_row, before_row = (
                figures.get(indicator_id, year),
                figures.get(indicator_id, year - 1),
            )
            value, hidden = _shown(now_row, rule, sensitive=entry.sensitive)
            previous, hidden_before = _shown(before_row, rule, sensitive=entry.sensitive)
            change = value - previous if value is not None and previous is not None else None
            rows.append(
                {
                    "indicator_id": indicator_id,
                    "field": FIELDS[field][i],
                    "label": entry.label[language],
                    "level": entry.level,
                    "iooi": IOOI[entry.iooi][i] if entry.iooi else None,
                    "unit": entry.unit,
                    "value": value,
                    "previous": previous,
                    "change": change,
                    "suppressed": hidden,
                    "suppressed_before": hidden_before,
                    "missing": now_row is None,
                    "n": None if hidden or now_row is None else now_row["n"],
                }
            )
    return pd.DataFrame(rows)


def missing(table: pd.DataFrame) -> list[str]:
    """Labels of the headline figures no notebook recorded for the year."""
    return table.loc[table["missing"], "label"].tolist()


def _cell(
    value: float | None,
    hidden: bool,
    unit: str,
    language: Language,
    marker: str,
    *,
    signed: bool = False,
) -> str:
    if hidden:
        return marker
    return format_value(value, unit, language, signed=signed)


WORDS = {
    "de": {
        "figure": "Kennzahl",
        "level": "Stufe",
        "iooi": "Ebene",
        "now": "{year}",
        "before": "{year}",
        "change": "Veränderung",
        "missing": "fehlt",
        "field": "Handlungsfeld",
    },
    "en": {
        "figure": "Figure",
        "level": "Level",
        "iooi": "IOOI",
        "now": "{year}",
        "before": "{year}",
        "change": "Change",
        "missing": "missing",
        "field": "Field",
    },
}


def reader_table(
    table: pd.DataFrame,
    year: int,
    *,
    rule: SuppressionRule,
    language: Language = "de",
    columns: Sequence[str] = ("label", "level", "value", "previous", "change"),
    caption: str | None = None,
) -> DisclosedTable:
    """Headline figures as a protected reader table (text cells, suppressed ones marked).

    The values come from the history, which holds no suppressed number, and figures with
    a small n are hidden again under the report's rule, so the table needs no further
    suppression; it is returned as a :class:`DisclosedTable` so the notebook shows it like
    every other table.
    """
    w = WORDS[language]
    out = pd.DataFrame(index=table.index)
    for column in columns:
        if column == "label":
            out[w["figure"]] = table["label"]
        elif column == "field":
            out[w["field"]] = table["field"]
        elif column == "level":
            out[w["level"]] = table["level"].map(
                lambda v: "" if v is None or pd.isna(v) else str(int(v))
            )
        elif column == "iooi":
            out[w["iooi"]] = table["iooi"].fillna("")
        elif column == "value":
            out[str(year)] = [
                w["missing"] if m else _cell(v, h, u, language, rule.marker)
                for v, h, u, m in zip(
                    table["value"],
                    table["suppressed"],
                    table["unit"],
                    table["missing"],
                    strict=True,
                )
            ]
        elif column == "previous":
            out[str(year - 1)] = [
                _cell(v, h, u, language, rule.marker)
                for v, h, u in zip(
                    table["previous"], table["suppressed_before"], table["unit"], strict=True
                )
            ]
        elif column == "change":
            out[w["change"]] = [
                rule.marker
                if (h or hb)
                else format_value(
                    c, "percentage_points" if u == "share" else u, language, signed=True
                )
                for c, h, hb, u in zip(
                    table["change"],
                    table["suppressed"],
                    table["suppressed_before"],
                    table["unit"],
                    strict=True,
                )
            ]
    out = out.reset_index(drop=True)
    text = {w["figure"], w["field"], w["iooi"]}
    hidden = pd.DataFrame(False, index=out.index, columns=out.columns)
    return DisclosedTable(
        values=out,
        mask=hidden,
        primary_mask=hidden,
        rule=rule,
        formats=tuple(ColumnFormat(kind="label" if c in text else "figure") for c in out.columns),
        language=language,
        caption=caption,
    )


def trend(
    figures: Figures,
    indicator_id: str,
    *,
    rule: SuppressionRule,
    catalogue: Catalogue | None = None,
) -> pd.DataFrame:
    """Yearly values of one figure (``year, value, ci_low, ci_high, hidden``) for a chart.

    Activity figures (:attr:`Indicator.sensitive` false) are hidden only where the history
    says so, not again by their n.
    """
    rows = figures.frame[figures.frame["indicator_id"] == indicator_id].sort_values("year")
    small = (rows["n"] > 0) & (rows["n"] < rule.threshold)
    if not (catalogue or load_catalogue()).get(indicator_id).sensitive:
        small = small & False
    hidden = rows["suppressed"].astype(bool) | small
    return pd.DataFrame(
        {
            "year": rows["year"].astype(str).to_numpy(),
            "value": rows["value"].where(~hidden).to_numpy(),
            "ci_low": rows["ci_low"].where(~hidden).to_numpy(),
            "ci_high": rows["ci_high"].where(~hidden).to_numpy(),
            "hidden": hidden.to_numpy(),
        }
    )


def staircase(table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per field, its headline figures ordered by Wirkungstreppe level (context figures last)."""
    order = table.assign(_level=table["level"].fillna(99))
    return {
        field: part.sort_values("_level", kind="stable").drop(columns="_level")
        for field, part in order.groupby("field", sort=False)
    }


def by_iooi(table: pd.DataFrame, language: Language = "de") -> pd.DataFrame:
    """Headline figures ordered by IOOI level (Input, Output, Outcome, Impact)."""
    rank = {label[0 if language == "de" else 1]: i for i, label in enumerate(IOOI.values())}
    staircase_only = table[table["iooi"].notna()]
    return (
        staircase_only.assign(_r=staircase_only["iooi"].map(rank))
        .sort_values(["_r", "field"], kind="stable")
        .drop(columns="_r")
    )


def inputs_table(
    *, staff_fte: float, grant_eur: float, volunteer_hours: float | None, language: Language = "de"
) -> pd.DataFrame:
    """Input figures: staff, grant and volunteer time (text cells)."""
    de = language == "de"
    rows = [
        (
            "Personal (Vollzeitäquivalente, VZÄ)" if de else "Staff (full-time equivalents)",
            format_value(staff_fte, "coefficient", language),
        ),
        (
            "Landesförderung (Euro)" if de else "State grant (euro)",
            format_value(grant_eur, "count", language),
        ),
        (
            "Ehrenamtlich geleistete Stunden" if de else "Volunteer hours",
            format_value(volunteer_hours, "hours", language),
        ),
    ]
    return pd.DataFrame(
        rows, columns=["Input" if not de else "Ressource", "Wert" if de else "Value"]
    )


def as_text_table(
    frame: pd.DataFrame, *, rule: SuppressionRule, caption: str, language: Language = "de"
) -> DisclosedTable:
    """A table of text that holds no count about persons (e.g. inputs), for display."""
    return published(frame, rule=rule, caption=caption, language=language)


def source_summary(snapshot_info: Any) -> dict[str, str]:
    """Facts about the data behind the report, for the method section."""
    manifest = snapshot_info.manifest
    source = manifest.get("source", {})
    tables = manifest.get("tables", {})
    return {
        "snapshot": snapshot_info.id,
        "kind": str(source.get("kind", "unbekannt")),
        "created": str(manifest.get("created_at", ""))[:10],
        "rows": f"{sum(t.get('rows', 0) for t in tables.values()):,}".replace(",", "."),
        "tables": str(len(tables)),
    }


SOZIALRAUM_IDS = (
    "sr_population",
    "sr_migration_share",
    "sr_migration_share_u18",
    "sr_sgb2_share",
    "sr_unemployment_share",
    "sr_single_parent_share",
)


def sozialraum_comparison(
    year: int,
    *,
    catalogue: Catalogue | None = None,
    language: Language = "de",
    db: Path | None = None,
) -> pd.DataFrame:
    """City statistics of the year for the Stadtbezirk Ehrenfeld and for Köln, as text cells.

    Official aggregates published by the city, not client data; missing values show as "–".
    """
    cat = catalogue or load_catalogue()
    raw = history.read(
        list(SOZIALRAUM_IDS), period_from=f"{year}-01-01", period_to=f"{year}-12-31", db=db
    )
    raw = raw[raw["period"] == str(year)]
    de = language == "de"
    rows = []
    for indicator_id in SOZIALRAUM_IDS:
        entry = cat.get(indicator_id)
        part = raw[raw["indicator_id"] == indicator_id]
        district = part.loc[part["group_var"] == "", "value"]
        city = part.loc[part["group_value"] == "0", "value"]
        rows.append(
            {
                ("Kennzahl" if de else "Figure"): entry.label[language],
                "Stadtbezirk Ehrenfeld": format_value(
                    district.iloc[0] if len(district) else None, entry.unit, language
                ),
                ("Köln" if de else "Cologne"): format_value(
                    city.iloc[0] if len(city) else None, entry.unit, language
                ),
            }
        )
    return pd.DataFrame(rows)


def definitions(
    table: pd.DataFrame, *, catalogue: Catalogue | None = None, language: Language = "de"
) -> pd.DataFrame:
    """Appendix: label, field, level, IOOI and definition of every headline figure."""
    cat = catalogue or load_catalogue()
    de = language == "de"
    rows = []
    for indicator_id in table["indicator_id"]:
        entry = cat.get(indicator_id)
        i = 0 if de else 1
        rows.append(
            {
                ("Kennzahl" if de else "Figure"): entry.label[language],
                ("Handlungsfeld" if de else "Field"): FIELDS[entry.field][i],
                ("Stufe" if de else "Level"): "" if entry.level is None else str(entry.level),
                ("Ebene" if de else "IOOI"): IOOI[entry.iooi][i]
                if entry.iooi
                else ("Kontext" if de else "context"),
                ("Definition"): entry.definition[language],
            }
        )
    return pd.DataFrame(rows)
