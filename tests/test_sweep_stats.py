"""A sweep's statistics and their legend: intervals over seeds, and what a point of one seed has instead."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from sim.analysis import stats
from sim.analysis.stats import t_interval
from sim.analysis.sweep_stats import METRICS, summarize_points
from sim.output import sweep_report
from sim.output.verdict import sweep_verdict


def _jobs(seeds_per_point: dict[str, int]) -> pd.DataFrame:
    """Jobs of points that spend 100 and gain 150 + 10 · seed (incremental profit 50 + 10 · seed)."""
    rows = []
    for point, seeds in seeds_per_point.items():
        for seed in range(seeds):
            row = dict.fromkeys(METRICS, np.nan)
            gain = 150.0 + 10 * seed
            row.update(
                point=point,
                seed=seed,
                cost=100.0,
                incremental_profit=gain - 100.0,
                incremental_roi=(gain - 100.0) / 100.0,
                payback_day=30.0,
                d30=0.2,
            )
            rows.append(row)
    return pd.DataFrame(rows)


def _verdict(table: pd.DataFrame, point: str) -> str:
    row = table.set_index("point").loc[point]
    return sweep_verdict(row, subject=point, currency="USD", horizon_days=90).interval


def test_the_verdict_of_a_point_of_one_seed_claims_no_t_interval():
    """The page read "Intervals: 95 % t-interval over 1 seed" where no interval exists."""
    table = summarize_points(_jobs({"a": 1, "b": 1}))
    assert table["incremental_profit_lo"].isna().all()
    assert _verdict(table, "a") == "none: one seed (an interval over seeds needs 2 seeds or more)"
    assert _verdict(summarize_points(_jobs({"a": 2})), "a").startswith("95 % t-interval over 2 seeds")


def test_the_table_legend_of_one_seed_per_point_says_no_interval():
    """The Markdown table's legend said "[low, high] = 95 % t-interval over seeds" with one seed per point."""
    table = summarize_points(_jobs({"a": 1, "b": 1}))
    legend = sweep_report.interval_legend(table, "[low, high] =")
    assert legend == "no interval: one seed per point (an interval needs 2 seeds or more)"
    markdown = sweep_report.sweep_markdown(table, [], Path("sweep"))
    assert "t-interval" not in markdown and legend in markdown


def test_two_seeds_per_point_have_a_t_interval_and_a_mixed_sweep_says_which_points_have_none():
    table = summarize_points(_jobs({"a": 2, "b": 2}))
    assert table["incremental_profit_lo"].notna().all()
    assert sweep_report.interval_legend(table, "[low, high] =") == "[low, high] = 95 % t-interval over seeds"
    assert "[low, high] = 95 % t-interval over seeds" in sweep_report.sweep_markdown(table, [], Path("sweep"))
    mixed = summarize_points(_jobs({"a": 2, "b": 1}))
    assert sweep_report.interval_legend(mixed, "±:") == (
        "±: 95 % t-interval over seeds (none for a point of one seed: an interval needs 2 seeds or more)"
    )
    assert _verdict(mixed, "b").startswith("none: one seed")


# --- ROI as a ratio estimator; intervals within what a value can be ----------------------------


def _t_quantile(n: int) -> float:
    return float(scipy.stats.t.ppf(0.975, n - 1))


def test_ratio_interval_by_hand():
    """R = Σy/Σx; half-width t_{0.975,n−1} · s_d / (√n · x̄) with d = y − R·x (worked out here by hand)."""
    y, x = np.array([-90.0, 10.0]), np.array([100.0, 10.0])
    ratio, lo, hi, n = stats.ratio_interval(y, x)
    assert n == 2 and ratio == pytest.approx(-80 / 110)
    d = 10 + 80 / 110 * 10  # d = ±(y_2 − R·x_2) = ±17.27…: the two residuals are opposite
    half = _t_quantile(2) * math.sqrt(2 * d**2) / math.sqrt(2) / 55.0
    assert (lo, hi) == (pytest.approx(ratio - half), pytest.approx(ratio + half))
    one = stats.ratio_interval(np.array([5.0, np.nan]), np.array([10.0, 3.0]))  # a pair without its gain is left out
    assert one[0] == 0.5 and math.isnan(one[1]) and one[3] == 1
    assert all(math.isnan(v) for v in stats.ratio_interval(np.array([0.0, 0.0]), np.array([0.0, 0.0]))[:3])  # no cost


def test_ratio_interval_of_a_fixed_cost_is_the_t_interval_of_the_seeds_ratios():
    gains = np.array([30.0, -10.0, 55.0, 12.0])
    ratio, lo, hi, _n = stats.ratio_interval(gains, np.full(4, 40.0))
    mean, t_lo, t_hi, _ = t_interval(gains / 40.0)
    assert (ratio, lo, hi) == (pytest.approx(mean), pytest.approx(t_lo), pytest.approx(t_hi))


