"""The headline numbers of one run (``summary.json``, before economics and analytics)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.retention import HEADLINE_DAYS, cohort_retention

__all__ = ["summarize"]


def _users(value: float) -> int:
    """A count of real users, to the nearest user (a sampled run's counts are estimates)."""
    return round(float(value))


def summarize(
    daily: pd.DataFrame, cohort_active: np.ndarray, market_size: int, stage_names: Sequence[str]
) -> dict[str, Any]:
    """Headline numbers of one run.

    Args:
        daily: The daily table.
        cohort_active: The cohort matrix.
        market_size: M.
        stage_names: The stage columns of ``daily``.

    Returns:
        A JSON-ready dict: final users per stage, DAU/WAU/MAU and stickiness on
        the last day, mean DAU, D1/D7/D30 classic retention, users acquired,
        purchases and revenue.

    """
    last = daily.iloc[-1]
    mau = float(last["mau"])
    retention = {f"d{n}": cohort_retention(cohort_active, n) for n in HEADLINE_DAYS}
    return {
        "days": len(daily),
        "market_size": market_size,
        "final_stage_counts": {name: _users(last[name]) for name in stage_names},
        "acquired_users": _users(daily["new_users"].sum()),
        "dau": _users(last["dau"]),
        "wau": _users(last["wau"]),
        "mau": _users(mau),
        "stickiness_dau_mau": float(last["dau"] / mau) if mau else float("nan"),
        "mean_dau": float(daily["dau"].mean()),
        "retention": retention,
        "purchases": _users(daily["purchases"].sum()),
        "revenue": float(daily["revenue"].sum()),
        "latent_alive_users": _users(last["latent_alive"]),
    }
