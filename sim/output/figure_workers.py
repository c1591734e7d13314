"""Processes that draw a run's figures side by side, started before the run so their imports overlap it.

Drawing the report's figures is the longest part of writing a result folder (about
0.6 s of CPU for a default run here), and matplotlib's drawing holds the
GIL, so threads would not help.
:class:`FigureWorkers` keeps a few worker processes (``forkserver`` where the platform
has it, else ``spawn``; never ``fork``, which is unsafe in a process with threads) that
import the drawing code as soon as they start — while the caller is still simulating —
and then draw the figures side by side, one figure a task, heaviest first, each taken by
the first worker free (so the figures cost about as long as the busiest worker's part of
them). With ``forkserver``, the fork server imports the drawing libraries once
(:data:`PRELOADED_MODULES`) and forks every worker with them already imported: each
worker importing them for itself took about a second of CPU, two of them competing with
the caller's own imports as a run starts. The server's first fork waits for those
imports, so the workers are started from a thread of their own, and the caller goes on.
The caller (which has the run's data in memory, or reads the result
folder once) sends each task the part its figure is drawn from (:func:`sim.output.run_report.figure_data`: the large cohort
tables only with the retention curve; a few MB in all for a default
run, pickled in milliseconds, where a worker's own first read of the files took several
times as long). The PNG bytes are the ones the caller would draw itself (tested), since
every worker draws the same data with the same code.

Figures can be started before they are asked for (:meth:`FigureWorkers.start`), so that
they are drawn while the caller does something else: :func:`sim.app.simulate.simulate`
starts a run's stages and retention figures, which need only the days and the cohorts,
while it computes the run's analytics, and :meth:`sim.output.result.Result.save` starts
the rest before it writes the tables. :meth:`FigureWorkers.draw` then takes a figure
started from other data only if :func:`sim.output.run_report.same_figure` finds its
inputs equal to those of the data it is asked for, and draws it again otherwise.

The ``opsim`` command starts them before its own imports when its arguments ask for a
single run that may draw (:mod:`sim.app.start`), and uses them if the run draws; a sweep
does not use them (its jobs already use the cores). Workers ignore Ctrl-C (the caller handles it and
shuts them down), and a broken worker pool only means drawing in the caller. The warnings a
worker's drawing raises are sent back and raised again in the caller, each once (as if it had
drawn them): the ``opsim`` command shows them with its own, and two workers that both lack a
CJK font give one :class:`~sim.output.style.MissingFontWarning`, not one each.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import threading
import warnings
from collections.abc import Iterator
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager, suppress
from multiprocessing import forkserver
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.output.run_report import FolderData

__all__ = ["FIGURE_WEIGHTS", "MAX_FIGURE_WORKERS", "FigureWorkers", "draw_pngs", "heaviest_first"]

#: Workers at most (a report's six to nine figures keep about this many busy).
MAX_FIGURE_WORKERS = 3
#: Drawing cost of each figure relative to a simple line chart (the retention curve), to
#: send the heaviest first: a default run's figures as ``benchmarks/bench_overhead.py`` times them
#: (each round's ``figure:NAME`` over its ``figure:retention``, with matplotlib 3.10: the
#: median over the five rounds of ``--rounds 5 --kernels compiled`` on 2026-12-01 at 00:06, after
#: the heatmap lost its colour bar (2.4 before), to one decimal; a round's ratio differs from
#: them by up to 0.2).
#: ``vs_baseline`` and ``spend_response``, which a default run does not draw, were timed the
#: same way on a ``paid_growth`` run (1,000,000 users, 365 days) on 2026-11-29.
FIGURE_WEIGHTS = {
    "cohort_heatmap": 1.9,
    "stages": 1.8,
    "retention_groups": 1.8,
    "vs_baseline": 1.6,
    "growth": 1.4,
    "spend_response": 1.4,
    "funnel": 0.9,
}
#: Cost of a figure not in :data:`FIGURE_WEIGHTS`.
DEFAULT_WEIGHT = 1.0
#: What the fork server imports before it forks the workers: the libraries :func:`_prepare`
#: imports, most of its import time. (Not ``__main__``, multiprocessing's default: its fork
#: server never imports the caller's main script; each worker does, as ``__mp_main__``, as
#: under ``spawn`` — for ``opsim`` its console script, which imports only :mod:`sim.app.start`.)
#: opsim's own modules are left to each worker, which imports them from the caller's
#: ``sys.path`` (the server's is not the caller's: it could find another copy of opsim).
PRELOADED_MODULES = ("pyarrow", "pandas", "scipy.special", "matplotlib.figure")
#: Size of the figure each worker draws when it starts, to load fonts and the PNG writer.
WARM_UP_INCHES = (2.0, 1.0)

#: A warning raised in a worker, sent back to be raised again: message, category, file and line.
#: (Unpickling the category imports its module: for matplotlib's or opsim's style module, matplotlib.)
RaisedWarning = tuple[str, type[Warning], str, int]


def heaviest_first(names: list[str]) -> list[str]:
    """The figures in the order the workers are given them: by :data:`FIGURE_WEIGHTS`, heaviest first (stable).

    Each free worker takes the next one, so the lightest come last, to fill what is left
    (list scheduling, longest first: for a default run's six figures on two workers the
    busiest worker draws 4.5 of the 8.8 weight units, as the best split does).
    """
    return sorted(names, key=lambda name: -FIGURE_WEIGHTS.get(name, DEFAULT_WEIGHT))


@contextmanager
def _no_collection() -> Iterator[None]:
    """Python's cyclic garbage collector paused for the block (as it was before, after it)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def draw_pngs(data: FolderData, names: list[str]) -> dict[str, bytes]:
    """PNG bytes of the named figures of a run's data (what a worker runs).

    The garbage collector is paused while they are drawn: a figure makes thousands of
    objects, which set off collections, and in a process that has not frozen its imports
    (:func:`_prepare` does) those took a few per cent of the drawing time here. The
    figures' cyclic garbage is collected after, when the collector next runs.
    """
    import io

    from sim.output import figures as plots
    from sim.output.run_report import draw_figure

    out = {}
    with _no_collection():
        for name in names:
            buf = io.BytesIO()
            plots.save_png_of(lambda name=name: draw_figure(data, name), buf)
            out[name] = buf.getvalue()
    return out


