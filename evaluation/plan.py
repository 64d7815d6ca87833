"""The run plan: parameter files in ``params/`` expanded into runs for their periods.

A parameter file names a notebook, the parameters every run gets, and one or more schedules
with a cadence::

    notebook: labour_market.ipynb          # in notebooks/
    title: Arbeitsmarktintegration         # report title (German)
    title_en: Labour-market integration
    field: Arbeitsmarktintegration         # field of work, for the report index
    order: 10                              # optional; lower starts first (default 50)
    after: [data_quality]                  # optional; run after these plans' runs of this
                                           # and earlier periods (their figures are read)
    parameters:                            # the same for every run
      agency: Integrationsagentur PHOENIX
      suppression_threshold: 5
    schedules:
      - name: jahr
        cadence: yearly                    # monthly | quarterly | yearly
        start: 2019                        # first period: 2019, 2019-Q1 or 2019-01
        end: 2025                          # optional; open-ended (up to today) when omitted;
                                           # a warning says when a schedule has ended
        lag_days: 31                       # optional; due this many days after period end
        matrix:                            # optional; one run per value (and combination)
          project: [anerkennung, jobeinstieg]

With several agencies (:mod:`evaluation.agencies`) every plan is expanded once per agency:
each run carries the agency's id (``Run.agency``) and its ``agency.yml`` parameters on top
of the file's (only the parameters its notebook declares). A plan with ``scope: project``
(the Träger overview) runs once at project level over the selected agencies instead, and
only when agencies are selected; it gets their ids as parameter ``agencies`` if its
notebook declares it.

Every run gets ``period_start`` and ``period_end`` (ISO dates) on top. Before any kernel
starts, every run's parameters are checked against the notebook's ``parameters`` cell
(:mod:`evaluation.nbparams`); problems raise :class:`PlanError` with a one-line message that
names the file, key and line.

Everything here is pure apart from reading the YAML and notebook files.
"""

from __future__ import annotations

import calendar
import functools
import itertools
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml

from evaluation import nbparams
from evaluation.agencies import Agency, load_agency, root_agency
from evaluation.paths import Paths, paths

Cadence = Literal["monthly", "quarterly", "yearly"]
CADENCES: tuple[str, ...] = ("monthly", "quarterly", "yearly")
RUNNER_PARAMETERS = ("period_start", "period_end")
log = logging.getLogger("evaluation.plan")
TOP_KEYS = {
    "notebook",
    "title",
    "title_en",
    "field",
    "parameters",
    "schedules",
    "description",
    "after",
    "order",
    "scope",
}
SCOPES = ("agency", "project")
SCHEDULE_KEYS = {"name", "cadence", "start", "end", "lag_days", "matrix", "parameters"}


class PlanError(ValueError):
    """A parameter file or a run's parameters are wrong; the message is one line."""


@dataclass(frozen=True, order=True)
class Period:
    """A reporting period: a calendar month, quarter or year."""

    start: date
    end: date
    label: str

    @classmethod
    def containing(cls, day: date, cadence: Cadence) -> Period:
        """The period of ``cadence`` that contains ``day``."""
        if cadence == "yearly":
            return cls(date(day.year, 1, 1), date(day.year, 12, 31), f"{day.year}")
        if cadence == "quarterly":
            q = (day.month - 1) // 3
            first = date(day.year, 3 * q + 1, 1)
            last_month = 3 * q + 3
            return cls(first, _month_end(day.year, last_month), f"{day.year}-Q{q + 1}")
        return cls(date(day.year, day.month, 1), _month_end(day.year, day.month), f"{day:%Y-%m}")

    def next(self, cadence: Cadence) -> Period:
        """The period that follows this one."""
        return Period.containing(date.fromordinal(self.end.toordinal() + 1), cadence)


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


