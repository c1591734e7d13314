"""Strategy sweeps: job bookkeeping that loses nothing, and the aggregation at the end.

Every job of a Hydra multirun (``opsim -m strategy=a,b seed=range(0,5)``) runs in
its own folder directly inside the sweep folder, named by
:func:`job_folder_names`: the swept values that vary, made safe for any file
system (letters, digits and ``._=+,-`` only, at most
:data:`MAX_LABEL_BYTES` of them), and a hash of all the job's overrides — e.g.
``strategy=paid_growth,seed=3-5d41402abc4b``. No value can climb out of the
sweep folder (``strategy.name=../../x`` becomes ``strategy.name=.._.._x``), no name
passes 255 bytes, and the overrides themselves are kept in the folder's
``job.json``. opsim's sweeper hands each job its name; a rerun finds a finished
job by the hash at the end of its folder's name, even where a different set of
swept keys gives it a different label.

A job writes its result folder atomically, then ``DONE.json`` with a hash of its
resolved config and the size and SHA-256 of every result file
(:mod:`sim.output.completion`). A job that raises writes ``FAILED.json`` with the
traceback instead, and the other jobs go on; the sweep then exits non-zero and the
report lists the failure. Re-running the same sweep into the same folder
(``hydra.sweep.dir=...``, or ``opsim-report PATH --resume``) skips every job whose
``DONE.json`` matches its config and the code fingerprint of this opsim
(:func:`sim.output.completion.code_fingerprint`) and whose files all match their
recorded size and hash, and runs the rest (missing, failed, interrupted, with a file
deleted, truncated or changed, or computed by other opsim code: the sweeper says how
many, :func:`rerun_for_code`), so an interrupted sweep costs nothing finished and a
table never mixes the results of two codes.

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

import hashlib
import json
import re
import string
import traceback
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from sim.analysis.sweep_labels import point_label, short_keys
from sim.base.errors import ConfigError
from sim.output import completion, folders
from sim.output.completion import DONE, config_hash
from sim.output.files import write_json
from sim.output.formatting import counted

if TYPE_CHECKING:  # pandas loads when a sweep is aggregated: sweep jobs and start-up stay lean
    import pandas as pd

__all__ = [
    "DONE",
    "FAILED",
    "SUMMARY",
    "AggregateCallback",
    "aggregate",
    "clear_plan",
    "clear_summary",
    "codes_of",
    "collect",
    "config_hash",
    "count_jobs",
    "job_folder_names",
    "job_is_done",
    "mixed_codes",
    "read_summary",
    "record_failure",
    "record_job",
    "record_plan",
    "rerun_for_code",
]

FAILED = "FAILED.json"
FAILURES = "failures.json"
#: Written last by :func:`aggregate`: the summary's files with their hashes, jobs and failures.
SUMMARY = folders.SWEEP_SUMMARY
#: The job's own record of its overrides, written into its folder before it runs.
JOB = "job.json"
#: The sweep's record of the jobs it runs (their overrides' hashes), written as it starts: what its summary counts.
PLAN = folders.SWEEP_PLAN
#: Characters a job folder's name may hold; every other character of a swept value becomes ``_``.
UNSAFE = re.compile(r"[^A-Za-z0-9._=+,-]")
#: Longest readable part of a job folder's name, in bytes (the name stays far below the usual 255-byte limit).
MAX_LABEL_BYTES = 120
#: The name of the one point of a sweep of seeds only (every other override the same in every job).
SEEDS_ONLY = "one config, seeds only"
#: Hex digits of the overrides' hash that end a job folder's name.
HASH_DIGITS = 12
#: Why the keys that change no result (``progress``, ``threads``, ``parallel``, ``kernels``) take one value in a sweep.
NOT_SWEPT = (
    f"one value: {', '.join(completion.NOT_IN_HASH)} change no result, so a sweep over them would run "
    "the same job twice (time runs with benchmarks/bench_core.py)"
)


def _override_key(override: str) -> str:
    return override.partition("=")[0].lstrip("+~")


def overrides_hash(overrides: Sequence[str]) -> str:
    """Hash of a job's overrides, in any order: the part of its folder name a rerun looks for.

    Overrides of keys that change no result file (:data:`~sim.output.completion.NOT_IN_HASH`:
    ``progress``, ``threads``, ``parallel``, ``kernels``) are left out, as the config hash leaves them
    out: a rerun with ``progress=true`` finds the finished jobs.
    """
    kept = (o.strip() for o in overrides if _override_key(o.strip()) not in completion.NOT_IN_HASH)
    text = "\n".join(sorted(kept))
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_DIGITS]


def legacy_overrides_hash(overrides: Sequence[str]) -> str:
    """The hash of every override, as versions before 2026-11-30 named job folders and PLAN.json: still found."""
    text = "\n".join(sorted(o.strip() for o in overrides))
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_DIGITS]


def _safe_label(overrides: Sequence[str], varying: Sequence[str]) -> str:
    """The varying overrides as ``short=value`` parts, made file-system safe and at most MAX_LABEL_BYTES long."""
    short = short_keys(varying)
    values = {_override_key(o): o.partition("=")[2] for o in overrides}
    label = ",".join(f"{short[k]}={values[k]}" for k in varying if k in values)
    label = UNSAFE.sub("_", label).lstrip(".-")  # never a hidden name, never an option
    return label[:MAX_LABEL_BYTES].rstrip(",")


def job_folder_names(jobs: Sequence[Sequence[str]], sweep_dir: Path | None = None) -> dict[tuple[str, ...], str]:
    """A short, safe folder name for every job of a sweep: ``<varying values>-<hash of all overrides>``.

    Args:
        jobs: Each job's overrides (``["seed=0", "strategy=paid_growth", ...]``).
        sweep_dir: The sweep folder; a job whose hash ends the name of a folder
            already there gets that folder again (finished jobs are found whatever
            the label), or None.

    Returns:
        Job (its overrides as a tuple) → folder name: one path component, never
        ``.`` or ``..``, without ``/``, at most ``MAX_LABEL_BYTES + HASH_DIGITS + 1`` bytes.

    """
    values: dict[str, set[str]] = {}
    for job in jobs:
        for o in job:
            values.setdefault(_override_key(o), set()).add(o.partition("=")[2])
    varying = sorted((k for k, v in values.items() if len(v) > 1), key=lambda k: k == "seed")  # seed last
    existing = {}
    if sweep_dir is not None and sweep_dir.is_dir():
        for entry in sweep_dir.iterdir():
            tail = entry.name.rpartition("-")[2]
            if len(tail) == HASH_DIGITS and all(c in string.hexdigits for c in tail) and entry.is_dir():
                existing.setdefault(tail, entry.name)
    names = {}
    seen: dict[str, Sequence[str]] = {}
    for job in jobs:
        digest = overrides_hash(job)
        first = seen.setdefault(digest, job)
        differing = {o.strip() for o in job} ^ {o.strip() for o in first}
        if first is not job and differing:  # the same job but for progress, threads, parallel or kernels
            key = min(_override_key(o) for o in differing)
            raise ConfigError(
                key,
                ",".join(sorted({o.partition("=")[2] for o in (*job, *first) if _override_key(o.strip()) == key})),
                NOT_SWEPT,
            )
        label = _safe_label(job, varying)
        found = existing.get(digest) or existing.get(legacy_overrides_hash(job))  # an older version's folder
        names[tuple(job)] = found or (f"{label}-{digest}" if label else digest)
    return names


def job_is_done(out: Path, digest: str) -> bool:
    """Whether ``out`` holds a complete result of a job with this config hash, computed by this opsim's code."""
    return completion.check_complete(out, digest, code=completion.code_fingerprint()) is None


