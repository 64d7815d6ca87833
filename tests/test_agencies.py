"""Agencies as a dimension: layout, agency.yml, selection, per-agency plan, dependencies,
change detection and isolation between agencies."""

from __future__ import annotations

import io
import json
import os
import shutil
from datetime import date
from pathlib import Path

import nbformat
import pytest

from evaluation import agencies, data, history
from evaluation.paths import Paths, paths
from evaluation.plan import PlanError, load_plan
from evaluation.runner import _build, _DependencyIndex, dependencies, dry_run, run_plan
from tests.conftest import PROBE_PLAN, make_probe_notebook

TODAY = date(2026, 11, 24)
MARKER = "Agentur-Marker-7f3a9c"
SUMMARY_PLAN = (
    "notebook: summary.ipynb\ntitle: Summary\nafter: [probe]\n"
    "schedules:\n  - name: jahr\n    cadence: yearly\n    start: 2024\n    end: 2024\n"
)


def _agency_yml(folder: Path, name: str, extra: str = "") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "agency.yml").write_text(
        f"name: {name}\ntraeger: Träger von {name}\nparameters:\n  suppression_threshold: 5\n"
        + extra,
        encoding="utf-8",
    )


@pytest.fixture
def project(tmp_path: Path, session_home: Path, demo_tables) -> Paths:
    """A project with the probe plan (2023, 2024), a summary after it, and agencies a, b.

    Agency a has the session's demo snapshot and a marker in its name; b has a snapshot of
    its own (300 persons fewer), so the two differ in data and snapshot id.
    """
    root = tmp_path / "proj"
    (root / "notebooks").mkdir(parents=True)
    (root / "params").mkdir()
    make_probe_notebook(root / "notebooks" / "probe.ipynb")
    summary = make_probe_notebook(root / "notebooks" / "summary.ipynb")
    # figures of its own: the history keeps one figure per indicator and period
    summary.write_text(summary.read_text().replace('"probe_', '"summary_'))
    (root / "params" / "probe.yml").write_text(
        PROBE_PLAN.format(fail_in="").replace("start: 2022", "start: 2023")
    )
    (root / "params" / "summary.yml").write_text(SUMMARY_PLAN)
    a, b = root / "agencies" / "a", root / "agencies" / "b"
    _agency_yml(a, f"Agentur A {MARKER}")
    _agency_yml(b, "Agentur B")
    shutil.copytree(session_home / "data" / "snapshots", a / "data" / "snapshots")
    tables = dict(demo_tables)
    tables["participants"] = tables["participants"].iloc[:-300]
    data.write_snapshot(tables, source={"kind": "test"}, root=paths(b))
    return paths(root)


def _states(project: Paths, **kwargs) -> dict[str, str]:
    out = io.StringIO()
    dry_run(root=project, today=TODAY, out=out, **kwargs)
    lines = out.getvalue().splitlines()[:-1]
    return {line.split()[0]: " ".join(line.split()[1:]) for line in lines}


# ---- layout and agency.yml ----------------------------------------------------------------


def test_an_agency_workspace_finds_its_project(project):
    a = paths(project.root / "agencies" / "a")
    assert a.is_agency and a.project_root == project.root
    assert a.params == project.params and a.notebooks == project.notebooks
    assert a.history == project.root / "agencies" / "a" / "data" / "history.sqlite"
    assert a.reports == project.root / "agencies" / "a" / "reports"
    assert a.texts == project.root / "agencies" / "a" / "texte"
    # the single-agency layout: the project is its own workspace
    assert not project.is_agency and project.params == project.root / "params"
    # a folder called agencies/x without agency.yml is not an agency workspace
    stray = project.root / "agencies" / "stray"
    stray.mkdir()
    assert not paths(stray).is_agency
    assert [x.id for x in agencies.discover(project)] == ["a", "b"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: X\nfarbe: blau\n", r"agency\.yml:2: farbe: unbekannter Schlüssel"),
        ("traeger: T\n", r"agency\.yml: name: fehlt"),
        ("name: X\nparameters: [1, 2]\n", r"agency\.yml:2: parameters: erwartet"),
        ("name: [X\n", r"agency\.yml:\d+: kein gültiges YAML"),
    ],
)
def test_a_wrong_agency_yml_is_one_line_naming_file_and_key(project, text, expected):
    folder = project.root / "agencies" / "c"
    folder.mkdir()
    (folder / "agency.yml").write_text(text)
    with pytest.raises(agencies.AgencyError, match=expected) as info:
        agencies.load_agency(folder, project)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("  farbe: blau\n", r"agency\.yml:5: parameters\.farbe: kein Notebook des Plans"),
        ("  suppression_threshold_x: 1\n", r"parameters\.suppression_threshold_x"),
        ("  language: 3\n", r"agency\.yml:5: parameters\.language: expected str"),
        ("  period_start: '2024-01-01'\n", r"parameters\.period_start: wird von den Zeiträumen"),
    ],
)
def test_agency_parameters_are_checked_against_the_notebooks(project, extra, expected):
    _agency_yml(project.root / "agencies" / "b", "Agentur B", extra)
    with pytest.raises(PlanError, match=expected) as info:
        load_plan(root=project, today=TODAY, agencies=agencies.discover(project))
    assert "\n" not in str(info.value)


