"""The compiled backend of :mod:`sim.core.kernels` (numba): the same bits as numpy, faster.

Imported only when ``kernels`` asks for it (:func:`sim.core.kernels.load_kernels`);
importing it compiles the loops, or loads them from numba's cache (``cache=True``:
``__pycache__`` beside this file, or numba's user-wide cache where that is not
writable), so that worker processes forked later and threads find them ready. The loops
release the interpreter lock (``nogil``): chunks stepped in threads run them side by
side.

**SeedSequence** (numpy's, after M. E. O'Neill's ``seed_seq``), all arithmetic modulo
2^32. The entropy is the seed's 32-bit words (lowest first; at least one, padded with
zeros to the pool size 4 when there is a spawn key) followed by the key's words. With
the running multiplier h (starting at A₀) ::

    hashmix(v) = ((v ^ h) · h') ^ ((v ^ h) · h' >> 16),   h' = h · A,  h ← h'
    mix(x, y)  = r ^ (r >> 16),   r = L · x − R · y

the pool p[0..3] is hashmix of the first four entropy words; then every p[dst] =
mix(p[dst], hashmix(p[src])) for src, dst in 0..3, src ≠ dst; then each further entropy
word e: p[dst] = mix(p[dst], hashmix(e)) for dst in 0..3. Three 64-bit state words are
six 32-bit words s[i] = g ^ (g >> 16), g = (p[i mod 4] ^ h₂) · h₂', h₂' = h₂ · B (h₂
from B₀), and word k = s[2k] + 2^32 · s[2k + 1].

**SFC64** (C. Doty-Humphrey's Small Fast Chaotic generator, as numpy implements it):
state a, b, c from those words and a counter w = 1, stepped 12 times; each step outputs
t and moves on, modulo 2^64::

    t = a + b + w;  w = w + 1;  a = b ^ (b >> 11);  b = c + (c << 3);  c = rotl(c, 24) + t

Output word j gives uniforms 2j (its low 32 bits) and 2j + 1 (its high 32 bits), each
k·2^-23 with k the half's top 23 bits. The words are stepped first (one loop, bound by the
recurrence's latency; two streams at a time where a chunk has several draw chunks, which
the processor overlaps) and made floats after (a second loop, which vectorizes).

**Relabel and count**: slot by slot, σ = t − last visit (int16, as numpy's), the rule of
:mod:`sim.core.lifecycle` for acquired slots (the same order of overrides: habit, NEW,
DORMANT, CHURNED) and FLAG_EVER_ACTIVATED where the stage is ACTIVATED, in one pass;
WAU and MAU in a second; the counts by stage and of the alive by numpy.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from types import SimpleNamespace

import numba
import numpy as np

from sim.core.daily_log import MAU_DAYS, WAU_DAYS
from sim.core.flags import FLAG_EVER_ACTIVATED
from sim.core.lifecycle import LifecycleConfig, RelabelArrays, Stage, count_by_stage

__all__ = ["COMPILED_KERNELS", "CompiledKernels"]

#: Steps SFC64 takes after seeding, before its first output (numpy's ``sfc64_set_seed``).
SFC64_WARMUP_STEPS = 12
#: SeedSequence's entropy pool, in 32-bit words (numpy's default, used by ``Streams``).
POOL_WORDS = 4
#: A mask with fewer True entries than this share of its length goes to ``np.flatnonzero``,
#: which skips zero stretches fast (measured on 262,144 slots: 57 µs at 0.5 %, 127 µs at
#: 2 %, against 98–104 µs for the branch-free loop at any density).
SPARSE_SHARE = 1 / 64

# SeedSequence's constants (numpy.random.bit_generator): A₀, A, B₀, B, L, R above.
_INIT_A, _MULT_A = np.uint64(0x43B0D7E5), np.uint64(0x931E8875)
_INIT_B, _MULT_B = np.uint64(0x8B51F9DD), np.uint64(0x58F38DED)
_MIX_L, _MIX_R = np.uint64(0xCA01F9DD), np.uint64(0x4973F715)
_WORD = 1 << 32
_LOW_32 = np.uint64(_WORD - 1)
#: A 32-bit half >> 9: its top 23 bits, k (``sim.core.kernels``' shift: numba's cache keys on this file
#: alone, so a loop reading the constant from another module could go stale).
_MANTISSA_SHIFT = np.uint32(9)
_GRID = np.float32(2.0**-23)  # k·2^-23, k < 2^23: exact in float32, as (1 + k·2^-23) − 1 is


@numba.njit(nogil=True, cache=True)
def _hashmix(value: np.uint64, h: np.uint64) -> tuple[np.uint64, np.uint64]:  # pragma: no cover (compiled)
    """hashmix(v) with the running multiplier h, and the next multiplier h' = h · A (modulo 2^32)."""
    v = value ^ h
    h = (h * _MULT_A) & _LOW_32
    v = (v * h) & _LOW_32
    return v ^ (v >> np.uint64(16)), h


