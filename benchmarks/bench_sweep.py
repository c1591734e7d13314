"""Sweep throughput: per-job overhead, and a 64-job sweep with 1 and 2 workers.

* overhead — a sweep of 16 tiny jobs (M = 1,000, 5 days) with the basic launcher:
  wall time per job is almost all per-job cost (Hydra job setup and config
  composition, writing the result folder);
* throughput — 64 jobs of M = 100,000 users over 180 days (seeds 0-63, organic
  baseline, no per-job figures), with Hydra's basic launcher (1 worker, in the
  parent process) and the joblib launcher with 2 workers; speed-up =
  wall(1 worker) / wall(2 workers);
* with ``--ray``, also Hydra's Ray launcher on a Ray instance it starts on this machine
  with 2 CPUs (``hydra/launcher=ray``; Ray's own start-up included);
* ceiling — the same 64 simulations (compose + simulate, nothing written) in a bare
  ``ProcessPoolExecutor`` with 1 and 2 processes: the speed-up the machine itself
  allows, so the sweep's own overhead can be told apart from the hardware's.

Every sweep number is wall time of the whole ``opsim -m`` command, start-up and
aggregation included. Timings on a shared virtual machine drift by ±20 % from one
minute to the next, so the configurations run in alternating rounds and the
tables give the median of the rounds (and every round in ``--json``).

Usage:
    python benchmarks/bench_sweep.py [--jobs 64] [--rounds 3] [--ray] [--json benchmarks/results/sweep.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

COMMON = [
    "figures=false",
    "record_events=false",
    "economics.marginal_roi=false",
    "economics.spend_response_multipliers=[]",
]
WORK = ["population.market_size=100000", "horizon_days=180"]


def sweep(args: list[str], folder: Path) -> float:
    """Wall time of one ``opsim -m`` command."""
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


def _simulate(seed: int) -> None:
    from sim.app.config import compose, load_config
    from sim.app.simulate import simulate

    simulate(load_config(compose([f"seed={seed}", *WORK, *COMMON])))


def ceiling(jobs: int, workers: int) -> float:
    """Wall time of the same simulations in a bare process pool (workers started and warmed first)."""
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_simulate, range(workers)))
        started = time.perf_counter()
        list(pool.map(_simulate, range(jobs)))
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; tables give the median")
    parser.add_argument("--ray", action="store_true", help="also time the Ray launcher (needs opsim[ray])")
    parser.add_argument("--json", help="also write every round to this JSON file")
    args = parser.parse_args()
    work = [f"seed=range(0,{args.jobs})", *WORK]
    runs: dict[str, list[float]] = {"overhead": [], "one": [], "two": [], "ceiling_one": [], "ceiling_two": []}
    if args.ray:
        runs["ray_two"] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for r in range(args.rounds):
            tiny = sweep(["seed=range(0,16)", "population.market_size=1000", "horizon_days=5"], root / f"tiny{r}")
            runs["overhead"].append(tiny / 16)
            runs["one"].append(sweep(work, root / f"one{r}"))
            runs["two"].append(sweep([*work, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"], root / f"two{r}"))
            if args.ray:
                ray = ["hydra/launcher=ray", "+hydra.launcher.ray.init.num_cpus=2"]
                runs["ray_two"].append(sweep([*work, *ray], root / f"ray{r}"))
            runs["ceiling_one"].append(ceiling(args.jobs, 1))
            runs["ceiling_two"].append(ceiling(args.jobs, 2))
            print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in runs.items()), flush=True)
    med = {k: statistics.median(v) for k, v in runs.items()}
    ratios = [a / b for a, b in zip(runs["one"], runs["two"], strict=True)]
    print(f"\nper-job overhead (16 jobs of M = 1,000, 5 days): {med['overhead']:.2f} s per job")
    print(
        f"\n| {args.jobs} jobs, M = 100,000, 180 days (median of {args.rounds}) | wall time | jobs/s | agent-days/s |"
    )
    print("|---|---:|---:|---:|")
    rows = [("1 worker (basic launcher)", med["one"]), ("2 workers (joblib launcher)", med["two"])]
    if args.ray:
        rows.append(("2 workers (Ray launcher, local Ray)", med["ray_two"]))
    for label, wall in rows:
        print(f"| {label} | {wall:.1f} s | {args.jobs / wall:.2f} | {args.jobs * 100_000 * 180 / wall:.3g} |")
    print(
        f"\nspeed-up with 2 workers: {med['one'] / med['two']:.2f}x (ratio of medians; per round: "
        + ", ".join(f"{x:.2f}x" for x in ratios)
        + ")"
    )
    print(
        f"machine ceiling (bare process pool, same simulations): {med['ceiling_one']:.1f} s vs "
        f"{med['ceiling_two']:.1f} s = {med['ceiling_one'] / med['ceiling_two']:.2f}x"
    )
    print(
        f"what the sweep adds to the bare pool: {med['one'] - med['ceiling_one']:.1f} s with 1 worker "
        f"({(med['one'] - med['ceiling_one']) / args.jobs:.2f} s a job), "
        f"{med['two'] - med['ceiling_two']:.1f} s with 2 workers"
    )
    if args.json:
        Path(args.json).write_text(json.dumps({"jobs": args.jobs, "rounds": runs, "median": med}, indent=2) + "\n")


if __name__ == "__main__":
    main()
