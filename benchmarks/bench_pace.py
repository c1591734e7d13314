"""Whether this machine's two cores keep pace, and what smaller chunks of a day would cost.

Target 3 of the speed issue (#17) asks 1.7x on 2 cores. ``bench_day_split.py`` shows
that the two processes of one run do not keep a steady pace with each other; this
checks the two explanations the README gives, 1,000,000 users x 365 days
(consumer_app), each run a fresh process:

* **independent runs**: two one-thread runs of half the market each (500,000 users,
  the same config and seed: the same work), started at once and sharing nothing. Each
  records its day times; the ratio of their time by window of 30 days, lowest - highest.
  A ratio that moves means the cores themselves run at different speeds for a while;
* **chunk sizes**: one run in 2 worker processes with the day's chunks made of 4, 2 and
  1 draw chunks (``sim.core.model.TARGET_CHUNKS`` = 4, 8, 16: 4, 8 and 16 chunks), and
  one thread with 4 and 16 chunks, alternating, ms a day (best of the rounds). Finer
  chunks are what sharing them out as the day goes would need.

Usage:
    python benchmarks/bench_pace.py [--rounds 2] [--json FILE]
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
#: Simulated users and days of a run; each independent run has half the users.
USERS, DAYS = 1_000_000, 365
#: Days in each window of the independent runs' time ratio.
WINDOW_DAYS = 30
#: ``TARGET_CHUNKS`` settings tried: 4 (the default), 8 and 16 chunks of 1,000,000 users.
CHUNK_TARGETS = (4, 8, 16)

_CHILD = r"""
import json, sys, time
from dataclasses import replace
import sim.core.model as M
strategy, users, days, threads, target, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
M.TARGET_CHUNKS = target
from sim import UserLifecycleModel, load_config
overrides = ["population=consumer_app", f"population.market_size={users}", f"horizon_days={days}",
             f"strategy={strategy}", f"threads={threads}"] + (["parallel=processes"] if threads > 1 else [])
model = UserLifecycleModel(replace(load_config(overrides), progress=False, figures=False, agents="lazy"))
seconds = []
for _ in range(days):
    started = time.perf_counter()
    model.step()
    seconds.append(time.perf_counter() - started)
with open(out, "w") as fh:
    json.dump({"chunks": len(model._blocks), "days": seconds}, fh)
"""


def _command(strategy: str, users: int, threads: int, target: int, out: Path) -> list[str]:
    return [sys.executable, "-c", _CHILD, strategy, str(users), str(DAYS), str(threads), str(target), str(out)]


def _read(out: Path) -> dict:
    return json.loads(out.read_text())


def independent_ratios(strategy: str) -> list[float]:
    """Two half-market one-thread runs at once: their time ratio by window of :data:`WINDOW_DAYS` days."""
    with tempfile.TemporaryDirectory() as folder:
        outs = [Path(folder) / f"{i}.json" for i in (0, 1)]
        procs = [subprocess.Popen(_command(strategy, USERS // 2, 1, 4, out)) for out in outs]
        if any(p.wait(timeout=1800) != 0 for p in procs):
            raise SystemExit(f"an independent run failed: {strategy}")
        first, second = (_read(out)["days"] for out in outs)
    return [
        sum(second[lo : lo + WINDOW_DAYS]) / sum(first[lo : lo + WINDOW_DAYS])
        for lo in range(0, DAYS - WINDOW_DAYS + 1, WINDOW_DAYS)
    ]


def day_ms(strategy: str, threads: int, target: int) -> tuple[int, float]:
    """One run in a fresh process: its number of chunks and its mean day, ms."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "run.json"
        if subprocess.run(_command(strategy, USERS, threads, target, out), check=False, timeout=1800).returncode:
            raise SystemExit(f"a run failed: {strategy}, threads={threads}, TARGET_CHUNKS={target}")
        result = _read(out)
    return result["chunks"], sum(result["days"]) / len(result["days"]) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of the chunk sizes; the best")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    results: dict[str, dict] = {}
    for strategy in STRATEGIES:
        ratios = independent_ratios(strategy)
        runs = [(2, target) for target in CHUNK_TARGETS] + [(1, CHUNK_TARGETS[0]), (1, CHUNK_TARGETS[-1])]
        days: dict[str, list[float]] = {}
        chunks: dict[str, int] = {}
        for _ in range(args.rounds):
            for threads, target in runs:
                key = f"threads={threads} chunks_target={target}"
                chunks[key], ms = day_ms(strategy, threads, target)
                days.setdefault(key, []).append(ms)
        results[strategy] = {"independent_ratios": ratios, "chunks": chunks, "day_ms": days}
    print(f"Two independent {USERS // 2:,}-user runs at once: time ratio by {WINDOW_DAYS}-day window\n")
    for strategy, r in results.items():
        print(f"  {strategy}: {min(r['independent_ratios']):.2f} - {max(r['independent_ratios']):.2f}")
    print(f"\n{USERS:,} users x {DAYS} days, ms a day by chunks of the day (best of {args.rounds}; every round)\n")
    for strategy, r in results.items():
        for key, values in r["day_ms"].items():
            rounds = " / ".join(f"{v:.2f}" for v in values)
            print(f"  {strategy}, {key} ({r['chunks'][key]} chunks): {min(values):.2f}  ({rounds})")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
