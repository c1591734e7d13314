"""The explorer's model: a strategy and its organic baseline, stepped in lockstep on one seed.

:class:`StrategyVsBaseline` is a ``mesa.Model`` built from slider-friendly keywords
(presets by name, the market size, multipliers on the preset's awareness and
conversion, a multiplier on every lever's budget knob). It holds two
:class:`~sim.app.model.UserLifecycleModel` runs with the same seed — the strategy,
and the same market with no levers — and steps both each day, so every difference
between them is the strategy's (common random numbers, as in :func:`sim.simulate`).

Its ``datacollector`` records the strategy run's stage counts, new users, DAU/WAU/MAU,
revenue and cost (:mod:`sim.core.reporters`) and, against the baseline,

* ``cumulative_cost``: C(t) = Σ_{d ≤ t} cost(d);
* ``incremental_gross_profit``: ΔGP(t) = m · Σ_{d ≤ t} (revenue(d) − baseline revenue(d)),
  with m = ``economics.margin``;
* ``incremental_profit``: ΔGP(t) − C(t).

:func:`money_so_far` reads the same numbers plus the incremental ROI (ΔGP − C) / C
and the payback day, for the explorer's readout.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import mesa
import numpy as np
import pandas as pd

from sim.analysis.economics import payback_day, roi
from sim.analysis.retention import cohort_retention_curve, pooled_cohort_users
from sim.app.config import Config, load_config, validate
from sim.app.model import UserLifecycleModel, seed_from
from sim.core.reporters import model_reporters
from sim.levers.strategy import StrategyConfig, knob_ceiling, lever_configs

__all__ = ["MoneySoFar", "StrategyVsBaseline", "scaled_budgets"]

#: The explorer's retention curve shows at least D_0 … D_{this − 1}.
RETENTION_MIN_DAYS = 8


def scaled_budgets(strategy: StrategyConfig, factor: float) -> StrategyConfig:
    """The strategy with every lever's budget knob multiplied by ``factor`` (capped at the knob's range).

    The budget knob is each lever's spend driver (``budget_key``): an ad channel's
    ``daily_budget`` (every one of its ``period_budgets`` when it has them), push
    ``messages_per_week``, a referral's ``invite_rate`` … (:meth:`~sim.levers.base.Lever.with_budget_scaled`).
    """
    for key, name, cls, lever_cfg in lever_configs(strategy):
        knob = cls.budget_key
        if knob is None:
            continue
        scaled = cls.with_budget_scaled(lever_cfg, factor, cap=knob_ceiling(lever_cfg, knob))
        group = key.split(".")[1]
        if group in ("paid_ads", "viral_events"):
            entries = dict(getattr(strategy, group))
            entries[name] = scaled
            strategy = replace(strategy, **{group: entries})
        else:
            strategy = replace(strategy, **{group: scaled})
    return strategy


def _of_strategy(reporter: Any, model: StrategyVsBaseline) -> float:
    return reporter(model.strategy_run)


@dataclass(frozen=True)
class MoneySoFar:
    """The strategy's money against the baseline, up to the last day stepped."""

    day: int
    horizon: int
    currency: str
    cost: float
    incremental_gross_profit: float
    incremental_profit: float
    incremental_roi: float
    payback_day: int | None


def _release(*runs: UserLifecycleModel) -> None:
    """Let the runs of a discarded explorer model be freed (:meth:`~sim.core.model.LifecycleModel.release`)."""
    for run in runs:
        run.release()


