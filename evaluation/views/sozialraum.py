"""Reader tables and charts for the Sozialraum notebook (Stadtbezirk Ehrenfeld).

Two kinds of figures meet here:

* the City of Cologne's small-area statistics: published aggregates, not client data. They
  need no suppression and are shown as they are, through :func:`published_table` (a
  :class:`~evaluation.disclosure.DisclosedTable` with nothing suppressed). Values the city
  did not publish (``*``) or did not deliver are missing and shown as "–".
* the agency's participants by Stadtteil: small counts of client data. They pass disclosure
  control (:func:`evaluation.disclosure.suppress_frame` with the report's rule) and every
  figure built on them (rate per 1,000, chart, history) uses the protected values only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from evaluation import labels, plots
from evaluation.disclosure import ColumnFormat, DisclosedTable, suppress_frame
from evaluation.indicators import sozialraum as sr

Pair = tuple[str, str]

#: Areas of the Sozialraum tables (Stadtteile as in :data:`evaluation.labels.STADTTEILE`).
AREAS: dict[str, Pair] = {
    **{code: labels.STADTTEILE[code] for code in sr.STADTTEIL_IDS},
    sr.DISTRICT: ("Stadtbezirk Ehrenfeld", "Ehrenfeld district"),
    sr.CITY: ("Köln", "Cologne"),
    sr.OUTSIDE: labels.STADTTEILE["ausserhalb"],
    sr.UNKNOWN: ("ohne Angabe", "not recorded"),
}

#: Words of this notebook's tables and charts (German, English).
TERMS: dict[str, Pair] = {
    "area": ("Gebiet", "Area"),
    "stadtteil": ("Stadtteil", "Stadtteil"),
    "population": ("Einwohner", "Inhabitants"),
    "under18": ("unter 18-Jährige", "Under 18"),
    "age65plus": ("65 Jahre und älter", "Aged 65 and over"),
    "migration": ("Einwohner mit Migrationshintergrund", "Inhabitants with migration background"),
    "migration_u18": (
        "unter 18-Jährige mit Migrationshintergrund",
        "Under 18 with migration background",
    ),
    "sgb2": ("Personen in Bedarfsgemeinschaften (SGB II)", "Persons in SGB II households"),
    "unemployed": ("Arbeitslose", "Unemployed"),
    "households_children": ("Haushalte mit Kindern", "Households with children"),
    "single_parents": ("Haushalte von Alleinerziehenden", "Single-parent households"),
    "under18_share": ("Anteil unter 18 Jahre", "Share under 18"),
    "under18_short": ("unter 18", "under 18"),
    "age65plus_short": ("65 und älter", "65 and over"),
    "age65plus_share": ("Anteil 65 Jahre und älter", "Share aged 65 and over"),
    "migration_share": ("Migrationshintergrund", "Migration background"),
    "migration_share_u18": (
        "Migrationshintergrund unter 18-Jährige",
        "Migration background, under 18",
    ),
    "sgb2_share": ("SGB II", "SGB II"),
    "unemployment_share": ("Arbeitslose je 100 Einwohner", "Unemployed per 100 inhabitants"),
    "single_parent_share": ("Alleinerziehende", "Single parents"),
    "change_previous": ("Veränderung zu {year}", "Change from {year}"),
    "change_first": ("Veränderung seit {year}", "Change since {year}"),
    "difference_city": ("Abstand zu Köln", "Difference to Cologne"),
    "pp": ("Prozentpunkte", "percentage points"),
    "points": ("Punkte", "points"),
    "percent": ("%", "%"),
    "participants": (
        "Teilnehmende (Erstkontakt {period})",
        "Participants (first contact {period})",
    ),
    "per_1000": ("je 1.000 Einwohner", "per 1,000 inhabitants"),
    "sgb2_share_long": ("SGB-II-Anteil {year}", "SGB II share {year}"),
    "migration_share_long": (
        "Anteil mit Migrationshintergrund {year}",
        "Migration background {year}",
    ),
    "index": ("Index ({year} = 100)", "Index ({year} = 100)"),
}


def term(key: str, ctx: Any, **fields: Any) -> str:
    """A word of this notebook in the report's language, with ``{placeholders}`` filled."""
    pair = TERMS.get(key)
    text = ctx.t(key) if pair is None else pair[0 if ctx.language == "de" else 1]
    return text.format(**fields) if fields else text


