"""``sim.UserLifecycleModel``: the Mesa model built from a Hydra config in one call.

The core model (:class:`sim.core.model.LifecycleModel`) receives its parts; this
class composes and validates the config, builds the strategy's levers
(:func:`sim.levers.strategy.build_levers`) and hands both to it::

    model = UserLifecycleModel(["population=game", "strategy=paid_growth", "horizon_days=90"])
    for _ in range(90):
        model.step()
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sim.app.config import Config, load_config
from sim.app.memory import check_memory
from sim.core.model import LifecycleModel, VisitObserver
from sim.levers.strategy import build_levers

__all__ = ["UserLifecycleModel"]


class UserLifecycleModel(LifecycleModel):
    """Agent-based user lifecycle model of one product's market, from a config.

    Args:
        config: Anything :func:`sim.app.config.load_config` accepts (a
            :class:`~sim.app.config.Config`, a mapping, a list of overrides, None).
        reference: Step agent by agent (each user's own ``step()``) instead of
            the vectorized core (organic model, small markets).
        keep_events: Keep every visit in memory for :meth:`events` (default: the
            config's ``record_events``).
        visit_observer: Given each day's visitors (:class:`sim.core.model.VisitObserver`).

    Attributes:
        config: The validated config.

    """

    def __init__(
        self,
        config: Config | Mapping[str, Any] | Iterable[str] | None = None,
        *,
        reference: bool = False,
        keep_events: bool | None = None,
        visit_observer: VisitObserver | None = None,
    ):
        cfg = check_memory(load_config(config))
        self.config = cfg
        super().__init__(
            cfg.population,
            horizon_days=cfg.horizon_days,
            seed=cfg.seed,
            levers=build_levers(cfg.strategy),
            record_events=cfg.record_events if keep_events is None else keep_events,
            agents=cfg.agents,
            reference=reference,
            visit_observer=visit_observer,
        )
