"""The sweep's comparison: ranked table (Markdown, CSV, Parquet), figures and one HTML page.

Everything here is drawn from the per-job table and the per-point table of
:mod:`sim.analysis.sweep_stats`; :func:`write_sweep_summary` writes the files of
the sweep folder (each atomically):

* ``sweep_jobs.parquet`` (one row per job), ``sweep_summary.parquet`` / ``.csv`` /
  ``.md`` (one row per point), ``failures.json``;
* figures ``sweep_points.png`` (intervals), ``sweep_retention.png`` (top three
  points), and where they apply ``sweep_heatmap.png`` (two swept numbers) and
  ``sweep_response.png`` (a swept budget knob or a single swept number);
* ``report.html`` — the table, the failures and the figures in one page.
"""

from __future__ import annotations

import html
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.analysis.retention import LONG_TERM_DAYS, cohort_retention_curve
from sim.analysis.stats import t_half_width
from sim.analysis.sweep_stats import METRICS
from sim.output.figures import target_axes
from sim.output.files import write_atomic, write_json, write_text
from sim.output.html import figure_html, page

__all__ = [
    "sweep_heatmap_figure",
    "sweep_markdown",
    "sweep_points_figure",
    "sweep_response_figure",
    "sweep_retention_figure",
    "write_sweep_summary",
]

#: Swept keys that are budget knobs: the response figure uses the first one.
BUDGET_KNOBS = ("daily_budget", "messages_per_week", "reach", "invite_rate")
#: Line styles of the top points in the retention figure.
TOP_STYLES = ("-", "--", ":")
FIGURE_DPI = 120


