"""The demo data as agencies really export it, for the same ingest as real data.

:func:`write_demo_exports` turns :func:`evaluation.demo.generate` back into raw exports:

==================================  =====================================================
``Teilnehmende.csv``                participants: cp1252, ``;``, German headers and labels,
                                    with fictitious names, birth dates, addresses, phone
                                    numbers, e-mail addresses (``example.org``) and a
                                    free-text note column, all of which ingest must drop
``Teilnahmen.csv``                  enrolments (cp1252)
``Kontakte.csv``                    contacts (UTF-8 with BOM, as "CSV UTF-8" in Excel)
``Erwerbsstatus_monatlich.csv``     employment_months (cp1252, status as codes)
``Verbleib_Nachbefragung.csv``      followups (cp1252)
``Anerkennung_Elternarbeit.xlsx``   sheets ``Anerkennungsfälle``, ``Elterngruppen``,
                                    ``Elternbefragung`` (native dates, numbers, booleans)
``volunteers.csv``                  volunteers: English headers and values, German Excel
                                    format (cp1252, ``;``), names and contact data
``volunteer_assignments.csv``       English tool export: UTF-8, ``,``, ISO dates, ``2.5``
``Veranstaltungen.csv``             events (cp1252)
``sozialraum_ehrenfeld.csv``        City of Cologne open-data long format (UTF-8, ``;``)
==================================  =====================================================

A few realistic errors are planted so that the quarantine is exercised; see
:func:`planted_errors`. Apart from them, ingesting the exports gives back the demo tables
with person and record ids replaced by pseudonyms. The same seed writes the same bytes.
"""

from __future__ import annotations

import csv
import io
import re
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from evaluation import demo, schemas

Style = Literal["de", "en", "xlsx"]
Labels = Literal["code", "de", "en"]
_FIXED_TIME = datetime(2026, 1, 1)
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Export:
    """One table in one raw file (or one sheet of a workbook)."""

    file: str
    table: str
    style: Style = "de"
    encoding: str = "cp1252"
    headers: Literal["de", "en"] = "de"
    labels: Labels = "de"
    sheet: str | None = None
    personal: bool = False
    omit: tuple[str, ...] = ()


EXPORTS: tuple[Export, ...] = (
    Export(
        "Teilnehmende.csv", "participants", personal=True, omit=("birth_year",)
    ),  # birth date instead
    Export("Teilnahmen.csv", "enrolments"),
    Export("Kontakte.csv", "contacts", encoding="utf-8-sig"),
    Export("Erwerbsstatus_monatlich.csv", "employment_months", labels="code"),
    Export("Verbleib_Nachbefragung.csv", "followups"),
    Export("Anerkennung_Elternarbeit.xlsx", "recognition_cases", "xlsx", sheet="Anerkennungsfälle"),
    Export(
        "Anerkennung_Elternarbeit.xlsx",
        "parent_groups",
        "xlsx",
        sheet="Elterngruppen",
        labels="code",
    ),
    Export("Anerkennung_Elternarbeit.xlsx", "parent_surveys", "xlsx", sheet="Elternbefragung"),
    Export("volunteers.csv", "volunteers", headers="en", labels="en", personal=True),
    Export(
        "volunteer_assignments.csv",
        "volunteer_assignments",
        "en",
        "utf-8",
        headers="en",
        labels="en",
    ),
    Export("Veranstaltungen.csv", "events"),
    Export("sozialraum_ehrenfeld.csv", "sozialraum", encoding="utf-8", labels="code"),
)


@dataclass(frozen=True)
class PlantedError:
    """An error planted in the exports, and what ingest must do with it.

    Attributes
    ----------
    source
        File (and sheet) as the quarantine names it.
    source_row
        Spreadsheet row number of the faulty row (header = 1).
    check
        Check code the row must be quarantined with.
    removed
        Key of the demo row that is missing after ingest (raw ids), ``None`` for an
        inserted row.
    """

    table: str
    source: str
    source_row: int
    check: str
    removed: dict[str, object] | None
    description: str