def area_label(code: str, ctx: Any) -> str:
    """Reader-facing name of an area code (Stadtteil, district, Köln, outside, unknown)."""
    if code == sr.TOTAL:
        return ctx.t("total")
    return labels.label(code, AREAS, ctx.language)


def _number(value: float, decimals: int, language: str) -> str:
    text = f"{value:,.{decimals}f}"
    return text.translate(str.maketrans({",": ".", ".": ","})) if language == "de" else text


# ---- indicators ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Indicator:
    """How one Sozialraum share is named, defined, shown and recorded."""

    share: str
    title: Pair
    definition: Pair
    per100: bool = False

    @property
    def record_id(self) -> str:
        return f"sr_{self.share}"

    def text(self, pair: Pair, ctx: Any) -> str:
        return pair[0 if ctx.language == "de" else 1]


INDICATORS: dict[str, Indicator] = {
    "migration_share": Indicator(
        "migration_share",
        ("Anteil der Einwohner mit Migrationshintergrund", "Share with migration background"),
        (
            "**Anteil mit Migrationshintergrund**: Einwohnerinnen und Einwohner mit "
            "Migrationshintergrund je 100 Einwohner, nach der Abgrenzung der Stadt Köln. Die Stadt "
            "leitet den Migrationshintergrund aus dem Melderegister ab (ausländische "
            "Staatsangehörigkeit, Einbürgerung, Zuzug als (Spät-)Aussiedler, bei Kindern auch "
            "über die Eltern); die Zahl ist nicht dasselbe wie der Migrationshintergrund im "
            "Mikrozensus.",
            "**Share with migration background**: inhabitants with a migration background per 100 "
            "inhabitants, as the City of Cologne derives it from the population register.",
        ),
    ),
    "migration_share_u18": Indicator(
        "migration_share_u18",
        (
            "Anteil mit Migrationshintergrund unter den Kindern und Jugendlichen",
            "Share with migration background among under-18s",
        ),
        (
            "**Migrationshintergrund unter 18-Jährige**: unter 18-Jährige mit "
            "Migrationshintergrund je 100 unter 18-Jährige. Für die Elternarbeit ist dieser "
            "Anteil aussagekräftiger als der Anteil an allen Einwohnern: Er zeigt, in wie vielen "
            "Familien mit Kindern eine Migrationsgeschichte eine Rolle spielt.",
            "**Migration background, under 18**: under-18s with a migration background per 100 "
            "under-18s.",
        ),
    ),
    "sgb2_share": Indicator(
        "sgb2_share",
        ("Leistungsbezug nach dem SGB II", "SGB II benefit receipt"),
        (
            "**SGB-II-Anteil**: Personen in Bedarfsgemeinschaften nach dem SGB II "
            "(„Bürgergeld“, bis 2022 „Hartz IV“) je 100 Einwohner aller Altersgruppen. Die "
            "amtliche SGB-II-Quote der Bundesagentur für Arbeit bezieht dieselben Personen nur "
            "auf die Bevölkerung unter der Regelaltersgrenze; die Werte hier sind deshalb etwas "
            "kleiner als eine SGB-II-Quote, aber zwischen Stadtteilen und Jahren vergleichbar.",
            "**SGB II share**: persons in SGB II benefit households per 100 inhabitants of all "
            "ages (the official SGB II rate uses the population under retirement age).",
        ),
    ),
    "unemployment_share": Indicator(
        "unemployment_share",
        ("Arbeitslose je 100 Einwohner", "Unemployed per 100 inhabitants"),
        (
            "**Arbeitslose je 100 Einwohner**: bei der Agentur für Arbeit oder dem Jobcenter "
            "arbeitslos gemeldete Personen je 100 Einwohner **aller Altersgruppen**. Das ist "
            "**nicht die amtliche Arbeitslosenquote** (Arbeitslose je 100 zivile "
            "Erwerbspersonen), die es für Stadtteile nicht gibt, und auch nicht der "
            "Arbeitslosenanteil der Stadt (je 100 Einwohner von 15 bis unter 65 Jahren): Die "
            "Einwohnerzahl in diesem Alter liegt in den verwendeten Tabellen nicht vor. Die "
            "Kennzahl ist deutlich kleiner als beide, eignet sich aber für den Vergleich "
            "zwischen Stadtteilen und über die Jahre. Veränderungen in Punkten.",
            "**Unemployed per 100 inhabitants** of all ages. This is **not the official "
            "unemployment rate** (unemployed per 100 in the civilian labour force), which does "
            "not exist for Stadtteile; the tables hold no population aged 15–64.",
        ),
        per100=True,
    ),
    "single_parent_share": Indicator(
        "single_parent_share",
        ("Alleinerziehende", "Single parents"),
        (
            "**Anteil Alleinerziehender**: Haushalte von Alleinerziehenden je 100 Haushalte mit "
            "Kindern. Die Stadt bildet Haushalte aus dem Melderegister (Personen unter einer "
            "Anschrift); Alleinerziehende, die mit weiteren Erwachsenen zusammen gemeldet sind, "
            "erscheinen dort nicht immer als solche.",
            "**Single-parent share**: single-parent households per 100 households with "
            "children, as the city derives households from the population register.",
        ),
    ),
}


