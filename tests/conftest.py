"""Shared fixtures: configs built in Python (no Hydra round trip) for speed."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from sim.app.config import Config, load_config
from sim.core.awareness import AwarenessConfig
from sim.core.population import PopulationConfig, SegmentConfig
from sim.core.survival import ChurnConfig
from sim.core.visits import HabitConfig, VisitConfig

PRESETS = ("consumer_app", "ecommerce", "game")


def strict_json(text: str) -> Any:
    """``json.loads`` refusing ``NaN`` and ``±Infinity``, as RFC 8259 and JavaScript's ``JSON.parse`` do."""

    def refuse(constant: str) -> None:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def json_files_below(folder: Path) -> dict[str, Any]:
    """Every ``*.json`` file below ``folder``, read strictly (:func:`strict_json`), by path relative to it."""
    return {
        str(p.relative_to(folder)): strict_json(p.read_text(encoding="utf-8")) for p in sorted(folder.rglob("*.json"))
    }


def cohort_config(
    *,
    market_size: int,
    days: int,
    churn: ChurnConfig,
    visits: VisitConfig | None = None,
    seed: int = 0,
) -> Config:
    """Everyone aware and acquired on day 0 (p = 1, conversion 1): one cohort of M users.

    Habit, resurrection, forgetting and weekly patterns are off, so the cohort
    follows the closed forms of DESIGN §2.
    """
    segment = SegmentConfig(weight=1.0, churn=churn, visits=visits or VisitConfig(alpha=1.0, beta=1.0))
    pop = PopulationConfig(
        name="single_cohort",
        market_size=market_size,
        awareness=AwarenessConfig(p=1.0, q=0.0, forget_rate=0.0),
        conversion_rate=1.0,
        resurrection_rate=0.0,
        habit=HabitConfig(gain=0.2, decay=0.1, strength=0.0),
        segments={"all": segment},
    )
    return load_config(
        Config(seed=seed, horizon_days=days, progress=False, figures=False, agents="lazy", population=pop)
    )


@pytest.fixture
def make_cohort_config():
    return cohort_config


@pytest.fixture(scope="session")
def small_preset():
    """A preset shrunk to a quick size: small_preset('game', seed=3)."""

    def build(name: str, *, market_size: int = 20_000, days: int = 90, seed: int = 0, **top) -> Config:
        cfg = load_config([f"population={name}", f"population.market_size={market_size}", f"horizon_days={days}"])
        return replace(cfg, seed=seed, progress=False, figures=False, **top)

    return build


@pytest.fixture
def two_cohort_triangle():
    """A weekly cohort triangle of two cohorts and weeks 1–3: 10 %, 55 %, – | 2 %, –, – (– no value)."""
    import numpy as np
    import pandas as pd

    values = np.array([[0.10, 0.55, np.nan], [0.02, np.nan, np.nan]])
    triangle = pd.DataFrame({"cohort_week": [0, 1], "cohort_size": [10, 10], "w0": [1.0, 1.0]})
    for k in range(3):
        triangle[f"w{k + 1}"] = values[:, k]
    return triangle
