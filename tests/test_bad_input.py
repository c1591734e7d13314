"""Bad input, as a user gives it: one line naming the key, file or row and what is allowed; no traceback; nothing written.

Cases run the commands' entry points in this process (``opsim``'s ``main``, ``opsim -m``,
``opsim-report``, ``opsim-calibrate``) and the Python API, each in an empty working
folder; three run the installed console script in a subprocess to see exactly what
a terminal shows. Each asserts the exit code (2: bad input), that the first line of
stderr starts with ``PROG: error:`` and names the key/file/row and what is allowed,
that no traceback is printed, and that no file or folder was created.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import sim
import sim.app.cli
from sim.app import calibrate, cli, memory, report_cli, threads

#: Tiny runs: a case that wrongly started would still finish fast.
TINY = ["population.market_size=500", "horizon_days=5", "figures=false"]
#: Pretend the machine has 1 GB free: large markets must be refused before anything is allocated.
SMALL_MACHINE = (10**9, "a test's stand-in for MemAvailable")


def _tiny(argv: list[str]) -> list[str]:
    """``argv`` plus the tiny settings it does not set itself (a key may be given once only)."""
    given = {a.lstrip("+~").split("=", 1)[0] for a in argv}
    return [*argv, *(t for t in TINY if t.split("=", 1)[0] not in given)]


def _files(root: Path) -> set[Path]:
    return {p.relative_to(root) for p in root.rglob("*")}


def _assert_one_clear_line(err: str, prog: str, *fragments: str) -> None:
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines, "nothing printed"
    assert lines[0].startswith(f"{prog}: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert len(lines) == 1, err


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """An empty working folder (with a study folder of bad presets next to it) and argv[0] = opsim."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["opsim"])
    return tmp_path


@pytest.fixture
def bad_presets(tmp_path_factory):
    """A --config-dir with a strategy and a population preset that hold a typo."""
    folder = tmp_path_factory.mktemp("presets")
    (folder / "strategy").mkdir()
    (folder / "strategy" / "typo.yaml").write_text("name: typo\npaid_ads:\n  search:\n    daily_budgt: 100\n")
    (folder / "population").mkdir()
    (folder / "population" / "ptypo.yaml").write_text("defaults: [consumer_app]\nmarkt_size: 100\n")
    return folder


