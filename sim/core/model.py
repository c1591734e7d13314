"""The Mesa model: owns the random streams and the population, and steps them a day at a time.

The model is *given* its parts: the population config, the levers (objects that
follow :class:`sim.core.hooks.LeverHooks`), the horizon and the seed. It builds
nothing from a strategy config itself (:mod:`sim.levers.strategy` does that, and
``sim.UserLifecycleModel`` wires the two together from a Hydra config).

One call to :meth:`LifecycleModel.step` simulates one day. The day's processes run
in this order for every slot (``docs/model.md`` §3), one method each:

1. awareness, then conversion and forgetting (:meth:`LifecycleModel._funnel`,
   :mod:`sim.core.awareness`);
2. visits and purchases of acquired, latent-alive users, then visits caused by
   levers (win-back) (:meth:`LifecycleModel._visits`, :mod:`sim.core.visits`);
3. acquisition bookkeeping: a conversion is the user's first visit
   (:meth:`LifecycleModel._acquisitions`);
4. habit update (:meth:`LifecycleModel._habit`);
5. death and natural resurrection (:meth:`LifecycleModel._survival`, :mod:`sim.core.survival`);
6. relabelling of the observable stage (:meth:`LifecycleModel._relabel`, :mod:`sim.core.lifecycle`);
7. daily counters and the cohort matrices (:meth:`LifecycleModel._count`).

Levers act through hooks between these steps, on the same chunks of slots, by
scaling each process's per-slot multipliers (:mod:`sim.core.hooks`).

Aggregates that feed back (yesterday's DAU for word of mouth) are fixed at the
start of the day, so slots are independent within a day. The vectorized core walks
the population in chunks of :data:`sim.core.rng.CHUNK_SIZE` slots; the reference
stepping (``reference=True``) runs every user's own :meth:`sim.core.agent.UserAgent.step`
with the same random numbers.
"""

from __future__ import annotations

import gc
import logging
import pickle
import weakref
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import mesa
import numpy as np

from sim.base.errors import first_line
from sim.base.float_sum import sum_in_order
from sim.core.agent import ReferenceDay, UserAgent
from sim.core.allocator import keep_freed_memory
from sim.core.awareness import become_aware, convert, hazard_edges
from sim.core.chunk_processes import (
    ChunkProcesses,
    SharedArray,
    fork_available,
    share_slot_arrays,
    shared_copy,
    slot_arrays,
)
from sim.core.daily_log import DAY_COUNTS, MC_GROUPS, DailyLog
from sim.core.flush_to_zero import habit_flush_is_exact
from sim.core.hooks import Chunk, Effects, Events, LeverHooks, Modifiers, at
from sim.core.kernels import load_kernels
from sim.core.lifecycle import STAGE_NAMES, Stage
from sim.core.population import Population, PopulationConfig, SegmentTable
from sim.core.reporters import model_reporters
from sim.core.rng import CHUNK_SIZE, Streams
from sim.core.survival import death_probability, exponent_steps
from sim.core.visits import purchases, update_habit, visit_probability

__all__ = [
    "AGENT_MODES",
    "MAX_CHANNELS",
    "MC_GROUPS",
    "PARALLEL_MODES",
    "REFERENCE_MAX_SLOTS",
    "ChunkVisitObserver",
    "LifecycleModel",
    "VisitObserver",
]

#: Largest market the agent-by-agent reference stepping accepts.
REFERENCE_MAX_SLOTS = 200_000
#: Markets up to this size get one Mesa agent per slot when ``agents=auto``.
AUTO_AGENTS_MAX_SLOTS = 10_000
#: Most acquisition channels a run may have: channel codes are int8.
MAX_CHANNELS = 127
#: Mesa agents: ``all`` (one per slot), ``lazy`` (created on demand), ``auto`` (all for small markets).
AGENT_MODES = ("auto", "all", "lazy")
#: How chunks step side by side when ``threads`` > 1: ``processes`` (forked workers over
#: shared per-slot state, :mod:`sim.core.chunk_processes`), ``threads``, or ``auto``
#: (processes where they can be forked, i.e. Linux; threads elsewhere).
PARALLEL_MODES = ("auto", "processes", "threads")
ORGANIC_CHANNELS = ("organic", "word_of_mouth")
#: Random streams of the organic processes, one uniform per slot and day each.
STREAMS = ("awareness", "activity", "survival")
#: Chunks a day is cut into, where the market is large enough (see :func:`blocks_of`);
#: more where more threads step them, so that every thread has a chunk.
TARGET_CHUNKS = 4
#: Most draw chunks (of :data:`sim.core.rng.CHUNK_SIZE` slots) stepped together: bounds the
#: per-chunk temporaries (about 60 bytes a slot, so some 30 MB per chunk in flight).
MAX_DRAW_CHUNKS_PER_CHUNK = 8


class VisitObserver(Protocol):
    """Takes each day's visitors as the model steps (e.g. ``sim.analysis.visit_stats.VisitStats``).

    The model calls :meth:`observe` once per day with the slots that visited
    (distinct, ascending) and their acquisition days; the observer keeps what it
    needs, so nothing of the visits has to stay in the model.

    An observer that also has ``observe_part(day, users, acquired_day) -> tally`` and
    ``add(tally)`` (:class:`ChunkVisitObserver`) takes the visitors chunk by chunk
    instead, where the chunks step side by side: ``observe_part`` may change only
    per-slot arrays at ``users`` (allocated when the observer is made: with worker
    processes they are shared with them), and returns a picklable tally of what it
    would add observer-wide, which the model adds with ``add`` in slot order.
    """

    def observe(self, day: int, users: np.ndarray, acquired_day: np.ndarray) -> None:
        """Take in one day's visitors."""


class ChunkVisitObserver(VisitObserver, Protocol):
    """A :class:`VisitObserver` that can take a day's visitors chunk by chunk (see there)."""

    def observe_part(self, day: int, users: np.ndarray, acquired_day: np.ndarray) -> Any:
        """Take in one chunk's visitors (per-slot state only); return what to :meth:`add`."""

    def add(self, tally: Any) -> None:
        """Add a chunk's tally (in the model's process, in slot order)."""


