"""Tests for evaluation.disclosure: suppression patterns, derived values, display, guard."""

from __future__ import annotations

import re

import IPython
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from evaluation.disclosure import (
    ColumnFormat,
    DisclosedTable,
    DisclosureError,
    SuppressionRule,
    guard_dataframes,
    suppress_frame,
    suppress_table,
)

NOTICE_DE = "Tabelle ohne Geheimhaltungsprüfung – nicht angezeigt."


def cells(mask: pd.DataFrame) -> set[tuple[object, object]]:
    """The (row, column) labels where a boolean frame is True."""
    stacked = mask.stack()
    return set(stacked[stacked].index)


def td_texts(html: str) -> list[str]:
    return re.findall(r"<td>(.*?)</td>", html)


# --------------------------------------------------------------------------------------------
# SuppressionRule
# --------------------------------------------------------------------------------------------


def test_rule_defaults_follow_cologne_practice() -> None:
    rule = SuppressionRule()
    assert (rule.threshold, rule.marker, rule.zero_is_safe) == (5, "*", True)
    assert rule.is_sensitive([0, 1, 4, 5, 100]).tolist() == [False, True, True, False, False]
    strict = SuppressionRule(threshold=3, zero_is_safe=False)
    assert strict.is_sensitive([0, 2, 3]).tolist() == [True, True, False]


