"""Schema helpers shared by every config dataclass (population, levers, economics, run).

A field made with :func:`bounded` carries its allowed range in the dataclass
field metadata; :func:`check_ranges` walks a whole config tree of dataclasses
and checks each one, naming the dotted key on failure.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import field
from typing import Any

from sim.base.errors import ConfigError

__all__ = ["MAX_MONEY", "MAX_MULTIPLIER", "bounded", "check_ranges", "format_number"]

#: Largest amount of money a config may name, in its currency: a daily budget, a price,
#: a reward, an order value, a cost per contact or per message. 10^12 is above any real
#: one even in a currency worth 10^-4 US dollars (a US$10 million daily ad budget is
#: 2.5·10^11 Vietnamese dong), and keeps every total finite: at most M = 10^12 real users
#: × 10^12 per user and day × 3650 days ≈ 4·10^27, its Monte-Carlo variance (squares,
#: ≈ 10^55) far below float64's largest number, 1.8·10^308.
MAX_MONEY = 1e12

#: Largest multiplier or rate a config may name: a lever's multiplier on conversion, visits
#: or the churn hazard, a lift, a habit strength, an invitation or word-of-mouth rate per
#: day, a weekly pattern's factor, a tenure exponent. 10^6 is far above any real one (a
#: rate per day above 1 is already certain), and float32-safe where the model multiplies
#: them together: a visit probability is at most five such factors (weekday, habit,
#: content, push, incentives: 10^30), a death probability at most content × onboarding ×
#: push fatigue (10^6 · 10^6 · (1 + 10^6 · 3651²) ≈ 10^25), a conversion at most coupon ×
#: channel (10^12), all below float32's largest number, 3.4·10^38. Above it a value cast
#: to float32 could become inf, and inf × 0 NaN (a user with no habit or no fatigue).
MAX_MULTIPLIER = 1e6


def bounded(
    default: Any,
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    choices: tuple[Any, ...] | None = None,
) -> Any:
    """A dataclass field whose value :func:`check_ranges` checks against bounds."""
    return field(default=default, metadata={"ge": ge, "gt": gt, "le": le, "lt": lt, "choices": choices})


def format_number(x: float) -> str:
    """A bound as a person writes it: ``1`` not ``1.0``, ``0.001`` not ``1e-03``."""
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def check_field(path: str, value: Any, meta: Mapping[str, Any]) -> None:
    """Check one value against the bounds in its field metadata.

    Raises:
        ConfigError: Naming ``path``, the value and the allowed range.

    """
    if meta.get("choices") is not None and value not in meta["choices"]:
        raise ConfigError(path, value, f"one of {', '.join(map(str, meta['choices']))}")
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(path, value, "a finite number")
    ge, gt, le, lt = meta.get("ge"), meta.get("gt"), meta.get("le"), meta.get("lt")
    rules = []
    if ge is not None:
        rules.append(f">= {format_number(ge)}")
    if gt is not None:
        rules.append(f"> {format_number(gt)}")
    if le is not None:
        rules.append(f"<= {format_number(le)}")
    if lt is not None:
        rules.append(f"< {format_number(lt)}")
    ok = (ge is None or value >= ge) and (gt is None or value > gt) and (le is None or value <= le)
    ok = ok and (lt is None or value < lt)
    if not ok:
        raise ConfigError(path, value, "a number " + " and ".join(rules))


def check_ranges(obj: Any, path: str = "") -> None:
    """Check every bounded field of a dataclass tree (dataclasses, and dicts of them).

    Args:
        obj: A dataclass instance.
        path: Dotted key of ``obj`` in the whole config (``""`` at the top).

    Raises:
        ConfigError: On the first value outside its bounds.

    """
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        key = f"{path}.{f.name}" if path else f.name
        if dataclasses.is_dataclass(value):
            check_ranges(value, key)
        elif isinstance(value, dict):
            for name, item in value.items():
                if dataclasses.is_dataclass(item):
                    check_ranges(item, f"{key}.{name}")
        elif f.metadata:
            check_field(key, value, f.metadata)
