"""Calibration algorithms: fit a segment mixture to a cohort table, with intervals; fit Bass p and q.

These functions know nothing about the simulator: they are handed a function
that simulates the users of one segment for given parameters and a seed, and they
fit with scipy. Everything here works on arrays.

**The parameters.** The population is a mixture of K segments (the base preset's
segments, names and Beta concentrations kept). The free parameters are, per
segment s, the weight w_s (Σ w_s = 1), the mean daily churn hazard E[θ_s] =
a_s/(a_s + b_s), the mean visit propensity E[π_s] = α_s/(α_s + β_s) and the tenure
exponent c_s (``segments.<s>.churn.c``), and the habit strength κ
(``habit.strength``), shared. The optimiser works on unbounded coordinates x
(:class:`ParameterSpace`): log(w_s / w_K), logit E[θ_s], logit E[π_s], log c_s, log κ.

**Simulation.** Each segment is simulated on its own (``simulate(s, params,
days, seed_s)``, a fixed seed per segment: common random numbers, traits as
quantiles of fixed uniforms), so the statistics of the mixture are
Σ_s π_s · stat_s(θ_s, κ), exactly linear in the weights; the derivatives in the
weights are analytic, and a segment's own parameters move only that segment's
simulation.

**The fit** (:func:`fit_population`) is weighted least squares of the simulated
statistics ŝ(x) (pooled classic and rolling retention over the table's design,
:class:`~sim.analysis.cohort_statistics.CohortDesign`) against the observed s:

    Q(x) = Σ_j (ŝ_j(x) − s_j)² / v_j,   v_j = p̃_j(1 − p̃_j)(1/N_j + 1/K)

minimised by scipy's trust-region least squares (``least_squares``, method
``trf``, bounds on x) with a forward-difference Jacobian built segment by
segment (step :data:`DIFF_STEP` in x). With common random numbers the simulated
statistics move smoothly with x at that scale.

**Uncertainty** — the method of simulated moments' sandwich (Gouriéroux &
Monfort 1996; McFadden 1989). Both the observed statistics and the simulated
ones are sums over independent users, so r = ŝ(x₀) − s has covariance
Ω = Ω_data + Ω_sim, computed from the simulated users' per-user covariance
(correlations between a user's days and between classic and rolling included;
:meth:`CohortDesign.data_covariance`). With W = diag(1/v),

    V = (JᵀWJ)⁻¹ JᵀWΩWJ (JᵀWJ)⁻¹

is the covariance of x̂; 95 % intervals are x̂ ± 1.96·√V_jj mapped back through the
coordinate transform (so they stay inside each parameter's range). The sandwich
is valid for any fixed weight matrix, needs no inversion of the large Ω, and
costs no simulations beyond one Jacobian (central differences, half step
:data:`INTERVAL_STEP`: see there why not a small step). A parameter whose interval spans more
than a factor of :data:`NOT_IDENTIFIED_SPAN` (in the odds of a share, in the value
of c and κ) is reported as **not identified** by the table; pairs with
|correlation| > :data:`CONFOUNDED_CORRELATION` as confounded. The sandwich is zero along
the null space of JᵀWJ (directions the statistics do not move with: fewer independent
statistics than coordinates, or a coordinate no statistic depends on); a parameter with a
component there gets an infinite SE and its whole range as interval, and the fit says how
many independent combinations the table pins down (:attr:`PopulationFit.identification`).

**Goodness of fit.** At the optimum, Q ≈ εᵀ(I − H)ᵀW(I − H)ε with ε ~ N(0, Ω) and
H = J(JᵀWJ)⁻¹JᵀW, a weighted sum of χ²₁ with weights λ = eig(W^½(I − H)Ω(I − H)ᵀW^½).
Its p-value comes from the Welch–Satterthwaite approximation Q ~ g·χ²_h,
g = Σλ²/Σλ, h = (Σλ)²/Σλ²; with as many independent directions fitted as statistics no
degrees of freedom are left and there is no p-value (NaN). A p-value below :data:`POOR_FIT_P` means the fit is
worse than the data's and the simulation's noise explain (:attr:`PopulationFit.warning`).

**Acquisition** (:func:`fit_bass`): simulated daily new users n̂_t(p, q) match the
observed n_t by minimising Σ_t (n̂_t − n_t)² / max(n_t, 1) (Poisson-weighted) over
log p, log q with Nelder–Mead.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import least_squares, minimize
from scipy.special import expit, logit
from scipy.stats import chi2, norm

from sim.analysis.cohort_statistics import CohortDesign, SimulatedUsers

__all__ = [
    "CONFOUNDED_CORRELATION",
    "DIFF_STEP",
    "NOT_IDENTIFIED_SPAN",
    "POOR_FIT_P",
    "ParameterSpace",
    "PopulationFit",
    "fit_bass",
    "fit_population",
    "in_null_space",
    "not_identified_se",
]

#: Forward-difference step of the Jacobian during the fit, in the optimiser's coordinates.
DIFF_STEP = 0.1
#: Central-difference half step of the Jacobian behind the intervals. Under common random numbers
#: a simulated statistic moves in small jumps (a user's visit or death flips, and habit carries the
#: flip on), so a small step adds noise to J, which inflates JᵀWJ and shrinks the intervals; a
#: central difference over ±0.2 keeps that noise small and the curvature error second order.
INTERVAL_STEP = 0.2
#: Confidence level of the reported intervals.
CONFIDENCE = 0.95
#: A parameter whose interval spans more than this factor is "not identified by the table".
NOT_IDENTIFIED_SPAN = 10.0
#: Pairs of parameters with a larger |correlation| are reported as confounded.
CONFOUNDED_CORRELATION = 0.9
#: A fit whose χ²-type statistic has a p-value below this gets a warning.
POOR_FIT_P = 1e-3
#: Bounds of the coordinates: shares in [1e-4, 1 − 1e-4], c in [0.1, 5], κ in [1e-3, 20], weight ratios e^±9.
SHARE_BOUND = 1e-4
C_BOUNDS = (0.1, 5.0)
HABIT_BOUNDS = (1e-3, 20.0)
WEIGHT_RATIO_BOUND = 9.0
#: Singular values of W^½J below this fraction of the largest are floored there (near-null directions
#: get a huge, not a zero, variance).
RCOND = 1e-8
#: A direction g of the coordinates lies (partly) in the null space of the information matrix when
#: gᵀNg > this · gᵀg (N: the projector on the null space): the table cannot tell it from no change.
NULL_TOLERANCE = 1e-9
#: Nelder–Mead tolerances of the Bass fit on the packed parameters and on the objective.
XATOL = FATOL = 1e-3

#: simulate(segment index, natural parameters, last tenure day, seed) → the segment's simulated users.
SimulateSegment = Callable[[int, dict[str, float], int, int], SimulatedUsers]


def not_identified_se(z: float) -> float:
    """The SE above which a parameter is not identified.

    In a parameter's log, log-odds or log1p coordinate, an SE above this makes its ±z·SE interval
    span more than a factor of :data:`NOT_IDENTIFIED_SPAN`. The rule of population and lift fits.
    """
    return math.log(NOT_IDENTIFIED_SPAN) / (2 * z)


def in_null_space(direction: np.ndarray, null: np.ndarray) -> bool:
    """Whether moving the coordinates along ``direction`` is (partly) invisible to the statistics."""
    size = float(direction @ direction)
    return size > 0 and float(direction @ null @ direction) > NULL_TOLERANCE * size


@dataclass
class ParameterSpace:
    """Natural parameters ↔ the optimiser's unbounded coordinates.

    Natural names: ``<segment>.weight``, ``<segment>.churn_mean``, ``<segment>.visit_mean``,
    ``<segment>.churn_c`` for every segment, and ``habit_strength``. Coordinates: log weight
    ratios against the last segment, logits of the means, logs of c and κ.
    """

    segments: tuple[str, ...]
    coordinates: list[str] = field(init=False)

    def __post_init__(self) -> None:
        names = [f"{s}.weight" for s in self.segments[:-1]]
        for s in self.segments:
            names += [f"{s}.churn_mean", f"{s}.visit_mean", f"{s}.churn_c"]
        self.coordinates = [*names, "habit_strength"]

    @property
    def natural_names(self) -> list[str]:
        """Every reported parameter: all K weights, then the per-segment ones, then κ."""
        return [f"{s}.weight" for s in self.segments] + self.coordinates[len(self.segments) - 1 :]

    def owner(self, j: int) -> int | None:
        """Segment index whose simulation coordinate j moves (None: the weights, or κ for all)."""
        name = self.coordinates[j]
        if name.endswith(".weight") or name == "habit_strength":
            return None
        return self.segments.index(name.rsplit(".", 1)[0])

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds of every coordinate."""
        lo, hi = [], []
        for name in self.coordinates:
            kind = name.rsplit(".", 1)[-1]
            if kind == "weight":
                lo.append(-WEIGHT_RATIO_BOUND)
                hi.append(WEIGHT_RATIO_BOUND)
            elif kind in ("churn_mean", "visit_mean"):
                lo.append(logit(SHARE_BOUND))
                hi.append(logit(1 - SHARE_BOUND))
            elif kind == "churn_c":
                lo.append(np.log(C_BOUNDS[0]))
                hi.append(np.log(C_BOUNDS[1]))
            else:
                lo.append(np.log(HABIT_BOUNDS[0]))
                hi.append(np.log(HABIT_BOUNDS[1]))
        return np.array(lo), np.array(hi)

    def weights(self, x: np.ndarray) -> np.ndarray:
        """Segment weights π (softmax of the log ratios, last segment 0)."""
        z = np.append(x[: len(self.segments) - 1], 0.0)
        e = np.exp(z - z.max())
        return e / e.sum()

    def unpack(self, x: np.ndarray) -> dict[str, float]:
        """Coordinates → natural parameters."""
        out = {f"{s}.weight": float(w) for s, w in zip(self.segments, self.weights(x), strict=True)}
        for name, v in zip(self.coordinates, x, strict=True):
            kind = name.rsplit(".", 1)[-1]
            if kind in ("churn_mean", "visit_mean"):
                out[name] = float(expit(v))
            elif kind in ("churn_c", "habit_strength"):
                out[name] = float(np.exp(v))
        return out

    def pack(self, params: dict[str, float]) -> np.ndarray:
        """Natural parameters → coordinates (clipped into the bounds)."""
        last = params[f"{self.segments[-1]}.weight"]
        x = []
        for name in self.coordinates:
            kind = name.rsplit(".", 1)[-1]
            v = params[name]
            if kind == "weight":
                x.append(np.log(v / last))
            elif kind in ("churn_mean", "visit_mean"):
                x.append(logit(np.clip(v, SHARE_BOUND, 1 - SHARE_BOUND)))
            else:
                x.append(np.log(v))
        lo, hi = self.bounds()
        return np.clip(np.array(x, dtype=float), lo, hi)

    def segment_params(self, params: dict[str, float], s: int) -> dict[str, float]:
        """The natural parameters that segment s's simulation depends on."""
        seg = self.segments[s]
        return {
            "churn_mean": params[f"{seg}.churn_mean"],
            "visit_mean": params[f"{seg}.visit_mean"],
            "churn_c": params[f"{seg}.churn_c"],
            "habit_strength": params["habit_strength"],
        }

    def natural_interval(
        self, x: np.ndarray, cov: np.ndarray, z: float, null: np.ndarray | None = None
    ) -> dict[str, tuple[float, float, float]]:
        """(low, high, transformed SE) of every natural parameter from the coordinates' covariance.

        Weights go through the delta method on logit(w_s); the others are ±z·SE in their
        own coordinate, mapped back. A parameter that moves along the null space of the
        information matrix (``null``, its projector; see :func:`in_null_space`) has an infinite
        SE and its whole range as interval: the table says nothing about it.
        """
        if null is None:
            null = np.zeros_like(cov)
        out: dict[str, tuple[float, float, float]] = {}
        pi = self.weights(x)
        k = len(self.segments)
        for s, seg in enumerate(self.segments):
            # d logit(π_s) / d x_j = (δ_sj − π_j) / (1 − π_s) for the k − 1 free log ratios
            grad = np.zeros(x.size)
            for j in range(k - 1):
                grad[j] = ((1.0 if j == s else 0.0) - pi[j]) / (1.0 - pi[s]) if pi[s] < 1 else 0.0
            se = math.inf if in_null_space(grad, null) else float(np.sqrt(max(grad @ cov @ grad, 0.0)))
            centre = logit(np.clip(pi[s], SHARE_BOUND, 1 - SHARE_BOUND))
            out[f"{seg}.weight"] = (float(expit(centre - z * se)), float(expit(centre + z * se)), se)
        lo, hi = self.bounds()
        for j, name in enumerate(self.coordinates):
            if name.endswith(".weight"):
                continue
            unit = np.eye(x.size)[j]
            se = math.inf if in_null_space(unit, null) else float(np.sqrt(max(cov[j, j], 0.0)))
            a, b = np.clip(x[j] - z * se, lo[j], hi[j]), np.clip(x[j] + z * se, lo[j], hi[j])
            back = expit if name.rsplit(".", 1)[-1] in ("churn_mean", "visit_mean") else np.exp
            out[name] = (float(back(a)), float(back(b)), se)
        return out


