"""Known answers: hand-computed or independently computed values for the rules and outputs.

Every expected value here is worked out by hand (literal numbers in the comments) or by
an independent formula (scipy's Student-t, ``math.lgamma`` for the beta function, numpy
sample variances, a visit-event recount), never by calling the code under test a second
time. Thresholds are non-default so that a rule which only holds with the defaults fails;
boundaries are tested on both sides. The simulations are tiny (a few thousand slots,
30–45 days) and seeded; the whole file runs in a few seconds.

Covered: the stage rules (vectorized and scalar), every field of ``summary.json``'s
headline block, the meaning of every ``daily.parquet`` column (recounted from the visit
events and the population arrays), the funnel, LTV (observed part, discounted projected
tail, which tenure days are projected), payback day, marginal ROI, Monte-Carlo errors,
sweep intervals / P(best) / rank, and the spend-response table. One strict xfail records a
bug: a sampled run's summary truncates its real-market estimates with int().
"""

from __future__ import annotations

import math
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from sim import UserLifecycleModel, load_config, simulate
from sim.analysis.economics import (
    LATE_TENURE_DAYS,
    EconomicsConfig,
    evaluate,
    fit_retention_tail,
    ltv,
    payback_day,
    revenue_per_active_day_by_tenure,
)
from sim.analysis.monte_carlo import ratio_se, total_se
from sim.analysis.retention import cohort_retention_curve
from sim.analysis.stats import t_interval
from sim.analysis.summary import summarize
from sim.analysis.sweep_stats import METRICS, summarize_points
from sim.core.flags import FLAG_EVER_ACTIVATED
from sim.core.lifecycle import STAGE_NAMES, LifecycleConfig, Stage, relabel, relabel_one
from sim.core.rng import CHUNK_SIZE

# ----------------------------------------------------------------------------------------
# 1. Stage rules at every threshold, both sides, vectorized and scalar
# ----------------------------------------------------------------------------------------

#: Non-default thresholds (defaults are 7 / 7 / 30 / 0.5).
LIFE = LifecycleConfig(new_days=3, dormant_after_days=5, churned_after_days=9, activated_habit=0.4)
H_STAR = np.float32(0.4)
JUST_BELOW_H_STAR = np.nextafter(H_STAR, np.float32(0))  # the largest float32 below 0.4

# (acquired, stage before, silence σ, tenure τ, habit h, expected stage, why)
STAGE_CASES = [
    (True, Stage.RETAINED, 4, 20, 0.0, Stage.RETAINED, "σ = dormant − 1: still retained"),
    (True, Stage.RETAINED, 5, 20, 0.0, Stage.DORMANT, "σ = dormant: dormant"),
    (True, Stage.ACTIVATED, 5, 20, 0.9, Stage.DORMANT, "dormant beats activated"),
    (True, Stage.DORMANT, 8, 20, 0.0, Stage.DORMANT, "σ = churned − 1: still dormant"),
    (True, Stage.DORMANT, 9, 20, 0.0, Stage.CHURNED, "σ = churned: churned"),
    (True, Stage.DORMANT, 9, 20, 0.9, Stage.CHURNED, "churned beats activated"),
    (True, Stage.NEW, 0, 2, 0.0, Stage.NEW, "τ = new_days − 1: new"),
    (True, Stage.NEW, 0, 3, 0.0, Stage.RETAINED, "τ = new_days: no longer new"),
    (True, Stage.NEW, 0, 2, 0.9, Stage.NEW, "new beats activated"),
    (True, Stage.NEW, 1, 2, 0.0, Stage.NEW, "a new user silent for a day stays new"),
    (True, Stage.RETAINED, 0, 10, float(JUST_BELOW_H_STAR), Stage.RETAINED, "h just below h*: retained"),
    (True, Stage.RETAINED, 0, 10, float(H_STAR), Stage.ACTIVATED, "h = float32(h*): activated"),
    (True, Stage.RETAINED, 4, 10, float(H_STAR), Stage.ACTIVATED, "σ = dormant − 1 with habit: activated"),
    (True, Stage.CHURNED, 0, 30, 0.0, Stage.RETAINED, "a churned user who visits is relabelled"),
    (True, Stage.DORMANT, 0, 30, 0.6, Stage.ACTIVATED, "a dormant user who visits with habit: activated"),
    (False, Stage.UNAWARE, 100, 100, 0.9, Stage.UNAWARE, "unacquired slots keep their stage"),
    (False, Stage.AWARE, 0, 0, 0.0, Stage.AWARE, "unacquired slots keep their stage"),
    (False, Stage.AWARE, 9, 2, 0.9, Stage.AWARE, "unacquired slots keep their stage"),
]


def _relabel_cases():
    acquired = np.array([c[0] for c in STAGE_CASES])
    stage = np.array([c[1] for c in STAGE_CASES], dtype=np.int8)
    silence = np.array([c[2] for c in STAGE_CASES], dtype=np.int16)
    tenure = np.array([c[3] for c in STAGE_CASES], dtype=np.int16)
    habit = np.array([c[4] for c in STAGE_CASES], dtype=np.float32)
    expected = np.array([c[5] for c in STAGE_CASES], dtype=np.int8)
    return acquired, stage, silence, tenure, habit, expected


def test_vectorized_relabel_at_each_threshold_both_sides():
    acquired, stage, silence, tenure, habit, expected = _relabel_cases()
    relabel(
        stage,
        acquired,
        silence,
        tenure,
        habit,
        new_days=LIFE.new_days,
        dormant_after_days=LIFE.dormant_after_days,
        churned_after_days=LIFE.churned_after_days,
        activated_habit=LIFE.activated_habit,
    )
    wrong = [
        f"{why}: got {Stage(int(s)).name}, want {Stage(int(e)).name}"
        for s, e, (*_, why) in zip(stage, expected, STAGE_CASES, strict=True)
        if s != e
    ]
    assert not wrong, wrong


@pytest.mark.parametrize("case", STAGE_CASES, ids=[f"{i}-{c[-1]}" for i, c in enumerate(STAGE_CASES)])
def test_scalar_relabel_at_each_threshold_both_sides(case):
    acquired, before, silence, tenure, habit, expected, _why = case
    got = relabel_one(acquired, int(before), silence, tenure, float(np.float32(habit)), life=LIFE)
    assert int(got) == int(expected)


def test_habit_threshold_is_compared_in_float32_where_float32_rounds_down():
    # Habit is stored as float32. float32(0.7) = 0.69999998… < 0.7, so a user whose habit is
    # exactly the configured 0.7 (as float32) is only ACTIVATED if h* is cast to float32 too.
    life = LifecycleConfig(new_days=3, dormant_after_days=5, churned_after_days=9, activated_habit=0.7)
    at = np.float32(0.7)
    below = np.nextafter(at, np.float32(0))
    assert float(at) < 0.7  # the premise
    habit = np.array([at, below], dtype=np.float32)
    stage = np.full(2, Stage.NEW, dtype=np.int8)
    relabel(
        stage,
        np.ones(2, dtype=bool),
        np.zeros(2, dtype=np.int16),
        np.full(2, 10, dtype=np.int16),
        habit,
        new_days=3,
        dormant_after_days=5,
        churned_after_days=9,
        activated_habit=0.7,
    )
    assert stage.tolist() == [Stage.ACTIVATED, Stage.RETAINED]
    assert relabel_one(True, Stage.NEW, 0, 10, float(at), life=life) == Stage.ACTIVATED
    assert relabel_one(True, Stage.NEW, 0, 10, float(below), life=life) == Stage.RETAINED


