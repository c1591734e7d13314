"""Content / community: a fixed daily cost that lowers churn and raises visits.

While the schedule is on, targeted acquired users have their death probability
multiplied by ``hazard_multiplier`` and their visit probability by
``visit_multiplier``. Cost: ``daily_cost`` per day on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.base.schema import MAX_MONEY, MAX_MULTIPLIER, bounded
from sim.core.hooks import Chunk, Effects, ModelView
from sim.levers.base import Lever, Schedule, Target

__all__ = ["Content", "ContentConfig"]


@dataclass
class ContentConfig:
    """Content/community settings."""

    enabled: bool = False
    daily_cost: float = bounded(500.0, ge=0, le=MAX_MONEY)
    hazard_multiplier: float = bounded(0.9, ge=0, le=MAX_MULTIPLIER)
    visit_multiplier: float = bounded(1.1, ge=0, le=MAX_MULTIPLIER)
    schedule: Schedule = field(default_factory=Schedule)
    target: Target = field(default_factory=Target)


class Content(Lever):
    """A content/community programme."""

    kind = "content"

    def begin_day(self, model: ModelView, weekday: int) -> None:
        """Fixed daily cost while on."""
        super().begin_day(model, weekday)
        self.cost_today = self.cfg.daily_cost if self.on_today else 0.0

    def visit_effects(self, ch: Chunk, fx: Effects) -> None:
        """More visits for targeted users."""
        if self.on_today and self.cfg.visit_multiplier != 1.0:
            fx.scale("visit", self.cfg.visit_multiplier, self.targeted(ch))

    def hazard_effects(self, ch: Chunk, fx: Effects) -> None:
        """Lower churn for targeted users."""
        if self.on_today and self.cfg.hazard_multiplier != 1.0:
            fx.scale("hazard", self.cfg.hazard_multiplier, self.targeted(ch))
