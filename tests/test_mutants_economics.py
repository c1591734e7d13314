"""Tests that kill surviving mutants of ``sim/analysis/economics.py`` and ``monte_carlo.py`` (docs/mutation.md).

``evaluate`` on hand-built run records with distinct round numbers, so every field of
the ``economics`` block is checked against a value worked out by hand (in the
comments); a wrong sign, term or key changes at least one of them.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from compensated_sum import sum_as_in_python_312

from sim.analysis import economics
from sim.analysis.economics import (
    EconomicsConfig,
    _scaled_sbg,
    daily_frame,
    evaluate,
    fit_retention_tail,
    ltv,
    payback_day,
    roi,
    survival_tail,
)
from sim.analysis.monte_carlo import ratio_se, total_se
from sim.analysis.retention import LONG_TERM_DAYS
from sim.analysis.survival_fit import survival_curve


class FakeLever(SimpleNamespace):
    def summary(self):
        return dict(self.counts)


def record(
    daily: dict, *, levers=(), group_acquired=(1.0, 2.0, 3.0, 6.0), group_revenue=(0.0,) * 4, group_cost=(0.0,) * 4
):
    active = np.array([[4, 1], [3, 0]], dtype=np.int32)
    return SimpleNamespace(
        daily=pd.DataFrame(daily),
        cohort_active=active,
        cohort_revenue=np.array([[8.0, 2.0], [6.0, 0.0]]),
        levers=list(levers),
        retention_curve=np.array([1.0, 0.25]),
        analytics_summary=None,
        group_acquired=np.asarray(group_acquired, dtype=float),
        group_revenue=np.asarray(group_revenue, dtype=float),
        group_cost=np.asarray(group_cost, dtype=float),
    )


ADS = FakeLever(label="paid_ads_search", kind="paid_ads", channel="search", budget_key="daily_budget", counts={})
REFERRAL = FakeLever(
    label="referral", kind="referral", channel="referral", budget_key="reward_referrer", counts={"referrals": 3}
)
EVENT = FakeLever(label="viral_event_launch", kind="viral_event", channel="launch", budget_key=None, counts={})


@pytest.fixture
def strategy_run():
    # revenue 600, cost 60 (ads) + 10 (referral) + 0 (event) = 70; 20 users, 6 by search, 2 referred; mean DAU 20
    return record(
        {
            "day": [0, 1, 2],
            "new_users": [4, 6, 10],
            "new_users_search": [1, 2, 3],
            "new_users_referral": [0, 1, 1],
            "dau": [10, 20, 30],
            "revenue": [100.0, 200.0, 300.0],
            "cost_paid_ads_search": [10.0, 20.0, 30.0],
            "cost_referral": [5.0, 5.0, 0.0],
            "cost_viral_event_launch": [0.0, 0.0, 0.0],
            "cost_total": [15.0, 25.0, 30.0],
        },
        levers=[ADS, REFERRAL, EVENT],
        group_revenue=(160.0, 140.0, 150.0, 150.0),
        group_cost=(20.0, 15.0, 20.0, 15.0),
    )


@pytest.fixture
def baseline_run():
    # revenue 300, 10 users, mean DAU 10
    return record(
        {"day": [0, 1, 2], "new_users": [2, 3, 5], "dau": [5, 10, 15], "revenue": [50.0, 100.0, 150.0]},
        group_acquired=(1.0, 1.0, 1.0, 7.0),
        group_revenue=(70.0, 80.0, 75.0, 75.0),
    )


def test_economics_block_by_hand(strategy_run, baseline_run):
    out = evaluate(strategy_run, baseline_run, {}, EconomicsConfig(currency="EUR", margin=0.25))
    assert out["currency"] == "EUR" and out["margin"] == 0.25
    assert out["revenue"] == 600.0 and out["gross_profit"] == 150.0
    assert out["cost_by_lever"] == {"paid_ads_search": 60.0, "referral": 10.0, "viral_event_launch": 0.0}
    assert out["cost_total"] == 70.0
    assert out["profit"] == 80.0 and out["roi"] == pytest.approx(80 / 70)
    # incremental: 10 users, revenue 300, ΔGP 75, profit 75 − 70 = 5, ROI 5/70, mean DAU +10, CAC 70/10
    assert out["incremental"] == {
        "acquired_users": 10,
        "revenue": 300.0,
        "gross_profit": 75.0,
        "profit": 5.0,
        "roi": pytest.approx(5 / 70),
        "mean_dau": 10.0,
        "cac": 7.0,
    }
    # cumulative ΔGP 12.5, 37.5, 75 against cumulative cost 15, 40, 70: paid back from day 2
    assert out["payback_day"] == 2
    assert out["cac_by_channel"] == {"search": 10.0}  # 60 / 6
    assert out["viral_coefficient"] == pytest.approx(0.1)  # 2 referred / 20 acquired
    assert out["levers"] == {"referral": {"referrals": 3}}  # levers with an empty summary are left out
    assert out["marginal_roi"] == {"viral_event_launch": None}  # no reruns given; fixed price: None
    mc = out["monte_carlo"]
    assert mc["groups"] == 4
    assert mc["acquired_users"] == pytest.approx(total_se(np.array([1.0, 2.0, 3.0, 6.0])), rel=1e-12)
    # paired group differences: users (0, 1, 2, −1), ΔGP 0.25 · (90, 60, 75, 75), profit ΔGP − cost
    assert mc["incremental"]["acquired_users"] == pytest.approx(math.sqrt(4 * np.var([0, 1, 2, -1], ddof=1)))
    d_gp = 0.25 * np.array([90.0, 60.0, 75.0, 75.0])
    d_profit = d_gp - np.array([20.0, 15.0, 20.0, 15.0])
    assert mc["incremental"]["gross_profit"] == pytest.approx(math.sqrt(4 * np.var(d_gp, ddof=1)))
    assert mc["incremental"]["profit"] == pytest.approx(math.sqrt(4 * np.var(d_profit, ddof=1)))


def test_economics_block_without_a_baseline(strategy_run):
    out = evaluate(strategy_run, None, {}, EconomicsConfig(margin=0.25))
    assert out["incremental"] is None and out["payback_day"] is None
    assert out["monte_carlo"]["incremental"] is None
    assert out["profit"] == 80.0


def test_cac_is_undefined_without_users_or_without_cost(strategy_run, baseline_run):
    same_users = record(dict(baseline_run.daily, new_users=[4, 6, 10]))  # no incremental users
    out = evaluate(strategy_run, same_users, {}, EconomicsConfig(margin=0.25))
    assert out["incremental"]["acquired_users"] == 0 and math.isnan(out["incremental"]["cac"])
    zero = {k: [0.0] * 3 for k in strategy_run.daily if k.startswith("cost_")}
    free = record(dict(strategy_run.daily, **zero), levers=[ADS])
    out = evaluate(free, baseline_run, {}, EconomicsConfig(margin=0.25))
    assert out["cost_total"] == 0.0 and math.isnan(out["roi"]) and math.isnan(out["incremental"]["cac"])
    assert out["payback_day"] is None  # nothing spent, nothing to pay back
    assert out["cac_by_channel"] == {"search": pytest.approx(0.0)}  # ads that cost nothing: 0 / 6
    no_search = record(dict(strategy_run.daily, new_users_search=[0, 0, 0]), levers=[ADS])
    assert math.isnan(evaluate(no_search, None, {}, EconomicsConfig())["cac_by_channel"]["search"])


def test_daily_frame_adds_gross_profit_and_baseline_columns(strategy_run, baseline_run):
    out = daily_frame(strategy_run.daily, baseline_run.daily, 0.25)
    assert out["gross_profit"].tolist() == [25.0, 50.0, 75.0]
    assert out["baseline_new_users"].tolist() == [2, 3, 5]
    assert out["baseline_dau"].tolist() == [5, 10, 15]
    assert out["baseline_revenue"].tolist() == [50.0, 100.0, 150.0]
    assert out["incremental_gross_profit"].tolist() == [12.5, 25.0, 37.5]
    alone = daily_frame(strategy_run.daily, None, 0.25)
    assert "baseline_revenue" not in alone and "incremental_gross_profit" not in alone
    assert "gross_profit" not in strategy_run.daily  # a copy: the run's own table is untouched


def test_cac_for_one_incremental_user_and_for_a_cost_below_one(baseline_run):
    one_more = record(dict(baseline_run.daily, new_users=[2, 3, 6], cost_push=[0.25, 0.25, 0.0]))
    out = evaluate(one_more, baseline_run, {}, EconomicsConfig(margin=0.25))
    assert out["incremental"]["acquired_users"] == 1 and out["cost_total"] == 0.5
    assert out["incremental"]["cac"] == 0.5  # 0.5 / 1


def test_standard_errors_of_two_groups():
    """Two groups are enough: SE(T) = √(2 · Σ(x − x̄)²), SE(R) = √(2 · Σ(a − R·b)²) / |Σb|."""
    assert total_se(np.array([3.0, 7.0])) == pytest.approx(math.sqrt(2 * (4 + 4)), rel=1e-15)
    # R = 6 / 4 = 1.5; residuals 1 − 1.5·1 = −0.5 and 5 − 1.5·3 = 0.5
    assert ratio_se(np.array([1.0, 5.0]), np.array([1.0, 3.0])) == pytest.approx(math.sqrt(2 * 0.5) / 4, rel=1e-15)
    assert math.isnan(ratio_se(np.array([1.0]), np.array([2.0])))


def test_payback_with_a_cost_below_one_currency_unit():
    assert payback_day(np.array([1.0, 0.0]), np.array([0.5, 0.0])) == 0


def test_scaled_sbg_curve_by_hand():
    """s · B(α, β + n) / B(α, β); with α = β = 1 that is s / (1 + n), with α = 2, β = 1 it is s · 2 / ((n + 1)(n + 2))."""
    n = np.array([0.0, 1.0, 3.0])
    assert _scaled_sbg(n, 2.0, 0.0, 0.0) == pytest.approx([2.0, 1.0, 0.5], rel=1e-12)
    assert _scaled_sbg(n, 1.0, math.log(2.0), 0.0) == pytest.approx([1.0, 1 / 3, 0.1], rel=1e-12)


def test_retention_tail_fit_uses_day_1_and_needs_three_days():
    truth = (0.5, 0.8, 2.5)
    curve = np.concatenate([[1.0], _scaled_sbg(np.arange(1.0, 4.0), truth[0], math.log(truth[1]), math.log(truth[2]))])
    params, fitted = fit_retention_tail(curve)  # exactly three points, D_1 … D_3: enough for three parameters
    assert (params["scale"], params["alpha"], params["beta"]) == pytest.approx(truth, rel=1e-4)
    assert fitted(np.array([1.0, 10.0])) == pytest.approx(
        _scaled_sbg(np.array([1.0, 10.0]), 0.5, math.log(0.8), math.log(2.5)), rel=1e-4
    )
    params, fitted = fit_retention_tail(curve[:3])  # two days are not enough: no tail
    assert sorted(params) == ["alpha", "beta", "scale"] and all(math.isnan(v) for v in params.values())
    assert fitted(np.array([5.0, 6.0])).tolist() == [0.0, 0.0]


def test_retention_tail_fit_that_does_not_converge_is_flat_at_the_last_observed_level(monkeypatch):
    import scipy.optimize

    def no_convergence(*args, **kwargs):
        raise RuntimeError("Optimal parameters not found")

    monkeypatch.setattr(scipy.optimize, "curve_fit", no_convergence)
    curve = np.array([1.0, 0.3, 0.2, np.nan, 0.15, 0.12, np.nan])
    params, fitted = fit_retention_tail(curve)
    assert params["scale"] == 0.12 and math.isnan(params["alpha"]) and math.isnan(params["beta"])
    assert sorted(params) == ["alpha", "beta", "scale"]
    assert fitted(np.array([3, 50])).tolist() == [0.12, 0.12]
    assert fitted(np.array([3, 50])).dtype == np.float64


FIT = {"model": "bdw", "params": {"a": 0.8, "b": 2.0, "c": 0.9}}


def test_survival_tail_anchors_at_the_long_term_day_of_a_longer_curve():
    """A classic curve observed past D90 is anchored at D90 exactly (the last long-term day)."""
    curve = np.linspace(0.5, 0.01, 150)
    params, tail = survival_tail(curve, FIT)
    assert LONG_TERM_DAYS == 90 and params["anchor_day"] == 90
    assert params == {"model": "bdw MLE of rolling retention", "anchor_day": 90, "a": 0.8, "b": 2.0, "c": 0.9}
    s = survival_curve(np.array([90.0, 120.0]), 0.8, 2.0, 0.9)
    assert tail(np.array([120]))[0] == pytest.approx(curve[90] * s[1] / s[0], rel=1e-12)
    assert tail(np.array([89, 90])).tolist() == [curve[89], curve[90]]  # up to the anchor: read, not projected
    assert tail(np.array([91]))[0] != curve[91]  # beyond it: projected even where the run observed it


def test_survival_tail_without_an_observed_day_is_zero():
    curve = np.array([1.0, np.nan, np.nan])
    params, tail = survival_tail(curve, FIT)
    assert params == {"model": "none"}
    out = tail(np.array([1, 2, 400]))
    assert out.dtype == np.float64 and out.tolist() == [0.0, 0.0, 0.0]


def test_marginal_roi_without_a_cost_difference_is_nan(strategy_run):
    same = record(dict(strategy_run.daily, revenue=[110.0, 200.0, 300.0]))  # the rerun spent exactly as much
    out = evaluate(strategy_run, None, {"paid_ads_search": (same, 1.01)}, EconomicsConfig(margin=0.25))
    assert math.isnan(out["marginal_roi"]["paid_ads_search"])


def test_ltv_uses_the_run_s_rolling_retention_fit_when_there_is_one(strategy_run, monkeypatch):
    # 7 users: below the 300 users a projected day must rest on (MIN_CURVE_USERS); lifted here, as
    # this test is about which fit evaluate passes on (the limit has its own tests in test_economics).
    monkeypatch.setattr(economics, "MIN_CURVE_USERS", 0)
    out = evaluate(strategy_run, None, {}, EconomicsConfig(margin=0.25))
    assert out["ltv"]["tail_fit"]["model"] == "scaled sBG least squares on classic retention"
    fit = {"model": "bdw", "params": {"a": 0.8, "b": 2.0, "c": 0.9}}
    strategy_run.analytics_summary = {"rolling_retention_fit": {"bdw": fit}}
    out = evaluate(strategy_run, None, {}, EconomicsConfig(margin=0.25))
    assert out["ltv"]["tail_fit"]["model"] == "bdw MLE of rolling retention" and out["ltv"]["days"] == 365
    # observed: m · (8 + 2·1.1^(−1/365) + 6) over the 4 + 3 acquired users
    assert out["ltv"]["observed"] == pytest.approx(0.25 * (8 + 2 * 1.1 ** (-1 / 365) + 6) / 7, rel=1e-12)


def test_roi_with_a_cost_below_one_and_without_cost():
    assert roi(1.0, 0.5) == 1.0  # (1 − 0.5) / 0.5
    assert math.isnan(roi(1.0, 0.0))


def test_ltv_without_acquired_users_is_nan_with_its_horizon():
    zeros = np.zeros((3, 3))
    out = ltv(zeros.astype(np.int32), zeros, np.full(3, np.nan), margin=0.3, annual_discount_rate=0.1, ltv_days=30)
    assert sorted(out) == ["days", "observed", "per_user", "projected_tail"] and out["days"] == 30
    assert all(math.isnan(out[k]) for k in ("per_user", "observed", "projected_tail"))


def test_marginal_roi_of_levers_listed_after_a_fixed_price_one(strategy_run):
    strategy_run.levers = [EVENT, ADS]
    more = record(dict(strategy_run.daily, revenue=[120.0, 200.0, 300.0], cost_paid_ads_search=[12.0, 20.0, 30.0]))
    more.daily["cost_total"] = [17.0, 25.0, 30.0]
    out = evaluate(strategy_run, None, {"paid_ads_search": (more, 1.01)}, EconomicsConfig(margin=0.25))
    # ΔGP = 0.25 · 20 = 5, ΔC = 2: (5 − 2) / 2
    assert out["marginal_roi"] == {"viral_event_launch": None, "paid_ads_search": 1.5}


def test_no_viral_coefficient_without_a_referral_channel(baseline_run):
    assert "viral_coefficient" not in evaluate(baseline_run, None, {}, EconomicsConfig())


def test_the_total_cost_adds_the_levers_costs_up_in_their_order():
    """Left to right, on every Python (3.12's sum(), stood in here, would keep both ones: 1e16 + 2)."""
    big = FakeLever(label="big", kind="content", channel=None, budget_key=None, counts={})
    one = FakeLever(label="one", kind="coupon", channel=None, budget_key=None, counts={})
    another = FakeLever(label="another", kind="push", channel=None, budget_key=None, counts={})
    run = record(
        {
            "day": [0],
            "new_users": [0],
            "dau": [1],
            "revenue": [0.0],
            "cost_big": [1e16],
            "cost_one": [1.0],
            "cost_another": [1.0],
            "cost_total": [1e16],
        },
        levers=[big, one, another],
    )
    with sum_as_in_python_312():  # so that sum() would give 1e16 + 2 on 3.11 too
        out = evaluate(run, None, {}, EconomicsConfig())
    assert out["cost_by_lever"] == {"big": 1e16, "one": 1.0, "another": 1.0}
    assert out["cost_total"] == 1e16
