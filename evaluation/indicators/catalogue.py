"""Indicator catalogue: one declarative file, one function that computes any indicator.

``catalogue.yml`` beside this module lists every indicator the agency reports: id, German
and English label, Handlungsfeld, level of the PHINEO Wirkungstreppe (1–7), IOOI level,
definition, numerator and denominator, unit, what it counts (``unit_kind``: persons, cases
or activities), kind of statistic, the registered Python
function that computes it and the groupings it may be broken down by.
:func:`load_catalogue` reads and validates it; :func:`compute` computes one indicator for a
period and an optional grouping, with confidence intervals; :func:`figures` and
:func:`record` turn the result into records of the results history
(:data:`evaluation.history.FIGURE_FIELDS`). In a notebook::

    from evaluation.indicators import catalogue
    catalogue.record_indicator(ctx, "par_fsw_change", group_by="arm")

computes the indicator from the run's snapshot for ``ctx.period`` and records it.

Compute functions
-----------------
A compute function is registered by name with :func:`indicator` and named in the
catalogue's ``compute`` key. It is pure: it takes the tables the catalogue entry lists
(``tables``), the reporting period, the entry's ``params`` as keyword arguments, and, only
if its signature has a ``data_end`` parameter, the last day the data covers. It returns a
*unit frame*, one row per counted unit (person, enrolment, decision, assignment, event …),
with every grouping column the entry allows and the columns its ``kind`` needs:

================  ============================================================================
kind              columns of the unit frame and the statistic :func:`compute` derives
================  ============================================================================
``count``         ``unit``: number of distinct units; no interval
``sum``           ``unit``, ``value``: sum of ``value``, ``n`` = distinct units; no interval
``share``         ``numerator``, ``denominator`` (0/1 per row): sum / sum, Wilson interval
``mean``          ``value``: mean with t interval (statsmodels ``DescrStatsW.tconfint_mean``)
``mean_change``   ``value`` = change per person (after − before): as ``mean``
``median``        ``value``: median with the distribution-free order-statistic interval
                  (``scipy.stats.quantile_test``; Thompson 1936, Conover 1999), ``NaN`` below
                  six values. With a boolean ``observed`` column ``value`` is a duration,
                  censored where ``observed`` is False, and the median is the Kaplan–Meier
                  median with its interval (``lifelines``); ``NaN`` where the curve does not
                  fall to one half (median not reached).
================  ============================================================================

Because the statistic is taken over units, totals are right even when a unit belongs to
several groups (a person in two projects counts once in the total). Grouping values are
turned into text codes: booleans become ``"yes"``/``"no"``, missing values ``"unknown"``.

The labour-market and recognition functions (``lm_``, ``rec_``) are defined at the end of
this module on top of :mod:`evaluation.indicators.labour`; parent work is in
:mod:`evaluation.indicators.parents`, civic engagement and events in
:mod:`evaluation.indicators.volunteers`.
"""

from __future__ import annotations

import importlib
import inspect
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml

from evaluation import labels
from evaluation.disclosure import SuppressionRule
from evaluation.indicators import labour
from evaluation.indicators.common import in_period, wilson
from evaluation.plan import Period
from evaluation.protection.model import SENSITIVE_KINDS, UnitKind

Language = Literal["de", "en"]
Tables = Mapping[str, pd.DataFrame]
TableSource = Mapping[str, pd.DataFrame] | Callable[[str], pd.DataFrame]
ComputeFunction = Callable[..., pd.DataFrame]

CATALOGUE_FILE = Path(__file__).with_name("catalogue.yml")
ALPHA = 0.05
TOTAL = ""
RESULT_COLUMNS = ("group_var", "group_value", "value", "n", "ci_low", "ci_high")
SHARE_COLUMNS = ("numerator", "denominator")

