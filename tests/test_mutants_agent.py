"""Tests that kill surviving mutants of ``sim/core/agent.py`` and the model's reference stepping.

The reference stepping (each user's own ``UserAgent.step``) must reproduce the
vectorized core bit for bit with the same seed (``tests/test_docking.py`` docks the
three presets). This docks a small market that switches on every process the presets
leave at zero or at one value — forgetting, natural resurrection, habit strength,
a tenure exponent c ≠ 1 next to c = 1, weekly patterns, a sample of the market
(w = 2), short lifecycle thresholds so every stage occurs — and user-set modifiers
(scalars and per-slot arrays, an extra awareness channel) that change from day to day.
Deterministic: equality, no tolerance.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.core.awareness import AwarenessConfig
from sim.core.lifecycle import LifecycleConfig, Stage
from sim.core.model import LifecycleModel
from sim.core.population import OrderValueConfig, PopulationConfig, SegmentConfig
from sim.core.rng import CHUNK_SIZE, Streams
from sim.core.survival import ChurnConfig
from sim.core.visits import HabitConfig, VisitConfig

DAYS = 40
SLOTS = 600


def busy_population(**kw) -> PopulationConfig:
    segments = {
        "casual": SegmentConfig(
            weight=2.0,
            churn=ChurnConfig(a=1.0, b=6.0, c=0.7),
            visits=VisitConfig(alpha=1.0, beta=2.0),
            purchase_prob=0.3,
            order_value=OrderValueConfig(median=5.0, sigma=0.4),
        ),
        "core": SegmentConfig(
            weight=1.0,
            churn=ChurnConfig(a=1.0, b=30.0, c=1.0),
            visits=VisitConfig(alpha=3.0, beta=1.0),
            purchase_prob=0.5,
            order_value=OrderValueConfig(median=20.0, sigma=0.2),
        ),
    }
    cfg = dict(
        name="busy",
        market_size=2 * SLOTS,
        sample_size=SLOTS,
        awareness=AwarenessConfig(p=0.03, q=0.4, forget_rate=0.3),
        conversion_rate=0.4,
        resurrection_rate=0.08,
        habit=HabitConfig(gain=0.3, decay=0.15, strength=0.8),
        lifecycle=LifecycleConfig(new_days=3, dormant_after_days=4, churned_after_days=9, activated_habit=0.45),
        start_weekday=3,
        weekly_visit_pattern=[1.0, 0.9, 1.1, 1.2, 0.8, 1.5, 1.3],
        weekly_purchase_pattern=[0.7, 1.0, 1.0, 1.2, 1.4, 1.6, 0.9],
        segments=segments,
    )
    cfg.update(kw)
    return PopulationConfig(**cfg)


def set_modifiers(model: LifecycleModel, t: int) -> None:
    """Day-dependent user modifiers: scalars on some days, per-slot arrays on others."""
    mod = model.modifiers
    rng = np.random.default_rng(t)
    per_slot = (t % 3) == 1
    mod.visit = rng.uniform(0.5, 2.5, SLOTS).astype(np.float32) if per_slot else (1.0 if t % 2 else 1.7)
    mod.hazard = (
        rng.uniform(0.3, 3.0, SLOTS).astype(np.float32) if per_slot else (1.0 if t % 2 else (0.6, 2.0)[t % 4 // 2])
    )
    mod.resurrection = rng.uniform(0.0, 3.0, SLOTS).astype(np.float32) if per_slot else (1.0 if t % 2 else 2.0)
    mod.conversion = rng.uniform(0.2, 3.0, SLOTS).astype(np.float32) if per_slot else (1.0 if t % 2 else 1.5)
    mod.awareness = {"event": 0.05} if 10 <= t < 14 else {}


def run(reference: bool, **kw) -> LifecycleModel:
    model = LifecycleModel(busy_population(**kw), horizon_days=DAYS, seed=11, reference=reference, agents="lazy")
    for t in range(DAYS):
        set_modifiers(model, t)
        model.step()
    return model


@pytest.fixture(scope="module")
def pair() -> tuple[LifecycleModel, LifecycleModel]:
    return run(reference=True), run(reference=False)


def test_reference_equals_vectorized_with_every_process_on(pair):
    ref, vec = pair
    assert ref.log.columns.keys() == vec.log.columns.keys()
    for name, col in vec.log.columns.items():
        assert np.array_equal(ref.log.columns[name], col), name
    assert np.array_equal(ref.cohort_active, vec.cohort_active)
    assert np.array_equal(ref.cohort_revenue, vec.cohort_revenue)
    assert np.array_equal(ref.group_acquired, vec.group_acquired)
    assert np.array_equal(ref.group_revenue, vec.group_revenue)
    for field in ("stage", "alive", "channel", "habit", "acquired_day", "last_visit_day", "flags"):
        assert np.array_equal(getattr(ref.population, field), getattr(vec.population, field)), field
    for a, b in zip(ref.events(), vec.events(), strict=True):
        assert np.array_equal(a, b) and a.dtype == b.dtype
    assert ref.dau == vec.dau and ref.revenue == vec.revenue and ref.wau == vec.wau and ref.mau == vec.mau


def test_the_docked_run_exercises_every_stage_and_process(pair):
    """Guard against a docking that compares two idle runs."""
    _, vec = pair
    cols = vec.log.columns
    for stage in Stage:
        assert cols[stage.name.lower()].max() > 0, stage.name
    assert cols["new_users_event"].sum() > 0 and cols["purchases"].sum() > 0
    pop = vec.population
    acquired = pop.acquired_day >= 0
    assert (acquired & ~pop.alive).any() and (acquired & pop.alive).any()
    assert (cols["aware"][1:] < cols["aware"][:-1]).any()  # forgetting (or conversion) empties AWARE


def boundary_pair(**kw) -> tuple[LifecycleModel, LifecycleModel]:
    pair = []
    for reference in (True, False):
        model = LifecycleModel(busy_population(**kw), horizon_days=3, seed=11, reference=reference, agents="lazy")
        for _ in range(3):
            model.step()
        pair.append(model)
    return pair[0], pair[1]


def uniform_of(stream: str, day: int, slot: int) -> float:
    return float(Streams(11).uniforms(stream, day, 0, SLOTS)[slot])


@pytest.mark.parametrize("case", ["aware", "convert"])
def test_reference_decides_like_the_core_when_a_uniform_equals_the_probability(case):
    """u < p, strictly, in both implementations: p set to a slot's own uniform (an exact float32 value)."""
    if case == "aware":  # day 0: the total awareness hazard is p (nobody active yet)
        kw = {"awareness": AwarenessConfig(p=uniform_of("awareness", 0, 5), q=0.4, forget_rate=0.3)}
    else:  # everyone aware on day 0; conversion γ equals slot 5's activity uniform
        kw = {"awareness": AwarenessConfig(p=1.0, q=0.0), "conversion_rate": uniform_of("activity", 0, 5)}
    ref, vec = boundary_pair(**kw)
    for name, col in vec.log.columns.items():
        assert np.array_equal(ref.log.columns[name], col), name
    assert np.array_equal(ref.population.channel, vec.population.channel)
    assert np.array_equal(ref.population.stage, vec.population.stage)


