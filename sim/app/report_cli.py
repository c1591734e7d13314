"""``opsim-report PATH [PATH ...]``: (re)build the HTML report of result folders; resume sweeps.

Given a run folder it rebuilds ``report.html`` and the figures; given a folder of
runs (a Hydra multirun) it reports every run, writes an ``index.html`` linking
them and, for a sweep, the sweep's comparison. ``--resume`` first re-launches the
sweep recorded in the folder's ``multirun.yaml`` (finished jobs are skipped).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sim.app.config import quote_value
from sim.output.run_report import write_index, write_report

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
        reports = []
        for run in runs:
            try:
                reports.append(write_report(run))
                print(f"report: {reports[-1]}")
            except (OSError, KeyError, ValueError) as exc:
                print(f"opsim-report: error: {run}: {exc}", file=sys.stderr)
                status = 1
        if len(runs) > 1 or runs[0] != root:
            print(f"index: {write_index(root, reports)}")
        if (root / "multirun.yaml").is_file():
            from sim.app.sweep import aggregate

            result = aggregate(root)
            print(
                f"sweep: {result['jobs']} jobs, {result['points']} points, {len(result['failures'])} failed: {root / 'sweep_summary.md'}"
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
