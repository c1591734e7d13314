"""The daily counters a run keeps: one row per day, one array per column.

Columns (``daily.parquet``): ``day``, ``weekday``, users per stage (``unaware`` …
``churned``), ``new_users`` and ``new_users_<channel>``, ``dau`` (visited today),
``wau`` (visited in the last :data:`WAU_DAYS` days), ``mau`` (last :data:`MAU_DAYS`
days), ``purchases``, ``revenue``, ``latent_alive``, ``awareness_hazard`` and, with
levers, ``cost_<lever>`` and ``cost_total``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from sim.core.lifecycle import STAGE_NAMES

__all__ = ["MAU_DAYS", "WAU_DAYS", "DailyLog"]

#: Weekly active users: a visit within this many days (today included).
WAU_DAYS = 7
#: Monthly active users: a visit within this many days (today included).
MAU_DAYS = 30

COUNT_COLUMNS = ("day", "weekday", *STAGE_NAMES, "new_users", "dau", "wau", "mau", "purchases")
AMOUNT_COLUMNS = ("revenue", "awareness_hazard")


class DailyLog:
    """Preallocated daily counters.

    Args:
        horizon: Number of days (rows).
        channels: Acquisition channels with a ``new_users_<channel>`` column.

    """

    def __init__(self, horizon: int, channels: Iterable[str]) -> None:
        self.horizon = horizon
        self.columns: dict[str, np.ndarray] = {}
        for name in COUNT_COLUMNS:
            self.columns[name] = np.zeros(horizon, dtype=np.int64)
        for name in AMOUNT_COLUMNS:
            self.columns[name] = np.zeros(horizon, dtype=np.float64)
        self.columns["latent_alive"] = np.zeros(horizon, dtype=np.int64)
        for ch in channels:
            self.add_channel(ch)

    def add_channel(self, channel: str) -> None:
        """Add a ``new_users_<channel>`` column."""
        self.columns.setdefault(f"new_users_{channel}", np.zeros(self.horizon, dtype=np.int64))

    def add_cost(self, label: str) -> None:
        """Add a ``cost_<lever>`` column (and ``cost_total``)."""
        self.columns.setdefault("cost_total", np.zeros(self.horizon, dtype=np.float64))
        self.columns.setdefault(f"cost_{label}", np.zeros(self.horizon, dtype=np.float64))

    def record(self, day: int, values: Mapping[str, float]) -> None:
        """Store one day's values."""
        for key, value in values.items():
            self.columns[key][day] = value
