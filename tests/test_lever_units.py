"""Unit tests of every lever on a hand-built chunk of users, with no model.

Approach. Each test builds a :class:`~sim.core.population.Population` of a few
slots whose stage, latent state, segment, channel, silence and flags it chooses,
a tiny stand-in for the model (:class:`FakeModel`: the :class:`~sim.core.hooks.ModelView`
properties and nothing else) and calls the lever's hooks in the order the model
does (:func:`run_day`, which mirrors ``LifecycleModel._step_vectorized``: begin_day,
conversion_effects, on_acquired, visit_effects, extra_visits, the model's own
acquisition bookkeeping (today's converts become NEW), on_visits, hazard_effects).
The fake model separates the real market M from the simulated users N (the slots),
so a test can give every simulated user a weight w = M / N ≠ 1: per-user costs and
summary counts are then w times the simulated ones. Expected answers come from the
equations in the lever modules' docstrings, worked out by hand in the test or by
a small per-user Python loop written from the docstring, never by calling the
lever's own helpers.

Randomness. Levers that draw (push, win-back, coupon redemption) read ``ch.uniforms(lever.stream)``.
Most tests use :class:`StubStreams`, whose uniforms for (stream, day, chunk) are
hand-picked values and 0.999 ("nothing happens") for every other key, so results
are exact and a lever reading the wrong stream fails. A few tests use real
:class:`~sim.core.rng.Streams` and derive the answer from the same uniforms with an
independent reference; those are deterministic too (no tolerance needed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from sim.base.errors import ConfigError
from sim.base.schema import check_ranges
from sim.core.daily_log import MC_GROUPS
from sim.core.flags import FLAG_COUPON, FLAG_ONBOARDED, FLAG_PUSH_OPT_OUT
from sim.core.hooks import Chunk, Effects, Events
from sim.core.lifecycle import Stage
from sim.core.population import NEVER, Population, SegmentTable
from sim.core.rng import Streams
from sim.levers.base import Lever, QualityConfig, Schedule, SpendWindow, Target
from sim.levers.content import Content, ContentConfig
from sim.levers.coupon import Coupon, CouponConfig
from sim.levers.incentives import Incentives, IncentivesConfig
from sim.levers.onboarding import Onboarding, OnboardingConfig
from sim.levers.paid_ads import AdstockConfig, PaidAds, PaidAdsConfig, SaturationConfig, hill
from sim.levers.push import Push, PushConfig
from sim.levers.referral import Referral, ReferralConfig
from sim.levers.strategy import StrategyConfig, build_levers
from sim.levers.viral_event import ViralEvent, ViralEventConfig
from sim.levers.winback import Winback, WinbackConfig

U, A, N, R, ACT, D, C = (int(s) for s in Stage)  # UNAWARE … CHURNED
CASUAL, POWER = 0, 1  # segment codes
CHANNELS = ("organic", "word_of_mouth", "referral", "search")
ORGANIC, WOM, REFERRAL, SEARCH = range(4)  # channel codes (-1: never aware)
FAR = 0.999  # a uniform above every probability used here: "no event"


# ------------------------------------------------------------------ fixtures
class StubStreams(Streams):
    """Streams whose uniforms the test chooses per (stream, day, chunk); FAR elsewhere."""

    def __init__(self) -> None:
        super().__init__(0)
        self.values: dict[tuple[str, int, int], np.ndarray] = {}

    def set(self, stream: str, day: int, values: Any, chunk: int = 0) -> None:
        self.values[stream, day, chunk] = np.asarray(values, dtype=np.float32)

    def uniforms(self, stream: str, day: int, chunk: int, n: int, out: np.ndarray | None = None) -> np.ndarray:
        chosen = self.values.get((stream, day, chunk))
        if chosen is None:
            return np.full(n, FAR, dtype=np.float32)
        assert chosen.size == n, "a stubbed stream must be read with the chunk's size"
        return chosen.copy()

    def uniforms_into(self, day: int, draws: Any) -> None:
        for stream, chunk, out in draws:
            out[:] = self.uniforms(stream, day, chunk, out.size)


def segment_table(names: tuple[str, ...] = ("casual", "power")) -> SegmentTable:
    k = len(names)
    one = np.ones(k)
    return SegmentTable(
        names=names,
        weight=one,
        churn_a=one,
        churn_b=one,
        churn_c=np.zeros(k),
        visit_alpha=one,
        visit_beta=one,
        purchase_prob=np.full(k, 0.5, dtype=np.float32),
        order_median=one,
        order_sigma=np.zeros(k),
    )


def population(
    stage: list[int],
    *,
    alive: list[bool] | None = None,
    segment: list[int] | None = None,
    channel: list[int] | None = None,
    acquired_day: list[int] | None = None,
    last_visit_day: list[int] | None = None,
    churn: float | list[float] = 0.1,
    visit: float | list[float] = 0.2,
    flags: list[int] | None = None,
) -> Population:
    """A hand-built population; unspecified slots get plain defaults (acquired → alive, day 0)."""
    st = np.asarray(stage, dtype=np.int8)
    n = st.size
    acquired = st >= N
    return Population(
        stage=st.copy(),
        alive=acquired.copy() if alive is None else np.asarray(alive, dtype=bool),
        segment=np.zeros(n, np.int8) if segment is None else np.asarray(segment, np.int8),
        channel=np.where(st >= A, ORGANIC, -1).astype(np.int8) if channel is None else np.asarray(channel, np.int8),
        churn_hazard=np.broadcast_to(np.asarray(churn, np.float32), (n,)).copy(),
        visit_propensity=np.broadcast_to(np.asarray(visit, np.float32), (n,)).copy(),
        order_value=np.full(n, 10.0, np.float32),
        habit=np.zeros(n, np.float32),
        acquired_day=np.where(acquired, 0, NEVER).astype(np.int16)
        if acquired_day is None
        else np.asarray(acquired_day, np.int16),
        last_visit_day=np.where(acquired, 0, NEVER).astype(np.int16)
        if last_visit_day is None
        else np.asarray(last_visit_day, np.int16),
        flags=np.zeros(n, np.uint8) if flags is None else np.asarray(flags, np.uint8),
    )


@dataclass
class FakeModel:
    """The :class:`~sim.core.hooks.ModelView` of a model, and nothing else.

    The slots are the N simulated users (sample size); ``market`` is the real
    market M (default N: one real user per slot), so the user weight is w = M / N.
    ``active_share`` is yesterday's DAU / M, set by the test.
    """

    population: Population
    streams: Streams = field(default_factory=StubStreams)
    channels: list[str] = field(default_factory=lambda: list(CHANNELS))
    segments: SegmentTable = field(default_factory=segment_table)
    day: int = 0
    active_share: float = 0.0
    market: int | None = None

    @property
    def sample_size(self) -> int:
        return self.population.size

    @property
    def market_size(self) -> int:
        return self.sample_size if self.market is None else self.market

    @property
    def user_weight(self) -> float:
        return self.market_size / self.sample_size


def bound(lever: Lever, model: FakeModel) -> Lever:
    lever.bind(model)
    return lever


def chunk(model: FakeModel, day: int | None = None, index: int = 0, lo: int = 0, hi: int | None = None) -> Chunk:
    hi = model.sample_size if hi is None else hi
    return Chunk(model.population, model.streams, model.channels, model.day if day is None else day, index, lo, hi)


def per_slot(value: Any, n: int) -> np.ndarray:
    """A multiplier (scalar or array) as one float64 per slot."""
    return np.broadcast_to(np.asarray(value, dtype=np.float64), (n,)).copy()


@dataclass
class Day:
    """What the hooks did on one day of one chunk."""

    ch: Chunk
    conversion: Any
    fx: Effects
    ev: Events


def run_day(
    lever: Lever,
    model: FakeModel,
    t: int,
    *,
    weekday: int | None = None,
    conversion: Any = 0.1,
    converted: Sequence[int] = (),
    visited: Sequence[int] = (),
    index: int = 0,
    lo: int = 0,
    hi: int | None = None,
) -> Day:
    """One day of one chunk, hooks in the model's order (weekday defaults to t mod 7).

    ``converted`` are today's acquisitions (still AWARE until the visits are decided,
    as in the model); ``visited`` are organic visits of users acquired before today.
    Between extra_visits and on_visits this does the model's bookkeeping: acquisition
    day, alive and stage NEW of today's converts, last visit of every visitor.
    """
    model.day = t
    lever.begin_day(model, t % 7 if weekday is None else weekday)
    ch = chunk(model, t, index, lo, hi)
    aware = np.flatnonzero(ch.stage == A)
    conv_p = lever.conversion_effects(ch, aware, conversion)
    conv = np.asarray(converted, dtype=np.intp)
    lever.on_acquired(ch, conv)
    fx = Effects()
    lever.visit_effects(ch, fx)
    vis = np.zeros(ch.n, dtype=bool)
    vis[np.asarray(visited, dtype=np.intp)] = True
    ev = Events(converted=conv, visited=vis)
    lever.extra_visits(ch, ev)
    ch.acquired_day[conv] = t
    ch.alive[conv] = True
    ch.stage[conv] = N  # as the model does: later hooks (rewards, hazard) see them as acquired
    ev.visited[conv] = True
    ev.visit_idx = np.flatnonzero(ev.visited)
    ch.last_visit_day[ev.visit_idx] = t
    lever.on_visits(ch, ev)
    lever.hazard_effects(ch, fx)
    ch.settle()  # the lever-wide bookings, as the model runs them after the day's chunks
    return Day(ch, conv_p, fx, ev)


def hill_by_hand(a: float, h_max: float, k: float, n: float) -> float:
    """h_max / (1 + (K/A)^n), the Hill curve written another way (0 at A = 0)."""
    return 0.0 if a == 0 else h_max / (1.0 + (k / a) ** n)


# ---------------------------------------------------------------- schedule
def test_schedule_window_is_inclusive_on_both_ends():
    s = Schedule(start_day=3, end_day=5)
    assert [s.is_on(d, 0) for d in range(2, 7)] == [False, True, True, True, False]


def test_schedule_without_end_day_runs_from_start_day_on():
    s = Schedule(start_day=10)
    assert [s.is_on(d, 0) for d in (9, 10, 11, 3000)] == [False, True, True, True]


def test_schedule_days_of_week():
    s = Schedule(days_of_week=[0, 5, 6])
    assert [s.is_on(14, w) for w in range(7)] == [True, False, False, False, False, True, True]


def test_lever_takes_the_weekday_from_the_model_not_from_the_day_number():
    model = FakeModel(population([N]))
    lever = bound(Content("content", ContentConfig(daily_cost=5.0, schedule=Schedule(days_of_week=[2]))), model)
    model.day = 0
    lever.begin_day(model, 2)
    assert lever.on_today and lever.cost_today == 5.0
    model.day = 2
    lever.begin_day(model, 0)
    assert not lever.on_today and lever.cost_today == 0.0


def test_lever_labels():
    assert Content("content", ContentConfig()).label == "content"
    assert PaidAds("search", PaidAdsConfig()).label == "paid_ads_search"
    assert Push("push", PushConfig()).stream == "lever:push:push"


# ------------------------------------------------------------ spend window
def test_spend_window_is_inclusive_on_both_ends():
    w = SpendWindow(start_day=3, end_day=5)
    assert [w.contains(d) for d in range(2, 7)] == [False, True, True, True, False]
    assert [SpendWindow(start_day=10).contains(d) for d in (9, 10, 3649)] == [False, True, True]
    assert SpendWindow().contains(0)


def test_spend_window_check_refuses_an_inverted_window():
    SpendWindow(start_day=4, end_day=4).check("strategy.spend_window")
    with pytest.raises(ConfigError, match=r"strategy\.spend_window\.end_day"):
        SpendWindow(start_day=5, end_day=4).check("strategy.spend_window")


EVERY_LEVER = [
    (PaidAds, "search", PaidAdsConfig),
    (Referral, "referral", ReferralConfig),
    (Coupon, "new_user_coupon", CouponConfig),
    (Onboarding, "onboarding", OnboardingConfig),
    (Content, "content", ContentConfig),
    (Push, "push", PushConfig),
    (Incentives, "incentives", IncentivesConfig),
    (Winback, "winback", WinbackConfig),
]


@pytest.mark.parametrize(("cls", "name", "config"), EVERY_LEVER)
def test_every_lever_is_on_only_where_schedule_and_window_both_allow(cls, name, config):
    model = FakeModel(population([U, A, N, R]))
    # schedule 4 … 10, window 2 … 6: on 4 … 6 (each end checked on both sides)
    lever = bound(cls(name, config(schedule=Schedule(start_day=4, end_day=10)), SpendWindow(2, 6)), model)
    on = []
    for t in range(1, 12):
        model.day = t
        lever.begin_day(model, t % 7)
        on.append(lever.on_today)
    assert [t for t, is_on in zip(range(1, 12), on, strict=True) if is_on] == [4, 5, 6]
    # the window alone: days 2 … 6
    lever = bound(cls(name, config(), SpendWindow(2, 6)), model)
    on = []
    for t in range(1, 8):
        model.day = t
        lever.begin_day(model, t % 7)
        on.append(lever.on_today)
    assert on == [False, True, True, True, True, True, False]


def test_spend_window_stops_spending_while_ad_carry_over_goes_on():
    model = FakeModel(population([U]))
    lever = bound(PaidAds("search", PaidAdsConfig(adstock=AdstockConfig(decay=0.5)), SpendWindow(1, 2)), model)
    cost, adstock = [], []
    for t in range(5):
        model.day = t
        lever.begin_day(model, t % 7)
        cost.append(lever.cost_today)
        adstock.append(lever.adstock)
    assert cost == [0.0, 1000.0, 1000.0, 0.0, 0.0]
    assert adstock == pytest.approx([0.0, 1e5, 1.5e5, 0.75e5, 0.375e5])


@pytest.mark.parametrize(("event_day", "happens"), [(2, False), (3, True), (5, True), (6, False)])
def test_viral_event_happens_only_if_its_day_is_inside_the_window(event_day, happens):
    model = FakeModel(population([U]))
    cfg = ViralEventConfig(day=event_day, cost=7000.0, peak_hazard=0.01, half_life_days=2.0)
    lever = bound(ViralEvent("meme", cfg, SpendWindow(start_day=3, end_day=5)), model)
    hazard, cost = [], []
    for t in range(10):
        model.day = t
        lever.begin_day(model, t % 7)
        hazard.append(lever.hazard_today)
        cost.append(lever.cost_today)
    if happens:  # the spike decays on after the window: only the event day must be inside it
        assert hazard[event_day] == 0.01 and hazard[9] == pytest.approx(0.01 * 2 ** (-(9 - event_day) / 2))
        assert cost[event_day] == 7000.0 and sum(cost) == 7000.0
    else:
        assert hazard == [0.0] * 10 and cost == [0.0] * 10


def test_build_levers_hands_the_strategy_window_to_every_lever():
    window = SpendWindow(start_day=7, end_day=89)
    strategy = StrategyConfig(
        spend_window=window,
        paid_ads={"search": PaidAdsConfig()},
        viral_events={"meme": ViralEventConfig()},
        content=ContentConfig(enabled=True),
        winback=WinbackConfig(enabled=True),
    )
    levers = build_levers(strategy)
    assert sorted(lever.label for lever in levers) == ["content", "paid_ads_search", "viral_event_meme", "winback"]
    assert all(lever.window is window for lever in levers)


# ------------------------------------------------------------------ target
# slot:        0  1       2       3        4         5        6        7
TARGET_STAGES = [U, A, N, R, ACT, D, C, N]
TARGET_SEGMENTS = [CASUAL, POWER, CASUAL, POWER, CASUAL, POWER, CASUAL, POWER]
TARGET_CHANNELS = [-1, SEARCH, ORGANIC, SEARCH, REFERRAL, WOM, SEARCH, REFERRAL]


@pytest.fixture
def target_model() -> FakeModel:
    return FakeModel(population(TARGET_STAGES, segment=TARGET_SEGMENTS, channel=TARGET_CHANNELS))


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (Target(stages=["new", "dormant"]), [2, 5, 7]),  # non-contiguous codes: table lookup
        (Target(stages=["retained", "activated", "dormant"]), [3, 4, 5]),  # contiguous: range check
        (Target(stages=["churned"]), [6]),
        (Target(segments=["power"]), [1, 3, 5, 7]),
        (Target(channels=["search"]), [1, 3, 6]),  # slot 0 (never aware, code -1) never matches
        (Target(channels=["referral", "word_of_mouth"]), [4, 5, 7]),
        (Target(stages=["new"], segments=["power"], channels=["referral"]), [7]),
        (Target(stages=["retained", "churned"], segments=["casual"]), [6]),
        (Target(channels=["no_such_channel"]), []),
    ],
)
def test_target_mask_selects_exactly_the_named_users(target_model, target, expected):
    lever = bound(Content("content", ContentConfig(target=target)), target_model)
    mask = lever.targeted(chunk(target_model))
    assert np.flatnonzero(mask).tolist() == expected


@pytest.mark.parametrize("stages", [[], ["new", "retained", "activated", "dormant", "churned"]])
def test_target_of_all_stages_is_no_mask(target_model, stages):
    lever = bound(Content("content", ContentConfig(target=Target(stages=stages))), target_model)
    assert lever.targeted(chunk(target_model)) is None
    idx = np.array([0, 3, 6])
    assert lever.targeted_subset(chunk(target_model), idx, stage=True) is idx


def test_target_without_stage_check_and_on_a_subset(target_model):
    lever = bound(Content("content", ContentConfig(target=Target(stages=["new"], segments=["power"]))), target_model)
    ch = chunk(target_model)
    assert np.flatnonzero(lever.targeted(ch, stage=False)).tolist() == [1, 3, 5, 7]
    assert lever.targeted(ch, idx=np.array([1, 2, 7])).tolist() == [False, False, True]
    assert lever.targeted_subset(ch, np.array([0, 2, 3, 5, 6])).tolist() == [3, 5]  # stage=False by default
    assert lever.targeted_subset(ch, np.array([0, 2, 3, 5, 6, 7]), stage=True).tolist() == [7]


def test_target_on_a_chunk_that_starts_mid_population(target_model):
    lever = bound(Content("content", ContentConfig(target=Target(segments=["power"]))), target_model)
    ch = chunk(target_model, index=0, lo=4, hi=8)  # slots 4..7: casual, power, casual, power
    assert lever.targeted(ch).tolist() == [False, True, False, True]


def test_default_targets_of_levers(target_model):
    coupon = bound(Coupon("new_user_coupon", CouponConfig()), target_model)
    winback = bound(Winback("winback", WinbackConfig()), target_model)
    assert np.flatnonzero(coupon.targeted(chunk(target_model))).tolist() == [1]  # aware
    assert np.flatnonzero(winback.targeted(chunk(target_model))).tolist() == [5, 6]  # dormant, churned


# ----------------------------------------------------------------- effects
def test_effects_scale_without_mask_multiplies_everyone():
    fx = Effects()
    fx.scale("visit", 2.0)
    fx.scale("visit", 1.5)
    assert per_slot(fx.visit, 3).tolist() == [3.0, 3.0, 3.0]
    assert fx.hazard == 1.0 and fx.conversion == 1.0 and fx.resurrection == 1.0


def test_effects_scale_with_mask_is_one_elsewhere():
    fx = Effects()
    fx.scale("hazard", 0.5, np.array([True, False, True, False]))
    fx.scale("hazard", 3.0, np.array([True, True, False, False]))
    assert per_slot(fx.hazard, 4) == pytest.approx([1.5, 3.0, 0.5, 1.0])


def test_effects_scale_with_array_factor_and_mask():
    fx = Effects(visit=2.0)
    fx.scale("visit", np.array([2.0, 3.0, 4.0], np.float32), np.array([True, False, True]))
    assert per_slot(fx.visit, 3).tolist() == [4.0, 2.0, 8.0]


def test_effects_scale_at_touches_only_the_indices():
    fx = Effects(hazard=0.5)
    fx.scale_at("hazard", np.array([], np.intp), 2.0, 4)
    assert fx.hazard == 0.5  # no indices: stays a scalar
    fx.scale_at("hazard", np.array([1, 3]), 2.0, 4)
    fx.scale_at("hazard", np.array([3]), np.float32(3.0), 4)
    assert per_slot(fx.hazard, 4).tolist() == [0.5, 1.0, 0.5, 3.0]


def test_effects_never_write_into_a_multiplier_they_do_not_own():
    shared = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], np.float32)  # e.g. model.modifiers.visit
    fx = Effects(visit=shared[2:5], hazard=shared[0:3])
    fx.scale("visit", 2.0)
    fx.scale("visit", 10.0, np.array([True, False, False]))
    fx.scale_at("hazard", np.array([0]), 7.0, 3)
    assert shared.tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert per_slot(fx.visit, 3).tolist() == [60.0, 8.0, 10.0]
    assert per_slot(fx.hazard, 3).tolist() == [7.0, 2.0, 3.0]


def test_chunk_scale_traits_caps_at_one_and_writes_through_to_the_population():
    pop = population([N, N, N, N], churn=[0.1, 0.6, 0.9, 0.3], visit=[0.3, 0.6, 0.2, 0.4])
    ch = chunk(FakeModel(pop), lo=1, hi=4)  # slots 1..3
    ch.scale_traits(np.array([0, 1]), 2.0, 2.0)  # slots 1 and 2
    assert pop.churn_hazard == pytest.approx([0.1, 1.0, 1.0, 0.3])
    assert pop.visit_propensity == pytest.approx([0.3, 1.0, 0.4, 0.4])
    ch.scale_traits(np.array([2]), np.float32(0.5), np.float32(0.25))  # slot 3
    ch.scale_traits(np.array([], np.intp), 100.0, 100.0)
    assert pop.churn_hazard == pytest.approx([0.1, 1.0, 1.0, 0.15])
    assert pop.visit_propensity == pytest.approx([0.3, 1.0, 0.4, 0.1])


# ---------------------------------------------------------------- charging
# Per-user costs are price × w per simulated user, booked by slot group (slot mod MC_GROUPS).
# The charging scenes use 25 slots: slots 3 and 23 share group 3, slot 13 (group 13) is never charged.
# They use each lever's helpers and constants (incentives(), PUSH_CFG, WINBACK_CFG, …) from its section below.
SLOTS = 25


def test_mc_groups_is_twenty():
    assert MC_GROUPS == 20  # the group numbers below are worked out for 20 groups


def groups(charges: dict[int, float]) -> list[float]:
    """Expected ``group_charged``: each global slot's charge added to group slot mod 20."""
    out = [0.0] * 20
    for slot, amount in charges.items():
        out[slot % 20] += amount
    return out


