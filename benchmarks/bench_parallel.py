"""Why one run steps its chunks in worker processes, and from what size a second core pays.

Each measurement runs in a fresh process (``python -c``), organic model, consumer_app:

* **threads against processes, 1,000,000 users × 365 days**: stepping time and CPU time
  (``ru_utime`` + ``ru_stime`` of the run's own process) and voluntary context switches
  with one thread, two threads (``parallel=threads``) and two worker processes; and two
  *independent* processes stepping 500,000 users each at the same time, against one
  such process alone: what two cores give when nothing is shared; and round by round,
  the speed-up of the two worker processes next to that of the independent pair over
  the same round's one-thread run (how far the run is from what the machine gives at
  that moment, and how much each moves from round to round).
* **from what size**: 2 against 1, 180 days, at 100,000 … 500,000 users, in processes and
  in threads (``sim/app/threads.py`` takes its automatic thresholds from these).

Best of ``--rounds`` alternating rounds (this machine drifts by ±20 %).

Usage:
    python benchmarks/bench_parallel.py [--rounds 3] [--json FILE]
    python benchmarks/bench_parallel.py --rounds 10 --only modes   # without the sizes
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

#: Simulated users of the sizes that decide the automatic thresholds.
SIZES = (100_000, 250_000, 500_000)

_CHILD = r"""
import json, resource, sys, time
from dataclasses import replace
from sim import UserLifecycleModel, load_config
users, days, threads, parallel = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
cfg = load_config([f"population.market_size={users}", f"horizon_days={days}", f"threads={threads}",
                   f"parallel={parallel}"])
model = UserLifecycleModel(replace(cfg, progress=False, figures=False, agents="lazy"))
before = resource.getrusage(resource.RUSAGE_SELF)
started = time.perf_counter()
for _ in range(days):
    model.step()
seconds = time.perf_counter() - started
after = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": seconds, "mode": model.parallel,
                  "cpu_seconds": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime,
                  "voluntary_switches": after.ru_nvcsw - before.ru_nvcsw}))
"""


def _start(users: int, days: int, threads: int, parallel: str) -> subprocess.Popen:
    args = [sys.executable, "-c", _CHILD, str(users), str(days), str(threads), parallel]
    return subprocess.Popen(args, stdout=subprocess.PIPE, text=True)


def _result(run: subprocess.Popen) -> dict:
    out, _ = run.communicate(timeout=1800)
    if run.returncode != 0:
        raise SystemExit(f"a run failed: {run.args}")
    return json.loads(out.strip().splitlines()[-1])


def run(users: int, days: int, threads: int, parallel: str) -> dict:
    """One run in a fresh process: seconds, CPU seconds, voluntary context switches, the mode used."""
    return _result(_start(users, days, threads, parallel))


def halves_together(users: int, days: int) -> float:
    """Seconds until two independent processes of ``users`` // 2 each, started together, are both done."""
    runs = [_start(users // 2, days, 1, "auto") for _ in range(2)]
    return max(_result(r)["seconds"] for r in runs)


def best(rows: list[dict]) -> dict:
    return min(rows, key=lambda r: r["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the best of each is shown")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument("--only", choices=("modes", "sizes"), help="only threads against processes, or only the sizes")
    args = parser.parse_args()
    table, rounds, both, alone = modes_table(args.rounds) if args.only != "sizes" else ({}, [], None, None)
    sizes = sizes_table(args.rounds) if args.only != "modes" else {}
    if args.json:
        figures = {"modes": table, "halves_together_s": both, "half_alone_s": alone, "rounds": rounds}
        with open(args.json, "w") as fh:
            json.dump({**figures, "sizes": sizes}, fh, indent=2)


def modes_table(n_rounds: int) -> tuple[dict, list[dict], float, float]:
    """Threads against processes at 1,000,000 users; best of ``n_rounds``, then round by round."""
    m, days = 1_000_000, 365
    modes = {"one thread": (1, "auto"), "2 threads": (2, "threads"), "2 processes": (2, "processes")}
    rows: dict[str, list[dict]] = {name: [] for name in modes}
    halves, half_alone = [], []
    for _ in range(n_rounds):
        for name, (threads, parallel) in modes.items():
            rows[name].append(run(m, days, threads, parallel))
        halves.append(halves_together(m, days))
        half_alone.append(run(m // 2, days, 1, "auto")["seconds"])
    one = best(rows["one thread"])["seconds"]
    print(f"Threads against processes: M={m:,}, {days} days, best of {n_rounds} (fresh processes)\n")
    print("| how | stepping s | speed-up | CPU s of the run's process | voluntary context switches |")
    print("|---|---:|---:|---:|---:|")
    table = {}
    for name in modes:
        r = best(rows[name])
        table[name] = r
        print(
            f"| {name} | {r['seconds']:.2f} | {one / r['seconds']:.2f}x | {r['cpu_seconds']:.2f} | "
            f"{r['voluntary_switches']:,} |"
        )
    both, alone = min(halves), min(half_alone)
    print(
        f"| two independent processes of {m // 2:,} users at once | {both:.2f} | {one / both:.2f}x | | |\n"
        f"\none process of {m // 2:,} users alone: {alone:.2f} s (the pair at once: {both / alone - 1:+.0%} each)"
    )
    rounds = [
        {
            "one_thread_s": rows["one thread"][i]["seconds"],
            "processes_speedup": rows["one thread"][i]["seconds"] / rows["2 processes"][i]["seconds"],
            "independent_pair_speedup": rows["one thread"][i]["seconds"] / halves[i],
        }
        for i in range(n_rounds)
    ]
    print("\nRound by round, over that round's one-thread run (the machine drifts between rounds):\n")
    print("| round | one thread s | 2 processes | two independent processes at once |")
    print("|---:|---:|---:|---:|")
    for i, r in enumerate(rounds, 1):
        print(
            f"| {i} | {r['one_thread_s']:.2f} | {r['processes_speedup']:.2f}x | {r['independent_pair_speedup']:.2f}x |"
        )
    return table, rounds, both, alone


def sizes_table(n_rounds: int) -> dict:
    """2 against 1 at the sizes that decide the automatic thresholds; best of ``n_rounds``."""
    sizes = {}
    print("\nFrom what size (2 against 1, 180 days, organic):\n")
    print("| users | processes | threads |")
    print("|---:|---:|---:|")
    for users in SIZES:
        times: dict[str, list[float]] = {"one": [], "processes": [], "threads": []}
        for _ in range(n_rounds):
            times["one"].append(run(users, 180, 1, "auto")["seconds"])
            times["processes"].append(run(users, 180, 2, "processes")["seconds"])
            times["threads"].append(run(users, 180, 2, "threads")["seconds"])
        t = {k: min(v) for k, v in times.items()}
        sizes[users] = {"processes": t["one"] / t["processes"], "threads": t["one"] / t["threads"]}
        print(f"| {users:,} | {sizes[users]['processes']:.2f}x | {sizes[users]['threads']:.2f}x |")
    return sizes


if __name__ == "__main__":
    main()