def test_default_thresholds_would_label_the_same_cases_differently():
    # Guard: the cases above discriminate between LIFE and the default thresholds.
    default = LifecycleConfig()
    differs = [relabel_one(a, int(s), si, te, h, life=default) != e for a, s, si, te, h, e, _ in STAGE_CASES]
    assert sum(differs) >= 5


def test_vectorized_and_scalar_relabel_agree_on_a_grid():
    sil, ten = np.meshgrid(np.arange(0, 12), np.arange(0, 12), indexing="ij")
    sil, ten = sil.ravel(), ten.ravel()
    keep = sil <= ten  # the acquisition day is a visit: silence never exceeds tenure
    sil, ten = sil[keep], ten[keep]
    for h in (0.0, float(JUST_BELOW_H_STAR), float(H_STAR), 0.9):
        for acq in (True, False):
            n = sil.size
            stage = np.full(n, Stage.AWARE, dtype=np.int8)
            relabel(
                stage,
                np.full(n, acq),
                sil.astype(np.int16),
                ten.astype(np.int16),
                np.full(n, h, dtype=np.float32),
                new_days=LIFE.new_days,
                dormant_after_days=LIFE.dormant_after_days,
                churned_after_days=LIFE.churned_after_days,
                activated_habit=LIFE.activated_habit,
            )
            scalar = [
                relabel_one(acq, int(Stage.AWARE), int(s), int(t), h, life=LIFE) for s, t in zip(sil, ten, strict=True)
            ]
            assert stage.tolist() == [int(x) for x in scalar]


# ----------------------------------------------------------------------------------------
# 2. summary.json on a hand-built daily table and cohort matrix
# ----------------------------------------------------------------------------------------


def _hand_daily() -> pd.DataFrame:
    """9 days, a market of M = 100."""
    rows = 9
    daily = pd.DataFrame({"day": np.arange(rows), "weekday": np.arange(rows) % 7})
    last = {"unaware": 50, "aware": 10, "new": 5, "retained": 12, "activated": 8, "dormant": 9, "churned": 6}
    for name in STAGE_NAMES:
        daily[name] = [0] * (rows - 1) + [last[name]]
    daily["new_users"] = [4, 3, 5, 2, 0, 6, 1, 3, 7]  # Σ = 31
    daily["dau"] = [4, 5, 7, 6, 3, 8, 6, 5, 8]  # Σ = 52, mean 52/9
    daily["wau"] = [4, 7, 11, 12, 12, 16, 18, 19, 20]
    daily["mau"] = [4, 7, 11, 13, 14, 19, 21, 25, 35]
    daily["purchases"] = [1, 0, 2, 1, 0, 3, 1, 0, 2]  # Σ = 10
    daily["revenue"] = [10.0, 0.0, 25.5, 7.25, 0.0, 30.0, 12.0, 0.0, 19.5]  # Σ = 104.25
    daily["latent_alive"] = [4, 6, 9, 10, 9, 13, 12, 13, 17]
    return daily


def _hand_cohorts() -> np.ndarray:
    """cohort_active[a, n] over 9 days; zero where a + n ≥ 9 (unobserved), as the model keeps it."""
    sizes = [4, 3, 5, 2, 0, 6, 1, 3, 7]
    ca = np.zeros((9, 9), dtype=np.int32)
    ca[:, 0] = sizes
    ca[0, 1:9] = [2, 2, 1, 1, 1, 0, 1, 1]
    ca[1, 1:8] = [1, 1, 0, 1, 0, 0, 2]
    ca[2, 1:7] = [3, 2, 2, 1, 1, 0]
    ca[3, 1:6] = [1, 0, 0, 1, 0]
    ca[5, 1:4] = [2, 1, 1]
    ca[6, 1:3] = [0, 1]
    ca[7, 1:2] = [2]
    return ca


def test_summary_fields_on_a_hand_built_run():
    daily, ca = _hand_daily(), _hand_cohorts()
    s = summarize(daily, ca, 100, STAGE_NAMES)
    assert s["days"] == 9
    assert s["market_size"] == 100
    assert s["final_stage_counts"] == {
        "unaware": 50,
        "aware": 10,
        "new": 5,
        "retained": 12,
        "activated": 8,
        "dormant": 9,
        "churned": 6,
    }
    assert s["acquired_users"] == 31
    assert (s["dau"], s["wau"], s["mau"]) == (8, 20, 35)
    assert s["stickiness_dau_mau"] == pytest.approx(8 / 35)  # not DAU/WAU = 0.4
    assert s["mean_dau"] == pytest.approx(52 / 9)
    # D1 pools cohorts 0 … 7 (a + 1 < 9), not cohort 8 (7 users, day 1 unobserved):
    # (2 + 1 + 3 + 1 + 0 + 2 + 0 + 2) / (4 + 3 + 5 + 2 + 0 + 6 + 1 + 3) = 11 / 24.
    assert s["retention"]["d1"] == pytest.approx(11 / 24)
    # D7 pools cohorts 0 and 1 only: (1 + 2) / (4 + 3).
    assert s["retention"]["d7"] == pytest.approx(3 / 7)
    assert np.isnan(s["retention"]["d30"])  # no cohort observed for 30 days
    assert s["purchases"] == 10
    assert s["revenue"] == pytest.approx(104.25)
    assert s["latent_alive_users"] == 17  # the last day, not a sum
    assert set(s) == {
        "days",
        "market_size",
        "final_stage_counts",
        "acquired_users",
        "dau",
        "wau",
        "mau",
        "stickiness_dau_mau",
        "mean_dau",
        "retention",
        "purchases",
        "revenue",
        "latent_alive_users",
    }


def test_summary_is_nan_without_mau_or_without_an_observed_cohort():
    daily = _hand_daily().iloc[:2].copy()
    daily[["dau", "wau", "mau"]] = 0
    ca = np.array([[0, 0], [5, 0]], dtype=np.int32)  # only cohort 1, whose day 1 is not observed
    s = summarize(daily, ca, 100, STAGE_NAMES)
    assert np.isnan(s["stickiness_dau_mau"])
    assert np.isnan(s["retention"]["d1"])  # cohort 0 is observed but empty: 0 / 0
    assert np.isnan(s["retention"]["d7"])


# ----------------------------------------------------------------------------------------
# 2–3. daily.parquet columns and the funnel on a small organic run, recounted independently
# ----------------------------------------------------------------------------------------

ORGANIC = [
    "population.market_size=3000",
    "horizon_days=45",  # > 30, so the MAU window is exercised
    "progress=false",
    "figures=false",
    "population.awareness.p=0.01",
    "population.lifecycle.new_days=3",
    "population.lifecycle.dormant_after_days=5",
    "population.lifecycle.churned_after_days=12",
    "population.lifecycle.activated_habit=0.3",
    "economics.margin=0.37",
]


@pytest.fixture(scope="module")
def organic():
    """The run's Result, and the same run stepped by hand (same seed) with its stage history."""
    result = simulate(ORGANIC)
    model = UserLifecycleModel(ORGANIC)
    history = []
    for _ in range(model.horizon):
        model.step()
        history.append(model.population.stage.copy())
    return SimpleNamespace(result=result, model=model, stages=np.array(history))


def _window_counts(model, window: int) -> np.ndarray:
    """Distinct users with a visit in days t − window + 1 … t, from the visit events (numpy only)."""
    slots, days = model.events()
    visited = np.zeros((model.horizon, model.sample_size), dtype=bool)
    visited[days.astype(np.intp), slots] = True
    return np.array([visited[max(0, t - window + 1) : t + 1].any(axis=0).sum() for t in range(model.horizon)])


