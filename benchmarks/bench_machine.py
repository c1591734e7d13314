"""What threads can gain on this machine at all: numpy kernels alone in 1 and 2 threads.

One run's threads (``threads``) step chunks of the population side by side. How much
that can gain is bounded by the machine: numpy releases the GIL inside its kernels,
but streaming over arrays larger than the caches is limited by memory bandwidth, which
two cores share. This prints, for the same total work done by one thread twice or by
two threads at once, the speed-up of

* ``a * b + a`` over float32 arrays of 64 KiB ... 16 MiB (cache-resident to streaming), and
* SFC64 random numbers (compute-bound, like the core's uniforms).

Usage:
    python benchmarks/bench_machine.py [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Callable

import numpy as np

#: Elements per array (float32): 64 KiB, 256 KiB, 1 MiB, 4 MiB and 16 MiB arrays.
SIZES = (16_384, 65_536, 262_144, 1_048_576, 4_194_304)
#: Array elements processed per timed call of the arithmetic kernel (the same for every size).
ELEMENTS_PER_CALL = 2_000_000_000
#: SFC64 draws per timed call (64-bit words).
RANDOM_WORDS = 120_000_000


def speed_up(work: Callable[[], None]) -> tuple[float, float]:
    """Seconds for ``work`` twice in one thread, and for two threads running it at once."""
    work()  # warm up (allocations, page faults)
    started = time.perf_counter()
    work()
    work()
    serial = time.perf_counter() - started
    threads = [threading.Thread(target=work) for _ in range(2)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return serial, time.perf_counter() - started


def arithmetic(n: int) -> Callable[[], None]:
    """``out = a * b + a`` repeated over arrays of ``n`` float32 elements."""
    rng = np.random.default_rng(0)
    a, b = rng.random(n, dtype=np.float32), rng.random(n, dtype=np.float32)
    repeats = max(1, ELEMENTS_PER_CALL // n // 2)

    def work() -> None:
        out = np.empty_like(a)
        for _ in range(repeats):
            np.multiply(a, b, out=out)
            np.add(out, a, out=out)

    return work


def random_numbers() -> None:
    """SFC64 words in blocks of one draw chunk's size for a day of 1,000,000 users."""
    for seed in range(RANDOM_WORDS // 500_000):
        np.random.SFC64(seed).random_raw(500_000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args()
    rows = []
    cases = [(f"a*b+a, {n * 4 // 1024:,} KiB arrays", arithmetic(n)) for n in SIZES]
    cases.append(("SFC64 random numbers", random_numbers))
    print("| numpy kernel | 1 thread, twice | 2 threads at once | speed-up |")
    print("|---|---:|---:|---:|")
    for label, work in cases:
        serial, parallel = speed_up(work)
        rows.append({"kernel": label, "serial_s": serial, "two_threads_s": parallel, "speed_up": serial / parallel})
        print(f"| {label} | {serial:.2f} s | {parallel:.2f} s | {serial / parallel:.2f}x |", flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2)


if __name__ == "__main__":
    main()
