"""Command line: ``python -m evaluation ingest PATH...``.

Prints the reconciliation per table (rows read = accepted + quarantined), what was
quarantined and why, and where the snapshot and the quarantine file are.

Exit codes: 0 the ingest completed (also when rows were quarantined: they are listed);
2 a file cannot be read or the key file is unsafe - one line naming the file and the
reason, nothing written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from evaluation.ingest.pipeline import IngestResult, ingest
from evaluation.ingest.pseudonymise import KEY_ENV, KeyFileError
from evaluation.ingest.quality import quarantine_summary
from evaluation.ingest.read import IngestError

EXIT_OK = 0
EXIT_UNREADABLE = 2


def build_parser(prog: str = "python -m evaluation ingest") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Read agency exports (CSV, XLSX, Cologne open data), validate and pseudonymise "
        "them and write a data snapshot; rows that break the contract go to quarantine.",
    )
    parser.add_argument(
        "paths", nargs="+", type=Path, metavar="PATH", help="export files or folders"
    )
    parser.add_argument("--key-file", type=Path, default=None,
                        help=f"pseudonymisation key (default: ${KEY_ENV} or ~/.config/evaluation/pseudonym.key)")  # fmt: skip
    parser.add_argument("--dry-run", action="store_true", help="check and report, write nothing")
    parser.add_argument("--ignore-sheet", action="append", default=[], metavar="NAME",
                        help="leave out a workbook sheet (repeatable)")  # fmt: skip
    return parser


def report(result: IngestResult) -> str:
    """The text printed after an ingest."""
    files = len(result.sources)
    lines = []
    if result.snapshot is not None:
        lines.append(
            f"Ingested {files} file(s) -> snapshot {result.snapshot.id} ({result.snapshot.path})"
        )
    else:
        lines.append(f"Checked {files} file(s) (dry run: nothing written)")
    lines += [
        "",
        "Reconciliation (rows read = accepted + quarantined):",
        _table(result.reconciliation),
    ]
    quarantined = result.rows_quarantined
    if quarantined:
        lines += [
            "",
            f"QUARANTINED: {quarantined} row(s) did not pass and are NOT in the snapshot.",
        ]
        if result.quarantine_file is not None:
            lines.append(f"Details (file, row, column, reason): {result.quarantine_file}")
        summary = quarantine_summary(result.quarantine, "en")[
            ["table", "check", "column", "rows", "reason"]
        ]
        lines.append(_table(summary))
    else:
        lines += ["", "No rows quarantined."]
    for title, items in (
        ("Warnings", result.warnings),
        ("Checks not possible", result.skipped_checks),
    ):
        if items:
            lines += ["", f"{title}:", *(f"  - {item}" for item in items)]
    return "\n".join(lines)


def _table(df: pd.DataFrame) -> str:
    return "  " + df.to_string(index=False).replace("\n", "\n  ")


def main(argv: list[str] | None = None) -> int:
    """Run the ingest from the command line; return the exit code."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        result = ingest(
            args.paths,
            key_file=args.key_file,
            write=not args.dry_run,
            ignore_sheets=args.ignore_sheet,
        )
    except (IngestError, KeyFileError) as exc:
        print(
            f"ingest: cannot read {exc}" if isinstance(exc, IngestError) else f"ingest: {exc}",
            file=sys.stderr,
        )
        return EXIT_UNREADABLE
    print(report(result))
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover - thin wrapper
    raise SystemExit(main())