#: Handlungsfelder of the NRW guideline the agency works in, and its two focus areas.
FIELDS: dict[str, tuple[str, str]] = {
    "Arbeitsmarktintegration": ("Arbeitsmarktintegration", "Labour-market integration"),
    "Elternarbeit": ("Elternarbeit", "Parent work"),
    "Bürgerschaftliches Engagement": ("Bürgerschaftliches Engagement", "Civic engagement"),
    "Interkulturelle Öffnung": ("Interkulturelle Öffnung", "Intercultural opening"),
    "Sozialraumorientierte Arbeit": ("Sozialraumorientierte Arbeit", "Neighbourhood work"),
}
#: Id prefix of each kind of indicator.
PREFIXES = ("lm_", "rec_", "par_", "vol_", "evt_", "sr_")
IOOI: dict[str, tuple[str, str]] = {
    "input": ("Input (Ressourcen)", "Input (resources)"),
    "output": ("Output (Leistungen)", "Output (services)"),
    "outcome": ("Outcome (Wirkung bei den Zielgruppen)", "Outcome (change in target groups)"),
    "impact": ("Impact (Wirkung in der Gesellschaft)", "Impact (change in society)"),
}
#: ``role: context`` marks figures outside the Wirkungstreppe (response rates, durations,
#: stocks): they have neither level nor IOOI level.
CONTEXT_ROLE = ("Kontext- oder Qualitätsangabe", "context or quality figure")
ROLES = ("staircase", "context")
UNITS: dict[str, tuple[str, str]] = {
    "count": ("Anzahl", "count"),
    "persons": ("Personen", "persons"),
    "share": ("Anteil", "share"),
    "months": ("Monate", "months"),
    "hours": ("Stunden", "hours"),
    "scale_points": ("Skalenpunkte", "scale points"),
    "percentage_points": ("Prozentpunkte", "percentage points"),
    "per_1000": ("je 1.000 Einwohner", "per 1,000 inhabitants"),
    "coefficient": ("Kennwert", "coefficient"),
}
KINDS = ("count", "share", "mean", "median", "sum", "mean_change", "estimate")
#: What an indicator counts (``unit_kind``): persons, cases (enrolments, recognition cases,
#: follow-ups) or activities (group cycles, trainings, events). Only persons and cases are
#: sensitive (:data:`evaluation.protection.model.SENSITIVE_KINDS`); activity figures are shown
#: as they are.
UNIT_KINDS: dict[str, tuple[str, str]] = {
    "persons": ("Personen", "persons"),
    "cases": ("Fälle", "cases"),
    "activities": ("Aktivitäten", "activities"),
}
#: Units each kind of statistic may have.
KIND_UNITS: dict[str, tuple[str, ...]] = {
    "count": ("count", "persons"),
    "sum": ("count", "persons", "hours"),
    "share": ("share",),
    "mean": ("share", "months", "hours", "scale_points"),
    "mean_change": ("share", "scale_points"),
    "median": ("months", "hours", "scale_points"),
    # figures a notebook computes itself (estimators, official statistics): any unit
    "estimate": tuple(UNITS),
}
#: Unit-frame columns each kind needs.
KIND_COLUMNS: dict[str, tuple[str, ...]] = {
    "count": ("unit",),
    "sum": ("unit", "value"),
    "share": SHARE_COLUMNS,
    "mean": ("value",),
    "mean_change": ("value",),
    "median": ("value",),
}
#: Columns an indicator may be grouped by, with German and English names.
GROUP_VARS: dict[str, tuple[str, str]] = {
    "project": ("Projekt", "Project"),
    "target_group": ("Zielgruppe", "Target group"),
    "cohort": ("Eintrittskohorte", "Entry cohort"),
    "regulated": ("Reglementierter Beruf", "Regulated profession"),
    "decision": ("Entscheidung", "Decision"),
    "academic": ("Akademischer Abschluss", "Academic qualification"),
    "arm": ("Teilnahme oder Wartegruppe", "Participants or waiting list"),
    "cycle_id": ("Gruppenzyklus", "Group cycle"),
    "group_name": ("Elterngruppe", "Parent group"),
    "migration_history": ("Einwanderungsgeschichte", "Migration history"),
    "qualified": ("Qualifizierungskurs abgeschlossen", "Qualification course completed"),
    "assignment_type": ("Einsatzart", "Assignment type"),
    "stadtteil": ("Stadtteil", "District"),
}
#: Modules whose compute functions register themselves on import.
PROVIDERS = ("evaluation.indicators.parents", "evaluation.indicators.volunteers")

_ID = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)+$")
_REQUIRED_KEYS = (
    "id",
    "label",
    "field",
    "level",
    "iooi",
    "definition",
    "numerator",
    "denominator",
    "unit",
    "unit_kind",
    "kind",
    "compute",
    "groups",
    "tables",
)
_OPTIONAL_KEYS = ("params", "role", "personal", "recorded_by")


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------

REGISTRY: dict[str, ComputeFunction] = {}


def indicator(name: str) -> Callable[[ComputeFunction], ComputeFunction]:
    """Register a compute function under ``name`` (the catalogue's ``compute`` key).

    Examples
    --------
    >>> @indicator("vol_recruited")
    ... def recruited(tables, period):
    ...     ...
    """

    def register(fn: ComputeFunction) -> ComputeFunction:
        known = REGISTRY.get(name)
        if known is not None and _qualname(known) != _qualname(fn):
            raise ValueError(
                f"compute function {name!r} is already registered by {_qualname(known)}"
            )
        REGISTRY[name] = fn
        return fn

    return register


def _qualname(fn: ComputeFunction) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


def _load_providers() -> None:
    for module in PROVIDERS:
        importlib.import_module(module)


# --------------------------------------------------------------------------------------------
# The catalogue
# --------------------------------------------------------------------------------------------


class CatalogueError(ValueError):
    """The catalogue file is wrong; the message names the file, line, indicator and key."""


Fail = Callable[[str, str], CatalogueError]


@dataclass(frozen=True)
class Indicator:
    """One entry of the catalogue (see ``catalogue.yml`` for the meaning of the keys)."""

    id: str
    label: Mapping[str, str]
    field: str
    level: int | None
    iooi: str | None
    definition: Mapping[str, str]
    numerator: str
    denominator: str | None
    unit: str
    kind: str
    compute: str | None
    unit_kind: UnitKind
    groups: tuple[str, ...]
    tables: tuple[str, ...]
    params: Mapping[str, Any]
    role: str = "staircase"
    personal: bool = True
    recorded_by: str | None = None

    @property
    def sensitive(self) -> bool:
        """Whether small counts of this figure are protected.

        True for persons and cases, unless the entry is ``personal: false`` (public
        statistics); never for activities (group cycles, trainings, events).
        """
        return self.personal and self.unit_kind in SENSITIVE_KINDS

    @property
    def function(self) -> ComputeFunction:
        """The registered compute function."""
        if self.compute is None:
            raise ValueError(
                f"{self.id} is recorded by {self.recorded_by}; read it from the history"
            )
        return REGISTRY[self.compute]


