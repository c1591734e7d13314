"""The command line end to end, through a subprocess, as a user runs it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

SMALL = ["population.market_size=20000", "horizon_days=40"]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sim", *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def test_run_writes_a_complete_result_folder(tmp_path):
    out = tmp_path / "run"
    proc = run(*SMALL, f"hydra.run.dir={out}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    expected = {"config.yaml", "meta.json", "summary.json", "daily.parquet", "cohorts.parquet", "retention.png"}
    assert expected | {"stages.png", "opsim.log"} <= {p.name for p in out.iterdir()}
    assert not list(out.glob(".*.tmp")), "temporary files left behind"
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["retention"]) == {"d1", "d7", "d30"}
    daily = pd.read_parquet(out / "daily.parquet")
    assert len(daily) == 40 and daily["dau"].sum() > 0
    meta = json.loads((out / "meta.json").read_text())
    assert meta["seed"] == 0 and "mesa" in meta["versions"]
    assert "population:" in (out / "config.yaml").read_text()
    log = (out / "opsim.log").read_text()
    assert "D1" in log and "calling model.step" not in log  # Mesa's per-step INFO lines are silenced
    assert (out / "retention.png").read_bytes()[:4] == b"\x89PNG"


def test_same_seed_reproduces_summary_and_tables(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        assert (
            run(*SMALL, "population=game", "seed=5", "figures=false", f"hydra.run.dir={out}", cwd=tmp_path).returncode
            == 0
        )
    assert (a / "summary.json").read_text() == (b / "summary.json").read_text()
    assert pd.read_parquet(a / "daily.parquet").equals(pd.read_parquet(b / "daily.parquet"))
    assert not (a / "retention.png").exists()


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("population.market_size=-1", "population.market_size=-1 is not allowed: a number >= 1"),
        ("+population.colour=red", "population.colour='red' is not allowed: unknown key in population"),
        ("horizon_days=ten", "horizon_days='ten' is not allowed: an integer"),
    ],
)
def test_bad_override_exits_2_with_one_line_before_running(tmp_path, override, fragment):
    proc = run(override, f"hydra.run.dir={tmp_path / 'never'}", cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], proc.stderr
    assert not (tmp_path / "never").exists()


def test_multirun_sweep_values_are_checked_up_front(tmp_path):
    proc = run("-m", "population.awareness.p=0.001,7", *SMALL, f"hydra.sweep.dir={tmp_path / 'm'}", cwd=tmp_path)
    assert proc.returncode == 2 and "population.awareness.p=7 is not allowed" in proc.stderr
    assert not (tmp_path / "m").exists()


def test_print_config_does_not_run(tmp_path):
    proc = run("--cfg", "job", "population=ecommerce", cwd=tmp_path)
    assert proc.returncode == 0 and "weekly_purchase_pattern" in proc.stdout
    assert not (tmp_path / "outputs").exists()


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("seed=x", "--cfg", "job"), "opsim: error: seed='x' is not allowed: an integer (got 'str')\n"),
        (
            ("--info", "defaults", "population.market_size=-5"),
            "opsim: error: population.market_size=-5 is not allowed: a number >= 1 and <= 1000000000000\n",
        ),
        (("nosuchkey=1", "--help"), "opsim: error: nosuchkey='1' is not allowed: unknown key in the top level;"),
        (("-m", "--help", "seed=x"), "opsim: error: seed='x' is not allowed: an integer (got 'str')\n"),
    ],
)
def test_a_command_that_only_prints_checks_its_config_in_one_line(args, said, tmp_path):
    """Hydra composes the config to print it (or its help): a bad value was its traceback, and -5 was printed."""
    proc = run(*args, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.startswith(said) and len(proc.stderr.splitlines()) == 1
    assert proc.stdout == "" and not (tmp_path / "outputs").exists()


def test_the_values_of_print_flags_are_not_taken_for_overrides(tmp_path):
    """--info's and --shell-completion's own values (defaults, install=bash) are not config keys."""
    info = run("--info", "defaults", "seed=3", cwd=tmp_path)
    assert info.returncode == 0 and "Defaults List" in info.stdout, info.stderr
    completion = run("-sc", "install=bash", cwd=tmp_path)
    assert completion.returncode == 0 and "complete" in completion.stdout, completion.stderr


def test_console_script_is_installed():
    exe = shutil.which("opsim") or str(Path(sys.executable).with_name("opsim"))
    proc = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0 and "population: consumer_app, ecommerce, game" in proc.stdout


def test_strategy_run_from_the_command_line_writes_money_outputs(tmp_path):
    out = tmp_path / "wb"
    proc = run(*SMALL, "strategy=winback", "economics.marginal_roi=false", f"hydra.run.dir={out}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["strategy"] == "winback" and summary["economics"]["incremental"] is not None
    assert (out / "payback.png").exists()
    assert "cost_winback" in pd.read_parquet(out / "daily.parquet").columns
    assert "incremental ROI" in (out / "opsim.log").read_text()


def _closing_lines(caplog, out: Path, *overrides: str) -> tuple[str, dict]:
    """The log of ``cli._run_one`` (in this process: mutants are seen) for a quiet run, and its summary.json."""
    import logging

    from sim import load_config
    from sim.app import cli

    caplog.clear()
    typed = load_config([*overrides, "progress=false", "figures=false"])
    with caplog.at_level(logging.INFO, logger="opsim"):
        cli._run_one(typed, out)
    return caplog.text, json.loads((out / "summary.json").read_text())


def test_the_runs_closing_lines_say_what_it_cannot_give_with_a_dash_and_an_unpaid_spend_in_words(tmp_path, caplog):
    """They printed ``D30 nan %`` for a run shorter than 31 days and ``payback day None`` for a spend not paid back."""
    text, _summary = _closing_lines(
        caplog, tmp_path / "run", "strategy=paid_growth", "population.market_size=3000", "horizon_days=20"
    )
    assert "for a market of M = 3,000, 20 days, seed 0" in text
    assert re.search(r"D1 \d+\.\d %  D7 \d+\.\d %  D30 —  \| acquired", text), text
    assert re.search(r"incremental ROI [-+]\d\.\d\d, not paid back within 20 days\n", text), text
    assert "nan" not in text.lower() and "None" not in text
    # an estimate (N < M, a fractional weight): the log printed int() of it, the report the rounded figure
    text, summary = _closing_lines(
        caplog,
        tmp_path / "sampled",
        "strategy=paid_growth",
        "population.market_size=30000",
        "population.sample_size=11000",
        "horizon_days=20",
    )
    users = summary["economics"]["incremental"]["acquired_users"]
    assert users != round(users) and abs(users) >= 1000  # fractional, with a thousands separator to print
    assert f"incremental users {round(users):+,}, " in text, (users, text)
    text, _summary = _closing_lines(caplog, tmp_path / "day", "population.market_size=1000", "horizon_days=1")
    assert "M = 1,000, 1 day, seed 0" in text
    assert "D1 —  D7 —  D30 —  | acquired 0" in text  # nobody acquired on the first day


def test_the_runs_closing_line_names_the_day_a_spend_paid_back(tmp_path, caplog):
    """The other side of "not paid back within 20 days": the summary's payback day, in the closing line."""
    text, summary = _closing_lines(
        caplog,
        tmp_path / "run",
        "population=ecommerce",
        "strategy=referral_led",
        "population.sample_size=5000",
        "horizon_days=60",
    )
    day = summary["economics"]["payback_day"]
    assert isinstance(day, int) and 0 < day < 60, day  # this run pays back (5,000 simulated users, seed 0)
    assert re.search(rf"incremental ROI [-+]\d+\.\d\d, payback day {day}\n", text), text


