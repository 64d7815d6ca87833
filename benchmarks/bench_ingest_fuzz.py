"""Benchmark of the ingest's fuzz suite: mutated demo exports ingested per second.

Draws inputs from the same strategy as ``tests/test_ingest_fuzz.py`` (the demo's CSV
exports cut to their first 40 rows, then mutated: bytes, encodings, delimiters, quotes,
headers, columns, huge cells, formulas, title lines), ingests each into a fresh workspace
and counts how many end with a snapshot and how many with a one-line refusal. Run::

    .venv/bin/python benchmarks/bench_ingest_fuzz.py            # 200 inputs
    .venv/bin/python benchmarks/bench_ingest_fuzz.py --inputs 50

Prints a markdown table and writes ``benchmarks/results/ingest_fuzz.json``.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=200, help="mutated inputs to ingest")
    args = parser.parse_args()

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from evaluation.demo_exports import write_demo_exports
    from evaluation.ingest import IngestError, ingest
    from evaluation.ingest.read import decode
    from tests.test_ingest_fuzz import CSV_EXPORTS, ROWS, mutated
    from tests.test_ingest_helpers import fresh_workspace

    tmp = Path(tempfile.mkdtemp(prefix="bench-fuzz-"))
    heads = {}
    for path in write_demo_exports(tmp / "demo"):
        if path.name in CSV_EXPORTS:
            text, encoding = decode(path.read_bytes(), path.name)
            heads[path.name] = (
                "".join(io.StringIO(text, newline="").readlines()[: ROWS + 1]),
                encoding,
            )
    outcome = {"snapshot": 0, "refused": 0, "bytes": 0}
    seconds = [0.0]

    @settings(max_examples=args.inputs, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(st.data())
    def one(data):
        name, content = data.draw(mutated(heads))
        work = tmp / "case"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        p, key = fresh_workspace(work)
        (work / name).write_bytes(content)
        start = time.perf_counter()
        try:
            ingest([work / name], root=p, key_file=key)
            outcome["snapshot"] += 1
        except IngestError:
            outcome["refused"] += 1
        seconds[0] += time.perf_counter() - start
        outcome["bytes"] += len(content)

    wall = time.perf_counter()
    one()
    wall = time.perf_counter() - wall
    shutil.rmtree(tmp, ignore_errors=True)
    total = outcome["snapshot"] + outcome["refused"]
    print(
        f"Fuzz benchmark: {total} mutated demo exports (mean {outcome['bytes'] / max(total, 1) / 1024:.0f} KB)\n"
    )
    print(
        "| inputs | snapshot | refused (one line) | ingest s | inputs/s (ingest) | inputs/s (with generation, workspaces) |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    print(f"| {total} | {outcome['snapshot']} | {outcome['refused']} | {seconds[0]:.1f} | "
          f"{total / seconds[0]:.1f} | {total / wall:.1f} |")  # fmt: skip
    out = REPO / "benchmarks" / "results" / "ingest_fuzz.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {**outcome, "inputs": total, "ingest_seconds": seconds[0], "wall_seconds": wall},
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
