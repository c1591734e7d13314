"""Run results: tables, summary, and the self-describing result folder.

A :class:`Result` holds

* ``daily`` — one row per day: users per stage, new users (total and by
  channel), DAU/WAU/MAU, purchases, revenue, latent-alive users, awareness hazard;
* ``cohorts`` — long table over (cohort day a, day n since acquisition) with the
  cohort size and the users active on day a + n (only observed cells);
* ``summary`` — the headline numbers (see :func:`summarize`).

Classic day-N retention pools every cohort observed for at least N days:

    D_N = Σ_a active[a, N] / Σ_a size[a]     over cohorts a with a + N < horizon.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # imported where used: the sweep's parent process starts faster
    import pandas as pd

from sim.config import Config
from sim.lifecycle import STAGE_NAMES

__all__ = ["RETENTION_DAYS", "Result", "classic_retention", "summarize"]

RETENTION_DAYS = (1, 7, 30)


def classic_retention(cohort_active: np.ndarray, day_n: int) -> float:
    """Pooled classic retention D_N from the cohort matrix (NaN if unobserved).

    Args:
        cohort_active: ``[a, n]`` = users of cohort a active on day a + n
            (column 0 is the cohort size).
        day_n: N.

    """
    horizon = cohort_active.shape[0]
    if day_n >= horizon:
        return float("nan")
    observed = horizon - day_n
    size = cohort_active[:observed, 0].sum(dtype=np.int64)
    if size == 0:
        return float("nan")
    return float(cohort_active[:observed, day_n].sum(dtype=np.int64) / size)


def retention_curve(cohort_active: np.ndarray) -> np.ndarray:
    """Pooled classic retention D_0 … D_{H−1} (NaN where unobserved)."""
    horizon = cohort_active.shape[0]
    sizes = np.cumsum(cohort_active[:, 0].astype(np.int64))  # sizes[k] = Σ_{a<=k} size[a]
    curve = np.full(horizon, np.nan)
    for n in range(horizon):
        size = sizes[horizon - n - 1]
        if size:
            curve[n] = cohort_active[: horizon - n, n].sum(dtype=np.int64) / size
    return curve


def cohort_table(cohort_active: np.ndarray) -> pd.DataFrame:
    """Long cohort table over observed cells of non-empty cohorts."""
    horizon = cohort_active.shape[0]
    a, n = np.indices(cohort_active.shape)
    size = cohort_active[:, 0]
    keep = (a + n < horizon) & (size[a] > 0)
    active = cohort_active[keep].astype(np.int64)
    sizes = size[a[keep]].astype(np.int64)
    import pandas as pd

    return pd.DataFrame(
        {
            "cohort_day": a[keep].astype(np.int32),
            "day_n": n[keep].astype(np.int32),
            "cohort_size": sizes,
            "active": active,
            "active_share": active / sizes,
        }
    )


def summarize(daily: pd.DataFrame, cohort_active: np.ndarray, market_size: int) -> dict[str, Any]:
    """Headline numbers of one run.

    Returns:
        A JSON-ready dict: final users per stage, DAU/WAU/MAU and stickiness on
        the last day, mean DAU, D1/D7/D30 classic retention, users acquired,
        purchases and revenue.

    """
    last = daily.iloc[-1]
    mau = int(last["mau"])
    retention = {f"d{n}": classic_retention(cohort_active, n) for n in RETENTION_DAYS}
    return {
        "days": len(daily),
        "market_size": market_size,
        "final_stage_counts": {name: int(last[name]) for name in STAGE_NAMES},
        "acquired_users": int(daily["new_users"].sum()),
        "dau": int(last["dau"]),
        "wau": int(last["wau"]),
        "mau": mau,
        "stickiness_dau_mau": float(last["dau"] / mau) if mau else float("nan"),
        "mean_dau": float(daily["dau"].mean()),
        "retention": retention,
        "purchases": int(daily["purchases"].sum()),
        "revenue": float(daily["revenue"].sum()),
        "latent_alive_users": int(last["latent_alive"]),
    }


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("opsim", "mesa", "numpy", "scipy", "pandas", "pyarrow", "hydra-core", "matplotlib"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


_UMASK = os.umask(0)
os.umask(_UMASK)


def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Write a file through a temporary name in the same folder, then rename.

    A reader never sees a half-written file: either the old one or the new one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; give the file the usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _json(data: Any) -> Callable[[Path], None]:
    def write(p: Path) -> None:
        p.write_text(json.dumps(data, indent=2, allow_nan=True, default=float) + "\n")

    return write


@dataclass
class Result:
    """Everything one run produced.

    Attributes:
        config: The validated config of the run.
        daily: One row per day (see module docstring).
        cohort_active: Cohort matrix ``[a, n]``.
        summary: Headline numbers (:func:`summarize`); ``economics`` (costs, ROI,
            incremental results, CAC, LTV, payback, marginal ROI) and ``analytics``
            (classic and rolling D1 … D90, funnel, quick ratio, sBG/BdW fits).
        meta: Seed, package versions, wall time.
        cohort_revenue: ``[a, n]`` = revenue from cohort a on day a + n.
        spend_response: Per ad channel and budget multiplier: spend and users
            acquired (None without paid ads).
        tables: Analytics tables (:func:`sim.analytics.analyze`): retention
            measures, daily and weekly growth accounting, weekly cohort triangle.

    """

    config: Config
    daily: pd.DataFrame
    cohort_active: np.ndarray
    summary: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)
    cohort_revenue: np.ndarray | None = None
    spend_response: pd.DataFrame | None = None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def cohorts(self) -> pd.DataFrame:
        """Long cohort table (cohort_day, day_n, cohort_size, active, active_share)."""
        return cohort_table(self.cohort_active)

    def retention(self, day_n: int) -> float:
        """Pooled classic retention D_N."""
        return classic_retention(self.cohort_active, day_n)

    def retention_curve(self) -> np.ndarray:
        """Pooled classic retention for N = 0 … horizon − 1."""
        return retention_curve(self.cohort_active)

    def save(self, directory: str | os.PathLike[str], *, figures: bool | None = None) -> Path:
        """Write the result folder; every file is written atomically.

        Files: ``config.yaml`` (resolved config), ``meta.json`` (seed, versions),
        ``summary.json``, ``daily.parquet``, ``cohorts.parquet``, the analytics
        tables (``retention_measures``, ``growth_daily``, ``growth_weekly``,
        ``cohort_triangle_weekly`` .parquet), ``spend_response.parquet`` (with
        paid ads) and, if ``figures``, ``report.html`` with the PNG figures
        (``retention``, ``cohort_heatmap``, ``growth``, ``funnel``, ``stages``,
        ``payback`` with levers, ``spend_response`` with paid ads).

        Args:
            directory: Target folder (created if needed).
            figures: Write figures; defaults to the config's ``figures``.

        Returns:
            The folder path.

        """
        import yaml

        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        yaml_text = yaml.safe_dump(asdict(self.config), sort_keys=False, allow_unicode=True)
        write_atomic(out / "config.yaml", lambda p: p.write_text(yaml_text))
        meta = {"seed": self.config.seed, "versions": _versions(), **self.meta}
        write_atomic(out / "meta.json", _json(meta))
        write_atomic(out / "daily.parquet", lambda p: self.daily.to_parquet(p, index=False))
        write_atomic(out / "cohorts.parquet", lambda p: self.cohorts.to_parquet(p, index=False))
        if self.spend_response is not None:
            write_atomic(out / "spend_response.parquet", lambda p: self.spend_response.to_parquet(p, index=False))
        for name, table in self.tables.items():
            write_atomic(out / f"{name}.parquet", lambda p, t=table: t.to_parquet(p, index=False))
        write_atomic(out / "summary.json", _json(self.summary))
        if self.config.figures if figures is None else figures:
            from sim.report import write_report

            write_report(out)
        return out

    def to_dict(self) -> dict[str, Any]:
        """Summary plus config as plain data."""
        return {"summary": self.summary, "config": asdict(self.config), "meta": self.meta}
