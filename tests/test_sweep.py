"""Sweeps: aggregation, failed jobs, interruption and resume, launchers."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim.app.cli
from sim import ConfigError
from sim.app import sweep
from sim.output import completion
from tests.conftest import json_files_below

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


def test_every_json_file_of_a_sweep_is_strict_json_a_missing_number_null(full_sweep):
    """The baseline's ROI (no cost) was written as ``NaN``, which JavaScript's ``JSON.parse`` refuses."""
    files = json_files_below(full_sweep)
    summaries = {name: data for name, data in files.items() if name.endswith("summary.json") and "/" in name}
    assert "SUMMARY.json" in files and "failures.json" in files and len(summaries) == 6
    rois = [data["economics"]["roi"] for data in summaries.values()]
    assert rois.count(None) == 2  # the two seeds of strategy=baseline: no cost, no ROI
    assert all(isinstance(roi, float) for roi in rois if roi is not None)
    table = pd.read_parquet(full_sweep / "sweep_summary.parquet").set_index("point")
    assert np.isnan(table.loc["strategy=baseline", "roi"]) and np.isfinite(table.loc["strategy=winback", "roi"])


def test_joblib_launcher_gives_identical_results(full_sweep, tmp_path):
    out = tmp_path / "joblib"
    proc = opsim(*SWEEP, f"hydra.sweep.dir={out}", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    pd.testing.assert_frame_equal(numbers(out), numbers(full_sweep))


def test_each_job_is_composed_once_into_one_absolute_sweep_folder(tmp_path, monkeypatch):
    from sim.app.config import compose
    from sim.app.sweep_configs import TemplateSweepLoader

    assert compose([], with_hydra=True).hydra.sweeper._target_.endswith("OpsimSweeper")
    calls = []
    real = TemplateSweepLoader.load_sweep_config  # the loader opsim's sweeper hands the launcher

    def counting(self, master_config, sweep_overrides):
        calls.append(list(sweep_overrides))
        return real(self, master_config, sweep_overrides)

    monkeypatch.setattr(TemplateSweepLoader, "load_sweep_config", counting)
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
    assert proc.returncode == 2 and "population.awareness.p=3 is not allowed" in proc.stderr


# --- job folders: short, safe, stable ------------------------------------------------------------


def test_sweep_retention_figure_pools_exactly_as_the_table(full_sweep):
    """The curves drawn are each job's pooled D_N averaged over seeds: at D1/D7/D30 the table's numbers."""
    from sim.output.sweep_report import retention_curves

    table = pd.read_parquet(full_sweep / "sweep_summary.parquet")
    jobs = pd.read_parquet(full_sweep / "sweep_jobs.parquet")
    curves = retention_curves(jobs, table, full_sweep, top=len(table))
    assert [c.point for c in curves] == list(table.point)
    for curve, (_, row) in zip(curves, table.iterrows(), strict=True):
        for n in (1, 7, 30):
            assert curve.mean[n] == pytest.approx(row[f"d{n}"], rel=1e-12), (curve.point, n)
            # the band is the table's interval, both clipped to 0–100 %
            assert (curve.low[n], curve.high[n]) == pytest.approx((row[f"d{n}_lo"], row[f"d{n}_hi"]), rel=1e-9)
    # days the 45-day horizon never observes stay blank rather than entering a denominator
    assert np.isnan(curves[0].mean[45:]).all() and np.isfinite(curves[0].mean[1:45]).all()


def test_job_folders_are_short_safe_and_keep_their_overrides(full_sweep):
    jobs = [marker.parent for marker in full_sweep.rglob(sweep.DONE)]
    assert len(jobs) == 6 and all(job.parent == full_sweep for job in jobs)
    names = {job.name for job in jobs}
    assert all(re.fullmatch(r"strategy=(baseline|winback|retention_first),seed=[01]-[0-9a-f]{12}", n) for n in names)
    for job in jobs:
        overrides = json.loads((job / sweep.JOB).read_text())["overrides"]
        assert set(SMALL) <= {o.replace("False", "false") for o in overrides}  # constants kept in the file...
        assert "market_size" not in job.name  # ...not in the name
        assert job.name.endswith(sweep.overrides_hash(overrides))


def test_job_folder_names_by_hand(tmp_path):
    jobs = [
        ["strategy.paid_ads.search.daily_budget=100", "strategy.paid_ads.social.daily_budget=5", "seed=0", "x=1"],
        ["strategy.paid_ads.search.daily_budget=200", "strategy.paid_ads.social.daily_budget=5", "seed=0", "x=1"],
        ["strategy.paid_ads.search.daily_budget=100", "strategy.paid_ads.social.daily_budget=9", "seed=0", "x=1"],
    ]
    names = sweep.job_folder_names(jobs)
    digest = sweep.overrides_hash(jobs[0])
    assert names[tuple(jobs[0])] == f"search.daily_budget=100,social.daily_budget=5-{digest}"  # constants left out
    assert len(set(names.values())) == 3
    assert sweep.overrides_hash(jobs[0]) == sweep.overrides_hash(list(reversed(jobs[0])))  # order does not matter
    hostile = [
        ["strategy.name=../../../escaped"],
        ["strategy.name=/etc/passwd"],
        ["strategy.name=.."],
        ["strategy.name=ünïcode ☃ $(rm -rf ~)"],
        [f"strategy.name={'x' * 400}"],
        [f"a{i}.key_with_a_long_name={'v' * 60}" for i in range(30)],
        [f"a{i}.key_with_a_long_name={'w' * 60}" for i in range(30)],
    ]
    for job, name in sweep.job_folder_names(hostile).items():
        assert "/" not in name and name not in (".", "..") and not name.startswith((".", "-")), (job, name)
        assert len(name.encode()) <= 255 and re.fullmatch(r"[A-Za-z0-9._=+,-]+", name)
        assert (tmp_path / name).resolve().parent == tmp_path.resolve()
    # a rerun finds a finished job by its hash even where its label changed
    (tmp_path / f"old-label-{digest}").mkdir()
    assert sweep.job_folder_names(jobs, tmp_path)[tuple(jobs[0])] == f"old-label-{digest}"
    assert sweep.job_folder_names(jobs, tmp_path)[tuple(jobs[1])].endswith(sweep.overrides_hash(jobs[1]))


def test_keys_that_change_no_result_are_left_out_of_a_jobs_folder_hash():
    job = ["seed=1", "strategy=winback"]
    for extra in ("progress=true", "threads=1", "parallel=threads", "+progress=false"):
        assert sweep.overrides_hash([*job, extra]) == sweep.overrides_hash(job), extra
    assert sweep.overrides_hash([*job, "horizon_days=5"]) != sweep.overrides_hash(job)  # a result key is kept
    assert sweep.overrides_hash([*job, "progress_x=1"]) != sweep.overrides_hash(job)  # a key, not a prefix
    with pytest.raises(
        ConfigError, match=r"threads='1,2' is not allowed: one value: progress, threads, parallel, kernels"
    ):
        sweep.job_folder_names([[*job, "threads=1"], [*job, "threads=2"]])


def test_a_sweep_rerun_with_progress_on_skips_its_finished_jobs(full_sweep, tmp_path, monkeypatch):
    out = tmp_path / "again"
    shutil.copytree(full_sweep, out)
    done_before = {p: p.stat().st_mtime_ns for p in out.rglob(sweep.DONE)}
    monkeypatch.setattr(sys, "argv", ["opsim"])
    sim.app.cli.main([*SWEEP, "progress=true", f"hydra.sweep.dir={out}"])
    assert {p: p.stat().st_mtime_ns for p in out.rglob(sweep.DONE)} == done_before  # no job ran, no folder added


def test_a_sweep_over_a_key_that_changes_no_result_is_refused_before_anything_is_written(tmp_path, capsys):
    out = tmp_path / "threads"
    with pytest.raises(SystemExit) as info:
        sim.app.cli.main(["-m", "threads=1,2", *SMALL, f"hydra.sweep.dir={out}"])
    assert info.value.code == 2 and not out.exists()
    assert "threads='1,2' is not allowed: one value: progress, threads, parallel, kernels change no result" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize("sweeper", ["opsim", "basic"])
def test_a_swept_value_cannot_write_outside_the_sweep_folder(tmp_path, sweeper):
    """Security: a swept value with ../ (or 400 characters) still gives a folder inside the sweep folder."""
    inside = tmp_path / "a" / "b" / "sweep"
    long_name = "n" * 400
    proc = opsim(
        "-m", f"strategy.name=../../../escaped,'$plain$',{long_name}", "seed=0", "population.market_size=1500",
        "horizon_days=8", "figures=false", "record_events=false", f"hydra/sweeper={sweeper}",
        f"hydra.sweep.dir={inside}", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written and all(inside in p.parents for p in written), [p for p in written if inside not in p.parents]
    done = list(inside.rglob(sweep.DONE))
    assert len(done) == 3 and all(p.parent.parent == inside and len(p.parent.name.encode()) <= 255 for p in done)
    table = pd.read_parquet(inside / "sweep_summary.parquet")
    assert set(table.point) == {"name=../../../escaped", "name='$plain$'", f"name={long_name}"}  # $: no math mode
    page = (inside / "report.html").read_text()
    assert "name=../../../escaped" in page


#: A tiny sweep's config: each job a second or less.
TINY = ["population.market_size=1500", "horizon_days=8", "figures=false", "economics.marginal_roi=false"]


@pytest.fixture
def sweep_here(tmp_path, monkeypatch):
    """``sweep_here(folder, *overrides, tiny=TINY)``: ``opsim -m`` in this process (mutants seen), in ``tmp_path``."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["opsim"])

    def run(folder: Path, *overrides: str, tiny: list[str] = TINY) -> Path:
        sim.app.cli.main(["-m", *overrides, *tiny, f"hydra.sweep.dir={folder}"])
        return folder

    return run


