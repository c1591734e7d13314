"""``opsim-report PATH [PATH ...]``: (re)build the HTML report of result folders; resume sweeps.

Given a run folder it rebuilds ``report.html`` and the figures; given a folder of
runs (a Hydra multirun) it reports every run (with a progress bar), writes a styled
``index.html`` linking them and, for a sweep, the sweep's comparison page
``report.html``, which the index links. Runs are looked for at most
:data:`MAX_RUN_DEPTH` folders below the folder given (:func:`find_runs`), so a folder
such as ``/`` is not walked whole: without a run that near, it is refused in a fraction
of a second. ``--resume`` first re-launches the sweep
recorded in the folder's ``multirun.yaml`` (finished jobs are skipped), after
checking that the record asks for nothing but opsim's config (:mod:`sim.app.resume`).

Exit codes (:mod:`sim.app.exits`): 0 done; 1 a job or a report failed, or a file
could not be written; 2 bad input (a missing or malformed folder or file, a sweep
record resume refuses); 130 interrupted. Each error is one line naming the folder
or file.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from tqdm.auto import tqdm

from sim.app.exits import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    describe,
    exit_code,
    one_line_usage_errors,
)
from sim.base.errors import OpsimError, UsageError
from sim.output import completion, folders
from sim.output.formatting import counted
from sim.output.index_page import write_index
from sim.output.run_report import write_report_files

__all__ = ["MAX_RUN_DEPTH", "find_runs", "main", "resume"]

PROG = "opsim-report"
#: How many folders below the folder given opsim-report looks for runs. opsim writes a sweep's
#: jobs 1 below the sweep folder, Hydra's runs ``outputs/<date>/<time>/`` 2 below ``outputs``, and
#: sweeps ``multirun/<date>/<time>/<job>/`` 3 below ``multirun``; deeper, a folder such as ``/`` or
#: a home folder would be walked whole.
MAX_RUN_DEPTH = 3
#: The file that makes a folder a run folder.
RUN_FILE = "summary.json"


def _error(exc: BaseException | str) -> None:
    print(f"{PROG}: error: {exc if isinstance(exc, str) else describe(exc)}", file=sys.stderr, flush=True)


def _report_run(run: Path) -> Path:
    """Rebuild one run's report; keep its completion marker true to the files rewritten.

    A run whose marker is missing or does not match its files (it stopped while
    writing them, or a file changed since) is reported from what is there, with a
    warning line that says so.
    """
    problem = completion.check_complete(run)
    written = write_report_files(run)
    if problem is None:
        completion.update_marker(run, [p.name for p in written])
    else:
        print(
            f"{PROG}: warning: {run} is not a finished run ({problem}): its report shows the files as they are",
            file=sys.stderr,
            flush=True,
        )
    return written[-1]


def find_runs(root: Path, depth: int = MAX_RUN_DEPTH) -> list[Path]:
    """The run folders (with a ``summary.json``) of ``root``: itself, or those at most ``depth`` folders below it.

    The search goes into neither a run folder (its ``.hydra`` is no run), nor a hidden
    folder (``.git``, ``.venv``), nor a linked one (no loops, nothing outside ``root``);
    a folder it cannot read is passed over.
    """
    if _is_run(root):
        return [root]
    runs: list[Path] = []
    level = [root]
    for _ in range(depth):
        below = []
        for folder in level:
            try:
                with os.scandir(folder) as entries:
                    children = [Path(e.path) for e in entries if _searched(e)]
            except OSError:  # unreadable, or removed while the search runs
                continue
            for child in children:
                (runs if _is_run(child) else below).append(child)
        level = below
    return sorted(runs)


def _is_run(folder: Path) -> bool:
    """Whether ``folder`` holds a run's ``summary.json`` (not where it cannot be read)."""
    try:
        return (folder / RUN_FILE).is_file()
    except OSError:
        return False


