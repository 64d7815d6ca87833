"""The one place that defines where things live.

Every path the package uses is derived from two roots. The *project* holds what all
agencies share: ``notebooks/``, ``params/`` and the package; it is the folder that holds
``pyproject.toml``, and ``EVALUATION_HOME`` overrides it (tests use this to work in a
temporary copy without touching the real ``data/`` and ``reports/``). The *workspace* of an
agency holds its ``data/``, ``reports/`` and ``texte/``: in the single-agency layout it is
the project itself; with several agencies each has its own workspace
``agencies/<id>/`` (with an ``agency.yml``) below the project, see
:mod:`evaluation.agencies`. ``paths(agencies/<id>)`` finds the project by itself, so a
kernel whose ``EVALUATION_HOME`` names an agency's workspace reads the shared notebooks
and plan.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def _default_root() -> Path:
    env = os.environ.get("EVALUATION_HOME")
    if env:
        return Path(env).resolve()
    return PACKAGE_DIR.parent


#: The folder of the agencies' workspaces below the project, and each one's description.
AGENCIES_DIR = "agencies"
AGENCY_FILE = "agency.yml"


def project_of(root: Path) -> Path:
    """The project of the workspace ``root``: its grandparent for ``agencies/<id>``, else itself."""
    if root.parent.name == AGENCIES_DIR and (root / AGENCY_FILE).is_file():
        return root.parent.parent
    return root


@dataclass(frozen=True)
class Paths:
    """Folders and files of one workspace, all below ``root``.

    ``project`` is where the shared notebooks and plan live (the project root); it is
    derived from ``root`` when not given (``root`` itself unless ``root`` is an agency's
    workspace ``agencies/<id>/``).
    """

    root: Path
    project: Path | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.project is None:
            object.__setattr__(self, "project", project_of(self.root))

    @property
    def project_root(self) -> Path:
        """The project: shared notebooks, plan and package."""
        return self.project if self.project is not None else self.root

    @property
    def is_agency(self) -> bool:
        """Whether this is one agency's workspace below ``agencies/`` of a project."""
        return self.project_root != self.root

    @property
    def agencies(self) -> Path:
        """The agencies' workspaces (``agencies/<id>/``) of the project."""
        return self.project_root / AGENCIES_DIR

    def agency(self, agency_id: str) -> Paths:
        """The workspace of agency ``agency_id`` of this project (``""``: the project root)."""
        if not agency_id:
            return Paths(self.project_root)
        return Paths(self.agencies / agency_id, project=self.project_root)

    @property
    def agency_file(self) -> Path:
        """The agency's description (name, Träger, parameters) of an agency workspace."""
        return self.root / AGENCY_FILE

    @property
    def notebooks(self) -> Path:
        return self.project_root / "notebooks"

    @property
    def params(self) -> Path:
        return self.project_root / "params"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def raw(self) -> Path:
        """Read-only client exports (git-ignored)."""
        return self.data / "raw"

    @property
    def snapshots(self) -> Path:
        """Immutable, content-addressed data snapshots (git-ignored)."""
        return self.data / "snapshots"

    @property
    def quarantine(self) -> Path:
        """Rows that did not pass ingest, with their reasons (git-ignored)."""
        return self.data / "quarantine"

    @property
    def history(self) -> Path:
        """SQLite store of recorded headline figures and runs (git-ignored)."""
        return self.data / "history.sqlite"

    @property
    def reports(self) -> Path:
        """Generated notebooks, HTML reports and run manifests (git-ignored)."""
        return self.root / "reports"

    @property
    def adhoc(self) -> Path:
        """Runs with ``run -p KEY=VALUE`` overrides, kept apart from the scheduled reports."""
        return self.reports / "adhoc"

    @property
    def texts(self) -> Path:
        """The agency's own texts per year, ``texte/<Jahr>/<Abschnitt>.md`` (see ``texts``)."""
        return self.root / "texte"

    @property
    def state(self) -> Path:
        """Runner bookkeeping: locks, staging, commit journal, logs (git-ignored).

        Outside the published tree ``reports/``: staging holds a run's recorded figures
        before disclosure control has removed small values, so it must never be published.
        """
        return self.data / ".state"

    @property
    def staging(self) -> Path:
        """Private folders in which runs write their files before they are published."""
        return self.state / "staging"

    @property
    def locks(self) -> Path:
        """One lock file per run key, held while the run executes."""
        return self.state / "locks"

    @property
    def journal(self) -> Path:
        """Commit records: a run in here is being published (completed by the next call)."""
        return self.state / "commits"

    @property
    def logs(self) -> Path:
        """Kernel logs per run and one log file per runner invocation."""
        return self.state / "logs"


def paths(root: str | os.PathLike[str] | None = None) -> Paths:
    """Return the workspace paths, for ``root`` or the default project root."""
    return Paths(Path(root).resolve() if root is not None else _default_root())


def cache_dir() -> Path | None:
    """Folder for what the reports cache between processes (the parsed stylesheet):
    ``EVALUATION_CACHE_DIR`` (empty: no cache), else ``$XDG_CACHE_HOME/evaluation`` or
    ``~/.cache/evaluation``."""
    given = os.environ.get("EVALUATION_CACHE_DIR")
    if given is not None:
        return Path(given) if given.strip() else None
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "evaluation"