# ------------------------------------------------------------------ opsim
OPSIM_CASES = [
    # (id, argv, fragments of the first line)
    ("negative market", ["population.market_size=-1"], ["population.market_size=-1", "a number >= 1"]),
    ("unknown key", ["+population.colour=red"], ["population.colour='red'", "expected one of name, market_size"]),
    ("not an integer", ["horizon_days=ten"], ["horizon_days='ten'", "an integer"]),
    ("horizon 0", ["horizon_days=0"], ["horizon_days=0", ">= 1"]),
    ("horizon too long", ["horizon_days=4000"], ["horizon_days=4000", "<= 3650"]),
    ("probability > 1", ["population.awareness.p=1.5"], ["population.awareness.p=1.5", "<= 1"]),
    ("negative seed", ["seed=-1"], ["seed=-1", ">= 0"]),
    ("agents choice", ["agents=some"], ["agents='some'", "one of auto, all, lazy"]),
    ("bool", ["record_events=maybe"], ["record_events='maybe'", "true or false"]),
    ("strategy preset", ["strategy=nosuch"], ["strategy='nosuch'", "conf/strategy/", "baseline"]),
    ("population preset", ["population=nosuch"], ["population='nosuch'", "consumer_app, ecommerce, game"]),
    (
        "strategy key typo",
        ["strategy=paid_growth", "strategy.paid_ads.search.daily_budgt=5"],
        ["strategy.paid_ads.search.daily_budgt", "expected one of daily_budget, period_budgets, period_days, cpm"],
    ),
    ("lever range", ["strategy=activation_push", "strategy.push.messages_per_week=9"], ["messages_per_week=9", "<= 7"]),
    ("margin", ["economics.margin=2"], ["economics.margin=2", "<= 1"]),
    (
        "list element",
        ["economics.spend_response_multipliers=[1,-1]"],
        ["economics.spend_response_multipliers[1]", ">= 0"],
    ),
    ("sample of nobody", ["population.sample_size=0"], ["population.sample_size=0", ">= 1"]),
    ("interpolation", ["horizon_days=${nosuch}"], ["horizon_days='${nosuch}'", "an interpolation that resolves"]),
    ("key twice, the first bad", ["seed=x", "seed=1"], ["seed='x'", "an integer"]),
    ("no key", ["=5"], ["override='=5'", "a key before '='"]),
    ("no equals", ["foo"], ["override='foo'", "key=value"]),
    (
        "hydra key typo",
        ["hydra.run.dri=/tmp/x"],
        ["hydra.run.dri='/tmp/x'", "unknown key in hydra.run; expected one of dir"],
    ),
    (
        "unclosed list",
        ["population.weekly_visit_pattern=[1,1,1"],
        ["population.weekly_visit_pattern='[1,1,1'", "valid override syntax"],
    ),
    # opsim --help listed plan: quarter_growth; plan= then said "Could not override 'plan'" naming the command line
    ("planner preset", ["plan=quarter_growth"], ["plan='quarter_growth'", "opsim-plan plan=quarter_growth"]),
    (
        "new entry without +",
        ["strategy=paid_growth", "add@strategy.paid_ads.tiktok=channel"],
        ["add@strategy.paid_ads.tiktok='channel'", "with a leading +: +add@strategy.paid_ads.tiktok=channel"],
    ),
    (
        "new entry without + given twice",  # its value was shown as None in the key and the advice
        ["add@strategy.paid_ads.tv=channel", "add@strategy.paid_ads.tv=channel"],
        ["add@strategy.paid_ads.tv='channel'", "+add@strategy.paid_ads.tv=channel"],
    ),
    (
        "new map entry given twice",  # it said tt=<object object at 0x…> and "a mapping of its keys, not one value"
        ["+strategy.paid_ads.tt={cpm:5}", "+strategy.paid_ads.tt={cpm:6}"],
        ["strategy.paid_ads.tt='{cpm:5}' is not allowed: strategy.paid_ads has no entry 'tt'", "+add@strategy."],
    ),
    ("missing config dir", ["--config-dir", "no/such/folder"], ["--config-dir='no/such/folder'", "an existing folder"]),
    ("unknown flag", ["--bogus"], ["unrecognized arguments: --bogus", "opsim --help"]),
    ("unknown config name", ["--config-name", "nosuch"], ["--config-name='nosuch'", "a config file"]),
    (
        "too large for memory",
        ["population.market_size=2147483647"],
        ["population.sample_size=2147483647", "is available", "or fewer (about"],
    ),
]


@pytest.mark.parametrize(("argv", "fragments"), [c[1:] for c in OPSIM_CASES], ids=[c[0] for c in OPSIM_CASES])
def test_opsim_bad_input(workdir, capsys, monkeypatch, argv, fragments):
    monkeypatch.setattr(memory, "available_memory", lambda: SMALL_MACHINE)
    with pytest.raises(SystemExit) as info:
        sim.app.cli.main([*_tiny(argv), f"hydra.run.dir={workdir / 'run'}"])
    assert info.value.code == 2
    _assert_one_clear_line(capsys.readouterr().err, "opsim", *fragments)
    assert _files(workdir) == set()


def test_opsim_plan_names_a_new_variable_given_twice_by_its_first_value(workdir, capsys):
    """It said plan.variables.onb=<object object at 0x…> and that a variable is not one value."""
    from sim.app.plan import main as plan_main

    onb = "+plan.variables.onb={key:strategy.onboarding.days,low:1,high:14}"
    with pytest.raises(SystemExit) as info:
        plan_main([onb, onb.replace("high:14", "high:7"), f"hydra.run.dir={workdir / 'plan'}"])
    assert info.value.code == 2
    _assert_one_clear_line(
        capsys.readouterr().err,
        "opsim-plan",
        "plan.variables.onb='{key:strategy.onboarding.days,low:1,high:14}' is not allowed: plan.variables has no "
        "entry 'onb': create it first with +add@plan.variables.onb=variable",
    )
    assert _files(workdir) == set()


