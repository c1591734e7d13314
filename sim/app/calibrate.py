"""Calibrate the agent model to a product's own retention data; ``opsim-calibrate``.

**Cohort retention table → population config.** The observed pooled classic
retention D_1 … D_N (:meth:`sim.retention_data.CohortTable.pooled_retention`)
is matched by a two-segment population (``casual`` and ``core``) whose seven free
parameters are

    w_core, E[θ_casual], E[θ_core], E[π_casual], E[π_core], κ (habit.strength), c (churn.c, both)

(θ ~ Beta with concentration a + b = 4 for casual and 30 for core users; π ~ Beta
with a + b = 4 and 6). Each evaluation simulates one cohort of ``cohort_users``
users acquired on day 0 with a fixed seed and smooth trait sampling, so the
objective changes continuously with the parameters (common random numbers), and
scores it by

    χ² = Σ_N (D̂_N − D_N)² / (SE_obs,N² + D̂_N (1 − D̂_N) / cohort_users),

minimised by Nelder–Mead (scipy) over logit/log-transformed parameters. The
result is written as a population YAML that ``opsim population=<name>`` runs;
everything not calibrated (awareness, conversion, monetisation, lifecycle
thresholds) comes from a base preset. The report gives the fit error per day and
an uncertainty band: the range of D̂_N over ``band_seeds`` other seeds.

Optionally, daily new users (``day,new_users``) calibrate acquisition too: Bass
p and q of the awareness process are fitted by :func:`calibrate_acquisition`.

**Survival table → sBG and BdW fits** (:mod:`sim.survival_fit`), with a hold-out
projection when asked.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from sim.analysis.calibration import CHURN_CONCENTRATION, VISIT_CONCENTRATION, fit_bass, fit_retention
from sim.analysis.retention_data import CohortTable, DataError, SurvivalTable, read_new_users_csv, read_retention_csv
from sim.analysis.survival_fit import fit_survival
from sim.app.config import load_config
from sim.base.errors import ConfigError, OpsimError
from sim.core.awareness import AwarenessConfig
from sim.core.model import LifecycleModel
from sim.core.population import PopulationConfig, SegmentConfig
from sim.core.survival import ChurnConfig
from sim.core.visits import VisitConfig
from sim.output.figures import calibration_figure, save_png
from sim.output.files import write_atomic, write_json, write_text

__all__ = ["Calibration", "calibrate_acquisition", "calibrate_population", "main", "population_from"]

#: Smallest habit strength the fit starts from (a start of 0 would sit on the log-scale boundary).
START_HABIT_STRENGTH = 0.05


def population_from(
    params: dict[str, float], base: PopulationConfig, *, name: str, market_size: int
) -> PopulationConfig:
    """A two-segment population with the calibrated parameters on top of ``base``."""
    templates = list(base.segments.values())
    segments = {}
    for i, seg in enumerate(("casual", "core")):
        template = templates[min(i, len(templates) - 1)]
        churn_mean, visit_mean = params[f"{seg}_churn_mean"], params[f"{seg}_visit_mean"]
        kc, kv = CHURN_CONCENTRATION[seg], VISIT_CONCENTRATION[seg]
        segments[seg] = SegmentConfig(
            weight=params["core_weight"] if seg == "core" else 1.0 - params["core_weight"],
            churn=ChurnConfig(a=churn_mean * kc, b=(1.0 - churn_mean) * kc, c=params["churn_c"]),
            visits=VisitConfig(alpha=visit_mean * kv, beta=(1.0 - visit_mean) * kv),
            purchase_prob=template.purchase_prob,
            order_value=template.order_value,
        )
    habit = replace(base.habit, strength=params["habit_strength"])
    return replace(
        base,
        name=name,
        market_size=market_size,
        sample_size=None,
        habit=habit,
        segments=segments,
        trait_sampling="fast",
    )


def _run_days(population: PopulationConfig, days: int, seed: int) -> LifecycleModel:
    """Step an organic model of ``population`` for ``days`` days (no events recorded)."""
    model = LifecycleModel(population, horizon_days=days, seed=seed, record_events=False, agents="lazy")
    for _ in range(days):
        model.step()
    return model


def simulated_retention(pop: PopulationConfig, users: int, max_day: int, seed: int) -> np.ndarray:
    """D̂_1 … D̂_max_day of one simulated cohort: everyone aware and acquired on day 0."""
    cohort = replace(
        pop,
        market_size=users,
        sample_size=None,
        awareness=AwarenessConfig(p=1.0, q=0.0, forget_rate=0.0),
        conversion_rate=1.0,
        trait_sampling="smooth",
    )
    return _run_days(cohort, max_day + 1, seed).log.columns["dau"][1 : max_day + 1] / users


@dataclass
class Calibration:
    """Result of :func:`calibrate_population`.

    Attributes:
        population: The calibrated population config.
        params_: The seven calibrated parameters.
        table: Per day: observed, se, fitted, band_low, band_high, error.
        chi2_: χ² at the optimum; ``evaluations``: objective evaluations; ``seconds``: wall time.

    """

    population: PopulationConfig
    params_: dict[str, float]
    table: pd.DataFrame
    chi2_: float
    evaluations: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the JSON report."""
        return {
            "params": self.params_,
            "chi2": self.chi2_,
            "days": len(self.table),
            "rmse": float(np.sqrt(np.mean(self.table["error"] ** 2))),
            "max_abs_error": float(self.table["error"].abs().max()),
            "evaluations": self.evaluations,
            "seconds": self.seconds,
        }