def scene(stage: dict[int, int], w: int, **kw: Any) -> FakeModel:
    """SLOTS slots, UNAWARE except ``stage`` {slot: stage}; a market of w real users per slot."""
    stages = [U] * SLOTS
    for slot, st in stage.items():
        stages[slot] = st
    return FakeModel(population(stages, **kw), market=SLOTS * w)


def with_uniforms(model: FakeModel, lever: Lever, t: int, u: dict[int, float]) -> None:
    values = [FAR] * SLOTS
    for slot, value in u.items():
        values[slot] = value
    model.streams.set(lever.stream, t, values)


def charge_coupon(w: int) -> tuple[Lever, dict[int, float], str]:
    model = scene({3: A, 13: A, 23: A}, w)
    lever = bound(Coupon("new_user_coupon", CouponConfig(value=30.0, half_value=10.0, redemption_rate=0.5)), model)
    with_uniforms(model, lever, 0, {3: 0.1, 13: 0.9, 23: 0.3})  # P = 0.375: 13 converts but does not redeem
    run_day(lever, model, 0, converted=[3, 13, 23])
    return lever, {3: 30.0, 23: 30.0}, "coupons_redeemed"


def charge_onboarding(w: int) -> tuple[Lever, dict[int, float], str]:
    model = scene({3: A, 13: A, 23: A}, w, segment=[POWER if s == 13 else CASUAL for s in range(SLOTS)])
    cfg = OnboardingConfig(cost_per_user=2.0, target=Target(segments=["casual"]))
    lever = bound(Onboarding("onboarding", cfg), model)
    run_day(lever, model, 0, converted=[3, 13, 23])  # 13 is not targeted
    return lever, {3: 2.0, 23: 2.0}, "users_onboarded"


