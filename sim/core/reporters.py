"""What the model's Mesa ``DataCollector`` records: one row per collection, for the real market.

:class:`sim.core.model.LifecycleModel` collects once when it is built (row 0: the
market before day 0, everyone unaware) and once after every step, as Mesa models
do, so row k of ``model.datacollector.get_model_vars_dataframe()`` is the state
after k days and row k ≥ 1 repeats day k − 1 of the daily log
(``daily.parquet``):

* ``unaware`` … ``churned``: users per lifecycle stage at the end of the day;
* ``new_users``: users acquired that day;
* ``dau``, ``wau``, ``mau``: users with a visit that day, in the last
  :data:`~sim.core.daily_log.WAU_DAYS`, in the last :data:`~sim.core.daily_log.MAU_DAYS` days;
* ``revenue``: that day's revenue; ``cost``: that day's cost of every lever (0 without levers).

Agent reporters are the caller's choice (``agent_reporters={"stage": "stage"}``):
any attribute of :class:`sim.core.agent.UserAgent` (``stage``, ``segment``,
``channel``, ``habit``, ``churn_hazard`` …). They read every registered agent at
every collection, so keep them to small markets (``agents=all``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Protocol

import numpy as np

from sim.core.lifecycle import STAGE_NAMES

__all__ = ["LOG_REPORTERS", "DailyColumns", "ModelState", "model_reporters"]

#: Reporter name → daily-log column, read for the last day stepped.
LOG_REPORTERS = {
    "new_users": "new_users",
    "dau": "dau",
    "wau": "wau",
    "mau": "mau",
    "revenue": "revenue",
    "cost": "cost_total",
}


class DailyColumns(Protocol):
    """The daily log: one array per column, one row per day."""

    columns: dict[str, np.ndarray]


class ModelState(Protocol):
    """What the reporters read of a model."""

    day: int
    stage_counts: np.ndarray
    log: DailyColumns


def _last_day(column: str, model: ModelState) -> float:
    """The log's ``column`` on the last day stepped; before day 0, the starting value (0 where the column is absent)."""
    values = model.log.columns.get(column)
    if values is None:
        return 0
    if model.day == 0:
        start = model.stage_counts[STAGE_NAMES.index(column)] if column in STAGE_NAMES else 0
        return values.dtype.type(start).item()
    return values[model.day - 1].item()


def model_reporters() -> dict[str, Callable[[ModelState], float]]:
    """The model reporters, in column order: stage counts, then :data:`LOG_REPORTERS`."""
    reporters: dict[str, Callable[[ModelState], float]] = {name: partial(_last_day, name) for name in STAGE_NAMES}
    reporters.update({name: partial(_last_day, column) for name, column in LOG_REPORTERS.items()})
    return reporters