class StrategyVsBaseline(mesa.Model):
    """A strategy run and its no-lever baseline on the same seed, stepped together.

    Args:
        population: Population preset (``conf/population/``).
        strategy: Strategy preset (``conf/strategy/``).
        market_size: M, the real market (budgets and money are for it).
        sample_size: N, the users simulated (at most M); each stands for M / N real ones.
        horizon_days: Days to simulate.
        awareness_scale: Multiplier on the preset's awareness hazards p (innovation) and q (imitation).
        conversion_scale: Multiplier on the preset's ``conversion_rate`` (capped at 1).
        budget_scale: Multiplier on every lever's budget knob (:func:`scaled_budgets`).
        seed: Root seed of both runs (Mesa's keyword); ``rng`` is the same.
        rng: The same as ``seed``; give one of the two.

    Attributes:
        config: The strategy run's config.
        strategy_run: The strategy's model.
        baseline_run: The same market and seed without levers.

    """

    def __init__(
        self,
        population: str = "consumer_app",
        strategy: str = "paid_growth",
        market_size: int = 1_000_000,
        sample_size: int = 20_000,
        horizon_days: int = 180,
        awareness_scale: float = 1.0,
        conversion_scale: float = 1.0,
        budget_scale: float = 1.0,
        seed: int | None = None,
        rng: int | None = None,
    ) -> None:
        root = seed_from(seed, rng)
        cfg = load_config(
            {
                "population": population,
                "strategy": strategy,
                "population.market_size": market_size,
                "population.sample_size": sample_size,
                "horizon_days": horizon_days,
                "seed": 0 if root is None else root,
                "progress": False,
            }
        )
        pop = cfg.population
        pop = replace(
            pop,
            awareness=replace(
                pop.awareness, p=min(1.0, pop.awareness.p * awareness_scale), q=pop.awareness.q * awareness_scale
            ),
            conversion_rate=min(1.0, pop.conversion_rate * conversion_scale),
        )
        cfg = validate(replace(cfg, population=pop, strategy=scaled_budgets(cfg.strategy, budget_scale)))
        super().__init__(rng=cfg.seed)
        self.config: Config = cfg
        self.strategy_run = UserLifecycleModel(cfg)
        self.baseline_run = UserLifecycleModel(replace(cfg, strategy=StrategyConfig()))
        # the page replaces its model on every reset: the old runs are freed with it (see release)
        weakref.finalize(self, _release, self.strategy_run, self.baseline_run)
        self.margin = cfg.economics.margin
        reporters: dict[str, Any] = {name: partial(_of_strategy, r) for name, r in model_reporters().items()}
        reporters["cumulative_cost"] = partial(_money, "cost")
        reporters["incremental_gross_profit"] = partial(_money, "incremental_gross_profit")
        reporters["incremental_profit"] = partial(_money, "incremental_profit")
        self.datacollector = mesa.DataCollector(model_reporters=reporters)
        self.datacollector.collect(self)

    @property
    def day(self) -> int:
        """Days simulated so far."""
        return self.strategy_run.day

    @property
    def horizon(self) -> int:
        """Days the model can step."""
        return self.strategy_run.horizon

    def step(self) -> None:
        """Simulate one day of both runs."""
        self.strategy_run.step()
        self.baseline_run.step()
        self.running = self.strategy_run.running
        self.datacollector.collect(self)

    def daily(self) -> pd.DataFrame:
        """The strategy run's daily log so far (one row per day stepped)."""
        return pd.DataFrame({k: v[: self.day] for k, v in self.strategy_run.log.columns.items()})

    def retention(self) -> tuple[np.ndarray, np.ndarray]:
        """Pooled classic retention of the strategy run so far, and the users behind each point.

        D_0 … D_n for n up to half the days simulated (at least :data:`RETENTION_MIN_DAYS`):
        later points rest on the first few, small cohorts only.
        """
        t = self.day
        observed = self.strategy_run.cohort_active[:t, :t]
        shown = min(t, max(RETENTION_MIN_DAYS, t // 2 + 1))
        return cohort_retention_curve(observed)[:shown], pooled_cohort_users(observed)[:shown]

    def money(self) -> MoneySoFar:
        """Cost, incremental gross profit and profit, incremental ROI and payback day so far."""
        t = self.day
        cost_col = self.strategy_run.log.columns.get("cost_total")
        cost = cost_col[:t] if cost_col is not None else np.zeros(t)
        delta = self.margin * (
            self.strategy_run.log.columns["revenue"][:t] - self.baseline_run.log.columns["revenue"][:t]
        )
        total_cost, gross = float(cost.sum()), float(delta.sum())
        return MoneySoFar(
            day=t,
            horizon=self.horizon,
            currency=self.config.economics.currency,
            cost=total_cost,
            incremental_gross_profit=gross,
            incremental_profit=gross - total_cost,
            incremental_roi=roi(gross, total_cost),
            payback_day=payback_day(delta, cost) if t else None,
        )


def _money(field: str, model: StrategyVsBaseline) -> float:
    return float(getattr(model.money(), field))
