"""Random streams: dense per slot and day, reproducible, independent of the global state."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from sim import simulate
from sim.core.rng import CHUNK_SIZE, Streams


def test_uniforms_depend_only_on_seed_stream_day_and_slot():
    s = Streams(5)
    full = s.uniforms("visits", day=3, chunk=0, n=CHUNK_SIZE)
    short = s.uniforms("visits", day=3, chunk=0, n=1000)
    assert np.array_equal(full[:1000], short)  # a smaller market sees the same numbers for the same slots
    assert not np.array_equal(full, s.uniforms("visits", day=4, chunk=0, n=CHUNK_SIZE))
    assert not np.array_equal(full, s.uniforms("survival", day=3, chunk=0, n=CHUNK_SIZE))
    assert not np.array_equal(full, s.uniforms("visits", day=3, chunk=1, n=CHUNK_SIZE))
    assert not np.array_equal(full, Streams(6).uniforms("visits", day=3, chunk=0, n=CHUNK_SIZE))


def test_uniforms_are_uniform_on_unit_interval():
    u = Streams(1).uniforms("awareness", day=0, chunk=0, n=CHUNK_SIZE)
    assert u.dtype == np.float32 and u.min() >= 0.0 and u.max() < 1.0
    # Mean of n uniforms has SE sqrt(1/12/n) = 0.0011 for n = 65536; allow 4.5 SE.
    assert abs(u.mean() - 0.5) < 4.5 * np.sqrt(1 / 12 / u.size)
    # Each decile holds n/10 ± 4.5·sqrt(n·0.1·0.9).
    counts = np.bincount((u * 10).astype(int), minlength=10)
    assert np.all(np.abs(counts - u.size / 10) < 4.5 * np.sqrt(u.size * 0.09))


def test_global_numpy_state_is_not_used(small_preset):
    cfg = small_preset("consumer_app", days=20)
    np.random.seed(1)
    a = simulate(cfg)
    np.random.seed(2)
    _ = np.random.random(10)
    b = simulate(cfg)
    assert a.daily.equals(b.daily)


def test_market_slots_see_the_same_traits_whatever_the_market_size(small_preset):
    from sim import UserLifecycleModel

    small = UserLifecycleModel(small_preset("game", market_size=1000))
    large = UserLifecycleModel(small_preset("game", market_size=70_000))
    assert np.array_equal(small.population.churn_hazard, large.population.churn_hazard[:1000])


def test_seed_changes_the_run(small_preset):
    cfg = small_preset("ecommerce", days=30)
    assert not simulate(cfg).daily.equals(simulate(replace(cfg, seed=1)).daily)
