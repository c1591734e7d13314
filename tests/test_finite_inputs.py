"""Every value the schema accepts gives finite results; the values beyond a money bound are refused.

Huge money values (a daily budget of 1e300, a CPM of 1e-300, an order value of 1e300, a cost
per contact of 1e308) used to run with exit 0 and give NaN or inf: inf/inf in the ads' Hill
curve made the awareness hazard NaN, which wiped out organic acquisition too; order values
overflowed float32; costs overflowed float64. Now every money knob is at most
:data:`~sim.base.schema.MAX_MONEY` (a CPM at least :data:`~sim.levers.paid_ads.MIN_CPM`), an
order value's sigma at most :data:`~sim.core.population.MAX_ORDER_SIGMA`, and the Hill curve
saturates where (A/K)^n overflows.

Huge rates and multipliers (a conversion or churn multiplier, a visit lift, push fatigue churn,
a habit strength, an invitation or word-of-mouth rate of 1e300) became inf when cast to float32,
with RuntimeWarnings and exit 0; a habit strength or fatigue churn of 1e300 times a user's zero
habit or fatigue gave NaN (the user never visited, or got a NaN hazard). Now every such knob is
at most :data:`~sim.base.schema.MAX_MULTIPLIER`, a delayed adstock's peak at most
:data:`~sim.levers.paid_ads.MAX_ADSTOCK_LAG`, a segment weight at most
:data:`~sim.core.population.MAX_SEGMENT_WEIGHT`, and the tenure exponent's table is clipped at
:data:`~sim.core.survival.MAX_EXPONENT_STEP` before its float32 cast.
"""

from __future__ import annotations

import math
import re
import sys
import types
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import fields, is_dataclass
from typing import Any, get_args, get_origin, get_type_hints

import numpy as np
import pytest

import sim.app.cli
from sim import simulate
from sim.app.config import load_config
from sim.base.errors import ConfigError
from sim.base.schema import MAX_MONEY, MAX_MULTIPLIER, format_number
from sim.core.population import MAX_ORDER_SIGMA, MAX_SEGMENT_WEIGHT, PopulationConfig
from sim.core.survival import MAX_EXPONENT_STEP, death_probability, exponent_steps
from sim.core.visits import visit_probability
from sim.levers.base import Schedule
from sim.levers.onboarding import MAX_ONBOARDING_DAYS
from sim.levers.paid_ads import (
    MAX_ADSTOCK_LAG,
    MIN_CPM,
    AdstockConfig,
    PaidAds,
    PaidAdsConfig,
    SaturationConfig,
    hill,
)
from sim.levers.push import Push, PushConfig
from sim.levers.referral import Referral, ReferralConfig
from sim.levers.strategy import StrategyConfig
from tests.test_lever_units import FakeModel, N, R, ads, bound, incentives, per_slot, population, run_ads, run_day

#: Small runs: 20,000 users for 30 days, one thread (a few seconds each, comparison runs included).
SMALL = ["population.market_size=20000", "horizon_days=30", "threads=1", "progress=false", "figures=false"]
#: Just above the money ceiling, and just below the CPM floor.
ABOVE_MONEY = math.nextafter(MAX_MONEY, math.inf)
BELOW_CPM = math.nextafter(MIN_CPM, 0.0)
#: The money ceiling as the refusal writes it.
MONEY_RULE = "a number >= 0 and <= 1000000000000"

#: Every money knob (balanced_mix turns every lever on), and the allowed range the refusal names.
MONEY_KNOBS = [
    ("strategy.paid_ads.search.daily_budget", MONEY_RULE),
    ("strategy.paid_ads.search.cpm", "a number >= 1e-06 and <= 1000000000000"),
    ("strategy.viral_events.summer_campaign.cost", MONEY_RULE),
    ("strategy.referral.reward_referrer", MONEY_RULE),
    ("strategy.referral.reward_referee", MONEY_RULE),
    ("strategy.referral.referrer_half_reward", "a number > 0 and <= 1000000000000"),
    ("strategy.referral.referee_half_reward", "a number > 0 and <= 1000000000000"),
    ("strategy.new_user_coupon.value", MONEY_RULE),
    ("strategy.new_user_coupon.half_value", "a number > 0 and <= 1000000000000"),
    ("strategy.onboarding.cost_per_user", MONEY_RULE),
    ("strategy.content.daily_cost", MONEY_RULE),
    ("strategy.push.cost_per_message", MONEY_RULE),
    ("strategy.incentives.cost_per_reward", MONEY_RULE),
    ("strategy.winback.cost_per_contact", MONEY_RULE),
    ("strategy.winback.cost_per_redemption", MONEY_RULE),
    ("population.segments.casual.order_value.median", "a number > 0 and <= 1000000000000"),
]