# ---- published (official) tables ----------------------------------------------------------


def published_table(
    frame: pd.DataFrame,
    *,
    ctx: Any,
    caption: str,
    formats: dict[str, ColumnFormat],
) -> DisclosedTable:
    """Show official, already published figures as they are (nothing suppressed).

    Columns not in ``formats`` are labels. Missing values are shown as "–".
    """
    frame = frame.copy()
    for column, fmt in formats.items():
        if fmt.kind == "value":  # no "-0,0": round as displayed, then drop the sign of zero
            frame[column] = frame[column].astype("float64").round(fmt.decimals) + 0.0
    unmasked = pd.DataFrame(False, index=frame.index, columns=frame.columns)
    return DisclosedTable(
        values=frame,
        mask=unmasked,
        primary_mask=unmasked.copy(),
        rule=ctx.rule,
        formats=tuple(formats.get(c, ColumnFormat("label")) for c in frame.columns),
        caption=caption,
        language=ctx.language,
    )


def _area_column(codes: pd.Index, ctx: Any) -> list[str]:
    return [area_label(code, ctx) for code in codes]


def _share_value(values: pd.Series, indicator: Indicator | None) -> pd.Series:
    """Shares as stored (0–1); per-100 indicators as numbers per 100."""
    return values * 100 if indicator is not None and indicator.per100 else values


def _share_format(name: str) -> ColumnFormat:
    indicator = INDICATORS.get(name)
    return ColumnFormat("value", 1) if indicator and indicator.per100 else ColumnFormat("share", 1)


def overview_table(table: pd.DataFrame, year: int, ctx: Any) -> DisclosedTable:
    """Profile of every area in ``year``: inhabitants and all shares."""
    at = table.xs(year, level="jahr").reindex(list(sr.AREAS))
    shares = list(sr.SHARES)
    out = pd.DataFrame({term("area", ctx): _area_column(at.index, ctx)})
    out[term("population", ctx)] = at["population"].to_numpy()
    formats = {term("population", ctx): ColumnFormat("count")}
    short = {"under18_share": "under18_short", "age65plus_share": "age65plus_short"}
    for name in shares:
        column = term(short.get(name, name), ctx)
        out[column] = _share_value(at[name], INDICATORS.get(name)).to_numpy()
        formats[column] = _share_format(name)
    caption = (
        f"Sozialraumprofil {year}: Einwohner und Anteile"
        if ctx.language == "de"
        else f"Neighbourhood profile {year}: inhabitants and shares"
    )
    return published_table(out, ctx=ctx, caption=caption, formats=formats)


