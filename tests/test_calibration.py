"""Calibration: reading analyst files, closed-form fits, and the agent-model calibration."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.special import betaln
from scipy.stats import chi2

from sim import simulate
from sim.analysis.calibration import ParameterSpace, _fit_statistic, _sandwich
from sim.analysis.retention_data import CohortTable, DataError, SurvivalTable, read_retention_csv
from sim.analysis.survival_fit import fit_survival
from sim.app.calibrate import calibrate_population, main
from sim.app.config import Config
from sim.core.awareness import AwarenessConfig
from sim.core.population import PopulationConfig, SegmentConfig
from sim.core.survival import ChurnConfig
from sim.core.visits import HabitConfig, VisitConfig
from tests.conftest import json_files_below

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "experiments" / "calibration"

# Fader & Hardie (2007), "How to project customer retention", Journal of Interactive
# Marketing 21(1), 76-90: customers still active at the start of years 0-7 (of 1000).
HIGH_END = np.array([1000, 869, 743, 653, 593, 551, 517, 491]) / 1000
REGULAR = np.array([1000, 631, 468, 382, 326, 289, 262, 241]) / 1000


def test_reproduces_the_published_sbg_fits():
    # The paper's maximum-likelihood estimates: High End a = 0.668, b = 3.806 (LL = -1611.2);
    # Regular a = 0.704, b = 1.182 (LL = -1680.3).
    high = fit_survival(HIGH_END, cohort_size=1000)
    assert high.params_["a"] == pytest.approx(0.668, abs=5e-4) and high.params_["b"] == pytest.approx(3.806, abs=5e-4)
    assert high.log_likelihood_ == pytest.approx(-1611.2, abs=0.05)
    regular = fit_survival(REGULAR, cohort_size=1000)
    assert regular.params_["a"] == pytest.approx(0.704, abs=5e-4) and regular.params_["b"] == pytest.approx(
        1.182, abs=5e-4
    )
    assert regular.log_likelihood_ == pytest.approx(-1680.3, abs=0.05)


def test_holdout_projection_on_the_published_data():
    # Fit years 1-4, project years 5-7: the sBG projection stays within 1.5 points of what happened
    # (Fader & Hardie's point: a model with a churn story projects well, unlike curve fitting).
    fit = fit_survival(REGULAR, cohort_size=1000, holdout_from=4)
    errors = np.array([h["error"] for h in fit.holdout])
    assert [h["period"] for h in fit.holdout] == [5, 6, 7]
    assert np.abs(errors).max() < 0.015
    assert fit.holdout[0]["observed"] == pytest.approx(0.289)


def simulated_survival(a: float, b: float, c: float, users: int, periods: int, seed: int = 11) -> np.ndarray:
    pop = PopulationConfig(
        market_size=users,
        awareness=AwarenessConfig(p=1.0, q=0.0, forget_rate=0.0),
        conversion_rate=1.0,
        habit=HabitConfig(strength=0.0),
        segments={"all": SegmentConfig(churn=ChurnConfig(a=a, b=b, c=c), visits=VisitConfig(alpha=1, beta=1))},
    )
    result = simulate(
        Config(seed=seed, horizon_days=periods, progress=False, figures=False, agents="lazy", population=pop)
    )
    return np.concatenate([[1.0], result.daily["latent_alive"].to_numpy() / users])


@pytest.mark.parametrize(("model", "truth"), [("sbg", {"a": 0.9, "b": 4.0}), ("bdw", {"a": 1.1, "b": 3.0, "c": 0.7})])
def test_fit_recovers_simulated_parameters_within_standard_errors(model, truth):
    surv = simulated_survival(truth["a"], truth["b"], truth.get("c", 1.0), users=20_000, periods=40)
    fit = fit_survival(surv, model=model, cohort_size=20_000)
    for key, value in truth.items():
        z = abs(fit.params_[key] - value) / fit.std_errors_[key]
        assert z < 3.5, f"{key}: {fit.params_[key]:.3f} vs {value} (SE {fit.std_errors_[key]:.3f})"
    t = np.arange(41)
    expected = np.exp(betaln(truth["a"], truth["b"] + t ** truth.get("c", 1.0)) - betaln(truth["a"], truth["b"]))
    assert np.abs(fit.survival(t) - expected).max() < 0.01


# ------------------------------------------------------------------ bad files
COHORT_HEADER = "cohort,day,cohort_size,active\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cohort,day,active\nA,0,10\n", r"missing column\(s\) \['cohort_size'\]"),
        (COHORT_HEADER + "A,0,10,10\nA,1,10,x4\n", r"row 3, column 'active': 'x4' is not a number"),
        (COHORT_HEADER + "A,0,10,10\nA,1.5,10,4\n", r"row 3, column 'day': '1.5' is not a whole number"),
        (COHORT_HEADER + "A,0,10,10\nA,1,10,12\n", r"row 3, column 'active': active 12 is outside 0 … cohort_size 10"),
        (
            COHORT_HEADER + "A,0,10,10\nA,1,12,4\n",
            r"row 3, column 'cohort_size': cohort 'A' has cohort_size 12 here but 10",
        ),
        (
            COHORT_HEADER + "A,0,10,10\nA,1,10,4\nA,1,10,3\n",
            r"row 4: duplicated row for cohort 'A', day 1 \(first at row 3\)",
        ),
        ("period,survival\n0,1\n1,0.8\n2,1.2\n", r"row 4, column 'survival': survival 1.2 is outside \[0, 1\]"),
        ("period,survival\n0,1\n1,0.6\n2,0.7\n", r"row 4, column 'survival': survival goes up from 0.6"),
        ("period,survival\n0,1\n1,0.6\n1,0.5\n", r"row 4, column 'period': duplicated period 1"),
        ("period,survival\n0,1\n1,0.6\n3,0.5\n", r"column 'period': periods must be 0, 1, 2"),
        ("when,who\n1,2\n", r"unknown format"),
    ],
)
def test_bad_file_gives_one_clear_error_and_writes_nothing(tmp_path, text, message):
    data = tmp_path / "data.csv"
    data.write_text(text)
    with pytest.raises(DataError, match=message) as info:
        read_retention_csv(data)
    assert str(info.value).startswith(str(data))
    out = tmp_path / "population" / "x.yaml"
    assert main([str(data), "--out", str(out), "--report", str(tmp_path / "rep"), "--market-size", "1000"]) == 2
    assert not out.exists() and not (tmp_path / "rep").exists()


def test_example_files_are_valid():
    cohorts = read_retention_csv(EXAMPLES / "cohorts_example.csv")
    assert isinstance(cohorts, CohortTable)
    pooled = cohorts.pooled_retention()
    assert list(pooled.day) == list(range(1, 31)) and (pooled.retention < 1).all()
    survival = read_retention_csv(EXAMPLES / "survival_example.csv")
    assert isinstance(survival, SurvivalTable) and survival.cohort_size == 1000


# -------------------------------------------------------- agent-model calibration
@pytest.mark.slow
def test_agent_calibration_matches_the_observed_curve_within_its_noise():
    data = read_retention_csv(EXAMPLES / "cohorts_example.csv")
    cal = calibrate_population(data, base="game", market_size=200_000, cohort_users=8_000, max_iterations=10)
    table = cal.table.dropna(subset=["observed"])
    # Each day within 4 combined standard errors (the table's, from the fit's data covariance,
    # and the simulation's binomial one for 4,000 simulated users per segment).
    se = np.sqrt(table.observed_se**2 + table.fitted * (1 - table.fitted) / 4_000)
    assert (np.abs(table.error) < 4 * se).all(), table[np.abs(table.error) >= 4 * se]
    weights = [seg.weight for seg in cal.population.segments.values()]
    assert sum(weights) == pytest.approx(1.0)
    assert cal.fit.warning is None
    # 30 statistics pin down all 8 free parameters: no identification warning (the other side of
    # test_a_table_with_fewer_statistics_than_parameters_says_so)
    assert cal.fit.identification is None and cal.fit.independent == cal.fit.free_parameters == 8
    # the forecast runs past the table's 30 days to day 90, with a band
    assert table.day.max() == 30 and cal.table.day.max() == 90
    assert (cal.table.band_low <= cal.table.fitted).all() and (cal.table.fitted <= cal.table.band_high).all()


@pytest.mark.slow
def test_calibrate_command_writes_a_population_that_opsim_runs(tmp_path):
    out = tmp_path / "conf" / "population" / "mygame.yaml"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sim.app.calibrate",
            str(EXAMPLES / "cohorts_example.csv"),
            "--out",
            str(out),
            "--base",
            "game",
            "--cohort-users",
            "4000",
            "--max-iterations",
            "4",
            "--new-users",
            str(EXAMPLES / "new_users_example.csv"),
            "--market-size",
            "200000",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "acquisition: p = " in proc.stdout
    run_line = next(line for line in proc.stdout.splitlines() if line.startswith("run it: "))
    assert run_line == f"run it: opsim --config-dir {tmp_path / 'conf'} population=mygame"
    report = out.parent / "mygame_calibration"
    assert {"calibration.csv", "calibration.json", "calibration.png", "acquisition.csv"} <= {
        p.name for p in report.iterdir()
    }
    # the printed command works as printed (plus a small run)
    command = run_line.removeprefix("run it: opsim ").split()
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "sim",
            *command,
            "population.market_size=20000",
            "horizon_days=40",
            "figures=false",
            f"hydra.run.dir={tmp_path / 'run'}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "run" / "summary.json").exists()


@pytest.mark.slow
def test_acquisition_calibration_recovers_bass_parameters():
    from sim import load_config
    from sim.app.calibrate import calibrate_acquisition

    truth = load_config(
        [
            "population.market_size=100000",
            "horizon_days=60",
            "population.awareness.p=0.001",
            "population.awareness.q=0.4",
            "seed=5",
            "progress=false",
        ]
    )
    observed = simulate(truth).daily["new_users"].to_numpy().astype(float)
    start = load_config(["population.market_size=100000"]).population  # p = 0.0005, q = 0.2
    _pop, pq, table = calibrate_acquisition(start, observed, seed=0)
    # Fitted with another seed than the data's, so only the daily noise (~sqrt(200) users) is left.
    assert pq["p"] == pytest.approx(0.001, rel=0.2) and pq["q"] == pytest.approx(0.4, rel=0.2)
    assert np.sqrt(np.mean(table.error**2)) < 3 * np.sqrt(observed.mean())


def test_bad_new_users_file(tmp_path):
    from sim.analysis.retention_data import read_new_users_csv

    bad = tmp_path / "new.csv"
    bad.write_text("day,new_users\n0,5\n1,-2\n")
    with pytest.raises(DataError, match=r"row 3, column 'new_users': new_users -2 is negative"):
        read_new_users_csv(bad)
    bad.write_text("day,new_users\n" + "".join(f"{d},{d}\n" for d in (0, 1, 2, 2, 3, 4, 5)))
    with pytest.raises(DataError, match=r"column 'day': duplicated day 2"):
        read_new_users_csv(bad)


def test_calibrate_command_on_a_survival_table(tmp_path):
    code = main([str(EXAMPLES / "survival_example.csv"), "--holdout", "4", "--report", str(tmp_path / "rep")])
    assert code == 0
    assert {"survival_fit.json", "survival_fit.csv", "survival_fit.png"} <= {
        p.name for p in (tmp_path / "rep").iterdir()
    }
    assert set(json_files_below(tmp_path / "rep")) == {"survival_fit.json"}  # strict JSON: no NaN or Infinity


def survival_csv(tmp_path: Path, shares: list[float], cohort_size: int | None = None, name: str = "s.csv") -> Path:
    size = "" if cohort_size is None else ",cohort_size"
    rows = "".join(f"{t},{v}{'' if cohort_size is None else f',{cohort_size}'}\n" for t, v in enumerate(shares))
    path = tmp_path / name
    path.write_text(f"period,survival{size}\n{rows}")
    return path


def test_a_survival_table_without_cohort_size_says_why_there_is_no_standard_error(tmp_path, capsys):
    """It printed ``a=0.7041 (SE nan)``: the reason instead, and null (not NaN) in the JSON report."""
    table = survival_csv(tmp_path, list(REGULAR))
    assert main([str(table), "--report", str(tmp_path / "rep")]) == 0
    out = capsys.readouterr().out
    assert "nan" not in out.lower()
    reason = "SE: none (the table has no cohort_size, which standard errors need)"
    assert out.splitlines()[0] == f"sbg: a=0.7041, b=1.182; log-likelihood -1.68; {reason}"
    assert out.splitlines()[1].startswith("bdw: a=") and out.splitlines()[1].endswith(reason)
    report = json_files_below(tmp_path / "rep")["survival_fit.json"]  # strict JSON: no NaN or Infinity
    for fit in report["fits"].values():
        assert set(fit["std_errors"].values()) == {None}
        assert fit["std_errors_missing"] == "the table has no cohort_size, which standard errors need"


def test_a_survival_table_with_cohort_size_prints_standard_errors(tmp_path, capsys):
    assert main([str(survival_csv(tmp_path, list(REGULAR), 1000)), "--report", str(tmp_path / "rep")]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[0].startswith("sbg: a=0.7041 (SE 0.")  # Fader & Hardie: a = 0.704
    assert "SE: none" not in captured.out and captured.err == ""
    report = json_files_below(tmp_path / "rep")["survival_fit.json"]
    assert all(fit["std_errors_missing"] is None for fit in report["fits"].values())


@pytest.mark.parametrize(
    ("shares", "why"),
    [
        ([1.0, 0.0, 0.0, 0.0, 0.0], "everyone churned in period 1"),
        ([1.0, 1.0, 1.0, 1.0, 1.0], "no one churned in periods 1-4"),
        ([1.0, 0.5, 0.5, 0.5], "every churn is in period 1 and none in periods 2-3"),
    ],
)
@pytest.mark.parametrize("cohort_size", [None, 1000])
def test_a_survival_table_without_an_interior_maximum_is_warned_about(tmp_path, capsys, shares, why, cohort_size):
    """All 0 after period 0, or all 1, gave parameters at their bounds (a = 2.2e4, b = 4.5e-5) without a word."""
    assert main([str(survival_csv(tmp_path, shares, cohort_size)), "--report", str(tmp_path / "rep")]) == 0
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1  # one warning line
    assert captured.err.startswith(f"opsim-calibrate: warning: {tmp_path / 's.csv'}: {why}, so the likelihood has ")
    assert "the sBG and BdW fits run to a bound of it" in captured.err and "not estimates" in captured.err
    assert all("SE: none" in line for line in captured.out.splitlines()[:2])
    report = json_files_below(tmp_path / "rep")["survival_fit.json"]
    assert {fit["no_maximum"] for fit in report["fits"].values()} == {why}


@pytest.mark.parametrize(
    ("shares", "why"),
    [
        ([1.0, 0.0, 0.0], "everyone churned in period 1"),
        ([1.0, 0.01, 0.0], ""),  # churn in period 2 as well
        ([1.0, 1.0, 1.0], "no one churned in periods 1-2"),
        ([1.0, 1.0, 0.99], ""),
        ([1.0, 0.5, 0.5, 0.5], "every churn is in period 1 and none in periods 2-3"),
        ([1.0, 0.5, 0.5, 0.49], ""),
    ],
)
def test_which_shares_have_no_interior_maximum(shares, why):
    from sim.analysis.survival_fit import no_maximum

    assert no_maximum(np.array(shares)) == why


def test_the_warning_looks_at_the_periods_fitted_only(tmp_path, capsys):
    table = survival_csv(tmp_path, [1.0, 1.0, 1.0, 0.5, 0.4], 1000)
    assert main([str(table), "--holdout", "2", "--report", str(tmp_path / "rep")]) == 0
    assert "no one churned in periods 1-2, so the likelihood" in capsys.readouterr().err
    regular = survival_csv(tmp_path, list(REGULAR), 1000, name="regular.csv")
    assert main([str(regular), "--holdout", "2", "--report", str(tmp_path / "rep")]) == 0
    assert capsys.readouterr().err == ""


def test_a_population_from_a_fit_at_a_bound_is_written_with_the_warning(tmp_path, capsys):
    """With --period-days 30 it stopped with scipy's "Initial guess is outside of provided bounds" (exit 2)."""
    out = tmp_path / "conf" / "population" / "subs.yaml"
    table = survival_csv(tmp_path, [1.0, 0.0, 0.0, 0.0], 1000)
    assert main([str(table), "--out", str(out), "--market-size", "1000", "--period-days", "30"]) == 0
    assert "everyone churned in period 1" in capsys.readouterr().err
    assert "# WARNING: " in out.read_text() and "everyone churned in period 1" in out.read_text()


