"""Command line: ``python -m evaluation ingest PATH...`` and ``python -m evaluation templates DIR``.

The ingest prints, in German (``--language en``: English), which tables were read and
which were taken over from the previous snapshot, the reconciliation per table (rows
read = accepted + quarantined), what changed since the previous snapshot, every source
column used or ignored and why, what was quarantined and why, and where the snapshot and
the quarantine file are. ``--suggest-mapping FILE`` drafts a mapping file instead.

Exit codes: 0 the ingest completed (also when rows were quarantined: they are listed);
2 wrong usage, a file cannot be read, the mapping is invalid, the key is refused or the
snapshot would be incomplete - one line naming the file and the reason, nothing written.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from evaluation.ingest.language import LANGUAGES, Language, say, speaking
from evaluation.ingest.mapping import MappingError
from evaluation.ingest.pipeline import IngestResult, ingest
from evaluation.ingest.pseudonymise import KEY_ENV, KeyFileError
from evaluation.ingest.quality import quarantine_summary
from evaluation.ingest.read import IngestError

EXIT_OK = 0
EXIT_UNREADABLE = 2
EXIT_USAGE = 2


def _language_of(argv: Sequence[str]) -> Language:
    """``--language`` as given (before parsing, so that ``--help`` is in that language)."""
    for i, arg in enumerate(argv):
        value = None
        if arg == "--language" and i + 1 < len(argv):
            value = argv[i + 1]
        elif arg.startswith("--language="):
            value = arg.split("=", 1)[1]
        if value in LANGUAGES:
            return value  # type: ignore[return-value]
    return "de"


def _localise(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """German headings and ``-h`` help (argparse itself speaks English)."""
    parser._positionals.title = say("Argumente", "positional arguments")
    parser._optionals.title = say("Optionen", "options")
    parser.add_argument("-h", "--help", action="help", default=argparse.SUPPRESS,
                        help=say("diese Hilfe zeigen und beenden", "show this help and exit"))  # fmt: skip
    return parser


def build_parser(prog: str = "python -m evaluation ingest") -> argparse.ArgumentParser:
    """The ingest's argument parser, worded in the current language."""
    parser = argparse.ArgumentParser(
        prog=prog,
        add_help=False,
        description=say(
            "Exporte der Agentur (CSV, XLSX, offene Daten der Stadt Köln) einlesen, prüfen, "
            "pseudonymisieren und als Daten-Schnappschuss speichern; Zeilen, die den "
            "Datenvertrag verletzen, werden mit Grund zurückgestellt (data/quarantine/). "
            "Tabellen, die nicht eingelesen werden, kommen unverändert aus dem vorigen "
            "Schnappschuss.",
            "Read agency exports (CSV, XLSX, City of Cologne open data), validate and "
            "pseudonymise them and write a data snapshot; rows that break the contract go "
            "to quarantine with their reason (data/quarantine/). Tables not read are taken "
            "unchanged from the previous snapshot.",
        ),
        epilog=say(
            "Exit-Status: 0 fertig (auch mit zurückgestellten Zeilen), 2 falscher Aufruf, "
            "Datei unlesbar, Zuordnung ungültig, Schlüssel abgelehnt oder Schnappschuss "
            "unvollständig (nichts geschrieben).",
            "Exit status: 0 done (also with quarantined rows), 2 wrong usage, unreadable "
            "file, invalid mapping, key refused or incomplete snapshot (nothing written).",
        ),
    )
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                        help=say("Exportdateien oder Ordner", "export files or folders"))  # fmt: skip
    parser.add_argument("--mapping", metavar="FILE", default=None,
                        help=say("Zuordnungsdatei (Vorgabe: data/mapping.yml, falls vorhanden; mitgeliefert: kobo-fsw, limesurvey-fsw)",
                                 "mapping file (default: data/mapping.yml if present; shipped: kobo-fsw, limesurvey-fsw)"))  # fmt: skip
    parser.add_argument("--suggest-mapping", metavar="FILE", type=Path, default=None,
                        help=say("Entwurf einer Zuordnungsdatei aus Kopfzeilen und Werten von FILE ausgeben (nichts wird eingelesen)",
                                 "print a draft mapping file from the headers and values of FILE (nothing is ingested)"))  # fmt: skip
    parser.add_argument("-o", "--output", type=Path, default=None, metavar="FILE",
                        help=say("mit --suggest-mapping: Entwurf in FILE schreiben statt ausgeben (wird nicht überschrieben)",
                                 "with --suggest-mapping: write the draft to FILE instead of printing it (never overwritten)"))  # fmt: skip
    parser.add_argument("--key-file", type=Path, default=None, metavar="FILE",
                        help=say(f"Pseudonymisierungsschlüssel (Vorgabe: ${KEY_ENV} oder ~/.config/evaluation/pseudonym.key)",
                                 f"pseudonymisation key (default: ${KEY_ENV} or ~/.config/evaluation/pseudonym.key)"))  # fmt: skip
    parser.add_argument("--new-key", action="store_true",
                        help=say("bewusst einen anderen oder neuen Schlüssel verwenden: alle Personen erhalten neue Pseudonyme, keine Verknüpfung mit früheren Daten",
                                 "use another or a new key on purpose: everyone gets new pseudonyms, no linkage with earlier data"))  # fmt: skip
    parser.add_argument("--dry-run", action="store_true",
                        help=say("prüfen und berichten, nichts schreiben", "check and report, write nothing"))  # fmt: skip
    parser.add_argument("--ignore-sheet", action="append", default=[], metavar="NAME",
                        help=say("ein Blatt einer Arbeitsmappe auslassen (wiederholbar)", "leave out a workbook sheet (repeatable)"))  # fmt: skip
    parser.add_argument("--language", choices=LANGUAGES, default="de",
                        help=say("Sprache der Ausgabe (Vorgabe: de)", "language of the output (default: de)"))  # fmt: skip
    return _localise(parser)


