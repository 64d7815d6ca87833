"""The data contract: one schema per table, enforced with pandera.

Every table the notebooks read is described here once: its columns with English names and
German and English headers, descriptions, units, allowed values and whether a value is
required; the table's key, its row rules (an exit is not before the entry) and its
references to other tables (an enrolment belongs to a known person). Three things are built
from these descriptions and from nothing else:

* the pandera schemas (:func:`pandera_schema`) that validate the tables, in two stages:
  ``"parsed"`` (nullable working dtypes, used by the ingest to find rows that break the
  contract) and ``"final"`` (the exact dtypes of the snapshot tables, with the key unique);
* the header and value look-ups the ingest uses to read German or English exports
  (:func:`column_for_header`, :func:`value_lookup`);
* the data dictionary for evaluators (:func:`data_dictionary`), kept in
  ``docs/data_dictionary.md`` (``python -m evaluation.schemas docs/data_dictionary.md``).

The tables are exactly those of :func:`evaluation.demo.generate` (same column names, order
and dtypes), except that person ids and case-file record ids are keyed pseudonyms after
ingest.

Data protection is part of the contract: only the columns listed here pass ingest. Columns
recognised as identifying (:data:`IDENTIFYING`: names, addresses, phone numbers, e-mail
addresses, birth dates) and all unrecognised columns (free-text notes included) are dropped;
a birth date only passes as the birth year. Free-text columns pass only when marked
``safe_text``.
"""

from __future__ import annotations

import sys
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal

import pandas as pd

from evaluation import labels

CONTRACT_VERSION = 1
Kind = Literal["string", "integer", "number", "boolean", "date", "month"]
Stage = Literal["parsed", "final", "shape"]

#: Dates outside this window are impossible for the agency's records (typos like 2205).
DATE_MIN = pd.Timestamp("2000-01-01")
DATE_MAX = pd.Timestamp("2039-12-31")
#: Record ids as case-management software writes them, after normalisation.
ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_./-]{0,39}"
#: Longest value a free-text column marked safe may hold.
MAX_TEXT_LENGTH = 200
#: Contact data that must never be in a free-text column (even one marked safe).
EMAIL_PATTERN = r"[^\s@]+@[^\s@]+\.[^\s@]+"
PHONE_PATTERN = r"(?<!\d)(?:\+\d{1,3}|0)[\d\s/()-]{5,}\d"
#: Raw spellings of yes and no (normalised with :func:`normalise`).
TRUE_WORDS = frozenset({"ja", "j", "wahr", "true", "t", "yes", "y", "1", "x"})
FALSE_WORDS = frozenset({"nein", "n", "falsch", "false", "f", "no", "0"})

# Code lists that are not (yet) in evaluation.labels.
SEX: dict[str, tuple[str, str]] = {
    "w": ("weiblich", "female"),
    "m": ("männlich", "male"),
    "d": ("divers", "diverse"),
}
CONTACT_KINDS: dict[str, tuple[str, str]] = {
    "erstkontakt": ("Erstkontakt", "first contact"),
    "folgekontakt": ("Folgekontakt", "follow-up contact"),
}
SURVEY_WAVES: dict[str, tuple[str, str]] = {
    "pre": ("vorher (Beginn des Zyklus)", "before (start of the cycle)"),
    "post": ("nachher (Ende des Zyklus)", "after (end of the cycle)"),
}
STUDY_ARMS: dict[str, tuple[str, str]] = {
    "teilnahme": ("Teilnahme", "participation"),
    "wartegruppe": ("Wartegruppe", "waiting list"),
}

#: Reasons a row is quarantined: check code -> (German, English).
CHECKS: dict[str, tuple[str, str]] = {
    "malformed_row": (
        "Zeile hat eine falsche Anzahl von Feldern",
        "row has the wrong number of fields",
    ),
    "missing_required": ("Pflichtwert fehlt", "required value missing"),
    "not_a_date": ("kein gültiges Datum (TT.MM.JJJJ)", "not a valid date (DD.MM.YYYY)"),
    "not_a_month": (
        "kein gültiger Monat (MM.JJJJ oder TT.MM.JJJJ)",
        "not a valid month (MM.YYYY or DD.MM.YYYY)",
    ),
    "not_a_number": ("keine Zahl", "not a number"),
    "not_whole_number": ("keine ganze Zahl", "not a whole number"),
    "not_yes_no": ("nicht ja/nein", "not yes/no"),
    "invalid_id": ("ungültige Kennung", "invalid identifier"),
    "suppressed_in_source": ("in der Quelle geheim gehalten (*)", "suppressed in the source (*)"),
    "unknown_code": ("unbekannter Code", "unknown code"),
    "not_allowed": ("nicht zulässiger Wert", "value not allowed"),
    "out_of_range": ("Wert außerhalb des zulässigen Bereichs", "value out of range"),
    "bad_format": ("Format ungültig", "invalid format"),
    "too_long": ("Text zu lang", "text too long"),
    "looks_identifying": (
        "sieht nach Kontaktdaten oder einer Kennung aus",
        "looks like contact data or an identifier",
    ),
    "contains_name": ("enthält einen Personennamen", "holds a person's name"),
    "looks_like_name": ("sieht nach einem Personennamen aus", "looks like a person's name"),
    "looks_like_address": ("sieht nach einer Anschrift aus", "looks like an address"),
    "unknown_country": ("unbekannter Staat", "unknown country"),
    "exact_duplicate": ("doppelte Zeile", "duplicate row"),
    "duplicate_key": ("Kennung mehrfach vergeben", "duplicate id"),
    "unknown_reference": ("Verweis auf unbekannten Datensatz", "refers to an unknown record"),
    "quarantined_reference": (
        "Verweis auf einen zurückgestellten Datensatz",
        "refers to a quarantined record",
    ),
    "arrival_before_birth": ("Zuzug vor Geburt", "arrival before birth"),
    "exit_before_entry": ("Austritt vor Eintritt", "exit before entry"),
    "exit_reason_inconsistent": (
        "Austrittsgrund passt nicht zum Austritt",
        "exit reason does not match exit",
    ),
    "cycle_missing": ("Elternarbeit ohne Gruppenzyklus", "parent work without group cycle"),
    "decision_before_application": ("Bescheid vor Antrag", "decision before application"),
    "decision_date_inconsistent": (
        "Bescheiddatum passt nicht zur Entscheidung",
        "decision date does not match decision",
    ),
    "end_before_start": ("Ende vor Beginn", "end before start"),
    "left_before_recruited": ("Ausscheiden vor Gewinnung", "left before recruitment"),
    "qualified_before_recruited": ("Qualifizierung vor Gewinnung", "qualified before recruitment"),
    "followup_before_exit": (
        "Nachbefragung vor dem Austritt",
        "follow-up dated before the end of the enrolment",
    ),
    "followup_without_exit": (
        "Nachbefragung zu einer nicht beendeten Teilnahme",
        "follow-up of an enrolment without exit",
    ),
    "person_mismatch": ("Person passt nicht zur Teilnahme", "person does not match the enrolment"),
    "assignment_before_recruitment": ("Einsatz vor Gewinnung", "assignment before recruitment"),
}