def test_ratio_interval_covers_the_true_ratio_95_percent_of_the_time():
    """Coverage over 4,000 simulated sweeps of 20 seeds (gain = 0.5 · cost + noise, costs vary).

    Tolerance ±2 percentage points: the Monte-Carlo standard error of the coverage is
    √(0.95 · 0.05 / 4000) ≈ 0.35 points, and the delta method is an approximation at 20 seeds.
    """
    rng = np.random.default_rng(7)
    true_ratio, sweeps, seeds = 0.5, 4000, 20
    covered = 0
    for _ in range(sweeps):
        cost = rng.uniform(10.0, 200.0, seeds)
        gain = true_ratio * cost + rng.normal(0.0, 20.0, seeds)
        _r, lo, hi, _n = stats.ratio_interval(gain, cost)
        covered += lo <= true_ratio <= hi
    assert covered / sweeps == pytest.approx(0.95, abs=0.02)


def test_a_points_roi_is_its_summed_gain_over_its_summed_cost_not_the_mean_of_the_seeds_rois():
    """Seed 1 spent 10, not 100: its ROI of +1.0 made the point's mean ROI +0.05 for a point that lost 80 of 110."""
    rows = [
        {"point": "a", "seed": 0, "cost": 100.0, "incremental_profit": -90.0, "profit": -95.0},
        {"point": "a", "seed": 1, "cost": 10.0, "incremental_profit": 10.0, "profit": 5.0},
    ]
    jobs = pd.DataFrame([{**dict.fromkeys(METRICS, np.nan), **r} for r in rows])
    jobs["incremental_roi"] = jobs["incremental_profit"] / jobs["cost"]
    jobs["roi"] = jobs["profit"] / jobs["cost"]
    point = summarize_points(jobs).iloc[0]
    assert jobs["incremental_roi"].mean() == pytest.approx(0.05)  # what the table showed
    assert point["incremental_roi"] == pytest.approx(-80 / 110) and point["roi"] == pytest.approx(-90 / 110)
    expected = stats.ratio_interval(jobs["incremental_profit"].to_numpy(), jobs["cost"].to_numpy())
    assert (point["incremental_roi_lo"], point["incremental_roi_hi"]) == pytest.approx(expected[1:3])


def test_intervals_of_costs_and_shares_stay_within_what_they_can_be_others_do_not():
    """Two seeds of a cost of 2.57 and 1.97 USD gave the interval [−1.54, 6.08]; D30 of 0 and 6.7 % [−39 %, 45 %]."""
    rows = [
        {"point": "a", "seed": 0, "cost": 2.57, "d30": 0.0667, "d1": 0.999, "incremental_profit": -2.57},
        {"point": "a", "seed": 1, "cost": 1.97, "d30": 0.0, "d1": 0.9, "incremental_profit": -1.97},
    ]
    jobs = pd.DataFrame([{**dict.fromkeys(METRICS, np.nan), **r} for r in rows])
    point = summarize_points(jobs).iloc[0]
    for metric, low, high in (("cost", 0.0, math.inf), ("d30", 0.0, 1.0), ("d1", 0.0, 1.0)):
        mean, t_lo, t_hi, _ = t_interval(jobs[metric].to_numpy())
        assert point[f"{metric}_lo"] == pytest.approx(max(t_lo, low)), metric
        assert point[f"{metric}_hi"] == pytest.approx(min(t_hi, high)), metric
        assert point[metric] == pytest.approx(mean)
    assert point["cost_lo"] == 0.0 and point["d30_lo"] == 0.0 and point["d1_hi"] == 1.0  # each was out of range
    profit = t_interval(jobs["incremental_profit"].to_numpy())
    assert point["incremental_profit_lo"] == pytest.approx(profit[1]) and profit[1] < 0  # a loss: not clipped
    markdown = sweep_report.sweep_markdown(summarize_points(jobs), [], Path("sweep"))
    assert "clipped to what the value can be" in markdown


@pytest.mark.parametrize(
    ("users", "expected"),
    [
        ((50.0, 1.0), 110 / 51),  # per-seed CACs 2 and 10: their mean, 6, is the cheap seed's price thrice
        ((50.0, -10.0), 110 / 40),  # one seed below its baseline: the point still bought 40 users for 110
        ((5.0, -10.0), None),  # fewer incremental users than none over both seeds: no price of a user
        ((0.0, 0.0), None),
    ],
)
def test_a_points_cac_is_its_summed_cost_over_its_summed_incremental_users(users, expected):
    rows = [
        {"point": "a", "seed": 0, "cost": 100.0, "incremental_users": users[0], "incremental_profit": 1.0},
        {"point": "a", "seed": 1, "cost": 10.0, "incremental_users": users[1], "incremental_profit": 1.0},
    ]
    jobs = pd.DataFrame([{**dict.fromkeys(METRICS, np.nan), **r} for r in rows])
    jobs["cac"] = np.where(jobs["incremental_users"] > 0, jobs["cost"] / jobs["incremental_users"], np.nan)
    point = summarize_points(jobs).iloc[0]
    if expected is None:
        assert math.isnan(point["cac"]) and math.isnan(point["cac_lo"]) and math.isnan(point["cac_hi"])
        return
    assert point["cac"] == pytest.approx(expected)
    _r, lo, hi, _n = stats.ratio_interval(jobs["cost"].to_numpy(), jobs["incremental_users"].to_numpy())
    assert point["cac_lo"] == pytest.approx(max(lo, 0.0)) and point["cac_hi"] == pytest.approx(hi)
    assert point["cac_lo"] >= 0.0  # a price is not negative, however wide the interval


