"""Command line: ``python -m evaluation {run,plan,status,demo,index,ingest,templates}``.

Exit status: 0 done, 1 a run failed or a fault stopped the runner (one line names the file
and the cause), 2 wrong usage (unknown plan, schedule, period or parameter; a wrong
parameter file), 141 the output pipe was closed (e.g. ``plan | head``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import date
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PIPE = 0, 1, 2, 141
log = logging.getLogger("evaluation.cli")


def _verbosity(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "-q", "--quiet", action="store_true", help="only warnings and errors on the console"
    )
    group.add_argument("-v", "--verbose", action="store_true", help="also debug messages")


def _agencies(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--agency",
        action="append",
        metavar="ID",
        help="nur diese Agentur (Ordner agencies/ID mit agency.yml); wiederholbar. Ohne "
        "--agency und --all-agencies: der Arbeitsbereich im Projektordner, wenn er Daten hat "
        "oder es keine agencies/ gibt, sonst alle Agenturen",
    )
    group.add_argument(
        "--all-agencies",
        action="store_true",
        help="alle Agenturen unter agencies/ (je eigene Daten, Berichte und Historie)",
    )


def _selection(parser: argparse.ArgumentParser) -> None:
    _agencies(parser)
    parser.add_argument(
        "--due",
        action="store_true",
        help="only periods that are due by today (honours lag_days); catches up missed periods",
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="PLAN",
        help="only this plan (file stem) or run-key prefix, e.g. labour_market/jahr; repeatable; "
        "an unknown name is an error that lists the plans",
    )
    parser.add_argument(
        "--period",
        action="append",
        metavar="LABEL",
        help="only this period label, e.g. 2024 or 2024-Q1; repeatable",
    )
    parser.add_argument("--today", type=date.fromisoformat, default=None, help=argparse.SUPPRESS)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m evaluation",
        description="Impact-evaluation workspace: run the notebooks of the plan and publish reports.",
        epilog="Every subcommand answers --help. Exit status: 0 done, 1 a run failed or a fault "
        "stopped the runner, 2 wrong usage.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="execute the plan (params/*.yml) and publish HTML reports",
        description=(
            "Execute every run of the plan through papermill in parallel worker processes and "
            "export HTML reports to reports/. Runs whose inputs (notebook, parameters, data "
            "snapshot, evaluation package source, and for after: plans the recorded figures "
            "they read) are unchanged are skipped. A failing notebook or a dead worker does "
            "not stop the others; the command then exits with status 1. A wrong parameter "
            "file or an unknown name stops everything before any kernel starts (status 2). "
            "What a crashed earlier call left behind is repaired first. Each call writes a "
            "log file to data/.state/logs/."
        ),
    )
    run.add_argument(
        "files", nargs="*", type=Path, help="parameter files (default: all of params/)"
    )
    _selection(run)
    run.add_argument(
        "-p",
        "--parameter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a notebook parameter for the selected runs only (checked against the "
        "notebook's parameters cell); such runs always execute, are marked in their manifest, "
        "are published apart under reports/adhoc/ and record nothing in the history; "
        "repeatable",
    )
    run.add_argument(
        "--jobs", "-j", type=int, default=None, help="parallel workers (default: one per core)"
    )
    run.add_argument("--force", action="store_true", help="run even when nothing changed")
    run.add_argument(
        "--executor",
        choices=("local", "dask"),
        default="local",
        help="where runs execute: worker processes on this machine (default) or a Dask cluster",
    )
    run.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        default=None,
        help="Dask scheduler address for --executor dask (default: DASK_SCHEDULER_ADDRESS, "
        "else a LocalCluster of --jobs worker processes on this machine)",
    )
    run.add_argument(
        "--fresh-kernels",
        action="store_true",
        help="a fresh kernel for every run instead of one warm kernel per worker",
    )
    run.add_argument(
        "--wait",
        type=float,
        default=3600.0,
        metavar="SECONDS",
        help="how long a run waits for the runs it reads when another process runs them "
        "(default 3600; then it is left for the next call)",
    )
    run.add_argument(
        "--progress",
        choices=("auto", "bar", "lines"),
        default="auto",
        help="progress bar on a terminal, plain lines otherwise (default auto)",
    )
    _verbosity(run)

    plan = sub.add_parser(
        "plan",
        help="list the runs of the plan and whether they are up to date",
        description="List every run of the plan with the state `run` would find: up to date, "
        "to run, to run after its inputs, running elsewhere. Nothing is run or written.",
    )
    _selection(plan)
    _verbosity(plan)

    status = sub.add_parser(
        "status",
        help="list recent runs and their outcome",
        description="List recent runs from the results history. With a damaged history it "
        "says what is wrong and lists the runs from the published manifests instead.",
    )
    status.add_argument("--limit", "-n", type=int, default=20, help="how many runs (default 20)")
    _agencies(status)
    _verbosity(status)

    demo = sub.add_parser(
        "demo",
        help="create the demo data snapshot (when there is no data yet)",
        description="Write the deterministic demo data as a snapshot (directly, without ingest). "
        "Mit --agencies N: N synthetische Agenturen verschiedener Größe unter agencies/demo-01 … "
        "(je agency.yml, eigene Demo-Exporte, eigener Pseudonymisierungsschlüssel, Import wie "
        "echte Daten, Demo-Texte).",
    )
    demo.add_argument("--force", action="store_true", help="create it even when data exists")
    demo.add_argument(
        "--agencies",
        type=int,
        default=None,
        metavar="N",
        help="N Demo-Agenturen anlegen (vorhandene bleiben, außer mit --force)",
    )

    index = sub.add_parser(
        "index",
        help="rebuild reports/index.html",
        description="Rebuild reports/index.html (of each selected agency); with agencies also "
        "the project's reports/index.html over all of them (agencies/ without data at the "
        "root). A folder below agencies/ that is no agency is listed there with the reason.",
    )
    _agencies(index)
    index.add_argument(
        "--language",
        choices=("de", "en"),
        default="de",
        help="Sprache der Startseiten (Standard: de)",
    )
    sub.add_parser(
        "ingest",
        help="read agency exports into a validated, pseudonymised snapshot (see ingest --help)",
        add_help=False,
    )
    sub.add_parser(
        "templates",
        help="write empty export templates for the agency (see templates --help)",
        add_help=False,
    )
    return parser


def _level(args: argparse.Namespace) -> int:
    return -1 if getattr(args, "quiet", False) else (1 if getattr(args, "verbose", False) else 0)


def _chosen_agencies(args: argparse.Namespace, p):
    """The agencies of ``--agency``/``--all-agencies`` (see evaluation.agencies.select)."""
    from evaluation.agencies import select

    return select(p, args.agency, all_agencies=args.all_agencies)


def _run(args: argparse.Namespace) -> int:
    from evaluation.agencies import AgencyError
    from evaluation.data import SnapshotError
    from evaluation.history import HistoryError
    from evaluation.paths import paths
    from evaluation.plan import PlanError
    from evaluation.runner import WorkspaceError, configure_logging, parse_overrides, run_plan

    p = paths()
    try:
        agencies = _chosen_agencies(args, p)
    except AgencyError as exc:
        configure_logging(verbosity=_level(args))
        log.error("%s", exc)
        return EXIT_USAGE
    log_dir = p.logs if len(agencies) != 1 else agencies[0].paths.logs
    log_file = configure_logging(verbosity=_level(args), log_dir=log_dir)
    if log_file:
        log.debug("log file: %s", log_file)
    progress = {"auto": None, "bar": True, "lines": False}[args.progress]
    from evaluation import execute as ex
    from evaluation.runner import execute_warm

    executor = ex.execute if args.fresh_kernels else execute_warm  # engines imported lazily
    jobs, client, cluster = args.jobs, None, None
    if args.executor == "dask":
        from evaluation import distributed

        try:
            client, cluster = distributed.connect(args.scheduler, args.jobs)
        except distributed.SchedulerError as exc:
            log.error("%s", exc)
            return EXIT_FAILED
        print(f"Dask-Dashboard: {client.dashboard_link}", file=sys.stderr, flush=True)
        executor = distributed.DaskExecutor(client.scheduler.address, warm=not args.fresh_kernels)
        jobs = args.jobs or distributed.cluster_size(client)
    try:
        summary = run_plan(
            executor=executor,
            root=p,
            files=args.files or None,
            due=args.due,
            only=args.only,
            period=args.period,
            overrides=parse_overrides(args.parameter),
            jobs=jobs,
            force=args.force,
            today=args.today,
            progress=progress,
            wait_s=args.wait,
            agencies=agencies,
        )
    except (PlanError, SnapshotError, AgencyError) as exc:
        log.error("%s", exc)
        return EXIT_USAGE
    except (WorkspaceError, HistoryError) as exc:
        log.error("%s", exc)
        return EXIT_FAILED
    except OSError as exc:
        from evaluation.execute import describe_error

        log.error("%s", describe_error(exc))
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    return summary.exit_code


def _plan(args: argparse.Namespace) -> int:
    from evaluation.agencies import AgencyError
    from evaluation.data import SnapshotError
    from evaluation.history import HistoryError
    from evaluation.paths import paths
    from evaluation.plan import PlanError
    from evaluation.runner import configure_logging, dry_run

    configure_logging(verbosity=_level(args))
    try:
        p = paths()
        return dry_run(
            root=p,
            due=args.due,
            only=args.only,
            period=args.period,
            today=args.today,
            agencies=_chosen_agencies(args, p),
        )
    except (PlanError, SnapshotError, AgencyError) as exc:
        log.error("%s", exc)
        return EXIT_USAGE
    except HistoryError as exc:
        log.error("%s", exc)
        return EXIT_FAILED


def _status(args: argparse.Namespace) -> int:

    from evaluation.agencies import AgencyError
    from evaluation.paths import paths
    from evaluation.runner import configure_logging

    configure_logging(verbosity=_level(args))
    try:
        agencies = _chosen_agencies(args, paths())
    except AgencyError as exc:
        log.error("%s", exc)
        return EXIT_USAGE
    code = EXIT_OK
    for agency in agencies:
        if len(agencies) > 1 or not agency.is_root:
            print(f"== {agency.id}: {agency.name} ({agency.paths.root})")
        code = max(code, _status_of(agency.paths, args.limit))
    if not agencies:
        print("Keine Agentur gewählt.")
    return code


def _status_of(p, limit: int) -> int:
    import json

    from evaluation import history
    from evaluation.execute import pending_commits

    code = EXIT_OK
    problem = history.check(p.history)
    rows: list[dict] = []
    if problem is None:
        try:
            rows = history.recent_runs(limit, root=p)
        except history.HistoryError as exc:
            problem = str(exc)
    if problem:
        log.error("%s", problem)
        print("Runs from the published manifests (the history cannot be read):")
        rows = _runs_from_manifests(p, limit)
        code = EXIT_FAILED
    for record in pending_commits(p):
        print(f"interrupted publication, completed by the next run: {record.name}")
    if not rows:
        print("No runs recorded yet.")
        return code
    for r in rows:
        duration = f"{r['duration_s']:.1f} s" if r.get("duration_s") is not None else ""
        print(
            f"{r.get('started_at') or '':<26} {r['status']:<7} {duration:>8}  "
            f"{r['run_key']}  ({r['run_id']})"
        )
        if r.get("error"):
            error = r["error"] if isinstance(r["error"], dict) else json.loads(r["error"])
            print(f"{'':<26} {error.get('summary', '')}")
    return code


def _runs_from_manifests(p, limit: int) -> list[dict]:
    import json

    rows = []
    for name in ("manifest.json", "failed.json"):
        for file in p.reports.rglob(name) if p.reports.is_dir() else []:
            try:
                m = json.loads(file.read_text(encoding="utf-8"))
                rows.append({k: m.get(k) for k in ("run_id", "run_key", "status", "started_at", "duration_s", "error")})  # fmt: skip
            except (OSError, ValueError):
                continue
    rows = [r for r in rows if r["run_key"] and r["status"]]
    return sorted(rows, key=lambda r: r["started_at"] or "", reverse=True)[:limit]


def _forward(name: str, function: str, argv: list[str]) -> int:
    """Hand the arguments to a subcommand implemented elsewhere (its own --help)."""
    import importlib

    try:
        module = importlib.import_module(name)
        target = getattr(module, function)
    except (ImportError, AttributeError):
        print(
            f"error: `python -m evaluation {argv[0] if argv else ''}` is not available in this "
            f"installation ({name}.{function} is missing)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    return target(argv)


def _index(args: argparse.Namespace) -> int:
    """``index``: each selected agency's start page, then the project's over the agencies.

    ``--all-agencies`` (or no selection in a project of agencies) writes the start page of
    every agency that loads and lists the others on the project page, each with one line on
    standard error (exit status 1); an unknown ``--agency`` is exit status 2.
    """
    from evaluation.agencies import AgencyError, survey
    from evaluation.paths import paths
    from evaluation.report import has_project_index, write_index, write_project_index

    p = paths()
    language = args.language
    broken = []
    if args.all_agencies or (not args.agency and not _root_is_the_agency(p)):
        listed = survey(p)
        if not listed:
            print(f"error: --all-agencies: keine Agentur in {p.agencies}", file=sys.stderr)
            return EXIT_USAGE
        chosen = [item.agency for item in listed if item.agency is not None]
        broken = [item for item in listed if item.agency is None]
    else:
        try:
            chosen = _chosen_agencies(args, p)
        except AgencyError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
    for agency in chosen:
        print(write_index(agency.paths, language=language))
    if not (chosen and chosen[0].is_root) and has_project_index(p):
        print(write_project_index(p, language=language))
    for item in broken:
        print(f"warning: {item.folder.name}: keine Agentur: {item.problem}", file=sys.stderr)
    return EXIT_FAILED if broken else EXIT_OK


def _root_is_the_agency(p) -> bool:
    """:func:`evaluation.agencies.uses_root`, without failing on a broken ``agency.yml``."""
    from evaluation.agencies import survey

    return (p.snapshots / "LATEST").exists() or not any(i.agency for i in survey(p))


def _dispatch(argv: list[str]) -> int:
    if argv[:1] == ["ingest"]:
        return _forward("evaluation.ingest.cli", "main", argv[1:])
    if argv[:1] == ["templates"]:
        code = _forward("evaluation.ingest.cli", "templates_main", argv[1:])
        return code
    args = _parser().parse_args(argv)
    if args.command == "run":
        return _run(args)
    if args.command == "status":
        return _status(args)
    if args.command == "plan":
        return _plan(args)
    if args.command == "demo" and args.agencies is not None:
        from evaluation.agencies import AgencyError, create_demo

        try:
            made = create_demo(args.agencies, force=args.force, out=sys.stdout)
        except AgencyError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        print(f"{len(made)} Demo-Agenturen in {made[0].paths.root.parent}")
        return EXIT_OK
    if args.command == "demo":
        from evaluation import texts
        from evaluation.data import ensure_demo

        info = ensure_demo(force=args.force)
        texts.write_demo(texts.demo_years())  # marked demo texts; never overwrites a text
        print(
            f"Data snapshot {info.id} ({info.source}) with {len(info.tables)} tables in {info.path}"
        )
        return EXIT_OK
    if args.command == "index":
        return _index(args)
    return EXIT_USAGE


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        code = _dispatch(argv)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # the reader went away (``plan | head``): end quietly, as other command-line tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_PIPE


if __name__ == "__main__":
    sys.exit(main())
