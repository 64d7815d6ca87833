"""Raw exports, snapshots, quarantine files and keys never enter git."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PROTECTED = [
    "data/raw/Teilnehmende.csv",
    "data/raw/demo/Anerkennung_Elternarbeit.xlsx",
    "data/snapshots/LATEST",
    "data/snapshots/0123456789abcdef/participants.parquet",
    "data/snapshots/0123456789abcdef/manifest.json",
    "data/quarantine/0123456789abcdef.csv",
    "pseudonym.key",
]

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)


def test_git_add_does_not_pick_up_client_data(tmp_path):
    gitignore = REPO / ".gitignore"
    assert gitignore.exists(), "the repository needs a .gitignore"
    assert _git(tmp_path, "init", "-q").returncode == 0
    shutil.copy(gitignore, tmp_path / ".gitignore")
    for name in [*PROTECTED, "evaluation/module.py"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    added = _git(tmp_path, "add", "--dry-run", "--all").stdout
    assert "evaluation/module.py" in added  # the check itself works
    for name in PROTECTED:
        assert name not in added, f"git add would pick up {name}"


def test_the_repository_itself_ignores_them():
    if _git(REPO, "rev-parse", "--git-dir").returncode != 0:
        pytest.skip("not a git checkout")
    for name in PROTECTED:
        assert _git(REPO, "check-ignore", "-q", "--no-index", name).returncode == 0, name
