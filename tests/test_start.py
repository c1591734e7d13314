"""How ``opsim`` starts: the command line read before any import, the figure workers first, a quick exit."""

from __future__ import annotations

import gc
import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import pytest

from sim.app import start
from sim.app.argv import ArgvParts, may_draw_figures, split_argv
from sim.output import figure_workers

TINY = ["population.market_size=2000", "horizon_days=12"]


@pytest.mark.parametrize(
    ("argv", "draws"),
    [
        ([], True),
        (["seed=3", "strategy=paid_growth"], True),
        (["figures=true"], True),
        (["other.figures=false"], True),  # another key
        (["figures_dpi=false"], True),
        (["--config-dir", "figures=false"], True),  # the flag's value, not an override
        (["figures=false"], False),
        (["figures=no"], False),
        (["figures=OFF"], False),
        (["figures=0"], False),
        (["figures=n"], False),
        (["figures=yes"], True),
        (["figures=1"], True),
        (["hydra.mode=MULTIRUN"], False),
        (["hydra.mode=multirun", "seed=1"], False),
        (["hydra.mode=RUN"], True),
        (["figures=False"], False),
        (["+figures=false"], False),
        (["figures= false "], False),
        (["-m", "seed=1,2"], False),
        (["--multirun", "seed=1"], False),
        (["--cfg", "job"], False),
        (["-c", "job"], False),
        (["--cfg=job"], False),
        (["--help"], False),
        (["--hydra-help"], False),
        (["--version"], False),
        (["--info", "defaults"], False),
        (["-sc", "install=bash"], False),
    ],
)
def test_only_a_single_run_that_may_draw_is_given_figure_workers(argv, draws):
    assert may_draw_figures(argv) is draws


def test_the_command_line_splits_into_overrides_flags_and_the_config_chosen(tmp_path):
    assert split_argv(["seed=1", "-m", "--config-dir", str(tmp_path), "-cn", "study", "horizon_days=9"]) == ArgvParts(
        ["seed=1", "horizon_days=9"], True, True, "study", str(tmp_path.resolve())
    )
    assert split_argv(["--config-name=s2", f"-cd={tmp_path}", "-p", "x", "seed=2"]) == ArgvParts(
        ["seed=2"], False, True, "s2", str(tmp_path.resolve())
    )
    assert split_argv(["--info", "seed=2"]).runs is False
    assert split_argv(["hydra.mode=MULTIRUN", "seed=1,2"]) == ArgvParts(["seed=1,2"], True, True, "config", None)
    odd = tmp_path / "a=b"  # a folder whose name has "=" in it
    for spelling in (["-cd", str(odd)], ["--config-dir", str(odd)], [f"-cd={odd}"], [f"--config-dir={odd}"]):
        assert split_argv([*spelling, "seed=1"]).config_dir == str(odd.resolve()), spelling
    for spelling in (["-cn", "s3"], ["--config-name", "s3"], ["-cn=s3"], ["--config-name=s3"]):
        assert split_argv([*spelling, "seed=1"]).config_name == "s3", spelling
    assert split_argv(["--resolve", "-r", "seed=1", "--run"]).overrides == ["seed=1"]  # other flags: no overrides
    assert split_argv(["--experimental-rerun", "a/config.pickle", "seed=1"]).overrides == ["seed=1"]  # the flag's value
    assert split_argv([]) == ArgvParts([], False, True, "config", None)


class _Recorded:
    """Stands in for FigureWorkers: records what it is asked, draws nothing (the caller then draws)."""

    made: ClassVar[list[_Recorded]] = []

    def __init__(self) -> None:
        self.closed = False
        self.asked: list[str] = []
        self.started: list[str] = []
        _Recorded.made.append(self)

    def start(self, data, names):
        self.started += names

    def draw(self, data, names):
        self.asked += names
        return None

    def close(self) -> None:
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@pytest.fixture
def recorded(monkeypatch):
    from sim.app import cli

    _Recorded.made = []
    monkeypatch.setattr(figure_workers, "FigureWorkers", _Recorded)  # start.main imports it when it runs
    monkeypatch.setattr(cli, "FigureWorkers", _Recorded)
    return _Recorded.made


def test_a_single_run_draws_in_the_workers_the_command_started_and_closes_them(recorded, tmp_path):
    start.main([*TINY, f"hydra.run.dir={tmp_path / 'run'}", "progress=false"])
    assert len(recorded) == 1  # the command's, none started again by the run
    assert "retention" in recorded[0].asked and recorded[0].closed
    assert (tmp_path / "run" / "retention.png").read_bytes()[:4] == b"\x89PNG"  # drawn here, as the stand-in drew none


