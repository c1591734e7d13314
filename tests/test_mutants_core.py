"""Tests that kill surviving mutants of ``sim/core`` (docs/mutation.md).

The core computes in float32 on purpose (25 bytes per user; the reference stepping
must reproduce the vectorized core bit for bit), so some of these pin dtypes as well
as values. Hand-built arrays and fixed seeds; every expected value is exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
from protocol_lever import ProtocolOnlyLever

from sim.base.errors import ConfigError
from sim.core import model as model_module
from sim.core.awareness import AwarenessConfig, become_aware
from sim.core.daily_log import DailyLog
from sim.core.flags import FLAG_COUPON, FLAG_EVER_AWARE
from sim.core.hooks import Effects
from sim.core.lifecycle import LifecycleConfig, Stage
from sim.core.model import MAX_CHANNELS, LifecycleModel
from sim.core.population import (
    NEVER,
    OrderValueConfig,
    Population,
    PopulationConfig,
    SegmentConfig,
    SegmentTable,
    check_population,
)
from sim.core.rng import CHUNK_SIZE, Streams
from sim.core.survival import ChurnConfig, death_probability, exponent_steps
from sim.core.visits import VisitConfig
from sim.levers.base import Lever, QualityConfig, Schedule, Target
from sim.levers.content import Content, ContentConfig
from sim.levers.coupon import CouponConfig
from sim.levers.incentives import Incentives, IncentivesConfig
from sim.levers.paid_ads import PaidAds, PaidAdsConfig
from sim.levers.push import Push, PushConfig
from sim.levers.viral_event import ViralEvent, ViralEventConfig
from sim.levers.winback import Winback, WinbackConfig


# -------------------------------------------------------------------- hooks
def test_effects_scale_at_builds_float32_multipliers():
    """From a scalar, and from a multiplier the chunk does not own (a view of a float64 one)."""
    fx = Effects(hazard=0.5, visit=np.array([1.0, 2.0, 3.0, 4.0])[1:4])
    fx.scale_at("hazard", np.array([1]), 3.0, 3)
    fx.scale_at("visit", np.array([0]), 0.5, 3)
    assert fx.hazard.dtype == np.float32 and fx.hazard.tolist() == [0.5, 1.5, 0.5]
    assert fx.visit.dtype == np.float32 and fx.visit.tolist() == [1.0, 3.0, 4.0]


# -------------------------------------------------------------------- model
def test_lazy_agents_are_created_once_on_demand_and_slots_are_bounded():
    pop = PopulationConfig(market_size=50, segments={"all": SegmentConfig()})
    model = LifecycleModel(pop, horizon_days=3, seed=0, agents="lazy")
    assert len(model.agents) == 0
    user = model.user(49)
    assert model.user(49) is user and user.slot == 49 and len(model.agents) == 1
    assert model.user(0).slot == 0 and len(model.agents) == 2
    for bad in (-1, 50):
        with pytest.raises(IndexError, match=rf"^slot={bad} is out of range: 0 <= slot < 50$"):
            model.user(bad)


def small_model(levers=(), record_events: bool = True, **kw) -> LifecycleModel:
    cfg = dict(market_size=400, awareness=AwarenessConfig(p=0.05, q=0.0), conversion_rate=0.5)
    pop = PopulationConfig(segments={"all": SegmentConfig()}, **{**cfg, **kw})
    return LifecycleModel(pop, horizon_days=6, seed=1, levers=levers, agents="lazy", record_events=record_events)


def test_at_most_127_acquisition_channels():
    model = small_model()
    for i in range(MAX_CHANNELS - 2):  # organic and word of mouth are there already
        model._channel_code(f"c{i}")
    assert len(model.channels) == MAX_CHANNELS == 127
    with pytest.raises(ValueError, match=r"^channel='one_more': at most 127 acquisition channels$"):
        model._channel_code("one_more")
    assert model._channel_code("c0") == 2  # a known channel keeps its code


def test_a_channel_added_by_the_user_during_the_run_extends_the_lever_channel_tables():
    """Users made aware by a user-set channel convert at the organic rate next to an ad channel with quality."""
    ads = PaidAds("search", PaidAdsConfig(daily_budget=0.0, conversion_multiplier=2.0))
    model = small_model([ads])
    model.step()
    model.modifiers.awareness = {"tv": 0.5}
    for _ in range(3):
        model.step()
    code = model.channels.index("tv")
    assert model._channel_tables["conversion"].tolist() == [1.0, 1.0, 1.0, 2.0, 1.0]
    assert code == 3 and model.log.columns["new_users_tv"].sum() > 0


def test_events_of_a_run_without_recorded_visits_are_empty_typed_arrays():
    for model in (small_model(), small_model(record_events=False)):
        if not model.record_events:
            model.step()
        slots, days = model.events()
        assert slots.dtype == np.int32 and slots.shape == (0,)
        assert days.dtype == np.int16 and days.shape == (0,)


def test_a_model_keeps_its_visit_events_unless_told_otherwise():
    pop = PopulationConfig(market_size=400, awareness=AwarenessConfig(p=0.5, q=0.0), segments={"all": SegmentConfig()})
    model = LifecycleModel(pop, horizon_days=2, seed=1)
    model.step()
    model.step()
    slots, days = model.events()
    assert slots.size == model.log.columns["dau"].sum() > 0 and days.size == slots.size


def test_events_are_int32_slots_and_int16_days():
    model = small_model()
    for _ in range(4):
        model.step()
    slots, days = model.events()
    assert slots.dtype == np.int32 and days.dtype == np.int16 and slots.size == days.size > 0
    assert np.all(np.diff(days) >= 0)


def test_weekday_column_counts_forward_from_the_start_weekday():
    model = small_model(start_weekday=5)
    for _ in range(6):
        model.step()
    assert model.log.columns["weekday"].tolist() == [5, 6, 0, 1, 2, 3]


def test_awareness_hazard_adds_lever_and_user_channels_to_p():
    """h = p + q·DAU/M + Σ e_k: p = 0.05, q = 0, a viral spike of 0.25 on day 0, a user channel of 0.1."""
    event = ViralEvent("launch", ViralEventConfig(day=0, cost=0.0, peak_hazard=0.25, half_life_days=1.0))
    model = small_model([event])
    model.modifiers.awareness = {"tv": 0.1}
    model.step()
    assert model.log.columns["awareness_hazard"][0] == np.float32(0.05 + 0.25 + 0.1)
    alone = small_model()
    alone.modifiers.awareness = {"tv": 0.1}
    alone.step()
    assert alone.log.columns["awareness_hazard"][0] == np.float32(0.05 + 0.1)
    assert alone.log.columns["new_users_tv"][0] > 0


def test_a_user_channel_that_is_also_a_lever_channel_adds_to_the_lever_hazard():
    event = ViralEvent("launch", ViralEventConfig(day=0, cost=0.0, peak_hazard=0.25, half_life_days=1.0))
    model = small_model([event])
    model.modifiers.awareness = {"launch": 0.1}
    model.step()
    assert model.log.columns["awareness_hazard"][0] == np.float32(0.05 + 0.25 + 0.1)


def test_user_awareness_hazard_on_an_organic_channel_is_added_to_that_channel():
    model = small_model()
    model.modifiers.awareness = {"organic": 0.1}
    model.step()
    assert model.log.columns["awareness_hazard"][0] == np.float32(0.05 + 0.1)


def test_user_word_of_mouth_hazard_is_not_credited_to_an_ad_channel():
    ads = PaidAds("search", PaidAdsConfig(daily_budget=0.0))
    model = small_model([ads])
    model.modifiers.awareness = {"word_of_mouth": 0.3}
    model.step()
    assert model.log.columns["new_users_search"][0] == 0
    channel = model.population.channel
    assert np.count_nonzero(channel == model.channels.index("search")) == 0
    # on day 0 nobody was active yesterday: every word-of-mouth awareness comes from the modifier's 0.3
    u = Streams(1).uniforms("awareness", 0, 0, 400)
    wom = (u >= np.float32(0.05)) & (u < np.float32(0.05 + 0.3))
    assert np.count_nonzero(channel == model.channels.index("word_of_mouth")) == np.count_nonzero(wom) > 0


def test_per_slot_conversion_modifier_multiplies_the_conversion_rate():
    """Everyone aware on day 0 (p = 1); γ = 0.5 · 0.5 per slot: converts iff the activity uniform < 0.25."""
    model = small_model(awareness=AwarenessConfig(p=1.0, q=0.0))
    model.modifiers.conversion = np.full(400, 0.5, dtype=np.float32)
    model.step()
    u = Streams(1).uniforms("activity", 0, 0, 400)
    assert model.log.columns["new_users"][0] == np.count_nonzero(u < np.float32(0.25)) > 0


def test_scalar_conversion_modifier_multiplies_the_conversion_rate():
    model = small_model(awareness=AwarenessConfig(p=1.0, q=0.0))
    model.modifiers.conversion = 0.5
    model.step()
    u = Streams(1).uniforms("activity", 0, 0, 400)
    assert model.log.columns["new_users"][0] == np.count_nonzero(u < np.float32(0.25)) > 0


def test_the_model_refuses_to_step_past_its_horizon():
    model = small_model()
    for _ in range(6):
        model.step()
    with pytest.raises(RuntimeError, match=r"^horizon_days=6 reached: the model cannot step past it$"):
        model.step()


def test_cost_columns_hold_each_lever_s_cost_and_their_total():
    content = Content("content", ContentConfig(daily_cost=7.0))
    event = ViralEvent("launch", ViralEventConfig(day=1, cost=100.0))
    model = small_model([content, event])
    for _ in range(3):
        model.step()
    cols = model.log.columns
    assert cols["cost_content"].tolist()[:3] == [7.0, 7.0, 7.0]
    assert cols["cost_viral_event_launch"].tolist()[:3] == [0.0, 100.0, 0.0]
    assert cols["cost_total"].tolist()[:3] == [7.0, 107.0, 7.0]


def _paying_market_stepped(days: int, seed: int) -> LifecycleModel:
    """400 users, half of whom buy on a visit, stepped over their whole horizon."""
    paying = SegmentConfig(purchase_prob=0.5)
    pop = PopulationConfig(
        market_size=400, awareness=AwarenessConfig(p=0.2, q=0.0), conversion_rate=0.5, segments={"all": paying}
    )
    model = LifecycleModel(pop, horizon_days=days, seed=seed, agents="lazy")
    for _ in range(days):
        model.step()
    return model


def test_model_state_after_a_step_is_the_last_row_and_the_revenue_so_far():
    model = _paying_market_stepped(5, seed=2)
    cols = model.log.columns
    assert model.dau == cols["dau"][-1] and model.revenue == pytest.approx(cols["revenue"].sum(), rel=1e-12)
    assert cols["revenue"].sum() > 0
    assert model.stage_counts.tolist() == [float(cols[s.name.lower()][-1]) for s in Stage]


def test_no_purchases_no_revenue():
    model = small_model()  # purchase_prob 0 (the segment default)
    for _ in range(3):
        model.step()
    assert model.log.columns["revenue"][:3].tolist() == [0.0, 0.0, 0.0] and model.revenue == 0.0


def test_group_totals_add_up_to_the_run_s_totals():
    paying = SegmentConfig(purchase_prob=0.5)
    pop = PopulationConfig(
        market_size=400, awareness=AwarenessConfig(p=0.2, q=0.0), conversion_rate=0.5, segments={"all": paying}
    )
    model = LifecycleModel(pop, horizon_days=4, seed=3, agents="lazy")
    for _ in range(4):
        model.step()
    cols = model.log.columns
    assert model.group_acquired.sum() == cols["new_users"].sum() > 0
    assert model.group_revenue.sum() == pytest.approx(cols["revenue"].sum(), rel=1e-12) and cols["revenue"].sum() > 0
    assert model.group_revenue.min() >= 0


def test_levers_see_the_chunk_s_streams_channels_day_and_index():
    """Push (its own uniforms), win-back (the day) and a channel target run inside the model's chunks."""
    levers = [
        Push("push", PushConfig(messages_per_week=7.0, target=Target(channels=["organic"]))),
        Winback("winback", WinbackConfig(silent_days=1, reach=1.0, response_alive=1.0, target=Target())),
        Incentives("incentives", IncentivesConfig()),
    ]
    model = small_model(levers)
    for _ in range(6):
        model.step()
    assert levers[0].messages > 0 and levers[1].contacts > 0 and levers[2].rewards > 0


