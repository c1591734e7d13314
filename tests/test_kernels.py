"""The kernels backends (sim.core.kernels): numpy and compiled give the same bits.

Known answers come from an independent pure-Python SFC64 written from its published
recurrence (the compiled module's docstring), not from either backend; the model's
results with either backend are compared with the previous release's fingerprints.
"""

from __future__ import annotations

import itertools
import json
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from release_fingerprint import MODEL_CASES, model_fingerprint

from sim.app.config import load_config
from sim.base.errors import ConfigError
from sim.core import kernels as kernels_module
from sim.core.daily_log import DAY_COUNTS
from sim.core.kernels import KERNEL_MODES, NUMPY_KERNELS, load_kernels
from sim.core.lifecycle import STAGE_NAMES, LifecycleConfig
from sim.core.rng import Streams

compiled_kernels = pytest.importorskip("sim.core.compiled_kernels")  # numba: in the dev extra
COMPILED = compiled_kernels.COMPILED_KERNELS
BACKENDS = [NUMPY_KERNELS, COMPILED]
MASK64 = (1 << 64) - 1
RELEASE = json.loads((Path(__file__).parent / "data" / "release_fingerprints.json").read_text())


def sfc64_words(seed_words: list[int], count: int) -> list[int]:
    """SFC64 by its recurrence, in Python integers modulo 2^64 (seeded: w = 1, 12 steps discarded)."""
    a, b, c = seed_words
    w = 1
    out = []
    for step in range(12 + count):
        t = (a + b + w) & MASK64
        w += 1
        a = b ^ (b >> 11)
        b = (c + (c << 3)) & MASK64
        c = (((c << 24) | (c >> 40)) + t) & MASK64
        if step >= 12:
            out.append(t)
    return out


