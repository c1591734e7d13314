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

The floor is 2^−126 (:data:`FLOAT32_TINY`) for habit and dependence. Flushing them
moves no outcome: 1 + κ·h and 1 − ρ·D round to 1 long before (κ, ρ ≤ 10^6); a visit's
h + g·(1 − h) and a reward's D + g·(1 − D) round to the same float32 whether h or D was
subnormal or 0, for any gain g of at least 2^−102 (:data:`MIN_GAIN_TO_FLUSH`: a
subnormal is then under half of g's unit in the last place) or 0 (nothing is added;
for dependence any gain, since D then stays too small for 1 − ρ·D to move); and the
ACTIVATED label h ≥ h* sees a subnormal h and 0 alike when h* (as float32) is 0 or at
least 2^−126. A population whose habit gain or ``lifecycle.activated_habit`` is a
positive number below those keeps its subnormal habits (:func:`habit_flush_is_exact`):
slower, and exact. Fatigue is squared (1 + κ_F · F²), so its floor is 2^−63
(:data:`SQUARE_FLOOR`), below which F² is subnormal: F < 2^−63 moves no outcome either
(1 + κ_F · F² = 1, F + 1 = 1, and only users messaged today, F ≥ 1, may opt out), and F
is not reported. Only the flushed values themselves differ (habit can be collected by an
agent reporter); a run in which no value falls below its floor is unchanged bit for bit.
"""

from __future__ import annotations

import numpy as np

__all__ = ["FLOAT32_TINY", "MIN_GAIN_TO_FLUSH", "SQUARE_FLOOR", "flush_below", "habit_flush_is_exact", "may_fall_below"]

#: float32's smallest normal number, 2^−126: the floor of values used linearly.
FLOAT32_TINY = float(np.finfo(np.float32).tiny)
#: 2^−63: the floor of a value that is squared (its square is then at least 2^−126).
SQUARE_FLOOR = 2.0**-63
#: Smallest positive gain (float32) with which flushing a subnormal habit cannot change a
#: visitor's new habit: 2^−102, whose unit in the last place, 2^−125, is more than twice
#: any subnormal number.
MIN_GAIN_TO_FLUSH = 2.0**-102
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


def habit_flush_is_exact(gain: float, activated_habit: float) -> bool:
    """Whether flushing habits below 2^−126 moves no outcome with these settings (module docstring).

    True unless the habit gain g or the ACTIVATED threshold h* (``habit.gain``,
    ``lifecycle.activated_habit``), as float32, is positive and below
    :data:`MIN_GAIN_TO_FLUSH` or :data:`FLOAT32_TINY` respectively.
    """
    g, threshold = float(np.float32(gain)), float(np.float32(activated_habit))
    return (g == 0 or g >= MIN_GAIN_TO_FLUSH) and (threshold == 0 or threshold >= FLOAT32_TINY)


def flush_below(values: np.ndarray, floor: float) -> None:
    """Set the entries of ``values`` (float32, non-negative) below ``floor`` to 0, in place.

    Multiplied by the mask (x · 1 = x exactly, x · 0 = 0): a third of the time of
    ``np.putmask`` or a masked assignment here (85 against 250 and 280 µs for 262,144 values).
    """
    np.multiply(values, values >= np.float32(floor), out=values)