_PERIOD_PATTERNS = (
    (re.compile(r"^(\d{4})$"), lambda m: date(int(m[1]), 1, 1)),
    (re.compile(r"^(\d{4})-Q([1-4])$"), lambda m: date(int(m[1]), 3 * int(m[2]) - 2, 1)),
    (re.compile(r"^(\d{4})-(\d{2})$"), lambda m: date(int(m[1]), int(m[2]), 1)),
    (re.compile(r"^(\d{4})-(\d{2})-(\d{2})$"), lambda m: date(int(m[1]), int(m[2]), int(m[3]))),
)


def parse_period(value: Any, cadence: Cadence) -> Period:
    """Parse ``2024``, ``"2024-Q2"``, ``"2024-03"`` or a date into the period containing it."""
    if isinstance(value, date):
        return Period.containing(value, cadence)
    text = str(value).strip()
    for pattern, make in _PERIOD_PATTERNS:
        match = pattern.match(text)
        if match:
            try:
                return Period.containing(make(match), cadence)
            except ValueError:
                break
    raise ValueError(f"{value!r} is not a period (write 2024, 2024-Q1, 2024-03 or 2024-03-01)")


def periods(
    cadence: Cadence,
    start: Period,
    *,
    end: Period | None = None,
    today: date,
    lag_days: int = 0,
) -> list[Period]:
    """Complete periods from ``start`` on: those that ended ``lag_days`` or more before today.

    With ``end``, periods after it are left out.
    """
    out: list[Period] = []
    current = start
    while (
        end is None or current <= end
    ) and current.end.toordinal() + lag_days < today.toordinal():
        out.append(current)
        current = current.next(cadence)
    return out


@dataclass(frozen=True)
class Run:
    """One execution of a notebook for one period (and matrix cell)."""

    plan: str
    schedule: str
    period: Period
    notebook: Path
    parameters: Mapping[str, Any]
    source: Path
    title: str
    title_en: str
    field: str
    matrix: Mapping[str, Any] = field(default_factory=dict)
    after: tuple[str, ...] = ()
    order: int = 50
    agency: str = ""
    scope: str = "agency"

    @functools.cached_property
    def uid(self) -> str:
        """Unique among the runs of all agencies: ``<agency>:<key>`` (the key without one)."""
        return f"{self.agency}:{self.key}" if self.agency else self.key

    @functools.cached_property
    def key(self) -> str:
        """Stable name of the run, e.g. ``labour_market/jahr/2024``."""
        parts = [self.plan, self.schedule, self.period.label]
        if self.matrix:
            parts.append("_".join(f"{k}-{_slug(v)}" for k, v in sorted(self.matrix.items())))
        return "/".join(parts)


def _slug(value: Any) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", str(value)).strip("-").lower() or "x"


@dataclass
class _Located:
    """A parsed YAML file with the line of every key, for error messages."""

    path: Path
    data: dict[str, Any]
    lines: dict[str, int]

    def error(self, key: str, message: str) -> PlanError:
        line = self.lines.get(key)
        where = f"{self.path}:{line}" if line else f"{self.path}"
        return PlanError(f"{where}: {key}: {message}")


def _key_lines(node: yaml.Node, prefix: str = "") -> dict[str, int]:
    """Map dotted key paths (``schedules[0].cadence``) to 1-based line numbers."""
    out: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            name = f"{prefix}.{key_node.value}" if prefix else str(key_node.value)
            out[name] = key_node.start_mark.line + 1
            out.update(_key_lines(value_node, name))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            name = f"{prefix}[{i}]"
            out[name] = item.start_mark.line + 1
            out.update(_key_lines(item, name))
    return out


def _read_yaml(path: Path) -> _Located:
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise PlanError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise PlanError(f"{path}: expected a mapping with notebook, parameters and schedules")
    return _Located(path, data, _key_lines(node) if node is not None else {})