def rerun_for_code(sweep_dir: Path, names: Iterable[str]) -> str | None:
    """The line that says how many of the sweep's finished jobs run again because other opsim code computed them.

    Args:
        sweep_dir: The sweep folder.
        names: The folder names of the sweep's jobs (:func:`job_folder_names`).

    Returns:
        One line, or None where no finished job of the sweep is from other code.

    """
    code = completion.code_fingerprint()
    markers = [(sweep_dir / name, completion.read_marker(sweep_dir / name)) for name in names]
    marked = [(job, marker) for job, marker in markers if marker is not None]
    # only the other code's folders are checked file by file here: each job checks its own as it starts
    other = sum(
        marker.get(completion.CODE_KEY) != code and completion.check_complete(job) is None for job, marker in marked
    )
    if not other:
        return None
    return (
        f"{other} of {counted(len(marked), 'finished job')} in {sweep_dir} run again: "
        f"another opsim code computed them (the code fingerprint in their {DONE} differs)"
    )


def record_job(out: Path, overrides: Sequence[str]) -> None:
    """Keep the job's overrides in its folder (``job.json``): what its folder name abbreviates."""
    write_json(out / JOB, {"overrides": list(overrides)})


def record_failure(out: Path, digest: str, exc: BaseException) -> None:
    """Write the traceback of a failed job."""
    payload = {
        "config_hash": digest,
        "error": f"{type(exc).__name__}: {exc}",
        "traceback": "".join(traceback.format_exception(exc)),
    }
    write_json(out / FAILED, payload)


