"""New-user coupon: its value raises conversion and redemption; coupon users may be weaker.

While the schedule is on, targeted AWARE slots see the offer. With coupon value V
(``value``) and s(V) = V / (V + K) (K = ``half_value``, the value at half effect):

    conversion  γ · m(V),  m(V) = 1 + (m_max − 1) · s(V)      (m_max = ``conversion_multiplier``)
    redemption  P(redeem | acquired while on) = ρ_max · s(V)   (ρ_max = ``redemption_rate``)

so a larger coupon converts more people, and more of the people who convert use
it, with diminishing returns; the cost V is paid per redemption (per real user),
which grows linearly. Redemption is decided on the lever's own uniform u
(redeem if u < ρ_max · s(V)), so a slightly larger coupon changes the decisions of
few users (smooth marginal ROI). Users who redeem are flagged, and are weaker for
good (coupon hunters): at acquisition their churn hazard is multiplied by
``quality.churn_multiplier`` (typically > 1) and their visit propensity by
``quality.visit_multiplier`` (typically < 1), capped at 1.

Evidence behind the shape (K and ρ_max are assumptions to replace with your own
A/B results): redemption rises with a coupon's face value (Reibstein & Traver
1982, *Journal of Marketing* 46(4)); deal-prone customers acquired with discounts
are worth less afterwards (Lewis 2006, *Journal of Marketing Research* 43(2)).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.base.schema import MAX_MONEY, MAX_MULTIPLIER, bounded
from sim.core.flags import FLAG_COUPON
from sim.core.hooks import Chunk
from sim.levers.base import Lever, QualityConfig, Schedule, SpendWindow, Target, saturation

__all__ = ["Coupon", "CouponConfig"]


def _coupon_quality() -> QualityConfig:
    return QualityConfig(churn_multiplier=1.2, visit_multiplier=0.9)


@dataclass
class CouponConfig:
    """New-user coupon settings (``strategy.new_user_coupon``)."""

    enabled: bool = False
    value: float = bounded(10.0, ge=0, le=MAX_MONEY)
    half_value: float = bounded(10.0, gt=0, le=MAX_MONEY)
    conversion_multiplier: float = bounded(2.0, ge=1, le=MAX_MULTIPLIER)
    redemption_rate: float = bounded(0.8, ge=0, le=1)
    quality: QualityConfig = field(default_factory=_coupon_quality)
    schedule: Schedule = field(default_factory=Schedule)
    target: Target = field(default_factory=Target)

    @property
    def lift(self) -> float:
        """m(V): conversion of targeted aware users relative to organic."""
        return 1.0 + (self.conversion_multiplier - 1.0) * saturation(self.value, self.half_value)

    @property
    def redemption(self) -> float:
        """ρ_max · s(V): share of the users acquired while on who redeem."""
        return self.redemption_rate * saturation(self.value, self.half_value)


class Coupon(Lever):
    """A new-user coupon."""

    kind = "new_user_coupon"
    budget_key = "value"
    target_stages = ("aware",)

    def __init__(self, name: str, cfg: CouponConfig, window: SpendWindow | None = None) -> None:
        super().__init__(name, cfg, window)
        self.redeemed = 0

    def conversion_effects(self, ch: Chunk, aware: np.ndarray, conversion: Any) -> Any:
        """Boost conversion of targeted aware slots."""
        lift = self.cfg.lift
        if not self.on_today or lift == 1.0:
            return conversion
        mask = self.targeted(ch, stage=False, idx=aware)
        if mask is None:
            return conversion * np.float32(lift)
        return conversion * (np.float32(1.0) + mask * np.float32(lift - 1.0))

    def on_acquired(self, ch: Chunk, converted: np.ndarray) -> None:
        """Redeem: flag the users, pay the coupon value, fix their (coupon-hunter) quality."""
        if not self.on_today or not converted.size:
            return
        idx = self.targeted_subset(ch, converted)
        idx = idx[ch.uniforms(self.stream)[idx] < np.float32(self.cfg.redemption)]
        ch.flags[idx] |= FLAG_COUPON
        q = self.cfg.quality
        ch.scale_traits(idx, q.churn_multiplier, q.visit_multiplier)
        self.count(ch, "redeemed", idx.size)
        self.charge(ch, idx, self.cfg.value)

    def summary(self) -> dict[str, Any]:
        """Coupons redeemed (real users), and the lift and redemption the value buys."""
        return {
            "coupons_redeemed": self.real(self.redeemed),
            "conversion_multiplier": self.cfg.lift,
            "redemption_rate": self.cfg.redemption,
        }
