"""Reader tables, charts and estimates for the parent-work notebook (Elternarbeit).

The figures come from the indicator catalogue (``par_*`` ids, computed by
:mod:`evaluation.indicators.parents`) and from :mod:`evaluation.estimators`; this module
turns them into tables for readers (labels, order, disclosure options) and draws the charts
from the **protected** values only (:attr:`DisclosedTable.values` and ``.mask``).

Estimates on small groups
-------------------------
Disclosure control protects tables of counts and of values derived from them. An estimate
(Hedges' g, Cronbach's alpha, the waiting-list effect) rests on a group of persons too; it is
shown only when every group it rests on has at least ``ctx.rule.threshold`` persons, and
otherwise replaced by a sentence (:func:`withheld_notes`). For the waiting-list effect this
includes both arms, since the participants' mean change is published beside it and the
waiting list's mean change would follow from the two.

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
        "Wirkung der Teilnahme auf die Selbstwirksamkeit (Vergleich mit der Wartegruppe), {period}",
        "Effect of taking part on self-efficacy (comparison with the waiting list), {period}",
    ),
    "items_caption": (
        "Schule, Kita und Deutschkurs vorher und nachher, Zyklen mit Ende {period}",
        "School, Kita and German course before and after, cycles ending {period}",
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
    "effect_term": (
        "Veränderung Teilnahme minus Veränderung Wartegruppe (Skalenpunkte)",
        "Change of participants minus change of waiting list (scale points)",
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
WAITLIST_DEFINITION: Pair = (
    "**Wie die Wirkung geschätzt wird.** In überbuchten Zyklen entscheidet seit 2023 das Los, "
    "wer sofort teilnimmt und wer auf die Warteliste kommt; die Wartegruppe nimmt im nächsten "
    "Zyklus teil und wird bis dahin zu denselben Zeitpunkten befragt. Weil das Los entscheidet, "
    "unterscheiden sich beide Gruppen vor dem Zyklus nur zufällig, und die Veränderung der "
    "Wartegruppe zeigt, wie sich die Teilnehmenden ohne Gruppe entwickelt hätten. Die Wirkung "
    "ist der Unterschied der mittleren Veränderungen: Teilnahme minus Wartegruppe. Sie gilt für "
    "alle, die einen Platz bekamen, nicht nur für die regelmäßig Anwesenden.\n\n"
    "Die Schätzung ist nur so gut wie ihre **Annahmen**: (1) Die Auslosung wurde eingehalten – "
    "niemand von der Warteliste kam doch in die Gruppe, niemand wurde nachträglich umgesetzt. "
    "(2) Wer zwischen den Befragungen ausfällt, unterscheidet sich in beiden Gruppen nicht in "
    "der Entwicklung seiner Selbstwirksamkeit; fallen bei den Teilnehmenden vor allem Eltern "
    "aus, die selten kamen und wenig mitnahmen, fällt die Schätzung zu hoch aus (siehe "
    "Abschnitt zum Ausfall). (3) Die Aussicht auf den späteren Platz verändert die Wartegruppe "
    "nicht. Das Konfidenzintervall zeigt, wie unsicher die Zahl bei wenigen Dutzend Eltern ist.",
    "**How the effect is estimated.** In oversubscribed cycles a lottery decides since 2023 "
    "who takes part at once and who waits for the next cycle; the waiting list is surveyed at "
    "the same times. The effect is the difference of the mean changes, participants minus "
    "waiting list, for everyone offered a place. **Assumptions**: the allocation was kept; "
    "attrition between the surveys is unrelated to the change in both groups; the prospect "
    "of a later place does not change the waiting list. The interval shows the uncertainty.",
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
    return f"Wirkungstreppe Stufe {level}, {kind}" if de else f"impact level {level}, {kind}"


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
    start, end = pd.Timestamp(row.start_date), pd.Timestamp(row.end_date)
    if ctx.language == "de":
        return f"{row.group_name}, {start:%d.%m.}–{end:%d.%m.%Y}"
    return f"{row.group_name}, {start:%d %b}–{end:%d %b %Y}"


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
    number = f"{value * 100:.0f}"
    return f"{number}\u00a0%" if ctx.language == "de" else f"{number}%"


def attrition_note(shown: DisclosedTable, ctx: Any) -> str:
    """What attrition means for the pre/post comparison, with the protected attendance."""
    values = shown.values.set_index(term("group", ctx))
    row = values.loc[_arm("teilnahme", ctx)] if _arm("teilnahme", ctx) in values.index else None
    de = ctx.language == "de"
    has_waitlist = _arm("wartegruppe", ctx) in values.index
    waitlist_de = (
        " Für den Vergleich mit der Wartegruppe zählt außerdem, dass in beiden Gruppen ähnlich "
        "viele und ähnliche Eltern ausfallen."
        if has_waitlist
        else ""
    )
    waitlist_en = (
        " For the waiting-list comparison, attrition should also be similar in both groups."
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
    threshold = ctx.rule.threshold
    if ctx.language == "de":
        return (
            f"{what} wird nicht ausgewiesen: Dafür liegen Angaben von weniger als "
            f"{max(threshold, MIN_ESTIMATE_N)} Eltern vor."
        )
    return f"{what} is not shown: fewer than {max(threshold, MIN_ESTIMATE_N)} parents."


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


def waitlist_effect(panel: pd.DataFrame, randomised: list[str], ctx: Any) -> pd.DataFrame:
    """Difference in FSW change, participants minus waiting list, in randomised cycles.

    :func:`estimators.difference_in_means` of the change on taking part (HC2 standard
    errors, equal to Welch's test). Empty when no cycle of the period had a randomised
    waiting list. Withheld when an arm has fewer parents than the threshold, or when the
    participants outside the randomised cycles are a small group (their mean change would
    follow from the published figures).
    """
    if not randomised:
        return _frame([])
    what = term("effect_term", ctx)
    complete = panel.dropna(subset=["fsw_pre", "fsw_post"])
    data = complete[complete["cycle_id"].isin(randomised)]
    data = data.assign(
        change=data["fsw_post"] - data["fsw_pre"],
        treated=(data["arm"] == "teilnahme").astype(int),
    )
    n_arms = [int((data["treated"] == k).sum()) for k in (1, 0)]
    outside = int(((complete["arm"] == "teilnahme") & ~complete["cycle_id"].isin(randomised)).sum())
    n = sum(n_arms)
    if any(_small(k, ctx) for k in n_arms) or 0 < outside < ctx.rule.threshold:
        return _frame([_estimate_row("par_waitlist_effect", what, n=n, note=_too_few(what, ctx))])
    result = estimators.difference_in_means(
        data, outcome="change", treatment="treated", cov_type="HC2"
    )
    row = result.tidy().iloc[0]
    ids = data["registration"]
    return _frame([_estimate_row("par_waitlist_effect", what, n=n, row=row, units=ids)])


def combine(*frames: pd.DataFrame) -> pd.DataFrame:
    """Estimate rows of several frames in one (without ``pd.concat`` warnings on empty ones)."""
    return _frame([row for frame in frames for row in frame.to_dict("records")])


def estimate_table(estimates: pd.DataFrame, ctx: Any) -> ReaderTable | None:
    """Estimates that may be shown: term, estimate, 95 % interval and number of parents.

    Units: the parents each estimate rests on (``units`` of the estimate rows); ``None`` when
    a shown row does not list exactly its ``n`` parents.
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
            t("ci_low"): shown["ci_low"].to_numpy(dtype=float),
            t("ci_high"): shown["ci_high"].to_numpy(dtype=float),
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
    text_ = f"{value:.2f}"
    return text_.replace(".", ",").replace("-", "−") if ctx.language == "de" else text_


def effect_sentence(shown: DisclosedTable, ctx: Any) -> str:
    """The waiting-list effect in one plain sentence (protected values only; "" if hidden)."""
    t = ctx.t
    values = shown.values.iloc[0]
    estimate = values[term("estimate", ctx)]
    low, high = values[t("ci_low")], values[t("ci_high")]
    if pd.isna(estimate) or pd.isna(low) or pd.isna(high):
        return ""
    size, lo, hi = (_number(v, ctx) for v in (abs(estimate), low, high))
    de = ctx.language == "de"
    if de:
        direction = "günstiger" if estimate >= 0 else "ungünstiger"
        head = (
            f"Die Selbstwirksamkeit der Teilnehmenden entwickelte sich im Mittel um {size} "
            f"Skalenpunkte {direction} als die der Wartegruppe (95-%-Konfidenzintervall {lo} bis {hi}). "
        )
        if low > 0:
            return (
                head + "Das Intervall liegt ganz über null: Die Gruppe hat die "
                "Selbstwirksamkeit der Eltern nach dieser Schätzung gestärkt."
            )
        if high < 0:
            return head + "Das Intervall liegt ganz unter null."
        return head + (
            "Das Intervall schließt null ein: Eine Wirkung lässt sich mit diesen Zahlen weder "
            "belegen noch ausschließen."
        )
    direction = "more" if estimate >= 0 else "less"
    head = (
        f"Participants' self-efficacy developed {size} scale points {direction} favourably "
        f"than the waiting list's (95% interval {lo} to {hi}). "
    )
    if low > 0:
        return head + "The interval lies above zero: by this estimate the group strengthened it."
    if high < 0:
        return head + "The interval lies below zero."
    return head + "The interval includes zero: an effect can be neither shown nor ruled out."
