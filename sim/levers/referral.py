"""Referral programme: active users invite friends; both sides are rewarded, and rewards move behaviour.

While the schedule is on, invitations add to the awareness hazard of UNAWARE
slots (in the targeted segments)

    e_t = r(R_s) · DAU(t−1) / M,    r(R_s) = r_0 + (r_max − r_0) · R_s / (R_s + K_s)

so referrals come from yesterday's active users, like word of mouth, and the
referrer's reward R_s (``reward_referrer``) raises the invitation rate with
diminishing returns from r_0 (``base_invite_rate``: sharing without a reward)
towards r_max (``invite_rate``); K_s (``referrer_half_reward``) is the reward at
half of that gain. Invited users belong to channel ``referral`` and convert with

    m(R_r) = 1 + (m_max − 1) · R_r / (R_r + K_r)

times the organic rate: the referee's reward R_r (``reward_referee``) raises
acceptance towards m_max (``conversion_multiplier``), K_r = ``referee_half_reward``.
The referee is paid only while the programme is on, so m(R_r) applies on those
days only: an invited friend still AWARE after the programme (or its spend window)
ends, or on a weekday it is off, converts at the organic rate (m = 1).
Both responses are concave in the reward, so paying more buys fewer extra
referrals per unit of money (the reward paid to every referral grows linearly):
the most profitable reward is interior.

Every conversion through the channel while the programme is on (schedule and
spend window) is a successful referral and costs ``reward_referrer +
reward_referee`` per real user; friends invited earlier who install after it ended
are not rewarded. The summary reports the
referrals and the viral coefficient (referred users acquired per user acquired).

Evidence behind the shape (the half-reward defaults are assumptions to replace
with your own A/B results): rewards raise referral likelihood (Ryu & Feick 2007,
*Journal of Marketing* 71(1)); rewards for the recipient raise uptake, often more
than rewards for the sender (Gershon, Cryder & John 2020, *Journal of Marketing
Research*); larger rewards weaken the reluctance to refer for rewards (Dose,
Walsh, Beatty & Elsner 2019, *Journal of the Academy of Marketing Science*).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.base.errors import ConfigError
from sim.base.schema import MAX_MONEY, MAX_MULTIPLIER, bounded
from sim.core.hooks import Chunk, ModelView
from sim.levers.base import Lever, Schedule, SpendWindow, Target, saturation

__all__ = ["Referral", "ReferralConfig"]


@dataclass
class ReferralConfig:
    """Referral programme settings (``strategy.referral``)."""

    enabled: bool = False
    invite_rate: float = bounded(0.1, ge=0, le=MAX_MULTIPLIER)
    base_invite_rate: float = bounded(0.02, ge=0, le=MAX_MULTIPLIER)
    referrer_half_reward: float = bounded(1.0, gt=0, le=MAX_MONEY)
    conversion_multiplier: float = bounded(2.5, ge=1, le=MAX_MULTIPLIER)
    referee_half_reward: float = bounded(1.0, gt=0, le=MAX_MONEY)
    reward_referrer: float = bounded(1.0, ge=0, le=MAX_MONEY)
    reward_referee: float = bounded(1.0, ge=0, le=MAX_MONEY)
    schedule: Schedule = field(default_factory=Schedule)
    target: Target = field(default_factory=Target)

    @property
    def effective_invite_rate(self) -> float:
        """r(R_s): invitations per active user and day at the configured referrer reward."""
        gain = saturation(self.reward_referrer, self.referrer_half_reward)
        return self.base_invite_rate + (self.invite_rate - self.base_invite_rate) * gain

    @property
    def effective_conversion_multiplier(self) -> float:
        """m(R_r): conversion of invited users relative to organic, at the configured referee reward."""
        return 1.0 + (self.conversion_multiplier - 1.0) * saturation(self.reward_referee, self.referee_half_reward)


class Referral(Lever):
    """A referral programme."""

    kind = "referral"
    budget_key = "reward_referrer"
    target_stages = ("unaware",)

    def __init__(self, name: str, cfg: ReferralConfig, window: SpendWindow | None = None) -> None:
        super().__init__(name, cfg, window)
        self.channel = "referral"
        self.hazard_today = 0.0
        self.referrals = 0

    @staticmethod
    def check(key: str, cfg: ReferralConfig) -> None:
        """Invitations act on awareness (segments only); the unrewarded rate is at most the rewarded one."""
        if cfg.target.stages not in ([], ["unaware"]) or cfg.target.channels:
            raise ConfigError(f"{key}.target", "stages/channels", "segments only: invitations act on awareness")
        if cfg.base_invite_rate > cfg.invite_rate:
            raise ConfigError(
                f"{key}.base_invite_rate", cfg.base_invite_rate, f"at most {key}.invite_rate={cfg.invite_rate}"
            )

    def bind(self, model: ModelView) -> None:
        """Remember the channel code."""
        super().bind(model)
        self._code = list(model.channels).index(self.channel)

    def begin_day(self, model: ModelView, weekday: int) -> None:
        """Invitation hazard from yesterday's share of the market active."""
        super().begin_day(model, weekday)
        self.hazard_today = self.cfg.effective_invite_rate * model.active_share if self.on_today else 0.0

    def on_acquired(self, ch: Chunk, converted: np.ndarray) -> None:
        """Pay both sides for every referred user acquired while the programme runs."""
        if not self.on_today:
            return
        referred = converted[ch.channel[converted] == self._code]
        self.count(ch, "referrals", referred.size)
        self.charge(ch, referred, self.cfg.reward_referrer + self.cfg.reward_referee)

    def channel_effects(self) -> dict[str, tuple[float, float, float]]:
        """Referred users convert better, the more so the larger the referee's reward, on the days it is paid.

        The multiplier m(R_r) holds only while the programme is on (schedule and spend
        window), exactly the days on which a referred conversion is charged: a friend who
        converts on a day off gets no reward, so converts at the organic rate (m = 1).
        """
        if not self.on_today:
            return {}
        return {self.channel: (self.cfg.effective_conversion_multiplier, 1.0, 1.0)}

    def summary(self) -> dict[str, Any]:
        """Successful referrals (real users), and the rates the rewards buy."""
        return {
            "referrals": self.real(self.referrals),
            "invite_rate": self.cfg.effective_invite_rate,
            "conversion_multiplier": self.cfg.effective_conversion_multiplier,
        }
