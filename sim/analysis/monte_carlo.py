"""Monte-Carlo error of a run's totals: batch means over groups of simulated users.

A run simulates N users of a market of M; each stands for w = M / N real ones. The
simulated users are split into G groups (slot mod G, ``MC_GROUPS`` in the core),
each a random sample of N / G users of the same market. With x_g a group's total
(in real units: users, money), the run's total is T = Σ_g x_g and

    SE(T) = √( G / (G − 1) · Σ_g (x_g − x̄)² ),    x̄ = T / G

(Var(Σ_g x_g) = G · Var(x_g), estimated by G · s², s² the groups' sample variance).
Two runs with the same seed (a strategy and its baseline) are paired group by
group: a difference D = Σ_g (x_g − y_g) has SE(D) = SE of the group differences. A
ratio R = Σ a_g / Σ b_g (ROI = profit / cost) has the delta-method error

    SE(R) = √( G / (G − 1) · Σ_g (a_g − R · b_g)² ) / |Σ_g b_g|.

Users interact only through yesterday's DAU (word of mouth, referrals), which
couples the groups weakly; seed-to-seed spread (sweeps, the planner) measures the
whole error, coupling included.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ratio_se", "total_se"]


def total_se(groups: np.ndarray) -> float:
    """Standard error of the sum of the group totals (NaN with fewer than two groups)."""
    x = np.asarray(groups, dtype=float)
    g = x.size
    if g < 2:
        return float("nan")
    return float(np.sqrt(g / (g - 1) * np.sum((x - x.mean()) ** 2)))


def ratio_se(numerator: np.ndarray, denominator: np.ndarray) -> float:
    """Delta-method standard error of Σ numerator / Σ denominator (NaN if the denominator sums to 0)."""
    a, b = np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    g, total = a.size, b.sum()
    if g < 2 or total == 0:
        return float("nan")
    r = a.sum() / total
    return float(np.sqrt(g / (g - 1) * np.sum((a - r * b) ** 2)) / abs(total))
