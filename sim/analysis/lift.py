"""Lift calibration: fit a lever's effect parameters to a measured A/B result.

**Input** (YAML, example ``experiments/calibration/push_ab.yaml``)::

    lever: push                      # the strategy key of the lever tested
    settings: {messages_per_week: 2} # the lever as it ran in the test (strategy.<lever> keys)
    fit: [visit_lift]                # effect parameters to fit (default: the lever's main one)
    metrics:                         # one or more measured outcomes
      - metric: d7                   # d<N>: classic retention on day N; visits, purchases, revenue: per user
        window_days: 7               # visits: tenure days 1 … W; purchases, revenue: days 0 … W
        control:   {users: 50000, value: 0.110}
        treatment: {users: 50000, value: 0.124}
        # sd: the per-user standard deviation in each arm (required for visits, purchases, revenue)

**Model.** Both arms are simulated on the same users with the same seed (common
random numbers): the control arm without the lever, the treatment arm with it, the
settings given and effect parameters φ. The measured quantity is the relative lift
ℓ = log(T / C) of each metric, so a population whose control level differs a
little from the test's still gets the relative effect right. Its observed value
has variance SE_T²/T² + SE_C²/C² (binomial SE for d<N>, sd/√users otherwise).

**Fit.** Weighted least squares of ℓ̂(φ) − ℓ over the metrics (scipy
``least_squares``, trust region, on the transformed coordinates of φ given by
``transforms``: ``log`` for multipliers, ``log1p`` for lifts, ``logit`` for
probabilities). The simulation's own noise in ℓ̂ is measured by
:data:`REPLICATES` further seeds at the fit and added to each metric's variance v;
the interval is x̂ ± 1.96·√V, V = (JᵀV⁻¹J)⁻¹ in the transformed coordinate (J by
central differences under common random numbers), mapped back. With one metric
and one parameter the fitted lift equals the observed one and the interval is the
observed lift's interval carried through the simulated response. A parameter is **not
identified** by the test by the rule of population calibration
(:func:`sim.analysis.calibration.not_identified_se`): its interval spans more than a factor of
:data:`~sim.analysis.calibration.NOT_IDENTIFIED_SPAN` in its coordinate (a multiplier in its
value, a lift ℓ in 1 + ℓ, a probability in its odds), or is unbounded (the simulated lifts do
not move with it: a singular information matrix).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from scipy.optimize import least_squares
from scipy.special import expit, logit
from scipy.stats import norm

from sim.analysis.calibration import not_identified_se
from sim.analysis.retention_data import DataError

__all__ = ["REPLICATES", "ABMetric", "ABResult", "Arm", "LiftFit", "fit_lift", "read_ab_result"]

#: Further seeds run at the fit to measure the simulation's noise in the lift.
REPLICATES = 4
#: Forward-difference step of the Jacobian during the fit, in the transformed coordinate.
DIFF_STEP = 0.1
#: Central-difference half step of the Jacobian behind the interval (a small step picks up the
#: jumps of common-random-number simulations and narrows the interval; see
#: :data:`sim.analysis.calibration.INTERVAL_STEP`).
INTERVAL_STEP = 0.2
CONFIDENCE = 0.95
#: Metrics an A/B result may report.
METRIC = re.compile(r"^(d(\d+)|visits|purchases|revenue)$")
TRANSFORMS = ("log", "log1p", "logit")
#: Coordinate bounds: multipliers and lifts within e^±8, probabilities within logit ±12.
LOG_BOUND = 8.0
LOGIT_BOUND = 12.0


@dataclass
class Arm:
    """One arm of the test: users, the metric's value, and (for per-user means) its per-user SD."""

    users: int
    value: float
    sd: float | None = None


@dataclass
class ABMetric:
    """A measured outcome in both arms."""

    metric: str
    window_days: int
    control: Arm
    treatment: Arm

    @property
    def day(self) -> int | None:
        """N of a d<N> metric (None for per-user means)."""
        m = METRIC.match(self.metric)
        return int(m.group(2)) if m and m.group(2) else None

    @property
    def last_day(self) -> int:
        """Last tenure day the metric needs."""
        return self.day if self.day is not None else self.window_days

    def arm_se(self, arm: Arm) -> float:
        """Standard error of an arm's value."""
        if self.day is not None:
            return math.sqrt(arm.value * (1 - arm.value) / arm.users)
        return float(arm.sd) / math.sqrt(arm.users)

    @property
    def lift(self) -> float:
        """Observed relative lift log(T / C)."""
        return math.log(self.treatment.value / self.control.value)

    @property
    def lift_se(self) -> float:
        """Its standard error (delta method)."""
        c, t = self.control, self.treatment
        return math.sqrt((self.arm_se(t) / t.value) ** 2 + (self.arm_se(c) / c.value) ** 2)


