"""Economics on known numbers, and the comparison runs of a strategy."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from sim import simulate
from sim.analysis.economics import fit_retention_tail, ltv, payback_day, roi
from sim.analysis.retention import cohort_retention_curve as retention_curve


def test_roi_and_payback_on_known_series():
    assert roi(150.0, 100.0) == pytest.approx(0.5)
    assert np.isnan(roi(10.0, 0.0))
    cost = np.array([100.0, 0, 0, 0, 0])
    assert payback_day(np.array([10.0, 30, 40, 30, 5]), cost) == 3  # cumulative 10, 40, 80, 110 ≥ 100 on day 3
    assert payback_day(np.array([200.0, -150, 10, 60, 0]), cost) == 3  # day 0 does not count: it falls back
    assert payback_day(np.array([10.0, 10, 10, 10, 10]), cost) is None


def test_ltv_observed_part_on_a_hand_built_cohort():
    # Two cohorts of 10 and 5 users over a 3-day horizon; revenue by (cohort, tenure day).
    active = np.array([[10, 4, 2], [5, 2, 0], [0, 0, 0]])
    revenue = np.array([[20.0, 8.0, 4.0], [10.0, 2.0, 0.0], [0, 0, 0]])
    out = ltv(active, revenue, retention_curve(active), margin=0.5, annual_discount_rate=0.0, ltv_days=2)
    # Tenure days 0 and 1 are observed for both cohorts: 0.5 · (20 + 8 + 10 + 2) / 15 users.
    assert out["observed"] == pytest.approx(0.5 * 40 / 15)
    assert out["projected_tail"] == pytest.approx(0.0)  # nothing unobserved within 2 days
    disc = ltv(active, revenue, retention_curve(active), margin=0.5, annual_discount_rate=0.1, ltv_days=2)
    assert disc["observed"] == pytest.approx(0.5 * (30 + 10 * 1.1 ** (-1 / 365)) / 15)


def test_retention_tail_fit_recovers_a_scaled_sbg_curve():
    from scipy.special import betaln

    n = np.arange(60.0)
    curve = 0.4 * np.exp(betaln(0.7, 2.5 + n) - betaln(0.7, 2.5))
    params, fitted = fit_retention_tail(curve)
    assert params["scale"] == pytest.approx(0.4, rel=1e-3)
    assert params["alpha"] == pytest.approx(0.7, rel=1e-2)
    assert fitted(np.array([200.0]))[0] == pytest.approx(0.4 * np.exp(betaln(0.7, 202.5) - betaln(0.7, 2.5)), rel=1e-2)


@pytest.fixture(scope="module")
def paid_run():
    return simulate(["strategy=paid_growth", "population.market_size=50000", "horizon_days=120", "progress=false"])


def test_paid_growth_has_incremental_results_cac_ltv_and_marginal_roi(paid_run):
    econ = paid_run.summary["economics"]
    assert econ["incremental"]["acquired_users"] > 0
    assert econ["cost_total"] == pytest.approx(2 * 1500 * 120)  # two channels, on every day of the horizon
    assert set(econ["cac_by_channel"]) == {"search", "social"}
    for channel, cac in econ["cac_by_channel"].items():
        users = paid_run.daily[f"new_users_{channel}"].sum()
        assert cac == pytest.approx(1500 * 120 / users)
    assert econ["ltv"]["per_user"] == pytest.approx(econ["ltv"]["observed"] + econ["ltv"]["projected_tail"])
    assert econ["ltv"]["projected_tail"] > 0
    assert set(econ["marginal_roi"]) == {"paid_ads_search", "paid_ads_social"}
    assert all(np.isfinite(v) for v in econ["marginal_roi"].values())
    assert paid_run.meta["comparison_runs"] == 1 + 2 + 2 * 4


def test_spend_response_shows_diminishing_returns(paid_run):
    for channel in ("search", "social"):
        rows = paid_run.spend_response[paid_run.spend_response.channel == channel].sort_values("spend")
        assert list(rows.budget_multiplier) == [0.0, 0.5, 1.0, 2.0, 4.0]
        users = rows.incremental_new_users.to_numpy()
        spend = rows.spend.to_numpy()
        assert users[0] == 0 and (np.diff(users) > 0).all()
        per_unit = np.diff(users) / np.diff(spend)
        assert per_unit[-1] < per_unit[1], rows  # the last doubling buys fewer users per unit than 0.5x → 1x


#: paid_growth on 40 days with search on three periods of 10 days (daily budgets 3000, 0, 1500;
#: nothing once the list ends, days 30-39) and social on its flat 1500 a day (an empty list).
PERIODS = [
    "strategy=paid_growth",
    "population.market_size=3000",
    "horizon_days=40",
    "progress=false",
    "strategy.paid_ads.search.period_budgets=[3000,0,1500]",
    "strategy.paid_ads.search.period_days=10",
    "strategy.paid_ads.social.period_budgets=[]",
    "economics.spend_response_multipliers=[2.0]",
]


@pytest.fixture(scope="module")
def period_run():
    return simulate(PERIODS)


def test_spend_response_scales_the_period_budgets_a_channel_runs_on(period_run):
    table = period_run.spend_response.set_index(["channel", "budget_multiplier"])
    # search: 10·3000 + 10·0 + 10·1500 = 45,000 at x1; x0 spends nothing, x2 twice as much.
    assert list(table.loc["search", "spend"]) == [0.0, 45_000.0, 90_000.0]
    assert list(table.loc["search", "period_budgets"]) == ["0, 0, 0", "3000, 0, 1500", "6000, 0, 3000"]
    assert table.loc["search", "daily_budget"].isna().all()  # not what ran
    users = table.loc["search", "incremental_new_users"].to_numpy()
    assert users[0] == 0 < users[1]  # the search users are counted against search at zero
    # social: the empty list leaves the flat budget, 40 · 1500 = 60,000 at x1.
    assert list(table.loc["social", "spend"]) == [0.0, 60_000.0, 120_000.0]
    assert list(table.loc["social", "daily_budget"]) == [0.0, 1500.0, 3000.0]
    assert list(table.loc["social", "period_budgets"]) == ["", "", ""]


def test_marginal_roi_of_a_channel_on_period_budgets_moves_every_period_budget(period_run):
    from sim.app.simulate import _plan

    marginal = period_run.summary["economics"]["marginal_roi"]  # NaN where the rerun spent the same (ΔC = 0)
    assert np.isfinite(marginal["paid_ads_search"]) and np.isfinite(marginal["paid_ads_social"])
    reruns = {detail[0]: cfg for kind, detail, cfg in _plan(period_run.config) if kind == "marginal"}
    search = reruns["paid_ads_search"].strategy.paid_ads["search"]
    assert search.period_budgets == pytest.approx([3030.0, 0.0, 1515.0])
    assert search.daily_budget == period_run.config.strategy.paid_ads["search"].daily_budget
    rerun = reruns["paid_ads_search"]
    alone = replace(rerun.economics, marginal_roi=False, compare_to_baseline=False, spend_response_multipliers=[])
    costs = simulate(replace(rerun, economics=alone)).summary["economics"]["cost_by_lever"]
    assert costs["paid_ads_search"] - 45_000.0 == pytest.approx(450.0)  # ΔC: 1 % of 45,000
    assert costs["paid_ads_social"] == pytest.approx(60_000.0)
    assert reruns["paid_ads_social"].strategy.paid_ads["social"].daily_budget == pytest.approx(1515.0)


@pytest.mark.parametrize(
    ("budgets", "rerun"),
    [
        ([0.0, 3000.0, 1500.0], [0.0, 3030.0, 1515.0]),  # the largest budget decides, not the first: +1 %
        ([0.0, 0.0, 0.0], None),  # spends nothing: no marginal rerun
        ([1.0, 1e12, 0.0], [0.99, 0.99e12, 0.0]),  # the largest at the ceiling: -1 %, whatever the first
    ],
)
def test_marginal_roi_reads_a_channels_largest_period_budget(budgets, rerun):
    """The rerun's step and whether there is one follow the largest period budget (``budget_level``)."""
    from sim.app.config import compose, load_config
    from sim.app.simulate import _plan

    listed = ",".join(repr(b) for b in budgets)
    cfg = load_config(compose([*PERIODS[:4], f"strategy.paid_ads.search.period_budgets=[{listed}]", *PERIODS[5:]]))
    reruns = {detail[0]: c for kind, detail, c in _plan(cfg) if kind == "marginal"}
    if rerun is None:
        assert "paid_ads_search" not in reruns and "paid_ads_social" in reruns
    else:
        assert reruns["paid_ads_search"].strategy.paid_ads["search"].period_budgets == pytest.approx(rerun)


