"""Where a day of one run on 2 cores goes: each process's chunks, and the work around them.

Target 3 of the speed issue (#17) asks 1.7x on 2 cores; this shows what stands between
the worker processes and 2x. For organic stepping (``baseline``) and every lever
(``balanced_mix``), 1,000,000 users x 365 days (consumer_app), one run with
``threads=1`` and one with 2 worker processes, each in a fresh process, alternating;
per day, in milliseconds, the round with the shortest day:

* **the chunks of each share**: the model's own share (the first chunks) and the
  worker's share, stepped alone (``threads=1``, one after the other) and at once (2
  processes). "slower at once" is how much longer each share takes when both processes
  step side by side: they share the caches and the memory bus;
* **the worker's other work**: taking the day's state before its chunks and checking
  its copy after sending its results (:mod:`sim.core.chunk_processes`);
* **the rest of the model's day**: with 2 processes, the day less its own chunks. Before
  the chunks: the levers' ``begin_day``, their state pickled and sent; after: the
  worker's results taken and added up, the bookings run, the tallies, the DataCollector;
  and whatever part of the worker's share is still running when the model's own chunks
  are done. With one thread, the day less both shares' chunks.

A second table shows how steadily the two processes keep pace: the worker's share's
chunk time over the model's, window by window of 30 days (lowest - highest; with one
thread the same halves stepped one after the other), and, from when each process's last
chunk of a day ended (``time.perf_counter``, one clock for both processes), how long the
model waited for the worker's chunks and the worker for the model's, ms a day over the
year (the first day, which forks the worker, left out).

Each day is timed as a user's run times it: the first one forks the worker, the last
one stops it.

Timing wrappers around ``LifecycleModel._step_chunk``, ``_apply_day_state`` and
``_check_day_state`` (a few microseconds a call) collect the figures; the worker writes
its own to a file after its last day.

Usage:
    python benchmarks/bench_day_split.py [--rounds 3] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

#: The strategies compared: no lever, and all nine.
STRATEGIES = ("baseline", "balanced_mix")
#: Simulated users and days (the issue's 2-core target is at 1,000,000 users).
USERS, DAYS = 1_000_000, 365
#: Days in each window of the shares' time ratio (the 365 days make 12 whole windows).
WINDOW_DAYS = 30

_CHILD = r"""
import json, os, sys, time
from collections import defaultdict
from dataclasses import replace
import sim.core.model as M
from sim import UserLifecycleModel, load_config

strategy, threads, out_dir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
users, days = int(sys.argv[4]), int(sys.argv[5])
spent = defaultdict(float)  # seconds by block index or method name, in this process (a worker has its own)
daily = defaultdict(float)  # seconds of this process's chunks, by day
last_end = {}  # by day: when this process's last chunk ended (perf_counter: one clock for all processes)

def timed(name):
    method = getattr(M.LifecycleModel, name)
    def wrapper(self, *args):
        started = time.perf_counter()
        out = method(self, *args)
        ended = time.perf_counter()
        key = args[1].index if name == "_step_chunk" else name
        spent[key] += ended - started
        if name == "_step_chunk":
            daily[(self.day, args[1].index)] += ended - started
            last_end[self.day] = ended
        if name == "_check_day_state" and self.day == days - 1:  # a worker, after its last day's check
            with open(os.path.join(out_dir, "worker.json"), "w") as fh:
                json.dump({**{str(k): v for k, v in spent.items()}, "days": by_day()}, fh)
        return out
    setattr(M.LifecycleModel, name, wrapper)

def by_day():  # per day: [seconds of each block this process stepped, by block index], its chunks' end
    blocks = defaultdict(dict)
    for (day, block), seconds in daily.items():
        blocks[day][str(block)] = seconds
    return [[blocks[day], last_end.get(day)] for day in range(days)]

for name in ("_step_chunk", "_apply_day_state", "_check_day_state"):
    timed(name)
cfg = load_config([f"population=consumer_app", f"population.market_size={users}", f"horizon_days={days}",
                   f"strategy={strategy}", f"threads={threads}", "parallel=" + ("processes" if threads > 1 else "auto")])
model = UserLifecycleModel(replace(cfg, progress=False, figures=False, agents="lazy"))
blocks = [b.index for b in model._blocks]
shares = [blocks[: len(blocks) // 2 + len(blocks) % 2], blocks[len(blocks) // 2 + len(blocks) % 2:]]
started = time.perf_counter()
for _ in range(days):
    model.step()
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "mode": model.parallel, "halves": shares,
                  "spent": {str(k): v for k, v in spent.items()}, "days": by_day()}))
