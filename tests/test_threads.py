"""Chunks stepped in threads or processes: results bit-identical to one thread and to the previous release.

The previous release's fingerprints (``tests/data/release_fingerprints.json``) were
recorded from commit ce18b60, the last one before chunks could run in threads, with
``tests/release_fingerprint.py`` (see its docstring for the command).

``simulate/balanced_mix`` (a 60-day run, summary.json) was re-recorded with the LTV fix (branch
fix-ltv): the rolling-retention fit now covers the days resting on >= 300 users (R_0 … R_56, was
R_0 … R_59) and the 365-day LTV tail is not projected from 56 days (ltv_days > 5 · 56), so
``economics.ltv.per_user`` is the observed 0.702 USD (was 2.084 = 0.702 + a 1.382 tail) and the
fit and ltv entries gain ``at_bound``, ``tail_projected`` and ``tail_not_projected``; and again
when the 5x rule came to count the run's days on 300+ users rather than the fit's (the same 56
days here; only ``tail_not_projected``'s words changed: "of retention observed"), and once more
when the ltv entry gained ``rests_on_days`` (56). Stepping is
unchanged (the model/* fingerprints are the release's).
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from omegaconf import OmegaConf
from release_fingerprint import MODEL_CASES, SIMULATE_CASES, STATE_FIELDS, model_fingerprint, simulate_fingerprint

from sim import ConfigError, UserLifecycleModel, load_config
from sim.app import cli, threads
from sim.core.model import MAX_DRAW_CHUNKS_PER_CHUNK, LifecycleModel, blocks_of
from sim.core.population import PopulationConfig
from sim.core.rng import CHUNK_SIZE, Streams
from sim.levers.base import Lever, Schedule, Target
from sim.output.completion import config_hash


def _population(n: int) -> PopulationConfig:
    """The default population (consumer_app) with ``n`` users."""
    return load_config([f"population.market_size={n}"]).population


RELEASE = json.loads((Path(__file__).parent / "data" / "release_fingerprints.json").read_text())


@pytest.mark.parametrize("parallel", ["threads", "processes"])
@pytest.mark.parametrize("name", sorted(MODEL_CASES))
def test_stepped_results_in_three_threads_or_processes_equal_the_previous_release(name, parallel):
    assert model_fingerprint(MODEL_CASES[name], threads=3, parallel=parallel) == RELEASE[f"model/{name}"]


@pytest.mark.parametrize("name", ["organic", "balanced_mix"])
def test_stepped_results_in_one_thread_equal_the_previous_release(name):
    assert model_fingerprint(MODEL_CASES[name], threads=1) == RELEASE[f"model/{name}"]


@pytest.mark.parametrize("parallel", ["threads", "processes"])
@pytest.mark.parametrize("name", sorted(SIMULATE_CASES))
def test_whole_run_summary_in_two_threads_or_processes_equals_the_previous_release(name, parallel):
    """With visit events kept: the workers hand their visitors over through shared memory."""
    fingerprint = simulate_fingerprint(SIMULATE_CASES[name], "threads=2", f"parallel={parallel}")
    assert fingerprint == RELEASE[f"simulate/{name}"]


class _RecorderConfig:
    target = Target()
    schedule = Schedule()


class _ChunkRecorder(Lever):
    """A lever that books, per chunk and per draw chunk, what the ledger must replay in slot order."""

    kind = "recorder"

    def __init__(self) -> None:
        super().__init__("recorder", _RecorderConfig())
        self.chunks: list[tuple[int, int]] = []
        self.draw_chunks: list[tuple[int, int]] = []
        self.slots = 0
        self.total = 0.0

    def visit_effects(self, ch, fx) -> None:
        ch.defer(self._chunk, (ch.day, ch.index))
        ch.defer_by_part(self._draw_chunk, [((ch.day, k),) for k, _first, _stop in ch.parts])
        self.count(ch, "slots", ch.n)
        # a sum whose value depends on the order of the additions: 1e16 + 1 + ... is not 1 + ... + 1e16
        ch.defer_by_part(self._add, [(1e16 if k == 0 else 1.0,) for k, _first, _stop in ch.parts])

    def _add(self, x: float) -> None:
        self.total += x

    def _chunk(self, item: tuple[int, int]) -> None:
        self.chunks.append(item)

    def _draw_chunk(self, item: tuple[int, int]) -> None:
        self.draw_chunks.append(item)


@pytest.mark.parametrize(
    ("n_threads", "parallel"), [(1, "auto"), (2, "threads"), (2, "processes"), (5, "threads"), (5, "processes")]
)
def test_bookings_run_chunk_by_chunk_and_draw_chunk_by_draw_chunk_in_slot_order(n_threads, parallel):
    n, days = 4 * CHUNK_SIZE + 123, 3  # 5 draw chunks, the last one short
    lever = _ChunkRecorder()
    model = LifecycleModel(
        _population(n), horizon_days=days, seed=1, levers=[lever], threads=n_threads, parallel=parallel
    )
    assert model.parallel == ("one" if n_threads == 1 else parallel)
    for _ in range(days):
        model.step()
    # draw chunks [0, 1], [2, 3], [4]; with 5 threads (more than TARGET_CHUNKS) one chunk each
    chunks = 5 if n_threads == 5 else 3
    assert len(model._blocks) == chunks
    assert lever.chunks == [(d, c) for d in range(days) for c in range(chunks)]
    assert lever.draw_chunks == [(d, k) for d in range(days) for k in range(5)]
    assert lever.slots == days * n  # every slot counted once a day, none lost to a race
    # in slot order: 1e16 first, then four 1.0s each day, each lost to rounding (1e16 + 1 == 1e16)
    total = 0.0
    for _ in range(days):
        total += 1e16
        for _ in range(4):
            total += 1.0
    assert lever.total == total


@pytest.mark.parametrize(
    ("n", "threads", "per_chunk", "chunks"),
    [
        (100, 1, 1, 1),
        (CHUNK_SIZE, 1, 1, 1),
        (CHUNK_SIZE + 1, 1, 1, 2),  # two draw chunks: fewer than TARGET_CHUNKS, one each
        (4 * CHUNK_SIZE + 123, 1, 2, 3),
        (1_000_000, 1, 4, 4),  # 16 draw chunks
        (1_000_000, 4, 4, 4),  # up to TARGET_CHUNKS threads: the same chunks
        (1_000_000, 5, 4, 4),  # ceil(16 / 5) = 4 draw chunks a chunk: one thread has none
        (1_000_000, 6, 3, 6),  # 3 + 3 + 3 + 3 + 3 + 1
        (1_000_000, 8, 2, 8),  # a chunk for each of 8 threads
        (1_000_000, 64, 1, 16),  # never less than a draw chunk
        (10_000_000, 1, MAX_DRAW_CHUNKS_PER_CHUNK, 20),  # 153 draw chunks, at most 8 together
        (10_000_000, 64, 3, 51),  # ceil(153 / 64) = 3 together
    ],
)
def test_draw_chunks_are_grouped_into_chunks_that_cover_every_slot_once(n, threads, per_chunk, chunks):
    blocks = blocks_of(n, threads)
    assert len(blocks) == chunks
    assert blocks[0].lo == 0 and blocks[-1].hi == n
    draws = []
    for block, following in zip(blocks, [*blocks[1:], None], strict=True):
        assert following is None or following.lo == block.hi
        assert len(block.parts) <= per_chunk
        local = 0
        for k, first, stop in block.parts:
            assert first == local and block.lo + first == k * CHUNK_SIZE  # parts are whole draw chunks, in order
            assert stop - first == min(CHUNK_SIZE, n - k * CHUNK_SIZE)
            local = stop
            draws.append(k)
        assert local == block.hi - block.lo
    assert draws == list(range(-(-n // CHUNK_SIZE)))
    assert max(len(b.parts) for b in blocks) == per_chunk


@pytest.mark.parametrize("parallel", ["threads", "processes"])
def test_more_threads_than_target_chunks_each_get_a_chunk_and_change_no_number(parallel):
    """Six threads over six draw chunks: six chunks of one (four of two with up to four threads), same results."""
    values = {"strategy": "balanced_mix", "population.market_size": 6 * CHUNK_SIZE, "horizon_days": 12, "seed": 5}
    many = UserLifecycleModel({**values, "progress": False}, threads=6, parallel=parallel)
    assert [len(block.parts) for block in many._blocks] == [1] * 6
    assert [len(block.parts) for block in UserLifecycleModel(values, threads=4)._blocks] == [2, 2, 2]
    assert model_fingerprint(values, threads=6, parallel=parallel) == model_fingerprint(values, threads=1)


def test_a_chunk_draws_the_uniforms_of_its_draw_chunks():
    from sim.core.hooks import Chunk

    model = LifecycleModel(_population(8 * CHUNK_SIZE + 10), horizon_days=1, seed=4)  # 3 draw chunks a chunk
    block = blocks_of(model.sample_size)[1]  # draw chunks 3, 4, 5
    assert [k for k, _first, _stop in block.parts] == [3, 4, 5]
    ch = Chunk(model.population, model.streams, model.channels, 7, block.index, block.lo, block.hi, block.parts)
    streams = Streams(4)
    want = np.concatenate([streams.uniforms("lever:x", 7, k, stop - first) for k, first, stop in block.parts])
    np.testing.assert_array_equal(ch.uniforms("lever:x"), want)
    assert ch.part_of(np.array([0, CHUNK_SIZE - 1, CHUNK_SIZE, 2 * CHUNK_SIZE + 5])).tolist() == [0, 0, 1, 2]


def test_a_chunk_hands_the_streams_one_buffer_a_draw_chunk_of_exactly_its_slots(monkeypatch):
    """One call for the chunk's streams and draw chunks, each buffer its own slots (what lets them be paired)."""
    from sim.core.hooks import Chunk

    model = LifecycleModel(_population(8 * CHUNK_SIZE + 10), horizon_days=1, seed=4)
    block = blocks_of(model.sample_size)[2]  # draw chunks 6, 7, 8: the last is 10 slots
    calls = []
    draw = model.streams.uniforms_into

    def spy(day, draws):
        calls.append((day, [(stream, chunk, out.size) for stream, chunk, out in draws]))
        draw(day, draws)

    monkeypatch.setattr(model.streams, "uniforms_into", spy)
    ch = Chunk(model.population, model.streams, model.channels, 7, block.index, block.lo, block.hi, block.parts)
    one = ch.uniforms("lever:x")
    both = ch.uniforms_of(("a", "b"))
    sizes = [(6, CHUNK_SIZE), (7, CHUNK_SIZE), (8, 10)]
    assert calls == [
        (7, [("lever:x", k, n) for k, n in sizes]),
        (7, [("a", k, n) for k, n in sizes] + [("b", k, n) for k, n in sizes]),
    ]
    streams = Streams(4)
    for stream, drawn in (("lever:x", one), ("a", both[0]), ("b", both[1])):
        want = np.concatenate([streams.uniforms(stream, 7, k, n) for k, n in sizes])
        np.testing.assert_array_equal(drawn, want)