def charge_push(w: int) -> tuple[Lever, dict[int, float], str]:
    model = scene({3: R, 13: R, 23: R}, w)
    lever = bound(Push("push", PushConfig(**dict(PUSH_CFG, cost_per_message=0.5, opt_out_per_fatigue=0.0))), model)
    with_uniforms(model, lever, 0, {3: 0.0, 23: 0.2})  # 13: FAR, no message
    run_day(lever, model, 0)
    return lever, {3: 0.5, 23: 0.5}, "messages_sent"


def charge_incentives(w: int) -> tuple[Lever, dict[int, float], str]:
    model = scene({3: R, 13: R, 23: R}, w)
    lever = bound(incentives(cost_per_reward=0.25), model)
    run_day(lever, model, 0, visited=[3, 23])  # 13 does not visit
    return lever, {3: 0.25, 23: 0.25}, "rewards_paid"


def charge_winback(w: int) -> tuple[Lever, dict[int, float], str]:
    t = 100
    model = scene({3: D, 13: R, 23: D}, w, last_visit_day=[t - 10] * SLOTS)  # 13 is retained: not targeted
    cfg = WinbackConfig(**dict(WINBACK_CFG, reach=1.0, response_alive=0.5))
    lever = bound(Winback("winback", cfg), model)
    with_uniforms(model, lever, t, {3: 0.1, 13: 0.0, 23: 0.7})  # 3 returns, 23 is contacted only
    run_day(lever, model, t)
    return lever, {3: 1.0 + 10.0, 23: 1.0}, "contacts"


def charge_referral(w: int) -> tuple[Lever, dict[int, float], str]:
    channel = [REFERRAL if s in (3, 23) else ORGANIC for s in range(SLOTS)]
    model = scene({3: A, 13: A, 23: A}, w, channel=channel)
    lever = bound(referral(reward_referrer=5.0, reward_referee=3.0), model)
    run_day(lever, model, 0, converted=[3, 13, 23])  # 13 converts organically: no reward
    return lever, {3: 8.0, 23: 8.0}, "referrals"


@pytest.mark.parametrize("w", [1, 10])
@pytest.mark.parametrize(
    "play", [charge_coupon, charge_onboarding, charge_push, charge_incentives, charge_winback, charge_referral]
)
def test_per_user_costs_are_charged_w_times_and_booked_by_slot_group(play, w):
    lever, price, counter = play(w)
    expected = {slot: amount * w for slot, amount in price.items()}
    assert lever.cost_today == pytest.approx(sum(expected.values()))
    assert lever.charged_total == pytest.approx(sum(expected.values()))
    assert lever.group_charged.tolist() == pytest.approx(groups(expected))
    assert lever.group_charged[3] > 0 and lever.group_charged[13] == 0.0  # slots 3 + 23; never 13
    real = lever.summary()[counter]
    assert real == 2 * w  # the summary counts real users
    assert isinstance(real, int) == (w == 1)


def test_charge_books_the_global_slot_of_a_chunk_local_index():
    model = FakeModel(population([N] * 30), market=60)  # w = 2
    lever = bound(Content("content", ContentConfig()), model)
    second, first = chunk(model, index=1, lo=10, hi=30), chunk(model, index=0, lo=0, hi=10)
    lever.charge(second, np.array([13, 5]), 1.5)  # slots 23, 15
    lever.charge(first, np.array([3]), 1.0)  # slot 3
    lever.charge(first, np.array([], np.intp), 100.0)
    assert lever.cost_today == 0.0 and not lever.group_charged.any()  # booked after the day's chunks
    first.settle()
    second.settle()
    assert lever.group_charged.tolist() == groups({3: 2.0 + 3.0, 15: 3.0})  # slot 23 is in group 3 with slot 3
    assert lever.charged_total == lever.cost_today == 8.0


def test_charges_accumulate_over_days_while_the_daily_cost_resets():
    model = FakeModel(population([A] * 4), market=12)  # w = 3
    lever = bound(Onboarding("onboarding", OnboardingConfig(cost_per_user=2.0)), model)
    run_day(lever, model, 0, converted=[0, 1])
    assert lever.cost_today == 12.0
    run_day(lever, model, 1, converted=[2])
    run_day(lever, model, 2)
    assert lever.cost_today == 0.0
    assert lever.charged_total == 18.0
    assert lever.group_charged.tolist() == groups({0: 6.0, 1: 6.0, 2: 6.0})