@dataclass(frozen=True)
class Catalogue:
    """The validated indicator catalogue, in file order."""

    indicators: Mapping[str, Indicator]

    def __iter__(self) -> Iterator[Indicator]:
        return iter(self.indicators.values())

    def __len__(self) -> int:
        return len(self.indicators)

    def __contains__(self, indicator_id: object) -> bool:
        return indicator_id in self.indicators

    @property
    def ids(self) -> list[str]:
        return list(self.indicators)

    def get(self, indicator_id: str) -> Indicator:
        """The entry of ``indicator_id``; :class:`KeyError` naming close ids otherwise."""
        try:
            return self.indicators[indicator_id]
        except KeyError:
            prefix = indicator_id.split("_", 1)[0] + "_"
            similar = [i for i in self.indicators if i.startswith(prefix)]
            raise KeyError(
                f"no indicator {indicator_id!r} in the catalogue"
                + (f" (ids with {prefix!r}: {', '.join(similar)})" if similar else "")
            ) from None

    def label(self, indicator_id: str, language: Language = "de") -> str:
        """The reader-facing label of an indicator."""
        return self.get(indicator_id).label[_language(language)]

    def table(self, language: Language = "de") -> pd.DataFrame:
        """The catalogue as a data dictionary for the report appendix.

        Columns ``id, label, field, level, iooi, definition, unit`` with reader-facing
        texts in ``language``; ``level`` is missing for context figures and inputs.
        """
        i = 0 if _language(language) == "de" else 1
        rows = [
            {
                "id": ind.id,
                "label": ind.label[language],
                "field": FIELDS[ind.field][i],
                "level": ind.level,
                "iooi": IOOI[ind.iooi][i] if ind.iooi else CONTEXT_ROLE[i],
                "definition": ind.definition[language],
                "unit": UNITS[ind.unit][i],
            }
            for ind in self
        ]
        out = pd.DataFrame(
            rows, columns=["id", "label", "field", "level", "iooi", "definition", "unit"]
        )
        out["level"] = out["level"].astype("Int64")
        return out


def _language(language: str) -> str:
    if language not in ("de", "en"):
        raise ValueError(f"language must be 'de' or 'en', not {language!r}")
    return language


def load_catalogue(path: Path | str | None = None) -> Catalogue:
    """Read and validate the catalogue (``catalogue.yml`` beside this module by default).

    Raises
    ------
    CatalogueError
        For the first problem found, naming file, line, indicator id and key: duplicate or
        malformed ids, levels outside 1–7, an IOOI level that does not match the level
        (PHINEO: 1–3 output, 4–6 outcome, 7 impact; no level only for inputs and context
        figures), unknown fields, units, kinds, groupings or compute functions, and
        ``params`` the compute function does not take.
    """
    file = Path(path) if path is not None else CATALOGUE_FILE
    return _load(file, file.stat().st_mtime_ns)


@lru_cache(maxsize=8)
def _load(path: Path, mtime_ns: int) -> Catalogue:
    """Load once per file version (``mtime_ns`` makes an edited file load again)."""
    _load_providers()
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("indicators"), list):
        raise CatalogueError(f"{path}: expected a mapping with a list under 'indicators'")
    lines = _entry_lines(node)
    indicators: dict[str, Indicator] = {}
    for i, entry in enumerate(data["indicators"]):
        where = f"{path}:{lines[i]}" if i < len(lines) else str(path)
        ind = _validate(entry, where)
        if ind.id in indicators:
            raise CatalogueError(f"{where}: indicator {ind.id!r}: id: duplicate id")
        indicators[ind.id] = ind
    return Catalogue(MappingProxyType(indicators))


def _entry_lines(node: yaml.Node | None) -> list[int]:
    """1-based line of each entry under ``indicators``."""
    if not isinstance(node, yaml.MappingNode):
        return []
    for key, value in node.value:
        if key.value == "indicators" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def _validate(entry: Any, where: str) -> Indicator:
    if not isinstance(entry, dict):
        raise CatalogueError(f"{where}: expected a mapping with the keys of an indicator")
    ident = entry.get("id")

    def fail(key: str, message: str) -> CatalogueError:
        return CatalogueError(f"{where}: indicator {ident!r}: {key}: {message}")

    for key in _REQUIRED_KEYS:
        if key not in entry:
            raise fail(key, "missing")
    unknown = sorted(set(entry) - {*_REQUIRED_KEYS, *_OPTIONAL_KEYS})
    if unknown:
        raise fail(
            unknown[0], f"unknown key (allowed: {', '.join((*_REQUIRED_KEYS, *_OPTIONAL_KEYS))})"
        )
    if not isinstance(ident, str) or not _ID.match(ident) or not ident.startswith(PREFIXES):
        raise fail("id", f"use snake_case with a prefix {', '.join(PREFIXES)}")
    for key in ("label", "definition"):
        _check_texts(entry[key], key, fail)
    _check_choice(entry["field"], FIELDS, "field", fail)
    role = entry.get("role", "staircase")
    _check_choice(role, ROLES, "role", fail)
    level, iooi = entry["level"], entry["iooi"]
    _check_level(level, iooi, role, fail)
    _check_choice(entry["unit"], UNITS, "unit", fail)
    _check_choice(entry["kind"], KINDS, "kind", fail)
    _check_choice(entry["unit_kind"], UNIT_KINDS, "unit_kind", fail)
    if entry["unit"] not in KIND_UNITS[entry["kind"]]:
        raise fail("unit", f"a {entry['kind']} has unit {' or '.join(KIND_UNITS[entry['kind']])}")
    _check_text(entry["numerator"], "numerator", fail)
    if entry["denominator"] is not None or entry["kind"] == "share":
        _check_text(entry["denominator"], "denominator", fail)
    groups = _check_names(entry["groups"], "groups", fail, allowed=GROUP_VARS)
    tables = _check_names(entry["tables"], "tables", fail)
    if not tables:
        raise fail("tables", "name at least one table")
    params = entry.get("params") or {}
    recorded_by = entry.get("recorded_by")
    if entry["compute"] is None:
        # an estimate or official statistic that a notebook computes and records itself
        if not isinstance(recorded_by, str) or not recorded_by.endswith(".ipynb"):
            raise fail("recorded_by", "name the notebook that records it (compute is null)")
    else:
        if entry["kind"] == "estimate":
            raise fail(
                "kind", "an estimate is recorded by a notebook: set compute: null and recorded_by"
            )
        _check_compute(entry["compute"], params, tables, fail)
    personal = entry.get("personal", entry["unit_kind"] != "activities")
    if not isinstance(personal, bool):
        raise fail("personal", "expected true or false")
    if personal and entry["unit_kind"] == "activities":
        raise fail("personal", "activities are not about persons (unit_kind: activities)")
    return Indicator(
        id=ident,
        label=MappingProxyType(dict(entry["label"])),
        field=entry["field"],
        level=level,
        iooi=iooi,
        definition=MappingProxyType(dict(entry["definition"])),
        numerator=entry["numerator"],
        denominator=entry["denominator"],
        unit=entry["unit"],
        kind=entry["kind"],
        compute=entry["compute"],
        unit_kind=entry["unit_kind"],
        groups=groups,
        tables=tables,
        params=MappingProxyType(dict(params)),
        role=role,
        personal=personal,
        recorded_by=recorded_by,
    )


