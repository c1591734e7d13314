"""The planner's figures and page: allocation, efficient frontier, response curves, search history.

Everything is drawn from ``plan.json`` (as a dict) and the ``trials``, ``frontier`` and
``response`` tables the planner writes, so a plan folder can be re-rendered from its files.
"""

from __future__ import annotations

import html
import io
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.output.figures import save_png
from sim.output.formatting import counted, money, number, percent, percentage_points, ratio, with_half_width
from sim.output.glossary import definitions
from sim.output.html import Cell, Comparison, definitions_html, figure_html, page, side_by_side_html, table_html
from sim.output.style import compact_formatter, house_style, money_formatter
from sim.output.verdict import Estimate, Verdict, verdict_html

__all__ = [
    "FIGURE_NAMES",
    "allocation_figure",
    "frontier_figure",
    "history_figure",
    "plan_report_files",
    "plan_verdict",
    "response_figure",
]

FIGURE_DPI = 120
#: Every figure a plan's page may show, as NAME.png in its folder.
FIGURE_NAMES = ("plan_allocation", "plan_frontier", "plan_response", "plan_history")
#: Metric names as a reader says them.
LABELS = {
    "incremental_profit": "incremental profit",
    "incremental_roi": "incremental ROI",
    "incremental_users": "incremental users",
    "cost": "spend",
    "d30": "D30 retention",
}


def allocation_figure(summary: Mapping[str, Any], *, ax: Any = None) -> Figure:
    """Spend per lever at the plan (bars), against the base strategy's spend when known."""
    with house_style():
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
        cur = summary.get("currency", "")
        ax.set_xlabel(
            f"spend over the horizon (total {money(summary['total_spend'], cur)} of {money(summary['budget'], cur)})"
        )
        ax.xaxis.set_major_formatter(money_formatter(cur))
        ax.set_xlim(0, max([*spend, 1.0]) * 1.6)
        ax.set_title("Budget allocation of the plan", fontsize=10, wrap=True)
        ax.grid(axis="x", alpha=0.3)
    return fig


#: What the frontier figure says without budget levels, and when no plan fits any of them.
NO_FRONTIER_LEVELS = "no budget levels to draw (plan.frontier_budgets is empty)"
NO_FRONTIER_PLAN = "no plan found within any budget level"


def frontier_figure(frontier: pd.DataFrame, metric: str, currency: str = "", *, ax: Any = None) -> Figure:
    """Best objective at each budget level, with its 95 % interval over seeds."""
    with house_style():
        fig = ax.figure if ax is not None else Figure(figsize=(7, 4.2), dpi=FIGURE_DPI)
        ax = ax if ax is not None else fig.add_subplot()
        f = frontier.dropna(subset=[metric]) if metric in frontier else frontier.iloc[0:0]
        if len(f):
            err = np.vstack([f[metric] - f[f"{metric}_low"], f[f"{metric}_high"] - f[metric]])
            ax.errorbar(f["budget"], f[metric], yerr=np.nan_to_num(err), fmt="-o", color="#0072B2", capsize=3)
        else:
            why = NO_FRONTIER_LEVELS if frontier.empty else NO_FRONTIER_PLAN
            ax.text(0.5, 0.5, why, ha="center", va="center", transform=ax.transAxes, fontsize=10)
        ax.set_xlabel("budget")
        ax.xaxis.set_major_formatter(money_formatter(currency))
        if metric in ("incremental_profit", "cost"):
            ax.yaxis.set_major_formatter(money_formatter(currency))
        ax.set_ylabel(f"{LABELS.get(metric, metric)} (best plan, 95 % interval)")
        ax.set_title("Efficient frontier: the best plan found at each budget", fontsize=10, wrap=True)
        ax.grid(alpha=0.3)
    return fig


#: Characters of a lever's key on one line of its response panel's title (9 pt on a panel 4.2 inches wide).
KEY_TITLE_CHARS = 40


def key_title(key: str) -> str:
    """A variable's config key as its response panel's title: without ``strategy.``, broken after dots to fit.

    A key has no spaces for matplotlib's ``wrap=True`` to break at, so a long one
    (``paid_ads.<a long channel name>.daily_budget``) is broken here, after a dot, into
    lines of at most :data:`KEY_TITLE_CHARS` characters (a part longer than that keeps its line).
    """
    lines: list[str] = []
    for part in key.removeprefix("strategy.").split("."):
        if lines and len(lines[-1]) + 1 + len(part) <= KEY_TITLE_CHARS:
            lines[-1] += f".{part}"
        else:
            lines[-1:] = [f"{lines[-1]}.", part] if lines else [part]
    return "\n".join(lines)


