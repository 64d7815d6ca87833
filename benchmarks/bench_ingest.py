"""Benchmark of the ingest on a large follow-up table in German Excel CSV format.

Generates a follow-up table (default 1,000,000 rows: cp1252, ``;``, ``TT.MM.JJJJ``, German
headers and status labels, 0.1 % planted errors) and, for the second scenario, the
enrolments it refers to, then ingests

1. the follow-ups alone (reference checks to enrolments are skipped);
2. follow-ups and enrolments together (reference and date checks between the tables);
3. the follow-ups with the agency's own headers and status spellings, through a mapping
   file (:mod:`evaluation.ingest.mapping`);

and, as baselines on the same follow-up file, reads it with

* ``pandas.read_csv`` (``;``, cp1252, the reference date parsed ``TT.MM.JJJJ``), and
* ``pyarrow.csv.read_csv`` (same, date parsed by Arrow),

which only read (no validation, pseudonyms, quarantine or snapshot); the ratios of the
ingest's time to theirs are printed, wall and CPU (issue 13's goal: at most 1.5 x
``pandas.read_csv``). CPU time counts every thread of the process, so Arrow's threads can
make the wall time of a step lower than its CPU time on an idle machine (and higher on a
busy one).

The scenarios run interleaved ``--repeat`` times (default 3) and each figure is the median,
so that a machine shared with others slows all of them alike; the load average before and
after is printed with the table. ``--stages`` adds where the time of the follow-ups ingest
goes (read, parse and pseudonymise, checks, Arrow conversion, snapshot id, Parquet), wall
and CPU seconds, measured by timing the ingest's own steps in the child.

Each ingest runs in its own subprocess, so its peak resident memory (``VmHWM`` of the
child; ``ru_maxrss`` would carry over the parent's peak across ``exec``) is its own; the
wall time includes reading, parsing, pseudonymising, pandera validation, quarantine and
writing the Parquet snapshot (not the Python start, and not the import of the libraries,
as ``import pandas`` is not timed for the baselines: the import of pandera, pyarrow and
the package is measured apart, ``imports_seconds`` in the JSON).
Run::

    .venv/bin/python benchmarks/bench_ingest.py                 # 1,000,000 follow-ups
    .venv/bin/python benchmarks/bench_ingest.py --rows 200000   # quicker
    .venv/bin/python benchmarks/bench_ingest.py --repeat 1 --stages
    git archive COMMIT evaluation | tar -x -C /tmp/before   # an older package, then
    .venv/bin/python benchmarks/bench_ingest.py --before /tmp/before   # before/after, interleaved

Prints a markdown table and writes ``benchmarks/results/ingest.json``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SEED = 2024
ERROR_SHARE = 0.001
STATUS_LABELS = [
    "sozialversicherungspflichtig beschäftigt", "geringfügig beschäftigt (Minijob)", "selbstständig",
    "in Ausbildung/Qualifizierung", "arbeitslos gemeldet", "nicht erwerbstätig (sonstige)",
]  # fmt: skip


def make_exports(folder: Path, rows: int) -> tuple[Path, Path]:
    """Write ``Verbleib.csv`` (``rows`` follow-ups) and ``Teilnahmen.csv`` (their enrolments)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(SEED)
    n_enrol = rows // 2
    entry = pd.Timestamp("2019-01-01") + pd.to_timedelta(rng.integers(0, 1800, n_enrol), unit="D")
    exit_ = entry + pd.to_timedelta(rng.integers(30, 360, n_enrol), unit="D")
    enrol_ids = np.char.add("T", np.arange(1, n_enrol + 1).astype(str))
    person_ids = np.char.add("P", rng.integers(1, max(n_enrol * 2 // 3, 2), n_enrol).astype(str))
    enrolments = pd.DataFrame({
        "Teilnahme-Nr": enrol_ids, "Klient-Nr": person_ids, "Projekt": "Jobeinstiegsbegleitung",
        "Eintritt": entry.strftime("%d.%m.%Y"), "Austritt": exit_.strftime("%d.%m.%Y"), "Austrittsgrund": "regulär beendet",
    })  # fmt: skip
    which = np.arange(rows) % n_enrol
    months = np.where(np.arange(rows) < n_enrol, 6, 12)
    reference = exit_[which] + pd.to_timedelta(np.round(months * 30.4375), unit="D")
    followups = pd.DataFrame({
        "Teilnahme-Nr": enrol_ids[which], "Klient-Nr": person_ids[which], "Monate nach Austritt": months,
        "Stichtag": reference.strftime("%d.%m.%Y"), "Erwerbsstatus": rng.choice(STATUS_LABELS, rows),
        "SGB-II-Bezug": rng.choice(["ja", "nein"], rows),
    })  # fmt: skip
    bad = rng.choice(rows, int(rows * ERROR_SHARE), replace=False)
    half = len(bad) // 2
    followups.loc[bad[:half], "Erwerbsstatus"] = "arbeitssuchend"
    followups.loc[bad[half:], "Stichtag"] = "31.02.2023"
    follow_path, enrol_path = folder / "Verbleib.csv", folder / "Teilnahmen.csv"
    followups.to_csv(follow_path, sep=";", index=False, encoding="cp1252", lineterminator="\r\n")
    enrolments.to_csv(enrol_path, sep=";", index=False, encoding="cp1252", lineterminator="\r\n")
    return follow_path, enrol_path


MAPPED_HEADER = "Tn-Nr.;Kd.-Nr.;Monate;Datum Verbleib;Status (Kürzel);SGB II"
MAPPING = """version: 1
sources:
  - file: "Verbleib_eigene.csv"
    table: followups
    columns:
      "Tn-Nr.": enrolment_id
      "Kd.-Nr.": person_id
      "Monate": months_after_exit
      "Datum Verbleib": reference_date
      "Status (Kürzel)": status
      "SGB II": sgb2_receipt
    values:
      status:
        "arbeitssuchend": arbeitslos
"""


def make_mapped(follow: Path) -> tuple[Path, Path]:
    """The follow-up file with the agency's own headers, and its mapping file."""
    data = follow.read_bytes()
    body = data[data.index(b"\r\n") :]
    mapped = follow.with_name("Verbleib_eigene.csv")
    mapped.write_bytes(MAPPED_HEADER.encode("cp1252") + body)
    mapping = follow.with_name("mapping.yml")
    mapping.write_text(MAPPING, encoding="utf-8")
    return mapped, mapping


def baseline(kind: str, file: str) -> None:
    """Read the follow-up file with pandas or pyarrow only; print the figures as JSON."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.csv as pacsv

    start, cpu = time.perf_counter(), time.process_time()
    if kind == "pandas":
        frame = pd.read_csv(file, sep=";", encoding="cp1252", dtype=str, parse_dates=["Stichtag"],
                            date_format="%d.%m.%Y")  # fmt: skip
        rows = len(frame)
    else:
        table = pacsv.read_csv(
            file,
            read_options=pacsv.ReadOptions(encoding="cp1252"),
            parse_options=pacsv.ParseOptions(delimiter=";"),
            convert_options=pacsv.ConvertOptions(column_types={"Stichtag": pa.timestamp("s")},
                                                 timestamp_parsers=["%d.%m.%Y"], strings_can_be_null=True),
        )  # fmt: skip
        rows = table.num_rows
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "rows_read": rows, "rows_quarantined": 0,
                      "peak_rss_mb": peak_rss_mb(), "snapshot": None}))  # fmt: skip


#: Steps of the ingest timed with ``--stages``: (module, function, label); the time of a
#: step includes the steps it calls, so the labels are the top-level ones of the pipeline.
STAGES = [
    ("evaluation.ingest.pipeline", "read_sources", "read (decode, CSV, headers)"),
    ("evaluation.ingest.pipeline", "_parse_table", "parse and pseudonymise"),
    ("evaluation.ingest.pipeline", "_check", "checks (contract, duplicates, references)"),
    ("evaluation.ingest.pipeline", "_quarantine", "quarantine frame"),
    ("evaluation.ingest.pipeline", "arrow_tables", "accepted tables to Arrow (once)"),
    ("evaluation.ingest.pipeline", "content_id", "snapshot id (hash of the Arrow buffers)"),
    ("evaluation.ingest.pipeline", "write_snapshot", "write snapshot (Parquet, manifest)"),
]


def _time_stages() -> dict[str, dict[str, float]]:
    """Wrap the ingest's steps so that their wall and CPU time is summed (``--stages``).

    CPU time is the process's (``time.process_time``: all its threads, so Arrow's too).
    """
    import functools
    import importlib

    spent: dict[str, dict[str, float]] = {}
    for module_name, name, label in STAGES:
        module = importlib.import_module(module_name)
        original = getattr(module, name)

        def timed(*args, __original=original, __label=label, **kwargs):
            begin, cpu = time.perf_counter(), time.process_time()
            try:
                return __original(*args, **kwargs)
            finally:
                step = spent.setdefault(__label, {"seconds": 0.0, "cpu_seconds": 0.0})
                step["seconds"] += time.perf_counter() - begin
                step["cpu_seconds"] += time.process_time() - cpu

        setattr(module, name, functools.wraps(original)(timed))
    return spent


def child(
    files: list[str], workspace: str, key: str, mapping: str | None = None, stages: bool = False
) -> None:
    """Run one ingest and print its figures as JSON (called in a subprocess)."""
    begin = time.perf_counter()
    import pandera.pandas  # noqa: F401 - imported before the clock, as pandas is for the baselines
    import pyarrow.csv  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    from evaluation.ingest import ingest
    from evaluation.paths import paths

    imports = time.perf_counter() - begin
    spent = _time_stages() if stages else {}
    start, cpu = time.perf_counter(), time.process_time()
    result = ingest(
        [Path(f) for f in files], root=paths(workspace), key_file=Path(key), mapping=mapping
    )
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    rec = result.reconciliation
    print(json.dumps({
        "seconds": seconds, "cpu_seconds": cpu, "rows_read": int(rec["rows_read"].sum()),
        "rows_quarantined": int(rec["rows_quarantined"].sum()),
        "peak_rss_mb": peak_rss_mb(), "snapshot": result.snapshot.id, "stages": spent,
        "imports_seconds": imports,
    }))  # fmt: skip


def peak_rss_mb() -> float:
    """Peak resident memory of this process since its ``exec`` (Linux ``VmHWM``)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )  # macOS: bytes, but no exec issue


def run(
    name: str,
    files: list[Path],
    tmp: Path,
    mapping: Path | None = None,
    kind: str = "ingest",
    stages: bool = False,
    source: str | None = None,
) -> dict[str, object]:
    workspace = tmp / f"ws-{len(list(tmp.glob('ws-*')))}"
    workspace.mkdir()
    if kind != "ingest":
        cmd = [sys.executable, __file__, "--baseline", kind, str(files[0])]
    else:
        extra = ["--mapping-file", str(mapping)] if mapping else []
        extra += ["--stages"] if stages else []
        cmd = [sys.executable, __file__, *extra, "--child", str(workspace),
               str(tmp / "keys" / "k.key"), *map(str, files)]  # fmt: skip
    out = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore",
             **({"PYTHONPATH": source} if source else {})},
    )  # fmt: skip
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    shutil.rmtree(workspace, ignore_errors=True)
    return {"scenario": name, **figures}