def _check_text(value: Any, key: str, fail: Fail) -> None:
    if not isinstance(value, str) or not value.strip():
        raise fail(key, "expected a non-empty text")


def _check_texts(value: Any, key: str, fail: Fail) -> None:
    if not isinstance(value, dict) or set(value) != {"de", "en"}:
        raise fail(key, "expected exactly the languages de and en")
    for language in ("de", "en"):
        _check_text(value[language], f"{key}.{language}", fail)


def _check_choice(
    value: Any,
    allowed: Mapping[str, Any] | tuple[str, ...],
    key: str,
    fail: Fail,
) -> None:
    if value not in allowed:
        raise fail(key, f"{value!r} is not one of {', '.join(allowed)}")


def _check_level(level: Any, iooi: Any, role: str, fail: Fail) -> None:
    """PHINEO: levels 1–3 are output, 4–6 outcome, 7 impact; inputs have no level."""
    if role == "context":
        if level is not None or iooi is not None:
            raise fail("level", "a context figure has neither level nor iooi (write null)")
        return
    if iooi is not None:
        _check_choice(iooi, IOOI, "iooi", fail)
    if level is None:
        if iooi != "input":
            raise fail("level", "only inputs (iooi: input) and context figures have no level")
        return
    if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 7:
        raise fail("level", f"{level!r} is not a Wirkungstreppe level 1–7")
    expected = iooi_of_level(level)
    if iooi != expected:
        raise fail(
            "iooi", f"level {level} is {expected!r} (PHINEO: 1–3 output, 4–6 outcome, 7 impact)"
        )


def iooi_of_level(level: int) -> str:
    """The IOOI level of a Wirkungstreppe level: 1–3 output, 4–6 outcome, 7 impact."""
    return "output" if level <= 3 else "outcome" if level <= 6 else "impact"


def _check_names(
    value: Any,
    key: str,
    fail: Fail,
    allowed: Mapping[str, Any] | None = None,
) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise fail(key, "expected a list of names")
    if len(set(value)) != len(value):
        raise fail(key, "names repeat")
    for name in value:
        if allowed is not None and name not in allowed:
            raise fail(key, f"{name!r} is not one of {', '.join(allowed)}")
    return tuple(value)


def _check_compute(name: Any, params: Any, tables: tuple[str, ...], fail: Fail) -> None:
    if name not in REGISTRY:
        raise fail("compute", f"no registered compute function {name!r}")
    if not isinstance(params, dict):
        raise fail("params", "expected a mapping of keyword arguments")
    signature = inspect.signature(REGISTRY[name])
    extra = {"data_end": date.today()} if "data_end" in signature.parameters else {}
    try:
        signature.bind({t: None for t in tables}, None, **params, **extra)
    except TypeError as exc:
        raise fail("params", f"{name} does not take these arguments: {exc}") from None


# --------------------------------------------------------------------------------------------
# Computing
# --------------------------------------------------------------------------------------------