def load_plan(
    files: Iterable[Path] | None = None,
    *,
    root: Paths | None = None,
    today: date | None = None,
    due_only: bool = False,
    agencies: Sequence[Agency] | None = None,
) -> list[Run]:
    """Read parameter files and expand them into checked runs.

    Parameters
    ----------
    files
        Parameter files; all ``params/*.yml`` when omitted.
    root
        Workspace paths (an agency's workspace stands for that agency).
    today
        The day the plan is made for (complete periods are those that ended before it).
    due_only
        Honour each schedule's ``lag_days``: a period is due only that long after it ended.
    agencies
        The agencies to expand the plan for (default: the workspace ``root`` as the one
        agency). Each file is read and checked once, whatever their number.

    Raises
    ------
    PlanError
        For the first problem found, naming file, key and line; no run is returned then.
    """
    p = root or paths()
    today = today or date.today()
    if agencies is None:
        agencies = [load_agency(p.root) if p.is_agency else root_agency(p)]
    chosen = sorted(files) if files is not None else sorted(p.params.glob("*.y*ml"))
    docs = [_read_yaml(Path(file)) for file in chosen]
    parsed = [_parse(doc, p) for doc in docs]
    _check_agency_parameters(agencies, parsed)
    several = any(not a.is_root for a in agencies)
    runs: list[Run] = []
    for plan_file in parsed:
        if plan_file.scope == "project":
            if several:  # once, at project level, over the selected agencies
                project = root_agency(paths(p.project_root))
                runs.extend(_expand(plan_file, today, due_only, project, agencies))
            continue
        for i, agency in enumerate(agencies):  # an ended schedule is said once, not per agency
            runs.extend(_expand(plan_file, today, due_only, agency, (), warn=i == 0))
    return runs


@dataclass
class _PlanFile:
    """One parameter file, read and checked once for every agency."""

    doc: _Located
    notebook: Path
    declared: Mapping[str, nbparams.Parameter]
    shared: Mapping[str, Any]
    schedules: list[Any]
    after: tuple[str, ...]
    order: int
    scope: str


def _check_agency_parameters(agencies: Sequence[Agency], parsed: Sequence[_PlanFile]) -> None:
    """Every ``agency.yml`` parameter is declared by a notebook of the plan, with its type."""
    for agency in agencies:
        for name, value in agency.parameters.items():
            key = f"parameters.{name}"
            users = [f for f in parsed if name in f.declared]
            if name in RUNNER_PARAMETERS:
                raise PlanError(
                    f"{agency.where(key)}: {key}: wird von den Zeiträumen des Plans gesetzt; "
                    "hier nicht angeben"
                )
            if not users:
                known = sorted({n for f in parsed for n in f.declared} - set(RUNNER_PARAMETERS))
                raise PlanError(
                    f"{agency.where(key)}: {key}: kein Notebook des Plans hat diesen Parameter "
                    f"(Parameter: {', '.join(known)})"
                )
            for plan_file in users:
                problem = plan_file.declared[name].check(value)
                if problem:
                    raise PlanError(
                        f"{agency.where(key)}: {key}: {problem} ({plan_file.notebook.name})"
                    )


def _check_after(doc: _Located, p: Paths) -> tuple[str, ...]:
    """The plans this plan runs after (this and earlier periods), checked to exist and not to loop."""
    after = doc.data.get("after") or []
    if not isinstance(after, list) or not all(isinstance(a, str) for a in after):
        raise doc.error(
            "after", "expected a list of plan names (file names in params/ without .yml)"
        )
    known = {f.stem: f for f in p.params.glob("*.y*ml")}
    for name in after:
        if name not in known:
            raise doc.error("after", f"no plan {name!r} in {p.params}")
    seen, stack = {doc.path.stem}, list(after)
    while stack:
        name = stack.pop()
        if name == doc.path.stem:
            raise doc.error("after", "plans wait for each other in a circle")
        if name in seen or name not in known:  # unknown names are reported for their own file
            continue
        seen.add(name)
        nested = yaml.safe_load(known[name].read_text(encoding="utf-8")) or {}
        stack.extend((nested.get("after") or []) if isinstance(nested, dict) else [])
    return tuple(after)