def expected_uniforms(seed: int, key: tuple[int, ...], n: int) -> list[float]:
    """Uniform 2j is k·2^-23 with k the top 23 bits of word j's low half; 2j + 1 the same of its high half."""
    seq = np.random.SeedSequence(seed, spawn_key=key)
    words = sfc64_words([int(x) for x in seq.generate_state(3, np.uint64)], (n + 1) // 2)
    halves = [half for word in words for half in (word & 0xFFFFFFFF, word >> 32)]
    return [(half >> 9) * 2.0**-23 for half in halves[:n]]


@pytest.mark.parametrize("kernels", BACKENDS, ids=lambda k: k.name)
@pytest.mark.parametrize("n", [1, 2, 3, 8, 9])
def test_uniforms_are_the_top_23_bits_of_each_sfc64_half(kernels, n):
    key = (zlib.crc32(b"activity"), 4, 2)
    got = kernels.uniforms(11, key, n)
    assert got.dtype == np.float32
    assert got.tolist() == expected_uniforms(11, key, n)


def test_the_python_sfc64_is_numpys():
    """The reference above is numpy's SFC64 (so the known answers are the contract's draws)."""
    seq = np.random.SeedSequence(5, spawn_key=(1, 2, 3))
    assert sfc64_words([int(x) for x in seq.generate_state(3, np.uint64)], 5) == [
        int(x) for x in np.random.SFC64(seq).random_raw(5)
    ]


@pytest.mark.parametrize("n", [1, 2, 65_535, 65_536])
@pytest.mark.parametrize("key", [(0, 0, 0), (zlib.crc32(b"survival"), 364, 15)])
def test_compiled_uniforms_have_numpys_bits(n, key):
    expected = NUMPY_KERNELS.uniforms(2**40 + 7, key, n)
    got = COMPILED.uniforms(2**40 + 7, key, n)
    assert np.array_equal(got.view(np.uint32), expected.view(np.uint32))


#: Seeds of one to several 32-bit words, either side of the pool's 4 words (2^128) and of a word.
SEEDS = st.one_of(
    st.sampled_from([0, 1, 2**32 - 1, 2**32, 2**96 - 1, 2**96, 2**128 - 1, 2**128]),
    st.integers(min_value=0, max_value=2**200),
)
KEY_WORDS = st.one_of(st.sampled_from([0, 1, 2**32 - 1, 2**32]), st.integers(min_value=0, max_value=2**70))


@settings(max_examples=300, deadline=None)
@given(seed=SEEDS, key=st.lists(KEY_WORDS, max_size=5).map(tuple), n=st.integers(min_value=1, max_value=70))
def test_compiled_seeding_is_numpys_seed_sequence(seed, key, n):
    """The compiled SeedSequence mixing against numpy's: long seeds, empty and long keys, words of 2^32 and more."""
    assert COMPILED.uniforms(seed, key, n).tolist() == expected_uniforms(seed, key, n)


@pytest.mark.parametrize("kernels", BACKENDS, ids=lambda k: k.name)
def test_uniforms_fill_the_given_buffer_and_leave_the_rest(kernels):
    out = np.full(10, -1.0, dtype=np.float32)
    got = kernels.uniforms(3, (1, 2), 7, out)
    assert np.shares_memory(got, out)
    assert out[:7].tolist() == expected_uniforms(3, (1, 2), 7)
    assert out[7:].tolist() == [-1.0] * 3


#: Buffer lengths of consecutive keys: equal pairs (even and odd n), a pair then one left, lengths that
#: differ (no pair: a short last draw chunk), one key, none.
INTO_SIZES = [[4, 4], [3, 3], [5, 5, 5], [5, 5, 2], [6, 5], [2, 7, 7], [1], []]


@pytest.mark.parametrize("kernels", BACKENDS, ids=lambda k: k.name)
@pytest.mark.parametrize("sizes", INTO_SIZES, ids=str)
def test_uniforms_into_fills_each_buffer_with_its_own_keys_stream(kernels, sizes):
    """Each buffer gets its key's draws (the pure-Python SFC64), whether its stream was paired or drawn alone."""
    keys = [(zlib.crc32(b"push"), 9, chunk) for chunk in range(len(sizes))]
    keys[-1:] = [(2**40 + 3, 9, len(sizes))] if sizes else []  # a key word over 2^32: a longer entropy
    whole = np.full(sum(sizes) + 1, -1.0, dtype=np.float32)
    bounds = np.cumsum([0, *sizes])
    outs = [whole[lo:hi] for lo, hi in itertools.pairwise(bounds)]
    kernels.uniforms_into(5, keys, outs)
    for key, out in zip(keys, outs, strict=True):
        assert out.tolist() == expected_uniforms(5, key, out.size), key
    assert whole[-1] == -1.0  # nothing written past the buffers


@pytest.mark.parametrize("kernels", BACKENDS, ids=lambda k: k.name)
def test_uniforms_into_refuses_keys_and_buffers_that_do_not_match(kernels):
    with pytest.raises(ValueError, match="2 keys for 1 buffers: one buffer a key"):
        kernels.uniforms_into(1, [(1,), (2,)], [np.empty(3, np.float32)])


def test_compiled_uniforms_into_refuses_a_buffer_that_is_not_float32():
    with pytest.raises(ValueError, match=r"out holds \(3,\) float64 where 3 float32 uniforms go"):
        COMPILED.uniforms_into(1, [(1,)], [np.empty(3)])


def test_compiled_uniforms_into_draws_equal_buffers_in_pairs(monkeypatch):
    """Buffers of one length go to the two-stream loop in pairs as they come, the odd ones out alone at the end.

    Which buffers each call gets is checked by the keys' words (each key here is its buffer's index);
    the values by the tests above; the speed by ``benchmarks/bench_uniforms.py``.
    """
    calls = []
    pair, one = compiled_kernels._sfc64_uniforms_pair, compiled_kernels._sfc64_uniforms
    last_word = -1  # each entropy's last word is its key, the buffer's index

    def spy_pair(entropy, other, *rest):
        calls.append(("pair", int(entropy[last_word]), int(other[last_word])))
        pair(entropy, other, *rest)

    def spy_one(entropy, *rest):
        calls.append(("one", int(entropy[last_word])))
        one(entropy, *rest)

    monkeypatch.setattr(compiled_kernels, "_sfc64_uniforms_pair", spy_pair)
    monkeypatch.setattr(compiled_kernels, "_sfc64_uniforms", spy_one)
    sizes = [4, 2, 4, 3, 4, 4, 3, 3, 5]
    COMPILED.uniforms_into(2, [(k,) for k in range(len(sizes))], [np.empty(n, np.float32) for n in sizes])
    assert calls == [("pair", 0, 2), ("pair", 4, 5), ("pair", 3, 6), ("one", 1), ("one", 7), ("one", 8)]


@pytest.mark.parametrize("kernels", BACKENDS, ids=lambda k: k.name)
def test_streams_draw_each_stream_and_chunk_into_its_buffer_as_one_by_one(kernels):
    streams = Streams(9, kernels)
    draws = [("survival", 3, np.empty(6, np.float32)), ("survival", 4, np.empty(4, np.float32))]
    draws += [("activity", 3, np.empty(6, np.float32)), ("activity", 4, np.empty(4, np.float32))]
    streams.uniforms_into(12, draws)
    for stream, chunk, out in draws:
        assert out.tolist() == expected_uniforms(9, (zlib.crc32(stream.encode()), 12, chunk), out.size)


@pytest.mark.parametrize("kernels", BACKENDS, ids=lambda k: k.name)
def test_streams_draw_through_the_kernels_they_are_given(kernels):
    streams = Streams(9, kernels)
    assert streams.uniforms("awareness", 3, 1, 5).tolist() == expected_uniforms(9, (zlib.crc32(b"awareness"), 3, 1), 5)


def _mask(n: int, true_at: list[int]) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[true_at] = True
    return mask


N_MASK = 64 * 100  # SPARSE_SHARE = 1/64: 100 True entries is the first count the loop takes


@pytest.mark.parametrize("kernels", BACKENDS, ids=lambda k: k.name)
@pytest.mark.parametrize("count", [0, 1, 99, 100, 101, 3200, N_MASK - 1, N_MASK])
def test_nonzero_is_the_ascending_true_positions_on_both_sides_of_the_sparse_share(kernels, count):
    true_at = sorted(np.random.default_rng(count).choice(N_MASK, size=count, replace=False).tolist())
    got = kernels.nonzero(_mask(N_MASK, true_at))
    assert got.dtype == np.intp
    assert got.tolist() == true_at


@pytest.mark.parametrize("kernels", BACKENDS, ids=lambda k: k.name)
@pytest.mark.parametrize("true_at", [[0], [4], [0, 4], [1, 2, 3]])
def test_nonzero_at_the_ends_of_a_short_mask(kernels, true_at):
    assert kernels.nonzero(_mask(5, true_at)).tolist() == true_at


def test_compiled_nonzero_of_a_strided_view():
    mask = np.zeros(40, dtype=bool)
    mask[[2, 3, 10, 38]] = True
    assert COMPILED.nonzero(mask[::2]).tolist() == [1, 5, 19]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.booleans(), max_size=300))
