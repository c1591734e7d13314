"""Operations levers: each module models one action a growth/operations team can take.

=====================  ============================================================
module                 lever
=====================  ============================================================
``paid_ads``           paid ads per channel: adstock, Hill saturation, channel quality
``viral_event``        viral topic/event: one-off cost, decaying awareness spike
``referral``           referral programme: invitations from active users, two-sided reward
``coupon``             new-user coupon: conversion boost, cost on conversion, user quality
``onboarding``         onboarding: cost per new user, lower early churn
``content``            content/community: daily cost, lower churn, more visits
``push``               push notifications: visit lift, fatigue, opt-out, churn
``incentives``         incentives/points: lift while on, dip after it stops
``winback``            win-back of silent users: contact, return, resurrection
=====================  ============================================================

``base`` holds the schedule, target and default hooks every lever shares (the hook
contract itself is :mod:`sim.core.hooks`); ``strategy`` the strategy schema and the
registry that turns a strategy config into lever objects for the model.

A new lever: a module here with its config dataclass and a :class:`~sim.levers.base.Lever`
subclass overriding the hooks of the processes it acts on, then one line in
``strategy.SINGLE_LEVERS`` (or ``MULTI_LEVERS``) and a field of ``StrategyConfig``.
"""

from sim.levers.base import Lever, QualityConfig, Schedule, Target
from sim.levers.content import Content, ContentConfig
from sim.levers.coupon import Coupon, CouponConfig
from sim.levers.incentives import Incentives, IncentivesConfig
from sim.levers.onboarding import Onboarding, OnboardingConfig
from sim.levers.paid_ads import PaidAds, PaidAdsConfig
from sim.levers.push import Push, PushConfig
from sim.levers.referral import Referral, ReferralConfig
from sim.levers.strategy import StrategyConfig, build_levers
from sim.levers.viral_event import ViralEvent, ViralEventConfig
from sim.levers.winback import Winback, WinbackConfig

__all__ = [
    "Content",
    "ContentConfig",
    "Coupon",
    "CouponConfig",
    "Incentives",
    "IncentivesConfig",
    "Lever",
    "Onboarding",
    "OnboardingConfig",
    "PaidAds",
    "PaidAdsConfig",
    "Push",
    "PushConfig",
    "QualityConfig",
    "Referral",
    "ReferralConfig",
    "Schedule",
    "StrategyConfig",
    "Target",
    "ViralEvent",
    "ViralEventConfig",
    "Winback",
    "WinbackConfig",
    "build_levers",
]