# --------------------------------------------------------------------------------------
# Fictitious personal data (to be dropped by ingest)
# --------------------------------------------------------------------------------------

_FIRST = {
    "russischsprachig": (["Olga", "Natalia", "Swetlana", "Irina", "Jelena", "Tatjana"], ["Sergej", "Dmitrij", "Alexander", "Andrej", "Wladimir", "Juri"]),
    "eu_suedost": (["Ioana", "Maria", "Elena", "Katarzyna", "Agnieszka", "Desislava"], ["Andrei", "Mihai", "Georgi", "Piotr", "Tomasz", "Ivan"]),
    "gefluechtete": (["Fatima", "Aisha", "Zahra", "Mariam", "Senait", "Layla"], ["Ahmad", "Mohammad", "Ali", "Omar", "Yonas", "Hassan"]),
    "ukraine": (["Oksana", "Olena", "Iryna", "Kateryna", "Switlana", "Julija"], ["Taras", "Oleksandr", "Andrij", "Bohdan", "Mykola", "Dmytro"]),
    "volunteer": (["Anna", "Julia", "Sarah", "Leonie", "Elif", "Sofia"], ["Lukas", "Jonas", "Felix", "Yusuf", "Mehmet", "Paul"]),
}  # fmt: skip
_LAST = {
    "russischsprachig": ["Iwanow", "Petrow", "Sokolow", "Lebedew", "Morosow", "Wolkow"],
    "eu_suedost": ["Popescu", "Ionescu", "Dimitrov", "Georgiev", "Nowak", "Kowalski"],
    "gefluechtete": ["Al-Hassan", "Haidari", "Rahimi", "Karimi", "Tesfay", "Ibrahim"],
    "ukraine": ["Kowalenko", "Bondarenko", "Tkachenko", "Schewtschenko", "Melnyk", "Krawez"],
    "volunteer": ["Müller", "Schmitz", "Schneider", "Yilmaz", "Kaya", "Wagner"],
}
_STREETS = {
    "401": (["Venloer Straße", "Körnerstraße", "Ottostraße"], ["50823", "50825"]),
    "402": (["Nußbaumerstraße", "Landmannstraße", "Takustraße"], ["50823"]),
    "403": (["Rochusstraße", "Ackerstraße", "Sandweg"], ["50827"]),
    "404": (["Vogelsanger Straße", "Hugo-Junkers-Straße"], ["50829"]),
    "405": (["Mengenicher Straße", "Ollenhauerring"], ["50829"]),
    "406": (["Frohnhofstraße", "Äußere Kanalstraße"], ["50827"]),
    "ausserhalb": (
        ["Neusser Straße", "Aachener Straße", "Liverpooler Platz"],
        ["50733", "50933", "50765"],
    ),
}
_NOTES = [
    "",
    "",
    "",
    "",
    "Rückruf vereinbart",
    "Dolmetschen Russisch nötig",
    "Unterlagen fehlen noch",
]
_ASCII = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"}
)


def _people(rng: np.random.Generator, groups: np.ndarray, female: np.ndarray) -> pd.DataFrame:
    """Fictitious first and last names, phone numbers and e-mail addresses."""
    first = [rng.choice(_FIRST[g][0 if f else 1]) for g, f in zip(groups, female, strict=True)]
    last = [rng.choice(_LAST[g]) for g in groups]
    phone = [f"0221 {rng.integers(100, 999)} {rng.integers(1000, 9999)}" for _ in groups]
    email = [
        f"{a}.{b}{i}@example.org".lower().translate(_ASCII)
        for i, (a, b) in enumerate(zip(first, last, strict=True))
    ]
    return pd.DataFrame({"first": first, "last": last, "phone": phone, "email": email})


