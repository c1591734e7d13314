"""The population: one row per market slot, stored as a struct of compact arrays.

A slot is a potential user from day 0. Latent traits are drawn once, at
creation, from the segment mixture of :class:`sim.config.PopulationConfig`:

* segment s ~ Categorical(w_s / Σ w)                      (``segments.<s>.weight``)
* churn hazard θ ~ Beta(a_s, b_s)                         (``segments.<s>.churn.a|b``)
* visit propensity π ~ Beta(α_s, β_s)                     (``segments.<s>.visits.alpha|beta``)
* order value v = median_s · exp(σ_s · Z), Z ~ N(0, 1)    (``segments.<s>.order_value``)

State per slot (25 bytes): stage int8, alive bool, segment int8, channel int8,
θ, π, v, habit float32, acquisition day and last-visit day int16, lever flags
uint8 (coupon redeemed, onboarded, push opt-out). Levers that need more state
(push fatigue, incentive dependence, last win-back contact) allocate it only
when they are in the strategy.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import betaincinv, ndtri

from sim.lifecycle import Stage
from sim.rng import CHUNK_SIZE, Streams

if TYPE_CHECKING:
    from sim.config import PopulationConfig

__all__ = ["NEVER", "Population", "SegmentTable"]

#: Day value stored for "never happened" (acquisition, last visit).
NEVER = np.int16(-20000)

#: Bits of ``Population.flags``: lever marks, and funnel milestones for analytics.
FLAG_COUPON = np.uint8(1)
FLAG_ONBOARDED = np.uint8(2)
FLAG_PUSH_OPT_OUT = np.uint8(4)
FLAG_EVER_AWARE = np.uint8(8)
FLAG_EVER_ACTIVATED = np.uint8(16)


@dataclass
class SegmentTable:
    """Per-segment parameters as arrays indexed by segment code."""

    names: tuple[str, ...]
    weight: np.ndarray
    churn_a: np.ndarray
    churn_b: np.ndarray
    churn_c: np.ndarray
    visit_alpha: np.ndarray
    visit_beta: np.ndarray
    purchase_prob: np.ndarray
    order_median: np.ndarray
    order_sigma: np.ndarray

    @classmethod
    def from_config(cls, pop: PopulationConfig) -> SegmentTable:
        """Build the table from the population config (segments in YAML order)."""
        segs = list(pop.segments.values())

        def col(get) -> np.ndarray:
            return np.array([get(s) for s in segs], dtype=np.float64)

        return cls(
            names=tuple(pop.segments),
            weight=col(lambda s: s.weight),
            churn_a=col(lambda s: s.churn.a),
            churn_b=col(lambda s: s.churn.b),
            churn_c=col(lambda s: s.churn.c),
            visit_alpha=col(lambda s: s.visits.alpha),
            visit_beta=col(lambda s: s.visits.beta),
            purchase_prob=col(lambda s: s.purchase_prob).astype(np.float32),
            order_median=col(lambda s: s.order_value.median),
            order_sigma=col(lambda s: s.order_value.sigma),
        )


@dataclass
class Population:
    """Struct of arrays, one element per market slot."""

    stage: np.ndarray
    alive: np.ndarray
    segment: np.ndarray
    channel: np.ndarray
    churn_hazard: np.ndarray
    visit_propensity: np.ndarray
    order_value: np.ndarray
    habit: np.ndarray
    acquired_day: np.ndarray
    last_visit_day: np.ndarray
    flags: np.ndarray

    @property
    def size(self) -> int:
        """Number of slots (M)."""
        return int(self.stage.shape[0])

    @property
    def nbytes(self) -> int:
        """Bytes held by the state arrays."""
        return sum(getattr(self, f.name).nbytes for f in fields(self))

    @classmethod
    def create(cls, pop: PopulationConfig, segments: SegmentTable, streams: Streams) -> Population:
        """Allocate M slots and draw their latent traits from stream ``traits``.

        Draws are dense per chunk, so slot i has the same traits in any market
        with more than i slots and the same segment weights. With
        ``trait_sampling: smooth`` each trait is the Beta (or normal) quantile of
        a fixed uniform, so it moves continuously with the parameters (what
        calibration needs); ``fast`` uses numpy's samplers.

        Args:
            pop: Population config (market size, segments).
            segments: The segment table built from ``pop``.
            streams: The run's random streams.

        """
        m = pop.market_size
        self = cls(
            stage=np.full(m, Stage.UNAWARE, dtype=np.int8),
            alive=np.zeros(m, dtype=bool),
            segment=np.zeros(m, dtype=np.int8),
            channel=np.full(m, -1, dtype=np.int8),
            churn_hazard=np.empty(m, dtype=np.float32),
            visit_propensity=np.empty(m, dtype=np.float32),
            order_value=np.empty(m, dtype=np.float32),
            habit=np.zeros(m, dtype=np.float32),
            acquired_day=np.full(m, NEVER, dtype=np.int16),
            last_visit_day=np.full(m, NEVER, dtype=np.int16),
            flags=np.zeros(m, dtype=np.uint8),
        )
        cum = np.cumsum(segments.weight / segments.weight.sum())
        smooth = pop.trait_sampling == "smooth"
        for chunk, lo in enumerate(range(0, m, CHUNK_SIZE)):
            hi = min(lo + CHUNK_SIZE, m)
            # Dense draws: every (trait, segment, chunk) stream fills a whole chunk, so a
            # slot's traits do not depend on the market size or on the other segments.
            u = streams.generator("traits", 0, chunk).random(CHUNK_SIZE)[: hi - lo]
            seg = np.minimum(np.searchsorted(cum, u, side="right"), len(cum) - 1)
            self.segment[lo:hi] = seg
            for s in range(len(cum)):
                mine = seg == s
                if not mine.any():
                    continue
                g = streams.generator("traits", 1, s, chunk)
                if smooth:  # quantiles of fixed uniforms: traits move continuously with the parameters
                    u = g.random((3, CHUNK_SIZE))[:, : hi - lo]
                    churn = betaincinv(segments.churn_a[s], segments.churn_b[s], u[0])
                    visit = betaincinv(segments.visit_alpha[s], segments.visit_beta[s], u[1])
                    z = ndtri(u[2])
                else:
                    churn = g.beta(segments.churn_a[s], segments.churn_b[s], CHUNK_SIZE)[: hi - lo]
                    visit = g.beta(segments.visit_alpha[s], segments.visit_beta[s], CHUNK_SIZE)[: hi - lo]
                    z = g.standard_normal(CHUNK_SIZE)[: hi - lo]
                self.churn_hazard[lo:hi][mine] = churn[mine]
                self.visit_propensity[lo:hi][mine] = visit[mine]
                self.order_value[lo:hi][mine] = segments.order_median[s] * np.exp(segments.order_sigma[s] * z[mine])
        return self