def response_figure(response: pd.DataFrame, summary: Mapping[str, Any]) -> Figure:
    """Each variable's incremental gross profit against its lever's spend, the plan's point marked."""
    with house_style():
        names = list(dict.fromkeys(response["variable"])) if len(response) else []
        fig = Figure(figsize=(4.2 * max(len(names), 1) + 1, 4.2), dpi=FIGURE_DPI)
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
            ax.set_xlabel(f"{name}: lever spend ({summary.get('currency', '')})")
            ax.xaxis.set_major_formatter(compact_formatter())
            ax.yaxis.set_major_formatter(compact_formatter())
            ax.tick_params(axis="x", labelrotation=30)
            ax.set_title(key_title(summary["allocation"][name]["key"]), fontsize=9, wrap=True)
            ax.grid(alpha=0.3)
        axes[0].set_ylabel(f"incremental gross profit ({summary.get('currency', '')})")
        axes[0].legend(fontsize=7)
        fig.suptitle("Response of each lever around the plan (others at the plan)", fontsize=10, wrap=True)
    return fig


def history_figure(trials: pd.DataFrame, maximize: bool, *, ax: Any = None) -> Figure:
    """Score of every trial and the best feasible score so far."""
    with house_style():
        fig = ax.figure if ax is not None else Figure(figsize=(7, 4.2), dpi=FIGURE_DPI)
        ax = ax if ax is not None else fig.add_subplot()
        if len(trials):
            t = trials.sort_values("trial")
            feasible = t["feasible"].to_numpy(bool)
            ax.scatter(t["trial"][feasible], t["score"][feasible], s=14, color="#0072B2", label="feasible trial")
            ax.scatter(
                t["trial"][~feasible],
                t["score"][~feasible],
                s=14,
                color="#999999",
                marker="x",
                label="breaks a constraint",
            )
            best = np.where(feasible, t["score"], -np.inf if maximize else np.inf)
            running = np.maximum.accumulate(best) if maximize else np.minimum.accumulate(best)
            running = np.where(np.isfinite(running), running, np.nan)
            ax.step(t["trial"], running, where="post", color="#D55E00", label="best so far")
            ax.legend(fontsize=8)
        ax.set_xlabel("trial")
        ax.set_ylabel("score (risk-adjusted objective)")
        ax.set_title("Optimisation history", fontsize=10, wrap=True)
        ax.grid(alpha=0.3)
    return fig


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    save_png(fig, buf)
    return buf.getvalue()


def _estimate(d: Mapping[str, Any] | None) -> Estimate:
    """A plan.json interval ({mean, low, high}) as an Estimate: its half-width the wider side of the mean.

    A cost's or a D30's interval is clipped to what the value can be (``low`` 0 where the
    t-interval reached below), so it is not symmetric; its wider side is the t-interval's
    half-width, as a sweep point's verdict takes it.
    """
    if not d or d.get("mean") is None:
        return Estimate(float("nan"))
    mean = float(d["mean"])
    half = None if d.get("low") is None or d.get("high") is None else max(mean - d["low"], d["high"] - mean)
    return Estimate(mean, half)


def plan_verdict(summary: Mapping[str, Any]) -> Verdict:
    """The plan's verdict: its incremental profit and ROI over the paired seeds, and payback."""
    m = summary["metrics"]
    payback = summary["payback"]
    seeds = payback["seeds"]
    return Verdict(
        subject=f"plan {summary['plan']}",
        currency=summary["currency"],
        horizon_days=int(summary["horizon_days"]),
        cost=_estimate(m["cost"]),
        incremental_profit=_estimate(m["incremental_profit"]),
        incremental_roi=_estimate(m["incremental_roi"]),
        payback_day=payback["mean_day"],
        paid_back=int(payback["paid_back"]),
        replicates=int(seeds),
        interval=f"95 % t-interval over {counted(int(seeds), 'seed')} (paired: the plan and its baseline see the same random numbers)",
    )


def marginal_roi_definition(step: float | None) -> str:
    """What the plan's marginal ROI is, with the step its ``plan.marginal_step`` gave (None: a plan.json without it)."""
    share = "marginal_step" if step is None else percent(step, 0)
    return (
        "What the next step of a lever's variable returns: (Δ gross profit − Δ cost) / Δ cost against a rerun "
        f"with that variable {share} higher (lower where higher would leave its bounds; from 0, {share} of the "
        "range searched, the lever's first step; a whole-number knob moves by at least 1), the others at the plan; "
        "the step column gives each. Above 0: more budget still pays; below: spend less there. "
        "Empty (—) where the step changes no spend, as for a lever that costs nothing."
    )


