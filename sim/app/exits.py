"""Exit codes of opsim's commands, and the one line a command prints for an error.

====  ======================================================================
code  meaning
====  ======================================================================
0     everything asked for finished
1     a run or a sweep job failed, a result could not be written (disk full,
      file-size limit, read-only folder), or a sweep's summary failed
2     bad input (a config key or value, a file, a flag, a run too large for
      the memory available): refused before anything ran or was written
130   interrupted (Ctrl-C); what finished is kept and the line says how to resume
====  ======================================================================

No user error prints a traceback: :func:`fail` prints ``PROG: error: <one line>``
on stderr and exits with the code above.

A Ctrl-C can land inside a library's ``finally`` or ``except`` block that then fails
itself (OmegaConf restoring a flag on a half-built node raises ``AttributeError``): the
error that reaches the command is not the ``KeyboardInterrupt`` but carries it as its
context. :func:`interrupted` recognises both, so that either exits 130 with the
command's "interrupted" line.
"""

from __future__ import annotations

import argparse
import errno
import sys
from typing import NoReturn

from sim.base.errors import OpsimError, OutputError, UsageError

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "describe",
    "exit_code",
    "fail",
    "interrupted",
    "one_line_usage_errors",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
#: 128 + SIGINT, what a shell reports for a command stopped by Ctrl-C.
EXIT_INTERRUPTED = 130
#: System errors that mean "this file or folder cannot be written".
WRITE_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EFBIG, errno.EDQUOT})


def interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` is a Ctrl-C, or an error raised while one was being handled (see the module's docstring).

    Follows the exceptions ``exc`` was raised during (``__context__``) or from
    (``__cause__``), each once.
    """
    pending: list[BaseException] = [exc]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        if isinstance(current, KeyboardInterrupt):
            return True
        seen.add(id(current))
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return False


def exit_code(exc: BaseException) -> int:
    """The exit code for an error: 2 for bad input, 130 for an interruption, else 1."""
    if interrupted(exc):
        return EXIT_INTERRUPTED
    if isinstance(exc, OpsimError) and not isinstance(exc, OutputError):
        return EXIT_BAD_INPUT
    return EXIT_FAILED


def describe(exc: BaseException) -> str:
    """One line for an error: opsim's own message, or a system error's file and reason."""
    if isinstance(exc, OpsimError):
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, OSError) and exc.strerror:
        if not exc.filename:
            return exc.strerror
        verb = "cannot write " if exc.errno in WRITE_ERRNOS else ""
        return f"{verb}{exc.filename}: {exc.strerror}"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def fail(prog: str, exc: BaseException, suffix: str = "") -> NoReturn:
    """Print ``PROG: error: <one line>`` on stderr and exit with :func:`exit_code`."""
    print(f"{prog}: error: {describe(exc)}{suffix}", file=sys.stderr, flush=True)
    raise SystemExit(exit_code(exc))


def one_line_usage_errors(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``parser``, reporting a bad flag or value in one line and exit code 2, not argparse's usage block.

    ``PROG: error: <argparse's message> (PROG --help)`` through :func:`fail`, as every
    other bad input of the commands.
    """
    prog = parser.prog

    def refuse(message: str) -> NoReturn:
        fail(prog, UsageError(f"{message} ({prog} --help)"))

    parser.error = refuse  # type: ignore[method-assign]
    return parser