@pytest.mark.parametrize(
    "kwargs",
    [{"threshold": 0}, {"threshold": 2.5}, {"threshold": True}, {"marker": ""}, {"marker": "1"}],
)
def test_rule_rejects_invalid_settings(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        SuppressionRule(**kwargs)


def test_footnotes_name_marker_and_threshold() -> None:
    rule = SuppressionRule(threshold=3, marker=".")
    assert rule.footnote("de") == (
        ". Wert unter 3 oder zur Vermeidung von Rückrechnung nicht ausgewiesen (Geheimhaltung)."
    )
    assert rule.footnote("en").startswith(". Value below 3 or withheld")
    assert "Anteile und Mittelwerte" in rule.footnote("de", derived=True)


# --------------------------------------------------------------------------------------------
# suppress_table: hand-checked examples
# --------------------------------------------------------------------------------------------

HAND = pd.DataFrame({"A": [20, 12, 7], "B": [3, 10, 9], "C": [15, 8, 11]}, index=["r1", "r2", "r3"])


def test_hand_checked_table() -> None:
    # 3 in (r1, B) is primary. Row r1 then needs a complement: 15 in (r1, C) is the smallest.
    # Column B needs one: 9 in (r3, B). Column C now has one unknown: (r3, C) = 11 closes
    # both column C and row r3, so it is preferred over the smaller (r2, C) = 8.
    table = suppress_table(HAND)
    assert cells(table.primary_mask) == {("r1", "B")}
    assert cells(table.secondary_mask) == {("r1", "C"), ("r3", "B"), ("r3", "C")}
    assert table.n_suppressed == 4
    assert list(table.values.index) == ["r1", "r2", "r3", "Gesamt"]
    assert list(table.values.columns) == ["A", "B", "C", "Gesamt"]
    assert table.values.loc["Gesamt", "Gesamt"] == 95
    assert table.values.loc["r2", "C"] == 8
    assert table.values.isna().to_numpy().sum() == 4
    assert (table.values.dtypes == "Int64").all()


def test_given_margins_give_the_same_result_as_added_margins() -> None:
    long = HAND.stack().rename_axis(["zeile", "spalte"]).reset_index(name="anzahl")
    long = long.loc[long.index.repeat(long["anzahl"])]
    crosstab = pd.crosstab(long["zeile"], long["spalte"], margins=True, margins_name="Gesamt")
    given_ = suppress_table(crosstab)
    added = suppress_table(HAND)
    assert cells(given_.mask) == cells(added.mask)


def test_single_cell_in_a_row_of_zeros_hides_the_row_total() -> None:
    # Row r1 = (3, 0, 0 | 3): the cell equals its row total, which is sensitive as well.
    # Column A and the total column each need a complement; (r2, A) and (r2, Gesamt) close
    # both of them and row r2 at once.
    counts = pd.DataFrame(
        {"A": [3, 6, 9], "B": [0, 8, 6], "C": [0, 7, 10]}, index=["r1", "r2", "r3"]
    )
    table = suppress_table(counts)
    assert cells(table.primary_mask) == {("r1", "A"), ("r1", "Gesamt")}
    assert cells(table.secondary_mask) == {("r2", "A"), ("r2", "Gesamt")}
    assert table.values.loc["r1", "B"] == 0  # a true zero stays visible


def test_row_of_zeros_with_hidden_total_suppresses_zeros() -> None:
    # With margins=False the total 3 is still treated as known, so (r1, A) = 3 - 0 - 0
    # unless a zero is hidden as well.
    counts = pd.DataFrame({"A": [3, 6, 9], "B": [0, 8, 6], "C": [0, 7, 10]})
    table = suppress_table(counts, margins=False)
    assert table.values.shape == (3, 3)
    assert table.mask.iloc[0].sum() >= 2


def test_one_way_table() -> None:
    counts = pd.Series([2, 10, 30, 7], index=list("abcd"), name="n")
    table = suppress_table(counts)
    assert table.mask["n"].tolist() == [True, False, False, True, False]
    assert table.values.loc["Gesamt", "n"] == 49


def test_threshold_and_marker_are_per_report() -> None:
    rule = SuppressionRule(threshold=3, marker=".")
    table = suppress_table(HAND, rule=rule)
    assert table.n_suppressed == 0
    assert suppress_table(HAND, rule=rule, threshold=5).rule == SuppressionRule(5, ".")


def test_zero_is_safe_false_suppresses_zeros() -> None:
    counts = pd.DataFrame({"A": [0, 10, 12], "B": [9, 8, 20]})
    assert suppress_table(counts).n_suppressed == 0
    strict = suppress_table(counts, zero_is_safe=False)
    assert strict.primary_mask.loc[0, "A"]
    assert "(einschließlich 0)" in strict.footnote()


def test_aggregate_of_suppressed_cells_must_not_be_small() -> None:
    # Hiding only 2 and 1 in row 0 would reveal "3 persons in a or b" from the row total, so
    # 40 is hidden as well. Columns a, b, c then each need a complement; in row 1, 30 (the
    # smaller of column a), then 25 (closes column b and row 1), then 50 (column c).
    counts = pd.DataFrame({"a": [2, 30], "b": [1, 25], "c": [40, 50], "d": [60, 70]})
    table = suppress_table(counts)
    assert cells(table.primary_mask) == {(0, "a"), (0, "b")}
    assert cells(table.secondary_mask) == {(0, "c"), (1, "a"), (1, "b"), (1, "c")}


def test_totals_that_do_not_add_up_are_rejected() -> None:
    counts = HAND.copy()
    counts["Gesamt"] = counts.sum(axis=1) + 1
    with pytest.raises(ValueError, match="do not add up"):
        suppress_table(counts)


def test_total_under_another_name_is_rejected() -> None:
    counts = pd.concat([HAND, HAND.sum().to_frame("All").T])
    with pytest.raises(ValueError, match="looks like a total"):
        suppress_table(counts)
    assert suppress_table(counts, total_label="All").n_suppressed == 4


@pytest.mark.parametrize("bad", [-1, 2.5, np.nan])
def test_non_counts_are_rejected(bad: float) -> None:
    counts = HAND.astype(float)
    counts.loc["r2", "A"] = bad
    with pytest.raises(ValueError):
        suppress_table(counts)


# --------------------------------------------------------------------------------------------
# suppress_table: properties on random tables
# --------------------------------------------------------------------------------------------


def full_grid(counts: np.ndarray) -> tuple[np.ndarray, bool, bool]:
    """Counts with totals added along every axis that has more than one category."""
    grid = counts.astype(float)
    has_col_total = grid.shape[1] > 1
    has_row_total = grid.shape[0] > 1
    if has_col_total:
        grid = np.column_stack([grid, grid.sum(axis=1)])
    if has_row_total:
        grid = np.vstack([grid, grid.sum(axis=0)])
    return grid, has_row_total, has_col_total


def grid_equations(shape: tuple[int, int], row_total: bool, col_total: bool) -> list[list]:
    """Each equation as [(cell, coefficient), ...] with sum(coefficient * value) == 0."""
    n_rows, n_cols = shape
    equations = []
    if col_total:
        for r in range(n_rows):
            equations.append([((r, c), 1) for c in range(n_cols - 1)] + [((r, n_cols - 1), -1)])
    if row_total:
        for c in range(n_cols):
            equations.append([((r, c), 1) for r in range(n_rows - 1)] + [((n_rows - 1, c), -1)])
    return equations


def feasible_range(grid: np.ndarray, unknown: np.ndarray, equations: list, cell: tuple) -> float:
    """Width of the interval a reader can derive for ``cell`` from published values and >= 0."""
    index = {c: k for k, c in enumerate(zip(*np.nonzero(unknown), strict=True))}
    a_eq, b_eq = [], []
    for eq in equations:
        row = np.zeros(len(index))
        rhs = 0.0
        for c, coef in eq:
            if c in index:
                row[index[c]] += coef
            else:
                rhs -= coef * grid[c]
        if row.any():
            a_eq.append(row)
            b_eq.append(rhs)
    objective = np.zeros(len(index))
    objective[index[cell]] = 1.0
    kwargs = {"A_eq": np.array(a_eq), "b_eq": np.array(b_eq)} if a_eq else {}
    low = linprog(objective, bounds=(0, None), method="highs", **kwargs)
    high = linprog(-objective, bounds=(0, None), method="highs", **kwargs)
    assert low.status == 0
    if high.status == 3:  # unbounded
        return np.inf
    assert high.status == 0
    return -high.fun - low.fun


small_or_large = st.one_of(st.integers(0, 4), st.integers(0, 4), st.integers(5, 60))
tables = st.integers(1, 5).flatmap(
    lambda rows: st.integers(1, 5).flatmap(
        lambda cols: st.lists(
            st.lists(small_or_large, min_size=cols, max_size=cols), min_size=rows, max_size=rows
        )
    )
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    counts=tables,
    threshold=st.integers(2, 6),
    margins=st.booleans(),
    zero_is_safe=st.booleans(),
)
def test_no_suppressed_cell_can_be_recomputed(
    counts: list[list[int]], threshold: int, margins: bool, zero_is_safe: bool
) -> None:
    raw = np.array(counts)
    rule = SuppressionRule(threshold=threshold, zero_is_safe=zero_is_safe)
    grid, row_total, col_total = full_grid(raw)
    shown_rows = grid.shape[0] if margins or not row_total else grid.shape[0] - 1
    shown_cols = grid.shape[1] if margins or not col_total else grid.shape[1] - 1
    visible = np.zeros(grid.shape, dtype=bool)
    visible[:shown_rows, :shown_cols] = True
    try:
        table = suppress_table(pd.DataFrame(raw), rule=rule, margins=margins)
    except DisclosureError:
        # Refusing is only allowed when hidden totals, counted as known, imply a small one.
        assert rule.is_sensitive(grid[~visible]).any()
        return
    # Readers do not know suppressed cells, nor hidden totals that are sensitive themselves
    # (any table publishing them suppresses them); other hidden totals count as known.
    unknown = ~visible & rule.is_sensitive(grid)
    unknown[:shown_rows, :shown_cols] = table.mask.to_numpy()
    shown = grid[:shown_rows, :shown_cols]

    # Published values are the true ones, suppressed ones are gone.
    published = table.values.to_numpy(dtype=float, na_value=np.nan)
    assert np.array_equal(np.isnan(published), table.mask.to_numpy())
    assert np.array_equal(published[~np.isnan(published)], shown[~np.isnan(published)])
    # Every sensitive cell readers could see is suppressed, and marked as primary.
    assert np.array_equal(table.primary_mask.to_numpy(), rule.is_sensitive(shown))
    assert not (table.primary_mask & ~table.mask).to_numpy().any()

    equations = [
        eq
        for eq in grid_equations(grid.shape, row_total, col_total)
        if any(visible[c] for c, _ in eq)  # relations among hidden totals only are not ours
    ]
    for eq in equations:
        # No row or column equation has exactly one unknown ...
        n_unknown = sum(unknown[c] for c, _ in eq)
        assert n_unknown != 1
        # ... and the hidden part of an equation with a published total is no small count.
        hidden_sum = sum(grid[c] for c, _ in eq[:-1] if unknown[c])
        if margins and n_unknown and not unknown[eq[-1][0]]:
            assert not rule.is_sensitive(hidden_sum)
    # No suppressed cell is pinned down by any combination of equations and non-negativity
    # (a suppressed zero may be, when zeros are safe to show anyway).
    to_check = unknown & visible & ~((grid == 0) & zero_is_safe)
    for cell in zip(*np.nonzero(to_check), strict=True):
        assert feasible_range(grid, unknown, equations, cell) >= 1


# --------------------------------------------------------------------------------------------
# suppress_frame
# --------------------------------------------------------------------------------------------


def indicator_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "gruppe": ["Syrien", "Ukraine", "Eritrea", "Afghanistan", "Gesamt"],
            "n": [40, 3, 0, 22, 65],
            "n_beschaeftigt": [18, 1, 0, 20, 39],
            "quote": [18 / 40, 1 / 3, np.nan, 20 / 22, 39 / 65],
            "fsw_mittel": [3.21, 2.9, np.nan, 3.5, 3.3],
        }
    )


