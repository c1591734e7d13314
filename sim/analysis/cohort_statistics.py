"""The statistics a calibration compares: pooled classic and rolling retention over a table's design.

A cohort table observes cohort c (n_c users, acquisition weekday w_c, possibly
unknown) on days n ∈ O_c, and counts users active on day n (classic, x_n = 1) or
on day n or later up to the cohort's last day L_c = max O_c (rolling,
r_n = 1[some visit in n … L_c]). The statistics are the pooled shares

    D_n = Σ_{c: n ∈ O_c} active_{c,n} / N_n,     R_n = Σ_{c: n ∈ O_c} rolling_{c,n} / N_n,
    N_n = Σ_{c: n ∈ O_c} n_c,

for every day n >= 1 with N_n >= :data:`MIN_POOLED_USERS`. Every cell of the
triangle enters one of them. Under the model, cohorts differ only by their start
weekday (and rolling counts by their last day), so the simulated counterparts
are built for exactly this design (:class:`CohortDesign`): with simulated users
of every start weekday w (activity X_{u,n}, next visit at or after n: ν_{u,n}),

    D̂_n = Σ_w A_{w,n} · mean_{u ∈ w} X_{u,n},            A_{w,n} = Σ_{c: w_c = w, n ∈ O_c} n_c / N_n,
    R̂_n = Σ_w mean_{u ∈ w} Σ_{L ≥ ν_{u,n}} B_{w,n,L},    B_{w,n,L} = Σ_{c: w_c = w, L_c = L, n ∈ O_c} n_c / N_n

(a cohort with unknown weekday counts one seventh towards each weekday): the
simulated cohorts are pooled over weekdays and censored exactly as the data are.

**Covariances.** Both the observed and the simulated statistic are sums over
independent users of per-user vectors, so their covariances follow from the
per-user covariance under the model, estimated from the simulated users:

* simulation: Ω_sim = Σ_s π_s² Σ_w Cov_{u ∈ (s,w)}(z_u) / k_{s,w}, z_u the user's
  contribution above, π_s the segment weights and k_{s,w} the simulated users of
  segment s and weekday w (segments are simulated separately);
* data: Ω_data = Σ_c n_c Cov_c(y), y_n = 1[n ∈ O_c] X_n / N_n (and likewise r_n^{L_c}),
  estimated by giving each simulated user a cohort of its weekday at random
  (probability ∝ n_c) and averaging (y_u − μ_{c_u})(y_u − μ_{c_u})ᵀ with the
  mixture weights: an unbiased Monte-Carlo estimate of the exact covariance,
  correlations between a user's days (heterogeneity, habit) included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sim.analysis.retention_data import CohortTable

__all__ = ["MIN_POOLED_USERS", "WEEKDAYS", "CohortDesign", "SimulatedUsers", "next_visit"]

#: Days with fewer cohort users than this are left out (too few for a normal approximation).
MIN_POOLED_USERS = 30
WEEKDAYS = 7


@dataclass
class SimulatedUsers:
    """Simulated users as the statistics need them (arrays only: any simulator can produce them).

    Attributes:
        weekday: Per user, the weekday of its acquisition day (0 = Monday).
        active: ``active[u, n]``: user u active on tenure day n (n = 0 … last day simulated).

    """

    weekday: np.ndarray
    active: np.ndarray

    @property
    def days(self) -> int:
        """Last tenure day simulated."""
        return self.active.shape[1] - 1


def next_visit(active: np.ndarray) -> np.ndarray:
    """ν[u, n]: the first tenure day >= n with a visit (``active.shape[1]`` if none)."""
    width = active.shape[1]
    day = np.where(active, np.arange(width, dtype=np.int32), np.int32(width))
    return np.minimum.accumulate(day[:, ::-1], axis=1)[:, ::-1]


class CohortDesign:
    """A table's design and its pooled statistics (classic D_n, then rolling R_n).

    Args:
        sizes: n_c of each cohort (a cohort's share of the pooled users is all that matters).
        weekday: w_c of each cohort (0 = Monday; −1: unknown).
        observed: ``observed[c, n]``: the table has cohort c's day n.
        active: Classic counts ``[c, n]`` (None: the table has none).
        rolling: Rolling counts ``[c, n]`` (None: the table has none).
        min_users: Leave out days with fewer pooled users.

    Attributes:
        classic_days: Days n of the classic statistics.
        rolling_days: Days n of the rolling statistics.
        observed: The observed statistics (classic, then rolling).
        users: N_n of each statistic.
        labels: ``D<n>`` and ``R<n>``.
        max_day: The last day n any statistic needs.

    """

    def __init__(
        self,
        sizes: np.ndarray,
        weekday: np.ndarray,
        observed: np.ndarray,
        active: np.ndarray | None,
        rolling: np.ndarray | None,
        min_users: float = MIN_POOLED_USERS,
    ) -> None:
        sizes = np.asarray(sizes, dtype=float)
        self.sizes, self.cohort_weekday, self.obs = sizes, weekday, observed
        self.last_day = np.array([np.flatnonzero(row).max() for row in observed])
        users = sizes @ observed  # N_n for n = 0 … max_day
        days = np.flatnonzero((np.arange(observed.shape[1]) >= 1) & (users >= min_users))
        # cohort mass per weekday: known weekdays count fully, unknown ones a seventh to each
        self.mass = np.zeros((WEEKDAYS, sizes.size))
        known = weekday >= 0
        self.mass[weekday[known], np.flatnonzero(known)] = sizes[known]
        self.mass[:, ~known] = sizes[~known] / WEEKDAYS
        self.classic_days = days if active is not None else days[:0]
        self.rolling_days = days if rolling is not None else days[:0]
        parts_obs, parts_users = [], []
        if self.classic_days.size:
            n = self.classic_days
            parts_obs.append((active[:, n] * observed[:, n]).sum(axis=0) / users[n])
            parts_users.append(users[n])
        if self.rolling_days.size:
            n = self.rolling_days
            parts_obs.append((rolling[:, n] * observed[:, n]).sum(axis=0) / users[n])
            parts_users.append(users[n])
        if not parts_obs:
            raise ValueError(f"no day has {min_users} or more cohort users: nothing to calibrate against")
        self.observed = np.concatenate(parts_obs)
        self.users = np.concatenate(parts_users)
        self.labels = [f"D{n}" for n in self.classic_days] + [f"R{n}" for n in self.rolling_days]
        self.max_day = int(days.max())
        # A[w, j]: weight of weekday w in classic statistic j
        n = self.classic_days
        self.classic_weights = (self.mass[:, :, None] * observed[None, :, n]).sum(axis=1) / users[n]
        # Bcum[w, j, ℓ] = Σ_{L >= ℓ} B[w, j, L] for rolling statistic j
        n = self.rolling_days
        width = self.max_day + 2
        b = np.zeros((WEEKDAYS, n.size, width))
        for c in range(sizes.size):
            b[:, :, self.last_day[c]] += self.mass[:, c, None] * observed[c, n][None, :] / users[n]
        self.rolling_cum = np.flip(np.cumsum(np.flip(b, axis=2), axis=2), axis=2)

    @classmethod
    def from_table(cls, table: CohortTable, min_users: float = MIN_POOLED_USERS) -> CohortDesign:
        """The design of an observed table."""
        return cls(table.sizes, table.weekday, table.observed, table.active, table.rolling, min_users)

    def forecast(self, days: int) -> CohortDesign:
        """Classic retention D_1 … D_days of cohorts with this table's weekday mix, all observed every day."""
        mass = self.mass.sum(axis=1)
        observed = np.ones((WEEKDAYS, days + 1), dtype=bool)
        return CohortDesign(mass, np.arange(WEEKDAYS), observed, np.zeros((WEEKDAYS, days + 1)), None, min_users=0)

    @property
    def size(self) -> int:
        """Number of statistics k."""
        return self.observed.size

    def variance_guess(self, simulated_users: int) -> np.ndarray:
        """Binomial variance of each statistic, data plus simulation: p̃(1 − p̃)(1/N + 1/K), p̃ = (k + ½)/(N + 1).

        The weights of the least-squares fit; the covariance of the estimate does not
        rest on them (see :func:`sim.analysis.calibration.fit_population`).
        """
        p = (self.observed * self.users + 0.5) / (self.users + 1.0)
        return p * (1 - p) * (1.0 / self.users + 1.0 / simulated_users)

    def contributions(self, sim: SimulatedUsers) -> np.ndarray:
        """z[u, j]: user u's contribution to statistic j, so that statistic_j = Σ_w mean_{u ∈ w} z[u, j]."""
        if sim.days < self.max_day:
            raise ValueError(f"simulated {sim.days} days; the table needs {self.max_day}")
        w = sim.weekday
        parts = []
        if self.classic_days.size:
            parts.append(self.classic_weights[w] * sim.active[:, self.classic_days])
        if self.rolling_days.size:
            nu = np.minimum(next_visit(sim.active[:, : self.max_day + 1])[:, self.rolling_days], self.max_day + 1)
            j = np.arange(self.rolling_days.size)
            parts.append(self.rolling_cum[w[:, None], j[None, :], nu])
        return np.concatenate(parts, axis=1)

    def statistics(self, sim: SimulatedUsers) -> np.ndarray:
        """The simulated statistics (classic, then rolling) of one homogeneous simulation."""
        z = self.contributions(sim)
        return sum(z[sim.weekday == w].mean(axis=0) for w in range(WEEKDAYS) if (sim.weekday == w).any())

    def simulation_covariance(self, sims: Sequence[SimulatedUsers], weights: np.ndarray) -> np.ndarray:
        """Ω_sim of Σ_s π_s · statistics(sims[s]) (segments simulated independently)."""
        omega = np.zeros((self.size, self.size))
        for sim, pi in zip(sims, weights, strict=True):
            z = self.contributions(sim)
            for w in range(WEEKDAYS):
                zw = z[sim.weekday == w]
                if zw.shape[0] > 1:
                    e = zw - zw.mean(axis=0)
                    omega += pi**2 * (e.T @ e) / (zw.shape[0] - 1) / zw.shape[0]
        return omega

    def data_covariance(self, sims: Sequence[SimulatedUsers], weights: np.ndarray, seed: int = 0) -> np.ndarray:
        """Ω_data: covariance of the observed statistics under the model (the mixture Σ_s π_s · sims[s])."""
        rng = np.random.default_rng(seed)
        n_classic = self.classic_days.size
        observed = self.obs
        users = self.users
        # mixture means per weekday: classic activity m[w, j], rolling CDF F[w, j, ℓ] = P(ν_j <= ℓ)
        width = self.max_day + 2
        mean_active = np.zeros((WEEKDAYS, n_classic))
        cdf = np.zeros((WEEKDAYS, self.rolling_days.size, width))
        prepared = []
        for sim, pi in zip(sims, weights, strict=True):
            act = sim.active[:, : self.max_day + 1]
            nu = np.minimum(next_visit(act)[:, self.rolling_days], self.max_day + 1)
            prepared.append((sim.weekday, act[:, self.classic_days], nu, pi))
            for w in range(WEEKDAYS):
                mine = sim.weekday == w
                if not mine.any():
                    continue
                mean_active[w] += pi * act[mine][:, self.classic_days].mean(axis=0)
                for j in range(self.rolling_days.size):
                    cdf[w, j] += pi * np.cumsum(np.bincount(nu[mine, j], minlength=width)) / mine.sum()
        omega = np.zeros((self.size, self.size))
        total_mass = self.mass.sum(axis=1)
        for weekday, act, nu, pi in prepared:
            for w in range(WEEKDAYS):
                mine = np.flatnonzero(weekday == w)
                if not mine.size or total_mass[w] == 0:
                    continue
                cohort = rng.choice(self.sizes.size, size=mine.size, p=self.mass[w] / total_mass[w])
                parts = []
                if n_classic:
                    seen = observed[cohort][:, self.classic_days]
                    parts.append(seen * (act[mine] - mean_active[w]) / users[:n_classic])
                if self.rolling_days.size:
                    seen = observed[cohort][:, self.rolling_days]
                    last = self.last_day[cohort]
                    hit = nu[mine] <= last[:, None]
                    j = np.arange(self.rolling_days.size)
                    expected = cdf[w][j[None, :], last[:, None]]
                    parts.append(seen * (hit - expected) / users[n_classic:])
                e = np.concatenate(parts, axis=1)
                omega += total_mass[w] * pi * (e.T @ e) / mine.size
        return omega