_RECONCILIATION_DE = {
    "table": "Tabelle", "sources": "Quellen", "rows_read": "gelesen", "rows_accepted": "angenommen",
    "rows_quarantined": "zurückgestellt", "blank_rows": "leer", "balanced": "stimmt",
    "rows_before": "vorher", "rows_after": "nachher", "added": "neu", "removed": "entfallen",
    "changed": "geändert", "unchanged": "unverändert", "check": "Prüfung", "column": "Spalte",
    "rows": "Zeilen", "reason": "Grund",
}  # fmt: skip


def _table(df: pd.DataFrame) -> str:
    if say("de", "en") == "de":
        df = df.rename(columns=_RECONCILIATION_DE)
        df = df.replace({True: "ja", False: "nein"}) if "stimmt" in df else df
    return "  " + df.to_string(index=False).replace("\n", "\n  ")


def report(result: IngestResult) -> str:
    """The text printed after an ingest (in the current language)."""
    files = len(result.sources)
    lines = []
    if result.snapshot is not None:
        lines.append(say(f"{files} Datei(en) eingelesen -> Schnappschuss {result.snapshot.id} ({result.snapshot.path})",
                         f"Ingested {files} file(s) -> snapshot {result.snapshot.id} ({result.snapshot.path})"))  # fmt: skip
    else:
        lines.append(say(f"{files} Datei(en) geprüft (Probelauf: nichts geschrieben)",
                         f"Checked {files} file(s) (dry run: nothing written)"))  # fmt: skip
    if result.key_created is not None:
        lines += ["", say(
            f"NEUER SCHLÜSSEL angelegt: {result.key_created} - unbedingt sichern (z. B. verschlüsselt auf einem zweiten Datenträger)! Ohne ihn erhalten beim nächsten Import alle Personen neue Pseudonyme.",
            f"NEW KEY created: {result.key_created} - back it up (e.g. encrypted on a second medium)! Without it the next ingest gives everyone new pseudonyms.")]  # fmt: skip
    lines += ["", say("Tabellen:", "Tables:")]
    sources = {}
    for account in result.columns:
        sources.setdefault(account["table"], []).append(str(account["source"]))
    for table, origin in result.origin.items():
        if origin == "ingest":
            text = say("neu eingelesen aus ", "read from ") + ", ".join(sources.get(table, []))
        else:
            text = say(
                f"unverändert übernommen aus Schnappschuss {origin}",
                f"taken unchanged from snapshot {origin}",
            )
        lines.append(f"  {table:<22} {text}")
    lines += ["", say("Abgleich (gelesen = angenommen + zurückgestellt; leere Zeilen extra):",
                      "Reconciliation (rows read = accepted + quarantined; blank rows apart):"),
              _table(result.reconciliation)]  # fmt: skip
    changes = result.changes
    if result.previous is not None and len(changes):
        lines += ["", say(f"Änderungen gegenüber dem vorigen Schnappschuss {result.previous}:",
                          f"Changes against the previous snapshot {result.previous}:"),
                  _table(changes.fillna("-"))]  # fmt: skip
    lines += ["", say("Spalten je Datei:", "Columns per file:")]
    for account in result.columns:
        lines.append(f"  {account['source']} -> {account['table']}")
        lines.append("    " + say(
            f"Zeilen: {account['rows_read']} gelesen = {account['rows_accepted']} angenommen + {account['rows_quarantined']} zurückgestellt; {account['blank_rows']} leer",
            f"rows: {account['rows_read']} read = {account['rows_accepted']} accepted + {account['rows_quarantined']} quarantined; {account['blank_rows']} blank"))  # fmt: skip
        used = ", ".join(f"{h} -> {c}" for h, c in account["used"].items())
        lines.append("    " + say("übernommen: ", "used: ") + (used or "-"))
        for header, why in account["ignored"].items():
            lines.append("    " + say("nicht übernommen: ", "not taken: ") + f"{header} ({why})")
        if account["missing_optional"]:
            lines.append("    " + say("fehlt (optional, bleibt leer): ", "missing (optional, left empty): ")
                         + ", ".join(account["missing_optional"]))  # fmt: skip
        if account["skipped_rows"]:
            lines.append("    " + say(f"{account['skipped_rows']} Zeile(n) laut Zuordnung übersprungen (skip_where)",
                                      f"{account['skipped_rows']} row(s) skipped as the mapping says (skip_where)"))  # fmt: skip
    quarantined = result.rows_quarantined
    if quarantined:
        lines += ["", say(f"ZURÜCKGESTELLT: {quarantined} Zeile(n) haben die Prüfung nicht bestanden und sind NICHT im Schnappschuss.",
                          f"QUARANTINED: {quarantined} row(s) did not pass and are NOT in the snapshot.")]  # fmt: skip
        if result.quarantine_file is not None:
            lines.append(say(f"Einzelheiten (Datei, Zeile, Spalte, Grund): {result.quarantine_file}",
                             f"Details (file, row, column, reason): {result.quarantine_file}"))  # fmt: skip
        summary = quarantine_summary(result.quarantine, say("de", "en"))[
            ["table", "check", "column", "rows", "reason"]
        ]
        lines.append(_table(summary))
    else:
        lines += ["", say("Keine Zeile zurückgestellt.", "No rows quarantined.")]
    for title, items in (
        (say("Hinweise", "Warnings"), result.warnings),
        (say("Nicht prüfbar", "Checks not possible"), result.skipped_checks),
    ):
        if items:
            lines += ["", f"{title}:", *(f"  - {item}" for item in items)]
    return "\n".join(lines)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def main(argv: list[str] | None = None) -> int:
    """Run the ingest from the command line (``--help`` included); return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    language = _language_of(argv)
    with speaking(language):
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help (0) or wrong usage (2, message printed)
            return int(exc.code or 0)
        if args.suggest_mapping is not None:
            return _suggest(args)
        if not args.paths:
            parser.print_usage(sys.stderr)
            print(say("ingest: Dateien oder Ordner angeben (oder --suggest-mapping FILE)",
                      "ingest: give files or folders (or --suggest-mapping FILE)"), file=sys.stderr)  # fmt: skip
            return EXIT_USAGE
        try:
            result = ingest(
                args.paths,
                key_file=args.key_file,
                write=not args.dry_run,
                ignore_sheets=args.ignore_sheet,
                mapping=args.mapping,
                new_key=args.new_key,
                language=language,
            )
        except (IngestError, KeyFileError, MappingError) as exc:
            prefix = (
                say("ingest: nicht lesbar: ", "ingest: cannot read ")
                if isinstance(exc, IngestError)
                else "ingest: "
            )
            print(prefix + _one_line(exc), file=sys.stderr)
            return EXIT_UNREADABLE
        print(report(result))
        return EXIT_OK


def _suggest(args: argparse.Namespace) -> int:
    from evaluation.ingest.suggest import suggest_mapping

    try:
        text = suggest_mapping(args.suggest_mapping)
    except (IngestError, MappingError) as exc:
        print("ingest --suggest-mapping: " + _one_line(exc), file=sys.stderr)
        return EXIT_UNREADABLE
    if args.output is None:
        print(text, end="")
        return EXIT_OK
    if args.output.exists():
        print(say(f"ingest --suggest-mapping: {args.output} gibt es schon; nicht überschrieben",
                  f"ingest --suggest-mapping: {args.output} exists; not overwritten"), file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(say(f"Entwurf geschrieben: {args.output} - prüfen, anpassen, dann mit --mapping verwenden (oder als data/mapping.yml speichern)",
              f"Draft written: {args.output} - check it, edit it, then use it with --mapping (or save it as data/mapping.yml)"))  # fmt: skip
    return EXIT_OK


def build_templates_parser(prog: str = "python -m evaluation templates") -> argparse.ArgumentParser:
    """The argument parser of the ``templates`` subcommand."""
    parser = argparse.ArgumentParser(
        prog=prog,
        add_help=False,
        description=say(
            "Leere Erfassungsvorlagen aus dem Datenvertrag schreiben: eine XLSX-Arbeitsmappe "
            "(ein Blatt je Tabelle, deutsche Spaltenköpfe, Auswahllisten, Datumszellen, ein "
            "Blatt mit Erläuterungen), dieselben Tabellen als CSV und den FSW-Fragebogen als "
            "XLSForm (KoboToolbox, ODK). Ausgefüllt werden sie ohne Zuordnungsdatei eingelesen.",
            "Write empty data-entry templates from the data contract: an XLSX workbook (one "
            "sheet per table, German headers, drop-down lists, date cells, a sheet explaining "
            "each column), the same tables as CSV and the FSW questionnaire as an XLSForm "
            "(KoboToolbox, ODK). Filled in, they are ingested without a mapping file.",
        ),
        epilog=say("Exit-Status: 0 geschrieben, 2 falscher Aufruf oder Dateien gibt es schon.",
                   "Exit status: 0 written, 2 wrong usage or the files exist already."),
    )  # fmt: skip
    parser.add_argument("directory", type=Path, metavar="DIR",
                        help=say("Zielordner (wird angelegt)", "target folder (created)"))  # fmt: skip
    parser.add_argument("--force", action="store_true",
                        help=say("vorhandene Vorlagen überschreiben", "overwrite existing templates"))  # fmt: skip
    parser.add_argument("--language", choices=LANGUAGES, default="de",
                        help=say("Sprache der Erläuterungen (Vorgabe: de)", "language of the explanations (default: de)"))  # fmt: skip
    return _localise(parser)


def templates_main(argv: list[str] | None = None) -> int:
    """``python -m evaluation templates DIR``; return the exit code."""
    from evaluation.ingest.templates import TemplateError, write_templates

    argv = list(sys.argv[1:] if argv is None else argv)
    language = _language_of(argv)
    with speaking(language):
        try:
            args = build_templates_parser().parse_args(argv)
        except SystemExit as exc:
            return int(exc.code or 0)
        try:
            written = write_templates(args.directory, language=language, overwrite=args.force)
        except TemplateError as exc:
            print("templates: " + _one_line(exc), file=sys.stderr)
            return EXIT_USAGE
        print(
            say(f"{len(written)} Vorlage(n) geschrieben:", f"{len(written)} template(s) written:")
        )
        for path in written:
            print(f"  {path}")
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover - thin wrapper
    raise SystemExit(main())
