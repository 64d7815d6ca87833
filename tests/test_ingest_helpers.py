"""Helpers shared by the ingest tests (no tests here).

Tests import these with ``from test_ingest_helpers import ...`` (pytest puts ``tests/`` on
the import path). Every ingest in the tests uses a temporary workspace and a key file in a
separate temporary folder, never the real ``data/`` or ``~/.config``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from evaluation.paths import Paths, paths

PARTICIPANT_HEADER = [
    "Klient-Nr", "Vorname", "Nachname", "Geburtsdatum", "Telefon", "E-Mail", "Geschlecht", "Zielgruppe",
    "Herkunftsland", "Zuzugsjahr", "Stadtteil", "Zugangsweg", "Hochschulabschluss", "Erstkontakt", "Bemerkung",
]  # fmt: skip


def fresh_workspace(tmp_path: Path) -> tuple[Paths, Path]:
    """A fresh workspace and a key file outside it."""
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "pyproject.toml").write_text("")
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    return paths(ws), keys / "pseudonym.key"


def csv_bytes(
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    sep: str = ";",
    encoding: str = "cp1252",
) -> bytes:
    """A CSV as German Excel writes it (CRLF, minimal quoting)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=sep, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]], **kw) -> Path:
    path.write_bytes(csv_bytes(header, rows, **kw))
    return path


def participant_row(i: int, **over: object) -> list[object]:
    """A valid participant row with fictitious identifying data (unique per ``i``)."""
    row = {
        "Klient-Nr": f"K{i:04d}", "Vorname": f"Vornamexq{i}", "Nachname": f"Nachnamexq{i}",
        "Geburtsdatum": f"{1 + i % 28:02d}.0{1 + i % 9}.19{60 + i % 30}", "Telefon": f"0221 555 {i:04d}",
        "E-Mail": f"person{i}@example.org", "Geschlecht": "weiblich", "Zielgruppe": "Geflüchtete aus der Ukraine",
        "Herkunftsland": "Ukraine", "Zuzugsjahr": "2022", "Stadtteil": "Ehrenfeld", "Zugangsweg": "Jobcenter/Agentur für Arbeit",
        "Hochschulabschluss": "ja", "Erstkontakt": f"{1 + i % 28:02d}.03.2023", "Bemerkung": f"Rückruf Nachnamexq{i}",
    }  # fmt: skip
    row.update(over)
    return [row[h] for h in PARTICIPANT_HEADER]


def identifiers_of(rows: Iterable[Sequence[object]]) -> list[str]:
    """The identifying values of participant rows (client number, names, birth date, contact data)."""
    out = []
    for row in rows:
        values = dict(zip(PARTICIPANT_HEADER, row, strict=True))
        out += [
            values[h]
            for h in ("Klient-Nr", "Vorname", "Nachname", "Geburtsdatum", "Telefon", "E-Mail")
        ]
    return [str(v) for v in out]


def written_text(p: Paths) -> str:
    """Everything ingest wrote, as text: snapshot tables (all cells), manifests, quarantine files."""
    chunks = []
    for file in sorted(p.data.rglob("*")):
        if file.suffix == ".parquet":
            df = pd.read_parquet(file)
            chunks.append(df.astype(str).to_csv(index=False))
            chunks.append(" ".join(map(str, df.columns)))
        elif file.is_file():
            chunks.append(file.read_bytes().decode("utf-8", errors="replace"))
    return "\n".join(chunks)


def export_identifiers(folder: Path) -> set[str]:
    """Identifying values in the demo exports: full names, addresses, phones, e-mails, birth dates, client numbers."""
    participants = pd.read_csv(
        folder / "Teilnehmende.csv", sep=";", encoding="cp1252", dtype=str, keep_default_na=False
    )
    volunteers = pd.read_csv(
        folder / "volunteers.csv", sep=";", encoding="cp1252", dtype=str, keep_default_na=False
    )
    identifiers = set(participants["Vorname"] + " " + participants["Nachname"])  # full names
    identifiers |= set(volunteers["First name"] + " " + volunteers["Last name"])
    for df, columns in ((participants, ["Straße", "Telefon", "E-Mail", "Geburtsdatum", "Bemerkung", "Klient-Nr"]),
                        (volunteers, ["Email", "Phone", "Volunteer ID"])):  # fmt: skip
        for col in columns:
            identifiers |= set(df[col]) - {""}
    generic_notes = participants["Bemerkung"][~participants["Bemerkung"].str.contains("Tel")]
    return identifiers - set(generic_notes)


def leaked(p: Paths, identifiers: Iterable[str]) -> list[str]:
    """Identifiers found in anything ingest wrote (case-insensitive); see :func:`found_in`."""
    return found_in(written_text(p), identifiers)


def found_in(text: str, identifiers: Iterable[str]) -> list[str]:
    """Identifiers found in ``text`` (case-insensitive).

    An identifier with a space (phone number, full name) is looked for as a substring; a
    single word (client number, e-mail address, birth date) as a whole word, so that a
    client number ``E0001`` is not "found" inside a hex pseudonym.
    """
    text = text.casefold()
    words = set(re.findall(r"[\w.@+/-]+", text))
    out = set()
    for ident in identifiers:
        folded = str(ident).strip().casefold()
        if folded and (
            (" " in folded and folded in text) or (" " not in folded and folded in words)
        ):
            out.add(ident)
    return sorted(out)


def manifest(p: Paths) -> dict:
    snap = (p.snapshots / "LATEST").read_text().strip()
    return json.loads((p.snapshots / snap / "manifest.json").read_text())
