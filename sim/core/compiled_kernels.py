"""The compiled backend of :mod:`sim.core.kernels` (numba): the same bits as numpy, faster.

Imported only when ``kernels`` asks for it (:func:`sim.core.kernels.load_kernels`);
importing it compiles the loops, or loads them from numba's cache (``cache=True``:
``__pycache__`` beside this file, or numba's user-wide cache where that is not
writable), so that worker processes forked later and threads find them ready. The loops
release the interpreter lock (``nogil``): chunks stepped in threads run them side by
side.

SFC64 (Chris Doty-Humphrey's Small Fast Chaotic generator, as numpy implements it):
state a, b, c and a counter w; seeded with a, b, c = three 64-bit words of the
SeedSequence and w = 1, then stepped 12 times; each step outputs t and moves on::

    t = a + b + w;  w = w + 1;  a = b ^ (b >> 11);  b = c + (c << 3);  c = rotl(c, 24) + t

(all modulo 2^64). Output word j gives uniforms 2j (its low 32 bits) and 2j + 1 (its
high 32 bits), each k·2^-23 with k the half's top 23 bits.
"""

from __future__ import annotations

import numba
import numpy as np

from sim.core.kernels import SFC64_SEED_WORDS

__all__ = ["COMPILED_KERNELS", "CompiledKernels"]

#: Steps SFC64 takes after seeding, before its first output (numpy's ``sfc64_set_seed``).
SFC64_WARMUP_STEPS = 12
#: A mask with fewer True entries than this share of its length goes to ``np.flatnonzero``,
#: which skips zero stretches fast (measured on 262,144 slots: 57 µs at 0.5 %, 127 µs at
#: 2 %, against 98–104 µs for the branch-free loop at any density).
SPARSE_SHARE = 1 / 64

_LOW_32 = np.uint64(0xFFFFFFFF)
_GRID = np.float32(2.0**-23)  # k·2^-23, k < 2^23: exact in float32, as (1 + k·2^-23) − 1 is


@numba.njit(nogil=True, cache=True)
def _sfc64_uniforms(seed: np.ndarray, n: int, out: np.ndarray) -> None:  # pragma: no cover (compiled)
    a, b, c, w = seed[0], seed[1], seed[2], np.uint64(1)
    s11, s3, s24, s40, s32, s9 = np.uint64(11), np.uint64(3), np.uint64(24), np.uint64(40), np.uint64(32), np.uint64(9)
    for _ in range(SFC64_WARMUP_STEPS):
        t = a + b + w
        w += np.uint64(1)
        a = b ^ (b >> s11)
        b = c + (c << s3)
        c = ((c << s24) | (c >> s40)) + t
    for j in range((n + 1) // 2):
        t = a + b + w
        w += np.uint64(1)
        a = b ^ (b >> s11)
        b = c + (c << s3)
        c = ((c << s24) | (c >> s40)) + t
        out[2 * j] = np.float32((t & _LOW_32) >> s9) * _GRID
        if 2 * j + 1 < n:  # all but an odd n's last word
            out[2 * j + 1] = np.float32(t >> (s32 + s9)) * _GRID


@numba.njit(nogil=True, cache=True)
def _compact(mask: np.ndarray, count: int) -> np.ndarray:  # pragma: no cover (compiled)
    out = np.empty(count + 1, np.intp)  # the last write of a False entry lands one past the end
    j = 0
    for i in range(mask.size):
        out[j] = i
        j += mask[i]
    return out[:count]


class CompiledKernels:
    """The numba backend (see :class:`sim.core.kernels.Kernels`)."""

    name = "compiled"

    @staticmethod
    def uniforms(seq: np.random.SeedSequence, n: int, out: np.ndarray | None = None) -> np.ndarray:
        """``n`` float32 uniforms: the 32-bit halves of ⌈n/2⌉ SFC64 words, low half first."""
        target = np.empty(n, dtype=np.float32) if out is None else out[:n]
        _sfc64_uniforms(seq.generate_state(SFC64_SEED_WORDS, np.uint64), n, target)
        return target

    @staticmethod
    def nonzero(mask: np.ndarray) -> np.ndarray:
        """Positions of the True entries: branch-free, or ``np.flatnonzero`` for sparse masks."""
        count = int(np.count_nonzero(mask))
        if count < mask.size * SPARSE_SHARE:
            return np.flatnonzero(mask)
        return _compact(mask, count)


#: The compiled backend, its loops compiled (or loaded from cache) here.
COMPILED_KERNELS = CompiledKernels()
COMPILED_KERNELS.uniforms(np.random.SeedSequence(0), 3)
COMPILED_KERNELS.nonzero(np.ones(2, dtype=bool))