def test_rerun_with_another_swept_key_still_finds_finished_jobs(tmp_path, sweep_here):
    """The folder name's label depends on what varies; the hash at its end finds the job all the same."""
    out = tmp_path / "grow"
    sweep_here(out, "strategy=winback", "seed=0,1")
    first = {p: p.stat().st_mtime_ns for p in out.rglob(sweep.DONE)}
    assert len(first) == 2 and all(p.parent.name.startswith("seed=") for p in first)
    sweep_here(out, "strategy=winback,baseline", "seed=0,1")
    assert all(p.stat().st_mtime_ns == t for p, t in first.items())  # not run again
    assert len(list(out.rglob(sweep.DONE))) == 4
    table = pd.read_parquet(out / "sweep_summary.parquet")
    assert set(table.point) == {"strategy=winback", "strategy=baseline"} and (table.seeds == 2).all()


def test_a_sweep_that_does_not_sweep_the_seed_counts_the_one_its_jobs_ran_with(tmp_path, sweep_here):
    """Without ``seed=`` the table said 0 seeds, paid back 0/0, P(best) missing, and the page "over 0 seeds"."""
    out = tmp_path / "noseed"
    sweep_here(out, "strategy=winback,baseline")
    jobs = pd.read_parquet(out / "sweep_jobs.parquet")
    assert sorted(jobs["seed"]) == [0, 0]  # the config's seed
    table = pd.read_parquet(out / "sweep_summary.parquet")
    assert (table.seeds == 1).all() and table.p_best.sum() == pytest.approx(1.0)
    assert "over 0 seeds" not in (out / "report.html").read_text()
    other = tmp_path / "seed7"  # a seed given once, not swept: that one
    sweep_here(other, "strategy=winback,baseline", "seed=7")
    assert sorted(pd.read_parquet(other / "sweep_jobs.parquet")["seed"]) == [7, 7]