def test_print_commands_check_their_config_in_process(tmp_path):
    """In this process (the subprocess tests above do not see mutants): a sweep value without -m, a study's config."""
    from sim.app import cli
    from sim.base.errors import ConfigError

    (tmp_path / "good.yaml").write_text("defaults: [config, _self_]\nhorizon_days: 33\n")
    (tmp_path / "bad.yaml").write_text("defaults: [config, _self_]\nhorizon_days: -1\n")
    study = ["--config-dir", str(tmp_path), "--cfg", "job", "--config-name"]
    refused = {
        ("seed=x", "--cfg", "job"): "seed='x' is not allowed",
        ("-m", "--help", "seed=x"): "seed='x' is not allowed",
        ("seed=1,2", "--cfg", "job"): r"seed='1,2' is not allowed: one value \(several are a sweep: opsim -m",
        (*study, "bad"): "horizon_days=-1 is not allowed",
    }
    for argv, said in refused.items():
        with pytest.raises(ConfigError, match=said):
            cli.check_overrides(list(argv))
    for argv in (["--info", "defaults", "seed=3"], ["-sc", "install=bash"], [*study, "good"]):
        assert cli.check_overrides(argv) == cli.CommandPlan()


def test_a_missing_config_dir_is_refused_in_so_many_words():
    from sim.app import cli
    from sim.base.errors import ConfigError

    with pytest.raises(ConfigError) as refused:
        cli.parse_argv(["--config-dir", "no/such/folder"])
    assert str(refused.value).endswith(": an existing folder of config files (presets, a study)")


