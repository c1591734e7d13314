"""How the ``opsim`` command starts (its console script, and ``python -m sim``): the figure workers first.

A single run draws its figures in worker processes (:mod:`sim.output.figure_workers`)
whose start — a fork server importing matplotlib, pandas and pyarrow, then each worker
loading the drawing code and its fonts — takes a few seconds of CPU. This module imports
nothing heavy, so that it starts them before the command imports the simulator, Mesa,
Hydra and the config (about a second, in one thread) and composes and checks the config:
their start then overlaps that single-threaded work. Started later, as the run began,
it overlapped the stepping, which keeps every core busy, and delayed it: measured here
(2 cores, the default run, ``benchmarks/bench_overhead.py``), the ``opsim`` command
stepped for about 4.0 s instead of 3.0 s.

The console script (:func:`command`) also spares the interpreter's exit its last full
garbage collection: over every object the imports and the run made (Mesa, pandas,
matplotlib, Hydra) it took 0.3-0.4 s after a default run here, against 0.06-0.07 s once
they are frozen (:func:`gc.freeze`) and left to the operating system, which frees the
whole process anyway.

Whether a command will draw is decided from its arguments alone
(:func:`sim.app.argv.may_draw_figures`: not for ``-m``, ``--cfg``, ``--help`` or
``figures=false``). Where the composed config turns the figures off, or the command stops
on bad input, the workers started are closed unused; that waits for their start
(a few tenths of a second more for a config error).
"""

from __future__ import annotations

import contextlib
import gc
import sys
from collections.abc import Sequence

from sim.app.argv import may_draw_figures
from sim.output.figure_workers import FigureWorkers

__all__ = ["command", "main"]


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``opsim`` console script: :func:`sim.app.cli.main`, the figure workers started first."""
    argv = list(sys.argv[1:] if argv is None else argv)
    with FigureWorkers() if may_draw_figures(argv) else contextlib.nullcontext() as workers:
        from sim.app import cli  # after the workers' start: the imports overlap it

        cli.main(argv, figure_workers=workers)


def command() -> None:
    """The ``opsim`` console script (and ``python -m sim``): :func:`main`, then an exit without a last collection.

    Whatever the way out (done, an error's exit code, Ctrl-C), the objects left are
    frozen out of the garbage collector's reach before the interpreter exits, so its
    final full collection has nothing to go through. Nothing is left unwritten by
    this: every file a command writes is closed once written, and logging flushes and
    closes its handlers at exit, before that collection would have run.
    """
    try:
        main()
    finally:
        gc.freeze()
