"""Sweeps: aggregation, failed jobs, interruption and resume, launchers."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest

import sim.app.cli
from sim.app import sweep

SMALL = ["population.market_size=15000", "horizon_days=45", "economics.marginal_roi=false", "figures=false"]
SWEEP = ["-m", "strategy=baseline,winback,retention_first", "seed=0,1", *SMALL]


def opsim(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sim", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )


#: A test cluster on 127.0.0.1 without Ray's token authentication: Ray 2.x turns it on for a
#: head when ~/.ray/auth_token exists (any earlier local ray.init() writes one), and its
#: clients then fail unless they find the same token.
RAY_ENV = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}


def numbers(folder: Path) -> pd.DataFrame:
    table = pd.read_parquet(folder / "sweep_summary.parquet")
    return table.drop(columns=[c for c in table.columns if c == "rank"]).sort_values("point").reset_index(drop=True)


@pytest.fixture(scope="module")
def full_sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweeps")
    proc = opsim(*SWEEP, f"hydra.sweep.dir={root / 'full'}", cwd=root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root / "full"


def test_sweep_aggregates_points_with_intervals_and_ranking(full_sweep):
    table = pd.read_parquet(full_sweep / "sweep_summary.parquet")
    assert set(table.point) == {"strategy=baseline", "strategy=winback", "strategy=retention_first"}
    assert (table.seeds == 2).all() and list(table["rank"]) == [1, 2, 3]
    assert table.p_best.sum() == pytest.approx(1.0)
    assert (table.incremental_profit.diff().dropna() <= 0).all()  # ranked by mean incremental profit
    base = table[table.point == "strategy=baseline"].iloc[0]
    assert base.incremental_profit == 0.0
    content = table[table.point == "strategy=retention_first"].iloc[0]
    assert content.incremental_profit_lo <= content.incremental_profit <= content.incremental_profit_hi
    md = (full_sweep / "sweep_summary.md").read_text()
    assert "| 1 |" in md and "P(best)" in md
    for name in ("sweep_summary.csv", "sweep_jobs.parquet", "sweep_points.png", "sweep_retention.png", "report.html"):
        assert (full_sweep / name).exists()
    page = (full_sweep / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2 and "strategy=retention_first" in page
    jobs = pd.read_parquet(full_sweep / "sweep_jobs.parquet")
    assert len(jobs) == 6 and len(list(full_sweep.rglob("DONE.json"))) == 6


def test_joblib_launcher_gives_identical_results(full_sweep, tmp_path):
    out = tmp_path / "joblib"
    proc = opsim(*SWEEP, f"hydra.sweep.dir={out}", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    pd.testing.assert_frame_equal(numbers(out), numbers(full_sweep))


def test_each_job_is_composed_once_into_one_absolute_sweep_folder(tmp_path, monkeypatch):
    from hydra._internal.config_loader_impl import ConfigLoaderImpl

    from sim.app.config import compose

    assert compose([], with_hydra=True).hydra.sweeper._target_.endswith("OpsimSweeper")
    calls = []
    real = ConfigLoaderImpl.load_sweep_config

    def counting(self, master_config, sweep_overrides):
        calls.append(list(sweep_overrides))
        return real(self, master_config, sweep_overrides)

    monkeypatch.setattr(ConfigLoaderImpl, "load_sweep_config", counting)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["opsim"])
    # 10 days: most retention days are not observed yet (the figure leaves them blank, no warning)
    small = ["population.market_size=2000", "horizon_days=10", "figures=false", "economics.marginal_roi=false"]
    sim.app.cli.main(["-m", "seed=0,1,2", *small, "hydra.sweep.dir=runs/short"])
    assert len(calls) == 3  # the launcher's composition only: no second, serial pass in the parent
    folder = tmp_path / "runs" / "short"
    assert len(list(folder.rglob(sweep.DONE))) == 3 and (folder / "sweep_retention.png").is_file()
    import yaml

    # every job was handed the absolute folder (workers elsewhere write to the same place)
    assert yaml.safe_load((folder / "multirun.yaml").read_text())["hydra"]["sweep"]["dir"] == str(folder)


@pytest.mark.parametrize("folder", ["/tmp/a,b c", "/tmp/it's", "/tmp/back\\slash", "/tmp/end\\", "/tmp/${not_a_key}"])
def test_sweep_folder_passed_to_hydra_stays_the_same_string(folder):
    from sim.app.config import compose, quote_value

    cfg = compose([f"hydra.sweep.dir={quote_value(folder)}"], with_hydra=True)
    assert cfg.hydra.sweep.dir == folder


@pytest.fixture(scope="module")
def ray_head():
    """A real Ray head on 127.0.0.1 (``ray start --head``), stopped after the module's tests."""
    with socket.socket() as probe:  # a free port for the head's GCS
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # Ray's socket paths must stay short
    env = RAY_ENV
    ray = str(Path(sys.executable).with_name("ray"))
    head = subprocess.Popen(
        [ray, "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=2",
         "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}", "--object-store-memory=100000000"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    address = f"127.0.0.1:{port}"
    deadline = time.time() + 120
    while True:
        status = subprocess.run([ray, "status", f"--address={address}"], env=env, capture_output=True, check=False)
        if status.returncode == 0:
            break
        if head.poll() is not None or time.time() > deadline:
            head.kill()
            pytest.fail(f"the Ray head did not start: {head.communicate()[0][-2000:]}\n{status.stderr[-1500:]!r}")
        time.sleep(1)
    yield address
    head.send_signal(signal.SIGTERM)  # --block: the head stops its raylet, GCS and workers
    try:
        head.wait(timeout=60)
    except subprocess.TimeoutExpired:
        head.kill()
    shutil.rmtree(temp, ignore_errors=True)


def test_ray_launcher_on_a_local_ray_head_gives_identical_results(full_sweep, ray_head, tmp_path):
    out = tmp_path / "ray"
    proc = opsim(
        *SWEEP, f"hydra.sweep.dir={out}", "hydra/launcher=ray_cluster", f"hydra.launcher.ray.init.address={ray_head}",
        cwd=tmp_path, env=RAY_ENV,
    )  # fmt: skip
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert "Ray Launcher is launching 6 jobs" in log and "Connected to Ray cluster" in log
    assert len(list(out.rglob(sweep.DONE))) == 6
    pd.testing.assert_frame_equal(numbers(out), numbers(full_sweep))


def test_ray_launcher_without_the_extra_names_the_install_command(monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name.endswith("hydra_ray_launcher") else real(name, *a)
    )
    with pytest.raises(SystemExit) as info:
        sim.app.cli.main(["-m", "seed=0,1", "hydra/launcher=ray_cluster"])
    assert info.value.code == 2
    assert 'pip install "opsim[ray]"' in capsys.readouterr().err


def test_unknown_launcher_is_one_line_naming_the_group_and_the_choices(capsys):
    with pytest.raises(SystemExit) as info:
        sim.app.cli.main(["-m", "seed=0,1", "hydra/launcher=nope"])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert (
        err.startswith("opsim: error: hydra/launcher='nope' is not allowed")
        and "joblib" in err
        and "ray_cluster" in err
    )


def test_failed_job_is_recorded_others_finish_and_resume_completes(full_sweep, tmp_path, monkeypatch):
    real_run = sim.app.cli._run_one

    def flaky(typed, out):
        if typed.seed == 1 and typed.strategy.name == "winback":
            raise RuntimeError("injected failure")
        real_run(typed, out)

    out = tmp_path / "flaky"
    monkeypatch.setattr(sim.app.cli, "_run_one", flaky)
    monkeypatch.setattr(sys, "argv", ["opsim"])
    with pytest.raises(SystemExit) as info:
        sim.app.cli.main([*SWEEP, f"hydra.sweep.dir={out}"])
    assert info.value.code == 1
    failed = list(out.rglob(sweep.FAILED))
    assert len(failed) == 1 and "injected failure" in json.loads(failed[0].read_text())["traceback"]
    assert len(list(out.rglob(sweep.DONE))) == 5
    assert "1 failed job(s)" in (out / "sweep_summary.md").read_text()
    assert json.loads((out / "failures.json").read_text())[0]["error"] == "RuntimeError: injected failure"
    done_before = {p: p.stat().st_mtime_ns for p in out.rglob(sweep.DONE)}

    monkeypatch.setattr(sim.app.cli, "_run_one", real_run)
    sim.app.cli.main([*SWEEP, f"hydra.sweep.dir={out}"])  # the same sweep again: only the failed job runs
    assert all(p.stat().st_mtime_ns == t for p, t in done_before.items())  # finished jobs were skipped
    assert not list(out.rglob(sweep.FAILED)) and len(list(out.rglob(sweep.DONE))) == 6
    pd.testing.assert_frame_equal(numbers(out), numbers(full_sweep))


def test_killed_sweep_resumes_to_the_uninterrupted_result(full_sweep, tmp_path):
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim", *SWEEP, f"hydra.sweep.dir={out}"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 300
    while time.time() < deadline and len(list(out.rglob(sweep.DONE))) < 2:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    finished = len(list(out.rglob(sweep.DONE)))
    assert 2 <= finished < 6, "the sweep should have been interrupted part-way"
    resumed = subprocess.run(
        [sys.executable, "-m", "sim.app.report_cli", str(out), "--resume"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "already complete, skipped" in resumed.stderr + resumed.stdout or finished == 6
    pd.testing.assert_frame_equal(numbers(out), numbers(full_sweep))


@pytest.mark.parametrize("study", ["push_frequency", "winback_timing", "ads_vs_referral"])
def test_study_configs_compose_and_declare_their_sweeps(study):
    from sim.app.config import compose, load_config

    folder = str(Path(__file__).resolve().parents[1] / "experiments" / study)
    cfg = compose([], config_name=study, extra_dir=folder, with_hydra=True)
    assert "seed" in cfg.hydra.sweeper.params and cfg.hydra.sweep.dir == f"experiments/{study}/results"
    load_config(compose([], config_name=study, extra_dir=folder))


def test_sweep_values_declared_in_a_study_config_are_checked_up_front(tmp_path):
    root = Path(__file__).resolve().parents[1]
    study = tmp_path / "bad"
    study.mkdir()
    (study / "bad.yaml").write_text(
        "defaults: [config, _self_]\nhydra:\n  sweeper:\n    params:\n      population.awareness.p: 0.001,3\n"
    )
    proc = opsim(
        "-m", "--config-dir", str(study), "--config-name", "bad", f"hydra.sweep.dir={tmp_path / 'out'}", cwd=root
    )
    assert proc.returncode == 2 and "population.awareness.p=3.0 is not allowed" in proc.stderr
