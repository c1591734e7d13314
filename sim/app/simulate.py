"""The Python entry point: run one simulation and get a :class:`~sim.output.result.Result`.

A strategy with levers is run together with its comparison runs, all with the
same seed (common random numbers):

* the organic baseline (``economics.compare_to_baseline``) for incremental results;
* one rerun per lever with a budget knob, 1 % higher (``economics.marginal_roi``);
* one rerun per paid ad channel and budget multiplier
  (``economics.spend_response_multipliers``; 0 is always included) for the
  spend-response curve.
"""

from __future__ import annotations

import gc
import logging
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from sim.analysis import economics
from sim.analysis.analytics import analyze
from sim.analysis.retention import cohort_retention_curve, cohort_table
from sim.analysis.summary import summarize
from sim.analysis.visit_stats import VisitStats
from sim.app.config import Config, bool_argument, load_config
from sim.app.memory import accepted, check_memory
from sim.app.model import UserLifecycleModel
from sim.app.threads import check_parallel
from sim.base.schema import format_number
from sim.core.flags import FLAG_EVER_ACTIVATED, FLAG_EVER_AWARE
from sim.core.lifecycle import STAGE_NAMES
from sim.levers.base import Lever
from sim.levers.strategy import StrategyConfig, knob_ceiling, lever_configs
from sim.output.result import Result

if TYPE_CHECKING:
    from sim.output.run_report import FigureDrawer, FolderData

__all__ = ["simulate"]

#: opsim's logger (its commands' log lines; what a user's app configures).
log = logging.getLogger("opsim")

#: The progress bar appears only once a run has taken this many seconds.
PROGRESS_DELAY_S = 2.0
#: Relative step of a lever's budget knob for marginal ROI.
MARGINAL_STEP = 0.01
#: The report's figures drawn from the days and the cohorts alone: with figure workers, a run
#: without comparison runs starts them as soon as its days are stepped, to be drawn while its
#: analytics are computed; the figures drawn from the analytics tables are started as soon as
#: those are, before the survival fits.
STEPPED_FIGURES = ("stages", "retention")
#: The baseline run's headline numbers kept in ``summary.json`` → ``baseline``.
BASELINE_SUMMARY_KEYS = ("acquired_users", "dau", "wau", "mau", "mean_dau", "retention", "purchases", "revenue")
#: A finished model with at least this much per-user state is freed at once: after
#: :meth:`~sim.core.model.LifecycleModel.release`, a model without agents is freed as its
#: last reference goes; one with agents (the agent-by-agent reference, or ``agents=all``)
#: is a cycle of agents and model, which Python frees only at its next full collection
#: (the collector counts objects, not bytes), so a strategy's comparison runs would
#: otherwise each leave their per-user state behind until then.
COLLECT_AFTER_BYTES = 16 * 2**20


@dataclass(frozen=True)
class LeverOutcome:
    """What a lever leaves after its run (follows ``sim.analysis.economics.LeverRecord``).

    A snapshot without the lever's per-user state (push fatigue, incentive
    dependence, last contact), so a finished run holds no memory per user.
    """

    label: str
    kind: str
    channel: str | None
    budget_key: str | None
    cfg: Any
    counts: dict[str, Any]

    @classmethod
    def of(cls, lever: Lever) -> LeverOutcome:
        """The snapshot of a lever at the end of its run."""
        return cls(lever.label, lever.kind, lever.channel, lever.budget_key, lever.cfg, lever.summary())

    def summary(self) -> dict[str, Any]:
        """Lever-specific numbers for ``summary.json`` (e.g. messages sent)."""
        return self.counts


@dataclass
class RunOutput:
    """What one model run leaves behind (before economics)."""

    daily: pd.DataFrame
    cohort_active: np.ndarray
    cohort_revenue: np.ndarray
    levers: list[LeverOutcome]
    channels: list[str]
    segments: list[str]
    seconds: float
    stepping_seconds: float
    analytics_seconds: float
    group_acquired: np.ndarray
    group_revenue: np.ndarray
    group_cost: np.ndarray
    analytics_tables: dict[str, pd.DataFrame] | None = None
    analytics_summary: dict[str, Any] | None = None

    @property
    def retention_curve(self) -> np.ndarray:
        """Pooled classic retention D_0 … D_{H−1}."""
        return cohort_retention_curve(self.cohort_active)


