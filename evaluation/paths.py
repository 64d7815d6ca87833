"""The one place that defines where things live.

Every path the package uses is derived from the project root. The root is the folder that
holds ``pyproject.toml``; ``EVALUATION_HOME`` overrides it (tests use this to work in a
temporary copy without touching the real ``data/`` and ``reports/``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def _default_root() -> Path:
    env = os.environ.get("EVALUATION_HOME")
    if env:
        return Path(env).resolve()
    return PACKAGE_DIR.parent


@dataclass(frozen=True)
class Paths:
    """Folders and files of one workspace, all below ``root``."""

    root: Path

    @property
    def notebooks(self) -> Path:
        return self.root / "notebooks"

    @property
    def params(self) -> Path:
        return self.root / "params"

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
