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
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from evaluation import history, labels
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
        "rec_months_km",
        "lm_eingliederungsquote_ba_6m",
        "lm_eingliederungsquote_6m",
        "lm_verbleibsquote_ba_6m",
        "lm_verbleibsquote_6m",
        "lm_eingliederungsquote_ba_12m",
        "lm_eingliederungsquote_12m",
        "lm_months_to_employment",
        "lm_sustained_employment_12m",
        "lm_effect_employment",
    ),
    "Elternarbeit": (
        "par_cycles",
        "par_reached",
        "par_attendance",
        "par_fsw_change",
        "par_waitlist_effect",
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
    "lm_eingliederungsquote_ba_6m",
    "lm_eingliederungsquote_6m",
    "lm_effect_employment",
    "rec_full_share",
    "par_reached",
    "par_fsw_change",
    "par_waitlist_effect",
    "vol_active",
    "vol_hours",
)
#: Figures drawn as multi-year trends.
TRENDS: tuple[str, ...] = (
    "lm_participants",
    "lm_eingliederungsquote_ba_6m",
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
    "per_100": (1, "", ""),
    "coefficient": (2, "", ""),
}
HUNDRED = {"share", "percentage_points", "per_100"}
#: Figures recorded as fractions but read as rates "je 100" (as their field report shows
#: them), not as percent of a whole: ``0.049`` is "4,9" Arbeitslose je 100 Einwohner.
DISPLAY_UNIT: dict[str, str] = {"sr_unemployment_share": "per_100"}

#: The population (history group) each headline figure is read from, where it is not the
#: whole population: the parents' outcomes are the participants' (arm ``teilnahme``), not
#: pooled with the randomised waiting list, whose role is the comparison
#: (``par_waitlist_effect``).
POPULATION: dict[str, tuple[str, str]] = {
    "par_fsw_change": ("arm", "teilnahme"),
    "par_school_contact_post": ("arm", "teilnahme"),
    "par_parent_evening_post": ("arm", "teilnahme"),
    "par_kita_post": ("arm", "teilnahme"),
}
#: Kinds of figure that count every unit (no sample, hence no sampling error of a change).
CENSUS_KINDS = frozenset({"count", "sum"})
#: BA-comparable quota -> the same quota among exits with known status.
BA_QUOTAS: dict[str, str] = {
    "lm_eingliederungsquote_ba_6m": "lm_eingliederungsquote_6m",
    "lm_verbleibsquote_ba_6m": "lm_verbleibsquote_6m",
    "lm_eingliederungsquote_ba_12m": "lm_eingliederungsquote_12m",
    "lm_verbleibsquote_ba_12m": "lm_verbleibsquote_12m",
}
_Z = 1.959963984540054  # scipy.stats.norm.ppf(0.975), used to read SEs back from 95 % intervals


@dataclass(frozen=True)
class Figures:
    """Recorded figures of yearly periods (whole population and groups), by indicator and year."""

    frame: pd.DataFrame

    @classmethod
    def read(cls, *, until: int, years: int = 5, db: Path | None = None) -> Figures:
        """Read the yearly figures of the ``years`` years up to ``until`` from the history.

        The rows of the whole population have ``group_var == ""``; group rows (e.g. the
        parents' ``arm``) are kept for the figures :data:`POPULATION` reads from a group.
        """
        raw = history.read(
            period_from=f"{until - years + 1}-01-01", period_to=f"{until}-12-31", db=db
        )
        yearly = raw[raw["period"].str.fullmatch(r"\d{4}")]
        return cls(yearly.assign(year=yearly["period"].astype(int)).reset_index(drop=True))

    def get(
        self, indicator_id: str, year: int, group: tuple[str, str] | None = None
    ) -> pd.Series | None:
        """The figure of ``year`` for the population ``group`` (default :data:`POPULATION`)."""
        var, value = group if group is not None else POPULATION.get(indicator_id, ("", ""))
        f = self.frame
        rows = f[
            (f["indicator_id"] == indicator_id)
            & (f["year"] == year)
            & (f["group_var"] == var)
            & (f["group_value"] == value)
        ]
        return None if rows.empty else rows.iloc[-1]