def _overrides(job: Path) -> list[str]:
    """The job's overrides: its ``job.json``, else Hydra's record (folders of older sweeps); none if unreadable."""
    record = job / JOB
    if record.is_file():
        try:
            found = json.loads(record.read_text())["overrides"]
        except (OSError, ValueError, KeyError, TypeError):
            return []
        return [str(o) for o in found] if isinstance(found, list) else []
    path = job / folders.HYDRA_RECORD / "overrides.yaml"
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
    """Name sweep points by the parameters that vary across the sweep only (short keys, readable values)."""
    params = [c for c in jobs.columns if c not in ("job", "point", "seed", "days", *_metrics())]
    everything = [*jobs[params].astype(str).to_dict("records"), *(f["params"] for f in failures)]
    varying = [p for p in params if len({str(r.get(p)) for r in everything}) > 1]
    seeds_only = not varying and params and jobs["seed"].nunique() > 1
    if seeds_only:  # only the seed varies: one point, named so (its first key was read as if it were swept)
        jobs["point"] = SEEDS_ONLY
        for f in failures:
            f["point"] = SEEDS_ONLY
        return
    varying = varying or params[:1]  # one value of one key (a glob that matched one preset): named by it
    if varying:
        jobs["point"] = [point_label(r, varying) for r in jobs[params].astype(str).to_dict("records")]
        for f in failures:
            f["point"] = point_label(f["params"], varying)


def _metrics() -> tuple[str, ...]:
    from sim.analysis.sweep_stats import METRICS

    return METRICS


def record_plan(sweep_dir: str | Path, jobs: Sequence[Sequence[str]]) -> None:
    """Record the jobs a sweep runs (:data:`PLAN`, their overrides' hashes): its summary counts those only.

    A sweep folder keeps the jobs of earlier sweeps into it (a rerun that adds a value
    reuses them), and may be a folder of other runs; a later sweep of other keys into it
    counted them all, and labelled their points with the keys they did not set.
    """
    folder = Path(sweep_dir)
    folder.mkdir(parents=True, exist_ok=True)
    overrides = {overrides_hash(job): list(job) for job in jobs}
    write_json(folder / PLAN, {"jobs": sorted(overrides), "overrides": overrides})


def clear_plan(sweep_dir: str | Path) -> None:
    """Remove the folder's :data:`PLAN` before a sweep: only opsim's sweeper records one again.

    A sweep with another sweeper (``hydra/sweeper=basic``) records none, and its summary
    then counts every job in the folder, not an earlier opsim sweep's plan.
    """
    (Path(sweep_dir) / PLAN).unlink(missing_ok=True)