@pytest.mark.parametrize(
    ("preset", "fragments"),
    [
        ("strategy=typo", ["strategy.paid_ads.search.daily_budgt=100", "expected one of daily_budget", "typo.yaml"]),
        ("population=ptypo", ["population.markt_size=100", "expected one of name, market_size", "ptypo.yaml"]),
    ],
)
def test_a_typo_in_a_preset_file_names_the_file(workdir, capsys, bad_presets, preset, fragments):
    before = _files(bad_presets)
    with pytest.raises(SystemExit) as info:
        sim.app.cli.main(["--config-dir", str(bad_presets), *_tiny([preset]), f"hydra.run.dir={workdir / 'run'}"])
    assert info.value.code == 2
    _assert_one_clear_line(capsys.readouterr().err, "opsim", *fragments, str(bad_presets))
    assert _files(workdir) == set() and _files(bad_presets) == before


# --------------------------------------------------------------- opsim -m
SWEEP_CASES = [
    (
        "unclosed list",
        ["seed=0,1", "population.weekly_visit_pattern=[1,1,1"],
        ["population.weekly_visit_pattern='[1,1,1'", "valid override syntax"],
    ),
    (
        "unquoted markup",
        ["seed=0,1", "strategy.name=<b>x</b>"],
        ["strategy.name='<b>x</b>'", "unexpected '<' at character 15"],
    ),
    ("no equals", ["seed=0,1", "foo"], ["override='foo'", "key=value"]),
    ("second value", ["population.awareness.p=0.001,7"], ["population.awareness.p=7", "<= 1"]),
    ("interpolation", ["horizon_days=${nosuch},3"], ["horizon_days='${nosuch}'", "an interpolation that resolves"]),
    ("swept key twice", ["seed=0,1", "seed=2"], ["seed=['0,1', '2']", "given 2 times"]),
    # two jobs of one config wrote one folder: "1 of 2 jobs left no result and no FAILED.json", exit 1
    ("a value twice", ["seed=1,1"], ["seed='1,1' is not allowed: each value once (1 is given twice)"]),
    (
        "a value twice, another key swept",
        ["seed=1,2", "horizon_days=5,5"],
        ["horizon_days='5,5'", "(5 is given twice)"],
    ),
    # two spellings of one value: the same simulation twice, each a point of the comparison
    (
        "one value spelt twice",
        ["record_events=0,false"],
        ["record_events='0,False' is not allowed: values that each give another run (0 and False are the same run)"],
    ),
    ("launcher", ["seed=0,1", "hydra/launcher=nope"], ["hydra/launcher='nope'", "joblib", "ray_cluster"]),
    # "expected a key the schema defines": no word of where n_jobs comes from
    (
        "n_jobs without joblib",
        ["seed=0,1", "hydra.launcher.n_jobs=2"],
        ["hydra.launcher.n_jobs='2'", "no key with the default launcher", "hydra/launcher=joblib"],
    ),
    (
        "joblib key typo",
        ["seed=0,1", "hydra/launcher=joblib", "hydra.launcher.n_job=2"],
        ["hydra.launcher.n_job='2'", "expected one of n_jobs, backend"],
    ),
    (
        "one job too large",
        ["population.market_size=1000,2147483647"],
        ["population.sample_size=2147483647", "is available"],
    ),
    (
        "joblib n_jobs 0",  # joblib refused it with a traceback once the sweep had begun, its records written
        ["seed=0,1", "hydra/launcher=joblib", "hydra.launcher.n_jobs=0"],
        ["hydra.launcher.n_jobs=0", "not 0 (-1: one per core"],
    ),
    (
        "parallel jobs too large",
        ["seed=0,1,2,3", "population.market_size=5000000", "hydra/launcher=joblib", "hydra.launcher.n_jobs=4"],
        ["population.sample_size=5000000", "for 4 jobs side by side"],
    ),
]