def format_value(
    value: float | None, unit: str, language: Language = "de", *, signed: bool = False
) -> str:
    """Reader-facing number with its unit, in German or English notation (babel)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    decimals, de, en = UNIT_FORMAT.get(unit, (1, "", ""))
    number = float(value) * (100 if unit in HUNDRED else 1)
    text = labels.format_number(number, decimals, language, signed=signed)
    return text + (de if language == "de" else en)


def population_label(indicator_id: str, language: Language = "de") -> str:
    """Reader-facing name of the population a headline figure is read for (``""`` = all)."""
    if indicator_id in BA_QUOTAS.values():
        return (
            "nur Austritte mit bekanntem Status (nicht BA-vergleichbar)"
            if language == "de"
            else "exits with known status only (not BA-comparable)"
        )
    var, value = POPULATION.get(indicator_id, ("", ""))
    if not var:
        return ""
    if var == "arm" and value == "teilnahme":
        return "Teilnehmende" if language == "de" else "participants"
    return labels.label(value, labels.CODE_LISTS.get(var, {}), language)


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
    if row["value"] is None or pd.isna(row["value"]):
        return None, False  # recorded without a value: not estimable (e.g. a median not reached)
    return float(row["value"]), False


def _number(row: pd.Series | None, column: str) -> float | None:
    if row is None or row[column] is None or pd.isna(row[column]):
        return None
    return float(row[column])


@dataclass(frozen=True)
class Change:
    """A change against the previous year with its uncertainty.

    ``method``: ``"newcombe"`` (shares: :func:`evaluation.estimators.difference_of_proportions`),
    ``"intervals"`` (two estimates with 95 % intervals: the difference with the standard
    errors read back from the intervals, normal approximation, Altman & Bland 2003),
    ``"census"`` (counts and sums of every unit: no sampling error), or ``"none"`` (no
    interval recorded, the change is not tested). ``more_than_chance`` is None where no
    test applies.
    """

    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    more_than_chance: bool | None = None
    method: str = "none"


def change_of(now: pd.Series | None, before: pd.Series | None, kind: str, unit: str) -> Change:
    """The change from ``before`` to ``now`` (two history rows) with its interval and test.

    Shares use Newcombe's interval on the counts the history holds (numerator =
    value × n, n = the denominator); other estimates with intervals in both years use the
    difference with the standard errors read back from their 95 % intervals; counts and
    sums are complete counts (:data:`CENSUS_KINDS`), whose change has no sampling error.
    """
    v1, v0 = _number(now, "value"), _number(before, "value")
    if v1 is None or v0 is None:
        return Change(None)
    diff = v1 - v0
    if kind in CENSUS_KINDS:
        return Change(diff, method="census")
    n1, n0 = _number(now, "n"), _number(before, "n")
    if kind == "share" and n1 and n0:
        from evaluation.estimators import difference_of_proportions

        result = difference_of_proportions(round(v1 * n1), int(n1), round(v0 * n0), int(n0))
        row = result.tidy().iloc[0]
        return Change(
            diff,
            float(row["ci_low"]),
            float(row["ci_high"]),
            float(row["p_value"]),
            bool(row["more_than_chance"]),
            "newcombe",
        )
    bounds = [_number(r, c) for r in (now, before) for c in ("ci_low", "ci_high")]
    if all(b is not None for b in bounds):
        from scipy.stats import norm

        se = math.hypot((bounds[1] - bounds[0]) / (2 * _Z), (bounds[3] - bounds[2]) / (2 * _Z))
        if se > 0:
            p = float(2 * norm.sf(abs(diff) / se))
            return Change(diff, diff - _Z * se, diff + _Z * se, p, p < 0.05, "intervals")
    return Change(diff)


def headline(
    figures: Figures,
    year: int,
    *,
    rule: SuppressionRule,
    catalogue: Catalogue | None = None,
    language: Language = "de",
    ids: Mapping[str, Sequence[str]] = HEADLINE,
) -> pd.DataFrame:
    """One row per headline figure: labels, level, this year's and last year's value, change.

    Every figure is the one its field notebook recorded, for the population
    :data:`POPULATION` names (``group_var``, ``group_value``, ``population``). Columns
    ``indicator_id, field, label, population, group_var, group_value, level, iooi, unit,
    kind, value, ci_low, ci_high, n, previous, change, change_low, change_high,
    change_p, more_than_chance, change_method, suppressed, suppressed_before, missing``.
    ``missing`` is True when no notebook recorded the figure for ``year``; ``suppressed``
    when it was recorded but may not be shown.
    """
    cat = catalogue or load_catalogue()
    i = 0 if language == "de" else 1
    rows = []
    for field, indicator_ids in ids.items():
        for indicator_id in indicator_ids:
            entry = cat.get(indicator_id)
            group = POPULATION.get(indicator_id, ("", ""))
            now_row, before_row = (
                figures.get(indicator_id, year),
                figures.get(indicator_id, year - 1),
            )
            value, hidden = _shown(now_row, rule, sensitive=entry.sensitive)
            previous, hidden_before = _shown(before_row, rule, sensitive=entry.sensitive)
            change = (
                change_of(now_row, before_row, entry.kind, entry.unit)
                if not (hidden or hidden_before)
                else Change(None)
            )
            population = population_label(indicator_id, language)
            rows.append(
                {
                    "indicator_id": indicator_id,
                    "field": FIELDS[field][i],
                    "label": entry.label[language],
                    "population": population,
                    "group_var": group[0],
                    "group_value": group[1],
                    "level": entry.level,
                    "iooi": IOOI[entry.iooi][i] if entry.iooi else None,
                    "unit": entry.unit,
                    "kind": entry.kind,
                    "value": value,
                    "ci_low": None if hidden else _number(now_row, "ci_low"),
                    "ci_high": None if hidden else _number(now_row, "ci_high"),
                    "previous": previous,
                    "change": change.value,
                    "change_low": change.ci_low,
                    "change_high": change.ci_high,
                    "change_p": change.p_value,
                    "more_than_chance": change.more_than_chance,
                    "change_method": change.method,
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


def missing_sentence(table: pd.DataFrame, year: int, language: Language = "de") -> str:
    """The sentence naming the missing headline figures, singular or plural as needed."""
    gaps = list(dict.fromkeys(missing(table)))
    if not gaps:
        return (
            f"Alle Kennzahlen, die dieser Bericht braucht, liegen für {year} vor."
            if language == "de"
            else f"All figures this report needs are available for {year}."
        )
    names = "; ".join(gaps)
    if language == "de":
        head = (
            f"**Für {year} fehlt eine Kennzahl**, die dieser Bericht braucht: {names}. Sie wurde"
            if len(gaps) == 1
            else f"**Für {year} fehlen {len(gaps)} Kennzahlen**, die dieser Bericht braucht: "
            f"{names}. Sie wurden"
        )
        return (
            head + " von keiner Auswertung für dieses Jahr erfasst (die Auswertung lief nicht, "
            "schlug fehl oder die Daten reichen nicht). Die übrigen Angaben bleiben gültig."
        )
    noun = "figure is" if len(gaps) == 1 else f"{len(gaps)} figures are"
    return (
        f"**For {year}, {noun} missing** that this report needs: {names}. No analysis "
        "recorded it for this year. The other figures remain valid."
    )


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
        "level": "Stufe der Wirkungstreppe",
        "iooi": "Ebene",
        "change": "Veränderung (95-%-KI)",
        "chance": "Mehr als Zufall?",
        "missing": "fehlt",
        "field": "Handlungsfeld",
        "to": "bis",
        "yes": "ja (für sich genommen; siehe „Viele Vergleiche“)",
        "no": "nein, im Rahmen des Zufalls",
        "census": "Vollzählung, kein Stichprobenfehler",
        "untested": "nicht prüfbar (ohne Intervall erfasst)",
        "not_estimable": "nicht bestimmbar (bei Medianen: weniger als die Hälfte erreicht)",
    },
    "en": {
        "figure": "Figure",
        "level": "Level of the impact staircase",
        "iooi": "IOOI",
        "change": "Change (95% CI)",
        "chance": "More than chance?",
        "missing": "missing",
        "field": "Field",
        "to": "to",
        "yes": "yes (on its own; see “Many comparisons”)",
        "no": "no, within chance",
        "census": "complete count, no sampling error",
        "untested": "not testable (no interval recorded)",
        "not_estimable": "not estimable (for medians: fewer than half reached it)",
    },
}


def _change_unit(unit: str) -> str:
    return "percentage_points" if unit == "share" else unit


def _interval(low: float | None, high: float | None, unit: str, language: Language) -> str:
    if low is None or high is None or pd.isna(low) or pd.isna(high):
        return ""
    w = WORDS[language]
    return f" ({format_value(low, unit, language)} {w['to']} {format_value(high, unit, language)})"


def value_text(row: Any, language: Language, marker: str) -> str:
    """This year's value; estimates (kind ``estimate``) always with their 95 % interval."""
    if row["missing"]:
        return WORDS[language]["missing"]
    if row["suppressed"]:
        return marker
    if row["value"] is None or pd.isna(row["value"]):
        return WORDS[language]["not_estimable"]
    text = format_value(row["value"], row["unit"], language)
    if row["kind"] == "estimate":
        text += _interval(row["ci_low"], row["ci_high"], row["unit"], language)
    return text


