"""Win-back of silent users: contact DORMANT/CHURNED users by days since their last visit.

While the schedule is on, a targeted acquired user with silence σ (days since
the last visit) in [``silent_days``, ``max_silent_days``], not contacted in the
last ``recontact_days`` and not visiting today anyway, is contacted with
probability ``reach`` (share of eligible users contacted per day; the budget
knob): contacted if u < reach, on the lever's uniform u. A contacted user

* if latent-alive, comes back (visits today) if u < reach · ``response_alive``;
* if latent-dead, is resurrected (alive again) and visits if u < reach · ``resurrect_dead``,

i.e. with probability ``response_alive`` / ``resurrect_dead`` given the contact;
comparing u itself (not u / reach) keeps decisions stable when reach changes a
little, so marginal ROI is smooth under common random numbers. A returning user
buys with the segment's purchase probability, decided on the slot's (otherwise
unused) awareness uniform. Cost: ``cost_per_contact`` per contact plus
``cost_per_redemption`` per user who comes back.

The target's stages (default DORMANT and CHURNED) are read as relabelled at the end
of the day before (``docs/model.md`` §9), while σ is today's: a user whose silence
reaches ``lifecycle.dormant_after_days`` = k today is still labelled by σ = k − 1, so
with the default target the first contact is at σ = max(``silent_days``, k + 1)
(``silent_days`` = k contacts nobody at σ = k and reaches users from the next day).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.base.errors import ConfigError
from sim.base.schema import MAX_MONEY, bounded
from sim.core.hooks import Chunk, Events, ModelView
from sim.core.population import NEVER
from sim.levers.base import ACQUIRED_STAGES, Lever, Schedule, SpendWindow, Target

__all__ = ["Winback", "WinbackConfig"]


def _silent_stages() -> Target:
    return Target(stages=["dormant", "churned"])


@dataclass
class WinbackConfig:
    """Win-back settings."""

    enabled: bool = False
    silent_days: int = bounded(14, ge=1)
    max_silent_days: int = bounded(180, ge=1, le=3650)  # <= the longest horizon: never-visited slots never qualify
    recontact_days: int = bounded(30, ge=1)
    reach: float = bounded(1.0, ge=0, le=1)
    cost_per_contact: float = bounded(0.05, ge=0, le=MAX_MONEY)
    cost_per_redemption: float = bounded(2.0, ge=0, le=MAX_MONEY)
    response_alive: float = bounded(0.15, ge=0, le=1)
    resurrect_dead: float = bounded(0.01, ge=0, le=1)
    schedule: Schedule = field(default_factory=Schedule)
    target: Target = field(default_factory=_silent_stages)


class Winback(Lever):
    """A win-back campaign."""

    kind = "winback"
    budget_key = "reach"
    target_stages = ACQUIRED_STAGES

    def __init__(self, name: str, cfg: WinbackConfig, window: SpendWindow | None = None) -> None:
        super().__init__(name, cfg, window)
        self.contacts = 0
        self.returned = 0
        self.resurrected = 0

    @staticmethod
    def check(key: str, cfg: WinbackConfig) -> None:
        """The silence window must not be empty."""
        if cfg.max_silent_days < cfg.silent_days:
            raise ConfigError(f"{key}.max_silent_days", cfg.max_silent_days, f"a day count >= {key}.silent_days")

    def bind(self, model: ModelView) -> None:
        """Allocate the last-contact day (int16 per slot)."""
        super().bind(model)
        self.last_contact = np.full(model.sample_size, NEVER, dtype=np.int16)

    def extra_visits(self, ch: Chunk, ev: Events) -> None:
        """Contact eligible users; the ones who respond visit today."""
        if not self.on_today or self.cfg.reach <= 0:
            return
        cfg, day = self.cfg, np.int16(ch.day)
        u = ch.uniforms(self.stream)
        # Cheap full-chunk filters first (silence window, reach), the rest on the candidates.
        silence = day - ch.last_visit_day
        candidates = ch.nonzero(
            (silence >= cfg.silent_days) & (silence <= cfg.max_silent_days) & (u < np.float32(cfg.reach))
        )
        last = self.last_contact[ch.lo : ch.hi]
        keep = ((day - last[candidates]) >= cfg.recontact_days) & ~ev.visited[candidates]
        mask = self.targeted(ch)
        if mask is not None:
            keep &= mask[candidates]
        contacted = candidates[keep]
        if not contacted.size:
            return
        last[contacted] = day
        alive = ch.alive[contacted]
        reach = np.float32(cfg.reach)
        threshold = np.where(alive, reach * np.float32(cfg.response_alive), reach * np.float32(cfg.resurrect_dead))
        respond = u[contacted] < threshold
        back = contacted[respond]
        revived = back[~alive[respond]]
        ch.alive[revived] = True
        ev.visited[back] = True
        ev.extra_visitors.append(back)
        self.count(ch, "contacts", contacted.size)
        self.count(ch, "returned", back.size)
        self.count(ch, "resurrected", revived.size)
        self.charge(ch, contacted, cfg.cost_per_contact)
        self.charge(ch, back, cfg.cost_per_redemption)

    def summary(self) -> dict[str, Any]:
        """Contacts, returns and resurrections (real users)."""
        return {
            "contacts": self.real(self.contacts),
            "returned": self.real(self.returned),
            "resurrected": self.real(self.resurrected),
        }
