"""Maximum-likelihood fits of the shifted-beta-geometric and beta-discrete-Weibull models.

A cohort of n customers; s_t = share still active at the start of period t
(s_0 = 1). With S(t) = B(a, b + t^c) / B(a, b) (c = 1: sBG, Fader & Hardie 2007;
c free: BdW, Fader et al. 2018), the log-likelihood of periods 1 … T is

    LL(a, b, c) = Σ_{t=1}^{T} n (s_{t−1} − s_t) · ln(S(t−1) − S(t)) + n s_T · ln S(T).

Parameters are estimated in log space (a, b, c > 0) with L-BFGS-B from several
starting points; standard errors come from the inverse of the observed
information (the negative Hessian of LL in log space, by central differences),
mapped to natural scale by the delta method (se(a) = a · se(ln a)). Without a
cohort size the point estimates are the same (n only scales LL) but standard
errors are not available.

Hold-out mode fits periods 1 … k and projects k + 1 … T.

The log parameters are bounded (ln a, ln b in [−10, 10], ln c in [−3, 3]); a fit that ends on
a bound (``at_bound``) did not find an interior maximum: the data do not identify the
model (e.g. shares that rise, which make some "churn counts" n (s_{t−1} − s_t) negative and
the objective no likelihood), and a projection from it is not an estimate.

Some tables have no interior maximum whatever the optimiser does (``no_maximum``, from the
shares alone): when no one churns after period 1 (s_1 = s_T: no one at all, everyone in
period 1, or a share in period 1 and none after), LL rises towards its supremum
n (1 − s_1) ln(1 − s_1) + n s_1 ln s_1 only as S(t) tends to s_1 for every t >= 1, which a
beta mixture reaches only in the limit (a/b → 0, b/a → 0, or a, b → 0; c → 0 for BdW). The
optimiser then stops on a bound or, without a cohort size (LL per user, flatter), short of it.
Either way the parameters are where the fit stopped and have no standard errors.

The fits run with BLAS limited to one thread (:data:`FIT_BLAS_THREADS`, through
``threadpoolctl``): L-BFGS-B on two or three parameters calls BLAS on vectors of that
length, where a multi-threaded OpenBLAS only wakes and waits for its threads — on a
busy 2-core machine a fit took 0.1–0.3 s that way and 10–20 ms with one thread. The
estimates are the same (tested).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.special import betaln
from threadpoolctl import ThreadpoolController

__all__ = ["SurvivalFit", "fit_survival", "no_maximum", "survival_curve"]

MODELS = ("sbg", "bdw")
#: BLAS threads while fitting: the vectors are 2–3 long, so more threads only add waiting.
FIT_BLAS_THREADS = 1
_STARTS = ((0.0, 0.0, 0.0), (-1.0, 1.0, 0.0), (1.0, 2.0, -0.3), (-0.5, 0.5, 0.3))
#: Bounds of ln a, ln b, ln c for the optimiser (c in [0.05, 20]).
LOG_BOUNDS = ((-10.0, 10.0), (-10.0, 10.0), (-3.0, 3.0))
#: A log parameter this close to a bound counts as on it (L-BFGS-B stops within ~1e-8 of it).
BOUND_TOLERANCE = 1e-6
#: Why a fit has no standard errors (``SurvivalFit.std_errors_missing``).
NO_COHORT_SIZE = "the table has no cohort_size, which standard errors need"
AT_A_BOUND = "the fit is at a bound of the parameter space, where the likelihood has no curvature to measure"
FLAT = "the likelihood is flat there or not at a maximum"


@cache
def _thread_pools() -> ThreadpoolController:
    """The process's BLAS and OpenMP thread pools, found once (finding them scans the loaded libraries: ~10 ms)."""
    return ThreadpoolController()


def survival_curve(t: np.ndarray, a: float, b: float, c: float = 1.0) -> np.ndarray:
    """S(t) = B(a, b + t^c) / B(a, b)."""
    t = np.asarray(t, dtype=float)
    return np.exp(betaln(a, b + t**c) - betaln(a, b))