def test_the_threads_go_when_the_horizon_is_reached():
    model = LifecycleModel(_population(3 * CHUNK_SIZE), horizon_days=2, seed=0, threads=2, parallel="threads")
    model.step()
    assert model._pool is not None and model._processes is None
    model.step()
    assert model._pool is None and not model.running


def test_close_before_the_horizon_ends_the_chunk_threads_before_it_returns():
    model = LifecycleModel(_population(3 * CHUNK_SIZE), horizon_days=3, seed=0, threads=2, parallel="threads")
    before = set(threading.enumerate())
    model.step()
    chunk_threads = [thread for thread in threading.enumerate() if thread not in before]
    assert len(chunk_threads) == 2 and all(thread.name.startswith("opsim-chunk") for thread in chunk_threads)
    model.close()
    assert [thread for thread in chunk_threads if thread.is_alive()] == []
    assert model._pool is None and model.running  # a next step would start new threads


def test_the_worker_processes_stop_when_the_horizon_is_reached():
    model = LifecycleModel(_population(3 * CHUNK_SIZE), horizon_days=2, seed=0, threads=2, parallel="processes")
    assert model._processes is None  # forked at the first day, not when the model is built
    model.step()
    workers = [worker for worker, _conn in model._processes._workers]
    assert model._pool is None and len(workers) == 1 and workers[0].is_alive()
    model.step()
    assert model._processes is None and not model.running
    assert not workers[0].is_alive() and workers[0].exitcode == 0


