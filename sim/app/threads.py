"""How many threads step a run's chunks: the ``threads`` setting resolved against the machine.

``threads: 0`` (the default) means one thread per core this process may use
(``os.sched_getaffinity``, else ``os.cpu_count()``), divided among the runs that
share the machine — a sweep's parallel jobs (``hydra.launcher.n_jobs``) or the
planner's workers (the calibrator's simulations step on one) — and at most
:data:`AUTO_THREADS_MAX`; the model cuts a day into at least that many chunks where it
has the draw chunks (:func:`sim.core.model.blocks_of`); a run of
fewer than :data:`AUTO_PROCESSES_MIN_USERS` simulated users (chunks in worker processes,
``parallel: auto`` on Linux) or :data:`AUTO_THREADS_MIN_USERS` (chunks in threads) gets
one. Any other value is taken as it is. The number of threads never changes a result
(:meth:`sim.core.model.LifecycleModel._step_vectorized`), so it is left out of
the config hash that resume checks.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from sim.base.errors import ConfigError
from sim.core.chunk_processes import fork_available

if TYPE_CHECKING:
    from sim.app.config import Config

__all__ = [
    "AUTO_PROCESSES_MIN_USERS",
    "AUTO_THREADS_MAX",
    "AUTO_THREADS_MIN_USERS",
    "available_cores",
    "check_parallel",
    "resolve_threads",
    "steps_in_processes",
]

#: Most threads ``threads: 0`` picks (not measured beyond this 2-core machine: a bound that
#: keeps a 1,000,000-user day in chunks of two draw chunks, 131,072 users, each).
AUTO_THREADS_MAX = 8
#: Fewest simulated users for which ``threads: 0`` uses more than one thread. Below it a
#: day's chunks are too small for a second thread to pay (``benchmarks/bench_parallel.py``,
#: 2 threads against 1, 180 days, organic, this 2-core machine: 0.74x at 100,000 users,
#: 0.88x at 250,000 and 1.11x at 500,000; ``bench_core.py``: 1.25-1.35x at 1,000,000).
AUTO_THREADS_MIN_USERS = 500_000
#: The same for chunks stepped in worker processes, which pay from smaller runs on
#: (``benchmarks/bench_parallel.py``, 2 processes against 1, 180 days, organic, this
#: machine: 1.12x at 100,000 users, 1.49x at 250,000 and 1.66x at 500,000).
AUTO_PROCESSES_MIN_USERS = 100_000


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the system has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def steps_in_processes(parallel: str) -> bool:
    """Whether ``parallel`` steps a run's chunks in worker processes (``auto``: where they can be forked)."""
    return parallel == "processes" or (parallel == "auto" and fork_available())


def resolve_threads(setting: int, *, side_by_side: int = 1, users: int | None = None, parallel: str = "auto") -> int:
    """Threads for one run.

    Args:
        setting: The config's ``threads`` (0: automatic).
        side_by_side: Runs sharing the machine at the same time (parallel sweep jobs or workers).
        users: Simulated users of the run, where known: fewer than
            :data:`AUTO_PROCESSES_MIN_USERS` (processes) or :data:`AUTO_THREADS_MIN_USERS`
            (threads) make ``threads: 0`` one.
        parallel: The config's ``parallel``: whether chunks step in processes (``auto``
            where they can be forked) or in threads.

    Returns:
        ``setting`` if it is positive, else the available cores divided among the
        runs side by side, between 1 and :data:`AUTO_THREADS_MAX` (1 for a small run).

    """
    if setting > 0:
        return setting
    in_processes = steps_in_processes(parallel)
    if users is not None and users < (AUTO_PROCESSES_MIN_USERS if in_processes else AUTO_THREADS_MIN_USERS):
        return 1
    return max(1, min(AUTO_THREADS_MAX, available_cores() // max(1, side_by_side)))


def check_parallel(cfg: Config) -> Config:
    """Refuse ``parallel: processes`` where worker processes cannot be forked (before anything runs).

    Returns:
        The same config, so calls can be chained.

    Raises:
        ConfigError: ``parallel=processes`` on a system without ``fork`` (not Linux).

    """
    if cfg.parallel == "processes" and not fork_available():
        raise ConfigError(
            "parallel", cfg.parallel, "auto or threads on this system: worker processes need fork (Linux)"
        )
    return cfg
