"""Deterministic demo data for a realistic integration agency, 2019–2025.

The generator builds the agency's tables in the form they have after ingest (pseudonymised
person ids, birth years instead of birth dates, codes from :mod:`evaluation.labels`):

========================  ==============================================================
``participants``          one row per person: target group, origin, arrival, Stadtteil
``enrolments``            one row per person and project (entry, exit, exit reason)
``contacts``              counselling contacts (first and follow-up contacts)
``employment_months``     monthly employment status of labour-market participants,
                          12 months before entry until 12 months after exit (with gaps)
``followups``             status 6 and 12 months after exit, where the person was reached
``recognition_cases``     recognition procedures: profession, dates, decision
``parent_groups``         group cycles of the parent work
``parent_surveys``        FSW items and involvement, before and after each cycle
``volunteers``            volunteers: recruitment, qualification course, leaving
``volunteer_assignments`` assignments with type and hours
``events``                trainings and events with participants and partners
``sozialraum``            City of Cologne open-data tables (long format), 401–406 and city
========================  ==============================================================

Same seed, same tables, bit for bit. The effects the evaluation methods must find are
planted here and nowhere else: :data:`PLANTED` documents each of them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date

import numpy as np
import pandas as pd

from evaluation import labels

SEED = 20_250_101
FIRST_DAY = pd.Timestamp("2019-01-01")
LAST_DAY = pd.Timestamp("2025-12-31")
N_PARTICIPANTS = 2_000
FSW_ITEMS = [f"fsw_{i}" for i in range(1, 10)]
#: Loading of the FSW items on the latent self-efficacy (error SD 1). Calibrated by simulation
#: (3 x 400,000 draws) so that Cronbach's alpha of the rounded, clipped items is 0.78.
FSW_LOADING = 0.657
DAYS_PER_MONTH = 30.4375


@dataclass(frozen=True)
class PlantedEffects:
    """Effects planted in the demo data; tests of the estimators must recover them.

    Attributes
    ----------
    employment_plateau
        Increase in the monthly probability of employment subject to social insurance
        (``status == "svb"``) caused by entering a labour-market project, once fully built
        up (linear-probability scale, on top of person effects and a common time trend).
    employment_ramp_months
        The effect grows linearly from entry: ``plateau * min(e + 1, ramp) / ramp`` in event
        month ``e >= 0``; it is zero before entry (no anticipation).
    fsw_change_participants, fsw_change_waitlist
        Mean change of the FSW scale score (mean of 9 items, 1–6) from the survey before to
        the survey after a group cycle, for participants and for the randomised waiting list.
        Their difference is the causal effect of taking part.
    school_contact_pre, school_contact_post
        Share of participating parents reporting contact with teachers in the last three
        months before and after a cycle (the waiting list stays at the "pre" share).
    fsw_alpha
        Cronbach's alpha of the nine FSW items in the population the item model describes
        (see ``FSW_LOADING``); a sample's alpha scatters around it.
    recognition_hr_regulated
        Hazard ratio of a recognition decision for regulated vs non-regulated professions
        (time from application to decision is exponential, so the Cox model is correct).
    recognition_mean_months_nonregulated
        Mean months from application to decision for non-regulated professions.
    """

    employment_plateau: float = 0.18
    employment_ramp_months: int = 9
    fsw_change_participants: float = 0.45
    fsw_change_waitlist: float = 0.05
    school_contact_pre: float = 0.35
    school_contact_post: float = 0.55
    fsw_alpha: float = 0.78
    recognition_hr_regulated: float = 0.6
    recognition_mean_months_nonregulated: float = 3.5

    def employment_effect(self, event_month: np.ndarray | int) -> np.ndarray:
        """Planted effect on P(svB) in event month(s) ``e`` (0 = month of entry)."""
        e = np.asarray(event_month, dtype=float)
        ramp = np.minimum(e + 1, self.employment_ramp_months) / self.employment_ramp_months
        return np.where(e >= 0, self.employment_plateau * ramp, 0.0)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


PLANTED = PlantedEffects()

# Target groups: share of new participants by year, countries, arrival lag.
_GROUP_MIX = {
    # year: (russischsprachig, eu_suedost, gefluechtete, ukraine)
    2019: (0.40, 0.30, 0.30, 0.00),
    2020: (0.38, 0.32, 0.30, 0.00),
    2021: (0.35, 0.32, 0.33, 0.00),
    2022: (0.22, 0.22, 0.26, 0.30),
    2023: (0.20, 0.22, 0.28, 0.30),
    2024: (0.20, 0.24, 0.30, 0.26),
    2025: (0.20, 0.25, 0.32, 0.23),
}
_YEAR_WEIGHT = {2019: 0.11, 2020: 0.09, 2021: 0.11, 2022: 0.18, 2023: 0.17, 2024: 0.17, 2025: 0.17}
_COUNTRIES = {
    "russischsprachig": (["Russland", "Kasachstan", "Ukraine", "Belarus"], [0.5, 0.3, 0.1, 0.1]),
    "eu_suedost": (["Rumänien", "Bulgarien", "Polen"], [0.45, 0.35, 0.20]),
    "gefluechtete": (["Syrien", "Afghanistan", "Irak", "Eritrea"], [0.45, 0.25, 0.18, 0.12]),
    "ukraine": (["Ukraine"], [1.0]),
}
# Person effect on the monthly probability of svB employment, by target group.
_GROUP_EMPLOYMENT = {
    "russischsprachig": 0.10,
    "eu_suedost": 0.12,
    "gefluechtete": 0.02,
    "ukraine": 0.06,
}
_STADTTEIL_WEIGHTS = {
    "401": 0.30,
    "402": 0.14,
    "403": 0.16,
    "404": 0.09,
    "405": 0.12,
    "406": 0.09,
    "ausserhalb": 0.10,
}
_REFERRAL_WEIGHTS = {"selbst": 0.30, "umfeld": 0.30, "jobcenter": 0.30, "beratungsstelle": 0.10}
# Reference professions: (name, regulated, academic)
_PROFESSIONS = [
    ("Ärztin/Arzt", True, True),
    ("Pflegefachkraft", True, False),
    ("Lehrkraft", True, True),
    ("Erzieherin/Erzieher", True, False),
    ("Apothekerin/Apotheker", True, True),
    ("Elektronikerin/Elektroniker", False, False),
    ("Kauffrau/Kaufmann für Büromanagement", False, False),
    ("Informatikerin/Informatiker (Hochschule)", False, True),
    ("Ökonomin/Ökonom (Hochschule)", False, True),
    ("Köchin/Koch", False, False),
]
_DECISIONS_REGULATED = (["voll", "ausgleich", "keine", "zurueckgezogen"], [0.55, 0.33, 0.03, 0.09])
_DECISIONS_OPEN = (["voll", "teilweise", "keine", "zurueckgezogen"], [0.50, 0.38, 0.03, 0.09])
# Status other than svB: shares of the remaining probability mass.
_OTHER_STATUS = (
    ["minijob", "selbststaendig", "ausbildung", "arbeitslos", "nicht_erwerbstaetig"],
    [0.15, 0.03, 0.12, 0.45, 0.25],
)
_SGB2_BY_STATUS = {
    "svb": 0.10,
    "minijob": 0.45,
    "selbststaendig": 0.15,
    "ausbildung": 0.35,
    "arbeitslos": 0.75,
    "nicht_erwerbstaetig": 0.60,
}
_ASSIGNMENTS = {
    # type: (weight, median hours)
    "familienbegleitung": (0.28, 3.0),
    "kursleitung": (0.12, 2.5),
    "dolmetschen": (0.20, 2.0),
    "arztbegleitung": (0.15, 2.5),
    "veranstaltungen": (0.15, 4.0),
    "projektunterstuetzung": (0.10, 3.0),
}
_EVENTS_PER_YEAR = {"mso_fortbildung": 6, "iko_training": 5, "kulturzentrum": 24, "sozialraum": 10}
_PARENT_GROUPS = ["Elterncafé Ehrenfeld", "Eltern-Kind-Gruppe Bickendorf"]


def _dates(
    rng: np.random.Generator, start: pd.Timestamp, days: np.ndarray | int, n: int | None = None
) -> pd.Series:
    offsets = rng.integers(0, np.maximum(days, 1), size=n) if n is not None else days
    return pd.Series(start + pd.to_timedelta(offsets, unit="D"))


def _choice(rng: np.random.Generator, options: dict[str, float] | tuple, size: int) -> np.ndarray:
    keys, weights = (
        (list(options), list(options.values())) if isinstance(options, dict) else options
    )
    weights = np.asarray(weights, dtype=float)
    return rng.choice(np.asarray(keys, dtype=object), size=size, p=weights / weights.sum())


def _month_start(ts: pd.Series) -> pd.Series:
    return ts.dt.to_period("M").dt.to_timestamp()


def _add_months(ts: pd.Series, months: float | np.ndarray) -> pd.Series:
    return ts + pd.to_timedelta(np.round(np.asarray(months) * DAYS_PER_MONTH), unit="D")


def _participants(rng: np.random.Generator, n: int = N_PARTICIPANTS) -> pd.DataFrame:
    years = _choice(rng, {y: w for y, w in _YEAR_WEIGHT.items()}, n).astype(int)
    first_contact = pd.Series(
        pd.to_datetime([f"{y}-01-01" for y in years])
        + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    )
    group = np.empty(n, dtype=object)
    for year, mix in _GROUP_MIX.items():
        idx = np.flatnonzero(years == year)
        group[idx] = _choice(rng, (list(labels.TARGET_GROUPS), mix), len(idx))
    country = np.empty(n, dtype=object)
    for g, spec in _COUNTRIES.items():
        idx = np.flatnonzero(group == g)
        country[idx] = _choice(rng, spec, len(idx))
    lag = np.where(group == "ukraine", rng.integers(0, 2, n), rng.integers(0, 9, n))
    arrival = np.where(group == "ukraine", np.maximum(years - lag, 2022), years - lag)
    age = rng.integers(18, 61, n)
    birth_year = (years - age).astype(float)
    birth_year[rng.random(n) < 0.03] = np.nan  # not recorded in some case files
    return pd.DataFrame(
        {
            "person_id": [f"P{i:05d}" for i in range(1, n + 1)],
            "birth_year": pd.array(birth_year, dtype="Int64"),
            "sex": _choice(rng, {"w": 0.56, "m": 0.43, "d": 0.01}, n),
            "target_group": group,
            "country_of_origin": country,
            "arrival_year": arrival.astype(int),
            "stadtteil": _choice(rng, _STADTTEIL_WEIGHTS, n),
            "referral_route": _choice(rng, _REFERRAL_WEIGHTS, n),
            "academic_degree": rng.random(n) < np.where(group == "ukraine", 0.5, 0.3),
            "first_contact": first_contact.dt.normalize(),
        }
    )


def _enrol(
    rng: np.random.Generator,
    people: pd.DataFrame,
    project: str,
    start: pd.Series,
    months: np.ndarray,
) -> pd.DataFrame:
    """Enrolments of ``people`` in ``project`` with entry ``start`` and planned length."""
    n = len(people)
    dropout = rng.random(n) < 0.15
    months = np.where(dropout, months * rng.uniform(0.2, 0.7, n), months)
    exit_date = _add_months(start.reset_index(drop=True), months)
    ongoing = exit_date > LAST_DAY
    return pd.DataFrame(
        {
            "person_id": people["person_id"].to_numpy(),
            "project": project,
            "entry_date": start.to_numpy(),
            "exit_date": exit_date.where(~ongoing).to_numpy(),
            "exit_reason": np.where(ongoing, None, np.where(dropout, "abbruch", "regulaer")),
        }
    )


def _labour_enrolments(rng: np.random.Generator, persons: pd.DataFrame) -> pd.DataFrame:
    n = len(persons)
    entry = persons["first_contact"] + pd.to_timedelta(rng.integers(0, 45, n), unit="D")
    u = rng.random(n)
    anerkennung = u < 0.42
    jobeinstieg = (u >= 0.30) & (u < 0.68)  # 0.30–0.42: both projects
    parts = [
        _enrol(
            rng,
            persons[anerkennung],
            "anerkennung",
            entry[anerkennung],
            rng.uniform(2, 12, anerkennung.sum()),
        )
    ]
    later = entry[jobeinstieg] + pd.to_timedelta(
        np.where(anerkennung[jobeinstieg], rng.integers(30, 180, jobeinstieg.sum()), 0), unit="D"
    )
    parts.append(
        _enrol(
            rng, persons[jobeinstieg], "jobeinstieg", later, rng.uniform(3, 12, jobeinstieg.sum())
        )
    )
    rest = ~(anerkennung | jobeinstieg)
    parts.append(
        _enrol(rng, persons[rest], "orientierung", entry[rest], rng.uniform(0.2, 2, rest.sum()))
    )
    return pd.concat(parts, ignore_index=True)


def _parent_groups() -> pd.DataFrame:
    rows = []
    for year in range(2019, 2026):
        for half, month in ((1, 2), (2, 9)):
            for g, name in enumerate(_PARENT_GROUPS, start=1):
                start = pd.Timestamp(year=year, month=month, day=1) + pd.Timedelta(days=7 * g)
                rows.append(
                    {
                        "cycle_id": f"EG{year}-{half}{g}",
                        "group_name": name,
                        "stadtteil": "401" if g == 1 else "403",
                        "start_date": start,
                        "end_date": start + pd.Timedelta(weeks=12),
                        "sessions_planned": 10,
                        # from 2023 on, oversubscribed cycles randomise a waiting list
                        "waitlist_design": year >= 2023,
                    }
                )
    return pd.DataFrame(rows)


def _parent_work(
    rng: np.random.Generator, parents: pd.DataFrame, cycles: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Assign parents to a group of the next cycle after first contact.

    ``cycles`` is ordered by half-year and group, two groups per half-year, so the row of
    the chosen cycle is ``2 * half_year_index + group``. Returns enrolments and surveys.
    """
    half_starts = np.sort(cycles["start_date"].dt.to_period("M").dt.to_timestamp().unique())
    pos = np.searchsorted(half_starts, parents["first_contact"].to_numpy())
    row = 2 * pos + rng.integers(0, 2, len(parents))
    cycle_ids = cycles["cycle_id"].to_numpy()[row]
    assigned = parents.assign(cycle_id=cycle_ids).merge(cycles, on="cycle_id")
    waitlist = assigned["waitlist_design"].to_numpy() & (rng.random(len(assigned)) < 0.3)
    attended = np.where(waitlist, 0, rng.binomial(10, rng.beta(6, 2, len(assigned))))
    dropout = (~waitlist) & (attended < 4)
    enrol = pd.DataFrame(
        {
            "person_id": assigned["person_id"],
            "project": "elternarbeit",
            "entry_date": assigned["start_date"],
            "exit_date": assigned["end_date"].where(assigned["end_date"] <= LAST_DAY),
            "exit_reason": np.where(
                assigned["end_date"] > LAST_DAY, None, np.where(dropout, "abbruch", "regulaer")
            ),
            "cycle_id": assigned["cycle_id"],
            "arm": np.where(waitlist, "wartegruppe", "teilnahme"),
            "sessions_attended": attended,
        }
    )
    return enrol, _surveys(rng, assigned, waitlist, attended)