def test_stepped_model_is_the_run_behind_the_result(organic):
    log = pd.DataFrame(organic.model.log.columns)
    for col in log.columns:
        np.testing.assert_array_equal(log[col].to_numpy(), organic.result.daily[col].to_numpy(), err_msg=col)


def test_dau_wau_mau_are_distinct_visitors_in_windows_of_1_7_and_30_days(organic):
    daily = organic.result.daily
    assert (daily["dau"] <= daily["wau"]).all() and (daily["wau"] <= daily["mau"]).all()
    for col, window in (("dau", 1), ("wau", 7), ("mau", 30)):
        np.testing.assert_array_equal(daily[col].to_numpy(), _window_counts(organic.model, window), err_msg=col)
    # The recount discriminates: a window one day shorter or longer gives other numbers.
    for col, window in (("wau", 6), ("wau", 8), ("mau", 29), ("mau", 31)):
        assert (daily[col].to_numpy() != _window_counts(organic.model, window)).any(), (col, window)


def test_new_users_by_channel_add_up_and_match_first_visits(organic):
    daily, pop = organic.result.daily, organic.model.population
    channels = [c for c in daily.columns if c.startswith("new_users_")]
    assert sorted(channels) == ["new_users_organic", "new_users_word_of_mouth"]
    np.testing.assert_array_equal(daily[channels].sum(axis=1).to_numpy(), daily["new_users"].to_numpy())
    acq = pop.acquired_day[pop.acquired_day >= 0].astype(np.intp)
    np.testing.assert_array_equal(np.bincount(acq, minlength=len(daily)), daily["new_users"].to_numpy())
    for code, name in enumerate(organic.model.channels):
        mine = pop.acquired_day[(pop.acquired_day >= 0) & (pop.channel == code)].astype(np.intp)
        np.testing.assert_array_equal(np.bincount(mine, minlength=len(daily)), daily[f"new_users_{name}"].to_numpy())
    assert daily["new_users"].sum() > 100  # enough users for the checks to mean something


def test_stage_columns_count_every_slot_and_match_the_stage_history(organic):
    daily = organic.result.daily
    np.testing.assert_array_equal(daily[list(STAGE_NAMES)].sum(axis=1).to_numpy(), np.full(len(daily), 3000))
    for code, name in enumerate(STAGE_NAMES):
        np.testing.assert_array_equal((organic.stages == code).sum(axis=1), daily[name].to_numpy(), err_msg=name)
    assert (daily[["new", "retained", "activated", "dormant", "churned"]].iloc[-1] > 0).all()


def test_final_stages_follow_the_rules_with_the_configured_thresholds(organic):
    # Recompute every slot's last-day stage from its state with an independent where-chain.
    pop, t = organic.model.population, organic.model.horizon - 1
    acquired = pop.acquired_day >= 0
    silence = t - pop.last_visit_day.astype(int)
    tenure = t - pop.acquired_day.astype(int)
    want = np.select(
        [silence >= 12, silence >= 5, tenure < 3, pop.habit >= np.float32(0.3)],
        [Stage.CHURNED, Stage.DORMANT, Stage.NEW, Stage.ACTIVATED],
        Stage.RETAINED,
    )
    np.testing.assert_array_equal(pop.stage[acquired], want[acquired])
    assert np.isin(pop.stage[~acquired], [Stage.UNAWARE, Stage.AWARE]).all()


def test_cohort_matrix_counts_visits_by_acquisition_day_and_tenure(organic):
    model = organic.model
    slots, days = model.events()
    acq = model.population.acquired_day[slots].astype(np.intp)
    want = np.zeros((model.horizon, model.horizon), dtype=np.int64)
    np.add.at(want, (acq, days.astype(np.intp) - acq), 1)
    np.testing.assert_array_equal(organic.result.cohort_active, want)


def test_money_columns_and_latent_alive(organic):
    daily, res = organic.result.daily, organic.result
    horizon = len(daily)
    a = np.arange(horizon)
    per_day = [res.cohort_revenue[a[: t + 1], t - a[: t + 1]].sum() for t in range(horizon)]
    np.testing.assert_allclose(daily["revenue"].to_numpy(), per_day, rtol=1e-9, atol=1e-9)
    assert daily["revenue"].sum() > 0
    np.testing.assert_allclose(daily["gross_profit"].to_numpy(), 0.37 * daily["revenue"].to_numpy(), rtol=1e-12)
    assert (daily["purchases"] <= daily["dau"]).all()  # at most one purchase per visit
    assert ((daily["purchases"] > 0) == (daily["revenue"] > 0)).all()
    acquired_so_far = daily["new_users"].cumsum()
    assert (daily["latent_alive"] <= acquired_so_far).all()
    assert daily["latent_alive"].iloc[-1] == organic.model.population.alive.sum()


def test_day_weekday_and_awareness_hazard_columns(organic):
    daily = organic.result.daily
    np.testing.assert_array_equal(daily["day"].to_numpy(), np.arange(45))
    start = organic.model.population_config.start_weekday
    np.testing.assert_array_equal(daily["weekday"].to_numpy(), (start + np.arange(45)) % 7)
    # Bass hazard h(t) = p + q · DAU(t−1) / M (float32), p = 0.01, q from the preset.
    q = organic.model.population_config.awareness.q
    dau_before = np.concatenate([[0], daily["dau"].to_numpy()[:-1]])
    np.testing.assert_allclose(daily["awareness_hazard"].to_numpy(), 0.01 + q * dau_before / 3000, rtol=1e-6)


def test_awareness_hazard_column_is_capped_at_one_and_below_it_unchanged():
    # a viral event of peak 1 on day 0 (T½ = 1): h(0) = p + 1 > 1 is reported as 1; on day 1
    # h(1) = p + q · DAU(0) / M + 1/2 < 1 is reported as it is
    model = UserLifecycleModel(
        [
            "population.market_size=20000",
            "population.awareness.p=0.01",
            "horizon_days=2",
            "+strategy.viral_events={ev:{day:0,peak_hazard:1.0,half_life_days:1,cost:0}}",
            "threads=1",
            "progress=false",
            "record_events=false",
        ]
    )
    model.step()
    model.step()
    hazard, dau = model.log.columns["awareness_hazard"], model.log.columns["dau"]
    assert hazard[0] == 1.0
    q = model.population_config.awareness.q
    assert hazard[1] == np.float32(0.01 + q * dau[0] / 20000 + 0.5) < 1.0


def test_summary_of_the_run_reads_the_last_day_and_the_totals(organic):
    # Every headline number recounted from the population arrays, the visit events and the cohort matrices.
    s, model, pop = organic.result.summary, organic.model, organic.model.population
    slots, _days = model.events()
    assert s["final_stage_counts"] == {n: int(np.count_nonzero(pop.stage == c)) for c, n in enumerate(STAGE_NAMES)}
    assert s["acquired_users"] == int((pop.acquired_day >= 0).sum())
    dau, wau, mau = (int(_window_counts(model, w)[-1]) for w in (1, 7, 30))
    assert (s["dau"], s["wau"], s["mau"]) == (dau, wau, mau)
    assert s["stickiness_dau_mau"] == pytest.approx(dau / mau)
    assert s["mean_dau"] == pytest.approx(slots.size / 45)  # all visit events over all 45 days
    assert s["revenue"] == pytest.approx(organic.result.cohort_revenue.sum(), rel=1e-9)
    assert s["latent_alive_users"] == int(pop.alive.sum())
    d1 = organic.result.cohort_active[:44, 1].sum() / organic.result.cohort_active[:44, 0].sum()
    assert s["retention"]["d1"] == pytest.approx(d1)
    assert s["purchases"] <= slots.size


