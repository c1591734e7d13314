"""The memory estimate of a run and the refusal before anything is allocated."""

from __future__ import annotations

import gc
import re
import weakref
from dataclasses import replace
from pathlib import Path

import pytest

from sim.app import memory
from sim.app.config import load_config
from sim.base.errors import MemoryLimitError

gc_collect = gc.collect


@pytest.fixture(autouse=True)
def auto_kernels_are_numpy(monkeypatch):
    """The known answers below are the numpy kernels' (an install without numba); the compiled ones' are tested apart."""
    monkeypatch.setattr(memory, "compiled_chosen", lambda mode: mode == "compiled")


@pytest.fixture(scope="module")
def cfg():
    return replace(load_config(["population.market_size=1000", "horizon_days=10"]), record_events=True)


def test_estimate_known_answer(cfg):
    need = memory.estimate_memory(cfg)
    # by hand: (25 state + 16 working + 32 analytics) bytes a user; 10 x 10 cells of 100 bytes; 64 MiB allowance;
    # 40 MiB for the one chunk of 1,000 slots (one thread: nothing else to step beside it)
    assert (need.users, need.horizon, need.per_user) == (1000, 10, 73)
    assert need.total == 1000 * 73 + 100 * 100 + 64 * 2**20 + 40 * 2**20
    assert memory.estimate_memory(replace(cfg, record_events=False)).per_user == 41
    sample = load_config(["population.market_size=1000000", "population.sample_size=1000", "horizon_days=10"])
    assert memory.estimate_memory(sample).users == 1000  # N, not M
    levers = load_config(["strategy=winback", "population.market_size=1000", "horizon_days=10"])
    # the main run's matrices are kept
    assert memory.estimate_memory(levers).fixed == 2 * 100 * 100 + 64 * 2**20 + 40 * 2**20


@pytest.mark.parametrize(
    ("threads", "parallel", "fork", "workers"),
    [
        (1, "auto", True, 0),
        (3, "processes", True, 2),
        (3, "threads", True, 0),
        (3, "auto", True, 2),  # processes where they can be forked
        (3, "auto", False, 0),  # threads elsewhere
    ],
)
def test_compiled_kernels_add_numba_to_the_run_and_to_each_worker_process(
    threads, parallel, fork, workers, monkeypatch
):
    from sim.app import threads as threads_module

    monkeypatch.setattr(threads_module, "fork_available", lambda: fork)
    overrides = ["population.market_size=1000000", "horizon_days=10", f"threads={threads}", f"parallel={parallel}"]
    numpy_need = memory.estimate_memory(load_config([*overrides, "kernels=numpy"]))
    compiled_need = memory.estimate_memory(load_config([*overrides, "kernels=compiled"]))
    # by hand: 224 MiB in the run's process, 96 MiB in each of its worker processes (threads - 1 in processes)
    assert compiled_need.fixed - numpy_need.fixed == 224 * 2**20 + workers * 96 * 2**20
    assert compiled_need.per_user == numpy_need.per_user


def test_auto_kernels_count_numba_only_where_it_is_installed(monkeypatch):
    from sim.core import kernels

    auto = load_config(["population.market_size=1000", "horizon_days=10", "threads=1"])
    monkeypatch.setattr(memory, "compiled_chosen", kernels.compiled_chosen)
    monkeypatch.setattr(kernels, "compiled_available", lambda: True)
    with_numba = memory.estimate_memory(auto).fixed
    monkeypatch.setattr(kernels, "compiled_available", lambda: False)
    assert with_numba - memory.estimate_memory(auto).fixed == 224 * 2**20


def test_estimate_counts_one_chunk_in_flight_per_thread_up_to_the_chunks_there_are():
    one = load_config(["population.market_size=1000000", "horizon_days=10", "threads=1"])  # 4 chunks
    chunk = 40 * 2**20
    assert memory.estimate_memory(replace(one, threads=3)).fixed - memory.estimate_memory(one).fixed == 2 * chunk
    # beyond TARGET_CHUNKS threads the draw chunks are cut finer, one chunk a thread: 9 threads get
    # ceil(16 / 9) = 2 draw chunks each, i.e. 8 chunks; 64 threads the 16 draw chunks one by one
    assert memory.estimate_memory(replace(one, threads=9)).fixed - memory.estimate_memory(one).fixed == 7 * chunk
    assert memory.estimate_memory(replace(one, threads=64)).fixed - memory.estimate_memory(one).fixed == 15 * chunk
    small = replace(one, population=replace(one.population, market_size=200_000))  # 4 draw chunks
    assert memory.estimate_memory(replace(small, threads=9)).fixed - memory.estimate_memory(small).fixed == 3 * chunk


