"""Kernels: the day's hottest loops, in numpy or compiled with numba, with identical results.

Three parts of a day took nearly half of it with every lever on (``docs/speed.md#per-core``):

* ``uniforms``: a draw chunk's float32 uniforms from the SFC64 generator that
  ``SeedSequence(seed, spawn_key=key)`` seeds. numpy builds the SeedSequence and the
  generator in Python, draws the raw 64-bit words, then makes floats of them in three
  more passes (the top 23 bits of each 32-bit half are the mantissa k of 1 + k·2^-23,
  minus 1);
* ``nonzero``: the positions of the True entries of a random mask
  (``np.flatnonzero``), whose branches mispredict on masks of a few per cent;
* ``relabel_and_count``: the end of the day, a dozen whole-chunk passes in numpy:
  silence σ = t − last visit, the relabelling rule (:func:`sim.core.lifecycle.relabel`),
  the ever-activated flag, and the day's counts by stage, of WAU and MAU (σ < 7, σ < 30)
  and of the latent-alive.

The compiled backend (:mod:`sim.core.compiled_kernels`, ``pip install 'opsim[compiled]'``)
mixes the SeedSequence's entropy and runs SFC64 itself, by the same recurrences, then
writes k·2^-23 (= (1 + k·2^-23) − 1 exactly: both are k times a power of two, k < 2^23)
in a second, vectorized pass; ``uniforms_into``, which a chunk's draws go through (every
stream's draw chunks), steps buffers of one length two streams to a loop (their
recurrences overlap in the processor). Its
``nonzero`` writes every position and advances its output only
past a True entry (no branch); its ``relabel_and_count`` relabels and flags in one pass
(integers and one float32 comparison) and counts WAU and MAU in a second. All give the
same bits as numpy, so a run's results do
not depend on the backend (tests/test_kernels.py); only its speed does.

``kernels`` (config key): ``auto`` (compiled where numba is installed), ``numpy`` or
``compiled`` (an error without numba).
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from sim.core.daily_log import MAU_DAYS, WAU_DAYS
from sim.core.flags import FLAG_EVER_ACTIVATED
from sim.core.lifecycle import LifecycleConfig, RelabelArrays, Stage, count_by_stage, relabel

__all__ = [
    "KERNEL_MODES",
    "NUMPY_KERNELS",
    "Kernels",
    "NumpyKernels",
    "compiled_available",
    "compiled_chosen",
    "load_kernels",
]

#: Values of ``kernels``: the backend of the day's hottest loops.
KERNEL_MODES = ("auto", "numpy", "compiled")
_ONE_BITS = np.uint32(0x3F800000)  # float32 1.0
_MANTISSA_SHIFT = 9  # 32-bit half >> 9: its top 23 bits, the mantissa


class Kernels(Protocol):
    """What a backend provides (see the module docstring)."""

    name: str

    def uniforms(self, seed: int, key: tuple[int, ...], n: int, out: np.ndarray | None = None) -> np.ndarray:
        """``n`` float32 uniforms k·2^-23 from SFC64 seeded by ``SeedSequence(seed, spawn_key=key)``."""
        ...

    def uniforms_into(self, seed: int, keys: Sequence[tuple[int, ...]], outs: Sequence[np.ndarray]) -> None:
        """Fill each float32 buffer of ``outs`` with the uniforms of its key's stream (:meth:`uniforms` of each)."""
        ...

    def nonzero(self, mask: np.ndarray) -> np.ndarray:
        """Positions (intp) of the True entries of a 1-D boolean ``mask``, ascending."""
        ...

    def relabel_and_count(
        self,
        chunk: RelabelArrays,
        acquired: np.ndarray,
        tenure: np.ndarray,
        *,
        day: int,
        life: LifecycleConfig,
    ) -> np.ndarray:
        """Relabel and flag the chunk in place (``acquired``: bool, ``tenure``: int16 τ); its counts (:data:`~sim.core.daily_log.DAY_COUNTS`)."""
        ...


