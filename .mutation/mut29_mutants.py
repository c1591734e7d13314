"""Hand-applied mutants of the figures drawn ahead, and of the PNG writer.

The figure workers' start and draw, same_figure, simulate's and analyze's hooks, Result.save's start.

The twenty-ninth run (docs/mutation.md). Each mutant rewrites one exact snippet (which must occur
exactly once in its file), runs its group's tests with ``-x``, and restores the file with
``git checkout -- FILE`` (so commit, or lose, any change to the mutated files first).

Usage (from the worktree root)::

    PYTHONPATH=$PWD .venv/bin/python .mutation/mut29_mutants.py [ID ...]

Results go to .mutation/mut29_results.json and a table on stdout.
"""

from __future__ import annotations

import sys

from hand_mutants import run_mutants

WORKERS = "sim/output/figure_workers.py"
REPORT = "sim/output/run_report.py"
SIMULATE = "sim/app/simulate.py"
ANALYTICS = "sim/analysis/analytics.py"
FIGURES = "sim/output/figures.py"
RESULT = "sim/output/result.py"
TIMEOUT_S = 900
TESTS = {
    "workers": [["tests/test_figure_workers.py"]],
    "retention": [["tests/test_figure_workers.py"], ["tests/test_report_parts.py"], ["tests/test_report.py"]],
    "analytics": [["tests/test_visit_stats.py"], ["tests/test_figure_workers.py"]],
    "png": [["tests/test_png_and_heatmap.py"], ["tests/test_report_parts.py", "-k", "save_png"]],
    "result": [["tests/test_result_save.py"]],
}
MUTANTS: list[tuple[str, str, str, str, str]] = [
    (
        "order_lightest",
        "workers",
        WORKERS,
        "sorted(names, key=lambda name: -FIGURE_WEIGHTS.get(name, DEFAULT_WEIGHT))",
        "sorted(names, key=lambda name: FIGURE_WEIGHTS.get(name, DEFAULT_WEIGHT))",
    ),
    (
        "start_keeps_any",
        "workers",
        WORKERS,
        "if previous is not None and same_figure(previous[0], data, name):",
        "if previous is not None:",
    ),
    (
        "start_never_keeps",
        "workers",
        WORKERS,
        "if previous is not None and same_figure(previous[0], data, name):",
        "if False:",
    ),
    (
        "draw_keeps_started",
        "workers",
        WORKERS,
        "drawing, self._drawing = self._drawing, {}",
        "drawing = self._drawing",
    ),
    (
        "draw_keeps_unasked",
        "workers",
        WORKERS,
        "for name in set(self._drawing) - set(names):",
        "for name in set():",
    ),
    (
        "same_no_availability",
        "workers",
        REPORT,
        "    if name not in names or name not in figure_names(second):\n        return False\n",
        "",
    ),
    (
        "equal_frames",
        "workers",
        REPORT,
        "return first.equals(second) and first.dtypes.equals(second.dtypes)",
        "return True",
    ),
    (
        "equal_dtype",
        "workers",
        REPORT,
        "return first.dtype == second.dtype and np.array_equal(",
        "return np.array_equal(",
    ),
    ("equal_nan", "workers", REPORT, 'equal_nan=first.dtype.kind in "fc"', "equal_nan=False"),
    (
        "equal_lengths",
        "workers",
        REPORT,
        "return len(first) == len(second) and all(",
        "return all(",
    ),
    ("equal_keys", "workers", REPORT, "return first.keys() == second.keys() and all(", "return all("),
    ("equal_float_nan", "workers", REPORT, "        return second != second\n", "        return False\n"),
    ("equal_types", "workers", REPORT, "    if type(first) is not type(second):\n        return False\n", ""),
    (
        "retention_no_baseline",
        "retention",
        REPORT,
        'return "cohort_retention_figure", (data.cohorts, data.baseline_cohorts, data.title), {}',
        'return "cohort_retention_figure", (data.cohorts, None, data.title), {}',
    ),
    ("ahead_with_plan", "workers", SIMULATE, "and cfg.figures and not plan else None", "and cfg.figures else None"),
    ("ahead_without_figures", "workers", SIMULATE, "and cfg.figures and not plan else None", "and not plan else None"),
    (
        "ahead_no_funnel",
        "workers",
        SIMULATE,
        'summary={**self.data.summary, "analytics": {"funnel": dict(summary["funnel"])}},',
        "summary={**self.data.summary},",
    ),
    (
        "ahead_title_sample",
        "workers",
        SIMULATE,
        '"sample_size": pop.simulated_users,',
        '"sample_size": pop.market_size,',
    ),
    (
        "tables_ready_never",
        "analytics",
        ANALYTICS,
        "    if tables_ready is not None:\n        tables_ready(tables, summary)\n",
        "",
    ),
    ("png_filter", "png", FIGURES, "rows[:, 0] = PNG_FILTER_NONE", "rows[:, 0] = 1"),
    (
        "png_dpi_round",
        "png",
        FIGURES,
        "per_metre = int(dpi / METRES_PER_INCH + 0.5)",
        "per_metre = int(dpi / METRES_PER_INCH)",
    ),
    ("png_always_rgba", "png", FIGURES, "pixels = rgba[..., :ALPHA] if opaque else rgba", "pixels = rgba"),
    ("png_crc", "png", FIGURES, 'struct.pack(">I", zlib.crc32(kind + body))', 'struct.pack(">I", zlib.crc32(body))'),
    ("png_level", "png", FIGURES, "PNG_COMPRESS_LEVEL = 3", "PNG_COMPRESS_LEVEL = 2"),
    (
        "save_no_start",
        "result",
        RESULT,
        "            figure_workers.start(files.data, figure_names(files.data))\n",
        "            pass\n",
    ),
]


def main(ids: list[str]) -> None:
    """Run the mutants (all, or those named in ``ids``) with the shared runner (:mod:`hand_mutants`)."""
    run_mutants(MUTANTS, TESTS, "mut29_results.json", ids, timeout_s=TIMEOUT_S)


if __name__ == "__main__":
    main(sys.argv[1:])