def _step_text(roi: Mapping[str, Any] | None) -> str:
    """A lever's marginal step as ``from → to`` (per-period values as lists)."""
    if not roi or "from" not in roi:
        return "—"

    def shown(v: Any) -> str:
        return "[" + ", ".join(number(x, 3) for x in v) + "]" if isinstance(v, list) else number(v, 3)

    return f"{shown(roi['from'])} → {shown(roi['to'])}"


def _interval_cell(d: Mapping[str, Any] | None, fmt: Any, key: str = "") -> Cell:
    e = _estimate(d)
    return Cell(with_half_width(e.value, e.half_width, fmt), e.value if e.known else None, numeric=True, key=key)


#: Why a response-mode plan has no efficient frontier (its page says so in place of the figure).
NO_FRONTIER_IN_RESPONSE_MODE = (
    "No efficient frontier: response mode simulates one allocation, the split of the whole budget, so it has "
    "no best plan at lower budgets to show (plan.mode=search gives the frontier at plan.frontier_budgets)."
)
#: What the page says in place of its figures for a plan run with ``figures=false``.
FIGURES_NOT_DRAWN = "Figures were not drawn (figures=false); run the plan again without it to draw them."


def _page(summary: Mapping[str, Any], images: dict[str, tuple[str, bytes]] | None, *, frontier: bool = True) -> str:
    cur = summary["currency"]

    def cash(x: Any) -> str:
        return money(x, cur, digits=0)

    def signed_cash(x: Any) -> str:
        return money(x, cur, signed=True, digits=0)

    obj = summary["objective"]
    lines = [verdict_html(plan_verdict(summary))]
    gain = _estimate(summary["gain_over_base"])
    metric_fmt = (
        signed_cash
        if obj["metric"] in ("incremental_profit", "cost")
        else ((lambda x: ratio(x, 2)) if obj["metric"] == "incremental_roi" else (lambda x: number(x, signed=True)))
    )
    lines.append(
        f'<p class="lead">Spend {html.escape(cash(summary["total_spend"]))} of a budget of '
        f"{html.escape(cash(summary['budget']))}; against the base strategy "
        f"<code>{html.escape(summary['base_strategy']['name'])}</code> on the same seeds, "
        f"{html.escape(LABELS.get(obj['metric'], obj['metric']))} "
        f"{html.escape(with_half_width(gain.value, gain.half_width, metric_fmt))}.</p>"
    )
    if summary.get("message"):
        lines.append(f'<p class="warning"><b>Note:</b> {html.escape(summary["message"])}</p>')
    alloc_rows = []
    for name, a in summary["allocation"].items():
        value = a["value"]
        shown = ", ".join(number(v, 2) for v in value) if isinstance(value, list) else number(value, 3)
        alloc_rows.append(
            [
                Cell(name),
                Cell(a["key"]),
                Cell(shown, None if isinstance(value, list) else value, numeric=True, key=f"{name}.value"),
                Cell(cash(a["lever_spend"]), a["lever_spend"], numeric=True, key=f"{name}.spend"),
                Cell(_step_text(summary["marginal_roi"].get(a["lever"])), key=f"{name}.marginal_step"),
                _interval_cell(summary["marginal_roi"].get(a["lever"]), lambda x: ratio(x, 2), f"{name}.marginal_roi"),
            ]
        )
    header = [
        "variable",
        "config key",
        Cell("value", numeric=True),
        Cell("lever spend", numeric=True),
        "marginal step",
        Cell("marginal ROI", numeric=True),
    ]
    lines.append("<h2>Allocation</h2>" + table_html(header, alloc_rows))
    base, diff = summary["base_strategy"]["metrics"], summary["difference"]
    fmts = {
        "incremental_profit": (cash, signed_cash),
        "incremental_roi": (lambda x: ratio(x, 2), lambda x: ratio(x, 2)),
        "incremental_users": (lambda x: number(x), lambda x: number(x, signed=True)),
        "cost": (cash, signed_cash),
        "d30": (lambda x: percent(x), percentage_points),  # the difference in points, signed, as run pages show it
    }
    rows = [
        Comparison(
            LABELS[m],
            summary["metrics"][m]["mean"],
            base[m]["mean"],
            fmts[m][0],
            difference_fmt=fmts[m][1],
            difference_half_width=_estimate(diff[m]).half_width,
            key=m,
        )
        for m in fmts
    ]
    lines.append("<h2>What the plan buys over the base strategy</h2>")
    lines.append(side_by_side_html(rows, ours="plan", theirs=f"base: {summary['base_strategy']['name']}"))
    terms = definitions(
        currency=cur,
        margin=summary["margin"],
        horizon_days=int(summary["horizon_days"]),
        terms=[
            "verdict",
            "cost",
            "incremental users",
            "incremental profit",
            "incremental ROI",
            "marginal ROI",
            "interval (over seeds)",
            "seeds",
        ],
    )
    step = summary.get("marginal_step")
    terms = [(t, marginal_roi_definition(step) if t == "marginal ROI" else d) for t, d in terms]
    risk = summary["risk"]
    terms.append(
        (
            "score",
            f"What the search maximises: the {risk['measure']} of the objective over the paired seeds"
            + (
                f" (CVaR: the mean of the worst {percent(risk['alpha'], 0)} of seeds)"
                if risk["measure"] == "cvar"
                else ""
            )
            + "; plans that break the budget or another constraint never win.",
        )
    )
    lines.append(definitions_html(terms))
    lines.append(f"<p>Run the plan as a strategy: <code>{html.escape(summary['reproduce'])}</code></p>")
    lines.append("<h2>Figures</h2>")
    if not frontier:
        lines.append(f"<p>{html.escape(NO_FRONTIER_IN_RESPONSE_MODE)}</p>")
    if images is None:
        lines.append(f"<p>{html.escape(FIGURES_NOT_DRAWN)}</p>")
    else:
        lines.append("".join(figure_html(n, png, cap) for n, (cap, png) in images.items()))
    return page(f"opsim plan — {summary['plan']}", "<h1>opsim plan</h1>" + "".join(lines))


