"""Peak memory of whole runs, per simulated user, against the estimate opsim refuses runs by.

Each case runs in a fresh process: the configuration is composed and the modules
are imported, the resident set size (RSS) is read, then the run is simulated and
its result folder written (figures included, as ``opsim`` does), and the process's
peak RSS (``ru_maxrss``) is read. The table shows the peak above the interpreter
per simulated user, the state arrays' share of it (25 bytes a user), and the
estimate of :mod:`sim.app.memory` for the same config (per user, with its fixed
part spread over the users), which must stay above the measurement. Where chunks step
in worker processes (``parallel: auto`` on Linux) their memory is not in the run's own
RSS, so the table also shows the peak of all the run's processes together: their
proportional set size (PSS: pages shared between them, such as the per-slot state,
counted once), sampled every 10 ms.

Usage:
    python benchmarks/bench_memory.py                      # default cases (a few minutes)
    python benchmarks/bench_memory.py --quick              # small cases, a smoke test
    python benchmarks/bench_memory.py --default-only       # the default config, with and without events
    python benchmarks/bench_memory.py --json benchmarks/results/memory.json
    python benchmarks/bench_memory.py --kernels numpy      # every case with kernels=numpy (default auto)
    cd OTHER && .venv/bin/python /path/to/bench_memory.py  # another checkout's opsim (e.g. before a change;
                                                           # the estimate column is nan where it has none)

The cases import ``sim`` from the working directory first (``python -c``): run from
the root of the checkout being measured.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys

#: (label, overrides). The first is ``opsim``'s default configuration (1,000,000 users, 365 days).
CASES = [
    ("default (events on)", []),
    ("default, record_events=false", ["record_events=false"]),
    ("4,000,000 users, 30 days", ["population.market_size=4000000", "horizon_days=30"]),
    ("10,000,000 users, 30 days", ["population.market_size=10000000", "horizon_days=30"]),
    ("balanced_mix, 30 days", ["strategy=balanced_mix", "horizon_days=30"]),
]
QUICK = [
    ("200,000 users, 30 days", ["population.market_size=200000", "horizon_days=30"]),
    ("200,000 users, 30 days, no events", ["population.market_size=200000", "horizon_days=30", "record_events=false"]),
]

_CHILD = r"""
import json, os, resource, sys, tempfile, threading
from sim.app.config import load_config
from sim.app.simulate import simulate
import matplotlib.figure, pandas, pyarrow, scipy.optimize  # noqa: F401  (imported before the baseline)
try:
    from sim.app.memory import estimate_memory
except ImportError:  # a checkout from before the estimate
    estimate_memory = None
try:
    from sim.core.population import STATE_BYTES_PER_SLOT
except ImportError:  # named later; the state was 25 bytes a slot already
    STATE_BYTES_PER_SLOT = 25

def rss_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() // 1024

def pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("Pss:"))
    except (OSError, StopIteration):  # a worker that just ended
        return 0

def children():
    pids = []
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/children") as f:
                pids += f.read().split()
        except OSError:
            pass
    return pids

peak_pss = [0]
def sample(stop):
    while not stop.wait(0.01):
        peak_pss[0] = max(peak_pss[0], pss_kib("self") + sum(pss_kib(pid) for pid in children()))

cfg = load_config([*sys.argv[1:], "progress=false"])
need = estimate_memory(cfg).total if estimate_memory else float("nan")
before = rss_kib()
before_pss = pss_kib("self")
stop = threading.Event()
sampler = threading.Thread(target=sample, args=(stop,), daemon=True)
sampler.start()
result = simulate(cfg)
with tempfile.TemporaryDirectory() as folder:
    result.save(folder)
stop.set()
sampler.join()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
users = cfg.population.simulated_users
print(json.dumps({
    "users": users, "days": cfg.horizon_days, "record_events": cfg.record_events,
    "interpreter_mib": before / 1024, "peak_mib": peak / 1024,
    "peak_bytes_per_user": (peak - before) * 1024 / users,
    "peak_all_processes_bytes_per_user": (max(peak_pss[0], before_pss) - before_pss) * 1024 / users,
    "state_bytes_per_user": STATE_BYTES_PER_SLOT,
    "estimate_bytes_per_user": need / users,
}))
"""


def measure(overrides: list[str]) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, *overrides], capture_output=True, text=True, check=False, timeout=1800
    )
    if proc.returncode != 0:
        raise SystemExit(f"case {overrides} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small cases only")
    parser.add_argument(
        "--default-only", action="store_true", help="the default configuration with and without events (issue #17)"
    )
    parser.add_argument("--json", help="also write the rows to this JSON file")
    parser.add_argument(
        "--kernels", choices=("auto", "numpy", "compiled"), default="auto", help="every case's kernels (default auto)"
    )
    args = parser.parse_args()
    rows = []
    print(
        "| case | N users | days | peak RSS above interpreter, bytes/user | all processes (PSS), bytes/user "
        "| state bytes/user | estimate bytes/user |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    cases = QUICK if args.quick else CASES[:2] if args.default_only else CASES
    for label, case_overrides in cases:
        overrides = [*case_overrides, f"kernels={args.kernels}"]
        row = {"case": label, "overrides": overrides, **measure(overrides)}
        rows.append(row)
        print(
            f"| {label} | {row['users']:,} | {row['days']} | {row['peak_bytes_per_user']:.0f} | "
            f"{row['peak_all_processes_bytes_per_user']:.0f} | "
            f"{row['state_bytes_per_user']} | {row['estimate_bytes_per_user']:.0f} |",
            flush=True,
        )
        if row["estimate_bytes_per_user"] < max(row["peak_bytes_per_user"], row["peak_all_processes_bytes_per_user"]):
            print(f"  WARNING: the estimate is below the measured peak for {label}")
    if args.json:
        meta = {"python": platform.python_version(), "machine": platform.machine()}
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