def _parse(doc: _Located, p: Paths) -> _PlanFile:
    data = doc.data
    for key in data:
        if key not in TOP_KEYS:
            raise doc.error(key, f"unknown key (allowed: {', '.join(sorted(TOP_KEYS))})")
    if "notebook" not in data:
        raise doc.error("notebook", "missing: name the notebook in notebooks/ to run")
    notebook = p.notebooks / str(data["notebook"])
    if not notebook.exists():
        raise doc.error("notebook", f"no such notebook: {notebook}")
    try:
        declared = nbparams.inspect(notebook)
    except nbparams.NotebookParameterError as exc:
        raise doc.error("notebook", str(exc)) from None
    shared = data.get("parameters") or {}
    if not isinstance(shared, dict):
        raise doc.error("parameters", "expected a mapping of parameter names to values")
    schedules = data.get("schedules")
    if not isinstance(schedules, list) or not schedules:
        raise doc.error(
            "schedules", "missing: give at least one schedule with name, cadence and start"
        )
    after = _check_after(doc, p)
    order = doc.data.get("order", 50)
    if not isinstance(order, int) or isinstance(order, bool):
        raise doc.error("order", "expected a whole number (lower runs start first)")
    scope = doc.data.get("scope", "agency")
    if scope not in SCOPES:
        raise doc.error("scope", f"{scope!r} is not one of {', '.join(SCOPES)}")
    return _PlanFile(doc, notebook, declared, shared, schedules, after, order, scope)


def _expand(
    f: _PlanFile,
    today: date,
    due_only: bool,
    agency: Agency,
    over: Sequence[Agency],
    warn: bool = True,
) -> list[Run]:
    """The runs of one plan file for one agency (or at project level ``over`` agencies)."""
    extra = agency.run_parameters(f.declared)
    if over and "agencies" in f.declared:
        extra["agencies"] = ",".join(a.id for a in over)
    runs: list[Run] = []
    for i, schedule in enumerate(f.schedules):
        runs.extend(
            _expand_schedule(
                f.doc,
                f"schedules[{i}]",
                schedule,
                f.doc.path.stem,
                f.notebook,
                f.declared,
                f.shared,
                today,
                due_only,
                agency,
                extra,
                warn,
            )
        )
    return [
        replace(run, after=f.after, order=f.order, agency=agency.id, scope=f.scope) for run in runs
    ]