def _participant_personal(rng: np.random.Generator, df: pd.DataFrame) -> pd.DataFrame:
    people = _people(rng, df["target_group"].to_numpy(), (df["sex"] == "w").to_numpy())
    day = rng.integers(0, 365, len(df))
    birth = [
        "" if pd.isna(y) else _german_date(pd.Timestamp(int(y), 1, 1) + pd.Timedelta(days=int(d)))
        for y, d in zip(df["birth_year"], day, strict=True)
    ]
    streets = [rng.choice(_STREETS[s][0]) + f" {rng.integers(1, 180)}" for s in df["stadtteil"]]
    plz = [rng.choice(_STREETS[s][1]) for s in df["stadtteil"]]
    notes = [rng.choice(_NOTES) for _ in range(len(df))]
    notes = [
        n if rng.random() > 0.05 else f"Termin mit {p.first} {p.last}, Tel. {p.phone}"
        for n, p in zip(notes, people.itertuples(), strict=True)
    ]
    return pd.DataFrame(
        {"Vorname": people["first"], "Nachname": people["last"], "Geburtsdatum": birth, "Straße": streets,
         "PLZ": plz, "Ort": "Köln", "Telefon": people["phone"], "E-Mail": people["email"], "Bemerkung": notes}
    )  # fmt: skip


def _volunteer_personal(rng: np.random.Generator, df: pd.DataFrame) -> pd.DataFrame:
    people = _people(rng, np.full(len(df), "volunteer"), rng.random(len(df)) < 0.6)
    return pd.DataFrame(
        {"First name": people["first"], "Last name": people["last"], "Email": people["email"], "Phone": people["phone"],
         "Notes": [rng.choice(["", "", "speaks Arabic", "weekends only"]) for _ in range(len(df))]}
    )  # fmt: skip


# --------------------------------------------------------------------------------------
# Rendering cells as the source would
# --------------------------------------------------------------------------------------


def _german_date(ts: pd.Timestamp) -> str:
    return f"{ts.day:02d}.{ts.month:02d}.{ts.year:04d}"


def _render(series: pd.Series, col: schemas.Column, export: Export) -> list[object]:
    """The cells of one column as the export's source writes them (``""`` = empty)."""
    style, out = export.style, []
    for value in series:
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            out.append(None if style == "xlsx" else "")
        elif col.kind in ("date", "month"):
            out.append(
                value.to_pydatetime()
                if style == "xlsx"
                else value.strftime("%Y-%m-%d")
                if style == "en"
                else _german_date(value)
            )
        elif col.kind == "boolean":
            out.append(
                bool(value)
                if style == "xlsx"
                else ("yes" if value else "no")
                if style == "en"
                else ("ja" if value else "nein")
            )
        elif col.kind == "number":
            out.append(
                float(value)
                if style == "xlsx"
                else f"{value:g}"
                if style == "en"
                else f"{value:g}".replace(".", ",")
            )
        elif col.kind == "integer":
            out.append(int(value) if style == "xlsx" else str(int(value)))
        elif col.codes and export.labels != "code":
            out.append(col.codes[value][0 if export.labels == "de" else 1])
        elif col.name == "stadtteil" and style == "xlsx" and str(value).isdigit():
            out.append(int(value))  # Excel turns district numbers into numbers
        else:
            out.append(str(value))
    return out


def _cells(table: pd.DataFrame, export: Export) -> pd.DataFrame:
    spec = schemas.TABLES[export.table]
    return pd.DataFrame(
        {
            getattr(c, export.headers): _render(table[c.name], c, export)
            for c in spec.columns
            if c.name not in export.omit
        },
        dtype=object,
    )


def _header(export: Export, column: str) -> str:
    return getattr(schemas.TABLES[export.table].column(column), export.headers)


# --------------------------------------------------------------------------------------
# Planted errors
# --------------------------------------------------------------------------------------


def _label(export: Export) -> str:
    return export.file if export.sheet is None else f"{export.file}[{export.sheet}]"