def test_one_chunk_needs_no_thread():
    # a day before the horizon: the horizon would let any pool go anyway
    model = LifecycleModel(_population(CHUNK_SIZE), horizon_days=2, seed=0, threads=4)
    model.step()
    assert model._pool is None and model.running


def test_a_model_steps_on_one_thread_unless_told_otherwise():
    """threads defaults to 1: two chunks, and still no chunk thread nor worker process."""
    import multiprocessing

    model = LifecycleModel(_population(2 * CHUNK_SIZE), horizon_days=2, seed=0)
    threads_before, children_before = set(threading.enumerate()), set(multiprocessing.active_children())
    model.step()
    assert [thread for thread in threading.enumerate() if thread not in threads_before] == []
    assert [child for child in multiprocessing.active_children() if child not in children_before] == []
    assert model.running  # not let go by the horizon


class _ThreadNames(Lever):
    """Records the name of each thread that steps a chunk, which it keeps busy for a while."""

    kind = "thread_names"

    def __init__(self) -> None:
        super().__init__("thread_names", _RecorderConfig())
        self.names: set[str] = set()

    def visit_effects(self, ch, fx) -> None:
        self.names.add(threading.current_thread().name)
        time.sleep(0.05)  # busy: each chunk submitted meanwhile finds no idle thread, and the pool starts another


