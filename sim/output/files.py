"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Every result file opsim writes goes through :func:`write_atomic`, or, for files that
must change together, :func:`write_all`: the content is written to a hidden
temporary file in the same folder (``.NAME.<random>.tmp``), flushed, and renamed
over the target. The temporary file is created with mode 0666 filtered by the
process umask at that moment, like any ordinary file.

When the write fails (disk full, a file-size limit, a read-only folder) the
temporary file is removed and :class:`~sim.base.errors.OutputError` names the
target file and the system's reason. A process killed in the middle of a write
cannot remove its temporary file; the next write of the same file removes it
(:func:`remove_temporaries` with ``of``), and a run's folder is cleared of all of
them before it is written again. (The planner's ``study.journal`` is Optuna's
append-only log, not written through here: see ``sim.app.plan.drop_torn_record``.)
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import secrets
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from sim.base.errors import OutputError

__all__ = [
    "ctrl_c_held",
    "json_ready",
    "json_text",
    "remove_temporaries",
    "write_all",
    "write_atomic",
    "write_json",
    "write_text",
]

#: Permission bits asked for a new file (the umask filters them, as for ``open``).
NEW_FILE_MODE = 0o666
#: Hex digits of the random part of a temporary file's name.
TOKEN_BYTES = 4
#: The name of a temporary file of :func:`write_atomic`: ``.NAME.<8 hex digits>.tmp``.
TEMPORARY_NAME = re.compile(rf"^\.(?P<name>.+)\.[0-9a-f]{{{2 * TOKEN_BYTES}}}\.tmp$")


#: Random names tried for one temporary file or backup before giving up.
NAME_TRIES = 100


def _temporary_name(path: Path) -> Path:
    """A random temporary name next to ``path``, of the form :data:`TEMPORARY_NAME` matches."""
    return path.parent / f".{path.name}.{secrets.token_hex(TOKEN_BYTES)}.tmp"


def _temporary(path: Path) -> Path:
    """Create an empty, unique temporary file next to ``path`` (honours the current umask)."""
    for _ in range(NAME_TRIES):
        tmp = _temporary_name(path)
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

    Raises:
        OutputError: The folder or the file could not be written (the reason is the
            system's: no space left, file too large, read-only file system, permission
            denied); the target is unchanged and no temporary file is left.

    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_temporaries(path.parent, of=path.name)  # an earlier write of this file that was killed
        tmp = _temporary(path)
    except OSError as exc:
        raise OutputError(path, exc.strerror or str(exc), exc.errno) from exc
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(path, exc.strerror or str(exc), exc.errno) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def remove_temporaries(folder: str | os.PathLike[str], of: str | None = None) -> list[Path]:
    """Remove the temporary files interrupted writes left in ``folder`` (not below it).

    Only names of the form ``.NAME.<8 hex digits>.tmp`` are removed: temporary files of
    :func:`write_atomic` and :func:`write_all`, and the backups :func:`write_all` keeps
    while it renames. With ``of``, only those of the file named ``of`` (``NAME``).

    Returns:
        The files removed.

    """
    folder = Path(folder)
    removed = []
    if not folder.is_dir():
        return removed
    for entry in folder.iterdir():
        match = TEMPORARY_NAME.match(entry.name)
        if match and (of is None or match["name"] == of) and entry.is_file():
            entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 text atomically."""
    write_atomic(path, lambda p: p.write_text(text, encoding="utf-8"))


def json_ready(data: Any) -> Any:
    """``data`` with every NaN and ±inf replaced by None and numpy numbers made plain Python ones (recursively).

    JSON has no NaN or infinity: Python's ``json`` writes them as ``NaN`` and
    ``Infinity``, which JavaScript's ``JSON.parse`` and most other readers refuse. A
    number opsim cannot give (a ROI without cost, D30 of a shorter run) is written as
    ``null``, as a missing number is. (Numpy values are recognised without importing
    numpy: the console scripts import this module before their figure workers start.)
    """
    if type(data).__module__ == "numpy" and hasattr(data, "tolist"):
        data = data.tolist()  # a numpy number or array as Python's (this module does not import numpy)
    if isinstance(data, Mapping):
        return {key: json_ready(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [json_ready(value) for value in data]
    if isinstance(data, float):
        return float(data) if math.isfinite(data) else None
    return data


def json_text(data: Any) -> str:
    """The JSON text :func:`write_json` writes: :func:`json_ready` of ``data``, indented, with a final newline.

    Strict JSON (RFC 8259): no ``NaN`` or ``Infinity`` in it.
    """
    return json.dumps(json_ready(data), indent=2, allow_nan=False) + "\n"


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    """Write :func:`json_text` of ``data`` atomically."""
    write_text(path, json_text(data))


@contextlib.contextmanager
def ctrl_c_held() -> Iterator[None]:
    """Hold a Ctrl-C (SIGINT) back until the block is done, then deliver it.

    Delivered to the handler that was there before: Python's raises
    ``KeyboardInterrupt`` just after the block. Only the main thread can change a
    signal's handler; in any other thread the block runs unprotected.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            signal.raise_signal(signal.SIGINT)