# --------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column of a table, as the contract describes it.

    Attributes
    ----------
    name
        English snake_case name in the snapshot tables.
    kind
        ``string``, ``integer``, ``number``, ``boolean``, ``date`` or ``month`` (a date
        normalised to the first day of its month).
    de, en
        Column header in German and English exports (the data dictionary shows both).
    about_de, about_en
        Description for evaluators.
    required
        A row without a value here breaks the contract.
    codes
        Allowed codes with their German and English labels; exports may carry the code or
        either label.
    synonyms
        Further raw spellings that stand for a code.
    minimum, maximum, allowed
        Range or list of allowed values (numbers).
    unit
        Unit in German and English.
    pattern
        Regular expression a string value must match completely.
    pseudonym
        Namespace of the keyed pseudonym that replaces the value (person ids, record ids
        of the case-management software); ``None`` for columns kept as they are.
    safe_text
        A free-text column the agency has checked never to contain personal data.
    aliases
        Further headers exports use for this column.
    suppressed
        Markers the source uses for suppressed small values (Cologne: ``*``).
    derive_from
        Name of an identifying input column this column is derived from when it is absent
        (``birth_year`` from ``birth_date``).
    """

    name: str
    kind: Kind
    de: str
    en: str
    about_de: str
    about_en: str
    required: bool = True
    codes: Mapping[str, tuple[str, str]] | None = None
    synonyms: Mapping[str, str] = field(default_factory=dict)
    minimum: float | pd.Timestamp | None = None
    maximum: float | pd.Timestamp | None = None
    allowed: tuple[int, ...] | None = None
    unit: tuple[str, str] | None = None
    pattern: str | None = None
    pseudonym: str | None = None
    safe_text: bool = False
    aliases: tuple[str, ...] = ()
    suppressed: tuple[str, ...] = ()
    derive_from: str | None = None

    def __post_init__(self) -> None:
        free_text = self.kind == "string" and not (self.codes or self.pattern or self.pseudonym)
        if free_text and not self.safe_text:
            raise ValueError(f"free-text column {self.name!r} must be marked safe_text or dropped")

    @property
    def dtype(self) -> str:
        """dtype in the snapshot tables (as :func:`evaluation.demo.generate` makes them)."""
        if self.kind == "integer":
            return "int64" if self.required else "Int64"
        if self.kind == "boolean":
            return "bool" if self.required else "boolean"
        return self.parsed_dtype

    @property
    def parsed_dtype(self) -> str:
        """Working dtype during ingest: nullable, so missing values can be found."""
        return {
            "string": "object",
            "integer": "Int64",
            "number": "float64",
            "boolean": "boolean",
            "date": "datetime64[ns]",
            "month": "datetime64[ns]",
        }[self.kind]

    @property
    def bounds(self) -> tuple[object, object]:
        """Lower and upper bound, with the contract's date window for dates."""
        if self.kind in ("date", "month"):
            return (self.minimum or DATE_MIN, self.maximum or DATE_MAX)
        return (self.minimum, self.maximum)

    def headers(self) -> tuple[str, ...]:
        """All headers that stand for this column in exports."""
        return (self.name, self.de, self.en, *self.aliases)


@dataclass(frozen=True)
class RowRule:
    """A condition on the values of one row; ``test`` returns True where the row is fine.

    ``test`` must be vectorised and return True where a value it needs is missing (missing
    values are the business of ``required``).
    """

    code: str
    column: str
    test: Callable[[pd.DataFrame], pd.Series]


@dataclass(frozen=True)
class Reference:
    """``column`` holds keys of ``parent`` (its column ``parent_column``)."""

    column: str
    parent: str
    parent_column: str


@dataclass(frozen=True)
class ParentRule:
    """A condition between a row and the parent row it refers to through ``via``.

    ``relation`` compares the row's ``column`` with the parent's ``parent_column``:
    ``"not_before"`` (>=), ``"after"`` (>) or ``"equal"``. When the parent value is
    missing the row fails with ``missing_code`` if given, else passes.
    """

    code: str
    column: str
    via: str
    parent: str
    parent_key: str
    parent_column: str
    relation: Literal["not_before", "after", "equal"]
    missing_code: str | None = None


@dataclass(frozen=True)
class Table:
    """One table of the contract."""

    name: str
    de: str
    en: str
    about_de: str
    about_en: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    date_column: str | None = None
    rules: tuple[RowRule, ...] = ()
    references: tuple[Reference, ...] = ()
    parent_rules: tuple[ParentRule, ...] = ()
    aliases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        names = self.names
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: column names are not unique")
        needed = [*self.key, *(r.column for r in self.rules), *(r.column for r in self.references)]
        needed += [r.column for r in self.parent_rules] + [r.via for r in self.parent_rules]
        if self.date_column:
            needed.append(self.date_column)
        missing = sorted(set(needed) - set(names))
        if missing:
            raise ValueError(f"{self.name}: unknown columns {missing}")

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    @property
    def parents(self) -> set[str]:
        """Tables this table refers to."""
        return {r.parent for r in self.references} | {r.parent for r in self.parent_rules}


@dataclass(frozen=True)
class Identifying:
    """An input column that identifies a person: recognised, then dropped at ingest."""

    name: str
    de: str
    en: str
    aliases: tuple[str, ...] = ()

    def headers(self) -> tuple[str, ...]:
        return (self.name, self.de, self.en, *self.aliases)


IDENTIFYING: tuple[Identifying, ...] = (
    Identifying("first_name", "Vorname", "First name", ("Vornamen", "Given name", "Forename")),
    Identifying(
        "last_name", "Nachname", "Last name", ("Name", "Familienname", "Surname", "Family name")
    ),
    Identifying(
        "full_name", "Vor- und Nachname", "Full name", ("Name, Vorname", "Vollständiger Name")
    ),
    Identifying(
        "birth_date",
        "Geburtsdatum",
        "Date of birth",
        ("geb. am", "Birth date", "DOB", "Geburtstag"),
    ),
    Identifying("birth_place", "Geburtsort", "Place of birth"),
    Identifying(
        "street",
        "Straße",
        "Street",
        ("Strasse", "Straße und Hausnummer", "Adresse", "Anschrift", "Address"),
    ),
    Identifying("house_number", "Hausnummer", "House number", ("Hausnr", "Hausnr.")),
    Identifying("postcode", "PLZ", "Postcode", ("Postleitzahl", "ZIP", "ZIP code", "Postal code")),
    Identifying("city", "Ort", "City", ("Wohnort", "Stadt", "Town")),
    Identifying(
        "phone",
        "Telefon",
        "Phone",
        ("Telefonnummer", "Tel", "Tel.", "Mobil", "Handy", "Mobile", "Phone number"),
    ),
    Identifying(
        "email", "E-Mail", "Email", ("E-Mail-Adresse", "Mail", "Email address", "E-mail address")
    ),
)


# --------------------------------------------------------------------------------------
# Column helpers (keep the table definitions short)
# --------------------------------------------------------------------------------------


