"""Chunks stepped in worker processes: what reaches the workers, what comes back, and what is refused.

Bit-identical results with every lever are checked in ``tests/test_threads.py`` (the
previous release's fingerprints, in threads and in processes); these tests cover the
machinery around them: the choice of mode, state that user code changes between days,
per-slot state kept in shared memory, worker failures and the rules a lever must follow.
"""

from __future__ import annotations

import itertools
import os
import re
import time

import numpy as np
import pytest
from protocol_lever import ProtocolOnlyLever

from sim import load_config
from sim.core.chunk_processes import fork_available, share_slot_arrays, shared_copy, slot_arrays
from sim.core.model import LifecycleModel
from sim.core.rng import CHUNK_SIZE
from sim.levers.base import Lever, Schedule, Target

pytestmark = pytest.mark.skipif(not fork_available(), reason="worker processes need fork (Linux)")

#: Two chunks of one draw chunk each (fewer draw chunks than TARGET_CHUNKS): the model
#: steps the first, a forked worker the second.
N_TWO_CHUNKS = 2 * CHUNK_SIZE


def _population(n: int):
    return load_config([f"population.market_size={n}"]).population


class _Config:
    target = Target()
    schedule = Schedule()


class _Probe(Lever):
    """A lever with per-slot state, whose hooks can be made to break a rule of processes."""

    kind = "probe"

    def __init__(self, fault: str = "") -> None:
        super().__init__("probe", _Config())
        self.fault = fault
        self.seen: list[int] = []
        self.model_pid = os.getpid()
        self.level, self.other = 0, 0
        self.shared_list = self.same_list = [1, 2]  # one list under two names

    def bind(self, model) -> None:
        super().bind(model)
        self.score = np.zeros(model.sample_size, dtype=np.int32)
        self.n = model.sample_size

    def begin_day(self, model, weekday: int) -> None:
        super().begin_day(model, weekday)
        if self.fault == "replace":
            self.score = self.score + 1  # a new array: the workers would keep writing the old one
        elif self.fault == "late":
            self.later = np.zeros(self.n, dtype=np.float32)  # per-slot state the workers never see

    def visit_effects(self, ch, fx) -> None:
        self.score[ch.lo : ch.hi] += ch.index + 1  # in place: shared with the workers
        if self.fault == "raise" and os.getpid() != self.model_pid:
            raise ZeroDivisionError("probe failed in a worker")
        if self.fault == "foreign":
            ch.defer(self.seen.append, ch.index)  # a list's method: cannot come back from a worker
        if self.fault == "raise_here_once" and os.getpid() == self.model_pid and not self.seen:
            self.seen.append(ch.index)  # once: the same day stepped again would not fail here
            raise ZeroDivisionError("probe failed in the model's own chunk")
        if self.fault == "bare_here_once" and os.getpid() == self.model_pid and not self.seen:
            self.seen.append(ch.index)
            raise LookupError  # no message: the failed day is named by the exception's type
        if self.fault == "existing":  # two lever-wide attributes it already had
            self.level += 1
            self.other += 1
        if self.fault == "rebind":  # the same values, no longer one object: not a change
            self.same_list = list(self.same_list)
        if self.fault == "counter":
            self.hits = getattr(self, "hits", 0) + 1  # lever-wide, in a hook: stays in a worker's copy
        if self.fault == "unpicklable_booking" and os.getpid() != self.model_pid:
            ch.defer(self.take, lambda: None)  # a lambda cannot be sent back to the model
        if self.fault == "replace_in_worker" and os.getpid() != self.model_pid:
            self.score = self.score.copy()  # per-slot, replaced in a worker's chunk only: the model's copy is fine

    def take(self, _value) -> None:
        """A booking method (its argument does not matter)."""


def test_auto_steps_in_processes_where_chunks_can_run_side_by_side():
    pop = _population(N_TWO_CHUNKS)
    assert LifecycleModel(pop, horizon_days=1, seed=0, threads=2).parallel == "processes"
    assert LifecycleModel(pop, horizon_days=1, seed=0, threads=1).parallel == "one"
    assert LifecycleModel(pop, horizon_days=1, seed=0, threads=2, parallel="threads").parallel == "threads"
    single_chunk = _population(CHUNK_SIZE)
    assert LifecycleModel(single_chunk, horizon_days=1, seed=0, threads=2).parallel == "one"


def _unpicklable_probe() -> _Probe:
    lever = _Probe()
    lever.callback = lambda: None  # a lambda cannot be pickled to a worker
    return lever


