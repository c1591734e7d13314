"""Calibration inputs: wide exports, option and output checks before any fit, all-or-nothing outputs."""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

import numpy as np
import pytest

from sim.analysis.cohort_statistics import CohortDesign, SimulatedUsers, next_visit
from sim.analysis.lift import read_ab_result
from sim.analysis.retention_data import CohortTable, DataError, read_retention_csv
from sim.app.calibrate import main
from sim.app.lift import LIFT_PARAMETERS
from sim.base.errors import OutputError
from sim.output.files import NO_BACKUP, _backup, remove_temporaries, write_all

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "experiments" / "calibration"
# 2024-01-01 is a Monday.
WIDE_COUNTS = "Date,Users,Day 0,Day 1,Day 2\n2024-01-01,10,10,4,3\n2024-01-02,20,20,5,\n2024-01-03,5,5,,\n"


def write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def cells(table: CohortTable) -> dict[tuple[str, int], int]:
    return {(r.cohort, r.day): r.active for r in table.frame.itertuples()}


def test_wide_export_of_counts_becomes_the_long_table(tmp_path):
    table = read_retention_csv(write(tmp_path, WIDE_COUNTS))
    assert isinstance(table, CohortTable)
    assert cells(table) == {
        ("2024-01-01", 0): 10,
        ("2024-01-01", 1): 4,
        ("2024-01-01", 2): 3,
        ("2024-01-02", 0): 20,
        ("2024-01-02", 1): 5,
        ("2024-01-03", 0): 5,
    }
    assert table.weekday.tolist() == [0, 1, 2]
    # pooled by hand: D1 = (4 + 5) / (10 + 20), D2 = 3 / 10 (the empty cells are unobserved)
    pooled = table.pooled_retention().set_index("day")["retention"]
    assert pooled[1] == pytest.approx(9 / 30) and pooled[2] == pytest.approx(0.3)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Cohort,New users,< 1 day,D1,D2\n2024-01-01,200,100%,12.5%,8%\n", "auto"),
        ("cohort,users,day_0,day_1,day_2\n2024-01-01,200,100,12.5,8\n", "percent"),
        ("start date,size,Day 0,Day 1,Day 2\n2024-01-01,200,1,0.125,0.08\n", "auto"),
    ],
)
def test_wide_export_of_percentages_or_shares(tmp_path, text, kind):
    table = read_retention_csv(write(tmp_path, text), values=kind)
    assert cells(table) == {("2024-01-01", 0): 200, ("2024-01-01", 1): 25, ("2024-01-01", 2): 16}


def test_wide_export_of_rolling_retention(tmp_path):
    table = read_retention_csv(write(tmp_path, WIDE_COUNTS), fmt="wide", measure="rolling")
    assert table.active is None and table.rolling is not None
    assert table.rolling[0].tolist() == [10, 4, 3]


@pytest.mark.parametrize(
    ("text", "args", "message"),
    [
        ("Date,Users,Day 0,Day 1\n2024-01-01,10,10,x\n", {}, r"row 2, column 'Day 1': 'x' is not a number"),
        ("Date,Users,Day 0,Day 1\n2024-01-01,10,10,12\n", {}, r"row 2, column 'Day 1': 12 is not a count of users"),
        ("Date,Users,Day 0,Day 1\n2024-01-01,10,100%,120%\n", {}, r"row 2, column 'Day 1': 120% is above 100 %"),
        ("Date,Users,Day 0,Day 1\n2024-01-01,0,0,0\n", {}, r"row 2, column 'Users': cohort size 0 must be > 0"),
        ("Date,Users,Day 0,Day 1\n2024-01-01,10,10,-1\n", {}, r"row 2, column 'Day 1': '-1' is not allowed"),
        ("Date,Day 0,Day 1\n2024-01-01,10,4\n", {}, r"no cohort size column"),
        ("Date,Users,Day 0,Day 1\n2024-01-01,10,10,4\n2024-01-01,10,10,3\n", {}, r"row 3, column 'Date': cohort"),
        ("Date,Users,Day 0,Day 1\n2024-01-01,10,10,2.5\n", {}, r"row 2, column 'Day 1': 2.5 is neither a count"),
        ("Date,Users,Week 0,Week 1\n2024-01-01,10,10,4\n", {"fmt": "wide"}, r"no day columns"),
        ("Date,Users,Day 0,Day 1,Week 1\n2024-01-01,10,10,4,3\n", {}, r"column 'Week 1': weekly or monthly"),
        ("Date,Users,Day 0,Day 1\n2024-01-01,10,10,4\n", {"measure": "both"}, r"--measure 'both' is not allowed"),
    ],
)
def test_bad_wide_export_names_file_row_and_column(tmp_path, text, args, message):
    path = write(tmp_path, text)
    with pytest.raises(DataError, match=message) as info:
        read_retention_csv(path, **args)
    assert str(info.value).startswith(str(path))


