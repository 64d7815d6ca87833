"""Codes used in the data and their German and English labels.

Data carries short, stable codes (``"svb"``, ``"anerkennung"``); everything a reader sees is
looked up here, in German by default and in English on request. One table per code list.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

Language = Literal["de", "en"]

PROJECTS: dict[str, tuple[str, str]] = {
    "anerkennung": ("Anerkennungsberatung", "Recognition counselling"),
    "jobeinstieg": ("Jobeinstiegsbegleitung", "Job-entry support"),
    "elternarbeit": ("Interkulturelle Elterngruppen", "Intercultural parent groups"),
    "orientierung": ("Orientierungsberatung im Sozialraum", "Orientation counselling"),
}

TARGET_GROUPS: dict[str, tuple[str, str]] = {
    "russischsprachig": ("Russischsprachige Zugewanderte", "Russian-speaking immigrants"),
    "eu_suedost": ("EU-Zugewanderte aus Ost-/Südosteuropa", "EU citizens from E/SE Europe"),
    "gefluechtete": (
        "Geflüchtete (Syrien, Afghanistan, Irak, Eritrea)",
        "Refugees (SY, AF, IQ, ER)",
    ),
    "ukraine": ("Geflüchtete aus der Ukraine", "Refugees from Ukraine"),
}

EMPLOYMENT_STATUS: dict[str, tuple[str, str]] = {
    "svb": ("sozialversicherungspflichtig beschäftigt", "employed, social insurance"),
    "minijob": ("geringfügig beschäftigt (Minijob)", "marginal employment (mini-job)"),
    "selbststaendig": ("selbstständig", "self-employed"),
    "ausbildung": ("in Ausbildung/Qualifizierung", "in training/qualification"),
    "arbeitslos": ("arbeitslos gemeldet", "registered unemployed"),
    "nicht_erwerbstaetig": ("nicht erwerbstätig (sonstige)", "not in employment (other)"),
}

RECOGNITION_DECISIONS: dict[str, tuple[str, str]] = {
    "voll": ("volle Gleichwertigkeit", "full equivalence"),
    "teilweise": ("teilweise Gleichwertigkeit", "partial equivalence"),
    "ausgleich": ("Auflage einer Ausgleichsmaßnahme", "compensation measure required"),
    "keine": ("keine Gleichwertigkeit", "no equivalence"),
    "zurueckgezogen": ("Antrag zurückgezogen", "application withdrawn"),
    "offen": ("noch nicht entschieden", "pending"),
}

REFERRAL_ROUTES: dict[str, tuple[str, str]] = {
    "selbst": ("aus eigener Initiative", "self-referred"),
    "umfeld": ("über das soziale Umfeld", "via social circle"),
    "jobcenter": ("Jobcenter/Agentur für Arbeit", "Jobcenter/employment agency"),
    "beratungsstelle": ("andere Beratungsstelle", "other counselling service"),
}

EXIT_REASONS: dict[str, tuple[str, str]] = {
    "regulaer": ("regulär beendet", "completed"),
    "abbruch": ("vorzeitig beendet", "dropped out"),
}

ASSIGNMENT_TYPES: dict[str, tuple[str, str]] = {
    "familienbegleitung": ("Begleitung von Flüchtlingsfamilien", "accompanying refugee families"),
    "kursleitung": ("Kursleitung", "course leading"),
    "dolmetschen": ("Dolmetschen bei Amts- und Behördengängen", "interpreting at authorities"),
    "arztbegleitung": ("Begleitung zu Arztterminen", "accompanying to doctors"),
    "veranstaltungen": ("Feste und Veranstaltungen", "festivals and events"),
    "projektunterstuetzung": ("Unterstützung in Projekten", "project support"),
}

EVENT_KINDS: dict[str, tuple[str, str]] = {
    "mso_fortbildung": ("Fortbildung für Migrantenselbstorganisationen", "training for MSOs"),
    "iko_training": ("Interkulturelles Training für Organisationen", "intercultural training"),
    "kulturzentrum": ("Veranstaltung Kulturzentrum Chorweiler", "Chorweiler cultural centre event"),
    "sozialraum": ("Veranstaltung im Sozialraum Ehrenfeld", "neighbourhood event Ehrenfeld"),
}

STADTTEILE: dict[str, tuple[str, str]] = {
    "401": ("Ehrenfeld", "Ehrenfeld"),
    "402": ("Neuehrenfeld", "Neuehrenfeld"),
    "403": ("Bickendorf", "Bickendorf"),
    "404": ("Vogelsang", "Vogelsang"),
    "405": ("Bocklemünd/Mengenich", "Bocklemünd/Mengenich"),
    "406": ("Ossendorf", "Ossendorf"),
    "ausserhalb": ("außerhalb Ehrenfelds", "outside Ehrenfeld"),
}

ARMS: dict[str, tuple[str, str]] = {
    "teilnahme": ("Teilnahme", "participants"),
    "wartegruppe": ("Wartegruppe", "waiting list"),
}

REGULATION: dict[str, tuple[str, str]] = {
    "regulated": ("reglementierter Beruf", "regulated profession"),
    "not_regulated": ("nicht reglementierter Beruf", "non-regulated profession"),
}

YES_NO: dict[str, tuple[str, str]] = {
    "yes": ("ja", "yes"),
    "no": ("nein", "no"),
    "unknown": ("unbekannt", "unknown"),
}

CODE_LISTS: dict[str, dict[str, tuple[str, str]]] = {
    "project": PROJECTS,
    "target_group": TARGET_GROUPS,
    "status": EMPLOYMENT_STATUS,
    "decision": RECOGNITION_DECISIONS,
    "referral_route": REFERRAL_ROUTES,
    "exit_reason": EXIT_REASONS,
    "assignment_type": ASSIGNMENT_TYPES,
    "event_kind": EVENT_KINDS,
    "stadtteil": STADTTEILE,
    "arm": ARMS,
    "regulated": REGULATION,
    "migration_history": YES_NO,
    "academic_degree": YES_NO,
}

#: Words readers see around figures, in both languages.
TERMS: dict[str, tuple[str, str]] = {
    "total": ("Gesamt", "Total"),
    "period": ("Zeitraum", "Period"),
    "project": ("Projekt", "Project"),
    "cohort": ("Eintrittskohorte", "Entry cohort"),
    "count": ("Anzahl", "Count"),
    "share": ("Anteil", "Share"),
    "participants": ("Teilnehmende", "Participants"),
    "exits": ("Austritte", "Exits"),
    "year": ("Jahr", "Year"),
    "unknown": ("unbekannt", "unknown"),
    # column headings of indicator tables
    "entries": ("Eintritte", "Entries"),
    "dropouts": ("davon vorzeitig beendet", "of which dropped out"),
    "persons": ("Erreichte Personen", "Persons reached"),
    "due": ("Nachbefragung fällig", "Follow-up due"),
    "known": ("Status bekannt", "Status known"),
    "svb": ("sozialversicherungspflichtig beschäftigt", "employed (social insurance)"),
    "not_unemployed": ("nicht arbeitslos", "not unemployed"),
    "response_rate": ("Erreichungsquote", "Response rate"),
    "eingliederungsquote": ("Eingliederungsquote", "Integration rate"),
    "verbleibsquote": ("Verbleibsquote", "Retention rate"),
    "ci_low": ("95-%-KI unten", "95% CI low"),
    "ci_high": ("95-%-KI oben", "95% CI high"),
    "median": ("Median (Monate)", "Median (months)"),
    "q1": ("1. Quartil (Monate)", "1st quartile (months)"),
    "q3": ("3. Quartil (Monate)", "3rd quartile (months)"),
    "n": ("Anzahl", "Count"),
    "full": ("volle Gleichwertigkeit", "full equivalence"),
    "regulated": ("reglementierter Beruf", "regulated profession"),
    "not_regulated": ("nicht reglementierter Beruf", "non-regulated profession"),
    "decision": ("Entscheidung", "Decision"),
    "group": ("Gruppe", "Group"),
    "followup_point": ("Nachbeobachtung", "Follow-up point"),
    "months_after_exit": ("{k} Monate nach Austritt", "{k} months after exit"),
    "target_group": ("Zielgruppe", "Target group"),
    "before_entry": ("vor dem Eintritt (Prüfung)", "before entry (check)"),
    "after_entry": ("nach dem Eintritt", "after entry"),
    "quarter_since_entry": ("Quartal relativ zum Eintritt", "Quarter relative to entry"),
    "effect_pp": ("Veränderung (Prozentpunkte)", "Change (percentage points)"),
    "months_since_entry": ("Monate seit Eintritt", "Months since entry"),
}


def label(code: str, codes: Mapping[str, tuple[str, str]], language: Language = "de") -> str:
    """Return the reader-facing label of ``code``; unknown codes are returned unchanged."""
    pair = codes.get(code)
    if pair is None:
        return str(code)
    return pair[0] if language == "de" else pair[1]


def term(key: str, language: Language = "de") -> str:
    """Return a reader-facing word from :data:`TERMS`."""
    return label(key, TERMS, language)


def terms_for(keys: Iterable[str], language: Language = "de") -> dict[str, str]:
    """Return ``{key: word}`` for the keys found in :data:`TERMS` (e.g. to rename columns)."""
    return {k: term(k, language) for k in keys if k in TERMS}


def labels_for(codes: Mapping[str, tuple[str, str]], language: Language = "de") -> dict[str, str]:
    """Return ``{code: label}`` for one code list, e.g. for ``Series.map``."""
    return {code: label(code, codes, language) for code in codes}


def ordered(codes: Mapping[str, tuple[str, str]], present: Iterable[str]) -> list[str]:
    """Return the codes of ``present`` in the code list's order, unknown codes last."""
    present = set(present)
    known = [c for c in codes if c in present]
    return known + sorted(present - set(known))