def change_text(row: Any, language: Language, marker: str) -> str:
    """The change with its 95 % interval (``+3,6 Pp. (-3,1 bis 10,3 Pp.)``)."""
    if row["suppressed"] or row["suppressed_before"]:
        return marker if not row["missing"] else ""
    if row["change"] is None or pd.isna(row["change"]):
        return "–"
    unit = _change_unit(row["unit"])
    return format_value(row["change"], unit, language, signed=True) + _interval(
        row["change_low"], row["change_high"], unit, language
    )


def chance_text(row: Any, language: Language) -> str:
    """Whether the change is more than chance, in words."""
    w = WORDS[language]
    if row["change"] is None or pd.isna(row["change"]):
        return ""
    if row["change_method"] == "census":
        return w["census"]
    if row["more_than_chance"] is None or pd.isna(row["more_than_chance"]):
        return w["untested"]
    return w["yes"] if row["more_than_chance"] else w["no"]


def figure_label(row: Any, language: Language = "de") -> str:
    """The figure's label with the population it is read for, e.g. ``… – Teilnehmende``."""
    return f"{row['label']} – {row['population']}" if row.get("population") else row["label"]


def reader_table(
    table: pd.DataFrame,
    year: int,
    *,
    rule: SuppressionRule,
    language: Language = "de",
    columns: Sequence[str] = ("label", "level", "value", "previous", "change", "chance"),
    caption: str | None = None,
) -> DisclosedTable:
    """Headline figures as a protected reader table (text cells, suppressed ones marked).

    The values come from the history, which holds no suppressed number, and figures with
    a small n are hidden again under the report's rule, so the table needs no further
    suppression; it is returned as a :class:`DisclosedTable` so the notebook shows it like
    every other table. Levels are named (PHINEO), changes carry their interval and say
    whether they are more than chance.
    """
    w = WORDS[language]
    out = pd.DataFrame(index=table.index)
    records = table.to_dict("records")
    for column in columns:
        if column == "label":
            out[w["figure"]] = [figure_label(r, language) for r in records]
        elif column == "field":
            out[w["field"]] = table["field"]
        elif column == "level":
            out[w["level"]] = [labels.level_name(r["level"], language) for r in records]
        elif column == "iooi":
            out[w["iooi"]] = table["iooi"].fillna("")
        elif column == "value":
            out[str(year)] = [value_text(r, language, rule.marker) for r in records]
        elif column == "previous":
            out[str(year - 1)] = [
                _cell(r["previous"], r["suppressed_before"], r["unit"], language, rule.marker)
                for r in records
            ]
        elif column == "change":
            out[w["change"]] = [change_text(r, language, rule.marker) for r in records]
        elif column == "chance":
            out[w["chance"]] = [chance_text(r, language) for r in records]
    out = out.reset_index(drop=True)
    text = {w["figure"], w["field"], w["iooi"], w["level"], w["chance"]}
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


