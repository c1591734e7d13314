"""Decaying per-user state is set to 0 before it turns subnormal, and that moves no outcome.

Habit, push fatigue and incentive dependence shrink geometrically for users who stop
visiting; below 2^-126 float32 values are subnormal and every operation on them is
about two orders of magnitude slower on x86 (``benchmarks/bench_flush.py``). The
flush must change nothing a run reports but those tiny values themselves: each run
below is stepped twice, with the flush and with it switched off, long enough for
values to fall below their floor, and every daily count, revenue and cohort cell must
agree exactly.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

import sim.core.visits
import sim.levers.incentives
import sim.levers.push
from sim import UserLifecycleModel, load_config
from sim.core.flush_to_zero import BOUND_MARGIN, FLOAT32_TINY, SQUARE_FLOOR, flush_below, may_fall_below

SUBNORMAL = np.float32(2.0**-130)


def test_tiny_is_float32_smallest_normal_and_the_square_floor_squares_to_it():
    assert FLOAT32_TINY == 2.0**-126 == float(np.finfo(np.float32).smallest_normal)
    assert SQUARE_FLOOR**2 == FLOAT32_TINY
    assert np.float32(SQUARE_FLOOR) * np.float32(SQUARE_FLOOR) == np.float32(FLOAT32_TINY)  # normal, no underflow


def test_the_first_day_that_may_hold_a_subnormal_habit_by_hand():
    # game preset habit: g = 0.25, d = 0.15. Skipped while 0.25 * 0.85^(t+1) >= 2^-126 * 2^20 = 2^-106,
    # i.e. (t+1) * ln(0.85) >= ln(2^-106 / 0.25) = -104 ln 2 = -72.0873, t + 1 <= 72.0873 / 0.162519 = 443.56
    assert BOUND_MARGIN == 2.0**20
    assert not may_fall_below(0.25, 0.15, 442, FLOAT32_TINY)  # t + 1 = 443
    assert may_fall_below(0.25, 0.15, 443, FLOAT32_TINY)  # t + 1 = 444
    # fatigue: starts at 1 after a message, floor 2^-63: (t+1) ln(0.9) < ln(2^-43) = -29.805 ⇔ t + 1 > 282.89
    assert not may_fall_below(1.0, 0.1, 281, SQUARE_FLOOR) and may_fall_below(1.0, 0.1, 282, SQUARE_FLOOR)
    assert math.isclose(43 * math.log(2) / -math.log(0.9), 282.89, abs_tol=0.01)


@pytest.mark.parametrize(
    ("start", "decay"),
    [(0.0, 0.5), (0.25, 0.0), (0.25, 1.0)],
    ids=["all values stay 0", "no decay", "decay 1 makes exact zeros"],
)
def test_nothing_can_turn_subnormal(start, decay):
    assert not may_fall_below(start, decay, 10**6, FLOAT32_TINY)


def test_a_decay_just_below_1_can():
    assert may_fall_below(0.25, 0.999, 20, FLOAT32_TINY)  # 0.25 * 0.001^21 = 2.5e-64


def test_flush_below_keeps_the_floor_itself_and_everything_above():
    floor = np.float32(FLOAT32_TINY)
    below = np.nextafter(floor, np.float32(0))
    values = np.array([0.0, SUBNORMAL, below, floor, np.nextafter(floor, np.float32(1)), 1e-30, 0.5], np.float32)
    kept = values.copy()
    flush_below(values, FLOAT32_TINY)
    assert values.tolist() == [0.0, 0.0, 0.0, *kept[3:].tolist()]


def _run(overrides: list[str], *, flush: bool, monkeypatch) -> tuple[UserLifecycleModel, object]:
    with monkeypatch.context() as patch:
        if not flush:
            for module in (sim.core.visits, sim.levers.push, sim.levers.incentives):
                patch.setattr(module, "may_fall_below", lambda *args: False)
        cfg = replace(load_config(overrides), progress=False, figures=False)
        model = UserLifecycleModel(cfg)
        for _ in range(cfg.horizon_days):
            model.step()
    return model, model.datacollector.get_model_vars_dataframe()


def _assert_same_outcomes(a, b) -> None:
    (model_a, daily_a), (model_b, daily_b) = a, b
    assert daily_a.equals(daily_b)
    for name in ("cohort_active", "cohort_revenue", "cohort_purchases", "group_acquired", "group_revenue"):
        assert np.array_equal(getattr(model_a, name), getattr(model_b, name)), name
    assert np.array_equal(model_a.population.stage, model_b.population.stage)
    assert np.array_equal(model_a.population.alive, model_b.population.alive)


def _subnormal(values: np.ndarray) -> np.ndarray:
    return (values > 0) & (values < np.float32(FLOAT32_TINY))


def test_habit_flush_moves_no_outcome(monkeypatch):
    # habit decay 0.5: 0.2 * 0.5^t is subnormal from about day 124 on (gain 0.2)
    overrides = [
        "population=consumer_app",
        "population.market_size=20000",
        "horizon_days=200",
        "population.habit.decay=0.5",
    ]
    flushed = _run(overrides, flush=True, monkeypatch=monkeypatch)
    plain = _run(overrides, flush=False, monkeypatch=monkeypatch)
    _assert_same_outcomes(flushed, plain)
    h_flushed, h_plain = flushed[0].population.habit, plain[0].population.habit
    assert _subnormal(h_plain).sum() > 100  # the test would see a flush that mattered
    assert not _subnormal(h_flushed).any()
    differs = h_flushed != h_plain
    assert np.array_equal(differs, _subnormal(h_plain)) and (h_flushed[differs] == 0).all()


def test_fatigue_and_dependence_flush_moves_no_outcome(monkeypatch):
    # Both programmes stop after day 20; 99 days later (horizon 120) push fatigue (decay 0.5, F in [1, 2] after the
    # last messages) is F * 0.5^99 ~ 2^-99 < 2^-63, and dependence (decay 0.6, D in [0.05, 1]) D * 0.4^99 in
    # [2^-135, 2^-131]: subnormal, not yet 0 (below 2^-149 both would be exactly 0, flushed or not)
    overrides = [
        "population=consumer_app",
        "population.market_size=20000",
        "horizon_days=120",
        "strategy=balanced_mix",
        "strategy.push.messages_per_week=7",
        "strategy.push.fatigue_decay=0.5",
        "strategy.push.schedule.end_day=20",
        "strategy.incentives.dependence_decay=0.6",
        "strategy.incentives.schedule.start_day=0",
        "strategy.incentives.schedule.end_day=20",
    ]
    flushed = _run(overrides, flush=True, monkeypatch=monkeypatch)
    plain = _run(overrides, flush=False, monkeypatch=monkeypatch)
    _assert_same_outcomes(flushed, plain)
    levers = [{type(lever).__name__: lever for lever in model.levers} for model in (flushed[0], plain[0])]
    f_flushed, f_plain = (lev["Push"].fatigue for lev in levers)
    low = (f_plain > 0) & (f_plain < np.float32(SQUARE_FLOOR))
    assert low.sum() > 100 and not ((f_flushed > 0) & (f_flushed < np.float32(SQUARE_FLOOR))).any()
    assert np.array_equal(f_flushed != f_plain, low)
    d_flushed, d_plain = (lev["Incentives"].dependence for lev in levers)
    assert _subnormal(d_plain).sum() > 100 and not _subnormal(d_flushed).any()
    assert np.array_equal(d_flushed != d_plain, _subnormal(d_plain))


def test_reference_stepping_flushes_as_the_vectorized_core_does():
    cfg = replace(
        load_config(
            ["population=consumer_app", "population.market_size=2000", "horizon_days=150", "population.habit.decay=0.6"]
        ),
        seed=3,
        progress=False,
        figures=False,
    )
    assert may_fall_below(cfg.population.habit.gain, 0.6, 100, FLOAT32_TINY)  # 0.2 * 0.4^101 < 2^-106: flushing
    models = [UserLifecycleModel(cfg, reference=reference) for reference in (True, False)]
    zero_after_a_visit = []
    for model in models:
        for _ in range(cfg.horizon_days):
            model.step()
        pop = model.population
        zero_after_a_visit.append(int(((pop.habit == 0) & (pop.last_visit_day >= 0)).sum()))
    ref, vec = models
    assert ref.datacollector.get_model_vars_dataframe().equals(vec.datacollector.get_model_vars_dataframe())
    assert np.array_equal(ref.population.habit, vec.population.habit)  # the flushed habits too
    # a user who visited 90+ days before the end has 0.2 * 0.4^90 < 2^-126 left: flushed (exact 0 only after 2^-149)
    assert zero_after_a_visit[0] == zero_after_a_visit[1] > 0
