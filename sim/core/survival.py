"""Latent death and natural resurrection.

Each acquired user carries a churn hazard θ_i ~ Beta(a, b). Alive at the start
of tenure day τ (day 0 is the acquisition day), the user dies at the end of it
with probability

    P(die on τ | alive) = 1 − (1 − θ_i)^((τ+1)^c − τ^c)

(``segments.<s>.churn.c``; c = 1 gives the constant θ_i of the sBG model), so
without resurrection (``resurrection_rate`` = 0) the survival is
S(τ) = E[(1 − θ)^(τ^c)] = B(a, b + τ^c) / B(a, b): shifted-beta-geometric for
c = 1, beta-discrete-Weibull otherwise. With resurrection, S(τ) is the share
never dead; the share alive is higher. Levers multiply this probability by
their hazard multiplier (capped at 1).

A latent-dead acquired user comes back to life with probability r per day
(``resurrection_rate``, times the levers' multiplier). Both decisions use the
slot's ``survival`` uniform u_s (die if alive and u_s < P(die); revive if dead
and u_s < r).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.base.schema import MAX_MULTIPLIER, bounded

__all__ = ["MAX_EXPONENT_STEP", "ChurnConfig", "death_probability", "exponent_steps"]

#: Largest step Δ = (τ+1)^c − τ^c stored. A float32 θ < 1 has |ln(1 − θ)| < 17, so
#: Δ · ln(1 − θ) stays below float32's largest number (3.4·10^38); a larger Δ changes no
#: death probability above θ = 10^-35 (each is 1 already). A large c overflowed the float32
#: table to inf (c above about 11 at the longest horizon, 3650 days), or to NaN where (τ+1)^c
#: and τ^c both overflowed float64 (c above about 86).
MAX_EXPONENT_STEP = 1e37


@dataclass
class ChurnConfig:
    """Latent churn hazard θ ~ Beta(a, b) with tenure exponent c (``segments.<s>.churn``).

    Without resurrection, alive at tenure day t with probability
    S(t) = B(a, b + t^c) / B(a, b) (shifted-beta-geometric when c = 1,
    beta-discrete-Weibull otherwise).
    """

    a: float = bounded(1.0, gt=0)
    b: float = bounded(10.0, gt=0)
    c: float = bounded(1.0, gt=0, le=MAX_MULTIPLIER)


def exponent_steps(churn_c: np.ndarray, horizon_days: int) -> np.ndarray | None:
    """Table Δ[s, τ] = (τ+1)^c_s − τ^c_s for τ = 0 … horizon (at most :data:`MAX_EXPONENT_STEP`), or None if all c = 1."""
    if np.all(churn_c == 1.0):
        return None
    tau = np.arange(horizon_days + 1, dtype=np.float64)
    c = churn_c[:, None]
    with np.errstate(over="ignore", invalid="ignore"):  # a large c: inf, or inf − inf = NaN, both "huge"
        steps = (tau + 1) ** c - tau**c
    steps = np.nan_to_num(steps, nan=MAX_EXPONENT_STEP, posinf=MAX_EXPONENT_STEP)
    return np.minimum(steps, MAX_EXPONENT_STEP).astype(np.float32)


def death_probability(
    churn_hazard: np.ndarray,
    segment: np.ndarray,
    tenure: np.ndarray,
    steps: np.ndarray | None,
    multiplier,
) -> np.ndarray:
    """Daily death probability of each slot given its tenure (float32)."""
    if steps is None:
        q = churn_hazard
    else:
        tau = np.minimum(tenure, steps.shape[1] - 1)
        delta = steps[segment, tau]
        with np.errstate(divide="ignore"):  # θ = 1 gives log(0) = −inf and q = 1, as it should
            q = -np.expm1(delta * np.log1p(-churn_hazard))
    if np.isscalar(multiplier) and multiplier == 1.0:
        return q
    return np.minimum(q * np.float32(multiplier) if np.isscalar(multiplier) else q * multiplier, np.float32(1))