def test_which_workspace_a_call_means(project, session_home):
    # no data at the root, agencies present: all agencies
    assert [a.id for a in agencies.select(project)] == ["a", "b"]
    assert [a.id for a in agencies.select(project, ["b"])] == ["b"]
    assert [a.id for a in agencies.select(project, all_agencies=True)] == ["a", "b"]
    with pytest.raises(agencies.AgencyError, match=r"--agency bb: .*meinten Sie 'b'.*a, b"):
        agencies.select(project, ["bb"])
    with pytest.raises(agencies.AgencyError, match="schließen einander aus"):
        agencies.select(project, ["a"], all_agencies=True)
    # a root with data of its own is "the" agency, as before agencies existed
    shutil.copytree(session_home / "data" / "snapshots", project.snapshots)
    [root] = agencies.select(project)
    assert root.is_root and root.paths == project
    # a single-agency project without agencies/
    shutil.rmtree(project.root / "agencies")
    assert [a.is_root for a in agencies.select(project)] == [True]
    with pytest.raises(agencies.AgencyError, match="--all-agencies: keine Agentur"):
        agencies.select(project, all_agencies=True)


def test_the_plan_is_expanded_per_agency_with_its_parameters(project):
    _agency_yml(project.root / "agencies" / "b", "Agentur B", "  language: en\n")
    runs = load_plan(root=project, today=TODAY, agencies=agencies.discover(project))
    assert sorted(r.uid for r in runs) == [
        "a:probe/jahr/2023",
        "a:probe/jahr/2024",
        "a:summary/jahr/2024",
        "b:probe/jahr/2023",
        "b:probe/jahr/2024",
        "b:summary/jahr/2024",
    ]
    by_uid = {r.uid: r for r in runs}
    assert by_uid["a:probe/jahr/2024"].parameters["agency"] == f"Agentur A {MARKER}"
    assert by_uid["b:probe/jahr/2024"].parameters["agency"] == "Agentur B"
    assert by_uid["b:probe/jahr/2024"].parameters["language"] == "en"
    assert "language" not in by_uid["a:probe/jahr/2024"].parameters  # the default
    # the run key inside the workspace stays what it is in the single-agency layout
    assert by_uid["b:probe/jahr/2024"].key == "probe/jahr/2024"


def test_after_depends_only_on_runs_of_the_same_agency(project):
    chosen = agencies.discover(project)
    runs = load_plan(root=project, today=TODAY, agencies=chosen)
    plan = _build(runs, runs, project, None, chosen)
    assert sorted(plan.deps["a:summary/jahr/2024"]) == ["a:probe/jahr/2023", "a:probe/jahr/2024"]
    assert sorted(plan.deps["b:summary/jahr/2024"]) == ["b:probe/jahr/2023", "b:probe/jahr/2024"]
    assert plan.paths_of("b:summary/jahr/2024").root == project.root / "agencies" / "b"
    index = _DependencyIndex(runs)
    for run in runs:  # the index finds what the plain definition finds
        assert [d.uid for d in index.of(run)] == [d.uid for d in dependencies(run, runs)]


