"""Budget planning over paired seeds: risk measures, response curves, marginal-ROI allocation, frontier.

Every candidate plan is simulated on the same K seeds as the baseline (common random
numbers), giving one value of the objective per seed, x_1 … x_K. The plan is scored by

* **mean**: x̄ = Σ x_k / K, or
* **CVaR_α** (``risk.measure: cvar``, ``risk.alpha`` α): the mean of the worst ⌈α K⌉
  values — the lowest for an objective to maximise, the highest for one to minimise —
  so CVaR ≤ mean for a maximised objective.

**Response curves** (``mode: response``): each lever's incremental gross profit g as a
function of its spend x is fitted by least squares (scipy ``curve_fit``) with the
saturating curve

    g(x) = g_max · x^n / (x^n + K^n),

and the budget B is split by maximising Σ_i g_i(x_i) − Σ_i x_i subject to Σ_i x_i ≤ B and
each lever's bounds (scipy SLSQP). At an interior optimum every lever's marginal ROI
g_i'(x_i) − 1 is equal (the Lagrange condition), which is what "equalise marginal ROI"
means; a lever whose curve never pays back its first unit gets nothing.

The **efficient frontier** is the best value reached at each budget level b: over the
evaluated plans whose spend is at most b, the one with the best score.

A metric's **interval** over the seeds (:func:`metric_interval`) is the 95 % t-interval
x̄ ± t_{0.975, K−1}·s/√K, clipped to the values the metric can take, as a sweep's tables
clip theirs (:data:`sim.analysis.sweep_stats.BOUNDS`: a cost ≥ 0, a retention share such
as D30 within 0–1); a difference between two plans has no such bound and is not clipped.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit, minimize

from sim.analysis.stats import t_interval
from sim.analysis.sweep_stats import BOUNDS

__all__ = [
    "RISK_MEASURES",
    "ResponseCurve",
    "allocate_by_marginal_roi",
    "fit_response_curve",
    "frontier",
    "metric_interval",
    "risk_value",
]

RISK_MEASURES = ("mean", "cvar")
#: Starting shape of the fitted response curve; bounds keep it concave-ish to S-shaped.
SHAPE_START, SHAPE_BOUNDS = 1.0, (0.3, 4.0)


def metric_interval(values: Sequence[float] | np.ndarray, metric: str) -> tuple[float, float, float, int]:
    """A metric's mean over seeds and its 95 % t-interval, clipped to the values the metric can take.

    The t-interval is symmetric, and two or three seeds of a small cost or retention reach
    below 0 (or a retention above 1); its ends are clipped to the metric's bounds in
    :data:`sim.analysis.sweep_stats.BOUNDS` (the sweep's own, so a plan and a sweep show a
    metric's interval the same way). A metric without bounds (incremental profit, ROI or
    users, any difference) keeps its interval as it is.

    Args:
        values: One value per seed (non-finite values are left out, as by
            :func:`sim.analysis.stats.t_interval`).
        metric: The metric's name (``cost``, ``d30``, ...).

    Returns:
        ``(mean, low, high, n)``; low and high NaN with fewer than 2 values.

    """
    mean, low, high, n = t_interval(np.asarray(values, dtype=float))
    floor, ceiling = BOUNDS.get(metric, (-np.inf, np.inf))
    return mean, float(np.clip(low, floor, ceiling)), float(np.clip(high, floor, ceiling)), n  # NaN stays NaN


def risk_value(values: Sequence[float], measure: str, alpha: float, *, maximize: bool = True) -> float:
    """Score of per-seed values: their mean, or the CVaR_α (mean of the worst ⌈αK⌉).

    Args:
        values: One value per seed (NaN values make the score NaN).
        measure: ``mean`` or ``cvar``.
        alpha: Share of seeds in the tail, 0 < α ≤ 1.
        maximize: Whether larger values are better (the worst are then the lowest).

    """
    x = np.asarray(values, dtype=float)
    if measure not in RISK_MEASURES:
        raise ValueError(f"measure={measure!r} is not allowed: one of {', '.join(RISK_MEASURES)}")
    if x.size == 0 or not np.isfinite(x).all():
        return float("nan")
    if measure == "mean":
        return float(x.mean())
    worst = max(1, math.ceil(alpha * x.size - 1e-9))
    ordered = np.sort(x) if maximize else np.sort(x)[::-1]
    return float(ordered[:worst].mean())


@dataclass
class ResponseCurve:
    """A fitted g(x) = g_max · x^n / (x^n + K^n) of spend x.

    Attributes:
        g_max: Saturation level (money).
        half: K, the spend at half of it.
        shape: n.
        rmse: Root mean squared error of the fit.

    """

    g_max: float
    half: float
    shape: float
    rmse: float

    def __call__(self, x: np.ndarray | float) -> np.ndarray:
        """g(x)."""
        x = np.maximum(np.asarray(x, dtype=float), 0.0)
        r = np.power(x / self.half, self.shape)
        return self.g_max * r / (1.0 + r)

    def derivative(self, x: np.ndarray | float) -> np.ndarray:
        """g'(x) = g_max · n · x^(n−1) K^n / (x^n + K^n)²."""
        x = np.maximum(np.asarray(x, dtype=float), 1e-12)
        r = np.power(x / self.half, self.shape)
        return self.g_max * self.shape * r / (x * (1.0 + r) ** 2)