def compute(
    indicator_id: str,
    tables: TableSource,
    *,
    period: Period,
    group_by: str | None = None,
    data_end: date | None = None,
    catalogue: Catalogue | None = None,
) -> pd.DataFrame:
    """Compute a catalogued indicator for a period, in total and by one grouping.

    Parameters
    ----------
    indicator_id
        Id in the catalogue, e.g. ``"par_fsw_change"``.
    tables
        The snapshot's tables: a mapping of table name to DataFrame (as
        :func:`evaluation.data.load_all` returns) or a loader called with a table name (e.g.
        ``ctx.table`` in a notebook). Only the tables the entry lists are read.
    period
        The reporting period (``.start``, ``.end``).
    group_by
        One of the entry's ``groups``; ``None`` for the total only.
    data_end
        Last day the data covers (``ctx.data_end``). Indicators that follow people over
        time (follow-up status, time to first employment, retention) treat later events as
        not yet observed. Default: the period's last day.
    catalogue
        The catalogue to use (default :func:`load_catalogue`).

    Returns
    -------
    DataFrame
        Columns ``group_var, group_value, value, n, ci_low, ci_high`` (and ``numerator,
        denominator`` for shares): one row per group in code order, then the total row with
        ``group_var == group_value == ""``. ``n`` is the number of units the value rests on
        (persons, enrolments, decisions; for shares the denominator). Intervals are 95 %:
        Wilson for shares, t for means, order statistics or Kaplan–Meier for medians, none
        for counts and sums.

    Raises
    ------
    KeyError
        Unknown indicator or a listed table missing from ``tables``.
    ValueError
        A grouping the entry does not allow.
    """
    ind = (catalogue or load_catalogue()).get(indicator_id)
    if group_by is not None and group_by not in ind.groups:
        allowed = ", ".join(ind.groups) or "none"
        raise ValueError(f"{indicator_id} cannot be grouped by {group_by!r} (allowed: {allowed})")
    if ind.compute is None:
        raise ValueError(
            f"{indicator_id} is recorded by {ind.recorded_by}; read it from the history"
        )
    units = unit_frame(ind, tables, period=period, data_end=data_end)
    return summarise(units, ind.kind, group_by)


def unit_frame(
    ind: Indicator, tables: TableSource, *, period: Period, data_end: date | None = None
) -> pd.DataFrame:
    """Call the entry's compute function and check the unit frame it returns."""
    chosen = {name: _table(tables, name, ind.id) for name in ind.tables}
    fn = ind.function
    extra = (
        {"data_end": data_end or period.end}
        if "data_end" in inspect.signature(fn).parameters
        else {}
    )
    units = fn(chosen, period, **ind.params, **extra)
    missing = [c for c in (*KIND_COLUMNS[ind.kind], *ind.groups) if c not in units.columns]
    if missing:
        raise TypeError(f"{ind.compute} returned no column(s) {missing} that {ind.id} needs")
    return units


def _table(tables: TableSource, name: str, indicator_id: str) -> pd.DataFrame:
    if callable(tables) and not isinstance(tables, Mapping):
        return tables(name)
    if name not in tables:
        raise KeyError(f"{indicator_id} needs table {name!r}, which is not among the tables given")
    return tables[name]


def summarise(units: pd.DataFrame, kind: str, group_by: str | None = None) -> pd.DataFrame:
    """Statistics of a unit frame by one grouping column and in total (see the module doc)."""
    stat = _STATISTICS[kind]
    rows = []
    if group_by is not None:
        codes = group_codes(units[group_by])
        for code in _ordered(group_by, codes.unique()):
            rows.append({"group_var": group_by, "group_value": code, **stat(units[codes == code])})
    rows.append({"group_var": TOTAL, "group_value": TOTAL, **stat(units)})
    out = pd.DataFrame(rows)
    if kind == "share":
        out["value"], out["ci_low"], out["ci_high"] = wilson(
            out["numerator"], out["denominator"], alpha=ALPHA
        )
        out["numerator"] = out["numerator"].astype("Int64")
        out["denominator"] = out["denominator"].astype("Int64")
    columns = [*RESULT_COLUMNS, *(SHARE_COLUMNS if kind == "share" else ())]
    out = out.reindex(columns=columns)
    out["n"] = out["n"].astype("Int64")
    for column in ("value", "ci_low", "ci_high"):
        out[column] = out[column].astype(float)
    return out


def group_codes(values: pd.Series) -> pd.Series:
    """Grouping values as text codes: booleans ``"yes"``/``"no"``, missing ``"unknown"``."""
    if pd.api.types.is_bool_dtype(values):
        values = values.map({True: "yes", False: "no"})
    text = values.astype(object).where(values.notna(), "unknown")
    return text.map(str)


def _ordered(group_by: str, present: Any) -> list[str]:
    codes = labels.CODE_LISTS.get(group_by)
    return labels.ordered(codes, present) if codes else sorted(present)


def _count(units: pd.DataFrame) -> dict[str, float]:
    k = units["unit"].nunique()
    return {"value": k, "n": k}


def _sum(units: pd.DataFrame) -> dict[str, float]:
    return {"value": float(units["value"].sum()), "n": units["unit"].nunique()}


def _share(units: pd.DataFrame) -> dict[str, float]:
    den = units["denominator"].sum()
    return {"numerator": units["numerator"].sum(), "denominator": den, "n": den}


def _mean(units: pd.DataFrame) -> dict[str, float]:
    from statsmodels.stats.weightstats import DescrStatsW

    values = pd.to_numeric(units["value"], errors="coerce").dropna().to_numpy(dtype=float)
    if len(values) == 0:
        return {"value": math.nan, "n": 0}
    low, high = (
        DescrStatsW(values).tconfint_mean(alpha=ALPHA) if len(values) > 1 else (math.nan,) * 2
    )
    return {"value": values.mean(), "n": len(values), "ci_low": low, "ci_high": high}


