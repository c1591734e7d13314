"""Figures of one run: one style, readable in grayscale, labelled axes and units.

Every function takes plain data (arrays, DataFrames, dicts from the result
folder), draws on a given matplotlib ``Axes`` (or on a new ``Figure`` of its own)
and returns the figure; :func:`save_png` writes it. Figures are
``matplotlib.figure.Figure`` objects, not pyplot figures, so nothing here switches
the backend or keeps figures alive in pyplot's registry: a notebook user's
``plt`` state stays as it was, and the same code draws figures for a fresh run
and for ``opsim-report`` on an old folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.analysis.retention import HEADLINE_DAYS, LONG_TERM_DAYS
from sim.analysis.stats import binomial_half_width
from sim.core.lifecycle import STAGE_NAMES

__all__ = [
    "calibration_figure",
    "cohort_heatmap_figure",
    "funnel_figure",
    "growth_figure",
    "payback_figure",
    "retention_figure",
    "save_png",
    "spend_response_figure",
    "stages_figure",
]

Target = str | Path | IO[bytes]

# Light-to-dark grey/blue ramp plus hatching keeps series apart without colour.
_STAGE_COLOURS = ["#f0f0f0", "#d9d9d9", "#9ecae1", "#4292c6", "#08519c", "#a1a1a1", "#525252"]
_STAGE_HATCH = ["", "..", "", "//", "", "\\\\", "xx"]
_STYLE = {"figure.dpi": 120, "axes.grid": True, "grid.alpha": 0.3, "axes.titlesize": 10, "legend.fontsize": 8}


def _axes(ax: Axes | None, size: tuple[float, float]) -> tuple[Figure, Axes]:
    """The given Axes and its figure, or a new figure of ``size`` inches with one Axes."""
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=size)
    return fig, fig.add_subplot()


#: What an empty figure says: a run that acquired nobody has no cohort, growth or funnel to draw.
NO_USERS_TEXT = "no users were acquired in this run: nothing to draw"


def _no_data(ax: Axes, title: str, text: str = NO_USERS_TEXT) -> None:
    """An empty panel that says why it is empty (never a blank or a crash)."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title)


def save_png(fig: Figure, target: Target) -> None:
    """Lay the figure out and write it as PNG to a path or a binary file object."""
    fig.tight_layout()
    fig.savefig(target, format="png")


def retention_figure(curve: np.ndarray, users: np.ndarray, title: str, *, ax: Axes | None = None) -> Figure:
    """Classic retention D_N with its 95 % binomial interval, D1/D7/D30 marked."""
    with matplotlib.rc_context(_STYLE):
        fig, ax = _axes(ax, (7, 4.2))
        if not np.isfinite(curve).any():
            _no_data(ax, f"Retention, all cohorts pooled — {title}")
            return fig
        shown = min(curve.size, LONG_TERM_DAYS + 1)
        n = np.arange(shown)
        d = curve[:shown]
        half = binomial_half_width(d, users[:shown])
        ax.fill_between(n[1:], 100 * (d - half)[1:], 100 * (d + half)[1:], color="0.8", label="95 % interval")
        ax.plot(n[1:], 100 * d[1:], color="black", lw=1.8, label="classic retention D_N")
        for day, marker in zip(HEADLINE_DAYS, ("o", "s", "D"), strict=True):
            if day < shown and np.isfinite(d[day]):
                y = 100 * d[day]
                ax.plot([day], [y], marker=marker, color="black", ms=7, ls="none")
                ax.annotate(f"D{day} = {y:.1f}%", (day, y), textcoords="offset points", xytext=(8, 6), fontsize=9)
        top = np.nanmax(d[1:]) if shown > 1 and np.isfinite(d[1:]).any() else 1.0
        ax.set_ylim(0, 100 * (top if top > 0 else 1.0) * 1.15)  # nobody came back: a 0-100 % axis
        ax.set_xlim(0, shown)
        ax.set_xlabel("days since acquisition (N)")
        ax.set_ylabel("users active on day N (% of cohort)")
        ax.legend(loc="upper right")
        ax.set_title(f"Retention, all cohorts pooled — {title}")
    return fig