def test_fixed_costs_are_not_scaled_by_w_nor_booked_by_group():
    model = FakeModel(population([U, A, N, R]), market=4000)  # w = 1000
    levers = [
        ads(daily_budget=700.0),
        Content("content", ContentConfig(daily_cost=300.0)),
        ViralEvent("meme", ViralEventConfig(day=0, cost=7000.0)),
    ]
    for lever, cost in zip(levers, (700.0, 300.0, 7000.0), strict=True):
        bound(lever, model)
        run_day(lever, model, 0, visited=[2, 3])
        assert lever.cost_today == cost
        assert lever.charged_total == 0.0 and not lever.group_charged.any()


def test_real_counts_are_w_times_the_simulated_ones():
    lever = bound(Content("content", ContentConfig()), FakeModel(population([N] * 4), market=10))
    assert lever.user_weight == 2.5 and lever.real(3) == 7.5
    one = bound(Content("content", ContentConfig()), FakeModel(population([N] * 4)))
    assert one.real(3) == 3 and isinstance(one.real(3), int)


def test_per_slot_lever_state_is_sized_by_the_simulated_users():
    model = FakeModel(population([R] * 6), market=6000)
    assert bound(incentives(), model).dependence.size == 6
    assert bound(Push("push", PushConfig()), model).fatigue.size == 6
    assert bound(Winback("winback", WinbackConfig()), model).last_contact.size == 6


# ----------------------------------------------------------------- paid ads
def ads(schedule: Schedule | None = None, **kw: Any) -> PaidAds:
    """Search ads of 1000 a day at CPM 10: x = 1000 · 1000 / 10 = 100 000 impressions a day."""
    kw.setdefault("daily_budget", 1000.0)
    kw.setdefault("cpm", 10.0)
    return PaidAds("search", PaidAdsConfig(schedule=schedule or Schedule(), **kw))


def run_ads(lever: PaidAds, days: int) -> tuple[list[float], list[float], list[float]]:
    model = FakeModel(population([U]))  # a market of one person: adstock per person = adstock (K in impressions)
    bound(lever, model)
    adstock, hazard, cost = [], [], []
    for t in range(days):
        model.day = t
        lever.begin_day(model, t % 7)
        adstock.append(lever.adstock)
        hazard.append(lever.hazard_today)
        cost.append(lever.cost_today)
    return adstock, hazard, cost


def test_paid_ads_impressions_are_1000_spend_over_cpm():
    adstock, _, _ = run_ads(ads(daily_budget=250.0, cpm=5.0, adstock=AdstockConfig(decay=0.0)), 2)
    assert adstock == pytest.approx([50_000.0, 50_000.0])


def test_paid_ads_geometric_adstock_by_hand():
    sat = SaturationConfig(max_hazard=0.01, half_saturation=100_000.0, shape=1.5)
    lever = ads(Schedule(end_day=2), adstock=AdstockConfig(kind="geometric", decay=0.5), saturation=sat)
    adstock, hazard, cost = run_ads(lever, 5)
    x = 100_000.0
    # A_t = x_t + 0.5 A_{t-1}, spend on days 0..2 only
    expected = [x, x + 0.5 * x, x + 0.5 * 1.5 * x, 0.5 * 1.75 * x, 0.25 * 1.75 * x]
    assert adstock == pytest.approx(expected)
    assert hazard == pytest.approx([hill_by_hand(a, 0.01, 100_000.0, 1.5) for a in expected])
    assert cost == [1000.0, 1000.0, 1000.0, 0.0, 0.0]
    assert lever.spend_total == 3000.0


def test_paid_ads_delayed_adstock_weights_peak_at_the_delay():
    # λ = 0.5, θ = 1, L = 3: weights λ^((l-1)²) = 0.5, 1, 0.5 for lags 0, 1, 2
    cfg = AdstockConfig(kind="delayed", decay=0.5, peak_delay=1.0, max_lag=3)
    x = 100_000.0
    one_day, _, _ = run_ads(ads(Schedule(end_day=0), adstock=cfg), 5)
    assert one_day == pytest.approx([0.5 * x, x, 0.5 * x, 0.0, 0.0])
    two_days, _, cost = run_ads(ads(Schedule(end_day=1), adstock=cfg), 5)
    assert two_days == pytest.approx([0.5 * x, 1.5 * x, 1.5 * x, 0.5 * x, 0.0])
    assert cost == [1000.0, 1000.0, 0.0, 0.0, 0.0]


def test_paid_ads_delayed_adstock_with_later_peak():
    # θ = 2, L = 5: a single day of spend shows λ^4, λ^1, 1, λ, λ^4, then nothing
    cfg = AdstockConfig(kind="delayed", decay=0.5, peak_delay=2.0, max_lag=5)
    adstock, _, _ = run_ads(ads(Schedule(end_day=0), adstock=cfg), 6)
    assert adstock == pytest.approx([1e5 / 16, 1e5 / 2, 1e5, 1e5 / 2, 1e5 / 16, 0.0])


def test_paid_ads_delayed_adstock_without_decay_is_a_pure_delay():
    cfg = AdstockConfig(kind="delayed", decay=0.0, peak_delay=2.0, max_lag=4)
    adstock, _, _ = run_ads(ads(Schedule(end_day=0), adstock=cfg), 4)
    assert adstock == pytest.approx([0.0, 0.0, 1e5, 0.0])


@pytest.mark.parametrize("shape", [0.5, 1.0, 1.5, 3.0])
def test_hill_is_half_the_maximum_at_half_saturation(shape):
    assert hill(200.0, 0.004, 200.0, shape) == pytest.approx(0.002)
    assert hill(0.0, 0.004, 200.0, shape) == 0.0


@pytest.mark.parametrize(("shape", "share"), [(1.0, 2 / 3), (2.0, 4 / 5), (3.0, 8 / 9), (0.5, 2**0.5 / (2**0.5 + 1))])
def test_hill_shape_sets_the_response_away_from_half_saturation(shape, share):
    assert hill(400.0, 0.01, 200.0, shape) == pytest.approx(0.01 * share)  # A = 2K: h·2^n/(2^n+1)
    assert hill(100.0, 0.01, 200.0, shape) == pytest.approx(0.01 * (1 - share))  # A = K/2: h/(1+2^n)


def test_paid_ads_hazard_today_follows_the_hill_curve_of_the_adstock():
    # x = 100 000 = 2K with K = 50 000; shape 2: e = h_max · 4/5
    sat = SaturationConfig(max_hazard=0.002, half_saturation=50_000.0, shape=2.0)
    _, hazard, _ = run_ads(ads(adstock=AdstockConfig(decay=0.0), saturation=sat), 1)
    assert hazard == pytest.approx([0.0016])
    sat = SaturationConfig(max_hazard=0.002, half_saturation=100_000.0, shape=2.0)
    _, hazard, _ = run_ads(ads(adstock=AdstockConfig(decay=0.0), saturation=sat), 1)
    assert hazard == pytest.approx([0.001])


@pytest.mark.parametrize(("market", "hazard"), [(1000, 0.002), (500, 0.0032), (2000, 0.0008)])
@pytest.mark.parametrize("simulated", [1, 10])
def test_paid_ads_half_saturation_is_in_impressions_per_person_of_the_market(market, hazard, simulated):
    """100 000 impressions a day, no carry-over, K = 100 per person, n = 2, h_max = 0.004.

    M = 1000: a = 100 = K → h_max/2; M = 500: a = 2K → h_max · 4/5; M = 2000: a = K/2 → h_max/5.
    The number of simulated users N does not matter: the effect is per real person.
    """
    model = FakeModel(population([U] * simulated), market=market)
    sat = SaturationConfig(max_hazard=0.004, half_saturation=100.0, shape=2.0)
    lever = bound(ads(adstock=AdstockConfig(decay=0.0), saturation=sat), model)
    lever.begin_day(model, 0)
    assert lever.adstock == 100_000.0
    assert lever.hazard_today == pytest.approx(hazard)


def test_paid_ads_cost_only_on_scheduled_weekdays_while_adstock_carries_over():
    lever = ads(Schedule(start_day=0, end_day=9, days_of_week=[0, 2]), adstock=AdstockConfig(decay=0.5))
    adstock, hazard, cost = run_ads(lever, 11)
    assert cost == [1000.0, 0, 1000.0, 0, 0, 0, 0, 1000.0, 0, 1000.0, 0]
    # in units of x = 100 000: A = on + A/2 with spend on days 0, 2, 7, 9
    by_hand = [1, 0.5, 1.25, 0.625, 0.3125, 0.15625, 0.078125, 1.0390625, 0.51953125, 1.259765625, 0.6298828125]
    assert adstock == pytest.approx([100_000.0 * a for a in by_hand])
    assert hazard[1] > 0 and hazard[10] > 0  # off days: carry-over only


def test_paid_ads_channel_effects_and_admitted_segments():
    q = QualityConfig(churn_multiplier=1.3, visit_multiplier=0.8)
    lever = PaidAds("search", PaidAdsConfig(conversion_multiplier=0.7, quality=q, target=Target(segments=["power"])))
    assert lever.channel == "search"
    assert lever.channel_effects() == {"search": (0.7, 1.3, 0.8)}
    assert lever.admitted_segments() == ["power"]
    assert PaidAds("tv", PaidAdsConfig()).admitted_segments() is None


# ------------------------------------------------------------- viral event
def test_viral_event_spike_halves_every_half_life_and_costs_once():
    lever = ViralEvent("meme", ViralEventConfig(day=5, cost=7000.0, peak_hazard=0.01, half_life_days=2.0))
    model = FakeModel(population([U]))
    bound(lever, model)
    hazard, cost, on = [], [], []
    for t in range(3, 10):
        model.day = t
        lever.begin_day(model, t % 7)
        hazard.append(lever.hazard_today)
        cost.append(lever.cost_today)
        on.append(lever.on_today)
    assert hazard == pytest.approx([0.0, 0.0, 0.01, 0.01 / 2**0.5, 0.005, 0.005 / 2**0.5, 0.0025])
    assert cost == [0.0, 0.0, 7000.0, 0.0, 0.0, 0.0, 0.0]
    assert on == [False, False, True, True, True, True, True]
    assert lever.channel == "meme"


