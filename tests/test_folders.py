"""What an output folder holds (sim/output/folders.py): the kind each command's folder check reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.output.folders import OTHER, PLAN, RUN, SWEEP, Holding, what_folder_holds


def _folder(root: Path, *names: str) -> Path:
    """A folder holding ``names``: a trailing ``/`` makes a folder, anything else an empty file."""
    root.mkdir()
    for name in names:
        if name.endswith("/"):
            (root / name).mkdir()
        else:
            (root / name).write_text("")
    return root


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["DONE.json", "report.html", "summary.json"], Holding(RUN, ("DONE.json",))),
        ([".hydra/", "opsim.log"], Holding(RUN, ("opsim.log",))),  # a run killed before its results
        ([".hydra/"], Holding(OTHER, (".hydra",))),  # Hydra's record alone: any Hydra app's (the checks let it pass)
        # another Hydra app's output: .hydra/ marked it a run, and opsim replaced its report.html
        ([".hydra/", "model.pt", "report.html"], Holding(OTHER, (".hydra", "model.pt", "report.html"))),
        ([".gitkeep", "DONE.json"], Holding(RUN, ("DONE.json",))),
        ([".hydra/", ".gitkeep", "opsim.log"], Holding(RUN, ("opsim.log",))),
        (["multirun.yaml", "PLAN.json", "seed=0-abc/"], Holding(SWEEP, ("multirun.yaml",))),
        (["SUMMARY.json", "report.html"], Holding(SWEEP, ("SUMMARY.json",))),  # a study's kept results
        (["PLAN.json"], Holding(SWEEP, ("PLAN.json",))),  # the sweep's record of its jobs, not a plan's plan.json
        ([".hydra/", "plan.json", "report.html"], Holding(PLAN, ("plan.json",))),  # Hydra's .hydra/ too: a plan
        ([".hydra/", "opsim-plan.log", "study.journal"], Holding(PLAN, ("study.journal",))),
        (["multirun.yaml", "DONE.json", "report.html"], Holding(SWEEP, ("multirun.yaml",))),  # a run over a sweep
        (["report.html", "config.yaml", "notes/"], Holding(OTHER, ("config.yaml", "notes", "report.html"))),
        (["done.json"], Holding(OTHER, ("done.json",))),  # names are exact, whatever the file system's case
    ],
)
def test_a_folder_is_told_by_the_files_only_one_kind_writes(names, expected, tmp_path):
    assert what_folder_holds(_folder(tmp_path / "out", *names)) == expected


def test_a_missing_or_empty_folder_holds_nothing_and_neither_does_a_file(tmp_path):
    assert what_folder_holds(tmp_path / "missing") is None
    assert what_folder_holds(_folder(tmp_path / "empty")) is None
    # hidden files no command writes (a kept-empty folder under git, a desktop's record): still empty
    assert what_folder_holds(_folder(tmp_path / "kept", ".gitkeep", ".DS_Store")) is None
    (tmp_path / "a_file").write_text("x")
    assert what_folder_holds(tmp_path / "a_file") is None
