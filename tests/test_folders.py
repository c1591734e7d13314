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


def test_a_run_or_plan_is_let_into_a_folder_of_hydras_record_alone_a_sweep_not(tmp_path):
    """A run's or plan's task finds the ``.hydra/`` Hydra made for it; a sweep's folder has none at its top.

    The exception is for ``.hydra/`` alone: with a run's log beside it the folder is a run's
    (killed before its results), refused to a plan too.
    """
    from sim.app.output_folder import check_own_folder
    from sim.base.errors import ConfigError

    made = _folder(tmp_path / "made", ".hydra/")
    check_own_folder("hydra.run.dir", made, PLAN)
    check_own_folder("hydra.run.dir", made, RUN)
    with pytest.raises(ConfigError) as refused:
        check_own_folder("hydra.sweep.dir", made, SWEEP)
    assert str(refused.value) == (
        f"hydra.sweep.dir='{made}' is not allowed: a new or empty folder, or an earlier opsim sweep's folder "
        "(to resume it); this one holds files of no opsim sweep (.hydra), which the sweep could replace "
        "(give hydra.sweep.dir=<new folder>)"
    )
    killed_run = _folder(tmp_path / "killed_run", ".hydra/", "opsim.log")
    with pytest.raises(ConfigError, match=r"this one holds an opsim run \(opsim.log\), whose report.html the plan"):
        check_own_folder("hydra.run.dir", killed_run, PLAN)


@pytest.mark.parametrize(
    ("names", "shown"),
    [
        (["a.txt", "b.txt", "c.txt"], "(a.txt, b.txt, c.txt)"),  # three: each named
        (["a.txt", "b.txt", "c.txt", "d.txt"], "(a.txt, b.txt, c.txt, ...)"),  # four: the first three, then ...
    ],
)
def test_a_refusal_names_at_most_three_of_a_users_files(names, shown, tmp_path):
    from sim.app.output_folder import check_own_folder
    from sim.base.errors import ConfigError

    with pytest.raises(ConfigError) as refused:
        check_own_folder("hydra.run.dir", _folder(tmp_path / "mine", *names), RUN)
    assert f"this one holds files of no opsim run {shown}, which the run could replace" in str(refused.value)


@pytest.mark.parametrize("given", ["", " ", "  \t"])
def test_an_empty_or_blank_folder_path_is_refused(given, tmp_path, monkeypatch):
    from sim.app.output_folder import check_not_blank
    from sim.base.errors import ConfigError

    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as refused:
        check_not_blank("hydra.run.dir", given)
    assert str(refused.value) == (
        f"hydra.run.dir={given!r} is not allowed: a folder path, not an empty one (which would write into the "
        f"current folder, {tmp_path}); give hydra.run.dir=<folder>"
    )


@pytest.mark.parametrize("given", [".", "a", " a"])
def test_a_folder_path_with_a_character_other_than_blanks_is_taken(given):
    from sim.app.output_folder import check_not_blank

    check_not_blank("hydra.run.dir", given)
