"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Every file opsim writes goes through :func:`write_atomic`: the content is written
to a hidden temporary file in the same folder (``.NAME.<random>.tmp``), flushed, and
renamed over the target. The temporary file is created with mode 0666 filtered by
the process umask at that moment, like any ordinary file.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["write_atomic", "write_json", "write_text"]

#: Permission bits asked for a new file (the umask filters them, as for ``open``).
NEW_FILE_MODE = 0o666


def _temporary(path: Path) -> Path:
    """Create an empty, unique temporary file next to ``path`` (honours the current umask)."""
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, NEW_FILE_MODE)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(f"{path.parent}: could not create a unique temporary file for {path.name}")


def write_atomic(path: str | os.PathLike[str], write: Callable[[Path], None]) -> None:
    """Write a file through a temporary name in the same folder, then rename.

    Args:
        path: The file to write (its folder is created if needed).
        write: Writes the content to the path it is given.

    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 text atomically."""
    write_atomic(path, lambda p: p.write_text(text, encoding="utf-8"))


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    """Write JSON atomically (NaN allowed; numpy numbers as floats), indented, with a final newline."""
    write_text(path, json.dumps(data, indent=2, allow_nan=True, default=float) + "\n")
