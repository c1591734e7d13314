"""What every lever shares: schedule, target, the per-chunk view and the hook protocol.

A lever is one operations action (an ad channel, a push programme, …). Each day
the model calls its hooks in the order of the day's processes:

1. :meth:`Lever.begin_day` — day-level quantities (ad adstock and awareness
   hazard, fixed daily costs);
2. :meth:`Lever.conversion_effects` — multipliers on today's conversion of AWARE slots;
3. :meth:`Lever.on_acquired` — users acquired today (flags, per-user costs, user quality);
4. :meth:`Lever.visit_effects` — multipliers on today's visit probability;
5. :meth:`Lever.extra_visits` — visits the lever causes itself (win-back);
6. :meth:`Lever.on_visits` — after all visits (rewards, dependence);
7. :meth:`Lever.hazard_effects` — multipliers on today's death probability.

Hooks 2–7 run once per chunk of slots on array views (:class:`Chunk`), so a
lever costs a few vector operations per slot and day. Multipliers accumulate in
:class:`Effects`. A lever adds what it spends today to :attr:`Lever.cost_today`.

User quality (of an acquisition channel, or of coupon users) is fixed when the
user is acquired, so it scales the user's latent traits then, once:
θ ← min(1, m_churn · θ) and π ← min(1, m_visit · π) (:func:`apply_quality`).

Schedule: a lever is *on* on day t if ``start_day <= t <= end_day`` and the
weekday of t is in ``days_of_week`` (0 = Monday). Target: stage names, segment
names and acquisition channel names; an empty list means all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from sim.errors import ConfigError
from sim.lifecycle import STAGE_NAMES
from sim.population import FLAG_COUPON, FLAG_ONBOARDED, FLAG_PUSH_OPT_OUT  # noqa: F401 (re-exported for levers)
from sim.schema import bounded

if TYPE_CHECKING:
    from sim.model import UserLifecycleModel

__all__ = ["Chunk", "Effects", "Events", "Lever", "Schedule", "Target", "apply_quality"]

ALL_DAYS = (0, 1, 2, 3, 4, 5, 6)
ACQUIRED_STAGES = ("new", "retained", "activated", "dormant", "churned")


@dataclass
class Schedule:
    """When a lever is on: days ``start_day`` … ``end_day`` (inclusive) on ``days_of_week``."""

    start_day: int = bounded(0, ge=0)
    end_day: int | None = None
    days_of_week: list[int] = field(default_factory=lambda: list(ALL_DAYS))

    def check(self, key: str) -> None:
        """Raise ConfigError on an inverted window or an unknown weekday."""
        if self.end_day is not None and self.end_day < self.start_day:
            raise ConfigError(f"{key}.end_day", self.end_day, f"a day >= {key}.start_day={self.start_day}")
        for i, d in enumerate(self.days_of_week):
            if d not in ALL_DAYS:
                raise ConfigError(f"{key}.days_of_week[{i}]", d, "a weekday 0 (Monday) … 6 (Sunday)")
        if not self.days_of_week:
            raise ConfigError(f"{key}.days_of_week", [], "at least one weekday 0 … 6")

    def is_on(self, day: int, weekday: int) -> bool:
        """Whether the lever acts on this day."""
        end = self.end_day if self.end_day is not None else day
        return self.start_day <= day <= end and weekday in self.days_of_week


@dataclass
class Target:
    """Who a lever acts on. Empty lists mean everyone the lever can reach."""

    stages: list[str] = field(default_factory=list)
    segments: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)

    def check(self, key: str, *, segments: list[str], allowed_stages: tuple[str, ...]) -> None:
        """Raise ConfigError on an unknown stage or segment name."""
        for i, s in enumerate(self.stages):
            if s not in allowed_stages:
                raise ConfigError(f"{key}.stages[{i}]", s, f"one of {', '.join(allowed_stages)}")
        for i, s in enumerate(self.segments):
            if s not in segments:
                raise ConfigError(f"{key}.segments[{i}]", s, f"a segment of the population: {', '.join(segments)}")


class Chunk:
    """Views onto slots ``lo:hi`` of the population for one day's step."""

    def __init__(self, model: UserLifecycleModel, index: int, lo: int, hi: int) -> None:
        self.model, self.index, self.lo, self.hi, self.n = model, index, lo, hi, hi - lo
        self.day = model.day
        p = model.population
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

    def uniforms(self, stream: str) -> np.ndarray:
        """Dense uniforms of a lever's own stream for this chunk and day."""
        return self.model.streams.uniforms(stream, self.day, self.index, self.n)


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
        if isinstance(current, np.ndarray) and current.base is None and current.dtype == np.float32:
            current *= factor  # our own temporary: scale in place
        else:
            setattr(self, name, current * factor)

    def scale_at(self, name: str, idx: np.ndarray, factor: Any, n: int) -> None:
        """Multiply multiplier ``name`` by ``factor`` at local indices ``idx`` only (cheap for few slots)."""
        if not idx.size:
            return
        current = getattr(self, name)
        if not (isinstance(current, np.ndarray) and current.base is None and current.dtype == np.float32):
            current = np.full(n, current, dtype=np.float32) if np.isscalar(current) else current.astype(np.float32)
            setattr(self, name, current)
        current[idx] *= np.float32(factor) if np.isscalar(factor) else factor


