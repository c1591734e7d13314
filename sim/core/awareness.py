"""Awareness (Bass diffusion), forgetting and conversion: the pre-acquisition funnel.

On day t an UNAWARE slot becomes AWARE with the Bass hazard

    h(t) = p + q · DAU(t−1) / M + Σ_k e_k(t)          (capped at 1)

DAU(t−1) / M is the share of the market active yesterday; a sample of N
simulated users estimates it as their own DAU over N.

where ``p`` is innovation (``awareness.p``: organic exposure), ``q`` imitation
(``awareness.q``: word of mouth from yesterday's daily active users) and e_k
the extra hazard of lever channel k. The slot's acquisition channel is the term
its uniform u_a fell in: u_a < p → organic, p ≤ u_a < p + q·DAU/M → word of
mouth, and so on in channel order.

An AWARE slot (including one that became aware today) converts to NEW with
probability γ (``conversion_rate``, times the lever multiplier). One that was
already aware and did not convert forgets (back to UNAWARE). Both decisions use
the slot's ``activity`` uniform u_v: convert if u_v < γ, forget if u_v ≥ 1 − φ
(φ = ``awareness.forget_rate``). So the unconditional daily chance of forgetting
is min(φ, 1 − γ), and the chance of forgetting given no conversion is
min(1, φ / (1 − γ)).

With γ = 1, φ = 0, no churn and every user visiting daily this is the discrete
Bass model F(t) = F(t−1) + (p + q·F(t−1))·(1 − F(t−1)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.base.schema import MAX_MULTIPLIER, bounded
from sim.core.flags import FLAG_EVER_AWARE
from sim.core.lifecycle import Stage

__all__ = ["MAX_HAZARD", "AwarenessConfig", "become_aware", "convert", "hazard_edges"]

#: The daily awareness hazard is a probability: h(t) = min(1, …).
MAX_HAZARD = np.float32(1.0)


@dataclass
class AwarenessConfig:
    """Bass awareness (``population.awareness``): daily hazard p + q·DAU(t−1)/M; forgetting rate φ."""

    p: float = bounded(1e-3, ge=0, le=1)
    q: float = bounded(0.1, ge=0, le=MAX_MULTIPLIER)
    forget_rate: float = bounded(0.0, ge=0, le=1)


def hazard_edges(
    p: float,
    q: float,
    active: int,
    simulated_users: int,
    extra: list[float],
    organic_extra: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """Cumulative awareness hazard by channel: [p + e_o, p + e_o + q·DAU/M + e_w, … + e_k], float32.

    DAU(t−1)/M is estimated by ``active`` (yesterday's simulated DAU) over
    ``simulated_users`` N. ``extra`` holds the hazards e_k of the lever channels and
    ``organic_extra`` the extra hazards (e_o, e_w) that user code adds to the two
    organic channels (``model.modifiers.awareness``). The last edge is the total daily
    hazard h(t) = min(1, …) (the daily table's ``awareness_hazard``); channel k owns
    [edge[k−1], edge[k]). Edges are capped at 1 (:data:`MAX_HAZARD`): a uniform is
    below 1, so the cap changes neither who becomes aware nor through which channel.
    """
    terms = [p + organic_extra[0], q * active / simulated_users + organic_extra[1], *extra]
    edges = np.cumsum(np.asarray(terms, dtype=np.float64)).astype(np.float32)
    return np.minimum(edges, MAX_HAZARD)


def become_aware(
    stage: np.ndarray,
    channel: np.ndarray,
    segment: np.ndarray,
    u_aware: np.ndarray,
    edges: np.ndarray,
    admits: np.ndarray | None = None,
    flags: np.ndarray | None = None,
) -> np.ndarray:
    """UNAWARE → AWARE for slots whose uniform falls below the total hazard.

    Args:
        stage: int8 stage codes of a chunk (updated in place).
        channel: int8 channel codes (set for slots that become aware).
        segment: int8 segment codes.
        u_aware: ``awareness`` uniforms of the chunk.
        edges: Output of :func:`hazard_edges`.
        admits: Optional bool table [channel, segment]: False where a lever channel
            does not target the segment (such a slot stays unaware).
        flags: Optional uint8 flags; the EVER_AWARE bit is set for new aware slots.

    Returns:
        Bool mask of the slots that became aware today.

    """
    newly = (stage == Stage.UNAWARE) & (u_aware < edges[-1])
    new_idx = np.flatnonzero(newly)
    if new_idx.size:
        codes = np.searchsorted(edges, u_aware[new_idx], side="right").astype(np.int8)
        if admits is not None:
            keep = admits[codes, segment[new_idx]]
            newly[new_idx[~keep]] = False
            new_idx, codes = new_idx[keep], codes[keep]
        channel[new_idx] = codes
        stage[new_idx] = Stage.AWARE
        if flags is not None:
            flags[new_idx] |= FLAG_EVER_AWARE
    return newly


def convert(
    stage: np.ndarray,
    newly: np.ndarray,
    u_activity: np.ndarray,
    aware: np.ndarray,
    conversion: float | np.ndarray,
    forget_rate: float,
) -> np.ndarray:
    """AWARE → acquired (returned) or → UNAWARE (forgetting, in place).

    Args:
        stage: int8 stage codes of a chunk.
        newly: Mask of slots that became aware today (they cannot forget today).
        u_activity: ``activity`` uniforms of the chunk.
        aware: Local indices of the AWARE slots.
        conversion: Daily conversion probability γ (scalar, or aligned with ``aware``).
        forget_rate: Daily forgetting probability φ.

    Returns:
        Local indices of the slots that convert today; their stage is still AWARE,
        the caller records the acquisition.

    """
    u = u_activity[aware]
    c = np.float32(conversion) if np.isscalar(conversion) else conversion
    converts = u < c
    if forget_rate > 0:
        forgets = ~newly[aware] & ~converts & (u >= np.float32(1.0 - forget_rate))
        stage[aware[forgets]] = Stage.UNAWARE
    return aware[converts]
