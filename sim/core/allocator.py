"""Keep a run's freed working memory in the process instead of handing it back to the system every day.

Each simulated day allocates and frees the same per-chunk temporaries (uniforms,
masks, index arrays; about 1-4 MiB each). glibc's allocator serves blocks above its
*mmap threshold* with fresh pages from the system, and gives free memory at the top
of its heap back above its *trim threshold*; both start low (128 KiB) and adapt only
partly, so a run touched fresh pages — one page fault per 4 KiB — for much of what it
allocated. Measured here (1,000,000 users × 365 days, organic, one thread): 9.6-10.5 s
of stepping in a fresh process, 5.2 s with the thresholds below, which is what a
second run in the same process got already. Results do not change. The cost is some
memory kept rather than returned (``benchmarks/bench_memory.py``, default run, peak above
the interpreter per user): 110 bytes with one thread against 104 untuned, 155 against 113
with two threads, whose second allocator arena keeps its own. A trim threshold of 256 MiB
instead of 32 MiB kept 140 bytes a user with one thread for no measurable speed.

:func:`keep_freed_memory` sets both thresholds once per process (``mallopt``) on
Linux with glibc and does nothing elsewhere. Building a model calls it
(:class:`sim.core.model.LifecycleModel`, so every run: ``opsim``, sweeps, the planner,
the calibrator, the lift fit, the explorer): only a run changes the allocator, never an
import.
"""

from __future__ import annotations

import ctypes
import functools
import platform

__all__ = ["MMAP_THRESHOLD_BYTES", "TRIM_THRESHOLD_BYTES", "keep_freed_memory"]

#: Blocks up to this size come from the heap, and are reused once freed (glibc's maximum, 32 MiB on 64-bit).
MMAP_THRESHOLD_BYTES = 32 << 20
#: Free memory at the top of the heap kept for reuse, up to this much (more kept more, for no speed).
TRIM_THRESHOLD_BYTES = 32 << 20
#: ``mallopt`` parameter numbers (glibc's malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


@functools.cache
def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds for this process (once); False where the C library is not glibc."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    done = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
    return mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1 and done