def _shown(root: Path) -> str:
    """The sweep folder as written in the summary: relative to the working directory when inside it."""
    try:
        return str(root.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(root)


def sweep_markdown(table: pd.DataFrame, failures: list[dict[str, Any]], root: Path) -> str:
    """The ranked table and the failures as Markdown."""

    def cell(row: pd.Series, m: str, pct: bool = False, digits: int = 0) -> str:
        scale = 100 if pct else 1
        mean, lo, hi = (row[m] * scale, row[f"{m}_lo"] * scale, row[f"{m}_hi"] * scale)
        if not np.isfinite(mean):
            return "—"
        fmt = f"{{:,.{digits}f}}"
        body = fmt.format(mean) + ("%" if pct else "")
        return body + (f" [{fmt.format(lo)}, {fmt.format(hi)}]" if np.isfinite(lo) else "")

    lines = [
        f"# Sweep summary: {_shown(root)}",
        "",
        f"Ranked by mean {table['rank_metric'].iloc[0]}; [low, high] = 95 % t-interval over seeds; "
        "P(best) = share of seeds (paired: same random numbers) at which the point is best.",
        "",
        "| rank | point | seeds | incremental profit | incremental ROI | profit | D1 | D7 | D30 | CAC | LTV | payback day | P(best) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for _, r in table.iterrows():
        lines.append(
            f"| {r['rank']} | {r['point']} | {r['seeds']} | {cell(r, 'incremental_profit')} | {cell(r, 'incremental_roi', digits=2)} | "
            f"{cell(r, 'profit')} | {cell(r, 'd1', True, 1)} | {cell(r, 'd7', True, 1)} | {cell(r, 'd30', True, 1)} | "
            f"{cell(r, 'cac', digits=2)} | {cell(r, 'ltv', digits=2)} | {cell(r, 'payback_day')} | {r['p_best']:.2f} |"
        )
    if failures:
        lines += ["", f"## {len(failures)} failed job(s)", ""]
        lines += [f"- `{f['job']}` ({f['point']}, seed {f['seed']}): {f['error']}" for f in failures]
    return "\n".join(lines) + "\n"


def _save(fig: Figure, root: Path, name: str) -> str:
    """Lay out and write a figure atomically; return the file name."""
    with warnings.catch_warnings():  # long point labels: tight_layout may not fit them all
        warnings.simplefilter("ignore", UserWarning)
        fig.tight_layout()
    write_atomic(root / name, lambda p: fig.savefig(p, format="png"))
    return name


def sweep_points_figure(table: pd.DataFrame, *, fig: Figure | None = None) -> Figure:
    """Every point's ranking metric and ROI with its 95 % interval over seeds (two panels, on ``fig`` if given)."""
    metric = table["rank_metric"].iloc[0]
    if fig is None:
        fig = Figure(figsize=(10, max(3.0, 0.45 * len(table) + 1.5)), dpi=FIGURE_DPI)
    axes = fig.subplots(1, 2)
    roi = "incremental_roi" if metric.startswith("incr") else "roi"
    for ax, (m, label) in zip(axes, ((metric, metric.replace("_", " ")), (roi, "ROI")), strict=True):
        y = np.arange(len(table))[::-1]
        mean, lo, hi = table[m].to_numpy(float), table[f"{m}_lo"].to_numpy(float), table[f"{m}_hi"].to_numpy(float)
        err = np.vstack([mean - lo, hi - mean])
        ax.errorbar(mean, y, xerr=np.where(np.isfinite(err), err, 0), fmt="o", color="black", capsize=3)
        ax.set_yticks(y, table["point"], fontsize=7)
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_xlabel(f"{label} (mean, 95 % interval over seeds)")
        ax.grid(alpha=0.3)
    fig.suptitle("Sweep points ranked", fontsize=10)
    return fig


def _job_curve(job: Path) -> np.ndarray:
    """Pooled classic retention D_0 … D_90 of one job's result folder."""
    c = pd.read_parquet(job / "cohorts.parquet")
    h = int(c["cohort_day"].max() + c["day_n"].max() + 1) if len(c) else 1
    ca = np.zeros((h, h))
    ca[c["cohort_day"], c["day_n"]] = c["active"]
    return cohort_retention_curve(ca)[: LONG_TERM_DAYS + 1]


def sweep_retention_figure(jobs: pd.DataFrame, table: pd.DataFrame, root: Path, *, ax: Axes | None = None) -> Figure:
    """Retention curves of the top three points: mean over seeds and its 95 % interval (job folders under ``root``)."""
    fig, ax = target_axes(ax, (7, 4.2), dpi=FIGURE_DPI)
    for (_, row), style in zip(table.head(len(TOP_STYLES)).iterrows(), TOP_STYLES, strict=False):
        curves = [_job_curve(root / job) for job in jobs.loc[jobs["point"] == row["point"], "job"]]
        n = min(len(c) for c in curves)
        arr = np.array([c[:n] for c in curves])
        seen = np.isfinite(arr).sum(axis=0)  # days no seed observed yet (short horizons) stay blank
        mean = np.divide(np.nansum(arr, axis=0), seen, out=np.full(n, np.nan), where=seen > 0)
        ax.plot(np.arange(1, n), 100 * mean[1:], ls=style, color="black", label=row["point"])
        if len(arr) > 1:
            with np.errstate(invalid="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # days observed by one seed only: no interval
                half = t_half_width(np.nanstd(arr, axis=0, ddof=1), len(arr))
            ax.fill_between(np.arange(1, n), 100 * (mean - half)[1:], 100 * (mean + half)[1:], color="0.85", alpha=0.8)
    ax.set_xlabel("days since acquisition (N)")
    ax.set_ylabel("classic retention D_N (%)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title("Retention of the top 3 points (mean over seeds, 95 % interval)", fontsize=10)
    return fig


def sweep_heatmap_figure(jobs: pd.DataFrame, a: str, b: str, metric: str, *, ax: Axes | None = None) -> Figure:
    """The ranking metric's mean over two swept numbers, values in the cells."""
    pivot = jobs.assign(**{a: pd.to_numeric(jobs[a]), b: pd.to_numeric(jobs[b])}).pivot_table(
        index=a, columns=b, values=metric, aggfunc="mean"
    )
    fig, ax = target_axes(ax, (6.5, 4.8), dpi=FIGURE_DPI)
    im = ax.imshow(pivot.to_numpy(), cmap="Greys", aspect="auto", origin="lower")
    ax.set_xticks(range(pivot.shape[1]), [f"{v:g}" for v in pivot.columns])
    ax.set_yticks(range(pivot.shape[0]), [f"{v:g}" for v in pivot.index])
    values = pivot.to_numpy(dtype=float)
    middle = np.nanmin(values) + 0.5 * (np.nanmax(values) - np.nanmin(values))
    for i in range(pivot.shape[0]):
        for j in range(pivot.shape[1]):
            dark = values[i, j] > middle  # white on dark cells, black on light ones
            colour = "white" if dark else "black"
            ax.text(j, i, f"{values[i, j]:,.0f}", ha="center", va="center", fontsize=8, color=colour)
    ax.set_xlabel(b)
    ax.set_ylabel(a)
    fig.colorbar(im, ax=ax, label=f"mean {metric}")
    ax.set_title(f"Expected {metric.replace('_', ' ')} over the two swept parameters", fontsize=10)
    return fig


def sweep_response_figure(jobs: pd.DataFrame, key: str, metric: str, *, ax: Axes | None = None) -> Figure:
    """The ranking metric against one swept number, with 95 % intervals over seeds."""
    x = pd.to_numeric(jobs[key])
    g = jobs.assign(x=x).groupby("x")[metric]
    mean, sd, n = g.mean(), g.std(ddof=1), g.count()
    half = t_half_width(sd, np.maximum(n, 2)) * (n >= 2)
    fig, ax = target_axes(ax, (7, 4.2), dpi=FIGURE_DPI)
    ax.errorbar(mean.index, mean.to_numpy(), yerr=np.nan_to_num(np.asarray(half)), fmt="-o", color="black", capsize=3)
    ax.set_xlabel(key)
    ax.set_ylabel(f"{metric.replace('_', ' ')} (mean, 95 % interval)")
    ax.grid(alpha=0.3)
    ax.set_title(f"Response to {key}", fontsize=10)
    return fig


def _figures(jobs: pd.DataFrame, table: pd.DataFrame, root: Path) -> list[str]:
    metric = table["rank_metric"].iloc[0]
    written = [
        _save(sweep_points_figure(table), root, "sweep_points.png"),
        _save(sweep_retention_figure(jobs, table, root), root, "sweep_retention.png"),
    ]
    params = [c for c in jobs.columns if c not in ("job", "point", "seed", *METRICS)]
    numeric = [p for p in params if pd.to_numeric(jobs[p], errors="coerce").notna().all() and jobs[p].nunique() > 1]
    if len(numeric) == 2:
        written.append(_save(sweep_heatmap_figure(jobs, *numeric, metric), root, "sweep_heatmap.png"))
    budget = [p for p in numeric if p.endswith(BUDGET_KNOBS)]
    if len(numeric) == 1 or budget:
        key = budget[0] if budget else numeric[0]
        written.append(_save(sweep_response_figure(jobs, key, metric), root, "sweep_response.png"))
    return written


SWEEP_CSS = """
th, td { padding: 3px 6px; font-size: 0.85em; }
"""


def _sweep_page(root: Path, table: pd.DataFrame, failures: list[dict[str, Any]], figures: list[str]) -> None:
    """One self-contained HTML page for the sweep: ranked table, failures, figures (embedded)."""
    md = sweep_markdown(table, failures, root)
    rows = [line for line in md.splitlines() if line.startswith("|") and not line.startswith("|---")]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in rows]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cells[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in cells[1:])
    imgs = "".join(figure_html(name, (root / name).read_bytes()) for name in figures)
    fails = "".join(f"<li><code>{html.escape(f['job'])}</code>: {html.escape(f['error'])}</li>" for f in failures)
    where = html.escape(_shown(root))
    content = f"""<h1>opsim sweep</h1><p><code>{where}</code>: {len(table)} points, ranked by mean {html.escape(str(table["rank_metric"].iloc[0]))};
[low, high] = 95 % t-interval over seeds; P(best) = share of seeds at which the point is best (paired by seed).</p>
<table><tr>{head}</tr>{body}</table>
{"<h2>Failed jobs</h2><ul>" + fails + "</ul>" if failures else ""}
<h2>Figures</h2>{imgs}"""
    write_text(root / "report.html", page(f"opsim sweep — {_shown(root)}", content, css=SWEEP_CSS))


def write_sweep_summary(
    root: Path, jobs: pd.DataFrame, table: pd.DataFrame | None, failures: list[dict[str, Any]]
) -> list[str]:
    """Write the sweep's comparison files into ``root``; return their names.

    Args:
        root: The sweep folder.
        jobs: One row per finished job (point, seed, parameters, metrics).
        table: One row per point (:func:`sim.analysis.sweep_stats.summarize_points`), None if no job finished.
        failures: The failed jobs.

    """
    write_json(root / "failures.json", failures)
    files = ["failures.json"]
    if table is None:
        text = "# Sweep summary\n\nNo job finished.\n" + "".join(f"- {f['job']}: {f['error']}\n" for f in failures)
        write_text(root / "sweep_summary.md", text)
        return [*files, "sweep_summary.md"]
    write_atomic(root / "sweep_jobs.parquet", lambda p: jobs.to_parquet(p, index=False))
    write_atomic(root / "sweep_summary.parquet", lambda p: table.to_parquet(p, index=False))
    write_atomic(root / "sweep_summary.csv", lambda p: table.to_csv(p, index=False))
    write_text(root / "sweep_summary.md", sweep_markdown(table, failures, root))
    files += ["sweep_jobs.parquet", "sweep_summary.parquet", "sweep_summary.csv", "sweep_summary.md"]
    files += _figures(jobs, table, root)
    _sweep_page(root, table, failures, [f for f in files if f.endswith(".png")])
    files.append("report.html")
    return files
