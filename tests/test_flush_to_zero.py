"""Decaying per-user state is set to 0 before it turns subnormal, and that moves no outcome.

Habit, push fatigue and incentive dependence shrink geometrically for users who stop
visiting; below 2^-126 float32 values are subnormal and each operation on them takes
x86 a micro-code assist (``benchmarks/bench_flush.py``). The
flush must change nothing a run reports but those tiny values themselves: each run
below is stepped twice, with the flush and with it switched off, long enough for
values to fall below their floor, and every daily count, revenue and cohort cell must
agree exactly, also with the settings for which the habit flush is switched off
(:func:`~sim.core.flush_to_zero.habit_flush_is_exact`).
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
from sim.core.flush_to_zero import (
    BOUND_MARGIN,
    FLOAT32_TINY,
    SQUARE_FLOOR,
    flush_below,
    habit_flush_is_exact,
    may_fall_below,
)

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


def _with_and_without_flush(overrides: list[str], monkeypatch):
    """The run stepped with the flush and without it, after checking that their outcomes agree."""
    flushed = _run(overrides, flush=True, monkeypatch=monkeypatch)
    plain = _run(overrides, flush=False, monkeypatch=monkeypatch)
    _assert_same_outcomes(flushed, plain)
    return flushed, plain


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
    flushed, plain = _with_and_without_flush(overrides, monkeypatch)
    h_flushed, h_plain = flushed[0].population.habit, plain[0].population.habit
    assert _subnormal(h_plain).sum() > 100  # the test would see a flush that mattered
    assert not _subnormal(h_flushed).any()
    differs = h_flushed != h_plain
    assert np.array_equal(differs, _subnormal(h_plain)) and (h_flushed[differs] == 0).all()


def test_fatigue_and_dependence_flush_moves_no_outcome(monkeypatch):
    # Both programmes stop after day 20, most users' last message (one a week) or reward in days 14-20. At the
    # horizon, day 118, 97-104 days later, fatigue (decay 0.354: 0.646^97..104 = 2^-61..2^-66 times F in [1, 2])
    # straddles its floor 2^-63 and dependence (decay 0.585: 0.415^97..104 = 2^-123..2^-132 times D in [0.05, 1])
    # straddles 2^-126 (seed 0: 199 of 508 and 586 of 916 below): values on both sides pin each floor.
    overrides = [
        "population=consumer_app",
        "population.market_size=20000",
        "horizon_days=118",
        "strategy=balanced_mix",
        "strategy.push.messages_per_week=1",
        "strategy.push.fatigue_decay=0.354",
        "strategy.push.schedule.end_day=20",
        "strategy.incentives.dependence_decay=0.585",
        "strategy.incentives.schedule.start_day=0",
        "strategy.incentives.schedule.end_day=20",
    ]
    flushed, plain = _with_and_without_flush(overrides, monkeypatch)
    levers = [{type(lever).__name__: lever for lever in model.levers} for model in (flushed[0], plain[0])]
    f_flushed, f_plain = (lev["Push"].fatigue for lev in levers)
    low = (f_plain > 0) & (f_plain < np.float32(SQUARE_FLOOR))
    kept = (f_plain >= np.float32(SQUARE_FLOOR)) & (f_plain < np.float32(2.0**-40))
    assert low.sum() > 100 and kept.sum() > 100
    assert np.array_equal(f_flushed != f_plain, low) and (f_flushed[low] == 0).all()
    d_flushed, d_plain = (lev["Incentives"].dependence for lev in levers)
    d_kept = (d_plain >= np.float32(FLOAT32_TINY)) & (d_plain < np.float32(2.0**-100))
    assert _subnormal(d_plain).sum() > 100 and d_kept.sum() > 100
    assert np.array_equal(d_flushed != d_plain, _subnormal(d_plain)) and (d_flushed[_subnormal(d_plain)] == 0).all()


@pytest.mark.parametrize(
    ("gain", "activated_habit", "exact"),
    [
        (0.2, 0.5, True),
        (0.0, 0.5, True),
        (1e-46, 0.5, True),  # 0 as float32
        (2.0**-102, 0.5, True),
        (float(np.nextafter(np.float32(2.0**-102), np.float32(0))), 0.5, False),
        (0.2, 0.0, True),
        (0.2, 2.0**-126, True),
        (0.2, float(np.nextafter(np.float32(2.0**-126), np.float32(0))), False),  # a subnormal threshold
        (0.2, 1e-46, True),  # 0 as float32
    ],
)
def test_habit_flush_is_exact_only_for_gains_and_thresholds_a_subnormal_cannot_move(gain, activated_habit, exact):
    assert habit_flush_is_exact(gain, activated_habit) is exact


#: Settings with which flushing would relabel users, so the habit flush is off (habit_flush_is_exact).
SETTINGS_THAT_KEEP_SUBNORMAL_HABITS = {
    "subnormal gain and threshold": ["population.habit.gain=1e-40", "population.lifecycle.activated_habit=1e-40"],
    "subnormal threshold": [
        "population.habit.gain=0.5",
        "population.habit.decay=0.99",
        "population.lifecycle.activated_habit=1e-40",
        "population.lifecycle.dormant_after_days=35",
        "population.lifecycle.churned_after_days=39",
    ],
    "tiny gain, threshold just above it": [
        "population.habit.gain=1e-35",
        "population.habit.decay=0.5",
        "population.lifecycle.activated_habit=1.00001e-35",
    ],
}


@pytest.mark.parametrize(
    "settings", SETTINGS_THAT_KEEP_SUBNORMAL_HABITS.values(), ids=SETTINGS_THAT_KEEP_SUBNORMAL_HABITS
)
def test_settings_where_a_flush_would_relabel_users_keep_their_subnormal_habits(settings, monkeypatch):
    # With these settings flushing would turn ACTIVATED users RETAINED (a subnormal habit at or above a subnormal
    # threshold, or a returning user's g + s(1 - d) against g); the stages must be those of a run without the flush.
    overrides = ["population=consumer_app", "population.market_size=5000", "horizon_days=80", *settings]
    flushed, plain = _with_and_without_flush(overrides, monkeypatch)
    assert np.array_equal(flushed[0].population.habit, plain[0].population.habit)
    assert flushed[1]["activated"].sum() > 0  # the label these settings put at risk is in use


@pytest.mark.parametrize(
    "settings",
    [SETTINGS_THAT_KEEP_SUBNORMAL_HABITS[name] for name in ("subnormal gain and threshold", "subnormal threshold")],
    ids=["subnormal gain", "decay 0.99"],
)
def test_reference_stepping_keeps_subnormal_habits_with_the_same_settings(settings):
    overrides = ["population=consumer_app", "population.market_size=2000", "horizon_days=60", *settings]
    cfg = replace(load_config(overrides), seed=5, progress=False, figures=False)
    models = [UserLifecycleModel(cfg, reference=reference) for reference in (True, False)]
    for model in models:
        for _ in range(cfg.horizon_days):
            model.step()
    ref, vec = models
    assert _subnormal(vec.population.habit).any()  # kept, not flushed
    assert np.array_equal(ref.population.habit, vec.population.habit)
    assert ref.datacollector.get_model_vars_dataframe().equals(vec.datacollector.get_model_vars_dataframe())


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
