"""Simulate acquisition cohorts of known size, one per weekday, and observe every user's activity.

Calibration and lift estimation need cohorts, not a market: users acquired on
known days, followed for a number of days of tenure. :func:`simulate_cohorts`
runs the organic model (:class:`~sim.core.model.LifecycleModel`) with everyone
aware on day 0 (awareness p = 1, no forgetting) and conversion switched on slot
by slot through the day's conversion multiplier (``Modifiers.conversion``):

    slot i is acquired on day d_i = i mod 7 (d = 0 … 6),

so the users split evenly over :data:`COHORT_DAYS` cohorts that start on seven
consecutive weekdays (start weekday of slot i: (``start_weekday`` + d_i) mod 7),
as the cohorts of a real table do, and each cohort is followed for ``max_tenure``
days after its acquisition day. Traits are drawn with ``trait_sampling: smooth``
(quantiles of fixed uniforms), so with a fixed seed (common random numbers) the
outcome moves smoothly with the population's parameters.

Cohort retention does not depend on how users were acquired (traits are drawn at
slot creation; word of mouth acts on awareness only), so these cohorts behave as
the cohorts of a full ``opsim`` run with the same population.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from sim.core.awareness import AwarenessConfig
from sim.core.hooks import LeverHooks
from sim.core.model import LifecycleModel
from sim.core.population import PopulationConfig

__all__ = ["COHORT_DAYS", "CohortRun", "simulate_cohorts"]

#: Cohorts per run: one per weekday.
COHORT_DAYS = 7


@dataclass
class CohortRun:
    """What a cohort simulation observed.

    Attributes:
        weekday: Per simulated user, the weekday of its acquisition day (0 = Monday).
        segment: Per simulated user, its segment code.
        active: ``active[u, n]``: user u visited on tenure day n (n = 0 … max_tenure;
            column 0 is the acquisition day, always true). None when not recorded.
        cohort_active: ``[d, n]``: users acquired on day d (d = 0 … 6) active on tenure day n.
        cohort_revenue: ``[d, n]``: their revenue on tenure day n.
        cohort_purchases: ``[d, n]``: their purchases on tenure day n.
        cohort_weekday: Weekday of each cohort's acquisition day.

    """

    weekday: np.ndarray
    segment: np.ndarray
    active: np.ndarray | None
    cohort_active: np.ndarray
    cohort_revenue: np.ndarray
    cohort_purchases: np.ndarray
    cohort_weekday: np.ndarray


def simulate_cohorts(
    population: PopulationConfig,
    users: int,
    max_tenure: int,
    seed: int,
    *,
    levers: Sequence[LeverHooks] = (),
    record_activity: bool = True,
) -> CohortRun:
    """Simulate ``users`` users acquired evenly on days 0 … 6 and follow each for ``max_tenure`` days.

    Args:
        population: The population (its market size and awareness are replaced; the
            rest — segments, habit, weekly pattern, resurrection — is used as given).
        users: Simulated users (at least :data:`COHORT_DAYS`).
        max_tenure: Last tenure day observed.
        seed: Root seed of the run.
        levers: Levers acting on the cohorts (e.g. the treatment arm of an A/B test).
        record_activity: Keep the per-user activity matrix (``CohortRun.active``).

    Returns:
        The observations.

    """
    if users < COHORT_DAYS:
        raise ValueError(f"users={users} is not allowed: at least {COHORT_DAYS} (one per weekday)")
    cohort_pop = replace(
        population,
        market_size=users,
        sample_size=None,
        awareness=AwarenessConfig(p=1.0, q=0.0, forget_rate=0.0),
        conversion_rate=1.0,
        trait_sampling="smooth",
    )
    horizon = max_tenure + COHORT_DAYS
    model = LifecycleModel(
        cohort_pop, horizon_days=horizon, seed=seed, levers=levers, record_events=record_activity, agents="lazy"
    )
    start = np.arange(users) % COHORT_DAYS
    for day in range(horizon):
        model.modifiers.conversion = (start == day).astype(np.float32) if day < COHORT_DAYS else 0.0
        model.step()
    active = None
    if record_activity:
        slots, days = model.events()
        tenure = days.astype(np.int64) - model.population.acquired_day[slots]
        keep = tenure <= max_tenure
        active = np.zeros((users, max_tenure + 1), dtype=bool)
        active[slots[keep], tenure[keep]] = True
    cohort_weekday = (population.start_weekday + np.arange(COHORT_DAYS)) % 7
    width = max_tenure + 1
    return CohortRun(
        weekday=cohort_weekday[start],
        segment=model.population.segment.copy(),
        active=active,
        cohort_active=model.cohort_active[:COHORT_DAYS, :width].astype(np.int64),
        cohort_revenue=model.cohort_revenue[:COHORT_DAYS, :width].copy(),
        cohort_purchases=model.cohort_purchases[:COHORT_DAYS, :width].astype(np.int64),
        cohort_weekday=cohort_weekday,
    )
