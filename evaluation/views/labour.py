"""Reader tables and charts for the labour-market notebook."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from evaluation import labels, plots
from evaluation.indicators import labour
from evaluation.protection import DisclosedTable
from evaluation.protection.curves import protect_km

FOLLOWUP_DEFINITION = {
    "de": (
        "**Eingliederungsquote**: Anteil der Austritte, die zum Stichtag sozialversicherungspflichtig "
        "beschäftigt sind. **Verbleibsquote**: Anteil der Austritte, die zum Stichtag nicht arbeitslos "
        "gemeldet sind. Beide Quoten sind wie bei der Bundesagentur für Arbeit definiert, beziehen sich "
        "hier aber auf die Austritte **mit bekanntem Status** (die Agentur erreicht nicht alle "
        "Ehemaligen); die Erreichungsquote steht daneben. Wie bei der BA beschreiben die Quoten "
        "Verläufe und sind kein Nachweis einer Wirkung. **Vergleichbar mit BA-Zahlen ist nur die "
        "erste Tabelle je Stichtag** (alle Austritte im Nenner); die Tabelle nach Projekt und "
        "Eintrittskohorte danach zeigt die Quoten unter den Austritten mit bekanntem Status."
    ),
    "en": (
        "**Integration rate** (Eingliederungsquote): share of exits in employment subject to social "
        "insurance at the follow-up date. **Retention rate** (Verbleibsquote): share of exits not "
        "registered unemployed. Defined as by the German Federal Employment Agency, but among exits "
        "whose status is known; the response rate is shown beside them. Descriptive, not causal. "
        "Only the first table per follow-up point (all exits in the denominator) is comparable "
        "with BA figures."
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
    out["project"] = _codes(out, "project", labels.PROJECTS, ctx).replace(
        ctx.t("total"), _overall(ctx)
    )
    return ctx.reader_columns(out)


def _overall(ctx: Any) -> str:
    return (
        "Personen insgesamt (ohne Doppelzählung)"
        if ctx.language == "de"
        else "Persons, unduplicated"
    )


def _project_labels(values: pd.Series, ctx: Any) -> pd.Series:
    mapping = labels.labels_for(labels.PROJECTS, ctx.language)
    return values.map(lambda v: mapping.get(v, v))


def _prefixed(kind: str, ids: pd.Series) -> pd.Series:
    return kind + ":" + ids.astype(str)


def flows_units(enrolments: pd.DataFrame, ctx: Any) -> pd.DataFrame:
    """Units of :func:`flows_for_readers`: one row per enrolment, flags for entries/exits/drop-outs."""
    u = labour.reach_units(enrolments, ctx.period.start, ctx.period.end)
    out = pd.DataFrame(
        {
            "unit": _prefixed("enrolment", u["enrolment_id"]),
            "project": _project_labels(u["project"], ctx),
            "entries": u["entry"],
            "exits": u["exit"],
            "dropouts": u["dropout"],
        }
    )
    return ctx.reader_columns(out)


def persons_units(enrolments: pd.DataFrame, ctx: Any) -> pd.DataFrame:
    """Units of :func:`persons_for_readers`: persons per project and once in the overall row."""
    u = labour.reach_units(enrolments, ctx.period.start, ctx.period.end)
    u = u[u["active"]]
    per_project = pd.DataFrame(
        {"unit": _prefixed("person", u["person_id"]), "project": _project_labels(u["project"], ctx)}
    ).drop_duplicates()
    overall = pd.DataFrame(
        {"unit": _prefixed("person", pd.Series(u["person_id"].unique())), "project": _overall(ctx)}
    )
    out = pd.concat([per_project, overall], ignore_index=True).assign(persons=True)
    return ctx.reader_columns(out)


_STATUS_FLAGS = ("known", "svb", "not_unemployed")


def followup_units(
    enrolments: pd.DataFrame, followups: pd.DataFrame, ctx: Any, *, months: int
) -> pd.DataFrame:
    """Units of :func:`followup_table`: one row per exit, with project, cohort and status flags."""
    u = labour.followup_units_in_period(
        enrolments, followups, ctx.period, months=months, data_end=ctx.data_end
    )
    out = pd.DataFrame(
        {
            "unit": _prefixed("enrolment", u["enrolment_id"]),
            "project": _project_labels(u["project"], ctx),
            "cohort": u["cohort"],
            "exits": True,
            **{flag: u[flag].astype(bool) for flag in _STATUS_FLAGS},
        }
    )
    return ctx.reader_columns(out)


def trend_units(
    enrolments: pd.DataFrame, followups: pd.DataFrame, ctx: Any, *, months: int = 6
) -> pd.DataFrame:
    """Units of :func:`trend_table`: exits per year of the follow-up date, ``known``/``svb`` flags."""
    u = labour.yearly_trend_units(
        enrolments, followups, until=ctx.period.end, months=months, data_end=ctx.data_end
    )
    out = pd.DataFrame(
        {
            "unit": _prefixed("enrolment", u["enrolment_id"]),
            "year": u["year"],
            "known": u["known"].astype(bool),
            "svb": u["svb"].astype(bool),
        }
    )
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


def _regulation(regulated: pd.Series, ctx: Any) -> pd.Series:
    """Regulation group labels, decided as the indicators decide them (``np.where``)."""
    names = np.where(regulated, ctx.t("regulated"), ctx.t("not_regulated"))
    return pd.Series(names, index=regulated.index)


def decisions_units(cases: pd.DataFrame, ctx: Any) -> pd.DataFrame:
    """Units of :func:`decisions_for_readers` for ``ctx.counts_table``: one row per decided case."""
    c = labour.decisions_in_period(cases, ctx.period.start, ctx.period.end)
    names = labels.labels_for(labels.RECOGNITION_DECISIONS, ctx.language)
    return pd.DataFrame(
        {
            "unit": _prefixed("case", c["case_id"]),
            "row": c["decision"].map(lambda v: names.get(v, v)).astype(str),
            "column": _regulation(c["regulated"], ctx),
            "n": True,
        }
    )


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


def duration_units(cases: pd.DataFrame, ctx: Any) -> pd.DataFrame:
    """Units of :func:`duration_for_readers`: one row per decision (withdrawn left out)."""
    c = labour.decided(cases, ctx.period.start, ctx.period.end)
    out = pd.DataFrame(
        {
            "unit": _prefixed("case", c["case_id"]),
            "group": _regulation(c["regulated"], ctx),
            "n": True,
        }
    )
    return ctx.reader_columns(out)


EFFECT_DEFINITION = {
    "de": (
        "**Wie die Wirkung geschätzt wird.** Verglichen wird, wie oft Teilnehmende in den Quartalen "
        "nach ihrem Eintritt sozialversicherungspflichtig beschäftigt sind, mit Personen, die zur "
        "selben Zeit **noch nicht** eingetreten sind (sie treten später ein). Personen- und "
        "Quartalseffekte gleichen feste Unterschiede zwischen Personen und die allgemeine Lage am "
        "Arbeitsmarkt aus (Event-Study mit gestaffeltem Eintritt, Wooldridge 2021 / Borusyak, "
        "Jaravel und Spiess 2024). Die Schätzung ist nur so gut wie ihre Annahmen: "
        "(1) Ohne Eintritt hätte sich die Beschäftigung der Teilnehmenden so entwickelt wie die der "
        "noch nicht Eingetretenen (parallele Trends); "
        "(2) schon vor dem Eintritt ändert sich nichts, weil er bevorsteht (keine Vorwegnahme) – "
        "die Quartale vor dem Eintritt prüfen das; "
        "(3) wer wann eintritt, hängt nicht mit kurzfristigen Beschäftigungschancen zusammen. "
        "Verletzt wäre (3) etwa, wenn Menschen gerade dann in die Beratung kommen, wenn sie ihre "
        "Stelle verloren haben. Die Zahlen sind daher eine begründete Schätzung, kein Beweis."
    ),
    "en": (
        "**How the effect is estimated.** Participants' employment in the quarters after entry is "
        "compared with people who had **not yet** entered at the same time (staggered-entry event "
        "study with person and quarter effects; Wooldridge 2021, Borusyak, Jaravel & Spiess 2024). "
        "Assumptions: parallel trends, no anticipation (checked by the quarters before entry), and "
        "timing of entry unrelated to short-term employment chances. An estimate, not a proof."
    ),
}


def _estimate_frame(rows: pd.DataFrame, ctx: Any, *, term_label: dict[str, str]) -> pd.DataFrame:
    out = rows[["term", "estimate", "ci_low", "ci_high", "n"]].copy()
    out["term"] = out["term"].map(lambda t: term_label.get(t, t))
    names = {
        "term": "Größe" if ctx.language == "de" else "Quantity",
        "estimate": "Schätzung" if ctx.language == "de" else "Estimate",
        "n": "Beobachtungen" if ctx.language == "de" else "Observations",
    }
    return ctx.reader_columns(out.rename(columns=names))


def event_study_table(result: Any, ctx: Any) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Overall effect and effects by quarter since entry, in percentage points (protected)."""
    rows = result.tidy()
    de = ctx.language == "de"
    labels_ = {
        "ATT": "Durchschnitt über alle Quartale nach Eintritt"
        if de
        else "Average over all quarters after entry"
    }
    for term in rows["term"]:
        if term.startswith("e="):
            k = int(term[2:])
            labels_[term] = (
                (f"{k}. Quartal nach Eintritt" if k else "Quartal des Eintritts")
                if de
                else (f"quarter {k} after entry" if k else "quarter of entry")
            )
    rows = rows.assign(**{c: rows[c] * 100 for c in ("estimate", "ci_low", "ci_high")})
    frame = _estimate_frame(rows, ctx, term_label=labels_)
    pp = " (Pp.)" if de else " (pp)"
    frame = frame.rename(columns={frame.columns[1]: frame.columns[1] + pp})
    names = frame.columns
    options = {
        "n": names[-1],
        "derived": [names[1], ctx.t("ci_low"), ctx.t("ci_high")],
        "decimals": 1,
    }
    return frame, options