@pytest.mark.parametrize(
    ("values", "taken"),
    [
        ("0,1", [False, True]),
        ("yes,off", [True, False]),
        ("off,TRUE", [False, True]),
        ("true,2", None),
        ("true,maybe", None),
    ],
)
def test_a_sweep_takes_for_a_true_or_false_key_what_a_single_run_takes(workdir, values, taken):
    """``opsim -m figures=0,1`` was refused ("figures='1' is not allowed: true or false") though figures=1 runs."""
    from sim.app.cli import check_overrides

    argv = ["-m", *_tiny([f"figures={values}"]), f"hydra.sweep.dir={workdir / 'sweep'}"]
    second = values.split(",")[1]
    if taken is None:  # refused as a single run refuses it
        with pytest.raises(sim.ConfigError) as swept:
            check_overrides(argv)
        with pytest.raises(sim.ConfigError) as single:
            check_overrides([*_tiny([f"figures={second}"]), f"hydra.run.dir={workdir / 'run'}"])
        assert str(swept.value) == str(single.value)
        return
    assert [c.figures for c in check_overrides(argv).configs] == taken
    assert _files(workdir) == set()


@pytest.mark.parametrize(("argv", "fragments"), [c[1:] for c in SWEEP_CASES], ids=[c[0] for c in SWEEP_CASES])
def test_sweep_bad_input(workdir, capsys, monkeypatch, argv, fragments):
    monkeypatch.setattr(memory, "available_memory", lambda: SMALL_MACHINE)
    with pytest.raises(SystemExit) as info:
        sim.app.cli.main(["-m", *_tiny(argv), f"hydra.sweep.dir={workdir / 'sweep'}"])
    assert info.value.code == 2
    _assert_one_clear_line(capsys.readouterr().err, "opsim", *fragments)
    assert _files(workdir) == set()


@pytest.mark.parametrize(
    ("mode", "folder", "why"),
    [
        ("run", "afile", "(it is a file)"),
        ("sweep", "afile", "(it is a file)"),
        ("sweep", "afile/sub", "afile is a file)"),  # a sweep crashed in clearing the folder's summary
    ],
)
def test_a_run_or_sweep_folder_that_is_a_file_is_refused(workdir, capsys, mode, folder, why):
    (workdir / "afile").write_text("mine\n")
    key = "hydra.sweep.dir" if mode == "sweep" else "hydra.run.dir"
    argv = ["-m", "seed=0,1"] if mode == "sweep" else []
    with pytest.raises(SystemExit) as info:
        sim.app.cli.main([*_tiny(argv), f"{key}={workdir / folder}"])
    assert info.value.code == 2
    _assert_one_clear_line(capsys.readouterr().err, "opsim", f"{key}='{workdir / folder}'", "a folder", why)
    assert _files(workdir) == {Path("afile")} and (workdir / "afile").read_text() == "mine\n"


@pytest.mark.parametrize(("mode", "folder"), [("run", "link"), ("sweep", "link"), ("run", "link/sub")])
def test_a_folder_that_is_a_link_to_nothing_is_refused_in_one_line(workdir, capsys, mode, folder):
    """A dangling symlink stopped Hydra's makedirs with "File exists" and exit 1, naming neither key nor fix."""
    (workdir / "link").symlink_to(workdir / "nowhere")
    key = "hydra.sweep.dir" if mode == "sweep" else "hydra.run.dir"
    argv = ["-m", "seed=0,1"] if mode == "sweep" else []
    with pytest.raises(SystemExit) as info:
        sim.app.cli.main([*_tiny(argv), f"{key}={workdir / folder}"])
    assert info.value.code == 2
    why = "it is" if folder == "link" else f"{workdir / 'link'} is"
    _assert_one_clear_line(
        capsys.readouterr().err,
        "opsim",
        f"{key}='{workdir / folder}'",
        f"({why} a link to a missing {workdir / 'nowhere'})",
    )
    assert _files(workdir) == {Path("link")}


