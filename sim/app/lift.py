"""``opsim-calibrate lift AB.yaml``: fit a lever's effect parameters to a measured A/B result.

The A/B file (format: :mod:`sim.analysis.lift`) names the lever, its settings in
the test and the measured outcomes. Both arms are simulated as cohorts acquired
over a week (:func:`sim.core.cohorts.simulate_cohorts`) from a calibrated
population (``--population``: a preset name or a population YAML, e.g. the one
``opsim-calibrate`` wrote), the treatment arm with the lever switched on from the
first day, on common random numbers; the lever's effect parameters are fitted by
:func:`sim.analysis.lift.fit_lift`. The result is written as a strategy YAML with
the lever at its tested settings and the fitted effect, which ``opsim`` runs.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import fields, is_dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException
from tqdm import tqdm

from sim.analysis.calibration import NOT_IDENTIFIED_SPAN
from sim.analysis.lift import REPLICATES, ABResult, LiftFit, fit_lift, read_ab_result
from sim.analysis.retention_data import DataError
from sim.app.config import compose, config_dir, load_config
from sim.app.exits import one_line_usage_errors
from sim.app.preflight import PRESET_NAME, check_writable, csv_writer, json_writer, stopped, text_writer
from sim.base.errors import ConfigError, shown_value
from sim.base.schema import check_ranges
from sim.core.cohorts import CohortRun, simulate_cohorts
from sim.core.population import PopulationConfig, check_population
from sim.levers.strategy import StrategyConfig, build_levers, check_strategy
from sim.output.figures import lift_figure, save_png
from sim.output.files import write_all

__all__ = ["LIFT_PARAMETERS", "LiftCalibration", "calibrate_lift", "load_population", "main"]

#: Levers whose effect an A/B test on acquired users can measure: effect parameter → coordinate
#: transform (``log1p`` for lifts >= 0, ``log`` for multipliers > 0, ``logit`` for probabilities);
#: the first is fitted when the file does not say.
LIFT_PARAMETERS: dict[str, dict[str, str]] = {
    "push": {"visit_lift": "log1p", "fatigue_churn": "log1p", "opt_out_per_fatigue": "logit"},
    "onboarding": {"hazard_multiplier": "log"},
    "content": {"hazard_multiplier": "log", "visit_multiplier": "log"},
    "incentives": {"visit_lift": "log1p", "post_stop_drop": "log1p"},
    "winback": {"response_alive": "logit", "resurrect_dead": "logit"},
}
#: Default simulated users per arm.
DEFAULT_ARM_USERS = 60_000


def load_population(spec: str) -> PopulationConfig:
    """A population from a preset name (``conf/population/<name>.yaml``) or a population YAML file."""
    path = Path(spec)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise ConfigError("--population", spec, "a preset name or an existing population YAML file")
        try:
            merged = OmegaConf.merge(OmegaConf.structured(PopulationConfig), OmegaConf.load(path))
            population = OmegaConf.to_object(merged)
        except OmegaConfBaseException as exc:
            raise ConfigError("--population", spec, f"a population YAML ({' '.join(str(exc).split())[:200]})") from None
        check_population(population, key=f"{spec}:population")
        return population
    return load_config([f"population={spec}"]).population


def _metric_values(ab: ABResult, run: CohortRun) -> np.ndarray:
    size = run.cohort_active[:, 0].sum()
    out = []
    for m in ab.metrics:
        if m.day is not None:
            out.append(run.cohort_active[:, m.day].sum() / size)
        elif m.metric == "visits":
            out.append(run.cohort_active[:, 1 : m.window_days + 1].sum() / size)
        elif m.metric == "purchases":
            out.append(run.cohort_purchases[:, : m.window_days + 1].sum() / size)
        else:
            out.append(run.cohort_revenue[:, : m.window_days + 1].sum() / size)
    return np.array(out, dtype=float)


def _check_setting_keys(ab: ABResult, settings: Mapping[str, Any], schema: type, key: str) -> None:
    """Every key of ``settings`` a field of the lever's config (``schema``), nested blocks as mappings.

    Raises:
        DataError: ``<file>: settings.<key>=<value> is not allowed: …`` with the allowed keys.

    """
    allowed = [f.name for f in fields(schema)]
    where = f"{ab.lever}{key.removeprefix('settings')}"  # push, push.schedule
    for name, value in settings.items():
        full = f"{key}.{name}"
        if name not in allowed:
            raise DataError(
                ab.path, f"{full}={value!r} is not allowed: not a setting of {where}; one of {', '.join(allowed)}"
            )
        sub = getattr(schema(), name)
        if is_dataclass(sub):
            if not isinstance(value, Mapping):
                inner = ", ".join(f.name for f in fields(sub))
                raise DataError(ab.path, f"{full}={value!r} is not allowed: a mapping of {inner}")
            _check_setting_keys(ab, value, type(sub), full)


#: A key of OmegaConf's error path: a name, then any list positions (``days_of_week[0]``).
_KEY_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _setting(settings: Mapping[str, Any], dotted: str) -> Any:
    """The value at a key of the settings as OmegaConf names it (``schedule.days_of_week[0]``; None where none)."""
    value: Any = settings
    for name, index in _KEY_PART.findall(dotted):
        if name:
            value = value.get(name) if isinstance(value, Mapping) else None
        else:
            value = value[int(index)] if isinstance(value, list) and int(index) < len(value) else None
    return value


def _strategy(ab: ABResult, effects: dict[str, float], name: str = "measured") -> StrategyConfig:
    """A strategy with only the tested lever on, at its settings and the given effect parameters.

    Raises:
        DataError: A setting the lever does not have, or of the wrong type, named as the A/B file
            has it (``settings.<key>=<value> is not allowed: …``).

    """
    _check_setting_keys(ab, ab.settings, type(getattr(StrategyConfig(), ab.lever)), "settings")
    block = {**ab.settings, **effects, "enabled": True}
    try:
        node = OmegaConf.merge(OmegaConf.structured(StrategyConfig), {"name": name, ab.lever: block})
        strategy = OmegaConf.to_object(node)
    except OmegaConfBaseException as exc:  # a value of the wrong type: 'two' for a number
        key = (getattr(exc, "full_key", "") or "").removeprefix(f"{ab.lever}.")
        reason = str(getattr(exc, "msg", "") or exc).splitlines()[0].strip()
        if key:
            raise DataError(
                ab.path, f"settings.{key}={_setting(block, key)!r} is not allowed: {reason[:200]}"
            ) from None
        raise DataError(ab.path, f"settings is not allowed: {reason[:200]}") from None
    return strategy


class LiftCalibration:
    """Result of :func:`calibrate_lift`: the fit, the strategy it implies and the response curve."""

    def __init__(self, ab: ABResult, fit: LiftFit, strategy: StrategyConfig, curve: pd.DataFrame) -> None:
        self.ab, self.fit, self.strategy, self.curve = ab, fit, strategy, curve

    def table(self) -> pd.DataFrame:
        """Per metric: observed arms, observed and fitted relative lift."""
        f = self.fit
        return pd.DataFrame(
            {
                "metric": [m.metric for m in self.ab.metrics],
                "control_observed": [m.control.value for m in self.ab.metrics],
                "treatment_observed": [m.treatment.value for m in self.ab.metrics],
                "lift_observed": np.expm1(f.observed_lift),
                "lift_observed_low": np.expm1(f.observed_lift - 1.96 * f.observed_se),
                "lift_observed_high": np.expm1(f.observed_lift + 1.96 * f.observed_se),
                "lift_fitted": np.expm1(f.fitted_lift),
                "control_simulated": f.control_simulated,
            }
        )


#: Points of the response curve (simulated lift against the first fitted parameter) in the report.
CURVE_POINTS = 9


def calibrate_lift(
    ab: ABResult,
    population: PopulationConfig,
    *,
    arm_users: int = DEFAULT_ARM_USERS,
    seed: int = 0,
    progress: bool = False,
) -> LiftCalibration:
    """Fit the effect parameters of an A/B-tested lever on top of a population.

    Args:
        ab: The A/B result.
        population: The (calibrated) population the test ran on.
        arm_users: Simulated users per arm.
        seed: Seed of the common random numbers.
        progress: Show a progress bar (stderr).

    Returns:
        The calibration.

    """
    allowed = LIFT_PARAMETERS[ab.lever]
    for name in ab.fit:
        if name not in allowed:
            raise DataError(
                ab.path, f"fit: {name!r} is not an effect parameter of {ab.lever}: one of {', '.join(allowed)}"
            )
        if name in ab.settings:
            raise DataError(ab.path, f"settings.{name} is also in fit: a fitted parameter has no setting")
    defaults = getattr(StrategyConfig(), ab.lever)
    start = {name: float(getattr(defaults, name)) for name in ab.fit}
    start_strategy = _strategy(ab, start)
    try:  # the tested settings, before any simulation
        check_ranges(start_strategy, "strategy")
        check_strategy(start_strategy, list(population.segments))
    except ConfigError as exc:  # named as the A/B file has it: settings.messages_per_week, not strategy.push.…
        name = exc.key.removeprefix(f"strategy.{ab.lever}.")
        if name == exc.key or name.split(".")[0] not in ab.settings:
            raise
        raise DataError(ab.path, f"settings.{name}={shown_value(exc.value)} is not allowed: {exc.allowed}") from None
    days = ab.last_day
    controls: dict[int, np.ndarray] = {}

    def arm(strategy: StrategyConfig | None, s: int) -> np.ndarray:
        levers = build_levers(strategy) if strategy is not None else ()
        return _metric_values(
            ab, simulate_cohorts(population, arm_users, days, s, levers=levers, record_activity=False)
        )

    def simulate(effects: dict[str, float], s: int) -> tuple[np.ndarray, np.ndarray]:
        if s not in controls:
            controls[s] = arm(None, s)
        return controls[s], arm(_strategy(ab, effects), s)

    with tqdm(
        total=20 + REPLICATES + CURVE_POINTS, desc="lift", unit="sim", disable=not progress, file=sys.stderr
    ) as bar:
        fit = fit_lift(ab, simulate, allowed, start, seed=seed, progress=bar.update)
        first = ab.fit[0]
        low, high = fit.intervals_[first]
        grid = np.unique(
            np.concatenate(
                [np.linspace(min(low, fit.params_[first]) * 0.5, max(high, fit.params_[first]) * 1.5, CURVE_POINTS)]
            )
        )
        rows = []
        for value in grid:
            effects = {**fit.params_, first: float(value)}
            control, treatment = simulate(effects, seed)
            bar.update(1)
            rows.append(
                {
                    first: float(value),
                    **{
                        f"lift_{m.metric}": float(t / c - 1)
                        for m, c, t in zip(ab.metrics, control, treatment, strict=True)
                    },
                }
            )
        bar.total = bar.n
        bar.refresh()
    strategy = _strategy(ab, fit.params_)
    check_ranges(strategy, "strategy")
    check_strategy(strategy, list(population.segments))
    return LiftCalibration(ab, fit, strategy, pd.DataFrame(rows))


def _strategy_yaml(cal: LiftCalibration, name: str, population: str, run: str) -> str:
    ab, fit = cal.ab, cal.fit
    block: dict[str, Any] = {"enabled": True, **ab.settings}
    block.update({k: float(f"{v:.6g}") for k, v in fit.params_.items()})
    lines = [
        f"Calibrated by opsim-calibrate lift from {ab.path} on population {population}",
        *(
            f"  {k} = {v:.4g}  [95 % {fit.intervals_[k][0]:.4g} … {fit.intervals_[k][1]:.4g}]"
            + ("" if fit.identified[k] else "  (not identified by the test)")
            for k, v in fit.params_.items()
        ),
        *(
            f"  {m.metric}: observed lift {np.expm1(o):+.1%} (± {1.96 * s:.1%}), simulated {np.expm1(f):+.1%}"
            for m, o, s, f in zip(ab.metrics, fit.observed_lift, fit.observed_se, fit.fitted_lift, strict=True)
        ),
        f"run it: {run}",
    ]
    body = {
        "name": name,
        "description": f"{ab.lever} as A/B-tested ({Path(ab.path).name}), effect fitted",
        ab.lever: block,
    }
    text = "".join(f"# {line}\n" for line in lines) + OmegaConf.to_yaml(OmegaConf.create(body))
    return text


def _config_folder(out: Path, population: str) -> Path | None:
    """The --config-dir both the strategy and (a file) population live in; None: opsim's own conf/."""
    folder = out.resolve().parent.parent
    if population.endswith((".yaml", ".yml")):
        pop = Path(population)
        pop_folder = pop.resolve().parent.parent
        if pop.parent.name != "population" or pop_folder not in (folder, config_dir().resolve()):
            raise ConfigError(
                "--population",
                population,
                f"a preset name, or a file <dir>/population/<name>.yaml in the same <dir> as --out ({folder})",
            )
    return None if folder == config_dir().resolve() else folder


