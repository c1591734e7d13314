"""``opsim-report SWEEP --resume`` runs nothing that the sweep folder's files ask for beyond opsim's config.

Whoever can write to a shared sweep folder can write its ``multirun.yaml``, or point it
at a config folder of theirs. Each case writes such a record with a payload that
creates a marker file if it ever runs (``pathlib.Path.touch`` as a Hydra callback, a
``pkg://`` search path that imports a module, a job environment, another launcher),
resumes, and checks: exit 2, one line naming the record and what was refused, and
no marker. One case shows the payload is live: the same study config run by its
owner's own command does create the marker.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

import sim.app.cli
from sim.app import report_cli
from sim.app.resume import resume_argv

ROOT = Path(__file__).resolve().parents[1]
TINY = ["seed=0,1", "population.market_size=500", "horizon_days=5", "figures=false"]


def record(folder: Path, task: list[str], hydra: list[str] = (), config_dir: Path | None = None, name: str = "config"):
    """A sweep folder whose multirun.yaml holds this (possibly hostile) command line."""
    folder.mkdir(parents=True, exist_ok=True)
    sources = [{"path": "hydra.conf", "schema": "pkg", "provider": "hydra"}]
    if config_dir is not None:
        sources.append({"path": str(config_dir), "schema": "file", "provider": "command-line"})
    spec = {
        "hydra": {
            "overrides": {"hydra": [f"hydra.sweep.dir={folder}", "hydra.mode=MULTIRUN", *hydra], "task": task},
            "runtime": {"config_sources": sources},
            "job": {"config_name": name},
        }
    }
    (folder / "multirun.yaml").write_text(yaml.safe_dump(spec))
    return folder


def payload(marker: Path) -> str:
    """Python that creates the marker (run if a module is imported)."""
    return f"import pathlib; pathlib.Path({str(marker)!r}).touch()"


def callback_yaml(marker: Path) -> str:
    """A Hydra callback that creates the marker when Hydra instantiates it (as in the issue)."""
    return f"hydra:\n  callbacks:\n    x:\n      _target_: pathlib.Path.touch\n      _args_: [{str(marker)!r}]\n"


def study(folder: Path, text: str, name: str = "study", extra: dict[str, str] | None = None) -> Path:
    """A config folder with a primary config ``name`` (defaults: opsim's config) plus extra preset files."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yaml").write_text("defaults:\n  - config\n  - _self_\n" + text)
    for path, content in (extra or {}).items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(content)
    return folder


def hostile_records(tmp: Path, marker: Path) -> list[tuple[str, Path, str]]:
    """(case, sweep folder, fragment the refusal must name)."""
    code = payload(marker)
    evil_module = tmp / "modules" / "opsim_evil_module"
    evil_module.mkdir(parents=True)
    (evil_module / "__init__.py").write_text(code + "\n")
    callback = callback_yaml(marker)
    return [
        (
            "callback in the task overrides",
            record(
                tmp / "a",
                [*TINY, "+hydra.callbacks.x._target_=pathlib.Path.touch", f"+hydra.callbacks.x._args_=['{marker}']"],
            ),
            "+hydra.callbacks.x._target_=pathlib.Path.touch",
        ),
        (
            "callback in the hydra overrides",
            record(tmp / "b", TINY, ["+hydra.callbacks.x._target_=pathlib.Path.touch"]),
            "+hydra.callbacks.x._target_=pathlib.Path.touch",
        ),
        ("job environment", record(tmp / "c", TINY, ["+hydra.job.env_set.LD_PRELOAD=/tmp/x.so"]), "LD_PRELOAD"),
        ("launcher not on the list", record(tmp / "d", TINY, ["hydra/launcher=ray"]), "hydra/launcher=ray"),
        (
            "cluster address from the file",
            record(tmp / "e", TINY, ["hydra/launcher=ray_cluster", "hydra.launcher.ray.init.address=evil:6379"]),
            "hydra.launcher.ray.init.address",
        ),
        ("_target_ in a config key", record(tmp / "f", [*TINY, "+population._target_=os.system"]), "_target_"),
        ("hydra key in the task", record(tmp / "g", [*TINY, "hydra.run.dir=/etc"]), "hydra.run.dir"),
        ("package syntax", record(tmp / "h", [*TINY, "+channel@strategy.paid_ads.x=paid_ads"]), "channel@"),
        (
            "callback in a study config",
            record(tmp / "i", TINY, config_dir=study(tmp / "study_i", callback), name="study"),
            "hydra.callbacks.x",
        ),
        (
            "pkg:// search path",
            record(
                tmp / "j",
                TINY,
                config_dir=study(tmp / "study_j", "hydra:\n  searchpath: [pkg://opsim_evil_module]\n"),
                name="study",
            ),
            "pkg://opsim_evil_module",
        ),
        (
            "callback in a swept preset",
            record(
                tmp / "k",
                [*TINY, "population=consumer_app,evil"],
                config_dir=study(
                    tmp / "study_k", "", extra={"population/evil.yaml": "# @package _global_\n" + callback}
                ),
                name="study",
            ),
            "hydra.callbacks.x",
        ),
        (
            "callback declared as a sweep of the study",
            record(
                tmp / "l",
                ["population.market_size=500", "horizon_days=5"],
                config_dir=study(
                    tmp / "study_l",
                    "hydra:\n  sweeper:\n    params:\n      +hydra.callbacks.x._target_: pathlib.Path.touch\n",
                ),
                name="study",
            ),
            "+hydra.callbacks.x._target_=pathlib.Path.touch",
        ),
        (
            "logging handler factory",
            record(
                tmp / "m",
                TINY,
                config_dir=study(
                    tmp / "study_m",
                    "hydra:\n  job_logging:\n    handlers:\n      x:\n        (): pathlib.Path.touch\n",
                ),
                name="study",
            ),
            "hydra.job_logging",
        ),
        ("config name with a path", record(tmp / "n", TINY, config_dir=tmp / "study_i", name="../../x"), "../../x"),
    ]


def test_hostile_records_are_refused_and_nothing_runs(tmp_path, monkeypatch, capsys):
    marker = tmp_path / "PWNED"
    cases = hostile_records(tmp_path, marker)
    monkeypatch.syspath_prepend(str(tmp_path / "modules"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["opsim-report"])
    for case, folder, fragment in cases:
        before = sorted(p.name for p in folder.iterdir())
        assert report_cli.main([str(folder), "--resume"]) == 2, case
        err = capsys.readouterr().err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in err, (case, err)
        assert lines[0].startswith(f"opsim-report: error: {folder / 'multirun.yaml'}: "), (case, lines[0])
        assert fragment in lines[0] and "hydra.sweep.dir=" in lines[0], (case, lines[0])
        assert not marker.exists(), case
        assert sorted(p.name for p in folder.iterdir()) == before, case  # no job folder, no summary
    assert "opsim_evil_module" not in sys.modules


def test_the_study_payload_is_live_when_its_owner_runs_it(tmp_path, monkeypatch):
    """Not a vacuous check: the study config of the refused case does run its callback from a command line."""
    marker = tmp_path / "PWNED"
    folder = study(tmp_path / "study", callback_yaml(marker))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["opsim"])
    sim.app.cli.main(["-m", "--config-dir", str(folder), "--config-name", "study", *TINY, "hydra.sweep.dir=out"])
    assert marker.exists()


@pytest.mark.parametrize("name", ["push_frequency", "winback_timing", "ads_vs_referral"])
def test_the_committed_studies_resume(tmp_path, name):
    folder = ROOT / "experiments" / name
    given = ["population.market_size=500"]
    argv = resume_argv(record(tmp_path / "sweep", given, ["hydra/launcher=joblib"], config_dir=folder, name=name))
    assert argv[:2] == ["-m", "population.market_size=500"]
    assert "hydra/launcher=joblib" in argv and argv[-4:] == ["--config-dir", str(folder), "--config-name", name]
    assert f"hydra.sweep.dir='{(tmp_path / 'sweep').resolve()}'" in argv


def test_a_plain_record_resumes_with_the_launcher_it_names(tmp_path):
    folder = record(tmp_path / "sweep", TINY, ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"])
    argv = resume_argv(folder)
    assert argv == [
        "-m",
        *TINY,
        f"hydra.sweep.dir='{folder.resolve()}'",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
    ]
