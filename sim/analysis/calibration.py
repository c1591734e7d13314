"""Calibration algorithms: fit a simulator's parameters to observed retention and new users.

These functions know nothing about the simulator: they are handed a function
that simulates a curve for given parameters and a seed (common random numbers: the
same seed in every evaluation), and they minimise a misfit with scipy.

**Retention** (:func:`fit_retention`): the observed pooled classic retention
D_1 … D_N with binomial standard errors SE_obs is matched by minimising

    χ² = Σ_N (D̂_N − D_N)² / (SE_obs,N² + D̂_N (1 − D̂_N) / n_sim)

(n_sim simulated users per evaluation) with Nelder–Mead over the packed
parameters x (:func:`pack`, :func:`unpack`: logits of the five shares, logs of
habit strength κ and tenure exponent c). The band is the range of D̂_N over
other seeds.

**Acquisition** (:func:`fit_bass`): simulated daily new users n̂_t(p, q) match the
observed n_t by minimising Σ_t (n̂_t − n_t)² / max(n_t, 1) (Poisson-weighted) over
log p, log q with Nelder–Mead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, logit

__all__ = [
    "CHURN_CONCENTRATION",
    "PARAMETERS",
    "VISIT_CONCENTRATION",
    "CurveFit",
    "fit_bass",
    "fit_retention",
    "pack",
    "unpack",
]

#: Beta concentration a + b of the churn hazard θ per calibrated segment.
CHURN_CONCENTRATION = {"casual": 4.0, "core": 30.0}
#: Beta concentration α + β of the visit propensity π per calibrated segment.
VISIT_CONCENTRATION = {"casual": 4.0, "core": 6.0}
PARAMETERS = (
    "core_weight",
    "casual_churn_mean",
    "core_churn_mean",
    "casual_visit_mean",
    "core_visit_mean",
    "habit_strength",
    "churn_c",
)
#: Shares are kept this far from 0 and 1 before the logit; habit strength above this floor before the log.
SHARE_CLIP = 1e-4
HABIT_FLOOR = 1e-3
#: Nelder–Mead tolerances on the packed parameters and on the objective.
XATOL = FATOL = 1e-3
#: Added to every variance so a simulated share of exactly 0 or 1 does not divide by zero.
VARIANCE_FLOOR = 1e-12

SimulateCurve = Callable[[dict[str, float], int], np.ndarray]


def unpack(x: np.ndarray) -> dict[str, float]:
    """Packed optimiser coordinates → the seven named parameters."""
    w, cc, kc, cv, kv = expit(x[:5])
    return {
        "core_weight": float(w),
        "casual_churn_mean": float(cc),
        "core_churn_mean": float(kc),
        "casual_visit_mean": float(cv),
        "core_visit_mean": float(kv),
        "habit_strength": float(np.exp(x[5])),
        "churn_c": float(np.exp(x[6])),
    }


def pack(p: dict[str, float]) -> np.ndarray:
    """The seven named parameters → packed optimiser coordinates."""

    def clip(v: float) -> float:
        return float(np.clip(v, SHARE_CLIP, 1 - SHARE_CLIP))

    shares = [logit(clip(p[k])) for k in PARAMETERS[:5]]
    return np.array([*shares, np.log(max(p["habit_strength"], HABIT_FLOOR)), np.log(p["churn_c"])])


@dataclass
class CurveFit:
    """Result of :func:`fit_retention`.

    Attributes:
        params_: The fitted parameters.
        fitted: D̂ at the fitted parameters (fit seed).
        band_low: Lowest D̂ over the other seeds.
        band_high: Highest D̂ over the other seeds.
        chi2_: χ² at the optimum.
        evaluations: Objective evaluations.

    """

    params_: dict[str, float]
    fitted: np.ndarray
    band_low: np.ndarray
    band_high: np.ndarray
    chi2_: float
    evaluations: int


def fit_retention(
    target: np.ndarray,
    se_obs: np.ndarray,
    simulate: SimulateCurve,
    start: dict[str, float],
    *,
    users: int,
    seed: int,
    band_seeds: int,
    max_evaluations: int,
) -> CurveFit:
    """Minimise χ² between ``simulate(params, seed)`` and the observed retention ``target``."""
    evaluations = 0

    def chi2(x: np.ndarray) -> float:
        nonlocal evaluations
        evaluations += 1
        sim = simulate(unpack(x), seed)
        var = se_obs**2 + sim * (1 - sim) / users + VARIANCE_FLOOR
        return float(np.sum((sim - target) ** 2 / var))

    res = minimize(
        chi2, pack(start), method="Nelder-Mead", options={"maxfev": max_evaluations, "xatol": XATOL, "fatol": FATOL}
    )
    params = unpack(res.x)
    fitted = simulate(params, seed)
    band = np.array([simulate(params, seed + 1 + k) for k in range(band_seeds)]) if band_seeds else fitted[None, :]
    return CurveFit(params, fitted, band.min(axis=0), band.max(axis=0), float(res.fun), evaluations)


def fit_bass(
    new_users: np.ndarray,
    simulate: Callable[[float, float], np.ndarray],
    start: tuple[float, float],
    *,
    max_evaluations: int,
) -> tuple[float, float, np.ndarray]:
    """Fit Bass innovation p and imitation q: returns (p, q, simulated new users at the fit)."""

    def loss(log_pq: np.ndarray) -> float:
        p, q = np.exp(log_pq)
        return float(np.sum((simulate(float(p), float(q)) - new_users) ** 2 / np.maximum(new_users, 1.0)))

    res = minimize(
        loss, np.log(start), method="Nelder-Mead", options={"maxfev": max_evaluations, "xatol": XATOL, "fatol": FATOL}
    )
    p, q = (float(v) for v in np.exp(res.x))
    return p, q, simulate(p, q)
