"""Observable lifecycle stages and the daily relabelling rule.

Stages are what an analytics dashboard can see; they are derived each day from
behaviour (days since acquisition, days since the last visit, habit), never from
the latent alive/dead state. With tenure τ = t − acq_day, silence
σ = t − last_visit and habit h, an acquired user's stage on day t is, first rule
that applies::

    CHURNED    if σ >= lifecycle.churned_after_days
    DORMANT    if σ >= lifecycle.dormant_after_days
    NEW        if τ <  lifecycle.new_days
    ACTIVATED  if h >= lifecycle.activated_habit
    RETAINED   otherwise

A DORMANT or CHURNED user who visits again is relabelled by the same rules
(resurrection). Before acquisition a slot is UNAWARE or AWARE.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

import numpy as np

from sim.base.schema import bounded

__all__ = ["STAGE_NAMES", "LifecycleConfig", "RelabelArrays", "Stage", "count_by_stage", "relabel", "relabel_one"]


@dataclass
class LifecycleConfig:
    """Thresholds that turn behaviour into the observable lifecycle stage (``population.lifecycle``)."""

    new_days: int = bounded(7, ge=1)
    dormant_after_days: int = bounded(7, ge=1)
    churned_after_days: int = bounded(30, ge=1)
    activated_habit: float = bounded(0.5, ge=0, le=1)


class Stage(IntEnum):
    """Lifecycle stage codes, stored as int8. Codes >= NEW mean acquired."""

    UNAWARE = 0
    AWARE = 1
    NEW = 2
    RETAINED = 3
    ACTIVATED = 4
    DORMANT = 5
    CHURNED = 6


#: Stage names in code order, as they appear in config targets and table columns.
STAGE_NAMES = tuple(s.name.lower() for s in Stage)


class RelabelArrays(Protocol):
    """A chunk's per-slot arrays that the relabelling kernels (:mod:`sim.core.kernels`) reads and writes (e.g. :class:`~sim.core.hooks.Chunk`)."""

    stage: np.ndarray  # int8, relabelled
    last_visit_day: np.ndarray  # int16
    habit: np.ndarray  # float32
    flags: np.ndarray  # uint8, FLAG_EVER_ACTIVATED set
    alive: np.ndarray  # bool


def relabel(
    stage: np.ndarray,
    acquired: np.ndarray,
    silence: np.ndarray,
    tenure: np.ndarray,
    habit: np.ndarray,
    *,
    new_days: int,
    dormant_after_days: int,
    churned_after_days: int,
    activated_habit: float,
) -> None:
    """Relabel acquired slots in place (int8 arithmetic, no branches).

    Args:
        stage: int8 stage codes, updated in place where ``acquired``.
        acquired: Boolean mask of acquired slots.
        silence: Days since the last visit (σ).
        tenure: Days since acquisition (τ).
        habit: Habit level h.
        new_days: See :class:`LifecycleConfig`.
        dormant_after_days: See :class:`LifecycleConfig`.
        churned_after_days: See :class:`LifecycleConfig`.
        activated_habit: See :class:`LifecycleConfig`.

    """
    label = (habit >= np.float32(activated_habit)).view(np.int8) + np.int8(Stage.RETAINED)
    is_new = (tenure < new_days).view(np.int8)
    label -= is_new * (label - np.int8(Stage.NEW))
    dormant = (silence >= dormant_after_days).view(np.int8)
    label += dormant * (np.int8(Stage.DORMANT) - label)
    churned = (silence >= churned_after_days).view(np.int8)
    label += churned * (np.int8(Stage.CHURNED) - label)
    acq = acquired.view(np.int8)
    stage += acq * (label - stage)


def count_by_stage(stage: np.ndarray) -> list[int]:
    """Slots of each stage code, in code order (one SIMD ``count_nonzero`` pass a code)."""
    return [int(np.count_nonzero(stage == code)) for code in range(len(Stage))]


def relabel_one(acquired: bool, stage: int, silence: int, tenure: int, habit: float, *, life: LifecycleConfig) -> int:
    """Scalar version of :func:`relabel` for the agent-by-agent reference."""
    if not acquired:
        return stage
    if silence >= life.churned_after_days:
        return Stage.CHURNED
    if silence >= life.dormant_after_days:
        return Stage.DORMANT
    if tenure < life.new_days:
        return Stage.NEW
    if habit >= np.float32(life.activated_habit):
        return Stage.ACTIVATED
    return Stage.RETAINED