def test_automatic_threads_are_counted_as_the_run_resolves_them_by_its_users_and_mode(monkeypatch):
    """threads=0 on 8 cores: one thread below 100,000 users in processes (500,000 in threads), else a chunk a thread."""
    from sim.app import threads

    monkeypatch.setattr(threads, "available_cores", lambda: 8)
    monkeypatch.setattr(threads, "fork_available", lambda: True)

    def chunks_beside_the_first(users: int, parallel: str) -> int:
        one = load_config([f"population.market_size={users}", "horizon_days=10", "threads=1", f"parallel={parallel}"])
        extra = memory.estimate_memory(replace(one, threads=0)).fixed - memory.estimate_memory(one).fixed
        assert extra % (40 * 2**20) == 0
        return extra // (40 * 2**20)

    # 99,999 and 100,000 users: 2 draw chunks of 65,536, hence 2 chunks
    assert chunks_beside_the_first(99_999, "auto") == 0
    assert chunks_beside_the_first(100_000, "auto") == 1
    assert chunks_beside_the_first(100_000, "threads") == 0
    # 500,000 users: 8 draw chunks, one chunk each for 8 threads
    assert chunks_beside_the_first(499_999, "threads") == 0
    assert chunks_beside_the_first(500_000, "threads") == 7


def test_refused_one_byte_short_and_accepted_at_the_limit(cfg):
    total = memory.estimate_memory(cfg).total
    assert memory.check_memory(cfg, available=(total, "test")) is cfg
    with pytest.raises(MemoryLimitError) as info:
        memory.check_memory(cfg, available=(total - 1, "test figure"))
    message = str(info.value)
    assert message.startswith("population.sample_size=1000 is not allowed: at most what fits in memory")
    assert "(test figure)" in message and "about 999 fit now" in message
    # 999 · 0.95 = 949.05, rounded down to two significant digits
    assert "population.sample_size=940 or fewer" in message


@pytest.mark.parametrize(
    ("fit", "suggested"),
    [
        (29_171_960, 27_000_000),  # two tries of one command under ulimit -v (2026-11-30) …
        (29_173_756, 27_000_000),  # … give the same figure
        (1_000, 950),
        (21, 19),  # 19.95
        (10, 9),  # 9.5
        (1, 1),  # 0.95: never 0
        (0, 1),
    ],
)
def test_suggested_sample_is_round_and_below_what_fits(fit, suggested):
    assert memory.suggested_sample(fit) == suggested


def test_the_suggested_sample_still_fits_when_the_process_grows_by_a_few_per_cent(cfg):
    # the refusal's figure, tried again where a few per cent less is available (the run's own check,
    # inside the run, sees its process grown: under ulimit -v of 3 GB, 0.9 % less), is accepted;
    # 1,234,567 users fit, so the figure without the margin (1,200,000) would not fit in 96 %
    big = replace(cfg, population=replace(cfg.population, market_size=50_000_000))
    need = memory.estimate_memory(big)
    available = need.fixed + 1_234_567 * need.per_user
    with pytest.raises(MemoryLimitError) as info:
        memory.check_memory(big, available=(available, "test"))
    assert "about 1,234,567 fit now" in str(info.value)
    n = int(re.search(r"population\.sample_size=(\d+) or fewer", str(info.value)).group(1))
    assert n == 1_100_000  # 1,234,567 · 0.95 = 1,172,838, to two significant digits
    smaller = replace(big, population=replace(big.population, sample_size=n))
    assert memory.check_memory(smaller, available=(int(available * 0.96), "test")) is smaller
    without_margin = replace(big, population=replace(big.population, sample_size=1_200_000))
    with pytest.raises(MemoryLimitError):
        memory.check_memory(without_margin, available=(int(available * 0.96), "test"))


def test_workers_side_by_side_each_need_their_share(cfg):
    total = memory.estimate_memory(cfg).total
    both = 2 * total + memory.PROCESS_BYTES
    assert memory.check_memory(cfg, workers=2, available=(both, "test")) is cfg
    with pytest.raises(MemoryLimitError, match="for 2 jobs side by side"):
        memory.check_memory(cfg, workers=2, available=(both - 1, "test"))


def test_when_no_sample_helps_the_horizon_is_named(cfg):
    with pytest.raises(MemoryLimitError, match="shorten horizon_days"):
        memory.check_memory(cfg, available=(1000, "test"))