def test_a_damaged_snapshot_file_is_found_although_verification_is_cached(project):
    chosen = agencies.discover(project)
    _states(project, agencies=chosen)  # verifies a's and b's snapshots and caches their stat
    b = paths(project.root / "agencies" / "b")
    assert (b.state / "verified.json").exists()
    file = data.snapshot_info(root=b).path / "participants.parquet"
    before = file.stat()
    raw = bytearray(file.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # same size, other bytes, and the old modification time
    file.write_bytes(bytes(raw))
    os.utime(file, ns=(before.st_atime_ns, before.st_mtime_ns))
    with pytest.raises(data.SnapshotError, match=r"participants\.parquet: damaged"):
        _states(project, agencies=chosen)


# ---- running: no-op, exactly the affected runs, isolation --------------------------------


def _run(project: Paths, **kwargs):
    out = io.StringIO()
    summary = run_plan(
        root=project, today=TODAY, out=out, agencies=agencies.discover(project), **kwargs
    )
    return summary, out.getvalue()


def _to_run(states: dict[str, str]) -> set[str]:
    return {k for k, v in states.items() if v != "up to date"}


@pytest.mark.slow
def test_a_change_reruns_exactly_the_runs_it_affects(project, demo_tables):
    summary, out = _run(project, jobs=2)
    assert summary.exit_code == 0 and summary.count("ok") == 6, out
    for agency in ("a", "b"):
        ws = paths(project.root / "agencies" / agency)
        assert (ws.reports / "summary/jahr/2024/report.html").exists()
        assert (ws.reports / "index.html").exists()
        assert set(history.read("probe_reached", db=ws.history)["period"]) == {"2023", "2024"}
    # the project's start page over both agencies (no run of its own at project level)
    start = (project.reports / "index.html").read_text(encoding="utf-8")
    assert "Berichte der Agenturen" in start
    for agency in ("a", "b"):
        assert f'href="../agencies/{agency}/reports/index.html"' in start
    row_a = start.split(f"Agentur A {MARKER}</a>")[1].split("</tr>")[0]
    assert '<td class="num">3</td><td class="num">0</td>' in row_a  # 3 published, 0 failed
    (project.reports / "index.html").unlink()  # a no-op call writes it when it is missing
    chosen = agencies.discover(project)
    assert _to_run(_states(project, agencies=chosen)) == set()
    summary, out = _run(project)
    assert summary.count("skipped") == 6 and (project.reports / "index.html").exists(), out
    # a new snapshot of agency a: a's runs and a's summary, nothing of b
    a = paths(project.root / "agencies" / "a")
    tables = dict(demo_tables)
    tables["participants"] = tables["participants"].iloc[:-3]
    data.write_snapshot(tables, source={"kind": "test"}, root=a)
    assert _to_run(_states(project, agencies=chosen)) == {
        "a:probe/jahr/2023",
        "a:probe/jahr/2024",
        "a:summary/jahr/2024",
    }
    summary, out = _run(project, jobs=2)
    assert {o.run_key for o in summary.outcomes if o.status == "ok"} == {
        "a:probe/jahr/2023",
        "a:probe/jahr/2024",
        "a:summary/jahr/2024",
    }, out
    assert {o.run_key for o in summary.outcomes if o.status == "skipped"} == {
        "b:probe/jahr/2023",
        "b:probe/jahr/2024",
        "b:summary/jahr/2024",
    }
    # a parameter in b's agency.yml: b's runs only
    _agency_yml(project.root / "agencies" / "b", "Agentur B", "  language: en\n")
    chosen = agencies.discover(project)
    assert _to_run(_states(project, agencies=chosen)) == {
        "b:probe/jahr/2023",
        "b:probe/jahr/2024",
        "b:summary/jahr/2024",
    }
    # the shared plan file or notebook: every agency
    plan = project.params / "summary.yml"
    plan.write_text(plan.read_text().replace("title: Summary", "title: Zusammenfassung"))
    assert _to_run(_states(project, agencies=chosen)) == {
        "a:summary/jahr/2024",
        "b:probe/jahr/2023",
        "b:probe/jahr/2024",
        "b:summary/jahr/2024",
    }
    nb_path = project.notebooks / "probe.ipynb"
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells[2].source += "\n# changed"
    nbformat.write(nb, nb_path)
    assert _to_run(_states(project, agencies=chosen)) == {
        f"{x}:{k}"
        for x in "ab"
        for k in ("probe/jahr/2023", "probe/jahr/2024", "summary/jahr/2024")
    }
    # --agency a alone: only a's runs are planned
    only_a = _states(project, agencies=agencies.select(project, ["a"]))
    assert set(only_a) == {"a:probe/jahr/2023", "a:probe/jahr/2024", "a:summary/jahr/2024"}


@pytest.mark.slow
def test_one_agencys_data_never_reaches_another_agencys_reports(project):
    summary, out = _run(project, jobs=2)
    assert summary.exit_code == 0, out
    a = paths(project.root / "agencies" / "a")
    b = paths(project.root / "agencies" / "b")
    a_snapshot, b_snapshot = data.snapshot_info(root=a).id, data.snapshot_info(root=b).id
    assert a_snapshot != b_snapshot
    a_marks = [MARKER, a_snapshot, str(a.root), "Agentur A"]
    files = [f for f in b.reports.rglob("*") if f.is_file()]
    assert len(files) >= 10
    seen_own = False
    for file in files:
        text = file.read_bytes().decode("utf-8", errors="replace")
        for mark in a_marks:
            assert mark not in text, f"{mark!r} of agency a in {file}"
        seen_own |= b_snapshot in text
    assert seen_own, "b's reports name b's own snapshot (so the scan can find one)"
    # a's figures are a's: the counts differ where the data differ, each in its own history
    reached_a = history.read("probe_reached", db=a.history).set_index("period")["value"]
    reached_b = history.read("probe_reached", db=b.history).set_index("period")["value"]
    assert (reached_a >= reached_b).all() and (reached_a != reached_b).any()
    manifest = json.loads((b.reports / "probe/jahr/2024/manifest.json").read_text())
    assert manifest["agency"] == "b" and manifest["data"]["snapshot_id"] == b_snapshot


# ---- command line ---------------------------------------------------------------------------


def test_the_command_line_selects_agencies(project, monkeypatch, capsys):
    from evaluation.__main__ import main

    monkeypatch.setenv("EVALUATION_HOME", str(project.root))
    assert main(["plan", "--agency", "zz", "--today", "2026-11-24"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--agency zz: keine solche Agentur" in err[0]
    assert main(["plan", "--agency", "b", "--today", "2026-11-24"]) == 0
    out = capsys.readouterr().out
    assert "b:probe/jahr/2023" in out and "a:probe" not in out
    assert main(["plan", "--today", "2026-11-24"]) == 0  # no root data: every agency
    out = capsys.readouterr().out
    assert "a:probe/jahr/2024" in out and "b:summary/jahr/2024" in out
    assert main(["status", "--all-agencies"]) == 0
    out = capsys.readouterr().out
    assert "== a: Agentur A" in out and "== b: Agentur B" in out
    assert main(["index", "--agency", "a"]) == 0  # a's start page and the project's
    assert capsys.readouterr().out.split() == [
        str(project.root / "agencies/a/reports/index.html"),
        str(project.root / "reports/index.html"),
    ]
    assert not (project.root / "agencies/b/reports/index.html").exists()
    # a broken agency.yml of another agency does not stop a command for this one ...
    (project.root / "agencies" / "c").mkdir()
    (project.root / "agencies" / "c" / "agency.yml").write_text("name: C\nfarbe: blau\n")
    assert main(["plan", "--agency", "b", "--today", "2026-11-24"]) == 0
    assert "b:probe/jahr/2023" in capsys.readouterr().out
    # ... but stops one over all agencies, with its one line
    assert main(["plan", "--all-agencies", "--today", "2026-11-24"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "agencies/c/agency.yml:2: farbe: unbekannter Schlüssel" in err[0]
    with pytest.raises(SystemExit):
        main(["plan", "--agency", "a", "--all-agencies"])  # argparse: mutually exclusive


@pytest.mark.slow
def test_demo_creates_agencies_of_different_sizes_each_with_its_own_key(
    tmp_path, monkeypatch, capsys
):
    from evaluation.__main__ import main

    root = tmp_path / "demo"
    shutil.copytree(Path(__file__).resolve().parents[1] / "params", root / "params")
    shutil.copytree(Path(__file__).resolve().parents[1] / "notebooks", root / "notebooks")
    monkeypatch.setenv("EVALUATION_HOME", str(root))
    monkeypatch.setenv("EVALUATION_KEY_DIR", str(tmp_path / "keys"))
    assert main(["demo", "--agencies", "2"]) == 0
    found = agencies.discover(paths(root))
    assert [a.id for a in found] == ["demo-01", "demo-02"]
    assert [a.name for a in found] == ["Integrationsagentur Demo 01", "Integrationsagentur Demo 02"]
    sizes = []
    for agency in found:
        info = data.snapshot_info(root=agency.paths)
        participants = data.load("participants", snapshot=info.id, root=agency.paths)
        sizes.append(len(participants))
        assert info.source != "demo" or info.manifest.get("tables")  # a real snapshot
        assert (tmp_path / "keys" / f"{agency.id}.key").exists()
        assert (agency.paths.texts / "2024").is_dir()
    expected = [agencies.demo_facts(i)["participants"] for i in (1, 2)]
    assert sizes[0] != sizes[1]
    assert all(abs(s - e) <= 0.05 * e for s, e in zip(sizes, expected, strict=True))  # quarantine
    keys = {(tmp_path / "keys" / f"{a.id}.key").read_text() for a in found}
    assert len(keys) == 2, "each agency has a key of its own"
    capsys.readouterr()
    assert main(["demo", "--agencies", "2"]) == 0  # again: left as they are
    assert capsys.readouterr().out.count("vorhanden") == 2