@dataclass
class ABResult:
    """A validated A/B result."""

    path: str
    lever: str
    settings: dict[str, Any]
    fit: list[str]
    metrics: list[ABMetric] = field(default_factory=list)

    @property
    def last_day(self) -> int:
        """Last tenure day any metric needs."""
        return max(m.last_day for m in self.metrics)


def _number(
    path: str, key: str, value: Any, *, integer: bool = False, low: float = 0.0, high: float | None = None
) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok and integer:
        ok = float(value).is_integer()
    if not ok or value < low or (high is not None and value > high):
        what = "a whole number" if integer else "a number"
        bound = f" > {low}" if low > 0 and not integer else f" >= {low:g}"
        limit = f" and <= {high:g}" if high is not None else ""
        raise DataError(path, f"{key}={value!r} is not allowed: {what}{bound}{limit}")
    return float(value)


def _arm(path: str, key: str, raw: Any, metric: str, is_share: bool) -> Arm:
    if not isinstance(raw, Mapping):
        raise DataError(path, f"{key} is not allowed: a mapping with users, value (and sd for {metric})")
    unknown = set(raw) - {"users", "value", "sd"}
    if unknown:
        raise DataError(path, f"{key}.{sorted(unknown)[0]} is not allowed: unknown key; expected users, value, sd")
    for need in ("users", "value"):
        if need not in raw:
            raise DataError(path, f"{key}.{need} is missing")
    users = int(_number(path, f"{key}.users", raw["users"], integer=True, low=1))
    value = _number(path, f"{key}.value", raw["value"], low=0.0, high=1.0 if is_share else None)
    if value <= 0 or (is_share and value >= 1):
        raise DataError(
            path, f"{key}.value={value!r} is not allowed: strictly between 0 and {'1' if is_share else 'infinity'}"
        )
    sd = None
    if not is_share:
        if "sd" not in raw:
            raise DataError(path, f"{key}.sd is missing: the per-user standard deviation of {metric} in this arm")
        sd = _number(path, f"{key}.sd", raw["sd"], low=0.0)
        if sd <= 0:
            raise DataError(path, f"{key}.sd={sd!r} is not allowed: a number > 0")
    return Arm(users, value, sd)