def no_maximum(fitted: np.ndarray) -> str:
    """Why the likelihood of survival shares s_0 = 1, …, s_k has no maximum inside the parameter space, or "".

    No churn after period 1 (s_1 = s_k, see the module's docstring) makes the fit run to a bound.
    """
    k, first, last = fitted.size - 1, float(fitted[1]), float(fitted[-1])
    if last == 1.0:
        return f"no one churned in periods 1-{k}"
    if first == 0.0:
        return "everyone churned in period 1"
    if first == last:
        return f"every churn is in period 1 and none in periods 2-{k}"
    return ""


def _loglik(log_params: np.ndarray, survival: np.ndarray, n: float, free_c: bool) -> float:
    a, b = np.exp(log_params[:2])
    c = float(np.exp(log_params[2])) if free_c else 1.0
    t = np.arange(survival.size)
    s_model = survival_curve(t, a, b, c)
    churn_model = np.clip(s_model[:-1] - s_model[1:], 1e-300, None)
    churned = n * (survival[:-1] - survival[1:])
    return float(np.sum(churned * np.log(churn_model)) + n * survival[-1] * np.log(max(s_model[-1], 1e-300)))


def _hessian(f, x: np.ndarray, h: float = 1e-4) -> np.ndarray:
    k = x.size
    hess = np.empty((k, k))
    for i in range(k):
        for j in range(k):
            e_i, e_j = np.eye(k)[i] * h, np.eye(k)[j] * h
            hess[i, j] = (f(x + e_i + e_j) - f(x + e_i - e_j) - f(x - e_i + e_j) + f(x - e_i - e_j)) / (4 * h * h)
    return hess