@dataclass
class PopulationFit:
    """Result of :func:`fit_population` (estimates end in an underscore).

    Attributes:
        params_: Natural parameters at the optimum.
        intervals_: Per parameter, the (low, high) 95 % interval.
        std_errors_: Per parameter, its standard error in the optimiser's coordinate
            (logit for shares, log for c and κ).
        identified: Per parameter, whether the table pins it down (interval within a
            factor of :data:`NOT_IDENTIFIED_SPAN`).
        confounded: Pairs of coordinates with |correlation| above :data:`CONFOUNDED_CORRELATION`.
        statistics: Labels of the statistics (``D<n>``, ``R<n>``).
        observed: Observed statistics.
        fitted: Simulated statistics at the optimum.
        observed_se: Standard error of each observed statistic (from Ω_data).
        fitted_se: Standard error of each fitted statistic from the parameters' uncertainty.
        forecast: Classic retention D̂_1 … D̂_F of the fitted population, pooled over
            weekdays like the table, with its standard error from the parameters' uncertainty.
        chi2_: The fit's χ²-type statistic Q; ``chi2_expected``, ``chi2_sd`` its mean and
            standard deviation under the model; ``chi2_p`` its p-value.
            ``chi2_p`` is NaN when no degrees of freedom are left to test the fit (as many
            independent directions fitted as statistics).
        warning: One line when the fit is poor (p < :data:`POOR_FIT_P`), else None.
        free_parameters: Free coordinates fitted (the weights sum to 1: one fewer than reported).
        independent: How many independent combinations of them the table pins down (the rank
            of the information matrix JᵀWJ).
        identification: One line when ``independent < free_parameters`` (fewer independent
            statistics than free parameters, or a parameter the statistics do not move with),
            naming the parameters whose interval is then their whole range; else None.
        simulations: Segment simulations run; ``seconds``: wall time.

    """

    params_: dict[str, float]
    intervals_: dict[str, tuple[float, float]]
    std_errors_: dict[str, float]
    identified: dict[str, bool]
    confounded: list[tuple[str, str, float]]
    statistics: list[str]
    observed: np.ndarray
    fitted: np.ndarray
    observed_se: np.ndarray
    fitted_se: np.ndarray
    forecast_days: np.ndarray
    forecast: np.ndarray
    forecast_se: np.ndarray
    chi2_: float
    chi2_expected: float
    chi2_sd: float
    chi2_p: float
    warning: str | None
    free_parameters: int
    independent: int
    identification: str | None
    simulations: int
    seconds: float

    @property
    def not_identified(self) -> list[str]:
        """Parameters the table does not pin down."""
        return [k for k, ok in self.identified.items() if not ok]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the JSON report."""
        return {
            "params": self.params_,
            "intervals_95": {k: list(v) for k, v in self.intervals_.items()},
            "std_errors_transformed": self.std_errors_,
            "not_identified": self.not_identified,
            "confounded": [{"a": a, "b": b, "correlation": r} for a, b, r in self.confounded],
            "chi2": self.chi2_,
            "chi2_expected": self.chi2_expected,
            "chi2_sd": self.chi2_sd,
            "chi2_p": self.chi2_p if math.isfinite(self.chi2_p) else None,
            "chi2_degrees_of_freedom_left": len(self.statistics) - self.independent,
            "statistics": len(self.statistics),
            "free_parameters": self.free_parameters,
            "independent_combinations": self.independent,
            "identification_warning": self.identification,
            "rmse": float(np.sqrt(np.mean((self.fitted - self.observed) ** 2))),
            "max_abs_error": float(np.abs(self.fitted - self.observed).max()),
            "warning": self.warning,
            "simulations": self.simulations,
            "seconds": self.seconds,
        }


class _Evaluator:
    """Simulated statistics of the mixture at coordinates x, segment by segment, with caches.

    Statistics are cached per (segment, its parameters, days, design); simulated users
    only while ``keep_users`` is on (the final stage, where two designs read them).
    """

    def __init__(
        self,
        space: ParameterSpace,
        simulate: SimulateSegment,
        seeds: list[int],
        progress: Callable[[int], None],
    ) -> None:
        self.space, self.simulate, self.seeds, self.progress = space, simulate, seeds, progress
        self.stats: dict[tuple, np.ndarray] = {}
        self.users: dict[tuple, SimulatedUsers] = {}
        self.keep_users = False
        self.simulations = 0

    def segment_users(self, s: int, x: np.ndarray, days: int) -> SimulatedUsers:
        params = self.space.segment_params(self.space.unpack(x), s)
        key = (s, days, *np.round(list(params.values()), 12))
        sim = self.users.get(key)
        if sim is None:
            sim = self.simulate(s, params, days, self.seeds[s])
            self.simulations += 1
            self.progress(1)
            if self.keep_users:
                self.users[key] = sim
        return sim

    def segment(self, s: int, x: np.ndarray, days: int, design: CohortDesign) -> np.ndarray:
        params = self.space.segment_params(self.space.unpack(x), s)
        key = (s, days, id(design), *np.round(list(params.values()), 12))
        if key not in self.stats:
            self.stats[key] = design.statistics(self.segment_users(s, x, days))
        return self.stats[key]

    def mixture(self, x: np.ndarray, days: int, design: CohortDesign) -> np.ndarray:
        pi = self.space.weights(x)
        return sum(pi[s] * self.segment(s, x, days, design) for s in range(len(self.space.segments)))

    def jacobian(
        self, x: np.ndarray, days: int, design: CohortDesign, *, step: float = DIFF_STEP, central: bool = False
    ) -> np.ndarray:
        space = self.space
        k = len(space.segments)
        pi = space.weights(x)
        stats = [self.segment(s, x, days, design) for s in range(k)]
        mix = sum(p * st for p, st in zip(pi, stats, strict=True))
        lo, hi = space.bounds()
        jac = np.zeros((design.size, x.size))
        for j in range(x.size):
            if j < k - 1:  # weights: analytic, d/dx_j Σ π_s m_s = π_j (m_j − m̄)
                jac[:, j] = pi[j] * (stats[j] - mix)
                continue
            up = min(x[j] + step, hi[j])
            down = max(x[j] - step, lo[j]) if central else x[j]
            if up - down <= 0 or (not central and up == x[j]):
                up, down = x[j], max(x[j] - step, lo[j])
            owner = space.owner(j)
            for s in range(k) if owner is None else [owner]:
                high = self.segment(s, self._moved(x, j, up), days, design)
                low = stats[s] if down == x[j] else self.segment(s, self._moved(x, j, down), days, design)
                jac[:, j] += pi[s] * (high - low) / (up - down)
        return jac

    @staticmethod
    def _moved(x: np.ndarray, j: int, value: float) -> np.ndarray:
        moved = x.copy()
        moved[j] = value
        return moved


def _sandwich(jac: np.ndarray, weight: np.ndarray, omega: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(V, U, N): the sandwich covariance of x̂, a basis of W^½J's columns, the projector on its null space.

    U is an orthonormal basis of the column space of W^½J; N projects on the null space of
    JᵀWJ (directions of the coordinates the statistics do not see).
    The rank of W^½J is the number of its singular values above :data:`RCOND` times the largest;
    fewer statistics than coordinates leave the missing directions in N too. V is finite in
    every direction (the sandwich's meat is zero along N), so it alone would make a parameter
    along N look exact; :meth:`ParameterSpace.natural_interval` reads N instead.
    """
    root = np.sqrt(weight)
    u, s, vt = np.linalg.svd(root[:, None] * jac, full_matrices=False)
    rank = int(np.sum(s > RCOND * s.max())) if s.size and s.max() > 0 else 0
    null = np.eye(jac.shape[1]) - vt[:rank].T @ vt[:rank]
    s = np.maximum(s, RCOND * s.max()) if s.size and s.max() > 0 else np.full_like(s, RCOND)
    bread = (vt.T / s**2) @ vt  # (JᵀWJ)⁻¹ on the row space of J
    meat = jac.T @ (weight[:, None] * omega * weight[None, :]) @ jac
    return bread @ meat @ bread, u[:, :rank], null


