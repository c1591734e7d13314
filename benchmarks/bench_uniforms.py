"""A chunk's uniforms: numpy, the compiled kernels stream by stream, and in pairs.

A chunk of a 1,000,000-user run on up to four cores is four draw chunks of 65,536 users,
each its own SFC64 stream (``SeedSequence(seed, spawn_key=(stream, day, draw chunk))``).
Three ways of drawing them, alternating round by round, each the best of ``--rounds`` rounds of
``--calls`` calls (µs a chunk), the bits checked equal:

* **numpy** — :meth:`sim.core.kernels.NumpyKernels.uniforms_into`: numpy's SeedSequence
  and SFC64, then three passes that make floats of the words;
* **compiled, one by one** — :meth:`sim.core.compiled_kernels.CompiledKernels.uniforms`
  for each draw chunk: one stream's loop, which waits on its own recurrence;
* **compiled, in pairs** — :meth:`~sim.core.compiled_kernels.CompiledKernels.uniforms_into`,
  what a chunk draws: two streams stepped in one loop, which the processor overlaps.

Usage:
    python benchmarks/bench_uniforms.py [--draw-chunks 4] [--rounds 7] [--calls 200] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import time
import zlib

import numpy as np
from machine_info import describe, one_line

from sim.core.kernels import NUMPY_KERNELS, compiled_available
from sim.core.rng import CHUNK_SIZE

#: A day and a stream as a run draws them (the key's words are what SeedSequence mixes).
DAY, STREAM = 100, zlib.crc32(b"activity")
SEED = 0


def mean_microseconds(draw, calls: int) -> float:
    """Mean time of ``calls`` calls of ``draw()``, in µs."""
    started = time.perf_counter()
    for _ in range(calls):
        draw()
    return (time.perf_counter() - started) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draw-chunks", type=int, default=4, help="draw chunks of 65,536 users in the chunk")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    if not compiled_available():
        raise SystemExit("bench_uniforms.py compares the compiled kernels with numpy's: pip install -e '.[compiled]'")
    from sim.core.compiled_kernels import COMPILED_KERNELS

    keys = [(STREAM, DAY, k) for k in range(args.draw_chunks)]
    buffers = {way: np.empty(args.draw_chunks * CHUNK_SIZE, np.float32) for way in ("numpy", "one", "pairs")}
    parts = {way: np.split(out, args.draw_chunks) for way, out in buffers.items()}
    ways = {
        "numpy": lambda: NUMPY_KERNELS.uniforms_into(SEED, keys, parts["numpy"]),
        "one": lambda: [
            COMPILED_KERNELS.uniforms(SEED, key, CHUNK_SIZE, out) for key, out in zip(keys, parts["one"], strict=True)
        ],
        "pairs": lambda: COMPILED_KERNELS.uniforms_into(SEED, keys, parts["pairs"]),
    }
    for draw in ways.values():  # first calls: numba's cache loaded, pages faulted in
        draw()
    bits = {way: out.view(np.uint32) for way, out in buffers.items()}
    assert np.array_equal(bits["numpy"], bits["one"]) and np.array_equal(bits["numpy"], bits["pairs"])
    times: dict[str, list[float]] = {way: [] for way in ways}
    for _ in range(args.rounds):  # the three ways alternate, round by round
        for way, draw in ways.items():
            times[way].append(mean_microseconds(draw, args.calls))
    result = {way: min(values) for way, values in times.items()}
    print(f"opsim uniforms benchmark — {one_line()}")
    print(
        f"\none chunk of {args.draw_chunks} draw chunks of {CHUNK_SIZE:,} uniforms, µs (best), the same bits each way:\n"
    )
    print("| numpy | compiled, one by one | compiled, in pairs | pairs against one by one |")
    print("|---:|---:|---:|---:|")
    print(
        f"| {result['numpy']:.0f} | {result['one']:.0f} | {result['pairs']:.0f} | "
        f"{result['one'] / result['pairs']:.2f}x |"
    )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"machine": describe(), "draw_chunks": args.draw_chunks, "microseconds": result}, fh, indent=2)


if __name__ == "__main__":
    main()
