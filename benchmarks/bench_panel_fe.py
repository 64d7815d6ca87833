"""Benchmark: person + month fixed effects with clustered SEs on a large panel.

Fits ``y ~ x + person FE + month FE`` with SEs clustered by person, for

- linearmodels ``PanelOLS`` (entity_effects + time_effects, cov_type="clustered"),
- pyfixest ``feols("y ~ x | person + month", vcov={"CRV1": "person"})`` (if installed),
- naive dummy-variable OLS in statsmodels (``y ~ x + C(person) + C(month)``), which builds a
  dense design matrix with one column per person and so only works for small panels.

Each variant runs in its own subprocess, so the peak resident memory (``ru_maxrss`` of the
child) is that variant's alone; a variant that exceeds the timeout or the memory cap is
reported as failed. Run::

    .venv/bin/python benchmarks/bench_panel_fe.py            # 100,000 persons x 10 months
    .venv/bin/python benchmarks/bench_panel_fe.py --persons 20000 --dummy-sizes 1000 2000

Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
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


def fit_linearmodels(df):
    from linearmodels.panel import PanelOLS

    data = df.set_index(["person", "month"])
    res = PanelOLS(data["y"], data[["x"]], entity_effects=True, time_effects=True).fit(
        cov_type="clustered", cluster_entity=True
    )
    return float(res.params["x"]), float(res.std_errors["x"])


def fit_pyfixest(df):
    import pyfixest as pf

    res = pf.feols("y ~ x | person + month", data=df, vcov={"CRV1": "person"})
    return float(res.coef()["x"]), float(res.se()["x"])


def fit_dummies(df):
    import statsmodels.formula.api as smf

    res = smf.ols("y ~ x + C(person) + C(month)", df).fit(
        cov_type="cluster", cov_kwds={"groups": df["person"].to_numpy()}
    )
    return float(res.params["x"]), float(res.bse["x"])


VARIANTS = {
    "linearmodels": fit_linearmodels,
    "pyfixest": fit_pyfixest,
    "statsmodels-dummies": fit_dummies,
}


def child(variant: str, persons: int, months: int, mem_cap_gb: float) -> None:
    """Run one variant and print a JSON line with timings and peak memory."""
    cap = int(mem_cap_gb * 1024**3)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    df = make_panel(persons, months)
    start = time.perf_counter()
    beta, se = VARIANTS[variant](df)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"beta": beta, "se": se, "seconds": seconds, "peak_mb": peak_mb}))


def run(variant: str, persons: int, months: int, timeout: float, mem_cap_gb: float) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        variant,
        "--persons",
        str(persons),
        "--months",
        str(months),
        "--mem-cap-gb",
        str(mem_cap_gb),
    ]
    row = {"variant": variant, "persons": persons, "rows": persons * months}
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return row | {"status": f"timeout > {timeout:.0f} s"}
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["?"])[-1]
        return row | {"status": f"failed: {last[:80]}"}
    return row | json.loads(out.stdout.strip().splitlines()[-1]) | {"status": "ok"}


def markdown(rows: list[dict]) -> str:
    lines = [
        "| variant | persons | rows | wall time (s) | peak RSS (MB) | beta | SE | status |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        if r["status"] == "ok":
            lines.append(
                f"| {r['variant']} | {r['persons']:,} | {r['rows']:,} | {r['seconds']:.2f} | "
                f"{r['peak_mb']:.0f} | {r['beta']:.4f} | {r['se']:.4f} | ok |"
            )
        else:
            lines.append(
                f"| {r['variant']} | {r['persons']:,} | {r['rows']:,} | – | – | – | – | {r['status']} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=10)
    parser.add_argument("--dummy-sizes", type=int, nargs="*", default=[1_000, 2_000, 5_000, 10_000])
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--mem-cap-gb", type=float, default=16)
    parser.add_argument("--child", choices=sorted(VARIANTS))
    args = parser.parse_args()
    if args.child:
        child(args.child, args.persons, args.months, args.mem_cap_gb)
        return
    rows = []
    for variant in ("linearmodels", "pyfixest"):
        rows.append(run(variant, args.persons, args.months, args.timeout, args.mem_cap_gb))
    for persons in args.dummy_sizes:
        rows.append(run("statsmodels-dummies", persons, args.months, args.timeout, args.mem_cap_gb))
        if rows[-1]["status"] != "ok":
            break  # larger sizes fail too
    print(markdown(rows))


if __name__ == "__main__":
    main()
