"""Runs on workers without the workspace: a bundle out, a result back, one publisher here."""

from __future__ import annotations

import json
import shutil
import textwrap
from dataclasses import replace
from datetime import date

import nbformat
import pytest

from evaluation import history
from evaluation.execute import Outcome
from evaluation.paths import Paths
from evaluation.plan import load_plan
from evaluation.protection import release as store
from evaluation.protection.model import Cell
from evaluation.protection.solver import audit
from evaluation.remote import (
    Bundle,
    WorkerMismatch,
    execute_remote,
    pack,
    publish_result,
    run_bundle,
)
from evaluation.runner import environment, prepare
from tests.conftest import PROBE_PARAMETERS

TODAY = date(2026, 11, 24)

LINKED_BODY = """
import pandas as pd
from evaluation.notebook import start

ctx = start(period_start=period_start, period_end=period_end, agency=agency, snapshot=snapshot,
            language=language, suppression_threshold=suppression_threshold)
ids = sorted(ctx.table("participants")["person_id"].astype(str))[:10]
take = ids if part == "alle" else ids[:7]
label = "Gruppe A" if part == "alle" else "Teilgruppe"
counts = pd.DataFrame({"Anzahl": [len(take)]}, index=[label])
units = pd.DataFrame({"unit": ["person:" + i for i in take], "row": label,
                      "column": "Anzahl", "n": True})
shown = ctx.counts_table(counts, caption="Probe " + part, margins=False, units=units)
ctx.record("linked_" + part, len(take), n=len(take))
"""

LINKED_PLAN = """
notebook: linked.ipynb
title: Verknüpft
field: Testfeld
parameters:
  agency: Testagentur
schedules:
  - name: jahr
    cadence: yearly
    start: 2024
    end: 2024
    matrix:
      part: [alle, teil]
"""


@pytest.fixture
def linked_workspace(probe_workspace: Paths) -> Paths:
    """Two runs whose tables are safe alone and disclose three persons together."""
    ws = probe_workspace
    nb = nbformat.v4.new_notebook()
    parameters = PROBE_PARAMETERS.replace(
        'fail_in: str = ""  # period_start of the run that raises',
        'part: str = "alle"  # which table',
    )
    nb.cells = [
        nbformat.v4.new_code_cell(parameters.strip(), metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(LINKED_BODY.strip()),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, ws.notebooks / "linked.ipynb")
    (ws.params / "probe.yml").unlink()
    (ws.params / "linked.yml").write_text(textwrap.dedent(LINKED_PLAN).lstrip())
    return ws


def jobs_of(ws: Paths):
    env = environment(ws)
    return {
        run.matrix.get("part", run.key): prepare(run, ws, env=env)
        for run in load_plan(None, root=ws, today=TODAY)
    }


def local(bundle: Bundle) -> object:
    """A worker in this process, on a fresh kernel."""
    return run_bundle(bundle, warm=False)


def shown_cells(ws: Paths, run_key: str) -> dict[str, bool]:
    """Shown state of the run's committed cells in the release store."""
    rows = store.export_run(
        json.loads((ws.reports / run_key / "manifest.json").read_text())["run_id"], ws
    )
    assert not rows.get("cells"), "committed cells are not exported as staged"
    with store._connect(store.store_path(ws)) as con:
        return {
            tab: bool(shown)
            for tab, shown in con.execute(
                "SELECT tab, shown FROM cells WHERE run_key = ? AND status = 'committed'",
                (run_key,),
            )
        }


# --------------------------------------------------------------------------------------------
# The store rows of one run
# --------------------------------------------------------------------------------------------


def test_a_runs_rows_move_between_stores_and_stay_staged(tmp_path) -> None:
    here, there = Paths(tmp_path / "here"), Paths(tmp_path / "there")
    units = frozenset(f"person:{i}" for i in range(6))
    publisher = store.Publisher("r1", "k/1", 5, path=store.store_path(there))
    added, result = publisher.release([Cell("t", ("a",), 6, units)], {})
    assert added == [] and result.passed
    rows = store.export_run("r1", there)
    assert [r[3] for r in rows["cells"]] == ["t"] and rows["runs"] == [("r1", 5)]
    store.import_run("r1", rows, here)
    assert store.export_run("r1", here)["cells"] == rows["cells"]
    store.import_run("r1", rows, here)  # again: replaced, not doubled
    assert len(store.export_run("r1", here)["cells"]) == 1
    with pytest.raises(ValueError, match="another run"):
        store.import_run("r2", rows, here)
    assert store.summary(here) == {"shown": 0, "hidden": 0}  # staged, nothing published
    store.commit_run(run_key="k/1", run_id="r1", root=here)
    assert store.summary(here) == {"shown": 1, "hidden": 0}


# --------------------------------------------------------------------------------------------
# A worker that has nothing of the workspace
# --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_run_executes_without_the_workspace_and_is_published_here(
    linked_workspace: Paths, tmp_path
) -> None:
    ws = linked_workspace
    job = jobs_of(ws)["alle"]
    bundle = pack(job)
    assert {"notebooks/linked.ipynb", "data/snapshots/LATEST"} <= set(bundle.files)
    assert any(
        name.startswith("data/snapshots/" + job.manifest["data"]["snapshot_id"] + "/")
        for name in bundle.files
    )
    assert not any(name.endswith(".key") for name in bundle.files)  # the key never leaves
    away = tmp_path / "away"
    shutil.move(ws.root, away)  # the worker cannot read the workspace
    try:
        result = run_bundle(bundle, warm=False)
    finally:
        shutil.move(away, ws.root)
    assert result.error is None, result.error
    assert not (ws.reports / job.run_key).exists()  # nothing published by the worker
    assert {"notebook.ipynb", "report.html", "manifest.json"} <= set(result.files)
    (cell,) = result.release_rows["cells"]  # run_id, run_key, status, tab, key, value, shown
    assert cell[0] == job.run_id and cell[2] == "staged" and cell[5] == 10 and cell[6] == 1
    outcome = publish_result(result, ws)
    assert outcome.status == "ok", outcome.error
    assert (ws.reports / job.run_key / "report.html").exists()
    figures = history.read(db=ws.history)
    assert list(figures["indicator_id"]) == ["linked_alle"] and list(figures["n"]) == [10]
    assert set(shown_cells(ws, job.run_key).values()) == {True}
    assert not ws.staging.exists() or not any(ws.staging.iterdir())


