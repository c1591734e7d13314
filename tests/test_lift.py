"""Lift calibration: a lever's effect recovered from a simulated A/B test, with an interval."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sim.analysis.lift import ABMetric, ABResult, Arm
from sim.app.config import load_config
from sim.app.lift import calibrate_lift
from sim.core.cohorts import simulate_cohorts
from sim.levers.push import Push, PushConfig

ROOT = Path(__file__).resolve().parents[1]
TRUE_LIFT = 0.8
ARM_USERS = 50_000


def measured(population, levers, seed: int, day: int = 7) -> tuple[float, float]:
    """D7 and visits per user over days 1-14 of one arm (its own seed: an independent half of the users)."""
    run = simulate_cohorts(population, ARM_USERS, 14, seed, levers=levers, record_activity=True)
    d7 = run.cohort_active[:, day].sum() / ARM_USERS
    visits = run.active[:, 1:15].sum(axis=1)
    return float(d7), visits


@pytest.mark.slow
def test_push_visit_lift_is_recovered_with_an_interval():
    population = load_config(["population=consumer_app"]).population
    push = PushConfig(enabled=True, messages_per_week=2, visit_lift=TRUE_LIFT)
    c_d7, c_visits = measured(population, (), seed=31)
    t_d7, t_visits = measured(population, [Push("push", push)], seed=32)
    ab = ABResult(
        "simulated",
        "push",
        {"messages_per_week": 2},
        ["visit_lift"],
        [
            ABMetric("d7", 7, Arm(ARM_USERS, c_d7), Arm(ARM_USERS, t_d7)),
            ABMetric(
                "visits",
                14,
                Arm(ARM_USERS, float(c_visits.mean()), float(c_visits.std())),
                Arm(ARM_USERS, float(t_visits.mean()), float(t_visits.std())),
            ),
        ],
    )
    cal = calibrate_lift(ab, population, arm_users=30_000, seed=0)
    low, high = cal.fit.intervals_["visit_lift"]
    estimate = cal.fit.params_["visit_lift"]
    assert low <= TRUE_LIFT <= high, (estimate, low, high)
    # The interval is informative: two metrics on 50,000 users per arm pin the lift to within ±50 %.
    assert high - low < TRUE_LIFT
    # The fitted lifts match the measured ones within their combined standard errors (two metrics,
    # one parameter: a residual of at most 3 SE each).
    z = (cal.fit.fitted_lift - cal.fit.observed_lift) / np.hypot(cal.fit.observed_se, cal.fit.simulation_se)
    assert np.all(np.abs(z) < 3), z
    # the strategy it implies carries the tested settings and the fitted effect
    assert cal.strategy.push.enabled and cal.strategy.push.messages_per_week == 2
    assert cal.strategy.push.visit_lift == pytest.approx(estimate)


@pytest.mark.slow
def test_lift_command_writes_a_strategy_that_opsim_runs(tmp_path):
    out = tmp_path / "conf" / "strategy" / "push_measured.yaml"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sim.app.calibrate",
            "lift",
            str(ROOT / "experiments" / "calibration" / "push_ab.yaml"),
            "--population",
            "consumer_app",
            "--out",
            str(out),
            "--arm-users",
            "20000",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    run_line = next(line for line in proc.stdout.splitlines() if line.startswith("run it: "))
    assert run_line == f"run it: opsim --config-dir {tmp_path / 'conf'} population=consumer_app strategy=push_measured"
    assert {"lift.csv", "lift.json", "lift.png", "lift_curve.csv"} <= {
        p.name for p in (out.parent / "push_measured_lift").iterdir()
    }
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "sim",
            *run_line.removeprefix("run it: opsim ").split(),
            "population.market_size=5000",
            "horizon_days=20",
            "figures=false",
            "economics.marginal_roi=false",
            "economics.spend_response_multipliers=[]",
            f"hydra.run.dir={tmp_path / 'run'}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "run" / "summary.json").exists()
