"""Strategy sweeps: job bookkeeping that loses nothing, and the aggregation at the end.

Every job of a Hydra multirun (``opsim -m strategy=a,b seed=range(0,5)``) writes
its result folder atomically, then ``DONE.json`` with a hash of its resolved
config and the size and SHA-256 of every result file (:mod:`sim.output.completion`).
A job that raises writes ``FAILED.json`` with the traceback instead, and the other
jobs go on; the sweep then exits non-zero and the report lists the failure.
Re-running the same sweep into the same folder (``hydra.sweep.dir=...``, or
``opsim-report PATH --resume``) skips every job whose ``DONE.json`` matches its
config and whose files all match their recorded size and hash, and runs the rest
(missing, failed, interrupted, or with a file deleted, truncated or changed), so
an interrupted sweep costs nothing finished.

At the end of a multirun, :class:`AggregateCallback` aggregates (:func:`aggregate`):
it removes the previous summary (the files listed in ``SUMMARY.json``), collects
every job (:func:`collect`; a job whose files no longer match its marker counts as
failed), computes the per-point statistics (:mod:`sim.analysis.sweep_stats`),
writes the comparison (:mod:`sim.output.sweep_report`) and, last, ``SUMMARY.json``
listing those files with their hashes, the job count and the failures. Its outcome
reaches the ``opsim`` command through the sweep folder (:func:`read_summary`): no
``SUMMARY.json`` after a sweep means the summary failed.
"""

from __future__ import annotations

import json
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from sim.output import completion
from sim.output.completion import DONE, config_hash
from sim.output.files import write_json

if TYPE_CHECKING:  # pandas loads when a sweep is aggregated: sweep jobs and start-up stay lean
    import pandas as pd

__all__ = [
    "DONE",
    "FAILED",
    "SUMMARY",
    "AggregateCallback",
    "aggregate",
    "clear_summary",
    "collect",
    "config_hash",
    "count_jobs",
    "job_is_done",
    "read_summary",
    "record_failure",
]

FAILED = "FAILED.json"
FAILURES = "failures.json"
#: Written last by :func:`aggregate`: the summary's files with their hashes, jobs and failures.
SUMMARY = "SUMMARY.json"


def job_is_done(out: Path, digest: str) -> bool:
    """Whether ``out`` holds a complete result of a job with this config hash (every file as recorded)."""
    return completion.check_complete(out, digest) is None


def record_failure(out: Path, digest: str, exc: BaseException) -> None:
    """Write the traceback of a failed job."""
    payload = {
        "config_hash": digest,
        "error": f"{type(exc).__name__}: {exc}",
        "traceback": "".join(traceback.format_exception(exc)),
    }
    write_json(out / FAILED, payload)


def _overrides(job: Path) -> list[str]:
    """The job's overrides as Hydra recorded them (none where the record is missing or unreadable)."""
    path = job / ".hydra" / "overrides.yaml"
    try:
        found = yaml.safe_load(path.read_text()) if path.is_file() else []
    except (OSError, yaml.YAMLError):
        return []
    return [str(o) for o in found] if isinstance(found, list) else []


def _split(overrides: list[str]) -> tuple[str, int | None, dict[str, str]]:
    seed, params = None, {}
    for o in overrides:
        key, _, value = o.lstrip("+~").partition("=")
        if key == "seed":
            seed = int(value)
        elif not key.startswith("hydra."):
            params[key] = value
    point = ",".join(f"{k}={v}" for k, v in sorted(params.items())) or "(defaults)"
    return point, seed, params


def _label_points(jobs: pd.DataFrame, failures: list[dict[str, Any]]) -> None:
    """Name sweep points by the parameters that vary across the sweep only."""
    from sim.analysis.sweep_stats import METRICS

    params = [c for c in jobs.columns if c not in ("job", "point", "seed", *METRICS)]
    varying = [p for p in params if jobs[p].astype(str).nunique() > 1] or params[:1]
    if varying:
        jobs["point"] = jobs[varying].astype(str).apply(lambda r: ",".join(f"{k}={v}" for k, v in r.items()), axis=1)
        for f in failures:
            f["point"] = ",".join(f"{k}={v}" for k, v in sorted(f["params"].items()) if k in varying)


