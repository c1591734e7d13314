"""Growth accounting: where each period's active users come from, and the quick ratio.

Per day (or week, w = day // 7), the active users A(t) split into *new*
(acquired in t), *retained* (active in t − 1 too) and *resurrected* (acquired
before t, not active in t − 1); *churned* (lapsed) = active in t − 1, not in t.
Identity: A(t) = A(t − 1) + new + resurrected − churned. Quick ratio =
(new + resurrected) / churned.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.analysis.events import WEEK_DAYS, VisitRecord

__all__ = ["check_growth_identity", "growth_accounting"]


def growth_accounting(data: VisitRecord, period: str = "day") -> pd.DataFrame:
    """New, retained, resurrected and churned active users per day or week, and the quick ratio."""
    if period not in ("day", "week"):
        raise ValueError(f"period={period!r} is not allowed: 'day' or 'week'")
    step = 1 if period == "day" else WEEK_DAYS
    n_periods = (data.horizon - 1) // step + 1
    active, new, retained = data.period_counts(step)
    resurrected = active - retained - new
    churned = np.r_[0, active[:-1] - retained[1:]]
    with np.errstate(invalid="ignore", divide="ignore"):
        quick = np.where(churned > 0, (new + resurrected) / np.maximum(churned, 1), np.nan)
    return pd.DataFrame(
        {
            period: np.arange(n_periods),
            "active": active,
            "new": new,
            "retained": retained,
            "resurrected": resurrected,
            "churned": churned,
            "quick_ratio": quick,
        }
    )


def check_growth_identity(table: pd.DataFrame) -> bool:
    """A(t) = A(t − 1) + new + resurrected − churned for every period."""
    a = table["active"].to_numpy()
    rhs = np.r_[0, a[:-1]] + table["new"].to_numpy() + table["resurrected"].to_numpy() - table["churned"].to_numpy()
    return bool(np.array_equal(a, rhs))
