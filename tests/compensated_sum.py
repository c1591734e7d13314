"""Python 3.12's ``sum()`` of floats, for tests that run on 3.11: what a reported sum must not become.

From 3.12, the built-in ``sum()`` adds floats with Neumaier's compensated algorithm
(CPython's ``builtin_sum_impl``): each addition's rounding error is kept in ``c`` and
added back at the end, so ``sum([1e16, 1.0, 1.0])`` is ``1e16 + 2`` where adding left to
right gives ``1e16``. :func:`compensated_sum` does what 3.12 and 3.13 do on any version
(3.14 also compensates the int items of a float sum), and :func:`sum_as_in_python_312`
puts it in place of the built-in while a test runs, so a test that an opsim total is
added left to right (:func:`sim.base.float_sum.sum_in_order`) fails on 3.11 too if that
total goes back to ``sum()``.
"""

from __future__ import annotations

import builtins
import math
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["compensated_sum", "sum_as_in_python_312"]

_BUILTIN_SUM = builtins.sum
#: The range of a C ``long`` on 64-bit Linux: CPython's fast paths for int items stay inside it.
C_LONG_MIN, C_LONG_MAX = -(2**63), 2**63 - 1


def _small(value: int) -> bool:
    return C_LONG_MIN <= value <= C_LONG_MAX


def compensated_sum(values: Iterable[Any], /, start: Any = 0) -> Any:
    """``sum(values, start)`` as CPython 3.12 and 3.13 compute it (``builtin_sum_impl``).

    From an int start (not a bool), int and bool items are added exactly while the total
    stays within a C long. The first other item is added plainly (``total + item``); if
    the total is then a float, each float item from there on is added with its rounding
    error kept in ``c`` (Neumaier), an int or bool item within a C long is added plainly
    as a float, and ``c`` is added to the total at the end, or before the first other
    item, which is added plainly, as is everything after it. Any other start: plain
    additions.
    """
    items = iter(values)
    total = start
    if type(total) is int and _small(total):
        for value in items:
            if isinstance(value, int) and type(value) in (int, bool) and _small(value) and _small(total + value):
                total += int(value)
                continue
            total = total + value
            break
        else:
            return total
    if type(total) is float:
        c = 0.0
        for value in items:
            if type(value) is float:
                t = total + value
                c += (total - t) + value if abs(total) >= abs(value) else (value - t) + total
                total = t
                continue
            if isinstance(value, int) and _small(value):
                total += float(value)
                continue
            if c and math.isfinite(c):
                total += c
            total = total + value
            break
        else:
            return total + c if c and math.isfinite(c) else total
    for value in items:
        total = total + value
    return total


@contextmanager
def sum_as_in_python_312() -> Iterator[None]:
    """Within the block the built-in ``sum()`` compensates float rounding, as on Python 3.12 and later.

    On 3.12 and later the built-in already does, and is left in place. The swap is for
    this process and thread only: a worker process or another thread still adds as 3.11 does.
    """
    if sys.version_info >= (3, 12):
        yield
        return
    builtins.sum = compensated_sum
    try:
        yield
    finally:
        builtins.sum = _BUILTIN_SUM