def _person_id(
    about_de: str = "Person (Pseudonym der Klient-Nr.)",
    about_en: str = "Person (pseudonym of the client number)",
) -> Column:
    return Column(
        "person_id", "string", "Klient-Nr", "Client number", about_de, about_en,
        pattern=ID_PATTERN, pseudonym="person",
        aliases=("Klientennummer", "Klient-ID", "Klientnummer", "Person-ID", "Person ID", "Client ID"),
    )  # fmt: skip


def _code(
    name: str,
    de: str,
    en: str,
    about_de: str,
    about_en: str,
    codes: Mapping[str, tuple[str, str]],
    **kw,
) -> Column:
    return Column(name, "string", de, en, about_de, about_en, codes=codes, **kw)


def _date(name: str, de: str, en: str, about_de: str, about_en: str, **kw) -> Column:
    return Column(name, "date", de, en, about_de, about_en, **kw)


def _flag(name: str, de: str, en: str, about_de: str, about_en: str, **kw) -> Column:
    return Column(name, "boolean", de, en, about_de, about_en, **kw)


def _not_before(later: str, earlier: str) -> Callable[[pd.DataFrame], pd.Series]:
    def test(df: pd.DataFrame) -> pd.Series:
        return (df[later].isna() | df[earlier].isna() | (df[later] >= df[earlier])).astype(bool)

    return test


def _both_or_neither(a: str, b: str) -> Callable[[pd.DataFrame], pd.Series]:
    def test(df: pd.DataFrame) -> pd.Series:
        return df[a].isna() == df[b].isna()

    return test


def _decision_date_consistent(df: pd.DataFrame) -> pd.Series:
    pending = df["decision"] == "offen"
    return df["decision"].isna() | (pending == df["decision_date"].isna())


def _cycle_for_parent_work(df: pd.DataFrame) -> pd.Series:
    return (df["project"] != "elternarbeit") | df["cycle_id"].notna()


_YEARS = {"minimum": 1900, "maximum": DATE_MAX.year, "unit": ("Jahr", "year")}
_COUNT = {"minimum": 0, "unit": ("Anzahl", "count")}
_STADTTEIL_SYNONYMS = {f"{code} {de}": code for code, (de, _) in labels.STADTTEILE.items()} | {
    "ausserhalb Ehrenfeld": "ausserhalb",
    "outside": "ausserhalb",
}


def _stadtteil(about_de: str, about_en: str, **kw) -> Column:
    return _code("stadtteil", "Stadtteil", "District", about_de, about_en, labels.STADTTEILE,
                 synonyms=_STADTTEIL_SYNONYMS, aliases=("Stadtteil-Nr", "Stadtteil Nr", "Quarter"), **kw)  # fmt: skip


def _cycle_id(required: bool) -> Column:
    return Column("cycle_id", "string", "Gruppenzyklus", "Group cycle",
                  "Gruppenzyklus der Elternarbeit (z. B. EG2023-11: 2023, 1. Halbjahr, Gruppe 1)",
                  "Parent-work group cycle (e.g. EG2023-11: 2023, first half-year, group 1)",
                  required=required, pattern=ID_PATTERN, aliases=("Zyklus", "Zyklus-Nr", "Cycle ID"))  # fmt: skip


def _fsw_item(i: int) -> Column:
    return Column(
        f"fsw_{i}", "integer", f"FSW {i}", f"FSW item {i}",
        f"FSW-Item {i} (Selbstwirksamkeit in der Erziehung), 1 = trifft gar nicht zu … 6 = trifft völlig zu",
        f"FSW item {i} (parenting self-efficacy), 1 = not at all true … 6 = completely true",
        required=False, minimum=1, maximum=6, unit=("Punkte (1–6)", "points (1–6)"),
        aliases=(f"FSW{i}", f"FSW_{i}", f"FSW-Item {i}"),
    )  # fmt: skip


# --------------------------------------------------------------------------------------
# The tables
# --------------------------------------------------------------------------------------

TABLES: dict[str, Table] = {}


def _register(table: Table) -> Table:
    TABLES[table.name] = table
    return table


_register(Table(
    "participants", "Teilnehmende", "Participants",
    "Eine Zeile je Person: Zielgruppe, Herkunft, Zuzug, Stadtteil, Zugangsweg.",
    "One row per person: target group, origin, arrival, district, referral route.",
    (
        _person_id(),
        Column("birth_year", "integer", "Geburtsjahr", "Year of birth",
               "Geburtsjahr (aus dem Geburtsdatum; das Datum selbst passiert den Import nicht)",
               "Year of birth (from the birth date; the date itself never passes ingest)",
               required=False, derive_from="birth_date", aliases=("Jahrgang",), **_YEARS),
        _code("sex", "Geschlecht", "Sex", "Geschlecht (w/m/d)", "Sex (female/male/diverse)", SEX,
              synonyms={"weibl": "w", "maennl": "m", "female": "w", "male": "m", "diverse": "d"}, aliases=("Gender",)),
        _code("target_group", "Zielgruppe", "Target group", "Zielgruppe der Integrationsagentur",
              "Target group of the integration agency", labels.TARGET_GROUPS),
        Column("country_of_origin", "string", "Herkunftsland", "Country of origin",
               "Herkunftsland (deutsche Bezeichnung)", "Country of origin (German name)", safe_text=True,
               aliases=("Herkunft", "Country")),
        Column("arrival_year", "integer", "Zuzugsjahr", "Year of arrival", "Jahr des Zuzugs nach Deutschland",
               "Year of arrival in Germany", aliases=("Einreisejahr", "Jahr der Einreise", "Arrival year"), **_YEARS),
        _stadtteil("Wohnort nach Stadtteil (Stadtbezirk 4 Ehrenfeld: 401–406)",
                   "District of residence (Stadtbezirk 4 Ehrenfeld: 401–406)"),
        _code("referral_route", "Zugangsweg", "Referral route", "Wie die Person zur Agentur kam",
              "How the person came to the agency", labels.REFERRAL_ROUTES, aliases=("Zugang", "Referral")),
        _flag("academic_degree", "Hochschulabschluss", "Academic degree", "Hat einen Hochschulabschluss",
              "Holds a university degree", aliases=("Akademischer Abschluss", "University degree")),
        _date("first_contact", "Erstkontakt", "First contact", "Datum des ersten Kontakts mit der Agentur",
              "Date of the first contact with the agency", aliases=("Datum Erstkontakt", "Erstkontakt am")),
    ),
    key=("person_id",), date_column="first_contact",
    rules=(RowRule("arrival_before_birth", "arrival_year", _not_before("arrival_year", "birth_year")),),
    aliases=("Teilnehmer", "Klienten", "Klientinnen und Klienten", "Personen", "Stammdaten"),
))  # fmt: skip

