"""The parent questionnaire (FSW and parent involvement) as an XLSForm.

:func:`write_xlsform` writes an XLSForm (sheets ``survey``, ``choices``, ``settings``) that
KoboToolbox and ODK Collect read, generated from the contract's table ``parent_surveys``:
one question per column, named as the contract column, labelled with its German header,
with the contract's allowed values as choices and its ranges as constraints. An export of
the collected data (KoboToolbox: "XML values and headers", or labels) is read by the
ingest through the shipped mapping ``kobo-fsw`` (``--mapping kobo-fsw``).

The nine FSW items are licensed: their wording is not shipped. Each item's label says
where to put the wording from the FSW manual; the answer scale (1 = trifft gar nicht zu …
6 = trifft völlig zu) is the contract's.
"""

from __future__ import annotations

from pathlib import Path

from evaluation import schemas

FORM_ID = "fsw_elternbefragung"
FORM_VERSION = "1"
LIKERT = {
    1: "trifft gar nicht zu",
    2: "trifft nicht zu",
    3: "trifft eher nicht zu",
    4: "trifft eher zu",
    5: "trifft zu",
    6: "trifft völlig zu",
}
#: Choice for "no young child" in the Kita question; the mapping turns it into empty.
NOT_APPLICABLE = "entfaellt"


def likert_label(value: int) -> str:
    """Label of an answer of the FSW scale, as in the form (``"1 – trifft gar nicht zu"``)."""
    return f"{value} – {LIKERT[value]}"


def survey_rows() -> list[dict[str, str]]:
    """The ``survey`` sheet: one row per question of ``parent_surveys``."""
    spec = schemas.TABLES["parent_surveys"]
    rows = []
    for col in spec.columns:
        row = {"name": col.name, "label::Deutsch (de)": col.de, "hint::Deutsch (de)": col.about_de,
               "required": "yes" if col.required else "no"}  # fmt: skip
        if col.pseudonym or col.pattern:
            row["type"] = "text"
            row["constraint"] = f"regex(., '^{col.pattern}$')"
            row["constraint_message::Deutsch (de)"] = (
                "Kennung wie in der Fallakte (Buchstaben, Ziffern, . _ / -)"
            )
            if col.pseudonym:
                row["hint::Deutsch (de)"] = (
                    "Klient-Nr. wie in der Fallakte (wird beim Import pseudonymisiert); keine Namen"
                )
        elif col.codes:
            row["type"] = f"select_one {col.name}"
        elif col.kind == "date":
            row["type"] = "date"
            low, high = col.bounds
            row["constraint"] = f". >= date('{low:%Y-%m-%d}') and . <= date('{high:%Y-%m-%d}')"
        elif col.name.startswith("fsw_"):
            row["type"] = "select_one fsw_skala"
            row["label::Deutsch (de)"] = (
                f"{col.de}: (Wortlaut von Item {col.name[4:]} aus dem FSW-Manual einsetzen)"
            )
            row["appearance"] = "likert"
        elif col.kind == "boolean":
            row["type"] = (
                "select_one ja_nein_entfaellt" if not col.required else "select_one ja_nein"
            )
        else:
            row["type"] = "integer"
        rows.append(row)
    return rows


def choice_rows() -> list[dict[str, str]]:
    """The ``choices`` sheet: the contract's codes, the FSW scale, yes/no."""
    spec = schemas.TABLES["parent_surveys"]
    rows = []
    for col in spec.columns:
        for code, (de, _) in (col.codes or {}).items():
            rows.append({"list_name": col.name, "name": code, "label::Deutsch (de)": de})
    rows += [
        {"list_name": "fsw_skala", "name": str(v), "label::Deutsch (de)": likert_label(v)}
        for v in LIKERT
    ]
    for name in ("ja_nein", "ja_nein_entfaellt"):
        rows += [{"list_name": name, "name": "ja", "label::Deutsch (de)": "ja"},
                 {"list_name": name, "name": "nein", "label::Deutsch (de)": "nein"}]  # fmt: skip
    rows.append(
        {
            "list_name": "ja_nein_entfaellt",
            "name": NOT_APPLICABLE,
            "label::Deutsch (de)": "entfällt (kein kleines Kind)",
        }
    )
    return rows


def write_xlsform(path: str | Path) -> Path:
    """Write the questionnaire as an XLSForm workbook to ``path``."""
    import openpyxl

    path = Path(path)
    wb = openpyxl.Workbook()
    sheets = {
        "survey": (["type", "name", "label::Deutsch (de)", "hint::Deutsch (de)", "required", "constraint",
                    "constraint_message::Deutsch (de)", "appearance"], survey_rows()),
        "choices": (["list_name", "name", "label::Deutsch (de)"], choice_rows()),
        "settings": (["form_title", "form_id", "version", "default_language"],
                     [{"form_title": "Elternbefragung (FSW und Elternbeteiligung)", "form_id": FORM_ID,
                       "version": FORM_VERSION, "default_language": "Deutsch (de)"}]),
    }  # fmt: skip
    wb.remove(wb.active)
    for title, (columns, rows) in sheets.items():
        ws = wb.create_sheet(title)
        ws.append(columns)
        for row in rows:
            ws.append([row.get(c, "") for c in columns])
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path