# ------------------------------------------------- check_overrides' run path, in this process
# (the subprocess tests above run the installed opsim, which mutation testing cannot reach)
QUICK_RUN = ["population.market_size=2000", "horizon_days=10"]


def test_a_single_run_is_planned_with_its_folder_made_absolute(tmp_path, monkeypatch):
    from sim.app import cli

    monkeypatch.chdir(tmp_path)
    plan = cli.check_overrides(["seed=3", *QUICK_RUN, "hydra.run.dir=rel/run"])
    assert (plan.folder, plan.multirun, plan.jobs) == (tmp_path / "rel" / "run", False, 1)
    assert [(c.seed, c.horizon_days, c.population.market_size) for c in plan.configs] == [(3, 10, 2000)]
    assert not (tmp_path / "rel").exists()  # planned, not made


def test_a_sweep_is_planned_with_one_config_per_swept_value_each_as_composed(tmp_path):
    from sim.app import cli
    from sim.app.config import load_config

    plan = cli.check_overrides(["-m", "seed=1,2,3", "horizon_days=10,20", "population.market_size=2000",
                                f"hydra.sweep.dir={tmp_path / 's'}"])  # fmt: skip
    assert (plan.folder, plan.multirun, plan.jobs) == (tmp_path / "s", True, 3 * 2)
    # the first value of each key, then one change at a time (worked out by hand)
    assert [(c.seed, c.horizon_days) for c in plan.configs] == [(1, 10), (2, 10), (3, 10), (1, 20)]
    for config, (seed, days) in zip(plan.configs, [(1, 10), (2, 10), (3, 10), (1, 20)], strict=True):
        assert config == load_config([f"seed={seed}", f"horizon_days={days}", "population.market_size=2000"])
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize(
    ("values", "said"),
    [
        ("seed=1,x", "seed='x' is not allowed: an integer"),
        ("horizon_days=10,1.5", "horizon_days='1.5' is not allowed: an integer"),
        ("record_events=true,maybe", "record_events='maybe' is not allowed: true or false"),
        ("population.market_size=2000,-5", "population.market_size=-5 is not allowed: a number >= 1"),
        ("population=game,nope", "population='nope' is not allowed: a population preset (conf/population/): one of"),
    ],
)
def test_every_swept_value_is_checked_before_the_sweep(values, said, tmp_path):
    from sim.app import cli
    from sim.base.errors import ConfigError

    with pytest.raises(ConfigError, match=re.escape(said)):
        others = [o for o in QUICK_RUN if o.split("=")[0] != values.split("=")[0]]
        cli.check_overrides(["-m", values, *others, f"hydra.sweep.dir={tmp_path / 's'}"])


def test_a_study_declares_its_sweep_and_the_command_line_overrides_a_declared_key(tmp_path):
    from sim.app import cli

    (tmp_path / "study.yaml").write_text(
        "defaults: [config, _self_]\nhydra:\n  sweeper:\n    params:\n      seed: 4,5,6\n      horizon_days: 10,12\n"
    )
    study = ["-m", "--config-dir", str(tmp_path), "--config-name", "study", "population.market_size=2000"]
    declared = cli.check_overrides([*study, f"hydra.sweep.dir={tmp_path / 'a'}"])
    assert declared.jobs == 3 * 2
    assert [(c.seed, c.horizon_days) for c in declared.configs] == [(4, 10), (5, 10), (6, 10), (4, 12)]
    overridden = cli.check_overrides([*study, "seed=7", f"hydra.sweep.dir={tmp_path / 'b'}"])
    assert overridden.jobs == 2 and [(c.seed, c.horizon_days) for c in overridden.configs] == [(7, 10), (7, 12)]


