"""The daily counters a run keeps: one row per day, one array per column.

Columns (``daily.parquet``): ``day``, ``weekday``, users per stage (``unaware`` …
``churned``), ``new_users`` and ``new_users_<channel>``, ``dau`` (visited today),
``wau`` (visited in the last :data:`WAU_DAYS` days), ``mau`` (last :data:`MAU_DAYS`
days), ``purchases``, ``revenue``, ``latent_alive``, ``awareness_hazard`` (h(t), at most 1) and, with
levers, ``cost_<lever>`` and ``cost_total``.

Counts and revenue are for the real market: the simulated sample's numbers times
the user weight w = M / N. With the whole market simulated (w = 1) counts are
integers (int64); with a sample they are estimates (float64).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from sim.core.lifecycle import STAGE_NAMES

__all__ = ["DAY_COUNTS", "MAU_DAYS", "MC_GROUPS", "WAU_DAYS", "DailyLog"]

#: Weekly active users: a visit within this many days (today included).
WAU_DAYS = 7
#: Monthly active users: a visit within this many days (today included).
MAU_DAYS = 30
#: The counts of a chunk's day that the relabelling pass gives (:mod:`sim.core.kernels`), in
#: order: slots by stage code, then WAU (silence < WAU_DAYS), MAU (< MAU_DAYS), latent-alive.
DAY_COUNTS = (*STAGE_NAMES, "wau", "mau", "latent_alive")
#: Simulated users are split into this many groups (slot mod G); the spread of the
#: groups' totals gives the Monte-Carlo error of a run's totals (batch means).
MC_GROUPS = 20

#: Counts of the simulated users, scaled by w to the real market (and ``new_users_<channel>``).
COUNT_COLUMNS = (*STAGE_NAMES, "new_users", "dau", "wau", "mau", "purchases")


class DailyLog:
    """Preallocated daily counters.

    Args:
        horizon: Number of days (rows).
        channels: Acquisition channels with a ``new_users_<channel>`` column.
        market_size: M, the real users the counts are reported for (default: N).
        sample_size: N, the simulated users counted (default: M).

    """

    def __init__(
        self, horizon: int, channels: Iterable[str], market_size: int | None = None, sample_size: int | None = None
    ) -> None:
        self.horizon = horizon
        self._market = market_size if market_size is not None else sample_size
        self._sample = sample_size if sample_size is not None else market_size
        self._scale = self._market is not None and self._market != self._sample
        self._count_dtype = np.float64 if self._scale else np.int64
        self._scaled = {*COUNT_COLUMNS, "latent_alive", "revenue"}
        self.columns: dict[str, np.ndarray] = {}
        for name in ("day", "weekday"):
            self.columns[name] = np.zeros(horizon, dtype=np.int64)
        for name in COUNT_COLUMNS:
            self.columns[name] = np.zeros(horizon, dtype=self._count_dtype)
        for name in ("revenue", "awareness_hazard"):
            self.columns[name] = np.zeros(horizon, dtype=np.float64)
        self.columns["latent_alive"] = np.zeros(horizon, dtype=self._count_dtype)
        for ch in channels:
            self.add_channel(ch)

    def add_channel(self, channel: str) -> None:
        """Add a ``new_users_<channel>`` column."""
        name = f"new_users_{channel}"
        self._scaled.add(name)
        self.columns.setdefault(name, np.zeros(self.horizon, dtype=self._count_dtype))

    def add_cost(self, label: str) -> None:
        """Add a ``cost_<lever>`` column (and ``cost_total``)."""
        self.columns.setdefault("cost_total", np.zeros(self.horizon, dtype=np.float64))
        self.columns.setdefault(f"cost_{label}", np.zeros(self.horizon, dtype=np.float64))

    def record(self, day: int, values: Mapping[str, float]) -> None:
        """Store one day's values: counts and revenue of the simulated users (scaled here by M / N), costs in money."""
        for key, value in values.items():
            scaled = self._scale and key in self._scaled
            self.columns[key][day] = value * self._market / self._sample if scaled else value
