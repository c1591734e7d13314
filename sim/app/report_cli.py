"""``opsim-report PATH [PATH ...]``: (re)build the HTML report of result folders; resume sweeps.

Given a run folder it rebuilds ``report.html`` and the figures; given a folder of
runs (a Hydra multirun) it reports every run (with a progress bar), writes a styled
``index.html`` linking them and, for a sweep, the sweep's comparison page
``report.html``, which the index links. ``--resume`` first re-launches the
sweep recorded in the folder's ``multirun.yaml`` (finished jobs are skipped).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm.auto import tqdm

from sim.app.config import quote_value
from sim.output.index_page import write_index
from sim.output.run_report import write_report

__all__ = ["main", "resume"]


def main(argv: list[str] | None = None) -> int:
    """``opsim-report PATH [PATH ...]``: (re)build the HTML report of result folders."""
    parser = argparse.ArgumentParser(
        prog="opsim-report", description="Build the self-contained HTML report of opsim result folders."
    )
    parser.add_argument("paths", nargs="+", help="a run folder (with summary.json) or a folder of runs (a sweep)")
    parser.add_argument(
        "--resume", action="store_true", help="sweeps: run the jobs that are missing or failed, then report"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar while reports are rebuilt")
    args = parser.parse_args(argv)
    status = 0
    for raw in args.paths:
        root = Path(raw)
        if args.resume:
            status = max(status, resume(root))
        runs = [root] if (root / "summary.json").is_file() else sorted(p.parent for p in root.rglob("summary.json"))
        if not runs:
            print(f"opsim-report: error: {root}: no summary.json in it or below it", file=sys.stderr)
            status = 2
            continue
        status = max(status, _report_folder(root, runs, progress=not args.no_progress))
    return status


def _report_folder(root: Path, runs: list[Path], *, progress: bool) -> int:
    """Rebuild every run's report (with a progress bar), the index of a folder of runs and a sweep's comparison."""
    status = 0
    is_sweep = (root / "multirun.yaml").is_file()
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
                reports.append(write_report(run))
                bar.write(f"report: {reports[-1]}")
            except (OSError, KeyError, ValueError) as exc:
                bar.write(f"opsim-report: error: {run}: {exc}", file=sys.stderr)
                status = 1
    if len(runs) > 1 or runs[0] != root:
        sweep_page = root / "report.html" if is_sweep else None
        print(f"index: {write_index(root, reports, labels=labels, sweep_report=sweep_page)}")
    if is_sweep:
        from sim.app.sweep import aggregate

        result = aggregate(root, collected)
        print(
            f"sweep: {result['jobs']} jobs, {result['points']} points, {len(result['failures'])} failed: "
            f"{root / 'report.html'}"
        )
        if result["failures"]:
            status = max(status, 1)
    return status


def resume(root: Path) -> int:
    """Re-launch the sweep recorded in ``root/multirun.yaml`` into the same folder (finished jobs are skipped)."""
    import subprocess

    import yaml

    spec = root / "multirun.yaml"
    if not spec.is_file():
        print(f"opsim-report: error: {root}: no multirun.yaml, not a sweep folder", file=sys.stderr)
        return 2
    hydra_cfg = yaml.safe_load(spec.read_text())["hydra"]
    argv = ["-m", *hydra_cfg["overrides"]["task"], "hydra.sweep.dir=" + quote_value(str(root.resolve()))]
    argv += [o for o in hydra_cfg["overrides"].get("hydra", []) if o.startswith(("hydra/launcher", "hydra.launcher"))]
    for source in hydra_cfg.get("runtime", {}).get("config_sources", []):
        if source.get("provider") == "command-line" and source.get("schema") == "file":
            argv += ["--config-dir", source["path"]]
    name = hydra_cfg.get("job", {}).get("config_name")
    if name and name != "config":
        argv += ["--config-name", name]
    print(f"resuming: opsim {' '.join(argv)}", flush=True)
    return subprocess.run([sys.executable, "-m", "sim", *argv], check=False).returncode


if __name__ == "__main__":
    raise SystemExit(main())