def _key(table: pd.DataFrame, name: str, index: int) -> dict[str, object]:
    return {
        k: table[k].iloc[index].item()
        if hasattr(table[k].iloc[index], "item")
        else table[k].iloc[index]
        for k in schemas.TABLES[name].key
    }


_Plant = Callable[[dict[str, pd.DataFrame], dict[str, pd.DataFrame]], PlantedError]


def _typo_date(tables, cells) -> PlantedError:
    export, i = _export("contacts"), 100
    col = _header(export, "contact_date")
    cells["contacts"].loc[i, col] = cells["contacts"].loc[i, col][:-1]  # a digit of the year lost
    return PlantedError("contacts", _label(export), i + 2, "not_a_date", _key(tables["contacts"], "contacts", i),
                        f"contact date typed as {cells['contacts'].loc[i, col]!r}")  # fmt: skip


def _unknown_status(tables, cells) -> PlantedError:
    export, i = _export("followups"), 50
    cells["followups"].loc[i, _header(export, "status")] = "arbeitssuchend"
    return PlantedError("followups", _label(export), i + 2, "unknown_code", _key(tables["followups"], "followups", i),
                        "status 'arbeitssuchend' is not in the code list")  # fmt: skip


def _followup_before_exit(tables, cells) -> PlantedError:
    export, i = _export("followups"), 80
    enrolment = tables["followups"]["enrolment_id"].iloc[i]
    exit_date = tables["enrolments"].set_index("enrolment_id").at[enrolment, "exit_date"]
    cells["followups"].loc[i, _header(export, "reference_date")] = _german_date(
        exit_date - pd.Timedelta(days=30)
    )
    return PlantedError("followups", _label(export), i + 2, "followup_before_exit", _key(tables["followups"], "followups", i),
                        "follow-up dated 30 days before the exit of its enrolment")  # fmt: skip


def _out_of_range_item(tables, cells) -> PlantedError:
    export, i = _export("parent_surveys"), 20
    cells["parent_surveys"].loc[i, _header(export, "fsw_3")] = 7
    return PlantedError("parent_surveys", _label(export), i + 2, "out_of_range", _key(tables["parent_surveys"], "parent_surveys", i),
                        "FSW item 3 answered 7 on a 1-6 scale")  # fmt: skip


def _suppressed_value(tables, cells) -> PlantedError:
    export, i = _export("sozialraum"), 5
    cells["sozialraum"].loc[i, _header(export, "zahl")] = "*"
    return PlantedError("sozialraum", _label(export), i + 2, "suppressed_in_source", _key(tables["sozialraum"], "sozialraum", i),
                        "value suppressed by the city (*)")  # fmt: skip


def _duplicate_row(tables, cells) -> PlantedError:
    export, i = _export("events"), 10
    frame = cells["events"]
    cells["events"] = pd.concat(
        [frame.iloc[: i + 1], frame.iloc[i : i + 1], frame.iloc[i + 1 :]], ignore_index=True
    )
    return PlantedError(
        "events", _label(export), i + 3, "exact_duplicate", None, "an event row exported twice"
    )


def _unknown_person(tables, cells) -> PlantedError:
    export = _export("enrolments")
    row = cells["enrolments"].iloc[-1].copy()
    row[_header(export, "enrolment_id")] = "T99999"
    row[_header(export, "person_id")] = "P09999"
    cells["enrolments"] = pd.concat([cells["enrolments"], row.to_frame().T], ignore_index=True)
    return PlantedError("enrolments", _label(export), len(cells["enrolments"]) + 1, "unknown_reference", None,
                        "enrolment of client P09999, who is not among the participants")  # fmt: skip


_PLANTS: tuple[_Plant, ...] = (
    _typo_date, _unknown_status, _followup_before_exit, _out_of_range_item, _suppressed_value, _duplicate_row, _unknown_person,
)  # fmt: skip


