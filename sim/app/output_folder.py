"""The folder a command writes into, checked before anything is written there.

``opsim`` (a run or a sweep) and ``opsim-plan`` each write ``report.html`` and their
records into one folder; pointed at a file, at an empty path (the current folder), or at
a folder holding another command's results or a user's own files
(:mod:`sim.output.folders`), they would fail half-way or replace what is there. Each
check raises :class:`~sim.base.errors.ConfigError`: one line naming the key
(``hydra.run.dir`` / ``hydra.sweep.dir``), the folder and what is allowed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sim.base.errors import ConfigError
from sim.output import folders

__all__ = [
    "OWN_FOLDER",
    "check_folder",
    "check_not_blank",
    "check_own_folder",
    "outermost_missing",
    "remove_hydra_files",
]


def check_folder(key: str, folder: Path) -> None:
    """Refuse a folder that is a file, lies below one, or is a link to nothing (nothing could be written there)."""
    for path in (folder, *folder.parents):
        if path.is_symlink() and not path.exists():  # Hydra's makedirs stopped on it: "File exists", exit 1
            where = "it is" if path == folder else f"{path} is"
            raise ConfigError(
                key, str(folder), f"a folder to write the results into ({where} a link to a missing {path.readlink()})"
            )
        if path.exists():
            if not path.is_dir():
                where = "it is a file" if path == folder else f"{path} is a file"
                raise ConfigError(key, str(folder), f"a folder to write the results into ({where})")
            return


def check_not_blank(key: str, given: str) -> None:
    """Refuse an empty run, sweep or plan folder, which Hydra takes for the current folder.

    ``hydra.run.dir=$OUT`` with ``OUT`` unset gives one: the run would write its files
    over whatever the current folder holds.
    """
    if not given.strip():
        where = f"which would write into the current folder, {Path.cwd()}"
        raise ConfigError(key, given, f"a folder path, not an empty one ({where}); give {key}=<folder>")


#: What each command's folder may already hold besides nothing: its own earlier results.
OWN_FOLDER = {
    folders.RUN: "a new or empty folder, or an earlier opsim run's folder (to run it again)",
    folders.SWEEP: "a new or empty folder, or an earlier opsim sweep's folder (to resume it)",
    folders.PLAN: "a new or empty folder, or an earlier plan's folder (to continue its study)",
}
#: Another command's results, as the refusal names them.
OWNERS = {folders.RUN: "an opsim run", folders.SWEEP: "an opsim sweep", folders.PLAN: "an opsim-plan plan"}
#: Entries of a folder of other files that the refusal names, at most.
NAMES_SHOWN = 3


def check_own_folder(key: str, folder: Path, own: str) -> None:
    """Refuse a run's, sweep's or plan's folder that holds another command's results or other files.

    A run or sweep writes its ``report.html`` and records into its folder, replacing what
    is there under those names: a new or empty folder, or one of its own kind (a run run
    again, a sweep resumed), passes; another kind's results (:mod:`sim.output.folders`)
    or files of no opsim result (a user's, or the current folder's) are refused.

    Args:
        key: ``hydra.run.dir`` or ``hydra.sweep.dir``, for the message.
        folder: The absolute folder.
        own: :data:`sim.output.folders.RUN`, :data:`~sim.output.folders.SWEEP` or :data:`~sim.output.folders.PLAN`.

    Raises:
        ConfigError: Naming the key, the folder, what it holds and what is allowed.

    """
    held = folders.what_folder_holds(folder)
    if held is None or held.kind == own or (held.names == (folders.HYDRA_RECORD,) and own != folders.SWEEP):
        return  # Hydra's record alone: made for this run or plan (before its log, or without one); no sweep's
    if held.kind == folders.OTHER:
        names = [n if n.isprintable() else ascii(n) for n in held.names[:NAMES_SHOWN]]  # one line, whatever the names
        shown = ", ".join(names) + (", ..." if len(held.names) > NAMES_SHOWN else "")
        holds = f"files of no opsim {own} ({shown}), which the {own} could replace"
    else:
        holds = f"{OWNERS[held.kind]} ({held.names[0]}), whose report.html the {own} would replace"
    raise ConfigError(key, str(folder), f"{OWN_FOLDER[own]}; this one holds {holds} (give {key}=<new folder>)")


def outermost_missing(folder: Path) -> Path | None:
    """The outermost folder on the way to ``folder`` that does not exist yet (``folder`` itself at most), or None.

    What a command in ``folder`` creates: Hydra makes every missing parent too (the default
    ``outputs/<date>/<time>`` makes ``outputs/<date>`` on a day's first run).
    """
    if folder.exists():
        return None
    outermost = folder
    while not outermost.parent.exists():
        outermost = outermost.parent
    return outermost


def remove_hydra_files(folder: Path, created: Path, prog: str) -> None:
    """Remove a folder this command created, if it holds only what Hydra wrote before the command refused its input.

    A run or plan refused inside Hydra's task (the memory check in the run's own process,
    under ``ulimit -v``, sees the process grown since the command's check; a plan's
    response curves whose spend does not move) leaves no folder behind, as a refusal
    before Hydra does: nothing of it was a result, and its files would mark the folder as
    the command's (:mod:`sim.output.folders`). The parents Hydra made for it (up to
    ``created``, the outermost that did not exist) go too while empty; one something else
    wrote into meanwhile stays.

    Args:
        folder: The command's folder.
        created: The outermost folder on the way that the command created (:func:`outermost_missing`).
        prog: The command's name: Hydra's log is ``<prog>.log``.

    """
    try:
        entries = {entry.name for entry in folder.iterdir()}
    except OSError:
        return
    if not entries <= {folders.HYDRA_RECORD, f"{prog}.log"}:
        return
    shutil.rmtree(folder, ignore_errors=True)
    for parent in folder.parents:
        if created != parent and created not in parent.parents:
            return  # above what this command created
        try:
            parent.rmdir()  # only while empty
        except OSError:
            return
