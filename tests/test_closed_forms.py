"""The simulator reproduces the closed-form special cases of DESIGN §2.

Each test simulates one cohort of M users acquired on day 0 and compares a daily
share with its closed form. Slots are independent given the parameters, so the
simulated share of M users is binomial: SE = sqrt(S(1 − S) / M). Every point must
lie within Z_TOL = 4.5 standard errors; over the ≤ 60 points of a test the chance
that a correct model fails anywhere is below 60 · 7e-6 ≈ 4e-4 (and the seed is fixed).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import betaln

from sim import simulate
from sim.app.config import Config
from sim.core.awareness import AwarenessConfig
from sim.core.population import PopulationConfig, SegmentConfig
from sim.core.survival import ChurnConfig
from sim.core.visits import HabitConfig, VisitConfig

Z_TOL = 4.5
M = 200_000
DAYS = 60


def assert_within_se(simulated: np.ndarray, expected: np.ndarray, m: int, what: str) -> None:
    se = np.sqrt(np.clip(expected * (1 - expected), 1e-12, None) / m)
    z = np.abs(simulated - expected) / se
    worst = int(np.argmax(z))
    assert z.max() < Z_TOL, (
        f"{what}: day {worst}: simulated {simulated[worst]:.5f} vs {expected[worst]:.5f} (z={z[worst]:.1f})"
    )


def survival_from_run(result) -> np.ndarray:
    """Share latent-alive at the *start* of tenure day t = 1 … DAYS (end of day t − 1)."""
    return result.daily["latent_alive"].to_numpy() / result.config.population.market_size


def test_constant_hazard_gives_geometric_survival(make_cohort_config):
    # θ ~ Beta(θ0·K, (1 − θ0)·K) with K = 1e7 has sd 7e-5: effectively constant, so
    # S(t) = (1 − θ0)^t; the Beta spread shifts S(60) by < 1e-5, far below one SE.
    theta0, k = 0.04, 1e7
    cfg = make_cohort_config(market_size=M, days=DAYS, churn=ChurnConfig(a=theta0 * k, b=(1 - theta0) * k))
    t = np.arange(1, DAYS + 1)
    assert_within_se(survival_from_run(simulate(cfg)), (1 - theta0) ** t, M, "geometric S(t)")


@pytest.mark.parametrize(("a", "b"), [(0.8, 3.0), (2.0, 10.0)], ids=["a0.8-b3", "a2-b10"])
def test_beta_hazard_gives_sbg_survival(make_cohort_config, a, b):
    cfg = make_cohort_config(market_size=M, days=DAYS, churn=ChurnConfig(a=a, b=b))
    t = np.arange(1, DAYS + 1)
    expected = np.exp(betaln(a, b + t) - betaln(a, b))  # sBG: S(t) = B(a, b + t) / B(a, b)
    assert_within_se(survival_from_run(simulate(cfg)), expected, M, "sBG S(t)")


@pytest.mark.parametrize("c", [0.6, 1.5])
def test_tenure_exponent_gives_beta_discrete_weibull(make_cohort_config, c):
    a, b = 1.2, 4.0
    cfg = make_cohort_config(market_size=M, days=DAYS, churn=ChurnConfig(a=a, b=b, c=c))
    t = np.arange(1, DAYS + 1)
    expected = np.exp(betaln(a, b + t**c) - betaln(a, b))  # BdW: S(t) = B(a, b + t^c) / B(a, b)
    assert_within_se(survival_from_run(simulate(cfg)), expected, M, f"BdW S(t), c={c}")


def test_visit_propensity_gives_bgbb_activity(make_cohort_config):
    a, b, alpha, beta = 1.0, 12.0, 2.0, 3.0
    cfg = make_cohort_config(
        market_size=M, days=DAYS, churn=ChurnConfig(a=a, b=b), visits=VisitConfig(alpha=alpha, beta=beta)
    )
    result = simulate(cfg)
    t = np.arange(1, DAYS)
    # BG/BB with π independent of θ: P(active on day t) = E[π] · S(t).
    expected = alpha / (alpha + beta) * np.exp(betaln(a, b + t) - betaln(a, b))
    dau_share = result.daily["dau"].to_numpy()[1:] / M
    assert_within_se(dau_share, expected, M, "BG/BB P(active on day t)")
    # Classic D_N of the single cohort is the same quantity.
    assert result.retention(7) == pytest.approx(dau_share[6])


def bass_mean_and_se(p: float, q: float, days: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Discrete Bass F(t) = F(t−1) + (p + q·F(t−1))(1 − F(t−1)) and its SE.

    The SE propagates each day's binomial noise through the linearised recursion:
    Var_t = J_t² Var_{t−1} + h_t (1 − h_t)(1 − F_{t−1}) / M with
    J_t = ∂F(t)/∂F(t−1) = 1 + q − p − 2qF(t−1) and h_t = p + qF(t−1).
    """
    f, var = 0.0, 0.0
    mean, se = [], []
    for _ in range(days):
        h = p + q * f
        var = (1 + q - p - 2 * q * f) ** 2 * var + h * (1 - h) * (1 - f) / m
        f = f + h * (1 - f)
        mean.append(f)
        se.append(np.sqrt(var))
    return np.array(mean), np.array(se)


def test_awareness_with_full_conversion_and_no_churn_is_bass():
    p, q, m, days = 0.005, 0.15, 500_000, 80
    # θ ≡ 0 (no churn) and π ≈ 1 (every adopter active daily, so word of mouth = q·F).
    segment = SegmentConfig(churn=ChurnConfig(a=1e-9, b=1e6), visits=VisitConfig(alpha=1e9, beta=1e-9))
    pop = PopulationConfig(
        market_size=m,
        awareness=AwarenessConfig(p=p, q=q, forget_rate=0.0),
        conversion_rate=1.0,
        habit=HabitConfig(strength=0.0),
        segments={"all": segment},
    )
    result = simulate(Config(seed=3, horizon_days=days, progress=False, figures=False, agents="lazy", population=pop))
    adopted = result.daily["new_users"].cumsum().to_numpy() / m
    expected, se = bass_mean_and_se(p, q, days, m)
    z = np.abs(adopted - expected) / se
    assert z.max() < Z_TOL, f"Bass F(t): worst day {int(np.argmax(z))}, z={z.max():.1f}"
    # Sanity: the word-of-mouth term matters here (F(80) far above the innovation-only 1 − (1 − p)^80).
    assert adopted[-1] > 2 * (1 - (1 - p) ** days)