def _hill(x: np.ndarray, g_max: float, half: float, shape: float) -> np.ndarray:
    r = np.power(np.maximum(x, 0.0) / half, shape)
    return g_max * r / (1.0 + r)


def fit_response_curve(spend: Sequence[float], gain: Sequence[float]) -> ResponseCurve:
    """Least-squares fit of g(x) = g_max · x^n/(x^n + K^n) to (spend, gain) points (spend 0 included).

    Raises:
        ValueError: With fewer than three points of positive spend.

    """
    x, y = np.asarray(spend, dtype=float), np.asarray(gain, dtype=float)
    positive = x > 0
    if positive.sum() < 3:
        raise ValueError(f"a response curve needs at least 3 points of positive spend, got {int(positive.sum())}")
    top = float(max(y.max(), 1e-9))
    start = (2.0 * top, float(np.median(x[positive])), SHAPE_START)
    bounds = ([0.0, float(x[positive].min()) * 1e-3, SHAPE_BOUNDS[0]], [np.inf, float(x.max()) * 1e3, SHAPE_BOUNDS[1]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        params, _ = curve_fit(_hill, x, y, p0=start, bounds=bounds, maxfev=20_000)
    g_max, half, shape = (float(v) for v in params)
    rmse = float(np.sqrt(np.mean((_hill(x, g_max, half, shape) - y) ** 2)))
    return ResponseCurve(g_max, half, shape, rmse)


def allocate_by_marginal_roi(
    curves: Sequence[Callable[[np.ndarray], np.ndarray]],
    budget: float,
    bounds: Sequence[tuple[float, float]],
) -> np.ndarray:
    """Spend per lever maximising Σ g_i(x_i) − Σ x_i with Σ x_i ≤ budget and each x_i in its bounds.

    Solved with SLSQP from several starts (the curves may be S-shaped); returns the best
    allocation found. A budget below a lower bound cuts no lever below it: that lever's
    upper bound is then its lower bound, and a budget below the lower bounds' sum gets
    every lever at its lower bound.
    """
    n = len(curves)
    lo = np.array([b[0] for b in bounds], dtype=float)
    hi = np.array([max(b[0], min(b[1], budget)) for b in bounds], dtype=float)

    def net(x: np.ndarray) -> float:
        return -float(sum(float(c(xi)) for c, xi in zip(curves, x, strict=True)) - x.sum())

    constraints = [{"type": "ineq", "fun": lambda x: budget - x.sum()}]
    starts = [np.clip(np.full(n, budget / n), lo, hi), lo.copy(), np.clip(hi * 0.5, lo, hi)]
    starts += [np.clip(np.eye(n)[i] * budget, lo, hi) for i in range(n)]
    best, best_value = lo.copy(), net(lo)
    for x0 in starts:
        res = minimize(net, x0, method="SLSQP", bounds=list(zip(lo, hi, strict=True)), constraints=constraints)
        x = np.clip(res.x, lo, hi)
        if x.sum() > budget:  # numerical slack: scale back inside the budget
            x = lo + (x - lo) * max(0.0, budget - lo.sum()) / max((x - lo).sum(), 1e-12)
        if net(x) < best_value:
            best, best_value = x, net(x)
    return best


def frontier(
    spend: Sequence[float], score: Sequence[float], budgets: Sequence[float], *, maximize: bool = True
) -> list:
    """Index of the best plan with spend ≤ b for each budget level b (None where no plan fits)."""
    s, v = np.asarray(spend, dtype=float), np.asarray(score, dtype=float)
    out: list[int | None] = []
    for b in budgets:
        ok = np.flatnonzero((s <= b) & np.isfinite(v))
        if not ok.size:
            out.append(None)
            continue
        best = ok[np.argmax(v[ok])] if maximize else ok[np.argmin(v[ok])]
        out.append(int(best))
    return out
