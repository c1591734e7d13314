"""The planner's algorithms on known answers: risk measures, response-curve fits, marginal-ROI allocation, frontier."""

from __future__ import annotations

import numpy as np
import pytest

from sim.analysis.planning import (
    ResponseCurve,
    allocate_by_marginal_roi,
    fit_response_curve,
    frontier,
    metric_interval,
    risk_value,
)


def test_cvar_is_the_mean_of_the_worst_share_and_never_above_the_mean():
    x = [10.0, -2.0, 7.0, 3.0, 5.0, 1.0, 8.0, 4.0]
    assert risk_value(x, "mean", 0.25) == pytest.approx(np.mean(x))
    # worst ⌈0.25·8⌉ = 2 values to maximise: −2 and 1
    assert risk_value(x, "cvar", 0.25) == pytest.approx(-0.5)
    # α = 0.3: ⌈2.4⌉ = 3 values: −2, 1, 3
    assert risk_value(x, "cvar", 0.3) == pytest.approx(2 / 3)
    # to minimise (spend), the worst are the highest: 10 and 8
    assert risk_value(x, "cvar", 0.25, maximize=False) == pytest.approx(9.0)
    assert risk_value(x, "cvar", 1.0) == pytest.approx(np.mean(x))
    rng = np.random.default_rng(3)
    for _ in range(50):
        v = rng.normal(size=rng.integers(2, 20))
        assert risk_value(v, "cvar", rng.uniform(0.05, 1)) <= risk_value(v, "mean", 0.5) + 1e-12


def test_risk_of_a_nan_seed_is_nan_and_unknown_measures_are_refused():
    assert np.isnan(risk_value([1.0, np.nan], "mean", 0.5))
    with pytest.raises(ValueError, match="measure='median'"):
        risk_value([1.0], "median", 0.5)


def test_a_response_curve_is_recovered_from_its_own_points():
    truth = ResponseCurve(g_max=5000.0, half=800.0, shape=1.6, rmse=0.0)
    x = np.array([0.0, 200, 500, 900, 1500, 2500, 4000])
    fit = fit_response_curve(x, truth(x))
    assert fit.g_max == pytest.approx(5000, rel=1e-3)
    assert fit.half == pytest.approx(800, rel=1e-3)
    assert fit.shape == pytest.approx(1.6, rel=1e-3)
    with pytest.raises(ValueError, match="at least 3 points"):
        fit_response_curve([0.0, 1.0, 2.0], [0.0, 1.0, 2.0])


def test_the_derivative_of_a_response_curve_matches_finite_differences():
    c = ResponseCurve(g_max=300.0, half=40.0, shape=1.3, rmse=0.0)
    x = np.array([5.0, 40.0, 120.0])
    h = 1e-4
    assert np.allclose(c.derivative(x), (c(x + h) - c(x - h)) / (2 * h), rtol=1e-5)


def test_allocation_equalises_marginal_roi_on_concave_curves():
    """g_i(x) = a_i·x/(x + K_i): g_i'(x) = a_i K_i/(x + K_i)². With the budget binding, the optimum
    has g_1' = g_2' = 1 + λ; solved by hand below for a_1 = 4000, K_1 = 1000, a_2 = 2000, K_2 = 500, B = 1500."""
    curves = [ResponseCurve(4000.0, 1000.0, 1.0, 0.0), ResponseCurve(2000.0, 500.0, 1.0, 0.0)]
    x = allocate_by_marginal_roi(curves, 1500.0, [(0, 1e9), (0, 1e9)])
    assert x.sum() == pytest.approx(1500.0, abs=0.5)
    m = [c.derivative(xi) for c, xi in zip(curves, x, strict=True)]
    assert m[0] == pytest.approx(m[1], rel=1e-3)
    # by hand: √(a1 K1)/(x1 + K1) = √(a2 K2)/(x2 + K2) with x1 + x2 = 1500 →
    # x1 + 1000 = 2·(2500 − x1 − 1000 + 1000)… solved: √4e6 = 2000, √1e6 = 1000: (x1+1000) = 2(x2+500), x1 = 2x2 → x2 = 500
    assert x[1] == pytest.approx(500.0, abs=1.0) and x[0] == pytest.approx(1000.0, abs=1.0)


