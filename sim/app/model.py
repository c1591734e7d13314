"""``sim.UserLifecycleModel``: the Mesa model built from a config in one call.

The core model (:class:`sim.core.model.LifecycleModel`) receives its parts; this
class composes and validates the config, builds the strategy's levers
(:func:`sim.levers.strategy.build_levers`) and hands both to it. It is built the
way Mesa users build models — keyword parameters, ``rng=`` or ``seed=`` — so
``mesa.batch_run`` and Mesa's visualisation can build it too::

    model = UserLifecycleModel(population="game", strategy="paid_growth", horizon_days=90, rng=42)
    model.run_model()                                  # steps until model.running is False (the horizon)
    model.datacollector.get_model_vars_dataframe()     # stages, new users, DAU/WAU/MAU, revenue, cost

    mesa.batch_run(
        UserLifecycleModel,
        parameters={"population": "game", "population.market_size": 5000, "horizon_days": 60,
                    "strategy": ["baseline", "paid_growth"], "rng": range(3)},
        max_steps=60,
    )
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sim.app.config import Config, bool_argument, load_config
from sim.app.memory import check_memory
from sim.app.threads import check_parallel, resolve_threads
from sim.core.agent import UserAgent
from sim.core.model import LifecycleModel, VisitObserver
from sim.levers.strategy import build_levers

__all__ = ["UserLifecycleModel", "seed_from"]


def seed_from(seed: Any = None, rng: Any = None) -> int | None:
    """The root seed given as Mesa's ``seed=`` or ``rng=`` (None if neither).

    Raises:
        ValueError: If both are given (as in Mesa), or the value is not a whole number >= 0:
            every process draws from its own stream of ``SeedSequence(seed)``, so opsim
            takes a seed, not a generator.

    """
    if seed is not None and rng is not None:
        raise ValueError("you have to pass either rng or seed, not both")
    given, name = (seed, "seed") if seed is not None else (rng, "rng")
    if given is None:
        return None
    if isinstance(given, bool) or not isinstance(given, numbers.Integral) or given < 0:
        raise ValueError(
            f"{name}={given!r} is not allowed: a whole number >= 0 (opsim derives one random stream per "
            "process from this seed; a numpy Generator cannot be split that way)"
        )
    return int(given)


class UserLifecycleModel(LifecycleModel):
    """Agent-based user lifecycle model of one product's market, from a config.

    Args:
        config: Anything :func:`sim.app.config.load_config` accepts (a
            :class:`~sim.app.config.Config`, a mapping, a list of overrides, None).
        reference: Step agent by agent (each user's own ``step()``) instead of
            the vectorized core (organic model, small markets).
        agent_reporters: Agent reporters for ``model.datacollector`` (see
            :mod:`sim.core.reporters`), e.g. ``{"stage": "stage", "habit": "habit"}``.
        seed: The root seed (Mesa's keyword; overrides the config's ``seed``).
        rng: The same as ``seed`` (Mesa's newer keyword); give one of the two.
        **params: Config values over ``config``: ``population="game"`` and
            ``strategy="paid_growth"`` pick presets, ``horizon_days=90`` sets a key, and
            nested keys are written ``population__market_size=5000`` or, in a dict
            (``mesa.batch_run`` parameters), ``"population.market_size": 5000``.
        keep_events: Keep every visit in memory for :meth:`events` (default: the
            config's ``record_events``).
        visit_observer: Given each day's visitors (:class:`sim.core.model.VisitObserver`).

    Attributes:
        config: The validated config.

    Raises:
        ConfigError: On an unknown key, a wrong type or an out-of-range value, or a
            ``reference`` or ``keep_events`` other than True, False, 1 or 0.
        ValueError: If both ``seed`` and ``rng`` are given.

    """

    def __init__(
        self,
        config: Config | Mapping[str, Any] | Iterable[str] | None = None,
        *,
        reference: bool = False,
        agent_reporters: Mapping[str, str | Callable[[UserAgent], Any]] | None = None,
        seed: int | None = None,
        rng: int | None = None,
        keep_events: bool | None = None,
        visit_observer: VisitObserver | None = None,
        **params: Any,
    ) -> None:
        reference = bool_argument("reference", reference)
        if keep_events is not None:
            keep_events = bool_argument("keep_events", keep_events)
        root_seed = seed_from(seed, rng)
        if root_seed is not None:
            params["seed"] = root_seed
        cfg = check_memory(check_parallel(load_config(config, params)))
        self.config = cfg
        super().__init__(
            cfg.population,
            horizon_days=cfg.horizon_days,
            seed=cfg.seed,
            levers=build_levers(cfg.strategy),
            record_events=cfg.record_events if keep_events is None else keep_events,
            agents=cfg.agents,
            reference=reference,
            agent_reporters=agent_reporters,
            visit_observer=visit_observer,
            threads=resolve_threads(cfg.threads, users=cfg.population.simulated_users, parallel=cfg.parallel),
            parallel=cfg.parallel,
            kernels=cfg.kernels,
        )