def test_a_lever_whose_state_cannot_be_sent_steps_in_threads_or_is_refused():
    pop = _population(N_TWO_CHUNKS)
    auto = LifecycleModel(pop, horizon_days=1, seed=0, levers=[_unpicklable_probe()], threads=2)
    assert auto.parallel == "threads"
    with pytest.raises(ValueError, match=r"parallel='processes': the levers' state cannot be sent .*use threads"):
        LifecycleModel(pop, horizon_days=1, seed=0, levers=[_unpicklable_probe()], threads=2, parallel="processes")


def test_the_config_refuses_an_unknown_mode():
    from sim import ConfigError

    with pytest.raises(ConfigError, match=r"parallel='fibres' is not allowed: one of auto, processes, threads"):
        load_config(["parallel=fibres"])


def test_per_slot_state_written_in_a_worker_is_seen_by_the_model():
    days = 3
    lever = _Probe()
    model = LifecycleModel(
        _population(N_TWO_CHUNKS), horizon_days=days, seed=0, levers=[lever], threads=2, parallel="processes"
    )
    for _ in range(days):
        model.step()
    # chunk 0 (this process) adds 1 a day, chunk 1 (the worker) adds 2 a day
    want = np.repeat([days * 1, days * 2], CHUNK_SIZE)
    np.testing.assert_array_equal(lever.score, want)


def test_modifiers_and_new_channels_set_between_days_reach_the_workers():
    """User code (the explorer) changes multipliers and adds awareness channels between steps."""
    n, days = N_TWO_CHUNKS, 12
    runs = []
    for threads, parallel in ((1, "auto"), (2, "processes")):
        model = LifecycleModel(_population(n), horizon_days=days, seed=3, threads=threads, parallel=parallel)
        for day in range(days):
            if day == 4:
                model.modifiers.visit = np.linspace(0.5, 2.0, n, dtype=np.float32)  # per slot
                model.modifiers.awareness = {"tv": 0.02}  # a channel the model has not seen
            if day == 8:
                model.modifiers.conversion = 3.0
            model.step()
        runs.append(model)
    one, two = runs
    assert two.parallel == "processes" and "tv" in two.channels
    for name, column in one.log.columns.items():
        np.testing.assert_array_equal(column, two.log.columns[name], err_msg=name)
    np.testing.assert_array_equal(one.population.channel, two.population.channel)
    assert (two.population.channel == two.channels.index("tv")).any()  # the channel was used in both chunks
    assert (two.population.channel[CHUNK_SIZE:] == two.channels.index("tv")).any()


def test_visits_of_the_workers_chunks_are_recorded_in_slot_order():
    n, days = N_TWO_CHUNKS + 1000, 5  # three chunks, the last one short
    runs = [
        LifecycleModel(_population(n), horizon_days=days, seed=2, threads=threads, parallel=parallel)
        for threads, parallel in ((1, "auto"), (3, "processes"))
    ]
    for model in runs:
        model.modifiers.conversion = 20.0  # enough visitors in the short last chunk too
        for _ in range(days):
            model.step()
    (slots_one, days_one), (slots_three, days_three) = (model.events() for model in runs)
    assert slots_three.size > 0 and (slots_three >= 2 * CHUNK_SIZE).any()  # the last worker's visitors
    np.testing.assert_array_equal(slots_one, slots_three)
    np.testing.assert_array_equal(days_one, days_three)
    assert slots_three.dtype == np.int32 and days_three.dtype == np.int16  # as documented by events()


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        # the worker's error on the first line, its traceback below
        ("raise", r"(?s)^a chunk worker process failed: ZeroDivisionError: probe failed in a worker\n.*visit_effects"),
        (
            "replace",
            # found by the worker (forked after the model's first begin_day) or by the model on a later day
            r"_Probe\.score was replaced by a new array during the day; with parallel=processes per-slot state "
            r"must be written in place \(or use parallel=threads\)",
        ),
        (
            "late",
            r"^_Probe\.later is per-slot state allocated after bind\(\); with parallel=processes allocate it in "
            r"bind\(\) \(or use parallel=threads\)$",
        ),
        ("foreign", r"(?s)failed:.*is not a method of a lever"),
        ("counter", r"(?s)failed:.*_Probe\.hits changed in a hook, in a worker process"),
        (  # the pickling error's wording depends on the Python version
            "unpicklable_booking",
            r"^a chunk worker process failed: \w+Error: .*'_Probe\.visit_effects\.<locals>\.<lambda>'",
        ),
        (
            "replace_in_worker",
            r"^a chunk worker process failed: RuntimeError: _Probe\.score was replaced by a new array during the day",
        ),
    ],
)
def test_what_would_make_a_worker_differ_is_refused_with_an_error_naming_it(fault, message):
    model = LifecycleModel(
        _population(N_TWO_CHUNKS), horizon_days=2, seed=0, levers=[_Probe(fault)], threads=2, parallel="processes"
    )
    with pytest.raises(RuntimeError, match=message) as failed:
        model.step()
    reason = str(failed.value).splitlines()[0]
    with pytest.raises(RuntimeError) as again:  # no day may follow, however the day failed
        model.step()
    assert str(again.value) == (
        f"day 0 failed ({reason}): this model is part-way through that day and cannot step on; build a new model"
    )
    model.close()
    assert model._processes is None