# ----------------------------------------------------------------- referral
# r(R_s) = r0 + (r_max − r0) · R_s / (R_s + K_s) with r0 = 0.02, r_max = 0.1, K_s = 5
REFERRAL_RATES = dict(invite_rate=0.1, base_invite_rate=0.02, referrer_half_reward=5.0)


def referral(**kw: Any) -> Referral:
    return Referral("referral", ReferralConfig(**kw))


@pytest.mark.parametrize(
    ("reward", "rate"),
    [
        (0.0, 0.02),  # no reward: sharing anyway at r0
        (5.0, 0.06),  # R = K: r0 + (r_max − r0)/2 = 0.02 + 0.04
        (15.0, 0.08),  # R = 3K: 0.02 + 0.08 · 3/4
        (1e9, 0.1),  # very large: r_max
    ],
)
def test_referral_invitation_hazard_by_hand(reward, rate):
    model = FakeModel(population([U] * 10), active_share=0.4)
    lever = bound(referral(reward_referrer=reward, **REFERRAL_RATES), model)
    lever.begin_day(model, 0)
    assert lever.hazard_today == pytest.approx(rate * 0.4)  # e = r(R_s) · DAU(t−1)/M
    assert lever.summary()["invite_rate"] == pytest.approx(rate)


def test_referral_invitation_rate_is_concave_in_the_referrer_reward():
    rewards = [0.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0]
    hazards = []
    for reward in rewards:
        model = FakeModel(population([U] * 4), active_share=1.0)
        lever = bound(referral(reward_referrer=reward, **REFERRAL_RATES), model)
        lever.begin_day(model, 0)
        hazards.append(lever.hazard_today)
    slopes = np.diff(hazards) / np.diff(rewards)
    assert (slopes > 0).all()  # more reward, more invitations …
    assert (np.diff(slopes) < 0).all()  # … with diminishing returns
    assert hazards[-1] < 0.1  # never above r_max


def test_referral_hazard_follows_the_active_share_only_while_on_whatever_the_user_weight():
    for market in (None, 100):  # w = 1 and w = 10: the share of the market active is what counts
        model = FakeModel(population([U] * 10), active_share=0.4, market=market)
        schedule = Schedule(start_day=2, end_day=3)
        lever = bound(referral(reward_referrer=5.0, schedule=schedule, **REFERRAL_RATES), model)
        hazard = []
        for t in range(1, 5):
            model.day = t
            lever.begin_day(model, t % 7)
            hazard.append(lever.hazard_today)
        assert hazard == pytest.approx([0.0, 0.024, 0.024, 0.0])  # 0.06 · 0.4
        model.active_share = 0.7
        model.day = 3
        lever.begin_day(model, 3)
        assert lever.hazard_today == pytest.approx(0.042)


@pytest.mark.parametrize(
    ("reward", "multiplier"),
    [(0.0, 1.0), (4.0, 2.0), (12.0, 2.5), (1e9, 3.0)],  # 1 + (3 − 1) · R/(R + 4)
)
def test_referral_conversion_multiplier_grows_with_the_referee_reward(reward, multiplier):
    model = FakeModel(population([U]))
    lever = bound(referral(conversion_multiplier=3.0, referee_half_reward=4.0, reward_referee=reward), model)
    lever.begin_day(model, 0)
    (conversion, churn, visit) = lever.channel_effects()["referral"]
    assert conversion == pytest.approx(multiplier) and (churn, visit) == (1.0, 1.0)
    assert lever.summary()["conversion_multiplier"] == pytest.approx(multiplier)


def test_referral_conversion_multiplier_holds_only_on_the_days_the_programme_is_on():
    """The referee is rewarded only while on (schedule and spend window): m(R_r) then, none after."""
    cfg = ReferralConfig(conversion_multiplier=3.0, referee_half_reward=1.0, reward_referee=1.0)
    cfg.schedule = Schedule(end_day=9)
    for window, last_on in ((SpendWindow(end_day=4), 4), (SpendWindow(), 9)):
        model = FakeModel(population([U]))
        lever = bound(Referral("referral", cfg, window), model)
        effects = []
        for t in (last_on, last_on + 1):
            model.day = t
            lever.begin_day(model, t % 7)
            effects.append(lever.channel_effects())
        assert effects == [{"referral": (2.0, 1.0, 1.0)}, {}]


def test_referral_check_rejects_a_base_rate_above_the_rewarded_rate():
    Referral.check("strategy.referral", ReferralConfig(invite_rate=0.05, base_invite_rate=0.05))
    with pytest.raises(ConfigError, match="base_invite_rate"):
        Referral.check("strategy.referral", ReferralConfig(invite_rate=0.05, base_invite_rate=0.06))
    with pytest.raises(ConfigError, match="target"):
        Referral.check("strategy.referral", ReferralConfig(target=Target(stages=["new"])))


def test_referral_pays_both_sides_only_for_referred_conversions():
    channel = [REFERRAL, REFERRAL, ORGANIC, WOM, SEARCH, REFERRAL, REFERRAL]
    model = FakeModel(population([A] * 7, channel=channel))
    cfg = ReferralConfig(reward_referrer=5.0, reward_referee=3.0, conversion_multiplier=2.5)
    lever = bound(Referral("referral", cfg), model)
    day = run_day(lever, model, 0, converted=[0, 1, 2, 3, 4])  # 5, 6 are referred but do not convert
    assert lever.cost_today == 2 * (5.0 + 3.0)
    assert lever.referrals == 2
    assert day.conversion == 0.1  # the boost is the model's channel table, not a hook
    run_day(lever, model, 1, converted=[6])
    assert lever.cost_today == 8.0 and lever.referrals == 3
    run_day(lever, model, 2, converted=[])
    assert lever.cost_today == 0.0
    assert lever.summary()["referrals"] == 3


def test_referral_finds_its_channel_code_in_the_models_list():
    model = FakeModel(population([A, A, A]), channels=["organic", "word_of_mouth", "search", "referral"])
    lever = bound(Referral("referral", ReferralConfig(reward_referrer=1.0, reward_referee=1.0)), model)
    model.population.channel[:] = [2, 3, 3]
    run_day(lever, model, 0, converted=[0, 1, 2])
    assert lever.referrals == 2 and lever.cost_today == 4.0


def test_referral_pays_only_for_conversions_while_on():
    """Friends invited while on who convert after the schedule or the spend window has ended are not rewarded."""
    cfg = ReferralConfig(reward_referrer=5.0, reward_referee=3.0, schedule=Schedule(end_day=9))
    for window, last_paid in ((SpendWindow(end_day=4), 4), (SpendWindow(), 9)):
        model = FakeModel(population([A] * 4, channel=[REFERRAL] * 4))
        lever = bound(Referral("referral", cfg, window), model)
        for slot, t in enumerate((last_paid - 1, last_paid, last_paid + 1, last_paid + 2)):
            run_day(lever, model, t, converted=[slot])
            assert lever.cost_today == (8.0 if t <= last_paid else 0.0)
        assert lever.referrals == 2 and lever.charged_total == 16.0


# ------------------------------------------------------------------- coupon
# V = 30, K = 10: s(V) = 3/4; m(V) = 1 + (3 − 1) · 3/4 = 2.5; P(redeem) = 0.5 · 3/4 = 0.375 (exact in float32)
LIFT, REDEEM = 2.5, 0.375


def coupon_model() -> FakeModel:
    # slots 0..5 AWARE (casual, power alternating), 6 UNAWARE, 7 NEW
    seg = [CASUAL, POWER, CASUAL, POWER, CASUAL, POWER, POWER, POWER]
    churn = [0.1, 0.1, 0.1, 0.9, 0.1, 0.1, 0.1, 0.1]
    visit = [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
    return FakeModel(population([A, A, A, A, A, A, U, N], segment=seg, churn=churn, visit=visit))


def coupon(**kw: Any) -> Coupon:
    kw.setdefault("target", Target(segments=["power"]))
    kw.setdefault("quality", QualityConfig(churn_multiplier=1.5, visit_multiplier=0.5))
    kw.setdefault("value", 30.0)
    cfg = dict(half_value=10.0, conversion_multiplier=3.0, redemption_rate=0.5)
    cfg.update(kw)
    return Coupon("new_user_coupon", CouponConfig(**cfg))


@pytest.mark.parametrize(
    ("value", "lift"),
    [(0.0, 1.0), (10.0, 2.0), (30.0, 2.5), (1e9, 3.0)],  # 1 + (3 − 1) · V/(V + 10)
)
def test_coupon_lift_by_hand(value, lift):
    model = coupon_model()
    lever = bound(coupon(value=value, target=Target()), model)
    assert run_day(lever, model, 0, conversion=0.1).conversion == pytest.approx(0.1 * lift)
    assert lever.summary()["conversion_multiplier"] == pytest.approx(lift)


def test_coupon_boosts_conversion_of_targeted_aware_slots_only():
    model = coupon_model()
    lever = bound(coupon(), model)
    day = run_day(lever, model, 0, conversion=0.1)
    assert per_slot(day.conversion, 6) == pytest.approx([0.1, 0.25, 0.1, 0.25, 0.1, 0.25])
    # an array aligned with the aware slots (e.g. after channel multipliers) is scaled the same way
    day = run_day(lever, model, 1, conversion=np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], np.float32))
    assert per_slot(day.conversion, 6) == pytest.approx([0.1, 0.5, 0.3, 1.0, 0.5, 1.5])


