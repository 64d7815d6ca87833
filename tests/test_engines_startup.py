"""Start-up and shut-down of warm workers: what the first run pays, what the last one waits for."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from evaluation import engines
from evaluation.execute import Outcome
from evaluation.runner import run_plan

pytestmark = pytest.mark.slow

IRI_CHECK = """
import sys
import evaluation.engines
print(type(sys.modules["rfc3987_syntax"]).__name__)
from jsonschema import Draft7Validator
v = Draft7Validator({"format": "iri"}, format_checker=Draft7Validator.FORMAT_CHECKER)
print(v.is_valid("https://example.org/straße"), v.is_valid("https://exa mple.org/"))
print(type(sys.modules["rfc3987_syntax"]).__name__)
"""


def test_the_iri_checker_is_loaded_on_first_use_with_the_same_answers():
    """Importing the engine (as a worker does before papermill) defers the 2-second import;
    jsonschema's ``iri`` checks still give the real module's answers, which is then loaded."""
    pytest.importorskip("rfc3987_syntax")
    done = subprocess.run(
        [sys.executable, "-c", IRI_CHECK], capture_output=True, text=True, check=True
    )
    before, answers, after = done.stdout.split("\n")[:3]
    assert before == "_DeferredModule"
    assert answers == "True False"
    assert after == "module"
    # and the real module, imported directly, says the same
    from rfc3987_syntax import is_valid_syntax

    assert is_valid_syntax("iri", "https://example.org/straße")
    assert not is_valid_syntax("iri", "https://exa mple.org/")


def test_a_warm_kernel_does_not_import_the_iri_checker(tmp_path: Path):
    pytest.importorskip("rfc3987_syntax")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import sys, nbformat, jsonschema\nprint(type(sys.modules['rfc3987_syntax']).__name__)"
        )
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, tmp_path / "check.ipynb")
    engines.new_pool(preload=("os", "plotly.io"))
    try:
        out = engines.execute_notebook(
            tmp_path / "check.ipynb",
            tmp_path / "out.ipynb",
            kernel_name="python3",
            progress_bar=False,
            request_save_on_cell_execute=False,
        )
    finally:
        engines.new_pool()
    assert out.cells[0].outputs[0]["text"].strip() == "_DeferredModule"


def test_defer_slow_imports_leaves_an_imported_module_alone(monkeypatch: pytest.MonkeyPatch):
    real = object()
    monkeypatch.setitem(sys.modules, engines.LAZY_MODULE, real)
    assert engines.defer_slow_imports() is False
    assert sys.modules[engines.LAZY_MODULE] is real


# ---- the runner ends an idle worker at once --------------------------------------------

LONG = "probe/jahr/2022"


def _ended(pid: int) -> bool:
    """Whether the process has exited (gone, or a zombie not yet reaped by the runner)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def wait_for_idle_worker(job):
    """Executor: the long run waits until the worker that ran the other two has exited (at
    most 60 s); the others record their worker's process id and succeed at once."""
    folder = Path(job.root) / "worker-pids"
    folder.mkdir(exist_ok=True)
    if job.run_key != LONG:
        (folder / job.run_key.replace("/", "_")).write_text(str(os.getpid()))
        return Outcome(job.run_key, "ok", 0.01)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pids = {int(p.read_text()) for p in folder.iterdir()} - {os.getpid()}
        if len(list(folder.iterdir())) == 2 and pids and all(_ended(pid) for pid in pids):
            return Outcome(job.run_key, "ok", 0.01)
        time.sleep(0.1)
    return Outcome(job.run_key, "failed", error={"summary": "the idle worker still runs"})


def test_an_idle_worker_ends_while_the_last_runs_still_run(probe_workspace):
    """With nothing left to hand out, a worker shuts down (its kernel and browser with it)
    at once instead of after the last run: the long run sees it gone."""
    out = io.StringIO()
    summary = run_plan(
        root=probe_workspace, jobs=2, force=True, executor=wait_for_idle_worker, out=out
    )
    statuses = {o.run_key: o.status for o in summary.outcomes}
    assert statuses == dict.fromkeys(
        ["probe/jahr/2022", "probe/jahr/2023", "probe/jahr/2024"], "ok"
    ), out.getvalue()