@dataclass
class _ProbeConfig:
    target: Target = field(default_factory=Target)
    schedule: Schedule = field(default_factory=Schedule)


class _ChannelProbe(Lever):
    """An awareness channel of a fixed daily hazard and fixed channel effects (conversion, churn, visit).

    With ``convert_segment`` set, its conversion hook makes that segment's aware slots convert surely
    and every other aware slot never.
    """

    kind = "channel_probe"

    def __init__(self, name, hazard, effects=(1.0, 1.0, 1.0), *, segments=(), convert_segment=None):
        super().__init__(name, _ProbeConfig(target=Target(segments=list(segments))))
        self.channel = "probe"
        self.hazard, self.effects, self.convert_segment = hazard, effects, convert_segment

    def begin_day(self, model, weekday: int) -> None:
        super().begin_day(model, weekday)
        self.hazard_today = self.hazard

    def channel_effects(self):
        return {"probe": self.effects}

    def conversion_effects(self, ch, aware, conversion):
        if self.convert_segment is None:
            return conversion
        return (ch.segment[aware] == self.convert_segment).astype(np.float32)


def _probe_model(levers, p=0.2, segments=None):
    """400 users, Bass p, no word of mouth, γ = 0.5, no forgetting; one day stepped."""
    pop = PopulationConfig(
        market_size=400,
        awareness=AwarenessConfig(p=p, q=0.0),
        conversion_rate=0.5,
        segments=segments or {"all": SegmentConfig()},
    )
    model = LifecycleModel(pop, horizon_days=2, seed=1, levers=levers, agents="lazy")
    model.step()
    return model, pop


