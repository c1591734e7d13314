"""Calibrate the agent model to a product's own retention data; ``opsim-calibrate``.

**Cohort retention table → population config.** The base preset's segments
(``--base``) keep their names and Beta concentrations; per segment the weight,
mean churn hazard, mean visit propensity and tenure exponent c, and the shared
habit strength κ are fitted (:mod:`sim.analysis.calibration`) so that simulated
cohorts — acquired on every weekday as the table's cohorts were and censored as
they are (:mod:`sim.analysis.cohort_statistics`) — match every cell of the table,
classic and rolling retention. Each segment is simulated on its own with a fixed
seed (:func:`sim.core.cohorts.simulate_cohorts`, common random numbers), so the fit
is smooth in the parameters. The result: a population YAML that ``opsim`` runs,
95 % intervals for every parameter (those the table does not pin down named), a
goodness-of-fit warning when the fit is worse than the noise explains, and a
forecast of D_1 … D_F with a band from the parameters' uncertainty.

Optionally, daily new users (``day,new_users``) calibrate acquisition too: Bass
p and q of the awareness process are fitted by :func:`calibrate_acquisition`.

**Survival table → sBG and BdW fits** (:mod:`sim.analysis.survival_fit`), with a
hold-out projection when asked; with ``--out`` the BdW fit becomes a one-segment
population (:func:`population_from_survival`).

**A/B result → a lever's effect** (``opsim-calibrate lift``): :mod:`sim.app.lift`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import OmegaConf
from tqdm import tqdm

from sim.analysis.calibration import ParameterSpace, PopulationFit, fit_bass, fit_population
from sim.analysis.cohort_statistics import CohortDesign, SimulatedUsers
from sim.analysis.retention_data import (
    FORMATS,
    MEASURES,
    VALUE_KINDS,
    CohortTable,
    DataError,
    SurvivalTable,
    read_new_users_csv,
    read_retention_csv,
    table_layout,
)
from sim.analysis.survival_fit import SurvivalFit, fit_survival, survival_curve
from sim.app.config import compose, load_config, preset_run_command
from sim.app.exits import one_line_usage_errors
from sim.app.lift import main as lift_main
from sim.app.preflight import PRESET_NAME, check_writable, csv_writer, json_writer, stopped, text_writer
from sim.base.errors import ConfigError, UsageError
from sim.base.float_sum import sum_in_order
from sim.core.cohorts import simulate_cohorts
from sim.core.model import LifecycleModel
from sim.core.population import PopulationConfig, SegmentConfig, check_population
from sim.core.survival import ChurnConfig
from sim.core.visits import VisitConfig
from sim.output.figures import calibration_figure, save_png
from sim.output.files import write_all
from sim.output.formatting import counted

__all__ = [
    "Calibration",
    "base_parameters",
    "calibrate_acquisition",
    "calibrate_population",
    "main",
    "population_from",
    "population_from_survival",
    "run_command",
]

#: Default simulated users per evaluation, split evenly over the segments.
DEFAULT_COHORT_USERS = 40_000
#: Fewest simulated users per segment (a few per weekday are not enough for a covariance).
MIN_USERS_PER_SEGMENT = 700
#: Least-squares iterations a calibration usually takes (for the progress bar's first ETA).
TYPICAL_ITERATIONS = 12
#: Default days of the forecast (D_1 … D_F).
DEFAULT_FORECAST_DAYS = 90
#: Longest forecast (the horizon of the simulation that draws it).
MAX_FORECAST_DAYS = 3650
#: Default sample of a written population whose market is larger: the presets simulate at most this many.
DEFAULT_MAX_SAMPLE = 1_000_000
#: Smallest habit strength the fit starts from (a start of 0 would sit on the log-scale boundary).
START_HABIT_STRENGTH = 0.05


def _mean(a: float, b: float) -> float:
    return a / (a + b)


def base_parameters(base: PopulationConfig) -> dict[str, float]:
    """The natural parameters (:class:`~sim.analysis.calibration.ParameterSpace`) of a population."""
    total = sum_in_order(s.weight for s in base.segments.values())
    out: dict[str, float] = {}
    for name, seg in base.segments.items():
        out[f"{name}.weight"] = seg.weight / total
        out[f"{name}.churn_mean"] = _mean(seg.churn.a, seg.churn.b)
        out[f"{name}.visit_mean"] = _mean(seg.visits.alpha, seg.visits.beta)
        out[f"{name}.churn_c"] = seg.churn.c
    out["habit_strength"] = base.habit.strength
    return out


def _segment(template: SegmentConfig, weight: float, churn_mean: float, visit_mean: float, c: float) -> SegmentConfig:
    """A segment with the template's concentrations a + b and α + β and the given means."""
    kc = template.churn.a + template.churn.b
    kv = template.visits.alpha + template.visits.beta
    return SegmentConfig(
        weight=weight,
        churn=ChurnConfig(a=churn_mean * kc, b=(1.0 - churn_mean) * kc, c=c),
        visits=VisitConfig(alpha=visit_mean * kv, beta=(1.0 - visit_mean) * kv),
        purchase_prob=template.purchase_prob,
        order_value=template.order_value,
    )


