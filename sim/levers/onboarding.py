"""Onboarding: a cost per new user that lowers the churn hazard of their first days.

Each targeted user acquired while the schedule is on is onboarded (cost
``cost_per_user``). For tenure τ < ``days`` an onboarded user's death
probability is multiplied by ``hazard_multiplier`` (< 1 lowers early churn).
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.base.schema import MAX_MONEY, MAX_MULTIPLIER, bounded
from sim.core.flags import FLAG_ONBOARDED
from sim.core.hooks import Chunk, Effects
from sim.levers.base import Lever, Schedule, SpendWindow, Target

__all__ = ["MAX_ONBOARDING_DAYS", "Onboarding", "OnboardingConfig"]

#: Longest onboarding, in days: the longest horizon (``horizon_days`` <= 3650), beyond which
#: a longer one changes nothing. A count of 2^63 or more days stopped the run with a
#: traceback (the per-chunk history is a deque of that many days, its length a C ssize_t).
MAX_ONBOARDING_DAYS = 3650


@dataclass
class OnboardingConfig:
    """Onboarding settings."""

    enabled: bool = False
    cost_per_user: float = bounded(1.0, ge=0, le=MAX_MONEY)
    hazard_multiplier: float = bounded(0.7, ge=0, le=MAX_MULTIPLIER)
    days: int = bounded(14, ge=1, le=MAX_ONBOARDING_DAYS)
    schedule: Schedule = field(default_factory=Schedule)
    target: Target = field(default_factory=Target)


class Onboarding(Lever):
    """An onboarding programme."""

    kind = "onboarding"
    target_stages = ("aware",)
    chunk_state = ("_recent",)

    def __init__(self, name: str, cfg: OnboardingConfig, window: SpendWindow | None = None) -> None:
        super().__init__(name, cfg, window)
        self.onboarded = 0
        # Per chunk: local indices onboarded on each of the last ``days`` days, so the
        # early-hazard effect touches only those users instead of scanning the chunk.
        self._recent: dict[int, deque[np.ndarray]] = defaultdict(lambda: deque(maxlen=cfg.days))

    def on_acquired(self, ch: Chunk, converted: np.ndarray) -> None:
        """Onboard today's targeted new users."""
        idx = converted[:0]
        if self.on_today and converted.size:
            idx = self.targeted_subset(ch, converted)
        self._recent[ch.index].append(idx)
        if not idx.size:
            return
        ch.flags[idx] |= FLAG_ONBOARDED
        self.count(ch, "onboarded", idx.size)
        self.charge(ch, idx, self.cfg.cost_per_user)

    def hazard_effects(self, ch: Chunk, fx: Effects) -> None:
        """Lower hazard during the first ``days`` days of onboarded users."""
        recent = self._recent[ch.index]  # this chunk's own: chunks may run in threads side by side
        if self.cfg.hazard_multiplier == 1.0 or not recent:
            return
        early = np.concatenate(recent)  # onboarded in the last ``days`` days: tenure < days
        fx.scale_at("hazard", early, self.cfg.hazard_multiplier, ch.n)

    def summary(self) -> dict[str, Any]:
        """Users onboarded (real users)."""
        return {"users_onboarded": self.real(self.onboarded)}