@pytest.mark.parametrize(
    ("fault", "error", "said", "named"),
    [
        # named by the message's first line
        (
            "raise_here_once",
            ZeroDivisionError,
            "probe failed in the model's own chunk",
            "probe failed in the model's own chunk",
        ),
        ("bare_here_once", LookupError, "", "LookupError"),  # an exception without a message: named by its type
    ],
)
def test_no_day_follows_a_day_that_failed_in_the_models_own_chunks(fault, error, said, named):
    """The worker's reply to the failed day is still in its pipe: a next day would read it as its own."""
    model = LifecycleModel(
        _population(N_TWO_CHUNKS),
        horizon_days=3,
        seed=0,
        levers=[_Probe(fault)],
        threads=2,
        parallel="processes",
    )
    with pytest.raises(error) as failed:
        model.step()
    assert str(failed.value) == said
    with pytest.raises(
        RuntimeError,
        match=rf"^day 0 failed \({re.escape(named)}\): this model is part-way through that day",
    ):
        model.step()
    # the workers' own guard, behind the model's: their pipes still hold the failed day's replies
    with pytest.raises(RuntimeError, match=rf"^an earlier day failed in the chunks \({re.escape(named)}\): this model"):
        model._processes.step(model._day_context(), model._day_state())
    model.close()


@pytest.mark.parametrize(("threads", "parallel"), [(1, "auto"), (2, "threads")])
def test_no_day_follows_a_failed_day_in_threads_or_one_thread_either(threads, parallel):
    """Part of the day was stepped before the error: stepping it again would step those users twice."""
    model = LifecycleModel(
        _population(N_TWO_CHUNKS),
        horizon_days=3,
        seed=0,
        levers=[_Probe("raise_here_once")],  # raises once only: a second try would go through
        threads=threads,
        parallel=parallel,
    )
    with pytest.raises(ZeroDivisionError, match="in the model's own chunk"):
        model.step()
    with pytest.raises(RuntimeError, match=r"^day 0 failed \(probe failed in the model's own chunk\): this model"):
        model.step()
    assert model.day == 0
    model.close()


@pytest.mark.parametrize("first", ["", "rebind"])
def test_every_lever_is_checked_and_the_changed_attributes_are_named(first):
    """The second lever's change is found after a first lever that is unchanged, or only rebound to equal values."""
    levers = [_Probe(first), _Probe("existing")]
    model = LifecycleModel(
        _population(N_TWO_CHUNKS), horizon_days=2, seed=0, levers=levers, threads=2, parallel="processes"
    )
    with pytest.raises(
        RuntimeError,
        match=r"(?s)failed:.*RuntimeError: _Probe\.level, other changed in a hook, in a worker process's copy of the "
        r"lever; with parallel=processes set lever-wide state in begin_day, book it through the chunk "
        r"\(Chunk\.defer\), or name per-chunk state in chunk_state \(or use parallel=threads\)\n",
    ):
        model.step()
    model.close()


class _ChunkDays(Lever):
    """Counts, per chunk, the days its chunk was stepped (per-chunk state), and writes the count into its slots."""

    kind = "chunk_days"
    chunk_state = ("days",)

    def __init__(self) -> None:
        super().__init__("chunk_days", _Config())
        self.days: dict[int, int] = {}

    def bind(self, model) -> None:
        super().bind(model)
        self.stepped = np.zeros(model.sample_size, dtype=np.int32)

    def visit_effects(self, ch, fx) -> None:
        self.days[ch.index] = self.days.get(ch.index, 0) + 1
        self.stepped[ch.lo : ch.hi] = self.days[ch.index]


def _chunk_days_after_three_days(parallel: str, close_between_days: bool) -> np.ndarray:
    lever = _ChunkDays()
    model = LifecycleModel(
        _population(N_TWO_CHUNKS), horizon_days=3, seed=0, levers=[lever], threads=2, parallel=parallel
    )
    for _ in range(3):
        model.step()
        if close_between_days and model.running:
            model.close()  # "stepping again would start new ones" (LifecycleModel.close)
    return lever.stepped.copy()


@pytest.mark.parametrize("parallel", ["threads", "processes"])
def test_each_chunk_keeps_its_own_state_from_day_to_day(parallel):
    assert (_chunk_days_after_three_days(parallel, close_between_days=False) == 3).all()


