"""The agency's own words: narrative texts per year in Markdown, pulled into the annual report.

The evaluators write one Markdown file per section and year in the workspace::

    texte/<Jahr>/besonderheiten.md   Besonderheiten des Jahres
    texte/<Jahr>/ziele.md            Anmerkungen zu den Zielen (Soll/Ist)
    texte/<Jahr>/ausblick.md         Planung und Ausblick

(:data:`SECTIONS`; ``Paths.texts`` is the folder ``texte/``). The Markdown is rendered with
mistune (the Markdown library nbconvert uses) with raw HTML escaped, unsafe link targets
removed and headings moved below the report's section heading, so a text can never break the
page or bring in a script. A missing file is named in the report ("Text fehlt:
texte/2024/ausblick.md") and in the run log, never left silently empty.

The texts and the year's targets file are inputs of the annual report: :func:`run_inputs`
gives the digest the runner adds to the run's fingerprint, so editing a text reruns the report.
``python -m evaluation.texts demo`` writes demo texts (:func:`write_demo`), marked as demo
text; ``python -m evaluation.texts check`` lists what is missing or wrong, one line each.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from evaluation.paths import Paths, paths

Language = Literal["de", "en"]

#: The sections the agency writes, by file name (without ``.md``): German and English heading.
SECTIONS: dict[str, tuple[str, str]] = {
    "besonderheiten": ("Besonderheiten des Jahres", "Particulars of the year"),
    "ziele": ("Anmerkungen zu den Zielen", "Comments on the targets"),
    "ausblick": ("Planung und Ausblick", "Plans and outlook"),
}
#: Where a year's targets are kept, relative to the workspace (``{year}`` is filled in).
TARGETS_FILE = "params/ziele/{year}.yml"
#: Marks a demo text (first line of every text :func:`write_demo` writes).
DEMO_MARK = "Demo-Text"

MISSING = {
    "de": "Text fehlt: {path} – die Agentur legt diese Datei an und schreibt dort ihren Text.",
    "en": "Text missing: {path} – the agency creates this file and writes its text there.",
}


@dataclass(frozen=True)
class Text:
    """One narrative section of one year.

    ``path`` is shown to readers relative to the workspace (``texte/2024/ausblick.md``);
    ``markdown`` is ``None`` when the file does not exist.
    """

    name: str
    year: int
    path: str
    markdown: str | None

    @property
    def missing(self) -> bool:
        """True when the file does not exist or holds nothing but white space."""
        return self.markdown is None or not self.markdown.strip()

    @property
    def demo(self) -> bool:
        """True for a demo text written by :func:`write_demo` (not yet the agency's words)."""
        return not self.missing and DEMO_MARK in (self.markdown or "").lstrip()[:200]

    def heading(self, language: Language = "de") -> str:
        """The section heading readers see."""
        pair = SECTIONS.get(self.name, (self.name, self.name))
        return pair[0] if language == "de" else pair[1]

    def html(self, language: Language = "de", *, heading_level: int = 2) -> str:
        """The text as HTML (raw HTML escaped), or the note that names the missing file."""
        if self.missing:
            note = MISSING[language].format(path=self.path)
            return f'<p class="text-missing"><strong>{_escape(note)}</strong></p>'
        return (
            f'<div class="agency-text" data-text="{_escape(self.name)}">'
            f"{render(self.markdown or '', heading_level=heading_level)}</div>"
        )


def _escape(text: str) -> str:
    import html

    return html.escape(text, quote=True)


def render(markdown: str, *, heading_level: int = 2) -> str:
    """Markdown as HTML for a report: raw HTML escaped, headings below ``heading_level``.

    Uses mistune with ``escape=True`` (every ``<tag>`` in the text is shown as text, never
    interpreted) and its safe-URL check (``javascript:`` and similar links are dropped). A
    ``#`` heading of the text becomes ``<h{heading_level + 1}>``, so the agency's headings
    sit below the report's section heading (never deeper than ``<h6>``). Images are given
    by their text (a report loads nothing from elsewhere).
    """
    import mistune

    class _Renderer(mistune.HTMLRenderer):
        def heading(self, text: str, level: int, **attrs: Any) -> str:
            return super().heading(text, min(6, level + heading_level), **attrs)

        def image(self, text: str, url: str, title: str | None = None) -> str:
            # a report loads nothing from elsewhere: an image is named by its text
            return f"[{text}]" if text else ""

    md = mistune.create_markdown(
        escape=True, renderer=_Renderer(escape=True), plugins=["strikethrough"]
    )
    return str(md(markdown))


def folder(root: Paths | None = None, texts_dir: str = "texte") -> Path:
    """The texts folder: ``texts_dir`` relative to the workspace root (or absolute)."""
    p = root or paths()
    if texts_dir in ("", "texte"):
        return p.texts
    base = Path(texts_dir)
    return base if base.is_absolute() else p.root / base


def _display_path(path: Path, root: Paths) -> str:
    try:
        return path.resolve().relative_to(root.root.resolve()).as_posix()
    except ValueError:
        return str(path)


def load(
    year: int,
    names: Iterable[str] = SECTIONS,
    *,
    root: Paths | None = None,
    texts_dir: str = "texte",
) -> dict[str, Text]:
    """The texts of ``year`` by name (missing ones with ``markdown=None``).

    A file that is not valid UTF-8 is an error naming the file (one line).
    """
    p = root or paths()
    base = folder(p, texts_dir) / str(year)
    out: dict[str, Text] = {}
    for name in names:
        path = base / f"{name}.md"
        try:
            markdown: str | None = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            markdown = None
        except UnicodeDecodeError as exc:
            raise ValueError(
                f"{_display_path(path, p)}: not UTF-8 text (byte {exc.start}); save it as UTF-8"
            ) from None
        out[name] = Text(name, year, _display_path(path, p), markdown)
    return out


def log(line: str, out: Any = None) -> None:
    """Write one line to the run log.

    Inside a kernel the line goes both to the cell's standard error (kept in the executed
    notebook, not shown in the report) and to the kernel process's standard error, which the
    runner writes to ``data/.state/logs/<run key>.log``.
    """
    streams = [out] if out is not None else list(dict.fromkeys([sys.stderr, sys.__stderr__]))
    for stream in streams:
        if stream is None:
            continue
        print(line, file=stream)
        stream.flush()


def log_missing(texts: Mapping[str, Text], out: Any = None) -> list[str]:
    """Write one line per missing text to the run log (:func:`log`) and return the lines."""
    lines = [f"WARNING Text fehlt: {t.path}" for t in texts.values() if t.missing]
    for line in lines:
        log(line, out)
    return lines


def digest(paths_to_hash: Iterable[Path]) -> str:
    """SHA-256 over the names and contents of the given files (absent files count as absent)."""
    h = hashlib.sha256()
    for path in sorted(Path(x) for x in paths_to_hash):
        h.update(str(path.name).encode() + b"\0")
        try:
            h.update(path.read_bytes())
        except (FileNotFoundError, IsADirectoryError):
            h.update(b"<absent>")
        h.update(b"\0")
    return h.hexdigest()[:24]


def run_inputs(
    root: Paths, parameters: Mapping[str, Any], declared: Mapping[str, Any]
) -> dict[str, str]:
    """The texts and targets a run reads, as ``{"texts": digest}`` for its fingerprint.

    Empty for notebooks that do not declare a ``texts_dir`` parameter (every notebook but the
    annual report), so their fingerprints stay what they are. ``declared`` is the notebook's
    parameters cell (:func:`evaluation.nbparams.inspect`); the runner calls this in
    ``prepare`` and passes the result to :func:`evaluation.provenance.fingerprint`.
    """
    if "texts_dir" not in declared:
        return {}

    def value(name: str, fallback: str) -> str:
        if name in parameters:
            return str(parameters[name])
        spec = declared.get(name)
        return str(getattr(spec, "default", fallback) or fallback)

    year = int(str(parameters.get("period_start", value("period_start", "")))[:4])
    base = folder(root, value("texts_dir", "texte")) / str(year)
    files = sorted(base.glob("*.md")) if base.is_dir() else []
    targets = targets_path(root, year, value("targets_file", TARGETS_FILE))
    return {"texts": digest([*files, targets])}


def targets_path(root: Paths, year: int, pattern: str = TARGETS_FILE) -> Path:
    """The year's targets file: ``pattern`` with ``{year}`` filled in.

    A relative path is looked up in the agency's workspace first, then in the project (where
    ``params/`` lives when several agencies share one project).
    """
    path = Path(pattern.format(year=year))
    if path.is_absolute():
        return path
    own = root.root / path
    project = Path(getattr(root, "project_root", root.root))
    return own if own.exists() or project == root.root else project / path


DEMO_TEXTS: dict[str, str] = {
    "besonderheiten": (
        "> **{mark}** – die Agentur ersetzt ihn durch ihre eigenen Worte.\n\n"
        "{year} hat die Agentur ihre Beratung zur Anerkennung ausländischer Berufsabschlüsse "
        "mit zwei Sprechstunden im Bürgerzentrum Ehrenfeld erweitert. Besonders prägend "
        "waren:\n\n"
        "- der Wechsel einer Beraterin in Elternzeit, überbrückt durch eine Vertretung ab "
        "dem zweiten Quartal;\n"
        "- die **Kooperation mit dem Jobcenter Köln**, die neue Zugänge in die "
        "Arbeitsmarktprojekte gebracht hat;\n"
        "- ein Fest der Kulturen mit den Migrantenselbstorganisationen im Stadtteil.\n"
    ),
    "ziele": (
        "> **{mark}** – die Agentur ersetzt ihn durch ihre eigenen Worte.\n\n"
        "Die Ziele stammen aus der Aufgabenplanung {year}, die mit der Bezirksregierung "
        "abgestimmt wurde. Wo ein Ziel verfehlt wurde, nennt die Tabelle den Grund; "
        "ausführlicher: Die Nachbefragung der Ehemaligen hat weniger Menschen erreicht als "
        "geplant, weil Telefonnummern oft nicht mehr gültig waren.\n"
    ),
    "ausblick": (
        "> **{mark}** – die Agentur ersetzt ihn durch ihre eigenen Worte.\n\n"
        "Im kommenden Jahr will die Agentur\n\n"
        "1. die Nachbefragung der Ehemaligen der Arbeitsmarktprojekte ausbauen, damit mehr "
        "von ihnen erreicht werden, und\n"
        "2. die Wartegruppen-Vergleiche der Elterngruppen **fortführen**.\n"
    ),
}


def write_demo(years: Iterable[int], *, root: Paths | None = None) -> list[Path]:
    """Write the demo texts for ``years`` (marked as demo text) and return the files written.

    An existing file is never overwritten: it may hold the agency's own words.
    """
    p = root or paths()
    written = []
    for year in years:
        for name, template in DEMO_TEXTS.items():
            path = p.texts / str(year) / f"{name}.md"
            if path.exists():
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(template.format(mark=DEMO_MARK, year=year), encoding="utf-8")
            written.append(path)
    return written


__all__ = [
    "DEMO_MARK",
    "SECTIONS",
    "TARGETS_FILE",
    "Text",
    "check",
    "demo_years",
    "digest",
    "load",
    "log",
    "log_missing",
    "render",
    "run_inputs",
    "show",
    "shown_path",
    "targets_path",
    "write_demo",
]


def show(text: Text, language: Language = "de", *, heading_level: int = 2) -> None:
    """Display a text in a notebook (its HTML, or the note naming the missing file)."""
    from IPython.display import HTML, display

    display(HTML(text.html(language, heading_level=heading_level)))


def shown_path(path: Path, root: Paths | None = None) -> str:
    """A path as readers see it: relative to the workspace (or the project) where it can be."""
    p = root or paths()
    shown = _display_path(path, p)
    project = Path(getattr(p, "project_root", p.root))
    if shown == str(path) and project != p.root:
        shown = _display_path(path, Paths(project))
    return shown


def demo_years() -> range:
    """The years of the demo data (2019 up to the year of its data end)."""
    from evaluation import demo

    return range(2019, demo.as_of().year + 1)


def check(years: Iterable[int], *, root: Paths | None = None) -> list[str]:
    """One line per problem with the texts and targets of ``years`` (missing or unreadable).

    For the evaluators before a run: every missing text, every year without a targets file,
    and every targets file the annual report would stop at (its one-line error).
    """
    from evaluation import annual

    p = root or paths()
    problems = []
    for year in years:
        try:
            problems += [f"Text fehlt: {t.path}" for t in load(year, root=p).values() if t.missing]
        except ValueError as exc:
            problems.append(str(exc))
        target = targets_path(p, year)
        try:
            if annual.read_targets(target, year, shown=shown_path(target, p)) is None:
                problems.append(f"Ziele fehlen: {shown_path(target, p)}")
        except annual.TargetsError as exc:
            problems.append(str(exc))
    return problems


def _years(text: str) -> list[int]:
    """``2024`` or ``2019-2025`` as a list of years; anything else is a usage error."""
    first, _, last = text.partition("-")
    try:
        return list(range(int(first), int(last or first) + 1))
    except ValueError:
        raise SystemExit(f"--years {text}: expected a year (2024) or a range (2019-2025)") from None


def main(argv: list[str] | None = None) -> int:
    """``python -m evaluation.texts {demo,check} [--years 2019-2025]``.

    ``demo`` writes the demo texts (never over an existing file); ``check`` lists missing
    texts and targets and bad targets files, one line each (exit status 1 if any).
    """
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m evaluation.texts",
        description="The agency's texts per year (texte/<Jahr>/*.md) and targets "
        "(params/ziele/<Jahr>.yml).",
    )
    parser.add_argument("command", choices=["demo", "check"])
    parser.add_argument("--years", help="a year or a range, e.g. 2019-2025 (default: demo years)")
    args = parser.parse_args(argv)
    years = _years(args.years) if args.years else list(demo_years())
    if args.command == "demo":
        for path in write_demo(years):
            print(path)
        return 0
    problems = check(years)
    for line in problems:
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":  # pragma: no cover - thin wrapper
    raise SystemExit(main())
