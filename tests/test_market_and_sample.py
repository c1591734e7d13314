"""The market is what money acts on; the sample only sets the Monte-Carlo error.

``population.market_size`` M is the real market; ``population.sample_size`` N users are
simulated, each standing for w = M / N. These tests check that an economic answer does
not move with N beyond sampling noise, that the Monte-Carlo error a single run reports
matches the spread over seeds, and that purchases per visit are exactly ρ·w_p.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim import simulate

ECONOMICS_ONLY = [
    "progress=false",
    "figures=false",
    "record_events=false",
    "economics.marginal_roi=false",
    "economics.spend_response_multipliers=[]",
]


def _paid_growth(sample: int, seed: int, days: int = 365) -> dict:
    r = simulate(
        [
            "strategy=paid_growth",
            "population.market_size=1000000",
            f"population.sample_size={sample}",
            f"seed={seed}",
            f"horizon_days={days}",
            *ECONOMICS_ONLY,
        ]
    )
    e = r.summary["economics"]
    return {
        "roi": e["incremental"]["roi"],
        "roi_se": e["monte_carlo"]["incremental"]["roi"],
        "cac": e["incremental"]["cac"],
        "payback": e["payback_day"],
        "d30": r.summary["retention"]["d30"],
        "users": e["incremental"]["acquired_users"],
        "users_se": e["monte_carlo"]["incremental"]["acquired_users"],
    }


@pytest.mark.slow
def test_paid_growth_answer_does_not_move_with_the_sample_size():
    """Incremental ROI, CAC, payback day and D30 at N = 1e6, 3e5, 1e5 of a 1e6 market agree.

    Tolerance: each size's mean over k seeds has standard error sd/√k (sd: seed-to-seed
    standard deviation at that size); two sizes agree when their means differ by less than
    4 · √(se_a² + se_b²) — a wrong scaling by M/N would move them by tens of SE.
    """
    seeds = range(4)
    runs = {n: [_paid_growth(n, s) for s in seeds] for n in (1_000_000, 300_000, 100_000)}
    for metric in ("roi", "cac", "payback", "d30"):
        stats = {}
        for n, rows in runs.items():
            values = np.array([r[metric] for r in rows], dtype=float)
            assert np.isfinite(values).all(), (metric, n, values)
            stats[n] = (values.mean(), values.std(ddof=1) / np.sqrt(len(values)))
        full_mean, full_se = stats[1_000_000]
        for n in (300_000, 100_000):
            mean, se = stats[n]
            floor = 1.0 if metric == "payback" else 0.0  # payback is a whole day: allow one day of rounding
            assert abs(mean - full_mean) <= 4 * np.hypot(se, full_se) + floor, (metric, n, mean, full_mean)


@pytest.mark.slow
def test_reported_monte_carlo_error_matches_the_spread_over_seeds():
    """The batch-means SE of one run estimates the seed-to-seed SD of that run's answer.

    With k = 8 seeds the sample SD has a relative error of about 1/√(2(k−1)) ≈ 27 %, and
    the batch-means SE (20 groups) about 16 %; a ratio within [0.5, 2] allows both and
    still catches an SE that forgets the weight w (a factor √10 off at N = M/10) or the √G.
    """
    rows = [_paid_growth(100_000, s, days=180) for s in range(8)]
    for metric in ("roi", "users"):
        spread = np.std([r[metric] for r in rows], ddof=1)
        reported = np.mean([r[f"{metric}_se"] for r in rows])
        assert 0.5 < reported / spread < 2.0, (metric, reported, spread)


def test_a_large_market_runs_on_a_sample_and_reports_real_users():
    """M = 50,000,000 simulated with N = 50,000 (w = 1000): counts and money are for the real market."""
    r = simulate(
        [
            "population.market_size=50000000",
            "population.sample_size=50000",
            "horizon_days=30",
            "strategy=paid_growth",
            *ECONOMICS_ONLY,
        ]
    )
    daily = r.daily
    stages = daily[["unaware", "aware", "new", "retained", "activated", "dormant", "churned"]].sum(axis=1)
    assert np.allclose(stages, 50_000_000)  # 50,000 slots × 1000 each, every day
    assert r.summary["sample_size"] == 50_000 and r.summary["user_weight"] == 1000.0
    # every count is a multiple of the weight: whole simulated users times 1000
    assert np.allclose(daily["new_users"] / 1000, np.round(daily["new_users"] / 1000))
    ads = r.summary["economics"]["cost_by_lever"]
    assert ads["paid_ads_search"] == pytest.approx(1500 * 30)  # fixed budgets are not multiplied by w


def test_fixed_costs_are_not_scaled_and_per_user_costs_are():
    """Onboarding costs its price per real user (w per simulated one); content costs its daily fee."""
    common = ["population.market_size=40000", "horizon_days=40", *ECONOMICS_ONLY]
    levers = [
        "strategy.onboarding.enabled=true",
        "strategy.onboarding.cost_per_user=2",
        "strategy.content.enabled=true",
        "strategy.content.daily_cost=10",
    ]
    whole = simulate([*common, *levers])
    tenth = simulate([*common, "population.sample_size=4000", *levers])
    for r, w in ((whole, 1), (tenth, 10)):
        assert r.daily["cost_content"].sum() == pytest.approx(10 * 40)
        # every simulated user acquired is onboarded (untargeted, always on): 2 per real user
        assert r.daily["cost_onboarding"].sum() == pytest.approx(2 * r.daily["new_users"].sum())
        assert r.daily["new_users"].sum() % w == 0


def test_a_purchase_per_visit_has_probability_rho_even_when_the_visit_probability_exceeds_one(make_cohort_config):
    """π ≈ 1 and habit strength 1 push v above 1; P(purchase | visit) must stay ρ = 0.1.

    Before the fix the purchase test used the uncapped v, giving ρ·E[min(v,2)] ≈ 0.2.
    Tolerance: purchases ~ Binomial(visits, ρ): 4 SE = 4·√(ρ(1 − ρ)/visits).
    """
    from dataclasses import replace

    from sim.core.population import SegmentConfig
    from sim.core.survival import ChurnConfig
    from sim.core.visits import HabitConfig, VisitConfig

    cfg = make_cohort_config(market_size=20_000, days=30, churn=ChurnConfig(a=1.0, b=1e6))
    segment = SegmentConfig(weight=1.0, churn=ChurnConfig(a=1.0, b=1e6), visits=VisitConfig(alpha=1e4, beta=1.0))
    segment = replace(segment, purchase_prob=0.1)
    pop = replace(cfg.population, habit=HabitConfig(gain=1.0, decay=0.0, strength=1.0), segments={"all": segment})
    r = simulate(replace(cfg, population=pop))
    visits, purchases = r.daily["dau"].sum(), r.daily["purchases"].sum()
    assert visits > 500_000
    assert abs(purchases / visits - 0.1) < 4 * np.sqrt(0.1 * 0.9 / visits)