def _surveys(
    rng: np.random.Generator, assigned: pd.DataFrame, waitlist: np.ndarray, attended: np.ndarray
) -> pd.DataFrame:
    n = len(assigned)
    # One-factor item model: item = round(3.5 + loading * theta + e), clipped to 1..6.
    k = len(FSW_ITEMS)
    loading = FSW_LOADING
    theta = rng.normal(0, 1, n)
    change = np.where(waitlist, PLANTED.fsw_change_waitlist, PLANTED.fsw_change_participants)
    theta_post = theta + change / loading + rng.normal(0, 0.3, n)
    has_young_child = rng.random(n) < 0.4
    post_done = assigned["end_date"] <= LAST_DAY
    p_missing_post = np.where(waitlist, 0.20, 0.08 + 0.5 * (attended < 5))
    responded = post_done.to_numpy() & (rng.random(n) >= p_missing_post)

    def wave(
        name: str, latent: np.ndarray, when: pd.Series, p_school: np.ndarray, mask: np.ndarray
    ) -> pd.DataFrame:
        items = np.clip(np.rint(3.5 + loading * latent[:, None] + rng.normal(0, 1, (n, k))), 1, 6)
        frame = pd.DataFrame(items.astype(int), columns=FSW_ITEMS)
        missing_item = rng.random((n, k)) < 0.01  # item nonresponse
        frame = frame.mask(missing_item).astype("Int64")
        frame.insert(0, "person_id", assigned["person_id"].to_numpy())
        frame.insert(1, "cycle_id", assigned["cycle_id"].to_numpy())
        frame.insert(2, "wave", name)
        frame.insert(
            3, "survey_date", (when + pd.to_timedelta(rng.integers(-3, 8, n), unit="D")).to_numpy()
        )
        frame["school_contact"] = rng.random(n) < p_school
        frame["parent_evening"] = rng.random(n) < p_school * 0.85
        kita = rng.random(n) < np.where(name == "pre", 0.55, np.where(waitlist, 0.55, 0.70))
        frame["kita_enrolled"] = pd.array(np.where(has_young_child, kita, pd.NA), dtype="boolean")
        frame["german_course"] = rng.random(n) < np.where(
            name == "pre", 0.40, np.where(waitlist, 0.40, 0.52)
        )
        return frame[mask]

    pre_p = np.full(n, PLANTED.school_contact_pre)
    post_p = np.where(waitlist, PLANTED.school_contact_pre, PLANTED.school_contact_post)
    pre = wave("pre", theta, assigned["start_date"], pre_p, np.ones(n, dtype=bool))
    post = wave("post", theta_post, assigned["end_date"], post_p, responded)
    return pd.concat([pre, post], ignore_index=True)