def test_a_sweep_of_other_keys_into_a_used_folder_summarises_its_own_jobs_only(tmp_path, sweep_here):
    """The second sweep counted the first one's jobs too ("4 jobs" for 2 run) and labelled points "strategy=nan"."""
    out = tmp_path / "used"
    sweep_here(out, "strategy=baseline,winback")
    sweep_here(out, "population=game,ecommerce")
    assert len(list(out.rglob(sweep.DONE))) == 4  # the first sweep's jobs are kept (a rerun of it reuses them)
    table = pd.read_parquet(out / "sweep_summary.parquet")
    assert set(table.point) == {"population=game", "population=ecommerce"} and (table.seeds == 1).all()
    assert sweep.read_summary(out)["jobs"] == 2 and sweep.count_jobs(out) == (2, 0)
    for name in ("sweep_summary.md", "sweep_summary.csv", "report.html"):
        text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", (out / name).read_text())  # not the figures' bytes
        assert not re.search(r"\bnan\b", text, re.IGNORECASE), name
    # the first sweep again: its own two jobs, none run again
    first = {p: p.stat().st_mtime_ns for p in out.rglob(sweep.DONE) if "strategy=" in p.parent.name}
    sweep_here(out, "strategy=baseline,winback")
    assert all(p.stat().st_mtime_ns == t for p, t in first.items()) and len(first) == 2
    assert set(pd.read_parquet(out / "sweep_summary.parquet").point) == {"strategy=baseline", "strategy=winback"}
    # a folder whose plan is gone or unreadable (an older sweep's): every job in it counts, as before
    (out / sweep.PLAN).write_text("{not json")
    assert sweep.count_jobs(out) == (4, 0)
    (out / sweep.PLAN).unlink()
    assert len(sweep.collect(out)[0]) == 4