class NumpyKernels:
    """The numpy backend: the reference for the compiled one."""

    name = "numpy"

    @staticmethod
    def uniforms(seed: int, key: tuple[int, ...], n: int, out: np.ndarray | None = None) -> np.ndarray:
        """``n`` float32 uniforms: the 32-bit halves of ⌈n/2⌉ SFC64 words, low half first."""
        seq = np.random.SeedSequence(seed, spawn_key=key)
        raw = np.random.SFC64(seq).random_raw((n + 1) // 2)
        bits = raw.view(np.uint32)[:n]
        np.right_shift(bits, _MANTISSA_SHIFT, out=bits)
        np.bitwise_or(bits, _ONE_BITS, out=bits)
        floats = bits.view(np.float32)
        if out is None:
            return np.subtract(floats, np.float32(1.0), out=floats)
        return np.subtract(floats, np.float32(1.0), out=out[:n])

    @staticmethod
    def uniforms_into(seed: int, keys: Sequence[tuple[int, ...]], outs: Sequence[np.ndarray]) -> None:
        """:meth:`uniforms` of each key into its buffer."""
        if len(keys) != len(outs):
            raise ValueError(f"{len(keys)} keys for {len(outs)} buffers: one buffer a key")
        for key, out in zip(keys, outs, strict=True):
            NumpyKernels.uniforms(seed, key, out.size, out)

    @staticmethod
    def nonzero(mask: np.ndarray) -> np.ndarray:
        """``np.flatnonzero(mask)``."""
        return np.flatnonzero(mask)

    @staticmethod
    def relabel_and_count(
        chunk: RelabelArrays, acquired: np.ndarray, tenure: np.ndarray, *, day: int, life: LifecycleConfig
    ) -> np.ndarray:
        """σ, :func:`~sim.core.lifecycle.relabel`, the ever-activated flag, then the counts (:data:`~sim.core.daily_log.DAY_COUNTS`)."""
        silence = np.int16(day) - chunk.last_visit_day
        relabel(
            chunk.stage,
            acquired,
            silence,
            tenure,
            chunk.habit,
            new_days=life.new_days,
            dormant_after_days=life.dormant_after_days,
            churned_after_days=life.churned_after_days,
            activated_habit=life.activated_habit,
        )
        chunk.flags |= (chunk.stage == Stage.ACTIVATED).view(np.uint8) * FLAG_EVER_ACTIVATED
        counts = count_by_stage(chunk.stage)
        counts += [np.count_nonzero(silence < WAU_DAYS), np.count_nonzero(silence < MAU_DAYS)]
        counts.append(np.count_nonzero(chunk.alive))
        return np.array(counts, dtype=np.int64)


#: The numpy backend (stateless; one is enough).
NUMPY_KERNELS = NumpyKernels()


def compiled_available() -> bool:
    """Whether numba is installed (the compiled backend can be loaded)."""
    return importlib.util.find_spec("numba") is not None


def compiled_chosen(mode: str) -> bool:
    """Whether ``kernels`` = ``mode`` steps with the compiled backend (without importing numba)."""
    return mode == "compiled" or (mode == "auto" and compiled_available())


def load_kernels(mode: str) -> Kernels:
    """The backend that ``kernels`` = ``mode`` names (:data:`KERNEL_MODES`).

    The compiled one is imported (and its loops compiled, or loaded from numba's
    cache) on first use, never at import of this module.

    Raises:
        ValueError: For a mode not in :data:`KERNEL_MODES`, or ``compiled`` without numba or
            with a numba that cannot be loaded (``auto`` then warns and takes numpy).

    """
    if mode not in KERNEL_MODES:
        raise ValueError(f"kernels={mode!r} is not allowed: one of {', '.join(KERNEL_MODES)}")
    if mode == "numpy" or (mode == "auto" and not compiled_available()):
        return NUMPY_KERNELS
    if not compiled_available():
        raise ValueError(
            "kernels='compiled' needs numba, which is not installed: pip install 'opsim[compiled]', "
            "or kernels=auto (numpy where numba is missing)"
        )
    try:
        from sim.core.compiled_kernels import COMPILED_KERNELS  # numba only when asked for
    except ImportError as exc:  # installed but unusable, e.g. built for another numpy
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if mode == "auto":
            warnings.warn(
                f"kernels=auto steps with numpy: numba is installed but cannot be loaded ({reason})", stacklevel=2
            )
            return NUMPY_KERNELS
        raise ValueError(f"kernels='compiled' cannot load numba ({reason}); kernels=numpy steps without it") from exc
    return COMPILED_KERNELS