def _expand_schedule(
    doc: _Located,
    where: str,
    schedule: Any,
    plan_name: str,
    notebook: Path,
    declared: Mapping[str, nbparams.Parameter],
    shared: Mapping[str, Any],
    today: date,
    due_only: bool,
    agency: Agency | None = None,
    extra: Mapping[str, Any] | None = None,
    warn: bool = True,
) -> list[Run]:
    if not isinstance(schedule, dict):
        raise doc.error(where, "expected a mapping with name, cadence and start")
    for key in schedule:
        if key not in SCHEDULE_KEYS:
            raise doc.error(
                f"{where}.{key}", f"unknown key (allowed: {', '.join(sorted(SCHEDULE_KEYS))})"
            )
    for key in ("name", "cadence", "start"):
        if key not in schedule:
            raise doc.error(where, f"missing key {key!r}")
    name = str(schedule["name"])
    if not re.fullmatch(r"[a-z0-9_-]+", name):
        raise doc.error(f"{where}.name", "use lower-case letters, digits, - and _ only")
    cadence = schedule["cadence"]
    if cadence not in CADENCES:
        raise doc.error(f"{where}.cadence", f"{cadence!r} is not one of {', '.join(CADENCES)}")
    try:
        start = parse_period(schedule["start"], cadence)
        end = parse_period(schedule["end"], cadence) if schedule.get("end") is not None else None
    except ValueError as exc:
        key = "end" if "start" not in str(exc) and schedule.get("end") is not None else "start"
        raise doc.error(f"{where}.{key}", str(exc)) from None
    lag = schedule.get("lag_days", 0)
    if not isinstance(lag, int) or isinstance(lag, bool) or lag < 0:
        raise doc.error(f"{where}.lag_days", "expected a whole number of days >= 0")
    own = schedule.get("parameters") or {}
    if not isinstance(own, dict):
        raise doc.error(f"{where}.parameters", "expected a mapping of parameter names to values")
    matrix = schedule.get("matrix") or {}
    if not isinstance(matrix, dict) or not all(isinstance(v, list) and v for v in matrix.values()):
        raise doc.error(
            f"{where}.matrix", "expected a mapping of parameter names to non-empty lists"
        )
    fixed = {**shared, **own}
    _check_fixed(doc, where, fixed, own, matrix, declared, notebook)
    for extra_name in extra or {}:
        if extra_name in matrix and agency is not None:
            key = f"parameters.{extra_name}"
            raise PlanError(
                f"{agency.where(key)}: {key}: ist eine Matrix-Dimension von {doc.path.name}; "
                "für eine Agentur nicht überschreibbar"
            )
    fixed = {**fixed, **(extra or {})}
    fixed = {name: declared[name].coerce(value) for name, value in fixed.items()}
    matrix = {name: [declared[name].coerce(v) for v in values] for name, values in matrix.items()}
    if warn and end is not None and end.next(cadence).end.toordinal() + lag < today.toordinal():
        line = doc.lines.get(f"{where}.end")
        log.warning(
            "%s: schedule %r ended with %s; later periods are not run (remove `end:` to keep "
            "it going)",
            f"{doc.path}:{line}" if line else doc.path,
            name,
            end.label,
        )
    runs = []
    for period in periods(cadence, start, end=end, today=today, lag_days=lag if due_only else 0):
        for combo in _combinations(matrix):
            params = {
                **fixed,
                **combo,
                "period_start": period.start.isoformat(),
                "period_end": period.end.isoformat(),
            }
            runs.append(
                Run(
                    plan=plan_name,
                    schedule=name,
                    period=period,
                    notebook=notebook,
                    parameters=params,
                    source=doc.path,
                    title=str(doc.data.get("title", plan_name)),
                    title_en=str(doc.data.get("title_en", doc.data.get("title", plan_name))),
                    field=str(doc.data.get("field", "")),
                    matrix=combo,
                )
            )
    return runs


def _combinations(matrix: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    if not matrix:
        return [{}]
    names = sorted(matrix)
    return [
        dict(zip(names, values, strict=True))
        for values in itertools.product(*(matrix[n] for n in names))
    ]


def _check_fixed(
    doc: _Located,
    where: str,
    fixed: Mapping[str, Any],
    own: Mapping[str, Any],
    matrix: Mapping[str, Sequence[Any]],
    declared: Mapping[str, nbparams.Parameter],
    notebook: Path,
) -> None:
    """Check names and types of every parameter a run of this schedule will get."""

    def key_of(name: str) -> str:
        if name in matrix:
            return f"{where}.matrix.{name}"
        return f"{where}.parameters.{name}" if name in own else f"parameters.{name}"

    for name in RUNNER_PARAMETERS:
        if name not in declared:
            raise doc.error(
                where, f"{notebook.name} has no parameter {name!r}, which every scheduled run sets"
            )
    for name in [*fixed, *matrix]:
        if name in RUNNER_PARAMETERS:
            raise doc.error(key_of(name), "is set by the schedule's periods; do not set it here")
        if name not in declared:
            known = ", ".join(sorted(declared))
            raise doc.error(key_of(name), f"unknown parameter of {notebook.name} (it has: {known})")
    for name, value in fixed.items():
        problem = declared[name].check(value)
        if problem:
            raise doc.error(key_of(name), problem)
    for name, values in matrix.items():
        for value in values:
            problem = declared[name].check(value)
            if problem:
                raise doc.error(key_of(name), problem)
    given = {*fixed, *matrix, *RUNNER_PARAMETERS}
    for name, param in declared.items():
        if param.required and name not in given:
            raise doc.error(
                "parameters", f"missing parameter {name!r}, which {notebook.name} requires"
            )