def test_a_worker_with_other_code_refuses_the_bundle_in_one_line(probe_workspace: Paths) -> None:
    job = next(iter(jobs_of(probe_workspace).values()))
    bundle = replace(pack(job), source_fingerprint="0" * 16)
    with pytest.raises(WorkerMismatch, match="install the same version"):
        run_bundle(bundle)

    class Future:
        def __init__(self, fn, args):
            self.fn, self.args = fn, args

        def result(self):
            return self.fn(*self.args)

    class Client:
        def submit(self, fn, *args, **_):
            # the worker receives a bundle made with other code
            return Future(fn, (replace(args[0], source_fingerprint="0" * 16), *args[1:]))

    from evaluation.distributed import _on_cluster

    outcome = _on_cluster(Client(), job, True)
    assert outcome.status == "failed"
    assert "Dask task failed: worker has evaluation source" in outcome.error["summary"]
    assert "\n" not in outcome.error["summary"]
    assert not (probe_workspace.reports / job.run_key).exists()


# --------------------------------------------------------------------------------------------
# Two workers at once: the second commit is refused and the run repeated on the newer store
# --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_runs_executed_at_once_elsewhere_never_publish_a_disclosive_pair(
    linked_workspace: Paths,
) -> None:
    ws = linked_workspace
    jobs = jobs_of(ws)
    first, second = jobs["alle"], jobs["teil"]
    stale = pack(second)  # the second worker starts before the first run is published
    assert execute_remote(first, local).status == "ok"
    calls: list[str] = []

    def worker(bundle: Bundle):
        calls.append(bundle.job.run_id)
        return local(stale if len(calls) == 1 else bundle)

    outcome = execute_remote(second, worker)
    assert outcome.status == "ok", outcome.error
    assert len(calls) == 2 and calls[0] == second.run_id and calls[1] != second.run_id
    # the second table is hidden: with the first one it would isolate three persons
    assert set(shown_cells(ws, first.run_key).values()) == {True}
    assert set(shown_cells(ws, second.run_key).values()) == {False}
    html = (ws.reports / second.run_key / "report.html").read_text()
    assert "Teilgruppe" in html
    # the whole release passes an audit from scratch
    with store._connect(store.store_path(ws)) as con:
        whole = store._load(con)
    assert audit(whole, threshold=5).passed
    # the refused attempt left nothing behind: no failed run, no staged cells or figures
    runs = history.recent_runs(root=ws)
    assert sorted(r["status"] for r in runs) == ["ok", "ok"], runs
    assert not (ws.reports / second.run_key / "failed.json").exists()
    assert history.staged_runs(db=ws.history) == {}
    with store._connect(store.store_path(ws)) as con:
        assert con.execute("SELECT COUNT(*) FROM cells WHERE status = 'staged'").fetchone() == (0,)


@pytest.mark.slow
def test_a_refusal_that_persists_fails_the_run_after_the_attempts(linked_workspace: Paths) -> None:
    ws = linked_workspace
    jobs = jobs_of(ws)
    first, second = jobs["alle"], jobs["teil"]
    stale = pack(second)
    assert execute_remote(first, local).status == "ok"
    results = local(stale)  # executed once against the old store, sent back every time

    def worker(bundle: Bundle):
        return replace(
            results,
            job=bundle.job,
            manifest={**results.manifest, "run_id": bundle.job.run_id},
            release_rows={
                t: [(bundle.job.run_id, *r[1:]) for r in rows]
                for t, rows in results.release_rows.items()
            },
        )

    outcome: Outcome = execute_remote(second, worker, attempts=2)
    assert outcome.status == "failed"
    assert outcome.error.get("refused") and "\n" not in outcome.error["summary"]
    assert not (ws.reports / second.run_key / "report.html").exists()
    assert (ws.reports / second.run_key / "failed.json").exists()
    assert set(shown_cells(ws, first.run_key).values()) == {True}


@pytest.mark.slow
def test_a_submitter_crash_after_the_cells_were_staged_leaves_nothing_after_recovery(
    linked_workspace: Paths,
) -> None:
    from evaluation.execute import open_staging, recover

    ws = linked_workspace
    job = jobs_of(ws)["alle"]
    result = local(pack(job))
    assert result.error is None
    # what publish_result does before the commit point, then the process dies
    staging = open_staging(ws, job)
    for name, content in result.files.items():
        (staging / name).write_bytes(content)
    store.import_run(job.run_id, result.release_rows, ws)
    with store._connect(store.store_path(ws)) as con:
        assert con.execute("SELECT COUNT(*) FROM cells WHERE status = 'staged'").fetchone() == (1,)
    repairs = recover(ws)
    assert any("staging of an interrupted run removed" in line for line in repairs), repairs
    assert not staging.exists() and not (ws.reports / job.run_key).exists()
    with store._connect(store.store_path(ws)) as con:
        assert con.execute("SELECT COUNT(*) FROM cells").fetchone() == (0,)
    # and the next call publishes the run normally
    assert execute_remote(job, local).status == "ok"