"""


def window_ratios(own_days: list[float], other_days: list[float]) -> list[float]:
    """The worker's share's chunk time over the model's, window by window of :data:`WINDOW_DAYS` days.

    Both shares' work changes with the day (the users' states), in the same proportion
    for both: with one thread the ratio keeps nearly still from window to window. Where
    the two processes' cores run at different speeds for a while, it moves.
    """
    return [
        sum(other_days[lo : lo + WINDOW_DAYS]) / sum(own_days[lo : lo + WINDOW_DAYS])
        for lo in range(0, len(own_days) - WINDOW_DAYS + 1, WINDOW_DAYS)
    ]


def share_days(days: list, keys: list[str]) -> list[float]:
    """Per day, the seconds of the blocks ``keys`` (one process's record of its days)."""
    return [sum(blocks.get(k, 0.0) for k in keys) for blocks, _end in days]


def run(strategy: str, threads: int) -> dict:
    """One run in a fresh process: per-day milliseconds of each share's chunks and of the rest."""
    with tempfile.TemporaryDirectory() as out_dir:
        args = [sys.executable, "-c", _CHILD, strategy, str(threads), out_dir, str(USERS), str(DAYS)]
        proc = subprocess.run(args, capture_output=True, text=True, check=False, timeout=1800)
        if proc.returncode != 0:
            raise SystemExit(f"a run failed: {strategy}, threads={threads}\n{proc.stderr[-3000:]}")
        child = json.loads(proc.stdout.strip().splitlines()[-1])
        worker_file = Path(out_dir) / "worker.json"
        worker = json.loads(worker_file.read_text()) if worker_file.is_file() else {}
    per_day = 1e3 / DAYS
    spent = child["spent"]
    day = child["seconds"] * per_day
    if threads == 1:  # the model's process steps both halves, one after the other
        own, other = ([str(i) for i in half] for half in child["halves"])
        own_ms, other_ms = (sum(spent[k] for k in keys) * per_day for keys in (own, other))
        ratios = window_ratios(share_days(child["days"], own), share_days(child["days"], other))
        return {
            "day": day,
            "own": own_ms,
            "other": other_ms,
            "rest": day - own_ms - other_ms,
            "shares": [own, other],
            "window_ratios": ratios,
        }
    own = sorted(k for k in spent if k.isdigit())  # the chunks each process stepped
    other = sorted(k for k in worker if k.isdigit())
    own_ms = sum(spent[k] for k in own) * per_day
    # when each process's last chunk of the day ended (one clock for both): who waited for whom
    ends = [(mine, theirs) for (_b, mine), (_c, theirs) in zip(child["days"], worker["days"], strict=True)]
    later = [theirs - mine for mine, theirs in ends[1:]]  # the first day forks the worker
    return {
        "day": day,
        "own": own_ms,
        "other": sum(worker[k] for k in other) * per_day,
        "worker_other": (worker.get("_apply_day_state", 0.0) + worker.get("_check_day_state", 0.0)) * per_day,
        "rest": day - own_ms,
        "mode": child["mode"],
        "shares": [own, other],
        "window_ratios": window_ratios(share_days(child["days"], own), share_days(worker["days"], other)),
        "model_waits": sum(max(x, 0.0) for x in later) / len(later) * 1e3,
        "worker_waits": sum(max(-x, 0.0) for x in later) / len(later) * 1e3,
    }


def print_table(header: list[str], rows: list[list[str]]) -> None:
    """Print a Markdown table: the first column as text, the others right-aligned."""
    print("| " + " | ".join(header) + " |")
    print("|---|" + "---:|" * (len(header) - 1))
    for row in rows:
        print("| " + " | ".join(row) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the round with the shortest day")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    results = {}
    for strategy in STRATEGIES:
        rounds: dict[int, list[dict]] = {1: [], 2: []}
        for _ in range(args.rounds):
            for threads in (1, 2):
                rounds[threads].append(run(strategy, threads))
        alone, together = (min(rounds[t], key=lambda r: r["day"]) for t in (1, 2))
        if together["mode"] != "processes":
            raise SystemExit(f"2 threads stepped in {together['mode']!r}, not in processes (needs fork)")
        if alone["shares"] != together["shares"]:
            raise SystemExit(f"the halves timed alone {alone['shares']} are not the shares {together['shares']}")
        results[strategy] = {"threads_1": alone, "processes_2": together}
    print(f"Where a day goes: {USERS:,} users x {DAYS} days, best of {args.rounds} alternating rounds, ms a day\n")
    pairs = [(strategy, r["threads_1"], r["processes_2"]) for strategy, r in results.items()]
    print_table(
        [
            "strategy",
            "day, 1 thread",
            "day, 2 processes",
            "speed-up",
            "model's share: alone / at once",
            "worker's share: alone / at once",
            "worker's other work",
            "rest of the model's day (1 thread / 2 processes)",
        ],
        [
            [
                strategy,
                f"{a['day']:.2f}",
                f"{b['day']:.2f}",
                f"{a['day'] / b['day']:.2f}x",
                f"{a['own']:.2f} / {b['own']:.2f} ({b['own'] / a['own'] - 1:+.0%})",
                f"{a['other']:.2f} / {b['other']:.2f} ({b['other'] / a['other'] - 1:+.0%})",
                f"{b['worker_other']:.2f}",
                f"{a['rest']:.2f} / {b['rest']:.2f}",
            ]
            for strategy, a, b in pairs
        ],
    )
    print(
        f"\nThe cores' pace: the worker's share's chunk time over the model's, by {WINDOW_DAYS}-day window "
        "(lowest - highest), and who waits for whose chunks at the end of a day (ms a day, same rounds)\n"
    )
    print_table(
        [
            "strategy",
            "ratio, 1 thread",
            "ratio, 2 processes",
            "model waits for the worker",
            "worker waits for the model",
        ],
        [
            [
                strategy,
                f"{min(a['window_ratios']):.2f} - {max(a['window_ratios']):.2f}",
                f"{min(b['window_ratios']):.2f} - {max(b['window_ratios']):.2f}",
                f"{b['model_waits']:.2f}",
                f"{b['worker_waits']:.2f}",
            ]
            for strategy, a, b in pairs
        ],
    )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