def event_study_chart(result: Any, ctx: Any) -> go.Figure:
    """Effect by quarter relative to entry, with the pre-entry checks, in percentage points.

    The estimates are differences of shares; they are drawn × 100 (Prozentpunkte), the
    scale of the table and of the annual report.
    """
    post = result.event_time.assign(k=lambda d: d["term"].str[2:].astype(int))
    pre = (
        result.pretrend.assign(k=lambda d: d["term"].str[2:].astype(int))
        if result.pretrend is not None
        else post.iloc[:0]
    )
    fig = go.Figure()
    for i, (name, part) in enumerate(((ctx.t("before_entry"), pre), (ctx.t("after_entry"), post))):
        fig.add_trace(
            go.Scatter(
                x=part["k"],
                y=part["estimate"] * 100,
                mode="markers",
                name=name,
                marker={"size": 10, "color": plots.PALETTE[i]},
                error_y={
                    "type": "data",
                    "array": (part["ci_high"] - part["estimate"]) * 100,
                    "arrayminus": (part["estimate"] - part["ci_low"]) * 100,
                },
            )
        )
    fig.add_hline(y=0, line_color="#9aa5b1")
    fig.update_layout(
        title="Geschätzte Veränderung der Beschäftigungsquote nach Quartal relativ zum Eintritt"
        if ctx.language == "de"
        else "Estimated change in the employment rate by quarter relative to entry",
        xaxis_title=ctx.t("quarter_since_entry"),
        yaxis_title=ctx.t("effect_pp"),
    )
    fig.update_yaxes(ticksuffix=" Pp." if ctx.language == "de" else " pp")
    fig.update_xaxes(dtick=1)
    return fig


