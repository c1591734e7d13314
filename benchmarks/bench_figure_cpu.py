"""What the evening's output changes of 2026-11-30 save, and what a compiled push loop would have.

Three comparisons, each the median of ``--rounds`` rounds in this (warm) process:

* **figures** — a default run's six figures drawn and saved as the workers do (the
  garbage collector paused; the two ways alternate round by round)
  (:func:`sim.output.figures.save_png_of`: drawn once with titles unwrapped where none
  must wrap) against :func:`sim.output.figures.save_png` (matplotlib's wrapping at each
  layout), CPU seconds for all six, the PNG bytes checked equal;
* **versions** — ``meta.json``'s versions read from the metadata files' header lines
  (:func:`sim.output.versions._version`) against ``importlib.metadata.version``, ms for the
  recorded distributions, checked equal;
* **push loop** (where numba is installed) — push's day on a chunk of ``--chunk`` users
  (eligibility, the message draw, the fatigue update, the recipients' positions) in numpy as
  :meth:`sim.levers.push.Push.visit_effects` does it, against the same as one numba loop
  with a branch per user and one without (tried, not kept: ``docs/speed.md``), ms a chunk,
  the same bits checked.

Usage:
    python benchmarks/bench_figure_cpu.py [--users 1000000] [--days 365] [--rounds 7] [--chunk 250000] [--json FILE]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

#: Share of users a push message goes to on a day at the default 3 messages a week.
MESSAGE_RATE = 3 / 7
#: Fatigue kept from one day to the next at the default decay of 0.1.
FATIGUE_KEPT = 0.9
#: Share of users flagged as opted out in the probe's chunk.
OPTED_OUT = 0.05
#: Calls of each push loop timed in one round.
PUSH_CALLS = 50


def _median_seconds(run, rounds: int, clock=time.process_time) -> float:
    times = []
    for _ in range(rounds):
        started = clock()
        run()
        times.append(clock() - started)
    return statistics.median(times)


def figures(folder: Path, rounds: int) -> dict:
    """CPU seconds for the six figures, saved each way (median of the rounds), the bytes checked equal."""
    from sim.output.figure_workers import _no_collection
    from sim.output.figures import save_png, save_png_of
    from sim.output.run_report import draw_figure, figure_names, load_folder

    data = load_folder(folder)
    names = figure_names(data)

    def both(name: str) -> tuple[bytes, bytes]:
        wrapped, unwrapped = io.BytesIO(), io.BytesIO()
        save_png(draw_figure(data, name), wrapped)
        save_png_of(lambda: draw_figure(data, name), unwrapped)
        return wrapped.getvalue(), unwrapped.getvalue()

    for name in names:  # this process's first drawings load the fonts: not timed
        wrapped, unwrapped = both(name)
        assert wrapped == unwrapped, name

    ways = {
        "save_png": lambda name: save_png(draw_figure(data, name), io.BytesIO()),
        "save_png_of": lambda name: save_png_of(lambda: draw_figure(data, name), io.BytesIO()),
    }
    times: dict[str, list[float]] = {way: [] for way in ways}
    with _no_collection():  # as the figure workers draw
        for _ in range(rounds):  # the two ways alternate, round by round
            for way, save in ways.items():
                started = time.process_time()
                for name in names:
                    save(name)
                times[way].append(time.process_time() - started)
    return {"figures": names, **{way: statistics.median(t) for way, t in times.items()}}


def versions(rounds: int) -> dict:
    """Milliseconds to read the recorded distributions' versions each way (median of the rounds), checked equal."""
    from importlib import metadata

    from sim.output.versions import RECORDED_DISTRIBUTIONS, _version

    ours = [_version(name) for name in RECORDED_DISTRIBUTIONS]
    assert ours == [metadata.version(name) for name in RECORDED_DISTRIBUTIONS]
    clock = time.perf_counter
    return {
        "header_lines_ms": 1000 * _median_seconds(lambda: [_version(n) for n in RECORDED_DISTRIBUTIONS], rounds, clock),
        "importlib_metadata_ms": 1000
        * _median_seconds(lambda: [metadata.version(n) for n in RECORDED_DISTRIBUTIONS], rounds, clock),
    }


