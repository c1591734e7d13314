"""Economics: costs, gross profit, ROI, incremental results, CAC, LTV, payback.

Definitions (all money in ``economics.currency``; daily columns in ``daily.parquet``):

* gross profit GP_t = m · revenue_t, m = ``economics.margin``;
* cost C_t = Σ_levers cost_t (``cost_<lever>`` columns; ``cost_total``);
* profit = GP − C; ROI = (GP − C) / C (undefined without cost);
* incremental, against the baseline run (same config and seed, no levers; common
  random numbers make a strategy that changes nothing show exactly zero):
  ΔX = X_strategy − X_baseline for users acquired, revenue, gross profit;
  incremental profit = ΔGP − C; incremental ROI = (ΔGP − C) / C;
* CAC by paid channel = channel spend / users acquired through the channel;
  blended incremental CAC = C / Δusers acquired;
* payback day = the first day d with cumulative cost C_{0..d} > 0 such that
  cumulative ΔGP ≥ cumulative C on every day from d to the end of the horizon
  (None if the last day fails; 0 if every day from the first passes). An early day
  where a lever's first effects briefly outrun its spend does not count;
* cohort LTV per acquired user, over ``ltv_days`` days of tenure, discounted daily
  at (1 + ``annual_discount_rate``)^(−n/365):

      LTV = m · Σ_a Σ_n rev[a, n] · δ^n / Σ_a size[a]

  split into the *observed* part (tenure days inside the horizon) and a
  *projected tail* for the unobserved tenure days of each cohort: the observed
  revenue per active user-day times a projected classic retention D̂_n, which is
  D_N* · S(n)/S(N*) with S the maximum-likelihood beta-discrete-Weibull fit of
  rolling retention (the run's analytics), or, without recorded events, a scaled
  sBG curve s · B(α, β + n)/B(α, β) fitted by least squares to D_1 … D_T, the days
  resting on at least ``MIN_CURVE_USERS`` users (T below). N* is the last day ≤ 90
  (and ≤ the fit's last day) whose D_N rests on at least ``MIN_CURVE_USERS`` = 300
  simulated users. The tail is *not projected*
  (``tail_projected`` false, ``per_user`` = the observed part, ``tail_not_projected``
  says why) when the fit sits on an optimiser bound, when no day rests on enough
  users, or when the projection would reach more than ``LTV_MAX_EXTRAPOLATION`` = 5
  times the days it is fitted on (ltv_days > 5 · T: held-out runs missed the LTV by
  −64 % … +9 % there, by −18 % … +5 % otherwise; docs/model.md, "The LTV tail");
* marginal ROI of a lever = (ΔGP − ΔC) / ΔC between the run and a rerun with the
  lever's budget knob (``daily_budget``, or every one of an ad channel's
  ``period_budgets`` when it has them, ``messages_per_week``, ``reach``,
  ``reward_referrer``, ``value``) 1 % higher (1 % lower where +1 % leaves its
  range); fixed-price levers have none;
* Monte-Carlo errors (``monte_carlo``): standard errors of the totals above from
  the spread over groups of simulated users (:mod:`sim.analysis.monte_carlo`).

Every count and amount is for the real market (M users), estimated from the N
simulated ones (each standing for M / N).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from scipy.special import betaln

if TYPE_CHECKING:  # pandas and scipy.optimize load where used: composing a config stays fast
    import pandas as pd

from sim.analysis.monte_carlo import ratio_se, total_se
from sim.analysis.retention import LONG_TERM_DAYS, MIN_CURVE_USERS, pooled_cohort_users
from sim.base.float_sum import sum_in_order
from sim.base.schema import bounded

__all__ = [
    "DAYS_PER_YEAR",
    "LATE_TENURE_DAYS",
    "LTV_MAX_EXTRAPOLATION",
    "EconomicsConfig",
    "LeverRecord",
    "RunRecord",
    "evaluate",
    "fit_retention_tail",
    "ltv",
    "payback_day",
    "revenue_per_active_day_by_tenure",
    "roi",
    "survival_tail",
]

#: Days per year of the daily discount factor (1 + annual rate)^(−n / 365).
DAYS_PER_YEAR = 365.0


class LeverRecord(Protocol):
    """What economics reads of a lever (a :class:`sim.levers.base.Lever` has it)."""

    label: str
    kind: str
    channel: str | None
    budget_key: str | None

    def summary(self) -> dict[str, Any]:
        """Lever-specific counts (messages sent, coupons redeemed, …)."""
        ...


class RunRecord(Protocol):
    """What economics reads of one simulated run.

    ``group_*`` are per group of simulated users (:mod:`sim.analysis.monte_carlo`), in
    real units: users acquired, revenue, and cost (per-user charges of the group plus
    an equal share of the fixed costs).
    """

    daily: pd.DataFrame
    cohort_active: np.ndarray
    cohort_revenue: np.ndarray
    levers: Sequence[LeverRecord]
    retention_curve: np.ndarray
    analytics_summary: dict[str, Any] | None
    group_acquired: np.ndarray
    group_revenue: np.ndarray
    group_cost: np.ndarray


#: The LTV tail is projected only up to this many times the days of retention it rests on:
#: ltv_days ≤ 5 · T (T the last day of classic retention on 300+ users). Fits on 60-day runs held out against 730-day
#: runs of the same seeds missed the 365-day LTV by −64 % … +9 % with T < 73, by −18 % … +5 %
#: with T ≥ 73 (docs/model.md, "The LTV tail"; measured before the tail's revenue was taken by tenure).
#: experiments/ltv_accuracy/ltv_accuracy.py measures the LTV against the realised one.
LTV_MAX_EXTRAPOLATION = 5.0
#: Days of classic retention (after day 0) the least-squares tail needs: one per parameter (s, α, β).
MIN_TAIL_FIT_DAYS = 3
#: Beyond the tenure days observed on enough active users, the LTV tail's revenue per active
#: day is that of the last this-many such days (:func:`revenue_per_active_day_by_tenure`).
LATE_TENURE_DAYS = 30


@dataclass
class EconomicsConfig:
    """How money is counted and which comparison runs are made."""

    currency: str = "USD"
    margin: float = bounded(0.3, ge=0, le=1)
    annual_discount_rate: float = bounded(0.1, ge=0)
    ltv_days: int = bounded(365, ge=1, le=3650)
    compare_to_baseline: bool = True
    marginal_roi: bool = True
    spend_response_multipliers: list[float] = field(default_factory=lambda: [0.0, 0.5, 2.0, 4.0])


def roi(gross_profit: float, cost: float) -> float:
    """(GP − C) / C; NaN without cost."""
    return (gross_profit - cost) / cost if cost > 0 else float("nan")


def payback_day(incremental_gross_profit: np.ndarray, cost: np.ndarray) -> int | None:
    """First day from which cumulative ΔGP stays ≥ cumulative cost (> 0) to the horizon, or None.

    An early day where a lever's first effects briefly outrun its spend does not count.
    """
    cum_cost = np.cumsum(cost)
    ok = (np.cumsum(incremental_gross_profit) >= cum_cost) & (cum_cost > 0)
    if not ok.size or not ok[-1]:
        return None
    failing = np.flatnonzero(~ok)
    return int(failing[-1] + 1) if failing.size else 0


def _scaled_sbg(n: np.ndarray, scale: float, log_a: float, log_b: float) -> np.ndarray:
    a, b = np.exp(log_a), np.exp(log_b)
    return scale * np.exp(betaln(a, b + n) - betaln(a, b))


def fit_retention_tail(curve: np.ndarray) -> tuple[dict[str, float], Any]:
    """Fit D̂_n = s · B(α, β + n) / B(α, β) to the observed classic retention D_1 … D_N.

    Returns:
        The fitted parameters and a function n → D̂_n (NaN-free).

    """
    n = np.arange(curve.size, dtype=float)
    ok = np.isfinite(curve) & (n >= 1)
    if ok.sum() < MIN_TAIL_FIT_DAYS:
        return {"scale": float("nan"), "alpha": float("nan"), "beta": float("nan")}, lambda m: np.zeros_like(m, float)
    from scipy.optimize import OptimizeWarning, curve_fit

    p0 = (float(curve[ok][0]) * 1.2 + 1e-6, 0.0, 1.0)
    try:
        with warnings.catch_warnings():  # the covariance is not used; a flat or tiny curve makes it singular
            warnings.simplefilter("ignore", OptimizeWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            (s, la, lb), _ = curve_fit(_scaled_sbg, n[ok], curve[ok], p0=p0, maxfev=5000)
    except RuntimeError:  # no convergence: flat tail at the last observed level
        last = float(curve[ok][-1])
        return {"scale": last, "alpha": float("nan"), "beta": float("nan")}, lambda m: np.full_like(m, last, float)
    params = {"scale": float(s), "alpha": float(np.exp(la)), "beta": float(np.exp(lb))}
    return params, lambda m: _scaled_sbg(np.asarray(m, float), s, la, lb)


def survival_tail(
    retention_curve: np.ndarray, fit: dict[str, Any], users: np.ndarray | None = None, min_users: int = 0
) -> tuple[dict[str, float], Any]:
    """Project classic retention with a survival fit: D̂_n = D_N* · S(n) / S(N*) beyond N*.

    N* is the last observed day (up to :data:`LONG_TERM_DAYS` and the fit's last period) of the
    pooled classic curve that rests on at least ``min_users`` of ``users`` (users observed per day);
    S is the maximum-likelihood sBG/BdW fit of rolling retention (:func:`sim.analysis.analytics.analyze`),
    so the tail assumes activity among the users still around stays at its level at N*.
    """
    from sim.analysis.survival_fit import survival_curve

    p = fit["params"]
    last = min(LONG_TERM_DAYS, int(fit.get("periods_fitted", LONG_TERM_DAYS)))
    ok = np.isfinite(retention_curve[: last + 1])
    if users is not None:
        ok &= users[: last + 1] >= min_users
    finite = np.flatnonzero(ok)
    finite = finite[finite >= 1]
    if not finite.size:
        return {"model": "none"}, lambda m: np.zeros_like(np.asarray(m, float))
    anchor = int(finite[-1])
    level = float(retention_curve[anchor])
    s_anchor = float(survival_curve(np.array([anchor]), p["a"], p["b"], p.get("c", 1.0))[0])

    def curve(m: np.ndarray) -> np.ndarray:
        m = np.asarray(m, float)
        projected = level * survival_curve(m, p["a"], p["b"], p.get("c", 1.0)) / s_anchor
        observed = np.full(m.shape, np.nan)
        inside = m <= anchor
        observed[inside] = retention_curve[m[inside].astype(int)]
        return np.where(np.isfinite(observed), observed, projected)

    return {"model": f"{fit['model']} MLE of rolling retention", "anchor_day": anchor, **p}, curve


def revenue_per_active_day_by_tenure(
    cohort_active: np.ndarray, cohort_revenue: np.ndarray, days: int, min_users: int = 0
) -> tuple[np.ndarray, float]:
    """Revenue per active user-day r_n at each tenure day n < ``days``, pooled over the cohorts.

    r_n = Σ_a revenue[a, n] / Σ_a active[a, n] on the tenure days whose pooled active
    user-days number at least ``min_users`` (and one); every other day, and every day beyond
    the run, gets the late level r_late = Σ R_n / Σ A_n over the last :data:`LATE_TENURE_DAYS`
    such days. Spending per active day grows over the first weeks of tenure (new users
    buy less), so one average over all tenure days, dominated by the many young users,
    undervalues the late tenure days that the LTV tail projects.

    Returns:
        r_0 … r_{days−1}, and r_late (NaN, with r_n NaN too, when no day has enough users).

    """
    active = cohort_active.sum(axis=0, dtype=np.float64)
    revenue = cohort_revenue.sum(axis=0, dtype=np.float64)
    usable = np.flatnonzero(active >= max(min_users, 1))
    if not usable.size:
        return np.full(days, np.nan), float("nan")
    late = usable[-LATE_TENURE_DAYS:]
    late_level = float(revenue[late].sum() / active[late].sum())
    by_day = np.full(days, late_level)
    inside = usable[usable < days]
    by_day[inside] = revenue[inside] / active[inside]
    return by_day, late_level


def ltv(
    cohort_active: np.ndarray,
    cohort_revenue: np.ndarray,
    retention_curve: np.ndarray,
    *,
    margin: float,
    annual_discount_rate: float,
    ltv_days: int,
    survival_fit: dict[str, Any] | None = None,
    min_users: int = 0,
    max_extrapolation: float | None = None,
) -> dict[str, Any]:
    """Discounted gross-profit LTV per acquired user, observed part plus projected tail.

    The tail of cohort a is Σ_n margin · r_n · D̂_n · δ(n) over its unobserved tenure days n <
    ``ltv_days``, r_n the revenue per active user-day at tenure n
    (:func:`revenue_per_active_day_by_tenure`, on days with ``min_users`` active users), D̂_n the
    projected classic retention: ``survival_fit`` (:func:`survival_tail`) when the run has one,
    else a least-squares scaled-sBG fit of the classic curve on the days it rests on
    (:func:`fit_retention_tail`).

    The tail rests on the days N whose pooled D_N has at least ``min_users`` users behind it; T is
    the last of them (a survival fit's anchor N* is the last within its days, ≤ 90). It is not projected — ``projected_tail``
    None, ``per_user`` the observed part, ``tail_projected`` false and ``tail_not_projected`` the
    reason — when the survival fit ends on an optimiser bound, or (with ``max_extrapolation``, not
    None) when no day N ≥ 1 is usable or ``ltv_days`` > ``max_extrapolation`` · T. :func:`evaluate` passes
    :data:`MIN_CURVE_USERS` and :data:`LTV_MAX_EXTRAPOLATION`.
    """
    horizon = cohort_active.shape[0]
    sizes = cohort_active[:, 0].astype(float)
    total_users = sizes.sum()
    if total_users == 0:
        return {"per_user": float("nan"), "observed": float("nan"), "projected_tail": float("nan"), "days": ltv_days}
    n = np.arange(horizon)
    discount = (1.0 + annual_discount_rate) ** (-n / DAYS_PER_YEAR)
    days = min(ltv_days, horizon)
    observed = margin * float((cohort_revenue[:, :days] * discount[:days]).sum()) / total_users
    active = cohort_active.astype(float)
    arpdau = float(cohort_revenue.sum() / active.sum()) if active.sum() else 0.0
    users = pooled_cohort_users(cohort_active)
    # the days N >= 1 of the classic curve that rest on enough users; T, the last, however far
    rests = np.isfinite(retention_curve) & (users[: retention_curve.size] >= min_users)
    usable = np.flatnonzero(rests)
    usable = usable[usable >= 1]
    extent = int(usable[-1]) if usable.size else 0
    if survival_fit is not None:
        params, curve = survival_tail(retention_curve, survival_fit, users, min_users)
        anchor = int(params.get("anchor_day", 0))  # N*, within the fit's days (<= 90)
    else:
        # fitted, like the survival tail anchored, only on the days that rest on enough users
        params, curve = fit_retention_tail(np.where(rests, retention_curve, np.nan))
        params = {"model": "scaled sBG least squares on classic retention", **params}
        anchor = extent
    # cohort a is observed for tenure days < horizon − a; the tail projects the rest up to ltv_days
    first_unobserved = np.minimum(horizon - np.arange(horizon), ltv_days)
    needed = bool(((first_unobserved < ltv_days) & (sizes > 0)).any())
    reason = (
        _no_tail_reason(survival_fit, anchor, extent, ltv_days, min_users, max_extrapolation, int(usable.size))
        if needed
        else None
    )
    out: dict[str, Any] = {
        "per_user": observed,
        "observed": observed,
        "projected_tail": None,
        "days": ltv_days,
        "revenue_per_active_day": arpdau,
        "tail_fit": params,
        "tail_projected": reason is None,
        "tail_not_projected": reason,
        "rests_on_days": extent,  # T of the 5x rule: the last day of retention on min_users or more
    }
    if reason is not None:
        return out
    tail_n = np.arange(ltv_days)
    tail_discount = (1.0 + annual_discount_rate) ** (-tail_n / DAYS_PER_YEAR)
    spend, late = revenue_per_active_day_by_tenure(cohort_active, cohort_revenue, ltv_days, min_users)
    if not np.isfinite(late):  # no tenure day on min_users active users: one average over all of them
        spend, late = np.full(ltv_days, arpdau), arpdau
    out["late_revenue_per_active_day"] = late
    per_day = margin * spend * curve(tail_n) * tail_discount  # projected gross profit per user, tenure day n
    cum = np.concatenate([[0.0], np.cumsum(per_day)])
    tail = float((sizes * (cum[ltv_days] - cum[first_unobserved])).sum()) / total_users
    out.update(per_user=observed + tail, projected_tail=tail)
    return out


def _no_tail_reason(
    survival_fit: dict[str, Any] | None,
    anchor: int,
    extent: int,
    ltv_days: int,
    min_users: int,
    max_extrapolation: float | None,
    usable_days: int,
) -> str | None:
    """Why the LTV tail is not projected (:func:`ltv`), or None when it is.

    ``anchor``: the day the tail starts from (N*); ``extent``: the last day of retention
    observed on ``min_users`` or more users (T, not capped at the fit's 90 days: a run of
    400 days projects an LTV of 730); ``usable_days``: how many days after day 0 are, which
    the least-squares tail (no ``survival_fit``) needs :data:`MIN_TAIL_FIT_DAYS` of.
    """
    bound = (survival_fit or {}).get("at_bound") or []
    if bound:
        return (
            f"the {survival_fit['model']} fit of rolling retention ends on the optimiser's bound "
            f"({', '.join(bound)}): no interior maximum, no projection"
        )
    if max_extrapolation is not None and min(anchor, extent) < 1:
        return f"no day of retention after day 0 rests on {min_users} or more users"
    if max_extrapolation is not None and ltv_days > max_extrapolation * extent:
        return (
            f"ltv_days {ltv_days} is more than {max_extrapolation:g} × the {extent} days of retention observed "
            f"(each on {min_users} or more users): a longer run, or a shorter ltv_days, gives one"
        )
    if survival_fit is None and usable_days < MIN_TAIL_FIT_DAYS:  # fit_retention_tail's all-zero curve
        return (
            f"{usable_days} days of retention after day 0 rest on {min_users} or more users: the least-squares "
            f"tail needs {MIN_TAIL_FIT_DAYS}"
        )
    return None


def daily_frame(daily: pd.DataFrame, baseline: pd.DataFrame | None, margin: float) -> pd.DataFrame:
    """Add gross profit and, with a baseline, baseline and incremental columns."""
    out = daily.copy()
    out["gross_profit"] = margin * out["revenue"]
    if baseline is not None:
        for col in ("new_users", "dau", "revenue"):
            out[f"baseline_{col}"] = baseline[col].to_numpy()
        out["incremental_gross_profit"] = margin * (out["revenue"] - out["baseline_revenue"])
    return out


def _incremental(daily: pd.DataFrame, base: pd.DataFrame, margin: float, cost: float) -> dict[str, Any]:
    """Differences against the baseline run (same seed: common random numbers)."""
    d_users = (daily["new_users"].sum() - base["new_users"].sum()).item()
    d_revenue = float(daily["revenue"].sum()) - float(base["revenue"].sum())
    d_gross = margin * d_revenue
    return {
        "acquired_users": d_users,
        "revenue": d_revenue,
        "gross_profit": d_gross,
        "profit": d_gross - cost,
        "roi": roi(d_gross, cost),
        "mean_dau": float(daily["dau"].mean() - base["dau"].mean()),
        "cac": cost / d_users if d_users > 0 and cost > 0 else float("nan"),
    }


def _monte_carlo(run: RunRecord, baseline: RunRecord | None, margin: float) -> dict[str, Any]:
    """Standard errors of the run's totals and of its differences from the baseline."""
    out: dict[str, Any] = {
        "groups": len(run.group_acquired),
        "acquired_users": total_se(run.group_acquired),
        "revenue": total_se(run.group_revenue),
        "cost_total": total_se(run.group_cost),
        "incremental": None,
    }
    if baseline is not None:
        d_users = run.group_acquired - baseline.group_acquired
        d_gross = margin * (run.group_revenue - baseline.group_revenue)
        d_profit = d_gross - run.group_cost
        out["incremental"] = {
            "acquired_users": total_se(d_users),
            "gross_profit": total_se(d_gross),
            "profit": total_se(d_profit),
            "roi": ratio_se(d_profit, run.group_cost),
        }
    return out


def _cac_by_channel(daily: pd.DataFrame, levers: Sequence[LeverRecord], cost_by_lever: dict[str, float]) -> dict:
    """Ad spend per user acquired through each paid channel."""
    cac = {}
    for lever in levers:
        if lever.kind == "paid_ads":
            users = daily[f"new_users_{lever.channel}"].sum().item()
            cac[lever.channel] = cost_by_lever[lever.label] / users if users else float("nan")
    return cac


def _marginal_roi(
    run: RunRecord, marginal: Mapping[str, tuple[Any, float]], margin: float, revenue: float, cost: float
) -> dict[str, Any]:
    """(ΔGP − ΔC) / ΔC of each lever with a budget knob, against its +1 % rerun."""
    out: dict[str, Any] = {}
    for lever in run.levers:
        if lever.budget_key is None:
            out[lever.label] = None
            continue
        if lever.label not in marginal:
            continue
        other, _factor = marginal[lever.label]
        d_cost = float(other.daily["cost_total"].sum()) - cost
        d_gross = margin * (float(other.daily["revenue"].sum()) - revenue)
        out[lever.label] = (d_gross - d_cost) / d_cost if d_cost else float("nan")
    return out


def evaluate(
    run: RunRecord,
    baseline: RunRecord | None,
    marginal: Mapping[str, tuple[Any, float]],
    cfg: EconomicsConfig,
) -> dict[str, Any]:
    """The ``economics`` block of ``summary.json``.

    Args:
        run: The strategy's run.
        baseline: The baseline run with the same seed, or None.
        marginal: Lever label → (rerun with its budget knob scaled, scale factor).
        cfg: Economics settings.

    """
    daily = run.daily
    m = cfg.margin
    revenue = float(daily["revenue"].sum())
    gross = m * revenue
    cost_cols = [c for c in daily.columns if c.startswith("cost_") and c != "cost_total"]
    cost_by_lever = {c.removeprefix("cost_"): float(daily[c].sum()) for c in cost_cols}
    cost = float(sum_in_order(cost_by_lever.values()))
    acquired = daily["new_users"].sum().item()
    out: dict[str, Any] = {
        "currency": cfg.currency,
        "margin": m,
        "revenue": revenue,
        "gross_profit": gross,
        "cost_total": cost,
        "cost_by_lever": cost_by_lever,
        "profit": gross - cost,
        "roi": roi(gross, cost),
        "incremental": None,
        "payback_day": None,
    }
    if baseline is not None:
        b = baseline.daily
        out["incremental"] = _incremental(daily, b, m, cost)
        daily_cost = daily["cost_total"].to_numpy() if "cost_total" in daily else np.zeros(len(daily))
        out["payback_day"] = payback_day(m * (daily["revenue"].to_numpy() - b["revenue"].to_numpy()), daily_cost)
    out["cac_by_channel"] = _cac_by_channel(daily, run.levers, cost_by_lever)
    out["ltv"] = ltv(
        run.cohort_active,
        run.cohort_revenue,
        run.retention_curve,
        margin=m,
        annual_discount_rate=cfg.annual_discount_rate,
        ltv_days=cfg.ltv_days,
        survival_fit=((run.analytics_summary or {}).get("rolling_retention_fit") or {}).get("bdw"),
        min_users=MIN_CURVE_USERS,
        max_extrapolation=LTV_MAX_EXTRAPOLATION,
    )
    out["marginal_roi"] = _marginal_roi(run, marginal, m, revenue, cost)
    out["monte_carlo"] = _monte_carlo(run, baseline, m)
    out["levers"] = {lever.label: lever.summary() for lever in run.levers if lever.summary()}
    referred = daily["new_users_referral"].sum().item() if "new_users_referral" in daily else 0
    if referred:
        out["viral_coefficient"] = referred / acquired if acquired else float("nan")
    return out
