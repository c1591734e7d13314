"""Time a calibration of a 30-day cohort table (``python benchmarks/bench_calibrate.py``).

Runs ``opsim-calibrate``'s calibration on ``experiments/calibration/cohorts_example.csv``
(30 daily cohorts of the game preset, D0 … D30) with the default settings (40,000
simulated users per evaluation, forecast to day 90) and prints the wall time, the
simulations run and the fit. The target is 60 s on the 2-core reference machine. The
machine's other load changes the result: run it on an idle machine, and read a busy
one's figure as an upper bound.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from sim.analysis.retention_data import read_retention_csv
from sim.app.calibrate import DEFAULT_COHORT_USERS, calibrate_population

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "experiments" / "calibration" / "cohorts_example.csv"
TARGET_SECONDS = 60.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohort-users", type=int, default=DEFAULT_COHORT_USERS)
    parser.add_argument("--json", help="also write the result to this JSON file")
    args = parser.parse_args()
    data = read_retention_csv(TABLE)
    load = os.getloadavg()[0]
    wall, cpu = time.perf_counter(), time.process_time()
    cal = calibrate_population(data, base="game", market_size=200_000, cohort_users=args.cohort_users)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    s = cal.to_dict()
    result = {
        "table": str(TABLE.relative_to(ROOT)),
        "cohort_users": args.cohort_users,
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(cpu, 1),
        "load_average_before": round(load, 2),
        "segment_simulations": s["simulations"],
        "rmse": round(s["rmse"], 5),
        "chi2": round(s["chi2"], 1),
        "chi2_expected": round(s["chi2_expected"], 1),
        "target_seconds": TARGET_SECONDS,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    }
    print(
        f"30-day table, {args.cohort_users:,} simulated users per evaluation: {wall:.1f} s wall "
        f"({cpu:.1f} s CPU, load average {load:.1f} before), {s['simulations']} segment simulations, "
        f"RMSE {s['rmse']:.4f}; target {TARGET_SECONDS:.0f} s: {'met' if wall <= TARGET_SECONDS else 'NOT met'}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