def _contacts(rng: np.random.Generator, enrolments: pd.DataFrame) -> pd.DataFrame:
    e = enrolments[enrolments["project"] != "elternarbeit"].reset_index(drop=True)
    end = e["exit_date"].fillna(LAST_DAY)
    months = ((end - e["entry_date"]).dt.days / DAYS_PER_MONTH).clip(lower=0.1)
    n_follow = rng.poisson(1.3 * months.to_numpy())
    idx = np.repeat(np.arange(len(e)), n_follow)
    span = (end - e["entry_date"]).dt.days.to_numpy()[idx]
    follow = pd.DataFrame(
        {
            "person_id": e["person_id"].to_numpy()[idx],
            "project": e["project"].to_numpy()[idx],
            "contact_date": e["entry_date"].to_numpy()[idx]
            + pd.to_timedelta(rng.integers(1, np.maximum(span, 2)), unit="D"),
            "kind": "folgekontakt",
        }
    )
    first = pd.DataFrame(
        {
            "person_id": e["person_id"],
            "project": e["project"],
            "contact_date": e["entry_date"],
            "kind": "erstkontakt",
        }
    )
    out = pd.concat([first, follow], ignore_index=True).sort_values(
        ["contact_date", "person_id"], kind="stable"
    )
    out["minutes"] = rng.choice([30, 45, 60, 90], size=len(out), p=[0.3, 0.35, 0.25, 0.1])
    out.insert(0, "contact_id", [f"K{i:06d}" for i in range(1, len(out) + 1)])
    return out.reset_index(drop=True)