def _run(
    cfg: Config,
    bar: tqdm,
    *,
    reference: bool = False,
    stepped: Callable[[UserLifecycleModel], None] | None = None,
    tables_ready: Callable[[dict[str, pd.DataFrame], dict[str, Any]], None] | None = None,
) -> RunOutput:
    """One model run: its days stepped, ``stepped(model)`` called (if given), then its analytics.

    ``tables_ready`` is handed to :func:`~sim.analysis.analytics.analyze`.
    """
    started = time.perf_counter()
    stats = VisitStats(cfg.population.simulated_users, cfg.horizon_days) if cfg.record_events else None
    model = UserLifecycleModel(cfg, reference=reference, keep_events=False, visit_observer=stats)
    stepping = time.perf_counter()
    for _ in range(cfg.horizon_days):
        model.step()
        bar.update(1)
    analytics = time.perf_counter()
    if stepped is not None:
        stepped(model)
    tables = summary = None
    if stats is not None:
        tables, summary = _analytics(model, stats, tables_ready)
    done = time.perf_counter()
    w = model.user_weight
    output = RunOutput(
        daily=pd.DataFrame(model.log.columns),
        cohort_active=model.cohort_active,
        cohort_revenue=model.cohort_revenue,
        levers=[LeverOutcome.of(lever) for lever in model.levers],
        channels=list(model.channels),
        segments=list(model.segments.names),
        seconds=done - started,
        stepping_seconds=analytics - stepping,
        analytics_seconds=done - analytics,
        group_acquired=model.group_acquired * w,
        group_revenue=model.group_revenue * w,
        group_cost=_group_cost(model),
        analytics_tables=tables,
        analytics_summary=summary,
    )
    large = model.population.nbytes >= COLLECT_AFTER_BYTES
    users_state = weakref.ref(model.population)
    model.release()
    del model, stats
    if large and users_state() is not None:  # still held in a cycle (agents and their model)
        gc.collect()
    return output


def _group_cost(model: UserLifecycleModel) -> np.ndarray:
    """Cost per group of simulated users: their per-user charges plus an equal share of the fixed costs."""
    groups = np.zeros(model.group_acquired.size)
    for lever in model.levers:
        total = float(model.log.columns[f"cost_{lever.label}"].sum())
        groups += lever.group_charged + (total - lever.charged_total) / groups.size
    return groups


def _analytics(
    model: UserLifecycleModel,
    stats: VisitStats,
    tables_ready: Callable[[dict[str, pd.DataFrame], dict[str, Any]], None] | None = None,
) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """Retention measures, growth accounting and funnel from the run's visits (accumulated as it stepped)."""
    p = model.population
    acq = p.acquired_day
    data = stats.finish(
        acquired_day=np.where(acq >= 0, acq, -1),
        groups={"channel": p.channel, "segment": p.segment},
        labels={"channel": list(model.channels), "segment": list(model.segments.names)},
    )
    aware = int(np.count_nonzero(p.flags & FLAG_EVER_AWARE))
    activated = int(np.count_nonzero(p.flags & FLAG_EVER_ACTIVATED))
    return analyze(data, aware=aware, activated=activated, tables_ready=tables_ready)


def _scaled(cfg: Config, key: str, name: str, cls: type[Lever], factor: float) -> Config:
    """A copy of ``cfg`` with one lever's spend multiplied by ``factor`` (:meth:`Lever.with_budget_scaled`)."""
    strategy = cfg.strategy
    group = key.split(".")[1]
    if group in ("paid_ads", "viral_events"):
        levers = dict(getattr(strategy, group))
        levers[name] = cls.with_budget_scaled(levers[name], factor)
        strategy = replace(strategy, **{group: levers})
    else:
        strategy = replace(strategy, **{group: cls.with_budget_scaled(getattr(strategy, group), factor)})
    return replace(cfg, strategy=strategy)