def test_the_chunks_are_stepped_by_as_many_threads_as_asked_and_named_for_opsim():
    """Four chunks, threads=2: exactly two threads step them, named ``opsim-chunk...``."""
    lever = _ThreadNames()
    model = LifecycleModel(
        _population(4 * CHUNK_SIZE), horizon_days=2, seed=0, levers=[lever], threads=2, parallel="threads"
    )
    model.step()
    assert len(lever.names) == 2 and all(name.startswith("opsim-chunk") for name in lever.names), lever.names
    model.close()


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_the_model_refuses_a_thread_count_that_is_not_a_positive_integer(bad):
    with pytest.raises(ValueError, match=r"threads=.* is not allowed: a whole number >= 1"):
        LifecycleModel(_population(100), horizon_days=1, seed=0, threads=bad)


def test_the_config_refuses_a_negative_thread_count():
    with pytest.raises(ConfigError, match=r"threads=-1 is not allowed"):
        load_config(["threads=-1"])


def test_the_thread_count_is_not_part_of_the_config_hash():
    """Resume treats a run made with 1 thread as the same result as one made with 4."""
    one, four = load_config(["threads=1"]), load_config(["threads=4"])
    assert config_hash(one) == config_hash(four)
    assert config_hash(one) != config_hash(load_config(["threads=1", "seed=1"]))


@pytest.mark.parametrize(
    ("setting", "cores", "side_by_side", "expected"),
    [
        (3, 16, 1, 3),  # an explicit count is taken as it is
        (0, 2, 1, 2),  # one per core
        (0, 8, 1, 8),  # up to the cap ...
        (0, 9, 1, threads.AUTO_THREADS_MAX),  # ... and no more
        (0, 4, 2, 2),  # cores shared among runs side by side
        (0, 3, 2, 1),  # rounded down
        (0, 2, 4, 1),  # at least one
    ],
)
def test_automatic_threads(monkeypatch, setting, cores, side_by_side, expected):
    monkeypatch.setattr(threads, "available_cores", lambda: cores)
    assert threads.resolve_threads(setting, side_by_side=side_by_side) == expected


@pytest.mark.parametrize(
    ("parallel", "fork", "setting", "users", "expected"),
    [
        ("threads", True, 0, threads.AUTO_THREADS_MIN_USERS - 1, 1),  # too small for a second thread to pay
        ("threads", True, 0, threads.AUTO_THREADS_MIN_USERS, 4),  # from the threshold on: one per core
        ("processes", True, 0, threads.AUTO_PROCESSES_MIN_USERS - 1, 1),  # processes pay from smaller runs on
        ("processes", True, 0, threads.AUTO_PROCESSES_MIN_USERS, 4),
        ("auto", True, 0, threads.AUTO_PROCESSES_MIN_USERS, 4),  # auto: processes where they can be forked
        ("auto", False, 0, threads.AUTO_THREADS_MIN_USERS - 1, 1),  # ... else threads
        ("auto", False, 0, threads.AUTO_THREADS_MIN_USERS, 4),
        ("auto", True, 0, None, 4),  # size unknown: one per core
        ("threads", True, 3, 1_000, 3),  # an explicit count is taken as it is, whatever the size
        ("processes", True, 1, None, 1),  # one is one, however many cores
    ],
)
def test_automatic_threads_leave_small_runs_on_one_thread(monkeypatch, parallel, fork, setting, users, expected):
    monkeypatch.setattr(threads, "available_cores", lambda: 4)
    monkeypatch.setattr(threads, "fork_available", lambda: fork)
    assert threads.resolve_threads(setting, users=users, parallel=parallel) == expected


