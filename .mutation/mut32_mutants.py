"""Hand-applied mutants of the uniforms paired wherever equal and a chunk's streams asked in one call.

CompiledKernels.uniforms_into (pairing by length), Streams.uniforms_into (day, draws),
Chunk.uniforms and Chunk.uniforms_of, and the model's three organic streams.

The thirty-second run (docs/mutation.md). Each mutant rewrites one exact snippet (which must
occur exactly once in its file), runs its group's tests with ``-x``, and restores the file
with ``git checkout -- FILE`` (so commit, or lose, any change to the mutated files first).

Usage (from the worktree root)::

    PYTHONPATH=$PWD .venv/bin/python .mutation/mut32_mutants.py [ID ...]

Results go to .mutation/mut32_results.json and a table on stdout.
"""

from __future__ import annotations

import sys

from hand_mutants import run_mutants

COMPILED = "sim/core/compiled_kernels.py"
RNG = "sim/core/rng.py"
HOOKS = "sim/core/hooks.py"
MODEL = "sim/core/model.py"
TIMEOUT_S = 900
TESTS = {
    "kernels": [["tests/test_kernels.py"]],
    "chunks": [
        ["tests/test_threads.py", "-k", "draw"],
        ["tests/test_kernels.py", "-k", "previous_release"],
        ["tests/test_threads.py"],
    ],
}
MUTANTS: list[tuple[str, str, str, str, str]] = [
    (
        "pair_partner_kept",
        "kernels",
        COMPILED,
        "partner = waiting.pop(target.size, None)",
        "partner = waiting.get(target.size)",
    ),
    ("pair_never_waits", "kernels", COMPILED, "waiting[target.size] = i", "pass"),
    (
        "pair_last_alone_dropped",
        "kernels",
        COMPILED,
        "for i in waiting.values():",
        "for i in list(waiting.values())[:-1]:",
    ),
    (
        "pair_buffers_swapped",
        "kernels",
        COMPILED,
        "target.size, outs[partner], target)",
        "target.size, target, outs[partner])",
    ),
    (
        "pair_any_length",
        "kernels",
        COMPILED,
        "partner = waiting.pop(target.size, None)",
        "partner = waiting.pop(next(iter(waiting), -1), None)",
    ),
    (
        "streams_day_and_chunk_swapped",
        "kernels",
        RNG,
        "(stream_id(stream), day, chunk) for stream, chunk, _out in draws",
        "(stream_id(stream), chunk, day) for stream, chunk, _out in draws",
    ),
    (
        "chunk_streams_reversed",
        "chunks",
        HOOKS,
        "for stream, out in zip(streams, outs, strict=True)",
        "for stream, out in zip(streams[::-1], outs, strict=True)",
    ),
    (
        "chunk_last_part_dropped",
        "chunks",
        HOOKS,
        "for k, first, stop in self.parts",
        "for k, first, stop in self.parts[:-1]",
    ),
    (
        "model_streams_swapped",
        "chunks",
        MODEL,
        "u_aware, u_act, u_surv = ch.uniforms_of(STREAMS)",
        "u_act, u_aware, u_surv = ch.uniforms_of(STREAMS)",
    ),
]


def main(ids: list[str]) -> None:
    """Run the mutants (all, or those named in ``ids``) with the shared runner (:mod:`hand_mutants`)."""
    run_mutants(MUTANTS, TESTS, "mut32_results.json", ids, timeout_s=TIMEOUT_S)


if __name__ == "__main__":
    main(sys.argv[1:])