def test_long_table_with_rolling_column(tmp_path):
    text = "cohort,day,cohort_size,active,rolling\nA,0,10,10,10\nA,1,10,3,6\nA,2,10,4,4\n"
    table = read_retention_csv(write(tmp_path, text))
    assert table.active[0].tolist() == [10, 3, 4] and table.rolling[0].tolist() == [10, 6, 4]
    bad = write(tmp_path, "cohort,day,cohort_size,active,rolling\nA,0,10,10,10\nA,1,10,5,4\n", "bad.csv")
    with pytest.raises(DataError, match=r"row 3, column 'rolling': rolling 4 is below active 5"):
        read_retention_csv(bad)


# ------------------------------------------------------------ design statistics
def test_design_statistics_pool_weekdays_and_censoring_as_the_data_do():
    # Two cohorts: Monday (10 users, days 0-2) and Tuesday (30 users, days 0-1), classic and rolling.
    observed = np.array([[True, True, True], [True, True, False]])
    active = np.array([[10, 4, 3], [30, 6, 0]])
    rolling = np.array([[10, 5, 3], [30, 6, 0]])
    design = CohortDesign(np.array([10, 30]), np.array([0, 1]), observed, active, rolling, min_users=1)
    assert design.labels == ["D1", "D2", "R1", "R2"]
    assert design.observed == pytest.approx([10 / 40, 3 / 10, 11 / 40, 3 / 10])
    # Simulated users: Monday users (weekday 0) and Tuesday users (weekday 1), observed to day 2.
    act = np.array(
        [
            [1, 1, 0],  # Mon: active day 1 only
            [1, 0, 1],  # Mon: active day 2 only
            [1, 0, 0],  # Tue: never again
            [1, 0, 1],  # Tue: active day 2 (after the Tuesday cohort's last day 1)
        ],
        dtype=bool,
    )
    sim = SimulatedUsers(np.array([0, 0, 1, 1]), act)
    assert next_visit(act).tolist() == [[0, 1, 3], [0, 2, 2], [0, 3, 3], [0, 2, 2]]
    # By hand: D1 = ¼·mean_Mon(x1) + ¾·mean_Tue(x1) = ¼·½ + ¾·0; D2 = mean_Mon(x2) = ½.
    # R1: Monday cohort censored at day 2: ¼·P_Mon(visit in 1..2) = ¼·1; Tuesday cohort censored
    # at day 1: ¾·P_Tue(visit on day 1) = 0. R2: Monday only, P(visit on day 2) = ½.
    assert design.statistics(sim) == pytest.approx([1 / 8, 1 / 2, 1 / 4, 1 / 2])
    forecast = design.forecast(2)
    # the forecast pools weekdays by the table's cohort mass: Monday ¼, Tuesday ¾
    assert forecast.statistics(sim) == pytest.approx([1 / 8, 1 / 4 * 1 / 2 + 3 / 4 * 1 / 2])


def test_data_covariance_is_the_binomial_variance_for_independent_days():
    # Users whose days are independent Bernoulli(p): Var(D_n) = p(1 − p)/N, Cov(D_1, D_2) = 0.
    rng = np.random.default_rng(5)
    p, users = 0.3, 40_000
    act = np.column_stack([np.ones(users, bool), rng.random((users, 2)) < p])
    sim = SimulatedUsers(rng.integers(0, 7, users), act)
    sizes = np.full(7, 100)
    design = CohortDesign(sizes, np.arange(7), np.ones((7, 3), bool), np.zeros((7, 3), int), None, min_users=1)
    omega = design.data_covariance([sim], np.array([1.0]))
    expected = p * (1 - p) / 700
    # The Monte-Carlo estimate from 40,000 users has a relative SE of about sqrt(2/40,000) = 0.7 %.
    assert np.diag(omega) == pytest.approx([expected, expected], rel=0.04)
    assert abs(omega[0, 1]) < 0.04 * expected


# ---------------------------------------------------- options and outputs, before any fit
def run_main(tmp_path: Path, *extra: str) -> int:
    return main([str(EXAMPLES / "cohorts_example.csv"), "--no-progress", *extra])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--market-size", "-5"], "--market-size=-5 is not allowed"),
        (["--market-size", "0"], "--market-size=0 is not allowed"),
        (["--cohort-users", "0"], "--cohort-users=0 is not allowed"),
        (["--sample-size", "0"], "--sample-size=0 is not allowed"),
        (["--forecast-days", "0"], "--forecast-days=0 is not allowed"),
        (["--max-iterations", "0"], "--max-iterations=0 is not allowed"),
        (["--seed", "-1"], "--seed=-1 is not allowed"),
        ([], "--market-size is missing: with --out it is required"),  # it said "--market-size=None is not allowed"
        (
            ["--market-size", "1000", "--sample-size", "5000"],
            "--sample-size=5000 is not allowed: a whole number from 1 to --market-size (1,000)",
        ),
        (["--market-size", "1000", "--sample-size", "1001"], "--sample-size=1001 is not allowed"),
    ],
)
def test_bad_option_is_one_line_exit_2_and_nothing_written(tmp_path, capsys, args, message):
    out = tmp_path / "conf" / "population" / "x.yaml"
    base = ["--out", str(out)]
    extra = args if "--market-size" in args or not args else ["--market-size", "1000", *args]
    assert run_main(tmp_path, *base, *extra) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err
    assert not (tmp_path / "conf").exists()