@pytest.mark.parametrize("parallel", ["threads", "processes"])
def test_each_chunk_keeps_its_own_state_when_the_model_is_closed_between_days(parallel):
    """close() lets the workers go and a next step starts new ones: a chunk's own state must carry over.

    With processes the workers hand their chunks' entries back at close() (a bug found by the
    mutation run: new workers started from the model's copy, which had only its own chunks').
    """
    assert (_chunk_days_after_three_days(parallel, close_between_days=True) == 3).all()


def test_a_lever_rebinding_equal_values_in_a_hook_is_not_refused():
    model = LifecycleModel(
        _population(N_TWO_CHUNKS), horizon_days=3, seed=0, levers=[_Probe("rebind")], threads=2, parallel="processes"
    )
    for _ in range(3):
        model.step()
    assert not model.running


def test_per_slot_modifiers_reach_each_chunk_at_its_own_slots():
    """Known facts, not a comparison of two modes: zero conversion in chunk 0, zero visits and deaths in chunk 1."""
    n, days = N_TWO_CHUNKS, 30
    for threads, parallel in ((1, "auto"), (2, "processes"), (2, "threads")):
        model = LifecycleModel(_population(n), horizon_days=days, seed=5, threads=threads, parallel=parallel)
        first = np.arange(n) < CHUNK_SIZE
        model.modifiers.conversion = np.where(first, 0.0, 20.0).astype(np.float32)
        model.modifiers.visit = np.where(first, 1.0, 0.0).astype(np.float32)
        model.modifiers.hazard = np.where(first, 1.0, 0.0).astype(np.float32)
        for _ in range(days):
            model.step()
        p = model.population
        acquired = p.acquired_day >= 0
        assert not acquired[first].any(), parallel  # nobody converts where conversion is 0
        second = ~first & acquired
        assert second.sum() > 1000, parallel
        assert p.alive[second].all(), parallel  # nobody dies where the hazard is 0
        # no visit but the first (acquisition) where visits are 0
        np.testing.assert_array_equal(p.last_visit_day[second], p.acquired_day[second], err_msg=parallel)


def test_per_slot_state_that_is_a_view_steps_in_threads_or_is_refused():
    """A view of a per-slot array would keep pointing at the unshared original in the worker."""
    pop = _population(N_TWO_CHUNKS)
    assert LifecycleModel(pop, horizon_days=1, seed=0, levers=[_ViewingProbe()], threads=2).parallel == "threads"
    with pytest.raises(ValueError, match=r"a view of another array cannot be shared \(_ViewingProbe\.alias\)"):
        LifecycleModel(pop, horizon_days=1, seed=0, levers=[_ViewingProbe()], threads=2, parallel="processes")


class _ViewingProbe(_Probe):
    def bind(self, model) -> None:
        super().bind(model)
        self.alias = self.score[:]  # the same memory, through a view


def test_a_lever_targeting_channels_steps_in_processes_as_in_one_thread():
    """Targeting by channel reads a table of the channels: made per call, it is no state a worker would change."""
    from sim import UserLifecycleModel

    values = {
        "strategy": "paid_growth",
        "strategy.push.enabled": True,
        "strategy.push.target.channels": ["search"],
        "population.market_size": N_TWO_CHUNKS,
        "horizon_days": 20,
        "progress": False,
        "record_events": False,
    }
    runs = []
    for threads, parallel in ((1, "auto"), (2, "processes")):
        model = UserLifecycleModel({**values, "threads": threads, "parallel": parallel})
        for _ in range(model.horizon):
            model.step()
        runs.append(model)
    one, two = runs
    assert two.parallel == "processes"
    push = next(lever for lever in two.levers if lever.kind == "push")
    assert push.messages > 0
    for name, column in one.log.columns.items():
        np.testing.assert_array_equal(column, two.log.columns[name], err_msg=name)


def test_the_same_rule_breakers_step_in_threads():
    """What processes refuse is fine in threads, where the model and its chunks share one copy of each lever."""
    for fault in ("replace", "late", "counter", "foreign"):
        lever = _Probe(fault)
        model = LifecycleModel(
            _population(N_TWO_CHUNKS), horizon_days=2, seed=0, levers=[lever], threads=2, parallel="threads"
        )
        model.step()
        model.step()
    assert lever.seen == [0, 1, 0, 1]


def test_slot_arrays_are_the_owned_arrays_of_n_elements():
    class Holder:
        pass

    holder = Holder()
    holder.a = np.zeros(10)
    holder.b = np.zeros((10, 2), dtype=np.int8)
    holder.view = holder.a[:]  # a view: its owner is shared, not the view
    holder.short = np.zeros(9)
    holder.number = 10
    assert slot_arrays(holder, 10) == ["a", "b"]
    before = holder.b.copy()
    before[3, 1] = 7
    holder.b[3, 1] = 7
    shared = share_slot_arrays([holder], 10)
    assert [item.name for item in shared] == ["a", "b"]
    assert holder.b is shared[1].array and holder.b.dtype == np.int8 and holder.b.shape == (10, 2)
    np.testing.assert_array_equal(holder.b, before)