def test_coupon_conversion_boost_only_while_on():
    model = coupon_model()
    lever = bound(coupon(schedule=Schedule(start_day=2, end_day=3)), model)
    boosted = [per_slot(run_day(lever, model, t, conversion=0.1).conversion, 6)[1] for t in range(1, 5)]
    assert boosted == pytest.approx([0.1, 0.25, 0.25, 0.1])


@pytest.mark.parametrize(
    ("value", "redeem"),
    [(10.0, 0.25), (30.0, 0.375), (90.0, 0.45)],  # ρ_max · V/(V + K) = 0.5 · V/(V + 10)
)
def test_coupon_redemption_probability_by_hand(value, redeem):
    assert coupon(value=value).summary()["redemption_rate"] == pytest.approx(redeem)


def test_coupon_only_redeemers_are_flagged_weakened_and_charged():
    model = coupon_model()
    pop = model.population
    lever = bound(coupon(), model)
    # converts 1, 3, 5 (power, targeted) and 2 (casual); u < 0.375 redeems: 1 and 3, not 5 (0.6); 2 is not targeted
    model.streams.set(lever.stream, 0, [FAR, 0.1, 0.0, 0.3, FAR, 0.6, FAR, FAR])
    run_day(lever, model, 0, converted=[1, 2, 3, 5])
    assert (pop.flags & FLAG_COUPON).astype(bool).tolist() == [False, True, False, True] + [False] * 4
    assert lever.redeemed == 2 and lever.cost_today == 2 * 30.0
    # θ·1.5 (slot 3: 0.9·1.5 capped at 1), π·0.5 for redeemers; non-redeemers and the casual convert unchanged
    assert pop.churn_hazard == pytest.approx([0.1, 0.15, 0.1, 1.0, 0.1, 0.1, 0.1, 0.1])
    assert pop.visit_propensity == pytest.approx([0.5, 0.25, 0.5, 0.25, 0.5, 0.5, 0.5, 0.5])
    assert lever.summary() == {"coupons_redeemed": 2, "conversion_multiplier": LIFT, "redemption_rate": REDEEM}


def test_coupon_redeems_strictly_below_the_redemption_probability():
    model = coupon_model()
    lever = bound(coupon(), model)
    below = np.nextafter(np.float32(REDEEM), np.float32(0))
    model.streams.set(lever.stream, 0, [FAR, REDEEM, FAR, below, FAR, FAR, FAR, FAR])
    run_day(lever, model, 0, converted=[1, 3])
    assert (model.population.flags & FLAG_COUPON).astype(bool).tolist() == [False] * 3 + [True] + [False] * 4
    assert lever.redeemed == 1 and lever.cost_today == 30.0


def test_coupon_of_no_value_is_never_redeemed():
    model = coupon_model()
    lever = bound(coupon(value=0.0), model)
    model.streams.set(lever.stream, 0, [0.0] * 8)
    run_day(lever, model, 0, converted=[1, 3])
    assert lever.redeemed == 0 and lever.cost_today == 0.0
    assert not (model.population.flags & FLAG_COUPON).any()


def test_coupon_visit_quality_is_capped_at_one():
    model = coupon_model()
    lever = bound(coupon(quality=QualityConfig(churn_multiplier=1.0, visit_multiplier=3.0)), model)
    model.streams.set(lever.stream, 0, [0.0] * 8)
    run_day(lever, model, 0, converted=[1])
    assert model.population.visit_propensity[1] == 1.0


def test_coupon_not_redeemed_by_users_acquired_while_off():
    model = coupon_model()
    lever = bound(coupon(schedule=Schedule(start_day=1, end_day=1)), model)
    for t, conv in ((0, [1]), (1, [3]), (2, [5])):
        model.streams.set(lever.stream, t, [0.0] * 8)
        run_day(lever, model, t, converted=conv)
        assert lever.cost_today == (30.0 if t == 1 else 0.0)
    assert (model.population.flags & FLAG_COUPON).astype(bool).tolist() == [False, False, False, True] + [False] * 4
    assert model.population.churn_hazard[[1, 5]] == pytest.approx([0.1, 0.1])


# --------------------------------------------------------------- onboarding
def onboarding_model() -> FakeModel:
    seg = [CASUAL, CASUAL, POWER, CASUAL, CASUAL, CASUAL]
    return FakeModel(population([A] * 6, segment=seg))


def expected_onboarding_hazard(pop: Population, t: int, days: int, multiplier: float) -> list[float]:
    """multiplier where onboarded and tenure t − acq_day < days, else 1."""
    onboarded = (pop.flags & FLAG_ONBOARDED) != 0
    early = onboarded & (t - pop.acquired_day.astype(int) < days)
    return np.where(early, multiplier, 1.0).tolist()


def test_onboarding_charges_and_flags_targeted_new_users_only():
    model = onboarding_model()
    cfg = OnboardingConfig(cost_per_user=2.0, hazard_multiplier=0.5, days=3, target=Target(segments=["casual"]))
    lever = bound(Onboarding("onboarding", cfg), model)
    run_day(lever, model, 10, converted=[0, 1, 2])  # 2 is power: not targeted
    assert lever.cost_today == 4.0 and lever.onboarded == 2
    assert (model.population.flags & FLAG_ONBOARDED).astype(bool).tolist() == [True, True, False, False, False, False]
    assert lever.summary() == {"users_onboarded": 2}


def test_onboarding_hazard_window_is_exactly_days_days_after_acquisition():
    model = onboarding_model()
    pop = model.population
    lever = bound(Onboarding("onboarding", OnboardingConfig(cost_per_user=2.0, hazard_multiplier=0.5, days=3)), model)
    acquisitions = {10: [0], 11: [1]}
    hazards = {}
    for t in range(10, 16):
        day = run_day(lever, model, t, converted=acquisitions.get(t, []))
        hazards[t] = per_slot(day.fx.hazard, 6).tolist()
        assert hazards[t] == expected_onboarding_hazard(pop, t, days=3, multiplier=0.5)
        assert lever.cost_today == (2.0 if t in acquisitions else 0.0)
    # by hand: slot 0 (acquired day 10) has tenure 0, 1, 2 on days 10..12 and leaves on day 13
    assert [hazards[t][0] for t in range(10, 16)] == [0.5, 0.5, 0.5, 1.0, 1.0, 1.0]
    assert [hazards[t][1] for t in range(10, 16)] == [1.0, 0.5, 0.5, 0.5, 1.0, 1.0]


def test_onboarding_skips_users_acquired_while_off():
    model = onboarding_model()
    cfg = OnboardingConfig(cost_per_user=2.0, hazard_multiplier=0.5, days=5, schedule=Schedule(start_day=11))
    lever = bound(Onboarding("onboarding", cfg), model)
    first = run_day(lever, model, 10, converted=[0])
    assert lever.cost_today == 0.0 and per_slot(first.fx.hazard, 6).tolist() == [1.0] * 6
    second = run_day(lever, model, 11, converted=[1])
    assert lever.cost_today == 2.0
    assert per_slot(second.fx.hazard, 6).tolist() == [1.0, 0.5, 1.0, 1.0, 1.0, 1.0]
    assert model.population.flags[0] & FLAG_ONBOARDED == 0


def test_onboarding_keeps_state_per_chunk():
    model = FakeModel(population([A] * 8))
    lever = bound(Onboarding("onboarding", OnboardingConfig(hazard_multiplier=0.5, days=2)), model)
    first = run_day(lever, model, 0, converted=[1], index=1, lo=4, hi=8)  # global slot 5
    other = run_day(lever, model, 0, converted=[], index=0, lo=0, hi=4)
    assert per_slot(first.fx.hazard, 4).tolist() == [1.0, 0.5, 1.0, 1.0]
    assert per_slot(other.fx.hazard, 4).tolist() == [1.0] * 4
    assert model.population.flags[5] & FLAG_ONBOARDED


# ------------------------------------------------------------------ content
def test_content_costs_its_daily_cost_only_on_scheduled_days():
    model = FakeModel(population([N]))
    lever = bound(Content("content", ContentConfig(daily_cost=300.0, schedule=Schedule(start_day=1, end_day=2))), model)
    costs = [(run_day(lever, model, t), lever.cost_today)[1] for t in range(4)]
    assert costs == [0.0, 300.0, 300.0, 0.0]


def test_content_scales_visits_and_hazard_of_targeted_users_only():
    model = FakeModel(population([N, R, ACT, D, ACT], segment=[POWER, POWER, CASUAL, POWER, POWER]))
    cfg = ContentConfig(hazard_multiplier=0.8, visit_multiplier=1.25, target=Target(stages=["activated"]))
    lever = bound(Content("content", cfg), model)
    day = run_day(lever, model, 0)
    assert per_slot(day.fx.visit, 5) == pytest.approx([1.0, 1.0, 1.25, 1.0, 1.25])
    assert per_slot(day.fx.hazard, 5) == pytest.approx([1.0, 1.0, 0.8, 1.0, 0.8])


def test_content_does_nothing_while_off():
    model = FakeModel(population([N, R]))
    lever = bound(Content("content", ContentConfig(schedule=Schedule(start_day=5))), model)
    day = run_day(lever, model, 4)
    assert day.fx.visit == 1.0 and day.fx.hazard == 1.0 and lever.cost_today == 0.0


# --------------------------------------------------------------------- push
PUSH_CFG = dict(
    messages_per_week=3.5,  # f/7 = 0.5
    cost_per_message=0.01,
    visit_lift=1.0,
    fatigue_decay=0.5,
    fatigue_churn=0.1,
    opt_out_per_fatigue=0.2,  # opt out if u < 0.5 · 0.2 · F = 0.1 F
)