def _no_runtime_warnings(run: Any) -> Any:
    """Call ``run`` with numpy's overflow / invalid-value RuntimeWarnings turned into errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        return run()


# ----------------------------------------------------------------- the Hill curve
@pytest.mark.parametrize(
    ("adstock", "half", "shape", "expected"),
    [
        (1e300, 1e-300, 1.5, 0.002),  # (A/K)^n overflows: saturated
        (1e21, 1e-300, 2.0, 0.002),
        (2.0, 1.0, 1e300, 0.002),  # A > K with a huge shape: a step up to h_max
        (0.5, 1.0, 1e300, 0.0),  # A < K: nothing
        (0.0, 1e-300, 1.5, 0.0),  # no impressions, no effect, however small K
    ],
)
def test_hill_saturates_where_its_ratio_overflows(adstock, half, shape, expected):
    assert _no_runtime_warnings(lambda: hill(adstock, 0.002, half, shape)) == expected


def test_hill_is_unchanged_below_overflow():
    # h · r / (1 + r) as before, r = (A / K)^n: A = 3K, n = 2 gives h · 9/10
    assert hill(3.0, 0.002, 1.0, 2.0) == 0.002 * 9.0 / 10.0


@pytest.mark.parametrize("kind", ["geometric", "delayed"])
def test_ads_at_the_largest_budget_and_smallest_cpm_give_the_maximum_hazard(kind):
    # 10^12 a day at CPM 10^-6: 10^21 impressions; K = 10^-300 makes (A/K)^n overflow
    sat = SaturationConfig(max_hazard=0.002, half_saturation=1e-300, shape=1.5)
    lever = ads(daily_budget=MAX_MONEY, cpm=MIN_CPM, adstock=AdstockConfig(kind=kind), saturation=sat)
    adstock, hazard, cost = _no_runtime_warnings(lambda: run_ads(lever, 3))
    assert all(math.isfinite(a) for a in adstock)
    assert hazard == [0.002, 0.002, 0.002]
    assert cost == [MAX_MONEY] * 3


# ----------------------------------------------------------------- the bounds, both sides
@pytest.mark.parametrize(("key", "rule"), MONEY_KNOBS, ids=[k for k, _ in MONEY_KNOBS])
def test_a_money_knob_takes_the_ceiling_and_refuses_just_above(key, rule):
    load_config(["strategy=balanced_mix", f"{key}={MAX_MONEY!r}"])
    with pytest.raises(ConfigError, match=f"^{key}={ABOVE_MONEY!r} is not allowed: {rule}$"):
        load_config(["strategy=balanced_mix", f"{key}={ABOVE_MONEY!r}"])


def test_cpm_takes_its_floor_and_refuses_just_below():
    key = "strategy.paid_ads.search.cpm"
    load_config(["strategy=paid_growth", f"{key}={MIN_CPM!r}"])
    with pytest.raises(ConfigError, match=f"^{key}={BELOW_CPM!r} is not allowed: a number >= 1e-06"):
        load_config(["strategy=paid_growth", f"{key}={BELOW_CPM!r}"])


def test_a_period_budget_takes_the_ceiling_and_refuses_just_above():
    key = "strategy.paid_ads.search.period_budgets"
    load_config(["strategy=paid_growth", f"{key}=[5,{MAX_MONEY!r}]"])
    with pytest.raises(
        ConfigError, match=rf"^{key}\[1\]={ABOVE_MONEY!r} is not allowed: a daily budget >= 0 and <= 1000000000000$"
    ):
        load_config(["strategy=paid_growth", f"{key}=[5,{ABOVE_MONEY!r}]"])


def test_an_order_value_sigma_takes_its_ceiling_and_refuses_just_above():
    key = "population.segments.casual.order_value.sigma"
    load_config([f"{key}={MAX_ORDER_SIGMA!r}"])
    above = math.nextafter(MAX_ORDER_SIGMA, math.inf)
    with pytest.raises(ConfigError, match=f"^{key}={above!r} is not allowed: a number >= 0 and <= 5$"):
        load_config([f"{key}={above!r}"])


def test_onboarding_days_take_the_longest_horizon_and_refuse_one_more():
    result = simulate(["strategy=retention_first", f"strategy.onboarding.days={MAX_ONBOARDING_DAYS}", *SMALL])
    assert result.summary["economics"]["cost_by_lever"]["onboarding"] > 0
    with pytest.raises(ConfigError, match=r"^strategy.onboarding.days=3651 is not allowed: a number >= 1 and <= 3650$"):
        load_config(["strategy=retention_first", "strategy.onboarding.days=3651"])


@pytest.mark.parametrize(
    "override",
    [
        "strategy.onboarding.days=100000000000000000000",  # a traceback (exit 1) before: deque(maxlen=10^20)
        "strategy.paid_ads.search.daily_budget=1e300",
        "strategy.paid_ads.search.cpm=1e-300",
        "population.segments.casual.order_value.median=1e300",
        "strategy.winback.cost_per_contact=1e308",
        "population.habit.strength=1e300",  # NaN visit probabilities before, exit 0
        "strategy.push.fatigue_churn=1e300",  # NaN hazard multipliers before, exit 0
    ],
)
def test_the_reported_huge_values_are_refused_in_one_line(tmp_path, capsys, monkeypatch, override):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["opsim"])
    with pytest.raises(SystemExit) as info:
        sim.app.cli.main(["strategy=balanced_mix", override, *SMALL, f"hydra.run.dir={tmp_path / 'run'}"])
    assert info.value.code == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("opsim: error: ") and "is not allowed: a number" in err[0], err
    assert override.split("=")[0] in err[0]
    assert not (tmp_path / "run").exists()


# ----------------------------------------------------------------- comparison runs stay in range
def test_rerunning_a_budget_at_the_ceiling_scales_it_no_further():
    # the spend-response reruns (x 2, x 4) of a budget at the ceiling run at the ceiling
    assert PaidAds.with_budget_scaled(PaidAdsConfig(daily_budget=MAX_MONEY), 4.0).daily_budget == MAX_MONEY
    scaled = PaidAds.with_budget_scaled(PaidAdsConfig(period_budgets=[MAX_MONEY, 10.0]), 4.0)
    assert scaled.period_budgets == [MAX_MONEY, 40.0]
    assert Referral.with_budget_scaled(ReferralConfig(reward_referrer=MAX_MONEY), 2.0).reward_referrer == MAX_MONEY
    assert PaidAds.with_budget_scaled(PaidAdsConfig(daily_budget=10.0), 0.5).daily_budget == 5.0  # below: as before


# ----------------------------------------------------------------- whole runs at the largest values
def _economics_finite(summary: dict[str, Any]) -> None:
    econ = summary["economics"]
    money = [summary["revenue"], econ["revenue"], econ["cost_total"], econ["profit"], *econ["cost_by_lever"].values()]
    money += [econ["incremental"]["revenue"], econ["incremental"]["profit"], econ["monte_carlo"]["revenue"]]
    assert all(math.isfinite(x) for x in money), money


def test_ads_at_the_largest_budget_saturate_and_add_users():
    # the tester's run at the ceiling: search spends 10^12 a day at CPM 10^-6 with K = 10^-300
    channel = "strategy.paid_ads.search"
    largest = [
        f"{channel}.daily_budget={MAX_MONEY!r}",
        f"{channel}.cpm={MIN_CPM!r}",
        f"{channel}.saturation.half_saturation=1e-300",
    ]
    result = _no_runtime_warnings(lambda: simulate(["strategy=paid_growth", *largest, *SMALL]))
    s = result.summary
    _economics_finite(s)
    assert s["economics"]["cost_by_lever"]["paid_ads_search"] == 30 * MAX_MONEY
    # at saturation the ads add users on top of the organic ones (NaN had wiped out all acquisition)
    assert s["economics"]["incremental"]["acquired_users"] > 0
    assert s["acquired_users"] > s["baseline"]["acquired_users"] > 0
    assert result.daily["awareness_hazard"].notna().all()


def test_every_money_knob_at_its_ceiling_gives_finite_results():
    largest = [f"{key}={MAX_MONEY!r}" for key, _ in MONEY_KNOBS if not key.endswith("half_value")]
    largest += [f"population.segments.{s}.order_value.sigma={MAX_ORDER_SIGMA!r}" for s in ("casual", "core")]
    largest += [f"population.segments.core.order_value.median={MAX_MONEY!r}"]
    result = _no_runtime_warnings(lambda: simulate(["strategy=balanced_mix", *largest, *SMALL]))
    s = result.summary
    _economics_finite(s)
    assert s["revenue"] > MAX_MONEY  # order values of 10^12 and more were bought
    assert s["economics"]["cost_by_lever"]["winback"] > 0


# ----------------------------------------------------------------- rates and multipliers
#: Instance names of the keyed configs (population consumer_app, strategy balanced_mix).
INSTANCE = {"segments": "casual", "paid_ads": "search", "viral_events": "summer_campaign"}

#: Float knobs with no ceiling, and why none is needed: each gives finite results at 10^308
#: (:func:`test_the_knobs_without_a_ceiling_are_finite_at_the_largest_float`).
UNBOUNDED = {
    "population.segments.casual.churn.a": "a Beta shape: θ is drawn in [0, 1] whatever its size",
    "population.segments.casual.churn.b": "a Beta shape: θ is drawn in [0, 1] whatever its size",
    "population.segments.casual.visits.alpha": "a Beta shape: π is drawn in [0, 1] whatever its size",
    "population.segments.casual.visits.beta": "a Beta shape: π is drawn in [0, 1] whatever its size",
    "strategy.paid_ads.search.saturation.half_saturation": "the Hill curve saturates where (A/K)^n overflows",
    "strategy.paid_ads.search.saturation.shape": "the Hill curve saturates where (A/K)^n overflows",
    "strategy.viral_events.summer_campaign.half_life_days": "the spike h0 · 2^(−t/T½) is at most h0",
}

#: The rate and multiplier knobs reported to overflow, each now at most MAX_MULTIPLIER.
RATE_KNOBS = [
    "strategy.paid_ads.search.conversion_multiplier",
    "strategy.referral.conversion_multiplier",
    "strategy.new_user_coupon.conversion_multiplier",
    "strategy.paid_ads.search.quality.churn_multiplier",
    "strategy.paid_ads.search.quality.visit_multiplier",
    "strategy.new_user_coupon.quality.churn_multiplier",
    "strategy.new_user_coupon.quality.visit_multiplier",
    "strategy.content.hazard_multiplier",
    "strategy.content.visit_multiplier",
    "strategy.onboarding.hazard_multiplier",
    "strategy.push.visit_lift",
    "strategy.push.fatigue_churn",
    "strategy.referral.invite_rate",
    "population.awareness.q",
    "population.habit.strength",
    "population.segments.casual.churn.c",
]

#: Other values a knob at its ceiling needs (the unrewarded invitation rate is at most the rewarded one).
ALONG = {"strategy.referral.base_invite_rate": [f"strategy.referral.invite_rate={MAX_MULTIPLIER!r}"]}


def _float_knobs(cls: type, prefix: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every float field of a config dataclass tree: its dotted key and its bounds."""
    hints = get_type_hints(cls)
    for f in fields(cls):
        key, tp = f"{prefix}.{f.name}", hints[f.name]
        args = get_args(tp)
        if is_dataclass(tp):
            yield from _float_knobs(tp, key)
        elif get_origin(tp) is dict and is_dataclass(args[1]):
            yield from _float_knobs(args[1], f"{key}.{INSTANCE[f.name]}")
        elif tp is float or (isinstance(tp, types.UnionType) and float in args):
            yield key, f.metadata


