"""The planner's figures and page: allocation, efficient frontier, response curves, search history.

Everything is drawn from ``plan.json`` (as a dict) and the ``trials``, ``frontier`` and
``response`` tables the planner writes, so a plan folder can be re-rendered from its files.
"""

from __future__ import annotations

import html
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.output.files import write_atomic, write_text
from sim.output.html import figure_html, page

__all__ = ["allocation_figure", "frontier_figure", "history_figure", "response_figure", "write_plan_report"]

FIGURE_DPI = 120
#: Metric names as a reader says them.
LABELS = {
    "incremental_profit": "incremental profit",
    "incremental_roi": "incremental ROI",
    "incremental_users": "incremental users",
    "cost": "spend",
    "d30": "D30 retention",
}


def _money(x: float | None, currency: str = "") -> str:
    if x is None or not np.isfinite(x):
        return "—"
    return f"{x:,.0f} {currency}".strip()


def allocation_figure(summary: Mapping[str, Any], *, ax: Any = None) -> Figure:
    """Spend per lever at the plan (bars), against the base strategy's spend when known."""
    alloc = summary["allocation"]
    fig = ax.figure if ax is not None else Figure(figsize=(7, 0.6 * len(alloc) + 1.8), dpi=FIGURE_DPI)
    ax = ax if ax is not None else fig.add_subplot()
    names = list(alloc)
    spend = [alloc[n]["lever_spend"] or 0.0 for n in names]
    y = np.arange(len(names))[::-1]
    bars = ax.barh(y, spend, color="#0072B2")
    for bar, n in zip(bars, names, strict=True):
        value = alloc[n]["value"]
        shown = ", ".join(f"{v:,.4g}" for v in value) if isinstance(value, list) else f"{value:,.4g}"
        ax.annotate(
            f"{alloc[n]['key'].split('.')[-1]} = {shown}",
            (bar.get_width(), bar.get_y() + bar.get_height() / 2),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    ax.set_yticks(y, names)
    ax.set_xlabel(f"spend over the horizon (total {_money(summary['total_spend'])} of {_money(summary['budget'])})")
    ax.set_xlim(0, max([*spend, 1.0]) * 1.6)
    ax.set_title("Budget allocation of the plan", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    return fig


def frontier_figure(frontier: pd.DataFrame, metric: str, *, ax: Any = None) -> Figure:
    """Best objective at each budget level, with its 95 % interval over seeds."""
    fig = ax.figure if ax is not None else Figure(figsize=(7, 4.2), dpi=FIGURE_DPI)
    ax = ax if ax is not None else fig.add_subplot()
    f = frontier.dropna(subset=[metric])
    if len(f):
        err = np.vstack([f[metric] - f[f"{metric}_low"], f[f"{metric}_high"] - f[metric]])
        ax.errorbar(f["budget"], f[metric], yerr=np.nan_to_num(err), fmt="-o", color="#0072B2", capsize=3)
    ax.set_xlabel("budget")
    ax.set_ylabel(f"{LABELS.get(metric, metric)} (best plan, 95 % interval)")
    ax.set_title("Efficient frontier: the best plan found at each budget", fontsize=10)
    ax.grid(alpha=0.3)
    return fig


def response_figure(response: pd.DataFrame, summary: Mapping[str, Any]) -> Figure:
    """Each variable's incremental gross profit against its lever's spend, the plan's point marked."""
    names = list(dict.fromkeys(response["variable"])) if len(response) else []
    fig = Figure(figsize=(3.6 * max(len(names), 1) + 1, 3.8), dpi=FIGURE_DPI)
    axes = fig.subplots(1, max(len(names), 1), squeeze=False)[0]
    for ax, name in zip(axes, names, strict=False):
        part = response[response["variable"] == name].sort_values("value")
        ax.fill_between(
            part["lever_spend"],
            part["incremental_gross_profit_low"],
            part["incremental_gross_profit_high"],
            color="#56B4E9",
            alpha=0.3,
            label="95 % interval",
        )
        ax.plot(
            part["lever_spend"],
            part["incremental_gross_profit"],
            "-o",
            color="#0072B2",
            ms=4,
            label="incremental gross profit",
        )
        chosen = summary["allocation"][name]["lever_spend"]
        ax.axvline(chosen, color="#D55E00", ls="--", lw=1.2, label="plan")
        ax.set_xlabel(f"{name}: lever spend")
        ax.set_title(summary["allocation"][name]["key"].split("strategy.", 1)[-1], fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("incremental gross profit")
    axes[0].legend(fontsize=7)
    fig.suptitle("Response of each lever around the plan (others at the plan)", fontsize=10)
    return fig


def history_figure(trials: pd.DataFrame, maximize: bool, *, ax: Any = None) -> Figure:
    """Score of every trial and the best feasible score so far."""
    fig = ax.figure if ax is not None else Figure(figsize=(7, 4.2), dpi=FIGURE_DPI)
    ax = ax if ax is not None else fig.add_subplot()
    if len(trials):
        t = trials.sort_values("trial")
        feasible = t["feasible"].to_numpy(bool)
        ax.scatter(t["trial"][feasible], t["score"][feasible], s=14, color="#0072B2", label="feasible trial")
        ax.scatter(
            t["trial"][~feasible], t["score"][~feasible], s=14, color="#999999", marker="x", label="breaks a constraint"
        )
        best = np.where(feasible, t["score"], -np.inf if maximize else np.inf)
        running = np.maximum.accumulate(best) if maximize else np.minimum.accumulate(best)
        running = np.where(np.isfinite(running), running, np.nan)
        ax.step(t["trial"], running, where="post", color="#D55E00", label="best so far")
        ax.legend(fontsize=8)
    ax.set_xlabel("trial")
    ax.set_ylabel("score (risk-adjusted objective)")
    ax.set_title("Optimisation history", fontsize=10)
    ax.grid(alpha=0.3)
    return fig


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _cell(d: Mapping[str, Any] | None, digits: int = 0) -> str:
    if not d or d.get("mean") is None:
        return "—"
    body = f"{d['mean']:,.{digits}f}"
    if d.get("low") is not None and d.get("high") is not None:
        body += f" [{d['low']:,.{digits}f}, {d['high']:,.{digits}f}]"
    return body


def _page(summary: Mapping[str, Any], images: dict[str, tuple[str, bytes]]) -> str:
    obj = summary["objective"]
    metric = obj["metric"]
    digits = 2 if metric in ("incremental_roi", "d30") else 0
    gain = summary["gain_over_base"]
    verdict = (
        f"Plan <b>{html.escape(summary['plan'])}</b>: spend {_money(summary['total_spend'])} of {_money(summary['budget'])}; "
        f"{html.escape(LABELS.get(metric, metric))} {_cell(obj, digits)} (95 % interval over {obj['seeds']} paired seeds), "
        f"{_cell(gain, digits)} more than the base strategy <code>{html.escape(summary['base_strategy']['name'])}</code>."
    )
    if summary.get("message"):
        verdict += f"<br><b>Note:</b> {html.escape(summary['message'])}"
    rows = "".join(
        f"<tr><td>{html.escape(n)}</td><td><code>{html.escape(a['key'])}</code></td><td>{html.escape(str(a['value']))}</td>"
        f"<td>{_money(a['lever_spend'])}</td><td>{_cell(summary['marginal_roi'].get(a['lever']), 2)}</td></tr>"
        for n, a in summary["allocation"].items()
    )
    metrics = "".join(
        f"<tr><td>{html.escape(LABELS.get(m, m))}</td><td>{_cell(v, 2 if m in ('incremental_roi', 'd30') else 0)}</td>"
        f"<td>{_cell(summary['base_strategy']['metrics'].get(m), 0)}</td></tr>"
        for m, v in summary["metrics"].items()
    )
    figs = "".join(figure_html(name, png, caption) for name, (caption, png) in images.items())
    body = f"""<h1>opsim plan</h1>
<p class="verdict">{verdict}</p>
<div class="definitions"><b>Definitions.</b> Incremental = against the organic baseline on the same seed (common random
numbers); incremental profit = margin × Δrevenue − spend; ROI = incremental profit / spend; intervals are 95 % t-intervals
over the paired seeds; the score is the {html.escape(summary["risk"]["measure"])} of the objective over seeds
(CVaR = mean of the worst {summary["risk"]["alpha"]:.0%}); marginal ROI = (ΔGP − Δspend)/Δspend for a small rise of one knob.</div>
<h2>Allocation</h2>
<table><tr><th>variable</th><th>key</th><th>value</th><th>lever spend</th><th>marginal ROI</th></tr>{rows}</table>
<h2>What the plan buys</h2>
<table><tr><th>metric</th><th>plan</th><th>base strategy</th></tr>{metrics}</table>
<p>Run it: <code>{html.escape(summary["reproduce"])}</code></p>
<h2>Figures</h2>{figs}"""
    css = ".verdict { font-size: 1.1em; } .definitions { background: #f4f4f4; padding: 0.6em; font-size: 0.9em; }"
    return page(f"opsim plan — {summary['plan']}", body, css=css)


def write_plan_report(
    out: Path, summary: Mapping[str, Any], trials: pd.DataFrame, frontier: pd.DataFrame, response: pd.DataFrame
) -> list[str]:
    """Write the plan's PNG figures and ``report.html`` into ``out``; return the figure file names."""
    metric = summary["objective"]["metric"]
    maximize = summary["objective"]["name"] != "least_spend"
    figures = {
        "plan_allocation": ("Spend per lever at the plan; labels give the knob values.", allocation_figure(summary)),
        "plan_frontier": (
            "Best plan found at each budget level, with its 95 % interval over seeds.",
            frontier_figure(frontier, metric if metric in frontier else "score"),
        ),
        "plan_response": (
            "Each lever's response around the plan: incremental gross profit against its spend.",
            response_figure(response, summary),
        ),
    }
    if len(trials) > 1:
        figures["plan_history"] = (
            "Score of every trial and the best feasible score so far.",
            history_figure(trials, maximize),
        )
    images = {name: (caption, _png(fig)) for name, (caption, fig) in figures.items()}
    for name, (_caption, png) in images.items():
        write_atomic(out / f"{name}.png", lambda p, b=png: p.write_bytes(b))
    write_text(out / "report.html", _page(summary, images))
    return [f"{name}.png" for name in images]