@pytest.mark.slow
def test_a_fit_worse_than_the_noise_is_warned_about(tmp_path):
    # A re-engagement campaign on days 14-15 that the model cannot produce: the game table with
    # those days' actives multiplied by 2.5. The fit's chi2 must exceed what the noise explains.
    frame = read_retention_csv(EXAMPLES / "cohorts_example.csv").frame.copy()
    bump = frame["day"].isin([14, 15])
    frame.loc[bump, "active"] = np.minimum(np.round(frame.loc[bump, "active"] * 2.5), frame.loc[bump, "cohort_size"])
    cal = calibrate_population(
        CohortTable("bumped", frame), base="game", market_size=1000, cohort_users=4_000, max_iterations=6
    )
    assert cal.fit.chi2_p < 1e-3
    assert cal.fit.warning is not None and ("worst D14" in cal.fit.warning or "worst D15" in cal.fit.warning)


def test_fit_with_one_blas_thread_gives_the_unlimited_estimates():
    """Limiting BLAS to one thread (for speed) changes no estimate, standard error or likelihood."""
    from sim.analysis import survival_fit

    observed = survival_fit.survival_curve(np.arange(31), 0.8, 2.5, 0.7) * (1 + 0.01 * np.sin(np.arange(31)))
    observed[0] = 1.0
    for model in ("sbg", "bdw"):
        limited = survival_fit.fit_survival(observed, model=model, cohort_size=5000)
        free_c = model == "bdw"
        unlimited = survival_fit._fit(observed, observed, model, 30, 5000.0, 5000, free_c, 3 if free_c else 2)
        assert limited.to_dict() == unlimited.to_dict()