def test_result_folder_has_money_figures_and_tables(paid_run, tmp_path):
    out = paid_run.save(tmp_path / "run", figures=True)
    for name in ("payback.png", "spend_response.png", "spend_response.parquet"):
        assert (out / name).stat().st_size > 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["economics"]["currency"] == "USD"
    daily = paid_run.daily
    assert {"cost_total", "gross_profit", "baseline_revenue", "incremental_gross_profit"} <= set(daily.columns)


def test_identical_strategy_shows_exactly_zero_incremental_difference():
    result = simulate(
        [
            "population.market_size=20000",
            "horizon_days=60",
            "progress=false",
            "+strategy.paid_ads={idle:{daily_budget:0}}",
            "economics.spend_response_multipliers=[]",
        ]
    )
    inc = result.summary["economics"]["incremental"]
    assert inc["acquired_users"] == 0 and inc["revenue"] == 0.0 and inc["gross_profit"] == 0.0
    assert inc["mean_dau"] == 0.0
    assert (result.daily["incremental_gross_profit"] == 0).all()


def test_economics_switches_turn_off_comparison_runs(small_preset):
    cfg = small_preset("consumer_app", days=30)
    from sim import load_config

    cfg = replace(cfg, strategy=load_config(["strategy=paid_growth"]).strategy)
    cfg = replace(
        cfg,
        economics=replace(cfg.economics, compare_to_baseline=False, marginal_roi=False, spend_response_multipliers=[]),
    )
    result = simulate(cfg)
    assert result.meta["comparison_runs"] == 0
    assert result.summary["economics"]["incremental"] is None and result.spend_response is None