def test_where_only_numba_is_in_the_way_the_numpy_kernels_are_named():
    """The compiled kernels' 224 MiB: a run that fits without them is told kernels=numpy (boundary both sides)."""
    compiled = load_config(["population.market_size=1000", "horizon_days=10", "threads=1", "kernels=compiled"])
    need = memory.estimate_memory(compiled)
    numpy_fixed = need.fixed - memory.COMPILED_PROCESS_BYTES
    with pytest.raises(
        MemoryLimitError, match=r"kernels=numpy \(the compiled kernels' numba and LLVM take about 0.2 GB\)"
    ):
        memory.check_memory(compiled, available=(numpy_fixed + need.per_user, "test"))  # one user fits with numpy
    with pytest.raises(MemoryLimitError) as info:
        memory.check_memory(compiled, available=(numpy_fixed + need.per_user - 1, "test"))  # not even one
    assert "kernels=numpy" not in str(info.value) and "shorten horizon_days" in str(info.value)


def test_unknown_memory_refuses_nothing(cfg, monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: None)
    huge = load_config(["population.market_size=2147483647"])
    assert memory.check_memory(huge) is huge


def test_available_memory_is_the_smallest_figure(monkeypatch):
    monkeypatch.setattr(memory, "_meminfo_available", lambda: 8 * 10**9)
    monkeypatch.setattr(memory, "_cgroup_available", lambda: 3 * 10**9)
    monkeypatch.setattr(memory, "_address_space_available", lambda: None)
    assert memory.available_memory() == (3 * 10**9, "the control group's memory.max")


class _Recorded:
    """Stand-in for UserLifecycleModel that keeps a weak reference to each model's users' state."""

    def __init__(self, model_class, extra_cycle: bool):
        self.model_class, self.extra_cycle, self.states = model_class, extra_cycle, []

    def __call__(self, *args, **kwargs):
        model = self.model_class(*args, **kwargs)
        if self.extra_cycle:
            model.itself = [[model]]  # a cycle deeper than release() looks: only the collector frees it
        self.states.append(weakref.ref(model.population))
        return model


@pytest.mark.parametrize(
    ("agents", "extra_cycle", "collected"),
    [("lazy", False, False), ("lazy", True, True), ("all", False, True)],
)
def test_a_finished_run_frees_its_users_state(monkeypatch, agents, extra_cycle, collected):
    """Without agents the model is freed as its run ends; agents (a cycle with their model) need the collector.

    Before ``release``: Mesa's bound ``step`` kept every model for the collector, and with
    agents Mesa's class-level ``Agent._ids`` kept the model for good, collector or not.
    """
    from sim.app import simulate as simulate_module

    recorded = _Recorded(simulate_module.UserLifecycleModel, extra_cycle)
    collections = []
    monkeypatch.setattr(simulate_module, "UserLifecycleModel", recorded)
    monkeypatch.setattr(simulate_module, "COLLECT_AFTER_BYTES", 0)  # every model counts as large
    monkeypatch.setattr(simulate_module.gc, "collect", lambda *a: collections.append(a) or gc_collect(*a))
    cfg = load_config(
        ["population.market_size=2000", "horizon_days=5", "strategy=winback", "progress=false", f"agents={agents}"]
    )
    gc.disable()
    try:
        simulate_module.simulate(cfg)
        alive = [state() is not None for state in recorded.states]
    finally:
        gc.enable()
    assert len(recorded.states) >= 2  # the strategy's run and its baseline
    assert alive == [False] * len(alive)
    assert len(collections) == (len(alive) if collected else 0)


def _freed_by_release(prepare, check=lambda model: None) -> bool:
    """Whether release() alone (the collector off) frees a one-day model's users' state.

    ``prepare`` runs on the model before its day, ``check`` on it after release().
    """
    from sim.core.model import LifecycleModel

    population = load_config(["population.market_size=1000"]).population
    model = LifecycleModel(population, horizon_days=1, seed=0, agents="lazy")
    prepare(model)
    model.step()
    state = weakref.ref(model.population)
    gc.disable()
    try:
        model.release()
        check(model)
        del model
        return state() is None
    finally:
        gc.enable()


@pytest.mark.parametrize("depth", ["direct", "through_its_attributes"])
def test_release_drops_what_refers_back_to_the_model(depth):
    """As Mesa 3.4+'s step schedule and scenario do: a released model is then freed at once, without the collector."""
    from types import SimpleNamespace

    kept = SimpleNamespace(days=1)  # refers to nothing of the model's: stays

    def prepare(model) -> None:
        model.schedule_like = model if depth == "direct" else SimpleNamespace(model=model)
        model.kept = kept

    def check(model) -> None:
        assert not hasattr(model, "schedule_like") and model.kept is kept

    assert _freed_by_release(prepare, check)