# ------------------------------------------------- what a table cannot pin down
PARAMS = {f"{s}.{k}": v for s in "ab" for k, v in (("churn_mean", 0.1), ("visit_mean", 0.3), ("churn_c", 1.0))}
SPACE = ParameterSpace(("a", "b"))  # 8 coordinates: a.weight, a.churn_mean … b.churn_c, habit_strength


def test_a_coordinate_the_statistics_do_not_move_has_its_whole_range_as_interval():
    # J = I (8 statistics, 8 coordinates), W = Ω = I: V = (JᵀJ)⁻¹ = I, every SE exactly 1.
    x = SPACE.pack({"a.weight": 0.5, "b.weight": 0.5, "habit_strength": 0.3} | PARAMS)
    cov, basis, null = _sandwich(np.eye(8), np.ones(8), np.eye(8))
    assert np.allclose(null, 0) and basis.shape == (8, 8)
    full = SPACE.natural_interval(x, cov, 1.96, null)
    assert full["habit_strength"][2] == pytest.approx(1.0) and full["a.churn_c"][2] == pytest.approx(1.0)
    # The statistics do not move with κ (its column is 0): its variance was 0, an interval of zero
    # width; now it is infinite and the interval is κ's whole range [1e-3, 20].
    jac = np.eye(8)
    jac[:, 7] = 0
    cov, basis, null = _sandwich(jac, np.ones(8), np.eye(8))
    assert basis.shape == (8, 7) and np.diag(null) == pytest.approx([0] * 7 + [1])
    out = SPACE.natural_interval(x, cov, 1.96, null)
    assert out["habit_strength"] == pytest.approx((1e-3, 20.0, math.inf))
    assert out["a.churn_c"][2] == pytest.approx(1.0)  # the others keep their finite SE


