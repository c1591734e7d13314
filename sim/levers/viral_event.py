"""Viral topic or event: a one-off cost and an awareness spike that decays.

From day d0 = ``day`` the event adds to the awareness hazard of UNAWARE slots in
the targeted segments

    e_t = h0 · 2^(−(t − d0) / T½)     for t ≥ d0 (0 before)

with h0 = ``peak_hazard`` and T½ = ``half_life_days``. Users made aware by it
belong to a channel named after the event. Cost: ``cost`` on day d0. An event
whose day is outside the strategy's spend window does not happen.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.base.errors import ConfigError
from sim.base.schema import MAX_MONEY, bounded
from sim.core.hooks import ModelView
from sim.levers.base import Lever, SpendWindow, Target

__all__ = ["ViralEvent", "ViralEventConfig"]


@dataclass
class ViralEventConfig:
    """One viral topic/event (the key under ``strategy.viral_events`` names its channel)."""

    day: int = bounded(0, ge=0)
    cost: float = bounded(10_000.0, ge=0, le=MAX_MONEY)
    peak_hazard: float = bounded(0.01, ge=0, le=1)
    half_life_days: float = bounded(3.0, gt=0)
    target: Target = field(default_factory=Target)


class ViralEvent(Lever):
    """A viral event."""

    kind = "viral_event"
    target_stages = ("unaware",)

    def __init__(self, name: str, cfg: ViralEventConfig, window: SpendWindow | None = None) -> None:
        super().__init__(name, cfg, window)
        self.channel = name
        self.hazard_today = 0.0

    @staticmethod
    def check(key: str, cfg: ViralEventConfig) -> None:
        """An event reaches people who do not know the product yet."""
        if cfg.target.stages not in ([], ["unaware"]) or cfg.target.channels:
            raise ConfigError(f"{key}.target", "stages/channels", "segments only: an event acts on awareness")

    def begin_day(self, model: ModelView, weekday: int) -> None:
        """Today's spike and, on the event day, its cost (no event if its day is outside the spend window)."""
        happens = self.window.contains(self.cfg.day)
        self.cost_today = self.cfg.cost if happens and model.day == self.cfg.day else 0.0
        age = model.day - self.cfg.day
        self.on_today = happens and age >= 0
        self.hazard_today = self.cfg.peak_hazard * 2.0 ** (-age / self.cfg.half_life_days) if self.on_today else 0.0
