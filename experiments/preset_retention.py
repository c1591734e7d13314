"""Study: do the population presets hit the published D1/D7/D30 ranges?

Runs every preset in conf/population at the size and seeds given, and prints a
markdown table of classic retention (mean ± standard deviation over seeds) next
to the published range cited in the preset's YAML.

Usage:
    python experiments/preset_retention.py [--sample-size 200000] [--days 120] [--seeds 3]
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np

from sim import load_config, simulate

PUBLISHED = {  # ranges quoted in conf/population/<preset>.yaml, with their sources there
    "consumer_app": ("20-27 %", "9-13 %", "4-7 %"),
    "ecommerce": ("19-25 %", "5-10 %", "4-6 %"),
    "game": ("20-30 %", "3.5-8 %", "1.5-3 %"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample-size", type=int, default=200_000, help="simulated users of each preset's market")
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    print(f"N = {args.sample_size:,} simulated users, {args.days} days, seeds 0-{args.seeds - 1}\n")
    print("| preset | D1 simulated | D1 published | D7 simulated | D7 published | D30 simulated | D30 published |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for preset, ranges in PUBLISHED.items():
        cfg = load_config([f"population={preset}", f"population.sample_size={args.sample_size}"])
        cfg = replace(cfg, horizon_days=args.days, progress=False, figures=False)
        runs = np.array(
            [
                [simulate(replace(cfg, seed=s)).summary["retention"][k] for k in ("d1", "d7", "d30")]
                for s in range(args.seeds)
            ]
        )
        mean, sd = 100 * runs.mean(axis=0), 100 * runs.std(axis=0, ddof=1) if args.seeds > 1 else np.zeros(3)
        cells = [f"{m:.1f} ± {s:.1f} % | {r}" for m, s, r in zip(mean, sd, ranges, strict=True)]
        print(f"| {preset} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