@numba.njit(nogil=True, cache=True)
def _mix(x: np.uint64, y: np.uint64) -> np.uint64:  # pragma: no cover (compiled)
    """mix(x, y) = r ^ (r >> 16), r = L · x − R · y (modulo 2^32)."""
    r = (_MIX_L * x - _MIX_R * y) & _LOW_32
    return r ^ (r >> np.uint64(16))


@numba.njit(nogil=True, cache=True)
def _sfc64_state(entropy: np.ndarray) -> tuple[np.uint64, np.uint64, np.uint64]:  # pragma: no cover (compiled)
    """SeedSequence(entropy words).generate_state(3, uint64), in uint64 arithmetic masked to 32 bits."""
    m, x16 = _LOW_32, np.uint64(16)
    pool = np.zeros(POOL_WORDS, np.uint64)
    h = _INIT_A
    for i in range(POOL_WORDS):
        pool[i], h = _hashmix(entropy[i] if i < entropy.size else np.uint64(0), h)
    for src in range(POOL_WORDS):
        for dst in range(POOL_WORDS):
            if src != dst:
                v, h = _hashmix(pool[src], h)
                pool[dst] = _mix(pool[dst], v)
    for src in range(POOL_WORDS, entropy.size):
        for dst in range(POOL_WORDS):
            v, h = _hashmix(entropy[src], h)
            pool[dst] = _mix(pool[dst], v)
    words = np.zeros(6, np.uint64)
    h = _INIT_B
    for i in range(6):
        v = pool[i % POOL_WORDS] ^ h
        h = (h * _MULT_B) & m
        v = (v * h) & m
        words[i] = v ^ (v >> x16)
    x32 = np.uint64(32)
    return words[0] | (words[1] << x32), words[2] | (words[3] << x32), words[4] | (words[5] << x32)


@numba.njit(nogil=True, cache=True)
def _sfc64_step(
    a: np.uint64, b: np.uint64, c: np.uint64, w: np.uint64
) -> tuple[np.uint64, np.uint64, np.uint64, np.uint64]:  # pragma: no cover (compiled)
    """One SFC64 step with the counter w: the output t and the next a, b, c (the caller moves w on)."""
    t = a + b + w
    next_a = b ^ (b >> np.uint64(11))
    next_b = c + (c << np.uint64(3))
    next_c = ((c << np.uint64(24)) | (c >> np.uint64(40))) + t
    return t, next_a, next_b, next_c


@numba.njit(nogil=True, cache=True)
def _floats_of_words(words: np.ndarray, n: int, out: np.ndarray) -> None:  # pragma: no cover (compiled)
    """out[i] = k·2^-23, k the top 23 bits of the words' 32-bit half i (a word's low half first, as numpy's view)."""
    halves = words.view(np.uint32)
    for i in range(n):
        out[i] = np.float32(halves[i] >> _MANTISSA_SHIFT) * _GRID


