"""Step a day's chunks in worker processes over per-slot state in shared memory.

Threads (:class:`concurrent.futures.ThreadPoolExecutor`) share one interpreter lock:
the Python between numpy calls, and the numpy calls that keep the lock, run one
thread at a time, and every hand-over of the lock is a wake-up of the other thread.
Measured on this project's 2-core machine (``benchmarks/bench_parallel.py``, 1,000,000
users × 365 days, organic): one thread steps in 5.0 s, two threads in 4.0 s using 6.5 s
of CPU (43,000 lock hand-overs), while two independent *processes* stepping half the
market each finish in 2.6 s.
So :class:`ChunkProcesses` steps the chunks in processes:

* when the model is built, every per-slot array (the population's state, the
  levers' per-slot state, and the per-user arrays of a visit observer that takes
  chunks: arrays of N elements that their objects own) is moved into
  memory that forked processes share (:func:`share_slot_arrays`); at its first day the
  workers are forked: each holds a copy of the model whose per-slot arrays are the
  shared ones, and closes the model's ends of the pipes, so that it sees the end of its
  own when the model's process ends, however it ends;
* every day the model sends each worker what its copy needs besides those arrays
  (the day's context, the levers' lever-wide state, channels, modifiers: a few
  kilobytes), steps the first share of the chunks itself meanwhile, and takes the
  workers' chunk results back: counts, money per draw chunk, the lever bookings (as
  lever number, method name and arguments), the visit observer's tally of the chunk's
  visitors (``observe_part``, run in the worker) and, where the run keeps its
  visitors, their number, their slots written by the worker into a shared slot-sized
  array at the chunk's first slot;
* the model adds everything up and runs the bookings in slot order, as it does for
  chunks stepped in threads, so the results are bit-identical to one thread. Its own
  share comes first in slot order, so it adds that up while the workers still step
  theirs; and each worker checks its copy (below) after sending its results, while
  the model adds those up, and sends its verdict last.

Hooks 2–7 of a lever (:mod:`sim.core.hooks`) run in a worker's copy of the lever,
so they may change only per-slot state allocated in ``bind`` (in place) and state a
chunk keeps for itself (``Lever.chunk_state``), and book everything lever-wide through
the chunk; lever-wide state is set in ``begin_day``. What would make a worker's copy
differ from the lever is refused with an error naming the attribute, not left to give
other numbers: a lever-wide attribute a hook changed (each worker pickles the levers'
lever-wide state after sending its chunks' results and compares it with what it was
sent; the model has run that worker's bookings by the time the verdict comes, and the
day fails), a per-slot
array replaced or allocated after ``bind`` (checked after each day by the model and by
each worker, for the copy it stepped), and,
before the first day, per-slot state that is a view of another array or a lever whose
state cannot be pickled (``parallel: auto`` then steps in threads instead). After a
day that failed (an error in a hook, a worker gone) the model steps no further day (it
refuses to in every mode: part of the day is done), and :class:`ChunkProcesses` refuses
too: the pipes may still hold that day's replies, which a next day would read as its own. Workers
need ``fork`` (Linux); elsewhere the model steps chunks in threads.
"""

from __future__ import annotations

import inspect
import mmap
import multiprocessing
import sys
import traceback
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from sim.base.errors import first_line
from sim.core.hooks import settle

__all__ = [
    "ChunkProcesses",
    "RemoteBookings",
    "RemoteChunkResult",
    "SharedArray",
    "fork_available",
    "share_slot_arrays",
    "shared_copy",
    "slot_arrays",
]

#: Seconds the model waits for a worker to stop at :meth:`ChunkProcesses.close` before ending it.
STOP_TIMEOUT_S = 5.0
#: Why no day may follow while a day's results are still being taken (see :meth:`ChunkProcesses.step`).
UNFINISHED_DAY = "a day was left unfinished"
#: The message that asks a worker for its levers' per-chunk state (:meth:`ChunkProcesses.take_chunk_state`).
CHUNK_STATE_REQUEST = "chunk_state"


def fork_available() -> bool:
    """Whether worker processes can be forked here (Linux: a forked child shares the model's memory safely)."""
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


@dataclass(frozen=True)
class SharedArray:
    """An attribute of an object whose array was moved into shared memory."""

    owner: object
    name: str
    array: np.ndarray