def test_sampled_run_summary_counts_the_whole_market():
    # Nobody ever becomes aware (p = 0, no one active for word of mouth): the whole market stays UNAWARE.
    result = simulate(
        [
            "population.market_size=1001",
            "population.sample_size=1000",
            "horizon_days=2",
            "progress=false",
            "figures=false",
            "population.awareness.p=0",
        ]
    )
    counts = result.summary["final_stage_counts"]
    assert result.daily["unaware"].iloc[-1] == pytest.approx(1001)  # the daily estimate is right
    assert sum(counts.values()) == result.summary["market_size"] == 1001
    assert counts["unaware"] == 1001


def test_funnel_counts_users_ever_activated_and_ever_aware(organic):
    funnel = organic.result.summary["analytics"]["funnel"]
    stages, pop, model = organic.stages, organic.model.population, organic.model
    ever_activated = int((stages == Stage.ACTIVATED).any(axis=0).sum())
    assert ever_activated > 0
    assert funnel["activated"] == ever_activated
    assert funnel["activated"] == int(np.count_nonzero(pop.flags & FLAG_EVER_ACTIVATED))
    # Anyone who became aware ends that day AWARE or acquired (forgetting needs a day of awareness).
    assert funnel["aware"] == int((stages >= Stage.AWARE).any(axis=0).sum())
    assert funnel["acquired"] == int((pop.acquired_day >= 0).sum())
    slots, days = model.events()
    came_back = np.unique(slots[days > pop.acquired_day[slots]])
    assert funnel["retained"] == came_back.size
    assert funnel["activated_rate"] == pytest.approx(ever_activated / came_back.size)


# ----------------------------------------------------------------------------------------
# 4. LTV: observed part, discounted projected tail, which tenure days are projected
# ----------------------------------------------------------------------------------------

RATE = 0.5  # annual discount rate: δ(n) = 1.5^(−n/365)
MARGIN = 0.4


def _delta(n: int) -> float:
    return (1.0 + RATE) ** (-n / 365.0)


def _survival(n: float, a: float, b: float, c: float) -> float:
    """S(n) = B(a, b + n^c) / B(a, b), with B from math.lgamma."""

    def log_beta(x: float, y: float) -> float:
        return math.lgamma(x) + math.lgamma(y) - math.lgamma(x + y)

    return math.exp(log_beta(a, b + n**c) - log_beta(a, b))


def _hand_spend(active, revenue, min_users=1):
    """r(n): revenue per active user-day at tenure n by loops over cells; beyond, the last 30 such days' level."""
    horizon = active.shape[0]
    a_n = [sum(int(active[a, n]) for a in range(horizon)) for n in range(horizon)]
    r_n = [sum(float(revenue[a, n]) for a in range(horizon)) for n in range(horizon)]
    usable = [n for n in range(horizon) if a_n[n] >= min_users]
    late_days = usable[-30:]
    late = sum(r_n[n] for n in late_days) / sum(a_n[n] for n in late_days)
    return lambda n: r_n[n] / a_n[n] if n < horizon and n in usable else late


def _hand_ltv_parts(active, revenue, ltv_days, projected):
    """Observed part and tail by loops over cells; ``projected(n)`` = D̂_n."""
    horizon = active.shape[0]
    total = float(active[:, 0].sum())
    observed = sum(
        MARGIN * revenue[a, n] * _delta(n) for a in range(horizon) for n in range(min(ltv_days, horizon - a))
    )
    spend = _hand_spend(active, revenue)
    tail = sum(
        active[a, 0] * MARGIN * spend(n) * projected(n) * _delta(n)
        for a in range(horizon)
        for n in range(horizon - a, ltv_days)
    )
    return observed / total, tail / total


# Horizon 4: four cohorts; unobserved cells (a + n ≥ 4) are zero.
LTV_ACTIVE = np.array([[10, 6, 4, 3], [8, 5, 3, 0], [6, 3, 0, 0], [4, 0, 0, 0]], dtype=np.int32)
LTV_REVENUE = np.array([[20.0, 9.0, 5.0, 4.0], [16.0, 7.0, 6.0, 0], [12.0, 3.0, 0, 0], [8.0, 0, 0, 0]])


def test_ltv_observed_part_is_discounted_margin_revenue_per_acquired_user():
    curve = cohort_retention_curve(LTV_ACTIVE)
    out = ltv(LTV_ACTIVE, LTV_REVENUE, curve, margin=MARGIN, annual_discount_rate=RATE, ltv_days=4)
    # 0.4 · [20 + 16 + 12 + 8 + (9 + 7 + 3)·δ1 + (5 + 6)·δ2 + 4·δ3] / 28
    want = MARGIN * (56 + 19 * _delta(1) + 11 * _delta(2) + 4 * _delta(3)) / 28
    assert out["observed"] == pytest.approx(want, rel=1e-12)
    undiscounted = MARGIN * (56 + 19 + 11 + 4) / 28
    assert abs(out["observed"] - undiscounted) > 1e-4  # the discount matters at this rate
    # Shorter LTV window: tenure days 0 and 1 only.
    short = ltv(LTV_ACTIVE, LTV_REVENUE, curve, margin=MARGIN, annual_discount_rate=RATE, ltv_days=2)
    assert short["observed"] == pytest.approx(MARGIN * (56 + 19 * _delta(1)) / 28, rel=1e-12)


def test_ltv_tail_with_a_hand_built_survival_fit_is_discounted_and_covers_the_unobserved_days():
    a, b, c = 0.8, 2.5, 0.9
    fit = {"model": "bdw", "params": {"a": a, "b": b, "c": c}}
    curve = cohort_retention_curve(LTV_ACTIVE)
    # Pooled classic retention by hand: D1 = (6+5+3)/24, D2 = (4+3)/18, D3 = 3/10; anchor N* = 3.
    hand_curve = {0: 1.0, 1: 14 / 24, 2: 7 / 18, 3: 3 / 10}
    assert curve == pytest.approx([hand_curve[n] for n in range(4)])

    def projected(n: int) -> float:
        if n <= 3:
            return hand_curve[n]
        return hand_curve[3] * _survival(n, a, b, c) / _survival(3, a, b, c)

    ltv_days = 40
    out = ltv(
        LTV_ACTIVE, LTV_REVENUE, curve, margin=MARGIN, annual_discount_rate=RATE, ltv_days=ltv_days, survival_fit=fit
    )
    observed, tail = _hand_ltv_parts(LTV_ACTIVE, LTV_REVENUE, ltv_days, projected)
    assert out["observed"] == pytest.approx(observed, rel=1e-12)
    assert out["projected_tail"] == pytest.approx(tail, rel=1e-9)
    assert out["per_user"] == pytest.approx(observed + tail, rel=1e-9)
    assert out["revenue_per_active_day"] == pytest.approx(LTV_REVENUE.sum() / LTV_ACTIVE.sum())
    # By tenure (columns): R = 56, 19, 11, 4 on A = 28, 14, 7, 3 active; beyond day 3, all four days' 90 / 52.
    assert out["late_revenue_per_active_day"] == pytest.approx(90 / 52, rel=1e-12)
    spend = {1: 19 / 14, 2: 11 / 7, 3: 4 / 3}
    assert out["tail_fit"]["anchor_day"] == 3
    # The tail's own discount matters: without it the tail is visibly larger.
    undiscounted_tail = (
        sum(
            LTV_ACTIVE[k, 0] * MARGIN * spend.get(n, 90 / 52) * projected(n)
            for k in range(4)
            for n in range(4 - k, ltv_days)
        )
        / LTV_ACTIVE[:, 0].sum()
    )
    assert undiscounted_tail - tail > 1e-4
    assert out["projected_tail"] < undiscounted_tail - 1e-4
    # One average over all tenure days (90 / 52 everywhere) would be told apart.
    one_average = sum(
        LTV_ACTIVE[k, 0] * MARGIN * (90 / 52) * projected(n) * _delta(n) for k in range(4) for n in range(4 - k, 40)
    )
    assert abs(one_average / LTV_ACTIVE[:, 0].sum() - out["projected_tail"]) > 1e-3


