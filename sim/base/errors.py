"""Errors raised by opsim.

One base class, :class:`OpsimError`, and specific subclasses. Messages name the
configuration key, the offending value and what is allowed, so the user can fix
the input without reading code.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ConfigError", "OpsimError", "UsageError"]


class OpsimError(Exception):
    """Base class of every error opsim raises on purpose."""


class ConfigError(OpsimError, ValueError):
    """A configuration value is unknown, of the wrong type or out of range.

    Attributes:
        key: Dotted path of the offending key, e.g. ``population.market_size``.
        value: The value that was given.
        allowed: Human-readable description of what is allowed.

    """

    def __init__(self, key: str, value: Any, allowed: str) -> None:
        self.key = key
        self.value = value
        self.allowed = allowed
        super().__init__(f"{key}={value!r} is not allowed: {allowed}")


class UsageError(OpsimError, ValueError):
    """A command line the command cannot read (an unknown flag, a flag without its value).

    The message is the whole line; it says what to change.
    """