def test_a_channels_conversion_multiplier_applies_to_its_own_aware_users_only():
    """γ = 0.5, the probe channel's multiplier 2: its aware users convert surely (γ = 1), organic ones iff u < 0.5."""
    model, _ = _probe_model([_ChannelProbe("a", 0.3, (2.0, 1.0, 1.0))])
    state, code = model.population, model.channels.index("probe")
    probe, organic = state.channel == code, state.channel == 0
    acquired = state.acquired_day == 0
    u = Streams(1).uniforms("activity", 0, 0, 400)
    assert probe.sum() > 0 and acquired[probe].all()
    assert organic.sum() > 0 and np.array_equal(acquired[organic], u[organic] < np.float32(0.5))
    assert 0 < acquired[organic].sum() < organic.sum()


@pytest.mark.parametrize("effects", [(1.0, 0.5, 1.0), (1.0, 1.0, 0.5)], ids=["churn_only", "visit_only"])
def test_a_channels_quality_scales_the_traits_of_the_users_it_brings_and_no_others(effects):
    """θ ← m_c·θ and π ← m_v·π at acquisition, for the probe channel's users; either multiplier alone."""
    model, pop = _probe_model([_ChannelProbe("a", 0.3, effects)])
    state, code = model.population, model.channels.index("probe")
    drawn = Population.create(pop, SegmentTable.from_config(pop), Streams(1))  # the same traits, unscaled
    brought = (state.acquired_day == 0) & (state.channel == code)
    assert brought.sum() > 0 and ((state.acquired_day == 0) & (state.channel == 0)).sum() > 0
    _, m_churn, m_visit = (np.float32(m) for m in effects)
    np.testing.assert_array_equal(
        state.churn_hazard, np.where(brought, drawn.churn_hazard * m_churn, drawn.churn_hazard)
    )
    np.testing.assert_array_equal(
        state.visit_propensity, np.where(brought, drawn.visit_propensity * m_visit, drawn.visit_propensity)
    )


def test_a_channel_targeting_one_segment_makes_only_that_segment_aware():
    """p = 0, the probe's hazard 0.5 for segment a only: exactly a's slots with u_aware < 0.5; b stays unaware."""
    segments = {"a": SegmentConfig(), "b": SegmentConfig()}
    model, _ = _probe_model([_ChannelProbe("a", 0.5, segments=["a"])], p=0.0, segments=segments)
    state = model.population
    u = Streams(1).uniforms("awareness", 0, 0, 400)
    expected = (state.segment == 0) & (u < np.float32(0.5))
    assert (state.segment == 1).sum() > 0 and expected.sum() > 0
    np.testing.assert_array_equal(state.channel == model.channels.index("probe"), expected)
    assert (state.channel[state.segment == 1] == -1).all()


