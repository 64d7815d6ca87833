"""Shape of the results and error messages for bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation import estimators as est


@pytest.fixture
def trial() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = 200
    d = rng.integers(0, 2, n)
    pre = rng.normal(3, 1, n)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "d": d,
            "pre": pre,
            "post": pre + 0.3 * d + rng.normal(0, 0.5, n),
            "x": rng.normal(size=n),
            "group": rng.integers(0, 10, n),
            "arm": np.where(d, "A", "B"),
            "time": rng.exponential(5, n),
            "event": rng.integers(0, 2, n),
            **{f"i{k}": pre + rng.normal(0, 1, n) for k in range(4)},
        }
    )


def _long(trial: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([trial.assign(y=trial["pre"], t=0), trial.assign(y=trial["post"], t=1)])


def _all_results(trial):
    long = _long(trial)
    yield est.difference_in_means(trial, outcome="post", treatment="d", covariates=["pre"])
    yield est.prepost(trial, pre="pre", post="post")
    yield est.cronbach_alpha(trial, items=["i0", "i1", "i2", "i3"])
    yield est.did(long, outcome="y", treatment="d", post="t", cluster="id")
    yield est.panel_fe(
        long.assign(dt=long["d"] * long["t"]), outcome="y", regressors=["dt"], entity="id", time="t"
    )
    yield est.balance(trial, treatment="d", covariates=["pre", "x"])
    yield est.ipw(trial, outcome="post", treatment="d", covariates=["pre", "x"])
    yield est.survival(trial, duration="time", event="event", group="d", covariates=["x"])
    yield est.ancova(trial, outcome="post", baseline="pre", treatment="d", cluster="group")
    yield est.itt_multiple_imputation(
        trial.assign(post=trial["post"].where(trial["x"] < 1)),
        outcome="post",
        baseline="pre",
        treatment="d",
        imputations=3,
    )
    yield est.attrition_bounds(
        trial.assign(post=trial["post"].where(trial["x"] < 1)),
        outcome="post",
        treatment="d",
        reps=99,
    )
    yield est.difference_of_proportions(30, 100, 20, 100)
    yield est.difference_of_means(trial["post"], trial["pre"])


def test_results_share_the_interface(trial):
    for res in _all_results(trial):
        tidy = res.tidy()
        assert list(tidy.columns[:7]) == est.TIDY_COLUMNS, res.estimator
        assert len(tidy) >= 1
        assert isinstance(res.summary(), str)
        assert "<table" in res._repr_html_()
        assert res.nobs > 0
        assert res.result is not None


def test_german_labels(trial):
    res = est.difference_in_means(trial, outcome="post", treatment="d", labels="de")
    assert "Schätzwert" in res._repr_html_()
    assert "Estimate" in res.with_labels("en")._repr_html_()


def test_difference_in_means_equals_group_means(trial):
    res = est.difference_in_means(trial, outcome="post", treatment="d")
    means = trial.groupby("d")["post"].mean()
    assert res.tidy().loc[0, "estimate"] == pytest.approx(means[1] - means[0])
    hc2 = est.difference_in_means(trial, outcome="post", treatment="d", cov_type="HC2")
    welch_se = np.sqrt(sum(trial.groupby("d")["post"].var() / trial.groupby("d").size()))
    assert hc2.tidy().loc[0, "std_error"] == pytest.approx(welch_se)


def test_did_means_table_matches_regression(trial):
    res = est.did(_long(trial), outcome="y", treatment="d", post="t", cluster="id")
    assert res.means_table.loc["difference", "change"] == pytest.approx(
        res.tidy().loc[0, "estimate"]
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda df: est.difference_in_means(df, outcome="nope", treatment="d"),
        lambda df: est.prepost(df, pre="pre", post="nope"),
        lambda df: est.cronbach_alpha(df, items=["i0", "nope"]),
        lambda df: est.did(df, outcome="post", treatment="d", post="nope", cluster="id"),
        lambda df: est.balance(df, treatment="d", covariates=["nope"]),
        lambda df: est.survival(df, duration="nope", event="event"),
        lambda df: est.panel_fe(
            _long(df), outcome="y", regressors=["d"], entity="id", time="t", absorb=["nope"]
        ),
        lambda df: est.ancova(df, outcome="post", baseline="nope", treatment="d"),
        lambda df: est.consort_flow(df, arm="arm", before="pre", after="nope"),
        lambda df: est.attrition_bounds(df, outcome="nope", treatment="d"),
    ],
)
def test_missing_column_is_named(trial, call):
    with pytest.raises(KeyError, match="'nope'"):
        call(trial)


@pytest.mark.parametrize(
    "call",
    [
        lambda df: est.difference_in_means(df, outcome="post", treatment="arm"),
        lambda df: est.difference_in_means(df, outcome="post", treatment="group"),
        lambda df: est.ipw(df, outcome="post", treatment="group", covariates=["x"]),
        lambda df: est.balance(df, treatment="arm", covariates=["x"]),
        lambda df: est.did(df, outcome="post", treatment="group", post="d", cov_type="HC1"),
    ],
)
def test_non_binary_treatment_is_rejected(trial, call):
    with pytest.raises(ValueError, match="must be binary"):
        call(trial)


def test_panel_fe_names_a_regressor_absorbed_by_the_fixed_effects(trial):
    long = _long(trial).assign(dt=lambda d: d["d"] * d["t"])
    with pytest.raises(ValueError, match="'d' .*collinear"):
        est.panel_fe(long, outcome="y", regressors=["dt", "d"], entity="id", time="t")


def test_panel_fe_rejects_duplicate_entity_periods(trial):
    long = _long(trial)
    with pytest.raises(ValueError, match="more than one row per 'id' and 't'"):
        est.panel_fe(
            pd.concat([long, long.iloc[:1]]), outcome="y", regressors=["x"], entity="id", time="t"
        )
    with pytest.raises(ValueError, match="cov_type"):
        est.panel_fe(long, outcome="y", regressors=["x"], entity="id", time="t", cov_type="HC9")


def test_panel_fe_keeps_the_library_result_and_its_methods(trial):
    long = _long(trial).assign(dt=lambda d: d["d"] * d["t"])
    res = est.panel_fe(long, outcome="y", regressors=["dt"], entity="id", time="t")
    assert res.result.coef()["x0"] == pytest.approx(res.tidy().loc[0, "estimate"])
    assert res.params == {"dt": "x0"}
    assert "K = " in res.notes[1]


def test_did_cluster_required(trial):
    with pytest.raises(ValueError, match="needs cluster"):
        est.did(_long(trial), outcome="y", treatment="d", post="t")


def test_not_a_dataframe():
    with pytest.raises(TypeError, match="DataFrame"):
        est.prepost({"a": [1]}, pre="a", post="a")


def test_event_study_input_checks():
    df = pd.DataFrame(
        {"u": [1, 1, 2, 2], "t": [1, 2, 1, 2], "y": [0.0, 1, 0, 0], "g": [2, 3, 0, 0]}
    )
    with pytest.raises(ValueError, match="constant within"):
        est.event_study(df, outcome="y", unit="u", time="t", cohort="g")
    with pytest.raises(ValueError, match="never enter"):
        est.event_study(
            df.assign(g=[2, 2, 2, 2]),
            outcome="y",
            unit="u",
            time="t",
            cohort="g",
            comparison="never_treated",
        )