def test_workers_started_for_a_run_whose_config_has_no_figures_are_closed_unused(recorded, tmp_path):
    (tmp_path / "quiet.yaml").write_text("defaults: [config, _self_]\nfigures: false\n")
    out = tmp_path / "run"
    start.main(
        [*TINY, "--config-dir", str(tmp_path), "--config-name", "quiet", f"hydra.run.dir={out}", "progress=false"]
    )
    assert len(recorded) == 1 and recorded[0].asked == recorded[0].started == [] and recorded[0].closed
    assert (out / "summary.json").exists() and not (out / "retention.png").exists()


def test_a_run_the_command_started_no_workers_for_starts_its_own(recorded, tmp_path):
    from sim.app import cli

    cli.main([*TINY, f"hydra.run.dir={tmp_path / 'run'}", "progress=false"])
    assert len(recorded) == 1 and "retention" in recorded[0].asked and recorded[0].closed


def test_no_workers_for_a_run_without_figures_and_closed_on_a_bad_input(recorded, tmp_path):
    start.main([*TINY, f"hydra.run.dir={tmp_path / 'run'}", "progress=false", "figures=false"])
    assert recorded == []
    with pytest.raises(SystemExit) as refused:
        start.main([*TINY, "horizon_days=-1", f"hydra.run.dir={tmp_path / 'bad'}"])
    assert refused.value.code == 2
    assert len(recorded) == 1 and recorded[0].closed and not (tmp_path / "bad").exists()


def test_a_console_script_returns_its_code_and_leaves_its_objects_frozen_whatever_the_way_out(monkeypatch, capsys):
    def refused() -> None:
        raise SystemExit(2)

    def interrupted() -> None:
        raise KeyboardInterrupt

    gc.unfreeze()  # objects frozen before (on Python 3.12 the test process holds some): counted from none
    assert gc.get_freeze_count() == 0
    handler = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a command (xdist ignores it)
    try:
        assert start.run_console_script("opsim-x", lambda: 3) == 3
        assert gc.get_freeze_count() > 0
        gc.unfreeze()
        with pytest.raises(SystemExit) as out:
            start.run_console_script("opsim-x", refused)
        assert out.value.code == 2 and gc.get_freeze_count() > 0
        gc.unfreeze()
        capsys.readouterr()
        with pytest.raises(SystemExit) as out:
            start.run_console_script("opsim-x", interrupted)
        assert out.value.code == 130 and gc.get_freeze_count() > 0
        assert capsys.readouterr().err == "opsim-x: interrupted before it had finished; run the same command again\n"
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN  # stopping: a second Ctrl-C is ignored
        gc.unfreeze()
        monkeypatch.setattr(start, "main", refused)  # opsim's own goes through it too
        with pytest.raises(SystemExit):
            start.opsim()
        assert gc.get_freeze_count() > 0
    finally:
        signal.signal(signal.SIGINT, handler)
        gc.unfreeze()


def test_a_ctrl_c_while_the_workers_start_comes_once_they_can_be_closed(monkeypatch, capsys):
    """The SIGINT arrives inside the workers' constructor: held back, then a clean exit that closes them."""

    class InterruptedWhileStarting(_Recorded):
        def __init__(self) -> None:
            super().__init__()
            signal.raise_signal(signal.SIGINT)
            self.built = True

    _Recorded.made = []
    monkeypatch.setattr(figure_workers, "FigureWorkers", InterruptedWhileStarting)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a command (xdist ignores it)
    try:
        with pytest.raises(SystemExit) as stopped:
            start.main(["seed=1"])
    finally:
        signal.signal(signal.SIGINT, previous)
    assert stopped.value.code == 130 and capsys.readouterr().err == "opsim: interrupted while starting; nothing ran\n"
    (workers,) = _Recorded.made
    assert workers.built and workers.closed


def test_opsim_reads_its_command_line_when_given_none(recorded, monkeypatch):
    from sim.app import cli

    calls = []
    monkeypatch.setattr(cli, "main", lambda argv, figure_workers: calls.append((argv, figure_workers)))
    monkeypatch.setattr(sys, "argv", ["opsim", "seed=4", "figures=false"])
    start.main()
    monkeypatch.setattr(sys, "argv", ["opsim", "seed=5"])
    start.main()
    assert calls == [(["seed=4", "figures=false"], None), (["seed=5"], recorded[0])]


@pytest.mark.parametrize(
    ("entry", "module"),
    [
        ("opsim_report", "sim.app.report_cli"),
        ("opsim_plan", "sim.app.plan"),
        ("opsim_calibrate", "sim.app.calibrate"),
        ("opsim_explore", "sim.app.explorer"),
    ],
)
def test_each_console_script_runs_its_command_returns_its_code_and_exits_quickly(entry, module, monkeypatch):
    import importlib

    ran = []
    monkeypatch.setattr(importlib.import_module(module), "main", lambda: ran.append(module) or 7)
    gc.unfreeze()  # objects frozen before (on Python 3.12 the test process holds some): counted from none
    assert gc.get_freeze_count() == 0
    try:
        returned = getattr(start, entry)()
        assert ran == [module] and returned == (None if entry == "opsim_plan" else 7)  # opsim-plan's main exits
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