def median_of(runs: list[dict[str, object]]) -> dict[str, object]:
    """One scenario's figures: the median of its runs (seconds, CPU, memory)."""
    out = dict(runs[0])
    for key in ("seconds", "cpu_seconds", "peak_rss_mb"):
        out[key] = statistics.median(float(r[key]) for r in runs)
    out["runs_seconds"] = [float(r["seconds"]) for r in runs]
    out["rows_per_second"] = out["rows_read"] / out["seconds"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="follow-up rows")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--mapping-file", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--baseline", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=3, help="interleaved runs per scenario")
    parser.add_argument("--stages", action="store_true", help="time the ingest's steps too")
    parser.add_argument(
        "--before",
        default=None,
        metavar="DIR",
        help="also run the ingest scenarios with the package from DIR (e.g. an older commit "
        "unpacked with git archive), interleaved with the current one: before/after figures",
    )
    args = parser.parse_args()
    if args.child:
        workspace, key, *files = args.child
        child(files, workspace, key, args.mapping_file, args.stages)
        return
    if args.baseline:
        baseline(*args.baseline)
        return
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "keys").mkdir(mode=0o700)
        t0 = time.perf_counter()
        follow, enrol = make_exports(tmp, args.rows)
        generated = time.perf_counter() - t0
        gc.collect()
        mapped, mapping = make_mapped(follow)
        scenarios = [
            ("pandas.read_csv (read only, dates parsed)", [follow], None, "pandas"),
            ("pyarrow.csv.read_csv (read only, dates parsed)", [follow], None, "pyarrow"),
            ("ingest: follow-ups only", [follow], None, "ingest"),
            ("ingest: follow-ups through a mapping", [mapped], mapping, "ingest"),
            ("ingest: follow-ups + enrolments", [follow, enrol], None, "ingest"),
        ]
        if args.before:  # the same ingest scenarios with the older package, interleaved
            scenarios += [
                (f"before: {name}", files, mapping_file, kind, args.before)
                for name, files, mapping_file, kind in scenarios
                if kind == "ingest"
            ]
        scenarios = [(*s, None) if len(s) == 4 else s for s in scenarios]
        load_before = os.getloadavg()
        runs: dict[str, list[dict[str, object]]] = {name: [] for name, *_ in scenarios}
        for _ in range(max(args.repeat, 1)):
            for name, files, mapping_file, kind, source in scenarios:
                runs[name].append(run(name, files, tmp, mapping_file, kind, source=source))
        stages = run("stages", [follow], tmp, stages=True)["stages"] if args.stages else {}
        load_after = os.getloadavg()
        results = [median_of(runs[name]) for name, *_ in scenarios]
        sizes = {p.name: p.stat().st_size for p in (follow, enrol)}
    print(f"Ingest benchmark: {args.rows:,} follow-up rows (CSV, German format, {ERROR_SHARE:.1%} planted errors); "
          f"generated in {generated:.1f} s; {os.cpu_count()} CPU(s), Python {platform.python_version()}; "
          f"median of {max(args.repeat, 1)} interleaved runs; load average {load_before[0]:.1f} before, "
          f"{load_after[0]:.1f} after\n")  # fmt: skip
    pandas_s, arrow_s = results[0]["seconds"], results[1]["seconds"]
    pandas_cpu = results[0]["cpu_seconds"]
    print("| scenario | rows read | quarantined | seconds | CPU s | rows/s | peak RSS (MB) "
          "| x pandas (wall) | x pandas (CPU) | x pyarrow (wall) |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        r["ratio_pandas"] = r["seconds"] / pandas_s
        r["ratio_pandas_cpu"] = r["cpu_seconds"] / pandas_cpu
        r["ratio_pyarrow"] = r["seconds"] / arrow_s
        print(f"| {r['scenario']} | {r['rows_read']:,} | {r['rows_quarantined']:,} | {r['seconds']:.1f} | "
              f"{r['cpu_seconds']:.1f} | {r['rows_per_second']:,.0f} | {r['peak_rss_mb']:,.0f} | "
              f"{r['ratio_pandas']:.2f} | {r['ratio_pandas_cpu']:.2f} | {r['ratio_pyarrow']:.2f} |")  # fmt: skip
    by_name = {r["scenario"]: r for r in results}
    for r in results:
        if str(r["scenario"]).startswith("before: "):
            now = by_name[str(r["scenario"])[len("before: ") :]]
            same = "same" if now["snapshot"] == r["snapshot"] else "DIFFERENT"
            print(f"\n{now['scenario']}: snapshot id {now['snapshot']}, before {r['snapshot']} ({same})"
                  f"; CPU {r['cpu_seconds']:.2f} -> {now['cpu_seconds']:.2f} s", end="")  # fmt: skip
    if any(str(r["scenario"]).startswith("before: ") for r in results):
        print()
    if stages:
        print("\n| step of the follow-ups ingest (one run) | seconds | CPU s |\n|---|---:|---:|")
        for label, step in stages.items():
            print(f"| {label} | {step['seconds']:.2f} | {step['cpu_seconds']:.2f} |")
    out = REPO / "benchmarks" / "results" / "ingest.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {"rows": args.rows, "files_bytes": sizes, "cpus": os.cpu_count(),
             "repeat": max(args.repeat, 1), "load_average": {"before": load_before, "after": load_after},
             "stages": stages, "results": results},
            indent=2,
        )
    )  # fmt: skip


if __name__ == "__main__":
    main()