def test_without_the_baseline_the_payback_is_unknown_not_zero_of_n_seeds(tmp_path, sweep_here):
    """economics.compare_to_baseline=false: the table said "paid back 0/2", the page "not paid back", the run's
    headline "not within the horizon" while its verdict said the payback is unknown."""
    from sim.output.run_report import write_report

    out = sweep_here(
        tmp_path / "nobase", "strategy=paid_growth,baseline", "seed=0,1", "economics.compare_to_baseline=false"
    )
    md = (out / "sweep_summary.md").read_text()
    assert "| profit, no baseline run (USD) |" in md  # ranked by profit: shown, not an empty incremental column
    rows = {line.split(" | ")[1]: line for line in md.splitlines() if "strategy=" in line}
    assert rows["strategy=paid_growth"].split(" | ")[5].startswith("-")  # its profit: a number, negative here
    assert rows["strategy=paid_growth"].split(" | ")[-2] == "—"  # paid back: unknown, not 0/2
    assert rows["strategy=baseline"].split(" | ")[-2] == "0/2"  # spends nothing: known (nothing to pay back)
    page = (out / "report.html").read_text()
    assert "unknown without the baseline run" in page and "0 of 2 seeds" in page  # the baseline's note stays
    assert 'data-key="profit"' in page and 'data-key="incremental_profit"' not in page
    job = next(p.parent for p in out.rglob("summary.json") if "paid_growth" in p.parent.name)
    headline = write_report(job, pngs=False).read_text()
    assert re.search(r"payback day</th><td[^>]*>unknown without the baseline run<", headline)


def test_a_sweep_of_seeds_only_names_its_one_point_so_not_by_a_key_it_did_not_sweep(tmp_path, sweep_here):
    """The point was named "market_size=1,500": the first override, read as if it were swept."""
    out = tmp_path / "seeds"
    sweep_here(out, "seed=0,1")
    table = pd.read_parquet(out / "sweep_summary.parquet")
    assert list(table.point) == [sweep.SEEDS_ONLY] and list(table.seeds) == [2]
    assert "market_size=1,500" not in (out / "sweep_summary.md").read_text()


