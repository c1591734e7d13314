"""New-user coupon: raises conversion, costs its value on conversion, may attract weaker users.

While the schedule is on, targeted AWARE slots convert with probability
c · ``conversion_multiplier``. Each targeted user acquired while it is on
redeems the coupon: cost ``value``, and the user is flagged. Coupon users are
weaker for good (coupon hunters): at acquisition their churn hazard is
multiplied by ``quality.churn_multiplier`` (typically > 1) and their visit
propensity by ``quality.visit_multiplier`` (typically < 1), capped at 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.base.schema import bounded
from sim.core.flags import FLAG_COUPON
from sim.core.hooks import Chunk
from sim.levers.base import Lever, QualityConfig, Schedule, Target

__all__ = ["Coupon", "CouponConfig"]


def _coupon_quality() -> QualityConfig:
    return QualityConfig(churn_multiplier=1.2, visit_multiplier=0.9)


@dataclass
class CouponConfig:
    """New-user coupon settings."""

    enabled: bool = False
    value: float = bounded(10.0, ge=0)
    conversion_multiplier: float = bounded(1.5, ge=0)
    quality: QualityConfig = field(default_factory=_coupon_quality)
    schedule: Schedule = field(default_factory=Schedule)
    target: Target = field(default_factory=Target)


class Coupon(Lever):
    """A new-user coupon."""

    kind = "new_user_coupon"
    target_stages = ("aware",)

    def __init__(self, name: str, cfg: CouponConfig) -> None:
        super().__init__(name, cfg)
        self.redeemed = 0

    def conversion_effects(self, ch: Chunk, aware: np.ndarray, conversion: Any) -> Any:
        """Boost conversion of targeted aware slots."""
        if not self.on_today or self.cfg.conversion_multiplier == 1.0:
            return conversion
        mask = self.targeted(ch, stage=False, idx=aware)
        if mask is None:
            return conversion * np.float32(self.cfg.conversion_multiplier)
        return conversion * (np.float32(1.0) + mask * np.float32(self.cfg.conversion_multiplier - 1.0))

    def on_acquired(self, ch: Chunk, converted: np.ndarray) -> None:
        """Redeem: flag the users, pay the coupon value, fix their (coupon-hunter) quality."""
        if not self.on_today or not converted.size:
            return
        idx = self.targeted_subset(ch, converted)
        ch.flags[idx] |= FLAG_COUPON
        q = self.cfg.quality
        ch.scale_traits(idx, q.churn_multiplier, q.visit_multiplier)
        self.redeemed += idx.size
        self.cost_today += idx.size * self.cfg.value

    def summary(self) -> dict[str, Any]:
        """Coupons redeemed."""
        return {"coupons_redeemed": self.redeemed}