#: PHINEO's Wirkungstreppe: the seven levels by name (1-3 output, 4-6 outcome, 7 impact).
WIRKUNGSTREPPE: dict[int, tuple[str, str]] = {
    1: ("Aktivitäten finden wie geplant statt", "Activities take place as planned"),
    2: ("Zielgruppen werden erreicht", "Target groups are reached"),
    3: ("Zielgruppen akzeptieren Angebote", "Target groups accept the offers"),
    4: (
        "Zielgruppen verändern Bewusstsein bzw. Fähigkeiten",
        "Target groups change their awareness or skills",
    ),
    5: ("Zielgruppen ändern ihr Handeln", "Target groups change their behaviour"),
    6: ("Lebenslage der Zielgruppen ändert sich", "Target groups' living situation changes"),
    7: ("Gesellschaft verändert sich", "Society changes"),
}


def level_name(level: int | float | None, language: Language = "de", *, number: bool = True) -> str:
    """Wirkungstreppe level as readers see it: ``"5 – Zielgruppen ändern ihr Handeln"``.

    ``number=False`` gives the name alone; a missing level (context figures) gives ``""``.
    An unknown level raises ValueError naming it.
    """
    if level is None or level != level:  # None or NaN
        return ""
    key = int(level)
    if key not in WIRKUNGSTREPPE:
        raise ValueError(f"Wirkungstreppe level {level!r}: must be 1 to 7")
    name = label(key, WIRKUNGSTREPPE, language)  # type: ignore[arg-type]
    return f"{key} – {name}" if number else name


