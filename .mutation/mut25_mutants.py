"""Hand-applied mutants of the sweep's ratio estimators, the code fingerprint and the planner's checks.

The twenty-fifth run (docs/mutation.md). Each mutant rewrites one exact snippet (which must
occur exactly once in its file), runs its group's tests with ``-x``, and restores the file with
``git checkout -- FILE`` (so commit, or lose, any change to the mutated files first).

Usage (from the worktree root)::

    PYTHONPATH=$PWD .venv/bin/python .mutation/mut25_mutants.py [ID ...]

Results go to .mutation/mut25_results.json and a table on stdout.
"""

from __future__ import annotations

import sys

from hand_mutants import run_mutants

STATS = "sim/analysis/stats.py"
SWEEP_STATS = "sim/analysis/sweep_stats.py"
COMPLETION = "sim/output/completion.py"
SWEEP = "sim/app/sweep.py"
PLAN_CONFIG = "sim/app/plan_config.py"
PLAN = "sim/app/plan.py"
TESTS = {
    "stats": [
        ["tests/test_sweep_stats.py", "tests/test_known_answers.py", "-k", "ratio or sweep or point or cac or clipped"]
    ],
    "completion": [["tests/test_completion.py"], ["tests/test_sweep.py", "-k", "code"]],
    "plan": [
        [
            "tests/test_plan.py",
            "-k",
            "marginal or planned or budget_below or low_bound or any_knob or opsim_run_or_sweep or another_plan "
            "or earlier_version or response_mode_splits or bad_plans or almost_nothing or exclusive_maximum "
            "or leaves_the_spend or per_period_budget or runs_meta or step_down or only_a_search",
        ]
    ],
}
TIMEOUT_S = 600