def km_chart(
    result: Any,
    ctx: Any,
    *,
    groups: list[str],
    codes: dict[str, tuple[str, str]],
    title: str | None = None,
) -> go.Figure:
    """Share in employment (1 - Kaplan-Meier) by group, cut where fewer than the threshold are at risk.

    Only ``groups`` are drawn (those whose size passed disclosure control), and only the
    points :func:`evaluation.protection.curves.protect_km` lets through: every step stands
    for at least the suppression threshold of persons finding a job, and a curve stops when
    fewer than the threshold remain under observation. The chart data holds nothing more.
    """
    curves = []
    for key in groups:
        table = protect_km(result.km_fitters[key], threshold=ctx.rule.threshold)
        label = labels.label(key, codes, ctx.language)
        curves.append(
            pd.DataFrame(
                {
                    "months": table["time"],
                    "employed": 1 - table["survival"],
                    "low": 1 - table["ci_high"],
                    "high": 1 - table["ci_low"],
                    "group": label,
                }
            )
        )
    frame = (
        pd.concat(curves, ignore_index=True)
        if curves
        else pd.DataFrame(columns=["months", "employed", "low", "high", "group"])
    )
    return plots.step(
        frame,
        x="months",
        y="employed",
        color="group",
        band=("low", "high"),
        title=title
        or (
            "Anteil mit erster sozialversicherungspflichtiger Beschäftigung seit Eintritt"
            if ctx.language == "de"
            else "Share with a first job subject to social insurance since entry"
        ),
        x_title=ctx.t("months_since_entry"),
        y_title=ctx.t("share"),
    )