def collect(sweep_dir: str | Path) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """One row per completed job (point, seed, params, metrics) and the failures.

    A job whose ``DONE.json`` no longer matches its files (deleted, truncated,
    changed) is a failure, named with the reason; resume runs it again.
    """
    import pandas as pd

    from sim.analysis.sweep_stats import job_metrics

    root = Path(sweep_dir)
    rows, failures = [], []

    def failed(job: Path, error: str) -> None:
        point, seed, params = _split(_overrides(job))
        failures.append(
            {"job": str(job.relative_to(root)), "point": point, "seed": seed, "params": params, "error": error}
        )

    for marker in sorted(root.rglob(DONE)) + sorted(root.rglob(FAILED)):
        job = marker.parent
        if job == root:
            continue
        if marker.name == FAILED:
            if not (job / DONE).is_file():
                try:
                    error = str(json.loads(marker.read_text())["error"])
                except (OSError, ValueError, KeyError, TypeError):
                    error = f"{FAILED} cannot be read"
                failed(job, error)
            continue
        problem = completion.check_complete(job)
        if problem is not None:
            failed(job, f"incomplete result ({problem}); resume runs it again")
            continue
        point, seed, params = _split(_overrides(job))
        summary = json.loads((job / "summary.json").read_text())
        rows.append({"job": str(job.relative_to(root)), "point": point, "seed": seed, **params, **job_metrics(summary)})
    jobs = pd.DataFrame(rows)
    if not jobs.empty:
        _label_points(jobs, failures)
    return jobs, failures


def count_jobs(sweep_dir: str | Path) -> tuple[int, int]:
    """Jobs below ``sweep_dir`` that are complete (marker and files match), and jobs that failed."""
    root = Path(sweep_dir)
    done = sum(completion.check_complete(m.parent) is None for m in root.rglob(DONE) if m.parent != root)
    failed = sum(not (m.parent / DONE).is_file() for m in root.rglob(FAILED))
    return done, failed


def clear_summary(sweep_dir: str | Path) -> None:
    """Remove the previous summary: ``SUMMARY.json`` first, then the files it lists (none can pass for current)."""
    root = Path(sweep_dir)
    previous = read_summary(root)
    (root / SUMMARY).unlink(missing_ok=True)
    (root / FAILURES).unlink(missing_ok=True)
    listed = (previous or {}).get("files", {})
    for name in listed if isinstance(listed, dict) else ():
        if isinstance(name, str) and Path(name).name == name:  # a file of this folder, nothing elsewhere
            (root / name).unlink(missing_ok=True)


def aggregate(
    sweep_dir: str | Path, collected: tuple[pd.DataFrame, list[dict[str, Any]]] | None = None
) -> dict[str, Any]:
    """Aggregate every job below ``sweep_dir``; write the comparison table and figures, then ``SUMMARY.json``.

    The previous summary is removed first (:func:`clear_summary`): if this one fails
    part-way, no file of the old one is left to pass for current, and there is no
    ``SUMMARY.json``.

    Args:
        sweep_dir: The sweep folder.
        collected: What :func:`collect` returned for it, if the caller has it already.

    Returns:
        ``{"jobs": n, "points": n, "failures": [...], "files": [...]}``.

    """
    from sim.analysis.sweep_stats import summarize_points
    from sim.output.sweep_report import write_sweep_summary

    root = Path(sweep_dir)
    clear_summary(root)
    jobs, failures = collect(root) if collected is None else collected
    table = None if jobs.empty else summarize_points(jobs)
    files = write_sweep_summary(root, jobs, table, failures)
    result = {"jobs": len(jobs), "points": 0 if table is None else len(table), "failures": failures, "files": files}
    records = {name: completion.file_record(root / name) for name in files}
    write_json(root / SUMMARY, {**result, "files": records})
    return result


def read_summary(sweep_dir: str | Path) -> dict[str, Any] | None:
    """What the last finished aggregation of ``sweep_dir`` recorded (None if there is none)."""
    try:
        data = json.loads((Path(sweep_dir) / SUMMARY).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class AggregateCallback(Callback):
    """Hydra callback: aggregate the sweep when a multirun ends (failed jobs included).

    Hydra turns an exception raised here into a warning; the ``opsim`` command
    catches that warning and exits non-zero (and no ``SUMMARY.json`` is written).
    """

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:  # noqa: D102
        import logging

        log = logging.getLogger("opsim")
        root = config.hydra.sweep.dir
        result = aggregate(root)
        log.info("sweep: %d jobs, %d points; summary in %s/sweep_summary.md", result["jobs"], result["points"], root)
        if result["failures"]:
            log.error("%d job(s) failed: %s", len(result["failures"]), ", ".join(f["job"] for f in result["failures"]))
