"""Hand-applied mutants of the LTV tail code (sim/analysis/economics.py and its constants).

Each mutant rewrites one exact snippet (which must occur exactly once in its file), runs the
primary test files with a timeout, and, if they pass, the secondary (integration) tests; then
restores the file with ``git checkout -- FILE`` (so commit, or lose, any change to the mutated
files first). Killed mutants are listed with the first failing test.

Usage (from the worktree root)::

    PYTHONPATH=$PWD .venv/bin/python .mutation/ltv_mutants.py [ID ...]

Results go to .mutation/results.json and a table on stdout.
"""

from __future__ import annotations

import sys

from hand_mutants import run_mutants

ECON = "sim/analysis/economics.py"
RET = "sim/analysis/retention.py"
SFIT = "sim/analysis/survival_fit.py"
PRIMARY = ["tests/test_mutants_economics.py", "tests/test_known_answers.py", "tests/test_economics.py"]
SECONDARY = [["tests/test_analytics.py"], ["tests/test_threads.py", "-k", "whole_run_summary and threads"]]
TIMEOUT_S = 300

# (id, file, old, new): one-snippet rewrites
MUTANTS: list[tuple] = [
    # _scaled_sbg
    ("sbg_sign", ECON, "betaln(a, b + n) - betaln(a, b))", "betaln(a, b + n) + betaln(a, b))"),
    ("sbg_swap_ab", ECON, "a, b = np.exp(log_a), np.exp(log_b)", "a, b = np.exp(log_b), np.exp(log_a)"),
    # fit_retention_tail
    ("fit_day0", ECON, "ok = np.isfinite(curve) & (n >= 1)", "ok = np.isfinite(curve) & (n >= 0)"),
    ("fit_day2", ECON, "ok = np.isfinite(curve) & (n >= 1)", "ok = np.isfinite(curve) & (n > 1)"),
    ("fit_nofinite", ECON, "ok = np.isfinite(curve) & (n >= 1)", "ok = n >= 1"),
    ("fit_min2", ECON, "if ok.sum() < 3:", "if ok.sum() < 2:"),
    ("fit_min4", ECON, "if ok.sum() < 3:", "if ok.sum() <= 3:"),
    ("fit_few_ones", ECON, "lambda m: np.zeros_like(m, float)\n", "lambda m: np.ones_like(m, float)\n"),
    ("fit_last_first", ECON, "last = float(curve[ok][-1])", "last = float(curve[ok][0])"),
    ("fit_alpha_log", ECON, '"alpha": float(np.exp(la))', '"alpha": float(la)'),
    (
        "fit_curve_swap",
        ECON,
        "_scaled_sbg(np.asarray(m, float), s, la, lb)",
        "_scaled_sbg(np.asarray(m, float), s, lb, la)",
    ),
    # survival_tail
    ("st_max_last", ECON, "last = min(LONG_TERM_DAYS,", "last = max(LONG_TERM_DAYS,"),
    ("st_periods_default", ECON, 'fit.get("periods_fitted", LONG_TERM_DAYS)', 'fit.get("periods_fitted", 0)'),
    (
        "st_curve_slice",
        ECON,
        "ok = np.isfinite(retention_curve[: last + 1])",
        "ok = np.isfinite(retention_curve[:last])",
    ),
    ("st_users_gt", ECON, "ok &= users[: last + 1] >= min_users", "ok &= users[: last + 1] > min_users"),
    ("st_users_drop", ECON, "ok &= users[: last + 1] >= min_users", "pass"),
    ("st_day0", ECON, "finite = finite[finite >= 1]", "finite = finite[finite >= 0]"),
    ("st_day2", ECON, "finite = finite[finite >= 1]", "finite = finite[finite > 1]"),
    ("st_anchor_first", ECON, "anchor = int(finite[-1])", "anchor = int(finite[0])"),
    (
        "st_c_anchor",
        ECON,
        'survival_curve(np.array([anchor]), p["a"], p["b"], p.get("c", 1.0))',
        'survival_curve(np.array([anchor]), p["a"], p["b"], p.get("c", 0.9))',
    ),
    (
        "st_c_curve",
        ECON,
        'level * survival_curve(m, p["a"], p["b"], p.get("c", 1.0))',
        'level * survival_curve(m, p["a"], p["b"], p.get("c", 0.9))',
    ),
    ("st_div_mul", ECON, 'p.get("c", 1.0)) / s_anchor', 'p.get("c", 1.0)) * s_anchor'),
    ("st_inside_lt", ECON, "inside = m <= anchor", "inside = m < anchor"),
    ("st_inside_le1", ECON, "inside = m <= anchor", "inside = m <= anchor + 1"),
    ("st_only_projected", ECON, "return np.where(np.isfinite(observed), observed, projected)", "return projected"),
    (
        "st_none_ones",
        ECON,
        'return {"model": "none"}, lambda m: np.zeros_like(np.asarray(m, float))',
        'return {"model": "none"}, lambda m: np.ones_like(np.asarray(m, float))',
    ),
    ("st_level_prev", ECON, "level = float(retention_curve[anchor])", "level = float(retention_curve[anchor - 1])"),
    # ltv
    (
        "ltv_users_gt",
        ECON,
        "& (users[: retention_curve.size] >= min_users)\n",
        "& (users[: retention_curve.size] > min_users)\n",
    ),
    (
        "ltv_ls_unmasked",
        ECON,
        "fit_retention_tail(np.where(rests, retention_curve, np.nan))",
        "fit_retention_tail(retention_curve)",
    ),
    (
        "ltv_ls_mask_day0",
        ECON,
        "fit_retention_tail(np.where(rests, retention_curve, np.nan))",
        "fit_retention_tail(np.where(rests | (np.arange(rests.size) > 0), retention_curve, np.nan))",
    ),
    ("ltv_usable_day0", ECON, "usable = usable[usable >= 1]", "usable = usable[usable >= 0]"),
    ("ltv_usable_day2", ECON, "usable = usable[usable >= 1]", "usable = usable[usable > 1]"),
    (
        "ltv_extent_first",
        ECON,
        "extent = int(usable[-1]) if usable.size else 0",
        "extent = int(usable[0]) if usable.size else 0",
    ),
    (
        "ltv_extent_else1",
        ECON,
        "extent = int(usable[-1]) if usable.size else 0",
        "extent = int(usable[-1]) if usable.size else 1",
    ),
    (
        "ltv_anchor_default1",
        ECON,
        'anchor = int(params.get("anchor_day", 0))',
        'anchor = int(params.get("anchor_day", 1))',
    ),
    ("ltv_ls_anchor0", ECON, "        anchor = extent\n", "        anchor = 0\n"),
    (
        "ltv_st_no_filter",
        ECON,
        "survival_tail(retention_curve, survival_fit, users, min_users)",
        "survival_tail(retention_curve, survival_fit)",
    ),
    (
        "ltv_needed_le",
        ECON,
        "needed = bool(((first_unobserved < ltv_days) & (sizes > 0)).any())",
        "needed = bool(((first_unobserved <= ltv_days) & (sizes > 0)).any())",
    ),
    (
        "ltv_needed_nosizes",
        ECON,
        "needed = bool(((first_unobserved < ltv_days) & (sizes > 0)).any())",
        "needed = bool((first_unobserved < ltv_days).any())",
    ),
    ("ltv_needed_always", ECON, "max_extrapolation) if needed else None", "max_extrapolation)"),
    (
        "ltv_first_unobs_max",
        ECON,
        "first_unobserved = np.minimum(horizon - np.arange(horizon), ltv_days)",
        "first_unobserved = np.maximum(horizon - np.arange(horizon), ltv_days)",
    ),
    ("ltv_projected_flag", ECON, '"tail_projected": reason is None,', '"tail_projected": reason is not None,'),
    ("ltv_rests_anchor", ECON, '"rests_on_days": extent,', '"rests_on_days": anchor,'),
    ("ltv_no_early_return", ECON, "    if reason is not None:\n        return out\n", "    pass\n"),
    ("eval_min_users0", ECON, "min_users=MIN_CURVE_USERS,", "min_users=0,"),
    ("eval_maxext_none", ECON, "max_extrapolation=LTV_MAX_EXTRAPOLATION,", "max_extrapolation=None,"),
    (
        "eval_no_fit",
        ECON,
        'survival_fit=((run.analytics_summary or {}).get("rolling_retention_fit") or {}).get("bdw"),',
        "survival_fit=None,",
    ),
    # _no_tail_reason
    ("ntr_bound_not", ECON, "    if bound:\n", "    if not bound:\n"),
    ("ntr_min_le1", ECON, "min(anchor, extent) < 1:", "min(anchor, extent) <= 1:"),
    ("ntr_min_lt0", ECON, "min(anchor, extent) < 1:", "min(anchor, extent) < 0:"),
    ("ntr_min_max", ECON, "min(anchor, extent) < 1:", "max(anchor, extent) < 1:"),
    ("ntr_extent_only", ECON, "min(anchor, extent) < 1:", "extent < 1:"),
    ("ntr_anchor_only", ECON, "min(anchor, extent) < 1:", "anchor < 1:"),
    ("ntr_and_or1", ECON, "if max_extrapolation is not None and min(", "if max_extrapolation is not None or min("),
    ("ntr_noday_drop", ECON, "if max_extrapolation is not None and min(anchor, extent) < 1:", "if False:"),
    ("ntr_ext_ge", ECON, "ltv_days > max_extrapolation * extent:", "ltv_days >= max_extrapolation * extent:"),
    ("ntr_ext_anchor", ECON, "ltv_days > max_extrapolation * extent:", "ltv_days > max_extrapolation * anchor:"),
    ("ntr_ext_plus1", ECON, "ltv_days > max_extrapolation * extent:", "ltv_days > max_extrapolation * extent + 1:"),
    (
        "ntr_msg_noday",
        ECON,
        'f"no day of retention after day 0 rests on {min_users} or more users"',
        'f"no day of retention after day 0 rests on enough users"',
    ),
    (
        "ntr_msg_noday_none",
        ECON,
        'return f"no day of retention after day 0 rests on {min_users} or more users"',
        'return ""',
    ),
    ("ntr_msg_ext_users", ECON, "(each on {min_users} or more users)", "(each on enough users)"),
    ("ntr_msg_ltv_days", ECON, 'f"ltv_days {ltv_days} is more than', 'f"ltv_days is more than'),
    ("ntr_bound_model", ECON, "f\"the {survival_fit['model']} fit", 'f"the fit'),
    # constants
    ("const_maxext4", ECON, "LTV_MAX_EXTRAPOLATION = 5.0", "LTV_MAX_EXTRAPOLATION = 4.0"),
    ("const_maxext6", ECON, "LTV_MAX_EXTRAPOLATION = 5.0", "LTV_MAX_EXTRAPOLATION = 6.0"),
    ("const_users299", RET, "MIN_CURVE_USERS = 300", "MIN_CURVE_USERS = 299"),
    ("const_users301", RET, "MIN_CURVE_USERS = 300", "MIN_CURVE_USERS = 301"),
    ("const_ltd89", RET, "LONG_TERM_DAYS = 90", "LONG_TERM_DAYS = 89"),
    ("const_ltd91", RET, "LONG_TERM_DAYS = 90", "LONG_TERM_DAYS = 91"),
    # at_bound (survival_fit)
    ("ab_lt", SFIT, "if min(v - low, high - v) <= BOUND_TOLERANCE", "if min(v - low, high - v) < BOUND_TOLERANCE"),
    ("ab_max", SFIT, "if min(v - low, high - v) <= BOUND_TOLERANCE", "if max(v - low, high - v) <= BOUND_TOLERANCE"),
    ("ab_low_only", SFIT, "if min(v - low, high - v) <= BOUND_TOLERANCE", "if v - low <= BOUND_TOLERANCE"),
    ("ab_high_only", SFIT, "if min(v - low, high - v) <= BOUND_TOLERANCE", "if high - v <= BOUND_TOLERANCE"),
    ("ab_tol0", SFIT, "BOUND_TOLERANCE = 1e-6", "BOUND_TOLERANCE = 0.0"),
    ("ab_tol_big", SFIT, "BOUND_TOLERANCE = 1e-6", "BOUND_TOLERANCE = 1e-2"),
]


def main(ids: list[str]) -> None:
    """Run the mutants (all, or those named in ``ids``) with the shared runner (:mod:`hand_mutants`)."""
    mutants = [(mid, "ltv", file, old, new) for mid, file, old, new in MUTANTS]
    run_mutants(mutants, {"ltv": [PRIMARY, *SECONDARY]}, "results.json", ids, timeout_s=TIMEOUT_S)


if __name__ == "__main__":
    main(sys.argv[1:])