@dataclass
class DayContext:
    """Everything a day's step needs besides the slot's own state."""

    day: int
    edges: np.ndarray
    conversion: Any
    visit_weekday: float
    purchase_weekday: float


#: One draw chunk's revenue: in total, by acquisition cohort, by slot group.
Money = tuple[float, np.ndarray, np.ndarray]


#: Mesa's logger of model steps, and the start of the line it logs at INFO for every step.
MESA_STEP_LOGGER = "MESA.mesa.model"
MESA_STEP_LINE = "calling model.step"


class MesaStepLinesDropped(logging.Filter):
    """Drops Mesa's INFO line for every model step (one a simulated day; Mesa's other lines pass).

    opsim's own commands set the ``MESA`` logger to WARNING; in a user's Hydra app (root
    logger at INFO) a year's run printed 365 such lines a run, to the console and the
    app's log, from simulate(), the calibration, the planner's tasks and the model alike.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(MESA_STEP_LINE)


def drop_mesa_step_lines() -> None:
    """Put :class:`MesaStepLinesDropped` on Mesa's step logger, once (when the first model is built)."""
    logger = logging.getLogger(MESA_STEP_LOGGER)
    if not any(isinstance(f, MesaStepLinesDropped) for f in logger.filters):
        logger.addFilter(MesaStepLinesDropped())


@dataclass(frozen=True)
class Block:
    """A run of whole draw chunks stepped together as one :class:`Chunk`."""

    index: int
    lo: int
    hi: int
    parts: tuple[tuple[int, int, int], ...]  # (draw chunk, first, stop), local positions


