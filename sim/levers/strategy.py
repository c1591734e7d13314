"""Strategies: a named bundle of levers, as the ``strategy`` config group describes it.

Single levers (referral, coupon, onboarding, content, push, incentives,
win-back) are always present in the schema and switched on with
``enabled: true``, so any of their parameters can be overridden or swept from
the command line. Levers with several instances are maps: ``paid_ads`` by
channel name and ``viral_events`` by event name. See :mod:`sim.levers` for the
equations of each.

``spend_window`` (``start_day``, ``end_day``, inclusive) bounds every lever's
schedule: "spend for a quarter, measure for a year" is ``spend_window.end_day=89``
with ``horizon_days=365``, whatever each lever's own schedule says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sim.base.errors import ConfigError
from sim.levers.base import Lever, SpendWindow, knob_ceiling
from sim.levers.content import Content, ContentConfig
from sim.levers.coupon import Coupon, CouponConfig
from sim.levers.incentives import Incentives, IncentivesConfig
from sim.levers.onboarding import Onboarding, OnboardingConfig
from sim.levers.paid_ads import PaidAds, PaidAdsConfig
from sim.levers.push import Push, PushConfig
from sim.levers.referral import Referral, ReferralConfig
from sim.levers.viral_event import ViralEvent, ViralEventConfig
from sim.levers.winback import Winback, WinbackConfig

__all__ = ["SINGLE_LEVERS", "StrategyConfig", "build_levers", "check_strategy", "knob_ceiling", "lever_configs"]

RESERVED_CHANNELS = ("organic", "word_of_mouth", "referral")

#: Field of StrategyConfig → lever class, for the single levers.
SINGLE_LEVERS: dict[str, type[Lever]] = {
    "referral": Referral,
    "new_user_coupon": Coupon,
    "onboarding": Onboarding,
    "content": Content,
    "push": Push,
    "incentives": Incentives,
    "winback": Winback,
}
MULTI_LEVERS: dict[str, type[Lever]] = {"paid_ads": PaidAds, "viral_events": ViralEvent}


@dataclass
class StrategyConfig:
    """What the operations team does, lever by lever (all off: the organic baseline)."""

    name: str = "baseline"
    description: str = ""
    spend_window: SpendWindow = field(default_factory=SpendWindow)
    paid_ads: dict[str, PaidAdsConfig] = field(default_factory=dict)
    viral_events: dict[str, ViralEventConfig] = field(default_factory=dict)
    referral: ReferralConfig = field(default_factory=ReferralConfig)
    new_user_coupon: CouponConfig = field(default_factory=CouponConfig)
    onboarding: OnboardingConfig = field(default_factory=OnboardingConfig)
    content: ContentConfig = field(default_factory=ContentConfig)
    push: PushConfig = field(default_factory=PushConfig)
    incentives: IncentivesConfig = field(default_factory=IncentivesConfig)
    winback: WinbackConfig = field(default_factory=WinbackConfig)


def lever_configs(strategy: StrategyConfig) -> list[tuple[str, str, type[Lever], Any]]:
    """Active levers as (config key, instance name, class, config), in a fixed order."""
    out = []
    for group, cls in MULTI_LEVERS.items():
        for name, cfg in getattr(strategy, group).items():
            out.append((f"strategy.{group}.{name}", name, cls, cfg))
    for key, cls in SINGLE_LEVERS.items():
        cfg = getattr(strategy, key)
        if cfg.enabled:
            out.append((f"strategy.{key}", cls.kind, cls, cfg))
    return out


def check_strategy(strategy: StrategyConfig, segments: list[str]) -> None:
    """Cross-field checks of every lever config (ranges are checked by the schema walk).

    Raises:
        ConfigError: Naming the offending key.

    """
    strategy.spend_window.check("strategy.spend_window")
    for group in MULTI_LEVERS:
        for name in getattr(strategy, group):
            if name in RESERVED_CHANNELS:
                raise ConfigError(f"strategy.{group}.{name}", name, f"a channel name other than {RESERVED_CHANNELS}")
    names = [n for g in MULTI_LEVERS for n in getattr(strategy, g)]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ConfigError("strategy.paid_ads/viral_events", sorted(dup), "distinct channel names across both maps")
    known = ["organic", "word_of_mouth", "referral", *names]
    for key, _name, cls, cfg in lever_configs(strategy):
        for i, c in enumerate(cfg.target.channels):
            if c not in known:
                raise ConfigError(f"{key}.target.channels[{i}]", c, f"an acquisition channel: {', '.join(known)}")
        if hasattr(cfg, "schedule"):
            cfg.schedule.check(f"{key}.schedule")
        cfg.target.check(f"{key}.target", segments=segments, allowed_stages=cls.target_stages)
        check = getattr(cls, "check", None)
        if check is not None:
            check(key, cfg)


def build_levers(strategy: StrategyConfig) -> list[Lever]:
    """Instantiate the active levers of a strategy, each bounded by the strategy's spend window."""
    return [cls(name, cfg, strategy.spend_window) for _key, name, cls, cfg in lever_configs(strategy)]
