"""Warm kernels: the same results as fresh kernels, and nothing carried from run to run."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import nbformat
import papermill as pm
import pytest

from evaluation import engines
from tests.conftest import make_probe_notebook

pytestmark = pytest.mark.slow

RUN_ENV = (
    "EVALUATION_RUN_ID",
    "EVALUATION_RUN_DIR",
    "EVALUATION_REPORT_MODE",
    "EVALUATION_RUN_KEY",
    "EVALUATION_EXTRA",
)


@pytest.fixture(autouse=True)
def clean_pool(monkeypatch: pytest.MonkeyPatch):
    """Every test starts without a warm kernel and leaves none behind."""
    for key in RUN_ENV:
        monkeypatch.delenv(key, raising=False)
    engines.new_pool(max_runs=engines.DEFAULT_MAX_RUNS, max_rss_mb=engines.DEFAULT_MAX_RSS_MB)
    yield
    engines.new_pool(max_runs=engines.DEFAULT_MAX_RUNS, max_rss_mb=engines.DEFAULT_MAX_RSS_MB)


def small_pool(**limits: Any) -> engines.KernelPool:
    """A pool whose kernels preload little (fast to start) for the isolation tests."""
    return engines.new_pool(preload=("os", "pandas", "evaluation.protection.guard"), **limits)


def notebook(path: Path, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)
    return path


def run(
    source: Path,
    out: Path,
    *,
    engine: str | None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    parameters: dict[str, Any] | None = None,
    **kwargs: Any,
) -> nbformat.NotebookNode:
    """One papermill run with the runner's settings and environment variables."""
    saved = {k: os.environ.get(k) for k in RUN_ENV}
    for key in RUN_ENV:
        os.environ.pop(key, None)
    os.environ.update(env or {})
    try:
        return engines.execute_notebook(
            source,
            out,
            engine_name=engine,
            parameters=parameters or {},
            kernel_name="python3",
            cwd=str(cwd or source.parent),
            progress_bar=False,
            report_mode=True,
            request_save_on_cell_execute=False,
            shutdown_kernel="immediate",
            **kwargs,
        )
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def cells(nb: nbformat.NotebookNode) -> list[dict[str, Any]]:
    """The executed cells without execution metadata (timings, papermill status)."""
    return [
        {
            "type": c.cell_type,
            "source": c.source,
            "count": c.get("execution_count"),
            "outputs": json.loads(json.dumps(c.get("outputs", []))),
        }
        for c in nb.cells
    ]


def stdout(nb: nbformat.NotebookNode, index: int) -> str:
    return "".join(o.get("text", "") for o in nb.cells[index].outputs if o.output_type == "stream")


def test_warm_and_cold_runs_give_the_same_cells_and_figures(probe_workspace, tmp_path):
    source = make_probe_notebook(tmp_path / "probe.ipynb")
    results = {}
    # cold, then warm twice: the second warm run reuses the kernel of the first
    for label, engine, year in [
        ("cold", None, "2023"),
        ("warm-first", "warm", "2022"),
        ("warm", "warm", "2023"),
        ("cold-2022", None, "2022"),
    ]:
        run_dir = tmp_path / label
        run_dir.mkdir()
        env = {
            "EVALUATION_RUN_ID": "r-" + year,
            "EVALUATION_RUN_DIR": str(run_dir),
            "EVALUATION_REPORT_MODE": "1",
            "EVALUATION_RUN_KEY": "probe/jahr/" + year,
        }
        nb = run(
            source,
            tmp_path / f"{label}.ipynb",
            engine=engine,
            env=env,
            parameters={"period_start": f"{year}-01-01", "period_end": f"{year}-12-31"},
        )
        figures = json.loads((run_dir / "figures.json").read_text(encoding="utf-8"))
        results[label] = (cells(nb), figures)
    assert engines.pool().started == 1 and engines.pool().kernel.runs == 2
    assert results["warm"] == results["cold"]
    assert results["warm-first"] == results["cold-2022"]
    # the comparison can fail: the two years differ in their figures
    assert results["warm"][1] != results["warm-first"][1]
    assert any(o["output_type"] == "display_data" for c in results["warm"][0] for o in c["outputs"])


