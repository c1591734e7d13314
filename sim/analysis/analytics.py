"""The per-run analysis: retention measures, growth accounting, funnel and survival fits.

* **funnel** — ever aware → acquired → retained (visited again after the
  acquisition day) → activated (ever reached the ACTIVATED stage);
* :func:`analyze` — every measure of :mod:`sim.analysis.events` and
  :mod:`sim.analysis.growth` for one run, plus maximum-likelihood sBG and
  beta-discrete-Weibull fits of pooled rolling retention R_0 … R_T
  (:mod:`sim.analysis.survival_fit`), T the last day ≤ 90 that rests on at least
  :data:`~sim.analysis.retention.MIN_CURVE_USERS` users.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.events import MEASURE_DAYS, WEEK_DAYS, VisitRecord, cohort_triangle, retention_table, rolling_curve
from sim.analysis.growth import check_growth_identity, growth_accounting
from sim.analysis.retention import LONG_TERM_DAYS, MIN_CURVE_USERS
from sim.analysis.survival_fit import fit_survival
from sim.analysis.visit_stats import TRIANGLE_WEEKS

__all__ = ["analyze", "funnel"]


def funnel(aware: int, acquired: int, retained: int, activated: int) -> dict[str, float]:
    """Counts at each step and the conversion from the step before."""
    steps = {"aware": aware, "acquired": acquired, "retained": retained, "activated": activated}
    out: dict[str, float] = dict(steps)
    names = list(steps)
    for prev, step in itertools.pairwise(names):
        out[f"{step}_rate"] = steps[step] / steps[prev] if steps[prev] else float("nan")
    return out


def analyze(
    data: VisitRecord,
    *,
    aware: int,
    activated: int,
    tables_ready: Callable[[dict[str, pd.DataFrame], dict[str, Any]], None] | None = None,
) -> tuple[dict[str, pd.DataFrame], dict]:
    """Every measure of this module for one run: tables for files, numbers for the summary.

    Args:
        data: Users and visits: an :class:`~sim.analysis.events.EventData`, or the
            :class:`~sim.analysis.visit_stats.VisitSummary` a run accumulated.
        aware: Users ever aware (funnel step 1).
        activated: Users ever ACTIVATED (funnel step 4).
        tables_ready: Called with the tables and the summary so far (retention measures,
            funnel, growth) once they are computed, before the survival fits, which take
            the rest of the time: what the report draws is then known (the ``opsim``
            command starts those figures). Neither is changed afterwards but for the
            summary's ``rolling_retention_fit``, added after the call.

    """
    days = [n for n in MEASURE_DAYS if n < data.horizon]
    tables = {
        "retention_measures": retention_table(data, days=days),
        "growth_daily": growth_accounting(data, "day"),
        "growth_weekly": growth_accounting(data, "week"),
        "cohort_triangle_weekly": cohort_triangle(data, "week", max_n=TRIANGLE_WEEKS),
    }
    overall = tables["retention_measures"]
    overall = overall[overall["by"] == "all"]
    measures: dict[str, dict[str, float]] = {}
    for measure in ("classic", "rolling"):
        rows = overall[overall["measure"] == measure]
        measures[measure] = {f"d{int(r.day_n)}": float(r.share) for r in rows.itertuples()}
    acquired = int((data.acquired_day >= 0).sum())
    last = data.last_tenure()
    retained = int((last >= 1).sum())
    summary: dict = {
        "retention": measures,
        "funnel": funnel(aware, acquired, retained, activated),
        "growth_identity_holds": check_growth_identity(tables["growth_daily"])
        and check_growth_identity(tables["growth_weekly"]),
    }
    weekly = tables["growth_weekly"]
    full_weeks = weekly.iloc[: data.horizon // WEEK_DAYS]
    if len(full_weeks) >= 2:
        summary["quick_ratio_last_full_week"] = float(full_weeks["quick_ratio"].iloc[-1])
    if tables_ready is not None:
        tables_ready(tables, summary)
    max_n = min(LONG_TERM_DAYS, data.horizon - 1)
    curve, users = rolling_curve(data, max_n)
    # Fit only the days that rest on enough users: a short run's last days rest on a few early
    # users, where the pooled shares jump up and down (negative "churn counts": no likelihood).
    supported = np.flatnonzero(users >= MIN_CURVE_USERS)
    max_n = int(supported[-1]) if supported.size else 0
    curve, users = curve[: max_n + 1], users[: max_n + 1]
    fits = {}
    if max_n >= 3 and users[max_n] > 0 and np.isfinite(curve).all() and curve[1] < 1:
        for model in ("sbg", "bdw"):
            fits[model] = fit_survival(curve / curve[0], model=model, cohort_size=int(users[max_n])).to_dict()
    summary["rolling_retention_fit"] = fits
    return tables, summary