def test_ltv_tail_with_the_least_squares_fit_uses_the_fitted_curve_and_the_discount():
    # Horizon 6, one cohort per day; D_n roughly a scaled sBG shape so the fit converges.
    sizes = np.array([40, 30, 30, 20, 20, 10])
    share = np.array([1.0, 0.5, 0.35, 0.28, 0.24, 0.21])
    active = np.zeros((6, 6), dtype=np.int32)
    for k, size in enumerate(sizes):
        active[k, : 6 - k] = np.round(size * share[: 6 - k])
    revenue = active * 1.5
    revenue[:, 0] += 2.0 * active[:, 0]
    curve = cohort_retention_curve(active)
    _params, fitted = fit_retention_tail(curve)  # the same deterministic fit ltv makes
    ltv_days = 60
    out = ltv(active, revenue, curve, margin=MARGIN, annual_discount_rate=RATE, ltv_days=ltv_days)
    observed, tail = _hand_ltv_parts(active, revenue, ltv_days, lambda n: float(fitted(np.array([float(n)]))[0]))
    assert tail > 0
    assert out["observed"] == pytest.approx(observed, rel=1e-12)
    assert out["projected_tail"] == pytest.approx(tail, rel=1e-9)
    assert "least squares" in out["tail_fit"]["model"]


