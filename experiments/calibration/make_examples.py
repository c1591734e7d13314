"""Write the example input files of opsim-calibrate (run from the repository root).

* ``cohorts_example.csv`` — a cohort retention table (D0 … D30 of 30 daily cohorts)
  simulated from the ``game`` preset with seed 7, M = 200,000: calibrating to it
  should give back a curve close to the game preset's.
* ``new_users_example.csv`` — the same run's daily new users, days 0-59 (for ``--new-users``).
* ``survival_example.csv`` — the "Regular" cohort of Fader & Hardie (2007), "How to
  project customer retention", Journal of Interactive Marketing 21(1): 1000 customers,
  renewals over 7 years; their sBG fit is a = 0.704, b = 1.182.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sim import simulate

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
    alive = [1000, 631, 468, 382, 326, 289, 262, 241]
    pd.DataFrame({"period": range(8), "survival": [a / 1000 for a in alive], "cohort_size": 1000}).to_csv(
        HERE / "survival_example.csv", index=False
    )


if __name__ == "__main__":
    main()
