"""Awareness (Bass diffusion), forgetting and conversion: the pre-acquisition funnel.

On day t an UNAWARE slot becomes AWARE with the Bass hazard

    h(t) = p + q · DAU(t−1) / M + Σ_k e_k(t)          (capped at 1)

where ``p`` is innovation (``awareness.p``: organic exposure), ``q`` imitation
(``awareness.q``: word of mouth from yesterday's daily active users) and e_k
the extra hazard of lever channel k. The slot's acquisition channel is the term
its uniform u_a fell in: u_a < p → organic, p ≤ u_a < p + q·DAU/M → word of
mouth, and so on in channel order.

An AWARE slot (including one that became aware today) converts to NEW with
probability c (``conversion_rate``, times the lever multiplier); one that was
already aware and did not convert forgets (back to UNAWARE) with probability
min(φ, 1 − c) (``awareness.forget_rate``). Both decisions use the slot's
``activity`` uniform u_v: convert if u_v < c, forget if u_v ≥ 1 − φ.

With c = 1, φ = 0 and every user visiting daily this is the discrete Bass model
F(t) = F(t−1) + (p + q·F(t−1))·(1 − F(t−1)).
"""

from __future__ import annotations

import numpy as np

from sim.lifecycle import Stage

__all__ = ["funnel", "hazard_edges"]


def hazard_edges(p: float, q: float, dau_yesterday: int, market_size: int, extra: list[float]) -> np.ndarray:
    """Cumulative awareness hazard by channel: [p, p + q·DAU/M, … + e_k], float32.

    The last edge is the total daily hazard h(t); channel k owns
    [edge[k−1], edge[k]).
    """
    terms = [p, q * dau_yesterday / market_size, *extra]
    return np.cumsum(np.asarray(terms, dtype=np.float64)).astype(np.float32)


def funnel(
    stage: np.ndarray,
    channel: np.ndarray,
    u_aware: np.ndarray,
    u_activity: np.ndarray,
    edges: np.ndarray,
    conversion: float | np.ndarray,
    forget_rate: float,
) -> np.ndarray:
    """Apply one day of awareness, conversion and forgetting in place.

    Args:
        stage: int8 stage codes of a chunk (updated: UNAWARE ↔ AWARE).
        channel: int8 channel codes (set for slots that become aware).
        u_aware: ``awareness`` uniforms of the chunk.
        u_activity: ``activity`` uniforms of the chunk.
        edges: Output of :func:`hazard_edges`.
        conversion: Daily conversion probability c (scalar or per slot).
        forget_rate: Daily forgetting probability φ.

    Returns:
        Local indices of the slots that convert (are acquired) today; their
        stage is still AWARE, the caller records the acquisition.

    """
    total = edges[-1]
    newly = (stage == Stage.UNAWARE) & (u_aware < total)
    new_idx = np.flatnonzero(newly)
    if new_idx.size:
        channel[new_idx] = np.searchsorted(edges, u_aware[new_idx], side="right")
        stage[new_idx] = Stage.AWARE
    aware = stage == Stage.AWARE
    c = np.float32(conversion) if np.isscalar(conversion) else conversion
    converts = aware & (u_activity < c)
    if forget_rate > 0:
        forgets = aware & ~newly & ~converts & (u_activity >= np.float32(1.0 - forget_rate))
        stage[forgets] = Stage.UNAWARE
    return np.flatnonzero(converts)
