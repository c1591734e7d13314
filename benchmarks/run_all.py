"""Every speed and memory figure of issue #17 in one command, each next to its target.

Runs, one after the other (each in its own process, so that they do not share a warm
interpreter):

1. ``bench_overhead.py`` — analytics and output as a share of stepping for a default
   run (target <= 20 %), and ``compose``/``load_config`` after the first call (<= 50 ms);
2. ``bench_core.py --only threads`` — user-days/s per core at 1,000,000 users over 365
   days, organic and every lever on (>= 6e7 and 4e7), and the speed-up of one run on
   every core (>= 1.7x on 2 cores); ``bench_flush.py`` — a 900-day run with and without
   the flush of decaying state to zero (subnormal numbers);
   ``bench_parallel.py`` — threads against worker processes and independent halves, and
   from what size a second core pays; ``bench_machine.py`` — what two threads gain on
   this machine for numpy kernels alone
   (cache-resident vs streaming arrays, random numbers): the ceiling for the line above;
   ``bench_day_split.py`` — where a day of one run on 2 cores goes (each process's
   chunks alone and at once, the worker's other work, the rest of the run's day) and
   how steadily the two processes keep pace; ``bench_pace.py`` — whether two
   independent runs keep pace (the cores) and what finer chunks of a day cost;
3. ``bench_sweep.py`` — Hydra's per-job set-up (<= 0.15 s) and the 64-job sweep with 2
   workers (>= 1.8x); ``bench_sweep_timeline.py`` — that sweep's wall time split into
   phases, job step by job step (the explanation of the gap);
4. ``bench_memory.py --default-only`` — peak memory per user of the default
   configuration, events included, and with ``record_events=false`` (state only).

Each writes its JSON to ``--out`` (default ``benchmarks/results/``), beside
``machine_info.json``: the processor, its caches, Python and numpy (``machine_info.py``). About 7 minutes
on a 2-core machine with ``--rounds 1`` (measured 2026-11-30 on an Intel Xeon: 440 s; 249 s on
2026-11-29, before ``bench_pace.py`` and ``bench_flush.py`` joined); the sweep benchmark
and the flush benchmark take about twice as long with the default ``--rounds 2``. The core's table at 100,000 to
10,000,000 users, the planner's and the calibrator's figures are separate
(``bench_core.py``, ``bench_plan.py``, ``bench_calibrate.py``).

Usage:
    python benchmarks/run_all.py [--rounds 2] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
import time
from pathlib import Path

from machine_info import describe, one_line

HERE = Path(__file__).resolve().parent


def steps(rounds: int, out: Path) -> list[tuple[str, list[str]]]:
    """(title, command) of every benchmark run_all runs."""
    return [
        (
            "1-2. evaluation overhead and config composition",
            ["bench_overhead.py", "--rounds", str(rounds), "--json", str(out / "overhead.json")],
        ),
        (
            "3-4. per core and every core in one run",
            ["bench_core.py", "--only", "threads", "--rounds", str(rounds), "--json", str(out / "threads.json")],
        ),
        (
            "4 (long runs). stepping once decaying state would turn subnormal: the flush to zero",
            ["bench_flush.py", "--rounds", str(rounds), "--json", str(out / "flush.json")],
        ),
        (
            "3 (why). threads against processes, and from what size a second core pays",
            ["bench_parallel.py", "--rounds", str(rounds), "--json", str(out / "parallel.json")],
        ),
        (
            "3 (why). where a day of one run on 2 cores goes",
            ["bench_day_split.py", "--rounds", str(rounds), "--json", str(out / "day_split.json")],
        ),
        (
            "3 (why). whether the two cores keep pace, and what finer chunks cost",
            ["bench_pace.py", "--rounds", str(rounds), "--json", str(out / "pace.json")],
        ),
        (
            "3 (why). what threads can gain on this machine: numpy kernels alone",
            ["bench_machine.py", "--json", str(out / "machine.json")],
        ),
        ("5. sweeps", ["bench_sweep.py", "--rounds", str(rounds), "--json", str(out / "sweep.json")]),
        (
            "5 (why). where the 2-worker sweep's time goes",
            ["bench_sweep_timeline.py", "--rounds", str(rounds), "--json", str(out / "sweep_timeline.json")],
        ),
        ("6. peak memory per user", ["bench_memory.py", "--default-only", "--json", str(out / "memory.json")]),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="fresh processes / alternating rounds per figure")
    parser.add_argument("--out", default=str(HERE / "results"), help="folder for each benchmark's JSON")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    machine = describe()
    (out / "machine_info.json").write_text(json.dumps(machine, indent=2) + "\n")
    print(f"opsim benchmarks, {datetime.datetime.now():%Y-%m-%d %H:%M}: {one_line(machine)}", flush=True)
    failed = []
    for title, command in steps(args.rounds, out):
        print(f"\n## {title}  (python benchmarks/{' '.join(command)})\n", flush=True)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, str(HERE / command[0]), *command[1:]], check=False)
        print(f"\n({time.perf_counter() - started:.0f} s)", flush=True)
        if done.returncode != 0:
            failed.append(title)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
