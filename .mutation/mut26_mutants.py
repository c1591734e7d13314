"""Hand-applied mutants of this session's folder checks, planner rules, input bounds and fixes.

The twenty-sixth run (docs/mutation.md). Each mutant rewrites one exact snippet (which must
occur exactly once in its file), runs its group's tests with ``-x``, and restores the file with
``git checkout -- FILE`` (so commit, or lose, any change to the mutated files first).

Usage (from the worktree root)::

    PYTHONPATH=$PWD .venv/bin/python .mutation/mut26_mutants.py [ID ...]

Results go to .mutation/mut26_results.json and a table on stdout.
"""

from __future__ import annotations

import sys

from hand_mutants import run_mutants

OUTPUT_FOLDER = "sim/app/output_folder.py"
FOLDERS = "sim/output/folders.py"
CLI = "sim/app/cli.py"
PLAN = "sim/app/plan.py"
PLAN_CONFIG = "sim/app/plan_config.py"
PLANNING = "sim/analysis/planning.py"
ERRORS = "sim/base/errors.py"
CONFIG = "sim/app/config.py"
REFERRAL = "sim/levers/referral.py"
PAID_ADS = "sim/levers/paid_ads.py"
BASE = "sim/levers/base.py"
AWARENESS = "sim/core/awareness.py"
SCHEMA = "sim/base/schema.py"
ONBOARDING = "sim/levers/onboarding.py"
CALIBRATION = "sim/analysis/calibration.py"
CALIBRATE = "sim/app/calibrate.py"
SURVIVAL_FIT = "sim/analysis/survival_fit.py"
TESTS = {
    "folders": [
        ["tests/test_folders.py"],
        ["tests/test_cli.py", "-k", "folder or refused_inside or removing or runs_again or run_again"],
        ["tests/test_plan.py", "-k", "empty_folder_path or runs_meta or opsim_run_or_sweep or another_plan"],
    ],
    "cli": [
        ["tests/test_cli.py", "-k", "refused_inside or removing"],
        ["tests/test_bad_input.py", "-k", "true_or_false"],
        ["tests/test_faults.py", "-k", "resume or ctrl_c"],
    ],
    "plan": [
        ["tests/test_planning.py", "-k", "clipped or one_seed"],
        [
            "tests/test_plan.py",
            "-k",
            "spend_does_not_move or spend_is_flat or moves_no_spend or spend_knob_in_response or period_budgets "
            "or hydra_override or reproduce or clipped",
        ],
    ],
    "config": [
        ["tests/test_error_values.py"],
        ["tests/test_config.py", "-k", "numpy or name_or_currency or true_or_false or compose_checks"],
        ["tests/test_notebook_api.py", "-k", "progress or true_false"],
        ["tests/test_mesa.py", "-k", "numpy or true_false or keep_events"],
        ["tests/test_bad_input.py", "-k", "twice"],
    ],
    "levers": [
        ["tests/test_lever_units.py", "-k", "referral"],
        ["tests/test_levers.py", "-k", "referred"],
        ["tests/test_finite_inputs.py"],
        ["tests/test_known_answers.py", "-k", "awareness_hazard"],
        ["tests/test_economics.py", "-k", "period_budget"],
        ["tests/test_explorer.py", "-k", "period_budgets"],
    ],
    "calib": [
        ["tests/test_calibration.py", "-k", "survival or chi2 or maximum or bound or periods_fitted"],
        ["tests/test_calibration_inputs.py", "-k", "option"],
    ],
}
TIMEOUT_S = 900