def population_table(table: pd.DataFrame, year: int, ctx: Any) -> DisclosedTable:
    """Inhabitants in ``year``, their change in % and the age shares, per area."""
    pop = sr.population_table(table, year)
    first = min(table.index.get_level_values("jahr"))
    columns = {
        "population": (f"{term('population', ctx)} {year}", ColumnFormat("count")),
        "change_previous_pct": (
            f"{term('change_previous', ctx, year=year - 1)} (%)",
            ColumnFormat("value", 1),
        ),
        "change_first_pct": (
            f"{term('change_first', ctx, year=first)} (%)",
            ColumnFormat("value", 1),
        ),
        "under18_share": (term("under18_share", ctx), ColumnFormat("share", 1)),
        "age65plus_share": (term("age65plus_share", ctx), ColumnFormat("share", 1)),
    }
    if year == first:
        columns.pop("change_first_pct")
    if year - 1 not in table.index.get_level_values("jahr"):
        columns.pop("change_previous_pct")
    out = pd.DataFrame({term("area", ctx): _area_column(pop.index, ctx)})
    for column, (heading, _) in columns.items():
        out[heading] = pop[column].to_numpy()
    caption = (
        f"Einwohner {year} und ihre Entwicklung"
        if ctx.language == "de"
        else f"Inhabitants {year} and their change"
    )
    formats = dict(columns.values())
    return published_table(out, ctx=ctx, caption=caption, formats=formats)


def year_table(table: pd.DataFrame, name: str, year: int, ctx: Any) -> DisclosedTable:
    """One indicator in ``year`` per area: counts, value, changes and distance to Köln."""
    indicator = INDICATORS[name]
    num, den = sr.SHARES[name]
    rows = sr.year_table(table, name, year)
    first = min(table.index.get_level_values("jahr"))
    unit = term("points" if indicator.per100 else "pp", ctx)
    value_heading = (
        f"{term(name, ctx)} {year}" if indicator.per100 else f"{term('share', ctx)} {year}"
    )
    columns = {
        "numerator": (term(num, ctx), ColumnFormat("count")),
        "denominator": (term(den, ctx), ColumnFormat("count")),
        "share": (value_heading, _share_format(name)),
        "change_previous_pp": (
            f"{term('change_previous', ctx, year=year - 1)} ({unit})",
            ColumnFormat("value", 1),
        ),
        "change_first_pp": (
            f"{term('change_first', ctx, year=first)} ({unit})",
            ColumnFormat("value", 1),
        ),
        "difference_city_pp": (
            f"{term('difference_city', ctx)} ({unit})",
            ColumnFormat("value", 1),
        ),
    }
    if year == first:
        columns.pop("change_first_pp")
    if year - 1 not in table.index.get_level_values("jahr"):
        columns.pop("change_previous_pp")
    out = pd.DataFrame({term("area", ctx): _area_column(rows.index, ctx)})
    for column, (heading, _) in columns.items():
        out[heading] = (
            _share_value(rows[column], indicator).to_numpy()
            if column == "share"
            else (rows[column].to_numpy())
        )
    return published_table(
        out,
        ctx=ctx,
        caption=f"{indicator.text(indicator.title, ctx)} {year}",
        formats=dict(columns.values()),
    )


# ---- time series charts --------------------------------------------------------------------


def _style_areas(fig: go.Figure, ctx: Any) -> go.Figure:
    """Stadtteile in the palette's colours; the district bold black, Köln dashed grey."""
    fig.update_traces(
        selector={"name": area_label(sr.DISTRICT, ctx)}, line={"color": "#000000", "width": 3.5}
    )
    fig.update_traces(
        selector={"name": area_label(sr.CITY, ctx)},
        line={"color": "#52606d", "width": 2.5, "dash": "dash"},
        marker={"symbol": "diamond"},
    )
    fig.update_layout(
        height=480,
        legend={"orientation": "v", "x": 1.02, "xanchor": "left", "y": 1, "yanchor": "top"},
        margin={"r": 190, "t": 60},
    )
    return fig


