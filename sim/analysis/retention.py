"""Retention from the cohort matrix: pooled classic retention and the long cohort table.

The simulator keeps ``cohort_active[a, n]``: users acquired on day a who are
active on day a + n (column 0 is the cohort size). Classic day-N retention pools
every cohort observed for at least N days (horizon H):

    D_N = Σ_a active[a, N] / Σ_a size[a]     over cohorts a with a + N < H.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "HEADLINE_DAYS",
    "LONG_TERM_DAYS",
    "MIN_CURVE_USERS",
    "cohort_retention",
    "cohort_retention_curve",
    "cohort_table",
    "pooled_cohort_users",
    "pooled_curve_from_table",
]

#: Days N of the headline retention numbers (``summary.json`` → ``retention``).
HEADLINE_DAYS = (1, 7, 30)
#: Last day N of the retention curves that are fitted, projected from and drawn (D0 … D90).
LONG_TERM_DAYS = 90
#: A pooled retention curve is shown only for days N observed by at least this share of the
#: users behind D1 (the last days of a short run rest on a few early cohorts).
MIN_POOLED_SHARE = 0.05
#: A pooled retention share is fitted or projected from only where it rests on at least this many
#: simulated users (SE of a 6 % share ≤ 1.4 points). A short run's last days rest on a few early
#: cohorts (2 users on day 59 of a 60-day paid_growth run): fitting or anchoring there made the
#: LTV tail 46× the observed part (docs/model.md, "The LTV tail").
MIN_CURVE_USERS = 300


def pooled_cohort_users(cohort_active: np.ndarray) -> np.ndarray:
    """Users observed at each N: Σ size[a] over cohorts a with a + N < H, for N = 0 … H − 1."""
    horizon = cohort_active.shape[0]
    sizes = np.cumsum(cohort_active[:, 0].astype(np.int64))  # sizes[k] = Σ_{a<=k} size[a]
    return sizes[horizon - 1 - np.arange(horizon)]


def cohort_retention(cohort_active: np.ndarray, day_n: int) -> float:
    """Pooled classic retention D_N from the cohort matrix (NaN if unobserved).

    Args:
        cohort_active: ``[a, n]`` = users of cohort a active on day a + n
            (column 0 is the cohort size).
        day_n: N.

    """
    horizon = cohort_active.shape[0]
    if day_n >= horizon:
        return float("nan")
    observed = horizon - day_n
    size = cohort_active[:observed, 0].sum(dtype=np.int64)
    if size == 0:
        return float("nan")
    return float(cohort_active[:observed, day_n].sum(dtype=np.int64) / size)


def cohort_retention_curve(cohort_active: np.ndarray) -> np.ndarray:
    """Pooled classic retention D_0 … D_{H−1} (NaN where no cohort is observed)."""
    horizon = cohort_active.shape[0]
    users = pooled_cohort_users(cohort_active)
    curve = np.full(horizon, np.nan)
    for n in range(horizon):
        if users[n]:
            curve[n] = cohort_active[: horizon - n, n].sum(dtype=np.int64) / users[n]
    return curve


def cohort_table(cohort_active: np.ndarray, user_weight: float = 1.0) -> pd.DataFrame:
    """Long cohort table over observed cells of non-empty cohorts.

    Columns: ``cohort_day``, ``day_n``, ``cohort_size``, ``active``, ``active_share``;
    sizes and counts are multiplied by ``user_weight`` (real users per simulated one;
    integers when it is 1).
    """
    horizon = cohort_active.shape[0]
    a, n = np.indices(cohort_active.shape)
    size = cohort_active[:, 0]
    keep = (a + n < horizon) & (size[a] > 0)
    active = cohort_active[keep].astype(np.int64)
    sizes = size[a[keep]].astype(np.int64)
    share = active / sizes
    if user_weight != 1.0:
        sizes, active = sizes * user_weight, active * user_weight
    return pd.DataFrame(
        {
            "cohort_day": a[keep].astype(np.int32),
            "day_n": n[keep].astype(np.int32),
            "cohort_size": sizes,
            "active": active,
            "active_share": share,
        }
    )


def pooled_curve_from_table(cohorts: pd.DataFrame, last_day: int = LONG_TERM_DAYS) -> tuple[np.ndarray, np.ndarray]:
    """Pooled classic retention D_0 … D_last and the users behind each, from a long cohort table.

    The table (:func:`cohort_table`, ``cohorts.parquet``) holds exactly the observed
    cells (a + n < H) of non-empty cohorts, so pooling by ``day_n`` gives the same
    D_N as :func:`cohort_retention` on the matrix, without knowing the horizon H:

        D_N = Σ_a active[a, N] / Σ_a size[a]     over the rows with day_n = N.

    Sums are in floats: counts of a sampled market (user weight ≠ 1) need not be whole.

    Returns:
        ``(curve, users)``, both of length ``last_day + 1``; NaN and 0 where no cohort is observed.

    """
    curve = np.full(last_day + 1, np.nan)
    users = np.zeros(last_day + 1)
    rows = cohorts[cohorts["day_n"] <= last_day]
    if rows.empty:
        return curve, users
    sums = rows.groupby("day_n")[["active", "cohort_size"]].sum()
    n = sums.index.to_numpy(dtype=np.int64)
    size = sums["cohort_size"].to_numpy(dtype=float)
    users[n] = size
    curve[n] = np.divide(sums["active"].to_numpy(dtype=float), size, out=np.full(n.size, np.nan), where=size > 0)
    return curve, users
