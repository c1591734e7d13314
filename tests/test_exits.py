"""Exit codes: which errors count as an interruption (Ctrl-C), bad input or a failure."""

from __future__ import annotations

import errno
import os

import pytest

from sim.app.exits import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, describe, exit_code, fail, interrupted
from sim.base.errors import ConfigError, OutputError, UsageError


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


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (ConfigError("seed", "x", "an integer"), "seed='x' is not allowed: an integer"),
        (OutputError("/r/a.png", "No space left on device"), "cannot write /r/a.png: No space left on device"),
        (UsageError("unrecognized arguments: --x\nsecond line"), "unrecognized arguments: --x"),
        (UsageError(""), "UsageError"),
        (PermissionError(errno.EACCES, "Permission denied", "/r/a.png"), "cannot write /r/a.png: Permission denied"),
        (OSError(errno.ENOSPC, "No space left on device", "/r/b"), "cannot write /r/b: No space left on device"),
        (FileNotFoundError(errno.ENOENT, "No such file or directory", "/r/c"), "/r/c: No such file or directory"),
        (OSError(errno.EIO, "Input/output error"), "Input/output error"),
        (OSError("no strerror"), "OSError: no strerror"),
        (ValueError("two\n  lines   here"), "ValueError: two lines here"),
        (RuntimeError(), "RuntimeError"),
    ],
)
def test_an_error_is_described_in_one_line(error, line):
    assert describe(error) == line


def test_fail_prints_the_program_the_line_and_any_suffix_then_exits_with_the_code(capsys):
    with pytest.raises(SystemExit) as bad:
        fail("opsim-x", ConfigError("seed", "x", "an integer"))
    assert bad.value.code == EXIT_BAD_INPUT
    assert capsys.readouterr().err == "opsim-x: error: seed='x' is not allowed: an integer\n"
    with pytest.raises(SystemExit) as failed:
        fail("opsim-x", OSError(errno.EROFS, "Read-only file system", "/r"), "; 2 of 3 jobs kept")
    assert failed.value.code == EXIT_FAILED
    assert capsys.readouterr().err == "opsim-x: error: cannot write /r: Read-only file system; 2 of 3 jobs kept\n"
