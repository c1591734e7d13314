"""Figures of one run (matplotlib, Agg backend, readable in grayscale)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from sim.lifecycle import STAGE_NAMES
from sim.results import RETENTION_DAYS

if TYPE_CHECKING:
    from sim.results import Result

__all__ = ["retention_figure", "stages_figure"]

# Light-to-dark grey ramp plus hatching keeps stages apart without colour.
_STAGE_COLOURS = ["#f0f0f0", "#d9d9d9", "#9ecae1", "#4292c6", "#08519c", "#a1a1a1", "#525252"]
_STAGE_HATCH = ["", "..", "", "//", "", "\\\\", "xx"]


def _title(result: Result) -> str:
    cfg = result.config
    return f"{cfg.population.name}: M = {cfg.population.market_size:,}, seed {cfg.seed}"


def retention_figure(result: Result, path: str | Path) -> None:
    """Classic retention curve D_N with D1/D7/D30 marked, saved as PNG."""
    curve = result.retention_curve()
    days = np.arange(curve.size)
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    shown = min(curve.size, 91)
    ax.plot(days[1:shown], 100 * curve[1:shown], color="black", lw=1.8, label="classic retention D_N")
    for n, marker in zip(RETENTION_DAYS, ("o", "s", "D"), strict=True):
        if n < curve.size and np.isfinite(curve[n]):
            y = 100 * curve[n]
            ax.plot([n], [y], marker=marker, color="black", ms=7, ls="none")
            ax.annotate(f"D{n} = {y:.1f}%", (n, y), textcoords="offset points", xytext=(8, 6), fontsize=9)
    ax.set_xlabel("days since acquisition (N)")
    ax.set_ylabel("users active on day N (% of cohort)")
    ax.set_ylim(0, 100 * np.nanmax(curve[1:shown]) * 1.15 if shown > 1 else 100)
    ax.set_xlim(0, shown)
    ax.grid(alpha=0.3)
    ax.set_title(f"Retention, all cohorts pooled — {_title(result)}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)


def stages_figure(result: Result, path: str | Path) -> None:
    """Stacked area of acquired users by lifecycle stage over time, saved as PNG."""
    daily = result.daily
    stages = [s for s in STAGE_NAMES if s not in ("unaware", "aware")]
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    polys = ax.stackplot(
        daily["day"],
        *[daily[s] for s in stages],
        labels=stages,
        colors=_STAGE_COLOURS[2:],
        edgecolor="black",
        linewidth=0.3,
    )
    for poly, hatch in zip(polys, _STAGE_HATCH[2:], strict=True):
        poly.set_hatch(hatch)
    ax.plot(daily["day"], daily["dau"], color="black", lw=1.2, ls="--", label="DAU")
    ax.set_xlabel("day")
    ax.set_ylabel("users")
    ax.legend(loc="upper left", fontsize=8, ncol=2, framealpha=0.9)
    ax.grid(alpha=0.3)
    ax.set_title(f"Acquired users by lifecycle stage — {_title(result)}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)


def payback_figure(result: Result, path: str | Path) -> None:
    """Cumulative lever cost vs cumulative (incremental) gross profit, payback day marked."""
    daily = result.daily
    econ = result.summary["economics"]
    cur = econ["currency"]
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    ax.plot(daily["day"], daily["cost_total"].cumsum(), color="black", lw=1.8, label="cumulative cost")
    if "incremental_gross_profit" in daily:
        ax.plot(
            daily["day"],
            daily["incremental_gross_profit"].cumsum(),
            color="black",
            lw=1.8,
            ls="--",
            label="cumulative incremental gross profit (vs baseline)",
        )
    ax.plot(
        daily["day"],
        daily["gross_profit"].cumsum(),
        color="grey",
        lw=1.2,
        ls=":",
        label="cumulative gross profit (all)",
    )
    day = econ.get("payback_day")
    if day is not None:
        ax.axvline(day, color="black", lw=0.8)
        ax.annotate(f"payback: day {day}", (day, 0), xytext=(5, 8), textcoords="offset points", fontsize=9)
    ax.set_xlabel("day")
    ax.set_ylabel(cur)
    ax.legend(loc="upper left", fontsize=8, framealpha=0.9)
    ax.grid(alpha=0.3)
    ax.set_title(f"Cost and gross profit — strategy {result.config.strategy.name}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)


def spend_response_figure(result: Result, path: str | Path) -> None:
    """Spend → incremental users acquired, per ad channel (saturation shows as a bend)."""
    table = result.spend_response
    channels = list(dict.fromkeys(table["channel"]))
    fig, axes = plt.subplots(1, len(channels), figsize=(3.6 * len(channels) + 1, 3.8), dpi=120, squeeze=False)
    cur = result.summary["economics"]["currency"]
    for ax, channel in zip(axes[0], channels, strict=True):
        rows = table[table["channel"] == channel].sort_values("spend")
        ax.plot(rows["spend"], rows["incremental_new_users"], color="black", marker="o", lw=1.5)
        current = rows[rows["budget_multiplier"] == 1.0]
        ax.plot(
            current["spend"],
            current["incremental_new_users"],
            marker="s",
            ms=9,
            color="black",
            mfc="white",
            ls="none",
            label="configured budget",
        )
        ax.set_xlabel(f"total spend ({cur})")
        ax.set_ylabel("incremental users acquired")
        ax.set_title(f"{channel}", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    fig.suptitle("Spend response per ad channel (vs the channel at zero budget)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