def test_survival_tail_projects_classic_retention_with_the_fitted_survival():
    from sim.analysis.economics import survival_tail
    from sim.analysis.survival_fit import survival_curve

    curve = np.full(40, np.nan)
    curve[:31] = np.linspace(1.0, 0.1, 31)  # observed D_0 … D_30
    fit = {"model": "bdw", "params": {"a": 0.8, "b": 2.0, "c": 0.9}}
    params, tail = survival_tail(curve, fit)
    assert params["anchor_day"] == 30
    s = survival_curve(np.array([30.0, 100.0]), 0.8, 2.0, 0.9)
    assert tail(np.array([100]))[0] == pytest.approx(0.1 * s[1] / s[0])
    assert tail(np.array([5]))[0] == pytest.approx(curve[5])  # observed days stay as observed


def test_ltv_tail_uses_the_run_survival_fit_when_events_were_recorded(paid_run):
    assert "MLE of rolling retention" in paid_run.summary["economics"]["ltv"]["tail_fit"]["model"]


# --- The LTV tail: a sound projection or none (the 60-day paid_growth run reported a tail 46× its observed part).


def _bdw_cohort_survival(n_users: int, periods: int, a: float, b: float, c: float, seed: int) -> np.ndarray:
    """Survival shares s_0 … s_periods of a simulated cohort: each user's churn probability θ ~ Beta(a, b), lifetime BdW."""
    rng = np.random.default_rng(seed)
    theta = rng.beta(a, b, n_users)
    u = rng.random(n_users)
    # discrete Weibull: P(T > t | θ) = (1 − θ)^(t^c), so T = ceil((ln u / ln(1 − θ))^(1/c))
    lifetime = np.ceil((np.log(u) / np.log1p(-theta)) ** (1 / c))
    t = np.arange(periods + 1)
    return (lifetime[None, :] > t[:, None]).mean(axis=1)


