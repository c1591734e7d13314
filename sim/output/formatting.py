"""Numbers as a reader sees them: money with its currency, thousands separators, signs, intervals.

Every page (run, sweep, plan) and every figure label formats numbers through these
functions, so "583,350" never appears without its currency and an interval is
always written the same way:

    >>> money(583350.4, "USD")
    '583,350 USD'
    >>> money(-1285.2, "USD", signed=True)
    '-1,285 USD'
    >>> with_half_width(505686, 9876.2, lambda x: money(x, "USD", signed=True, digits=0))
    '+505,686 ± 9,876 USD'
    >>> percent(0.2571)
    '25.7 %'
    >>> compact(1_250_000)
    '1.25M'

A missing value (None, NaN, ±inf) is written as an em dash, never as "nan".
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

__all__ = [
    "MISSING",
    "compact",
    "counted",
    "digits_for",
    "is_number",
    "money",
    "number",
    "percent",
    "percentage_points",
    "ratio",
    "with_half_width",
]

#: How a missing or undefined value is shown.
MISSING = "—"
#: Amounts below this (in absolute value) are shown with cents (CAC, LTV per user).
SMALL_AMOUNT = 100.0
#: SI prefixes of :func:`compact`, largest first.
SI_PREFIXES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))
#: :func:`compact` writes numbers below this in full (with separators).
COMPACT_FROM = 10_000.0


def is_number(x: Any) -> bool:
    """Whether ``x`` is a finite real number (bools excluded)."""
    if x is None or isinstance(x, bool):
        return False
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def counted(n: int, noun: str) -> str:
    """``n`` and its noun, singular for one: ``counted(1, "day")`` → ``1 day``, ``counted(365, "day")`` → ``365 days``.

    Every noun opsim counts takes an ``s`` (day, job, point, seed, user, run).
    """
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def number(x: Any, digits: int = 0, *, signed: bool = False) -> str:
    """``12,345`` (``+12,345`` when signed); counts may be fractional estimates, shown rounded."""
    if not is_number(x):
        return MISSING
    value = float(x)
    if round(value, digits) == 0:
        value = 0.0  # no "-0"
    return f"{value:{'+' if signed else ''},.{digits}f}"


def money(x: Any, currency: str, *, signed: bool = False, digits: int | None = None) -> str:
    """An amount with its currency: ``1,234 USD``; cents below 100 (``22.53 USD``)."""
    if not is_number(x):
        return MISSING
    if digits is None:
        digits = 2 if abs(float(x)) < SMALL_AMOUNT else 0
    return f"{number(x, digits, signed=signed)} {currency}".rstrip()


def percent(share: Any, digits: int = 1) -> str:
    """A share as a percentage: ``0.257`` → ``25.7 %``."""
    return MISSING if not is_number(share) else f"{100 * float(share):.{digits}f} %"


def percentage_points(share: Any) -> str:
    """A difference of two shares, signed, in percentage points: ``0.003`` → ``+0.3 pt``."""
    return MISSING if not is_number(share) else f"{100 * float(share):+.1f} pt"


def ratio(x: Any, digits: int = 2, *, signed: bool = True) -> str:
    """A ratio such as an ROI: ``+0.93``."""
    return number(x, digits, signed=signed)


def compact(x: Any, digits: int = 3) -> str:
    """Short SI form for axes and tight cells: ``9,500``, ``12.5k``, ``1.25M`` (``digits`` significant)."""
    if not is_number(x):
        return MISSING
    value = float(x)
    size = abs(value)
    if size < COMPACT_FROM:
        return number(value, 0 if size >= 10 or value == int(value) else 2)
    for scale, prefix in SI_PREFIXES:
        if size >= scale:
            text = f"{value / scale:.{digits}g}"
            return f"{text}{prefix}"
    return number(value)  # pragma: no cover - every size >= COMPACT_FROM has a prefix


def digits_for(half_width: Any, digits: int, *, extra: int = 2) -> int:
    """Decimals that keep an interval's half-width from rounding to zero: ``digits``, up to ``extra`` more.

    >>> digits_for(0.0016, 2)
    3
    """
    if not is_number(half_width) or float(half_width) == 0:
        return digits
    most = digits + extra
    while digits < most and round(abs(float(half_width)), digits) == 0:
        digits += 1
    return digits


def with_half_width(value: Any, half: Any, fmt: Callable[[Any], str]) -> str:
    """``value ± half`` in ``fmt``'s style, the unit written once at the end.

    Args:
        value: The estimate.
        half: Half-width of its interval (None, NaN or 0: the value alone).
        fmt: Formats one number followed by its unit after one space, e.g.
            ``lambda x: money(x, "USD", signed=True, digits=0)``; the half-width is
            formatted by it too, without its sign.

    """
    text = fmt(value)
    if not is_number(half) or float(half) == 0 or text == MISSING:
        return text
    value_part, _, unit = text.partition(" ")
    half_part = fmt(abs(float(half))).partition(" ")[0].lstrip("+")
    return f"{value_part} ± {half_part}" + (f" {unit}" if unit else "")
