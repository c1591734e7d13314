"""Strategy sweeps: job bookkeeping that loses nothing, and the aggregated comparison.

Every job of a Hydra multirun (``opsim -m strategy=a,b seed=range(0,5)``) writes
its result folder atomically, then ``DONE.json`` with a hash of its resolved
config. A job that raises writes ``FAILED.json`` with the traceback instead, and
the other jobs go on; the sweep then exits non-zero and the report lists the
failure. Re-running the same sweep into the same folder (``hydra.sweep.dir=...``,
or ``opsim-report PATH --resume``) skips every job whose ``DONE.json`` matches its
config and runs only the rest, so an interrupted sweep costs nothing finished.

Aggregation (:func:`aggregate`, run by :class:`AggregateCallback` at the end of a
multirun and by ``opsim-report``) groups jobs into *sweep points* (their
overrides without ``seed``); replicates are seeds, and every point at a seed
shares random numbers, so comparisons are paired. Per point and metric: mean,
95 % t-interval over seeds (mean ± t_{0.975, n−1} · s / √n) and n; the
probability that the point is best = share of seeds at which it has the highest
ranking metric (incremental profit when there is a baseline comparison, else
profit); points ranked by the mean of that metric.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import traceback
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from sim.config import Config
from sim.results import retention_curve, write_atomic

if TYPE_CHECKING:  # pandas loads when a sweep is aggregated: sweep jobs and start-up stay lean
    import pandas as pd

__all__ = ["AggregateCallback", "aggregate", "config_hash", "job_is_done", "record_done", "record_failure"]

DONE, FAILED = "DONE.json", "FAILED.json"
METRICS = (
    "incremental_profit",
    "incremental_roi",
    "incremental_users",
    "profit",
    "roi",
    "cost",
    "d1",
    "d7",
    "d30",
    "cac",
    "ltv",
    "payback_day",
)
#: Set by the callback: failed jobs of the last sweep in this process (the CLI exits non-zero).
LAST_SWEEP_FAILURES: list[str] = []
#: Set by the ``opsim`` command once it has validated every sweep value up front; the
#: ``opsim`` sweeper (``hydra_plugins/opsim_sweeper``) then skips Hydra's serial re-check.
OVERRIDES_VALIDATED = False


def _t_quantile(q: float, df: Any) -> Any:
    """Student-t quantile t_{q, df}.

    ``scipy.special.stdtrit`` gives the same numbers as ``scipy.stats.t.ppf`` without
    importing scipy.stats (0.5-0.9 s) into the sweep's parent process.
    """
    from scipy.special import stdtrit

    return stdtrit(df, q)


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
    payload = {"config_hash": digest, "seconds": seconds}
    write_atomic(out / DONE, lambda p: p.write_text(json.dumps(payload, indent=2) + "\n"))


def record_failure(out: Path, digest: str, exc: BaseException) -> None:
    """Write the traceback of a failed job."""
    payload = {
        "config_hash": digest,
        "error": f"{type(exc).__name__}: {exc}",
        "traceback": "".join(traceback.format_exception(exc)),
    }
    write_atomic(out / FAILED, lambda p: p.write_text(json.dumps(payload, indent=2) + "\n"))


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


def _metrics(summary: dict[str, Any]) -> dict[str, float]:
    econ = summary.get("economics") or {}
    inc = econ.get("incremental") or {}
    ret = summary.get("retention", {})
    nan = float("nan")
    payback = econ.get("payback_day")
    no_levers = not econ.get("cost_total")  # doing nothing: zero difference from itself
    return {
        "incremental_profit": inc.get("profit", 0.0 if no_levers else nan),
        "incremental_roi": inc.get("roi", nan),
        "incremental_users": inc.get("acquired_users", 0.0 if no_levers else nan),
        "profit": econ.get("profit", nan),
        "roi": econ.get("roi", nan),
        "cost": econ.get("cost_total", nan),
        "d1": ret.get("d1", nan),
        "d7": ret.get("d7", nan),
        "d30": ret.get("d30", nan),
        "cac": inc.get("cac", nan),
        "ltv": (econ.get("ltv") or {}).get("per_user", nan),
        "payback_day": nan if payback is None else float(payback),
    }


def _label_points(jobs: pd.DataFrame, failures: list[dict[str, Any]]) -> None:
    """Name sweep points by the parameters that vary across the sweep only."""
    params = [c for c in jobs.columns if c not in ("job", "point", "seed", *METRICS)]
    varying = [p for p in params if jobs[p].astype(str).nunique() > 1] or params[:1]
    if varying:
        jobs["point"] = jobs[varying].astype(str).apply(lambda r: ",".join(f"{k}={v}" for k, v in r.items()), axis=1)
        for f in failures:
            f["point"] = ",".join(f"{k}={v}" for k, v in sorted(f["params"].items()) if k in varying)


def collect(sweep_dir: str | Path) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """One row per completed job (point, seed, params, metrics) and the failures."""
    import pandas as pd

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
        rows.append({"job": str(job.relative_to(root)), "point": point, "seed": seed, **params, **_metrics(summary)})
    jobs = pd.DataFrame(rows)
    if not jobs.empty:
        _label_points(jobs, failures)
    return jobs, failures


def _interval(values: np.ndarray) -> tuple[float, float, float, int]:
    v = values[np.isfinite(values)]
    n = v.size
    if n == 0:
        return float("nan"), float("nan"), float("nan"), 0
    mean = float(v.mean())
    if n < 2:
        return mean, float("nan"), float("nan"), n
    half = float(_t_quantile(0.975, n - 1) * v.std(ddof=1) / np.sqrt(n))
    return mean, mean - half, mean + half, n


def summarize_points(jobs: pd.DataFrame) -> pd.DataFrame:
    """Per sweep point: mean, 95 % interval and n of every metric; P(best); rank."""
    import pandas as pd

    rank_metric = "incremental_profit" if jobs["incremental_profit"].notna().any() else "profit"
    rows = []
    for point, group in jobs.groupby("point", sort=False):
        row: dict[str, Any] = {"point": point, "seeds": int(group["seed"].nunique())}
        for m in METRICS:
            mean, lo, hi, _n = _interval(group[m].to_numpy(dtype=float))
            row[m] = mean
            row[f"{m}_lo"] = lo
            row[f"{m}_hi"] = hi
        rows.append(row)
    table = pd.DataFrame(rows)
    wide = jobs.pivot_table(index="seed", columns="point", values=rank_metric, aggfunc="first")
    wide = wide.dropna()  # seeds at which every point finished: a paired comparison
    best = wide.idxmax(axis=1).value_counts() if len(wide) else pd.Series(dtype=float)
    table["p_best"] = table["point"].map(lambda p: float(best.get(p, 0)) / len(wide) if len(wide) else float("nan"))
    table["rank_metric"] = rank_metric
    table = table.sort_values(rank_metric, ascending=False, na_position="last").reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table


def _shown(root: Path) -> str:
    """The sweep folder as written in the summary: relative to the working directory when inside it."""
    try:
        return str(root.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(root)


def _markdown(table: pd.DataFrame, failures: list[dict[str, Any]], root: Path) -> str:
    def cell(row: pd.Series, m: str, pct: bool = False, digits: int = 0) -> str:
        scale = 100 if pct else 1
        mean, lo, hi = (row[m] * scale, row[f"{m}_lo"] * scale, row[f"{m}_hi"] * scale)
        if not np.isfinite(mean):
            return "—"
        fmt = f"{{:,.{digits}f}}"
        body = fmt.format(mean) + ("%" if pct else "")
        return body + (f" [{fmt.format(lo)}, {fmt.format(hi)}]" if np.isfinite(lo) else "")

    lines = [
        f"# Sweep summary: {_shown(root)}",
        "",
        f"Ranked by mean {table['rank_metric'].iloc[0]}; [low, high] = 95 % t-interval over seeds; "
        "P(best) = share of seeds (paired: same random numbers) at which the point is best.",
        "",
        "| rank | point | seeds | incremental profit | incremental ROI | profit | D1 | D7 | D30 | CAC | LTV | payback day | P(best) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for _, r in table.iterrows():
        lines.append(
            f"| {r['rank']} | {r['point']} | {r['seeds']} | {cell(r, 'incremental_profit')} | {cell(r, 'incremental_roi', digits=2)} | "
            f"{cell(r, 'profit')} | {cell(r, 'd1', True, 1)} | {cell(r, 'd7', True, 1)} | {cell(r, 'd30', True, 1)} | "
            f"{cell(r, 'cac', digits=2)} | {cell(r, 'ltv', digits=2)} | {cell(r, 'payback_day')} | {r['p_best']:.2f} |"
        )
    if failures:
        lines += ["", f"## {len(failures)} failed job(s)", ""]
        lines += [f"- `{f['job']}` ({f['point']}, seed {f['seed']}): {f['error']}" for f in failures]
    return "\n".join(lines) + "\n"


def _save(fig: Any, root: Path, name: str) -> str:
    """Lay out, write atomically, close; return the file name."""
    import matplotlib.pyplot as plt

    with warnings.catch_warnings():  # long point labels: tight_layout may not fit them all
        warnings.simplefilter("ignore", UserWarning)
        fig.tight_layout()
    write_atomic(root / name, lambda p: fig.savefig(p, format="png"))
    plt.close(fig)
    return name


def _figures(jobs: pd.DataFrame, table: pd.DataFrame, root: Path) -> list[str]:
    import matplotlib
    import pandas as pd

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    metric = table["rank_metric"].iloc[0]
    fig, axes = plt.subplots(1, 2, figsize=(10, max(3.0, 0.45 * len(table) + 1.5)), dpi=120)
    for ax, (m, label) in zip(
        axes,
        ((metric, metric.replace("_", " ")), ("incremental_roi" if metric.startswith("incr") else "roi", "ROI")),
        strict=True,
    ):
        y = np.arange(len(table))[::-1]
        mean, lo, hi = table[m].to_numpy(float), table[f"{m}_lo"].to_numpy(float), table[f"{m}_hi"].to_numpy(float)
        err = np.vstack([mean - lo, hi - mean])
        ax.errorbar(mean, y, xerr=np.where(np.isfinite(err), err, 0), fmt="o", color="black", capsize=3)
        ax.set_yticks(y, table["point"], fontsize=7)
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_xlabel(f"{label} (mean, 95 % interval over seeds)")
        ax.grid(alpha=0.3)
    fig.suptitle("Sweep points ranked", fontsize=10)
    written.append(_save(fig, root, "sweep_points.png"))

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    for (_, row), style in zip(table.head(3).iterrows(), ("-", "--", ":"), strict=False):
        curves = []
        for job in jobs.loc[jobs["point"] == row["point"], "job"]:
            c = pd.read_parquet(root / job / "cohorts.parquet")
            h = int(c["cohort_day"].max() + c["day_n"].max() + 1) if len(c) else 1
            ca = np.zeros((h, h))
            ca[c["cohort_day"], c["day_n"]] = c["active"]
            curves.append(retention_curve(ca)[:91])
        n = min(len(c) for c in curves)
        arr = np.array([c[:n] for c in curves])
        seen = np.isfinite(arr).sum(axis=0)  # days no seed observed yet (short horizons) stay blank
        mean = np.divide(np.nansum(arr, axis=0), seen, out=np.full(n, np.nan), where=seen > 0)
        ax.plot(np.arange(1, n), 100 * mean[1:], ls=style, color="black", label=row["point"])
        if len(arr) > 1:  # 95 % t-interval of the mean over seeds
            with np.errstate(invalid="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # days observed by one seed only: no interval
                half = _t_quantile(0.975, len(arr) - 1) * np.nanstd(arr, axis=0, ddof=1) / np.sqrt(len(arr))
            ax.fill_between(np.arange(1, n), 100 * (mean - half)[1:], 100 * (mean + half)[1:], color="0.85", alpha=0.8)
    ax.set_xlabel("days since acquisition (N)")
    ax.set_ylabel("classic retention D_N (%)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title("Retention of the top 3 points (mean over seeds, 95 % interval)", fontsize=10)
    written.append(_save(fig, root, "sweep_retention.png"))

    params = [c for c in jobs.columns if c not in ("job", "point", "seed", *METRICS)]
    numeric = [p for p in params if pd.to_numeric(jobs[p], errors="coerce").notna().all() and jobs[p].nunique() > 1]
    if len(numeric) == 2:
        a, b = numeric
        pivot = jobs.assign(**{a: pd.to_numeric(jobs[a]), b: pd.to_numeric(jobs[b])}).pivot_table(
            index=a, columns=b, values=metric, aggfunc="mean"
        )
        fig, ax = plt.subplots(figsize=(6.5, 4.8), dpi=120)
        im = ax.imshow(pivot.to_numpy(), cmap="Greys", aspect="auto", origin="lower")
        ax.set_xticks(range(pivot.shape[1]), [f"{v:g}" for v in pivot.columns])
        ax.set_yticks(range(pivot.shape[0]), [f"{v:g}" for v in pivot.index])
        values = pivot.to_numpy(dtype=float)
        middle = np.nanmin(values) + 0.5 * (np.nanmax(values) - np.nanmin(values))
        for i in range(pivot.shape[0]):
            for j in range(pivot.shape[1]):
                dark = values[i, j] > middle  # white on dark cells, black on light ones
                ax.text(
                    j,
                    i,
                    f"{values[i, j]:,.0f}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if dark else "black",
                )
        ax.set_xlabel(b)
        ax.set_ylabel(a)
        fig.colorbar(im, ax=ax, label=f"mean {metric}")
        ax.set_title(f"Expected {metric.replace('_', ' ')} over the two swept parameters", fontsize=10)
        written.append(_save(fig, root, "sweep_heatmap.png"))
    budget = [p for p in numeric if p.endswith(("daily_budget", "messages_per_week", "reach", "invite_rate"))]
    if len(numeric) == 1 or budget:
        key = budget[0] if budget else numeric[0]
        x = pd.to_numeric(jobs[key])
        g = jobs.assign(x=x).groupby("x")[metric]
        mean, sd, n = g.mean(), g.std(ddof=1), g.count()
        half = _t_quantile(0.975, np.maximum(n - 1, 1)) * sd / np.sqrt(n)
        fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
        ax.errorbar(
            mean.index, mean.to_numpy(), yerr=np.nan_to_num(half.to_numpy()), fmt="-o", color="black", capsize=3
        )
        ax.set_xlabel(key)
        ax.set_ylabel(f"{metric.replace('_', ' ')} (mean, 95 % interval)")
        ax.grid(alpha=0.3)
        ax.set_title(f"Response to {key}", fontsize=10)
        written.append(_save(fig, root, "sweep_response.png"))
    return written


def aggregate(
    sweep_dir: str | Path, collected: tuple[pd.DataFrame, list[dict[str, Any]]] | None = None
) -> dict[str, Any]:
    """Aggregate every job below ``sweep_dir``; write the comparison table and figures.

    Writes ``sweep_jobs.parquet`` (one row per job), ``sweep_summary.parquet`` /
    ``.csv`` / ``.md`` (one row per point), ``failures.json`` and the figures
    ``sweep_points.png``, ``sweep_retention.png`` and, where they apply,
    ``sweep_heatmap.png`` (two swept numbers) and ``sweep_response.png`` (a swept
    budget knob or a single swept number).

    Args:
        sweep_dir: The sweep folder.
        collected: What :func:`collect` returned for it, if the caller has it already.

    Returns:
        ``{"jobs": n, "points": n, "failures": [...], "files": [...]}``.

    """
    root = Path(sweep_dir)
    jobs, failures = collect(root) if collected is None else collected
    write_atomic(root / "failures.json", lambda p: p.write_text(json.dumps(failures, indent=2) + "\n"))
    files = ["failures.json"]
    if jobs.empty:
        text = "# Sweep summary\n\nNo job finished.\n" + "".join(f"- {f['job']}: {f['error']}\n" for f in failures)
        write_atomic(root / "sweep_summary.md", lambda p: p.write_text(text))
        return {"jobs": 0, "points": 0, "failures": failures, "files": [*files, "sweep_summary.md"]}
    table = summarize_points(jobs)
    write_atomic(root / "sweep_jobs.parquet", lambda p: jobs.to_parquet(p, index=False))
    write_atomic(root / "sweep_summary.parquet", lambda p: table.to_parquet(p, index=False))
    write_atomic(root / "sweep_summary.csv", lambda p: table.to_csv(p, index=False))
    write_atomic(root / "sweep_summary.md", lambda p: p.write_text(_markdown(table, failures, root)))
    files += ["sweep_jobs.parquet", "sweep_summary.parquet", "sweep_summary.csv", "sweep_summary.md"]
    files += _figures(jobs, table, root)
    _sweep_report(root, table, failures, [f for f in files if f.endswith(".png")])
    files.append("report.html")
    return {"jobs": len(jobs), "points": len(table), "failures": failures, "files": files}


def _sweep_report(root: Path, table: pd.DataFrame, failures: list[dict[str, Any]], figures: list[str]) -> None:
    """One self-contained HTML page for the sweep: ranked table, failures, figures (embedded)."""
    import base64
    import html

    md = _markdown(table, failures, root)
    rows = [line for line in md.splitlines() if line.startswith("|") and not line.startswith("|---")]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in rows]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cells[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in cells[1:])
    imgs = "".join(
        f'<figure><img alt="{name}" src="data:image/png;base64,{base64.b64encode((root / name).read_bytes()).decode()}"></figure>'
        for name in figures
    )
    fails = "".join(f"<li><code>{html.escape(f['job'])}</code>: {html.escape(f['error'])}</li>" for f in failures)
    page = f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>opsim sweep — {html.escape(_shown(root))}</title>
<style>body {{ font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; }} table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #bbb; padding: 3px 6px; font-size: 0.85em; }} img {{ max-width: 100%; }}</style></head><body>
<h1>opsim sweep</h1><p><code>{html.escape(_shown(root))}</code>: {len(table)} points, ranked by mean {html.escape(str(table["rank_metric"].iloc[0]))};
[low, high] = 95 % t-interval over seeds; P(best) = share of seeds at which the point is best (paired by seed).</p>
<table><tr>{head}</tr>{body}</table>
{"<h2>Failed jobs</h2><ul>" + fails + "</ul>" if failures else ""}
<h2>Figures</h2>{imgs}
<script>window.addEventListener("load", () => {{ const i = Array.from(document.images);
document.body.dataset.imagesLoaded = i.filter(x => x.complete && x.naturalWidth > 0).length; }});</script>
</body></html>
"""
    write_atomic(root / "report.html", lambda p: p.write_text(page, encoding="utf-8"))


class AggregateCallback(Callback):
    """Hydra callback: aggregate the sweep when a multirun ends (failed jobs included)."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:  # noqa: D102
        import logging

        log = logging.getLogger("opsim")
        # Failures first: a problem while drawing the summary must not hide them.
        collected = collect(config.hydra.sweep.dir)
        LAST_SWEEP_FAILURES[:] = [f["job"] for f in collected[1]]
        result = aggregate(config.hydra.sweep.dir, collected)
        log.info(
            "sweep: %d jobs, %d points; summary in %s/sweep_summary.md",
            result["jobs"],
            result["points"],
            config.hydra.sweep.dir,
        )
        if result["failures"]:
            log.error("%d job(s) failed: %s", len(result["failures"]), ", ".join(LAST_SWEEP_FAILURES))