def test_bdw_fit_of_a_known_process_projects_the_closed_form_tail_within_its_standard_error():
    from sim.analysis.survival_fit import fit_survival, survival_curve

    a, b, c, n_users = 0.8, 2.0, 0.7, 20_000
    fit = fit_survival(_bdw_cohort_survival(n_users, 60, a, b, c, seed=7), model="bdw", cohort_size=n_users)
    assert fit.at_bound == [] and fit.log_likelihood_ < 0
    # Each estimate within 4 of its standard errors (observed information, delta method): a false
    # alarm once in ~16,000 for a normal estimate.
    for name, true in {"a": a, "b": b, "c": c}.items():
        assert abs(fit.params_[name] - true) <= 4 * fit.std_errors_[name], name
    # The projected tail Σ_{t=61}^{364} S(t) / S(60) against the closed form B(a, b + t^c) / B(a, b).
    # Its standard error by the delta method on the diagonal SEs (covariances dropped: with the
    # strong negative a–b correlation of beta fits that overstates it, so the bound is conservative).
    t = np.arange(61, 365)

    def tail(p):
        return float(survival_curve(t, *p).sum() / survival_curve(np.array([60]), *p)[0])

    est = [fit.params_[k] for k in "abc"]
    se = 0.0
    for i, name in enumerate("abc"):
        h = 1e-4 * est[i]
        up, down = list(est), list(est)
        up[i] += h
        down[i] -= h
        se += ((tail(up) - tail(down)) / (2 * h) * fit.std_errors_[name]) ** 2
    assert abs(tail(est) - tail([a, b, c])) <= 4 * np.sqrt(se)


def test_a_fit_of_shares_that_rise_at_the_end_is_flagged_at_its_bound():
    from sim.analysis.survival_fit import fit_survival

    # The 60-day paid_growth run's pooled rolling curve: its last days rest on 9, 4, 2 users and rise.
    shares = np.array([1.0, 0.41, 0.32, 0.27, 0.24, 0.22, 0.20, 0.19, 0.11, 0.25, 0.5])
    fit = fit_survival(shares, model="bdw", cohort_size=2)
    assert fit.at_bound  # no interior maximum: the "likelihood" has negative churn counts
    assert fit.to_dict()["at_bound"] == fit.at_bound


