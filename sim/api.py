"""The Python entry point: run one simulation and get a :class:`~sim.results.Result`."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from sim.config import Config, load_config
from sim.model import UserLifecycleModel
from sim.results import Result, summarize

__all__ = ["simulate"]

#: The progress bar appears only once a run has taken this many seconds.
PROGRESS_DELAY_S = 2.0


def simulate(
    config: Config | Mapping[str, Any] | Iterable[str] | None = None,
    *,
    progress: bool | None = None,
    reference: bool = False,
) -> Result:
    """Simulate ``horizon_days`` days of one market.

    Args:
        config: A :class:`~sim.config.Config`, a mapping, a list of Hydra
            overrides (``["population=game", "seed=1"]``) or None for defaults.
        progress: Show a progress bar (after 2 s); defaults to ``config.progress``.
        reference: Use the agent-by-agent reference stepping (small markets).

    Returns:
        The run's :class:`~sim.results.Result`.

    Example:
        >>> from sim import simulate
        >>> result = simulate(["population.market_size=20000", "horizon_days=60", "progress=false"])
        >>> 0 < result.summary["retention"]["d1"] < 1
        True

    """
    cfg = load_config(config)
    started = time.perf_counter()
    model = UserLifecycleModel(cfg, reference=reference)
    show = cfg.progress if progress is None else progress
    with tqdm(
        total=cfg.horizon_days,
        unit="day",
        desc="simulating",
        disable=not show,
        delay=PROGRESS_DELAY_S,
        mininterval=0.5,
        leave=False,
    ) as bar:
        for _ in range(cfg.horizon_days):
            model.step()
            bar.update(1)
    daily = pd.DataFrame(model.log.columns)
    elapsed = time.perf_counter() - started
    meta = {
        "wall_seconds": elapsed,
        "agent_days_per_second": cfg.population.market_size * cfg.horizon_days / elapsed,
        "stepping": "reference" if reference else "vectorized",
        "channels": list(model.channels),
        "segments": list(model.segments.names),
    }
    return Result(
        config=cfg,
        daily=daily,
        cohort_active=model.cohort_active,
        summary=summarize(daily, model.cohort_active, cfg.population.market_size),
        meta=meta,
    )