def protect_indicators(df: pd.DataFrame | None = None, **kwargs) -> DisclosedTable:
    return suppress_frame(
        indicator_frame() if df is None else df,
        n="n",
        derived=["fsw_mittel"],
        numerators={"quote": "n_beschaeftigt"},
        complementary_within="gruppe",
        **kwargs,
    )


def test_derived_values_are_suppressed_with_their_count() -> None:
    table = protect_indicators()
    mask = table.mask.set_axis(indicator_frame()["gruppe"])
    # Ukraine: n = 3 is primary; Afghanistan (22) is the smallest non-zero complement in the
    # n column (Eritrea's 0 protects nothing). Share and mean go with their count.
    assert mask["n"][mask["n"]].index.tolist() == ["Ukraine", "Afghanistan"]
    assert mask["fsw_mittel"].equals(mask["n"])
    assert mask["quote"][mask["quote"]].index.tolist() == ["Ukraine", "Afghanistan"]
    # Afghanistan: 20 of 22 employed means 2 not employed, so the numerator is hidden too.
    primary = table.primary_mask.set_axis(indicator_frame()["gruppe"])
    assert primary.loc["Afghanistan", "n_beschaeftigt"]
    assert not primary.loc["Afghanistan", "n"]
    assert mask.loc["Gesamt"].sum() == 0
    assert table.values["n"].dtype == "Int64"
    assert table.values["quote"].isna().sum() == 3  # Ukraine, Afghanistan, and Eritrea's NaN