@dataclass
class SurvivalFit:
    """A fitted survival model (attributes with a trailing underscore are estimates).

    Attributes:
        model: ``sbg`` or ``bdw``.
        params_: a, b (and c for BdW).
        std_errors_: Standard errors of ``params_`` (NaN where there is none: see ``std_errors_missing``).
        log_likelihood_: LL at the estimate.
        periods_fitted: Number of periods used (T, or k in hold-out mode).
        observed: The survival shares given (all periods).
        holdout: Per held-out period: observed, projected and error (projected − observed).
        at_bound: Parameters whose estimate sits on the optimiser's bound (:data:`LOG_BOUNDS`):
            no interior maximum, the fit is not to be used for projections.
        no_maximum: Why the shares fitted give the likelihood no maximum inside the parameter
            space (:func:`no_maximum`), or "": the fit runs to a bound whether or not it reached it.
        std_errors_missing: Why some or all standard errors are NaN (:data:`NO_COHORT_SIZE`,
            :data:`AT_A_BOUND`, :data:`FLAT`), or "" when every one is there.

    """

    model: str
    params_: dict[str, float]
    std_errors_: dict[str, float]
    log_likelihood_: float
    periods_fitted: int
    observed: np.ndarray
    holdout: list[dict[str, float]] = field(default_factory=list)
    at_bound: list[str] = field(default_factory=list)
    no_maximum: str = ""
    std_errors_missing: str = ""

    @property
    def bounded(self) -> bool:
        """Whether the fit is at (or runs to) a bound of the parameter space: no estimate, no projection."""
        return bool(self.at_bound or self.no_maximum)

    def survival(self, t: np.ndarray | int) -> np.ndarray:
        """Fitted S(t)."""
        p = self.params_
        return survival_curve(np.asarray(t), p["a"], p["b"], p.get("c", 1.0))

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON reports."""
        return {
            "model": self.model,
            "params": self.params_,
            "std_errors": self.std_errors_,
            "log_likelihood": self.log_likelihood_,
            "periods_fitted": self.periods_fitted,
            "holdout": self.holdout,
            "at_bound": self.at_bound,
            "no_maximum": self.no_maximum or None,
            "std_errors_missing": self.std_errors_missing or None,
        }


def fit_survival(
    survival: np.ndarray, *, model: str = "sbg", cohort_size: int | None = None, holdout_from: int | None = None
) -> SurvivalFit:
    """Fit sBG (``model="sbg"``) or BdW (``"bdw"``) to survival shares s_0 = 1, s_1, …, s_T.

    Args:
        survival: Shares at the start of periods 0 … T.
        model: ``sbg`` or ``bdw``.
        cohort_size: n, for standard errors and the LL scale.
        holdout_from: Fit periods 1 … k only (k = holdout_from) and project the rest.

    Returns:
        The fit.

    """
    if model not in MODELS:
        raise ValueError(f"model={model!r} is not allowed: one of {', '.join(MODELS)}")
    survival = np.asarray(survival, dtype=float)
    k = survival.size - 1 if holdout_from is None else int(holdout_from)
    if not 2 <= k <= survival.size - 1:
        raise ValueError(f"holdout_from={holdout_from} is not allowed: 2 … {survival.size - 1}")
    fitted = survival[: k + 1]
    n = float(cohort_size) if cohort_size else 1.0
    free_c = model == "bdw"
    dims = 3 if free_c else 2
    with _thread_pools().limit(limits=FIT_BLAS_THREADS, user_api="blas"):
        return _fit(survival, fitted, model, k, n, cohort_size, free_c, dims)


def _fit(
    survival: np.ndarray,
    fitted: np.ndarray,
    model: str,
    k: int,
    n: float,
    cohort_size: int | None,
    free_c: bool,
    dims: int,
) -> SurvivalFit:
    """The maximum-likelihood fit of :func:`fit_survival` (its arguments checked and prepared)."""

    def nll(x: np.ndarray) -> float:
        value = -_loglik(x, fitted, n, free_c)
        return value if np.isfinite(value) else 1e300

    best = None
    for start in _STARTS:
        bounds = list(LOG_BOUNDS[:dims])
        with np.errstate(over="ignore", invalid="ignore"):
            res = minimize(nll, np.array(start[:dims]), method="L-BFGS-B", bounds=bounds)
        if best is None or res.fun < best.fun:
            best = res
    x = best.x
    names = ["a", "b", "c"][:dims]
    params = {name: float(np.exp(v)) for name, v in zip(names, x, strict=True)}
    at_bound = [
        name
        for name, v, (low, high) in zip(names, x, LOG_BOUNDS, strict=False)
        if min(v - low, high - v) <= BOUND_TOLERANCE
    ]
    why_not = no_maximum(fitted)
    std, missing = _std_errors(nll, x, params, cohort_size, bounded=bool(at_bound or why_not))
    fit = SurvivalFit(
        model,
        params,
        std,
        -float(best.fun),
        k,
        survival,
        at_bound=at_bound,
        no_maximum=why_not,
        std_errors_missing=missing,
    )
    if k < survival.size - 1:
        t = np.arange(k + 1, survival.size)
        projected = fit.survival(t)
        fit.holdout = [
            {"period": int(p), "observed": float(o), "projected": float(q), "error": float(q - o)}
            for p, o, q in zip(t, survival[k + 1 :], projected, strict=True)
        ]
    return fit


def _std_errors(
    nll: Callable[[np.ndarray], float],
    x: np.ndarray,
    params: dict[str, float],
    cohort_size: int | None,
    *,
    bounded: bool,
) -> tuple[dict[str, float], str]:
    """Standard errors of ``params`` (the estimate ``x`` in log space), NaN where there is none, and why.

    Returns:
        The standard errors and the reason some or all are NaN ("" when none is).

    """
    nan = dict.fromkeys(params, float("nan"))
    if not cohort_size:
        return nan, NO_COHORT_SIZE
    if bounded:
        return nan, AT_A_BOUND
    try:
        cov = np.linalg.inv(_hessian(nll, x))
    except np.linalg.LinAlgError:
        return nan, FLAT
    # A variance <= 0 means the likelihood is flat or not at a maximum there: no SE.
    std = {
        name: float(params[name] * np.sqrt(cov[i, i])) if cov[i, i] > 0 else float("nan")
        for i, name in enumerate(params)
    }
    return std, FLAT if any(np.isnan(v) for v in std.values()) else ""