def test_a_levers_conversion_hook_decides_conversion_of_the_aware_slots_it_is_given():
    """p = 1 (everyone aware on day 0); the hook returns γ = 1 for segment a and 0 for b: exactly a converts."""
    segments = {"a": SegmentConfig(), "b": SegmentConfig()}
    model, _ = _probe_model([_ChannelProbe("a", 0.0, convert_segment=0)], p=1.0, segments=segments)
    state = model.population
    assert (state.segment == 1).sum() > 0
    np.testing.assert_array_equal(state.acquired_day == 0, state.segment == 0)


def test_two_levers_on_one_channel_add_their_hazards_and_multiply_their_effects():
    """Hazards 0.1 + 0.2; conversion 1.5 · 1.5 on γ = 0.5 (sure; either alone 0.75), churn and visit 0.5 · 0.5."""
    effects = (1.5, 0.5, 0.5)
    model, pop = _probe_model([_ChannelProbe("a", 0.1, effects), _ChannelProbe("b", 0.2, effects)], p=0.05)
    assert model.log.columns["awareness_hazard"][0] == np.float32(0.05 + 0.1 + 0.2)
    state, code = model.population, model.channels.index("probe")
    probe = state.channel == code
    assert probe.sum() > 0 and (state.acquired_day[probe] == 0).all()  # u < 0.5 · 2.25 always
    drawn = Population.create(pop, SegmentTable.from_config(pop), Streams(1))
    quarter = np.float32(0.25)
    np.testing.assert_array_equal(state.churn_hazard[probe], drawn.churn_hazard[probe] * quarter)
    np.testing.assert_array_equal(state.visit_propensity[probe], drawn.visit_propensity[probe] * quarter)


def test_user_hazards_on_an_organic_and_a_new_channel_both_count():
    """The organic entry first: the new channel after it is still added."""
    model = small_model()
    model.modifiers.awareness = {"organic": 0.1, "tv": 0.2}
    model.step()
    assert model.log.columns["awareness_hazard"][0] == np.float32(0.05 + 0.1 + 0.2)
    assert model.log.columns["new_users_tv"][0] > 0


def test_each_days_visits_revenue_and_purchases_are_booked_to_the_acquisition_cohorts():
    """Day t's anti-diagonal of each cohort matrix (cohort a at tenure t − a) holds that day's DAU, revenue, purchases."""
    model = _paying_market_stepped(4, seed=3)
    cols = model.log.columns
    assert cols["purchases"].sum() > 0
    for t in range(4):
        cohorts = np.arange(t + 1)
        assert model.cohort_active[cohorts, t - cohorts].sum() == cols["dau"][t]
        assert model.cohort_purchases[cohorts, t - cohorts].sum() == cols["purchases"][t]
        assert model.cohort_revenue[cohorts, t - cohorts].sum() == pytest.approx(cols["revenue"][t], rel=1e-12)
    assert model.cohort_purchases.min() >= 0 and model.cohort_active.min() >= 0


class _ExtraVisits(Lever):
    """From day 1, every acquired, living slot that did not visit becomes a lever-caused visitor; records
    the converted slots the hooks are given (global slots)."""

    kind = "extra_visits"

    def __init__(self) -> None:
        super().__init__("extra_visits", _ProbeConfig())
        self.added: list[np.ndarray] = []
        self.converted: list[np.ndarray] = []

    def extra_visits(self, ch, ev) -> None:
        self.converted.append(ev.converted + ch.lo)
        if ch.day == 0:
            return
        idx = np.flatnonzero((ch.stage >= Stage.NEW) & ch.alive & ~ev.visited)
        ev.visited[idx] = True
        ev.extra_visitors.append(idx)
        self.added.append(idx + ch.lo)


def test_lever_caused_visitors_buy_at_rho_times_the_weekdays_purchase_factor():
    """Day 0: p = 1, γ = 1: everyone acquired. Day 1 (weekday 1, w_p = 0.5, ρ = 1, no natural visit):
    the lever's visitors are the only buyers, each iff its awareness uniform < 0.5 (Events.extra_visitors)."""
    pop = PopulationConfig(
        market_size=400,
        awareness=AwarenessConfig(p=1.0, q=0.0),
        conversion_rate=1.0,
        weekly_purchase_pattern=[1.0, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0],
        segments={"all": SegmentConfig(purchase_prob=1.0)},
    )
    lever = _ExtraVisits()
    model = LifecycleModel(pop, horizon_days=2, seed=1, levers=[lever], agents="lazy")
    model.step()
    assert model.log.columns["new_users"][0] == 400
    np.testing.assert_array_equal(np.concatenate(lever.converted), np.arange(400))  # the hooks see who converted
    model.modifiers.visit = 0.0
    model.step()
    added = np.concatenate(lever.added)
    u = Streams(1).uniforms("awareness", 1, 0, 400)
    assert added.size > 0 and model.log.columns["dau"][1] == added.size
    assert model.log.columns["purchases"][1] == np.count_nonzero(u[added] < np.float32(0.5)) > 0
    assert np.count_nonzero(u[added] >= np.float32(0.5)) > 0  # some do not buy: w_p counts


def test_slot_groups_are_slot_numbers_modulo_20_in_every_chunk_of_slots():
    """Two draw chunks (65,536 + 7 slots; 65,536 is 16 mod 20). p = 1, γ = 1, ρ = 1: on day 0 every slot is
    acquired and buys once at its order value, so group g holds the slots s with s mod 20 = g."""
    n = CHUNK_SIZE + 7
    pop = PopulationConfig(
        market_size=n,
        awareness=AwarenessConfig(p=1.0, q=0.0),
        conversion_rate=1.0,
        segments={"all": SegmentConfig(purchase_prob=1.0)},
    )
    model = LifecycleModel(pop, horizon_days=1, seed=4, agents="lazy")
    order_value = model.population.order_value.astype(np.float64)  # read before the day: a trait, not changed
    model.step()
    assert model.log.columns["new_users"][0] == model.log.columns["purchases"][0] == n
    groups = np.arange(n) % 20
    np.testing.assert_array_equal(model.group_acquired, np.bincount(groups, minlength=20))
    np.testing.assert_allclose(model.group_revenue, np.bincount(groups, weights=order_value, minlength=20), rtol=1e-12)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (dict(agents="everyone"), "agents='everyone' is not allowed: one of auto, all, lazy"),
        (dict(parallel="fibres"), "parallel='fibres' is not allowed: one of auto, processes, threads"),
    ],
)
def test_the_model_refuses_an_unknown_mode_naming_the_choices(change, message):
    pop = PopulationConfig(market_size=10, segments={"all": SegmentConfig()})
    with pytest.raises(ValueError) as err:
        LifecycleModel(pop, horizon_days=1, seed=0, **change)
    assert str(err.value) == message