# ----------------------------------------------------------- opsim-report
def _report_cases(root: Path) -> list[tuple[str, list[str], list[str]]]:
    """Folders that are not what opsim-report expects (made under ``root``)."""
    (root / "empty").mkdir()
    broken = root / "broken_summary"
    broken.mkdir()
    (broken / "summary.json").write_text('{"market_size": 10, ')
    missing = root / "missing_daily"
    missing.mkdir()
    (missing / "summary.json").write_text('{"market_size": 10, "days": 1}')
    no_sweep = root / "not_a_sweep"
    no_sweep.mkdir()
    garbled = root / "garbled_sweep"
    garbled.mkdir()
    (garbled / "multirun.yaml").write_text("hydra: [unclosed\n")
    return [
        ("no such folder", [str(root / "nowhere")], [str(root / "nowhere"), "no such folder"]),
        ("a file", [str(broken / "summary.json")], [str(broken / "summary.json"), "a file, not a folder"]),
        ("empty folder", [str(root / "empty")], [str(root / "empty"), "no summary.json"]),
        ("malformed summary", [str(broken)], [str(broken / "summary.json"), "cannot be read"]),
        ("missing table", [str(missing)], [str(missing / "daily.parquet"), "missing"]),
        ("resume without a record", [str(no_sweep), "--resume"], [str(no_sweep), "no multirun.yaml"]),
        ("resume a garbled record", [str(garbled), "--resume"], [str(garbled / "multirun.yaml"), "not a readable"]),
        ("unknown flag", [str(root / "empty"), "--bogus"], ["unrecognized arguments: --bogus"]),
    ]