_register(Table(
    "enrolments", "Teilnahmen", "Enrolments",
    "Eine Zeile je Person und Projekt: Eintritt, Austritt, Austrittsgrund; in der Elternarbeit auch Gruppenzyklus, Zuteilung und besuchte Termine.",
    "One row per person and project: entry, exit, exit reason; for parent work also group cycle, allocation and sessions attended.",
    (
        Column("enrolment_id", "string", "Teilnahme-Nr", "Enrolment ID", "Teilnahme (Pseudonym der Teilnahme-Nr.)",
               "Enrolment (pseudonym of the enrolment number)", pattern=ID_PATTERN, pseudonym="enrolment",
               aliases=("Teilnahmenummer", "Maßnahme-Nr", "Enrolment number")),
        _person_id(),
        _code("project", "Projekt", "Project", "Projekt der Agentur", "Project of the agency", labels.PROJECTS,
              aliases=("Angebot", "Maßnahme")),
        _date("entry_date", "Eintritt", "Entry date", "Eintrittsdatum", "Date of entry", aliases=("Eintrittsdatum", "Beginn der Teilnahme")),
        _date("exit_date", "Austritt", "Exit date", "Austrittsdatum (leer: läuft noch)", "Date of exit (empty: ongoing)",
              required=False, aliases=("Austrittsdatum", "Ende der Teilnahme")),
        _code("exit_reason", "Austrittsgrund", "Exit reason", "Grund des Austritts (leer: läuft noch)",
              "Reason of exit (empty: ongoing)", labels.EXIT_REASONS, required=False,
              synonyms={"regulaer beendet": "regulaer", "abgebrochen": "abbruch", "dropout": "abbruch"}),
        _cycle_id(required=False),
        _code("arm", "Zuteilung", "Study arm", "Elternarbeit: Teilnahme oder (randomisierte) Wartegruppe",
              "Parent work: participation or (randomised) waiting list", STUDY_ARMS, required=False,
              synonyms={"warteliste": "wartegruppe", "waitlist": "wartegruppe", "waiting": "wartegruppe"}, aliases=("Arm", "Gruppe (Studie)")),
        Column("sessions_attended", "integer", "Besuchte Termine", "Sessions attended",
               "Elternarbeit: Zahl der besuchten Gruppentermine", "Parent work: number of group sessions attended",
               required=False, minimum=0, maximum=100, unit=("Termine", "sessions"), aliases=("Anwesenheit",)),
    ),
    key=("enrolment_id",), date_column="entry_date",
    rules=(
        RowRule("exit_before_entry", "exit_date", _not_before("exit_date", "entry_date")),
        RowRule("exit_reason_inconsistent", "exit_reason", _both_or_neither("exit_date", "exit_reason")),
        RowRule("cycle_missing", "cycle_id", _cycle_for_parent_work),
    ),
    references=(Reference("person_id", "participants", "person_id"), Reference("cycle_id", "parent_groups", "cycle_id")),
    aliases=("Teilnahme", "Maßnahmen", "Projektteilnahmen"),
))  # fmt: skip

_register(Table(
    "contacts", "Kontakte", "Contacts",
    "Beratungskontakte (Erst- und Folgekontakte) mit Dauer.",
    "Counselling contacts (first and follow-up contacts) with duration.",
    (
        Column("contact_id", "string", "Kontakt-Nr", "Contact ID", "Kontakt (Pseudonym der Kontakt-Nr.)",
               "Contact (pseudonym of the contact number)", pattern=ID_PATTERN, pseudonym="contact",
               aliases=("Kontaktnummer", "Contact number")),
        _person_id(),
        _code("project", "Projekt", "Project", "Projekt, in dem der Kontakt stattfand", "Project the contact belongs to", labels.PROJECTS),
        _date("contact_date", "Kontaktdatum", "Contact date", "Datum des Kontakts", "Date of the contact", aliases=("Datum", "Date")),
        _code("kind", "Kontaktart", "Contact type", "Erst- oder Folgekontakt", "First or follow-up contact", CONTACT_KINDS,
              synonyms={"erst": "erstkontakt", "folge": "folgekontakt", "first": "erstkontakt", "follow-up": "folgekontakt", "followup": "folgekontakt"}),
        Column("minutes", "integer", "Dauer (Minuten)", "Duration (minutes)", "Dauer des Kontakts", "Duration of the contact",
               minimum=1, maximum=600, unit=("Minuten", "minutes"), aliases=("Dauer", "Minuten", "Duration")),
    ),
    key=("contact_id",), date_column="contact_date",
    references=(Reference("person_id", "participants", "person_id"),),
    aliases=("Beratungskontakte", "Kontaktdokumentation"),
))  # fmt: skip

_register(Table(
    "employment_months", "Erwerbsstatus monatlich", "Monthly employment status",
    "Erwerbsstatus je Person und Monat (Teilnehmende der Arbeitsmarktprojekte, 12 Monate vor Eintritt bis 12 Monate nach Austritt, mit Lücken).",
    "Employment status per person and month (labour-market participants, 12 months before entry to 12 months after exit, with gaps).",
    (
        _person_id(),
        Column("month", "month", "Monat", "Month", "Monat (erster Tag des Monats)", "Month (first day of the month)",
               aliases=("Berichtsmonat", "Month of record")),
        _code("status", "Erwerbsstatus", "Employment status", "Erwerbsstatus im Monat", "Employment status in the month",
              labels.EMPLOYMENT_STATUS, synonyms={"sv-pflichtig beschäftigt": "svb", "sozialversicherungspflichtig": "svb", "geringfügig beschäftigt": "minijob"},
              aliases=("Status",)),
    ),
    key=("person_id", "month"), date_column="month",
    references=(Reference("person_id", "participants", "person_id"),),
    aliases=("Erwerbsstatus", "Erwerbsverlauf", "Beschäftigungsverlauf", "Erwerbsstatus_monatlich"),
))  # fmt: skip

_register(Table(
    "followups", "Verbleib", "Labour-market follow-ups",
    "Erwerbsstatus 6 und 12 Monate nach dem Austritt aus einem Arbeitsmarktprojekt, wo die Person erreicht wurde.",
    "Employment status 6 and 12 months after exit from a labour-market project, where the person was reached.",
    (
        Column("enrolment_id", "string", "Teilnahme-Nr", "Enrolment ID", "Teilnahme, auf die sich die Nachbefragung bezieht",
               "Enrolment the follow-up refers to", pattern=ID_PATTERN, pseudonym="enrolment",
               aliases=("Teilnahmenummer", "Enrolment number")),
        _person_id(),
        Column("months_after_exit", "integer", "Monate nach Austritt", "Months after exit",
               "Abstand zum Austritt (Nachbefragungszeitpunkt)", "Time since exit (follow-up point)",
               allowed=(1, 3, 6, 9, 12, 18, 24), unit=("Monate", "months"), aliases=("Nachbefragung nach Monaten", "Follow-up month")),
        _date("reference_date", "Stichtag", "Reference date", "Stichtag der Nachbefragung", "Reference date of the follow-up",
              aliases=("Befragungsdatum Verbleib", "Datum Nachbefragung")),
        _code("status", "Erwerbsstatus", "Employment status", "Erwerbsstatus am Stichtag", "Employment status at the reference date",
              labels.EMPLOYMENT_STATUS, aliases=("Status", "Verbleib")),
        _flag("sgb2_receipt", "SGB-II-Bezug", "SGB II receipt", "Bezieht Leistungen nach SGB II (Bürgergeld)",
              "Receives SGB II benefits (Bürgergeld)", aliases=("SGB II", "Bürgergeld", "SGB II benefits")),
    ),
    key=("enrolment_id", "months_after_exit"), date_column="reference_date",
    references=(Reference("enrolment_id", "enrolments", "enrolment_id"),),
    parent_rules=(
        ParentRule("person_mismatch", "person_id", "enrolment_id", "enrolments", "enrolment_id", "person_id", "equal"),
        ParentRule("followup_before_exit", "reference_date", "enrolment_id", "enrolments", "enrolment_id", "exit_date",
                   "after", missing_code="followup_without_exit"),
    ),
    aliases=("Nachbefragung", "Verbleibsmessung", "Verbleib_Nachbefragung", "Follow-ups"),
))  # fmt: skip

