"""Lift calibration: a lever's effect recovered from a simulated A/B test, with an interval."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sim.analysis.calibration import NOT_IDENTIFIED_SPAN
from sim.analysis.lift import ABMetric, ABResult, Arm, LiftFit, fit_lift
from sim.app.calibrate import main
from sim.app.config import load_config
from sim.app.lift import LIFT_PARAMETERS, calibrate_lift
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


# ---------------------------------------------- a lift the test does not pin down
#: Visits per user 2.0 → 3.0 on 100 users per arm, per-user SD 1: SE of log(T/C) from the delta method.
VISITS = ABMetric("visits", 7, Arm(100, 2.0, 1.0), Arm(100, 3.0, 1.0))
LIFT_SE = math.hypot(1.0 / (3.0 * 10), 1.0 / (2.0 * 10))
#: The SE in log(1 + visit_lift) above which the 95 % interval spans more than a factor of 10 in 1 + lift.
SPAN_SE = math.log(NOT_IDENTIFIED_SPAN) / (2 * 1.959963984540054)


def linear_response(slope: float):
    """Simulated arms whose log lift is exactly slope · log(1 + visit_lift), the same for every seed."""

    def simulate(effects: dict[str, float], _seed: int) -> tuple[np.ndarray, np.ndarray]:
        return np.array([2.0]), np.array([2.0 * math.exp(slope * math.log1p(effects["visit_lift"]))])

    return simulate


@pytest.mark.parametrize(("margin", "identified"), [(0.99, True), (1.01, False)])
def test_a_lift_is_not_identified_by_the_population_calibration_rule(margin, identified):
    # J = slope exactly and no simulation noise, so the SE of x = log(1 + visit_lift) is LIFT_SE / slope:
    # just inside and just outside the span of a factor of 10 (population calibration's rule).
    slope = LIFT_SE / (SPAN_SE * margin)
    ab = ABResult("ab.yaml", "push", {}, ["visit_lift"], [VISITS])
    fit = fit_lift(ab, linear_response(slope), LIFT_PARAMETERS["push"], {"visit_lift": 0.5}, seed=0)
    x = math.log(1.5) / slope  # the fit matches the observed lift log(3.0 / 2.0) exactly
    assert fit.params_["visit_lift"] == pytest.approx(math.expm1(x), rel=1e-4)
    low, high = fit.intervals_["visit_lift"]
    # ±1.96 SE around x, inside the bounds [0, 8]: a factor of 10^margin in 1 + visit_lift
    assert (1 + high) / (1 + low) == pytest.approx(NOT_IDENTIFIED_SPAN**margin, rel=1e-4)
    assert fit.identified == {"visit_lift": identified}
    assert fit.not_identified == ([] if identified else ["visit_lift"])


def test_a_lift_the_simulation_does_not_move_is_not_identified():
    # The lever does nothing in the simulation: a singular information matrix, the whole range
    # [0, e^8 - 1] (it printed such an interval with nothing saying so).
    ab = ABResult("ab.yaml", "push", {}, ["visit_lift"], [VISITS])
    fit = fit_lift(ab, linear_response(0.0), LIFT_PARAMETERS["push"], {"visit_lift": 0.5}, seed=0)
    assert fit.intervals_["visit_lift"] == pytest.approx((0.0, math.expm1(8.0)))
    assert fit.identified == {"visit_lift": False}


@pytest.mark.parametrize("identified", [False, True])
def test_the_lift_command_names_a_lift_that_is_not_identified(tmp_path, capsys, monkeypatch, identified):
    """The tester's run: push.visit_lift = 5.901 95 % [0, 2980] printed with nothing saying so."""
    interval = (0.0, 2980.0) if not identified else (4.0, 8.0)

    def fitted(ab, *_args, **_kwargs):
        one = np.array([0.13])
        return LiftFit(
            {"visit_lift": 5.901}, {"visit_lift": interval}, one, one, one, one, one, 1, {"visit_lift": identified}
        )

    monkeypatch.setattr("sim.app.lift.fit_lift", fitted)
    out = tmp_path / "conf" / "strategy" / "push_x.yaml"
    ab = str(ROOT / "experiments" / "calibration" / "push_ab.yaml")
    argv = ["lift", ab, "--population", "consumer_app", "--out", str(out), "--arm-users", "100", "--no-progress"]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    header = out.read_text().splitlines()[1]
    if identified:
        assert lines[0] == "push.visit_lift = 5.901   95 % [4, 8]"
        assert header == "#   visit_lift = 5.901  [95 % 4 … 8]" and not any("not identified" in x for x in lines)
    else:
        assert lines[0] == "push.visit_lift = 5.901   95 % [0, 2980]   not identified by this test"
        assert lines[2].startswith("not identified (the test does not pin them down: ")
        assert lines[2].endswith(": push.visit_lift")
        assert header == "#   visit_lift = 5.901  [95 % 0 … 2980]  (not identified by the test)"
    report = json.loads((out.parent / "push_x_lift" / "lift.json").read_text())
    assert report["not_identified"] == ([] if identified else ["visit_lift"])
