"""Exit codes: which errors count as an interruption (Ctrl-C), bad input or a failure."""

from __future__ import annotations

import errno
import os

import pytest

from sim.app.exits import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, exit_code, interrupted
from sim.base.errors import ConfigError, OutputError


def raised(function) -> BaseException:
    """The exception ``function()`` raises."""
    try:
        function()
    except BaseException as exc:  # KeyboardInterrupt included
        return exc
    raise AssertionError("nothing was raised")


def fails_while_ctrl_c_unwinds() -> None:
    """What OmegaConf did: a ``finally`` that restores a flag fails while a Ctrl-C passes through it."""
    node = None
    try:
        raise KeyboardInterrupt
    finally:
        node._invalidate_flags_cache()  # AttributeError: 'NoneType' object has no attribute ...


def fails_after_catching_ctrl_c() -> None:
    try:
        raise KeyboardInterrupt
    except KeyboardInterrupt as exc:
        raise RuntimeError("cleanup failed") from exc


def fails_from_an_error_raised_in_ctrl_c_handling() -> None:
    inner = raised(fails_while_ctrl_c_unwinds)
    try:
        raise inner
    except AttributeError as exc:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)) from exc


def fails_after_a_handled_error() -> None:
    try:
        raise ValueError("first")
    except ValueError:
        raise RuntimeError("second") from None  # context kept (suppressed in display), no Ctrl-C in it


def test_a_ctrl_c_and_errors_raised_while_one_was_handled_count_as_interruptions():
    assert interrupted(KeyboardInterrupt())
    unwinding = raised(fails_while_ctrl_c_unwinds)
    assert isinstance(unwinding, AttributeError) and interrupted(unwinding)
    assert interrupted(raised(fails_after_catching_ctrl_c))  # __cause__
    assert interrupted(raised(fails_from_an_error_raised_in_ctrl_c_handling))  # two links away
    for exc in (unwinding, raised(fails_from_an_error_raised_in_ctrl_c_handling)):
        assert exit_code(exc) == EXIT_INTERRUPTED


def test_errors_without_a_ctrl_c_behind_them_are_not_interruptions():
    assert not interrupted(raised(fails_after_a_handled_error))
    assert not interrupted(RuntimeError("plain"))
    assert not interrupted(SystemExit(2))
    looped = RuntimeError("a")
    other = RuntimeError("b")
    looped.__context__, other.__context__ = other, looped  # a cycle ends the walk
    assert not interrupted(looped)
    looped.__cause__ = KeyboardInterrupt()
    assert interrupted(other)  # found through the cycle's other member


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (ConfigError("seed", "x", "an integer"), EXIT_BAD_INPUT),
        (OutputError("out/summary.json", "No space left on device"), EXIT_FAILED),  # an OpsimError, but not bad input
        (OSError(errno.EROFS, os.strerror(errno.EROFS)), EXIT_FAILED),
        (RuntimeError("a bug"), EXIT_FAILED),
        (KeyboardInterrupt(), EXIT_INTERRUPTED),
    ],
)
def test_exit_codes(exc, code):
    assert exit_code(exc) == code
