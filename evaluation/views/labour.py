"""Reader tables and charts for the labour-market notebook."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go

from evaluation import labels, plots
from evaluation.disclosure import DisclosedTable

FOLLOWUP_DEFINITION = {
    "de": (
        "**Eingliederungsquote**: Anteil der Austritte, die zum Stichtag sozialversicherungspflichtig "
        "beschäftigt sind. **Verbleibsquote**: Anteil der Austritte, die zum Stichtag nicht arbeitslos "
        "gemeldet sind. Beide Quoten sind wie bei der Bundesagentur für Arbeit definiert, beziehen sich "
        "hier aber auf die Austritte **mit bekanntem Status** (die Agentur erreicht nicht alle "
        "Ehemaligen); die Erreichungsquote steht daneben. Wie bei der BA beschreiben die Quoten "
        "Verläufe und sind kein Nachweis einer Wirkung."
    ),
    "en": (
        "**Integration rate** (Eingliederungsquote): share of exits in employment subject to social "
        "insurance at the follow-up date. **Retention rate** (Verbleibsquote): share of exits not "
        "registered unemployed. Defined as by the German Federal Employment Agency, but among exits "
        "whose status is known; the response rate is shown beside them. Descriptive, not causal."
    ),
}


def _codes(
    frame: pd.DataFrame, column: str, codes: dict[str, tuple[str, str]], ctx: Any
) -> pd.Series:
    mapping = {**labels.labels_for(codes, ctx.language), "total": ctx.t("total")}
    return frame[column].map(lambda v: mapping.get(v, v))


def flows_for_readers(reach: pd.DataFrame, ctx: Any) -> pd.DataFrame:
    """Entries, exits and drop-outs per project with the total row."""
    out = reach[["entries", "exits", "dropouts"]].reset_index()
    out["project"] = _codes(out, "project", labels.PROJECTS, ctx)
    return ctx.reader_columns(out)


def persons_for_readers(reach: pd.DataFrame, ctx: Any) -> pd.DataFrame:
    """Distinct persons reached per project and overall (not a sum: people in both count once)."""
    out = reach[["participants"]].rename(columns={"participants": "persons"}).reset_index()
    overall = (
        "Personen insgesamt (ohne Doppelzählung)"
        if ctx.language == "de"
        else "Persons, unduplicated"
    )
    out["project"] = _codes(out, "project", labels.PROJECTS, ctx).replace(ctx.t("total"), overall)
    return ctx.reader_columns(out)


def followup_table(table: pd.DataFrame, ctx: Any) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Follow-up status by project and cohort with margins, and its disclosure options."""
    cols = [
        "exits",
        "known",
        "svb",
        "not_unemployed",
        "eingliederungsquote",
        "eingliederungsquote_ci_low",
        "eingliederungsquote_ci_high",
        "verbleibsquote",
    ]
    out = table[cols].reset_index()
    out["project"] = _codes(out, "project", labels.PROJECTS, ctx)
    out["cohort"] = out["cohort"].replace("total", ctx.t("total"))
    out = out.rename(
        columns={"eingliederungsquote_ci_low": "ci_low", "eingliederungsquote_ci_high": "ci_high"}
    )
    out = ctx.reader_columns(out)
    t = ctx.t
    options = {
        "n": t("known"),
        "counts": [t("exits")],
        "numerators": {
            t("eingliederungsquote"): t("svb"),
            t("verbleibsquote"): t("not_unemployed"),
            t("ci_low"): t("svb"),
            t("ci_high"): t("svb"),
        },
        "percent": [t("eingliederungsquote"), t("verbleibsquote"), t("ci_low"), t("ci_high")],
        "complementary_within": [t("project"), t("cohort")],
        "hide": [t("svb"), t("not_unemployed"), t("ci_low"), t("ci_high")],
    }
    return out, options


