"""Python 3.12's ``sum()`` of floats, for tests that run on 3.11: what a reported sum must not become.

From 3.12, the built-in ``sum()`` adds floats with Neumaier's compensated algorithm
(CPython's ``builtin_sum_impl``): each addition's rounding error is kept in ``c`` and
added back at the end, so ``sum([1e16, 1.0, 1.0])`` is ``1e16 + 2`` where adding left to
right gives ``1e16``. :func:`compensated_sum` does the same on any version, and
:func:`sum_as_in_python_312` puts it in place of the built-in while a test runs, so a
test that an opsim total is added left to right (:func:`sim.base.float_sum.sum_in_order`)
fails on 3.11 too if that total goes back to ``sum()``.
"""

from __future__ import annotations

import builtins
import math
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

_BUILTIN_SUM = builtins.sum


def compensated_sum(values: Iterable[Any], /, start: Any = 0) -> Any:
    """``sum(values, start)`` as Python 3.12 computes it for ints and floats (anything else: the built-in).

    As CPython's ``builtin_sum_impl``: from an int start, ints are added exactly until the
    first float, which is added plainly; from then on each float is added with its
    rounding error kept in ``c`` (Neumaier), an int item is added plainly, and ``c`` is
    added to the total at the end.
    """
    items = list(values)
    numbers = (start, *items)
    if not all(type(v) in (int, float) for v in numbers) or not any(type(v) is float for v in numbers):
        return _BUILTIN_SUM(items, start)
    rest = iter(items)
    total = start
    if type(total) is int:
        for value in rest:
            total = total + value
            if type(value) is float:
                break
    c = 0.0
    for value in rest:
        if type(value) is int:
            total += float(value)
            continue
        t = total + value
        c += (total - t) + value if abs(total) >= abs(value) else (value - t) + total
        total = t
    return total + c if c and math.isfinite(c) else total


@contextmanager
def sum_as_in_python_312() -> Iterator[None]:
    """Within the block the built-in ``sum()`` compensates float rounding, as on Python 3.12 and later."""
    if sys.version_info >= (3, 12):  # it already does
        yield
        return
    builtins.sum = compensated_sum
    try:
        yield
    finally:
        builtins.sum = _BUILTIN_SUM
