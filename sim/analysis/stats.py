"""Interval estimates used across reports: Student-t intervals over seeds, binomial intervals.

Over n paired seeds with values x_1 … x_n, the 95 % interval of the mean is

    x̄ ± t_{0.975, n−1} · s / √n,

s the sample standard deviation. ``scipy.special.stdtrit`` gives the same
quantiles as ``scipy.stats.t.ppf`` without importing scipy.stats (0.5–0.9 s) into
a sweep's parent process. A share p of n users has the normal-approximation
interval p ± z_{0.975} · √(p(1 − p)/n).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import ndtri, stdtrit

__all__ = ["CONFIDENCE", "Z_95", "binomial_half_width", "t_half_width", "t_interval"]

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


def binomial_half_width(share: Any, n: Any) -> Any:
    """Half-width z_{0.975} · √(p(1 − p)/n) of a share p of n (n ≥ 1 enforced)."""
    p = np.asarray(share, dtype=float)
    return Z_95 * np.sqrt(np.clip(p * (1 - p), 0, None) / np.maximum(n, 1))