@pytest.mark.parametrize(
    ("entry", "module", "prog"),
    [
        ("opsim", "sim.app.cli", "opsim"),
        ("opsim_report", "sim.app.report_cli", "opsim-report"),
        ("opsim_plan", "sim.app.plan", "opsim-plan"),
        ("opsim_calibrate", "sim.app.calibrate", "opsim-calibrate"),
        ("opsim_explore", "sim.app.explorer", "opsim-explore"),
    ],
)
def test_ctrl_c_while_a_command_imports_its_modules_is_one_line(entry, module, prog, tmp_path):
    """In a fresh process: the command's module import is interrupted (as a Ctrl-C in its first second would)."""
    code = (
        "import sys\n"
        "class Interrupting:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name == {module!r}:\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, Interrupting())\n"
        "from sim.app import start\n"
        "if __name__ == '__main__':\n"
        f"    sys.argv = [{prog!r}, 'figures=false', 'hydra.run.dir={tmp_path / 'run'}']\n"
        f"    start.{entry}()\n"
    )
    script = tmp_path / "entry.py"
    script.write_text(code)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=False)
    assert (done.returncode, done.stderr) == (130, f"{prog}: interrupted while starting; nothing ran\n")
    assert not (tmp_path / "run").exists()


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text() if entry.name.isdigit() else ""
        except OSError:  # gone meanwhile
            continue
        if stat and int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def _takes_ctrl_c(pid: int) -> bool:
    """Whether ``pid`` does not ignore SIGINT now (its ``SigIgn`` mask in /proc)."""
    status = Path(f"/proc/{pid}/status").read_text()
    ignored = int(next(line for line in status.splitlines() if line.startswith("SigIgn:")).split()[1], 16)
    return not ignored & (1 << (signal.SIGINT - 1))


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_a_real_ctrl_c_in_the_first_second_of_opsim_is_one_line(tmp_path):
    """SIGINT once the figure workers' fork server is up, then again: the command is still importing (about a second).

    Not earlier: while it spawns that server (a few milliseconds) the command ignores
    Ctrl-C, which the server inherits and must ignore during its own imports; so the
    test also waits until the command takes Ctrl-C again.
    """
    import time

    child = subprocess.Popen(
        [sys.executable, "-m", "sim", "population.market_size=2000", f"hydra.run.dir={tmp_path / 'run'}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # not ignored as in a background job
    )
    deadline = time.monotonic() + 60
    while not (_children(child.pid) and _takes_ctrl_c(child.pid)) and child.poll() is None:
        assert time.monotonic() < deadline, "no fork server, or Ctrl-C still ignored, after a minute"
        time.sleep(0.01)
    child.send_signal(signal.SIGINT)
    time.sleep(0.1)
    child.send_signal(signal.SIGINT)  # pressed again while it closes what it started: ignored
    _, err = child.communicate(timeout=120)
    assert child.returncode == 130, err
    assert err == "opsim: interrupted while starting; nothing ran\n"
    assert not (tmp_path / "run").exists()


def test_the_workers_start_before_the_simulator_and_hydra_are_imported(tmp_path):
    """In a fresh process, as the console script runs: what was imported when the workers started, and who drew."""
    argv = [*TINY, "progress=false", f"hydra.run.dir={tmp_path / 'run'}"]
    code = (
        "import json, sys\n"
        "from sim.app import start\n"
        "from sim.output import figure_workers\n"
        "from sim.output.figure_workers import FigureWorkers\n"
        "seen = {}\n"
        "class Watched(FigureWorkers):\n"
        "    def __init__(self):\n"
        "        seen['imported'] = sorted(m for m in ('mesa', 'hydra', 'pandas', 'sim.app.cli', 'sim.app.config') if m in sys.modules)\n"
        "        super().__init__()\n"
        "    def draw(self, data, names):\n"
        "        drawn = super().draw(data, names)\n"
        "        seen['drawn'] = sorted(drawn or ())\n"
        "        return drawn\n"
        "figure_workers.FigureWorkers = Watched\n"
        "if __name__ == '__main__':\n"
        f"    start.main({argv!r})\n"
        "    print(json.dumps(seen))\n"
    )
    script = tmp_path / "opsim_like.py"
    script.write_text(code)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["imported"] == []
    assert "retention" in seen["drawn"] and "stages" in seen["drawn"]
    assert (tmp_path / "run" / "DONE.json").exists()


def test_every_console_script_and_python_m_sim_start_here():
    import tomllib

    scripts = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {name: f"sim.app.start:{name.replace('-', '_')}" for name in scripts}
    assert set(scripts) == {"opsim", "opsim-report", "opsim-plan", "opsim-calibrate", "opsim-explore"}
    main_module = (Path(start.__file__).parents[1] / "__main__.py").read_text()
    assert "from sim.app.start import opsim" in main_module