@numba.njit(nogil=True, cache=True)
def _sfc64_uniforms(entropy: np.ndarray, n: int, out: np.ndarray) -> None:  # pragma: no cover (compiled)
    a, b, c = _sfc64_state(entropy)
    w = np.uint64(1)
    for _ in range(SFC64_WARMUP_STEPS):
        _t, a, b, c = _sfc64_step(a, b, c, w)
        w += np.uint64(1)
    words = np.empty((n + 1) // 2, np.uint64)
    for j in range(words.size):
        words[j], a, b, c = _sfc64_step(a, b, c, w)
        w += np.uint64(1)
    _floats_of_words(words, n, out)


@numba.njit(nogil=True, cache=True)
def _sfc64_uniforms_pair(
    entropy: np.ndarray, other_entropy: np.ndarray, n: int, out: np.ndarray, other_out: np.ndarray
) -> None:  # pragma: no cover (compiled)
    """:func:`_sfc64_uniforms` of two streams of ``n`` uniforms, stepped side by side in one loop."""
    a, b, c = _sfc64_state(entropy)
    a2, b2, c2 = _sfc64_state(other_entropy)
    w = np.uint64(1)  # both counters start at 1 and move together
    for _ in range(SFC64_WARMUP_STEPS):
        _t, a, b, c = _sfc64_step(a, b, c, w)
        _t, a2, b2, c2 = _sfc64_step(a2, b2, c2, w)
        w += np.uint64(1)
    words = np.empty((n + 1) // 2, np.uint64)
    other_words = np.empty((n + 1) // 2, np.uint64)
    for j in range(words.size):
        words[j], a, b, c = _sfc64_step(a, b, c, w)
        other_words[j], a2, b2, c2 = _sfc64_step(a2, b2, c2, w)
        w += np.uint64(1)
    _floats_of_words(words, n, out)
    _floats_of_words(other_words, n, other_out)


@numba.njit(nogil=True, cache=True)
def _compact(mask: np.ndarray, count: int) -> np.ndarray:  # pragma: no cover (compiled)
    out = np.empty(count + 1, np.intp)  # the last write of a False entry lands one past the end
    j = 0
    for i in range(mask.size):
        out[j] = i
        j += mask[i]
    return out[:count]


#: The stage codes the relabelling writes, handed to the loop as an argument: numba's cache keeps a
#: loop until this file changes, so a constant read from another module inside a loop could be stale.
_LABELS = np.array([Stage.NEW, Stage.RETAINED, Stage.ACTIVATED, Stage.DORMANT, Stage.CHURNED], dtype=np.int8)


@numba.njit(nogil=True, cache=True)
def _relabel(  # pragma: no cover (compiled)
    stage: np.ndarray,
    acquired: np.ndarray,
    tenure: np.ndarray,
    last_visit_day: np.ndarray,
    habit: np.ndarray,
    flags: np.ndarray,
    day: int,
    new_days: int,
    dormant_after_days: int,
    churned_after_days: int,
    activated_habit: np.float32,
    labels: np.ndarray,
    ever_activated: np.uint8,
) -> None:
    # Selects and unconditional stores, no branch on the slot's data (random: they would mispredict).
    new, retained, activated, dormant, churned = labels[0], labels[1], labels[2], labels[3], labels[4]
    for i in range(stage.size):
        silence = np.int16(day - last_visit_day[i])
        label = activated if habit[i] >= activated_habit else retained
        label = new if tenure[i] < new_days else label
        label = dormant if silence >= dormant_after_days else label
        label = churned if silence >= churned_after_days else label
        code = label if acquired[i] else stage[i]
        stage[i] = code
        flags[i] |= ever_activated * np.uint8(code == activated)


@numba.njit(nogil=True, cache=True)
def _recently_active(  # pragma: no cover (compiled)
    last_visit_day: np.ndarray, day: int, wau_days: int, mau_days: int
) -> tuple[int, int]:
    # Counted here, not with the relabelling: counters in that loop kept it from vectorizing (3x slower).
    today = np.int16(day)
    wau = mau = np.int64(0)
    for i in range(last_visit_day.size):
        silence = np.int16(today - last_visit_day[i])  # wraps as numpy's int16 does
        wau += np.int64(silence < wau_days)
        mau += np.int64(silence < mau_days)
    return wau, mau


def _words(value: int) -> list[int]:
    """A non-negative integer's 32-bit words, lowest first (0 is one word), as SeedSequence reads it.

    Raises:
        ValueError: For a negative integer, as SeedSequence does.

    """
    if value < 0:
        raise ValueError(f"expected non-negative integer, got {value}")
    words = [value % _WORD]
    value //= _WORD
    while value:
        words.append(value % _WORD)
        value //= _WORD
    return words


@functools.lru_cache(maxsize=64)
def _seed_words(seed: int) -> tuple[int, ...]:
    """The seed's words, padded to the pool (every stream has a spawn key)."""
    words = _words(seed)
    return tuple(words + [0] * (POOL_WORDS - len(words)))


def _entropy(seed: int, key: tuple[int, ...]) -> np.ndarray:
    """SeedSequence's entropy words for ``seed`` and the spawn key ``key``: the seed's, padded, then the key's."""
    key_words = [w for k in key for w in _words(int(k))]
    return np.array(_seed_words(seed) + tuple(key_words), dtype=np.uint64)


def _check_target(target: np.ndarray, n: int) -> None:
    """Refuse a buffer that is not ``n`` float32 in a row (the loops write n floats and check no index)."""
    if target.shape != (n,) or target.dtype != np.float32:
        raise ValueError(f"out holds {target.shape} {target.dtype} where {n} float32 uniforms go")


class CompiledKernels:
    """The numba backend (see :class:`sim.core.kernels.Kernels`)."""

    name = "compiled"

    @staticmethod
    def uniforms(seed: int, key: tuple[int, ...], n: int, out: np.ndarray | None = None) -> np.ndarray:
        """``n`` float32 uniforms: the 32-bit halves of ⌈n/2⌉ SFC64 words, low half first."""
        target = np.empty(n, dtype=np.float32) if out is None else out[:n]
        _check_target(target, n)
        _sfc64_uniforms(_entropy(seed, key), n, target)
        return target

    @staticmethod
    def uniforms_into(seed: int, keys: Sequence[tuple[int, ...]], outs: Sequence[np.ndarray]) -> None:
        """Fill each of ``outs`` with the uniforms of its key's stream, two streams at a time.

        One SFC64 stream's loop waits on its own recurrence (each word needs the last); two
        independent streams stepped in one loop overlap in the processor, so buffers of the
        same length (a chunk's draw chunks but a short last one, the same draw chunk of
        several streams) are drawn in pairs, in the order they come (4 streams of 65,536:
        145 against 219 µs one by one here, ``docs/speed.md``); a buffer left without a
        partner of its length is drawn alone, at the end. The bits are each stream's own.
        """
        if len(keys) != len(outs):
            raise ValueError(f"{len(keys)} keys for {len(outs)} buffers: one buffer a key")
        for target in outs:
            _check_target(target, target.size)
        entropies = [_entropy(seed, key) for key in keys]
        waiting: dict[int, int] = {}  # a length → the buffer of that length still without a partner
        for i, target in enumerate(outs):
            partner = waiting.pop(target.size, None)
            if partner is None:
                waiting[target.size] = i
            else:
                _sfc64_uniforms_pair(entropies[partner], entropies[i], target.size, outs[partner], target)
        for i in waiting.values():
            _sfc64_uniforms(entropies[i], outs[i].size, outs[i])

    @staticmethod
    def nonzero(mask: np.ndarray) -> np.ndarray:
        """Positions of the True entries: branch-free, or ``np.flatnonzero`` for sparse masks (and any but 1-D bool)."""
        count = int(np.count_nonzero(mask))
        if mask.dtype != np.bool_ or mask.ndim != 1 or count < mask.size * SPARSE_SHARE:
            return np.flatnonzero(mask)
        return _compact(mask, count)

    @staticmethod
    def relabel_and_count(
        chunk: RelabelArrays, acquired: np.ndarray, tenure: np.ndarray, *, day: int, life: LifecycleConfig
    ) -> np.ndarray:
        """σ, the rule and the flag in one pass; WAU and MAU in another; by stage and alive in numpy's (SIMD)."""
        _relabel(
            chunk.stage,
            acquired,
            tenure,
            chunk.last_visit_day,
            chunk.habit,
            chunk.flags,
            day,
            life.new_days,
            life.dormant_after_days,
            life.churned_after_days,
            np.float32(life.activated_habit),
            _LABELS,
            np.uint8(FLAG_EVER_ACTIVATED),
        )
        recent = _recently_active(chunk.last_visit_day, day, WAU_DAYS, MAU_DAYS)
        return np.array([*count_by_stage(chunk.stage), *recent, np.count_nonzero(chunk.alive)], dtype=np.int64)


#: The compiled backend, its loops compiled (or loaded from cache) here.
COMPILED_KERNELS = CompiledKernels()
COMPILED_KERNELS.uniforms(0, (0,), 3)
COMPILED_KERNELS.nonzero(np.ones(2, dtype=bool))
COMPILED_KERNELS.relabel_and_count(
    SimpleNamespace(
        stage=np.zeros(1, np.int8),
        last_visit_day=np.zeros(1, np.int16),
        habit=np.zeros(1, np.float32),
        flags=np.zeros(1, np.uint8),
        alive=np.zeros(1, bool),
    ),
    np.zeros(1, bool),
    np.zeros(1, np.int16),
    day=0,
    life=LifecycleConfig(),
)
