"""Visits, purchases and habit: the activity of acquired users.

An acquired, latent-alive user visits on day t with probability

    v_i(t) = min(1, π_i · w_v[weekday] · (1 + κ · h_i) · m_i(t))

with π_i the visit propensity (``segments.<s>.visits``), w_v the weekly visit
pattern (``weekly_visit_pattern``), κ the habit strength (``habit.strength``),
h_i the habit level and m_i the levers' visit multiplier. The visit decision is
u_v < v_i with the slot's ``activity`` uniform. The acquisition day counts as a
visit.

A visit is also a purchase with probability ρ_s · w_p[weekday]
(``segments.<s>.purchase_prob``, ``weekly_purchase_pattern``), decided on the
same uniform: purchase if u_v < v_i · ρ_s · w_p, with v_i the visit probability
capped at 1, so P(purchase | visit) = ρ_s · w_p exactly, purchases are nested in
visits and they move with them under common random numbers. A purchase earns
the user's order value.

Habit (``habit.gain`` g, ``habit.decay`` d) after the day's visits:

    h ← h + g · (1 − h)   if the user visited,
    h ← h · (1 − d)       otherwise,

and h ← 0 where it falls below 2^−126 (float32's smallest normal number; see
:mod:`sim.core.flush_to_zero`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.base.schema import MAX_MULTIPLIER, bounded
from sim.core.flush_to_zero import FLOAT32_TINY, flush_below, may_fall_below

__all__ = ["HabitConfig", "VisitConfig", "purchases", "update_habit", "visit_probability"]

#: Below this share of visitors among a chunk's slots the habit bump is computed for the
#: visitors alone; above it, for every slot (both give the same values; at 30 % they take
#: about as long, 0.5 ms for 262,144 slots here).
SPARSE_VISITOR_SHARE = 0.25


@dataclass
class VisitConfig:
    """Latent visit propensity π ~ Beta(alpha, beta) (BG/BB; ``segments.<s>.visits``)."""

    alpha: float = bounded(1.0, gt=0)
    beta: float = bounded(3.0, gt=0)


@dataclass
class HabitConfig:
    """Habit h ∈ [0, 1] (``population.habit``): h += gain·(1 − h) on a visit, h −= decay·h otherwise."""

    gain: float = bounded(0.2, ge=0, le=1)
    decay: float = bounded(0.1, ge=0, le=1)
    strength: float = bounded(0.0, ge=0, le=MAX_MULTIPLIER)


def visit_probability(
    propensity: np.ndarray, habit: np.ndarray, weekday_factor: float, strength: float, multiplier
) -> np.ndarray:
    """Daily visit probability before the cap at 1 (u < v ≥ 1 is a certain visit; :func:`purchases` caps it)."""
    scalar = np.isscalar(multiplier)
    v = propensity * np.float32(weekday_factor * (multiplier if scalar else 1.0))
    if strength > 0:
        v *= np.float32(1.0) + np.float32(strength) * habit
    if not scalar:
        v *= multiplier
    return v


def purchases(
    idx: np.ndarray,
    u_activity: np.ndarray,
    event_prob: np.ndarray | float,
    segment: np.ndarray,
    purchase_prob: np.ndarray,
    weekday_factor: float,
) -> np.ndarray:
    """Which of the visiting slots ``idx`` also purchase.

    Purchase if u < min(1, p) · ρ_s · w_p, p the probability of the visit event, so
    that P(purchase | visit) = ρ_s · w_p also where p exceeds 1.

    Args:
        idx: Local indices of slots with a visit (or acquisition) today.
        u_activity: The chunk's ``activity`` uniforms.
        event_prob: Probability of the visit (or conversion) event at ``idx`` (may exceed 1).
        segment: The chunk's segment codes.
        purchase_prob: ρ per segment code (float32).
        weekday_factor: w_p for today.

    Returns:
        The subset of ``idx`` that purchased.

    """
    rho = purchase_prob[segment[idx]] * np.float32(weekday_factor)
    return idx[u_activity[idx] < np.minimum(event_prob, np.float32(1.0)) * rho]


def update_habit(
    habit: np.ndarray,
    visited: np.ndarray,
    visitors: np.ndarray,
    gain: float,
    decay: float,
    day: int,
    *,
    flush: bool = True,
) -> None:
    """Habit update in place: h·(1 − d) + 1[visit]·(g·(1 − h) + d·h), flushed to 0 below 2^−126.

    ``visited`` is the day's mask of visits and ``visitors`` its indices. Where fewer
    than :data:`SPARSE_VISITOR_SHARE` of the slots visited, the visitors' bump is
    computed for them alone (a fifth of the time of the whole-array update at 1 % of
    visitors, a third at 5 %): the same float32 operations, so the same values (a
    non-visitor's h·(1 − d) + 0 is h·(1 − d)). On day ``day`` (0 = the first) habits
    below float32's smallest normal number become 0 where one could be that small
    (:mod:`sim.core.flush_to_zero`), unless ``flush`` is False (settings with which the
    flush could move an outcome: :func:`~sim.core.flush_to_zero.habit_flush_is_exact`).
    """
    g, d = np.float32(gain), np.float32(decay)
    one = np.float32(1.0)
    if visitors.size < SPARSE_VISITOR_SHARE * habit.size:
        before = habit[visitors]
        bump = g * (one - before) + d * before
        habit *= one - d
        habit[visitors] += bump
    else:
        bump = g * (one - habit) + d * habit
        bump *= visited
        habit *= one - d
        habit += bump
    if flush and may_fall_below(gain, decay, day, FLOAT32_TINY):
        flush_below(habit, FLOAT32_TINY)