KNOBS = dict([*_float_knobs(PopulationConfig, "population"), *_float_knobs(StrategyConfig, "strategy")])
#: Every float knob with a ceiling (the money knobs are covered above).
CEILINGS = {k: m["le"] for k, m in KNOBS.items() if m.get("le") is not None and k not in dict(MONEY_KNOBS)}


def test_every_float_knob_has_a_ceiling_or_a_reason_to_have_none():
    assert len(KNOBS) > 50  # the walk found the lever and population configs
    missing = [k for k, m in KNOBS.items() if m.get("le") is None and m.get("lt") is None and k not in UNBOUNDED]
    assert missing == []
    assert all(k in KNOBS and KNOBS[k].get("le") is None for k in UNBOUNDED)  # no stale exemption


def test_the_reported_rate_knobs_are_at_most_the_multiplier_ceiling():
    assert {k: CEILINGS.get(k) for k in RATE_KNOBS} == dict.fromkeys(RATE_KNOBS, MAX_MULTIPLIER)
    assert CEILINGS["strategy.paid_ads.search.adstock.peak_delay"] == MAX_ADSTOCK_LAG == 365
    assert CEILINGS["population.segments.casual.weight"] == MAX_SEGMENT_WEIGHT == 1e12


@pytest.mark.parametrize(("key", "ceiling"), CEILINGS.items(), ids=list(CEILINGS))
def test_a_knob_takes_its_ceiling_and_refuses_just_above(key, ceiling):
    load_config(["strategy=balanced_mix", f"{key}={ceiling!r}", *ALONG.get(key, [])])
    above = math.nextafter(ceiling, math.inf)
    rule = rf"a number >=? \S+ and <= {re.escape(format_number(ceiling))}"
    with pytest.raises(ConfigError, match=rf"^{re.escape(key)}={above!r} is not allowed: {rule}$"):
        load_config(["strategy=balanced_mix", f"{key}={above!r}", *ALONG.get(key, [])])