def test_a_run_does_not_see_the_previous_runs_variables_environment_or_folder(tmp_path):
    pool = small_pool()
    first_dir, second_dir = tmp_path / "a", tmp_path / "b"
    first_dir.mkdir()
    second_dir.mkdir()
    first = notebook(
        first_dir / "first.ipynb",
        "secret = 42\nimport os\nos.environ['EVALUATION_EXTRA'] = 'from run 1'",
        "import os\nprint(os.environ['EVALUATION_RUN_ID'], os.getcwd())",
    )
    second = notebook(
        second_dir / "second.ipynb",
        "print('secret' in dir(), 'os' in dir())",
        "import os\nprint(os.environ.get('EVALUATION_RUN_ID'), os.environ.get('EVALUATION_EXTRA'),"
        " os.environ.get('EVALUATION_RUN_KEY'))",
        "print(os.getcwd())",
    )
    one = run(first, tmp_path / "1.ipynb", engine="warm", env={"EVALUATION_RUN_ID": "run-1"})
    assert stdout(one, 1).split() == ["run-1", str(first_dir)]
    two = run(
        second,
        tmp_path / "2.ipynb",
        engine="warm",
        env={"EVALUATION_RUN_ID": "run-2", "EVALUATION_RUN_KEY": "k/2"},
    )
    assert pool.started == 1, "the second run must have used the same (warm) kernel"
    assert stdout(two, 0).split() == ["False", "False"]
    assert stdout(two, 1).split() == ["run-2", "None", "k/2"]
    assert stdout(two, 2).strip() == str(second_dir)
    assert two.cells[0].execution_count == 1


def test_the_guard_of_one_run_does_not_hide_tables_in_the_next(tmp_path):
    pool = small_pool()
    show = "import pandas as pd\npd.DataFrame({'a': [1, 2]})"
    guarded = notebook(
        tmp_path / "guarded.ipynb",
        "from evaluation.protection.guard import guard_dataframes\nguard_dataframes(True)",
        show,
    )
    plain = notebook(tmp_path / "plain.ipynb", show)
    one = run(guarded, tmp_path / "1.ipynb", engine="warm")
    assert "<table" not in json.dumps(one.cells[1].outputs), "the guard did not act"
    two = run(plain, tmp_path / "2.ipynb", engine="warm")
    assert pool.started == 1
    assert "<table" in json.dumps(two.cells[0].outputs)


def test_a_failed_run_replaces_the_kernel_and_the_next_run_succeeds(tmp_path):
    pool = small_pool()
    broken = notebook(tmp_path / "broken.ipynb", "leftover = 1", "raise ValueError('planted')")
    fine = notebook(tmp_path / "fine.ipynb", "print('leftover' in dir())")
    with pytest.raises(pm.PapermillExecutionError, match="planted"):
        run(broken, tmp_path / "1.ipynb", engine="warm")
    assert pool.retired == ["failed"] and pool.kernel is None
    nb = run(fine, tmp_path / "2.ipynb", engine="warm")
    assert stdout(nb, 0).strip() == "False"
    assert pool.started == 2


def test_a_dead_kernel_and_a_timeout_are_replaced(tmp_path):
    pool = small_pool()
    dies = notebook(tmp_path / "dies.ipynb", "import os\nos._exit(3)")
    slow = notebook(tmp_path / "slow.ipynb", "import time\ntime.sleep(60)")
    fine = notebook(tmp_path / "fine.ipynb", "print('ok')")
    with pytest.raises(Exception, match="(?i)dead|died|kernel"):
        run(dies, tmp_path / "1.ipynb", engine="warm")
    assert pool.retired == ["failed"]
    with pytest.raises(Exception, match="(?i)timeout|timed out"):
        run(slow, tmp_path / "2.ipynb", engine="warm", execution_timeout=2)
    assert pool.retired == ["failed", "failed"]
    assert stdout(run(fine, tmp_path / "3.ipynb", engine="warm"), 0).strip() == "ok"
    assert pool.started == 3


def test_a_kernel_that_dies_while_starting_is_started_again(tmp_path, monkeypatch):
    """E.g. its port was taken between being chosen and bound (seen with two plans at once)."""
    from jupyter_client.manager import AsyncKernelManager

    original = AsyncKernelManager.start_kernel
    calls = []

    async def start_kernel(self, **kwargs):
        calls.append(1)
        if len(calls) == 1:  # the first kernel exits before it answers
            kwargs["extra_arguments"] = [
                *kwargs.get("extra_arguments", []),
                "--IPKernelApp.exec_lines=['import os; os._exit(7)']",
            ]
        return await original(self, **kwargs)

    monkeypatch.setattr(AsyncKernelManager, "start_kernel", start_kernel)
    pool = small_pool()
    fine = notebook(tmp_path / "fine.ipynb", "print('ok')")
    assert stdout(run(fine, tmp_path / "1.ipynb", engine="warm"), 0).strip() == "ok"
    assert len(calls) == 2 and pool.started == 2
    assert pool.retired and pool.retired[0].startswith("start failed, tried again")