def _target_group(code: str, ctx: Any) -> str:
    return ctx.t("total") if code == "" else labels.label(code, labels.TARGET_GROUPS, ctx.language)


def time_to_employment_table(result: pd.DataFrame, ctx: Any) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Kaplan-Meier median months to first employment by target group (catalogue result)."""
    out = result[["group_value", "n", "value", "ci_low", "ci_high"]].copy()
    out["group_value"] = out["group_value"].map(lambda v: _target_group(v, ctx))
    out = out.rename(columns={"group_value": "target_group", "value": "median"})
    out = ctx.reader_columns(out)
    t = ctx.t
    return out, {
        "n": t("n"),
        "derived": [t("median"), t("ci_low"), t("ci_high")],
        "decimals": 1,
        "complementary_within": t("target_group"),
    }


def time_to_employment_units(ctx: Any) -> pd.DataFrame:
    """One row per entrant of the period: months to first employment and whether it was observed."""
    from evaluation.indicators import catalogue

    entry = catalogue.load_catalogue().get("lm_months_to_employment")
    return catalogue.unit_frame(entry, ctx.table, period=ctx.period, data_end=ctx.data_end)


def time_to_employment_table_units(units: pd.DataFrame, ctx: Any) -> pd.DataFrame:
    """Units of :func:`time_to_employment_table`: the entrants of ``units`` by target group.

    ``units`` is :func:`time_to_employment_units`; each entrant counts once in its group.
    """
    from evaluation.indicators import catalogue

    codes = catalogue.group_codes(units["target_group"])
    out = pd.DataFrame(
        {
            "unit": _prefixed("person", units["person_id"]),
            "target_group": codes.map(lambda v: _target_group(v, ctx)),
            "n": True,
        }
    )
    return ctx.reader_columns(out)


def visible_groups(result: pd.DataFrame, shown: DisclosedTable, ctx: Any) -> list[str]:
    """Group codes of a catalogue result whose count was not suppressed in ``shown``."""
    hidden = shown.mask[ctx.t("n")].to_numpy()
    return [code for code, h in zip(result["group_value"], hidden, strict=True) if code and not h]


# --------------------------------------------------------------------------------------------
# Issue 10: BA-comparable quotas, censored durations, pre-trend test, one scale
# --------------------------------------------------------------------------------------------

QUOTA_FORMS_DEFINITION = {
    "de": (
        "**Zwei Formen der Quoten.** Die Bundesagentur für Arbeit (BA) teilt in ihren "
        "Förderstatistiken durch **alle Austritte** („Austritte insgesamt“); Beschäftigung zählt "
        "nur, wo sie festgestellt ist. So gerechnet (**BA-vergleichbar**) steht hier jeder Austritt "
        "mit fälligem Stichtag im Nenner, und wer nicht nachbefragt werden konnte, zählt nicht als "
        "beschäftigt bzw. verblieben. Die Quoten **unter den Austritten mit bekanntem Status** "
        "(Tabelle danach) sind mit BA-Zahlen nicht vergleichbar. Der **Spielraum** zeigt, was die "
        "unbekannten Fälle zulassen: von „alle unbekannten nicht beschäftigt“ (= BA-vergleichbare "
        "Quote) bis „alle unbekannten beschäftigt“ (Schranken nach Manski)."
    ),
    "en": (
        "**Two forms of the quotas.** The Federal Employment Agency (BA) divides by **all exits**; "
        "employment counts only where established. Computed that way (**BA-comparable**), every "
        "exit whose follow-up date has come is in the denominator and those not reached do not "
        "count as employed or retained. The quotas among exits with known status (next table) "
        "are not comparable with BA figures. The **range** shows what the unknowns allow: from "
        "all unknown not employed (= the BA-comparable quota) to all unknown employed (Manski "
        "bounds)."
    ),
}

_QUOTA_COLUMNS = {
    # column: (German, English)
    "due": ("Austritte mit fälligem Stichtag", "Exits due"),
    "known": ("Status bekannt", "Status known"),
    "svb": ("beschäftigt (festgestellt)", "employed (established)"),
    "not_unemployed": ("nicht arbeitslos (festgestellt)", "not unemployed (established)"),
    "svb_best": ("beschäftigt, wenn alle unbekannten beschäftigt", "employed if all unknown were"),
    "eq_ba": ("Eingliederungsquote BA-vergleichbar", "Integration rate, BA-comparable"),
    "eq_best": (
        "Eingliederungsquote, höchstens (alle unbekannten beschäftigt)",
        "Integration rate, at most (all unknown employed)",
    ),
    "vq_ba": ("Verbleibsquote BA-vergleichbar", "Retention rate, BA-comparable"),
}


def _q(key: str, ctx: Any) -> str:
    return labels.label(key, _QUOTA_COLUMNS, ctx.language)


def quota_forms_table(
    units: pd.DataFrame, ctx: Any
) -> tuple[pd.DataFrame, dict[str, Any], pd.DataFrame]:
    """BA-comparable quotas and the upper bound by project and in total, with table units.

    ``units`` is :func:`evaluation.indicators.labour.followup_units_in_period`. Returns the
    reader frame, the ``ctx.indicator_table`` options and the units (one row per due exit).
    The worst case of the Manski bounds is the BA-comparable quota itself.
    """
    u = units[units["due"]].copy()
    u["svb_best"] = u["svb"] | ~u["known"]
    flags = ["known", "svb", "not_unemployed", "svb_best"]
    per = u.groupby("project")[flags].sum().reindex(list(labour.LABOUR_PROJECTS), fill_value=0)
    per["due"] = u.groupby("project").size().reindex(per.index, fill_value=0)
    per.loc["total"] = per.sum()
    out = pd.DataFrame({"project": per.index, "due": per["due"].to_numpy()})
    for flag in flags:
        out[flag] = per[flag].to_numpy()
    due = out["due"].where(out["due"] > 0)
    out["eq_ba"], out["eq_best"], out["vq_ba"] = (
        out["svb"] / due,
        out["svb_best"] / due,
        out["not_unemployed"] / due,
    )
    out["project"] = _codes(out, "project", labels.PROJECTS, ctx)
    names = {k: _q(k, ctx) for k in _QUOTA_COLUMNS}
    frame = out.rename(columns={**names, "project": ctx.t("project")})
    options = {
        "n": names["due"],
        "counts": [names["known"]],
        "numerators": {
            names["eq_ba"]: names["svb"],
            names["eq_best"]: names["svb_best"],
            names["vq_ba"]: names["not_unemployed"],
        },
        "percent": [names["eq_ba"], names["eq_best"], names["vq_ba"]],
        "hide": [names["svb"], names["svb_best"], names["not_unemployed"]],
        "complementary_within": ctx.t("project"),
    }
    unit_rows = pd.DataFrame(
        {
            "unit": _prefixed("enrolment", u["enrolment_id"]),
            ctx.t("project"): _project_labels(u["project"], ctx).to_numpy(),
            names["due"]: True,
            **{names[f]: u[f].astype(bool).to_numpy() for f in flags},
        }
    )
    return frame, options, unit_rows


def pretrend_sentence(result: Any, ctx: Any) -> str:
    """The pre-trend F test in words and numbers (``F(2, 611) = 0,84; p = 0,43``)."""
    wald = getattr(result, "pretrend_wald", None)
    de = ctx.language == "de"
    if wald is None:
        return (
            "Für die Quartale vor dem Eintritt liegen zu wenige Beobachtungen vor; die Annahme "
            "paralleler Trends ließ sich nicht prüfen."
            if de
            else "Too few observations before entry: parallel trends could not be checked."
        )
    f = labels.format_number(wald.stat, 2, ctx.language)
    p = labels.format_number(wald.pval, 3, ctx.language)
    df = f"{int(wald.df)}, {int(wald.df_denom)}" if de else f"{int(wald.df)}, {int(wald.df_denom)}"
    numbers = f"F({df}) = {f}; p = {p}"
    if de:
        verdict = (
            "Die Quartale vor dem Eintritt weichen gemeinsam nicht mehr ab, als der Zufall "
            "erklärt: Der Test spricht nicht gegen parallele Trends und keine Vorwegnahme "
            "(er beweist sie aber nicht)."
            if wald.pval >= 0.05
            else "Die Quartale vor dem Eintritt weichen gemeinsam mehr ab, als der Zufall "
            "erklärt: Die Annahme paralleler Trends ist fraglich, die Schätzung mit Vorsicht "
            "zu lesen."
        )
        return f"**Prüfung vor dem Eintritt** (gemeinsamer F-Test der Vorquartale): {numbers}. {verdict}"
    verdict = (
        "no evidence against parallel trends (which the test cannot prove)."
        if wald.pval >= 0.05
        else "evidence against parallel trends: read the estimate with caution."
    )
    return f"**Pre-entry check** (joint F test of the leads): {numbers}; {verdict}"


def km_table(result: pd.DataFrame, ctx: Any, *, group: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Kaplan-Meier medians of a catalogue result by ``group`` (regulated or target group)."""
    out = result[["group_value", "n", "value", "ci_low", "ci_high"]].copy()
    if group == "regulated":
        names = {
            "regulated": ctx.t("regulated"),
            "not_regulated": ctx.t("not_regulated"),
            "": ctx.t("total"),
        }
        out["group_value"] = out["group_value"].map(lambda v: names.get(v, v))
    else:
        out["group_value"] = out["group_value"].map(lambda v: _target_group(v, ctx))
    key = "group" if group == "regulated" else "target_group"
    out = ctx.reader_columns(out.rename(columns={"group_value": key, "value": "median"}))
    t = ctx.t
    return out, {
        "n": t("n"),
        "derived": [t("median"), t("ci_low"), t("ci_high")],
        "decimals": 1,
        "complementary_within": t(key),
    }


