"""Statistics of a sweep: per sweep point, the mean and 95 % interval over seeds, P(best), rank.

A sweep's jobs are grouped into *points* (their overrides without ``seed``,
labelled by :mod:`sim.analysis.sweep_labels`); replicates are seeds, and every
point at a seed shares random numbers, so comparisons are paired. Per point and
metric: mean, 95 % t-interval over seeds (:func:`sim.analysis.stats.t_interval`)
and n (LTV only of runs that projected its tail: an observed part alone is not
averaged with whole LTVs). An ROI or a CAC (:data:`RATIOS`) is the ratio of sums over
seeds, Σ net gain / Σ cost or Σ cost / Σ incremental users (the latter only where both
sums are positive), with its delta-method interval
(:func:`sim.analysis.stats.ratio_interval`), not the mean of the seeds' ratios, which a
seed of tiny cost (or of few incremental users) dominates. An interval is
clipped to the range its metric can take (:data:`BOUNDS`: a cost, a payback day ≥ 0; a
retention share within 0–1); ``paid_back``, the seeds at which it paid back within
the horizon; the probability that the point is best = share of seeds at which it has the highest
ranking metric (incremental profit when there is a baseline comparison, else
profit; points tied at a seed share it); points ranked by the mean of that metric.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.stats import ratio_interval, t_interval

__all__ = ["BOUNDS", "METRICS", "RATIOS", "job_metrics", "summarize_points"]

METRICS = (
    "incremental_profit",
    "incremental_roi",
    "incremental_users",
    "profit",
    "roi",
    "cost",
    "d1",
    "d7",
    "d30",
    "cac",
    "ltv",
    "payback_day",
)


#: Metrics a point has only where every seed has them: an LTV whose tail some seeds could not
#: project (a run too short) would otherwise be the mean of a subset, unpaired with other points.
EVERY_SEED_METRICS = ("ltv",)
#: Ratio metrics: metric → (numerator, denominator) per job. A point's value is the ratio of the
#: sums over its seeds (a ratio estimator); the seeds' own ratios are kept in the jobs table.
RATIOS = {
    "incremental_roi": ("incremental_profit", "cost"),
    "roi": ("profit", "cost"),
    "cac": ("cost", "incremental_users"),
}
#: Ratios that exist only where both sums are positive, as a job's own does: a CAC over no
#: incremental users (or fewer than the baseline's) is no price of a user.
POSITIVE_RATIOS = ("cac",)
#: The values a metric can take: its interval is clipped to them (a t-interval is symmetric, and
#: two or three seeds of a small cost or retention reach below zero).
BOUNDS = {
    "cost": (0.0, np.inf),
    "cac": (0.0, np.inf),
    "d1": (0.0, 1.0),
    "d7": (0.0, 1.0),
    "d30": (0.0, 1.0),
    "payback_day": (0.0, np.inf),
}


def job_metrics(summary: dict[str, Any]) -> dict[str, float]:
    """The sweep metrics of one job's ``summary.json``."""
    econ = summary.get("economics") or {}
    inc = econ.get("incremental") or {}
    ret = summary.get("retention", {})
    nan = float("nan")
    payback = econ.get("payback_day")
    no_levers = not econ.get("cost_total")  # doing nothing: zero difference from itself
    ltv = econ.get("ltv") or {}
    # a run too short to project the tail has only its observed part: not averaged with whole LTVs
    ltv_per_user = nan if ltv.get("tail_projected") is False else ltv.get("per_user", nan)
    return {
        "incremental_profit": inc.get("profit", 0.0 if no_levers else nan),
        "incremental_roi": inc.get("roi", nan),
        "incremental_users": inc.get("acquired_users", 0.0 if no_levers else nan),
        "profit": econ.get("profit", nan),
        "roi": econ.get("roi", nan),
        "cost": econ.get("cost_total", nan),
        "d1": ret.get("d1", nan),
        "d7": ret.get("d7", nan),
        "d30": ret.get("d30", nan),
        "cac": inc.get("cac", nan),
        "ltv": ltv_per_user,
        "payback_day": nan if payback is None else float(payback),
    }


def _estimate(group: pd.DataFrame, metric: str) -> tuple[float, float, float]:
    """A point's value of ``metric`` over its seeds (its jobs), with the 95 % interval (before clipping)."""
    if metric in RATIOS:
        numerator, denominator = (group[key].to_numpy(float) for key in RATIOS[metric])
        paired = np.isfinite(numerator) & np.isfinite(denominator)
        if metric in POSITIVE_RATIOS and not (numerator[paired].sum() > 0 and denominator[paired].sum() > 0):
            return float("nan"), float("nan"), float("nan")
        ratio, lo, hi, _n = ratio_interval(numerator, denominator)
        return ratio, lo, hi
    values = group[metric].to_numpy(dtype=float)
    if metric in EVERY_SEED_METRICS and np.isnan(values).any():
        values = np.full_like(values, np.nan)  # not a mean of the seeds that happen to have one
    mean, lo, hi, _n = t_interval(values)
    return mean, lo, hi


def summarize_points(jobs: pd.DataFrame) -> pd.DataFrame:
    """Per sweep point: mean, 95 % interval and n of every metric; P(best); seeds that paid back; rank."""
    # by incremental profit where every job has one: without the baseline runs only the points that spend
    # nothing have theirs (zero), and the others could not be ranked against them
    rank_metric = "incremental_profit" if jobs["incremental_profit"].notna().all() else "profit"
    rows = []
    for point, group in jobs.groupby("point", sort=False):
        row: dict[str, Any] = {"point": point, "seeds": int(group["seed"].nunique())}
        row["paid_back"] = int(group["payback_day"].notna().sum())
        for m in METRICS:
            mean, lo, hi = _estimate(group, m)
            low, high = BOUNDS.get(m, (-np.inf, np.inf))
            row[m] = mean
            row[f"{m}_lo"] = float(np.clip(lo, low, high))  # NaN stays NaN
            row[f"{m}_hi"] = float(np.clip(hi, low, high))
        rows.append(row)
    table = pd.DataFrame(rows)
    wide = jobs.pivot_table(index="seed", columns="point", values=rank_metric, aggfunc="first")
    wide = wide.dropna()  # seeds at which every point finished: a paired comparison
    # points tied for best at a seed share it equally
    top = wide.eq(wide.max(axis=1), axis=0)
    best = top.div(top.sum(axis=1), axis=0).sum() if len(wide) else pd.Series(dtype=float)
    table["p_best"] = table["point"].map(lambda p: float(best.get(p, 0)) / len(wide) if len(wide) else float("nan"))
    table["rank_metric"] = rank_metric
    table = table.sort_values(rank_metric, ascending=False, na_position="last").reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table