def test_the_sweep_page_links_the_index_of_every_run_only_when_it_is_of_these_jobs(tmp_path, sweep_here, capsys):
    """After a second sweep into the folder, its page linked the index opsim-report had written for the first."""
    from sim.app import report_cli

    out = tmp_path / "linked"
    link = '<a href="index.html">'
    sweep_here(out, "seed=0,1")
    assert link not in (out / "report.html").read_text()  # no index yet
    assert report_cli.main([str(out), "--no-progress"]) == 0
    assert link in (out / "report.html").read_text() and (out / "index.html").is_file()
    sweep_here(out, "seed=0,1,2")
    assert link not in (out / "report.html").read_text()  # the index lists two runs of three: not linked
    assert report_cli.main([str(out), "--no-progress"]) == 0
    assert link in (out / "report.html").read_text()
    assert (out / "index.html").read_text().count("/report.html") == 3


def test_a_sweep_with_another_sweeper_into_the_folder_is_not_summarised_by_the_last_opsim_plan(tmp_path, sweep_here):
    """With hydra/sweeper=basic (which records no plan) the summary counted the previous opsim sweep's plan only."""
    out = tmp_path / "mixed"
    sweep_here(out, "seed=0,1")
    assert (out / sweep.PLAN).is_file()
    sweep_here(out, "hydra/sweeper=basic", "seed=2,3")
    assert not (out / sweep.PLAN).exists()  # no plan: every job in the folder counts, as before plans
    jobs = pd.read_parquet(out / "sweep_jobs.parquet")
    assert sorted(jobs["seed"]) == [0, 1, 2, 3]


def test_a_glob_that_matches_one_preset_names_its_point_by_it(tmp_path, sweep_here):
    """The seeds-only name went to any sweep in which no key varies, a one-preset glob without seeds too."""
    out = tmp_path / "one"
    sweep_here(out, "population=glob(*game*)")
    assert list(pd.read_parquet(out / "sweep_summary.parquet").point) == ["population=game"]


def test_a_glob_sweep_of_presets_runs_each_and_a_sweep_of_nothing_is_refused(tmp_path, sweep_here, capsys):
    """``strategy='glob(ba*)'`` (Hydra's way to sweep presets) ended in "ConfigLoader is not set"; range(0,0) in an IndexError."""
    out = sweep_here(tmp_path / "glob", "strategy=glob(ba*)", "economics.spend_response_multipliers=[]")
    table = pd.read_parquet(out / "sweep_summary.parquet")
    assert set(table.point) == {"strategy=baseline", "strategy=balanced_mix"}
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        sweep_here(tmp_path / "none", "seed=range(0,0)")
    assert info.value.code == 2 and not (tmp_path / "none").exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("opsim: error: seed='range(0,0)' is not allowed: values to sweep over")


@pytest.mark.parametrize(
    ("meta", "seed"),
    [
        ('{"seed": 3}', 3),
        ('{"seed": 0}', 0),
        ('{"seed": true}', None),
        ('{"seed": "3"}', None),
        ("[]", None),
        ("{}", None),
        ("not json", None),
        (None, None),
    ],
)
def test_a_jobs_recorded_seed_is_its_meta_jsons_whole_number_or_none(tmp_path, meta, seed):
    if meta is not None:
        (tmp_path / "meta.json").write_text(meta)
    assert completion.recorded_seed(tmp_path) == seed


def test_sweep_page_and_table_show_cost_incremental_users_and_the_verdict(full_sweep):
    table = pd.read_parquet(full_sweep / "sweep_summary.parquet")
    md = (full_sweep / "sweep_summary.md").read_text()
    assert "| cost (USD) | incremental users |" in md and "| paid back |" in md
    page = (full_sweep / "report.html").read_text()
    best = table.iloc[0]
    if best.cost > 0:
        profit = float(re.search(r'id="verdict"[^>]*data-profit="([^"]+)"', page).group(1))
        assert profit == best.incremental_profit
    else:
        assert "Spending nothing is best" in page
    assert page.count('data-key="cost"') == len(table) and page.count('data-key="incremental_users"') == len(table)
    for _, row in table.iterrows():
        assert re.search(rf'data-value="{re.escape(repr(float(row.cost)))}" data-key="cost"', page)


