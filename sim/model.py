"""The Mesa model: owns the config, the random streams and the population.

One call to :meth:`UserLifecycleModel.step` simulates one day. The day's
processes run in this order for every slot (see ``docs/model.md``):

1. awareness, then conversion and forgetting (:mod:`sim.awareness`);
2. visits and purchases of acquired, latent-alive users (:mod:`sim.visits`),
   then visits caused by levers (win-back);
3. acquisition bookkeeping (a conversion is the user's first visit);
4. habit update (:mod:`sim.visits`);
5. death and natural resurrection (:mod:`sim.survival`);
6. relabelling of the observable stage (:mod:`sim.lifecycle`);
7. daily counters, lever costs and the cohort matrices.

Levers (:mod:`sim.levers`) act through hooks between these steps, on the same
chunks of slots, by scaling each process's per-slot multipliers.

Aggregates that feed back (yesterday's DAU for word of mouth) are fixed at the
start of the day, so slots are independent within a day. The vectorized core
walks the population in chunks of :data:`sim.rng.CHUNK_SIZE` slots; the
reference stepping (``reference=True``) runs every user's own
:meth:`sim.agent.UserAgent.step` with the same random numbers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

import mesa
import numpy as np

from sim.agent import UserAgent
from sim.awareness import become_aware, convert, hazard_edges
from sim.config import Config, load_config
from sim.levers import Chunk, Effects, Events
from sim.levers.base import apply_quality
from sim.lifecycle import STAGE_NAMES, Stage, relabel
from sim.modifiers import Modifiers, at
from sim.population import Population, SegmentTable
from sim.rng import CHUNK_SIZE, Streams
from sim.strategy import build_levers
from sim.survival import death_probability, exponent_steps
from sim.visits import purchases, update_habit, visit_probability

__all__ = ["REFERENCE_MAX_SLOTS", "UserLifecycleModel"]

#: Largest market the agent-by-agent reference stepping accepts.
REFERENCE_MAX_SLOTS = 200_000
#: Markets up to this size get one Mesa agent per slot when ``agents=auto``.
AUTO_AGENTS_MAX_SLOTS = 10_000
ORGANIC_CHANNELS = ("organic", "word_of_mouth")
STREAMS = ("awareness", "activity", "survival")


@dataclasses.dataclass
class DayContext:
    """Everything a day's step needs besides the slot's own state."""

    day: int
    edges: np.ndarray
    conversion: Any
    visit_weekday: float
    purchase_weekday: float
    uniforms: dict[str, np.ndarray] | None = None


class DailyLog:
    """Preallocated daily counters: one row per day, one array per column."""

    def __init__(self, horizon: int, channels: Iterable[str]) -> None:
        self.horizon = horizon
        self.columns: dict[str, np.ndarray] = {}
        for name in ("day", "weekday", *STAGE_NAMES, "new_users", "dau", "wau", "mau", "purchases"):
            self.columns[name] = np.zeros(horizon, dtype=np.int64)
        for name in ("revenue", "awareness_hazard"):
            self.columns[name] = np.zeros(horizon, dtype=np.float64)
        self.columns["latent_alive"] = np.zeros(horizon, dtype=np.int64)
        for ch in channels:
            self.add_channel(ch)

    def add_channel(self, channel: str) -> None:
        """Add a ``new_users_<channel>`` column."""
        self.columns.setdefault(f"new_users_{channel}", np.zeros(self.horizon, dtype=np.int64))

    def add_cost(self, label: str) -> None:
        """Add a ``cost_<lever>`` column (and ``cost_total``)."""
        self.columns.setdefault("cost_total", np.zeros(self.horizon, dtype=np.float64))
        self.columns.setdefault(f"cost_{label}", np.zeros(self.horizon, dtype=np.float64))

    def record(self, day: int, values: Mapping[str, float]) -> None:
        """Store one day's values."""
        for key, value in values.items():
            self.columns[key][day] = value


