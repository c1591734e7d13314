"""Flush to zero: decaying per-user state set to 0 before it turns subnormal.

Habit h (``habit.decay`` d), push fatigue F (``fatigue_decay`` δ) and incentive
dependence D (``dependence_decay``) of a user who stops visiting shrink geometrically,

    x_t = x_s · (1 − d)^(t − s),

and after a few hundred days (about 530 for the ``game`` preset's habit, d = 0.15) fall
below float32's smallest normal number, 2^−126. Subnormal numbers cost x86 processors a
micro-code assist in every operation that reads or makes one: without the flush a
1,000,000-user ``game`` run over 900 days stepped its last 100 days in 40.2 ms a day,
with it in 25.5 ms (24.8 ms before any habit could be subnormal; ``python
benchmarks/bench_flush.py --rounds 2``, 2026-11-30, a 2-core Intel Xeon). Numpy cannot
switch the processor's flush-to-zero mode, so the state is flushed itself, on the days
that :func:`may_fall_below` says a value could be below the floor:

    x ← 0   where x < floor.

The floor is 2^−126 (:data:`FLOAT32_TINY`) for habit and dependence: only values that
were subnormal change, and none of them moves an outcome (1 + κ·h and 1 − ρ·D round
to 1 long before). Fatigue is squared (1 + κ_F · F²), so its floor is 2^−63
(:data:`SQUARE_FLOOR`), below which F² is subnormal: F < 2^−63 moves no outcome either
(1 + κ_F · F² = 1, F + 1 = 1, and only users messaged today, F ≥ 1, may opt out), and F
is not reported. A run in which no value falls below its floor is unchanged bit for bit.
"""

from __future__ import annotations

import numpy as np

__all__ = ["FLOAT32_TINY", "SQUARE_FLOOR", "flush_below", "may_fall_below"]

#: float32's smallest normal number, 2^−126: the floor of values used linearly.
FLOAT32_TINY = float(np.finfo(np.float32).tiny)
#: 2^−63: the floor of a value that is squared (its square is then at least 2^−126).
SQUARE_FLOOR = 2.0**-63
#: How far above the floor the lower bound of :func:`may_fall_below` must stay for a day
#: to be skipped: covers float32 rounding (at most 2^−22 of a value a day), for
#: a million days and more.
BOUND_MARGIN = 2.0**20


def may_fall_below(start: float, decay: float, day: int, floor: float) -> bool:
    """Whether a positive value could be below ``floor`` after day ``day`` (0 = the first day).

    Every positive value was at least ``start`` on some day from day 0 on (a visit
    lifts habit to at least its gain g, a message lifts fatigue to at least 1, a reward
    dependence to at least its gain), and shrinks at most by the factor 1 − ``decay`` a
    day after that, so it is at least start · (1 − decay)^(day + 1). With no start (all
    values stay 0), no decay, or a decay of 1 (values become exactly 0) nothing turns
    subnormal.
    """
    if start <= 0 or decay <= 0 or decay >= 1:
        return False
    return start * (1.0 - decay) ** (day + 1) < floor * BOUND_MARGIN


def flush_below(values: np.ndarray, floor: float) -> None:
    """Set the entries of ``values`` (float32, non-negative) below ``floor`` to 0, in place.

    Multiplied by the mask (x · 1 = x exactly, x · 0 = 0): a third of the time of
    ``np.putmask`` or a masked assignment here (85 against 250 and 280 µs for 262,144 values).
    """
    np.multiply(values, values >= np.float32(floor), out=values)