def population_from(
    params: dict[str, float],
    base: PopulationConfig,
    *,
    name: str,
    market_size: int,
    sample_size: int | None = None,
) -> PopulationConfig:
    """The base population with the calibrated segments and habit strength."""
    segments = {
        seg: _segment(
            template,
            params[f"{seg}.weight"],
            params[f"{seg}.churn_mean"],
            params[f"{seg}.visit_mean"],
            params[f"{seg}.churn_c"],
        )
        for seg, template in base.segments.items()
    }
    return replace(
        base,
        name=name,
        market_size=market_size,
        sample_size=sample_size,
        habit=replace(base.habit, strength=params["habit_strength"]),
        segments=segments,
        trait_sampling="fast",
    )


def segment_population(base: PopulationConfig, segment: str, params: dict[str, float]) -> PopulationConfig:
    """One segment of ``base`` alone (weight 1) with the parameters of one calibration evaluation."""
    seg = _segment(base.segments[segment], 1.0, params["churn_mean"], params["visit_mean"], params["churn_c"])
    return replace(base, segments={segment: seg}, habit=replace(base.habit, strength=params["habit_strength"]))


def segment_seed(seed: int, segment: int) -> int:
    """The seed of one segment's simulations (independent streams per segment)."""
    return int(np.random.SeedSequence([seed, segment]).generate_state(1)[0])


