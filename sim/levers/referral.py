"""Referral programme: active users invite friends; both sides are rewarded.

While the schedule is on, invitations add to the awareness hazard of UNAWARE
slots (in the targeted segments)

    e_t = r · DAU(t−1) / M                      (r = ``invite_rate``)

so referrals come from yesterday's active users, like word of mouth. Invited
users belong to channel ``referral`` and convert with ``conversion_multiplier``
× the organic rate. Every conversion through the channel is a successful
referral and costs ``reward_referrer + reward_referee``. The summary reports the
viral coefficient: referred users acquired per user acquired.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.base.errors import ConfigError
from sim.base.schema import bounded
from sim.core.hooks import Chunk, ModelView
from sim.levers.base import Lever, Schedule, Target

__all__ = ["Referral", "ReferralConfig"]


@dataclass
class ReferralConfig:
    """Referral programme settings."""

    enabled: bool = False
    invite_rate: float = bounded(0.05, ge=0)
    conversion_multiplier: float = bounded(2.0, ge=0)
    reward_referrer: float = bounded(5.0, ge=0)
    reward_referee: float = bounded(5.0, ge=0)
    schedule: Schedule = field(default_factory=Schedule)
    target: Target = field(default_factory=Target)


class Referral(Lever):
    """A referral programme."""

    kind = "referral"
    target_stages = ("unaware",)

    def __init__(self, name: str, cfg: ReferralConfig) -> None:
        super().__init__(name, cfg)
        self.channel = "referral"
        self.hazard_today = 0.0
        self.referrals = 0

    @staticmethod
    def check(key: str, cfg: ReferralConfig) -> None:
        """Invitations act on awareness: segments only."""
        if cfg.target.stages not in ([], ["unaware"]) or cfg.target.channels:
            raise ConfigError(f"{key}.target", "stages/channels", "segments only: invitations act on awareness")

    def bind(self, model: ModelView) -> None:
        """Remember the channel code."""
        super().bind(model)
        self._code = model.channels.index(self.channel)

    def begin_day(self, model: ModelView, weekday: int) -> None:
        """Invitation hazard from yesterday's DAU."""
        super().begin_day(model, weekday)
        self.hazard_today = self.cfg.invite_rate * model.dau / model.market_size if self.on_today else 0.0

    def on_acquired(self, ch: Chunk, converted: np.ndarray) -> None:
        """Pay both sides for every referred user acquired."""
        n = int(np.count_nonzero(ch.channel[converted] == self._code))
        self.referrals += n
        self.cost_today += n * (self.cfg.reward_referrer + self.cfg.reward_referee)

    def channel_effects(self) -> dict[str, tuple[float, float, float]]:
        """Referred users convert better."""
        return {self.channel: (self.cfg.conversion_multiplier, 1.0, 1.0)}

    def summary(self) -> dict[str, Any]:
        """Successful referrals."""
        return {"referrals": self.referrals}
