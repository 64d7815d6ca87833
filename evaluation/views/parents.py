"""Reader tables, charts and estimates for the parent-work notebook (Elternarbeit).

The figures come from the indicator catalogue (``par_*`` ids, computed by
:mod:`evaluation.indicators.parents`) and from :mod:`evaluation.estimators`; this module
turns them into tables for readers (labels, order, disclosure options) and draws the charts
from the **protected** values only (:attr:`DisclosedTable.values` and ``.mask``).

The waiting-list trial
----------------------
Since 2023 a lottery within oversubscribed cycles assigns parents to take part now or to
wait. :func:`trial_analysis` analyses it as a randomised trial on everyone assigned
(:func:`evaluation.indicators.parents.assigned`): the primary estimate is the
intention-to-treat ANCOVA (follow-up on baseline, arm and cycle fixed effects) with missing
follow-ups multiply imputed; the complete-case ANCOVA and Lee's and Manski's bounds stand
beside it. SEs are clustered by group cycle; with fewer than :data:`FEW_CLUSTERS` cycles the
intervals come from the wild cluster bootstrap. :func:`consort_table` is the CONSORT flow,
:func:`trial_method` and :func:`effect_sentence` the words, :func:`trial_records` the
recorded figures (``par_waitlist_effect``).

Estimates on small groups
-------------------------
Disclosure control protects tables of counts and of values derived from them. An estimate
(Hedges' g, Cronbach's alpha, the waiting-list effect) rests on a group of persons too; it is
shown only when every group it rests on has at least ``ctx.rule.threshold`` persons, and
otherwise replaced by a sentence (:func:`withheld_notes`). For the waiting-list effect this
means both arms' complete cases, and a group of participants outside the randomised cycles
too small to be published (their mean would follow from the published ones).

Units for the release audit
---------------------------
Every table of counts of parents carries its *units* (:attr:`ReaderTable.units`, passed to
``ctx.indicator_table(..., units=table.units)``): one row per counted registration with its
id (``registration`` of :func:`evaluation.indicators.parents.enrolled`, ``"person:<id>"``),
the table's key labels and one boolean per count column. They tie the counts of all tables
(reach per cycle, attrition, FSW, the four questions, the estimates' numbers of parents) to the
same parents, so that the release audit sees what a reader could learn by differencing two
tables (e.g. the parents reached per arm minus the FSW respondents per arm). The number of
group cycles is an activity, not about persons: it is recorded unsuppressed (catalogue
``unit_kind: activities``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from evaluation import estimators, labels, plots
from evaluation.disclosure import DisclosedTable
from evaluation.indicators import catalogue, parents
from evaluation.plan import Period

Pair = tuple[str, str]

#: Snapshot tables the notebook reads.
TABLES = ("enrolments", "parent_groups", "participants", "parent_surveys")
#: Survey questions on involvement, in report order (codes of :data:`parents.SURVEY_ITEMS`).
ITEMS = ("school_contact", "parent_evening", "kita_enrolled", "german_course")
#: Catalogue id stem of each question (``par_<stem>_pre`` / ``par_<stem>_post``).
ITEM_IDS = {
    "school_contact": "school_contact",
    "parent_evening": "parent_evening",
    "kita_enrolled": "kita",
    "german_course": "german_course",
}
#: Estimators need a few persons whatever the threshold (paired t and Feldt need n - 1 > 1).
MIN_ESTIMATE_N = 3
ESTIMATE_COLUMNS = [
    "indicator_id",
    "group_var",
    "group_value",
    "term",
    "estimate",
    "ci_low",
    "ci_high",
    "n",
    "shown",
    "note",
    "units",
]

#: Words of this notebook's tables and charts (German, English).
TERMS: dict[str, Pair] = {
    "cycle": ("Gruppenzyklus", "Group cycle"),
    "participants": ("Teilnehmende Eltern", "Participating parents"),
    "waitlist": ("Wartegruppe (ausgelost)", "Waiting list (randomised)"),
    "attendance": ("Anwesenheit (Anteil der Treffen)", "Attendance (share of sessions)"),
    "group": ("Gruppe", "Group"),
    "with_pre": ("Vorher befragt", "Pre survey answered"),
    "no_post": ("ohne Nachher-Befragung", "No post survey"),
    "attrition": ("Ausfall", "Attrition"),
    "stayed": ("mit Nachher-Befragung", "With post survey"),
    "attendance_stayed": (
        "Anwesenheit der Teilnehmenden mit Nachher-Befragung",
        "Attendance of participants with post survey",
    ),
    "attendance_left": (
        "Anwesenheit der Teilnehmenden ohne Nachher-Befragung",
        "Attendance of participants without post survey",
    ),
    "panel_n": ("Eltern mit beiden Befragungen", "Parents with both surveys"),
    "answered_both": (
        "Eltern mit Antwort vorher und nachher",
        "Parents answering before and after",
    ),
    "pre": ("vorher", "before"),
    "post": ("nachher", "after"),
    "change": ("Veränderung", "Change"),
    "change_low": ("Veränderung: 95-%-KI unten", "Change: 95% CI low"),
    "change_high": ("Veränderung: 95-%-KI oben", "Change: 95% CI high"),
    "pre_low": ("vorher: 95-%-KI unten", "before: 95% CI low"),
    "pre_high": ("vorher: 95-%-KI oben", "before: 95% CI high"),
    "post_low": ("nachher: 95-%-KI unten", "after: 95% CI low"),
    "post_high": ("nachher: 95-%-KI oben", "after: 95% CI high"),
    "pre_yes": ("vorher: ja", "before: yes"),
    "post_yes": ("nachher: ja", "after: yes"),
    "question": ("Frage", "Question"),
    "quantity": ("Größe", "Quantity"),
    "estimate": ("Schätzwert", "Estimate"),
    "n_parents": ("Anzahl Eltern", "Parents"),
    "fsw_axis": ("FSW-Mittelwert (Skala 1–6)", "FSW mean (scale 1–6)"),
    "share_yes": ("Anteil „ja“", "Share answering yes"),
    # the questions
    "school_contact": ("Kontakt zu Lehrkräften", "Contact with teachers"),
    "parent_evening": ("Besuch eines Elternabends", "Attended a parent evening"),
    "kita_enrolled": ("Kind besucht eine Kita", "Child attends a Kita"),
    "german_course": ("Besuch eines Deutschkurses", "Attends a German course"),
    # captions and chart titles
    "cycles_caption": (
        "Gruppenzyklen mit Ende {period}: angemeldete Eltern und Anwesenheit",
        "Group cycles ending {period}: parents registered and attendance",
    ),
    "attrition_caption": (
        "Ausfall zwischen Vorher- und Nachher-Befragung, Zyklen mit Ende {period}",
        "Attrition between pre and post survey, cycles ending {period}",
    ),
    "fsw_caption": (
        "Selbstwirksamkeit in der Erziehung (FSW), Zyklen mit Ende {period}",
        "Parenting self-efficacy (FSW), cycles ending {period}",
    ),
    "fsw_title": (
        "Selbstwirksamkeit in der Erziehung (FSW) vorher und nachher, {period}",
        "Parenting self-efficacy (FSW) before and after, {period}",
    ),
    "estimates_caption": (
        "Zuverlässigkeit der FSW-Skala und Stärke der Veränderung, {period}",
        "Reliability of the FSW scale and size of the change, {period}",
    ),
    "effect_caption": (
        "Wirkung eines zugelosten Platzes auf die Selbstwirksamkeit (Vergleich mit der "
        "Wartegruppe), {period}",
        "Effect of being offered a place on self-efficacy (comparison with the waiting list), "
        "{period}",
    ),
    "items_caption": (
        "Schule, Kita und Deutschkurs vorher und nachher, Zyklen mit Ende {period} (explorativ)",
        "School, Kita and German course before and after, cycles ending {period} (exploratory)",
    ),
    "items_title": (
        "Anteil der Eltern mit „ja“ vorher und nachher, {period}",
        "Share of parents answering yes before and after, {period}",
    ),
    # estimate terms
    "alpha_term": (
        "Cronbachs Alpha der FSW-Skala (Vorher-Befragung)",
        "Cronbach's alpha of the FSW scale (pre survey)",
    ),
    "g_term": (
        "Hedges' g der Vorher-nachher-Veränderung: {arm}",
        "Hedges' g of the pre/post change: {arm}",
    ),
    "itt_term": (
        "Wirkung, alle Zugelosten (fehlende Werte ergänzt) – Hauptschätzung",
        "Effect, everyone assigned (missing values imputed) – main estimate",
    ),
    "cc_term": (
        "Wirkung, nur vollständige Fälle – zum Vergleich",
        "Effect, complete cases only – for comparison",
    ),
    "lee_lower": ("Lee-Schranke unten (Ausfall)", "Lee bound, lower (attrition)"),
    "lee_upper": ("Lee-Schranke oben (Ausfall)", "Lee bound, upper (attrition)"),
    "manski_lower": ("Manski-Schranke unten (Ausfall)", "Manski bound, lower (attrition)"),
    "manski_upper": ("Manski-Schranke oben (Ausfall)", "Manski bound, upper (attrition)"),
    "consort_caption": (
        "Ablauf der Auslosung: zugeloste, befragte und ausgewertete Eltern, Zyklen mit Ende {period}",
        "Flow of the randomised trial: parents assigned, surveyed and analysed, cycles ending {period}",
    ),
    "consort_assigned": ("Zugelost", "Assigned"),
    "consort_before": ("Vorher befragt", "Surveyed before"),
    "consort_after": ("Nachher befragt", "Surveyed after"),
    "consort_analysed": (
        "Beide FSW-Werte gültig (vollständige Fälle)",
        "Both FSW scores valid (complete cases)",
    ),
}

#: The three estimates this notebook records, until the catalogue lists them: label,
#: Wirkungstreppe level and definition. :func:`indicator_text` prefers the catalogue entry.
NO_CYCLES: Pair = (
    "Im Berichtszeitraum endete kein Zyklus der Elterngruppen. Ein Zyklus zählt in dem "
    "Zeitraum, in dem er endet.",
    "No parent-group cycle ended in this period. A cycle counts in the period in which it ends.",
)
NO_PANEL: Pair = (
    "Für die Zyklen dieses Zeitraums liegen noch keine Eltern mit Vorher- und "
    "Nachher-Befragung vor.",
    "No parents with both a pre and a post survey yet for the cycles of this period.",
)
NO_WAITLIST: Pair = (
    "**Keine Vergleichsgruppe.** In keinem der Zyklen, die im Berichtszeitraum endeten, wurde "
    "eine Wartegruppe ausgelost (die Agentur lost Wartegruppen seit 2023 in überbuchten Zyklen "
    "aus). Die Vorher-nachher-Veränderung der Teilnehmenden ist deshalb **keine "
    "Wirkungsschätzung**: Selbstwirksamkeit, Schulkontakte, Kita-Besuch und Deutschkurse "
    "ändern sich auch ohne Elterngruppe, etwa weil die Kinder älter werden, die Familien "
    "länger in Köln leben oder die erste Befragung in eine besonders schwierige Zeit fiel. "
    "Wie viel davon auf die Gruppe zurückgeht, lässt sich für diesen Zeitraum nicht sagen.",
    "**No comparison group.** None of the cycles ending in this period had a randomised "
    "waiting list (the agency randomises waiting lists in oversubscribed cycles since 2023). "
    "The participants' pre/post change is therefore **not an effect estimate**: "
    "self-efficacy, school contact, Kita attendance and German courses change without the "
    "group too.",
)


def term(key: str, ctx: Any, **fields: Any) -> str:
    """A word of this notebook in the report's language, with ``{placeholders}`` filled."""
    pair = TERMS.get(key)
    text = ctx.t(key) if pair is None else pair[0 if ctx.language == "de" else 1]
    return text.format(**fields) if fields else text


