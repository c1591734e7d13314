"""Interval estimates used across reports: Student-t intervals over seeds, binomial intervals.

Over n paired seeds with values x_1 … x_n, the 95 % interval of the mean is

    x̄ ± t_{0.975, n−1} · s / √n,

s the sample standard deviation. ``scipy.special.stdtrit`` gives the same
quantiles as ``scipy.stats.t.ppf`` without importing scipy.stats (0.5–0.9 s) into
a sweep's parent process. A share p of n users has the normal-approximation
interval p ± z_{0.975} · √(p(1 − p)/n).

A ratio of two paired quantities over seeds (an ROI: net gain y_i over cost x_i) is
estimated as the ratio of their sums, R = Σ y_i / Σ x_i (the mean of the seeds' ratios
is biased, and a seed of tiny cost dominates it), with the delta-method (linearised)
interval of a ratio estimator:

    R ± t_{0.975, n−1} · s_d / (√n · |x̄|),   d_i = y_i − R · x_i,

s_d the sample standard deviation of the d_i (Cochran, *Sampling Techniques*, 1977, §6.4).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import ndtri, stdtrit

__all__ = [
    "CONFIDENCE",
    "MIN_INTERVAL_VALUES",
    "Z_95",
    "binomial_half_width",
    "ratio_interval",
    "t_half_width",
    "t_interval",
]

#: Confidence level of every interval opsim reports.
CONFIDENCE = 0.95
#: Values an interval of their mean needs: one value has no spread, so no t-interval.
MIN_INTERVAL_VALUES = 2
#: Standard normal quantile z_{0.975} (≈ 1.96).
Z_95 = float(ndtri(0.5 + CONFIDENCE / 2))


def t_half_width(sd: Any, n: Any) -> Any:
    """Half-width t_{0.975, n−1} · sd / √n (arrays broadcast; n ≥ 2)."""
    n = np.asarray(n, dtype=float)
    return stdtrit(n - 1, 0.5 + CONFIDENCE / 2) * np.asarray(sd, dtype=float) / np.sqrt(n)


def t_interval(values: np.ndarray) -> tuple[float, float, float, int]:
    """Mean, low, high and n of the finite values (low/high NaN with fewer than 2).

    Returns:
        ``(mean, low, high, n)``.

    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    n = v.size
    if n == 0:
        return float("nan"), float("nan"), float("nan"), 0
    mean = float(v.mean())
    if n < MIN_INTERVAL_VALUES:
        return mean, float("nan"), float("nan"), n
    half = float(t_half_width(v.std(ddof=1), n))
    return mean, mean - half, mean + half, n


def ratio_interval(numerator: np.ndarray, denominator: np.ndarray) -> tuple[float, float, float, int]:
    """Ratio estimator R = Σ y / Σ x of paired values, its 95 % delta-method interval, and n.

    Pairs where either value is not finite are left out. Low and high are NaN with
    fewer than 2 pairs; everything is NaN without pairs or where Σ x is 0.

    Args:
        numerator: y_i per seed (a net gain).
        denominator: x_i per seed, paired with y_i (a cost).

    Returns:
        ``(R, low, high, n)``.

    """
    y, x = np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    keep = np.isfinite(y) & np.isfinite(x)
    y, x = y[keep], x[keep]
    n = y.size
    nan = float("nan")
    if n == 0 or x.sum() == 0:
        return nan, nan, nan, n
    ratio = float(y.sum() / x.sum())
    if n < MIN_INTERVAL_VALUES:
        return ratio, nan, nan, n
    residuals = y - ratio * x
    half = float(t_half_width(residuals.std(ddof=1), n)) / abs(float(x.mean()))
    return ratio, ratio - half, ratio + half, n


def binomial_half_width(share: Any, n: Any) -> Any:
    """Half-width z_{0.975} · √(p(1 − p)/n) of a share p of n (n ≥ 1 enforced)."""
    p = np.asarray(share, dtype=float)
    return Z_95 * np.sqrt(np.clip(p * (1 - p), 0, None) / np.maximum(n, 1))