class _EventGenerator:
    """As Mesa 3.4+'s step schedule: held in the model's set of event generators, it refers to the model;
    stopping it takes it out of that set (``mesa.time.EventGenerator.stop``)."""

    def __init__(self, model) -> None:
        self.model = model
        model._event_generators = {self}

    def stop(self) -> None:
        self.model._event_generators.discard(self)


def test_release_stops_the_models_event_generators():
    """A generator left in the model's set would keep the model alive until the collector's next full run."""
    assert _freed_by_release(_EventGenerator)


def test_release_frees_the_model_on_a_mesa_without_the_agent_registry(monkeypatch):
    """Mesa 3.4+ has no ``mesa.Agent._ids`` (mesa#3180): there is nothing to drop there, and release() still works."""
    import mesa

    monkeypatch.delattr(mesa.Agent, "_ids", raising=False)  # Mesa 3.3 has it; 3.4+ does not
    assert _freed_by_release(lambda model: None)


def _shrinking_memory(monkeypatch, overrides: list[str]) -> list[int]:
    """Memory available for the run of ``overrides``: 1 MB less at each check (the process grows), only the first fits.

    Returns:
        The list the checks append to (one entry a check).

    """
    need = memory.estimate_memory(load_config(overrides)).total
    calls: list[int] = []

    def shrinking():
        calls.append(len(calls))
        return (need + 1000 - 10**6 * (len(calls) - 1), "test")

    monkeypatch.setattr(memory, "available_memory", shrinking)
    return calls


def test_a_run_accepted_by_the_commands_check_is_not_refused_by_its_own_later_checks(tmp_path, monkeypatch):
    """Each later check sees less available (the process grew); only the first one counts for the run."""
    from sim.app import cli

    overrides = ["population.market_size=3000", "horizon_days=10", "figures=false", "progress=false"]
    calls = _shrinking_memory(monkeypatch, overrides)
    cli.main([*overrides, f"hydra.run.dir={tmp_path / 'run'}"])
    assert (tmp_path / "run" / "DONE.json").exists()
    assert len(calls) == 1  # the command's check; simulate's and the models' passed what it accepted

    calls.clear()  # outside the command's block, the same shrinking figure refuses the model's own check
    with pytest.raises(MemoryLimitError):
        memory.check_memory(load_config(overrides))
        memory.check_memory(load_config(overrides))


def test_inside_accepted_a_larger_run_is_still_measured(cfg, monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: (1000, "test"))
    bigger = replace(cfg, population=replace(cfg.population, market_size=cfg.population.market_size + 1))
    with memory.accepted([cfg]):
        assert memory.check_memory(cfg) is cfg  # no more than accepted: not measured
        with pytest.raises(MemoryLimitError):
            memory.check_memory(bigger)  # one user more: measured, and 1,000 bytes do not fit
    with pytest.raises(MemoryLimitError):
        memory.check_memory(cfg)  # after the block: measured again


def test_simulate_checks_once_and_its_models_pass_what_it_accepted(monkeypatch):
    from sim.app.simulate import simulate

    overrides = ["population.market_size=3000", "horizon_days=10", "progress=false", "strategy=paid_growth"]
    calls = _shrinking_memory(monkeypatch, overrides)
    result = simulate(overrides)
    assert result.summary["economics"]["incremental"] is not None  # the baseline ran too, unrefused
    assert len(calls) == 1


def test_accepted_covers_the_largest_of_its_runs_and_a_figure_given_is_always_used(cfg, monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: (1000, "test"))
    bigger = replace(cfg, population=replace(cfg.population, market_size=cfg.population.market_size + 1))
    with memory.accepted([cfg, bigger]):
        assert memory.check_memory(bigger) is bigger  # the larger of the two was accepted
        with pytest.raises(MemoryLimitError):  # a figure the caller gives is checked against, accepted or not
            memory.check_memory(cfg, available=(1000, "given"))


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads the process's size from /proc (Linux)")
def test_the_address_space_left_is_the_limit_less_the_process_and_what_a_run_maps_besides(monkeypatch):
    import resource

    limit = 64 * 10**9
    monkeypatch.setattr(resource, "getrlimit", lambda _which: (limit, limit))

    def vm_size() -> int:
        line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("VmSize:"))
        return int(line.split()[1]) * 1024

    before = vm_size()
    left = memory._address_space_available()
    after = vm_size()
    assert (
        limit - after - memory.ADDRESS_SPACE_RESERVED_BYTES
        <= left
        <= limit - before - memory.ADDRESS_SPACE_RESERVED_BYTES
    )
