"""The lever hook contract: what the model hands a lever, and what a lever may do.

A lever is one operations action (an ad channel, a push programme, …). The model
(:class:`sim.core.model.LifecycleModel`) is *given* its levers, objects that follow
:class:`LeverHooks`, and calls their hooks each day in the order of the day's
processes (``docs/model.md`` §3):

1. ``begin_day(model, weekday)`` — day-level quantities (ad adstock and awareness
   hazard ``hazard_today``, fixed daily costs);
2. ``conversion_effects(chunk, aware, conversion)`` — today's conversion probability
   of the AWARE slots at local indices ``aware``;
3. ``on_acquired(chunk, converted)`` — users acquired today (flags, per-user costs);
4. ``visit_effects(chunk, effects)`` — multipliers on today's visit probability;
5. ``extra_visits(chunk, events)`` — visits the lever causes itself (win-back);
6. ``on_visits(chunk, events)`` — after all visits (rewards, dependence);
7. ``hazard_effects(chunk, effects)`` — multipliers on today's death probability.

Users acquired today are still AWARE in the population's stage for hooks 2–5 (they
draw no visit of their own that day: their conversion is their first visit; push does
not message them); the model's acquisition bookkeeping, between hooks 5 and 6, makes
them NEW, so hooks 6 and 7 see them as NEW with tenure 0 (``docs/model.md`` §9).

Hooks 2–7 run once per chunk of slots on array views (:class:`Chunk`), so a lever
costs a few vector operations per slot and day. Multipliers accumulate in
:class:`Effects`. With ``threads`` > 1 the model steps several chunks at once, in
worker processes or threads (:mod:`sim.core.chunk_processes`), so hooks 2–7 must write
only their own chunk's slots (views of per-slot state, ``chunk.lo:chunk.hi``, written
in place into arrays allocated in ``bind``) and book everything lever-wide — what the
lever spends today (``cost_today``), its counters — through :meth:`Chunk.defer` (whole
numbers) or :meth:`Chunk.defer_by_part` (float sums, per draw chunk), with one of the
lever's own methods: bookings run in the model's process, chunk by chunk in slot
order as each chunk's results come in (possibly while later chunks still step, in
threads or worker processes, so a booking reads and writes only lever-wide state), and
sums are formed in the same order whatever the number of threads or processes
(bit-identical results). ``Lever.charge`` and ``Lever.count`` do
it. Lever-wide state that hooks read is set in ``begin_day`` (a worker steps with a
copy of the lever, brought up to date each day); state a chunk keeps for itself
(keyed by :attr:`Chunk.index`) is named in ``Lever.chunk_state``.

A lever sees the model only through :class:`ModelView`: the population arrays,
the segment table, the random streams, the channel names, the market size M, the
number of simulated users N and their weight w = M / N, the day and yesterday's
share of the market active. Per-slot state is sized N; per-user costs are charged
w times (each simulated user stands for w real ones). Day-level multipliers that user code sets directly live
in :class:`Modifiers` (``model.modifiers``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from sim.core.population import Population, SegmentTable
    from sim.core.rng import Streams

__all__ = ["Chunk", "Effects", "Events", "LeverHooks", "ModelView", "Modifiers", "at", "settle"]

#: A booking deferred to the end of the day's chunks: a function and its arguments.
Booking = tuple[Callable[..., None], tuple[Any, ...]]

Multiplier = float | np.ndarray


@dataclass
class Modifiers:
    """Day-level multipliers on each process, set by user code before a step.

    A value of 1 (or an empty channel table) is the organic product. A
    multiplier is a scalar, applied to everyone, or a float32 array with one
    entry per slot, applied to that slot. Levers do not write these; they scale
    the per-chunk :class:`Effects` instead.

    Attributes:
        awareness: Extra daily awareness hazard by channel name, added to the
            Bass hazard (organic + word of mouth).
        conversion: Multiplier on the daily AWARE → NEW probability.
        visit: Multiplier on the daily visit probability.
        hazard: Multiplier on the daily death probability.
        resurrection: Multiplier on the daily resurrection probability.

    """

    awareness: dict[str, float] = field(default_factory=dict)
    conversion: Multiplier = 1.0
    visit: Multiplier = 1.0
    hazard: Multiplier = 1.0
    resurrection: Multiplier = 1.0


def at(value: Multiplier, lo: int, hi: int) -> Multiplier:
    """The part of a multiplier that applies to slots ``lo:hi``."""
    return value[lo:hi] if isinstance(value, np.ndarray) else value


class ModelView(Protocol):
    """The part of the model a lever may read (and, for per-slot state, size itself by)."""

    @property
    def day(self) -> int:
        """The day being simulated."""
        ...

    @property
    def active_share(self) -> float:
        """DAU(t−1) / M: the share of the market active yesterday."""
        ...

    @property
    def market_size(self) -> int:
        """M: real users in the market."""
        ...

    @property
    def sample_size(self) -> int:
        """N: simulated users (slots)."""
        ...

    @property
    def user_weight(self) -> float:
        """W = M / N: real users per simulated user."""
        ...

    @property
    def channels(self) -> Sequence[str]:
        """Acquisition channel names by code."""
        ...

    @property
    def segments(self) -> SegmentTable:
        """Per-segment parameters."""
        ...

    @property
    def streams(self) -> Streams:
        """The run's random streams."""
        ...

    @property
    def population(self) -> Population:
        """The per-slot state arrays."""
        ...


