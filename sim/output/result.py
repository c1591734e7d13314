"""Run results and the self-describing result folder.

A :class:`Result` holds

* ``daily`` — one row per day: users per stage, new users (total and by
  channel), DAU/WAU/MAU, purchases, revenue, latent-alive users, awareness hazard;
* ``cohorts`` — long table over (cohort day a, day n since acquisition) with the
  cohort size and the users active on day a + n (only observed cells), in real
  users (the simulated ones times the user weight w = M / N);
* ``summary`` — the headline numbers (:func:`sim.analysis.summary.summarize`),
  economics and analytics.

:meth:`Result.save` writes the folder; every file is written atomically and the
completion marker ``DONE.json`` (:mod:`sim.output.completion`) last.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:  # imported where used: the sweep's parent process starts faster
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from sim.output.figure_workers import FigureWorkers
    from sim.output.run_report import FolderData

from sim.analysis.retention import cohort_retention, cohort_retention_curve, cohort_table
from sim.base.errors import OutputError
from sim.output import completion
from sim.output.files import json_text, remove_temporaries, write_atomic, write_text
from sim.output.versions import installed_versions

__all__ = ["Result", "RunConfig"]


class RunConfig(Protocol):
    """What a result needs of its run's config (a dataclass: it is written out whole)."""

    seed: int
    figures: bool


#: Tables every run writes, as NAME.parquet.
RUN_TABLES = ("daily", "cohorts")
#: Analytics tables of a run with events recorded (:func:`sim.analysis.analytics.analyze`).
ANALYTICS_TABLES = ("retention_measures", "growth_daily", "growth_weekly", "cohort_triangle_weekly")
#: Tables of some runs only: with levers (the organic baseline's cohorts) and with paid ads.
OPTIONAL_TABLES = ("baseline_cohorts", "spend_response")


def result_file_names() -> frozenset[str]:
    """Every file :meth:`Result.save` may write (besides ``DONE.json``), whatever the run."""
    from sim.output.run_report import FIGURE_CAPTIONS

    tables = (*RUN_TABLES, *ANALYTICS_TABLES, *OPTIONAL_TABLES)
    return frozenset(
        {"config.yaml", "meta.json", "summary.json", "report.html"}
        | {f"{name}.parquet" for name in tables}
        | {f"{name}.png" for name in FIGURE_CAPTIONS}
    )


def remove_result_files(folder: Path) -> list[Path]:
    """Remove an earlier run's result files from ``folder`` (only names in :func:`result_file_names`).

    A run saved into the folder of another run would otherwise leave that run's files it
    does not write itself (its baseline cohorts, spend response, analytics tables or
    figures), which a report drawn from the folder would show as this run's.

    Returns:
        The files removed.

    """
    removed = []
    for name in sorted(result_file_names()):
        path = folder / name
        if path.is_file():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