def test_allocation_leaves_budget_unspent_where_no_lever_pays_and_respects_bounds():
    poor = ResponseCurve(100.0, 1000.0, 1.0, 0.0)  # g'(0) = 0.1 < 1: never pays back
    good = ResponseCurve(4000.0, 1000.0, 1.0, 0.0)  # g'(x) = 1 at x = 1000
    x = allocate_by_marginal_roi([poor, good], 10_000.0, [(0, 1e9), (0, 1e9)])
    assert x[0] == pytest.approx(0.0, abs=1.0)
    assert x[1] == pytest.approx(1000.0, rel=1e-2)  # interior: marginal ROI 0, budget not binding
    x = allocate_by_marginal_roi([poor, good], 10_000.0, [(200, 1e9), (0, 600)])
    assert x[0] == pytest.approx(200.0, abs=1.0) and x[1] == pytest.approx(600.0, abs=1.0)


def test_the_frontier_picks_the_best_plan_within_each_budget():
    spend = [100, 250, 400, 400, 900]
    score = [5.0, 9.0, 8.0, 12.0, 30.0]
    assert frontier(spend, score, [50, 100, 399, 400, 1000]) == [None, 0, 1, 3, 4]
    assert frontier(spend, score, [400], maximize=False) == [0]


def test_a_budget_below_a_lower_bound_gets_every_lever_at_its_lower_bound():
    """A budget of 100 below a lever's lower bound of 300 gave it the upper bound 100: scipy refused the bounds."""
    curves = [ResponseCurve(4000.0, 1000.0, 1.0, 0.0), ResponseCurve(2000.0, 500.0, 1.0, 0.0)]
    x = allocate_by_marginal_roi(curves, 100.0, [(0, 1e9), (300, 1e9)])
    assert x == pytest.approx([0.0, 300.0], abs=1e-6)
    x = allocate_by_marginal_roi(curves, 400.0, [(0, 1e9), (300, 1e9)])  # the other side: 100 left to split
    assert x[1] >= 300.0 - 1e-6 and x.sum() == pytest.approx(400.0, abs=0.5)


#: t_{0.975, 1}: the 95 % half-width of two seeds is this times the standard error |x1 − x2| / 2.
T_975_1 = 12.706204736174694


@pytest.mark.parametrize(
    ("metric", "seeds", "low", "high"),
    [
        # a retention's low below 0 is clipped to 0 (the tester's plan: D30 low −0.048), its high kept
        ("d30", [0.01, 0.05], 0.0, 0.03 + T_975_1 * 0.02),
        # a low above 0 and a high below 1 are kept
        ("d30", [0.300, 0.302], 0.301 - T_975_1 * 0.001, 0.301 + T_975_1 * 0.001),
        # a high above 1 is clipped to 1
        ("d30", [0.95, 0.99], 0.97 - T_975_1 * 0.02, 1.0),
        ("cost", [100.0, 300.0], 0.0, 200.0 + T_975_1 * 100.0),
        ("cost", [1000.0, 1010.0], 1005.0 - T_975_1 * 5.0, 1005.0 + T_975_1 * 5.0),
        # metrics without bounds (a profit, a ROI, users can be below 0) keep the t-interval
        ("incremental_profit", [-100.0, 100.0], -T_975_1 * 100.0, T_975_1 * 100.0),
        ("incremental_roi", [-3.0, -1.0], -2.0 - T_975_1, -2.0 + T_975_1),
    ],
)
def test_a_metrics_interval_is_clipped_to_the_values_it_can_take(metric, seeds, low, high):
    """A plan's D30 interval ran below 0 % (−0.048) while the sweep's tables clip the same metric to 0–100 %."""
    mean, lo, hi, n = metric_interval(seeds, metric)
    assert (mean, n) == (pytest.approx(np.mean(seeds)), 2)
    assert lo == pytest.approx(low, rel=1e-12, abs=1e-12) and hi == pytest.approx(high, rel=1e-12, abs=1e-12)


def test_an_interval_of_one_seed_stays_unknown_when_clipped():
    mean, lo, hi, n = metric_interval([0.2], "d30")
    assert mean == 0.2 and n == 1 and np.isnan(lo) and np.isnan(hi)
