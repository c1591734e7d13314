"""What an output folder already holds: an opsim run's results, a sweep's, a plan's, other files, or nothing.

Each command writes its page (``report.html``) and its records into its folder, so a
command pointed at a folder that holds another command's results, or a user's own
files, would replace them. The commands check first (``opsim``: :mod:`sim.app.cli`):
a folder is told apart by the files only one kind of result writes, looked up by
their exact names (a sweep's ``PLAN.json`` is not a plan's ``plan.json``, even on a
file system that ignores case):

========  ==============================================================
kind      marked by
========  ==============================================================
sweep     ``multirun.yaml`` (Hydra's record), ``SUMMARY.json``, ``PLAN.json``
plan      ``plan.json``, ``study.journal`` (its Optuna study), ``opsim-plan.log``
run       ``DONE.json``, ``summary.json``, ``meta.json``, ``opsim.log``, ``.hydra/``
========  ==============================================================

The kinds are tried in that order: a plan's folder and a run's both hold Hydra's
``.hydra/``, and a run written into a sweep's folder (before opsim refused it) leaves
the sweep's files beside its own. A run killed before its ``DONE.json`` still has
``.hydra/`` and ``opsim.log``, which Hydra writes before the run starts, so running
it again into its folder is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["KIND_MARKERS", "MULTIRUN_RECORD", "OTHER", "PLAN", "RUN", "SWEEP", "Holding", "what_folder_holds"]

RUN = "run"
SWEEP = "sweep"
PLAN = "plan"
#: A folder with files, none of which marks an opsim result (a user's own files).
OTHER = "other"
#: Hydra's record of a sweep's command, which ``opsim-report SWEEP --resume`` reads.
MULTIRUN_RECORD = "multirun.yaml"
#: The files that mark each kind of result folder, in the order the kinds are tried (see the module's docstring).
KIND_MARKERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (SWEEP, (MULTIRUN_RECORD, "SUMMARY.json", "PLAN.json")),
    (PLAN, ("plan.json", "study.journal", "opsim-plan.log")),
    (RUN, ("DONE.json", "summary.json", "meta.json", "opsim.log", ".hydra")),
)


@dataclass(frozen=True)
class Holding:
    """What a folder holds.

    Attributes:
        kind: :data:`SWEEP`, :data:`PLAN`, :data:`RUN` or :data:`OTHER`.
        names: The marker that tells the kind; for :data:`OTHER`, the folder's entries, sorted.

    """

    kind: str
    names: tuple[str, ...]


def what_folder_holds(folder: Path) -> Holding | None:
    """What ``folder`` holds; None for a folder that does not exist, is empty, or cannot be listed.

    A folder that cannot be listed (or a file in its place) is left to the write that
    follows, which names it and the system's reason.
    """
    try:
        names = sorted(entry.name for entry in folder.iterdir())
    except OSError:
        return None
    if not names:
        return None
    present = set(names)
    for kind, markers in KIND_MARKERS:
        found = [m for m in markers if m in present]
        if found:
            return Holding(kind, (found[0],))
    return Holding(OTHER, tuple(names))
