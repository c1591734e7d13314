"""Speed and memory of the stepping core.

Prints a markdown table: agent-days per second of the vectorized core at
M = 1e5, 1e6, 1e7 over 365 days (consumer_app preset, one process, numpy is
single-threaded here), of the agent-by-agent reference at M = 1e4 and 1e5 (over
fewer days: it is slow), their ratio, and memory per slot (state arrays, and
the peak of all numpy allocations during a separate 30-day run traced with
tracemalloc, which would slow the timed run).

Usage:
    python benchmarks/bench_core.py            # full table (about 3 minutes)
    python benchmarks/bench_core.py --quick    # small sizes, a smoke test
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import tracemalloc
from dataclasses import replace

import numpy as np

from sim import UserLifecycleModel, load_config


def _config(preset: str, market_size: int, days: int):
    cfg = load_config([f"population={preset}", f"population.market_size={market_size}", f"horizon_days={days}"])
    return replace(cfg, progress=False, figures=False, agents="lazy")


def peak_bytes(preset: str, market_size: int, days: int = 30) -> float:
    """Peak of all traced allocations (state, per-chunk temporaries, counters) over a short run.

    Traced separately: tracemalloc slows numpy's allocations, so it must not touch the timings.
    """
    tracemalloc.start()
    model = UserLifecycleModel(_config(preset, market_size, days))
    for _ in range(days):
        model.step()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def measure(market_size: int, days: int, *, reference: bool, preset: str, trace: bool) -> dict:
    cfg = _config(preset, market_size, days)
    t0 = time.perf_counter()
    model = UserLifecycleModel(cfg, reference=reference)
    t1 = time.perf_counter()
    for _ in range(days):
        model.step()
    t2 = time.perf_counter()
    peak = peak_bytes(preset, market_size) if trace else float("nan")
    return {
        "stepping": "reference" if reference else "vectorized",
        "market_size": market_size,
        "days": days,
        "init_s": t1 - t0,
        "step_s": t2 - t1,
        "agent_days_per_s": market_size * days / (t2 - t1),
        "state_bytes_per_slot": model.population.nbytes / market_size,
        "peak_bytes_per_slot": peak / market_size,
    }


def strategy_rows(market_size: int, days: int, preset: str, repeats: int) -> list[dict]:
    """Organic vs all levers on (balanced_mix), alternating, best of ``repeats`` each (noisy VMs)."""
    best: dict[str, dict] = {}
    for _ in range(repeats):
        for strategy in ("baseline", "balanced_mix"):
            cfg = load_config(
                [
                    f"population={preset}",
                    f"population.market_size={market_size}",
                    f"horizon_days={days}",
                    f"strategy={strategy}",
                ]
            )
            cfg = replace(cfg, progress=False, figures=False, agents="lazy")
            model = UserLifecycleModel(cfg)
            t0 = time.perf_counter()
            for _ in range(days):
                model.step()
            rate = market_size * days / (time.perf_counter() - t0)
            if strategy not in best or rate > best[strategy]["agent_days_per_s"]:
                best[strategy] = {"strategy": strategy, "levers": len(model.levers), "agent_days_per_s": rate}
    return list(best.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only (smoke test)")
    parser.add_argument("--preset", default="consumer_app")
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args()
    if args.quick:
        plan = [(20_000, 30, False), (2_000, 5, True)]
    else:
        plan = [
            (100_000, 365, False),
            (1_000_000, 365, False),
            (10_000_000, 365, False),
            (10_000, 30, True),
            (100_000, 5, True),
        ]
    rows = []
    for m, days, ref in plan:
        rows.append(measure(m, days, reference=ref, preset=args.preset, trace=not ref))
        r = rows[-1]
        print(
            f"# {r['stepping']:>10} M={m:>10,} days={days:>3}: {r['agent_days_per_s']:.3g} agent-days/s "
            f"(init {r['init_s']:.1f} s, steps {r['step_s']:.1f} s)",
            flush=True,
        )
    vec = {r["market_size"]: r for r in rows if r["stepping"] == "vectorized"}
    ref = {r["market_size"]: r for r in rows if r["stepping"] == "reference"}
    print(
        f"\nopsim core benchmark — preset {args.preset}, Python {platform.python_version()}, numpy {np.__version__}, "
        f"{platform.machine()}\n"
    )
    print(
        "| stepping | M (slots) | days | wall time of the steps | agent-days/s | state bytes/slot | peak bytes/slot |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        peak = "—" if np.isnan(r["peak_bytes_per_slot"]) else f"{r['peak_bytes_per_slot']:.1f}"
        print(
            f"| {r['stepping']} | {r['market_size']:,} | {r['days']} | {r['step_s']:.1f} s | "
            f"{r['agent_days_per_s']:.3g} | {r['state_bytes_per_slot']:.0f} | {peak} |"
        )
    best_ref = max(ref.values(), key=lambda r: r["agent_days_per_s"])
    for m, r in sorted(vec.items()):
        print(
            f"\nvectorized / reference speed ratio at M={m:,}: "
            f"{r['agent_days_per_s'] / best_ref['agent_days_per_s']:.0f}x",
            end="",
        )
    print()
    m, days, repeats = (20_000, 30, 1) if args.quick else (1_000_000, 365, 2)
    strategies = strategy_rows(m, days, args.preset, repeats)
    print(f"\nLevers: M={m:,}, {days} days, best of {repeats} alternating runs each\n")
    print("| strategy | levers on | agent-days/s | slowdown vs organic |")
    print("|---|---:|---:|---:|")
    organic = strategies[0]["agent_days_per_s"]
    for r in strategies:
        print(
            f"| {r['strategy']} | {r['levers']} | {r['agent_days_per_s']:.3g} | {organic / r['agent_days_per_s']:.2f}x |"
        )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"core": rows, "strategies": strategies}, fh, indent=2)


if __name__ == "__main__":
    main()