def _marginal_factor(lever_cfg: Any, knob: str, value: float) -> float:
    """+1 %, or −1 % where +1 % would leave the knob's range (e.g. reach <= 1, pushes <= 7 a week)."""
    up = value * (1.0 + MARGINAL_STEP) <= knob_ceiling(lever_cfg, knob)
    return 1.0 + MARGINAL_STEP if up else 1.0 - MARGINAL_STEP


def _plan(cfg: Config) -> list[tuple[str, Any, Config]]:
    """Comparison runs: (kind, detail, config)."""
    levers = lever_configs(cfg.strategy)
    econ = cfg.economics
    plan: list[tuple[str, Any, Config]] = []
    if not levers:
        return plan
    quiet = replace(cfg, progress=False, record_events=False)
    if econ.compare_to_baseline:
        plan.append(("baseline", None, replace(quiet, strategy=StrategyConfig())))
    if econ.marginal_roi:
        for key, name, cls, lever_cfg in levers:
            if cls.budget_key is None:
                continue
            value = cls.budget_level(lever_cfg)
            if value <= 0:
                continue
            factor = _marginal_factor(lever_cfg, cls.budget_key, value)
            label = cls(name, lever_cfg).label
            plan.append(("marginal", (label, factor), _scaled(quiet, key, name, cls, factor)))
    multipliers = sorted({0.0, *econ.spend_response_multipliers} - {1.0})
    for key, name, cls, _lever_cfg in levers:
        if cls.kind == "paid_ads" and econ.spend_response_multipliers:
            for mult in multipliers:
                plan.append(("response", (name, mult), _scaled(quiet, key, name, cls, mult)))
    return plan


def _run_label(kind: str, detail: Any) -> str:
    """What a comparison run is for, as its progress bar says it."""
    if kind == "baseline":
        return "baseline (organic, same seed) for incremental results"
    if kind == "marginal":
        label, factor = detail
        return f"marginal ROI: {label} budget {100 * (factor - 1):+.0f} %"
    channel, mult = detail
    return f"spend response: {channel} budget x{mult:g}"


def _budget_columns(cfg: Any) -> dict[str, Any]:
    """The budget an ad channel ran on: ``daily_budget`` (NaN on period budgets), ``period_budgets`` ("" without)."""
    if cfg.period_budgets:
        return {"daily_budget": float("nan"), "period_budgets": ", ".join(format_number(b) for b in cfg.period_budgets)}
    return {"daily_budget": float(cfg.daily_budget), "period_budgets": ""}


def _spend_response(main: RunOutput, runs: list[tuple[tuple[str, float], RunOutput]], margin: float) -> pd.DataFrame:
    """Spend → users acquired and gross profit per ad channel; incremental against the channel at zero budget."""
    rows = []
    for lever in main.levers:
        if lever.kind != "paid_ads":
            continue
        points = [((lever.channel, 1.0), main)]
        points += [(d, r) for d, r in runs if d[0] == lever.channel]
        zero = next(r for d, r in points if d[1] == 0.0)
        for (channel, mult), r in sorted(points, key=lambda p: p[0][1]):
            ran = next(o.cfg for o in r.levers if o.label == lever.label)
            rows.append(
                {
                    "channel": channel,
                    "budget_multiplier": mult,
                    **_budget_columns(ran),
                    "spend": float(r.daily[f"cost_{lever.label}"].sum()),
                    "new_users_channel": r.daily[f"new_users_{channel}"].sum().item(),
                    "incremental_new_users": (r.daily["new_users"].sum() - zero.daily["new_users"].sum()).item(),
                    "incremental_gross_profit": margin * float(r.daily["revenue"].sum() - zero.daily["revenue"].sum()),
                }
            )
    return pd.DataFrame(rows)