def _median(units: pd.DataFrame) -> dict[str, float]:
    if "observed" in units.columns:
        return _km_median(units)
    from scipy.stats import quantile_test

    values = pd.to_numeric(units["value"], errors="coerce").dropna().to_numpy(dtype=float)
    if len(values) == 0:
        return {"value": math.nan, "n": 0}
    median = float(np.median(values))
    ci = quantile_test(values, q=median, p=0.5).confidence_interval(1 - ALPHA)
    return {"value": median, "n": len(values), "ci_low": ci.low, "ci_high": ci.high}


def _km_median(units: pd.DataFrame) -> dict[str, float]:
    """Kaplan–Meier median of ``value`` (durations) with ``observed`` events (lifelines)."""
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    if units.empty:
        return {"value": math.nan, "n": 0}
    fitter = KaplanMeierFitter(alpha=ALPHA).fit(
        units["value"].astype(float), event_observed=units["observed"].astype(bool)
    )
    low, high = median_survival_times(fitter.confidence_interval_).iloc[0]
    finite = [v if np.isfinite(v) else math.nan for v in (fitter.median_survival_time_, low, high)]
    return {"value": finite[0], "n": len(units), "ci_low": finite[1], "ci_high": finite[2]}


_STATISTICS: dict[str, Callable[[pd.DataFrame], dict[str, float]]] = {
    "count": _count,
    "sum": _sum,
    "share": _share,
    "mean": _mean,
    "mean_change": _mean,
    "median": _median,
}


# --------------------------------------------------------------------------------------------
# Results history
# --------------------------------------------------------------------------------------------


def figures(
    indicator_id: str,
    result: pd.DataFrame,
    period: Period,
    *,
    threshold: int,
    catalogue: Catalogue | None = None,
) -> list[dict[str, Any]]:
    """History records (:data:`evaluation.history.FIGURE_FIELDS`) of a :func:`compute` result.

    A figure about persons or cases is suppressed when its ``n`` is a small count
    (``0 < n < threshold``, :meth:`evaluation.disclosure.SuppressionRule.is_sensitive`);
    for shares also when the numerator or the remainder ``denominator - numerator`` is
    small, since together with ``n`` they reveal it. Activities (``unit_kind:
    activities``: events, trainings, group cycles) and public statistics (``personal:
    false``) are never suppressed (:attr:`Indicator.sensitive`). When the groups partition the total (their
    counts add up to it), secondary suppression applies too, so that no suppressed group can
    be recovered as the total minus the other groups.
    """
    ind = (catalogue or load_catalogue()).get(indicator_id)
    flags = (
        suppressed(result, SuppressionRule(threshold=threshold))
        if ind.sensitive
        else [False] * len(result)
    )
    return [
        {
            "indicator_id": indicator_id,
            "period": period.label,
            "period_start": period.start.isoformat(),
            "period_end": period.end.isoformat(),
            "group_var": row.group_var,
            "group_value": row.group_value,
            "value": _number(row.value),
            "n": None if pd.isna(row.n) else int(row.n),
            "ci_low": _number(row.ci_low),
            "ci_high": _number(row.ci_high),
            "suppressed": bool(flag),
        }
        for row, flag in zip(result.itertuples(index=False), flags, strict=True)
    ]


def suppressed(result: pd.DataFrame, rule: SuppressionRule) -> np.ndarray:
    """Suppression flags of the rows of a :func:`compute` result (primary and secondary)."""
    flags = rule.is_sensitive(result["n"].fillna(0).to_numpy(dtype=float))
    if "numerator" in result.columns:
        num = result["numerator"].fillna(0).to_numpy(dtype=float)
        den = result["denominator"].fillna(0).to_numpy(dtype=float)
        flags = flags | rule.is_sensitive(num) | rule.is_sensitive(den - num)
    grouped = (result["group_var"] != TOTAL).to_numpy()
    if grouped.any() and (~grouped).sum() == 1:
        flags = flags | _secondary(result, grouped, rule)
    return flags


def _secondary(result: pd.DataFrame, grouped: np.ndarray, rule: SuppressionRule) -> np.ndarray:
    """Cells to hide so no group is the total minus the others (disclosure's own rules)."""
    from evaluation.disclosure import suppress_frame

    frame = pd.DataFrame(
        {
            "group": np.where(grouped, "g:" + result["group_value"].astype(str), "Gesamt"),
            "n": result["n"].fillna(0).round().astype(int).to_numpy(),
        }
    )
    if "numerator" in result.columns:
        frame["numerator"] = result["numerator"].fillna(0).round().astype(int).to_numpy()
        frame["value"] = result["value"].to_numpy()
        options: dict[str, Any] = {"numerators": {"value": "numerator"}}
    else:
        frame["value"] = result["value"].to_numpy()
        options = {"derived": ["value"]}
    try:
        table = suppress_frame(frame, n="n", complementary_within="group", rule=rule, **options)
    except ValueError:  # groups overlap (the total is not their sum): nothing to subtract
        return np.zeros(len(result), dtype=bool)
    return (table.mask["value"] | table.mask["n"]).to_numpy()