def test_reference_stepping_refuses_levers_with_the_whole_message():
    content = Content("content", ContentConfig(daily_cost=1.0))
    pop = PopulationConfig(market_size=10, segments={"all": SegmentConfig()})
    with pytest.raises(ValueError) as err:
        LifecycleModel(pop, horizon_days=1, seed=0, levers=[content], reference=True)
    assert str(err.value) == (
        "the strategy has levers; reference stepping implements the organic model only "
        "(use strategy=baseline, or the vectorized core)"
    )


def test_reference_stepping_takes_up_to_its_largest_sample_and_refuses_one_more(monkeypatch):
    """Both sides of REFERENCE_MAX_SLOTS (200,000 in the package; 50 here, so that the agents are few)."""
    monkeypatch.setattr(model_module, "REFERENCE_MAX_SLOTS", 50)
    at = LifecycleModel(
        PopulationConfig(market_size=50, segments={"all": SegmentConfig()}), horizon_days=1, seed=0, reference=True
    )
    assert at.reference and len(at.agents) == 50
    with pytest.raises(ValueError) as err:
        LifecycleModel(
            PopulationConfig(market_size=51, segments={"all": SegmentConfig()}), horizon_days=1, seed=0, reference=True
        )
    assert str(err.value) == (
        "population.sample_size=51 is too large for reference stepping: at most 50 simulated users; "
        "use the vectorized core (reference=False)"
    )


def test_the_seed_also_seeds_mesas_own_random_number_generators():
    pop = PopulationConfig(market_size=10, segments={"all": SegmentConfig()})
    one, two, other = (LifecycleModel(pop, horizon_days=1, seed=s) for s in (5, 5, 6))
    assert one.random.random() == two.random.random() != other.random.random()
    assert one.rng.random() == two.rng.random() != other.rng.random()


@pytest.mark.parametrize(
    ("draws", "grouped_parts"),
    [(9, [3, 3, 3]), (5, [2, 2, 1])],  # chunks of three and of two draw chunks (the last one short)
)
def test_money_is_the_same_whether_draw_chunks_are_grouped_into_chunks_or_not(monkeypatch, draws, grouped_parts):
    """By default draw chunks are grouped into chunks of several; with TARGET_CHUNKS = 64 each is a chunk of its
    own. The money is added draw chunk by draw chunk in slot order either way, so every float sum is
    bit-identical. Order values spread over many powers of two (σ = 8), so that float64 sums of them are not
    exact in any order."""

    def run():
        spread = SegmentConfig(purchase_prob=0.5, order_value=OrderValueConfig(median=20.0, sigma=8.0))
        pop = PopulationConfig(
            market_size=(draws - 1) * CHUNK_SIZE + 1000,
            awareness=AwarenessConfig(p=0.5, q=0.0),
            conversion_rate=0.5,
            segments={"all": spread},
        )
        model = LifecycleModel(pop, horizon_days=2, seed=5, agents="lazy", record_events=False)
        for _ in range(2):
            model.step()
        return model, [len(block.parts) for block in model._blocks]

    grouped, parts = run()
    monkeypatch.setattr(model_module, "TARGET_CHUNKS", 64)
    alone, one_each = run()
    assert parts == grouped_parts and one_each == [1] * draws
    assert grouped.log.columns["purchases"].min() > 0
    np.testing.assert_array_equal(grouped.log.columns["revenue"], alone.log.columns["revenue"])
    np.testing.assert_array_equal(grouped.cohort_revenue, alone.cohort_revenue)
    np.testing.assert_array_equal(grouped.group_revenue, alone.group_revenue)


def test_a_user_visits_iff_the_activity_uniform_is_strictly_below_the_visit_probability():
    """Day 0: everyone acquired. Day 1 (habit strength 0, weekday 1): v = π · m with a per-slot multiplier m
    chosen so that v equals the slot's activity uniform exactly (no visit), and for a second slot one float32
    step above it (a visit)."""
    from sim.core.visits import HabitConfig

    pop = PopulationConfig(
        market_size=400,
        awareness=AwarenessConfig(p=1.0, q=0.0),
        conversion_rate=1.0,
        habit=HabitConfig(strength=0.0),
        segments={"all": SegmentConfig()},
    )
    model = LifecycleModel(pop, horizon_days=2, seed=1, agents="lazy")
    model.step()
    tie, above = np.flatnonzero(model.population.alive)[:2]
    u = Streams(1).uniforms("activity", 1, 0, 400)
    propensity = model.population.visit_propensity

    def multiplier(slot, target):
        """The float32 m with float32(π · m) == target, found from target / π by float32 steps."""
        m = np.float32(target / propensity[slot])
        for _ in range(64):
            if propensity[slot] * m == target:
                return m
            m = np.nextafter(m, np.float32(np.inf) if propensity[slot] * m < target else np.float32(0))
        raise AssertionError(f"no float32 multiplier gives {target} for slot {slot}")

    visit = np.ones(400, dtype=np.float32)
    visit[tie] = multiplier(tie, u[tie])
    visit[above] = multiplier(above, np.nextafter(u[above], np.float32(1)))
    model.modifiers.visit = visit
    model.step()
    assert model.population.last_visit_day[tie] == 0 and model.population.last_visit_day[above] == 1