# (id, tests, file, old, new): one-snippet rewrites
MUTANTS: list[tuple[str, str, str, str, str]] = [
    # 1. the folder checks
    ("of_no_own", "folders", OUTPUT_FOLDER, "if held is None or held.kind == own or (", "if held is None or ("),
    (
        "of_no_hydra_exc",
        "folders",
        OUTPUT_FOLDER,
        "(own == folders.PLAN and held.names == (HYDRA_RECORD,))",
        "False",
    ),
    (
        "of_hydra_any_own",
        "folders",
        OUTPUT_FOLDER,
        "(own == folders.PLAN and held.names == (HYDRA_RECORD,))",
        "held.names == (HYDRA_RECORD,)",
    ),
    ("of_shown_ge", "folders", OUTPUT_FOLDER, "len(held.names) > NAMES_SHOWN", "len(held.names) >= NAMES_SHOWN"),
    ("nb_no_strip", "folders", OUTPUT_FOLDER, "if not given.strip():", "if not given:"),
    ("wf_empty_other", "folders", FOLDERS, "    if not names:\n        return None\n", ""),
    (
        "wf_run_first",
        "folders",
        FOLDERS,
        '    (SWEEP, (MULTIRUN_RECORD, "SUMMARY.json", "PLAN.json")),\n'
        '    (PLAN, ("plan.json", "study.journal", "opsim-plan.log")),\n'
        '    (RUN, ("DONE.json", "summary.json", "meta.json", "opsim.log", ".hydra")),\n',
        '    (RUN, ("DONE.json", "summary.json", "meta.json", "opsim.log", ".hydra")),\n'
        '    (SWEEP, (MULTIRUN_RECORD, "SUMMARY.json", "PLAN.json")),\n'
        '    (PLAN, ("plan.json", "study.journal", "opsim-plan.log")),\n',
    ),
    (
        "wf_plan_last",
        "folders",
        FOLDERS,
        '    (PLAN, ("plan.json", "study.journal", "opsim-plan.log")),\n'
        '    (RUN, ("DONE.json", "summary.json", "meta.json", "opsim.log", ".hydra")),\n',
        '    (RUN, ("DONE.json", "summary.json", "meta.json", "opsim.log", ".hydra")),\n'
        '    (PLAN, ("plan.json", "study.journal", "opsim-plan.log")),\n',
    ),
    # 2. cli: the refused run's folders, the scalar fast path, the resume line
    (
        "om_exists",
        "cli",
        CLI,
        "    if folder.exists():\n        return None\n    outermost = folder",
        "    outermost = folder",
    ),
    ("om_one_level", "cli", CLI, "while not outermost.parent.exists():", "if not outermost.parent.exists():"),
    (
        "rh_not_created",
        "cli",
        CLI,
        "if created != parent and created not in parent.parents:",
        "if created not in parent.parents:",
    ),
    ("rh_no_limit", "cli", CLI, "if created != parent and created not in parent.parents:", "if False:"),
    (
        "cs_bool_refused",
        "cli",
        CLI,
        "            return None  # 1/0, yes/no",
        '            raise ConfigError(key, raw, "true or false")  # 1/0, yes/no',
    ),
    ("cs_bool_case", "cli", CLI, 'value: Any = raw.lower() == "true"', 'value: Any = raw == "true"'),
    (
        "rs_no_quote",
        "cli",
        CLI,
        'how = f"resume with: opsim-report {shlex.quote(str(plan.folder))} --resume',
        'how = f"resume with: opsim-report {plan.folder} --resume',
    ),
    ("rs_always_report", "cli", CLI, "if (plan.folder / folders.MULTIRUN_RECORD).is_file():", "if True:"),
    (
        "rs_none_done",
        "cli",
        CLI,
        '    if not done:\n        return f"no job',
        '    if done < 0:\n        return f"no job',
    ),
    # 3. the planner's rules and quoting, metric_interval
    (
        "sm_flat_ok",
        "plan",
        PLAN,
        "if np.all(steps > 0) or np.all(steps < 0):",
        "if np.all(steps >= 0) or np.all(steps < 0):",
    ),
    ("sm_only_up", "plan", PLAN, "if np.all(steps > 0) or np.all(steps < 0):", "if np.all(steps > 0):"),
    (
        "rk_no_check",
        "plan",
        PLAN_CONFIG,
        '        if channel is not None and var.key.removeprefix(channel + ".").startswith(SPEND_FREE_AD_KNOBS):',
        "        if False:",
    ),
    (
        "fb_per_period_too",
        "plan",
        PLAN_CONFIG,
        'if var.per_period or var.key.rsplit(".", 1)[-1] not in PERIOD_KNOBS or not getattr(',
        'if var.key.rsplit(".", 1)[-1] not in PERIOD_KNOBS or not getattr(',
    ),
    (
        "fb_no_periods_too",
        "plan",
        PLAN_CONFIG,
        ' or not getattr(node, "period_budgets", None):',
        ":",
    ),
    ("hv_no_bool", "plan", PLAN, '    if isinstance(value, bool):\n        return "true" if value else "false"\n', ""),
    ("hv_no_escape", "plan", PLAN, 'str(value).replace("${", "\\\\${")', "str(value)"),
    ("rc_no_shell_word", "plan", PLAN, 'return " ".join(shell_word(w) for w in words)', 'return " ".join(words)'),
    (
        "mi_no_low_clip",
        "plan",
        PLANNING,
        "float(np.clip(low, floor, ceiling))",
        "float(low)",
    ),
    (
        "mi_default_floor0",
        "plan",
        PLANNING,
        "BOUNDS.get(metric, (-np.inf, np.inf))",
        "BOUNDS.get(metric, (0.0, np.inf))",
    ),
    # 4. shown_value, names, true/false arguments, numpy values, a key given twice
    ("sv_limit_le", "config", ERRORS, "abs(value) < _EXACT_INTEGER_LIMIT", "abs(value) <= _EXACT_INTEGER_LIMIT"),
    (
        "sv_no_finite",
        "config",
        ERRORS,
        "isinstance(value, float) and math.isfinite(value) and",
        "isinstance(value, float) and",
    ),
    ("cn_no_strip", "config", CONFIG, "if not str(node).strip():", "if not str(node):"),
    (
        "ba_any_int",
        "config",
        CONFIG,
        "if isinstance(value, numbers.Integral) and value in (0, 1):",
        "if isinstance(value, numbers.Integral):",
    ),
    ("ba_no_np_bool", "config", CONFIG, "if isinstance(value, bool | np.bool_):", "if isinstance(value, bool):"),
    (
        "pl_no_floating",
        "config",
        CONFIG,
        "NUMPY_SCALARS = (np.bool_, np.integer, np.floating)",
        "NUMPY_SCALARS = (np.bool_, np.integer)",
    ),
    (
        "rp_last",
        "config",
        CONFIG,
        "out[key] = _Repeated(out[key]) if key in out else value",
        "out[key] = _Repeated(value) if key in out else value",
    ),
    # 5. levers and bounds
    ("rf_always_on", "levers", REFERRAL, "        if not self.on_today:\n            return {}\n", ""),
    (
        "hl_no_saturate",
        "levers",
        PAID_ADS,
        "np.where(np.isinf(ratio), max_hazard,",
        "np.where(np.isnan(ratio), max_hazard,",
    ),
    (
        "bl_first",
        "levers",
        PAID_ADS,
        "float(max(cfg.period_budgets)) if cfg.period_budgets",
        "float(cfg.period_budgets[0]) if cfg.period_budgets",
    ),
    (
        "ws_no_cap",
        "levers",
        PAID_ADS,
        "[min(b * factor, top) for b in cfg.period_budgets]",
        "[b * factor for b in cfg.period_budgets]",
    ),
    (
        "ws_daily_only",
        "levers",
        PAID_ADS,
        "        if not cfg.period_budgets:\n            return super()",
        "        if True:\n            return super()",
    ),
    ("wb_no_cap", "levers", BASE, "min(getattr(cfg, knob) * factor, top)", "getattr(cfg, knob) * factor"),
    ("he_no_cap", "levers", AWARENESS, "return np.minimum(edges, MAX_HAZARD)", "return edges"),
    ("mx_multiplier_1e7", "levers", SCHEMA, "MAX_MULTIPLIER = 1e6", "MAX_MULTIPLIER = 1e7"),
    ("mx_onboarding_lt", "levers", ONBOARDING, "le=MAX_ONBOARDING_DAYS", "lt=MAX_ONBOARDING_DAYS"),
    # 6. calibration
    (
        "fs_no_rcond",
        "calib",
        CALIBRATION,
        "lam = np.where(lam > RCOND * noise, lam, 0.0)",
        "lam = np.where(lam > 0, lam, 0.0)",
    ),
    (
        "ap_no_kind",
        "calib",
        CALIBRATE,
        "if dest in APPLIES_TO and kind not in APPLIES_TO[dest][0]:",
        "if dest in APPLIES_TO and False:",
    ),
    (
        "ap_out_ignored",
        "calib",
        CALIBRATE,
        'if kind == "survival" and dest in SURVIVAL_OUT_OPTIONS and not args.out:',
        'if kind == "survival" and dest in SURVIVAL_OUT_OPTIONS:',
    ),
    (
        "nm_first_p0",
        "calib",
        SURVIVAL_FIT,
        "first, last = fitted.size - 1, float(fitted[1])",
        "first, last = fitted.size - 1, float(fitted[0])",
    ),
    (
        "nm_no_all_churn",
        "calib",
        SURVIVAL_FIT,
        '    if first == 0.0:\n        return "everyone churned in period 1"\n',
        "",
    ),
]


def main(ids: list[str]) -> None:
    """Run the mutants (all, or those named in ``ids``) with the shared runner (:mod:`hand_mutants`)."""
    run_mutants(MUTANTS, TESTS, "mut26_results.json", ids, timeout_s=TIMEOUT_S)


if __name__ == "__main__":
    main(sys.argv[1:])
