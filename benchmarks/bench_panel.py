"""Benchmark: ``evaluation.estimators.panel_fe`` against pyfixest and linearmodels.

Fits ``y ~ x + person FE + month FE`` with SEs clustered by person on a balanced panel
(default 100,000 persons x 10 months = 1,000,000 person-months) with

- ``panel_fe`` (this package: input checks, pyfixest ``feols`` with fixest's small-sample
  conventions, tidy table),
- pyfixest ``feols("y ~ x | person + month", vcov={"CRV1": "person"})`` called directly,
- linearmodels ``PanelOLS`` (the backend before pyfixest).

The variants run interleaved in one process (imports done first, one warm-up fit each), in
``--rounds`` rounds; the table shows the median wall time per variant and its ratio to
pyfixest, plus coefficient and SE (panel_fe and pyfixest agree exactly; PanelOLS differs in
the last digits of the SE because it counts K differently). Run::

    .venv/bin/python benchmarks/bench_panel.py                  # 1,000,000 rows, 3 rounds
    .venv/bin/python benchmarks/bench_panel.py --persons 20000 --rounds 5

Prints a markdown table. Goal (issue 13): ``panel_fe`` at most 1.5x pyfixest.
"""

from __future__ import annotations

import argparse
import statistics
import time

SEED = 12345
TRUE_BETA = 0.5


def make_panel(persons: int, months: int):
    """Balanced panel with person and month effects correlated with x (so FE matter)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(SEED)
    person = np.repeat(np.arange(persons), months)
    month = np.tile(np.arange(months), persons)
    alpha = rng.normal(0, 1, persons)[person]
    lam = np.linspace(0, 1, months)[month]
    x = 0.5 * alpha + 0.3 * lam + rng.normal(0, 1, persons * months)
    y = TRUE_BETA * x + alpha + lam + rng.normal(0, 1, persons * months)
    return pd.DataFrame({"person": person, "month": month, "x": x, "y": y})


def fit_panel_fe(df):
    from evaluation.estimators import panel_fe

    row = panel_fe(df, outcome="y", regressors=["x"], entity="person", time="month").tidy()
    return float(row.loc[0, "estimate"]), float(row.loc[0, "std_error"])


def fit_pyfixest(df):
    import pyfixest as pf

    res = pf.feols("y ~ x | person + month", data=df, vcov={"CRV1": "person"})
    return float(res.coef()["x"]), float(res.se()["x"])


def fit_linearmodels(df):
    from linearmodels.panel import PanelOLS

    data = df.set_index(["person", "month"])
    res = PanelOLS(data["y"], data[["x"]], entity_effects=True, time_effects=True).fit(
        cov_type="clustered", cluster_entity=True
    )
    return float(res.params["x"]), float(res.std_errors["x"])


VARIANTS = {
    "panel_fe": fit_panel_fe,
    "pyfixest": fit_pyfixest,
    "linearmodels": fit_linearmodels,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip", nargs="*", default=[], choices=sorted(VARIANTS))
    args = parser.parse_args()
    df = make_panel(args.persons, args.months)
    variants = {k: v for k, v in VARIANTS.items() if k not in args.skip}
    small = df[df["person"] < 1000]
    for fit in variants.values():  # imports and warm-up outside the timings
        fit(small)
    times: dict[str, list[float]] = {k: [] for k in variants}
    results: dict[str, tuple[float, float]] = {}
    for _ in range(args.rounds):
        for name, fit in variants.items():
            start = time.perf_counter()
            results[name] = fit(df)
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times["pyfixest"]) if "pyfixest" in times else float("nan")
    print(
        f"{args.persons:,} persons x {args.months} months = {len(df):,} rows, "
        f"median of {args.rounds} interleaved rounds\n"
    )
    print("| variant | wall time (s) | x pyfixest | beta | SE (clustered) |")
    print("|---|---:|---:|---:|---:|")
    for name in variants:
        med = statistics.median(times[name])
        beta, se = results[name]
        print(f"| {name} | {med:.2f} | {med / base:.2f} | {beta:.6f} | {se:.6f} |")


if __name__ == "__main__":
    main()
