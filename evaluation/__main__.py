"""Command line: ``python -m evaluation {run,status,plan,demo,index,ingest}``."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m evaluation",
        description="Impact-evaluation workspace: run the notebooks of the plan and publish reports.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run",
        help="execute the plan (params/*.yml) and publish HTML reports",
        description=(
            "Execute every run of the plan through papermill in parallel worker processes and "
            "export HTML reports to reports/. Runs whose inputs (notebook, parameters, data "
            "snapshot, evaluation package source) are unchanged are skipped. A failing notebook "
            "does not stop the others; the command then exits with status 1. A wrong parameter "
            "file stops everything before any kernel starts (exit status 2)."
        ),
    )
    run.add_argument(
        "files", nargs="*", type=Path, help="parameter files (default: all of params/)"
    )
    run.add_argument(
        "--due",
        action="store_true",
        help="only periods that are due by today (honours lag_days); catches up missed periods",
    )
    run.add_argument(
        "--only",
        action="append",
        metavar="PLAN",
        help="only this plan (file stem) or run-key prefix; repeatable",
    )
    run.add_argument(
        "--period",
        action="append",
        metavar="LABEL",
        help="only this period label, e.g. 2024 or 2024-Q1; repeatable",
    )
    run.add_argument(
        "--jobs", "-j", type=int, default=None, help="parallel workers (default: one per core)"
    )
    run.add_argument("--force", action="store_true", help="run even when nothing changed")
    run.add_argument("--today", type=date.fromisoformat, default=None, help=argparse.SUPPRESS)

    status = sub.add_parser("status", help="list recent runs and their outcome")
    status.add_argument("--limit", "-n", type=int, default=20)

    sub.add_parser("plan", help="list the runs of the plan and whether they are up to date")

    demo = sub.add_parser("demo", help="create the demo data snapshot (when there is no data yet)")
    demo.add_argument("--force", action="store_true", help="create it even when data exists")

    sub.add_parser("index", help="rebuild reports/index.html")

    ingest = sub.add_parser(
        "ingest",
        help="read agency exports into a validated, pseudonymised snapshot",
        add_help=False,
    )
    ingest.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


def _run(args: argparse.Namespace) -> int:
    from evaluation.data import SnapshotError
    from evaluation.plan import PlanError
    from evaluation.runner import run_plan

    try:
        summary = run_plan(
            files=args.files or None,
            due=args.due,
            only=args.only,
            period=args.period,
            jobs=args.jobs,
            force=args.force,
            today=args.today,
        )
    except (PlanError, SnapshotError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return summary.exit_code


def _status(args: argparse.Namespace) -> int:
    from evaluation.history import recent_runs

    rows = recent_runs(args.limit)
    if not rows:
        print("No runs recorded yet.")
        return EXIT_OK
    for r in rows:
        duration = f"{r['duration_s']:.1f} s" if r["duration_s"] is not None else ""
        print(
            f"{r['started_at'] or '':<26} {r['status']:<7} {duration:>8}  {r['run_key']}  ({r['run_id']})"
        )
        if r["error"]:
            import json

            print(f"{'':<26} {json.loads(r['error']).get('summary', '')}")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["ingest"] and not set(argv[1:2]) & {"-h", "--help"}:
        from evaluation.ingest.cli import main as ingest_main  # its own options come first

        return ingest_main(argv[1:])
    args = _parser().parse_args(argv)
    if args.command == "run":
        return _run(args)
    if args.command == "status":
        return _status(args)
    if args.command == "plan":
        from evaluation.plan import PlanError
        from evaluation.runner import dry_run

        try:
            return dry_run()
        except PlanError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
    if args.command == "demo":
        from evaluation.data import ensure_demo

        info = ensure_demo(force=args.force)
        print(
            f"Data snapshot {info.id} ({info.source}) with {len(info.tables)} tables in {info.path}"
        )
        return EXIT_OK
    if args.command == "index":
        from evaluation.report import write_index

        print(write_index())
        return EXIT_OK
    if args.command == "ingest":
        from evaluation.ingest.cli import main as ingest_main

        return ingest_main(args.rest or ["--help"])
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