_LOCALES = {"de": "de_DE", "en": "en_GB"}


def format_number(
    value: float | None,
    decimals: int = 0,
    language: Language = "de",
    *,
    signed: bool = False,
    minimum_decimals: int | None = None,
) -> str:
    """A number in German (``1.234,5``) or English (``1,234.5``) notation, by babel.

    ``signed`` writes ``+`` before positive values; a value that rounds to zero has no sign.
    ``minimum_decimals`` (default ``decimals``) allows dropping trailing zeros
    (``2,5`` for 2.5 with ``decimals=2, minimum_decimals=0``). Missing values give ``"–"``.
    """
    from babel.numbers import format_decimal

    if value is None or value != value:
        return "–"
    low = decimals if minimum_decimals is None else minimum_decimals
    pattern = "#,##0" + ("." + "0" * low + "#" * (decimals - low) if decimals else "")
    if signed and round(float(value), decimals) != 0:
        pattern = f"+{pattern};-{pattern}"
    number = float(value)
    if round(number, decimals) == 0:
        number = 0.0
    return format_decimal(number, format=pattern, locale=_LOCALES[language])


def format_euro(value: float | None, language: Language = "de") -> str:
    """An amount in euro without cents, by babel: ``180.000 €`` (German), ``€180,000``."""
    from babel.numbers import format_currency

    if value is None or value != value:
        return "–"
    pattern = "#,##0\u00a0¤" if language == "de" else "¤#,##0"
    return format_currency(
        round(float(value)), "EUR", format=pattern, locale=_LOCALES[language], currency_digits=False
    )


#: Parameters that hold an amount in euro (shown with :func:`format_euro`).
EURO_PARAMETERS = frozenset({"grant_eur"})


def format_parameter(name: str, value: object, language: Language = "de") -> str | None:
    """A report parameter's number as readers see it (``180.000 €``, ``2,5``).

    Returns None for values that are not numbers (the caller formats them), and for
    booleans.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if name in EURO_PARAMETERS:
        return format_euro(value, language)
    if isinstance(value, int) or float(value).is_integer():
        return format_number(value, 0, language)
    return format_number(value, 6, language, minimum_decimals=0)