def _ltv_cohorts(horizon: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """One cohort of ``size`` users per day, 30 % active on every later day, 1.0 revenue per active day."""
    active = np.zeros((horizon, horizon), dtype=np.int64)
    for a in range(horizon):
        active[a, : horizon - a] = int(0.3 * size)
        active[a, 0] = size
    return active, active.astype(float)


FIT = {"model": "bdw", "params": {"a": 0.8, "b": 2.0, "c": 0.9}, "periods_fitted": 90, "at_bound": []}


@pytest.mark.parametrize(("ltv_days", "projected"), [(5 * 20, True), (5 * 20 + 1, False)])
def test_ltv_tail_is_projected_up_to_five_times_the_days_it_rests_on(ltv_days, projected):
    # 21 days, 300 users a day: day 20 (the last) rests on one cohort of 300 users: T = 20.
    active, revenue = _ltv_cohorts(21, 300)
    kw = {"margin": 0.3, "annual_discount_rate": 0.1, "survival_fit": FIT, "min_users": 300}
    out = ltv(active, revenue, retention_curve(active), ltv_days=ltv_days, max_extrapolation=5, **kw)
    assert out["tail_projected"] is projected
    assert out["tail_fit"]["anchor_day"] == 20
    if projected:
        assert out["tail_not_projected"] is None and out["projected_tail"] > 0
        assert out["per_user"] == pytest.approx(out["observed"] + out["projected_tail"])
    else:
        assert "5 × the 20 days of retention observed" in out["tail_not_projected"]
        assert out["projected_tail"] is None and out["per_user"] == out["observed"]


@pytest.mark.parametrize(("size", "anchor"), [(300, 20), (299, 19)])
def test_ltv_tail_anchors_on_the_last_day_resting_on_300_users(size, anchor):
    # Day N rests on the 21 − N cohorts observed there: 300 users on day 20 with cohorts of 300;
    # with cohorts of 299, 299 on day 20 (too few) and 598 on day 19.
    active, revenue = _ltv_cohorts(21, size)
    out = ltv(
        active,
        revenue,
        retention_curve(active),
        margin=0.3,
        annual_discount_rate=0.1,
        ltv_days=40,
        survival_fit=FIT,
        min_users=300,
        max_extrapolation=5,
    )
    assert out["tail_fit"]["anchor_day"] == anchor
    assert out["tail_projected"] is True


def test_ltv_tail_is_not_projected_from_a_fit_on_its_bound():
    active, revenue = _ltv_cohorts(21, 300)
    bound = dict(FIT, at_bound=["a", "b", "c"])
    out = ltv(active, revenue, retention_curve(active), margin=0.3, annual_discount_rate=0.1, ltv_days=21 * 2,
              survival_fit=bound, min_users=300, max_extrapolation=5)  # fmt: skip
    assert out["tail_projected"] is False and "bound (a, b, c)" in out["tail_not_projected"]
    assert out["per_user"] == out["observed"]


def test_a_short_paid_growth_run_reports_no_tail_many_times_its_observed_part():
    # The tester's case, small: 60 days of paid_growth. Before the fix the tail was 46× the observed
    # part (seed 1, 20,000 users), 0.6× … 18× over seeds; now the run says it did not project one.
    result = simulate(
        [
            "strategy=paid_growth",
            "population.sample_size=4000",
            "horizon_days=60",
            "seed=1",
            "progress=false",
            "figures=false",
            "economics.marginal_roi=false",
            "economics.spend_response_multipliers=[]",
        ]
    )
    out = result.summary["economics"]["ltv"]
    assert out["tail_projected"] is False and "ltv_days 365" in out["tail_not_projected"]
    assert out["per_user"] == out["observed"] > 0 and out["projected_tail"] is None
    assert result.summary["analytics"]["rolling_retention_fit"]["bdw"]["at_bound"] == []


@pytest.mark.parametrize(("ltv_days", "projected"), [(5 * 119, True), (5 * 119 + 1, False)])
def test_a_run_longer_than_the_fit_projects_an_ltv_beyond_five_times_90_days(ltv_days, projected):
    """The survival fit's anchor stays within its 90 days, but T is the run's last day on 300 users.

    With T the anchor, no ltv_days above 5 x 90 = 450 could be projected, however long the
    run, and the refusal said a longer run would do. 120 days of cohorts of 300: T = 119.
    """
    active, revenue = _ltv_cohorts(120, 300)
    kw = {"margin": 0.3, "annual_discount_rate": 0.1, "survival_fit": FIT, "min_users": 300}
    out = ltv(active, revenue, retention_curve(active), ltv_days=ltv_days, max_extrapolation=5, **kw)
    assert out["tail_fit"]["anchor_day"] == 90 and out["rests_on_days"] == 119
    assert out["tail_projected"] is projected
    if not projected:
        assert "5 × the 119 days of retention observed" in out["tail_not_projected"]