def settle(
    n_parts: int,
    part_bookings: Sequence[tuple[Callable[..., None], Sequence[tuple[Any, ...] | None]]],
    bookings: Sequence[Booking],
) -> None:
    """Run a chunk's deferred bookings: part by part (each part's in the order made), then the whole-chunk ones."""
    for part in range(n_parts):
        for book, args_by_part in part_bookings:
            args = args_by_part[part]
            if args is not None:
                book(*args)
    for book, args in bookings:
        book(*args)


class Chunk:
    """Views onto slots ``lo:hi`` of the population for one day's step.

    A chunk covers one or more whole *draw chunks* — the :data:`sim.core.rng.CHUNK_SIZE`
    slots that each random stream draws for at once — its *parts*. The model steps
    several draw chunks together as one chunk (fewer, larger array operations); the
    random numbers stay those of the draw chunks (:meth:`uniforms`), and what is summed
    in floating point is booked part by part (:meth:`defer_by_part`), so a result never
    depends on how draw chunks are grouped.

    Args:
        population: The per-slot state.
        streams: The run's random streams.
        channels: Channel names by code (the model's live list).
        day: Today.
        index: Chunk number (the position of this chunk among the day's chunks).
        lo: First slot.
        hi: One past the last slot.
        parts: The draw chunks covered, as ``(draw chunk number, first, stop)`` with
            local slot positions, in slot order; default: one part, draw chunk
            ``index``, covering every slot.

    """

    def __init__(
        self,
        population: Population,
        streams: Streams,
        channels: Sequence[str],
        day: int,
        index: int,
        lo: int,
        hi: int,
        parts: Sequence[tuple[int, int, int]] | None = None,
    ) -> None:
        self.streams, self.channels, self.day = streams, channels, day
        self.index, self.lo, self.hi, self.n = index, lo, hi, hi - lo
        self.parts = tuple(parts) if parts is not None else ((index, 0, hi - lo),)
        self._part_stops = np.array([stop for _k, _first, stop in self.parts[:-1]], dtype=np.int64)
        p = population
        self.stage = p.stage[lo:hi]
        self.alive = p.alive[lo:hi]
        self.segment = p.segment[lo:hi]
        self.channel = p.channel[lo:hi]
        self.habit = p.habit[lo:hi]
        self.acquired_day = p.acquired_day[lo:hi]
        self.last_visit_day = p.last_visit_day[lo:hi]
        self.flags = p.flags[lo:hi]
        self.order_value = p.order_value[lo:hi]
        self.churn_hazard = p.churn_hazard[lo:hi]
        self.visit_propensity = p.visit_propensity[lo:hi]
        #: Lever-wide bookings (:meth:`defer`, :meth:`defer_by_part`), run by the model once the chunk is done.
        self.bookings: list[Booking] = []
        self.part_bookings: list[tuple[Callable[..., None], list[tuple[Any, ...] | None]]] = []

    def part_of(self, idx: np.ndarray) -> np.ndarray:
        """The part (position in :attr:`parts`) of each local slot index."""
        return np.searchsorted(self._part_stops, idx, side="right")

    def defer(self, book: Callable[..., None], *args: Any) -> None:
        """Run ``book(*args)`` in the model's process once this chunk is done, in chunk order (lever-wide whole numbers).

        A hook may run in a thread beside other chunks' hooks, so it must not add to
        lever-wide numbers itself: ``self.messages += n`` from two threads can lose an
        addition. Deferred bookings run in one thread, chunk by chunk in slot order, as
        each chunk's results come in: later chunks may still be stepping, so a booking
        reads and writes only lever-wide state, never per-slot state. For sums in
        floating point, whose last bits depend on the order of the additions, use
        :meth:`defer_by_part`.
        """
        self.bookings.append((book, args))

    def defer_by_part(self, book: Callable[..., None], args_by_part: list[tuple[Any, ...] | None]) -> None:
        """Run ``book(*args)`` for each part's arguments (None: nothing for that part), part by part.

        The model runs part bookings draw chunk by draw chunk in slot order, each
        draw chunk's in the order they were made: every float sum is formed in the
        same order whatever the chunks and the threads.
        """
        self.part_bookings.append((book, args_by_part))

    def settle(self) -> None:
        """Run the chunk's deferred bookings: part by part, then the whole-chunk ones, each in the order made."""
        settle(len(self.parts), self.part_bookings, self.bookings)
        self.part_bookings.clear()
        self.bookings.clear()

    def uniforms(self, stream: str) -> np.ndarray:
        """Dense uniforms of a stream (e.g. a lever's own) for this chunk and day, draw chunk by draw chunk."""
        return self.uniforms_of((stream,))[0]

    def uniforms_of(self, streams: Sequence[str]) -> list[np.ndarray]:
        """:meth:`uniforms` of each stream, asked of the streams in one call (a backend may draw several at once)."""
        outs = [np.empty(self.n, dtype=np.float32) for _stream in streams]
        draws = [
            (stream, k, out[first:stop])
            for stream, out in zip(streams, outs, strict=True)
            for k, first, stop in self.parts
        ]
        self.streams.uniforms_into(self.day, draws)
        return outs

    def nonzero(self, mask: np.ndarray) -> np.ndarray:
        """Local positions of the True entries of a chunk-sized mask, ascending (``np.flatnonzero``, maybe compiled)."""
        return self.streams.kernels.nonzero(mask)

    def scale_traits(self, idx: np.ndarray, churn_multiplier: Any, visit_multiplier: Any) -> None:
        """User quality, fixed at acquisition: θ ← min(1, m_c·θ), π ← min(1, m_v·π) at local ``idx``."""
        if not idx.size:
            return
        one = np.float32(1.0)
        self.churn_hazard[idx] = np.minimum(self.churn_hazard[idx] * np.float32(churn_multiplier), one)
        self.visit_propensity[idx] = np.minimum(self.visit_propensity[idx] * np.float32(visit_multiplier), one)


