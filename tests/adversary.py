"""An adversary with nothing but the published HTML reports, and linear algebra.

Independent of the package's protection code on purpose: it parses every protected table of
every published report, writes down the equations a careful reader can build, and asks a
linear programme (SciPy's ``linprog``) what they reveal:

* within a table: categories add up to their ``Gesamt`` row or column;
* across periods: the quarters of a year add up to the year, for counts of events dated in
  the period (entries, exits, decisions);
* nested counts: in a row, "Status bekannt" and "davon vorzeitig beendet" are parts of
  "Austritte"; across tables, the decisions with a duration are part of all decisions;
* the annual report repeats field figures of the same year.

A hidden cell is *recovered* when the equations pin it to one value (a true zero excepted);
a *small group* is isolated when a shown difference (nested count minus its part) or the
bounds of a hidden cell say that it holds between 1 and ``threshold - 1`` persons.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from bs4 import BeautifulSoup
from scipy.optimize import linprog

TOTALS = ("Gesamt", "Personen insgesamt (ohne Doppelzählung)")
MARKER = "*"
#: counts of events dated in the period: additive over quarters
ADDITIVE = (
    "Eintritte und Austritte",
    "Entscheidungen über Anerkennungsanträge",
    "Monate vom Antrag bis zur Entscheidung",
)
#: (whole, part) column pairs within one row
NESTED = (("Austritte", "Status bekannt"), ("Austritte", "davon vorzeitig beendet"))
COUNT_HEADERS = (
    "Eintritte",
    "Austritte",
    "davon vorzeitig beendet",
    "Status bekannt",
    "Erreichte Personen",
    "Anzahl",
    "Personen",
    "Befragte",
    "Teilnehmende",
)


@dataclass
class Table:
    report: str  # plan/schedule/period
    caption: str
    header: list[str]
    rows: list[list[str]]

    @property
    def stem(self) -> str:
        """Caption without its period label."""
        return re.sub(r"\s*\d{4}(-Q\d)?$", "", self.caption).strip()

    @property
    def period(self) -> str:
        return self.report.rsplit("/", 1)[-1]


def parse_number(text: str) -> int | None:
    text = text.replace("\xa0", " ").strip()
    if not re.fullmatch(r"-?\d{1,3}(\.\d{3})*|-?\d+", text):
        return None
    return int(text.replace(".", ""))


def read_tables(reports: Path) -> list[Table]:
    tables = []
    for html in sorted(reports.rglob("report.html")):
        report = "/".join(html.relative_to(reports).parts[:-1])
        soup = BeautifulSoup(html.read_text(encoding="utf-8"), "html.parser")
        for div in soup.select("div.disclosed-table"):
            caption = div.find("caption")
            head = div.find("thead")
            body = div.find("tbody")
            if body is None:
                continue
            header = (
                [th.get_text(strip=True) for th in head.find_all("tr")[0].find_all("th")]
                if head
                else []
            )
            rows = [
                [c.get_text(strip=True) for c in tr.find_all(["th", "td"])]
                for tr in body.find_all("tr")
            ]
            tables.append(
                Table(report, caption.get_text(strip=True) if caption else "", header, rows)
            )
    return tables


@dataclass
class Reader:
    """Unknowns (hidden cells) and linear equations over them."""

    names: list[str] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)
    equations: list[tuple[dict[int, float], float]] = field(default_factory=list)
    known: dict[str, int] = field(default_factory=dict)
    small_differences: list[str] = field(default_factory=list)

    def term(self, name: str, text: str) -> tuple[int | None, int | None]:
        """(variable, None) for a hidden cell, (None, value) for a shown count."""
        if text == MARKER:
            if name not in self.index:
                self.index[name] = len(self.names)
                self.names.append(name)
            return self.index[name], None
        value = parse_number(text)
        if value is not None:
            self.known[name] = value
        return None, value

    def add(self, parts: list[tuple[str, str]], total: tuple[str, str]) -> None:
        """sum(parts) == total, each given as (name, text)."""
        coef: dict[int, float] = {}
        rhs = 0.0
        for sign, items in ((1.0, parts), (-1.0, [total])):
            for name, text in items:
                var, value = self.term(name, text)
                if var is not None:
                    coef[var] = coef.get(var, 0.0) + sign
                elif value is not None:
                    rhs -= sign * value
                else:
                    return  # not a count: no equation
        if coef:
            self.equations.append((coef, rhs))

    def nested(self, whole: tuple[str, str], part: tuple[str, str], threshold: int) -> None:
        w, p = parse_number(whole[1]), parse_number(part[1])
        if w is not None and p is not None and 0 < w - p < threshold:
            self.small_differences.append(f"{whole[0]} - {part[0]} = {w - p}")
        else:
            # whole = part + rest, rest >= 0 unknown: only a bound, kept as an equation
            rest = f"{whole[0]} minus {part[0]}"
            self.index.setdefault(rest, len(self.names))
            if self.index[rest] == len(self.names):
                self.names.append(rest)
            self.add([part, (rest, MARKER)], whole)

    def solve(self, threshold: int) -> tuple[list[str], list[str]]:
        """Hidden cells pinned to a value, and hidden cells bounded below the threshold."""
        n = len(self.names)
        if n == 0 or not self.equations:
            return [], []
        a = np.zeros((len(self.equations), n))
        b = np.zeros(len(self.equations))
        for i, (coef, rhs) in enumerate(self.equations):
            for j, c in coef.items():
                a[i, j] = c
            b[i] = rhs
        pinned, small = [], []
        for j, name in enumerate(self.names):
            if " minus " in name:
                continue
            if not (a[:, j] != 0).any():
                continue
            c = np.zeros(n)
            c[j] = 1.0
            low = linprog(c, A_eq=a, b_eq=b, bounds=(0, None), method="highs")
            high = linprog(-c, A_eq=a, b_eq=b, bounds=(0, None), method="highs")
            if low.status != 0:
                continue  # inconsistent or unbounded: nothing learnt
            lo = int(np.ceil(low.fun - 1e-7))
            hi = np.inf if high.status == 3 else int(np.floor(-high.fun + 1e-7))
            if hi == lo and hi > 0:
                pinned.append(f"{name} = {lo}")
            elif hi < threshold and hi > 0 and lo >= 0:
                small.append(f"{name} in [{lo}, {hi}]")
        return pinned, small


def _is_total(label: str) -> bool:
    return label in TOTALS


def build(tables: list[Table], threshold: int) -> Reader:
    reader = Reader()
    for t in tables:
        cname = f"{t.report}: {t.caption}"
        count_cols = [j for j, h in enumerate(t.header) if h in COUNT_HEADERS]
        two_way = t.header[:1] == [""] and "Gesamt" in t.header
        if two_way:
            cols = [h for h in t.header[1:] if h and h != "Entscheidung"]
            for r in t.rows:
                label, cells = r[0], r[1 : 1 + len(cols)]
                named = [(f"{cname}|{label}|{c}", v) for c, v in zip(cols, cells, strict=False)]
                parts = [x for x, c in zip(named, cols, strict=False) if c != "Gesamt"]
                total = [x for x, c in zip(named, cols, strict=False) if c == "Gesamt"]
                if total:
                    reader.add(parts, total[0])
            labels = [r[0] for r in t.rows]
            if "Gesamt" in labels:
                total_row = t.rows[labels.index("Gesamt")]
                for k, c in enumerate(cols):
                    parts = [
                        (f"{cname}|{r[0]}|{c}", r[1 + k])
                        for r in t.rows
                        if r[0] != "Gesamt" and len(r) > 1 + k
                    ]
                    reader.add(parts, (f"{cname}|Gesamt|{c}", total_row[1 + k]))
            continue
        if not count_cols or not t.rows:
            continue
        keys = [j for j in range(len(t.header)) if j < min(count_cols)]
        for j in count_cols:
            for r in t.rows:
                reader.term(f"{cname}|{'/'.join(r[k] for k in keys)}|{t.header[j]}", r[j])
        # categories add up to the total row, per group of the other key columns
        for k in keys:
            others = [o for o in keys if o != k]
            groups: dict[tuple[str, ...], list[list[str]]] = {}
            for r in t.rows:
                groups.setdefault(tuple(r[o] for o in others), []).append(r)
            for rows in groups.values():
                totals = [r for r in rows if _is_total(r[k])]
                parts = [
                    r
                    for r in rows
                    if not _is_total(r[k]) and not any(_is_total(r[o]) for o in others)
                ]
                if len(totals) != 1 or not parts:
                    continue
                if totals[0][k] != "Gesamt":
                    continue  # unduplicated persons: not a sum
                for j in count_cols:
                    reader.add(
                        [
                            (f"{cname}|{'/'.join(r[x] for x in keys)}|{t.header[j]}", r[j])
                            for r in parts
                        ],
                        (
                            f"{cname}|{'/'.join(totals[0][x] for x in keys)}|{t.header[j]}",
                            totals[0][j],
                        ),
                    )
        for whole, part in NESTED:
            if whole in t.header and part in t.header:
                w, p = t.header.index(whole), t.header.index(part)
                for r in t.rows:
                    key = "/".join(r[k] for k in keys)
                    reader.nested(
                        (f"{cname}|{key}|{whole}", r[w]), (f"{cname}|{key}|{part}", r[p]), threshold
                    )
    _quarters_against_year(tables, reader)
    _decided_within_decisions(tables, reader, threshold)
    return reader


def _decided_within_decisions(tables: list[Table], reader: Reader, threshold: int) -> None:
    """Decisions with a duration are part of all decisions of the same report and group."""
    by_report: dict[str, dict[str, Table]] = {}
    for t in tables:
        for stem in (
            "Entscheidungen über Anerkennungsanträge",
            "Monate vom Antrag bis zur Entscheidung",
        ):
            if t.stem == stem:
                by_report.setdefault(t.report, {})[stem] = t
    for report, pair in by_report.items():
        if len(pair) != 2:
            continue
        decisions = pair["Entscheidungen über Anerkennungsanträge"]
        months = pair["Monate vom Antrag bis zur Entscheidung"]
        cols = [h for h in decisions.header[1:] if h and h != "Entscheidung"]
        total_rows = [r for r in decisions.rows if r[0] == "Gesamt"]
        if not total_rows or "Anzahl" not in months.header:
            continue
        j = months.header.index("Anzahl")
        for r in months.rows:
            if r[0] in cols:
                k = cols.index(r[0])
                whole = (f"{report}: {decisions.caption}|Gesamt|{r[0]}", total_rows[0][1 + k])
                part = (f"{report}: {months.caption}|{r[0]}|Anzahl", r[j])
                reader.nested(whole, part, threshold)


def _quarters_against_year(tables: list[Table], reader: Reader) -> None:
    by_stem: dict[tuple[str, str], dict[str, Table]] = {}
    for t in tables:
        if t.stem.startswith(ADDITIVE):
            plan = t.report.split("/")[0]
            by_stem.setdefault((plan, t.stem), {})[t.period] = t
    for (_, _stem), periods in by_stem.items():
        for year, t_year in periods.items():
            if not re.fullmatch(r"\d{4}", year):
                continue
            quarters = [periods.get(f"{year}-Q{q}") for q in range(1, 5)]
            if not all(quarters):
                continue
            for i, r in enumerate(t_year.rows):
                for j in range(1, len(r)):
                    if j >= len(t_year.header) or not t_year.header[j]:
                        continue
                    parts = []
                    for tq in quarters:
                        if i >= len(tq.rows) or tq.rows[i][0] != r[0] or j >= len(tq.rows[i]):
                            parts = []
                            break
                        parts.append(
                            (f"{tq.report}: {tq.caption}|{r[0]}|{t_year.header[j]}", tq.rows[i][j])
                        )
                    if parts:
                        reader.add(
                            parts,
                            (f"{t_year.report}: {t_year.caption}|{r[0]}|{t_year.header[j]}", r[j]),
                        )


def attack(reports: Path, threshold: int = 5) -> dict[str, list[str]]:
    """Everything the adversary recovers from the published reports."""
    reader = build(read_tables(reports), threshold)
    pinned, small = reader.solve(threshold)
    return {"pinned": pinned, "small_bounds": small, "small_differences": reader.small_differences}