def test_frame_display_in_german_and_english() -> None:
    table = protect_indicators(decimals={"fsw_mittel": 2})
    shown = table.to_frame()
    assert shown.loc[0].tolist() == ["Syrien", "40", "18", "45,0\u00a0%", "3,21"]
    assert shown.loc[1].tolist() == ["Ukraine", "*", "*", "*", "*"]
    assert shown.loc[2].tolist() == ["Eritrea", "0", "0", "–", "–"]
    assert table.to_frame("en").loc[4].tolist() == ["Gesamt", "65", "39", "60.0%", "3.30"]
    assert "darauf beruhende Anteile und Mittelwerte" in table.footnote()
    assert "shares and means" in table.footnote("en")


def test_frame_without_complementary_within_but_with_total_row_is_rejected() -> None:
    with pytest.raises(ValueError, match="complementary_within"):
        suppress_frame(
            indicator_frame(),
            n="n",
            derived=["fsw_mittel"],
            numerators={"quote": "n_beschaeftigt"},
        )


def test_undeclared_numeric_column_is_rejected() -> None:
    df = indicator_frame().assign(median_dauer=[10.0, 3.0, np.nan, 7.0, 9.0])
    with pytest.raises(ValueError, match="median_dauer"):
        suppress_frame(
            df,
            n="n",
            derived=["fsw_mittel"],
            numerators={"quote": "n_beschaeftigt"},
            complementary_within="gruppe",
        )


