"""The one-line answer to "should we spend?": does the spend pay back within the horizon, and by how much.

A :class:`Verdict` holds what the answer rests on — the cost, the incremental
profit and ROI against doing nothing (each an :class:`Estimate` with its 95 %
interval), and when the cumulative incremental gross profit overtakes the
cumulative cost for good (the payback day). Where its numbers come from:

* one run (:func:`run_verdict`): ``summary.json`` → ``economics``; the interval is
  ± z₀.₉₇₅ · SE, SE the run's Monte-Carlo standard error (batch means over groups
  of simulated users, ``economics.monte_carlo``);
* a sweep point (:func:`sweep_verdict`): the mean over seeds and the 95 %
  t-interval, the ROI as a ratio of sums over seeds with its delta-method interval
  (:mod:`sim.analysis.sweep_stats`);
* a plan: the planner builds a :class:`Verdict` from its own numbers.

The answer is *pays* when the incremental profit is positive and its interval
excludes zero (pays back within the horizon), *loses* when it is negative and its
interval excludes zero, and *unclear* when the interval holds zero (break-even
cannot be ruled out). :func:`verdict_text` writes the line, :func:`verdict_html`
the coloured box at the top of a page.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Any

from sim.analysis.stats import MIN_INTERVAL_VALUES, Z_95
from sim.output.formatting import counted, digits_for, is_number, money, number, ratio, with_half_width

__all__ = ["Estimate", "Verdict", "run_verdict", "sweep_verdict", "verdict_html", "verdict_parts", "verdict_text"]

PAYS, LOSES, UNCLEAR = "pays", "loses", "unclear"


@dataclass(frozen=True)
class Estimate:
    """A number and the half-width of its 95 % interval (None: no interval known)."""

    value: float
    half_width: float | None = None

    @property
    def low(self) -> float:
        """Lower end of the interval (the value itself without one)."""
        return self.value - (self.half_width or 0.0)

    @property
    def high(self) -> float:
        """Upper end of the interval (the value itself without one)."""
        return self.value + (self.half_width or 0.0)

    @property
    def known(self) -> bool:
        """Whether the value is a finite number."""
        return is_number(self.value)


@dataclass(frozen=True)
class Verdict:
    """What the one-line answer rests on.

    Attributes:
        subject: What is judged ("strategy paid_growth", "best point: …").
        currency: The money unit.
        horizon_days: Days simulated: everything is counted within them.
        cost: What the levers charged within the horizon.
        incremental_profit: Incremental gross profit minus cost (None: no baseline to compare with).
        incremental_roi: Incremental profit / cost (None: no baseline).
        payback_day: The payback day (one run), or the mean over the seeds that paid back; None if none did.
        paid_back: Seeds (or runs) that paid back within the horizon.
        replicates: Seeds (or runs) the numbers come from.
        interval: How the intervals were obtained, in words.

    """

    subject: str
    currency: str
    horizon_days: int
    cost: Estimate
    incremental_profit: Estimate | None
    incremental_roi: Estimate | None
    payback_day: float | None
    paid_back: int
    replicates: int
    interval: str

    @property
    def outcome(self) -> str:
        """``"pays"``, ``"loses"`` or ``"unclear"`` (see the module docstring); ``"none"`` without a baseline."""
        p = self.incremental_profit
        if p is None or not p.known:
            return "none"
        if p.value > 0 and p.low > 0:
            return PAYS
        if p.value < 0 and p.high < 0:
            return LOSES
        return UNCLEAR


def _half(se: Any) -> float | None:
    return Z_95 * float(se) if is_number(se) else None


def run_verdict(summary: dict[str, Any]) -> Verdict | None:
    """The verdict of one run's ``summary.json`` (None when the run spent nothing)."""
    econ = summary.get("economics") or {}
    cost = econ.get("cost_total") or 0.0
    if not cost:
        return None
    mc = econ.get("monte_carlo") or {}
    mc_inc = mc.get("incremental") or {}
    inc = econ.get("incremental")
    payback = econ.get("payback_day")
    users = summary.get("sample_size", summary.get("market_size"))
    basis = (
        f"± {Z_95:.2f} × the Monte-Carlo standard error of this run "
        f"({number(users)} simulated users in {mc.get('groups', '?')} groups); "
        "it leaves out the seed-to-seed randomness of word of mouth: compare seeds with a sweep"
    )
    return Verdict(
        subject=f"strategy {summary.get('strategy', '')}",
        currency=econ.get("currency", ""),
        horizon_days=int(summary.get("days", 0)),
        cost=Estimate(float(cost), _half(mc.get("cost_total"))),
        incremental_profit=None if inc is None else Estimate(float(inc["profit"]), _half(mc_inc.get("profit"))),
        incremental_roi=None if inc is None else Estimate(float(inc["roi"]), _half(mc_inc.get("roi"))),
        payback_day=None if payback is None else float(payback),
        paid_back=int(payback is not None),
        replicates=1,
        interval=basis,
    )


def _t_estimate(row: Any, metric: str) -> Estimate:
    """A sweep point's mean and the half-width of its interval: its wider side, where it was clipped to a bound."""
    value, low, high = (float(row[metric]), float(row[f"{metric}_lo"]), float(row[f"{metric}_hi"]))
    return Estimate(value, max(value - low, high - value) if is_number(low) and is_number(high) else None)


