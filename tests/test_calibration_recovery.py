"""Acceptance tests of the agent-model calibration on tables simulated from known populations.

Each table is made by a full ``opsim`` run (Bass acquisition over 120 days, every cohort
observed until the export day: a triangle), independently of the calibration's own
cohort simulation. The calibration starts away from the truth and must (a) give
intervals that cover the true parameters and (b) forecast D31-D90 within twice the
table's own seed-to-seed noise. Cohort sizes are small (about 40,000 users in all,
4,000 simulated users per segment) to keep each fit to seconds; the tolerances come
from the fit's own standard errors, so small tables make them wider, not looser.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import logit

from sim import simulate
from sim.analysis.retention_data import CohortTable
from sim.app.calibrate import base_parameters, calibrate_population
from sim.app.config import load_config
from sim.core.cohorts import simulate_cohorts

DAYS = 120
#: The table starts on a Monday, as the presets do (start_weekday 0).
FIRST_DATE = pd.Timestamp("2024-01-01")
#: |estimate − truth| in standard errors (transformed scale) allowed for every parameter:
#: two-sided 0.3 % per parameter, so 36 parameters over the four tables fail by chance with
#: probability ≈ 10 % if every interval were independent and exact; they are correlated
#: (confounded pairs move together), which makes a chance failure rarer still.
MAX_Z = 3.0
#: Users simulated per segment in each evaluation.
COHORT_USERS = 8_000
#: Users of the expected curves the forecast is checked against (MC error ≈ 0.0005 at D60).
FORECAST_USERS = 200_000

TRUTHS = {
    "consumer_app": ("consumer_app", []),
    "ecommerce": ("ecommerce", []),
    "game": ("game", []),
    # the case: a known two-segment population with a tenure exponent of 0.8
    "two_segment_c08": (
        "consumer_app",
        [
            "population.segments.core.weight=0.25",
            "population.segments.casual.weight=0.75",
            "population.segments.core.churn.c=0.8",
            "population.segments.casual.churn.c=0.8",
            "population.segments.core.churn.a=0.7",
            "population.segments.core.churn.b=30.3",
            "population.habit.strength=0.3",
        ],
    ),
}


def observed_table(preset: str, overrides: list[str], seed: int) -> tuple[CohortTable, object]:
    """A 120-day cohort triangle of ~40,000 users from a full opsim run of the population."""
    cfg = load_config(
        [
            f"population={preset}",
            *overrides,
            "population.market_size=100000",
            "population.sample_size=null",
            "population.awareness.p=0.005",
            "population.awareness.q=0",
            "population.conversion_rate=0.2",
            f"horizon_days={DAYS}",
            f"seed={seed}",
            "progress=false",
            "figures=false",
            "record_events=false",
            "economics.compare_to_baseline=false",
            "economics.marginal_roi=false",
            "economics.spend_response_multipliers=[]",
        ]
    )
    c = simulate(cfg).cohorts
    dates = (FIRST_DATE + pd.to_timedelta(c.cohort_day, unit="D")).dt.strftime("%Y-%m-%d")
    frame = pd.DataFrame(
        {"cohort": dates, "day": c.day_n, "cohort_size": c.cohort_size.astype(int), "active": c.active.astype(int)}
    )
    return CohortTable(f"{preset} simulated", frame), cfg.population


def perturbed(truth: dict[str, float]) -> dict[str, float]:
    """A start away from the truth: churn means ×1.4, visit means ×0.8, every c = 1, habit ×0.6."""
    out = {}
    for key, value in truth.items():
        if key.endswith("churn_mean"):
            out[key] = min(1.4 * value, 0.95)
        elif key.endswith("visit_mean"):
            out[key] = 0.8 * value
        elif key.endswith("churn_c"):
            out[key] = 1.0
        elif key == "habit_strength":
            out[key] = 0.6 * value
        else:
            out[key] = value
    return out


def z_score(key: str, estimate: float, truth: float, se: float) -> float:
    transform = logit if key.endswith(("weight", "_mean")) else np.log
    return float((transform(estimate) - transform(truth)) / se)


def expected_curve(population, days: int, seed: int) -> np.ndarray:
    run = simulate_cohorts(population, FORECAST_USERS, days, seed, record_activity=False)
    return run.cohort_active.sum(axis=0) / run.cohort_active[:, 0].sum()


@pytest.mark.slow
@pytest.mark.parametrize("case", list(TRUTHS))
def test_intervals_cover_the_truth_and_the_forecast_holds(case):
    preset, overrides = TRUTHS[case]
    table, truth_population = observed_table(preset, overrides, seed=11)
    truth = base_parameters(truth_population)
    cal = calibrate_population(
        table,
        base=truth_population,
        market_size=100_000,
        cohort_users=COHORT_USERS * len(truth_population.segments),
        start=perturbed(truth),
        max_iterations=15,
        forecast_days=90,
    )
    fit = cal.fit
    report = {k: (round(fit.params_[k], 4), truth[k], round(fit.std_errors_[k], 3)) for k in truth}
    for key, value in truth.items():
        z = z_score(key, fit.params_[key], value, fit.std_errors_[key])
        assert abs(z) <= MAX_Z, f"{case} {key}: {fit.params_[key]:.4g} vs truth {value:.4g} (z = {z:+.2f}); {report}"
    # A model that contains the truth fits within its noise: no poor-fit warning.
    assert fit.warning is None, fit.warning
    # Forecast D31-D90 of the calibrated preset against the truth's expected curve. The noise
    # scale is the table's own seed-to-seed SD of D_n (from the fit's data covariance, which is
    # the binomial-plus-correlation SE of each pooled day).
    days = np.arange(31, 91)
    truth_curve = expected_curve(truth_population, 90, seed=101)[days]
    calibrated_curve = expected_curve(cal.population, 90, seed=202)[days]
    table_se = cal.table.set_index("day").loc[days, "observed_se"].to_numpy()
    rmse = float(np.sqrt(np.mean((calibrated_curve - truth_curve) ** 2)))
    noise = float(np.sqrt(np.mean(table_se**2)))
    assert rmse <= 2 * noise, f"{case}: D31-D90 RMSE {rmse:.4f} vs seed-to-seed noise {noise:.4f}"
