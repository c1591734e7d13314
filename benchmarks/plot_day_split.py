"""Draw where a day of one run on 2 cores goes, from ``bench_day_split.py``'s JSON.

One panel per strategy (organic and every lever), milliseconds a day, the figures of
the JSON file as they are:

* **1 thread**: one core steps both shares of the chunks, one after the other, then
  the rest of the model's day;
* **2 processes**, the run's own process: its share of the chunks, then the rest of its
  day — waiting for the worker's last chunk, and its other work (the levers' state
  pickled and sent, the worker's results taken and added up, the bookings, the tallies,
  the DataCollector);
* **2 processes**, the worker: taking the day's state and checking its copy (its other
  work), its share of the chunks, and idle for the rest of the day.

Two lines mark half the 1-thread day (2x) and the day the 1.7x target asks for.

Usage:
    python benchmarks/plot_day_split.py [--json benchmarks/results/day_split.json] [--out docs/img/day_split.png]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from matplotlib.figure import Figure

from sim.output.figures import save_png
from sim.output.style import PALETTE, house_style

HERE = Path(__file__).resolve().parent
#: The panels: the JSON's key of each strategy, and its title.
STRATEGIES = (("baseline", "organic (no lever)"), ("balanced_mix", "every lever (balanced_mix)"))
#: The speed-up the issue's target 3 asks for on 2 cores.
TARGET_SPEEDUP = 1.7
#: Colours of the parts of a day.
MODEL_SHARE, WORKER_SHARE = PALETTE[0], PALETTE[1]
WAITING, OTHER_WORK, IDLE = "#c9c9c9", PALETTE[3], "white"
#: The legend's name of a process's work besides the chunks.
OTHER = "other work (the day's state sent or taken, results added up, checks)"


def _bars(figures: dict) -> list[tuple[str, list[tuple[float, str, str]]]]:
    """Per bar (label, [(milliseconds, colour, part), ...]) in the order drawn, top to bottom."""
    one, two = figures["threads_1"], figures["processes_2"]
    waits = two["model_waits"]
    worker_busy = two["worker_other"] + two["other"]
    return [
        (
            "1 thread",
            [
                (one["own"], MODEL_SHARE, "first share of the chunks"),
                (one["other"], WORKER_SHARE, "second share of the chunks"),
                (one["rest"], OTHER_WORK, OTHER),
            ],
        ),
        (
            "2 processes:\nthe run's own",
            [
                (two["own"], MODEL_SHARE, "first share of the chunks"),
                (waits, WAITING, "waiting for the other process"),
                (two["rest"] - waits, OTHER_WORK, OTHER),
            ],
        ),
        (
            "2 processes:\nthe worker",
            [
                (two["worker_other"], OTHER_WORK, OTHER),
                (two["other"], WORKER_SHARE, "second share of the chunks"),
                (max(0.0, two["day"] - worker_busy), IDLE, "idle"),
            ],
        ),
    ]


def draw(results: dict, out: Path) -> None:
    """Write the figure of ``results`` (``bench_day_split.py``'s JSON) to ``out`` as PNG."""
    with house_style():
        fig = Figure(figsize=(8.0, 5.6), layout="constrained")  # no pyplot: nothing global
        axes = fig.subplots(len(STRATEGIES), 1, sharex=True)
        seen: dict[str, object] = {}
        for ax, (key, title) in zip(axes, STRATEGIES, strict=True):
            figures = results[key]
            one_day, two_day = figures["threads_1"]["day"], figures["processes_2"]["day"]
            bars = _bars(figures)
            for row, (_label, parts) in enumerate(bars):
                left = 0.0
                for ms, colour, part in parts:
                    drawn = ax.barh(
                        row, ms, left=left, color=colour, edgecolor="#555555", linewidth=0.6, height=0.62, label=part
                    )
                    seen.setdefault(part, drawn)
                    left += ms
                ax.text(left + 0.15, row, f"{left:.2f} ms", va="center", fontsize=8.5)
            ax.set_yticks(range(len(bars)), [label for label, _parts in bars])
            ax.invert_yaxis()
            half = ax.axvline(one_day / 2, color="black", linestyle=":", linewidth=1.2)
            target = ax.axvline(one_day / TARGET_SPEEDUP, color=PALETTE[2], linestyle="--", linewidth=1.2)
            seen.setdefault("2× (half the 1-thread day)", half)
            seen.setdefault(f"{TARGET_SPEEDUP}× (the target)", target)
            ax.set_title(f"{title}: {one_day / two_day:.2f}× on 2 cores", loc="left")
        axes[-1].set_xlabel("milliseconds a day (1,000,000 users, 365 days; the round with the shortest day)")
        fig.legend(list(seen.values()), list(seen), loc="outside lower center", ncol=2, fontsize=8.5, frameon=False)
        out.parent.mkdir(parents=True, exist_ok=True)
        save_png(fig, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--json", type=Path, default=HERE / "results" / "day_split.json", help="bench_day_split.py's JSON"
    )
    parser.add_argument("--out", type=Path, default=HERE.parent / "docs" / "img" / "day_split.png", help="the PNG")
    args = parser.parse_args()
    draw(json.loads(args.json.read_text(encoding="utf-8")), args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
