"""Push notifications: a lift on visits that wears off into fatigue and churn.

While the schedule is on, each targeted user acquired before today who has not
opted out (users acquired today are still AWARE when messages go out; see
``docs/model.md`` §9) receives a message on a day with probability f / 7 (f = ``messages_per_week``),
decided on the lever's own uniform u. A user's fatigue F follows

    F ← F · (1 − δ) + 1[message today]                  (δ = ``fatigue_decay``)

every day, and

    visit multiplier  = 1 + ℓ           on a day with a message (ℓ = ``visit_lift``)
    hazard multiplier = 1 + κ_F · F²    always (κ_F = ``fatigue_churn``)
    P(opt out | message) = min(1, ν · F)  (ν = ``opt_out_per_fatigue``; no more messages)

F is set to 0 where it falls below 2^−63, whose square is float32's smallest normal
number: that moves no outcome (:mod:`sim.core.flush_to_zero`).

Fatigue harms convexly: an occasional message is nearly free, a daily one is
not (steady state F = (f/7)/δ). So frequency buys visits now and churn later,
and there is an interior best frequency. Cost: ``cost_per_message`` per message sent (latent-dead users who
still look subscribed are messaged and paid for too). Opting out reuses the
message uniform: opt out if u < (f/7) · ν · F, which has probability ν·F given a
message and keeps decisions stable when f changes a little (smooth marginal ROI).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.base.schema import MAX_MONEY, MAX_MULTIPLIER, bounded
from sim.core.flags import FLAG_PUSH_OPT_OUT
from sim.core.flush_to_zero import SQUARE_FLOOR, flush_below, may_fall_below
from sim.core.hooks import Chunk, Effects, ModelView
from sim.core.lifecycle import Stage
from sim.levers.base import Lever, Schedule, SpendWindow, Target

__all__ = ["Push", "PushConfig"]


@dataclass
class PushConfig:
    """Push notification settings."""

    enabled: bool = False
    messages_per_week: float = bounded(3.0, ge=0, le=7)
    cost_per_message: float = bounded(0.002, ge=0, le=MAX_MONEY)
    visit_lift: float = bounded(0.5, ge=0, le=MAX_MULTIPLIER)
    fatigue_decay: float = bounded(0.1, gt=0, le=1)
    fatigue_churn: float = bounded(0.02, ge=0, le=MAX_MULTIPLIER)
    opt_out_per_fatigue: float = bounded(0.01, ge=0, le=1)
    schedule: Schedule = field(default_factory=Schedule)
    target: Target = field(default_factory=Target)


class Push(Lever):
    """A push notification programme."""

    kind = "push"
    budget_key = "messages_per_week"

    def __init__(self, name: str, cfg: PushConfig, window: SpendWindow | None = None) -> None:
        super().__init__(name, cfg, window)
        self.messages = 0
        self.opt_outs = 0
        self._used = False

    def bind(self, model: ModelView) -> None:
        """Allocate fatigue (float32 per slot)."""
        super().bind(model)
        self.fatigue = np.zeros(model.sample_size, dtype=np.float32)

    def begin_day(self, model: ModelView, weekday: int) -> None:
        """The schedule; once messages have been sent, fatigue keeps decaying (and raising churn) every day."""
        super().begin_day(model, weekday)
        if self.on_today and self.cfg.messages_per_week > 0:
            self._used = True

    def visit_effects(self, ch: Chunk, fx: Effects) -> None:
        """Send today's messages, update fatigue, lift visits of recipients."""
        fatigue = self.fatigue[ch.lo : ch.hi]
        rate = self.cfg.messages_per_week / 7.0
        if self.on_today and rate > 0:
            eligible = (ch.stage >= Stage.NEW) & ((ch.flags & FLAG_PUSH_OPT_OUT) == 0)
            mask = self.targeted(ch)
            if mask is not None:
                eligible &= mask
            u = ch.uniforms(self.stream)
            received = eligible & (u < np.float32(rate))
            fatigue *= np.float32(1.0 - self.cfg.fatigue_decay)
            fatigue += received
            idx = ch.nonzero(received)
            self.count(ch, "messages", idx.size)
            self.charge(ch, idx, self.cfg.cost_per_message)
            if self.cfg.opt_out_per_fatigue > 0 and idx.size:
                out = idx[u[idx] < np.float32(rate * self.cfg.opt_out_per_fatigue) * fatigue[idx]]
                ch.flags[out] |= FLAG_PUSH_OPT_OUT
                self.count(ch, "opt_outs", out.size)
            if self.cfg.visit_lift:
                fx.scale_at("visit", idx, 1.0 + self.cfg.visit_lift, ch.n)
        elif self._used:
            fatigue *= np.float32(1.0 - self.cfg.fatigue_decay)
        else:
            return
        if may_fall_below(1.0, self.cfg.fatigue_decay, ch.day, SQUARE_FLOOR):  # a message makes F >= 1
            flush_below(fatigue, SQUARE_FLOOR)

    def hazard_effects(self, ch: Chunk, fx: Effects) -> None:
        """Fatigue raises the churn hazard."""
        if self._used and self.cfg.fatigue_churn > 0:
            f = self.fatigue[ch.lo : ch.hi]
            fx.scale("hazard", np.float32(1.0) + np.float32(self.cfg.fatigue_churn) * (f * f))

    def summary(self) -> dict[str, Any]:
        """Messages sent and opt-outs (real users)."""
        return {"messages_sent": self.real(self.messages), "opt_outs": self.real(self.opt_outs)}
