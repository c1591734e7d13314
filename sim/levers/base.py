"""What every lever shares: schedule, spend window, target, user quality, charging, default hooks.

:class:`Lever` implements the hook contract of :mod:`sim.core.hooks` with hooks
that do nothing, plus the targeting every lever needs; a lever module subclasses
it and overrides the hooks of the processes it acts on.

**When**: a lever is *on* on day t if its own schedule says so (``start_day <= t <=
end_day`` and the weekday of t in ``days_of_week``, 0 = Monday) *and* t is inside
the strategy's spend window (``strategy.spend_window.start_day`` …
``end_day``, inclusive): "spend for a quarter, measure for a year" is one window,
however many levers there are.

**Who pays what**: every cost is money in the real market. A per-user cost is
charged once per real user, so a simulated user costs the price times the user
weight w = M / N (:meth:`Lever.charge`); fixed costs (a daily budget, a one-off
event) are charged as they are.

User quality (of an acquisition channel, or of coupon users) is fixed when the
user is acquired, so it scales the user's latent traits then, once:
θ ← min(1, m_churn · θ) and π ← min(1, m_visit · π)
(:meth:`sim.core.hooks.Chunk.scale_traits`, ``quality.*`` keys).

Schedule: a lever is *on* on day t if ``start_day <= t <= end_day`` and the
weekday of t is in ``days_of_week`` (0 = Monday). Target: stage names, segment
names and acquisition channel names; an empty list means all.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np

from sim.base.errors import ConfigError
from sim.base.schema import MAX_MULTIPLIER, bounded
from sim.core.daily_log import MC_GROUPS
from sim.core.hooks import Chunk, Effects, Events, ModelView
from sim.core.lifecycle import STAGE_NAMES

__all__ = [
    "ACQUIRED_STAGES",
    "Lever",
    "QualityConfig",
    "Schedule",
    "SpendWindow",
    "Target",
    "knob_ceiling",
    "saturation",
]

#: Weekday codes, 0 = Monday.
ALL_DAYS = (0, 1, 2, 3, 4, 5, 6)
#: Stages of users who have been acquired (a lever's default target).
ACQUIRED_STAGES = ("new", "retained", "activated", "dormant", "churned")


@dataclass
class QualityConfig:
    """Multipliers on the churn hazard and visit probability of the users a lever brings."""

    churn_multiplier: float = bounded(1.0, ge=0, le=MAX_MULTIPLIER)
    visit_multiplier: float = bounded(1.0, ge=0, le=MAX_MULTIPLIER)


def knob_ceiling(lever_cfg: Any, knob: str) -> float:
    """The largest value the schema allows for a lever's knob (its ``le`` bound, else ∞)."""
    meta = {f.name: f.metadata for f in dataclasses.fields(lever_cfg)}.get(knob, {})
    return math.inf if meta.get("le") is None else float(meta["le"])


def saturation(value: float, half: float) -> float:
    """s(x) = x / (x + K): 0 at x = 0, 1/2 at x = K, → 1; concave (a Hill curve of shape 1)."""
    return value / (value + half) if value > 0 else 0.0


@dataclass
class SpendWindow:
    """The strategy's spend window (``strategy.spend_window``): days on which any lever may act."""

    start_day: int = bounded(0, ge=0)
    end_day: int | None = bounded(None, ge=0)

    def check(self, key: str) -> None:
        """Raise ConfigError on an inverted window."""
        if self.end_day is not None and self.end_day < self.start_day:
            raise ConfigError(f"{key}.end_day", self.end_day, f"a day >= {key}.start_day={self.start_day}")

    def contains(self, day: int) -> bool:
        """Whether ``day`` is inside the window."""
        return self.start_day <= day and (self.end_day is None or day <= self.end_day)


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