def read_ab_result(path: str | Path, default_fit: Mapping[str, list[str]]) -> ABResult:
    """Read and check an A/B result file (format in the module docstring).

    Args:
        path: The YAML file.
        default_fit: Per lever, the effect parameters fitted when ``fit`` is not given
            (its keys are the levers that can be calibrated).

    Raises:
        DataError: Naming the file and the key of the first problem.

    """
    where = str(path)
    p = Path(path)
    if not p.is_file():
        raise DataError(where, "no such file")
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise DataError(where, f"not a readable YAML file ({' '.join(str(exc).split())})") from None
    if not isinstance(raw, Mapping):
        raise DataError(where, "expected a mapping with lever, settings, fit and metrics")
    unknown = set(raw) - {"lever", "settings", "fit", "metrics", "description"}
    if unknown:
        raise DataError(
            where, f"{sorted(unknown)[0]} is not allowed: unknown key; expected lever, settings, fit, metrics"
        )
    lever = raw.get("lever")
    if lever not in default_fit:
        raise DataError(where, f"lever={lever!r} is not allowed: one of {', '.join(default_fit)}")
    settings = raw.get("settings") or {}
    if not isinstance(settings, Mapping):
        raise DataError(where, f"settings={settings!r} is not allowed: a mapping of strategy.{lever} keys")
    fit = raw.get("fit", default_fit[lever])
    if isinstance(fit, str):
        fit = [fit]
    if not isinstance(fit, list) or not fit or not all(isinstance(f, str) for f in fit):
        raise DataError(where, f"fit={fit!r} is not allowed: a list of effect parameters of {lever}")
    metrics_raw = raw.get("metrics")
    if not isinstance(metrics_raw, list) or not metrics_raw:
        raise DataError(where, "metrics is missing: a list of measured outcomes (metric, control, treatment)")
    metrics = []
    for i, m in enumerate(metrics_raw):
        key = f"metrics[{i}]"
        if not isinstance(m, Mapping):
            raise DataError(where, f"{key} is not allowed: a mapping with metric, control, treatment")
        unknown = set(m) - {"metric", "window_days", "control", "treatment"}
        if unknown:
            raise DataError(where, f"{key}.{sorted(unknown)[0]} is not allowed: unknown key")
        name = str(m.get("metric", "")).strip().lower()
        match = METRIC.match(name)
        if not match:
            raise DataError(
                where, f"{key}.metric={m.get('metric')!r} is not allowed: d<N> (e.g. d7), visits, purchases or revenue"
            )
        is_share = match.group(2) is not None
        if is_share and int(match.group(2)) < 1:
            raise DataError(where, f"{key}.metric={name!r} is not allowed: d<N> with N >= 1")
        window = m.get("window_days")
        if not is_share:
            if window is None:
                raise DataError(where, f"{key}.window_days is missing: the days over which {name} per user was counted")
            window = int(_number(where, f"{key}.window_days", window, integer=True, low=1))
        else:
            window = int(match.group(2))
        metrics.append(
            ABMetric(
                name,
                window,
                _arm(where, f"{key}.control", m.get("control"), name, is_share),
                _arm(where, f"{key}.treatment", m.get("treatment"), name, is_share),
            )
        )
    if len(fit) > len(metrics):
        raise DataError(
            where, f"fit has {len(fit)} parameters but metrics only {len(metrics)}: at most one parameter per metric"
        )
    return ABResult(where, str(lever), dict(settings), list(fit), metrics)


def _to_x(value: float, transform: str) -> float:
    if transform == "log":
        return math.log(max(value, 1e-12))
    if transform == "log1p":
        return math.log1p(max(value, 0.0))
    return float(logit(min(max(value, 1e-6), 1 - 1e-6)))


def _from_x(x: float, transform: str) -> float:
    if transform == "log":
        return math.exp(x)
    if transform == "log1p":
        return math.expm1(x)
    return float(expit(x))


def _bounds(transform: str) -> tuple[float, float]:
    if transform == "log":
        return -LOG_BOUND, LOG_BOUND
    if transform == "log1p":
        return 0.0, LOG_BOUND
    return -LOGIT_BOUND, LOGIT_BOUND