def _planned(root: Path) -> set[str] | None:
    """The hashes of the jobs the last sweep into ``root`` runs (None: no plan recorded, or unreadable: every job)."""
    try:
        jobs = json.loads((root / PLAN).read_text(encoding="utf-8"))["jobs"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return {job for job in jobs if isinstance(job, str)} if isinstance(jobs, list) else None


def _planned_overrides(root: Path) -> dict[str, list[str]]:
    """The overrides of each job of the sweep's plan, by hash (empty: no plan, or one recorded without them)."""
    try:
        recorded = json.loads((root / PLAN).read_text(encoding="utf-8")).get("overrides") or {}
    except (OSError, ValueError, AttributeError):
        return {}
    if not isinstance(recorded, dict):
        return {}
    return {
        key: [str(o) for o in value]
        for key, value in recorded.items()
        if isinstance(value, list) and overrides_hash(value) == key
    }


#: Why a job of the sweep's plan that has no result counts as failed.
NOT_RUN = (
    "no result: the sweep stopped before this job finished; run the same command again (finished jobs are skipped)"
)


def _job_markers(root: Path, name: str) -> Iterator[tuple[Path, list[str]]]:
    """Each job folder below ``root`` with a ``name`` file, and its overrides: the jobs of the sweep's plan only."""
    planned = _planned(root)
    for marker in sorted(root.rglob(name)):
        job = marker.parent
        if job == root:
            continue
        overrides = _overrides(job)
        if planned is None or overrides_hash(overrides) in planned or legacy_overrides_hash(overrides) in planned:
            yield job, overrides


def collect(sweep_dir: str | Path) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """One row per completed job (point, seed, params, metrics) and the failures not finished since.

    A job whose ``DONE.json`` no longer matches its files (deleted, truncated,
    changed) is a failure, named with the reason; resume runs it again. Only the jobs
    of the sweep's plan count (:func:`record_plan`), where it recorded one.
    """
    import pandas as pd

    from sim.analysis.sweep_stats import job_metrics

    root = Path(sweep_dir)
    rows: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    # One result per set of overrides: a folder written by an older naming scheme, or a copy,
    # does not count twice (the most recently finished one is kept).
    done: dict[str, tuple[int, Path, list[str]]] = {}
    incomplete: list[tuple[Path, list[str], str]] = []
    for job, overrides in _job_markers(root, DONE):
        marker = job / DONE
        problem = completion.check_complete(job)
        if problem is not None:
            incomplete.append((job, overrides, f"incomplete result ({problem}); resume runs it again"))
            continue
        key, finished = overrides_hash(overrides), marker.stat().st_mtime_ns
        if key not in done or finished > done[key][0]:
            done[key] = (finished, job, overrides)

    def failed(job: Path, overrides: list[str], error: str) -> None:
        if overrides_hash(overrides) in done:  # finished since, in another folder
            return
        point, seed, params = _split(overrides)
        failures.append(
            {
                "job": str(job.relative_to(root)),
                "point": point,
                "seed": seed,
                "params": params,
                "error": error,
                "overrides": overrides,  # dropped before they are returned
            }
        )

    for _finished, job, overrides in sorted(done.values(), key=lambda d: str(d[1])):
        point, seed, params = _split(overrides)
        if seed is None:  # not swept: the seed the job ran with (the config's)
            seed = completion.recorded_seed(job)
        summary = json.loads((job / "summary.json").read_text())
        row = {"job": str(job.relative_to(root)), "point": point, "seed": seed, "days": summary.get("days")}
        rows.append({**row, **params, **job_metrics(summary)})
    for job, overrides, error in incomplete:
        failed(job, overrides, error)
    for job, overrides in _job_markers(root, FAILED):
        if (job / DONE).is_file():
            continue
        try:
            error = str(json.loads((job / FAILED).read_text())["error"])
        except (OSError, ValueError, KeyError, TypeError):
            error = f"{FAILED} cannot be read"
        failed(job, overrides, error)
    planned = _planned_overrides(root)
    accounted = set(done) | {overrides_hash(f["overrides"]) for f in failures if "overrides" in f}
    names = job_folder_names(list(planned.values()), root) if planned else {}
    for key, overrides in sorted(planned.items(), key=lambda item: names[tuple(item[1])]):
        if key not in accounted:  # planned, never finished nor failed: the sweep was stopped
            failed(root / names[tuple(overrides)], overrides, NOT_RUN)
    for failure in failures:
        failure.pop("overrides", None)
    jobs = pd.DataFrame(rows)
    if not jobs.empty:
        _label_points(jobs, failures)
    return jobs, failures


def count_jobs(sweep_dir: str | Path) -> tuple[int, int]:
    """Jobs below ``sweep_dir`` that are complete (marker and files match), and jobs that failed.

    As :func:`collect` counts them: a job complete in two folders counts once, and a
    failed one that has finished since, in another folder, does not count as failed.
    """
    root = Path(sweep_dir)
    done = {
        overrides_hash(overrides)
        for job, overrides in _job_markers(root, DONE)
        if completion.check_complete(job) is None
    }
    failed = sum(
        not (job / DONE).is_file() and overrides_hash(overrides) not in done
        for job, overrides in _job_markers(root, FAILED)
    )
    return len(done), failed


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


def codes_of(root: Path, jobs: pd.DataFrame) -> int:
    """How many opsim codes computed the finished jobs (their ``DONE.json`` fingerprints; none recorded is one more)."""
    if jobs.empty:
        return 0
    return len({(completion.read_marker(root / job) or {}).get(completion.CODE_KEY) for job in jobs["job"]})


def mixed_codes(result: dict[str, Any]) -> str | None:
    """The warning for a summary of jobs computed by more than one opsim code (None: one code)."""
    if result.get("codes", 0) <= 1:
        return None
    return (
        f"the {counted(result['jobs'], 'job')} of this summary were computed by {result['codes']} different opsim "
        f"codes (the code fingerprint in their {DONE}); run the sweep again to recompute the others with this one"
    )


def aggregate(
    sweep_dir: str | Path, collected: tuple[pd.DataFrame, list[dict[str, Any]]] | None = None, *, index: bool = False
) -> dict[str, Any]:
    """Aggregate every job below ``sweep_dir``; write the comparison table and figures, then ``SUMMARY.json``.

    The previous summary is removed first (:func:`clear_summary`): if this one fails
    part-way, no file of the old one is left to pass for current, and there is no
    ``SUMMARY.json``.

    Args:
        sweep_dir: The sweep folder.
        collected: What :func:`collect` returned for it, if the caller has it already.
        index: The caller has just written the folder's ``index.html``: the page links it.

    Returns:
        ``{"jobs": n, "points": n, "codes": n, "failures": [...], "files": [...]}``; ``codes``: how
        many opsim codes computed the jobs (:func:`codes_of`; more than one: :func:`mixed_codes`).

    """
    from sim.analysis.sweep_stats import summarize_points
    from sim.output.sweep_report import write_sweep_summary

    root = Path(sweep_dir)
    clear_summary(root)
    jobs, failures = collect(root) if collected is None else collected
    table = None if jobs.empty else summarize_points(jobs)
    files = write_sweep_summary(root, jobs, table, failures, index=index)
    result = {
        "jobs": len(jobs),
        "points": 0 if table is None else len(table),
        "codes": codes_of(root, jobs),
        "failures": failures,
        "files": files,
    }
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
        jobs, points = counted(result["jobs"], "job"), counted(result["points"], "point")
        log.info("sweep: %s, %s; summary in %s/sweep_summary.md", jobs, points, root)
        mixed = mixed_codes(result)
        if mixed:
            log.warning(mixed)
        if result["failures"]:
            log.error("%d job(s) failed: %s", len(result["failures"]), ", ".join(f["job"] for f in result["failures"]))
