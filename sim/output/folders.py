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
run       ``DONE.json``, ``summary.json``, ``meta.json``, ``opsim.log``
========  ==============================================================

The kinds are tried in that order: a run written into a sweep's folder (before opsim
refused it) leaves the sweep's files beside its own. Hydra's ``.hydra/`` marks no kind:
every Hydra app writes one (another app's output folder holds it too), and a folder
that holds nothing but it is what Hydra made for a command before its task started
(:data:`HYDRA_RECORD`; the commands let it pass). A run killed before its ``DONE.json``
still has ``opsim.log``, which Hydra writes before the run starts, so running it again
into its folder is allowed. Hidden entries (``.gitkeep``, ``.DS_Store``) other than
``.hydra/`` are not counted: no command writes a name that starts with a dot.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sim.output.completion import DONE

__all__ = [
    "HYDRA_RECORD",
    "KIND_MARKERS",
    "MULTIRUN_RECORD",
    "OTHER",
    "PLAN",
    "PLAN_JOURNAL",
    "RUN",
    "SWEEP",
    "SWEEP_PLAN",
    "SWEEP_SUMMARY",
    "Holding",
    "what_folder_holds",
]

RUN = "run"
SWEEP = "sweep"
PLAN = "plan"
#: A folder with files, none of which marks an opsim result (a user's own files).
OTHER = "other"
#: Hydra's record of a sweep's command, which ``opsim-report SWEEP --resume`` reads.
MULTIRUN_RECORD = "multirun.yaml"
#: A sweep's summary marker and its record of the jobs it planned (:mod:`sim.app.sweep`).
SWEEP_SUMMARY = "SUMMARY.json"
SWEEP_PLAN = "PLAN.json"
#: A plan's Optuna study (:mod:`sim.app.plan`).
PLAN_JOURNAL = "study.journal"
#: Hydra's record of a command's config, made in its folder before the command's task runs (marks no kind).
HYDRA_RECORD = ".hydra"
#: The files that mark each kind of result folder, in the order the kinds are tried (see the module's docstring).
KIND_MARKERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (SWEEP, (MULTIRUN_RECORD, SWEEP_SUMMARY, SWEEP_PLAN)),
    (PLAN, ("plan.json", PLAN_JOURNAL, "opsim-plan.log")),
    (RUN, (DONE, "summary.json", "meta.json", "opsim.log")),
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
    names = [n for n in names if not n.startswith(".") or n == HYDRA_RECORD]  # .gitkeep and the like: nobody's
    if not names:
        return None
    present = set(names)
    for kind, markers in KIND_MARKERS:
        found = [m for m in markers if m in present]
        if found:
            return Holding(kind, (found[0],))
    return Holding(OTHER, tuple(names))
