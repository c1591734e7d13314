"""Hand-applied mutants of this session's flush to zero, sparse visits and habit update, and machine_info.

The twenty-seventh run (docs/mutation.md). Each mutant rewrites one exact snippet (which must
occur exactly once in its file), runs its group's tests with ``-x``, and restores the file with
``git checkout -- FILE`` (so commit, or lose, any change to the mutated files first).

Usage (from the worktree root)::

    PYTHONPATH=$PWD .venv/bin/python .mutation/mut27_mutants.py [ID ...]

Results go to .mutation/mut27_results.json and a table on stdout.
"""

from __future__ import annotations

import sys

from hand_mutants import run_mutants

FLUSH = "sim/core/flush_to_zero.py"
VISITS = "sim/core/visits.py"
MODEL = "sim/core/model.py"
AGENT = "sim/core/agent.py"
PUSH = "sim/levers/push.py"
INCENTIVES = "sim/levers/incentives.py"
MACHINE = "benchmarks/machine_info.py"
TIMEOUT_S = 900
TESTS = {
    "flush": [["tests/test_flush_to_zero.py"]],
    "habit": [["tests/test_habit_update.py"], ["tests/test_flush_to_zero.py"], ["tests/test_known_answers.py"]],
    "visits": [["tests/test_threads.py"], ["tests/test_docking.py"], ["tests/test_known_answers.py"]],
    "machine": [["tests/test_machine_info.py"]],
}
MUTANTS: list[tuple[str, str, str, str, str]] = [
    ("ftz_margin", "flush", FLUSH, "< floor * BOUND_MARGIN", "< floor"),
    ("ftz_start0", "flush", FLUSH, "if start <= 0 or decay <= 0", "if decay <= 0"),
    ("ftz_decay1", "flush", FLUSH, "or decay >= 1:", "or decay > 1:"),
    ("ftz_day", "flush", FLUSH, "** (day + 1)", "** day"),
    ("ftz_ge", "flush", FLUSH, "values >= np.float32(floor)", "values > np.float32(floor)"),
    ("ftz_noop", "flush", FLUSH, "np.multiply(values, values >= np.float32(floor), out=values)", "pass"),
    ("ftz_square", "flush", FLUSH, "SQUARE_FLOOR = 2.0**-63", "SQUARE_FLOOR = 2.0**-62"),
    ("habit_share", "habit", VISITS, "if visitors.size < SPARSE", "if visitors.size <= SPARSE"),
    (
        "habit_order",
        "habit",
        VISITS,
        "        before = habit[visitors]\n        bump = g * (one - before) + d * before\n        habit *= one - d\n",
        "        habit *= one - d\n        before = habit[visitors]\n        bump = g * (one - before) + d * before\n",
    ),
    ("habit_dense_mask", "habit", VISITS, "        bump *= visited\n", ""),
    (
        "habit_flush_day",
        "habit",
        VISITS,
        "may_fall_below(gain, decay, day, FLOAT32_TINY)",
        "may_fall_below(gain, decay, 0, FLOAT32_TINY)",
    ),
    ("visits_le", "visits", MODEL, "came = cd.u_act[live] < v", "came = cd.u_act[live] <= v"),
    ("visits_no_stage", "visits", MODEL, "        live = live[ch.stage[live] >= Stage.NEW]\n", ""),
    (
        "visits_prob",
        "visits",
        MODEL,
        "purchases(vis_idx, cd.u_act, v[came],",
        "purchases(vis_idx, cd.u_act, v[came] * np.float32(1.5),",
    ),
    (
        "visits_mult",
        "visits",
        MODEL,
        "fx.visit if np.isscalar(fx.visit) else fx.visit[live],",
        "fx.visit if np.isscalar(fx.visit) else 1.0,",
    ),
    ("push_flush", "flush", PUSH, "            flush_below(fatigue, SQUARE_FLOOR)\n", "            pass\n"),
    ("push_floor", "flush", PUSH, "flush_below(fatigue, SQUARE_FLOOR)", "flush_below(fatigue, 2.0**-126)"),
    ("incentives_flush", "flush", INCENTIVES, "                flush_below(dep, FLOAT32_TINY)", "                pass"),
    ("agent_flush", "flush", AGENT, "            habit = np.float32(0.0)\n", "            pass\n"),
    ("push_floor_high", "flush", PUSH, "flush_below(fatigue, SQUARE_FLOOR)", "flush_below(fatigue, 2.0**-30)"),
    ("dep_floor_high", "flush", INCENTIVES, "flush_below(dep, FLOAT32_TINY)", "flush_below(dep, 2.0**-100)"),
    ("exact_gain_gt", "flush", FLUSH, "g >= MIN_GAIN_TO_FLUSH", "g > MIN_GAIN_TO_FLUSH"),
    ("exact_threshold_gt", "flush", FLUSH, "threshold >= FLOAT32_TINY", "threshold > FLOAT32_TINY"),
    ("exact_gain_zero", "flush", FLUSH, "(g == 0 or g >= MIN_GAIN_TO_FLUSH)", "(g >= MIN_GAIN_TO_FLUSH)"),
    (
        "exact_threshold_zero",
        "flush",
        FLUSH,
        "(threshold == 0 or threshold >= FLOAT32_TINY)",
        "(threshold >= FLOAT32_TINY)",
    ),
    (
        "exact_float32",
        "flush",
        FLUSH,
        "g, threshold = float(np.float32(gain)), float(np.float32(activated_habit))",
        "g, threshold = float(gain), float(activated_habit)",
    ),
    (
        "model_always_flush",
        "flush",
        MODEL,
        "self._flush_habit = habit_flush_is_exact(population.habit.gain, population.lifecycle.activated_habit)",
        "self._flush_habit = True",
    ),
    (
        "agent_always_flush",
        "flush",
        AGENT,
        "            and habit_flush_is_exact(cfg.gain, self.model.population_config.lifecycle.activated_habit)\n",
        "",
    ),
    (
        "machine_break",
        "machine",
        MACHINE,
        "        except OSError:\n            continue\n",
        "        except OSError:\n            break\n",
    ),
    (
        "machine_text_order",
        "machine",
        MACHINE,
        'sorted(CACHE_FOLDER.glob("index*"), key=_index_number)',
        'sorted(CACHE_FOLDER.glob("index*"))',
    ),
    ("machine_model", "machine", MACHINE, 'key.strip() == "model name"', 'key.strip().startswith("model")'),
    ("machine_icache", "machine", MACHINE, '            if kind == "Instruction":\n                continue\n', ""),
]


def main(ids: list[str]) -> None:
    """Run the mutants (all, or those named in ``ids``) with the shared runner (:mod:`hand_mutants`)."""
    run_mutants(MUTANTS, TESTS, "mut27_results.json", ids, timeout_s=TIMEOUT_S)


if __name__ == "__main__":
    main(sys.argv[1:])