def km_units(units: pd.DataFrame, ctx: Any, *, group: str, kind: str) -> pd.DataFrame:
    """Units of :func:`km_table`: one row per case or person in its group."""
    from evaluation.indicators import catalogue

    codes = catalogue.group_codes(units[group])
    if group == "regulated":
        names = {"regulated": ctx.t("regulated"), "not_regulated": ctx.t("not_regulated")}
        shown = codes.map(lambda v: names.get(v, v))
        key = ctx.t("group")
    else:
        shown = codes.map(lambda v: _target_group(v, ctx))
        key = ctx.t("target_group")
    ids = units["case_id"] if kind == "case" else units["person_id"]
    return pd.DataFrame({"unit": _prefixed(kind, ids), key: shown.to_numpy(), ctx.t("n"): True})


def decision_km_chart(result: Any, ctx: Any, *, groups: list[str]) -> go.Figure:
    """Share of applications decided over months since application (1 - KM), protected."""
    curves = []
    for key in groups:
        table = protect_km(result.km_fitters[key], threshold=ctx.rule.threshold)
        curves.append(
            pd.DataFrame(
                {
                    "months": table["time"],
                    "decided": 1 - table["survival"],
                    "low": 1 - table["ci_high"],
                    "high": 1 - table["ci_low"],
                    "group": ctx.t(key),
                }
            )
        )
    frame = pd.concat(curves, ignore_index=True)
    de = ctx.language == "de"
    return plots.step(
        frame,
        x="months",
        y="decided",
        color="group",
        band=("low", "high"),
        title="Anteil beschiedener Anträge nach Monaten seit Antrag (offene Anträge zensiert)"
        if de
        else "Share of applications decided by months since application (pending censored)",
        x_title="Monate seit Antrag" if de else "Months since application",
        y_title=ctx.t("share"),
    )


