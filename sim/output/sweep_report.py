"""The sweep's comparison: ranked table (Markdown, CSV, Parquet), figures and one page that answers first.

Everything here is drawn from the per-job table and the per-point table of
:mod:`sim.analysis.sweep_stats`; :func:`write_sweep_summary` writes the files of
the sweep folder (each atomically):

* ``sweep_jobs.parquet`` (one row per job), ``sweep_summary.parquet`` / ``.csv`` /
  ``.md`` (one row per point: cost, incremental users, profit and ROI, retention,
  CAC, LTV, payback, each with its 95 % interval over seeds: a t-interval, the ROI's and
  the CAC's by the delta method for a ratio of sums, clipped to what a value can be;
  P(best); rank),
  ``failures.json``;
* figures ``sweep_points.png`` (every point's incremental profit and ROI with
  intervals, readable from 2 to 50 points), ``sweep_retention.png`` (top three
  points, pooled exactly as the table's D1/D7/D30), and where they apply
  ``sweep_heatmap.png`` (two swept numbers, values in the cells) and
  ``sweep_response.png`` (a swept budget knob or a single swept number);
* ``report.html`` — the verdict on the best point, what was swept, the ranked
  table (it fits a 1280 px window), the definitions, the figures and the failures.

Point labels hold only the keys that vary (:mod:`sim.analysis.sweep_labels`).
"""

from __future__ import annotations

import html
import json
import math
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import Normalize, TwoSlopeNorm
from matplotlib.figure import Figure

from sim.analysis.retention import LONG_TERM_DAYS, MIN_POOLED_SHARE, pooled_curve_from_table
from sim.analysis.stats import MIN_INTERVAL_VALUES, t_interval
from sim.analysis.sweep_labels import human_value, short_keys
from sim.analysis.sweep_stats import BOUNDS, METRICS
from sim.output.figures import save_png, target_axes
from sim.output.files import write_atomic, write_json, write_text
from sim.output.formatting import MISSING, compact, counted, digits_for, is_number, money, number, percent, ratio
from sim.output.glossary import definitions
from sim.output.html import Cell, definitions_html, figure_html, page, table_html
from sim.output.style import (
    BASELINE,
    LOSS,
    NEUTRAL,
    PALETTE,
    STRATEGY,
    compact_formatter,
    house_style,
    money_formatter,
    percent_formatter,
    text_colour_on,
)
from sim.output.verdict import sweep_verdict, verdict_html

__all__ = [
    "RetentionCurve",
    "retention_curves",
    "retention_curves_figure",
    "sweep_heatmap_figure",
    "sweep_markdown",
    "sweep_points_figure",
    "sweep_response_figure",
    "sweep_retention_figure",
    "write_sweep_summary",
]

#: Swept keys that are budget knobs: the response figure uses the first one.
BUDGET_KNOBS = ("daily_budget", "messages_per_week", "reach", "invite_rate", "reward_referrer", "value")
#: The response figure draws one line per setting of the other swept keys up to this many, else their average.
MAX_RESPONSE_LINES = 6
#: Points whose retention curves are drawn.
TOP_POINTS = 3
#: Columns of the jobs table that are not swept parameters.
JOB_COLUMNS = ("job", "point", "seed", "days")
#: Point labels in figures wrap at this many characters.
LABEL_WIDTH = 38
#: Height of one point's row in the points figure, and the rest of the figure (inches).
ROW_INCHES, FRAME_INCHES = 0.3, 1.5