_register(Table(
    "recognition_cases", "Anerkennungsfälle", "Recognition cases",
    "Anerkennungsverfahren ausländischer Berufsqualifikationen (BQFG): Referenzberuf, Antrag, Bescheid, Entscheidung.",
    "Recognition procedures for foreign qualifications (BQFG): reference profession, application, decision.",
    (
        Column("case_id", "string", "Fall-Nr", "Case ID", "Anerkennungsfall (Pseudonym der Fall-Nr.)",
               "Recognition case (pseudonym of the case number)", pattern=ID_PATTERN, pseudonym="recognition_case",
               aliases=("Fallnummer", "Verfahrens-Nr", "Case number")),
        _person_id(),
        Column("reference_profession", "string", "Referenzberuf", "Reference profession",
               "Deutscher Referenzberuf des Verfahrens", "German reference profession of the procedure", safe_text=True,
               aliases=("Beruf", "Profession")),
        _flag("regulated", "Reglementierter Beruf", "Regulated profession", "Reglementierter Beruf (volle Gleichwertigkeit nötig)",
              "Regulated profession (full equivalence needed)", aliases=("reglementiert", "Regulated")),
        _flag("academic", "Akademischer Beruf", "Academic profession", "Akademischer Referenzberuf", "Academic reference profession",
              aliases=("akademisch", "Academic")),
        Column("country_of_training", "string", "Ausbildungsland", "Country of training", "Land, in dem die Qualifikation erworben wurde",
               "Country in which the qualification was obtained", safe_text=True, aliases=("Ausbildungsstaat",)),
        _date("application_date", "Antragsdatum", "Application date", "Datum des Antrags", "Date of application",
              aliases=("Antrag gestellt am", "Antrag")),
        _date("decision_date", "Bescheiddatum", "Decision date", "Datum des Bescheids (leer: offen)", "Date of the decision (empty: pending)",
              required=False, aliases=("Bescheid vom", "Entscheidungsdatum")),
        _code("decision", "Entscheidung", "Decision", "Ergebnis des Verfahrens", "Outcome of the procedure", labels.RECOGNITION_DECISIONS,
              synonyms={"Ausgleichsmaßnahme": "ausgleich", "zurückgezogen": "zurueckgezogen", "withdrawn": "zurueckgezogen"}, aliases=("Ergebnis", "Outcome")),
    ),
    key=("case_id",), date_column="application_date",
    rules=(
        RowRule("decision_before_application", "decision_date", _not_before("decision_date", "application_date")),
        RowRule("decision_date_inconsistent", "decision_date", _decision_date_consistent),
    ),
    references=(Reference("person_id", "participants", "person_id"),),
    aliases=("Anerkennung", "Anerkennungsverfahren", "Anerkennungsfaelle"),
))  # fmt: skip

_register(Table(
    "parent_groups", "Elterngruppen", "Parent groups",
    "Gruppenzyklen der Elternarbeit (ab 2023 mit randomisierter Warteliste bei Überbuchung).",
    "Group cycles of the parent work (from 2023 with a randomised waiting list when oversubscribed).",
    (
        _cycle_id(required=True),
        Column("group_name", "string", "Gruppe", "Group", "Name der Gruppe", "Name of the group", safe_text=True,
               aliases=("Gruppenname", "Group name")),
        _stadtteil("Stadtteil, in dem die Gruppe stattfindet", "District where the group meets"),
        _date("start_date", "Beginn", "Start date", "Erster Termin des Zyklus", "First session of the cycle", aliases=("Start",)),
        _date("end_date", "Ende", "End date", "Letzter Termin des Zyklus", "Last session of the cycle", aliases=("End",)),
        Column("sessions_planned", "integer", "Geplante Termine", "Sessions planned", "Zahl der geplanten Termine",
               "Number of sessions planned", minimum=1, maximum=100, unit=("Termine", "sessions")),
        _flag("waitlist_design", "Wartelisten-Design", "Waiting-list design",
              "Überbuchte Plätze wurden per Los auf Teilnahme und Wartegruppe verteilt",
              "Oversubscribed places were allocated by lot to participation and waiting list", aliases=("Warteliste", "Waitlist design")),
    ),
    key=("cycle_id",), date_column="start_date",
    rules=(RowRule("end_before_start", "end_date", _not_before("end_date", "start_date")),),
    aliases=("Gruppenzyklen", "Elternarbeit Gruppen"),
))  # fmt: skip

_register(Table(
    "parent_surveys", "Elternbefragung", "Parent surveys",
    "Fragebogen vor und nach jedem Gruppenzyklus: FSW (9 Items) und Elternbeteiligung.",
    "Questionnaire before and after each group cycle: FSW (9 items) and parent involvement.",
    (
        _person_id(),
        _cycle_id(required=True),
        _code("wave", "Befragungswelle", "Survey wave", "vorher (Beginn) oder nachher (Ende des Zyklus)",
              "before (start) or after (end of the cycle)", SURVEY_WAVES,
              synonyms={"vorher": "pre", "nachher": "post", "t0": "pre", "t1": "post", "prae": "pre", "before": "pre", "after": "post"},
              aliases=("Welle", "Zeitpunkt", "Wave")),
        _date("survey_date", "Befragungsdatum", "Survey date", "Datum der Befragung", "Date of the survey", aliases=("Datum", "Date")),
        *(_fsw_item(i) for i in range(1, 10)),
        _flag("school_contact", "Kontakt zu Lehrkräften", "Contact with teachers",
              "Kontakt zu Lehrkräften in den letzten drei Monaten", "Contact with teachers in the last three months"),
        _flag("parent_evening", "Elternabend besucht", "Attended parent evening",
              "Elternabend in den letzten drei Monaten besucht", "Attended a parent evening in the last three months"),
        _flag("kita_enrolled", "Kita-Anmeldung", "Kita enrolment", "Kleines Kind in der Kita angemeldet (leer: kein kleines Kind)",
              "Young child enrolled in a Kita (empty: no young child)", required=False, aliases=("Kita", "Kita enrolled")),
        _flag("german_course", "Deutschkurs", "German course", "Nimmt an einem Deutschkurs teil", "Takes part in a German course"),
    ),
    key=("person_id", "cycle_id", "wave"), date_column="survey_date",
    references=(Reference("person_id", "participants", "person_id"), Reference("cycle_id", "parent_groups", "cycle_id")),
    aliases=("Elternbefragungen", "Fragebogen Eltern", "FSW"),
))  # fmt: skip