def test_compiled_nonzero_equals_flatnonzero(values):
    mask = np.array(values, dtype=bool)
    assert COMPILED.nonzero(mask).tolist() == np.flatnonzero(mask).tolist()


def test_load_kernels_by_mode():
    assert load_kernels("numpy") is NUMPY_KERNELS
    assert load_kernels("compiled") is COMPILED
    assert load_kernels("auto") is COMPILED  # numba is installed here


def test_without_numba_auto_is_numpy_and_compiled_is_refused(monkeypatch):
    monkeypatch.setattr(kernels_module, "compiled_available", lambda: False)
    assert load_kernels("auto") is NUMPY_KERNELS
    with pytest.raises(ValueError, match=r"kernels='compiled' needs numba.*pip install 'opsim\[compiled\]'"):
        load_kernels("compiled")


def test_an_unknown_mode_is_refused_with_the_modes():
    with pytest.raises(ValueError, match="kernels='fast' is not allowed: one of auto, numpy, compiled"):
        load_kernels("fast")
    assert KERNEL_MODES == ("auto", "numpy", "compiled")


def test_config_refuses_an_unknown_mode_naming_the_key():
    with pytest.raises(ConfigError) as err:
        load_config(["kernels=fast"])
    assert err.value.key == "kernels"
    assert err.value.value == "fast"


def test_config_refuses_compiled_without_numba(monkeypatch):
    monkeypatch.setattr("sim.app.config.compiled_available", lambda: False)
    with pytest.raises(ConfigError) as err:
        load_config(["kernels=compiled"])
    assert err.value.key == "kernels"
    assert "numba is not installed" in err.value.allowed
    assert load_config(["kernels=numpy"]).kernels == "numpy"


@pytest.mark.parametrize("kernels", ["numpy", "compiled"])
@pytest.mark.parametrize("name", ["organic", "balanced_mix"])
def test_stepped_results_with_either_backend_equal_the_previous_release(name, kernels):
    assert model_fingerprint(MODEL_CASES[name], threads=1, kernels=kernels) == RELEASE[f"model/{name}"]


@pytest.mark.parametrize("parallel", ["threads", "processes"])
def test_compiled_kernels_in_threads_and_worker_processes_equal_the_previous_release(parallel):
    values = MODEL_CASES["activation_push"]
    assert (
        model_fingerprint(values, threads=2, parallel=parallel, kernels="compiled") == RELEASE["model/activation_push"]
    )