def _shown(root: Path) -> str:
    """The sweep folder as written in the summary: relative to the working directory when inside it."""
    try:
        return str(root.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(root)


@dataclass(frozen=True)
class SweepContext:
    """What every job of the sweep shares: money unit, margin, horizon (read from a job's summary)."""

    currency: str
    margin: float
    horizon_days: int
    ltv_days: int | None

    @classmethod
    def read(cls, root: Path, jobs: pd.DataFrame) -> SweepContext:
        """From the first finished job's ``summary.json``."""
        summary: dict[str, Any] = {}
        if len(jobs):
            path = root / jobs["job"].iloc[0] / "summary.json"
            summary = json.loads(path.read_text()) if path.is_file() else {}
        econ = summary.get("economics") or {}
        days = jobs["days"].max() if "days" in jobs and jobs["days"].notna().any() else summary.get("days", 0)
        return cls(
            currency=str(econ.get("currency", "")),
            margin=float(econ.get("margin", float("nan"))),
            horizon_days=int(days or 0),
            ltv_days=(econ.get("ltv") or {}).get("days"),
        )


def _payback_known(row: pd.Series) -> bool:
    """Whether a point's payback is known: it spends nothing, or its jobs ran the baseline (incremental profit).

    Without the baseline (``economics.compare_to_baseline=false``) no job has an
    incremental profit, and "paid back 0 of 2 seeds" would read as a verdict.
    """
    return is_number(row["incremental_profit"]) or not is_number(row["cost"]) or row["cost"] == 0


def _params(jobs: pd.DataFrame) -> list[str]:
    return [c for c in jobs.columns if c not in (*JOB_COLUMNS, *METRICS)]


def _cell_md(row: pd.Series, m: str, fmt: Any) -> str:
    mean, lo, hi = row[m], row[f"{m}_lo"], row[f"{m}_hi"]
    if not is_number(mean):
        return MISSING
    return fmt(mean) + (f" [{fmt(lo)}, {fmt(hi)}]" if is_number(lo) else "")


#: How a point's ROI and its interval are made, and where an interval is clipped: said under the ranked table.
ESTIMATES_NOTE = (
    "ROI = the seeds' summed net gain / their summed cost and CAC = their summed cost / their summed "
    "incremental users (not the means of the seeds' ratios), each interval by the delta method for a ratio; "
    "an interval is clipped to what the value can be (a cost, CAC or payback day at least 0, a retention "
    "within 0–100 %)"
)
#: Relative difference of an interval's two sides below which it is shown as ± half-width.
SYMMETRIC = 1e-9


def interval_legend(table: pd.DataFrame, shown_as: str) -> str:
    """What a point's interval is, in words: a t-interval over seeds, none for a point of one seed.

    A point of one seed has no interval (one value has no spread); the legend says so
    rather than name a t-interval over one seed.

    Args:
        table: The sweep's points (:func:`sim.analysis.sweep_stats.summarize_points`).
        shown_as: How the table shows an interval (``"[low, high] ="``), said only where there is one.

    """
    seeds = table["seeds"]
    needs = f"an interval needs {MIN_INTERVAL_VALUES} seeds or more"
    if seeds.max() < MIN_INTERVAL_VALUES:
        return f"no interval: one seed per point ({needs})"
    legend = f"{shown_as} 95 % t-interval over seeds"
    return legend + (f" (none for a point of one seed: {needs})" if seeds.min() < MIN_INTERVAL_VALUES else "")


def sweep_markdown(table: pd.DataFrame, failures: list[dict[str, Any]], root: Path, currency: str = "") -> str:
    """The ranked table and the failures as Markdown."""

    def cash(x: Any) -> str:
        return money(x, "", digits=0)

    def share(x: Any) -> str:
        return percent(x)

    def two(x: Any) -> str:
        return number(x, 2)

    unit = f" ({currency})" if currency else ""
    lines = [
        f"# Sweep summary: {_shown(root)}",
        "",
        f"Ranked by mean {table['rank_metric'].iloc[0].replace('_', ' ')}; {interval_legend(table, '[low, high] =')}; {ESTIMATES_NOTE}; "
        "paid back = seeds at which the point paid back within the horizon; "
        "LTV only where every seed projected its tail (a run too short leaves it out); "
        "P(best) = share of seeds (paired: same random numbers) at which the point is best.",
        "",
        f"| rank | point | seeds | cost{unit} | incremental users | {_profit_label(table)}{unit} | incremental ROI | "
        f"D1 | D7 | D30 | CAC{unit} | LTV{unit} | payback day | paid back | P(best) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for _, r in table.iterrows():
        cells = [
            str(r["rank"]),
            str(r["point"]),
            str(r["seeds"]),
            _cell_md(r, "cost", cash),
            _cell_md(r, "incremental_users", lambda x: number(x)),
            _cell_md(r, _profit_metric(table), cash),
            _cell_md(r, "incremental_roi", lambda x: ratio(x, signed=False)),
            _cell_md(r, "d1", share),
            _cell_md(r, "d7", share),
            _cell_md(r, "d30", share),
            _cell_md(r, "cac", two),
            _cell_md(r, "ltv", two),
            _cell_md(r, "payback_day", lambda x: number(x)),
            f"{r['paid_back']}/{r['seeds']}" if _payback_known(r) else MISSING,
            number(r["p_best"], 2),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    if failures:
        lines += ["", f"## {len(failures)} failed job(s)", ""]
        lines += [f"- `{f['job']}` ({f['point']}, seed {f['seed']}): {f['error']}" for f in failures]
    return "\n".join(lines) + "\n"


def _save(fig: Figure, root: Path, name: str) -> str:
    """Write a figure atomically; return the file name."""
    write_atomic(root / name, lambda p: save_png(fig, p))
    return name


def _plain(text: str) -> str:
    """A swept value as literal figure text: ``$`` would start matplotlib's math mode."""
    return text.replace("$", r"\$")


def _wrapped(label: str) -> str:
    return _plain("\n".join(textwrap.wrap(label, LABEL_WIDTH, break_long_words=True)) or label)


def sweep_points_figure(table: pd.DataFrame, currency: str = "", *, fig: Figure | None = None) -> Figure:
    """Every point's ranking metric and ROI: mean over seeds, 95 % interval where there are two seeds or more.

    Two panels side by side: drawn into ``fig`` (or a new Figure).
    """
    metric = table["rank_metric"].iloc[0]
    roi = "incremental_roi" if metric.startswith("incr") else "roi"
    n = len(table)
    lines = sum(_wrapped(p).count("\n") + 1 for p in table["point"])
    with house_style():
        if fig is None:
            fig = Figure(figsize=(10, ROW_INCHES * max(n, lines * 0.75) + FRAME_INCHES))
        axes = fig.subplots(1, 2, sharey=True)
        y = np.arange(n)[::-1]
        for ax, m in zip(axes, (metric, roi), strict=True):
            label = m.replace("_", " ").replace("roi", "ROI")
            mean, lo, hi = (table[c].to_numpy(float) for c in (m, f"{m}_lo", f"{m}_hi"))
            colours = [STRATEGY if i == 0 else (LOSS if v < 0 else BASELINE) for i, v in enumerate(mean)]
            has = np.isfinite(lo) & np.isfinite(hi)
            for yi, a, b, c in zip(y[has], lo[has], hi[has], np.array(colours)[has], strict=True):
                ax.plot([a, b], [yi, yi], color=c, lw=2.2, solid_capstyle="butt")
            ax.scatter(mean, y, color=colours, zorder=3, s=22)
            ax.axvline(0, color=NEUTRAL, lw=0.8)
            is_money = m in ("incremental_profit", "profit")
            ax.xaxis.set_major_formatter(money_formatter(currency) if is_money else compact_formatter())
            ax.tick_params(axis="x", labelrotation=25 if is_money else 0)
            ax.set_xlabel(f"{label} (mean; bar: 95 % interval over seeds)")
            ax.grid(axis="y", visible=False)
        axes[0].set_yticks(y, [_wrapped(p) for p in table["point"]], fontsize=8 if n <= 20 else 7)
        axes[0].set_ylim(-0.7, n - 0.3)
        title = "Sweep points, best first (highlighted); red: below zero"
        if not np.isfinite(table[f"{metric}_lo"].to_numpy(float)).any():
            title += " — one seed per point: no intervals"
        fig.suptitle(title, x=0.01, ha="left", fontsize=10.5, fontweight="bold", wrap=True)
    return fig


@dataclass(frozen=True)
class RetentionCurve:
    """One point's pooled classic retention over its seeds.

    Attributes:
        point: The point's label.
        mean: D_0 … D_90, mean over the seeds that observe each day (NaN where none does).
        half_width: Half-width of the 95 % t-interval over seeds (NaN with fewer than two).
        users: Users behind each D_N, summed over seeds.

    """

    point: str
    mean: np.ndarray
    half_width: np.ndarray
    users: np.ndarray

    @property
    def low(self) -> np.ndarray:
        """Lower end of the interval, clipped to 0–1 as the table's D1/D7/D30 (NaN where there is none)."""
        return np.clip(self.mean - self.half_width, *BOUNDS["d1"])

    @property
    def high(self) -> np.ndarray:
        """Upper end of the interval, clipped to 0–1 as the table's D1/D7/D30 (NaN where there is none)."""
        return np.clip(self.mean + self.half_width, *BOUNDS["d1"])


def retention_curves(
    jobs: pd.DataFrame, table: pd.DataFrame, root: Path, top: int = TOP_POINTS
) -> list[RetentionCurve]:
    """Pooled classic retention of the ``top`` points, each seed pooled exactly as its ``summary.json``.

    Each job's curve comes from its ``cohorts.parquet`` (:func:`pooled_curve_from_table`:
    D_N = Σ active / Σ cohort size over the cohorts observed N days), so its D1, D7 and
    D30 are the job's summary values, and the mean over seeds is the table's.
    """
    out = []
    for point in table["point"].head(top):
        curves, users = [], np.zeros(LONG_TERM_DAYS + 1)
        for job in jobs.loc[jobs["point"] == point, "job"]:
            curve, u = pooled_curve_from_table(pd.read_parquet(root / job / "cohorts.parquet"))
            curves.append(curve)
            users += u
        stats = [t_interval(column) for column in np.array(curves).T]
        mean = np.array([s[0] for s in stats])
        half = np.array([(s[2] - s[1]) / 2 for s in stats])
        out.append(RetentionCurve(point, mean, half, users))
    return out


def sweep_retention_figure(
    jobs: pd.DataFrame, table: pd.DataFrame, root: Path, *, ax: Axes | None = None, top: int = TOP_POINTS
) -> Figure:
    """Retention curves of the ``top`` points (:func:`retention_curves`): mean over seeds, 95 % interval where it exists."""
    return retention_curves_figure(retention_curves(jobs, table, root, top), ax=ax)


def retention_curves_figure(curves: list[RetentionCurve], *, ax: Axes | None = None) -> Figure:
    """Retention curves of sweep points: mean over seeds, with the 95 % interval where it exists."""
    with house_style():
        fig, ax = target_axes(ax, (7.5, 4.4))
        drew_band = False
        for i, c in enumerate(curves):
            colour = PALETTE[i % len(PALETTE)]
            keep = np.isfinite(c.mean) & (c.users >= MIN_POOLED_SHARE * c.users[1])
            keep[0] = False
            n = np.flatnonzero(keep)
            ax.plot(n, 100 * c.mean[n], color=colour, ls=("-", "--", ":")[i % 3], label=_plain(f"{i + 1}. {c.point}"))
            band = keep & np.isfinite(c.half_width)
            if band.any():
                drew_band = True
                b = np.flatnonzero(band)
                lo, hi = 100 * c.low[b], 100 * c.high[b]
                ax.fill_between(b, lo, hi, color=colour, alpha=0.18, lw=0)
        ax.set_xlabel("days since acquisition (N)")
        ax.set_ylabel("classic retention D_N (% of cohort)")
        ax.yaxis.set_major_formatter(percent_formatter())
        ax.set_ylim(bottom=0)
        ax.legend(loc="upper right", fontsize=8)
        band = "shaded: 95 % interval over seeds" if drew_band else "one seed per point: no interval"
        ax.set_title(
            f"Retention of the top {len(curves)} points (mean over seeds; {band})", fontweight="bold", wrap=True
        )
    return fig


def sweep_heatmap_figure(
    jobs: pd.DataFrame, a: str, b: str, metric: str, currency: str = "", *, ax: Axes | None = None
) -> Figure:
    """The ranking metric's mean over two swept numbers, values in the cells (diverging at zero)."""
    pivot = jobs.assign(**{a: pd.to_numeric(jobs[a]), b: pd.to_numeric(jobs[b])}).pivot_table(
        index=a, columns=b, values=metric, aggfunc="mean"
    )
    values = pivot.to_numpy(dtype=float)
    short = short_keys([a, b])
    with house_style():
        size = (max(5.5, 1.1 * pivot.shape[1] + 2.5), max(3.5, 0.55 * pivot.shape[0] + 1.8))
        fig, ax = target_axes(ax, size)
        lo, hi = np.nanmin(values), np.nanmax(values)
        if lo < 0 < hi:
            cmap, norm = "PuOr", TwoSlopeNorm(vcenter=0.0, vmin=lo, vmax=hi)
        else:
            cmap, norm = "cividis", Normalize(vmin=lo, vmax=hi if hi > lo else lo + 1)
        im = ax.imshow(values, cmap=cmap, norm=norm, aspect="auto", origin="lower")
        ax.grid(False)
        ax.set_xticks(range(pivot.shape[1]), [human_value(f"{v:g}") for v in pivot.columns])
        ax.set_yticks(range(pivot.shape[0]), [human_value(f"{v:g}") for v in pivot.index])
        for i in range(pivot.shape[0]):
            for j in range(pivot.shape[1]):
                if np.isfinite(values[i, j]):
                    colour = text_colour_on(im.cmap(norm(values[i, j])))
                    ax.text(j, i, compact(values[i, j]), ha="center", va="center", fontsize=8.5, color=colour)
        ax.set_xlabel(short[b])
        ax.set_ylabel(short[a])
        fig.colorbar(im, ax=ax, label=f"mean {metric.replace('_', ' ')} ({currency})", format=money_formatter(""))
        ax.set_title(f"Mean {metric.replace('_', ' ')} over the two swept numbers", fontweight="bold", wrap=True)
    return fig


def sweep_response_figure(
    jobs: pd.DataFrame, key: str, metric: str, currency: str = "", *, ax: Axes | None = None
) -> Figure:
    """The ranking metric against one swept number, one line per setting of the other swept keys.

    Each line is the mean over seeds with its 95 % t-interval (where there are two seeds
    or more); beyond :data:`MAX_RESPONSE_LINES` settings the others are averaged over.
    """
    others = [p for p in _params(jobs) if p != key and jobs[p].astype(str).nunique() > 1]
    short = short_keys([key, *others])
    data = jobs.assign(_x=pd.to_numeric(jobs[key]))
    groups = list(data.groupby(others, sort=True)) if others else [((), data)]
    pooled = len(groups) > MAX_RESPONSE_LINES
    if pooled:
        groups = [((), data)]
    with house_style():
        fig, ax = target_axes(ax, (7.5, 4.4))
        any_interval = False
        for i, (setting, rows) in enumerate(groups):
            stats = rows.groupby("_x")[metric].apply(lambda v: t_interval(v.to_numpy(float)))
            xs = stats.index.to_numpy(float)
            mean = np.array([s[0] for s in stats])
            half = np.array([(s[2] - s[1]) / 2 for s in stats])
            values = setting if isinstance(setting, tuple) else (setting,)
            label = _plain(" · ".join(f"{short[o]}={human_value(v)}" for o, v in zip(others, values, strict=False)))
            colour = PALETTE[i % len(PALETTE)]
            ax.plot(xs, mean, color=colour, marker="o", label=label if label and not pooled else None)
            has = np.isfinite(half)
            if has.any():
                any_interval = True
                ax.errorbar(xs[has], mean[has], yerr=half[has], fmt="none", color=colour, capsize=3)
        ax.axhline(0, color=NEUTRAL, lw=0.8)
        ax.xaxis.set_major_formatter(compact_formatter())
        ax.yaxis.set_major_formatter(money_formatter(currency))
        ax.set_xlabel(short[key])
        ax.set_ylabel(f"{metric.replace('_', ' ')} ({'mean, 95 % interval' if any_interval else 'one seed'})")
        if others and not pooled:
            ax.legend(fontsize=8)
        note = f", averaged over {', '.join(short[o] for o in others)}" if pooled else ""
        ax.set_title(f"Response to {short[key]}{note}", fontweight="bold", wrap=True)
    return fig


def _figures(jobs: pd.DataFrame, table: pd.DataFrame, root: Path, currency: str) -> list[str]:
    metric = table["rank_metric"].iloc[0]
    written = [
        _save(sweep_points_figure(table, currency), root, "sweep_points.png"),
        _save(sweep_retention_figure(jobs, table, root), root, "sweep_retention.png"),
    ]
    params = _params(jobs)
    numeric = [p for p in params if pd.to_numeric(jobs[p], errors="coerce").notna().all() and jobs[p].nunique() > 1]
    if len(numeric) == 2:
        written.append(_save(sweep_heatmap_figure(jobs, *numeric, metric, currency), root, "sweep_heatmap.png"))
    budget = [p for p in numeric if p.endswith(BUDGET_KNOBS)]
    if len(numeric) == 1 or budget:
        key = budget[0] if budget else numeric[0]
        written.append(_save(sweep_response_figure(jobs, key, metric, currency), root, "sweep_response.png"))
    return written


CAPTIONS = {
    "sweep_points.png": "Every point's mean incremental profit and ROI over seeds (profit and ROI where no baseline "
    "run was made), best first; the bars are 95 % t-intervals over seeds (drawn only where a point has two seeds or "
    "more).",
    "sweep_retention.png": "Classic retention of the three best points, each seed pooled over all its cohorts exactly "
    "as the table's D1/D7/D30, then averaged over seeds.",
    "sweep_heatmap.png": "Mean of the ranking metric over the two swept numbers (averaged over seeds and any other "
    "swept key); the colour scale turns at zero.",
    "sweep_response.png": "The ranking metric against a swept budget knob (or the one swept number): mean over seeds "
    "with its 95 % t-interval (where a point has two seeds or more).",
}


#: The definitions a sweep page shows.
SWEEP_TERMS = (
    "verdict",
    "cost",
    "incremental users",
    "incremental profit",
    "incremental ROI",
    "payback day",
    "classic D1 / D7 / D30",
    "interval (over seeds)",
    "P(best)",
    "seeds",
)

SWEEP_CSS = """
table.ranked { font-size: 0.88em; }
table.ranked th, table.ranked td { padding: 4px 6px; }
table.ranked td.point, table.ranked th[scope=row] { min-width: 12em; max-width: 22em; overflow-wrap: anywhere; }
ul.swept li { margin: 0.15em 0; }
"""


def _interval_cell(row: pd.Series, m: str, fmt: Any, key: str) -> Cell:
    """A mean with its interval: ± half-width, or low to high where the interval was clipped (not symmetric)."""
    mean, lo, hi = row[m], row[f"{m}_lo"], row[f"{m}_hi"]
    note = ""
    if is_number(lo) and is_number(hi) and hi > lo:
        symmetric = math.isclose(mean - lo, hi - mean, rel_tol=SYMMETRIC)
        note = f"± {fmt((hi - lo) / 2).lstrip('+')}" if symmetric else f"{fmt(lo)} to {fmt(hi)}"
    return Cell(fmt(mean), mean if is_number(mean) else None, note=note, numeric=True, key=key)


def _profit_metric(table: pd.DataFrame) -> str:
    """The money column the table shows: the ranking's own, incremental profit, or profit without the baseline runs.

    Without them (``economics.compare_to_baseline=false``) every incremental column is
    empty and the points are ranked by profit, which the table then shows in its place.
    """
    return "profit" if str(table["rank_metric"].iloc[0]) == "profit" else "incremental_profit"


def _profit_label(table: pd.DataFrame) -> str:
    return "profit, no baseline run" if _profit_metric(table) == "profit" else "incremental profit"


def _ranked_table(table: pd.DataFrame, currency: str) -> str:
    profit = _profit_metric(table)
    rows = []
    for _, r in table.iterrows():
        half_roi = (r["incremental_roi_hi"] - r["incremental_roi_lo"]) / 2
        roi_digits = digits_for(half_roi, 2)
        rows.append(
            [
                Cell(str(r["rank"]), r["rank"]),
                Cell(str(r["point"]), key="point"),
                Cell(str(r["seeds"]), r["seeds"]),
                _interval_cell(r, "cost", lambda x: money(x, currency, digits=0), "cost"),
                _interval_cell(r, "incremental_users", lambda x: number(x, signed=True), "incremental_users"),
                _interval_cell(r, profit, lambda x: money(x, currency, signed=True, digits=0), profit),
                _interval_cell(r, "incremental_roi", lambda x, d=roi_digits: ratio(x, d), "incremental_roi"),
                _interval_cell(r, "d30", percent, "d30"),
                Cell(
                    f"{number(r['payback_day'])}"
                    if is_number(r["payback_day"])
                    else ("not paid back" if _payback_known(r) else "unknown without the baseline run"),
                    r["payback_day"] if is_number(r["payback_day"]) else None,
                    note=f"{r['paid_back']} of {r['seeds']} seeds" if _payback_known(r) else "",
                    numeric=True,
                    key="payback_day",
                ),
                Cell(number(r["p_best"], 2), r["p_best"], key="p_best"),
            ]
        )
    header = [
        Cell("rank", numeric=True),
        "point",
        Cell("seeds", numeric=True),
        Cell("cost", numeric=True),
        Cell("incremental users", numeric=True),
        Cell(_profit_label(table), numeric=True),
        Cell("incremental ROI", numeric=True),
        Cell("D30", numeric=True),
        Cell("payback day", numeric=True),
        Cell("P(best)", numeric=True),
    ]
    classes = ["best" if i == 0 else "" for i in range(len(rows))]
    return table_html(header, rows, row_classes=classes, css_class="ranked", row_headers=False)


def _sorted_values(values: Any) -> list[str]:
    """Distinct values, numbers in numeric order, then the rest in the order met."""
    distinct = list(dict.fromkeys(values))
    numbers = sorted((v for v in distinct if is_number(_as_float(v))), key=lambda v: float(v))
    return numbers + [v for v in distinct if not is_number(_as_float(v))]


def _as_float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _swept_html(jobs: pd.DataFrame, failures: list[dict[str, Any]]) -> str:
    """What was swept (every value of each varying key) and what every job shares."""
    params = _params(jobs)
    rows = [*jobs[params].astype(str).to_dict("records"), *(f.get("params", {}) for f in failures)]
    values = {p: _sorted_values(str(r.get(p)) for r in rows if r.get(p) is not None) for p in params}
    varying = [p for p in params if len(values[p]) > 1]
    short = short_keys(varying)
    items = [
        f"<li><b>{html.escape(short[p])}</b> <span class='small'>({html.escape(p)})</span>: "
        f"{html.escape(', '.join(human_value(v) for v in values[p]))}</li>"
        for p in varying
    ]
    seeds = sorted(jobs["seed"].dropna().unique()) if "seed" in jobs else []
    if seeds:
        items.append(f"<li><b>seeds</b>: {len(seeds)} ({html.escape(', '.join(str(int(s)) for s in seeds))})</li>")
    fixed = [f"{p}={values[p][0]}" for p in params if len(values[p]) == 1]
    if fixed:
        items.append(f"<li>the same in every job: <code>{html.escape(' '.join(fixed))}</code></li>")
    return f'<ul class="swept">{"".join(items)}</ul>'


def _sweep_page(
    root: Path,
    jobs: pd.DataFrame,
    table: pd.DataFrame,
    failures: list[dict[str, Any]],
    figures: list[str],
    context: SweepContext,
    index: bool = False,
) -> None:
    """One self-contained HTML page for the sweep: verdict, what was swept, ranked table, definitions, figures.

    ``index``: link ``index.html`` (every run's report), which the caller has just written for these jobs.
    """
    best = table.iloc[0]
    if is_number(best["cost"]) and best["cost"] > 0:
        verdict = verdict_html(
            sweep_verdict(
                best,
                subject=f"best point ({best['point']})",
                currency=context.currency,
                horizon_days=context.horizon_days,
            )
        )
    else:
        verdict = verdict_html(
            None, none_text=f"Spending nothing is best: the top point ({best['point']}) spends nothing."
        )
    glossary = definitions(
        currency=context.currency or "money",
        margin=context.margin,
        horizon_days=context.horizon_days,
        terms=SWEEP_TERMS,
    )
    imgs = "".join(figure_html(name, (root / name).read_bytes(), CAPTIONS.get(name, "")) for name in figures)
    fails = "".join(
        f"<li><code>{html.escape(f['job'])}</code> ({html.escape(str(f['point']))}, seed {f['seed']}): "
        f"{html.escape(f['error'])}</li>"
        for f in failures
    )
    where = html.escape(_shown(root))
    links = ['<a href="#ranking">Ranking</a>', '<a href="#figures">Figures</a>']
    if index and (root / "index.html").is_file():
        links.append('<a href="index.html">Every run\'s report</a>')
    links.append('<a href="sweep_summary.csv">Table as CSV</a>')
    metric = str(table["rank_metric"].iloc[0]).replace("_", " ")
    content = f"""<h1>Sweep: which setting pays best?</h1>
<p class="sub"><code>{where}</code>: {counted(len(table), "point")}, {counted(len(jobs), "job")}, {counted(context.horizon_days, "day")} each;
ranked by mean {html.escape(metric)}.</p>
<nav>{"".join(links)}</nav>
{verdict}
<div class="cols"><div><h2>What was swept</h2>{_swept_html(jobs, failures)}</div><div>{definitions_html(glossary)}</div></div>
<h2 id="ranking">Ranking</h2>
<p class="small">Means over seeds; {html.escape(interval_legend(table, "± = half-width of the"))}; {html.escape(ESTIMATES_NOTE)}. Payback day: mean over the seeds that
paid back within the horizon. The best point is highlighted.</p>
{_ranked_table(table, context.currency)}
{"<h2>Failed jobs</h2><ul>" + fails + "</ul>" if failures else ""}
<h2 id="figures">Figures</h2>{imgs}"""
    write_text(root / "report.html", page(f"opsim sweep — {_shown(root)}", content, css=SWEEP_CSS))


def write_sweep_summary(
    root: Path, jobs: pd.DataFrame, table: pd.DataFrame | None, failures: list[dict[str, Any]], *, index: bool = False
) -> list[str]:
    """Write the sweep's comparison files into ``root``; return their names.

    Args:
        root: The sweep folder.
        jobs: One row per finished job (job folder, point, seed, days, parameters, metrics).
        table: One row per point (:func:`sim.analysis.sweep_stats.summarize_points`), None if no job finished.
        failures: The failed jobs.
        index: The caller has just written ``index.html`` for these jobs: the page links it. An older
            one (``opsim-report`` writes it; a later sweep into the folder does not) is not linked.

    """
    write_json(root / "failures.json", failures)
    files = ["failures.json"]
    if table is None:
        text = "# Sweep summary\n\nNo job finished.\n" + "".join(f"- {f['job']}: {f['error']}\n" for f in failures)
        write_text(root / "sweep_summary.md", text)
        return [*files, "sweep_summary.md"]
    context = SweepContext.read(root, jobs)
    write_atomic(root / "sweep_jobs.parquet", lambda p: jobs.to_parquet(p, index=False))
    write_atomic(root / "sweep_summary.parquet", lambda p: table.to_parquet(p, index=False))
    write_atomic(root / "sweep_summary.csv", lambda p: table.to_csv(p, index=False))
    write_text(root / "sweep_summary.md", sweep_markdown(table, failures, root, context.currency))
    files += ["sweep_jobs.parquet", "sweep_summary.parquet", "sweep_summary.csv", "sweep_summary.md"]
    files += _figures(jobs, table, root, context.currency)
    _sweep_page(root, jobs, table, failures, [f for f in files if f.endswith(".png")], context, index)
    files.append("report.html")
    return files