def blocks_of(sample_size: int, threads: int = 1) -> list[Block]:
    """Group the draw chunks of N slots into chunks of whole draw chunks.

    ``ceil(draw chunks / max(TARGET_CHUNKS, threads))`` draw chunks each, between 1
    and :data:`MAX_DRAW_CHUNKS_PER_CHUNK`: large array operations (the Python overhead
    of each is paid once for many slots) and still a chunk for each of up to
    ``max(TARGET_CHUNKS, threads)`` threads (as many as there are draw chunks). The
    grouping depends on N and, beyond :data:`TARGET_CHUNKS` threads, on their number;
    no result depends on it.
    """
    draws = -(-sample_size // CHUNK_SIZE)
    per_block = max(1, min(MAX_DRAW_CHUNKS_PER_CHUNK, -(-draws // max(TARGET_CHUNKS, threads))))
    out = []
    for index, first in enumerate(range(0, draws, per_block)):
        lo = first * CHUNK_SIZE
        hi = min((first + per_block) * CHUNK_SIZE, sample_size)
        parts = tuple(
            (k, k * CHUNK_SIZE - lo, min((k + 1) * CHUNK_SIZE, sample_size) - lo)
            for k in range(first, min(first + per_block, draws))
        )
        out.append(Block(index, lo, hi, parts))
    return out


@dataclass
class ChunkDay:
    """One chunk's working state during one day's step (the processes hand it on)."""

    ch: Chunk
    fx: Effects
    u_aware: np.ndarray
    u_act: np.ndarray
    u_surv: np.ndarray
    totals: dict[str, Any]
    newly: np.ndarray | None = None
    aware: np.ndarray | None = None
    c_aware: Any = None
    conv: np.ndarray | None = None
    visited: np.ndarray | None = None
    vis_idx: np.ndarray | None = None
    events: Events | None = None
    buyers: list[np.ndarray] = field(default_factory=list)
    acquired: np.ndarray | None = None
    tenure: np.ndarray | None = None
    #: The day's counts of :data:`~sim.core.daily_log.DAY_COUNTS` (from the relabelling pass).
    counts: np.ndarray | None = None
    #: Per draw chunk: (revenue, revenue by cohort, revenue by slot group), None without purchases.
    money: list[Money | None] = field(default_factory=list)


@dataclass
class ChunkResult:
    """What one chunk's day leaves for the day's totals: counts, money per draw chunk, visitors, bookings."""

    ch: Chunk
    totals: dict[str, Any]
    money: list[Money | None]
    visits: np.ndarray | None
    #: The visit observer's tally of the chunk's visitors (observers that take chunks).
    observed: Any = None


def _refers_to(value: object, target: object) -> bool:
    """Whether ``value`` refers to ``target`` directly or through its attribute dict (a one-step cycle)."""
    referents = gc.get_referents(value)
    return any(r is target for r in referents) or any(
        isinstance(r, dict) and any(v is target for v in r.values()) for r in referents
    )


class LifecycleModel(mesa.Model):
    """Agent-based user lifecycle model of one product's market.

    Args:
        population: The market: size, funnel, habit, lifecycle thresholds, segments.
        horizon_days: Days the model can step.
        seed: Root seed of every random stream (and of Mesa's own RNG).
        levers: The strategy's levers, in the order their hooks run.
        record_events: Keep every visit (slot, day) in memory (:meth:`events`): memory
            grows with every visit; a run's analytics use ``visit_observer`` instead.
        visit_observer: Given each day's visitors as the model steps (see :class:`VisitObserver`).
        agents: ``all``, ``lazy`` or ``auto`` (see :data:`AGENT_MODES`).
        reference: Step agent by agent (each user's own ``step()``) instead of
            the vectorized core. Same rules, same random numbers; slow, for
            markets up to :data:`REFERENCE_MAX_SLOTS`, organic model only.
        agent_reporters: Agent reporters of the DataCollector (name → attribute name
            or function of a :class:`~sim.core.agent.UserAgent`), e.g. ``{"stage": "stage"}``;
            none by default.
        threads: Chunks of slots stepped side by side; the results are bit-identical
            for any number.
        parallel: How they step side by side (see :data:`PARALLEL_MODES`): in worker
            processes over shared memory, or in threads (numpy releases the GIL in its
            array loops, but the Python between them holds it).
        kernels: The backend of the day's hottest loops (see :data:`~sim.core.kernels.KERNEL_MODES`):
            numpy, or compiled with numba (``auto``: compiled where numba is installed);
            the results are bit-identical for either.

    Attributes:
        population_config: The population config.
        market_size: M, the real market.
        sample_size: N, the simulated users (slots).
        user_weight: w = M / N, real users per simulated user.
        population: The struct-of-arrays state (N slots).
        levers: The levers.
        modifiers: Day-level multipliers applied to the next step (user code).
        day: Number of days simulated so far (the next day to simulate).
        log: The daily counters (for the real market).
        dau: Daily active users of the last day stepped (real market).
        cohort_active: ``cohort_active[a, n]`` = simulated users acquired on day a and
            active on day a + n.
        cohort_revenue: ``cohort_revenue[a, n]`` = their revenue on day a + n (simulated users).
        cohort_purchases: ``cohort_purchases[a, n]`` = their purchases on day a + n (simulated users).
        group_acquired: Simulated users acquired so far in each of :data:`MC_GROUPS` slot groups.
        group_revenue: Their revenue so far, per group.
        datacollector: Mesa's ``DataCollector``: the model reporters of
            :mod:`sim.core.reporters`, collected when the model is built and after
            every step (row k = the state after k days), and the given agent reporters.
        running: True until the horizon is reached (Mesa's ``run_model`` and
            ``batch_run`` stop there; calling :meth:`step` past it is an error).

    """

    def __init__(
        self,
        population: PopulationConfig,
        *,
        horizon_days: int,
        seed: int,
        levers: Sequence[LeverHooks] = (),
        record_events: bool = True,
        agents: str = "auto",
        reference: bool = False,
        agent_reporters: Mapping[str, str | Callable[[UserAgent], Any]] | None = None,
        visit_observer: VisitObserver | None = None,
        threads: int = 1,
        parallel: str = "auto",
        kernels: str = "auto",
    ) -> None:
        super().__init__(rng=seed)  # rng=, not seed=: mesa 3.5 deprecates seed
        drop_mesa_step_lines()
        # Mesa set ``self.step`` to its own step (its clock, then this class's step). A day that cannot
        # be stepped is refused before Mesa's, which from Mesa 3.4 on schedules each next step only
        # when the last one returned: after a day that raised, it would silently step nothing.
        self._mesa_step = self.step
        self.step = self._refuse_or_step
        if agents not in AGENT_MODES:
            raise ValueError(f"agents={agents!r} is not allowed: one of {', '.join(AGENT_MODES)}")
        if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
            raise ValueError(f"threads={threads!r} is not allowed: a whole number >= 1")
        if parallel not in PARALLEL_MODES:
            raise ValueError(f"parallel={parallel!r} is not allowed: one of {', '.join(PARALLEL_MODES)}")
        keep_freed_memory()  # each day's temporaries reuse the previous day's memory (sim.core.allocator)
        self.threads = threads
        self._pool: ThreadPoolExecutor | None = None
        self._processes: ChunkProcesses | None = None
        #: Why no day may follow (a day that raised, chunk state lost at close), or None (see :meth:`step`).
        self._cannot_step: str | None = None
        self.population_config = population
        self.market_size = population.market_size
        self.sample_size = population.simulated_users
        self.user_weight = population.user_weight
        self.horizon = horizon_days
        self.seed = seed
        self.reference = reference
        self.record_events = record_events
        self.visit_observer = visit_observer
        self.levers = list(levers)
        if reference and self.levers:
            raise ValueError(
                "the strategy has levers; reference stepping implements the organic model only "
                "(use strategy=baseline, or the vectorized core)"
            )
        if reference and self.sample_size > REFERENCE_MAX_SLOTS:
            raise ValueError(
                f"population.sample_size={self.sample_size} is too large for reference stepping: "
                f"at most {REFERENCE_MAX_SLOTS} simulated users; use the vectorized core (reference=False)"
            )
        self.kernels = load_kernels(kernels)
        self.streams = Streams(seed, self.kernels)
        self.segments = SegmentTable.from_config(population)
        self.population = Population.create(population, self.segments, self.streams)
        self._blocks = blocks_of(self.sample_size, threads)
        self.modifiers = Modifiers()
        self.channels: list[str] = list(ORGANIC_CHANNELS)
        self.exponent_steps = exponent_steps(self.segments.churn_c, self.horizon)
        #: Whether decaying habits are flushed to zero (False for settings where that could relabel a user).
        self._flush_habit = habit_flush_is_exact(population.habit.gain, population.lifecycle.activated_habit)
        self.log = DailyLog(self.horizon, self.channels, self.market_size, self.sample_size)
        for lever in self.levers:
            if lever.channel is not None:
                self._channel_code(lever.channel)
        for lever in self.levers:
            lever.bind(self)
            self.log.add_cost(lever.label)
        self._build_channel_tables()
        self.cohort_active = np.zeros((self.horizon, self.horizon), dtype=np.int32)
        self.cohort_revenue = np.zeros((self.horizon, self.horizon), dtype=np.float64)
        self.cohort_purchases = np.zeros((self.horizon, self.horizon), dtype=np.int32)
        #: Visit events (slot, day), one array pair per day, when ``record_events`` is on.
        self.visit_slots: list[np.ndarray] = []
        self.visit_days: list[int] = []
        self.group_acquired = np.zeros(MC_GROUPS, dtype=np.int64)
        self.group_revenue = np.zeros(MC_GROUPS, dtype=np.float64)
        self.day = 0
        self.dau: float = 0
        self._active_sample = 0  # yesterday's DAU among the simulated users
        self.stage_counts = np.zeros(len(Stage), dtype=np.float64)
        self.stage_counts[Stage.UNAWARE] = self.market_size
        self.revenue = 0.0
        self._shared: list[SharedArray] = []
        self._visit_scratch: np.ndarray | None = None
        #: Per lever, the attributes a worker's copy keeps as its own: per-slot arrays (shared) and per-chunk state.
        self._kept = [
            frozenset(slot_arrays(lever, self.sample_size)) | frozenset(getattr(lever, "chunk_state", ()))
            for lever in self.levers
        ]
        self.parallel = self._parallel_mode(parallel)
        #: The observer takes each chunk's visitors in the chunk's step (see :class:`VisitObserver`), where
        #: chunks step side by side; one thread hands it whole days, in fewer calls (5 % faster here).
        self._observe_chunks = self.parallel != "one" and all(
            hasattr(visit_observer, m) for m in ("observe_part", "add")
        )
        #: The day's visitors are gathered in the model: kept as events, or for a whole-day observer.
        self._visits_kept = record_events or (visit_observer is not None and not self._observe_chunks)
        if self.parallel == "processes":  # before anything takes a view of the state
            observer = [visit_observer] if self._observe_chunks else []
            self._shared = share_slot_arrays([self.population, *self.levers, *observer], self.sample_size)
            if self._visits_kept:
                self._visit_scratch = shared_copy(np.zeros(self.sample_size, dtype=np.int32))
        self._users: dict[int, UserAgent] = {}
        if agents == "auto":
            agents = "all" if self.sample_size <= AUTO_AGENTS_MAX_SLOTS else "lazy"
        if agents == "all" or reference:
            for slot in range(self.sample_size):
                self._users[slot] = UserAgent(self, slot)
        self.datacollector = mesa.DataCollector(
            model_reporters=model_reporters(), agent_reporters=dict(agent_reporters or {})
        )
        self.datacollector.collect(self)

    # ----------------------------------------------------------------- agents
    def user(self, slot: int) -> UserAgent:
        """The Mesa agent of a slot, created (and registered) on first access."""
        if not 0 <= slot < self.sample_size:
            raise IndexError(f"slot={slot} is out of range: 0 <= slot < {self.sample_size}")
        agent = self._users.get(slot)
        if agent is None:
            agent = self._users[slot] = UserAgent(self, slot)
        return agent

    # ------------------------------------------------------------------ state
    @property
    def active_share(self) -> float:
        """DAU(t−1) / M: the share of the market active yesterday (estimated on the sample)."""
        return self._active_sample / self.sample_size

    @property
    def wau(self) -> int:
        """Users with a visit in the last :data:`WAU_DAYS` days (after the last step)."""
        return int(self.log.columns["wau"][self.day - 1]) if self.day else 0

    @property
    def mau(self) -> int:
        """Users with a visit in the last :data:`MAU_DAYS` days (after the last step)."""
        return int(self.log.columns["mau"][self.day - 1]) if self.day else 0

    def _channel_code(self, name: str) -> int:
        if name not in self.channels:
            if len(self.channels) >= MAX_CHANNELS:
                raise ValueError(f"channel={name!r}: at most {MAX_CHANNELS} acquisition channels")
            self.channels.append(name)
            self.log.add_channel(name)
            if hasattr(self, "_channel_tables"):
                self._build_channel_tables()
        return self.channels.index(name)

    def _build_channel_tables(self) -> None:
        """Per-channel multipliers (index: channel code + 1) and segment admission of lever channels.

        Built once the levers are bound and again each day after their ``begin_day``, so that
        a lever's ``channel_effects`` may depend on whether it is on today (the referral
        programme's conversion multiplier does).
        """
        n = len(self.channels) + 1
        tables = {name: np.ones(n, dtype=np.float32) for name in ("conversion", "churn", "visit")}
        admits = np.ones((len(self.channels), len(self.segments.names)), dtype=bool)
        for lever in self.levers:
            for channel, (conv, churn, visit) in lever.channel_effects().items():
                code = self.channels.index(channel) + 1
                tables["conversion"][code] *= conv
                tables["churn"][code] *= churn
                tables["visit"][code] *= visit
            admitted = lever.admitted_segments()
            if lever.channel is not None and admitted:
                admits[self.channels.index(lever.channel)] = [s in admitted for s in self.segments.names]
        self._channel_tables = {k: (t if (t != 1).any() else None) for k, t in tables.items()}
        self._admits = None if admits.all() else admits

    def _weekday(self) -> int:
        return (self.population_config.start_weekday + self.day) % 7

    def _day_context(self) -> DayContext:
        pop = self.population_config
        weekday = self._weekday()
        for lever in self.levers:
            lever.begin_day(self, weekday)
        self._build_channel_tables()  # a lever's channel effects may hold on the days it is on only
        extra = [0.0] * (len(self.channels) - len(ORGANIC_CHANNELS))
        for lever in self.levers:
            if lever.channel is not None:
                extra[self.channels.index(lever.channel) - len(ORGANIC_CHANNELS)] += lever.hazard_today
        organic = [0.0] * len(ORGANIC_CHANNELS)
        for name, hazard in self.modifiers.awareness.items():
            code = self._channel_code(name)
            if code < len(ORGANIC_CHANNELS):  # more of organic discovery or of word of mouth
                organic[code] += hazard
                continue
            extra += [0.0] * (code - len(ORGANIC_CHANNELS) + 1 - len(extra))
            extra[code - len(ORGANIC_CHANNELS)] += hazard
        edges = hazard_edges(
            pop.awareness.p, pop.awareness.q, self._active_sample, self.sample_size, extra, (organic[0], organic[1])
        )
        conversion = self.modifiers.conversion
        if isinstance(conversion, np.ndarray):
            conversion = (conversion * np.float32(pop.conversion_rate)).astype(np.float32)
        else:
            conversion = float(conversion) * pop.conversion_rate
        return DayContext(
            day=self.day,
            edges=edges,
            conversion=conversion,
            visit_weekday=pop.weekly_visit_pattern[weekday],
            purchase_weekday=pop.weekly_purchase_pattern[weekday],
        )

    # ------------------------------------------------------------------- step
    def step(self) -> None:
        """Simulate one day.

        A day that raises leaves the model part-way through it (some users stepped, some
        levers charged, the day not counted), so no day may follow it: the next call
        raises, naming the failed day.
        """
        self._refuse_a_day_that_cannot_be_stepped()
        try:
            self._step_day()
        except BaseException as exc:
            self._cannot_step = (
                f"day {self.day} failed ({first_line(exc)}): this model is part-way through that day and cannot "
                "step on; build a new model"
            )
            raise

    def _refuse_or_step(self) -> None:
        """``model.step()``: Mesa's step (its clock and step count, then :meth:`step`), if a day can be stepped."""
        self._refuse_a_day_that_cannot_be_stepped()
        self._mesa_step()

    def _refuse_a_day_that_cannot_be_stepped(self) -> None:
        if self.day >= self.horizon:
            raise RuntimeError(f"horizon_days={self.horizon} reached: the model cannot step past it")
        if self._cannot_step is not None:
            raise RuntimeError(self._cannot_step)

    def _step_day(self) -> None:
        ctx = self._day_context()
        tally = {"day": self.day, "weekday": self._weekday(), "awareness_hazard": float(ctx.edges[-1])}
        if self.reference:
            self._step_reference(ctx, tally)
        else:
            self._step_vectorized(ctx, tally)
        if self.levers:
            for lever in self.levers:
                tally[f"cost_{lever.label}"] = lever.cost_today
            tally["cost_total"] = sum_in_order(lever.cost_today for lever in self.levers)
        self._active_sample = int(tally["dau"])
        self.log.record(self.day, tally)
        row = {name: col[self.day] for name, col in self.log.columns.items()}
        self.dau = row["dau"]
        self.revenue += float(row["revenue"])
        self.stage_counts = np.array([row[name] for name in STAGE_NAMES], dtype=np.float64)
        self.day += 1
        self.running = self.day < self.horizon
        if not self.running:
            self.close()
        self.datacollector.collect(self)

    def new_totals(self) -> dict[str, Any]:
        """Zeroed per-day totals that the chunks (or agents) add to."""
        totals: dict[str, Any] = dict.fromkeys(
            (*STAGE_NAMES, "new_users", "dau", "wau", "mau", "purchases", "latent_alive"), 0
        )
        totals["revenue"] = 0.0
        totals["new_by_channel"] = np.zeros(len(self.channels), dtype=np.int64)
        totals["acquired_by_group"] = np.zeros(MC_GROUPS, dtype=np.int64)
        totals["revenue_by_group"] = np.zeros(MC_GROUPS, dtype=np.float64)
        totals["active_by_cohort"] = np.zeros(self.day + 1, dtype=np.int64)
        totals["revenue_by_cohort"] = np.zeros(self.day + 1, dtype=np.float64)
        totals["purchases_by_cohort"] = np.zeros(self.day + 1, dtype=np.int64)
        return totals

    def _finish_tally(self, tally: dict[str, Any], totals: dict[str, Any]) -> None:
        t = self.day
        cohorts = np.arange(t + 1)
        self.cohort_active[cohorts, t - cohorts] += totals.pop("active_by_cohort").astype(np.int32)
        self.cohort_revenue[cohorts, t - cohorts] += totals.pop("revenue_by_cohort")
        self.cohort_purchases[cohorts, t - cohorts] += totals.pop("purchases_by_cohort").astype(np.int32)
        self.group_acquired += totals.pop("acquired_by_group")
        self.group_revenue += totals.pop("revenue_by_group")
        for code, count in enumerate(totals.pop("new_by_channel")):
            tally[f"new_users_{self.channels[code]}"] = int(count)
        tally.update(totals)

    def _step_vectorized(self, ctx: DayContext, tally: dict[str, Any]) -> None:
        """Step every chunk (side by side in ``threads`` threads or processes), adding their totals up in slot order.

        Each chunk counts whole numbers from zero, and keeps its money per draw chunk
        (:attr:`ChunkDay.money`); adding those draw chunk by draw chunk in slot order,
        and running the lever bookings the same way (:meth:`Chunk.settle`), forms every
        float sum as one thread walking the draw chunks does. Results depend neither on
        the number of threads nor on how draw chunks are grouped into chunks.
        """
        if self.parallel == "processes":
            done = self._chunk_processes().step(ctx, self._day_state())
        elif (pool := self._thread_pool()) is not None:
            done = pool.map(lambda block: self._step_chunk(ctx, block), self._blocks)
        else:
            done = (self._step_chunk(ctx, block) for block in self._blocks)
        totals = self.new_totals()
        day_visits = []
        for out in done:  # slot order
            for key, value in out.totals.items():
                totals[key] += value
            for money in out.money:  # draw chunk by draw chunk
                if money is not None:
                    revenue, by_cohort, by_group = money
                    totals["revenue"] += revenue
                    totals["revenue_by_cohort"] += by_cohort
                    totals["revenue_by_group"] += by_group
            out.ch.settle()
            if out.observed is not None:
                self.visit_observer.add(out.observed)
            if out.visits is not None:
                day_visits.append(out.visits)
        if self._visits_kept:
            self._record_visits(np.concatenate(day_visits))  # every chunk gives an array, maybe empty
        self._finish_tally(tally, totals)
        if self._processes is not None:
            self._check_shared()

    def _step_chunk(self, ctx: DayContext, block: Block) -> ChunkResult:
        """One chunk's day: the processes in order; its own totals, money and visitors (global slots).

        Only the results are returned, not the day's per-slot temporaries: chunks that
        finish early do not hold their memory while the others run.
        """
        lo, hi = block.lo, block.hi
        mod = self.modifiers
        ch = Chunk(self.population, self.streams, self.channels, self.day, block.index, lo, hi, block.parts)
        fx = Effects(
            conversion=at(ctx.conversion, lo, hi),
            visit=at(mod.visit, lo, hi),
            hazard=at(mod.hazard, lo, hi),
            resurrection=at(mod.resurrection, lo, hi),
        )
        u_aware, u_act, u_surv = ch.uniforms_of(STREAMS)
        cd = ChunkDay(ch=ch, fx=fx, u_aware=u_aware, u_act=u_act, u_surv=u_surv, totals=self.new_totals())
        self._funnel(cd, ctx)
        self._visits(cd, ctx)
        self._acquisitions(cd, ctx)
        self._habit(cd)
        self._survival(cd)
        self._relabel(cd)
        self._count(cd)
        visits = observed = None
        if self._visits_kept or self._observe_chunks:
            slots = (cd.vis_idx + lo).astype(np.int32)
            if self._observe_chunks:
                observed = self.visit_observer.observe_part(ctx.day, slots, ch.acquired_day[cd.vis_idx])
            if self._visits_kept:
                visits = slots
        return ChunkResult(ch, cd.totals, cd.money, visits, observed)

    def _parallel_mode(self, setting: str) -> str:
        """``processes``, ``threads`` or ``one`` (nothing side by side) for this model."""
        if self.reference or min(self.threads, len(self._blocks)) <= 1:
            return "one"
        if setting == "threads" or (setting == "auto" and not fork_available()):
            return "threads"
        if not fork_available():
            raise ValueError("parallel='processes' is not available here (it needs fork, i.e. Linux): use threads")
        try:
            pickle.dumps(self._day_state())
        except Exception as exc:  # a lever whose state cannot be sent to a worker (a lambda, a lock, ...)
            reason = f"the levers' state cannot be sent to worker processes ({exc})"
        else:
            views = [
                f"{type(lever).__name__}.{name}"
                for lever in self.levers
                for name in slot_arrays(lever, self.sample_size, views=True)
            ]
            if not views:
                return "processes"
            reason = f"per-slot state that is a view of another array cannot be shared ({', '.join(views)})"
        if setting == "auto":
            return "threads"
        raise ValueError(f"parallel='processes': {reason}; use threads")

    def _chunk_processes(self) -> ChunkProcesses:
        """The worker processes, forked at the first day (each steps a contiguous share of the chunks).

        This process steps the first share, the largest where the last chunk is short
        (524,288 slots against 475,712 at 1,000,000 users), so the workers' results are
        ready when it is done; taking the smallest made ``balanced_mix`` 8 % slower here
        (5.0 against 5.4 s, three alternating rounds). Being first in slot order, its
        share is also added up while the workers still step theirs.
        """
        if self._processes is None:
            workers = min(self.threads, len(self._blocks))
            shares = [list(share) for share in np.array_split(np.array(self._blocks, dtype=object), workers)]
            self._processes = ChunkProcesses(
                shares,
                self._step_chunk,
                self._apply_day_state,
                self._check_day_state,
                self.levers,
                self._visit_scratch,
            )
            # stops the workers if the model is dropped unfinished; close() runs it (and lets go of it) itself
            self._stop_processes = weakref.finalize(self, ChunkProcesses.close, self._processes)
        return self._processes

    def _day_state(self) -> dict[str, Any]:
        """What a worker's copy of the model needs for a day besides the shared per-slot arrays."""
        return {
            "day": self.day,
            "channels": list(self.channels),
            "channel_tables": self._channel_tables,
            "admits": self._admits,
            "modifiers": self.modifiers,
            "levers": [
                pickle.dumps(self._lever_state(lever, kept))
                for lever, kept in zip(self.levers, self._kept, strict=True)
            ],
        }

    @staticmethod
    def _lever_state(lever: LeverHooks, kept: frozenset[str]) -> dict[str, Any]:
        """A lever's lever-wide state: its attributes but the per-slot arrays and per-chunk state it keeps."""
        return {k: v for k, v in vars(lever).items() if k not in kept}

    def _apply_day_state(self, state: dict[str, Any]) -> None:
        """In a worker: take the parent's day state (see :meth:`_day_state`)."""
        self.day = state["day"]
        self.channels[:] = state["channels"]
        self._channel_tables, self._admits = state["channel_tables"], state["admits"]
        self.modifiers = state["modifiers"]
        for lever, values in zip(self.levers, state["levers"], strict=True):
            vars(lever).update(pickle.loads(values))

    def _check_day_state(self, state: dict[str, Any]) -> None:
        """In a worker, after its chunks: refuse what a hook changed that would stay in this copy.

        That is lever-wide state, and per-slot state replaced or allocated in a hook of
        this worker's chunks only (the model checks its own copy after each day).
        """
        self._check_shared()
        for lever, kept, sent in zip(self.levers, self._kept, state["levers"], strict=True):
            now = self._lever_state(lever, kept)
            if pickle.dumps(now) == sent:
                continue
            before = pickle.loads(sent)
            changed = sorted(now.keys() ^ before.keys()) or [
                k for k in now if pickle.dumps(now[k]) != pickle.dumps(before[k])
            ]
            if not changed:  # the same values, pickled in another order or with other sharing
                continue
            raise RuntimeError(
                f"{type(lever).__name__}.{', '.join(changed)} changed in a hook, in a worker process's copy of "
                "the lever; with parallel=processes set lever-wide state in begin_day, book it through the chunk "
                "(Chunk.defer), or name per-chunk state in chunk_state (or use parallel=threads)"
            )

    def _check_shared(self) -> None:
        """Refuse per-slot state that the workers would not see: a replaced shared array, or a new one."""
        for item in self._shared:
            if getattr(item.owner, item.name) is not item.array:
                raise RuntimeError(
                    f"{type(item.owner).__name__}.{item.name} was replaced by a new array during the day; with "
                    "parallel=processes per-slot state must be written in place (or use parallel=threads)"
                )
        for lever, kept in zip(self.levers, self._kept, strict=True):
            for name in slot_arrays(lever, self.sample_size):
                if name not in kept:
                    raise RuntimeError(
                        f"{type(lever).__name__}.{name} is per-slot state allocated after bind(); with "
                        "parallel=processes allocate it in bind() (or use parallel=threads)"
                    )

    def _thread_pool(self) -> ThreadPoolExecutor | None:
        """The threads that step chunks side by side (None: step in this thread)."""
        workers = min(self.threads, len(self._blocks))
        if workers <= 1:
            return None
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="opsim-chunk")
            weakref.finalize(self, self._pool.shutdown, wait=False)
        return self._pool

    def close(self) -> None:
        """Let the chunk threads or processes go (done by itself at the horizon; stepping again would start new ones).

        Before the horizon, the levers' per-chunk state (``Lever.chunk_state``) that the
        worker processes kept for their chunks is first brought back into the model's
        levers, from which new workers would be forked; if it cannot be (a worker gone
        or busy), the workers are stopped all the same and the next :meth:`step` raises.
        """
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._processes is not None:
            if self.day < self.horizon and self._cannot_step is None:
                try:
                    self._processes.take_chunk_state()
                except Exception as exc:
                    self._cannot_step = (
                        f"the worker processes' per-chunk state could not be taken back when they were closed "
                        f"({first_line(exc)}): this model cannot step on; build a new model"
                    )
            self._stop_processes()
            self._processes = None

    def release(self) -> None:
        """Let a finished model be freed as soon as it is no longer used (call it once it is done stepping).

        Two references keep a Mesa model alive after its last use. The model holds its
        own bound ``step`` methods (Mesa wraps ``step``): a reference cycle, which Python
        frees only at its next full collection (about 44 ms after a default run here).
        And Mesa 3.3 registers every model that made an agent in the class attribute
        ``mesa.Agent._ids``, so such a model is never freed (mesa#3179, fixed upstream by
        mesa#3180): 2.4 MiB a run of 5,000 users here, which a calibration or a plan of
        thousands of runs would pile up. Both are dropped here, and so is every attribute
        that refers back to the model itself or through its own attributes: from Mesa 3.4
        on, its step schedule (an event generator, which is also stopped) and its scenario
        do. Agents and their model still form cycles, which the collector frees. A
        released model steps no further day (without Mesa's step it would step outside
        Mesa's clock).
        """
        self.close()
        if self._cannot_step is None:
            self._cannot_step = "this model was released: build a new model to step"
        for generator in list(getattr(self, "_event_generators", ())):  # Mesa 3.4+: they refer to the model
            generator.stop()  # (and leave the model's set of them)
        for name, value in list(vars(self).items()):
            if getattr(value, "__self__", None) is self or _refers_to(value, self):
                delattr(self, name)
        registry = getattr(mesa.Agent, "_ids", None)
        if isinstance(registry, dict):
            registry.pop(self, None)

    # -------------------------------------------------------- the processes
    def _funnel(self, cd: ChunkDay, ctx: DayContext) -> None:
        """1. Awareness (Bass), then conversion AWARE → NEW and forgetting; channel quality of new users."""
        ch, tables = cd.ch, self._channel_tables
        cd.newly = become_aware(ch.stage, ch.channel, ch.segment, cd.u_aware, ctx.edges, self._admits, ch.flags)
        aware = ch.nonzero(ch.stage == Stage.AWARE)
        c_aware = cd.fx.conversion[aware] if isinstance(cd.fx.conversion, np.ndarray) else cd.fx.conversion
        if tables["conversion"] is not None:
            c_aware = c_aware * tables["conversion"][ch.channel[aware].astype(np.intp) + 1]
        for lever in self.levers:
            c_aware = lever.conversion_effects(ch, aware, c_aware)
        conv = convert(ch.stage, cd.newly, cd.u_act, aware, c_aware, self.population_config.awareness.forget_rate)
        if conv.size and (tables["churn"] is not None or tables["visit"] is not None):
            codes = ch.channel[conv].astype(np.intp) + 1
            churn_q = tables["churn"][codes] if tables["churn"] is not None else 1.0
            visit_q = tables["visit"][codes] if tables["visit"] is not None else 1.0
            ch.scale_traits(conv, churn_q, visit_q)
        for lever in self.levers:
            lever.on_acquired(ch, conv)
        cd.aware, cd.c_aware, cd.conv = aware, c_aware, conv

    def _visits(self, cd: ChunkDay, ctx: DayContext) -> None:
        """2. Visits and purchases of users acquired before today, then lever-caused visits."""
        ch, fx = cd.ch, cd.fx
        rho, w_p = self.segments.purchase_prob, ctx.purchase_weekday
        for lever in self.levers:
            lever.visit_effects(ch, fx)
        habit = self.population_config.habit
        live = ch.nonzero(ch.alive)  # few of the slots: only theirs are computed
        live = live[ch.stage[live] >= Stage.NEW]
        v = visit_probability(
            self.population.visit_propensity[ch.lo : ch.hi][live],
            ch.habit[live],
            ctx.visit_weekday,
            habit.strength,
            fx.visit if np.isscalar(fx.visit) else fx.visit[live],
        )
        came = cd.u_act[live] < v
        vis_idx = live[came]
        visited = np.zeros(ch.n, dtype=bool)
        visited[vis_idx] = True
        cd.buyers.append(purchases(vis_idx, cd.u_act, v[came], ch.segment, rho, w_p))
        c_aware, conv = cd.c_aware, cd.conv
        conv_prob = c_aware[np.searchsorted(cd.aware, conv)] if isinstance(c_aware, np.ndarray) else np.float32(c_aware)
        cd.buyers.append(purchases(conv, cd.u_act, conv_prob, ch.segment, rho, w_p))
        ev = Events(converted=conv, visited=visited)
        for lever in self.levers:
            lever.extra_visits(ch, ev)
        for idx in ev.extra_visitors:
            cd.buyers.append(purchases(idx, cd.u_aware, np.float32(1.0), ch.segment, rho, w_p))
        cd.visited, cd.events = visited, ev

    def _acquisitions(self, cd: ChunkDay, ctx: DayContext) -> None:
        """3. Acquisition bookkeeping (the acquisition day is the first visit); revenue of the day."""
        ch, conv, totals = cd.ch, cd.conv, cd.totals
        day16 = np.int16(ctx.day)
        if conv.size:
            ch.acquired_day[conv] = day16
            ch.alive[conv] = True
            ch.stage[conv] = Stage.NEW  # so today's later hooks (rewards, hazard) see them as acquired
            cd.visited[conv] = True
            totals["new_by_channel"] += np.bincount(ch.channel[conv], minlength=len(self.channels))
            totals["acquired_by_group"] += np.bincount((conv + ch.lo) % MC_GROUPS, minlength=MC_GROUPS)
        cd.vis_idx = ch.nonzero(cd.visited)
        ch.last_visit_day[cd.vis_idx] = day16
        buy = np.concatenate(cd.buyers)
        totals["purchases"] += buy.size
        if buy.size:
            totals["purchases_by_cohort"] += np.bincount(ch.acquired_day[buy], minlength=ctx.day + 1)
        cd.money = [self._money(ch, b, ctx.day) for b in self._by_draw_chunk(ch, buy)]

    @staticmethod
    def _by_draw_chunk(ch: Chunk, idx: np.ndarray) -> list[np.ndarray]:
        """``idx`` cut by draw chunk (:attr:`Chunk.parts`), each piece in the order of ``idx``."""
        if len(ch.parts) == 1:
            return [idx]
        part = ch.part_of(idx)
        order = np.argsort(part, kind="stable")
        return np.split(idx[order], np.cumsum(np.bincount(part, minlength=len(ch.parts)))[:-1])

    @staticmethod
    def _money(ch: Chunk, buy: np.ndarray, day: int) -> Money | None:
        """One draw chunk's revenue: in total, by acquisition cohort and by slot group (None: no purchase)."""
        if not buy.size:
            return None
        spent = ch.order_value[buy].astype(np.float64)
        return (
            float(spent.sum()),
            np.bincount(ch.acquired_day[buy], weights=spent, minlength=day + 1),
            np.bincount((buy + ch.lo) % MC_GROUPS, weights=spent, minlength=MC_GROUPS),
        )

    def _habit(self, cd: ChunkDay) -> None:
        """4. Habit update after the day's visits; levers observe the visits."""
        habit = self.population_config.habit
        update_habit(cd.ch.habit, cd.visited, cd.vis_idx, habit.gain, habit.decay, self.day, flush=self._flush_habit)
        cd.events.visit_idx = cd.vis_idx
        for lever in self.levers:
            lever.on_visits(cd.ch, cd.events)

    def _survival(self, cd: ChunkDay) -> None:
        """5. Latent death, and natural resurrection of latent-dead users."""
        ch, fx = cd.ch, cd.fx
        day16 = np.int16(self.day)
        cd.acquired = ch.acquired_day >= 0
        cd.tenure = day16 - ch.acquired_day
        for lever in self.levers:
            lever.hazard_effects(ch, fx)
        q = death_probability(
            self.population.churn_hazard[ch.lo : ch.hi], ch.segment, cd.tenure, self.exponent_steps, fx.hazard
        )
        dies = ch.alive & (cd.u_surv < q)
        resurrection = self.population_config.resurrection_rate
        if resurrection > 0:
            r = np.float32(resurrection) * fx.resurrection
            revives = cd.acquired & ~ch.alive & (cd.u_surv < r)
            ch.alive ^= revives
        ch.alive ^= dies

    def _relabel(self, cd: ChunkDay) -> None:
        """6. The observable stage from tenure, silence and habit; the day's counts by stage, WAU, MAU, alive."""
        life = self.population_config.lifecycle
        cd.counts = self.kernels.relabel_and_count(cd.ch, cd.acquired, cd.tenure, day=self.day, life=life)

    def _count(self, cd: ChunkDay) -> None:
        """7. The day's counters and the cohort matrix row."""
        ch, totals, vis_idx = cd.ch, cd.totals, cd.vis_idx
        for name, count in zip(DAY_COUNTS, cd.counts.tolist(), strict=True):
            totals[name] += count
        totals["new_users"] += cd.conv.size
        totals["dau"] += vis_idx.size
        if vis_idx.size:
            totals["active_by_cohort"] += np.bincount(ch.acquired_day[vis_idx], minlength=self.day + 1)

    # ---------------------------------------------------------------- events
    def _record_visits(self, slots: np.ndarray) -> None:
        if self.visit_observer is not None and not self._observe_chunks:
            self.visit_observer.observe(self.day, slots, self.population.acquired_day[slots])
        if self.record_events:
            self.visit_slots.append(slots)
            self.visit_days.append(self.day)

    def events(self) -> tuple[np.ndarray, np.ndarray]:
        """All recorded visits as (slot int32, day int16) arrays, sorted by day then slot."""
        if not self.visit_slots:
            return np.zeros(0, np.int32), np.zeros(0, np.int16)
        days = np.repeat(np.array(self.visit_days, dtype=np.int16), [s.size for s in self.visit_slots])
        return np.concatenate(self.visit_slots), days

    # ------------------------------------------------------------- reference
    def _step_reference(self, ctx: DayContext, tally: dict[str, Any]) -> None:
        t, n_slots = self.day, self.sample_size
        uniforms = {name: np.empty(n_slots, dtype=np.float32) for name in STREAMS}
        for chunk, lo in enumerate(range(0, n_slots, CHUNK_SIZE)):
            hi = min(lo + CHUNK_SIZE, n_slots)
            for name in STREAMS:
                uniforms[name][lo:hi] = self.streams.uniforms(name, t, chunk, hi - lo)
        today = ReferenceDay(
            day=t,
            edges=ctx.edges,
            conversion=ctx.conversion,
            visit_weekday=ctx.visit_weekday,
            purchase_weekday=ctx.purchase_weekday,
            uniforms=uniforms,
            totals=self.new_totals(),
        )
        self.agents.do("step", today)
        if self.record_events or self.visit_observer is not None:
            self._record_visits(np.array(sorted(today.visited), dtype=np.int32))
        self._finish_tally(tally, today.totals)
