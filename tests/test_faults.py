"""Faults while running: Ctrl-C, SIGKILL during writes, a file-size limit, a read-only folder, a corrupted job.

Each test ends with nothing lost and a rerun (a single run) or a resume (a sweep) that
reproduces the uninterrupted result byte for byte: every result file's size and
SHA-256 as ``DONE.json`` records them, except ``meta.json`` (wall time) and
``report.html`` (it names its folder, compared with the folder name replaced).
Faults are injected in this process where the code path is the same (a
``KeyboardInterrupt`` is what Ctrl-C raises) and in a subprocess where the fault
belongs to the process (a real SIGINT, SIGKILL, ``ulimit -f``, dropped privileges).
"""

from __future__ import annotations

import errno
import json
import os
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import sim.app.cli
import sim.output.result
import sim.output.sweep_report
from sim.app import report_cli, sweep
from sim.app.sweep_configs import TemplateSweepLoader
from sim.output import completion, files
from sim.output.completion import DONE

RUN = ["population.market_size=4000", "horizon_days=30", "progress=false", "figures=false"]
SWEEP = ["-m", "seed=0,1,2,3", "population.market_size=6000", "horizon_days=30", "figures=false"]
#: Files whose bytes depend on when or where a run was made, not on what it computed.
NOT_COMPARED = ("meta.json", "report.html")


def records(folder: Path) -> dict:
    """What a folder's DONE.json says of each result file, less the files that record time or place."""
    marker = completion.read_marker(folder)
    assert marker is not None, f"{folder} has no DONE.json"
    return {k: v for k, v in marker["files"].items() if k not in NOT_COMPARED}


#: Files ``opsim-report`` adds to a run folder (the report and its figures).
REPORT_FILES = (".png", ".html")


def assert_same_result(folder: Path, reference: Path) -> None:
    """Byte for byte: sizes and SHA-256 of every result file; the page with its folder name replaced.

    ``folder`` may hold a report the reference lacks (``opsim-report`` rebuilt it).
    """
    assert completion.check_complete(folder) is None
    got, want = records(folder), records(reference)
    assert {k: v for k, v in got.items() if k in want} == want
    assert all(name.endswith(REPORT_FILES) for name in set(got) - set(want))
    for name, record in got.items():
        assert completion.file_record(folder / name) == record
    if (reference / "report.html").is_file() and (folder / "report.html").is_file():
        page = (folder / "report.html").read_text().replace(str(folder), "FOLDER")
        assert page == (reference / "report.html").read_text().replace(str(reference), "FOLDER")


def no_temporaries(folder: Path) -> bool:
    return not [p for p in folder.rglob(".*.tmp")]


def run_opsim(argv: list[str], monkeypatch) -> int:
    """``opsim`` in this process; its exit code."""
    monkeypatch.setattr(sys, "argv", ["opsim"])
    try:
        sim.app.cli.main(argv)
    except SystemExit as stop:
        return int(stop.code)
    return 0


def opsim_process(argv: list[str], cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sim", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        **kwargs,
    )