def test_a_shared_copy_is_written_by_a_forked_process():
    import multiprocessing

    array = shared_copy(np.arange(5, dtype=np.int64))
    child = multiprocessing.get_context("fork").Process(target=array.__setitem__, args=(slice(1, 3), -1))
    child.start()
    child.join()
    assert child.exitcode == 0
    assert array.tolist() == [0, -1, -1, 3, 4]


@pytest.mark.parametrize("finished", [True, False])
def test_a_model_stepped_in_processes_is_freed_and_its_workers_stop(finished):
    """The workers' finalizer must not keep the model alive (it did: 2.3x the peak memory of a run with levers).

    A finished, released model goes at once; one dropped mid-run (a cycle through Mesa's
    bound ``step``) at the next collection, which also stops its worker.
    """
    import gc
    import weakref

    days = 2
    model = LifecycleModel(
        _population(N_TWO_CHUNKS), horizon_days=days, seed=0, levers=[_Probe()], threads=2, parallel="processes"
    )
    worker = None
    for _ in range(days if finished else 1):
        model.step()
        worker = worker or model._processes._workers[0][0]
    state, lever = weakref.ref(model.population), weakref.ref(model.levers[0])
    gc.disable()
    try:
        if finished:
            assert model._processes is None and not worker.is_alive()  # stopped at the horizon
            model.release()
        else:
            assert worker.is_alive()
        del model
        if not finished:
            gc.collect()
        assert state() is None and lever() is None
    finally:
        gc.enable()
    worker.join(5)
    assert worker.exitcode == 0


def test_workers_end_when_the_models_process_is_killed_before_closing_them():
    """A worker sees the end of its pipe once the model's process is gone: no orphans after a kill or os._exit."""
    import subprocess
    import sys
    import time

    script = f"""
import os, sys
from sim import load_config
from sim.core.model import LifecycleModel
pop = load_config(["population.market_size={N_TWO_CHUNKS + 1000}"]).population
model = LifecycleModel(pop, horizon_days=5, seed=0, threads=3, parallel="processes")  # two workers
model.step()
print(" ".join(str(worker.pid) for worker, _conn in model._processes._workers), flush=True)
os._exit(0)  # no close(), no interpreter exit: as if killed
"""
    # not subprocess.run: it waits for the end of the output, which orphaned workers would hold open
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) as run:
        pids = [int(pid) for pid in run.stdout.readline().split()]
        assert run.wait(timeout=120) == 0
    assert len(pids) == 2
    deadline = time.monotonic() + 10
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in alive if os.path.exists(f"/proc/{pid}") and _state(pid) != "Z"]
        time.sleep(0.05)
    assert not alive, f"chunk workers {alive} outlived their model's process"


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def test_a_killed_worker_is_named_at_the_next_day():
    import signal

    model = LifecycleModel(_population(N_TWO_CHUNKS), horizon_days=3, seed=0, threads=2, parallel="processes")
    model.step()
    worker = model._processes._workers[0][0]
    assert worker.daemon and worker.name == "opsim-chunks"  # a daemon: an exiting interpreter ends it
    os.kill(worker.pid, signal.SIGKILL)
    worker.join()
    with pytest.raises(RuntimeError, match=rf"a chunk worker process \(pid {worker.pid}\) ended unexpectedly"):
        model.step()
    model.close()


class _Sleeper(_Probe):
    def visit_effects(self, ch, fx) -> None:
        if os.getpid() != self.model_pid:
            import time

            time.sleep(60)


def test_close_ends_a_worker_that_does_not_stop(monkeypatch):
    import time

    from sim.core import chunk_processes

    monkeypatch.setattr(chunk_processes, "STOP_TIMEOUT_S", 0.2)
    model = LifecycleModel(
        _population(N_TWO_CHUNKS), horizon_days=3, seed=0, levers=[_Sleeper()], threads=2, parallel="processes"
    )
    processes = model._chunk_processes()
    worker, conn = processes._workers[0]
    conn.send((model._day_context(), model._day_state()))  # the worker starts a day that takes a minute
    time.sleep(0.5)
    started = time.monotonic()
    model.close()
    assert time.monotonic() - started < 10
    assert not worker.is_alive()
    # the busy worker never handed back its chunks' state: stepping on would start from a stale copy
    with pytest.raises(
        RuntimeError,
        match=rf"^the worker processes' per-chunk state could not be taken back when they were closed \(a chunk "
        rf"worker process \(pid {worker.pid}\) did not answer in 0\.2 s\): this model cannot step on",
    ):
        model.step()


