"""How the ``opsim`` command starts (its console script, and ``python -m sim``): the figure workers first.

A single run draws its figures in worker processes (:mod:`sim.output.figure_workers`)
whose start — a fork server importing matplotlib, pandas and pyarrow (0.6-0.9 s of CPU
here), then each worker loading the drawing code and drawing a first, tiny figure — takes
a core for more than a second. This module imports
nothing heavy, so that it starts them before the command imports the simulator, Mesa,
Hydra and the config (about a second, in one thread) and composes and checks the config:
their start then overlaps that single-threaded work. Started later, as the run began,
it overlapped the stepping, which keeps every core busy, and delayed it: measured here
(2 cores, the default run, five runs each way, README "Speed"), the ``opsim`` command
stepped for 4.31-4.78 s, and 3.02-3.46 s once the workers started here.

Its console script (:func:`command`) also exits without the interpreter's last full
garbage collection (:func:`sim.app.exits.run_console_script`).

Whether a command will draw is decided from its arguments alone
(:func:`sim.app.argv.may_draw_figures`: not for ``-m``, ``--cfg``, ``--help`` or
``figures=false``). Where the composed config turns the figures off, or the command stops
on bad input, the workers started are closed unused; that waits for their start
(a few tenths of a second more for a config error).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence

from sim.app.argv import may_draw_figures
from sim.app.exits import run_console_script
from sim.output.figure_workers import FigureWorkers

__all__ = ["command", "main"]


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``opsim`` console script: :func:`sim.app.cli.main`, the figure workers started first."""
    argv = list(sys.argv[1:] if argv is None else argv)
    with FigureWorkers() if may_draw_figures(argv) else contextlib.nullcontext() as workers:
        from sim.app import cli  # after the workers' start: the imports overlap it

        cli.main(argv, figure_workers=workers)


def command() -> None:
    """The ``opsim`` console script (and ``python -m sim``): :func:`main`, then a quick exit (:mod:`sim.app.exits`)."""
    run_console_script(main)