def _run_command(out: Path, population: str) -> str:
    folder = _config_folder(out, population)
    pop = Path(population).stem if population.endswith((".yaml", ".yml")) else population
    base = "opsim" if folder is None else f"opsim --config-dir {shlex.quote(str(folder))}"
    return f"{base} population={pop} strategy={out.stem}"


def _check_runs(text: str, out: Path, population: str) -> None:
    """Compose the written strategy through Hydra as the printed command will, and validate it."""
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "strategy" / out.name
        target.parent.mkdir()
        target.write_text(text, encoding="utf-8")
        pop = population
        if population.endswith((".yaml", ".yml")):
            pop = Path(population).stem
            (Path(tmp) / "population").mkdir()
            (Path(tmp) / "population" / Path(population).name).write_text(
                Path(population).read_text(encoding="utf-8"), encoding="utf-8"
            )
        load_config(compose([f"population={pop}", f"strategy={out.stem}"], extra_dir=tmp))


def main(argv: list[str] | None = None) -> int:
    """``opsim-calibrate lift AB.yaml --population NAME|FILE --out <dir>/strategy/NAME.yaml``."""
    parser = argparse.ArgumentParser(
        prog="opsim-calibrate lift",
        description="Fit a lever's effect parameters to an A/B result (format: experiments/calibration/push_ab.yaml).",
    )
    parser.add_argument("ab", help="A/B result YAML: lever, settings, fit, metrics")
    parser.add_argument("--population", required=True, help="preset name or population YAML the test ran on")
    parser.add_argument("--out", required=True, help="strategy YAML to write: <config dir>/strategy/<name>.yaml")
    parser.add_argument("--report", help="folder for the report (default: next to --out)")
    parser.add_argument("--arm-users", type=int, default=DEFAULT_ARM_USERS, help="simulated users per arm")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true")
    args = one_line_usage_errors(parser).parse_args(argv)
    writing = False
    try:
        out = Path(args.out)
        if out.suffix != ".yaml":  # opsim refuses a .yml preset (Hydra's deprecated suffix): refused before the fit
            raise ConfigError("--out", args.out, "a .yaml file (not .yml), e.g. conf/strategy/push_measured.yaml")
        if out.parent.name != "strategy" or not PRESET_NAME.match(out.stem):
            raise ConfigError(
                "--out", args.out, "<config dir>/strategy/<name>.yaml (letters, digits, _ and - in the name)"
            )
        if args.arm_users < 100:
            raise ConfigError("--arm-users", args.arm_users, "a whole number >= 100")
        if args.seed < 0:
            raise ConfigError("--seed", args.seed, "a whole number >= 0")
        check_writable("--out", out, folder=False)
        report = Path(args.report) if args.report else out.parent / f"{out.stem}_lift"
        check_writable("--report", report, folder=True)
        ab = read_ab_result(args.ab, {k: [next(iter(v))] for k, v in LIFT_PARAMETERS.items()})
        population = load_population(args.population)
        cal = calibrate_lift(
            ab, replace(population), arm_users=args.arm_users, seed=args.seed, progress=not args.no_progress
        )
        run = _run_command(out, args.population)
        text = _strategy_yaml(cal, out.stem, args.population, run)
        _check_runs(text, out, args.population)
        first = ab.fit[0]
        fig = lift_figure(
            cal.curve,
            cal.table(),
            first,
            title=f"{ab.lever}: {', '.join(ab.fit)} from {Path(ab.path).name}",
            fitted=(cal.fit.params_[first], *cal.fit.intervals_[first]),
        )
        files: dict[Path, Callable[[Path], None]] = {
            out: text_writer(text),
            report / "lift.csv": csv_writer(cal.table()),
            report / "lift_curve.csv": csv_writer(cal.curve),
            report / "lift.json": json_writer(
                {"source": ab.path, "lever": ab.lever, "settings": ab.settings, **cal.fit.to_dict()}
            ),
            report / "lift.png": lambda p: save_png(fig, p),
        }
        writing = True
        write_all(files)
    except BaseException as exc:
        return stopped("opsim-calibrate", exc, writing=writing)
    for k, v in cal.fit.params_.items():
        low, high = cal.fit.intervals_[k]
        note = "   not identified by this test" if not cal.fit.identified[k] else ""
        print(f"{ab.lever}.{k} = {v:.4g}   95 % [{low:.4g}, {high:.4g}]{note}")
    for m, o, s, f in zip(ab.metrics, cal.fit.observed_lift, cal.fit.observed_se, cal.fit.fitted_lift, strict=True):
        print(f"  {m.metric}: observed lift {np.expm1(o):+.2%} (95 % ± {1.96 * s:.2%}), simulated {np.expm1(f):+.2%}")
    if cal.fit.not_identified:
        print(
            f"not identified (the test does not pin them down: interval wider than a factor of {NOT_IDENTIFIED_SPAN:g}; "
            f"more users or metrics narrow it): {', '.join(f'{ab.lever}.{k}' for k in cal.fit.not_identified)}"
        )
    print(f"strategy: {out}   report: {report}")
    print(f"run it: {run}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