class UserLifecycleModel(mesa.Model):
    """Agent-based user lifecycle model of one product's market.

    Args:
        config: Anything :func:`sim.config.load_config` accepts (a
            :class:`~sim.config.Config`, a mapping, a list of overrides, None).
        reference: Step agent by agent (each user's own ``step()``) instead of
            the vectorized core. Same rules, same random numbers; slow, for
            markets up to :data:`REFERENCE_MAX_SLOTS`.

    Attributes:
        config: The validated config.
        population: The struct-of-arrays state.
        modifiers: Lever multipliers applied to the next step.
        day: Number of days simulated so far (the next day to simulate).
        log: The daily counters.
        cohort_active: ``cohort_active[a, n]`` = users acquired on day a and
            active on day a + n.

    """

    def __init__(self, config: Config | Mapping[str, Any] | Iterable[str] | None = None, *, reference: bool = False):
        cfg = load_config(config)
        super().__init__(rng=cfg.seed)  # rng=, not seed=: mesa 3.5 deprecates seed
        self.config = cfg
        pop = cfg.population
        self.market_size = pop.market_size
        self.horizon = cfg.horizon_days
        self.reference = reference
        self.levers = build_levers(cfg.strategy)
        if reference and self.levers:
            raise ValueError(
                f"strategy={cfg.strategy.name!r} has levers; reference stepping implements the organic model only "
                "(use strategy=baseline, or the vectorized core)"
            )
        if reference and self.market_size > REFERENCE_MAX_SLOTS:
            raise ValueError(
                f"population.market_size={self.market_size} is too large for reference stepping: "
                f"at most {REFERENCE_MAX_SLOTS}; use the vectorized core (reference=False)"
            )
        self.streams = Streams(cfg.seed)
        self.segments = SegmentTable.from_config(pop)
        self.population = Population.create(pop, self.segments, self.streams)
        self.modifiers = Modifiers()
        self.channels: list[str] = list(ORGANIC_CHANNELS)
        self.exponent_steps = exponent_steps(self.segments.churn_c, self.horizon)
        self.log = DailyLog(self.horizon, self.channels)
        for lever in self.levers:
            if lever.channel is not None:
                self._channel_code(lever.channel)
        for lever in self.levers:
            lever.bind(self)
            self.log.add_cost(lever.label)
        self._build_channel_tables()
        self.cohort_active = np.zeros((self.horizon, self.horizon), dtype=np.int32)
        self.cohort_revenue = np.zeros((self.horizon, self.horizon), dtype=np.float64)
        #: Visit events (slot, day), one array pair per day, when ``record_events`` is on.
        self.visit_slots: list[np.ndarray] = []
        self.visit_days: list[int] = []
        self.day = 0
        self.dau = 0
        self.stage_counts = np.zeros(len(Stage), dtype=np.int64)
        self.stage_counts[Stage.UNAWARE] = self.market_size
        self.revenue = 0.0
        self._users: dict[int, UserAgent] = {}
        mode = cfg.agents
        if mode == "auto":
            mode = "all" if self.market_size <= AUTO_AGENTS_MAX_SLOTS else "lazy"
        if mode == "all" or reference:
            for slot in range(self.market_size):
                self._users[slot] = UserAgent(self, slot)

    # ----------------------------------------------------------------- agents
    def user(self, slot: int) -> UserAgent:
        """The Mesa agent of a slot, created (and registered) on first access."""
        if not 0 <= slot < self.market_size:
            raise IndexError(f"slot={slot} is out of range: 0 <= slot < {self.market_size}")
        agent = self._users.get(slot)
        if agent is None:
            agent = self._users[slot] = UserAgent(self, slot)
        return agent

    # ------------------------------------------------------------------ state
    @property
    def wau(self) -> int:
        """Users with a visit in the last 7 days (after the last step)."""
        return int(self.log.columns["wau"][self.day - 1]) if self.day else 0

    @property
    def mau(self) -> int:
        """Users with a visit in the last 30 days (after the last step)."""
        return int(self.log.columns["mau"][self.day - 1]) if self.day else 0

    def _channel_code(self, name: str) -> int:
        if name not in self.channels:
            if len(self.channels) >= 127:
                raise ValueError(f"channel={name!r}: at most 127 acquisition channels")
            self.channels.append(name)
            self.log.add_channel(name)
            if hasattr(self, "_channel_tables"):
                self._build_channel_tables()
        return self.channels.index(name)

    def _build_channel_tables(self) -> None:
        """Per-channel multipliers (index: channel code + 1) and segment admission of lever channels."""
        n = len(self.channels) + 1
        tables = {name: np.ones(n, dtype=np.float32) for name in ("conversion", "churn", "visit")}
        admits = np.ones((len(self.channels), len(self.segments.names)), dtype=bool)
        for lever in self.levers:
            for channel, (conv, churn, visit) in lever.channel_effects().items():
                code = self.channels.index(channel) + 1
                tables["conversion"][code] *= conv
                tables["churn"][code] *= churn
                tables["visit"][code] *= visit
            if lever.channel is not None and lever.cfg.target.segments:
                admits[self.channels.index(lever.channel)] = [
                    s in lever.cfg.target.segments for s in self.segments.names
                ]
        self._channel_tables = {k: (t if (t != 1).any() else None) for k, t in tables.items()}
        self._admits = None if admits.all() else admits

    def _day_context(self) -> DayContext:
        pop = self.config.population
        weekday = (pop.start_weekday + self.day) % 7
        for lever in self.levers:
            lever.begin_day(self, weekday)
        extra = [0.0] * (len(self.channels) - len(ORGANIC_CHANNELS))
        for lever in self.levers:
            if lever.channel is not None:
                extra[self.channels.index(lever.channel) - len(ORGANIC_CHANNELS)] += lever.hazard_today
        for name, hazard in self.modifiers.awareness.items():
            code = self._channel_code(name)
            extra += [0.0] * (code - len(ORGANIC_CHANNELS) + 1 - len(extra))
            extra[code - len(ORGANIC_CHANNELS)] += hazard
        edges = hazard_edges(pop.awareness.p, pop.awareness.q, self.dau, self.market_size, extra)
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
        """Simulate one day."""
        if self.day >= self.horizon:
            raise RuntimeError(f"horizon_days={self.horizon} reached: the model cannot step past it")
        ctx = self._day_context()
        tally = {
            "day": self.day,
            "weekday": (self.config.population.start_weekday + self.day) % 7,
            "awareness_hazard": float(ctx.edges[-1]),
        }
        if self.reference:
            self._step_reference(ctx, tally)
        else:
            self._step_vectorized(ctx, tally)
        if self.levers:
            for lever in self.levers:
                tally[f"cost_{lever.label}"] = lever.cost_today
            tally["cost_total"] = sum(lever.cost_today for lever in self.levers)
        self.log.record(self.day, tally)
        self.dau = int(tally["dau"])
        self.revenue += tally["revenue"]
        self.stage_counts = np.array([tally[name] for name in STAGE_NAMES], dtype=np.int64)
        self.day += 1

    def _new_tally(self) -> dict[str, Any]:
        tally: dict[str, Any] = dict.fromkeys(
            (*STAGE_NAMES, "new_users", "dau", "wau", "mau", "purchases", "latent_alive"), 0
        )
        tally["revenue"] = 0.0
        tally["new_by_channel"] = np.zeros(len(self.channels), dtype=np.int64)
        tally["active_by_cohort"] = np.zeros(self.day + 1, dtype=np.int64)
        tally["revenue_by_cohort"] = np.zeros(self.day + 1, dtype=np.float64)
        return tally

    def _finish_tally(self, tally: dict[str, Any], totals: dict[str, Any]) -> None:
        t = self.day
        cohorts = np.arange(t + 1)
        self.cohort_active[cohorts, t - cohorts] += totals.pop("active_by_cohort").astype(np.int32)
        self.cohort_revenue[cohorts, t - cohorts] += totals.pop("revenue_by_cohort")
        for code, count in enumerate(totals.pop("new_by_channel")):
            tally[f"new_users_{self.channels[code]}"] = int(count)
        tally.update(totals)

    def _step_vectorized(self, ctx: DayContext, tally: dict[str, Any]) -> None:
        pop_cfg = self.config.population
        habit_cfg, life = pop_cfg.habit, pop_cfg.lifecycle
        P, mod, levers, tables = self.population, self.modifiers, self.levers, self._channel_tables
        rho, w_p = self.segments.purchase_prob, ctx.purchase_weekday
        t = self.day
        day16 = np.int16(t)
        totals = self._new_tally()
        resurrection = pop_cfg.resurrection_rate
        record, day_visits = self.config.record_events, []
        for chunk, lo in enumerate(range(0, self.market_size, CHUNK_SIZE)):
            hi = min(lo + CHUNK_SIZE, self.market_size)
            ch = Chunk(self, chunk, lo, hi)
            stage, alive, segment, channel = ch.stage, ch.alive, ch.segment, ch.channel
            habit, acq, last = ch.habit, ch.acquired_day, ch.last_visit_day
            u_aware = self.streams.uniforms("awareness", t, chunk, ch.n)
            u_act = self.streams.uniforms("activity", t, chunk, ch.n)
            u_surv = self.streams.uniforms("survival", t, chunk, ch.n)
            fx = Effects(
                conversion=at(ctx.conversion, lo, hi),
                visit=at(mod.visit, lo, hi),
                hazard=at(mod.hazard, lo, hi),
                resurrection=at(mod.resurrection, lo, hi),
            )
            # 1. awareness, then conversion and forgetting
            newly = become_aware(stage, channel, segment, u_aware, ctx.edges, self._admits, ch.flags)
            aware = np.flatnonzero(stage == Stage.AWARE)
            c_aware = fx.conversion[aware] if isinstance(fx.conversion, np.ndarray) else fx.conversion
            if tables["conversion"] is not None:
                c_aware = c_aware * tables["conversion"][channel[aware].astype(np.intp) + 1]
            for lever in levers:
                c_aware = lever.conversion_effects(ch, aware, c_aware)
            conv = convert(stage, newly, u_act, aware, c_aware, pop_cfg.awareness.forget_rate)
            if conv.size and (tables["churn"] is not None or tables["visit"] is not None):
                codes = channel[conv].astype(np.intp) + 1
                churn_q = tables["churn"][codes] if tables["churn"] is not None else 1.0
                visit_q = tables["visit"][codes] if tables["visit"] is not None else 1.0
                apply_quality(ch, conv, churn_q, visit_q)
            for lever in levers:
                lever.on_acquired(ch, conv)
            # 2. visits and purchases (acquired before today), then lever-caused visits
            for lever in levers:
                lever.visit_effects(ch, fx)
            v = visit_probability(P.visit_propensity[lo:hi], habit, ctx.visit_weekday, habit_cfg.strength, fx.visit)
            visited = (stage >= Stage.NEW) & alive & (u_act < v)
            vis_idx = np.flatnonzero(visited)
            buyers = [purchases(vis_idx, u_act, v[vis_idx], segment, rho, w_p)]
            conv_prob = (
                c_aware[np.searchsorted(aware, conv)] if isinstance(c_aware, np.ndarray) else np.float32(c_aware)
            )
            buyers.append(purchases(conv, u_act, conv_prob, segment, rho, w_p))
            ev = Events(converted=conv, visited=visited)
            for lever in levers:
                lever.extra_visits(ch, ev)
            for idx in ev.extra_visitors:
                buyers.append(purchases(idx, u_aware, np.float32(1.0), segment, rho, w_p))
            # 3. acquisitions: the acquisition day is the first visit
            if conv.size:
                acq[conv] = day16
                alive[conv] = True
                visited[conv] = True
                totals["new_by_channel"] += np.bincount(channel[conv], minlength=len(self.channels))
            vis_idx = np.flatnonzero(visited)
            last[vis_idx] = day16
            buy = np.concatenate(buyers)
            totals["purchases"] += buy.size
            if buy.size:
                spent = ch.order_value[buy].astype(np.float64)
                totals["revenue"] += float(spent.sum())
                totals["revenue_by_cohort"] += np.bincount(acq[buy], weights=spent, minlength=t + 1)
            # 4. habit
            update_habit(habit, visited, habit_cfg.gain, habit_cfg.decay)
            ev.visit_idx = vis_idx
            for lever in levers:
                lever.on_visits(ch, ev)
            # 5. death and resurrection
            acquired = acq >= 0
            tenure = day16 - acq
            for lever in levers:
                lever.hazard_effects(ch, fx)
            q = death_probability(P.churn_hazard[lo:hi], segment, tenure, self.exponent_steps, fx.hazard)
            dies = alive & (u_surv < q)
            if resurrection > 0:
                r = np.float32(resurrection) * fx.resurrection
                revives = acquired & ~alive & (u_surv < r)
                alive ^= revives
            alive ^= dies
            # 6. relabel
            silence = day16 - last
            relabel(
                stage,
                acquired,
                silence,
                tenure,
                habit,
                new_days=life.new_days,
                dormant_after_days=life.dormant_after_days,
                churned_after_days=life.churned_after_days,
                activated_habit=life.activated_habit,
            )
            ch.flags |= (stage == Stage.ACTIVATED).view(np.uint8) << 4  # FLAG_EVER_ACTIVATED
            # 7. counters
            for code, name in enumerate(STAGE_NAMES):
                totals[name] += int(np.count_nonzero(stage == code))
            totals["new_users"] += conv.size
            totals["dau"] += vis_idx.size
            if record:
                day_visits.append((vis_idx + lo).astype(np.int32))
            totals["wau"] += int(np.count_nonzero(silence < 7))
            totals["mau"] += int(np.count_nonzero(silence < 30))
            totals["latent_alive"] += int(np.count_nonzero(alive))
            if vis_idx.size:
                totals["active_by_cohort"] += np.bincount(acq[vis_idx], minlength=t + 1)
        if record:
            self._record_visits(np.concatenate(day_visits) if day_visits else np.zeros(0, np.int32))
        self._finish_tally(tally, totals)

    def _record_visits(self, slots: np.ndarray) -> None:
        self.visit_slots.append(slots)
        self.visit_days.append(self.day)

    def events(self) -> tuple[np.ndarray, np.ndarray]:
        """All recorded visits as (slot int32, day int16) arrays, sorted by day then slot."""
        if not self.visit_slots:
            return np.zeros(0, np.int32), np.zeros(0, np.int16)
        days = np.repeat(np.array(self.visit_days, dtype=np.int16), [s.size for s in self.visit_slots])
        return np.concatenate(self.visit_slots), days

    def _step_reference(self, ctx: DayContext, tally: dict[str, Any]) -> None:
        t, n_slots = self.day, self.market_size
        ctx.uniforms = {name: np.empty(n_slots, dtype=np.float32) for name in STREAMS}
        for chunk, lo in enumerate(range(0, n_slots, CHUNK_SIZE)):
            hi = min(lo + CHUNK_SIZE, n_slots)
            for name in STREAMS:
                ctx.uniforms[name][lo:hi] = self.streams.uniforms(name, t, chunk, hi - lo)
        self._ctx = ctx
        self._totals = self._new_tally()
        self._visited_today: list[int] = []
        self.agents.do("step")
        if self.config.record_events:
            self._record_visits(np.array(sorted(self._visited_today), dtype=np.int32))
        self._finish_tally(tally, self._totals)
        del self._ctx, self._totals