def calibrate_population(
    data: CohortTable,
    *,
    base: str = "consumer_app",
    name: str = "calibrated",
    market_size: int,
    sample_size: int | None = None,
    cohort_users: int = 20_000,
    seed: int = 0,
    band_seeds: int = 5,
    max_evaluations: int = 400,
    max_day: int | None = None,
) -> Calibration:
    """Fit the agent model's population to an observed cohort retention table.

    Args:
        data: The validated cohort table.
        base: Population preset that supplies everything not calibrated (and the start).
        name: Name of the new population.
        market_size: M of the written population (the real market).
        sample_size: N simulated users of the written population (None: all M).
        cohort_users: Simulated cohort size per evaluation.
        seed: Seed of the common random numbers during the fit.
        band_seeds: Other seeds for the uncertainty band.
        max_evaluations: Budget of objective evaluations (Nelder-Mead).
        max_day: Calibrate on D_1 … D_max_day only.

    Returns:
        The calibration.

    """
    started = time.perf_counter()
    observed = data.pooled_retention(max_day)
    days = observed["day"].to_numpy()
    last = int(days.max())
    base_pop = load_config([f"population={base}"]).population
    segs = list(base_pop.segments.values())
    start = {
        "core_weight": segs[-1].weight / sum(s.weight for s in segs),
        "casual_churn_mean": segs[0].churn.a / (segs[0].churn.a + segs[0].churn.b),
        "core_churn_mean": segs[-1].churn.a / (segs[-1].churn.a + segs[-1].churn.b),
        "casual_visit_mean": segs[0].visits.alpha / (segs[0].visits.alpha + segs[0].visits.beta),
        "core_visit_mean": segs[-1].visits.alpha / (segs[-1].visits.alpha + segs[-1].visits.beta),
        "habit_strength": max(base_pop.habit.strength, START_HABIT_STRENGTH),
        "churn_c": 1.0,
    }
    target, se_obs = observed["retention"].to_numpy(), observed["se"].to_numpy()

    def curve(params: dict[str, float], s: int) -> np.ndarray:
        pop = population_from(params, base_pop, name=name, market_size=market_size)
        return simulated_retention(pop, cohort_users, last, s)[days - 1]

    fit = fit_retention(
        target,
        se_obs,
        curve,
        start,
        users=cohort_users,
        seed=seed,
        band_seeds=band_seeds,
        max_evaluations=max_evaluations,
    )
    population = replace(
        population_from(fit.params_, base_pop, name=name, market_size=market_size), sample_size=sample_size
    )
    table = pd.DataFrame(
        {
            "day": days,
            "observed": target,
            "observed_se": se_obs,
            "fitted": fit.fitted,
            "band_low": fit.band_low,
            "band_high": fit.band_high,
            "error": fit.fitted - target,
        }
    )
    return Calibration(population, fit.params_, table, fit.chi2_, fit.evaluations, time.perf_counter() - started)


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
    forgetting and the calibrated retention are held fixed.

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


def population_yaml(cal: Calibration, source: str) -> str:
    """The population config as YAML, with a header saying where it came from."""
    node = OmegaConf.structured(cal.population)
    summary = cal.to_dict()
    header = (
        f"# Calibrated by opsim-calibrate from {source}\n"
        f"# {summary['days']} days of classic retention; RMSE {summary['rmse']:.4f}, max |error| "
        f"{summary['max_abs_error']:.4f}, chi2 {summary['chi2']:.1f}\n"
        f"# calibrated: {', '.join(f'{k}={v:.4g}' for k, v in cal.params_.items())}\n"
        "# everything else comes from the base preset; run it with: opsim population=<this file's name>\n"
    )
    return header + OmegaConf.to_yaml(node)


def _figure(table: pd.DataFrame, title: str, path: Path, *, fitted_label: str = "simulated (calibrated)") -> None:
    fig = calibration_figure(table, title, fitted_label=fitted_label)
    write_atomic(path, lambda p: save_png(fig, p))