def test_a_model_whose_worker_died_before_close_refuses_to_step_on():
    import signal

    model = LifecycleModel(_population(N_TWO_CHUNKS), horizon_days=3, seed=0, threads=2, parallel="processes")
    model.step()
    worker = model._processes._workers[0][0]
    os.kill(worker.pid, signal.SIGKILL)
    worker.join()
    model.close()  # closing does not raise: the workers go all the same
    assert model._processes is None
    with pytest.raises(
        RuntimeError,
        match=rf"^the worker processes' per-chunk state could not be taken back when they were closed \(a chunk "
        rf"worker process \(pid {worker.pid}\) ended unexpectedly\): this model cannot step on; build a new model$",
    ):
        model.step()


class _Unsendable(_ChunkDays):
    """Keeps, for the worker's chunks only, a per-chunk value that cannot be pickled back to the model."""

    def __init__(self) -> None:
        super().__init__()
        self.model_pid = os.getpid()

    def visit_effects(self, ch, fx) -> None:
        super().visit_effects(ch, fx)
        if os.getpid() != self.model_pid:
            import threading

            self.days[ch.index] = threading.Lock()


def test_a_worker_that_cannot_send_its_chunks_state_is_named_with_its_error():
    """The worker's answer is its traceback: the model's next step names its last line, the error itself."""
    model = LifecycleModel(
        _population(N_TWO_CHUNKS), horizon_days=3, seed=0, levers=[_Unsendable()], threads=2, parallel="processes"
    )
    model.step()  # the per-chunk state stays in the worker during the day: nothing is refused
    model.close()
    with pytest.raises(
        RuntimeError,
        match=r"^the worker processes' per-chunk state could not be taken back when they were closed \(a chunk "
        r"worker process answered 'error', not its chunk state: TypeError: cannot pickle '_thread\.lock' "
        r"object\): this model cannot step on; build a new model$",
    ):
        model.step()


def test_worker_processes_give_no_chunk_state_after_a_failed_day():
    """The failed day's replies may still be in the pipes: they would be read as the chunks' state."""
    model = LifecycleModel(
        _population(N_TWO_CHUNKS),
        horizon_days=3,
        seed=0,
        levers=[_Probe("raise_here_once")],
        threads=2,
        parallel="processes",
    )
    with pytest.raises(ZeroDivisionError):
        model.step()
    with pytest.raises(
        RuntimeError, match=r"^an earlier day failed in the chunks \(probe failed in the model's own chunk\)$"
    ):
        model._processes.take_chunk_state()
    model.close()


class _Exiting(_Probe):
    def visit_effects(self, ch, fx) -> None:
        if os.getpid() != self.model_pid:
            os._exit(3)  # the worker ends in the middle of the day, after it was sent the day


def test_a_worker_that_ends_during_a_day_is_named():
    model = LifecycleModel(
        _population(N_TWO_CHUNKS), horizon_days=3, seed=0, levers=[_Exiting()], threads=2, parallel="processes"
    )
    worker = model._chunk_processes()._workers[0][0]
    with pytest.raises(RuntimeError, match=rf"^a chunk worker process \(pid {worker.pid}\) ended unexpectedly$"):
        model.step()
    worker.join()
    assert worker.exitcode == 3
    model.close()


class _EndsWhenChecked:
    """Lever-wide state whose pickling in a worker ends that worker: the worker dies checking its copy."""

    def __init__(self, model_pid: int) -> None:
        self.model_pid = model_pid

    def __reduce__(self):
        if os.getpid() != self.model_pid:
            os._exit(4)
        return (_EndsWhenChecked, (self.model_pid,))


class _EndsWhileChecking(_Probe):
    def __init__(self) -> None:
        super().__init__()
        self.tripwire = _EndsWhenChecked(self.model_pid)


def test_a_worker_that_ends_while_checking_its_copy_is_named():
    """It sent its chunks' results first: the model notices it gone when it takes the check's verdict."""
    model = LifecycleModel(
        _population(N_TWO_CHUNKS),
        horizon_days=3,
        seed=0,
        levers=[_EndsWhileChecking()],
        threads=2,
        parallel="processes",
    )
    processes = model._chunk_processes()
    worker = processes._workers[0][0]
    results = processes.step(model._day_context(), model._day_state())
    assert [type(out).__name__ for out in itertools.islice(results, 2)] == ["ChunkResult", "RemoteChunkResult"]
    with pytest.raises(RuntimeError, match=rf"^a chunk worker process \(pid {worker.pid}\) ended unexpectedly$"):
        next(results)
    worker.join()
    assert worker.exitcode == 4
    model.close()


