"""Tests that kill surviving mutants of ``sim/core`` (docs/mutation.md).

The core computes in float32 on purpose (25 bytes per user; the reference stepping
must reproduce the vectorized core bit for bit), so some of these pin dtypes as well
as values. Hand-built arrays and fixed seeds; every expected value is exact.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.core.awareness import AwarenessConfig
from sim.core.hooks import Effects
from sim.core.model import MAX_CHANNELS, LifecycleModel
from sim.core.population import PopulationConfig, SegmentConfig
from sim.levers.paid_ads import PaidAds, PaidAdsConfig


# -------------------------------------------------------------------- hooks
def test_effects_scale_at_builds_float32_multipliers():
    """From a scalar, and from a multiplier the chunk does not own (a view of a float64 one)."""
    fx = Effects(hazard=0.5, visit=np.array([1.0, 2.0, 3.0, 4.0])[1:4])
    fx.scale_at("hazard", np.array([1]), 3.0, 3)
    fx.scale_at("visit", np.array([0]), 0.5, 3)
    assert fx.hazard.dtype == np.float32 and fx.hazard.tolist() == [0.5, 1.5, 0.5]
    assert fx.visit.dtype == np.float32 and fx.visit.tolist() == [1.0, 3.0, 4.0]


# -------------------------------------------------------------------- model
def test_lazy_agents_are_created_once_on_demand_and_slots_are_bounded():
    pop = PopulationConfig(market_size=50, segments={"all": SegmentConfig()})
    model = LifecycleModel(pop, horizon_days=3, seed=0, agents="lazy")
    assert len(model.agents) == 0
    user = model.user(49)
    assert model.user(49) is user and user.slot == 49 and len(model.agents) == 1
    assert model.user(0).slot == 0 and len(model.agents) == 2
    for bad in (-1, 50):
        with pytest.raises(IndexError, match=rf"^slot={bad} is out of range: 0 <= slot < 50$"):
            model.user(bad)


def small_model(levers=(), **kw) -> LifecycleModel:
    pop = PopulationConfig(
        market_size=400,
        awareness=AwarenessConfig(p=0.05, q=0.0),
        conversion_rate=0.5,
        segments={"all": SegmentConfig()},
        **kw,
    )
    return LifecycleModel(pop, horizon_days=6, seed=1, levers=levers, agents="lazy")


def test_at_most_127_acquisition_channels():
    model = small_model()
    for i in range(MAX_CHANNELS - 2):  # organic and word of mouth are there already
        model._channel_code(f"c{i}")
    assert len(model.channels) == MAX_CHANNELS == 127
    with pytest.raises(ValueError, match=r"^channel='one_more': at most 127 acquisition channels$"):
        model._channel_code("one_more")
    assert model._channel_code("c0") == 2  # a known channel keeps its code


def test_a_channel_added_by_the_user_during_the_run_extends_the_lever_channel_tables():
    """Users made aware by a user-set channel convert at the organic rate next to an ad channel with quality."""
    ads = PaidAds("search", PaidAdsConfig(daily_budget=0.0, conversion_multiplier=2.0))
    model = small_model([ads])
    model.step()
    model.modifiers.awareness = {"tv": 0.5}
    for _ in range(3):
        model.step()
    code = model.channels.index("tv")
    assert model._channel_tables["conversion"].tolist() == [1.0, 1.0, 1.0, 2.0, 1.0]
    assert code == 3 and model.log.columns["new_users_tv"].sum() > 0
