"""Evaluating candidate plans: lean simulations on paired seeds, locally or on Ray.

A candidate is the base run config with the decision variables set
(:func:`apply_values`); it is simulated on the plan's K seeds, each paired with the
baseline on the same seed (common random numbers; the baseline runs once per seed and
is reused). A simulation here steps the core model only — no Hydra composition, no
event recording, no analytics, no figures — and keeps the few totals the objectives need
(:class:`Outcome`). Tasks go to an :class:`Evaluator`: in this process, in a pool of
local processes (joblib/loky, all cores by default), or on a Ray cluster. Which one
runs a task never changes its result: every task carries its seed.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np

from sim.analysis.economics import payback_day
from sim.analysis.retention import cohort_retention
from sim.app.config import Config, validate
from sim.app.plan_config import RAY_ADDRESS_FORMS, PlanConfig, ray_host_port
from sim.app.threads import resolve_threads
from sim.base.errors import ConfigError
from sim.core.model import LifecycleModel
from sim.levers.strategy import SINGLE_LEVERS, StrategyConfig, build_levers

__all__ = [
    "Evaluator",
    "LocalEvaluator",
    "Outcome",
    "RayEvaluator",
    "apply_values",
    "baseline_config",
    "check_ray_answers",
    "make_evaluator",
    "run_task",
    "seed_metrics",
]

#: Retention day of the ``d30`` metric.
D30 = 30


@dataclass(frozen=True)
class Outcome:
    """What one simulated run leaves for the planner (real-market totals).

    Attributes:
        seed: The run's seed.
        revenue: Revenue over the horizon.
        acquired: Users acquired over the horizon.
        cost: Lever cost over the horizon.
        cost_by_lever: Cost per lever label.
        spend_by_period: Cost per period of the plan (``plan.period_days`` from the spend window's start).
        d30: Pooled classic D30 retention.
        step_seconds: Wall time of stepping the model (for the overhead benchmark).
        daily_revenue: Revenue per day (for the payback day).
        daily_cost: Lever cost per day.

    """

    seed: int
    revenue: float
    acquired: float
    cost: float
    cost_by_lever: dict[str, float]
    spend_by_period: tuple[float, ...]
    d30: float
    step_seconds: float
    daily_revenue: np.ndarray
    daily_cost: np.ndarray


def _set_key(node: Any, parts: Sequence[str], value: Any) -> Any:
    """A copy of a dataclass tree with the dotted key ``parts`` set to ``value``."""
    head = parts[0]
    if len(parts) == 1:
        return replace(node, **{head: value}) if dataclasses.is_dataclass(node) else {**node, head: value}
    child = node[head] if isinstance(node, dict) else getattr(node, head)
    new_child = _set_key(child, parts[1:], value)
    return {**node, head: new_child} if isinstance(node, dict) else replace(node, **{head: new_child})


def apply_values(run: Config, plan: PlanConfig, values: Mapping[str, Any]) -> Config:
    """The base run config with every decision variable set (validated).

    ``values`` maps variable name → value, or → list of per-period values for a
    ``per_period`` variable. A single lever named by a variable is switched on.
    """
    cfg = run
    for name, var in plan.variables.items():
        parts = var.key.split(".")
        value = values[name]
        if var.per_period:
            cfg = _set_key(cfg, [*parts[:-1], "period_budgets"], [float(v) for v in value])
            cfg = _set_key(cfg, [*parts[:-1], "period_days"], plan.period_days)
        else:
            field_type = _field_type(cfg, parts)
            cfg = _set_key(cfg, parts, round(value) if field_type in ("int", int) else float(value))
        if parts[1] in SINGLE_LEVERS:
            cfg = _set_key(cfg, ["strategy", parts[1], "enabled"], True)
    return validate(cfg)


def _field_type(cfg: Any, parts: Sequence[str]) -> Any:
    node = cfg
    for part in parts[:-1]:
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    return {f.name: f.type for f in dataclasses.fields(node)}[parts[-1]]


def run_task(task: tuple[Config, int, int]) -> Outcome:
    """Simulate one config on one seed: ``(config, seed, period_days)`` → :class:`Outcome`."""
    cfg, seed, period_days = task
    model = LifecycleModel(
        cfg.population,
        horizon_days=cfg.horizon_days,
        seed=seed,
        levers=build_levers(cfg.strategy),
        record_events=False,
        agents="lazy",
        threads=resolve_threads(cfg.threads, users=cfg.population.simulated_users, parallel=cfg.parallel),
        parallel=cfg.parallel,
        kernels=cfg.kernels,
    )
    started = time.perf_counter()
    for _ in range(cfg.horizon_days):
        model.step()
    seconds = time.perf_counter() - started
    cols = model.log.columns
    cost_cols = {k.removeprefix("cost_"): v for k, v in cols.items() if k.startswith("cost_") and k != "cost_total"}
    daily_cost = cols.get("cost_total", np.zeros(cfg.horizon_days))
    start = cfg.strategy.spend_window.start_day
    periods = np.add.reduceat(daily_cost[start:], np.arange(0, max(cfg.horizon_days - start, 1), period_days))
    return Outcome(
        seed=seed,
        revenue=float(cols["revenue"].sum()),
        acquired=float(cols["new_users"].sum()),
        cost=float(daily_cost.sum()),
        cost_by_lever={k: float(v.sum()) for k, v in cost_cols.items()},
        spend_by_period=tuple(float(x) for x in periods),
        d30=cohort_retention(model.cohort_active, D30),
        step_seconds=seconds,
        daily_revenue=np.asarray(cols["revenue"], dtype=np.float64).copy(),
        daily_cost=np.asarray(daily_cost, dtype=np.float64).copy(),
    )


def seed_metrics(outcome: Outcome, baseline: Outcome, margin: float) -> dict[str, float]:
    """The plan metrics of one seed against the baseline on the same seed.

    ``incremental_profit`` = m·(R − R_b) − C; ``incremental_roi`` = that / C (NaN without
    cost); ``incremental_users`` = A − A_b; ``incremental_gross_profit`` = m·(R − R_b);
    ``cost`` = C; ``d30`` of the candidate; ``payback_day`` as in
    :func:`sim.analysis.economics.payback_day` (NaN if it does not pay back).
    """
    gross = margin * (outcome.revenue - baseline.revenue)
    profit = gross - outcome.cost
    day = payback_day(margin * (outcome.daily_revenue - baseline.daily_revenue), outcome.daily_cost)
    return {
        "payback_day": float("nan") if day is None else float(day),
        "incremental_profit": profit,
        "incremental_roi": profit / outcome.cost if outcome.cost > 0 else float("nan"),
        "incremental_users": outcome.acquired - baseline.acquired,
        "incremental_gross_profit": gross,
        "cost": outcome.cost,
        "d30": outcome.d30,
    }


class Evaluator(Protocol):
    """Runs simulation tasks and returns their outcomes in task order."""

    workers: int

    def map(self, tasks: Sequence[tuple[Config, int, int]]) -> list[Outcome]:
        """Outcomes of ``tasks``, in order."""
        ...

    def close(self) -> None:
        """Release workers."""
        ...


def _with_threads(cfg: Config, side_by_side: int) -> Config:
    """``cfg`` with ``threads: 0`` (automatic) resolved for runs side by side (0: one thread each)."""
    if cfg.threads > 0:
        return cfg
    users = cfg.population.simulated_users
    threads = resolve_threads(0, side_by_side=side_by_side, users=users, parallel=cfg.parallel) if side_by_side else 1
    return dataclasses.replace(cfg, threads=threads)


class LocalEvaluator:
    """Tasks in this process (``workers=1``) or in a pool of local processes (joblib's loky backend).

    joblib keeps the pool alive between calls (loky's reusable executor), so the workers
    import opsim once, not once per batch.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def map(self, tasks: Sequence[tuple[Config, int, int]]) -> list[Outcome]:  # noqa: D102
        if self.workers <= 1 or len(tasks) <= 1:
            return [run_task(t) for t in tasks]
        from joblib import Parallel, delayed

        side_by_side = min(self.workers, len(tasks))
        tasks = [(_with_threads(c, side_by_side), seed, days) for c, seed, days in tasks]
        return list(Parallel(n_jobs=self.workers, backend="loky")(delayed(run_task)(t) for t in tasks))

    def close(self) -> None:  # noqa: D102
        pass


#: Seconds a Ray head's port has to accept a connection before the plan is refused.
RAY_CONNECT_TIMEOUT_S = 5.0
#: Seconds a Ray head has to answer, once connected, as a gRPC (HTTP/2) server does, before the plan is refused.
RAY_ANSWER_TIMEOUT_S = 5.0
#: What an HTTP/2 client sends first: the connection preface and an empty SETTINGS frame (RFC 9113, 3.4).
HTTP2_CLIENT_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
#: An HTTP/2 frame header's length (3 bytes of length, type, flags, 4 of stream id), and a SETTINGS frame's type.
HTTP2_FRAME_HEADER_BYTES, HTTP2_SETTINGS = 9, 4


class RayEvaluator:
    """Tasks as Ray remote calls on an existing cluster (``plan.ray_address``; ``local`` starts one here)."""

    def __init__(self, address: str) -> None:
        import ray

        check_ray_answers(address)
        ray.init(address=None if address == "local" else address, ignore_reinit_error=True, log_to_driver=False)
        self._ray = ray
        self._remote = ray.remote(run_task)
        self.workers = int(ray.cluster_resources().get("CPU", 1))

    def map(self, tasks: Sequence[tuple[Config, int, int]]) -> list[Outcome]:  # noqa: D102
        tasks = [(_with_threads(c, 0), seed, days) for c, seed, days in tasks]  # a Ray task holds one CPU
        return list(self._ray.get([self._remote.remote(t) for t in tasks]))

    def close(self) -> None:  # noqa: D102
        self._ray.shutdown()


#: The environment variable ``ray.init`` reads for ``auto`` (and ``ray start`` sets for its shell).
RAY_ADDRESS_ENV = "RAY_ADDRESS"


def check_ray_answers(address: str) -> None:
    """Refuse a cluster address that does not answer as a Ray head, each wait bounded.

    ``ray.init`` retries an address that does not answer for minutes, deaf to SIGTERM, and
    hangs on a port that accepts but is no Ray head (another server). A Ray head (its GCS,
    or the Ray Client server of ``ray://``) is a gRPC server: it accepts within
    :data:`RAY_CONNECT_TIMEOUT_S` and answers an HTTP/2 client's preface with a SETTINGS
    frame within :data:`RAY_ANSWER_TIMEOUT_S`. ``auto`` is the cluster running on this
    machine, found as Ray finds it (``RAY_ADDRESS``, then Ray's own record of its latest
    cluster), and then asked the same; ``local`` starts one here.

    Raises:
        ConfigError: Naming ``plan.ray_address`` and why it cannot be used.

    """
    if address == "local":  # starts a cluster here: no host to ask
        return
    given, where = address, None
    if address == "auto":
        address = _running_cluster()
        env = os.environ.get(RAY_ADDRESS_ENV, "")
        where = f"{RAY_ADDRESS_ENV}={env}" if env == address else None
    head = ray_host_port(address)
    if head is None:  # "local" (from RAY_ADDRESS); any other form is refused with the config
        return
    where = where or address.removeprefix("ray://")
    try:
        with socket.create_connection(head, timeout=RAY_CONNECT_TIMEOUT_S) as conn:
            conn.settimeout(RAY_ANSWER_TIMEOUT_S)
            conn.sendall(HTTP2_CLIENT_PREFACE)
            answer = _read_up_to(conn, HTTP2_FRAME_HEADER_BYTES)
    except TimeoutError:
        why = f"it accepted the connection but did not answer as a Ray head within {RAY_ANSWER_TIMEOUT_S:g} s"
    except OSError as exc:
        why = exc.strerror or str(exc) or type(exc).__name__
    else:
        if len(answer) == HTTP2_FRAME_HEADER_BYTES and answer[3] == HTTP2_SETTINGS:
            return
        why = "it answered, but not as a Ray head (a gRPC server) does"
    raise ConfigError("plan.ray_address", given, f"a Ray cluster that answers ({where}: {why}); {RAY_ADDRESS_FORMS}")


def _read_up_to(conn: socket.socket, size: int) -> bytes:
    """Up to ``size`` bytes from ``conn``: fewer if it closes first (each read within the socket's timeout)."""
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _running_cluster() -> str:
    """The address ``plan.ray_address=auto`` names, as ``ray.init`` reads it: ``RAY_ADDRESS`` as the user set it, else the cluster running here.

    ``RAY_ADDRESS`` is taken as it is (Ray would rewrite a local host to this machine's
    address, and cannot read ``ray://``, which ``ray.init`` itself accepts there).

    Raises:
        ConfigError: When ``RAY_ADDRESS`` is no address Ray reads, or when no cluster is
            running here (``ray.init`` raised ``ConnectionError`` as the plan began).

    """
    from ray._private.services import canonicalize_bootstrap_address  # how ray.init reads "auto"

    env = os.environ.get(RAY_ADDRESS_ENV, "")
    if env and env != "auto":  # ray.init uses it in place of "auto"
        if env != "local" and ray_host_port(env) is None:
            raise ConfigError(
                "plan.ray_address",
                "auto",
                f"a Ray address in the environment's {RAY_ADDRESS_ENV}, which auto reads: {RAY_ADDRESS_ENV}={env!r} "
                "is none (HOST:PORT, ray://HOST:PORT or local); set it right, unset it, or give plan.ray_address",
            )
        return env
    try:
        found = canonicalize_bootstrap_address("auto")
    except (ConnectionError, ValueError):  # none running; an address Ray recorded that it cannot read
        found = None
    if found is None:
        raise ConfigError(
            "plan.ray_address",
            "auto",
            "a Ray cluster running on this machine (none is: start one with 'ray start --head', "
            "give its HOST:PORT, or 'local' to start one for the plan)",
        )
    return found


def make_evaluator(plan: PlanConfig) -> Evaluator:
    """Ray when ``plan.ray_address`` is set, else local processes (``plan.workers``; 0 = every core)."""
    if plan.ray_address:
        return RayEvaluator(plan.ray_address)
    return LocalEvaluator(plan.workers or os.cpu_count() or 1)


def baseline_config(run: Config) -> Config:
    """The organic run of the same market: no levers."""
    return replace(run, strategy=StrategyConfig())