_register(Table(
    "volunteers", "Ehrenamtliche", "Volunteers",
    "Ehrenamtliche: Gewinnung, Qualifizierungskurs, Ausscheiden.",
    "Volunteers: recruitment, qualification course, leaving.",
    (
        Column("volunteer_id", "string", "Ehrenamtlichen-Nr", "Volunteer ID", "Ehrenamtliche Person (Pseudonym der Nummer)",
               "Volunteer (pseudonym of the volunteer number)", pattern=ID_PATTERN, pseudonym="volunteer",
               aliases=("Ehrenamt-Nr", "Volunteer number")),
        _flag("migration_history", "Eigene Migrationsgeschichte", "Migration background", "Hat eine eigene Migrationsgeschichte",
              "Has a migration background", aliases=("Migrationsgeschichte", "Migration history")),
        _date("recruited_date", "Gewonnen am", "Recruited on", "Datum der Gewinnung", "Date of recruitment", aliases=("Beginn Ehrenamt", "Recruited")),
        _date("qualification_date", "Qualifiziert am", "Qualified on", "Abschluss des Qualifizierungskurses (leer: keiner)",
              "Completion of the qualification course (empty: none)", required=False, aliases=("Qualifizierung abgeschlossen am", "Qualified")),
        _date("left_date", "Ausgeschieden am", "Left on", "Ende des Engagements (leer: aktiv)", "End of engagement (empty: active)",
              required=False, aliases=("Ende Ehrenamt", "Left")),
    ),
    key=("volunteer_id",), date_column="recruited_date",
    rules=(
        RowRule("left_before_recruited", "left_date", _not_before("left_date", "recruited_date")),
        RowRule("qualified_before_recruited", "qualification_date", _not_before("qualification_date", "recruited_date")),
    ),
    aliases=("Ehrenamt", "Freiwillige"),
))  # fmt: skip

_register(Table(
    "volunteer_assignments", "Ehrenamtliche Einsätze", "Volunteer assignments",
    "Einsätze der Ehrenamtlichen mit Art und Stunden (ohne eigene Kennung: doppelte Zeilen werden gemeldet, nicht zurückgestellt).",
    "Volunteer assignments with type and hours (no id of their own: duplicate rows are reported, not quarantined).",
    (
        Column("volunteer_id", "string", "Ehrenamtlichen-Nr", "Volunteer ID", "Ehrenamtliche Person (Pseudonym)",
               "Volunteer (pseudonym)", pattern=ID_PATTERN, pseudonym="volunteer", aliases=("Ehrenamt-Nr", "Volunteer number")),
        _date("assignment_date", "Einsatzdatum", "Assignment date", "Datum des Einsatzes", "Date of the assignment", aliases=("Datum", "Date")),
        _code("assignment_type", "Einsatzart", "Assignment type", "Art des Einsatzes", "Type of assignment", labels.ASSIGNMENT_TYPES,
              aliases=("Art des Einsatzes", "Type")),
        Column("hours", "number", "Stunden", "Hours", "Dauer des Einsatzes", "Duration of the assignment",
               minimum=0.25, maximum=24, unit=("Stunden", "hours"), aliases=("Einsatzstunden", "Duration (hours)")),
    ),
    date_column="assignment_date",
    references=(Reference("volunteer_id", "volunteers", "volunteer_id"),),
    parent_rules=(
        ParentRule("assignment_before_recruitment", "assignment_date", "volunteer_id", "volunteers", "volunteer_id",
                   "recruited_date", "not_before"),
    ),
    aliases=("Einsätze", "Ehrenamtliche Einsaetze", "Assignments"),
))  # fmt: skip

_register(Table(
    "events", "Veranstaltungen", "Events",
    "Fortbildungen für Migrantenselbstorganisationen, interkulturelle Trainings und Veranstaltungen.",
    "Trainings for migrant self-organisations, intercultural trainings and events.",
    (
        Column("event_id", "string", "Veranstaltungs-Nr", "Event ID", "Veranstaltung", "Event", pattern=ID_PATTERN,
               aliases=("Veranstaltungsnummer", "Event number")),
        _date("event_date", "Datum", "Date", "Datum der Veranstaltung", "Date of the event", aliases=("Veranstaltungsdatum",)),
        _code("event_kind", "Veranstaltungsart", "Event type", "Art der Veranstaltung", "Type of event", labels.EVENT_KINDS,
              aliases=("Art", "Format", "Event kind")),
        Column("location", "string", "Veranstaltungsort", "Location", "Ort der Veranstaltung (Stadtbezirk)",
               "Location of the event (city district)", safe_text=True, aliases=("Location of event",)),
        Column("participants", "integer", "Teilnehmende", "Participants", "Zahl der Teilnehmenden", "Number of participants",
               maximum=100_000, aliases=("Anzahl Teilnehmende", "Teilnehmerzahl"), **_COUNT),
        Column("partner_organisations", "integer", "Partnerorganisationen", "Partner organisations",
               "Zahl der beteiligten Partnerorganisationen", "Number of partner organisations involved",
               maximum=1000, aliases=("Partner", "Kooperationspartner"), **_COUNT),
    ),
    key=("event_id",), date_column="event_date",
    aliases=("Veranstaltungsliste", "Fortbildungen"),
))  # fmt: skip

_register(Table(
    "sozialraum", "Sozialraumstatistik", "Neighbourhood statistics",
    "Offene Daten der Stadt Köln im Langformat (Tabelle, Jahr, Raum, Zeile, Zahl), Stadtteile 401–406 und Köln gesamt (raum_id 0).",
    "City of Cologne open data in long format (table, year, area, row, value), districts 401–406 and Cologne overall (raum_id 0).",
    (
        Column("id", "integer", "id", "id", "Laufende Nummer der Zeile in der Quelldatei", "Running number of the row in the source file",
               minimum=0),
        Column("tab_id", "string", "tab_id", "table id", "Kennung der Tabelle", "Table id", pattern=ID_PATTERN),
        Column("tabelle", "string", "tabelle", "table", "Name der Tabelle", "Name of the table", safe_text=True),
        Column("jahr", "integer", "jahr", "year", "Berichtsjahr", "Reference year", minimum=1950, maximum=DATE_MAX.year,
               unit=("Jahr", "year")),
        Column("raum_id", "string", "raum_id", "area id", "Kennung des Raums (Stadtteil 401–406, 0 = Köln)",
               "Area id (district 401–406, 0 = Cologne)", pattern=r"[0-9]{1,9}"),
        Column("raum", "string", "raum", "area", "Name des Raums", "Name of the area", safe_text=True),
        Column("zei_id", "string", "zei_id", "row id", "Kennung der Zeile (Merkmal)", "Row id (indicator)", pattern=ID_PATTERN),
        Column("zeile", "string", "zeile", "row", "Bezeichnung der Zeile (Merkmal)", "Label of the row (indicator)", safe_text=True),
        Column("zahl", "integer", "zahl", "value", "Wert (Personen bzw. Haushalte); geheim gehaltene Werte (*) werden zurückgestellt",
               "Value (persons or households); suppressed values (*) are quarantined", suppressed=("*", "."),
               unit=("Anzahl", "count")),
    ),
    key=("tab_id", "jahr", "raum_id", "zei_id"),
    aliases=("Sozialraum", "Sozialraumanalyse", "Sozialraumdaten", "Offene Daten Köln"),
))  # fmt: skip


