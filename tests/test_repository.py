"""Repository hygiene: lint and format, clean notebooks, nothing private tracked."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from evaluation import nbparams
from evaluation.plan import RUNNER_PARAMETERS

REPO = Path(__file__).resolve().parents[1]
STANDARD_PARAMETERS = {
    *RUNNER_PARAMETERS,
    "agency",
    "snapshot",
    "language",
    "suppression_threshold",
}


def ruff(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if exe is None:
        pytest.fail("ruff is not installed (it is a test dependency)")
    return subprocess.run([exe, *args], cwd=REPO, capture_output=True, text=True)


def test_ruff_lint_passes_on_code_and_notebooks():
    result = ruff("check", ".")
    assert result.returncode == 0, result.stdout[-3000:]


def test_ruff_format_is_applied():
    result = ruff("format", "--check", ".")
    assert result.returncode == 0, result.stdout[-3000:]


def notebooks() -> list[Path]:
    return sorted((REPO / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path: Path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    dirty = [
        i
        for i, c in enumerate(nb["cells"])
        if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))
    ]
    assert not dirty, f"cells {dirty} have outputs: run `make strip`"


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.name)
def test_notebook_takes_the_standard_parameters_and_is_scheduled(path: Path):
    declared = nbparams.inspect(path)
    assert set(declared) >= STANDARD_PARAMETERS, f"missing {STANDARD_PARAMETERS - set(declared)}"
    scheduled = [
        p for p in (REPO / "params").glob("*.yml") if f"notebook: {path.name}" in p.read_text()
    ]
    assert scheduled, f"{path.name} is in no params/*.yml"


def test_git_would_not_pick_up_client_data_or_outputs():
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    probes = [
        "data/raw/export.csv",
        "data/snapshots/abc/participants.parquet",
        "data/quarantine/x.csv",
        "data/history.sqlite",
        "reports/index.html",
        "pseudonym.key",
        ".env",
    ]
    result = subprocess.run(
        ["git", "check-ignore", "--no-index", *probes], cwd=REPO, capture_output=True, text=True
    )
    assert sorted(result.stdout.split()) == sorted(probes)


RETURNING_DISPLAY = {"indicator_table", "counts_table", "protect"}


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.name)
def test_no_cell_shows_a_table_twice(path: Path):
    """A cell ending in ``ctx.indicator_table(...)`` would show the returned table a second time."""
    import ast

    nb = json.loads(path.read_text(encoding="utf-8"))
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        body = ast.parse("".join(cell["source"])).body
        last = body[-1] if body else None
        if isinstance(last, ast.Expr) and isinstance(last.value, ast.Call):
            func = last.value.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            assert name not in RETURNING_DISPLAY, (
                f"cell {i} ends with {name}(...): assign its result"
            )