def _time_trend(months: pd.Series) -> np.ndarray:
    """Common calendar effect on P(svB): a slow upward trend and the 2020 pandemic dip."""
    years = (months.dt.year - 2019) + (months.dt.month - 1) / 12
    covid = (months >= "2020-04-01") & (months <= "2020-12-01")
    return (0.01 * years - 0.04 * covid).to_numpy()


def _employment(
    rng: np.random.Generator, persons: pd.DataFrame, enrolments: pd.DataFrame
) -> pd.DataFrame:
    labour = enrolments[enrolments["project"].isin(["anerkennung", "jobeinstieg"])]
    spans = labour.groupby("person_id").agg(entry=("entry_date", "min"), exit=("exit_date", "max"))
    spans = spans.join(persons.set_index("person_id")[["target_group", "academic_degree"]])
    entry_month = _month_start(spans["entry"])
    first = entry_month - pd.DateOffset(months=12)
    exit_filled = spans["exit"].fillna(LAST_DAY)
    last = _month_start(_add_months(exit_filled, 12)).clip(upper=pd.Timestamp("2025-12-01"))
    n_months = (
        (last.dt.year - first.dt.year) * 12 + (last.dt.month - first.dt.month) + 1
    ).to_numpy()
    idx = np.repeat(np.arange(len(spans)), n_months)
    offset = np.arange(len(idx)) - np.repeat(np.cumsum(n_months) - n_months, n_months)
    month = pd.Series(first.to_numpy()[idx]) + pd.to_timedelta(0, unit="D")
    month = pd.Series(
        [m + pd.DateOffset(months=int(o)) for m, o in zip(month, offset, strict=True)]
    )
    event_month = offset - 12
    base = (
        0.06
        + spans["target_group"].map(_GROUP_EMPLOYMENT).to_numpy()
        + 0.08 * spans["academic_degree"].to_numpy()
        + rng.normal(0, 0.04, len(spans))
    ).clip(0.01, 0.40)
    p = base[idx] + _time_trend(month) + PLANTED.employment_effect(event_month)
    u = rng.random(len(idx))
    status = np.where(u < p, "svb", _choice(rng, _OTHER_STATUS, len(idx)))
    frame = pd.DataFrame(
        {"person_id": spans.index.to_numpy()[idx], "month": month, "status": status}
    )
    keep = rng.random(len(frame)) >= 0.04  # months with no record in the case file
    return frame[keep].reset_index(drop=True)