def test_reference_equals_vectorized_across_two_chunks_of_slots():
    """65,600 slots: the second chunk (slots 65,536 …) draws its own uniforms in both implementations."""
    pop = PopulationConfig(
        market_size=CHUNK_SIZE + 64,
        awareness=AwarenessConfig(p=0.2, q=0.0),
        conversion_rate=0.5,
        segments={"all": SegmentConfig()},
    )
    ref, vec = (LifecycleModel(pop, horizon_days=2, seed=0, reference=r, agents="lazy") for r in (True, False))
    visit = np.linspace(0.5, 2.0, CHUNK_SIZE + 64, dtype=np.float32)  # per-slot modifiers: each chunk reads its slice
    hazard = np.linspace(2.0, 0.5, CHUNK_SIZE + 64, dtype=np.float32)
    for model in (ref, vec):
        model.modifiers.visit, model.modifiers.hazard = visit, hazard
        model.step()
        model.step()
    assert np.array_equal(ref.population.stage, vec.population.stage)
    assert np.array_equal(ref.population.channel[CHUNK_SIZE:], vec.population.channel[CHUNK_SIZE:])
    for name, col in vec.log.columns.items():  # the day's totals add up over both chunks
        assert np.array_equal(ref.log.columns[name], col), name
    assert (vec.population.stage[CHUNK_SIZE:] > 0).any()


@pytest.mark.parametrize(("reference", "calls"), [(True, 2 * 50), (False, 0)])
def test_reference_stepping_steps_each_agent_once_a_day_and_the_vectorized_core_none(monkeypatch, reference, calls):
    """The docking above cannot tell a reference run that steps vectorized: the results are the same by design."""
    from sim.core.agent import UserAgent

    stepped = []
    original = UserAgent.step

    def counting(agent, today):
        stepped.append(agent.slot)
        original(agent, today)

    monkeypatch.setattr(UserAgent, "step", counting)
    pop = PopulationConfig(market_size=50, awareness=AwarenessConfig(p=0.2, q=0.0), segments={"all": SegmentConfig()})
    model = LifecycleModel(pop, horizon_days=2, seed=0, reference=reference)
    model.step()
    model.step()
    assert len(stepped) == calls and sorted(set(stepped)) == (list(range(50)) if calls else [])


def test_reference_stepping_hands_each_days_visitors_to_an_observer_without_recorded_events():
    """record_events=False: the observer still gets every day's visitors, the same as the recorded events."""

    class Observer:
        def __init__(self) -> None:
            self.days: list[tuple[int, list[int]]] = []

        def observe(self, day, users, acquired_day) -> None:
            self.days.append((day, users.tolist()))

    pop = PopulationConfig(market_size=50, awareness=AwarenessConfig(p=0.5, q=0.0), segments={"all": SegmentConfig()})
    observer = Observer()
    watched = LifecycleModel(pop, horizon_days=3, seed=0, reference=True, record_events=False, visit_observer=observer)
    recorded = LifecycleModel(pop, horizon_days=3, seed=0, reference=True)
    for _ in range(3):
        watched.step()
        recorded.step()
    slots, days = recorded.events()
    assert slots.size > 0
    assert observer.days == [(t, slots[days == t].tolist()) for t in range(3)]