def _export(table: str) -> Export:
    return next(e for e in EXPORTS if e.table == table)


def _raw_cells(
    seed: int, participants: int = demo.N_PARTICIPANTS
) -> tuple[dict[str, pd.DataFrame], list[PlantedError]]:
    """The cells of every export (personal columns added, errors planted)."""
    tables = demo.generate(seed, participants=participants)
    rng = np.random.default_rng([seed, 2])
    cells = {e.table: _cells(tables[e.table], e) for e in EXPORTS}
    personal = {
        "participants": (_participant_personal, 1),
        "volunteers": (_volunteer_personal, 1),
    }
    for table, (make, position) in personal.items():
        extra = make(rng, tables[table])
        frame = cells[table]
        cells[table] = pd.concat(
            [frame.iloc[:, :position], extra, frame.iloc[:, position:]], axis=1
        )
    planted = [plant(tables, cells) for plant in _PLANTS]
    return cells, planted


def planted_errors(
    seed: int = demo.SEED, *, participants: int = demo.N_PARTICIPANTS
) -> list[PlantedError]:
    """The errors planted in the exports written with ``seed`` (and ``participants``)."""
    return _raw_cells(seed, participants)[1]


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------


def _csv_bytes(frame: pd.DataFrame, export: Export) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(
        buffer, delimiter="," if export.style == "en" else ";", lineterminator="\r\n"
    )
    writer.writerow(frame.columns)
    writer.writerows(frame.itertuples(index=False, name=None))
    return buffer.getvalue().encode(export.encoding)


def _xlsx_bytes(sheets: list[tuple[Export, pd.DataFrame]]) -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    workbook.properties.creator = "evaluation.demo_exports"
    workbook.properties.created = _FIXED_TIME
    for export, frame in sheets:
        sheet = workbook.create_sheet(export.sheet)
        sheet.append(list(frame.columns))
        for row in frame.itertuples(index=False, name=None):
            sheet.append([None if v is None or v == "" else v for v in row])
        for column in sheet.iter_cols(min_row=2):
            for cell in column:
                if isinstance(cell.value, datetime):
                    cell.number_format = "DD.MM.YYYY"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return _reproducible_zip(buffer.getvalue())


def _reproducible_zip(data: bytes) -> bytes:
    """Rewrite a workbook with fixed timestamps, so the same content gives the same bytes."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                stamp = _FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
                content = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*(<)", rb"\g<1>" + stamp + rb"\g<2>", content
                )
            target.writestr(
                zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME), content, zipfile.ZIP_DEFLATED
            )
    return out.getvalue()


def write_demo_exports(
    target_dir: Path, *, seed: int = demo.SEED, participants: int = demo.N_PARTICIPANTS
) -> list[Path]:
    """Write the demo data as raw exports into ``target_dir``; return the files written.

    The same seed (and size ``participants``) writes the same bytes. See the module
    docstring for the files and :func:`planted_errors` for the errors planted in them.
    """
    target_dir = Path(target_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    cells, _ = _raw_cells(seed, participants)
    written: dict[str, Path] = {}
    for export in EXPORTS:
        path = target_dir / export.file
        if export.style == "xlsx":
            if export.file not in written:
                sheets = [(e, cells[e.table]) for e in EXPORTS if e.file == export.file]
                path.write_bytes(_xlsx_bytes(sheets))
        else:
            path.write_bytes(_csv_bytes(cells[export.table], export))
        written[export.file] = path
    return list(written.values())


def main(argv: list[str] | None = None) -> int:
    """``python -m evaluation.demo_exports TARGET_DIR``: write the demo exports."""
    argv = sys.argv[1:] if argv is None else argv
    target = Path(argv[0]) if argv else Path("data/raw/demo")
    for path in write_demo_exports(target):
        print(path)
    return 0


if __name__ == "__main__":  # pragma: no cover - thin wrapper
    raise SystemExit(main())
