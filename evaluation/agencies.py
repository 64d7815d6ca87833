"""Agencies as a dimension of the project: one workspace per agency below ``agencies/``.

Layout::

    <project>/                    shared by all agencies
      notebooks/  params/  evaluation/
      agencies/
        <id>/                     one agency's workspace (``Paths(root=agencies/<id>)``)
          agency.yml              name, Träger, Förderkennzeichen, contact, parameters
          data/                   raw/, snapshots/, quarantine/, history.sqlite,
                                  release.sqlite, .state/ – exactly as the single layout
          reports/                the agency's published reports and its index.html
          texte/                  the agency's own texts for its reports
      reports/                    project level: the Träger overview

Without an ``agencies/`` folder the project root is "the" agency (the single-agency layout:
``data/`` and ``reports/`` at the root), which keeps working unchanged. An agency id is the
folder name: lower-case letters, digits and ``-``.

``agency.yml``::

    name: Integrationsagentur Demo 07        # required; the agency's name in reports
    traeger: Demo-Träger 07 e.V.             # optional facts for covers and the overview
    foerderkennzeichen: IA-2025-007          # -> parameter file_reference
    grant_authority: Bezirksregierung Arnsberg
    contact_name: Dana Beispiel              # also contact_phone, contact_email, place
    parameters:                              # override the plan's parameters for this
      grant_eur: 150000.0                    # agency's runs; only parameters that a
      staff_fte: 2.0                         # notebook of the plan declares, each applied
      suppression_threshold: 5               # to the notebooks that declare it

``parameters.agency`` defaults to ``name`` for every notebook that declares ``agency``, and
the facts fill the cover parameters (:data:`FACT_PARAMETERS`: ``traeger``,
``foerderkennzeichen`` as ``file_reference``, ``grant_authority``, ``contact_*``, ``place``)
of notebooks that declare them; ``parameters:`` wins over both. Checking the parameter names and types against the notebooks is
done by :func:`evaluation.plan.load_plan` (one line naming ``agency.yml``, its line and the
key).

Each agency has its own pseudonymisation key, outside every workspace (the ingest refuses a
key inside one): ``$EVALUATION_KEY_DIR/<id>.key``, default
``~/.config/evaluation/agencies/<id>.key``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import Any

import yaml

from evaluation.paths import AGENCIES_DIR, AGENCY_FILE, Paths, paths

#: Keys of ``agency.yml``.
AGENCY_KEYS = (
    "name",
    "traeger",
    "foerderkennzeichen",
    "grant_authority",
    "contact_name",
    "contact_phone",
    "contact_email",
    "place",
    "address",
    "description",
    "parameters",
)
#: Facts of ``agency.yml`` -> the notebook parameters they fill (cover page of the reports),
#: each passed on only to notebooks that declare that parameter.
FACT_PARAMETERS: dict[str, tuple[str, ...]] = {
    "traeger": ("traeger",),
    "foerderkennzeichen": ("file_reference", "foerderkennzeichen"),
    "grant_authority": ("grant_authority",),
    "contact_name": ("contact_name",),
    "contact_phone": ("contact_phone",),
    "contact_email": ("contact_email",),
    "place": ("place",),
}
KEY_DIR_ENV = "EVALUATION_KEY_DIR"
DEFAULT_KEY_DIR = Path("~/.config/evaluation/agencies")
_ID = re.compile(r"[a-z0-9][a-z0-9-]*")


class AgencyError(ValueError):
    """An ``agency.yml`` or an agency named on the command line is wrong; one line."""


@dataclass(frozen=True)
class Agency:
    """One agency: its id, its workspace and its ``agency.yml``.

    The root workspace of the single-agency layout is the agency with id ``""``.
    """

    id: str
    paths: Paths
    name: str = ""
    facts: Mapping[str, Any] = field(default_factory=dict)
    parameters: Mapping[str, Any] = field(default_factory=dict)
    source: Path | None = None
    lines: Mapping[str, int] = field(default_factory=dict)

    @property
    def is_root(self) -> bool:
        """Whether this is the project root as the one agency (single-agency layout)."""
        return not self.id

    def where(self, key: str) -> str:
        """``agency.yml:line`` of a key, for error messages."""
        line = self.lines.get(key)
        return f"{self.source}:{line}" if line else str(self.source)

    def run_parameters(self, declared: Mapping[str, Any]) -> dict[str, Any]:
        """The parameters this agency sets for a notebook that declares ``declared``.

        Explicit ``parameters:`` first; ``agency`` defaults to the name and the facts
        (:data:`FACT_PARAMETERS`) are passed on, each only where the notebook declares it.
        """
        out: dict[str, Any] = {}
        if self.is_root:
            return out
        if "agency" in declared and self.name:
            out["agency"] = self.name
        for fact, names in FACT_PARAMETERS.items():
            for name in names:
                if name in declared and self.facts.get(fact) is not None:
                    out[name] = str(self.facts[fact])
        out.update({k: v for k, v in self.parameters.items() if k in declared})
        return out


def root_agency(project: Paths) -> Agency:
    """The project root as the one agency of the single-agency layout."""
    return Agency(id="", paths=project)


def key_file(agency_id: str) -> Path:
    """The pseudonymisation key of an agency (outside every workspace)."""
    folder = Path(os.environ.get(KEY_DIR_ENV) or DEFAULT_KEY_DIR).expanduser()
    return folder / f"{agency_id}.key"


def _lines(node: yaml.Node | None) -> dict[str, int]:
    out: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            out[str(key.value)] = key.start_mark.line + 1
            if isinstance(value, yaml.MappingNode):
                for sub, _ in value.value:
                    out[f"{key.value}.{sub.value}"] = sub.start_mark.line + 1
    return out


def load_agency(folder: Path, project: Paths | None = None) -> Agency:
    """Read ``folder/agency.yml`` of one agency.

    Raises
    ------
    AgencyError
        The folder name is not an id, or ``agency.yml`` is missing, not valid YAML, has an
        unknown key, no name, or ``parameters`` that is not a mapping.
    """
    folder = Path(folder)
    project = project or paths(folder.parent.parent)
    source = folder / AGENCY_FILE
    if not _ID.fullmatch(folder.name):
        raise AgencyError(
            f"{folder}: Ordnername ist keine Agentur-Kennung (Kleinbuchstaben, Ziffern und -)"
        )
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise AgencyError(f"{source}: nicht lesbar ({exc.strerror or exc})") from None
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else str(source)
        raise AgencyError(f"{where}: kein gültiges YAML: {getattr(exc, 'problem', exc)}") from None
    lines = _lines(node)
    if not isinstance(data, dict):
        raise AgencyError(f"{source}: erwartet wird eine Zuordnung mit name, traeger, parameters")
    for key in data:
        if key not in AGENCY_KEYS:
            where = f"{source}:{lines.get(str(key), '')}".rstrip(":")
            raise AgencyError(
                f"{where}: {key}: unbekannter Schlüssel (erlaubt: {', '.join(AGENCY_KEYS)})"
            )
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise AgencyError(f"{source}: name: fehlt – der Name der Agentur, wie ihn Berichte zeigen")
    parameters = data.get("parameters") or {}
    if not isinstance(parameters, dict):
        where = f"{source}:{lines.get('parameters', '')}".rstrip(":")
        raise AgencyError(f"{where}: parameters: erwartet wird eine Zuordnung Name: Wert")
    facts = {k: data[k] for k in AGENCY_KEYS if k not in ("name", "parameters") and k in data}
    return Agency(
        id=folder.name,
        paths=Paths(folder.resolve(), project=project.project_root),
        name=name.strip(),
        facts=facts,
        parameters=parameters,
        source=source,
        lines=lines,
    )


def discover(project: Paths | None = None) -> list[Agency]:
    """Every agency below ``agencies/`` of the project, by id (none without the folder).

    Folders without an ``agency.yml`` are not agencies and are left out.
    """
    p = project or paths()
    folder = p.project_root / AGENCIES_DIR
    if not folder.is_dir():
        return []
    return [
        load_agency(child, p)
        for child in sorted(folder.iterdir())
        if child.is_dir() and (child / AGENCY_FILE).is_file()
    ]


@dataclass(frozen=True)
class Listed:
    """A folder below ``agencies/``: the agency, or why it is none (``problem``, one line)."""

    folder: Path
    agency: Agency | None
    problem: str = ""

    def reason(self, project: Paths) -> str:
        """``problem`` with paths relative to the project (for a page)."""
        return self.problem.replace(f"{project.project_root}/", "")


def survey(project: Paths | None = None) -> list[Listed]:
    """Every folder below ``agencies/``, by name: its agency, or the one-line reason it is none.

    Unlike :func:`discover`, never raises for one agency: a folder without ``agency.yml``
    or with a broken one is listed with the reason (what a project-level page shows, so
    that no agency is left out silently). Hidden folders (``.name``) and files are skipped.
    """
    p = project or paths()
    folder = p.project_root / AGENCIES_DIR
    if not folder.is_dir():
        return []
    out: list[Listed] = []
    for child in sorted(folder.iterdir()):
        if child.name.startswith(".") or not child.is_dir():
            continue
        if not (child / AGENCY_FILE).is_file():
            out.append(Listed(child, None, f"{child / AGENCY_FILE}: fehlt"))
            continue
        try:
            out.append(Listed(child, load_agency(child, p)))
        except AgencyError as exc:
            out.append(Listed(child, None, " ".join(str(exc).split())))
    return out


def uses_root(project: Paths) -> bool:
    """Whether calls without ``--agency`` mean the project root (the single-agency layout).

    The root is "the" agency when there is no ``agencies/`` folder with an agency in it, or
    when the root has data of its own (``data/snapshots/LATEST``) – so adding a first agency
    beside an existing single-agency workspace changes nothing until it is asked for.
    """
    return (project.snapshots / "LATEST").exists() or not discover(project)


def select(
    project: Paths | None = None,
    ids: Sequence[str] | None = None,
    *,
    all_agencies: bool = False,
) -> list[Agency]:
    """The agencies a command works on.

    Parameters
    ----------
    ids
        ``--agency ID`` (repeatable): these agencies, in the order given.
    all_agencies
        ``--all-agencies``: every agency below ``agencies/``.

    Without either: the project root as the one agency (single-agency layout, see
    :func:`uses_root`), else every agency below ``agencies/``.

    Raises
    ------
    AgencyError
        An unknown id (with the closest one and the list), both options at once, or
        ``--all-agencies`` without any agency.
    """
    p = project or paths()
    if ids and all_agencies:
        raise AgencyError("--agency und --all-agencies schließen einander aus")
    if not ids and not all_agencies:
        return [root_agency(p)] if uses_root(p) else discover(p)
    if all_agencies:
        found = {a.id: a for a in discover(p)}
        if not found:
            raise AgencyError(
                f"--all-agencies: keine Agentur in {p.project_root / AGENCIES_DIR} "
                "(je Agentur ein Ordner mit agency.yml; python -m evaluation demo --agencies 3 "
                "legt Demo-Agenturen an)"
            )
        return list(found.values())
    # only the named agencies must load: a broken agency.yml elsewhere does not stop them
    listed = {item.folder.name: item for item in survey(p)}
    out: list[Agency] = []
    for agency_id in ids or ():
        item = listed.get(agency_id)
        if item is None or (item.agency is None and not (item.folder / AGENCY_FILE).exists()):
            known_ids = [i for i, x in listed.items() if x.agency is not None]
            close = get_close_matches(agency_id, known_ids, n=1)
            hint = f" – meinten Sie {close[0]!r}?" if close else ""
            known = ", ".join(known_ids) or "keine"
            raise AgencyError(
                f"--agency {agency_id}: keine solche Agentur{hint} (Agenturen: {known})"
            )
        if item.agency is None:
            raise AgencyError(item.problem)
        if item.agency not in out:
            out.append(item.agency)
    return out


def write_agency_file(folder: Path, facts: Mapping[str, Any]) -> Path:
    """Write ``agency.yml`` of a new agency (used by the demo); return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / AGENCY_FILE
    target.write_text(
        yaml.safe_dump(dict(facts), allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    return target


# ---- demo agencies ----------------------------------------------------------------------

DEMO_MIN, DEMO_MAX = 300, 3000


def demo_facts(index: int) -> dict[str, Any]:
    """Facts and size of demo agency ``index`` (1, 2, ...): the same for the same index.

    The size (persons) is drawn log-uniformly between :data:`DEMO_MIN` and :data:`DEMO_MAX`
    from a generator seeded with the index alone, so agency 07 is the same agency whatever
    the number of agencies created.
    """
    import numpy as np

    from evaluation import demo

    rng = np.random.default_rng([demo.SEED, index])
    persons = int(round(10 ** rng.uniform(np.log10(DEMO_MIN), np.log10(DEMO_MAX)), -1))
    return {
        "id": f"demo-{index:02d}",
        "seed": demo.SEED + index,
        "participants": persons,
        "yml": {
            "name": f"Integrationsagentur Demo {index:02d}",
            "traeger": f"Demo-Träger {index:02d} e.V.",
            "foerderkennzeichen": f"Demo: 36.08.01-IA-2025-{index:03d}",
            "grant_authority": "Bezirksregierung Arnsberg – Kompetenzzentrum für Integration (Demo)",
            "contact_name": f"Leitung Demo {index:02d}",
            "contact_phone": f"+49 000 000000-{index:02d} (Demo)",
            "contact_email": f"kontakt@demo-{index:02d}.example",
            "place": "Demo-Stadt",
            "description": f"Synthetische Demo-Agentur mit {persons} Personen (Seed {demo.SEED + index})",
            "parameters": {
                "grant_eur": float(round(60_000 + 60 * persons, -3)),
                "staff_fte": round(max(1.0, persons / 800), 1),
            },
        },
    }


def create_demo(
    count: int,
    *,
    project: Paths | None = None,
    force: bool = False,
    out: Any = None,
) -> list[Agency]:
    """Create ``count`` synthetic demo agencies ``agencies/demo-01`` … of different sizes.

    Each gets its ``agency.yml``, the demo exports of its own size and seed in
    ``data/raw/demo/``, ingested like real data with its own pseudonymisation key
    (:func:`key_file`) into its own snapshot, and the demo texts. An agency that already
    has a snapshot is left as it is (unless ``force``).

    Parameters
    ----------
    out
        Where to print one line per agency (default: nowhere).
    """
    from evaluation import demo, texts
    from evaluation.demo_exports import write_demo_exports
    from evaluation.ingest import ingest

    if count < 1:
        raise AgencyError(f"--agencies {count}: mindestens 1 Agentur")
    p = project or paths()
    made: list[Agency] = []
    for index in range(1, count + 1):
        facts = demo_facts(index)
        folder = p.project_root / AGENCIES_DIR / facts["id"]
        agency_paths = Paths(folder, project=p.project_root)
        if (agency_paths.snapshots / "LATEST").exists() and not force:
            made.append(load_agency(folder, p))
            if out is not None:
                print(f"{facts['id']}: vorhanden ({agency_paths.snapshots})", file=out)
            continue
        write_agency_file(folder, facts["yml"])
        raw = agency_paths.raw / "demo"
        write_demo_exports(raw, seed=facts["seed"], participants=facts["participants"])
        result = ingest(
            [raw], root=agency_paths, key_file=key_file(facts["id"]), new_key=force, language="de"
        )
        texts.write_demo(range(2019, demo.as_of().year + 1), root=agency_paths)
        agency = load_agency(folder, p)
        made.append(agency)
        if out is not None and result.snapshot is not None:
            print(
                f"{agency.id}: {agency.name}, {facts['participants']} Personen, "
                f"Datenstand {result.snapshot.id}",
                file=out,
            )
    return made