def _draw_share(data: FolderData, names: list[str]) -> tuple[dict[str, bytes], list[RaisedWarning]]:
    """What a worker runs: :func:`draw_pngs`, and the warnings raised meanwhile, for the caller to raise again."""
    with warnings.catch_warnings(record=True) as caught:
        drawn = draw_pngs(data, names)
    return drawn, [(str(w.message), w.category, w.filename, w.lineno) for w in caught]


def _raise_again(raised: list[RaisedWarning]) -> None:
    """Raise the workers' warnings in this process, each distinct one once, in the order they came."""
    for message, category, filename, lineno in dict.fromkeys(raised):
        warnings.warn_explicit(message, category, filename, lineno)


def _prepare() -> None:
    """Worker start: leave Ctrl-C to the caller, and get ready to draw now (while the caller simulates).

    Importing the drawing code (matplotlib, pandas, and pyarrow, which the run's text
    columns are stored in) takes about a second (the libraries are already imported in a
    worker forked from a fork server that preloaded them, :data:`PRELOADED_MODULES`), and
    a process's first drawing about 0.3 s more than the next (fonts found and loaded, the
    PNG writer set up): a tiny figure drawn and saved here pays that. What all this made
    is then frozen out of the garbage collector's reach (:func:`gc.freeze`), so no later
    collection scans it.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import io

    import pyarrow  # noqa: F401  (pandas imports it when it unpickles a text column otherwise)
    from matplotlib.figure import Figure

    import sim.output.run_report  # noqa: F401
    from sim.output.figures import save_png
    from sim.output.style import house_style

    with house_style():
        fig = Figure(figsize=WARM_UP_INCHES)
        ax = fig.add_subplot()
        ax.plot([0, 1], [0, 1])
        ax.set_title("warm-up", fontweight="bold")
        ax.text(0, 0, "0.0", fontsize=5.5)
    save_png(fig, io.BytesIO())
    gc.collect()
    gc.freeze()  # what the imports made is never garbage: no collection need look at it again


def _ready() -> int:
    """A no-op task that makes a worker start (and run :func:`_prepare`)."""
    return os.getpid()


def _start_method() -> str:
    methods = multiprocessing.get_all_start_methods()
    return "forkserver" if "forkserver" in methods else "spawn"


def _start_fork_server() -> None:
    """Start the fork server (if it is not running) to import :data:`PRELOADED_MODULES`, deaf to Ctrl-C meanwhile.

    The server ignores Ctrl-C only once its imports are done; a Ctrl-C during them
    (about a second) would end it with a traceback, and the workers with it. So it is
    spawned here with Ctrl-C ignored for that moment, which it inherits. Signals can be
    set only in the main thread, and a handler installed outside Python could not be put
    back: then the server is started by the first worker instead, as without this.
    """
    forkserver.set_forkserver_preload(list(PRELOADED_MODULES))
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) is None:
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGINT, previous)


class FigureWorkers:
    """A small pool of figure-drawing processes (see the module docstring); use it as a context manager.

    Args:
        processes: Worker processes; default: the cores, at most :data:`MAX_FIGURE_WORKERS`.

    """

    def __init__(self, processes: int | None = None) -> None:
        self.processes = processes or min(MAX_FIGURE_WORKERS, os.cpu_count() or 1)
        method = _start_method()
        if method == "forkserver":
            _start_fork_server()
        self._pool: ProcessPoolExecutor | None = ProcessPoolExecutor(
            max_workers=self.processes, mp_context=multiprocessing.get_context(method), initializer=_prepare
        )
        self._futures: list[Future] = []
        #: Figure name → the data it is being drawn from and its task (:meth:`start`).
        self._drawing: dict[str, tuple[FolderData, Future]] = {}
        self._start_failed = False
        self._starting = threading.Thread(
            target=self._start, args=(self._pool,), name="opsim-figure-workers", daemon=True
        )
        self._starting.start()

    def _start(self, pool: ProcessPoolExecutor) -> None:
        """Start every worker (each runs :func:`_prepare`); in a thread: the fork server's first fork waits for its imports."""
        try:
            self._futures = [pool.submit(_ready) for _ in range(self.processes)]
        except Exception:  # a pool that broke or was closed meanwhile: the caller draws itself
            self._start_failed = True

    @property
    def _started(self) -> list[Future]:
        """The workers' start tasks (each gives its worker's pid), once they are all submitted."""
        self._starting.join()
        return self._futures

    def wait_started(self) -> None:
        """Wait until every worker has started (and is ready to draw), or the pool has broken.

        Until then the pool's own threads in this process (the executor's manager, the
        queue's feeder: each with its stack of 8 MB of address space and, unless the
        process's threads share one allocator arena, :mod:`sim.app.address_space`, an arena
        of 64 MB once it allocates) may or may not be there yet, so the process's size
        changes from one moment to the next. An address-space check (``ulimit -v``) made
        after this sees them every time.
        """
        for started in self._started:
            with suppress(BrokenProcessPool, CancelledError):
                started.result()

    def start(self, data: FolderData, names: list[str]) -> None:
        """Start drawing the named figures of ``data`` now, heaviest first, for :meth:`draw` to collect.

        A figure already started, from ``data`` or from other data with the same inputs
        (:func:`sim.output.run_report.same_figure`), is kept as the figure of ``data``;
        one started from other inputs is dropped and started again. Nothing happens if
        the pool is closed or broken (then :meth:`draw` answers None).
        """
        self._starting.join()
        if self._start_failed:
            self.close()
        if self._pool is None:
            return
        from sim.output.run_report import figure_data, same_figure

        try:
            for name in heaviest_first(names):
                previous = self._drawing.get(name)
                if previous is not None and same_figure(previous[0], data, name):
                    self._drawing[name] = (data, previous[1])
                    continue
                if previous is not None:
                    previous[1].cancel()  # a task a worker has taken runs on, unused
                self._drawing[name] = (data, self._pool.submit(_draw_share, figure_data(data, [name]), [name]))
        except (BrokenProcessPool, RuntimeError):  # broken, or shut down meanwhile
            self.close()

    def draw(self, data: FolderData, names: list[str]) -> dict[str, bytes] | None:
        """PNG bytes of the named figures of ``data``, drawn in the workers; None if the pool is closed or broke.

        What :meth:`start` began for these figures and ``data`` (or the same inputs) is
        collected, the rest is started now; figures started and not among ``names`` are
        dropped.
        """
        for name in set(self._drawing) - set(names):
            self._drawing.pop(name)[1].cancel()
        self.start(data, names)
        drawing, self._drawing = self._drawing, {}
        if self._pool is None:
            return None
        out: dict[str, bytes] = {}
        raised: list[RaisedWarning] = []
        try:
            for _data, job in drawing.values():
                drawn, caught = job.result()
                out.update(drawn)
                raised += caught
        except BrokenProcessPool:
            self.close()
            return None
        _raise_again(raised)
        return {name: out[name] for name in names}

    def close(self) -> None:
        """Stop the workers (unfinished drawings are dropped)."""
        self._starting.join()
        self._drawing = {}
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> FigureWorkers:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()