def _fit_statistic(
    residual: np.ndarray, weight: np.ndarray, omega: np.ndarray, basis: np.ndarray
) -> tuple[float, float, float, float]:
    """Q = Σ W r² and its mean, SD and p-value under the model (Welch–Satterthwaite).

    With W^½J = U S Vᵀ, W^½(I − H) = (I − UUᵀ)W^½, so the weights λ of the χ²₁ terms are the
    eigenvalues of (I − UUᵀ) W^½ Ω W^½ (I − UUᵀ); those below :data:`RCOND` times the largest
    eigenvalue of W^½ Ω W^½ are rounding and count as 0 (with U spanning every statistic,
    weights of 1e-32 gave "expected 0.0 ± 0.0" and p = 0 instead of no test).
    """
    q = float(np.sum(weight * residual**2))
    root = np.sqrt(weight)
    scaled = root[:, None] * omega * root[None, :]
    proj = np.eye(residual.size) - basis @ basis.T
    lam = np.linalg.eigvalsh(proj @ scaled @ proj)
    # rounding leaves weights of ~1e-16 of the noise's where the fit took every direction: they are 0
    noise = float(np.linalg.eigvalsh(scaled).max(initial=0.0))
    lam = np.where(lam > RCOND * noise, lam, 0.0)
    mean, var = float(lam.sum()), float(2 * np.sum(lam**2))
    if mean <= 0 or var <= 0:  # as many independent directions fitted as statistics: nothing left to test
        return q, 0.0, 0.0, math.nan
    g, h = var / (2 * mean), 2 * mean**2 / var
    return q, mean, float(np.sqrt(var)), float(chi2.sf(q / g, h))