@dataclass
class Calibration:
    """Result of :func:`calibrate_population`.

    Attributes:
        population: The calibrated population config.
        fit: The fit (parameters, intervals, goodness of fit, forecast).
        table: Per day: ``day``, ``observed``, ``observed_se``, ``fitted``, ``band_low``,
            ``band_high`` (95 % from the parameters' uncertainty), ``error`` (classic retention;
            the forecast days beyond the table have no observation).
        rolling: The same for rolling retention (None when the table has none).

    """

    population: PopulationConfig
    fit: PopulationFit
    table: pd.DataFrame
    rolling: pd.DataFrame | None

    @property
    def params_(self) -> dict[str, float]:
        """The calibrated parameters."""
        return self.fit.params_

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the JSON report."""
        return self.fit.to_dict()


def _day_table(fit: PopulationFit, prefix: str) -> pd.DataFrame:
    mine = [i for i, label in enumerate(fit.statistics) if label.startswith(prefix)]
    days = [int(fit.statistics[i][1:]) for i in mine]
    frame = pd.DataFrame(
        {
            "day": days,
            "observed": fit.observed[mine],
            "observed_se": fit.observed_se[mine],
            "fitted": fit.fitted[mine],
            "band_low": np.clip(fit.fitted[mine] - 1.96 * fit.fitted_se[mine], 0, 1),
            "band_high": np.clip(fit.fitted[mine] + 1.96 * fit.fitted_se[mine], 0, 1),
        }
    )
    frame["error"] = frame["fitted"] - frame["observed"]
    return frame


def _classic_table(fit: PopulationFit) -> pd.DataFrame:
    """Observed classic days plus the forecast beyond them."""
    table = _day_table(fit, "D")
    if fit.forecast.size:
        forecast = pd.DataFrame(
            {
                "day": fit.forecast_days,
                "fitted": fit.forecast,
                "band_low": np.clip(fit.forecast - 1.96 * fit.forecast_se, 0, 1),
                "band_high": np.clip(fit.forecast + 1.96 * fit.forecast_se, 0, 1),
            }
        )
        forecast = forecast[~forecast["day"].isin(table["day"])]
        table = pd.concat([table, forecast], ignore_index=True).sort_values("day").reset_index(drop=True)
    return table[["day", "observed", "observed_se", "fitted", "band_low", "band_high", "error"]]


def estimate_after(done: int, n: int, total: int, step: int) -> int:
    """The progress bar's total once ``n`` more simulations are done (``done`` so far, estimate ``total``).

    A fit slower than :data:`TYPICAL_ITERATIONS` iterations extends the estimate by whole
    iterations (``step`` simulations each) before the bar would reach it: the bar shows
    100 % once, when the fit is done (it showed it at every extension, total 138 → 148 → …).
    """
    while done + n >= total:
        total += step
    return total


def calibrate_population(
    data: CohortTable,
    *,
    base: str | PopulationConfig = "consumer_app",
    name: str = "calibrated",
    market_size: int,
    sample_size: int | None = None,
    cohort_users: int = DEFAULT_COHORT_USERS,
    seed: int = 0,
    max_iterations: int = 30,
    forecast_days: int = DEFAULT_FORECAST_DAYS,
    start: dict[str, float] | None = None,
    progress: bool = False,
) -> Calibration:
    """Fit the agent model's population to an observed cohort retention table.

    Args:
        data: The validated cohort table (classic and/or rolling counts).
        base: Population preset (name or config) that supplies the segments' structure,
            everything not calibrated, and the start.
        name: Name of the new population.
        market_size: M of the written population (the real market).
        sample_size: N simulated users of the written population (None: all M).
        cohort_users: Simulated users per evaluation, split evenly over the segments.
        seed: Seed of the common random numbers during the fit.
        max_iterations: Most least-squares iterations.
        forecast_days: Forecast D_1 … D_F, F = max(this, the table's last day).
        start: Natural parameters to start from instead of the base's (any subset).
        progress: Show a progress bar with an ETA (stderr).

    Returns:
        The calibration.

    """
    base_pop = base if isinstance(base, PopulationConfig) else load_config([f"population={base}"]).population
    names = tuple(base_pop.segments)
    space = ParameterSpace(names)
    per_segment = cohort_users // len(names)
    if per_segment < MIN_USERS_PER_SEGMENT:
        raise ConfigError(
            "--cohort-users",
            cohort_users,
            f"at least {MIN_USERS_PER_SEGMENT * len(names)} ({MIN_USERS_PER_SEGMENT} per segment of the base)",
        )
    initial = base_parameters(base_pop)
    initial["habit_strength"] = max(initial["habit_strength"], START_HABIT_STRENGTH)
    initial.update(start or {})
    design = CohortDesign.from_table(data)
    forecast = design.forecast(max(forecast_days, design.max_day)) if design.classic_days.size else None

    def simulate(s: int, params: dict[str, float], days: int, seg_seed: int) -> SimulatedUsers:
        run = simulate_cohorts(segment_population(base_pop, names[s], params), per_segment, days, seg_seed)
        return SimulatedUsers(run.weekday, run.active)

    k = len(names)
    per_iteration = k + 4 * k  # one evaluation and one forward-difference Jacobian (3 + 1 sims per segment)
    final = k + 2 * 4 * k  # the optimum to the forecast horizon and a central-difference Jacobian
    expected = min(max_iterations, TYPICAL_ITERATIONS) * per_iteration + final
    with tqdm(total=expected, desc="calibrating", unit="sim", disable=not progress, file=sys.stderr) as bar:

        def tick(n: int) -> None:
            bar.total = estimate_after(bar.n, n, bar.total, per_iteration)
            bar.update(n)

        fit = fit_population(
            design,
            simulate,
            space,
            initial,
            users_per_segment=per_segment,
            seeds=[segment_seed(seed, s) for s in range(k)],
            forecast_design=forecast,
            max_iterations=max_iterations,
            progress=tick,
            covariance_seed=seed,
        )
        bar.total = bar.n
        bar.refresh()
    population = population_from(fit.params_, base_pop, name=name, market_size=market_size, sample_size=sample_size)
    rolling = _day_table(fit, "R") if design.rolling_days.size else None
    return Calibration(
        population, fit, _classic_table(fit) if design.classic_days.size else _day_table(fit, "R"), rolling
    )


def _run_days(population: PopulationConfig, days: int, seed: int) -> LifecycleModel:
    """Step an organic model of ``population`` for ``days`` days (no events recorded)."""
    model = LifecycleModel(population, horizon_days=days, seed=seed, record_events=False, agents="lazy")
    for _ in range(days):
        model.step()
    return model


def calibrate_acquisition(
    population: PopulationConfig,
    new_users: np.ndarray,
    *,
    max_users: int = 200_000,
    seed: int = 0,
    max_evaluations: int = 120,
) -> tuple[PopulationConfig, dict[str, float], pd.DataFrame]:
    """Fit Bass innovation p and imitation q so simulated daily new users match the observed ones.

    The market M is simulated on a sample of N = min(M, ``max_users``) users (new users are
    reported for the real market); the objective is Σ_t (n̂_t − n_t)² / max(n_t, 1) (Poisson-weighted), over
    log p, log q, by Nelder-Mead with a fixed seed (common random numbers). Conversion,
    forgetting, the market size and the calibrated retention are held fixed.

    Returns:
        The population with the fitted awareness, {p, q}, and the per-day table.

    """
    days = new_users.size
    sample = min(population.market_size, max_users)

    def simulate_new(p: float, q: float) -> np.ndarray:
        awareness = replace(population.awareness, p=min(p, 1.0), q=q)
        pop = replace(population, sample_size=sample, awareness=awareness)
        return _run_days(pop, days, seed).log.columns["new_users"].astype(float)  # real-market counts

    start = (max(population.awareness.p, 1e-6), max(population.awareness.q, 1e-3))
    p, q, fitted = fit_bass(new_users, simulate_new, start, max_evaluations=max_evaluations)
    table = pd.DataFrame({"day": np.arange(days), "observed": new_users, "fitted": fitted, "error": fitted - new_users})
    pop = replace(population, awareness=replace(population.awareness, p=min(p, 1.0), q=q))
    return pop, {"p": min(p, 1.0), "q": q}, table


#: Days simulated per survival period when a survival fit becomes a population (the grid of the refit).
SURVIVAL_GRID_PERIODS = 3
#: Bounds of a, b and c of the daily BdW refit of a fit with periods longer than a day.
REFIT_LOWER = (1e-3, 1e-3, 0.05)
REFIT_UPPER = (1e3, 1e6, 20.0)
#: How the commands name the survival models.
SURVIVAL_MODEL_NAMES = {"sbg": "sBG", "bdw": "BdW"}


def population_from_survival(
    fit: SurvivalFit,
    base: PopulationConfig,
    *,
    name: str,
    market_size: int,
    sample_size: int | None,
    period_days: int,
) -> PopulationConfig:
    """A one-segment population whose latent survival is the fitted S(t) of a survival table.

    A period of ``period_days`` days: the fitted S(t) (t in periods) is matched on days
    0 … P·T·:data:`SURVIVAL_GRID_PERIODS` by a beta-discrete-Weibull in days,
    S_day(d) = B(a', b' + d^c')/B(a', b') (least squares in log space, scipy); with
    P = 1 the fit's own (a, b, c) are used as they are (the refit starts from them moved into
    its bounds, :data:`REFIT_LOWER` … :data:`REFIT_UPPER`: a fit at a bound of its own parameter
    space lies outside them). Visits, habit, monetisation and
    everything else come from ``base``'s first segment; resurrection is switched off
    (the survival table counts users who left for good).
    """
    from scipy.optimize import least_squares

    a, b, c = fit.params_["a"], fit.params_["b"], fit.params_.get("c", 1.0)
    if period_days != 1:
        periods = np.arange(0, SURVIVAL_GRID_PERIODS * fit.periods_fitted + 1)
        days = np.arange(0, period_days * periods.max() + 1)
        target = survival_curve(days / period_days, a, b, c)

        def gap(log_abc: np.ndarray) -> np.ndarray:
            aa, bb, cc = np.exp(log_abc)
            return np.log(survival_curve(days, aa, bb, cc)) - np.log(target)

        low, high = np.log(REFIT_LOWER), np.log(REFIT_UPPER)
        start = np.clip(np.log([a, b * period_days**c, c]), low, high)
        res = least_squares(gap, start, bounds=(low, high))
        a, b, c = (float(v) for v in np.exp(res.x))
    template = next(iter(base.segments.values()))
    segment = replace(template, weight=1.0, churn=ChurnConfig(a=a, b=b, c=c))
    return replace(
        base,
        name=name,
        market_size=market_size,
        sample_size=sample_size,
        resurrection_rate=0.0,
        segments={"subscribers": segment},
        trait_sampling="fast",
    )


def _population_text(population: PopulationConfig, header: list[str]) -> str:
    """YAML of a population with a comment header; checked against the schema before it is returned."""
    node = OmegaConf.structured(population)
    text = "".join(f"# {line}\n" for line in header) + OmegaConf.to_yaml(node)
    loaded = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(PopulationConfig), OmegaConf.create(text)))
    check_population(loaded)
    return text


def _chi2_text(s: dict[str, Any], *, p: bool) -> str:
    """The goodness of fit as the log and the preset header say it (``s``: :meth:`PopulationFit.to_dict`)."""
    if s["chi2_p"] is None:  # as many independent directions fitted as statistics
        n, r = s["statistics"], s["independent_combinations"]
        return (
            f"chi2 not tested: no degrees of freedom left ({n} statistic{'s' if n != 1 else ''}, "
            f"{r} independent combination{'s' if r != 1 else ''} of the parameters fitted)"
        )
    tail = f", p = {s['chi2_p']:.2g}" if p else ""
    return f"chi2 {s['chi2']:.1f} (expected {s['chi2_expected']:.1f} ± {s['chi2_sd']:.1f}{tail})"


def population_yaml(cal: Calibration, source: str, run: str) -> str:
    """The calibrated population as YAML, with a header saying where it came from and how sure it is."""
    s = cal.to_dict()
    lines = [
        f"Calibrated by opsim-calibrate from {source}",
        f"{counted(s['statistics'], 'statistic')} (classic/rolling retention by day); RMSE {s['rmse']:.4f}, {_chi2_text(s, p=True)}",
    ]
    if cal.fit.identification:
        lines.append(f"WARNING: {cal.fit.identification}")
    for key, value in cal.params_.items():
        low, high = cal.fit.intervals_[key]
        note = "" if cal.fit.identified[key] else "  (not identified by the table)"
        lines.append(f"  {key} = {value:.4g}  [95 % {low:.4g} … {high:.4g}]{note}")
    lines += ["everything else comes from the base preset", f"run it: {run}"]
    return _population_text(cal.population, lines)


def _png(table: pd.DataFrame, title: str, *, fitted_label: str = "simulated (calibrated)") -> Callable[[Path], None]:
    fig = calibration_figure(table, title, fitted_label=fitted_label)
    return lambda p: save_png(fig, p)


def _survival_outputs(
    table: SurvivalTable, report: Path, holdout: int | None
) -> tuple[dict[str, Any], dict[Path, Callable[[Path], None]], dict[str, SurvivalFit]]:
    fits = {
        m: fit_survival(table.survival, model=m, cohort_size=table.cohort_size, holdout_from=holdout)
        for m in ("sbg", "bdw")
    }
    out = {"source": table.path, "cohort_size": table.cohort_size, "fits": {m: f.to_dict() for m, f in fits.items()}}
    frame = pd.DataFrame({"period": table.period, "observed": table.survival})
    for m, f in fits.items():
        frame[f"fitted_{m}"] = f.survival(table.period)
    plot = frame.rename(columns={"fitted_sbg": "fitted"})[["period", "observed", "fitted"]]
    title = f"sBG fit to {Path(table.path).name}" + (f" (fitted on periods 1-{holdout})" if holdout else "")
    files = {
        report / "survival_fit.json": json_writer(out),
        report / "survival_fit.csv": csv_writer(frame),
        report / "survival_fit.png": _png(plot, title, fitted_label="sBG"),
    }
    return out, files, fits


def survival_fit_line(model: str, fit: SurvivalFit) -> str:
    """The line the command prints for one survival fit: parameters, standard errors (or why none), LL.

    A standard error that is NaN (no cohort size, a fit at a bound, a flat likelihood) is not
    printed as ``SE nan``: the line ends with ``SE: none (<why>)`` instead.
    """
    missing = [k for k, se in fit.std_errors_.items() if not np.isfinite(se)]
    params = ", ".join(
        f"{k}={v:.4g}" + ("" if k in missing else f" (SE {fit.std_errors_[k]:.3g})") for k, v in fit.params_.items()
    )
    line = f"{model}: {params}; log-likelihood {fit.log_likelihood_:.2f}"
    if missing:
        which = "" if len(missing) == len(fit.params_) else f" for {', '.join(missing)}"
        line += f"; SE: none{which} ({fit.std_errors_missing})"
    return line


def bound_warning(source: str, fits: dict[str, SurvivalFit]) -> str | None:
    """One line saying which survival fits are at a bound of the parameter space and what that means, or None.

    Args:
        source: The table's file.
        fits: The fits by model (``sbg``, ``bdw``).

    Returns:
        The warning (without the ``opsim-calibrate: warning:`` prefix), or None when every fit
        has an interior maximum.

    """
    bounded = {m: f for m, f in fits.items() if f.bounded}
    if not bounded:
        return None
    names = " and ".join(SURVIVAL_MODEL_NAMES[m] for m in bounded)
    fit_s, run_s = ("fits", "run") if len(bounded) > 1 else ("fit", "runs")
    where = "; ".join(
        f"{SURVIVAL_MODEL_NAMES[m]} " + ", ".join(f"{k} = {v:.4g}" for k, v in f.params_.items())
        for m, f in bounded.items()
    )
    why = next((f.no_maximum for f in bounded.values() if f.no_maximum), "")
    cause = (
        f"{why}, so the likelihood" if why else "the likelihood (of a table shape the model reaches only in the limit)"
    )
    return (
        f"{source}: {cause} has no maximum inside the parameter space and the {names} {fit_s} {run_s} to a bound "
        f"of it ({where}): the parameters are where the fit stopped, not estimates, they have no standard "
        "errors, and projections from them are not forecasts"
    )


def run_command(out: Path) -> str:
    """The ``opsim`` command that runs the population written to ``out`` (``<dir>/population/<name>.yaml``)."""
    return preset_run_command(out, "population")


def _check_out(out: Path) -> None:
    if out.suffix != ".yaml":  # opsim refuses a .yml preset (Hydra's deprecated suffix): refused before the fit
        raise ConfigError("--out", str(out), "a .yaml file (not .yml), e.g. conf/population/myapp.yaml")
    if out.parent.name != "population":
        raise ConfigError(
            "--out",
            str(out),
            "a file in a folder named population (<config dir>/population/<name>.yaml), so that "
            "opsim finds it as population=<name>",
        )
    if not PRESET_NAME.match(out.stem):
        raise ConfigError("--out", str(out), "a file name of letters, digits, _ and - (it becomes population=<name>)")
    check_writable("--out", out, folder=False)


def _check_runs(text: str, out: Path) -> None:
    """Compose the written preset through Hydra exactly as ``opsim population=<name>`` will."""
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "population" / out.name
        target.parent.mkdir()
        target.write_text(text, encoding="utf-8")
        load_config(compose([f"population={out.stem}"], extra_dir=tmp))


def _bounded(option: str, value: float | None, low: float, allowed: str, high: float | None = None) -> None:
    if value is not None and (value < low or (high is not None and value > high)):
        raise ConfigError(option, value, allowed)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="opsim-calibrate",
        description="Fit opsim to your retention data: a cohort table (long or wide export) gives a population "
        "config with intervals; a survival table gives sBG/BdW fits. `opsim-calibrate lift AB.yaml` fits a "
        "lever's effect to an A/B result.",
    )
    parser.add_argument(
        "data", help="CSV: cohort,day,cohort_size,active[,rolling] | date,users,day 0,day 1,… | period,survival"
    )
    parser.add_argument("--out", help="population YAML to write: <config dir>/population/<name>.yaml")
    parser.add_argument("--report", help="folder for the fit report (default: next to --out, or ./calibration)")
    parser.add_argument("--format", default="auto", choices=FORMATS, help="layout of the data file (default: detect)")
    parser.add_argument("--values", default="auto", choices=VALUE_KINDS, help="wide exports: how cells are written")
    parser.add_argument("--measure", default="classic", choices=MEASURES, help="wide exports: classic or rolling")
    parser.add_argument("--base", default="consumer_app", help="preset for the segments' structure and the rest")
    parser.add_argument(
        "--market-size",
        type=int,
        help="M of the written population: the real market (required with --out; never taken from the base)",
    )
    parser.add_argument(
        "--sample-size",
        type=int,
        help=f"N simulated users of the written population (default: all M up to {DEFAULT_MAX_SAMPLE:,})",
    )
    parser.add_argument(
        "--cohort-users", type=int, default=DEFAULT_COHORT_USERS, help="cohort tables: simulated users per evaluation"
    )
    parser.add_argument(
        "--max-iterations", type=int, default=30, help="cohort tables: least-squares iterations at most"
    )
    parser.add_argument(
        "--forecast-days", type=int, default=DEFAULT_FORECAST_DAYS, help="cohort tables: forecast D1 … D<F>"
    )
    parser.add_argument("--seed", type=int, default=0, help="cohort tables: seed of the simulated users")
    parser.add_argument("--holdout", type=int, help="survival tables: fit periods 1..K, project the rest")
    parser.add_argument("--period-days", type=int, default=1, help="survival tables with --out: days per period")
    parser.add_argument("--new-users", help="cohort tables: CSV day,new_users, also fit Bass p and q (awareness) to it")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def _check_options(args: argparse.Namespace) -> None:
    _bounded("--market-size", args.market_size, 1, "the real market of the product, a whole number >= 1")
    _bounded("--sample-size", args.sample_size, 1, "a whole number >= 1 (at most --market-size are simulated)")
    _bounded(
        "--cohort-users",
        args.cohort_users,
        MIN_USERS_PER_SEGMENT,
        f"a whole number >= {MIN_USERS_PER_SEGMENT} per segment of --base (>= {2 * MIN_USERS_PER_SEGMENT} for the presets)",
    )
    _bounded("--max-iterations", args.max_iterations, 1, "a whole number >= 1")
    _bounded("--forecast-days", args.forecast_days, 1, f"a whole number 1 … {MAX_FORECAST_DAYS}", MAX_FORECAST_DAYS)
    _bounded("--seed", args.seed, 0, "a whole number >= 0")
    _bounded("--holdout", args.holdout, 2, "a whole number >= 2")
    _bounded("--period-days", args.period_days, 1, "a whole number >= 1")
    if args.sample_size is not None and args.market_size is not None and args.sample_size > args.market_size:
        # the preset said sample_size: 5000 for a market of 1000; opsim simulates at most M users
        raise ConfigError(
            "--sample-size", args.sample_size, f"a whole number from 1 to --market-size ({args.market_size:,})"
        )
    if args.out:
        _check_out(Path(args.out))
        if args.market_size is None:
            raise UsageError(
                "--market-size is missing: with --out it is required, the real market of the product "
                "(a whole number >= 1), for the preset written"
            )
    if args.report:
        check_writable("--report", Path(args.report), folder=True)


#: Options that apply to some tables only: the option's dest → (the tables it applies to, said for the user).
#: A survival table is fitted by maximum likelihood (nothing simulated); the other options apply to every table.
APPLIES_TO: dict[str, tuple[frozenset[str], str]] = {
    **dict.fromkeys(("values", "measure"), (frozenset({"wide"}), "wide exports (date,users,day 0,day 1,…)")),
    "holdout": (frozenset({"survival"}), "survival tables (period,survival)"),
    "period_days": (frozenset({"survival"}), "survival tables (period,survival), with --out"),
    **dict.fromkeys(
        ("cohort_users", "max_iterations", "forecast_days", "seed", "new_users"),
        (frozenset({"long", "wide"}), "cohort tables (long or wide): a survival table's fits simulate nothing"),
    ),
}
#: Options that a survival table uses only with ``--out`` (the population written from its BdW fit).
SURVIVAL_OUT_OPTIONS = ("period_days", "base", "market_size", "sample_size")


def given_options(parser: argparse.ArgumentParser, args: argparse.Namespace, argv: list[str]) -> set[str]:
    """The dests of the options ``argv`` gives (a value equal to the default counts as given).

    argparse fills in a default only where the namespace has no value yet, so ``argv`` is parsed
    again into a namespace whose every dest holds a marker: the dests that lose it were given.

    Args:
        parser: The command's parser.
        args: ``argv`` parsed by ``parser`` (for the dests).
        argv: The command line.

    Returns:
        The dests of the options on the command line.

    """
    unset = object()
    probe = parser.parse_args(argv, namespace=argparse.Namespace(**dict.fromkeys(vars(args), unset)))
    return {dest for dest, value in vars(probe).items() if value is not unset}


def table_kind(data: CohortTable | SurvivalTable, fmt: str) -> str:
    """``survival``, ``long`` or ``wide``: the layout ``data`` was read from (``fmt``: ``--format``).

    A detected cohort table's layout is its header's, by the rule that read it
    (:func:`~sim.analysis.retention_data.table_layout`).
    """
    if isinstance(data, SurvivalTable):
        return "survival"
    if fmt != "auto":
        return fmt
    header = pd.read_csv(data.path, dtype=str, nrows=0, skipinitialspace=True)
    return table_layout(header.columns) or "wide"


def _refuse_options_that_do_not_apply(args: argparse.Namespace, given: set[str], kind: str) -> None:
    """Refuse an option the table does not use (it was silently ignored), naming where it applies.

    Raises:
        ConfigError: For the first option given that does not apply to a ``kind`` table.

    """
    what = {"survival": "a survival table", "long": "a long cohort table", "wide": "a wide export"}[kind]
    for dest in sorted(given):
        option, value = f"--{dest.replace('_', '-')}", getattr(args, dest)
        if dest in APPLIES_TO and kind not in APPLIES_TO[dest][0]:
            raise ConfigError(option, value, f"{args.data} is {what}; {option} applies only to {APPLIES_TO[dest][1]}")
        if kind == "survival" and dest in SURVIVAL_OUT_OPTIONS and not args.out:
            raise ConfigError(
                option,
                value,
                f"{args.data} is a survival table and no --out is given; {option} applies only with --out "
                "(the population written from the BdW fit)",
            )


def _default_sample(market_size: int, sample_size: int | None) -> int | None:
    if sample_size is not None:
        return sample_size
    return None if market_size <= DEFAULT_MAX_SAMPLE else DEFAULT_MAX_SAMPLE


def _run_survival(
    args: argparse.Namespace, data: SurvivalTable
) -> tuple[dict[Path, Callable[[Path], None]], list[str]]:
    out = Path(args.out) if args.out else None
    report = (
        Path(args.report) if args.report else (out.parent / f"{out.stem}_calibration" if out else Path("calibration"))
    )
    if not args.report:
        check_writable("--report", report, folder=True)
    if args.holdout is not None and args.holdout > data.period.size - 1:
        raise ConfigError("--holdout", args.holdout, f"2 … {data.period.size - 1} (the table's last period)")
    summary, files, fits = _survival_outputs(data, report, args.holdout)
    lines = []
    warning = bound_warning(data.path, fits)
    if warning:
        lines.append(f"opsim-calibrate: warning: {warning}")
    for m, f in summary["fits"].items():
        lines.append(survival_fit_line(m, fits[m]))
        for h in f["holdout"]:
            lines.append(
                f"  period {h['period']}: observed {h['observed']:.4f}, projected {h['projected']:.4f}, error {h['error']:+.4f}"
            )
    if out is not None:
        base = load_config([f"population={args.base}"]).population
        population = population_from_survival(
            fits["bdw"],
            base,
            name=out.stem,
            market_size=args.market_size,
            sample_size=_default_sample(args.market_size, args.sample_size),
            period_days=args.period_days,
        )
        run = run_command(out)
        c = population.segments["subscribers"].churn
        text = _population_text(
            population,
            [
                f"From the beta-discrete-Weibull fit of opsim-calibrate to {data.path} ({args.period_days} day(s) a period)",
                f"latent survival S(d) = B(a, b + d^c)/B(a, b) with a = {c.a:.4g}, b = {c.b:.4g}, c = {c.c:.4g} (d in days)",
                *([f"WARNING: {warning}"] if warning else []),
                "visits, habit, monetisation and the funnel come from the base preset",
                f"run it: {run}",
            ],
        )
        _check_runs(text, out)
        files[out] = text_writer(text)
        lines += [f"population: {out}", f"run it: {run}"]
    lines.append(f"report: {report}")
    return files, lines


def _run_cohorts(args: argparse.Namespace, data: CohortTable) -> tuple[dict[Path, Callable[[Path], None]], list[str]]:
    if not args.out:
        raise DataError(args.data, "give --out <config dir>/population/<name>.yaml for the calibrated population")
    out = Path(args.out)
    name = out.stem
    report = Path(args.report) if args.report else out.parent / f"{name}_calibration"
    if not args.report:
        check_writable("--report", report, folder=True)
    base = load_config([f"population={args.base}"]).population
    new_users = read_new_users_csv(args.new_users) if args.new_users else None
    started = time.perf_counter()
    cal = calibrate_population(
        data,
        base=base,
        name=name,
        market_size=args.market_size,
        sample_size=_default_sample(args.market_size, args.sample_size),
        cohort_users=args.cohort_users,
        seed=args.seed,
        max_iterations=args.max_iterations,
        forecast_days=args.forecast_days,
        progress=not args.no_progress,
    )
    files: dict[Path, Callable[[Path], None]] = {}
    lines = []
    if new_users is not None:
        population, pq, acq_table = calibrate_acquisition(cal.population, new_users, seed=args.seed)
        cal.population = population
        files[report / "acquisition.csv"] = csv_writer(acq_table)
        rmse = float(np.sqrt(np.mean(acq_table["error"] ** 2)))
        lines.append(f"acquisition: p = {pq['p']:.3g}, q = {pq['q']:.3g} per day; RMSE {rmse:.1f} new users a day")
    run = run_command(out)
    text = population_yaml(cal, args.data, run)
    _check_runs(text, out)
    fit = cal.fit
    files[out] = text_writer(text)
    files[report / "calibration.csv"] = csv_writer(cal.table)
    if cal.rolling is not None:
        files[report / "calibration_rolling.csv"] = csv_writer(cal.rolling)
    files[report / "calibration.json"] = json_writer({"source": args.data, **cal.to_dict()})
    title = f"Calibration of {name} to {Path(args.data).name}"
    files[report / "calibration.png"] = _png(cal.table, title)
    s = cal.to_dict()
    lines.insert(
        0,
        f"calibrated {name} in {time.perf_counter() - started:.0f} s ({s['simulations']} segment simulations): "
        f"{counted(s['statistics'], 'statistic')}, RMSE {s['rmse']:.4f}, {_chi2_text(s, p=False)}",
    )
    for key, value in cal.params_.items():
        low, high = fit.intervals_[key]
        note = "   not identified by this table" if not fit.identified[key] else ""
        lines.insert(len(lines), f"  {key:<22} {value:>9.4g}   95 % [{low:.4g}, {high:.4g}]{note}")
    if fit.not_identified:
        lines.append(
            f"not identified (the table does not pin them down; kept where the fit left them): {', '.join(fit.not_identified)}"
        )
    lines += [f"population: {out}   report: {report}", f"run it: {run}"]
    if fit.warning:
        lines.insert(0, f"opsim-calibrate: warning: {fit.warning}")
    if fit.identification:
        lines.insert(0, f"opsim-calibrate: warning: {fit.identification}")
    return files, lines


def main(argv: list[str] | None = None) -> int:
    """``opsim-calibrate DATA.csv --out <dir>/population/NAME.yaml --market-size M`` (or ``lift AB.yaml``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["lift"]:
        return lift_main(argv[1:])
    parser = one_line_usage_errors(_parser())
    args = parser.parse_args(argv)
    given = given_options(parser, args, argv)
    writing = False
    try:
        _check_options(args)
        data = read_retention_csv(args.data, fmt=args.format, values=args.values, measure=args.measure)
        _refuse_options_that_do_not_apply(args, given, table_kind(data, args.format))
        if isinstance(data, SurvivalTable):
            files, lines = _run_survival(args, data)
        else:
            files, lines = _run_cohorts(args, data)
        writing = True
        write_all(files)
    except BaseException as exc:
        return stopped("opsim-calibrate", exc, writing=writing)
    for line in lines:
        print(line, file=sys.stderr if line.startswith("opsim-calibrate: warning") else sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
