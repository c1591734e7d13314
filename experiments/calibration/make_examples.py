"""Write the example input files of opsim-calibrate (run from the repository root).

* ``cohorts_example.csv`` — a cohort retention table (D0 … D30 of 30 daily cohorts)
  simulated from the ``game`` preset with seed 7, M = 200,000: calibrating to it
  should give back a curve close to the game preset's.
* ``new_users_example.csv`` — the same run's daily new users, days 0-59 (for ``--new-users``).
* ``wide_export_example.csv`` — a wide cohort export as Amplitude or Mixpanel write it
  (``Date, Users, Day 0 … Day 30``, percentages, the triangle's corner empty): 60 daily
  cohorts of the ``ecommerce`` preset (weekly visit pattern) from 2024-01-01, a Monday,
  exported on day 60; seed 3.
* ``push_ab.yaml`` — an A/B test of two pushes a week on ``consumer_app`` users with
  ``visit_lift`` = 0.8: 50,000 users per arm, each arm simulated with its own seed (21
  and 22, as two random halves of real users would be), D7 measured.
* ``survival_example.csv`` — the "Regular" cohort of Fader & Hardie (2007), "How to
  project customer retention", Journal of Interactive Marketing 21(1): 1000 customers,
  renewals over 7 years; their sBG fit is a = 0.704, b = 1.182.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sim import load_config, simulate
from sim.core.cohorts import simulate_cohorts
from sim.levers.push import Push, PushConfig

HERE = Path(__file__).resolve().parent


def main() -> None:
    result = simulate(
        ["population=game", "population.market_size=200000", "horizon_days=61", "seed=7", "progress=false"]
    )
    cohorts = result.cohorts
    cohorts = cohorts[(cohorts.cohort_day < 30) & (cohorts.day_n <= 30)]
    table = pd.DataFrame(
        {
            "cohort": "2026-01-" + (cohorts.cohort_day + 1).astype(str).str.zfill(2),
            "day": cohorts.day_n,
            "cohort_size": cohorts.cohort_size,
            "active": cohorts.active,
        }
    )
    table.to_csv(HERE / "cohorts_example.csv", index=False)
    new = result.daily[["day", "new_users"]].iloc[:60]
    new.to_csv(HERE / "new_users_example.csv", index=False)
    wide_export()
    push_ab()
    alive = [1000, 631, 468, 382, 326, 289, 262, 241]
    pd.DataFrame({"period": range(8), "survival": [a / 1000 for a in alive], "cohort_size": 1000}).to_csv(
        HERE / "survival_example.csv", index=False
    )


def wide_export() -> None:
    days = 60
    result = simulate(
        [
            "population=ecommerce",
            "population.market_size=100000",
            "population.sample_size=null",
            "population.awareness.p=0.003",
            "population.awareness.q=0",
            "population.conversion_rate=0.2",
            f"horizon_days={days}",
            "seed=3",
            "progress=false",
            "figures=false",
            "record_events=false",
            "economics.compare_to_baseline=false",
            "economics.marginal_roi=false",
            "economics.spend_response_multipliers=[]",
        ]
    )
    c = result.cohorts
    share = c.pivot(index="cohort_day", columns="day_n", values="active_share").iloc[:, :31]
    size = c[c.day_n == 0].set_index("cohort_day")["cohort_size"].astype(int)
    out = pd.DataFrame(
        {"Date": (pd.Timestamp("2024-01-01") + pd.to_timedelta(share.index, unit="D")).strftime("%Y-%m-%d")}
    )
    out["Users"] = size.loc[share.index].to_numpy()
    for n in share.columns:
        out[f"Day {n}"] = [f"{100 * v:.2f}%" if np.isfinite(v) else "" for v in share[n]]
    out.to_csv(HERE / "wide_export_example.csv", index=False)


def push_ab() -> None:
    population = load_config(["population=consumer_app"]).population
    users, day = 50_000, 7

    def d7(levers, seed: int) -> float:
        run = simulate_cohorts(population, users, day, seed, levers=levers, record_activity=False)
        return float(run.cohort_active[:, day].sum() / run.cohort_active[:, 0].sum())

    control = d7((), 21)
    treatment = d7([Push("push", PushConfig(enabled=True, messages_per_week=2, visit_lift=0.8))], 22)
    text = (HERE / "push_ab.yaml").read_text(encoding="utf-8")
    head = text[: text.index("metrics:")]
    body = (
        "metrics:\n"
        "  - metric: d7               # classic retention on day 7: value is a share\n"
        f"    control: {{users: {users}, value: {control:.4f}}}\n"
        f"    treatment: {{users: {users}, value: {treatment:.4f}}}\n"
    )
    (HERE / "push_ab.yaml").write_text(head + body, encoding="utf-8")


if __name__ == "__main__":
    main()