def test_out_pointing_at_a_folder(tmp_path, capsys):
    out = tmp_path / "conf" / "population" / "x.yaml"
    out.mkdir(parents=True)
    assert run_main(tmp_path, "--out", str(out), "--market-size", "1000") == 2
    err = capsys.readouterr().err
    assert "a file path (this is a folder)" in err and err.count("\n") == 1
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("option", ["--out", "--report"])
def test_read_only_output_is_refused_before_fitting(tmp_path, capsys, option):
    # /proc refuses new files even to root (a chmod'ed folder would not stop root).
    target = "/proc/opsim-test/population/x.yaml" if option == "--out" else "/proc/opsim-test/report"
    args = ["--out", str(tmp_path / "population" / "x.yaml"), "--market-size", "1000", option, target]
    if option == "--out":
        args = ["--out", target, "--market-size", "1000"]
    assert run_main(tmp_path, *args) == 2
    err = capsys.readouterr().err
    assert f"{option}=" in err and "a writable location" in err and err.count("\n") == 1
    assert not (tmp_path / "population").exists()


def test_out_outside_a_population_folder(tmp_path, capsys):
    assert run_main(tmp_path, "--out", str(tmp_path / "x.yaml"), "--market-size", "1000") == 2
    assert "a folder named population" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("command", "suffix", "refused"),
    [
        ("population", ".yml", True),
        ("population", ".yaml", False),
        ("strategy", ".yml", True),
        ("strategy", ".yaml", False),
    ],
)
def test_out_must_be_a_yaml_file_before_any_fit(tmp_path, capsys, monkeypatch, command, suffix, refused):
    """A .yml preset is refused by opsim (Hydra's deprecated suffix): it was refused only after the fit."""

    def ctrl_c(*_args, **_kwargs):  # the fit was reached: the suffix was taken
        raise KeyboardInterrupt

    monkeypatch.setattr("sim.app.calibrate.calibrate_population", ctrl_c)
    monkeypatch.setattr("sim.app.lift.simulate_cohorts", ctrl_c)
    out = tmp_path / "conf" / command / f"x{suffix}"
    if command == "population":
        argv = [str(EXAMPLES / "cohorts_example.csv"), "--market-size", "1000"]
    else:
        argv = ["lift", str(EXAMPLES / "push_ab.yaml"), "--population", "consumer_app"]
    code = main([*argv, "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    if refused:
        assert code == 2
        assert err.startswith(f"opsim-calibrate: error: --out={str(out)!r} is not allowed: ")
        assert "a .yaml file (not .yml)" in err and err.count("\n") == 1
    else:
        assert code == 130 and "interrupted" in err
    assert list(tmp_path.iterdir()) == []


LONG_COUNTS = "cohort,day,cohort_size,active\n2024-01-01,0,10,10\n2024-01-01,1,10,4\n2024-01-01,2,10,3\n"
SURVIVAL = "period,survival\n0,1\n1,0.631\n2,0.468\n3,0.382\n"
NEW_USERS = str(EXAMPLES / "new_users_example.csv")
TABLES = {"long": LONG_COUNTS, "wide": WIDE_COUNTS, "survival": SURVIVAL}


@pytest.mark.parametrize(
    ("table", "args", "message"),
    [
        (
            "long",
            ["--values", "percent"],
            "--values='percent' is not allowed: data.csv is a long cohort table; --values applies only to wide exports",
        ),
        ("long", ["--measure", "rolling"], "--measure='rolling' is not allowed: data.csv is a long cohort table"),
        (
            "long",
            ["--holdout", "3"],
            "--holdout=3 is not allowed: data.csv is a long cohort table; --holdout applies only to survival tables",
        ),
        ("wide", ["--holdout", "2"], "--holdout=2 is not allowed: data.csv is a wide export"),
        ("long", ["--period-days", "7"], "--period-days=7 is not allowed: data.csv is a long cohort table"),
        ("survival", ["--values", "share"], "--values='share' is not allowed: data.csv is a survival table"),
        (
            "survival",
            ["--cohort-users", "5000"],
            "--cohort-users=5000 is not allowed: data.csv is a survival table; "
            "--cohort-users applies only to cohort tables",
        ),
        ("survival", ["--seed", "0"], "--seed=0 is not allowed: data.csv is a survival table"),  # the default, given
        ("survival", ["--new-users", NEW_USERS], "--new-users="),
        (
            "survival",
            ["--period-days", "30"],
            "--period-days=30 is not allowed: data.csv is a survival table and no "
            "--out is given; --period-days applies only with --out",
        ),
        ("survival", ["--base", "game"], "--base='game' is not allowed: data.csv is a survival table and no --out"),
    ],
)
def test_an_option_that_does_not_apply_to_the_table_is_refused(tmp_path, capsys, monkeypatch, table, args, message):
    """``--values percent`` or ``--holdout 3`` on a long table were silently ignored (exit 0, no word)."""

    def ctrl_c(*_args, **_kwargs):  # the fit was reached: the option was taken
        raise KeyboardInterrupt

    monkeypatch.setattr("sim.app.calibrate.calibrate_population", ctrl_c)
    out = ["--out", str(tmp_path / "conf" / "population" / "x.yaml"), "--market-size", "1000"]
    code = main([str(write(tmp_path, TABLES[table])), "--no-progress", *args, *(out if table != "survival" else [])])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert err.replace(f"{tmp_path}/", "").startswith(f"opsim-calibrate: error: {message}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]


@pytest.mark.parametrize(
    ("table", "args"),
    [
        ("wide", ["--values", "counts"]),
        ("wide", ["--format", "wide", "--measure", "rolling"]),
        ("long", ["--cohort-users", "5000", "--max-iterations", "2", "--seed", "3", "--forecast-days", "30"]),
        ("long", ["--new-users", NEW_USERS, "--base", "game", "--sample-size", "10"]),
    ],
)
def test_an_option_that_applies_to_the_cohort_table_is_taken(tmp_path, capsys, monkeypatch, table, args):
    def ctrl_c(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("sim.app.calibrate.calibrate_population", ctrl_c)
    out = ["--out", str(tmp_path / "conf" / "population" / "x.yaml"), "--market-size", "1000"]
    assert main([str(write(tmp_path, TABLES[table])), "--no-progress", *args, *out]) == 130  # reached the fit
    assert "interrupted" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args",
    [
        ["--holdout", "2"],
        ["--format", "survival", "--holdout", "3"],
        ["--period-days", "7", "--base", "game", "--sample-size", "100", "--market-size", "1000"],
    ],
)
def test_an_option_that_applies_to_the_survival_table_is_taken(tmp_path, capsys, args):
    argv = [str(write(tmp_path, SURVIVAL)), "--report", str(tmp_path / "rep"), *args]
    if "--period-days" in args:
        argv += ["--out", str(tmp_path / "conf" / "population" / "subs.yaml")]
    assert main(argv) == 0
    assert "error" not in capsys.readouterr().err
    assert (tmp_path / "rep" / "survival_fit.json").is_file()


def test_write_all_writes_everything_or_nothing(tmp_path):
    keep = tmp_path / "a.txt"
    keep.write_text("old")

    def fail(path: Path) -> None:
        raise OSError(28, "No space left on device", str(path))

    with pytest.raises(OutputError) as info:
        write_all({keep: lambda p: p.write_text("new"), tmp_path / "new" / "b.txt": fail})
    # the target, not the temporary name it was being written under
    assert str(info.value) == f"cannot write {tmp_path / 'new' / 'b.txt'}: No space left on device"
    assert info.value.errno == 28 and isinstance(info.value, OSError)
    assert keep.read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["a.txt"]  # no temporaries, no new folder
    write_all({keep: lambda p: p.write_text("new"), tmp_path / "new" / "b.txt": lambda p: p.write_text("b")})
    assert keep.read_text() == "new" and (tmp_path / "new" / "b.txt").read_text() == "b"


def _three_targets(tmp_path: Path) -> tuple[Path, Path, Path]:
    """a.txt (old), b.txt (not there yet), and c: a folder with a file in it, in the way of a file of that name."""
    old, new, in_the_way = tmp_path / "a.txt", tmp_path / "b.txt", tmp_path / "c"
    old.write_text("old")
    in_the_way.mkdir()
    (in_the_way / "inside.txt").write_text("kept")
    return old, new, in_the_way


def test_a_rename_that_fails_puts_back_the_files_already_replaced(tmp_path):
    """A real failure of the last rename (a folder in the way): the first file is the old one again, same inode."""
    old, new, in_the_way = _three_targets(tmp_path)
    inode = old.stat().st_ino
    with pytest.raises(OutputError) as info:
        write_all({target: lambda p: p.write_text("new") for target in (old, new, in_the_way)})
    assert str(info.value) == f"cannot write {in_the_way}: Is a directory"
    assert info.value.errno == errno.EISDIR  # the system's error number is kept (exit codes and callers read it)
    assert old.read_text() == "old" and old.stat().st_ino == inode  # the old file itself, not a copy
    assert not new.exists()  # it was not there before
    assert (in_the_way / "inside.txt").read_text() == "kept"
    assert sorted(os.listdir(tmp_path)) == ["a.txt", "c"]  # no temporaries, no backups left


def test_the_backup_of_a_file_whose_rename_failed_is_removed_too(tmp_path, monkeypatch):
    """b.txt existed, so it was linked before its rename, which fails: b.txt keeps its content, no link is left."""
    import sim.output.files

    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("old a")
    second.write_text("old b")
    replace = os.replace

    def second_fails(src, dst):
        if Path(dst) == second:
            raise OSError(5, "Input/output error")
        replace(src, dst)

    monkeypatch.setattr(sim.output.files.os, "replace", second_fails)
    with pytest.raises(OutputError, match=rf"^cannot write {re.escape(str(second))}: Input/output error$"):
        write_all({first: lambda p: p.write_text("new"), second: lambda p: p.write_text("new")})
    assert (first.read_text(), second.read_text()) == ("old a", "old b")
    assert sorted(os.listdir(tmp_path)) == ["a.txt", "b.txt"]


def test_without_hard_links_a_failed_rename_leaves_the_replaced_files_new(tmp_path, monkeypatch):
    """Where the file system has no links the old file cannot be kept: documented; still nothing else left."""
    import sim.output.files

    def no_links(*_args, **_kwargs):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(sim.output.files.os, "link", no_links)
    old, new, in_the_way = _three_targets(tmp_path)
    with pytest.raises(OutputError, match="Is a directory"):
        write_all({target: lambda p: p.write_text("new") for target in (old, new, in_the_way)})
    assert old.read_text() == "new" and not new.exists()
    assert sorted(os.listdir(tmp_path)) == ["a.txt", "c"]
    write_all({old: lambda p: p.write_text("again"), new: lambda p: p.write_text("b")})  # and it still writes
    assert old.read_text() == "again" and new.read_text() == "b"
    assert sorted(os.listdir(tmp_path)) == ["a.txt", "b.txt", "c"]


def test_an_old_file_that_cannot_be_put_back_is_kept_under_its_backup_name(tmp_path, monkeypatch):
    """Both the rename and the way back fail: the old content is not deleted with the backups."""
    import sim.output.files

    old, _new, in_the_way = _three_targets(tmp_path)
    replace = os.replace

    def no_way_back(src, dst):
        if Path(src).name.startswith(".a.txt.") and Path(dst) == old and old.read_text() == "new":
            raise OSError(5, "Input/output error")  # renaming the backup back over a.txt
        replace(src, dst)

    monkeypatch.setattr(sim.output.files.os, "replace", no_way_back)
    with pytest.raises(OutputError, match="Is a directory"):
        write_all({old: lambda p: p.write_text("new"), in_the_way: lambda p: p.write_text("new")})
    kept = [p for p in tmp_path.iterdir() if p.name.startswith(".a.txt.")]
    assert old.read_text() == "new" and [p.read_text() for p in kept] == ["old"]
    assert remove_temporaries(tmp_path) == kept  # a temporary name: the next write into the folder clears it


def test_a_new_file_that_cannot_be_removed_does_not_stop_the_old_ones_being_put_back(tmp_path, monkeypatch):
    """b.txt (new) is gone before the way back, so removing it fails: a.txt is still put back, the rename's error raised."""
    import sim.output.files

    old, new, in_the_way = _three_targets(tmp_path)
    replace = os.replace

    def b_vanishes(src, dst):
        if Path(dst) == in_the_way:
            new.unlink()  # removing it on the way back then fails
        replace(src, dst)

    monkeypatch.setattr(sim.output.files.os, "replace", b_vanishes)
    with pytest.raises(OutputError, match="Is a directory"):
        write_all({target: lambda p: p.write_text("new") for target in (old, new, in_the_way)})
    assert old.read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["a.txt", "c"]


def test_a_backup_name_already_taken_is_not_reused(tmp_path, monkeypatch):
    """The first random name is taken: the next one is tried; when every try is taken, there is no backup."""
    import sim.output.files

    target = tmp_path / "a.txt"
    target.write_text("old")
    taken = tmp_path / ".a.txt.00000000.tmp"
    taken.write_text("someone else's")
    names = iter(["00000000", "11111111"])
    monkeypatch.setattr(sim.output.files.secrets, "token_hex", lambda _n: next(names))
    backup = _backup(target)
    assert backup == tmp_path / ".a.txt.11111111.tmp" and backup.read_text() == "old"
    assert taken.read_text() == "someone else's"
    monkeypatch.setattr(sim.output.files.secrets, "token_hex", lambda _n: "00000000")  # always taken
    assert _backup(target) is NO_BACKUP


def test_files_are_written_under_folders_that_do_not_exist_yet(tmp_path):
    deep = tmp_path / "x" / "y" / "z.txt"
    write_all({deep: lambda p: p.write_text("z")})
    assert deep.read_text() == "z"


def test_an_os_error_without_a_system_reason_is_named_by_its_message(tmp_path):
    """A writer's own OSError (no strerror): its text is the reason, not "None"."""
    target = tmp_path / "a.txt"

    def gone(_path: Path) -> None:
        raise OSError("disk gone")

    with pytest.raises(OutputError) as info:
        write_all({target: gone})
    assert str(info.value) == f"cannot write {target}: disk gone"
    assert list(tmp_path.iterdir()) == []


def test_a_ctrl_c_while_the_files_are_renamed_comes_after_the_last_one(tmp_path, monkeypatch):
    """A real SIGINT at the first rename: every file is new when the KeyboardInterrupt arrives."""
    import signal

    import sim.output.files

    targets = [tmp_path / name for name in ("a.txt", "b.txt", "c.txt")]
    for target in targets:
        target.write_text("old")
    replace, renamed = os.replace, []

    def rename_with_ctrl_c(tmp, path):
        if not renamed:
            signal.raise_signal(signal.SIGINT)  # as a terminal's Ctrl-C; handled at the next bytecode
        replace(tmp, path)
        renamed.append(path)

    monkeypatch.setattr(sim.output.files.os, "replace", rename_with_ctrl_c)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # Python's handler, whatever the runner set
    try:
        with pytest.raises(KeyboardInterrupt):
            write_all({target: lambda p: p.write_text("new") for target in targets})
        assert [t.read_text() for t in targets] == ["new"] * 3 and renamed == targets
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is given back
        write_all({targets[0]: lambda p: p.write_text("again")})  # no Ctrl-C: nothing raised
        assert targets[0].read_text() == "again"
    finally:
        signal.signal(signal.SIGINT, previous)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt", "c.txt"]  # no temporaries left


@pytest.mark.parametrize("where", ["while fitting", "while writing"])
def test_ctrl_c_is_one_line_exit_130_and_nothing_written(tmp_path, capsys, monkeypatch, where):
    import sim.app.calibrate

    def ctrl_c(*_args, **_kwargs):
        raise KeyboardInterrupt

    if where == "while fitting":
        monkeypatch.setattr(sim.app.calibrate, "fit_population", ctrl_c)
        said = "opsim-calibrate: interrupted: nothing was written; run the same command again"
    else:  # the report's CSV, after the population's YAML has its temporary file
        monkeypatch.setattr(sim.app.calibrate, "csv_writer", lambda _frame: ctrl_c)
        said = (
            "opsim-calibrate: interrupted while its outputs were being written (all of them or none were replaced); "
            "run the same command again"
        )
    out = tmp_path / "conf" / "population" / "x.yaml"
    args = ["--out", str(out), "--market-size", "1000", "--report", str(tmp_path / "rep"), "--no-progress"]
    data = EXAMPLES / ("cohorts_example.csv" if where == "while fitting" else "survival_example.csv")  # a quick fit
    assert main([str(data), *args]) == 130
    assert capsys.readouterr().err == said + "\n"
    assert list(tmp_path.iterdir()) == []  # no file, no temporary, no folder


def test_an_output_that_cannot_be_written_is_one_line_and_a_bug_is_not_hidden(tmp_path, capsys, monkeypatch):
    import errno

    import sim.app.calibrate

    target = tmp_path / "conf" / "population" / "x.yaml"

    def no_space(_files):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))

    args = [str(EXAMPLES / "survival_example.csv"), "--out", str(target), "--market-size", "1000", "--no-progress"]
    real_write_all = sim.app.calibrate.write_all
    victims = []

    def one_file_meets_a_full_disk(files):  # the real all-or-nothing write; one file's write fails, as on a full disk
        files = dict(files)
        victims.append(sorted(files, key=str)[-1])

        def full(temporary):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(temporary))

        files[victims[0]] = full
        real_write_all(files)

    monkeypatch.setattr(sim.app.calibrate, "write_all", one_file_meets_a_full_disk)
    assert main(args) == 2
    assert capsys.readouterr().err == (  # the file's own name, not its temporary one
        f"opsim-calibrate: error: could not write {victims[0]}: {os.strerror(errno.ENOSPC)}; nothing was written\n"
    )
    assert not target.exists() and not [p for p in tmp_path.rglob("*") if p.is_file()]
    monkeypatch.setattr(sim.app.calibrate, "write_all", no_space)
    assert main(args) == 2
    assert capsys.readouterr().err == (
        f"opsim-calibrate: error: could not write {target}: {os.strerror(errno.ENOSPC)}; nothing was written\n"
    )

    def bug(_files):
        raise RuntimeError("a bug")

    monkeypatch.setattr(sim.app.calibrate, "write_all", bug)
    with pytest.raises(RuntimeError, match="a bug"):  # not turned into a line that hides it
        main(args)