def _relabel_case(day: int, rows: list[tuple[int, int, int, float, int, bool]]):
    """A chunk from rows of (stage, acquired day, last visit day, habit, flags, alive) (-20000: never)."""
    stage, acquired_day, last_visit, habit, flags, alive = (np.array(col) for col in zip(*rows, strict=True))
    chunk = SimpleNamespace(
        stage=stage.astype(np.int8),
        last_visit_day=last_visit.astype(np.int16),
        habit=habit.astype(np.float32),
        flags=flags.astype(np.uint8),
        alive=alive.astype(bool),
    )
    acquired_day = acquired_day.astype(np.int16)
    return chunk, acquired_day >= 0, np.int16(day) - acquired_day


NEVER = -20000
LIFE = LifecycleConfig(new_days=7, dormant_after_days=7, churned_after_days=30, activated_habit=0.5)
#: Day 100; each row a boundary: tenure 6/7 (new_days 7), silence 6/7 (dormant), 29/30 (churned),
#: habit just below / at 0.5, never acquired (left as it is), flags already set.
RELABEL_ROWS = [
    (2, 94, 100, 0.9, 0, True),  # tenure 6 < 7: NEW
    (2, 93, 100, 0.9, 0, True),  # tenure 7, habit 0.9: ACTIVATED (flag 16 set)
    (3, 50, 94, 0.49999997, 0, False),  # silence 6, habit below 0.5: RETAINED
    (4, 50, 93, 0.5, 1, True),  # silence 7: DORMANT (flags kept: 1)
    (5, 50, 71, 0.5, 0, False),  # silence 29: DORMANT
    (5, 50, 70, 0.5, 16, True),  # silence 30: CHURNED
    (0, NEVER, NEVER, 0.0, 0, False),  # never aware: UNAWARE, silence 20,100
    (1, NEVER, NEVER, 0.0, 4, False),  # aware, never acquired: AWARE
    (3, 90, 99, 0.5, 0, True),  # tenure 10, silence 1, habit exactly 0.5: ACTIVATED
]
RELABELLED = [2, 4, 3, 5, 5, 6, 0, 1, 4]
FLAGGED = [0, 16, 0, 1, 0, 16, 0, 4, 16]
# unaware, aware, new, retained, activated, dormant, churned; WAU (silence < 7): rows 0, 1, 2, 8;
# MAU (< 30): rows 0-4 and 8; alive: rows 0, 1, 3, 5, 8.
COUNTED = [1, 1, 1, 1, 2, 2, 1, 4, 6, 5]


@pytest.mark.parametrize("kernels", BACKENDS, ids=lambda k: k.name)
def test_relabel_and_count_at_each_threshold(kernels):
    chunk, acquired, tenure = _relabel_case(100, RELABEL_ROWS)
    counts = kernels.relabel_and_count(chunk, acquired, tenure, day=100, life=LIFE)
    assert chunk.stage.tolist() == RELABELLED
    assert chunk.flags.tolist() == FLAGGED
    assert counts.tolist() == COUNTED
    assert DAY_COUNTS == (*STAGE_NAMES, "wau", "mau", "latent_alive")


@settings(max_examples=100, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    n=st.integers(min_value=1, max_value=600),
    day=st.integers(min_value=0, max_value=3650),
    new_days=st.integers(min_value=1, max_value=40),
    dormant=st.integers(min_value=1, max_value=40),
    churned=st.integers(min_value=1, max_value=40),
    activated=st.floats(min_value=0.0, max_value=1.0),
)
def test_compiled_relabel_and_count_equals_numpys(seed, n, day, new_days, dormant, churned, activated):
    """Random chunks and thresholds (churned below dormant too): the same stages, flags and counts."""
    rng = np.random.default_rng(seed)
    acquired_day = np.where(rng.random(n) < 0.6, rng.integers(0, day + 1, n), NEVER)
    last_visit = np.where(acquired_day >= 0, np.minimum(day, acquired_day + rng.integers(0, 60, n)), NEVER)
    rows = list(
        zip(
            rng.integers(0, 7, n).tolist(),
            acquired_day.tolist(),
            last_visit.tolist(),
            rng.choice([0.0, activated, np.nextafter(np.float32(activated), np.float32(0)), 1.0], n).tolist(),
            rng.integers(0, 256, n).tolist(),
            (rng.random(n) < 0.3).tolist(),
            strict=True,
        )
    )
    life = LifecycleConfig(
        new_days=new_days, dormant_after_days=dormant, churned_after_days=churned, activated_habit=activated
    )
    results = []
    for kernels in BACKENDS:
        chunk, acquired, tenure = _relabel_case(day, rows)
        counts = kernels.relabel_and_count(chunk, acquired, tenure, day=day, life=life)
        results.append((chunk.stage.tolist(), chunk.flags.tolist(), counts.tolist()))
    assert results[0] == results[1]