def _series_frame(long: pd.DataFrame, ctx: Any) -> pd.DataFrame:
    out = long.copy()
    out["raum_id"] = pd.Categorical(out["raum_id"], categories=list(sr.AREAS), ordered=True)
    out = out.sort_values(["raum_id", "jahr"])
    out[term("area", ctx)] = [area_label(c, ctx) for c in out["raum_id"]]
    out[ctx.t("year")] = out["jahr"].astype(str)
    return out


def series_chart(table: pd.DataFrame, name: str, until: int, ctx: Any) -> go.Figure:
    """Line chart of one indicator over the years: six Stadtteile, district and Köln."""
    indicator = INDICATORS[name]
    frame = _series_frame(sr.series(table, name, until), ctx)
    frame["value"] = _share_value(frame["value"], indicator)
    fig = plots.line(
        frame,
        x=ctx.t("year"),
        y="value",
        color=term("area", ctx),
        percent=not indicator.per100,
        title=f"{indicator.text(indicator.title, ctx)}, {frame['jahr'].min()}–{until}",
        x_title=ctx.t("year"),
        y_title=term(name, ctx) if indicator.per100 else term("share", ctx),
        language=ctx.language,
    )
    if indicator.per100:
        fig.update_yaxes(rangemode="tozero")
    return _style_areas(fig, ctx)


def population_chart(table: pd.DataFrame, until: int, ctx: Any) -> go.Figure:
    """Inhabitants as an index (first year = 100): growth of areas of any size side by side."""
    long = sr.population_index(table, until)
    first = int(long["jahr"].min())
    frame = _series_frame(long, ctx)
    title = (
        f"Entwicklung der Einwohnerzahl, {first}–{until} ({first} = 100)"
        if ctx.language == "de"
        else f"Inhabitants, {first}–{until} ({first} = 100)"
    )
    fig = plots.line(
        frame,
        x=ctx.t("year"),
        y="value",
        color=term("area", ctx),
        title=title,
        x_title=ctx.t("year"),
        y_title=term("index", ctx, year=first),
        language=ctx.language,
    )
    return _style_areas(fig, ctx)


# ---- notes ---------------------------------------------------------------------------------


def data_note(table: pd.DataFrame, year: int, report_year: int, ctx: Any) -> str:
    """Which year the report shows, and which official values are missing in it."""
    de = ctx.language == "de"
    available = sr.years(table)
    span = f"{available[0]}–{available[-1]}"
    if year == report_year:
        text = (
            f"**Datenstand:** Gezeigt werden die Zahlen der Stadt Köln für **{year}** "
            f"(Bestand am 31.12.{year}); die Zeitreihen reichen von {available[0]} bis {year}. "
            f"Vorhanden sind die Jahre {span}."
            if de
            else f"**Data:** City of Cologne figures for **{year}** (31 Dec {year}); "
            f"years available: {span}."
        )
    else:
        text = (
            f"**Hinweis zum Datenstand:** Für den Berichtszeitraum {report_year} liegen "
            f"**keine Zahlen der Stadt Köln** vor (vorhanden sind die Jahre {span}). Gezeigt wird "
            f"stattdessen das Jahr **{year}**. Die Teilnehmenden werden für {report_year} gezählt, "
            f"aber auf die Einwohner von {year} bezogen. Die Zahlen der Stadt werden für "
            f"{report_year} nicht in die Ergebnishistorie übernommen."
            if de
            else f"**Note:** there are **no City of Cologne figures for {report_year}** "
            f"(available: {span}). The report shows **{year}** instead."
        )
    missing = sr.missing_values(table, year)
    if missing.empty:
        return text
    items = [
        f"{area_label(row.raum_id, ctx)}: {term(row.column, ctx)}"
        for row in missing.itertuples(index=False)
        if row.raum_id != sr.DISTRICT
    ]
    note = (
        f"\n\n**Fehlende Werte {year}:** {'; '.join(items)}. Die Stadt hat diese Werte nicht "
        "veröffentlicht (geheim gehalten, „*“) oder sie fehlen in der Lieferung. Sie werden "
        "als **unbekannt** behandelt, nicht als 0: Anteile auf ihnen und die Summe für den "
        "Stadtbezirk erscheinen als „–“."
        if de
        else f"\n\n**Missing values {year}:** {'; '.join(items)}. Treated as unknown, not zero; "
        "shares on them and the district sum are shown as '–'."
    )
    return text + note


