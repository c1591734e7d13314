"""How opsim's commands start and end: the console scripts' entry points (and ``python -m sim``).

Each entry point imports its command's module only once it runs, so that this module
imports nothing heavy. That gives three things:

* **The figure workers first** (``opsim``). A single run draws its figures in worker
  processes (:mod:`sim.output.figure_workers`) whose start — a fork server importing
  matplotlib, pandas and pyarrow (0.6-0.9 s of CPU here), then each worker loading the
  drawing code and drawing a first, tiny figure — takes a core for more than a second.
  :func:`opsim` starts them before the command imports the simulator, Mesa, Hydra and
  the config (about a second, in one thread) and composes and checks the config, so
  their start overlaps that single-threaded work. Started as the run began, they
  overlapped the stepping, which keeps every core busy, and delayed it: measured here
  (2 cores, the default run, five runs each way, README "Speed"), the command stepped
  for 4.31-4.78 s, and 3.02-3.46 s once they started here. Whether a command will
  draw is decided from its arguments alone (:func:`sim.app.argv.may_draw_figures`: not
  for ``-m``, ``--cfg``, ``--help`` or ``figures=false``); where the composed config
  turns the figures off, or the command stops on bad input, the workers are closed
  unused, which waits for their start (0.3-0.4 s more for a config error).
* **Ctrl-C in one line from the first moment.** A Ctrl-C while a command's modules
  are still being imported (its first second or so) printed a ``KeyboardInterrupt``
  traceback; it is one line and exit 130 now, as everywhere else (:mod:`sim.app.exits`).
  So is one that reaches here from outside what the command handles itself (its own
  checks before it runs anything, the moment after it has finished).
* **A quick exit** (:func:`run_console_script`). As the interpreter exits it runs one
  last full garbage collection over every object the command's imports and work made
  (Mesa, pandas, matplotlib, Hydra): 0.30-0.39 s after a default ``opsim`` run here,
  about 0.2 s after an ``opsim-report``. What is left is frozen first
  (:func:`gc.freeze`), whatever the way out, which leaves that collection nothing to go
  through (0.06-0.07 s after the ``opsim`` run); the operating system frees the whole
  process anyway. Nothing is left unwritten by it: every file a command writes is closed
  once written, and logging flushes and closes its handlers at exit, before that
  collection would have run.
"""

from __future__ import annotations

import contextlib
import gc
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn, TypeVar

from sim.app.argv import may_draw_figures
from sim.app.exits import EXIT_INTERRUPTED
from sim.output.figure_workers import FigureWorkers
from sim.output.files import ctrl_c_held

__all__ = ["main", "opsim", "opsim_calibrate", "opsim_explore", "opsim_plan", "opsim_report", "run_console_script"]

_Returned = TypeVar("_Returned")


def main(argv: Sequence[str] | None = None) -> None:
    """The ``opsim`` command: :func:`sim.app.cli.main`, with the figure workers started first."""
    argv = list(sys.argv[1:] if argv is None else argv)
    with contextlib.ExitStack() as stack:
        try:
            with ctrl_c_held():  # a Ctrl-C while they start comes once they can be closed
                workers = stack.enter_context(FigureWorkers()) if may_draw_figures(argv) else None
            from sim.app import cli  # after the workers' start: the imports overlap it
        except KeyboardInterrupt:
            _interrupted_while_starting("opsim")
        cli.main(argv, figure_workers=workers)


def opsim() -> None:
    """The ``opsim`` console script (and ``python -m sim``)."""
    run_console_script("opsim", main)


def opsim_report() -> int:
    """The ``opsim-report`` console script."""
    try:
        from sim.app import report_cli
    except KeyboardInterrupt:
        _interrupted_while_starting("opsim-report")
    return run_console_script("opsim-report", report_cli.main)


def opsim_plan() -> None:
    """The ``opsim-plan`` console script."""
    try:
        from sim.app import plan
    except KeyboardInterrupt:
        _interrupted_while_starting("opsim-plan")
    run_console_script("opsim-plan", plan.main)


def opsim_calibrate() -> int:
    """The ``opsim-calibrate`` console script."""
    try:
        from sim.app import calibrate
    except KeyboardInterrupt:
        _interrupted_while_starting("opsim-calibrate")
    return run_console_script("opsim-calibrate", calibrate.main)


def opsim_explore() -> int:
    """The ``opsim-explore`` console script."""
    try:
        from sim.app import explorer
    except KeyboardInterrupt:
        _interrupted_while_starting("opsim-explore")
    return run_console_script("opsim-explore", explorer.main)


def run_console_script(prog: str, main: Callable[[], _Returned]) -> _Returned:
    """Run a command's ``main`` as its console script: Ctrl-C in one line, then a quick exit (module docstring).

    A ``KeyboardInterrupt`` that leaves ``main`` (one the command did not turn into its
    own line) ends the command with exit 130 and one line; whatever the way out, what is
    left is then frozen out of the garbage collector's reach.
    """
    try:
        return main()
    except KeyboardInterrupt:
        print(f"{prog}: interrupted before it had finished; run the same command again", file=sys.stderr, flush=True)
        raise SystemExit(EXIT_INTERRUPTED) from None
    finally:
        gc.freeze()


def _interrupted_while_starting(prog: str) -> NoReturn:
    """Exit 130 with one line: a Ctrl-C while the command's modules were imported, before it did anything."""
    print(f"{prog}: interrupted while starting; nothing ran", file=sys.stderr, flush=True)
    raise SystemExit(EXIT_INTERRUPTED)