def push_loop(chunk: int, rounds: int) -> dict | None:
    """Milliseconds a chunk for push's day each way (median of the rounds), the same bits checked; None without numba."""
    try:
        import numba
    except ImportError:
        return None
    from sim.core.flags import FLAG_PUSH_OPT_OUT
    from sim.core.lifecycle import Stage

    rng = np.random.default_rng(0)
    stage = rng.integers(0, len(Stage), chunk).astype(np.int8)
    flags = np.where(rng.random(chunk) < OPTED_OUT, FLAG_PUSH_OPT_OUT, 0).astype(np.uint8)
    u = rng.random(chunk, dtype=np.float32)
    start_fatigue = rng.random(chunk, dtype=np.float32)
    rate, kept, new, opted = (
        np.float32(MESSAGE_RATE),
        np.float32(FATIGUE_KEPT),
        np.int8(Stage.NEW),
        np.uint8(FLAG_PUSH_OPT_OUT),
    )

    def numpy_day(fatigue: np.ndarray) -> np.ndarray:
        received = (stage >= new) & ((flags & opted) == 0) & (u < rate)
        fatigue *= kept
        fatigue += received
        return np.flatnonzero(received)

    @numba.njit(nogil=True)
    def branching(fatigue, stage, flags, u, rate, kept, new, opted, out):  # pragma: no cover (compiled)
        m = 0
        for i in range(fatigue.size):
            f = fatigue[i] * kept
            if stage[i] >= new and (flags[i] & opted) == 0 and u[i] < rate:
                f += np.float32(1.0)
                out[m] = i
                m += 1
            fatigue[i] = f
        return m

    @numba.njit(nogil=True)
    def branchless(fatigue, stage, flags, u, rate, kept, new, opted, out):  # pragma: no cover (compiled)
        m = 0
        for i in range(fatigue.size):
            got = (stage[i] >= new) & ((flags[i] & opted) == 0) & (u[i] < rate)
            fatigue[i] = fatigue[i] * kept + np.float32(got)
            out[m] = i
            m += got
        return m

    out = np.empty(chunk, dtype=np.intp)
    expected_fatigue = start_fatigue.copy()
    expected = numpy_day(expected_fatigue)
    for loop in (branching, branchless):
        fatigue = start_fatigue.copy()
        m = loop(fatigue, stage, flags, u, rate, kept, new, opted, out)
        assert np.array_equal(fatigue, expected_fatigue) and np.array_equal(out[:m], expected), loop.__name__
    fatigue = start_fatigue.copy()
    clock = time.perf_counter

    def per_call(run) -> float:
        def calls() -> None:
            # from the same fatigue each round: days on end of decay alone would reach float32's
            # subnormal numbers (docs/speed.md, flush to zero), slow for the loops that run last
            np.copyto(fatigue, start_fatigue)
            for _ in range(PUSH_CALLS):
                run()

        return 1000 * _median_seconds(calls, rounds, clock) / PUSH_CALLS

    return {
        "chunk": chunk,
        "numpy_ms": per_call(lambda: numpy_day(fatigue)),
        "branching_ms": per_call(lambda: branching(fatigue, stage, flags, u, rate, kept, new, opted, out)),
        "branchless_ms": per_call(lambda: branchless(fatigue, stage, flags, u, rate, kept, new, opted, out)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--chunk", type=int, default=250_000)
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        from sim import simulate

        overrides = [f"population.market_size={args.users}", f"horizon_days={args.days}", "progress=false"]
        folder = simulate(overrides).save(Path(tmp) / "run", figures=False)
        result = {"figures": figures(folder, args.rounds)}
    result["versions"] = versions(args.rounds)
    result["push_loop"] = push_loop(args.chunk, args.rounds)
    fig, ver, push = result["figures"], result["versions"], result["push_loop"]
    print(
        f"six figures, CPU (median of {args.rounds}): save_png {fig['save_png']:.3f} s, "
        f"save_png_of {fig['save_png_of']:.3f} s ({100 * (1 - fig['save_png_of'] / fig['save_png']):.1f} % less; same bytes)"
    )
    print(
        f"versions: header lines {ver['header_lines_ms']:.1f} ms, importlib.metadata {ver['importlib_metadata_ms']:.1f} ms"
        " (after the first read of each: the first call of a process reads the files from disk)"
    )
    if push is None:
        print("push loop: numba is not installed")
    else:
        print(
            f"push's day on {push['chunk']:,} users: numpy {push['numpy_ms']:.2f} ms, numba with a branch "
            f"{push['branching_ms']:.2f} ms, without {push['branchless_ms']:.2f} ms (same bits)"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