def text(pair: Pair, ctx: Any) -> str:
    """One of the module's German/English texts in the report's language."""
    return pair[0 if ctx.language == "de" else 1]


def caption(key: str, ctx: Any) -> str:
    """A caption or title with the reporting period filled in."""
    return term(key, ctx, period=ctx.period.label)


def _arm(code: str, ctx: Any) -> str:
    return labels.label(code, labels.ARMS, ctx.language)


# ---- definitions ---------------------------------------------------------------------------


def indicator_text(indicator_id: str, ctx: Any) -> tuple[str, str, int | None]:
    """Label, definition and Wirkungstreppe level of a catalogued indicator."""
    entry = catalogue.load_catalogue().get(indicator_id)
    return entry.label[ctx.language], entry.definition[ctx.language], entry.level


def _level_text(level: int | None, ctx: Any) -> str:
    de = ctx.language == "de"
    if level is None:
        return catalogue.CONTEXT_ROLE[0 if de else 1]
    kind = catalogue.IOOI[catalogue.iooi_of_level(level)][0 if de else 1].split(" (")[0]
    name = labels.level_name(level, ctx.language, number=False)
    if de:
        return f"Wirkungstreppe Stufe {level} „{name}“, {kind}"
    return f"impact staircase level {level} ‘{name}’, {kind}"


ITEMS_DEFINITION: Pair = (
    "Anteil der Eltern, die die Frage mit „ja“ beantworten, in der Vorher- und in der "
    "Nachher-Befragung, mit 95-%-Konfidenzintervall (Wilson; im Diagramm als Linie). Gezählt "
    "werden nur Eltern, die die Frage in beiden Befragungen eines im Berichtszeitraum endenden "
    "Zyklus beantwortet haben, damit vorher und nachher dieselben Menschen beschreiben; die "
    "Kita-Frage beantworten nur Eltern mit Kind im Kita-Alter. Der Vergleich vorher–nachher "
    "beschreibt eine Veränderung, belegt aber keine Wirkung.",
    "Share of parents answering yes in the pre and in the post survey, with 95% Wilson "
    "interval (lines in the chart). Only parents who answered the question in both surveys of "
    "a cycle ending in the period; the Kita question only for parents with a child of Kita "
    "age. Describes a change, no evidence of an effect.",
)


def items_definition(ctx: Any) -> str:
    """Definition box text for the four questions (catalogue ids ``par_<item>_pre/_post``)."""
    level = catalogue.load_catalogue().get(item_ids(ITEMS[0])[0]).level
    names = ", ".join(term(item, ctx) for item in ITEMS)
    return f"**{names}** ({_level_text(level, ctx)}): {text(ITEMS_DEFINITION, ctx)}"


def definitions(indicator_ids: list[str] | tuple[str, ...], ctx: Any) -> str:
    """Definition box text: label, Wirkungstreppe level and definition of each indicator."""
    parts = []
    for ident in indicator_ids:
        label, definition, level = indicator_text(ident, ctx)
        parts.append(f"**{label}** ({_level_text(level, ctx)}): {definition}")
    return "\n\n".join(parts)


# ---- data for the estimates -----------------------------------------------------------------


def fsw_panel(tables: catalogue.Tables, period: Period) -> pd.DataFrame:
    """Parents with a valid FSW score in both surveys (unit frame of ``par_fsw_change``)."""
    entry = catalogue.load_catalogue().get("par_fsw_change")
    return catalogue.unit_frame(entry, tables, period=period)


def pre_items(tables: catalogue.Tables, period: Period) -> pd.DataFrame:
    """Pre-survey FSW items of the parents of cycles ending in the period (both arms)."""
    surveys = tables["parent_surveys"]
    pre = surveys[surveys["wave"] == "pre"]
    keys = parents.enrolled(tables, period)[[*parents.KEYS, "registration", "arm"]]
    return pre.merge(keys.drop_duplicates(parents.KEYS), on=parents.KEYS)


def randomised_cycles(cycles: pd.DataFrame, enrolled: pd.DataFrame) -> list[str]:
    """Cycles with the waiting-list design in which a waiting list was actually drawn."""
    design = cycles.loc[cycles["waitlist_design"].fillna(False).astype(bool), "cycle_id"]
    drawn = enrolled.loc[enrolled["arm"] == "wartegruppe", "cycle_id"]
    return [c for c in design if c in set(drawn)]


# ---- reach and attendance per cycle ----------------------------------------------------------


