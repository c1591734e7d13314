"""Every value the schema accepts gives finite results; the values beyond a money bound are refused.

Huge money values (a daily budget of 1e300, a CPM of 1e-300, an order value of 1e300, a cost
per contact of 1e308) used to run with exit 0 and give NaN or inf: inf/inf in the ads' Hill
curve made the awareness hazard NaN, which wiped out organic acquisition too; order values
overflowed float32; costs overflowed float64. Now every money knob is at most
:data:`~sim.base.schema.MAX_MONEY` (a CPM at least :data:`~sim.levers.paid_ads.MIN_CPM`), an
order value's sigma at most :data:`~sim.core.population.MAX_ORDER_SIGMA`, and the Hill curve
saturates where (A/K)^n overflows.
"""

from __future__ import annotations

import math
import sys
import warnings
from typing import Any

import pytest

import sim.app.cli
from sim import simulate
from sim.app.config import load_config
from sim.base.errors import ConfigError
from sim.base.schema import MAX_MONEY
from sim.core.population import MAX_ORDER_SIGMA
from sim.levers.onboarding import MAX_ONBOARDING_DAYS
from sim.levers.paid_ads import MIN_CPM, AdstockConfig, PaidAds, PaidAdsConfig, SaturationConfig, hill
from sim.levers.referral import Referral, ReferralConfig
from tests.test_lever_units import ads, run_ads

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