class _DrawAhead:
    """Starts a run's figures in the figure workers as soon as what they are drawn from is known.

    Once the days are stepped, :data:`STEPPED_FIGURES` (:meth:`stepped`), from the days
    (:func:`sim.analysis.economics.daily_frame` without a baseline), the cohort table, and
    the summary keys and seed the figures' titles name; once the analytics tables are
    computed, the figures drawn from them (:meth:`tables_ready`). Only for a run without
    comparison runs: theirs change the days and add the baseline's cohorts. The figure
    workers use a figure drawn ahead only if its inputs are those of the saved result
    (:func:`sim.output.run_report.same_figure`).
    """

    def __init__(self, cfg: Config, workers: FigureDrawer) -> None:
        self.cfg = cfg
        self.workers = workers
        self.data: FolderData | None = None

    def stepped(self, model: UserLifecycleModel) -> None:
        """The days are stepped: start the figures drawn from the days and the cohorts."""
        self.data = _stepped_data(self.cfg, model)
        self.workers.start(self.data, list(STEPPED_FIGURES))

    def tables_ready(self, tables: dict[str, pd.DataFrame], summary: dict[str, Any]) -> None:
        """The analytics tables and the funnel are computed: start the figures drawn from them."""
        from dataclasses import replace as with_changes

        from sim.output.run_report import figure_names

        if self.data is None:
            return
        data = with_changes(
            self.data,
            summary={**self.data.summary, "analytics": {"funnel": dict(summary["funnel"])}},
            tables=dict(sorted(tables.items())),
        )
        self.workers.start(data, [name for name in figure_names(data) if name not in STEPPED_FIGURES])


def _stepped_data(cfg: Config, model: UserLifecycleModel) -> FolderData:
    """What :data:`STEPPED_FIGURES` are drawn from, as a run without comparison runs has it once its days are stepped."""
    from sim.output.run_report import FolderData

    pop = cfg.population
    summary = {
        "market_size": pop.market_size,
        "days": cfg.horizon_days,
        "sample_size": pop.simulated_users,
        "population": pop.name,
        "strategy": cfg.strategy.name,
    }
    daily = economics.daily_frame(pd.DataFrame(model.log.columns), None, cfg.economics.margin)
    cohorts = cohort_table(model.cohort_active, model.user_weight)
    return FolderData(None, summary, {"seed": cfg.seed}, "", daily, cohorts, None, {})