def _report_survival(table: SurvivalTable, report: Path, holdout: int | None) -> dict[str, Any]:
    fits = {
        m: fit_survival(table.survival, model=m, cohort_size=table.cohort_size, holdout_from=holdout)
        for m in ("sbg", "bdw")
    }
    out = {"source": table.path, "cohort_size": table.cohort_size, "fits": {m: f.to_dict() for m, f in fits.items()}}
    frame = pd.DataFrame({"period": table.period, "observed": table.survival})
    for m, f in fits.items():
        frame[f"fitted_{m}"] = f.survival(table.period)
    write_json(report / "survival_fit.json", out)
    write_atomic(report / "survival_fit.csv", lambda p: frame.to_csv(p, index=False))
    plot = frame.rename(columns={"fitted_sbg": "fitted"})[["period", "observed", "fitted"]]
    _figure(
        plot,
        f"sBG fit to {Path(table.path).name}" + (f" (fitted on periods 1-{holdout})" if holdout else ""),
        report / "survival_fit.png",
        fitted_label="sBG",
    )
    return out


def main(argv: list[str] | None = None) -> int:
    """``opsim-calibrate DATA.csv [--out conf/population/NAME.yaml] [--report DIR]``."""
    parser = argparse.ArgumentParser(
        prog="opsim-calibrate",
        description="Fit opsim to your retention data: a cohort retention table gives a population config; "
        "a survival table gives sBG/BdW fits.",
    )
    parser.add_argument("data", help="CSV: cohort,day,cohort_size,active  or  period,survival[,cohort_size]")
    parser.add_argument("--out", help="population YAML to write (cohort tables), e.g. conf/population/myapp.yaml")
    parser.add_argument("--report", help="folder for the fit report (default: next to --out, or ./calibration)")
    parser.add_argument("--base", default="consumer_app", help="preset for everything not calibrated")
    parser.add_argument(
        "--market-size",
        type=int,
        help="M of the written population: the real market (required with --out; never taken from the base)",
    )
    parser.add_argument("--sample-size", type=int, help="N simulated users of the written population (default: all M)")
    parser.add_argument("--cohort-users", type=int, default=20_000, help="simulated users per evaluation")
    parser.add_argument("--max-evaluations", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--holdout", type=int, help="survival tables: fit periods 1..K, project the rest")
    parser.add_argument("--new-users", help="optional CSV day,new_users: also fit Bass p and q (awareness) to it")
    args = parser.parse_args(argv)
    try:
        data = read_retention_csv(args.data)
        if isinstance(data, SurvivalTable):
            if args.out:
                raise DataError(args.data, "--out needs a cohort retention table (cohort,day,cohort_size,active)")
            report = Path(args.report or "calibration")
            out = _report_survival(data, report, args.holdout)
            for m, f in out["fits"].items():
                params = ", ".join(f"{k}={v:.4g} (SE {f['std_errors'][k]:.3g})" for k, v in f["params"].items())
                print(f"{m}: {params}; log-likelihood {f['log_likelihood']:.2f}")
                for h in f["holdout"]:
                    print(
                        f"  period {h['period']}: observed {h['observed']:.4f}, projected {h['projected']:.4f}, error {h['error']:+.4f}"
                    )
            print(f"report: {report}")
            return 0
        if not args.out:
            raise DataError(args.data, "give --out conf/population/<name>.yaml for the calibrated population")
        if args.market_size is None or args.market_size < 1:
            raise ConfigError("--market-size", args.market_size, "the real market of the product, a whole number >= 1")
        if args.sample_size is not None and args.sample_size < 1:
            raise ConfigError("--sample-size", args.sample_size, "a whole number >= 1 (at most --market-size are simulated)")
        out_path = Path(args.out)
        name = out_path.stem
        report = Path(args.report) if args.report else out_path.parent / f"{name}_calibration"
        cal = calibrate_population(
            data,
            base=args.base,
            name=name,
            market_size=args.market_size,
            sample_size=args.sample_size,
            cohort_users=args.cohort_users,
            seed=args.seed,
            max_evaluations=args.max_evaluations,
        )
        if args.new_users:
            new_users = read_new_users_csv(args.new_users)
            population, pq, acq_table = calibrate_acquisition(cal.population, new_users, seed=args.seed)
            cal.population = population
            cal.params_.update({"awareness_p": pq["p"], "awareness_q": pq["q"]})
            write_atomic(report / "acquisition.csv", lambda p: acq_table.to_csv(p, index=False))
            rmse = float(np.sqrt(np.mean(acq_table["error"] ** 2)))
            print(f"acquisition: p = {pq['p']:.3g}, q = {pq['q']:.3g} per day; RMSE {rmse:.1f} new users a day")
    except (OpsimError, ValueError) as exc:
        print(f"opsim-calibrate: error: {exc}", file=sys.stderr)
        return 2
    write_text(out_path, population_yaml(cal, args.data))
    write_atomic(report / "calibration.csv", lambda p: cal.table.to_csv(p, index=False))
    write_json(report / "calibration.json", cal.to_dict())
    _figure(cal.table, f"Calibration of {name} to {Path(args.data).name}", report / "calibration.png")
    s = cal.to_dict()
    print(
        f"calibrated {name} in {s['seconds']:.0f} s ({s['evaluations']} simulations): RMSE {s['rmse']:.4f}, max |error| {s['max_abs_error']:.4f}"
    )
    print(f"population: {out_path}   report: {report}")
    if out_path.parent.resolve().name == "population":
        print(f"run it: opsim population={name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