def _statistic_se(jac: np.ndarray, cov: np.ndarray, null: np.ndarray) -> np.ndarray:
    """SE of each statistic (a row of ``jac``) from the parameters' covariance.

    Infinite for a statistic that moves along the null space: the table does not determine it.
    """
    se = np.sqrt(np.clip(np.einsum("ij,jk,ik->i", jac, cov, jac), 0, None))
    return np.array([math.inf if in_null_space(row, null) else v for row, v in zip(jac, se, strict=True)])


def _singular_line(statistics: int, independent: int, free: int, unidentified: list[str], segments: int) -> str | None:
    """One line when the table pins down fewer independent combinations than there are free parameters."""
    if independent >= free:
        return None
    return (
        f"the table's {statistics} statistic{'s pin' if statistics != 1 else ' pins'} down only {independent} independent "
        f"combination{'s' if independent != 1 else ''} of the {free} free parameters (the {segments} segment "
        f"weights, which sum to 1, count as {segments - 1}; the information matrix is "
        f"singular): {', '.join(unidentified)} {'are' if len(unidentified) != 1 else 'is'} not identified, their "
        "intervals are their whole ranges and their values are where the fit stopped, not estimates; a table with "
        "more days or a --base with fewer segments can pin them down"
    )


def _poor_fit_line(
    q_stats: tuple[float, float, float, float],
    labels: list[str],
    fitted: np.ndarray,
    observed: np.ndarray,
    se: np.ndarray,
) -> str:
    """One line saying how poor the fit is and where it is worst."""
    q, mean, sd, p = q_stats
    z = (fitted - observed) / np.maximum(se, 1e-12)
    worst = int(np.argmax(np.abs(z)))
    return (
        f"the fit is worse than the data's and the simulation's noise explain: chi2 = {q:.1f} over "
        f"{len(labels)} statistics, expected {mean:.1f} ± {sd:.1f} (p = {p:.1g}); worst {labels[worst]}: "
        f"{100 * fitted[worst]:.2f} % simulated vs {100 * observed[worst]:.2f} % observed ({z[worst]:+.1f} SE); "
        "the base preset's structure (--base) may not describe this product"
    )