def one_line(err: str, *fragments: str) -> str:
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("[")]
    assert "Traceback" not in err, err
    assert len(lines) == 1, err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run and an uninterrupted sweep, made in this process."""
    root = tmp_path_factory.mktemp("reference")
    mp = pytest.MonkeyPatch()
    try:
        assert run_opsim([*RUN, f"hydra.run.dir={root / 'run'}"], mp) == 0
        assert run_opsim([*SWEEP, f"hydra.sweep.dir={root / 'sweep'}"], mp) == 0
    finally:
        mp.undo()
    return root


def job_folders(sweep_dir: Path) -> list[Path]:
    return sorted(p.parent for p in sweep_dir.rglob(".hydra") if p.parent != sweep_dir)


def sweep_table(folder: Path) -> pd.DataFrame:
    return pd.read_parquet(folder / "sweep_summary.parquet")


def assert_same_sweep(folder: Path, reference: Path) -> None:
    pd.testing.assert_frame_equal(sweep_table(folder), sweep_table(reference), check_exact=True)
    assert (folder / "sweep_summary.csv").read_bytes() == (reference / "sweep_summary.csv").read_bytes()
    jobs, ref_jobs = job_folders(folder), job_folders(reference)
    assert [j.name for j in jobs] == [j.name for j in ref_jobs]
    for job, ref in zip(jobs, ref_jobs, strict=True):
        assert_same_result(job, ref)
    assert sweep.read_summary(folder) is not None


# ------------------------------------------------------------ single runs
def test_ctrl_c_while_writing_leaves_no_half_file_and_a_rerun_reproduces_the_result(
    reference, tmp_path, monkeypatch, capsys
):
    out = tmp_path / "run"
    real = files.write_atomic

    def interrupted(path, write):  # Ctrl-C arrives while summary.json is half written
        if Path(path).name == "summary.json":

            def half(tmp: Path) -> None:
                tmp.write_text('{"half')
                raise KeyboardInterrupt

            return real(path, half)
        return real(path, write)

    monkeypatch.setattr(files, "write_atomic", interrupted)
    assert run_opsim([*RUN, f"hydra.run.dir={out}"], monkeypatch) == 130
    one_line(capsys.readouterr().err, "opsim: interrupted", str(out), "no DONE.json", "run the same command again")
    assert not (out / "summary.json").exists() and not (out / DONE).exists() and no_temporaries(out)
    assert completion.check_complete(out) is not None  # the folder does not pass for finished
    monkeypatch.setattr(files, "write_atomic", real)
    assert run_opsim([*RUN, f"hydra.run.dir={out}"], monkeypatch) == 0
    assert_same_result(out, reference / "run")


def error_while_ctrl_c_unwinds(error: BaseException) -> None:
    """Raise ``error`` as a ``finally`` block does when it fails while a Ctrl-C passes through it."""
    try:
        raise KeyboardInterrupt
    finally:
        raise error


def test_an_error_raised_while_ctrl_c_unwinds_a_run_is_an_interruption(tmp_path, monkeypatch, capsys):
    def interrupted(typed, out, *, figure_workers=None):
        error_while_ctrl_c_unwinds(OSError(errno.EIO, os.strerror(errno.EIO)))

    monkeypatch.setattr(sim.app.cli, "_run_one", interrupted)
    out = tmp_path / "run"
    assert run_opsim([*RUN, f"hydra.run.dir={out}"], monkeypatch) == 130
    one_line(capsys.readouterr().err, "opsim: interrupted", str(out), "run the same command again")


@pytest.mark.parametrize("multirun", [False, True])
def test_an_error_that_leaves_hydra_is_one_line_with_what_finished(tmp_path, monkeypatch, capsys, multirun):
    """What Hydra itself cannot write (its folder, its records) reaches main: one line, exit 1."""
    folder = tmp_path / ("sweep" if multirun else "run")

    def unwritable(*_args, **_kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(folder))

    monkeypatch.setattr(sim.app.cli, "run_hydra", unwritable)
    argv = [*SWEEP, f"hydra.sweep.dir={folder}"] if multirun else [*RUN, f"hydra.run.dir={folder}"]
    assert run_opsim(argv, monkeypatch) == 1
    said = f"opsim: error: cannot write {folder}: {os.strerror(errno.EROFS)}"
    # nothing of the sweep was made (no multirun.yaml for opsim-report --resume to read): the same command again
    assert capsys.readouterr().err == said + (
        "; no job of 4 finished; run the same command again\n" if multirun else "\n"
    )


def test_a_failed_write_names_the_file_and_the_reason(tmp_path, monkeypatch, capsys):
    real = files.write_atomic

    def full(path, write):
        if Path(path).name == "daily.parquet":
            raise_from = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

            def fails(tmp: Path) -> None:
                raise raise_from

            return real(path, fails)
        return real(path, write)

    monkeypatch.setattr(sim.output.result, "write_atomic", full)
    out = tmp_path / "run"
    assert run_opsim([*RUN, f"hydra.run.dir={out}"], monkeypatch) == 1
    one_line(capsys.readouterr().err, f"opsim: error: cannot write {out / 'daily.parquet'}", "No space left on device")
    assert not (out / "daily.parquet").exists() and not (out / DONE).exists() and no_temporaries(out)


def test_stale_temporaries_are_cleaned_and_the_marker_is_written_last(reference, tmp_path, monkeypatch):
    out = tmp_path / "run"
    shutil.copytree(reference / "run", out)
    (out / ".daily.parquet.deadbeef.tmp").write_bytes(b"half a parquet")  # a killed write's leftover
    (out / ".notes.tmp").write_text("not ours")  # not the pattern of opsim's temporaries: kept
    (out / DONE).unlink()  # killed after summary.json, before the marker
    assert completion.check_complete(out) == "no readable DONE.json"
    written = []
    real = files.write_text

    def spy(path, text):
        written.append(Path(path).name)
        real(path, text)

    monkeypatch.setattr(files, "write_text", spy)  # write_json goes through it
    assert run_opsim([*RUN, f"hydra.run.dir={out}"], monkeypatch) == 0
    assert written[-1] == DONE  # last
    assert not (out / ".daily.parquet.deadbeef.tmp").exists() and (out / ".notes.tmp").exists()
    assert_same_result(out, reference / "run")


@pytest.mark.slow  # a subprocess
def test_sigkill_during_a_write_then_rerun(reference, tmp_path):
    """SIGKILL after cohorts.parquet's content is written, before its rename: no half file under its name."""
    out = tmp_path / "run"
    child = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "import sim.output.result as result\n"
        "real = result.write_atomic\n"
        "def killing(path, write):\n"
        "    def then_die(tmp):\n"
        "        write(tmp)\n"
        "        if Path(path).name == 'cohorts.parquet':\n"
        "            os.kill(os.getpid(), signal.SIGKILL)\n"
        "    return real(path, then_die)\n"
        "result.write_atomic = killing\n"
        "from sim.app.cli import main\n"
        "main(sys.argv[1:])\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", child, *RUN, f"hydra.run.dir={out}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert (out / "daily.parquet").is_file() and not (out / "cohorts.parquet").exists()
    assert list(out.glob(".cohorts.parquet.*.tmp")) and not (out / DONE).exists()
    pd.read_parquet(out / "daily.parquet")  # what is there under its own name is whole
    mp = pytest.MonkeyPatch()
    try:
        assert run_opsim([*RUN, f"hydra.run.dir={out}"], mp) == 0
    finally:
        mp.undo()
    assert no_temporaries(out)
    assert_same_result(out, reference / "run")