def _own_float32(value: Any) -> bool:
    """Whether ``value`` is a float32 array this chunk allocated (safe to scale in place)."""
    return isinstance(value, np.ndarray) and value.base is None and value.dtype == np.float32


@dataclass
class Effects:
    """Per-slot multipliers of one chunk (scalars until a lever needs an array)."""

    conversion: Any = 1.0
    visit: Any = 1.0
    hazard: Any = 1.0
    resurrection: Any = 1.0

    def scale(self, name: str, factor: Any, where: np.ndarray | None = None) -> None:
        """Multiply multiplier ``name`` by ``factor`` (scalar or array), optionally only ``where``.

        With a mask and a scalar factor f the per-slot factor is 1 + (f − 1)·mask
        (arithmetic, no branch), which is what keeps many levers cheap.
        """
        if where is not None:
            if np.isscalar(factor):
                factor = np.multiply(where, np.float32(factor - 1.0), dtype=np.float32)
            else:
                factor = np.multiply(where, factor - np.float32(1.0), dtype=np.float32)
            factor += np.float32(1.0)
        elif np.isscalar(factor):
            factor = np.float32(factor)
        current = getattr(self, name)
        if _own_float32(current):
            current *= factor
        else:
            setattr(self, name, current * factor)

    def scale_at(self, name: str, idx: np.ndarray, factor: Any, n: int) -> None:
        """Multiply multiplier ``name`` by ``factor`` at local indices ``idx`` only (cheap for few slots)."""
        if not idx.size:
            return
        current = getattr(self, name)
        if not _own_float32(current):
            current = np.full(n, current, dtype=np.float32) if np.isscalar(current) else current.astype(np.float32)
            setattr(self, name, current)
        current[idx] *= np.float32(factor) if np.isscalar(factor) else factor