POPULATION_DEFINITION = {
    "de": (
        "**Einwohner**: Personen mit Hauptwohnsitz im Gebiet am 31.12. des Jahres "
        "(Melderegister der Stadt Köln). **Stadtbezirk Ehrenfeld**: Summe der sechs Stadtteile "
        "401–406; Anteile des Stadtbezirks sind aus den summierten Zahlen berechnet, nicht als "
        "Durchschnitt der Stadtteilanteile. Die Entwicklung ist als Index dargestellt (erstes "
        "Jahr = 100), damit kleine und große Gebiete vergleichbar sind."
    ),
    "en": (
        "**Inhabitants**: persons with main residence in the area on 31 December (population "
        "register). **Ehrenfeld district**: sum of the six Stadtteile 401–406; its shares are "
        "computed from the summed counts."
    ),
}

REACH_DEFINITION = {
    "de": (
        "**Teilnehmende**: Personen mit **Erstkontakt** zur Integrationsagentur im "
        "Berichtszeitraum, nach dem Stadtteil, in dem sie bei der Aufnahme wohnten; jede Person "
        "zählt einmal. **Je 1.000 Einwohner**: Teilnehmende des Stadtteils geteilt durch seine "
        "Einwohner (Stand 31.12. des gezeigten Jahres), mal 1.000. Wer außerhalb Ehrenfelds "
        "wohnt, ist gesondert gezählt. Kleine Fallzahlen unterliegen der Geheimhaltung; "
        "Raten und Diagramm verwenden nur die ausgewiesenen Zahlen. Die Rate misst die "
        "Reichweite der Agentur, nicht, wie viel Bedarf gedeckt ist: Sie zählt alle "
        "Teilnehmenden, nicht nur Menschen mit Migrationsgeschichte oder im Leistungsbezug."
    ),
    "en": (
        "**Participants**: persons with first contact in the reporting period, by the "
        "Stadtteil they lived in; **per 1,000 inhabitants** of the Stadtteil. Small counts are "
        "suppressed; rates and chart use the published counts only."
    ),
}


# ---- participants against need -------------------------------------------------------------


def reach_table(reach: pd.DataFrame, ctx: Any, year: int) -> DisclosedTable:
    """Participants by Stadtteil (protected) next to the Stadtteil's official need figures.

    The participant counts and the rate per 1,000 pass :func:`suppress_frame` with the
    report's rule (the rate rests on the count, so it is suppressed with it; rows add up to
    the "Gesamt" row, so secondary suppression protects them). The official SGB II and
    migration shares are then added unsuppressed: they are published by the city and reveal
    nothing about participants. Rows keep the order of ``reach``.
    """
    count, rate = term("participants", ctx, period=ctx.period.label), term("per_1000", ctx)
    area = term("stadtteil", ctx)
    frame = pd.DataFrame(
        {
            area: _area_column(reach.index, ctx),
            count: reach["participants"].to_numpy(),
            rate: reach["per_1000"].to_numpy(),
        }
    )
    caption = (
        f"Teilnehmende nach Wohn-Stadtteil {ctx.period.label} und Lage im Stadtteil {year}"
        if ctx.language == "de"
        else f"Participants by Stadtteil {ctx.period.label} and the Stadtteil in {year}"
    )
    protected = suppress_frame(
        frame,
        rule=ctx.rule,
        n=count,
        derived=[rate],
        complementary_within=area,
        total_label=ctx.t("total"),
        decimals=1,
        caption=caption,
        language=ctx.language,
    )
    population = pd.DataFrame(
        {f"{term('population', ctx)} {year}": reach["population"].to_numpy()}, index=frame.index
    )
    official = pd.DataFrame(
        {
            term("sgb2_share_long", ctx, year=year): reach["sgb2_share"].to_numpy(),
            term("migration_share_long", ctx, year=year): reach["migration_share"].to_numpy(),
        },
        index=frame.index,
    )
    with_population = with_published(protected, population, ColumnFormat("count"))
    return with_published(with_population, official, ColumnFormat("share", 1))