def fit_population(
    design: CohortDesign,
    simulate: SimulateSegment,
    space: ParameterSpace,
    start: dict[str, float],
    *,
    users_per_segment: int,
    seeds: list[int],
    forecast_design: CohortDesign | None = None,
    max_iterations: int = 30,
    progress: Callable[[int], None] | None = None,
    covariance_seed: int = 0,
) -> PopulationFit:
    """Fit the segment mixture to a table's design; uncertainty by the sandwich; goodness of fit.

    Args:
        design: The observed table's design and statistics.
        simulate: Simulates one segment's users (see :data:`SimulateSegment`).
        space: The parameter space (segment names).
        start: Natural parameters to start from.
        users_per_segment: Users each segment simulation has (for the weights' simulation term).
        seeds: One seed per segment (common random numbers across evaluations).
        forecast_design: A design over days 1 … F (F >= the table's last day) for the
            forecast; None: no forecast beyond the table.
        max_iterations: Most least-squares iterations (each: one evaluation and one Jacobian).
        progress: Called with the number of simulations just run.
        covariance_seed: Seed of the random cohort assignment in Ω_data.

    Returns:
        The fit.

    """
    started = time.perf_counter()
    tick = progress or (lambda _n: None)
    ev = _Evaluator(space, simulate, seeds, tick)
    weight = 1.0 / design.variance_guess(users_per_segment * len(space.segments))
    root = np.sqrt(weight)
    fit_days = design.max_day

    def residual(x: np.ndarray) -> np.ndarray:
        return root * (ev.mixture(x, fit_days, design) - design.observed)

    def jacobian(x: np.ndarray) -> np.ndarray:
        return root[:, None] * ev.jacobian(x, fit_days, design)

    lo, hi = space.bounds()
    x0 = space.pack(start)
    res = least_squares(residual, x0, jac=jacobian, bounds=(lo, hi), method="trf", max_nfev=max_iterations, x_scale=1.0)
    x = res.x
    # Final stage: simulate to the forecast horizon, Jacobian there, covariances at the optimum.
    days = max(fit_days, forecast_design.max_day if forecast_design is not None else 0)
    ev.keep_users = True
    k = len(space.segments)
    pi = space.weights(x)
    params = space.unpack(x)
    sims = [ev.segment_users(s, x, days) for s in range(k)]
    fitted = ev.mixture(x, days, design)
    jac = ev.jacobian(x, days, design, step=INTERVAL_STEP, central=True)
    omega = design.data_covariance(sims, pi, covariance_seed) + design.simulation_covariance(sims, pi)
    cov, basis, null = _sandwich(jac, weight, omega)
    z = float(norm.ppf(0.5 + CONFIDENCE / 2))
    intervals = space.natural_interval(x, cov, z, null)
    identified = {name: intervals[name][2] <= not_identified_se(z) for name in space.natural_names}
    sd = np.sqrt(np.clip(np.diag(cov), 1e-300, None))
    corr = cov / np.outer(sd, sd)
    confounded = [
        (space.coordinates[i], space.coordinates[j], float(corr[i, j]))
        for i in range(x.size)
        for j in range(i + 1, x.size)
        if abs(corr[i, j]) > CONFOUNDED_CORRELATION
    ]
    q_stats = _fit_statistic(fitted - design.observed, weight, omega, basis)
    observed_se = np.sqrt(np.diag(omega))
    fitted_se = _statistic_se(jac, cov, null)
    if forecast_design is not None:
        forecast = ev.mixture(x, days, forecast_design)
        fjac = ev.jacobian(x, days, forecast_design, step=INTERVAL_STEP, central=True)
        forecast_se = _statistic_se(fjac, cov, null)
        forecast_days = forecast_design.classic_days
    else:
        forecast, forecast_se, forecast_days = fitted[:0], fitted[:0], design.classic_days[:0]
    ev.users.clear()
    warning = None
    if q_stats[3] < POOR_FIT_P:
        warning = _poor_fit_line(q_stats, design.labels, fitted, design.observed, observed_se)
    independent = x.size - round(float(np.trace(null)))
    unidentified = [name for name in space.natural_names if not math.isfinite(intervals[name][2])]
    return PopulationFit(
        params_=params,
        intervals_={name: intervals[name][:2] for name in space.natural_names},
        std_errors_={name: intervals[name][2] for name in space.natural_names},
        identified=identified,
        confounded=confounded,
        statistics=design.labels,
        observed=design.observed,
        fitted=fitted,
        observed_se=observed_se,
        fitted_se=fitted_se,
        forecast_days=forecast_days,
        forecast=forecast,
        forecast_se=forecast_se,
        chi2_=q_stats[0],
        chi2_expected=q_stats[1],
        chi2_sd=q_stats[2],
        chi2_p=q_stats[3],
        warning=warning,
        free_parameters=x.size,
        independent=independent,
        identification=_singular_line(len(design.labels), independent, x.size, unidentified, len(space.segments)),
        simulations=ev.simulations,
        seconds=time.perf_counter() - started,
    )


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