def test_automatic_threads_follow_the_default_mode(monkeypatch):
    """``parallel`` left out is ``auto``: processes where fork exists, so the processes' threshold."""
    monkeypatch.setattr(threads, "available_cores", lambda: 4)
    monkeypatch.setattr(threads, "fork_available", lambda: True)
    assert threads.resolve_threads(0, users=threads.AUTO_PROCESSES_MIN_USERS) == 4


def test_a_small_model_built_from_the_default_config_steps_on_one_thread(monkeypatch):
    from sim.app.model import UserLifecycleModel

    monkeypatch.setattr(threads, "available_cores", lambda: 4)
    small = UserLifecycleModel(["population.market_size=20000", "horizon_days=2"])
    assert small.threads == 1


@pytest.mark.parametrize(
    ("launcher", "expected"),
    [
        ({"_target_": "hydra._internal.core_plugins.basic_launcher.BasicLauncher"}, 1),
        ({"_target_": "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher", "n_jobs": 3}, 3),
        ({"_target_": "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher", "n_jobs": -1}, 6),
        ({"_target_": "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher", "n_jobs": -2}, 5),
        ({"_target_": "hydra_plugins.hydra_ray_launcher.ray_launcher.RayLauncher"}, 6),
    ],
)
def test_sweep_jobs_side_by_side(monkeypatch, launcher: dict[str, Any], expected):
    monkeypatch.setattr(cli, "available_cores", lambda: 6)
    assert cli._jobs_side_by_side(OmegaConf.create(launcher)) == expected


@pytest.mark.parametrize("parallel", ["threads", "processes"])
def test_threads_or_processes_change_no_number_of_a_run_with_every_lever(parallel):
    """Beyond the fingerprints: the arrays themselves, so a failure shows where they differ."""
    values = {**MODEL_CASES["balanced_mix"], "horizon_days": 25, "progress": False, "record_events": False}
    from sim import UserLifecycleModel

    runs = []
    for n_threads in (1, 4):
        model = UserLifecycleModel({**values, "threads": n_threads, "parallel": parallel})
        for _ in range(model.horizon):
            model.step()
        runs.append(model)
    one, four = runs
    assert four.parallel == parallel
    for name, column in one.log.columns.items():
        np.testing.assert_array_equal(column, four.log.columns[name], err_msg=name)
    np.testing.assert_array_equal(one.cohort_revenue, four.cohort_revenue)
    for name in STATE_FIELDS:
        np.testing.assert_array_equal(getattr(one.population, name), getattr(four.population, name), err_msg=name)
    for a, b in zip(one.levers, four.levers, strict=True):
        assert a.summary() == b.summary()
        np.testing.assert_array_equal(a.group_charged, b.group_charged)
        for name, value in vars(a).items():  # per-slot state (fatigue, dependence, last contact) included
            if isinstance(value, np.ndarray):
                np.testing.assert_array_equal(value, getattr(b, name), err_msg=f"{a.label}.{name}")


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity on this system")
def test_available_cores_are_the_ones_the_process_may_run_on():
    allowed = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(allowed)})  # pinned to one core, whatever the machine has
    try:
        assert threads.available_cores() == 1
    finally:
        os.sched_setaffinity(0, allowed)


@pytest.mark.parametrize(("cpu_count", "expected"), [(6, 6), (None, 1)])
def test_without_cpu_affinity_the_cores_are_the_machines_or_one_if_unknown(monkeypatch, cpu_count, expected):
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)  # as on macOS and Windows
    monkeypatch.setattr(os, "cpu_count", lambda: cpu_count)
    assert threads.available_cores() == expected