def _searched(entry: os.DirEntry[str]) -> bool:
    """Whether the search for runs looks into ``entry``: a folder, not hidden, not a link."""
    try:
        return not entry.name.startswith(".") and entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _report(root: Path, *, progress: bool) -> int:
    """Report one folder (a run, or a folder of runs and maybe a sweep); the exit status.

    Every run's report is rebuilt (with a progress bar), then the index of a folder
    of runs and a sweep's comparison.
    """
    runs = find_runs(root)
    if not runs:
        _error(
            f"{root}: no {RUN_FILE} in it or up to {MAX_RUN_DEPTH} folders below it (not an opsim result folder: "
            "give a run folder, a sweep folder or a folder of them)"
        )
        return EXIT_BAD_INPUT
    status = EXIT_OK
    is_sweep = (root / folders.MULTIRUN_RECORD).is_file()
    collected = None
    labels: dict[Path, tuple[str, int | None]] = {}
    if is_sweep:
        from sim.app.sweep import collect

        collected = collect(root)
        jobs = collected[0]
        if not jobs.empty:
            labels = {root / j: (p, s) for j, p, s in zip(jobs["job"], jobs["point"], jobs["seed"], strict=True)}
    reports = []
    with tqdm(runs, desc="reports", unit="run", disable=not progress or len(runs) < 2, leave=False) as bar:
        for run in bar:
            try:
                reports.append(_report_run(run))
                bar.write(f"report: {reports[-1]}")
            except (OpsimError, OSError, ValueError, KeyError) as exc:
                _error(exc if isinstance(exc, OpsimError | OSError) else f"{run}: {describe(exc)}")
                code = exit_code(exc) if isinstance(exc, OpsimError | OSError) else EXIT_BAD_INPUT
                # the folder given is malformed: bad input; one run of a sweep is: that run failed
                status = max(status, code if run == root else min(code, EXIT_FAILED))
    indexed = bool(reports) and (len(runs) > 1 or runs[0] != root)
    if indexed:
        sweep_page = root / "report.html" if is_sweep else None
        print(f"index: {write_index(root, reports, labels=labels, sweep_report=sweep_page)}")
    if is_sweep:
        from sim.app.sweep import aggregate, mixed_codes

        result = aggregate(root, collected, index=indexed)
        mixed = mixed_codes(result)
        if mixed:
            print(f"{PROG}: warning: {root}: {mixed}", file=sys.stderr, flush=True)
        print(
            f"sweep: {counted(result['jobs'], 'job')}, {counted(result['points'], 'point')}, "
            f"{len(result['failures'])} failed: "
            f"{root / 'report.html'}"
        )
        if result["failures"]:
            status = max(status, EXIT_FAILED)
    return status


def main(argv: list[str] | None = None) -> int:
    """``opsim-report PATH [PATH ...]``: (re)build the HTML report of result folders."""
    parser = argparse.ArgumentParser(
        prog=PROG, description="Build the self-contained HTML report of opsim result folders."
    )
    parser.add_argument("paths", nargs="+", help="a run folder (with summary.json) or a folder of runs (a sweep)")
    parser.add_argument(
        "--resume", action="store_true", help="sweeps: run the jobs that are missing or failed, then report"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar while reports are rebuilt")
    one_line_usage_errors(parser)
    args = parser.parse_args(argv)
    status = EXIT_OK
    try:
        for raw in args.paths:
            root = Path(raw)
            if not root.is_dir():
                _error(
                    f"{root}: a file, not a folder (a run or sweep folder)"
                    if root.exists()
                    else f"{root}: no such folder"
                )
                status = max(status, EXIT_BAD_INPUT)
                continue
            if args.resume:
                resumed = resume(root)
                status = max(status, resumed)
                if resumed in (EXIT_BAD_INPUT, EXIT_INTERRUPTED):
                    continue
            status = max(status, _report(root, progress=not args.no_progress))
    except KeyboardInterrupt:
        print(
            f"{PROG}: interrupted: every report written so far is complete (each file is written whole)",
            file=sys.stderr,
            flush=True,
        )
        return EXIT_INTERRUPTED
    except (OpsimError, OSError) as exc:
        _error(exc)
        return max(status, exit_code(exc))
    return status


def resume(root: Path) -> int:
    """Re-launch the sweep recorded in ``root/multirun.yaml`` into the same folder (finished jobs are skipped).

    The record is checked first (:func:`sim.app.resume.resume_argv`); a record
    that asks for anything beyond opsim's config is refused with one line and
    nothing runs. The sweep runs in this process, through the ``opsim`` command's
    own entry point.

    Returns:
        The exit status of the resumed sweep (2 when refused).

    """
    from sim.app import cli
    from sim.app.resume import resume_argv

    try:
        argv = resume_argv(root)
    except UsageError as exc:
        _error(exc)
        return EXIT_BAD_INPUT
    print(f"resuming: opsim {' '.join(map(shell_word, argv))}", flush=True)
    try:
        cli.main(argv)
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else EXIT_FAILED
    return EXIT_OK


def shell_word(arg: str) -> str:
    """``arg`` as a POSIX shell reads it back: quoted where needed, in double quotes around Hydra's single ones.

    A printed command is pasted into a shell: ``seed=range(0,4)`` unquoted is a syntax
    error there. Hydra's quoted values (``hydra.sweep.dir='/my runs'``) read better in
    double quotes than in ``shlex.quote``'s ``'"'"'``, where nothing in them is special
    inside double quotes.
    """
    if "'" in arg and not any(c in arg for c in '"$`\\!'):
        return f'"{arg}"'
    return shlex.quote(arg)


if __name__ == "__main__":
    raise SystemExit(main())
