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

``base`` holds the schedule, target and hook protocol every lever follows.
"""

from sim.levers.base import Chunk, Effects, Events, Lever, Schedule, Target
from sim.levers.content import Content, ContentConfig
from sim.levers.coupon import Coupon, CouponConfig
from sim.levers.incentives import Incentives, IncentivesConfig
from sim.levers.onboarding import Onboarding, OnboardingConfig
from sim.levers.paid_ads import PaidAds, PaidAdsConfig
from sim.levers.push import Push, PushConfig
from sim.levers.referral import Referral, ReferralConfig
from sim.levers.viral_event import ViralEvent, ViralEventConfig
from sim.levers.winback import Winback, WinbackConfig

__all__ = [
    "Chunk",
    "Content",
    "ContentConfig",
    "Coupon",
    "CouponConfig",
    "Effects",
    "Events",
    "Incentives",
    "IncentivesConfig",
    "Lever",
    "Onboarding",
    "OnboardingConfig",
    "PaidAds",
    "PaidAdsConfig",
    "Push",
    "PushConfig",
    "Referral",
    "ReferralConfig",
    "Schedule",
    "Target",
    "ViralEvent",
    "ViralEventConfig",
    "Winback",
    "WinbackConfig",
]