def _float32_multiplier(base, target):
    """The float32 m with float32(base · m) == target, searched from target / base by float32 steps (or None)."""
    m = np.float32(target / base)
    for _ in range(64):
        if base * m == target:
            return m
        m = np.nextafter(m, np.float32(np.inf) if base * m < target else np.float32(0))
    return None


def _slots_hitting(bases, targets, candidates, n=2):
    """The first n candidate slots whose base can be scaled to their target exactly, with those multipliers."""
    found = [(i, m) for i in candidates if (m := _float32_multiplier(bases[i], targets[i])) is not None][:n]
    assert len(found) == n
    return found


def test_death_and_resurrection_need_the_survival_uniform_strictly_below_their_probability():
    """Tenure exponent c = 1, so q = θ · m (per-slot hazard multiplier m), and r = ρ · m' (per-slot resurrection
    multiplier m'). Day 0 (everyone acquired): q equals slot k's survival uniform (it lives), one float32 step
    above for slot j (it dies), 1 for everyone else. Day 1 (no deaths): r equals a dead slot's survival uniform
    (it stays dead), one step above for another (it revives)."""
    pop = PopulationConfig(
        market_size=400,
        awareness=AwarenessConfig(p=1.0, q=0.0),
        conversion_rate=1.0,
        resurrection_rate=0.5,
        segments={"all": SegmentConfig()},
    )
    model = LifecycleModel(pop, horizon_days=2, seed=1, agents="lazy")
    assert model.exponent_steps is None  # c = 1: q is θ itself, times the multiplier
    theta = model.population.churn_hazard
    u0, u1 = (Streams(1).uniforms("survival", day, 0, 400) for day in (0, 1))
    above_u0 = np.nextafter(u0, np.float32(1))
    [(k, m_k)] = _slots_hitting(theta, u0, np.flatnonzero(theta > u0), 1)
    [(j, m_j)] = _slots_hitting(theta, above_u0, [i for i in np.flatnonzero(theta > above_u0) if i != k], 1)
    hazard = np.full(400, 1e9, dtype=np.float32)  # q capped at 1: every other slot dies on day 0
    hazard[k], hazard[j] = m_k, m_j
    model.modifiers.hazard = hazard
    model.step()
    alive = model.population.alive
    assert alive[k] and not alive[j] and alive.sum() == 1
    rho = np.full(400, 0.5, dtype=np.float32)
    dead = [i for i in np.flatnonzero(u1 < np.float32(0.5)) if i != k]
    [(stays, m_stays)] = _slots_hitting(rho, u1, dead, 1)
    [(revives, m_revives)] = _slots_hitting(rho, np.nextafter(u1, np.float32(1)), [i for i in dead if i != stays], 1)
    resurrection = np.zeros(400, dtype=np.float32)
    resurrection[stays], resurrection[revives] = m_stays, m_revives
    model.modifiers.hazard, model.modifiers.resurrection = 0.0, resurrection
    model.step()
    assert model.population.alive.tolist() == [i in (k, revives) for i in range(400)]


class _CountingProtocolLever(ProtocolOnlyLever):
    """The protocol-only lever, counting the visits its ``on_visits`` hook is shown."""

    def __init__(self) -> None:
        self.visits_seen = 0

    def on_visits(self, ch, ev) -> None:
        self.visits_seen += int(ev.visit_idx.size)


def test_a_lever_following_only_the_hooks_protocol_steps_in_the_model():
    lever = _CountingProtocolLever()
    model = small_model([lever])
    for _ in range(3):
        model.step()
    assert lever.visits_seen == model.log.columns["dau"][:3].sum() > 0
    assert model.log.columns["cost_protocol_only"][:3].tolist() == [1.0, 1.0, 1.0]


# --------------------------------------------------------------- population
def test_agents_auto_creates_every_agent_up_to_10000_slots_and_none_above():
    """AUTO_AGENTS_MAX_SLOTS = 10,000: both sides of the boundary."""
    at = LifecycleModel(PopulationConfig(market_size=10_000, segments={"all": SegmentConfig()}), horizon_days=1, seed=0)
    above = LifecycleModel(
        PopulationConfig(market_size=10_001, segments={"all": SegmentConfig()}), horizon_days=1, seed=0
    )
    assert len(at.agents) == 10_000 and len(above.agents) == 0


def test_agents_auto_creates_one_agent_per_slot_only_for_small_markets():
    small = LifecycleModel(PopulationConfig(market_size=50, segments={"all": SegmentConfig()}), horizon_days=2, seed=0)
    assert len(small.agents) == 50 and small.dau == 0 and small.revenue == 0.0
    big = LifecycleModel(
        PopulationConfig(market_size=10_001, segments={"all": SegmentConfig()}), horizon_days=2, seed=0
    )
    assert len(big.agents) == 0


def test_population_state_is_25_bytes_per_slot_in_the_documented_dtypes():
    pop = PopulationConfig(market_size=10, segments={"all": SegmentConfig()})
    state = Population.create(pop, SegmentTable.from_config(pop), Streams(0))
    dtypes = {
        f: getattr(state, f).dtype for f in ("stage", "alive", "segment", "channel", "churn_hazard", "visit_propensity")
    }
    assert dtypes == {
        "stage": np.int8,
        "alive": np.bool_,
        "segment": np.int8,
        "channel": np.int8,
        "churn_hazard": np.float32,
        "visit_propensity": np.float32,
    }
    assert state.order_value.dtype == state.habit.dtype == np.float32
    assert state.acquired_day.dtype == state.last_visit_day.dtype == np.int16 and state.flags.dtype == np.uint8
    assert state.nbytes == 25 * 10
    assert state.last_visit_day.tolist() == [NEVER] * 10 and state.channel.tolist() == [-1] * 10