def with_published(
    table: DisclosedTable, columns: pd.DataFrame, fmt: ColumnFormat
) -> DisclosedTable:
    """``table`` with further columns of published (non-confidential) figures appended.

    Safe: nothing in ``table`` is revealed, and the added columns carry no client data.
    """
    unmasked = pd.DataFrame(False, index=columns.index, columns=columns.columns)
    return replace(
        table,
        values=pd.concat([table.values, columns], axis=1),
        mask=pd.concat([table.mask, unmasked], axis=1),
        primary_mask=pd.concat([table.primary_mask, unmasked], axis=1),
        formats=table.formats + (fmt,) * len(columns.columns),
    )


def _published_counts(shown: DisclosedTable, reach: pd.DataFrame, ctx: Any) -> pd.Series:
    """Published participant counts by code (NaN where suppressed)."""
    column = term("participants", ctx, period=ctx.period.label)
    values = shown.values[column].astype("Float64").astype("float64")
    return pd.Series(values.to_numpy(), index=reach.index)


def district_count(shown: DisclosedTable, reach: pd.DataFrame, ctx: Any) -> float | None:
    """Participants living in the district, from published counts only (None if unknown).

    The sum of the Stadtteile if all six are shown; otherwise the total minus those outside
    and unknown, if those are shown. Either way a reader could compute it from the table.
    """
    counts = _published_counts(shown, reach, ctx)
    parts = counts.reindex(list(sr.STADTTEIL_IDS))
    if parts.notna().all():
        return float(parts.sum())
    others = counts.drop(index=[*sr.STADTTEIL_IDS, sr.TOTAL], errors="ignore")
    if pd.notna(counts.get(sr.TOTAL)) and others.notna().all():
        return float(counts[sr.TOTAL] - others.sum())
    return None


NEED_TITLES: dict[str, Pair] = {
    "sgb2_share": ("SGB-II-Bezug", "SGB II receipt"),
    "migration_share": ("Migrationshintergrund", "Migration background"),
}


