"""Study: how far is a run's projected LTV from what the same users then did?

A run of ``short`` days reports an LTV over ``economics.ltv_days`` days of tenure: its
observed part plus a projected tail (docs/model.md, "The LTV tail"). A second run of the
same population and seed over ``short + ltv_days`` days steps the same users through the
same first ``short`` days (common random numbers: checked, cohort by cohort) and then
goes on, so the realised LTV of the short run's cohorts is known: the discounted margin
revenue of cohorts 0 … short−1 over tenure days 0 … ltv_days−1, per acquired user.
Organic runs (the presets' default strategy), one seed.

Usage:
    python experiments/ltv_accuracy/ltv_accuracy.py [--users 200000] [--seed 1] \
        [--cases 120:365,200:365,200:730,365:730] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from sim import simulate
from sim.analysis.economics import DAYS_PER_YEAR

#: The presets studied (conf/population).
POPULATIONS = ("consumer_app", "game", "ecommerce")
#: Run days : ltv_days pairs studied by default.
DEFAULT_CASES = "120:365,200:365,200:730,365:730"


def realised_ltv(long_run, short: int, ltv_days: int) -> float:
    """Discounted margin revenue per acquired user of cohorts 0 … short−1 over tenure days < ltv_days."""
    econ = long_run.config.economics
    tenure = np.arange(ltv_days)
    discount = (1.0 + econ.annual_discount_rate) ** (-tenure / DAYS_PER_YEAR)
    revenue = long_run.cohort_revenue[:short, :ltv_days]
    acquired = float(long_run.cohort_active[:short, 0].sum())
    return econ.margin * float((revenue * discount).sum()) / acquired


def same_first_days(short_run, long_run, short: int) -> bool:
    """Whether the long run's cohorts saw exactly the short run's days (a + n < short)."""
    a, b = short_run.cohort_active, long_run.cohort_active
    return all(np.array_equal(a[k, : short - k], b[k, : short - k]) for k in range(short))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200_000, help="market size of each run")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cases", default=DEFAULT_CASES, help="run days:ltv_days pairs, comma-separated")
    parser.add_argument("--populations", default=",".join(POPULATIONS))
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args()
    cases = [tuple(int(x) for x in case.split(":")) for case in args.cases.split(",")]
    rows = []
    started = time.perf_counter()
    print("| population | run days | ltv_days | T | observed part | projected LTV | realised LTV | error |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for population in args.populations.split(","):
        common = [
            f"population={population}",
            f"population.market_size={args.users}",
            f"seed={args.seed}",
            "progress=false",
            "figures=false",
        ]
        longest = max(short + ltv_days for short, ltv_days in cases)
        long_run = simulate([*common, f"horizon_days={longest}"])
        for short, ltv_days in cases:
            run = simulate([*common, f"horizon_days={short}", f"economics.ltv_days={ltv_days}"])
            if not same_first_days(run, long_run, short):
                raise SystemExit(f"{population}: the {longest}-day run did not repeat the first {short} days")
            got = run.summary["economics"]["ltv"]
            truth = realised_ltv(long_run, short, ltv_days)
            error = got["per_user"] / truth - 1.0
            rows.append(
                {
                    "population": population,
                    "run_days": short,
                    "ltv_days": ltv_days,
                    "rests_on_days": got["rests_on_days"],
                    "tail_projected": got["tail_projected"],
                    "observed": got["observed"],
                    "projected": got["per_user"],
                    "realised": truth,
                    "error": error,
                }
            )
            print(
                f"| {population} | {short} | {ltv_days} | {got['rests_on_days']} | {got['observed']:.3f} | "
                f"{got['per_user']:.3f}{'' if got['tail_projected'] else ' (no tail)'} | {truth:.3f} | {error:+.1%} |",
                flush=True,
            )
    errors = np.array([row["error"] for row in rows])
    print(
        f"\n{len(rows)} cases, {args.users:,} users, seed {args.seed}: mean error {errors.mean():+.1%}, "
        f"mean absolute error {np.abs(errors).mean():.1%}, from {errors.min():+.1%} to {errors.max():+.1%} "
        f"({time.perf_counter() - started:.0f} s)"
    )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"users": args.users, "seed": args.seed, "rows": rows}, fh, indent=2)


if __name__ == "__main__":
    main()
