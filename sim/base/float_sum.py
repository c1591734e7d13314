"""Sums of floats with the same bits on every Python version.

Python 3.12 made the built-in ``sum()`` of ``float`` values compensate its rounding
(Neumaier's algorithm), so the same costs added up by ``sum()`` could give a last bit
on 3.12 and later that 3.11 does not give, and a run's results would depend on the
interpreter (they did: ``cost_total`` of one day of ``balanced_mix``). Everything opsim
reports is added up left to right instead, as one thread walking the values in order
does on every version.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["sum_in_order"]


def sum_in_order(values: Iterable[float], start: float = 0.0) -> float:
    """``((start + v0) + v1) + …``: each addition rounded, left to right (Python 3.11's ``sum()``).

    Args:
        values: The numbers to add, in the order they are added.
        start: The value the first number is added to.

    Returns:
        The sum, the same on every Python version (``[1e16, 1.0, 1.0]`` gives ``1e16``,
        where Python 3.12's ``sum()`` gives ``1.0000000000000002e16``).

    """
    total = start
    for value in values:
        total += value
    return total