@pytest.mark.parametrize("pattern", ["weekly_visit_pattern", "weekly_purchase_pattern"])
def test_a_weekly_factor_takes_the_ceiling_and_refuses_just_above(pattern):
    load_config([f"population.{pattern}=[{MAX_MULTIPLIER!r},1,1,1,1,1,1]"])
    above = math.nextafter(MAX_MULTIPLIER, math.inf)
    message = f"^population.{pattern}\\[0\\]={above!r} is not allowed: a finite number >= 0 and <= 1000000$"
    with pytest.raises(ConfigError, match=message):
        load_config([f"population.{pattern}=[{above!r},1,1,1,1,1,1]"])


def test_habit_at_its_ceiling_lifts_habitual_users_and_leaves_the_others():
    # v = π · (1 + κ h): 1e300 made κ inf, and inf · 0 = NaN for users with no habit (they never visited)
    habit = np.array([0.0, 0.5, 1.0], dtype=np.float32)
    pi = np.full(3, 0.25, dtype=np.float32)
    v = _no_runtime_warnings(lambda: visit_probability(pi, habit, 1.0, MAX_MULTIPLIER, 1.0))
    assert v.tolist() == pytest.approx([0.25, 0.25 * 500_001, 0.25 * 1_000_001])


def test_push_fatigue_churn_at_its_ceiling_leaves_unfatigued_users_alone():
    # hazard × (1 + κ_F F²): 1e300 made κ_F inf, and inf · 0 = NaN for users never messaged
    model = FakeModel(population([N, R]))
    cfg = PushConfig(messages_per_week=3.5, fatigue_decay=0.5, fatigue_churn=MAX_MULTIPLIER, opt_out_per_fatigue=0.0)
    lever = bound(Push("push", cfg), model)
    model.streams.set(lever.stream, 0, [0.0, 0.9])  # f/7 = 0.5: slot 0 is messaged, slot 1 is not
    day = _no_runtime_warnings(lambda: run_day(lever, model, 0))
    assert lever.fatigue.tolist() == [1.0, 0.0]
    assert per_slot(day.fx.hazard, 2).tolist() == [1.0 + MAX_MULTIPLIER, 1.0]


