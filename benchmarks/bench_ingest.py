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
ingest's time to theirs are printed (issue 13's goal: at most 1.5 x ``pandas.read_csv``).

Each ingest runs in its own subprocess, so its peak resident memory (``VmHWM`` of the
child; ``ru_maxrss`` would carry over the parent's peak across ``exec``) is its own; the wall time includes reading, parsing, pseudonymising, pandera
validation, quarantine and writing the Parquet snapshot (not the Python start).
Run::

    .venv/bin/python benchmarks/bench_ingest.py                 # 1,000,000 follow-ups
    .venv/bin/python benchmarks/bench_ingest.py --rows 200000   # quicker

Prints a markdown table and writes ``benchmarks/results/ingest.json``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
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

    start = time.perf_counter()
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
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "rows_read": rows, "rows_quarantined": 0,
                      "peak_rss_mb": peak_rss_mb(), "snapshot": None}))  # fmt: skip


def child(files: list[str], workspace: str, key: str, mapping: str | None = None) -> None:
    """Run one ingest and print its figures as JSON (called in a subprocess)."""
    from evaluation.ingest import ingest
    from evaluation.paths import paths

    start = time.perf_counter()
    result = ingest(
        [Path(f) for f in files], root=paths(workspace), key_file=Path(key), mapping=mapping
    )
    seconds = time.perf_counter() - start
    rec = result.reconciliation
    print(json.dumps({
        "seconds": seconds, "rows_read": int(rec["rows_read"].sum()), "rows_quarantined": int(rec["rows_quarantined"].sum()),
        "peak_rss_mb": peak_rss_mb(), "snapshot": result.snapshot.id,
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
    name: str, files: list[Path], tmp: Path, mapping: Path | None = None, kind: str = "ingest"
) -> dict[str, object]:
    workspace = tmp / f"ws-{len(list(tmp.glob('ws-*')))}"
    workspace.mkdir()
    if kind != "ingest":
        cmd = [sys.executable, __file__, "--baseline", kind, str(files[0])]
    else:
        extra = ["--mapping-file", str(mapping)] if mapping else []
        cmd = [sys.executable, __file__, *extra, "--child", str(workspace),
               str(tmp / "keys" / "k.key"), *map(str, files)]  # fmt: skip
    out = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    figures["rows_per_second"] = figures["rows_read"] / figures["seconds"]
    return {"scenario": name, **figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="follow-up rows")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--mapping-file", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--baseline", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        workspace, key, *files = args.child
        child(files, workspace, key, args.mapping_file)
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
        results = [
            run("pandas.read_csv (read only, dates parsed)", [follow], tmp, kind="pandas"),
            run("pyarrow.csv.read_csv (read only, dates parsed)", [follow], tmp, kind="pyarrow"),
            run("ingest: follow-ups only", [follow], tmp),
            run("ingest: follow-ups through a mapping", [mapped], tmp, mapping),
            run("ingest: follow-ups + enrolments", [follow, enrol], tmp),
        ]
        sizes = {p.name: p.stat().st_size for p in (follow, enrol)}
    print(f"Ingest benchmark: {args.rows:,} follow-up rows (CSV, German format, {ERROR_SHARE:.1%} planted errors); "
          f"generated in {generated:.1f} s; {os.cpu_count()} CPU(s), Python {platform.python_version()}\n")  # fmt: skip
    pandas_s, arrow_s = results[0]["seconds"], results[1]["seconds"]
    print(
        "| scenario | rows read | quarantined | seconds | rows/s | peak RSS (MB) | x pandas | x pyarrow |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        r["ratio_pandas"] = r["seconds"] / pandas_s
        r["ratio_pyarrow"] = r["seconds"] / arrow_s
        print(f"| {r['scenario']} | {r['rows_read']:,} | {r['rows_quarantined']:,} | {r['seconds']:.1f} | "
              f"{r['rows_per_second']:,.0f} | {r['peak_rss_mb']:,.0f} | {r['ratio_pandas']:.2f} | {r['ratio_pyarrow']:.2f} |")  # fmt: skip
    out = REPO / "benchmarks" / "results" / "ingest.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {"rows": args.rows, "files_bytes": sizes, "cpus": os.cpu_count(), "results": results},
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
