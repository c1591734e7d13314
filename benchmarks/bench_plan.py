"""Speed of opsim-plan: trials per minute, and the time per trial beyond stepping the simulation.

A trial simulates its candidate on every seed of the plan (the baseline runs once per seed
and is reused). The benchmark plans ``quarter_growth`` on 100,000 simulated users over
180 days and reports:

* trials per minute with 1 worker and with every local core;
* the overhead per trial: its wall time (one worker, in process) minus the time spent
  stepping models, as a share of the stepping time — building configs, creating the
  population, bookkeeping and Optuna's own work;
* search vs response-curve mode: the time each takes to a plan, and that plan's objective.

Usage:
    python benchmarks/bench_plan.py                 # about 5 minutes on 2 cores
    python benchmarks/bench_plan.py --quick         # a smoke test
    python benchmarks/bench_plan.py --json benchmarks/results/plan.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from sim.app.config import compose
from sim.app.plan import Planner, _choose, _open_study, _trial_rows, make_plan, search
from sim.app.plan_config import PLAN_CONFIG_NAME, load_plan_config, register_plan_schema
from sim.app.plan_eval import LocalEvaluator


class _Count:
    n = 0

    def update(self, k: int) -> None:
        self.n += k


def _setting(users: int, days: int, trials: int, seeds: int):
    register_plan_schema()
    cfg = compose(
        [
            "plan=quarter_growth",
            f"population.sample_size={users}",
            f"horizon_days={days}",
            f"plan.trials={trials}",
            f"plan.seeds={seeds}",
            "progress=false",
        ],
        config_name=PLAN_CONFIG_NAME,
    )
    return load_plan_config(cfg)


def trials_per_minute(run, plan, workers: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        evaluator = LocalEvaluator(workers)
        planner = Planner(run, plan, evaluator)
        study = _open_study(Path(tmp), run, plan)
        base_step = planner.step_seconds
        started = time.perf_counter()
        search(study, planner, _Count())
        wall = time.perf_counter() - started
        stepping = planner.step_seconds - base_step
        chosen, _ = _choose(_trial_rows(study, run, plan), plan)
    return {
        "workers": workers,
        "trials": plan.trials,
        "seeds": plan.seeds,
        "wall_seconds": wall,
        "trials_per_minute": 60 * plan.trials / wall,
        "stepping_seconds": stepping,
        "overhead_share": (wall - stepping) / stepping if workers == 1 else float("nan"),
        "best_score": chosen["score"],
    }


def mode_comparison(run, plan, workers: int) -> list[dict]:
    rows = []
    for mode in ("search", "response"):
        p = replace(plan, mode=mode)
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            result = make_plan(run, p, Path(tmp), evaluator=LocalEvaluator(workers), progress=False)
            wall = time.perf_counter() - started
        rows.append(
            {
                "mode": mode,
                "trials": p.trials if mode == "search" else 0,
                "seconds": wall,
                "simulations": result.simulations,
                "objective": float(result.best.series("incremental_profit").mean()),
                "spend": result.best.spend,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()
    users, days, trials, seeds = (10_000, 60, 8, 2) if args.quick else (100_000, 180, 24, 4)
    run, plan = _setting(users, days, trials, seeds)
    cores = os.cpu_count() or 1
    print(f"opsim-plan benchmark: quarter_growth, {users:,} simulated users, {days} days, {seeds} seeds")
    print(f"Python {platform.python_version()}, {platform.machine()}, {cores} cores\n")
    rows = [trials_per_minute(run, plan, 1)]
    if cores > 1:
        rows.append(trials_per_minute(run, plan, cores))
    print("| workers | trials | wall time | trials/min | stepping | overhead beyond stepping |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        overhead = f"{100 * r['overhead_share']:.0f} %" if r["overhead_share"] == r["overhead_share"] else "—"
        print(
            f"| {r['workers']} | {r['trials']} | {r['wall_seconds']:.1f} s | {r['trials_per_minute']:.1f} | "
            f"{r['stepping_seconds']:.1f} s | {overhead} |"
        )
    modes = mode_comparison(run, plan, cores)
    print("\n| mode | trials | wall time | simulations | incremental profit (mean) | spend |")
    print("|---|---:|---:|---:|---:|---:|")
    for m in modes:
        print(
            f"| {m['mode']} | {m['trials']} | {m['seconds']:.1f} s | {m['simulations']} | "
            f"{m['objective']:,.0f} | {m['spend']:,.0f} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"trials": rows, "modes": modes}, indent=2) + "\n")


if __name__ == "__main__":
    main()