def _followups(
    rng: np.random.Generator, enrolments: pd.DataFrame, employment: pd.DataFrame
) -> pd.DataFrame:
    exits = enrolments[
        enrolments["project"].isin(["anerkennung", "jobeinstieg"]) & enrolments["exit_date"].notna()
    ]
    status = employment.set_index(["person_id", "month"])["status"]
    rows = []
    for months, reach in ((6, 0.80), (12, 0.70)):
        ref = _add_months(exits["exit_date"].reset_index(drop=True), months)
        due = (ref <= LAST_DAY).to_numpy()
        reached = due & (rng.random(len(exits)) < reach)
        part = exits.reset_index(drop=True)[reached][["enrolment_id", "person_id"]].copy()
        part["months_after_exit"] = months
        part["reference_date"] = ref[reached].to_numpy()
        key = pd.MultiIndex.from_arrays([part["person_id"], _month_start(part["reference_date"])])
        known = status.reindex(key).to_numpy()
        drawn = _choice(
            rng, (["svb", *_OTHER_STATUS[0]], [0.3, *np.multiply(_OTHER_STATUS[1], 0.7)]), len(part)
        )
        part["status"] = np.where(pd.isna(known), drawn, known)
        part["sgb2_receipt"] = (
            rng.random(len(part)) < part["status"].map(_SGB2_BY_STATUS).to_numpy()
        )
        rows.append(part)
    out = pd.concat(rows, ignore_index=True).sort_values(
        ["reference_date", "enrolment_id"], kind="stable"
    )
    return out.reset_index(drop=True)


