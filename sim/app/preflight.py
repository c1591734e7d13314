"""Checks before long work, and the pieces of an all-or-nothing write, shared by the calibration commands.

A command checks every output path (and every option) before it fits anything, so a
bad path costs a line and no minutes; it builds every output in memory and hands
them to :func:`sim.output.files.write_all`, which writes all of them or none.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from sim.base.errors import ConfigError

__all__ = ["PRESET_NAME", "check_writable", "csv_writer", "json_writer", "text_writer", "unwritten_line"]

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
    """Writes ``data`` as indented JSON (numbers from numpy as floats)."""
    text = json.dumps(data, indent=2, default=float) + "\n"
    return lambda p: p.write_text(text, encoding="utf-8")


def text_writer(text: str) -> Callable[[Path], None]:
    """Writes UTF-8 text."""
    return lambda p: p.write_text(text, encoding="utf-8")


def unwritten_line(prog: str, exc: OSError) -> str:
    """The one line for outputs that could not be written (written all together, so none were)."""
    where = exc.filename or "an output file"
    return f"{prog}: error: could not write {where}: {exc.strerror or exc}; nothing was written"
