"""Property-based: any valid population keeps the run's invariants (model checker)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim import simulate
from sim.app.checker import check_result
from sim.app.config import Config
from sim.core.awareness import AwarenessConfig
from sim.core.lifecycle import LifecycleConfig
from sim.core.population import PopulationConfig, SegmentConfig
from sim.core.survival import ChurnConfig
from sim.core.visits import HabitConfig, VisitConfig

prob = st.floats(0.0, 1.0)
positive = st.floats(0.05, 20.0)


@st.composite
def populations(draw) -> PopulationConfig:
    n_segments = draw(st.integers(1, 3))
    segments = {
        f"s{i}": SegmentConfig(
            weight=draw(st.floats(0.1, 5.0)),
            churn=ChurnConfig(a=draw(positive), b=draw(positive), c=draw(st.floats(0.3, 2.0))),
            visits=VisitConfig(alpha=draw(positive), beta=draw(positive)),
            purchase_prob=draw(prob),
        )
        for i in range(n_segments)
    }
    dormant = draw(st.integers(1, 10))
    return PopulationConfig(
        market_size=draw(st.integers(1, 3000)),
        awareness=AwarenessConfig(p=draw(st.floats(0, 0.2)), q=draw(st.floats(0, 3)), forget_rate=draw(prob)),
        conversion_rate=draw(prob),
        resurrection_rate=draw(st.floats(0, 0.1)),
        habit=HabitConfig(gain=draw(prob), decay=draw(prob), strength=draw(st.floats(0, 3))),
        lifecycle=LifecycleConfig(
            new_days=draw(st.integers(1, 10)),
            dormant_after_days=dormant,
            churned_after_days=dormant + draw(st.integers(1, 20)),
            activated_habit=draw(prob),
        ),
        start_weekday=draw(st.integers(0, 6)),
        weekly_visit_pattern=draw(st.lists(st.floats(0, 2), min_size=7, max_size=7)),
        segments=segments,
    )


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pop=populations(), seed=st.integers(0, 2**32), days=st.integers(1, 40))
def test_any_valid_population_keeps_the_invariants(pop, seed, days):
    cfg = Config(seed=seed, horizon_days=days, progress=False, figures=False, agents="lazy", population=pop)
    check_result(simulate(cfg))