@pytest.mark.parametrize(("scale", "seen"), [(1e-7, True), (1e-9, False)])
def test_a_direction_is_null_below_rcond_times_the_largest_singular_value(scale, seen):
    # RCOND = 1e-8: a column 1e-7 of the others is still seen (a finite, huge SE 1/1e-7),
    # one of 1e-9 is not (infinite SE).
    jac = np.eye(8)
    jac[7, 7] = scale
    cov, _basis, null = _sandwich(jac, np.ones(8), np.eye(8))
    x = SPACE.pack({"a.weight": 0.5, "b.weight": 0.5, "habit_strength": 0.3} | PARAMS)
    se = SPACE.natural_interval(x, cov, 1.96, null)["habit_strength"][2]
    assert se == (pytest.approx(1 / scale, rel=1e-6) if seen else math.inf)


def test_fewer_statistics_than_parameters_leave_every_one_they_mix_unidentified():
    # One statistic that moves with every coordinate: 1 independent combination of 8; each
    # coordinate (and each weight, through the first) lies partly in the 7-dimensional null space.
    cov, basis, null = _sandwich(np.ones((1, 8)), np.ones(1), np.eye(1))
    assert basis.shape == (1, 1) and np.trace(null) == pytest.approx(7)
    x = SPACE.pack({"a.weight": 0.5, "b.weight": 0.5, "habit_strength": 0.3} | PARAMS)
    out = SPACE.natural_interval(x, cov, 1.96, null)
    assert all(v[2] == math.inf for v in out.values())
    assert out["a.weight"][:2] == (0.0, 1.0) and out["a.churn_mean"][:2] == pytest.approx((1e-4, 1 - 1e-4))