def test_groups_need_exactly_one_total_row() -> None:
    df = indicator_frame().assign(jahr=[2024, 2024, 2024, 2024, 2025])
    with pytest.raises(ValueError, match="exactly one row"):
        suppress_frame(
            df,
            n="n",
            derived=["fsw_mittel"],
            numerators={"quote": "n_beschaeftigt"},
            complementary_within="gruppe",
            group_cols=["jahr"],
        )


def test_frame_totals_must_add_up() -> None:
    df = indicator_frame()
    df.loc[4, "n"] = 70
    with pytest.raises(ValueError, match="do not add up"):
        protect_indicators(df)


def test_per_column_counts_via_mapping() -> None:
    df = pd.DataFrame(
        {
            "stadtteil": ["Ehrenfeld", "Bickendorf", "Ossendorf", "Gesamt"],
            "n_teilnehmende": [30, 25, 12, 67],
            "n_antworten": [20, 4, 9, 33],
            "fsw_mittel": [3.1, 3.4, 2.8, 3.1],
            "anteil_kita": [0.5, 0.6, 0.25, 0.5],
        }
    )
    table = suppress_frame(
        df,
        n={"fsw_mittel": "n_antworten", "anteil_kita": "n_teilnehmende"},
        complementary_within="stadtteil",
        percent=["anteil_kita"],
    )
    assert table.mask["n_antworten"].tolist() == [False, True, True, False]
    assert table.mask["fsw_mittel"].tolist() == [False, True, True, False]
    assert not table.mask["n_teilnehmende"].any()
    assert not table.mask["anteil_kita"].any()
    assert table.to_frame().loc[2, "anteil_kita"] == "25,0\u00a0%"


def test_two_partitions_protect_a_long_two_way_table() -> None:
    long = (
        pd.concat([HAND, HAND.sum().to_frame("Gesamt").T])
        .assign(Gesamt=lambda t: t.sum(axis=1))
        .rename_axis(index="zeile", columns="spalte")
        .stack()
        .reset_index(name="n")
    )
    table = suppress_frame(long, n="n", complementary_within=["zeile", "spalte"])
    hidden = set(map(tuple, long.loc[table.mask["n"].to_numpy(), ["zeile", "spalte"]].values))
    assert ("r1", "B") in hidden
    assert len(hidden) >= 4
    for key in ("zeile", "spalte"):
        per_line = table.mask["n"].groupby(long[key]).sum()
        assert not (per_line == 1).any()


@settings(max_examples=200, deadline=None)
@given(
    groups=st.lists(st.lists(small_or_large, min_size=1, max_size=5), min_size=1, max_size=3),
    threshold=st.integers(2, 6),
)
def test_frame_groups_never_expose_a_single_value(groups: list[list[int]], threshold: int) -> None:
    rows = []
    for g, values in enumerate(groups):
        for k, value in enumerate(values):
            rows.append({"jahr": f"J{g}", "kategorie": f"K{k}", "n": value, "mittel": 1.5})
        rows.append({"jahr": f"J{g}", "kategorie": "Gesamt", "n": sum(values), "mittel": 1.5})
    df = pd.DataFrame(rows)
    rule = SuppressionRule(threshold=threshold)
    table = suppress_frame(
        df, n="n", derived=["mittel"], complementary_within="kategorie", rule=rule
    )
    assert table.mask["mittel"].equals(table.mask["n"])
    assert not (rule.is_sensitive(df["n"]) & ~table.mask["n"]).any()
    per_group = table.mask["n"].groupby(df["jahr"]).sum()
    assert not (per_group == 1).any()


# --------------------------------------------------------------------------------------------
# DisclosedTable
# --------------------------------------------------------------------------------------------