def sweep_verdict(row: Any, *, subject: str, currency: str, horizon_days: int) -> Verdict:
    """The verdict of one sweep point: a row of the sweep summary (means over seeds and their 95 % intervals).

    ``row`` needs ``seeds``, ``paid_back``, ``cost``, ``incremental_profit``,
    ``incremental_roi`` and ``payback_day``, each metric with ``_lo`` and ``_hi``.
    """
    seeds = int(row["seeds"])
    if seeds < MIN_INTERVAL_VALUES:
        interval = f"none: one seed (an interval over seeds needs {MIN_INTERVAL_VALUES} seeds or more)"
    else:
        interval = (
            f"95 % t-interval over {counted(seeds, 'seed')}, the ROI's by the delta method for a ratio "
            "(paired: every point sees the same random numbers at a seed)"
        )
    has_baseline = is_number(row["incremental_profit"])
    payback = float(row["payback_day"])
    return Verdict(
        subject=subject,
        currency=currency,
        horizon_days=horizon_days,
        cost=_t_estimate(row, "cost"),
        incremental_profit=_t_estimate(row, "incremental_profit") if has_baseline else None,
        incremental_roi=_t_estimate(row, "incremental_roi") if has_baseline else None,
        payback_day=payback if math.isfinite(payback) else None,
        paid_back=int(row["paid_back"]),
        replicates=seeds,
        interval=interval,
    )


def _money(v: Verdict, signed: bool = True) -> Any:
    def fmt(x: Any) -> str:
        return money(x, v.currency, signed=signed, digits=0)

    return fmt


def verdict_parts(v: Verdict) -> tuple[str, str]:
    """The answer (``"Pays back on day 135 of 365"``) and the numbers behind it, as two plain-text parts."""
    spent = f"on {with_half_width(v.cost.value, v.cost.half_width, _money(v, signed=False))} spent"
    if v.incremental_profit is None or v.incremental_roi is None:
        return (
            f"Spends {money(v.cost.value, v.currency, digits=0)} in {counted(v.horizon_days, 'day')}",
            "whether it pays back is unknown without the baseline run (economics.compare_to_baseline=true)",
        )
    if v.replicates > 1:
        mean_day = "" if v.payback_day is None else f", mean day {v.payback_day:.0f} of {v.horizon_days}"
        if v.paid_back == v.replicates:
            answer = f"Pays back at every seed ({v.replicates}{mean_day})"
        elif v.paid_back == 0:
            answer = f"Does not pay back within {counted(v.horizon_days, 'day')} at any of {v.replicates} seeds"
        else:
            answer = (
                f"Pays back within {counted(v.horizon_days, 'day')} at {v.paid_back} of {v.replicates} seeds{mean_day}"
            )
    elif v.payback_day is not None:
        answer = f"Pays back on day {v.payback_day:.0f} of {v.horizon_days}"
    else:
        answer = f"Does not pay back within {counted(v.horizon_days, 'day')}"
    profit = with_half_width(v.incremental_profit.value, v.incremental_profit.half_width, _money(v))
    roi_digits = digits_for(v.incremental_roi.half_width, 2)
    roi_text = with_half_width(v.incremental_roi.value, v.incremental_roi.half_width, lambda x: ratio(x, roi_digits))
    numbers = f"incremental profit {profit}, incremental ROI {roi_text} {spent}"
    if v.outcome == UNCLEAR:
        numbers += " (the interval holds zero: break-even cannot be ruled out)"
    return answer, numbers


def verdict_text(v: Verdict) -> str:
    """The answer in one line (plain text): ``"Pays back on day 135 of 365: incremental profit …"``."""
    answer, numbers = verdict_parts(v)
    return f"{answer}: {numbers}."


def verdict_html(v: Verdict | None, *, none_text: str = "No operations spend: nothing to pay back.") -> str:
    """The verdict box at the top of a page (``none_text`` when there is nothing to judge).

    The box carries the numbers for automated checks: ``data-profit``, ``data-roi``,
    ``data-cost`` and ``data-payback-day`` (empty when it does not pay back).
    """
    if v is None:
        return f'<section class="verdict none" id="verdict"><p class="answer">{html.escape(none_text)}</p></section>'
    answer, numbers = verdict_parts(v)
    data = f' data-cost="{v.cost.value!r}"'
    if v.incremental_profit is not None:
        data += f' data-profit="{v.incremental_profit.value!r}"'
    if v.incremental_roi is not None:
        data += f' data-roi="{v.incremental_roi.value!r}"'
    data += f' data-payback-day="{"" if v.payback_day is None else repr(v.payback_day)}"'
    subject = v.subject[:1].upper() + v.subject[1:]
    return (
        f'<section class="verdict {v.outcome}" id="verdict"{data}>'
        f'<p class="answer">{html.escape(subject)}: {html.escape(answer[:1].lower() + answer[1:])}</p>'
        f"<p>{html.escape(numbers[:1].upper() + numbers[1:])}.</p>"
        f'<p class="small">Intervals: {html.escape(v.interval)}.</p></section>'
    )