def test_report_bad_input(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cases = _report_cases(tmp_path)
    for name, argv, fragments in cases:
        before = _files(tmp_path)
        try:
            code = report_cli.main(argv)
        except SystemExit as stop:  # argparse
            code = stop.code
        assert code == 2, name
        _assert_one_clear_line(capsys.readouterr().err, "opsim-report", *fragments)
        assert _files(tmp_path) == before, name


# -------------------------------------------------------- opsim-calibrate
def test_calibrate_bad_input_that_is_one_line_already(tmp_path, capsys):
    """Each mistake is one line naming the file, the row or the option; nothing is written."""
    data = tmp_path / "cohorts.csv"
    data.write_text("cohort,day,cohort_size,active\nA,0,10,10\nA,1,10,x4\n")
    example = Path(__file__).resolve().parents[1] / "experiments" / "calibration" / "cohorts_example.csv"
    out = tmp_path / "conf" / "population" / "x.yaml"
    cases = [
        (
            [str(example), "--out", str(tmp_path / "out" / "x.yaml"), "--market-size", "1000"],
            ["--out=", "a folder named population"],
        ),
        ([str(example), "--out", str(out)], ["--market-size is missing: with --out it is required"]),
        (
            [str(tmp_path / "nowhere.csv"), "--out", str(out), "--market-size", "1000"],
            [str(tmp_path / "nowhere.csv"), "no such file"],
        ),
        (
            [str(data), "--out", str(out), "--market-size", "1000"],
            [str(data), "row 3, column 'active'", "not a number"],
        ),
        ([str(example), "--out", str(out), "--market-size", "-5"], ["--market-size=-5", "a whole number >= 1"]),
        (
            [str(example), "--out", str(out), "--market-size", "1000", "--sample-size", "0"],
            ["--sample-size=0", "a whole number >= 1"],
        ),
    ]
    for argv, fragments in cases:
        before = _files(tmp_path)
        assert calibrate.main(argv) == 2
        _assert_one_clear_line(capsys.readouterr().err, "opsim-calibrate", *fragments)
        assert _files(tmp_path) == before


# ------------------------------------------------------------- Python API
API_CASES = [
    (
        "bare string",
        lambda: sim.simulate("population.market_size=1000"),
        TypeError,
        ["not a string ('population.market_size=1000')", "a list of overrides"],
    ),
    (
        "interpolation in overrides",
        lambda: sim.simulate(["horizon_days=${nosuch}"]),
        sim.ConfigError,
        ["horizon_days='${nosuch}'", "an interpolation that resolves"],
    ),
    (
        "interpolation in a mapping",
        lambda: sim.load_config({"horizon_days": "${nosuch}"}),
        sim.ConfigError,
        ["horizon_days='${nosuch}'", "an interpolation that resolves"],
    ),
    (
        "key twice, the first bad",
        lambda: sim.load_config(["horizon_days=ten", "horizon_days=30"]),
        sim.ConfigError,
        ["horizon_days='ten'", "an integer"],
    ),
    (
        "wrong type in a mapping",
        lambda: sim.load_config({"population": {"market_size": "x"}}),
        sim.ConfigError,
        ["population.market_size='x'", "an integer"],
    ),
    (
        "model out of range",
        lambda: sim.UserLifecycleModel(["population.market_size=0"]),
        sim.ConfigError,
        ["population.market_size=0", ">= 1"],
    ),
    (
        "too large for memory",
        lambda: sim.simulate(["population.market_size=2147483647"]),
        sim.ConfigError,
        ["population.sample_size=2147483647", "is available", "or fewer (about"],
    ),
]


@pytest.mark.parametrize(("call", "error", "fragments"), [c[1:] for c in API_CASES], ids=[c[0] for c in API_CASES])
def test_api_bad_input(workdir, monkeypatch, call, error, fragments):
    monkeypatch.setattr(memory, "available_memory", lambda: SMALL_MACHINE)
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    assert _files(workdir) == set()


# ------------------------------------------- a flag argparse refuses, every command
def _exit_code(main, argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as stop:
        return stop.code


@pytest.mark.parametrize(
    ("prog", "argv", "fragment"),
    [
        (
            "opsim-calibrate",
            ["cohorts.csv", "--bogus", "1"],
            "unrecognized arguments: --bogus 1 (opsim-calibrate --help)",
        ),
        ("opsim-calibrate", [], "the following arguments are required: data (opsim-calibrate --help)"),
        ("opsim-calibrate lift", ["lift", "ab.yaml"], "required: --population, --out (opsim-calibrate lift --help)"),
        ("opsim-explore", ["--port", "x"], "--port='x' is not allowed: a whole number from 0 to 65535"),
        ("opsim-plan", ["--bogus"], "unrecognized arguments: --bogus (opsim-plan --help lists the flags"),
        ("opsim-plan", ["seed=x", "--cfg", "job"], "seed='x' is not allowed: an integer (got 'str')"),
        (
            "opsim",
            ["--cfg", "job", "plan=quarter_growth"],
            "plan='quarter_growth' is not allowed: a preset for opsim-plan",
        ),
        ("opsim-plan", ["--info", "defaults", "plan.trials=0"], "plan.trials=0 is not allowed: a number >= 1"),
        # Hydra reads --experimental-rerun only in @hydra.main: opsim ran the default config instead, a whole
        # default run into a new folder; with a space, FILE was refused as an override ("extraneous input '/'")
        ("opsim", ["--experimental-rerun", "/runs/a/.hydra/config.pickle"], "--experimental-rerun /runs/a/"),
        ("opsim", ["seed=2", "--experimental-rerun=x.pickle"], "--experimental-rerun x.pickle: not supported"),
        ("opsim-plan", ["--experimental-rerun", "x.pickle"], "--experimental-rerun x.pickle: not supported"),
        # Hydra's ValueError ("Only one of --run, --multirun, --cfg, --info ...") or ConfigCompositionException traceback
        (
            "opsim",
            ["-m", "seed=0,1", "--cfg", "job"],
            "-m and --cfg together: one at a time (a run, a sweep, or printing); to print the config of a sweep's job, leave -m out",
        ),
        ("opsim", ["hydra.mode=MULTIRUN", "--cfg", "job", "seed=0,1"], "hydra.mode=MULTIRUN and --cfg together"),
        (
            "opsim",
            ["--cfg", "job", "--info"],
            "--cfg and --info together: one at a time (a run, a sweep, or printing) (",
        ),
        ("opsim", ["-m", "--info", "defaults"], "-m and --info together"),
        ("opsim", ["-r", "-m", "seed=1"], "--run and -m together"),
        ("opsim", ["-m", "--help", "seed=0,1"], "--help with swept values: --help shows one config"),
        # the whole command line was named as the key: "override='plan.budget=1000,2000 ...' is not allowed"
        ("opsim-plan", ["plan.budget=1000,2000"], "plan.budget='1000,2000' is not allowed: one value (several are a"),
    ],
)
def test_every_command_refuses_a_bad_flag_in_one_line(tmp_path, capsys, monkeypatch, prog, argv, fragment):
    """argparse printed its usage block first (12 lines for opsim-calibrate); opsim-plan's --cfg a traceback."""
    from sim.app import explorer, plan

    monkeypatch.chdir(tmp_path)
    main = {
        "opsim": cli.main,
        "opsim-calibrate": calibrate.main,
        "opsim-explore": explorer.main,
        "opsim-plan": plan.main,
    }
    assert _exit_code(main[prog.split()[0]], argv) == 2
    _assert_one_clear_line(capsys.readouterr().err, prog, fragment)
    assert _files(tmp_path) == set()


@pytest.mark.parametrize(
    "argv",
    [
        ["-m", "--help"],
        ["-m", "--help", "seed=1"],
        ["--cfg", "job", "seed=1"],
        ["-m", "seed=0,1"],
        ["--info"],
        ["hydra.mode=MULTIRUN", "seed=0,1"],
        ["--run", "seed=1"],
        ["--cfg", "all", "--resolve"],
    ],
)
def test_one_mode_at_a_time_is_read_as_it_is(argv):
    """The other side of the refusals above: one of run, sweep, print, each with its own values."""
    args = cli.parse_argv(argv)
    assert args.overrides == [a for a in argv if "=" in a]


@pytest.mark.parametrize(
    "arg",
    [
        "seed=range(0,4)",
        "hydra.sweep.dir='/tmp/my runs'",
        "plain=1",
        "a b",
        "it's",
        'say="hi"',
        "x=$HOME",
        "x=`id`",
        "back\\slash",
        "wow!",
        "hydra.sweep.dir='/tmp/$x'",
        "strategy=glob(*)",
        "",
        "'",
    ],
)
def test_a_printed_resume_command_reads_back_word_for_word_in_a_shell(arg):
    """'resuming: opsim -m seed=range(0,4) ...' was a syntax error pasted into bash ("unexpected token '('")."""
    words = ["-m", arg, "seed=1"]
    line = " ".join(map(report_cli.shell_word, words))
    assert shlex.split(line) == words  # a POSIX shell's reading of the printed command
    proc = subprocess.run(["bash", "-c", f"printf '%s\\n' {line}"], capture_output=True, text=True, check=True)
    assert proc.stdout.split("\n")[:-1] == words  # and bash's own
    if arg == "hydra.sweep.dir='/tmp/my runs'":
        assert line == "-m \"hydra.sweep.dir='/tmp/my runs'\" seed=1"  # readable: Hydra's quotes in double quotes


# ----------------------------------------------- the real console scripts
@pytest.mark.slow  # three interpreter start-ups
def test_console_scripts_print_one_line_and_exit_2(tmp_path):
    """What a terminal shows (a subprocess each): no traceback, exit 2, nothing written."""
    exe = shutil.which("opsim", path=str(Path(sys.executable).parent)) or "opsim"
    report = shutil.which("opsim-report", path=str(Path(sys.executable).parent)) or "opsim-report"
    cases = [
        ([exe, "-m", "seed=0,1", "population.weekly_visit_pattern=[1,1,1"], "population.weekly_visit_pattern"),
        ([exe, "horizon_days=${nosuch}"], "horizon_days='${nosuch}'"),
        ([report, str(tmp_path / "nowhere")], "no such folder"),
    ]
    env = {**os.environ, "HYDRA_FULL_ERROR": "0"}
    for argv, fragment in cases:
        proc = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False, env=env)
        assert proc.returncode == 2, proc.stderr
        _assert_one_clear_line(proc.stderr, Path(argv[0]).name, fragment)
        assert _files(tmp_path) == set()


def _opsim_under_address_limit(tmp_path: Path, limit: int, *args: str, timeout: int) -> subprocess.CompletedProcess:
    """``python -m sim ARGS hydra.run.dir=TMP/run`` in ``tmp_path`` under an address-space limit (``ulimit -v``)."""
    import resource

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return subprocess.run(
        [sys.executable, "-m", "sim", *args, f"hydra.run.dir={tmp_path / 'run'}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        preexec_fn=cap,
    )


@pytest.mark.slow  # an interpreter start-up under a limit
def test_too_large_for_the_address_space_limit_names_ulimit(tmp_path):
    """``ulimit -v`` in a subprocess: the run is refused before any folder is made."""
    proc = _opsim_under_address_limit(tmp_path, 3 * 2**30, "population.market_size=400000000", timeout=120)
    assert proc.returncode == 2, proc.stderr
    _assert_one_clear_line(proc.stderr, "opsim", "population.sample_size=400000000", "is available", "or fewer (about")
    assert _files(tmp_path) == set()


@pytest.mark.slow  # two runs under a limit, the second of about a million users over 365 days (about 10 s)
def test_the_sample_the_address_space_refusal_suggests_then_runs_to_the_end(tmp_path):
    """The user's next step after the refusal: the suggested sample size, same limit, runs and writes its results.

    Before 2026-11-30 the suggestion was refused again inside the run (its process had
    grown), and a run that passed the check failed with a traceback when pyarrow started
    its threads (the address space they reserve was not counted). Until the commands'
    threads shared one allocator arena under a limit (:mod:`sim.app.address_space`), the
    suggestion was refused now and then by the second command's own check, which had
    found an arena (64 MB) more than the first.
    """
    limit = 1000 * 2**20  # about a million users fit (0.994-1.009 million in five tries here)
    # numpy kernels: numba and LLVM would take 0.2 GB of that address space (tests/test_memory.py names them)
    given = ("population.market_size=400000000", "progress=false", "kernels=numpy")
    refused = _opsim_under_address_limit(tmp_path, limit, *given, timeout=300)
    assert refused.returncode == 2, refused.stderr
    suggested = re.search(r"population\.sample_size=(\d+) or fewer", refused.stderr)
    assert suggested is not None, refused.stderr
    assert not (tmp_path / "run").exists()
    ran = _opsim_under_address_limit(
        tmp_path, limit, *given, f"population.sample_size={suggested.group(1)}", timeout=300
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert (tmp_path / "run" / "DONE.json").is_file() and (tmp_path / "run" / "report.html").is_file()


# ------------------------------------------------- what this machine can run
def test_opsim_refuses_worker_processes_where_fork_is_missing(workdir, capsys, monkeypatch):
    """parallel=processes off Linux: one line and exit 2 before any folder is made (was a traceback, exit 1)."""
    monkeypatch.setattr(threads, "fork_available", lambda: False)
    with pytest.raises(SystemExit) as info:
        sim.app.cli.main([*_tiny(["parallel=processes", "threads=2"]), f"hydra.run.dir={workdir / 'run'}"])
    assert info.value.code == 2
    _assert_one_clear_line(
        capsys.readouterr().err,
        "opsim",
        "parallel='processes' is not allowed: auto or threads on this system: worker processes need fork (Linux)",
    )
    assert _files(workdir) == set()


@pytest.mark.parametrize("call", [sim.simulate, sim.UserLifecycleModel], ids=["simulate", "model"])
def test_the_api_refuses_worker_processes_where_fork_is_missing(workdir, monkeypatch, call):
    monkeypatch.setattr(threads, "fork_available", lambda: False)
    with pytest.raises(sim.ConfigError, match=r"^parallel='processes' is not allowed: auto or threads on this system"):
        call(_tiny(["parallel=processes", "threads=2", "progress=false"]))
    assert _files(workdir) == set()


def test_where_fork_is_missing_the_other_modes_still_run(workdir, monkeypatch):
    monkeypatch.setattr(threads, "fork_available", lambda: False)
    for mode in ("auto", "threads"):
        assert sim.simulate(_tiny([f"parallel={mode}", "progress=false"])).summary["days"] == 5