def _recognition(
    rng: np.random.Generator, enrolments: pd.DataFrame, persons: pd.DataFrame
) -> pd.DataFrame:
    e = enrolments[enrolments["project"] == "anerkennung"]
    e = e[rng.random(len(e)) < 0.8].merge(
        persons[["person_id", "country_of_origin", "academic_degree"]], on="person_id"
    )
    n = len(e)
    prof = np.empty(n, dtype=int)
    for academic in (True, False):
        pool = [i for i, p in enumerate(_PROFESSIONS) if p[2] == academic]
        idx = np.flatnonzero(e["academic_degree"].to_numpy() == academic)
        prof[idx] = rng.choice(pool, size=len(idx))
    regulated = np.array([_PROFESSIONS[i][1] for i in prof])
    application = e["entry_date"] + pd.to_timedelta(rng.integers(14, 120, n), unit="D")
    mean = PLANTED.recognition_mean_months_nonregulated / np.where(
        regulated, PLANTED.recognition_hr_regulated, 1.0
    )
    decision_date = _add_months(application.reset_index(drop=True), rng.exponential(mean))
    decision = np.where(
        regulated, _choice(rng, _DECISIONS_REGULATED, n), _choice(rng, _DECISIONS_OPEN, n)
    )
    pending = (decision_date > LAST_DAY).to_numpy()
    applied = (application <= LAST_DAY).to_numpy()
    return pd.DataFrame(
        {
            "case_id": [f"A{i:05d}" for i in range(1, n + 1)],
            "person_id": e["person_id"],
            "reference_profession": [_PROFESSIONS[i][0] for i in prof],
            "regulated": regulated,
            "academic": [_PROFESSIONS[i][2] for i in prof],
            "country_of_training": e["country_of_origin"],
            "application_date": application.to_numpy(),
            "decision_date": decision_date.where(~pending).to_numpy(),
            "decision": np.where(pending, "offen", decision),
        }
    )[applied].reset_index(drop=True)