# --------------------------------------------------------------------------------------
# Look-ups for reading exports
# --------------------------------------------------------------------------------------

_TRANSLITERATE = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def normalise(text: object) -> str:
    """Fold a header, code or label for matching: case, umlauts, punctuation and spaces.

    ``"Klient-Nr."``, ``"klient nr"`` and ``"KLIENT_NR"`` all become ``"klientnr"``;
    ``"Geflüchtete"`` and ``"Gefluechtete"`` both become ``"gefluechtete"``.
    """
    folded = unicodedata.normalize("NFC", str(text)).casefold().translate(_TRANSLITERATE)
    folded = unicodedata.normalize("NFKD", folded)
    return "".join(ch for ch in folded if ch.isalnum())


@cache
def _header_index(table: str) -> dict[str, str]:
    index: dict[str, str] = {}
    for column in TABLES[table].columns:
        for header in column.headers():
            key = normalise(header)
            if index.setdefault(key, column.name) != column.name:
                raise ValueError(f"{table}: header {header!r} stands for two columns")
    return index


@cache
def _identifying_index() -> dict[str, str]:
    return {normalise(h): ident.name for ident in IDENTIFYING for h in ident.headers()}


def column_for_header(table: str, header: str) -> str | None:
    """Return the column of ``table`` an export header stands for, or ``None``."""
    return _header_index(table).get(normalise(header))


def identifying_for_header(header: str) -> str | None:
    """Return the identifying column (``"first_name"``, ...) a header stands for, or ``None``."""
    return _identifying_index().get(normalise(header))


@cache
def table_for_name(name: str) -> str | None:
    """Return the table a file or sheet name stands for (``"Teilnehmende"``), or ``None``."""
    key = normalise(name)
    for table in TABLES.values():
        if key in {normalise(n) for n in (table.name, table.de, table.en, *table.aliases)}:
            return table.name
    return None


@cache
def value_lookup(table: str, column: str) -> dict[str, str]:
    """Return ``{normalised spelling: code}`` for a code column (codes, labels, synonyms)."""
    col = TABLES[table].column(column)
    if not col.codes:
        return {}
    lookup: dict[str, str] = {}
    for code, (de, en) in col.codes.items():
        for spelling in (code, de, en):
            key = normalise(spelling)
            if lookup.setdefault(key, code) != code:
                raise ValueError(f"{table}.{column}: {spelling!r} stands for two codes")
    for spelling, code in col.synonyms.items():
        if code not in col.codes:
            raise ValueError(f"{table}.{column}: synonym {spelling!r} names unknown code {code!r}")
        lookup.setdefault(normalise(spelling), code)
    return lookup


def boolean_lookup() -> dict[str, bool]:
    """Return ``{normalised spelling: value}`` for yes/no columns."""
    return {**dict.fromkeys(TRUE_WORDS, True), **dict.fromkeys(FALSE_WORDS, False)}


def load_order() -> list[str]:
    """Table names, every table after the tables it refers to."""
    from graphlib import TopologicalSorter

    graph = {name: sorted(t.parents) for name, t in TABLES.items()}
    return list(TopologicalSorter(graph).static_order())


def check_label(code: str, language: labels.Language = "de") -> str:
    """Reader-facing text of a quarantine check code."""
    return labels.label(code, CHECKS, language)


# --------------------------------------------------------------------------------------
# pandera schemas
# --------------------------------------------------------------------------------------


def _column_checks(col: Column, stage: Stage) -> list:
    import pandera.pandas as pa

    checks = []
    if stage == "shape":
        return checks
    if col.codes:
        checks.append(pa.Check.isin(list(col.codes), error="unknown_code"))
    if col.allowed:
        checks.append(pa.Check.isin(list(col.allowed), error="not_allowed"))
    low, high = col.bounds
    if low is not None and high is not None:
        checks.append(pa.Check.in_range(low, high, error="out_of_range"))
    elif low is not None:
        checks.append(pa.Check.ge(low, error="out_of_range"))
    elif high is not None:
        checks.append(pa.Check.le(high, error="out_of_range"))
    if col.pattern and not col.pseudonym:
        checks.append(pa.Check.str_matches(rf"(?:{col.pattern})\Z", error="bad_format"))
    if col.pseudonym and stage == "final":  # while parsing, ids are checked before pseudonymising
        checks.append(pa.Check.str_matches(rf"(?:{ID_PATTERN})\Z", error="invalid_id"))
    if col.safe_text:
        checks.append(pa.Check.str_length(1, MAX_TEXT_LENGTH, error="too_long"))
        checks.append(pa.Check(_no_contact_data, error="looks_identifying"))
    return checks


def _no_contact_data(values: pd.Series) -> pd.Series:
    return ~values.str.contains(f"{EMAIL_PATTERN}|{PHONE_PATTERN}", regex=True)


@cache
def pandera_schema(table: str, stage: Stage = "final"):
    """Return the pandera schema of ``table``.

    Parameters
    ----------
    table
        Table name.
    stage
        ``"final"``: the snapshot table, exact dtypes, columns in order, key unique.
        ``"parsed"``: the ingest's working frame, nullable dtypes, key not checked (the
        ingest reports duplicates itself to tell exact copies from conflicting rows).
        ``"shape"``: as ``"final"`` without the checks of values (for rows that passed the
        ``"parsed"`` stage already).
    """
    import pandera.pandas as pa

    spec = TABLES[table]
    final = stage != "parsed"
    columns = {
        c.name: pa.Column(
            c.dtype if final else c.parsed_dtype,
            checks=_column_checks(c, stage),
            nullable=not c.required,
        )
        for c in spec.columns
    }
    rules = (
        []
        if stage == "shape"
        else [pa.Check(r.test, error=r.code, ignore_na=False) for r in spec.rules]
    )
    return pa.DataFrameSchema(
        columns,
        checks=rules,
        strict=True,
        ordered=final,
        unique=list(spec.key) if (final and spec.key) else None,
        report_duplicates="all",
        name=table,
    )


def validate(table: str, df: pd.DataFrame, stage: Stage = "final") -> pd.DataFrame:
    """Validate a snapshot table against the contract; raise ``pandera`` ``SchemaErrors``."""
    return pandera_schema(table, stage).validate(df, lazy=True)


def validate_tables(tables: Mapping[str, pd.DataFrame]) -> None:
    """Validate every table of a snapshot, including the references between them."""
    for name, df in tables.items():
        validate(name, df)
    for name, df in tables.items():
        for ref in TABLES[name].references:
            if ref.parent not in tables:
                continue
            values = df[ref.column].dropna()
            unknown = ~values.isin(tables[ref.parent][ref.parent_column])
            if unknown.any():
                raise ValueError(
                    f"{name}.{ref.column}: {int(unknown.sum())} values not in {ref.parent}.{ref.parent_column}"
                )


