"""Hand-applied mutants of the measurements skipped while figures are drawn, the PNG rows and the heatmap.

``sim/output/figures.py``: ``_fewer_measurements`` (which spines leave the layout, which
axes stop looking for duplicate minor ticks, what is put back), ``_write_png``'s rows, and
the cohort heatmap without its colour bar; ``sim/output/figure_workers.py``: the weights.

The thirty-third run (docs/mutation.md). Each mutant rewrites one exact snippet (which must
occur exactly once in its file), runs its group's tests with ``-x``, and restores the file
with ``git checkout -- FILE`` (so commit, or lose, any change to the mutated files first).

Usage (from the worktree root)::

    PYTHONPATH=$PWD .venv/bin/python .mutation/mut33_mutants.py [ID ...]

Results go to .mutation/mut33_results.json and a table on stdout.
"""

from __future__ import annotations

import sys

from hand_mutants import run_mutants

FIGURES = "sim/output/figures.py"
WORKERS = "sim/output/figure_workers.py"
TIMEOUT_S = 900
TESTS = {
    "drawing": [
        ["tests/test_report_parts.py", "-k", "measures_less or no_axis or savefig_writes"],
        ["tests/test_report_parts.py", "tests/test_png_and_heatmap.py"],
    ],
    "heatmap": [["tests/test_png_and_heatmap.py", "tests/test_report_parts.py", "tests/test_cell_labels.py"]],
    "weights": [["tests/test_figure_workers.py", "-k", "heaviest"]],
}
MUTANTS: list[tuple[str, str, str, str, str]] = [
    (
        "every_spine_out",
        "drawing",
        FIGURES,
        'if spine.axis.get_tick_params().get(f"label{side}"):',
        "if True:",
    ),
    (
        "spine_of_no_axis_out",
        "drawing",
        FIGURES,
        "if spine is None or spine.axis is None or not spine.get_in_layout():",
        "if spine is None or not spine.get_in_layout():",
    ),
    (
        "callers_spine_put_in",
        "drawing",
        FIGURES,
        "if spine is None or spine.axis is None or not spine.get_in_layout():",
        "if spine is None or spine.axis is None:",
    ),
    ("spines_not_put_back", "drawing", FIGURES, "spine.set_in_layout(True)", "pass"),
    (
        "minor_ticks_ignored",
        "drawing",
        FIGURES,
        "if axis.remove_overlapping_locs and isinstance(axis.get_minor_locator(), NullLocator):",
        "if axis.remove_overlapping_locs:",
    ),
    ("locs_not_put_back", "drawing", FIGURES, "axis.remove_overlapping_locs = True", "pass"),
    (
        "not_put_back_after_an_error",
        "drawing",
        FIGURES,
        "    try:\n        yield\n    finally:\n        for spine in spines:",
        "    if True:\n        yield\n        for spine in spines:",
    ),
    (
        "rows_body_a_copy",
        "drawing",
        FIGURES,
        "body = rows[:, 1:].reshape(height, width, channels)",
        "body = rows[:, 1:].reshape(height, width, channels).copy()",
    ),
    (
        "rows_channels_reversed",
        "drawing",
        FIGURES,
        "body[...] = pixels",
        "body[...] = pixels[..., ::-1]",
    ),
    (
        "heatmap_colour_bar_back",
        "heatmap",
        FIGURES,
        "        _title(ax, HEATMAP_TITLE, title)",
        "        fig.colorbar(cells, ax=ax)\n        _title(ax, HEATMAP_TITLE, title)",
    ),
    (
        "heatmap_title_without_its_unit",
        "heatmap",
        FIGURES,
        'HEATMAP_TITLE = "Cohort retention by acquisition week: % of each cohort active"',
        'HEATMAP_TITLE = "Cohort retention by acquisition week"',
    ),
    ("weights_heatmap_last", "weights", WORKERS, '"cohort_heatmap": 1.9,', '"cohort_heatmap": 0.5,'),
    ("weights_groups_before_stages", "weights", WORKERS, '"retention_groups": 1.8,', '"retention_groups": 1.85,'),
]


def main(ids: list[str]) -> None:
    """Run the mutants (all, or those named in ``ids``) with the shared runner (:mod:`hand_mutants`)."""
    run_mutants(MUTANTS, TESTS, "mut33_results.json", ids, timeout_s=TIMEOUT_S)


if __name__ == "__main__":
    main(sys.argv[1:])