def test_points_tied_at_a_seed_share_being_best():
    from sim.analysis.sweep_stats import METRICS, summarize_points

    base = dict.fromkeys(METRICS, 0.0)
    jobs = pd.DataFrame(
        [
            {**base, "point": "a", "seed": 0, "incremental_profit": 5.0},
            {**base, "point": "b", "seed": 0, "incremental_profit": 5.0},
            {**base, "point": "a", "seed": 1, "incremental_profit": 1.0},
            {**base, "point": "b", "seed": 1, "incremental_profit": 2.0},
        ]
    )
    table = summarize_points(jobs).set_index("point")
    assert table.loc["a", "p_best"] == pytest.approx(0.25) and table.loc["b", "p_best"] == pytest.approx(0.75)
    assert (table["paid_back"] == 2).all()  # payback_day 0.0 at every seed


def test_a_job_in_two_folders_counts_once(full_sweep, tmp_path):
    """A finished job left in a folder of an older naming scheme (or copied) is not counted twice."""
    copy = tmp_path / "copy"
    shutil.copytree(full_sweep, copy)
    (copy / sweep.PLAN).unlink()  # an older sweep's folder, without its plan: every job in it counts (seed=7 below)
    first = next(copy.rglob(sweep.DONE)).parent
    shutil.copytree(first, copy / "seed=0,strategy=old_style_name")
    jobs, failures = sweep.collect(copy)
    original = pd.read_parquet(full_sweep / "sweep_jobs.parquet")
    assert len(jobs) == 6 and not failures
    assert sweep.count_jobs(copy) == (6, 0)  # the Ctrl-C line's "N of M jobs finished" counts it once too
    # a job that failed in one folder and finished in another is not failed; one that has not finished is
    for name, overrides in (("failed_then_done", None), ("failed", ["seed=7"])):
        job = copy / name
        job.mkdir()
        record = json.loads((first / sweep.JOB).read_text())
        (job / sweep.JOB).write_text(json.dumps({**record, "overrides": overrides or record["overrides"]}))
        (job / sweep.FAILED).write_text(json.dumps({"error": "boom"}))
    assert sweep.count_jobs(copy) == (6, 1)
    assert [f["job"] for f in sweep.collect(copy)[1]] == ["failed"]  # as the summary counts them
    assert sorted(zip(jobs.point, jobs.seed, strict=True)) == sorted(zip(original.point, original.seed, strict=True))


def _job(root: Path, name: str, overrides: list[str], *, done: bool = True, failed: bool = False) -> Path:
    job = root / name
    job.mkdir(parents=True)
    sweep.record_job(job, overrides)
    if done:
        (job / "summary.json").write_text("{}")
        completion.write_marker(job, ["summary.json"], "digest")
    if failed:
        (job / sweep.FAILED).write_text(json.dumps({"error": "boom"}))
    return job


def test_count_jobs_flat_torn_and_each_kind_of_failure_alone(tmp_path):
    """Found by the nineteenth mutation run: each case alone, so no two mistakes cancel out."""
    _job(tmp_path, "a", ["seed=0"])
    assert sweep.count_jobs(tmp_path) == (1, 0)  # a job folder without subfolders counts
    (_job(tmp_path, "b", ["seed=1"]) / "summary.json").write_text("{} ")  # torn: differs from DONE.json
    assert sweep.count_jobs(tmp_path) == (1, 0)
    _job(tmp_path, "a_failed_before", ["seed=0"], done=False, failed=True)  # finished since, in "a"
    assert sweep.count_jobs(tmp_path) == (1, 0)
    _job(tmp_path, "c", ["seed=7"], done=False, failed=True)  # never finished
    assert sweep.count_jobs(tmp_path) == (1, 1)


