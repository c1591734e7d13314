"""The population: one row per market slot, stored as a struct of compact arrays.

A slot is a potential user from day 0. Latent traits are drawn once, at
creation, from the segment mixture of :class:`PopulationConfig`:

* segment s ~ Categorical(w_s / Σ w)                      (``segments.<s>.weight``)
* churn hazard θ ~ Beta(a_s, b_s)                         (``segments.<s>.churn.a|b``)
* visit propensity π ~ Beta(α_s, β_s)                     (``segments.<s>.visits.alpha|beta``)
* order value v = median_s · exp(σ_s · Z), Z ~ N(0, 1)    (``segments.<s>.order_value``)

State per slot (25 bytes): stage int8, alive bool, segment int8, channel int8,
θ, π, v, habit float32, acquisition day and last-visit day int16, and a uint8
of five flags (:mod:`sim.core.flags`: coupon redeemed, onboarded, push opt-out,
ever aware, ever activated). Levers that need more state (push fatigue,
incentive dependence, last win-back contact) allocate it only when they are in
the strategy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import numpy as np
from scipy.special import betaincinv, ndtri

from sim.base.errors import ConfigError
from sim.base.schema import MAX_MONEY, MAX_MULTIPLIER, bounded, check_ranges, format_number
from sim.core.awareness import AwarenessConfig
from sim.core.lifecycle import LifecycleConfig, Stage
from sim.core.rng import CHUNK_SIZE, Streams
from sim.core.survival import ChurnConfig
from sim.core.visits import HabitConfig, VisitConfig

__all__ = [
    "MAX_MARKET_SIZE",
    "MAX_SAMPLE_SIZE",
    "MAX_SEGMENTS",
    "MAX_SEGMENT_WEIGHT",
    "NEVER",
    "STATE_BYTES_PER_SLOT",
    "OrderValueConfig",
    "Population",
    "PopulationConfig",
    "SegmentConfig",
    "SegmentTable",
    "check_population",
]

#: Day value stored for "never happened" (acquisition, last visit).
NEVER = np.int16(-20000)
#: Bytes of state per slot: stage, alive, segment, channel and flags (1 byte each),
#: churn hazard, visit propensity, order value and habit (float32), acquisition and
#: last-visit day (int16). :attr:`Population.nbytes` is this times N.
STATE_BYTES_PER_SLOT = 5 * 1 + 4 * 4 + 2 * 2
#: Largest market (real users): money and counts are float64, exact up to 2**53.
MAX_MARKET_SIZE = 10**12
#: Most simulated users: slot indices are int32 in the counters.
MAX_SAMPLE_SIZE = 2**31 - 1
#: Most segments a population may have: segment codes are int8.
MAX_SEGMENTS = 127
#: Largest log-scale sigma of an order value. Order values are float32 (largest 3.4·10^38):
#: a draw is median · e^(σz), at σ = 5 and median <= MAX_MONEY finite up to z = 12
#: (``trait_sampling: smooth`` never draws |z| > 8.3; a normal draw above 12 has
#: probability below 10^-32). Real order values spread far less: σ = 5 puts the 90th
#: percentile 600 times above the median.
MAX_ORDER_SIGMA = 5.0
#: Largest segment weight: weights are relative, so a share or a head count of the segment
#: (at most the largest market) will do; two weights of 10^308 summed to inf, and every
#: slot fell into the last segment.
MAX_SEGMENT_WEIGHT = float(MAX_MARKET_SIZE)


@dataclass
class OrderValueConfig:
    """Order value per user (``segments.<s>.order_value``): LogNormal with this median and log-scale sigma."""

    median: float = bounded(20.0, gt=0, le=MAX_MONEY)
    sigma: float = bounded(0.5, ge=0, le=MAX_ORDER_SIGMA)


@dataclass
class SegmentConfig:
    """One latent segment of the market, a mixture component (``population.segments.<s>``)."""

    weight: float = bounded(1.0, gt=0, le=MAX_SEGMENT_WEIGHT)
    churn: ChurnConfig = field(default_factory=ChurnConfig)
    visits: VisitConfig = field(default_factory=VisitConfig)
    purchase_prob: float = bounded(0.0, ge=0, le=1)
    order_value: OrderValueConfig = field(default_factory=OrderValueConfig)


@dataclass
class PopulationConfig:
    """A product's market (``population``): size, funnel, habit, lifecycle labels and segments.

    ``market_size`` M is the market being modelled, in real people: what budgets,
    prices and impressions act on. At most ``sample_size`` of them are simulated
    (N = min(sample_size, M); default: all of them); each simulated user stands for
    w = M / N real ones, and every count, revenue and cost is reported for the real
    market.
    """

    name: str = "custom"
    market_size: int = bounded(100_000, ge=1, le=MAX_MARKET_SIZE)
    sample_size: int | None = bounded(None, ge=1, le=MAX_SAMPLE_SIZE)
    awareness: AwarenessConfig = field(default_factory=AwarenessConfig)
    conversion_rate: float = bounded(0.1, ge=0, le=1)
    resurrection_rate: float = bounded(0.0, ge=0, le=1)
    habit: HabitConfig = field(default_factory=HabitConfig)
    lifecycle: LifecycleConfig = field(default_factory=LifecycleConfig)
    start_weekday: int = bounded(0, ge=0, le=6)
    weekly_visit_pattern: list[float] = field(default_factory=lambda: [1.0] * 7)
    weekly_purchase_pattern: list[float] = field(default_factory=lambda: [1.0] * 7)
    segments: dict[str, SegmentConfig] = field(default_factory=dict)
    trait_sampling: str = bounded("fast", choices=("fast", "smooth"))

    @property
    def simulated_users(self) -> int:
        """N: the users simulated (``sample_size``, at most the whole market)."""
        return self.market_size if self.sample_size is None else min(self.sample_size, self.market_size)

    @property
    def user_weight(self) -> float:
        """W = M / N: real users each simulated user stands for."""
        return self.market_size / self.simulated_users


def _check_weekly(key: str, pattern: list[float]) -> None:
    if len(pattern) != 7:
        raise ConfigError(key, list(pattern), "a list of 7 multipliers, Monday first")
    for i, x in enumerate(pattern):
        if not math.isfinite(x) or not 0 <= x <= MAX_MULTIPLIER:
            raise ConfigError(f"{key}[{i}]", x, f"a finite number >= 0 and <= {format_number(MAX_MULTIPLIER)}")


def check_population(pop: PopulationConfig, key: str = "population") -> None:
    """Check every range and cross-field rule of a population config.

    Raises:
        ConfigError: On the first offending value, naming its dotted key.

    """
    check_ranges(pop, key)
    if not pop.segments:
        raise ConfigError(f"{key}.segments", {}, "at least one segment (pick a preset: population=consumer_app)")
    if len(pop.segments) > MAX_SEGMENTS:
        raise ConfigError(f"{key}.segments", len(pop.segments), f"at most {MAX_SEGMENTS} segments")
    life = pop.lifecycle
    if life.churned_after_days <= life.dormant_after_days:
        raise ConfigError(
            f"{key}.lifecycle.churned_after_days",
            life.churned_after_days,
            f"more than {key}.lifecycle.dormant_after_days={life.dormant_after_days}",
        )
    _check_weekly(f"{key}.weekly_visit_pattern", pop.weekly_visit_pattern)
    _check_weekly(f"{key}.weekly_purchase_pattern", pop.weekly_purchase_pattern)


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
        """Number of slots (N, the simulated users)."""
        return int(self.stage.shape[0])

    @property
    def nbytes(self) -> int:
        """Bytes held by the state arrays."""
        return sum(getattr(self, f.name).nbytes for f in fields(self))

    @classmethod
    def create(cls, pop: PopulationConfig, segments: SegmentTable, streams: Streams) -> Population:
        """Allocate N slots (``pop.simulated_users``) and draw their latent traits from stream ``traits``.

        Draws are dense per chunk, so slot i has the same traits in any sample
        with more than i slots and the same segment weights. With
        ``trait_sampling: smooth`` each trait is the Beta (or normal) quantile of
        a fixed uniform, so it moves continuously with the parameters (what
        calibration needs); ``fast`` uses numpy's samplers.

        Args:
            pop: Population config (market size, segments).
            segments: The segment table built from ``pop``.
            streams: The run's random streams.

        """
        m = pop.simulated_users
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