# --- the twenty-fifth mutation run (docs/mutation.md): boundaries the tests above left open --------


def test_ratio_interval_of_a_negative_denominator_sum_is_that_of_both_signs_flipped():
    """R = Σy/Σx and the interval do not change when every y and x changes sign (d_i and |x̄| do not).

    Worked out by hand for y = (90, −10), x = (−100, −10): R = 80/−110; the residuals
    d = y − R·x are ±(−10 − 80/110 · 10) = ∓17.27…, s_d = √2 · 17.27…, |x̄| = 55.
    """
    y, x = np.array([90.0, -10.0]), np.array([-100.0, -10.0])
    ratio, lo, hi, n = stats.ratio_interval(y, x)
    d = 10 + 80 / 110 * 10
    half = _t_quantile(2) * math.sqrt(2) * d / math.sqrt(2) / 55.0
    assert n == 2 and ratio == pytest.approx(-80 / 110)
    assert (lo, hi) == (pytest.approx(ratio - half), pytest.approx(ratio + half)) and lo < ratio < hi
    assert stats.ratio_interval(-y, -x) == pytest.approx((ratio, lo, hi, n))


def test_ratio_interval_leaves_out_a_pair_without_its_denominator():
    """A seed without a cost (NaN) is left out with its gain: R is that of the other seeds, not NaN."""
    one = stats.ratio_interval(np.array([5.0, 3.0]), np.array([10.0, np.nan]))
    assert one[0] == 0.5 and math.isnan(one[1]) and math.isnan(one[2]) and one[3] == 1
    three = stats.ratio_interval(np.array([5.0, 3.0, 7.0, 1.0]), np.array([10.0, np.inf, 4.0, np.nan]))
    assert three[0] == pytest.approx(12 / 14) and three[3] == 2


def _cac_point(costs, users) -> pd.Series:
    rows = [
        {"point": "a", "seed": s, "cost": c, "incremental_users": u, "incremental_profit": 1.0}
        for s, (c, u) in enumerate(zip(costs, users, strict=True))
    ]
    return summarize_points(pd.DataFrame([{**dict.fromkeys(METRICS, np.nan), **r} for r in rows])).iloc[0]


def test_a_point_that_spent_nothing_has_no_cac_however_many_users_it_gained():
    """Σ cost = 0 is not positive: no price of a user (a CAC of 0 would read as free users)."""
    point = _cac_point((0.0, 0.0), (5.0, 3.0))
    assert math.isnan(point["cac"]) and math.isnan(point["cac_lo"]) and math.isnan(point["cac_hi"])
    point = _cac_point((0.0, 8.0), (5.0, 3.0))  # the other side: a little spend, a price of 8 / 8 = 1
    assert point["cac"] == pytest.approx(1.0)


def test_a_points_cac_leaves_out_a_seed_without_its_incremental_users():
    """Seed 1 has a cost but no incremental users (NaN): the CAC is that of seeds 0 and 2, 120 / 60, not none."""
    point = _cac_point((100.0, 10.0, 20.0), (50.0, np.nan, 10.0))
    assert point["cac"] == pytest.approx(2.0)
    expected = stats.ratio_interval(np.array([100.0, 20.0]), np.array([50.0, 10.0]))
    assert (point["cac_lo"], point["cac_hi"]) == pytest.approx((max(expected[1], 0.0), expected[2]))


@pytest.mark.parametrize(
    ("metric", "values", "low", "high"),
    [
        ("cost", (0.5, 9.0), 0.0, math.inf),
        ("d1", (0.2, 0.99), 0.0, 1.0),
        ("d7", (0.01, 0.3), 0.0, 1.0),
        ("d7", (0.7, 0.999), 0.0, 1.0),
        ("d30", (0.0, 0.1), 0.0, 1.0),
        ("payback_day", (2.0, 40.0), 0.0, math.inf),  # [−220, 262] over two seeds: a day before day 0
    ],
)
def test_every_bounded_metrics_interval_is_clipped_to_what_it_can_be(metric, values, low, high):
    """Two seeds' t-interval reaches past 0 (or 1 for a share); the point's interval stops there, its mean does not move."""
    rows = [{"point": "a", "seed": s, metric: v, "incremental_profit": 1.0} for s, v in enumerate(values)]
    point = summarize_points(pd.DataFrame([{**dict.fromkeys(METRICS, np.nan), **r} for r in rows])).iloc[0]
    mean, t_lo, t_hi, _n = t_interval(np.array(values))
    assert t_lo < low or t_hi > high  # the unclipped interval is out of range
    assert point[metric] == pytest.approx(mean)
    assert point[f"{metric}_lo"] == pytest.approx(max(t_lo, low)) and point[f"{metric}_hi"] == pytest.approx(
        min(t_hi, high)
    )