@pytest.mark.parametrize(
    ("launcher", "seeds", "side_by_side"),
    [
        ([], "1,2,3", 1),  # Hydra's basic launcher: one job at a time
        (["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"], "1,2,3", 2),
        (["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"], "1", 1),  # no worker beyond the jobs
        (["hydra/launcher=joblib", "hydra.launcher.n_jobs=-1"], "1,2,3,4,5,6", 4),  # every core (4 here)
        (["hydra/launcher=joblib", "hydra.launcher.n_jobs=-2"], "1,2,3,4,5,6", 3),  # all but one
        (["hydra/launcher=joblib", "hydra.launcher.n_jobs=-1"], "1,2", 2),
    ],
)
def test_memory_is_checked_for_the_jobs_a_sweep_runs_side_by_side(launcher, seeds, side_by_side, tmp_path, monkeypatch):
    """Memory just enough for that many runs at once passes; a byte less is refused, naming the jobs side by side."""
    from sim.app import cli, memory
    from sim.app.config import load_config
    from sim.base.errors import MemoryLimitError

    monkeypatch.setattr(cli.os, "cpu_count", lambda: 4)
    need = memory.estimate_memory(load_config(QUICK_RUN)).total
    # the check's own sum: what this test pins is the boundary, and how many jobs run side by side
    enough = side_by_side * need + (side_by_side - 1) * memory.PROCESS_BYTES
    argv = ["-m", f"seed={seeds}", *QUICK_RUN, *launcher, f"hydra.sweep.dir={tmp_path / 's'}"]
    monkeypatch.setattr(memory, "available_memory", lambda: (enough, "the test"))
    assert cli.check_overrides(argv).jobs == len(seeds.split(","))
    monkeypatch.setattr(memory, "available_memory", lambda: (enough - 1, "the test"))
    with pytest.raises(MemoryLimitError) as refused:
        cli.check_overrides(argv)
    assert (f"for {side_by_side} jobs side by side" in str(refused.value)) is (side_by_side > 1)


def test_a_launcher_whose_extra_is_missing_names_the_install_command(tmp_path, monkeypatch):
    import importlib.util

    from sim.app import cli
    from sim.base.errors import ConfigError

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name.startswith("hydra_plugins.hydra_ray") else real(name, *a),
    )
    with pytest.raises(ConfigError) as refused:
        cli.check_overrides(["-m", "seed=1,2", "hydra/launcher=ray", f"hydra.sweep.dir={tmp_path / 's'}"])
    assert str(refused.value) == (
        "hydra/launcher='ray' is not allowed: a launcher that is installed; this one needs `pip install \"opsim[ray]\"`"
    )
    assert cli.check_overrides(["-m", "seed=1,2", *QUICK_RUN, "hydra/launcher=joblib",
                                f"hydra.sweep.dir={tmp_path / 's'}"]).jobs == 2  # fmt: skip


def test_opsim_main_reads_the_command_line_when_given_none(monkeypatch, capsys):
    from sim.app import cli

    monkeypatch.setattr(sys, "argv", ["opsim", "--cfg", "job", "horizon_days=33"])
    cli.main()
    assert "horizon_days: 33" in capsys.readouterr().out


def test_the_task_hydra_is_handed_leaves_the_figure_workers_behind_when_a_launcher_pickles_it():
    import pickle

    from sim.app import cli

    assert pickle.loads(pickle.dumps(cli._Task(object()))) == cli._Task(None)