def test_segment_shares_follow_the_weights():
    """Weights 2 : 1 : 1 over 20,000 slots: shares 1/2, 1/4, 1/4 within 5 binomial standard errors."""
    segs = {"a": SegmentConfig(weight=2.0), "b": SegmentConfig(weight=1.0), "c": SegmentConfig(weight=1.0)}
    pop = PopulationConfig(market_size=20_000, segments=segs)
    state = Population.create(pop, SegmentTable.from_config(pop), Streams(0))
    shares = np.bincount(state.segment, minlength=3) / 20_000
    se = np.sqrt(np.array([0.5, 0.25, 0.25]) * np.array([0.5, 0.75, 0.75]) / 20_000)
    assert np.all(np.abs(shares - [0.5, 0.25, 0.25]) < 5 * se)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            dict(segments={}),
            "population.segments={} is not allowed: at least one segment (pick a preset: population=consumer_app)",
        ),
        (
            dict(segments={f"s{i}": SegmentConfig() for i in range(128)}),
            "population.segments=128 is not allowed: at most 127 segments",
        ),
        (
            dict(lifecycle=LifecycleConfig(dormant_after_days=7, churned_after_days=7)),
            "population.lifecycle.churned_after_days=7 is not allowed: more than population.lifecycle.dormant_after_days=7",
        ),
        (
            dict(weekly_visit_pattern=[1.0] * 6),
            "population.weekly_visit_pattern=[1.0, 1.0, 1.0, 1.0, 1.0, 1.0] is not allowed: a list of 7 multipliers, Monday first",
        ),
        (
            dict(weekly_purchase_pattern=[1.0, 1.0, -0.5, 1.0, 1.0, 1.0, 1.0]),
            "population.weekly_purchase_pattern[2]=-0.5 is not allowed: a finite number >= 0 and <= 1000000",
        ),
    ],
)
def test_population_checks_name_the_key_the_value_and_what_is_allowed(change, message):
    pop = PopulationConfig(**{"segments": {"all": SegmentConfig()}, **change})
    with pytest.raises(ConfigError) as err:
        check_population(pop)
    assert str(err.value) == message


@pytest.mark.parametrize("key", ["population", "arm"])
def test_a_population_fields_range_error_is_named_under_the_given_key(key):
    pop = PopulationConfig(market_size=0, segments={"all": SegmentConfig()})
    with pytest.raises(ConfigError) as err:
        check_population(pop, key)
    assert str(err.value) == f"{key}.market_size=0 is not allowed: a number >= 1 and <= 1000000000000"


def test_127_segments_are_allowed():
    """The other side of the 128-segment refusal above."""
    check_population(PopulationConfig(segments={f"s{i}": SegmentConfig() for i in range(127)}))


def test_a_segment_without_slots_in_a_chunk_does_not_stop_the_later_segments_traits():
    """Weights 1 : 1e-9 : 1 over 1,000 slots: the middle segment gets no slot; the last one's order value is its
    median exactly (σ = 0), in every one of its slots."""
    fixed = SegmentConfig(order_value=OrderValueConfig(median=1000.0, sigma=0.0))
    segs = {"a": SegmentConfig(), "tiny": SegmentConfig(weight=1e-9), "c": fixed}
    pop = PopulationConfig(market_size=1000, segments=segs)
    state = Population.create(pop, SegmentTable.from_config(pop), Streams(0))
    counts = np.bincount(state.segment, minlength=3)
    assert counts[1] == 0 and counts[0] > 0 and counts[2] > 0
    assert (state.order_value[state.segment == 2] == np.float32(1000.0)).all()


def test_tenure_exponent_steps_by_hand():
    """Δ[s, τ] = (τ + 1)^c − τ^c: for c = 1/2 that is √(τ + 1) − √τ; None when every c is 1."""
    steps = exponent_steps(np.array([0.5, 1.0]), 3)
    assert steps[0] == pytest.approx([1.0, np.sqrt(2) - 1, np.sqrt(3) - np.sqrt(2), 2 - np.sqrt(3)], rel=1e-6)
    assert steps[1].tolist() == [1.0, 1.0, 1.0, 1.0]
    assert exponent_steps(np.array([1.0, 1.0]), 3) is None


def test_negative_seed_is_refused_with_its_value():
    with pytest.raises(ValueError, match=r"^seed=-1 is not allowed: a non-negative integer$"):
        Streams(-1)


def test_each_chunk_of_slots_draws_its_own_traits():
    pop = PopulationConfig(market_size=CHUNK_SIZE + 100, segments={"a": SegmentConfig(), "b": SegmentConfig()})
    state = Population.create(pop, SegmentTable.from_config(pop), Streams(0))
    first, second = slice(0, 100), slice(CHUNK_SIZE, CHUNK_SIZE + 100)
    assert not np.array_equal(state.segment[first], state.segment[second])
    assert not np.array_equal(state.churn_hazard[first], state.churn_hazard[second])
    assert not np.array_equal(state.order_value[first], state.order_value[second])