class Lever:
    """Base class of every lever. Subclasses set :attr:`kind` and override hooks.

    Args:
        name: Instance name (the key under ``strategy.<kind>`` for multi-instance levers).
        cfg: The lever's config dataclass.
        window: The strategy's spend window (default: every day).

    Attributes:
        cost_today: Money spent today (real market).
        group_charged: Per-user charges so far by slot group (slot mod ``MC_GROUPS``), for
            the Monte-Carlo error of the cost; fixed costs are not in it.
        charged_total: The sum of ``group_charged``.

    """

    kind: ClassVar[str] = "lever"
    #: Config field that spend scales with, for marginal ROI (+1 % of it); None if fixed-price.
    budget_key: ClassVar[str | None] = None
    #: Stages a target may name.
    target_stages: ClassVar[tuple[str, ...]] = ACQUIRED_STAGES
    #: Awareness channel the lever creates (None if it creates none).
    channel: str | None = None
    #: Extra awareness hazard of ``channel`` today (levers with a channel set it in ``begin_day``).
    hazard_today: float = 0.0
    #: Attributes holding state per chunk (mutable mappings keyed by ``Chunk.index``), which only
    #: that chunk's hooks read and write: each chunk keeps its own, also in a worker process (see
    #: :mod:`sim.core.chunk_processes`), where the rest of the lever's state follows the model's;
    #: workers closed before the horizon hand their chunks' entries back to the model's lever.
    chunk_state: ClassVar[tuple[str, ...]] = ()

    def __init__(self, name: str, cfg: Any, window: SpendWindow | None = None) -> None:
        self.name = name
        self.cfg = cfg
        self.window = window if window is not None else SpendWindow()
        self.cost_today = 0.0
        self.on_today = False
        self.stream = f"lever:{self.kind}:{name}"
        self.user_weight = 1.0
        self.group_charged = np.zeros(MC_GROUPS, dtype=np.float64)
        self.charged_total = 0.0

    @classmethod
    def budget_level(cls, cfg: Any) -> float:
        """The budget knob's value in ``cfg`` (0: the lever spends nothing to scale)."""
        return float(getattr(cfg, str(cls.budget_key)))

    @classmethod
    def with_budget_scaled(cls, cfg: Any, factor: float, *, cap: float | None = None) -> Any:
        """A copy of ``cfg`` whose spend is multiplied by ``factor``: its ``budget_key`` knob, at most ``cap``.

        Marginal ROI (+1 %), the spend-response reruns (× multiplier) and the explorer's
        budget slider scale a lever through this, so a lever whose spend is set by another
        knob too (an ad channel's ``period_budgets``) overrides it. ``cap`` defaults to the
        knob's own ceiling (:func:`knob_ceiling`): a rerun at × 4 of a budget near
        :data:`~sim.base.schema.MAX_MONEY` runs at the ceiling, not outside the schema.
        """
        knob = str(cls.budget_key)
        top = knob_ceiling(cfg, knob) if cap is None else cap
        return replace(cfg, **{knob: min(getattr(cfg, knob) * factor, top)})

    @property
    def label(self) -> str:
        """Column-safe unique name: ``kind`` or ``kind_name``."""
        return self.kind if self.name == self.kind else f"{self.kind}_{self.name}"

    # -------------------------------------------------------------- targeting
    def bind(self, model: ModelView) -> None:
        """Resolve names to codes; allocate per-slot state. Called once."""
        self.user_weight = model.user_weight
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

    def _channel_table(self, channels: Sequence[str]) -> np.ndarray | None:
        """Targeted channels by code + 1 (−1: never aware), made on each call: hooks keep no lever-wide cache."""
        if not self._channels:
            return None
        ok = np.zeros(len(channels) + 1, dtype=bool)
        for c in self._channels:
            if c in channels:
                ok[list(channels).index(c) + 1] = True
        return ok

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
        table = self._channel_table(ch.channels)
        if table is not None:
            channels = ch.channel if idx is None else ch.channel[idx]
            chan = table[channels.astype(np.intp) + 1]
            mask = chan if mask is None else mask & chan
        return mask

    def targeted_subset(self, ch: Chunk, idx: np.ndarray, *, stage: bool = False) -> np.ndarray:
        """The local indices in ``idx`` that the lever targets."""
        mask = self.targeted(ch, stage=stage, idx=idx)
        return idx if mask is None else idx[mask]

    def admitted_segments(self) -> Sequence[str] | None:
        """Segments the lever's awareness channel reaches (None: all, or no channel)."""
        if self.channel is None or not self.cfg.target.segments:
            return None
        return list(self.cfg.target.segments)

    # ------------------------------------------------------------------ hooks
    def begin_day(self, model: ModelView, weekday: int) -> None:
        """Day-level work; the default resets the day's cost and evaluates the schedule and window."""
        self.cost_today = 0.0
        self.on_today = self.cfg.schedule.is_on(model.day, weekday) and self.window.contains(model.day)

    def charge(self, ch: Chunk, idx: np.ndarray, price: float) -> None:
        """Pay ``price`` per real user for the simulated users at local indices ``idx`` (w each).

        Booked in the model's process once the chunk is done, draw chunk by draw chunk
        (:meth:`sim.core.hooks.Chunk.defer_by_part`), so the costs sum in the same
        order whatever the grouping of slots and the number of threads.
        """
        if not idx.size:
            return
        amount = price * self.user_weight
        groups = (idx + ch.lo) % MC_GROUPS
        n_parts = len(ch.parts)
        if n_parts == 1:
            ch.defer_by_part(self._book_charge, [(idx.size, amount, np.bincount(groups, minlength=MC_GROUPS))])
            return
        by_part = np.bincount(ch.part_of(idx) * MC_GROUPS + groups, minlength=n_parts * MC_GROUPS)
        rows = by_part.reshape(n_parts, MC_GROUPS)
        ch.defer_by_part(self._book_charge, [(int(r.sum()), amount, r) if r.any() else None for r in rows])

    def _book_charge(self, count: int, amount: float, groups: np.ndarray) -> None:
        self.cost_today += count * amount
        self.charged_total += count * amount
        self.group_charged += groups * amount

    def count(self, ch: Chunk, counter: str, n: int) -> None:
        """Add ``n`` to the lever's counter attribute ``counter`` (e.g. messages sent), once the chunk is done."""
        if n:
            ch.defer(self._book_count, counter, n)

    def _book_count(self, counter: str, n: int) -> None:
        setattr(self, counter, getattr(self, counter) + n)

    def real(self, count: int) -> float | int:
        """A count of simulated users as real users (w times; an int when w = 1)."""
        return count if self.user_weight == 1.0 else count * self.user_weight

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
        scale the user's traits once, at acquisition (:meth:`sim.core.hooks.Chunk.scale_traits`).
        The model reads them each day after :meth:`begin_day`, so they may depend on
        whether the lever is on today.
        """
        return {}

    def summary(self) -> dict[str, Any]:
        """Lever-specific numbers for ``summary.json`` (e.g. messages sent)."""
        return {}