@dataclass
class Events:
    """What happened in a chunk today, for levers to observe."""

    converted: np.ndarray  # local indices acquired today
    visited: np.ndarray  # bool mask: visited today (users acquired today only from on_visits on)
    visit_idx: np.ndarray | None = None  # local indices of ``visited`` (set after all visits)
    #: Local indices of lever-caused visits; each buys if its (otherwise unused, since
    #: it is acquired) awareness uniform is < ρ_s · w_p.
    extra_visitors: list[np.ndarray] = field(default_factory=list)


class LeverHooks(Protocol):
    """What the model needs of a lever (:class:`sim.levers.base.Lever` implements it).

    Attributes:
        label: Column-safe unique name (``cost_<label>`` in the daily table).
        channel: Awareness channel the lever creates, or None.
        hazard_today: Today's extra awareness hazard of ``channel`` (after ``begin_day``).
        cost_today: What the lever spent today (after the day's hooks).

    """

    label: str
    channel: str | None
    hazard_today: float
    cost_today: float

    def bind(self, model: ModelView) -> None:
        """Resolve names to codes; allocate per-slot state. Called once, before day 0."""
        ...

    def admitted_segments(self) -> Sequence[str] | None:
        """Segments the lever's awareness channel reaches (None: all)."""
        ...

    def channel_effects(self) -> dict[str, tuple[float, float, float]]:
        """Per channel: (conversion, churn hazard, visit) multipliers of its users (read each day after ``begin_day``)."""
        ...

    def begin_day(self, model: ModelView, weekday: int) -> None:
        """Day-level work before any chunk is stepped."""
        ...

    def conversion_effects(self, ch: Chunk, aware: np.ndarray, conversion: Any) -> Any:
        """Today's conversion probability of the AWARE slots at ``aware``."""
        ...

    def on_acquired(self, ch: Chunk, converted: np.ndarray) -> None:
        """Users acquired today (local indices)."""
        ...

    def visit_effects(self, ch: Chunk, fx: Effects) -> None:
        """Scale today's visit probability."""
        ...

    def extra_visits(self, ch: Chunk, ev: Events) -> None:
        """Add visits the lever causes."""
        ...

    def on_visits(self, ch: Chunk, ev: Events) -> None:
        """Observe today's visits."""
        ...

    def hazard_effects(self, ch: Chunk, fx: Effects) -> None:
        """Scale today's death probability."""
        ...