def test_jobs_of_the_plan_without_a_result_are_named_as_not_run(full_sweep, tmp_path, capsys):
    from sim.app import report_cli

    out = tmp_path / "stopped"
    shutil.copytree(full_sweep, out)
    jobs = sorted(marker.parent for marker in out.rglob(sweep.DONE))
    shutil.rmtree(jobs[0])  # never started
    (jobs[1] / sweep.DONE).unlink()  # stopped while it wrote its files
    assert report_cli.main([str(out), "--no-progress"]) == 1
    failures = json.loads((out / "failures.json").read_text())
    assert sorted(f["job"] for f in failures) == sorted([jobs[0].name, jobs[1].name])
    assert {f["error"] for f in failures} == {sweep.NOT_RUN}
    # both were the baseline's (seeds 0 and 1): a whole point without a result, said so
    assert sorted((f["point"], f["seed"]) for f in failures) == [("strategy=baseline", 0), ("strategy=baseline", 1)]
    assert "sweep: 4 jobs, 2 points, 2 failed" in capsys.readouterr().out
    assert "## 2 failed job(s)" in (out / "sweep_summary.md").read_text()
    # the other side: the whole sweep again has none
    assert report_cli.main([str(full_sweep), "--no-progress"]) == 0
    assert json.loads((full_sweep / "failures.json").read_text()) == []


def test_a_sweep_folder_of_an_earlier_version_is_still_found(tmp_path, monkeypatch, capsys):
    """Before 2026-11-30 a job's folder and PLAN.json hashed every override, progress=false included."""
    import hashlib

    from sim.app import report_cli

    out = tmp_path / "old"
    argv = ["-m", "seed=0,1", *SMALL, "economics.compare_to_baseline=false", "progress=false", f"hydra.sweep.dir={out}"]
    monkeypatch.setattr(sys, "argv", ["opsim"])
    sim.app.cli.main(argv)
    legacy = []
    for marker in sorted(out.rglob(sweep.DONE)):  # made into the earlier version's layout
        overrides = json.loads((marker.parent / sweep.JOB).read_text())["overrides"]
        assert any(o.startswith("progress=") for o in overrides)
        digest = hashlib.sha256("\n".join(sorted(o.strip() for o in overrides)).encode()).hexdigest()[:12]
        assert digest != sweep.overrides_hash(overrides)
        marker.parent.rename(out / f"{marker.parent.name.rpartition('-')[0]}-{digest}")
        legacy.append(digest)
    (out / sweep.PLAN).write_text(json.dumps({"jobs": sorted(legacy)}))
    assert report_cli.main([str(out), "--no-progress"]) == 0
    assert "sweep: 2 jobs, 1 point, 0 failed" in capsys.readouterr().out
    done_before = {p: p.stat().st_mtime_ns for p in out.rglob(sweep.DONE)}
    sim.app.cli.main(argv)  # the same sweep again: its finished jobs are found, none runs, no folder is added
    assert {p: p.stat().st_mtime_ns for p in out.rglob(sweep.DONE)} == done_before


class _Lines(logging.Handler):
    """The messages logged to it."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def text(self) -> str:
        """Every message so far, one a line."""
        return "\n".join(self.lines)


def test_a_sweep_rerun_by_other_opsim_code_runs_its_finished_jobs_again_and_says_so(tmp_path, sweep_here, monkeypatch):
    """A code change did not change DONE.json's config hash: the old summaries were reused, mixed with new ones."""
    out = tmp_path / "code"
    jobs = ("strategy=winback", "seed=0,1")
    monkeypatch.setattr(completion, "code_fingerprint", lambda: "a" * 64, raising=False)
    said, log = _Lines(), logging.getLogger("opsim")
    monkeypatch.setattr(log, "handlers", [*log.handlers, said])  # Hydra's logging set-up drops pytest's
    sweep_here(out, *jobs)

    def finished() -> dict[Path, int]:
        return {p: p.stat().st_mtime_ns for p in out.rglob(sweep.DONE)}

    first = finished()
    said.lines.clear()
    sweep_here(out, *jobs)  # the same code: nothing runs, nothing said
    assert finished() == first and "another opsim code" not in said.text()
    monkeypatch.setattr(completion, "code_fingerprint", lambda: "b" * 64, raising=False)
    sweep_here(out, *jobs)
    second = finished()
    assert len(second) == 2 and all(second[p] != t for p, t in first.items())  # both ran again
    assert {json.loads(p.read_text())["code"] for p in second} == {"b" * 64}
    assert f"2 of 2 finished jobs in {out} run again: another opsim code computed them" in said.text()
    marker = min(second)  # a marker of a version before fingerprints: no "code"
    record = json.loads(marker.read_text())
    del record["code"]
    marker.write_text(json.dumps(record))
    said.lines.clear()
    sweep_here(out, *jobs)
    assert f"1 of 2 finished jobs in {out} run again" in said.text()
    third = finished()
    assert third[marker] != second[marker] and all(third[p] == t for p, t in second.items() if p != marker)