def _volunteers(rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    n_per_year = rng.poisson(45, 7)
    years = np.repeat(np.arange(2019, 2026), n_per_year)
    n = len(years)
    recruited = pd.Series(
        pd.to_datetime([f"{y}-01-01" for y in years])
        + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    )
    trained = rng.random(n) < 0.7
    trained_date = (recruited + pd.to_timedelta(rng.integers(14, 100, n), unit="D")).where(trained)
    left = _add_months(recruited, rng.exponential(np.where(trained, 24, 12)))
    vols = pd.DataFrame(
        {
            "volunteer_id": [f"E{i:04d}" for i in range(1, n + 1)],
            "migration_history": rng.random(n) < 0.55,
            "recruited_date": recruited,
            "qualification_date": trained_date.where(trained_date <= LAST_DAY),
            "left_date": left.where(left <= LAST_DAY),
        }
    )
    vols = vols[vols["qualification_date"].isna() | (vols["qualification_date"] <= LAST_DAY)]
    active_months = (
        (vols["left_date"].fillna(LAST_DAY) - vols["recruited_date"]).dt.days / DAYS_PER_MONTH
    ).to_numpy()
    counts = rng.poisson(1.5 * np.maximum(active_months, 0.2))
    idx = np.repeat(np.arange(len(vols)), counts)
    span = (vols["left_date"].fillna(LAST_DAY) - vols["recruited_date"]).dt.days.to_numpy()
    kinds = _choice(rng, {k: v[0] for k, v in _ASSIGNMENTS.items()}, len(idx))
    median_hours = np.array([_ASSIGNMENTS[k][1] for k in kinds])
    assignments = pd.DataFrame(
        {
            "volunteer_id": vols["volunteer_id"].to_numpy()[idx],
            "assignment_date": vols["recruited_date"].to_numpy()[idx]
            + pd.to_timedelta(rng.integers(0, np.maximum(span[idx], 1)), unit="D"),
            "assignment_type": kinds,
            "hours": np.round(median_hours * rng.lognormal(0, 0.4, len(idx)) * 4) / 4,
        }
    ).sort_values(["assignment_date", "volunteer_id"], kind="stable")
    return vols.reset_index(drop=True), assignments.reset_index(drop=True)


def _events(rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for year in range(2019, 2026):
        for kind, per_year in _EVENTS_PER_YEAR.items():
            count = rng.poisson(per_year * (0.5 if year == 2020 else 1.0))
            for day in np.sort(rng.integers(0, 365, count)):
                rows.append(
                    {
                        "event_date": pd.Timestamp(year=year, month=1, day=1)
                        + pd.Timedelta(days=int(day)),
                        "event_kind": kind,
                        "location": "Chorweiler" if kind == "kulturzentrum" else "Ehrenfeld",
                        "participants": int(
                            rng.poisson(40 if kind in ("kulturzentrum", "sozialraum") else 12)
                        ),
                        "partner_organisations": int(rng.integers(0, 5)),
                    }
                )
    out = pd.DataFrame(rows)
    out.insert(0, "event_id", [f"V{i:04d}" for i in range(1, len(out) + 1)])
    return out


_SOZIALRAUM_BASE = {
    # raum_id: (name, population 2019, foreign share, migration share, u18 migration share,
    #           SGB II share, unemployment share, single-parent share of households with children)
    "401": ("Ehrenfeld", 35_800, 0.20, 0.38, 0.52, 0.12, 0.075, 0.26),
    "402": ("Neuehrenfeld", 23_400, 0.14, 0.29, 0.41, 0.07, 0.052, 0.22),
    "403": ("Bickendorf", 17_200, 0.24, 0.47, 0.63, 0.19, 0.098, 0.31),
    "404": ("Vogelsang", 8_100, 0.17, 0.37, 0.50, 0.13, 0.071, 0.27),
    "405": ("Bocklemünd/Mengenich", 11_300, 0.23, 0.50, 0.66, 0.21, 0.101, 0.33),
    "406": ("Ossendorf", 12_400, 0.19, 0.41, 0.58, 0.15, 0.083, 0.29),
    "0": ("Köln", 1_091_800, 0.20, 0.40, 0.53, 0.12, 0.078, 0.27),
}
_SOZIALRAUM_ROWS = [
    # (tab_id, tabelle, zei_id, zeile, kind)
    ("T01", "Einwohnerinnen und Einwohner", "EW", "Einwohner insgesamt", "pop"),
    ("T01", "Einwohnerinnen und Einwohner", "U18", "unter 18 Jahre", "u18"),
    ("T01", "Einwohnerinnen und Einwohner", "65PLUS", "65 Jahre und älter", "65plus"),
    (
        "T02",
        "Nationalität und Migrationshintergrund",
        "AUSL",
        "Ausländerinnen und Ausländer",
        "foreign",
    ),
    (
        "T02",
        "Nationalität und Migrationshintergrund",
        "MIG",
        "Einwohner mit Migrationshintergrund",
        "mig",
    ),
    (
        "T02",
        "Nationalität und Migrationshintergrund",
        "MIG_U18",
        "unter 18-Jährige mit Migrationshintergrund",
        "mig_u18",
    ),
    ("T03", "Soziale Lage", "SGB2", "Personen in Bedarfsgemeinschaften nach SGB II", "sgb2"),
    ("T03", "Soziale Lage", "ALO", "Arbeitslose", "alo"),
    ("T04", "Haushalte", "HH_KIND", "Haushalte mit Kindern", "hh_kind"),
    ("T04", "Haushalte", "ALLEINERZ", "Haushalte von Alleinerziehenden", "single"),
]


def _sozialraum(rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for year in range(2019, 2026):
        t = year - 2019
        refugee_wave = 1.0 + 0.02 * max(0, year - 2021)
        for raum_id, (
            name,
            pop0,
            foreign,
            mig,
            mig_u18,
            sgb2,
            alo,
            single,
        ) in _SOZIALRAUM_BASE.items():
            pop = pop0 * (1 + 0.004 * t) * rng.normal(1, 0.002)
            u18 = pop * 0.16
            hh_kind = pop / 1.9 * 0.19
            values = {
                "pop": pop,
                "u18": u18,
                "65plus": pop * (0.16 + 0.001 * t),
                "foreign": pop * foreign * refugee_wave,
                "mig": pop * (mig + 0.004 * t) * refugee_wave,
                "mig_u18": u18 * (mig_u18 + 0.005 * t),
                "sgb2": pop * sgb2 * (1 - 0.01 * t) * (1.03 if year >= 2022 else 1.0),
                "alo": pop * 0.66 * alo * (1.08 if year == 2020 else 1.0),
                "hh_kind": hh_kind,
                "single": hh_kind * single,
            }
            for tab_id, tabelle, zei_id, zeile, kind in _SOZIALRAUM_ROWS:
                rows.append(
                    (tab_id, tabelle, year, raum_id, name, zei_id, zeile, int(round(values[kind])))
                )
    out = pd.DataFrame(
        rows, columns=["tab_id", "tabelle", "jahr", "raum_id", "raum", "zei_id", "zeile", "zahl"]
    )
    out.insert(0, "id", np.arange(1, len(out) + 1))
    return out


def generate(seed: int = SEED, *, participants: int = N_PARTICIPANTS) -> dict[str, pd.DataFrame]:
    """Generate the demo tables.

    Parameters
    ----------
    seed
        Seed of the random generator; the same seed gives identical tables.
    participants
        Number of persons (the size of the agency); the other tables follow from them
        (volunteers, events and the city's tables keep their size).

    Returns
    -------
    dict of str to DataFrame
        The tables listed in the module docstring, in their post-ingest form.
    """
    if participants < 1:
        raise ValueError(f"participants must be at least 1, not {participants}")
    rng = np.random.default_rng(seed)
    persons = _participants(rng, participants)
    cycles = _parent_groups()
    last_cycle = cycles["start_date"].dt.to_period("M").dt.to_timestamp().max()
    parent_share = (rng.random(len(persons)) < 0.22) & (
        persons["first_contact"] <= last_cycle
    ).to_numpy()
    parents, others = persons[parent_share], persons[~parent_share]
    parent_enrol, surveys = _parent_work(rng, parents, cycles)
    enrolments = pd.concat([_labour_enrolments(rng, others), parent_enrol], ignore_index=True)
    enrolments = enrolments[enrolments["entry_date"] <= LAST_DAY]
    enrolments = enrolments.sort_values(
        ["entry_date", "person_id", "project"], kind="stable"
    ).reset_index(drop=True)
    enrolments.insert(0, "enrolment_id", [f"T{i:05d}" for i in range(1, len(enrolments) + 1)])
    enrolments["sessions_attended"] = enrolments["sessions_attended"].astype("Int64")
    employment = _employment(rng, persons, enrolments)
    volunteers, assignments = _volunteers(rng)
    tables = {
        "participants": persons,
        "enrolments": enrolments,
        "contacts": _contacts(rng, enrolments),
        "employment_months": employment,
        "followups": _followups(rng, enrolments, employment),
        "recognition_cases": _recognition(rng, enrolments, persons),
        "parent_groups": cycles,
        "parent_surveys": surveys.sort_values(
            ["survey_date", "person_id"], kind="stable"
        ).reset_index(drop=True),
        "volunteers": volunteers,
        "volunteer_assignments": assignments,
        "events": _events(rng),
        "sozialraum": _sozialraum(rng),
    }
    return {name: _normalise_dates(df) for name, df in tables.items()}


def _normalise_dates(df: pd.DataFrame) -> pd.DataFrame:
    """Dates become day-precision timestamps (``datetime64[ns]``), nothing finer."""
    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = pd.to_datetime(out[col]).dt.normalize().astype("datetime64[ns]")
    return out


def as_of() -> date:
    """Last day covered by the demo data."""
    return LAST_DAY.date()