#: :func:`_backup` of a file that exists but cannot be hard-linked (a file system without links, a folder).
NO_BACKUP = Path()


def _backup(path: Path) -> Path | None:
    """A hard link to the file at ``path`` under a temporary name next to it; None where there is no file.

    :data:`NO_BACKUP` where something is there but cannot be linked. The link is the
    old file itself, not a copy: renamed back, it is the file as it was.
    """
    if not os.path.lexists(path):
        return None
    for _ in range(NAME_TRIES):
        backup = _temporary_name(path)
        try:
            os.link(path, backup, follow_symlinks=False)
        except FileExistsError:
            continue
        except OSError:
            return NO_BACKUP
        return backup
    return NO_BACKUP


def _replace_all(staged: list[tuple[Path, Path]]) -> None:
    """Rename each staged temporary file over its target; if one rename fails, put the replaced ones back.

    Before its rename each existing target is hard-linked under a temporary name
    (:func:`_backup`). When a rename fails, every target already replaced gets that
    link renamed back (the old file, same inode), a target that did not exist is
    removed, and the error names the target whose rename failed. A target that
    existed but could not be linked cannot be put back: it keeps its new content.
    The links are removed at the end either way, but one that could not be renamed
    back (the old file is then there only); one left by a killed process has a
    temporary name, which :func:`remove_temporaries` clears.

    Raises:
        OutputError: A rename failed (after the others were put back).

    """
    replaced: list[tuple[Path, Path | None]] = []
    backups: list[Path] = []  # removed at the end
    try:
        for tmp, path in staged:
            backup = _backup(path)
            if backup is not None and backup is not NO_BACKUP:
                backups.append(backup)
            try:
                os.replace(tmp, path)
            except OSError as exc:
                raise OutputError(path, exc.strerror or str(exc), exc.errno) from exc
            replaced.append((path, backup))
    except BaseException:
        for path, backup in reversed(replaced):
            try:
                if backup is None:
                    path.unlink()
                elif backup is not NO_BACKUP:
                    os.replace(backup, path)
            except OSError:  # the old file stays under its backup's name rather than being lost
                if backup is not None and backup is not NO_BACKUP:
                    backups.remove(backup)
        raise
    finally:
        for backup in backups:
            backup.unlink(missing_ok=True)


def write_all(files: Mapping[str | os.PathLike[str], Callable[[Path], None]]) -> None:
    """Write several files so that either all of them are replaced or none is.

    Every file is first written to a temporary name in its own folder (folders are
    created as needed); only when all have been written are they renamed into place,
    with Ctrl-C held back until the last rename (:func:`ctrl_c_held`), so an
    interruption never leaves some files new and others old. A rename that fails
    (say, a folder in the way of a file) puts back the files already replaced
    (:func:`_replace_all`).
    If any write fails, the temporary files (and the folders this call created) are
    removed and the error is raised: the previous files, if any, are untouched.

    Args:
        files: Target path → function that writes the content to the path it is given.

    Raises:
        OutputError: A folder or a file could not be written; it names the target file
            (not its temporary name) and the system's reason.

    """
    created: list[Path] = []
    staged: list[tuple[Path, Path]] = []
    path = Path()
    try:
        for target, write in files.items():
            path = Path(target)
            missing = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
            path.parent.mkdir(parents=True, exist_ok=True)
            created.extend(reversed(missing))
            remove_temporaries(path.parent, of=path.name)  # an earlier write of this file that was killed
            tmp = _temporary(path)
            staged.append((tmp, path))
            write(tmp)
        with ctrl_c_held():
            _replace_all(staged)
    except BaseException as exc:
        for tmp, _path in staged:
            tmp.unlink(missing_ok=True)
        for folder in reversed(created):
            try:
                folder.rmdir()
            except OSError:
                pass
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise OutputError(path, exc.strerror or str(exc), exc.errno) from exc
        raise
