"""The habit update: known values by hand, and the visitors-only and whole-array ways agree bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

import sim.core.visits as visits
from sim.core.visits import SPARSE_VISITOR_SHARE, update_habit


def _update(habit, visited, *, sparse: bool, monkeypatch, gain=0.25, decay=0.5, day=0):
    with monkeypatch.context() as patch:
        patch.setattr(visits, "SPARSE_VISITOR_SHARE", 2.0 if sparse else 0.0)
        out = habit.copy()
        update_habit(out, visited, np.flatnonzero(visited), gain, decay, day)
    return out


@pytest.mark.parametrize("sparse", [True, False], ids=["visitors only", "whole array"])
def test_known_values(sparse, monkeypatch):
    # g = 0.25, d = 0.5: a visitor h -> h + g(1 - h) = 0.5 + 0.125 = 0.625 and 0 -> 0.25; a non-visitor h -> h / 2
    habit = np.array([0.5, 0.0, 0.5, 1.0], np.float32)
    visited = np.array([True, True, False, False])
    assert _update(habit, visited, sparse=sparse, monkeypatch=monkeypatch).tolist() == [0.625, 0.25, 0.25, 0.5]


def test_both_ways_give_the_same_bits(monkeypatch):
    rng = np.random.default_rng(11)
    habit = rng.random(50_000, dtype=np.float32)
    visited = rng.random(50_000) < 0.03
    a = _update(habit, visited, sparse=True, monkeypatch=monkeypatch, gain=0.2, decay=0.1)
    b = _update(habit, visited, sparse=False, monkeypatch=monkeypatch, gain=0.2, decay=0.1)
    assert np.array_equal(a.view(np.uint32), b.view(np.uint32))
    assert not np.array_equal(a, habit)  # it did update


def test_the_share_decides_the_way(monkeypatch):
    n = 400
    limit = int(SPARSE_VISITOR_SHARE * n)  # 100 of 400
    calls = []
    original = np.ndarray.__getitem__  # the visitors-only way reads habit[visitors]; spy on it through a subclass

    class Spy(np.ndarray):
        def __getitem__(self, key):
            if isinstance(key, np.ndarray) and key.dtype.kind == "i":
                calls.append(key.size)
            return original(self, key)

    for visitors, sparse in ((limit - 1, True), (limit, False)):
        calls.clear()
        habit = np.full(n, 0.5, np.float32).view(Spy)
        visited = np.zeros(n, bool)
        visited[:visitors] = True
        update_habit(habit, visited, np.flatnonzero(visited), 0.2, 0.1, 0)
        assert bool(calls) is sparse and all(size == visitors for size in calls), (visitors, calls)
        f = np.float32
        kept = f(0.5) * (f(1) - f(0.1))
        bump = f(0.2) * (f(1) - f(0.5)) + f(0.1) * f(0.5)
        assert np.asarray(habit).tolist() == [kept + bump] * visitors + [kept] * (n - visitors)