def sustained_table(result: pd.DataFrame, ctx: Any) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Share in sustained employment within 12 months by target group (catalogue share result)."""
    de = ctx.language == "de"
    started = "mit nachhaltiger Beschäftigung" if de else "in sustained employment"
    share = ctx.t("share")
    out = pd.DataFrame(
        {
            ctx.t("target_group"): result["group_value"].map(lambda v: _target_group(v, ctx)),
            ctx.t("n"): result["denominator"].astype(int).to_numpy(),
            started: result["numerator"].astype(int).to_numpy(),
            share: result["value"].to_numpy(),
            ctx.t("ci_low"): result["ci_low"].to_numpy(),
            ctx.t("ci_high"): result["ci_high"].to_numpy(),
        }
    )
    shares = [share, ctx.t("ci_low"), ctx.t("ci_high")]
    return out, {
        "n": ctx.t("n"),
        "numerators": dict.fromkeys(shares, started),
        "percent": shares,
        "hide": [started],
        "complementary_within": ctx.t("target_group"),
    }


def sustained_units(units: pd.DataFrame, ctx: Any) -> pd.DataFrame:
    """Units of :func:`sustained_table`: persons counted, flag for the numerator."""
    from evaluation.indicators import catalogue

    de = ctx.language == "de"
    codes = catalogue.group_codes(units["target_group"])
    return pd.DataFrame(
        {
            "unit": _prefixed("person", units["person_id"]),
            ctx.t("target_group"): codes.map(lambda v: _target_group(v, ctx)).to_numpy(),
            ctx.t("n"): True,
            ("mit nachhaltiger Beschäftigung" if de else "in sustained employment"): units[
                "numerator"
            ]
            .astype(bool)
            .to_numpy(),
        }
    )


def sustained_km_units(ctx: Any) -> pd.DataFrame:
    """Entrants of the period with months to sustained employment (censored), for the KM curve."""
    from evaluation.indicators import catalogue

    tables = {name: ctx.table(name) for name in ("enrolments", "participants", "employment_months")}
    return catalogue.lm_time_to_sustained_employment(tables, ctx.period, ctx.data_end)


SUSTAINED_TITLE = {
    "de": "Anteil mit nachhaltiger Beschäftigung (3 Monate in Folge) seit Eintritt",
    "en": "Share in sustained employment (3 consecutive months) since entry",
}


KM_INTERVAL_NOTE = {
    "de": (
        "**Konfidenzintervall des Medians (Kaplan-Meier):** der Bereich, in dem die punktweisen "
        "95-%-Bänder der Kurve (Greenwood-Varianz auf der log(-log)-Skala) die Hälfte schneiden "
        "(lifelines; Ansatz nach Brookmeyer und Crowley). Fehlt eine Grenze, erreicht das Band "
        "die Hälfte im Beobachtungszeitraum nicht."
    ),
    "en": (
        "**Interval of the Kaplan–Meier median:** where the pointwise 95% bands of the curve "
        "(Greenwood variance on the log(-log) scale) cross one half (lifelines; Brookmeyer–"
        "Crowley approach). A missing bound means the band does not reach one half."
    ),
}
