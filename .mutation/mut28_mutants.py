"""Hand-applied mutants of the kernels backends (numpy and compiled) and their wiring.

The twenty-eighth run (docs/mutation.md). Each mutant rewrites one exact snippet (which must
occur exactly once in its file), runs its group's tests with ``-x``, and restores the file with
``git checkout -- FILE`` (so commit, or lose, any change to the mutated files first). A mutant
of a compiled loop changes its source file, which makes numba compile it afresh.

Usage (from the worktree root)::

    PYTHONPATH=$PWD .venv/bin/python .mutation/mut28_mutants.py [ID ...]

Results go to .mutation/mut28_results.json and a table on stdout.
"""

from __future__ import annotations

import sys

from hand_mutants import run_mutants

COMPILED = "sim/core/compiled_kernels.py"
KERNELS = "sim/core/kernels.py"
MODEL = "sim/core/model.py"
CONFIG = "sim/app/config.py"
COMPLETION = "sim/output/completion.py"
PLAN = "sim/app/plan.py"
TIMEOUT_S = 900
TESTS = {
    "kernels": [["tests/test_kernels.py", "-m", "slow or not slow"]],
    "model": [["tests/test_kernels.py"], ["tests/test_threads.py"]],
    "plan": [["tests/test_plan.py", "-k", "settings_that_change_no_trial"]],
}
MUTANTS: list[tuple[str, str, str, str, str]] = [
    ("sfc_warmup", "kernels", COMPILED, "SFC64_WARMUP_STEPS = 12", "SFC64_WARMUP_STEPS = 11"),
    (
        "sfc_rotl_sub",
        "kernels",
        COMPILED,
        "c = ((c << s24) | (c >> s40)) + t\n        out[2 * j]",
        "c = ((c << s24) | (c >> s40)) - t\n        out[2 * j]",
    ),
    (
        "sfc_halves",
        "kernels",
        COMPILED,
        "out[2 * j] = np.float32((t & _LOW_32) >> s9) * _GRID",
        "out[2 * j] = np.float32(t >> (s32 + s9)) * _GRID",
    ),
    ("sfc_odd_le", "kernels", COMPILED, "if 2 * j + 1 < n:", "if 2 * j + 1 <= n:"),
    ("sfc_grid", "kernels", COMPILED, "_GRID = np.float32(2.0**-23)", "_GRID = np.float32(2.0**-24)"),
    ("seed_hash_shift", "kernels", COMPILED, "    return v ^ (v >> np.uint64(16)), h\n", "    return v, h\n"),
    ("seed_mix_shift", "kernels", COMPILED, "    return r ^ (r >> np.uint64(16))\n", "    return r\n"),
    ("seed_src_dst", "kernels", COMPILED, "            if src != dst:\n", "            if True:\n"),
    (
        "seed_rest_from",
        "kernels",
        COMPILED,
        "for src in range(POOL_WORDS, entropy.size):",
        "for src in range(POOL_WORDS + 1, entropy.size):",
    ),
    ("seed_init_b", "kernels", COMPILED, "    h = _INIT_B\n", "    h = _INIT_A\n"),
    (
        "seed_word_order",
        "kernels",
        COMPILED,
        "return words[0] | (words[1] << x32),",
        "return words[1] | (words[0] << x32),",
    ),
    (
        "seed_no_padding",
        "kernels",
        COMPILED,
        "return tuple(words + [0] * (POOL_WORDS - len(words)))",
        "return tuple(words)",
    ),
    ("seed_two_words", "kernels", COMPILED, "    while value:\n", "    if value:\n"),
    ("compact_position", "kernels", COMPILED, "        out[j] = i\n", "        out[j] = i + 1\n"),
    ("compact_advance", "kernels", COMPILED, "        j += mask[i]\n", "        j += 1\n"),
    ("compact_room", "kernels", COMPILED, "out = np.empty(count + 1, np.intp)", "out = np.empty(count, np.intp)"),
    (
        "relabel_new_le",
        "kernels",
        COMPILED,
        "if tenure[i] < new_days else label",
        "if tenure[i] <= new_days else label",
    ),
    (
        "relabel_dormant_gt",
        "kernels",
        COMPILED,
        "if silence >= dormant_after_days else label",
        "if silence > dormant_after_days else label",
    ),
    (
        "relabel_order",
        "kernels",
        COMPILED,
        "        label = np.int8(_DORMANT) if silence >= dormant_after_days else label\n"
        "        label = np.int8(_CHURNED) if silence >= churned_after_days else label\n",
        "        label = np.int8(_CHURNED) if silence >= churned_after_days else label\n"
        "        label = np.int8(_DORMANT) if silence >= dormant_after_days else label\n",
    ),
    (
        "relabel_habit_gt",
        "kernels",
        COMPILED,
        "if habit[i] >= activated_habit else",
        "if habit[i] > activated_habit else",
    ),
    ("relabel_all", "kernels", COMPILED, "code = label if acquired[i] else stage[i]", "code = label"),
    (
        "relabel_flag",
        "kernels",
        COMPILED,
        "ever_activated * np.uint8(code == _ACTIVATED)",
        "ever_activated * np.uint8(code == _NEW)",
    ),
    ("count_wau_le", "kernels", COMPILED, "np.int64(silence < WAU_DAYS)", "np.int64(silence <= WAU_DAYS)"),
    ("count_swap", "kernels", COMPILED, "    return wau, mau\n", "    return mau, wau\n"),
    (
        "count_alive",
        "kernels",
        COMPILED,
        "*recent, np.count_nonzero(chunk.alive)]",
        "*recent, np.count_nonzero(acquired)]",
    ),
    (
        "numpy_wau_le",
        "kernels",
        KERNELS,
        "np.count_nonzero(silence < WAU_DAYS)",
        "np.count_nonzero(silence <= WAU_DAYS)",
    ),
    (
        "load_auto",
        "kernels",
        KERNELS,
        'if mode == "numpy" or (mode == "auto" and not compiled_available()):',
        'if mode == "numpy":',
    ),
    (
        "load_unknown",
        "kernels",
        KERNELS,
        "    if mode not in KERNEL_MODES:\n",
        "    if False:\n",
    ),
    (
        "config_no_check",
        "kernels",
        CONFIG,
        'if cfg.kernels == "compiled" and not compiled_available():',
        "if False:",
    ),
    (
        "hash_kernels",
        "kernels",
        COMPLETION,
        'NOT_IN_HASH = ("progress", "threads", "parallel", "kernels")',
        'NOT_IN_HASH = ("progress", "threads", "parallel")',
    ),
    ("model_streams", "kernels", MODEL, "self.streams = Streams(seed, self.kernels)", "self.streams = Streams(seed)"),
    (
        "model_counts",
        "model",
        MODEL,
        "for name, count in zip(DAY_COUNTS, cd.counts.tolist(), strict=True):",
        "for name, count in zip(DAY_COUNTS, cd.counts.tolist()[::-1], strict=True):",
    ),
    (
        "model_live",
        "model",
        MODEL,
        "live = ch.nonzero(ch.alive)",
        "live = ch.nonzero(ch.stage >= Stage.NEW)",
    ),
    (
        "plan_legacy",
        "plan",
        PLAN,
        'RUN_KEYS_ADDED_SINCE_2026_11_30 = ("kernels",)',
        "RUN_KEYS_ADDED_SINCE_2026_11_30 = ()",
    ),
]


def main(ids: list[str]) -> None:
    """Run the mutants (all, or those named in ``ids``) with the shared runner (:mod:`hand_mutants`)."""
    run_mutants(MUTANTS, TESTS, "mut28_results.json", ids, timeout_s=TIMEOUT_S)


if __name__ == "__main__":
    main(sys.argv[1:])