def test_a_post_stop_drop_at_its_ceiling_stops_dependent_users_only():
    # max(0, 1 − ρ D): at ρ = 1e300 a user with no dependence got NaN instead of 1
    model = FakeModel(population([R] * 3))
    lever = bound(incentives(post_stop_drop=MAX_MULTIPLIER, schedule=Schedule(end_day=0)), model)
    run_day(lever, model, 0, visited=[0])  # D0 = 0.5
    day = _no_runtime_warnings(lambda: run_day(lever, model, 1))
    assert per_slot(day.fx.visit, 3).tolist() == [0.0, 1.0, 1.0]


def test_a_tenure_exponent_at_its_ceiling_kills_at_once_and_leaves_smaller_ones_exact():
    # Δ = (τ+1)^c − τ^c: c = 10^6 overflowed float64 (inf − inf = NaN), c = 20 the float32 cast
    steps = _no_runtime_warnings(lambda: exponent_steps(np.array([MAX_MULTIPLIER, 20.0, 2.0]), 3650))
    assert np.isfinite(steps).all() and steps.max() == np.float32(MAX_EXPONENT_STEP)
    assert steps[0, :3].tolist() == [1.0, np.float32(MAX_EXPONENT_STEP), np.float32(MAX_EXPONENT_STEP)]
    assert steps[2].tolist() == [2.0 * t + 1 for t in range(3651)]  # c = 2: 2τ + 1, as before
    theta = np.array([0.0, 1e-6, 0.5, np.nextafter(np.float32(1), np.float32(0))], dtype=np.float32)
    q = _no_runtime_warnings(lambda: death_probability(theta, np.zeros(4, np.int8), np.full(4, 3650), steps, 1.0))
    assert q.tolist() == [0.0, 1.0, 1.0, 1.0]  # θ = 0 never dies; any other θ dies at once


