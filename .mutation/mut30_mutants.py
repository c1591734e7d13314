"""Hand-applied mutants of the unwrapped first drawing, the versions' header read and one arena under ulimit -v.

figures.save_png_of and _would_wrap, versions._version, address_space, the CLI's wait for the
figure workers and FigureWorkers.wait_started.

The thirtieth run (docs/mutation.md). Each mutant rewrites one exact snippet (which must occur
exactly once in its file), runs its group's tests with ``-x``, and restores the file with
``git checkout -- FILE`` (so commit, or lose, any change to the mutated files first).

Usage (from the worktree root)::

    PYTHONPATH=$PWD .venv/bin/python .mutation/mut30_mutants.py [ID ...]

Results go to .mutation/mut30_results.json and a table on stdout.
"""

from __future__ import annotations

import sys

from hand_mutants import run_mutants

FIGURES = "sim/output/figures.py"
VERSIONS = "sim/output/versions.py"
ARENA = "sim/app/address_space.py"
CLI = "sim/app/cli.py"
WORKERS = "sim/output/figure_workers.py"
TIMEOUT_S = 900
TESTS = {
    "wrap": [["tests/test_figure_text.py"], ["tests/test_figure_workers.py"]],
    "versions": [["tests/test_versions.py"]],
    "arena": [["tests/test_address_space.py"], ["tests/test_figure_workers.py", "-k", "waiting"]],
}
MUTANTS: list[tuple[str, str, str, str, str]] = [
    ("wrap_at_equal", "wrap", FIGURES, "if math.ceil(width) > room:", "if math.ceil(width) >= room:"),
    ("wrap_unrounded", "wrap", FIGURES, "if math.ceil(width) > room:", "if width > room:"),
    (
        "wrap_sides_swapped",
        "wrap",
        FIGURES,
        '{"left": box.x1 - x, "right": x - box.x0}',
        '{"right": box.x1 - x, "left": x - box.x0}',
    ),
    ("wrap_centre_once", "wrap", FIGURES, "2 * min(box.x1 - x, x - box.x0)", "min(box.x1 - x, x - box.x0)"),
    ("wrap_one_word", "wrap", FIGURES, 'if " " not in line:', "if not line:"),
    ("wrap_no_anchor", "wrap", FIGURES, 'text.set_rotation_mode("anchor")', "pass"),
    ("wrap_same_figure_again", "wrap", FIGURES, "            fig = build()\n    save_png(", "    save_png("),
    (
        "wrap_warnings_dropped",
        "wrap",
        FIGURES,
        "warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)  # through the filters",
        "pass",
    ),
    ("wrap_warnings_filtered", "wrap", FIGURES, 'warnings.simplefilter("always")  # each kept', "pass  # each kept"),
    (
        "wrap_all_texts",
        "wrap",
        FIGURES,
        "if text.get_wrap() and text.get_rotation() == 0",
        "if text.get_rotation() == 0",
    ),
    ("wrap_never_checked", "wrap", FIGURES, "if wrappable and _one_drawing_is_savefig(fig):", "if False:"),
    ("versions_whole_file", "versions", VERSIONS, 'text.split("\\n\\n", 1)[0]', "text"),
    ("versions_no_pkg_info", "versions", VERSIONS, ' or dist.read_text("PKG-INFO")', ""),
    ("versions_no_fallback", "versions", VERSIONS, "if found else dist.version", 'if found else ""'),
    ("versions_any_field", "versions", VERSIONS, 'r"^Version:[ \\t]*', 'r"Version:[ \\t]*'),
    ("arena_always", "arena", ARENA, "    if not address_space_limited():\n        return False\n", ""),
    ("arena_two", "arena", ARENA, "mallopt(M_ARENA_MAX, 1)", "mallopt(M_ARENA_MAX, 2)"),
    ("arena_parameter", "arena", ARENA, "M_ARENA_MAX = -8", "M_ARENA_MAX = -7"),
    ("arena_hard_limit", "arena", ARENA, "soft, _hard = resource.getrlimit", "_hard, soft = resource.getrlimit"),
    ("cli_never_waits", "arena", CLI, "if figure_workers is not None and address_space_limited():", "if False:"),
    (
        "cli_always_waits",
        "arena",
        CLI,
        "if figure_workers is not None and address_space_limited():",
        "if figure_workers is not None:",
    ),
    (
        "wait_first_only",
        "arena",
        WORKERS,
        "        for started in self._started:\n",
        "        for started in self._started[:1]:\n",
    ),
    ("wait_none", "arena", WORKERS, "                started.result()\n", "                pass\n"),
]


def main(ids: list[str]) -> None:
    """Run the mutants (all, or those named in ``ids``) with the shared runner (:mod:`hand_mutants`)."""
    run_mutants(MUTANTS, TESTS, "mut30_results.json", ids, timeout_s=TIMEOUT_S)


if __name__ == "__main__":
    main(sys.argv[1:])