def reach_chart(
    shown: DisclosedTable,
    reach: pd.DataFrame,
    table: pd.DataFrame,
    year: int,
    ctx: Any,
    *,
    need: str = "sgb2_share",
) -> go.Figure:
    """Scatter of need (x: an official share) against reach (y: participants per 1,000).

    One point per Stadtteil, labelled with its name; reference lines for Köln's share and the
    district's reach. Only published rates are drawn; Stadtteile whose count is suppressed
    are named below the chart.
    """
    de = ctx.language == "de"
    rate_column = term("per_1000", ctx)
    stadtteile = [i for i, code in enumerate(reach.index) if code in sr.STADTTEIL_IDS]
    rates = shown.values[rate_column].iloc[stadtteile].to_numpy()
    hidden = shown.mask[rate_column].iloc[stadtteile].to_numpy()
    codes = reach.index[stadtteile]
    x = reach[need].iloc[stadtteile].to_numpy()
    names = [area_label(c, ctx) for c in codes]
    keep = ~hidden & pd.notna(rates) & pd.notna(x)
    need_title = term(f"{need}_long", ctx, year=year)
    fig = go.Figure(
        go.Scatter(
            x=x[keep],
            y=rates[keep],
            mode="markers+text",
            text=[n for n, k in zip(names, keep, strict=True) if k],
            textposition="top center",
            marker={"size": 14, "color": plots.PALETTE[0], "line": {"width": 1, "color": "white"}},
            hovertemplate="%{text}<br>%{x:.1%}<br>%{y:.1f}<extra></extra>",
            showlegend=False,
        )
    )
    city = table.loc[(year, sr.CITY), need] if (year, sr.CITY) in table.index else float("nan")
    if pd.notna(city):
        fig.add_vline(
            x=city,
            line={"color": "#52606d", "dash": "dash", "width": 1.5},
            annotation_text=f"Köln {_number(city * 100, 1, ctx.language)} %"
            if de
            else f"Cologne {_number(city * 100, 1, ctx.language)}%",
            annotation_position="top",
        )
    inside = district_count(shown, reach, ctx)
    population = (
        table.loc[(year, sr.DISTRICT), "population"]
        if (year, sr.DISTRICT) in table.index
        else float("nan")
    )
    if inside is not None and pd.notna(population) and population > 0:
        rate = inside / population * 1000
        label = "Stadtbezirk insgesamt:" if de else "District overall:"
        fig.add_hline(
            y=rate,
            line={"color": "#000000", "dash": "dot", "width": 1.5},
            annotation_text=f"{label} {_number(rate, 1, ctx.language)} je 1.000"
            if de
            else f"{label} {_number(rate, 1, ctx.language)} per 1,000",
            annotation_position="bottom right",
        )
    title = (
        f"{NEED_TITLES[need][0]} und Reichweite nach Stadtteil, {ctx.period.label}"
        if de
        else f"{NEED_TITLES[need][1]} and reach by Stadtteil, {ctx.period.label}"
    )
    y_title = (
        f"Teilnehmende je 1.000 Einwohner ({ctx.period.label})"
        if de
        else f"Participants per 1,000 inhabitants ({ctx.period.label})"
    )
    fig.update_layout(title=title, xaxis_title=need_title, yaxis_title=y_title, height=520)
    fig.update_xaxes(tickformat=".0%", showgrid=True, gridcolor="#e4e7eb")
    shown_x = [v for v in [*x[keep], city] if pd.notna(v)]
    if shown_x:  # room for the names of the outermost points
        pad = max(0.02, (max(shown_x) - min(shown_x)) * 0.12)
        fig.update_xaxes(range=[max(0.0, min(shown_x) - pad), max(shown_x) + pad])
    fig.update_yaxes(rangemode="tozero")
    if not keep.all():
        missing = ", ".join(n for n, k in zip(names, keep, strict=True) if not k)
        note = (
            f"Nicht dargestellt (Geheimhaltung oder Wert unbekannt): {missing}"
            if de
            else f"Not shown (suppressed or unknown): {missing}"
        )
        fig.update_layout(title=f"{title}<br><sup>{note}</sup>", margin={"t": 100})
    return fig


def reach_records(shown: DisclosedTable, reach: pd.DataFrame, ctx: Any) -> pd.DataFrame:
    """Figures for the results history, from the published (protected) values only.

    ``sr_participants`` per Stadtteil, outside (and unknown) and in total (all participants);
    ``sr_participants_per_1000`` per Stadtteil and, as the ungrouped figure, for the district.
    Suppressed figures carry no value.
    """
    count_column = term("participants", ctx, period=ctx.period.label)
    rate_column = term("per_1000", ctx)
    counts = _published_counts(shown, reach, ctx)
    rates = pd.Series(shown.values[rate_column].to_numpy(), index=reach.index)
    masked = pd.Series(shown.mask[count_column].to_numpy(), index=reach.index)
    rows = []
    for code in reach.index:
        group = ("", "") if code == sr.TOTAL else ("stadtteil", code)
        count = None if masked[code] else counts[code]
        rows.append(("sr_participants", *group, count, count, bool(masked[code])))
        if code in sr.STADTTEIL_IDS:
            rate = None if masked[code] else rates[code]
            rows.append(("sr_participants_per_1000", *group, rate, count, bool(masked[code])))
    inside = district_count(shown, reach, ctx)
    population = reach["population"].reindex(list(sr.STADTTEIL_IDS))
    if inside is not None and population.notna().all() and population.sum() > 0:
        rate = inside / population.sum() * 1000
        rows.append(("sr_participants_per_1000", "", "", rate, inside, False))
    else:
        rows.append(("sr_participants_per_1000", "", "", None, None, inside is None))
    return pd.DataFrame(
        rows, columns=["indicator_id", "group_var", "group_value", "value", "n", "suppressed"]
    )