def test_html_shows_marker_and_footnote_but_no_suppressed_number() -> None:
    counts = pd.DataFrame(
        {"A": [1200, 2, 40], "B": [3, 1150, 60]}, index=["Ehrenfeld", "Ossendorf", "Vogelsang"]
    )
    table = suppress_table(counts, caption="Teilnehmende nach Stadtteil")
    html = table._repr_html_()
    cells_html = td_texts(html)
    # 2 and 3 are primary; 1200 and 1150 are the complements that close a row and a column.
    assert cells(table.mask) == {(r, c) for r in ("Ehrenfeld", "Ossendorf") for c in "AB"}
    assert not {"1.200", "1.150", "1200", "1150", "2", "3"} & set(cells_html)
    assert cells_html.count("*") == table.n_suppressed == 4
    assert "1.203" in cells_html  # German thousands separator
    assert "<caption>Teilnehmende nach Stadtteil</caption>" in html
    assert "Wert unter 5 oder zur Vermeidung von Rückrechnung" in html
    assert "Value below 5" in table.to_html(language="en")
    assert "1,203" in td_texts(table.to_html(language="en"))
    assert "* Wert unter 5" in repr(table)


def test_table_without_suppression_has_no_footnote() -> None:
    table = suppress_table(pd.DataFrame({"A": [10, 20], "B": [30, 40]}))
    assert table.n_suppressed == 0
    assert table.footnote() == ""
    assert "disclosure-footnote" not in table.to_html()


def test_disclosed_table_refuses_to_hold_a_suppressed_value() -> None:
    values = pd.DataFrame({"n": pd.array([3, 10], dtype="Int64")})
    mask = pd.DataFrame({"n": [True, False]})
    with pytest.raises(DisclosureError):
        DisclosedTable(values, mask, mask, SuppressionRule(), (ColumnFormat("count"),))


def test_drop_removes_columns_and_their_formats() -> None:
    table = protect_indicators().drop(["n_beschaeftigt"])
    assert "n_beschaeftigt" not in table.values.columns
    assert len(table.formats) == table.values.shape[1] == 4
    assert table.to_frame().loc[0, "quote"] == "45,0\u00a0%"


# --------------------------------------------------------------------------------------------
# Notebook guard
# --------------------------------------------------------------------------------------------


@pytest.fixture
def shell():
    from IPython.core.interactiveshell import InteractiveShell

    instance = InteractiveShell.instance()
    yield instance
    guard_dataframes(False)
    InteractiveShell.clear_instance()


def test_guard_is_a_no_op_outside_ipython(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    assert guard_dataframes() is False


def test_guard_blocks_raw_frames_but_not_disclosed_tables(shell) -> None:
    raw = pd.DataFrame({"n": [3, 11111]})
    assert "11111" in shell.display_formatter.format(raw)[0]["text/html"]

    assert guard_dataframes() is True
    for obj in (raw, raw["n"], raw.style):
        data, _ = shell.display_formatter.format(obj)
        assert "11111" not in str(data)
        assert NOTICE_DE in data["text/plain"]
        assert NOTICE_DE in data["text/html"]
    disclosed, _ = shell.display_formatter.format(suppress_table(raw))
    assert "11.114" in disclosed["text/html"]
    assert "Geheimhaltung" in disclosed["text/plain"]

    guard_dataframes(False)
    assert "11111" in shell.display_formatter.format(raw)[0]["text/html"]


def test_guard_is_idempotent_and_strict_mode_raises(shell, capsys) -> None:
    raw = pd.DataFrame({"n": [3, 11111]})
    guard_dataframes()
    guard_dataframes(strict=True)
    data, _ = shell.display_formatter.format(raw)
    assert "text/html" not in data
    assert "DisclosureError" in capsys.readouterr().out
    guard_dataframes(False)  # restores the original formatters, not the first guard
    assert "11111" in shell.display_formatter.format(raw)[0]["text/html"]


def test_text_columns_are_left_aligned_and_numbers_are_not():
    from evaluation.disclosure import published

    html = published(
        pd.DataFrame({"Kennzahl": ["A"], "Wert": [1], "Definition": ["lang"]})
    ).to_html()
    assert html.count('style="text-align: left"') == 4  # two headers, two cells
    assert "<td>1</td>" in html and "<th>Wert</th>" in html
