"""Where a figure came from: code version, data version, environment.

Everything here is cheap (hashing a few hundred kB of source, one ``git`` call), because the
runner computes it on every invocation to decide what is unchanged.
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from evaluation import __version__
from evaluation.paths import PACKAGE_DIR

KEY_PACKAGES = (
    "pandas",
    "numpy",
    "scipy",
    "statsmodels",
    "linearmodels",
    "lifelines",
    "plotly",
    "papermill",
    "nbconvert",
    "nbclient",
    "ipykernel",
    "pyarrow",
)
SOURCE_SUFFIXES = {".py", ".j2", ".json", ".yml", ".yaml", ".css", ".js"}


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def notebook_sha256(path: Path) -> str:
    """SHA-256 of a notebook's cells (source, type, tags), ignoring outputs and metadata noise.

    Saving a notebook in JupyterLab after a run changes execution counts and outputs but not
    what the notebook does, so that does not count as a change.
    """
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    cells = [
        [
            c.get("cell_type"),
            "".join(c.get("source", "")),
            sorted(c.get("metadata", {}).get("tags", [])),
        ]
        for c in nb.get("cells", [])
    ]
    return hashlib.sha256(json.dumps(cells, ensure_ascii=False).encode()).hexdigest()


@lru_cache(maxsize=4)
def source_fingerprint(package_dir: Path = PACKAGE_DIR) -> str:
    """Hash of the ``evaluation`` package's source (code, templates, catalogue files)."""
    digest = hashlib.sha256()
    for file in sorted(package_dir.rglob("*")):
        if file.is_file() and file.suffix in SOURCE_SUFFIXES and "__pycache__" not in file.parts:
            digest.update(file.relative_to(package_dir).as_posix().encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def git_state(root: Path) -> dict[str, Any]:
    """Commit of the working tree and whether it has uncommitted changes (``None`` outside git)."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            [
                "git",
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                "evaluation",
                "notebooks",
                "params",
            ],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": bool(dirty)}


def package_versions() -> dict[str, str]:
    """Versions of Python and the packages whose behaviour shapes the figures."""
    versions = {"python": platform.python_version(), "evaluation": __version__}
    for name in KEY_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def fingerprint(**inputs: Any) -> str:
    """Hash of a run's inputs; equal fingerprints mean the run would produce the same report."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()[:24]