def test_daily_counts_are_integers_for_the_whole_market_and_scaled_by_w_for_a_sample():
    paying = SegmentConfig(purchase_prob=0.5)
    cfg = dict(awareness=AwarenessConfig(p=0.2, q=0.0), conversion_rate=0.5, segments={"all": paying})
    whole = LifecycleModel(PopulationConfig(market_size=400, **cfg), horizon_days=4, seed=3, agents="lazy")
    sample = LifecycleModel(
        PopulationConfig(market_size=800, sample_size=400, **cfg), horizon_days=4, seed=3, agents="lazy"
    )
    for _ in range(4):
        whole.step()
        sample.step()
    cols = whole.log.columns
    assert cols["dau"].dtype == cols["new_users"].dtype == cols["latent_alive"].dtype == np.int64
    assert cols["new_users_organic"].dtype == np.int64
    assert cols["day"].dtype == cols["weekday"].dtype == np.int64 and cols["day"].tolist() == [0, 1, 2, 3]
    assert sample.log.columns["dau"].dtype == np.float64
    # the same 400 simulated users (same seed), each standing for w = 2 real ones in the sample run
    for name in ("new_users", "new_users_organic", "dau", "purchases", "revenue", "latent_alive"):
        assert sample.log.columns[name].tolist() == pytest.approx((2 * whole.log.columns[name]).tolist(), rel=1e-12), (
            name
        )
    assert sample.log.columns["revenue"].sum() == pytest.approx(2 * sample.group_revenue.sum(), rel=1e-12)


def test_a_weekday_multiplier_of_zero_is_allowed():
    check_population(PopulationConfig(segments={"all": SegmentConfig()}, weekly_visit_pattern=[1.0] * 6 + [0.0]))


def test_smooth_trait_sampling_takes_the_quantiles_of_fixed_uniforms():
    from scipy.special import betaincinv, ndtri

    seg = SegmentConfig(churn=ChurnConfig(a=0.7, b=4.0), visits=VisitConfig(alpha=2.0, beta=3.0))
    pop = PopulationConfig(market_size=50, trait_sampling="smooth", segments={"all": seg})
    state = Population.create(pop, SegmentTable.from_config(pop), Streams(4))
    u = Streams(4).generator("traits", 1, 0, 0).random((3, CHUNK_SIZE))[:, :50]
    assert state.churn_hazard.tolist() == betaincinv(0.7, 4.0, u[0]).astype(np.float32).tolist()
    assert state.visit_propensity.tolist() == betaincinv(2.0, 3.0, u[1]).astype(np.float32).tolist()
    assert state.order_value.tolist() == (20.0 * np.exp(0.5 * ndtri(u[2]))).astype(np.float32).tolist()


def test_smooth_trait_sampling_in_a_short_second_chunk_takes_that_chunks_first_uniforms():
    from scipy.special import betaincinv

    seg = SegmentConfig(churn=ChurnConfig(a=0.7, b=4.0))
    pop = PopulationConfig(market_size=CHUNK_SIZE + 50, trait_sampling="smooth", segments={"all": seg})
    state = Population.create(pop, SegmentTable.from_config(pop), Streams(4))
    u = Streams(4).generator("traits", 1, 0, 1).random((3, CHUNK_SIZE))[:, :50]  # segment 0, chunk 1
    assert state.churn_hazard[CHUNK_SIZE:].tolist() == betaincinv(0.7, 4.0, u[0]).astype(np.float32).tolist()


def test_uniforms_into_a_buffer_equal_the_returned_ones():
    streams = Streams(9)
    buf = np.full(10, -1.0, dtype=np.float32)
    out = streams.uniforms("activity", 3, 0, 7, out=buf)
    assert out.tolist() == streams.uniforms("activity", 3, 0, 7).tolist() == buf[:7].tolist()
    assert buf[7:].tolist() == [-1.0, -1.0, -1.0]


# ---------------------------------------------------------- awareness, death
def test_become_aware_keeps_slots_a_lever_channel_does_not_admit_unaware():
    """Edges: organic [0, .1), word of mouth [.1, .2), an ad channel [.2, .5) that admits segment 0 only."""
    stage = np.zeros(4, dtype=np.int8)
    channel = np.full(4, -1, dtype=np.int8)
    segment = np.array([0, 1, 1, 0], dtype=np.int8)
    flags = np.array([0, 0, 0, int(FLAG_COUPON)], dtype=np.uint8)
    admits = np.array([[True, True], [True, True], [True, False]])
    u = np.array([0.05, 0.15, 0.3, 0.3], dtype=np.float32)
    edges = np.array([0.1, 0.2, 0.5], dtype=np.float32)
    newly = become_aware(stage, channel, segment, u, edges, admits, flags)
    assert newly.tolist() == [True, True, False, True]
    assert stage.tolist() == [1, 1, 0, 1] and channel.tolist() == [0, 1, -1, 2]
    assert flags.tolist() == [int(FLAG_EVER_AWARE), int(FLAG_EVER_AWARE), 0, int(FLAG_EVER_AWARE | FLAG_COUPON)]


def test_a_latent_hazard_of_exactly_one_dies_without_a_warning():
    """θ = 1 (a coupon's churn multiplier caps θ at 1) with c ≠ 1: log(1 − θ) = −inf, q = 1, and no warning."""
    steps = exponent_steps(np.array([0.7]), 5)
    q = death_probability(
        np.array([1.0, 0.5], np.float32), np.zeros(2, np.int8), np.array([2, 2], np.int16), steps, 1.0
    )
    assert q[0] == 1.0 and 0 < q[1] < 1


def test_coupon_users_default_quality_is_documented():
    assert CouponConfig().quality == QualityConfig(churn_multiplier=1.2, visit_multiplier=0.9)


def test_daily_log_with_only_one_of_market_and_sample_counts_unscaled_integers():
    for log in (DailyLog(2, ["organic"], market_size=10), DailyLog(2, ["organic"], sample_size=10)):
        log.record(0, {"dau": 3, "revenue": 4.5, "new_users_organic": 2})
        assert log.columns["dau"].tolist() == [3, 0] and log.columns["dau"].dtype == np.int64
        assert log.columns["revenue"].tolist() == [4.5, 0.0] and log.columns["new_users_organic"].tolist() == [2, 0]