# (id, tests, file, old, new): one-snippet rewrites
MUTANTS: list[tuple[str, str, str, str, str]] = [
    # ratio_interval
    ("ri_ddof0", "stats", STATS, "residuals.std(ddof=1)", "residuals.std(ddof=0)"),
    (
        "ri_df_n-1",
        "stats",
        STATS,
        "t_half_width(residuals.std(ddof=1), n)",
        "t_half_width(residuals.std(ddof=1), n - 1)",
    ),
    ("ri_no_abs", "stats", STATS, "/ abs(float(x.mean()))", "/ float(x.mean())"),
    ("ri_sum_le0", "stats", STATS, "if n == 0 or x.sum() == 0:", "if n == 0 or x.sum() <= 0:"),
    ("ri_swap", "stats", STATS, "ratio = float(y.sum() / x.sum())", "ratio = float(x.sum() / y.sum())"),
    ("ri_resid_noR", "stats", STATS, "residuals = y - ratio * x", "residuals = y - x"),
    ("ri_keep_y_only", "stats", STATS, "keep = np.isfinite(y) & np.isfinite(x)", "keep = np.isfinite(y)"),
    # sweep_stats
    ("ss_roi_swap", "stats", SWEEP_STATS, '"roi": ("profit", "cost")', '"roi": ("cost", "profit")'),
    ("ss_no_positive", "stats", SWEEP_STATS, 'POSITIVE_RATIOS = ("cac",)', "POSITIVE_RATIOS = ()"),
    ("ss_den_ge0", "stats", SWEEP_STATS, "and denominator[paired].sum() > 0)", "and denominator[paired].sum() >= 0)"),
    (
        "ss_num_ge0",
        "stats",
        SWEEP_STATS,
        "not (numerator[paired].sum() > 0 and",
        "not (numerator[paired].sum() >= 0 and",
    ),
    ("ss_and_or", "stats", SWEEP_STATS, "> 0 and denominator[paired]", "> 0 or denominator[paired]"),
    (
        "ss_unpaired",
        "stats",
        SWEEP_STATS,
        "not (numerator[paired].sum() > 0 and denominator[paired].sum() > 0)",
        "not (numerator.sum() > 0 and denominator.sum() > 0)",
    ),
    ("ss_no_cac_bound", "stats", SWEEP_STATS, '    "cac": (0.0, np.inf),\n', ""),
    (
        "ss_no_hi_clip",
        "stats",
        SWEEP_STATS,
        'row[f"{m}_hi"] = float(np.clip(hi, low, high))',
        'row[f"{m}_hi"] = float(hi)',
    ),
    ("ss_no_payback_bound", "stats", SWEEP_STATS, '    "payback_day": (0.0, np.inf),\n', ""),
    # code fingerprint and its use
    ("cf_pycache", "completion", COMPLETION, "dirs[:] = [d for d in dirs if d not in NOT_CODE_DIRS]", "pass"),
    (
        "cf_nolinks",
        "completion",
        COMPLETION,
        "os.walk(package, followlinks=True)",
        "os.walk(package, followlinks=False)",
    ),
    ("cf_no_path", "completion", COMPLETION, 'digest.update(relative.encode() + b"\\0")', "pass"),
    ("cf_unsorted", "completion", COMPLETION, "for relative, path in sorted(", "for relative, path in list("),
    (
        "cc_none_ok",
        "completion",
        COMPLETION,
        "if code is not None and marker.get(CODE_KEY) != code:",
        "if code is not None and marker.get(CODE_KEY) not in (None, code):",
    ),
    (
        "rr_incomplete",
        "completion",
        SWEEP,
        "marker.get(completion.CODE_KEY) != code and completion.check_complete(job) is None",
        "marker.get(completion.CODE_KEY) != code",
    ),
    (
        "co_none_not_code",
        "completion",
        SWEEP,
        'return len({(completion.read_marker(root / job) or {}).get(completion.CODE_KEY) for job in jobs["job"]})',
        'return len({(completion.read_marker(root / job) or {}).get(completion.CODE_KEY) for job in jobs["job"]} - {None}) or 1',
    ),
    # plan_config: knob range, fixed spend
    ("kr_ge_le", "plan", PLAN_CONFIG, "if ge is not None and var.low < ge:", "if ge is not None and var.low <= ge:"),
    ("kr_le_ge", "plan", PLAN_CONFIG, "if le is not None and var.high > le:", "if le is not None and var.high >= le:"),
    ("kr_lt_gt", "plan", PLAN_CONFIG, "if lt is not None and var.high >= lt:", "if lt is not None and var.high > lt:"),
    ("fs_ge", "plan", PLAN_CONFIG, "if total > plan.budget:", "if total >= plan.budget:"),
    (
        "fs_no_lows",
        "plan",
        PLAN_CONFIG,
        "max(least.get(lever, fixed.get(lever, 0.0)), var.min_spend or 0.0)",
        "max(least.get(lever, 0.0), var.min_spend or 0.0)",
    ),
    (
        "fs_sum_not_max",
        "plan",
        PLAN_CONFIG,
        "max(least.get(lever, fixed.get(lever, 0.0)), var.min_spend or 0.0)",
        "least.get(lever, fixed.get(lever, 0.0)) + (var.min_spend or 0.0)",
    ),
    (
        "fs_resp_lt",
        "plan",
        PLAN_CONFIG,
        'if plan.mode == "response" and plan.budget - unplanned <= 0:',
        'if plan.mode == "response" and plan.budget - unplanned < 0:',
    ),
    ("sf_no_adstock", "plan", PLAN_CONFIG, '"adstock.", "saturation.", ', '"saturation.", '),
    (
        "pp_periods_m1",
        "plan",
        PLAN_CONFIG,
        "period_budgets=[var.low] * plan_periods(run, plan)",
        "period_budgets=[var.low] * (plan_periods(run, plan) - 1)",
    ),
    # plan: planned_budget, check_plan_folder, check_study, marginal_value
    (
        "pb_whole",
        "plan",
        PLAN,
        "return plan.budget - sum_in_order(unplanned_ad_spend(run, plan).values())",
        "return plan.budget",
    ),
    ("fr_no_meta", "plan", PLAN, '    "meta.json": "an opsim run",\n', ""),
    (
        "cs_any_mode",
        "plan",
        PLAN,
        '    if plan.mode == "search":\n        _existing_study(out, run, plan, readable=False)',
        "    if True:\n        _existing_study(out, run, plan, readable=False)",
    ),
    ("mv_no_low", "plan", PLAN, "else var.low + step * (top - var.low)", "else step * top"),
    ("mv_high_lt", "plan", PLAN, "if up <= var.high:", "if up < var.high:"),
    (
        "mv_no_plus1",
        "plan",
        PLAN,
        "up = float(max(round(up), v + 1)) if whole else up",
        "up = float(round(up)) if whole else up",
    ),
    (
        "mv_no_minus1",
        "plan",
        PLAN,
        "down = float(min(round(v * (1.0 - step)), v - 1)) if whole",
        "down = float(round(v * (1.0 - step))) if whole",
    ),
    ("mv_no_floor", "plan", PLAN, "return max(down, var.low)", "return down"),
    ("mv_top_high", "plan", PLAN, "top = search_high(run, plan, var)", "top = var.high"),
]


def main(ids: list[str]) -> None:
    """Run the mutants (all, or those named in ``ids``) with the shared runner (:mod:`hand_mutants`)."""
    run_mutants(MUTANTS, TESTS, "mut25_results.json", ids, timeout_s=TIMEOUT_S)


if __name__ == "__main__":
    main(sys.argv[1:])