def quota_forms(
    figures: Figures, year: int, *, rule: SuppressionRule, language: Language = "de"
) -> pd.DataFrame:
    """The follow-up quotas in both forms with the bounds the unknown status allows (text).

    Per quota: BA-comparable (all exits whose follow-up date was reached in the
    denominator, unknown status not counted as a success), among exits with known status,
    and the worst/best case (Manski bounds: every unknown a failure / a success). The
    bounds follow from the two recorded figures: with ``d`` exits due, ``k`` known and
    ``s`` successes, worst = s/d (the BA-comparable quota) and best = (s + d - k)/d.
    """
    de = language == "de"
    cat = load_catalogue()
    rows = []
    for ba_id, known_id in BA_QUOTAS.items():
        ba, known = figures.get(ba_id, year), figures.get(known_id, year)
        if ba is None or known is None:
            continue
        v_ba, h_ba = _shown(ba, rule)
        v_kn, h_kn = _shown(known, rule)
        low = high = None
        if not (h_ba or h_kn):
            due, k = float(ba["n"]), float(known["n"])
            s = round(v_kn * k)
            low, high = s / due, (s + due - k) / due
        rows.append(
            {
                ("Quote" if de else "Quota"): cat.get(known_id).label[language],
                (
                    "BA-vergleichbar (alle Austritte)" if de else "BA-comparable (all exits)"
                ): rule.marker if h_ba else format_value(v_ba, "share", language),
                ("nur bekannter Status" if de else "known status only"): rule.marker
                if h_kn
                else format_value(v_kn, "share", language),
                (
                    "Spielraum durch unbekannten Status" if de else "Range allowed by unknowns"
                ): rule.marker
                if low is None
                else f"{format_value(low, 'share', language)} {WORDS[language]['to']} "
                f"{format_value(high, 'share', language)}",
            }
        )
    return pd.DataFrame(rows)


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
    var, value = POPULATION.get(indicator_id, ("", ""))
    f = figures.frame
    rows = f[
        (f["indicator_id"] == indicator_id) & (f["group_var"] == var) & (f["group_value"] == value)
    ].sort_values("year")
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
            labels.format_number(staff_fte, 2, language, minimum_decimals=0),
        ),
        (
            "Landesförderung" if de else "State grant",
            labels.format_euro(grant_eur, language),
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


def _date_text(iso: str, language: Language) -> str:
    """An ISO date as readers write it (babel): ``01.12.2026`` / ``1 Dec 2026``."""
    from datetime import date

    from babel.dates import format_date

    try:
        day = date.fromisoformat(iso)
    except ValueError:
        return iso
    return format_date(
        day,
        "dd.MM.yyyy" if language == "de" else "d MMM y",
        locale="de_DE" if language == "de" else "en_GB",
    )


def source_summary(snapshot_info: Any, language: Language = "de") -> dict[str, str]:
    """Facts about the data behind the report, for the method section."""
    manifest = snapshot_info.manifest
    source = manifest.get("source", {})
    tables = manifest.get("tables", {})
    return {
        "snapshot": snapshot_info.id,
        "kind": str(source.get("kind", "unbekannt")),
        "created": _date_text(str(manifest.get("created_at", ""))[:10], language),
        "rows": labels.format_number(sum(t.get("rows", 0) for t in tables.values()), 0, language),
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
        unit = DISPLAY_UNIT.get(indicator_id, entry.unit)
        part = raw[raw["indicator_id"] == indicator_id]
        district = part.loc[part["group_var"] == "", "value"]
        city = part.loc[part["group_value"] == "0", "value"]
        rows.append(
            {
                ("Kennzahl" if de else "Figure"): entry.label[language],
                "Stadtbezirk Ehrenfeld": format_value(
                    district.iloc[0] if len(district) else None, unit, language
                ),
                ("Köln" if de else "Cologne"): format_value(
                    city.iloc[0] if len(city) else None, unit, language
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
                ("Stufe der Wirkungstreppe" if de else "Level"): labels.level_name(
                    entry.level, language
                ),
                ("Ebene" if de else "IOOI"): IOOI[entry.iooi][i]
                if entry.iooi
                else ("Kontext" if de else "context"),
                ("Definition"): readable(entry.definition[language], cat, language),
            }
        )
    return pd.DataFrame(rows)


_ID = re.compile(r"\b(?:lm|rec|par|vol|evt|sr)_[a-z0-9_]+\b")


def readable(text: str, catalogue: Catalogue | None = None, language: Language = "de") -> str:
    """Text for readers: catalogue ids in it (``rec_pending``) replaced by their labels."""
    cat = catalogue or load_catalogue()

    def name(match: re.Match[str]) -> str:
        key = match.group(0)
        return f"„{cat.get(key).label[language]}“" if key in cat else key

    return _ID.sub(name, text)


TEXTS: dict[str, tuple[str, str]] = {
    "reading": (
        "**So sind die Tabellen zu lesen.** Jede Kennzahl stammt aus der Auswertung ihres "
        "Handlungsfelds, für dieselbe Gruppe: Die Veränderungen in den Elterngruppen sind die "
        "der Teilnehmenden, nicht vermischt mit der ausgelosten Wartegruppe; deren Vergleich "
        "steht als eigene Kennzahl (Wirkung der Elterngruppe) mit 95-%-Konfidenzintervall da. "
        "Schätzungen stehen immer mit ihrem Intervall, jede Veränderung gegenüber dem Vorjahr "
        "mit ihrem Intervall und dem Hinweis, ob sie mehr als Zufall ist. Die "
        "Eingliederungs- und Verbleibsquoten stehen zuerst BA-vergleichbar (alle Austritte im "
        "Nenner), dann unter den Austritten mit bekanntem Status.",
        "**How to read the tables.** Every figure comes from its field's analysis, for the "
        "same group: the parent-group changes are the participants', not pooled with the "
        "randomised waiting list, whose comparison is its own figure with a 95% interval. "
        "Estimates always carry their interval, every change against last year its interval "
        "and whether it is more than chance. Quotas first BA-comparable (all exits), then "
        "among exits with known status.",
    ),
    "quota_heading": (
        "Eingliederungs- und Verbleibsquoten: BA-vergleichbar, bekannter Status und Spielraum",
        "Integration and retention rates: BA-comparable, known status and range",
    ),
    "quota_definition": (
        "Die Bundesagentur für Arbeit teilt in ihren Förderstatistiken durch alle Austritte "
        "(„Austritte insgesamt“); Beschäftigung zählt nur, wo sie festgestellt ist. So "
        "gerechnet ist die Quote **BA-vergleichbar**. Die Quote **unter den Austritten mit "
        "bekanntem Status** lässt die nicht Erreichten weg und ist mit BA-Zahlen nicht "
        "vergleichbar. Der **Spielraum** reicht von „alle nicht Erreichten ohne "
        "Beschäftigung“ bis „alle nicht Erreichten beschäftigt“ (Schranken nach Manski): "
        "Ohne weitere Annahmen liegt die wahre Quote dazwischen.",
        "The Federal Employment Agency divides by all exits; employment counts only where "
        "established (**BA-comparable**). The quota **among exits with known status** leaves "
        "out those not reached and is not comparable with BA figures. The **range** runs from "
        "all not reached without employment to all employed (Manski bounds).",
    ),
    "quota_caption": (
        "Quoten nach dem Austritt {year} in zwei Formen",
        "Follow-up quotas {year} in two forms",
    ),
    "limits": (
        "**Grenzen.** Die meisten Kennzahlen beschreiben Verläufe und sind kein "
        "Wirkungsnachweis. Der Verbleib nach dem Austritt beruht auf Nachbefragungen; wer nicht "
        "erreicht wurde, zählt in den BA-vergleichbaren Quoten als nicht beschäftigt, der "
        "Spielraum zeigt, wie viel davon abhängt. Die Wirkungsschätzung für die Beschäftigung "
        "(in Prozentpunkten) beruht auf dem Vergleich mit später Eintretenden und gilt nur "
        "unter den Annahmen paralleler Trends und keiner Vorwegnahme, die der Bericht "
        "Arbeitsmarktintegration prüft. Die Veränderung in den Elterngruppen ist ab 2023 mit "
        "einer zufällig gebildeten Wartegruppe vergleichbar; die Wirkung der Elterngruppe ist "
        "die Differenz zu ihr, davor gibt es keinen Vergleich. Verfahrensdauern und Zeiten bis "
        "zur Beschäftigung sind Kaplan-Meier-Schätzungen, die noch offene Verläufe mitzählen.",
        "**Limits.** Most figures describe developments and prove no effect. Follow-up status "
        "rests on follow-up contacts; those not reached count as not employed in the "
        "BA-comparable quotas, and the range shows how much depends on them. The employment "
        "effect (percentage points) compares with later entrants and holds only under parallel "
        "trends and no anticipation, checked in the labour-market report. Parent-group changes "
        "are comparable with a randomised waiting list from 2023. Durations are Kaplan–Meier "
        "estimates that count open cases.",
    ),
}


TEXTS["methods_heading"] = (
    "Was die Kennzahlen zeigen können – und was nicht",
    "What the figures can show – and what they cannot",
)
TEXTS["methods"] = (
    "- **Teilnehmende, Zugänge, Austritte, Gruppen, Veranstaltungen, Ehrenamtliche.** "
    "Diese Zahlen beschreiben, was die Agentur geleistet und wen sie erreicht hat. Sie "
    "zählen alle Fälle des Jahres (Vollzählung) und sind **keine Wirkungen**: Dass mehr "
    "Menschen teilgenommen haben, sagt noch nicht, dass sich für sie etwas verändert hat.\n"
    "- **Eingliederungs- und Verbleibsquoten.** Die BA-vergleichbare Quote teilt durch alle "
    "Austritte, deren Nachbefragungszeitpunkt erreicht ist; wer nicht erreicht wurde, zählt "
    "als nicht beschäftigt. Die Quote **unter den Austritten mit bekanntem Status** lässt die "
    "nicht Erreichten weg und liegt darum meist höher; sie ist mit BA-Zahlen nicht "
    "vergleichbar. Der **Spielraum** (Schranken nach Manski) zeigt, wo die wahre Quote ohne "
    "weitere Annahmen liegen kann: von „alle nicht Erreichten ohne Beschäftigung“ bis „alle "
    "beschäftigt“. Eine Quote beschreibt den Verbleib, sie belegt nicht, dass die Beratung "
    "ihn bewirkt hat.\n"
    "- **Dauern** (bis zur Anerkennungsentscheidung, bis zur ersten Beschäftigung). Sie sind "
    "Kaplan-Meier-Schätzungen über alle Fälle: Noch offene Verfahren zählen mit, bis sie "
    "offen sind (zensiert), statt wegzufallen. Ein Median „nicht bestimmbar“ heißt: Weniger "
    "als die Hälfte hat das Ereignis bisher erreicht.\n"
    "- **Wirkung der Elterngruppen (Wartegruppen-Vergleich).** Die Familien wurden per Los "
    "der Gruppe oder der Wartegruppe zugeteilt (randomisiert). {trial} Das ist die "
    "belastbarste Wirkungsaussage dieses Berichts – mit ihrem 95-%-Konfidenzintervall, für "
    "die Teilnehmenden dieser Jahre und Gruppen.\n"
    "- **Veränderungen in den Elterngruppen** (vorher/nachher bei den Teilnehmenden) "
    "beschreiben Entwicklungen; ohne den Vergleich mit der Wartegruppe sind sie keine "
    "Wirkung.\n"
    "- **Wirkungsschätzung Beschäftigung (Ereignisstudie).** Sie vergleicht Teilnehmende mit "
    "später Eintretenden. Das ist eine **Schätzung unter Annahmen** (parallele Trends, keine "
    "Vorwegnahme); der Test auf Vortrends im Bericht Arbeitsmarktintegration prüft die erste "
    "Annahme, beweisen kann er sie nicht. Angaben in Prozentpunkten (Pp.).\n"
    "- **Geheimhaltung.** Ein „*“ heißt: nicht ausgewiesen, weil die Fallzahl kleiner als die "
    "Mindestfallzahl ist oder sich eine kleine Zahl aus anderen veröffentlichten Zahlen "
    "zurückrechnen ließe. Ein „*“ ist kein fehlender Wert und keine Null; Summen über "
    "„*“-Zellen lassen sich nicht nachrechnen.",
    "- **Participants, entries, exits, groups, events, volunteers.** These describe what the "
    "agency did and whom it reached. They count every case of the year (complete count) and "
    "are **not effects**.\n"
    "- **Integration and retention rates.** The BA-comparable rate divides by all exits "
    "whose follow-up date was reached; those not reached count as not employed. The rate "
    "**among exits with known status** leaves them out, is usually higher and is not "
    "comparable with BA figures. The **range** (Manski bounds) shows where the true rate "
    "can lie without further assumptions. A rate describes outcomes; it does not prove the "
    "counselling caused them.\n"
    "- **Durations** (to a recognition decision, to first employment) are Kaplan–Meier "
    "estimates over all cases: open cases count as censored instead of dropping out. A "
    "median “not estimable” means fewer than half reached the event so far.\n"
    "- **Effect of the parent groups (waiting-list trial).** Families were assigned to the "
    "group or the waiting list by lot (randomised). {trial} This is the report's most robust "
    "effect statement, with its 95% confidence interval.\n"
    "- **Changes within the parent groups** (before/after among participants) describe "
    "developments; without the waiting-list comparison they are not effects.\n"
    "- **Employment effect (event study).** Compares participants with later entrants: an "
    "**estimate under assumptions** (parallel trends, no anticipation); the pre-trend test "
    "in the labour-market report checks the first, it cannot prove it. In percentage points "
    "(pp).\n"
    "- **Disclosure control.** “*” means not shown: the count is below the minimum, or a "
    "small count could be recomputed from other published figures. “*” is neither missing "
    "nor zero; totals over “*” cells cannot be recomputed.",
)


TEXTS["trial_ancova"] = (
    "Geschätzt wird der Unterschied nach dem Kurs bei gleichem Ausgangswert (ANCOVA auf den "
    "Vorher-Wert).",
    "The estimate is the difference after the course at equal baseline (ANCOVA on the pre-test).",
)
TEXTS["trial_change"] = (
    "Geschätzt wird der Unterschied der Veränderungen (nachher minus vorher) zwischen Gruppe "
    "und Wartegruppe.",
    "The estimate is the difference in change (post minus pre) between group and waiting list.",
)
TEXTS["trial_itt"] = (
    "Es zählen alle Zugelosten (Intention to treat); fehlende Nachbefragungen werden nach dem "
    "im Anhang und im Bericht Elternarbeit genannten Verfahren berücksichtigt, nicht einfach "
    "weggelassen.",
    "Everyone assigned counts (intention to treat); missing follow-ups are handled as the "
    "appendix and the parent-work report state, not dropped.",
)
TEXTS["trial_complete"] = (
    "Es zählen nur Eltern mit Werten in beiden Befragungen; die Schätzung gilt daher nur, "
    "wenn der Ausfall zwischen den Befragungen nicht mit der Entwicklung zusammenhängt.",
    "Only parents with scores in both surveys count, so the estimate holds only if attrition "
    "is unrelated to the change.",
)


def methods_text(language: Language = "de", catalogue: Catalogue | None = None) -> str:
    """The methods section: what each kind of headline figure can and cannot show.

    The sentence on the waiting-list trial follows the definition the catalogue records for
    ``par_waitlist_effect`` (the figure's metadata): ANCOVA on the baseline or change
    scores, intention to treat with missing follow-ups handled or complete cases only – so
    the text never claims more than the recorded figure does.
    """
    cat = catalogue or load_catalogue()
    definition = (
        cat.get("par_waitlist_effect").definition.get("de", "")
        if "par_waitlist_effect" in cat
        else ""
    ).lower()
    design = "trial_ancova" if "ancova" in definition else "trial_change"
    itt = any(k in definition for k in ("intention", "imputation", "alle zugelosten"))
    missing = "trial_itt" if itt else "trial_complete"
    trial = f"{text(design, language)} {text(missing, language)}"
    return text("methods", language).replace("{trial}", trial)


def text(key: str, language: Language = "de") -> str:
    """A reader-facing paragraph of the annual report (:data:`TEXTS`)."""
    pair = TEXTS[key]
    return pair[0] if language == "de" else pair[1]


def multiplicity_sentence(table: pd.DataFrame, language: Language = "de") -> str:
    """How many year-on-year changes the report tests, and which survive Holm's adjustment.

    The changes are many tests at once: the sentence marks them as exploratory and names
    those whose change stays more than chance after Holm's adjustment over all of them
    (:func:`evaluation.estimators.adjust_for_multiplicity`). Empty when nothing is tested.
    """
    tested = table.dropna(subset=["change_p"]).drop_duplicates("indicator_id")
    if tested.empty:
        return ""
    from evaluation.estimators import adjust_for_multiplicity

    holm = adjust_for_multiplicity(tested.set_index("indicator_id")["change_p"])
    labels_by_id = tested.set_index("indicator_id").apply(
        lambda r: figure_label(r.to_dict(), language), axis=1
    )
    kept = [labels_by_id[i] for i in holm.index[holm["significant"].astype(bool)]]
    k = len(tested)
    if language == "de":
        rest = (
            f"nach der Korrektur nach Holm für alle {k} Tests bleibt mehr als Zufall: "
            + "; ".join(kept)
            + "."
            if kept
            else f"nach der Korrektur nach Holm für alle {k} Tests bleibt keine Veränderung "
            "mehr als Zufall."
        )
        return (
            f"**Viele Vergleiche.** Der Bericht prüft {k} Veränderungen gegenüber dem Vorjahr; "
            "bei so vielen Tests fällt etwa jeder zwanzigste auch ohne echte Veränderung auf. "
            "Die Vorjahresvergleiche sind daher beschreibend (explorativ) zu lesen; " + rest
        )
    rest = (
        f"after Holm's adjustment over all {k} tests, more than chance: " + "; ".join(kept) + "."
        if kept
        else f"after Holm's adjustment over all {k} tests, no change remains more than chance."
    )
    return (
        f"**Many comparisons.** The report tests {k} changes against last year; about one in "
        "twenty stands out by chance alone. Read them as exploratory; " + rest
    )


# ---- targets (Soll/Ist) -------------------------------------------------------------------


class TargetsError(ValueError):
    """A targets file that cannot be read; the message is one line naming file and key."""


@dataclass(frozen=True)
class Target:
    """One yearly target from the Aufgabenplanung.

    ``value`` is on the catalogue's scale (a share as a fraction: 30 % is 0.30); ``at_most``
    marks targets that are met by staying at or below the value (e.g. a duration).
    """

    indicator_id: str
    value: float
    at_most: bool = False
    note: str = ""


@dataclass(frozen=True)
class Targets:
    """The targets of one year as read from its file (``path`` as shown to readers)."""

    year: int
    path: str
    targets: tuple[Target, ...]
    demo: bool = False


_TARGET_KEYS = {
    "soll": "value",
    "target": "value",
    "hoechstens": "at_most",
    "höchstens": "at_most",
    "at_most": "at_most",
    "hinweis": "note",
    "note": "note",
}
_PERCENT = re.compile(r"^\s*([+-]?\d+(?:[.,]\d+)?)\s*%\s*$")


def _target_value(raw: Any, unit: str, where: str) -> float:
    """A target value on the catalogue's scale; shares must be written in percent."""
    if unit == "share":
        match = _PERCENT.match(str(raw)) if isinstance(raw, str) else None
        if match is None:
            raise TargetsError(f"{where}: a share is written in percent, e.g. '30 %' (got {raw!r})")
        return float(match.group(1).replace(",", ".")) / 100
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise TargetsError(f"{where}: expected a number (got {raw!r})")
    return float(raw)


def read_targets(
    path: Path, year: int, *, shown: str | None = None, catalogue: Catalogue | None = None
) -> Targets | None:
    """Read the targets file of ``year``; ``None`` when there is none.

    The file (``params/ziele/<Jahr>.yml``) holds ``ziele:`` (or ``targets:``), a mapping of
    catalogue indicator ids to a target: a number (``par_reached: 70``), a share in percent
    (``lm_eingliederungsquote_ba_6m: "30 %"``) or a mapping with ``soll`` and optionally
    ``hoechstens: true`` (met by staying at or below) and ``hinweis`` (a short note shown
    where the target was missed). ``demo: true`` marks demo values. Anything else is a
    :class:`TargetsError` with one line naming the file and the key.
    """
    import yaml

    name = shown or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise TargetsError(f"{name}: cannot be read ({exc})") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise TargetsError(f"{name}: {line}not valid YAML ({problem})") from None
    if not isinstance(data, dict):
        raise TargetsError(f"{name}: expected a mapping with 'ziele:' (got {type(data).__name__})")
    unknown_top = sorted(set(data) - {"ziele", "targets", "demo", "jahr", "year"})
    if unknown_top:
        raise TargetsError(f"{name}: {unknown_top[0]}: unknown key (known: ziele, demo, jahr)")
    stated = data.get("jahr", data.get("year"))
    if stated is not None and stated != year:
        raise TargetsError(f"{name}: jahr: the file says {stated!r} but is read for {year}")
    entries = data.get("ziele", data.get("targets")) or {}
    if not isinstance(entries, dict):
        raise TargetsError(f"{name}: ziele: expected a mapping of indicator ids to targets")
    cat = catalogue or load_catalogue()
    out = []
    for key, raw in entries.items():
        where = f"{name}: ziele.{key}"
        if key not in cat:
            import difflib

            close = difflib.get_close_matches(str(key), list(cat.ids), n=1)
            hint = f" – did you mean '{close[0]}'?" if close else ""
            raise TargetsError(f"{where}: unknown indicator id{hint}")
        unit = cat.get(key).unit
        spec = raw if isinstance(raw, dict) else {"soll": raw}
        fields: dict[str, Any] = {}
        for k, v in spec.items():
            if k not in _TARGET_KEYS:
                raise TargetsError(f"{where}.{k}: unknown key (known: soll, hoechstens, hinweis)")
            fields[_TARGET_KEYS[k]] = v
        if "value" not in fields:
            raise TargetsError(f"{where}: the target value 'soll' is missing")
        at_most = fields.get("at_most", False)
        if not isinstance(at_most, bool):
            raise TargetsError(f"{where}.hoechstens: expected true or false (got {at_most!r})")
        out.append(
            Target(
                str(key),
                _target_value(fields["value"], unit, where),
                at_most,
                str(fields.get("note") or "").strip(),
            )
        )
    return Targets(year, name, tuple(out), bool(data.get("demo", False)))


TARGET_WORDS = {
    "de": {
        "figure": "Kennzahl",
        "target": "Ziel (Soll)",
        "result": "Ergebnis (Ist)",
        "degree": "Zielerreichung",
        "assessment": "Bewertung",
        "at_least": "mindestens",
        "at_most": "höchstens",
        "met": "erreicht",
        "missed": "nicht erreicht",
        "hidden": "nicht ausweisbar (Geheimhaltung)",
        "missing": "Ergebnis fehlt (von keiner Auswertung erfasst)",
        "not_estimable": "nicht bestimmbar",
        "reason_text": "Begründung: siehe „Anmerkungen zu den Zielen“",
        "reason_missing": "Begründung fehlt ({path})",
        "caption": "Ziele {year} aus der Aufgabenplanung und Ergebnisse",
        "none": (
            "**Für {year} sind keine Ziele hinterlegt.** Die Agentur trägt die Ziele ihrer "
            "Aufgabenplanung in {path} ein."
        ),
        "demo": "Die Ziele sind Demo-Werte.",
        "reading": (
            "Zielerreichung: Ergebnis geteilt durch Ziel; bei Zielen, die mit „höchstens“ "
            "erreicht sind (etwa Dauern), Ziel geteilt durch Ergebnis. 100 % und mehr heißt: "
            "erreicht. Es stehen nur Ergebnisse da, die veröffentlicht werden dürfen; ein "
            "wegen Geheimhaltung nicht ausgewiesenes Ergebnis bleibt auch hier verborgen."
        ),
    },
    "en": {
        "figure": "Figure",
        "target": "Target",
        "result": "Result",
        "degree": "Degree of achievement",
        "assessment": "Assessment",
        "at_least": "at least",
        "at_most": "at most",
        "met": "met",
        "missed": "missed",
        "hidden": "not shown (disclosure control)",
        "missing": "result missing (not recorded by any analysis)",
        "not_estimable": "not estimable",
        "reason_text": "reason: see “Comments on the targets”",
        "reason_missing": "reason missing ({path})",
        "caption": "Targets {year} from the work plan and results",
        "none": (
            "**No targets are on file for {year}.** The agency enters its work plan's targets "
            "in {path}."
        ),
        "demo": "The targets are demo values.",
        "reading": (
            "Degree of achievement: result divided by target; for targets met by staying at "
            "or below (such as durations), target divided by result. 100% or more: met. Only "
            "results that may be published appear; a result hidden by disclosure control "
            "stays hidden here too."
        ),
    },
}


def _degree(value: float, target: Target, language: Language) -> str:
    from babel.numbers import format_percent

    if target.at_most:
        ratio = (target.value / value) if value else float("inf")
    else:
        ratio = value / target.value if target.value else float("inf")
    if ratio == float("inf"):
        return "–"
    de = language == "de"
    return format_percent(
        ratio, format="#,##0\u00a0%" if de else "#,##0%", locale="de_DE" if de else "en_GB"
    )


def targets_table(
    targets: Targets,
    figures: Figures,
    *,
    rule: SuppressionRule,
    catalogue: Catalogue | None = None,
    language: Language = "de",
    missing_reasons: str | None = None,
) -> pd.DataFrame:
    """Target, result, degree of achievement and assessment per target (text cells).

    The result is the figure the field notebook recorded for the year and population
    (:meth:`Figures.get`, the same as the headline tables), hidden under the report's rule
    exactly as there: a hidden result shows the marker, and so do its degree of achievement
    and its assessment (nothing from which it could be computed back). Where a target was
    missed the assessment gives the target's ``hinweis``, else points to the agency's
    comments on the targets – or, when that text is missing, names its file
    (``missing_reasons``, e.g. ``texte/2024/ziele.md``).
    """
    cat = catalogue or load_catalogue()
    w = TARGET_WORDS[language]
    rows = []
    for target in targets.targets:
        entry = cat.get(target.indicator_id)
        row = figures.get(target.indicator_id, targets.year)
        value, hidden = _shown(row, rule, sensitive=entry.sensitive)
        label = figure_label(
            {
                "label": entry.label[language],
                "population": population_label(target.indicator_id, language),
            },
            language,
        )
        goal = (
            f"{w['at_most'] if target.at_most else w['at_least']} "
            f"{format_value(target.value, entry.unit, language)}"
        )
        if row is None:
            result, degree, assessment = w["missing"], "–", ""
        elif hidden:
            result, degree, assessment = rule.marker, rule.marker, w["hidden"]
        elif value is None:
            result, degree, assessment = w["not_estimable"], "–", ""
        else:
            result = format_value(value, entry.unit, language)
            if entry.kind == "estimate":
                result += _interval(
                    _number(row, "ci_low"), _number(row, "ci_high"), entry.unit, language
                )
            degree = _degree(value, target, language)
            met = value <= target.value if target.at_most else value >= target.value
            if met:
                assessment = w["met"]
            else:
                reason = target.note or (
                    w["reason_text"]
                    if missing_reasons is None
                    else w["reason_missing"].format(path=missing_reasons)
                )
                assessment = f"{w['missed']} – {reason}"
        rows.append(
            {
                w["figure"]: label,
                w["target"]: goal,
                w["result"]: result,
                w["degree"]: degree,
                w["assessment"]: assessment,
            }
        )
    return pd.DataFrame(
        rows, columns=[w["figure"], w["target"], w["result"], w["degree"], w["assessment"]]
    )
