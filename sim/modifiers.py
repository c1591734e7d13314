"""The seams levers act through: per-user multipliers on each daily process.

Every process reads its multiplier from :class:`Modifiers`; a value of 1 (or an
empty channel table) is the organic product. A multiplier is either a scalar,
applied to everyone, or a float32 array with one entry per slot, applied to
that slot. Levers (strategies) write these before each day's step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Modifiers", "at"]

Multiplier = float | np.ndarray


@dataclass
class Modifiers:
    """Per-process multipliers for one day.

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