@dataclass(frozen=True)
class ReaderTable:
    """A reader table with its disclosure options and units.

    Shown with ``ctx.indicator_table(table.frame, units=table.units, **table.options)``.
    ``units`` (one row per counted registration: ``unit``, the key columns, one boolean per
    count column) reproduces every count of ``frame`` exactly; ``None`` when the table counts
    nothing about persons.
    """

    frame: pd.DataFrame
    options: dict[str, Any] = field(default_factory=dict)
    units: pd.DataFrame | None = None


def unit_rows(ids: Any, keys: dict[str, Any], counts: dict[str, Any]) -> pd.DataFrame:
    """A units frame: ``unit`` ids, key labels and boolean count memberships (same length)."""
    out = pd.DataFrame({"unit": pd.Series(ids, dtype=object).astype(str).to_numpy()})
    for name, value in keys.items():
        out[name] = pd.Series(value, dtype=object).to_numpy() if _listlike(value) else value
    for name, value in counts.items():
        out[name] = (
            pd.Series(value).fillna(False).astype(bool).to_numpy() if _listlike(value) else value
        )
    return out


def _listlike(value: Any) -> bool:
    return isinstance(value, pd.Series | np.ndarray | list | pd.Index)


def _concat(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    return pd.concat(frames, ignore_index=True)


def _cycle_label(row: Any, ctx: Any) -> str:
    """``Elterncafé, 01.02.–01.05.2024`` (dates by babel)."""
    from babel.dates import format_date

    locale = "de_DE" if ctx.language == "de" else "en_GB"
    start, end = pd.Timestamp(row.start_date).date(), pd.Timestamp(row.end_date).date()
    first = "dd.MM." if ctx.language == "de" else "d MMM"
    last = "dd.MM.yyyy" if ctx.language == "de" else "d MMM yyyy"
    return (
        f"{row.group_name}, {format_date(start, first, locale=locale)}–"
        f"{format_date(end, last, locale=locale)}"
    )


def cycle_table(
    cycles: pd.DataFrame, enrolled: pd.DataFrame, attendance: pd.DataFrame, ctx: Any
) -> ReaderTable | None:
    """Parents registered per cycle (participants, waiting list) and mean attendance.

    ``cycles``: cycles ending in the period (:func:`parents.cycles_ending`); ``enrolled``:
    :func:`parents.enrolled`; ``attendance``: ``par_attendance`` by ``cycle_id`` from the
    catalogue. The total row sums registrations, so a parent in two cycles counts twice
    there (the distinct number is ``par_reached``). The waiting-list column appears only
    when a waiting list was drawn. ``None`` when no cycle ends in the period.
    """
    if cycles.empty:
        return None
    ordered = cycles.sort_values(["end_date", "start_date", "cycle_id"], kind="stable")
    counts = (
        pd.crosstab(enrolled["cycle_id"], enrolled["arm"])
        .reindex(index=ordered["cycle_id"], columns=list(labels.ARMS), fill_value=0)
        .fillna(0)
        .astype(int)
    )
    by_cycle = attendance[attendance["group_var"] == "cycle_id"].set_index("group_value")["value"]
    total = attendance.loc[attendance["group_var"] == "", "value"]
    t = ctx.t
    names = {
        "cycle": term("cycle", ctx),
        "participants": term("participants", ctx),
        "waitlist": term("waitlist", ctx),
        "attendance": term("attendance", ctx),
    }
    rows = [
        {
            names["cycle"]: _cycle_label(row, ctx),
            names["participants"]: int(counts.at[row.cycle_id, "teilnahme"]),
            names["waitlist"]: int(counts.at[row.cycle_id, "wartegruppe"]),
            names["attendance"]: by_cycle.get(row.cycle_id, np.nan),
        }
        for row in ordered.itertuples(index=False)
    ]
    rows.append(
        {
            names["cycle"]: t("total"),
            names["participants"]: int(counts["teilnahme"].sum()),
            names["waitlist"]: int(counts["wartegruppe"].sum()),
            names["attendance"]: float(total.iloc[0]) if len(total) else np.nan,
        }
    )
    frame = pd.DataFrame(rows)
    frame[names["attendance"]] = frame[names["attendance"]].astype(float)
    options: dict[str, Any] = {
        "n": names["participants"],
        "derived": [names["attendance"]],
        "percent": [names["attendance"]],
        "complementary_within": names["cycle"],
        "decimals": 0,
    }
    if counts["wartegruppe"].sum() > 0:
        options["counts"] = [names["waitlist"]]
    else:
        frame = frame.drop(columns=names["waitlist"])
    label = {row.cycle_id: _cycle_label(row, ctx) for row in ordered.itertuples(index=False)}
    mine = enrolled[enrolled["cycle_id"].isin(label)]
    units = unit_rows(
        mine["registration"],
        {names["cycle"]: mine["cycle_id"].map(label)},
        {
            names["participants"]: mine["arm"] == "teilnahme",
            names["waitlist"]: mine["arm"] == "wartegruppe",
        },
    )
    return ReaderTable(frame, options, units)


# ---- attrition -------------------------------------------------------------------------------


def attendance_share(units: pd.DataFrame) -> pd.Series:
    """Share of the planned sessions a participant attended (missing for the waiting list)."""
    attended = pd.to_numeric(units["sessions_attended"], errors="coerce")
    planned = pd.to_numeric(units["sessions_planned"], errors="coerce")
    share = (attended / planned).where(planned > 0).astype(float)
    return share.where(units["arm"] == "teilnahme")


def attrition_by_arm(units: pd.DataFrame) -> pd.DataFrame:
    """Attrition per arm and in total, and the attendance of those who stayed and who left.

    ``units`` is the unit frame of ``par_attrition`` (parents with a pre survey; numerator 1
    when the post survey is missing). Returns one row per arm present (code order) and
    ``total`` last, indexed by code: ``with_pre``, ``no_post``, ``stayed``, ``share`` with
    ``ci_low``/``ci_high`` (Wilson, as :func:`catalogue.compute`), and for participants the
    mean share of sessions attended by those with (``attendance_stayed``) and without
    (``attendance_left``) a post survey; missing for the waiting list and the total.
    """
    result = catalogue.summarise(units, "share", "arm")
    result.index = result["group_value"].replace({"": "total"})
    attendance = attendance_share(units)
    left = units["numerator"].astype(int) == 1
    out = pd.DataFrame(
        {
            "with_pre": result["denominator"].astype(int),
            "no_post": result["numerator"].astype(int),
            "share": result["value"],
            "ci_low": result["ci_low"],
            "ci_high": result["ci_high"],
        }
    )
    out["stayed"] = out["with_pre"] - out["no_post"]
    participants = units["arm"] == "teilnahme"
    out["attendance_stayed"] = np.nan
    out["attendance_left"] = np.nan
    if "teilnahme" in out.index:
        out.loc["teilnahme", "attendance_stayed"] = attendance[participants & ~left].mean()
        out.loc["teilnahme", "attendance_left"] = attendance[participants & left].mean()
    return out


def attrition_table(units: pd.DataFrame, ctx: Any) -> ReaderTable | None:
    """Who dropped out between the surveys: attrition by arm, and how often they had come."""
    if units.empty:
        return None
    result = attrition_by_arm(units)
    t = ctx.t
    group, n, num, stayed = (term(k, ctx) for k in ("group", "with_pre", "no_post", "stayed"))
    share, att_stayed, att_left = (
        term(k, ctx) for k in ("attrition", "attendance_stayed", "attendance_left")
    )
    frame = pd.DataFrame(
        {
            group: [t("total") if c == "total" else _arm(c, ctx) for c in result.index],
            n: result["with_pre"].to_numpy(),
            num: result["no_post"].to_numpy(),
            share: result["share"].to_numpy(),
            t("ci_low"): result["ci_low"].to_numpy(),
            t("ci_high"): result["ci_high"].to_numpy(),
            att_stayed: result["attendance_stayed"].to_numpy(dtype=float),
            att_left: result["attendance_left"].to_numpy(dtype=float),
            stayed: result["stayed"].to_numpy(),
        }
    )
    shares = [share, t("ci_low"), t("ci_high")]
    options: dict[str, Any] = {
        # each value rests on the parents it describes: the share on all with a pre survey,
        # the attendance on those who stayed or left
        "n": {**dict.fromkeys(shares, n), att_stayed: stayed, att_left: num},
        "numerators": dict.fromkeys(shares, num),
        "counts": [stayed],
        "percent": [*shares, att_stayed, att_left],
        "complementary_within": group,
        "decimals": 0,
        "hide": [stayed],
    }
    if len(result) == 2:  # one arm only: its row is the total
        frame = frame.iloc[:1].reset_index(drop=True)
        del options["complementary_within"]
    left = units["numerator"].astype(int) == 1
    members = unit_rows(
        units["registration"],
        {group: units["arm"].map(lambda a: _arm(a, ctx))},
        {n: True, num: left, stayed: ~left},
    )
    return ReaderTable(frame, options, members)


def _percent(value: float, ctx: Any) -> str:
    """A share as a whole percentage, by babel (``63 %``)."""
    from babel.numbers import format_percent

    locale = "de_DE" if ctx.language == "de" else "en_GB"
    return format_percent(
        value, "#,##0\u00a0%" if ctx.language == "de" else "#,##0%", locale=locale
    )


def attrition_note(shown: DisclosedTable, ctx: Any) -> str:
    """What attrition means for the pre/post comparison, with the protected attendance."""
    values = shown.values.set_index(term("group", ctx))
    row = values.loc[_arm("teilnahme", ctx)] if _arm("teilnahme", ctx) in values.index else None
    de = ctx.language == "de"
    has_waitlist = _arm("wartegruppe", ctx) in values.index
    waitlist_de = (
        " Die Wirkungsschätzung im Vergleich mit der Wartegruppe bezieht dagegen alle "
        "zugelosten Eltern ein, ergänzt fehlende Werte und zeigt mit Schranken, wie weit der "
        "Ausfall sie verschieben könnte."
        if has_waitlist
        else ""
    )
    waitlist_en = (
        " The waiting-list effect, in contrast, includes every assigned parent, imputes missing "
        "scores and bounds what attrition could do."
        if has_waitlist
        else ""
    )
    figures = ""
    if row is not None:
        stayed, left = row[term("attendance_stayed", ctx)], row[term("attendance_left", ctx)]
        if pd.notna(stayed) and pd.notna(left):
            figures = (
                f"Teilnehmende ohne Nachher-Befragung hatten im Mittel {_percent(left, ctx)} der "
                f"Treffen besucht, Teilnehmende mit Nachher-Befragung {_percent(stayed, ctx)}. "
                if de
                else f"Participants without a post survey had attended {_percent(left, ctx)} of "
                f"the sessions on average, those with a post survey {_percent(stayed, ctx)}. "
            )
    if de:
        return (
            figures + "Die Vorher-nachher-Vergleiche in den folgenden Abschnitten beruhen nur "
            "auf Eltern, die **beide** Befragungen beantwortet haben (vollständige Fälle). Fallen "
            "vor allem Eltern aus, die selten kamen, beschreiben die Vergleiche die regelmäßig "
            "Teilnehmenden und zeigen eher eine zu günstige Veränderung für alle angemeldeten "
            "Eltern." + waitlist_de
        )
    return (
        figures + "The pre/post comparisons below rest only on parents who answered **both** "
        "surveys (complete cases). If mainly parents who rarely came drop out, they describe "
        "the regular attenders and tend to overstate the change for all registered parents."
        + waitlist_en
    )


# ---- FSW before and after ---------------------------------------------------------------------


def _by_arm(result: pd.DataFrame) -> pd.DataFrame:
    return result[result["group_var"] == "arm"].set_index("group_value")


def fsw_table(
    pre: pd.DataFrame,
    post: pd.DataFrame,
    change: pd.DataFrame,
    ctx: Any,
    *,
    panel: pd.DataFrame | None = None,
) -> ReaderTable | None:
    """FSW mean before, after and the change per arm (catalogue results grouped by arm).

    The intervals of the means before and after take part in the protection but are hidden
    (``options["hide"]``); the chart draws them. ``panel`` (:func:`fsw_panel`, the unit frame
    of ``par_fsw_change``) gives the table its units: the parents behind each arm's number.
    """
    pre, post, change = _by_arm(pre), _by_arm(post), _by_arm(change)
    arms = [a for a in labels.ARMS if a in change.index and change.at[a, "n"] > 0]
    if not arms:
        return None
    n = term("panel_n", ctx)
    columns = {
        term("pre", ctx): pre["value"],
        term("post", ctx): post["value"],
        term("change", ctx): change["value"],
        term("change_low", ctx): change["ci_low"],
        term("change_high", ctx): change["ci_high"],
        term("pre_low", ctx): pre["ci_low"],
        term("pre_high", ctx): pre["ci_high"],
        term("post_low", ctx): post["ci_low"],
        term("post_high", ctx): post["ci_high"],
    }
    frame = pd.DataFrame(
        {
            term("group", ctx): [_arm(a, ctx) for a in arms],
            n: [int(change.at[a, "n"]) for a in arms],
            **{
                name: [float(series.get(a, np.nan)) for a in arms]
                for name, series in columns.items()
            },
        }
    )
    hidden = [term(k, ctx) for k in ("pre_low", "pre_high", "post_low", "post_high")]
    units = None
    if panel is not None:
        rows = panel[panel["arm"].isin(arms)]
        units = unit_rows(
            rows["registration"],
            {term("group", ctx): rows["arm"].map(lambda a: _arm(a, ctx))},
            {n: True},
        )
    options = {"n": n, "derived": list(columns), "decimals": 2, "hide": hidden}
    return ReaderTable(frame, options, units)


def fsw_chart(shown: DisclosedTable, ctx: Any) -> go.Figure:
    """Mean FSW score before and after per arm, with 95 % intervals (protected values only)."""
    values, mask = shown.values, shown.mask
    parts = []
    for wave in ("pre", "post"):
        col = term(wave, ctx)
        parts.append(
            pd.DataFrame(
                {
                    "group": values[term("group", ctx)].to_numpy(),
                    "wave": col,
                    "mean": values[col].to_numpy(dtype=float),
                    "low": values[term(f"{wave}_low", ctx)].to_numpy(dtype=float),
                    "high": values[term(f"{wave}_high", ctx)].to_numpy(dtype=float),
                    "hidden": mask[col].to_numpy(dtype=bool),
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    fig = plots.bar(
        frame,
        x="group",
        y="mean",
        color="wave",
        error=("low", "high"),
        suppressed="hidden",
        marker=shown.rule.marker,
        title=caption("fsw_title", ctx),
        y_title=term("fsw_axis", ctx),
        language=ctx.language,
    )
    # The scale runs from 1 to 6: bars start at its lowest point.
    fig.update_yaxes(range=[1, 6], dtick=1)
    return fig


# ---- school, Kita, German course ----------------------------------------------------------------


def item_ids(item: str) -> tuple[str, str]:
    """Catalogue ids of one question before and after."""
    stem = ITEM_IDS[item]
    return f"par_{stem}_pre", f"par_{stem}_post"


def items_table(
    results: dict[str, tuple[pd.DataFrame, pd.DataFrame]],
    ctx: Any,
    *,
    panel: pd.DataFrame | None = None,
) -> ReaderTable | None:
    """Shares answering yes before and after, per question and arm.

    ``results`` maps a question code to the catalogue results (by arm) before and after.
    Numerators and intervals take part in the protection but are hidden. ``panel``
    (:func:`evaluation.indicators.parents.panel`) gives the table its units: per question
    and arm the parents who answered both times, and who said yes before and after.
    """
    n = term("answered_both", ctx)
    names = {
        k: term(k, ctx)
        for k in (
            "pre",
            "post",
            "pre_low",
            "pre_high",
            "post_low",
            "post_high",
            "pre_yes",
            "post_yes",
        )
    }
    rows = []
    for item in ITEMS:
        if item not in results:
            continue
        pre, post = (_by_arm(r) for r in results[item])
        for arm in labels.ARMS:
            if arm not in pre.index or not pre.at[arm, "n"]:
                continue
            rows.append(
                {
                    term("question", ctx): term(item, ctx),
                    term("group", ctx): _arm(arm, ctx),
                    n: int(pre.at[arm, "n"]),
                    names["pre"]: float(pre.at[arm, "value"]),
                    names["post"]: float(post.at[arm, "value"]),
                    names["pre_yes"]: int(pre.at[arm, "numerator"]),
                    names["post_yes"]: int(post.at[arm, "numerator"]),
                    names["pre_low"]: float(pre.at[arm, "ci_low"]),
                    names["pre_high"]: float(pre.at[arm, "ci_high"]),
                    names["post_low"]: float(post.at[arm, "ci_low"]),
                    names["post_high"]: float(post.at[arm, "ci_high"]),
                }
            )
    if not rows:
        return None
    frame = pd.DataFrame(rows)
    numerators = {
        names[k]: names[f"{k.split('_')[0]}_yes"]
        for k in ("pre", "post", "pre_low", "pre_high", "post_low", "post_high")
    }
    hidden = [
        names[k] for k in ("pre_yes", "post_yes", "pre_low", "pre_high", "post_low", "post_high")
    ]
    options = {
        "n": n,
        "numerators": numerators,
        "percent": list(numerators),
        "decimals": 0,
        "hide": hidden,
    }
    units = None if panel is None else _items_units(results, panel, n, names, ctx)
    return ReaderTable(frame, options, units)


def _items_units(
    results: dict[str, Any], panel: pd.DataFrame, n: str, names: dict[str, str], ctx: Any
) -> pd.DataFrame:
    """Per question in ``results``: the panel parents who answered it in both waves."""
    question, group = term("question", ctx), term("group", ctx)
    parts = []
    for item in ITEMS:
        if item not in results:
            continue
        answered = panel[panel[f"{item}_pre"].notna() & panel[f"{item}_post"].notna()]
        parts.append(
            unit_rows(
                answered["registration"],
                {question: term(item, ctx), group: answered["arm"].map(lambda a: _arm(a, ctx))},
                {
                    n: True,
                    names["pre_yes"]: answered[f"{item}_pre"].astype(bool),
                    names["post_yes"]: answered[f"{item}_post"].astype(bool),
                },
            )
        )
    return _concat(parts, ["unit", question, group, n, names["pre_yes"], names["post_yes"]])


def items_chart(shown: DisclosedTable, ctx: Any) -> go.Figure:
    """Shares answering yes before and after per question, one colour per arm and time."""
    values, mask = shown.values, shown.mask
    parts = []
    for wave in ("pre", "post"):
        col = term(wave, ctx)
        parts.append(
            pd.DataFrame(
                {
                    "question": values[term("question", ctx)].to_numpy(),
                    "series": values[term("group", ctx)] + ": " + col,
                    "arm_order": values[term("group", ctx)].to_numpy(),
                    "wave_order": 0 if wave == "pre" else 1,
                    "share": values[col].to_numpy(dtype=float),
                    "low": values[term(f"{wave}_low", ctx)].to_numpy(dtype=float),
                    "high": values[term(f"{wave}_high", ctx)].to_numpy(dtype=float),
                    "hidden": mask[col].to_numpy(dtype=bool),
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    arm_rank = {name: i for i, name in enumerate(dict.fromkeys(values[term("group", ctx)]))}
    frame = frame.assign(rank=frame["arm_order"].map(arm_rank)).sort_values(
        ["rank", "wave_order"], kind="stable"
    )
    return plots.bar(
        frame,
        x="question",
        y="share",
        color="series",
        error=("low", "high"),
        suppressed="hidden",
        marker=shown.rule.marker,
        percent=True,
        title=caption("items_title", ctx),
        y_title=term("share_yes", ctx),
        language=ctx.language,
    )


# ---- estimates ---------------------------------------------------------------------------------


def _estimate_row(
    indicator_id: str,
    term_text: str,
    *,
    n: int,
    group: tuple[str, str] = ("", ""),
    row: pd.Series | None = None,
    note: str = "",
    units: Any = (),
) -> dict[str, Any]:
    shown = row is not None
    return {
        "indicator_id": indicator_id,
        "group_var": group[0],
        "group_value": group[1],
        "term": term_text,
        "estimate": float(row["estimate"]) if shown else np.nan,
        "ci_low": float(row["ci_low"]) if shown else np.nan,
        "ci_high": float(row["ci_high"]) if shown else np.nan,
        "n": int(n),
        "shown": shown,
        "note": note,
        "units": tuple(str(u) for u in units),
    }


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    out = pd.DataFrame(rows, columns=ESTIMATE_COLUMNS)
    out["shown"] = out["shown"].astype(bool)
    return out


def _too_few(what: str, ctx: Any) -> str:
    k = _count(max(ctx.rule.threshold, MIN_ESTIMATE_N), ctx)
    if ctx.language == "de":
        return (
            f"{what} wird nicht ausgewiesen: Dafür liegen Angaben von weniger als {k} Eltern vor."
        )
    return f"{what} is not shown: fewer than {k} parents."


def _small(n: int, ctx: Any) -> bool:
    return n < max(ctx.rule.threshold, MIN_ESTIMATE_N)


def reliability(items: pd.DataFrame, ctx: Any) -> pd.DataFrame:
    """Cronbach's alpha of the nine FSW items (:func:`estimators.cronbach_alpha`).

    ``items``: pre-survey rows (:func:`pre_items`); only complete answers count. One row
    ``par_fsw_alpha``, withheld below the suppression threshold.
    """
    what = term("alpha_term", ctx)
    complete = items[list(parents.FSW_ITEMS)].astype(float).dropna()
    n = len(complete)
    if _small(n, ctx):
        return _frame([_estimate_row("par_fsw_alpha", what, n=n, note=_too_few(what, ctx))])
    result = estimators.cronbach_alpha(complete, items=list(parents.FSW_ITEMS))
    row = result.tidy().iloc[0]
    ids = items.loc[complete.index, "registration"]
    return _frame([_estimate_row("par_fsw_alpha", what, n=n, row=row, units=ids)])


def effect_sizes(panel: pd.DataFrame, ctx: Any) -> pd.DataFrame:
    """Hedges' g (d_rm) of the pre/post change per arm (:func:`estimators.prepost`).

    ``panel``: :func:`fsw_panel`. One row ``par_hedges_g`` per arm present, withheld below
    the suppression threshold or when the change is the same for everyone.
    """
    rows = []
    for arm in labels.ARMS:
        part = panel[panel["arm"] == arm].dropna(subset=["fsw_pre", "fsw_post"])
        if part.empty:
            continue
        what = term("g_term", ctx, arm=_arm(arm, ctx))
        n = len(part)
        group = ("arm", arm)
        if _small(n, ctx):
            rows.append(
                _estimate_row("par_hedges_g", what, n=n, group=group, note=_too_few(what, ctx))
            )
            continue
        try:
            result = estimators.prepost(part, pre="fsw_pre", post="fsw_post")
        except ValueError:
            note = (
                f"{what} ist nicht berechenbar: Alle Veränderungen sind gleich."
                if ctx.language == "de"
                else f"{what} cannot be computed: all changes are equal."
            )
            rows.append(_estimate_row("par_hedges_g", what, n=n, group=group, note=note))
            continue
        row = result.tidy().set_index("term").loc["hedges_g_rm"]
        ids = part["registration"]
        rows.append(_estimate_row("par_hedges_g", what, n=n, group=group, row=row, units=ids))
    return _frame(rows)


@dataclass(frozen=True)
class TrialAnalysis:
    """The waiting-list trial of one period (:func:`trial_analysis`).

    ``estimates``: estimate rows (:data:`ESTIMATE_COLUMNS`), all ``par_waitlist_effect``:
    the primary intention-to-treat estimate first (group ``("", "")``), then the
    complete-case ANCOVA and the Lee and Manski bounds (group var ``"analysis"``).
    ``arms``: assigned parents and complete cases per arm (code index). ``clusters``: the
    randomised cycles; ``bootstrap``: whether the intervals come from the wild cluster
    bootstrap (few cycles); ``missing``: assigned parents without a follow-up score;
    ``imputations``: the number of imputed data sets.
    """

    estimates: pd.DataFrame
    arms: pd.DataFrame
    clusters: int
    bootstrap: bool
    missing: int
    imputations: int

    @property
    def shown(self) -> bool:
        """True when the estimates may be shown (every arm large enough)."""
        return bool(len(self.estimates)) and bool(self.estimates["shown"].all())


#: Fewer randomised cycles than this: intervals from the wild cluster bootstrap.
FEW_CLUSTERS = 30
#: Imputed data sets of the intention-to-treat analysis.
IMPUTATIONS = 20
#: Seed of the imputations and bootstraps (reproducible reports).
SEED = 20240101
#: The FSW scale's range (Manski bounds).
FSW_RANGE = (1.0, 6.0)
#: Analyses of the trial: code -> term key (the primary one is recorded as the total).
ANALYSES = {
    "itt_mi": "itt_term",
    "complete_case": "cc_term",
    "lee_lower": "lee_lower",
    "lee_upper": "lee_upper",
    "manski_lower": "manski_lower",
    "manski_upper": "manski_upper",
}


def trial_arms(assigned: pd.DataFrame) -> pd.DataFrame:
    """Assigned parents and complete cases (both FSW scores) per arm, in code order."""
    complete = assigned["fsw_pre"].notna() & assigned["fsw_post"].notna()
    out = pd.DataFrame(
        {
            "assigned": assigned.groupby("arm").size(),
            "complete": complete.groupby(assigned["arm"]).sum(),
            "followed_up": assigned["fsw_post"].notna().groupby(assigned["arm"]).sum(),
        }
    )
    out = out.reindex([a for a in labels.ARMS if a in out.index]).fillna(0).astype(int)
    out.index.name = "arm"
    return out


def trial_analysis(
    assigned: pd.DataFrame, ctx: Any, *, outside: int = 0, imputations: int = IMPUTATIONS
) -> TrialAnalysis | None:
    """The waiting-list trial of the period's randomised cycles, analysed as a trial.

    ``assigned``: :func:`evaluation.indicators.parents.assigned` (every parent assigned in a
    randomised cycle, both arms, with both survey waves). ``outside``: participants of the
    FSW table outside the randomised cycles (a small group would follow from the published
    means). ``None`` when no cycle of the period had a randomised waiting list.

    - **Primary** (intention to treat): ANCOVA of the FSW score after the cycle on the
      score before, the arm and the cycle (fixed effects for the stratum of randomisation),
      on every assigned parent, missing scores multiply imputed
      (:func:`estimators.itt_multiple_imputation`, ``imputations`` data sets).
    - **Secondary**: the same ANCOVA on the complete cases (:func:`estimators.ancova`).
    - **Sensitivity**: Lee's and Manski's bounds (:func:`estimators.attrition_bounds`).

    Standard errors are clustered by group cycle (the participants meet in groups). With
    fewer than :data:`FEW_CLUSTERS` cycles both ANCOVA intervals are wild cluster
    bootstrap intervals (:func:`wild_cluster_interval`); with a single cycle clustering is
    impossible and the SEs are heteroscedasticity-robust (HC1). Withheld (every row) when
    an arm has fewer complete cases than the threshold or ``outside`` is a small group.
    """
    if assigned.empty or not (assigned["arm"] == "wartegruppe").any():
        return None
    from evaluation.estimators._trial import wild_cluster_interval

    arms = trial_arms(assigned)
    clusters = int(assigned["cycle_id"].nunique())
    clustered = clusters >= 2
    bootstrap = clustered and clusters < FEW_CLUSTERS
    missing = int(assigned["fsw_post"].isna().sum())
    ids = list(assigned["registration"])
    complete = assigned.dropna(subset=["fsw_pre", "fsw_post"])
    small = any(_small(int(k), ctx) for k in arms["complete"]) or len(arms) < 2
    if small or 0 < outside < ctx.rule.threshold:
        rows = []
        for code, key in ANALYSES.items():
            n = len(complete) if code == "complete_case" else len(assigned)
            group = ("", "") if code == "itt_mi" else ("analysis", code)
            note = _trial_withheld(ctx) if code == "itt_mi" else ""
            rows.append(
                _estimate_row("par_waitlist_effect", term(key, ctx), n=n, group=group, note=note)
            )
        return TrialAnalysis(_frame(rows), arms, clusters, bootstrap, missing, imputations)
    options: dict[str, Any] = {
        "outcome": "fsw_post",
        "baseline": "fsw_pre",
        "treatment": "treated",
        "strata": "cycle_id" if clustered else None,
    }
    if clustered:
        options["cluster"] = "cycle_id"
    itt = estimators.itt_multiple_imputation(
        assigned, **options, imputations=imputations, seed=SEED
    )
    cc = estimators.ancova(assigned, **options)
    results = {"itt_mi": itt, "complete_case": cc}
    rows = []
    for code, result in results.items():
        row = result.tidy().iloc[0]
        if bootstrap:
            row = wild_cluster_interval(result, seed=SEED).tidy().iloc[0]
        units = ids if code == "itt_mi" else complete["registration"]
        group = ("", "") if code == "itt_mi" else ("analysis", code)
        rows.append(
            _estimate_row(
                "par_waitlist_effect",
                term(ANALYSES[code], ctx),
                n=len(units),
                group=group,
                row=row,
                units=units,
            )
        )
    bounds = estimators.attrition_bounds(
        assigned, outcome="fsw_post", treatment="treated", support=FSW_RANGE, seed=SEED
    )
    for bound in bounds.tidy().itertuples(index=False):
        rows.append(
            _estimate_row(
                "par_waitlist_effect",
                term(ANALYSES[bound.term], ctx),
                n=len(ids),
                group=("analysis", bound.term),
                row=pd.Series(bound._asdict()),
                units=ids,
            )
        )
    return TrialAnalysis(_frame(rows), arms, clusters, bootstrap, missing, imputations)


def _finite(value: float) -> float | None:
    """An interval end for the history: ``None`` when the data cannot bound it."""
    return None if value is None or not np.isfinite(value) else float(value)


def _trial_withheld(ctx: Any) -> str:
    k = _count(max(ctx.rule.threshold, MIN_ESTIMATE_N), ctx)
    if ctx.language == "de":
        return (
            "Die Wirkungsschätzung wird nicht ausgewiesen: In einer der beiden Gruppen haben "
            f"weniger als {k} Eltern beide Befragungen gültig beantwortet, oder die "
            "Teilnehmenden außerhalb der ausgelosten Zyklen sind eine zu kleine Gruppe."
        )
    return (
        "The effect estimate is not shown: fewer than "
        f"{k} parents of one arm answered both surveys, or the participants outside the "
        "randomised cycles are too few."
    )


def outside_participants(panel: pd.DataFrame, randomised: list[str]) -> int:
    """Participants of the FSW table (:func:`fsw_panel`) outside the randomised cycles."""
    return int(((panel["arm"] == "teilnahme") & ~panel["cycle_id"].isin(randomised)).sum())


def trial_records(
    analysis: TrialAnalysis,
    ctx: Any,
    *,
    effect: DisclosedTable | None = None,
    consort: DisclosedTable | None = None,
) -> list[dict[str, Any]]:
    """Keyword arguments of ``ctx.record("par_waitlist_effect", ...)``: the trial's figures.

    - group ``("", "")``: the **primary** intention-to-treat estimate with its 95 % interval
      and ``n`` = every assigned parent (what the annual report reads);
    - group ``("analysis", code)``: the same figure named by its method (``itt_mi``), and the
      secondary and sensitivity analyses (``complete_case``, ``lee_lower`` ... );
    - group ``("arm", code)``: no value, ``n`` = the parents assigned to that arm.

    Suppressed when the estimates are withheld, when the protected ``effect`` table hid the
    primary estimate, or (the arm rows) when the protected ``consort`` table hid the count.
    """
    est = analysis.estimates
    primary_hidden = False
    if effect is not None:
        values = effect.values.reset_index(drop=True)
        primary_hidden = bool(pd.isna(values.iloc[0][term("estimate", ctx)]))
    out = []
    for row in est.itertuples(index=False):
        hidden = (not row.shown) or primary_hidden
        groups = [(row.group_var, row.group_value)]
        if not row.group_var:
            groups.append(("analysis", "itt_mi"))
        for group in groups:
            out.append(
                {
                    "value": None if hidden else row.estimate,
                    "n": row.n,
                    "ci": (None, None) if hidden else (_finite(row.ci_low), _finite(row.ci_high)),
                    "group": group,
                    "suppressed": hidden,
                }
            )
    hidden_arms: set[str] = set()
    if consort is not None:
        values, mask = consort.values, consort.mask
        column = term("consort_assigned", ctx)
        for i, label in enumerate(values[term("group", ctx)]):
            if bool(mask[column].iloc[i]):
                hidden_arms.add(str(label))
    for arm, n in analysis.arms["assigned"].items():
        hidden = (not analysis.shown) or _arm(arm, ctx) in hidden_arms
        out.append(
            {
                "value": None,
                "n": None if hidden else int(n),
                "ci": (None, None),
                "group": ("arm", arm),
                "suppressed": hidden,
            }
        )
    return out


def consort_table(assigned: pd.DataFrame, ctx: Any) -> ReaderTable | None:
    """CONSORT-style flow per arm: assigned, surveyed before, after, analysed (complete cases).

    Counts of :func:`estimators.consort_flow` on ``assigned``
    (:func:`evaluation.indicators.parents.assigned`), with a total row; the units are the
    assigned registrations. ``None`` without assigned parents.
    """
    if assigned.empty:
        return None
    frame_in = assigned.assign(analysed=assigned["fsw_pre"].notna() & assigned["fsw_post"].notna())
    flow = estimators.consort_flow(
        frame_in, arm="arm", before="surveyed_pre", after="surveyed_post"
    )
    analysed = frame_in.groupby("arm")["analysed"].sum()
    analysed["total"] = int(frame_in["analysed"].sum())
    order = [a for a in labels.ARMS if a in flow.index] + ["total"]
    flow = flow.reindex(order)
    t = ctx.t
    group = term("group", ctx)
    names = {k: term(f"consort_{k}", ctx) for k in ("assigned", "before", "after", "analysed")}
    frame = pd.DataFrame(
        {
            group: [t("total") if c == "total" else _arm(c, ctx) for c in order],
            names["assigned"]: flow["assigned"].to_numpy(dtype=int),
            names["before"]: flow["surveyed_before"].to_numpy(dtype=int),
            names["after"]: flow["surveyed_after"].to_numpy(dtype=int),
            names["analysed"]: analysed.reindex(order).fillna(0).to_numpy(dtype=int),
        }
    )
    options: dict[str, Any] = {
        "n": names["assigned"],
        "counts": [names["before"], names["after"], names["analysed"]],
        "complementary_within": group,
        "decimals": 0,
    }
    if len(order) == 2:  # one arm only: its row is the total
        frame = frame.iloc[:1].reset_index(drop=True)
        del options["complementary_within"]
    units = unit_rows(
        frame_in["registration"],
        {group: frame_in["arm"].map(lambda a: _arm(a, ctx))},
        {
            names["assigned"]: True,
            names["before"]: frame_in["surveyed_pre"],
            names["after"]: frame_in["surveyed_post"],
            names["analysed"]: frame_in["analysed"],
        },
    )
    return ReaderTable(frame, options, units)


def trial_method(analysis: TrialAnalysis, ctx: Any) -> str:
    """How the effect is estimated and what it assumes, in plain words (definition box)."""
    de = ctx.language == "de"
    g = _count(analysis.clusters, ctx)
    m = _count(analysis.imputations, ctx)
    if analysis.bootstrap:
        interval_de = (
            f"Weil die Teilnehmenden die Treffen gemeinsam erleben, hängen ihre Werte "
            f"innerhalb eines Zyklus zusammen; die Unsicherheit wird deshalb nach Gruppenzyklus "
            f"berechnet. Bei nur {g} ausgelosten Zyklen sind die üblichen Formeln dafür zu "
            f"optimistisch: Die 95-%-Konfidenzintervalle stammen aus einem "
            f"**Wild-Cluster-Bootstrap** (Webb-Gewichte, Test-Inversion), der mit wenigen "
            f"Zyklen zuverlässiger ist. Sie sind entsprechend breit."
        )
        interval_en = (
            f"Participants meet in groups, so their scores are correlated within a cycle; the "
            f"uncertainty is computed by group cycle. With only {g} randomised cycles the usual "
            f"formulas are too optimistic: the 95% intervals come from a **wild cluster "
            f"bootstrap** (Webb weights, test inversion), which is more reliable with few "
            f"cycles. They are correspondingly wide."
        )
    elif analysis.clusters >= 2:
        interval_de = (
            "Die Unsicherheit wird nach Gruppenzyklus berechnet (cluster-robuste "
            "Standardfehler), weil die Teilnehmenden die Treffen gemeinsam erleben."
        )
        interval_en = "Standard errors are clustered by group cycle (participants meet in groups)."
    else:
        interval_de = (
            "In diesem Zeitraum gab es nur **einen** ausgelosten Zyklus. Dass die Teilnehmenden "
            "die Treffen gemeinsam erleben und ihre Werte deshalb zusammenhängen, lässt sich "
            "mit einem Zyklus nicht berücksichtigen: Das Konfidenzintervall (robuste "
            "Standardfehler) ist eher zu schmal."
        )
        interval_en = (
            "Only **one** randomised cycle in this period: the correlation of participants "
            "within their group cannot be taken into account, so the interval (robust "
            "standard errors) is rather too narrow."
        )
    if de:
        return (
            "**Wie die Wirkung geschätzt wird.** In überbuchten Zyklen entscheidet das Los, "
            "wer sofort teilnimmt und wer auf die Warteliste kommt; die Wartegruppe wird zu "
            "denselben Zeitpunkten befragt und nimmt im nächsten Zyklus teil. Weil das Los "
            "innerhalb jedes Zyklus entscheidet, unterscheiden sich beide Gruppen vor dem "
            "Zyklus nur zufällig.\n\n"
            "**Hauptschätzung.** Verglichen wird der FSW-Wert **nach** dem Zyklus zwischen "
            "Teilnahme und Wartegruppe, bei gleichem Wert vor dem Zyklus und innerhalb "
            "desselben Zyklus (Kovarianzanalyse, ANCOVA). Ausgewertet werden **alle "
            "zugelosten Eltern** in der Gruppe, der sie zugelost wurden (Intention to "
            f"treat), auch wer die zweite Befragung nicht beantwortet hat: Fehlende Werte "
            f"werden {m}-mal aus den übrigen Angaben (Gruppe, Wert vorher, Zyklus) "
            "ergänzt (multiple Imputation) und die Ergebnisse zusammengefasst. In der "
            "Ablauftabelle sind das alle Eltern der Spalte „Zugelost“; die Vergleichsrechnung "
            "nutzt nur die vollständigen Fälle der letzten Spalte. "
            + interval_de
            + "\n\n**Zum Vergleich** stehen in der Tabelle dieselbe Schätzung nur mit den Eltern, "
            "die beide Befragungen gültig beantwortet haben (vollständige Fälle), und "
            "**Schranken**, wie weit der Ausfall das Ergebnis verschieben könnte: Die "
            "Lee-Schranken nehmen an, dass das Los nur beeinflusst, *ob* jemand antwortet, "
            "und lassen offen, wer; die Manski-Schranken nehmen gar nichts an und setzen die "
            "fehlenden Werte auf das Minimum (1) oder Maximum (6) der Skala. Beide vergleichen "
            "die Mittelwerte nachher ohne Berücksichtigung des Werts vorher.\n\n"
            "**Annahmen.** (1) Die Auslosung wurde eingehalten. (2) Wer die zweite Befragung "
            "auslässt, unterscheidet sich – bei gleicher Gruppe, gleichem Wert vorher und "
            "gleichem Zyklus – nicht in seiner Entwicklung von denen, die antworten; fallen "
            "vor allem Eltern aus, die selten kamen und wenig mitnahmen, ist die Schätzung zu "
            "günstig (dann zeigen die Schranken, wie weit). (3) Die Aussicht auf den späteren "
            "Platz verändert die Wartegruppe nicht. Die Schätzung gilt für alle, denen ein "
            "Platz zugelost wurde, nicht nur für regelmäßig Anwesende, und nur für die Zeit "
            "bis zum Ende des Zyklus."
        )
    return (
        "**How the effect is estimated.** In oversubscribed cycles a lottery decides who "
        "takes part at once and who waits for the next cycle; both are surveyed at the same "
        "times, so the groups differ before the cycle by chance only.\n\n"
        "**Main estimate.** The FSW score after the cycle is compared between the arms at "
        "equal score before and within the same cycle (ANCOVA), for **every parent "
        f"assigned** (intention to treat); missing scores are imputed {m} times from arm, "
        "score before and cycle (multiple imputation). "
        + interval_en
        + "\n\n**For comparison**: the same ANCOVA on complete cases only, and Lee's and "
        "Manski's bounds on how far attrition could move the result.\n\n"
        "**Assumptions**: the allocation was kept; missing scores are missing at random given "
        "arm, score before and cycle; the prospect of a later place does not change the "
        "waiting list. The estimate holds for everyone offered a place, until the end of the "
        "cycle."
    )


def _count(value: int, ctx: Any) -> str:
    return labels.format_number(value, 0, ctx.language)


def combine(*frames: pd.DataFrame) -> pd.DataFrame:
    """Estimate rows of several frames in one (without ``pd.concat`` warnings on empty ones)."""
    return _frame([row for frame in frames for row in frame.to_dict("records")])


def estimate_table(estimates: pd.DataFrame, ctx: Any) -> ReaderTable | None:
    """Estimates that may be shown: term, estimate, 95 % interval and number of parents.

    Units: the parents each estimate rests on (``units`` of the estimate rows); ``None`` when
    a shown row does not list exactly its ``n`` parents. An infinite interval end (the wild
    cluster bootstrap with two or three cycles) becomes a missing value, shown as "–".
    """
    shown = estimates[estimates["shown"]]
    if shown.empty:
        return None
    t = ctx.t
    quantity, estimate, n = term("quantity", ctx), term("estimate", ctx), term("n_parents", ctx)
    frame = pd.DataFrame(
        {
            quantity: shown["term"].to_numpy(),
            estimate: shown["estimate"].to_numpy(dtype=float),
            # an end the data cannot bound (few cycles) is shown as "–"
            t("ci_low"): shown["ci_low"].replace(-np.inf, np.nan).to_numpy(dtype=float),
            t("ci_high"): shown["ci_high"].replace(np.inf, np.nan).to_numpy(dtype=float),
            n: shown["n"].astype(int).to_numpy(),
        }
    )
    options = {"n": n, "derived": [estimate, t("ci_low"), t("ci_high")], "decimals": 2}
    units = None
    if all(len(set(u)) == k for u, k in zip(shown["units"], shown["n"], strict=True)):
        units = _concat(
            [
                unit_rows(list(ids), {quantity: label}, {n: True})
                for label, ids in zip(shown["term"], shown["units"], strict=True)
            ],
            ["unit", quantity, n],
        )
    return ReaderTable(frame, options, units)


def withheld_notes(estimates: pd.DataFrame) -> str:
    """Sentences for the estimates that are not shown (empty when all are shown)."""
    return " ".join(estimates.loc[~estimates["shown"], "note"])


def _number(value: float, ctx: Any) -> str:
    """A scale value with two decimals, by babel (``0,36``, ``-0,12``)."""
    return labels.format_number(value, 2, ctx.language)


def _interval(low: float, high: float, ctx: Any, *, between: bool = False) -> str:
    """``-0,12 bis 0,84`` (``between``: ``-0,12 und 0,84``; an unbounded end in words)."""
    de = ctx.language == "de"

    def end(value: float) -> str:
        if np.isinf(value):
            if de:
                return "unbegrenzt nach oben" if value > 0 else "unbegrenzt nach unten"
            return "unbounded above" if value > 0 else "unbounded below"
        return _number(value, ctx)

    word = ("und" if between else "bis") if de else ("and" if between else "to")
    return f"{end(low)} {word} {end(high)}"


def effect_sentence(shown: DisclosedTable, ctx: Any) -> str:
    """The waiting-list effect in plain words (protected values only; "" if hidden).

    ``shown``: the protected table of :func:`estimate_table` on
    :attr:`TrialAnalysis.estimates` (primary row first, then the complete cases and the
    Lee and Manski bounds).
    """
    t = ctx.t
    values = shown.values.reset_index(drop=True)
    est, lo_col, hi_col = term("estimate", ctx), t("ci_low"), t("ci_high")
    first, hidden = values.iloc[0], shown.mask.reset_index(drop=True).iloc[0]
    estimate, low, high = first[est], first[lo_col], first[hi_col]
    if pd.isna(estimate) or hidden[lo_col] or hidden[hi_col]:
        return ""
    # shown but missing: an end the bootstrap cannot bound
    low = -np.inf if pd.isna(low) else low
    high = np.inf if pd.isna(high) else high
    de = ctx.language == "de"
    size = _number(abs(estimate), ctx)
    interval = _interval(low, high, ctx)
    if np.isinf(low) or np.isinf(high):
        interval += (
            "; mit so wenigen Zyklen lässt die Unsicherheit keine Grenze zu, in der Tabelle „–“"
            if de
            else "; with so few cycles the uncertainty has no bound, “–” in the table"
        )
    if de:
        direction = "höher" if estimate >= 0 else "niedriger"
        head = (
            f"**Hauptschätzung:** Am Ende des Zyklus lag die Selbstwirksamkeit der Eltern, denen "
            f"ein Platz zugelost wurde, im Mittel um {size} Skalenpunkte {direction} als die "
            f"der Wartegruppe mit gleichem Ausgangswert (95-%-Konfidenzintervall {interval}). "
        )
        if low > 0:
            head += (
                "Das Intervall liegt ganz über null: Unter den genannten Annahmen hat die "
                "Gruppe die Selbstwirksamkeit der Eltern gestärkt; wie stark, ist unsicher."
            )
        elif high < 0:
            head += (
                "Das Intervall liegt ganz unter null: Unter den genannten Annahmen war die "
                "Selbstwirksamkeit nach der Gruppe geringer als ohne sie."
            )
        else:
            head += (
                "Das Intervall schließt null ein: Eine Wirkung lässt sich mit diesen Zahlen "
                "weder belegen noch ausschließen."
            )
    else:
        direction = "higher" if estimate >= 0 else "lower"
        head = (
            f"**Main estimate:** at the end of the cycle, the self-efficacy of parents offered "
            f"a place was {size} scale points {direction} on average than the waiting list's "
            f"at equal baseline (95% interval {interval}). "
        )
        if low > 0:
            head += "The interval lies above zero: under the assumptions above, the group helped."
        elif high < 0:
            head += "The interval lies below zero."
        else:
            head += "The interval includes zero: an effect can be neither shown nor ruled out."
    bounds = {}
    for key in ("lee_lower", "lee_upper", "manski_lower", "manski_upper"):
        match = values[values[term("quantity", ctx)] == term(key, ctx)]
        bounds[key] = float(match[est].iloc[0]) if len(match) else np.nan
    extra = ""
    if not np.isnan(bounds["lee_lower"]) and not np.isnan(bounds["lee_upper"]):
        lee = _interval(bounds["lee_lower"], bounds["lee_upper"], ctx, between=True)
        extra = (
            f" Beeinflusst das Los nur, ob jemand die zweite Befragung beantwortet, liegt der "
            f"Unterschied der Mittelwerte nachher für die Eltern, die in jedem Fall "
            f"geantwortet hätten, zwischen {lee} (Lee-Schranken, ohne Ausgleich des Werts "
            f"vorher)"
            if de
            else f" If the lottery only affects whether someone answers the second survey, the "
            f"difference in means after, for parents who would have answered either way, lies "
            f"between {lee} (Lee bounds, not adjusted for the score before)"
        )
        if not np.isnan(bounds["manski_lower"]) and not np.isnan(bounds["manski_upper"]):
            manski = _interval(bounds["manski_lower"], bounds["manski_upper"], ctx, between=True)
            extra += (
                f"; ohne jede Annahme über die Fehlenden zwischen {manski} (Manski-Schranken)."
                if de
                else f"; without any assumption about those missing, between {manski} "
                "(Manski bounds)."
            )
        else:
            extra += "."
    return head + extra