def shared_copy(value: np.ndarray) -> np.ndarray:
    """``value`` copied into anonymous memory that forked processes share (MAP_SHARED)."""
    buffer = mmap.mmap(-1, max(1, value.nbytes))
    out = np.frombuffer(buffer, dtype=value.dtype, count=value.size).reshape(value.shape)
    out[...] = value
    return out


def slot_arrays(owner: object, n_slots: int, *, views: bool = False) -> list[str]:
    """Names of the attributes of ``owner`` that are per-slot arrays (first axis N) it owns, or views with ``views``."""
    return [
        name
        for name, value in vars(owner).items()
        if isinstance(value, np.ndarray) and value.shape[:1] == (n_slots,) and (value.base is not None) == views
    ]


def share_slot_arrays(owners: Sequence[object], n_slots: int) -> list[SharedArray]:
    """Move every per-slot array of ``owners`` into shared memory (same values, same attribute names)."""
    shared = []
    for owner in owners:
        for name in slot_arrays(owner, n_slots):
            array = shared_copy(getattr(owner, name))
            setattr(owner, name, array)
            shared.append(SharedArray(owner, name, array))
    return shared


@dataclass
class RemoteBookings:
    """A worker's chunk bookings, turned back into the parent's lever methods (see :func:`sim.core.hooks.settle`)."""

    n_parts: int
    part_bookings: list[tuple[Callable[..., None], list[tuple[Any, ...] | None]]]
    bookings: list[tuple[Callable[..., None], tuple[Any, ...]]]

    def settle(self) -> None:
        """Run the bookings as the chunk would have: part by part, then the whole-chunk ones."""
        settle(self.n_parts, self.part_bookings, self.bookings)


@dataclass
class RemoteChunkResult:
    """A chunk stepped by a worker, as the model adds it up (the fields of the model's own chunk results)."""

    ch: RemoteBookings
    totals: dict[str, Any]
    money: list[Any]
    visits: np.ndarray | None
    observed: Any = None


def _booking_names(book: Callable[..., None], levers: Sequence[object]) -> tuple[int, str]:
    """(lever number, method name) of a booking, which must be a method of one of ``levers``."""
    owner = getattr(book, "__self__", None)
    for number, lever in enumerate(levers):
        if owner is lever:
            return number, book.__name__
    raise RuntimeError(
        f"a booking ({book!r}) is not a method of a lever: with processes, levers book through "
        "Chunk.defer / Chunk.defer_by_part with one of their own methods"
    )


def _send(worker: multiprocessing.process.BaseProcess, conn: Connection, message: Any) -> None:
    """``conn.send(message)``, naming the worker if it is gone (a broken pipe)."""
    try:
        conn.send(message)
    except OSError as exc:
        raise RuntimeError(f"a chunk worker process (pid {worker.pid}) ended unexpectedly") from exc


def _recv(worker: multiprocessing.process.BaseProcess, conn: Connection, timeout: float | None = None) -> Any:
    """The worker's next message (None if ``timeout`` seconds pass without one), naming the worker if it is gone."""
    try:
        if timeout is not None and not conn.poll(timeout):
            return None
        return conn.recv()
    except (EOFError, OSError) as exc:
        raise RuntimeError(f"a chunk worker process (pid {worker.pid}) ended unexpectedly") from exc


def _closed(*_args: Any) -> None:
    raise RuntimeError("the chunk worker processes were closed")