@pytest.mark.parametrize(("min_users", "usable"), [(50, [0, 1, 2]), (51, [0, 1])])
def test_revenue_per_active_day_is_by_tenure_on_days_with_enough_active_users(min_users, usable):
    # Two cohorts; tenure columns pooled: A = 150, 90, 50, 20 active, R = 150, 180, 150, 80 revenue.
    active = np.array([[100, 60, 30, 20], [50, 30, 20, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    revenue = np.array([[100.0, 120.0, 90.0, 80.0], [50.0, 60.0, 60.0, 0.0], [0.0] * 4, [0.0] * 4])
    by_day, late = revenue_per_active_day_by_tenure(active, revenue, days=6, min_users=min_users)
    ratio = {0: 1.0, 1: 2.0, 2: 3.0}  # R / A on days 0-2
    a_n, r_n = [150, 90, 50], [150.0, 180.0, 150.0]
    want_late = sum(r_n[n] for n in usable) / sum(a_n[n] for n in usable)
    assert late == pytest.approx(want_late, rel=1e-12)
    want = [ratio[n] if n in usable else want_late for n in range(6)]  # day 3 (20 active) and beyond: the late level
    assert by_day == pytest.approx(want, rel=1e-12)


def test_the_late_revenue_level_is_that_of_the_last_30_usable_tenure_days():
    # One cohort of 1,000 users over 40 days, every one active each day; spend 1 a day for 10 days, then 2.
    horizon = 40
    active = np.zeros((horizon, horizon), dtype=np.int64)
    active[0, :] = 1000
    revenue = np.zeros((horizon, horizon))
    revenue[0, :] = np.where(np.arange(horizon) < 10, 1000.0, 2000.0)
    assert LATE_TENURE_DAYS == 30
    _by_day, late = revenue_per_active_day_by_tenure(active, revenue, days=50, min_users=1000)
    assert late == pytest.approx(2.0, rel=1e-12)  # days 10-39 only; a 31st day (day 9, spend 1) would lower it
    revenue[0, 10] = 1000.0  # day 10 is inside the window: (1 + 29 * 2) / 30
    assert revenue_per_active_day_by_tenure(active, revenue, days=50, min_users=1000)[1] == pytest.approx(59 / 30)
    none = revenue_per_active_day_by_tenure(active, revenue, days=3, min_users=1001)
    assert np.isnan(none[1]) and np.isnan(none[0]).all()


@pytest.mark.parametrize("k", [1, 2, 3])
def test_ltv_projects_exactly_tenure_days_k_to_ltv_days_of_a_cohort_observed_for_k_days(k):
    # One non-empty cohort, acquired on day 6 − k of a 6-day horizon: tenure days 0 … k−1 observed.
    horizon, ltv_days = 6, 12
    a0 = horizon - k
    active = np.zeros((horizon, horizon), dtype=np.int32)
    revenue = np.zeros((horizon, horizon))
    active[a0, :k] = [20, 9, 6][:k]
    revenue[a0, :k] = [30.0, 12.0, 9.0][:k]
    curve = cohort_retention_curve(active)
    fit = {"model": "sbg", "params": {"a": 1.2, "b": 3.0}}  # no c: the sBG (c = 1)
    anchor = k - 1
    level = curve[anchor]

    def projected(n: int) -> float:
        if n <= anchor:
            return float(curve[n])
        return level * _survival(n, 1.2, 3.0, 1.0) / _survival(anchor, 1.2, 3.0, 1.0)

    # every projected day (k and on) is beyond the observed tenure: the level of all k observed days
    arpdau = revenue.sum() / active.sum()
    per_day = {n: MARGIN * arpdau * projected(n) * _delta(n) for n in range(ltv_days)}
    out = ltv(active, revenue, curve, margin=MARGIN, annual_discount_rate=RATE, ltv_days=ltv_days, survival_fit=fit)
    if k == 1:  # no day ≥ 1 observed: no anchor, no survival tail
        assert out["projected_tail"] == 0.0
        return
    want = sum(per_day[n] for n in range(k, ltv_days))
    assert out["projected_tail"] == pytest.approx(want, rel=1e-9)
    # One day more or one day less would be told apart.
    assert abs(want - sum(per_day[n] for n in range(k + 1, ltv_days))) > 1e-3
    assert abs(want - sum(per_day[n] for n in range(k - 1, ltv_days))) > 1e-3


# ----------------------------------------------------------------------------------------
# 5. Payback day
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gp", "cost", "want", "why"),
    [
        # cumulative ΔGP 150, 50, 70, 110, 160, 170 against cumulative cost 100: passes on day 0, fails 1–2
        ([150, -100, 20, 40, 50, 10], [100, 0, 0, 0, 0, 0], 3, "early spurious crossing: the later day"),
        ([10, 10, 10, 10, 10], [100, 0, 0, 0, 0], None, "never paid back"),
        # cumulative cost 0, 0, 50, 50 and ΔGP 5, 10, 70, 70: days 0–1 have no cost yet
        ([5, 5, 60, 0], [0, 0, 50, 0], 2, "days with cumulative cost 0 do not count"),
        ([5, 5, 5], [0, 0, 0], None, "no cost at all: nothing to pay back"),
        ([40, 60, 0], [100, 0, 0], 1, "equal cumulative values count as paid back"),
        ([40, 59.99, 0], [100, 0, 0], None, "a cent short is not paid back"),
        ([150, 0, 0, -60], [100, 0, 0, 0], None, "the last day fails"),
        ([150, 0, 0, 0], [100, 0, 0, 0], 0, "paid back from the first day"),
        # costs keep coming: cumulative cost 10, 20, 30, 40 against cumulative ΔGP 0, 25, 35, 45
        ([0, 25, 10, 10], [10, 10, 10, 10], 1, "rising costs, paid back from day 1"),
        # … and against cumulative ΔGP 0, 25, 25, 40: day 2 falls behind again
        ([0, 25, 0, 15], [10, 10, 10, 10], 3, "rising costs, paid back from day 3 only"),
        ([], [], None, "empty series"),
    ],
)
def test_payback_day_on_hand_built_series(gp, cost, want, why):
    assert payback_day(np.array(gp, dtype=float), np.array(cost, dtype=float)) == want, why


# ----------------------------------------------------------------------------------------
# 6. Marginal ROI (and the run's economics block) through evaluate with fake records
# ----------------------------------------------------------------------------------------


class _Lever(SimpleNamespace):
    def summary(self):
        return {}


def _fake_run(revenue, costs: dict[str, list[float]], *, levers=(), group_revenue=None):
    days = len(revenue)
    daily = pd.DataFrame(
        {
            "day": np.arange(days),
            "new_users": [5] * days,
            "new_users_search": [1] * days,
            "dau": [10] * days,
            "revenue": np.asarray(revenue, dtype=float),
        }
    )
    for label, col in costs.items():
        daily[f"cost_{label}"] = np.asarray(col, dtype=float)
    if costs:
        daily["cost_total"] = daily[[f"cost_{k}" for k in costs]].sum(axis=1)
    ca = np.array([[5, 2], [5, 0]], dtype=np.int32)
    rng = np.random.default_rng(3)
    return SimpleNamespace(
        daily=daily,
        cohort_active=ca,
        cohort_revenue=np.array([[3.0, 1.0], [2.0, 0.0]]),
        levers=list(levers),
        retention_curve=cohort_retention_curve(ca),
        analytics_summary=None,
        group_acquired=rng.integers(0, 5, 4).astype(float),
        group_revenue=np.asarray(group_revenue, dtype=float) if group_revenue is not None else np.zeros(4),
        group_cost=np.array([60.0, 65.0, 70.0, 75.0]),
    )


def test_marginal_roi_is_incremental_profit_over_incremental_cost_of_the_rerun():
    levers = [
        _Lever(label="paid_ads_search", kind="paid_ads", channel="search", budget_key="daily_budget"),
        _Lever(label="push", kind="push", channel=None, budget_key="messages_per_week"),
        _Lever(label="viral_launch", kind="viral_event", channel=None, budget_key=None),
        _Lever(label="content", kind="content", channel=None, budget_key="reach"),  # no rerun given
    ]
    # Run: revenue 1000, costs ads 300 + push 40 + event 50 = 390.
    run = _fake_run(
        [400, 600],
        {"paid_ads_search": [150, 150], "push": [20, 20], "viral_launch": [50, 0]},
        levers=levers,
        group_revenue=[240, 250, 255, 255],
    )
    # Ads +1 %: revenue 1020, cost 393 → ΔGP = 0.3 · 20 = 6, ΔC = 3: (6 − 3) / 3 = 1.
    ads = _fake_run([410, 610], {"paid_ads_search": [151.5, 151.5], "push": [20, 20], "viral_launch": [50, 0]})
    # Push −1 % (at its ceiling): revenue 990, cost 389.6 → ΔGP = −3, ΔC = −0.4: (−3 + 0.4) / −0.4 = 6.5.
    push = _fake_run([395, 595], {"paid_ads_search": [150, 150], "push": [19.8, 19.8], "viral_launch": [50, 0]})
    baseline = _fake_run([300, 500], {}, group_revenue=[195, 200, 200, 205])
    out = evaluate(run, baseline, {"paid_ads_search": (ads, 1.01), "push": (push, 0.99)}, EconomicsConfig(margin=0.3))
    assert out["marginal_roi"]["paid_ads_search"] == pytest.approx(1.0)
    assert out["marginal_roi"]["push"] == pytest.approx(6.5)
    assert out["marginal_roi"]["viral_launch"] is None  # fixed price: no marginal ROI
    assert "content" not in out["marginal_roi"]  # no rerun, no number
    # The rest of the block on the same numbers.
    assert out["cost_total"] == pytest.approx(390)
    assert out["cost_by_lever"] == {"paid_ads_search": 300, "push": 40, "viral_launch": 50}
    assert out["gross_profit"] == pytest.approx(300)
    assert out["roi"] == pytest.approx((300 - 390) / 390)
    assert out["incremental"]["revenue"] == pytest.approx(200)
    assert out["incremental"]["gross_profit"] == pytest.approx(60)
    assert out["incremental"]["roi"] == pytest.approx((60 - 390) / 390)
    assert out["cac_by_channel"] == {"search": pytest.approx(300 / 2)}
    # Monte-Carlo errors of the paired differences: group ΔGP = 0.3 · (45, 50, 55, 50).
    d_gp = 0.3 * np.array([45.0, 50, 55, 50])
    assert out["monte_carlo"]["incremental"]["gross_profit"] == pytest.approx(np.sqrt(4 * np.var(d_gp, ddof=1)))
    d_profit = d_gp - np.array([60.0, 65, 70, 75])
    assert out["monte_carlo"]["incremental"]["profit"] == pytest.approx(np.sqrt(4 * np.var(d_profit, ddof=1)))
    cost_g = np.array([60.0, 65, 70, 75])
    r = d_profit.sum() / cost_g.sum()  # the incremental ROI is Σ profit_g / Σ cost_g
    roi_se = np.sqrt(4 / 3 * np.sum((d_profit - r * cost_g) ** 2)) / cost_g.sum()
    assert out["monte_carlo"]["incremental"]["roi"] == pytest.approx(roi_se)
    assert out["monte_carlo"]["cost_total"] == pytest.approx(np.sqrt(4 * np.var(cost_g, ddof=1)))
    assert out["monte_carlo"]["revenue"] == pytest.approx(np.sqrt(4 * np.var([240, 250, 255, 255], ddof=1)))


def test_marginal_roi_on_distinct_numbers_rules_out_total_cost_and_raw_revenue():
    lever = _Lever(label="paid_ads_search", kind="paid_ads", channel="search", budget_key="daily_budget")
    run = _fake_run([500, 500], {"paid_ads_search": [100, 100]}, levers=[lever])
    # +1 %: revenue 1000 → 1020 (ΔGP = 0.3 · 20 = 6), cost 200 → 202 (ΔC = 2): (6 − 2) / 2 = 2.
    other = _fake_run([510, 510], {"paid_ads_search": [101, 101]})
    out = evaluate(run, None, {"paid_ads_search": (other, 1.01)}, EconomicsConfig(margin=0.3))
    assert out["marginal_roi"]["paid_ads_search"] == pytest.approx(2.0)
    # (by total cost: 4 / 200 = 0.02; raw revenue: (20 − 2) / 2 = 9; ΔC = the rerun's total: (6 − 202) / 202)


# ----------------------------------------------------------------------------------------
# 7. Monte-Carlo errors
# ----------------------------------------------------------------------------------------


def test_total_and_ratio_se_against_written_out_formulas():
    x = np.array([12.0, 7.5, 9.0, 14.0, 11.5, 8.0])
    g = x.size
    # Var(Σ x_g) = G · Var(x_g), estimated by G · s² (s² with ddof = 1).
    assert total_se(x) == pytest.approx(math.sqrt(g * np.var(x, ddof=1)), rel=1e-12)
    assert math.isnan(total_se(np.array([3.0])))
    a = np.array([3.0, -1.0, 4.0, 2.5, 0.5, 1.0])
    b = np.array([10.0, 8.0, 12.0, 9.0, 7.0, 11.0])
    # Delta method for R = A / B, A = Σa, B = Σb, with Var(A) = G·s_a², Cov(A, B) = G·s_ab, Var(B) = G·s_b²:
    # Var(R) ≈ Var(A)/B² − 2·A·Cov(A, B)/B³ + A²·Var(B)/B⁴.
    big_a, big_b = a.sum(), b.sum()
    cov = np.cov(a, b, ddof=1)
    var_r = g * (cov[0, 0] / big_b**2 - 2 * big_a * cov[0, 1] / big_b**3 + big_a**2 * cov[1, 1] / big_b**4)
    assert ratio_se(a, b) == pytest.approx(math.sqrt(var_r), rel=1e-12)
    assert math.isnan(ratio_se(a, np.zeros_like(b)))


def test_total_se_estimates_the_spread_of_the_sum_of_iid_groups():
    # G = 20 group totals, iid exponential with scale θ = 50 (σ = 50, excess kurtosis κ = 6),
    # R = 4000 replicates. True SD of the sum: √G · σ. total_se² = G · s² is unbiased for G·σ², with
    # Var(s²) = σ⁴ · (2/(G − 1) + κ/G), so the mean of R replicates has standard error
    # G · σ² · √((2/(G − 1) + κ/G) / R) ≈ 0.0064 · G·σ²  (≈ 0.64 %); allow 4 of them.
    g, reps, theta = 20, 4000, 50.0
    rng = np.random.default_rng(20240611)
    draws = rng.exponential(theta, size=(reps, g))
    se2 = np.array([total_se(row) ** 2 for row in draws])
    true_var = g * theta**2
    tol = 4 * true_var * math.sqrt((2 / (g - 1) + 6 / g) / reps)
    assert abs(se2.mean() - true_var) < tol
    # And the SE is the spread of the sum itself (sample SD of R sums: relative SE ≈ 1/√(2R) ≈ 1.1 %).
    sums = draws.sum(axis=1)
    assert sums.std(ddof=1) == pytest.approx(math.sqrt(true_var), rel=4 / math.sqrt(2 * reps))


# ----------------------------------------------------------------------------------------
# 8. Sweep intervals, P(best), rank
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values",
    [
        [3.0, 5.5],
        [1.0, 4.0, 2.5],
        [10.2, 9.1, 11.7, 8.4, 10.0, 12.3, 9.9, 10.8, 7.6, 11.1],
    ],
    ids=["n=2", "n=3", "n=10"],
)
def test_t_interval_is_the_95_percent_student_t_interval(values):
    v = np.array(values)
    n, mean, s = v.size, v.mean(), v.std(ddof=1)
    lo, hi = scipy.stats.t.interval(0.95, n - 1, loc=mean, scale=s / math.sqrt(n))
    got_mean, got_lo, got_hi, got_n = t_interval(np.concatenate([v, [np.nan]]))  # NaN (a failed job) is dropped
    assert got_n == n
    assert got_mean == pytest.approx(mean, rel=1e-12)
    assert (got_lo, got_hi) == (pytest.approx(lo, rel=1e-9), pytest.approx(hi, rel=1e-9))


def test_t_interval_of_one_value_has_no_width():
    mean, lo, hi, n = t_interval(np.array([4.0]))
    assert (mean, n) == (4.0, 1) and math.isnan(lo) and math.isnan(hi)


def _jobs_table() -> pd.DataFrame:
    # incremental profit by seed; point C has no job at seed 4 (failed)
    table = {
        "C": [1.0, 2.0, 3.0, 20.0, None],
        "B": [9.0, 9.0, 9.0, 9.0, 0.0],
        "A": [10.0, 10.0, 10.0, -30.0, 100.0],
    }
    rows = []
    for point, values in table.items():  # points appear in the order C, B, A
        for seed, value in enumerate(values):
            if value is None:
                continue
            row = dict.fromkeys(METRICS, np.nan)
            row.update(point=point, seed=seed, incremental_profit=value, d30=0.1 + 0.01 * seed)
            rows.append(row)
    return pd.DataFrame(rows)


def test_sweep_points_get_t_intervals_p_best_and_rank_by_mean():
    out = summarize_points(_jobs_table()).set_index("point")
    # Means: A = (10+10+10−30+100)/5 = 20, B = 36/5 = 7.2, C = 26/4 = 6.5 → rank A, B, C.
    assert out.loc[["A", "B", "C"], "rank"].tolist() == [1, 2, 3]
    assert out.loc["A", "incremental_profit"] == pytest.approx(20.0)
    assert out.loc["B", "incremental_profit"] == pytest.approx(7.2)
    assert out.loc["C", "incremental_profit"] == pytest.approx(6.5)
    assert out.loc[["A", "B", "C"], "seeds"].tolist() == [5, 5, 4]
    # P(best) over the seeds every point finished (0 … 3): A best at 0, 1, 2; C at 3; B never.
    assert out.loc["A", "p_best"] == pytest.approx(3 / 4)
    assert out.loc["B", "p_best"] == 0.0
    assert out.loc["C", "p_best"] == pytest.approx(1 / 4)
    assert (out["rank_metric"] == "incremental_profit").all()
    for point, values in (("A", [10, 10, 10, -30, 100]), ("B", [9, 9, 9, 9, 0]), ("C", [1, 2, 3, 20])):
        v = np.array(values, dtype=float)
        lo, hi = scipy.stats.t.interval(0.95, v.size - 1, loc=v.mean(), scale=v.std(ddof=1) / math.sqrt(v.size))
        assert out.loc[point, "incremental_profit_lo"] == pytest.approx(lo, rel=1e-9)
        assert out.loc[point, "incremental_profit_hi"] == pytest.approx(hi, rel=1e-9)
    # Another metric gets its own interval over its own seeds: d30 = 0.10 … 0.14 for A.
    v = 0.1 + 0.01 * np.arange(5)
    lo, hi = scipy.stats.t.interval(0.95, 4, loc=v.mean(), scale=v.std(ddof=1) / math.sqrt(5))
    assert (out.loc["A", "d30_lo"], out.loc["A", "d30_hi"]) == (pytest.approx(lo), pytest.approx(hi))


def test_sweep_without_incremental_results_ranks_by_profit():
    jobs = _jobs_table()
    jobs["profit"] = jobs["incremental_profit"] * -1  # reversed order
    jobs["incremental_profit"] = np.nan
    out = summarize_points(jobs)
    assert (out["rank_metric"] == "profit").all()
    # profit means: A = −20, B = −7.2, C = −6.5 → C, B, A; P(best) at seeds 0–3: C at 0, 1, 2; A at 3.
    assert out["point"].tolist() == ["C", "B", "A"]
    assert out.set_index("point")["p_best"].to_dict() == {"C": 0.75, "B": 0.0, "A": 0.25}


# ----------------------------------------------------------------------------------------
# 9. Spend response and the incremental daily columns of a strategy run
# ----------------------------------------------------------------------------------------

PAID_COMMON = [
    "population.market_size=3000",
    "horizon_days=30",
    "progress=false",
    "figures=false",
    "population.awareness.p=0.005",
    "economics.margin=0.37",
]


def _paid(budget: float, *extra: str) -> list[str]:
    return [*PAID_COMMON, f"+strategy.paid_ads={{search:{{daily_budget:{budget},cpm:10}}}}", *extra]


@pytest.fixture(scope="module")
def paid():
    main = simulate(_paid(2, "economics.marginal_roi=false", "economics.spend_response_multipliers=[3.0]"))
    alone = [
        "economics.compare_to_baseline=false",
        "economics.marginal_roi=false",
        "economics.spend_response_multipliers=[]",
    ]
    return SimpleNamespace(
        main=main,
        zero=simulate(_paid(0, *alone)),
        triple=simulate(_paid(6, *alone)),
        organic=simulate(PAID_COMMON),
    )


def test_spend_response_incremental_gross_profit_is_margin_times_revenue_gain_over_zero_budget(paid):
    table = paid.main.spend_response.set_index("budget_multiplier")
    assert table.index.tolist() == [0.0, 1.0, 3.0]
    rev = {m: r.daily["revenue"].sum() for m, r in ((0.0, paid.zero), (1.0, paid.main), (3.0, paid.triple))}
    users = {m: r.daily["new_users"].sum() for m, r in ((0.0, paid.zero), (1.0, paid.main), (3.0, paid.triple))}
    assert rev[3.0] != rev[1.0] != rev[0.0]  # the three budgets give three revenues
    for mult in (0.0, 1.0, 3.0):
        row = table.loc[mult]
        assert row["incremental_gross_profit"] == pytest.approx(0.37 * (rev[mult] - rev[0.0]), rel=1e-9, abs=1e-9)
        assert row["incremental_new_users"] == users[mult] - users[0.0]
        assert row["daily_budget"] == pytest.approx(2 * mult)
        assert row["spend"] == pytest.approx(2 * mult * 30)  # the budget is spent on every day of the horizon
    assert table.loc[3.0, "new_users_channel"] == paid.triple.daily["new_users_search"].sum()


def test_strategy_daily_has_baseline_and_incremental_gross_profit_columns(paid):
    daily, base = paid.main.daily, paid.organic.daily
    for col in ("new_users", "dau", "revenue"):
        np.testing.assert_array_equal(daily[f"baseline_{col}"].to_numpy(), base[col].to_numpy(), err_msg=col)
    np.testing.assert_allclose(
        daily["incremental_gross_profit"].to_numpy(),
        0.37 * (daily["revenue"].to_numpy() - base["revenue"].to_numpy()),
        rtol=1e-12,
    )
    assert daily["incremental_gross_profit"].abs().sum() > 0
    np.testing.assert_allclose(daily["gross_profit"].to_numpy(), 0.37 * daily["revenue"].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(daily["cost_total"].to_numpy(), daily["cost_paid_ads_search"].to_numpy())
    channels = [c for c in daily.columns if c.startswith("new_users_")]
    np.testing.assert_array_equal(daily[channels].sum(axis=1).to_numpy(), daily["new_users"].to_numpy())
    econ = paid.main.summary["economics"]
    assert econ["incremental"]["gross_profit"] == pytest.approx(daily["incremental_gross_profit"].sum())


def test_a_sweep_whose_paid_points_have_no_incremental_results_ranks_all_by_profit():
    """Without the baseline runs a point that spends nothing still has its incremental profit (zero); ranking by
    incremental profit put it first and the paid points, which have none, after it in no order."""
    jobs = _jobs_table()
    jobs["profit"] = jobs["incremental_profit"] * -1
    jobs["incremental_profit"] = np.where(jobs["point"] == "B", 0.0, np.nan)  # B spends nothing
    out = summarize_points(jobs)
    assert (out["rank_metric"] == "profit").all()
    assert out["point"].tolist() == ["C", "B", "A"]  # by profit: −6.5, −7.2, −20


def test_a_sweep_leaves_out_the_ltv_of_a_run_that_did_not_project_its_tail():
    """An observed-only LTV (a short run) is not an LTV: averaged with whole ones it would drag the mean down."""
    from sim.analysis.sweep_stats import job_metrics

    whole = {"economics": {"cost_total": 5.0, "ltv": {"per_user": 2.5, "tail_projected": True}}}
    observed_only = {"economics": {"cost_total": 5.0, "ltv": {"per_user": 0.5, "tail_projected": False}}}
    older = {"economics": {"cost_total": 5.0, "ltv": {"per_user": 2.0}}}  # a summary from before the flag
    assert job_metrics(whole)["ltv"] == 2.5 and job_metrics(older)["ltv"] == 2.0
    assert math.isnan(job_metrics(observed_only)["ltv"])


def test_a_points_ltv_is_given_only_where_every_seed_projected_its_tail():
    """Two seeds, one without a tail: the point's LTV was that of the other seed alone."""
    rows = [
        {"job": f"j{i}", "point": point, "seed": seed, **dict.fromkeys(METRICS, 1.0), "ltv": ltv}
        for i, (point, seed, ltv) in enumerate([("a", 0, 2.0), ("a", 1, float("nan")), ("b", 0, 2.0), ("b", 1, 3.0)])
    ]
    table = summarize_points(pd.DataFrame(rows)).set_index("point")
    assert math.isnan(table.loc["a", "ltv"]) and math.isnan(table.loc["a", "ltv_lo"])
    assert table.loc["b", "ltv"] == 2.5


@pytest.mark.parametrize(("days", "projected"), [(3, False), (4, True)])
def test_the_least_squares_tail_needs_three_days_after_day_0_or_projects_nothing(days, projected):
    # One cohort of 1,000 users observed for `days` tenure days (0 … days-1), a horizon of `days`.
    active = np.zeros((days, days), dtype=np.int64)
    active[0, :] = np.round(1000 * np.array([1.0, 0.5, 0.35, 0.28])[:days])
    revenue = active * 1.0
    curve = cohort_retention_curve(active)
    out = ltv(active, revenue, curve, margin=MARGIN, annual_discount_rate=RATE, ltv_days=10, min_users=300)
    assert out["tail_projected"] is projected
    if projected:  # days 1-3: the three the fit needs
        assert out["projected_tail"] > 0
    else:  # days 1-2 only: fit_retention_tail's all-zero curve is no projection
        assert out["projected_tail"] is None and out["per_user"] == out["observed"]
        assert out["tail_not_projected"] == (
            "2 days of retention after day 0 rest on 300 or more users: the least-squares tail needs 3"
        )


@pytest.mark.parametrize("parallel", ["one thread", "processes"])
def test_a_user_visits_when_the_uniform_is_below_the_visit_probability_not_equal_to_it(parallel):
    # v = pi * w_v * (1 + kappa h) * m with kappa = 0, w_v = 1 and no lever is pi itself: a user whose pi is
    # exactly today's activity uniform u does not visit (u < v is false), one whose pi is the next float32 does.
    threads = ["threads=1"] if parallel == "one thread" else ["threads=2", "parallel=processes"]
    overrides = [
        "population=consumer_app",
        "population.market_size=140000",  # three draw chunks: the users below are in the last, a worker's
        "horizon_days=40",
        "population.habit.strength=0",
        "population.weekly_visit_pattern=[1,1,1,1,1,1,1]",
        *threads,
    ]
    model = UserLifecycleModel(replace(load_config(overrides), seed=4, progress=False, figures=False))
    for _ in range(20):
        model.step()
    pop, day = model.population, model.day
    first = 2 * CHUNK_SIZE
    u = model.streams.uniforms("activity", day, 2, model.sample_size - first)
    alive = np.flatnonzero(pop.alive[first:] & (pop.stage[first:] >= Stage.NEW))
    at, above = first + alive[0], first + alive[1]
    pop.visit_propensity[at] = u[at - first]
    pop.visit_propensity[above] = np.nextafter(u[above - first], np.float32(1))
    model.step()
    assert pop.last_visit_day[above] == day and pop.last_visit_day[at] != day
