"""Sweep throughput: per-job overhead, and a 64-job sweep with 1 and 2 workers.

* overhead — a sweep of 16 tiny jobs (M = 1,000, 5 days): wall time per job is
  almost all per-job cost (Hydra job setup, config checks, writing the result folder);
* throughput — 64 jobs of M = 100,000 users over 180 days (seeds 0-63, organic
  baseline, no figures), with Hydra's basic launcher (1 worker) and the joblib
  launcher with 2 workers; speed-up = wall(1) / wall(2).

Every number is wall time of the whole ``opsim -m`` command, start-up included.

Usage:
    python benchmarks/bench_sweep.py [--jobs 64]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMON = [
    "figures=false",
    "record_events=false",
    "economics.marginal_roi=false",
    "economics.spend_response_multipliers=[]",
]


def sweep(args: list[str], folder: Path) -> float:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "sim", "-m", *args, *COMMON, f"hydra.sweep.dir={folder}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        tiny = sweep(["seed=range(0,16)", "population.market_size=1000", "horizon_days=5"], root / "tiny")
        work = [f"seed=range(0,{args.jobs})", "population.market_size=100000", "horizon_days=180"]
        one = sweep(work, root / "one")
        two = sweep([*work, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"], root / "two")
    print(f"per-job overhead (16 jobs of M = 1,000, 5 days): {tiny / 16:.2f} s per job ({tiny:.1f} s in all)")
    print(f"\n| {args.jobs} jobs, M = 100,000, 180 days | wall time | jobs/s | agent-days/s |")
    print("|---|---:|---:|---:|")
    for label, wall in (("1 worker (basic launcher)", one), ("2 workers (joblib launcher)", two)):
        print(f"| {label} | {wall:.1f} s | {args.jobs / wall:.2f} | {args.jobs * 100_000 * 180 / wall:.3g} |")
    print(f"\nspeed-up with 2 workers: {one / two:.2f}x")


if __name__ == "__main__":
    main()