def test_a_summary_of_jobs_from_two_opsim_codes_says_so(tmp_path, sweep_here, capsys):
    """A sweep stopped part-way through its rerun by new code leaves old and new jobs: opsim-report mixed them silently."""
    from sim.app import report_cli

    out = sweep_here(tmp_path / "mixed", "seed=0,1")
    assert report_cli.main([str(out), "--no-progress"]) == 0
    assert "opsim codes" not in capsys.readouterr().err  # one code: nothing to say
    marker = min(out.rglob(sweep.DONE))
    record = json.loads(marker.read_text())
    record["code"] = "0" * 64  # this job as another code left it
    marker.write_text(json.dumps(record))
    assert report_cli.main([str(out), "--no-progress"]) == 0
    assert capsys.readouterr().err.endswith(
        f"opsim-report: warning: {out}: the 2 jobs of this summary were computed by 2 different opsim codes "
        "(the code fingerprint in their DONE.json); run the sweep again to recompute the others with this one\n"
    )
    assert json.loads((out / sweep.SUMMARY).read_text())["codes"] == 2


def _coded_job(root: Path, name: str, code: str | None) -> Path:
    """A finished job folder whose DONE.json records ``code`` (None: a marker from before fingerprints)."""
    job = root / name
    job.mkdir(parents=True)
    (job / "summary.json").write_text("{}\n")
    completion.write_marker(job, ["summary.json"], "abc")
    marker = json.loads((job / sweep.DONE).read_text())
    if code is None:
        del marker["code"]
    else:
        marker["code"] = code
    (job / sweep.DONE).write_text(json.dumps(marker))
    return job


def test_the_rerun_line_counts_only_finished_jobs_of_other_code(tmp_path, monkeypatch):
    """A job of other code whose files changed since is not finished: it runs again anyway, not for its code."""
    monkeypatch.setattr(completion, "code_fingerprint", lambda: "b" * 64, raising=False)
    _coded_job(tmp_path, "mine", "b" * 64)
    _coded_job(tmp_path, "other", "a" * 64)
    torn = _coded_job(tmp_path, "torn", "a" * 64)
    (torn / "summary.json").write_text("{cut")
    names = ["mine", "other", "torn", "never_started"]
    assert sweep.rerun_for_code(tmp_path, names) == (
        f"1 of 3 finished jobs in {tmp_path} run again: another opsim code computed them "
        "(the code fingerprint in their DONE.json differs)"
    )
    assert sweep.rerun_for_code(tmp_path, ["mine", "torn"]) is None  # the other side: nothing finished by other code


def test_a_job_without_a_code_fingerprint_counts_as_one_more_code(tmp_path):
    """A marker of a version before fingerprints names no code: it is not this code (the sweep reruns it)."""
    _coded_job(tmp_path, "new", "b" * 64)
    _coded_job(tmp_path, "old", None)
    assert sweep.codes_of(tmp_path, pd.DataFrame({"job": ["new", "old"]})) == 2
    assert sweep.codes_of(tmp_path, pd.DataFrame({"job": ["new"]})) == 1
    assert sweep.mixed_codes({"codes": 2, "jobs": 2}) is not None and sweep.mixed_codes({"codes": 1, "jobs": 2}) is None
