"""Sweep throughput: per-job set-up (target 5: <= 0.15 s), and a 64-job sweep with 1 and 2 workers (>= 1.8x).

* overhead — a sweep of 16 tiny jobs (M = 1,000, 5 days) with the basic launcher:
  wall time of the whole command per job (start-up and aggregation included);
* per-job set-up — what one more job adds to a sweep, less that job's own work:
  (wall(48 tiny jobs) - wall(16 tiny jobs)) / 32, minus the median time of the same
  tiny simulation and result folder done in a warm process (``simulate`` + ``save``).
  What is left is Hydra's and opsim's per-job set-up: the job's config, its folder and
  ``.hydra`` records, logging, ``job.json``, the completion check;
* throughput — 64 jobs of M = 100,000 users over 180 days (seeds 0-63, organic
  baseline, no per-job figures), with Hydra's basic launcher (1 worker, in the
  parent process) and the joblib launcher with 2 workers; speed-up =
  wall(1 worker) / wall(2 workers). Every job steps on one thread (``threads=1``), so
  that the speed-up is the launcher's: with the default ``threads=0`` a 1-worker sweep
  already uses every core for each job (the README gives that figure too);
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
    python benchmarks/bench_sweep.py [--jobs 64] [--rounds 3] [--ray] [--quick] [--json benchmarks/results/sweep.json]

``--quick`` measures the per-job set-up only (a minute or two).
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
    # one thread per job: the benchmark measures what the launcher's workers add. With the
    # default (threads=0), a 1-worker sweep already steps each job on every core.
    "threads=1",
]
WORK = ["population.market_size=100000", "horizon_days=180"]
TINY = ["population.market_size=1000", "horizon_days=5"]
#: Target 5: per-job set-up at most this many seconds, and 2 workers at least this speed-up.
SETUP_TARGET_S = 0.15
SPEEDUP_TARGET = 1.8
#: Tiny sweeps whose difference gives the marginal cost of a job.
FEW_JOBS, MANY_JOBS = 16, 48


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


def tiny_job_work(repeats: int = 10) -> float:
    """Median seconds of one tiny job's own work in a warm process: simulate and write its folder."""
    from sim.app.config import compose, load_config
    from sim.app.simulate import simulate

    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats + 1):
            started = time.perf_counter()
            result = simulate(load_config(compose([f"seed={i}", *TINY, *COMMON])))
            result.save(Path(tmp) / str(i))
            times.append(time.perf_counter() - started)
    return statistics.median(times[1:])  # the first pays the imports


def measure(jobs: int = 64, rounds: int = 3, ray: bool = False, quick: bool = False) -> dict:
    """Every sweep figure: per round, and the medians (seconds; see the module docstring)."""
    work = [f"seed=range(0,{jobs})", *WORK]
    runs: dict[str, list[float]] = {"overhead": [], "marginal": []}
    if not quick:
        runs |= {"one": [], "two": [], "ceiling_one": [], "ceiling_two": []}
    if ray and not quick:
        runs["ray_two"] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for r in range(rounds):
            few = sweep([f"seed=range(0,{FEW_JOBS})", *TINY], root / f"few{r}")
            many = sweep([f"seed=range(0,{MANY_JOBS})", *TINY], root / f"many{r}")
            runs["overhead"].append(few / FEW_JOBS)
            runs["marginal"].append((many - few) / (MANY_JOBS - FEW_JOBS))
            if not quick:
                runs["one"].append(sweep(work, root / f"one{r}"))
                runs["two"].append(sweep([*work, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"], root / f"two{r}"))
                if ray:
                    ray_args = ["hydra/launcher=ray", "+hydra.launcher.ray.init.num_cpus=2"]
                    runs["ray_two"].append(sweep([*work, *ray_args], root / f"ray{r}"))
                runs["ceiling_one"].append(ceiling(jobs, 1))
                runs["ceiling_two"].append(ceiling(jobs, 2))
            print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in runs.items()), flush=True)
    med = {k: statistics.median(v) for k, v in runs.items()}
    med["tiny_job_work"] = tiny_job_work()
    med["setup"] = med["marginal"] - med["tiny_job_work"]
    return {"jobs": jobs, "rounds": runs, "median": med}


def report(result: dict) -> str:
    """The figures as text, each next to its target."""
    med, runs, jobs = result["median"], result["rounds"], result["jobs"]
    lines = [
        f"per-job overhead (16 jobs of M = 1,000, 5 days, whole command / 16): {med['overhead']:.2f} s per job",
        f"one more tiny job: {med['marginal']:.3f} s, of which its own work (simulate + save) {med['tiny_job_work']:.3f} s",
        f"per-job set-up = {med['setup']:.2f} s (target <= {SETUP_TARGET_S:.2f}; a value near 0 is within the noise: "
        f"a tiny job adds {med['marginal']:.2f} s in all, its own work included)",
    ]
    if "one" not in med:
        return "\n".join(lines)
    rounds = len(runs["one"])
    lines += [
        "",
        f"| {jobs} jobs, M = 100,000, 180 days (median of {rounds}) | wall time | jobs/s | agent-days/s |",
        "|---|---:|---:|---:|",
    ]
    rows = [("1 worker (basic launcher)", med["one"]), ("2 workers (joblib launcher)", med["two"])]
    if "ray_two" in med:
        rows.append(("2 workers (Ray launcher, local Ray)", med["ray_two"]))
    for label, wall in rows:
        lines.append(f"| {label} | {wall:.1f} s | {jobs / wall:.2f} | {jobs * 100_000 * 180 / wall:.3g} |")
    ratios = [a / b for a, b in zip(runs["one"], runs["two"], strict=True)]
    ceiling_ratio = med["ceiling_one"] / med["ceiling_two"]
    lines += [
        "",
        f"2 workers = {med['one'] / med['two']:.2f}x (target >= {SPEEDUP_TARGET}x; machine ceiling {ceiling_ratio:.2f}x); "
        "per round: " + ", ".join(f"{x:.2f}x" for x in ratios),
        f"machine ceiling (bare process pool, same simulations): {med['ceiling_one']:.1f} s vs "
        f"{med['ceiling_two']:.1f} s = {ceiling_ratio:.2f}x",
        f"what the sweep adds to the bare pool: {med['one'] - med['ceiling_one']:.1f} s with 1 worker "
        f"({(med['one'] - med['ceiling_one']) / jobs:.2f} s a job), "
        f"{med['two'] - med['ceiling_two']:.1f} s with 2 workers",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; tables give the median")
    parser.add_argument("--ray", action="store_true", help="also time the Ray launcher (needs opsim[ray])")
    parser.add_argument("--quick", action="store_true", help="the per-job set-up only")
    parser.add_argument("--json", help="also write every round to this JSON file")
    args = parser.parse_args()
    result = measure(args.jobs, args.rounds, ray=args.ray, quick=args.quick)
    print()
    print(report(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
