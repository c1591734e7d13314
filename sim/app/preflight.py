"""Checks before long work, and the pieces of an all-or-nothing write, shared by the calibration commands.

A command checks every output path (and every option) before it fits anything, so a
bad path costs a line and no minutes; it builds every output in memory and hands
them to :func:`sim.output.files.write_all`, which writes all of them or none.
"""

from __future__ import annotations

import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from sim.app.exits import EXIT_BAD_INPUT, EXIT_INTERRUPTED, interrupted
from sim.base.errors import ConfigError, OpsimError
from sim.output.files import json_text

__all__ = [
    "PRESET_NAME",
    "check_writable",
    "csv_writer",
    "json_writer",
    "stopped",
    "text_writer",
    "unwritten_line",
]

#: A preset name opsim can select as ``population=<name>`` or ``strategy=<name>``.
PRESET_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")


def _nearest_existing(path: Path) -> Path:
    for p in (path, *path.parents):
        if p.exists():
            return p
    return Path("/")


def check_writable(option: str, path: Path, *, folder: bool) -> None:
    """Raise one clear :class:`ConfigError` if ``path`` cannot be written.

    The nearest existing folder is probed with a temporary file that is removed at
    once (permission bits alone say nothing for root or on a read-only mount).

    Args:
        option: The command-line option, for the message.
        path: The file (``folder=False``) or folder to be written.
        folder: Whether ``path`` is a folder.

    """
    if path.exists() and folder and not path.is_dir():
        raise ConfigError(option, str(path), "a folder (this is a file)")
    if path.exists() and not folder and path.is_dir():
        raise ConfigError(option, str(path), "a file path (this is a folder)")
    where = _nearest_existing(path if folder else path.parent)
    if not where.is_dir():
        raise ConfigError(option, str(path), f"a path inside a folder ({where} is a file)")
    try:
        with tempfile.TemporaryFile(dir=where):
            pass
    except OSError as exc:
        raise ConfigError(option, str(path), f"a writable location ({where}: {exc.strerror or exc})") from None


def csv_writer(frame: pd.DataFrame) -> Callable[[Path], None]:
    """Writes ``frame`` as CSV to the path it is given."""
    return lambda p: frame.to_csv(p, index=False)


def json_writer(data: Any) -> Callable[[Path], None]:
    """Writes ``data`` as :func:`sim.output.files.json_text` does: strict JSON, a missing number ``null``."""
    text = json_text(data)
    return lambda p: p.write_text(text, encoding="utf-8")


def text_writer(text: str) -> Callable[[Path], None]:
    """Writes UTF-8 text."""
    return lambda p: p.write_text(text, encoding="utf-8")


def unwritten_line(prog: str, exc: OSError) -> str:
    """The one line for outputs that could not be written (written all together, so none were)."""
    where = exc.filename or "an output file"
    return f"{prog}: error: could not write {where}: {exc.strerror or exc}; nothing was written"


def stopped(prog: str, exc: BaseException, *, writing: bool) -> int:
    """Print the one line for what stopped a calibration command; its exit code (a bug's error is re-raised).

    Args:
        prog: The command's name, which starts the line.
        exc: What stopped it.
        writing: Whether the outputs' all-or-nothing write (:func:`sim.output.files.write_all`) had begun.

    Returns:
        130 for a Ctrl-C (:func:`sim.app.exits.interrupted`); 2 for bad input and for
        outputs that could not be written.

    """
    if interrupted(exc):
        if writing:
            print(
                f"{prog}: interrupted while its outputs were being written (all of them or none were replaced); "
                "run the same command again",
                file=sys.stderr,
            )
        else:
            print(f"{prog}: interrupted: nothing was written; run the same command again", file=sys.stderr)
        return EXIT_INTERRUPTED
    if isinstance(exc, OSError):  # also write_all's OutputError, which names the file
        print(unwritten_line(prog, exc), file=sys.stderr)
        return EXIT_BAD_INPUT
    if isinstance(exc, OpsimError | ValueError):
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    raise exc