@pytest.mark.parametrize(
    ("fault", "named"),
    [
        ("raise", "a chunk worker process failed: ZeroDivisionError: probe failed in a worker"),  # in its results
        ("counter", "a chunk worker process failed: RuntimeError: _Probe.hits changed in a hook"),  # in its check
    ],
)
def test_no_day_follows_a_day_that_failed_in_a_worker(fault, named):
    """The workers' own guard, behind the model's, names the worker's error."""
    model = LifecycleModel(
        _population(N_TWO_CHUNKS), horizon_days=3, seed=0, levers=[_Probe(fault)], threads=2, parallel="processes"
    )
    processes = model._chunk_processes()
    with pytest.raises(RuntimeError, match=rf"^{re.escape(named)}"):
        list(processes.step(model._day_context(), model._day_state()))
    with pytest.raises(RuntimeError, match=rf"^an earlier day failed in the chunks \({re.escape(named)}"):
        processes.step(model._day_context(), model._day_state())
    model.close()


#: Seconds a worker's chunk waits for the model to have added up its own chunk (far more than it takes).
GATE_WAIT_S = 30.0


class _Gate(_Probe):
    """The worker's chunk waits until the model's process has run its own chunk's booking (which opens the gate)."""

    def __init__(self, gate: str) -> None:
        super().__init__()
        self.gate = gate

    def visit_effects(self, ch, fx) -> None:
        if os.getpid() == self.model_pid:
            ch.defer(self.open_gate)  # run when the model adds this chunk up (Chunk.settle)
            return
        waited = 0.0
        while not os.path.exists(self.gate):
            if waited > GATE_WAIT_S:
                raise TimeoutError("the model did not add up its own chunk before the worker's results")
            time.sleep(0.01)
            waited += 0.01

    def open_gate(self) -> None:
        with open(self.gate, "a"):
            pass


def test_the_model_adds_up_its_own_chunks_while_the_workers_step_theirs(tmp_path):
    """Its own share's results do not wait for the workers': the worker here needs them added up to go on."""
    lever = _Gate(str(tmp_path / "own chunk settled"))
    model = LifecycleModel(
        _population(N_TWO_CHUNKS), horizon_days=2, seed=0, levers=[lever], threads=2, parallel="processes"
    )
    model.step()
    model.step()
    assert model.day == 2


def test_a_day_whose_results_were_not_all_taken_is_not_followed():
    """Until the iterator is used up, the workers' results and checks are still in the pipes."""
    model = LifecycleModel(_population(N_TWO_CHUNKS), horizon_days=3, seed=0, threads=2, parallel="processes")
    processes = model._chunk_processes()
    results = processes.step(model._day_context(), model._day_state())
    assert next(results).ch.index == 0  # the model's own chunk
    results.close()  # the caller stopped there (an error while adding up)
    with pytest.raises(RuntimeError, match=r"^an earlier day failed in the chunks \(a day was left unfinished\): "):
        processes.step(model._day_context(), model._day_state())
    with pytest.raises(RuntimeError, match=r"^an earlier day failed in the chunks \(a day was left unfinished\)$"):
        processes.take_chunk_state()
    model.close()


def test_a_day_whose_results_were_all_taken_is_followed():
    model = LifecycleModel(_population(N_TWO_CHUNKS), horizon_days=3, seed=0, threads=2, parallel="processes")
    processes = model._chunk_processes()
    results = processes.step(model._day_context(), model._day_state())
    assert [type(out).__name__ for out in results] == ["ChunkResult", "RemoteChunkResult"]  # own, then the worker's
    processes.take_chunk_state()  # nothing pending in the pipes: the worker answers this
    assert len(list(processes.step(model._day_context(), model._day_state()))) == 2
    model.close()


def test_a_lever_without_chunk_state_is_closed_between_days_and_steps_on():
    """A protocol-only lever has no per-chunk state to take back: closing before the horizon is not a failure."""
    model = LifecycleModel(
        _population(N_TWO_CHUNKS), horizon_days=3, seed=0, levers=[ProtocolOnlyLever()], threads=2, parallel="processes"
    )
    model.step()
    model.close()
    model.step()  # new workers, forked from the model's copy
    assert model.day == 2 and model.log.columns["cost_protocol_only"][:2].tolist() == [1.0, 1.0]
    model.close()


def test_workers_asked_for_their_chunks_state_step_on():
    """Taking the chunk state back does not stop the workers: the days that follow step every chunk."""
    lever = _ChunkDays()
    model = LifecycleModel(
        _population(N_TWO_CHUNKS), horizon_days=3, seed=0, levers=[lever], threads=2, parallel="processes"
    )
    model.step()
    model._processes.take_chunk_state()
    assert lever.days == {0: 1, 1: 1}  # the worker's chunk 1, taken back
    model.step()
    model.step()
    assert (lever.stepped == 3).all()


