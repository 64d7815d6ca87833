"""Sozialraum statistics for Stadtbezirk Ehrenfeld: the six Stadtteile, the district, Köln.

The City of Cologne publishes its small-area statistics as open data in a long format, one
value per row: ``id, tab_id, tabelle, jahr, raum_id, raum, zei_id, zeile, zahl``. The rows
used here (``zei_id``) are

=========== =================================================== ===========================
``zei_id``  meaning                                             column here
=========== =================================================== ===========================
EW          Einwohner insgesamt                                 ``population``
U18         unter 18 Jahre                                      ``under18``
65PLUS      65 Jahre und älter                                  ``age65plus``
AUSL        Ausländerinnen und Ausländer                        ``foreign``
MIG         Einwohner mit Migrationshintergrund                 ``migration``
MIG_U18     unter 18-Jährige mit Migrationshintergrund          ``migration_u18``
SGB2        Personen in Bedarfsgemeinschaften nach SGB II       ``sgb2``
ALO         Arbeitslose                                         ``unemployed``
HH_KIND     Haushalte mit Kindern                               ``households_children``
ALLEINERZ   Haushalte von Alleinerziehenden                     ``single_parents``
=========== =================================================== ===========================

Areas are the Stadtteile ``401``–``406``, the Stadtbezirk ``4`` (computed here as the sum of
the six Stadtteile) and Köln ``0``.

Missing values
--------------
Cologne replaces small values (1 to under 5; under 10 in data of the Bundesagentur für Arbeit)
by ``*``. Ingest may deliver such a value as ``"*"``, as missing, or leave the row out. All
three are treated as **unknown**, never as zero: a share with an unknown numerator or
denominator is unknown, and so is a district sum with an unknown part (no bounds are
guessed). Changes and comparisons on an unknown value are unknown.

Shares
------
Shares are recomputed from counts, also for the district (sum of counts, never a mean of
shares). ``unemployment_share`` relates the unemployed to *all* inhabitants: the tables carry
no population aged 15 to 64, so it is "Arbeitslose je 100 Einwohner", not the official
Arbeitslosenquote of the Bundesagentur für Arbeit (unemployed / civilian labour force).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

STADTTEIL_IDS: tuple[str, ...] = ("401", "402", "403", "404", "405", "406")
DISTRICT = "4"
CITY = "0"
#: Areas in reading order: the six Stadtteile, the Stadtbezirk, Köln.
AREAS: tuple[str, ...] = (*STADTTEIL_IDS, DISTRICT, CITY)
OUTSIDE = "ausserhalb"
UNKNOWN = "unknown"
TOTAL = "total"

#: ``zei_id`` of Cologne's tables -> column of the wide table.
ROWS: dict[str, str] = {
    "EW": "population",
    "U18": "under18",
    "65PLUS": "age65plus",
    "AUSL": "foreign",
    "MIG": "migration",
    "MIG_U18": "migration_u18",
    "SGB2": "sgb2",
    "ALO": "unemployed",
    "HH_KIND": "households_children",
    "ALLEINERZ": "single_parents",
}
COUNTS: tuple[str, ...] = tuple(ROWS.values())

#: share -> (numerator, denominator), both count columns.
SHARES: dict[str, tuple[str, str]] = {
    "under18_share": ("under18", "population"),
    "age65plus_share": ("age65plus", "population"),
    "migration_share": ("migration", "population"),
    "migration_share_u18": ("migration_u18", "under18"),
    "sgb2_share": ("sgb2", "population"),
    "unemployment_share": ("unemployed", "population"),
    "single_parent_share": ("single_parents", "households_children"),
}

#: Values Cologne (and Destatis) use for a value that is suppressed or unknown.
UNKNOWN_MARKERS = frozenset({"*", ".", ""})


def to_number(values: pd.Series) -> pd.Series:
    """Values of the ``zahl`` column as floats; ``"*"``, ``"."``, empty and missing are NaN.

    Raises
    ------
    ValueError
        For any other text that is not a number (so that a misread file is not silently
        turned into unknown values).
    """
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return pd.to_numeric(values).astype("float64")
    text = values.astype("string").str.strip()
    marked = text.isna() | text.isin(UNKNOWN_MARKERS)
    numbers = pd.to_numeric(text.where(~marked), errors="coerce")
    bad = ~marked & numbers.isna()
    if bad.any():
        raise ValueError(
            f"zahl holds values that are neither numbers nor '*': {sorted(set(text[bad]))}"
        )
    return numbers.astype("float64")


def _area_ids(raum_id: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(raum_id):
        return raum_id.astype("Int64").astype("string")
    return raum_id.astype("string").str.strip()


def wide(sozialraum: pd.DataFrame) -> pd.DataFrame:
    """Cologne's long table as one row per (``jahr``, ``raum_id``) and one column per count.

    Only the Stadtteile 401–406 and Köln (``0``) are kept. Every year of the table gets every
    area and every count column; what the table does not hold (a ``*``, a missing value, a
    missing row) is NaN.

    Raises
    ------
    ValueError
        If a (year, area, row) occurs twice.
    """
    rows = sozialraum[sozialraum["zei_id"].isin(ROWS)]
    frame = pd.DataFrame(
        {
            "jahr": pd.to_numeric(rows["jahr"]).astype(int),
            "raum_id": _area_ids(rows["raum_id"]),
            "column": rows["zei_id"].map(ROWS),
            "zahl": to_number(rows["zahl"]),
        }
    )
    frame = frame[frame["raum_id"].isin([*STADTTEIL_IDS, CITY])]
    doubled = frame.duplicated(["jahr", "raum_id", "column"], keep=False)
    if doubled.any():
        first = frame[doubled].iloc[0]
        raise ValueError(
            f"sozialraum holds {first['column']} for {first['raum_id']} in {first['jahr']} twice"
        )
    years = sorted(pd.to_numeric(sozialraum["jahr"]).astype(int).unique())
    index = pd.MultiIndex.from_product([years, [*STADTTEIL_IDS, CITY]], names=["jahr", "raum_id"])
    out = frame.pivot(index=["jahr", "raum_id"], columns="column", values="zahl")
    out = out.reindex(index=index, columns=list(COUNTS))
    out.columns.name = None
    return out.astype("float64")


def with_district(table: pd.DataFrame) -> pd.DataFrame:
    """Add the Stadtbezirk (``raum_id`` ``"4"``): per year the sum of the six Stadtteile.

    A sum with an unknown part is unknown (NaN), not a sum of the known parts. Rows come out
    in the order of :data:`AREAS` within each year.
    """
    counts = table[list(COUNTS)]
    parts = counts[counts.index.get_level_values("raum_id").isin(STADTTEIL_IDS)]
    district = parts.groupby(level="jahr").sum(min_count=len(STADTTEIL_IDS))
    district.index = pd.MultiIndex.from_product(
        [district.index, [DISTRICT]], names=["jahr", "raum_id"]
    )
    out = pd.concat([table, district])
    years = sorted(out.index.get_level_values("jahr").unique())
    order = pd.MultiIndex.from_product([years, list(AREAS)], names=["jahr", "raum_id"])
    return out.reindex(order)


def share(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """``numerator / denominator``; NaN where either is unknown or the denominator is 0."""
    return numerator / denominator.where(denominator > 0)


def add_shares(table: pd.DataFrame) -> pd.DataFrame:
    """Add every share of :data:`SHARES`, computed from the counts of each row."""
    out = table.copy()
    for name, (num, den) in SHARES.items():
        out[name] = share(out[num], out[den])
    return out


def profile(sozialraum: pd.DataFrame) -> pd.DataFrame:
    """Counts and shares per year for the six Stadtteile, the Stadtbezirk and Köln.

    Index (``jahr``, ``raum_id``) with ``raum_id`` in :data:`AREAS`; columns
    :data:`COUNTS` and the shares of :data:`SHARES` (proportions 0–1).
    """
    return add_shares(with_district(wide(sozialraum)))


def years(table: pd.DataFrame) -> list[int]:
    """Years that hold at least one known value."""
    known = table.notna().any(axis=1)
    return sorted(int(y) for y in known[known].index.get_level_values("jahr").unique())


def data_year(table: pd.DataFrame, year: int) -> int:
    """The year to report for reporting year ``year``.

    ``year`` itself if the data has it; otherwise the latest earlier year with data; if there
    is none, the first year with data.

    Raises
    ------
    ValueError
        If the table holds no value at all.
    """
    available = years(table)
    if not available:
        raise ValueError("the Sozialraum table holds no values")
    earlier = [y for y in available if y <= year]
    return earlier[-1] if earlier else available[0]


def _at(table: pd.DataFrame, year: int, column: str) -> pd.Series:
    """``column`` per area in ``year`` (NaN for a year the table does not have)."""
    if year not in table.index.get_level_values("jahr"):
        return pd.Series(np.nan, index=pd.Index(AREAS, name="raum_id"), name=column)
    return table.xs(year, level="jahr")[column].reindex(list(AREAS))


def change_pp(table: pd.DataFrame, column: str, year: int, base_year: int) -> pd.Series:
    """Change of a share from ``base_year`` to ``year`` in percentage points, per area."""
    return (_at(table, year, column) - _at(table, base_year, column)) * 100


def year_table(table: pd.DataFrame, share_name: str, year: int) -> pd.DataFrame:
    """One share in ``year`` per area, with its counts, changes and distance to Köln.

    Returns
    -------
    DataFrame
        Index ``raum_id`` (:data:`AREAS`); columns ``numerator``, ``denominator``, ``share``
        (0–1), ``change_previous_pp`` (to ``year - 1``), ``change_first_pp`` (to the first
        year of the table; NaN when ``year`` is the first year) and ``difference_city_pp``
        (share minus Köln's share; NaN in Köln's own row), all in percentage points.
    """
    num, den = SHARES[share_name]
    first = min(table.index.get_level_values("jahr"))
    out = pd.DataFrame(
        {
            "numerator": _at(table, year, num),
            "denominator": _at(table, year, den),
            "share": _at(table, year, share_name),
            "change_previous_pp": change_pp(table, share_name, year, year - 1),
            "change_first_pp": change_pp(table, share_name, year, first)
            if year != first
            else np.nan,
        }
    )
    out["difference_city_pp"] = (out["share"] - out.loc[CITY, "share"]) * 100
    out.loc[CITY, "difference_city_pp"] = np.nan
    return out


def population_table(table: pd.DataFrame, year: int) -> pd.DataFrame:
    """Inhabitants per area in ``year`` with their change (in %) and age shares.

    Columns ``population``, ``change_previous_pct`` (to ``year - 1``), ``change_first_pct``
    (to the first year; NaN when ``year`` is the first), ``under18_share``,
    ``age65plus_share``.
    """
    first = min(table.index.get_level_values("jahr"))
    pop = _at(table, year, "population")

    def change(base_year: int) -> pd.Series:
        base = _at(table, base_year, "population")
        return (pop / base.where(base > 0) - 1) * 100

    return pd.DataFrame(
        {
            "population": pop,
            "change_previous_pct": change(year - 1),
            "change_first_pct": change(first) if year != first else np.nan,
            "under18_share": _at(table, year, "under18_share"),
            "age65plus_share": _at(table, year, "age65plus_share"),
        }
    )


def series(table: pd.DataFrame, column: str, until: int) -> pd.DataFrame:
    """Long table ``jahr, raum_id, value`` of one column for the years up to ``until``."""
    out = table[[column]].rename(columns={column: "value"}).reset_index()
    return out[out["jahr"] <= until].reset_index(drop=True)


def population_index(table: pd.DataFrame, until: int) -> pd.DataFrame:
    """Inhabitants as an index (first year of the table = 100) per area, up to ``until``."""
    first = min(table.index.get_level_values("jahr"))
    base = _at(table, first, "population")
    base = base.where(base > 0).reindex(table.index.get_level_values("raum_id")).to_numpy()
    index = (table["population"] / base * 100).rename("population_index")
    return series(index.to_frame(), "population_index", until)


def missing_values(table: pd.DataFrame, year: int) -> pd.DataFrame:
    """The counts the shares need that are missing in ``year``: rows ``raum_id``, ``column``."""
    if year not in table.index.get_level_values("jahr"):
        return pd.DataFrame(columns=["raum_id", "column"])
    used = [c for c in COUNTS if any(c in pair for pair in SHARES.values())]
    counts = table.xs(year, level="jahr")[used]
    missing = counts.isna().stack().rename("missing").reset_index()
    missing.columns = ["raum_id", "column", "missing"]
    return missing.loc[missing["missing"], ["raum_id", "column"]].reset_index(drop=True)


# ---- the agency's participants --------------------------------------------------------------


def participants_by_stadtteil(participants: pd.DataFrame, start: date, end: date) -> pd.Series:
    """Persons with first contact in ``[start, end]`` by the Stadtteil they live in.

    Index: the six Stadtteile, ``"ausserhalb"`` (any other place of residence),
    ``"unknown"`` (not recorded; only when there are such persons) and ``"total"``.
    Persons are counted once (distinct ``person_id``).
    """
    first = participants["first_contact"]
    people = participants[
        first.notna() & (first >= pd.Timestamp(start)) & (first <= pd.Timestamp(end))
    ]
    people = people.drop_duplicates("person_id")
    where = people["stadtteil"].astype("string").str.strip()
    where = where.where(where.isin(STADTTEIL_IDS), OUTSIDE).where(where.notna(), UNKNOWN)
    counts = where.value_counts()
    order = [*STADTTEIL_IDS, OUTSIDE] + ([UNKNOWN] if counts.get(UNKNOWN, 0) else [])
    out = counts.reindex(order, fill_value=0).astype(int)
    out.loc[TOTAL] = int(out.sum())
    out.index.name = "stadtteil"
    return out.rename("participants")


def per_1000(count: pd.Series, population: pd.Series) -> pd.Series:
    """``count`` per 1,000 inhabitants; NaN where the population is unknown or 0."""
    return count / population.where(population > 0) * 1000


def reach(
    participants: pd.DataFrame, table: pd.DataFrame, start: date, end: date, year: int
) -> pd.DataFrame:
    """Participants by Stadtteil against the Stadtteil's inhabitants and need in ``year``.

    Returns
    -------
    DataFrame
        Index as :func:`participants_by_stadtteil`; columns ``participants``,
        ``population`` (in ``year``), ``per_1000`` (participants per 1,000 inhabitants),
        ``sgb2_share`` and ``migration_share`` of the Stadtteil in ``year``. Rows without a
        Stadtteil (outside, unknown, total) have NaN there.
    """
    counts = participants_by_stadtteil(participants, start, end)
    out = counts.to_frame()
    for column in ("population", "sgb2_share", "migration_share"):
        out[column] = _at(table, year, column).reindex(out.index)
    out["per_1000"] = per_1000(out["participants"], out["population"])
    return out[["participants", "population", "per_1000", "sgb2_share", "migration_share"]]


def headline(table: pd.DataFrame, year: int) -> dict[str, pd.DataFrame]:
    """Figures of ``year`` for the results history, one frame per indicator id.

    Ids ``sr_population`` and ``sr_<share>`` for every share of :data:`SHARES`. Each frame
    has columns ``value`` (count, or share as a proportion) and ``n`` (the denominator) and
    is indexed by ``raum_id`` of the Stadtteile and Köln (``"0"``); the district is the
    ``"total"`` row (recorded without group, as the report's own area).
    """
    at = table.xs(year, level="jahr").reindex(list(AREAS))
    index = pd.Index([TOTAL if code == DISTRICT else code for code in AREAS], name="raum_id")
    out = {
        "sr_population": pd.DataFrame(
            {"value": at["population"].to_numpy(), "n": at["population"].to_numpy()}, index=index
        )
    }
    for name, (_, den) in SHARES.items():
        out[f"sr_{name}"] = pd.DataFrame(
            {"value": at[name].to_numpy(), "n": at[den].to_numpy()}, index=index
        )
    return out