def test_a_model_steps_with_the_backend_its_config_names():
    from sim import UserLifecycleModel

    for mode, backend in (("numpy", NUMPY_KERNELS), ("compiled", COMPILED), ("auto", COMPILED)):
        model = UserLifecycleModel({"population.market_size": 1000, "horizon_days": 2, "kernels": mode})
        assert model.kernels is backend
        assert model.streams.kernels is backend  # the uniforms, and each chunk's nonzero, go through it
        model.close()


def test_the_backend_is_in_no_hash_a_resume_checks():
    """Either backend gives the same result files: a rerun with the other finds the finished run or job."""
    from sim.app.sweep import overrides_hash
    from sim.output.completion import config_hash

    assert config_hash(load_config(["kernels=numpy"])) == config_hash(load_config(["kernels=compiled"]))
    assert overrides_hash(["seed=1", "kernels=numpy"]) == overrides_hash(["seed=1"])


BOUNDS_CHECK = """
import numpy as np
from sim.core.compiled_kernels import COMPILED_KERNELS as k
for n in range(1, 6):
    k.uniforms(1, (2, 3), n)
    k.uniforms(1, (2, 3), n, np.empty(n, np.float32))
for n in (1, 2, 5, 64, 65):
    for true_at in ([], [0], [n - 1], list(range(n))):
        mask = np.zeros(n, bool)
        mask[true_at] = True
        assert k.nonzero(mask).tolist() == true_at
print("in bounds")
"""


@pytest.mark.slow
def test_compiled_kernels_stay_in_bounds_with_numba_checking_every_index(tmp_path):
    """Compiled loops do not check indices: here numba does (NUMBA_BOUNDSCHECK=1), at odd and even lengths.

    Slow: the loops compile afresh with the checks (numba's cache holds them apart).
    """
    import os
    import subprocess
    import sys

    env = {**os.environ, "NUMBA_BOUNDSCHECK": "1", "NUMBA_CACHE_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", BOUNDS_CHECK], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "in bounds"


def test_auto_takes_numpy_with_a_warning_where_numba_is_installed_but_cannot_be_loaded(monkeypatch):
    import sys

    monkeypatch.setattr(kernels_module, "compiled_available", lambda: True)
    monkeypatch.setitem(sys.modules, "sim.core.compiled_kernels", None)  # its import raises ImportError
    with pytest.warns(UserWarning, match="kernels=auto steps with numpy: numba is installed but cannot be loaded"):
        assert load_kernels("auto") is NUMPY_KERNELS
    with pytest.raises(ValueError, match=r"kernels='compiled' cannot load numba .*kernels=numpy steps without it"):
        load_kernels("compiled")


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int64, np.float32])
def test_compiled_nonzero_of_a_mask_that_is_not_bool_is_numpys(dtype):
    """A lever may hand a 0/1/3 array: the branch-free loop would count 3 as three (numpy's path takes it)."""
    mask = np.zeros(640, dtype=dtype)
    mask[[0, 5, 639]] = [3, 1, 2]
    mask[100:200] = 1  # above the sparse share
    assert COMPILED.nonzero(mask).tolist() == np.flatnonzero(mask).tolist()
    assert COMPILED.nonzero(mask.reshape(64, 10)).tolist() == np.flatnonzero(mask).tolist()


@pytest.mark.parametrize("kernels", BACKENDS, ids=lambda k: k.name)
def test_uniforms_refuse_a_buffer_too_short(kernels):
    with pytest.raises(ValueError):
        kernels.uniforms(1, (2,), 5, np.empty(4, dtype=np.float32))


@pytest.mark.parametrize("kernels", BACKENDS, ids=lambda k: k.name)
def test_uniforms_refuse_a_negative_key_as_seed_sequence_does(kernels):
    with pytest.raises(ValueError, match="non-negative"):
        kernels.uniforms(1, (2, -1), 5)
    assert kernels.uniforms(1, (np.uint32(7), np.int64(2**40)), 3).tolist() == expected_uniforms(1, (7, 2**40), 3)


@pytest.mark.parametrize("parallel", ["threads", "processes"])
def test_numpy_kernels_in_threads_and_worker_processes_equal_the_previous_release(parallel):
    """The rest of the suite steps with the compiled kernels where numba is installed: numpy's path here."""
    values = MODEL_CASES["balanced_mix"]
    assert model_fingerprint(values, threads=3, parallel=parallel, kernels="numpy") == RELEASE["model/balanced_mix"]