@pytest.mark.parametrize(("statistics", "fitted"), [(2, 1), (1, 1)])
def test_chi2_with_no_degrees_of_freedom_left_is_not_a_p_value_of_0(statistics, fitted):
    # W = Ω = I, the fitted direction the first statistic: Q = Σ r² ~ χ² with n − r degrees of freedom.
    residual = np.array([0.5, 1.0][:statistics])
    basis = np.eye(statistics)[:, :fitted]
    q, mean, sd, p = _fit_statistic(residual, np.ones(statistics), np.eye(statistics), basis)
    assert q == pytest.approx(np.sum(residual**2))
    if statistics > fitted:  # one degree of freedom: p = P(χ²₁ > 1.25)
        assert (mean, sd) == pytest.approx((1.0, math.sqrt(2)))
        assert p == pytest.approx(chi2.sf(1.25, 1))
    else:  # it said p = 0, and warned that the fit was worse than the noise explains
        assert (mean, sd) == (0.0, 0.0) and math.isnan(p)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_chi2_rounding_in_a_rotated_basis_leaves_no_degree_of_freedom(seed):
    """Three statistics, all three directions fitted, in a rotated basis with unequal weights and noise.

    (I − UUᵀ) is 0 up to rounding, which left weights λ of about 1e-32: "expected 0.0 ± 0.0" and
    p = 0 (opsim-calibrate warned that the fit was worse than the noise explains). With two of the
    three directions fitted, one χ²₁ remains, weighted by vᵀ W^½ Ω W^½ v for the third direction v.
    """
    rotation, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    residual, weight, omega = np.array([0.01, 0.02, -0.01]), np.array([1e4, 2e4, 5e3]), np.diag([1e-5, 2e-5, 3e-5])
    q, mean, sd, p = _fit_statistic(residual, weight, omega, rotation)
    assert q == pytest.approx(9.5) and (mean, sd) == (0.0, 0.0) and math.isnan(p)
    left = rotation[:, 2]
    lam = left @ (np.sqrt(weight)[:, None] * omega * np.sqrt(weight)[None, :]) @ left
    q, mean, sd, p = _fit_statistic(residual, weight, omega, rotation[:, :2])
    assert (mean, sd) == pytest.approx((lam, lam * math.sqrt(2)))
    assert p == pytest.approx(chi2.sf(q / lam, 1))