@pytest.mark.parametrize("where", ["while simulating", "while writing"])
def test_ctrl_c_in_the_lift_command_is_one_line_exit_130_and_nothing_written(tmp_path, capsys, monkeypatch, where):
    def ctrl_c(*_args, **_kwargs):
        raise KeyboardInterrupt

    if where == "while simulating":
        monkeypatch.setattr("sim.app.lift.simulate_cohorts", ctrl_c)
        said = "opsim-calibrate: interrupted: nothing was written; run the same command again"
    else:
        monkeypatch.setattr("sim.app.lift.write_all", ctrl_c)
        said = (
            "opsim-calibrate: interrupted while its outputs were being written (all of them or none were replaced); "
            "run the same command again"
        )
    out = tmp_path / "conf" / "strategy" / "p.yaml"
    ab = str(EXAMPLES / "push_ab.yaml")
    argv = ["lift", ab, "--population", "consumer_app", "--out", str(out), "--no-progress", "--arm-users", "100"]
    assert main(argv) == 130
    assert capsys.readouterr().err == said + "\n"
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------- survival → population
def test_survival_table_writes_a_population_that_loads(tmp_path):
    out = tmp_path / "conf" / "population" / "subs.yaml"
    code = main(
        [str(EXAMPLES / "survival_example.csv"), "--out", str(out), "--market-size", "50000", "--period-days", "30"]
    )
    assert code == 0
    text = out.read_text()
    assert "run it: opsim --config-dir" in text
    from sim.app.config import compose, load_config

    cfg = load_config(compose(["population=subs"], extra_dir=str(tmp_path / "conf")))
    churn = cfg.population.segments["subscribers"].churn
    # The daily BdW reproduces the yearly... here 30-day-period sBG fit S(t) = B(a, b + t)/B(a, b) at period ends.
    from sim.analysis.survival_fit import fit_survival, survival_curve

    fit = fit_survival(np.array([1000, 631, 468, 382, 326, 289, 262, 241]) / 1000, cohort_size=1000, model="bdw")
    t = np.arange(8)
    period = survival_curve(t, fit.params_["a"], fit.params_["b"], fit.params_["c"])
    daily = survival_curve(30 * t, churn.a, churn.b, churn.c)
    assert np.abs(daily - period).max() < 0.01
    assert cfg.population.market_size == 50_000 and cfg.population.resurrection_rate == 0


