"""How much memory a run needs, estimated before anything is allocated, and the check against what is free.

The memory of a run grows with the N = ``population.sample_size`` simulated users
(default: all M = ``population.market_size``) and with the square of the horizon
H = ``horizon_days`` (the cohort matrices and tables)::

    need = N · b_user + H² · b_cell · k + b_run + T · b_chunk  [+ b_numba + (T − 1) · b_numba_worker]

* b_user — bytes per simulated user at the run's peak: the state arrays
  (:data:`sim.core.population.STATE_BYTES_PER_SLOT`, 25), what the run allocates per
  user while it steps (traits, lever state, per-chunk temporaries) and, with
  ``record_events``, the visit analytics (:mod:`sim.analysis.visit_stats`, 6 bytes
  kept per user, plus the per-user arrays of the retention tables at the end);
* b_cell — bytes per cell of the H × H cohort matrices and the tables built from
  them; k = 2 when a strategy has comparison runs (the main run's are kept while
  the others run), else 1;
* b_run — a fixed allowance (modules loaded during the run, tables, figures);
* b_chunk — the temporaries of one chunk being stepped (at most
  :data:`sim.core.model.MAX_DRAW_CHUNKS_PER_CHUNK` draw chunks of 65,536 slots), T =
  ``threads`` of them at once, at most the run's chunks (:func:`sim.core.model.blocks_of`:
  smaller chunks with more threads, so T · b_chunk is then generous);
* with the compiled kernels (``kernels``: :mod:`sim.core.kernels`), numba and LLVM in the
  run's process, b_numba (memory or address space, whichever is larger), and what each of its worker processes (T − 1 where chunks step
  in processes) copies of them, b_numba_worker.

The constants are upper bounds of what ``python benchmarks/bench_memory.py``
measures (peak RSS above the interpreter; it prints both side by side).

Memory available is the smallest of ``MemAvailable`` in ``/proc/meminfo``, the
control group's ``memory.max`` less its ``memory.current`` (cgroup v2) and the
address-space limit (``ulimit -v``) less the process's size and the address space a
run maps besides (:data:`ADDRESS_SPACE_RESERVED_BYTES`); where none can be
read (not Linux) nothing is refused. A sweep's jobs that run side by side
(``hydra.launcher.n_jobs``) each need their own share, and their own interpreter.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from sim.app.address_space import address_space_limit
from sim.app.config import Config
from sim.app.threads import resolve_threads, steps_in_processes
from sim.base.errors import MemoryLimitError
from sim.core.kernels import compiled_chosen
from sim.core.model import blocks_of
from sim.core.population import STATE_BYTES_PER_SLOT
from sim.levers.strategy import lever_configs

__all__ = [
    "MemoryNeed",
    "accepted",
    "available_memory",
    "check_memory",
    "estimate_memory",
    "suggested_sample",
]

#: Peak bytes per simulated user besides the state arrays, without visit analytics.
WORKING_BYTES_PER_USER = 16
#: Peak bytes per simulated user of the visit analytics (``record_events``).
ANALYTICS_BYTES_PER_USER = 32
#: Bytes per cell of the cohort matrices (int32 users, float64 revenue) and the tables made of them.
COHORT_CELL_BYTES = 100
#: Fixed allowance of a run: modules it loads, its tables and figures.
RUN_BYTES = 64 * 2**20
#: Memory a process needs besides the run (interpreter, numpy, pandas, Hydra): counted once
#: per extra worker of a sweep that runs jobs side by side.
PROCESS_BYTES = 300 * 2**20
#: Temporaries of one chunk in flight: an upper bound of what tracemalloc measures for a chunk of
#: 8 draw chunks (524,288 slots) with every lever on (about 17 MiB), doubled.
CHUNK_WORKING_BYTES = 40 * 2**20
#: The compiled kernels' numba and LLVM in the run's process, the larger of what they take of memory
#: and of address space (which ``ulimit -v`` limits): ``bench_memory.py --default-only`` (2026-11-30,
#: the Intel Xeon) measured the default run's own peak 106 MB above the same run with
#: ``kernels=numpy`` (198 against 92 bytes a user at 1,000,000 users), and importing them grew the
#: process's address space by 202 MB (its resident set by 109 MB); 224 MiB is kept.
COMPILED_PROCESS_BYTES = 224 * 2**20
#: What a worker process forked from it adds with the compiled kernels (the same runs: all processes
#: 62 MB more than the run's own process adds, with one worker); half as much more is kept.
COMPILED_WORKER_BYTES = 96 * 2**20
#: Address space a run maps beyond the memory the estimate counts, which matters under an
#: address-space limit (``ulimit -v``) only: thread stacks, allocator arenas, OpenBLAS's and
#: pyarrow's buffers. Measured here (2026-11-30, default run, 365 days; the lowest ``ulimit -v``
#: under which it finished, against the process's size at the command's check plus the
#: estimate): 57-109 MB more at 1,000,000 users, 65-116 MB at 3,000,000; twice that is kept.
ADDRESS_SPACE_RESERVED_BYTES = 300_000_000
#: Decimal gigabyte, as memory is quoted to users.
GB = 1e9
#: Share of the largest sample that fits that the refusal suggests: the run's own process grows
#: between this check and the run (modules loaded, thread stacks), and under ``ulimit -v`` what is
#: available is measured again inside the run, a few per cent lower.
SUGGESTION_MARGIN = 0.95
#: Significant digits of the suggested sample size: a round figure, the same on every try.
SUGGESTION_DIGITS = 2

_CGROUP = Path("/sys/fs/cgroup")
#: Bytes a check already accepted for the run in progress in this context (:func:`accepted`); None outside one.
_ACCEPTED: ContextVar[int | None] = ContextVar("opsim_memory_accepted", default=None)


@dataclass(frozen=True)
class MemoryNeed:
    """The estimate for one run.

    Attributes:
        users: N, simulated users.
        horizon: H, days.
        per_user: Bytes per simulated user (b_user).
        fixed: Bytes that do not depend on N (the cohort matrices, the fixed allowance).

    """

    users: int
    horizon: int
    per_user: int
    fixed: int

    @property
    def total(self) -> int:
        """Bytes the run needs at its peak."""
        return self.users * self.per_user + self.fixed


def estimate_memory(cfg: Config) -> MemoryNeed:
    """Bytes a run of ``cfg`` needs at its peak (see the module docstring)."""
    per_user = STATE_BYTES_PER_SLOT + WORKING_BYTES_PER_USER
    if cfg.record_events:
        per_user += ANALYTICS_BYTES_PER_USER
    kept = 2 if lever_configs(cfg.strategy) else 1
    asked = resolve_threads(cfg.threads, users=cfg.population.simulated_users, parallel=cfg.parallel)
    threads = min(asked, len(blocks_of(cfg.population.simulated_users, asked)))
    fixed = cfg.horizon_days**2 * COHORT_CELL_BYTES * kept + RUN_BYTES + threads * CHUNK_WORKING_BYTES
    if compiled_chosen(cfg.kernels):
        fixed += COMPILED_PROCESS_BYTES + (threads - 1) * COMPILED_WORKER_BYTES * steps_in_processes(cfg.parallel)
    return MemoryNeed(cfg.population.simulated_users, cfg.horizon_days, per_user, fixed)


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_available() -> int | None:
    try:
        limit = (_CGROUP / "memory.max").read_text().strip()
        if limit == "max":
            return None
        return int(limit) - int((_CGROUP / "memory.current").read_text().strip())
    except (OSError, ValueError):
        return None


def _address_space_available() -> int | None:
    soft = address_space_limit()
    if soft is None:
        return None
    used = 0
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                used = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return soft - used - ADDRESS_SPACE_RESERVED_BYTES


def available_memory() -> tuple[int, str] | None:
    """Bytes this process can still allocate, and where the figure comes from (None: unknown)."""
    found = [
        (value, source)
        for value, source in (
            (_meminfo_available(), "MemAvailable in /proc/meminfo"),
            (_cgroup_available(), "the control group's memory.max"),
            (
                _address_space_available(),
                f"the address-space limit (ulimit -v), less {_gb(ADDRESS_SPACE_RESERVED_BYTES)} a run maps besides",
            ),
        )
        if value is not None
    ]
    return min(found) if found else None


@contextlib.contextmanager
def accepted(configs: Iterable[Config]) -> Iterator[None]:
    """Let the checks of a run already checked pass inside this block without measuring again.

    A command checks its run before anything is allocated, and the run's own parts
    (:func:`sim.app.simulate.simulate`, the model it builds) check again: by then their
    process has grown (modules loaded, a progress bar's thread: about 90 MB of address
    space here, which counts under ``ulimit -v``), and near the limit they would refuse
    what the command's check accepted, after Hydra had made the run's folder. Inside the
    block a check (of one run, with the system's figure) that needs no more than the
    largest of ``configs`` passes; a larger one is measured as usual.
    """
    token = _ACCEPTED.set(max(estimate_memory(cfg).total for cfg in configs))
    try:
        yield
    finally:
        _ACCEPTED.reset(token)


def _gb(n: float) -> str:
    return f"{n / GB:,.1f} GB"


def suggested_sample(fit: int) -> int:
    """A round sample size below ``fit`` users with room to spare (:data:`SUGGESTION_MARGIN`).

    ``fit · SUGGESTION_MARGIN`` rounded down to :data:`SUGGESTION_DIGITS` significant
    digits, at least 1: 29,171,960 and 29,173,756 (two tries of the same command under
    ``ulimit -v``) both give 27,000,000.
    """
    spare = max(1, int(fit * SUGGESTION_MARGIN))
    unit = 10 ** max(0, len(str(spare)) - SUGGESTION_DIGITS)
    return spare // unit * unit


def check_memory(cfg: Config, *, workers: int = 1, available: tuple[int, str] | None = None) -> Config:
    """Refuse a run that would need more memory than is available, before anything is allocated.

    Args:
        cfg: The validated config.
        workers: Runs side by side (a sweep's parallel jobs), each needing its share.
        available: Bytes available and where that figure comes from; read from the
            system (:func:`available_memory`) when None, unless the run needs no more
            than a check already accepted (:func:`accepted`).

    Returns:
        ``cfg``, so calls can be chained.

    Raises:
        MemoryLimitError: Naming ``population.sample_size`` (N), the memory needed,
            the memory available, and a round N that fits (:func:`suggested_sample`).

    """
    need = estimate_memory(cfg)
    extra = (workers - 1) * PROCESS_BYTES
    total = workers * need.total + extra
    already = _ACCEPTED.get()
    if available is None and already is not None and total <= already:
        return cfg
    found = available_memory() if available is None else available
    if found is None:
        return cfg
    free, source = found
    if total <= free:
        return cfg
    pop = cfg.population
    side = f" for {workers} jobs side by side" if workers > 1 else ""
    largest = (free - extra) // workers - need.fixed
    if largest >= need.per_user:
        fit = largest // need.per_user
        advice = (
            f"simulate a sample of the market with population.sample_size={suggested_sample(fit)} or fewer "
            f"(about {fit:,} fit now, less {(1 - SUGGESTION_MARGIN) * 100:.0f} % for what the run's process allocates besides; "
            f"population.market_size stays {pop.market_size:,}; counts are scaled up)"
        )
    elif compiled_chosen(cfg.kernels) and largest + COMPILED_PROCESS_BYTES >= need.per_user:
        advice = (
            f"kernels=numpy (the compiled kernels' numba and LLVM take about {_gb(COMPILED_PROCESS_BYTES)}), "
            "or shorten horizon_days (the cohort matrices grow with its square)"
        )
    else:
        advice = "shorten horizon_days (the cohort matrices grow with its square)"
    raise MemoryLimitError(
        "population.sample_size",
        pop.simulated_users,
        f"at most what fits in memory: the run needs about {_gb(total)}{side} and {_gb(free)} is available "
        f"({source}); {advice}",
    )