def _ceiling_overrides() -> list[str]:
    """Every rate and multiplier knob at its ceiling, the unbounded ones at 10^308."""
    keys = [k for k, top in CEILINGS.items() if top == MAX_MULTIPLIER]
    out = [f"{k}={MAX_MULTIPLIER!r}" for k in keys]
    out += [f"population.segments.{s}.churn.c={MAX_MULTIPLIER!r}" for s in ("casual", "core")]
    out += [f"population.segments.{s}.weight={MAX_SEGMENT_WEIGHT!r}" for s in ("casual", "core")]
    week = ",".join([repr(MAX_MULTIPLIER)] * 7)
    out += [f"population.weekly_visit_pattern=[{week}]", f"population.weekly_purchase_pattern=[{week}]"]
    out += [
        "strategy.paid_ads.search.adstock.kind=delayed",
        f"strategy.paid_ads.search.adstock.peak_delay={MAX_ADSTOCK_LAG}",
    ]
    out += ["strategy.incentives.schedule.start_day=0", "strategy.incentives.schedule.end_day=10"]  # on, then the dip
    return out


def _run_finite(overrides: list[str]) -> Any:
    result = _no_runtime_warnings(lambda: simulate(["strategy=balanced_mix", *overrides, *SMALL]))
    _economics_finite(result.summary)
    numbers = result.daily.select_dtypes("number")
    assert np.isfinite(numbers.to_numpy(dtype=float)).all(), numbers.columns[~np.isfinite(numbers).all()].tolist()
    return result


def test_every_rate_and_multiplier_at_its_ceiling_gives_finite_results():
    result = _run_finite(_ceiling_overrides())
    assert result.summary["acquired_users"] > 0


def test_the_knobs_without_a_ceiling_are_finite_at_the_largest_float():
    largest = [f"{key}=1e308" for key in UNBOUNDED]
    result = _run_finite([*largest, "population.trait_sampling=smooth"])
    assert result.summary["acquired_users"] > 0