# ----------------------------------------------------------------------- A/B files
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lever: paid_ads\nmetrics: []\n", r"lever='paid_ads' is not allowed: one of push, onboarding"),
        ("lever: push\n", r"metrics is missing"),
        (
            "lever: push\nmetrics:\n  - {metric: d0, control: {users: 10, value: 0.1}, treatment: {users: 10, value: 0.2}}\n",
            r"metrics\[0\].metric='d0' is not allowed",
        ),
        (
            "lever: push\nmetrics:\n  - {metric: visits, window_days: 7, control: {users: 10, value: 1.1}, treatment: {users: 10, value: 1.2}}\n",
            r"metrics\[0\].control.sd is missing",
        ),
        (
            "lever: push\nmetrics:\n  - {metric: d7, control: {users: 0, value: 0.1}, treatment: {users: 10, value: 0.2}}\n",
            r"metrics\[0\].control.users=0 is not allowed",
        ),
        (
            "lever: push\nmetrics:\n  - {metric: d7, control: {users: 10, value: 1.5}, treatment: {users: 10, value: 0.2}}\n",
            r"metrics\[0\].control.value=1.5 is not allowed",
        ),
        ("lever: push\ncolour: red\n", r"colour is not allowed: unknown key"),
        ("lever: [push\n", r"not a readable YAML file"),
    ],
)
def test_bad_ab_file_names_file_and_key(tmp_path, text, message):
    path = write(tmp_path, text, "ab.yaml")
    with pytest.raises(DataError, match=message) as info:
        read_ab_result(path, {k: [next(iter(v))] for k, v in LIFT_PARAMETERS.items()})
    assert str(info.value).startswith(str(path))