def test_a_sweep_a_study_asks_for_with_hydra_mode_is_planned_and_runs_as_with_m(tmp_path):
    """``hydra: mode: MULTIRUN`` in a study, no ``-m``: its declared sweep checked up front, then run by joblib.

    The command line cannot tell it is a sweep, so figure workers start; the task handed
    to joblib's processes must leave them behind (it could not be pickled with them).
    """
    from sim.app import cli, sweep

    (tmp_path / "study.yaml").write_text(
        "defaults: [config, _self_]\nhydra:\n  mode: MULTIRUN\n  sweeper:\n    params:\n      seed: 1,2\n"
    )
    study = ["--config-dir", str(tmp_path), "--config-name", "study", *QUICK_RUN]
    plan = cli.check_overrides([*study, f"hydra.sweep.dir={tmp_path / 'planned'}"])
    assert (plan.multirun, plan.jobs, plan.folder) == (True, 2, tmp_path / "planned")
    assert [c.seed for c in plan.configs] == [1, 2]
    out = tmp_path / "sweep"
    proc = run(*study, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", f"hydra.sweep.dir={out}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sweep.read_summary(out)["jobs"] == 2


@pytest.mark.parametrize("prog", ["opsim", "opsim-plan"])
def test_version_names_opsims_version_then_pythons_and_the_libraries(prog, capsys):
    """``opsim --version`` printed only "Hydra 1.3.8"."""
    import platform
    from importlib import metadata

    from sim.app import cli

    with pytest.raises(SystemExit) as info:
        cli.parse_argv(["--version"], prog)
    assert info.value.code == 0
    expected = (
        f"{prog} {metadata.version('opsim')} (Python {platform.python_version()}, Hydra {metadata.version('hydra-core')}, "
        f"Mesa {metadata.version('mesa')}, numpy {metadata.version('numpy')})"
    )
    assert capsys.readouterr().out.strip() == expected


def test_a_spend_paid_back_names_its_day_and_one_not_paid_back_the_horizon():
    """The closing line's payback: only the unpaid case ran in this process (a 20-day paid run)."""
    from sim.app import cli

    assert cli._payback(12, 90) == "payback day 12"
    assert cli._payback(0, 90) == "payback day 0"
    assert cli._payback(None, 90) == "not paid back within 90 days"
    assert cli._payback(None, 1) == "not paid back within 1 day"


def test_experimental_rerun_is_refused_with_how_to_run_again():
    """The whole line: the bad-flag table checks only its start."""
    from sim.app import cli
    from sim.base.errors import UsageError

    with pytest.raises(UsageError) as refused:
        cli.parse_argv(["--experimental-rerun", "x.pickle"])
    assert str(refused.value) == (
        "--experimental-rerun x.pickle: not supported; to run again, give the same command line again: the same "
        "seed gives the same results (a run's folder lists its overrides in .hydra/overrides.yaml) "
        "(opsim --help lists the flags; key=value sets a config key)"
    )


def test_the_runs_closing_lines_in_full_for_a_run_long_enough_for_d30(tmp_path, caplog):
    """Each line whole (the test above reads parts of them); D30 a number once the run is 31 days or longer."""
    _closing_lines(caplog, tmp_path / "run", "population.market_size=3000", "horizon_days=40")
    said = [r.getMessage() for r in caplog.records]
    lines = {
        "start": r"simulating \w+: N = [\d,]+ simulated users for a market of M = 3,000, 40 days, seed 0",
        "retention": (
            r"D1 \d+\.\d %  D7 \d+\.\d %  D30 \d+\.\d %  "
            r"\| acquired [\d,]+  DAU [\d,]+  MAU [\d,]+  revenue [\d,]+ \S+"
        ),
        "speed": r"\S+ agent-days/s; results in " + re.escape(str(tmp_path / "run")),
    }
    for name, pattern in lines.items():
        assert any(re.fullmatch(pattern, line) for line in said), (name, said)
    assert not [line for line in said if line.startswith("strategy")]  # the baseline spends nothing: no money line


def test_a_run_that_spends_under_one_unit_still_says_what_it_cost(tmp_path, caplog):
    """Any spend at all gets its money line (cost > 0, not >= 1); without the baseline comparison, the short line."""
    text, _summary = _closing_lines(
        caplog,
        tmp_path / "run",
        "strategy=paid_growth",
        "strategy.paid_ads.search.daily_budget=0.01",
        "strategy.paid_ads.social.daily_budget=0.01",
        "economics.compare_to_baseline=false",  # no incremental figures: the short money line
        "population.market_size=1000",
        "horizon_days=10",
    )
    assert "strategy paid_growth: cost 0.20 USD, ROI -1.00\n" in text, text  # 2 × 0.01 × 10 days


@pytest.mark.parametrize("folder_before", ["none", "empty", "with a file"])
def test_a_run_refused_inside_hydras_task_leaves_no_folder_it_created(tmp_path, monkeypatch, capsys, folder_before):
    """The run's own memory check (which sees its process grown) refusing: Hydra's files go, a user's folder stays.

    A folder with a user's file is refused before Hydra starts (no run's folder), so nothing is written there.
    """
    from sim.app import cli, simulate
    from sim.base.errors import MemoryLimitError

    def refuse(cfg, **_kw):
        raise MemoryLimitError("population.sample_size", cfg.population.simulated_users, "at most what fits (test)")

    monkeypatch.setattr(simulate, "check_memory", refuse)
    out = tmp_path / "run"
    if folder_before != "none":
        out.mkdir()
    if folder_before == "with a file":
        (out / "mine.txt").write_text("keep")
    with pytest.raises(SystemExit) as exited:
        cli.main([*QUICK_RUN, f"hydra.run.dir={out}"])
    assert exited.value.code == 2
    said = capsys.readouterr().err
    if folder_before == "none":
        assert not out.exists() and "at most what fits (test)" in said
    elif (
        folder_before == "empty"
    ):  # a folder that was there: Hydra's files stay with it (whose they are cannot be told)
        assert (out / ".hydra").is_dir() and "at most what fits (test)" in said
    else:
        assert "this one holds files of no opsim run (mine.txt)" in said
        assert [p.name for p in out.iterdir()] == ["mine.txt"] and (out / "mine.txt").read_text() == "keep"


@pytest.mark.parametrize("existing", ["", "outputs", "outputs/2026-11-30"])
def test_a_run_refused_inside_hydras_task_removes_the_parents_it_made_and_no_others(tmp_path, monkeypatch, existing):
    """``outputs/<date>/<time>`` on a day's first run: the empty ``outputs/<date>`` Hydra made goes too.

    Before 2026-11-30 (second session) the run folder went and its new parents stayed,
    empty. A parent that was there before the command stays, empty or not.
    """
    from sim.app import cli, simulate
    from sim.base.errors import MemoryLimitError

    def refuse(cfg, **_kw):
        raise MemoryLimitError("population.sample_size", cfg.population.simulated_users, "at most what fits (test)")

    monkeypatch.setattr(simulate, "check_memory", refuse)
    if existing:
        (tmp_path / existing).mkdir(parents=True)
    out = tmp_path / "outputs" / "2026-11-30" / "09-41-00"
    with pytest.raises(SystemExit) as exited:
        cli.main([*QUICK_RUN, f"hydra.run.dir={out}"])
    assert exited.value.code == 2
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    kept = {"": [], "outputs": ["outputs"], "outputs/2026-11-30": ["outputs", "outputs/2026-11-30"]}[existing]
    assert left == kept


def test_removing_a_refused_runs_folder_keeps_a_parent_something_else_wrote_into(tmp_path):
    """A new parent that is no longer empty (another run wrote beside) stays, and so do those above it."""
    from sim.app.output_folder import remove_hydra_files

    out = tmp_path / "outputs" / "day" / "run"
    (out / ".hydra").mkdir(parents=True)
    (out / "opsim.log").write_text("")
    (tmp_path / "outputs" / "day" / "other.txt").write_text("keep")
    remove_hydra_files(out, tmp_path / "outputs", "opsim")
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == [
        "outputs",
        "outputs/day",
        "outputs/day/other.txt",
    ]


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        (MemoryError("Unable to allocate 7.63 MiB for an array with shape (1000000,) and data type float64"),
         "Unable to allocate 7.63 MiB"),
        (RuntimeError("can't start new thread"), "can't start new thread"),
    ],
)  # fmt: skip
def test_a_run_that_runs_out_of_memory_says_so_in_one_line_and_exits_1(tmp_path, monkeypatch, capsys, error, shown):
    """The system refusing memory during the run (the check before it passed): one line, what to do, exit 1."""
    from sim.app import cli, simulate

    def out_of_memory(*_args, **_kwargs):
        raise error

    monkeypatch.setattr(simulate, "_run", out_of_memory)
    with pytest.raises(SystemExit) as exited:
        cli.main([*QUICK_RUN, f"hydra.run.dir={tmp_path / 'run'}"])
    assert exited.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0]
    assert err[0].startswith(f"opsim: error: the run ran out of memory ({shown}")
    assert "population.sample_size" in err[0] and not (tmp_path / "run" / "DONE.json").exists()


