"""``check_model``: the verifier every preset (and later every strategy) must pass.

In the spirit of Gymnasium's env checker, it runs a configuration several times
and asserts the properties every opsim run must have:

* determinism — the same seed gives identical daily tables and cohort matrices;
* seed sensitivity — a different seed gives a different run;
* conservation — the seven stage counts sum to the market size M every day;
* no negative counts, revenue, costs or hazards; DAU <= WAU <= MAU <= acquired users;
* money — lever costs add up to ``cost_total`` and to the summary's total cost;
* consistency — cohort sizes add up to the users acquired, and each day's DAU
  equals the users active in the cohort matrix on that day;
* output schema — the daily table, cohort table and summary have their columns
  and keys with the documented types.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from sim.app.config import Config, load_config
from sim.app.simulate import simulate
from sim.core.lifecycle import STAGE_NAMES
from sim.output.result import Result

__all__ = ["DAILY_COLUMNS", "SUMMARY_KEYS", "check_model", "check_result"]

DAILY_COLUMNS = (
    "day",
    "weekday",
    *STAGE_NAMES,
    "new_users",
    "dau",
    "wau",
    "mau",
    "purchases",
    "revenue",
    "awareness_hazard",
    "latent_alive",
    "new_users_organic",
    "new_users_word_of_mouth",
)
ECONOMICS_KEYS = (
    "currency",
    "revenue",
    "gross_profit",
    "cost_total",
    "cost_by_lever",
    "profit",
    "roi",
    "incremental",
    "payback_day",
    "cac_by_channel",
    "ltv",
    "marginal_roi",
)
COHORT_COLUMNS = ("cohort_day", "day_n", "cohort_size", "active", "active_share")
SUMMARY_KEYS = (
    "days",
    "market_size",
    "final_stage_counts",
    "acquired_users",
    "dau",
    "wau",
    "mau",
    "stickiness_dau_mau",
    "mean_dau",
    "retention",
    "purchases",
    "revenue",
    "latent_alive_users",
)


class ModelCheckError(AssertionError):
    """A run violated one of the properties :func:`check_model` verifies."""


def _require(ok: bool, what: str) -> None:
    if not ok:
        raise ModelCheckError(what)


def check_result(result: Result) -> None:
    """Check one run's outputs: conservation, signs, consistency, schema.

    Raises:
        ModelCheckError: Naming the first property that fails.

    """
    daily, m = result.daily, result.config.population.market_size
    missing = [c for c in DAILY_COLUMNS if c not in daily.columns]
    _require(not missing, f"daily table lacks columns {missing}")
    _require(len(daily) == result.config.horizon_days, f"daily has {len(daily)} rows, expected horizon_days")
    _require(bool((daily["day"].to_numpy() == np.arange(len(daily))).all()), "daily.day is not 0 … horizon − 1")
    stage_sum = daily[list(STAGE_NAMES)].sum(axis=1).to_numpy()
    bad = np.flatnonzero(stage_sum != m)
    _require(bad.size == 0, f"stage counts do not sum to M = {m} on day {bad[:1].tolist()}")
    numeric = daily.select_dtypes("number")
    negative = [c for c in numeric.columns if (numeric[c] < 0).any()]
    _require(not negative, f"negative values in {negative}")
    acquired = daily["new_users"].cumsum().to_numpy()
    dau, wau, mau = (daily[c].to_numpy() for c in ("dau", "wau", "mau"))
    _require(
        bool((dau <= wau).all() and (wau <= mau).all() and (mau <= acquired).all()), "not DAU <= WAU <= MAU <= acquired"
    )
    channels = [c for c in daily.columns if c.startswith("new_users_")]
    _require(bool((daily[channels].sum(axis=1) == daily["new_users"]).all()), "new users by channel do not add up")
    ca = result.cohort_active
    _require(int(ca[:, 0].sum()) == int(acquired[-1]), "cohort sizes do not add up to the users acquired")
    h = ca.shape[0]
    a, n = np.indices(ca.shape)
    active_on_day = np.bincount((a + n)[a + n < h], weights=ca[a + n < h], minlength=h)
    _require(bool((active_on_day == dau).all()), "cohort matrix does not reproduce DAU")
    cohorts = result.cohorts
    _require(tuple(cohorts.columns) == COHORT_COLUMNS, f"cohort columns {tuple(cohorts.columns)}")
    _require(bool(((cohorts.active_share >= 0) & (cohorts.active_share <= 1)).all()), "cohort shares outside [0, 1]")
    missing = [k for k in SUMMARY_KEYS if k not in result.summary]
    _require(not missing, f"summary lacks {missing}")
    costs = [c for c in daily.columns if c.startswith("cost_") and c != "cost_total"]
    if costs:
        _require("cost_total" in daily, "lever cost columns without cost_total")
        _require(
            bool(np.allclose(daily[costs].sum(axis=1), daily["cost_total"], rtol=0, atol=0.005)),
            "cost_total is not the sum of lever costs",
        )
        econ = result.summary["economics"]
        missing = [k for k in ECONOMICS_KEYS if k not in econ]
        _require(not missing, f"summary.economics lacks {missing}")
        _require(
            abs(econ["cost_total"] - float(daily["cost_total"].sum())) < 0.005, "summary cost differs from daily costs"
        )
    for key, value in result.summary["retention"].items():
        _require(np.isnan(value) or 0 <= value <= 1, f"retention {key} = {value} outside [0, 1]")


def _same(a: Result, b: Result) -> bool:
    return bool(a.daily.equals(b.daily) and np.array_equal(a.cohort_active, b.cohort_active))


def check_model(
    config: Config | Mapping[str, Any] | Iterable[str] | None = None, *, seeds: tuple[int, int] = (0, 1)
) -> Result:
    """Run ``config`` three times and verify every property listed above.

    Args:
        config: Anything :func:`sim.app.config.load_config` accepts.
        seeds: Two different seeds: the first is run twice, the second once.

    Returns:
        The first run's result.

    Raises:
        ModelCheckError: Naming the first property that fails.

    """
    cfg = replace(load_config(config), progress=False)
    first = simulate(replace(cfg, seed=seeds[0]))
    check_result(first)
    again = simulate(replace(cfg, seed=seeds[0]))
    _require(_same(first, again), f"seed {seeds[0]} did not reproduce its run")
    other = simulate(replace(cfg, seed=seeds[1]))
    check_result(other)
    _require(not _same(first, other), f"seeds {seeds[0]} and {seeds[1]} gave identical runs")
    _require(isinstance(first.daily, pd.DataFrame), "daily is not a DataFrame")
    return first
