"""How opsim's commands start and end: the console scripts' entry points (and ``python -m sim``).

Each entry point imports its command's module only once it runs, so that this module
imports nothing heavy. That gives three things:

* **The figure workers first** (``opsim``). A single run draws its figures in worker
  processes (:mod:`sim.output.figure_workers`) whose start — a fork server importing
  matplotlib, pandas, pyarrow and scipy.special (0.6-0.9 s of CPU here), then each worker
  importing the caller's main script as ``__mp_main__`` and the drawing code, and drawing
  a first, tiny figure — takes a core for more than a second. :func:`opsim` starts them
  before the command imports the simulator, Mesa, Hydra and the config (about a second,
  in one thread) and composes and checks the config, so their start overlaps that
  single-threaded work. They used to start as the run began, from a console script that
  imported the whole command (so each worker imported the simulator too), and overlapped
  the stepping, which keeps every core busy: measured here (2 cores, the default run,
  five runs each way, README "Speed"), the command stepped for 4.31-4.78 s, and
  3.02-3.46 s once they started here. Whether a command will draw is decided from its
  arguments alone (:func:`sim.app.argv.may_draw_figures`: not for ``-m`` or
  ``hydra.mode=MULTIRUN``, ``--cfg``, ``--help`` or ``figures=false``); where the
  composed config turns the figures off or asks for a sweep, or the command stops on bad
  input or a Ctrl-C, the workers are closed unused, which waits for their start to finish
  (0.3-0.4 s more for a config error; up to about a second for a Ctrl-C in the first
  second).
* **Ctrl-C in one line from the first hundredths of a second.** A Ctrl-C while a
  command's modules were still being imported (its first second or so) printed a
  ``KeyboardInterrupt`` traceback; it is one line and exit 130 now, as everywhere else
  (:mod:`sim.app.exits`). So is one that reaches here from outside what the command
  handles itself (its own checks before it runs anything, the moment after it has
  finished). Once a command stops on a Ctrl-C, a second one is ignored while it closes
  what it started. Only a Ctrl-C while Python itself starts and imports this module (a
  few hundredths of a second) still ends in Python's own traceback.
* **A quick exit** (:func:`run_console_script`). As the interpreter exits it runs one
  last full garbage collection over every object the command's imports and work made
  (Mesa, pandas, matplotlib, Hydra): 0.30-0.39 s after a default ``opsim`` run here in
  one-off instrumented runs (not a benchmark), about 0.2 s after an ``opsim-report``. What is left is frozen first
  (:func:`gc.freeze`), whatever the way out, which leaves that collection nothing to go
  through (0.06-0.07 s after the ``opsim`` run); the operating system frees the whole
  process anyway. Nothing is left unwritten by it: every file a command writes is closed
  once written, and logging flushes and closes its handlers at exit, before that
  collection would have run.
"""

from __future__ import annotations

import contextlib
import gc
import signal
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn, TypeVar

from sim.app.address_space import one_allocator_arena
from sim.app.argv import may_draw_figures

__all__ = ["main", "opsim", "opsim_calibrate", "opsim_explore", "opsim_plan", "opsim_report", "run_console_script"]

_Returned = TypeVar("_Returned")
#: The line's text for a Ctrl-C while a command still imports its modules.
WHILE_STARTING = "interrupted while starting; nothing ran"
#: The line's text for a Ctrl-C that leaves a command's ``main`` (one the command has no line of its own for).
BEFORE_FINISHED = "interrupted before it had finished; run the same command again"


def main(argv: Sequence[str] | None = None) -> None:
    """The ``opsim`` command: :func:`sim.app.cli.main`, with the figure workers started first."""
    argv = list(sys.argv[1:] if argv is None else argv)
    with contextlib.ExitStack() as stack:
        try:
            from sim.output.figure_workers import FigureWorkers
            from sim.output.files import ctrl_c_held

            with ctrl_c_held():  # a Ctrl-C while they start comes once they can be closed
                workers = stack.enter_context(FigureWorkers()) if may_draw_figures(argv) else None
            from sim.app import cli  # after the workers' start: the imports overlap it
        except KeyboardInterrupt:
            _stop("opsim", WHILE_STARTING)
        cli.main(argv, figure_workers=workers)


def opsim() -> None:
    """The ``opsim`` console script (and ``python -m sim``)."""
    run_console_script("opsim", main)


def opsim_report() -> int:
    """The ``opsim-report`` console script."""
    try:
        from sim.app import report_cli
    except KeyboardInterrupt:
        _stop("opsim-report", WHILE_STARTING)
    return run_console_script("opsim-report", report_cli.main)


def opsim_plan() -> None:
    """The ``opsim-plan`` console script."""
    try:
        from sim.app import plan
    except KeyboardInterrupt:
        _stop("opsim-plan", WHILE_STARTING)
    run_console_script("opsim-plan", plan.main)


def opsim_calibrate() -> int:
    """The ``opsim-calibrate`` console script."""
    try:
        from sim.app import calibrate
    except KeyboardInterrupt:
        _stop("opsim-calibrate", WHILE_STARTING)
    return run_console_script("opsim-calibrate", calibrate.main)


def opsim_explore() -> int:
    """The ``opsim-explore`` console script."""
    try:
        from sim.app import explorer
    except KeyboardInterrupt:
        _stop("opsim-explore", WHILE_STARTING)
    return run_console_script("opsim-explore", explorer.main)


def run_console_script(prog: str, main: Callable[[], _Returned]) -> _Returned:
    """Run a command's ``main`` as its console script: Ctrl-C in one line, then a quick exit (module docstring).

    A ``KeyboardInterrupt`` that leaves ``main`` (one the command did not turn into its
    own line) ends the command with exit 130 and one line; whatever the way out, what is
    left is then frozen out of the garbage collector's reach. Under an address-space limit
    (``ulimit -v``) the command's threads share one allocator arena
    (:func:`sim.app.address_space.one_allocator_arena`), asked for before it starts any.
    """
    one_allocator_arena()
    try:
        return main()
    except KeyboardInterrupt:
        _stop(prog, BEFORE_FINISHED)
    finally:
        gc.freeze()


def _stop(prog: str, message: str) -> NoReturn:
    """Exit 130 with ``PROG: message`` after a Ctrl-C; a second Ctrl-C meanwhile is ignored.

    What the command started is closed on the way out (the figure workers wait for their
    start to finish, up to about a second); a second Ctrl-C would break that off half-way,
    with a second line and a worker's traceback.
    """
    if signal.getsignal(signal.SIGINT) is not None:  # None: a handler from outside Python, left as it is
        with contextlib.suppress(ValueError):  # not the main thread: signals cannot be set there
            signal.signal(signal.SIGINT, signal.SIG_IGN)
    from sim.app.exits import EXIT_INTERRUPTED

    print(f"{prog}: {message}", file=sys.stderr, flush=True)
    raise SystemExit(EXIT_INTERRUPTED)
