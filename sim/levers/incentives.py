"""Incentive / points system: visits lift while it runs, dip below baseline after it stops.

While the schedule is on, targeted acquired users' visit probability is
multiplied by 1 + ℓ (ℓ = ``visit_lift``); each of their visits earns a reward
(cost ``cost_per_reward``) and raises their dependence on rewards

    D ← D + g · (1 − D)                 (g = ``dependence_gain``).

While it is off, D decays, D ← D · (1 − d) (d = ``dependence_decay``), and the
visit probability is multiplied by max(0, 1 − ρ · D) (ρ = ``post_stop_drop``):
engagement falls below the no-incentive baseline for a while after the
programme stops, then recovers. D is set to 0 where it falls below 2^−126
(:mod:`sim.core.flush_to_zero`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.base.schema import MAX_MONEY, MAX_MULTIPLIER, bounded
from sim.core.flush_to_zero import FLOAT32_TINY, flush_below, may_fall_below
from sim.core.hooks import Chunk, Effects, Events, ModelView
from sim.levers.base import Lever, Schedule, SpendWindow, Target

__all__ = ["Incentives", "IncentivesConfig"]


@dataclass
class IncentivesConfig:
    """Incentive/points settings."""

    enabled: bool = False
    cost_per_reward: float = bounded(0.2, ge=0, le=MAX_MONEY)
    visit_lift: float = bounded(0.3, ge=0, le=MAX_MULTIPLIER)
    dependence_gain: float = bounded(0.05, ge=0, le=1)
    dependence_decay: float = bounded(0.05, ge=0, le=1)
    post_stop_drop: float = bounded(0.6, ge=0, le=MAX_MULTIPLIER)
    schedule: Schedule = field(default_factory=Schedule)
    target: Target = field(default_factory=Target)


class Incentives(Lever):
    """An incentive/points programme."""

    kind = "incentives"

    def __init__(self, name: str, cfg: IncentivesConfig, window: SpendWindow | None = None) -> None:
        super().__init__(name, cfg, window)
        self.rewards = 0
        self._used = False

    def bind(self, model: ModelView) -> None:
        """Allocate dependence (float32 per slot)."""
        super().bind(model)
        self.dependence = np.zeros(model.sample_size, dtype=np.float32)

    def begin_day(self, model: ModelView, weekday: int) -> None:
        """The schedule; once the programme has run, the post-stop dip applies on every day it is off."""
        super().begin_day(model, weekday)
        if self.on_today:
            self._used = True

    def visit_effects(self, ch: Chunk, fx: Effects) -> None:
        """Lift while on; the post-stop dip while off."""
        dep = self.dependence[ch.lo : ch.hi]
        if self.on_today:
            # Only acquired users visit, so an untargeted lift can stay a scalar.
            fx.scale("visit", 1.0 + self.cfg.visit_lift, self.targeted(ch))
        elif self._used:
            fx.scale("visit", np.maximum(np.float32(1.0) - np.float32(self.cfg.post_stop_drop) * dep, np.float32(0)))
            dep *= np.float32(1.0 - self.cfg.dependence_decay)
            if may_fall_below(self.cfg.dependence_gain, self.cfg.dependence_decay, ch.day, FLOAT32_TINY):
                flush_below(dep, FLOAT32_TINY)  # a reward makes D >= g

    def on_visits(self, ch: Chunk, ev: Events) -> None:
        """Reward today's visits of targeted users and build dependence."""
        if not self.on_today:
            return
        # the target again, not the lift's mask: users acquired today are NEW by now
        rewarded = self.targeted_subset(ch, ev.visit_idx, stage=True)
        self.count(ch, "rewards", rewarded.size)
        self.charge(ch, rewarded, self.cfg.cost_per_reward)
        dep = self.dependence[ch.lo : ch.hi]
        dep[rewarded] += np.float32(self.cfg.dependence_gain) * (np.float32(1.0) - dep[rewarded])

    def summary(self) -> dict[str, Any]:
        """Rewards paid (real users' visits)."""
        return {"rewards_paid": self.real(self.rewards)}