def test_another_runtime_error_is_not_called_out_of_memory(tmp_path, monkeypatch, capsys):
    from sim.app import cli, simulate

    def broken(*_args, **_kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(simulate, "_run", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        cli.main([*QUICK_RUN, f"hydra.run.dir={tmp_path / 'run'}"])
    assert "out of memory" not in capsys.readouterr().err


#: A tiny sweep, for the folder checks below.
QUICK_SWEEP = ["-m", "seed=0,1", *QUICK_RUN, "figures=false"]


def _opsim_exit(argv: list[str]) -> int:
    """``opsim`` in this process; its exit code."""
    from sim.app import cli

    try:
        cli.main(argv)
    except SystemExit as stop:
        return int(stop.code)
    return 0


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file below ``folder``: its bytes and modification time (ns), by relative path."""
    return {
        str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()
    }


@pytest.fixture(scope="module")
def result_folders(tmp_path_factory):
    """A real run's folder and a real sweep's, and a plan's folder of the files opsim-plan writes.

    The plan's files are written by hand (a real plan takes half a minute): what tells a
    plan's folder apart is the names of its files, not their content.
    """
    root = tmp_path_factory.mktemp("made")
    assert _opsim_exit([*QUICK_RUN, "figures=false", f"hydra.run.dir={root / 'run'}"]) == 0
    assert _opsim_exit([*QUICK_SWEEP, f"hydra.sweep.dir={root / 'sweep'}"]) == 0
    plan = root / "plan"
    (plan / ".hydra").mkdir(parents=True)
    for name in ("plan.json", "study.journal", "report.html", "opsim-plan.log"):
        (plan / name).write_text(f"the plan's {name}\n")
    users = root / "users"
    users.mkdir()
    (users / "config.yaml").write_text("mine: true\n")
    (users / "report.html").write_text("<p>mine</p>\n")
    return root


@pytest.mark.parametrize(
    ("mode", "kind", "held"),
    [
        ("run", "sweep", "holds an opsim sweep (multirun.yaml), whose report.html the run would replace"),
        ("run", "plan", "holds an opsim-plan plan (plan.json), whose report.html the run would replace"),
        ("run", "users", "holds files of no opsim run (config.yaml, report.html), which the run could replace"),
        ("sweep", "run", "holds an opsim run (DONE.json), whose report.html the sweep would replace"),
        ("sweep", "plan", "holds an opsim-plan plan (plan.json), whose report.html the sweep would replace"),
        ("sweep", "users", "holds files of no opsim sweep (config.yaml, report.html), which the sweep could replace"),
    ],
)
def test_a_folder_of_other_results_or_files_is_refused_untouched(mode, kind, held, result_folders, tmp_path, capsys):
    """Before 2026-11-30 each ran: the other result's report.html (or the user's files) were replaced."""
    folder = tmp_path / kind
    shutil.copytree(result_folders / kind, folder)
    before = _snapshot(folder)
    key = f"hydra.{mode}.dir"
    argv = [*QUICK_SWEEP] if mode == "sweep" else [*QUICK_RUN, "figures=false"]
    assert _opsim_exit([*argv, f"{key}={folder}"]) == 2
    allowed = "an earlier opsim run's folder (to run it again)" if mode == "run" else "sweep's folder (to resume it)"
    assert capsys.readouterr().err == (
        f"opsim: error: {key}='{folder}' is not allowed: a new or empty folder, or "
        f"{allowed if mode == 'run' else 'an earlier opsim ' + allowed}; this one {held} (give {key}=<new folder>)\n"
    )
    assert _snapshot(folder) == before
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in (result_folders / kind).iterdir())


def test_another_hydra_apps_folder_is_refused_and_hidden_files_alone_are_no_ones(tmp_path, capsys):
    """Hydra's .hydra/ marked a folder as a run's: another Hydra app's output was taken and its report.html replaced.

    A name with a line break is shown escaped (the line was cut there); .gitkeep alone is an empty folder.
    """
    other = tmp_path / "other app"
    (other / ".hydra").mkdir(parents=True)
    for name in ("model.pt", "report.html", "a\nb.txt"):
        (other / name).write_text("theirs")
    before = _snapshot(other)
    assert _opsim_exit([*QUICK_RUN, "figures=false", f"hydra.run.dir={other}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds files of no opsim run (.hydra, 'a\\nb.txt', model.pt, ...)" in err, err
    assert _snapshot(other) == before
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / ".gitkeep").write_text("")
    assert _opsim_exit([*QUICK_RUN, "figures=false", f"hydra.run.dir={kept}"]) == 0  # the other side: it runs
    assert (kept / ".gitkeep").exists() and (kept / "DONE.json").is_file()


@pytest.mark.parametrize("mode", ["run", "sweep"])
def test_an_empty_folder_path_is_refused_and_the_current_folder_left_untouched(
    mode, result_folders, tmp_path, monkeypatch, capsys
):
    """``hydra.run.dir=$OUT`` with ``OUT`` unset: before 2026-11-30 the run wrote over the current folder's files."""
    here = tmp_path / "here"
    shutil.copytree(result_folders / "users", here)
    before = _snapshot(here)
    monkeypatch.chdir(here)
    key = f"hydra.{mode}.dir"
    argv = [*QUICK_SWEEP] if mode == "sweep" else [*QUICK_RUN, "figures=false"]
    assert _opsim_exit([*argv, f"{key}="]) == 2
    assert capsys.readouterr().err == (
        f"opsim: error: {key}='' is not allowed: a folder path, not an empty one (which would write into the "
        f"current folder, {here}); give {key}=<folder>\n"
    )
    assert _snapshot(here) == before and sorted(p.name for p in here.iterdir()) == ["config.yaml", "report.html"]


def test_a_run_runs_again_into_its_own_folder_finished_or_interrupted_and_keeps_a_users_file(result_folders, tmp_path):
    from sim.output import completion

    finished = tmp_path / "finished"
    shutil.copytree(result_folders / "run", finished)
    (finished / "notes.txt").write_text("keep")
    interrupted = tmp_path / "interrupted"  # what Hydra wrote before a run killed at once: no result yet
    interrupted.mkdir()
    shutil.copytree(result_folders / "run" / ".hydra", interrupted / ".hydra")
    shutil.copy2(result_folders / "run" / "opsim.log", interrupted / "opsim.log")
    for folder in (finished, interrupted):
        assert _opsim_exit([*QUICK_RUN, "figures=false", f"hydra.run.dir={folder}"]) == 0
        assert completion.check_complete(folder) is None
        assert (folder / "summary.json").read_bytes() == (result_folders / "run" / "summary.json").read_bytes()
    assert (finished / "notes.txt").read_text() == "keep"


def test_a_sweep_run_again_into_its_own_folder_resumes_it(result_folders, tmp_path):
    from sim.output.completion import read_marker

    """Its finished jobs are skipped (their result files untouched; Hydra writes their .hydra/ again), its summary made."""
    folder = tmp_path / "sweep"
    shutil.copytree(result_folders / "sweep", folder)
    jobs = sorted(p.parent for p in folder.glob("*/DONE.json"))
    assert len(jobs) == 2

    def results() -> dict[str, dict[str, tuple[bytes, int]]]:
        return {job.name: {k: v for k, v in _snapshot(job).items() if k in read_marker(job)["files"]} for job in jobs}

    before = results()
    assert _opsim_exit([*QUICK_SWEEP, f"hydra.sweep.dir={folder}"]) == 0
    assert results() == before and all(before.values())
    assert (folder / "SUMMARY.json").is_file()
