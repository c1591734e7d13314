"""Schema helpers shared by every config dataclass (population, levers, economics).

A field made with :func:`bounded` carries its allowed range in the dataclass
field metadata; :func:`sim.config.validate` walks the whole config and checks
each one, naming the dotted key on failure.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

__all__ = ["bounded"]


def bounded(
    default: Any,
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    choices: tuple[Any, ...] | None = None,
) -> Any:
    """A dataclass field whose value :func:`sim.config.validate` checks against bounds."""
    return field(default=default, metadata={"ge": ge, "gt": gt, "le": le, "lt": lt, "choices": choices})