@dataclass
class LiftFit:
    """Result of :func:`fit_lift`.

    Attributes:
        params_: Fitted effect parameters.
        intervals_: Their 95 % intervals.
        observed_lift: Observed log(T/C) per metric; ``observed_se`` its SE.
        fitted_lift: Simulated log(T/C) at the fit; ``simulation_se`` its seed-to-seed SD.
        control_simulated: The simulated control level of each metric.
        simulations: Arm simulations run.
        identified: Per parameter, whether the test pins it down (interval within a factor
            of :data:`~sim.analysis.calibration.NOT_IDENTIFIED_SPAN` in its coordinate).

    """

    params_: dict[str, float]
    intervals_: dict[str, tuple[float, float]]
    observed_lift: np.ndarray
    observed_se: np.ndarray
    fitted_lift: np.ndarray
    simulation_se: np.ndarray
    control_simulated: np.ndarray
    simulations: int
    identified: dict[str, bool] = field(default_factory=dict)

    @property
    def not_identified(self) -> list[str]:
        """Parameters the test does not pin down."""
        return [k for k, ok in self.identified.items() if not ok]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the JSON report."""
        return {
            "params": self.params_,
            "intervals_95": {k: list(v) for k, v in self.intervals_.items()},
            "not_identified": self.not_identified,
            "observed_lift_log": self.observed_lift.tolist(),
            "observed_lift_se": self.observed_se.tolist(),
            "fitted_lift_log": self.fitted_lift.tolist(),
            "simulation_se": self.simulation_se.tolist(),
            "control_simulated": self.control_simulated.tolist(),
            "simulations": self.simulations,
        }


#: simulate(effect parameters, seed) → (control values, treatment values), one per metric.
SimulateArms = Callable[[dict[str, float], int], tuple[np.ndarray, np.ndarray]]


def fit_lift(
    ab: ABResult,
    simulate: SimulateArms,
    transforms: Mapping[str, str],
    start: Mapping[str, float],
    *,
    seed: int,
    max_iterations: int = 20,
    progress: Callable[[int], None] | None = None,
) -> LiftFit:
    """Fit the effect parameters ``ab.fit`` so the simulated lifts match the measured ones.

    Args:
        ab: The A/B result.
        simulate: Simulates both arms for given effect parameters and a seed.
        transforms: Per fitted parameter, ``log``, ``log1p`` or ``logit``.
        start: Start values of the fitted parameters.
        seed: Seed of the common random numbers.
        max_iterations: Most least-squares iterations.
        progress: Called with the number of arm simulations just run.

    Returns:
        The fit.

    """
    tick = progress or (lambda _n: None)
    names = list(ab.fit)
    kinds = [transforms[n] for n in names]
    observed = np.array([m.lift for m in ab.metrics])
    obs_se = np.array([m.lift_se for m in ab.metrics])
    runs = 0
    cache: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}

    def arms(x: np.ndarray, s: int) -> tuple[np.ndarray, np.ndarray]:
        nonlocal runs
        key = (s, *np.round(x, 12))
        if key not in cache:
            cache[key] = simulate({n: _from_x(v, k) for n, v, k in zip(names, x, kinds, strict=True)}, s)
            runs += 1
            tick(1)
        return cache[key]

    def lift(x: np.ndarray, s: int) -> np.ndarray:
        control, treatment = arms(x, s)
        return np.log(np.maximum(treatment, 1e-300) / np.maximum(control, 1e-300))

    lo, hi = np.array([_bounds(k)[0] for k in kinds]), np.array([_bounds(k)[1] for k in kinds])
    x0 = np.clip([_to_x(start[n], k) for n, k in zip(names, kinds, strict=True)], lo + 1e-9, hi - 1e-9)

    def jacobian(x: np.ndarray, s: int, step: float = DIFF_STEP, central: bool = False) -> np.ndarray:
        base = lift(x, s)
        jac = np.zeros((observed.size, x.size))
        for j in range(x.size):
            up, down = min(x[j] + step, hi[j]), (max(x[j] - step, lo[j]) if central else x[j])
            if up <= down:
                up, down = x[j], max(x[j] - step, lo[j])
            high, low = x.copy(), x.copy()
            high[j], low[j] = up, down
            jac[:, j] = (lift(high, s) - (base if down == x[j] else lift(low, s))) / (up - down)
        return jac

    res = least_squares(
        lambda x: (lift(x, seed) - observed) / obs_se,
        x0,
        jac=lambda x: jacobian(x, seed) / obs_se[:, None],
        bounds=(lo, hi),
        method="trf",
        max_nfev=max_iterations,
    )
    x = res.x
    fitted = lift(x, seed)
    replicate = np.array([lift(x, seed + 1 + r) for r in range(REPLICATES)])
    sim_se = replicate.std(axis=0, ddof=1) if REPLICATES > 1 else np.zeros_like(fitted)
    variance = obs_se**2 + sim_se**2
    jac = jacobian(x, seed, INTERVAL_STEP, central=True)
    info = jac.T @ (jac / variance[:, None])
    cov = np.linalg.pinv(info) if np.linalg.matrix_rank(info) == x.size else np.full((x.size, x.size), np.inf)
    z = float(norm.ppf(0.5 + CONFIDENCE / 2))
    params, intervals, identified = {}, {}, {}
    for j, (n, k) in enumerate(zip(names, kinds, strict=True)):
        se = math.sqrt(max(cov[j, j], 0.0)) if math.isfinite(cov[j, j]) else math.inf
        identified[n] = se <= not_identified_se(z)  # the population calibration's rule
        a = max(x[j] - z * se, lo[j]) if math.isfinite(se) else lo[j]
        b = min(x[j] + z * se, hi[j]) if math.isfinite(se) else hi[j]
        params[n] = _from_x(x[j], k)
        intervals[n] = (_from_x(a, k), _from_x(b, k))
    control, _treatment = arms(x, seed)
    return LiftFit(params, intervals, observed, obs_se, fitted, sim_se, control, runs, identified)