def test_push_by_hand_over_three_days():
    #             0  1  2    3  4  5  6  7 (opted out)
    stages = [N, R, ACT, D, C, A, U, R]
    alive = [True, True, True, False, True, False, False, True]  # 3 is latent-dead: messaged and paid for
    flags = [0] * 7 + [int(FLAG_PUSH_OPT_OUT)]
    model = FakeModel(population(stages, alive=alive, flags=flags))
    lever = bound(Push("push", PushConfig(schedule=Schedule(end_day=1), **PUSH_CFG)), model)
    s = model.streams
    s.set(lever.stream, 0, [0.1, 0.5, 0.49, 0.3, 0.0, 0.0, 0.0, 0.0])
    s.set(lever.stream, 1, [0.12, 0.2, 0.9, 0.9, 0.0, 0.0, 0.0, 0.0])
    s.set(lever.stream, 2, [0.0] * 8)  # off: must be ignored

    # Day 0: messages to 0, 2, 3, 4 (u < 0.5; slot 1 sits on the boundary u = 0.5; 5, 6 not
    # acquired; 7 opted out). F = 1 for them. Opt out if u < 0.1: slot 4 (u = 0), not slot 0 (u = 0.1).
    day = run_day(lever, model, 0)
    assert lever.messages == 4 and lever.cost_today == pytest.approx(0.04)
    assert lever.fatigue == pytest.approx([1, 0, 1, 1, 1, 0, 0, 0])
    assert lever.opt_outs == 1
    assert (model.population.flags & FLAG_PUSH_OPT_OUT).astype(bool).tolist() == [0, 0, 0, 0, 1, 0, 0, 1]
    assert per_slot(day.fx.visit, 8).tolist() == [2, 1, 2, 2, 2, 1, 1, 1]
    assert per_slot(day.fx.hazard, 8) == pytest.approx([1.1, 1, 1.1, 1.1, 1.1, 1, 1, 1])

    # Day 1: eligible 0..3 (4 opted out yesterday); messages to 0 (u .12) and 1 (u .2).
    # F = F/2 + msg = 1.5, 1, .5, .5, .5. Opt out: slot 0 (.12 < 0.1 · 1.5, only because its
    # fatigue grew), not slot 1 (.2 ≥ 0.1).
    day = run_day(lever, model, 1)
    assert lever.messages == 6 and lever.cost_today == pytest.approx(0.02)
    assert lever.fatigue == pytest.approx([1.5, 1, 0.5, 0.5, 0.5, 0, 0, 0])
    assert lever.opt_outs == 2
    assert (model.population.flags & FLAG_PUSH_OPT_OUT).astype(bool).tolist() == [1, 0, 0, 0, 1, 0, 0, 1]
    assert per_slot(day.fx.visit, 8).tolist() == [2, 2, 1, 1, 1, 1, 1, 1]
    assert per_slot(day.fx.hazard, 8) == pytest.approx([1.225, 1.1, 1.025, 1.025, 1.025, 1, 1, 1])

    # Day 2: off. No messages, no cost, no lift; fatigue keeps decaying and still raises the hazard.
    day = run_day(lever, model, 2)
    assert lever.messages == 6 and lever.cost_today == 0.0
    assert lever.fatigue == pytest.approx([0.75, 0.5, 0.25, 0.25, 0.25, 0, 0, 0])
    assert per_slot(day.fx.visit, 8).tolist() == [1.0] * 8
    assert per_slot(day.fx.hazard, 8) == pytest.approx([1.05625, 1.025, 1.00625, 1.00625, 1.00625, 1, 1, 1])
    assert lever.summary() == {"messages_sent": 6, "opt_outs": 2}


def test_push_at_one_message_a_week_or_fewer_still_tires_and_recovers():
    """Fatigue churn and its decay after the programme depend on having sent, not on sending more than weekly."""
    model = FakeModel(population([N, R]))
    cfg = dict(PUSH_CFG, messages_per_week=0.7, opt_out_per_fatigue=0.0)  # f/7 = 0.1
    lever = bound(Push("push", PushConfig(schedule=Schedule(end_day=0), **cfg)), model)
    model.streams.set(lever.stream, 0, [0.05, 0.5])  # slot 0 messaged (u < 0.1), slot 1 not
    day = run_day(lever, model, 0)
    assert lever.messages == 1 and lever.fatigue == pytest.approx([1, 0])
    assert per_slot(day.fx.hazard, 2) == pytest.approx([1.1, 1])  # 1 + κ_F · F² with κ_F = 0.1
    day = run_day(lever, model, 1)  # off: fatigue halves (δ = 0.5) and still raises the hazard
    assert lever.fatigue == pytest.approx([0.5, 0])
    assert per_slot(day.fx.hazard, 2) == pytest.approx([1.025, 1])


def test_push_messages_only_targeted_users():
    model = FakeModel(population([R, R, R, R], segment=[CASUAL, POWER, CASUAL, POWER]))
    lever = bound(Push("push", PushConfig(target=Target(segments=["power"]), **PUSH_CFG)), model)
    model.streams.set(lever.stream, 0, [0.3, 0.3, 0.3, 0.3])
    day = run_day(lever, model, 0)
    assert lever.messages == 2
    assert lever.fatigue.tolist() == [0, 1, 0, 1]
    assert per_slot(day.fx.visit, 4).tolist() == [1, 2, 1, 2]


def test_push_fatigue_lives_on_the_chunks_slots():
    model = FakeModel(population([R] * 10))
    lever = bound(Push("push", PushConfig(**PUSH_CFG)), model)
    model.streams.set(lever.stream, 0, [FAR, 0.3, FAR, FAR], chunk=1)  # chunk 1 = slots 6..9
    run_day(lever, model, 0, index=0, lo=0, hi=6)
    day = run_day(lever, model, 0, index=1, lo=6, hi=10)
    assert np.flatnonzero(lever.fatigue).tolist() == [7]
    assert per_slot(day.fx.visit, 4).tolist() == [1, 2, 1, 1]


def push_reference(stage, opted_out, uniforms, on, cfg):
    """The push docstring, one user and one day at a time (float64)."""
    rate = cfg.messages_per_week / 7
    n = len(stage)
    fatigue, out = [0.0] * n, list(opted_out)
    messages, opt_outs, costs, hazards = 0, 0, [], []
    for u, is_on in zip(uniforms, on, strict=True):
        sent = 0
        for i in range(n):
            msg = is_on and stage[i] >= N and not out[i] and u[i] < rate
            fatigue[i] = fatigue[i] * (1 - cfg.fatigue_decay) + msg
            if msg:
                sent += 1
                if u[i] < rate * cfg.opt_out_per_fatigue * fatigue[i]:
                    out[i] = True
                    opt_outs += 1
        messages += sent
        costs.append(sent * cfg.cost_per_message)
        hazards.append([1 + cfg.fatigue_churn * f * f for f in fatigue])
    return messages, opt_outs, costs, hazards, out


def test_push_matches_a_per_user_reference_on_real_streams():
    """Deterministic: the reference reads the same uniforms, so no tolerance beyond float32 rounding."""
    rng = np.random.default_rng(7)
    n, days = 60, 20
    stage = rng.choice([U, A, N, R, ACT, D, C], size=n).tolist()
    cfg = PushConfig(
        messages_per_week=5.6,
        cost_per_message=0.5,
        visit_lift=0.5,
        fatigue_decay=0.2,
        fatigue_churn=0.05,
        opt_out_per_fatigue=0.15,
        schedule=Schedule(start_day=2, end_day=14),
    )
    model = FakeModel(population(stage), streams=Streams(11))
    lever = bound(Push("push", cfg), model)
    streams = Streams(11)
    uniforms = [streams.uniforms("lever:push:push", t, 0, n).astype(float).tolist() for t in range(days)]
    on = [2 <= t <= 14 for t in range(days)]
    messages, opt_outs, costs, hazards, out = push_reference(stage, [False] * n, uniforms, on, cfg)
    for t in range(days):
        day = run_day(lever, model, t)
        assert lever.cost_today == pytest.approx(costs[t])
        assert per_slot(day.fx.hazard, n) == pytest.approx(hazards[t], rel=1e-5)
    assert (lever.messages, lever.opt_outs) == (messages, opt_outs)
    assert ((model.population.flags & FLAG_PUSH_OPT_OUT) != 0).tolist() == out
    assert opt_outs > 0 and messages > 100  # the reference exercised both paths


# --------------------------------------------------------------- incentives
def incentives_model() -> FakeModel:
    return FakeModel(population([R] * 6, segment=[POWER, POWER, CASUAL, CASUAL, POWER, CASUAL]))


def incentives(**kw: Any) -> Incentives:
    cfg = dict(cost_per_reward=0.1, visit_lift=0.5, dependence_gain=0.5, dependence_decay=0.5, post_stop_drop=0.8)
    cfg.update(kw)
    return Incentives("incentives", IncentivesConfig(**cfg))