def _number(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def record(ctx: Any, indicator_id: str, result: pd.DataFrame) -> list[dict[str, Any]]:
    """Record a :func:`compute` result for ``ctx.period`` through ``ctx.record``.

    ``ctx`` is a notebook :class:`evaluation.notebook.Context`; its suppression threshold
    applies. Returns the records.
    """
    records = figures(indicator_id, result, ctx.period, threshold=ctx.rule.threshold)
    for fig in records:
        ctx.record(
            indicator_id,
            fig["value"],
            n=fig["n"],
            ci=(fig["ci_low"], fig["ci_high"]),
            group=(fig["group_var"], fig["group_value"]),
            suppressed=fig["suppressed"],
        )
    return records


def record_indicator(ctx: Any, indicator_id: str, *, group_by: str | None = None) -> pd.DataFrame:
    """Compute an indicator for the notebook's period and data, record it, return the result.

    Uses ``ctx.table`` (tables of the run's snapshot), ``ctx.period``, ``ctx.data_end`` and
    ``ctx.rule.threshold``.
    """
    result = compute(
        indicator_id, ctx.table, period=ctx.period, group_by=group_by, data_end=ctx.data_end
    )
    record(ctx, indicator_id, result)
    return result


# --------------------------------------------------------------------------------------------
# Labour market and recognition (on top of evaluation.indicators.labour)
# --------------------------------------------------------------------------------------------

_FOLLOWUP_MEASURES = {
    # measure: (numerator, denominator) among the columns of labour.followup_status
    "eingliederungsquote": ("svb", "known"),
    "verbleibsquote": ("not_unemployed", "known"),
    "response_rate": ("known", "due"),
}


def _labour_enrolments(tables: Tables) -> pd.DataFrame:
    """Enrolments in the labour-market projects with target group and entry cohort."""
    e = tables["enrolments"]
    e = e[e["project"].isin(labour.LABOUR_PROJECTS)]
    people = tables["participants"][["person_id", "target_group"]]
    out = e.merge(people, on="person_id", how="left")
    return out.assign(cohort=out["entry_date"].dt.year.astype("Int64").astype(str))


def _share_frame(frame: pd.DataFrame, numerator: pd.Series, denominator: Any = 1) -> pd.DataFrame:
    return frame.assign(numerator=numerator.astype(int), denominator=denominator)


@indicator("lm_participants")
def lm_participants(tables: Tables, period: Period) -> pd.DataFrame:
    """Persons with an enrolment running in the period (as :func:`labour.reach`)."""
    e = labour.running(_labour_enrolments(tables), period.start, period.end)
    return e.assign(unit=lambda f: f["person_id"])


@indicator("lm_flow")
def lm_flow(tables: Tables, period: Period, *, date_column: str) -> pd.DataFrame:
    """Enrolments whose ``date_column`` (entry or exit date) lies in the period."""
    e = _labour_enrolments(tables)
    return e[in_period(e[date_column], period.start, period.end)].assign(
        unit=lambda f: f["enrolment_id"]
    )


@indicator("lm_completion")
def lm_completion(tables: Tables, period: Period) -> pd.DataFrame:
    """Exits in the period; numerator: completed as planned (not dropped out)."""
    exits = lm_flow(tables, period, date_column="exit_date")
    return _share_frame(exits, exits["exit_reason"] == "regulaer")


@indicator("lm_followup")
def lm_followup(
    tables: Tables, period: Period, *, months: int, measure: str, data_end: date
) -> pd.DataFrame:
    """Exits whose follow-up date (exit + ``months``) lies in the period, one row each.

    Uses :func:`labour.followup_in_period` per enrolment, so the shares are exactly the
    BA-style quotas of the labour-market notebook.
    """
    numerator, denominator = _FOLLOWUP_MEASURES[measure]
    status = labour.followup_in_period(
        tables["enrolments"],
        tables["followups"],
        period,
        months=months,
        data_end=data_end,
        by=("enrolment_id", "person_id", "project", "cohort"),
    ).reset_index()
    people = tables["participants"][["person_id", "target_group"]]
    status = status.merge(people, on="person_id", how="left")
    return status.assign(numerator=status[numerator], denominator=status[denominator])


@indicator("lm_time_to_employment")
def lm_time_to_employment(tables: Tables, period: Period, data_end: date) -> pd.DataFrame:
    """Months from first labour-project entry to the first month in svB employment.

    One row per person whose first entry into a labour-market project lies in the period
    and who was not in svB employment in the month of entry. ``value`` is the number of
    months from the entry month to the first later month with status ``svb``
    (``observed``), or to the last month with a record up to ``data_end`` (censored; the
    records end 12 months after exit). Persons without a record after the entry month are
    censored at 0.
    """
    e = _labour_enrolments(tables).sort_values(["entry_date", "project"], kind="stable")
    first = e.drop_duplicates("person_id")
    entrants = first[in_period(first["entry_date"], period.start, period.end)]
    months = _months_since_entry(tables["employment_months"], entrants, data_end)
    employed_at_entry = months.loc[
        (months["offset"] == 0) & (months["status"] == "svb"), "person_id"
    ]
    after = months[months["offset"] >= 1]
    first_svb = after[after["status"] == "svb"].groupby("person_id")["offset"].min()
    last_seen = after.groupby("person_id")["offset"].max()
    out = entrants[~entrants["person_id"].isin(employed_at_entry)].copy()
    out["observed"] = out["person_id"].isin(first_svb.index)
    out["value"] = (
        out["person_id"]
        .map(first_svb)
        .fillna(out["person_id"].map(last_seen))
        .fillna(0)
        .astype(float)
    )
    return out.assign(unit=out["person_id"])


def _months_since_entry(
    employment: pd.DataFrame, entrants: pd.DataFrame, data_end: date
) -> pd.DataFrame:
    """Employment records up to ``data_end`` with ``offset``: months since the entry month."""
    m = employment[employment["month"] <= pd.Timestamp(data_end)].merge(
        entrants[["person_id", "entry_date"]], on="person_id"
    )
    m["offset"] = (m["month"].dt.year - m["entry_date"].dt.year) * 12 + (
        m["month"].dt.month - m["entry_date"].dt.month
    )
    return m


def _cases(tables: Tables) -> pd.DataFrame:
    """Recognition cases; ``regulated`` coded as in the labour-market notebook."""
    c = tables["recognition_cases"]
    return c.assign(
        regulated=np.where(c["regulated"], "regulated", "not_regulated"), unit=c["case_id"]
    )


def _decided(tables: Tables, period: Period) -> pd.DataFrame:
    """Decisions (withdrawn excluded) dated in the period, as in :mod:`labour`."""
    return labour.decided(_cases(tables), period.start, period.end)


@indicator("rec_decisions")
def rec_decisions(tables: Tables, period: Period) -> pd.DataFrame:
    """Decisions on recognition (withdrawn applications excluded) dated in the period."""
    return _decided(tables, period)


@indicator("rec_dated")
def rec_dated(
    tables: Tables, period: Period, *, date_column: str, decision: str | None = None
) -> pd.DataFrame:
    """Cases whose ``date_column`` lies in the period (optionally with one decision)."""
    c = _cases(tables)
    c = c[in_period(c[date_column], period.start, period.end)]
    return c if decision is None else c[c["decision"] == decision]


@indicator("rec_full_share")
def rec_full_share(tables: Tables, period: Period) -> pd.DataFrame:
    """Decisions in the period; numerator: full equivalence."""
    decided = _decided(tables, period)
    return _share_frame(decided, decided["decision"] == "voll")


@indicator("rec_months")
def rec_months(tables: Tables, period: Period) -> pd.DataFrame:
    """Months from application to decision, for decisions in the period."""
    decided = _decided(tables, period)
    days = (decided["decision_date"] - decided["application_date"]).dt.days
    return decided.assign(value=days / labour.DAYS_PER_MONTH)


@indicator("rec_pending")
def rec_pending(tables: Tables, period: Period) -> pd.DataFrame:
    """Applications filed by the period's last day without a decision by then."""
    return labour.pending(_cases(tables), period.end)


# --------------------------------------------------------------------------------------------
# Issue 10: BA-comparable quotas, durations with censoring
# --------------------------------------------------------------------------------------------


@indicator("lm_followup_all_exits")
def lm_followup_all_exits(
    tables: Tables, period: Period, *, months: int, measure: str, data_end: date
) -> pd.DataFrame:
    """Exits whose follow-up date lies in the period, with ALL due exits as denominator.

    The BA's convention: the quota's denominator is every exit of the window whose
    follow-up date has been reached (``due``), not only those with known status; the
    numerator is the established status (``svb`` or ``not_unemployed``), so an unknown
    status never counts as a success.
    """
    numerator = _FOLLOWUP_MEASURES[measure][0]
    units = lm_followup(tables, period, months=months, measure=measure, data_end=data_end)
    return units.assign(numerator=units[numerator], denominator=units["due"])


@indicator("rec_months_all")
def rec_months_all(tables: Tables, period: Period) -> pd.DataFrame:
    """Applications decided in the period or open at its end: months to decision, censored.

    One row per case: decided in the period (``observed``, withdrawn excluded), withdrawn
    in the period (censored at withdrawal) or pending at the period's last day (censored
    there). ``value`` is months from application (:data:`labour.DAYS_PER_MONTH`).
    """
    c = labour.recognition_at_risk(_cases(tables), period.start, period.end)
    return c.assign(unit=c["case_id"])


@indicator("lm_time_to_sustained_employment")
def lm_time_to_sustained_employment(
    tables: Tables, period: Period, data_end: date, *, months: int = 3
) -> pd.DataFrame:
    """Months from first entry to the start of ``months`` consecutive months in svB work.

    The persons of :func:`lm_time_to_employment`; see
    :func:`evaluation.indicators.labour.sustained_employment_spells` for the censoring.
    """
    e = _labour_enrolments(tables).sort_values(["entry_date", "project"], kind="stable")
    first = e.drop_duplicates("person_id")
    entrants = first[in_period(first["entry_date"], period.start, period.end)]
    records = _months_since_entry(tables["employment_months"], entrants, data_end)
    employed_at_entry = records.loc[
        (records["offset"] == 0) & (records["status"] == "svb"), "person_id"
    ]
    out = entrants[~entrants["person_id"].isin(employed_at_entry)].copy()
    spells = labour.sustained_employment_spells(records, out["person_id"], run=months)
    out = out.merge(spells, on="person_id", how="left")
    return out.assign(unit=out["person_id"])


@indicator("lm_sustained_employment")
def lm_sustained_employment(
    tables: Tables, period: Period, data_end: date, *, months: int = 3, within: int = 12
) -> pd.DataFrame:
    """Entrants of the period; numerator: a run of ``months`` svB months starting by ``within``.

    Only persons whose whole window can be seen by ``data_end`` count: entry month plus
    ``within + months - 1`` months at the latest in the month of ``data_end`` (decided by
    the calendar, not by who had a job, so the share is not biased towards early jobs).
    Months without a record count as not employed.
    """
    units = lm_time_to_sustained_employment(tables, period, data_end, months=months)
    end = pd.Timestamp(data_end)
    entry = units["entry_date"]
    last_needed = (entry.dt.year * 12 + entry.dt.month - 1) + within + months - 1
    units = units[last_needed <= end.year * 12 + end.month - 1]
    event = units["observed"] & (units["value"] <= within)
    return _share_frame(units, event)