# --------------------------------------------------------------------------------------
# Data dictionary
# --------------------------------------------------------------------------------------


def _code_list_name(col: Column) -> str | None:
    if not col.codes:
        return None
    for name, codes in {
        **labels.CODE_LISTS,
        "sex": SEX,
        "kind": CONTACT_KINDS,
        "wave": SURVEY_WAVES,
        "arm": STUDY_ARMS,
    }.items():
        if codes is col.codes:
            return name
    return col.name


def _allowed_text(col: Column) -> str:
    parts: list[str] = []
    if col.codes:
        parts.append(f"codes: [{_code_list_name(col)}](#code-list-{_code_list_name(col)})")
    if col.allowed:
        parts.append("one of " + ", ".join(str(v) for v in col.allowed))
    low, high = col.bounds
    if isinstance(low, pd.Timestamp):
        parts.append(f"{low:%d.%m.%Y} – {high:%d.%m.%Y}")
    elif low is not None or high is not None:
        parts.append(
            f"{'' if low is None else f'{low:g}'} – {'' if high is None else f'{high:g}'}".strip()
        )
    if col.pattern and not col.pseudonym:
        parts.append(f"pattern `{col.pattern}`")
    if col.pseudonym:
        parts.append(f"pseudonym (HMAC, namespace `{col.pseudonym}`)")
    if col.safe_text:
        parts.append(
            f"safe free text, ≤ {MAX_TEXT_LENGTH} characters, no e-mail addresses or phone numbers"
        )
    if col.suppressed:
        parts.append("`" + "`, `".join(col.suppressed) + "` = suppressed → quarantine")
    return "; ".join(parts)


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table_section(t: Table) -> list[str]:
    out = [
        f"## `{t.name}` — {t.de} / {t.en}",
        "",
        f"{t.about_de}  ",
        f"*{t.about_en}*",
        "",
        f"- Key / Schlüssel: {', '.join(f'`{k}`' for k in t.key) if t.key else '— (no key; duplicate rows are reported only)'}",
        f"- File or sheet names recognised: {', '.join(f'`{a}`' for a in (t.de, t.en, *t.aliases))}",
    ]
    if t.date_column:
        out.append(f"- Date that places a row in time: `{t.date_column}`")
    for ref in t.references:
        out.append(
            f"- `{ref.column}` refers to `{ref.parent}.{ref.parent_column}` (unknown: `unknown_reference`)"
        )
    for rule in t.rules:
        out.append(
            f"- Rule `{rule.code}` on `{rule.column}`: {CHECKS[rule.code][0]} / {CHECKS[rule.code][1]}"
        )
    for rule in t.parent_rules:
        extra = f"; no parent value: `{rule.missing_code}`" if rule.missing_code else ""
        out.append(
            f"- Rule `{rule.code}` on `{rule.column}` against `{rule.parent}.{rule.parent_column}`: {CHECKS[rule.code][1]}{extra}"
        )
    out += [
        "",
        "| Column | Header (de) | Header (en) | Type (dtype) | Required | Unit | Allowed values | Beschreibung | Description |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in t.columns:
        unit = f"{c.unit[0]} / {c.unit[1]}" if c.unit else ""
        row = [f"`{c.name}`", c.de, c.en, f"{c.kind} (`{c.dtype}`)", "yes" if c.required else "no", unit,
               _allowed_text(c), c.about_de, c.about_en]  # fmt: skip
        out.append("| " + " | ".join(_cell(x) for x in row) + " |")
    return out + [""]


def _code_lists() -> list[str]:
    seen: dict[str, Mapping[str, tuple[str, str]]] = {}
    for t in TABLES.values():
        for c in t.columns:
            if c.codes:
                seen.setdefault(_code_list_name(c), c.codes)
    out = ["## Code lists / Codelisten", ""]
    for name in sorted(seen):
        out += [f"### Code list `{name}`", "", "| Code | Deutsch | English |", "|---|---|---|"]
        out += [
            f"| `{code}` | {_cell(de)} | {_cell(en)} |" for code, (de, en) in seen[name].items()
        ]
        out.append("")
    return out


def data_dictionary() -> str:
    """Return the data dictionary (Markdown) generated from the contract."""
    out = [
        "# Data dictionary / Datenkatalog",
        "",
        f"Generated from `evaluation/schemas.py` (contract version {CONTRACT_VERSION}); do not edit by hand —",
        "regenerate with `python -m evaluation.schemas docs/data_dictionary.md`.",
        "",
        "Each table below is one Parquet file in a data snapshot. Exports may use the German or",
        "English header of a column (or the column name); codes may be given as code, German or",
        "English label. Dates in exports: `TT.MM.JJJJ` (or `JJJJ-MM-TT`); numbers with decimal comma.",
        "",
        "## Data protection / Datenschutz",
        "",
        "- Only the columns listed here pass ingest. Every other column is dropped, free-text notes included.",
        "- Identifying columns are recognised and dropped; a birth date only passes as the birth year:",
    ]
    for ident in IDENTIFYING:
        out.append(f"  - `{ident.name}`: {', '.join(ident.headers()[1:])}")
    out += [
        "- Person ids and record ids of the case-management software are replaced by keyed pseudonyms",
        "  (HMAC-SHA256, 16 hex characters); the key is kept outside the workspace (`EVALUATION_KEY_FILE`,",
        "  default `~/.config/evaluation/pseudonym.key`, owner-only). The same id keeps its pseudonym across",
        "  ingests; without the key a pseudonym cannot be linked back.",
        "- Free-text columns pass only when marked safe here and, when a mapping file is used, declared in it",
        "  (`text_columns`). Their values are compared with every name, street, e-mail address, phone number,",
        "  birth date and client number of the whole ingest and with the shapes of names and addresses;",
        "  country columns must hold a country (CLDR names, German or English). Such rows are quarantined, masked.",
        "",
        "## Reading exports / Exporte einlesen",
        "",
        "- Headers and codes of the agency's own exports are mapped in `data/mapping.yml`",
        "  (commented example: `data/mapping.example.yml`; draft: `python -m evaluation ingest --suggest-mapping FILE`).",
        "- Templates with these tables (XLSX with drop-down lists and an explanation sheet, CSV, the FSW",
        "  questionnaire as XLSForm): `python -m evaluation templates DIR`.",
        "",
        "## Quarantine checks / Prüfungen",
        "",
        "| Check | Deutsch | English |",
        "|---|---|---|",
        *(f"| `{code}` | {de} | {en} |" for code, (de, en) in CHECKS.items()),
        "",
    ]
    for t in TABLES.values():
        out += _table_section(t)
    out += _code_lists()
    return "\n".join(out).rstrip() + "\n"


def write_data_dictionary(path: Path) -> Path:
    """Write :func:`data_dictionary` to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data_dictionary(), encoding="utf-8")
    return path


def table_names() -> Iterable[str]:
    """Names of all tables of the contract."""
    return TABLES.keys()


if __name__ == "__main__":  # pragma: no cover - thin wrapper
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/data_dictionary.md")
    print(write_data_dictionary(target))
