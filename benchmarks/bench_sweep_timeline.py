"""Where the wall time of the 64-job, 2-worker sweep goes (target 5's explanation).

Runs the throughput sweep of ``bench_sweep.py`` (64 jobs of M = 100,000 users over 180
days, one thread a job, joblib launcher with 2 workers) through ``sweep_probe.py``, which
timestamps the command's start, the launcher's call, every job's steps in its worker and
the command's end. For each worker the wall time splits exactly into

    start-up (imports, compose, pre-check of every job; in the parent)
    + worker start (from the launcher's call to the worker's first job: the process
      starts and imports opsim)
    + its jobs: Hydra's job state, the job's config (``load_sweep_config``), the
      simulation (``meta.json`` → ``wall_seconds``), the rest of the job (Hydra's job
      folder and ``.hydra`` records, logging, opsim's checks, tables, summary, ``DONE.json``)
    + gaps between its jobs (the result sent back, the next job sent and unpickled)
    + waiting at the end for the other worker
    + the sweep summary and report (in the parent, after the last job).

Usage:
    python benchmarks/bench_sweep_timeline.py [--rounds 2] [--json FILE]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_sweep import COMMON, WORK

HERE = Path(__file__).parent
JOBS = 64
WORKERS = 2


def run_probe(folder: Path) -> list[dict]:
    """One probed sweep; its events."""
    events = folder / "events.jsonl"
    args = [f"seed=range(0,{JOBS})", *WORK, *COMMON, "hydra/launcher=joblib", f"hydra.launcher.n_jobs={WORKERS}"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run(
        [sys.executable, str(HERE / "sweep_probe.py"), str(events), "-m", *args, f"hydra.sweep.dir={folder / 'sweep'}"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    return [json.loads(line) for line in events.read_text().splitlines()]


def timeline(events: list[dict]) -> dict[str, float]:
    """Seconds per phase, averaged over the workers (each worker's phases sum to the wall time)."""
    at = {e["event"]: e["t"] for e in events if e["event"] != "job"}
    jobs = [e for e in events if e["event"] == "job"]
    per_worker = []
    for pid in sorted({j["pid"] for j in jobs}):
        mine = sorted((j for j in jobs if j["pid"] == pid), key=lambda j: j["started"])
        per_worker.append(
            {
                "jobs": len(mine),
                "worker_start": mine[0]["started"] - at["launch"],
                "job_state": sum(j["state_set"] - j["started"] for j in mine),
                "job_config": sum(j["loaded"] - j["state_set"] for j in mine),
                "simulation": sum(j["simulate_seconds"] for j in mine),
                "rest_of_job": sum(j["ended"] - j["loaded"] - j["simulate_seconds"] for j in mine),
                "gaps_between_jobs": sum(b["started"] - a["ended"] for a, b in itertools.pairwise(mine)),
                "waiting_for_the_other_worker": at["launched"] - mine[-1]["ended"],
            }
        )
    out = {"start_up": at["launch"] - at["start"]}
    for key in per_worker[0]:
        out[key] = statistics.mean(w[key] for w in per_worker)
    out["summary_and_report"] = at["end"] - at["launched"]
    out["wall"] = at["end"] - at["start"]
    out["jobs_in_all"] = len(jobs)
    out["simulation_per_job"] = statistics.mean(j["simulate_seconds"] for j in jobs)
    out["rest_per_job"] = statistics.mean(
        j["ended"] - j["started"] - j["simulate_seconds"] for j in jobs
    )  # state + config + rest of job
    return out


def report(rounds: list[dict[str, float]]) -> str:
    """The median phase table and the check that the phases add up to the wall time."""
    med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    phases = [
        ("start_up", "start-up: imports, compose, pre-check (parent)"),
        ("worker_start", "worker start: process and imports"),
        ("job_state", "jobs: Hydra's job state"),
        ("job_config", "jobs: each job's config"),
        ("simulation", "jobs: simulation"),
        ("rest_of_job", "jobs: job folder, records, tables, DONE.json"),
        ("gaps_between_jobs", "gaps between jobs"),
        ("waiting_for_the_other_worker", "waiting for the other worker"),
        ("summary_and_report", "summary and report (parent)"),
    ]
    lines = [
        f"{JOBS} jobs, {WORKERS} workers (joblib), per worker (mean of the workers; median of {len(rounds)} rounds):",
        "",
        "| phase | seconds |",
        "|---|---:|",
    ]
    lines += [f"| {label} | {med[key]:.2f} |" for key, label in phases]
    total = sum(med[key] for key, _ in phases)
    lines += [
        f"| sum / measured wall time | {total:.2f} / {med['wall']:.2f} |",
        "",
        f"per job: simulation {med['simulation_per_job']:.3f} s, everything else in the worker "
        f"{med['rest_per_job']:.3f} s",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", help="also write every round to this JSON file")
    args = parser.parse_args()
    rounds = []
    for r in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            rounds.append(timeline(run_probe(Path(tmp))))
        print(f"round {r + 1}: wall {rounds[-1]['wall']:.2f} s", flush=True)
    print()
    print(report(rounds))
    if args.json:
        Path(args.json).write_text(json.dumps({"rounds": rounds}, indent=2) + "\n")


if __name__ == "__main__":
    main()