@dataclass(frozen=True)
class _Files:
    """A result folder's files before they are written (:meth:`Result._files`)."""

    texts: dict[str, str]
    frames: dict[str, pd.DataFrame]
    summary_text: str
    data: FolderData


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
        cohort_revenue: ``[a, n]`` = revenue from cohort a on day a + n (simulated users).
        user_weight: w = M / N, real users per simulated user (the cohort matrices count simulated users).
        spend_response: Per ad channel and budget multiplier: the budget it ran on
            (``daily_budget``, or ``period_budgets``), spend and users acquired (None
            without paid ads).
        tables: Analytics tables (:func:`sim.analytics.analyze`): retention
            measures, daily and weekly growth accounting, weekly cohort triangle.
        baseline_cohort_active: The organic baseline run's cohort matrix (same seed), if one ran.
        save_seconds: Where the last :meth:`save` spent its time, in seconds: ``data`` (the
            folder cleared, every file but the report's), ``report`` (the figures and the
            page; next to nothing without figures) and ``marker`` (``DONE.json``); empty
            before a save, and not compared when results are.

    """

    config: RunConfig
    daily: pd.DataFrame
    cohort_active: np.ndarray
    summary: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)
    cohort_revenue: np.ndarray | None = None
    user_weight: float = 1.0
    spend_response: pd.DataFrame | None = None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    baseline_cohort_active: np.ndarray | None = None
    save_seconds: dict[str, float] = field(default_factory=dict, compare=False, repr=False)

    @property
    def cohorts(self) -> pd.DataFrame:
        """Long cohort table (cohort_day, day_n, cohort_size, active, active_share), real users."""
        return cohort_table(self.cohort_active, self.user_weight)

    def retention(self, day_n: int) -> float:
        """Pooled classic retention D_N."""
        return cohort_retention(self.cohort_active, day_n)

    def retention_curve(self) -> np.ndarray:
        """Pooled classic retention for N = 0 … horizon − 1."""
        return cohort_retention_curve(self.cohort_active)

    def save(
        self,
        directory: str | os.PathLike[str],
        *,
        figures: bool | None = None,
        figure_workers: FigureWorkers | None = None,
    ) -> Path:
        """Write the result folder: every file atomically, the completion marker ``DONE.json`` last.

        Files: ``config.yaml`` (resolved config), ``meta.json`` (seed, versions),
        ``summary.json``, ``daily.parquet``, ``cohorts.parquet``, the analytics
        tables (``retention_measures``, ``growth_daily``, ``growth_weekly``,
        ``cohort_triangle_weekly`` .parquet), ``baseline_cohorts.parquet`` (the
        organic baseline's cohort table, with levers), ``spend_response.parquet`` (with
        paid ads) and, if ``figures``, ``report.html`` with the PNG figures
        (``retention``, ``cohort_heatmap``, ``growth``, ``funnel``, ``stages``,
        ``payback`` with levers, ``spend_response`` with paid ads); then
        ``DONE.json`` with the config hash and each file's size and SHA-256
        (:mod:`sim.output.completion`). The folder's old marker is removed first,
        temporary files that an interrupted write left there are cleared, so a folder
        without a valid marker is never mistaken for a finished run, and so are an
        earlier run's result files (:func:`remove_result_files`; other files are kept).
        The report is drawn from the data in memory, not read back from the files.

        Args:
            directory: Target folder (created if needed).
            figures: Write figures; defaults to the config's ``figures``.
            figure_workers: Processes that draw the figures side by side
                (:class:`~sim.output.figure_workers.FigureWorkers`, best started before the
                run); None draws them in this process. The files are the same either way.

        Returns:
            The folder path.

        Raises:
            OutputError: A file could not be written (the folder then has no marker).
            ValueError: ``directory`` is an empty or blank string, which would be the working
                directory, whose own ``config.yaml`` or ``report.html`` would be replaced
                (``Path("")`` is already ``Path(".")``, which writes there as asked).

        """
        if not str(directory).strip():
            raise ValueError(
                f"directory={str(directory)!r} is not allowed: a folder to write the result into "
                "(an empty or blank path would write into the working directory; give '.' for that)"
            )
        out = Path(directory)
        started = time.perf_counter()
        draw = self.config.figures if figures is None else figures
        files = self._files(out)
        if draw and figure_workers is not None:  # the workers draw while the tables are written
            from sim.output.run_report import figure_names

            figure_workers.start(files.data, figure_names(files.data))
        names = self._write_data(out, files)
        data_written = time.perf_counter()
        if draw:
            from sim.output.run_report import write_report_files

            names += [p.name for p in write_report_files(out, workers=figure_workers, data=files.data)]
        drawn = time.perf_counter()
        seconds = self.meta.get("wall_seconds")
        completion.write_marker(out, names, completion.config_hash(self.config), seconds=seconds)
        self.save_seconds = {
            "data": data_written - started,
            "report": drawn - data_written,
            "marker": time.perf_counter() - drawn,
        }
        return out

    def _files(self, out: Path) -> _Files:
        """What :meth:`save` writes into ``out``: the texts, the tables, and all of it as the report reads a folder.

        ``data`` is what :func:`sim.output.run_report.load_folder` would read back from the
        folder (the JSON files parsed, the tables as they are), for the report to be drawn
        from without reading the folder (a default run's tables took some 30 ms to read
        back); the report is the same either way (tested).
        """
        import yaml

        from sim.output.run_report import FolderData

        # LibYAML's emitter where PyYAML has it: the text of yaml.safe_dump (tested), a few ms sooner
        dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
        config_text = yaml.dump(dataclasses.asdict(self.config), Dumper=dumper, sort_keys=False, allow_unicode=True)
        meta_text = json_text({"seed": self.config.seed, "versions": installed_versions(), **self.meta})
        summary_text = json_text(self.summary)
        cohorts, baseline, tables = self.cohorts, self._baseline_cohorts(), self._report_tables()
        frames = {"daily": self.daily, "cohorts": cohorts}
        if baseline is not None:
            frames["baseline_cohorts"] = baseline
        frames.update(tables)
        data = FolderData(
            out,
            json.loads(summary_text),
            json.loads(meta_text),
            config_text,
            self.daily,
            cohorts,
            baseline,
            tables,
        )
        texts = {"config.yaml": config_text, "meta.json": meta_text}
        return _Files(texts, frames, summary_text, data)

    def _write_data(self, out: Path, files: _Files) -> list[str]:
        """The first part of :meth:`save`: the folder cleared of an earlier run, then every file but the report's.

        Returns:
            The files written.

        """
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(out, exc.strerror or str(exc), exc.errno) from exc
        completion.clear_marker(out)
        remove_temporaries(out)
        remove_result_files(out)
        for name, text in files.texts.items():
            write_text(out / name, text)
        names = list(files.texts)
        for name, frame in files.frames.items():
            write_atomic(out / f"{name}.parquet", lambda p, f=frame: f.to_parquet(p, index=False))
            names.append(f"{name}.parquet")
        write_text(out / "summary.json", files.summary_text)
        names.append("summary.json")
        return names

    def plot(self, name: str = "retention", *, ax: Axes | Figure | None = None) -> Figure:
        """Draw one of the report's figures of this run, e.g. on an Axes of a notebook's own figure.

        Args:
            name: One of :data:`sim.output.run_report.FIGURE_CAPTIONS` the run has data for:
                ``retention``, ``retention_groups``, ``cohort_heatmap``, ``growth``, ``funnel``,
                ``stages``; with levers ``vs_baseline`` and ``payback``; with paid ads
                ``spend_response``. Several-panel figures (``vs_baseline``, ``spend_response``,
                ``retention_groups``, ``stages``) are drawn into a Figure, not an Axes.
            ax: A matplotlib Axes to draw on, a Figure to draw in, or None for a new Figure.

        Returns:
            The figure (a ``matplotlib.figure.Figure``; pyplot's state and backend are untouched).

        Example:
            >>> import matplotlib.pyplot as plt                      # doctest: +SKIP
            >>> fig, (left, right) = plt.subplots(1, 2)              # doctest: +SKIP
            >>> result.plot("retention", ax=left)                    # doctest: +SKIP
            >>> result.plot("growth", ax=right)                      # doctest: +SKIP
            >>> result.plot("stages", ax=plt.figure())               # doctest: +SKIP

        """
        from sim.output.run_report import FolderData, draw_figure

        meta = {"seed": self.config.seed}
        data = FolderData(
            None, self.summary, meta, "", self.daily, self.cohorts, self._baseline_cohorts(), self._report_tables()
        )
        return draw_figure(data, name, ax=ax)

    def _baseline_cohorts(self) -> pd.DataFrame | None:
        """The organic baseline's long cohort table in real users (None without a baseline run)."""
        if self.baseline_cohort_active is None:
            return None
        return cohort_table(self.baseline_cohort_active, self.user_weight)

    def _report_tables(self) -> dict[str, pd.DataFrame]:
        """The tables a report reads besides daily and cohorts, by name in file order (as a folder holds them)."""
        tables = dict(self.tables)
        if self.spend_response is not None:
            tables["spend_response"] = self.spend_response
        return dict(sorted(tables.items()))

    def to_dict(self) -> dict[str, Any]:
        """Summary plus config as plain data."""
        return {"summary": self.summary, "config": dataclasses.asdict(self.config), "meta": self.meta}
