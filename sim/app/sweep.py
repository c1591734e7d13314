"""Strategy sweeps: job bookkeeping that loses nothing, and the aggregation at the end.

Every job of a Hydra multirun (``opsim -m strategy=a,b seed=range(0,5)``) writes
its result folder atomically, then ``DONE.json`` with a hash of its resolved
config. A job that raises writes ``FAILED.json`` with the traceback instead, and
the other jobs go on; the sweep then exits non-zero and the report lists the
failure. Re-running the same sweep into the same folder (``hydra.sweep.dir=...``,
or ``opsim-report PATH --resume``) skips every job whose ``DONE.json`` matches its
config and runs only the rest, so an interrupted sweep costs nothing finished.

At the end of a multirun, :class:`AggregateCallback` collects every job
(:func:`collect`), computes the per-point statistics
(:mod:`sim.analysis.sweep_stats`) and writes the comparison
(:mod:`sim.output.sweep_report`). Its outcome reaches the ``opsim`` command through
the sweep folder: ``failures.json`` lists the failed jobs (:func:`read_failures`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from sim.app.config import Config
from sim.output.files import write_json

if TYPE_CHECKING:  # pandas loads when a sweep is aggregated: sweep jobs and start-up stay lean
    import pandas as pd

__all__ = [
    "AggregateCallback",
    "aggregate",
    "collect",
    "config_hash",
    "job_is_done",
    "read_failures",
    "record_done",
    "record_failure",
]

DONE, FAILED = "DONE.json", "FAILED.json"
FAILURES = "failures.json"


def config_hash(cfg: Config) -> str:
    """SHA-256 of the resolved, typed config (what a job's result depends on)."""
    text = json.dumps(dataclasses.asdict(cfg), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def job_is_done(out: Path, digest: str) -> bool:
    """Whether ``out`` holds a complete result of a job with this config hash."""
    marker = out / DONE
    if not marker.is_file() or not (out / "summary.json").is_file():
        return False
    try:
        return json.loads(marker.read_text()).get("config_hash") == digest
    except (json.JSONDecodeError, OSError):
        return False


def record_done(out: Path, digest: str, seconds: float) -> None:
    """Write the completion marker last, atomically; clear an old failure."""
    (out / FAILED).unlink(missing_ok=True)
    write_json(out / DONE, {"config_hash": digest, "seconds": seconds})


def record_failure(out: Path, digest: str, exc: BaseException) -> None:
    """Write the traceback of a failed job."""
    payload = {
        "config_hash": digest,
        "error": f"{type(exc).__name__}: {exc}",
        "traceback": "".join(traceback.format_exception(exc)),
    }
    write_json(out / FAILED, payload)


def _overrides(job: Path) -> list[str]:
    path = job / ".hydra" / "overrides.yaml"
    return list(yaml.safe_load(path.read_text()) or []) if path.is_file() else []


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
    """One row per completed job (point, seed, params, metrics) and the failures."""
    import pandas as pd

    from sim.analysis.sweep_stats import job_metrics

    root = Path(sweep_dir)
    rows, failures = [], []
    for marker in sorted(root.rglob(DONE)) + sorted(root.rglob(FAILED)):
        job = marker.parent
        point, seed, params = _split(_overrides(job))
        if marker.name == FAILED:
            if not (job / DONE).is_file():
                info = json.loads(marker.read_text())
                failures.append(
                    {
                        "job": str(job.relative_to(root)),
                        "point": point,
                        "seed": seed,
                        "params": params,
                        "error": info["error"],
                    }
                )
            continue
        summary = json.loads((job / "summary.json").read_text())
        rows.append({"job": str(job.relative_to(root)), "point": point, "seed": seed, **params, **job_metrics(summary)})
    jobs = pd.DataFrame(rows)
    if not jobs.empty:
        _label_points(jobs, failures)
    return jobs, failures


def aggregate(
    sweep_dir: str | Path, collected: tuple[pd.DataFrame, list[dict[str, Any]]] | None = None
) -> dict[str, Any]:
    """Aggregate every job below ``sweep_dir``; write the comparison table and figures.

    Args:
        sweep_dir: The sweep folder.
        collected: What :func:`collect` returned for it, if the caller has it already.

    Returns:
        ``{"jobs": n, "points": n, "failures": [...], "files": [...]}``.

    """
    from sim.analysis.sweep_stats import summarize_points
    from sim.output.sweep_report import write_sweep_summary

    root = Path(sweep_dir)
    jobs, failures = collect(root) if collected is None else collected
    table = None if jobs.empty else summarize_points(jobs)
    files = write_sweep_summary(root, jobs, table, failures)
    return {"jobs": len(jobs), "points": 0 if table is None else len(table), "failures": failures, "files": files}


def read_failures(sweep_dir: str | Path) -> list[dict[str, Any]] | None:
    """The failed jobs the last aggregation of ``sweep_dir`` recorded (None if it wrote none)."""
    path = Path(sweep_dir) / FAILURES
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


class AggregateCallback(Callback):
    """Hydra callback: aggregate the sweep when a multirun ends (failed jobs included)."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:  # noqa: D102
        import logging

        log = logging.getLogger("opsim")
        root = config.hydra.sweep.dir
        collected = collect(root)
        # Failures first: a problem while drawing the summary must not hide them.
        write_json(Path(root) / FAILURES, collected[1])
        result = aggregate(root, collected)
        log.info("sweep: %d jobs, %d points; summary in %s/sweep_summary.md", result["jobs"], result["points"], root)
        if result["failures"]:
            log.error("%d job(s) failed: %s", len(result["failures"]), ", ".join(f["job"] for f in result["failures"]))