def test_a_model_closed_at_the_horizon_asks_its_workers_for_nothing(monkeypatch):
    model = LifecycleModel(_population(N_TWO_CHUNKS), horizon_days=1, seed=0, threads=2, parallel="processes")
    processes = model._chunk_processes()
    monkeypatch.setattr(processes, "take_chunk_state", lambda: pytest.fail("no day left: nothing to take back"))
    model.step()  # the last day: the model closes its workers itself
    assert model._processes is None and not model.running


def test_stepping_closed_worker_processes_is_refused():
    model = LifecycleModel(_population(N_TWO_CHUNKS), horizon_days=3, seed=0, threads=2, parallel="processes")
    processes = model._chunk_processes()
    context, state = model._day_context(), model._day_state()
    processes.close()
    with pytest.raises(RuntimeError, match=r"^the chunk worker processes were closed$"):
        processes.step(context, state)


def test_a_booking_by_a_plain_function_is_refused_naming_the_way():
    from sim.core.chunk_processes import _booking_names

    with pytest.raises(
        RuntimeError,
        match=r"is not a method of a lever: with processes, levers book through Chunk\.defer / "
        r"Chunk\.defer_by_part with one of their own methods",
    ):
        _booking_names(len, [_Probe()])
    lever = _Probe()
    assert _booking_names(lever._book_count, [_Probe(), lever]) == (1, "_book_count")


def test_a_weak_wrapper_passes_functions_through_and_names_a_gone_model():
    import gc

    from sim.core.chunk_processes import _weakly

    assert _weakly(len) is len
    lever = _Probe()
    call = _weakly(lever.begin_day)
    del lever
    gc.collect()
    with pytest.raises(RuntimeError, match=r"^the model of these chunk worker processes is gone$"):
        call(None, 0)


def test_fork_is_used_on_linux_only(monkeypatch):
    from sim.core import chunk_processes

    monkeypatch.setattr(chunk_processes.sys, "platform", "darwin")  # lists fork, where it is unsafe
    assert not chunk_processes.fork_available()


def test_without_fork_auto_steps_in_threads_and_processes_are_refused(monkeypatch):
    from sim.core import model as model_module

    monkeypatch.setattr(model_module, "fork_available", lambda: False)
    pop = _population(N_TWO_CHUNKS)
    assert LifecycleModel(pop, horizon_days=1, seed=0, threads=2).parallel == "threads"
    with pytest.raises(
        ValueError, match=r"^parallel='processes' is not available here \(it needs fork, i\.e\. Linux\): use threads$"
    ):
        LifecycleModel(pop, horizon_days=1, seed=0, threads=2, parallel="processes")


def test_an_empty_array_can_be_shared():
    empty = shared_copy(np.zeros(0, dtype=np.int32))
    assert empty.shape == (0,) and empty.dtype == np.int32


class _WholeDays:
    """A visit observer that takes whole days only (no ``observe_part``): the model hands it each day's visitors."""

    def __init__(self, stats) -> None:
        self.stats = stats

    def observe(self, day, users, acquired_day) -> None:
        self.stats.observe(day, users, acquired_day)


@pytest.mark.parametrize(("threads", "parallel"), [(2, "processes"), (3, "threads")])
def test_a_visit_observer_takes_the_chunks_visitors_side_by_side_as_whole_days_would(threads, parallel):
    """Per-user bits in shared arrays, written in the workers; the period counts added up in the model."""
    from sim.analysis.visit_stats import VisitStats

    n, days = N_TWO_CHUNKS + 5000, 40  # three chunks, the last one short
    chunked, whole = VisitStats(n, days), VisitStats(n, days)
    models = [
        LifecycleModel(
            _population(n),
            horizon_days=days,
            seed=4,
            threads=threads,
            parallel=parallel,
            record_events=False,
            visit_observer=chunked,
        ),
        LifecycleModel(
            _population(n), horizon_days=days, seed=4, record_events=False, visit_observer=_WholeDays(whole)
        ),
    ]
    assert models[0]._observe_chunks and not models[1]._observe_chunks
    assert models[0].parallel == parallel
    if parallel == "processes":
        assert {item.name for item in models[0]._shared if item.owner is chunked} == {"last_day", "hits", "weeks"}
    for model in models:
        model.modifiers.conversion = 10.0
        for _ in range(days):
            model.step()
    assert (chunked.last_day[2 * CHUNK_SIZE :] >= 0).any()  # the last chunk's users were seen
    for name in ("last_day", "hits", "weeks"):
        np.testing.assert_array_equal(getattr(chunked, name), getattr(whole, name), err_msg=name)
    for step in (1, 7):
        for a, b in zip(chunked.counts[step], whole.counts[step], strict=True):
            np.testing.assert_array_equal(a, b)
    assert chunked.counts[1][0].sum() > 0