def simulate(
    config: Config | Mapping[str, Any] | Iterable[str] | None = None,
    *,
    progress: bool | None = None,
    reference: bool = False,
    figure_workers: FigureDrawer | None = None,
) -> Result:
    """Simulate ``horizon_days`` days of one market under one strategy.

    Args:
        config: A :class:`~sim.app.config.Config`, a mapping, a list of Hydra
            overrides (``["population=game", "strategy=paid_growth"]``) or None.
        progress: Show progress bars (after 2 s): one per run, labelled ("[1/12] main run:
            strategy paid_growth", "[2/12] baseline …", "[3/12] marginal ROI: … budget +1 %",
            and later "[k/12] spend response: search budget x0.5"), each counting that run's days;
            defaults to ``config.progress``.
        reference: Use the agent-by-agent reference stepping (organic model, small markets).
        figure_workers: Processes that will draw the result's figures
            (:class:`~sim.output.figure_workers.FigureWorkers`, then given to
            :meth:`~sim.output.result.Result.save`): a run with ``figures`` and without
            comparison runs starts :data:`STEPPED_FIGURES` in them once its days are
            stepped, and the figures of its analytics tables once those are computed, to be
            drawn while it finishes. The result is the same with or without them.

    Returns:
        The run's :class:`~sim.output.result.Result`, with economics against the
        baseline when the strategy has levers.

    Raises:
        ConfigError: On a bad config value, or a ``progress`` or ``reference`` other than
            True, False, 1 or 0 (before anything runs).
        MemoryLimitError: When the run would need more memory than is available
            (before anything is allocated; :mod:`sim.app.memory`).

    Example:
        >>> from sim import simulate
        >>> result = simulate(["population.market_size=20000", "horizon_days=60", "progress=false"])
        >>> 0 < result.summary["retention"]["d1"] < 1
        True

    """
    show = None if progress is None else bool_argument("progress", progress)
    reference = bool_argument("reference", reference)
    cfg = check_memory(check_parallel(load_config(config)))
    plan = _plan(cfg)
    show = cfg.progress if show is None else show
    labels = [f"main run: strategy {cfg.strategy.name}", *(_run_label(kind, detail) for kind, detail, _c in plan)]
    started = time.perf_counter()

    def bar(i: int) -> tqdm:
        """One bar per run, saying which run of how many it counts the days of."""
        return tqdm(
            total=cfg.horizon_days,
            unit="day",
            desc=f"[{i + 1}/{len(labels)}] {labels[i]}",
            disable=not show,
            delay=PROGRESS_DELAY_S,
            mininterval=0.5,
            leave=False,
        )

    with accepted([cfg]):  # the models check again, in a process grown since (sim.app.memory.accepted)
        ahead = _DrawAhead(cfg, figure_workers) if figure_workers is not None and cfg.figures and not plan else None
        with bar(0) as progress_bar:
            main = _run(
                cfg,
                progress_bar,
                reference=reference,
                stepped=ahead.stepped if ahead else None,
                tables_ready=ahead.tables_ready if ahead else None,
            )
        extra = []
        for i, (kind, detail, c) in enumerate(plan, start=1):
            with bar(i) as progress_bar:
                extra.append((kind, detail, _run(c, progress_bar)))
    baseline = next((r for kind, _d, r in extra if kind == "baseline"), None)
    marginal = {d[0]: (r, d[1]) for kind, d, r in extra if kind == "marginal"}
    response = [(d, r) for kind, d, r in extra if kind == "response"]
    econ = cfg.economics
    daily = economics.daily_frame(main.daily, baseline.daily if baseline else None, econ.margin)
    pop = cfg.population
    summary = summarize(main.daily, main.cohort_active, pop.market_size, STAGE_NAMES)
    summary["sample_size"] = pop.simulated_users
    summary["user_weight"] = pop.user_weight
    summary["population"] = pop.name
    summary["strategy"] = cfg.strategy.name
    summary["economics"] = economics.evaluate(main, baseline, marginal, econ)
    ltv = summary["economics"].get("ltv") or {}
    if ltv.get("tail_projected") is False:
        log.warning(
            "LTV per user %.4g %s is the observed part only, over %d days: tail not projected: %s",
            ltv["per_user"],
            econ.currency,
            min(cfg.horizon_days, econ.ltv_days),
            ltv["tail_not_projected"],
        )
    if baseline is not None:  # the organic baseline's headline numbers, for strategy-vs-baseline reports
        organic = summarize(baseline.daily, baseline.cohort_active, pop.market_size, STAGE_NAMES)
        summary["baseline"] = {k: organic[k] for k in BASELINE_SUMMARY_KEYS}
    if main.analytics_summary is not None:
        summary["analytics"] = main.analytics_summary
    elapsed = time.perf_counter() - started
    meta = {
        "wall_seconds": elapsed,
        "agent_days_per_second": pop.simulated_users * cfg.horizon_days / main.seconds,
        "stepping": "reference" if reference else "vectorized",
        "comparison_runs": len(plan),
        # where the main run's time went: drawing the population, the steps, the visit analytics
        # after them, and the rest of simulate() (comparison runs, economics, summary)
        "phase_seconds": {
            "model_setup": main.seconds - main.stepping_seconds - main.analytics_seconds,
            "stepping": main.stepping_seconds,
            "analytics": main.analytics_seconds,
            "comparison_runs_and_summary": elapsed - main.seconds,
        },
        "channels": main.channels,
        "segments": main.segments,
    }
    return Result(
        config=cfg,
        daily=daily,
        cohort_active=main.cohort_active,
        summary=summary,
        meta=meta,
        cohort_revenue=main.cohort_revenue,
        user_weight=pop.user_weight,
        spend_response=_spend_response(main, response, econ.margin) if response else None,
        tables=main.analytics_tables or {},
        baseline_cohort_active=None if baseline is None else baseline.cohort_active,
    )
