"""Errors raised by opsim.

One base class, :class:`OpsimError`, and specific subclasses. Messages name the
configuration key, the offending value and what is allowed, so the user can fix
the input without reading code.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "ConfigError",
    "MemoryLimitError",
    "OpsimError",
    "OutputError",
    "ResultFolderError",
    "UsageError",
    "first_line",
    "shown_value",
]


class OpsimError(Exception):
    """Base class of every error opsim raises on purpose."""


#: Whole floats below this are echoed without ``.0`` (beyond it a float no longer holds every integer).
_EXACT_INTEGER_LIMIT = 2**53


def shown_value(value: Any) -> str:
    """A config value as a person writes it on the command line: ``8`` for a float field given ``8``.

    A float field holds ``messages_per_week=8`` as ``8.0``; echoing that back ("=8.0 is not
    allowed") looks like a value the user did not type. Other values are their ``repr``
    (strings quoted, ``nan``, ``inf``, ``0.5``).
    """
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() and abs(value) < _EXACT_INTEGER_LIMIT:
        return str(int(value))
    return repr(value)


class ConfigError(OpsimError, ValueError):
    """A configuration value is unknown, of the wrong type or out of range.

    Attributes:
        key: Dotted path of the offending key, e.g. ``population.market_size``.
        value: The value that was given.
        allowed: Human-readable description of what is allowed.

    """

    def __init__(self, key: str, value: Any, allowed: str, *, exact: bool = False) -> None:
        """``exact``: show the value's ``repr`` (``1.0``) where a whole float is the point, not :func:`shown_value`."""
        self.key = key
        self.value = value
        self.allowed = allowed
        self.exact = exact
        super().__init__(f"{key}={repr(value) if exact else shown_value(value)} is not allowed: {allowed}")

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle with the constructor's arguments (errors cross process boundaries in sweeps)."""
        return (_config_error, (type(self), self.key, self.value, self.allowed, self.exact))


def _config_error(cls: type[ConfigError], key: str, value: Any, allowed: str, exact: bool) -> ConfigError:
    """A :class:`ConfigError` (or subclass) rebuilt from its pickle (``exact`` is keyword-only)."""
    return cls(key, value, allowed, exact=exact)


class UsageError(OpsimError, ValueError):
    """A command line the command cannot read (an unknown flag, a flag without its value).

    The message is the whole line; it says what to change.
    """


class OutputError(OpsimError, OSError):
    """A result file could not be written (disk full, file-size limit, read-only folder).

    Nothing half-written is left under the file's name: the temporary file is removed.

    Attributes:
        path: The file that was being written.
        reason: The operating system's reason (``No space left on device``).

    """

    def __init__(self, path: Any, reason: str, errno: int | None = None) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"cannot write {path}: {reason}")
        self.errno = errno
        self.strerror = reason
        self.filename = str(path)

    def __str__(self) -> str:
        return f"cannot write {self.path}: {self.reason}"

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle with the constructor's arguments (errors cross process boundaries in sweeps)."""
        return (type(self), (self.path, self.reason, self.errno))


class MemoryLimitError(ConfigError):
    """The run would need more memory than the machine has available: refused before anything is allocated."""


class ResultFolderError(OpsimError, ValueError):
    """A result folder opsim reads back is missing a file or holds one it cannot read (the message names it)."""


def first_line(exc: BaseException) -> str:
    """The first line of an error's message (its type's name if it has none), for a one-line account of it."""
    return (str(exc).splitlines() or [type(exc).__name__])[0]
