"""How ``opsim`` starts: the command line read before any import, the figure workers first, a quick exit."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import pytest

from sim.app import start
from sim.app.argv import ArgvParts, may_draw_figures, split_argv

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
    assert split_argv([]) == ArgvParts([], False, True, "config", None)


class _Recorded:
    """Stands in for FigureWorkers: records what it is asked, draws nothing (the caller then draws)."""

    made: ClassVar[list[_Recorded]] = []

    def __init__(self) -> None:
        self.closed = False
        self.asked: list[str] = []
        _Recorded.made.append(self)

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
    monkeypatch.setattr(start, "FigureWorkers", _Recorded)
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
    assert len(recorded) == 1 and recorded[0].asked == [] and recorded[0].closed
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


def test_a_console_script_returns_its_code_and_leaves_its_objects_frozen_whatever_the_way_out(monkeypatch):
    from sim.app.exits import run_console_script

    def refused() -> None:
        raise SystemExit(2)

    assert gc.get_freeze_count() == 0
    try:
        assert run_console_script(lambda: 3) == 3
        assert gc.get_freeze_count() > 0
        gc.unfreeze()
        with pytest.raises(SystemExit):
            run_console_script(refused)
        assert gc.get_freeze_count() > 0
        gc.unfreeze()
        monkeypatch.setattr(start, "main", refused)  # opsim's own
        with pytest.raises(SystemExit):
            start.command()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_the_workers_start_before_the_simulator_and_hydra_are_imported(tmp_path):
    """In a fresh process, as the console script runs: what was imported when the workers started, and who drew."""
    argv = [*TINY, "progress=false", f"hydra.run.dir={tmp_path / 'run'}"]
    code = (
        "import json, sys\n"
        "from sim.app import start\n"
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
        "start.FigureWorkers = Watched\n"
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


def test_the_console_scripts_and_python_m_sim_start_at_their_command():
    import importlib
    import tomllib

    scripts = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["opsim"] == "sim.app.start:command"
    for name in ("opsim", "opsim-report", "opsim-plan", "opsim-calibrate"):
        module, function = scripts[name].split(":")
        assert function == "command" and callable(importlib.import_module(module).command), name
    main_module = (Path(start.__file__).parents[1] / "__main__.py").read_text()
    assert "from sim.app.start import command" in main_module
