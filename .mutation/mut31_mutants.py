"""Hand-applied mutants of the compiled uniforms drawn two streams to a loop.

compiled_kernels (the step, the floats pass, the one- and two-stream loops, uniforms_into and
its checks), NumpyKernels.uniforms_into, Streams.uniforms_into and the chunk's draw
(hooks.Chunk.uniforms).

The thirty-first run (docs/mutation.md). Each mutant rewrites one exact snippet (which must
occur exactly once in its file), runs its group's tests with ``-x``, and restores the file
with ``git checkout -- FILE`` (so commit, or lose, any change to the mutated files first).

Usage (from the worktree root)::

    PYTHONPATH=$PWD .venv/bin/python .mutation/mut31_mutants.py [ID ...]

Results go to .mutation/mut31_results.json and a table on stdout.
"""

from __future__ import annotations

import sys

from hand_mutants import run_mutants

COMPILED = "sim/core/compiled_kernels.py"
KERNELS = "sim/core/kernels.py"
RNG = "sim/core/rng.py"
HOOKS = "sim/core/hooks.py"
TIMEOUT_S = 900
TESTS = {
    "kernels": [["tests/test_kernels.py"]],
    "chunks": [["tests/test_kernels.py", "-k", "previous_release"], ["tests/test_threads.py"]],
}
MUTANTS: list[tuple[str, str, str, str, str]] = [
    (
        "pair_one_entropy",
        "kernels",
        COMPILED,
        "a2, b2, c2 = _sfc64_state(other_entropy)",
        "a2, b2, c2 = _sfc64_state(entropy)",
    ),
    (
        "pair_shared_state",
        "kernels",
        COMPILED,
        "other_words[j], a2, b2, c2 = _sfc64_step(a2, b2, c2, w)",
        "other_words[j], a2, b2, c2 = _sfc64_step(a, b, c, w)",
    ),
    (
        "pair_other_not_warmed",
        "kernels",
        COMPILED,
        "        _t, a2, b2, c2 = _sfc64_step(a2, b2, c2, w)\n",
        "",
    ),
    ("floats_shift", "kernels", COMPILED, "halves[i] >> _MANTISSA_SHIFT", "halves[i] >> np.uint32(8)"),
    ("floats_short", "kernels", COMPILED, "    for i in range(n):\n", "    for i in range(n - 1):\n"),
    ("floats_signed", "kernels", COMPILED, "halves = words.view(np.uint32)", "halves = words.view(np.int32)"),
    ("step_rotation", "kernels", COMPILED, "(c >> np.uint64(40))", "(c >> np.uint64(41))"),
    (
        "one_words_short",
        "kernels",
        COMPILED,
        "    words = np.empty((n + 1) // 2, np.uint64)\n    for j",
        "    words = np.empty(n // 2, np.uint64)\n    for j",
    ),
    ("into_unequal_pairs", "kernels", COMPILED, "outs[i].size == outs[i + 1].size", "True"),
    (
        "into_never_pairs",
        "kernels",
        COMPILED,
        "if i + 1 < len(keys) and outs[i].size == outs[i + 1].size:",
        "if False:",
    ),
    ("into_second_again", "kernels", COMPILED, "                i += 2\n", "                i += 1\n"),
    (
        "into_unchecked",
        "kernels",
        COMPILED,
        "        for target in outs:\n            _check_target(target, target.size)\n",
        "",
    ),
    (
        "into_lengths_unchecked",
        "kernels",
        COMPILED,
        '            raise ValueError(f"{len(keys)} keys for {len(outs)} buffers: one buffer a key")\n        for target',
        "            pass\n        for target",
    ),
    (
        "numpy_into_short",
        "kernels",
        KERNELS,
        "NumpyKernels.uniforms(seed, key, out.size, out)",
        "NumpyKernels.uniforms(seed, key, out.size - 1, out)",
    ),
    (
        "numpy_into_lengths_unchecked",
        "kernels",
        KERNELS,
        '            raise ValueError(f"{len(keys)} keys for {len(outs)} buffers: one buffer a key")\n        for key',
        "            pass\n        for key",
    ),
    (
        "streams_into_key_order",
        "kernels",
        RNG,
        "[(key, day, chunk) for chunk in chunks]",
        "[(key, chunk, day) for chunk in chunks]",
    ),
    (
        "chunk_first_draw_chunk",
        "chunks",
        HOOKS,
        "[k for k, _first, _stop in self.parts]",
        "[self.parts[0][0] for _ in self.parts]",
    ),
    (
        "chunk_whole_buffers",
        "chunks",
        HOOKS,
        "[out[first:stop] for _k, first, stop in self.parts]",
        "[out[first:] for _k, first, stop in self.parts]",
    ),
]


def main(ids: list[str]) -> None:
    """Run the mutants (all, or those named in ``ids``) with the shared runner (:mod:`hand_mutants`)."""
    run_mutants(MUTANTS, TESTS, "mut31_results.json", ids, timeout_s=TIMEOUT_S)


if __name__ == "__main__":
    main(sys.argv[1:])