def test_lift_command_refuses_bad_settings_before_simulating(tmp_path, capsys, monkeypatch):
    def no_simulation(*_args, **_kwargs):
        raise AssertionError("simulated before the settings were checked")

    monkeypatch.setattr("sim.app.lift.simulate_cohorts", no_simulation)
    ab = write(
        tmp_path,
        (EXAMPLES / "push_ab.yaml").read_text().replace("messages_per_week: 2", "messages_per_week: 9"),
        "ab.yaml",
    )
    out = tmp_path / "conf" / "strategy" / "p.yaml"
    assert main(["lift", str(ab), "--population", "consumer_app", "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    # named as the A/B file has it, in that file: it said "strategy.push.messages_per_week=9.0 is not allowed"
    assert err.startswith(f"opsim-calibrate: error: {ab}: settings.messages_per_week=9 is not allowed: ")
    assert err.count("\n") == 1
    assert not (tmp_path / "conf").exists()


PUSH_KEYS = (
    "enabled, messages_per_week, cost_per_message, visit_lift, fatigue_decay, fatigue_churn, opt_out_per_fatigue, "
    "schedule, target"
)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        # it printed OmegaConf's "Key 'messages_per_wek' not in 'PushConfig' full_key: … reference_type=PushConfig …"
        (
            "{messages_per_wek: 2}",
            f"settings.messages_per_wek=2 is not allowed: not a setting of push; one of {PUSH_KEYS}",
        ),
        (
            "{messages_per_week: 2, schedule: {start_dy: 3}}",
            "settings.schedule.start_dy=3 is not allowed: not a setting of push.schedule; "
            "one of start_day, end_day, days_of_week",
        ),
        ("{schedule: 5}", "settings.schedule=5 is not allowed: a mapping of start_day, end_day, days_of_week"),
        ("{messages_per_week: two}", "settings.messages_per_week='two' is not allowed: "),
        # a list position in OmegaConf's key: its value was shown as None
        ("{schedule: {days_of_week: [mon]}}", "settings.schedule.days_of_week[0]='mon' is not allowed: "),
        ("{messages_per_week: 2, schedule: {start_day: 3}}", None),  # every key known: on to the simulation
    ],
)
def test_lift_settings_unknown_to_the_lever_are_one_line_naming_the_allowed_keys(
    tmp_path, capsys, monkeypatch, settings, message
):
    def ctrl_c(*_args, **_kwargs):  # the settings were taken: the simulation was reached
        raise KeyboardInterrupt

    monkeypatch.setattr("sim.app.lift.simulate_cohorts", ctrl_c)
    text = (EXAMPLES / "push_ab.yaml").read_text()
    text = re.sub(r"settings:.*\n  messages_per_week: 2\n", f"settings: {settings}\n", text)
    assert f"settings: {settings}" in text
    ab = write(tmp_path, text, "ab.yaml")
    out = tmp_path / "conf" / "strategy" / "p.yaml"
    code = main(["lift", str(ab), "--population", "consumer_app", "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    if message is None:
        assert code == 130 and "interrupted" in err
    else:
        assert code == 2
        assert err.startswith(f"opsim-calibrate: error: {ab}: {message}")
        assert err.count("\n") == 1 and "full_key" not in err and "reference_type" not in err
    assert not (tmp_path / "conf").exists()


def test_rolling_statistics_and_covariance_for_independent_days():
    # Days independent Bernoulli(p), one cohort per weekday observed to day 3: the rolling share
    # R_n = P(a visit on days n … 3) = 1 − (1 − p)^(4 − n), its variance R_n(1 − R_n)/N, and
    # Cov(R_1, R_2) = R_2 − R_1·R_2 per user (a visit on days 2-3 implies one on days 1-3), over N.
    rng = np.random.default_rng(8)
    p, users = 0.2, 40_000
    act = np.column_stack([np.ones(users, bool), rng.random((users, 3)) < p])
    sim = SimulatedUsers(rng.integers(0, 7, users), act)
    sizes = np.full(7, 100)
    design = CohortDesign(sizes, np.arange(7), np.ones((7, 4), bool), None, np.zeros((7, 4), int), min_users=1)
    assert design.labels == ["R1", "R2", "R3"]
    r = 1 - (1 - p) ** np.array([3, 2, 1])
    # simulated shares from 40,000 users: SE about sqrt(0.25/40,000) = 0.0025
    assert design.statistics(sim) == pytest.approx(r, abs=0.01)
    omega = design.data_covariance([sim], np.array([1.0]))
    n = 700
    assert np.diag(omega) == pytest.approx(r * (1 - r) / n, rel=0.05)
    assert omega[0, 1] == pytest.approx((r[1] - r[0] * r[1]) / n, rel=0.05)


def test_the_line_for_outputs_that_could_not_be_written_names_the_file_and_the_reason():
    import errno

    from sim.app.preflight import unwritten_line

    full = OSError(errno.ENOSPC, "No space left on device", "out/myshop.yaml")
    assert unwritten_line("opsim-calibrate", full) == (
        "opsim-calibrate: error: could not write out/myshop.yaml: No space left on device; nothing was written"
    )
    bare = OSError("disk quota exceeded")  # no file name, no strerror
    assert unwritten_line("opsim-calibrate", bare) == (
        "opsim-calibrate: error: could not write an output file: disk quota exceeded; nothing was written"
    )


@pytest.mark.parametrize("sample", ["1", "999", "1000"])
def test_a_sample_up_to_the_market_is_taken(tmp_path, sample):
    """The other side of refusing --sample-size above --market-size: 1 to M are taken."""
    from sim.app import calibrate

    args = calibrate._parser().parse_args(["data.csv", "--market-size", "1000", "--sample-size", sample])
    calibrate._check_options(args)  # no error


@pytest.mark.parametrize(
    ("done", "n", "total", "after"),
    [
        (100, 19, 120, 120),  # one short of the estimate: kept
        (100, 20, 120, 130),  # would reach it (100 %) with more to come: one iteration more
        (100, 35, 120, 140),  # a batch past it: as many iterations as it takes
    ],
)
def test_the_progress_estimate_grows_before_the_bar_would_reach_it(done, n, total, after):
    """The bar showed 100 % at every extension (total 138 -> 148 -> ... -> 218 -> 214 in a slow fit)."""
    from sim.app.calibrate import estimate_after

    assert estimate_after(done, n, total, step=10) == after
