"""How many users to simulate: the interval of an answer against the simulated sample size.

consumer_app's market of 1,000,000 under ``paid_growth`` for a year, simulated on samples of
N = 25,000 … 1,000,000 users (each standing for M / N real ones), 8 seeds each. For each N:
the mean incremental ROI, the 95 % t-interval over the seeds, the Monte-Carlo standard
error one run reports (batch means over groups of simulated users), and the wall time of
one run (strategy + baseline).

    python experiments/sample_size/sample_size.py            # about 5 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed
from matplotlib.figure import Figure

from sim import simulate
from sim.analysis.stats import t_half_width

HERE = Path(__file__).resolve().parent
SIZES = (25_000, 50_000, 100_000, 200_000, 400_000, 1_000_000)


def one(n: int, seed: int) -> dict:
    started = time.perf_counter()
    r = simulate(
        [
            "strategy=paid_growth",
            "population.market_size=1000000",
            f"population.sample_size={n}",
            f"seed={seed}",
            "progress=false",
            "figures=false",
            "record_events=false",
            "economics.marginal_roi=false",
            "economics.spend_response_multipliers=[]",
        ]
    )
    e = r.summary["economics"]
    return {
        "n": n,
        "seed": seed,
        "roi": e["incremental"]["roi"],
        "roi_se": e["monte_carlo"]["incremental"]["roi"],
        "profit": e["incremental"]["profit"],
        "seconds": time.perf_counter() - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    rows = Parallel(n_jobs=args.workers)(delayed(one)(n, s) for n in SIZES for s in range(args.seeds))
    table = []
    for n in SIZES:
        part = [r for r in rows if r["n"] == n]
        roi = np.array([r["roi"] for r in part])
        half = float(t_half_width(roi.std(ddof=1), len(roi)))
        table.append(
            {
                "sample_size": n,
                "user_weight": 1_000_000 / n,
                "roi_mean": float(roi.mean()),
                "roi_sd_over_seeds": float(roi.std(ddof=1)),
                "roi_interval_half_width": half,
                "roi_mc_se_one_run": float(np.mean([r["roi_se"] for r in part])),
                "seconds_per_run": float(np.median([r["seconds"] for r in part])),
            }
        )
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "sample_size.json").write_text(json.dumps({"seeds": args.seeds, "rows": table}, indent=2) + "\n")
    print(f"paid_growth on consumer_app (M = 1,000,000), 365 days, {args.seeds} seeds per sample size\n")
    print(
        "| simulated users N | each stands for | incremental ROI (mean) | ± 95 % over seeds | SE of one run | seconds per run |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for t in table:
        print(
            f"| {t['sample_size']:,} | {t['user_weight']:g} | {t['roi_mean']:+.3f} | ± {t['roi_interval_half_width']:.3f} | "
            f"{t['roi_mc_se_one_run']:.3f} | {t['seconds_per_run']:.1f} |"
        )
    fig = Figure(figsize=(7, 4.2), dpi=120)
    ax = fig.add_subplot()
    n = np.array([t["sample_size"] for t in table])
    ax.plot(
        n,
        [t["roi_interval_half_width"] for t in table],
        "-o",
        color="#0072B2",
        label=f"95 % interval over {args.seeds} seeds (±)",
    )
    ax.plot(
        n,
        [1.96 * t["roi_mc_se_one_run"] for t in table],
        "--s",
        color="#D55E00",
        label="1.96 × Monte-Carlo SE of one run",
    )
    ax.set_xscale("log")
    ax.set_xlabel("simulated users N (market M = 1,000,000)")
    ax.set_ylabel("half-width of the incremental ROI interval")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("How precise is the answer? paid_growth, incremental ROI", fontsize=10)
    ax2 = ax.twinx()
    ax2.plot(n, [t["seconds_per_run"] for t in table], ":", color="grey")
    ax2.set_ylabel("seconds per run (strategy + baseline), dotted", color="grey")
    fig.tight_layout()
    fig.savefig(HERE.parents[1] / "docs" / "img" / "sample_size.png")


if __name__ == "__main__":
    main()