def _frontier_metric(frontier: pd.DataFrame, metric: str) -> str:
    """The frontier's metric with its interval: the objective's, or the target's for ``least_spend``.

    A ``least_spend`` plan's objective metric is its cost; its frontier gives, at each
    budget, the target's metric (the one column with ``_low`` and ``_high``).
    """
    if {metric, f"{metric}_low", f"{metric}_high"} <= set(frontier.columns):
        return metric
    with_interval = [c for c in frontier.columns if {f"{c}_low", f"{c}_high"} <= set(frontier.columns)]
    if len(with_interval) > 1:
        raise ValueError(f"the frontier table has more than one metric with its interval ({with_interval})")
    return with_interval[0] if with_interval else metric  # none: no budget levels, which the figure says


def plan_report_files(
    out: Path,
    summary: Mapping[str, Any],
    trials: pd.DataFrame,
    frontier: pd.DataFrame | None,
    response: pd.DataFrame,
    *,
    figures: bool = True,
) -> dict[Path, Callable[[Path], None]]:
    """The plan's PNG figures and ``report.html`` in ``out``, drawn now, as writers for :func:`sim.output.files.write_all`.

    Args:
        out: The plan's folder.
        summary: The content of ``plan.json``.
        trials: The trials table.
        frontier: The frontier table; None for a response-mode plan, which has none (the page
            says why: :data:`NO_FRONTIER_IN_RESPONSE_MODE`).
        response: The response curves around the plan.
        figures: Draw the figures; without them only the page is written, saying so
            (:data:`FIGURES_NOT_DRAWN`).

    Returns:
        Each file's path (the figures first, then the page) → the function that writes
        it to the path it is given.

    """
    if not figures:
        text = _page(summary, None, frontier=frontier is not None)
        return {out / "report.html": lambda p: p.write_text(text, encoding="utf-8")}
    metric = summary["objective"]["metric"]
    maximize = summary["objective"]["name"] != "least_spend"
    drawn = {
        "plan_allocation": ("Spend per lever at the plan; labels give the knob values.", allocation_figure(summary))
    }
    if frontier is not None:
        drawn["plan_frontier"] = (
            "Best plan found at each budget level, with its 95 % interval over seeds.",
            frontier_figure(frontier, _frontier_metric(frontier, metric), summary.get("currency", "")),
        )
    drawn["plan_response"] = (
        "Each lever's response around the plan: incremental gross profit against its spend.",
        response_figure(response, summary),
    )
    if len(trials) > 1:
        drawn["plan_history"] = (
            "Score of every trial and the best feasible score so far.",
            history_figure(trials, maximize),
        )
    images = {name: (caption, _png(fig)) for name, (caption, fig) in drawn.items()}
    files: dict[Path, Callable[[Path], None]] = {
        out / f"{name}.png": lambda p, b=png: p.write_bytes(b) for name, (_caption, png) in images.items()
    }
    text = _page(summary, images, frontier=frontier is not None)
    files[out / "report.html"] = lambda p: p.write_text(text, encoding="utf-8")
    return files