def _file_size_limit(limit: int):
    def apply() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.slow  # a subprocess
def test_file_size_limit_on_a_run(reference, tmp_path):
    out = tmp_path / "run"
    proc = opsim_process([*RUN, f"hydra.run.dir={out}"], tmp_path, preexec_fn=_file_size_limit(6_000))
    assert proc.returncode == 1, proc.stderr
    line = one_line(proc.stderr, "opsim: error: cannot write", str(out), "File too large")
    failed = Path(line.split("cannot write ", 1)[1].split(": File too large")[0])
    assert not failed.exists() and not (out / DONE).exists() and no_temporaries(out)
    for done in out.glob("*.parquet"):  # the files written before the limit are whole
        pd.read_parquet(done)
    mp = pytest.MonkeyPatch()
    try:
        assert run_opsim([*RUN, f"hydra.run.dir={out}"], mp) == 0
    finally:
        mp.undo()
    assert_same_result(out, reference / "run")


def _unprivileged() -> list[str] | None:
    """A command prefix under which the permission bits bind (root has CAP_DAC_OVERRIDE), or None."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    caps = "-dac_override,-dac_read_search"
    return [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}"]


@pytest.mark.slow  # a subprocess
def test_read_only_folder_keeps_the_finished_result(reference, tmp_path):
    prefix = _unprivileged()
    if prefix is None:
        pytest.skip("running as root without setpriv: permission bits cannot bind")
    out = tmp_path / "run"
    shutil.copytree(reference / "run", out)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file() and p.name != "opsim.log"}
    out.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    try:
        proc = subprocess.run(
            [*prefix, sys.executable, "-m", "sim", *RUN, f"hydra.run.dir={out}"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    finally:
        out.chmod(0o755)
    assert proc.returncode == 1, proc.stderr
    one_line(proc.stderr, "opsim: error: cannot write", str(out), "Permission denied")
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file() and p.name != "opsim.log"}
    assert after == before  # nothing lost (the log may gain a line)
    assert completion.check_complete(out) is None


# ----------------------------------------------------------------- sweeps
def test_corrupted_finished_jobs_are_found_and_resume_runs_only_them(reference, tmp_path, monkeypatch):
    folder = tmp_path / "sweep"
    shutil.copytree(reference / "sweep", folder)
    jobs = job_folders(folder)
    with open(jobs[0] / "daily.parquet", "r+b") as f:  # truncated
        f.truncate(100)
    (jobs[1] / "cohorts.parquet").unlink()  # deleted
    summary = jobs[2] / "summary.json"
    summary.write_text(summary.read_text()[:50])  # truncated JSON
    untouched = (jobs[3] / "summary.json").stat().st_mtime_ns
    result = sweep.aggregate(folder)  # the summary lists them, it does not crash on them
    assert {f["job"] for f in result["failures"]} == {str(j.relative_to(folder)) for j in jobs[:3]}
    assert all("resume runs it again" in f["error"] for f in result["failures"]) and result["jobs"] == 1
    assert run_opsim([*SWEEP, f"hydra.sweep.dir={folder}"], monkeypatch) == 0  # resume: the same command
    assert (jobs[3] / "summary.json").stat().st_mtime_ns == untouched  # the intact job was not run again
    assert_same_sweep(folder, reference / "sweep")


def test_a_failed_summary_exits_1_and_leaves_no_stale_summary(reference, tmp_path, monkeypatch, capsys):
    folder = tmp_path / "sweep"
    shutil.copytree(reference / "sweep", folder)
    old = sweep.read_summary(folder)["files"]
    assert {"sweep_summary.md", "sweep_summary.parquet", "sweep_points.png"} <= set(old)

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(folder / "sweep_summary.parquet"))

    monkeypatch.setattr(sim.output.sweep_report, "write_sweep_summary", no_space)
    assert run_opsim([*SWEEP, f"hydra.sweep.dir={folder}"], monkeypatch) == 1
    one_line(
        capsys.readouterr().err,
        "the sweep's summary was not written",
        "No space left on device",
        "4 of 4 jobs finished",
        "opsim-report",
    )
    assert sweep.read_summary(folder) is None
    assert not [name for name in old if (folder / name).exists()]  # nothing of the old summary passes for current
    assert all(completion.check_complete(j) is None for j in job_folders(folder))  # finished jobs kept
    monkeypatch.undo()
    assert run_opsim([*SWEEP, f"hydra.sweep.dir={folder}"], monkeypatch) == 0
    assert_same_sweep(folder, reference / "sweep")


def test_a_job_that_leaves_nothing_is_counted_missing(tmp_path, monkeypatch, capsys):
    real_run = sim.app.cli._run_one

    def broken(typed, out):
        if typed.seed == 1:
            raise RuntimeError("injected")
        real_run(typed, out)

    def cannot_record(*args):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(sim.app.cli, "_run_one", broken)
    monkeypatch.setattr(sweep, "record_failure", cannot_record)
    tiny = ["-m", "seed=0,1", "population.market_size=1000", "horizon_days=10", "figures=false"]
    assert run_opsim([*tiny, f"hydra.sweep.dir={tmp_path / 'sweep'}"], monkeypatch) == 1
    one_line(capsys.readouterr().err, "1 of 2 jobs left no result and no FAILED.json", "run the same command again")


@pytest.mark.parametrize("where", ["in a job", "between jobs"])
def test_an_error_raised_while_ctrl_c_unwinds_a_sweep_is_an_interruption(
    where, reference, tmp_path, monkeypatch, capsys
):
    """Not a failed job (no FAILED.json) nor a traceback: exit 130, what finished, and resume completes it.

    Where the Ctrl-C landed in Hydra's preparation of a job, OmegaConf raised an
    AttributeError from a ``finally`` block (seen on Python 3.13): ``between jobs``.
    """
    folder = tmp_path / "sweep"
    unwinding = AttributeError("'NoneType' object has no attribute '_invalidate_flags_cache'")
    if where == "in a job":
        real_run = sim.app.cli._run_one

        def third_interrupted(typed, out):
            if typed.seed == 2:
                error_while_ctrl_c_unwinds(unwinding)
            real_run(typed, out)

        monkeypatch.setattr(sim.app.cli, "_run_one", third_interrupted)
    else:  # while Hydra composes the third job's config, before opsim's task runs
        real_load = TemplateSweepLoader.load_sweep_config

        def third_interrupted(self, master_config, sweep_overrides):
            if "seed=2" in sweep_overrides:
                error_while_ctrl_c_unwinds(unwinding)
            return real_load(self, master_config, sweep_overrides)

        monkeypatch.setattr(TemplateSweepLoader, "load_sweep_config", third_interrupted)
    assert run_opsim([*SWEEP, f"hydra.sweep.dir={folder}"], monkeypatch) == 130
    one_line(capsys.readouterr().err, "opsim: interrupted: 2 of 4 jobs finished", f"opsim-report {folder} --resume")
    assert not list(folder.rglob(sweep.FAILED))
    assert sorted(j.name.split("-")[0] for j in job_folders(folder) if (j / DONE).exists()) == ["seed=0", "seed=1"]
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert report_cli.main([str(folder), "--resume"]) == 0
    assert_same_sweep(folder, reference / "sweep")
    printed = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("resuming: "))
    words = shlex.split(printed.removeprefix("resuming: "))  # as a shell reads the printed command
    assert words[:2] == ["opsim", "-m"] and "seed=0,1,2,3" in words, printed
    assert f"hydra.sweep.dir='{folder}'" in words, printed  # the folder as Hydra reads it, after the shell


def test_ctrl_c_before_any_job_finished_says_how_to_resume(reference, tmp_path, monkeypatch, capsys):
    """Before 2026-11-30 the line was only "no job of 4 finished", without how to resume."""
    folder = tmp_path / "sweep"

    def first_interrupted(typed, out):
        raise KeyboardInterrupt

    monkeypatch.setattr(sim.app.cli, "_run_one", first_interrupted)
    assert run_opsim([*SWEEP, f"hydra.sweep.dir={folder}"], monkeypatch) == 130
    assert capsys.readouterr().err == (
        f"opsim: interrupted: no job of 4 finished; resume with: opsim-report {folder} --resume "
        "(or the same command again)\n"
    )
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    assert report_cli.main([str(folder), "--resume"]) == 0
    assert_same_sweep(folder, reference / "sweep")


@pytest.mark.parametrize("name", ["my sweep", "it's", 'say "hi"'])
@pytest.mark.parametrize("done", [0, 1])
def test_the_resume_command_is_quoted_so_that_pasted_into_a_shell_it_names_the_folder(name, done, tmp_path):
    """Before 2026-11-30 ``resume with: opsim-report /tmp/my sweep --resume``: two arguments once pasted."""
    from sim.app.cli import CommandPlan, _resume_hint

    folder = tmp_path / name
    folder.mkdir()
    (folder / "multirun.yaml").write_text("hydra: {}\n")
    if done:  # a finished job, as count_jobs reads one
        job = folder / "seed=0-abc"
        job.mkdir()
        sweep.record_job(job, ["seed=0"])
        (job / "summary.json").write_text("{}")
        completion.write_marker(job, ["summary.json"], "hash")
    hint = _resume_hint(CommandPlan(folder=folder, multirun=True, jobs=4))
    assert hint.startswith(f"{done} of 4 jobs finished" if done else "no job of 4 finished"), hint
    pasted = hint.split("resume with: ")[1].removesuffix(" (or the same command again)")
    assert shlex.split(pasted) == ["opsim-report", str(folder), "--resume"]


@pytest.mark.parametrize(
    ("done", "said"),
    [
        (0, "no job of 4 finished; run the same command again"),
        (1, "1 of 4 jobs finished in {folder} and is kept; run the same command again"),
        (2, "2 of 4 jobs finished in {folder} and are kept; run the same command again"),
    ],
)
def test_without_the_sweeps_record_the_resume_hint_is_the_same_command_again(done, said, tmp_path):
    """``opsim-report --resume`` reads ``multirun.yaml``: a sweep stopped before Hydra wrote it is not told to run it."""
    from sim.app.cli import CommandPlan, _resume_hint

    folder = tmp_path / "sweep"
    folder.mkdir()
    for seed in range(done):  # finished jobs, as count_jobs reads them
        job = folder / f"seed={seed}-abc"
        job.mkdir()
        sweep.record_job(job, [f"seed={seed}"])
        (job / "summary.json").write_text("{}")
        completion.write_marker(job, ["summary.json"], "hash")
    plan = CommandPlan(folder=folder, multirun=True, jobs=4)
    assert _resume_hint(plan) == said.format(folder=folder)
    (folder / "multirun.yaml").write_text("hydra: {}\n")  # the other side: the record written
    assert _resume_hint(plan).endswith(f"resume with: opsim-report {folder} --resume (or the same command again)")


@pytest.mark.slow  # a subprocess and a real signal
def test_ctrl_c_on_a_sweep_says_what_finished_and_resume_completes_it(reference, tmp_path):
    folder = tmp_path / "sweep"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim", *SWEEP, f"hydra.sweep.dir={folder}"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # Ctrl-C signals the whole process group
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # not ignored, whatever started us
    )
    deadline = time.time() + 300
    while time.time() < deadline and not list(folder.rglob(DONE)):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    line = one_line(err, "opsim: interrupted:", "of 4 jobs finished", f"opsim-report {folder} --resume")
    finished = int(line.split("interrupted: ")[1].split(" of ")[0])
    assert 1 <= finished < 4 and len([j for j in job_folders(folder) if (j / DONE).exists()]) == finished
    assert no_temporaries(folder) or True  # a job killed mid-write may leave one; its rerun removes it
    mp = pytest.MonkeyPatch()
    try:
        mp.chdir(tmp_path)
        assert report_cli.main([str(folder), "--resume"]) == 0
    finally:
        mp.undo()
    assert no_temporaries(folder)
    assert_same_sweep(folder, reference / "sweep")


@pytest.mark.slow  # a subprocess
def test_file_size_limit_on_a_sweep_keeps_what_finished_and_resume_completes_it(reference, tmp_path):
    folder = tmp_path / "sweep"
    # daily.parquet (about 13 kB) is over the limit; Hydra's records and FAILED.json are under it
    proc = opsim_process([*SWEEP, f"hydra.sweep.dir={folder}"], tmp_path, preexec_fn=_file_size_limit(12_000))
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    last = [line for line in proc.stderr.splitlines() if line.startswith("opsim: error:")]
    assert len(last) == 1 and "4 of 4 jobs failed" in last[0], proc.stderr[-2000:]
    for job in job_folders(folder):
        assert "File too large" in json.loads((job / sweep.FAILED).read_text())["error"]
    assert no_temporaries(folder)
    for job in job_folders(folder):
        assert (job / DONE).exists() == (completion.check_complete(job) is None)  # a marker only on a whole job
    mp = pytest.MonkeyPatch()
    try:
        assert run_opsim([*SWEEP, f"hydra.sweep.dir={folder}"], mp) == 0
    finally:
        mp.undo()
    for job in job_folders(folder):
        assert not (job / sweep.FAILED).exists()
    assert_same_sweep(folder, reference / "sweep")
    assert json.loads((folder / "failures.json").read_text()) == []


def test_ctrl_c_in_opsim_report_says_interrupted_as_every_command_does(tmp_path, monkeypatch, capsys):
    """It said "opsim-report: error: interrupted; ..." where opsim, opsim-plan and opsim-calibrate say "PROG: interrupted: ..."."""

    def interrupted(_root, *, progress):
        raise KeyboardInterrupt

    monkeypatch.setattr(report_cli, "_report", interrupted)
    assert report_cli.main([str(tmp_path)]) == 130
    assert capsys.readouterr().err == (
        "opsim-report: interrupted: every report written so far is complete (each file is written whole)\n"
    )
