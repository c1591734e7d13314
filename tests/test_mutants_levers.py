"""Tests that kill surviving mutants of ``sim/levers`` (docs/mutation.md).

Each test pins one piece of bookkeeping the rest of the suite left open: a boundary
on its accepted side, a counter that must accumulate across days and chunks, a flag
bit that must not clobber the others, a multiplier away from the values the other
tests use. Hand-built chunks and stubbed uniforms (``tests/test_lever_units.py``),
so every expected value is exact.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.base.errors import ConfigError
from sim.core.flags import FLAG_COUPON, FLAG_EVER_AWARE, FLAG_ONBOARDED, FLAG_PUSH_OPT_OUT
from sim.levers.base import ACQUIRED_STAGES, Schedule, SpendWindow, Target, saturation
from sim.levers.content import Content, ContentConfig
from sim.levers.coupon import Coupon, CouponConfig
from sim.levers.incentives import Incentives, IncentivesConfig
from sim.levers.onboarding import Onboarding, OnboardingConfig
from sim.levers.paid_ads import PaidAds, PaidAdsConfig, delayed_weights
from sim.levers.push import Push, PushConfig
from sim.levers.referral import Referral, ReferralConfig
from sim.levers.strategy import SINGLE_LEVERS, StrategyConfig, check_strategy
from sim.levers.viral_event import ViralEvent, ViralEventConfig
from sim.levers.winback import Winback, WinbackConfig
from tests.test_lever_units import (
    FAR,
    PUSH_CFG,
    SEARCH,
    TARGET_CHANNELS,
    TARGET_SEGMENTS,
    TARGET_STAGES,
    A,
    D,
    FakeModel,
    R,
    bound,
    chunk,
    incentives,
    per_slot,
    population,
    run_day,
)

# ------------------------------------------------------------ names, streams
SINGLE = [
    (Referral, ReferralConfig),
    (Coupon, CouponConfig),
    (Onboarding, OnboardingConfig),
    (Content, ContentConfig),
    (Push, PushConfig),
    (Incentives, IncentivesConfig),
    (Winback, WinbackConfig),
]


def test_every_single_lever_is_named_here():
    assert {cls for cls, _ in SINGLE} == set(SINGLE_LEVERS.values())


@pytest.mark.parametrize(("cls", "config"), SINGLE)
def test_single_levers_keep_their_name_label_and_stream(cls, config):
    lever = cls(cls.kind, config())
    assert lever.name == cls.kind and lever.label == cls.kind
    assert lever.stream == f"lever:{cls.kind}:{cls.kind}"  # the random stream: part of the common random numbers


# ------------------------------------------------------ targeting, charging
def channel_model() -> FakeModel:
    return FakeModel(population(TARGET_STAGES, segment=TARGET_SEGMENTS, channel=TARGET_CHANNELS))


def test_channel_target_mask_has_one_entry_per_slot_or_per_index():
    model = channel_model()  # search: slots 1, 3, 6
    lever = bound(Content("content", ContentConfig(target=Target(channels=["search"]))), model)
    ch = chunk(model)
    whole = lever.targeted(ch, stage=False)
    assert whole.shape == (8,) and np.flatnonzero(whole).tolist() == [1, 3, 6]
    assert lever.targeted(ch, stage=False, idx=np.array([0, 3, 4, 6])).tolist() == [False, True, False, True]


def test_channel_target_follows_channels_added_during_the_run():
    model = channel_model()
    lever = bound(Content("content", ContentConfig(target=Target(channels=["search"]))), model)
    assert np.flatnonzero(lever.targeted(chunk(model), stage=False)).tolist() == [1, 3, 6]
    model.channels.append("tv")  # e.g. a channel the user adds through model.modifiers.awareness
    model.population.channel[[0, 3]] = len(model.channels) - 1
    assert np.flatnonzero(lever.targeted(chunk(model), stage=False)).tolist() == [1, 6]
    assert model.population.channel[1] == SEARCH


def test_charges_are_booked_by_the_global_slot_of_a_chunk_starting_at_slot_3():
    model = FakeModel(population([R] * 30))
    lever = bound(Content("content", ContentConfig()), model)
    ch = chunk(model, index=1, lo=3, hi=30)
    lever.charge(ch, np.array([0, 19]), 1.0)  # slots 3 and 22 (groups 3, 2)
    ch.settle()
    want = np.zeros(20)
    want[[2, 3]] = 1.0
    assert lever.group_charged.tolist() == want.tolist()


# --------------------------------------------------------------- saturation
@pytest.mark.parametrize(
    ("value", "half", "want"), [(0.0, 2.0, 0.0), (0.5, 1.0, 1 / 3), (1.0, 1.0, 0.5), (0.25, 0.25, 0.5)]
)
def test_saturation_at_and_below_one(value, half, want):
    """s(x) = x / (x + K), also for rewards and values of at most 1 currency unit."""
    assert saturation(value, half) == pytest.approx(want, rel=1e-15)


# ----------------------------------------------------------- config checks
@pytest.mark.parametrize(
    ("cls", "key", "cfg"),
    [
        (PaidAds, "strategy.paid_ads.search", PaidAdsConfig(target=Target(stages=["unaware"]))),
        (Referral, "strategy.referral", ReferralConfig(target=Target(stages=["unaware"]))),
        (Referral, "strategy.referral", ReferralConfig(invite_rate=0.1, base_invite_rate=0.1)),
        (ViralEvent, "strategy.viral_events.launch", ViralEventConfig(target=Target(stages=["unaware"]))),
        (Winback, "strategy.winback", WinbackConfig(silent_days=14, max_silent_days=14)),  # a one-day window
    ],
)
def test_lever_checks_accept_the_edge_of_what_is_allowed(cls, key, cfg):
    cls.check(key, cfg)


@pytest.mark.parametrize(
    ("cls", "key", "cfg", "message"),
    [
        (
            PaidAds,
            "strategy.paid_ads.search",
            PaidAdsConfig(target=Target(stages=["new"])),
            "strategy.paid_ads.search.target.stages=['new'] is not allowed: [] or [unaware]: ads act on awareness",
        ),
        (
            PaidAds,
            "strategy.paid_ads.search",
            PaidAdsConfig(target=Target(channels=["organic"])),
            "strategy.paid_ads.search.target.channels=['organic'] is not allowed: []: an ad channel is the channel",
        ),
        (
            Referral,
            "strategy.referral",
            ReferralConfig(target=Target(stages=["new"])),
            "strategy.referral.target='stages/channels' is not allowed: segments only: invitations act on awareness",
        ),
        (
            Referral,
            "strategy.referral",
            ReferralConfig(target=Target(channels=["organic"])),
            "strategy.referral.target='stages/channels' is not allowed: segments only: invitations act on awareness",
        ),
        (
            Referral,
            "strategy.referral",
            ReferralConfig(invite_rate=0.1, base_invite_rate=0.25),
            "strategy.referral.base_invite_rate=0.25 is not allowed: at most strategy.referral.invite_rate=0.1",
        ),
        (
            ViralEvent,
            "strategy.viral_events.launch",
            ViralEventConfig(target=Target(stages=["new"])),
            "strategy.viral_events.launch.target='stages/channels' is not allowed: segments only: an event acts on awareness",
        ),
        (
            ViralEvent,
            "strategy.viral_events.launch",
            ViralEventConfig(target=Target(channels=["organic"])),
            "strategy.viral_events.launch.target='stages/channels' is not allowed: segments only: an event acts on awareness",
        ),
        (
            Winback,
            "strategy.winback",
            WinbackConfig(silent_days=14, max_silent_days=13),
            "strategy.winback.max_silent_days=13 is not allowed: a day count >= strategy.winback.silent_days",
        ),
    ],
)
def test_lever_checks_name_the_key_the_value_and_what_is_allowed(cls, key, cfg, message):
    with pytest.raises(ConfigError) as err:
        cls.check(key, cfg)
    assert str(err.value) == message


def error(call) -> str:
    with pytest.raises(ConfigError) as err:
        call()
    return str(err.value)


def test_schedule_window_and_target_checks_accept_their_edges():
    Schedule(start_day=5, end_day=5, days_of_week=[0, 6]).check("k")  # a one-day schedule
    SpendWindow(start_day=3, end_day=3).check("k")
    Target(stages=list(ACQUIRED_STAGES), segments=["casual", "power"]).check(
        "k", segments=["casual", "power"], allowed_stages=ACQUIRED_STAGES
    )


def test_schedule_window_and_target_checks_name_the_key_the_value_and_what_is_allowed():
    assert (
        error(lambda: Schedule(start_day=5, end_day=4).check("k"))
        == "k.end_day=4 is not allowed: a day >= k.start_day=5"
    )
    assert (
        error(lambda: Schedule(days_of_week=[0, 7]).check("k"))
        == "k.days_of_week[1]=7 is not allowed: a weekday 0 (Monday) … 6 (Sunday)"
    )
    assert (
        error(lambda: Schedule(days_of_week=[]).check("k"))
        == "k.days_of_week=[] is not allowed: at least one weekday 0 … 6"
    )
    assert (
        error(lambda: SpendWindow(start_day=3, end_day=2).check("k"))
        == "k.end_day=2 is not allowed: a day >= k.start_day=3"
    )
    target = Target(stages=["new", "aware"])
    assert (
        error(lambda: target.check("k", segments=["casual"], allowed_stages=ACQUIRED_STAGES))
        == "k.stages[1]='aware' is not allowed: one of new, retained, activated, dormant, churned"
    )
    target = Target(segments=["casual", "whales"])
    assert (
        error(lambda: target.check("k", segments=["casual", "power"], allowed_stages=ACQUIRED_STAGES))
        == "k.segments[1]='whales' is not allowed: a segment of the population: casual, power"
    )


def test_strategy_checks_name_the_key_the_value_and_what_is_allowed():
    segs = ["casual", "power"]
    bad_window = StrategyConfig(spend_window=SpendWindow(start_day=9, end_day=8))
    assert (
        error(lambda: check_strategy(bad_window, segs))
        == "strategy.spend_window.end_day=8 is not allowed: a day >= strategy.spend_window.start_day=9"
    )
    reserved = StrategyConfig(paid_ads={"referral": PaidAdsConfig()})
    assert (
        error(lambda: check_strategy(reserved, segs))
        == "strategy.paid_ads.referral='referral' is not allowed: a channel name other than ('organic', 'word_of_mouth', 'referral')"
    )
    twice = StrategyConfig(paid_ads={"tv": PaidAdsConfig()}, viral_events={"tv": ViralEventConfig()})
    assert (
        error(lambda: check_strategy(twice, segs))
        == "strategy.paid_ads/viral_events=['tv'] is not allowed: distinct channel names across both maps"
    )
    push = PushConfig(enabled=True, target=Target(channels=["search", "tv"]))
    unknown = StrategyConfig(paid_ads={"search": PaidAdsConfig()}, push=push)
    assert (
        error(lambda: check_strategy(unknown, segs))
        == "strategy.push.target.channels[1]='tv' is not allowed: an acquisition channel: organic, word_of_mouth, referral, search"
    )
    late = StrategyConfig(push=PushConfig(enabled=True, schedule=Schedule(start_day=2, end_day=1)))
    assert (
        error(lambda: check_strategy(late, segs))
        == "strategy.push.schedule.end_day=1 is not allowed: a day >= strategy.push.schedule.start_day=2"
    )
    whales = StrategyConfig(content=ContentConfig(enabled=True, target=Target(segments=["whales"])))
    assert (
        error(lambda: check_strategy(whales, segs))
        == "strategy.content.target.segments[0]='whales' is not allowed: a segment of the population: casual, power"
    )
    narrow = StrategyConfig(winback=WinbackConfig(enabled=True, silent_days=30, max_silent_days=20))
    assert error(lambda: check_strategy(narrow, segs)).startswith("strategy.winback.max_silent_days=20 ")
    assert error(
        lambda: check_strategy(
            StrategyConfig(viral_events={"meme": ViralEventConfig(target=Target(stages=["new"]))}), segs
        )
    ) == ("strategy.viral_events.meme.target.stages[0]='new' is not allowed: one of unaware")
    event = StrategyConfig(viral_events={"meme": ViralEventConfig(target=Target(channels=["organic"]))})
    assert error(lambda: check_strategy(event, segs)).startswith("strategy.viral_events.meme.target='stages/channels' ")
    check_strategy(StrategyConfig(paid_ads={"search": PaidAdsConfig()}, push=PushConfig(enabled=True)), segs)


# ----------------------------------------------------------------- win-back


def test_winback_resurrections_accumulate_over_days_and_chunks():
    t = 50
    model = FakeModel(population([D] * 4, alive=[False] * 4, last_visit_day=[t - 20] * 4))
    cfg = WinbackConfig(silent_days=7, reach=1.0, resurrect_dead=1.0, recontact_days=1, target=Target())
    lever = bound(Winback("winback", cfg), model)
    model.streams.set(lever.stream, t, [0.0, 0.0], chunk=0)
    model.streams.set(lever.stream, t, [0.0, 0.0], chunk=1)
    run_day(lever, model, t, index=0, lo=0, hi=2)
    run_day(lever, model, t, index=1, lo=2, hi=4)
    assert lever.resurrected == 4 and lever.returned == 4 and lever.contacts == 4
    assert lever.summary() == {"contacts": 4, "returned": 4, "resurrected": 4}


def test_per_slot_lever_state_has_the_documented_compact_dtypes():
    """Last contact day int16, push fatigue and incentive dependence float32 (bytes per slot)."""
    model = FakeModel(population([D] * 3))
    assert bound(Winback("winback", WinbackConfig()), model).last_contact.dtype == np.int16
    assert bound(Push("push", PushConfig()), model).fatigue.dtype == np.float32
    assert bound(incentives(), model).dependence.dtype == np.float32


# --------------------------------------------------------------- onboarding
def test_onboarding_sets_its_flag_without_clearing_the_others():
    other = int(FLAG_EVER_AWARE | FLAG_COUPON)
    model = FakeModel(population([A] * 2, flags=[other, other]))
    lever = bound(Onboarding("onboarding", OnboardingConfig()), model)
    run_day(lever, model, 3, converted=[0])
    assert model.population.flags.tolist() == [other | int(FLAG_ONBOARDED), other]


def test_onboarding_counts_every_day_s_users():
    model = FakeModel(population([A] * 3))
    lever = bound(Onboarding("onboarding", OnboardingConfig(cost_per_user=1.0)), model)
    run_day(lever, model, 0, converted=[0, 1])
    run_day(lever, model, 1, converted=[2])
    assert lever.onboarded == 3 and lever.summary() == {"users_onboarded": 3}


def test_onboarding_may_raise_the_early_hazard():
    """A multiplier above 1 (allowed: ge=0) scales the hazard like any other."""
    model = FakeModel(population([A] * 3))
    lever = bound(Onboarding("onboarding", OnboardingConfig(hazard_multiplier=2.0, days=5)), model)
    day = run_day(lever, model, 0, converted=[1])
    assert per_slot(day.fx.hazard, 3).tolist() == [1.0, 2.0, 1.0]


# ------------------------------------------------------------------ content
def test_content_applies_a_multiplier_of_two():
    """Multipliers away from 1 act whatever their value (2 is allowed: ge=0)."""
    model = FakeModel(population([R, R]))
    lever = bound(Content("content", ContentConfig(visit_multiplier=2.0, hazard_multiplier=2.0)), model)
    day = run_day(lever, model, 0)
    assert per_slot(day.fx.visit, 2).tolist() == [2.0, 2.0]
    assert per_slot(day.fx.hazard, 2).tolist() == [2.0, 2.0]


# --------------------------------------------------------------------- push
def test_push_target_does_not_reach_opted_out_or_unacquired_users():
    """A target narrows the eligible users (acquired, not opted out); it does not replace them."""
    opted = int(FLAG_PUSH_OPT_OUT)
    model = FakeModel(population([R, R, A], flags=[0, opted, 0]))
    lever = bound(Push("push", PushConfig(target=Target(segments=["casual"]), **PUSH_CFG)), model)
    model.streams.set(lever.stream, 0, [0.3, 0.3, 0.3])
    run_day(lever, model, 0)
    assert lever.messages == 1 and lever.fatigue.tolist() == [1.0, 0.0, 0.0]


def test_push_opt_out_keeps_the_other_flags():
    other = int(FLAG_EVER_AWARE | FLAG_COUPON)
    model = FakeModel(population([R, R], flags=[other, other]))
    lever = bound(Push("push", PushConfig(**PUSH_CFG)), model)
    model.streams.set(lever.stream, 0, [0.0, FAR])  # slot 0 messaged and opts out (u = 0 < 0.1 F)
    run_day(lever, model, 0)
    assert model.population.flags.tolist() == [other | int(FLAG_PUSH_OPT_OUT), other]


# ------------------------------------------------------------------- coupon
def test_coupon_redemptions_accumulate_and_keep_the_other_flags():
    aware = int(FLAG_EVER_AWARE)
    model = FakeModel(population([A, A, A], flags=[aware] * 3))
    lever = bound(Coupon("new_user_coupon", CouponConfig(value=10.0, redemption_rate=1.0)), model)  # redeem if u < 0.5
    model.streams.set(lever.stream, 0, [0.0, 0.0, FAR])
    model.streams.set(lever.stream, 1, [FAR, FAR, 0.0])
    run_day(lever, model, 0, converted=[0, 1])
    run_day(lever, model, 1, converted=[2])
    assert lever.redeemed == 3 and lever.summary()["coupons_redeemed"] == 3
    assert model.population.flags.tolist() == [aware | int(FLAG_COUPON)] * 3


# ----------------------------------------------------------------- paid ads


def test_delayed_adstock_without_decay_puts_all_weight_on_the_rounded_delay():
    """λ = 0 is a pure delay by round(δ) also for a δ between two days (λ^0 would need δ a whole day)."""
    assert delayed_weights(0.0, 2.4, 5).tolist() == [0.0, 0.0, 1.0, 0.0, 0.0]
    assert delayed_weights(0.0, 2.6, 5).tolist() == [0.0, 0.0, 0.0, 1.0, 0.0]