def test_a_table_with_fewer_statistics_than_parameters_says_so(tmp_path, capsys):
    """One statistic (D1) for 8 free parameters: no interval of zero width, no "p = 0"; the preset is still written."""
    data = tmp_path / "small.csv"
    data.write_text("cohort,day,cohort_size,active\n2026-01-01,0,100,100\n2026-01-01,1,100,30\n")
    out = tmp_path / "conf" / "population" / "x.yaml"
    argv = [str(data), "--market-size", "5000", "--out", str(out), "--no-progress"]
    assert main([*argv, "--cohort-users", "1400", "--max-iterations", "1", "--forecast-days", "5"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert "chi2 not tested: no degrees of freedom left (1 statistic, 1 independent combination" in lines[0]
    params = [line for line in lines if "95 %" in line]
    assert len(params) == 9 and all(line.endswith("not identified by this table") for line in params)
    assert "  casual.churn_c" in params[4] and "95 % [0.1, 5]" in params[4]  # c's whole range, not [c, c]
    assert captured.err.startswith(
        "opsim-calibrate: warning: the table's 1 statistic pins down only 1 independent combination of the 8 "
        "free parameters (the 2 segment weights, which sum to 1, count as 1; the information matrix is "
        "singular): casual.weight, core.weight, "
    )
    assert "worse than" not in captured.err and "p = 0" not in captured.err + captured.out
    header = [line for line in out.read_text().splitlines() if line.startswith("#")]
    assert header[1].endswith(
        "chi2 not tested: no degrees of freedom left (1 statistic, 1 independent combination of the parameters fitted)"
    )
    assert header[2].startswith("# WARNING: the table's 1 statistic pins down only 1")