def test_a_kernel_that_never_starts_fails_its_run_after_the_attempts(tmp_path, monkeypatch):
    from jupyter_client.manager import AsyncKernelManager

    original = AsyncKernelManager.start_kernel

    async def start_kernel(self, **kwargs):
        kwargs["extra_arguments"] = [
            *kwargs.get("extra_arguments", []),
            "--IPKernelApp.exec_lines=['import os; os._exit(7)']",
        ]
        return await original(self, **kwargs)

    monkeypatch.setattr(AsyncKernelManager, "start_kernel", start_kernel)
    pool = small_pool()
    fine = notebook(tmp_path / "fine.ipynb", "print('ok')")
    with pytest.raises(engines.KernelStartError, match="did not start"):
        run(fine, tmp_path / "1.ipynb", engine="warm")
    assert pool.started == engines.START_ATTEMPTS


def test_a_kernel_is_replaced_after_max_runs_and_past_the_memory_limit(tmp_path):
    pool = small_pool(max_runs=2)
    fine = notebook(tmp_path / "fine.ipynb", "import os\nprint(os.getpid())")
    pids = [stdout(run(fine, tmp_path / f"{i}.ipynb", engine="warm"), 0) for i in range(3)]
    assert pids[0] == pids[1] != pids[2]
    assert pool.retired == ["runs"]
    pool = small_pool(max_rss_mb=1)
    pids = [stdout(run(fine, tmp_path / f"m{i}.ipynb", engine="warm"), 0) for i in range(2)]
    assert pids[0] != pids[1]
    assert pool.retired == ["memory", "memory"]


def test_limits_from_the_environment_and_a_bad_value(monkeypatch):
    monkeypatch.setenv(engines.ENV_MAX_RUNS, "7")
    monkeypatch.setenv(engines.ENV_MAX_RSS_MB, "300")
    pool = engines.new_pool()
    assert (pool.max_runs, pool.max_rss_mb) == (7, 300)
    monkeypatch.setenv(engines.ENV_MAX_RUNS, "viele")
    with pytest.raises(ValueError, match="EVALUATION_WARM_MAX_RUNS='viele'"):
        engines.new_pool()


def test_the_engine_is_registered_with_papermill():
    assert pm.engines.papermill_engines.get_engine("warm") is engines.WarmEngine


def published_cells(ws) -> dict[str, list[dict[str, Any]]]:
    return {
        p.parent.relative_to(ws.reports).as_posix(): cells(nbformat.read(p, as_version=4))
        for p in sorted(ws.reports.rglob("notebook.ipynb"))
    }


def recorded(ws) -> list[dict[str, Any]]:
    """The history's figures (suppressed values as None, so that they compare equal)."""
    from evaluation import history

    frame = history.read(db=ws.history)
    columns = ["indicator_id", "period", "value", "n", "suppressed"]
    columns = [c for c in columns if c in frame.columns]
    frame = frame[columns].sort_values(columns[:2]).astype(object)
    return frame.where(frame.notna(), None).to_dict("records")


def test_the_runner_on_warm_kernels_publishes_what_it_publishes_on_fresh_ones(
    probe_workspace, tmp_path
):
    import io
    import shutil
    from datetime import date

    from evaluation.execute import execute
    from evaluation.paths import paths
    from evaluation.runner import run_plan
    from tests.conftest import set_probe_failure

    cold_ws = paths(tmp_path / "cold")
    shutil.copytree(probe_workspace.root, cold_ws.root)
    for ws in (probe_workspace, cold_ws):
        set_probe_failure(ws, "2023-01-01")  # one failing run in the middle
    today = date(2026, 11, 24)
    warm = run_plan(
        root=probe_workspace, today=today, out=io.StringIO(), jobs=1, executor=engines.execute_warm
    )
    cold = run_plan(root=cold_ws, today=today, out=io.StringIO(), jobs=1, executor=execute)
    status = sorted((o.run_key, o.status) for o in warm.outcomes)
    assert status == sorted((o.run_key, o.status) for o in cold.outcomes)
    assert [s for _, s in status].count("ok") == 2 and [s for _, s in status].count("failed") == 1
    assert published_cells(probe_workspace) == published_cells(cold_ws)
    assert len(published_cells(probe_workspace)) == 2
    assert recorded(probe_workspace) == recorded(cold_ws) != []
    reports = sorted(probe_workspace.reports.rglob("report.html"))
    assert len(reports) == 2