def followup_chart(shown: DisclosedTable, ctx: Any, *, months: int) -> go.Figure:
    """Eingliederungsquote by cohort and project (protected values only), with 95 % intervals."""
    t = ctx.t
    values = shown.values
    keep = (values[t("project")] != t("total")) & (values[t("cohort")] != t("total"))
    frame = values[keep].assign(hidden=shown.mask.loc[keep, t("eingliederungsquote")].to_numpy())
    return plots.bar(
        frame,
        x=t("cohort"),
        y=t("eingliederungsquote"),
        color=t("project"),
        error=(t("ci_low"), t("ci_high")),
        suppressed="hidden",
        marker=shown.rule.marker,
        percent=True,
        title=f"{t('eingliederungsquote')} {months} Monate nach Austritt, nach {t('cohort')}",
        x_title=t("cohort"),
        y_title=t("eingliederungsquote"),
        language=ctx.language,
    )


def followup_totals(table: pd.DataFrame) -> pd.DataFrame:
    """Per-project and overall rows of a margins table, indexed by project code or ``total``."""
    return table.xs("total", level="cohort")


def trend_table(trend: pd.DataFrame, ctx: Any) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Yearly Eingliederungsquote with interval, and its disclosure options."""
    out = trend[
        [
            "known",
            "svb",
            "eingliederungsquote",
            "eingliederungsquote_ci_low",
            "eingliederungsquote_ci_high",
        ]
    ]
    out = out.rename(
        columns={"eingliederungsquote_ci_low": "ci_low", "eingliederungsquote_ci_high": "ci_high"}
    )
    out = ctx.reader_columns(out.reset_index())
    t = ctx.t
    shares = [t("eingliederungsquote"), t("ci_low"), t("ci_high")]
    return out, {
        "n": t("known"),
        "numerators": dict.fromkeys(shares, t("svb")),
        "percent": shares,
        "hide": [t("svb")],
    }


def trend_chart(shown: DisclosedTable, ctx: Any) -> go.Figure:
    """Line of the yearly Eingliederungsquote with its 95 % band (protected values only)."""
    t = ctx.t
    frame = shown.values.assign(hidden=shown.mask[t("eingliederungsquote")].to_numpy())
    return plots.line(
        frame,
        x=t("year"),
        y=t("eingliederungsquote"),
        band=(t("ci_low"), t("ci_high")),
        suppressed="hidden",
        percent=True,
        title=f"{t('eingliederungsquote')} 6 Monate nach Austritt",
        x_title=t("year"),
        y_title=t("eingliederungsquote"),
        language=ctx.language,
    )


def decisions_for_readers(decisions: pd.DataFrame, ctx: Any) -> pd.DataFrame:
    """Decisions by category (rows) and regulation (columns), labelled."""
    out = decisions.rename(index=labels.labels_for(labels.RECOGNITION_DECISIONS, ctx.language))
    out = out.rename(
        columns={"regulated": ctx.t("regulated"), "not_regulated": ctx.t("not_regulated")}
    )
    return out.rename_axis(index=ctx.t("decision"))


def decisions_chart(shown: DisclosedTable, ctx: Any) -> go.Figure:
    """Stacked bars of decisions per regulation group (protected counts only)."""
    total = ctx.t("total")
    values = shown.values.drop(index=total, errors="ignore").drop(columns=total, errors="ignore")
    mask = shown.mask.loc[values.index, values.columns]
    long = values.stack(future_stack=True).rename("n").reset_index()
    long.columns = ["decision", "group", "n"]
    long["hidden"] = mask.stack(future_stack=True).to_numpy()
    return plots.bar(
        long,
        x="group",
        y="n",
        color="decision",
        suppressed="hidden",
        marker=shown.rule.marker,
        barmode="stack",
        title=f"Entscheidungen über Anerkennungsanträge {ctx.period.label}",
        y_title=ctx.t("count"),
        language=ctx.language,
    )


def duration_for_readers(duration: pd.DataFrame, ctx: Any) -> pd.DataFrame:
    """Months to decision per regulation group and in total."""
    out = duration.reset_index()
    out["group"] = out["group"].map(
        {
            "regulated": ctx.t("regulated"),
            "not_regulated": ctx.t("not_regulated"),
            "total": ctx.t("total"),
        }
    )
    return ctx.reader_columns(out)