def test_incentives_by_hand_while_on_and_after_stop():
    model = incentives_model()
    lever = bound(incentives(schedule=Schedule(end_day=1), target=Target(segments=["power"])), model)
    # Day 0: lift 1.5 for power users; visits of 0 (power) and 2 (casual): one reward, D0 = 0.5
    day = run_day(lever, model, 0, visited=[0, 2])
    assert per_slot(day.fx.visit, 6).tolist() == [1.5, 1.5, 1, 1, 1.5, 1]
    assert lever.rewards == 1 and lever.cost_today == pytest.approx(0.1)
    assert lever.dependence.tolist() == [0.5, 0, 0, 0, 0, 0]
    # Day 1: visits of 0, 1, 3: two rewards; D0 = .5 + .5·.5 = .75, D1 = .5
    run_day(lever, model, 1, visited=[0, 1, 3])
    assert lever.rewards == 3 and lever.cost_today == pytest.approx(0.2)
    assert lever.dependence.tolist() == [0.75, 0.5, 0, 0, 0, 0]
    # Day 2 (off): visit × max(0, 1 − 0.8 D) with yesterday's D, then D halves; no rewards
    day = run_day(lever, model, 2, visited=[0, 1, 4])
    assert per_slot(day.fx.visit, 6) == pytest.approx([0.4, 0.6, 1, 1, 1, 1])
    assert lever.rewards == 3 and lever.cost_today == 0.0
    assert lever.dependence.tolist() == [0.375, 0.25, 0, 0, 0, 0]
    # Day 3: the dip recovers as D decays
    day = run_day(lever, model, 3)
    assert per_slot(day.fx.visit, 6) == pytest.approx([0.7, 0.8, 1, 1, 1, 1])
    assert lever.dependence.tolist() == [0.1875, 0.125, 0, 0, 0, 0]
    assert lever.summary() == {"rewards_paid": 3}


def test_incentives_post_stop_multiplier_is_floored_at_zero():
    model = incentives_model()
    lever = bound(incentives(post_stop_drop=2.0, schedule=Schedule(end_day=0)), model)
    run_day(lever, model, 0, visited=[0])  # D0 = 0.5
    day = run_day(lever, model, 1)
    assert per_slot(day.fx.visit, 6).tolist() == [0.0, 1, 1, 1, 1, 1]  # 1 − 2·0.5 = 0


def test_incentives_reward_new_users_first_visit_when_untargeted():
    model = FakeModel(population([A, R, U]))
    lever = bound(incentives(), model)
    run_day(lever, model, 0, converted=[0], visited=[1])
    assert lever.rewards == 2 and lever.dependence.tolist() == [0.5, 0.5, 0.0]


def test_incentives_targeted_at_new_users_reward_the_acquisition_visit():
    model = FakeModel(population([A, N, R]))
    lever = bound(incentives(target=Target(stages=["new"])), model)
    run_day(lever, model, 0, converted=[0], visited=[1, 2])  # 0 converts today: NEW from the acquisition step on
    assert model.population.stage[0] == N  # run_day, like the model, has made the convert NEW before on_visits
    assert lever.rewards == 2  # slots 0 and 1, not the retained slot 2


def test_users_acquired_today_are_new_for_the_hazard_hooks():
    model = FakeModel(population([A, A, N, R]))
    cfg = ContentConfig(hazard_multiplier=0.5, visit_multiplier=1.0, target=Target(stages=["new"]))
    lever = bound(Content("content", cfg), model)
    day = run_day(lever, model, 0, converted=[0])  # 0 is acquired today, 1 stays aware
    assert per_slot(day.fx.hazard, 4).tolist() == [0.5, 1.0, 0.5, 1.0]


# ------------------------------------------------------------------ winback
WINBACK_CFG = dict(
    silent_days=7,
    max_silent_days=30,
    recontact_days=10,
    reach=0.5,
    cost_per_contact=1.0,
    cost_per_redemption=10.0,
    response_alive=0.4,  # alive returns if u < 0.5 · 0.4 = 0.2
    resurrect_dead=0.1,  # dead resurrected if u < 0.5 · 0.1 = 0.05
)


def test_winback_by_hand():
    t = 100
    #       slot: 0     1     2     3     4      5      6     7     8     9     10
    stage = [D, D, C, C, D, C, D, R, D, D, D]
    alive = [True, True, True, True, False, False, True, True, True, True, True]
    silence = [7, 6, 30, 31, 10, 20, 10, 10, 10, 10, 10]
    u = [0.1, 0.0, 0.3, 0.0, 0.1, 0.04, 0.5, 0.0, 0.0, 0.15, 0.2]
    seg = [CASUAL] * 11
    model = FakeModel(population(stage, alive=alive, segment=seg, last_visit_day=[t - s for s in silence]))
    lever = bound(Winback("winback", WinbackConfig(**WINBACK_CFG)), model)
    model.streams.set(lever.stream, t, u)
    day = run_day(lever, model, t, visited=[8])
    # eligible & u < 0.5: 0 (σ = 7, lower edge), 2 (σ = 30, upper edge), 4, 5, 9, 10;
    # not 1 (σ = 6), 3 (σ = 31), 6 (u = reach), 7 (retained), 8 (visiting anyway)
    assert lever.contacts == 6
    assert np.flatnonzero(lever.last_contact == t).tolist() == [0, 2, 4, 5, 9, 10]
    # alive return if u < 0.2: 0 (.1), 9 (.15), not 2 (.3) or 10 (.2 on the edge);
    # dead resurrected if u < 0.05: 5 (.04), not 4 (.1, which an alive user would have had)
    assert day.ev.extra_visitors[0].tolist() == [0, 5, 9]
    assert lever.returned == 3 and lever.resurrected == 1
    assert np.flatnonzero(day.ev.visited).tolist() == [0, 5, 8, 9]
    assert model.population.alive.tolist() == [True, True, True, True, False, True, True, True, True, True, True]
    assert lever.cost_today == pytest.approx(6 * 1.0 + 3 * 10.0)
    assert lever.summary() == {"contacts": 6, "returned": 3, "resurrected": 1}


def test_winback_recontacts_exactly_after_recontact_days():
    t0 = 100
    cfg = dict(WINBACK_CFG, reach=0.9, response_alive=0.0, resurrect_dead=0.0, max_silent_days=60)
    model = FakeModel(population([D, D], last_visit_day=[t0 - 10, t0 - 10]))
    lever = bound(Winback("winback", WinbackConfig(**cfg)), model)
    contacted = []
    for t in range(t0, t0 + 12):
        model.streams.set(lever.stream, t, [0.0, FAR])  # slot 1 is never within reach
        before = lever.contacts
        run_day(lever, model, t)
        contacted.append(lever.contacts - before)
        assert lever.cost_today == contacted[-1] * 1.0
    # contacted on day 100, not again on 101..109 (9 days later at most), again on 110 = 100 + 10
    assert contacted == [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]


def test_winback_targets_segments_and_stays_off_outside_its_schedule():
    t = 50
    model = FakeModel(population([D, D, C, C], segment=[CASUAL, POWER, CASUAL, POWER], last_visit_day=[t - 10] * 4))
    cfg = dict(WINBACK_CFG, schedule=Schedule(start_day=t, end_day=t), target=Target(segments=["power"]))
    lever = bound(Winback("winback", WinbackConfig(**cfg)), model)
    for day in (t - 1, t, t + 1):
        model.streams.set(lever.stream, day, [0.0] * 4)
    run_day(lever, model, t - 1)
    assert lever.contacts == 0 and lever.cost_today == 0.0
    day = run_day(lever, model, t)
    assert np.flatnonzero(lever.last_contact == t).tolist() == [1, 3]
    assert day.ev.extra_visitors[0].tolist() == [1, 3]
    run_day(lever, model, t + 1)
    assert lever.contacts == 2 and lever.cost_today == 0.0


def test_winback_matches_the_rule_on_real_streams():
    """Deterministic: the expected sets are computed from the very uniforms the lever reads."""
    t, n = 200, 400
    rng = np.random.default_rng(3)
    stage = rng.choice([R, ACT, D, C], size=n)
    alive = rng.random(n) < 0.5
    silence = rng.integers(0, 60, size=n)
    visited = rng.random(n) < 0.1
    model = FakeModel(
        population(stage.tolist(), alive=alive.tolist(), last_visit_day=(t - silence).tolist()), streams=Streams(5)
    )
    cfg = WinbackConfig(**dict(WINBACK_CFG, reach=0.6, response_alive=0.5, resurrect_dead=0.2))
    lever = bound(Winback("winback", cfg), model)
    u = Streams(5).uniforms("lever:winback:winback", t, 0, n).astype(float)
    day = run_day(lever, model, t, visited=np.flatnonzero(visited).tolist())
    eligible = (stage >= D) & (silence >= 7) & (silence <= 30) & ~visited
    contacted = eligible & (u < 0.6)
    back = contacted & np.where(alive, u < 0.6 * 0.5, u < 0.6 * 0.2)
    assert lever.contacts == contacted.sum() > 20
    assert day.ev.extra_visitors[0].tolist() == np.flatnonzero(back).tolist()
    assert lever.resurrected == (back & ~alive).sum() > 0
    assert lever.cost_today == pytest.approx(contacted.sum() * 1.0 + back.sum() * 10.0)


def test_winback_max_silent_days_is_bounded_by_the_schema():
    check_ranges(WinbackConfig(max_silent_days=3650), "strategy.winback")
    with pytest.raises(ConfigError, match=r"strategy\.winback\.max_silent_days"):
        check_ranges(WinbackConfig(max_silent_days=20_000), "strategy.winback")


def test_winback_never_contacts_slots_that_were_never_acquired():
    """At the longest window (3650 days) on the last day of the longest horizon, NEVER is still out of reach."""
    t = 3649
    model = FakeModel(population([U, A, D], alive=[False, False, True], last_visit_day=[NEVER, NEVER, 0]))
    cfg = dict(WINBACK_CFG, max_silent_days=3650, reach=1.0, response_alive=1.0, resurrect_dead=1.0)
    lever = bound(Winback("winback", WinbackConfig(**cfg, target=Target(stages=[]))), model)
    model.streams.set(lever.stream, t, [0.0, 0.0, 0.0])
    run_day(lever, model, t)
    assert lever.contacts == 1  # the dormant user only (silent 3649 days)
    assert np.flatnonzero(lever.last_contact == t).tolist() == [2]
    assert model.population.alive.tolist() == [False, False, True]
    assert lever.cost_today == 1.0 + 10.0
