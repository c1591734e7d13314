"""Long runs: stepping speed once decaying state would turn subnormal, with and without the flush to zero.

Habit (and push fatigue, incentive dependence) of users who stopped visiting shrinks
geometrically and, after a few hundred days, falls below float32's smallest normal
number; x86 processors then take a micro-code assist for every operation on it.
``sim/core/flush_to_zero.py`` sets such values to 0 (moving no outcome:
``tests/test_flush_to_zero.py``). This steps the ``game`` preset (habit decay 0.15:
the first subnormal habit about day 530) over a long horizon on one thread, with the
flush (the code as it is) and without it (switched off for the run), alternating, and
prints ms a day by window of days (best of the rounds) beside the number of subnormal
habits the run without the flush holds at the end of each window.

Usage:
    python benchmarks/bench_flush.py [--users 1000000] [--days 900] [--rounds 1] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

import numpy as np
from machine_info import describe, one_line

import sim.core.visits
import sim.levers.incentives
import sim.levers.push
from sim import UserLifecycleModel, load_config
from sim.core.flush_to_zero import FLOAT32_TINY

#: Days in each window of the table.
WINDOW_DAYS = 100
#: The modules that decide when to flush (their ``may_fall_below``), switched off for the run without it.
FLUSHING_MODULES = (sim.core.visits, sim.levers.push, sim.levers.incentives)


def step_by_window(users: int, days: int, preset: str, *, flush: bool) -> tuple[list[float], list[int]]:
    """ms a day of each window, and the subnormal habits at each window's end."""
    originals = [module.may_fall_below for module in FLUSHING_MODULES]
    if not flush:
        for module in FLUSHING_MODULES:
            module.may_fall_below = lambda *args: False
    try:
        cfg = load_config(
            [f"population={preset}", f"population.market_size={users}", f"horizon_days={days}", "threads=1"]
        )
        model = UserLifecycleModel(replace(cfg, progress=False, figures=False, agents="lazy"))
        ms_a_day, subnormal = [], []
        for first in range(0, days, WINDOW_DAYS):
            window = min(WINDOW_DAYS, days - first)
            started = time.perf_counter()
            for _ in range(window):
                model.step()
            ms_a_day.append((time.perf_counter() - started) * 1000 / window)
            habit = model.population.habit
            subnormal.append(int(np.count_nonzero((habit > 0) & (habit < np.float32(FLOAT32_TINY)))))
        model.release()
        return ms_a_day, subnormal
    finally:
        for module, original in zip(FLUSHING_MODULES, originals, strict=True):
            module.may_fall_below = original


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=900)
    parser.add_argument("--preset", default="game")
    parser.add_argument("--rounds", type=int, default=1, help="alternating rounds; each figure is the best")
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args()
    print(f"opsim flush-to-zero benchmark — {one_line()}", flush=True)
    best: dict[bool, list[float]] = {}
    subnormal: list[int] = []
    for _ in range(args.rounds):
        for flush in (True, False):
            ms, counts = step_by_window(args.users, args.days, args.preset, flush=flush)
            best[flush] = [min(a, b) for a, b in zip(best[flush], ms, strict=True)] if flush in best else ms
            if not flush:
                subnormal = counts
    print(
        f"\n{args.preset}, {args.users:,} users, {args.days} days, one thread, ms a day by window "
        f"(best of {args.rounds} alternating rounds)\n"
    )
    print("| days | with the flush | without | without / with | subnormal habits without the flush, at the end |")
    print("|---|---:|---:|---:|---:|")
    rows = []
    for i, (on, off) in enumerate(zip(best[True], best[False], strict=True)):
        first = i * WINDOW_DAYS
        last = min(first + WINDOW_DAYS, args.days) - 1
        rows.append(
            {
                "first_day": first,
                "last_day": last,
                "ms_a_day_flush": on,
                "ms_a_day_no_flush": off,
                "subnormal_habits_no_flush": subnormal[i],
            }
        )
        print(f"| {first}–{last} | {on:.1f} | {off:.1f} | {off / on:.2f}× | {subnormal[i]:,} |")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(
                {
                    "machine": describe(),
                    "preset": args.preset,
                    "users": args.users,
                    "days": args.days,
                    "rounds": args.rounds,
                    "windows": rows,
                },
                fh,
                indent=2,
            )


if __name__ == "__main__":
    main()