def _weakly(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function``, holding its object (if it is a bound method) only weakly."""
    if not inspect.ismethod(function):  # a function, or a builtin (whose __self__ is its module)
        return function
    method = weakref.WeakMethod(function)

    def call(*args: Any) -> Any:
        bound = method()
        if bound is None:
            raise RuntimeError("the model of these chunk worker processes is gone")
        return bound(*args)

    return call


@dataclass(frozen=True)
class WorkerReply:
    """One chunk's results as a worker sends them."""

    totals: dict[str, Any]
    money: list[Any]
    part_bookings: list[tuple[int, str, list[tuple[Any, ...] | None]]]
    bookings: list[tuple[int, str, tuple[Any, ...]]]
    n_parts: int
    n_visits: int | None
    observed: Any


class ChunkProcesses:
    """Worker processes that step shares of a day's chunks (forked once, at the first day).

    Args:
        shares: The chunks of each worker, in slot order; the first share is stepped by
            the calling process itself, each later one by a forked worker.
        step_chunk: Steps one chunk of the day: ``step_chunk(context, block)`` returns the
            chunk's result (its ``ch`` with bookings, totals, money, visits).
        apply_day: In a worker, brings its copy of the model to the parent's day state.
        check_day: In a worker, after its chunks: raises if they changed what only the
            model's process may change (see ``LifecycleModel._check_day_state``).
        levers: The levers (bookings are methods of these).
        visits: Shared slot-sized int32 array the workers write their visitors into (at
            each chunk's first slot), or None when visits are not kept.

    """

    def __init__(
        self,
        shares: Sequence[Sequence[Any]],
        step_chunk: Callable[[Any, Any], Any],
        apply_day: Callable[[Any], None],
        check_day: Callable[[Any], None],
        levers: Sequence[object],
        visits: np.ndarray | None,
    ) -> None:
        self.shares = [list(share) for share in shares]
        # weakly: the model's finalizer holds this object, and must not keep the model alive
        self._step_chunk = _weakly(step_chunk)
        self._apply_day = _weakly(apply_day)
        self._check_day = _weakly(check_day)
        self._levers = list(levers)
        self._visits = visits
        self._workers: list[tuple[multiprocessing.process.BaseProcess, Connection]] = []
        #: Why a day failed: the pipes may then hold that day's replies, so no day may follow.
        self._failed: str | None = None
        context = multiprocessing.get_context("fork")
        for share in self.shares[1:]:
            parent_end, child_end = context.Pipe()
            # the worker closes the model's ends (its own and the earlier workers'): it then sees the
            # end of its pipe as soon as the model's process ends, however it ends
            not_its_own = [parent_end, *(conn for _worker, conn in self._workers)]
            worker = context.Process(
                target=self._serve, args=(child_end, share, not_its_own), daemon=True, name="opsim-chunks"
            )
            worker.start()
            child_end.close()
            self._workers.append((worker, parent_end))

    # ------------------------------------------------------------------ parent
    def step(self, context: Any, day_state: Any) -> Iterator[Any]:
        """Step every chunk of the day; their results in slot order (workers' bookings as :class:`RemoteBookings`).

        The workers are sent the day and this process steps its own share before this
        returns. The iterator then gives this share's results at once (the caller adds
        them up while the workers still step theirs), then each worker's, in worker order.
        The day is complete only when the iterator is used up: each worker checks its
        copy of the model after sending its results (:meth:`_serve`), and the last step
        of the iterator takes those verdicts. A day left unfinished (an error here or in
        the caller, the iterator dropped) counts as failed: no day may follow it.
        """
        if self._failed is not None:
            raise RuntimeError(f"an earlier day failed in the chunks ({self._failed}): this model cannot step on")
        self._failed = UNFINISHED_DAY
        try:
            own = self._step_own(context, day_state)
        except Exception as exc:
            self._failed = first_line(exc)
            raise
        return self._rest_of_day(own)

    def _step_own(self, context: Any, day_state: Any) -> list[Any]:
        for worker, conn in self._workers:
            _send(worker, conn, (context, day_state))
        return [self._step_chunk(context, block) for block in self.shares[0]]

    def _rest_of_day(self, own: list[Any]) -> Iterator[Any]:
        try:
            yield from own
            for (worker, conn), share in zip(self._workers, self.shares[1:], strict=True):
                replies = self._receive(worker, conn)
                yield from (self._result(block, reply) for block, reply in zip(share, replies, strict=True))
            for worker, conn in self._workers:
                self._receive(worker, conn)  # the worker's check of its copy, sent after its results
        except Exception as exc:
            self._failed = first_line(exc)
            raise
        self._failed = None

    @staticmethod
    def _receive(worker: multiprocessing.process.BaseProcess, conn: Connection) -> Any:
        """A worker's next message's payload; raises if the worker is gone or sent its error."""
        status, payload = _recv(worker, conn)
        if status != "ok":
            error = (payload.strip().splitlines() or ["no traceback"])[-1]  # "ZeroDivisionError: ..."
            raise RuntimeError(f"a chunk worker process failed: {error}\n{payload}")
        return payload

    def _result(self, block: Any, reply: WorkerReply) -> RemoteChunkResult:
        levers = self._levers
        bookings = RemoteBookings(
            reply.n_parts,
            [(getattr(levers[i], name), args) for i, name, args in reply.part_bookings],
            [(getattr(levers[i], name), args) for i, name, args in reply.bookings],
        )
        visits = None
        if reply.n_visits is not None and self._visits is not None:
            visits = self._visits[block.lo : block.lo + reply.n_visits].copy()
        return RemoteChunkResult(bookings, reply.totals, reply.money, visits, reply.observed)

    def take_chunk_state(self) -> None:
        """Bring each worker's per-chunk lever state (``Lever.chunk_state``) of its own chunks into the levers here.

        A worker's copy of a lever keeps the per-chunk state of the chunks it steps; the
        model's copy has only its own chunks'. Before the workers stop with days still to
        step (new workers would be forked from the model's copy), the model's copy takes
        the workers' entries: each such attribute is a mapping keyed by chunk index.

        Raises:
            RuntimeError: After a failed day (the pipes may hold its replies), or when a
                worker is gone, fails, or does not answer within :data:`STOP_TIMEOUT_S`.

        """
        if self._failed is not None:
            raise RuntimeError(f"an earlier day failed in the chunks ({self._failed})")
        for worker, conn in self._workers:
            _send(worker, conn, CHUNK_STATE_REQUEST)
            answer = _recv(worker, conn, STOP_TIMEOUT_S)
            if answer is None:  # e.g. still in a day it was sent
                raise RuntimeError(f"a chunk worker process (pid {worker.pid}) did not answer in {STOP_TIMEOUT_S} s")
            status, payload = answer
            if status != CHUNK_STATE_REQUEST:
                error = (str(payload).strip().splitlines() or ["no answer"])[-1]
                raise RuntimeError(f"a chunk worker process answered {status!r}, not its chunk state: {error}")
            for lever, state in zip(self._levers, payload, strict=True):  # the worker's own chunks' entries only
                for name, entries in state.items():
                    kept = getattr(lever, name)
                    for index, value in entries.items():
                        kept[index] = value

    def close(self) -> None:
        """Stop the workers (they also stop when the model's process ends, even killed) and let go of the model."""
        self._step_chunk = self._apply_day = self._check_day = _closed
        self._levers = []
        workers, self._workers = self._workers, []
        for _worker, conn in workers:
            try:
                conn.send(None)
            except (BrokenPipeError, OSError):
                pass
            conn.close()
        for worker, _conn in workers:
            worker.join(STOP_TIMEOUT_S)
            if worker.is_alive():
                worker.terminate()
                worker.join()

    # ------------------------------------------------------------------ worker
    def _serve(self, conn: Connection, share: Sequence[Any], not_its_own: Sequence[Connection]) -> None:
        """A worker's loop: take a day, step the share's chunks, send their results; stop on None or at the pipe's end."""
        for other in not_its_own:
            other.close()
        own = {block.index for block in share}
        try:
            while (message := conn.recv()) is not None:
                if isinstance(message, str) and message == CHUNK_STATE_REQUEST:
                    try:
                        conn.send((CHUNK_STATE_REQUEST, self._chunk_states(own)))
                    except Exception:  # sent to the parent, which raises it
                        conn.send(("error", traceback.format_exc()))
                    continue
                try:
                    context, day_state = message
                    self._apply_day(day_state)
                    replies = [self._reply(self._step_chunk(context, block), block) for block in share]
                    conn.send(("ok", replies))  # pickled whole before anything is written
                except Exception:  # sent to the parent, which raises it
                    conn.send(("error", traceback.format_exc()))
                    continue
                try:  # after the results: the parent adds them up meanwhile, then takes this verdict
                    self._check_day(day_state)
                except Exception:
                    conn.send(("error", traceback.format_exc()))
                else:
                    conn.send(("ok", None))
        except (EOFError, KeyboardInterrupt, BrokenPipeError):
            pass  # the parent went away or was interrupted: nothing left to do

    def _chunk_states(self, own: set[int]) -> list[dict[str, dict[int, Any]]]:
        """The per-chunk state of the worker's own chunks, lever by lever (``Lever.chunk_state``), as plain dicts."""
        return [
            {
                name: {index: value for index, value in getattr(lever, name).items() if index in own}
                for name in getattr(lever, "chunk_state", ())
            }
            for lever in self._levers
        ]

    def _reply(self, out: Any, block: Any) -> WorkerReply:
        ch = out.ch
        n_visits = None
        if out.visits is not None and self._visits is not None:
            n_visits = int(out.visits.size)
            self._visits[block.lo : block.lo + n_visits] = out.visits
        levers = self._levers
        return WorkerReply(
            totals=out.totals,
            money=out.money,
            part_bookings=[(*_booking_names(book, levers), args) for book, args in ch.part_bookings],
            bookings=[(*_booking_names(book, levers), args) for book, args in ch.bookings],
            n_parts=len(ch.parts),
            n_visits=n_visits,
            observed=out.observed,
        )