def stages_figure(daily: pd.DataFrame, title: str, *, ax: Axes | None = None) -> Figure:
    """Stacked area of acquired users by lifecycle stage over time, DAU dashed."""
    stages = [s for s in STAGE_NAMES if s not in ("unaware", "aware")]
    with matplotlib.rc_context(_STYLE):
        fig, ax = _axes(ax, (7, 4.2))
        if not daily[stages].to_numpy().any():
            _no_data(ax, f"Acquired users by lifecycle stage — {title}")
            return fig
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
        ax.legend(loc="upper left", ncol=2, framealpha=0.9)
        ax.set_title(f"Acquired users by lifecycle stage — {title}")
    return fig


def cohort_heatmap_figure(triangle: pd.DataFrame, title: str, *, ax: Axes | None = None) -> Figure:
    """Weekly cohort triangle: share of each acquisition week active in tenure week k."""
    cols = [c for c in triangle.columns if c.startswith("w") and c[1:].isdigit()]
    values = 100 * triangle[cols].to_numpy(dtype=float)
    with matplotlib.rc_context({**_STYLE, "axes.grid": False}):
        fig, ax = _axes(ax, (7, min(6.0, max(3.0, 0.12 * len(triangle) + 1.5))))
        if not np.isfinite(values).any():
            _no_data(ax, "Cohort retention by acquisition week")
            return fig
        later = values[:, 1:]
        im = ax.imshow(
            np.ma.masked_invalid(values),
            aspect="auto",
            cmap="Greys",
            vmin=0,
            vmax=np.nanmax(later) if np.isfinite(later).any() else 100,
        )
        ax.set_xticks(range(len(cols)), [c[1:] for c in cols])
        step = max(1, len(triangle) // 12)
        ax.set_yticks(range(0, len(triangle), step), triangle["cohort_week"].iloc[::step])
        ax.set_xlabel("weeks since acquisition")
        ax.set_ylabel("acquisition week")
        fig.colorbar(im, ax=ax, label="% of cohort active in the week (week 0 = 100 %)")
        ax.set_title("Cohort retention by acquisition week")
    return fig


def growth_figure(growth: pd.DataFrame, title: str, *, ax: Axes | None = None) -> Figure:
    """Weekly growth accounting: new, resurrected and retained up, churned down; quick ratio."""
    weeks = growth.iloc[:-1] if len(growth) > 1 else growth  # the last week is usually partial
    x = weeks.iloc[:, 0].to_numpy()
    with matplotlib.rc_context(_STYLE):
        fig, ax = _axes(ax, (8, 5.0))
        if not growth["active"].to_numpy().any():
            _no_data(ax, "Weekly growth accounting")
            return fig
        bottom = np.zeros(len(weeks))
        for name, colour, hatch in (
            ("retained", "#9ecae1", ""),
            ("new", "#08519c", ""),
            ("resurrected", "#4292c6", "//"),
        ):
            ax.bar(
                x, weeks[name], bottom=bottom, color=colour, edgecolor="black", linewidth=0.3, hatch=hatch, label=name
            )
            bottom += weeks[name].to_numpy()
        ax.bar(
            x,
            -weeks["churned"],
            color="#525252",
            edgecolor="black",
            linewidth=0.3,
            hatch="xx",
            label="churned (lapsed)",
        )
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xlabel("week")
        ax.set_ylabel("users active in the week")
        ax2 = ax.twinx()
        ax2.plot(x, weeks["quick_ratio"], color="black", lw=1.6, marker=".", label="quick ratio")
        ax2.axhline(1.0, color="black", lw=0.8, ls=":")
        ax2.set_ylabel("quick ratio (new + resurrected) / churned")
        ax2.grid(False)
        handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
        ax.legend(
            handles,
            [h.get_label() for h in handles],
            loc="upper center",
            bbox_to_anchor=(0.5, -0.13),
            ncol=5,
            frameon=False,
        )
        ax.set_title("Weekly growth accounting")
    return fig


def funnel_figure(funnel: dict[str, Any], title: str, *, ax: Axes | None = None) -> Figure:
    """Aware → acquired → retained → activated, with step conversion."""
    steps = ["aware", "acquired", "retained", "activated"]
    counts = [funnel[s] for s in steps]
    with matplotlib.rc_context(_STYLE):
        fig, ax = _axes(ax, (7, 3.6))
        bars = ax.barh(steps[::-1], counts[::-1], color=["#08519c", "#4292c6", "#9ecae1", "#d9d9d9"], edgecolor="black")
        for bar, step in zip(bars, steps[::-1], strict=True):
            rate = funnel.get(f"{step}_rate")
            text = f"{funnel[step]:,}" + (
                f"  ({100 * rate:.1f} % of previous)" if rate is not None and np.isfinite(rate) else ""
            )
            ax.annotate(
                text,
                (bar.get_width(), bar.get_y() + bar.get_height() / 2),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
                fontsize=9,
            )
        ax.set_xlim(0, max(counts) * 1.5 if max(counts) else 1)
        ax.set_xlabel("users (ever)")
        ax.set_title(f"Funnel — {title}")
    return fig


def payback_figure(daily: pd.DataFrame, economics: dict[str, Any], strategy: str, *, ax: Axes | None = None) -> Figure:
    """Cumulative lever cost vs cumulative (incremental) gross profit, payback day marked."""
    cur = economics["currency"]
    with matplotlib.rc_context(_STYLE):
        fig, ax = _axes(ax, (7, 4.2))
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
        day = economics.get("payback_day")
        if day is not None:
            ax.axvline(day, color="black", lw=0.8)
            ax.annotate(f"payback: day {day}", (day, 0), xytext=(5, 8), textcoords="offset points", fontsize=9)
        ax.set_xlabel("day")
        ax.set_ylabel(cur)
        ax.legend(loc="upper left", framealpha=0.9)
        ax.set_title(f"Cost and gross profit — strategy {strategy}")
    return fig


def spend_response_figure(table: pd.DataFrame, currency: str, *, fig: Figure | None = None) -> Figure:
    """Spend → incremental users acquired, per ad channel (saturation shows as a bend)."""
    channels = list(dict.fromkeys(table["channel"]))
    with matplotlib.rc_context(_STYLE):
        if fig is None:
            fig = Figure(figsize=(3.6 * len(channels) + 1, 3.8))
        axes = fig.subplots(1, len(channels), squeeze=False)
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
            ax.set_xlabel(f"total spend ({currency})")
            ax.set_ylabel("incremental users acquired")
            ax.set_title(channel)
            ax.legend(loc="lower right")
        fig.suptitle("Spend response per ad channel (vs the channel at zero budget)", fontsize=10)
    return fig


#: Observed points are drawn with ± this many standard errors.
OBSERVED_SE_BARS = 2


def calibration_figure(
    table: pd.DataFrame, title: str, *, fitted_label: str = "simulated (calibrated)", ax: Axes | None = None
) -> Figure:
    """Observed retention (± 2 SE) against the calibrated simulation and its band over other seeds.

    ``table``'s first column is the x axis (day or period); it has ``observed``,
    ``fitted`` and optionally ``observed_se``, ``band_low`` and ``band_high`` (shares).
    """
    with matplotlib.rc_context(_STYLE):
        fig, ax = _axes(ax, (7, 4.2))
        x = table.iloc[:, 0]
        if "band_low" in table:
            ax.fill_between(
                x, 100 * table["band_low"], 100 * table["band_high"], color="0.85", label="range over other seeds"
            )
        ax.errorbar(
            x,
            100 * table["observed"],
            yerr=100 * OBSERVED_SE_BARS * table.get("observed_se", 0 * x),
            fmt="o",
            color="black",
            ms=4,
            label=f"observed (± {OBSERVED_SE_BARS} SE)",
        )
        ax.plot(x, 100 * table["fitted"], color="black", lw=1.8, label=fitted_label)
        ax.set_xlabel(table.columns[0])
        ax.set_ylabel("%")
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=8)
        ax.set_title(title, fontsize=10)
    return fig