def apply_quality(ch: Chunk, idx: np.ndarray, churn_multiplier: Any, visit_multiplier: Any) -> None:
    """Scale the latent traits of newly acquired users: θ ← min(1, m_c·θ), π ← min(1, m_v·π)."""
    if not idx.size:
        return
    one = np.float32(1.0)
    ch.churn_hazard[idx] = np.minimum(ch.churn_hazard[idx] * np.float32(churn_multiplier), one)
    ch.visit_propensity[idx] = np.minimum(ch.visit_propensity[idx] * np.float32(visit_multiplier), one)


@dataclass
class Events:
    """What happened in a chunk today, for levers to observe."""

    converted: np.ndarray  # local indices acquired today
    visited: np.ndarray  # bool mask: visited today (new users included)
    visit_idx: np.ndarray | None = None  # local indices of ``visited`` (set after all visits)
    #: Local indices of lever-caused visits; each buys if its (otherwise unused, since
    #: it is acquired) awareness uniform is < ρ_s · w_p.
    extra_visitors: list[np.ndarray] = field(default_factory=list)


class Lever:
    """Base class of every lever. Subclasses set :attr:`kind` and override hooks.

    Args:
        name: Instance name (the key under ``strategy.<kind>`` for multi-instance levers).
        cfg: The lever's config dataclass.

    """

    kind: ClassVar[str] = "lever"
    #: Config field that spend scales with, for marginal ROI (+1 % of it); None if fixed-price.
    budget_key: ClassVar[str | None] = None
    #: Stages a target may name.
    target_stages: ClassVar[tuple[str, ...]] = ACQUIRED_STAGES
    #: Awareness channel the lever creates (None if it creates none).
    channel: str | None = None

    def __init__(self, name: str, cfg: Any) -> None:
        self.name = name
        self.cfg = cfg
        self.cost_today = 0.0
        self.on_today = False
        self.stream = f"lever:{self.kind}:{name}"

    @property
    def label(self) -> str:
        """Column-safe unique name: ``kind`` or ``kind_name``."""
        return self.kind if self.name == self.kind else f"{self.kind}_{self.name}"

    # -------------------------------------------------------------- targeting
    def bind(self, model: UserLifecycleModel) -> None:
        """Resolve names to codes; allocate per-slot state. Called once."""
        target: Target = self.cfg.target
        stages = target.stages or list(self.target_stages)
        self._stage_ok = np.zeros(len(STAGE_NAMES), dtype=bool)
        codes = sorted(STAGE_NAMES.index(s) for s in stages)
        self._stage_ok[codes] = True
        # A contiguous run of stage codes is checked with two comparisons instead of a lookup.
        self._stage_range = (codes[0], codes[-1]) if codes == list(range(codes[0], codes[-1] + 1)) else None
        self._all_stages = set(stages) >= set(ACQUIRED_STAGES) and self.target_stages == ACQUIRED_STAGES
        names = model.segments.names
        self._segment_ok = np.array([not target.segments or s in target.segments for s in names], dtype=bool)
        self._channels = list(target.channels)
        self._channel_ok: np.ndarray | None = None

    def _channel_table(self, model: UserLifecycleModel) -> np.ndarray | None:
        if not self._channels:
            return None
        if self._channel_ok is None or self._channel_ok.size != len(model.channels) + 1:
            ok = np.zeros(len(model.channels) + 1, dtype=bool)  # index = channel code + 1 (−1: never aware)
            for c in self._channels:
                if c in model.channels:
                    ok[model.channels.index(c) + 1] = True
            self._channel_ok = ok
        return self._channel_ok

    def targeted(self, ch: Chunk, *, stage: bool = True, idx: np.ndarray | None = None) -> np.ndarray | None:
        """Mask of targeted slots in a chunk, or among local indices ``idx`` (None: all of them)."""
        stages = ch.stage if idx is None else ch.stage[idx]
        mask = None
        if stage and not self._all_stages:
            if self._stage_range is not None:
                lo, hi = self._stage_range
                mask = (stages >= lo) & (stages <= hi) if lo != hi else stages == lo
            else:
                mask = self._stage_ok[stages]
        if not self._segment_ok.all():
            seg = self._segment_ok[ch.segment if idx is None else ch.segment[idx]]
            mask = seg if mask is None else mask & seg
        table = self._channel_table(ch.model)
        if table is not None:
            channels = ch.channel if idx is None else ch.channel[idx]
            chan = table[channels.astype(np.intp) + 1]
            mask = chan if mask is None else mask & chan
        return mask

    def targeted_subset(self, ch: Chunk, idx: np.ndarray, *, stage: bool = False) -> np.ndarray:
        """The local indices in ``idx`` that the lever targets."""
        mask = self.targeted(ch, stage=stage, idx=idx)
        return idx if mask is None else idx[mask]

    # ------------------------------------------------------------------ hooks
    def begin_day(self, model: UserLifecycleModel, weekday: int) -> None:
        """Day-level work; the default resets the day's cost and evaluates the schedule."""
        self.cost_today = 0.0
        self.on_today = self.cfg.schedule.is_on(model.day, weekday)

    def conversion_effects(self, ch: Chunk, aware: np.ndarray, conversion: Any) -> Any:
        """Return today's conversion probability of the AWARE slots at local indices ``aware``.

        ``conversion`` is a scalar or an array aligned with ``aware``; return it scaled.
        """
        return conversion

    def on_acquired(self, ch: Chunk, converted: np.ndarray) -> None:
        """Users acquired today (local indices)."""

    def visit_effects(self, ch: Chunk, fx: Effects) -> None:
        """Scale today's visit probability."""

    def extra_visits(self, ch: Chunk, ev: Events) -> None:
        """Add visits the lever causes (update ``ev.visited`` in place)."""

    def on_visits(self, ch: Chunk, ev: Events) -> None:
        """Observe today's visits."""

    def hazard_effects(self, ch: Chunk, fx: Effects) -> None:
        """Scale today's death probability."""

    def channel_effects(self) -> dict[str, tuple[float, float, float]]:
        """Per acquisition channel: (conversion, churn hazard, visit) multipliers.

        Conversion applies to AWARE slots of the channel each day; churn and visit
        scale the user's traits once, at acquisition (:func:`apply_quality`).
        """
        return {}

    def summary(self) -> dict[str, Any]:
        """Lever-specific numbers for ``summary.json`` (e.g. messages sent)."""
        return {}
