"""Named random streams with dense per-slot, per-day draws.

One root seed feeds a :class:`numpy.random.SeedSequence`. Every process owns a
stream, identified by a stable hash of its name, and every (stream, day, chunk)
triple gets its own generator::

    SeedSequence(entropy=seed, spawn_key=(crc32(stream), day, chunk))

so the uniform that slot ``i`` sees on day ``t`` in stream ``s`` depends only on
``(seed, s, t, i)``: not on the strategy, on which other slots are drawn, or on
how many processes exist. That makes strategy comparisons paired (common random
numbers) and a run reproducible bit for bit. Slots are grouped in fixed chunks of
:data:`CHUNK_SIZE` so a day's draws never need more than one chunk of memory.

Uniforms are float32 on the grid k·2^-23, k = 0 … 2^23 − 1: the top 23 bits of
each 32-bit half of SFC64 output (the fastest bit generator numpy ships) become
the mantissa of a float in [1, 2), minus 1 — no integer-to-float conversion. The
kernels backend (:mod:`sim.core.kernels`: numpy, or compiled with numba) makes them,
with the same bits either way.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

from sim.core.kernels import NUMPY_KERNELS, Kernels

__all__ = ["CHUNK_SIZE", "Streams"]

#: Slots per chunk. Part of the random-number contract: changing it changes draws.
CHUNK_SIZE = 1 << 16


def stream_id(name: str) -> int:
    """Stable integer id of a stream name (CRC-32), independent of registration order."""
    return zlib.crc32(name.encode())


class Streams:
    """The RNG owner of one simulation: named streams from one root seed.

    Args:
        seed: Root seed (non-negative integer).
        kernels: The backend that makes the uniforms (default numpy; any gives the same bits).

    """

    def __init__(self, seed: int, kernels: Kernels = NUMPY_KERNELS) -> None:
        if seed < 0:
            raise ValueError(f"seed={seed} is not allowed: a non-negative integer")
        self.seed = int(seed)
        self.kernels = kernels

    def generator(self, stream: str, *key: int) -> np.random.Generator:
        """A generator for ``stream`` and an integer key (e.g. day, chunk)."""
        seq = np.random.SeedSequence(self.seed, spawn_key=(stream_id(stream), *key))
        return np.random.Generator(np.random.SFC64(seq))

    def uniforms(self, stream: str, day: int, chunk: int, n: int, out: np.ndarray | None = None) -> np.ndarray:
        """Dense float32 uniforms in [0, 1) for the first ``n`` slots of a chunk.

        Args:
            stream: Stream name, e.g. ``"awareness"``.
            day: Simulation day.
            chunk: Chunk index (slot // CHUNK_SIZE).
            n: Number of slots in this chunk (the last chunk may be short).
            out: Optional float32 buffer of length >= n.

        Returns:
            Array of ``n`` float32 uniforms.

        """
        return self.kernels.uniforms(self.seed, (stream_id(stream), day, chunk), n, out)

    def uniforms_into(self, day: int, draws: Sequence[tuple[str, int, np.ndarray]]) -> None:
        """:meth:`uniforms` of each ``(stream, chunk, out)`` into its ``out`` (the first ``out.size`` slots of the chunk).

        The same bits as one call a draw; a backend may draw several streams at once.
        """
        keys = [(stream_id(stream), day, chunk) for stream, chunk, _out in draws]
        self.kernels.uniforms_into(self.seed, keys, [out for _stream, _chunk, out in draws])
