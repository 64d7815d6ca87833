"""Reader tables and charts for the data-quality notebook (row counts, no persons)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go

from evaluation import plots

TABLE_NAMES: dict[str, tuple[str, str]] = {
    "participants": ("Teilnehmende", "Participants"),
    "enrolments": ("Teilnahmen", "Enrolments"),
    "contacts": ("Beratungskontakte", "Contacts"),
    "employment_months": ("Beschäftigungsmonate", "Employment months"),
    "followups": ("Nachbefragungen", "Follow-ups"),
    "recognition_cases": ("Anerkennungsverfahren", "Recognition cases"),
    "parent_groups": ("Elterngruppen", "Parent groups"),
    "parent_surveys": ("Elternbefragungen", "Parent surveys"),
    "volunteers": ("Ehrenamtliche", "Volunteers"),
    "volunteer_assignments": ("Einsätze", "Assignments"),
    "events": ("Veranstaltungen", "Events"),
    "sozialraum": ("Sozialraumstatistik", "Neighbourhood statistics"),
}
FILLED = {"de": "Ausgefüllt", "en": "Filled"}
WORDS = {
    "de": {
        "table": "Tabelle",
        "read": "gelesen",
        "accepted": "übernommen",
        "quarantined": "zurückgestellt",
        "balanced": "vollständig abgeglichen",
        "yes": "ja",
        "no": "nein",
        "reason": "Grund",
        "column": "Feld",
        "rows": "Zeilen",
        "none": "keine",
        "month": "Monat",
        "before": "vorher",
        "after": "nachher",
        "new": "neue Schlüssel",
        "removed": "entfallene Schlüssel",
        "note": "Hinweis",
        "dup_exact": "identische Zeilen zurückgestellt",
        "dup_ids": "doppelte Nummern zurückgestellt",
        "dup_kept": "identische Zeilen ohne Nummer (behalten)",
    },
    "en": {
        "table": "Table",
        "read": "read",
        "accepted": "accepted",
        "quarantined": "quarantined",
        "balanced": "balanced",
        "yes": "yes",
        "no": "no",
        "reason": "Reason",
        "column": "Field",
        "rows": "Rows",
        "none": "none",
        "month": "Month",
        "before": "before",
        "after": "after",
        "new": "new keys",
        "removed": "removed keys",
        "note": "Note",
        "dup_exact": "identical rows quarantined",
        "dup_ids": "duplicate ids quarantined",
        "dup_kept": "identical rows without id (kept)",
    },
}


def _w(ctx: Any) -> dict[str, str]:
    return WORDS[ctx.language]


def _table_name(code: str, ctx: Any) -> str:
    pair = TABLE_NAMES.get(code)
    return code if pair is None else pair[0 if ctx.language == "de" else 1]


def snapshot_facts(ctx: Any) -> pd.DataFrame:
    """Id, source, creation date and coverage of the snapshot."""
    manifest = ctx.snapshot_info.manifest
    source = manifest.get("source", {})
    de = ctx.language == "de"
    rows = [
        ("Datenstand (Snapshot)" if de else "Snapshot", ctx.snapshot),
        (
            "Quelle" if de else "Source",
            str(source.get("kind", "ingest" if "files" in source else "?")),
        ),
        ("Erstellt" if de else "Created", str(manifest.get("created_at", ""))[:10]),
        ("Daten bis" if de else "Data up to", ctx.data_end.isoformat()),
        ("Tabellen" if de else "Tables", str(len(manifest.get("tables", {})))),
    ]
    return pd.DataFrame(rows, columns=["", "Wert" if de else "Value"])


def total(reconciliation: pd.DataFrame, column: str) -> int:
    """Sum of a reconciliation column (0 when the snapshot was not made by an ingest)."""
    return int(reconciliation[column].sum()) if column in reconciliation else 0


def reconciliation_table(reconciliation: pd.DataFrame, ctx: Any) -> pd.DataFrame:
    """Rows read, accepted and quarantined per table, or a note for a snapshot without ingest."""
    w = _w(ctx)
    if reconciliation.empty:
        note = (
            "Dieser Datenstand wurde nicht eingelesen, sondern direkt erzeugt (Demo-Daten): kein Abgleich."
            if ctx.language == "de"
            else "This snapshot was generated, not ingested: no reconciliation."
        )
        return pd.DataFrame({w["note"]: [note]})
    out = pd.DataFrame(
        {
            w["table"]: reconciliation["table"].map(lambda t: _table_name(t, ctx)),
            w["read"]: reconciliation["rows_read"].astype(int),
            w["accepted"]: reconciliation["rows_accepted"].astype(int),
            w["quarantined"]: reconciliation["rows_quarantined"].astype(int),
            w["balanced"]: reconciliation["balanced"].map({True: w["yes"], False: w["no"]}),
        }
    )
    return out


def quarantine_table(quarantine: pd.DataFrame, ctx: Any) -> pd.DataFrame:
    """Quarantined rows by table, field and reason (counts only; no values, no row numbers)."""
    from evaluation.ingest import quality

    w = _w(ctx)
    if quarantine.empty:
        return pd.DataFrame({w["reason"]: [w["none"]]})
    summary = quality.quarantine_summary(quarantine, ctx.language)
    return pd.DataFrame(
        {
            w["table"]: summary["table"].map(lambda t: _table_name(t, ctx)),
            w["column"]: summary["column"].astype(str),
            w["reason"]: summary["reason"].astype(str),
            w["rows"]: summary["rows"].astype(int),
        }
    )


def completeness_table(complete: pd.DataFrame, ctx: Any) -> pd.DataFrame:
    """Fields not filled in every row, with the filled share."""
    w = _w(ctx)
    gaps = complete[complete["share_filled"] < 1].sort_values("share_filled").reset_index(drop=True)
    return pd.DataFrame(
        {
            w["table"]: gaps["table"].map(lambda t: _table_name(t, ctx)),
            w["column"]: gaps["column"].astype(str),
            w["rows"]: gaps["rows"].astype(int),
            FILLED[ctx.language]: gaps["share_filled"].astype(float),
        }
    )


def completeness_chart(complete: pd.DataFrame, ctx: Any) -> go.Figure:
    """Filled share of the incomplete fields."""
    gaps = complete[complete["share_filled"] < 1].sort_values("share_filled")
    frame = gaps.assign(
        field=gaps["table"].map(lambda t: _table_name(t, ctx)) + ": " + gaps["column"].astype(str)
    )
    return plots.bar(
        frame,
        x="field",
        y="share_filled",
        percent=True,
        language=ctx.language,
        title="Ausgefüllte Felder" if ctx.language == "de" else "Filled fields",
        y_title=FILLED[ctx.language],
    )


def volume_chart(per_month: pd.DataFrame, ctx: Any) -> go.Figure:
    """Rows per month and table within the period (case tables only)."""
    start, end = pd.Timestamp(ctx.period.start), pd.Timestamp(ctx.period.end)
    part = per_month[
        (per_month["month"] >= start)
        & (per_month["month"] <= end)
        & (per_month["table"] != "sozialraum")
    ]
    frame = part.assign(
        month=part["month"].dt.strftime("%m/%Y"),
        table=part["table"].map(lambda t: _table_name(t, ctx)),
    )
    return plots.line(
        frame,
        x="month",
        y="rows",
        color="table",
        language=ctx.language,
        title="Datensätze je Monat" if ctx.language == "de" else "Records per month",
        y_title=_w(ctx)["rows"],
    )


def duplicates_table(duplicates: pd.DataFrame, ctx: Any) -> pd.DataFrame:
    """Duplicates quarantined and identical rows kept, per table."""
    w = _w(ctx)
    return pd.DataFrame(
        {
            w["table"]: duplicates["table"].map(lambda t: _table_name(t, ctx)),
            w["dup_exact"]: duplicates["exact_duplicates_quarantined"].astype(int),
            w["dup_ids"]: duplicates["duplicate_ids_quarantined"].astype(int),
            w["dup_kept"]: duplicates["identical_rows_kept"].astype(int),
        }
    )


def changes_table(changes: pd.DataFrame, ctx: Any) -> pd.DataFrame:
    """Row counts and keys against the previous snapshot."""
    w = _w(ctx)

    def text(series: pd.Series) -> pd.Series:
        return series.map(
            lambda v: "–" if v is None or pd.isna(v) else f"{int(v):,}".replace(",", ".")
        )

    return pd.DataFrame(
        {
            w["table"]: changes["table"].map(lambda t: _table_name(t, ctx)),
            w["before"]: text(changes["rows_before"]),
            w["after"]: text(changes["rows_after"]),
            w["new"]: text(changes["new_keys"]),
            w["removed"]: text(changes["removed_keys"]),
            w["note"]: changes["note"].fillna("").astype(str),
        }
    )
