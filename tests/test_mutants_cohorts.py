"""Tests that kill surviving mutants of ``sim/core/cohorts.py`` (docs/mutation.md).

``simulate_cohorts`` had no fast test: only the slow statistical calibration and lift
tests ran it. Here a population whose every user visits and buys every day (visit
probability 2 · propensity ≥ 1 with propensity ~ Beta(50, 1), churn hazard ~ Beta(0.001, 1e6),
purchase probability 1, order value exactly 20) gives exact cohort tables whatever the
seed: slot i joins cohort i mod 7, on day i mod 7.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from protocol_lever import ProtocolOnlyLever

from sim.core.cohorts import COHORT_DAYS, simulate_cohorts
from sim.core.population import OrderValueConfig, PopulationConfig, SegmentConfig
from sim.core.survival import ChurnConfig
from sim.core.visits import VisitConfig

# Cohort sizes of 10 users: slots 0 … 9 join cohorts 0 1 2 3 4 5 6 0 1 2.
SIZES_10 = np.array([2, 2, 2, 1, 1, 1, 1])


def every_day_population(**top) -> PopulationConfig:
    """Everyone visits and buys (one order of exactly 20) every day; no one churns.

    Market size, sample size, awareness, conversion and trait sampling are set to values
    that ``simulate_cohorts`` must replace (a 1000-person market, 3 simulated users, p = 0.001,
    10 % conversion, fast traits).
    """
    segment = SegmentConfig(
        churn=ChurnConfig(a=0.001, b=1e6),
        visits=VisitConfig(alpha=50.0, beta=1.0),
        purchase_prob=1.0,
        order_value=OrderValueConfig(median=20.0, sigma=0.0),
    )
    base = PopulationConfig(
        market_size=1000,
        sample_size=3,
        conversion_rate=0.1,
        weekly_visit_pattern=[2.0] * 7,
        segments={"all": segment},
    )
    return replace(base, **top)


def test_every_cohort_is_followed_for_max_tenure_days_from_its_acquisition_day():
    run = simulate_cohorts(every_day_population(start_weekday=5), 10, 5, seed=3)
    # Slot i is acquired on day i mod 7, a weekday (5 + i mod 7) mod 7.
    assert run.weekday.tolist() == [5, 6, 0, 1, 2, 3, 4, 5, 6, 0]
    assert run.cohort_weekday.tolist() == [5, 6, 0, 1, 2, 3, 4]
    assert run.segment.tolist() == [0] * 10
    # Activity is recorded by default: every user on tenure days 0 … 5.
    assert run.active is not None and run.active.dtype == np.bool_
    assert run.active.shape == (10, 6) and run.active.all()
    want = np.repeat(SIZES_10[:, None], 6, axis=1)
    for table in (run.cohort_active, run.cohort_purchases):
        assert table.dtype == np.int64
        np.testing.assert_array_equal(table, want)
    np.testing.assert_array_equal(run.cohort_revenue, 20.0 * want)


def test_without_recording_only_the_cohort_tables_are_kept():
    run = simulate_cohorts(every_day_population(), 10, 3, seed=3, record_activity=False)
    assert run.active is None
    np.testing.assert_array_equal(run.cohort_active, np.repeat(SIZES_10[:, None], 4, axis=1))


def test_one_user_per_weekday_is_the_smallest_run():
    run = simulate_cohorts(every_day_population(), COHORT_DAYS, 2, seed=0)
    np.testing.assert_array_equal(run.cohort_active, np.ones((7, 3), dtype=np.int64))
    assert run.weekday.tolist() == list(range(7))
    with pytest.raises(ValueError, match=r"users=6 is not allowed: at least 7 \(one per weekday\)"):
        simulate_cohorts(every_day_population(), 6, 2, seed=0)


class NoVisits(ProtocolOnlyLever):
    """A lever that stops every visit after the acquisition day."""

    def visit_effects(self, ch, fx) -> None:
        fx.scale("visit", 0.0)


def test_the_levers_act_on_the_cohorts():
    run = simulate_cohorts(every_day_population(), 10, 4, seed=3, levers=[NoVisits()])
    want = np.zeros((7, 5), dtype=np.int64)
    want[:, 0] = SIZES_10
    np.testing.assert_array_equal(run.cohort_active, want)
    assert run.active[:, 0].all() and not run.active[:, 1:].any()


def test_traits_are_quantiles_so_more_propensity_never_removes_a_visit():
    """Smooth traits (common random numbers): raising the propensity's α raises every user's propensity.

    With the same seed each user's visits under α = 2 are a superset of those under α = 1
    (no churn; same activity uniforms), and the same seed repeats the run exactly.
    """

    def run(alpha: float, seed: int = 11):
        seg = SegmentConfig(churn=ChurnConfig(a=0.001, b=1e6), visits=VisitConfig(alpha=alpha, beta=2.0))
        pop = PopulationConfig(segments={"all": seg})
        return simulate_cohorts(pop, 700, 10, seed)

    low, high, again = run(1.0), run(2.0), run(1.0)
    np.testing.assert_array_equal(again.active, low.active)
    assert not (low.active & ~high.active).any()
    assert high.active.sum() > low.active.sum()
    assert not np.array_equal(run(1.0, seed=12).active, low.active)


class HalfConversion(ProtocolOnlyLever):
    """A lever that halves every aware user's conversion probability."""

    def conversion_effects(self, ch, aware, conversion):
        return conversion * np.float32(0.5)


def test_a_user_not_converted_on_its_day_is_never_acquired():
    """Conversion is on only on a slot's own day: halved, about half of each cohort joins, and no one later.

    700 users (100 a cohort): a Binomial(700, 0.5) count is within 350 ± 70 (5.3 standard
    deviations); every user with an acquisition day is in its own cohort's count.
    """
    run = simulate_cohorts(every_day_population(), 700, 3, seed=5, levers=[HalfConversion()])
    joined = run.cohort_active[:, 0]
    assert 280 < joined.sum() < 420
    start = np.arange(700) % 7
    np.testing.assert_array_equal(joined, [run.active[start == d, 0].sum() for d in range(7)])
    # The ones that joined visit every day; the others never appear.
    np.testing.assert_array_equal(run.active.sum(axis=1), 4 * run.active[:, 0])
